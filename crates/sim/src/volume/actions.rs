//! The simulated Cinder's volume actions: `os-extend`, `os-reset_status`, `os-force_delete`,
//! `os-retype` (no migration), `os-reserve` / `os-unreserve`, `os-update_readonly_flag` and
//! `os-set_bootable`, with
//! Cinder's status rules and admin-only refusals.

use super::*;

pub(super) fn set_status(st: &mut VolumeState, id: &str, status: &str, t: Ts) {
    if let Some(o) = st.volumes.get_mut(id).and_then(Value::as_object_mut) {
        o.insert("status".into(), json!(status));
        o.insert("updated_at".into(), json!(ts_cinder(&t)));
        o.insert("_updated".into(), json!(t.timestamp_nanos_opt()));
    }
}

pub(super) async fn vol_action(
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
    let cur = get_vol(&st.volume, &id, &auth)?.clone();
    let delay = st.volume.delay;
    if let Some(e) = v.get("os-extend") {
        let new = e
            .get("new_size")
            .and_then(|s| s.as_u64().or_else(|| s.as_str()?.parse().ok()))
            .ok_or_else(|| cerr(400, "Invalid input received: new_size is required"))?;
        if cur["status"] != json!("available") {
            return Err(cerr(
                400,
                format!(
                    "Invalid volume: Volume status must be available to extend, but current status is: {}.",
                    cur["status"].as_str().unwrap_or("")
                ),
            ));
        }
        if new <= cur["size"].as_u64().unwrap_or(0) {
            return Err(cerr(
                400,
                format!(
                    "Invalid input received: New size for extend must be greater than current size. (current: {}, extended: {new}).",
                    cur["size"]
                ),
            ));
        }
        if let Some(o) = st
            .volume
            .volumes
            .get_mut(&id)
            .and_then(Value::as_object_mut)
        {
            o.insert("size".into(), json!(new));
            o.insert("status".into(), json!("extending"));
            o.insert("_updated".into(), json!(t.timestamp_nanos_opt()));
        }
        st.volume
            .pending
            .push((t + delay, "volume".into(), id, "available".into()));
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if let Some(r) = v.get("os-reset_status") {
        if !auth.is_admin {
            return Err(cerr(
                403,
                "Policy doesn't allow volume_extension:volume_admin_actions:reset_status to be performed.",
            ));
        }
        if let Some(o) = st
            .volume
            .volumes
            .get_mut(&id)
            .and_then(Value::as_object_mut)
        {
            if let Some(s) = r.get("status") {
                o.insert("status".into(), s.clone());
            }
            o.insert("_updated".into(), json!(t.timestamp_nanos_opt()));
        }
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if v.get("os-force_delete").is_some() {
        if !auth.is_admin {
            return Err(cerr(
                403,
                "Policy doesn't allow volume_extension:volume_admin_actions:force_delete to be performed.",
            ));
        }
        let snaps = st
            .volume
            .snapshots
            .values()
            .filter(|s| s["volume_id"] == json!(id))
            .count();
        if snaps > 0 {
            return Err(cerr(
                400,
                format!("Invalid volume: Volume still has {snaps} dependent snapshots."),
            ));
        }
        // Whatever its status; the simulated backend deletes at once.
        st.volume.volumes.remove(&id);
        st.volume
            .attachments
            .retain(|_, a| a["volume_id"] != json!(id));
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if let Some(r) = v.get("os-retype") {
        let new_type = r["new_type"]
            .as_str()
            .ok_or_else(|| cerr(400, "Invalid input for field/attribute new_type."))?;
        let ty = st
            .volume
            .types
            .values()
            .find(|t| t["id"] == json!(new_type) || t["name"] == json!(new_type))
            .cloned()
            .ok_or_else(|| cerr(404, format!("Volume type {new_type} could not be found.")))?;
        let status = cur["status"].as_str().unwrap_or("");
        if status != "available" && status != "in-use" {
            return Err(cerr(
                400,
                format!(
                    "Invalid volume: Volume status must be available or in-use, but current status is: {status}."
                ),
            ));
        }
        if cur["volume_type"] == ty["name"] {
            return Err(cerr(
                400,
                format!("Invalid input received: New volume_type same as original: {new_type}."),
            ));
        }
        let multi = ty["extra_specs"]["multiattach"]
            .as_str()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("<is> True"));
        if let Some(o) = st
            .volume
            .volumes
            .get_mut(&id)
            .and_then(Value::as_object_mut)
        {
            o.insert("volume_type".into(), ty["name"].clone());
            o.insert("multiattach".into(), json!(multi));
            o.insert("updated_at".into(), json!(ts_cinder(&t)));
            o.insert("_updated".into(), json!(t.timestamp_nanos_opt()));
        }
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if v.get("os-reserve").is_some() {
        let multi = cur["multiattach"] == json!(true);
        let status = cur["status"].as_str().unwrap_or("");
        if !(status == "available" || multi && status == "in-use") {
            return Err(cerr(
                400,
                format!(
                    "Invalid volume: Volume status must be {} to reserve, but the status is {status}.",
                    if multi {
                        "available or in-use"
                    } else {
                        "available"
                    }
                ),
            ));
        }
        set_status(&mut st.volume, &id, "attaching", t);
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if v.get("os-unreserve").is_some() {
        if cur["status"] == json!("attaching") {
            let attached = cur["attachments"].as_array().is_some_and(|a| !a.is_empty());
            set_status(
                &mut st.volume,
                &id,
                if attached { "in-use" } else { "available" },
                t,
            );
        }
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if let Some(r) = v.get("os-update_readonly_flag") {
        let flag = match r.get("readonly") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => crate::util::truthy(s),
            _ => None,
        };
        let Some(flag) = flag else {
            {
                return Err(cerr(
                    400,
                    format!(
                        "Invalid input for field/attribute os-update_readonly_flag. Value: {r}. 'readonly' is a required property"
                    ),
                ));
            }
        };
        if cur["status"] != json!("available") {
            return Err(cerr(
                400,
                format!(
                    "Invalid volume: Volume {id} status must be available to update readonly flag, but current status is: {}.",
                    cur["status"].as_str().unwrap_or("")
                ),
            ));
        }
        if let Some(o) = st
            .volume
            .volumes
            .get_mut(&id)
            .and_then(Value::as_object_mut)
        {
            o.insert(
                "_readonly".into(),
                json!(if flag { "True" } else { "False" }),
            );
            o.insert("updated_at".into(), json!(ts_cinder(&t)));
            o.insert("_updated".into(), json!(t.timestamp_nanos_opt()));
        }
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if let Some(b) = v.get("os-set_bootable") {
        let flag = b.get("bootable").and_then(Value::as_bool).unwrap_or(false);
        if let Some(o) = st
            .volume
            .volumes
            .get_mut(&id)
            .and_then(Value::as_object_mut)
        {
            o.insert("bootable".into(), json!(flag.to_string()));
        }
        return Ok(StatusCode::OK.into_response());
    }
    Err(cerr(400, "There is no such action"))
}

/// `DELETE /volumes/{id}` (`?cascade=true` takes the snapshots too).
pub(super) async fn vol_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((project, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    // `?cascade=true` deletes the volume's snapshots with it.
    let cascade = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "cascade" && crate::util::truthy(&v) == Some(true));
    check_project(&auth, &project)?;
    let mut st = ctx.write();
    let v = get_vol(&st.volume, &id, &auth)?;
    let status = v["status"].as_str().unwrap_or("").to_string();
    if !["available", "error", "error_restoring", "error_extending"].contains(&status.as_str()) {
        return Err(cerr(
            400,
            format!(
                "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer. (current status {status})"
            ),
        ));
    }
    let snaps = st
        .volume
        .snapshots
        .values()
        .filter(|s| s["volume_id"] == json!(id))
        .count();
    if snaps > 0 && !cascade {
        return Err(cerr(
            400,
            format!("Invalid volume: Volume still has {snaps} dependent snapshots."),
        ));
    }
    st.volume
        .snapshots
        .retain(|_, s| s["volume_id"] != json!(id));
    st.volume.volumes.remove(&id);
    Ok(StatusCode::ACCEPTED.into_response())
}
