//! Nova's `os-volume_attachments`: list, show, attach and detach a server's volumes, served by
//! the block-storage service (`cascade_core::volume`). A volume and its server must be in the
//! same availability zone (pod); across zones the attach is a 400 that says so.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::volume::AttachRequest;
use cascade_model::microversion::Microversion;
use http::StatusCode;
use serde_json::{Value, json};

use super::{ApiResult, SVC, scope};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(SVC, 400, message)
}

/// Nova's `volumeAttachment` for one attachment entry, fields by microversion.
fn render(server_id: &str, a: &Value, mv: Microversion) -> Value {
    let volume = a["volume_id"].clone();
    let mut o =
        json!({"id": volume, "serverId": server_id, "volumeId": volume, "device": a["device"]});
    if mv.at_least(2, 70) {
        o["tag"] = a.get("tag").cloned().unwrap_or(Value::Null);
    }
    if mv.at_least(2, 79) {
        o["delete_on_termination"] = json!(a["delete_on_termination"].as_bool().unwrap_or(false));
    }
    if mv.at_least(2, 89) {
        o["attachment_id"] = a["attachment_id"].clone();
        o["bdm_uuid"] = a["attachment_id"].clone();
        if let Some(m) = o.as_object_mut() {
            m.remove("id");
        }
    }
    o
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    let list = state
        .volumes
        .server_attachments(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(axum::Json(
        json!({"volumeAttachments": list.iter().map(|a| render(&id, a, mv)).collect::<Vec<_>>()}),
    )
    .into_response())
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((id, volume)): Path<(String, String)>,
) -> ApiResult {
    let list = state
        .volumes
        .server_attachments(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let a = list
        .iter()
        .find(|a| a["volume_id"] == volume)
        .ok_or_else(|| {
            ApiError::new(
                SVC,
                404,
                format!("Volume {volume} is not attached to the server {id}."),
            )
        })?;
    Ok(axum::Json(json!({"volumeAttachment": render(&id, a, mv)})).into_response())
}

pub(crate) async fn attach(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let doc = body::json(SVC, &raw)?;
    let a = doc
        .get("volumeAttachment")
        .ok_or_else(|| bad("Invalid input for field/attribute volumeAttachment. 'volumeAttachment' is a required property"))?;
    let volume_id = a["volumeId"]
        .as_str()
        .ok_or_else(|| {
            bad("Invalid input for field/attribute volumeId. 'volumeId' is a required property")
        })?
        .to_string();
    let req = AttachRequest {
        volume_id,
        device: a["device"].as_str().map(str::to_string),
        tag: a["tag"]
            .as_str()
            .filter(|_| mv.at_least(2, 49))
            .map(str::to_string),
        delete_on_termination: mv.at_least(2, 79)
            && a["delete_on_termination"].as_bool().unwrap_or(false),
    };
    let actor = state.delegation.actor(&ctx).await.or_api(SVC)?;
    let entry = state
        .volumes
        .attach_to_server(&actor, &scope(&ctx)?, &id, req)
        .await
        .or_api(SVC)?;
    Ok(axum::Json(json!({"volumeAttachment": render(&id, &entry, mv)})).into_response())
}

pub(crate) async fn detach(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((id, volume)): Path<(String, String)>,
) -> ApiResult {
    let actor = state.delegation.actor(&ctx).await.or_api(SVC)?;
    state
        .volumes
        .detach_from_server(&actor, &scope(&ctx)?, &id, &volume)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `PUT /servers/{id}/os-volume_attachments/{volume}` (swap, admin): Nova's validation and
/// 404s. Swapping itself would need the pod's compute to move the data between two volumes of
/// its own; Cascade does not drive that, and says so instead of accepting a swap that never
/// happens.
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((id, volume)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    super::misc::admin(&ctx)?;
    let doc = body::json(SVC, &raw)?;
    let a = doc
        .get("volumeAttachment")
        .ok_or_else(|| bad("Invalid input for field/attribute volumeAttachment. 'volumeAttachment' is a required property"))?;
    if a["volumeId"].as_str().is_none() {
        return Err(bad(
            "Invalid input for field/attribute volumeId. 'volumeId' is a required property",
        ));
    }
    let list = state
        .volumes
        .server_attachments(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    if !list.iter().any(|a| a["volume_id"] == volume) {
        return Err(ApiError::new(
            SVC,
            404,
            "The volume was either invalid or not attached to the instance.",
        ));
    }
    Err(bad(
        "Swapping the volumes of a server is not supported by this cloud.",
    ))
}
