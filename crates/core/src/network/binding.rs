//! [`NetworkBinding`] for the compute saga: `plan` reserves the server's top ports at create
//! time (all or nothing), `bind` records the pod of each port and makes its twin there (and
//! the network, subnets and groups it needs) before enqueuing the cross-pod work (shadow
//! ports, routers, group expansion, floating IPs), `release` deletes the ports made for the
//! server and unbinds the others, `addresses` renders Nova's `addresses`.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::jobs::NetJob;
use super::resources::fixed_ips;
use super::{
    Caller, Doc, Kind, NetError, NetResult, NetworkService, doc_of, row_of, stamp, str_of,
};
use crate::compute::deps::{
    BoxFuture, NetworkBinding, PlannedPort, RequestedNetwork, RequestedNetworks,
};
use crate::{CoreError, Result};

/// Marks a port created by `plan` for a server (deleted with it).
const OWNER_KEY: &str = "_created_for";

impl NetworkService {
    async fn plan_ports(
        self: &Arc<Self>,
        project: &str,
        server: &str,
        az: &str,
        requested: &RequestedNetworks,
    ) -> NetResult<Vec<PlannedPort>> {
        let caller = Caller {
            project_id: project.to_string(),
            is_admin: false,
        };
        let entries: Vec<RequestedNetwork> = match requested {
            RequestedNetworks::None => return Ok(Vec::new()),
            RequestedNetworks::Explicit(e) => e.clone(),
            RequestedNetworks::Auto | RequestedNetworks::Available => {
                let mine = self
                    .store
                    .list_net_resources("network", Some(project))
                    .await?;
                let pick = mine
                    .iter()
                    .map(doc_of)
                    .find(|d| d["router:external"] != json!(true));
                let pick = match pick {
                    Some(d) => Some(d),
                    None => self
                        .store
                        .list_net_resources("network", None)
                        .await?
                        .iter()
                        .map(doc_of)
                        .find(|d| {
                            d["shared"] == json!(true) && d["router:external"] != json!(true)
                        }),
                };
                let Some(net) = pick else {
                    if *requested == RequestedNetworks::Available {
                        return Ok(Vec::new());
                    }
                    return Err(NetError::bad_request(format!(
                        "Unable to automatically allocate a network for project {project}"
                    )));
                };
                vec![RequestedNetwork::Network {
                    network_id: str_of(&net, "id").to_string(),
                    fixed_ip: None,
                }]
            }
        };
        let mut planned: Vec<PlannedPort> = Vec::new();
        let result = self
            .plan_entries(&caller, server, az, &entries, &mut planned)
            .await;
        if let Err(e) = result {
            // No partial state: undo what this call did.
            for p in &planned {
                if p.owned {
                    if let Ok(Some((_, d))) = self.try_load(Kind::Port, &p.port_id).await {
                        let _ = self.delete_port_row(project, &p.port_id, &d).await;
                    }
                } else if let Ok(Some((row, mut d))) = self.try_load(Kind::Port, &p.port_id).await {
                    d.insert("device_id".into(), json!(""));
                    d.insert("device_owner".into(), json!(""));
                    let _ = self
                        .store
                        .update_net_resource(
                            &row_of(Kind::Port, &d, row.parent_id.as_deref(), None, None),
                            &[],
                            &[],
                            &[],
                            &[],
                        )
                        .await;
                }
            }
            return Err(e);
        }
        Ok(planned)
    }

    async fn plan_entries(
        self: &Arc<Self>,
        caller: &Caller,
        server: &str,
        az: &str,
        entries: &[RequestedNetwork],
        planned: &mut Vec<PlannedPort>,
    ) -> NetResult<()> {
        let owner = if az.is_empty() {
            "compute:nova".to_string()
        } else {
            format!("compute:{az}")
        };
        for e in entries {
            match e {
                RequestedNetwork::Network {
                    network_id,
                    fixed_ip,
                } => {
                    let (_, net) = self.load(Kind::Network, network_id).await?;
                    if !caller.owns(str_of(&net, "project_id")) && net["shared"] != json!(true) {
                        return Err(NetError::not_found(Kind::Network, network_id));
                    }
                    self.check_hints(&net, az)?;
                    let mut body = Doc::new();
                    body.insert("network_id".into(), json!(network_id));
                    body.insert("device_id".into(), json!(server));
                    body.insert("device_owner".into(), json!(owner));
                    if let Some(ip) = fixed_ip {
                        body.insert("fixed_ips".into(), json!([{"ip_address": ip}]));
                    }
                    let port = self.create(caller, Kind::Port, &body).await?;
                    let pid = port["id"].as_str().unwrap_or_default().to_string();
                    planned.push(PlannedPort {
                        port_id: pid.clone(),
                        network_id: network_id.clone(),
                        owned: true,
                    });
                    let (row, mut d) = self.load(Kind::Port, &pid).await?;
                    d.insert(OWNER_KEY.into(), json!(server));
                    self.store
                        .update_net_resource(
                            &row_of(Kind::Port, &d, row.parent_id.as_deref(), Some(server), None),
                            &[],
                            &[],
                            &[],
                            &[],
                        )
                        .await?;
                }
                RequestedNetwork::Port { port_id } => {
                    let Some((row, mut d)) = self.try_load(Kind::Port, port_id).await? else {
                        return Err(NetError::not_found(Kind::Port, port_id));
                    };
                    if !caller.owns(&row.project_id) {
                        return Err(NetError::not_found(Kind::Port, port_id));
                    }
                    if !str_of(&d, "device_id").is_empty() {
                        return Err(NetError::conflict(
                            "PortInUse",
                            format!("Port {port_id} is still in use."),
                        ));
                    }
                    let net_id = str_of(&d, "network_id").to_string();
                    let (_, net) = self.load(Kind::Network, &net_id).await?;
                    self.check_hints(&net, az)?;
                    d.insert("device_id".into(), json!(server));
                    d.insert("device_owner".into(), json!(owner));
                    stamp(&mut d, false);
                    self.store
                        .update_net_resource(
                            &row_of(Kind::Port, &d, Some(&net_id), Some(server), None),
                            &[],
                            &[],
                            &[],
                            &[],
                        )
                        .await?;
                    planned.push(PlannedPort {
                        port_id: port_id.clone(),
                        network_id: net_id,
                        owned: false,
                    });
                }
            }
        }
        Ok(())
    }

    fn check_hints(&self, net: &Doc, az: &str) -> NetResult<()> {
        let hints: Vec<&str> = net["availability_zone_hints"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !az.is_empty() && !hints.is_empty() && !hints.contains(&az) {
            return Err(NetError::bad_request(format!(
                "Network {} is restricted to availability zones {hints:?}; the server is in {az}.",
                str_of(net, "id")
            )));
        }
        Ok(())
    }

    /// Binds ports to a pod and makes their twins there (the build job's step).
    pub async fn bind_ports(
        self: &Arc<Self>,
        project: &str,
        pod_id: &str,
        ports: &[PlannedPort],
    ) -> NetResult<Vec<String>> {
        let mut out = Vec::new();
        for p in ports {
            let (row, mut d) = self.load(Kind::Port, &p.port_id).await?;
            if row.pod_id.as_deref() != Some(pod_id) {
                d.insert("status".into(), json!("ACTIVE"));
                d.insert("binding:vif_type".into(), json!("ovs"));
                stamp(&mut d, false);
                self.store
                    .update_net_resource(
                        &row_of(
                            Kind::Port,
                            &d,
                            row.parent_id.as_deref(),
                            row.device_id.as_deref(),
                            Some(pod_id),
                        ),
                        &[],
                        &[],
                        &[],
                        &[],
                    )
                    .await?;
            }
            let bottom = self.ensure_twin(&d, pod_id).await?;
            out.push(bottom);
            let net = str_of(&d, "network_id").to_string();
            self.kick(project, NetJob::L2Sync(net.clone())).await?;
            for (r, rp) in self.routers_of_network(&net).await? {
                self.kick(&rp, NetJob::RouterSync(r)).await?;
            }
            for g in d["security_groups"].as_array().cloned().unwrap_or_default() {
                if let Some(g) = g.as_str() {
                    self.kick_sg_dependents(project, g).await?;
                }
            }
            for f in self.store.net_by_device("floatingip", &p.port_id).await? {
                self.kick(
                    project,
                    NetJob::Cleanup {
                        kind: "floatingip".into(),
                        id: f.id,
                    },
                )
                .await?;
            }
        }
        Ok(out)
    }

    /// Deletes the ports made for a server and unbinds the others (the server's project's
    /// only: another project's port naming the server is left alone).
    pub async fn release_server(self: &Arc<Self>, project: &str, server: &str) -> NetResult<()> {
        for row in self.device_ports(server, project).await? {
            let mut d = doc_of(&row);
            if d[OWNER_KEY] == json!(server) {
                self.delete_port_row(project, &row.id, &d).await?;
            } else {
                d.insert("device_id".into(), json!(""));
                d.insert("device_owner".into(), json!(""));
                d.insert("status".into(), json!("DOWN"));
                d.insert("binding:host_id".into(), json!(""));
                d.insert("binding:vif_type".into(), json!("unbound"));
                stamp(&mut d, false);
                self.store
                    .update_net_resource(
                        &row_of(Kind::Port, &d, row.parent_id.as_deref(), None, None),
                        &[],
                        &[],
                        &[],
                        &[],
                    )
                    .await?;
                self.kick(project, NetJob::PortSync(row.id.clone())).await?;
                self.kick(
                    project,
                    NetJob::L2Sync(str_of(&d, "network_id").to_string()),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Nova's `addresses` of a server of `project`: only that project's ports count (Nova
    /// lists a server's ports by `device_id` and `tenant_id`), so a port of another project
    /// naming the server never shows in its addresses.
    pub async fn server_addresses(&self, project: &str, server: &str) -> NetResult<Value> {
        let mut out = Map::new();
        for row in self.device_ports(server, project).await? {
            let d = doc_of(&row);
            let net = str_of(&d, "network_id");
            let name = match self.try_load(Kind::Network, net).await? {
                Some((_, n)) if !str_of(&n, "name").is_empty() => str_of(&n, "name").to_string(),
                _ => net.to_string(),
            };
            let mac = d["mac_address"].clone();
            let list = out.entry(name).or_insert_with(|| json!([]));
            let Some(list) = list.as_array_mut() else {
                continue;
            };
            for (_, ip) in fixed_ips(&d) {
                list.push(json!({"version": if ip.is_ipv4() {4} else {6}, "addr": ip.to_string(), "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac}));
            }
            for f in self.store.net_by_device("floatingip", &row.id).await? {
                let fd = doc_of(&f);
                list.push(json!({"version": 4, "addr": fd["floating_ip_address"], "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": mac}));
            }
        }
        Ok(Value::Object(out))
    }
}

impl NetworkService {
    /// Adds or removes a security group on every port of a server (Nova's
    /// `addSecurityGroup`/`removeSecurityGroup`), through the ordinary port update so the pods
    /// are synced by the usual jobs.
    pub async fn set_server_security_group(
        self: &Arc<Self>,
        project: &str,
        server: &str,
        group: &str,
        add: bool,
    ) -> Result<()> {
        let caller = Caller {
            project_id: project.to_string(),
            is_admin: false,
        };
        let groups = self
            .store
            .list_net_resources("security_group", Some(project))
            .await
            .map_err(CoreError::from)?;
        let sg = groups
            .iter()
            .find(|g| g.id == group)
            .or_else(|| groups.iter().find(|g| str_of(&doc_of(g), "name") == group))
            .ok_or_else(|| {
                CoreError::not_found(format!(
                    "Security group {group} not found for project {project}."
                ))
            })?
            .id
            .clone();
        let ports = self
            .device_ports(server, project)
            .await
            .map_err(CoreError::from)?;
        if ports.is_empty() {
            return Err(CoreError::bad_request(format!(
                "Server {server} has no network port to change security groups on."
            )));
        }
        for port in ports {
            let d = doc_of(&port);
            let mut current: Vec<String> = d["security_groups"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|g| g.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let had = current.contains(&sg);
            if add && !had {
                current.push(sg.clone());
            } else if !add && had {
                current.retain(|g| g != &sg);
            } else if !add {
                return Err(CoreError::bad_request(format!(
                    "Security group {group} not associated with the instance"
                )));
            } else {
                continue;
            }
            let mut body = Doc::new();
            body.insert("security_groups".into(), json!(current));
            self.update(&caller, Kind::Port, &port.id, &body)
                .await
                .map_err(CoreError::from)?;
        }
        Ok(())
    }
}

/// The [`NetworkBinding`] the compute saga uses.
#[derive(Debug, Clone)]
pub struct Binding(pub Arc<NetworkService>);

impl NetworkBinding for Binding {
    fn plan<'a>(
        &'a self,
        project_id: &'a str,
        server_id: &'a str,
        az: &'a str,
        requested: &'a RequestedNetworks,
    ) -> BoxFuture<'a, Result<Vec<PlannedPort>>> {
        Box::pin(async move {
            self.0
                .plan_ports(project_id, server_id, az, requested)
                .await
                .map_err(CoreError::from)
        })
    }

    fn bind<'a>(
        &'a self,
        project_id: &'a str,
        pod_id: &'a str,
        ports: &'a [PlannedPort],
    ) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            self.0
                .bind_ports(project_id, pod_id, ports)
                .await
                .map_err(CoreError::from)
        })
    }

    fn release<'a>(
        &'a self,
        project_id: &'a str,
        server_id: &'a str,
        _pod_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.0
                .release_server(project_id, server_id)
                .await
                .map_err(CoreError::from)
        })
    }

    fn set_security_group<'a>(
        &'a self,
        project_id: &'a str,
        server_id: &'a str,
        group: &'a str,
        add: bool,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.0
                .set_server_security_group(project_id, server_id, group, add)
                .await
        })
    }

    fn addresses<'a>(
        &'a self,
        project_id: &'a str,
        server_id: &'a str,
    ) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async move {
            self.0
                .server_addresses(project_id, server_id)
                .await
                .map_err(CoreError::from)
        })
    }
}
