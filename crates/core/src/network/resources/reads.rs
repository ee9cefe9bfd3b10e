//! Loading and showing resources: project scoping (a tenant sees its own resources plus
//! shared and external networks, and the subnets of shared networks; an administrator sees
//! everything), availability zones as
//! Neutron renders them, and list / show.

use super::*;

impl NetworkService {
    /// A resource of `kind`, whoever owns it.
    pub(crate) async fn load(&self, kind: Kind, id: &str) -> NetResult<(NetResourceRow, Doc)> {
        match self.store.get_net_resource(id).await {
            Ok(row) if row.kind == kind.singular() => {
                let d = doc_of(&row);
                Ok((row, d))
            }
            Ok(_) | Err(StoreError::NotFound) => Err(NetError::not_found(kind, id)),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn try_load(
        &self,
        kind: Kind,
        id: &str,
    ) -> NetResult<Option<(NetResourceRow, Doc)>> {
        match self.load(kind, id).await {
            Ok(x) => Ok(Some(x)),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `caller` may see `doc` of `kind` (`net` is the network of a subnet).
    pub(super) fn visible(caller: &Caller, kind: Kind, doc: &Doc, net: Option<&Doc>) -> bool {
        if caller.owns(str_of(doc, "project_id")) {
            return true;
        }
        let public = |n: &Doc| n["shared"] == json!(true) || n["router:external"] == json!(true);
        match kind {
            Kind::Network => public(doc),
            // A tenant sees the subnets of shared networks, not those of another project's
            // external network (Neutron without `subnet-external-network`, which Cascade does
            // not list; tempest test_external_network_visibility).
            Kind::Subnet => net.is_some_and(|n| n["shared"] == json!(true)),
            Kind::SecurityGroup => doc["shared"] == json!(true),
            _ => false,
        }
    }

    pub(super) async fn load_visible(
        &self,
        caller: &Caller,
        kind: Kind,
        id: &str,
    ) -> NetResult<Doc> {
        let (_, d) = self.load(kind, id).await?;
        let net = if kind == Kind::Subnet {
            self.try_load(Kind::Network, str_of(&d, "network_id"))
                .await?
                .map(|x| x.1)
        } else {
            None
        };
        if Self::visible(caller, kind, &d, net.as_ref()) {
            Ok(d)
        } else {
            Err(NetError::not_found(kind, id))
        }
    }

    /// A resource the caller may change: 404 when invisible, 403 when only visible.
    pub(super) async fn load_owned(
        &self,
        caller: &Caller,
        kind: Kind,
        id: &str,
        action: &str,
    ) -> NetResult<(NetResourceRow, Doc)> {
        let (row, d) = self.load(kind, id).await?;
        if caller.owns(&row.project_id) {
            return Ok((row, d));
        }
        self.load_visible(caller, kind, id).await?;
        Err(NetError::forbidden(&format!(
            "rule:{action}_{}",
            kind.singular()
        )))
    }

    pub(super) async fn network_azs(&self) -> NetResult<HashMap<String, Vec<String>>> {
        let pods: HashMap<String, String> = self
            .pods
            .list()
            .await?
            .into_iter()
            .map(|p| (p.pod_id, p.az_name))
            .collect();
        let rows = self
            .store
            .list_routings(
                &RoutingFilter {
                    resource_type: Some("network".into()),
                    ..Default::default()
                },
                i64::MAX,
                None,
            )
            .await?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for r in rows {
            if let Some(az) = pods.get(&r.pod_id) {
                let e = out.entry(r.top_id).or_default();
                if !e.contains(az) {
                    e.push(az.clone());
                }
            }
        }
        for v in out.values_mut() {
            v.sort();
        }
        Ok(out)
    }

    /// Renders documents of one kind for `caller`, adding computed attributes.
    pub(super) async fn render(
        &self,
        caller: &Caller,
        kind: Kind,
        docs: Vec<Doc>,
    ) -> NetResult<Vec<Value>> {
        match kind {
            Kind::Network => {
                let azs = self.network_azs().await?;
                let mut subnets: HashMap<String, Vec<String>> = HashMap::new();
                for r in self.store.list_net_resources("subnet", None).await? {
                    if let Some(p) = r.parent_id {
                        subnets.entry(p).or_default().push(r.id);
                    }
                }
                Ok(docs
                    .into_iter()
                    .map(|mut d| {
                        let id = str_of(&d, "id").to_string();
                        d.insert(
                            "subnets".into(),
                            json!(subnets.remove(&id).unwrap_or_default()),
                        );
                        d.insert(
                            "availability_zones".into(),
                            json!(azs.get(&id).cloned().unwrap_or_default()),
                        );
                        view(&d, caller)
                    })
                    .collect())
            }
            Kind::SecurityGroup => {
                let mut out = Vec::new();
                for mut d in docs {
                    let rules: Vec<Value> = self
                        .store
                        .net_children("security_group_rule", str_of(&d, "id"))
                        .await?
                        .iter()
                        .map(|r| view(&doc_of(r), caller))
                        .collect();
                    d.insert("security_group_rules".into(), json!(rules));
                    out.push(view(&d, caller));
                }
                Ok(out)
            }
            Kind::Router => {
                let azs = self.router_azs().await?;
                Ok(docs
                    .into_iter()
                    .map(|mut d| {
                        let id = str_of(&d, "id").to_string();
                        d.insert(
                            "availability_zones".into(),
                            json!(azs.get(&id).cloned().unwrap_or_default()),
                        );
                        view(&d, caller)
                    })
                    .collect())
            }
            _ => Ok(docs.iter().map(|d| view(d, caller)).collect()),
        }
    }

    pub(super) async fn router_azs(&self) -> NetResult<HashMap<String, Vec<String>>> {
        let pods: HashMap<String, String> = self
            .pods
            .list()
            .await?
            .into_iter()
            .map(|p| (p.pod_id, p.az_name))
            .collect();
        let rows = self
            .store
            .list_routings(
                &RoutingFilter {
                    resource_type: Some("router".into()),
                    ..Default::default()
                },
                i64::MAX,
                None,
            )
            .await?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for r in rows {
            if let Some(az) = pods.get(&r.pod_id) {
                out.entry(r.top_id).or_default().push(az.clone());
            }
        }
        Ok(out)
    }

    /// `GET /v2.0/<collection>`.
    pub async fn list(&self, caller: &Caller, kind: Kind, q: &ListQuery) -> NetResult<Page> {
        if kind == Kind::SecurityGroup || kind == Kind::SecurityGroupRule {
            self.ensure_default_sg(&caller.project_id).await?;
        }
        // Administrators see all; tenants their own plus what is shared with them.
        let scope = match (caller.is_admin, kind) {
            (true, _) | (false, Kind::Network | Kind::Subnet | Kind::SecurityGroup) => None,
            _ => Some(caller.project_id.as_str()),
        };
        let scope = match (
            scope,
            q.filter_value("project_id").or(q.filter_value("tenant_id")),
        ) {
            (None, Some(p)) => Some(p),
            (s, _) => s,
        };
        let rows = self
            .store
            .list_net_resources(kind.singular(), scope)
            .await?;
        let nets: HashMap<String, Doc> = if kind == Kind::Subnet && !caller.is_admin {
            self.store
                .list_net_resources("network", None)
                .await?
                .iter()
                .map(|r| (r.id.clone(), doc_of(r)))
                .collect()
        } else {
            HashMap::new()
        };
        let docs: Vec<Doc> = rows
            .iter()
            .map(doc_of)
            .filter(|d| Self::visible(caller, kind, d, nets.get(str_of(d, "network_id"))))
            .collect();
        let rendered = self.render(caller, kind, docs).await?;
        q.apply(rendered)
    }

    /// `GET /v2.0/<collection>/{id}`.
    pub async fn show(&self, caller: &Caller, kind: Kind, id: &str) -> NetResult<Value> {
        let d = self.load_visible(caller, kind, id).await?;
        Ok(self
            .render(caller, kind, vec![d])
            .await?
            .pop()
            .unwrap_or(Value::Null))
    }
}
