//! The top-level Neutron resources: validation with Neutron's error types and codes, the
//! documents as Neutron renders them, project scoping, IP/MAC allocation, segments, security
//! groups, routers, floating IPs, tags and quotas. Changes that must reach pods enqueue jobs
//! (`jobs.rs`); nothing here calls a pod. This file holds the helpers the kinds share; each
//! kind's logic is in its own module (`networks`, `subnets`, `ports`, `security_groups`,
//! `routers`, `floating_ips`), with reads and scoping in `reads`, the create / update / delete
//! entry points in `lifecycle`, attribute tables in `attrs` and tags and quotas in
//! `tags_quotas`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use cascade_store::StoreError;
use cascade_store::network::{IpAllocation, NetResourceRow, SegmentRow};
use cascade_store::routings::RoutingFilter;
use ipnet::IpNet;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ipam::{self, Pool, PoolError};
use super::jobs::NetJob;
use super::ownership::{
    INTERFACE_OF, ROUTER_GATEWAY_OWNER, attr_denied, check_chosen_ips, check_device_owner_policy,
    chosen_addresses,
};
use super::query::{ListQuery, Page};
use super::{
    Caller, Doc, Kind, L2Mode, NetError, NetQuotas, NetResult, NetworkService, doc_of, row_of,
    stamp, str_of, view,
};

mod attrs;
mod floating_ips;
mod lifecycle;
mod networks;
mod ports;
mod reads;
mod routers;
mod security_groups;
mod subnets;
mod tags_quotas;

use attrs::check_attrs;
pub(crate) use subnets::is_auto_address;

fn opt_str<'a>(b: &'a Doc, k: &str) -> NetResult<Option<&'a str>> {
    match b.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(NetError::invalid_input(format!(
            "'{v}' is not a valid string for {k}"
        ))),
    }
}

fn opt_bool(b: &Doc, k: &str) -> NetResult<Option<bool>> {
    match b.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(x)) => Ok(Some(*x)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(NetError::invalid_input(format!(
            "'{v}' is not a valid boolean value"
        ))),
    }
}

fn opt_int(b: &Doc, k: &str) -> NetResult<Option<i64>> {
    match b.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Some)
            .ok_or_else(|| NetError::invalid_input(format!("'{v}' is not an integer"))),
    }
}

fn str_list(b: &Doc, k: &str) -> NetResult<Option<Vec<String>>> {
    match b.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    NetError::invalid_input(format!("'{v}' is not a valid string in {k}"))
                })
            })
            .collect::<NetResult<Vec<_>>>()
            .map(Some),
        Some(v) => Err(NetError::invalid_input(format!("'{v}' is not a list"))),
    }
}

fn parse_ip(s: &str) -> NetResult<IpAddr> {
    s.parse()
        .map_err(|_| NetError::invalid_input(format!("'{s}' is not a valid IP address")))
}

/// Whose resource a create makes: the caller's project, or another one for administrators.
fn owner_of(caller: &Caller, b: &Doc) -> NetResult<String> {
    let asked = opt_str(b, "project_id")?.or(opt_str(b, "tenant_id")?);
    match asked {
        Some(p) if p != caller.project_id && !caller.is_admin => Err(NetError::bad_request(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
        )),
        Some(p) => Ok(p.to_string()),
        None => Ok(caller.project_id.clone()),
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A stable id derived from a seed (the default security group of a project, so concurrent
/// first uses create it once).
fn derived_id(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

fn base_doc(id: &str, project: &str, b: &Doc) -> NetResult<Doc> {
    let mut d = Doc::new();
    d.insert("id".into(), json!(id));
    d.insert("name".into(), json!(opt_str(b, "name")?.unwrap_or("")));
    d.insert(
        "description".into(),
        json!(opt_str(b, "description")?.unwrap_or("")),
    );
    d.insert("project_id".into(), json!(project));
    d.insert("tenant_id".into(), json!(project));
    d.insert(
        "tags".into(),
        json!(str_list(b, "tags")?.unwrap_or_default()),
    );
    stamp(&mut d, true);
    Ok(d)
}

fn pools_of(d: &Doc) -> Vec<Pool> {
    d.get("allocation_pools")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some(Pool {
                        start: p["start"].as_str()?.parse().ok()?,
                        end: p["end"].as_str()?.parse().ok()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn cidr_of(d: &Doc) -> Option<IpNet> {
    str_of(d, "cidr").parse().ok()
}

fn gateway_of(d: &Doc) -> Option<IpAddr> {
    str_of(d, "gateway_ip").parse().ok()
}

fn fixed_ips_of(d: &Doc) -> Vec<(String, IpAddr)> {
    d.get("fixed_ips")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| {
                    Some((
                        f["subnet_id"].as_str()?.to_string(),
                        f["ip_address"].as_str()?.parse().ok()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pool_error(e: PoolError) -> NetError {
    match e {
        PoolError::Invalid(m) => NetError::new(400, "InvalidAllocationPool", m),
        PoolError::Overlap(m) => NetError::new(400, "OverlappingAllocationPools", m),
        PoolError::Gateway(m) => NetError::new(409, "GatewayConflictWithAllocationPools", m),
    }
}

fn ip_taken(sid: &str, ip: IpAddr) -> NetError {
    NetError::conflict(
        "IpAddressAlreadyAllocated",
        format!("IP address {ip} already allocated in subnet {sid}"),
    )
}

fn exhausted(net_id: &str) -> NetError {
    NetError::conflict(
        "IpAddressGenerationFailure",
        format!("No more IP addresses available on network {net_id}."),
    )
}

pub(crate) fn fixed_ips(d: &Doc) -> Vec<(String, IpAddr)> {
    fixed_ips_of(d)
}

pub(crate) fn subnet_cidr(d: &Doc) -> Option<IpNet> {
    cidr_of(d)
}

pub(crate) fn subnet_pools(d: &Doc) -> Vec<Pool> {
    pools_of(d)
}

pub(crate) fn subnet_gateway(d: &Doc) -> Option<IpAddr> {
    gateway_of(d)
}
