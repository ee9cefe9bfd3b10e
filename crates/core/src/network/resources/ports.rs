//! Ports: IP and MAC allocation, security groups and allowed address pairs, on create and
//! update.

use super::*;

impl NetworkService {
    /// Chooses addresses for a port on `net_id`: requested entries honoured, otherwise one
    /// address from the first IPv4 subnet with room, one from the first stateful IPv6
    /// subnet, and the EUI-64 address of the port's MAC in every SLAAC / DHCPv6-stateless
    /// subnet (not for router interfaces, as in Neutron). `owner` is the port's MAC and
    /// whether it is a router interface (`None` for a floating IP's address).
    /// Returns `(subnet_id, ip, explicit)`.
    pub(super) async fn choose_ips(
        &self,
        net_id: &str,
        requested: Option<&Value>,
        owner: Option<(&str, bool)>,
    ) -> NetResult<Vec<(String, IpAddr, bool)>> {
        let mac = owner.map(|o| o.0);
        let router_interface = owner.is_some_and(|o| o.1);
        let slaac = |s: &Doc| -> NetResult<IpAddr> {
            cidr_of(s)
                .zip(mac)
                .and_then(|(c, m)| ipam::eui64_address(&c, m))
                .ok_or_else(|| exhausted(net_id))
        };
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
                            if is_auto_address(subnet) && !router_interface {
                                return Err(NetError::new(
                                    400,
                                    "AllocationOnAutoAddressSubnet",
                                    format!(
                                        "IPv6 address {ip} cannot be directly assigned to a port on subnet {sid} as the subnet is configured for automatic addresses"
                                    ),
                                ));
                            }
                            if out.iter().any(|(s, i, _)| *s == sid && *i == ip) {
                                return Err(ip_taken(&sid, ip));
                            }
                            out.push((sid, ip, true));
                        }
                        None if is_auto_address(subnet) => {
                            let ip = slaac(subnet)?;
                            out.push((sid, ip, false));
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
                        .filter(|s| s["ip_version"] == json!(ver) && !is_auto_address(s))
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
                if mac.is_some() && !router_interface {
                    for s in subnets.iter().filter(|s| is_auto_address(s)) {
                        out.push((str_of(s, "id").to_string(), slaac(s)?, false));
                    }
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

    pub(super) async fn used_ips(&self, subnet_id: &str) -> NetResult<HashSet<IpAddr>> {
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
    pub(super) async fn insert_port(
        &self,
        mut d: Doc,
        net_id: &str,
        requested_ips: Option<&Value>,
        requested_mac: Option<String>,
    ) -> NetResult<Doc> {
        let id = str_of(&d, "id").to_string();
        for _ in 0..12 {
            let mac = requested_mac.clone().unwrap_or_else(ipam::random_mac);
            let router_interface = str_of(&d, "device_owner") == "network:router_interface";
            let ips = self
                .choose_ips(net_id, requested_ips, Some((&mac, router_interface)))
                .await?;
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

    pub(super) async fn check_sg_ids(
        &self,
        project: &str,
        ids: &[String],
    ) -> NetResult<Vec<String>> {
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

    pub(super) fn check_pairs(v: Option<&Value>) -> NetResult<Value> {
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

    pub(super) async fn create_port(
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

    pub(super) async fn update_port(
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
                let owner = (
                    str_of(d, "mac_address").to_string(),
                    str_of(d, "device_owner") == "network:router_interface",
                );
                self.choose_ips(&net_id, Some(&json!(rest)), Some((&owner.0, owner.1)))
                    .await?
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
}
