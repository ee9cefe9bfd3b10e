//! The top-level Neutron resources: validation with Neutron's error types and codes, the
//! documents as Neutron renders them, project scoping (a tenant sees its own resources plus
//! shared and external networks; an administrator sees everything), IP/MAC allocation for
//! ports, segment allocation for networks, the per-project `default` security group, router
//! interfaces and extra routes, floating IPs, tags and quotas. Changes that must reach pods
//! enqueue jobs (`jobs.rs`); nothing here calls a pod.

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
    Caller, Doc, Kind, L2Mode, NetError, NetResult, NetworkService, doc_of, row_of, stamp, str_of,
    view,
};

/// Attributes a create may carry, per kind (anything else is `Unrecognized attribute(s)`).
fn allowed_on_create(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Network => &[
            "name",
            "description",
            "admin_state_up",
            "shared",
            "router:external",
            "mtu",
            "port_security_enabled",
            "availability_zone_hints",
            "provider:network_type",
            "provider:physical_network",
            "provider:segmentation_id",
            "tags",
            "project_id",
            "tenant_id",
            "dns_domain",
            "is_default",
            "qos_policy_id",
        ],
        Kind::Subnet => &[
            "name",
            "description",
            "network_id",
            "cidr",
            "ip_version",
            "gateway_ip",
            "allocation_pools",
            "enable_dhcp",
            "dns_nameservers",
            "host_routes",
            "ipv6_ra_mode",
            "ipv6_address_mode",
            "tags",
            "project_id",
            "tenant_id",
            "subnetpool_id",
            "prefixlen",
            "service_types",
            "segment_id",
            "use_default_subnetpool",
            "dns_publish_fixed_ip",
        ],
        Kind::Port => &[
            "name",
            "description",
            "network_id",
            "admin_state_up",
            "mac_address",
            "fixed_ips",
            "device_id",
            "device_owner",
            "allowed_address_pairs",
            "security_groups",
            "port_security_enabled",
            "binding:host_id",
            "binding:profile",
            "binding:vnic_type",
            "tags",
            "project_id",
            "tenant_id",
            "extra_dhcp_opts",
            "dns_name",
            "qos_policy_id",
            "propagate_uplink_status",
        ],
        Kind::Router => &[
            "name",
            "description",
            "admin_state_up",
            "external_gateway_info",
            "routes",
            "availability_zone_hints",
            "tags",
            "project_id",
            "tenant_id",
            "distributed",
            "ha",
            "flavor_id",
        ],
        Kind::SecurityGroup => &[
            "name",
            "description",
            "tags",
            "project_id",
            "tenant_id",
            "stateful",
        ],
        Kind::SecurityGroupRule => &[
            "security_group_id",
            "direction",
            "ethertype",
            "protocol",
            "port_range_min",
            "port_range_max",
            "remote_ip_prefix",
            "remote_group_id",
            "description",
            "project_id",
            "tenant_id",
            "remote_address_group_id",
        ],
        Kind::FloatingIp => &[
            "floating_network_id",
            "floating_ip_address",
            "port_id",
            "fixed_ip_address",
            "description",
            "tags",
            "project_id",
            "tenant_id",
            "subnet_id",
            "dns_name",
            "dns_domain",
            "qos_policy_id",
        ],
    }
}

fn allowed_on_update(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Network => &[
            "name",
            "description",
            "admin_state_up",
            "shared",
            "router:external",
            "mtu",
            "port_security_enabled",
            "dns_domain",
            "qos_policy_id",
            "is_default",
        ],
        Kind::Subnet => &[
            "name",
            "description",
            "gateway_ip",
            "allocation_pools",
            "enable_dhcp",
            "dns_nameservers",
            "host_routes",
            "service_types",
            "dns_publish_fixed_ip",
        ],
        Kind::Port => &[
            "name",
            "description",
            "admin_state_up",
            "mac_address",
            "fixed_ips",
            "device_id",
            "device_owner",
            "allowed_address_pairs",
            "security_groups",
            "port_security_enabled",
            "binding:host_id",
            "binding:profile",
            "binding:vnic_type",
            "extra_dhcp_opts",
            "dns_name",
            "qos_policy_id",
            "propagate_uplink_status",
        ],
        Kind::Router => &[
            "name",
            "description",
            "admin_state_up",
            "external_gateway_info",
            "routes",
        ],
        Kind::SecurityGroup => &["name", "description", "stateful"],
        Kind::SecurityGroupRule => &["description"],
        Kind::FloatingIp => &[
            "port_id",
            "fixed_ip_address",
            "description",
            "qos_policy_id",
        ],
    }
}

fn check_attrs(kind: Kind, body: &Doc, create: bool) -> NetResult<()> {
    let allowed = if create {
        allowed_on_create(kind)
    } else {
        allowed_on_update(kind)
    };
    let bad: Vec<&str> = body
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(NetError::bad_request(format!(
            "Unrecognized attribute(s) '{}'",
            bad.join(", ")
        )))
    }
}

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

fn normalize_protocol(v: &Value) -> NetResult<Value> {
    let s = match v {
        Value::Null => return Ok(Value::Null),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.to_ascii_lowercase(),
        other => {
            return Err(NetError::new(
                400,
                "SecurityGroupRuleInvalidProtocol",
                format!("Security group rule protocol {other} not supported."),
            ));
        }
    };
    if s == "any" || s.is_empty() {
        return Ok(Value::Null);
    }
    const NAMES: &[&str] = &[
        "ah",
        "dccp",
        "egp",
        "esp",
        "gre",
        "hopopt",
        "icmp",
        "icmpv6",
        "igmp",
        "ipip",
        "ipv6-encap",
        "ipv6-frag",
        "ipv6-icmp",
        "ipv6-nonxt",
        "ipv6-opts",
        "ipv6-route",
        "ospf",
        "pgm",
        "rsvp",
        "sctp",
        "tcp",
        "udp",
        "udplite",
        "vrrp",
    ];
    if NAMES.contains(&s.as_str()) || s.parse::<u8>().is_ok() {
        Ok(json!(s))
    } else {
        Err(NetError::new(
            400,
            "SecurityGroupRuleInvalidProtocol",
            format!(
                "Security group rule protocol {s} not supported. Only protocol values {NAMES:?} and integer representations [0 to 255] are supported."
            ),
        ))
    }
}

fn is_port_protocol(p: &Value) -> bool {
    matches!(
        p.as_str(),
        Some("tcp" | "udp" | "6" | "17" | "sctp" | "132" | "dccp" | "33" | "udplite" | "136")
    )
}

/// The Neutron quota resources and their defaults.
fn quota_doc(q: &super::NetQuotas) -> Value {
    json!({"network": q.network, "subnet": q.subnet, "port": q.port, "router": q.router,
           "floatingip": q.floatingip, "security_group": q.security_group,
           "security_group_rule": q.security_group_rule, "subnetpool": -1, "rbac_policy": 10})
}

impl NetworkService {
    // ---------------------------------------------------------------- loading

    /// A resource of `kind`, whoever owns it.
    pub(crate) async fn load(&self, kind: Kind, id: &str) -> NetResult<(NetResourceRow, Doc)> {
        match self.store.get_net_resource(id).await {
            Ok(row) if row.kind == kind.singular() => {
                let d = doc_of(&row);
                Ok((row, d))
            }
            Ok(_) | Err(StoreError::NotFound) => Err(NetError::not_found(kind, id)),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn try_load(
        &self,
        kind: Kind,
        id: &str,
    ) -> NetResult<Option<(NetResourceRow, Doc)>> {
        match self.load(kind, id).await {
            Ok(x) => Ok(Some(x)),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `caller` may see `doc` of `kind` (`net` is the network of a subnet).
    fn visible(caller: &Caller, kind: Kind, doc: &Doc, net: Option<&Doc>) -> bool {
        if caller.owns(str_of(doc, "project_id")) {
            return true;
        }
        let public = |n: &Doc| n["shared"] == json!(true) || n["router:external"] == json!(true);
        match kind {
            Kind::Network => public(doc),
            Kind::Subnet => net.is_some_and(public),
            Kind::SecurityGroup => doc["shared"] == json!(true),
            _ => false,
        }
    }

    async fn load_visible(&self, caller: &Caller, kind: Kind, id: &str) -> NetResult<Doc> {
        let (_, d) = self.load(kind, id).await?;
        let net = if kind == Kind::Subnet {
            self.try_load(Kind::Network, str_of(&d, "network_id"))
                .await?
                .map(|x| x.1)
        } else {
            None
        };
        if Self::visible(caller, kind, &d, net.as_ref()) {
            Ok(d)
        } else {
            Err(NetError::not_found(kind, id))
        }
    }

    /// A resource the caller may change: 404 when invisible, 403 when only visible.
    async fn load_owned(
        &self,
        caller: &Caller,
        kind: Kind,
        id: &str,
        action: &str,
    ) -> NetResult<(NetResourceRow, Doc)> {
        let (row, d) = self.load(kind, id).await?;
        if caller.owns(&row.project_id) {
            return Ok((row, d));
        }
        self.load_visible(caller, kind, id).await?;
        Err(NetError::forbidden(&format!(
            "rule:{action}_{}",
            kind.singular()
        )))
    }

    // ---------------------------------------------------------------- rendering

    async fn network_azs(&self) -> NetResult<HashMap<String, Vec<String>>> {
        let pods: HashMap<String, String> = self
            .pods
            .list()
            .await?
            .into_iter()
            .map(|p| (p.pod_id, p.az_name))
            .collect();
        let rows = self
            .store
            .list_routings(
                &RoutingFilter {
                    resource_type: Some("network".into()),
                    ..Default::default()
                },
                i64::MAX,
                None,
            )
            .await?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for r in rows {
            if let Some(az) = pods.get(&r.pod_id) {
                let e = out.entry(r.top_id).or_default();
                if !e.contains(az) {
                    e.push(az.clone());
                }
            }
        }
        for v in out.values_mut() {
            v.sort();
        }
        Ok(out)
    }

    /// Renders documents of one kind for `caller`, adding computed attributes.
    async fn render(&self, caller: &Caller, kind: Kind, docs: Vec<Doc>) -> NetResult<Vec<Value>> {
        match kind {
            Kind::Network => {
                let azs = self.network_azs().await?;
                let mut subnets: HashMap<String, Vec<String>> = HashMap::new();
                for r in self.store.list_net_resources("subnet", None).await? {
                    if let Some(p) = r.parent_id {
                        subnets.entry(p).or_default().push(r.id);
                    }
                }
                Ok(docs
                    .into_iter()
                    .map(|mut d| {
                        let id = str_of(&d, "id").to_string();
                        d.insert(
                            "subnets".into(),
                            json!(subnets.remove(&id).unwrap_or_default()),
                        );
                        d.insert(
                            "availability_zones".into(),
                            json!(azs.get(&id).cloned().unwrap_or_default()),
                        );
                        view(&d, caller)
                    })
                    .collect())
            }
            Kind::SecurityGroup => {
                let mut out = Vec::new();
                for mut d in docs {
                    let rules: Vec<Value> = self
                        .store
                        .net_children("security_group_rule", str_of(&d, "id"))
                        .await?
                        .iter()
                        .map(|r| view(&doc_of(r), caller))
                        .collect();
                    d.insert("security_group_rules".into(), json!(rules));
                    out.push(view(&d, caller));
                }
                Ok(out)
            }
            Kind::Router => {
                let azs = self.router_azs().await?;
                Ok(docs
                    .into_iter()
                    .map(|mut d| {
                        let id = str_of(&d, "id").to_string();
                        d.insert(
                            "availability_zones".into(),
                            json!(azs.get(&id).cloned().unwrap_or_default()),
                        );
                        view(&d, caller)
                    })
                    .collect())
            }
            _ => Ok(docs.iter().map(|d| view(d, caller)).collect()),
        }
    }

    async fn router_azs(&self) -> NetResult<HashMap<String, Vec<String>>> {
        let pods: HashMap<String, String> = self
            .pods
            .list()
            .await?
            .into_iter()
            .map(|p| (p.pod_id, p.az_name))
            .collect();
        let rows = self
            .store
            .list_routings(
                &RoutingFilter {
                    resource_type: Some("router".into()),
                    ..Default::default()
                },
                i64::MAX,
                None,
            )
            .await?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for r in rows {
            if let Some(az) = pods.get(&r.pod_id) {
                out.entry(r.top_id).or_default().push(az.clone());
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- list / show

    /// `GET /v2.0/<collection>`.
    pub async fn list(&self, caller: &Caller, kind: Kind, q: &ListQuery) -> NetResult<Page> {
        if kind == Kind::SecurityGroup || kind == Kind::SecurityGroupRule {
            self.ensure_default_sg(&caller.project_id).await?;
        }
        // Administrators see all; tenants their own plus what is shared with them.
        let scope = match (caller.is_admin, kind) {
            (true, _) | (false, Kind::Network | Kind::Subnet | Kind::SecurityGroup) => None,
            _ => Some(caller.project_id.as_str()),
        };
        let scope = match (
            scope,
            q.filter_value("project_id").or(q.filter_value("tenant_id")),
        ) {
            (None, Some(p)) => Some(p),
            (s, _) => s,
        };
        let rows = self
            .store
            .list_net_resources(kind.singular(), scope)
            .await?;
        let nets: HashMap<String, Doc> = if kind == Kind::Subnet && !caller.is_admin {
            self.store
                .list_net_resources("network", None)
                .await?
                .iter()
                .map(|r| (r.id.clone(), doc_of(r)))
                .collect()
        } else {
            HashMap::new()
        };
        let docs: Vec<Doc> = rows
            .iter()
            .map(doc_of)
            .filter(|d| Self::visible(caller, kind, d, nets.get(str_of(d, "network_id"))))
            .collect();
        let rendered = self.render(caller, kind, docs).await?;
        q.apply(rendered)
    }

    /// `GET /v2.0/<collection>/{id}`.
    pub async fn show(&self, caller: &Caller, kind: Kind, id: &str) -> NetResult<Value> {
        let d = self.load_visible(caller, kind, id).await?;
        Ok(self
            .render(caller, kind, vec![d])
            .await?
            .pop()
            .unwrap_or(Value::Null))
    }

    // ---------------------------------------------------------------- create

    /// `POST /v2.0/<collection>` with `{"<singular>": {...}}` (one resource).
    pub async fn create(
        self: &Arc<Self>,
        caller: &Caller,
        kind: Kind,
        body: &Doc,
    ) -> NetResult<Value> {
        check_attrs(kind, body, true)?;
        let project = owner_of(caller, body)?;
        self.check_quota(kind, &project).await?;
        let doc = match kind {
            Kind::Network => self.create_network(caller, &project, body).await?,
            Kind::Subnet => self.create_subnet(caller, &project, body).await?,
            Kind::Port => self.create_port(caller, &project, body).await?,
            Kind::Router => self.create_router(caller, &project, body).await?,
            Kind::SecurityGroup => self.create_sg(&project, body).await?,
            Kind::SecurityGroupRule => self.create_rule(caller, &project, body).await?,
            Kind::FloatingIp => self.create_fip(caller, &project, body).await?,
        };
        Ok(self
            .render(caller, kind, vec![doc])
            .await?
            .pop()
            .unwrap_or(Value::Null))
    }

    async fn check_quota(&self, kind: Kind, project: &str) -> NetResult<()> {
        let q = &self.effective_quotas(project).await?;
        let limit = match kind {
            Kind::Network => q.network,
            Kind::Subnet => q.subnet,
            Kind::Port => q.port,
            Kind::Router => q.router,
            Kind::SecurityGroup => q.security_group,
            Kind::SecurityGroupRule => q.security_group_rule,
            Kind::FloatingIp => q.floatingip,
        };
        if limit < 0 {
            return Ok(());
        }
        if self
            .store
            .count_net_resources(kind.singular(), project)
            .await?
            >= limit
        {
            return Err(NetError::conflict(
                "OverQuota",
                format!("Quota exceeded for resources: ['{}'].", kind.singular()),
            ));
        }
        Ok(())
    }

    async fn az_names(&self) -> NetResult<HashSet<String>> {
        Ok(self
            .pods
            .list()
            .await?
            .into_iter()
            .map(|p| p.az_name)
            .collect())
    }

    async fn check_az_hints(&self, b: &Doc) -> NetResult<Vec<String>> {
        let hints = str_list(b, "availability_zone_hints")?.unwrap_or_default();
        if !hints.is_empty() {
            let known = self.az_names().await?;
            for h in &hints {
                if !known.contains(h) {
                    return Err(NetError::new(
                        404,
                        "AvailabilityZoneNotFound",
                        format!("AvailabilityZone {h} could not be found."),
                    ));
                }
            }
        }
        Ok(hints)
    }

    /// Claims a segment for `owner`: the one an administrator asked for, or the next free
    /// one of the configured range.
    pub(crate) async fn claim_segment(
        &self,
        owner: &str,
        asked_type: Option<&str>,
        asked_physnet: Option<&str>,
        asked_id: Option<i64>,
    ) -> NetResult<(String, Option<String>, Option<i64>)> {
        let ty = asked_type
            .unwrap_or(self.config.l2_mode.network_type())
            .to_string();
        let physnet = match ty.as_str() {
            "vlan" | "flat" => Some(
                asked_physnet
                    .unwrap_or(&self.config.physical_network)
                    .to_string(),
            ),
            "vxlan" | "geneve" | "gre" | "local" => None,
            other => {
                return Err(NetError::invalid_input(format!(
                    "network_type value '{other}' not supported"
                )));
            }
        };
        if matches!(ty.as_str(), "flat" | "local") {
            return Ok((ty, physnet, None));
        }
        let pn = physnet.clone().unwrap_or_default();
        if let Some(id) = asked_id {
            let (lo, hi) = if ty == "vlan" {
                (1, 4094)
            } else {
                (1, (1 << 24) - 1)
            };
            if !(lo..=hi).contains(&id) {
                return Err(NetError::invalid_input(format!(
                    "Segmentation ID {id} is out of range {lo}..{hi}."
                )));
            }
            return match self
                .store
                .claim_segment(&SegmentRow {
                    network_type: ty.clone(),
                    physical_network: pn.clone(),
                    segmentation_id: id,
                    owner_id: owner.to_string(),
                })
                .await
            {
                Ok(()) => Ok((ty, physnet, Some(id))),
                Err(StoreError::Conflict(_)) if ty == "vlan" => Err(NetError::conflict(
                    "VlanIdInUse",
                    format!(
                        "Unable to create the network. The VLAN {id} on physical network {pn} is in use."
                    ),
                )),
                Err(StoreError::Conflict(_)) => Err(NetError::conflict(
                    "TunnelIdInUse",
                    format!("Unable to create the network. The tunnel ID {id} is in use."),
                )),
                Err(e) => Err(e.into()),
            };
        }
        let (lo, hi) = if ty == "vlan" {
            self.config.vlan_range
        } else {
            self.config.vni_range
        };
        for _ in 0..20 {
            let used: HashSet<i64> = self
                .store
                .segments_in_use(&ty, &pn)
                .await?
                .into_iter()
                .collect();
            let free: Vec<i64> = (lo..=hi).filter(|i| !used.contains(i)).take(16).collect();
            let Some(&pick) = free.choose(&mut rand::rng()) else {
                return Err(NetError::new(
                    503,
                    "NoNetworkAvailable",
                    "Unable to create the network. No tenant network is available for allocation.",
                ));
            };
            match self
                .store
                .claim_segment(&SegmentRow {
                    network_type: ty.clone(),
                    physical_network: pn.clone(),
                    segmentation_id: pick,
                    owner_id: owner.to_string(),
                })
                .await
            {
                Ok(()) => return Ok((ty, physnet, Some(pick))),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(NetError::new(
            503,
            "NoNetworkAvailable",
            "Unable to allocate a segment; try again.",
        ))
    }

    async fn create_network(&self, caller: &Caller, project: &str, b: &Doc) -> NetResult<Doc> {
        let provider = [
            "provider:network_type",
            "provider:physical_network",
            "provider:segmentation_id",
        ]
        .iter()
        .any(|k| b.contains_key(*k));
        let external = opt_bool(b, "router:external")?.unwrap_or(false);
        let shared = opt_bool(b, "shared")?.unwrap_or(false);
        if provider && !caller.is_admin {
            return Err(NetError::forbidden(
                "rule:create_network:provider:network_type",
            ));
        }
        if external && !caller.is_admin {
            return Err(NetError::forbidden("rule:create_network:router:external"));
        }
        if shared && !caller.is_admin {
            return Err(NetError::forbidden("rule:create_network:shared"));
        }
        let hints = self.check_az_hints(b).await?;
        if external && hints.len() != 1 {
            return Err(NetError::bad_request(
                "An external network must name exactly one availability zone in availability_zone_hints: it lives in one pod.",
            ));
        }
        let id = new_id();
        let mut d = base_doc(&id, project, b)?;
        let (ty, physnet, seg) = if self.config.l2_mode == L2Mode::None && !provider {
            (self.config.l2_mode.network_type().to_string(), None, None)
        } else {
            self.claim_segment(
                &id,
                opt_str(b, "provider:network_type")?,
                opt_str(b, "provider:physical_network")?,
                opt_int(b, "provider:segmentation_id")?,
            )
            .await?
        };
        let default_mtu = if ty == "vxlan" || ty == "geneve" {
            1450
        } else {
            1500
        };
        let mtu = opt_int(b, "mtu")?.unwrap_or(default_mtu);
        if mtu < 68 {
            let _ = self.store.release_segments_of(&id).await;
            return Err(NetError::invalid_input(format!(
                "'{mtu}' is too small - must be at least '68'"
            )));
        }
        d.insert(
            "admin_state_up".into(),
            json!(opt_bool(b, "admin_state_up")?.unwrap_or(true)),
        );
        d.insert("status".into(), json!("ACTIVE"));
        d.insert("shared".into(), json!(shared));
        d.insert("router:external".into(), json!(external));
        d.insert("mtu".into(), json!(mtu));
        d.insert(
            "port_security_enabled".into(),
            json!(opt_bool(b, "port_security_enabled")?.unwrap_or(true)),
        );
        d.insert("availability_zone_hints".into(), json!(hints));
        d.insert("provider:network_type".into(), json!(ty));
        d.insert("provider:physical_network".into(), json!(physnet));
        d.insert("provider:segmentation_id".into(), json!(seg));
        d.insert("ipv4_address_scope".into(), Value::Null);
        d.insert("ipv6_address_scope".into(), Value::Null);
        d.insert("is_default".into(), json!(false));
        d.insert("l2_adjacency".into(), json!(true));
        d.insert("qos_policy_id".into(), Value::Null);
        d.insert(
            "dns_domain".into(),
            json!(opt_str(b, "dns_domain")?.unwrap_or("")),
        );
        // The pod of a network pinned to one AZ (external networks), for the bottom side.
        let pod = if hints.len() == 1 {
            self.pod_of_az(&hints[0]).await?
        } else {
            None
        };
        d.insert("_pinned_pod".into(), json!(pod));
        if let Err(e) = self
            .store
            .insert_net_resource(
                &row_of(Kind::Network, &d, None, None, pod.as_deref()),
                &[],
                &[],
            )
            .await
        {
            let _ = self.store.release_segments_of(&id).await;
            return Err(e.into());
        }
        Ok(d)
    }

    /// The first pod (by registration) of an availability zone.
    pub(crate) async fn pod_of_az(&self, az: &str) -> NetResult<Option<String>> {
        Ok(self
            .pods
            .list()
            .await?
            .into_iter()
            .find(|p| p.az_name == az)
            .map(|p| p.pod_id))
    }

    async fn create_subnet(&self, caller: &Caller, project: &str, b: &Doc) -> NetResult<Doc> {
        let net_id = opt_str(b, "network_id")?.ok_or_else(|| {
            NetError::bad_request(
                "Failed to parse request. Required attribute 'network_id' not specified",
            )
        })?;
        let net = self.load_visible(caller, Kind::Network, net_id).await?;
        if !caller.owns(str_of(&net, "project_id")) {
            return Err(NetError::forbidden("rule:create_subnet"));
        }
        let ip_version = opt_int(b, "ip_version")?.unwrap_or(4);
        if ip_version != 4 && ip_version != 6 {
            return Err(NetError::invalid_input(format!(
                "{ip_version} is not in [4, 6]"
            )));
        }
        let cidr_s = opt_str(b, "cidr")?.ok_or_else(|| {
            NetError::bad_request(
                "Bad subnets request: a cidr must be specified in the absence of a subnet pool",
            )
        })?;
        let cidr: IpNet = cidr_s
            .parse()
            .map_err(|_| NetError::invalid_input(format!("'{cidr_s}' is not a valid IP subnet")))?;
        if cidr.trunc() != cidr {
            return Err(NetError::invalid_input(format!(
                "'{cidr_s}' isn't a recognized IP subnet cidr, '{}' is recommended",
                cidr.trunc()
            )));
        }
        if (ip_version == 4) != cidr.addr().is_ipv4() {
            return Err(NetError::invalid_input(
                "Cidr and IP version are not compatible. Check the IP version of the cidr.",
            ));
        }
        if ipam::host_bounds(&cidr).is_none() {
            return Err(NetError::invalid_input(format!(
                "The subnet {cidr} has no usable address"
            )));
        }
        for s in self.store.net_children("subnet", net_id).await? {
            let other = doc_of(&s);
            if let Some(oc) = cidr_of(&other)
                && (oc.contains(&cidr.network()) || cidr.contains(&oc.network()))
            {
                return Err(NetError::bad_request(format!(
                    "Invalid input for operation: Requested subnet with cidr: {cidr} for network: {net_id} overlaps with another subnet."
                )));
            }
        }
        let gateway = match b.get("gateway_ip") {
            Some(Value::Null) => None,
            None => {
                ipam::host_bounds(&cidr).map(|(lo, _)| ipam::from_u128(lo, cidr.addr().is_ipv6()))
            }
            Some(Value::String(g)) => {
                let g = parse_ip(g)?;
                if !ipam::usable(&cidr, g) {
                    return Err(NetError::bad_request(format!(
                        "Invalid input for operation: Gateway IP {g} is not a valid address in subnet {cidr}."
                    )));
                }
                Some(g)
            }
            Some(v) => {
                return Err(NetError::invalid_input(format!(
                    "'{v}' is not a valid IP address"
                )));
            }
        };
        let pools = match b.get("allocation_pools") {
            None | Some(Value::Null) => ipam::default_pools(&cidr, gateway),
            Some(Value::Array(a)) => a
                .iter()
                .map(|p| {
                    Ok(Pool {
                        start: parse_ip(p["start"].as_str().unwrap_or_default())?,
                        end: parse_ip(p["end"].as_str().unwrap_or_default())?,
                    })
                })
                .collect::<NetResult<Vec<_>>>()?,
            Some(v) => {
                return Err(NetError::invalid_input(format!(
                    "'{v}' is not a list of pools"
                )));
            }
        };
        ipam::check_pools(&cidr, &pools, gateway).map_err(pool_error)?;
        let dns = str_list(b, "dns_nameservers")?.unwrap_or_default();
        for n in &dns {
            parse_ip(n)?;
        }
        let routes = check_host_routes(b.get("host_routes"))?;
        let id = new_id();
        let mut d = base_doc(&id, project, b)?;
        d.insert("network_id".into(), json!(net_id));
        d.insert("ip_version".into(), json!(ip_version));
        d.insert("cidr".into(), json!(cidr.to_string()));
        d.insert("gateway_ip".into(), json!(gateway.map(|g| g.to_string())));
        d.insert(
            "allocation_pools".into(),
            json!(
                pools
                    .iter()
                    .map(|p| json!({"start": p.start.to_string(), "end": p.end.to_string()}))
                    .collect::<Vec<_>>()
            ),
        );
        d.insert(
            "enable_dhcp".into(),
            json!(opt_bool(b, "enable_dhcp")?.unwrap_or(true)),
        );
        d.insert("dns_nameservers".into(), json!(dns));
        d.insert("host_routes".into(), routes);
        for k in ["ipv6_ra_mode", "ipv6_address_mode"] {
            let v = opt_str(b, k)?;
            if let Some(m) = v
                && !["slaac", "dhcpv6-stateful", "dhcpv6-stateless"].contains(&m)
            {
                return Err(NetError::invalid_input(format!(
                    "'{m}' is not in ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac']"
                )));
            }
            if v.is_some() && ip_version == 4 {
                return Err(NetError::invalid_input(format!(
                    "{k} is not valid when ip_version is 4"
                )));
            }
            d.insert(k.into(), json!(v));
        }
        d.insert("subnetpool_id".into(), Value::Null);
        d.insert("service_types".into(), json!([]));
        d.insert("segment_id".into(), Value::Null);
        d.insert("dns_publish_fixed_ip".into(), json!(false));
        self.store
            .insert_net_resource(
                &row_of(Kind::Subnet, &d, Some(net_id), None, None),
                &[],
                &[],
            )
            .await?;
        Ok(d)
    }

    // ---------------------------------------------------------------- ports and IPAM

    /// Chooses addresses for a port on `net_id`: requested entries honoured, otherwise one
    /// address from the first IPv4 subnet with room and one from the first IPv6 subnet.
    /// Returns `(subnet_id, ip, explicit)`.
    async fn choose_ips(
        &self,
        net_id: &str,
        requested: Option<&Value>,
    ) -> NetResult<Vec<(String, IpAddr, bool)>> {
        let subnets: Vec<Doc> = self
            .store
            .net_children("subnet", net_id)
            .await?
            .iter()
            .map(doc_of)
            .collect();
        let pick = |s: &Doc, used: &HashSet<IpAddr>| -> Option<IpAddr> {
            let free = ipam::free_addresses(&pools_of(s), used, gateway_of(s), 8);
            free.choose(&mut rand::rng()).copied()
        };
        let mut out: Vec<(String, IpAddr, bool)> = Vec::new();
        match requested {
            Some(Value::Array(list)) => {
                for f in list {
                    let want_ip = match f.get("ip_address") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(s)) => Some(parse_ip(s)?),
                        Some(v) => {
                            return Err(NetError::invalid_input(format!(
                                "{v} is not a valid IP address."
                            )));
                        }
                    };
                    let subnet = match f.get("subnet_id").and_then(Value::as_str) {
                        Some(sid) => Some(subnets.iter().find(|s| str_of(s, "id") == sid).ok_or_else(|| {
                            NetError::bad_request(format!("Invalid input for operation: Failed to create port on network {net_id}, because fixed_ips included invalid subnet {sid}."))
                        })?),
                        None => want_ip.and_then(|ip| {
                            subnets.iter().find(|s| cidr_of(s).is_some_and(|c| ipam::usable(&c, ip)))
                        }),
                    };
                    let Some(subnet) = subnet else {
                        return Err(NetError::new(
                            400,
                            "InvalidIpForNetwork",
                            format!(
                                "IP address {} is not a valid IP for any of the subnets on the specified network.",
                                want_ip.map(|i| i.to_string()).unwrap_or_default()
                            ),
                        ));
                    };
                    let sid = str_of(subnet, "id").to_string();
                    match want_ip {
                        Some(ip) => {
                            if !cidr_of(subnet).is_some_and(|c| ipam::usable(&c, ip)) {
                                return Err(NetError::new(
                                    400,
                                    "InvalidIpForSubnet",
                                    format!(
                                        "IP address {ip} is not a valid IP for the specified subnet."
                                    ),
                                ));
                            }
                            if out.iter().any(|(s, i, _)| *s == sid && *i == ip) {
                                return Err(ip_taken(&sid, ip));
                            }
                            out.push((sid, ip, true));
                        }
                        None => {
                            let mut used: HashSet<IpAddr> = self.used_ips(&sid).await?;
                            used.extend(out.iter().filter(|(s, _, _)| *s == sid).map(|x| x.1));
                            let ip = pick(subnet, &used).ok_or_else(|| exhausted(net_id))?;
                            out.push((sid, ip, false));
                        }
                    }
                }
            }
            Some(Value::Null) | None => {
                for ver in [4, 6] {
                    let cands: Vec<&Doc> = subnets
                        .iter()
                        .filter(|s| s["ip_version"] == json!(ver))
                        .collect();
                    if cands.is_empty() {
                        continue;
                    }
                    let mut got = None;
                    for s in cands {
                        let sid = str_of(s, "id");
                        let used = self.used_ips(sid).await?;
                        if let Some(ip) = pick(s, &used) {
                            got = Some((sid.to_string(), ip, false));
                            break;
                        }
                    }
                    out.push(got.ok_or_else(|| exhausted(net_id))?);
                }
            }
            Some(v) => {
                return Err(NetError::invalid_input(format!(
                    "{v} is not a list of fixed IPs"
                )));
            }
        }
        Ok(out)
    }

    async fn used_ips(&self, subnet_id: &str) -> NetResult<HashSet<IpAddr>> {
        Ok(self
            .store
            .subnet_allocations(subnet_id)
            .await?
            .iter()
            .filter_map(|a| a.ip.parse().ok())
            .collect())
    }

    /// Inserts a port document, allocating its addresses and MAC; automatic choices that
    /// lose a race are chosen again, explicit ones fail with Neutron's 409s.
    async fn insert_port(
        &self,
        mut d: Doc,
        net_id: &str,
        requested_ips: Option<&Value>,
        requested_mac: Option<String>,
    ) -> NetResult<Doc> {
        let id = str_of(&d, "id").to_string();
        for _ in 0..12 {
            let ips = self.choose_ips(net_id, requested_ips).await?;
            let mac = requested_mac.clone().unwrap_or_else(ipam::random_mac);
            d.insert(
                "fixed_ips".into(),
                json!(
                    ips.iter()
                        .map(|(s, ip, _)| json!({"subnet_id": s, "ip_address": ip.to_string()}))
                        .collect::<Vec<_>>()
                ),
            );
            d.insert("mac_address".into(), json!(mac));
            let allocs: Vec<IpAllocation> = ips
                .iter()
                .map(|(s, ip, _)| IpAllocation {
                    subnet_id: s.clone(),
                    ip: ip.to_string(),
                    network_id: net_id.to_string(),
                    owner_id: id.clone(),
                })
                .collect();
            let device = str_of(&d, "device_id").to_string();
            let row = row_of(Kind::Port, &d, Some(net_id), Some(&device), None);
            match self
                .store
                .insert_net_resource(&row, &allocs, &[(mac.clone(), id.clone())])
                .await
            {
                Ok(()) => return Ok(d),
                Err(StoreError::Conflict(what)) if what.starts_with("ip_address") => {
                    let mut parts = what.split(' ').skip(1);
                    let (sid, ip) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    if ips
                        .iter()
                        .any(|(s, i, explicit)| *explicit && s == sid && i.to_string() == ip)
                    {
                        return Err(NetError::conflict(
                            "IpAddressAlreadyAllocated",
                            format!("IP address {ip} already allocated in subnet {sid}"),
                        ));
                    }
                }
                Err(StoreError::Conflict(what)) if what.starts_with("mac_address") => {
                    if requested_mac.is_some() {
                        return Err(NetError::conflict(
                            "MacAddressInUse",
                            format!(
                                "Unable to complete operation for network {net_id}. The mac address {mac} is in use."
                            ),
                        ));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(NetError::conflict(
            "IpAddressGenerationFailure",
            format!("No more IP addresses available on network {net_id}."),
        ))
    }

    async fn check_sg_ids(&self, project: &str, ids: &[String]) -> NetResult<Vec<String>> {
        let mut out = Vec::new();
        for id in ids {
            let (_, g) = self
                .try_load(Kind::SecurityGroup, id)
                .await?
                .ok_or_else(|| NetError::not_found(Kind::SecurityGroup, id))?;
            if str_of(&g, "project_id") != project && g["shared"] != json!(true) {
                return Err(NetError::not_found(Kind::SecurityGroup, id));
            }
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
        Ok(out)
    }

    fn check_pairs(v: Option<&Value>) -> NetResult<Value> {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Ok(json!([]));
        };
        let list = v
            .as_array()
            .ok_or_else(|| NetError::invalid_input("allowed_address_pairs must be a list"))?;
        let mut out = Vec::new();
        for p in list {
            let ip = p["ip_address"].as_str().ok_or_else(|| {
                NetError::new(
                    400,
                    "AllowedAddressPairsMissingIP",
                    "AllowedAddressPair must contain ip_address",
                )
            })?;
            if ip.parse::<IpAddr>().is_err() && ip.parse::<IpNet>().is_err() {
                return Err(NetError::invalid_input(format!(
                    "'{ip}' is not a valid IP address"
                )));
            }
            let mut e = json!({"ip_address": ip});
            if let Some(m) = p["mac_address"].as_str() {
                e["mac_address"] = json!(ipam::normalize_mac(m).ok_or_else(|| {
                    NetError::invalid_input(format!("'{m}' is not a valid MAC address"))
                })?);
            }
            out.push(e);
        }
        Ok(json!(out))
    }

    async fn create_port(
        self: &Arc<Self>,
        caller: &Caller,
        project: &str,
        b: &Doc,
    ) -> NetResult<Doc> {
        let net_id = opt_str(b, "network_id")?.ok_or_else(|| {
            NetError::bad_request(
                "Failed to parse request. Required attribute 'network_id' not specified",
            )
        })?;
        let net = self.load_visible(caller, Kind::Network, net_id).await?;
        if !caller.owns(str_of(&net, "project_id")) && net["shared"] != json!(true) {
            return Err(NetError::not_found(Kind::Network, net_id));
        }
        for k in ["binding:host_id", "binding:profile"] {
            if b.contains_key(k) && !caller.is_admin {
                return Err(NetError::forbidden(&format!("rule:create_port:{k}")));
            }
        }
        let mac = match opt_str(b, "mac_address")? {
            Some(m) => {
                if !caller.is_admin && !caller.owns(str_of(&net, "project_id")) {
                    return Err(NetError::forbidden("rule:create_port:mac_address"));
                }
                Some(ipam::normalize_mac(m).ok_or_else(|| {
                    NetError::invalid_input(format!("'{m}' is not a valid MAC address"))
                })?)
            }
            None => None,
        };
        let device_owner = opt_str(b, "device_owner")?.unwrap_or("").to_string();
        check_device_owner_policy(caller, "create_port", &net, &device_owner)?;
        check_chosen_ips(
            caller,
            "create_port",
            &net,
            &chosen_addresses(b.get("fixed_ips")),
        )?;
        self.check_router_device(
            caller,
            &device_owner,
            opt_str(b, "device_id")?.unwrap_or(""),
            project,
        )
        .await?;
        let port_security = opt_bool(b, "port_security_enabled")?
            .unwrap_or(net["port_security_enabled"] != json!(false));
        let sgs = match str_list(b, "security_groups")? {
            Some(ids) => self.check_sg_ids(project, &ids).await?,
            None if port_security && !device_owner.starts_with("network:") => {
                vec![self.ensure_default_sg(project).await?]
            }
            None => Vec::new(),
        };
        if !port_security && !sgs.is_empty() {
            return Err(NetError::new(
                400,
                "PortSecurityAndIPRequiredForSecurityGroups",
                "Port security must be enabled and port must have an IP address in order to use security groups.",
            ));
        }
        let pairs = Self::check_pairs(b.get("allowed_address_pairs"))?;
        if !port_security && pairs.as_array().is_some_and(|a| !a.is_empty()) {
            return Err(NetError::conflict(
                "AddressPairAndPortSecurityRequired",
                "Port Security must be enabled in order to have allowed address pairs on a port.",
            ));
        }
        let id = new_id();
        let mut d = base_doc(&id, project, b)?;
        d.insert("network_id".into(), json!(net_id));
        d.insert(
            "admin_state_up".into(),
            json!(opt_bool(b, "admin_state_up")?.unwrap_or(true)),
        );
        d.insert("status".into(), json!("DOWN"));
        d.insert(
            "device_id".into(),
            json!(opt_str(b, "device_id")?.unwrap_or("")),
        );
        d.insert("device_owner".into(), json!(device_owner));
        d.insert("allowed_address_pairs".into(), pairs);
        d.insert("extra_dhcp_opts".into(), json!([]));
        d.insert("security_groups".into(), json!(sgs));
        d.insert("port_security_enabled".into(), json!(port_security));
        d.insert(
            "binding:host_id".into(),
            json!(opt_str(b, "binding:host_id")?.unwrap_or("")),
        );
        d.insert(
            "binding:profile".into(),
            b.get("binding:profile")
                .filter(|v| v.is_object())
                .cloned()
                .unwrap_or(json!({})),
        );
        d.insert("binding:vif_type".into(), json!("unbound"));
        d.insert("binding:vif_details".into(), json!({}));
        d.insert(
            "binding:vnic_type".into(),
            json!(opt_str(b, "binding:vnic_type")?.unwrap_or("normal")),
        );
        d.insert("qos_policy_id".into(), Value::Null);
        d.insert(
            "dns_name".into(),
            json!(opt_str(b, "dns_name")?.unwrap_or("")),
        );
        let d = self.insert_port(d, net_id, b.get("fixed_ips"), mac).await?;
        Ok(d)
    }

    // ---------------------------------------------------------------- security groups

    /// The project's `default` group (created with Neutron's default rules on first need).
    pub async fn ensure_default_sg(&self, project: &str) -> NetResult<String> {
        let id = derived_id(&format!("default-security-group:{project}"));
        if self.try_load(Kind::SecurityGroup, &id).await?.is_some() {
            return Ok(id);
        }
        let mut d = base_doc(&id, project, &Doc::new())?;
        d.insert("name".into(), json!("default"));
        d.insert("description".into(), json!("Default security group"));
        d.insert("stateful".into(), json!(true));
        d.insert("shared".into(), json!(false));
        match self
            .store
            .insert_net_resource(&row_of(Kind::SecurityGroup, &d, None, None, None), &[], &[])
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(id),
            Err(e) => return Err(e.into()),
        }
        for (dir, eth, remote) in [
            ("egress", "IPv4", None),
            ("egress", "IPv6", None),
            ("ingress", "IPv4", Some(id.as_str())),
            ("ingress", "IPv6", Some(id.as_str())),
        ] {
            self.insert_rule(
                project,
                &id,
                dir,
                eth,
                Value::Null,
                None,
                None,
                None,
                remote,
                "",
                true,
            )
            .await?;
        }
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_rule(
        &self,
        project: &str,
        sg: &str,
        direction: &str,
        ethertype: &str,
        protocol: Value,
        min: Option<i64>,
        max: Option<i64>,
        // (as given, normalized)
        prefix: Option<(&str, &str)>,
        remote_group: Option<&str>,
        description: &str,
        default_sg: bool,
    ) -> NetResult<Doc> {
        let id = new_id();
        let mut d = base_doc(&id, project, &Doc::new())?;
        d.remove("name");
        d.remove("tags");
        d.insert("description".into(), json!(description));
        d.insert("security_group_id".into(), json!(sg));
        d.insert("direction".into(), json!(direction));
        d.insert("ethertype".into(), json!(ethertype));
        d.insert("protocol".into(), protocol);
        d.insert("port_range_min".into(), json!(min));
        d.insert("port_range_max".into(), json!(max));
        d.insert("remote_ip_prefix".into(), json!(prefix.map(|p| p.0)));
        d.insert("normalized_cidr".into(), json!(prefix.map(|p| p.1)));
        d.insert("remote_group_id".into(), json!(remote_group));
        d.insert("remote_address_group_id".into(), Value::Null);
        d.insert("belongs_to_default_sg".into(), json!(default_sg));
        self.store
            .insert_net_resource(
                &row_of(Kind::SecurityGroupRule, &d, Some(sg), None, None),
                &[],
                &[],
            )
            .await?;
        Ok(d)
    }

    async fn create_sg(&self, project: &str, b: &Doc) -> NetResult<Doc> {
        self.ensure_default_sg(project).await?;
        if opt_str(b, "name")? == Some("default") {
            return Err(NetError::conflict(
                "SecurityGroupDefaultAlreadyExists",
                "Default security group already exists.",
            ));
        }
        let id = new_id();
        let mut d = base_doc(&id, project, b)?;
        d.insert(
            "stateful".into(),
            json!(opt_bool(b, "stateful")?.unwrap_or(true)),
        );
        d.insert("shared".into(), json!(false));
        self.store
            .insert_net_resource(&row_of(Kind::SecurityGroup, &d, None, None, None), &[], &[])
            .await?;
        for eth in ["IPv4", "IPv6"] {
            self.insert_rule(
                project,
                &id,
                "egress",
                eth,
                Value::Null,
                None,
                None,
                None,
                None,
                "",
                false,
            )
            .await?;
        }
        Ok(d)
    }

    async fn create_rule(
        self: &Arc<Self>,
        caller: &Caller,
        project: &str,
        b: &Doc,
    ) -> NetResult<Doc> {
        let sg_id = opt_str(b, "security_group_id")?.ok_or_else(|| {
            NetError::bad_request(
                "Failed to parse request. Required attribute 'security_group_id' not specified",
            )
        })?;
        let (_, sg) = self
            .load_owned(caller, Kind::SecurityGroup, sg_id, "create")
            .await?;
        let project = if caller.is_admin {
            str_of(&sg, "project_id")
        } else {
            project
        };
        let direction = opt_str(b, "direction")?.ok_or_else(|| {
            NetError::bad_request(
                "Failed to parse request. Required attribute 'direction' not specified",
            )
        })?;
        if direction != "ingress" && direction != "egress" {
            return Err(NetError::invalid_input(format!(
                "{direction} is not in ['ingress', 'egress']"
            )));
        }
        let ethertype = opt_str(b, "ethertype")?.unwrap_or("IPv4");
        let ethertype = match ethertype.to_ascii_lowercase().as_str() {
            "ipv4" => "IPv4",
            "ipv6" => "IPv6",
            _ => {
                return Err(NetError::invalid_input(format!(
                    "{ethertype} is not in ['IPv4', 'IPv6']"
                )));
            }
        };
        let protocol = normalize_protocol(b.get("protocol").unwrap_or(&Value::Null))?;
        let (min, max) = (opt_int(b, "port_range_min")?, opt_int(b, "port_range_max")?);
        if (min.is_some() || max.is_some()) && protocol.is_null() {
            return Err(NetError::new(
                400,
                "SecurityGroupProtocolRequiredWithPorts",
                "Must also specify protocol if port range is given.",
            ));
        }
        if is_port_protocol(&protocol) {
            if let Some(lo) = min
                && !(1..=65535).contains(&lo)
            {
                return Err(NetError::new(
                    400,
                    "SecurityGroupInvalidPortValue",
                    format!("Invalid value for port {lo}."),
                ));
            }
            if let Some(hi) = max
                && !(1..=65535).contains(&hi)
            {
                return Err(NetError::new(
                    400,
                    "SecurityGroupInvalidPortValue",
                    format!("Invalid value for port {hi}."),
                ));
            }
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                return Err(NetError::new(
                    400,
                    "SecurityGroupInvalidPortRange",
                    "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                ));
            }
        } else if min.is_some_and(|v| !(0..=255).contains(&v))
            || max.is_some_and(|v| !(0..=255).contains(&v))
        {
            return Err(NetError::new(
                400,
                "SecurityGroupInvalidIcmpValue",
                "Invalid value for ICMP type or code: must be 0 to 255.",
            ));
        }
        let prefix = match opt_str(b, "remote_ip_prefix")? {
            Some(p) => {
                let net: IpNet = p
                    .parse()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        NetError::invalid_input(format!("'{p}' is not a valid IP prefix"))
                    })?;
                if net.addr().is_ipv4() != (ethertype == "IPv4") {
                    return Err(NetError::new(
                        400,
                        "SecurityGroupRuleParameterConflict",
                        format!("Conflicting value ethertype {ethertype} for CIDR {p}"),
                    ));
                }
                // Neutron keeps the prefix as given (a mask added to a bare address) and shows
                // the network it means as `normalized_cidr`.
                Some((net.to_string(), net.trunc().to_string()))
            }
            None => None,
        };
        let (given_prefix, prefix) = match prefix {
            Some((given, normalized)) => (Some(given), Some(normalized)),
            None => (None, None),
        };
        let remote_group = opt_str(b, "remote_group_id")?;
        if prefix.is_some() && remote_group.is_some() {
            return Err(NetError::new(
                400,
                "SecurityGroupRemoteGroupAndRemoteIpPrefix",
                "Only remote_ip_prefix or remote_group_id may be provided.",
            ));
        }
        if let Some(g) = remote_group {
            self.check_sg_ids(project, &[g.to_string()]).await?;
        }
        // Duplicates: the same rule already exists in the group.
        for r in self
            .store
            .net_children("security_group_rule", sg_id)
            .await?
        {
            let r = doc_of(&r);
            if str_of(&r, "direction") == direction
                && str_of(&r, "ethertype") == ethertype
                && r["protocol"] == protocol
                && r["port_range_min"] == json!(min)
                && r["port_range_max"] == json!(max)
                && (if r["normalized_cidr"].is_null() {
                    &r["remote_ip_prefix"]
                } else {
                    &r["normalized_cidr"]
                }) == &json!(prefix)
                && r["remote_group_id"] == json!(remote_group)
            {
                return Err(NetError::conflict(
                    "SecurityGroupRuleExists",
                    format!(
                        "Security group rule already exists. Rule id is {}.",
                        str_of(&r, "id")
                    ),
                ));
            }
        }
        let d = self
            .insert_rule(
                project,
                sg_id,
                direction,
                ethertype,
                protocol,
                min,
                max,
                given_prefix.as_deref().zip(prefix.as_deref()),
                remote_group,
                opt_str(b, "description")?.unwrap_or(""),
                str_of(&sg, "name") == "default",
            )
            .await?;
        self.kick(project, NetJob::SgSync(sg_id.to_string()))
            .await?;
        Ok(d)
    }

    // ---------------------------------------------------------------- routers

    async fn create_router(
        self: &Arc<Self>,
        caller: &Caller,
        project: &str,
        b: &Doc,
    ) -> NetResult<Doc> {
        let hints = self.check_az_hints(b).await?;
        let id = new_id();
        let mut d = base_doc(&id, project, b)?;
        d.insert(
            "admin_state_up".into(),
            json!(opt_bool(b, "admin_state_up")?.unwrap_or(true)),
        );
        d.insert("status".into(), json!("ACTIVE"));
        d.insert("external_gateway_info".into(), Value::Null);
        d.insert("routes".into(), json!([]));
        d.insert("availability_zone_hints".into(), json!(hints));
        d.insert("distributed".into(), json!(false));
        d.insert("ha".into(), json!(false));
        d.insert("flavor_id".into(), Value::Null);
        self.store
            .insert_net_resource(&row_of(Kind::Router, &d, None, None, None), &[], &[])
            .await?;
        if let Some(gw) = b.get("external_gateway_info").filter(|v| !v.is_null()) {
            match self.set_gateway(caller, "create_router", &mut d, gw).await {
                Ok(()) => {
                    self.save(Kind::Router, &d, None, None, None).await?;
                }
                Err(e) => {
                    let _ = self.store.delete_net_resource(&id).await;
                    return Err(e);
                }
            }
        }
        if let Some(r) = b.get("routes").filter(|v| !v.is_null()) {
            let routes = self.check_routes(&id, r).await?;
            d.insert("routes".into(), routes);
            self.save(Kind::Router, &d, None, None, None).await?;
        }
        Ok(d)
    }

    /// Sets (or clears, with `null`/`{}`) a router's external gateway: a gateway port with an
    /// address on the external network.
    async fn set_gateway(
        &self,
        caller: &Caller,
        action: &str,
        router: &mut Doc,
        gw: &Value,
    ) -> NetResult<()> {
        let rid = str_of(router, "id").to_string();
        // Only an administrator chooses the router's address on the external network
        // (Neutron's `create_router:external_gateway_info:external_fixed_ips`: admin only).
        if !caller.is_admin
            && gw
                .get("external_fixed_ips")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        {
            let subs: Vec<String> = ["network_id", "enable_snat", "external_fixed_ips"]
                .into_iter()
                .filter(|k| gw.get(*k).is_some())
                .map(|k| format!("rule:{action}:external_gateway_info:{k}"))
                .collect();
            return Err(NetError::forbidden(&format!(
                "rule:{action} and (rule:{action}:external_gateway_info and ({}))",
                subs.join(" and ")
            )));
        }
        // Drop any previous gateway port (the router's own, never a port that merely names it).
        for p in self.router_ports(&rid).await? {
            if doc_of(&p)["device_owner"] == json!(ROUTER_GATEWAY_OWNER) {
                self.store.delete_net_resource(&p.id).await?;
            }
        }
        let Some(net_id) = gw.get("network_id").and_then(Value::as_str) else {
            router.insert("external_gateway_info".into(), Value::Null);
            return Ok(());
        };
        let net = self.load_visible(caller, Kind::Network, net_id).await?;
        if net["router:external"] != json!(true) {
            return Err(NetError::bad_request(format!(
                "Bad router request: Network {net_id} is not an external network."
            )));
        }
        let snat = match gw.get("enable_snat") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => {
                if !*b && !caller.is_admin {
                    return Err(NetError::forbidden(
                        "rule:create_router:external_gateway_info:enable_snat",
                    ));
                }
                *b
            }
            Some(v) => {
                return Err(NetError::invalid_input(format!(
                    "'{v}' is not a valid boolean value"
                )));
            }
        };
        let pid = new_id();
        let mut port = base_doc(&pid, "", &Doc::new())?;
        port.insert("network_id".into(), json!(net_id));
        port.insert("admin_state_up".into(), json!(true));
        port.insert("status".into(), json!("ACTIVE"));
        port.insert("device_id".into(), json!(rid));
        port.insert("device_owner".into(), json!("network:router_gateway"));
        port.insert("allowed_address_pairs".into(), json!([]));
        port.insert("extra_dhcp_opts".into(), json!([]));
        port.insert("security_groups".into(), json!([]));
        port.insert("port_security_enabled".into(), json!(false));
        port.insert("binding:host_id".into(), json!(""));
        port.insert("binding:profile".into(), json!({}));
        port.insert("binding:vif_type".into(), json!("unbound"));
        port.insert("binding:vif_details".into(), json!({}));
        port.insert("binding:vnic_type".into(), json!("normal"));
        let requested = gw
            .get("external_fixed_ips")
            .filter(|v| v.is_array())
            .cloned();
        let port = self
            .insert_port(port, net_id, requested.as_ref(), None)
            .await?;
        let fixed: Vec<Value> = port["fixed_ips"].as_array().cloned().unwrap_or_default();
        router.insert(
            "external_gateway_info".into(),
            json!({"network_id": net_id, "enable_snat": snat, "external_fixed_ips": fixed}),
        );
        Ok(())
    }

    /// Checks `routes`: each next hop must be on a subnet attached to the router.
    async fn check_routes(&self, router_id: &str, routes: &Value) -> NetResult<Value> {
        let list = routes
            .as_array()
            .ok_or_else(|| NetError::invalid_input("routes must be a list"))?;
        let cidrs: Vec<IpNet> = self
            .router_interfaces(router_id)
            .await?
            .iter()
            .flat_map(|(_, s)| cidr_of(s))
            .collect();
        let mut out = Vec::new();
        for r in list {
            let dest = r["destination"].as_str().unwrap_or_default();
            let hop = r["nexthop"].as_str().unwrap_or_default();
            let dnet: IpNet = dest.parse().map_err(|_| {
                NetError::invalid_input(format!("'{dest}' is not a valid IP subnet"))
            })?;
            let hip = parse_ip(hop)?;
            if !cidrs.iter().any(|c| c.contains(&hip)) {
                return Err(NetError::new(
                    400,
                    "InvalidRoutes",
                    format!(
                        "Invalid format for routes: {r}, the nexthop is not connected with router"
                    ),
                ));
            }
            let e = json!({"destination": dnet.trunc().to_string(), "nexthop": hip.to_string()});
            if !out.contains(&e) {
                out.push(e);
            }
        }
        Ok(json!(out))
    }

    /// A router's interface ports with the subnet each one attaches.
    /// Only the router's own ports count: a port of another project that names the router
    /// as its device is not one of its interfaces.
    pub(crate) async fn router_interfaces(&self, router_id: &str) -> NetResult<Vec<(Doc, Doc)>> {
        let mut out = Vec::new();
        for p in self.router_ports(router_id).await? {
            let p = doc_of(&p);
            if p["device_owner"] != json!("network:router_interface") {
                continue;
            }
            for (sid, _) in fixed_ips_of(&p) {
                if let Some((_, s)) = self.try_load(Kind::Subnet, &sid).await? {
                    out.push((p.clone(), s));
                }
            }
        }
        Ok(out)
    }

    /// `PUT /v2.0/routers/{id}/add_router_interface` with `subnet_id` or `port_id`.
    pub async fn add_router_interface(
        self: &Arc<Self>,
        caller: &Caller,
        router_id: &str,
        b: &Doc,
    ) -> NetResult<Value> {
        let (_, router) = self
            .load_owned(caller, Kind::Router, router_id, "add_router_interface")
            .await?;
        let project = str_of(&router, "project_id").to_string();
        let (subnet_id, port_id) = (opt_str(b, "subnet_id")?, opt_str(b, "port_id")?);
        if subnet_id.is_some() == port_id.is_some() {
            return Err(NetError::bad_request(
                "Bad router request: Either subnet_id or port_id must be specified, but not both",
            ));
        }
        let existing = self.router_interfaces(router_id).await?;
        let overlap_check = |s: &Doc| -> NetResult<()> {
            let c = cidr_of(s);
            for (_, o) in &existing {
                if str_of(o, "id") == str_of(s, "id") {
                    return Err(NetError::bad_request(format!(
                        "Bad router request: Router already has a port on subnet {}.",
                        str_of(s, "id")
                    )));
                }
                if let (Some(a), Some(b)) = (c, cidr_of(o))
                    && (a.contains(&b.network()) || b.contains(&a.network()))
                {
                    return Err(NetError::bad_request(format!(
                        "Bad router request: Cidr {a} of subnet {} overlaps with cidr {b} of subnet {}.",
                        str_of(s, "id"),
                        str_of(o, "id")
                    )));
                }
            }
            Ok(())
        };
        let port = if let Some(sid) = subnet_id {
            let subnet = self.load_visible(caller, Kind::Subnet, sid).await?;
            // A globally shared subnet of another project is no router interface for a
            // tenant (Neutron, LP-1757482).
            if !caller.is_admin && str_of(&subnet, "project_id") != caller.project_id {
                return Err(NetError::bad_request(format!(
                    "Bad router request: Cannot add interface to router because subnet {sid} is not owned by project making the request"
                )));
            }
            overlap_check(&subnet)?;
            let Some(gw) = gateway_of(&subnet) else {
                return Err(NetError::bad_request(format!(
                    "Bad router request: Subnet {sid} does not have a gateway IP."
                )));
            };
            let net_id = str_of(&subnet, "network_id").to_string();
            let pid = new_id();
            let mut p = base_doc(&pid, &project, &Doc::new())?;
            p.insert("network_id".into(), json!(net_id));
            p.insert("admin_state_up".into(), json!(true));
            p.insert("status".into(), json!("ACTIVE"));
            p.insert("device_id".into(), json!(router_id));
            p.insert("device_owner".into(), json!("network:router_interface"));
            p.insert(INTERFACE_OF.into(), json!(router_id));
            p.insert("allowed_address_pairs".into(), json!([]));
            p.insert("extra_dhcp_opts".into(), json!([]));
            p.insert("security_groups".into(), json!([]));
            p.insert("port_security_enabled".into(), json!(false));
            p.insert("binding:host_id".into(), json!(""));
            p.insert("binding:profile".into(), json!({}));
            p.insert("binding:vif_type".into(), json!("unbound"));
            p.insert("binding:vif_details".into(), json!({}));
            p.insert("binding:vnic_type".into(), json!("normal"));
            let req = json!([{"subnet_id": sid, "ip_address": gw.to_string()}]);
            self.insert_port(p, &net_id, Some(&req), None).await?
        } else {
            let pid = port_id.unwrap_or_default();
            let (_, mut p) = self
                .load_owned(caller, Kind::Port, pid, "add_router_interface")
                .await?;
            if !str_of(&p, "device_id").is_empty() {
                return Err(NetError::conflict(
                    "PortInUse",
                    format!(
                        "Unable to complete operation on port {pid} for network {}. Port already has an attached device {}.",
                        str_of(&p, "network_id"),
                        str_of(&p, "device_id")
                    ),
                ));
            }
            let fixed = fixed_ips_of(&p);
            if fixed.is_empty() {
                return Err(NetError::bad_request(
                    "Bad router request: Router port must have at least one fixed IP.",
                ));
            }
            for (sid, ip) in &fixed {
                let (_, s) = self.load(Kind::Subnet, sid).await?;
                // Neutron's `_validate_port_in_range_or_admin`.
                if !caller.is_admin
                    && str_of(&s, "project_id") != caller.project_id
                    && !ipam::in_pools(&pools_of(&s), *ip)
                {
                    return Err(NetError::bad_request(format!(
                        "Bad router request: Cannot add interface to router because specified port {pid} has an IP address out of the allocation pool of subnet {sid}, which is not owned by the project making the request"
                    )));
                }
                overlap_check(&s)?;
            }
            p.insert("device_id".into(), json!(router_id));
            p.insert("device_owner".into(), json!("network:router_interface"));
            p.insert(INTERFACE_OF.into(), json!(router_id));
            p.insert("status".into(), json!("ACTIVE"));
            stamp(&mut p, false);
            self.save(
                Kind::Port,
                &p,
                Some(str_of(&p, "network_id")),
                Some(router_id),
                None,
            )
            .await?;
            p
        };
        self.kick(&project, NetJob::RouterSync(router_id.to_string()))
            .await?;
        let sids: Vec<String> = fixed_ips_of(&port).into_iter().map(|x| x.0).collect();
        Ok(json!({
            "id": router_id, "tenant_id": project, "project_id": project,
            "port_id": str_of(&port, "id"), "network_id": str_of(&port, "network_id"),
            "subnet_id": sids.first(), "subnet_ids": sids, "tags": [],
        }))
    }

    /// `PUT /v2.0/routers/{id}/remove_router_interface`.
    pub async fn remove_router_interface(
        self: &Arc<Self>,
        caller: &Caller,
        router_id: &str,
        b: &Doc,
    ) -> NetResult<Value> {
        let (_, router) = self
            .load_owned(caller, Kind::Router, router_id, "remove_router_interface")
            .await?;
        let project = str_of(&router, "project_id").to_string();
        let (subnet_id, port_id) = (opt_str(b, "subnet_id")?, opt_str(b, "port_id")?);
        if subnet_id.is_none() && port_id.is_none() {
            return Err(NetError::bad_request(
                "Bad router request: Either subnet_id or port_id must be specified",
            ));
        }
        let ifaces = self.router_interfaces(router_id).await?;
        let found = ifaces.iter().find(|(p, s)| {
            port_id.is_none_or(|x| str_of(p, "id") == x)
                && subnet_id.is_none_or(|x| str_of(s, "id") == x)
        });
        let Some((port, subnet)) = found.cloned() else {
            return Err(match (port_id, subnet_id) {
                (Some(p), _) => NetError::new(
                    404,
                    "RouterInterfaceNotFound",
                    format!("Router {router_id} does not have an interface with id {p}"),
                ),
                (None, Some(s)) => NetError::new(
                    404,
                    "RouterInterfaceNotFoundForSubnet",
                    format!("Router {router_id} has no interface on subnet {s}"),
                ),
                _ => NetError::bad_request("Bad router request"),
            });
        };
        // Routes through this subnet would dangle.
        let c = cidr_of(&subnet);
        if let Some(routes) = router["routes"].as_array() {
            for r in routes {
                if let (Some(c), Some(h)) = (
                    c,
                    r["nexthop"].as_str().and_then(|h| h.parse::<IpAddr>().ok()),
                ) && c.contains(&h)
                {
                    return Err(NetError::conflict(
                        "RouterInterfaceInUseByRoute",
                        format!(
                            "Router interface for subnet {} on router {router_id} cannot be deleted, as it is required by one or more routes.",
                            str_of(&subnet, "id")
                        ),
                    ));
                }
            }
        }
        let pid = str_of(&port, "id").to_string();
        self.store.delete_net_resource(&pid).await?;
        self.kick(&project, NetJob::RouterSync(router_id.to_string()))
            .await?;
        self.kick(&project, NetJob::PortSync(pid.clone())).await?;
        Ok(json!({
            "id": router_id, "tenant_id": project, "project_id": project, "port_id": pid,
            "network_id": str_of(&port, "network_id"), "subnet_id": str_of(&subnet, "id"),
            "subnet_ids": [str_of(&subnet, "id")], "tags": [],
        }))
    }

    /// `PUT /v2.0/routers/{id}/add_extraroutes` / `remove_extraroutes`.
    pub async fn extra_routes(
        self: &Arc<Self>,
        caller: &Caller,
        router_id: &str,
        b: &Doc,
        add: bool,
    ) -> NetResult<Value> {
        let (_, mut router) = self
            .load_owned(caller, Kind::Router, router_id, "update")
            .await?;
        let given = b.get("routes").cloned().unwrap_or(json!([]));
        let mut routes: Vec<Value> = router["routes"].as_array().cloned().unwrap_or_default();
        if add {
            let checked = self.check_routes(router_id, &given).await?;
            for r in checked.as_array().cloned().unwrap_or_default() {
                if !routes.contains(&r) {
                    routes.push(r);
                }
            }
        } else {
            let drop: Vec<Value> = given.as_array().cloned().unwrap_or_default();
            routes.retain(|r| {
                !drop
                    .iter()
                    .any(|d| d["destination"] == r["destination"] && d["nexthop"] == r["nexthop"])
            });
        }
        router.insert("routes".into(), json!(routes));
        stamp(&mut router, false);
        self.save(Kind::Router, &router, None, None, None).await?;
        self.kick(
            str_of(&router, "project_id"),
            NetJob::RouterSync(router_id.to_string()),
        )
        .await?;
        Ok(self
            .render(caller, Kind::Router, vec![router])
            .await?
            .pop()
            .unwrap_or(Value::Null))
    }

    // ---------------------------------------------------------------- floating IPs

    async fn create_fip(
        self: &Arc<Self>,
        caller: &Caller,
        project: &str,
        b: &Doc,
    ) -> NetResult<Doc> {
        // `create_floatingip:floating_ip_address`: admin only.
        if b.get("floating_ip_address").is_some_and(|v| !v.is_null()) && !caller.is_admin {
            return Err(attr_denied("create_floatingip", "floating_ip_address"));
        }
        let net_id = opt_str(b, "floating_network_id")?.ok_or_else(|| {
            NetError::bad_request(
                "Failed to parse request. Required attribute 'floating_network_id' not specified",
            )
        })?;
        let net = self.load_visible(caller, Kind::Network, net_id).await?;
        if net["router:external"] != json!(true) {
            return Err(NetError::bad_request(format!(
                "Bad floatingip request: Network {net_id} is not a valid external network."
            )));
        }
        let id = new_id();
        let requested = match (opt_str(b, "floating_ip_address")?, opt_str(b, "subnet_id")?) {
            (Some(ip), s) => Some(json!([{"ip_address": ip, "subnet_id": s}])),
            (None, Some(s)) => Some(json!([{"subnet_id": s}])),
            (None, None) => None,
        };
        let ips = self.choose_ips(net_id, requested.as_ref()).await?;
        let Some((sid, ip, _)) = ips.iter().find(|x| x.1.is_ipv4()).cloned() else {
            return Err(exhausted(net_id));
        };
        let mut d = base_doc(&id, project, b)?;
        d.remove("name");
        d.insert("floating_ip_address".into(), json!(ip.to_string()));
        d.insert("floating_network_id".into(), json!(net_id));
        d.insert("router_id".into(), Value::Null);
        d.insert("port_id".into(), Value::Null);
        d.insert("fixed_ip_address".into(), Value::Null);
        d.insert("status".into(), json!("DOWN"));
        d.insert("port_forwardings".into(), json!([]));
        d.insert("qos_policy_id".into(), Value::Null);
        d.insert("_subnet_id".into(), json!(sid));
        if let Some(pid) = opt_str(b, "port_id")? {
            self.associate(caller, &mut d, pid, opt_str(b, "fixed_ip_address")?)
                .await?;
        }
        let alloc = IpAllocation {
            subnet_id: sid.clone(),
            ip: ip.to_string(),
            network_id: net_id.to_string(),
            owner_id: id.clone(),
        };
        let port = d["port_id"].as_str().map(str::to_string);
        match self
            .store
            .insert_net_resource(
                &row_of(Kind::FloatingIp, &d, Some(net_id), port.as_deref(), None),
                &[alloc],
                &[],
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(NetError::conflict(
                    "IpAddressAlreadyAllocated",
                    format!("IP address {ip} already allocated in subnet {sid}"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        if port.is_some() {
            self.kick(
                project,
                NetJob::Cleanup {
                    kind: "floatingip".into(),
                    id: id.clone(),
                },
            )
            .await?;
        }
        Ok(d)
    }

    /// Associates a floating IP with a port reachable from the external network through one
    /// of the project's routers.
    async fn associate(
        &self,
        caller: &Caller,
        fip: &mut Doc,
        port_id: &str,
        fixed: Option<&str>,
    ) -> NetResult<()> {
        let (_, port) = self
            .load_owned(caller, Kind::Port, port_id, "update_floatingip")
            .await?;
        let ips = fixed_ips_of(&port);
        let chosen = match fixed {
            Some(f) => {
                let f = parse_ip(f)?;
                ips.iter()
                    .find(|(_, ip)| *ip == f)
                    .cloned()
                    .ok_or_else(|| {
                        NetError::bad_request(format!(
                            "Bad floatingip request: Port {port_id} does not have fixed ip {f}."
                        ))
                    })?
            }
            None => ips
                .iter()
                .find(|(_, ip)| ip.is_ipv4())
                .cloned()
                .ok_or_else(|| {
                    NetError::bad_request(format!(
                        "Bad floatingip request: Port {port_id} does not have any IPv4 address."
                    ))
                })?,
        };
        let ext = str_of(fip, "floating_network_id").to_string();
        let mut router_id = None;
        for r in self
            .store
            .list_net_resources("router", Some(str_of(&port, "project_id")))
            .await?
        {
            let rd = doc_of(&r);
            if rd["external_gateway_info"]["network_id"].as_str() != Some(ext.as_str()) {
                continue;
            }
            if self
                .router_interfaces(&r.id)
                .await?
                .iter()
                .any(|(_, s)| str_of(s, "id") == chosen.0)
            {
                router_id = Some(r.id.clone());
                break;
            }
        }
        let Some(router_id) = router_id else {
            return Err(NetError::new(
                404,
                "ExternalGatewayForFloatingIPNotFound",
                format!(
                    "External network {ext} is not reachable from subnet {}.  Therefore, cannot associate Port {port_id} with a Floating IP.",
                    chosen.0
                ),
            ));
        };
        // One floating IP per fixed address.
        for other in self.store.net_by_device("floatingip", port_id).await? {
            let o = doc_of(&other);
            if other.id != str_of(fip, "id") && o["fixed_ip_address"] == json!(chosen.1.to_string())
            {
                return Err(NetError::conflict(
                    "FloatingIPPortAlreadyAssociated",
                    format!(
                        "Cannot associate floating IP {} with port {port_id} using fixed IP {}, as that fixed IP already has a floating IP on external network {ext}.",
                        str_of(fip, "floating_ip_address"),
                        chosen.1
                    ),
                ));
            }
        }
        fip.insert("port_id".into(), json!(port_id));
        fip.insert("fixed_ip_address".into(), json!(chosen.1.to_string()));
        fip.insert("router_id".into(), json!(router_id));
        Ok(())
    }

    // ---------------------------------------------------------------- update

    /// Rewrites a document in the store (no allocation changes).
    pub(crate) async fn save(
        &self,
        kind: Kind,
        d: &Doc,
        parent: Option<&str>,
        device: Option<&str>,
        pod: Option<&str>,
    ) -> NetResult<()> {
        let old = self.store.get_net_resource(str_of(d, "id")).await?;
        let mut row = row_of(
            kind,
            d,
            parent.or(old.parent_id.as_deref()),
            device,
            pod.or(old.pod_id.as_deref()),
        );
        if device.is_none() {
            row.device_id = old.device_id.clone();
        }
        self.store
            .update_net_resource(&row, &[], &[], &[], &[])
            .await?;
        Ok(())
    }

    /// `PUT /v2.0/<collection>/{id}`.
    pub async fn update(
        self: &Arc<Self>,
        caller: &Caller,
        kind: Kind,
        id: &str,
        b: &Doc,
    ) -> NetResult<Value> {
        check_attrs(kind, b, false)?;
        let (row, mut d) = self.load_owned(caller, kind, id, "update").await?;
        let project = row.project_id.clone();
        for k in ["name", "description"] {
            if let Some(v) = opt_str(b, k)? {
                d.insert(k.into(), json!(v));
            }
        }
        if let Some(v) = opt_bool(b, "admin_state_up")? {
            d.insert("admin_state_up".into(), json!(v));
        }
        match kind {
            Kind::Network => {
                for k in ["shared", "router:external"] {
                    if let Some(v) = opt_bool(b, k)? {
                        if !caller.is_admin {
                            return Err(NetError::forbidden(&format!("rule:update_network:{k}")));
                        }
                        d.insert(k.into(), json!(v));
                    }
                }
                if let Some(v) = opt_bool(b, "port_security_enabled")? {
                    d.insert("port_security_enabled".into(), json!(v));
                }
                if let Some(v) = opt_int(b, "mtu")? {
                    d.insert("mtu".into(), json!(v));
                }
                if let Some(v) = opt_str(b, "dns_domain")? {
                    d.insert("dns_domain".into(), json!(v));
                }
            }
            Kind::Subnet => self.update_subnet(&mut d, b).await?,
            Kind::Port => {
                self.update_port(caller, &row, &mut d, b).await?;
                stamp(&mut d, false);
                self.kick(&project, NetJob::PortSync(id.to_string()))
                    .await?;
                for g in d["security_groups"].as_array().cloned().unwrap_or_default() {
                    if let Some(g) = g.as_str() {
                        self.kick_sg_dependents(&project, g).await?;
                    }
                }
                return Ok(self
                    .render(caller, kind, vec![d])
                    .await?
                    .pop()
                    .unwrap_or(Value::Null));
            }
            Kind::Router => {
                if let Some(gw) = b.get("external_gateway_info") {
                    self.set_gateway(caller, "update_router", &mut d, gw)
                        .await?;
                }
                if let Some(r) = b.get("routes") {
                    let routes = if r.is_null() {
                        json!([])
                    } else {
                        self.check_routes(id, r).await?
                    };
                    d.insert("routes".into(), routes);
                }
                self.kick(&project, NetJob::RouterSync(id.to_string()))
                    .await?;
            }
            Kind::SecurityGroup => {
                if str_of(&d, "name") == "default" && b.get("name").is_some_and(|n| n != "default")
                {
                    return Err(NetError::conflict(
                        "SecurityGroupCannotUpdateDefault",
                        "Updating default security group not allowed.",
                    ));
                }
                if let Some(v) = opt_bool(b, "stateful")? {
                    d.insert("stateful".into(), json!(v));
                }
            }
            Kind::SecurityGroupRule => {}
            Kind::FloatingIp => {
                if b.contains_key("port_id") {
                    let old_port = d["port_id"].as_str().map(str::to_string);
                    match opt_str(b, "port_id")? {
                        Some(pid) => {
                            self.associate(caller, &mut d, pid, opt_str(b, "fixed_ip_address")?)
                                .await?
                        }
                        None => {
                            d.insert("port_id".into(), Value::Null);
                            d.insert("fixed_ip_address".into(), Value::Null);
                            d.insert("router_id".into(), Value::Null);
                            d.insert("status".into(), json!("DOWN"));
                        }
                    }
                    stamp(&mut d, false);
                    let port = d["port_id"].as_str().map(str::to_string);
                    let mut row = row_of(kind, &d, row.parent_id.as_deref(), port.as_deref(), None);
                    row.device_id = port.clone();
                    self.store
                        .update_net_resource(&row, &[], &[], &[], &[])
                        .await?;
                    self.port_addresses_changed(old_port.as_deref()).await;
                    self.port_addresses_changed(port.as_deref()).await;
                    self.kick(
                        &project,
                        NetJob::Cleanup {
                            kind: "floatingip".into(),
                            id: id.to_string(),
                        },
                    )
                    .await?;
                    return Ok(self
                        .render(caller, kind, vec![d])
                        .await?
                        .pop()
                        .unwrap_or(Value::Null));
                }
            }
        }
        stamp(&mut d, false);
        self.save(kind, &d, None, None, None).await?;
        Ok(self
            .render(caller, kind, vec![d])
            .await?
            .pop()
            .unwrap_or(Value::Null))
    }

    async fn update_subnet(&self, d: &mut Doc, b: &Doc) -> NetResult<()> {
        let cidr = cidr_of(d).ok_or_else(|| NetError::bad_request("subnet without cidr"))?;
        let mut gateway = gateway_of(d);
        if let Some(g) = b.get("gateway_ip") {
            gateway = match g {
                Value::Null => None,
                Value::String(s) => {
                    let ip = parse_ip(s)?;
                    if !ipam::usable(&cidr, ip) {
                        return Err(NetError::bad_request(format!(
                            "Invalid input for operation: Gateway IP {ip} is not a valid address in subnet {cidr}."
                        )));
                    }
                    Some(ip)
                }
                v => {
                    return Err(NetError::invalid_input(format!(
                        "'{v}' is not a valid IP address"
                    )));
                }
            };
            d.insert("gateway_ip".into(), json!(gateway.map(|g| g.to_string())));
        }
        let pools = match b.get("allocation_pools") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|p| {
                    Ok(Pool {
                        start: parse_ip(p["start"].as_str().unwrap_or_default())?,
                        end: parse_ip(p["end"].as_str().unwrap_or_default())?,
                    })
                })
                .collect::<NetResult<Vec<_>>>()?,
            _ => pools_of(d),
        };
        ipam::check_pools(&cidr, &pools, gateway).map_err(pool_error)?;
        d.insert(
            "allocation_pools".into(),
            json!(
                pools
                    .iter()
                    .map(|p| json!({"start": p.start.to_string(), "end": p.end.to_string()}))
                    .collect::<Vec<_>>()
            ),
        );
        if let Some(v) = opt_bool(b, "enable_dhcp")? {
            d.insert("enable_dhcp".into(), json!(v));
        }
        if let Some(v) = str_list(b, "dns_nameservers")? {
            for n in &v {
                parse_ip(n)?;
            }
            d.insert("dns_nameservers".into(), json!(v));
        }
        if b.contains_key("host_routes") {
            d.insert(
                "host_routes".into(),
                check_host_routes(b.get("host_routes"))?,
            );
        }
        Ok(())
    }

    async fn update_port(
        &self,
        caller: &Caller,
        row: &NetResourceRow,
        d: &mut Doc,
        b: &Doc,
    ) -> NetResult<()> {
        let id = row.id.clone();
        let net_id = str_of(d, "network_id").to_string();
        for k in ["binding:host_id", "binding:profile"] {
            if b.contains_key(k) && !caller.is_admin {
                return Err(NetError::forbidden(&format!("rule:update_port:{k}")));
            }
        }
        if let Some(v) = opt_str(b, "binding:host_id")? {
            d.insert("binding:host_id".into(), json!(v));
        }
        if let Some(v) = b.get("binding:profile").filter(|v| v.is_object()) {
            d.insert("binding:profile".into(), v.clone());
        }
        if let Some(v) = opt_str(b, "binding:vnic_type")? {
            d.insert("binding:vnic_type".into(), json!(v));
        }
        let project = str_of(d, "project_id").to_string();
        // Neutron's `_validate_port_for_update`: a new device owner, or a new device for a
        // port that has an owner, is checked against the owner's rules.
        let new_owner = opt_str(b, "device_owner")?;
        let new_device = opt_str(b, "device_id")?;
        let owner = new_owner
            .filter(|o| !o.is_empty())
            .unwrap_or(str_of(d, "device_owner"))
            .to_string();
        let device = new_device
            .filter(|x| !x.is_empty())
            .unwrap_or(str_of(d, "device_id"))
            .to_string();
        let device_changed = new_device.is_some_and(|x| x != str_of(d, "device_id"));
        let mut net: Option<Doc> = None;
        if new_owner.is_some() || b.contains_key("fixed_ips") {
            net = Some(self.load(Kind::Network, &net_id).await?.1);
        }
        if let (Some(o), Some(n)) = (new_owner, &net) {
            check_device_owner_policy(caller, "update_port", n, o)?;
        }
        if new_owner.is_some() || (!owner.is_empty() && device_changed) {
            self.check_router_device(caller, &owner, &device, &project)
                .await?;
        }
        for k in ["device_id", "device_owner", "dns_name"] {
            if let Some(v) = opt_str(b, k)? {
                d.insert(k.into(), json!(v));
            }
        }
        if let Some(v) = opt_bool(b, "port_security_enabled")? {
            d.insert("port_security_enabled".into(), json!(v));
        }
        if let Some(ids) = str_list(b, "security_groups")? {
            let ids = self.check_sg_ids(&project, &ids).await?;
            // Membership changes: the old and new groups' dependents must be re-synced.
            let old = d["security_groups"].clone();
            d.insert("_old_security_groups".into(), old);
            d.insert("security_groups".into(), json!(ids));
        }
        let port_security = d["port_security_enabled"] != json!(false);
        if !port_security
            && d["security_groups"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        {
            if b.contains_key("port_security_enabled") && !b.contains_key("security_groups") {
                return Err(NetError::conflict(
                    "PortSecurityPortHasSecurityGroup",
                    "Port has security group associated. Cannot disable port security or ip address until security group is removed",
                ));
            }
            return Err(NetError::new(
                400,
                "PortSecurityAndIPRequiredForSecurityGroups",
                "Port security must be enabled and port must have an IP address in order to use security groups.",
            ));
        }
        if b.contains_key("allowed_address_pairs") {
            let pairs = Self::check_pairs(b.get("allowed_address_pairs"))?;
            if !port_security && pairs.as_array().is_some_and(|a| !a.is_empty()) {
                return Err(NetError::conflict(
                    "AddressPairAndPortSecurityRequired",
                    "Port Security must be enabled in order to have allowed address pairs on a port.",
                ));
            }
            d.insert("allowed_address_pairs".into(), pairs);
        }
        d.remove("_old_security_groups");
        // Address and MAC changes go through the allocation tables in one transaction.
        let mut add_ips = Vec::new();
        let mut drop_ips = Vec::new();
        let mut add_macs = Vec::new();
        let mut drop_macs = Vec::new();
        if let Some(m) = opt_str(b, "mac_address")? {
            if !caller.is_admin {
                return Err(NetError::forbidden("rule:update_port:mac_address"));
            }
            if row.pod_id.is_some() {
                return Err(NetError::conflict(
                    "PortBound",
                    format!(
                        "Unable to complete operation on port {id}, port is already bound, port type: ovs, old_mac {}, new_mac {m}.",
                        str_of(d, "mac_address")
                    ),
                ));
            }
            let m = ipam::normalize_mac(m).ok_or_else(|| {
                NetError::invalid_input(format!("'{m}' is not a valid MAC address"))
            })?;
            if m != str_of(d, "mac_address") {
                drop_macs.push(str_of(d, "mac_address").to_string());
                add_macs.push((m.clone(), id.clone()));
                d.insert("mac_address".into(), json!(m));
            }
        }
        if let Some(req) = b.get("fixed_ips") {
            let old: Vec<(String, IpAddr)> = fixed_ips_of(d);
            // Keep entries that name an address the port already holds.
            let mut keep = Vec::new();
            let mut rest = Vec::new();
            for f in req.as_array().cloned().unwrap_or_default() {
                let ip = f["ip_address"]
                    .as_str()
                    .and_then(|s| s.parse::<IpAddr>().ok());
                match old
                    .iter()
                    .find(|(s, i)| Some(*i) == ip && f["subnet_id"].as_str().is_none_or(|x| x == s))
                {
                    Some(x) => keep.push(x.clone()),
                    None => rest.push(f),
                }
            }
            if let Some(n) = &net {
                check_chosen_ips(
                    caller,
                    "update_port",
                    n,
                    &chosen_addresses(Some(&json!(rest))),
                )?;
            }
            let new = if rest.is_empty() {
                Vec::new()
            } else {
                self.choose_ips(&net_id, Some(&json!(rest))).await?
            };
            for (s, ip) in &old {
                if !keep.contains(&(s.clone(), *ip)) {
                    drop_ips.push(IpAllocation {
                        subnet_id: s.clone(),
                        ip: ip.to_string(),
                        network_id: net_id.clone(),
                        owner_id: id.clone(),
                    });
                }
            }
            for (s, ip, _) in &new {
                add_ips.push(IpAllocation {
                    subnet_id: s.clone(),
                    ip: ip.to_string(),
                    network_id: net_id.clone(),
                    owner_id: id.clone(),
                });
            }
            let mut all: Vec<Value> = keep
                .iter()
                .map(|(s, ip)| json!({"subnet_id": s, "ip_address": ip.to_string()}))
                .collect();
            all.extend(
                new.iter()
                    .map(|(s, ip, _)| json!({"subnet_id": s, "ip_address": ip.to_string()})),
            );
            d.insert("fixed_ips".into(), json!(all));
        }
        stamp(d, false);
        let device = str_of(d, "device_id").to_string();
        let mut r = row_of(
            Kind::Port,
            d,
            Some(&net_id),
            Some(&device),
            row.pod_id.as_deref(),
        );
        r.created_at = row.created_at;
        match self
            .store
            .update_net_resource(&r, &add_ips, &drop_ips, &add_macs, &drop_macs)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(w)) if w.starts_with("ip_address") => {
                let mut parts = w.split(' ').skip(1);
                let (sid, ip) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                Err(NetError::conflict(
                    "IpAddressAlreadyAllocated",
                    format!("IP address {ip} already allocated in subnet {sid}"),
                ))
            }
            Err(StoreError::Conflict(w)) if w.starts_with("mac_address") => {
                Err(NetError::conflict(
                    "MacAddressInUse",
                    format!(
                        "Unable to complete operation for network {net_id}. The mac address {} is in use.",
                        str_of(d, "mac_address")
                    ),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    // ---------------------------------------------------------------- delete

    /// `DELETE /v2.0/<collection>/{id}`.
    pub async fn delete(self: &Arc<Self>, caller: &Caller, kind: Kind, id: &str) -> NetResult<()> {
        let (row, d) = self.load_owned(caller, kind, id, "delete").await?;
        let project = row.project_id.clone();
        match kind {
            Kind::Network => {
                let ports = self.store.net_children("port", id).await?;
                if !ports.is_empty() {
                    return Err(NetError::conflict(
                        "NetworkInUse",
                        format!(
                            "Unable to complete operation on network {id}. There are one or more ports still in use on the network."
                        ),
                    ));
                }
                for s in self.store.net_children("subnet", id).await? {
                    self.store.release_subnet_ips(&s.id).await?;
                    self.store.delete_net_resource(&s.id).await?;
                    self.kick(
                        &project,
                        NetJob::Cleanup {
                            kind: "subnet".into(),
                            id: s.id.clone(),
                        },
                    )
                    .await?;
                }
                self.store.delete_net_resource(id).await?;
                self.kick(
                    &project,
                    NetJob::Cleanup {
                        kind: "network".into(),
                        id: id.to_string(),
                    },
                )
                .await?;
            }
            Kind::Subnet => {
                let in_use = self
                    .store
                    .subnet_allocations(id)
                    .await?
                    .iter()
                    .any(|a| !a.owner_id.starts_with("reserved:"));
                if in_use {
                    return Err(NetError::conflict(
                        "SubnetInUse",
                        format!(
                            "Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."
                        ),
                    ));
                }
                self.store.release_subnet_ips(id).await?;
                self.store.delete_net_resource(id).await?;
                self.kick(
                    &project,
                    NetJob::Cleanup {
                        kind: "subnet".into(),
                        id: id.to_string(),
                    },
                )
                .await?;
            }
            Kind::Port => {
                let owner = str_of(&d, "device_owner");
                if owner == "network:router_interface" || owner == "network:router_gateway" {
                    return Err(NetError::conflict(
                        "L3PortInUse",
                        format!(
                            "Port {id} cannot be deleted directly via the port API: has device owner {owner}."
                        ),
                    ));
                }
                self.delete_port_row(&project, id, &d).await?;
            }
            Kind::Router => {
                if !self.router_interfaces(id).await?.is_empty() {
                    return Err(NetError::conflict(
                        "RouterInUse",
                        format!("Router {id} still has ports"),
                    ));
                }
                for p in self.router_ports(id).await? {
                    self.store.delete_net_resource(&p.id).await?;
                }
                for f in self.store.list_net_resources("floatingip", None).await? {
                    let mut fd = doc_of(&f);
                    if fd["router_id"] == json!(id) {
                        fd.insert("router_id".into(), Value::Null);
                        fd.insert("port_id".into(), Value::Null);
                        fd.insert("fixed_ip_address".into(), Value::Null);
                        self.save(Kind::FloatingIp, &fd, None, None, None).await?;
                    }
                }
                self.store.delete_net_resource(id).await?;
                self.kick(
                    &project,
                    NetJob::Cleanup {
                        kind: "router".into(),
                        id: id.to_string(),
                    },
                )
                .await?;
            }
            Kind::SecurityGroup => {
                if str_of(&d, "name") == "default" && !caller.is_admin {
                    return Err(NetError::conflict(
                        "SecurityGroupCannotRemoveDefault",
                        "Insufficient rights for removing default security group.",
                    ));
                }
                for p in self
                    .store
                    .list_net_resources("port", Some(&project))
                    .await?
                {
                    if doc_of(&p)["security_groups"]
                        .as_array()
                        .is_some_and(|a| a.contains(&json!(id)))
                    {
                        return Err(NetError::conflict(
                            "SecurityGroupInUse",
                            format!("Security Group {id} in use."),
                        ));
                    }
                }
                for r in self.store.net_children("security_group_rule", id).await? {
                    self.store.delete_net_resource(&r.id).await?;
                }
                self.store.delete_net_resource(id).await?;
                self.kick(
                    &project,
                    NetJob::Cleanup {
                        kind: "security_group".into(),
                        id: id.to_string(),
                    },
                )
                .await?;
            }
            Kind::SecurityGroupRule => {
                self.store.delete_net_resource(id).await?;
                let sg = str_of(&d, "security_group_id").to_string();
                self.kick(&project, NetJob::SgSync(sg)).await?;
            }
            Kind::FloatingIp => {
                self.store.delete_net_resource(id).await?;
                self.port_addresses_changed(d["port_id"].as_str()).await;
                self.kick(
                    &project,
                    NetJob::Cleanup {
                        kind: "floatingip".into(),
                        id: id.to_string(),
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Deletes a port's row (addresses, MAC) and lets jobs remove its copies in pods.
    pub(crate) async fn delete_port_row(
        self: &Arc<Self>,
        project: &str,
        id: &str,
        d: &Doc,
    ) -> NetResult<()> {
        // Floating IPs on the port are disassociated.
        for f in self.store.net_by_device("floatingip", id).await? {
            let mut fd = doc_of(&f);
            fd.insert("port_id".into(), Value::Null);
            fd.insert("fixed_ip_address".into(), Value::Null);
            fd.insert("router_id".into(), Value::Null);
            fd.insert("status".into(), json!("DOWN"));
            let mut r = row_of(Kind::FloatingIp, &fd, f.parent_id.as_deref(), None, None);
            r.device_id = None;
            self.store
                .update_net_resource(&r, &[], &[], &[], &[])
                .await?;
            self.kick(
                project,
                NetJob::Cleanup {
                    kind: "floatingip".into(),
                    id: f.id.clone(),
                },
            )
            .await?;
        }
        match self.store.delete_net_resource(id).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        self.kick(project, NetJob::PortSync(id.to_string())).await?;
        self.kick(project, NetJob::L2Sync(str_of(d, "network_id").to_string()))
            .await?;
        for g in d["security_groups"].as_array().cloned().unwrap_or_default() {
            if let Some(g) = g.as_str() {
                self.kick_sg_dependents(project, g).await?;
            }
        }
        Ok(())
    }

    /// Re-syncs every group of the project whose rules name `group` as remote group (their
    /// expansion depends on `group`'s members), and `group` itself.
    pub(crate) async fn kick_sg_dependents(
        self: &Arc<Self>,
        project: &str,
        group: &str,
    ) -> NetResult<()> {
        let mut groups: HashSet<String> = HashSet::from([group.to_string()]);
        for r in self
            .store
            .list_net_resources("security_group_rule", Some(project))
            .await?
        {
            let d = doc_of(&r);
            if d["remote_group_id"].as_str() == Some(group) {
                groups.insert(str_of(&d, "security_group_id").to_string());
            }
        }
        for g in groups {
            self.kick(project, NetJob::SgSync(g)).await?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- tags and quotas

    /// The tags of a resource the caller can see.
    pub async fn tags(&self, caller: &Caller, kind: Kind, id: &str) -> NetResult<Vec<String>> {
        let d = self.load_visible(caller, kind, id).await?;
        Ok(d["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Replaces the tags of a resource (`None` tag: set all; `Some((tag, add))`: one).
    pub async fn set_tags(
        &self,
        caller: &Caller,
        kind: Kind,
        id: &str,
        all: Option<Vec<String>>,
        one: Option<(&str, bool)>,
    ) -> NetResult<Vec<String>> {
        let (_, mut d) = self.load_owned(caller, kind, id, "update").await?;
        let mut tags: Vec<String> = d["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(all) = all {
            tags = Vec::new();
            for t in all {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
        }
        if let Some((t, add)) = one {
            if add {
                if !tags.iter().any(|x| x == t) {
                    tags.push(t.to_string());
                }
            } else if tags.iter().any(|x| x == t) {
                tags.retain(|x| x != t);
            } else {
                return Err(NetError::new(
                    404,
                    "TagNotFound",
                    format!("Tag {t} could not be found for {} {id}.", kind.singular()),
                ));
            }
        }
        for t in &tags {
            if t.is_empty() || t.len() > 255 || t.contains(',') {
                return Err(NetError::invalid_input(format!("'{t}' is not a valid tag")));
            }
        }
        d.insert("tags".into(), json!(tags));
        stamp(&mut d, false);
        self.save(kind, &d, None, None, None).await?;
        Ok(tags)
    }

    /// The configured defaults with the project's overrides applied.
    pub(crate) async fn effective_quotas(&self, project_id: &str) -> NetResult<super::NetQuotas> {
        let mut q = self.config.quotas.clone();
        for (resource, limit) in self.store.net_quota_overrides(project_id).await? {
            match resource.as_str() {
                "network" => q.network = limit,
                "subnet" => q.subnet = limit,
                "port" => q.port = limit,
                "router" => q.router = limit,
                "floatingip" => q.floatingip = limit,
                "security_group" => q.security_group = limit,
                "security_group_rule" => q.security_group_rule = limit,
                _ => {}
            }
        }
        Ok(q)
    }

    /// `GET /v2.0/quotas/{project_id}`: the limits. A tenant may read only its own.
    pub async fn quota(&self, caller: &Caller, project_id: &str) -> NetResult<Value> {
        if !caller.owns(project_id) {
            return Err(NetError::forbidden("rule:get_quota"));
        }
        Ok(quota_doc(&self.effective_quotas(project_id).await?))
    }

    /// `PUT /v2.0/quotas/{project_id}` (admin): sets overrides; `-1` is unlimited.
    pub async fn update_quota(
        &self,
        caller: &Caller,
        project_id: &str,
        body: &Doc,
    ) -> NetResult<Value> {
        if !caller.is_admin {
            return Err(NetError::forbidden("rule:update_quota"));
        }
        const KNOWN: &[&str] = &[
            "network",
            "subnet",
            "port",
            "router",
            "floatingip",
            "security_group",
            "security_group_rule",
        ];
        let mut updates = Vec::new();
        for (k, v) in body.iter() {
            if !KNOWN.contains(&k.as_str()) {
                return Err(NetError::bad_request(format!(
                    "Unrecognized attribute(s) '{k}'"
                )));
            }
            let n = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .filter(|n| *n >= -1)
                .ok_or_else(|| {
                    NetError::bad_request(format!(
                        "Invalid input for {k}. Reason: '{v}' is not an integer >= -1."
                    ))
                })?;
            updates.push((k.clone(), n));
        }
        for (k, n) in updates {
            self.store.set_net_quota(project_id, &k, n).await?;
        }
        Ok(quota_doc(&self.effective_quotas(project_id).await?))
    }

    /// `DELETE /v2.0/quotas/{project_id}` (admin): back to the defaults.
    pub async fn reset_quota(&self, caller: &Caller, project_id: &str) -> NetResult<()> {
        if !caller.is_admin {
            return Err(NetError::forbidden("rule:delete_quota"));
        }
        self.store.delete_net_quotas(project_id).await?;
        Ok(())
    }

    /// `GET /v2.0/quotas/{project_id}/details`: limits, usage and reservations.
    pub async fn quota_details(&self, caller: &Caller, project_id: &str) -> NetResult<Value> {
        if !caller.owns(project_id) {
            return Err(NetError::forbidden("rule:get_quota"));
        }
        let limits = quota_doc(&self.effective_quotas(project_id).await?);
        let mut out = serde_json::Map::new();
        for (k, limit) in limits.as_object().cloned().unwrap_or_default() {
            let used = match k.as_str() {
                "subnetpool" | "rbac_policy" => 0,
                _ => self.store.count_net_resources(&k, project_id).await?,
            };
            out.insert(k, json!({"limit": limit, "used": used, "reserved": 0}));
        }
        Ok(Value::Object(out))
    }

    /// Every resource of the project, by kind (tests and tools).
    pub async fn count_by_kind(&self, project_id: &str) -> NetResult<BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        for k in Kind::ALL {
            out.insert(
                k.singular().to_string(),
                self.store
                    .count_net_resources(k.singular(), project_id)
                    .await?,
            );
        }
        Ok(out)
    }
}

fn check_host_routes(v: Option<&Value>) -> NetResult<Value> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(json!([]));
    };
    let list = v
        .as_array()
        .ok_or_else(|| NetError::invalid_input("host_routes must be a list"))?;
    let mut out = Vec::new();
    for r in list {
        let dest = r["destination"].as_str().unwrap_or_default();
        let hop = r["nexthop"].as_str().unwrap_or_default();
        let d: IpNet = dest
            .parse()
            .map_err(|_| NetError::invalid_input(format!("'{dest}' is not a valid IP subnet")))?;
        let h = parse_ip(hop)?;
        out.push(json!({"destination": d.to_string(), "nexthop": h.to_string()}));
    }
    Ok(json!(out))
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
