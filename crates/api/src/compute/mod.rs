//! Nova v2.1 at `/compute/v2.1`: version documents, microversion negotiation (both headers
//! accepted and echoed, 406 outside 2.1–2.100), and the routes: servers (`servers.rs`), flavors,
//! keypairs, availability zones, limits, quotas, server groups and usage (`misc.rs`), the
//! deprecated security-group proxy (`security_groups.rs`), and the admin views of the pods'
//! hosts: `os-quota-class-sets` (`quota_classes.rs`), `os-hypervisors` (`hypervisors.rs`), `os-services` and `os-hosts` (`services.rs`),
//! `os-instance_usage_audit_log` and `os-migrations` (`audit.rs`), server diagnostics
//! (`diagnostics.rs`) `os-server-external-events` (`events.rs`)
//! and nova-network's `os-networks` proxy (`networks.rs`).

mod audit;
mod diagnostics;
mod events;
mod extensions;
mod flavors;
mod hypervisors;
mod images;
mod instance_actions;
mod keypairs;
mod misc;
mod networks;
mod proxy_routes;
mod quota_classes;
mod security_groups;
mod server_extras;
mod server_meta;
mod servers;
mod services;
pub(crate) mod views;
mod volume_proxy;
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

pub(crate) const MIN: Microversion = Microversion::new(2, 1);
pub(crate) const MAX: Microversion = Microversion::new(2, 100);
const SVC: Service = Service::Compute;

pub(crate) type ApiResult<T = Response> = Result<T, ApiError>;

/// What the caller may reach: its project's servers, or every project's for an admin.
pub(crate) fn scope(ctx: &AuthContext) -> ApiResult<Scope> {
    ctx.scope().or_api(SVC)
}

/// Nova's proxy APIs to Neutron and Cinder (`os-security-groups`, `os-networks`,
/// `os-tenant-networks`, `os-volumes`, `os-snapshots`) are gone from microversion 2.36: 404.
pub(crate) fn proxy_api(mv: Microversion) -> ApiResult<()> {
    if mv.at_least(2, 36) {
        Err(ApiError::new(SVC, 404, "The resource could not be found."))
    } else {
        Ok(())
    }
}

/// The caller as the central Neutron sees it (for Nova's network proxies).
pub(crate) fn net_caller(ctx: &AuthContext) -> ApiResult<cascade_core::network::Caller> {
    cascade_core::network::Caller::of(ctx)
        .map_err(cascade_core::CoreError::from)
        .or_api(SVC)
}

pub(crate) fn router() -> Router<AppState> {
    let api = Router::new()
        .route("/", get(version))
        .route("/servers", get(servers::index).post(servers::create))
        .route("/servers/detail", get(servers::detail))
        .route(
            "/servers/{id}",
            get(servers::show)
                .put(servers::update)
                .delete(servers::delete),
        )
        .route("/servers/{id}/action", post(servers::action))
        .route("/servers/{id}/diagnostics", get(diagnostics::show))
        .route(
            "/servers/{id}/metadata",
            get(server_meta::metadata)
                .put(server_meta::replace_metadata)
                .post(server_meta::update_metadata),
        )
        .route(
            "/servers/{id}/metadata/{key}",
            get(server_meta::metadata_item)
                .put(server_meta::set_metadata_item)
                .delete(server_meta::delete_metadata_item),
        )
        .route(
            "/servers/{id}/tags",
            get(server_meta::tags)
                .put(server_meta::replace_tags)
                .delete(server_meta::delete_tags),
        )
        .route(
            "/servers/{id}/tags/{tag}",
            get(server_meta::check_tag)
                .put(server_meta::add_tag)
                .delete(server_meta::delete_tag),
        )
        .route("/servers/{id}/ips", get(servers::ips))
        .route("/servers/{id}/ips/{network}", get(servers::ips_by_network))
        .route(
            "/servers/{id}/os-security-groups",
            get(security_groups::server_groups),
        )
        .route(
            "/os-security-groups",
            get(security_groups::list).post(security_groups::create),
        )
        .route(
            "/os-security-groups/{id}",
            get(security_groups::show)
                .put(security_groups::update)
                .delete(security_groups::delete),
        )
        .route(
            "/os-security-group-rules",
            post(security_groups::create_rule),
        )
        .route(
            "/os-security-group-rules/{id}",
            axum::routing::delete(security_groups::delete_rule),
        )
        .route(
            "/servers/{id}/os-volume_attachments",
            get(volumes::list).post(volumes::attach),
        )
        .route(
            "/servers/{id}/os-volume_attachments/{volume}",
            get(volumes::show)
                .put(volumes::update)
                .delete(volumes::detach),
        )
        .route(
            "/flavors",
            get(flavors::flavors).post(flavors::create_flavor),
        )
        .route("/flavors/detail", get(flavors::flavors_detail))
        .route(
            "/flavors/{id}",
            get(flavors::show_flavor)
                .put(flavors::update_flavor)
                .delete(flavors::delete_flavor),
        )
        .route("/flavors/{id}/action", post(flavors::flavor_action))
        .route(
            "/flavors/{id}/os-flavor-access",
            get(flavors::flavor_access),
        )
        .route(
            "/flavors/{id}/os-extra_specs",
            get(flavors::extra_specs).post(flavors::set_extra_specs),
        )
        .route(
            "/flavors/{id}/os-extra_specs/{key}",
            get(flavors::extra_spec)
                .put(flavors::put_extra_spec)
                .delete(flavors::delete_extra_spec),
        )
        .route(
            "/os-keypairs",
            get(keypairs::keypairs).post(keypairs::create_keypair),
        )
        .route(
            "/os-keypairs/{name}",
            get(keypairs::show_keypair).delete(keypairs::delete_keypair),
        )
        .route("/os-availability-zone", get(misc::availability_zones))
        .route(
            "/os-availability-zone/detail",
            get(misc::availability_zones),
        )
        .route("/limits", get(misc::limits))
        .route(
            "/os-quota-sets/{project}",
            get(misc::quotas)
                .put(misc::update_quotas)
                .delete(quota_classes::delete_quotas),
        )
        .route(
            "/os-quota-class-sets/{id}",
            get(quota_classes::show).put(quota_classes::update),
        )
        .route("/os-quota-sets/{project}/detail", get(misc::quotas_detail))
        .route(
            "/os-quota-sets/{project}/defaults",
            get(misc::quota_defaults),
        )
        .route(
            "/os-server-groups",
            get(misc::server_groups).post(misc::create_server_group),
        )
        .route(
            "/os-server-groups/{id}",
            get(misc::show_server_group).delete(misc::delete_server_group),
        )
        .route("/os-hypervisors", get(hypervisors::list))
        .route("/os-hypervisors/detail", get(hypervisors::detail))
        .route("/os-hypervisors/statistics", get(hypervisors::statistics))
        .route("/os-hypervisors/{id}", get(hypervisors::show))
        .route("/os-hypervisors/{id}/uptime", get(hypervisors::uptime))
        .route("/os-hypervisors/{id}/search", get(hypervisors::search))
        .route("/os-hypervisors/{id}/servers", get(hypervisors::servers))
        .route("/os-instance_usage_audit_log", get(audit::audit_logs))
        .route(
            "/os-instance_usage_audit_log/{before}",
            get(audit::audit_log),
        )
        .route("/os-migrations", get(audit::migrations))
        .route("/os-server-external-events", post(events::create))
        .route("/os-networks", get(networks::list))
        .route("/os-networks/{id}", get(networks::show))
        .route("/os-services", get(services::list))
        .route("/os-services/{id}", axum::routing::put(services::update))
        .route("/os-hosts", get(services::hosts))
        .route(
            "/os-hosts/{host}",
            get(services::show_host).put(services::update_host),
        )
        .route("/os-hosts/{host}/startup", get(services::power_action))
        .route("/os-hosts/{host}/shutdown", get(services::power_action))
        .route("/os-hosts/{host}/reboot", get(services::power_action))
        .route("/os-simple-tenant-usage", get(misc::usage_all))
        .route("/os-simple-tenant-usage/{project}", get(misc::usage_one))
        .merge(proxy_routes::routes())
        .layer(middleware::from_fn(microversion));
    Router::new()
        .route("/", get(versions))
        .route("/v2", get(version_v2))
        .route("/v2/", get(version_v2))
        .nest("/v2.1", api)
}

fn version_doc(state: &AppState, v21: bool) -> Value {
    if v21 {
        json!({
            "id": "v2.1", "status": "CURRENT", "version": MAX.to_string(), "min_version": MIN.to_string(),
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": format!("{}/compute/v2.1/", state.public_url)},
                      {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}],
        })
    } else {
        json!({
            "id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": format!("{}/compute/v2/", state.public_url)}],
        })
    }
}

pub(crate) async fn versions(State(state): State<AppState>) -> Response {
    Json(json!({"versions": [version_doc(&state, false), version_doc(&state, true)]}))
        .into_response()
}

/// `GET /compute/v2/`: the legacy v2.0 API's document (Nova serves v2.0 as v2.1 without
/// microversions at that URL).
pub(crate) async fn version_v2(State(state): State<AppState>) -> Response {
    let mut doc = version_doc(&state, false);
    doc["links"] = json!([
        {"rel": "self", "href": format!("{}/compute/v2/", state.public_url)},
        {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
    ]);
    doc["media-types"] = json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}]);
    Json(json!({ "version": doc })).into_response()
}

pub(crate) async fn version(State(state): State<AppState>) -> Response {
    Json(json!({"version": version_doc(&state, true)})).into_response()
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
    let legacy = req
        .headers()
        .get("x-openstack-nova-api-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let (echo, mut resp) = match negotiate("compute", &refs, legacy.as_deref(), MIN, MAX) {
        Ok(mv) => {
            req.extensions_mut().insert(mv);
            (Some(mv), next.run(req).await)
        }
        // Nova sends no version headers for a malformed version...
        Err(MicroversionError::Invalid(m)) => (None, ApiError::new(SVC, 400, m).into_response()),
        // ...and echoes the requested one when it is out of range.
        Err(MicroversionError::Unsupported(v)) => (
            Some(v),
            ApiError::new(
                SVC,
                406,
                format!("Version {v} is not supported by the API. Minimum is {MIN} and maximum is {MAX}."),
            )
            .into_response(),
        ),
    };
    let h = resp.headers_mut();
    if let Some(mv) = echo {
        if let Ok(v) = HeaderValue::from_str(&format!("compute {mv}")) {
            h.insert("openstack-api-version", v);
        }
        if let Ok(v) = HeaderValue::from_str(&mv.to_string()) {
            h.insert("x-openstack-nova-api-version", v);
        }
    }
    h.insert(
        "vary",
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    );
    resp
}

pub(crate) fn accepted(body: Value) -> Response {
    (StatusCode::ACCEPTED, Json(body)).into_response()
}
