//! Servers: create (validate, quota, schedule, plan ports, write the index row in BUILD and the
//! build job, answer at once), show (live from the pod, repairing the index; from the index
//! with `UNKNOWN` when the pod is unreachable), list (from the index only: one pod down or slow
//! never slows a list: `list.rs`), update, delete (a job), actions (forwarded to the pod as the tenant),
//! metadata, tags and server groups.

use std::collections::BTreeMap;

use cascade_model::admin::PodState;
use cascade_store::compute::ServerRow;
use cascade_store::{StoreError, now_micros};
use http::Method;
use serde_json::{Value, json};

use super::deps::RequestedNetworks;
use super::scheduler::{NO_VALID_HOST, SchedulerHints};
use super::{Compute, flavor_snapshot};
use crate::identity::Actor;
use crate::identity::Scope;
use crate::jobs::NewJob;
use crate::{CoreError, ErrorKind, Result};

/// Metadata key carrying the top id on bottom servers (with the `name@<top id>` suffix).
pub const TOP_ID_KEY: &str = "cascade_top_id";

/// A validated `POST /servers`.
#[derive(Debug, Clone, Default)]
pub struct ServerCreate {
    pub name: String,
    pub flavor_ref: String,
    pub image_ref: Option<String>,
    pub networks: Option<RequestedNetworks>,
    pub availability_zone: Option<String>,
    pub key_name: Option<String>,
    pub security_groups: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub user_data: Option<String>,
    pub block_device_mapping_v2: Vec<Value>,
    pub hints: SchedulerHints,
    pub min_count: u32,
    pub max_count: u32,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub access_ipv4: Option<String>,
    pub access_ipv6: Option<String>,
    pub config_drive: bool,
}

/// `PUT /servers/{id}`.
#[derive(Debug, Clone, Default)]
pub struct ServerUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub access_ipv4: Option<String>,
    pub access_ipv6: Option<String>,
}

/// A server as shown: its index row, and whether its pod could not be reached.
#[derive(Debug, Clone)]
pub struct ServerView {
    pub row: ServerRow,
    pub unknown: bool,
    pub server_groups: Vec<String>,
}

/// A server action (`POST /servers/{id}/action`): its name and body as sent.
#[derive(Debug, Clone)]
pub struct Action {
    pub name: String,
    pub body: Value,
}

/// What an action returns.
#[derive(Debug, Clone)]
pub enum ActionOutcome {
    Accepted,
    /// 204 without a body (`confirmResize`).
    NoContent,
    /// `rebuild` was accepted: the handler answers with the server and its new password (the
    /// requested one, else the pod's).
    Rebuilt {
        admin_pass: Option<String>,
    },
    Body(u16, Value),
}

pub(crate) fn instance_missing(id: &str) -> CoreError {
    CoreError::not_found(format!("Instance {id} could not be found."))
}

pub(crate) fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Nova's ISO timestamps with microseconds (`OS-SRV-USG:launched_at`) or `Z` forms → µs.
fn parse_ts(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

/// Copies what the pod knows better (state, host, addresses, fault, lock) into the index.
/// After a resize (or its revert) the pod's server shows the other flavor (by name, 2.47+):
/// the index takes the matching snapshot kept at the resize, and its vCPUs and RAM.
fn follow_resize(row: &mut ServerRow, b: &Value) {
    let Some(name) = b["flavor"]["original_name"].as_str() else {
        return;
    };
    let current: Value = serde_json::from_str(&row.flavor).unwrap_or_default();
    if current["name"] == name {
        return;
    }
    let request: Value = serde_json::from_str(&row.request).unwrap_or_default();
    // By name, else by size (a pod's copy may carry another name).
    let size = |f: &Value| (f["vcpus"].as_i64(), f["ram"].as_i64(), f["disk"].as_i64());
    let by_size: Vec<&str> = ["to", "from"]
        .into_iter()
        .filter(|w| size(&request["resize"][*w]) == size(&b["flavor"]))
        .collect();
    for which in ["to", "from"] {
        let snap = &request["resize"][which];
        if !snap.is_object() {
            continue;
        }
        if snap["name"] == name || (by_size == [which] && size(&current) != size(&b["flavor"])) {
            row.flavor = json_text(snap);
            row.vcpus = snap["vcpus"].as_i64().unwrap_or(row.vcpus);
            row.ram = snap["ram"].as_i64().unwrap_or(row.ram);
            return;
        }
    }
}

pub(crate) fn apply_bottom(row: &mut ServerRow, b: &Value) {
    follow_resize(row, b);
    if let Some(s) = b["status"].as_str() {
        row.status = s.to_string();
    }
    if let Some(s) = b["OS-EXT-STS:vm_state"].as_str() {
        row.vm_state = s.to_string();
    }
    if b.get("OS-EXT-STS:task_state").is_some() {
        row.task_state = b["OS-EXT-STS:task_state"].as_str().map(str::to_string);
    }
    if let Some(p) = b["OS-EXT-STS:power_state"].as_i64() {
        row.power_state = p;
    }
    if let Some(h) = b["hostId"].as_str() {
        row.host_id = h.to_string();
    }
    if let Some(a) = b.get("addresses").filter(|a| a.is_object()) {
        row.addresses = json_text(a);
    }
    if let Some(l) = b["locked"].as_bool() {
        row.locked = l;
    }
    if b.get("locked_reason").is_some() {
        row.locked_reason = b["locked_reason"].as_str().map(str::to_string);
    }
    // The pod's fault, with the bottom server's id replaced by the top id.
    row.fault = b
        .get("fault")
        .filter(|f| f.is_object())
        .map(|f| scrub(&json_text(f), b["id"].as_str(), &row.id));
    if let Some(t) = parse_ts(&b["OS-SRV-USG:launched_at"]) {
        row.launched_at = Some(t);
    }
    if let Some(v) = b
        .get("os-extended-volumes:volumes_attached")
        .filter(|v| v.is_array())
    {
        row.volumes = json_text(v);
    }
}

/// Replaces bottom ids in a pod's message with the top id.
pub(crate) fn scrub(message: &str, bottom: Option<&str>, top: &str) -> String {
    match bottom {
        Some(b) if !b.is_empty() => message.replace(b, top),
        _ => message.to_string(),
    }
}

/// The `message` of a Nova error body.
pub(crate) fn pod_message(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v.as_object()
        .and_then(|m| m.values().next())
        .and_then(|inner| inner["message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

impl Compute {
    // ---- create ----------------------------------------------------------------------------

    /// Creates `max_count` servers (or fails without writing anything). Returns their rows.
    pub async fn create_servers(
        &self,
        actor: &Actor,
        is_admin: bool,
        req: ServerCreate,
    ) -> Result<Vec<ServerRow>> {
        if req.name.trim().is_empty() || req.name.len() > 255 {
            return Err(CoreError::bad_request(
                "Invalid input for field/attribute name.",
            ));
        }
        if req.min_count < 1 || req.max_count < req.min_count {
            return Err(CoreError::bad_request(
                "min_count must be <= max_count and both >= 1",
            ));
        }
        let flavor = self
            .get_flavor(&req.flavor_ref, Some(&actor.project_id), is_admin)
            .await
            .map_err(|e| match e.kind {
                ErrorKind::NotFound => {
                    CoreError::bad_request(format!("Flavor {} could not be found.", req.flavor_ref))
                }
                _ => e,
            })?;
        let flavor = flavor_snapshot(&flavor);
        let boot_from_volume = req
            .block_device_mapping_v2
            .iter()
            .any(|b| b["boot_index"].as_i64() == Some(0) && b["destination_type"] == "volume");
        let image_id = match req.image_ref.as_deref().filter(|i| !i.is_empty()) {
            Some(image) => {
                let info = self
                    .images
                    .resolve(&actor.project_id, image)
                    .await
                    .map_err(|e| match e.kind {
                        ErrorKind::NotFound => {
                            CoreError::bad_request(format!("Image {image} could not be found."))
                        }
                        _ => e,
                    })?;
                if info.status != "active" {
                    return Err(CoreError::bad_request(format!(
                        "Image {image} is not active."
                    )));
                }
                if info.min_ram > flavor["ram"].as_u64().unwrap_or(0) {
                    return Err(CoreError::bad_request(
                        "Flavor's memory is too small for requested image.",
                    ));
                }
                info.id
            }
            None if boot_from_volume => String::new(),
            None => return Err(CoreError::bad_request("Missing imageRef attribute")),
        };
        if let Some(k) = &req.key_name {
            self.get_keypair(&actor.user_id, k)
                .await
                .map_err(|_| CoreError::bad_request("Invalid key_name provided."))?;
        }
        if req.metadata.len() as i64
            > self
                .quotas(&actor.project_id)
                .await?
                .get("metadata_items")
                .copied()
                .unwrap_or(128)
        {
            return Err(CoreError::forbidden("Quota exceeded for metadata_items."));
        }
        let az = req
            .availability_zone
            .as_deref()
            .map(|a| a.split(':').next().unwrap_or(a))
            .filter(|a| !a.is_empty());
        if let Some(az) = az {
            self.check_az(az).await?;
        }
        let mut hints = req.hints.clone();
        hints.pod = self
            .volume_pod(&actor.project_id, &req.block_device_mapping_v2, az)
            .await?;
        let count = i64::from(req.max_count);
        let vcpus = flavor["vcpus"].as_i64().unwrap_or(0);
        let ram = flavor["ram"].as_i64().unwrap_or(0);
        self.check_quota(&actor.project_id, count, vcpus, ram)
            .await?;
        self.check_bdm_quota(&actor.project_id, &req.block_device_mapping_v2, count)
            .await?;

        let group = match &req.hints.group {
            Some(g) => {
                let row = self
                    .get_server_group(&actor.scope(), g)
                    .await
                    .map_err(|e| match e.kind {
                        ErrorKind::NotFound => {
                            CoreError::bad_request(format!("Invalid server group {g}"))
                        }
                        _ => e,
                    })?;
                Some(row)
            }
            None => None,
        };
        let networks = req.networks.clone().unwrap_or(RequestedNetworks::Available);

        let mut rows = Vec::new();
        for i in 0..req.max_count {
            let id = uuid::Uuid::new_v4().to_string();
            let name = if req.max_count > 1 {
                format!("{}-{}", req.name, i + 1)
            } else {
                req.name.clone()
            };
            let member_pods: Vec<String> = match &group {
                Some(g) => {
                    let members = self.store.group_members(&g.id).await?;
                    self.store
                        .server_pods(&members)
                        .await?
                        .into_iter()
                        .filter_map(|(_, p)| p)
                        .collect()
                }
                None => Vec::new(),
            };
            let placed = self
                .schedule(
                    &actor.project_id,
                    az,
                    &flavor,
                    &hints,
                    group
                        .as_ref()
                        .map(|g| (g.policy.as_str(), member_pods.as_slice())),
                )
                .await;
            let (pod_id, pod_az, fault) = match placed {
                Ok(pod) => (Some(pod.pod_id), pod.az_name, None),
                Err(e) if e.message == NO_VALID_HOST => (
                    None,
                    az.unwrap_or("").to_string(),
                    Some(
                        json!({"code": 500, "message": NO_VALID_HOST, "created": cascade_model::time::iso_seconds(chrono::Utc::now())}),
                    ),
                ),
                Err(e) => return Err(e),
            };
            let ports = if fault.is_none() {
                self.network
                    .plan(&actor.project_id, &id, &pod_az, &networks)
                    .await?
            } else {
                Vec::new()
            };
            // Requested security groups go on the ports made for the server (Nova does the
            // same through Neutron); without a request the ports keep `default`.
            if !req.security_groups.is_empty() && ports.iter().any(|p| p.owned) {
                for g in &req.security_groups {
                    if let Err(e) = self
                        .network
                        .set_security_group(&actor.project_id, &id, g, true)
                        .await
                    {
                        let _ = self.network.release(&actor.project_id, &id, None).await;
                        return Err(match e.kind {
                            ErrorKind::NotFound => CoreError::bad_request(format!(
                                "Security group {g} not found for project {}.",
                                actor.project_id
                            )),
                            _ => e,
                        });
                    }
                }
                if !req.security_groups.iter().any(|g| g == "default") {
                    let _ = self
                        .network
                        .set_security_group(&actor.project_id, &id, "default", false)
                        .await;
                }
            }
            let now = now_micros();
            let request = json!({
                "flavor": flavor,
                "image_id": image_id,
                "key_name": req.key_name,
                "user_data": req.user_data,
                "bdm": req.block_device_mapping_v2,
                "ports": ports,
                "networks": networks,
                "security_groups": req.security_groups,
                "config_drive": req.config_drive,
                "actor": actor,
            });
            let row = ServerRow {
                id: id.clone(),
                project_id: actor.project_id.clone(),
                user_id: actor.user_id.clone(),
                name,
                status: if fault.is_some() {
                    "ERROR".into()
                } else {
                    "BUILD".into()
                },
                vm_state: if fault.is_some() {
                    "error".into()
                } else {
                    "building".into()
                },
                task_state: if fault.is_some() {
                    None
                } else {
                    Some("scheduling".into())
                },
                power_state: 0,
                pod_id: pod_id.clone(),
                az: pod_az,
                flavor: json_text(&flavor),
                vcpus,
                ram,
                image_id: image_id.clone(),
                key_name: req.key_name.clone(),
                metadata: json_text(&req.metadata),
                tags: json_text(&req.tags),
                host_id: String::new(),
                fault: fault.as_ref().map(json_text),
                locked: false,
                locked_reason: None,
                description: req.description.clone(),
                access_ipv4: req.access_ipv4.clone().unwrap_or_default(),
                access_ipv6: req.access_ipv6.clone().unwrap_or_default(),
                config_drive: if req.config_drive {
                    "True".into()
                } else {
                    String::new()
                },
                security_groups: json_text(&if req.security_groups.is_empty() {
                    vec!["default".to_string()]
                } else {
                    req.security_groups.clone()
                }),
                server_group_id: group.as_ref().map(|g| g.id.clone()),
                request: json_text(&request),
                bottom_id: None,
                addresses: "{}".into(),
                volumes: "[]".into(),
                launched_at: None,
                terminated_at: None,
                created_at: now,
                updated_at: now,
                deleted: false,
                deleted_at: None,
                host: String::new(),
            };
            self.store.insert_server(&row).await?;
            if let Some(g) = &group {
                self.store.add_group_member(&g.id, &id).await?;
            }
            if pod_id.is_some() {
                self.jobs
                    .enqueue(NewJob {
                        job_type: super::saga::BUILD.into(),
                        resource_id: id.clone(),
                        project_id: actor.project_id.clone(),
                        pod_id: pod_id.clone(),
                        payload: json!({"server_id": id}),
                        max_attempts: None,
                        delay: None,
                    })
                    .await?;
            }
            tracing::info!(server = %id, pod = ?pod_id, "server accepted");
            rows.push(row);
        }
        Ok(rows)
    }

    // ---- read --------------------------------------------------------------------------------

    /// The index row of a server the caller may see (`scope` = the caller's project, `None`
    /// for admins).
    pub async fn server_row(&self, scope: &Scope, id: &str) -> Result<ServerRow> {
        let row = self.store.get_server(id).await.map_err(|e| match e {
            StoreError::NotFound => instance_missing(id),
            other => other.into(),
        })?;
        if row.deleted || !scope.permits(&row.project_id) {
            return Err(instance_missing(id));
        }
        Ok(row)
    }

    pub(crate) async fn pod_unreachable(&self, pod_id: &str) -> bool {
        match self.pods.get(pod_id).await {
            Ok(p) if p.state == PodState::Down => true,
            Ok(_) => self
                .pods
                .client(pod_id)
                .await
                .map(|c| c.is_open())
                .unwrap_or(true),
            Err(_) => true,
        }
    }

    /// Shows a server: live from its pod (repairing the index), or from the index marked
    /// unknown when the pod does not answer in time.
    pub async fn get_server(&self, scope: &Scope, id: &str) -> Result<ServerView> {
        let mut row = self.server_row(scope, id).await?;
        let groups = row.server_group_id.iter().cloned().collect();
        let (Some(pod_id), Some(bottom)) = (row.pod_id.clone(), row.bottom_id.clone()) else {
            let unknown = match &row.pod_id {
                Some(p) => self.pod_unreachable(p).await,
                None => false,
            };
            return Ok(ServerView {
                row,
                unknown,
                server_groups: groups,
            });
        };
        if self.pod_unreachable(&pod_id).await {
            return Ok(ServerView {
                row,
                unknown: true,
                server_groups: groups,
            });
        }
        let client = self.pods.client(&pod_id).await?;
        let live = tokio::time::timeout(
            self.config.live_timeout,
            client.send(
                Method::GET,
                "compute",
                &format!("/servers/{bottom}"),
                None,
                &[("OpenStack-API-Version", "compute 2.73")],
            ),
        )
        .await;
        match live {
            Ok(Ok(r)) if r.status == 200 => {
                let b = r.json().unwrap_or(Value::Null)["server"].clone();
                if row.task_state.as_deref() != Some("deleting")
                    && self.refresh_from_bottom(&mut row, &b).await
                {
                    self.store.update_server(&row).await?;
                }
                Ok(ServerView {
                    row,
                    unknown: false,
                    server_groups: groups,
                })
            }
            Ok(Ok(r)) if r.status == 404 => Ok(ServerView {
                row,
                unknown: false,
                server_groups: groups,
            }),
            _ => Ok(ServerView {
                row,
                unknown: true,
                server_groups: groups,
            }),
        }
    }

    /// Replaces the pod's view of the addresses (keyed by bottom network names) with the
    /// central Neutron's (keyed by the tenant's network names) when it has the server's ports.
    /// Applies what the pod reports of a server, then the central Neutron's addresses.
    /// Returns whether the index row changed.
    pub(crate) async fn refresh_from_bottom(&self, row: &mut ServerRow, bottom: &Value) -> bool {
        let before = row.clone();
        apply_bottom(row, bottom);
        self.follow_host(row, bottom).await;
        self.translate_volumes(row).await;
        self.overlay_addresses(row).await;
        if *row == before {
            return false;
        }
        row.updated_at = now_micros().max(before.updated_at + 1);
        true
    }

    /// The pod's `OS-EXT-SRV-ATTR:host` (shown to Cascade's admin identity), named as the top
    /// names hosts (`<host>@<region>`).
    async fn follow_host(&self, row: &mut ServerRow, bottom: &Value) {
        let (Some(host), Some(pod_id)) = (bottom["OS-EXT-SRV-ATTR:host"].as_str(), &row.pod_id)
        else {
            return;
        };
        if row
            .host
            .strip_prefix(host)
            .is_some_and(|r| r.starts_with('@'))
        {
            return;
        }
        match self.pods.get(pod_id).await {
            Ok(pod) => row.host = super::qualified_host(host, &pod.region_name),
            Err(e) => tracing::warn!(pod = %pod_id, error = %e.full(), "no pod for a host"),
        }
    }

    pub(crate) async fn overlay_addresses(&self, row: &mut ServerRow) -> bool {
        match self.network.addresses(&row.project_id, &row.id).await {
            Ok(a) if a.as_object().is_some_and(|m| !m.is_empty()) => {
                let text = json_text(&a);
                if text != row.addresses {
                    row.addresses = text;
                    return true;
                }
                false
            }
            _ => false,
        }
    }

    /// Re-reads a server's addresses from the central Neutron into the index.
    pub async fn refresh_addresses(&self, server_id: &str) -> Result<()> {
        let Ok(mut row) = self.store.get_server(server_id).await else {
            return Ok(());
        };
        if row.deleted {
            return Ok(());
        }
        let before = row.addresses.clone();
        match self.network.addresses(&row.project_id, server_id).await? {
            a if a.as_object().is_some_and(|m| !m.is_empty()) => row.addresses = json_text(&a),
            _ => row.addresses = "{}".into(),
        }
        if row.addresses != before {
            row.updated_at = now_micros().max(row.updated_at + 1);
            self.store.update_server(&row).await?;
        }
        Ok(())
    }

    // ---- update / delete ----------------------------------------------------------------------

    pub async fn update_server(
        &self,
        scope: &Scope,
        id: &str,
        u: ServerUpdate,
    ) -> Result<ServerView> {
        let mut row = self.server_row(scope, id).await?;
        if let Some(name) = u.name {
            if name.trim().is_empty() || name.len() > 255 {
                return Err(CoreError::bad_request(
                    "Invalid input for field/attribute name.",
                ));
            }
            row.name = name;
        }
        if let Some(d) = u.description {
            row.description = d;
        }
        if let Some(a) = u.access_ipv4 {
            row.access_ipv4 = a;
        }
        if let Some(a) = u.access_ipv6 {
            row.access_ipv6 = a;
        }
        row.updated_at = now_micros();
        self.store.update_server(&row).await?;
        self.push_to_pod(&row).await?;
        self.get_server(scope, id).await
    }

    /// Enqueues the job that copies name and metadata to the bottom server.
    pub(crate) async fn push_to_pod(&self, row: &ServerRow) -> Result<()> {
        if row.pod_id.is_some() {
            self.jobs
                .enqueue(NewJob {
                    job_type: super::saga::SYNC.into(),
                    resource_id: row.id.clone(),
                    project_id: row.project_id.clone(),
                    pod_id: row.pod_id.clone(),
                    payload: json!({"server_id": row.id}),
                    max_attempts: None,
                    delay: None,
                })
                .await?;
        }
        Ok(())
    }

    /// Starts deleting a server: marks it `deleting` and enqueues the delete job.
    pub async fn delete_server(&self, scope: &Scope, id: &str, is_admin: bool) -> Result<()> {
        let mut row = self.server_row(scope, id).await?;
        if row.locked && !is_admin {
            return Err(CoreError::conflict(format!("Instance {id} is locked")));
        }
        row.task_state = Some("deleting".into());
        row.updated_at = now_micros();
        self.store.update_server(&row).await?;
        self.jobs
            .enqueue(NewJob {
                job_type: super::saga::DELETE.into(),
                resource_id: id.to_string(),
                project_id: row.project_id.clone(),
                pod_id: row.pod_id.clone(),
                payload: json!({"server_id": id}),
                max_attempts: Some(20),
                delay: None,
            })
            .await?;
        Ok(())
    }
}
