//! Volume types: top authoritative (a pod gets a public copy of the same name the first time a
//! volume of that type is made there, a routing row of `resource_type` `volume_type`), their
//! extra specs and updates (pushed to every pod copy, with Cascade's service identity, before
//! the top changes, so a volume made later in any pod sees the same specs), and project access
//! to private types (`os-volume-type-access`, kept at the top: the pods' copies are public,
//! the top decides who may use a type).

use std::collections::BTreeMap;

use cascade_store::StoreError;
use cascade_store::now_micros;
use cascade_store::volumes::{DEFAULT_TYPE_ID, VolumeTypeRow};
use http::Method;
use serde_json::{Value, json};

use super::{POD_MV, VolumeService, json_text, pod_error};
use crate::identity::Scope;
use crate::{CoreError, Result};

/// `POST /types`.
#[derive(Debug, Clone, Default)]
pub struct TypeCreate {
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub extra_specs: BTreeMap<String, String>,
}

/// `PUT /types/{id}`: each field changes when given.
#[derive(Debug, Clone, Default)]
pub struct TypeUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_public: Option<bool>,
}

fn type_missing(id: &str) -> CoreError {
    CoreError::not_found(format!("Volume type {id} could not be found."))
}

/// A type's extra specs as a map.
pub fn extra_specs(t: &VolumeTypeRow) -> BTreeMap<String, String> {
    serde_json::from_str(&t.extra_specs).unwrap_or_default()
}

impl VolumeService {
    /// Whether `scope` may see and use the type: public ones, admins, and projects given access.
    async fn type_visible(&self, t: &VolumeTypeRow, scope: &Scope) -> Result<bool> {
        Ok(match scope {
            _ if t.is_public => true,
            Scope::Admin => true,
            Scope::Project(p) => self
                .store
                .volume_type_projects(&t.id)
                .await?
                .iter()
                .any(|x| x == p),
        })
    }

    pub async fn list_types(&self, scope: &Scope) -> Result<Vec<VolumeTypeRow>> {
        let mut out = Vec::new();
        for t in self.store.list_volume_types().await? {
            if self.type_visible(&t, scope).await? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// By id or name; 404 when `scope` may not see it.
    pub async fn get_type(&self, id: &str, scope: &Scope) -> Result<VolumeTypeRow> {
        let t = self.store.get_volume_type(id).await.map_err(|e| match e {
            StoreError::NotFound => type_missing(id),
            other => other.into(),
        })?;
        if !self.type_visible(&t, scope).await? {
            return Err(type_missing(id));
        }
        Ok(t)
    }

    pub async fn create_type(&self, req: TypeCreate) -> Result<VolumeTypeRow> {
        let name = req.name.trim();
        if name.is_empty() || name.len() > 255 {
            return Err(CoreError::bad_request("Volume type name can not be empty."));
        }
        check_specs(&req.extra_specs)?;
        let row = VolumeTypeRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            description: req.description,
            is_public: req.is_public,
            extra_specs: json_text(&req.extra_specs),
            created_at: now_micros(),
        };
        self.store
            .insert_volume_type(&row)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    CoreError::conflict(format!("Volume Type {name} already exists."))
                }
                other => other.into(),
            })?;
        Ok(row)
    }

    /// `PUT /types/{id}`: name, description and visibility; a rename reaches the pods' copies
    /// (which are found by name) and the index's volumes.
    pub async fn update_type(&self, id: &str, req: TypeUpdate) -> Result<VolumeTypeRow> {
        let mut t = self.get_type(id, &Scope::Admin).await?;
        let old_name = t.name.clone();
        let old_description = t.description.clone();
        if let Some(n) = &req.name {
            let n = n.trim();
            if n.is_empty() || n.len() > 255 {
                return Err(CoreError::bad_request(
                    "Invalid input received: Volume type name can not be empty.",
                ));
            }
            if t.id == DEFAULT_TYPE_ID && n != t.name {
                return Err(CoreError::bad_request(
                    "Invalid volume type: The default volume type can not be renamed.",
                ));
            }
            if n != t.name
                && let Ok(other) = self.store.get_volume_type(n).await
                && other.id != t.id
            {
                return Err(CoreError::conflict(format!(
                    "Volume type {} already exists.",
                    n
                )));
            }
            t.name = n.to_string();
        }
        if let Some(d) = req.description {
            t.description = Some(d);
        }
        if let Some(p) = req.is_public {
            t.is_public = p;
        }
        if t.name != old_name || t.description != old_description {
            let body = json!({"volume_type": {"name": t.name, "description": t.description}});
            self.each_pod_copy(&t.id, |bottom| {
                (Method::PUT, format!("/types/{bottom}"), Some(body.clone()))
            })
            .await?;
        }
        self.store.update_volume_type(&t, &old_name).await?;
        Ok(t)
    }

    pub async fn delete_type(&self, id: &str) -> Result<()> {
        let t = self.get_type(id, &Scope::Admin).await?;
        if t.id == DEFAULT_TYPE_ID {
            return Err(CoreError::bad_request(
                "Invalid volume type: The default volume type can not be deleted.",
            ));
        }
        if self.store.volume_type_in_use(&t.name).await? {
            return Err(CoreError::bad_request(format!(
                "Target volume type is still in use. (type {})",
                t.id
            )));
        }
        self.store.delete_volume_type(&t.id).await?;
        self.store.clear_volume_type_access(&t.id).await?;
        Ok(())
    }

    // ---- extra specs -----------------------------------------------------------------------

    /// `POST /types/{id}/extra_specs`: merges `specs` into the type (pods' copies first).
    pub async fn set_extra_specs(
        &self,
        id: &str,
        specs: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let mut t = self.get_type(id, &Scope::Admin).await?;
        check_specs(&specs)?;
        let body = json!({ "extra_specs": specs });
        self.each_pod_copy(&t.id, |bottom| {
            (
                Method::POST,
                format!("/types/{bottom}/extra_specs"),
                Some(body.clone()),
            )
        })
        .await?;
        let mut all = extra_specs(&t);
        all.extend(specs.clone());
        t.extra_specs = json_text(&all);
        let name = t.name.clone();
        self.store.update_volume_type(&t, &name).await?;
        Ok(specs)
    }

    /// One extra spec; 404 when the type has no such key.
    pub async fn extra_spec(&self, id: &str, key: &str) -> Result<String> {
        let t = self.get_type(id, &Scope::Admin).await?;
        extra_specs(&t)
            .remove(key)
            .ok_or_else(|| spec_missing(&t.id, key))
    }

    /// `DELETE /types/{id}/extra_specs/{key}` (pods' copies first).
    pub async fn delete_extra_spec(&self, id: &str, key: &str) -> Result<()> {
        let mut t = self.get_type(id, &Scope::Admin).await?;
        let mut all = extra_specs(&t);
        if all.remove(key).is_none() {
            return Err(spec_missing(&t.id, key));
        }
        let path_key: String =
            url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>();
        self.each_pod_copy(&t.id, |bottom| {
            (
                Method::DELETE,
                format!("/types/{bottom}/extra_specs/{path_key}"),
                None,
            )
        })
        .await?;
        t.extra_specs = json_text(&all);
        let name = t.name.clone();
        self.store.update_volume_type(&t, &name).await?;
        Ok(())
    }

    /// Sends one admin call to every pod copy of the type; a copy the pod no longer has is
    /// forgotten (made again on next use), any other refusal is the caller's answer.
    async fn each_pod_copy(
        &self,
        type_id: &str,
        call: impl Fn(&str) -> (Method, String, Option<Value>),
    ) -> Result<()> {
        for r in self.store.routings_of(type_id, "volume_type").await? {
            let Some(bottom) = r.bottom_id.as_deref() else {
                continue;
            };
            let client = self.pods.client(&r.pod_id).await?;
            let (method, path, body) = call(bottom);
            let resp = client
                .send(method, "volumev3", &path, body.as_ref(), &[POD_MV])
                .await?;
            if resp.status == 404 {
                self.store.delete_routing(r.id).await?;
                continue;
            }
            if resp.status >= 400 {
                return Err(pod_error(resp.status, &resp.body, Some(bottom), type_id));
            }
        }
        Ok(())
    }

    // ---- access ----------------------------------------------------------------------------

    /// The projects given access to a private type (404 for a public one, as Cinder).
    pub async fn type_access(&self, id: &str) -> Result<(String, Vec<String>)> {
        let t = self.get_type(id, &Scope::Admin).await?;
        if t.is_public {
            return Err(CoreError::not_found(
                "Access list not available for public volume types.",
            ));
        }
        Ok((t.id.clone(), self.store.volume_type_projects(&t.id).await?))
    }

    /// `addProjectAccess` (`add`) or `removeProjectAccess`.
    pub async fn change_type_access(&self, id: &str, project: &str, add: bool) -> Result<()> {
        let t = self.get_type(id, &Scope::Admin).await?;
        if t.is_public {
            return Err(CoreError::bad_request(
                "Invalid volume type: Type access modification is not applicable to public volume type.",
            ));
        }
        let r = if add {
            self.store.add_volume_type_access(&t.id, project).await
        } else {
            self.store.remove_volume_type_access(&t.id, project).await
        };
        r.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::conflict(format!(
                "Volume type access for {} / {project} combination already exists.",
                t.id
            )),
            StoreError::NotFound => CoreError::not_found(format!(
                "Volume type access not found for {} / {project} combination.",
                t.id
            )),
            other => other.into(),
        })
    }
}

fn spec_missing(type_id: &str, key: &str) -> CoreError {
    CoreError::not_found(format!(
        "Volume Type {type_id} has no extra specs with key {key}."
    ))
}

/// Cinder's limits on extra spec keys and values (1–255 characters).
fn check_specs(specs: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in specs {
        if k.is_empty() || k.len() > 255 || v.len() > 255 {
            return Err(CoreError::bad_request(format!(
                "Invalid input for field/attribute extra_specs. Value: {k}."
            )));
        }
    }
    Ok(())
}
