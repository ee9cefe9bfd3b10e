//! Nova's deprecated `os-networks` proxy (gone at 2.36): the networks the caller sees in the
//! central Neutron, in Nova's `network_dict` shape (Neutron's `name` as `label`; the
//! nova-network fields a Neutron network lacks are `null`; the admin-only ones only for
//! admins).

use axum::Extension;
use axum::extract::{Path, State};
use cascade_core::network::{Caller, Kind, ListQuery};
use cascade_model::microversion::Microversion;
use serde_json::{Map, Value, json};

use super::misc::ok;
use super::{ApiResult, SVC};
use crate::auth::Auth;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

const FIELDS: &[&str] = &[
    "id",
    "cidr",
    "netmask",
    "gateway",
    "broadcast",
    "dns1",
    "dns2",
    "cidr_v6",
    "gateway_v6",
    "label",
    "netmask_v6",
];
const ADMIN_FIELDS: &[&str] = &[
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
    "injected",
    "bridge",
    "vlan",
    "vpn_public_address",
    "vpn_public_port",
    "vpn_private_address",
    "dhcp_start",
    "project_id",
    "host",
    "bridge_interface",
    "multi_host",
    "priority",
    "rxtx_base",
    "mtu",
    "dhcp_server",
    "enable_dhcp",
    "share_address",
];

fn network_dict(n: &Value, admin: bool) -> Value {
    let mut out = Map::new();
    let fields = FIELDS.iter().chain(ADMIN_FIELDS.iter().filter(|_| admin));
    for f in fields {
        let v = match *f {
            "label" => n["name"].clone(),
            k => n.get(k).cloned().unwrap_or(Value::Null),
        };
        out.insert((*f).to_string(), v);
    }
    Value::Object(out)
}

use super::proxy_api as proxy;

fn caller(auth: &Auth) -> ApiResult<Caller> {
    super::net_caller(&auth.0)
}

pub(crate) async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
) -> ApiResult {
    proxy(mv)?;
    let c = caller(&auth)?;
    let page = state
        .network
        .list(&c, Kind::Network, &ListQuery(Vec::new()))
        .await
        .map_err(cascade_core::CoreError::from)
        .or_api(SVC)?;
    let admin = auth.0.is_admin();
    let nets: Vec<Value> = page.items.iter().map(|n| network_dict(n, admin)).collect();
    ok(json!({ "networks": nets }))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv)?;
    let c = caller(&auth)?;
    let n = state
        .network
        .show(&c, Kind::Network, &id)
        .await
        .map_err(cascade_core::CoreError::from)
        .map_err(|e| match e.kind {
            cascade_core::ErrorKind::NotFound => ApiError::new(SVC, 404, "Network not found"),
            _ => ApiError::from_core(SVC, e),
        })?;
    ok(json!({"network": network_dict(&n, auth.0.is_admin())}))
}
