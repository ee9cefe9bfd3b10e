//! The contents of a namespace: objects (`…/objects`), property types (`…/properties`) and
//! tags (`…/tags`), each a `metadef_items` row of its kind whose name is unique in its
//! namespace. Updates are full replacements that may rename; Glance's own messages for
//! duplicates (409) and missing items (404).

use cascade_store::StoreError;
use cascade_store::metadefs::{ItemKind, ItemRow, NamespaceRow};
use cascade_store::now_micros;

use super::docs::{ObjectBody, ObjectDoc, ObjectView, PropertyMap, PropertyType, TagView, iso};
use super::{ListParams, Metadefs};
use crate::Result;
use crate::error::CoreError;
use crate::image::Caller;

const OBJECT_SCHEMA: &str = "/v2/schemas/metadefs/object";

fn duplicate(kind: ItemKind, name: &str, ns: &str) -> CoreError {
    CoreError::conflict(match kind {
        ItemKind::Object => format!(
            "A metadata definition object with name={name} already exists in namespace={ns}."
        ),
        ItemKind::Property => format!(
            "A metadata definition property with name={name} already exists in namespace={ns}."
        ),
        ItemKind::Tag => format!(
            "A metadata tag with name={name} already exists in namespace={ns}. (Please note \
             that metadata tag names are case insensitive)."
        ),
    })
}

fn missing(kind: ItemKind, name: &str, ns: &str) -> CoreError {
    CoreError::not_found(match kind {
        ItemKind::Object => format!(
            "The metadata definition object with name={name} was not found in namespace={ns}."
        ),
        ItemKind::Property => format!(
            "The metadata definition property with name={name} was not found in namespace={ns}."
        ),
        ItemKind::Tag => {
            format!("The metadata definition tag with name={name} was not found in namespace={ns}.")
        }
    })
}

/// Maps the store's answer about one item to Glance's errors.
fn item_result<T>(r: cascade_store::Result<T>, kind: ItemKind, name: &str, ns: &str) -> Result<T> {
    match r {
        Ok(v) => Ok(v),
        Err(StoreError::Conflict(_)) => Err(duplicate(kind, name, ns)),
        Err(StoreError::NotFound) => Err(missing(kind, name, ns)),
        Err(e) => Err(e.into()),
    }
}

fn to_doc<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| CoreError::internal(e.to_string()))
}

fn from_doc<T: serde::de::DeserializeOwned + Default>(doc: &str) -> T {
    serde_json::from_str(doc).unwrap_or_default()
}

fn object_view(ns: &str, row: ItemRow) -> ObjectView {
    let body: ObjectBody = from_doc(&row.doc);
    ObjectView {
        self_link: format!("/v2/metadefs/namespaces/{ns}/objects/{}", row.name),
        name: row.name,
        description: body.description,
        required: body.required,
        properties: body.properties,
        created_at: iso(row.created_at),
        updated_at: iso(row.updated_at),
        schema: OBJECT_SCHEMA.into(),
    }
}

fn property_view(row: ItemRow) -> PropertyType {
    let mut p: PropertyType = from_doc(&row.doc);
    p.name = Some(row.name);
    p
}

fn tag_view(row: ItemRow) -> TagView {
    TagView {
        name: row.name,
        created_at: Some(iso(row.created_at)),
        updated_at: Some(iso(row.updated_at)),
    }
}

/// The sort keys item listings accept.
const ITEM_SORT_KEYS: &[&str] = &["created_at", "updated_at", "name"];

fn item_key(r: &ItemRow, key: &str) -> Option<String> {
    match key {
        "created_at" => Some(format!("{:020}", r.created_at)),
        "updated_at" => Some(format!("{:020}", r.updated_at)),
        "name" => Some(r.name.clone()),
        _ => None,
    }
}

impl Metadefs<'_> {
    async fn items(
        &self,
        row: &NamespaceRow,
        kind: ItemKind,
        params: &[(String, String)],
    ) -> Result<Vec<ItemRow>> {
        let rows = self.store.list_metadef_items(&row.id, kind).await?;
        let mut p = ListParams::parse(params)?;
        if params.is_empty() {
            // Contents shown inside a namespace: oldest first, as stored.
            p.desc = false;
        }
        p.page(rows, ITEM_SORT_KEYS, item_key, |r| r.name.as_str())
    }

    pub(super) async fn insert_object(
        &self,
        ns: &NamespaceRow,
        o: &ObjectDoc,
        now: i64,
    ) -> Result<ObjectView> {
        let row = ItemRow {
            name: o.name.clone(),
            doc: to_doc(&o.body)?,
            created_at: now,
            updated_at: now,
        };
        let r = self
            .store
            .insert_metadef_item(&ns.id, ItemKind::Object, &row)
            .await;
        item_result(r, ItemKind::Object, &o.name, &ns.namespace)?;
        Ok(object_view(&ns.namespace, row))
    }

    /// `GET …/objects` (newest first unless sorted otherwise).
    pub async fn list_objects(
        &self,
        caller: &Caller,
        ns: &str,
        params: &[(String, String)],
    ) -> Result<Vec<ObjectView>> {
        let row = self.namespace_row(caller, ns).await?;
        let items = self.items(&row, ItemKind::Object, params).await?;
        Ok(items.into_iter().map(|i| object_view(ns, i)).collect())
    }

    /// `POST …/objects`.
    pub async fn create_object(
        &self,
        caller: &Caller,
        ns: &str,
        o: ObjectDoc,
    ) -> Result<ObjectView> {
        let row = self.namespace_row(caller, ns).await?;
        self.insert_object(&row, &o, now_micros()).await
    }

    /// `GET …/objects/{name}`.
    pub async fn show_object(&self, caller: &Caller, ns: &str, name: &str) -> Result<ObjectView> {
        let row = self.namespace_row(caller, ns).await?;
        let r = self
            .store
            .get_metadef_item(&row.id, ItemKind::Object, name)
            .await;
        Ok(object_view(ns, item_result(r, ItemKind::Object, name, ns)?))
    }

    /// `PUT …/objects/{name}`: replaces (and may rename) the object.
    pub async fn update_object(
        &self,
        caller: &Caller,
        ns: &str,
        name: &str,
        o: ObjectDoc,
    ) -> Result<ObjectView> {
        let row = self.namespace_row(caller, ns).await?;
        let old = self
            .store
            .get_metadef_item(&row.id, ItemKind::Object, name)
            .await;
        let old = item_result(old, ItemKind::Object, name, ns)?;
        let new = ItemRow {
            name: o.name.clone(),
            doc: to_doc(&o.body)?,
            created_at: old.created_at,
            updated_at: now_micros(),
        };
        let r = self
            .store
            .update_metadef_item(&row.id, ItemKind::Object, name, &new)
            .await;
        item_result(r, ItemKind::Object, &o.name, ns)?;
        Ok(object_view(ns, new))
    }

    /// `DELETE …/objects/{name}`.
    pub async fn delete_object(&self, caller: &Caller, ns: &str, name: &str) -> Result<()> {
        self.delete_item(caller, ns, ItemKind::Object, name).await
    }

    async fn delete_item(
        &self,
        caller: &Caller,
        ns: &str,
        kind: ItemKind,
        name: &str,
    ) -> Result<()> {
        let row = self.namespace_row(caller, ns).await?;
        let r = self.store.delete_metadef_item(&row.id, kind, name).await;
        item_result(r, kind, name, ns)
    }

    /// `DELETE …/objects`, `…/properties`, `…/tags`: empties the namespace of one kind (a
    /// protected namespace cannot be emptied, as it cannot be deleted).
    pub async fn delete_all(&self, caller: &Caller, ns: &str, kind: ItemKind) -> Result<()> {
        let row = self.deletable(caller, ns).await?;
        Ok(self.store.delete_metadef_items(&row.id, kind).await?)
    }

    pub(super) async fn insert_property(
        &self,
        ns: &NamespaceRow,
        p: &PropertyType,
        now: i64,
    ) -> Result<PropertyType> {
        let name = p.name.clone().unwrap_or_default();
        let row = ItemRow {
            name: name.clone(),
            doc: to_doc(p)?,
            created_at: now,
            updated_at: now,
        };
        let r = self
            .store
            .insert_metadef_item(&ns.id, ItemKind::Property, &row)
            .await;
        item_result(r, ItemKind::Property, &name, &ns.namespace)?;
        Ok(property_view(row))
    }

    /// `GET …/properties`: the property types by name.
    pub async fn list_properties(&self, caller: &Caller, ns: &str) -> Result<PropertyMap> {
        let row = self.namespace_row(caller, ns).await?;
        let rows = self
            .store
            .list_metadef_items(&row.id, ItemKind::Property)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.name.clone(), property_view(r)))
            .collect())
    }

    /// `POST …/properties` (the document names the property).
    pub async fn create_property(
        &self,
        caller: &Caller,
        ns: &str,
        p: PropertyType,
    ) -> Result<PropertyType> {
        let row = self.namespace_row(caller, ns).await?;
        self.insert_property(&row, &p, now_micros()).await
    }

    /// `GET …/properties/{name}`; with `resource_type`, `name` carries that association's
    /// prefix, which must be there.
    pub async fn show_property(
        &self,
        caller: &Caller,
        ns: &str,
        name: &str,
        resource_type: Option<&str>,
    ) -> Result<PropertyType> {
        let row = self.namespace_row(caller, ns).await?;
        let mut name = name.to_string();
        if let Some(rt) = resource_type {
            let assocs = self.store.list_metadef_associations(&row.id).await?;
            let Some(a) = assocs.into_iter().find(|a| a.resource_type == rt) else {
                return Err(CoreError::not_found(format!(
                    "The metadata definition resource-type association of resource-type={rt} \
                     to namespace={ns}, was not found."
                )));
            };
            let prefix = a.prefix.unwrap_or_default();
            match name.strip_prefix(prefix.as_str()) {
                Some(rest) if !prefix.is_empty() => name = rest.to_string(),
                _ => {
                    return Err(CoreError::not_found(format!(
                        "Property {name} does not start with the expected resource type \
                         association prefix of '{prefix}'."
                    )));
                }
            }
        }
        let r = self
            .store
            .get_metadef_item(&row.id, ItemKind::Property, &name)
            .await;
        Ok(property_view(item_result(
            r,
            ItemKind::Property,
            &name,
            ns,
        )?))
    }

    /// `PUT …/properties/{name}`: replaces (and may rename) the property.
    pub async fn update_property(
        &self,
        caller: &Caller,
        ns: &str,
        name: &str,
        p: PropertyType,
    ) -> Result<PropertyType> {
        let row = self.namespace_row(caller, ns).await?;
        let old = self
            .store
            .get_metadef_item(&row.id, ItemKind::Property, name)
            .await;
        let old = item_result(old, ItemKind::Property, name, ns)?;
        let new_name = p.name.clone().unwrap_or_default();
        let new = ItemRow {
            name: new_name.clone(),
            doc: to_doc(&p)?,
            created_at: old.created_at,
            updated_at: now_micros(),
        };
        let r = self
            .store
            .update_metadef_item(&row.id, ItemKind::Property, name, &new)
            .await;
        item_result(r, ItemKind::Property, &new_name, ns)?;
        Ok(property_view(new))
    }

    /// `DELETE …/properties/{name}`.
    pub async fn delete_property(&self, caller: &Caller, ns: &str, name: &str) -> Result<()> {
        self.delete_item(caller, ns, ItemKind::Property, name).await
    }

    pub(super) async fn insert_tag(
        &self,
        ns: &NamespaceRow,
        name: &str,
        now: i64,
    ) -> Result<TagView> {
        let row = ItemRow {
            name: name.to_string(),
            doc: "{}".into(),
            created_at: now,
            updated_at: now,
        };
        let r = self
            .store
            .insert_metadef_item(&ns.id, ItemKind::Tag, &row)
            .await;
        item_result(r, ItemKind::Tag, name, &ns.namespace)?;
        Ok(tag_view(row))
    }

    /// `GET …/tags` (newest first unless sorted otherwise).
    pub async fn list_tags(
        &self,
        caller: &Caller,
        ns: &str,
        params: &[(String, String)],
    ) -> Result<Vec<TagView>> {
        let row = self.namespace_row(caller, ns).await?;
        let items = self.items(&row, ItemKind::Tag, params).await?;
        Ok(items.into_iter().map(tag_view).collect())
    }

    /// `POST …/tags/{name}`.
    pub async fn create_tag(&self, caller: &Caller, ns: &str, name: &str) -> Result<TagView> {
        let row = self.namespace_row(caller, ns).await?;
        super::docs::max_len("tag", "name", Some(name), 80)?;
        self.insert_tag(&row, name, now_micros()).await
    }

    /// `POST …/tags`: replaces every tag with `names` (or adds them when `append`, Glance's
    /// `X-Openstack-Append`), all or nothing.
    pub async fn create_tags(
        &self,
        caller: &Caller,
        ns: &str,
        names: &[String],
        append: bool,
    ) -> Result<Vec<TagView>> {
        let row = self.namespace_row(caller, ns).await?;
        let now = now_micros();
        if let Some(dup) = names
            .iter()
            .enumerate()
            .find(|(i, n)| names[..*i].contains(n))
            .map(|(_, n)| n)
        {
            return Err(duplicate(ItemKind::Tag, dup, ns));
        }
        let rows: Vec<ItemRow> = names
            .iter()
            .map(|n| ItemRow {
                name: n.clone(),
                doc: "{}".into(),
                created_at: now,
                updated_at: now,
            })
            .collect();
        if !names.is_empty() {
            let r = self
                .store
                .insert_metadef_items(&row.id, ItemKind::Tag, &rows, append)
                .await;
            let first = names.first().map(String::as_str).unwrap_or_default();
            item_result(r, ItemKind::Tag, first, ns)?;
        }
        Ok(names
            .iter()
            .map(|n| TagView {
                name: n.clone(),
                created_at: None,
                updated_at: None,
            })
            .collect())
    }

    /// `GET …/tags/{name}`.
    pub async fn show_tag(&self, caller: &Caller, ns: &str, name: &str) -> Result<TagView> {
        let row = self.namespace_row(caller, ns).await?;
        let r = self
            .store
            .get_metadef_item(&row.id, ItemKind::Tag, name)
            .await;
        Ok(tag_view(item_result(r, ItemKind::Tag, name, ns)?))
    }

    /// `PUT …/tags/{name}`: renames the tag.
    pub async fn update_tag(
        &self,
        caller: &Caller,
        ns: &str,
        name: &str,
        new_name: &str,
    ) -> Result<TagView> {
        let row = self.namespace_row(caller, ns).await?;
        let old = self
            .store
            .get_metadef_item(&row.id, ItemKind::Tag, name)
            .await;
        let old = item_result(old, ItemKind::Tag, name, ns)?;
        let new = ItemRow {
            name: new_name.to_string(),
            doc: old.doc,
            created_at: old.created_at,
            updated_at: now_micros(),
        };
        let r = self
            .store
            .update_metadef_item(&row.id, ItemKind::Tag, name, &new)
            .await;
        item_result(r, ItemKind::Tag, new_name, ns)?;
        Ok(tag_view(new))
    }

    /// `DELETE …/tags/{name}`.
    pub async fn delete_tag(&self, caller: &Caller, ns: &str, name: &str) -> Result<()> {
        self.delete_item(caller, ns, ItemKind::Tag, name).await
    }
}
