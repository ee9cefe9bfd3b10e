//! Cinder v3 at `/volume/v3/{project_id}` (discovery at `/volume/` with 300 and `/volume/v3/`):
//! volumes (create in the region's AZ, from an image or a snapshot; `creating` → `available`
//! after the volume time; `in-use` while attached; `volumes/detail` with filters, sort,
//! marker/limit and `changes-since`), snapshots, volume types with extra specs, the `os-extend`,
//! `os-reserve`/`os-unreserve` and `os-update_readonly_flag` actions,
//! attachments (3.27), quota sets, the admin's pool statistics (`scheduler-stats/get_pools`,
//! one pool the size of the region's disk capacity), hosts (`os-hosts`), backend capabilities and
//! volume transfers. Microversions 3.0–3.71 are negotiated and echoed.
//!
//! Simplifications: no backups, groups, migrations or QoS; `volume_type` is a
//! label; snapshot and volume sizes are not checked against any backend.

mod actions;
mod attachments;
mod misc;
mod snapshots;
mod transfers;
mod types;

use std::collections::BTreeMap;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::HeaderValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::compute::Mv;
use crate::error::{ApiError, ApiResult};
use crate::identity::{Auth, AuthContext};
use crate::server::Ctx;
use crate::util::{Params, Ts, cmp_json, new_id, now, str_field, ts_cinder};

const MIN: Mv = Mv(3, 0);
const MAX: Mv = Mv(3, 71);

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct VolumeState {
    pub(crate) volumes: BTreeMap<String, Value>,
    pub(crate) snapshots: BTreeMap<String, Value>,
    pub(crate) types: BTreeMap<String, Value>,
    pub(crate) attachments: BTreeMap<String, Value>,
    #[serde(default)]
    pub(crate) transfers: BTreeMap<String, Value>,
    /// (due, kind, id, final status)
    pub(crate) pending: Vec<(Ts, String, String, String)>,
    #[serde(skip)]
    pub(crate) delay: chrono::Duration,
}

fn cerr(status: u16, msg: impl Into<String>) -> ApiError {
    ApiError::cinder(status, msg)
}

impl VolumeState {
    pub(crate) fn seed(&mut self) {
        let id = new_id();
        self.types.insert(id.clone(), json!({"id": id, "name": "__DEFAULT__", "description": "Default Volume Type", "is_public": true, "extra_specs": {}, "qos_specs_id": null, "os-volume-type-access:is_public": true}));
    }

    pub(crate) fn advance(&mut self, now: Ts) -> bool {
        let due: Vec<_> = self
            .pending
            .iter()
            .filter(|p| p.0 <= now)
            .cloned()
            .collect();
        if due.is_empty() {
            return false;
        }
        self.pending.retain(|p| p.0 > now);
        for (t, kind, id, status) in due {
            let map = if kind == "volume" {
                &mut self.volumes
            } else {
                &mut self.snapshots
            };
            if let Some(o) = map.get_mut(&id).and_then(Value::as_object_mut)
                && matches!(
                    o.get("status").and_then(Value::as_str),
                    Some("creating" | "extending")
                )
            {
                o.insert("status".into(), json!(status));
                o.insert("updated_at".into(), json!(ts_cinder(&t)));
                o.insert("_updated".into(), json!(t.timestamp_nanos_opt()));
            }
        }
        true
    }

    fn default_type(&self) -> String {
        self.types
            .values()
            .find(|t| t["name"] == json!("__DEFAULT__"))
            .and_then(|t| str_field(t, "name"))
            .unwrap_or("__DEFAULT__")
            .to_string()
    }

    fn new_volume(
        &mut self,
        auth: &AuthContext,
        az: &str,
        size: u64,
        name: Option<&str>,
        t: &Ts,
        status: &str,
    ) -> (String, Map<String, Value>) {
        let id = new_id();
        let mut o = Map::new();
        for (k, v) in [
            ("id", json!(id)),
            ("name", json!(name)),
            ("description", Value::Null),
            ("size", json!(size)),
            ("status", json!(status)),
            ("availability_zone", json!(az)),
            ("volume_type", json!(self.default_type())),
            ("bootable", json!("false")),
            ("encrypted", json!(false)),
            ("multiattach", json!(false)),
            ("metadata", json!({})),
            ("attachments", json!([])),
            ("snapshot_id", Value::Null),
            ("source_volid", Value::Null),
            ("consistencygroup_id", Value::Null),
            ("group_id", Value::Null),
            ("replication_status", json!("disabled")),
            ("user_id", json!(auth.user_id)),
            ("os-vol-tenant-attr:tenant_id", json!(auth.project_id)),
            ("created_at", json!(ts_cinder(t))),
            ("updated_at", json!(ts_cinder(t))),
            ("_updated", json!(t.timestamp_nanos_opt())),
            ("_created", json!(t.timestamp_nanos_opt())),
        ] {
            o.insert(k.into(), v);
        }
        (id, o)
    }

    /// Nova boot-from-volume: a volume created for and attached to a server.
    pub(crate) fn create_for_server(
        &mut self,
        auth: &AuthContext,
        az: &str,
        size: u64,
        image: Option<(String, Value)>,
        t: Ts,
    ) -> String {
        let (id, mut o) = self.new_volume(auth, az, size, None, &t, "available");
        if let Some((img, meta)) = image {
            o.insert("bootable".into(), json!("true"));
            o.insert("volume_image_metadata".into(), meta);
            o.insert("_image".into(), json!(img));
        }
        self.volumes.insert(id.clone(), Value::Object(o));
        id
    }

    pub(crate) fn check_attachable(&self, id: &str, auth: &AuthContext) -> ApiResult<()> {
        let v = self
            .volumes
            .get(id)
            .filter(|v| {
                auth.is_admin || v["os-vol-tenant-attr:tenant_id"] == json!(auth.project_id)
            })
            .ok_or_else(|| cerr(404, format!("Volume {id} could not be found.")))?;
        if v["status"] != json!("available") {
            return Err(cerr(
                400,
                format!(
                    "Invalid volume: Volume {id} status must be available, but current status is: {}.",
                    v["status"].as_str().unwrap_or("")
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn attach(
        &mut self,
        id: &str,
        auth: &AuthContext,
        server: &str,
        host: &str,
        device: &str,
        t: Ts,
    ) -> ApiResult<String> {
        self.check_attachable(id, auth)?;
        let att = new_id();
        // A volume flagged read-only (`os-update_readonly_flag`) is attached `ro`.
        let mode = if self
            .volumes
            .get(id)
            .is_some_and(|v| v["_readonly"] == json!("True"))
        {
            "ro"
        } else {
            "rw"
        };
        let a = json!({"id": att, "attachment_id": att, "volume_id": id, "server_id": server, "host_name": host, "device": device, "attached_at": ts_cinder(&t)});
        self.attachments.insert(att.clone(), json!({"id": att, "volume_id": id, "instance": server, "status": "attached", "attach_mode": mode, "attached_at": ts_cinder(&t), "detached_at": null, "connection_info": {}, "project_id": auth.project_id}));
        if let Some(o) = self.volumes.get_mut(id).and_then(Value::as_object_mut) {
            o.insert("status".into(), json!("in-use"));
            o.insert("attachments".into(), json!([a]));
            o.insert("updated_at".into(), json!(ts_cinder(&t)));
            o.insert("_updated".into(), json!(t.timestamp_nanos_opt()));
        }
        Ok(att)
    }

    pub(crate) fn detach(&mut self, id: &str, server: &str, delete: bool, t: Ts) {
        self.attachments
            .retain(|_, a| !(a["volume_id"] == json!(id) && a["instance"] == json!(server)));
        if delete {
            self.volumes.remove(id);
            return;
        }
        if let Some(o) = self.volumes.get_mut(id).and_then(Value::as_object_mut) {
            o.insert("status".into(), json!("available"));
            o.insert("attachments".into(), json!([]));
            o.insert("updated_at".into(), json!(ts_cinder(&t)));
            o.insert("_updated".into(), json!(t.timestamp_nanos_opt()));
        }
    }
}

async fn mv_layer(mut req: Request, next: Next) -> Response {
    let (echo, mut resp) = match crate::compute::negotiate_echo(req.headers(), "volume", MIN, MAX) {
        Ok(mv) => {
            req.extensions_mut().insert(mv);
            (Some(mv.to_string()), next.run(req).await)
        }
        Err((e, echo)) => (echo, e.into_response()),
    };
    if let Some(mv) = echo
        && let Ok(v) = HeaderValue::from_str(&format!("volume {mv}"))
    {
        resp.headers_mut().insert("openstack-api-version", v);
    }
    resp.headers_mut()
        .insert("vary", HeaderValue::from_static("OpenStack-API-Version"));
    resp
}

fn versions_doc(base: &str) -> Value {
    json!({"versions": [{"id": "v3.0", "status": "CURRENT", "version": MAX.to_string(), "min_version": MIN.to_string(), "updated": "2023-08-31T00:00:00Z",
        "links": [{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}, {"rel": "self", "href": format!("{base}/volume/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]}]})
}

async fn versions(State(ctx): State<Ctx>) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        axum::Json(versions_doc(&ctx.region.base_url)),
    )
        .into_response()
}

async fn v3(State(ctx): State<Ctx>) -> Response {
    axum::Json(versions_doc(&ctx.region.base_url)).into_response()
}

/// Cinder compares the URL's project with the token's before anything else, admins included
/// (`cinder/api/openstack/wsgi.py`: "Malformed request url").
fn check_project(auth: &AuthContext, p: &str) -> ApiResult<()> {
    if p == auth.project_id {
        Ok(())
    } else {
        Err(cerr(400, "Malformed request url"))
    }
}

/// Which of Cinder's volume views to render.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    /// `GET /volumes`: id, name and links only.
    Brief,
    /// The create response: the detail view without the extension attributes
    /// (`os-vol-host-attr:*`, `os-vol-tenant-attr:*`, `os-vol-mig-status-attr:*`).
    Create,
    /// Show and `GET /volumes/detail`.
    Detail,
}

/// A service uuid for the simulated cinder-volume service (3.48+ `service_uuid`).
const SERVICE_UUID: &str = "5b3c1f4e-9d7a-4f6e-8a2b-0c1d2e3f4a5b";

fn render(v: &Value, auth: &AuthContext, base: &str, project: &str, mv: Mv, view: View) -> Value {
    let mut o = v.as_object().cloned().unwrap_or_default();
    o.retain(|k, _| !k.starts_with('_'));
    let Some(id) = v
        .get("id")
        .and_then(Value::as_str)
        .filter(|_| v.get("size").is_some() && v.get("volume_id").is_none())
    else {
        // not a volume: a snapshot (`GET /snapshots` is the summary, `/snapshots/detail` the
        // detail view with the extended attributes).
        let body = if view == View::Brief {
            snapshots::SnapBody::Summary
        } else {
            snapshots::SnapBody::Extended
        };
        return snapshots::render(v, mv, body);
    };
    let links = json!([{"rel": "self", "href": format!("{base}/volume/v3/{project}/volumes/{id}")}, {"rel": "bookmark", "href": format!("{base}/volume/{project}/volumes/{id}")}]);
    if view == View::Brief {
        return json!({"id": id, "name": v.get("name").cloned().unwrap_or(Value::Null), "links": links});
    }
    o.insert("links".into(), links);
    // Cinder shows the admin metadata `readonly` among the volume's metadata.
    if let Some(ro) = v.get("_readonly")
        && let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut)
    {
        m.insert("readonly".into(), ro.clone());
    }
    let group = o.remove("group_id").unwrap_or(Value::Null);
    let tenant = o.remove("os-vol-tenant-attr:tenant_id");
    if auth.is_admin {
        o.insert("migration_status".into(), Value::Null);
    }
    // The tenant attribute is admin-or-owner in Cinder; host and migration ones admin-only.
    if view == View::Detail
        && let Some(t) = tenant
    {
        o.insert("os-vol-tenant-attr:tenant_id".into(), t);
    }
    if view == View::Detail && auth.is_admin {
        o.insert("os-vol-host-attr:host".into(), json!("sim@lvm#pool"));
        o.insert("os-vol-mig-status-attr:migstat".into(), Value::Null);
        o.insert("os-vol-mig-status-attr:name_id".into(), Value::Null);
    }
    if mv >= Mv(3, 13) {
        o.insert("group_id".into(), group);
    }
    if mv >= Mv(3, 21) && auth.is_admin {
        o.insert("provider_id".into(), Value::Null);
    }
    if mv >= Mv(3, 48) {
        o.insert("shared_targets".into(), json!(false));
        o.insert("service_uuid".into(), json!(SERVICE_UUID));
    }
    if mv >= Mv(3, 63) {
        o.insert("volume_type_id".into(), json!(null));
    }
    if mv >= Mv(3, 65) {
        o.insert("consumes_quota".into(), json!(true));
    }
    Value::Object(o)
}

fn owned(v: &Value, auth: &AuthContext) -> bool {
    auth.is_admin
        || v["os-vol-tenant-attr:tenant_id"] == json!(auth.project_id)
        || v["_project"] == json!(auth.project_id)
}

const LIST_SKIP: &[&str] = &[
    "limit",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "changes-since",
    "all_tenants",
    "with_count",
    "offset",
    "is_public",
];

fn list_of(
    map: &BTreeMap<String, Value>,
    auth: &AuthContext,
    p: &Params,
    plural: &str,
    base: &str,
    project: &str,
    (mv, view): (Mv, View),
) -> ApiResult<Value> {
    let all = auth.is_admin
        && p.get("all_tenants")
            .is_some_and(|v| v.is_empty() || crate::util::truthy(v).unwrap_or(true));
    let since = match p.get("changes-since") {
        Some(s) => Some(
            crate::util::parse_ts(s)
                .ok_or_else(|| cerr(400, format!("Invalid changes-since value: {s}")))?
                .timestamp_nanos_opt()
                .unwrap_or(0),
        ),
        None => None,
    };
    let mut items: Vec<&Value> = map
        .values()
        .filter(|v| {
            if all {
                true
            } else {
                v["os-vol-tenant-attr:tenant_id"] == json!(project)
                    || v["_project"] == json!(project)
            }
        })
        .filter(|v| since.is_none_or(|s| v["_updated"].as_i64().unwrap_or(0) >= s))
        .filter(|v| {
            p.0.iter()
                .filter(|(k, _)| !LIST_SKIP.contains(&k.as_str()))
                .all(|(k, want)| match v.get(k) {
                    Some(Value::String(s)) => s == want,
                    Some(Value::Null) | None => {
                        k == "metadata" || v.get(k).is_none() && k != "name"
                    }
                    Some(other) => crate::util::json_as_filter_str(other).as_deref() == Some(want),
                })
        })
        .collect();
    let (mut keys, mut dirs) = (vec![], vec![]);
    if let Some(sort) = p.get("sort") {
        for part in sort.split(',') {
            let mut it = part.split(':');
            keys.push(it.next().unwrap_or("created_at").to_string());
            dirs.push(it.next().unwrap_or("desc").to_string());
        }
    } else {
        keys.push(p.get("sort_key").unwrap_or("created_at").to_string());
        dirs.push(p.get("sort_dir").unwrap_or("desc").to_string());
    }
    items.sort_by(|a, b| {
        for (k, d) in keys.iter().zip(&dirs) {
            let k2 = if k == "created_at" {
                "_created"
            } else {
                k.as_str()
            };
            let o = cmp_json(
                a.get(k2).unwrap_or(&Value::Null),
                b.get(k2).unwrap_or(&Value::Null),
            );
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
            .position(|v| str_field(v, "id") == Some(m))
            .ok_or_else(|| cerr(400, format!("Marker {m} could not be found.")))?;
        items.drain(..=pos);
    }
    let limit = p
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(1000)
        .min(1000);
    let more = items.len() > limit;
    items.truncate(limit);
    let list: Vec<Value> = items
        .iter()
        .map(|v| render(v, auth, base, project, mv, view))
        .collect();
    let mut out = json!({ plural: list });
    if more && let Some(last) = items.last().and_then(|v| str_field(v, "id")) {
        out[format!("{plural}_links")] = json!([{"rel": "next", "href": format!("{base}/volume/v3/{project}/{plural}{}?{}", if view == View::Brief { "" } else { "/detail" }, p.with_marker(last, limit))}]);
    }
    Ok(out)
}

async fn vol_list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(project): Path<String>,
    uri: http::Uri,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let view = if uri.path().trim_end_matches('/').ends_with("/detail") {
        View::Detail
    } else {
        View::Brief
    };
    let st = ctx.read();
    Ok(axum::Json(list_of(
        &st.volume.volumes,
        &auth,
        &Params::parse(q.as_deref()),
        "volumes",
        &ctx.region.base_url,
        &project,
        (mv, view),
    )?)
    .into_response())
}

fn get_vol<'a>(st: &'a VolumeState, id: &str, auth: &AuthContext) -> ApiResult<&'a Value> {
    st.volumes
        .get(id)
        .filter(|v| owned(v, auth))
        .ok_or_else(|| cerr(404, format!("Volume {id} could not be found.")))
}

async fn vol_show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let st = ctx.read();
    Ok(axum::Json(json!({"volume": render(get_vol(&st.volume, &id, &auth)?, &auth, &ctx.region.base_url, &project, mv, View::Detail)})).into_response())
}

fn body(b: &Bytes, key: &str) -> ApiResult<Map<String, Value>> {
    let v: Value =
        serde_json::from_slice(b).map_err(|e| cerr(400, format!("Malformed request body: {e}")))?;
    v.get(key)
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            cerr(
                400,
                format!("Missing required element '{key}' in request body."),
            )
        })
}

async fn vol_create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(project): Path<String>,
    raw: Bytes,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let b = body(&raw, "volume")?;
    let g = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    let t = now();
    let az = ctx.region.spec.az.clone();
    if let Some(a) = g("availability_zone")
        && a != az
    {
        return Err(cerr(
            400,
            format!("Invalid input received: Availability zone '{a}' is invalid."),
        ));
    }
    let mut st = ctx.write();
    let st = &mut *st;
    let snapshot = g("snapshot_id");
    let source = g("source_volid");
    let image = g("imageRef");
    let mut size = b
        .get("size")
        .and_then(|s| s.as_u64().or_else(|| s.as_str()?.parse().ok()));
    // A clone, or a volume from a snapshot, is bootable when its origin volume is (Cinder
    // copies the flag and the image metadata).
    let mut origin: Option<Value> = None;
    if let Some(sid) = &snapshot {
        let s = st
            .volume
            .snapshots
            .get(sid)
            .filter(|s| owned(s, &auth))
            .ok_or_else(|| cerr(404, format!("Snapshot {sid} could not be found.")))?;
        size = size.or(s["size"].as_u64());
        origin = s["volume_id"]
            .as_str()
            .and_then(|v| st.volume.volumes.get(v))
            .cloned();
    }
    if let Some(vid) = &source {
        let v = get_vol(&st.volume, vid, &auth)?;
        size = size.or(v["size"].as_u64());
        origin = Some(v.clone());
    }
    let image_meta = match &image {
        Some(i) => {
            let img = st.image.images.get(i).filter(|x| x.visible_to(&auth)).ok_or_else(|| cerr(400, format!("Invalid image identifier or unable to access requested image. (image {i})")))?;
            size = size.or(Some(img.min_disk.max(1)));
            Some(img.volume_image_metadata())
        }
        None => None,
    };
    let size = size.filter(|s| *s > 0).ok_or_else(|| {
        cerr(
            400,
            "Invalid input received: Volume size must be an integer and greater than 0",
        )
    })?;
    let (id, mut o) = st
        .volume
        .new_volume(&auth, &az, size, g("name").as_deref(), &t, "creating");
    o.insert("description".into(), json!(g("description")));
    o.insert("snapshot_id".into(), json!(snapshot));
    o.insert("source_volid".into(), json!(source));
    if let Some(vt) = g("volume_type") {
        if !st
            .volume
            .types
            .values()
            .any(|x| x["name"] == json!(vt) || x["id"] == json!(vt))
        {
            return Err(cerr(404, format!("Volume type {vt} could not be found.")));
        }
        o.insert("volume_type".into(), json!(vt));
    }
    if let Some(m) = b.get("metadata").and_then(Value::as_object) {
        o.insert("metadata".into(), json!(m));
    }
    if let Some(src) = origin.filter(|v| v["bootable"] == json!("true")) {
        o.insert("bootable".into(), json!("true"));
        if let Some(meta) = src.get("volume_image_metadata") {
            o.insert("volume_image_metadata".into(), meta.clone());
        }
    }
    if let Some(meta) = image_meta {
        o.insert("bootable".into(), json!("true"));
        o.insert("volume_image_metadata".into(), meta);
    }
    if b.get("multiattach").and_then(Value::as_bool) == Some(true) {
        o.insert("multiattach".into(), json!(true));
    }
    let due = t + st.volume.delay;
    st.volume
        .pending
        .push((due, "volume".into(), id.clone(), "available".into()));
    let out = render(
        &Value::Object(o.clone()),
        &auth,
        &ctx.region.base_url,
        &project,
        mv,
        View::Create,
    );
    st.volume.volumes.insert(id, Value::Object(o));
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"volume": out}))).into_response())
}

async fn vol_update(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult<Response> {
    check_project(&auth, &project)?;
    let b = body(&raw, "volume")?;
    let t = now();
    let mut st = ctx.write();
    get_vol(&st.volume, &id, &auth)?;
    let o = st
        .volume
        .volumes
        .get_mut(&id)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| cerr(404, "gone"))?;
    for k in ["name", "description", "metadata"] {
        if let Some(v) = b.get(k) {
            o.insert(k.into(), v.clone());
        }
    }
    o.insert("updated_at".into(), json!(ts_cinder(&t)));
    o.insert("_updated".into(), json!(t.timestamp_nanos_opt()));
    let v = Value::Object(o.clone());
    Ok(axum::Json(
        json!({"volume": render(&v, &auth, &ctx.region.base_url, &project, mv, View::Create)}),
    )
    .into_response())
}

pub(crate) fn router(ctx: Ctx) -> Router<Ctx> {
    let p = "/volume/v3/{project}";
    let authed = Router::new()
        .route(&format!("{p}/volumes"), get(vol_list).post(vol_create))
        .route(&format!("{p}/volumes/detail"), get(vol_list))
        .route(
            &format!("{p}/volumes/{{id}}"),
            get(vol_show).put(vol_update).delete(actions::vol_delete),
        )
        .route(
            &format!("{p}/volumes/{{id}}/action"),
            post(actions::vol_action),
        )
        .route(
            &format!("{p}/snapshots"),
            get(snapshots::list).post(snapshots::create),
        )
        .route(&format!("{p}/snapshots/detail"), get(snapshots::list))
        .route(
            &format!("{p}/snapshots/{{id}}/action"),
            post(snapshots::action),
        )
        .route(
            &format!("{p}/snapshots/{{id}}"),
            get(snapshots::show).delete(snapshots::delete),
        )
        .route(
            &format!("{p}/types"),
            get(types::types_list).post(types::type_create),
        )
        .route(
            &format!("{p}/types/{{id}}"),
            get(types::type_show)
                .put(types::type_update)
                .delete(types::type_delete),
        )
        .route(
            &format!("{p}/types/{{id}}/extra_specs"),
            get(types::specs_list).post(types::specs_create),
        )
        .route(
            &format!("{p}/types/{{id}}/extra_specs/{{key}}"),
            get(types::spec_show)
                .put(types::spec_update)
                .delete(types::spec_delete),
        )
        .route(
            &format!("{p}/attachments"),
            get(attachments::att_list).post(attachments::att_create),
        )
        .route(
            &format!("{p}/attachments/detail"),
            get(attachments::att_list),
        )
        .route(
            &format!("{p}/attachments/{{id}}"),
            get(attachments::att_show).delete(attachments::att_delete),
        )
        .route(&format!("{p}/os-quota-sets/{{target}}"), get(misc::quota))
        .route(&format!("{p}/limits"), get(misc::limits))
        .route(&format!("{p}/os-availability-zone"), get(misc::az))
        .route(&format!("{p}/scheduler-stats/get_pools"), get(misc::pools))
        .route(&format!("{p}/os-volume-transfer"), post(transfers::create))
        .route(&format!("{p}/volume-transfers"), post(transfers::create))
        .route(
            &format!("{p}/os-volume-transfer/{{id}}"),
            get(transfers::show).delete(transfers::delete),
        )
        .route(
            &format!("{p}/os-volume-transfer/{{id}}/accept"),
            post(transfers::accept),
        )
        .route(&format!("{p}/os-hosts"), get(misc::hosts))
        .route(
            &format!("{p}/capabilities/{{host}}"),
            get(misc::capabilities),
        )
        .route(&format!("{p}/os-hosts/{{host}}"), get(misc::host_show))
        .route_layer(middleware::from_fn_with_state(
            ctx,
            crate::identity::auth_layer,
        ));
    Router::new()
        .route("/volume", get(versions))
        .route("/volume/", get(versions))
        .route("/volume/v3", get(v3))
        .route("/volume/v3/", get(v3))
        .merge(authed)
        .layer(middleware::from_fn(mv_layer))
}
