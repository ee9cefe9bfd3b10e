//! The JSON schemas Glance serves at `/v2/schemas/metadefs/{name}` for its metadata
//! definitions: `namespace`, `object`, `property`, `resource_type` (named
//! `resource_type_association`) and `tag`, and their collections (`namespaces`, `objects`,
//! `properties` keyed by name, `resource_types`, `tags`). They are built as Glance builds them:
//! an item schema is `{name, properties, additionalProperties: false, definitions?,
//! required?}`; a collection wraps it with `first`/`next`/`schema` and their links, the
//! definitions hoisted to the top.

use axum::Json;
use axum::extract::Path;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::{ApiResult, SVC};
use crate::error::ApiError;

/// One item schema, as Glance's `glance.schema.Schema`.
struct Schema {
    name: &'static str,
    properties: Value,
    required: &'static [&'static str],
    definitions: Option<Value>,
}

impl Schema {
    fn raw(&self, with_definitions: bool) -> Value {
        let mut o = Map::new();
        o.insert("name".into(), json!(self.name));
        o.insert("properties".into(), self.properties.clone());
        o.insert("additionalProperties".into(), json!(false));
        if with_definitions && let Some(d) = &self.definitions {
            o.insert("definitions".into(), d.clone());
        }
        if !self.required.is_empty() {
            o.insert("required".into(), json!(self.required));
        }
        Value::Object(o)
    }

    /// The collection schema around this item: an array of items, or (`keyed`) an object
    /// whose values are items.
    fn collection(&self, name: &str, keyed: bool) -> Value {
        let items = if keyed {
            json!({"type": "object", "additionalProperties": self.raw(false)})
        } else {
            json!({"type": "array", "items": self.raw(false)})
        };
        let mut o = Map::new();
        o.insert("name".into(), json!(name));
        o.insert(
            "properties".into(),
            json!({
                name: items,
                "first": {"type": "string"},
                "next": {"type": "string"},
                "schema": {"type": "string"},
            }),
        );
        o.insert(
            "links".into(),
            json!([
                {"rel": "first", "href": "{first}"},
                {"rel": "next", "href": "{next}"},
                {"rel": "describedby", "href": "{schema}"},
            ]),
        );
        if let Some(d) = &self.definitions {
            o.insert("definitions".into(), d.clone());
        }
        Value::Object(o)
    }
}

const PROPERTY_TYPES: [Option<&str>; 7] = [
    Some("array"),
    Some("boolean"),
    Some("integer"),
    Some("number"),
    Some("object"),
    Some("string"),
    None,
];

/// The attributes of one property type (Glance's `definitions.property`'s values).
fn property_attributes() -> Value {
    json!({
        "name": {"type": "string", "maxLength": 80},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": PROPERTY_TYPES},
        "required": {"$ref": "#/definitions/stringArray"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": {"$ref": "#/definitions/positiveInteger"},
        "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": PROPERTY_TYPES},
                "enum": {"type": "array"},
            },
        },
        "maxItems": {"$ref": "#/definitions/positiveInteger"},
        "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "uniqueItems": {"type": "boolean", "default": false},
        "additionalItems": {"type": "boolean"},
    })
}

/// Glance's shared definitions; `min_one` is the property schema's stricter `stringArray`.
fn definitions(with_property: bool, min_one: bool) -> Value {
    let mut string_array =
        json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true});
    if min_one {
        string_array["minItems"] = json!(1);
    }
    let mut d = json!({
        "positiveInteger": {"type": "integer", "minimum": 0},
        "positiveIntegerDefault0": {
            "allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}],
        },
        "stringArray": string_array,
    });
    if with_property {
        d["property"] = json!({
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["title", "type"],
                "properties": property_attributes(),
            },
        });
    }
    d
}

/// `created_at` and `updated_at` of `what` (`created` is the creation's wording).
fn timestamps(created: &str, what: &str) -> (Value, Value) {
    let ts = |description: String| json!({"type": "string", "readOnly": true, "description": description, "format": "date-time"});
    (
        ts(format!("Date and time of {created}")),
        ts(format!("Date and time of the last {what} modification")),
    )
}

fn link() -> Value {
    json!({"readOnly": true, "type": "string"})
}

fn namespace() -> Schema {
    let (created, updated) = timestamps("namespace creation", "namespace");
    Schema {
        name: "namespace",
        properties: json!({
            "namespace": {"type": "string", "description": "The unique namespace text.", "maxLength": 80},
            "display_name": {"type": "string", "description": "The user friendly name for the namespace. Used by UI if available.", "maxLength": 80},
            "description": {"type": "string", "description": "Provides a user friendly description of the namespace.", "maxLength": 500},
            "visibility": {"type": "string", "description": "Scope of namespace accessibility.", "enum": ["public", "private"]},
            "protected": {"type": "boolean", "description": "If true, namespace will not be deletable."},
            "owner": {"type": "string", "description": "Owner of the namespace.", "maxLength": 255},
            "created_at": created,
            "updated_at": updated,
            "schema": link(),
            "self": link(),
            "resource_type_associations": {
                "type": "array",
                "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "prefix": {"type": "string"}, "properties_target": {"type": "string"},
                }},
            },
            "properties": {"$ref": "#/definitions/property"},
            "objects": {
                "type": "array",
                "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "description": {"type": "string"},
                    "required": {"$ref": "#/definitions/stringArray"},
                    "properties": {"$ref": "#/definitions/property"},
                }},
            },
            "tags": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        }),
        required: &["namespace"],
        definitions: Some(definitions(true, false)),
    }
}

fn object() -> Schema {
    let (created, updated) = timestamps("object creation", "object");
    Schema {
        name: "object",
        properties: json!({
            "name": {"type": "string", "maxLength": 80},
            "description": {"type": "string"},
            "required": {"$ref": "#/definitions/stringArray"},
            "properties": {"$ref": "#/definitions/property"},
            "schema": link(),
            "self": link(),
            "created_at": created,
            "updated_at": updated,
        }),
        required: &["name"],
        definitions: Some(definitions(true, false)),
    }
}

fn property(require_name: bool) -> Schema {
    Schema {
        name: "property",
        properties: property_attributes(),
        required: if require_name {
            &["title", "type", "name"]
        } else {
            &["title", "type"]
        },
        definitions: Some(definitions(false, true)),
    }
}

fn resource_type() -> Schema {
    let (created, updated) = timestamps("resource type association", "resource type association");
    Schema {
        name: "resource_type_association",
        properties: json!({
            "name": {"type": "string", "maxLength": 80, "description": "Resource type names should be aligned with Heat resource types whenever possible: https://docs.openstack.org/heat/latest/template_guide/openstack.html"},
            "prefix": {"type": "string", "maxLength": 80, "description": "Specifies the prefix to use for the given resource type. Any properties in the namespace should be prefixed with this prefix when being applied to the specified resource type. Must include prefix separator (e.g. a colon :)."},
            "properties_target": {"type": "string", "maxLength": 80, "description": "Some resource types allow more than one key / value pair per instance.  For example, Cinder allows user and image metadata on volumes. Only the image properties metadata is evaluated by Nova (scheduling or drivers). This property allows a namespace target to remove the ambiguity."},
            "created_at": created,
            "updated_at": updated,
        }),
        required: &["name"],
        definitions: None,
    }
}

fn tag() -> Schema {
    let (created, updated) = timestamps("tag creation", "tag");
    Schema {
        name: "tag",
        properties: json!({
            "name": {"type": "string", "maxLength": 80},
            "created_at": created,
            "updated_at": updated,
        }),
        required: &["name"],
        definitions: None,
    }
}

/// The schema document called `name`, if Glance serves one.
pub(crate) fn schema(name: &str) -> Option<Value> {
    Some(match name {
        "namespace" => namespace().raw(true),
        "namespaces" => namespace().collection("namespaces", false),
        "object" => object().raw(true),
        "objects" => object().collection("objects", false),
        "property" => property(true).raw(true),
        "properties" => property(false).collection("properties", true),
        "resource_type" => resource_type().raw(true),
        "resource_types" => resource_type().collection("resource_type_associations", false),
        "tag" => tag().raw(true),
        "tags" => tag().collection("tags", false),
        _ => return None,
    })
}

/// `GET /v2/schemas/metadefs/{name}`.
pub(crate) async fn show(Path(name): Path<String>) -> ApiResult {
    match schema(&name) {
        Some(s) => Ok(Json(s).into_response()),
        None => Err(ApiError::new(
            SVC,
            404,
            format!("The resource could not be found: /v2/schemas/metadefs/{name}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_glances() {
        for (path, name) in [
            ("namespace", "namespace"),
            ("namespaces", "namespaces"),
            ("object", "object"),
            ("objects", "objects"),
            ("property", "property"),
            ("properties", "properties"),
            ("resource_type", "resource_type_association"),
            ("resource_types", "resource_type_associations"),
            ("tag", "tag"),
            ("tags", "tags"),
        ] {
            assert_eq!(schema(path).unwrap()["name"], name, "{path}");
        }
        assert!(schema("bogus").is_none());
        let ns = schema("namespace").unwrap();
        assert_eq!(ns["required"], json!(["namespace"]));
        assert_eq!(ns["additionalProperties"], json!(false));
        assert!(ns["definitions"]["property"].is_object());
        let props = schema("properties").unwrap();
        assert_eq!(
            props["properties"]["properties"]["additionalProperties"]["required"],
            json!(["title", "type"])
        );
        assert_eq!(props["definitions"]["stringArray"]["minItems"], json!(1));
        let rts = schema("resource_types").unwrap();
        assert!(rts["properties"]["resource_type_associations"]["items"].is_object());
        assert!(rts.get("definitions").is_none());
    }
}
