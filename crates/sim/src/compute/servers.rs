//! Nova servers: the model (with indexes by `(created_at, id)` and `(updated_at, id)` so that
//! lists, paging and `changes-since` never scan the whole region), the timed state machine
//! (BUILD → ACTIVE after the build time; actions set `OS-EXT-STS:task_state` at once and
//! reach their final `vm_state`/`power_state` after the action time), create with
//! networks/ports/block devices, show, list, update, delete (deleted servers stay visible to
//! `changes-since` as `DELETED`), actions, metadata, tags, volume attachments.
//!
//! Simplifications: one host per region; no rescue, shelve, migrate, evacuate;
//! `adminPass` is the requested one or random, and never checked; `user_data` is stored but not validated beyond
//! being a string; scheduling fails only on capacity ("No valid host was found").

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Mv;
use super::flavors::Flavor;
use super::misc::{Keypair, ServerGroup};
use crate::error::{ApiError, ApiResult, Service};
use crate::identity::{Auth, AuthContext};
use crate::server::Ctx;
use crate::state::RegionState;
use crate::util::{Params, Ts, new_id, now, ts_z};

/// Nova's `max_limit`.
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FlavorSnap {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) vcpus: u64,
    pub(crate) ram: u64,
    pub(crate) disk: u64,
    pub(crate) ephemeral: u64,
    pub(crate) swap: u64,
    pub(crate) extra_specs: BTreeMap<String, String>,
}

impl From<&Flavor> for FlavorSnap {
    fn from(f: &Flavor) -> Self {
        FlavorSnap {
            id: f.id.clone(),
            name: f.name.clone(),
            vcpus: f.vcpus,
            ram: f.ram,
            disk: f.disk,
            ephemeral: f.ephemeral,
            swap: f.swap,
            extra_specs: f.extra_specs.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Fault {
    pub(crate) code: u16,
    pub(crate) message: String,
    pub(crate) details: String,
    pub(crate) created: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VolAttach {
    pub(crate) attachment_id: String,
    pub(crate) volume_id: String,
    pub(crate) device: String,
    pub(crate) delete_on_termination: bool,
    pub(crate) tag: Option<String>,
}

/// The state a server reaches when its current task completes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub(crate) due: Ts,
    pub(crate) status: String,
    pub(crate) vm_state: String,
    pub(crate) power_state: u8,
    /// On completion, drop `prev_flavor` (false) or restore it (revert).
    pub(crate) revert_flavor: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Server {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) project_id: String,
    pub(crate) user_id: String,
    pub(crate) status: String,
    pub(crate) vm_state: String,
    pub(crate) task_state: Option<String>,
    pub(crate) power_state: u8,
    pub(crate) flavor: FlavorSnap,
    pub(crate) prev_flavor: Option<FlavorSnap>,
    pub(crate) image_id: Option<String>,
    pub(crate) key_name: Option<String>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) user_data: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) hostname: String,
    pub(crate) host: Option<String>,
    pub(crate) availability_zone: String,
    pub(crate) port_ids: Vec<String>,
    pub(crate) created_ports: Vec<String>,
    pub(crate) security_groups: Vec<String>,
    pub(crate) volumes: Vec<VolAttach>,
    pub(crate) locked: bool,
    pub(crate) locked_reason: Option<String>,
    pub(crate) tags: BTreeSet<String>,
    pub(crate) fault: Option<Fault>,
    pub(crate) access_ipv4: String,
    pub(crate) access_ipv6: String,
    pub(crate) config_drive: String,
    pub(crate) server_groups: Vec<String>,
    pub(crate) scheduler_hints: Value,
    pub(crate) reservation_id: String,
    pub(crate) launch_index: u64,
    pub(crate) instance_index: u64,
    pub(crate) launched_at: Option<Ts>,
    pub(crate) terminated_at: Option<Ts>,
    pub(crate) created_at: Ts,
    pub(crate) updated_at: Ts,
    pub(crate) deleted: bool,
    pub(crate) pending: Option<Pending>,
}

impl Server {
    fn holds_capacity(&self) -> bool {
        self.host.is_some() && !self.deleted
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Usage {
    pub(crate) vcpus: u64,
    pub(crate) ram: u64,
    pub(crate) disk: u64,
    pub(crate) instances: u64,
}

/// Everything Nova owns in a region.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ComputeState {
    pub(crate) servers: HashMap<String, Server>,
    pub(crate) flavors: BTreeMap<String, Flavor>,
    pub(crate) keypairs: Vec<Keypair>,
    pub(crate) groups: BTreeMap<String, ServerGroup>,
    pub(crate) quotas: HashMap<String, BTreeMap<String, i64>>,
    pub(crate) next_instance: u64,
    /// What admins changed on the region's services (`os-services`), by binary.
    #[serde(default)]
    pub(crate) services: BTreeMap<String, super::hosts::ServiceState>,
    #[serde(skip)]
    by_created: BTreeSet<(Ts, String)>,
    #[serde(skip)]
    by_updated: BTreeSet<(Ts, String)>,
    #[serde(skip)]
    due: BTreeSet<(Ts, String)>,
    #[serde(skip)]
    pub(crate) used: Usage,
}

impl ComputeState {
    pub(crate) fn rebuild_indexes(&mut self) {
        self.by_created.clear();
        self.by_updated.clear();
        self.due.clear();
        self.used = Usage::default();
        let servers: Vec<Server> = self.servers.values().cloned().collect();
        for s in servers {
            self.index(&s);
        }
    }

    fn index(&mut self, s: &Server) {
        self.by_created.insert((s.created_at, s.id.clone()));
        self.by_updated.insert((s.updated_at, s.id.clone()));
        if let Some(p) = &s.pending {
            self.due.insert((p.due, s.id.clone()));
        }
        if s.holds_capacity() {
            self.used.vcpus += s.flavor.vcpus;
            self.used.ram += s.flavor.ram;
            self.used.disk += s.flavor.disk + s.flavor.ephemeral;
            self.used.instances += 1;
        }
    }

    fn unindex(&mut self, s: &Server) {
        self.by_created.remove(&(s.created_at, s.id.clone()));
        self.by_updated.remove(&(s.updated_at, s.id.clone()));
        if let Some(p) = &s.pending {
            self.due.remove(&(p.due, s.id.clone()));
        }
        if s.holds_capacity() {
            self.used.vcpus -= s.flavor.vcpus.min(self.used.vcpus);
            self.used.ram -= s.flavor.ram.min(self.used.ram);
            self.used.disk -= (s.flavor.disk + s.flavor.ephemeral).min(self.used.disk);
            self.used.instances -= 1.min(self.used.instances);
        }
    }

    pub(crate) fn insert(&mut self, s: Server) {
        self.index(&s);
        self.servers.insert(s.id.clone(), s);
    }

    /// Applies `f` to a server and bumps its `updated_at`, keeping every index right.
    pub(crate) fn touch<R>(
        &mut self,
        id: &str,
        at: Ts,
        f: impl FnOnce(&mut Server) -> R,
    ) -> Option<R> {
        let mut s = self.servers.remove(id)?;
        self.unindex(&s);
        let r = f(&mut s);
        s.updated_at = at.max(s.updated_at);
        self.index(&s);
        self.servers.insert(s.id.clone(), s);
        Some(r)
    }

    /// Completes every task due by `now`. Returns whether anything changed.
    pub(crate) fn advance(&mut self, now: Ts) -> bool {
        let mut changed = false;
        while let Some((due, id)) = self.due.first().cloned() {
            if due > now {
                break;
            }
            self.due.remove(&(due, id.clone()));
            self.touch(&id, due, |s| {
                if let Some(p) = s.pending.take() {
                    if s.status == "BUILD" && p.status == "ACTIVE" {
                        s.launched_at = Some(due);
                    }
                    s.status = p.status;
                    s.vm_state = p.vm_state;
                    s.power_state = p.power_state;
                    s.task_state = None;
                    if p.revert_flavor
                        && let Some(old) = s.prev_flavor.take()
                    {
                        s.flavor = old;
                    }
                }
            });
            changed = true;
        }
        changed
    }

    pub(crate) fn visible(&self, id: &str, auth: &AuthContext) -> ApiResult<&Server> {
        match self.servers.get(id) {
            Some(s) if !s.deleted && (auth.is_admin || s.project_id == auth.project_id) => Ok(s),
            _ => Err(ApiError::nova(
                404,
                format!("Instance {id} could not be found."),
            )),
        }
    }
}

fn nova_err(e: ApiError) -> ApiError {
    e.into_service(Service::Compute)
}

pub(crate) fn server_links(base: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/compute/v2.1/servers/{id}")},
        {"rel": "bookmark", "href": format!("{base}/compute/servers/{id}")}
    ])
}

fn host_id(project: &str, host: &Option<String>) -> String {
    use sha2::Digest;
    match host {
        Some(h) => hex::encode(&sha2::Sha256::digest(format!("{project}{h}").as_bytes())[..28]),
        None => String::new(),
    }
}

fn usg_ts(t: &Option<Ts>) -> Value {
    match t {
        Some(t) => json!(t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
        None => Value::Null,
    }
}

/// A server in Nova's shape for the negotiated microversion.
pub(crate) fn render(st: &RegionState, s: &Server, mv: Mv, admin: bool, base: &str) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(s.id));
    o.insert("name".into(), json!(s.name));
    o.insert("status".into(), json!(s.status));
    o.insert("tenant_id".into(), json!(s.project_id));
    o.insert("user_id".into(), json!(s.user_id));
    o.insert("metadata".into(), json!(s.metadata));
    o.insert("hostId".into(), json!(host_id(&s.project_id, &s.host)));
    let image = match &s.image_id {
        Some(i) => {
            let mut im = json!({"id": i, "links": [{"rel": "bookmark", "href": format!("{base}/compute/images/{i}")}]});
            if mv.ge(2, 98) {
                let props = st
                    .image
                    .images
                    .get(i)
                    .map(|img| json!(img.properties))
                    .unwrap_or(json!({}));
                im["properties"] = props;
            }
            im
        }
        None => json!(""),
    };
    o.insert("image".into(), image);
    let f = &s.flavor;
    let flavor = if mv.ge(2, 47) {
        json!({"vcpus": f.vcpus, "ram": f.ram, "disk": f.disk, "ephemeral": f.ephemeral, "swap": f.swap,
               "original_name": f.name, "extra_specs": f.extra_specs})
    } else {
        json!({"id": f.id, "links": [{"rel": "bookmark", "href": format!("{base}/compute/flavors/{}", f.id)}]})
    };
    o.insert("flavor".into(), flavor);
    o.insert("created".into(), json!(ts_z(&s.created_at)));
    o.insert("updated".into(), json!(ts_z(&s.updated_at)));
    o.insert(
        "addresses".into(),
        Value::Object(st.network.server_addresses(&s.port_ids)),
    );
    o.insert("accessIPv4".into(), json!(s.access_ipv4));
    o.insert("accessIPv6".into(), json!(s.access_ipv6));
    o.insert("links".into(), server_links(base, &s.id));
    o.insert("OS-DCF:diskConfig".into(), json!("MANUAL"));
    o.insert(
        "progress".into(),
        json!(if s.status == "ACTIVE" { 100 } else { 0 }),
    );
    o.insert(
        "OS-EXT-AZ:availability_zone".into(),
        json!(s.availability_zone),
    );
    o.insert("config_drive".into(), json!(s.config_drive));
    o.insert("key_name".into(), json!(s.key_name));
    o.insert("OS-SRV-USG:launched_at".into(), usg_ts(&s.launched_at));
    o.insert("OS-SRV-USG:terminated_at".into(), usg_ts(&s.terminated_at));
    o.insert("OS-EXT-STS:task_state".into(), json!(s.task_state));
    o.insert("OS-EXT-STS:vm_state".into(), json!(s.vm_state));
    o.insert("OS-EXT-STS:power_state".into(), json!(s.power_state));
    let vols: Vec<Value> = s
        .volumes
        .iter()
        .map(|v| {
            if mv.ge(2, 3) {
                json!({"id": v.volume_id, "delete_on_termination": v.delete_on_termination})
            } else {
                json!({"id": v.volume_id})
            }
        })
        .collect();
    o.insert("os-extended-volumes:volumes_attached".into(), json!(vols));
    if !s.security_groups.is_empty() {
        let sgs: Vec<Value> = s
            .security_groups
            .iter()
            .map(|n| json!({"name": n}))
            .collect();
        o.insert("security_groups".into(), json!(sgs));
    }
    if admin {
        o.insert("OS-EXT-SRV-ATTR:host".into(), json!(s.host));
        o.insert("OS-EXT-SRV-ATTR:hypervisor_hostname".into(), json!(s.host));
        o.insert(
            "OS-EXT-SRV-ATTR:instance_name".into(),
            json!(format!("instance-{:08x}", s.instance_index)),
        );
        if mv.ge(2, 3) {
            o.insert(
                "OS-EXT-SRV-ATTR:reservation_id".into(),
                json!(s.reservation_id),
            );
            o.insert("OS-EXT-SRV-ATTR:launch_index".into(), json!(s.launch_index));
            o.insert("OS-EXT-SRV-ATTR:hostname".into(), json!(s.hostname));
            o.insert("OS-EXT-SRV-ATTR:kernel_id".into(), json!(""));
            o.insert("OS-EXT-SRV-ATTR:ramdisk_id".into(), json!(""));
            o.insert("OS-EXT-SRV-ATTR:root_device_name".into(), json!("/dev/vda"));
            o.insert("OS-EXT-SRV-ATTR:user_data".into(), json!(s.user_data));
        }
        if mv.ge(2, 16) {
            o.insert(
                "host_status".into(),
                json!(if s.host.is_some() { "UP" } else { "" }),
            );
        }
    } else if mv.ge(2, 90) {
        o.insert("OS-EXT-SRV-ATTR:hostname".into(), json!(s.hostname));
    }
    if mv.ge(2, 9) {
        o.insert("locked".into(), json!(s.locked));
    }
    if mv.ge(2, 73) {
        o.insert("locked_reason".into(), json!(s.locked_reason));
    }
    if mv.ge(2, 19) {
        o.insert("description".into(), json!(s.description));
    }
    if mv.ge(2, 26) {
        o.insert("tags".into(), json!(s.tags));
    }
    if mv.ge(2, 63) {
        o.insert("trusted_image_certificates".into(), Value::Null);
    }
    if mv.ge(2, 71) {
        o.insert("server_groups".into(), json!(s.server_groups));
    }
    if mv.ge(2, 96) {
        o.insert("pinned_availability_zone".into(), Value::Null);
    }
    if mv.ge(2, 100) {
        o.insert("scheduler_hints".into(), s.scheduler_hints.clone());
    }
    if let Some(f) = &s.fault {
        let mut fj = json!({"code": f.code, "created": ts_z(&f.created), "message": f.message});
        if admin || f.code != 500 {
            fj["details"] = json!(f.details);
        }
        o.insert("fault".into(), fj);
    }
    Value::Object(o)
}

fn sort_value(s: &Server, key: &str) -> Value {
    match key {
        "created_at" => json!(s.created_at.timestamp_nanos_opt()),
        "updated_at" => json!(s.updated_at.timestamp_nanos_opt()),
        "launched_at" => json!(s.launched_at.and_then(|t| t.timestamp_nanos_opt())),
        "display_name" | "name" => json!(s.name),
        "uuid" | "id" => json!(s.id),
        "vm_state" => json!(s.vm_state),
        "task_state" => json!(s.task_state),
        "power_state" => json!(s.power_state),
        "availability_zone" => json!(s.availability_zone),
        "key_name" => json!(s.key_name),
        "project_id" => json!(s.project_id),
        "user_id" => json!(s.user_id),
        "host" => json!(s.host),
        "hostname" => json!(s.hostname),
        _ => Value::Null,
    }
}

const SORT_KEYS: &[&str] = &[
    "created_at",
    "updated_at",
    "launched_at",
    "display_name",
    "name",
    "uuid",
    "id",
    "vm_state",
    "task_state",
    "power_state",
    "availability_zone",
    "key_name",
    "project_id",
    "user_id",
    "host",
    "hostname",
];

struct Filter<'a> {
    auth: &'a AuthContext,
    project: Option<String>,
    name: Option<regex_lite::Regex>,
    status: Vec<String>,
    params: &'a Params,
    include_deleted: bool,
    only_deleted: bool,
}

impl Filter<'_> {
    fn matches(&self, st: &RegionState, s: &Server) -> bool {
        if let Some(p) = &self.project
            && &s.project_id != p
        {
            return false;
        }
        if s.deleted && !self.include_deleted {
            return false;
        }
        if self.only_deleted && !s.deleted {
            return false;
        }
        if let Some(re) = &self.name
            && !re.is_match(&s.name)
        {
            return false;
        }
        if !self.status.is_empty()
            && !self
                .status
                .iter()
                .any(|x| x.eq_ignore_ascii_case(&s.status))
        {
            return false;
        }
        let p = self.params;
        let eq = |k: &str, v: Option<&str>| p.get(k).is_none_or(|want| Some(want) == v);
        if !eq("availability_zone", Some(&s.availability_zone))
            || !eq("flavor", Some(&s.flavor.id))
            || !eq("image", s.image_id.as_deref())
            || !eq("key_name", s.key_name.as_deref())
            || !eq("uuid", Some(&s.id))
        {
            return false;
        }
        if self.auth.is_admin
            && (!eq("host", s.host.as_deref()) || !eq("user_id", Some(&s.user_id)))
        {
            return false;
        }
        if let Some(l) = p.get("locked").and_then(crate::util::truthy)
            && l != s.locked
        {
            return false;
        }
        let tagset = |k: &str| -> Vec<String> {
            p.all(k)
                .iter()
                .flat_map(|v| v.split(','))
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        };
        let (all, any, not_all, not_any) = (
            tagset("tags"),
            tagset("tags-any"),
            tagset("not-tags"),
            tagset("not-tags-any"),
        );
        if !all.iter().all(|t| s.tags.contains(t))
            || (!any.is_empty() && !any.iter().any(|t| s.tags.contains(t)))
            || (!not_all.is_empty() && not_all.iter().all(|t| s.tags.contains(t)))
            || not_any.iter().any(|t| s.tags.contains(t))
        {
            return false;
        }
        if let Some(ip) = p.get("ip").or(p.get("ip6")) {
            let Ok(re) = regex_lite::Regex::new(ip) else {
                return false;
            };
            let addrs = st.network.server_ips(&s.port_ids);
            if !addrs.iter().any(|a| re.is_match(a)) {
                return false;
            }
        }
        true
    }
}

fn parse_limit(p: &Params) -> ApiResult<usize> {
    match p.get("limit") {
        None => Ok(MAX_LIMIT),
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n >= 0 => Ok((n as usize).min(MAX_LIMIT)),
            _ => Err(ApiError::nova(
                400,
                format!("Invalid input for query parameters limit. Value: {l}."),
            )),
        },
    }
}

/// Lists servers the way Nova does (default order `created_at desc, id desc`).
fn list_servers(
    ctx: &Ctx,
    auth: &AuthContext,
    mv: Mv,
    q: Option<String>,
    detail: bool,
) -> ApiResult<Value> {
    let p = Params::parse(q.as_deref());
    let st = ctx.read();
    let all_tenants = p
        .get("all_tenants")
        .map(|v| v.is_empty() || crate::util::truthy(v).unwrap_or(true));
    let project = if auth.is_admin {
        match (p.get("project_id").or(p.get("tenant_id")), all_tenants) {
            (Some(pid), _) => Some(pid.to_string()),
            (None, Some(true)) => None,
            _ => Some(auth.project_id.clone()),
        }
    } else {
        Some(auth.project_id.clone())
    };
    let since = match p.get("changes-since") {
        Some(v) => Some(crate::util::parse_ts(v).ok_or_else(|| {
            ApiError::nova(
                400,
                format!("Invalid input for query parameters changes-since. Value: {v}."),
            )
        })?),
        None => None,
    };
    let before = match p.get("changes-before") {
        Some(v) if mv.ge(2, 66) => Some(crate::util::parse_ts(v).ok_or_else(|| {
            ApiError::nova(
                400,
                format!("Invalid input for query parameters changes-before. Value: {v}."),
            )
        })?),
        _ => None,
    };
    if let (Some(a), Some(b)) = (since, before)
        && a > b
    {
        return Err(ApiError::nova(
            400,
            "The value of changes-since must be less than or equal to changes-before.",
        ));
    }
    let deleted_param = p
        .get("deleted")
        .and_then(crate::util::truthy)
        .unwrap_or(false);
    let only_deleted = deleted_param && auth.is_admin && since.is_none();
    let name = match p.get("name") {
        Some(n) => Some(
            regex_lite::Regex::new(n)
                .or_else(|_| regex_lite::Regex::new(&regex_lite::escape(n)))
                .map_err(|_| ApiError::nova(400, "Invalid name filter"))?,
        ),
        None => None,
    };
    let status: Vec<String> = p.all("status").iter().map(|s| s.to_uppercase()).collect();
    if status.iter().any(|s| s == "DELETED") && !auth.is_admin {
        return Ok(json!({"servers": []}));
    }
    let filter = Filter {
        auth,
        project,
        name,
        include_deleted: since.is_some()
            || before.is_some()
            || only_deleted
            || status.iter().any(|s| s == "DELETED"),
        status,
        params: &p,
        only_deleted,
    };
    let mut keys: Vec<String> = p.all("sort_key").iter().map(|s| s.to_string()).collect();
    let mut dirs: Vec<String> = p.all("sort_dir").iter().map(|s| s.to_lowercase()).collect();
    for k in &keys {
        if !SORT_KEYS.contains(&k.as_str()) {
            return Err(ApiError::nova(
                400,
                format!("Invalid input for query parameters sort_key. Value: {k}."),
            ));
        }
    }
    for d in &dirs {
        if d != "asc" && d != "desc" {
            return Err(ApiError::nova(
                400,
                format!("Invalid input for query parameters sort_dir. Value: {d}."),
            ));
        }
    }
    if keys.is_empty() {
        keys.push("created_at".into());
    }
    while dirs.len() < keys.len() {
        dirs.push(dirs.last().cloned().unwrap_or_else(|| "desc".into()));
    }
    if !keys.iter().any(|k| k == "uuid" || k == "id") {
        keys.push("uuid".into());
        dirs.push(dirs[0].clone());
    }
    let limit = parse_limit(&p)?;
    let marker = match p.get("marker") {
        Some(m) => Some(
            st.compute
                .servers
                .get(m)
                .ok_or_else(|| ApiError::nova(400, format!("marker [{m}] not found")))?,
        ),
        None => None,
    };
    let c = &st.compute;
    let mut page: Vec<&Server> = Vec::new();
    let by_created_fast = keys.len() == 2
        && keys[0] == "created_at"
        && dirs[0] == dirs[1]
        && since.is_none()
        && before.is_none();
    if by_created_fast {
        // Walk the (created_at, id) index from the marker, stopping at `limit`.
        let asc = dirs[0] == "asc";
        let start = marker.map(|m| (m.created_at, m.id.clone()));
        let iter: Box<dyn Iterator<Item = &(Ts, String)>> = match (asc, start) {
            (true, Some(k)) => Box::new(c.by_created.range((Bound::Excluded(k), Bound::Unbounded))),
            (true, None) => Box::new(c.by_created.iter()),
            (false, Some(k)) => Box::new(
                c.by_created
                    .range((Bound::Unbounded, Bound::Excluded(k)))
                    .rev(),
            ),
            (false, None) => Box::new(c.by_created.iter().rev()),
        };
        for (_, id) in iter {
            if page.len() >= limit {
                break;
            }
            let s = &c.servers[id];
            if filter.matches(&st, s) {
                page.push(s);
            }
        }
    } else {
        let mut items: Vec<&Server> = if since.is_some() || before.is_some() {
            let lo = since.map_or(Bound::Unbounded, |t| Bound::Included((t, String::new())));
            c.by_updated
                .range((lo, Bound::Unbounded))
                .take_while(|(t, _)| before.is_none_or(|b| *t <= b))
                .map(|(_, id)| &c.servers[id])
                .filter(|s| filter.matches(&st, s))
                .collect()
        } else {
            c.servers
                .values()
                .filter(|s| filter.matches(&st, s))
                .collect()
        };
        let cmp = |a: &Server, b: &Server| {
            for (k, d) in keys.iter().zip(&dirs) {
                let o = crate::util::cmp_json(&sort_value(a, k), &sort_value(b, k));
                let o = if d == "desc" { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        };
        items.sort_by(|a, b| cmp(a, b));
        let start = match marker {
            Some(m) => items
                .iter()
                .position(|s| cmp(s, m) == std::cmp::Ordering::Greater)
                .unwrap_or(items.len()),
            None => 0,
        };
        page = items.into_iter().skip(start).take(limit).collect();
    }
    let base = &ctx.region.base_url;
    let rendered: Vec<Value> = page
        .iter()
        .map(|s| {
            if detail {
                render(&st, s, mv, auth.is_admin, base)
            } else {
                json!({"id": s.id, "name": s.name, "links": server_links(base, &s.id)})
            }
        })
        .collect();
    let mut out = json!({"servers": rendered});
    if limit > 0
        && page.len() == limit
        && let Some(last) = page.last()
    {
        let path = if detail { "servers/detail" } else { "servers" };
        out["servers_links"] = json!([{"rel": "next", "href": format!("{base}/compute/v2.1/{path}?{}", p.with_marker(&last.id, limit))}]);
    }
    Ok(out)
}

pub(crate) async fn list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    Ok(axum::Json(list_servers(&ctx, &auth, mv, q, false)?).into_response())
}

pub(crate) async fn list_detail(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    Ok(axum::Json(list_servers(&ctx, &auth, mv, q, true)?).into_response())
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let s = st.compute.visible(&id, &auth)?;
    Ok(
        axum::Json(json!({"server": render(&st, s, mv, auth.is_admin, &ctx.region.base_url)}))
            .into_response(),
    )
}

pub(crate) fn body_json(service: Service, body: &Bytes) -> ApiResult<Value> {
    if body.is_empty() {
        return Err(ApiError::new(
            service,
            400,
            "BadRequest",
            "The request body is empty.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            service,
            400,
            "BadRequest",
            format!("Malformed request body: {e}"),
        )
    })
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::nova(400, msg)
}

fn last_segment(s: &str) -> String {
    s.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(s)
        .to_string()
}

fn valid_name(v: Option<&Value>, field: &str) -> ApiResult<String> {
    let n = v
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("Invalid input for field/attribute {field}.")))?;
    if n.is_empty() || n.len() > 255 || n.trim() != n {
        return Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {n}."
        )));
    }
    Ok(n.to_string())
}

fn string_map(v: Option<&Value>, field: &str) -> ApiResult<BTreeMap<String, String>> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) if !k.is_empty() && k.len() <= 255 && s.len() <= 255 => {
                    Ok((k.clone(), s.to_string()))
                }
                _ => Err(bad(format!(
                    "Invalid input for field/attribute {field}. Value: {v}."
                ))),
            })
            .collect(),
        Some(other) => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {other}."
        ))),
    }
}

enum NetReq {
    Auto,
    None,
    List(Vec<(Option<String>, Option<String>, Option<String>)>),
}

/// Validates a create body and creates the server(s).
pub(crate) async fn create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = body_json(Service::Compute, &body)?;
    let srv = v
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute server."))?;
    let name = valid_name(srv.get("name"), "name")?;
    // Nova answers with the requested password, or one it generated.
    let admin_pass = srv
        .get("adminPass")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| new_id().replace('-', "")[..12].to_string());
    let flavor_ref = srv
        .get("flavorRef")
        .and_then(|f| {
            f.as_str()
                .map(str::to_string)
                .or_else(|| f.as_u64().map(|n| n.to_string()))
        })
        .ok_or_else(|| bad("Invalid input for field/attribute flavorRef."))?;
    let flavor_id = last_segment(&flavor_ref);
    let image_ref = srv
        .get("imageRef")
        .and_then(Value::as_str)
        .map(last_segment)
        .filter(|s| !s.is_empty());
    let networks = match srv.get("networks") {
        None if mv.ge(2, 37) => return Err(bad("Invalid input for field/attribute server. 'networks' is a required property")),
        None => NetReq::Auto,
        Some(Value::String(s)) if s == "auto" && mv.ge(2, 37) => NetReq::Auto,
        Some(Value::String(s)) if s == "none" && mv.ge(2, 37) => NetReq::None,
        Some(Value::Array(a)) => NetReq::List(
            a.iter()
                .map(|n| {
                    let g = |k: &str| n.get(k).and_then(Value::as_str).map(str::to_string);
                    if g("uuid").is_none() && g("port").is_none() {
                        return Err(bad("Invalid input for field/attribute networks: each item needs uuid or port."));
                    }
                    Ok((g("uuid"), g("port"), g("fixed_ip")))
                })
                .collect::<ApiResult<_>>()?,
        ),
        Some(o) => return Err(bad(format!("Invalid input for field/attribute networks. Value: {o}."))),
    };
    let metadata = string_map(srv.get("metadata"), "metadata")?;
    let az_req = srv
        .get("availability_zone")
        .and_then(Value::as_str)
        .map(|a| a.split(':').next().unwrap_or("").to_string());
    let key_name = srv
        .get("key_name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let user_data = srv
        .get("user_data")
        .and_then(Value::as_str)
        .map(str::to_string);
    // Nova defaults display_description to display_name when none is given (explicit null
    // at 2.19+ stays null)
    let description_given = mv.ge(2, 19) && srv.get("description").is_some();
    let description = if mv.ge(2, 19) {
        srv.get("description")
            .and_then(Value::as_str)
            .map(str::to_string)
    } else {
        None
    };
    let tags: BTreeSet<String> = if mv.ge(2, 52) {
        srv.get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        BTreeSet::new()
    };
    let sg_names: Vec<String> = srv
        .get("security_groups")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|g| g.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| vec!["default".into()]);
    let hints = v
        .get("os:scheduler_hints")
        .or(v.get("OS-SCH-HNT:scheduler_hints"))
        .cloned()
        .unwrap_or(json!({}));
    let min_count = srv
        .get("min_count")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);
    let max_count = srv
        .get("max_count")
        .and_then(Value::as_u64)
        .unwrap_or(min_count)
        .max(min_count);
    if max_count > 1000 {
        return Err(bad("max_count is too large"));
    }
    let bdms: Vec<Value> = srv
        .get("block_device_mapping_v2")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let hostname = srv
        .get("hostname")
        .and_then(Value::as_str)
        .map(str::to_string);
    let access_ipv4 = srv
        .get("accessIPv4")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let access_ipv6 = srv
        .get("accessIPv6")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let config_drive = match srv.get("config_drive") {
        Some(Value::Bool(true)) => "True".to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let return_reservation = srv
        .get("return_reservation_id")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let region = ctx.region.clone();
    let build_time = region.build_time();
    let exhausted = region.capacity_exhausted();
    let mut guard = ctx.write();
    let st = &mut *guard;
    let t = now();
    let flavor = st
        .compute
        .flavors
        .get(&flavor_id)
        .filter(|f| f.is_public || auth.is_admin || f.access.contains(&auth.project_id))
        .cloned()
        .ok_or_else(|| bad(format!("Flavor {flavor_id} could not be found.")))?;
    if let Some(a) = &az_req
        && a != &region.spec.az
        && !a.is_empty()
    {
        return Err(bad(format!(
            "The requested availability zone is not available: {a}"
        )));
    }
    if let Some(k) = &key_name
        && !st
            .compute
            .keypairs
            .iter()
            .any(|kp| &kp.name == k && kp.user_id == auth.user_id)
    {
        return Err(bad("Invalid key_name provided."));
    }
    // Boot source: image, or a volume block device with boot_index 0.
    let boot_bdm = bdms.iter().find(|b| {
        b.get("boot_index").and_then(|x| {
            x.as_i64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        }) == Some(0)
            && b.get("destination_type").and_then(Value::as_str) == Some("volume")
    });
    let mut image_id = image_ref.clone();
    if let Some(b) = boot_bdm {
        match b.get("source_type").and_then(Value::as_str) {
            Some("volume") => {
                let vid = b.get("uuid").and_then(Value::as_str).unwrap_or_default();
                st.volume.check_attachable(vid, &auth).map_err(nova_err)?;
                image_id = None;
            }
            Some("image") => {
                image_id = b.get("uuid").and_then(Value::as_str).map(str::to_string);
            }
            _ => {}
        }
    }
    if let Some(img) = &image_id {
        match st.image.images.get(img) {
            Some(i) if i.visible_to(&auth) => {
                if i.status != "active" {
                    return Err(bad(format!("Image {img} is not active.")));
                }
            }
            _ => return Err(bad(format!("Image {img} could not be found."))),
        }
    } else if boot_bdm.is_none() {
        return Err(bad(
            "Block Device Mapping is Invalid: You specified more local devices than the limit allows",
        ));
    }
    // Networks and ports.
    let net_list: Vec<(Option<String>, Option<String>, Option<String>)> = match networks {
        NetReq::None => vec![],
        NetReq::Auto => st
            .network
            .auto_network(&auth.project_id)
            .map(|n| vec![(Some(n), None, None)])
            .unwrap_or_default(),
        NetReq::List(l) => l,
    };
    for (net, port, _) in &net_list {
        if let Some(pid) = port {
            if max_count > 1 {
                return Err(bad(
                    "Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.",
                ));
            }
            st.network.check_port_free(pid, &auth).map_err(nova_err)?;
        } else if let Some(nid) = net
            && !st.network.network_usable(nid, &auth)
        {
            return Err(bad(format!("Network {nid} could not be found.")));
        }
    }
    let mut sg_ids = Vec::new();
    for n in &sg_names {
        match st.network.security_group_id(&auth.project_id, n) {
            Some(id) => sg_ids.push(id),
            None => {
                return Err(bad(format!(
                    "Security group {n} not found for project {}.",
                    auth.project_id
                )));
            }
        }
    }
    let group = hints
        .get("group")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(g) = &group
        && !st.compute.groups.contains_key(g)
    {
        return Err(bad(format!("Invalid server group {g}")));
    }
    super::misc::check_quota(&st.compute, &auth.project_id, &flavor, max_count)
        .map_err(|m| ApiError::nova(403, m))?;
    let reservation_id = format!("r-{}", &new_id()[..8]);
    let mut first: Option<String> = None;
    for idx in 0..max_count {
        let id = new_id();
        first.get_or_insert(id.clone());
        let sname = if max_count > 1 {
            format!("{name}-{}", idx + 1)
        } else {
            name.clone()
        };
        st.compute.next_instance += 1;
        let used = st.compute.used;
        let cap = region.spec.capacity;
        let fits = !exhausted
            && used.vcpus + flavor.vcpus <= cap.vcpus
            && used.ram + flavor.ram <= cap.ram_mb
            && used.disk + flavor.disk + flavor.ephemeral <= cap.disk_gb;
        let host = fits.then(|| format!("{}-compute", region.name));
        let mut server = Server {
            id: id.clone(),
            name: sname.clone(),
            project_id: auth.project_id.clone(),
            user_id: auth.user_id.clone(),
            status: "BUILD".into(),
            vm_state: "building".into(),
            task_state: Some("spawning".into()),
            power_state: 0,
            flavor: FlavorSnap::from(&flavor),
            prev_flavor: None,
            image_id: image_id.clone().filter(|_| boot_bdm.is_none()),
            key_name: key_name.clone(),
            metadata: metadata.clone(),
            user_data: user_data.clone(),
            description: if description_given {
                description.clone()
            } else {
                Some(sname.clone())
            },
            hostname: hostname
                .clone()
                .unwrap_or_else(|| sanitize_hostname(&sname)),
            host: host.clone(),
            availability_zone: region.spec.az.clone(),
            port_ids: vec![],
            created_ports: vec![],
            security_groups: sg_names.clone(),
            volumes: vec![],
            locked: false,
            locked_reason: None,
            tags: tags.clone(),
            fault: None,
            access_ipv4: access_ipv4.clone(),
            access_ipv6: access_ipv6.clone(),
            config_drive: config_drive.clone(),
            server_groups: group.clone().into_iter().collect(),
            scheduler_hints: hints.clone(),
            reservation_id: reservation_id.clone(),
            launch_index: idx,
            instance_index: st.compute.next_instance,
            launched_at: None,
            terminated_at: None,
            created_at: t,
            updated_at: t,
            deleted: false,
            pending: None,
        };
        match &host {
            None => {
                server.status = "ERROR".into();
                server.vm_state = "error".into();
                server.task_state = None;
                server.fault = Some(Fault {
                    code: 500,
                    message: "No valid host was found. There are not enough hosts available.".into(),
                    details: "Traceback (most recent call last):\n  File \"nova/conductor/manager.py\", in schedule_and_build_instances\nnova.exception.NoValidHost: No valid host was found. There are not enough hosts available.\n".into(),
                    created: t,
                });
            }
            Some(h) => {
                let owner = format!("compute:{}", region.spec.az);
                for (net, port, fixed_ip) in &net_list {
                    if let Some(pid) = port {
                        st.network
                            .bind_port(pid, &id, &owner, h)
                            .map_err(nova_err)?;
                        server.port_ids.push(pid.clone());
                    } else if let Some(nid) = net {
                        let pid = st
                            .network
                            .create_server_port(
                                &auth.project_id,
                                nid,
                                fixed_ip.as_deref(),
                                &id,
                                &owner,
                                h,
                                &sg_ids,
                            )
                            .map_err(nova_err)?;
                        server.port_ids.push(pid.clone());
                        server.created_ports.push(pid);
                    }
                }
                for b in &bdms {
                    if b.get("destination_type").and_then(Value::as_str) != Some("volume") {
                        continue;
                    }
                    let is_boot = boot_bdm.is_some_and(|bb| std::ptr::eq(bb, b));
                    let device = if is_boot {
                        "/dev/vda".to_string()
                    } else {
                        next_device(&server.volumes)
                    };
                    let dot = b
                        .get("delete_on_termination")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let size = b
                        .get("volume_size")
                        .and_then(Value::as_u64)
                        .unwrap_or(flavor.disk.max(1));
                    let vid = match b.get("source_type").and_then(Value::as_str) {
                        Some("volume") => b
                            .get("uuid")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        Some("image") => {
                            let img = b
                                .get("uuid")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string();
                            let meta = st
                                .image
                                .images
                                .get(&img)
                                .map(|i| i.volume_image_metadata())
                                .unwrap_or_default();
                            st.volume.create_for_server(
                                &auth,
                                &region.spec.az,
                                size,
                                Some((img, meta)),
                                t,
                            )
                        }
                        _ => st
                            .volume
                            .create_for_server(&auth, &region.spec.az, size, None, t),
                    };
                    let att = st
                        .volume
                        .attach(&vid, &auth, &id, h, &device, t)
                        .map_err(nova_err)?;
                    server.volumes.push(VolAttach {
                        attachment_id: att,
                        volume_id: vid,
                        device,
                        delete_on_termination: dot,
                        tag: b.get("tag").and_then(Value::as_str).map(str::to_string),
                    });
                }
                server.pending = Some(Pending {
                    due: t + chrono::Duration::from_std(build_time).unwrap_or_default(),
                    status: "ACTIVE".into(),
                    vm_state: "active".into(),
                    power_state: 1,
                    revert_flavor: false,
                });
            }
        }
        if let Some(g) = &group
            && let Some(gr) = st.compute.groups.get_mut(g)
        {
            gr.members.push(id.clone());
        }
        st.compute.insert(server);
    }
    let id = first.unwrap_or_default();
    let base = &region.base_url;
    if return_reservation {
        return Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"reservation_id": reservation_id})),
        )
            .into_response());
    }
    let body = json!({"server": {
        "id": id,
        "links": server_links(base, &id),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": sg_names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
        "adminPass": admin_pass,
    }});
    let mut r = (StatusCode::ACCEPTED, axum::Json(body)).into_response();
    if let Ok(loc) = http::HeaderValue::from_str(&format!("{base}/compute/v2.1/servers/{id}")) {
        r.headers_mut().insert(http::header::LOCATION, loc);
    }
    Ok(r)
}

fn sanitize_hostname(name: &str) -> String {
    let h: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let h = h.trim_matches('-').to_string();
    if h.is_empty() {
        "server".into()
    } else {
        h.chars().take(63).collect()
    }
}

fn next_device(vols: &[VolAttach]) -> String {
    for c in b'b'..=b'z' {
        let d = format!("/dev/vd{}", c as char);
        if !vols.iter().any(|v| v.device == d) {
            return d;
        }
    }
    "/dev/vdzz".into()
}

pub(crate) async fn update(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = body_json(Service::Compute, &body)?;
    let u = v
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute server."))?
        .clone();
    let name = match u.get("name") {
        Some(n) => Some(valid_name(Some(n), "name")?),
        None => None,
    };
    let mut st = ctx.write();
    st.compute.visible(&id, &auth)?;
    st.compute.touch(&id, now(), |s| {
        if let Some(n) = name {
            s.name = n;
        }
        if mv.ge(2, 19)
            && let Some(d) = u.get("description")
        {
            s.description = d.as_str().map(str::to_string);
        }
        if let Some(a) = u.get("accessIPv4").and_then(Value::as_str) {
            s.access_ipv4 = a.to_string();
        }
        if let Some(a) = u.get("accessIPv6").and_then(Value::as_str) {
            s.access_ipv6 = a.to_string();
        }
        if mv.ge(2, 90)
            && let Some(h) = u.get("hostname").and_then(Value::as_str)
        {
            s.hostname = h.to_string();
        }
    });
    let s = st.compute.visible(&id, &auth)?;
    let server = render_changed(render(&st, s, mv, auth.is_admin, &ctx.region.base_url), mv);
    Ok(axum::Json(json!({ "server": server })).into_response())
}

/// The server in `PUT /servers/{id}` and `rebuild` answers: below 2.75 Nova leaves out the
/// extended attributes (availability zone, host, task and power state, volumes, key, ...).
fn render_changed(mut server: Value, mv: Mv) -> Value {
    const BASIC: &[&str] = &[
        "id",
        "name",
        "status",
        "tenant_id",
        "user_id",
        "metadata",
        "hostId",
        "image",
        "flavor",
        "created",
        "updated",
        "addresses",
        "accessIPv4",
        "accessIPv6",
        "links",
        "OS-DCF:diskConfig",
        "progress",
        "fault",
        "locked",
        "description",
        "tags",
        "trusted_image_certificates",
        "locked_reason",
    ];
    if !mv.ge(2, 75)
        && let Some(o) = server.as_object_mut()
    {
        o.retain(|k, _| BASIC.contains(&k.as_str()));
        // ...and the addresses without their type and MAC (Nova's `extend_address=False`).
        if let Some(nets) = o.get_mut("addresses").and_then(Value::as_object_mut) {
            for ips in nets.values_mut().filter_map(Value::as_array_mut) {
                for ip in ips.iter_mut().filter_map(Value::as_object_mut) {
                    ip.retain(|k, _| k == "addr" || k == "version");
                }
            }
        }
    }
    server
}

fn check_lock(s: &Server) -> ApiResult<()> {
    if s.locked {
        return Err(ApiError::nova(409, format!("Instance {} is locked", s.id)));
    }
    Ok(())
}

pub(crate) async fn delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut guard = ctx.write();
    let st = &mut *guard;
    let s = st.compute.visible(&id, &auth)?.clone();
    check_lock(&s)?;
    let t = now();
    st.network
        .release_server_ports(&s.created_ports, &s.port_ids);
    for v in &s.volumes {
        st.volume
            .detach(&v.volume_id, &id, v.delete_on_termination, t);
    }
    for g in st.compute.groups.values_mut() {
        g.members.retain(|m| m != &id);
    }
    st.compute.touch(&id, t, |s| {
        s.deleted = true;
        s.status = "DELETED".into();
        s.vm_state = "deleted".into();
        s.task_state = None;
        s.power_state = 0;
        s.pending = None;
        s.terminated_at = Some(t);
        s.port_ids.clear();
        s.volumes.clear();
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn conflict(action: &str, s: &Server) -> ApiError {
    match &s.task_state {
        Some(ts) => ApiError::nova(
            409,
            format!(
                "Cannot '{action}' instance {} while it is in task_state {ts}",
                s.id
            ),
        ),
        None => ApiError::nova(
            409,
            format!(
                "Cannot '{action}' instance {} while it is in vm_state {}",
                s.id, s.vm_state
            ),
        ),
    }
}

/// (allowed vm_states, task_state, status during the task, final status, vm_state, power_state)
type SimpleAction = (
    &'static [&'static str],
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    u8,
);

/// `POST /servers/{id}/action`.
pub(crate) async fn action(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = body_json(Service::Compute, &body)?;
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| bad("Malformed request body: exactly one action expected."))?;
    let (name, arg) = obj
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap_or_default();
    let action_time = chrono::Duration::from_std(ctx.region.spec.action_time).unwrap_or_default();
    let mut guard = ctx.write();
    let st = &mut *guard;
    let s = st.compute.visible(&id, &auth)?.clone();
    let t = now();
    if name != "unlock" && name != "lock" && name != "os-getConsoleOutput" {
        check_lock(&s)?;
    }
    let busy = s.task_state.is_some();
    // (allowed vm_states, task_state, status during the task, final status, vm_state, power_state)
    let simple: Option<SimpleAction> = match name.as_str() {
        "os-start" => Some((&["stopped"], "powering-on", None, "ACTIVE", "active", 1)),
        "os-stop" => Some((
            &["active", "error"],
            "powering-off",
            None,
            "SHUTOFF",
            "stopped",
            4,
        )),
        "pause" => Some((&["active"], "pausing", None, "PAUSED", "paused", 3)),
        "unpause" => Some((&["paused"], "unpausing", None, "ACTIVE", "active", 1)),
        "suspend" => Some((&["active"], "suspending", None, "SUSPENDED", "suspended", 4)),
        "resume" => Some((&["suspended"], "resuming", None, "ACTIVE", "active", 1)),
        "reboot" => {
            let hard = arg
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("HARD"));
            if hard {
                Some((
                    &["active", "stopped", "paused", "suspended", "error"],
                    "reboot_started_hard",
                    Some("HARD_REBOOT"),
                    "ACTIVE",
                    "active",
                    1,
                ))
            } else {
                Some((
                    &["active"],
                    "reboot_started",
                    Some("REBOOT"),
                    "ACTIVE",
                    "active",
                    1,
                ))
            }
        }
        _ => None,
    };
    if let Some((allowed, task, during, fstatus, fvm, fpower)) = simple {
        if busy || !allowed.contains(&s.vm_state.as_str()) {
            return Err(conflict(&name, &s));
        }
        st.compute.touch(&id, t, |s| {
            s.task_state = Some(task.into());
            if let Some(d) = during {
                s.status = d.into();
            }
            s.pending = Some(Pending {
                due: t + action_time,
                status: fstatus.into(),
                vm_state: fvm.into(),
                power_state: fpower,
                revert_flavor: false,
            });
        });
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    match name.as_str() {
        "lock" => {
            let reason = if mv.ge(2, 73) {
                arg.get("locked_reason")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            } else {
                None
            };
            st.compute.touch(&id, t, |s| {
                s.locked = true;
                s.locked_reason = reason;
            });
        }
        "unlock" => {
            st.compute.touch(&id, t, |s| {
                s.locked = false;
                s.locked_reason = None;
            });
        }
        "resize" => {
            let fref = arg
                .get("flavorRef")
                .and_then(|f| {
                    f.as_str()
                        .map(str::to_string)
                        .or_else(|| f.as_u64().map(|n| n.to_string()))
                })
                .ok_or_else(|| bad("Invalid input for field/attribute flavorRef."))?;
            let fid = last_segment(&fref);
            let f = st
                .compute
                .flavors
                .get(&fid)
                .cloned()
                .ok_or_else(|| bad(format!("Flavor {fid} could not be found.")))?;
            if busy || !["active", "stopped"].contains(&s.vm_state.as_str()) {
                return Err(conflict("resize", &s));
            }
            if f.id == s.flavor.id {
                return Err(bad("When resizing, instances must change flavor!"));
            }
            let cap = ctx.region.spec.capacity;
            let u = st.compute.used;
            if u.vcpus - s.flavor.vcpus.min(u.vcpus) + f.vcpus > cap.vcpus
                || u.ram - s.flavor.ram.min(u.ram) + f.ram > cap.ram_mb
            {
                return Err(bad(
                    "No valid host was found. No valid host found for resize",
                ));
            }
            let final_power = s.power_state;
            st.compute.touch(&id, t, |s| {
                s.prev_flavor = Some(s.flavor.clone());
                s.flavor = FlavorSnap::from(&f);
                s.status = "RESIZE".into();
                s.task_state = Some("resize_prep".into());
                s.pending = Some(Pending {
                    due: t + action_time,
                    status: "VERIFY_RESIZE".into(),
                    vm_state: "resized".into(),
                    power_state: final_power,
                    revert_flavor: false,
                });
            });
        }
        "confirmResize" => {
            if s.status != "VERIFY_RESIZE" {
                return Err(conflict("confirmResize", &s));
            }
            // A server resized while stopped stays stopped.
            st.compute.touch(&id, t, |s| {
                s.prev_flavor = None;
                let off = s.power_state == 4;
                s.status = if off { "SHUTOFF" } else { "ACTIVE" }.into();
                s.vm_state = if off { "stopped" } else { "active" }.into();
            });
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        "revertResize" => {
            if s.status != "VERIFY_RESIZE" {
                return Err(conflict("revertResize", &s));
            }
            st.compute.touch(&id, t, |s| {
                s.status = "REVERT_RESIZE".into();
                s.task_state = Some("resize_reverting".into());
                s.pending = Some(Pending {
                    due: t + action_time,
                    status: "ACTIVE".into(),
                    vm_state: "active".into(),
                    power_state: 1,
                    revert_flavor: true,
                });
            });
        }
        "createImage" => {
            let iname = valid_name(arg.get("name"), "name")?;
            let meta = string_map(arg.get("metadata"), "metadata")?;
            if busy || !["active", "stopped", "paused", "suspended"].contains(&s.vm_state.as_str())
            {
                return Err(conflict("createImage", &s));
            }
            // The server is `image_snapshot` until the upload ends (a second snapshot is a
            // 409 meanwhile), as in Nova.
            let image_id = st
                .image
                .create_snapshot(&auth, &iname, &s, meta, t, t + action_time);
            st.compute.touch(&id, t, |s| {
                s.task_state = Some("image_snapshot".into());
                s.pending = Some(Pending {
                    due: t + action_time,
                    status: s.status.clone(),
                    vm_state: s.vm_state.clone(),
                    power_state: s.power_state,
                    revert_flavor: false,
                });
            });
            let base = &ctx.region.base_url;
            if mv.ge(2, 45) {
                return Ok((
                    StatusCode::ACCEPTED,
                    axum::Json(json!({"image_id": image_id})),
                )
                    .into_response());
            }
            let mut r = StatusCode::ACCEPTED.into_response();
            if let Ok(h) = http::HeaderValue::from_str(&format!("{base}/image/images/{image_id}")) {
                r.headers_mut().insert(http::header::LOCATION, h);
            }
            return Ok(r);
        }
        "rebuild" => {
            // The server keeps its id, ports and flavor; image, name, metadata, key and user
            // data may change; it goes REBUILD and comes back ACTIVE.
            let image = arg
                .get("imageRef")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad("Invalid input for field/attribute rebuild. 'imageRef' is a required property")
                })?
                .to_string();
            match st.image.images.get(&image) {
                Some(i) if i.visible_to(&auth) && i.status == "active" => {}
                Some(i) if i.visible_to(&auth) => {
                    return Err(bad(format!("Image {image} is not active.")));
                }
                _ => return Err(bad(format!("Image {image} could not be found."))),
            }
            let new_name = match arg.get("name") {
                Some(n) => Some(valid_name(Some(n), "name")?),
                None => None,
            };
            let meta = match arg.get("metadata") {
                Some(m) => Some(string_map(Some(m), "metadata")?),
                None => None,
            };
            if busy || !["active", "stopped", "error"].contains(&s.vm_state.as_str()) {
                return Err(conflict("rebuild", &s));
            }
            let password = arg
                .get("adminPass")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| new_id().replace('-', "")[..12].to_string());
            st.compute.touch(&id, t, |s| {
                s.image_id = Some(image.clone());
                if let Some(n) = new_name {
                    s.name = n;
                }
                if let Some(m) = meta {
                    s.metadata = m;
                }
                if mv.ge(2, 54)
                    && let Some(k) = arg.get("key_name")
                {
                    s.key_name = k.as_str().map(str::to_string);
                }
                if mv.ge(2, 57)
                    && let Some(u) = arg.get("user_data")
                {
                    s.user_data = u.as_str().map(str::to_string);
                }
                // A stopped server is rebuilt stopped.
                let off = s.vm_state == "stopped";
                s.status = "REBUILD".into();
                s.task_state = Some("rebuilding".into());
                s.pending = Some(Pending {
                    due: t + action_time,
                    status: if off { "SHUTOFF" } else { "ACTIVE" }.into(),
                    vm_state: if off { "stopped" } else { "active" }.into(),
                    power_state: if off { 4 } else { 1 },
                    revert_flavor: false,
                });
            });
            let s = st.compute.visible(&id, &auth)?;
            let (key_name, user_data) = (s.key_name.clone(), s.user_data.clone());
            let mut server =
                render_changed(render(st, s, mv, auth.is_admin, &ctx.region.base_url), mv);
            if let Some(o) = server.as_object_mut() {
                o.remove("OS-EXT-SRV-ATTR:user_data");
                if mv.ge(2, 54) {
                    o.insert("key_name".into(), json!(key_name));
                }
                if mv.ge(2, 57) {
                    o.insert("user_data".into(), json!(user_data));
                }
            }
            server["adminPass"] = json!(password);
            return Ok(
                (StatusCode::ACCEPTED, axum::Json(json!({"server": server}))).into_response(),
            );
        }
        "os-getConsoleOutput" => {
            // A boot log, tailed to `length` lines as Nova's `_tail_log` does (-1 or none: all).
            let length = match arg.get("length") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(t)) => Some(t.trim().parse::<i64>().map_err(|_| {
                    bad(format!(
                        "Invalid input for field/attribute length. Value: {t}."
                    ))
                })?),
                Some(v) => {
                    return Err(bad(format!(
                        "Invalid input for field/attribute length. Value: {v}."
                    )));
                }
            };
            if length.is_some_and(|n| n < -1) {
                return Err(bad("Invalid input for field/attribute length."));
            }
            let log = [
                "[    0.000000] Linux version 6.1.0 (simulated)".to_string(),
                "[    0.000000] Command line: console=ttyS0".to_string(),
                "[    0.412000] Freeing unused kernel memory".to_string(),
                "Starting network...".to_string(),
                format!("cloud-init: instance-id {}", s.id),
                format!("cloud-init: hostname {}", s.hostname),
                "=== system information ===".to_string(),
                format!("Simulated console of {} ({})", s.name, s.id),
                String::new(),
                format!("{} login: ", s.hostname),
            ];
            let out = match length {
                None | Some(-1) => log.join("\n"),
                Some(0) => String::new(),
                Some(n) => log[log.len().saturating_sub(n as usize)..].join("\n"),
            };
            return Ok(axum::Json(json!({"output": out})).into_response());
        }
        "os-resetState" => {
            if !auth.is_admin {
                return Err(ApiError::nova(
                    403,
                    "Policy doesn't allow os_compute_api:os-admin-actions:reset_state to be performed.",
                ));
            }
            let (vm_state, status) = match arg.get("state").and_then(Value::as_str) {
                Some("active") => ("active", "ACTIVE"),
                Some("error") => ("error", "ERROR"),
                other => {
                    let v = other.unwrap_or("None");
                    return Err(bad(format!(
                        "Invalid input for field/attribute state. Value: {v}. '{v}' is not one of ['active', 'error']"
                    )));
                }
            };
            // Nova sets the vm_state and clears the task; nothing else changes.
            st.compute.touch(&id, t, |s| {
                s.vm_state = vm_state.into();
                s.status = status.into();
                s.task_state = None;
                s.pending = None;
            });
        }
        "injectNetworkInfo" => {
            if !auth.is_admin {
                return Err(ApiError::nova(
                    403,
                    "Policy doesn't allow os_compute_api:os-admin-actions:inject_network_info to be performed.",
                ));
            }
        }
        // No soft delete here: no server is ever SOFT_DELETED, so a restore always conflicts.
        "restore" => return Err(conflict("restore", &s)),
        other => return Err(bad(format!("There is no such action: {other}"))),
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

// ---- metadata ----

fn meta_response(st: &RegionState, id: &str, auth: &AuthContext) -> ApiResult<Response> {
    let s = st.compute.visible(id, auth)?;
    Ok(axum::Json(json!({"metadata": s.metadata})).into_response())
}

pub(crate) async fn meta_list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    meta_response(&ctx.read(), &id, &auth)
}

fn meta_change(
    ctx: &Ctx,
    auth: &AuthContext,
    id: &str,
    body: &Bytes,
    replace: bool,
) -> ApiResult<Response> {
    let v = body_json(Service::Compute, body)?;
    let m = string_map(v.get("metadata"), "metadata")?;
    if v.get("metadata").is_none() {
        return Err(bad("Malformed request body: metadata is required."));
    }
    let mut st = ctx.write();
    check_lock(st.compute.visible(id, auth)?)?;
    st.compute.touch(id, now(), |s| {
        if replace {
            s.metadata = m;
        } else {
            s.metadata.extend(m);
        }
    });
    meta_response(&st, id, auth)
}

pub(crate) async fn meta_merge(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    meta_change(&ctx, &auth, &id, &body, false)
}

pub(crate) async fn meta_replace(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    meta_change(&ctx, &auth, &id, &body, true)
}

pub(crate) async fn meta_get(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let s = st.compute.visible(&id, &auth)?;
    match s.metadata.get(&key) {
        Some(v) => Ok(axum::Json(json!({"meta": {key: v}})).into_response()),
        None => Err(ApiError::nova(404, "Metadata item was not found")),
    }
}

pub(crate) async fn meta_put(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = body_json(Service::Compute, &body)?;
    let m = string_map(v.get("meta"), "meta")?;
    if m.len() != 1 || !m.contains_key(&key) {
        return Err(bad("Request body and URI mismatch"));
    }
    let mut st = ctx.write();
    check_lock(st.compute.visible(&id, &auth)?)?;
    st.compute
        .touch(&id, now(), |s| s.metadata.extend(m.clone()));
    Ok(axum::Json(json!({"meta": m})).into_response())
}

pub(crate) async fn meta_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut st = ctx.write();
    let s = st.compute.visible(&id, &auth)?;
    check_lock(s)?;
    if !s.metadata.contains_key(&key) {
        return Err(ApiError::nova(404, "Metadata item was not found"));
    }
    st.compute.touch(&id, now(), |s| s.metadata.remove(&key));
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- tags (2.26+) ----

fn need_tags(mv: Mv) -> ApiResult<()> {
    if mv.ge(2, 26) {
        Ok(())
    } else {
        Err(ApiError::nova(404, "The resource could not be found."))
    }
}

pub(crate) async fn tags_list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    need_tags(mv)?;
    let st = ctx.read();
    Ok(axum::Json(json!({"tags": st.compute.visible(&id, &auth)?.tags})).into_response())
}

pub(crate) async fn tags_replace(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    need_tags(mv)?;
    let v = body_json(Service::Compute, &body)?;
    let tags: BTreeSet<String> = v
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("Invalid input for field/attribute tags."))?
        .iter()
        .map(|t| {
            t.as_str()
                .filter(|s| !s.is_empty() && s.len() <= 60 && !s.contains(['/', ',']))
                .map(str::to_string)
                .ok_or_else(|| bad("Invalid tag"))
        })
        .collect::<ApiResult<_>>()?;
    if tags.len() > 50 {
        return Err(bad("The number of tags exceeded the per-server limit 50"));
    }
    let mut st = ctx.write();
    st.compute.visible(&id, &auth)?;
    st.compute.touch(&id, now(), |s| s.tags = tags.clone());
    Ok(axum::Json(json!({"tags": tags})).into_response())
}

pub(crate) async fn tags_clear(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    need_tags(mv)?;
    let mut st = ctx.write();
    st.compute.visible(&id, &auth)?;
    st.compute.touch(&id, now(), |s| s.tags.clear());
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn tag_check(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    need_tags(mv)?;
    let st = ctx.read();
    if st.compute.visible(&id, &auth)?.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::nova(
            404,
            format!("Tag {tag} could not be found."),
        ))
    }
}

pub(crate) async fn tag_add(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    need_tags(mv)?;
    let mut st = ctx.write();
    let had = st.compute.visible(&id, &auth)?.tags.contains(&tag);
    if had {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if st.compute.visible(&id, &auth)?.tags.len() >= 50 {
        return Err(bad("The number of tags exceeded the per-server limit 50"));
    }
    st.compute.touch(&id, now(), |s| s.tags.insert(tag.clone()));
    let mut r = StatusCode::CREATED.into_response();
    if let Ok(h) = http::HeaderValue::from_str(&format!(
        "{}/compute/v2.1/servers/{id}/tags/{tag}",
        ctx.region.base_url
    )) {
        r.headers_mut().insert(http::header::LOCATION, h);
    }
    Ok(r)
}

pub(crate) async fn tag_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    need_tags(mv)?;
    let mut st = ctx.write();
    if !st.compute.visible(&id, &auth)?.tags.contains(&tag) {
        return Err(ApiError::nova(
            404,
            format!("Tag {tag} could not be found."),
        ));
    }
    st.compute.touch(&id, now(), |s| s.tags.remove(&tag));
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- volume attachments ----

fn attachment_json(s: &Server, v: &VolAttach, mv: Mv) -> Value {
    let mut o =
        json!({"id": v.volume_id, "serverId": s.id, "volumeId": v.volume_id, "device": v.device});
    if mv.ge(2, 70) {
        o["tag"] = json!(v.tag);
    }
    if mv.ge(2, 79) {
        o["delete_on_termination"] = json!(v.delete_on_termination);
    }
    if mv.ge(2, 89) {
        o["attachment_id"] = json!(v.attachment_id);
        o["bdm_uuid"] = json!(v.attachment_id);
        if let Some(m) = o.as_object_mut() {
            m.remove("id");
        }
    }
    o
}

pub(crate) async fn vol_list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let s = st.compute.visible(&id, &auth)?;
    let list: Vec<Value> = s
        .volumes
        .iter()
        .map(|v| attachment_json(s, v, mv))
        .collect();
    Ok(axum::Json(json!({"volumeAttachments": list})).into_response())
}

pub(crate) async fn vol_show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path((id, vol)): Path<(String, String)>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let s = st.compute.visible(&id, &auth)?;
    let v = s
        .volumes
        .iter()
        .find(|v| v.volume_id == vol)
        .ok_or_else(|| {
            ApiError::nova(
                404,
                format!("Volume {vol} is not attached to the server {id}."),
            )
        })?;
    Ok(axum::Json(json!({"volumeAttachment": attachment_json(s, v, mv)})).into_response())
}

pub(crate) async fn vol_attach(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = body_json(Service::Compute, &body)?;
    let a = v
        .get("volumeAttachment")
        .ok_or_else(|| bad("Invalid input for field/attribute volumeAttachment."))?;
    let vid = a
        .get("volumeId")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Invalid input for field/attribute volumeId."))?
        .to_string();
    let mut guard = ctx.write();
    let st = &mut *guard;
    let s = st.compute.visible(&id, &auth)?.clone();
    check_lock(&s)?;
    if !["active", "stopped", "paused"].contains(&s.vm_state.as_str()) || s.task_state.is_some() {
        return Err(conflict("attach_volume", &s));
    }
    if s.volumes.iter().any(|x| x.volume_id == vid) {
        return Err(ApiError::nova(
            409,
            format!("volume {vid} already attached"),
        ));
    }
    st.volume.check_attachable(&vid, &auth).map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            ApiError::nova(404, format!("Volume {vid} could not be found."))
        } else {
            nova_err(e)
        }
    })?;
    let device = a
        .get("device")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| next_device(&s.volumes));
    let t = now();
    let host = s.host.clone().unwrap_or_default();
    let att = st
        .volume
        .attach(&vid, &auth, &id, &host, &device, t)
        .map_err(nova_err)?;
    let va = VolAttach {
        attachment_id: att,
        volume_id: vid,
        device,
        delete_on_termination: a
            .get("delete_on_termination")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        tag: a.get("tag").and_then(Value::as_str).map(str::to_string),
    };
    let out = attachment_json(&s, &va, mv);
    st.compute.touch(&id, t, |s| s.volumes.push(va));
    Ok(axum::Json(json!({"volumeAttachment": out})).into_response())
}

pub(crate) async fn vol_detach(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, vol)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut guard = ctx.write();
    let st = &mut *guard;
    let s = st.compute.visible(&id, &auth)?.clone();
    check_lock(&s)?;
    let va = s
        .volumes
        .iter()
        .find(|v| v.volume_id == vol)
        .ok_or_else(|| {
            ApiError::nova(
                404,
                format!("Volume {vol} is not attached to the server {id}."),
            )
        })?;
    if va.device == "/dev/vda" && s.image_id.is_none() {
        return Err(bad("Can't detach root device volume"));
    }
    let t = now();
    st.volume.detach(&vol, &id, false, t);
    st.compute
        .touch(&id, t, |s| s.volumes.retain(|v| v.volume_id != vol));
    Ok(StatusCode::ACCEPTED.into_response())
}

pub(crate) async fn interfaces(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let s = st.compute.visible(&id, &auth)?;
    Ok(
        axum::Json(json!({"interfaceAttachments": st.network.interfaces(&s.port_ids)}))
            .into_response(),
    )
}

pub(crate) async fn ips(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let s = st.compute.visible(&id, &auth)?;
    // Nova's ips view: version and address only.
    let mut addresses = st.network.server_addresses(&s.port_ids);
    for ips in addresses.values_mut().filter_map(Value::as_array_mut) {
        for ip in ips.iter_mut().filter_map(Value::as_object_mut) {
            ip.retain(|k, _| k == "addr" || k == "version");
        }
    }
    Ok(axum::Json(json!({ "addresses": addresses })).into_response())
}

/// `GET /servers/{id}/ips/{network}`: one network's addresses (version and address only).
pub(crate) async fn ips_by_network(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, network)): Path<(String, String)>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let s = st.compute.visible(&id, &auth)?;
    let all = st.network.server_addresses(&s.port_ids);
    let ips: Vec<Value> = all
        .get(&network)
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::nova(404, "There is no such network"))?
        .iter()
        .map(|ip| json!({"version": ip["version"], "addr": ip["addr"]}))
        .collect();
    Ok(axum::Json(json!({ network: ips })).into_response())
}
