//! The simulated Cinder's snapshots: create (from an `available` volume, or `in-use` with
//! `force`; `creating` → `available` after the volume time), list (`/snapshots` the summary,
//! `/snapshots/detail` the detail view; filters, sort, marker/limit), show and delete, each
//! answer with the key set real Cinder gives it at that microversion, and the snapshot actions
//! (`os-reset_status`, `os-update_snapshot_status`, `os-force_delete`).

use super::*;

/// Which of Cinder's snapshot bodies to render.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SnapBody {
    /// `GET /snapshots`: the summary view at every microversion.
    Summary,
    /// Create and update: the v3 detail view (3.14 `group_snapshot_id`, 3.41 `user_id`,
    /// 3.65 `consumes_quota`).
    Detail,
    /// Show and `GET /snapshots/detail`: the detail view plus the
    /// `os-extended-snapshot-attributes` extension (admin or owner, so whoever sees it).
    Extended,
}

pub(super) fn render(s: &Value, mv: Mv, body: SnapBody) -> Value {
    let mut o = Map::new();
    for k in [
        "id",
        "created_at",
        "updated_at",
        "name",
        "description",
        "volume_id",
        "status",
        "size",
        "metadata",
    ] {
        o.insert(k.into(), s.get(k).cloned().unwrap_or(Value::Null));
    }
    if body != SnapBody::Summary {
        if mv >= Mv(3, 14) {
            o.insert("group_snapshot_id".into(), Value::Null);
        }
        if mv >= Mv(3, 41) {
            o.insert("user_id".into(), s["user_id"].clone());
        }
        if mv >= Mv(3, 65) {
            o.insert("consumes_quota".into(), json!(true));
        }
    }
    if body == SnapBody::Extended {
        let progress = if let Some(p) = s.get("_progress") {
            p.clone()
        } else if matches!(s["status"].as_str(), Some("creating" | "error")) {
            json!("0%")
        } else {
            json!("100%")
        };
        o.insert("os-extended-snapshot-attributes:progress".into(), progress);
        o.insert(
            "os-extended-snapshot-attributes:project_id".into(),
            s["_project"].clone(),
        );
    }
    Value::Object(o)
}

pub(super) async fn list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(project): Path<String>,
    uri: http::Uri,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let view = if uri.path().trim_end_matches('/').ends_with("/detail") {
        View::Detail
    } else {
        View::Brief
    };
    let st = ctx.read();
    Ok(axum::Json(list_of(
        &st.volume.snapshots,
        &auth,
        &Params::parse(q.as_deref()),
        "snapshots",
        &ctx.region.base_url,
        &project,
        (mv, view),
    )?)
    .into_response())
}

pub(super) async fn create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(project): Path<String>,
    raw: Bytes,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let b = body(&raw, "snapshot")?;
    // Cinder's schema requires the key but allows null, which then is a volume lookup.
    let vid = match b.get("volume_id") {
        None => {
            return Err(cerr(
                400,
                format!(
                    "Invalid input for field/attribute snapshot. Value: {}. 'volume_id' is a required property",
                    Value::Object(b.clone())
                ),
            ));
        }
        Some(Value::Null) => return Err(cerr(404, "Volume None could not be found.")),
        Some(v) => v
            .as_str()
            .ok_or_else(|| {
                cerr(
                    400,
                    format!("Invalid input for field/attribute volume_id. Value: {v}. {v} is not of type 'string', 'null'"),
                )
            })?
            .to_string(),
    };
    let force = b
        .get("force")
        .is_some_and(|f| f == &json!(true) || f == &json!("True") || f == &json!("true"));
    let t = now();
    let mut st = ctx.write();
    let v = get_vol(&st.volume, &vid, &auth)?.clone();
    if v["status"] != json!("available") && !(force && v["status"] == json!("in-use")) {
        return Err(cerr(
            400,
            format!(
                "Invalid volume: Volume {vid} status must be available, but current status is: {}.",
                v["status"].as_str().unwrap_or("")
            ),
        ));
    }
    let id = new_id();
    let name = b.get("name").or_else(|| b.get("display_name"));
    let s = json!({"id": id, "name": name, "description": b.get("description"), "volume_id": vid, "size": v["size"], "status": "creating",
        "metadata": b.get("metadata").filter(|m| !m.is_null()).cloned().unwrap_or(json!({})), "created_at": ts_cinder(&t), "updated_at": null,
        "_project": v["os-vol-tenant-attr:tenant_id"],
        "_updated": t.timestamp_nanos_opt(), "_created": t.timestamp_nanos_opt(), "user_id": auth.user_id});
    let due = t + st.volume.delay;
    st.volume
        .pending
        .push((due, "snapshot".into(), id.clone(), "available".into()));
    let out = render(&s, mv, SnapBody::Detail);
    st.volume.snapshots.insert(id, s);
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"snapshot": out}))).into_response())
}

pub(super) async fn show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let st = ctx.read();
    let s = st
        .volume
        .snapshots
        .get(&id)
        .filter(|s| owned(s, &auth))
        .ok_or_else(|| cerr(404, format!("Snapshot {id} could not be found.")))?;
    Ok(axum::Json(json!({"snapshot": render(s, mv, SnapBody::Extended)})).into_response())
}

pub(super) async fn delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let mut st = ctx.write();
    st.volume
        .snapshots
        .get(&id)
        .filter(|s| owned(s, &auth))
        .ok_or_else(|| cerr(404, format!("Snapshot {id} could not be found.")))?;
    st.volume.snapshots.remove(&id);
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST /snapshots/{id}/action`: `os-reset_status` and `os-force_delete` (admin),
/// `os-update_snapshot_status` (Cinder's allowed transitions; `progress` kept).
pub(super) async fn action(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let v: Value = serde_json::from_slice(&raw)
        .map_err(|e| cerr(400, format!("Malformed request body: {e}")))?;
    let t = now();
    let mut st = ctx.write();
    let cur = st
        .volume
        .snapshots
        .get(&id)
        .filter(|s| owned(s, &auth))
        .cloned()
        .ok_or_else(|| cerr(404, format!("Snapshot {id} could not be found.")))?;
    let admin = |rule: &str| {
        if auth.is_admin {
            Ok(())
        } else {
            Err(cerr(
                403,
                format!(
                    "Policy doesn't allow volume_extension:snapshot_admin_actions:{rule} to be performed."
                ),
            ))
        }
    };
    let (status, progress) = if let Some(r) = v.get("os-reset_status") {
        admin("reset_status")?;
        let s = r["status"]
            .as_str()
            .ok_or_else(|| cerr(400, "Must specify 'status'"))?;
        (s.to_string(), None)
    } else if v.get("os-force_delete").is_some() {
        admin("force_delete")?;
        st.volume.snapshots.remove(&id);
        return Ok(StatusCode::ACCEPTED.into_response());
    } else if let Some(r) = v.get("os-update_snapshot_status") {
        let s = r["status"]
            .as_str()
            .ok_or_else(|| cerr(400, "Must specify 'status'"))?;
        let current = cur["status"].as_str().unwrap_or("");
        let allowed: &[&str] = match current {
            "creating" => &["creating", "available", "error"],
            "deleting" => &["deleting", "error_deleting"],
            _ => {
                return Err(cerr(
                    400,
                    format!(
                        "Invalid snapshot: Snapshot status {current} not allowed for update_snapshot_status"
                    ),
                ));
            }
        };
        if !allowed.contains(&s) {
            return Err(cerr(
                400,
                format!(
                    "Invalid snapshot: Provided snapshot status {s} not allowed for snapshot with status {current}."
                ),
            ));
        }
        (s.to_string(), r.get("progress").cloned())
    } else {
        return Err(cerr(400, "There is no such action"));
    };
    if let Some(o) = st
        .volume
        .snapshots
        .get_mut(&id)
        .and_then(Value::as_object_mut)
    {
        o.insert("status".into(), json!(status));
        if let Some(p) = progress {
            o.insert("_progress".into(), p);
        }
        o.insert("updated_at".into(), json!(ts_cinder(&t)));
        o.insert("_updated".into(), json!(t.timestamp_nanos_opt()));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
