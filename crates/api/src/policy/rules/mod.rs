//! The default rule of every route of every service, one file per service, in the style of
//! OpenStack's default policies: each route names the action the real service checks
//! (`os_compute_api:…`, `volume:…`, Neutron's `create_<resource>`, Glance's `get_images`,
//! Keystone's `identity:…`) and its default rule. An operator overrides a rule by action name
//! (`[policy]` in the configuration); the table never changes at run time.
//!
//! Neutron's collections share the routes `/v2.0/{coll}…`: their actions carry `{coll}`, which is
//! replaced by the collection's singular name (`create_network`). A more specific entry with the
//! collection spelled out (`/v2.0/quotas/{coll_id}`) wins over the generic one.

use http::Method;

pub(crate) use super::{Rule, Target};

/// One route's declared rule.
#[derive(Debug, Clone)]
pub struct RouteRule {
    pub method: Method,
    /// The route as registered, with the service's prefix (`/compute/v2.1/servers/{id}`).
    pub path: &'static str,
    /// The action name the real service checks; the key of operator overrides.
    pub action: &'static str,
    pub rule: Rule,
    /// Where the target project or user of the request is named in the path, if anywhere.
    pub target: Target,
}

pub(crate) const GET: Method = Method::GET;
pub(crate) const POST: Method = Method::POST;
pub(crate) const PUT: Method = Method::PUT;
pub(crate) const PATCH: Method = Method::PATCH;
pub(crate) const DELETE: Method = Method::DELETE;

pub(crate) use Rule::{
    AdminOnly, Authenticated, Monitor, Owner, ProjectMember, ProjectReader, Public,
};
pub(crate) use Target::{Nobody, Project, User};

pub(crate) const fn r(
    method: Method,
    path: &'static str,
    action: &'static str,
    rule: Rule,
    target: Target,
) -> RouteRule {
    RouteRule {
        method,
        path,
        action,
        rule,
        target,
    }
}

macro_rules! nova {
    ($m:expr, $p:literal, $a:literal, $rule:expr) => {
        r($m, concat!("/compute/v2.1", $p), $a, $rule, Nobody)
    };
    ($m:expr, $p:literal, $a:literal, $rule:expr, $t:expr) => {
        r($m, concat!("/compute/v2.1", $p), $a, $rule, $t)
    };
}

macro_rules! cinder {
    ($m:expr, $p:literal, $a:literal, $rule:expr) => {
        r(
            $m,
            concat!("/volume/v3/{project_id}", $p),
            $a,
            $rule,
            Project("project_id"),
        )
    };
}

macro_rules! glance {
    ($m:expr, $p:literal, $a:literal, $rule:expr) => {
        r($m, concat!("/image", $p), $a, $rule, Nobody)
    };
}

macro_rules! keystone {
    ($m:expr, $p:literal, $a:literal, $rule:expr) => {
        r($m, concat!("/identity", $p), $a, $rule, Nobody)
    };
    ($m:expr, $p:literal, $a:literal, $rule:expr, $t:expr) => {
        r($m, concat!("/identity", $p), $a, $rule, $t)
    };
}

macro_rules! admin_api {
    ($m:expr, $p:literal, $a:literal) => {
        r($m, concat!("/v1.0", $p), $a, AdminOnly, Nobody)
    };
}

mod cascade;
mod compute;
mod compute_proxy;
mod identity;
mod image;
mod network;
mod volume;

/// Every route's default rule, service by service.
pub fn default_rules() -> impl Iterator<Item = &'static RouteRule> {
    identity::IDENTITY
        .iter()
        .chain(compute::COMPUTE)
        .chain(compute_proxy::COMPUTE_PROXY)
        .chain(network::NETWORK)
        .chain(image::IMAGE)
        .chain(volume::VOLUME)
        .chain(cascade::CASCADE)
}
