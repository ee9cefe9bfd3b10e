//! Security groups and their rules: the per-project `default` group, protocol and port-range
//! validation with Neutron's error text.

use super::*;

pub(super) fn normalize_protocol(v: &Value) -> NetResult<Value> {
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

/// Neutron's `name_not_default` validator of a security group's name, on create and update:
/// no group but the project's own may be called `default` (in any case).
pub(super) fn check_name_not_default(b: &Doc) -> NetResult<()> {
    if opt_str(b, "name")?.is_some_and(|n| n.eq_ignore_ascii_case("default")) {
        return Err(NetError::conflict(
            "SecurityGroupDefaultAlreadyExists",
            "Default security group already exists.",
        ));
    }
    Ok(())
}

pub(super) fn is_port_protocol(p: &Value) -> bool {
    matches!(
        p.as_str(),
        Some("tcp" | "udp" | "6" | "17" | "sctp" | "132" | "dccp" | "33" | "udplite" | "136")
    )
}

/// Neutron's port-range rules for a security group rule (`_validate_port_range` and the
/// attribute converter before it): ports within 0..=65535; TCP-like protocols need
/// `1 <= min <= max`; ICMP takes a type (min) and code (max) in 0..=255, a code only with a
/// type; other protocols take a single port at most.
pub(super) fn check_port_range(
    protocol: &Value,
    min: Option<i64>,
    max: Option<i64>,
) -> NetResult<()> {
    for p in [min, max].into_iter().flatten() {
        if !(0..=65535).contains(&p) {
            return Err(NetError::new(
                400,
                "SecurityGroupInvalidPortValue",
                format!("Invalid value for port {p}"),
            ));
        }
    }
    if min.is_none() && max.is_none() {
        return Ok(());
    }
    if protocol.is_null() {
        return Err(NetError::new(
            400,
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol if port range is given.",
        ));
    }
    if is_port_protocol(protocol) {
        if min == Some(0) || max == Some(0) {
            return Err(NetError::new(
                400,
                "SecurityGroupInvalidPortValue",
                "Invalid value for port 0",
            ));
        }
        return match (min, max) {
            (Some(lo), Some(hi)) if lo <= hi => Ok(()),
            _ => Err(NetError::new(
                400,
                "SecurityGroupInvalidPortRange",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            )),
        };
    }
    if matches!(
        protocol.as_str(),
        Some("icmp" | "1" | "icmpv6" | "ipv6-icmp" | "58")
    ) {
        for (v, attr, field) in [
            (min, "port_range_min", "type"),
            (max, "port_range_max", "code"),
        ] {
            if let Some(v) = v
                && !(0..=255).contains(&v)
            {
                return Err(NetError::new(
                    400,
                    "SecurityGroupInvalidIcmpValue",
                    format!("Invalid value for ICMP {field} ({attr}) {v}. It must be 0 to 255."),
                ));
            }
        }
        if let (None, Some(code)) = (min, max) {
            return Err(NetError::new(
                400,
                "SecurityGroupMissingIcmpType",
                format!(
                    "ICMP code (port-range-max) {code} is provided but ICMP type (port-range-min) is missing."
                ),
            ));
        }
        return Ok(());
    }
    if let (Some(lo), Some(hi)) = (min, max)
        && lo != hi
    {
        return Err(NetError::new(
            400,
            "SecurityGroupInvalidProtocolForPortRange",
            format!(
                "Invalid protocol {} for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.",
                protocol.as_str().unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

impl NetworkService {
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
    pub(super) async fn insert_rule(
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

    pub(super) async fn create_sg(&self, project: &str, b: &Doc) -> NetResult<Doc> {
        self.ensure_default_sg(project).await?;
        check_name_not_default(b)?;
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

    pub(super) async fn create_rule(
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
        check_port_range(&protocol, min, max)?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(protocol: &str, min: Option<i64>, max: Option<i64>) -> String {
        check_port_range(&json!(protocol), min, max)
            .unwrap_err()
            .message
    }

    #[test]
    fn port_ranges_follow_neutron() {
        // tempest test_create_security_group_rule_with_invalid_ports
        for (lo, hi, msg) in [
            (Some(-16), Some(80), "Invalid value for port -16"),
            (
                Some(80),
                Some(79),
                "port_range_min must be <= port_range_max",
            ),
            (Some(80), Some(65536), "Invalid value for port 65536"),
            (None, Some(6), "port_range_min must be <= port_range_max"),
            (Some(-16), Some(65536), "Invalid value for port"),
        ] {
            assert!(err("tcp", lo, hi).contains(msg), "{lo:?} {hi:?}");
        }
        for (lo, hi, msg) in [
            (Some(1), Some(256), "Invalid value for ICMP code"),
            (Some(-1), Some(25), "Invalid value"),
            (None, Some(6), "ICMP type (port-range-min) is missing"),
            (Some(300), Some(1), "Invalid value for ICMP type"),
        ] {
            assert!(err("icmp", lo, hi).contains(msg), "{lo:?} {hi:?}");
        }
        assert!(err("tcp", Some(0), Some(10)).contains("Invalid value for port 0"));
        assert!(err("gre", Some(1), Some(2)).contains("Invalid protocol gre for port range"));
        assert!(
            check_port_range(&Value::Null, Some(1), Some(2))
                .unwrap_err()
                .message
                .contains("Must also specify protocol")
        );
        assert!(check_port_range(&json!("tcp"), Some(22), Some(22)).is_ok());
        assert!(check_port_range(&json!("icmp"), Some(8), None).is_ok());
        assert!(check_port_range(&json!("ipv6-icmp"), Some(128), Some(0)).is_ok());
        assert!(check_port_range(&json!("gre"), Some(5), Some(5)).is_ok());
        assert!(check_port_range(&json!("udp"), None, None).is_ok());
    }
}
