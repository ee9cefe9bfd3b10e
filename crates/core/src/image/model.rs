//! The top image as Glance v2 shows it, and the rules for changing it: which attributes exist,
//! which are read-only, the allowed disk and container formats, visibility, and JSON-patch
//! (`add`/`replace`/`remove`) application. Messages follow Glance's wording.

use std::collections::{BTreeMap, BTreeSet};

use cascade_store::images::ImageRow;
use cascade_store::{from_micros, now_micros};
use serde_json::{Map, Value, json};

use super::policy::{
    ImagePolicy, PLACEMENT_PROPERTY, Placement, REPLICATION_PROPERTY, Replication,
};
use crate::{CoreError, ErrorKind, Result};

/// Glance's disk formats.
pub const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
/// Glance's container formats.
pub const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];
pub const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];

/// Attributes Glance computes; a client may not set them.
pub(super) const READ_ONLY: &[&str] = &[
    "id",
    "status",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "stores",
];
/// Attributes that are not extra properties.
pub(super) const BASE: &[&str] = &[
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "owner",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "tags",
];

/// An image of the global registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: String,
    pub owner: String,
    pub name: Option<String>,
    pub status: String,
    pub visibility: String,
    pub protected: bool,
    pub os_hidden: bool,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_disk: u64,
    pub min_ram: u64,
    pub size: Option<u64>,
    pub virtual_size: Option<u64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub tags: BTreeSet<String>,
    pub properties: BTreeMap<String, Value>,
    pub home_pod_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Image {
    /// A new `queued` image.
    pub fn new(id: String, owner: String) -> Image {
        let now = now_micros();
        Image {
            id,
            owner,
            name: None,
            status: "queued".into(),
            visibility: "shared".into(),
            protected: false,
            os_hidden: false,
            disk_format: None,
            container_format: None,
            min_disk: 0,
            min_ram: 0,
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            tags: BTreeSet::new(),
            properties: BTreeMap::new(),
            home_pod_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn from_row(r: ImageRow) -> Image {
        Image {
            id: r.id,
            owner: r.owner,
            name: r.name,
            status: r.status,
            visibility: r.visibility,
            protected: r.protected,
            os_hidden: r.os_hidden,
            disk_format: r.disk_format,
            container_format: r.container_format,
            min_disk: r.min_disk.max(0) as u64,
            min_ram: r.min_ram.max(0) as u64,
            size: r.size.map(|s| s.max(0) as u64),
            virtual_size: r.virtual_size.map(|s| s.max(0) as u64),
            checksum: r.checksum,
            os_hash_algo: r.os_hash_algo,
            os_hash_value: r.os_hash_value,
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            properties: serde_json::from_str(&r.properties).unwrap_or_default(),
            home_pod_id: r.home_pod_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    pub fn to_row(&self) -> ImageRow {
        ImageRow {
            id: self.id.clone(),
            owner: self.owner.clone(),
            name: self.name.clone(),
            status: self.status.clone(),
            visibility: self.visibility.clone(),
            protected: self.protected,
            os_hidden: self.os_hidden,
            disk_format: self.disk_format.clone(),
            container_format: self.container_format.clone(),
            min_disk: self.min_disk as i64,
            min_ram: self.min_ram as i64,
            size: self.size.map(|s| s as i64),
            virtual_size: self.virtual_size.map(|s| s as i64),
            checksum: self.checksum.clone(),
            os_hash_algo: self.os_hash_algo.clone(),
            os_hash_value: self.os_hash_value.clone(),
            tags: serde_json::to_string(&self.tags).unwrap_or_else(|_| "[]".into()),
            properties: serde_json::to_string(&self.properties).unwrap_or_else(|_| "{}".into()),
            home_pod_id: self.home_pod_id.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// The image document of Glance v2 (`GET /v2/images/{id}`).
    pub fn to_glance(&self) -> Value {
        let mut o = Map::new();
        for (k, v) in &self.properties {
            o.insert(k.clone(), v.clone());
        }
        let ts = |us: i64| cascade_model::time::iso_seconds(from_micros(us));
        for (k, v) in [
            ("id", json!(self.id)),
            ("name", json!(self.name)),
            ("status", json!(self.status)),
            ("visibility", json!(self.visibility)),
            ("protected", json!(self.protected)),
            ("os_hidden", json!(self.os_hidden)),
            ("owner", json!(self.owner)),
            ("disk_format", json!(self.disk_format)),
            ("container_format", json!(self.container_format)),
            ("min_disk", json!(self.min_disk)),
            ("min_ram", json!(self.min_ram)),
            ("size", json!(self.size)),
            ("virtual_size", json!(self.virtual_size)),
            ("checksum", json!(self.checksum)),
            ("os_hash_algo", json!(self.os_hash_algo)),
            ("os_hash_value", json!(self.os_hash_value)),
            ("tags", json!(self.tags)),
            ("created_at", json!(ts(self.created_at))),
            ("updated_at", json!(ts(self.updated_at))),
            ("self", json!(format!("/v2/images/{}", self.id))),
            ("file", json!(format!("/v2/images/{}/file", self.id))),
            ("schema", json!("/v2/schemas/image")),
        ] {
            o.insert(k.into(), v);
        }
        Value::Object(o)
    }

    /// The value of an attribute for filtering and sorting (`None` when unset).
    pub fn attribute(&self, key: &str) -> Option<Value> {
        let v = match key {
            "id" => json!(self.id),
            "name" => json!(self.name),
            "status" => json!(self.status),
            "visibility" => json!(self.visibility),
            "protected" => json!(self.protected),
            "os_hidden" => json!(self.os_hidden),
            "owner" => json!(self.owner),
            "disk_format" => json!(self.disk_format),
            "container_format" => json!(self.container_format),
            "min_disk" => json!(self.min_disk),
            "min_ram" => json!(self.min_ram),
            "size" => json!(self.size),
            "virtual_size" => json!(self.virtual_size),
            "checksum" => json!(self.checksum),
            "created_at" => json!(self.created_at),
            "updated_at" => json!(self.updated_at),
            other => return self.properties.get(other).cloned(),
        };
        (!v.is_null()).then_some(v)
    }
}

pub(super) fn schema_error(message: String) -> CoreError {
    CoreError::bad_request(format!(
        "Provided object does not match schema 'image': {message}"
    ))
}

fn enum_error(value: &Value, allowed: &[&str]) -> CoreError {
    let list = allowed
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ");
    schema_error(format!("{value} is not one of [{list}]"))
}

/// Who changes an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub project_id: String,
    pub is_admin: bool,
}

/// Sets one attribute from a client (create body or patch), enforcing Glance's rules.
pub fn apply_attribute(img: &mut Image, key: &str, value: &Value, caller: &Caller) -> Result<()> {
    if READ_ONLY.contains(&key) {
        return Err(CoreError::forbidden(format!(
            "Attribute '{key}' is read-only."
        )));
    }
    let not_string = || schema_error(format!("{value} is not of type 'string'"));
    let not_int = || schema_error(format!("{value} is not of type 'integer'"));
    let not_bool = || schema_error(format!("{value} is not of type 'boolean'"));
    match key {
        "name" => {
            let name = match value {
                Value::Null => None,
                Value::String(s) if s.chars().count() <= 255 => Some(s.clone()),
                Value::String(_) => return Err(schema_error(format!("{value} is too long"))),
                _ => return Err(not_string()),
            };
            img.name = name;
        }
        "visibility" => {
            let vis = value
                .as_str()
                .filter(|v| VISIBILITIES.contains(v))
                .ok_or_else(|| enum_error(value, VISIBILITIES))?;
            if vis == "public" && !caller.is_admin {
                return Err(CoreError::forbidden(
                    "You are not authorized to complete publicize_image action.",
                ));
            }
            img.visibility = vis.to_string();
        }
        "protected" => img.protected = value.as_bool().ok_or_else(not_bool)?,
        "os_hidden" => img.os_hidden = value.as_bool().ok_or_else(not_bool)?,
        "owner" => {
            let owner = value.as_str().ok_or_else(not_string)?;
            if !caller.is_admin && owner != caller.project_id {
                return Err(CoreError::forbidden(
                    "You are not permitted to create images owned by another project.",
                ));
            }
            img.owner = owner.to_string();
        }
        "disk_format" | "container_format" => {
            if img.status != "queued" && img.status != "creating" {
                return Err(CoreError::forbidden(format!(
                    "Attribute {key} can be only replaced for a queued image."
                )));
            }
            let allowed = if key == "disk_format" {
                DISK_FORMATS
            } else {
                CONTAINER_FORMATS
            };
            let v = match value {
                Value::Null => None,
                Value::String(s) if allowed.contains(&s.as_str()) => Some(s.clone()),
                _ => return Err(enum_error(value, allowed)),
            };
            if key == "disk_format" {
                img.disk_format = v;
            } else {
                img.container_format = v;
            }
        }
        "min_disk" | "min_ram" => {
            let n = value.as_i64().ok_or_else(not_int)?;
            if n < 0 {
                return Err(schema_error(format!("{n} is less than the minimum of 0")));
            }
            if key == "min_disk" {
                img.min_disk = n as u64;
            } else {
                img.min_ram = n as u64;
            }
        }
        "tags" => {
            let arr = value
                .as_array()
                .ok_or_else(|| schema_error(format!("{value} is not of type 'array'")))?;
            let mut tags = BTreeSet::new();
            for t in arr {
                let t = t
                    .as_str()
                    .ok_or_else(|| schema_error(format!("{t} is not of type 'string'")))?;
                if t.chars().count() > 255 {
                    return Err(schema_error(format!("'{t}' is too long")));
                }
                tags.insert(t.to_string());
            }
            img.tags = tags;
        }
        _ => {
            if key.is_empty() || key.chars().count() > 255 {
                return Err(schema_error(format!(
                    "'{key}' is not a valid property name"
                )));
            }
            let text = value.as_str().ok_or_else(not_string)?;
            if key == PLACEMENT_PROPERTY {
                Placement::parse(text)?;
            }
            if key == REPLICATION_PROPERTY {
                Replication::parse(text)?;
            }
            img.properties.insert(key.to_string(), value.clone());
        }
    }
    Ok(())
}

/// Checks the image's policy properties parse.
pub fn policy_of(
    img: &Image,
    default_placement: &Placement,
    default_replication: Replication,
) -> Result<ImagePolicy> {
    ImagePolicy::of(&img.properties, default_placement, default_replication)
}

/// Whether `caller` may see `img` (members of any status may use a shared image by id).
pub fn visible(img: &Image, caller: &Caller, is_member: bool) -> bool {
    caller.is_admin
        || img.owner == caller.project_id
        || img.visibility == "public"
        || img.visibility == "community"
        || (img.visibility == "shared" && is_member)
}

/// The not-found error of Glance for an image id.
pub fn not_found(id: &str) -> CoreError {
    CoreError::new(ErrorKind::NotFound, format!("No image found with ID {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            project_id: "p".into(),
            is_admin: false,
        }
    }

    #[test]
    fn attributes_follow_glance_rules() {
        let mut img = Image::new("i".into(), "p".into());
        let c = caller();
        assert!(apply_attribute(&mut img, "disk_format", &json!("qcow2"), &c).is_ok());
        let e = apply_attribute(&mut img, "disk_format", &json!("floppy"), &c).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadRequest);
        assert!(e.message.contains("is not one of"), "{}", e.message);
        let e = apply_attribute(&mut img, "status", &json!("active"), &c).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        let e = apply_attribute(&mut img, "visibility", &json!("public"), &c).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(apply_attribute(&mut img, "visibility", &json!("community"), &c).is_ok());
        assert!(apply_attribute(&mut img, "hw_disk_bus", &json!(7), &c).is_err());
        assert!(apply_attribute(&mut img, PLACEMENT_PROPERTY, &json!("country"), &c).is_err());
        img.status = "active".into();
        let e = apply_attribute(&mut img, "container_format", &json!("bare"), &c).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
    }
}
