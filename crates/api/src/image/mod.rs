//! Glance v2 at `/image`: version discovery (300 on the root), images (create 201, show,
//! list with filters, sorting, marker paging and the top-level `next`, JSON-patch update,
//! delete), tags, members, deactivate/reactivate, and the data routes
//! `PUT/GET /v2/images/{id}/file`, which stream (the request body goes to the pod as it
//! arrives, the pod's body to the client as it arrives) and so take the raw [`Body`], never a
//! size-limited extractor. Errors are Glance's plain-text pages. Handlers parse and call
//! [`cascade_core::image::ImageService`].

pub(crate) mod admin;
mod metadef_schemas;
mod metadefs;
mod tasks;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use cascade_core::image::{Caller, PatchDialect, UploadRequest, parse_patch};
use cascade_model::fault::Service;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

const SVC: Service = Service::Image;
type ApiResult<T = Response> = Result<T, ApiError>;

/// The Glance API versions Cascade advertises (its behaviour is that of v2.16 without import).
const VERSIONS: &[(&str, &str)] = &[
    ("v2.16", "CURRENT"),
    ("v2.15", "SUPPORTED"),
    ("v2.9", "SUPPORTED"),
    ("v2.7", "SUPPORTED"),
    ("v2.6", "SUPPORTED"),
    ("v2.5", "SUPPORTED"),
    ("v2.4", "SUPPORTED"),
    ("v2.3", "SUPPORTED"),
    ("v2.2", "SUPPORTED"),
    ("v2.1", "SUPPORTED"),
    ("v2.0", "SUPPORTED"),
];

pub(crate) fn router() -> Router<AppState> {
    tasks::routes(metadefs::routes(Router::new()))
        .route("/", get(versions))
        .route("/v2", get(versions))
        .route("/v2/", get(versions))
        .route("/v2/images", get(list).post(create))
        .route("/v2/images/{id}", get(show).patch(update).delete(remove))
        .route("/v2/images/{id}/file", put(upload).get(download))
        .route("/v2/images/{id}/tasks", get(tasks))
        .route(
            "/v2/images/{id}/tags/{tag}",
            put(add_tag).delete(remove_tag),
        )
        .route("/v2/images/{id}/members", get(members).post(add_member))
        .route(
            "/v2/images/{id}/members/{member}",
            get(member).put(set_member).delete(remove_member),
        )
        .route("/v2/images/{id}/actions/deactivate", post(deactivate))
        .route("/v2/images/{id}/actions/reactivate", post(reactivate))
        .route("/v2/schemas/image", get(schema_image))
        .route("/v2/schemas/images", get(schema_images))
        .route("/v2/schemas/member", get(schema_member))
        .route("/v2/schemas/members", get(schema_members))
        .route("/v2/info/import", get(import_info))
}

/// The root of `/image` without a trailing slash (axum's nest does not match it with `/`).
pub(crate) async fn versions(State(state): State<AppState>) -> Response {
    let href = format!("{}/image/v2/", state.public_url);
    let versions: Vec<Value> = VERSIONS
        .iter()
        .map(|(id, status)| json!({"id": id, "status": status, "links": [{"rel": "self", "href": href}]}))
        .collect();
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": versions})),
    )
        .into_response()
}

fn caller(auth: &Auth) -> ApiResult<Caller> {
    let project_id = auth
        .0
        .project_id()
        .ok_or_else(|| ApiError::new(SVC, 403, "A project-scoped token is required."))?
        .to_string();
    Ok(Caller {
        project_id,
        is_admin: auth.0.is_admin(),
    })
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

async fn list(State(state): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> ApiResult {
    let caller = caller(&auth)?;
    let params = query_pairs(q.as_deref());
    let page = state.images.list(&caller, &params).await.or_api(SVC)?;
    let mut out = json!({
        "images": page.images.iter().map(|i| i.to_glance()).collect::<Vec<_>>(),
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    });
    if let Some(next) = page.next_query {
        out["next"] = json!(format!("/v2/images?{next}"));
    }
    Ok(Json(out).into_response())
}

async fn create(State(state): State<AppState>, auth: Auth, raw: Bytes) -> ApiResult {
    let caller = caller(&auth)?;
    let v = body::json(SVC, &raw)?;
    let img = state.images.create(&caller, &v).await.or_api(SVC)?;
    let mut resp = (StatusCode::CREATED, Json(img.to_glance())).into_response();
    if let Ok(loc) =
        HeaderValue::from_str(&format!("{}/image/v2/images/{}", state.public_url, img.id))
    {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

async fn show(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult {
    let caller = caller(&auth)?;
    let img = state.images.get(&caller, &id).await.or_api(SVC)?;
    Ok(Json(img.to_glance()).into_response())
}

/// `GET /v2/images/{id}/tasks` (image API 2.12): the image's import tasks. Cascade's Glance
/// has no import (`/v2/info/import` lists no method), so an image has none.
async fn tasks(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult {
    let caller = caller(&auth)?;
    state.images.get(&caller, &id).await.or_api(SVC)?;
    Ok(Json(json!({"tasks": []})).into_response())
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(dialect) = PatchDialect::of_content_type(ct) else {
        return Err(ApiError::new(
            SVC,
            415,
            format!(
                "The request has media type {ct} which is not supported by this API. Use application/openstack-images-v2.1-json-patch."
            ),
        ));
    };
    let ops = parse_patch(&body::json(SVC, &raw)?, dialect).or_api(SVC)?;
    let img = state.images.update(&caller, &id, &ops).await.or_api(SVC)?;
    Ok(Json(img.to_glance()).into_response())
}

async fn remove(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult {
    let caller = caller(&auth)?;
    state.images.delete(&caller, &id).await.or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /v2/images/{id}/file`: the body streams straight to the image's home pod.
async fn upload(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult {
    let caller = caller(&auth)?;
    let headers = req.headers();
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    if !ct.starts_with("application/octet-stream") {
        return Err(ApiError::new(
            SVC,
            415,
            format!(
                "The request has media type {ct} which is not supported by this API. Use application/octet-stream."
            ),
        ));
    }
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = req
        .into_body()
        .into_data_stream()
        .map(|c| c.map_err(std::io::Error::other))
        .boxed();
    state
        .images
        .upload(
            &caller,
            &id,
            UploadRequest {
                body,
                content_length,
            },
        )
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v2/images/{id}/file`: the pod's body streams straight to the client.
async fn download(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult {
    let caller = caller(&auth)?;
    let d = state.images.download(&caller, &id).await.or_api(SVC)?;
    let Some(stream) = d.body else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(size) = d.size {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    if let Some(c) = d.checksum.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert("content-md5", c);
    }
    Ok(resp)
}

async fn add_tag(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    state.images.add_tag(&caller, &id, &tag).await.or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn remove_tag(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    state
        .images
        .remove_tag(&caller, &id, &tag)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn members(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult {
    let caller = caller(&auth)?;
    let ms = state.images.members(&caller, &id).await.or_api(SVC)?;
    Ok(Json(json!({
        "members": ms.iter().map(|m| m.to_glance()).collect::<Vec<_>>(),
        "schema": "/v2/schemas/members",
    }))
    .into_response())
}

async fn add_member(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let v = body::json(SVC, &raw)?;
    let member = v["member"]
        .as_str()
        .ok_or_else(|| ApiError::new(SVC, 400, "Member to be added not specified"))?;
    let m = state
        .images
        .add_member(&caller, &id, member)
        .await
        .or_api(SVC)?;
    Ok(Json(m.to_glance()).into_response())
}

async fn member(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    let m = state
        .images
        .member(&caller, &id, &member)
        .await
        .or_api(SVC)?;
    Ok(Json(m.to_glance()).into_response())
}

async fn set_member(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, member)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let v = body::json(SVC, &raw)?;
    let status = v["status"]
        .as_str()
        .ok_or_else(|| ApiError::new(SVC, 400, "Status not specified"))?;
    let m = state
        .images
        .set_member_status(&caller, &id, &member, status)
        .await
        .or_api(SVC)?;
    Ok(Json(m.to_glance()).into_response())
}

async fn remove_member(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    state
        .images
        .remove_member(&caller, &id, &member)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn deactivate(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let caller = caller(&auth)?;
    state
        .images
        .set_active(&caller, &id, false)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn reactivate(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let caller = caller(&auth)?;
    state
        .images
        .set_active(&caller, &id, true)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn image_schema() -> Value {
    let s = |t: &str| json!({"type": t});
    json!({
        "name": "image",
        "properties": {
            "id": s("string"), "name": {"type": ["null", "string"], "maxLength": 255},
            "status": {"type": "string", "readOnly": true, "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"]},
            "visibility": {"type": "string", "enum": ["community", "public", "private", "shared"]},
            "protected": s("boolean"), "os_hidden": s("boolean"), "checksum": {"type": ["null", "string"], "readOnly": true},
            "os_hash_algo": {"type": ["null", "string"], "readOnly": true}, "os_hash_value": {"type": ["null", "string"], "readOnly": true},
            "owner": {"type": ["null", "string"]}, "size": {"type": ["null", "integer"], "readOnly": true},
            "virtual_size": {"type": ["null", "integer"], "readOnly": true}, "container_format": {"type": ["null", "string"], "enum": [null, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]},
            "disk_format": {"type": ["null", "string"], "enum": [null, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]},
            "created_at": {"type": "string", "readOnly": true}, "updated_at": {"type": "string", "readOnly": true},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
            "min_ram": s("integer"), "min_disk": s("integer"),
            "self": {"type": "string", "readOnly": true}, "file": {"type": "string", "readOnly": true}, "schema": {"type": "string", "readOnly": true},
        },
        "additionalProperties": {"type": "string"},
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"}, {"rel": "describedby", "href": "{schema}"}],
    })
}

async fn schema_image() -> Response {
    Json(image_schema()).into_response()
}

async fn schema_images() -> Response {
    Json(json!({
        "name": "images",
        "properties": {"images": {"type": "array", "items": image_schema()}, "schema": {"type": "string"}, "first": {"type": "string"}, "next": {"type": "string"}},
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"}, {"rel": "describedby", "href": "{schema}"}],
    }))
    .into_response()
}

fn member_schema() -> Value {
    json!({
        "name": "member",
        "properties": {
            "created_at": {"type": "string"}, "image_id": {"type": "string"}, "member_id": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "accepted", "rejected"]},
            "updated_at": {"type": "string"}, "schema": {"type": "string", "readOnly": true},
        }
    })
}

async fn schema_member() -> Response {
    Json(member_schema()).into_response()
}

async fn schema_members() -> Response {
    Json(json!({"name": "members", "properties": {"members": {"type": "array", "items": member_schema()}, "schema": {"type": "string"}}}))
        .into_response()
}

async fn import_info() -> Response {
    Json(json!({"import-methods": {"description": "Import methods available.", "type": "array", "value": []}}))
        .into_response()
}
