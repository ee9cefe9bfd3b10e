//! Which attributes a create or an update of each kind may carry, and the check that
//! answers anything else with Neutron's `Unrecognized attribute(s)` error.

use super::*;

/// Attributes a create may carry, per kind (anything else is `Unrecognized attribute(s)`).
pub(super) fn allowed_on_create(kind: Kind) -> &'static [&'static str] {
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

pub(super) fn allowed_on_update(kind: Kind) -> &'static [&'static str] {
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

pub(super) fn check_attrs(kind: Kind, body: &Doc, create: bool) -> NetResult<()> {
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
