//! Two admin reports: `os-instance_usage_audit_log` (every pod's audit of instance usage for
//! the last completed period, merged by `cascade_core::compute`; the time is validated here
//! with Nova's formats and message) and `os-migrations` (Cascade moves no server between hosts
//! or pods, and does not aggregate the pods' own migration records, so the list is empty, in
//! Nova's shape).

use axum::extract::{Path, State};
use chrono::NaiveDateTime;
use serde_json::json;

use super::misc::{admin, bad, ok};
use super::{ApiResult, SVC};
use crate::auth::Auth;
use crate::error::OrApi;
use crate::state::AppState;

pub(crate) async fn audit_logs(State(state): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    admin(&ctx)?;
    let log = state.compute.usage_audit_log(None).await.or_api(SVC)?;
    ok(json!({ "instance_usage_audit_logs": log }))
}

pub(crate) async fn audit_log(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(before): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    let at = NaiveDateTime::parse_from_str(&before, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&before, "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| bad(format!("Invalid timestamp for date {before}")))?;
    let canonical = at.format("%Y-%m-%d %H:%M:%S").to_string();
    let log = state
        .compute
        .usage_audit_log(Some(&canonical))
        .await
        .or_api(SVC)?;
    ok(json!({ "instance_usage_audit_log": log }))
}

pub(crate) async fn migrations(Auth(ctx): Auth) -> ApiResult {
    admin(&ctx)?;
    ok(json!({ "migrations": [] }))
}
