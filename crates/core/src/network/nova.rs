//! Nova's deprecated security-group proxy over the central Neutron: `os-security-groups`,
//! `os-security-group-rules` (microversions up to 2.35) and `GET /servers/{id}/os-security-groups`.
//! It owns what nova-api's `security_group_api` does in front of Neutron: the typed Nova views
//! (ingress rules only, `from_port`/`to_port` filled in for a protocol without ports, the
//! remote group named by its `name` and `tenant_id`, `0.0.0.0/0` for a rule without a prefix),
//! the validation of ids, names, descriptions, CIDRs, protocols and port ranges with Nova's
//! messages, the duplicate-rule check, and the mapping of Neutron's statuses to Nova's (a
//! conflict on delete is a 400, an over-quota create a 403).

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Caller, Doc, Kind, ListQuery, NetError, NetworkService};
use crate::{CoreError, ErrorKind, Result};

/// One security group as Nova shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NovaSecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tenant_id: String,
    pub rules: Vec<NovaSecurityGroupRule>,
}

/// One (ingress) rule as Nova shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NovaSecurityGroupRule {
    pub id: String,
    pub parent_group_id: String,
    pub ip_protocol: Option<String>,
    pub from_port: Option<i64>,
    pub to_port: Option<i64>,
    /// `{}`, or the remote group's `name` and `tenant_id`.
    pub group: RemoteGroup,
    /// `{}` for a remote-group rule, else `{"cidr": ...}`.
    pub ip_range: IpRange,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RemoteGroup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IpRange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
}

/// `POST /os-security-group-rules`' `security_group_rule`, as sent (Nova accepts ports as
/// integers or numeric strings).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct NovaRuleRequest {
    #[serde(default)]
    pub parent_group_id: Value,
    #[serde(default)]
    pub ip_protocol: Value,
    #[serde(default)]
    pub from_port: Value,
    #[serde(default)]
    pub to_port: Value,
    #[serde(default)]
    pub cidr: Value,
    #[serde(default)]
    pub group_id: Value,
}

fn bad(m: impl Into<String>) -> CoreError {
    CoreError::bad_request(m)
}

/// Nova's `validate_id`: a security group id must look like a UUID.
pub fn validate_id(id: &str) -> Result<()> {
    let plain: String = id.chars().filter(|c| *c != '-').collect();
    if plain.len() == 32 && plain.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(bad("Security group id should be uuid"))
    }
}

/// Nova's `validate_property`: a string of at most 255 characters.
pub fn validate_property(v: &Value, property: &str) -> Result<String> {
    let s = v
        .as_str()
        .ok_or_else(|| bad(format!("{property} is not a string or unicode")))?;
    let n = s.chars().count();
    if n > 255 {
        return Err(bad(format!(
            "{property} has {n} characters, more than 255."
        )));
    }
    Ok(s.to_string())
}

/// Nova's `parse_cidr`: no CIDR means `0.0.0.0/0`; otherwise it must be a network with a prefix.
pub fn parse_cidr(cidr: Option<&str>) -> Result<String> {
    let Some(c) = cidr.filter(|c| !c.is_empty()) else {
        return Ok("0.0.0.0/0".into());
    };
    let decoded = percent_decode(c);
    if decoded.contains('/') && decoded.parse::<IpNet>().is_ok() {
        Ok(decoded)
    } else {
        Err(bad(format!("{c} is not a valid IP network.")))
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

fn port_of(v: &Value) -> std::result::Result<Option<i64>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or(()),
        Value::String(s) => s.trim().parse::<i64>().map(Some).map_err(|_| ()),
        _ => Err(()),
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The rule Nova asks Neutron for (Nova's `_new_ingress_rule`, before the parent is added).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRule {
    pub group_id: Option<String>,
    pub cidr: Option<String>,
    pub protocol: Option<String>,
    pub from_port: Option<i64>,
    pub to_port: Option<i64>,
}

/// Nova's `_new_ingress_rule`: `Ok(None)` when a CIDR rule lacks a protocol or ports.
pub fn new_ingress_rule(
    ip_protocol: &Value,
    from_port: &Value,
    to_port: &Value,
    group_id: Option<&str>,
    cidr: Option<&str>,
) -> Result<Option<NewRule>> {
    let protocol = text_of(ip_protocol).filter(|p| !p.is_empty());
    let upper = protocol.as_deref().unwrap_or("").to_ascii_uppercase();
    let mut rule = NewRule::default();
    let (mut from, mut to) = (from_port.clone(), to_port.clone());
    if let Some(g) = group_id.filter(|g| !g.is_empty()) {
        rule.group_id = Some(g.to_string());
        if from.is_null() && to.is_null() {
            if upper == "ICMP" {
                (from, to) = (json!(-1), json!(-1));
            } else if upper == "TCP" || upper == "UDP" {
                (from, to) = (json!(1), json!(65535));
            }
        }
    } else if let Some(c) = cidr.filter(|c| !c.is_empty()) {
        rule.cidr = Some(c.to_string());
    }
    if let (Some(p), false, false) = (&protocol, from.is_null(), to.is_null()) {
        let (Ok(Some(f)), Ok(Some(t))) = (port_of(&from), port_of(&to)) else {
            return Err(bad(if upper == "ICMP" {
                "Invalid input received: Type and Code must be integers for ICMP protocol type"
            } else {
                "Invalid input received: To and From ports must be integers"
            }));
        };
        if !["TCP", "UDP", "ICMP"].contains(&upper.as_str()) {
            return Err(bad(format!("Invalid IP protocol {p}.")));
        }
        let range = |msg: String| bad(format!("Invalid port range {f}:{t}. {msg}"));
        if (upper == "TCP" || upper == "UDP") && f > t {
            return Err(range(
                "Former value cannot be greater than the later".into(),
            ));
        }
        if (upper == "TCP" || upper == "UDP") && (f < 1 || t > 65535) {
            return Err(range(format!(
                "Valid {upper} ports should be between 1-65535"
            )));
        }
        if upper == "ICMP" && !((-1..=255).contains(&f) && (-1..=255).contains(&t)) {
            return Err(range("For ICMP, the type:code must be valid".into()));
        }
        rule.protocol = Some(p.clone());
        rule.from_port = Some(f);
        rule.to_port = Some(t);
    } else if rule.cidr.is_some() {
        return Ok(None);
    }
    Ok(Some(rule))
}

/// A Neutron rule in Nova's terms (`_convert_to_nova_security_group_rule_format`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConvertedRule {
    id: String,
    parent_group_id: String,
    protocol: Option<String>,
    from_port: Option<i64>,
    to_port: Option<i64>,
    group_id: Option<String>,
    cidr: String,
}

fn convert_rule(r: &Value) -> ConvertedRule {
    let protocol = r["protocol"].as_str().map(str::to_string);
    let (min, max) = (r["port_range_min"].as_i64(), r["port_range_max"].as_i64());
    let (from_port, to_port) = match &protocol {
        Some(p) if min.is_none() && max.is_none() => {
            if p.eq_ignore_ascii_case("tcp") || p.eq_ignore_ascii_case("udp") {
                (Some(1), Some(65535))
            } else {
                (Some(-1), Some(-1))
            }
        }
        _ => (min, max),
    };
    ConvertedRule {
        id: r["id"].as_str().unwrap_or_default().to_string(),
        parent_group_id: r["security_group_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        protocol,
        from_port,
        to_port,
        group_id: r["remote_group_id"].as_str().map(str::to_string),
        cidr: r["remote_ip_prefix"]
            .as_str()
            .filter(|c| !c.is_empty())
            .unwrap_or("0.0.0.0/0")
            .to_string(),
    }
}

fn ingress_rules(sg: &Value) -> Vec<ConvertedRule> {
    sg["security_group_rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .filter(|r| r["direction"] == "ingress")
                .map(convert_rule)
                .collect()
        })
        .unwrap_or_default()
}

/// The remote groups a view may name, by id: `(name, tenant_id)`.
type Names = HashMap<String, (String, String)>;

fn format_rule(r: &ConvertedRule, names: &Names) -> Option<NovaSecurityGroupRule> {
    let (group, ip_range) = match &r.group_id {
        // A rule whose remote group the caller cannot see is left out, as Nova does.
        Some(g) => {
            let (name, tenant) = names.get(g)?;
            (
                RemoteGroup {
                    name: Some(name.clone()),
                    tenant_id: Some(tenant.clone()),
                },
                IpRange::default(),
            )
        }
        None => (
            RemoteGroup::default(),
            IpRange {
                cidr: Some(r.cidr.clone()),
            },
        ),
    };
    Some(NovaSecurityGroupRule {
        id: r.id.clone(),
        parent_group_id: r.parent_group_id.clone(),
        ip_protocol: r.protocol.clone(),
        from_port: r.from_port,
        to_port: r.to_port,
        group,
        ip_range,
    })
}

fn format_group(sg: &Value, names: &Names) -> NovaSecurityGroup {
    NovaSecurityGroup {
        id: sg["id"].as_str().unwrap_or_default().to_string(),
        name: sg["name"].as_str().unwrap_or_default().to_string(),
        description: sg["description"].as_str().unwrap_or_default().to_string(),
        tenant_id: sg["tenant_id"]
            .as_str()
            .or(sg["project_id"].as_str())
            .unwrap_or_default()
            .to_string(),
        rules: ingress_rules(sg)
            .iter()
            .filter_map(|r| format_rule(r, names))
            .collect(),
    }
}

fn names_of(groups: &[Value]) -> Names {
    groups
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap_or_default().to_string(),
                (
                    g["name"].as_str().unwrap_or_default().to_string(),
                    g["tenant_id"]
                        .as_str()
                        .or(g["project_id"].as_str())
                        .unwrap_or_default()
                        .to_string(),
                ),
            )
        })
        .collect()
}

/// Neutron's answer in Nova's statuses: `conflict` says what a 409 becomes.
fn nova_err(e: NetError, conflict: ErrorKind) -> CoreError {
    let kind = match e.status {
        400 => ErrorKind::BadRequest,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        409 => conflict,
        503 => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    let mut c = CoreError::new(kind, e.message);
    c.retryable = e.retryable;
    c
}

fn not_found(e: NetError) -> CoreError {
    nova_err(e, ErrorKind::Conflict)
}

/// A Nova `limit`/`offset` window (`common.limited`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub offset: usize,
    pub limit: Option<usize>,
}

impl NetworkService {
    /// Every security group the caller can see, to name remote groups.
    async fn visible_names(&self, caller: &Caller) -> Result<Names> {
        let all = self
            .list(caller, Kind::SecurityGroup, &ListQuery::default())
            .await
            .map_err(not_found)?;
        Ok(names_of(&all.items))
    }

    async fn nova_view(&self, caller: &Caller, sg: &Value) -> Result<NovaSecurityGroup> {
        let names = self.visible_names(caller).await?;
        Ok(format_group(sg, &names))
    }

    /// `GET /os-security-groups`: the caller's project's groups (every project's for an
    /// administrator asking `all_tenants`), sorted by project then name.
    pub async fn nova_list_groups(
        &self,
        caller: &Caller,
        all_tenants: bool,
        window: Window,
    ) -> Result<Vec<NovaSecurityGroup>> {
        let page = self
            .list(caller, Kind::SecurityGroup, &ListQuery::default())
            .await
            .map_err(not_found)?;
        let names = names_of(&page.items);
        let mut out: Vec<NovaSecurityGroup> = page
            .items
            .iter()
            .map(|g| format_group(g, &names))
            .filter(|g| (caller.is_admin && all_tenants) || g.tenant_id == caller.project_id)
            .skip(window.offset)
            .take(window.limit.unwrap_or(usize::MAX))
            .collect();
        out.sort_by(|a, b| (&a.tenant_id, &a.name).cmp(&(&b.tenant_id, &b.name)));
        Ok(out)
    }

    async fn neutron_group(&self, caller: &Caller, id: &str) -> Result<Value> {
        validate_id(id)?;
        self.show(caller, Kind::SecurityGroup, id)
            .await
            .map_err(not_found)
    }

    /// `GET /os-security-groups/{id}`.
    pub async fn nova_show_group(&self, caller: &Caller, id: &str) -> Result<NovaSecurityGroup> {
        let sg = self.neutron_group(caller, id).await?;
        self.nova_view(caller, &sg).await
    }

    /// `POST /os-security-groups`.
    pub async fn nova_create_group(
        self: &Arc<Self>,
        caller: &Caller,
        name: &Value,
        description: &Value,
    ) -> Result<NovaSecurityGroup> {
        let name = validate_property(name, "name")?;
        let description = validate_property(description, "description")?;
        let mut body = Doc::new();
        body["name"] = json!(name);
        body["description"] = json!(description);
        let sg = self
            .create(caller, Kind::SecurityGroup, &body)
            .await
            .map_err(|e| nova_err(e, ErrorKind::Forbidden))?;
        self.nova_view(caller, &sg).await
    }

    /// `PUT /os-security-groups/{id}`.
    pub async fn nova_update_group(
        self: &Arc<Self>,
        caller: &Caller,
        id: &str,
        name: &Value,
        description: &Value,
    ) -> Result<NovaSecurityGroup> {
        self.neutron_group(caller, id).await?;
        let name = validate_property(name, "name")?;
        let description = validate_property(description, "description")?;
        let mut body = Doc::new();
        body["name"] = json!(name);
        body["description"] = json!(description);
        let sg = self
            .update(caller, Kind::SecurityGroup, id, &body)
            .await
            .map_err(|e| nova_err(e, ErrorKind::BadRequest))?;
        self.nova_view(caller, &sg).await
    }

    /// `DELETE /os-security-groups/{id}`: a group in use (or `default`) is a 400.
    pub async fn nova_delete_group(self: &Arc<Self>, caller: &Caller, id: &str) -> Result<()> {
        self.neutron_group(caller, id).await?;
        self.delete(caller, Kind::SecurityGroup, id)
            .await
            .map_err(|e| nova_err(e, ErrorKind::BadRequest))
    }

    /// `POST /os-security-group-rules`.
    pub async fn nova_create_rule(
        self: &Arc<Self>,
        caller: &Caller,
        req: &NovaRuleRequest,
    ) -> Result<NovaSecurityGroupRule> {
        let parent_id = text_of(&req.parent_group_id).unwrap_or_default();
        let parent = self.neutron_group(caller, &parent_id).await?;
        let mut source = None;
        let group_id = text_of(&req.group_id);
        if let Some(g) = &group_id {
            source = Some(self.neutron_group(caller, g).await?);
        }
        let cidr = match &group_id {
            Some(_) => None,
            None => Some(parse_cidr(req.cidr.as_str())?),
        };
        let Some(rule) = new_ingress_rule(
            &req.ip_protocol,
            &req.from_port,
            &req.to_port,
            group_id.as_deref(),
            cidr.as_deref(),
        )?
        else {
            return Err(bad("Not enough parameters to build a valid rule."));
        };
        if let Some(c) = &rule.cidr
            && let Some((net, prefix)) = c.split_once('/')
            && net != "0.0.0.0"
            && net != "::"
            && prefix == "0"
        {
            return Err(bad(format!("Bad prefix for network in cidr {c}")));
        }
        // Nova's `_rule_exists`, against the parent's rules in Nova's terms.
        let exists = ingress_rules(&parent).iter().any(|r| {
            r.group_id == rule.group_id
                && Some(&r.cidr) == rule.cidr.as_ref()
                && r.from_port == rule.from_port
                && r.to_port == rule.to_port
                && r.protocol == rule.protocol
        });
        if exists {
            return Err(bad(format!(
                "This rule already exists in group {parent_id}"
            )));
        }
        let v6 = rule
            .cidr
            .as_deref()
            .and_then(|c| c.parse::<IpNet>().ok())
            .is_some_and(|n| matches!(n, IpNet::V6(_)));
        let mut body = Doc::new();
        body["direction"] = json!("ingress");
        body["ethertype"] = json!(if v6 { "IPv6" } else { "IPv4" });
        body["protocol"] = json!(rule.protocol);
        body["remote_ip_prefix"] = json!(rule.cidr);
        body["security_group_id"] = json!(parent_id);
        body["remote_group_id"] = json!(rule.group_id);
        if let Some(f) = rule.from_port.filter(|f| *f != -1) {
            body["port_range_min"] = json!(f);
        }
        if let Some(t) = rule.to_port.filter(|t| *t != -1) {
            body["port_range_max"] = json!(t);
        }
        let created = self
            .create(caller, Kind::SecurityGroupRule, &body)
            .await
            .map_err(|e| nova_err(e, ErrorKind::Forbidden))?;
        let names = source.as_ref().map(|s| names_of(std::slice::from_ref(s)));
        format_rule(&convert_rule(&created), &names.unwrap_or_default()).ok_or_else(|| {
            CoreError::not_found(format!(
                "Security group {} not found.",
                group_id.unwrap_or_default()
            ))
        })
    }

    /// `DELETE /os-security-group-rules/{id}`.
    pub async fn nova_delete_rule(self: &Arc<Self>, caller: &Caller, id: &str) -> Result<()> {
        validate_id(id)?;
        let rule = self
            .show(caller, Kind::SecurityGroupRule, id)
            .await
            .map_err(not_found)?;
        let parent = rule["security_group_id"].as_str().unwrap_or_default();
        self.neutron_group(caller, parent).await?;
        self.delete(caller, Kind::SecurityGroupRule, id)
            .await
            .map_err(|e| nova_err(e, ErrorKind::BadRequest))
    }

    /// `GET /servers/{id}/os-security-groups`: the groups on the server's ports, one entry
    /// per port and group (as Nova lists them).
    pub async fn nova_server_groups(
        &self,
        caller: &Caller,
        server_id: &str,
    ) -> Result<Vec<NovaSecurityGroup>> {
        let ports = self
            .list(
                caller,
                Kind::Port,
                &ListQuery(vec![("device_id".into(), server_id.into())]),
            )
            .await
            .map_err(not_found)?;
        let groups = self
            .list(caller, Kind::SecurityGroup, &ListQuery::default())
            .await
            .map_err(not_found)?;
        let names = names_of(&groups.items);
        let by_id: HashMap<&str, &Value> = groups
            .items
            .iter()
            .filter_map(|g| g["id"].as_str().map(|id| (id, g)))
            .collect();
        let mut out = Vec::new();
        for port in &ports.items {
            for sg in port["security_groups"].as_array().into_iter().flatten() {
                if let Some(g) = sg.as_str().and_then(|id| by_id.get(id)) {
                    out.push(format_group(g, &names));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_look_like_uuids() {
        assert!(validate_id("0b8a8e5c-7e5f-4d0c-9c1f-3d6b9e0f1a2b").is_ok());
        assert!(validate_id("0b8a8e5c7e5f4d0c9c1f3d6b9e0f1a2b").is_ok());
        let e = validate_id("sg-123").unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadRequest);
        assert_eq!(e.message, "Security group id should be uuid");
    }

    #[test]
    fn names_and_descriptions_are_strings_of_at_most_255() {
        assert_eq!(validate_property(&json!(""), "name").unwrap(), "");
        assert!(validate_property(&json!("x".repeat(255)), "name").is_ok());
        let e = validate_property(&json!("x".repeat(260)), "description").unwrap_err();
        assert_eq!(e.message, "description has 260 characters, more than 255.");
        let e = validate_property(&Value::Null, "name").unwrap_err();
        assert_eq!(e.message, "name is not a string or unicode");
    }

    #[test]
    fn cidrs_default_and_must_carry_a_prefix() {
        assert_eq!(parse_cidr(None).unwrap(), "0.0.0.0/0");
        assert_eq!(parse_cidr(Some("10.0.0.0/8")).unwrap(), "10.0.0.0/8");
        assert_eq!(parse_cidr(Some("10.0.0.0%2F8")).unwrap(), "10.0.0.0/8");
        assert_eq!(parse_cidr(Some("2001:db8::/32")).unwrap(), "2001:db8::/32");
        assert!(parse_cidr(Some("10.0.0.1")).is_err());
        assert!(parse_cidr(Some("bad/8")).is_err());
    }

    #[test]
    fn ingress_rule_validation_follows_nova() {
        let r = new_ingress_rule(
            &json!("tcp"),
            &json!(22),
            &json!("22"),
            None,
            Some("0.0.0.0/0"),
        )
        .unwrap()
        .unwrap();
        assert_eq!((r.from_port, r.to_port), (Some(22), Some(22)));
        // A CIDR rule without ports is not a rule.
        assert!(
            new_ingress_rule(
                &json!("tcp"),
                &Value::Null,
                &Value::Null,
                None,
                Some("0.0.0.0/0")
            )
            .unwrap()
            .is_none()
        );
        // A group rule without ports opens the protocol's whole range.
        let r = new_ingress_rule(&json!("udp"), &Value::Null, &Value::Null, Some("g"), None)
            .unwrap()
            .unwrap();
        assert_eq!((r.from_port, r.to_port), (Some(1), Some(65535)));
        let msg = |p: Value, f: Value, t: Value| {
            new_ingress_rule(&p, &f, &t, None, Some("0.0.0.0/0"))
                .unwrap_err()
                .message
        };
        assert_eq!(
            msg(json!("gre"), json!(1), json!(2)),
            "Invalid IP protocol gre."
        );
        assert_eq!(
            msg(json!("tcp"), json!(30), json!(20)),
            "Invalid port range 30:20. Former value cannot be greater than the later"
        );
        assert_eq!(
            msg(json!("tcp"), json!(0), json!(20)),
            "Invalid port range 0:20. Valid TCP ports should be between 1-65535"
        );
        assert_eq!(
            msg(json!("icmp"), json!(-1), json!(256)),
            "Invalid port range -1:256. For ICMP, the type:code must be valid"
        );
        assert_eq!(
            msg(json!("tcp"), json!("x"), json!(1)),
            "Invalid input received: To and From ports must be integers"
        );
    }

    #[test]
    fn neutron_groups_render_in_nova_terms() {
        let sg = json!({
            "id": "a", "name": "web", "description": "d", "tenant_id": "p",
            "security_group_rules": [
                {"id": "r1", "direction": "ingress", "security_group_id": "a", "protocol": "tcp",
                 "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null, "remote_group_id": null},
                {"id": "r2", "direction": "egress", "security_group_id": "a", "protocol": null},
                {"id": "r3", "direction": "ingress", "security_group_id": "a", "protocol": "icmp",
                 "remote_group_id": "b"},
                {"id": "r4", "direction": "ingress", "security_group_id": "a", "protocol": null,
                 "remote_group_id": "gone"},
            ]
        });
        let names: Names = [("b".to_string(), ("other".to_string(), "p".to_string()))].into();
        let g = format_group(&sg, &names);
        assert_eq!(
            g.rules.len(),
            2,
            "egress and unnamed remote groups are left out"
        );
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(
            v["rules"][0],
            json!({"id": "r1", "parent_group_id": "a", "ip_protocol": "tcp", "from_port": 1,
                   "to_port": 65535, "group": {}, "ip_range": {"cidr": "0.0.0.0/0"}})
        );
        assert_eq!(
            v["rules"][1],
            json!({"id": "r3", "parent_group_id": "a", "ip_protocol": "icmp", "from_port": -1,
                   "to_port": -1, "group": {"name": "other", "tenant_id": "p"}, "ip_range": {}})
        );
        assert_eq!(v["tenant_id"], "p");
    }
}
