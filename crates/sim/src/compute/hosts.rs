//! A region's hosts as Nova's admin APIs show them: `os-hypervisors` (list, detail, show,
//! uptime, search, servers and statistics, with the microversion changes of 2.28 `cpu_info` as
//! an object, 2.33 paging, 2.53 UUID ids and `with_servers`, 2.75 an empty `servers` list, 2.88
//! the per-host usage fields gone) and `os-services` (list with `host`/`binary` filters, the
//! pre-2.53 `enable`/`disable`/`disable-log-reason`/`force-down` actions and the 2.53 update by
//! UUID). Only `nova-compute` services can be changed, as in Nova.
//!
//! Simplifications: one compute host (hypervisor) per region, `{region}-compute`, which holds
//! the region's whole capacity and every placed server; one controller host running the
//! scheduler and the conductor. Ids (integers and UUIDs) are derived from the region's name so
//! they are stable across restarts.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Mv;
use super::servers::body_json;
use crate::error::{ApiError, ApiResult, Service};
use crate::identity::Auth;
use crate::server::Ctx;
use crate::util::{Params, now, ts_z};

/// What an admin changed on a service (`os-services` updates), by binary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ServiceState {
    pub(crate) disabled: bool,
    pub(crate) disabled_reason: Option<String>,
    pub(crate) forced_down: bool,
}

/// A stable UUID made of the region's name and a label (a version-8 UUID of SHA-256 bytes).
fn derived_uuid(region: &str, label: &str) -> String {
    let d = Sha256::digest(format!("{region}/{label}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid().to_string()
}

fn deny(action: &str) -> ApiError {
    ApiError::nova(
        403,
        format!("Policy doesn't allow os_compute_api:{action} to be performed."),
    )
}

struct Svc {
    int_id: u64,
    binary: &'static str,
    host: String,
    zone: String,
}

fn services_of(ctx: &Ctx) -> Vec<Svc> {
    let r = &ctx.region;
    let controller = format!("{}-controller", r.name);
    vec![
        Svc {
            int_id: 1,
            binary: "nova-compute",
            host: format!("{}-compute", r.name),
            zone: r.spec.az.clone(),
        },
        Svc {
            int_id: 2,
            binary: "nova-scheduler",
            host: controller.clone(),
            zone: "internal".into(),
        },
        Svc {
            int_id: 3,
            binary: "nova-conductor",
            host: controller,
            zone: "internal".into(),
        },
    ]
}

fn service_uuid(ctx: &Ctx, s: &Svc) -> String {
    derived_uuid(&ctx.region.name, &format!("service/{}", s.binary))
}

fn service_view(ctx: &Ctx, s: &Svc, st: &ServiceState, mv: Mv) -> Value {
    let id = if mv.ge(2, 53) {
        json!(service_uuid(ctx, s))
    } else {
        json!(s.int_id)
    };
    let mut v = json!({
        "id": id, "binary": s.binary, "host": s.host, "zone": s.zone,
        "status": if st.disabled { "disabled" } else { "enabled" },
        "state": if st.forced_down { "down" } else { "up" },
        "updated_at": ts_z(&now()), "disabled_reason": st.disabled_reason,
    });
    if mv.ge(2, 11) {
        v["forced_down"] = json!(st.forced_down);
    }
    v
}

fn state_of(ctx: &Ctx, binary: &str) -> ServiceState {
    ctx.read()
        .compute
        .services
        .get(binary)
        .cloned()
        .unwrap_or_default()
}

pub(crate) async fn services(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(deny("os-services:list"));
    }
    let p = Params::parse(q.as_deref());
    let list: Vec<Value> = services_of(&ctx)
        .iter()
        .filter(|s| p.get("host").is_none_or(|h| h == s.host))
        .filter(|s| p.get("binary").is_none_or(|b| b == s.binary))
        .map(|s| service_view(&ctx, s, &state_of(&ctx, s.binary), mv))
        .collect();
    Ok(axum::Json(json!({ "services": list })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceUpdate {
    status: Option<String>,
    disabled_reason: Option<String>,
    forced_down: Option<bool>,
    host: Option<String>,
    binary: Option<String>,
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::nova(400, msg)
}

/// `PUT /os-services/{id}`: below 2.53 `id` is an action (`enable`, `disable`,
/// `disable-log-reason`, `force-down`) on the body's host and binary; from 2.53 it is the
/// service's UUID.
pub(crate) async fn service_update(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(deny("os-services:update"));
    }
    let raw = body_json(Service::Compute, &body)?;
    let req: ServiceUpdate = serde_json::from_value(raw)
        .map_err(|e| bad(format!("Invalid input for field/attribute. {e}")))?;
    let all = services_of(&ctx);
    if mv.ge(2, 53) {
        let Some(svc) = all.iter().find(|s| service_uuid(&ctx, s) == id) else {
            return Err(ApiError::nova(
                404,
                format!("Service {id} could not be found."),
            ));
        };
        if req.host.is_some() || req.binary.is_some() {
            return Err(bad(
                "Invalid input for field/attribute. Additional properties are not allowed",
            ));
        }
        if let Some(s) = &req.status
            && s != "enabled"
            && s != "disabled"
        {
            return Err(bad(format!(
                "Invalid input for field/attribute status. Value: {s}. '{s}' is not one of ['enabled', 'disabled']"
            )));
        }
        if req.disabled_reason.is_some() && req.status.as_deref() != Some("disabled") {
            return Err(bad(
                "Specifying 'disabled_reason' with status 'enabled' is invalid.",
            ));
        }
        if req.status.is_none() && req.forced_down.is_none() {
            return Err(bad(
                "No updates were requested. Fields 'status' or 'forced_down' should be specified.",
            ));
        }
        if svc.binary != "nova-compute" {
            return Err(bad(format!(
                "Updating a {} service is not supported. Only nova-compute services can be updated.",
                svc.binary
            )));
        }
        let st = {
            let mut g = ctx.write();
            let st = g.compute.services.entry(svc.binary.into()).or_default();
            if let Some(s) = &req.status {
                st.disabled = s == "disabled";
                st.disabled_reason = if st.disabled {
                    req.disabled_reason.clone()
                } else {
                    None
                };
            }
            if let Some(f) = req.forced_down {
                st.forced_down = f;
            }
            st.clone()
        };
        return Ok(
            axum::Json(json!({"service": service_view(&ctx, svc, &st, mv)})).into_response(),
        );
    }
    let (Some(host), Some(binary)) = (req.host.as_deref(), req.binary.as_deref()) else {
        return Err(bad(
            "Invalid input for field/attribute. 'host' and 'binary' are required properties",
        ));
    };
    let Some(svc) = all.iter().find(|s| s.host == host && s.binary == binary) else {
        return Err(ApiError::nova(
            404,
            format!("Compute host {host} could not be found."),
        ));
    };
    let action = id.as_str();
    if !matches!(
        action,
        "enable" | "disable" | "disable-log-reason" | "force-down"
    ) || (action == "force-down" && !mv.ge(2, 11))
    {
        return Err(ApiError::nova(404, "Unknown action"));
    }
    if action == "disable-log-reason" && req.disabled_reason.is_none() {
        return Err(bad("Missing disabled reason field"));
    }
    if action == "force-down" && req.forced_down.is_none() {
        return Err(bad("Missing forced_down field"));
    }
    let st = {
        let mut g = ctx.write();
        let st = g.compute.services.entry(svc.binary.into()).or_default();
        match action {
            "enable" => {
                st.disabled = false;
                st.disabled_reason = None;
            }
            "disable" => st.disabled = true,
            "disable-log-reason" => {
                st.disabled = true;
                st.disabled_reason = req.disabled_reason.clone();
            }
            _ => st.forced_down = req.forced_down.unwrap_or(false),
        }
        st.clone()
    };
    let status = if st.disabled { "disabled" } else { "enabled" };
    let body = match action {
        "disable-log-reason" => {
            json!({"host": host, "binary": binary, "status": status, "disabled_reason": st.disabled_reason})
        }
        "force-down" => json!({"host": host, "binary": binary, "forced_down": st.forced_down}),
        _ => json!({"host": host, "binary": binary, "status": status}),
    };
    Ok(axum::Json(json!({ "service": body })).into_response())
}

// ---- hypervisors ------------------------------------------------------------------------------

/// The one compute host: its ids, usage and servers.
struct Hyper {
    uuid: String,
    hostname: String,
    servers: Vec<(String, String)>,
    detail: Value,
    disabled: bool,
    down: bool,
}

fn the_hypervisor(ctx: &Ctx, mv: Mv) -> Hyper {
    let r = &ctx.region;
    let hostname = format!("{}-compute", r.name);
    let svc = &services_of(ctx)[0];
    let sst = state_of(ctx, svc.binary);
    let st = ctx.read();
    let cap = r.spec.capacity;
    let u = st.compute.used;
    let mut servers: Vec<(String, String, crate::util::Ts)> = st
        .compute
        .servers
        .values()
        .filter(|s| !s.deleted && s.host.as_deref() == Some(hostname.as_str()))
        .map(|s| (s.id.clone(), s.name.clone(), s.created_at))
        .collect();
    drop(st);
    servers.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    let cpu = json!({"arch": "x86_64", "model": "Nehalem", "vendor": "Intel",
        "topology": {"cores": 1, "threads": 1, "sockets": cap.vcpus}, "features": []});
    let service_id = if mv.ge(2, 53) {
        json!(service_uuid(ctx, svc))
    } else {
        json!(svc.int_id)
    };
    let mut d = json!({
        "hypervisor_type": "QEMU", "hypervisor_version": 8_002_000,
        "host_ip": r.addr.ip().to_string(),
        "service": {"host": hostname, "id": service_id, "disabled_reason": sst.disabled_reason},
        "cpu_info": if mv.ge(2, 28) { cpu } else { json!(cpu.to_string()) },
    });
    if mv.ge(2, 88) {
        d["uptime"] = json!(uptime());
    } else {
        let free = |c: u64, used: u64| c as i64 - used as i64;
        let usage = json!({
            "vcpus": cap.vcpus, "memory_mb": cap.ram_mb, "local_gb": cap.disk_gb,
            "vcpus_used": u.vcpus, "memory_mb_used": u.ram, "local_gb_used": u.disk,
            "free_ram_mb": free(cap.ram_mb, u.ram), "free_disk_gb": free(cap.disk_gb, u.disk),
            "current_workload": 0, "running_vms": u.instances,
            "disk_available_least": free(cap.disk_gb, u.disk),
        });
        if let (Some(d), Some(u)) = (d.as_object_mut(), usage.as_object()) {
            d.extend(u.clone());
        }
    }
    Hyper {
        uuid: derived_uuid(&r.name, "hypervisor"),
        hostname,
        servers: servers
            .into_iter()
            .map(|(id, name, _)| (id, name))
            .collect(),
        detail: d,
        disabled: sst.disabled,
        down: sst.forced_down,
    }
}

/// `uptime`'s first line, as libvirt's driver reports it.
fn uptime() -> String {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let up = START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs();
    let t = now();
    format!(
        " {} up {} days, {:>2}:{:02},  1 user,  load average: 0.00, 0.00, 0.00",
        t.format("%H:%M:%S"),
        up / 86_400,
        (up % 86_400) / 3600,
        (up % 3600) / 60
    )
}

fn summary(h: &Hyper, mv: Mv, servers: bool, detail: bool) -> Value {
    let id = if mv.ge(2, 53) {
        json!(h.uuid)
    } else {
        json!(1)
    };
    let mut v = json!({
        "id": id, "hypervisor_hostname": h.hostname,
        "state": if h.down { "down" } else { "up" },
        "status": if h.disabled { "disabled" } else { "enabled" },
    });
    if detail && let (Some(o), Some(d)) = (v.as_object_mut(), h.detail.as_object()) {
        o.extend(d.clone());
    }
    if servers {
        if !h.servers.is_empty() {
            v["servers"] = h
                .servers
                .iter()
                .map(|(id, name)| json!({"uuid": id, "name": name}))
                .collect();
        } else if mv.ge(2, 75) {
            v["servers"] = json!([]);
        }
    }
    v
}

/// Query parameters of a list from 2.53 (`with_servers`, `hypervisor_hostname_pattern`) and
/// 2.33 (`limit`, `marker`); unknown ones are refused from 2.53 as Nova's schema does.
fn list_filter(p: &Params, mv: Mv, h: &Hyper) -> ApiResult<(bool, bool)> {
    if !mv.ge(2, 53) {
        return Ok((false, true));
    }
    let with_servers = match p.get("with_servers") {
        None => false,
        Some(v) => crate::util::truthy(v).ok_or_else(|| {
            bad(format!(
                "Invalid input for query parameters with_servers. Value: {v}. '{v}' is not a valid boolean"
            ))
        })?,
    };
    let matches = match p.get("hypervisor_hostname_pattern") {
        None => true,
        Some(pat) => h.hostname.contains(pat),
    };
    if let Some(m) = p.get("marker")
        && m == h.uuid
    {
        return Ok((with_servers, false));
    }
    Ok((with_servers, matches))
}

async fn list_common(ctx: Ctx, mv: Mv, q: Option<String>, detail: bool) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let h = the_hypervisor(&ctx, mv);
    let (with_servers, keep) = list_filter(&p, mv, &h)?;
    if mv.ge(2, 53) && p.has("hypervisor_hostname_pattern") && !keep && p.get("marker").is_none() {
        let pat = p.get("hypervisor_hostname_pattern").unwrap_or_default();
        return Err(ApiError::nova(
            404,
            format!("No hypervisor matching '{pat}' could be found."),
        ));
    }
    let limit_zero = p.get("limit") == Some("0");
    let list: Vec<Value> = if keep && !limit_zero {
        vec![summary(&h, mv, with_servers, detail)]
    } else {
        vec![]
    };
    Ok(axum::Json(json!({ "hypervisors": list })).into_response())
}

pub(crate) async fn hypervisors(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(deny("os-hypervisors:list"));
    }
    list_common(ctx, mv, q, false).await
}

pub(crate) async fn hypervisors_detail(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(deny("os-hypervisors:list-detail"));
    }
    list_common(ctx, mv, q, true).await
}

/// Finds the hypervisor by the id a client gave: an integer below 2.53, a UUID from 2.53.
fn by_id(ctx: &Ctx, mv: Mv, id: &str) -> ApiResult<Hyper> {
    let h = the_hypervisor(ctx, mv);
    let found = if mv.ge(2, 53) {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(bad(format!("Invalid uuid {id}")));
        }
        id == h.uuid
    } else {
        id == "1"
    };
    if found {
        Ok(h)
    } else {
        Err(ApiError::nova(
            404,
            format!("Hypervisor with ID '{id}' could not be found."),
        ))
    }
}

pub(crate) async fn hypervisor_show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(deny("os-hypervisors:show"));
    }
    let p = Params::parse(q.as_deref());
    let h = by_id(&ctx, mv, &id)?;
    let with_servers =
        mv.ge(2, 53) && p.get("with_servers").and_then(crate::util::truthy) == Some(true);
    Ok(axum::Json(json!({"hypervisor": summary(&h, mv, with_servers, true)})).into_response())
}

pub(crate) async fn hypervisor_uptime(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if mv.ge(2, 88) {
        return Err(ApiError::nova(404, "The resource could not be found."));
    }
    if !auth.is_admin {
        return Err(deny("os-hypervisors:uptime"));
    }
    let h = by_id(&ctx, mv, &id)?;
    let mut v = summary(&h, mv, false, false);
    v["uptime"] = json!(uptime());
    Ok(axum::Json(json!({ "hypervisor": v })).into_response())
}

/// `search` and `servers` (before 2.53): hypervisors whose hostname contains the given text.
async fn by_name(ctx: &Ctx, mv: Mv, name: &str, servers: bool) -> ApiResult<Response> {
    if mv.ge(2, 53) {
        return Err(ApiError::nova(404, "The resource could not be found."));
    }
    let h = the_hypervisor(ctx, mv);
    if !h.hostname.contains(name) {
        return Err(ApiError::nova(
            404,
            format!("No hypervisor matching '{name}' could be found."),
        ));
    }
    Ok(axum::Json(json!({"hypervisors": [summary(&h, mv, servers, false)]})).into_response())
}

pub(crate) async fn hypervisor_search(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(deny("os-hypervisors:search"));
    }
    by_name(&ctx, mv, &name, false).await
}

pub(crate) async fn hypervisor_servers(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(deny("os-hypervisors:servers"));
    }
    by_name(&ctx, mv, &name, true).await
}

pub(crate) async fn hypervisor_stats(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
) -> ApiResult<Response> {
    if mv.ge(2, 88) {
        return Err(ApiError::nova(404, "The resource could not be found."));
    }
    if !auth.is_admin {
        return Err(deny("os-hypervisors:statistics"));
    }
    let st = ctx.read();
    let cap = ctx.region.spec.capacity;
    let u = st.compute.used;
    let exhausted = ctx.region.capacity_exhausted();
    let free = |c: u64, used: u64| if exhausted { 0 } else { c.saturating_sub(used) };
    Ok(axum::Json(json!({"hypervisor_statistics": {
        "count": 1, "vcpus": cap.vcpus, "memory_mb": cap.ram_mb, "local_gb": cap.disk_gb,
        "vcpus_used": if exhausted { cap.vcpus } else { u.vcpus }, "memory_mb_used": if exhausted { cap.ram_mb } else { u.ram },
        "local_gb_used": if exhausted { cap.disk_gb } else { u.disk },
        "free_ram_mb": free(cap.ram_mb, u.ram), "free_disk_gb": free(cap.disk_gb, u.disk),
        "current_workload": 0, "running_vms": u.instances, "disk_available_least": free(cap.disk_gb, u.disk)
    }})).into_response())
}
