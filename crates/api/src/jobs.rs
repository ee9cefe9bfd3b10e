//! The admin job API at `/v1.0/jobs` (Tricircle's shapes): list and `detail` with filters
//! (`project_id`, `type`, `status` in any case, `pod_id`, `resource_id`) and `limit`/`marker`
//! paging, newest first with `jobs_links`; show; `PUT` = redo now (400 for `RUNNING` or
//! `SUCCESS`); `DELETE` (only `NEW` or `FAIL`, else 400). Admin only.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cascade_core::jobs::{Job, JobFilter};
use cascade_model::fault::Service;
use cascade_model::time::iso_seconds;
use http::StatusCode;
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

const SVC: Service = Service::Admin;
type ApiResult<T = Response> = Result<T, ApiError>;

/// Largest page returned (also the default).
const MAX_LIMIT: i64 = 1000;

const FILTERS: &[&str] = &[
    "project_id",
    "type",
    "status",
    "pod_id",
    "resource_id",
    "limit",
    "marker",
];

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(list_jobs))
        .route("/jobs/detail", get(list_jobs))
        .route("/jobs/{id}", get(show_job).put(redo_job).delete(delete_job))
}

fn admin(auth: &Auth) -> ApiResult<()> {
    auth.0.require_admin().or_api(SVC)
}

/// The wire form of a job.
fn view(job: &Job) -> Value {
    json!({
        "id": job.id,
        "project_id": job.project_id,
        "type": job.job_type,
        "status": job.status.as_str(),
        "resource": job.payload,
        "resource_id": job.resource_id,
        "pod_id": job.pod_id,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "last_error": job.last_error,
        "progress": job.progress,
        "timestamp": iso_seconds(job.updated_at),
        "created_at": iso_seconds(job.created_at),
        "run_at": iso_seconds(job.run_at),
    })
}

async fn list_jobs(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    admin(&auth)?;
    if let Some(bad) = q.keys().find(|k| !FILTERS.contains(&k.as_str())) {
        return Err(ApiError::new(
            SVC,
            400,
            format!(
                "Unsupported filter {bad:?}; use one of {}",
                FILTERS.join(", ")
            ),
        ));
    }
    let limit = match q.get("limit") {
        None => MAX_LIMIT,
        Some(v) => match v.parse::<i64>() {
            Ok(l) if l > 0 => l.min(MAX_LIMIT),
            _ => {
                return Err(ApiError::new(
                    SVC,
                    400,
                    format!("limit must be a positive integer, got {v:?}"),
                ));
            }
        },
    };
    let filter = JobFilter {
        project_id: q.get("project_id").cloned(),
        job_type: q.get("type").cloned(),
        status: q.get("status").cloned(),
        pod_id: q.get("pod_id").cloned(),
        resource_id: q.get("resource_id").cloned(),
    };
    let marker = q.get("marker").map(String::as_str);
    let mut jobs = state
        .jobs
        .list(&filter, limit + 1, marker)
        .await
        .or_api(SVC)?;
    let more = jobs.len() as i64 > limit;
    jobs.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut body = json!({"jobs": jobs.iter().map(view).collect::<Vec<_>>()});
    if more && let Some(last) = jobs.last() {
        let mut query: Vec<String> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "marker")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        query.sort();
        query.push(format!("marker={}", last.id));
        body["jobs_links"] = json!([{"rel": "next", "href": format!("{}/v1.0/jobs?{}", state.public_url, query.join("&"))}]);
    }
    Ok(Json(body).into_response())
}

async fn show_job(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult {
    admin(&auth)?;
    let job = state.jobs.get(&id).await.or_api(SVC)?;
    Ok(Json(json!({"job": view(&job)})).into_response())
}

async fn redo_job(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult {
    admin(&auth)?;
    let job = state.jobs.redo(&id).await.or_api(SVC)?;
    Ok(Json(json!({"job": view(&job)})).into_response())
}

async fn delete_job(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&auth)?;
    state.jobs.delete(&id).await.or_api(SVC)?;
    Ok((StatusCode::OK, Json(json!({}))).into_response())
}
