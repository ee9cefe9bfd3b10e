//! The create, update and delete entry points: attribute checks, quotas and the dispatch to
//! each kind, and the teardown (with the jobs that reach pods) on delete.

use super::*;

impl NetworkService {
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

    pub(super) async fn check_quota(&self, kind: Kind, project: &str) -> NetResult<()> {
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
        let old_name = str_of(&d, "name").to_string();
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
                // Neutron's API validator first (no group renamed `default`), then its plugin
                // (the `default` group keeps its name).
                security_groups::check_name_not_default(b)?;
                if old_name == "default" && b.contains_key("name") {
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

    /// Deleting a SLAAC / DHCPv6-stateless subnet takes its addresses off the ports holding
    /// them (Neutron), unless a router interface (or anything but a port) holds one. Returns
    /// whether the subnet is free now.
    async fn strip_auto_addresses(
        self: &Arc<Self>,
        subnet: &Doc,
        held: &[IpAllocation],
    ) -> NetResult<bool> {
        if !is_auto_address(subnet) {
            return Ok(false);
        }
        let sid = str_of(subnet, "id");
        let mut ports = Vec::new();
        for a in held {
            match self.try_load(Kind::Port, &a.owner_id).await? {
                Some((row, p)) if str_of(&p, "device_owner") != "network:router_interface" => {
                    ports.push((row, p, a.clone()));
                }
                _ => return Ok(false),
            }
        }
        for (row, mut p, a) in ports {
            let kept: Vec<Value> = p["fixed_ips"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|f| f["subnet_id"] != json!(sid))
                .collect();
            p.insert("fixed_ips".into(), json!(kept));
            stamp(&mut p, false);
            let mut r = row_of(
                Kind::Port,
                &p,
                row.parent_id.as_deref(),
                row.device_id.as_deref(),
                row.pod_id.as_deref(),
            );
            r.created_at = row.created_at;
            self.store
                .update_net_resource(&r, &[], &[a], &[], &[])
                .await?;
            self.kick(&row.project_id, NetJob::PortSync(row.id.clone()))
                .await?;
        }
        Ok(true)
    }

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
                let held: Vec<IpAllocation> = self
                    .store
                    .subnet_allocations(id)
                    .await?
                    .into_iter()
                    .filter(|a| !a.owner_id.starts_with("reserved:"))
                    .collect();
                if !held.is_empty() && !self.strip_auto_addresses(&d, &held).await? {
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
}
