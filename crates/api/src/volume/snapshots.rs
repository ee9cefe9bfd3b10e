//! `/snapshots`: create (Cinder's schema and errors), list and detail (filters, sort, `limit`,
//! `offset`, `marker`, `snapshots_links`), show, update, delete, the snapshot actions and a
//! snapshot's metadata.

use std::collections::{BTreeMap, HashMap};

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cascade_core::identity::AuthContext;
use cascade_core::volume::SnapshotQuery;
use cascade_model::microversion::Microversion;
use http::StatusCode;
use serde_json::json;

use super::views::SnapshotBody;
use super::volumes::{actor, string_map};
use super::{ApiResult, SVC, accepted, bad, check_project, requests, scope, views};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

fn ok(v: serde_json::Value) -> ApiResult {
    Ok(axum::Json(v).into_response())
}

/// `limit` / `offset`: Cinder's texts for a value that is not a non-negative integer.
fn count_param(q: &HashMap<String, String>, k: &str) -> ApiResult<Option<usize>> {
    let Some(v) = q.get(k) else { return Ok(None) };
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| bad(format!("{k} param must be an integer")))?;
    usize::try_from(n)
        .map(Some)
        .map_err(|_| bad(format!("{k} param must be positive")))
}

fn snapshot_query(q: &HashMap<String, String>) -> ApiResult<SnapshotQuery> {
    let (sort_key, sort_dir) = match q.get("sort") {
        Some(sort) => {
            // Cinder sorts on several keys; the first decides here.
            let first = sort.split(',').next().unwrap_or_default();
            let (k, d) = first.split_once(':').unwrap_or((first, "desc"));
            (
                Some(k.trim().to_string()),
                Some(d.trim().to_ascii_lowercase()),
            )
        }
        None => (
            q.get("sort_key").cloned(),
            q.get("sort_dir").map(|d| d.to_ascii_lowercase()),
        ),
    };
    let ascending = match sort_dir.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(d) => {
            return Err(bad(format!(
                "Invalid input received: Unknown sort direction, must be 'desc' or 'asc' ({d})"
            )));
        }
    };
    Ok(SnapshotQuery {
        volume_id: q.get("volume_id").cloned(),
        status: q.get("status").cloned(),
        name: q.get("name").or_else(|| q.get("display_name")).cloned(),
        sort_key,
        ascending,
        marker: q.get("marker").cloned(),
        limit: count_param(q, "limit")?,
        offset: count_param(q, "offset")?.unwrap_or(0),
    })
}

async fn snapshot_list(
    state: &AppState,
    ctx: &AuthContext,
    mv: Microversion,
    (project, raw): (&str, Option<String>),
    detail: bool,
) -> ApiResult {
    check_project(ctx, project)?;
    let q: HashMap<String, String> =
        url::form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let all = ctx.is_admin() && q.contains_key("all_tenants");
    let (list, next) = state
        .volumes
        .list_snapshots_page(&ctx.list_scope(all).or_api(SVC)?, &snapshot_query(&q)?)
        .await
        .or_api(SVC)?;
    let body = if detail {
        SnapshotBody::Extended
    } else {
        SnapshotBody::Summary
    };
    let out: Vec<views::SnapshotView<'_>> =
        list.iter().map(|s| views::snapshot(s, mv, body)).collect();
    let mut doc = json!({ "snapshots": out });
    if let Some(marker) = next {
        let path = if detail {
            "snapshots/detail"
        } else {
            "snapshots"
        };
        doc["snapshots_links"] = json!([{"rel": "next", "href": format!(
            "{}/volume/v3/{project}/{path}?{}", state.public_url, super::volumes::with_marker(raw.as_deref(), &marker)
        )}]);
    }
    ok(doc)
}

pub(crate) async fn index(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    snapshot_list(&state, &ctx, mv, (&project, raw), false).await
}

pub(crate) async fn detail(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    snapshot_list(&state, &ctx, mv, (&project, raw), true).await
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let req = requests::snapshot_create(&body::json(SVC, &raw)?)?;
    let actor = actor(&state, &ctx).await?;
    let row = state
        .volumes
        .create_snapshot(&actor, &scope(&ctx)?, req)
        .await
        .or_api(SVC)?;
    Ok(accepted(
        json!({"snapshot": views::snapshot(&row, mv, SnapshotBody::Detail)}),
    ))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let s = state
        .volumes
        .snapshot_row(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    ok(json!({"snapshot": views::snapshot(&s, mv, SnapshotBody::Extended)}))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let u = requests::snapshot_update(&body::json(SVC, &raw)?)?;
    let row = state
        .volumes
        .update_snapshot(&scope(&ctx)?, &id, u.name, u.description)
        .await
        .or_api(SVC)?;
    ok(json!({"snapshot": views::snapshot(&row, mv, SnapshotBody::Detail)}))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    state
        .volumes
        .delete_snapshot(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST /snapshots/{id}/action`: `os-reset_status` and `os-force_delete` (admin),
/// `os-update_snapshot_status`.
pub(crate) async fn action(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let doc = body::json(SVC, &raw)?;
    let (name, args) = doc
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| bad("Malformed request body: an action is required."))?;
    let admin_only = |rule: &str| {
        if ctx.is_admin() {
            Ok(())
        } else {
            Err(ApiError::new(
                SVC,
                403,
                format!(
                    "Policy doesn't allow volume_extension:snapshot_admin_actions:{rule} to be performed."
                ),
            ))
        }
    };
    let status = || {
        args["status"]
            .as_str()
            .ok_or_else(|| bad("Must specify 'status'"))
    };
    match name.as_str() {
        "os-reset_status" => {
            admin_only("reset_status")?;
            state
                .volumes
                .reset_snapshot_status(&id, status()?)
                .await
                .or_api(SVC)?;
        }
        "os-force_delete" => {
            admin_only("force_delete")?;
            state.volumes.force_delete_snapshot(&id).await.or_api(SVC)?;
        }
        "os-update_snapshot_status" => {
            let progress = match &args["progress"] {
                serde_json::Value::Null => None,
                serde_json::Value::String(p) => Some(p.clone()),
                _ => return Err(bad("Invalid input for field/attribute progress.")),
            };
            state
                .volumes
                .update_snapshot_status(&scope(&ctx)?, &id, status()?, progress)
                .await
                .or_api(SVC)?;
        }
        other => {
            state
                .volumes
                .snapshot_row(&scope(&ctx)?, &id)
                .await
                .or_api(SVC)?;
            return Err(bad(format!(
                "Invalid input received: action {other} is not supported by this cloud."
            )));
        }
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

// ---- metadata ---------------------------------------------------------------------------------

fn meta_response(m: BTreeMap<String, String>) -> Response {
    axum::Json(json!({"metadata": m})).into_response()
}

pub(crate) async fn metadata(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let m = state
        .volumes
        .snapshot_metadata(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(meta_response(m))
}

async fn set_metadata(
    state: &AppState,
    ctx: &AuthContext,
    (project, id): (&str, &str),
    raw: &Bytes,
    replace: bool,
) -> ApiResult {
    check_project(ctx, project)?;
    let doc = body::json(SVC, raw)?;
    let items = string_map(
        doc.get("metadata")
            .ok_or_else(|| bad("Malformed request body: 'metadata' is required."))?,
        "metadata",
    )?;
    let m = state
        .volumes
        .set_snapshot_metadata(&scope(ctx)?, id, items, replace)
        .await
        .or_api(SVC)?;
    Ok(meta_response(m))
}

pub(crate) async fn replace_metadata(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    set_metadata(&state, &ctx, (&project, &id), &raw, true).await
}

pub(crate) async fn update_metadata(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    set_metadata(&state, &ctx, (&project, &id), &raw, false).await
}

pub(crate) async fn metadata_item(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let m = state
        .volumes
        .snapshot_metadata(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let v = m.get(&key).ok_or_else(|| {
        ApiError::new(
            SVC,
            404,
            format!("Snapshot {id} has no metadata with key {key}."),
        )
    })?;
    ok(json!({"meta": {key: v}}))
}

pub(crate) async fn set_metadata_item(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let doc = body::json(SVC, &raw)?;
    let meta = string_map(&doc["meta"], "meta")?;
    if meta.len() != 1 || !meta.contains_key(&key) {
        return Err(bad("Request body and URI mismatch"));
    }
    state
        .volumes
        .set_snapshot_metadata(&scope(&ctx)?, &id, meta.clone(), false)
        .await
        .or_api(SVC)?;
    ok(json!({"meta": meta}))
}

pub(crate) async fn delete_metadata_item(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    state
        .volumes
        .delete_snapshot_metadata(&scope(&ctx)?, &id, &key)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::OK.into_response())
}
