//! `os-services` and `os-hosts` over every pod. Services are the pods' own (read live, hosts
//! named `<host>@<region>`, ids Cascade's: integers before 2.53, UUIDs from it); an update is
//! done by the service's pod (the 2.53 `PUT /os-services/{id}`, or before it the `enable`,
//! `disable`, `disable-log-reason` and `force-down` actions). `os-hosts` (gone at 2.43) is
//! derived from the services as Nova derives it; a host's resources come from its hypervisor
//! and the top's servers on it. Host maintenance mode and power actions depend on the pods'
//! virt drivers, which Cascade cannot drive: they answer 501 as Nova does when the driver does
//! not implement them.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use bytes::Bytes;
use cascade_core::compute::{ComputeService, ServiceChange};
use cascade_model::microversion::Microversion;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::misc::{Params, admin, bad, ok};
use super::{ApiResult, SVC};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

#[derive(Serialize)]
struct ServiceView<'a> {
    id: Value,
    binary: &'a str,
    host: &'a str,
    zone: &'a str,
    status: &'a str,
    state: &'a str,
    updated_at: Option<&'a str>,
    disabled_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forced_down: Option<bool>,
}

fn service_view(s: &ComputeService, mv: Microversion) -> ServiceView<'_> {
    ServiceView {
        id: if mv.at_least(2, 53) {
            json!(s.id)
        } else {
            json!(s.int_id)
        },
        binary: &s.binary,
        host: &s.host,
        zone: &s.zone,
        status: &s.status,
        state: &s.state,
        updated_at: s.updated_at.as_deref(),
        disabled_reason: s.disabled_reason.as_deref(),
        forced_down: mv.at_least(2, 11).then_some(s.forced_down),
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Query(q): Params,
) -> ApiResult {
    admin(&ctx)?;
    if mv.at_least(2, 75)
        && let Some(k) = q.keys().find(|k| *k != "host" && *k != "binary")
    {
        return Err(bad(format!(
            "Invalid input for query parameters {k}. Value: {}. Additional properties are not allowed ('{k}' was unexpected)",
            q[k]
        )));
    }
    let all = state.compute.compute_services().await.or_api(SVC)?;
    let list: Vec<ServiceView<'_>> = all
        .iter()
        .filter(|s| q.get("host").is_none_or(|h| *h == s.host))
        .filter(|s| q.get("binary").is_none_or(|b| *b == s.binary))
        .map(|s| service_view(s, mv))
        .collect();
    ok(json!({ "services": list }))
}

/// A pre-2.53 action's body.
#[derive(Deserialize)]
struct ActionBody {
    host: Option<String>,
    binary: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    admin(&ctx)?;
    let doc: Value = body::json(SVC, &raw)?;
    if mv.at_least(2, 53) {
        if uuid::Uuid::parse_str(&id).is_err() {
            return Err(bad(format!("Invalid uuid {id}")));
        }
        let change: ServiceChange = serde_json::from_value(doc).map_err(|e| {
            bad(format!(
                "Invalid input for field/attribute service. Value: {e}. Additional properties are not allowed"
            ))
        })?;
        if let Some(s) = &change.status
            && s != "enabled"
            && s != "disabled"
        {
            return Err(bad(format!(
                "Invalid input for field/attribute status. Value: {s}. '{s}' is not one of ['enabled', 'disabled']"
            )));
        }
        if change.disabled_reason.is_some() && change.status.as_deref() != Some("disabled") {
            return Err(bad(
                "Specifying 'disabled_reason' with status 'enabled' is invalid.",
            ));
        }
        if change.status.is_none() && change.forced_down.is_none() {
            return Err(bad(
                "No updates were requested. Fields 'status' or 'forced_down' should be specified.",
            ));
        }
        let s = state
            .compute
            .update_service(&id, &change)
            .await
            .or_api(SVC)?;
        return ok(json!({"service": service_view(&s, mv)}));
    }
    if !matches!(
        id.as_str(),
        "enable" | "disable" | "disable-log-reason" | "force-down"
    ) || (id == "force-down" && !mv.at_least(2, 11))
    {
        return Err(ApiError::new(SVC, 404, "Unknown action"));
    }
    let b: ActionBody = serde_json::from_value(doc)
        .map_err(|e| bad(format!("Invalid input for field/attribute. {e}")))?;
    let (Some(host), Some(binary)) = (b.host, b.binary) else {
        return Err(bad(
            "Invalid input for field/attribute. 'host' and 'binary' are required properties",
        ));
    };
    let r = state
        .compute
        .service_action(&id, &host, &binary, &b.rest)
        .await
        .or_api(SVC)?;
    ok(json!({ "service": r }))
}

// ---- os-hosts ---------------------------------------------------------------------------------

fn hosts_gone(mv: Microversion) -> ApiResult<()> {
    if mv.at_least(2, 43) {
        Err(ApiError::new(SVC, 404, "The resource could not be found."))
    } else {
        Ok(())
    }
}

#[derive(Serialize, PartialEq)]
struct HostView<'a> {
    host_name: &'a str,
    service: &'a str,
    zone: &'a str,
}

pub(crate) async fn hosts(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Query(q): Params,
) -> ApiResult {
    admin(&ctx)?;
    hosts_gone(mv)?;
    let zone = q.get("zone").filter(|z| !z.is_empty());
    let all = state.compute.compute_services().await.or_api(SVC)?;
    let list: Vec<HostView<'_>> = all
        .iter()
        .filter(|s| zone.is_none_or(|z| *z == s.zone))
        .map(|s| HostView {
            host_name: &s.host,
            service: s.binary.strip_prefix("nova-").unwrap_or(&s.binary),
            zone: &s.zone,
        })
        .collect();
    ok(json!({ "hosts": list }))
}

fn host_not_found(host: &str) -> ApiError {
    ApiError::new(SVC, 404, format!("Compute host {host} could not be found."))
}

/// Whether `host` runs a compute service in some pod.
async fn compute_host_exists(state: &AppState, host: &str) -> ApiResult<bool> {
    let all = state.compute.compute_services().await.or_api(SVC)?;
    Ok(all
        .iter()
        .any(|s| s.host == host && s.binary == "nova-compute"))
}

#[derive(Serialize, Default, Clone, Copy)]
struct Resource {
    cpu: i64,
    memory_mb: i64,
    disk_gb: i64,
}

pub(crate) async fn show_host(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(host): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    hosts_gone(mv)?;
    let hyps: Vec<_> = state
        .compute
        .hypervisors()
        .await
        .or_api(SVC)?
        .into_iter()
        .filter(|h| h.service_host == host)
        .collect();
    if hyps.is_empty() {
        return Err(host_not_found(&host));
    }
    let (mut total, mut now, mut max) = (
        Resource::default(),
        Resource::default(),
        Resource::default(),
    );
    let mut per_project: BTreeMap<String, Resource> = BTreeMap::new();
    for h in &hyps {
        total.cpu += h.usage.vcpus;
        total.memory_mb += h.usage.memory_mb;
        total.disk_gb += h.usage.local_gb;
        now.cpu += h.usage.vcpus_used;
        now.memory_mb += h.usage.memory_mb_used;
        now.disk_gb += h.usage.local_gb_used;
        for s in &h.servers {
            for r in [
                &mut max,
                per_project.entry(s.project_id.clone()).or_default(),
            ] {
                r.cpu += s.vcpus;
                r.memory_mb += s.ram;
                r.disk_gb += s.disk;
            }
        }
    }
    let row = |project: &str, r: Resource| json!({"resource": {"host": host, "project": project, "cpu": r.cpu, "memory_mb": r.memory_mb, "disk_gb": r.disk_gb}});
    let mut out = vec![
        row("(total)", total),
        row("(used_now)", now),
        row("(used_max)", max),
    ];
    out.extend(per_project.iter().map(|(p, r)| row(p, *r)));
    ok(json!({ "host": out }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostUpdate {
    status: Option<String>,
    maintenance_mode: Option<String>,
}

fn enable_disable(field: &str, v: &str) -> ApiResult<bool> {
    match v.to_ascii_lowercase().as_str() {
        "enable" => Ok(true),
        "disable" => Ok(false),
        _ => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {v}. '{v}' is not one of ['enable', 'disable', 'Enable', 'Disable', 'ENABLE', 'DISABLE']"
        ))),
    }
}

pub(crate) async fn update_host(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(host): Path<String>,
    raw: Bytes,
) -> ApiResult {
    admin(&ctx)?;
    hosts_gone(mv)?;
    let doc: Value = body::json(SVC, &raw)?;
    let req: HostUpdate = serde_json::from_value(doc).map_err(|e| {
        bad(format!(
            "Invalid input for field/attribute. Additional properties are not allowed ({e})"
        ))
    })?;
    if req.status.is_none() && req.maintenance_mode.is_none() {
        return Err(bad(
            "Invalid input for field/attribute. None is not valid under any of the given schemas",
        ));
    }
    let enable = req
        .status
        .as_deref()
        .map(|s| enable_disable("status", s))
        .transpose()?;
    if let Some(m) = &req.maintenance_mode {
        enable_disable("maintenance_mode", m)?;
    }
    if !compute_host_exists(&state, &host).await? {
        return Err(host_not_found(&host));
    }
    if req.maintenance_mode.is_some() {
        return Err(ApiError::new(
            SVC,
            501,
            "Virt driver does not implement host maintenance mode.",
        ));
    }
    let action = if enable == Some(true) {
        "enable"
    } else {
        "disable"
    };
    let r = state
        .compute
        .service_action(action, &host, "nova-compute", &serde_json::Map::new())
        .await
        .or_api(SVC)?;
    ok(
        json!({"host": host, "status": if r.status.as_deref() == Some("disabled") { "disabled" } else { "enabled" }}),
    )
}

/// `GET /os-hosts/{host}/{startup|shutdown|reboot}`.
pub(crate) async fn power_action(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(host): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    hosts_gone(mv)?;
    if !compute_host_exists(&state, &host).await? {
        return Err(host_not_found(&host));
    }
    Err(ApiError::new(
        SVC,
        501,
        "Virt driver does not implement host power management.",
    ))
}
