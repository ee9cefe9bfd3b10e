//! The reachability oracle: can port A send packets to port B (protocol, destination port)
//! given everything configured in one or several regions? It answers from the Neutron state
//! only (nothing is forwarded), with a short reason.
//!
//! Rules, in order:
//! * both ports must exist and be `admin_state_up`;
//! * **L2**: the two networks are the same segment. Inside a region a network is its own
//!   segment; across regions two networks are one segment only when an admin gave both the
//!   same provider attributes (`network_type` + `physical_network` + `segmentation_id`), and
//!   each side must hold a *shadow* of the remote port (a port with the same MAC and IP on the
//!   shared network; Cascade creates them with `device_owner` `compute:shadow`). A tunnel
//!   needs forwarding state at both ends, so a missing shadow on either side means no path;
//! * **L3**: from a router with an interface on A's subnet, deliver to a connected subnet
//!   holding B's address, or follow a router `routes` entry whose destination holds B's
//!   address to the router owning the `nexthop` address on a segment this router is attached
//!   to (bridge networks across regions work the same way, through shared segments). A
//!   delivery into another region's copy of B's network needs the shadow of B there;
//! * **floating IP**: B has a floating IP and A sits on that external segment or has a router
//!   with an SNAT gateway onto it; the packet then arrives from the router's gateway address;
//! * **security groups**: A's egress rules and B's ingress rules must allow the packet
//!   (protocol, port range, `remote_ip_prefix`, `remote_group_id` resolved against the port
//!   representing the peer in that region); `port_security_enabled=false` disables filtering.
//!
//! Simplifications: no DHCP/metadata, no ACL of allowed address pairs, no MTU, no
//! stateful-return modelling beyond requiring shadows both ways, no NAT except FIP/SNAT.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::SimError;
use crate::network::model::{cidr_of, ip_of};
use crate::server::Cluster;
use crate::util::str_field;

/// A port in a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRef {
    /// Region name (empty over HTTP = the region answering).
    #[serde(default)]
    pub region: String,
    /// Neutron port id.
    pub port_id: String,
}

impl PortRef {
    /// A port of a region.
    pub fn new(region: impl Into<String>, port_id: impl Into<String>) -> Self {
        PortRef {
            region: region.into(),
            port_id: port_id.into(),
        }
    }
}

/// "Can `from` send `protocol` packets to `to` on `port`?"
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachQuery {
    /// Sender.
    pub from: PortRef,
    /// Receiver.
    pub to: PortRef,
    /// `tcp`, `udp`, `icmp` or `any` (a rule must then allow every protocol).
    #[serde(default = "any")]
    pub protocol: String,
    /// Destination port for tcp/udp.
    #[serde(default)]
    pub port: Option<u16>,
}

fn any() -> String {
    "any".into()
}

/// The oracle's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reachability {
    /// Whether packets get through.
    pub reachable: bool,
    /// `same-segment`, `routed via router X`, `via floating IP ...`, `blocked by security
    /// group`, `no path`, ...
    pub reason: String,
    /// Hops, for humans.
    pub path: Vec<String>,
}

impl Reachability {
    fn no(reason: impl Into<String>) -> Self {
        Reachability {
            reachable: false,
            reason: reason.into(),
            path: vec![],
        }
    }
}

struct View {
    name: String,
    networks: BTreeMap<String, Value>,
    subnets: BTreeMap<String, Value>,
    ports: BTreeMap<String, Value>,
    routers: BTreeMap<String, Value>,
    rules: Vec<Value>,
    fips: Vec<Value>,
}

impl View {
    fn seg(&self, net: &str) -> String {
        match self.networks.get(net) {
            Some(n) if n["_explicit_segment"] == json!(true) => format!(
                "{}:{}:{}",
                n["provider:network_type"].as_str().unwrap_or(""),
                n["provider:physical_network"].as_str().unwrap_or(""),
                n["provider:segmentation_id"]
            ),
            _ => format!("{}/{net}", self.name),
        }
    }

    /// A port in this region on segment `seg` with this MAC and IP (the port itself or a
    /// shadow of it).
    fn representative(&self, seg: &str, mac: &str, ip: IpAddr) -> Option<&Value> {
        self.ports.values().find(|p| {
            str_field(p, "mac_address").is_some_and(|m| m.eq_ignore_ascii_case(mac))
                && self.seg(str_field(p, "network_id").unwrap_or_default()) == seg
                && ips(p).contains(&ip)
        })
    }

    fn router_ifaces(&self, router: &str) -> Vec<&Value> {
        self.ports
            .values()
            .filter(|p| {
                str_field(p, "device_id") == Some(router)
                    && str_field(p, "device_owner") == Some("network:router_interface")
            })
            .collect()
    }

    fn subnet_cidr_of_ip(&self, net: &str, ip: IpAddr) -> Option<ipnet::IpNet> {
        self.subnets
            .values()
            .filter(|s| str_field(s, "network_id") == Some(net))
            .filter_map(cidr_of)
            .find(|c| c.contains(&ip))
    }
}

fn ips(p: &Value) -> Vec<IpAddr> {
    p.get("fixed_ips")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.get("ip_address").and_then(ip_of))
                .collect()
        })
        .unwrap_or_default()
}

fn proto_num(p: &str) -> Option<&'static str> {
    match p.to_ascii_lowercase().as_str() {
        "tcp" | "6" => Some("6"),
        "udp" | "17" => Some("17"),
        "icmp" | "1" => Some("1"),
        "icmpv6" | "ipv6-icmp" | "58" => Some("58"),
        _ => None,
    }
}

/// Whether `port`'s security groups let a packet through in `direction` with `peer` being
/// the remote address and `peer_rep` the port representing the peer in this region.
fn sg_allows(
    v: &View,
    port: &Value,
    direction: &str,
    peer: IpAddr,
    peer_rep: Option<&Value>,
    q: &ReachQuery,
) -> bool {
    if port["port_security_enabled"] == json!(false) {
        return true;
    }
    let groups: Vec<&str> = port["security_groups"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let peer_groups: Vec<&str> = peer_rep
        .and_then(|p| p["security_groups"].as_array())
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let eth = if peer.is_ipv4() { "IPv4" } else { "IPv6" };
    v.rules.iter().any(|r| {
        if !groups.contains(&str_field(r, "security_group_id").unwrap_or_default())
            || str_field(r, "direction") != Some(direction)
            || str_field(r, "ethertype") != Some(eth)
        {
            return false;
        }
        let rule_proto = r.get("protocol").and_then(Value::as_str);
        match rule_proto {
            None => {}
            Some(rp) => {
                if q.protocol == "any" || proto_num(rp) != proto_num(&q.protocol) {
                    return false;
                }
                if matches!(proto_num(rp), Some("6" | "17")) {
                    let (lo, hi) = (r["port_range_min"].as_u64(), r["port_range_max"].as_u64());
                    if lo.is_some() || hi.is_some() {
                        let Some(p) = q.port else { return false };
                        if (p as u64) < lo.unwrap_or(0) || (p as u64) > hi.unwrap_or(65535) {
                            return false;
                        }
                    }
                }
            }
        }
        if let Some(prefix) =
            str_field(r, "remote_ip_prefix").and_then(|p| p.parse::<ipnet::IpNet>().ok())
            && !prefix.contains(&peer)
        {
            return false;
        }
        if let Some(g) = str_field(r, "remote_group_id")
            && !peer_groups.contains(&g)
        {
            return false;
        }
        true
    })
}

/// Answers a [`ReachQuery`] over the current state of `cluster`.
pub(crate) fn can_reach(cluster: &Cluster, q: &ReachQuery) -> Result<Reachability, SimError> {
    let mut views = Vec::new();
    for r in &cluster.regions {
        let st = r.lock();
        let n = &st.network;
        views.push(View {
            name: r.name.clone(),
            networks: n.networks.clone(),
            subnets: n.subnets.clone(),
            ports: n.ports.clone(),
            routers: n.routers.clone(),
            rules: n.security_group_rules.values().cloned().collect(),
            fips: n.floatingips.values().cloned().collect(),
        });
    }
    let view = |name: &str| {
        views
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| SimError::UnknownRegion(name.to_string()))
    };
    let (va, vb) = (view(&q.from.region)?, view(&q.to.region)?);
    let (Some(a), Some(b)) = (va.ports.get(&q.from.port_id), vb.ports.get(&q.to.port_id)) else {
        return Ok(Reachability::no("no such port"));
    };
    if a["admin_state_up"] == json!(false) || b["admin_state_up"] == json!(false) {
        return Ok(Reachability::no("port administratively down"));
    }
    let (Some(&a_ip), b_ips) = (ips(a).first(), ips(b)) else {
        return Ok(Reachability::no("source port has no address"));
    };
    let Some(&b_ip) = b_ips.iter().find(|i| i.is_ipv4() == a_ip.is_ipv4()) else {
        return Ok(Reachability::no(
            "no path: no address of the same IP version",
        ));
    };
    let (a_net, b_net) = (
        str_field(a, "network_id").unwrap_or_default(),
        str_field(b, "network_id").unwrap_or_default(),
    );
    let (a_mac, b_mac) = (
        str_field(a, "mac_address").unwrap_or_default(),
        str_field(b, "mac_address").unwrap_or_default(),
    );
    let (seg_a, seg_b) = (va.seg(a_net), vb.seg(b_net));

    // (reachable path, source address as B sees it, hops)
    let mut found: Option<(String, IpAddr, Vec<String>, bool)> = None;
    if seg_a == seg_b {
        if va.name == vb.name {
            found = Some((
                "same-segment".into(),
                a_ip,
                vec![format!("{}:{}", va.name, a_net)],
                true,
            ));
        } else {
            if va.representative(&seg_a, b_mac, b_ip).is_none() {
                return Ok(Reachability::no(format!(
                    "no path: no shadow port of {} in region {}",
                    q.to.port_id, va.name
                )));
            }
            if vb.representative(&seg_b, a_mac, a_ip).is_none() {
                return Ok(Reachability::no(format!(
                    "no path: no shadow port of {} in region {}",
                    q.from.port_id, vb.name
                )));
            }
            found = Some((
                format!("same-segment (shared {seg_a})"),
                a_ip,
                vec![
                    format!("{}:{a_net}", va.name),
                    format!("{}:{b_net}", vb.name),
                ],
                true,
            ));
        }
    }
    if found.is_none() {
        // Routed: BFS over (region, router).
        let a_cidr = va.subnet_cidr_of_ip(a_net, a_ip);
        let mut queue: VecDeque<(usize, String, Vec<String>)> = VecDeque::new();
        let mut seen = HashSet::new();
        let ai = views.iter().position(|v| v.name == va.name).unwrap_or(0);
        for (rid, _) in va.routers.iter() {
            let attached = va.router_ifaces(rid).iter().any(|p| {
                str_field(p, "network_id") == Some(a_net)
                    && ips(p)
                        .iter()
                        .any(|ip| a_cidr.is_some_and(|c| c.contains(ip)))
            });
            if attached {
                queue.push_back((ai, rid.clone(), vec![format!("router {rid}")]));
            }
        }
        'bfs: while let Some((ri, rid, hops)) = queue.pop_front() {
            if !seen.insert((ri, rid.clone())) {
                continue;
            }
            let v = &views[ri];
            let ifaces = v.router_ifaces(&rid);
            for p in &ifaces {
                let net = str_field(p, "network_id").unwrap_or_default();
                if v.seg(net) == seg_b
                    && v.subnet_cidr_of_ip(net, b_ip).is_some()
                    && (v.name == vb.name || v.representative(&seg_b, b_mac, b_ip).is_some())
                {
                    let names: Vec<String> = hops.clone();
                    found = Some((
                        format!("routed via {}", names.join(" -> ")),
                        a_ip,
                        hops.clone(),
                        true,
                    ));
                    break 'bfs;
                }
            }
            let routes = v
                .routers
                .get(&rid)
                .and_then(|r| r["routes"].as_array().cloned())
                .unwrap_or_default();
            for route in routes {
                let dest =
                    str_field(&route, "destination").and_then(|d| d.parse::<ipnet::IpNet>().ok());
                let Some(hop) = route.get("nexthop").and_then(ip_of) else {
                    continue;
                };
                if !dest.is_some_and(|d| d.contains(&b_ip)) {
                    continue;
                }
                // The segment through which this router reaches the next hop.
                let Some(via) = ifaces.iter().find_map(|p| {
                    let net = str_field(p, "network_id").unwrap_or_default();
                    v.subnet_cidr_of_ip(net, hop).map(|_| v.seg(net))
                }) else {
                    continue;
                };
                for (wi, w) in views.iter().enumerate() {
                    for p in w.ports.values() {
                        if str_field(p, "device_owner") == Some("network:router_interface")
                            && ips(p).contains(&hop)
                            && w.seg(str_field(p, "network_id").unwrap_or_default()) == via
                        {
                            let next = str_field(p, "device_id").unwrap_or_default().to_string();
                            let mut h = hops.clone();
                            h.push(format!("router {next} ({})", w.name));
                            queue.push_back((wi, next, h));
                        }
                    }
                }
            }
        }
    }
    if found.is_none() {
        // Floating IP of B, reached from A's external segment or through an SNAT gateway.
        for f in vb
            .fips
            .iter()
            .filter(|f| str_field(f, "port_id") == Some(q.to.port_id.as_str()))
        {
            let ext_seg = vb.seg(str_field(f, "floating_network_id").unwrap_or_default());
            let fip = str_field(f, "floating_ip_address")
                .unwrap_or_default()
                .to_string();
            if seg_a == ext_seg {
                found = Some((
                    format!("via floating IP {fip}"),
                    a_ip,
                    vec![format!("floating IP {fip}")],
                    true,
                ));
                break;
            }
            let a_cidr = va.subnet_cidr_of_ip(a_net, a_ip);
            for (rid, r) in &va.routers {
                let gw = &r["external_gateway_info"];
                let Some(gnet) = gw.get("network_id").and_then(Value::as_str) else {
                    continue;
                };
                if va.seg(gnet) != ext_seg || gw["enable_snat"] == json!(false) {
                    continue;
                }
                if !va.router_ifaces(rid).iter().any(|p| {
                    ips(p)
                        .iter()
                        .any(|ip| a_cidr.is_some_and(|c| c.contains(ip)))
                }) {
                    continue;
                }
                let snat = gw
                    .pointer("/external_fixed_ips/0/ip_address")
                    .and_then(ip_of)
                    .unwrap_or(a_ip);
                found = Some((
                    format!("via floating IP {fip} (SNAT by router {rid})"),
                    snat,
                    vec![format!("router {rid}"), format!("floating IP {fip}")],
                    false,
                ));
                break;
            }
            if found.is_some() {
                break;
            }
        }
    }
    let Some((reason, src_ip, path, same_identity)) = found else {
        return Ok(Reachability::no("no path"));
    };
    // Security groups: A's egress, then B's ingress.
    let b_rep_in_a = va
        .representative(&seg_a, b_mac, b_ip)
        .or(if va.name == vb.name { Some(b) } else { None });
    if !sg_allows(va, a, "egress", b_ip, b_rep_in_a, q) {
        return Ok(Reachability {
            reachable: false,
            reason: "blocked by security group (egress of source)".into(),
            path,
        });
    }
    let a_rep_in_b = if !same_identity {
        None
    } else if va.name == vb.name {
        Some(a)
    } else {
        vb.ports.values().find(|p| {
            str_field(p, "mac_address").is_some_and(|m| m.eq_ignore_ascii_case(a_mac))
                && ips(p).contains(&a_ip)
        })
    };
    if !sg_allows(vb, b, "ingress", src_ip, a_rep_in_b, q) {
        return Ok(Reachability {
            reachable: false,
            reason: "blocked by security group".into(),
            path,
        });
    }
    Ok(Reachability {
        reachable: true,
        reason,
        path,
    })
}
