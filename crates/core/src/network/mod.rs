//! The central Neutron (DESIGN.md protocol 5, Tricircle's central plugin): Cascade owns every
//! network, subnet, port, router, security group and floating IP, allocates addresses, MACs
//! and segment ids itself ([`ipam`], the store's unique indexes), and answers Neutron v2.0 from
//! its own tables ([`resources`], [`query`]). Pods only receive copies, made on demand
//! ([`bottom`]): when a port is bound in a pod (the compute saga calls [`NetworkBinding`],
//! `binding.rs`) the pod gets the network (same segment, created by Cascade's admin user with
//! provider attributes and `project_id` = the tenant), its subnets (same CIDR and gateway,
//! allocation pool narrowed to one address reserved centrally so the pod's own DHCP port can't
//! collide), the port's twin (same IP and MAC), and the security groups. Everything else —
//! shadow ports in the other pods of a network, bottom routers joined by the project's bridge
//! network with extra routes, security-group rule sync with `remote_group_id` expansion,
//! deletes in pods — runs as jobs ([`jobs`]), each idempotent over the routing lock.
//!
//! Bottom resources carry the top id in `name` (`shadow_<port id>` for shadow ports,
//! `description` for floating IPs), so a crashed creator's resource is found and adopted.

mod agents;
mod binding;
pub mod bottom;
pub mod ipam;
pub mod jobs;
pub mod nova;
pub mod nova_networks;
mod ownership;
pub mod query;
pub mod resources;

use std::sync::{Arc, OnceLock};

use cascade_store::Store;
use cascade_store::network::NetResourceRow;
use ipnet::IpNet;
use serde_json::{Map, Value, json};

use crate::identity::AuthContext;
use crate::pods::PodRegistry;
use crate::{CoreError, ErrorKind};

pub use binding::Binding;
pub use jobs::{EngineSink, JobSink, NetJob, NetJobHandler};
pub use query::{ListQuery, Page};

/// A Neutron JSON document. Unlike a bare `serde_json::Map`, reading a missing key gives
/// `null` (as indexing a `Value` does) and assigning to a missing key inserts it, so no field
/// access on a document from a pod, the database or a client can panic.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Doc(pub Map<String, Value>);

impl Doc {
    pub fn new() -> Doc {
        Doc(Map::new())
    }
}

impl std::ops::Deref for Doc {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl std::ops::DerefMut for Doc {
    fn deref_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }
}

impl std::ops::Index<&str> for Doc {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.0.get(key).unwrap_or(&Value::Null)
    }
}

impl std::ops::IndexMut<&str> for Doc {
    fn index_mut(&mut self, key: &str) -> &mut Value {
        self.0.entry(key).or_insert(Value::Null)
    }
}

impl From<Map<String, Value>> for Doc {
    fn from(m: Map<String, Value>) -> Doc {
        Doc(m)
    }
}

impl From<Doc> for Value {
    fn from(d: Doc) -> Value {
        Value::Object(d.0)
    }
}

/// How networks spanning pods get layer-2 connectivity (a per-deployment choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2Mode {
    /// VxLAN segments (VNI allocated centrally) plus shadow ports for remote ports, so the
    /// pods' L2 population builds the tunnels (Tricircle's design).
    VxlanShadowPorts,
    /// VLAN segments: the same VLAN id on the same physical network in every pod (the
    /// operator makes the VLAN reach every pod); shadow ports still reserve the remote
    /// addresses in each pod.
    Vlan,
    /// An external SDN connects pods: no provider attributes, no shadow ports.
    None,
}

impl L2Mode {
    pub fn parse(s: &str) -> Option<L2Mode> {
        match s {
            "vxlan-shadow-ports" | "vxlan" => Some(L2Mode::VxlanShadowPorts),
            "vlan" => Some(L2Mode::Vlan),
            "none" => Some(L2Mode::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            L2Mode::VxlanShadowPorts => "vxlan-shadow-ports",
            L2Mode::Vlan => "vlan",
            L2Mode::None => "none",
        }
    }

    /// The tenant network type of this mode.
    pub fn network_type(self) -> &'static str {
        match self {
            L2Mode::Vlan => "vlan",
            _ => "vxlan",
        }
    }
}

/// Default quotas (Neutron's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetQuotas {
    pub network: i64,
    pub subnet: i64,
    pub port: i64,
    pub router: i64,
    pub floatingip: i64,
    pub security_group: i64,
    pub security_group_rule: i64,
}

impl Default for NetQuotas {
    fn default() -> Self {
        NetQuotas {
            network: 100,
            subnet: 100,
            port: 500,
            router: 10,
            floatingip: 50,
            security_group: 10,
            security_group_rule: 100,
        }
    }
}

/// Settings of the central Neutron (`[network]` in the configuration).
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    pub l2_mode: L2Mode,
    /// VNIs Cascade hands out (inclusive); keep them apart from the pods' own ranges.
    pub vni_range: (i64, i64),
    /// VLAN ids Cascade hands out (inclusive).
    pub vlan_range: (i64, i64),
    /// Physical network of VLAN segments.
    pub physical_network: String,
    /// Pool of the per-project bridge networks (Tricircle: 100.0.0.0/9).
    pub bridge_cidr: IpNet,
    /// Prefix length of one project's bridge subnet.
    pub bridge_prefix: u8,
    pub quotas: NetQuotas,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            l2_mode: L2Mode::VxlanShadowPorts,
            vni_range: (100_000, 199_999),
            vlan_range: (2000, 2999),
            physical_network: "physnet1".into(),
            bridge_cidr: "100.0.0.0/9".parse().unwrap_or_else(|_| IpNet::default()),
            bridge_prefix: 24,
            quotas: NetQuotas::default(),
        }
    }
}

/// A Neutron error: status, exception type (`NetworkNotFound`, `IpAddressAlreadyAllocated`,
/// ...) and message; `retryable` when a pod or the database was unavailable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NetError {
    pub status: u16,
    pub neutron_type: String,
    pub message: String,
    pub retryable: bool,
}

impl NetError {
    pub fn new(status: u16, ty: &str, message: impl Into<String>) -> NetError {
        NetError {
            status,
            neutron_type: ty.to_string(),
            message: message.into(),
            retryable: status == 503,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> NetError {
        NetError::new(400, "BadRequest", message)
    }
    pub fn invalid_input(message: impl AsRef<str>) -> NetError {
        NetError::new(
            400,
            "InvalidInput",
            format!("Invalid input for operation: {}", message.as_ref()),
        )
    }
    pub fn forbidden(action: &str) -> NetError {
        NetError::new(
            403,
            "PolicyNotAuthorized",
            format!("({action}) is disallowed by policy"),
        )
    }
    pub fn conflict(ty: &str, message: impl Into<String>) -> NetError {
        NetError::new(409, ty, message)
    }
    pub fn not_found(kind: Kind, id: &str) -> NetError {
        NetError::new(
            404,
            kind.not_found_type(),
            format!("{} {id} could not be found.", kind.title()),
        )
    }
}

impl From<CoreError> for NetError {
    fn from(e: CoreError) -> Self {
        let status = e.kind.status();
        let ty = match status {
            400 => "BadRequest",
            403 => "PolicyNotAuthorized",
            404 => "NotFound",
            409 => "Conflict",
            503 => "ServiceUnavailable",
            _ => "HTTPInternalServerError",
        };
        NetError {
            status,
            neutron_type: ty.into(),
            message: e.message,
            retryable: e.retryable,
        }
    }
}

impl From<cascade_store::StoreError> for NetError {
    fn from(e: cascade_store::StoreError) -> Self {
        CoreError::from(e).into()
    }
}

impl From<NetError> for CoreError {
    fn from(e: NetError) -> Self {
        let kind = match e.status {
            400 => ErrorKind::BadRequest,
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            503 => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        };
        let mut c = CoreError::new(kind, e.message);
        c.retryable = e.retryable;
        c
    }
}

/// Result alias of this module.
pub type NetResult<T> = std::result::Result<T, NetError>;

/// The resource kinds of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Network,
    Subnet,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    FloatingIp,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Network,
        Kind::Subnet,
        Kind::Port,
        Kind::Router,
        Kind::SecurityGroup,
        Kind::SecurityGroupRule,
        Kind::FloatingIp,
    ];

    /// The URL collection (`security-groups`).
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Network => "networks",
            Kind::Subnet => "subnets",
            Kind::Port => "ports",
            Kind::Router => "routers",
            Kind::SecurityGroup => "security-groups",
            Kind::SecurityGroupRule => "security-group-rules",
            Kind::FloatingIp => "floatingips",
        }
    }

    /// The body key of one resource (`security_group`), also the stored kind.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Network => "network",
            Kind::Subnet => "subnet",
            Kind::Port => "port",
            Kind::Router => "router",
            Kind::SecurityGroup => "security_group",
            Kind::SecurityGroupRule => "security_group_rule",
            Kind::FloatingIp => "floatingip",
        }
    }

    /// The body key of a list (`security_groups`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Network => "networks",
            Kind::Subnet => "subnets",
            Kind::Port => "ports",
            Kind::Router => "routers",
            Kind::SecurityGroup => "security_groups",
            Kind::SecurityGroupRule => "security_group_rules",
            Kind::FloatingIp => "floatingips",
        }
    }

    pub fn from_collection(c: &str) -> Option<Kind> {
        let c = c.trim_end_matches(".json");
        Kind::ALL.into_iter().find(|k| k.collection() == c)
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Network => "Network",
            Kind::Subnet => "Subnet",
            Kind::Port => "Port",
            Kind::Router => "Router",
            Kind::SecurityGroup => "Security group",
            Kind::SecurityGroupRule => "Security group rule",
            Kind::FloatingIp => "Floating IP",
        }
    }

    fn not_found_type(self) -> &'static str {
        match self {
            Kind::Network => "NetworkNotFound",
            Kind::Subnet => "SubnetNotFound",
            Kind::Port => "PortNotFound",
            Kind::Router => "RouterNotFound",
            Kind::SecurityGroup => "SecurityGroupNotFound",
            Kind::SecurityGroupRule => "SecurityGroupRuleNotFound",
            Kind::FloatingIp => "FloatingIPNotFound",
        }
    }
}

/// Who is asking: the token's project and whether it is an administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub project_id: String,
    pub is_admin: bool,
}

impl Caller {
    pub fn of(ctx: &AuthContext) -> NetResult<Caller> {
        let project_id = ctx
            .project_id()
            .ok_or_else(|| NetError::forbidden("rule:project_scoped"))?;
        Ok(Caller {
            project_id: project_id.to_string(),
            is_admin: ctx.is_admin(),
        })
    }

    /// Whether the caller owns (or administers) a resource of `project`.
    pub fn owns(&self, project: &str) -> bool {
        self.is_admin || self.project_id == project
    }
}

/// The central Neutron.
pub struct NetworkService {
    pub(crate) store: Store,
    pub(crate) pods: Arc<PodRegistry>,
    pub(crate) config: NetworkConfig,
    sink: OnceLock<Arc<dyn JobSink>>,
    observer: OnceLock<std::sync::Weak<dyn crate::compute::deps::AddressObserver>>,
}

impl std::fmt::Debug for NetworkService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkService")
            .field("l2_mode", &self.config.l2_mode)
            .finish_non_exhaustive()
    }
}

impl NetworkService {
    pub fn new(store: Store, pods: Arc<PodRegistry>, config: NetworkConfig) -> Arc<Self> {
        Arc::new(NetworkService {
            store,
            pods,
            config,
            sink: OnceLock::new(),
            observer: OnceLock::new(),
        })
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// Routes this service's background work to `sink` (the job engine). Without one, work
    /// runs in spawned tasks with a few retries (tests and tools).
    pub fn set_job_sink(&self, sink: Arc<dyn JobSink>) {
        let _ = self.sink.set(sink);
    }

    /// Who to tell when a server's addresses change (compute's index).
    pub fn set_address_observer(
        &self,
        observer: std::sync::Weak<dyn crate::compute::deps::AddressObserver>,
    ) {
        let _ = self.observer.set(observer);
    }

    /// Tells the observer that the server owning `port_id` (if any) has new addresses.
    pub(crate) async fn port_addresses_changed(&self, port_id: Option<&str>) {
        let (Some(port_id), Some(observer)) =
            (port_id, self.observer.get().and_then(|w| w.upgrade()))
        else {
            return;
        };
        if let Ok(row) = self.store.get_net_resource(port_id).await
            && let Some(device) = row.device_id.as_deref().filter(|d| !d.is_empty())
        {
            observer.addresses_changed(device).await;
        }
    }
}

/// The stored row of a document.
pub(crate) fn row_of(
    kind: Kind,
    doc: &Doc,
    parent: Option<&str>,
    device: Option<&str>,
    pod: Option<&str>,
) -> NetResourceRow {
    let now = cascade_store::now_micros();
    NetResourceRow {
        id: str_of(doc, "id").to_string(),
        kind: kind.singular().to_string(),
        project_id: str_of(doc, "project_id").to_string(),
        parent_id: parent.map(str::to_string),
        device_id: device.filter(|d| !d.is_empty()).map(str::to_string),
        pod_id: pod.map(str::to_string),
        body: Value::Object(doc.0.clone()).to_string(),
        created_at: now,
        updated_at: now,
    }
}

pub(crate) fn doc_of(row: &NetResourceRow) -> Doc {
    match serde_json::from_str(&row.body) {
        Ok(Value::Object(o)) => Doc(o),
        _ => Doc::new(),
    }
}

pub(crate) fn str_of<'a>(d: &'a Doc, k: &str) -> &'a str {
    d.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Attributes only administrators see.
const ADMIN_ONLY: &[&str] = &[
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "binding:host_id",
    "binding:profile",
    "binding:vif_type",
    "binding:vif_details",
];

/// What a caller sees of a document: internal `_` keys dropped, admin-only ones hidden.
pub(crate) fn view(doc: &Doc, caller: &Caller) -> Value {
    let mut o = doc.clone();
    o.retain(|k, _| !k.starts_with('_') && (caller.is_admin || !ADMIN_ONLY.contains(&k.as_str())));
    o.into()
}

/// Neutron's timestamp format (`2024-01-01T00:00:00Z`).
pub(crate) fn now_ts() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Sets `created_at`/`updated_at`/`revision_number` on a new or changed document.
pub(crate) fn stamp(d: &mut Doc, created: bool) {
    let t = now_ts();
    if created {
        d.insert("created_at".into(), json!(t));
        d.insert("revision_number".into(), json!(0));
    } else {
        let r = d
            .get("revision_number")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            + 1;
        d.insert("revision_number".into(), json!(r));
    }
    d.insert("updated_at".into(), json!(t));
}

/// The extensions `/v2.0/extensions` lists: exactly what this service implements.
pub fn extensions() -> Vec<Value> {
    [
        ("network", "Network", "Core networks"),
        ("subnet", "Subnet", "Core subnets"),
        ("port", "Port", "Core ports"),
        ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
        ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
        ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
        ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."),
        ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"),
        ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
        ("extraroute-atomic", "Atomically add/remove extra routes", "Edit extra routes of a router on server side by atomically adding/removing extra routes"),
        ("security-group", "security-group", "The security groups extension."),
        ("port-security", "Port Security", "Provides port security"),
        ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
        ("network_availability_zone", "Network Availability Zone", "Availability zone support for network."),
        ("router_availability_zone", "Router Availability Zone", "Availability zone support for router."),
        ("availability_zone", "Availability Zone", "The availability zone extension."),
        ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
        ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
        ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
        ("standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."),
        ("standard-attr-tag", "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip", "Enables to set tag on resources with standard attribute."),
        ("tag-creation", "Tag support for resource creation", "Enables to set tag on resources with standard attribute on creation."),
        ("quotas", "Quota management support", "Expose functions for quotas management per project"),
        ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
        ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
        ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    ]
    .iter()
    .map(|(alias, name, desc)| {
        json!({"alias": alias, "name": name, "description": desc, "updated": "2013-01-01T00:00:00-00:00", "links": []})
    })
    .collect()
}

#[cfg(test)]
mod doc_tests {
    use super::*;

    #[test]
    fn missing_keys_read_as_null_and_assignment_inserts() {
        let mut d = Doc::new();
        assert_eq!(d["device_id"], Value::Null);
        assert!(d["_created_for"] != json!("server-1"));
        d["device_id"] = json!("server-1");
        assert_eq!(d.get("device_id"), Some(&json!("server-1")));
        let v: Value = d.clone().into();
        assert_eq!(v, json!({"device_id": "server-1"}));
        let back: Doc = serde_json::from_value(v).unwrap();
        assert_eq!(back, d);
    }
}
