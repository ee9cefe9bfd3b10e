//! Glance's metadata definitions catalog (`/v2/metadefs`), kept by the global Glance in
//! Cascade's own store: no pod is involved, since the catalog describes properties tenants
//! may set on images, volumes, flavors and servers everywhere. Namespaces have Glance's
//! visibility rules: an administrator sees every namespace, a project its own and the public
//! ones, and a namespace it cannot see is a 404 (never a 403) on every route under it. Only
//! administrators change the catalog (the route policy `metadef_admin`); a `protected`
//! namespace cannot be deleted, nor emptied of its objects, properties or tags. Resource
//! types are shared; Glance's own are seeded, others are created by their first association.
//! Listings page like Glance: `limit` (namespaces default to 25, at most 1,000), `marker`
//! (a name), `sort_key`, `sort_dir`.

mod docs;
mod items;

use cascade_store::metadefs::{AssociationRow, NamespaceRow};
use cascade_store::{Store, StoreError, now_micros};

use crate::Result;
use crate::error::CoreError;
use crate::image::{Caller, ImageService};

pub use cascade_store::metadefs::ItemKind;
pub(crate) use docs::iso;
pub use docs::{
    AssociationDoc, AssociationView, ItemType, NamespaceDoc, NamespaceView, ObjectBody, ObjectDoc,
    ObjectView, PropertyMap, PropertyType, ResourceTypeView, TagDoc, TagView,
};

/// The link to the namespace schema every namespace view carries.
pub const NAMESPACE_SCHEMA: &str = "/v2/schemas/metadefs/namespace";
/// Glance's `limit_param_default` and `api_limit_max`.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 1000;

/// One page of namespaces and the marker of the next one (the last name, when full).
#[derive(Debug, Clone)]
pub struct NamespacePage {
    pub namespaces: Vec<NamespaceView>,
    pub next_marker: Option<String>,
}

/// The catalog, borrowed from the image service.
#[derive(Debug, Clone, Copy)]
pub struct Metadefs<'a> {
    store: &'a Store,
}

impl ImageService {
    /// The metadata definitions catalog.
    pub fn metadefs(&self) -> Metadefs<'_> {
        Metadefs { store: &self.store }
    }
}

fn ns_not_found(name: &str) -> CoreError {
    CoreError::not_found(format!(
        "Metadata definition namespace={name} was not found."
    ))
}

fn visible(row: &NamespaceRow, caller: &Caller) -> bool {
    caller.is_admin || row.owner == caller.project_id || row.visibility == "public"
}

fn assoc_view(a: AssociationRow) -> AssociationView {
    AssociationView {
        name: a.resource_type,
        prefix: a.prefix,
        properties_target: a.properties_target,
        created_at: iso(a.created_at),
        updated_at: iso(a.updated_at),
    }
}

fn ns_view(n: &NamespaceRow) -> NamespaceView {
    NamespaceView {
        namespace: n.namespace.clone(),
        display_name: n.display_name.clone(),
        description: n.description.clone(),
        visibility: n.visibility.clone(),
        protected: n.protected,
        owner: n.owner.clone(),
        created_at: iso(n.created_at),
        updated_at: iso(n.updated_at),
        resource_type_associations: None,
        properties: None,
        objects: None,
        tags: None,
        self_link: format!("/v2/metadefs/namespaces/{}", n.namespace),
        schema: NAMESPACE_SCHEMA.into(),
    }
}

/// Glance's list parameters shared by every metadefs listing.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListParams {
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub sort_key: String,
    pub desc: bool,
    /// The other parameters (filters).
    pub filters: Vec<(String, String)>,
}

impl ListParams {
    pub(crate) fn parse(params: &[(String, String)]) -> Result<ListParams> {
        let mut out = ListParams {
            sort_key: "created_at".into(),
            desc: true,
            ..ListParams::default()
        };
        for (k, v) in params {
            match k.as_str() {
                "limit" => {
                    let n: i64 = v
                        .parse()
                        .map_err(|_| CoreError::bad_request("limit param must be an integer"))?;
                    if n < 0 {
                        return Err(CoreError::bad_request("limit param must be positive"));
                    }
                    out.limit = Some(n as usize);
                }
                "marker" => out.marker = Some(v.clone()),
                "sort_key" => out.sort_key = v.clone(),
                "sort_dir" => {
                    out.desc = match v.as_str() {
                        "desc" => true,
                        "asc" => false,
                        _ => {
                            return Err(CoreError::bad_request(format!(
                                "Invalid sort direction: {v}"
                            )));
                        }
                    }
                }
                _ => out.filters.push((k.clone(), v.clone())),
            }
        }
        Ok(out)
    }

    pub(crate) fn filter(&self, key: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sorts `rows` by the sort key (one of `keys`, else a 400; then by name), skips up to
    /// and including the marker (a 404 when it is not among them) and keeps `limit`.
    pub(crate) fn page<T>(
        &self,
        mut rows: Vec<T>,
        keys: &[&str],
        key: impl Fn(&T, &str) -> Option<String>,
        name: impl Fn(&T) -> &str,
    ) -> Result<Vec<T>> {
        let sort_key = self.sort_key.as_str();
        if !keys.contains(&sort_key) {
            return Err(CoreError::bad_request(format!(
                "Invalid sort key: {sort_key}"
            )));
        }
        rows.sort_by(|a, b| {
            let o = key(a, sort_key)
                .cmp(&key(b, sort_key))
                .then_with(|| name(a).cmp(name(b)));
            if self.desc { o.reverse() } else { o }
        });
        if let Some(marker) = &self.marker {
            let Some(pos) = rows.iter().position(|r| name(r) == marker) else {
                return Err(CoreError::not_found(format!(
                    "The marker {marker} could not be found."
                )));
            };
            rows.drain(..=pos);
        }
        if let Some(limit) = self.limit {
            rows.truncate(limit);
        }
        Ok(rows)
    }
}

impl<'a> Metadefs<'a> {
    /// A namespace the caller can see (404 otherwise).
    pub(crate) async fn namespace_row(&self, caller: &Caller, name: &str) -> Result<NamespaceRow> {
        match self.store.get_metadef_namespace(name).await {
            Ok(row) if visible(&row, caller) => Ok(row),
            Ok(_) | Err(StoreError::NotFound) => Err(ns_not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /v2/metadefs/namespaces`.
    pub async fn list_namespaces(
        &self,
        caller: &Caller,
        params: &[(String, String)],
    ) -> Result<NamespacePage> {
        let mut p = ListParams::parse(params)?;
        let limit = p.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
        p.limit = Some(limit);
        let project = (!caller.is_admin).then_some(caller.project_id.as_str());
        let mut rows = self.store.list_metadef_namespaces(project).await?;
        if let Some(v) = p.filter("visibility") {
            if v != "public" && v != "private" {
                return Err(CoreError::bad_request(format!(
                    "Invalid visibility value: {v}"
                )));
            }
            rows.retain(|r| r.visibility == v);
        }
        if let Some(types) = p.filter("resource_types") {
            let types: Vec<String> = types.split(',').map(|t| t.trim().to_string()).collect();
            let ids = self.store.metadef_namespaces_of_types(&types).await?;
            rows.retain(|r| ids.contains(&r.id));
        }
        if let Some(marker) = &p.marker {
            self.namespace_row(caller, marker).await?;
        }
        let rows = p.page(
            rows,
            &[
                "created_at",
                "updated_at",
                "namespace",
                "display_name",
                "visibility",
                "owner",
            ],
            |r, key| match key {
                "created_at" => Some(format!("{:020}", r.created_at)),
                "updated_at" => Some(format!("{:020}", r.updated_at)),
                "namespace" => Some(r.namespace.clone()),
                "display_name" => Some(r.display_name.clone().unwrap_or_default()),
                "visibility" => Some(r.visibility.clone()),
                "owner" => Some(r.owner.clone()),
                _ => None,
            },
            |r| r.namespace.as_str(),
        )?;
        let mut namespaces = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut v = ns_view(r);
            let assocs = self.store.list_metadef_associations(&r.id).await?;
            if !assocs.is_empty() {
                v.resource_type_associations = Some(assocs.into_iter().map(assoc_view).collect());
            }
            namespaces.push(v);
        }
        let next_marker = (limit > 0 && namespaces.len() == limit)
            .then(|| namespaces.last().map(|n| n.namespace.clone()))
            .flatten();
        Ok(NamespacePage {
            namespaces,
            next_marker,
        })
    }

    /// `POST /v2/metadefs/namespaces`: the namespace and everything it carries, all or
    /// nothing (a failure part-way deletes the new namespace again, as Glance does).
    pub async fn create_namespace(
        &self,
        caller: &Caller,
        doc: NamespaceDoc,
    ) -> Result<NamespaceView> {
        let now = now_micros();
        let row = NamespaceRow {
            id: uuid::Uuid::new_v4().to_string(),
            namespace: doc.namespace.clone(),
            display_name: doc.display_name.clone(),
            description: doc.description.clone(),
            visibility: doc.visibility.clone().unwrap_or_else(|| "private".into()),
            protected: doc.protected.unwrap_or(false),
            owner: doc
                .owner
                .clone()
                .unwrap_or_else(|| caller.project_id.clone()),
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_metadef_namespace(&row).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(CoreError::conflict(format!(
                    "The metadata definition namespace={} already exists.",
                    row.namespace
                )));
            }
            Err(e) => return Err(e.into()),
        }
        match self.fill_namespace(&row, &doc, now).await {
            Ok(()) => {}
            Err(e) => {
                if let Err(cleanup) = self.store.delete_metadef_namespace(&row.id).await {
                    tracing::error!(namespace = %row.namespace, error = %cleanup,
                        "could not delete a half-created metadef namespace");
                }
                return Err(e);
            }
        }
        self.detail(caller, &row, None).await
    }

    async fn fill_namespace(&self, row: &NamespaceRow, doc: &NamespaceDoc, now: i64) -> Result<()> {
        for a in &doc.resource_type_associations {
            self.insert_association(row, a, now).await?;
        }
        for o in &doc.objects {
            self.insert_object(row, o, now).await?;
        }
        for t in &doc.tags {
            self.insert_tag(row, &t.name, now).await?;
        }
        for (name, p) in doc.properties.iter().flatten() {
            let mut p = p.clone();
            p.name = Some(name.clone());
            self.insert_property(row, &p, now).await?;
        }
        Ok(())
    }

    /// `GET /v2/metadefs/namespaces/{namespace}`: with its associations, objects, properties
    /// and tags; `resource_type` prefixes property names with that association's prefix.
    pub async fn show_namespace(
        &self,
        caller: &Caller,
        name: &str,
        resource_type: Option<&str>,
    ) -> Result<NamespaceView> {
        let row = self.namespace_row(caller, name).await?;
        self.detail(caller, &row, resource_type).await
    }

    async fn detail(
        &self,
        caller: &Caller,
        row: &NamespaceRow,
        resource_type: Option<&str>,
    ) -> Result<NamespaceView> {
        let mut v = ns_view(row);
        let assocs = self.store.list_metadef_associations(&row.id).await?;
        let prefix = resource_type.and_then(|rt| {
            assocs
                .iter()
                .find(|a| a.resource_type == rt)
                .and_then(|a| a.prefix.clone())
        });
        if !assocs.is_empty() {
            v.resource_type_associations = Some(assocs.into_iter().map(assoc_view).collect());
        }
        let mut objects = self.list_objects(caller, &row.namespace, &[]).await?;
        let mut properties = self.list_properties(caller, &row.namespace).await?;
        if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
            properties = properties
                .into_iter()
                .map(|(k, p)| (format!("{prefix}{k}"), p))
                .collect();
            for o in &mut objects {
                o.properties = std::mem::take(&mut o.properties)
                    .into_iter()
                    .map(|(k, p)| (format!("{prefix}{k}"), p))
                    .collect();
                o.required = o.required.iter().map(|r| format!("{prefix}{r}")).collect();
            }
        }
        if !objects.is_empty() {
            v.objects = Some(objects);
        }
        if !properties.is_empty() {
            v.properties = Some(properties);
        }
        let tags = self.list_tags(caller, &row.namespace, &[]).await?;
        if !tags.is_empty() {
            v.tags = Some(
                tags.into_iter()
                    .map(|t| TagView {
                        name: t.name,
                        created_at: None,
                        updated_at: None,
                    })
                    .collect(),
            );
        }
        Ok(v)
    }

    /// `PUT /v2/metadefs/namespaces/{namespace}`: replaces the namespace's own fields (not its
    /// contents); unset visibility, protected and owner fall back to `private`, `false` and
    /// the caller's project, as in Glance.
    pub async fn update_namespace(
        &self,
        caller: &Caller,
        name: &str,
        doc: NamespaceDoc,
    ) -> Result<NamespaceView> {
        let mut row = self.namespace_row(caller, name).await?;
        row.namespace = doc.namespace;
        row.display_name = doc.display_name;
        row.description = doc.description;
        row.visibility = doc.visibility.unwrap_or_else(|| "private".into());
        row.protected = doc.protected.unwrap_or(false);
        row.owner = doc.owner.unwrap_or_else(|| caller.project_id.clone());
        row.updated_at = now_micros();
        match self.store.update_metadef_namespace(&row).await {
            Ok(()) => Ok(ns_view(&row)),
            Err(StoreError::Conflict(_)) => Err(CoreError::conflict(format!(
                "The metadata definition namespace={} already exists.",
                row.namespace
            ))),
            Err(StoreError::NotFound) => Err(ns_not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// A namespace that may be deleted or emptied: visible and not protected.
    pub(crate) async fn deletable(&self, caller: &Caller, name: &str) -> Result<NamespaceRow> {
        let row = self.namespace_row(caller, name).await?;
        if row.protected {
            return Err(CoreError::forbidden(format!(
                "Metadata definition namespace {name} is protected and cannot be deleted."
            )));
        }
        Ok(row)
    }

    /// `DELETE /v2/metadefs/namespaces/{namespace}`, with everything in it.
    pub async fn delete_namespace(&self, caller: &Caller, name: &str) -> Result<()> {
        let row = self.deletable(caller, name).await?;
        match self.store.delete_metadef_namespace(&row.id).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(ns_not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /v2/metadefs/resource_types`.
    pub async fn list_resource_types(&self) -> Result<Vec<ResourceTypeView>> {
        Ok(self
            .store
            .list_metadef_resource_types()
            .await?
            .into_iter()
            .map(|r| ResourceTypeView {
                name: r.name,
                created_at: iso(r.created_at),
                updated_at: iso(r.updated_at),
            })
            .collect())
    }

    /// `GET /v2/metadefs/namespaces/{namespace}/resource_types`.
    pub async fn list_associations(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Vec<AssociationView>> {
        let row = self.namespace_row(caller, name).await?;
        Ok(self
            .store
            .list_metadef_associations(&row.id)
            .await?
            .into_iter()
            .map(assoc_view)
            .collect())
    }

    async fn insert_association(
        &self,
        row: &NamespaceRow,
        a: &AssociationDoc,
        now: i64,
    ) -> Result<AssociationView> {
        let assoc = AssociationRow {
            resource_type: a.name.clone(),
            prefix: a.prefix.clone(),
            properties_target: a.properties_target.clone(),
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_metadef_association(&row.id, &assoc).await {
            Ok(()) => Ok(assoc_view(assoc)),
            Err(StoreError::Conflict(_)) => Err(CoreError::conflict(format!(
                "The metadata definition resource-type association of resource-type={} to \
                 namespace={} already exists.",
                a.name, row.namespace
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /v2/metadefs/namespaces/{namespace}/resource_types`.
    pub async fn add_association(
        &self,
        caller: &Caller,
        name: &str,
        doc: AssociationDoc,
    ) -> Result<AssociationView> {
        let row = self.namespace_row(caller, name).await?;
        self.insert_association(&row, &doc, now_micros()).await
    }

    /// `DELETE /v2/metadefs/namespaces/{namespace}/resource_types/{resource_type}`.
    pub async fn remove_association(
        &self,
        caller: &Caller,
        name: &str,
        resource_type: &str,
    ) -> Result<()> {
        let row = self.namespace_row(caller, name).await?;
        let known = self.store.list_metadef_resource_types().await?;
        if !known.iter().any(|r| r.name == resource_type) {
            return Err(CoreError::not_found(format!(
                "The metadata definition resource-type with name={resource_type}, was not found."
            )));
        }
        match self
            .store
            .delete_metadef_association(&row.id, resource_type)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(CoreError::not_found(format!(
                "The metadata definition resource-type association of \
                 resource-type={resource_type} to namespace={name}, was not found."
            ))),
            Err(e) => Err(e.into()),
        }
    }
}
