//! `/volumes`: create (explicit nulls accepted, as the CLI sends them), list and detail (from the
//! index: filters, `sort`/`sort_key`/`sort_dir`, `limit`/`marker`, `volumes_links`), summary, show,
//! update, delete, actions (`os-extend`, `os-set_bootable`, `os-update_readonly_flag`,
//! `os-reserve`, `os-unreserve`, the image metadata actions, `os-reset_status`) and metadata.

use std::collections::{BTreeMap, HashMap};

use axum::Extension;
use axum::extract::{Path, Query, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cascade_core::identity::{Actor, AuthContext, Scope};
use cascade_core::volume::{ListQuery, VolumeCreate, VolumeService, VolumeUpdate};
use cascade_model::microversion::Microversion;
use http::StatusCode;
use serde_json::{Value, json};

use super::views::VolumeBody;
use super::{ApiResult, SVC, accepted, bad, check_project, scope, views};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

pub(crate) async fn actor(state: &AppState, ctx: &AuthContext) -> ApiResult<Actor> {
    state.delegation.actor(ctx).await.or_api(SVC)
}

fn text(v: &Value, k: &str) -> ApiResult<Option<String>> {
    match &v[k] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(bad(format!(
            "Invalid input for field/attribute {k}. Value: {}. It must be a string.",
            v[k]
        ))),
    }
}

pub(crate) fn string_map(v: &Value, field: &str) -> ApiResult<BTreeMap<String, String>> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(bad(format!(
                    "Invalid input for field/attribute {field}. Value: {v}. The values must be strings."
                ))),
            })
            .collect(),
        _ => Err(bad(format!(
            "Invalid input for field/attribute {field}. It must be an object."
        ))),
    }
}

fn size_of(v: &Value, field: &str) -> ApiResult<Option<i64>> {
    let invalid = || {
        bad(format!(
            "Invalid input received: {field} '{v}' must be an integer and greater than 0"
        ))
    };
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(invalid),
        Value::String(s) => s.trim().parse::<i64>().map(Some).map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

const CREATE_FIELDS: &[&str] = &[
    "name",
    "display_name",
    "description",
    "display_description",
    "size",
    "availability_zone",
    "volume_type",
    "metadata",
    "imageRef",
    "image_id",
    "snapshot_id",
    "source_volid",
    "consistencygroup_id",
    "backup_id",
    "group_id",
    "multiattach",
    "source_replica",
    "scheduler_hints",
];

fn parse_create(v: &Value, hints: &Value) -> ApiResult<VolumeCreate> {
    let o = v
        .as_object()
        .ok_or_else(|| bad("Invalid input for field/attribute volume. It must be an object."))?;
    if let Some(k) = o.keys().find(|k| !CREATE_FIELDS.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field/attribute volume. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    for unsupported in [
        "backup_id",
        "consistencygroup_id",
        "group_id",
        "source_replica",
    ] {
        if !v[unsupported].is_null() {
            return Err(bad(format!(
                "Invalid input received: {unsupported} is not supported by this cloud."
            )));
        }
    }
    let size = size_of(&v["size"], "size")?;
    if let Some(s) = size
        && s <= 0
    {
        return Err(bad(format!(
            "Invalid input received: Volume size '{s}' must be an integer and greater than 0"
        )));
    }
    let sources = ["imageRef", "image_id", "snapshot_id", "source_volid"];
    if size.is_none() && sources.iter().all(|k| v[*k].is_null()) {
        return Err(bad(
            "Invalid input received: Volume size 'None' must be an integer and greater than 0",
        ));
    }
    let hints = if hints.is_null() {
        &v["scheduler_hints"]
    } else {
        hints
    };
    Ok(VolumeCreate {
        name: text(v, "name")?.or(text(v, "display_name")?),
        description: text(v, "description")?.or(text(v, "display_description")?),
        size,
        availability_zone: text(v, "availability_zone")?,
        volume_type: text(v, "volume_type")?,
        metadata: string_map(&v["metadata"], "metadata")?,
        image_ref: text(v, "imageRef")?.or(text(v, "image_id")?),
        snapshot_id: text(v, "snapshot_id")?,
        source_volid: text(v, "source_volid")?,
        multiattach: v["multiattach"].as_bool().unwrap_or(false),
        local_to_instance: hints["local_to_instance"].as_str().map(str::to_string),
        admin: false,
    })
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let doc = body::json(SVC, &raw)?;
    let v = doc
        .get("volume")
        .ok_or_else(|| bad("Missing required element 'volume' in request body."))?;
    let hints = doc
        .get("OS-SCH-HNT:scheduler_hints")
        .cloned()
        .unwrap_or(Value::Null);
    let mut req = parse_create(v, &hints)?;
    req.admin = ctx.is_admin();
    let actor = actor(&state, &ctx).await?;
    let row = state.volumes.create_volume(&actor, req).await.or_api(SVC)?;
    let view = cascade_core::volume::VolumeView {
        row,
        unavailable: false,
    };
    let types = type_ids(&state, mv).await?;
    Ok(accepted(json!({"volume": views::volume_full(
        &state.public_url,
        &project,
        &view,
        mv,
        ctx.is_admin(),
        VolumeBody::Plain,
        types.get(&view.row.volume_type).map(String::as_str),
    )})))
}

fn truthy(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "t" | "on" | "y"
    )
}

fn list_query(ctx: &AuthContext, raw: Option<String>) -> ApiResult<ListQuery> {
    let q: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let admin = ctx.is_admin();
    let all_tenants = admin
        && q.get("all_tenants")
            .is_some_and(|v| v.is_empty() || truthy(v));
    let mut lq = ListQuery::new(ctx.list_scope(all_tenants).or_api(SVC)?);
    if all_tenants {
        lq.filter.project_id = q.get("project_id").cloned();
    }
    lq.filter.name = q.get("name").or_else(|| q.get("display_name")).cloned();
    lq.filter.status = q.get("status").cloned();
    lq.filter.az = q.get("availability_zone").cloned();
    lq.filter.volume_type = q.get("volume_type").cloned();
    lq.filter.bootable = q.get("bootable").map(|b| truthy(b));
    if let Some(m) = q.get("metadata") {
        // `metadata={"k": "v"}` (JSON) or Python's dict repr with single quotes.
        let parsed: Value = serde_json::from_str(m)
            .or_else(|_| serde_json::from_str(&m.replace('\'', "\"")))
            .map_err(|_| {
                bad(format!(
                    "Invalid input received: Invalid filter metadata={m}"
                ))
            })?;
        lq.metadata = string_map(&parsed, "metadata")?;
    }
    if let Some(t) = q.get("changes-since") {
        lq.filter.changes_since = Some(VolumeService::parse_time(t).ok_or_else(|| {
            bad(format!(
                "Invalid input received: Invalid changes-since value {t}"
            ))
        })?);
    }
    if let Some(sort) = q.get("sort") {
        if q.contains_key("sort_key") || q.contains_key("sort_dir") {
            return Err(bad(
                "Invalid input received: The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.",
            ));
        }
        // Cinder sorts on several keys; the index pages on the first.
        let first = sort.split(',').next().unwrap_or_default();
        let (k, d) = first.split_once(':').unwrap_or((first, "desc"));
        lq.sort_key = Some(k.trim().to_string());
        lq.sort_dir = Some(d.trim().to_ascii_lowercase());
    } else {
        lq.sort_key = q.get("sort_key").cloned();
        lq.sort_dir = q.get("sort_dir").map(|d| d.to_ascii_lowercase());
    }
    lq.limit =
        match q.get("limit") {
            Some(l) => Some(l.parse::<i64>().ok().filter(|l| *l >= 0).ok_or_else(|| {
                bad("Invalid input received: limit must be a non-negative integer")
            })? as usize),
            None => None,
        };
    lq.marker = q.get("marker").cloned();
    Ok(lq)
}

/// The query of a `next` link: the request's own parameters, `marker` replaced (Cinder's
/// `_get_next_link`).
/// Volume type name → id, for `volume_type_id` (3.63+); empty below 3.63.
async fn type_ids(state: &AppState, mv: Microversion) -> ApiResult<BTreeMap<String, String>> {
    if !mv.at_least(3, 63) {
        return Ok(BTreeMap::new());
    }
    let types = state.volumes.list_types(&Scope::Admin).await.or_api(SVC)?;
    Ok(types.into_iter().map(|t| (t.name, t.id)).collect())
}

pub(crate) fn with_marker(query: Option<&str>, marker: &str) -> String {
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .filter(|(k, _)| k != "marker")
            .collect();
    params.push(("marker".into(), marker.to_string()));
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

async fn list(
    state: &AppState,
    ctx: &AuthContext,
    mv: Microversion,
    project: &str,
    raw: Option<String>,
    detail: bool,
) -> ApiResult {
    check_project(ctx, project)?;
    let query = raw.clone();
    let lq = list_query(ctx, raw)?;
    let page = state.volumes.list_volumes(&lq).await.or_api(SVC)?;
    let types = if detail {
        type_ids(state, mv).await?
    } else {
        BTreeMap::new()
    };
    let volumes: Vec<Value> = page
        .volumes
        .iter()
        .map(|v| {
            if detail {
                json!(views::volume_full(
                    &state.public_url,
                    project,
                    v,
                    mv,
                    ctx.is_admin(),
                    VolumeBody::Extended,
                    types.get(&v.row.volume_type).map(String::as_str),
                ))
            } else {
                views::volume_brief(&state.public_url, project, v)
            }
        })
        .collect();
    let mut body = json!({"volumes": volumes});
    if let Some(marker) = page.next_marker {
        let qs = with_marker(query.as_deref(), &marker);
        let path = if detail { "volumes/detail" } else { "volumes" };
        body["volumes_links"] = json!([{"rel": "next", "href": format!("{}/volume/v3/{project}/{path}?{qs}", state.public_url)}]);
    }
    Ok(axum::Json(body).into_response())
}

pub(crate) async fn index(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    list(&state, &ctx, mv, &project, raw, false).await
}

pub(crate) async fn detail(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    list(&state, &ctx, mv, &project, raw, true).await
}

/// `GET /volumes/summary` (3.12; `metadata` from 3.36). Below 3.12 `summary` is a volume id.
pub(crate) async fn summary(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_project(&ctx, &project)?;
    if !mv.at_least(3, 12) {
        return Err(ApiError::new(
            SVC,
            404,
            "Volume summary could not be found.",
        ));
    }
    let lq = list_query(&ctx, raw)?;
    let s = state.volumes.volume_summary(&lq).await.or_api(SVC)?;
    let mut body = json!({"total_size": s.size, "total_count": s.count});
    if mv.at_least(3, 36) {
        body["metadata"] = json!(s.metadata);
    }
    Ok(axum::Json(json!({ "volume-summary": body })).into_response())
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let view = state
        .volumes
        .get_volume(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let types = type_ids(&state, mv).await?;
    Ok(axum::Json(json!({"volume": views::volume_full(
        &state.public_url,
        &project,
        &view,
        mv,
        ctx.is_admin(),
        VolumeBody::Extended,
        types.get(&view.row.volume_type).map(String::as_str),
    )}))
    .into_response())
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let doc = body::json(SVC, &raw)?;
    let v = doc
        .get("volume")
        .ok_or_else(|| bad("Missing required element 'volume' in request body."))?;
    let opt = |k: &str| -> ApiResult<Option<Option<String>>> {
        match v.get(k) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(_) => Err(bad(format!("Invalid input for field/attribute {k}."))),
        }
    };
    let u = VolumeUpdate {
        name: opt("name")?.or(opt("display_name")?),
        description: opt("description")?.or(opt("display_description")?),
        metadata: match v.get("metadata") {
            None => None,
            Some(m) => Some(string_map(m, "metadata")?),
        },
    };
    let view = state
        .volumes
        .update_volume(&scope(&ctx)?, &id, u)
        .await
        .or_api(SVC)?;
    let types = type_ids(&state, mv).await?;
    Ok(axum::Json(json!({"volume": views::volume_full(
        &state.public_url,
        &project,
        &view,
        mv,
        ctx.is_admin(),
        VolumeBody::Plain,
        types.get(&view.row.volume_type).map(String::as_str),
    )}))
    .into_response())
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let cascade = q.get("cascade").is_some_and(|c| truthy(c));
    state
        .volumes
        .delete_volume(&scope(&ctx)?, &id, cascade)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

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
    match name.as_str() {
        "os-extend" => {
            let new_size = size_of(&args["new_size"], "new_size")?
                .ok_or_else(|| bad("Invalid input for field/attribute new_size."))?;
            let actor = actor(&state, &ctx).await?;
            state
                .volumes
                .extend_volume(&actor, &scope(&ctx)?, &id, new_size)
                .await
                .or_api(SVC)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-set_bootable" => {
            let b = match &args["bootable"] {
                Value::Bool(b) => *b,
                Value::String(s) => truthy(s),
                _ => return Err(bad("Invalid input for field/attribute bootable.")),
            };
            state
                .volumes
                .set_bootable(&scope(&ctx)?, &id, b)
                .await
                .or_api(SVC)?;
            Ok(StatusCode::OK.into_response())
        }
        "os-update_readonly_flag" => {
            let readonly = super::requests::readonly_flag(args)?;
            state
                .volumes
                .update_readonly_flag(&scope(&ctx)?, &id, readonly)
                .await
                .or_api(SVC)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-reserve" => {
            state
                .volumes
                .reserve_volume(&scope(&ctx)?, &id)
                .await
                .or_api(SVC)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-unreserve" => {
            state
                .volumes
                .unreserve_volume(&scope(&ctx)?, &id)
                .await
                .or_api(SVC)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-show_image_metadata" => {
            let m = state
                .volumes
                .volume_image_metadata(&scope(&ctx)?, &id)
                .await
                .or_api(SVC)?;
            Ok(axum::Json(json!({ "metadata": m })).into_response())
        }
        "os-set_image_metadata" => {
            let items = string_map(&args["metadata"], "metadata")?;
            let m = state
                .volumes
                .change_volume_image_metadata(&scope(&ctx)?, &id, items, None)
                .await
                .or_api(SVC)?;
            Ok(axum::Json(json!({ "metadata": m })).into_response())
        }
        "os-unset_image_metadata" => {
            let key = args["key"].as_str().ok_or_else(|| {
                bad(format!(
                    "Invalid input for field/attribute os-unset_image_metadata. Value: {}. 'key' is a required property",
                    super::requests::py_repr(args)
                ))
            })?;
            state
                .volumes
                .change_volume_image_metadata(&scope(&ctx)?, &id, BTreeMap::new(), Some(key))
                .await
                .or_api(SVC)?;
            Ok(StatusCode::OK.into_response())
        }
        "os-reset_status" => {
            if !ctx.is_admin() {
                return Err(ApiError::new(
                    SVC,
                    403,
                    "Policy doesn't allow volume_extension:volume_admin_actions:reset_status to be performed.",
                ));
            }
            let status = args["status"]
                .as_str()
                .ok_or_else(|| bad("Must specify 'status'"))?;
            let mut extra = serde_json::Map::new();
            for k in ["attach_status", "migration_status"] {
                if let Some(v) = args.get(k).filter(|v| !v.is_null()) {
                    extra.insert(k.into(), v.clone());
                }
            }
            state
                .volumes
                .reset_status(&id, status, extra)
                .await
                .or_api(SVC)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-retype" => {
            let new_type = args["new_type"]
                .as_str()
                .ok_or_else(|| bad("Invalid input for field/attribute new_type."))?;
            let policy = match &args["migration_policy"] {
                Value::Null => "never",
                Value::String(p) => p.as_str(),
                _ => return Err(bad("Invalid input for field/attribute migration_policy.")),
            };
            state
                .volumes
                .retype_volume(&scope(&ctx)?, &id, new_type, policy)
                .await
                .or_api(SVC)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-force_delete" => {
            if !ctx.is_admin() {
                return Err(ApiError::new(
                    SVC,
                    403,
                    "Policy doesn't allow volume_extension:volume_admin_actions:force_delete to be performed.",
                ));
            }
            state.volumes.force_delete_volume(&id).await.or_api(SVC)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        other => {
            // Cinder finds the volume before it looks at the action: a missing one is a 404.
            state
                .volumes
                .volume_row(&scope(&ctx)?, &id)
                .await
                .or_api(SVC)?;
            Err(bad(format!(
                "Invalid input received: action {other} is not supported by this cloud."
            )))
        }
    }
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
        .volume_metadata(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(meta_response(m))
}

async fn set_metadata(
    state: &AppState,
    ctx: &AuthContext,
    project: &str,
    id: &str,
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
        .set_volume_metadata(&scope(ctx)?, id, items, replace)
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
    set_metadata(&state, &ctx, &project, &id, &raw, true).await
}

pub(crate) async fn update_metadata(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    set_metadata(&state, &ctx, &project, &id, &raw, false).await
}

pub(crate) async fn metadata_item(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let m = state
        .volumes
        .volume_metadata(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let v = m.get(&key).ok_or_else(|| {
        ApiError::new(
            SVC,
            404,
            format!("Volume {id} has no metadata with key {key}."),
        )
    })?;
    Ok(axum::Json(json!({"meta": {key: v}})).into_response())
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
        .set_volume_metadata(&scope(&ctx)?, &id, meta.clone(), false)
        .await
        .or_api(SVC)?;
    Ok(axum::Json(json!({"meta": meta})).into_response())
}

pub(crate) async fn delete_metadata_item(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    state
        .volumes
        .delete_volume_metadata(&scope(&ctx)?, &id, &key)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::OK.into_response())
}
