//! Glance's JSON-patch documents for `PATCH /v2/images/{id}`: both media types
//! (`openstack-images-v2.1-json-patch`, `{"op": "add", "path": …}`, and the older
//! `openstack-images-v2.0-json-patch`, `{"add": path, …}`), JSON pointers decoded as RFC 6901
//! and Glance validate them (`~1` is `/`, `~0` is `~`, any other `~` is refused), and their
//! application to an image.

use serde_json::Value;

use super::model::{BASE, Caller, Image, READ_ONLY, apply_attribute, schema_error};
use crate::{CoreError, Result};

/// The media type a patch document came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchDialect {
    /// `application/openstack-images-v2.0-json-patch`: the operation's name is the key of
    /// its path.
    V20,
    /// `application/openstack-images-v2.1-json-patch`: `op` and `path` members.
    V21,
}

impl PatchDialect {
    /// The dialect of a `Content-Type`, or `None` when it is no image patch media type.
    pub fn of_content_type(ct: &str) -> Option<PatchDialect> {
        if ct.starts_with("application/openstack-images-v2.1-json-patch") {
            Some(PatchDialect::V21)
        } else if ct.starts_with("application/openstack-images-v2.0-json-patch") {
            Some(PatchDialect::V20)
        } else {
            None
        }
    }
}

/// An operation of a patch document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

/// One parsed operation: its kind, the pointer as sent, the pointer's decoded tokens and its
/// value (present for `add` and `replace`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub kind: PatchOpKind,
    pub pointer: String,
    pub path: Vec<String>,
    pub value: Option<Value>,
}

/// Parses a patch document as Glance's request deserializer does, with its error texts.
pub fn parse_patch(body: &Value, dialect: PatchDialect) -> Result<Vec<PatchOp>> {
    let ops = body.as_array().ok_or_else(|| {
        CoreError::bad_request("Request body must be a JSON array of operation objects.")
    })?;
    ops.iter().map(|raw| parse_op(raw, dialect)).collect()
}

fn parse_op(raw: &Value, dialect: PatchDialect) -> Result<PatchOp> {
    let obj = raw
        .as_object()
        .ok_or_else(|| CoreError::bad_request("Operation objects must be dictionaries."))?;
    let (kind, pointer) = match dialect {
        PatchDialect::V21 => {
            let op = obj.get("op").and_then(Value::as_str).ok_or_else(|| {
                CoreError::bad_request(
                    "Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.",
                )
            })?;
            let kind = kind_of(op).ok_or_else(|| {
                CoreError::bad_request(format!(
                    "Invalid operation: `{op}`. It must be one of the following: add, remove, replace."
                ))
            })?;
            let path = obj.get("path").and_then(Value::as_str).ok_or_else(|| {
                CoreError::bad_request("Unable to find 'path' in JSON Schema change")
            })?;
            (kind, path)
        }
        PatchDialect::V20 => {
            let mut found = None;
            for name in ["replace", "add", "remove"] {
                if let Some(p) = obj.get(name) {
                    if found.is_some() {
                        return Err(CoreError::bad_request(
                            "Operation objects must contain only one member named \"add\", \"remove\", or \"replace\".",
                        ));
                    }
                    found = Some((name, p));
                }
            }
            let (name, p) = found.ok_or_else(|| {
                CoreError::bad_request(
                    "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".",
                )
            })?;
            let kind = kind_of(name).unwrap_or(PatchOpKind::Replace);
            let path = p.as_str().ok_or_else(|| {
                CoreError::bad_request(format!("Pointer `{p}` does not start with \"/\"."))
            })?;
            (kind, path)
        }
    };
    let value = obj.get("value").cloned();
    if kind != PatchOpKind::Remove && value.is_none() {
        let name = match kind {
            PatchOpKind::Add => "add",
            _ => "replace",
        };
        return Err(CoreError::bad_request(format!(
            "Operation \"{name}\" requires a member named \"value\"."
        )));
    }
    Ok(PatchOp {
        kind,
        pointer: pointer.to_string(),
        path: decode_pointer(pointer)?,
        value,
    })
}

fn kind_of(name: &str) -> Option<PatchOpKind> {
    match name {
        "add" => Some(PatchOpKind::Add),
        "remove" => Some(PatchOpKind::Remove),
        "replace" => Some(PatchOpKind::Replace),
        _ => None,
    }
}

/// Glance's `_decode_json_pointer`: the limited pointers it accepts, decoded token by token
/// (`~1` before `~0`, so `~01` is the text `~1`).
pub fn decode_pointer(pointer: &str) -> Result<Vec<String>> {
    let bad = |why: &str| CoreError::bad_request(format!("Pointer `{pointer}` {why}"));
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(bad("does not start with \"/\"."));
    };
    let adjacent = rest
        .match_indices('/')
        .any(|(i, _)| rest[i + 1..].trim_start().starts_with('/'));
    if adjacent {
        return Err(bad("contains adjacent \"/\"."));
    }
    if pointer.len() > 1 && pointer.ends_with('/') {
        return Err(bad("end with \"/\"."));
    }
    if rest.trim() == "/" {
        return Err(bad("does not contains valid token."));
    }
    let mut chars = pointer.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.peek(), Some('0' | '1')) {
            return Err(bad(
                "contains \"~\" not part of a recognized escape sequence.",
            ));
        }
    }
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~").trim().to_string())
        .collect())
}

/// Applies parsed operations to an image, in order.
pub fn apply_patch(img: &mut Image, ops: &[PatchOp], caller: &Caller) -> Result<()> {
    for op in ops {
        let (key, rest) = match op.path.split_first() {
            Some((k, r)) => (k.as_str(), r),
            None => ("", &[][..]),
        };
        let path = &op.pointer;
        match op.kind {
            PatchOpKind::Add | PatchOpKind::Replace => {
                let value = op.value.as_ref().unwrap_or(&Value::Null);
                if key == "tags" && rest.len() == 1 {
                    let t = value
                        .as_str()
                        .ok_or_else(|| schema_error(format!("{value} is not of type 'string'")))?;
                    img.tags.insert(t.to_string());
                    continue;
                }
                if !rest.is_empty() {
                    return Err(CoreError::bad_request(format!(
                        "Invalid JSON pointer for this resource: '{path}'"
                    )));
                }
                if op.kind == PatchOpKind::Replace
                    && !BASE.contains(&key)
                    && !READ_ONLY.contains(&key)
                    && !img.properties.contains_key(key)
                {
                    return Err(CoreError::conflict(format!(
                        "Property {key} does not exist."
                    )));
                }
                apply_attribute(img, key, value, caller)?;
            }
            PatchOpKind::Remove => {
                if key == "tags" && rest.len() == 1 {
                    img.tags.remove(&rest[0]);
                    continue;
                }
                if !rest.is_empty() {
                    return Err(CoreError::bad_request(format!(
                        "Invalid JSON pointer for this resource: '{path}'"
                    )));
                }
                if READ_ONLY.contains(&key) || BASE.contains(&key) {
                    return Err(CoreError::forbidden(format!(
                        "Attribute '{key}' is read-only."
                    )));
                }
                if img.properties.remove(key).is_none() {
                    return Err(CoreError::conflict(format!(
                        "Property {key} does not exist."
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ErrorKind;

    fn caller() -> Caller {
        Caller {
            project_id: "p".into(),
            is_admin: false,
        }
    }

    fn apply(img: &mut Image, ops: Value, dialect: PatchDialect) -> Result<()> {
        let ops = parse_patch(&ops, dialect)?;
        apply_patch(img, &ops, &caller())
    }

    #[test]
    fn json_patch() {
        let mut img = Image::new("i".into(), "p".into());
        apply(
            &mut img,
            json!([
                {"op": "replace", "path": "/name", "value": "n"},
                {"op": "add", "path": "/os_distro", "value": "cirros"},
                {"op": "add", "path": "/tags/-", "value": "t1"},
            ]),
            PatchDialect::V21,
        )
        .unwrap();
        assert_eq!(img.name.as_deref(), Some("n"));
        assert_eq!(img.properties["os_distro"], "cirros");
        assert!(img.tags.contains("t1"));
        let e = apply(
            &mut img,
            json!([{"op": "replace", "path": "/nope", "value": "x"}]),
            PatchDialect::V21,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        apply(
            &mut img,
            json!([{"op": "remove", "path": "/os_distro"}]),
            PatchDialect::V21,
        )
        .unwrap();
        assert!(!img.properties.contains_key("os_distro"));
        let e = apply(
            &mut img,
            json!([{"op": "move", "path": "/name"}]),
            PatchDialect::V21,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadRequest);
    }

    #[test]
    fn the_older_dialect_names_the_operation_by_its_key() {
        // What tempest's images_client sends (application/openstack-images-v2.0-json-patch).
        let mut img = Image::new("i".into(), "p".into());
        apply(
            &mut img,
            json!([{"replace": "/name", "value": "new"}, {"add": "/k", "value": "v"}]),
            PatchDialect::V20,
        )
        .unwrap();
        assert_eq!(img.name.as_deref(), Some("new"));
        apply(&mut img, json!([{"remove": "/k"}]), PatchDialect::V20).unwrap();
        assert!(!img.properties.contains_key("k"));
        let e = apply(
            &mut img,
            json!([{"add": "/a", "remove": "/b", "value": 1}]),
            PatchDialect::V20,
        )
        .unwrap_err();
        assert!(e.message.contains("only one member"));
        let e = apply(&mut img, json!([{"value": 1}]), PatchDialect::V20).unwrap_err();
        assert!(e.message.contains("exactly one member"));
    }

    #[test]
    fn pointers_are_rfc6901_escaped() {
        assert_eq!(decode_pointer("/a~1b").unwrap(), vec!["a/b"]);
        assert_eq!(decode_pointer("/a~0b").unwrap(), vec!["a~b"]);
        assert_eq!(decode_pointer("/a~01").unwrap(), vec!["a~1"]);
        assert_eq!(decode_pointer("/tags/x").unwrap(), vec!["tags", "x"]);
        for bad in ["a", "/a~2", "/a~", "/a//b", "/a/"] {
            assert!(decode_pointer(bad).is_err(), "{bad}");
        }
        let mut img = Image::new("i".into(), "p".into());
        apply(
            &mut img,
            json!([
                {"op": "add", "path": "/os~1type", "value": "x"},
                {"op": "add", "path": "/til~0de", "value": "y"},
            ]),
            PatchDialect::V21,
        )
        .unwrap();
        assert_eq!(img.properties["os/type"], "x");
        assert_eq!(img.properties["til~de"], "y");
        apply(
            &mut img,
            json!([{"op": "replace", "path": "/os~1type", "value": "z"}]),
            PatchDialect::V21,
        )
        .unwrap();
        assert_eq!(img.properties["os/type"], "z");
        apply(
            &mut img,
            json!([{"op": "remove", "path": "/os~1type"}]),
            PatchDialect::V21,
        )
        .unwrap();
        assert!(!img.properties.contains_key("os/type"));
        let e = apply(
            &mut img,
            json!([{"op": "add", "path": "/a~2b", "value": "x"}]),
            PatchDialect::V21,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadRequest);
        assert!(
            e.message
                .contains("not part of a recognized escape sequence")
        );
    }
}
