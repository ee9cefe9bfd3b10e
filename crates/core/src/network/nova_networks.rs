//! Nova's deprecated `os-tenant-networks` proxy (gone from microversion 2.36) over the central
//! Neutron, as nova-api proxies to Neutron: every network the project sees (its own, shared
//! and external ones), each as Nova's `network_dict` (`id`, `label` = the name, `cidr` =
//! `str()` of a Neutron network's absent `cidr`, i.e. `"None"`).

use serde::Serialize;
use serde_json::Value;

use super::{Caller, Kind, ListQuery, NetworkService};
use crate::{CoreError, ErrorKind, Result};

/// One network of `os-tenant-networks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantNetwork {
    pub id: String,
    pub cidr: String,
    pub label: String,
}

fn view(n: &Value) -> TenantNetwork {
    TenantNetwork {
        id: n["id"].as_str().unwrap_or_default().to_string(),
        cidr: n["cidr"]
            .as_str()
            .map_or_else(|| "None".to_string(), str::to_string),
        label: n["name"].as_str().unwrap_or_default().to_string(),
    }
}

impl NetworkService {
    /// `GET /os-tenant-networks`.
    pub async fn nova_tenant_networks(&self, caller: &Caller) -> Result<Vec<TenantNetwork>> {
        let page = self
            .list(caller, Kind::Network, &ListQuery::default())
            .await
            .map_err(CoreError::from)?;
        Ok(page.items.iter().map(view).collect())
    }

    /// `GET /os-tenant-networks/{id}`: Nova's "Network not found" for anything not visible.
    pub async fn nova_tenant_network(&self, caller: &Caller, id: &str) -> Result<TenantNetwork> {
        match self.show(caller, Kind::Network, id).await {
            Ok(n) => Ok(view(&n)),
            Err(e) if e.status == 404 => {
                Err(CoreError::new(ErrorKind::NotFound, "Network not found"))
            }
            Err(e) => Err(e.into()),
        }
    }
}
