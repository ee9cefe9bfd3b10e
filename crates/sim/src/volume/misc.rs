//! The simulated Cinder's quota sets, limits, the admin's pool statistics and availability
//! zones.

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

/// `GET /scheduler-stats/get_pools` (admin): one pool whose size is the region's disk capacity.
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
    let name = format!("sim@lvm#{}", ctx.region.spec.az);
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
