//! Availability zones, limits, quota sets, server groups and simple tenant usage (computed from
//! the server index, i.e. over all pods), and the small helpers the compute handlers share.

use std::collections::{BTreeMap, HashMap};

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::compute::{NETWORK_QUOTAS, QuotaSet};
use cascade_core::identity::AuthContext;
use cascade_core::identity::Scope;
use cascade_model::microversion::Microversion;
use cascade_store::compute::{ServerFilter, ServerPage};
use http::StatusCode;
use serde_json::{Value, json};

use super::{ApiResult, SVC, scope, views};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

pub(crate) type Params = Query<HashMap<String, String>>;

pub(crate) fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(SVC, 400, message)
}

pub(crate) fn admin(ctx: &AuthContext) -> ApiResult<()> {
    ctx.require_admin().or_api(SVC)
}

pub(crate) fn ok(v: Value) -> ApiResult {
    Ok(axum::Json(v).into_response())
}

// ---- availability zones, limits, quotas ------------------------------------------------------

pub(crate) async fn availability_zones(
    State(state): State<AppState>,
    Auth(_ctx): Auth,
) -> ApiResult {
    let zones = state.compute.availability_zones().await.or_api(SVC)?;
    ok(
        json!({"availabilityZoneInfo": zones.into_iter().map(|(name, available)| json!({
        "zoneName": name, "zoneState": {"available": available}, "hosts": null,
    })).collect::<Vec<_>>()}),
    )
}

fn target_project(ctx: &AuthContext, project: &str) -> ApiResult<()> {
    if ctx.project_id() == Some(project) || ctx.is_admin() {
        Ok(())
    } else {
        Err(ApiError::new(
            SVC,
            403,
            "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.",
        ))
    }
}

/// Whether a quota exists at this microversion: nova-network's go at 2.36, personality
/// files at 2.57.
fn quota_shown(k: &str, mv: Microversion) -> bool {
    !(mv.at_least(2, 36) && NETWORK_QUOTAS.contains(&k)
        || mv.at_least(2, 57) && k.starts_with("injected_file"))
}

fn quota_view(project: &str, q: &QuotaSet, mv: Microversion) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(project));
    for (k, v) in q {
        if !quota_shown(k, mv) {
            continue;
        }
        out.insert(k.clone(), json!(v));
    }
    Value::Object(out)
}

pub(crate) async fn quotas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
) -> ApiResult {
    target_project(&ctx, &project)?;
    let q = state.compute.quotas(&project).await.or_api(SVC)?;
    ok(json!({"quota_set": quota_view(&project, &q, mv)}))
}

pub(crate) async fn quota_defaults(
    State(state): State<AppState>,
    Auth(_ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
) -> ApiResult {
    let defaults = state.compute.quota_class("default").await.or_api(SVC)?;
    ok(json!({"quota_set": quota_view(&project, &defaults, mv)}))
}

pub(crate) async fn quotas_detail(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
) -> ApiResult {
    target_project(&ctx, &project)?;
    let q = state.compute.quotas(&project).await.or_api(SVC)?;
    let (instances, cores, ram) = state.compute.usage(&project).await.or_api(SVC)?;
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(project));
    for (k, v) in &q {
        if !quota_shown(k, mv) {
            continue;
        }
        let used = match k.as_str() {
            "instances" => instances,
            "cores" => cores,
            "ram" => ram,
            _ => 0,
        };
        out.insert(
            k.clone(),
            json!({"limit": v, "in_use": used, "reserved": 0}),
        );
    }
    ok(json!({"quota_set": out}))
}

pub(crate) async fn update_quotas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    raw: Bytes,
) -> ApiResult {
    admin(&ctx)?;
    let doc = body::json(SVC, &raw)?;
    let m = doc["quota_set"]
        .as_object()
        .ok_or_else(|| bad("Invalid input for field/attribute quota_set."))?;
    let mut updates = QuotaSet::new();
    for (k, v) in m {
        if k == "force" {
            continue;
        }
        if !quota_shown(k, mv) {
            return Err(bad(format!(
                "Invalid input for field/attribute quota_set. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let n = v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| bad(format!("Invalid input for field/attribute {k}.")))?;
        updates.insert(k.clone(), n);
    }
    let q = state
        .compute
        .set_quotas(&project, &updates)
        .await
        .or_api(SVC)?;
    let mut v = quota_view(&project, &q, mv);
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
    }
    ok(json!({"quota_set": v}))
}

pub(crate) async fn limits(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
) -> ApiResult {
    let project = ctx
        .project_id()
        .ok_or_else(|| ApiError::new(SVC, 403, "A project-scoped token is required."))?;
    let q = state.compute.quotas(project).await.or_api(SVC)?;
    let (instances, cores, ram) = state.compute.usage(project).await.or_api(SVC)?;
    let groups = state
        .compute
        .list_server_groups(&Scope::Project(project.to_string()))
        .await
        .or_api(SVC)?
        .len();
    let g = |k: &str| q.get(k).copied().unwrap_or(-1);
    let mut absolute = json!({
        "maxServerMeta": g("metadata_items"), "maxTotalCores": g("cores"), "maxTotalInstances": g("instances"),
        "maxTotalKeypairs": g("key_pairs"), "maxTotalRAMSize": g("ram"), "maxServerGroups": g("server_groups"),
        "maxServerGroupMembers": g("server_group_members"), "totalCoresUsed": cores, "totalInstancesUsed": instances,
        "totalRAMUsed": ram, "totalServerGroupsUsed": groups,
    });
    if !mv.at_least(2, 36) {
        // nova-network's limits: Nova's own values, counted by nothing.
        absolute["maxSecurityGroups"] = json!(g("security_groups"));
        absolute["maxSecurityGroupRules"] = json!(g("security_group_rules"));
        absolute["maxTotalFloatingIps"] = json!(g("floating_ips"));
        absolute["totalFloatingIpsUsed"] = json!(0);
        absolute["totalSecurityGroupsUsed"] = json!(0);
    }
    if !mv.at_least(2, 39) {
        absolute["maxImageMeta"] = json!(128);
    }
    if !mv.at_least(2, 57) {
        absolute["maxPersonality"] = json!(g("injected_files"));
        absolute["maxPersonalitySize"] = json!(g("injected_file_content_bytes"));
    }
    ok(json!({"limits": {"rate": [], "absolute": absolute}}))
}

// ---- server groups -----------------------------------------------------------------------

pub(crate) async fn server_groups(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Query(q): Params,
) -> ApiResult {
    let all = ctx.is_admin()
        && q.get("all_projects")
            .is_some_and(|v| v != "0" && v != "false");
    let scope = ctx.list_scope(all).or_api(SVC)?;
    let mut out = Vec::new();
    for g in state.compute.list_server_groups(&scope).await.or_api(SVC)? {
        let members = state
            .compute
            .server_group_members(&g.id)
            .await
            .or_api(SVC)?;
        out.push(views::server_group(&g, &members, mv));
    }
    ok(json!({"server_groups": out}))
}

pub(crate) async fn create_server_group(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    raw: Bytes,
) -> ApiResult {
    let doc = body::json(SVC, &raw)?;
    let g = doc
        .get("server_group")
        .ok_or_else(|| bad("Invalid input for field/attribute server_group."))?;
    let name = g["name"]
        .as_str()
        .ok_or_else(|| bad("'name' is a required property"))?;
    let policy = if mv.at_least(2, 64) {
        g["policy"].as_str().map(str::to_string)
    } else {
        g["policies"]
            .as_array()
            .and_then(|p| p.first())
            .and_then(|p| p.as_str())
            .map(str::to_string)
    }
    .ok_or_else(|| bad("Invalid input for field/attribute server_group: a policy is required"))?;
    let actor = state.delegation.actor(&ctx).await.or_api(SVC)?;
    let row = state
        .compute
        .create_server_group(&actor, name, &policy, g["rules"].clone())
        .await
        .or_api(SVC)?;
    ok(json!({"server_group": views::server_group(&row, &[], mv)}))
}

pub(crate) async fn show_server_group(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    let g = state
        .compute
        .get_server_group(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let members = state.compute.server_group_members(&id).await.or_api(SVC)?;
    ok(json!({"server_group": views::server_group(&g, &members, mv)}))
}

pub(crate) async fn delete_server_group(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    state
        .compute
        .delete_server_group(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- simple tenant usage -----------------------------------------------------------------

fn period(q: &HashMap<String, String>) -> ApiResult<(i64, i64)> {
    let parse = |k: &str, default: i64| -> ApiResult<i64> {
        match q.get(k) {
            None => Ok(default),
            Some(v) => chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f")
                .map(|t| t.and_utc().timestamp_micros())
                .or_else(|_| chrono::DateTime::parse_from_rfc3339(v).map(|t| t.timestamp_micros()))
                .map_err(|_| {
                    bad(format!(
                        "Invalid input for field/attribute {k}. Value: {v}."
                    ))
                }),
        }
    };
    let now = cascade_store::now_micros();
    let end = parse("end", now)?;
    let start = parse("start", end - 86_400_000_000)?;
    if start > end {
        return Err(bad(
            "Invalid start time. The start time cannot occur after the end time.",
        ));
    }
    Ok((start, end))
}

async fn usage_for(
    state: &AppState,
    project: Option<&str>,
    start: i64,
    end: i64,
    detailed: bool,
) -> ApiResult<Vec<Value>> {
    let filter = ServerFilter {
        project_id: project.map(str::to_string),
        include_deleted: true,
        ..Default::default()
    };
    let mut after = None;
    let mut per: BTreeMap<String, (f64, f64, f64, f64, Vec<Value>)> = BTreeMap::new();
    loop {
        let page = ServerPage {
            sort_column: "created_at",
            descending: false,
            after: after.clone(),
            limit: 1000,
        };
        let rows = state
            .store
            .list_servers(&filter, &page)
            .await
            .map_err(|e| ApiError::from_core(SVC, e.into()))?;
        let done = rows.len() < 1000;
        for r in rows {
            after = Some(r.clone());
            let launched = r.launched_at.unwrap_or(r.created_at);
            let stopped = r.terminated_at.or(r.deleted_at).unwrap_or(end);
            let from = launched.max(start);
            let to = stopped.min(end);
            if to <= from {
                continue;
            }
            let hours = (to - from) as f64 / 3_600_000_000.0;
            let flavor: Value = serde_json::from_str(&r.flavor).unwrap_or(Value::Null);
            let disk = flavor["disk"].as_f64().unwrap_or(0.0)
                + flavor["ephemeral"].as_f64().unwrap_or(0.0);
            let e = per.entry(r.project_id.clone()).or_default();
            e.0 += hours;
            e.1 += hours * disk;
            e.2 += hours * r.ram as f64;
            e.3 += hours * r.vcpus as f64;
            if detailed {
                e.4.push(json!({
                    "instance_id": r.id, "name": r.name, "hours": hours, "memory_mb": r.ram, "local_gb": disk as i64,
                    "vcpus": r.vcpus, "tenant_id": r.project_id, "flavor": flavor["name"],
                    "started_at": cascade_store::from_micros(launched).format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
                    "ended_at": (r.deleted).then(|| cascade_store::from_micros(stopped).format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
                    "state": if r.deleted { "terminated".to_string() } else { r.vm_state.clone() },
                    "uptime": ((to - launched) / 1_000_000).max(0),
                }));
            }
        }
        if done {
            break;
        }
    }
    let fmt = |t: i64| {
        cascade_store::from_micros(t)
            .format("%Y-%m-%dT%H:%M:%S%.6f")
            .to_string()
    };
    Ok(per
        .into_iter()
        .map(|(tenant, (h, disk, ram, cpu, servers))| {
            let mut u = json!({
                "tenant_id": tenant, "total_hours": h, "total_local_gb_usage": disk, "total_memory_mb_usage": ram,
                "total_vcpus_usage": cpu, "start": fmt(start), "stop": fmt(end),
            });
            if detailed {
                u["server_usages"] = json!(servers);
            }
            u
        })
        .collect())
}

pub(crate) async fn usage_all(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Params,
) -> ApiResult {
    admin(&ctx)?;
    let (start, end) = period(&q)?;
    let detailed = q
        .get("detailed")
        .is_some_and(|d| d == "1" || d.eq_ignore_ascii_case("true"));
    let usages = usage_for(&state, None, start, end, detailed).await?;
    ok(json!({"tenant_usages": usages}))
}

pub(crate) async fn usage_one(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    Query(q): Params,
) -> ApiResult {
    target_project(&ctx, &project)?;
    let (start, end) = period(&q)?;
    let usages = usage_for(&state, Some(&project), start, end, true).await?;
    ok(json!({"tenant_usage": usages.into_iter().next().unwrap_or_else(|| json!({}))}))
}
