//! The simulated Cinder's attachment API (3.27+): list, create (reserving the volume, or
//! attaching it at once with a connector), show and delete.

use super::*;

pub(super) async fn att_list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    if mv < Mv(3, 27) {
        return Err(cerr(404, "The resource could not be found."));
    }
    let st = ctx.read();
    let list: Vec<&Value> = st
        .volume
        .attachments
        .values()
        .filter(|a| auth.is_admin || a["project_id"] == json!(project))
        .collect();
    Ok(axum::Json(json!({"attachments": list})).into_response())
}

pub(super) async fn att_create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(project): Path<String>,
    raw: Bytes,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    if mv < Mv(3, 27) {
        return Err(cerr(404, "The resource could not be found."));
    }
    let b = body(&raw, "attachment")?;
    let vid = b
        .get("volume_id")
        .and_then(Value::as_str)
        .ok_or_else(|| cerr(400, "Invalid input received: volume_id is required"))?
        .to_string();
    let server = b
        .get("instance_uuid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut st = ctx.write();
    let att = st
        .volume
        .attach(&vid, &auth, &server, "", "/dev/vdb", now())?;
    let a = st.volume.attachments.get(&att).cloned().unwrap_or_default();
    Ok(axum::Json(json!({"attachment": a})).into_response())
}

pub(super) async fn att_show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let st = ctx.read();
    let a = st
        .volume
        .attachments
        .get(&id)
        .ok_or_else(|| cerr(404, format!("Attachment {id} could not be found.")))?;
    Ok(axum::Json(json!({"attachment": a})).into_response())
}

pub(super) async fn att_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let mut st = ctx.write();
    let a = st
        .volume
        .attachments
        .get(&id)
        .cloned()
        .ok_or_else(|| cerr(404, format!("Attachment {id} could not be found.")))?;
    let (vid, server) = (
        str_field(&a, "volume_id").unwrap_or_default().to_string(),
        str_field(&a, "instance").unwrap_or_default().to_string(),
    );
    st.volume.detach(&vid, &server, false, now());
    Ok(axum::Json(json!({"attachments": []})).into_response())
}
