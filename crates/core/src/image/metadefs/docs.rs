//! The documents of Glance's metadata definitions API: what clients send (namespaces,
//! resource type associations, objects, property types, tags), checked the way Glance's JSON
//! schemas check them (read-only attributes are a 403, anything else that does not match is a
//! 400 "Provided object does not match schema …"), and the views Glance answers with
//! (timestamps in second-precision ISO 8601, `self` and `schema` links, unset fields omitted).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Result;
use crate::error::CoreError;

/// The type names a property (and an array's items) may have.
const PROPERTY_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

/// Second-precision UTC timestamps, as Glance's `isotime`.
pub(crate) fn iso(us: i64) -> String {
    cascade_model::time::iso_seconds(cascade_store::from_micros(us))
}

pub(crate) fn schema_error(schema: &str, reason: impl std::fmt::Display) -> CoreError {
    CoreError::bad_request(format!(
        "Provided object does not match schema '{schema}': {reason}"
    ))
}

/// Checks `body` against a schema's shape: an object, none of `read_only` (403, as Glance's
/// deserializers), only `allowed` keys, every `required` key; then decodes it.
pub(crate) fn decode<T: DeserializeOwned>(
    schema: &str,
    body: &Value,
    read_only: &[&str],
    allowed: &[&str],
    required: &[&str],
) -> Result<T> {
    let Some(obj) = body.as_object() else {
        return Err(schema_error(
            schema,
            format!("{body} is not of type 'object'"),
        ));
    };
    if let Some(key) = read_only.iter().find(|k| obj.contains_key(**k)) {
        return Err(CoreError::forbidden(format!(
            "Attribute '{key}' is read-only."
        )));
    }
    if let Some(key) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(schema_error(
            schema,
            format!("Additional properties are not allowed ('{key}' was unexpected)"),
        ));
    }
    if let Some(key) = required.iter().find(|k| !obj.contains_key(**k)) {
        return Err(schema_error(
            schema,
            format!("'{key}' is a required property"),
        ));
    }
    serde_json::from_value(body.clone()).map_err(|e| schema_error(schema, e))
}

pub(crate) fn max_len(schema: &str, field: &str, value: Option<&str>, max: usize) -> Result<()> {
    match value {
        Some(v) if v.chars().count() > max => Err(schema_error(
            schema,
            format!("'{v}' is too long (the maximum length of '{field}' is {max})"),
        )),
        _ => Ok(()),
    }
}

/// An array's item type in a property type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemType {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub item_type: Option<String>,
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<Value>>,
}

/// A property type (`/v2/schemas/metadefs/property`), stored as this document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PropertyType {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub prop_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operators: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readonly: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<serde_json::Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<serde_json::Number>,
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(rename = "minLength", skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(rename = "maxLength", skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidential: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<ItemType>,
    #[serde(rename = "uniqueItems", skip_serializing_if = "Option::is_none")]
    pub unique_items: Option<bool>,
    #[serde(rename = "minItems", skip_serializing_if = "Option::is_none")]
    pub min_items: Option<u64>,
    #[serde(rename = "maxItems", skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    #[serde(rename = "additionalItems", skip_serializing_if = "Option::is_none")]
    pub additional_items: Option<bool>,
}

const PROPERTY_KEYS: &[&str] = &[
    "name",
    "type",
    "title",
    "description",
    "operators",
    "default",
    "readonly",
    "minimum",
    "maximum",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "confidential",
    "items",
    "uniqueItems",
    "minItems",
    "maxItems",
    "additionalItems",
];

impl PropertyType {
    /// A property document as sent to `/properties` (`name` required) or inside a namespace
    /// or an object (the name is the key).
    pub fn parse(body: &Value, require_name: bool) -> Result<PropertyType> {
        let required: &[&str] = if require_name {
            &["title", "type", "name"]
        } else {
            &["title", "type"]
        };
        let p: PropertyType = decode(
            "property",
            body,
            &["created_at", "updated_at"],
            PROPERTY_KEYS,
            required,
        )?;
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<()> {
        max_len("property", "name", self.name.as_deref(), 80)?;
        for t in [
            self.prop_type.as_deref(),
            self.items.as_ref().and_then(|i| i.item_type.as_deref()),
        ]
        .into_iter()
        .flatten()
        {
            if !PROPERTY_TYPES.contains(&t) {
                return Err(schema_error(
                    "property",
                    format!("'{t}' is not one of {PROPERTY_TYPES:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// Properties keyed by name, as namespaces and objects carry them.
pub type PropertyMap = BTreeMap<String, PropertyType>;

fn parse_property_map(v: Option<&Value>) -> Result<Option<PropertyMap>> {
    let Some(v) = v else { return Ok(None) };
    let Some(obj) = v.as_object() else {
        return Err(schema_error(
            "namespace",
            format!("{v} is not of type 'object'"),
        ));
    };
    let mut out = PropertyMap::new();
    for (name, p) in obj {
        out.insert(name.clone(), PropertyType::parse(p, false)?);
    }
    Ok(Some(out))
}

/// A resource type association as sent (`POST …/resource_types`, or in a namespace).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssociationDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties_target: Option<String>,
}

impl AssociationDoc {
    pub fn parse(body: &Value) -> Result<AssociationDoc> {
        let a: AssociationDoc = decode(
            "resource_type_association",
            body,
            &["created_at", "updated_at"],
            &["name", "prefix", "properties_target"],
            &["name"],
        )?;
        for (field, v) in [
            ("name", Some(a.name.as_str())),
            ("prefix", a.prefix.as_deref()),
            ("properties_target", a.properties_target.as_deref()),
        ] {
            max_len("resource_type_association", field, v, 80)?;
        }
        Ok(a)
    }
}

/// An object's stored body (its name is the row's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub properties: PropertyMap,
}

/// An object as sent (`POST …/objects`, `PUT …/objects/{name}`, or in a namespace).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectDoc {
    pub name: String,
    pub body: ObjectBody,
}

#[derive(Deserialize)]
struct ObjectHead {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    required: Option<Vec<String>>,
}

impl ObjectDoc {
    pub fn parse(body: &Value) -> Result<ObjectDoc> {
        let head: ObjectHead = decode(
            "object",
            body,
            &["self", "schema", "created_at", "updated_at"],
            &["name", "description", "required", "properties"],
            &["name"],
        )?;
        max_len("object", "name", Some(&head.name), 80)?;
        let properties = parse_property_map(body.get("properties"))?.unwrap_or_default();
        Ok(ObjectDoc {
            name: head.name,
            body: ObjectBody {
                description: head.description,
                required: head.required.unwrap_or_default(),
                properties,
            },
        })
    }
}

/// A tag as sent (`{"name": …}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TagDoc {
    pub name: String,
}

impl TagDoc {
    pub fn parse(body: &Value) -> Result<TagDoc> {
        let t: TagDoc = decode(
            "tag",
            body,
            &["created_at", "updated_at"],
            &["name"],
            &["name"],
        )?;
        max_len("tag", "name", Some(&t.name), 80)?;
        Ok(t)
    }

    /// The body of `POST …/tags`: `{"tags": [{"name": …}, …]}`.
    pub fn parse_list(body: &Value) -> Result<Vec<TagDoc>> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Vec<Value>,
        }
        let t: Tags = decode("tags", body, &["created_at", "updated_at"], &["tags"], &[])?;
        t.tags
            .iter()
            .map(|v| {
                decode::<TagDoc>("tags", v, &[], &["name"], &["name"])
                    .map_err(|e| schema_error("tags", e.message))
            })
            .collect()
    }
}

/// A namespace as sent (`POST /v2/metadefs/namespaces`, `PUT …/{namespace}`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespaceDoc {
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<String>,
    pub protected: Option<bool>,
    pub owner: Option<String>,
    pub resource_type_associations: Vec<AssociationDoc>,
    pub properties: Option<PropertyMap>,
    pub objects: Vec<ObjectDoc>,
    pub tags: Vec<TagDoc>,
}

#[derive(Deserialize)]
struct NamespaceHead {
    namespace: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    protected: Option<bool>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    resource_type_associations: Option<Vec<Value>>,
    #[serde(default)]
    objects: Option<Vec<Value>>,
    #[serde(default)]
    tags: Option<Vec<Value>>,
}

impl NamespaceDoc {
    pub fn parse(body: &Value) -> Result<NamespaceDoc> {
        const S: &str = "namespace";
        let h: NamespaceHead = decode(
            S,
            body,
            &["self", "schema", "created_at", "updated_at"],
            &[
                "namespace",
                "display_name",
                "description",
                "visibility",
                "protected",
                "owner",
                "resource_type_associations",
                "properties",
                "objects",
                "tags",
            ],
            &["namespace"],
        )?;
        max_len(S, "namespace", Some(&h.namespace), 80)?;
        max_len(S, "display_name", h.display_name.as_deref(), 80)?;
        max_len(S, "description", h.description.as_deref(), 500)?;
        max_len(S, "owner", h.owner.as_deref(), 255)?;
        if let Some(v) = h.visibility.as_deref()
            && v != "public"
            && v != "private"
        {
            return Err(schema_error(
                S,
                format!("'{v}' is not one of ['public', 'private']"),
            ));
        }
        let lenient = |v: &Value, what: &str| -> Result<String> {
            match v.get("name").and_then(Value::as_str) {
                Some(n) => Ok(n.to_string()),
                None => Err(schema_error(
                    S,
                    format!("'name' is a required property of {what}"),
                )),
            }
        };
        let mut resource_type_associations = Vec::new();
        for v in h.resource_type_associations.unwrap_or_default() {
            let name = lenient(&v, "a resource type association")?;
            resource_type_associations.push(AssociationDoc {
                name,
                prefix: v.get("prefix").and_then(Value::as_str).map(str::to_string),
                properties_target: v
                    .get("properties_target")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
        let objects = h
            .objects
            .unwrap_or_default()
            .iter()
            .map(ObjectDoc::parse)
            .collect::<Result<Vec<_>>>()?;
        let mut tags = Vec::new();
        for v in h.tags.unwrap_or_default() {
            tags.push(TagDoc {
                name: lenient(&v, "a tag")?,
            });
        }
        Ok(NamespaceDoc {
            namespace: h.namespace,
            display_name: h.display_name,
            description: h.description,
            visibility: h.visibility,
            protected: h.protected,
            owner: h.owner,
            resource_type_associations,
            properties: parse_property_map(body.get("properties"))?,
            objects,
            tags,
        })
    }
}

/// A namespace as Glance shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamespaceView {
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub visibility: String,
    pub protected: bool,
    pub owner: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type_associations: Option<Vec<AssociationView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<PropertyMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<ObjectView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<TagView>>,
    #[serde(rename = "self")]
    pub self_link: String,
    pub schema: String,
}

/// A resource type (`GET /v2/metadefs/resource_types`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceTypeView {
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A resource type associated with a namespace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssociationView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties_target: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An object of a namespace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub required: Vec<String>,
    pub properties: PropertyMap,
    pub created_at: String,
    pub updated_at: String,
    #[serde(rename = "self")]
    pub self_link: String,
    pub schema: String,
}

/// A tag of a namespace (the timestamps are absent where Glance shows names only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespace_documents_follow_glance_schema() {
        let ns = NamespaceDoc::parse(&json!({
            "namespace": "n", "visibility": "public", "protected": true,
            "resource_type_associations": [{"name": "OS::Nova::Flavor"}],
            "properties": {"p": {"title": "P", "type": "string", "enum": ["a"]}},
            "objects": [{"name": "o"}], "tags": [{"name": "t"}],
        }))
        .unwrap();
        assert_eq!(ns.resource_type_associations[0].name, "OS::Nova::Flavor");
        assert_eq!(ns.properties.unwrap()["p"].title.as_deref(), Some("P"));
        assert_eq!(ns.objects[0].name, "o");
        let e = NamespaceDoc::parse(&json!({"namespace": "n", "self": "x"})).unwrap_err();
        assert_eq!(e.kind.status(), 403);
        assert_eq!(e.message, "Attribute 'self' is read-only.");
        let e = NamespaceDoc::parse(&json!({"namespace": "n", "bogus": 1})).unwrap_err();
        assert_eq!(e.kind.status(), 400);
        assert!(
            e.message.contains("'bogus' was unexpected"),
            "{}",
            e.message
        );
        let e =
            NamespaceDoc::parse(&json!({"namespace": "n", "visibility": "shared"})).unwrap_err();
        assert_eq!(e.kind.status(), 400);
        assert!(NamespaceDoc::parse(&json!({"display_name": "x"})).is_err());
    }

    #[test]
    fn property_types_need_title_and_type() {
        let p = PropertyType::parse(
            &json!({"name": "hv", "title": "T", "type": "string", "enum": ["kvm"]}),
            true,
        )
        .unwrap();
        let shown = serde_json::to_value(&p).unwrap();
        assert_eq!(
            shown,
            json!({"name": "hv", "title": "T", "type": "string", "enum": ["kvm"]})
        );
        assert!(PropertyType::parse(&json!({"name": "hv", "title": "T"}), true).is_err());
        assert!(PropertyType::parse(&json!({"title": "T", "type": "string"}), true).is_err());
        assert!(
            PropertyType::parse(&json!({"name": "x", "title": "T", "type": "text"}), true).is_err()
        );
    }

    #[test]
    fn tag_lists() {
        let t = TagDoc::parse_list(&json!({"tags": [{"name": "a"}, {"name": "b"}]})).unwrap();
        assert_eq!(t.len(), 2);
        assert!(TagDoc::parse_list(&json!({"tags": [{"nom": "a"}]})).is_err());
    }
}
