//! Nova's deprecated security-group proxy: `/os-security-groups`, `/os-security-group-rules`
//! (404 from microversion 2.36, as in Nova) and `GET /servers/{id}/os-security-groups` (every
//! microversion). Handlers parse Nova's bodies and call the proxy of the central Neutron
//! ([`cascade_core::network::nova`]); statuses are Nova's (200 on create, 202 on delete).

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::network::nova::{NovaRuleRequest, Window};
use cascade_model::microversion::Microversion;
use http::StatusCode;
use serde_json::{Value, json};

use super::misc::{Params, bad, ok};
use super::{ApiResult, SVC, scope};
use crate::auth::Auth;
use crate::body;
use crate::error::OrApi;
use crate::state::AppState;

/// The proxy APIs are gone from 2.36 on.
use super::proxy_api as proxy;

use super::net_caller as caller;

/// Nova's `_from_body`: the body must name `key`.
fn from_body(raw: &Bytes, key: &str) -> ApiResult<Value> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(bad("The request body can't be empty"));
    }
    let doc = body::json(SVC, raw)?;
    match doc.get(key) {
        None | Some(Value::Null) => Err(bad(format!("Missing parameter {key}"))),
        Some(v) => Ok(v.clone()),
    }
}

/// Nova's `common.limited`: `offset` and `limit` query parameters.
fn window(q: &std::collections::HashMap<String, String>) -> ApiResult<Window> {
    let num = |k: &str| -> ApiResult<Option<usize>> {
        match q.get(k) {
            None => Ok(None),
            Some(v) => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad(format!("{k} param must be an integer")))?;
                if n < 0 {
                    return Err(bad(format!("{k} param must be positive")));
                }
                Ok(Some(n as usize))
            }
        }
    };
    Ok(Window {
        offset: num("offset")?.unwrap_or(0),
        limit: num("limit")?,
    })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Query(q): Params,
) -> ApiResult {
    proxy(mv)?;
    let all_tenants = q.contains_key("all_tenants");
    let groups = state
        .network
        .nova_list_groups(&caller(&ctx)?, all_tenants, window(&q)?)
        .await
        .or_api(SVC)?;
    ok(json!({ "security_groups": groups }))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv)?;
    let g = state
        .network
        .nova_show_group(&caller(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    ok(json!({ "security_group": g }))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    raw: Bytes,
) -> ApiResult {
    proxy(mv)?;
    let sg = from_body(&raw, "security_group")?;
    let g = state
        .network
        .nova_create_group(&caller(&ctx)?, &sg["name"], &sg["description"])
        .await
        .or_api(SVC)?;
    ok(json!({ "security_group": g }))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    proxy(mv)?;
    let caller = caller(&ctx)?;
    // Nova looks the group up before it reads the body.
    state
        .network
        .nova_show_group(&caller, &id)
        .await
        .or_api(SVC)?;
    let sg = from_body(&raw, "security_group")?;
    let g = state
        .network
        .nova_update_group(&caller, &id, &sg["name"], &sg["description"])
        .await
        .or_api(SVC)?;
    ok(json!({ "security_group": g }))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv)?;
    state
        .network
        .nova_delete_group(&caller(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub(crate) async fn create_rule(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    raw: Bytes,
) -> ApiResult {
    proxy(mv)?;
    let v = from_body(&raw, "security_group_rule")?;
    let req: NovaRuleRequest = serde_json::from_value(v)
        .map_err(|_| bad("Invalid input for field/attribute security_group_rule."))?;
    let rule = state
        .network
        .nova_create_rule(&caller(&ctx)?, &req)
        .await
        .or_api(SVC)?;
    ok(json!({ "security_group_rule": rule }))
}

pub(crate) async fn delete_rule(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv)?;
    state
        .network
        .nova_delete_rule(&caller(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `GET /servers/{id}/os-security-groups` (not deprecated).
pub(crate) async fn server_groups(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    state
        .compute
        .server_row(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let groups = state
        .network
        .nova_server_groups(&caller(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    ok(json!({ "security_groups": groups }))
}
