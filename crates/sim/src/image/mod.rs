//! Glance v2 at `/image` (`GET /image` answers 300 with the versions list): images (create,
//! show, list with filters including `id=in:a,b`, arbitrary properties, `sort`/`sort_key`,
//! `marker`/`limit` and a top-level `next`), JSON-patch updates
//! (`application/openstack-images-v2.1-json-patch`), delete (refused when protected), tags,
//! visibility, and data upload/download at `/v2/images/{id}/file`.
//!
//! Uploads are streamed: the MD5 `checksum`, the SHA-512 `os_hash_value` and the `size` are
//! computed chunk by chunk while the status is `saving`, and the region lock is never held
//! while bytes arrive. The bytes themselves are then kept in memory, one buffer per image
//! (and persisted base64-encoded in the state file): fine for a simulator, wrong for real
//! images. Errors are webob-style HTML pages, as Glance sends. Members of shared images are
//! in `members`. Simplifications: no image import, member acceptance, locations, tasks or
//! stores.

use std::collections::{BTreeMap, BTreeSet};

use axum::Extension;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::compute::servers::Server;
use crate::error::{ApiError, ApiResult};
use crate::identity::{Auth, AuthContext};
use crate::server::Ctx;
use crate::util::{Params, Ts, cmp_json, new_id, now, ts_z};

mod members;

mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};
    pub(super) fn serialize<S: Serializer>(
        v: &Option<bytes::Bytes>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<bytes::Bytes>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        Ok(
            s.and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .map(bytes::Bytes::from),
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Image {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) status: String,
    pub(crate) visibility: String,
    pub(crate) protected: bool,
    pub(crate) owner: String,
    pub(crate) disk_format: Option<String>,
    pub(crate) container_format: Option<String>,
    pub(crate) min_disk: u64,
    pub(crate) min_ram: u64,
    pub(crate) size: Option<u64>,
    pub(crate) checksum: Option<String>,
    pub(crate) os_hash_value: Option<String>,
    pub(crate) os_hidden: bool,
    pub(crate) tags: BTreeSet<String>,
    pub(crate) properties: BTreeMap<String, Value>,
    pub(crate) created_at: Ts,
    pub(crate) updated_at: Ts,
    #[serde(with = "b64", default)]
    pub(crate) data: Option<Bytes>,
    /// Member projects of a `shared` image, with their member documents.
    #[serde(default)]
    pub(crate) members: BTreeMap<String, Value>,
}

impl Image {
    pub(crate) fn visible_to(&self, auth: &AuthContext) -> bool {
        auth.is_admin
            || self.owner == auth.project_id
            || self.visibility == "public"
            || self.visibility == "community"
            || (self.visibility == "shared" && self.members.contains_key(&auth.project_id))
    }

    pub(crate) fn volume_image_metadata(&self) -> Value {
        let mut m = Map::new();
        m.insert("image_id".into(), json!(self.id));
        m.insert("image_name".into(), json!(self.name));
        m.insert("checksum".into(), json!(self.checksum));
        m.insert("size".into(), json!(self.size.unwrap_or(0).to_string()));
        m.insert("min_disk".into(), json!(self.min_disk.to_string()));
        m.insert("min_ram".into(), json!(self.min_ram.to_string()));
        if let Some(d) = &self.disk_format {
            m.insert("disk_format".into(), json!(d));
        }
        if let Some(c) = &self.container_format {
            m.insert("container_format".into(), json!(c));
        }
        Value::Object(m)
    }

    fn render(&self) -> Value {
        let mut o = Map::new();
        for (k, v) in &self.properties {
            o.insert(k.clone(), v.clone());
        }
        for (k, v) in [
            ("id", json!(self.id)),
            ("name", json!(self.name)),
            ("status", json!(self.status)),
            ("visibility", json!(self.visibility)),
            ("protected", json!(self.protected)),
            ("owner", json!(self.owner)),
            ("disk_format", json!(self.disk_format)),
            ("container_format", json!(self.container_format)),
            ("min_disk", json!(self.min_disk)),
            ("min_ram", json!(self.min_ram)),
            ("size", json!(self.size)),
            ("virtual_size", json!(self.virtual_size())),
            ("checksum", json!(self.checksum)),
            (
                "os_hash_algo",
                json!(self.os_hash_value.as_ref().map(|_| "sha512")),
            ),
            ("os_hash_value", json!(self.os_hash_value)),
            ("os_hidden", json!(self.os_hidden)),
            ("tags", json!(self.tags)),
            ("created_at", json!(ts_z(&self.created_at))),
            ("updated_at", json!(ts_z(&self.updated_at))),
            ("self", json!(format!("/v2/images/{}", self.id))),
            ("file", json!(format!("/v2/images/{}/file", self.id))),
            ("schema", json!("/v2/schemas/image")),
        ] {
            o.insert(k.into(), v);
        }
        if self.status == "active" {
            // the backend holding the data (the real tier's single filesystem store)
            o.insert("stores".into(), json!("fs"));
        }
        Value::Object(o)
    }

    /// What Glance's format inspector computes on upload: the size for raw, the header's
    /// virtual size for qcow2, unknown otherwise.
    fn virtual_size(&self) -> Option<u64> {
        if self.status != "active" {
            return None;
        }
        let data = self.data.as_deref().unwrap_or_default();
        match self.disk_format.as_deref() {
            Some("raw") => self.size,
            Some("qcow2") if data.len() >= 32 && data.starts_with(b"QFI\xfb") => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[24..32]);
                Some(u64::from_be_bytes(b))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ImageState {
    pub(crate) images: BTreeMap<String, Image>,
    /// Server snapshots being uploaded (`saving`), by image id: when their upload ends.
    #[serde(default)]
    pub(crate) uploading: BTreeMap<String, Ts>,
}

const BASE_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "owner",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "os_hidden",
    "tags",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "locations",
    "direct_url",
    "stores",
];
const READ_ONLY: &[&str] = &[
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
    "stores",
];

pub(crate) fn gerr(status: u16, msg: impl Into<String>) -> ApiError {
    ApiError::glance(status, msg)
}

fn blank(id: String, owner: &str, t: Ts) -> Image {
    Image {
        id,
        name: None,
        status: "queued".into(),
        visibility: "shared".into(),
        protected: false,
        owner: owner.into(),
        disk_format: None,
        container_format: None,
        min_disk: 0,
        min_ram: 0,
        size: None,
        checksum: None,
        os_hash_value: None,
        os_hidden: false,
        tags: BTreeSet::new(),
        properties: BTreeMap::new(),
        created_at: t,
        updated_at: t,
        data: None,
        members: BTreeMap::new(),
    }
}

fn finish_upload(img: &mut Image, data: Bytes, t: Ts) {
    use md5::Digest;
    img.checksum = Some(hex::encode(md5::Md5::digest(&data)));
    img.os_hash_value = Some(hex::encode(sha2::Sha512::digest(&data)));
    img.size = Some(data.len() as u64);
    img.data = Some(data);
    img.status = "active".into();
    img.updated_at = t;
}

impl ImageState {
    pub(crate) fn seed(&mut self, t: Ts) {
        let mut img = blank(new_id(), "admin", t);
        img.name = Some("cirros-0.6.2-x86_64-disk".into());
        img.visibility = "public".into();
        img.disk_format = Some("qcow2".into());
        img.container_format = Some("bare".into());
        img.min_disk = 1;
        finish_upload(
            &mut img,
            Bytes::from_static(b"QFI\xfb simulated cirros image"),
            t,
        );
        self.images.insert(img.id.clone(), img);
    }

    pub(crate) fn create_snapshot(
        &mut self,
        auth: &AuthContext,
        name: &str,
        s: &Server,
        meta: BTreeMap<String, String>,
        t: Ts,
        done: Ts,
    ) -> String {
        let mut img = blank(new_id(), &auth.project_id, t);
        img.name = Some(name.into());
        img.visibility = "private".into();
        img.disk_format = Some("qcow2".into());
        img.container_format = Some("bare".into());
        img.min_disk = s.flavor.disk;
        img.min_ram = s.flavor.ram;
        img.properties
            .insert("image_type".into(), json!("snapshot"));
        img.properties.insert("instance_uuid".into(), json!(s.id));
        img.properties.insert("user_id".into(), json!(auth.user_id));
        if let Some(b) = &s.image_id {
            img.properties.insert("base_image_ref".into(), json!(b));
        }
        // The request's metadata wins over the snapshot's own properties, as in Nova.
        for (k, v) in meta {
            img.properties.insert(k, json!(v));
        }
        // Nova's snapshot image is `saving` while the hypervisor uploads it.
        img.status = "saving".into();
        let id = img.id.clone();
        self.images.insert(id.clone(), img);
        self.uploading.insert(id.clone(), done);
        id
    }

    /// Ends the snapshot uploads due by `now`. Returns whether anything changed.
    pub(crate) fn advance(&mut self, now: Ts) -> bool {
        let due: Vec<(String, Ts)> = self
            .uploading
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(id, d)| (id.clone(), *d))
            .collect();
        for (id, d) in &due {
            self.uploading.remove(id);
            if let Some(img) = self.images.get_mut(id).filter(|i| i.status == "saving") {
                let server = img
                    .properties
                    .get("instance_uuid")
                    .cloned()
                    .unwrap_or_default();
                finish_upload(img, Bytes::from(format!("snapshot of {server}")), *d);
            }
        }
        !due.is_empty()
    }
}

async fn versions(State(ctx): State<Ctx>) -> Response {
    let b = &ctx.region.base_url;
    let v: Vec<Value> = [("v2.16", "CURRENT"), ("v2.15", "SUPPORTED"), ("v2.9", "SUPPORTED"), ("v2.0", "SUPPORTED")]
        .iter()
        .map(|(id, st)| json!({"id": id, "status": st, "links": [{"rel": "self", "href": format!("{b}/image/v2/")}]}))
        .collect();
    (
        StatusCode::MULTIPLE_CHOICES,
        axum::Json(json!({"versions": v})),
    )
        .into_response()
}

pub(crate) fn find<'a>(st: &'a ImageState, id: &str, auth: &AuthContext) -> ApiResult<&'a Image> {
    st.images
        .get(id)
        .filter(|i| i.visible_to(auth))
        .ok_or_else(|| gerr(404, format!("No image found with ID {id}")))
}

pub(crate) fn check_owner(img: &Image, auth: &AuthContext) -> ApiResult<()> {
    if auth.is_admin || img.owner == auth.project_id {
        Ok(())
    } else {
        Err(gerr(
            403,
            format!("You are not permitted to modify image {}.", img.id),
        ))
    }
}

fn apply_field(img: &mut Image, k: &str, v: &Value, auth: &AuthContext) -> ApiResult<()> {
    if READ_ONLY.contains(&k) {
        return Err(gerr(403, format!("Attribute '{k}' is read-only.")));
    }
    let bad = || gerr(400, format!("Invalid value for attribute '{k}': {v}"));
    match k {
        "name" => img.name = v.as_str().map(str::to_string),
        "visibility" => {
            let vis = v
                .as_str()
                .filter(|s| ["public", "private", "shared", "community"].contains(s))
                .ok_or_else(bad)?;
            if vis == "public" && !auth.is_admin {
                return Err(gerr(
                    403,
                    "You are not authorized to complete publicize_image action.",
                ));
            }
            img.visibility = vis.into();
        }
        "protected" => img.protected = v.as_bool().ok_or_else(bad)?,
        "os_hidden" => img.os_hidden = v.as_bool().ok_or_else(bad)?,
        "owner" => img.owner = v.as_str().ok_or_else(bad)?.into(),
        "disk_format" => img.disk_format = v.as_str().map(str::to_string),
        "container_format" => img.container_format = v.as_str().map(str::to_string),
        "min_disk" => img.min_disk = v.as_u64().ok_or_else(bad)?,
        "min_ram" => img.min_ram = v.as_u64().ok_or_else(bad)?,
        "tags" => {
            img.tags = v
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        }
        _ => {
            if !v.is_string() && !v.is_null() {
                return Err(bad());
            }
            img.properties.insert(k.into(), v.clone());
        }
    }
    Ok(())
}

async fn create(State(ctx): State<Ctx>, Extension(auth): Auth, raw: Bytes) -> ApiResult<Response> {
    let v: Value =
        serde_json::from_slice(&raw).map_err(|_| gerr(400, "Body expected in request."))?;
    let o = v
        .as_object()
        .ok_or_else(|| gerr(400, "Body expected in request."))?;
    let t = now();
    let id = match o.get("id").and_then(Value::as_str) {
        Some(i) => uuid::Uuid::parse_str(i)
            .map(|u| u.to_string())
            .map_err(|_| gerr(400, format!("Invalid id: {i}")))?,
        None => new_id(),
    };
    let mut img = blank(id.clone(), &auth.project_id, t);
    for (k, val) in o {
        if k == "id" {
            continue;
        }
        apply_field(&mut img, k, val, &auth)?;
    }
    let mut st = ctx.write();
    if st.image.images.contains_key(&id) {
        return Err(gerr(
            409,
            format!("An image with identifier {id} already exists"),
        ));
    }
    let out = img.render();
    st.image.images.insert(id.clone(), img);
    let mut r = (StatusCode::CREATED, axum::Json(out)).into_response();
    if let Ok(h) =
        http::HeaderValue::from_str(&format!("{}/image/v2/images/{id}", ctx.region.base_url))
    {
        r.headers_mut().insert(http::header::LOCATION, h);
    }
    Ok(r)
}

async fn show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    Ok(axum::Json(find(&st.image, &id, &auth)?.render()).into_response())
}

async fn list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let st = ctx.read();
    let skip = [
        "limit",
        "marker",
        "sort",
        "sort_key",
        "sort_dir",
        "member_status",
    ];
    let mut items: Vec<Value> = st
        .image
        .images
        .values()
        .filter(|i| i.visible_to(&auth))
        .filter(|i| match p.get("visibility") {
            Some("all") | None => i.visibility != "community" || i.owner == auth.project_id,
            Some(v) => i.visibility == v,
        })
        .filter(|i| {
            p.get("os_hidden")
                .and_then(crate::util::truthy)
                .unwrap_or(false)
                == i.os_hidden
        })
        .map(Image::render)
        .filter(|r| {
            p.0.iter()
                .filter(|(k, _)| {
                    !skip.contains(&k.as_str()) && k != "visibility" && k != "os_hidden"
                })
                .all(|(k, want)| {
                    if k == "tag" {
                        return r["tags"]
                            .as_array()
                            .is_some_and(|a| a.contains(&json!(want)));
                    }
                    let field = r.get(k).and_then(crate::util::json_as_filter_str);
                    match want.strip_prefix("in:") {
                        Some(list) => field.is_some_and(|f| list.split(',').any(|x| x == f)),
                        None => field.as_deref() == Some(want.as_str()),
                    }
                })
        })
        .collect();
    let mut keys: Vec<(String, String)> = vec![];
    if let Some(sort) = p.get("sort") {
        for part in sort.split(',') {
            let mut it = part.split(':');
            keys.push((
                it.next().unwrap_or("created_at").trim().into(),
                it.next().unwrap_or("desc").into(),
            ));
        }
    } else {
        let dirs = p.all("sort_dir");
        for (i, k) in p.all("sort_key").iter().enumerate() {
            keys.push((k.to_string(), dirs.get(i).unwrap_or(&"desc").to_string()));
        }
    }
    if keys.is_empty() {
        keys.push(("created_at".into(), "desc".into()));
    }
    items.sort_by(|a, b| {
        for (k, d) in &keys {
            let o = cmp_json(&a[k.as_str()], &b[k.as_str()]);
            let o = if d == "desc" { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        cmp_json(&b["id"], &a["id"])
    });
    if let Some(m) = p.get("marker") {
        let pos = items
            .iter()
            .position(|v| v["id"] == json!(m))
            .ok_or_else(|| gerr(400, format!("marker {m} could not be found.")))?;
        items.drain(..=pos);
    }
    let limit = p
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .min(1000);
    let more = items.len() > limit;
    items.truncate(limit);
    let mut out = json!({"images": items, "first": "/v2/images", "schema": "/v2/schemas/images"});
    if more && let Some(last) = items.last().and_then(|v| v["id"].as_str()) {
        out["next"] = json!(format!("/v2/images?{}", p.with_marker(last, limit)));
    }
    Ok(axum::Json(out).into_response())
}

async fn patch(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let ct = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !ct.starts_with("application/openstack-images-v2.1-json-patch")
        && !ct.starts_with("application/openstack-images-v2.0-json-patch")
    {
        return Err(gerr(415, format!("Unsupported Content-Type: {ct}")));
    }
    let raw = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|_| gerr(413, "Request body too large"))?;
    let ops: Vec<Value> =
        serde_json::from_slice(&raw).map_err(|_| gerr(400, "Malformed JSON-patch body"))?;
    let mut st = ctx.write();
    let mut img = find(&st.image, &id, &auth)?.clone();
    check_owner(&img, &auth)?;
    for op in &ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let key = path
            .trim_start_matches('/')
            .replace("~1", "/")
            .replace("~0", "~");
        match kind {
            "add" | "replace" => {
                let val = op.get("value").cloned().unwrap_or(Value::Null);
                if kind == "replace"
                    && !BASE_KEYS.contains(&key.as_str())
                    && !img.properties.contains_key(&key)
                {
                    return Err(gerr(409, format!("Property {key} does not exist.")));
                }
                if let Some(idx) = key.strip_prefix("tags/") {
                    let _ = idx;
                    if let Some(t) = val.as_str() {
                        img.tags.insert(t.into());
                    }
                } else {
                    apply_field(&mut img, &key, &val, &auth)?;
                }
            }
            "remove" => {
                if BASE_KEYS.contains(&key.as_str()) {
                    return Err(gerr(403, format!("Properties {key} cannot be removed.")));
                }
                if img.properties.remove(&key).is_none() {
                    return Err(gerr(409, format!("Property {key} does not exist.")));
                }
            }
            other => return Err(gerr(400, format!("Invalid operation: `{other}`"))),
        }
    }
    img.updated_at = now();
    let out = img.render();
    st.image.images.insert(id, img);
    Ok(axum::Json(out).into_response())
}

async fn remove(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut st = ctx.write();
    let img = find(&st.image, &id, &auth)?;
    check_owner(img, &auth)?;
    if img.protected {
        return Err(gerr(
            403,
            format!("Image {id} is protected and cannot be deleted."),
        ));
    }
    st.image.images.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn tag_put(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut st = ctx.write();
    check_owner(find(&st.image, &id, &auth)?, &auth)?;
    if let Some(i) = st.image.images.get_mut(&id) {
        i.tags.insert(tag);
        i.updated_at = now();
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn tag_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut st = ctx.write();
    check_owner(find(&st.image, &id, &auth)?, &auth)?;
    let i = st
        .image
        .images
        .get_mut(&id)
        .ok_or_else(|| gerr(404, "gone"))?;
    if !i.tags.remove(&tag) {
        return Err(gerr(404, format!("Tag {tag} not found")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Streams the request body in: hashes and counts each chunk as it arrives, without holding
/// the region lock.
async fn upload(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let early = {
        let mut st = ctx.write();
        (|| {
            let img = find(&st.image, &id, &auth)?;
            check_owner(img, &auth)?;
            if img.status != "queued" {
                return Err(gerr(
                    409,
                    format!(
                        "Image status transition from {} to saving is not allowed",
                        img.status
                    ),
                ));
            }
            if let Some(i) = st.image.images.get_mut(&id) {
                i.status = "saving".into();
            }
            Ok(())
        })()
    };
    if let Err(e) = early {
        // answered before the body is read: say the connection closes, so that no client
        // sends its next request on a connection whose unread body is still in flight
        let mut r = e.into_response();
        r.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        return Ok(r);
    }
    use md5::Digest;
    let (mut md5, mut sha) = (md5::Md5::new(), sha2::Sha512::new());
    let mut buf = bytes::BytesMut::new();
    let mut stream = req.into_body().into_data_stream();
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                md5.update(&c);
                sha.update(&c);
                buf.extend_from_slice(&c);
            }
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    let mut st = ctx.write();
    let Some(img) = st.image.images.get_mut(&id) else {
        return Err(gerr(410, "Image deleted during upload"));
    };
    if failed {
        img.status = "queued".into();
        return Err(gerr(400, "Error reading image data"));
    }
    let size = buf.len() as u64;
    img.checksum = Some(hex::encode(md5.finalize()));
    img.os_hash_value = Some(hex::encode(sha.finalize()));
    img.size = Some(size);
    img.data = Some(buf.freeze());
    img.status = "active".into();
    img.updated_at = now();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn download(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (data, checksum) = {
        let st = ctx.read();
        let img = find(&st.image, &id, &auth)?;
        (img.data.clone(), img.checksum.clone())
    };
    let Some(data) = data else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    // Hand the buffer out in 64 KiB chunks (a cheap clone of the shared buffer).
    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..data.len())
        .step_by(65536)
        .map(|i| Ok(data.slice(i..(i + 65536).min(data.len()))))
        .collect();
    let mut r = Body::from_stream(futures_util::stream::iter(chunks)).into_response();
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = http::HeaderValue::from_str(&data.len().to_string()) {
        h.insert(http::header::CONTENT_LENGTH, v);
    }
    if let Some(c) = checksum.and_then(|c| http::HeaderValue::from_str(&c).ok()) {
        h.insert("content-md5", c);
    }
    Ok(r)
}

async fn schema_image() -> Response {
    axum::Json(
        json!({"name": "image", "properties": {}, "additionalProperties": {"type": "string"}}),
    )
    .into_response()
}

pub(crate) fn router(ctx: Ctx) -> Router<Ctx> {
    let authed = Router::new()
        .route("/image/v2/images", get(list).post(create))
        .route(
            "/image/v2/images/{id}",
            get(show).patch(patch).delete(remove),
        )
        .route("/image/v2/images/{id}/file", get(download).put(upload))
        .route(
            "/image/v2/images/{id}/tags/{tag}",
            delete(tag_delete).put(tag_put),
        )
        .route(
            "/image/v2/images/{id}/members",
            get(members::list).post(members::add),
        )
        .route(
            "/image/v2/images/{id}/members/{member}",
            get(members::show).delete(members::remove),
        )
        .route("/image/v2/schemas/image", get(schema_image))
        .route_layer(middleware::from_fn_with_state(
            ctx,
            crate::identity::auth_layer,
        ));
    Router::new()
        .route("/image", get(versions))
        .route("/image/", get(versions))
        .merge(authed)
}
