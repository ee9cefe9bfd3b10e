//! `os-hypervisors` over every pod: list, detail, show, uptime, search and servers (both only
//! before 2.53) and statistics (gone at 2.88), in Nova's per-microversion shapes: integer ids
//! (Cascade's mapping) before 2.53 and UUIDs from it, `cpu_info` a JSON string before 2.28 and
//! an object from it, `with_servers` and `hypervisor_hostname_pattern` from 2.53, an empty
//! `servers` list from 2.75, and the usage fields replaced by `uptime` at 2.88. The data is
//! read live from the pods by `cascade_core::compute` (a pod that does not answer is left out).

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use cascade_core::compute::{Hypervisor, HypervisorUsage};
use cascade_model::microversion::Microversion;
use serde::Serialize;
use serde_json::{Value, json};

use super::misc::{Params, admin, bad, ok};
use super::{ApiResult, SVC};
use crate::auth::Auth;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

#[derive(Serialize)]
struct ServerRef<'a> {
    uuid: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct ServiceRef<'a> {
    host: &'a str,
    id: Value,
    disabled_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Detail<'a> {
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    usage: Option<&'a HypervisorUsage>,
    hypervisor_type: &'a str,
    hypervisor_version: i64,
    host_ip: &'a str,
    cpu_info: Value,
    service: ServiceRef<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uptime: Option<String>,
}

#[derive(Serialize)]
struct View<'a> {
    id: Value,
    hypervisor_hostname: &'a str,
    state: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    servers: Option<Vec<ServerRef<'a>>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    detail: Option<Detail<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uptime: Option<String>,
}

fn id_of(h: &Hypervisor, mv: Microversion) -> Value {
    if mv.at_least(2, 53) {
        json!(h.id)
    } else {
        json!(h.int_id)
    }
}

fn servers_of(h: &Hypervisor, mv: Microversion, with: bool) -> Option<Vec<ServerRef<'_>>> {
    if !with || (h.servers.is_empty() && !mv.at_least(2, 75)) {
        return None;
    }
    Some(
        h.servers
            .iter()
            .map(|s| ServerRef {
                uuid: &s.id,
                name: &s.name,
            })
            .collect(),
    )
}

fn view(h: &Hypervisor, mv: Microversion, with_servers: bool) -> View<'_> {
    View {
        id: id_of(h, mv),
        hypervisor_hostname: &h.hostname,
        state: &h.state,
        status: &h.status,
        servers: servers_of(h, mv, with_servers),
        detail: None,
        uptime: None,
    }
}

async fn detail_view<'a>(
    state: &AppState,
    h: &'a Hypervisor,
    mv: Microversion,
    with_servers: bool,
) -> View<'a> {
    let uptime = if mv.at_least(2, 88) {
        // Nova shows `null` when the driver cannot tell; a pod that fails says as much.
        state.compute.hypervisor_uptime(h).await.ok()
    } else {
        None
    };
    let cpu_info = if mv.at_least(2, 28) {
        h.cpu_info.clone()
    } else {
        json!(h.cpu_info.to_string())
    };
    let mut v = view(h, mv, with_servers);
    v.detail = Some(Detail {
        usage: (!mv.at_least(2, 88)).then_some(&h.usage),
        hypervisor_type: &h.hypervisor_type,
        hypervisor_version: h.hypervisor_version,
        host_ip: &h.host_ip,
        cpu_info,
        service: ServiceRef {
            host: &h.service_host,
            id: if mv.at_least(2, 53) {
                json!(h.service_id)
            } else {
                json!(h.service_int_id)
            },
            disabled_reason: h.service_disabled_reason.as_deref(),
        },
        uptime: mv.at_least(2, 88).then(|| uptime.unwrap_or_default()),
    });
    v
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        SVC,
        404,
        format!("Hypervisor with ID '{id}' could not be found."),
    )
}

fn no_match(name: &str) -> ApiError {
    ApiError::new(
        SVC,
        404,
        format!("No hypervisor matching '{name}' could be found."),
    )
}

fn truthy(q: &HashMap<String, String>, key: &str) -> ApiResult<bool> {
    match q.get(key).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if ["1", "true", "yes", "on", "t", "y"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off", "f", "n"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(bad(format!(
            "Invalid input for query parameters {key}. Value: {v}. '{v}' is not a valid boolean"
        ))),
    }
}

/// The hypervisors a list shows: pattern (2.53), then marker and limit (2.33).
fn select(
    mut all: Vec<Hypervisor>,
    q: &HashMap<String, String>,
    mv: Microversion,
) -> ApiResult<Vec<Hypervisor>> {
    all.sort_by_key(|h| h.int_id);
    if mv.at_least(2, 53)
        && let Some(pat) = q.get("hypervisor_hostname_pattern")
    {
        if q.contains_key("limit") || q.contains_key("marker") {
            return Err(bad(
                "Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.",
            ));
        }
        all.retain(|h| h.hostname.contains(pat.as_str()));
        if all.is_empty() {
            return Err(no_match(pat));
        }
        return Ok(all);
    }
    if !mv.at_least(2, 33) {
        return Ok(all);
    }
    if let Some(m) = q.get("marker") {
        let Some(at) = all
            .iter()
            .position(|h| id_of(h, mv).to_string().trim_matches('"') == m)
        else {
            return Err(bad(format!("marker [{m}] not found")));
        };
        all.drain(..=at);
    }
    if let Some(l) = q.get("limit") {
        let n: usize = l.parse().map_err(|_| {
            bad(format!(
                "Invalid input for query parameters limit. Value: {l}. '{l}' is not a 'integer'"
            ))
        })?;
        all.truncate(n);
    }
    Ok(all)
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Query(q): Params,
) -> ApiResult {
    admin(&ctx)?;
    let with = mv.at_least(2, 53) && truthy(&q, "with_servers")?;
    let all = select(state.compute.hypervisors().await.or_api(SVC)?, &q, mv)?;
    let list: Vec<View<'_>> = all.iter().map(|h| view(h, mv, with)).collect();
    ok(json!({ "hypervisors": list }))
}

pub(crate) async fn detail(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Query(q): Params,
) -> ApiResult {
    admin(&ctx)?;
    let with = mv.at_least(2, 53) && truthy(&q, "with_servers")?;
    let all = select(state.compute.hypervisors().await.or_api(SVC)?, &q, mv)?;
    let mut list = Vec::with_capacity(all.len());
    for h in &all {
        list.push(detail_view(&state, h, mv, with).await);
    }
    ok(json!({ "hypervisors": list }))
}

/// The hypervisor a path names: its integer id before 2.53, its UUID from 2.53.
async fn find(state: &AppState, id: &str, mv: Microversion) -> ApiResult<Hypervisor> {
    if mv.at_least(2, 53) && uuid::Uuid::parse_str(id).is_err() {
        return Err(bad(format!("Invalid uuid {id}")));
    }
    let all = state.compute.hypervisors().await.or_api(SVC)?;
    all.into_iter()
        .find(|h| {
            if mv.at_least(2, 53) {
                h.id == id
            } else {
                id.parse::<i64>().ok() == Some(h.int_id)
            }
        })
        .ok_or_else(|| not_found(id))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult {
    admin(&ctx)?;
    let with = mv.at_least(2, 53) && truthy(&q, "with_servers")?;
    let h = find(&state, &id, mv).await?;
    let v = detail_view(&state, &h, mv, with).await;
    ok(json!({ "hypervisor": v }))
}

fn gone() -> ApiError {
    ApiError::new(SVC, 404, "The resource could not be found.")
}

pub(crate) async fn uptime(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    if mv.at_least(2, 88) {
        return Err(gone());
    }
    let h = find(&state, &id, mv).await?;
    let up = state.compute.hypervisor_uptime(&h).await.or_api(SVC)?;
    let mut v = view(&h, mv, false);
    v.uptime = Some(up);
    ok(json!({ "hypervisor": v }))
}

async fn by_name(state: &AppState, name: &str, mv: Microversion, servers: bool) -> ApiResult {
    if mv.at_least(2, 53) {
        return Err(gone());
    }
    let mut all = state.compute.hypervisors().await.or_api(SVC)?;
    all.retain(|h| h.hostname.contains(name));
    if all.is_empty() {
        return Err(no_match(name));
    }
    all.sort_by_key(|h| h.int_id);
    let list: Vec<View<'_>> = all.iter().map(|h| view(h, mv, servers)).collect();
    ok(json!({ "hypervisors": list }))
}

pub(crate) async fn search(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(name): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    by_name(&state, &name, mv, false).await
}

pub(crate) async fn servers(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(name): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    by_name(&state, &name, mv, true).await
}

#[derive(Serialize, Default)]
struct Statistics {
    count: i64,
    vcpus: i64,
    memory_mb: i64,
    local_gb: i64,
    vcpus_used: i64,
    memory_mb_used: i64,
    local_gb_used: i64,
    free_ram_mb: i64,
    free_disk_gb: i64,
    current_workload: i64,
    running_vms: i64,
    disk_available_least: i64,
}

pub(crate) async fn statistics(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
) -> ApiResult {
    admin(&ctx)?;
    if mv.at_least(2, 88) {
        return Err(gone());
    }
    let mut s = Statistics::default();
    for h in state.compute.hypervisors().await.or_api(SVC)? {
        let u = &h.usage;
        s.count += 1;
        s.vcpus += u.vcpus;
        s.memory_mb += u.memory_mb;
        s.local_gb += u.local_gb;
        s.vcpus_used += u.vcpus_used;
        s.memory_mb_used += u.memory_mb_used;
        s.local_gb_used += u.local_gb_used;
        s.free_ram_mb += u.free_ram_mb;
        s.free_disk_gb += u.free_disk_gb;
        s.current_workload += u.current_workload;
        s.running_vms += u.running_vms;
        s.disk_available_least += u.disk_available_least.unwrap_or(0);
    }
    ok(json!({ "hypervisor_statistics": s }))
}
