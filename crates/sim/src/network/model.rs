//! Neutron's state: resources kept as JSON objects in Neutron's own shape (so any attribute
//! can be filtered, selected with `fields` and sorted generically), plus the typed logic
//! that must be right: IPAM (allocation pools, fixed IPs and MACs given by the caller,
//! conflicts), segmentation ids, the default security group of each project, and the
//! helpers Nova uses to create and bind ports.
//!
//! Keys starting with `_` are internal (e.g. `_explicit_segment`: the provider attributes
//! were chosen by an admin, which is what makes a segment shareable across regions in the
//! reachability oracle) and never rendered. Simplifications: no DHCP ports, no subnet pools,
//! no segments extension, no QoS; IPv6 SLAAC addresses are allocated like stateful ones.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::identity::AuthContext;
use crate::util::{Ts, new_id, str_field, ts_z};

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct NetworkState {
    pub(crate) networks: BTreeMap<String, Value>,
    pub(crate) subnets: BTreeMap<String, Value>,
    pub(crate) ports: BTreeMap<String, Value>,
    pub(crate) routers: BTreeMap<String, Value>,
    pub(crate) security_groups: BTreeMap<String, Value>,
    pub(crate) security_group_rules: BTreeMap<String, Value>,
    pub(crate) floatingips: BTreeMap<String, Value>,
    pub(crate) next_segment: u64,
    #[serde(skip)]
    used_ips: HashMap<String, BTreeSet<IpAddr>>,
    #[serde(skip)]
    used_macs: HashSet<(String, String)>,
}

pub(crate) fn nerr(status: u16, kind: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::neutron(status, kind, msg)
}

pub(crate) fn stamp(o: &mut Map<String, Value>, t: &Ts, created: bool) {
    if created {
        o.insert("created_at".into(), json!(ts_z(t)));
        o.insert("revision_number".into(), json!(0));
    } else {
        let r = o
            .get("revision_number")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            + 1;
        o.insert("revision_number".into(), json!(r));
    }
    o.insert("updated_at".into(), json!(ts_z(t)));
}

pub(crate) fn ip_of(v: &Value) -> Option<IpAddr> {
    v.as_str()?.parse().ok()
}

pub(crate) fn cidr_of(subnet: &Value) -> Option<IpNet> {
    str_field(subnet, "cidr")?.parse().ok()
}

fn u128_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn ip_from(v: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(v.into())
    } else {
        IpAddr::V4((v as u32).into())
    }
}

impl NetworkState {
    pub(crate) fn rebuild_indexes(&mut self) {
        self.used_ips.clear();
        self.used_macs.clear();
        let ports: Vec<Value> = self.ports.values().cloned().collect();
        for p in &ports {
            self.index_port(p, true);
        }
        let fips: Vec<Value> = self.floatingips.values().cloned().collect();
        for f in fips {
            if let (Some(sid), Some(ip)) = (
                str_field(&f, "_subnet_id"),
                f.get("floating_ip_address").and_then(ip_of),
            ) {
                self.used_ips.entry(sid.to_string()).or_default().insert(ip);
            }
        }
    }

    pub(crate) fn index_port(&mut self, p: &Value, add: bool) {
        let net = str_field(p, "network_id").unwrap_or_default().to_string();
        if let Some(mac) = str_field(p, "mac_address") {
            let k = (net, mac.to_ascii_lowercase());
            if add {
                self.used_macs.insert(k)
            } else {
                self.used_macs.remove(&k)
            };
        }
        for f in p
            .get("fixed_ips")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(sid), Some(ip)) = (
                str_field(f, "subnet_id"),
                f.get("ip_address").and_then(ip_of),
            ) {
                let set = self.used_ips.entry(sid.to_string()).or_default();
                if add {
                    set.insert(ip)
                } else {
                    set.remove(&ip)
                };
            }
        }
    }

    pub(crate) fn release_ip(&mut self, subnet: &str, ip: IpAddr) {
        if let Some(s) = self.used_ips.get_mut(subnet) {
            s.remove(&ip);
        }
    }

    pub(crate) fn reserve_ip(&mut self, subnet: &str, ip: IpAddr) {
        self.used_ips
            .entry(subnet.to_string())
            .or_default()
            .insert(ip);
    }

    pub(crate) fn ip_in_use(&self, subnet: &str, ip: IpAddr) -> bool {
        self.used_ips.get(subnet).is_some_and(|s| s.contains(&ip))
    }

    pub(crate) fn subnet_has_ips(&self, subnet: &str) -> bool {
        self.used_ips.get(subnet).is_some_and(|s| !s.is_empty())
    }

    /// Neutron deleting a SLAAC / DHCPv6-stateless subnet: its addresses leave the ports
    /// that hold them, unless a router interface holds one. Returns whether the subnet is
    /// free now.
    pub(crate) fn strip_auto_addresses(&mut self, subnet: &str) -> bool {
        if !self.subnets.get(subnet).is_some_and(is_auto_address) {
            return false;
        }
        let holds = |p: &Value| {
            p["fixed_ips"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| str_field(f, "subnet_id") == Some(subnet)))
        };
        let holders: Vec<String> = self
            .ports
            .iter()
            .filter(|(_, p)| holds(p))
            .map(|(id, _)| id.clone())
            .collect();
        if holders.iter().any(|id| {
            self.ports
                .get(id)
                .is_some_and(|p| str_field(p, "device_owner") == Some("network:router_interface"))
        }) {
            return false;
        }
        for id in holders {
            let Some(mut p) = self.ports.remove(&id) else {
                continue;
            };
            self.index_port(&p, false);
            if let Some(f) = p.get_mut("fixed_ips").and_then(Value::as_array_mut) {
                f.retain(|f| str_field(f, "subnet_id") != Some(subnet));
            }
            self.index_port(&p, true);
            self.ports.insert(id, p);
        }
        !self.subnet_has_ips(subnet)
    }

    pub(crate) fn mac_in_use(&self, net: &str, mac: &str) -> bool {
        self.used_macs
            .contains(&(net.to_string(), mac.to_ascii_lowercase()))
    }

    pub(crate) fn subnets_of(&self, net: &str) -> Vec<&Value> {
        self.subnets
            .values()
            .filter(|s| str_field(s, "network_id") == Some(net))
            .collect()
    }

    /// Next free address of a subnet's allocation pools.
    pub(crate) fn allocate(&self, subnet: &Value) -> Option<IpAddr> {
        let sid = str_field(subnet, "id")?;
        let v6 = subnet.get("ip_version").and_then(Value::as_u64) == Some(6);
        let used = self.used_ips.get(sid);
        let gw = subnet.get("gateway_ip").and_then(ip_of);
        for pool in subnet
            .get("allocation_pools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(a), Some(b)) = (
                pool.get("start").and_then(ip_of),
                pool.get("end").and_then(ip_of),
            ) else {
                continue;
            };
            let (mut x, end) = (u128_of(a), u128_of(b));
            // Skip quickly over a dense prefix of used addresses.
            let mut steps = 0u64;
            while x <= end && steps < 1_000_000 {
                let ip = ip_from(x, v6);
                if Some(ip) != gw && !used.is_some_and(|u| u.contains(&ip)) {
                    return Some(ip);
                }
                x += 1;
                steps += 1;
            }
        }
        None
    }

    /// Whether `ip` lies in one of the subnet's allocation pools or at least its CIDR.
    pub(crate) fn ip_valid_for(subnet: &Value, ip: IpAddr) -> bool {
        cidr_of(subnet).is_some_and(|c| {
            c.contains(&ip) && ip != c.network() && (c.addr().is_ipv6() || ip != c.broadcast())
        })
    }

    /// Fills `fixed_ips` for a port on `net`: requested entries honoured (409 when taken),
    /// otherwise one address from the first v4 subnet with room, one from the first stateful
    /// v6 subnet, and the EUI-64 address of the port's MAC in every SLAAC / DHCPv6-stateless
    /// subnet (not for router interfaces). `owner` is the port's MAC and whether it is a
    /// router interface.
    pub(crate) fn assign_fixed_ips(
        &self,
        net: &str,
        requested: Option<&Value>,
        owner: Option<(&str, bool)>,
    ) -> ApiResult<Vec<Value>> {
        let subnets = self.subnets_of(net);
        let router_interface = owner.is_some_and(|o| o.1);
        let slaac = |s: &Value| -> ApiResult<IpAddr> {
            cidr_of(s)
                .zip(owner)
                .and_then(|(c, (mac, _))| crate::util::eui64_address(&c, mac))
                .ok_or_else(|| {
                    nerr(
                        409,
                        "IpAddressGenerationFailure",
                        format!("No more IP addresses available on network {net}."),
                    )
                })
        };
        let mut out = Vec::new();
        match requested.and_then(Value::as_array) {
            Some(list) => {
                for f in list {
                    let want_ip = f.get("ip_address").and_then(ip_of);
                    if f.get("ip_address").is_some_and(|v| !v.is_null()) && want_ip.is_none() {
                        return Err(nerr(
                            400,
                            "InvalidInput",
                            format!(
                                "Invalid input for operation: {} is not a valid IP address.",
                                f["ip_address"]
                            ),
                        ));
                    }
                    let subnet = match str_field(f, "subnet_id") {
                        Some(sid) => Some(*subnets.iter().find(|s| str_field(s, "id") == Some(sid)).ok_or_else(|| {
                            nerr(400, "InvalidInput", format!("Invalid input for operation: Failed to create port on network {net}, because fixed_ips included invalid subnet {sid}."))
                        })?),
                        None => want_ip.and_then(|ip| subnets.iter().find(|s| Self::ip_valid_for(s, ip)).copied()),
                    };
                    let Some(subnet) = subnet else {
                        return Err(nerr(
                            400,
                            "InvalidIpForNetwork",
                            format!(
                                "IP address {} is not a valid IP for any of the subnets on the specified network.",
                                want_ip.map(|i| i.to_string()).unwrap_or_default()
                            ),
                        ));
                    };
                    let sid = str_field(subnet, "id").unwrap_or_default();
                    let ip = match want_ip {
                        Some(ip) => {
                            if !Self::ip_valid_for(subnet, ip) {
                                return Err(nerr(
                                    400,
                                    "InvalidIpForSubnet",
                                    format!(
                                        "IP address {ip} is not a valid IP for the specified subnet."
                                    ),
                                ));
                            }
                            if is_auto_address(subnet) && !router_interface {
                                return Err(nerr(
                                    400,
                                    "AllocationOnAutoAddressSubnet",
                                    format!(
                                        "IPv6 address {ip} cannot be directly assigned to a port on subnet {sid} as the subnet is configured for automatic addresses"
                                    ),
                                ));
                            }
                            if self.ip_in_use(sid, ip)
                                || out
                                    .iter()
                                    .any(|o: &Value| o["ip_address"] == json!(ip.to_string()))
                            {
                                return Err(nerr(
                                    409,
                                    "IpAddressAlreadyAllocated",
                                    format!("IP address {ip} already allocated in subnet {sid}"),
                                ));
                            }
                            ip
                        }
                        None if is_auto_address(subnet) => slaac(subnet)?,
                        None => self.allocate(subnet).ok_or_else(|| {
                            nerr(
                                409,
                                "IpAddressGenerationFailure",
                                format!("No more IP addresses available on network {net}."),
                            )
                        })?,
                    };
                    out.push(json!({"subnet_id": sid, "ip_address": ip.to_string()}));
                }
            }
            None => {
                for ver in [4, 6] {
                    let cands: Vec<&&Value> = subnets
                        .iter()
                        .filter(|s| {
                            s.get("ip_version").and_then(Value::as_u64) == Some(ver)
                                && !is_auto_address(s)
                        })
                        .collect();
                    if cands.is_empty() {
                        continue;
                    }
                    let got = cands.iter().find_map(|s| {
                        self.allocate(s)
                            .map(|ip| (str_field(s, "id").unwrap_or_default().to_string(), ip))
                    });
                    match got {
                        Some((sid, ip)) => {
                            out.push(json!({"subnet_id": sid, "ip_address": ip.to_string()}))
                        }
                        None => {
                            return Err(nerr(
                                409,
                                "IpAddressGenerationFailure",
                                format!("No more IP addresses available on network {net}."),
                            ));
                        }
                    }
                }
                if owner.is_some() && !router_interface {
                    for s in subnets.iter().filter(|s| is_auto_address(s)) {
                        let sid = str_field(s, "id").unwrap_or_default();
                        out.push(json!({"subnet_id": sid, "ip_address": slaac(s)?.to_string()}));
                    }
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn next_segment_id(&mut self, ty: &str) -> u64 {
        let base = if ty == "vlan" { 100 } else { 1000 };
        loop {
            self.next_segment += 1;
            let id = base + self.next_segment;
            if !self.networks.values().any(|n| {
                str_field(n, "provider:network_type") == Some(ty)
                    && n["provider:segmentation_id"] == json!(id)
            }) {
                return id;
            }
        }
    }

    /// The project's `default` security group, created on first need like Neutron does.
    pub(crate) fn ensure_default_sg(&mut self, project: &str, t: &Ts) -> String {
        if let Some((id, _)) = self.security_groups.iter().find(|(_, g)| {
            str_field(g, "project_id") == Some(project) && str_field(g, "name") == Some("default")
        }) {
            return id.clone();
        }
        let id = new_id();
        let mut g = json!({"id": id, "name": "default", "description": "Default security group", "project_id": project, "tenant_id": project, "stateful": true, "tags": [], "shared": false});
        if let Some(o) = g.as_object_mut() {
            stamp(o, t, true);
        }
        self.security_groups.insert(id.clone(), g);
        for (dir, eth, remote) in [
            ("egress", "IPv4", None),
            ("egress", "IPv6", None),
            ("ingress", "IPv4", Some(id.clone())),
            ("ingress", "IPv6", Some(id.clone())),
        ] {
            let rid = new_id();
            let mut r = json!({"id": rid, "security_group_id": id, "direction": dir, "ethertype": eth, "protocol": null,
                "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null, "remote_group_id": remote,
                "remote_address_group_id": null, "normalized_cidr": null, "description": "", "project_id": project, "tenant_id": project, "belongs_to_default_sg": true});
            if let Some(o) = r.as_object_mut() {
                stamp(o, t, true);
            }
            self.security_group_rules.insert(rid, r);
        }
        id
    }

    pub(crate) fn network_visible(&self, id: &str, auth: &AuthContext) -> Option<&Value> {
        self.networks.get(id).filter(|n| {
            auth.is_admin
                || str_field(n, "project_id") == Some(&auth.project_id)
                || n["shared"] == json!(true)
                || n["router:external"] == json!(true)
        })
    }

    // ---- helpers for Nova ----

    pub(crate) fn network_usable(&self, id: &str, auth: &AuthContext) -> bool {
        self.networks.get(id).is_some_and(|n| {
            auth.is_admin
                || str_field(n, "project_id") == Some(&auth.project_id)
                || n["shared"] == json!(true)
        })
    }

    pub(crate) fn auto_network(&self, project: &str) -> Option<String> {
        self.networks
            .values()
            .find(|n| {
                str_field(n, "project_id") == Some(project) && n["router:external"] != json!(true)
            })
            .or_else(|| {
                self.networks
                    .values()
                    .find(|n| n["shared"] == json!(true) && n["router:external"] != json!(true))
            })
            .and_then(|n| str_field(n, "id").map(str::to_string))
    }

    pub(crate) fn check_port_free(&self, id: &str, auth: &AuthContext) -> ApiResult<()> {
        let p = self
            .ports
            .get(id)
            .filter(|p| auth.is_admin || str_field(p, "project_id") == Some(&auth.project_id));
        match p {
            None => Err(ApiError::nova(
                400,
                format!("Port id {id} could not be found."),
            )),
            Some(p) if str_field(p, "device_id").is_some_and(|d| !d.is_empty()) => {
                Err(ApiError::nova(409, format!("Port {id} is still in use.")))
            }
            Some(_) => Ok(()),
        }
    }

    pub(crate) fn security_group_id(&mut self, project: &str, name_or_id: &str) -> Option<String> {
        if name_or_id == "default" {
            return Some(self.ensure_default_sg(project, &crate::util::now()));
        }
        self.security_groups
            .iter()
            .find(|(id, g)| {
                (id.as_str() == name_or_id || str_field(g, "name") == Some(name_or_id))
                    && str_field(g, "project_id") == Some(project)
            })
            .map(|(id, _)| id.clone())
    }

    pub(crate) fn bind_port(
        &mut self,
        id: &str,
        server: &str,
        owner: &str,
        host: &str,
    ) -> ApiResult<()> {
        let t = crate::util::now();
        let p = self.ports.get_mut(id).ok_or_else(|| {
            nerr(
                404,
                "PortNotFound",
                format!("Port {id} could not be found."),
            )
        })?;
        if let Some(o) = p.as_object_mut() {
            o.insert("device_id".into(), json!(server));
            if o.get("device_owner")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                o.insert("device_owner".into(), json!(owner));
            }
            o.insert("binding:host_id".into(), json!(host));
            o.insert("binding:vif_type".into(), json!("ovs"));
            o.insert("status".into(), json!("ACTIVE"));
            stamp(o, &t, false);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_server_port(
        &mut self,
        project: &str,
        net: &str,
        fixed_ip: Option<&str>,
        server: &str,
        owner: &str,
        host: &str,
        sgs: &[String],
    ) -> ApiResult<String> {
        let req = fixed_ip.map(|ip| json!([{"ip_address": ip}]));
        let mut mac = crate::util::random_mac();
        while self.mac_in_use(net, &mac) {
            mac = crate::util::random_mac();
        }
        let fixed = self.assign_fixed_ips(net, req.as_ref(), Some((&mac, false)))?;
        let id = new_id();
        let port_security = self
            .networks
            .get(net)
            .and_then(|n| n.get("port_security_enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let p = super::handlers::new_port(
            &id,
            project,
            net,
            "",
            &mac,
            fixed,
            server,
            owner,
            if port_security { sgs.to_vec() } else { vec![] },
            port_security,
            host,
        );
        self.index_port(&p, true);
        self.ports.insert(id.clone(), p);
        Ok(id)
    }

    /// On server delete: ports Nova created go away, ports given by the user are unbound.
    pub(crate) fn release_server_ports(&mut self, created: &[String], bound: &[String]) {
        let t = crate::util::now();
        for id in created {
            if let Some(p) = self.ports.remove(id) {
                self.index_port(&p, false);
                for f in self.floatingips.values_mut() {
                    if str_field(f, "port_id") == Some(id) {
                        super::handlers::disassociate(f, &t);
                    }
                }
            }
        }
        for id in bound.iter().filter(|b| !created.contains(b)) {
            if let Some(o) = self.ports.get_mut(id).and_then(Value::as_object_mut) {
                o.insert("device_id".into(), json!(""));
                o.insert("device_owner".into(), json!(""));
                o.insert("binding:host_id".into(), json!(""));
                o.insert("binding:vif_type".into(), json!("unbound"));
                o.insert("status".into(), json!("DOWN"));
                stamp(o, &t, false);
            }
        }
    }

    /// Nova's `addresses` for a server's ports.
    pub(crate) fn server_addresses(&self, port_ids: &[String]) -> Map<String, Value> {
        let mut out = Map::new();
        for pid in port_ids {
            let Some(p) = self.ports.get(pid) else {
                continue;
            };
            let net = str_field(p, "network_id").unwrap_or_default();
            let name = self
                .networks
                .get(net)
                .and_then(|n| str_field(n, "name"))
                .unwrap_or(net)
                .to_string();
            let mac = p.get("mac_address").cloned().unwrap_or(Value::Null);
            let entry = out.entry(name).or_insert_with(|| json!([]));
            let Some(list) = entry.as_array_mut() else {
                continue;
            };
            for f in p
                .get("fixed_ips")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let ip = f.get("ip_address").and_then(ip_of);
                let ver = if matches!(ip, Some(IpAddr::V6(_))) {
                    6
                } else {
                    4
                };
                list.push(json!({"version": ver, "addr": f["ip_address"], "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac}));
            }
            for fip in self
                .floatingips
                .values()
                .filter(|f| str_field(f, "port_id") == Some(pid))
            {
                list.push(json!({"version": 4, "addr": fip["floating_ip_address"], "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": mac}));
            }
        }
        out
    }

    pub(crate) fn server_ips(&self, port_ids: &[String]) -> Vec<String> {
        port_ids
            .iter()
            .filter_map(|p| self.ports.get(p))
            .flat_map(|p| {
                p.get("fixed_ips")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|f| str_field(&f, "ip_address").map(str::to_string))
            .collect()
    }

    pub(crate) fn interfaces(&self, port_ids: &[String]) -> Vec<Value> {
        port_ids
            .iter()
            .filter_map(|p| self.ports.get(p))
            .map(|p| json!({"port_state": p["status"], "fixed_ips": p["fixed_ips"], "port_id": p["id"], "net_id": p["network_id"], "mac_addr": p["mac_address"]}))
            .collect()
    }
}

/// Whether a subnet's ports get SLAAC (EUI-64) addresses (Neutron's
/// `ipv6_utils.is_auto_address_subnet`).
pub(crate) fn is_auto_address(subnet: &Value) -> bool {
    ["ipv6_address_mode", "ipv6_ra_mode"].iter().any(|k| {
        matches!(
            subnet.get(*k).and_then(Value::as_str),
            Some("slaac" | "dhcpv6-stateless")
        )
    })
}
