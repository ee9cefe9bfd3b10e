//! `os-instance_usage_audit_log`: the state of the periodic instance usage audit over the
//! region's compute hosts for the last completed month before a time (Nova's default audit
//! period). The simulator runs no audit task (Nova's `instance_usage_audit` is off by
//! default), so every compute host is reported as not run, as such a Nova reports it.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::identity::Auth;
use crate::server::Ctx;
use crate::util::now;

fn deny(action: &str) -> ApiError {
    ApiError::nova(
        403,
        format!(
            "Policy doesn't allow os_compute_api:os-instance-usage-audit-log:{action} to be performed."
        ),
    )
}

/// The last completed month before `before`: `[first of last month, first of this month)`.
fn period(before: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime) {
    let d = before.date();
    let end = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d);
    let (y, m) = if d.month() == 1 {
        (d.year() - 1, 12)
    } else {
        (d.year(), d.month() - 1)
    };
    let begin = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(end);
    (
        begin.and_hms_opt(0, 0, 0).unwrap_or_default(),
        end.and_hms_opt(0, 0, 0).unwrap_or_default(),
    )
}

fn report(ctx: &Ctx, before: NaiveDateTime) -> Value {
    let (b, e) = period(before);
    let hosts = [format!("{}-compute", ctx.region.name)];
    let n = hosts.len();
    json!({
        "hosts_not_run": hosts, "log": {}, "num_hosts": n, "num_hosts_done": 0,
        "num_hosts_not_run": n, "num_hosts_running": 0,
        "overall_status": format!("0 of {n} hosts done. 0 errors."),
        "period_beginning": b.format("%Y-%m-%d %H:%M:%S").to_string(),
        "period_ending": e.format("%Y-%m-%d %H:%M:%S").to_string(),
        "total_errors": 0, "total_instances": 0,
    })
}

pub(crate) async fn list(State(ctx): State<Ctx>, Extension(auth): Auth) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(deny("list"));
    }
    let at = now().naive_utc();
    Ok(axum::Json(json!({"instance_usage_audit_logs": report(&ctx, at)})).into_response())
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(before): Path<String>,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(deny("show"));
    }
    let at = NaiveDateTime::parse_from_str(&before, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&before, "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| ApiError::nova(400, format!("Invalid timestamp for date {before}")))?;
    Ok(axum::Json(json!({"instance_usage_audit_log": report(&ctx, at)})).into_response())
}
