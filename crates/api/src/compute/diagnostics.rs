//! `GET /servers/{id}/diagnostics` (admin): the server's pod answers, at the caller's
//! microversion (a free-form map before 2.48, Nova's standard object from it).

use axum::Extension;
use axum::extract::{Path, State};
use cascade_model::microversion::Microversion;

use super::misc::{admin, ok};
use super::{ApiResult, SVC, scope};
use crate::auth::Auth;
use crate::error::OrApi;
use crate::state::AppState;

pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    let d = state
        .compute
        .server_diagnostics(&scope(&ctx)?, &id, &mv.to_string())
        .await
        .or_api(SVC)?;
    ok(d)
}
