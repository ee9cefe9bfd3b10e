//! `createBackup`: Nova's request schema (`name`, `backup_type`, `rotation` ≥ 0, optional
//! `metadata`). The pod makes a plain snapshot; the top image is typed `backup` with its
//! `backup_type`, and once it is active the server's oldest backups of that type beyond
//! `rotation` are deleted (Nova's `_rotate_backups`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{CoreError, Result};

/// A validated `createBackup`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Backup {
    pub name: String,
    pub backup_type: String,
    pub rotation: u64,
    pub metadata: BTreeMap<String, String>,
}

fn invalid(detail: impl std::fmt::Display) -> CoreError {
    CoreError::bad_request(format!(
        "Invalid input for field/attribute createBackup. {detail}"
    ))
}

pub(crate) fn parse(b: &Value) -> Result<Backup> {
    let o = b
        .as_object()
        .ok_or_else(|| invalid(format!("Value: {b}. {b} is not of type 'object'")))?;
    let text = |k: &str| -> Result<String> {
        match o.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 255 => {
                Ok(s.clone())
            }
            Some(v) => Err(CoreError::bad_request(format!(
                "Invalid input for field/attribute {k}. Value: {v}."
            ))),
            None => Err(invalid(format!("'{k}' is a required property"))),
        }
    };
    let name = text("name")?;
    let backup_type = text("backup_type")?;
    let rotation = match o.get("rotation") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
        None => return Err(invalid("'rotation' is a required property")),
    }
    .ok_or_else(|| {
        CoreError::bad_request(format!(
            "Invalid input for field/attribute rotation. Value: {}. must be an integer of at least 0",
            o["rotation"]
        ))
    })?;
    let metadata = match o.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_string()))
                    .ok_or_else(|| {
                        CoreError::bad_request(format!(
                            "Invalid input for field/attribute metadata. Value: {v}."
                        ))
                    })
            })
            .collect::<Result<_>>()?,
        Some(v) => {
            return Err(CoreError::bad_request(format!(
                "Invalid input for field/attribute metadata. Value: {v}."
            )));
        }
    };
    Ok(Backup {
        name,
        backup_type,
        rotation,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn backups_need_name_type_and_rotation() {
        let b = parse(&json!({"name": "b", "backup_type": "daily", "rotation": 2})).unwrap();
        assert_eq!((b.backup_type.as_str(), b.rotation), ("daily", 2));
        assert_eq!(
            parse(&json!({"name": "b", "backup_type": "daily", "rotation": "1"}))
                .unwrap()
                .rotation,
            1
        );
        for bad in [
            json!({"backup_type": "daily", "rotation": 2}),
            json!({"name": "b", "rotation": 2}),
            json!({"name": "b", "backup_type": "daily"}),
            json!({"name": "b", "backup_type": "daily", "rotation": -1}),
            json!({"name": "b", "backup_type": "daily", "rotation": 1, "metadata": {"k": 1}}),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }
}
