//! The simulated Cinder's volume types: list, show (by id or name), create, update, delete,
//! and their extra specs, admin-managed as in Cinder.

use super::*;

pub(super) async fn types_list(
    State(ctx): State<Ctx>,
    Extension(_auth): Auth,
    Path(_project): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    Ok(
        axum::Json(json!({"volume_types": st.volume.types.values().collect::<Vec<_>>()}))
            .into_response(),
    )
}

pub(super) async fn type_show(
    State(ctx): State<Ctx>,
    Extension(_auth): Auth,
    Path((_project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let t = st
        .volume
        .types
        .values()
        .find(|t| t["id"] == json!(id) || t["name"] == json!(id))
        .ok_or_else(|| cerr(404, format!("Volume type {id} could not be found.")))?;
    Ok(axum::Json(json!({"volume_type": t})).into_response())
}

pub(super) async fn type_create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(_project): Path<String>,
    raw: Bytes,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(cerr(
            403,
            "Policy doesn't allow volume_extension:types_manage to be performed.",
        ));
    }
    let b = body(&raw, "volume_type")?;
    let name = b
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| cerr(400, "Volume type name can not be empty."))?
        .to_string();
    let mut st = ctx.write();
    if st.volume.types.values().any(|t| t["name"] == json!(name)) {
        return Err(cerr(409, format!("Volume Type {name} already exists.")));
    }
    let id = new_id();
    let public = b
        .get("os-volume-type-access:is_public")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let t = json!({"id": id, "name": name, "description": b.get("description"), "is_public": public, "os-volume-type-access:is_public": public, "extra_specs": b.get("extra_specs").cloned().unwrap_or(json!({})), "qos_specs_id": null});
    st.volume.types.insert(id, t.clone());
    Ok(axum::Json(json!({"volume_type": t})).into_response())
}

pub(super) async fn type_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((_project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(cerr(
            403,
            "Policy doesn't allow volume_extension:types_manage to be performed.",
        ));
    }
    let mut st = ctx.write();
    st.volume
        .types
        .remove(&id)
        .ok_or_else(|| cerr(404, format!("Volume type {id} could not be found.")))?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn types_manage(auth: &AuthContext) -> ApiResult<()> {
    if auth.is_admin {
        Ok(())
    } else {
        Err(cerr(
            403,
            "Policy doesn't allow volume_extension:types_manage to be performed.",
        ))
    }
}

/// The type with this id (Cinder's own routes take ids only).
fn type_mut<'a>(st: &'a mut VolumeState, id: &str) -> ApiResult<&'a mut Map<String, Value>> {
    st.types
        .get_mut(id)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| cerr(404, format!("Volume type {id} could not be found.")))
}

/// `PUT /types/{id}`: name, description, is_public.
pub(super) async fn type_update(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((_project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult<Response> {
    types_manage(&auth)?;
    let b = body(&raw, "volume_type")?;
    let mut st = ctx.write();
    if let Some(n) = b.get("name").and_then(Value::as_str)
        && st
            .volume
            .types
            .values()
            .any(|t| t["name"] == json!(n) && t["id"] != json!(id))
    {
        return Err(cerr(409, format!("Volume type {n} already exists.")));
    }
    let t = type_mut(&mut st.volume, &id)?;
    for k in ["name", "description"] {
        if let Some(v) = b.get(k).filter(|v| !v.is_null()) {
            t.insert(k.into(), v.clone());
        }
    }
    if let Some(p) = b.get("is_public").and_then(Value::as_bool) {
        t.insert("is_public".into(), json!(p));
        t.insert("os-volume-type-access:is_public".into(), json!(p));
    }
    let mut out = t.clone();
    out.remove("os-volume-type-access:is_public");
    out.remove("qos_specs_id");
    Ok(axum::Json(json!({ "volume_type": out })).into_response())
}

pub(super) async fn specs_list(
    State(ctx): State<Ctx>,
    Extension(_auth): Auth,
    Path((_project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut st = ctx.write();
    let t = type_mut(&mut st.volume, &id)?;
    Ok(
        axum::Json(json!({"extra_specs": t.get("extra_specs").cloned().unwrap_or(json!({}))}))
            .into_response(),
    )
}

/// `POST /types/{id}/extra_specs`: merges, answers the given specs.
pub(super) async fn specs_create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((_project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult<Response> {
    types_manage(&auth)?;
    let given = body(&raw, "extra_specs")?;
    if given.values().any(|v| !v.is_string()) {
        return Err(cerr(400, "Invalid input for field/attribute extra_specs."));
    }
    let mut st = ctx.write();
    let t = type_mut(&mut st.volume, &id)?;
    let specs = t.entry("extra_specs").or_insert_with(|| json!({}));
    if let Some(m) = specs.as_object_mut() {
        m.extend(given.clone());
    }
    Ok(axum::Json(json!({ "extra_specs": given })).into_response())
}

pub(super) async fn spec_show(
    State(ctx): State<Ctx>,
    Extension(_auth): Auth,
    Path((_project, id, key)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let mut st = ctx.write();
    let t = type_mut(&mut st.volume, &id)?;
    let v = t["extra_specs"].get(&key).cloned().ok_or_else(|| {
        cerr(
            404,
            format!("Volume Type {id} has no extra specs with key {key}."),
        )
    })?;
    Ok(axum::Json(json!({ key: v })).into_response())
}

/// `PUT /types/{id}/extra_specs/{key}`: the body is exactly `{key: value}`.
pub(super) async fn spec_update(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((_project, id, key)): Path<(String, String, String)>,
    raw: Bytes,
) -> ApiResult<Response> {
    types_manage(&auth)?;
    let v: Value = serde_json::from_slice(&raw)
        .map_err(|e| cerr(400, format!("Malformed request body: {e}")))?;
    let o = v
        .as_object()
        .ok_or_else(|| cerr(400, "Malformed request body"))?;
    if o.len() > 1 {
        return Err(cerr(400, "Request body contains too many items"));
    }
    let value = o
        .get(&key)
        .filter(|v| v.is_string())
        .cloned()
        .ok_or_else(|| cerr(400, "Request body and URI mismatch"))?;
    let mut st = ctx.write();
    let t = type_mut(&mut st.volume, &id)?;
    let specs = t.entry("extra_specs").or_insert_with(|| json!({}));
    if let Some(m) = specs.as_object_mut() {
        m.insert(key.clone(), value.clone());
    }
    Ok(axum::Json(json!({ key: value })).into_response())
}

pub(super) async fn spec_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((_project, id, key)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    types_manage(&auth)?;
    let mut st = ctx.write();
    let t = type_mut(&mut st.volume, &id)?;
    let removed = t
        .get_mut("extra_specs")
        .and_then(Value::as_object_mut)
        .and_then(|m| m.remove(&key));
    if removed.is_none() {
        return Err(cerr(
            404,
            format!("Volume Type {id} has no extra specs with key {key}."),
        ));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
