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
