//! Floating IPs: allocation on the external network and association with ports.

use super::*;

impl NetworkService {
    pub(super) async fn create_fip(
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
        let ips = self.choose_ips(net_id, requested.as_ref(), None).await?;
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
    pub(super) async fn associate(
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
}
