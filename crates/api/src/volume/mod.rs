//! Cinder v3 at `/volume`: version documents (`/volume/` answers 300, `/volume/v3/` the v3
//! document with `min_version` 3.0 and `version` 3.71), microversion negotiation
//! (`OpenStack-API-Version: volume X.Y`, echoed on every answer, 406 outside the range), and
//! the routes under `/volume/v3/{project_id}`: volumes with actions and metadata
//! (`volumes.rs`), snapshots with metadata (`snapshots.rs`), types with extra specs and access
//! (`types.rs`), attachments, quota sets,
//! limits, availability zones and the extension list (`misc.rs`), pools and hosts
//! (`backends.rs`), volume transfers (`transfers.rs`). The project in the URL must be the token's (admins may name any).

mod backends;
mod misc;
mod requests;
mod snapshots;
mod transfers;
mod types;
mod views;
mod volumes;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cascade_core::identity::{AuthContext, Scope};
use cascade_model::fault::Service;
use cascade_model::microversion::{Microversion, MicroversionError, negotiate};
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};

use crate::error::{ApiError, OrApi};
use crate::state::AppState;

pub(crate) const MIN: Microversion = Microversion::new(3, 0);
pub(crate) const MAX: Microversion = Microversion::new(3, 71);
const SVC: Service = Service::Volume;

pub(crate) type ApiResult<T = Response> = Result<T, ApiError>;

pub(crate) fn router() -> Router<AppState> {
    let p = "/v3/{project_id}";
    let api = Router::new()
        .route(
            &format!("{p}/volumes"),
            get(volumes::index).post(volumes::create),
        )
        .route(&format!("{p}/volumes/detail"), get(volumes::detail))
        .route(&format!("{p}/volumes/summary"), get(volumes::summary))
        .route(
            &format!("{p}/volumes/{{id}}"),
            get(volumes::show)
                .put(volumes::update)
                .delete(volumes::delete),
        )
        .route(&format!("{p}/volumes/{{id}}/action"), post(volumes::action))
        .route(
            &format!("{p}/volumes/{{id}}/metadata"),
            get(volumes::metadata)
                .put(volumes::replace_metadata)
                .post(volumes::update_metadata),
        )
        .route(
            &format!("{p}/volumes/{{id}}/metadata/{{key}}"),
            get(volumes::metadata_item)
                .put(volumes::set_metadata_item)
                .delete(volumes::delete_metadata_item),
        )
        .route(
            &format!("{p}/snapshots"),
            get(snapshots::index).post(snapshots::create),
        )
        .route(&format!("{p}/snapshots/detail"), get(snapshots::detail))
        .route(
            &format!("{p}/snapshots/{{id}}"),
            get(snapshots::show)
                .put(snapshots::update)
                .delete(snapshots::delete),
        )
        .route(
            &format!("{p}/snapshots/{{id}}/action"),
            post(snapshots::action),
        )
        .route(
            &format!("{p}/snapshots/{{id}}/metadata"),
            get(snapshots::metadata)
                .put(snapshots::replace_metadata)
                .post(snapshots::update_metadata),
        )
        .route(
            &format!("{p}/snapshots/{{id}}/metadata/{{key}}"),
            get(snapshots::metadata_item)
                .put(snapshots::set_metadata_item)
                .delete(snapshots::delete_metadata_item),
        )
        .route(
            &format!("{p}/types"),
            get(types::types).post(types::create_type),
        )
        .route(
            &format!("{p}/types/{{id}}"),
            get(types::show_type)
                .put(types::update_type)
                .delete(types::delete_type),
        )
        .route(
            &format!("{p}/types/{{id}}/extra_specs"),
            get(types::list_specs).post(types::create_specs),
        )
        .route(
            &format!("{p}/types/{{id}}/extra_specs/{{key}}"),
            get(types::show_spec)
                .put(types::update_spec)
                .delete(types::delete_spec),
        )
        .route(
            &format!("{p}/types/{{id}}/action"),
            post(types::type_action),
        )
        .route(
            &format!("{p}/types/{{id}}/os-volume-type-access"),
            get(types::list_access),
        )
        .route(
            &format!("{p}/attachments"),
            get(misc::attachments).post(misc::create_attachment),
        )
        .route(
            &format!("{p}/attachments/detail"),
            get(misc::attachments_detail),
        )
        .route(
            &format!("{p}/attachments/{{id}}"),
            get(misc::show_attachment).delete(misc::delete_attachment),
        )
        .route(
            &format!("{p}/os-quota-sets/{{target}}"),
            get(misc::quotas)
                .put(misc::update_quotas)
                .delete(misc::delete_quotas),
        )
        .route(
            &format!("{p}/os-quota-class-sets/{{class}}"),
            get(misc::quota_class).put(misc::update_quota_class),
        )
        .route(
            &format!("{p}/os-quota-sets/{{target}}/defaults"),
            get(misc::quota_defaults),
        )
        .route(
            &format!("{p}/scheduler-stats/get_pools"),
            get(backends::pools),
        )
        .route(&format!("{p}/os-hosts"), get(backends::hosts))
        .route(
            &format!("{p}/capabilities/{{host}}"),
            get(backends::capabilities),
        )
        .route(&format!("{p}/os-hosts/{{host}}"), get(backends::show_host))
        .route(
            &format!("{p}/os-volume-transfer"),
            get(transfers::index).post(transfers::create),
        )
        .route(
            &format!("{p}/os-volume-transfer/detail"),
            get(transfers::detail),
        )
        .route(
            &format!("{p}/os-volume-transfer/{{id}}"),
            get(transfers::show).delete(transfers::delete),
        )
        .route(
            &format!("{p}/os-volume-transfer/{{id}}/accept"),
            post(transfers::accept),
        )
        .route(
            &format!("{p}/volume-transfers"),
            get(transfers::index).post(transfers::create),
        )
        .route(
            &format!("{p}/volume-transfers/detail"),
            get(transfers::detail),
        )
        .route(
            &format!("{p}/volume-transfers/{{id}}"),
            get(transfers::show).delete(transfers::delete),
        )
        .route(
            &format!("{p}/volume-transfers/{{id}}/accept"),
            post(transfers::accept),
        )
        .route(&format!("{p}/limits"), get(misc::limits))
        .route(
            &format!("{p}/os-availability-zone"),
            get(misc::availability_zones),
        )
        .route(&format!("{p}/extensions"), get(misc::extensions))
        .route("/", get(versions))
        .route("/v3", get(version))
        .route("/v3/", get(version));
    api.layer(middleware::from_fn(microversion))
}

fn version_doc(state: &AppState) -> Value {
    json!({
        "id": "v3.0", "status": "CURRENT", "version": MAX.to_string(), "min_version": MIN.to_string(),
        "updated": "2023-08-31T00:00:00Z",
        "links": [{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
                  {"rel": "self", "href": format!("{}/volume/v3/", state.public_url)}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}],
    })
}

pub(crate) async fn versions(State(state): State<AppState>) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": [version_doc(&state)]})),
    )
        .into_response()
}

async fn version(State(state): State<AppState>) -> Response {
    Json(json!({"versions": [version_doc(&state)]})).into_response()
}

/// Negotiates the microversion, stores it in the request, and echoes it on every response
/// (faults included).
async fn microversion(mut req: Request, next: Next) -> Response {
    let headers: Vec<String> = req
        .headers()
        .get_all("openstack-api-version")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let (mv, mut resp) = match negotiate("volume", &refs, None, MIN, MAX) {
        Ok(mv) => {
            req.extensions_mut().insert(mv);
            (mv, next.run(req).await)
        }
        Err(MicroversionError::Invalid(m)) => (MIN, ApiError::new(SVC, 400, m).into_response()),
        // Cinder echoes the requested version when it is out of range.
        Err(MicroversionError::Unsupported(v)) => (
            v,
            ApiError::new(
                SVC,
                406,
                format!("Version {v} is not supported by the API. Minimum is {MIN} and maximum is {MAX}."),
            )
            .into_response(),
        ),
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("volume {mv}")) {
        h.insert("openstack-api-version", v);
    }
    h.insert("vary", HeaderValue::from_static("OpenStack-API-Version"));
    resp
}

/// The project in the URL must be the token's, unless the caller is an admin.
pub(crate) fn check_project(ctx: &AuthContext, project_id: &str) -> ApiResult<()> {
    if ctx.is_admin() || ctx.project_id() == Some(project_id) {
        Ok(())
    } else {
        Err(ApiError::new(
            SVC,
            403,
            "Policy doesn't allow this operation: the project in the URL is not the token's project.",
        ))
    }
}

/// What the caller may reach: its project's, or every project's for admins.
pub(crate) fn scope(ctx: &AuthContext) -> ApiResult<Scope> {
    ctx.scope().or_api(SVC)
}

pub(crate) fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(SVC, 400, message)
}

pub(crate) fn accepted(body: Value) -> Response {
    (StatusCode::ACCEPTED, Json(body)).into_response()
}
