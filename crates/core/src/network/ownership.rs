//! Neutron's ownership rules, as Neutron enforces them, in one place: a port may name a router
//! of another project as its device only for an administrator (`DeviceIDNotOwnedByTenant`,
//! OSSA-2014-008); `network:*` device owners, chosen fixed addresses and chosen floating
//! addresses are reserved to the network owner or an administrator (Neutron's default
//! `create_port:device_owner`, `create_port:fixed_ips:ip_address` and
//! `create_floatingip:floating_ip_address` policies, with Neutron's 403 text); and a router's
//! or a server's ports are only those of its own project, so a port that merely names another
//! project's device never joins its router, its addresses or its security-group changes.

use cascade_store::network::NetResourceRow;
use serde_json::{Value, json};

use super::{Caller, Doc, Kind, NetError, NetResult, NetworkService, doc_of, str_of};

/// Device owners of router interface ports (neutron-lib's `ROUTER_INTERFACE_OWNERS`).
pub(crate) const ROUTER_INTERFACE_OWNERS: [&str; 3] = [
    "network:router_interface",
    "network:ha_router_replicated_interface",
    "network:router_interface_distributed",
];

/// Device owner of a router's external gateway port.
pub(crate) const ROUTER_GATEWAY_OWNER: &str = "network:router_gateway";

/// Internal key naming the router a port was attached to by `add_router_interface` (so an
/// administrator's cross-project attachment still counts; clients cannot set `_` keys).
pub(crate) const INTERFACE_OF: &str = "_interface_of";

/// Whether `owner` is a router interface owner.
pub(crate) fn is_router_interface(owner: &str) -> bool {
    ROUTER_INTERFACE_OWNERS.contains(&owner)
}

/// Neutron's `network_device` rule: `field:port:device_owner=~^network:`.
pub(crate) fn is_network_device(owner: &str) -> bool {
    owner.starts_with("network:")
}

/// A policy failure on one attribute, in the text oslo.policy gives Neutron's match rule:
/// `(rule:create_floatingip and rule:create_floatingip:floating_ip_address) is disallowed by
/// policy`.
pub(crate) fn attr_denied(action: &str, attr: &str) -> NetError {
    NetError::forbidden(&format!("rule:{action} and rule:{action}:{attr}"))
}

/// A policy failure on the sub-attributes of a list attribute (`fixed_ips`): one rule per key
/// of each entry, as Neutron builds it, e.g. `(rule:create_port and (rule:create_port:fixed_ips
/// and (rule:create_port:fixed_ips:subnet_id and rule:create_port:fixed_ips:ip_address))) is
/// disallowed by policy`.
pub(crate) fn sub_attrs_denied(action: &str, attr: &str, entries: &[Value]) -> NetError {
    let subs: Vec<String> = entries
        .iter()
        .flat_map(|e| {
            ["subnet_id", "ip_address"]
                .into_iter()
                .filter(move |k| e.get(*k).is_some())
        })
        .map(|k| format!("rule:{action}:{attr}:{k}"))
        .collect();
    NetError::forbidden(&format!(
        "rule:{action} and (rule:{action}:{attr} and ({}))",
        subs.join(" and ")
    ))
}

/// The entries of a requested `fixed_ips` that choose an address.
pub(crate) fn chosen_addresses(requested: Option<&Value>) -> Vec<Value> {
    requested
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|f| f.get("ip_address").is_some_and(|ip| !ip.is_null()))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// `create_port:fixed_ips:ip_address` / `update_port:…`: only the network's owner or an
/// administrator chooses addresses on it, shared networks included (`chosen` are the entries
/// that name an address the port does not already hold).
pub(crate) fn check_chosen_ips(
    caller: &Caller,
    action: &str,
    net: &Doc,
    chosen: &[Value],
) -> NetResult<()> {
    if chosen.is_empty() || caller.owns(str_of(net, "project_id")) {
        return Ok(());
    }
    Err(sub_attrs_denied(action, "fixed_ips", chosen))
}

/// `create_port:device_owner` / `update_port:device_owner`: `not rule:network_device or
/// rule:admin_or_network_owner`.
pub(crate) fn check_device_owner_policy(
    caller: &Caller,
    action: &str,
    net: &Doc,
    owner: &str,
) -> NetResult<()> {
    if is_network_device(owner) && !caller.owns(str_of(net, "project_id")) {
        return Err(attr_denied(action, "device_owner"));
    }
    Ok(())
}

impl NetworkService {
    /// Neutron's `_enforce_device_owner_not_router_intf_or_device_id`: for a non-admin, a
    /// router-interface port of `port_project` may not name a router of another project as its
    /// device (409 `DeviceIDNotOwnedByTenant`). An unknown device id passes, as in Neutron.
    pub(crate) async fn check_router_device(
        &self,
        caller: &Caller,
        owner: &str,
        device_id: &str,
        port_project: &str,
    ) -> NetResult<()> {
        if caller.is_admin || device_id.is_empty() || !is_router_interface(owner) {
            return Ok(());
        }
        match self.try_load(Kind::Router, device_id).await? {
            Some((row, _)) if row.project_id != port_project => Err(NetError::conflict(
                "DeviceIDNotOwnedByTenant",
                format!(
                    "The following device_id {device_id} is not owned by your tenant or matches another tenants router."
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The ports of `project` whose device is `device` (a server): a port of another project
    /// that names it is not the device's.
    pub(crate) async fn device_ports(
        &self,
        device: &str,
        project: &str,
    ) -> NetResult<Vec<NetResourceRow>> {
        let mut rows = self.store.net_by_device("port", device).await?;
        rows.retain(|r| r.project_id == project);
        Ok(rows)
    }

    /// A router's own ports (interfaces and gateway): those of the router's project, the
    /// gateway port (no project, as in Neutron), and ports an administrator attached with
    /// `add_router_interface`.
    pub(crate) async fn router_ports(&self, router_id: &str) -> NetResult<Vec<NetResourceRow>> {
        let Some((router, _)) = self.try_load(Kind::Router, router_id).await? else {
            return Ok(Vec::new());
        };
        let mut rows = self.store.net_by_device("port", router_id).await?;
        rows.retain(|r| is_router_port(r, &router.project_id, router_id));
        Ok(rows)
    }

    /// Whether the port `row` (naming a router as its device) really belongs to that router.
    pub(crate) async fn port_of_its_router(&self, row: &NetResourceRow) -> NetResult<bool> {
        let Some(router_id) = row.device_id.as_deref() else {
            return Ok(false);
        };
        Ok(match self.try_load(Kind::Router, router_id).await? {
            Some((router, _)) => is_router_port(row, &router.project_id, router_id),
            None => false,
        })
    }
}

fn is_router_port(row: &NetResourceRow, router_project: &str, router_id: &str) -> bool {
    let d = doc_of(row);
    row.project_id == router_project
        || (row.project_id.is_empty() && str_of(&d, "device_owner") == ROUTER_GATEWAY_OWNER)
        || d[INTERFACE_OF] == json!(router_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(project: &str, admin: bool) -> Caller {
        Caller {
            project_id: project.into(),
            is_admin: admin,
        }
    }

    fn net(project: &str) -> Doc {
        let mut d = Doc::new();
        d["project_id"] = json!(project);
        d["shared"] = json!(true);
        d
    }

    #[test]
    fn chosen_addresses_need_the_network_owner() {
        let req = json!([{"subnet_id": "s", "ip_address": "10.0.0.5"}, {"subnet_id": "s"}]);
        let chosen = chosen_addresses(Some(&req));
        assert_eq!(chosen.len(), 1);
        let e =
            check_chosen_ips(&caller("b", false), "create_port", &net("a"), &chosen).unwrap_err();
        assert_eq!(e.status, 403);
        assert_eq!(e.neutron_type, "PolicyNotAuthorized");
        assert_eq!(
            e.message,
            "(rule:create_port and (rule:create_port:fixed_ips and (rule:create_port:fixed_ips:subnet_id and rule:create_port:fixed_ips:ip_address))) is disallowed by policy"
        );
        assert!(check_chosen_ips(&caller("a", false), "create_port", &net("a"), &chosen).is_ok());
        assert!(check_chosen_ips(&caller("b", true), "create_port", &net("a"), &chosen).is_ok());
        // Picking only the subnet is anyone's right on a shared network.
        let only_subnet = chosen_addresses(Some(&json!([{"subnet_id": "s"}])));
        assert!(
            check_chosen_ips(&caller("b", false), "create_port", &net("a"), &only_subnet).is_ok()
        );
        assert!(chosen_addresses(Some(&json!([{"ip_address": null}]))).is_empty());
    }

    #[test]
    fn network_device_owners_need_the_network_owner() {
        let e = check_device_owner_policy(
            &caller("b", false),
            "create_port",
            &net("a"),
            "network:router_gateway",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "(rule:create_port and rule:create_port:device_owner) is disallowed by policy"
        );
        assert!(
            check_device_owner_policy(&caller("b", false), "create_port", &net("a"), "compute:az1")
                .is_ok()
        );
        assert!(
            check_device_owner_policy(
                &caller("a", false),
                "create_port",
                &net("a"),
                "network:router_interface"
            )
            .is_ok()
        );
        assert_eq!(
            attr_denied("create_floatingip", "floating_ip_address").message,
            "(rule:create_floatingip and rule:create_floatingip:floating_ip_address) is disallowed by policy"
        );
    }

    #[test]
    fn router_ports_are_the_routers_projects() {
        let row = |project: &str, owner: &str, extra: Option<&str>| {
            let mut d = Doc::new();
            d["project_id"] = json!(project);
            d["device_owner"] = json!(owner);
            if let Some(r) = extra {
                d[INTERFACE_OF] = json!(r);
            }
            super::super::row_of(Kind::Port, &d, Some("net"), Some("r1"), None)
        };
        assert!(is_router_port(
            &row("a", "network:router_interface", None),
            "a",
            "r1"
        ));
        assert!(!is_router_port(
            &row("b", "network:router_interface", None),
            "a",
            "r1"
        ));
        assert!(is_router_port(
            &row("", ROUTER_GATEWAY_OWNER, None),
            "a",
            "r1"
        ));
        assert!(!is_router_port(
            &row("", "network:router_interface", None),
            "a",
            "r1"
        ));
        assert!(is_router_port(
            &row("b", "network:router_interface", Some("r1")),
            "a",
            "r1"
        ));
        assert!(!is_router_port(
            &row("b", "network:router_interface", Some("r2")),
            "a",
            "r1"
        ));
        assert!(is_router_interface(
            "network:ha_router_replicated_interface"
        ));
        assert!(!is_router_interface(ROUTER_GATEWAY_OWNER));
    }
}
