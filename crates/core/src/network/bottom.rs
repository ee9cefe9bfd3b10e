//! The pod side of the central Neutron: making and converging the bottom copies through each
//! pod's Neutron API, always through the routing lock ([`crate::routing_lock`]) so every
//! create happens once and is found again after a crash (the top id is in `name`).
//!
//! Bottom resources are created by Cascade's admin service user in the pod with `project_id`
//! set to the tenant's project (the bind path has no tenant token, and provider attributes,
//! MACs and shadow-port bindings need admin anyway), so they belong to the tenant there.
//!
//! * network: provider attributes = the top segment (unless the L2 mode is `none`);
//! * subnet: same CIDR, gateway, DHCP flag, DNS and host routes; allocation pool = one
//!   address reserved centrally per (subnet, pod) so whatever the pod allocates itself (its
//!   DHCP port) can never collide with a top-allocated address;
//! * port twin: same IP(s) and MAC, security groups mapped to the pod's copies;
//! * shadow port (`shadow_<top port id>`, `device_owner` `compute:shadow`): a port bound in
//!   another pod, with `binding:profile` naming the remote region and host;
//! * security group: rules mapped, `remote_group_id` mapped to the pod's copy of the group
//!   and, for members with no representative in the pod, expanded into `/32` (`/128`)
//!   `remote_ip_prefix` rules;
//! * router: one per pod holding one of its networks, joined by the project's bridge network
//!   (router interfaces on it, addresses allocated centrally) with extra routes to the
//!   subnets that live only in other pods.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use cascade_pod::PodClient;
use cascade_store::network::IpAllocation;
use http::Method;
use ipnet::IpNet;
use serde_json::{Value, json};

use super::resources::{fixed_ips, subnet_cidr, subnet_gateway, subnet_pools};
use super::{Doc, Kind, L2Mode, NetError, NetResult, NetworkService, doc_of, ipam, str_of};
use crate::routing_lock::{BottomKey, ensure_bottom, forget};

/// Routing resource types used here.
pub const RT_NETWORK: &str = "network";
pub const RT_SUBNET: &str = "subnet";
pub const RT_PORT: &str = "port";
pub const RT_SHADOW_PORT: &str = "shadow_port";
pub const RT_SECURITY_GROUP: &str = "security_group";
pub const RT_ROUTER: &str = "router";
pub const RT_BRIDGE_NETWORK: &str = "bridge_network";
pub const RT_BRIDGE_SUBNET: &str = "bridge_subnet";
pub const RT_BRIDGE_PORT: &str = "bridge_port";
pub const RT_FLOATINGIP: &str = "floatingip";

fn pod_err(status: u16, body: &Value, what: &str) -> NetError {
    let e = &body["NeutronError"];
    let msg = e["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string());
    let ty = e["type"].as_str().unwrap_or("PodError");
    let mut err = NetError::new(
        if status >= 500 { 503 } else { status },
        ty,
        format!("{what}: {msg}"),
    );
    err.retryable = status >= 500 || status == 429 || status == 409;
    err
}

/// The reservation key of a subnet's bottom pool in a pod.
fn reserved_owner(subnet: &str, pod: &str) -> String {
    format!("reserved:{subnet}:{pod}")
}

fn bridge_key(project: &str) -> String {
    format!("bridge:{project}")
}

/// The ids of a project's bridge network and subnet (their names in every pod).
fn bridge_ids(project: &str) -> (String, String) {
    (
        format!("bridge_net_{project}"),
        format!("bridge_subnet_{project}"),
    )
}

/// The allocation owner of a bridge address: a bottom router's, or (`bridge_pool`) the one
/// reserved for a project's bridge subnet pool in a pod.
fn bridge_ip_owner(router: &str, pod_id: &str) -> String {
    format!("bridge:{router}:{pod_id}")
}

/// The owner name of the address reserved for a project's bridge subnet pool (in each pod,
/// with `bridge_ip_owner`). Per project: every project has its own bridge CIDR, so one
/// reservation shared by all projects in a pod would hand the second project a pool in the
/// first one's CIDR ("allocation pool ... spans beyond the subnet cidr" from the pod).
fn bridge_pool(project: &str) -> String {
    format!("pool-{project}")
}

impl NetworkService {
    pub(crate) async fn pod(&self, pod_id: &str) -> NetResult<Arc<PodClient>> {
        Ok(self.pods.client(pod_id).await?)
    }

    /// One Neutron call to a pod; `Ok((status, body))` for 2xx and 404, errors otherwise.
    pub(crate) async fn call(
        &self,
        pod: &PodClient,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> NetResult<(u16, Value)> {
        let what = format!("{method} {path} in {}", pod.region());
        let resp = pod
            .send(method, "network", path, body.as_ref(), &[])
            .await
            .map_err(|e| {
                let mut n = NetError::new(503, "ServiceUnavailable", e.to_string());
                n.retryable = true;
                n
            })?;
        let json = resp.json().unwrap_or(Value::Null);
        match resp.status {
            200..=299 | 404 => Ok((resp.status, json)),
            s => Err(pod_err(s, &json, &what)),
        }
    }

    async fn find_named(
        &self,
        pod: &PodClient,
        coll: &str,
        plural: &str,
        name: &str,
    ) -> NetResult<Option<String>> {
        let (_, body) = self
            .call(
                pod,
                Method::GET,
                &format!("/v2.0/{coll}?name={name}&fields=id"),
                None,
            )
            .await?;
        Ok(body[plural]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|x| x["id"].as_str())
            .map(str::to_string))
    }

    async fn create_in(
        &self,
        pod: &PodClient,
        coll: &str,
        single: &str,
        body: Value,
    ) -> NetResult<String> {
        let (status, out) = self
            .call(
                pod,
                Method::POST,
                &format!("/v2.0/{coll}"),
                Some(json!({ single: body })),
            )
            .await?;
        if status == 404 {
            return Err(pod_err(
                404,
                &out,
                &format!("create {single} in {}", pod.region()),
            ));
        }
        out[single]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                NetError::new(
                    503,
                    "PodError",
                    format!("{} answered a {single} without id", pod.region()),
                )
            })
    }

    async fn delete_in(&self, pod: &PodClient, coll: &str, id: &str) -> NetResult<()> {
        self.call(pod, Method::DELETE, &format!("/v2.0/{coll}/{id}"), None)
            .await?;
        Ok(())
    }

    /// The pods holding a copy of a top network.
    pub(crate) async fn network_pods(&self, net_id: &str) -> NetResult<Vec<String>> {
        Ok(self
            .store
            .routings_of(net_id, RT_NETWORK)
            .await?
            .into_iter()
            .filter(|r| r.bottom_id.is_some())
            .map(|r| r.pod_id)
            .collect())
    }

    async fn bottom_id(&self, top: &str, pod: &str, rt: &str) -> NetResult<Option<String>> {
        Ok(self
            .store
            .find_routing(top, pod, rt)
            .await?
            .and_then(|r| r.bottom_id))
    }

    // ---------------------------------------------------------------- networks and subnets

    /// The pod's copy of a top network (same segment), created once.
    pub(crate) async fn ensure_bottom_network(&self, net: &Doc, pod_id: &str) -> NetResult<String> {
        let pod = self.pod(pod_id).await?;
        let top = str_of(net, "id");
        let project = str_of(net, "project_id");
        let mut body = json!({
            "name": top, "project_id": project, "admin_state_up": net["admin_state_up"],
            "shared": net["shared"], "router:external": net["router:external"],
            "port_security_enabled": net["port_security_enabled"], "mtu": net["mtu"],
        });
        if self.config.l2_mode != L2Mode::None || net["router:external"] == json!(true) {
            body["provider:network_type"] = net["provider:network_type"].clone();
            if !net["provider:physical_network"].is_null() {
                body["provider:physical_network"] = net["provider:physical_network"].clone();
            }
            if !net["provider:segmentation_id"].is_null() {
                body["provider:segmentation_id"] = net["provider:segmentation_id"].clone();
            }
        }
        let key = BottomKey {
            top_id: top,
            pod_id,
            project_id: project,
            resource_type: RT_NETWORK,
        };
        let made = ensure_bottom(
            &self.store,
            &key,
            || async {
                self.find_named(&pod, "networks", "networks", top)
                    .await
                    .map_err(Into::into)
            },
            || async {
                self.create_in(&pod, "networks", "network", body.clone())
                    .await
                    .map_err(Into::into)
            },
        )
        .await?;
        Ok(made)
    }

    /// The address reserved for a subnet's bottom pool in a pod.
    async fn reserved_ip(&self, subnet: &Doc, pod_id: &str) -> NetResult<IpAddr> {
        let sid = str_of(subnet, "id");
        let owner = reserved_owner(sid, pod_id);
        for _ in 0..10 {
            if let Some(a) = self.store.allocations_of(&owner).await?.first() {
                return a.ip.parse().map_err(|_| {
                    NetError::new(500, "HTTPInternalServerError", "bad reserved address")
                });
            }
            let used: HashSet<IpAddr> = self
                .store
                .subnet_allocations(sid)
                .await?
                .iter()
                .filter_map(|a| a.ip.parse().ok())
                .collect();
            let Some(ip) =
                ipam::free_addresses(&subnet_pools(subnet), &used, subnet_gateway(subnet), 1).pop()
            else {
                return Err(NetError::conflict(
                    "IpAddressGenerationFailure",
                    format!("No address left in subnet {sid} to reserve for pod {pod_id}."),
                ));
            };
            match self
                .store
                .claim_ips(&[IpAllocation {
                    subnet_id: sid.to_string(),
                    ip: ip.to_string(),
                    network_id: str_of(subnet, "network_id").to_string(),
                    owner_id: owner.clone(),
                }])
                .await
            {
                Ok(()) => return Ok(ip),
                Err(cascade_store::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(NetError::new(
            503,
            "ServiceUnavailable",
            "could not reserve a pool address; try again",
        ))
    }

    /// The pod's copy of a top subnet (inside the pod's copy of its network).
    pub(crate) async fn ensure_bottom_subnet(
        &self,
        subnet: &Doc,
        pod_id: &str,
        bnet: &str,
    ) -> NetResult<String> {
        let pod = self.pod(pod_id).await?;
        let top = str_of(subnet, "id");
        let project = str_of(subnet, "project_id");
        let reserved = self.reserved_ip(subnet, pod_id).await?;
        let body = json!({
            "name": top, "project_id": project, "network_id": bnet,
            "cidr": subnet["cidr"], "ip_version": subnet["ip_version"], "gateway_ip": subnet["gateway_ip"],
            "enable_dhcp": subnet["enable_dhcp"], "dns_nameservers": subnet["dns_nameservers"],
            "host_routes": subnet["host_routes"],
            "allocation_pools": [{"start": reserved.to_string(), "end": reserved.to_string()}],
            "ipv6_ra_mode": subnet["ipv6_ra_mode"], "ipv6_address_mode": subnet["ipv6_address_mode"],
        });
        let key = BottomKey {
            top_id: top,
            pod_id,
            project_id: project,
            resource_type: RT_SUBNET,
        };
        Ok(ensure_bottom(
            &self.store,
            &key,
            || async {
                self.find_named(&pod, "subnets", "subnets", top)
                    .await
                    .map_err(Into::into)
            },
            || async {
                self.create_in(&pod, "subnets", "subnet", body.clone())
                    .await
                    .map_err(Into::into)
            },
        )
        .await?)
    }

    /// The network and all its subnets in a pod; returns the bottom network and a map top
    /// subnet → bottom subnet.
    pub(crate) async fn ensure_network_in_pod(
        &self,
        net_id: &str,
        pod_id: &str,
    ) -> NetResult<(String, HashMap<String, String>)> {
        let (_, net) = self.load(Kind::Network, net_id).await?;
        let bnet = self.ensure_bottom_network(&net, pod_id).await?;
        let mut subnets = HashMap::new();
        for s in self.store.net_children("subnet", net_id).await? {
            let sd = doc_of(&s);
            let b = self.ensure_bottom_subnet(&sd, pod_id, &bnet).await?;
            subnets.insert(s.id.clone(), b);
        }
        Ok((bnet, subnets))
    }

    // ---------------------------------------------------------------- security groups

    /// The pod's copy of a group (without its rules).
    async fn ensure_bottom_sg(&self, sg_id: &str, pod_id: &str) -> NetResult<String> {
        let (_, sg) = self.load(Kind::SecurityGroup, sg_id).await?;
        let pod = self.pod(pod_id).await?;
        let project = str_of(&sg, "project_id");
        let body = json!({"name": sg_id, "project_id": project, "description": format!("Cascade copy of {}", str_of(&sg, "name"))});
        let key = BottomKey {
            top_id: sg_id,
            pod_id,
            project_id: project,
            resource_type: RT_SECURITY_GROUP,
        };
        Ok(ensure_bottom(
            &self.store,
            &key,
            || async {
                self.find_named(&pod, "security-groups", "security_groups", sg_id)
                    .await
                    .map_err(Into::into)
            },
            || async {
                self.create_in(&pod, "security-groups", "security_group", body.clone())
                    .await
                    .map_err(Into::into)
            },
        )
        .await?)
    }

    /// Whether a top port has a representative in a pod (its twin or its shadow).
    async fn represented_in(
        &self,
        port_id: &str,
        port_pod: Option<&str>,
        pod_id: &str,
    ) -> NetResult<bool> {
        if port_pod == Some(pod_id) {
            return Ok(true);
        }
        Ok(self
            .bottom_id(port_id, pod_id, RT_SHADOW_PORT)
            .await?
            .is_some())
    }

    /// Converges a group's rules in one pod: mapped rules, plus remote-group members with
    /// no representative in the pod expanded into address rules.
    async fn sync_sg_in_pod(&self, sg_id: &str, pod_id: &str) -> NetResult<()> {
        let Some((_, sg)) = self.try_load(Kind::SecurityGroup, sg_id).await? else {
            return Ok(());
        };
        let project = str_of(&sg, "project_id").to_string();
        let bsg = self.ensure_bottom_sg(sg_id, pod_id).await?;
        let pod = self.pod(pod_id).await?;
        let mut members: HashMap<String, Vec<Member>> = HashMap::new();
        let mut desired: BTreeSet<String> = BTreeSet::new();
        let mut bodies: BTreeMap<String, Value> = BTreeMap::new();
        for r in self
            .store
            .net_children("security_group_rule", sg_id)
            .await?
        {
            let r = doc_of(&r);
            let mut base = json!({
                "direction": r["direction"], "ethertype": r["ethertype"], "protocol": r["protocol"],
                "port_range_min": r["port_range_min"], "port_range_max": r["port_range_max"],
                "remote_ip_prefix": r["remote_ip_prefix"], "remote_group_id": Value::Null,
            });
            if let Some(g) = r["remote_group_id"].as_str() {
                let bg = if g == sg_id {
                    bsg.clone()
                } else {
                    self.ensure_bottom_sg(g, pod_id).await?
                };
                let mut mapped = base.clone();
                mapped["remote_group_id"] = json!(bg);
                let k = rule_key(&mapped);
                desired.insert(k.clone());
                bodies.insert(k, mapped);
                if !members.contains_key(g) {
                    let mut list = Vec::new();
                    for p in self
                        .store
                        .list_net_resources("port", Some(&project))
                        .await?
                    {
                        let pd = doc_of(&p);
                        if pd["security_groups"]
                            .as_array()
                            .is_some_and(|a| a.contains(&json!(g)))
                        {
                            list.push((
                                p.id.clone(),
                                p.pod_id.clone(),
                                fixed_ips(&pd).into_iter().map(|x| x.1).collect(),
                            ));
                        }
                    }
                    members.insert(g.to_string(), list);
                }
                let v4 = r["ethertype"] == json!("IPv4");
                for (pid, ppod, ips) in members.get(g).cloned().unwrap_or_default() {
                    if ppod.is_none() || self.represented_in(&pid, ppod.as_deref(), pod_id).await? {
                        continue;
                    }
                    for ip in ips.iter().filter(|ip| ip.is_ipv4() == v4) {
                        base["remote_ip_prefix"] = json!(IpNet::from(*ip).to_string());
                        let k = rule_key(&base);
                        desired.insert(k.clone());
                        bodies.insert(k, base.clone());
                    }
                }
            } else {
                let k = rule_key(&base);
                desired.insert(k.clone());
                bodies.insert(k, base);
            }
        }
        let (_, existing) = self
            .call(
                &pod,
                Method::GET,
                &format!("/v2.0/security-group-rules?security_group_id={bsg}"),
                None,
            )
            .await?;
        let mut have: HashSet<String> = HashSet::new();
        for r in existing["security_group_rules"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let k = rule_key(&r);
            if desired.contains(&k) && have.insert(k) {
                continue;
            }
            if let Some(id) = r["id"].as_str() {
                self.delete_in(&pod, "security-group-rules", id).await?;
            }
        }
        for (k, mut body) in bodies {
            if have.contains(&k) {
                continue;
            }
            body["security_group_id"] = json!(bsg);
            body["project_id"] = json!(project);
            if let Some(o) = body.as_object_mut() {
                o.retain(|_, v| !v.is_null());
            }
            self.create_in(&pod, "security-group-rules", "security_group_rule", body)
                .await?;
        }
        Ok(())
    }

    /// `network.sg_sync`: the group's rules in every pod holding a copy.
    pub(crate) async fn sync_security_group(self: &Arc<Self>, sg_id: &str) -> NetResult<()> {
        for r in self.store.routings_of(sg_id, RT_SECURITY_GROUP).await? {
            self.sync_sg_in_pod(sg_id, &r.pod_id).await?;
        }
        Ok(())
    }

    async fn bottom_sgs(&self, port: &Doc, pod_id: &str) -> NetResult<Vec<String>> {
        let mut out = Vec::new();
        for g in port["security_groups"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            if let Some(g) = g.as_str() {
                let b = self.ensure_bottom_sg(g, pod_id).await?;
                self.sync_sg_in_pod(g, pod_id).await?;
                out.push(b);
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- ports

    /// A top port's addresses in a pod's terms. An EUI-64 address of the port's MAC (a SLAAC
    /// or DHCPv6-stateless subnet) goes by subnet only: Neutron refuses such an address
    /// given explicitly and derives the same one from the same MAC and prefix.
    fn bottom_fixed_ips(port: &Doc, subnets: &HashMap<String, String>) -> NetResult<Vec<Value>> {
        let mac = str_of(port, "mac_address");
        fixed_ips(port)
            .into_iter()
            .map(|(s, ip)| {
                let b = subnets.get(&s).ok_or_else(|| {
                    NetError::new(
                        503,
                        "ServiceUnavailable",
                        format!("subnet {s} has no copy in the pod yet"),
                    )
                })?;
                if ipam::is_eui64_of(ip, mac) {
                    return Ok(json!({"subnet_id": b}));
                }
                Ok(json!({"subnet_id": b, "ip_address": ip.to_string()}))
            })
            .collect()
    }

    /// The pod's twin of a top port (same IPs and MAC), with everything it needs.
    pub(crate) async fn ensure_twin(&self, port: &Doc, pod_id: &str) -> NetResult<String> {
        let pod = self.pod(pod_id).await?;
        let top = str_of(port, "id");
        let project = str_of(port, "project_id");
        let (bnet, subnets) = self
            .ensure_network_in_pod(str_of(port, "network_id"), pod_id)
            .await?;
        let sgs = self.bottom_sgs(port, pod_id).await?;
        let mut body = json!({
            "name": top, "project_id": project, "network_id": bnet,
            "mac_address": port["mac_address"], "fixed_ips": Self::bottom_fixed_ips(port, &subnets)?,
            "admin_state_up": port["admin_state_up"],
            "port_security_enabled": port["port_security_enabled"],
            "allowed_address_pairs": port["allowed_address_pairs"],
        });
        if port["port_security_enabled"] != json!(false) {
            body["security_groups"] = json!(sgs);
        }
        let key = BottomKey {
            top_id: top,
            pod_id,
            project_id: project,
            resource_type: RT_PORT,
        };
        let id = ensure_bottom(
            &self.store,
            &key,
            || async {
                self.find_named(&pod, "ports", "ports", top)
                    .await
                    .map_err(Into::into)
            },
            || async {
                self.create_in(&pod, "ports", "port", body.clone())
                    .await
                    .map_err(Into::into)
            },
        )
        .await?;
        Ok(id)
    }

    /// Brings an existing twin's mutable attributes in line with the top.
    async fn update_twin(&self, port: &Doc, pod_id: &str, bottom: &str) -> NetResult<()> {
        let pod = self.pod(pod_id).await?;
        let (_, subnets) = self
            .ensure_network_in_pod(str_of(port, "network_id"), pod_id)
            .await?;
        let sgs = self.bottom_sgs(port, pod_id).await?;
        let mut body = json!({
            "admin_state_up": port["admin_state_up"], "fixed_ips": Self::bottom_fixed_ips(port, &subnets)?,
            "port_security_enabled": port["port_security_enabled"],
            "allowed_address_pairs": port["allowed_address_pairs"],
        });
        body["security_groups"] = if port["port_security_enabled"] != json!(false) {
            json!(sgs)
        } else {
            json!([])
        };
        self.call(
            &pod,
            Method::PUT,
            &format!("/v2.0/ports/{bottom}"),
            Some(json!({"port": body})),
        )
        .await?;
        Ok(())
    }

    async fn delete_bottom_port(
        &self,
        top: &str,
        pod_id: &str,
        rt: &str,
        project: &str,
    ) -> NetResult<()> {
        if let Some(b) = self.bottom_id(top, pod_id, rt).await? {
            let pod = self.pod(pod_id).await?;
            self.delete_in(&pod, "ports", &b).await?;
        }
        forget(
            &self.store,
            &BottomKey {
                top_id: top,
                pod_id,
                project_id: project,
                resource_type: rt,
            },
        )
        .await?;
        Ok(())
    }

    /// `network.port_sync`: the twin of a port bound in a pod exists and matches; a port that
    /// is gone or unbound has no twin and no shadows left anywhere.
    pub(crate) async fn sync_port(self: &Arc<Self>, port_id: &str) -> NetResult<()> {
        let port = self.try_load(Kind::Port, port_id).await?;
        let bound_pod = port.as_ref().and_then(|(r, _)| r.pod_id.clone());
        for r in self.store.routings_of(port_id, RT_PORT).await? {
            if Some(&r.pod_id) != bound_pod.as_ref() {
                let owner = port
                    .as_ref()
                    .map(|(_, d)| str_of(d, "device_owner").to_string())
                    .unwrap_or_default();
                if owner != "network:router_interface" {
                    self.delete_bottom_port(port_id, &r.pod_id, RT_PORT, &r.project_id)
                        .await?;
                }
            }
        }
        match (&port, &bound_pod) {
            (Some((_, d)), Some(pod)) => {
                match self.bottom_id(port_id, pod, RT_PORT).await? {
                    Some(b) => self.update_twin(d, pod, &b).await?,
                    None => {
                        self.ensure_twin(d, pod).await?;
                    }
                }
                // A shadow of the port in its own pod would be a duplicate.
                self.delete_bottom_port(port_id, pod, RT_SHADOW_PORT, str_of(d, "project_id"))
                    .await?;
            }
            _ => {
                for r in self.store.routings_of(port_id, RT_SHADOW_PORT).await? {
                    self.delete_bottom_port(port_id, &r.pod_id, RT_SHADOW_PORT, &r.project_id)
                        .await?;
                }
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- cross-pod L2

    /// The host a bottom port is bound to, if the pod has bound it.
    async fn bottom_host(&self, pod_id: &str, bottom: &str) -> NetResult<Option<String>> {
        let pod = self.pod(pod_id).await?;
        let (status, body) = self
            .call(&pod, Method::GET, &format!("/v2.0/ports/{bottom}"), None)
            .await?;
        if status == 404 {
            return Ok(None);
        }
        Ok(body["port"]["binding:host_id"]
            .as_str()
            .filter(|h| !h.is_empty())
            .map(str::to_string))
    }

    /// `network.l2_sync`: every pod holding the network has a shadow port for each port of
    /// the network bound in another pod, and no stale ones.
    pub(crate) async fn sync_l2(self: &Arc<Self>, net_id: &str) -> NetResult<()> {
        if self.config.l2_mode == L2Mode::None {
            return Ok(());
        }
        let pods = self.network_pods(net_id).await?;
        let ports: Vec<(String, String, Doc)> = self
            .store
            .net_children("port", net_id)
            .await?
            .into_iter()
            .filter_map(|r| {
                let d = doc_of(&r);
                let owner = str_of(&d, "device_owner");
                if owner.starts_with("network:") {
                    return None;
                }
                r.pod_id.clone().map(|p| (r.id.clone(), p, d))
            })
            .collect();
        let mut regions: HashMap<String, String> = HashMap::new();
        for p in self.pods.list().await? {
            regions.insert(p.pod_id, p.region_name);
        }
        let mut unbound = false;
        for (pid, home, d) in &ports {
            let host = match self.bottom_id(pid, home, RT_PORT).await? {
                Some(b) => self.bottom_host(home, &b).await?,
                None => None,
            };
            unbound |= host.is_none();
            for q in pods.iter().filter(|q| *q != home) {
                self.ensure_shadow(
                    d,
                    home,
                    q,
                    host.as_deref(),
                    regions.get(home).map(String::as_str),
                )
                .await?;
            }
        }
        // Shadows of ports no longer bound elsewhere on this network.
        let live: HashSet<(&str, &str)> = ports
            .iter()
            .map(|(p, h, _)| (p.as_str(), h.as_str()))
            .collect();
        for q in &pods {
            let rows = self
                .store
                .list_routings(
                    &cascade_store::routings::RoutingFilter {
                        pod_id: Some(q.clone()),
                        resource_type: Some(RT_SHADOW_PORT.into()),
                        ..Default::default()
                    },
                    i64::MAX,
                    None,
                )
                .await?;
            for r in rows {
                let still = match self.try_load(Kind::Port, &r.top_id).await? {
                    Some((row, d)) => {
                        str_of(&d, "network_id") != net_id
                            || row
                                .pod_id
                                .as_deref()
                                .is_some_and(|h| h != q && live.contains(&(r.top_id.as_str(), h)))
                    }
                    None => false,
                };
                if !still {
                    self.delete_bottom_port(&r.top_id, q, RT_SHADOW_PORT, &r.project_id)
                        .await?;
                }
            }
        }
        if unbound && self.config.l2_mode == L2Mode::VxlanShadowPorts {
            // Shadows exist; their tunnel endpoints follow once the pods bind the ports.
            return Err(NetError::new(
                503,
                "ServiceUnavailable",
                "waiting for ports to be bound to learn their hosts",
            ));
        }
        Ok(())
    }

    async fn ensure_shadow(
        &self,
        port: &Doc,
        home: &str,
        pod_id: &str,
        host: Option<&str>,
        region: Option<&str>,
    ) -> NetResult<()> {
        let pod = self.pod(pod_id).await?;
        let top = str_of(port, "id");
        let project = str_of(port, "project_id");
        let (bnet, subnets) = self
            .ensure_network_in_pod(str_of(port, "network_id"), pod_id)
            .await?;
        let sgs = self.bottom_sgs(port, pod_id).await?;
        let profile = json!({
            "cascade_remote_pod": home, "cascade_remote_region": region, "host": host,
            "l2_mode": self.config.l2_mode.as_str(), "force_up": true,
        });
        let name = format!("shadow_{top}");
        let mut body = json!({
            "name": name, "project_id": project, "network_id": bnet,
            "mac_address": port["mac_address"], "fixed_ips": Self::bottom_fixed_ips(port, &subnets)?,
            "device_owner": "compute:shadow", "device_id": port["device_id"],
            "admin_state_up": port["admin_state_up"], "binding:profile": profile,
            "port_security_enabled": port["port_security_enabled"],
        });
        if let Some(h) = host {
            body["binding:host_id"] = json!(h);
        }
        if port["port_security_enabled"] != json!(false) {
            body["security_groups"] = json!(sgs);
        }
        let key = BottomKey {
            top_id: top,
            pod_id,
            project_id: project,
            resource_type: RT_SHADOW_PORT,
        };
        let b = ensure_bottom(
            &self.store,
            &key,
            || async {
                self.find_named(&pod, "ports", "ports", &name)
                    .await
                    .map_err(Into::into)
            },
            || async {
                self.create_in(&pod, "ports", "port", body.clone())
                    .await
                    .map_err(Into::into)
            },
        )
        .await?;
        // Keep the binding (host, security groups) current on an existing shadow.
        if let Some(h) = host {
            let upd = json!({"port": {"binding:host_id": h, "binding:profile": body["binding:profile"], "security_groups": body.get("security_groups").cloned().unwrap_or(json!([]))}});
            self.call(&pod, Method::PUT, &format!("/v2.0/ports/{b}"), Some(upd))
                .await?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- routers

    /// The project's bridge CIDR (allocated from the pool on first need).
    async fn bridge_cidr(&self, project: &str) -> NetResult<IpNet> {
        for i in 0..10_000u128 {
            if let Some(b) = self.store.get_bridge(project).await? {
                return b
                    .cidr
                    .parse()
                    .map_err(|_| NetError::new(500, "HTTPInternalServerError", "bad bridge cidr"));
            }
            let used: HashSet<String> = self.store.bridge_cidrs().await?.into_iter().collect();
            let mut idx = i;
            let cidr = loop {
                let Some(c) =
                    ipam::nth_subnet(&self.config.bridge_cidr, self.config.bridge_prefix, idx)
                else {
                    return Err(NetError::new(
                        503,
                        "NoBridgeAvailable",
                        "The bridge CIDR pool is exhausted.",
                    ));
                };
                if !used.contains(&c.to_string()) {
                    break c;
                }
                idx += 1;
            };
            match self.store.insert_bridge(project, &cidr.to_string()).await {
                Ok(_) => return Ok(cidr),
                Err(cascade_store::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(NetError::new(
            503,
            "ServiceUnavailable",
            "could not allocate a bridge network",
        ))
    }

    /// The bridge network document (not a tenant resource; built from the project's bridge).
    async fn bridge_doc(&self, project: &str) -> NetResult<(Doc, Doc)> {
        let cidr = self.bridge_cidr(project).await?;
        let key = bridge_key(project);
        let seg = match self.store.segment_of(&key).await? {
            Some(s) => (
                s.network_type,
                Some(s.physical_network).filter(|p| !p.is_empty()),
                Some(s.segmentation_id),
            ),
            None => self.claim_segment(&key, None, None, None).await?,
        };
        let (net_id, sub_id) = bridge_ids(project);
        let mut net = Doc::new();
        net.insert("id".into(), json!(net_id));
        net.insert("project_id".into(), json!(project));
        net.insert("admin_state_up".into(), json!(true));
        net.insert("shared".into(), json!(false));
        net.insert("router:external".into(), json!(false));
        net.insert("port_security_enabled".into(), json!(false));
        net.insert(
            "mtu".into(),
            json!(if seg.0 == "vlan" { 1500 } else { 1450 }),
        );
        net.insert("provider:network_type".into(), json!(seg.0));
        net.insert("provider:physical_network".into(), json!(seg.1));
        net.insert("provider:segmentation_id".into(), json!(seg.2));
        let (lo, hi) = ipam::host_bounds(&cidr).unwrap_or((0, 0));
        let v6 = cidr.addr().is_ipv6();
        let mut sub = Doc::new();
        sub.insert("id".into(), json!(sub_id));
        sub.insert("project_id".into(), json!(project));
        sub.insert("network_id".into(), json!(key));
        sub.insert("cidr".into(), json!(cidr.to_string()));
        sub.insert("ip_version".into(), json!(if v6 { 6 } else { 4 }));
        sub.insert("gateway_ip".into(), Value::Null);
        sub.insert("enable_dhcp".into(), json!(false));
        sub.insert("dns_nameservers".into(), json!([]));
        sub.insert("host_routes".into(), json!([]));
        sub.insert(
            "allocation_pools".into(),
            json!([{"start": ipam::from_u128(lo, v6).to_string(), "end": ipam::from_u128(hi, v6).to_string()}]),
        );
        Ok((net, sub))
    }

    /// A bottom router's address on the project bridge, allocated once.
    async fn bridge_ip(&self, sub: &Doc, router: &str, pod_id: &str) -> NetResult<IpAddr> {
        let owner = bridge_ip_owner(router, pod_id);
        let sid = str_of(sub, "id");
        for _ in 0..10 {
            let mine = self.store.allocations_of(&owner).await?;
            if let Some(a) = mine.iter().find(|a| a.subnet_id == sid) {
                return a.ip.parse().map_err(|_| {
                    NetError::new(500, "HTTPInternalServerError", "bad bridge address")
                });
            }
            let used: HashSet<IpAddr> = self
                .store
                .subnet_allocations(sid)
                .await?
                .iter()
                .filter_map(|a| a.ip.parse().ok())
                .collect();
            let Some(ip) = ipam::free_addresses(&subnet_pools(sub), &used, None, 1).pop() else {
                return Err(NetError::conflict(
                    "IpAddressGenerationFailure",
                    "The bridge network is full.",
                ));
            };
            match self
                .store
                .claim_ips(&[IpAllocation {
                    subnet_id: sid.into(),
                    ip: ip.to_string(),
                    network_id: str_of(sub, "network_id").into(),
                    owner_id: owner.clone(),
                }])
                .await
            {
                Ok(()) => return Ok(ip),
                Err(cascade_store::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(NetError::new(
            503,
            "ServiceUnavailable",
            "could not allocate a bridge address",
        ))
    }

    async fn ensure_bottom_router(&self, router: &Doc, pod_id: &str) -> NetResult<String> {
        let pod = self.pod(pod_id).await?;
        let top = str_of(router, "id");
        let project = str_of(router, "project_id");
        let body =
            json!({"name": top, "project_id": project, "admin_state_up": router["admin_state_up"]});
        let key = BottomKey {
            top_id: top,
            pod_id,
            project_id: project,
            resource_type: RT_ROUTER,
        };
        Ok(ensure_bottom(
            &self.store,
            &key,
            || async {
                self.find_named(&pod, "routers", "routers", top)
                    .await
                    .map_err(Into::into)
            },
            || async {
                self.create_in(&pod, "routers", "router", body.clone())
                    .await
                    .map_err(Into::into)
            },
        )
        .await?)
    }

    /// Bottom interface ports of a bottom router: bottom port id → bottom network id.
    async fn bottom_interfaces(
        &self,
        pod: &PodClient,
        brouter: &str,
    ) -> NetResult<HashMap<String, String>> {
        let (_, body) = self
            .call(
                pod,
                Method::GET,
                &format!("/v2.0/ports?device_id={brouter}&device_owner=network:router_interface"),
                None,
            )
            .await?;
        Ok(body["ports"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                Some((
                    p["id"].as_str()?.to_string(),
                    p["network_id"].as_str()?.to_string(),
                ))
            })
            .collect())
    }

    /// Creates a bottom port (routing type `rt`, keyed by `top`) and attaches it to a bottom
    /// router, unless attached already.
    #[allow(clippy::too_many_arguments)]
    async fn attach(
        &self,
        pod_id: &str,
        brouter: &str,
        attached: &HashMap<String, String>,
        top: &str,
        rt: &str,
        project: &str,
        body: Value,
    ) -> NetResult<String> {
        let pod = self.pod(pod_id).await?;
        let name = body["name"].as_str().unwrap_or(top).to_string();
        let key = BottomKey {
            top_id: top,
            pod_id,
            project_id: project,
            resource_type: rt,
        };
        let bport = ensure_bottom(
            &self.store,
            &key,
            || async {
                self.find_named(&pod, "ports", "ports", &name)
                    .await
                    .map_err(Into::into)
            },
            || async {
                self.create_in(&pod, "ports", "port", body.clone())
                    .await
                    .map_err(Into::into)
            },
        )
        .await?;
        if !attached.contains_key(&bport) {
            self.call(
                &pod,
                Method::PUT,
                &format!("/v2.0/routers/{brouter}/add_router_interface"),
                Some(json!({"port_id": bport})),
            )
            .await?;
        }
        Ok(bport)
    }

    async fn detach_and_delete(
        &self,
        pod: &PodClient,
        brouter: &str,
        bport: &str,
    ) -> NetResult<()> {
        self.call(
            pod,
            Method::PUT,
            &format!("/v2.0/routers/{brouter}/remove_router_interface"),
            Some(json!({"port_id": bport})),
        )
        .await?;
        self.delete_in(pod, "ports", bport).await
    }

    /// `network.router_sync`: one bottom router per pod holding one of the router's networks
    /// (plus the external network's pod), interfaces mirrored, the project's bridge joining
    /// them, extra routes to the subnets that live elsewhere, and the external gateway.
    pub(crate) async fn sync_router(self: &Arc<Self>, router_id: &str) -> NetResult<()> {
        let Some((_, router)) = self.try_load(Kind::Router, router_id).await? else {
            return self.cleanup_router(router_id).await;
        };
        let project = str_of(&router, "project_id").to_string();
        let ifaces = self.router_interfaces(router_id).await?;
        // Where each attached network lives.
        let mut net_pods: HashMap<String, Vec<String>> = HashMap::new();
        for (p, _) in &ifaces {
            let n = str_of(p, "network_id").to_string();
            if let std::collections::hash_map::Entry::Vacant(v) = net_pods.entry(n) {
                let pods = self.network_pods(v.key()).await?;
                v.insert(pods);
            }
        }
        let mut pods: BTreeSet<String> = net_pods.values().flatten().cloned().collect();
        let ext = router["external_gateway_info"]["network_id"]
            .as_str()
            .map(str::to_string);
        let ext_pod = match &ext {
            Some(e) => self
                .try_load(Kind::Network, e)
                .await?
                .and_then(|(r, _)| r.pod_id),
            None => None,
        };
        if let Some(x) = &ext_pod
            && !pods.is_empty()
        {
            pods.insert(x.clone());
        }
        // Pods that no longer need a copy.
        for r in self.store.routings_of(router_id, RT_ROUTER).await? {
            if !pods.contains(&r.pod_id) {
                self.delete_router_in(router_id, &r.pod_id, &project)
                    .await?;
            }
        }
        let bridged = pods.len() >= 2;
        let bridge = if bridged {
            Some(self.bridge_doc(&project).await?)
        } else {
            None
        };
        let mut bridge_ips: BTreeMap<String, IpAddr> = BTreeMap::new();
        let mut brouters: BTreeMap<String, String> = BTreeMap::new();
        for pod_id in &pods {
            let pod = self.pod(pod_id).await?;
            let brouter = self.ensure_bottom_router(&router, pod_id).await?;
            brouters.insert(pod_id.clone(), brouter.clone());
            let attached = self.bottom_interfaces(&pod, &brouter).await?;
            let mut wanted: HashSet<String> = HashSet::new();
            for (p, _) in &ifaces {
                let n = str_of(p, "network_id");
                if !net_pods.get(n).is_some_and(|ps| ps.contains(pod_id)) {
                    continue;
                }
                let (bnet, subnets) = self.ensure_network_in_pod(n, pod_id).await?;
                let body = json!({
                    "name": str_of(p, "id"), "project_id": project, "network_id": bnet,
                    "mac_address": p["mac_address"], "fixed_ips": Self::bottom_fixed_ips(p, &subnets)?,
                });
                let b = self
                    .attach(
                        pod_id,
                        &brouter,
                        &attached,
                        str_of(p, "id"),
                        RT_PORT,
                        &project,
                        body,
                    )
                    .await?;
                wanted.insert(b);
            }
            if let Some((bnet_doc, bsub_doc)) = &bridge {
                let bnet = self.ensure_bottom_network(bnet_doc, pod_id).await?;
                let bsub = {
                    let key = BottomKey {
                        top_id: str_of(bsub_doc, "id"),
                        pod_id,
                        project_id: &project,
                        resource_type: RT_BRIDGE_SUBNET,
                    };
                    let reserved = self
                        .bridge_ip(bsub_doc, &bridge_pool(&project), pod_id)
                        .await?;
                    let body = json!({
                        "name": str_of(bsub_doc, "id"), "project_id": project, "network_id": bnet,
                        "cidr": bsub_doc["cidr"], "ip_version": bsub_doc["ip_version"], "gateway_ip": Value::Null,
                        "enable_dhcp": false, "allocation_pools": [{"start": reserved.to_string(), "end": reserved.to_string()}],
                    });
                    let name = str_of(bsub_doc, "id").to_string();
                    ensure_bottom(
                        &self.store,
                        &key,
                        || async {
                            self.find_named(&pod, "subnets", "subnets", &name)
                                .await
                                .map_err(Into::into)
                        },
                        || async {
                            self.create_in(&pod, "subnets", "subnet", body.clone())
                                .await
                                .map_err(Into::into)
                        },
                    )
                    .await?
                };
                let ip = self.bridge_ip(bsub_doc, router_id, pod_id).await?;
                bridge_ips.insert(pod_id.clone(), ip);
                let body = json!({
                    "name": format!("bridge_port_{router_id}"), "project_id": project, "network_id": bnet,
                    "fixed_ips": [{"subnet_id": bsub, "ip_address": ip.to_string()}], "port_security_enabled": false,
                });
                let b = self
                    .attach(
                        pod_id,
                        &brouter,
                        &attached,
                        router_id,
                        RT_BRIDGE_PORT,
                        &project,
                        body,
                    )
                    .await?;
                wanted.insert(b);
            } else if let Some(b) = self.bottom_id(router_id, pod_id, RT_BRIDGE_PORT).await? {
                self.detach_and_delete(&pod, &brouter, &b).await?;
                forget(
                    &self.store,
                    &BottomKey {
                        top_id: router_id,
                        pod_id,
                        project_id: &project,
                        resource_type: RT_BRIDGE_PORT,
                    },
                )
                .await?;
                self.store
                    .release_ips_of(&bridge_ip_owner(router_id, pod_id))
                    .await?;
            }
            // Interfaces the top no longer has.
            for (bport, _) in attached {
                if !wanted.contains(&bport) {
                    self.detach_and_delete(&pod, &brouter, &bport).await?;
                    let rows = self
                        .store
                        .list_routings(
                            &cascade_store::routings::RoutingFilter {
                                bottom_id: Some(bport.clone()),
                                pod_id: Some(pod_id.clone()),
                                ..Default::default()
                            },
                            10,
                            None,
                        )
                        .await?;
                    for r in rows {
                        let _ = self.store.delete_routing(r.id).await;
                    }
                }
            }
        }
        // Routes: the tenant's own (where their next hop is local) plus the other pods'
        // subnets through their bridge addresses.
        for pod_id in &pods {
            let pod = self.pod(pod_id).await?;
            let brouter = &brouters[pod_id];
            let local: Vec<IpNet> = ifaces
                .iter()
                .filter(|(p, _)| {
                    net_pods
                        .get(str_of(p, "network_id"))
                        .is_some_and(|ps| ps.contains(pod_id))
                })
                .filter_map(|(_, s)| subnet_cidr(s))
                .collect();
            let mut routes: Vec<Value> = router["routes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|r| {
                    r["nexthop"]
                        .as_str()
                        .and_then(|h| h.parse::<IpAddr>().ok())
                        .is_some_and(|h| local.iter().any(|c| c.contains(&h)))
                })
                .collect();
            if bridged {
                for (q, ip) in &bridge_ips {
                    if q == pod_id {
                        continue;
                    }
                    for (p, s) in &ifaces {
                        let n = str_of(p, "network_id");
                        let (Some(c), Some(ps)) = (subnet_cidr(s), net_pods.get(n)) else {
                            continue;
                        };
                        if ps.contains(q) && !ps.contains(pod_id) {
                            let e =
                                json!({"destination": c.to_string(), "nexthop": ip.to_string()});
                            if !routes.contains(&e) {
                                routes.push(e);
                            }
                        }
                    }
                }
            }
            self.call(
                &pod,
                Method::PUT,
                &format!("/v2.0/routers/{brouter}"),
                Some(json!({"router": {"routes": routes}})),
            )
            .await?;
        }
        // North-south: the gateway on the external network's pod.
        if let (Some(e), Some(x)) = (&ext, &ext_pod)
            && let Some(brouter) = brouters.get(x)
        {
            let pod = self.pod(x).await?;
            let (bnet, subnets) = self.ensure_network_in_pod(e, x).await?;
            let gw = &router["external_gateway_info"];
            let fixed: Vec<Value> = gw["external_fixed_ips"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|f| Some(json!({"subnet_id": subnets.get(f["subnet_id"].as_str()?)?, "ip_address": f["ip_address"]})))
                .collect();
            let body = json!({"router": {"external_gateway_info": {"network_id": bnet, "enable_snat": gw["enable_snat"], "external_fixed_ips": fixed}}});
            self.call(
                &pod,
                Method::PUT,
                &format!("/v2.0/routers/{brouter}"),
                Some(body),
            )
            .await?;
        }
        Ok(())
    }

    async fn delete_router_in(
        &self,
        router_id: &str,
        pod_id: &str,
        project: &str,
    ) -> NetResult<()> {
        let pod = self.pod(pod_id).await?;
        if let Some(brouter) = self.bottom_id(router_id, pod_id, RT_ROUTER).await? {
            let (status, _) = self
                .call(&pod, Method::GET, &format!("/v2.0/routers/{brouter}"), None)
                .await?;
            if status != 404 {
                self.call(
                    &pod,
                    Method::PUT,
                    &format!("/v2.0/routers/{brouter}"),
                    Some(json!({"router": {"routes": [], "external_gateway_info": {}}})),
                )
                .await?;
                for (bport, _) in self.bottom_interfaces(&pod, &brouter).await? {
                    self.detach_and_delete(&pod, &brouter, &bport).await?;
                    let rows = self
                        .store
                        .list_routings(
                            &cascade_store::routings::RoutingFilter {
                                bottom_id: Some(bport.clone()),
                                pod_id: Some(pod_id.into()),
                                ..Default::default()
                            },
                            10,
                            None,
                        )
                        .await?;
                    for r in rows {
                        let _ = self.store.delete_routing(r.id).await;
                    }
                }
                self.delete_in(&pod, "routers", &brouter).await?;
            }
        }
        for rt in [RT_ROUTER, RT_BRIDGE_PORT] {
            forget(
                &self.store,
                &BottomKey {
                    top_id: router_id,
                    pod_id,
                    project_id: project,
                    resource_type: rt,
                },
            )
            .await?;
        }
        self.store
            .release_ips_of(&bridge_ip_owner(router_id, pod_id))
            .await?;
        self.release_bridge_in(project, pod_id).await
    }

    /// Deletes the project's bridge network (and with it its subnet) from a pod once no router
    /// of the project is left there. A router sync that needs it again recreates it.
    async fn release_bridge_in(&self, project: &str, pod_id: &str) -> NetResult<()> {
        let routers_left = self
            .store
            .list_routings(
                &cascade_store::routings::RoutingFilter {
                    pod_id: Some(pod_id.into()),
                    project_id: Some(project.into()),
                    resource_type: Some(RT_ROUTER.into()),
                    ..Default::default()
                },
                1,
                None,
            )
            .await?;
        if !routers_left.is_empty() {
            return Ok(());
        }
        let (net, sub) = bridge_ids(project);
        if let Some(bnet) = self.bottom_id(&net, pod_id, RT_NETWORK).await? {
            let pod = self.pod(pod_id).await?;
            self.delete_in(&pod, "networks", &bnet).await?;
        }
        for (top_id, resource_type) in [(&net, RT_NETWORK), (&sub, RT_BRIDGE_SUBNET)] {
            forget(
                &self.store,
                &BottomKey {
                    top_id,
                    pod_id,
                    project_id: project,
                    resource_type,
                },
            )
            .await?;
        }
        self.store
            .release_ips_of(&bridge_ip_owner(&bridge_pool(project), pod_id))
            .await?;
        Ok(())
    }

    async fn cleanup_router(&self, router_id: &str) -> NetResult<()> {
        for r in self.store.routings_of(router_id, RT_ROUTER).await? {
            self.delete_router_in(router_id, &r.pod_id, &r.project_id)
                .await?;
        }
        Ok(())
    }

    /// Routers with an interface on a network (to re-sync when the network reaches a pod); a
    /// port that merely names another project's router is not its interface.
    pub(crate) async fn routers_of_network(
        &self,
        net_id: &str,
    ) -> NetResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        for p in self.store.net_children("port", net_id).await? {
            let d = doc_of(&p);
            if d["device_owner"] == json!("network:router_interface")
                && let Some(r) = p.device_id.clone()
                && !out.iter().any(|(x, _)| *x == r)
                && self.port_of_its_router(&p).await?
            {
                out.push((r, p.project_id.clone()));
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- floating IPs

    async fn sync_fip(self: &Arc<Self>, fip_id: &str) -> NetResult<()> {
        let fip = self.try_load(Kind::FloatingIp, fip_id).await?;
        let desired = match &fip {
            Some((_, d)) => {
                let port = match d["port_id"].as_str() {
                    Some(p) => self.try_load(Kind::Port, p).await?,
                    None => None,
                };
                let ext_pod = self
                    .try_load(Kind::Network, str_of(d, "floating_network_id"))
                    .await?
                    .and_then(|(r, _)| r.pod_id);
                match (port, ext_pod) {
                    (Some((pr, pd)), Some(x)) if pr.pod_id.as_deref() == Some(x.as_str()) => {
                        Some((pd, x))
                    }
                    _ => None,
                }
            }
            None => None,
        };
        // Copies in other pods (or of a disassociated FIP) go.
        for r in self.store.routings_of(fip_id, RT_FLOATINGIP).await? {
            if desired.as_ref().is_none_or(|(_, x)| *x != r.pod_id) {
                if let Some(b) = &r.bottom_id {
                    let pod = self.pod(&r.pod_id).await?;
                    self.delete_in(&pod, "floatingips", b).await?;
                }
                forget(
                    &self.store,
                    &BottomKey {
                        top_id: fip_id,
                        pod_id: &r.pod_id,
                        project_id: &r.project_id,
                        resource_type: RT_FLOATINGIP,
                    },
                )
                .await?;
            }
        }
        let Some((mut fd, port, x)) = fip
            .map(|(_, d)| d)
            .and_then(|d| desired.map(|(p, x)| (d, p, x)))
        else {
            if let Some((_, mut d)) = self.try_load(Kind::FloatingIp, fip_id).await?
                && d["status"] != json!("DOWN")
            {
                d.insert("status".into(), json!("DOWN"));
                self.save(Kind::FloatingIp, &d, None, None, None).await?;
            }
            return Ok(());
        };
        if let Some(r) = fd["router_id"].as_str() {
            self.sync_router(r).await?;
        }
        let pod = self.pod(&x).await?;
        let project = str_of(&fd, "project_id").to_string();
        let (bnet, _) = self
            .ensure_network_in_pod(str_of(&fd, "floating_network_id"), &x)
            .await?;
        let bport = self.ensure_twin(&port, &x).await?;
        let body = json!({
            "floating_network_id": bnet, "floating_ip_address": fd["floating_ip_address"],
            "port_id": bport, "fixed_ip_address": fd["fixed_ip_address"], "project_id": project,
            "description": fip_id,
        });
        let key = BottomKey {
            top_id: fip_id,
            pod_id: &x,
            project_id: &project,
            resource_type: RT_FLOATINGIP,
        };
        let b = ensure_bottom(
            &self.store,
            &key,
            || async {
                let (_, body) = self
                    .call(
                        &pod,
                        Method::GET,
                        &format!("/v2.0/floatingips?description={fip_id}&fields=id"),
                        None,
                    )
                    .await?;
                Ok(body["floatingips"]
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(|f| f["id"].as_str())
                    .map(str::to_string))
            },
            || async {
                self.create_in(&pod, "floatingips", "floatingip", body.clone())
                    .await
                    .map_err(Into::into)
            },
        )
        .await?;
        self.call(&pod, Method::PUT, &format!("/v2.0/floatingips/{b}"), Some(json!({"floatingip": {"port_id": bport, "fixed_ip_address": fd["fixed_ip_address"]}})))
            .await?;
        if fd["status"] != json!("ACTIVE") {
            fd.insert("status".into(), json!("ACTIVE"));
            self.save(Kind::FloatingIp, &fd, None, None, None).await?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- cleanup

    /// `network.cleanup`: deletes the copies of a deleted top resource in every pod (for
    /// floating IPs: converges the copy with the top, which may mean deleting it).
    pub(crate) async fn cleanup_bottoms(self: &Arc<Self>, kind: &str, id: &str) -> NetResult<()> {
        match kind {
            "floatingip" => return self.sync_fip(id).await,
            "router" => return self.cleanup_router(id).await,
            _ => {}
        }
        let coll = match kind {
            "network" => "networks",
            "subnet" => "subnets",
            "security_group" => "security-groups",
            other => {
                return Err(NetError::bad_request(format!(
                    "unknown cleanup kind {other}"
                )));
            }
        };
        for r in self.store.routings_of(id, kind).await? {
            if let Some(b) = &r.bottom_id {
                let pod = self.pod(&r.pod_id).await?;
                self.delete_in(&pod, coll, b).await?;
            }
            forget(
                &self.store,
                &BottomKey {
                    top_id: id,
                    pod_id: &r.pod_id,
                    project_id: &r.project_id,
                    resource_type: kind,
                },
            )
            .await?;
            if kind == "subnet" {
                self.store
                    .release_ips_of(&reserved_owner(id, &r.pod_id))
                    .await?;
            }
        }
        Ok(())
    }
}

/// A member port of a group: (top port id, pod it is bound in, addresses).
type Member = (String, Option<String>, Vec<IpAddr>);

/// A canonical key of a rule's matching attributes.
fn rule_key(r: &Value) -> String {
    let norm = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.to_ascii_lowercase(),
        other => other.to_string(),
    };
    format!(
        "{}|{}|{}|{}|{}|{}|{}",
        norm(&r["direction"]),
        norm(&r["ethertype"]),
        norm(&r["protocol"]),
        norm(&r["port_range_min"]),
        norm(&r["port_range_max"]),
        norm(&r["remote_ip_prefix"]),
        norm(&r["remote_group_id"]),
    )
}
