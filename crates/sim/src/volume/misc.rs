//! The simulated Cinder's quota sets, limits, the admin's pool statistics and hosts
//! (`os-hosts`), a backend's capabilities, and availability zones.

use super::*;

pub(super) async fn quota(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((project, target)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let p = Params::parse(q.as_deref());
    let st = ctx.read();
    let mine: Vec<&Value> = st
        .volume
        .volumes
        .values()
        .filter(|v| v["os-vol-tenant-attr:tenant_id"] == json!(target))
        .collect();
    let gigs: u64 = mine.iter().map(|v| v["size"].as_u64().unwrap_or(0)).sum();
    let snaps = st
        .volume
        .snapshots
        .values()
        .filter(|s| s["_project"] == json!(target))
        .count();
    let usage = p
        .get("usage")
        .and_then(crate::util::truthy)
        .unwrap_or(false);
    let q = |limit: i64, used: u64| {
        if usage {
            json!({"limit": limit, "in_use": used, "reserved": 0, "allocated": 0})
        } else {
            json!(limit)
        }
    };
    Ok(axum::Json(json!({"quota_set": {"id": target, "volumes": q(-1, mine.len() as u64), "gigabytes": q(-1, gigs), "snapshots": q(-1, snaps as u64),
        "backups": q(10, 0), "backup_gigabytes": q(1000, 0), "per_volume_gigabytes": q(-1, 0), "groups": q(10, 0),
        "volumes___DEFAULT__": q(-1, mine.len() as u64), "gigabytes___DEFAULT__": q(-1, gigs), "snapshots___DEFAULT__": q(-1, snaps as u64)}})).into_response())
}

pub(super) async fn limits(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let st = ctx.read();
    let mine: Vec<&Value> = st
        .volume
        .volumes
        .values()
        .filter(|v| v["os-vol-tenant-attr:tenant_id"] == json!(project))
        .collect();
    let gigs: u64 = mine.iter().map(|v| v["size"].as_u64().unwrap_or(0)).sum();
    Ok(axum::Json(json!({"limits": {"rate": [], "absolute": {"maxTotalVolumes": -1, "maxTotalVolumeGigabytes": -1, "maxTotalSnapshots": -1, "maxTotalBackups": 10, "maxTotalBackupGigabytes": 1000,
        "totalVolumesUsed": mine.len(), "totalGigabytesUsed": gigs, "totalSnapshotsUsed": 0, "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0}}})).into_response())
}

/// `GET /scheduler-stats/get_pools` (admin): one pool (`<region>@lvm#lvm`) whose size is the
/// region's disk capacity.
pub(super) async fn pools(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    if !auth.is_admin {
        return Err(cerr(
            403,
            "Policy doesn't allow scheduler_extension:scheduler_stats:get_pools to be performed.",
        ));
    }
    let st = ctx.read();
    let total = ctx.region.spec.capacity.disk_gb;
    let used: u64 = st
        .volume
        .volumes
        .values()
        .map(|v| v["size"].as_u64().unwrap_or(0))
        .sum();
    let name = format!("{}@lvm#lvm", ctx.region.spec.name);
    Ok(axum::Json(json!({"pools": [{"name": name, "capabilities": {"pool_name": "lvm", "volume_backend_name": "lvm",
        "total_capacity_gb": total, "free_capacity_gb": total.saturating_sub(used), "allocated_capacity_gb": used,
        "storage_protocol": "iSCSI", "vendor_name": "Open Source", "driver_version": "3.0.0", "reserved_percentage": 0,
        "thin_provisioning_support": false}}]}))
    .into_response())
}

pub(super) async fn az(
    State(ctx): State<Ctx>,
    Extension(_auth): Auth,
    Path(_project): Path<String>,
) -> ApiResult<Response> {
    Ok(axum::Json(json!({"availabilityZoneInfo": [{"zoneName": ctx.region.spec.az, "zoneState": {"available": true}}]})).into_response())
}

fn hosts_admin(auth: &AuthContext) -> ApiResult<()> {
    if auth.is_admin {
        Ok(())
    } else {
        Err(cerr(
            403,
            "Policy doesn't allow volume_extension:hosts to be performed.",
        ))
    }
}

/// The region's Cinder services as `os-hosts` names them: `<region>` (scheduler) and
/// `<region>@lvm` (volume).
fn host_names(ctx: &Ctx) -> [(String, &'static str); 2] {
    let r = &ctx.region.spec.name;
    [
        (r.clone(), "cinder-scheduler"),
        (format!("{r}@lvm"), "cinder-volume"),
    ]
}

/// `GET /os-hosts` (admin): the region's services, all enabled and up.
pub(super) async fn hosts(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    hosts_admin(&auth)?;
    let t = ts_cinder(&now());
    let list: Vec<Value> = host_names(&ctx)
        .into_iter()
        .map(|(h, service)| {
            json!({"host_name": h, "service": service, "zone": ctx.region.spec.az,
                "service-status": "available", "service-state": "enabled", "last-update": t})
        })
        .collect();
    Ok(axum::Json(json!({ "hosts": list })).into_response())
}

/// `GET /os-hosts/{host}` (admin): a volume host's totals, then one entry per project, as
/// Cinder counts them (numbers as strings).
pub(super) async fn host_show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((project, host)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    hosts_admin(&auth)?;
    if !host_names(&ctx)
        .iter()
        .any(|(h, s)| h == &host && *s == "cinder-volume")
    {
        return Err(cerr(404, "Host not found"));
    }
    let st = ctx.read();
    let mut per: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new();
    for v in st.volume.volumes.values() {
        let p = v["os-vol-tenant-attr:tenant_id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let e = per.entry(p).or_default();
        e.0 += 1;
        e.1 += v["size"].as_u64().unwrap_or(0);
    }
    for s in st.volume.snapshots.values() {
        let p = s["_project"].as_str().unwrap_or("").to_string();
        let e = per.entry(p).or_default();
        e.2 += 1;
        e.3 += s["size"].as_u64().unwrap_or(0);
    }
    let entry = |project: &str, n: (u64, u64, u64, u64)| {
        json!({"resource": {"host": host, "project": project, "volume_count": n.0.to_string(),
            "total_volume_gb": n.1.to_string(), "snapshot_count": n.2.to_string(),
            "total_snapshot_gb": n.3.to_string()}})
    };
    let total = per.values().fold((0, 0, 0, 0), |a, n| {
        (a.0 + n.0, a.1 + n.1, a.2 + n.2, a.3 + n.3)
    });
    let mut out = vec![entry("(total)", total)];
    out.extend(per.iter().map(|(p, n)| entry(p, *n)));
    Ok(axum::Json(json!({ "host": out })).into_response())
}

/// `GET /capabilities/{host}` (admin): the LVM backend's capabilities, as Cinder's LVM driver
/// reports them, for the region's volume host.
pub(super) async fn capabilities(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((project, host)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    if !auth.is_admin {
        return Err(cerr(
            403,
            "Policy doesn't allow volume_extension:capabilities to be performed.",
        ));
    }
    if host != format!("{}@lvm", ctx.region.spec.name) {
        return Err(cerr(404, format!("Service {host} could not be found.")));
    }
    let prop = |title: &str, description: &str| json!({"title": title, "description": description, "type": "boolean"});
    Ok(axum::Json(json!({
        "namespace": format!("OS::Storage::Capabilities::{host}"),
        "vendor_name": "Open Source", "volume_backend_name": "lvm", "pool_name": null,
        "driver_version": "3.0.0", "storage_protocol": "iSCSI", "display_name": null,
        "description": null, "visibility": null, "replication_targets": [],
        "properties": {
            "compression": prop("Compression", "Enables compression."),
            "qos": prop("QoS", "Enables QoS."),
            "replication_enabled": prop("Replication", "Enables replication."),
            "thin_provisioning": prop("Thin Provisioning", "Sets thin provisioning."),
        },
    }))
    .into_response())
}
