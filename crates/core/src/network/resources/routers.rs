//! Routers: external gateways, interfaces and extra routes.

use super::*;

impl NetworkService {
    pub(super) async fn create_router(
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
    pub(super) async fn set_gateway(
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
    pub(super) async fn check_routes(&self, router_id: &str, routes: &Value) -> NetResult<Value> {
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
}
