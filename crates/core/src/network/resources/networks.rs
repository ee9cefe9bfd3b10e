//! Networks: availability-zone hints, provider attributes and segment allocation on create.

use super::*;

impl NetworkService {
    pub(super) async fn az_names(&self) -> NetResult<HashSet<String>> {
        Ok(self
            .pods
            .list()
            .await?
            .into_iter()
            .map(|p| p.az_name)
            .collect())
    }

    pub(super) async fn check_az_hints(&self, b: &Doc) -> NetResult<Vec<String>> {
        let hints = str_list(b, "availability_zone_hints")?.unwrap_or_default();
        if !hints.is_empty() {
            let known = self.az_names().await?;
            for h in &hints {
                if !known.contains(h) {
                    return Err(NetError::new(
                        404,
                        "AvailabilityZoneNotFound",
                        format!("AvailabilityZone {h} could not be found."),
                    ));
                }
            }
        }
        Ok(hints)
    }

    /// Claims a segment for `owner`: the one an administrator asked for, or the next free
    /// one of the configured range.
    pub(crate) async fn claim_segment(
        &self,
        owner: &str,
        asked_type: Option<&str>,
        asked_physnet: Option<&str>,
        asked_id: Option<i64>,
    ) -> NetResult<(String, Option<String>, Option<i64>)> {
        let ty = asked_type
            .unwrap_or(self.config.l2_mode.network_type())
            .to_string();
        let physnet = match ty.as_str() {
            "vlan" | "flat" => Some(
                asked_physnet
                    .unwrap_or(&self.config.physical_network)
                    .to_string(),
            ),
            "vxlan" | "geneve" | "gre" | "local" => None,
            other => {
                return Err(NetError::invalid_input(format!(
                    "network_type value '{other}' not supported"
                )));
            }
        };
        if matches!(ty.as_str(), "flat" | "local") {
            return Ok((ty, physnet, None));
        }
        let pn = physnet.clone().unwrap_or_default();
        if let Some(id) = asked_id {
            let (lo, hi) = if ty == "vlan" {
                (1, 4094)
            } else {
                (1, (1 << 24) - 1)
            };
            if !(lo..=hi).contains(&id) {
                return Err(NetError::invalid_input(format!(
                    "Segmentation ID {id} is out of range {lo}..{hi}."
                )));
            }
            return match self
                .store
                .claim_segment(&SegmentRow {
                    network_type: ty.clone(),
                    physical_network: pn.clone(),
                    segmentation_id: id,
                    owner_id: owner.to_string(),
                })
                .await
            {
                Ok(()) => Ok((ty, physnet, Some(id))),
                Err(StoreError::Conflict(_)) if ty == "vlan" => Err(NetError::conflict(
                    "VlanIdInUse",
                    format!(
                        "Unable to create the network. The VLAN {id} on physical network {pn} is in use."
                    ),
                )),
                Err(StoreError::Conflict(_)) => Err(NetError::conflict(
                    "TunnelIdInUse",
                    format!("Unable to create the network. The tunnel ID {id} is in use."),
                )),
                Err(e) => Err(e.into()),
            };
        }
        let (lo, hi) = if ty == "vlan" {
            self.config.vlan_range
        } else {
            self.config.vni_range
        };
        for _ in 0..20 {
            let used: HashSet<i64> = self
                .store
                .segments_in_use(&ty, &pn)
                .await?
                .into_iter()
                .collect();
            let free: Vec<i64> = (lo..=hi).filter(|i| !used.contains(i)).take(16).collect();
            let Some(&pick) = free.choose(&mut rand::rng()) else {
                return Err(NetError::new(
                    503,
                    "NoNetworkAvailable",
                    "Unable to create the network. No tenant network is available for allocation.",
                ));
            };
            match self
                .store
                .claim_segment(&SegmentRow {
                    network_type: ty.clone(),
                    physical_network: pn.clone(),
                    segmentation_id: pick,
                    owner_id: owner.to_string(),
                })
                .await
            {
                Ok(()) => return Ok((ty, physnet, Some(pick))),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(NetError::new(
            503,
            "NoNetworkAvailable",
            "Unable to allocate a segment; try again.",
        ))
    }

    pub(super) async fn create_network(
        &self,
        caller: &Caller,
        project: &str,
        b: &Doc,
    ) -> NetResult<Doc> {
        let provider = [
            "provider:network_type",
            "provider:physical_network",
            "provider:segmentation_id",
        ]
        .iter()
        .any(|k| b.contains_key(*k));
        let external = opt_bool(b, "router:external")?.unwrap_or(false);
        let shared = opt_bool(b, "shared")?.unwrap_or(false);
        if provider && !caller.is_admin {
            return Err(NetError::forbidden(
                "rule:create_network:provider:network_type",
            ));
        }
        if external && !caller.is_admin {
            return Err(NetError::forbidden("rule:create_network:router:external"));
        }
        if shared && !caller.is_admin {
            return Err(NetError::forbidden("rule:create_network:shared"));
        }
        let hints = self.check_az_hints(b).await?;
        if external && hints.len() != 1 {
            return Err(NetError::bad_request(
                "An external network must name exactly one availability zone in availability_zone_hints: it lives in one pod.",
            ));
        }
        let id = new_id();
        let mut d = base_doc(&id, project, b)?;
        let (ty, physnet, seg) = if self.config.l2_mode == L2Mode::None && !provider {
            (self.config.l2_mode.network_type().to_string(), None, None)
        } else {
            self.claim_segment(
                &id,
                opt_str(b, "provider:network_type")?,
                opt_str(b, "provider:physical_network")?,
                opt_int(b, "provider:segmentation_id")?,
            )
            .await?
        };
        let default_mtu = if ty == "vxlan" || ty == "geneve" {
            1450
        } else {
            1500
        };
        let mtu = opt_int(b, "mtu")?.unwrap_or(default_mtu);
        if mtu < 68 {
            let _ = self.store.release_segments_of(&id).await;
            return Err(NetError::invalid_input(format!(
                "'{mtu}' is too small - must be at least '68'"
            )));
        }
        d.insert(
            "admin_state_up".into(),
            json!(opt_bool(b, "admin_state_up")?.unwrap_or(true)),
        );
        d.insert("status".into(), json!("ACTIVE"));
        d.insert("shared".into(), json!(shared));
        d.insert("router:external".into(), json!(external));
        d.insert("mtu".into(), json!(mtu));
        d.insert(
            "port_security_enabled".into(),
            json!(opt_bool(b, "port_security_enabled")?.unwrap_or(true)),
        );
        d.insert("availability_zone_hints".into(), json!(hints));
        d.insert("provider:network_type".into(), json!(ty));
        d.insert("provider:physical_network".into(), json!(physnet));
        d.insert("provider:segmentation_id".into(), json!(seg));
        d.insert("ipv4_address_scope".into(), Value::Null);
        d.insert("ipv6_address_scope".into(), Value::Null);
        d.insert("is_default".into(), json!(false));
        d.insert("l2_adjacency".into(), json!(true));
        d.insert("qos_policy_id".into(), Value::Null);
        d.insert(
            "dns_domain".into(),
            json!(opt_str(b, "dns_domain")?.unwrap_or("")),
        );
        // The pod of a network pinned to one AZ (external networks), for the bottom side.
        let pod = if hints.len() == 1 {
            self.pod_of_az(&hints[0]).await?
        } else {
            None
        };
        d.insert("_pinned_pod".into(), json!(pod));
        if let Err(e) = self
            .store
            .insert_net_resource(
                &row_of(Kind::Network, &d, None, None, pod.as_deref()),
                &[],
                &[],
            )
            .await
        {
            let _ = self.store.release_segments_of(&id).await;
            return Err(e.into());
        }
        Ok(d)
    }

    /// The first pod (by registration) of an availability zone.
    pub(crate) async fn pod_of_az(&self, az: &str) -> NetResult<Option<String>> {
        Ok(self
            .pods
            .list()
            .await?
            .into_iter()
            .find(|p| p.az_name == az)
            .map(|p| p.pod_id))
    }
}
