//! Nova v2.1 at `/compute/v2.1`: version discovery, microversion negotiation (2.1 to
//! [`MAX`], both `OpenStack-API-Version: compute X.Y` and `X-OpenStack-Nova-API-Version`
//! accepted and echoed on every answer, faults included; 406 outside the range), and the
//! route table of the compute resources implemented in the submodules.
//!
//! Simplifications: one hypervisor per region; no cells, no migrations, no
//! console, no rescue/shelve/rebuild; API extensions beyond the ones listed in the
//! submodules answer 404.

pub(crate) mod audit;
pub(crate) mod diagnostics;
pub(crate) mod events;
pub(crate) mod flavors;
pub(crate) mod hosts;
pub(crate) mod misc;
mod password;
pub(crate) mod servers;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::HeaderValue;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::server::Ctx;

/// Lowest and highest compute microversions served.
pub(crate) const MIN: Mv = Mv(2, 1);
pub(crate) const MAX: Mv = Mv(2, 100);
pub(crate) const PREFIX: &str = "/compute/v2.1";

/// A negotiated compute microversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Mv(pub(crate) u16, pub(crate) u16);

impl Mv {
    pub(crate) fn ge(self, major: u16, minor: u16) -> bool {
        self >= Mv(major, minor)
    }
    pub(crate) fn parse(s: &str) -> Option<Mv> {
        let (a, b) = s.trim().split_once('.')?;
        let valid = |x: &str| {
            !x.is_empty()
                && x.chars().all(|c| c.is_ascii_digit())
                && (x == "0" || !x.starts_with('0'))
        };
        if !valid(a) || !valid(b) || a == "0" {
            return None;
        }
        Some(Mv(a.parse().ok()?, b.parse().ok()?))
    }
}

impl std::fmt::Display for Mv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Reads the requested version from the headers (the API-SIG rules): none, or one for another
/// service, means the minimum; `latest` means the maximum.
#[cfg(test)]
pub(crate) fn negotiate(
    headers: &http::HeaderMap,
    service: &str,
    min: Mv,
    max: Mv,
) -> Result<Mv, ApiError> {
    negotiate_inner(headers, service, min, max).map_err(|(e, _)| e)
}

/// The version header values to answer with: the negotiated version, or on a 406 the
/// requested one (as Nova and Cinder echo it); none on a malformed request.
pub(crate) fn negotiate_echo(
    headers: &http::HeaderMap,
    service: &str,
    min: Mv,
    max: Mv,
) -> Result<Mv, (ApiError, Option<String>)> {
    negotiate_inner(headers, service, min, max)
}

fn negotiate_inner(
    headers: &http::HeaderMap,
    service: &str,
    min: Mv,
    max: Mv,
) -> Result<Mv, (ApiError, Option<String>)> {
    let mut requested: Option<String> = None;
    for v in headers.get_all("openstack-api-version") {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(',') {
            let mut it = part.split_whitespace();
            if it
                .next()
                .is_some_and(|svc| svc.eq_ignore_ascii_case(service))
            {
                requested = it.next().map(str::to_string);
            }
        }
    }
    if requested.is_none() && service == "compute" {
        requested = headers
            .get("x-openstack-nova-api-version")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_string());
    }
    let svc = if service == "compute" {
        crate::error::Service::Compute
    } else {
        crate::error::Service::Volume
    };
    let Some(req) = requested else { return Ok(min) };
    if req.eq_ignore_ascii_case("latest") {
        return Ok(max);
    }
    let Some(mv) = Mv::parse(&req) else {
        return Err((
            ApiError::new(
                svc,
                400,
                "",
                format!(
                    "API Version String {req} is of invalid format. Must be of format MajorNum.MinorNum."
                ),
            ),
            None,
        ));
    };
    if mv < min || mv > max {
        return Err((
            ApiError::new(
                svc,
                406,
                "",
                format!(
                    "Version {mv} is not supported by the API. Minimum is {min} and maximum is {max}."
                ),
            ),
            Some(mv.to_string()),
        ));
    }
    Ok(mv)
}

async fn mv_layer(mut req: Request, next: Next) -> Response {
    let (echo, mut resp) = match negotiate_echo(req.headers(), "compute", MIN, MAX) {
        Ok(mv) => {
            req.extensions_mut().insert(mv);
            (Some(mv.to_string()), next.run(req).await)
        }
        Err((e, echo)) => (echo, e.into_response()),
    };
    let h = resp.headers_mut();
    if let Some(mv) = echo {
        if let Ok(v) = HeaderValue::from_str(&format!("compute {mv}")) {
            h.insert("openstack-api-version", v);
        }
        if let Ok(v) = HeaderValue::from_str(&mv) {
            h.insert("x-openstack-nova-api-version", v);
        }
    }
    h.insert(
        "vary",
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    );
    resp
}

fn version_doc(base: &str) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}{PREFIX}/")},
                  {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]
    })
}

async fn versions(axum::extract::State(ctx): axum::extract::State<Ctx>) -> Response {
    axum::Json(json!({"versions": [version_doc(&ctx.region.base_url)]})).into_response()
}

async fn version(axum::extract::State(ctx): axum::extract::State<Ctx>) -> Response {
    axum::Json(json!({"version": version_doc(&ctx.region.base_url)})).into_response()
}

pub(crate) fn router(ctx: Ctx) -> Router<Ctx> {
    use flavors as f;
    use hosts as h;
    use misc as m;
    use servers as s;
    let p = |x: &str| format!("{PREFIX}{x}");
    let authed = Router::new()
        .route(&p("/servers"), get(s::list).post(s::create))
        .route(&p("/servers/detail"), get(s::list_detail))
        .route(
            &p("/servers/{id}"),
            get(s::show).put(s::update).delete(s::delete),
        )
        .route(&p("/servers/{id}/action"), post(s::action))
        .route(&p("/servers/{id}/diagnostics"), get(diagnostics::show))
        .route(
            &p("/servers/{id}/metadata"),
            get(s::meta_list).post(s::meta_merge).put(s::meta_replace),
        )
        .route(
            &p("/servers/{id}/metadata/{key}"),
            get(s::meta_get).put(s::meta_put).delete(s::meta_delete),
        )
        .route(
            &p("/servers/{id}/tags"),
            get(s::tags_list).put(s::tags_replace).delete(s::tags_clear),
        )
        .route(
            &p("/servers/{id}/tags/{tag}"),
            get(s::tag_check).put(s::tag_add).delete(s::tag_delete),
        )
        .route(
            &p("/servers/{id}/os-volume_attachments"),
            get(s::vol_list).post(s::vol_attach),
        )
        .route(
            &p("/servers/{id}/os-volume_attachments/{vol}"),
            get(s::vol_show).delete(s::vol_detach),
        )
        .route(&p("/servers/{id}/os-interface"), get(s::interfaces))
        .route(&p("/servers/{id}/ips"), get(s::ips))
        .route(
            &p("/servers/{id}/os-server-password"),
            get(password::show).delete(password::clear),
        )
        .route(&p("/servers/{id}/ips/{network}"), get(s::ips_by_network))
        .route(&p("/flavors"), get(f::list).post(f::create))
        .route(&p("/flavors/detail"), get(f::list_detail))
        .route(
            &p("/flavors/{id}"),
            get(f::show).delete(f::delete).put(f::update),
        )
        .route(&p("/flavors/{id}/action"), post(f::action))
        .route(&p("/flavors/{id}/os-flavor-access"), get(f::access_list))
        .route(
            &p("/flavors/{id}/os-extra_specs"),
            get(f::specs_list).post(f::specs_set),
        )
        .route(
            &p("/flavors/{id}/os-extra_specs/{key}"),
            get(f::spec_get).put(f::spec_put).delete(f::spec_delete),
        )
        .route(
            &p("/os-keypairs"),
            get(m::keypairs_list).post(m::keypair_create),
        )
        .route(
            &p("/os-keypairs/{name}"),
            get(m::keypair_show).delete(m::keypair_delete),
        )
        .route(
            &p("/os-server-groups"),
            get(m::groups_list).post(m::group_create),
        )
        .route(
            &p("/os-server-groups/{id}"),
            get(m::group_show).delete(m::group_delete),
        )
        .route(&p("/os-availability-zone"), get(m::az_list))
        .route(&p("/os-availability-zone/detail"), get(m::az_detail))
        .route(&p("/os-hypervisors"), get(h::hypervisors))
        .route(&p("/os-hypervisors/detail"), get(h::hypervisors_detail))
        .route(&p("/os-hypervisors/statistics"), get(h::hypervisor_stats))
        .route(&p("/os-hypervisors/{id}"), get(h::hypervisor_show))
        .route(&p("/os-hypervisors/{id}/uptime"), get(h::hypervisor_uptime))
        .route(&p("/os-hypervisors/{id}/search"), get(h::hypervisor_search))
        .route(
            &p("/os-hypervisors/{id}/servers"),
            get(h::hypervisor_servers),
        )
        .route(&p("/limits"), get(m::limits))
        .route(
            &p("/os-quota-sets/{project}"),
            get(m::quota_show).put(m::quota_update),
        )
        .route(
            &p("/os-quota-sets/{project}/defaults"),
            get(m::quota_defaults),
        )
        .route(&p("/os-simple-tenant-usage"), get(m::usage_all))
        .route(&p("/os-simple-tenant-usage/{project}"), get(m::usage_one))
        .route(&p("/os-instance_usage_audit_log"), get(audit::list))
        .route(
            &p("/os-instance_usage_audit_log/{before}"),
            get(audit::show),
        )
        .route(&p("/os-server-external-events"), post(events::create))
        .route(&p("/os-services"), get(h::services))
        .route(
            &p("/os-services/{id}"),
            axum::routing::put(h::service_update),
        )
        .route(&p("/extensions"), get(m::extensions))
        .route_layer(middleware::from_fn_with_state(
            ctx,
            crate::identity::auth_layer,
        ));
    Router::new()
        .route("/compute", get(versions))
        .route("/compute/", get(versions))
        .route(PREFIX, get(version))
        .route(&p("/"), get(version))
        .merge(authed)
        .layer(middleware::from_fn(mv_layer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut m = http::HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn negotiation_follows_the_api_sig_rules() {
        assert_eq!(negotiate(&h(&[]), "compute", MIN, MAX).unwrap(), MIN);
        assert_eq!(
            negotiate(
                &h(&[("openstack-api-version", "compute 2.47")]),
                "compute",
                MIN,
                MAX
            )
            .unwrap(),
            Mv(2, 47)
        );
        assert_eq!(
            negotiate(
                &h(&[("x-openstack-nova-api-version", "2.60")]),
                "compute",
                MIN,
                MAX
            )
            .unwrap(),
            Mv(2, 60)
        );
        assert_eq!(
            negotiate(
                &h(&[("openstack-api-version", "identity 3.1, compute 2.11")]),
                "compute",
                MIN,
                MAX
            )
            .unwrap(),
            Mv(2, 11)
        );
        assert_eq!(
            negotiate(
                &h(&[("openstack-api-version", "volume 3.5")]),
                "compute",
                MIN,
                MAX
            )
            .unwrap(),
            MIN
        );
        assert_eq!(
            negotiate(
                &h(&[("openstack-api-version", "compute latest")]),
                "compute",
                MIN,
                MAX
            )
            .unwrap(),
            MAX
        );
        assert_eq!(
            negotiate(
                &h(&[("openstack-api-version", "compute 2.999")]),
                "compute",
                MIN,
                MAX
            )
            .unwrap_err()
            .status,
            406
        );
        assert_eq!(
            negotiate(
                &h(&[("openstack-api-version", "compute 2.01")]),
                "compute",
                MIN,
                MAX
            )
            .unwrap_err()
            .status,
            400
        );
        assert_eq!(
            negotiate(
                &h(&[("openstack-api-version", "compute 1.0")]),
                "compute",
                MIN,
                MAX
            )
            .unwrap_err()
            .status,
            406
        );
    }
}
