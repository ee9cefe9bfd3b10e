//! Small server-side APIs: `os-server-password` (read and cleared in the server's pod) and the
//! deprecated `os-tenant-networks` proxy to the central Neutron (404 from microversion 2.36).

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use cascade_core::network::Caller;
use cascade_model::microversion::Microversion;
use http::StatusCode;
use serde_json::json;

use super::misc::ok;
use super::{ApiResult, SVC, scope};
use crate::auth::Auth;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

pub(crate) async fn show_password(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let actor = state.delegation.actor(&ctx).await.or_api(SVC)?;
    let password = state
        .compute
        .server_password(&actor, &scope(&ctx)?, &id, false)
        .await
        .or_api(SVC)?;
    ok(json!({ "password": password }))
}

pub(crate) async fn clear_password(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let actor = state.delegation.actor(&ctx).await.or_api(SVC)?;
    state
        .compute
        .server_password(&actor, &scope(&ctx)?, &id, true)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn network_proxy(mv: Microversion) -> ApiResult<()> {
    if mv.at_least(2, 36) {
        Err(ApiError::new(SVC, 404, "The resource could not be found."))
    } else {
        Ok(())
    }
}

fn caller(ctx: &cascade_core::identity::AuthContext) -> ApiResult<Caller> {
    Caller::of(ctx)
        .map_err(cascade_core::CoreError::from)
        .or_api(SVC)
}

pub(crate) async fn tenant_networks(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
) -> ApiResult {
    network_proxy(mv)?;
    let nets = state
        .network
        .nova_tenant_networks(&caller(&ctx)?)
        .await
        .or_api(SVC)?;
    ok(json!({ "networks": nets }))
}

pub(crate) async fn tenant_network(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    network_proxy(mv)?;
    let net = state
        .network
        .nova_tenant_network(&caller(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    ok(json!({ "network": net }))
}
