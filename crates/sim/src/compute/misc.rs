//! The smaller Nova resources: keypairs (per user), server groups, availability zones,
//! `limits`, quota sets, `os-simple-tenant-usage` (hypervisors and services are in `hosts.rs`).
//!
//! Simplifications: generated keypairs carry a random, syntactically plausible but unusable
//! key; quotas default to unlimited (-1) so that large simulations are not throttled, but are
//! enforced (403, Nova's message) once an admin sets them.

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Mv;
use super::flavors::Flavor;
use super::servers::{ComputeState, body_json};
use crate::error::{ApiError, ApiResult, Service};
use crate::identity::Auth;
use crate::server::Ctx;
use crate::util::{Params, Ts, now, ts_z};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Keypair {
    pub(crate) name: String,
    pub(crate) user_id: String,
    pub(crate) public_key: String,
    pub(crate) fingerprint: String,
    pub(crate) key_type: String,
    pub(crate) created_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServerGroup {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) policy: String,
    pub(crate) rules: Value,
    pub(crate) members: Vec<String>,
    pub(crate) project_id: String,
    pub(crate) user_id: String,
}

const QUOTA_KEYS: &[&str] = &[
    "instances",
    "cores",
    "ram",
    "key_pairs",
    "metadata_items",
    "server_groups",
    "server_group_members",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
];

fn quota_of(c: &ComputeState, project: &str, key: &str) -> i64 {
    c.quotas
        .get(project)
        .and_then(|q| q.get(key))
        .copied()
        .unwrap_or(match key {
            "metadata_items" => 128,
            "key_pairs" => 100,
            _ => -1,
        })
}

fn project_usage(c: &ComputeState, project: &str) -> (u64, u64, u64) {
    c.servers
        .values()
        .filter(|s| !s.deleted && s.project_id == project)
        .fold((0, 0, 0), |(i, v, r), s| {
            (i + 1, v + s.flavor.vcpus, r + s.flavor.ram)
        })
}

/// Nova's quota check for `count` new servers of `flavor`.
pub(crate) fn check_quota(
    c: &ComputeState,
    project: &str,
    flavor: &Flavor,
    count: u64,
) -> Result<(), String> {
    let limits = [
        ("instances", count, 0usize),
        ("cores", flavor.vcpus * count, 1),
        ("ram", flavor.ram * count, 2),
    ];
    if limits.iter().all(|(k, _, _)| quota_of(c, project, k) < 0) {
        return Ok(());
    }
    let used = project_usage(c, project);
    let used = [used.0, used.1, used.2];
    for (k, want, i) in limits {
        let q = quota_of(c, project, k);
        if q >= 0 && used[i] + want > q as u64 {
            return Err(format!(
                "Quota exceeded for {k}: Requested {want}, but already used {} of {q} {k}",
                used[i]
            ));
        }
    }
    Ok(())
}

fn fingerprint(public_key: &str) -> Option<String> {
    let b64 = public_key.split_whitespace().nth(1)?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    use md5::Digest;
    let d = md5::Md5::digest(&raw);
    Some(
        d.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

fn keypair_json(k: &Keypair, mv: Mv, full: bool) -> Value {
    let mut o = json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
    if mv.ge(2, 2) {
        o["type"] = json!(k.key_type);
    }
    if full {
        o["user_id"] = json!(k.user_id);
        o["created_at"] = json!(k.created_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
        o["deleted"] = json!(false);
        o["deleted_at"] = Value::Null;
        o["updated_at"] = Value::Null;
        o["id"] = json!(1);
    }
    o
}

fn key_user(auth: &crate::identity::AuthContext, p: &Params) -> String {
    match p.get("user_id") {
        Some(u) if auth.is_admin => u.to_string(),
        _ => auth.user_id.clone(),
    }
}

pub(crate) async fn keypairs_list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let user = key_user(&auth, &p);
    let st = ctx.read();
    let list: Vec<Value> = st
        .compute
        .keypairs
        .iter()
        .filter(|k| k.user_id == user)
        .map(|k| json!({"keypair": keypair_json(k, mv, false)}))
        .collect();
    Ok(axum::Json(json!({"keypairs": list})).into_response())
}

pub(crate) async fn keypair_show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let user = key_user(&auth, &Params::parse(q.as_deref()));
    let st = ctx.read();
    let k = st
        .compute
        .keypairs
        .iter()
        .find(|k| k.user_id == user && k.name == name)
        .ok_or_else(|| ApiError::nova(404, format!("Keypair {name} not found for user {user}")))?;
    Ok(axum::Json(json!({"keypair": keypair_json(k, mv, true)})).into_response())
}

pub(crate) async fn keypair_create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = body_json(Service::Compute, &body)?;
    let k = v
        .get("keypair")
        .ok_or_else(|| ApiError::nova(400, "Invalid input for field/attribute keypair."))?;
    let name = k
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| {
            !n.is_empty()
                && n.len() <= 255
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_ .@".contains(c))
        })
        .ok_or_else(|| {
            ApiError::nova(
                400,
                "Keypair data is invalid: Keypair name contains unsafe characters",
            )
        })?
        .to_string();
    let user = match k.get("user_id").and_then(Value::as_str) {
        Some(u) if auth.is_admin && mv.ge(2, 10) => u.to_string(),
        _ => auth.user_id.clone(),
    };
    let key_type = k
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ssh")
        .to_string();
    let (public_key, private) = match k.get("public_key").and_then(Value::as_str) {
        Some(pk) => (pk.trim().to_string(), None),
        None if mv.ge(2, 92) => {
            return Err(ApiError::nova(
                400,
                "Invalid input for field/attribute keypair. 'public_key' is a required property",
            ));
        }
        None => {
            let mut raw = b"\x00\x00\x00\x07ssh-rsa".to_vec();
            for _ in 0..32 {
                raw.extend(crate::util::rand_u64().to_be_bytes());
            }
            let b = base64::engine::general_purpose::STANDARD.encode(&raw);
            (
                format!("ssh-rsa {b} Generated-by-Nova"),
                Some(format!(
                    "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
                    &b[..64]
                )),
            )
        }
    };
    let fp = fingerprint(&public_key).ok_or_else(|| {
        ApiError::nova(
            400,
            "Keypair data is invalid: failed to generate fingerprint",
        )
    })?;
    let mut st = ctx.write();
    if st
        .compute
        .keypairs
        .iter()
        .any(|x| x.user_id == user && x.name == name)
    {
        return Err(ApiError::nova(
            409,
            format!("Key pair '{name}' already exists."),
        ));
    }
    let kp = Keypair {
        name,
        user_id: user,
        public_key,
        fingerprint: fp,
        key_type,
        created_at: now(),
    };
    let mut out = keypair_json(&kp, mv, false);
    out["user_id"] = json!(kp.user_id);
    if let Some(p) = private {
        out["private_key"] = json!(p);
    }
    st.compute.keypairs.push(kp);
    let status = if mv.ge(2, 2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(json!({"keypair": out}))).into_response())
}

pub(crate) async fn keypair_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let user = key_user(&auth, &Params::parse(q.as_deref()));
    let mut st = ctx.write();
    let before = st.compute.keypairs.len();
    st.compute
        .keypairs
        .retain(|k| !(k.user_id == user && k.name == name));
    if st.compute.keypairs.len() == before {
        return Err(ApiError::nova(
            404,
            format!("Keypair {name} not found for user {user}"),
        ));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

fn group_json(g: &ServerGroup, mv: Mv) -> Value {
    let mut o = json!({"id": g.id, "name": g.name, "members": g.members, "metadata": {}});
    if mv.ge(2, 64) {
        o["policy"] = json!(g.policy);
        o["rules"] = g.rules.clone();
        if let Some(m) = o.as_object_mut() {
            m.remove("metadata");
        }
    } else {
        o["policies"] = json!([g.policy]);
    }
    if mv.ge(2, 13) {
        o["project_id"] = json!(g.project_id);
        o["user_id"] = json!(g.user_id);
    }
    o
}

pub(crate) async fn groups_list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let all = auth.is_admin
        && p.get("all_projects")
            .is_some_and(|v| crate::util::truthy(v).unwrap_or(true));
    let st = ctx.read();
    let list: Vec<Value> = st
        .compute
        .groups
        .values()
        .filter(|g| all || g.project_id == auth.project_id)
        .map(|g| group_json(g, mv))
        .collect();
    Ok(axum::Json(json!({"server_groups": list})).into_response())
}

pub(crate) async fn group_show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let g = st
        .compute
        .groups
        .get(&id)
        .filter(|g| auth.is_admin || g.project_id == auth.project_id)
        .ok_or_else(|| ApiError::nova(404, format!("Instance group {id} could not be found.")))?;
    Ok(axum::Json(json!({"server_group": group_json(g, mv)})).into_response())
}

pub(crate) async fn group_create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = body_json(Service::Compute, &body)?;
    let g = v
        .get("server_group")
        .ok_or_else(|| ApiError::nova(400, "Invalid input for field/attribute server_group."))?;
    let name = g
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::nova(400, "Invalid input for field/attribute name."))?;
    let policy = if mv.ge(2, 64) {
        g.get("policy").and_then(Value::as_str).map(str::to_string)
    } else {
        g.pointer("/policies/0")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let policy = policy
        .filter(|p| {
            [
                "affinity",
                "anti-affinity",
                "soft-affinity",
                "soft-anti-affinity",
            ]
            .contains(&p.as_str())
        })
        .ok_or_else(|| ApiError::nova(400, "Invalid input for field/attribute policy."))?;
    let sg = ServerGroup {
        id: crate::util::new_id(),
        name: name.into(),
        policy,
        rules: g.get("rules").cloned().unwrap_or(json!({})),
        members: vec![],
        project_id: auth.project_id.clone(),
        user_id: auth.user_id.clone(),
    };
    let out = group_json(&sg, mv);
    ctx.write().compute.groups.insert(sg.id.clone(), sg);
    Ok(axum::Json(json!({"server_group": out})).into_response())
}

pub(crate) async fn group_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut st = ctx.write();
    match st.compute.groups.get(&id) {
        Some(g) if auth.is_admin || g.project_id == auth.project_id => {
            st.compute.groups.remove(&id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(ApiError::nova(
            404,
            format!("Instance group {id} could not be found."),
        )),
    }
}

pub(crate) async fn az_list(State(ctx): State<Ctx>) -> Response {
    axum::Json(json!({"availabilityZoneInfo": [{"zoneName": ctx.region.spec.az, "zoneState": {"available": true}, "hosts": null}]})).into_response()
}

pub(crate) async fn az_detail(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(ApiError::nova(
            403,
            "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed.",
        ));
    }
    let host = format!("{}-compute", ctx.region.name);
    let svc = json!({"available": true, "active": true, "updated_at": ts_z(&now())});
    Ok(axum::Json(json!({"availabilityZoneInfo": [
        {"zoneName": ctx.region.spec.az, "zoneState": {"available": true}, "hosts": {host: {"nova-compute": svc}}},
        {"zoneName": "internal", "zoneState": {"available": true}, "hosts": {format!("{}-controller", ctx.region.name): {"nova-conductor": svc, "nova-scheduler": svc}}}
    ]})).into_response())
}

pub(crate) async fn limits(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let project = match p.get("tenant_id") {
        Some(t) if auth.is_admin => t.to_string(),
        _ => auth.project_id.clone(),
    };
    let st = ctx.read();
    let c = &st.compute;
    let (inst, cores, ram) = project_usage(c, &project);
    let groups = c
        .groups
        .values()
        .filter(|g| g.project_id == project)
        .count();
    let mut abs = json!({
        "maxTotalCores": quota_of(c, &project, "cores"), "maxTotalInstances": quota_of(c, &project, "instances"),
        "maxTotalRAMSize": quota_of(c, &project, "ram"), "maxTotalKeypairs": quota_of(c, &project, "key_pairs"),
        "maxServerMeta": quota_of(c, &project, "metadata_items"), "maxServerGroups": quota_of(c, &project, "server_groups"),
        "maxServerGroupMembers": quota_of(c, &project, "server_group_members"),
        "totalCoresUsed": cores, "totalInstancesUsed": inst, "totalRAMUsed": ram, "totalServerGroupsUsed": groups
    });
    if !mv.ge(2, 57) {
        abs["maxPersonality"] = json!(5);
        abs["maxPersonalitySize"] = json!(10240);
        abs["maxImageMeta"] = json!(128);
    }
    Ok(axum::Json(json!({"limits": {"rate": [], "absolute": abs}})).into_response())
}

fn quota_json(c: &ComputeState, project: &str) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("id".into(), json!(project));
    for k in QUOTA_KEYS {
        m.insert((*k).into(), json!(quota_of(c, project, k)));
    }
    Value::Object(m)
}

pub(crate) async fn quota_show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    if !auth.is_admin && project != auth.project_id {
        return Err(ApiError::nova(
            403,
            "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.",
        ));
    }
    let st = ctx.read();
    Ok(axum::Json(json!({"quota_set": quota_json(&st.compute, &project)})).into_response())
}

pub(crate) async fn quota_defaults(
    State(ctx): State<Ctx>,
    Extension(_auth): Auth,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    let empty = ComputeState::default();
    let _ = ctx;
    Ok(axum::Json(json!({"quota_set": quota_json(&empty, &project)})).into_response())
}

pub(crate) async fn quota_update(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(project): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(ApiError::nova(
            403,
            "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.",
        ));
    }
    let v = body_json(Service::Compute, &body)?;
    let qs = v
        .get("quota_set")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::nova(400, "Invalid input for field/attribute quota_set."))?;
    let mut st = ctx.write();
    let entry: &mut BTreeMap<String, i64> = st.compute.quotas.entry(project.clone()).or_default();
    for (k, val) in qs {
        if k == "force" {
            continue;
        }
        if !QUOTA_KEYS.contains(&k.as_str()) {
            return Err(ApiError::nova(
                400,
                format!(
                    "Invalid input for field/attribute quota_set. Additional properties are not allowed ('{k}' was unexpected)"
                ),
            ));
        }
        let n = val
            .as_i64()
            .or_else(|| val.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n >= -1)
            .ok_or_else(|| {
                ApiError::nova(400, format!("Invalid input for field/attribute {k}."))
            })?;
        entry.insert(k.clone(), n);
    }
    let mut out = quota_json(&st.compute, &project);
    if let Some(m) = out.as_object_mut() {
        m.remove("id");
    }
    Ok(axum::Json(json!({"quota_set": out})).into_response())
}

fn usage(ctx: &Ctx, project: Option<&str>, q: Option<String>) -> ApiResult<Vec<Value>> {
    let p = Params::parse(q.as_deref());
    let t = now();
    let start = p
        .get("start")
        .and_then(crate::util::parse_ts)
        .unwrap_or(t - chrono::Duration::days(30));
    let end = p
        .get("end")
        .and_then(crate::util::parse_ts)
        .unwrap_or(t)
        .min(t);
    if start > end {
        return Err(ApiError::nova(
            400,
            "Invalid start time. The start time cannot occur after the end time.",
        ));
    }
    let st = ctx.read();
    let mut per: BTreeMap<String, (f64, f64, f64, f64, Vec<Value>)> = BTreeMap::new();
    for s in st.compute.servers.values() {
        if project.is_some_and(|pr| pr != s.project_id) {
            continue;
        }
        let Some(launched) = s.launched_at else {
            continue;
        };
        let stop = s.terminated_at.unwrap_or(end).min(end);
        let from = launched.max(start);
        if stop <= from {
            continue;
        }
        let hours = (stop - from).num_milliseconds() as f64 / 3_600_000.0;
        let e = per.entry(s.project_id.clone()).or_default();
        e.0 += hours;
        e.1 += hours * s.flavor.vcpus as f64;
        e.2 += hours * s.flavor.ram as f64;
        e.3 += hours * s.flavor.disk as f64;
        e.4.push(json!({"instance_id": s.id, "name": s.name, "hours": hours, "vcpus": s.flavor.vcpus, "memory_mb": s.flavor.ram,
            "local_gb": s.flavor.disk, "flavor": s.flavor.name, "tenant_id": s.project_id, "state": s.vm_state,
            "started_at": launched.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            "ended_at": s.terminated_at.map(|x| x.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()), "uptime": (stop - launched).num_seconds()}));
    }
    let fmt = |x: Ts| x.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    Ok(per
        .into_iter()
        .map(|(pid, (h, v, r, d, list))| json!({"tenant_id": pid, "total_hours": h, "total_vcpus_usage": v, "total_memory_mb_usage": r,
            "total_local_gb_usage": d, "start": fmt(start), "stop": fmt(end), "server_usages": list}))
        .collect())
}

pub(crate) async fn usage_all(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(ApiError::nova(
            403,
            "Policy doesn't allow os_compute_api:os-simple-tenant-usage:list to be performed.",
        ));
    }
    Ok(axum::Json(json!({"tenant_usages": usage(&ctx, None, q)?})).into_response())
}

pub(crate) async fn usage_one(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(project): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    if !auth.is_admin && project != auth.project_id {
        return Err(ApiError::nova(
            403,
            "Policy doesn't allow os_compute_api:os-simple-tenant-usage:show to be performed.",
        ));
    }
    let u = usage(&ctx, Some(&project), q)?
        .into_iter()
        .next()
        .unwrap_or(json!({}));
    Ok(axum::Json(json!({"tenant_usage": u})).into_response())
}

pub(crate) async fn extensions() -> Response {
    axum::Json(json!({"extensions": []})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_md5_of_key_blob() {
        let fp = fingerprint("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx8nkQv/zgGgB4rMYmIf+6A4l6Rr+o/6lHBQdW5aYd44bd8JttDCE/F/pNRr0lRE+PiqSPO8nDPHw0010JeMH9gYgnnFlyY3/OcJ02RhIPyyxYpv9FhY+2YiUkpwFOcLImyrxEsYXpD/0d3ac30bNH6Sw9JD9UZHYcpSxsIbECHw== Generated-by-Nova").unwrap();
        assert_eq!(fp.len(), 47);
        assert_eq!(fp.matches(':').count(), 15);
        assert!(fingerprint("not-a-key").is_none());
    }

    #[test]
    fn quotas_default_to_unlimited_and_enforce_when_set() {
        let mut c = ComputeState::default();
        let f = super::super::flavors::defaults().remove("1").unwrap();
        assert!(check_quota(&c, "p", &f, 1000).is_ok());
        c.quotas
            .entry("p".into())
            .or_default()
            .insert("instances".into(), 2);
        assert!(check_quota(&c, "p", &f, 2).is_ok());
        assert!(
            check_quota(&c, "p", &f, 3)
                .unwrap_err()
                .starts_with("Quota exceeded for instances")
        );
    }
}
