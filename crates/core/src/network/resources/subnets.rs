//! Subnets: CIDR, gateway, allocation pools and host routes on create and update.

use super::*;

pub(super) fn check_host_routes(v: Option<&Value>) -> NetResult<Value> {
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

/// The IPv6 address modes whose addresses a port derives from its MAC (EUI-64).
const AUTO_ADDRESS_MODES: [&str; 2] = ["slaac", "dhcpv6-stateless"];

/// Whether a subnet's ports get SLAAC (EUI-64) addresses rather than allocated ones
/// (Neutron's `ipv6_utils.is_auto_address_subnet`).
pub(crate) fn is_auto_address(subnet: &Doc) -> bool {
    ["ipv6_address_mode", "ipv6_ra_mode"]
        .iter()
        .any(|k| AUTO_ADDRESS_MODES.contains(&str_of(subnet, k)))
}

/// Neutron's checks of `ipv6_ra_mode` / `ipv6_address_mode` on a new subnet: known values,
/// IPv6 only, DHCP enabled, the same value when both are set, and a /64 for the EUI-64
/// modes.
fn check_ipv6_modes(
    cidr: &IpNet,
    ra_mode: Option<&str>,
    address_mode: Option<&str>,
    enable_dhcp: bool,
) -> NetResult<()> {
    for (k, v) in [
        ("ipv6_ra_mode", ra_mode),
        ("ipv6_address_mode", address_mode),
    ] {
        let Some(m) = v else { continue };
        if !["slaac", "dhcpv6-stateful", "dhcpv6-stateless"].contains(&m) {
            return Err(NetError::invalid_input(format!(
                "'{m}' is not in ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac']"
            )));
        }
        if cidr.addr().is_ipv4() {
            return Err(NetError::invalid_input(format!(
                "{k} is not valid when ip_version is 4"
            )));
        }
    }
    if ra_mode.is_none() && address_mode.is_none() {
        return Ok(());
    }
    if !enable_dhcp {
        return Err(NetError::invalid_input(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False",
        ));
    }
    if let (Some(ra), Some(am)) = (ra_mode, address_mode)
        && ra != am
    {
        return Err(NetError::invalid_input(format!(
            "ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{am}' is not valid. If both attributes are set, they must be the same value"
        )));
    }
    let auto = [ra_mode, address_mode]
        .iter()
        .flatten()
        .any(|m| AUTO_ADDRESS_MODES.contains(m));
    if auto && cidr.prefix_len() != 64 {
        return Err(NetError::invalid_input(format!(
            "Invalid CIDR {cidr} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64"
        )));
    }
    Ok(())
}

impl NetworkService {
    pub(super) async fn create_subnet(
        &self,
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
        let ra_mode = opt_str(b, "ipv6_ra_mode")?;
        let address_mode = opt_str(b, "ipv6_address_mode")?;
        check_ipv6_modes(
            &cidr,
            ra_mode,
            address_mode,
            d["enable_dhcp"] == json!(true),
        )?;
        d.insert("ipv6_ra_mode".into(), json!(ra_mode));
        d.insert("ipv6_address_mode".into(), json!(address_mode));
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

    pub(super) async fn update_subnet(&self, d: &mut Doc, b: &Doc) -> NetResult<()> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_mode_combinations_follow_neutron() {
        let c = net("2001:db8::/64");
        for m in ["slaac", "dhcpv6-stateless", "dhcpv6-stateful"] {
            assert!(check_ipv6_modes(&c, Some(m), Some(m), true).is_ok());
            assert!(check_ipv6_modes(&c, None, Some(m), true).is_ok());
            assert!(check_ipv6_modes(&c, Some(m), None, true).is_ok());
        }
        for (ra, am) in [
            ("dhcpv6-stateless", "dhcpv6-stateful"),
            ("dhcpv6-stateless", "slaac"),
            ("slaac", "dhcpv6-stateful"),
            ("dhcpv6-stateful", "dhcpv6-stateless"),
            ("dhcpv6-stateful", "slaac"),
            ("slaac", "dhcpv6-stateless"),
        ] {
            let e = check_ipv6_modes(&c, Some(ra), Some(am), true).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(
                e.message,
                format!(
                    "Invalid input for operation: ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{am}' is not valid. If both attributes are set, they must be the same value"
                )
            );
        }
        let e = check_ipv6_modes(&c, Some("slaac"), None, false).unwrap_err();
        assert!(
            e.message
                .contains("cannot be set when enable_dhcp is set to False")
        );
        let e = check_ipv6_modes(&net("2001:db8::/80"), None, Some("slaac"), true).unwrap_err();
        assert!(e.message.contains("requires the prefix to be /64"));
        assert!(
            check_ipv6_modes(&net("2001:db8::/80"), None, Some("dhcpv6-stateful"), true).is_ok()
        );
        let e = check_ipv6_modes(&net("10.0.0.0/24"), Some("slaac"), None, true).unwrap_err();
        assert!(
            e.message
                .contains("ipv6_ra_mode is not valid when ip_version is 4")
        );
        let e = check_ipv6_modes(&c, Some("bogus"), None, true).unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn auto_address_subnets() {
        let mut d = Doc::new();
        assert!(!is_auto_address(&d));
        d["ipv6_address_mode"] = json!("dhcpv6-stateful");
        assert!(!is_auto_address(&d));
        d["ipv6_ra_mode"] = json!("slaac");
        assert!(is_auto_address(&d));
        let mut d = Doc::new();
        d["ipv6_address_mode"] = json!("dhcpv6-stateless");
        assert!(is_auto_address(&d));
    }
}
