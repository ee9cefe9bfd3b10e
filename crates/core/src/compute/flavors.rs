//! Flavors: the top is authoritative. Admins create them (with a given id or a new UUID),
//! set extra specs and access; a flavor is copied into a pod with the SAME id the first time
//! a server there uses it (through the routing lock), and private flavors get the tenant's
//! access there too.

use std::collections::BTreeMap;

use cascade_store::compute::FlavorRow;
use cascade_store::{StoreError, now_micros};
use http::Method;
use serde_json::{Value, json};

use super::Compute;
use crate::routing_lock::{BottomKey, ensure_bottom};
use crate::{CoreError, Result};

/// An admin's `POST /flavors`.
#[derive(Debug, Clone)]
pub struct FlavorCreate {
    pub id: Option<String>,
    pub name: String,
    pub vcpus: i64,
    pub ram: i64,
    pub disk: i64,
    pub ephemeral: i64,
    pub swap: i64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub description: Option<String>,
}

/// The flavor as embedded in a server (`flavor` at ≥ 2.47, and what the saga needs).
pub fn flavor_snapshot(f: &FlavorRow) -> Value {
    json!({
        "id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk,
        "ephemeral": f.ephemeral, "swap": f.swap, "is_public": f.is_public,
        "extra_specs": serde_json::from_str::<Value>(&f.extra_specs).unwrap_or_else(|_| json!({})),
    })
}

fn flavor_missing(id: &str) -> CoreError {
    CoreError::not_found(format!("Flavor {id} could not be found."))
}

impl Compute {
    pub async fn create_flavor(&self, req: FlavorCreate) -> Result<FlavorRow> {
        let name = req.name.trim();
        if name.is_empty() || name.len() > 255 {
            return Err(CoreError::bad_request(
                "Invalid input for field/attribute name.",
            ));
        }
        for (field, v) in [("vcpus", req.vcpus), ("ram", req.ram)] {
            if v < 1 {
                return Err(CoreError::bad_request(format!(
                    "Invalid input for field/attribute {field}. Value: {v}. {v} is less than the minimum of 1"
                )));
            }
        }
        for (field, v) in [
            ("disk", req.disk),
            ("OS-FLV-EXT-DATA:ephemeral", req.ephemeral),
            ("swap", req.swap),
        ] {
            if v < 0 {
                return Err(CoreError::bad_request(format!(
                    "Invalid input for field/attribute {field}. Value: {v}. {v} is less than the minimum of 0"
                )));
            }
        }
        let id = req
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if id.trim() != id || id.is_empty() || id.len() > 255 {
            return Err(CoreError::bad_request(
                "Invalid input for field/attribute id.",
            ));
        }
        if self
            .store
            .list_flavors()
            .await?
            .iter()
            .any(|f| f.name == name)
        {
            return Err(CoreError::conflict(format!(
                "Flavor with name {name} already exists."
            )));
        }
        let row = FlavorRow {
            id: id.clone(),
            name: name.to_string(),
            vcpus: req.vcpus,
            ram: req.ram,
            disk: req.disk,
            ephemeral: req.ephemeral,
            swap: req.swap,
            rxtx_factor: format!("{}", req.rxtx_factor),
            is_public: req.is_public,
            description: req.description,
            extra_specs: "{}".into(),
            created_at: now_micros(),
        };
        self.store.insert_flavor(&row).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                CoreError::conflict(format!("Flavor with ID {id} already exists."))
            }
            other => other.into(),
        })?;
        Ok(row)
    }

    /// A flavor the caller may see: public, or private with access (admins see all).
    pub async fn get_flavor(
        &self,
        id: &str,
        project_id: Option<&str>,
        is_admin: bool,
    ) -> Result<FlavorRow> {
        let row = self.store.get_flavor(id).await.map_err(|e| match e {
            StoreError::NotFound => flavor_missing(id),
            other => other.into(),
        })?;
        if row.is_public || is_admin {
            return Ok(row);
        }
        match project_id {
            Some(p) if self.store.flavor_access(id).await?.iter().any(|a| a == p) => Ok(row),
            _ => Err(flavor_missing(id)),
        }
    }

    /// Flavors visible to the caller. `is_public`: `Some(true)` public only, `Some(false)`
    /// private only, `None` all (admins; others always get public + accessible).
    pub async fn list_flavors(
        &self,
        project_id: Option<&str>,
        is_admin: bool,
        is_public: Option<bool>,
    ) -> Result<Vec<FlavorRow>> {
        let all = self.store.list_flavors().await?;
        let mut out = Vec::new();
        for f in all {
            let visible = if is_admin {
                is_public.is_none_or(|p| f.is_public == p)
            } else if f.is_public {
                is_public != Some(false)
            } else {
                match project_id {
                    Some(p) => self
                        .store
                        .flavor_access(&f.id)
                        .await?
                        .iter()
                        .any(|a| a == p),
                    None => false,
                }
            };
            if visible {
                out.push(f);
            }
        }
        Ok(out)
    }

    pub async fn delete_flavor(&self, id: &str) -> Result<()> {
        self.store.delete_flavor(id).await.map_err(|e| match e {
            StoreError::NotFound => flavor_missing(id),
            other => other.into(),
        })
    }

    pub async fn update_flavor_description(
        &self,
        id: &str,
        description: Option<String>,
    ) -> Result<FlavorRow> {
        let mut row = self.get_flavor(id, None, true).await?;
        row.description = description;
        self.store.update_flavor(&row).await?;
        Ok(row)
    }

    pub async fn flavor_extra_specs(&self, id: &str) -> Result<BTreeMap<String, String>> {
        let row = self.get_flavor(id, None, true).await?;
        Ok(serde_json::from_str(&row.extra_specs).unwrap_or_default())
    }

    /// Merges `specs` into the flavor's extra specs.
    pub async fn set_flavor_extra_specs(
        &self,
        id: &str,
        specs: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let mut row = self.get_flavor(id, None, true).await?;
        let mut current: BTreeMap<String, String> =
            serde_json::from_str(&row.extra_specs).unwrap_or_default();
        for (k, v) in specs {
            if k.is_empty() || k.len() > 255 || v.len() > 255 {
                return Err(CoreError::bad_request(
                    "Invalid input for field/attribute extra_specs.",
                ));
            }
            current.insert(k, v);
        }
        row.extra_specs = serde_json::to_string(&current).unwrap_or_else(|_| "{}".into());
        self.store.update_flavor(&row).await?;
        Ok(current)
    }

    pub async fn delete_flavor_extra_spec(&self, id: &str, key: &str) -> Result<()> {
        let mut row = self.get_flavor(id, None, true).await?;
        let mut current: BTreeMap<String, String> =
            serde_json::from_str(&row.extra_specs).unwrap_or_default();
        if current.remove(key).is_none() {
            return Err(CoreError::not_found(format!(
                "Flavor {id} has no extra specs with key {key}."
            )));
        }
        row.extra_specs = serde_json::to_string(&current).unwrap_or_else(|_| "{}".into());
        self.store.update_flavor(&row).await?;
        Ok(())
    }

    pub async fn flavor_access(&self, id: &str) -> Result<Vec<String>> {
        let row = self.get_flavor(id, None, true).await?;
        if row.is_public {
            return Err(CoreError::not_found(
                "Access list not available for public flavors.",
            ));
        }
        Ok(self.store.flavor_access(id).await?)
    }

    pub async fn add_flavor_access(&self, id: &str, project_id: &str) -> Result<Vec<String>> {
        let row = self.get_flavor(id, None, true).await?;
        if row.is_public {
            return Err(CoreError::conflict(
                "Can not add access to a public flavor.",
            ));
        }
        self.store.add_flavor_access(id, project_id).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::conflict(format!(
                "Flavor access already exists for flavor {id} and project {project_id} combination."
            )),
            other => other.into(),
        })?;
        Ok(self.store.flavor_access(id).await?)
    }

    pub async fn remove_flavor_access(&self, id: &str, project_id: &str) -> Result<Vec<String>> {
        self.get_flavor(id, None, true).await?;
        self.store
            .remove_flavor_access(id, project_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => CoreError::not_found(format!(
                    "Flavor access not found for {id} / {project_id} combination."
                )),
                other => other.into(),
            })?;
        Ok(self.store.flavor_access(id).await?)
    }

    /// Makes sure the pod has the flavor with the same id (and the project's access when it
    /// is private). Idempotent; returns the flavor id in the pod.
    pub(crate) async fn ensure_flavor_in_pod(
        &self,
        flavor: &Value,
        project_id: &str,
        pod_id: &str,
    ) -> Result<String> {
        let id = flavor["id"].as_str().unwrap_or_default().to_string();
        let client = self.pods.client(pod_id).await?;
        let key = BottomKey {
            top_id: &id,
            pod_id,
            project_id: "",
            resource_type: "flavor",
        };
        let find = || {
            let client = client.clone();
            let id = id.clone();
            async move {
                let r = client
                    .send(Method::GET, "compute", &format!("/flavors/{id}"), None, &[])
                    .await?;
                Ok((r.status == 200).then_some(id))
            }
        };
        let create = || {
            let client = client.clone();
            let flavor = flavor.clone();
            let id = id.clone();
            async move {
                let body = |name: &str| {
                    json!({"flavor": {
                        "id": id, "name": name, "vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
                        "OS-FLV-EXT-DATA:ephemeral": flavor["ephemeral"], "swap": flavor["swap"],
                        "os-flavor-access:is_public": flavor["is_public"],
                    }})
                };
                let name = flavor["name"].as_str().unwrap_or("flavor").to_string();
                let mut r = client
                    .send(Method::POST, "compute", "/flavors", Some(&body(&name)), &[])
                    .await?;
                if r.status == 409 {
                    // Another flavor of the pod already has the name: keep the id, change the name.
                    let again = client
                        .send(Method::GET, "compute", &format!("/flavors/{id}"), None, &[])
                        .await?;
                    if again.status == 200 {
                        return Ok(id);
                    }
                    r = client
                        .send(
                            Method::POST,
                            "compute",
                            "/flavors",
                            Some(&body(&format!("{name}@{id}"))),
                            &[],
                        )
                        .await?;
                }
                if r.status != 200 && r.status != 201 {
                    return Err(CoreError::bad_request(format!(
                        "pod refused flavor {id}: {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    )));
                }
                let specs = &flavor["extra_specs"];
                if specs.as_object().is_some_and(|m| !m.is_empty()) {
                    let body = json!({"extra_specs": specs});
                    client
                        .send(
                            Method::POST,
                            "compute",
                            &format!("/flavors/{id}/os-extra_specs"),
                            Some(&body),
                            &[],
                        )
                        .await?;
                }
                Ok(id)
            }
        };
        let bottom = ensure_bottom(&self.store, &key, find, create).await?;
        if flavor["is_public"] == json!(false) {
            let body = json!({"addTenantAccess": {"tenant": project_id}});
            // 409 when the access already exists: fine.
            client
                .send(
                    Method::POST,
                    "compute",
                    &format!("/flavors/{bottom}/action"),
                    Some(&body),
                    &[],
                )
                .await?;
        }
        Ok(bottom)
    }
}
