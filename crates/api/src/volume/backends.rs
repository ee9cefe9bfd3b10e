//! The admin's backend views: `scheduler-stats/get_pools` (`detail` adds capabilities) and
//! `os-hosts` (list, show) and a backend's `capabilities`, from the pods through core.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use serde_json::json;

use super::misc::{admin, ok};
use super::{ApiResult, SVC, check_project};
use crate::auth::Auth;
use crate::error::OrApi;
use crate::state::AppState;

pub(crate) async fn pools(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, "scheduler_extension:scheduler_stats:get_pools")?;
    let detail = q.get("detail").is_some_and(|d| {
        matches!(
            d.to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "t" | "y" | "on"
        )
    });
    let pools = state.volumes.pools(detail).await.or_api(SVC)?;
    ok(json!({ "pools": pools }))
}

pub(crate) async fn hosts(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, "volume_extension:hosts")?;
    let hosts = state.volumes.hosts().await.or_api(SVC)?;
    ok(json!({ "hosts": hosts }))
}

pub(crate) async fn show_host(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, host)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, "volume_extension:hosts")?;
    let h = state.volumes.host(&host).await.or_api(SVC)?;
    ok(json!({ "host": h }))
}

pub(crate) async fn capabilities(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, host)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, "volume_extension:capabilities")?;
    let c = state.volumes.capabilities(&host).await.or_api(SVC)?;
    ok(c)
}
