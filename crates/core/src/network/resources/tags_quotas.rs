//! Tags and quotas of Neutron resources.

use super::*;

/// The Neutron quota resources and their defaults.
pub(super) fn quota_doc(q: &NetQuotas) -> Value {
    json!({"network": q.network, "subnet": q.subnet, "port": q.port, "router": q.router,
           "floatingip": q.floatingip, "security_group": q.security_group,
           "security_group_rule": q.security_group_rule, "subnetpool": -1, "rbac_policy": 10})
}

impl NetworkService {
    /// The tags of a resource the caller can see.
    pub async fn tags(&self, caller: &Caller, kind: Kind, id: &str) -> NetResult<Vec<String>> {
        let d = self.load_visible(caller, kind, id).await?;
        Ok(d["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Replaces the tags of a resource (`None` tag: set all; `Some((tag, add))`: one).
    pub async fn set_tags(
        &self,
        caller: &Caller,
        kind: Kind,
        id: &str,
        all: Option<Vec<String>>,
        one: Option<(&str, bool)>,
    ) -> NetResult<Vec<String>> {
        let (_, mut d) = self.load_owned(caller, kind, id, "update").await?;
        let mut tags: Vec<String> = d["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(all) = all {
            tags = Vec::new();
            for t in all {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
        }
        if let Some((t, add)) = one {
            if add {
                if !tags.iter().any(|x| x == t) {
                    tags.push(t.to_string());
                }
            } else if tags.iter().any(|x| x == t) {
                tags.retain(|x| x != t);
            } else {
                return Err(NetError::new(
                    404,
                    "TagNotFound",
                    format!("Tag {t} could not be found for {} {id}.", kind.singular()),
                ));
            }
        }
        for t in &tags {
            if t.is_empty() || t.len() > 255 || t.contains(',') {
                return Err(NetError::invalid_input(format!("'{t}' is not a valid tag")));
            }
        }
        d.insert("tags".into(), json!(tags));
        stamp(&mut d, false);
        self.save(kind, &d, None, None, None).await?;
        Ok(tags)
    }

    /// The configured defaults with the project's overrides applied.
    pub(crate) async fn effective_quotas(&self, project_id: &str) -> NetResult<NetQuotas> {
        let mut q = self.config.quotas.clone();
        for (resource, limit) in self.store.net_quota_overrides(project_id).await? {
            match resource.as_str() {
                "network" => q.network = limit,
                "subnet" => q.subnet = limit,
                "port" => q.port = limit,
                "router" => q.router = limit,
                "floatingip" => q.floatingip = limit,
                "security_group" => q.security_group = limit,
                "security_group_rule" => q.security_group_rule = limit,
                _ => {}
            }
        }
        Ok(q)
    }

    /// `GET /v2.0/quotas/{project_id}`: the limits. A tenant may read only its own.
    pub async fn quota(&self, caller: &Caller, project_id: &str) -> NetResult<Value> {
        if !caller.owns(project_id) {
            return Err(NetError::forbidden("rule:get_quota"));
        }
        Ok(quota_doc(&self.effective_quotas(project_id).await?))
    }

    /// `PUT /v2.0/quotas/{project_id}` (admin): sets overrides; `-1` is unlimited.
    pub async fn update_quota(
        &self,
        caller: &Caller,
        project_id: &str,
        body: &Doc,
    ) -> NetResult<Value> {
        if !caller.is_admin {
            return Err(NetError::forbidden("rule:update_quota"));
        }
        const KNOWN: &[&str] = &[
            "network",
            "subnet",
            "port",
            "router",
            "floatingip",
            "security_group",
            "security_group_rule",
        ];
        let mut updates = Vec::new();
        for (k, v) in body.iter() {
            if !KNOWN.contains(&k.as_str()) {
                return Err(NetError::bad_request(format!(
                    "Unrecognized attribute(s) '{k}'"
                )));
            }
            let n = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .filter(|n| *n >= -1)
                .ok_or_else(|| {
                    NetError::bad_request(format!(
                        "Invalid input for {k}. Reason: '{v}' is not an integer >= -1."
                    ))
                })?;
            updates.push((k.clone(), n));
        }
        for (k, n) in updates {
            self.store.set_net_quota(project_id, &k, n).await?;
        }
        Ok(quota_doc(&self.effective_quotas(project_id).await?))
    }

    /// `DELETE /v2.0/quotas/{project_id}` (admin): back to the defaults.
    pub async fn reset_quota(&self, caller: &Caller, project_id: &str) -> NetResult<()> {
        if !caller.is_admin {
            return Err(NetError::forbidden("rule:delete_quota"));
        }
        self.store.delete_net_quotas(project_id).await?;
        Ok(())
    }

    /// `GET /v2.0/quotas/{project_id}/details`: limits, usage and reservations.
    pub async fn quota_details(&self, caller: &Caller, project_id: &str) -> NetResult<Value> {
        if !caller.owns(project_id) {
            return Err(NetError::forbidden("rule:get_quota"));
        }
        let limits = quota_doc(&self.effective_quotas(project_id).await?);
        let mut out = serde_json::Map::new();
        for (k, limit) in limits.as_object().cloned().unwrap_or_default() {
            let used = match k.as_str() {
                "subnetpool" | "rbac_policy" => 0,
                _ => self.store.count_net_resources(&k, project_id).await?,
            };
            out.insert(k, json!({"limit": limit, "used": used, "reserved": 0}));
        }
        Ok(Value::Object(out))
    }

    /// Every resource of the project, by kind (tests and tools).
    pub async fn count_by_kind(&self, project_id: &str) -> NetResult<BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        for k in Kind::ALL {
            out.insert(
                k.singular().to_string(),
                self.store
                    .count_net_resources(k.singular(), project_id)
                    .await?,
            );
        }
        Ok(out)
    }
}
