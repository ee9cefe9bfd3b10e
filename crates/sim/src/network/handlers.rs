//! Neutron create/update/delete rules per resource: networks (provider attributes for
//! admins, segmentation ids allocated for tenant networks), subnets (pools, gateway, v4/v6,
//! overlap check), ports (caller-given fixed IPs and MAC honoured, conflicts as 409
//! `IpAddressAlreadyAllocated`/`MacAddressInUse`, binding attributes for admins, allowed
//! address pairs, port security), routers (gateway with SNAT, interfaces by subnet or port,
//! static routes validated against attached subnets), security groups and rules (duplicate
//! rules refused), floating IPs (allocation from an external network, association only
//! when a router connects the port's subnet to it), and the tags sub-resource.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::model::{NetworkState, cidr_of, ip_of, nerr, stamp};
use super::{kind, map_of, map_of_mut, render, visible};
use crate::error::{ApiError, ApiResult};
use crate::identity::AuthContext;
use crate::server::Ctx;
use crate::util::{Ts, new_id, now, str_field};

pub(crate) fn not_found(coll: &str, id: &str) -> ApiError {
    let (kind_name, what) = match coll {
        "networks" => ("NetworkNotFound", "Network"),
        "subnets" => ("SubnetNotFound", "Subnet"),
        "ports" => ("PortNotFound", "Port"),
        "routers" => ("RouterNotFound", "Router"),
        "security-groups" => ("SecurityGroupNotFound", "Security group"),
        "security-group-rules" => ("SecurityGroupRuleNotFound", "Security group rule"),
        _ => ("FloatingIPNotFound", "Floating IP"),
    };
    nerr(404, kind_name, format!("{what} {id} could not be found."))
}

fn body(b: &Bytes, single: &str) -> ApiResult<Map<String, Value>> {
    let v: Value = serde_json::from_slice(b)
        .map_err(|e| nerr(400, "BadRequest", format!("Failed to parse request. {e}")))?;
    v.get(single)
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            nerr(
                400,
                "BadRequest",
                format!("Failed to parse request. Resource body required: {single}"),
            )
        })
}

fn owner_of(auth: &AuthContext, b: &Map<String, Value>) -> ApiResult<String> {
    match b
        .get("project_id")
        .or(b.get("tenant_id"))
        .and_then(Value::as_str)
    {
        Some(p) if p != auth.project_id && !auth.is_admin => Err(nerr(
            403,
            "PolicyNotAuthorized",
            "Only admin can create resources on behalf of other projects.",
        )),
        Some(p) => Ok(p.to_string()),
        None => Ok(auth.project_id.clone()),
    }
}

fn s<'a>(b: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    b.get(k).and_then(Value::as_str)
}

fn base(id: &str, project: &str, b: &Map<String, Value>, t: &Ts) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("id".into(), json!(id));
    o.insert("name".into(), json!(s(b, "name").unwrap_or("")));
    o.insert(
        "description".into(),
        json!(s(b, "description").unwrap_or("")),
    );
    o.insert("project_id".into(), json!(project));
    o.insert("tenant_id".into(), json!(project));
    o.insert("tags".into(), json!([]));
    stamp(&mut o, t, true);
    o
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_port(
    id: &str,
    project: &str,
    net: &str,
    name: &str,
    mac: &str,
    fixed: Vec<Value>,
    device_id: &str,
    owner: &str,
    sgs: Vec<String>,
    port_security: bool,
    host: &str,
) -> Value {
    let t = now();
    let mut o = base(id, project, &Map::new(), &t);
    o.insert("name".into(), json!(name));
    o.insert("network_id".into(), json!(net));
    o.insert("mac_address".into(), json!(mac));
    o.insert("fixed_ips".into(), json!(fixed));
    o.insert("device_id".into(), json!(device_id));
    o.insert("device_owner".into(), json!(owner));
    o.insert("admin_state_up".into(), json!(true));
    o.insert(
        "status".into(),
        json!(if device_id.is_empty() {
            "DOWN"
        } else {
            "ACTIVE"
        }),
    );
    o.insert("security_groups".into(), json!(sgs));
    o.insert("port_security_enabled".into(), json!(port_security));
    o.insert("allowed_address_pairs".into(), json!([]));
    o.insert("extra_dhcp_opts".into(), json!([]));
    o.insert("binding:host_id".into(), json!(host));
    o.insert("binding:profile".into(), json!({}));
    o.insert(
        "binding:vif_type".into(),
        json!(if host.is_empty() { "unbound" } else { "ovs" }),
    );
    o.insert("binding:vif_details".into(), json!({}));
    o.insert("binding:vnic_type".into(), json!("normal"));
    Value::Object(o)
}

pub(crate) fn disassociate(f: &mut Value, t: &Ts) {
    if let Some(o) = f.as_object_mut() {
        o.insert("port_id".into(), Value::Null);
        o.insert("fixed_ip_address".into(), Value::Null);
        o.insert("router_id".into(), Value::Null);
        o.insert("status".into(), json!("DOWN"));
        stamp(o, t, false);
    }
}

fn created(ctx: &Ctx, auth: &AuthContext, coll: &str, id: &str) -> ApiResult<Response> {
    let (_, single, _) = kind(coll)?;
    let st = ctx.read();
    let v = map_of(&st.network, coll)
        .get(id)
        .ok_or_else(|| not_found(coll, id))?;
    let mut out = render(&st.network, coll, v, auth);
    if coll == "networks" {
        // (sic) Neutron's auto-allocated-topology extension shows is_default only in the
        // create response
        out["is_default"] = json!(false);
    }
    Ok((StatusCode::CREATED, axum::Json(json!({ single: out }))).into_response())
}

fn sg_ids(
    st: &mut NetworkState,
    project: &str,
    b: &Map<String, Value>,
    t: &Ts,
) -> ApiResult<Vec<String>> {
    match b.get("security_groups") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                let id = x.as_str().unwrap_or_default();
                if st.security_groups.contains_key(id) {
                    Ok(id.to_string())
                } else {
                    Err(nerr(
                        404,
                        "SecurityGroupNotFound",
                        format!("Security group {id} does not exist"),
                    ))
                }
            })
            .collect(),
        Some(Value::Null) => Ok(vec![]),
        _ => Ok(vec![st.ensure_default_sg(project, t)]),
    }
}

fn check_mac(mac: &str) -> ApiResult<String> {
    let parts: Vec<&str> = mac.split(':').collect();
    if parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok())
    {
        Ok(mac.to_ascii_lowercase())
    } else {
        Err(nerr(
            400,
            "InvalidInput",
            format!("Invalid input for mac_address. Reason: '{mac}' is not a valid MAC address."),
        ))
    }
}

fn check_pairs(v: Option<&Value>) -> ApiResult<Value> {
    match v {
        None | Some(Value::Null) => Ok(json!([])),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for p in a {
                let ip = str_field(p, "ip_address").ok_or_else(|| {
                    nerr(
                        400,
                        "AllowedAddressPairsMissingIP",
                        "AllowedAddressPair must contain ip_address",
                    )
                })?;
                if ip.parse::<std::net::IpAddr>().is_err() && ip.parse::<ipnet::IpNet>().is_err() {
                    return Err(nerr(
                        400,
                        "InvalidInput",
                        format!(
                            "Invalid input for allowed_address_pairs. Reason: '{ip}' is not a valid IP address."
                        ),
                    ));
                }
                let mut e = json!({"ip_address": ip});
                if let Some(m) = str_field(p, "mac_address") {
                    e["mac_address"] = json!(check_mac(m)?);
                }
                out.push(e);
            }
            Ok(json!(out))
        }
        Some(_) => Err(nerr(
            400,
            "InvalidInput",
            "Invalid input for allowed_address_pairs.",
        )),
    }
}

pub(crate) fn create(
    ctx: &Ctx,
    auth: &AuthContext,
    coll: &str,
    raw: &Bytes,
) -> ApiResult<Response> {
    let (_, single, _) = kind(coll)?;
    let b = body(raw, single)?;
    let project = owner_of(auth, &b)?;
    let t = now();
    let id = new_id();
    let spec = &ctx.region.spec;
    {
        let mut guard = ctx.write();
        let st = &mut guard.network;
        let mut o = base(&id, &project, &b, &t);
        match coll {
            "networks" => {
                let provider = [
                    "provider:network_type",
                    "provider:physical_network",
                    "provider:segmentation_id",
                ]
                .iter()
                .any(|k| b.contains_key(*k));
                if (provider
                    || b.get("router:external").is_some_and(|v| v == &json!(true))
                    || b.get("shared") == Some(&json!(true)))
                    && !auth.is_admin
                {
                    return Err(nerr(
                        403,
                        "PolicyNotAuthorized",
                        "(rule:create_network:provider:network_type) is disallowed by policy",
                    ));
                }
                let ty = s(&b, "provider:network_type")
                    .unwrap_or(&spec.tenant_network_type)
                    .to_string();
                if !["vxlan", "vlan", "flat", "geneve", "gre", "local"].contains(&ty.as_str()) {
                    return Err(nerr(
                        400,
                        "InvalidInput",
                        format!(
                            "Invalid input for operation: network_type value '{ty}' not supported."
                        ),
                    ));
                }
                let physnet = match ty.as_str() {
                    "vlan" | "flat" => Some(
                        s(&b, "provider:physical_network")
                            .unwrap_or(&spec.physical_network)
                            .to_string(),
                    ),
                    _ => None,
                };
                let seg = match (
                    ty.as_str(),
                    b.get("provider:segmentation_id")
                        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok())),
                ) {
                    ("flat" | "local", _) => None,
                    ("vlan", Some(n)) if !(1..=4094).contains(&n) => {
                        return Err(nerr(
                            400,
                            "InvalidInput",
                            format!(
                                "Invalid input for operation: Segmentation ID {n} is out of range 1..4094."
                            ),
                        ));
                    }
                    (_, Some(n)) => {
                        let taken = st.networks.values().any(|x| {
                            str_field(x, "provider:network_type") == Some(&ty)
                                && x["provider:segmentation_id"] == json!(n)
                                && (ty != "vlan"
                                    || x["provider:physical_network"] == json!(physnet))
                        });
                        if taken {
                            return Err(if ty == "vlan" {
                                nerr(
                                    409,
                                    "VlanIdInUse",
                                    format!(
                                        "Unable to create the network. The VLAN {n} on physical network {} is in use.",
                                        physnet.clone().unwrap_or_default()
                                    ),
                                )
                            } else {
                                nerr(
                                    409,
                                    "TunnelIdInUse",
                                    format!(
                                        "Unable to create the network. The tunnel ID {n} is in use."
                                    ),
                                )
                            });
                        }
                        Some(n)
                    }
                    (_, None) => Some(st.next_segment_id(&ty)),
                };
                if ty == "flat"
                    && st.networks.values().any(|x| {
                        str_field(x, "provider:network_type") == Some("flat")
                            && x["provider:physical_network"] == json!(physnet)
                    })
                {
                    return Err(nerr(
                        409,
                        "FlatNetworkInUse",
                        format!(
                            "Unable to create the flat network. Physical network {} is in use.",
                            physnet.unwrap_or_default()
                        ),
                    ));
                }
                o.insert(
                    "admin_state_up".into(),
                    b.get("admin_state_up").cloned().unwrap_or(json!(true)),
                );
                o.insert(
                    "shared".into(),
                    b.get("shared").cloned().unwrap_or(json!(false)),
                );
                o.insert(
                    "router:external".into(),
                    b.get("router:external").cloned().unwrap_or(json!(false)),
                );
                o.insert("status".into(), json!("ACTIVE"));
                o.insert(
                    "mtu".into(),
                    b.get("mtu")
                        .cloned()
                        .unwrap_or(json!(if ty == "vxlan" || ty == "geneve" {
                            1450
                        } else {
                            1500
                        })),
                );
                o.insert(
                    "port_security_enabled".into(),
                    b.get("port_security_enabled")
                        .cloned()
                        .unwrap_or(json!(true)),
                );
                o.insert(
                    "availability_zone_hints".into(),
                    b.get("availability_zone_hints")
                        .cloned()
                        .unwrap_or(json!([])),
                );
                o.insert("availability_zones".into(), json!([spec.az]));
                o.insert("ipv4_address_scope".into(), Value::Null);
                o.insert("ipv6_address_scope".into(), Value::Null);
                o.insert("qinq".into(), json!(false));
                o.insert("vlan_transparent".into(), json!(false));
                o.insert("provider:network_type".into(), json!(ty));
                o.insert("provider:physical_network".into(), json!(physnet));
                o.insert("provider:segmentation_id".into(), json!(seg));
                o.insert("_explicit_segment".into(), json!(provider));
                st.networks.insert(id.clone(), Value::Object(o));
            }
            "subnets" => {
                let net_id = s(&b, "network_id").ok_or_else(|| nerr(400, "BadRequest", "Failed to parse request. Required attribute 'network_id' not specified"))?.to_string();
                let net = st
                    .network_visible(&net_id, auth)
                    .cloned()
                    .ok_or_else(|| not_found("networks", &net_id))?;
                if str_field(&net, "project_id") != Some(&auth.project_id) && !auth.is_admin {
                    return Err(nerr(
                        403,
                        "PolicyNotAuthorized",
                        "(rule:create_subnet) is disallowed by policy",
                    ));
                }
                let cidr_s = s(&b, "cidr").ok_or_else(|| {
                    nerr(
                        400,
                        "BadRequest",
                        "Bad subnets request: a cidr is required (subnet pools are not simulated).",
                    )
                })?;
                let cidr: ipnet::IpNet = cidr_s.parse().map_err(|_| {
                    nerr(
                        400,
                        "InvalidInput",
                        format!(
                            "Invalid input for cidr. Reason: '{cidr_s}' is not a valid IP subnet."
                        ),
                    )
                })?;
                let cidr = cidr.trunc();
                let ver = b
                    .get("ip_version")
                    .and_then(Value::as_u64)
                    .unwrap_or(if cidr.addr().is_ipv6() { 6 } else { 4 });
                if (ver == 6) != cidr.addr().is_ipv6() {
                    return Err(nerr(
                        400,
                        "BadRequest",
                        "Invalid input for operation: cidr and ip_version do not match.",
                    ));
                }
                check_ipv6_modes(&cidr, &b)?;
                for other in st.subnets_of(&net_id) {
                    if let Some(oc) = cidr_of(other)
                        && (oc.contains(&cidr.network()) || cidr.contains(&oc.network()))
                    {
                        return Err(nerr(
                            400,
                            "BadRequest",
                            format!(
                                "Invalid input for operation: Requested subnet with cidr: {cidr} for network: {net_id} overlaps with another subnet."
                            ),
                        ));
                    }
                }
                let hosts: Vec<std::net::IpAddr> = cidr.hosts().take(2).collect();
                let gw = match b.get("gateway_ip") {
                    Some(Value::Null) => None,
                    Some(Value::String(g)) => {
                        let ip: std::net::IpAddr = g.parse().map_err(|_| nerr(400, "InvalidInput", format!("Invalid input for gateway_ip. Reason: '{g}' is not a valid IP address.")))?;
                        if !cidr.contains(&ip) {
                            return Err(nerr(
                                400,
                                "BadRequest",
                                format!(
                                    "Invalid input for operation: Gateway IP {g} is not in the subnet {cidr}."
                                ),
                            ));
                        }
                        Some(ip)
                    }
                    _ => hosts.first().copied(),
                };
                let pools = match b.get("allocation_pools") {
                    Some(Value::Array(a)) if !a.is_empty() => {
                        for p in a {
                            let (Some(x), Some(y)) =
                                (p.get("start").and_then(ip_of), p.get("end").and_then(ip_of))
                            else {
                                return Err(nerr(
                                    400,
                                    "InvalidInput",
                                    "Invalid input for allocation_pools.",
                                ));
                            };
                            if x.is_ipv6() != cidr.addr().is_ipv6()
                                || y.is_ipv6() != cidr.addr().is_ipv6()
                                || x > y
                            {
                                return Err(nerr(
                                    400,
                                    "InvalidAllocationPool",
                                    format!("The allocation pool {x}-{y} is not valid."),
                                ));
                            }
                            // Neutron's OutOfBoundsAllocationPool: a pool within the
                            // subnet's usable addresses only.
                            let inside = |ip: &std::net::IpAddr| {
                                cidr.contains(ip)
                                    && *ip != cidr.network()
                                    && (cidr.addr().is_ipv6() || *ip != cidr.broadcast())
                            };
                            if !inside(&x) || !inside(&y) {
                                return Err(nerr(
                                    400,
                                    "OutOfBoundsAllocationPool",
                                    format!(
                                        "The allocation pool {x}-{y} spans beyond the subnet cidr {cidr}."
                                    ),
                                ));
                            }
                        }
                        json!(a)
                    }
                    _ => {
                        let first = cidr.hosts().find(|h| Some(*h) != gw);
                        let last = if cidr.addr().is_ipv6() {
                            cidr.broadcast()
                        } else {
                            cidr.hosts().last().unwrap_or(cidr.broadcast())
                        };
                        match first {
                            Some(f) => json!([{"start": f.to_string(), "end": last.to_string()}]),
                            None => json!([]),
                        }
                    }
                };
                o.insert("network_id".into(), json!(net_id));
                o.insert("cidr".into(), json!(cidr.to_string()));
                o.insert("ip_version".into(), json!(ver));
                o.insert("gateway_ip".into(), json!(gw.map(|g| g.to_string())));
                o.insert("allocation_pools".into(), pools);
                o.insert(
                    "enable_dhcp".into(),
                    b.get("enable_dhcp").cloned().unwrap_or(json!(true)),
                );
                o.insert(
                    "dns_nameservers".into(),
                    b.get("dns_nameservers").cloned().unwrap_or(json!([])),
                );
                o.insert(
                    "host_routes".into(),
                    b.get("host_routes").cloned().unwrap_or(json!([])),
                );
                o.insert(
                    "ipv6_ra_mode".into(),
                    b.get("ipv6_ra_mode").cloned().unwrap_or(Value::Null),
                );
                o.insert(
                    "ipv6_address_mode".into(),
                    b.get("ipv6_address_mode").cloned().unwrap_or(Value::Null),
                );
                o.insert("subnetpool_id".into(), Value::Null);
                o.insert(
                    "service_types".into(),
                    b.get("service_types").cloned().unwrap_or(json!([])),
                );
                o.insert("_shared".into(), json!(net["shared"] == json!(true)));
                st.subnets.insert(id.clone(), Value::Object(o));
            }
            "ports" => {
                let net_id = s(&b, "network_id").ok_or_else(|| nerr(400, "BadRequest", "Failed to parse request. Required attribute 'network_id' not specified"))?.to_string();
                let net = st
                    .network_visible(&net_id, auth)
                    .cloned()
                    .ok_or_else(|| not_found("networks", &net_id))?;
                let binding = ["binding:host_id", "binding:profile"]
                    .iter()
                    .any(|k| b.contains_key(*k));
                if binding && !auth.is_admin {
                    return Err(nerr(
                        403,
                        "PolicyNotAuthorized",
                        "(rule:create_port:binding:host_id) is disallowed by policy",
                    ));
                }
                if (b.contains_key("mac_address") || b.contains_key("fixed_ips"))
                    && str_field(&net, "project_id") != Some(&auth.project_id)
                    && !auth.is_admin
                {
                    return Err(nerr(
                        403,
                        "PolicyNotAuthorized",
                        "(rule:create_port:fixed_ips) is disallowed by policy",
                    ));
                }
                let mac = match s(&b, "mac_address") {
                    Some(m) => {
                        let m = check_mac(m)?;
                        if st.mac_in_use(&net_id, &m) {
                            return Err(nerr(
                                409,
                                "MacAddressInUse",
                                format!(
                                    "Unable to complete operation for network {net_id}. The mac address {m} is in use."
                                ),
                            ));
                        }
                        m
                    }
                    None => loop {
                        let m = crate::util::random_mac();
                        if !st.mac_in_use(&net_id, &m) {
                            break m;
                        }
                    },
                };
                let router_interface = b.get("device_owner").and_then(Value::as_str)
                    == Some("network:router_interface");
                let fixed = st.assign_fixed_ips(
                    &net_id,
                    b.get("fixed_ips"),
                    Some((&mac, router_interface)),
                )?;
                let ps = b
                    .get("port_security_enabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(net["port_security_enabled"] != json!(false));
                let sgs = if ps {
                    sg_ids(st, &project, &b, &t)?
                } else {
                    vec![]
                };
                if !ps
                    && b.get("security_groups")
                        .and_then(Value::as_array)
                        .is_some_and(|a| !a.is_empty())
                {
                    return Err(nerr(
                        400,
                        "PortSecurityAndIPRequiresSecurityGroups",
                        "Port security must be enabled in order to have allowed address pairs on a port.",
                    ));
                }
                let pairs = check_pairs(b.get("allowed_address_pairs"))?;
                let host = s(&b, "binding:host_id").unwrap_or("");
                let mut p = new_port(
                    &id,
                    &project,
                    &net_id,
                    s(&b, "name").unwrap_or(""),
                    &mac,
                    fixed,
                    s(&b, "device_id").unwrap_or(""),
                    s(&b, "device_owner").unwrap_or(""),
                    sgs,
                    ps,
                    host,
                );
                if let Some(po) = p.as_object_mut() {
                    po.insert(
                        "description".into(),
                        json!(s(&b, "description").unwrap_or("")),
                    );
                    po.insert("allowed_address_pairs".into(), pairs);
                    po.insert(
                        "admin_state_up".into(),
                        b.get("admin_state_up").cloned().unwrap_or(json!(true)),
                    );
                    for k in ["binding:profile", "binding:vnic_type", "extra_dhcp_opts"] {
                        if let Some(v) = b.get(k).filter(|v| !v.is_null()) {
                            po.insert(k.into(), v.clone());
                        }
                    }
                    if po
                        .get("device_owner")
                        .and_then(Value::as_str)
                        .is_some_and(|o| o.starts_with("compute:shadow"))
                    {
                        po.insert("status".into(), json!("ACTIVE"));
                    }
                }
                st.index_port(&p, true);
                st.ports.insert(id.clone(), p);
            }
            "routers" => {
                o.insert(
                    "admin_state_up".into(),
                    b.get("admin_state_up").cloned().unwrap_or(json!(true)),
                );
                o.insert("status".into(), json!("ACTIVE"));
                o.insert("routes".into(), json!([]));
                o.insert(
                    "distributed".into(),
                    b.get("distributed").cloned().unwrap_or(json!(false)),
                );
                o.insert("ha".into(), b.get("ha").cloned().unwrap_or(json!(false)));
                o.insert("flavor_id".into(), Value::Null);
                o.insert(
                    "availability_zone_hints".into(),
                    b.get("availability_zone_hints")
                        .cloned()
                        .unwrap_or(json!([])),
                );
                o.insert("availability_zones".into(), json!([spec.az]));
                o.insert("external_gateway_info".into(), Value::Null);
                st.routers.insert(id.clone(), Value::Object(o));
                if let Some(gw) = b.get("external_gateway_info").filter(|g| !g.is_null())
                    && let Err(e) = set_gateway(st, &id, gw, auth, &t)
                {
                    st.routers.remove(&id);
                    return Err(e);
                }
            }
            "security-groups" => {
                let name = s(&b, "name").unwrap_or("").to_string();
                if name == "default"
                    && st.security_groups.values().any(|g| {
                        str_field(g, "project_id") == Some(&project)
                            && str_field(g, "name") == Some("default")
                    })
                {
                    return Err(nerr(
                        409,
                        "SecurityGroupDefaultAlreadyExists",
                        "Default security group already exists.",
                    ));
                }
                st.ensure_default_sg(&project, &t);
                o.insert(
                    "stateful".into(),
                    b.get("stateful").cloned().unwrap_or(json!(true)),
                );
                o.insert("shared".into(), json!(false));
                st.security_groups.insert(id.clone(), Value::Object(o));
                for (eth, _) in [("IPv4", 0), ("IPv6", 0)] {
                    let rid = new_id();
                    let mut r = json!({"id": rid, "security_group_id": id, "direction": "egress", "ethertype": eth, "protocol": null, "port_range_min": null, "port_range_max": null,
                        "remote_ip_prefix": null, "remote_group_id": null, "remote_address_group_id": null, "normalized_cidr": null, "description": "", "project_id": project, "tenant_id": project, "belongs_to_default_sg": false});
                    if let Some(ro) = r.as_object_mut() {
                        stamp(ro, &t, true);
                    }
                    st.security_group_rules.insert(rid, r);
                }
            }
            "security-group-rules" => {
                let sg = s(&b, "security_group_id").ok_or_else(|| nerr(400, "BadRequest", "Failed to parse request. Required attribute 'security_group_id' not specified"))?.to_string();
                let g = st
                    .security_groups
                    .get(&sg)
                    .filter(|g| visible("security-groups", g, auth))
                    .ok_or_else(|| not_found("security-groups", &sg))?;
                let project = str_field(g, "project_id").unwrap_or(&project).to_string();
                let dir = s(&b, "direction")
                    .filter(|d| *d == "ingress" || *d == "egress")
                    .ok_or_else(|| nerr(400, "InvalidInput", "Invalid input for direction."))?;
                let eth = s(&b, "ethertype").unwrap_or("IPv4");
                if eth != "IPv4" && eth != "IPv6" {
                    return Err(nerr(
                        400,
                        "SecurityGroupRuleInvalidEtherType",
                        format!("Security group rule for ethertype '{eth}' not supported."),
                    ));
                }
                let proto = b.get("protocol").and_then(|p| {
                    p.as_str()
                        .map(str::to_lowercase)
                        .or_else(|| p.as_u64().map(|n| n.to_string()))
                });
                let (pmin, pmax) = (
                    b.get("port_range_min").and_then(Value::as_u64),
                    b.get("port_range_max").and_then(Value::as_u64),
                );
                if let (Some(a), Some(z)) = (pmin, pmax)
                    && a > z
                    && proto.as_deref() != Some("icmp")
                {
                    return Err(nerr(
                        400,
                        "SecurityGroupInvalidPortRange",
                        "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                    ));
                }
                if (pmin.is_some() || pmax.is_some()) && proto.is_none() {
                    return Err(nerr(
                        400,
                        "SecurityGroupProtocolRequiredWithPorts",
                        "Must also specify protocol if port range is given.",
                    ));
                }
                let prefix = match s(&b, "remote_ip_prefix") {
                    Some(p) => Some(
                        p.parse::<ipnet::IpNet>()
                            .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                            .map_err(|_| {
                                nerr(
                                    400,
                                    "InvalidCIDR",
                                    format!("Invalid CIDR {p} for IP prefix."),
                                )
                            })?,
                    ),
                    None => None,
                };
                // Neutron keeps the prefix as given (with a mask) and shows the network it means
                // as `normalized_cidr`; duplicates are found on the latter.
                let normalized = prefix.map(|p| p.trunc().to_string());
                let prefix = prefix.map(|p| p.to_string());
                let rg = s(&b, "remote_group_id").map(str::to_string);
                if prefix.is_some() && rg.is_some() {
                    return Err(nerr(
                        400,
                        "SecurityGroupRemoteGroupAndRemoteIpPrefix",
                        "Only remote_ip_prefix or remote_group_id may be provided.",
                    ));
                }
                let rule = json!({"id": id, "security_group_id": sg, "direction": dir, "ethertype": eth, "protocol": proto, "port_range_min": pmin, "port_range_max": pmax,
                    "remote_ip_prefix": prefix, "remote_group_id": rg, "remote_address_group_id": null, "normalized_cidr": normalized, "description": s(&b, "description").unwrap_or(""), "project_id": project, "tenant_id": project, "belongs_to_default_sg": false});
                let same = |r: &Value| {
                    [
                        "security_group_id",
                        "direction",
                        "ethertype",
                        "protocol",
                        "port_range_min",
                        "port_range_max",
                        "normalized_cidr",
                        "remote_group_id",
                    ]
                    .iter()
                    .all(|k| r[*k] == rule[*k])
                };
                if let Some((rid, _)) = st.security_group_rules.iter().find(|(_, r)| same(r)) {
                    return Err(nerr(
                        409,
                        "SecurityGroupRuleExists",
                        format!("Security group rule already exists. Rule id is {rid}."),
                    ));
                }
                let mut rule = rule;
                if let Some(ro) = rule.as_object_mut() {
                    stamp(ro, &t, true);
                }
                st.security_group_rules.insert(id.clone(), rule);
            }
            _ => {
                let ext = s(&b, "floating_network_id").ok_or_else(|| nerr(400, "BadRequest", "Failed to parse request. Required attribute 'floating_network_id' not specified"))?.to_string();
                let net = st
                    .networks
                    .get(&ext)
                    .ok_or_else(|| not_found("networks", &ext))?;
                if net["router:external"] != json!(true) {
                    return Err(nerr(
                        400,
                        "BadRequest",
                        format!(
                            "Bad floatingip request: Network {ext} is not a valid external network."
                        ),
                    ));
                }
                let subnets: Vec<Value> = st
                    .subnets_of(&ext)
                    .into_iter()
                    .filter(|s| s["ip_version"] == json!(4))
                    .cloned()
                    .collect();
                let (sid, ip) = match s(&b, "floating_ip_address") {
                    Some(want) => {
                        let ip: std::net::IpAddr = want.parse().map_err(|_| nerr(400, "InvalidInput", format!("Invalid input for floating_ip_address. Reason: '{want}' is not a valid IP address.")))?;
                        let sub = subnets.iter().find(|s| NetworkState::ip_valid_for(s, ip)).ok_or_else(|| nerr(400, "InvalidIpForNetwork", format!("IP address {ip} is not a valid IP for any of the subnets on the specified network.")))?;
                        let sid = str_field(sub, "id").unwrap_or_default().to_string();
                        if st.ip_in_use(&sid, ip) {
                            return Err(nerr(
                                409,
                                "IpAddressAlreadyAllocated",
                                format!("IP address {ip} already allocated in subnet {sid}"),
                            ));
                        }
                        (sid, ip)
                    }
                    None => subnets
                        .iter()
                        .find_map(|s| {
                            st.allocate(s)
                                .map(|ip| (str_field(s, "id").unwrap_or_default().to_string(), ip))
                        })
                        .ok_or_else(|| {
                            nerr(
                                409,
                                "IpAddressGenerationFailure",
                                format!("No more IP addresses available on network {ext}."),
                            )
                        })?,
                };
                st.reserve_ip(&sid, ip);
                o.remove("name");
                o.insert("floating_network_id".into(), json!(ext));
                o.insert("floating_ip_address".into(), json!(ip.to_string()));
                o.insert("_subnet_id".into(), json!(sid));
                o.insert("router_id".into(), Value::Null);
                o.insert("port_id".into(), Value::Null);
                o.insert("fixed_ip_address".into(), Value::Null);
                o.insert("status".into(), json!("DOWN"));
                o.insert("port_forwardings".into(), json!([]));
                o.insert("dns_domain".into(), json!(""));
                o.insert("dns_name".into(), json!(""));
                st.floatingips.insert(id.clone(), Value::Object(o));
                if let Some(port) = s(&b, "port_id") {
                    let fixed = s(&b, "fixed_ip_address").map(str::to_string);
                    if let Err(e) = associate(st, &id, port, fixed.as_deref(), auth, &t) {
                        st.floatingips.remove(&id);
                        st.release_ip(&sid, ip);
                        return Err(e);
                    }
                }
            }
        }
    }
    created(ctx, auth, coll, &id)
}

fn set_gateway(
    st: &mut NetworkState,
    router: &str,
    gw: &Value,
    auth: &AuthContext,
    t: &Ts,
) -> ApiResult<()> {
    let old_ports: Vec<String> = st
        .ports
        .iter()
        .filter(|(_, p)| {
            str_field(p, "device_id") == Some(router)
                && str_field(p, "device_owner") == Some("network:router_gateway")
        })
        .map(|(k, _)| k.clone())
        .collect();
    if gw.is_null() || gw.as_object().is_some_and(|o| o.is_empty()) {
        for pid in old_ports {
            if let Some(p) = st.ports.remove(&pid) {
                st.index_port(&p, false);
            }
        }
        if let Some(o) = st.routers.get_mut(router).and_then(Value::as_object_mut) {
            o.insert("external_gateway_info".into(), Value::Null);
            stamp(o, t, false);
        }
        return Ok(());
    }
    let net = str_field(gw, "network_id")
        .ok_or_else(|| {
            nerr(
                400,
                "BadRequest",
                "Invalid input for external_gateway_info: network_id is required.",
            )
        })?
        .to_string();
    let n = st
        .networks
        .get(&net)
        .ok_or_else(|| not_found("networks", &net))?;
    if n["router:external"] != json!(true) {
        return Err(nerr(
            400,
            "BadRequest",
            format!("Bad router request: Network {net} is not an external network."),
        ));
    }
    let snat = gw
        .get("enable_snat")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if !snat && !auth.is_admin {
        return Err(nerr(
            403,
            "PolicyNotAuthorized",
            "(rule:update_router:external_gateway_info:enable_snat) is disallowed by policy",
        ));
    }
    for pid in old_ports {
        if let Some(p) = st.ports.remove(&pid) {
            st.index_port(&p, false);
        }
    }
    let fixed = st.assign_fixed_ips(&net, gw.get("external_fixed_ips"), None)?;
    let pid = new_id();
    let mac = crate::util::random_mac();
    let p = new_port(
        &pid,
        "",
        &net,
        "",
        &mac,
        fixed.clone(),
        router,
        "network:router_gateway",
        vec![],
        false,
        "",
    );
    st.index_port(&p, true);
    st.ports.insert(pid, p);
    if let Some(o) = st.routers.get_mut(router).and_then(Value::as_object_mut) {
        o.insert(
            "external_gateway_info".into(),
            json!({"network_id": net, "enable_snat": snat, "external_fixed_ips": fixed}),
        );
        stamp(o, t, false);
    }
    Ok(())
}

/// Ports of `router` (interfaces and gateway).
pub(crate) fn router_ports<'a>(st: &'a NetworkState, router: &str) -> Vec<&'a Value> {
    st.ports
        .values()
        .filter(|p| {
            str_field(p, "device_id") == Some(router)
                && str_field(p, "device_owner").is_some_and(|o| o.starts_with("network:router"))
        })
        .collect()
}

fn associate(
    st: &mut NetworkState,
    fip: &str,
    port_id: &str,
    fixed: Option<&str>,
    auth: &AuthContext,
    t: &Ts,
) -> ApiResult<()> {
    let port = st
        .ports
        .get(port_id)
        .filter(|p| auth.is_admin || str_field(p, "project_id") == Some(&auth.project_id))
        .ok_or_else(|| not_found("ports", port_id))?
        .clone();
    let ext = st
        .floatingips
        .get(fip)
        .and_then(|f| str_field(f, "floating_network_id"))
        .unwrap_or_default()
        .to_string();
    let fixed_ips = port
        .get("fixed_ips")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let chosen = match fixed {
        Some(ip) => fixed_ips
            .iter()
            .find(|f| str_field(f, "ip_address") == Some(ip))
            .cloned()
            .ok_or_else(|| {
                nerr(
                    400,
                    "BadRequest",
                    format!("Bad floatingip request: Port {port_id} does not have fixed ip {ip}."),
                )
            })?,
        None => fixed_ips
            .iter()
            .find(|f| {
                f.get("ip_address")
                    .and_then(ip_of)
                    .is_some_and(|i| i.is_ipv4())
            })
            .cloned()
            .ok_or_else(|| {
                nerr(
                    400,
                    "BadRequest",
                    format!(
                        "Bad floatingip request: Port {port_id} does not have any IPv4 fixed IP."
                    ),
                )
            })?,
    };
    let subnet = str_field(&chosen, "subnet_id")
        .unwrap_or_default()
        .to_string();
    let router = st.routers.iter().find(|(rid, r)| {
        r.pointer("/external_gateway_info/network_id")
            .and_then(Value::as_str)
            == Some(&ext)
            && router_ports(st, rid).iter().any(|p| {
                p.get("fixed_ips")
                    .and_then(Value::as_array)
                    .is_some_and(|f| f.iter().any(|x| str_field(x, "subnet_id") == Some(&subnet)))
            })
    });
    let Some((rid, _)) = router else {
        return Err(nerr(
            404,
            "ExternalGatewayForFloatingIPNotFound",
            format!(
                "External network {ext} is not reachable from subnet {subnet}.  Therefore, cannot associate Port {port_id} with a Floating IP."
            ),
        ));
    };
    let rid = rid.clone();
    if let Some(o) = st.floatingips.get_mut(fip).and_then(Value::as_object_mut) {
        o.insert("port_id".into(), json!(port_id));
        o.insert("fixed_ip_address".into(), chosen["ip_address"].clone());
        o.insert("router_id".into(), json!(rid));
        o.insert("status".into(), json!("ACTIVE"));
        stamp(o, t, false);
    }
    Ok(())
}

const UPDATABLE: &[(&str, &[&str])] = &[
    (
        "networks",
        &[
            "name",
            "description",
            "admin_state_up",
            "shared",
            "router:external",
            "mtu",
            "port_security_enabled",
            "dns_domain",
        ],
    ),
    (
        "subnets",
        &[
            "name",
            "description",
            "gateway_ip",
            "allocation_pools",
            "enable_dhcp",
            "dns_nameservers",
            "host_routes",
        ],
    ),
    (
        "ports",
        &[
            "name",
            "description",
            "admin_state_up",
            "device_id",
            "device_owner",
            "binding:host_id",
            "binding:profile",
            "binding:vnic_type",
            "extra_dhcp_opts",
        ],
    ),
    ("routers", &["name", "description", "admin_state_up"]),
    ("security-groups", &["name", "description", "stateful"]),
    ("security-group-rules", &["description"]),
    ("floatingips", &["description"]),
];

pub(crate) fn update(
    ctx: &Ctx,
    auth: &AuthContext,
    coll: &str,
    id: &str,
    raw: &Bytes,
) -> ApiResult<Response> {
    let (_, single, _) = kind(coll)?;
    let b = body(raw, single)?;
    let t = now();
    {
        let mut guard = ctx.write();
        let st = &mut guard.network;
        let cur = map_of(st, coll)
            .get(id)
            .filter(|v| visible(coll, v, auth))
            .cloned()
            .ok_or_else(|| not_found(coll, id))?;
        if !auth.is_admin && str_field(&cur, "project_id") != Some(&auth.project_id) {
            return Err(nerr(
                403,
                "PolicyNotAuthorized",
                format!("(rule:update_{single}) is disallowed by policy"),
            ));
        }
        if coll == "security-groups" && b.contains_key("name") {
            // Neutron: no group renamed `default` (API validator), and the `default` group
            // keeps its name (plugin).
            if b["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("default"))
            {
                return Err(nerr(
                    409,
                    "SecurityGroupDefaultAlreadyExists",
                    "Default security group already exists.",
                ));
            }
            if str_field(&cur, "name") == Some("default") {
                return Err(nerr(
                    409,
                    "SecurityGroupCannotUpdateDefault",
                    "Updating default security group not allowed.",
                ));
            }
        }
        let allowed = UPDATABLE
            .iter()
            .find(|(c, _)| *c == coll)
            .map(|(_, a)| *a)
            .unwrap_or(&[]);
        let mut o = cur.as_object().cloned().unwrap_or_default();
        for (k, v) in &b {
            if allowed.contains(&k.as_str()) {
                if k.starts_with("binding:") && !auth.is_admin {
                    return Err(nerr(
                        403,
                        "PolicyNotAuthorized",
                        format!("(rule:update_port:{k}) is disallowed by policy"),
                    ));
                }
                o.insert(k.clone(), v.clone());
            }
        }
        match coll {
            "ports" => {
                let net = str_field(&cur, "network_id")
                    .unwrap_or_default()
                    .to_string();
                if let Some(m) = s(&b, "mac_address") {
                    if !auth.is_admin {
                        return Err(nerr(
                            403,
                            "PolicyNotAuthorized",
                            "(rule:update_port:mac_address) is disallowed by policy",
                        ));
                    }
                    let m = check_mac(m)?;
                    if Some(m.as_str()) != str_field(&cur, "mac_address") && st.mac_in_use(&net, &m)
                    {
                        return Err(nerr(
                            409,
                            "MacAddressInUse",
                            format!(
                                "Unable to complete operation for network {net}. The mac address {m} is in use."
                            ),
                        ));
                    }
                    o.insert("mac_address".into(), json!(m));
                }
                st.index_port(&cur, false);
                if b.contains_key("fixed_ips") {
                    let owner = (
                        o.get("mac_address")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        o.get("device_owner").and_then(Value::as_str)
                            == Some("network:router_interface"),
                    );
                    match st.assign_fixed_ips(&net, b.get("fixed_ips"), Some((&owner.0, owner.1))) {
                        Ok(f) => {
                            o.insert("fixed_ips".into(), json!(f));
                        }
                        Err(e) => {
                            st.index_port(&cur, true);
                            return Err(e);
                        }
                    }
                }
                if b.contains_key("allowed_address_pairs") {
                    o.insert(
                        "allowed_address_pairs".into(),
                        check_pairs(b.get("allowed_address_pairs"))?,
                    );
                }
                if let Some(sgs) = b.get("security_groups") {
                    let ids = sg_ids(
                        st,
                        str_field(&cur, "project_id").unwrap_or_default(),
                        &b,
                        &t,
                    )?;
                    let _ = sgs;
                    o.insert("security_groups".into(), json!(ids));
                }
                if let Some(ps) = b.get("port_security_enabled").and_then(Value::as_bool) {
                    if !ps
                        && o.get("security_groups")
                            .and_then(Value::as_array)
                            .is_some_and(|a| !a.is_empty())
                    {
                        st.index_port(&cur, true);
                        return Err(nerr(
                            409,
                            "PortSecurityPortHasSecurityGroup",
                            "Port has security group associated. Cannot disable port security or ip address until security group is removed",
                        ));
                    }
                    o.insert("port_security_enabled".into(), json!(ps));
                }
                let newp = Value::Object(o.clone());
                st.index_port(&newp, true);
            }
            "routers" => {
                if let Some(gw) = b.get("external_gateway_info") {
                    set_gateway(st, id, gw, auth, &t)?;
                    if let Some(g) = st
                        .routers
                        .get(id)
                        .and_then(|r| r.get("external_gateway_info"))
                    {
                        o.insert("external_gateway_info".into(), g.clone());
                    }
                }
                if let Some(routes) = b.get("routes") {
                    o.insert("routes".into(), check_routes(st, id, routes)?);
                }
            }
            "floatingips" if b.contains_key("port_id") => {
                match s(&b, "port_id") {
                    Some(p) => {
                        associate(st, id, p, s(&b, "fixed_ip_address"), auth, &t)?;
                    }
                    None => {
                        if let Some(f) = st.floatingips.get_mut(id) {
                            disassociate(f, &t);
                        }
                    }
                }
                let fresh = st.floatingips.get(id).cloned().unwrap_or_default();
                for k in ["port_id", "fixed_ip_address", "router_id", "status"] {
                    o.insert(k.into(), fresh[k].clone());
                }
            }
            _ => {}
        }
        stamp(&mut o, &t, false);
        map_of_mut(st, coll).insert(id.to_string(), Value::Object(o));
    }
    let st = ctx.read();
    let v = map_of(&st.network, coll)
        .get(id)
        .ok_or_else(|| not_found(coll, id))?;
    Ok(axum::Json(json!({ single: render(&st.network, coll, v, auth) })).into_response())
}

fn check_routes(st: &NetworkState, router: &str, routes: &Value) -> ApiResult<Value> {
    let list = routes
        .as_array()
        .ok_or_else(|| nerr(400, "InvalidInput", "Invalid input for routes."))?;
    let cidrs: Vec<ipnet::IpNet> = router_ports(st, router)
        .iter()
        .flat_map(|p| {
            p.get("fixed_ips")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|f| {
            st.subnets
                .get(str_field(&f, "subnet_id")?)
                .and_then(cidr_of)
        })
        .collect();
    for r in list {
        let dest = str_field(r, "destination").and_then(|d| d.parse::<ipnet::IpNet>().ok());
        let hop = r.get("nexthop").and_then(ip_of);
        let (Some(_), Some(hop)) = (dest, hop) else {
            return Err(nerr(
                400,
                "InvalidInput",
                format!("Invalid input for routes. Reason: {r} is not a valid route."),
            ));
        };
        if !cidrs.iter().any(|c| c.contains(&hop)) {
            return Err(nerr(
                400,
                "InvalidRoutes",
                format!("Invalid format for routes: {r}, the nexthop is not connected with router"),
            ));
        }
    }
    Ok(routes.clone())
}

pub(crate) fn extra_routes(
    ctx: &Ctx,
    auth: &AuthContext,
    id: &str,
    raw: &Bytes,
    add: bool,
) -> ApiResult<Response> {
    let b = body(raw, "router")?;
    let mut guard = ctx.write();
    let st = &mut guard.network;
    let r = st
        .routers
        .get(id)
        .filter(|v| visible("routers", v, auth))
        .cloned()
        .ok_or_else(|| not_found("routers", id))?;
    let mut routes = r
        .get("routes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let given = b
        .get("routes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if add {
        check_routes(st, id, &json!(given))?;
        for g in given {
            if !routes.contains(&g) {
                routes.push(g);
            }
        }
    } else {
        routes.retain(|x| !given.contains(x));
    }
    let t = now();
    if let Some(o) = st.routers.get_mut(id).and_then(Value::as_object_mut) {
        o.insert("routes".into(), json!(routes));
        stamp(o, &t, false);
    }
    let v = st.routers.get(id).cloned().unwrap_or_default();
    Ok(axum::Json(json!({"router": render(st, "routers", &v, auth)})).into_response())
}

pub(crate) fn router_interface(
    ctx: &Ctx,
    auth: &AuthContext,
    id: &str,
    raw: &Bytes,
    add: bool,
) -> ApiResult<Response> {
    let b: Value = serde_json::from_slice(raw)
        .map_err(|e| nerr(400, "BadRequest", format!("Failed to parse request. {e}")))?;
    let t = now();
    let mut guard = ctx.write();
    let st = &mut guard.network;
    let r = st
        .routers
        .get(id)
        .filter(|v| visible("routers", v, auth))
        .cloned()
        .ok_or_else(|| not_found("routers", id))?;
    let project = str_field(&r, "project_id").unwrap_or_default().to_string();
    let subnet_id = str_field(&b, "subnet_id").map(str::to_string);
    let port_id = str_field(&b, "port_id").map(str::to_string);
    if subnet_id.is_some() == port_id.is_some() {
        return Err(nerr(
            400,
            "BadRequest",
            "Bad router request: Must specify exactly one of subnet_id or port_id.",
        ));
    }
    let ifaces: Vec<Value> = router_ports(st, id)
        .into_iter()
        .filter(|p| str_field(p, "device_owner") == Some("network:router_interface"))
        .cloned()
        .collect();
    if add {
        let pid = match (&subnet_id, &port_id) {
            (Some(sid), _) => {
                let sub = st
                    .subnets
                    .get(sid)
                    .filter(|v| visible("subnets", v, auth))
                    .cloned()
                    .ok_or_else(|| not_found("subnets", sid))?;
                if ifaces.iter().any(|p| {
                    p["fixed_ips"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|x| str_field(x, "subnet_id") == Some(sid)))
                }) {
                    return Err(nerr(
                        400,
                        "BadRequest",
                        format!("Bad router request: Router already has a port on subnet {sid}."),
                    ));
                }
                let gw = str_field(&sub, "gateway_ip").ok_or_else(|| {
                    nerr(
                        400,
                        "BadRequest",
                        format!("Bad router request: Subnet {sid} does not have a gateway IP."),
                    )
                })?;
                let net = str_field(&sub, "network_id")
                    .unwrap_or_default()
                    .to_string();
                let fixed = st.assign_fixed_ips(
                    &net,
                    Some(&json!([{"subnet_id": sid, "ip_address": gw}])),
                    Some(("", true)),
                )?;
                let pid = new_id();
                let p = new_port(
                    &pid,
                    &project,
                    &net,
                    "",
                    &crate::util::random_mac(),
                    fixed,
                    id,
                    "network:router_interface",
                    vec![],
                    false,
                    "",
                );
                st.index_port(&p, true);
                st.ports.insert(pid.clone(), p);
                pid
            }
            (_, Some(pid)) => {
                let p = st
                    .ports
                    .get(pid)
                    .filter(|v| visible("ports", v, auth))
                    .ok_or_else(|| not_found("ports", pid))?;
                if str_field(p, "device_id").is_some_and(|d| !d.is_empty()) {
                    return Err(nerr(
                        409,
                        "PortInUse",
                        format!(
                            "Unable to complete operation on port {pid} for network {}. Port already has an attached device {}.",
                            p["network_id"], p["device_id"]
                        ),
                    ));
                }
                if let Some(o) = st.ports.get_mut(pid).and_then(Value::as_object_mut) {
                    o.insert("device_id".into(), json!(id));
                    o.insert("device_owner".into(), json!("network:router_interface"));
                    o.insert("status".into(), json!("ACTIVE"));
                    stamp(o, &t, false);
                }
                pid.clone()
            }
            _ => unreachable!("checked above"),
        };
        let p = st.ports.get(&pid).cloned().unwrap_or_default();
        let sid = p
            .pointer("/fixed_ips/0/subnet_id")
            .cloned()
            .unwrap_or(Value::Null);
        let out = json!({"id": id, "tenant_id": project, "project_id": project, "port_id": pid, "network_id": p["network_id"], "subnet_id": sid, "subnet_ids": [sid], "tags": []});
        return Ok(axum::Json(out).into_response());
    }
    let port = ifaces
        .iter()
        .find(|p| match (&subnet_id, &port_id) {
            (Some(sid), _) => p["fixed_ips"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| str_field(x, "subnet_id") == Some(sid))),
            (_, Some(pid)) => str_field(p, "id") == Some(pid),
            _ => false,
        })
        .cloned()
        .ok_or_else(|| {
            nerr(
                404,
                "RouterInterfaceNotFoundForSubnet",
                format!(
                    "Router {id} has no interface on subnet {}",
                    subnet_id.clone().or(port_id.clone()).unwrap_or_default()
                ),
            )
        })?;
    let pid = str_field(&port, "id").unwrap_or_default().to_string();
    if let Some(p) = st.ports.remove(&pid) {
        st.index_port(&p, false);
    }
    let sid = port
        .pointer("/fixed_ips/0/subnet_id")
        .cloned()
        .unwrap_or(Value::Null);
    Ok(axum::Json(json!({"id": id, "tenant_id": project, "project_id": project, "port_id": pid, "network_id": port["network_id"], "subnet_id": sid, "subnet_ids": [sid], "tags": []})).into_response())
}

pub(crate) fn delete(ctx: &Ctx, auth: &AuthContext, coll: &str, id: &str) -> ApiResult<Response> {
    kind(coll)?;
    let mut guard = ctx.write();
    let st = &mut guard.network;
    let cur = map_of(st, coll)
        .get(id)
        .filter(|v| visible(coll, v, auth))
        .cloned()
        .ok_or_else(|| not_found(coll, id))?;
    if !auth.is_admin && str_field(&cur, "project_id") != Some(&auth.project_id) {
        return Err(nerr(
            403,
            "PolicyNotAuthorized",
            "Deleting a resource of another project is disallowed by policy",
        ));
    }
    let t = now();
    match coll {
        "networks" => {
            let busy = st.ports.values().any(|p| {
                str_field(p, "network_id") == Some(id)
                    && !str_field(p, "device_owner")
                        .unwrap_or_default()
                        .starts_with("network:dhcp")
            });
            if busy {
                return Err(nerr(
                    409,
                    "NetworkInUse",
                    format!(
                        "Unable to complete operation on network {id}. There are one or more ports still in use on the network."
                    ),
                ));
            }
            st.subnets
                .retain(|_, s| str_field(s, "network_id") != Some(id));
        }
        "subnets" if st.subnet_has_ips(id) && !st.strip_auto_addresses(id) => {
            return Err(nerr(
                409,
                "SubnetInUse",
                format!(
                    "Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."
                ),
            ));
        }
        "ports" => {
            let owner = str_field(&cur, "device_owner").unwrap_or_default();
            if owner.starts_with("network:router") {
                return Err(nerr(
                    409,
                    "ServicePortInUse",
                    format!(
                        "Port {id} cannot be deleted directly via the port API: has device owner {owner}."
                    ),
                ));
            }
            st.index_port(&cur, false);
            for f in st.floatingips.values_mut() {
                if str_field(f, "port_id") == Some(id) {
                    disassociate(f, &t);
                }
            }
        }
        "routers" => {
            if router_ports(st, id)
                .iter()
                .any(|p| str_field(p, "device_owner") == Some("network:router_interface"))
            {
                return Err(nerr(
                    409,
                    "RouterInUse",
                    format!("Router {id} still has ports"),
                ));
            }
            set_gateway(st, id, &Value::Null, auth, &t)?;
        }
        "security-groups" => {
            if str_field(&cur, "name") == Some("default") && !auth.is_admin {
                return Err(nerr(
                    409,
                    "SecurityGroupCannotRemoveDefault",
                    "Insufficient rights for removing default security group.",
                ));
            }
            if st.ports.values().any(|p| {
                p["security_groups"]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!(id)))
            }) {
                return Err(nerr(
                    409,
                    "SecurityGroupInUse",
                    format!("Security Group {id} in use."),
                ));
            }
            st.security_group_rules
                .retain(|_, r| str_field(r, "security_group_id") != Some(id));
        }
        "floatingips" => {
            if let (Some(sid), Some(ip)) = (
                str_field(&cur, "_subnet_id"),
                cur.get("floating_ip_address").and_then(ip_of),
            ) {
                st.release_ip(sid, ip);
            }
        }
        _ => {}
    }
    map_of_mut(st, coll).remove(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn tags_of(ctx: &Ctx, auth: &AuthContext, coll: &str, id: &str) -> ApiResult<Vec<String>> {
    kind(coll)?;
    let st = ctx.read();
    let v = map_of(&st.network, coll)
        .get(id)
        .filter(|v| visible(coll, v, auth))
        .ok_or_else(|| not_found(coll, id))?;
    Ok(v.get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

fn set_tags(ctx: &Ctx, coll: &str, id: &str, tags: Vec<String>) {
    let t = now();
    let mut st = ctx.write();
    if let Some(o) = map_of_mut(&mut st.network, coll)
        .get_mut(id)
        .and_then(Value::as_object_mut)
    {
        o.insert("tags".into(), json!(tags));
        stamp(o, &t, false);
    }
}

pub(crate) fn tags_get(ctx: &Ctx, auth: &AuthContext, coll: &str, id: &str) -> ApiResult<Response> {
    Ok(axum::Json(json!({"tags": tags_of(ctx, auth, coll, id)?})).into_response())
}

pub(crate) fn tags_put(
    ctx: &Ctx,
    auth: &AuthContext,
    coll: &str,
    id: &str,
    raw: &Bytes,
) -> ApiResult<Response> {
    tags_of(ctx, auth, coll, id)?;
    let v: Value = serde_json::from_slice(raw)
        .map_err(|e| nerr(400, "BadRequest", format!("Failed to parse request. {e}")))?;
    let mut tags: Vec<String> = v
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| nerr(400, "BadRequest", "Invalid tags body."))?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    tags.sort();
    tags.dedup();
    set_tags(ctx, coll, id, tags.clone());
    Ok(axum::Json(json!({"tags": tags})).into_response())
}

pub(crate) fn tags_clear(
    ctx: &Ctx,
    auth: &AuthContext,
    coll: &str,
    id: &str,
) -> ApiResult<Response> {
    tags_of(ctx, auth, coll, id)?;
    set_tags(ctx, coll, id, vec![]);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) fn tag_one(
    ctx: &Ctx,
    auth: &AuthContext,
    coll: &str,
    id: &str,
    tag: &str,
    op: Option<bool>,
) -> ApiResult<Response> {
    let mut tags = tags_of(ctx, auth, coll, id)?;
    let has = tags.iter().any(|t| t == tag);
    match op {
        None if has => Ok(StatusCode::NO_CONTENT.into_response()),
        None | Some(false) if !has => Err(nerr(
            404,
            "TagNotFound",
            format!("Tag {tag} could not be found for {coll} {id}."),
        )),
        Some(true) => {
            if !has {
                tags.push(tag.to_string());
                set_tags(ctx, coll, id, tags);
            }
            Ok(StatusCode::CREATED.into_response())
        }
        _ => {
            tags.retain(|t| t != tag);
            set_tags(ctx, coll, id, tags);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

pub(crate) fn quota(ctx: &Ctx, project: &str) -> Value {
    let _ = (ctx, project);
    json!({"quota": {"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50, "security_group": 10, "security_group_rule": 100, "rbac_policy": 10, "subnetpool": -1, "trunk": -1}})
}

pub(crate) fn extensions() -> Value {
    let names = [
        "provider",
        "router",
        "external-net",
        "binding",
        "allowed-address-pairs",
        "port-security",
        "security-group",
        "standard-attr-tag",
        "extraroute",
        "extraroute-atomic",
        "quotas",
        "ext-gw-mode",
        "standard-attr-revisions",
        "standard-attr-timestamp",
        "standard-attr-description",
    ];
    json!({"extensions": names.iter().map(|n| json!({"alias": n, "name": n, "description": "", "updated": "2013-01-01T00:00:00-00:00", "links": []})).collect::<Vec<_>>()})
}

/// Neutron's checks of a new subnet's `ipv6_ra_mode` / `ipv6_address_mode`.
fn check_ipv6_modes(cidr: &ipnet::IpNet, b: &serde_json::Map<String, Value>) -> ApiResult<()> {
    let invalid = |m: String| {
        nerr(
            400,
            "InvalidInput",
            format!("Invalid input for operation: {m}"),
        )
    };
    let ra = b.get("ipv6_ra_mode").and_then(Value::as_str);
    let am = b.get("ipv6_address_mode").and_then(Value::as_str);
    for (k, v) in [("ipv6_ra_mode", ra), ("ipv6_address_mode", am)] {
        let Some(m) = v else { continue };
        if !["slaac", "dhcpv6-stateful", "dhcpv6-stateless"].contains(&m) {
            return Err(invalid(format!(
                "'{m}' is not in ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac']"
            )));
        }
        if cidr.addr().is_ipv4() {
            return Err(invalid(format!("{k} is not valid when ip_version is 4")));
        }
    }
    if ra.is_none() && am.is_none() {
        return Ok(());
    }
    if b.get("enable_dhcp") == Some(&json!(false)) {
        return Err(invalid(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"
                .into(),
        ));
    }
    if let (Some(r), Some(a)) = (ra, am)
        && r != a
    {
        return Err(invalid(format!(
            "ipv6_ra_mode set to '{r}' with ipv6_address_mode set to '{a}' is not valid. If both attributes are set, they must be the same value"
        )));
    }
    let auto = [ra, am]
        .iter()
        .flatten()
        .any(|m| *m == "slaac" || *m == "dhcpv6-stateless");
    if auto && cidr.prefix_len() != 64 {
        return Err(invalid(format!(
            "Invalid CIDR {cidr} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64"
        )));
    }
    Ok(())
}
