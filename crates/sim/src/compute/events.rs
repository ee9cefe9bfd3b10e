//! `POST /os-server-external-events` (admin/service): the events another service (Neutron,
//! Cinder) reports about servers. Each event is answered on its own: 404 for an unknown
//! server, 422 for one not on a host yet, else 200; the request is 200 when all were accepted,
//! 207 when some failed and 404 when none found a server, as in Nova. The simulated compute
//! host has nothing to refresh, so an accepted event changes nothing else.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::servers::body_json;
use crate::error::{ApiError, ApiResult, Service};
use crate::identity::Auth;
use crate::server::Ctx;

const NAMES: &[&str] = &[
    "network-changed",
    "network-vif-plugged",
    "network-vif-unplugged",
    "network-vif-deleted",
    "volume-extended",
    "power-update",
    "accelerator-request-bound",
    "volume-reimaged",
];

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
struct Event {
    name: String,
    server_uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Events {
    events: Vec<Event>,
}

#[derive(Serialize)]
struct Answer {
    events: Vec<Event>,
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::nova(400, m)
}

pub(crate) async fn create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    body: Bytes,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(ApiError::nova(
            403,
            "Policy doesn't allow os_compute_api:os-server-external-events:create to be performed.",
        ));
    }
    let raw = body_json(Service::Compute, &body)?;
    let req: Events = serde_json::from_value(raw)
        .map_err(|e| bad(format!("Invalid input for field/attribute events. {e}")))?;
    if req.events.is_empty() {
        return Err(bad(
            "Invalid input for field/attribute events. Value: []. [] is too short",
        ));
    }
    let st = ctx.read();
    let mut out = Vec::with_capacity(req.events.len());
    for mut ev in req.events {
        if !NAMES.contains(&ev.name.as_str()) {
            return Err(bad(format!(
                "Invalid input for field/attribute name. Value: {0}. '{0}' is not one of {NAMES:?}",
                ev.name
            )));
        }
        let status = ev.status.get_or_insert_with(|| "completed".into());
        if !["failed", "completed", "in-progress"].contains(&status.as_str()) {
            return Err(bad(format!(
                "Invalid input for field/attribute status. Value: {status}."
            )));
        }
        let code = match st.compute.servers.get(&ev.server_uuid) {
            Some(s) if !s.deleted && s.host.is_some() => 200,
            Some(s) if !s.deleted => 422,
            _ => 404,
        };
        if code != 200 {
            ev.status = Some("failed".into());
        }
        ev.code = Some(code);
        out.push(ev);
    }
    let status = if out.iter().all(|e| e.code == Some(404)) {
        return Err(ApiError::nova(404, "No instances found for any event"));
    } else if out.iter().all(|e| e.code == Some(200)) {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, axum::Json(Answer { events: out })).into_response())
}
