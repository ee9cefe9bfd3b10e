//! Snapshot request bodies checked as Cinder's JSON schemas (`cinder/api/schemas/snapshots.py`)
//! check them, with the texts its validator gives (`Invalid input for field/attribute <field>.
//! Value: <Python repr>. <jsonschema message>`), turned into the core's typed requests.

use std::collections::BTreeMap;

use cascade_core::volume::SnapshotCreate;
use serde_json::{Map, Value};

use super::{ApiResult, bad};
use crate::error::ApiError;

/// A JSON value as Python prints it (`{'name': 'x', 'force': True}`), as Cinder's validation
/// messages show the offending value.
pub(crate) fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `Invalid input for field/attribute <field>. Value: <value>. <message>`.
fn invalid(field: &str, value: &Value, message: impl std::fmt::Display) -> ApiError {
    bad(format!(
        "Invalid input for field/attribute {field}. Value: {}. {message}",
        py_repr(value)
    ))
}

/// The one top-level key a body must have (`snapshot`), and nothing else.
fn envelope<'a>(doc: &'a Value, key: &str) -> ApiResult<&'a Map<String, Value>> {
    let top = doc
        .as_object()
        .ok_or_else(|| bad(format!("{} is not of type 'object'", py_repr(doc))))?;
    let inner = top
        .get(key)
        .ok_or_else(|| bad(format!("'{key}' is a required property")))?;
    if let Some(extra) = top.keys().find(|k| k.as_str() != key) {
        return Err(bad(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    inner.as_object().ok_or_else(|| {
        invalid(
            key,
            inner,
            format!("{} is not of type 'object'", py_repr(inner)),
        )
    })
}

fn no_extra(key: &str, body: &Map<String, Value>, allowed: &[&str]) -> ApiResult<()> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(invalid(
            key,
            &Value::Object(body.clone()),
            format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        )),
        None => Ok(()),
    }
}

/// `name_allow_zero_min_length` / `description`: a string of at most 255 characters, or null.
fn short_text(body: &Map<String, Value>, field: &str) -> ApiResult<Option<Option<String>>> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.chars().count() > 255 => Err(invalid(
            field,
            &Value::String(s.clone()),
            format!("{} is too long", py_str(s)),
        )),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(v) => Err(invalid(
            field,
            v,
            format!("{} is not of type 'string', 'null'", py_repr(v)),
        )),
    }
}

/// Cinder's `parameter_types.boolean`.
fn boolean(body: &Map<String, Value>, field: &str) -> ApiResult<bool> {
    const TRUE: &[&str] = &[
        "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
    ];
    const FALSE: &[&str] = &[
        "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f",
    ];
    match body.get(field) {
        None | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) => Ok(true),
        Some(Value::String(s)) if TRUE.contains(&s.as_str()) => Ok(true),
        Some(Value::String(s)) if FALSE.contains(&s.as_str()) => Ok(false),
        Some(v) => Err(invalid(
            field,
            v,
            format!(
                "{} is not one of [True, {}, False, {}]",
                py_repr(v),
                TRUE.iter()
                    .map(|s| py_str(s))
                    .collect::<Vec<_>>()
                    .join(", "),
                FALSE
                    .iter()
                    .map(|s| py_str(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// `metadata_allows_null`: an object of strings (keys 1–255 characters), or null.
fn metadata(body: &Map<String, Value>) -> ApiResult<BTreeMap<String, String>> {
    match body.get("metadata") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(invalid(
                    "metadata",
                    &Value::Object(m.clone()),
                    format!("{} is not of type 'string'", py_repr(other)),
                )),
            })
            .collect(),
        Some(v) => Err(invalid(
            "metadata",
            v,
            format!("{} is not of type 'object', 'null'", py_repr(v)),
        )),
    }
}

/// `POST /snapshots`. A missing `volume_id` is the schema's 400; a null one passes the schema
/// (`uuid_allow_null`) and is then looked up, as Cinder does: 404 `Volume None could not be
/// found.`
pub(crate) fn snapshot_create(doc: &Value) -> ApiResult<SnapshotCreate> {
    let s = envelope(doc, "snapshot")?;
    no_extra(
        "snapshot",
        s,
        &[
            "name",
            "display_name",
            "description",
            "volume_id",
            "force",
            "metadata",
        ],
    )?;
    let volume_id = match s.get("volume_id") {
        None => {
            return Err(invalid(
                "snapshot",
                &Value::Object(s.clone()),
                "'volume_id' is a required property",
            ));
        }
        Some(Value::Null) => {
            return Err(ApiError::new(
                super::SVC,
                404,
                "Volume None could not be found.",
            ));
        }
        Some(Value::String(v)) if uuid::Uuid::parse_str(v).is_ok() => v.clone(),
        Some(v @ Value::String(_)) => {
            return Err(invalid(
                "volume_id",
                v,
                format!("{} is not a 'uuid'", py_repr(v)),
            ));
        }
        Some(v) => {
            return Err(invalid(
                "volume_id",
                v,
                format!("{} is not of type 'string', 'null'", py_repr(v)),
            ));
        }
    };
    let force = boolean(s, "force")?;
    let metadata = metadata(s)?;
    let name = short_text(s, "name")?.flatten();
    let display_name = short_text(s, "display_name")?.flatten();
    Ok(SnapshotCreate {
        volume_id,
        name: name.or(display_name),
        description: short_text(s, "description")?.flatten(),
        force,
        metadata,
    })
}

/// `PUT /snapshots/{id}`: what changes (`Some(None)` clears). At least one of the four keys.
#[derive(Debug)]
pub(crate) struct SnapshotUpdate {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
}

pub(crate) fn snapshot_update(doc: &Value) -> ApiResult<SnapshotUpdate> {
    let s = envelope(doc, "snapshot")?;
    const KEYS: &[&str] = &["name", "description", "display_name", "display_description"];
    no_extra("snapshot", s, KEYS)?;
    if !KEYS.iter().any(|k| s.contains_key(*k)) {
        let v = Value::Object(s.clone());
        return Err(invalid(
            "snapshot",
            &v,
            format!(
                "{} is not valid under any of the given schemas",
                py_repr(&v)
            ),
        ));
    }
    let name = short_text(s, "name")?;
    let display_name = short_text(s, "display_name")?;
    let description = short_text(s, "description")?;
    let display_description = short_text(s, "display_description")?;
    Ok(SnapshotUpdate {
        name: name.or(display_name),
        description: description.or(display_description),
    })
}

/// `os-update_readonly_flag`: `{"readonly": <boolean>}`, nothing else.
pub(crate) fn readonly_flag(args: &Value) -> ApiResult<bool> {
    const ACTION: &str = "os-update_readonly_flag";
    let a = args.as_object().ok_or_else(|| {
        invalid(
            ACTION,
            args,
            format!("{} is not of type 'object'", py_repr(args)),
        )
    })?;
    no_extra(ACTION, a, &["readonly"])?;
    if !a.contains_key("readonly") {
        return Err(invalid(ACTION, args, "'readonly' is a required property"));
    }
    boolean(a, "readonly")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn python_repr_of_json() {
        assert_eq!(
            py_repr(&json!({"b": [1, true, null], "a": "it's"})),
            r#"{'a': "it's", 'b': [1, True, None]}"#
        );
    }

    #[test]
    fn snapshot_create_without_volume_id_is_the_schema_400() {
        let e = snapshot_create(&json!({"snapshot": {"name": "s"}})).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message,
            "Invalid input for field/attribute snapshot. Value: {'name': 's'}. 'volume_id' is a required property"
        );
        let e = snapshot_create(&json!({"snapshot": {"volume_id": null}})).unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (404, "Volume None could not be found.")
        );
        let e = snapshot_create(&json!({"snapshot": {"volume_id": "x"}})).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message,
            "Invalid input for field/attribute volume_id. Value: 'x'. 'x' is not a 'uuid'"
        );
        let e = snapshot_create(&json!({})).unwrap_err();
        assert_eq!(e.message, "'snapshot' is a required property");
        let id = "0b5f1b3c-3d0e-4a77-9f11-6c1d2e3f4a5b";
        let e = snapshot_create(&json!({"snapshot": {"volume_id": id, "size": 1}})).unwrap_err();
        assert!(
            e.message
                .ends_with("Additional properties are not allowed ('size' was unexpected)"),
            "{}",
            e.message
        );
        let ok = snapshot_create(
            &json!({"snapshot": {"volume_id": id, "display_name": "d", "force": "True", "metadata": {"k": "v"}}}),
        )
        .unwrap();
        assert_eq!(ok.name.as_deref(), Some("d"));
        assert!(ok.force);
    }

    #[test]
    fn snapshot_update_needs_one_field() {
        let e = snapshot_update(&json!({"snapshot": {}})).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid input for field/attribute snapshot. Value: {}. {} is not valid under any of the given schemas"
        );
        let u = snapshot_update(&json!({"snapshot": {"display_name": null}})).unwrap();
        assert_eq!(u.name, Some(None));
        assert!(u.description.is_none());
    }

    #[test]
    fn readonly_flag_is_a_cinder_boolean() {
        assert!(readonly_flag(&json!({"readonly": true})).unwrap());
        assert!(!readonly_flag(&json!({"readonly": "False"})).unwrap());
        let e = readonly_flag(&json!({})).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid input for field/attribute os-update_readonly_flag. Value: {}. 'readonly' is a required property"
        );
        assert_eq!(
            readonly_flag(&json!({"readonly": "maybe"}))
                .unwrap_err()
                .status,
            400
        );
    }
}
