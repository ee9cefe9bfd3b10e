//! Cinder's JSON for index rows: volumes (summary and detail, fields by microversion, Cinder's
//! naive microsecond timestamps), snapshots, types and attachments. A volume whose pod cannot be
//! reached is shown from the index with `status: "unavailable"`.

use std::collections::BTreeMap;

use cascade_core::volume::VolumeView;
use cascade_model::microversion::Microversion;
use cascade_store::from_micros;
use cascade_store::volumes::{AttachmentRow, SnapshotRow, VolumeRow, VolumeTypeRow};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Cinder's timestamp form: `2018-11-29T06:50:07.770785` (UTC, no zone).
pub(crate) fn ts(us: i64) -> String {
    from_micros(us).format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

pub(crate) fn links(base: &str, project: &str, kind: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/volume/v3/{project}/{kind}/{id}")},
        {"rel": "bookmark", "href": format!("{base}/volume/{project}/{kind}/{id}")},
    ])
}

pub(crate) fn volume_brief(base: &str, project: &str, v: &VolumeView) -> Value {
    json!({"id": v.row.id, "name": v.row.name, "links": links(base, project, "volumes", &v.row.id)})
}

/// The volume's metadata as Cinder shows it: the tenant's, with the admin metadata keys users
/// may see (`readonly`, `attached_mode`) written over it (`add_visible_admin_metadata`).
fn visible_metadata(r: &VolumeRow) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = serde_json::from_str(&r.metadata).unwrap_or_default();
    for (k, v) in cascade_core::volume::admin_metadata(r) {
        if k == "readonly" || k == "attached_mode" {
            m.insert(k, v);
        }
    }
    m
}

pub(crate) fn volume_full(
    base: &str,
    project: &str,
    v: &VolumeView,
    mv: Microversion,
    is_admin: bool,
) -> Value {
    let r = &v.row;
    let mut o = Map::new();
    let mut put = |k: &str, val: Value| {
        o.insert(k.to_string(), val);
    };
    let attachments: Vec<Value> = serde_json::from_str::<Vec<Value>>(&r.attachments)
        .unwrap_or_default()
        .into_iter()
        .map(|mut a| {
            if let Some(m) = a.as_object_mut() {
                m.remove("tag");
                m.remove("delete_on_termination");
            }
            a
        })
        .collect();
    put("id", json!(r.id));
    put("name", json!(r.name));
    put("description", json!(r.description));
    put("size", json!(r.size));
    put(
        "status",
        json!(if v.unavailable {
            "unavailable"
        } else {
            r.status.as_str()
        }),
    );
    put("availability_zone", json!(r.az));
    put("bootable", json!(if r.bootable { "true" } else { "false" }));
    put("encrypted", json!(false));
    put("multiattach", json!(r.multiattach));
    put("attachments", json!(attachments));
    put("metadata", json!(visible_metadata(r)));
    put("volume_type", json!(r.volume_type));
    put("snapshot_id", json!(r.snapshot_id));
    put("source_volid", json!(r.source_volid));
    put("consistencygroup_id", Value::Null);
    put("replication_status", Value::Null);
    put("migration_status", Value::Null);
    put("user_id", json!(r.user_id));
    put("created_at", json!(ts(r.created_at)));
    put("updated_at", json!(ts(r.updated_at)));
    put("links", links(base, project, "volumes", &r.id));
    let image: Value = serde_json::from_str(&r.image_metadata).unwrap_or(json!({}));
    if image.as_object().is_some_and(|m| !m.is_empty()) {
        put("volume_image_metadata", image);
    }
    if mv.at_least(3, 13) {
        put("group_id", Value::Null);
    }
    if mv.at_least(3, 21) {
        put("provider_id", Value::Null);
    }
    if mv.at_least(3, 48) {
        put("shared_targets", json!(false));
        put("service_uuid", Value::Null);
    }
    if mv.at_least(3, 63) {
        put("volume_type_id", Value::Null);
    }
    if mv.at_least(3, 65) {
        put("consumes_quota", json!(true));
    }
    if is_admin {
        put("os-vol-tenant-attr:tenant_id", json!(r.project_id));
        put(
            "os-vol-host-attr:host",
            json!(format!("cascade@{}#{}", r.az, r.az)),
        );
        put("os-vol-mig-status-attr:migstat", Value::Null);
        put("os-vol-mig-status-attr:name_id", Value::Null);
    }
    Value::Object(o)
}

/// Which of Cinder's snapshot bodies to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SnapshotBody {
    /// `GET /snapshots`: the summary view, the same at every microversion.
    Summary,
    /// The create and update answers: the v3 detail view (`group_snapshot_id` from 3.14,
    /// `user_id` from 3.41, `consumes_quota` from 3.65), without the extended attributes.
    Detail,
    /// Show and `GET /snapshots/detail`: the detail view plus the
    /// `os-extended-snapshot-attributes` extension's `progress` and `project_id`, which Cinder
    /// adds to those two answers only, for whoever passes
    /// `volume_extension:extended_snapshot_attributes` (admin or owner: anyone who may see
    /// the snapshot).
    Extended,
}

/// One snapshot as Cinder renders it; absent fields are not part of that view.
#[derive(Debug, Serialize)]
pub(crate) struct SnapshotView<'a> {
    id: &'a str,
    created_at: String,
    updated_at: Option<String>,
    name: Option<&'a str>,
    description: Option<&'a str>,
    volume_id: &'a str,
    status: &'a str,
    size: i64,
    metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_snapshot_id: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumes_quota: Option<bool>,
    #[serde(
        rename = "os-extended-snapshot-attributes:progress",
        skip_serializing_if = "Option::is_none"
    )]
    progress: Option<&'static str>,
    #[serde(
        rename = "os-extended-snapshot-attributes:project_id",
        skip_serializing_if = "Option::is_none"
    )]
    project_id: Option<&'a str>,
}

/// Cinder's snapshot `progress`: `0%` until the backend has made it, then `100%`.
fn progress(status: &str) -> &'static str {
    match status {
        "creating" | "error" => "0%",
        _ => "100%",
    }
}

pub(crate) fn snapshot(s: &SnapshotRow, mv: Microversion, body: SnapshotBody) -> SnapshotView<'_> {
    let detail = body != SnapshotBody::Summary;
    let extended = body == SnapshotBody::Extended;
    SnapshotView {
        id: &s.id,
        created_at: ts(s.created_at),
        // Cinder's `updated_at` stays null until the snapshot is first changed.
        updated_at: (s.updated_at != s.created_at).then(|| ts(s.updated_at)),
        name: s.name.as_deref(),
        description: s.description.as_deref(),
        volume_id: &s.volume_id,
        status: &s.status,
        size: s.size,
        metadata: serde_json::from_str(&s.metadata).unwrap_or_default(),
        group_snapshot_id: (detail && mv.at_least(3, 14)).then_some(None),
        user_id: (detail && mv.at_least(3, 41)).then_some(s.user_id.as_str()),
        consumes_quota: (detail && mv.at_least(3, 65)).then_some(true),
        progress: extended.then(|| progress(&s.status)),
        project_id: extended.then_some(s.project_id.as_str()),
    }
}

pub(crate) fn volume_type(t: &VolumeTypeRow) -> Value {
    json!({
        "id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public,
        "os-volume-type-access:is_public": t.is_public, "qos_specs_id": null,
        "extra_specs": serde_json::from_str::<Value>(&t.extra_specs).unwrap_or(json!({})),
    })
}

pub(crate) fn attachment(a: &AttachmentRow, detail: bool) -> Value {
    let mut v =
        json!({"id": a.id, "status": a.status, "instance": a.server_id, "volume_id": a.volume_id});
    if detail {
        v["attached_at"] = json!(ts(a.created_at));
        v["detached_at"] = Value::Null;
        v["attach_mode"] = json!(a.attach_mode);
        v["connection_info"] = json!({});
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> SnapshotRow {
        SnapshotRow {
            id: "s1".into(),
            project_id: "p1".into(),
            user_id: "u1".into(),
            volume_id: "v1".into(),
            name: Some("snap".into()),
            description: None,
            size: 1,
            status: "available".into(),
            pod_id: None,
            bottom_id: None,
            metadata: r#"{"k":"v"}"#.into(),
            created_at: 1_000_000,
            updated_at: 2_000_000,
            deleted: false,
        }
    }

    fn keys(s: &SnapshotRow, mv: (u16, u16), body: SnapshotBody) -> Vec<String> {
        let v = serde_json::to_value(snapshot(s, Microversion::new(mv.0, mv.1), body)).unwrap();
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    const BASE: &[&str] = &[
        "created_at",
        "description",
        "id",
        "metadata",
        "name",
        "size",
        "status",
        "updated_at",
        "volume_id",
    ];

    fn with(extra: &[&str]) -> Vec<String> {
        let mut k: Vec<String> = BASE.iter().chain(extra).map(|s| s.to_string()).collect();
        k.sort();
        k
    }

    #[test]
    fn snapshot_key_sets_by_body_and_microversion() {
        let s = row();
        let ext = [
            "os-extended-snapshot-attributes:progress",
            "os-extended-snapshot-attributes:project_id",
        ];
        // 3.0: Tempest's schemas (create/update/index: no extension keys; show/detail: both).
        assert_eq!(keys(&s, (3, 0), SnapshotBody::Summary), with(&[]));
        assert_eq!(keys(&s, (3, 0), SnapshotBody::Detail), with(&[]));
        assert_eq!(keys(&s, (3, 0), SnapshotBody::Extended), with(&ext));
        assert_eq!(
            keys(&s, (3, 14), SnapshotBody::Detail),
            with(&["group_snapshot_id"])
        );
        assert_eq!(
            keys(&s, (3, 41), SnapshotBody::Detail),
            with(&["group_snapshot_id", "user_id"])
        );
        let mut all = vec!["group_snapshot_id", "user_id", "consumes_quota"];
        assert_eq!(keys(&s, (3, 65), SnapshotBody::Detail), with(&all));
        all.extend(ext);
        assert_eq!(keys(&s, (3, 71), SnapshotBody::Extended), with(&all));
        // The summary never grows with the microversion.
        assert_eq!(keys(&s, (3, 71), SnapshotBody::Summary), with(&[]));
    }

    #[test]
    fn snapshot_values() {
        let mut s = row();
        let v = serde_json::to_value(snapshot(
            &s,
            Microversion::new(3, 71),
            SnapshotBody::Extended,
        ))
        .unwrap();
        assert_eq!(v["os-extended-snapshot-attributes:progress"], "100%");
        assert_eq!(v["os-extended-snapshot-attributes:project_id"], "p1");
        assert_eq!(v["group_snapshot_id"], Value::Null);
        assert_eq!(v["user_id"], "u1");
        assert_eq!(v["consumes_quota"], true);
        assert_eq!(v["metadata"]["k"], "v");
        assert_eq!(v["updated_at"], "1970-01-01T00:00:02.000000");
        s.status = "creating".into();
        s.updated_at = s.created_at;
        let v = serde_json::to_value(snapshot(
            &s,
            Microversion::new(3, 0),
            SnapshotBody::Extended,
        ))
        .unwrap();
        assert_eq!(v["os-extended-snapshot-attributes:progress"], "0%");
        assert_eq!(v["updated_at"], Value::Null);
    }
}
