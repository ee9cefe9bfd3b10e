//! `os-instance-actions`: the actions recorded for a server (list and show with events), in
//! Nova's shapes by microversion (deleted servers from 2.21, events for non-admins from 2.51
//! without tracebacks, `updated_at` and paging from 2.58), and the recording hook the server
//! handlers call once Cascade accepted a create, delete or action.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use cascade_core::compute::instance_actions::ActionRequest;
use cascade_core::identity::AuthContext;
use cascade_model::microversion::Microversion;
use cascade_model::request_id::RequestId;
use cascade_store::from_micros;
use cascade_store::instance_actions::InstanceActionRow;
use serde_json::{Value, json};

use super::misc::{bad, ok};
use super::{ApiResult, SVC, scope};
use crate::auth::Auth;
use crate::error::OrApi;
use crate::state::AppState;

/// Records an accepted create, delete or action of server `server_id` under the request's id.
pub(crate) async fn record(
    state: &AppState,
    ctx: &AuthContext,
    rid: Option<&Extension<RequestId>>,
    server_id: &str,
    action: &str,
) -> ApiResult<()> {
    let (Some(Extension(RequestId(request_id))), Some(project_id)) = (rid, ctx.project_id()) else {
        return Ok(());
    };
    state
        .compute
        .record_action(
            &ActionRequest {
                request_id,
                user_id: &ctx.user.id,
                project_id,
            },
            server_id,
            action,
        )
        .await
        .or_api(SVC)
}

fn date(us: i64) -> String {
    from_micros(us).format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn view(a: &InstanceActionRow, mv: Microversion) -> Value {
    let mut o = json!({
        "action": a.action,
        "instance_uuid": a.server_id,
        "request_id": a.request_id,
        "user_id": a.user_id,
        "project_id": a.project_id,
        "start_time": date(a.start_time),
        "message": a.message,
    });
    if mv.at_least(2, 58) {
        o["updated_at"] = json!(date(a.updated_at));
    }
    o
}

fn events(a: &InstanceActionRow, admin: bool) -> Value {
    let raw: Vec<Value> = serde_json::from_str(&a.events).unwrap_or_default();
    let t = |v: &Value| v.as_i64().map(date);
    Value::Array(
        raw.iter()
            .map(|e| {
                let mut o = json!({
                    "event": e["event"],
                    "start_time": t(&e["start_time"]),
                    "finish_time": t(&e["finish_time"]),
                    "result": e["result"],
                });
                if admin {
                    o["traceback"] = e.get("traceback").cloned().unwrap_or(Value::Null);
                }
                o
            })
            .collect(),
    )
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let mut actions = state
        .compute
        .instance_actions(&scope(&ctx)?, &id, mv.at_least(2, 21))
        .await
        .or_api(SVC)?;
    if mv.at_least(2, 58) {
        let q: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        for (k, v) in &q {
            match k.as_str() {
                "marker" => {
                    let pos = actions
                        .iter()
                        .position(|a| &a.request_id == v)
                        .ok_or_else(|| bad(format!("Marker {v} could not be found.")))?;
                    actions.drain(..=pos);
                }
                "limit" => {
                    let n: usize = v
                        .parse()
                        .map_err(|_| bad("Invalid input for query parameters limit."))?;
                    actions.truncate(n);
                }
                _ => {}
            }
        }
    }
    ok(json!({"instanceActions": actions.iter().map(|a| view(a, mv)).collect::<Vec<_>>()}))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((id, request_id)): Path<(String, String)>,
) -> ApiResult {
    let a = state
        .compute
        .instance_action(&scope(&ctx)?, &id, &request_id, mv.at_least(2, 21))
        .await
        .or_api(SVC)?;
    let mut o = view(&a, mv);
    // Events: admins always; others from 2.51, without tracebacks (Nova's default policy).
    if ctx.is_admin() || mv.at_least(2, 51) {
        o["events"] = events(&a, ctx.is_admin());
    }
    ok(json!({ "instanceAction": o }))
}
