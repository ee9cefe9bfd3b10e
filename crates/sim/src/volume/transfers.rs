//! The simulated Cinder's volume transfers: create (`os-volume-transfer`, or `volume-transfers`
//! from 3.55 with `no_snapshots`; the volume must be `available` and becomes
//! `awaiting-transfer`), show, delete (the volume is `available` again) and accept by another
//! project with the auth key (the volume, and its snapshots unless `no_snapshots`, change
//! owner).

use super::*;

fn view(t: &Value, base: &str, project: &str, mv: Mv) -> Value {
    let id = t["id"].as_str().unwrap_or_default();
    let mut o = json!({"id": id, "name": t["name"], "volume_id": t["volume_id"],
        "created_at": t["created_at"],
        "links": [{"rel": "self", "href": format!("{base}/volume/v3/{project}/os-volume-transfer/{id}")},
                  {"rel": "bookmark", "href": format!("{base}/volume/{project}/os-volume-transfer/{id}")}]});
    if mv >= Mv(3, 55) {
        o["no_snapshots"] = t["no_snapshots"].clone();
    }
    if mv >= Mv(3, 57) {
        o["source_project_id"] = t["_project"].clone();
        o["destination_project_id"] = Value::Null;
        o["accepted"] = json!(false);
    }
    o
}

pub(super) async fn create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(project): Path<String>,
    raw: Bytes,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let b = body(&raw, "transfer")?;
    let vid = b
        .get("volume_id")
        .and_then(Value::as_str)
        .ok_or_else(|| cerr(400, "Incorrect request body format"))?
        .to_string();
    let no_snapshots = mv >= Mv(3, 55) && b.get("no_snapshots") == Some(&json!(true));
    let t = now();
    let mut st = ctx.write();
    let v = get_vol(&st.volume, &vid, &auth)?.clone();
    if v["status"] != json!("available") {
        return Err(cerr(
            400,
            format!(
                "Invalid volume: Status of volume must be available, but current status is: {}.",
                v["status"].as_str().unwrap_or("")
            ),
        ));
    }
    let id = new_id();
    let key: String = new_id().replace('-', "").chars().take(16).collect();
    let tr = json!({"id": id, "name": b.get("name"), "volume_id": vid, "created_at": ts_cinder(&t),
        "no_snapshots": no_snapshots, "_project": v["os-vol-tenant-attr:tenant_id"], "_key": key});
    actions::set_status(&mut st.volume, &vid, "awaiting-transfer", t);
    let mut out = view(&tr, &ctx.region.base_url, &project, mv);
    out["auth_key"] = json!(key);
    st.volume.transfers.insert(id, tr);
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "transfer": out }))).into_response())
}

fn get_transfer<'a>(st: &'a VolumeState, id: &str, auth: &AuthContext) -> ApiResult<&'a Value> {
    st.transfers
        .get(id)
        .filter(|t| auth.is_admin || t["_project"] == json!(auth.project_id))
        .ok_or_else(|| cerr(404, format!("Transfer {id} could not be found.")))
}

pub(super) async fn show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let st = ctx.read();
    let t = get_transfer(&st.volume, &id, &auth)?;
    Ok(
        axum::Json(json!({"transfer": view(t, &ctx.region.base_url, &project, mv)}))
            .into_response(),
    )
}

pub(super) async fn delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let t = now();
    let mut st = ctx.write();
    let tr = get_transfer(&st.volume, &id, &auth)?.clone();
    st.volume.transfers.remove(&id);
    let vid = tr["volume_id"].as_str().unwrap_or_default().to_string();
    if st.volume.volumes.get(&vid).map(|v| &v["status"]) == Some(&json!("awaiting-transfer")) {
        actions::set_status(&mut st.volume, &vid, "available", t);
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

pub(super) async fn accept(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let b = body(&raw, "accept")?;
    let key = b.get("auth_key").and_then(Value::as_str).unwrap_or("");
    let t = now();
    let mut st = ctx.write();
    let tr = st
        .volume
        .transfers
        .get(&id)
        .cloned()
        .ok_or_else(|| cerr(404, format!("Transfer {id} could not be found.")))?;
    if tr["_key"] != json!(key) {
        return Err(cerr(
            400,
            format!("Invalid auth key: Attempt to transfer {id} with invalid auth key."),
        ));
    }
    let vid = tr["volume_id"].as_str().unwrap_or_default().to_string();
    st.volume.transfers.remove(&id);
    if let Some(o) = st
        .volume
        .volumes
        .get_mut(&vid)
        .and_then(Value::as_object_mut)
    {
        o.insert(
            "os-vol-tenant-attr:tenant_id".into(),
            json!(auth.project_id),
        );
        o.insert("user_id".into(), json!(auth.user_id));
    }
    actions::set_status(&mut st.volume, &vid, "available", t);
    if tr["no_snapshots"] != json!(true) {
        for s in st.volume.snapshots.values_mut() {
            if s["volume_id"] == json!(vid) {
                s["_project"] = json!(auth.project_id);
                s["user_id"] = json!(auth.user_id);
            }
        }
    }
    let mut out = view(&tr, &ctx.region.base_url, &project, mv);
    if let Some(o) = out.as_object_mut() {
        for k in [
            "created_at",
            "no_snapshots",
            "source_project_id",
            "destination_project_id",
            "accepted",
        ] {
            o.remove(k);
        }
    }
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "transfer": out }))).into_response())
}
