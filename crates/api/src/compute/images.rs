//! Nova's deprecated image proxy: `/images` (list, detail, show, delete; 404 from microversion
//! 2.36) and `/images/{id}/metadata` (404 from 2.39), over Cascade's global Glance
//! ([`cascade_core::image::nova`]), in Nova's shapes: `SAVING`/`ACTIVE`/… statuses with
//! `progress`, `minRam`/`minDisk`, the snapshot's `server`, `OS-EXT-IMG-SIZE:size`,
//! `OS-DCF:diskConfig`, and Nova's texts and statuses (204 on deletes).

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::ErrorKind;
use cascade_core::image::Image;
use cascade_core::image::model::Caller;
use cascade_core::image::nova::{NovaImageQuery, metadata};
use cascade_model::microversion::Microversion;
use cascade_store::from_micros;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::misc::{bad, ok};
use super::{ApiResult, SVC};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

fn not_found() -> ApiError {
    ApiError::new(SVC, 404, "The resource could not be found.")
}

/// The image proxy is gone from 2.36, its metadata API from 2.39.
fn proxy(mv: Microversion, metadata: bool) -> ApiResult<()> {
    let last = if metadata { 38 } else { 35 };
    if mv.at_least(2, last + 1) {
        Err(not_found())
    } else {
        Ok(())
    }
}

fn caller(auth: &Auth) -> ApiResult<Caller> {
    let project_id = auth
        .0
        .project_id()
        .ok_or_else(|| ApiError::new(SVC, 403, "A project-scoped token is required."))?
        .to_string();
    Ok(Caller {
        project_id,
        is_admin: auth.0.is_admin(),
    })
}

/// Nova's text for an image that does not exist (or that the caller cannot see).
fn image_error(id: &str) -> impl Fn(cascade_core::CoreError) -> ApiError + '_ {
    move |e| {
        if e.kind == ErrorKind::NotFound && !e.message.contains("metadata") {
            ApiError::new(SVC, 404, format!("Image {id} could not be found."))
        } else {
            ApiError::from_core(SVC, e)
        }
    }
}

fn date(us: i64) -> String {
    from_micros(us).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Nova's `_get_status` and `_get_progress` of a Glance status.
fn status(glance: &str) -> (&'static str, u8) {
    match glance {
        "active" => ("ACTIVE", 100),
        "queued" => ("SAVING", 25),
        "saving" => ("SAVING", 50),
        "deleted" | "pending_delete" => ("DELETED", 0),
        "killed" => ("ERROR", 0),
        _ => ("UNKNOWN", 0),
    }
}

fn image_links(base: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/compute/v2.1/images/{id}")},
        {"rel": "bookmark", "href": format!("{base}/compute/images/{id}")},
        {"rel": "alternate", "type": "application/vnd.openstack.image",
         "href": format!("{base}/image/images/{id}")},
    ])
}

fn brief(base: &str, img: &Image) -> Value {
    json!({"id": img.id, "name": img.name, "links": image_links(base, &img.id)})
}

/// Nova's image view (`views/images.py` `show`).
fn full(base: &str, img: &Image) -> Value {
    let meta = metadata(img);
    let (status, progress) = status(&img.status);
    let mut o = json!({
        "id": img.id,
        "name": img.name,
        "minRam": img.min_ram,
        "minDisk": img.min_disk,
        "created": date(img.created_at),
        "updated": date(img.updated_at),
        "status": status,
        "progress": progress,
        "OS-EXT-IMG-SIZE:size": img.size,
        "links": image_links(base, &img.id),
    });
    if let Some(server) = meta.get("instance_uuid").and_then(Value::as_str) {
        o["server"] = json!({"id": server, "links": [
            {"rel": "self", "href": format!("{base}/compute/v2.1/servers/{server}")},
            {"rel": "bookmark", "href": format!("{base}/compute/servers/{server}")},
        ]});
    }
    if let Some(v) = meta.get("auto_disk_config") {
        let on = match v {
            Value::Bool(b) => *b,
            Value::String(s) => {
                matches!(
                    s.to_ascii_lowercase().as_str(),
                    "1" | "t" | "true" | "on" | "y" | "yes"
                )
            }
            _ => false,
        };
        o["OS-DCF:diskConfig"] = json!(if on { "AUTO" } else { "MANUAL" });
    }
    o["metadata"] = Value::Object(meta);
    o
}

fn query(raw: Option<&str>) -> ApiResult<NovaImageQuery> {
    let mut q = NovaImageQuery::default();
    let num = |k: &str, v: &str| -> ApiResult<u64> {
        v.parse::<u64>()
            .map_err(|_| bad(format!("Invalid {k} value: {v}")))
    };
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned() {
        match k.as_str() {
            "name" => q.name = Some(v),
            "status" => q.status = Some(v.to_lowercase()),
            "changes-since" => {
                let t = chrono::DateTime::parse_from_rfc3339(&v)
                    .map(|t| t.timestamp_micros())
                    .or_else(|_| {
                        chrono::NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%M:%S%.f")
                            .map(|t| t.and_utc().timestamp_micros())
                    })
                    .map_err(|_| bad(format!("Invalid changes-since value: {v}")))?;
                q.changes_since = Some(t);
            }
            // A server's id or its link: the last path segment is the id.
            "server" => q.server = Some(v.rsplit('/').next().unwrap_or_default().to_string()),
            "type" => q.image_type = Some(v),
            "minRam" => q.min_ram = Some(num("minRam", &v)?),
            "minDisk" => q.min_disk = Some(num("minDisk", &v)?),
            "limit" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad("limit param must be an integer"))?;
                if n < 0 {
                    return Err(bad("limit param must be positive"));
                }
                q.limit = Some((n as usize).min(1000));
            }
            "marker" => q.marker = Some(v),
            k if k.starts_with("property-") => q
                .properties
                .push((k.trim_start_matches("property-").to_string(), v)),
            _ => {}
        }
    }
    Ok(q)
}

async fn list_images(
    state: &AppState,
    auth: &Auth,
    mv: Microversion,
    raw: Option<String>,
    detail: bool,
) -> ApiResult {
    proxy(mv, false)?;
    let q = query(raw.as_deref())?;
    let images = state
        .images
        .nova_list(&caller(auth)?, &q)
        .await
        .or_api(SVC)?;
    let base = &state.public_url;
    let list: Vec<Value> = images
        .iter()
        .map(|i| {
            if detail {
                full(base, i)
            } else {
                brief(base, i)
            }
        })
        .collect();
    ok(json!({ "images": list }))
}

pub(crate) async fn index(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    list_images(&state, &auth, mv, raw, false).await
}

pub(crate) async fn detail(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    list_images(&state, &auth, mv, raw, true).await
}

pub(crate) async fn show(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv, false)?;
    let img = state
        .images
        .get(&caller(&auth)?, &id)
        .await
        .map_err(image_error(&id))?;
    ok(json!({"image": full(&state.public_url, &img)}))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv, false)?;
    state
        .images
        .delete(&caller(&auth)?, &id)
        .await
        .map_err(image_error(&id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- metadata ---------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataBody {
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetaBody {
    meta: BTreeMap<String, String>,
}

fn check_items(items: &BTreeMap<String, String>, field: &str) -> ApiResult<()> {
    for (k, v) in items {
        if k.is_empty() || k.chars().count() > 255 || v.chars().count() > 255 {
            return Err(bad(format!(
                "Invalid input for field/attribute {field}. Value: {k}. metadata items must be 1 to 255 characters long (values at most 255)"
            )));
        }
    }
    Ok(())
}

fn parse<T: for<'de> Deserialize<'de>>(raw: &Bytes, field: &str) -> ApiResult<T> {
    let doc = body::json(SVC, raw)?;
    serde_json::from_value(doc).map_err(|e| {
        bad(format!(
            "Invalid input for field/attribute {field}. Value: {e}."
        ))
    })
}

fn meta_doc(img: &Image) -> Value {
    json!({"metadata": Value::Object(metadata(img))})
}

pub(crate) async fn list_metadata(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    proxy(mv, true)?;
    let img = state
        .images
        .get(&caller(&auth)?, &id)
        .await
        .map_err(image_error(&id))?;
    ok(meta_doc(&img))
}

async fn set_metadata(
    state: &AppState,
    auth: &Auth,
    mv: Microversion,
    id: &str,
    raw: &Bytes,
    replace: bool,
) -> ApiResult {
    proxy(mv, true)?;
    let b: MetadataBody = parse(raw, "metadata")?;
    check_items(&b.metadata, "metadata")?;
    let img = state
        .images
        .nova_set_metadata(&caller(auth)?, id, &b.metadata, replace)
        .await
        .map_err(image_error(id))?;
    ok(meta_doc(&img))
}

/// `POST /images/{id}/metadata`: merges the items.
pub(crate) async fn update_metadata(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    set_metadata(&state, &auth, mv, &id, &raw, false).await
}

/// `PUT /images/{id}/metadata`: replaces every item.
pub(crate) async fn replace_metadata(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    set_metadata(&state, &auth, mv, &id, &raw, true).await
}

pub(crate) async fn show_metadata_item(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    proxy(mv, true)?;
    let img = state
        .images
        .get(&caller(&auth)?, &id)
        .await
        .map_err(image_error(&id))?;
    let meta = metadata(&img);
    let v = meta.get(&key).ok_or_else(not_found)?;
    let mut m = Map::new();
    m.insert(key, v.clone());
    ok(json!({"meta": m}))
}

pub(crate) async fn set_metadata_item(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    Path((id, key)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    proxy(mv, true)?;
    let b: MetaBody = parse(&raw, "meta")?;
    if b.meta.len() != 1 {
        return Err(bad("Request body contains too many items"));
    }
    check_items(&b.meta, "meta")?;
    if !b.meta.contains_key(&key) {
        return Err(bad("Request body and URI mismatch"));
    }
    state
        .images
        .nova_set_metadata(&caller(&auth)?, &id, &b.meta, false)
        .await
        .map_err(image_error(&id))?;
    ok(json!({"meta": b.meta}))
}

pub(crate) async fn delete_metadata_item(
    State(state): State<AppState>,
    auth: Auth,
    Extension(mv): Extension<Microversion>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    proxy(mv, true)?;
    state
        .images
        .nova_delete_metadata(&caller(&auth)?, &id, &key)
        .await
        .map_err(image_error(&id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_novas() {
        assert_eq!(status("queued"), ("SAVING", 25));
        assert_eq!(status("saving"), ("SAVING", 50));
        assert_eq!(status("active"), ("ACTIVE", 100));
        assert_eq!(status("killed"), ("ERROR", 0));
        assert_eq!(status("deactivated"), ("UNKNOWN", 0));
    }

    #[test]
    fn server_filter_takes_the_link_tail() {
        let q = query(Some(
            "server=http%3A%2F%2Fh%2Fcompute%2Fservers%2Fabc&status=ACTIVE&property-os_distro=x",
        ))
        .unwrap();
        assert_eq!(q.server.as_deref(), Some("abc"));
        assert_eq!(q.status.as_deref(), Some("active"));
        assert_eq!(q.properties, vec![("os_distro".into(), "x".into())]);
        assert!(query(Some("limit=-1")).is_err());
    }
}
