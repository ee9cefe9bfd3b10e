//! Nova's deprecated volume proxies to Cinder, `os-volumes` and `os-snapshots` (404 from
//! microversion 2.36), over Cascade's Cinder ([`cascade_core::volume`]): Nova's request
//! schemas (a `size` of at least 1, `display_name`/`display_description`), Nova's camel-case
//! views (`availabilityZone`, `createdAt`, `attachments` as `[{}]` when none), and Nova's
//! statuses (200 on create, 202 on delete).

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::volume::{ListQuery, SnapshotCreate, VolumeCreate};
use cascade_model::microversion::Microversion;
use cascade_store::from_micros;
use cascade_store::volumes::{SnapshotRow, VolumeRow};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::misc::{bad, ok};
use super::{ApiResult, SVC, scope};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

use super::proxy_api as proxy;

fn date(us: i64) -> String {
    from_micros(us).format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Nova's attachment summaries of a volume: `[{}]` when it has none.
fn attachments_view(id: &str, attachments: &str) -> Vec<Value> {
    let attached: Vec<Value> = serde_json::from_str(attachments).unwrap_or_default();
    if attached.is_empty() {
        return vec![json!({})];
    }
    attached
        .iter()
        .map(|a| {
            let mut o = json!({"id": id, "volumeId": id, "serverId": a["server_id"]});
            if let Some(d) = a["device"].as_str() {
                o["device"] = json!(d);
            }
            o
        })
        .collect()
}

/// Nova's `_translate_volume_summary_view`.
fn volume_view(r: &VolumeRow) -> Value {
    let attachments = attachments_view(&r.id, &r.attachments);
    let metadata: Value = serde_json::from_str(&r.metadata).unwrap_or_else(|_| json!({}));
    json!({
        "id": r.id,
        "status": r.status,
        "size": r.size,
        "availabilityZone": r.az,
        "createdAt": date(r.created_at),
        "attachments": attachments,
        "displayName": r.name,
        "displayDescription": r.description,
        "volumeType": (!r.volume_type.is_empty()).then_some(&r.volume_type),
        "snapshotId": r.snapshot_id,
        "metadata": metadata,
    })
}

/// Nova's `_translate_snapshot_summary_view`.
fn snapshot_view(s: &SnapshotRow) -> Value {
    json!({
        "id": s.id,
        "volumeId": s.volume_id,
        "status": s.status,
        "size": s.size,
        "createdAt": date(s.created_at),
        "displayName": s.name,
        "displayDescription": s.description,
    })
}

fn invalid(field: &str, detail: impl std::fmt::Display) -> ApiError {
    bad(format!(
        "Invalid input for field/attribute {field}. {detail}"
    ))
}

/// Nova's `parameter_types.volume_size`-style check: an integer (or its string) of at least 1.
fn size(v: Option<&Value>) -> ApiResult<i64> {
    let v = v.ok_or_else(|| invalid("volume", "'size' is a required property"))?;
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        invalid(
            "size",
            format!("Value: {v}. {v} is not of type 'integer', 'string'"),
        )
    })?;
    if n < 1 {
        return Err(invalid(
            "size",
            format!("Value: {v}. {n} is less than the minimum of 1"),
        ));
    }
    Ok(n)
}

#[derive(Deserialize)]
struct VolumeRequest {
    size: Option<Value>,
    display_name: Option<String>,
    display_description: Option<String>,
    volume_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    availability_zone: Option<String>,
    snapshot_id: Option<String>,
    #[serde(rename = "imageRef")]
    image_ref: Option<String>,
}

fn from_body<T: for<'de> Deserialize<'de>>(raw: &Bytes, key: &str) -> ApiResult<T> {
    let doc = body::json(SVC, raw)?;
    let inner = doc
        .get(key)
        .filter(|v| v.is_object())
        .ok_or_else(|| invalid(key, format!("'{key}' is a required property")))?;
    serde_json::from_value(inner.clone()).map_err(|e| invalid(key, e))
}

pub(crate) async fn create_volume(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    raw: Bytes,
) -> ApiResult {
    proxy(mv)?;
    let v: VolumeRequest = from_body(&raw, "volume")?;
    let size = size(v.size.as_ref())?;
    let actor = state.delegation.actor(&ctx).await.or_api(SVC)?;
    let row = state
        .volumes
        .create_volume(
            &actor,
            VolumeCreate {
                name: v.display_name,
                description: v.display_description,
                size: Some(size),
                availability_zone: v.availability_zone,
                volume_type: v.volume_type,
                metadata: v.metadata,
                image_ref: v.image_ref,
                snapshot_id: v.snapshot_id,
                ..Default::default()
            },
        )
        .await
        .or_api(SVC)?;
    ok(json!({"volume": volume_view(&row)}))
}

/// Nova's `common.limited`: `offset` and `limit` (at most 1000) query parameters.
fn window(raw: Option<&str>) -> ApiResult<(usize, usize)> {
    let (mut offset, mut limit) = (0usize, 1000usize);
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let n = || -> ApiResult<usize> {
            let n: i64 = v
                .parse()
                .map_err(|_| bad(format!("{k} param must be an integer")))?;
            if n < 0 {
                return Err(bad(format!("{k} param must be positive")));
            }
            Ok(n as usize)
        };
        match k.as_ref() {
            "offset" => offset = n()?,
            "limit" => limit = n()?.min(1000),
            _ => {}
        }
    }
    Ok((offset, limit))
}

pub(crate) async fn list_volumes(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    proxy(mv)?;
    let (offset, limit) = window(raw.as_deref())?;
    let list = state
        .volumes
        .list_volumes(&ListQuery::new(scope(&ctx)?))
        .await
        .or_api(SVC)?;
    let volumes: Vec<Value> = list
        .volumes
        .iter()
        .skip(offset)
        .take(limit)
        .map(|v| volume_view(&v.row))
        .collect();
    ok(json!({ "volumes": volumes }))
}

pub(crate) async fn show_volume(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv)?;
    let v = state
        .volumes
        .get_volume(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    ok(json!({"volume": volume_view(&v.row)}))
}

pub(crate) async fn delete_volume(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv)?;
    state
        .volumes
        .delete_volume(&scope(&ctx)?, &id, false)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Deserialize)]
struct SnapshotRequest {
    volume_id: Option<String>,
    #[serde(default)]
    force: Value,
    display_name: Option<String>,
    display_description: Option<String>,
}

pub(crate) async fn create_snapshot(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    raw: Bytes,
) -> ApiResult {
    proxy(mv)?;
    let s: SnapshotRequest = from_body(&raw, "snapshot")?;
    let volume_id = s
        .volume_id
        .ok_or_else(|| invalid("snapshot", "'volume_id' is a required property"))?;
    let force = match &s.force {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(t) => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => true,
            "false" | "0" | "no" | "off" | "f" | "n" => false,
            _ => {
                return Err(invalid(
                    "force",
                    format!("Value: {t}. {t} is not a boolean"),
                ));
            }
        },
        other => {
            return Err(invalid(
                "force",
                format!("Value: {other}. {other} is not a boolean"),
            ));
        }
    };
    let actor = state.delegation.actor(&ctx).await.or_api(SVC)?;
    let row = state
        .volumes
        .create_snapshot(
            &actor,
            &scope(&ctx)?,
            SnapshotCreate {
                volume_id,
                name: s.display_name,
                description: s.display_description,
                force,
                metadata: BTreeMap::new(),
            },
        )
        .await
        .or_api(SVC)?;
    ok(json!({"snapshot": snapshot_view(&row)}))
}

pub(crate) async fn list_snapshots(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
) -> ApiResult {
    proxy(mv)?;
    let list = state
        .volumes
        .list_snapshots(&scope(&ctx)?)
        .await
        .or_api(SVC)?;
    ok(json!({"snapshots": list.iter().map(snapshot_view).collect::<Vec<_>>()}))
}

pub(crate) async fn show_snapshot(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv)?;
    let s = state
        .volumes
        .snapshot_row(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    ok(json!({"snapshot": snapshot_view(&s)}))
}

pub(crate) async fn delete_snapshot(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv)?;
    state
        .volumes
        .delete_snapshot(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_positive_integers() {
        assert_eq!(size(Some(&json!(2))).unwrap(), 2);
        assert_eq!(size(Some(&json!("3"))).unwrap(), 3);
        for v in [json!(0), json!("#$%"), json!(-1), json!(1.5), json!(null)] {
            assert_eq!(size(Some(&v)).unwrap_err().status, 400, "{v}");
        }
        assert_eq!(size(None).unwrap_err().status, 400);
    }

    #[test]
    fn unattached_volumes_show_one_empty_attachment() {
        assert_eq!(attachments_view("v", "[]"), vec![json!({})]);
        assert_eq!(
            attachments_view("v", r#"[{"server_id": "s", "device": "/dev/vdb"}]"#),
            vec![json!({"id": "v", "volumeId": "v", "serverId": "s", "device": "/dev/vdb"})]
        );
    }
}
