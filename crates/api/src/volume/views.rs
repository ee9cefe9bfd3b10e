//! Cinder's JSON for index rows: volumes (summary and typed detail views by microversion, caller
//! and answer, Cinder's naive microsecond timestamps), snapshots (typed views by answer and
//! microversion), types and attachments. A volume whose pod cannot be reached is shown from the
//! index with `status: "unavailable"`.

use std::collections::BTreeMap;

use cascade_core::volume::VolumeView;
use cascade_model::microversion::Microversion;
use cascade_store::from_micros;
use cascade_store::volumes::{AttachmentRow, SnapshotRow, VolumeRow, VolumeTypeRow};
use serde::Serialize;
use serde_json::{Value, json};

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

/// Which of Cinder's volume bodies to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VolumeBody {
    /// The create and update answers: the v3 detail view without the extensions that Cinder
    /// adds to show and detail only (`volume_image_metadata`, `os-vol-tenant-attr:*`,
    /// `os-vol-host-attr:*`, `os-vol-mig-status-attr:*`).
    Plain,
    /// Show and `GET /volumes/detail`.
    Extended,
}

/// One volume as Cinder's v3 detail view renders it; absent fields are not part of the view
/// at that microversion, for that caller or in that answer.
#[derive(Debug, Serialize)]
pub(crate) struct VolumeDetail<'a> {
    id: &'a str,
    name: Option<&'a str>,
    description: Option<&'a str>,
    size: i64,
    status: &'a str,
    availability_zone: &'a str,
    bootable: &'static str,
    encrypted: bool,
    multiattach: bool,
    attachments: Vec<Value>,
    metadata: BTreeMap<String, String>,
    volume_type: &'a str,
    snapshot_id: Option<&'a str>,
    source_volid: Option<&'a str>,
    consistencygroup_id: Option<&'a str>,
    replication_status: Option<&'a str>,
    user_id: &'a str,
    created_at: String,
    updated_at: String,
    links: Value,
    /// Admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    migration_status: Option<Option<&'a str>>,
    /// 3.13.
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<Option<&'a str>>,
    /// 3.21, admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_id: Option<Option<&'a str>>,
    /// 3.48.
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_targets: Option<bool>,
    /// 3.48.
    #[serde(skip_serializing_if = "Option::is_none")]
    service_uuid: Option<Option<&'a str>>,
    /// 3.61, admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_name: Option<Option<&'a str>>,
    /// 3.63.
    #[serde(skip_serializing_if = "Option::is_none")]
    volume_type_id: Option<Option<&'a str>>,
    /// 3.65.
    #[serde(skip_serializing_if = "Option::is_none")]
    consumes_quota: Option<bool>,
    /// `os-vol-image-meta` (show and detail, for volumes made from an image).
    #[serde(skip_serializing_if = "Option::is_none")]
    volume_image_metadata: Option<BTreeMap<String, String>>,
    #[serde(
        rename = "os-vol-tenant-attr:tenant_id",
        skip_serializing_if = "Option::is_none"
    )]
    tenant_id: Option<&'a str>,
    #[serde(
        rename = "os-vol-host-attr:host",
        skip_serializing_if = "Option::is_none"
    )]
    host: Option<String>,
    #[serde(
        rename = "os-vol-mig-status-attr:migstat",
        skip_serializing_if = "Option::is_none"
    )]
    migstat: Option<Option<&'a str>>,
    #[serde(
        rename = "os-vol-mig-status-attr:name_id",
        skip_serializing_if = "Option::is_none"
    )]
    name_id: Option<Option<&'a str>>,
}

pub(crate) fn volume_full<'a>(
    base: &str,
    project: &str,
    v: &'a VolumeView,
    mv: Microversion,
    is_admin: bool,
    body: VolumeBody,
    type_id: Option<&'a str>,
) -> VolumeDetail<'a> {
    let r = &v.row;
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
    let extended = body == VolumeBody::Extended;
    // `os-vol-tenant-attr` extends show and detail for whoever sees the volume (Cinder's
    // `volume_extension:volume_tenant_attribute` is admin-or-owner; Tempest's transfer test
    // reads it as the new owner); `os-vol-host-attr` and `os-vol-mig-status-attr` for admins.
    let admin_ext = extended && is_admin;
    let image: BTreeMap<String, String> =
        serde_json::from_str(&r.image_metadata).unwrap_or_default();
    VolumeDetail {
        id: &r.id,
        name: r.name.as_deref(),
        description: r.description.as_deref(),
        size: r.size,
        status: if v.unavailable {
            "unavailable"
        } else {
            &r.status
        },
        availability_zone: &r.az,
        bootable: if r.bootable { "true" } else { "false" },
        encrypted: false,
        multiattach: r.multiattach,
        attachments,
        metadata: visible_metadata(r),
        volume_type: &r.volume_type,
        snapshot_id: r.snapshot_id.as_deref(),
        source_volid: r.source_volid.as_deref(),
        consistencygroup_id: None,
        replication_status: None,
        user_id: &r.user_id,
        created_at: ts(r.created_at),
        updated_at: ts(r.updated_at),
        links: links(base, project, "volumes", &r.id),
        migration_status: is_admin.then_some(None),
        group_id: mv.at_least(3, 13).then_some(None),
        provider_id: (is_admin && mv.at_least(3, 21)).then_some(None),
        shared_targets: mv.at_least(3, 48).then_some(false),
        service_uuid: mv.at_least(3, 48).then_some(None),
        cluster_name: (is_admin && mv.at_least(3, 61)).then_some(None),
        volume_type_id: mv.at_least(3, 63).then_some(type_id),
        consumes_quota: mv.at_least(3, 65).then_some(true),
        volume_image_metadata: (extended && !image.is_empty()).then_some(image),
        tenant_id: extended.then_some(r.project_id.as_str()),
        host: admin_ext.then(|| format!("cascade@{}#{}", r.az, r.az)),
        migstat: admin_ext.then_some(None),
        name_id: admin_ext.then_some(None),
    }
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
    progress: Option<&'a str>,
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
        progress: extended.then(|| s.progress.as_deref().unwrap_or_else(|| progress(&s.status))),
        project_id: extended.then_some(s.project_id.as_str()),
    }
}

/// A volume type as Cinder renders it: `qos_specs_id` only in an admin's show and list (never
/// in the answer to a create, whose schema forbids it).
#[derive(Debug, Serialize)]
pub(crate) struct VolumeTypeView<'a> {
    id: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    is_public: bool,
    #[serde(
        rename = "os-volume-type-access:is_public",
        skip_serializing_if = "Option::is_none"
    )]
    access_is_public: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qos_specs_id: Option<Option<String>>,
    extra_specs: Value,
}

/// Which answer a volume type is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeAnswer {
    /// Show or list, for an admin or not.
    Read {
        admin: bool,
    },
    Create,
    /// The answer to `PUT /types/{id}` (no access flag, no QoS).
    Update,
}

pub(crate) fn volume_type(t: &VolumeTypeRow, answer: TypeAnswer) -> VolumeTypeView<'_> {
    VolumeTypeView {
        id: &t.id,
        name: &t.name,
        description: t.description.as_deref(),
        is_public: t.is_public,
        access_is_public: (answer != TypeAnswer::Update).then_some(t.is_public),
        qos_specs_id: (answer == TypeAnswer::Read { admin: true }).then_some(None),
        extra_specs: serde_json::from_str::<Value>(&t.extra_specs).unwrap_or(json!({})),
    }
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
    #[test]
    fn volume_type_key_sets() {
        let row = VolumeTypeRow {
            id: "t1".into(),
            name: "fast".into(),
            description: None,
            is_public: true,
            extra_specs: "{}".into(),
            created_at: 0,
        };
        let keys = |answer| {
            let v = serde_json::to_value(volume_type(&row, answer)).unwrap();
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k.join(",")
        };
        let base = "description,extra_specs,id,is_public,name,os-volume-type-access:is_public";
        assert_eq!(keys(TypeAnswer::Create), base);
        assert_eq!(
            keys(TypeAnswer::Update),
            "description,extra_specs,id,is_public,name"
        );
        assert_eq!(keys(TypeAnswer::Read { admin: false }), base);
        assert_eq!(
            keys(TypeAnswer::Read { admin: true }),
            format!("{base},qos_specs_id")
        );
    }

    use std::collections::BTreeSet;

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
            progress: None,
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

    fn volume(image: &str) -> VolumeView {
        VolumeView {
            row: VolumeRow {
                id: "v1".into(),
                project_id: "p1".into(),
                user_id: "u1".into(),
                name: Some("vol".into()),
                description: None,
                size: 1,
                status: "available".into(),
                az: "az1".into(),
                pod_id: None,
                bottom_id: None,
                volume_type: "__DEFAULT__".into(),
                bootable: true,
                multiattach: false,
                attachments: "[]".into(),
                metadata: r#"{"readonly":"mine","k":"v"}"#.into(),
                image_metadata: image.into(),
                snapshot_id: None,
                source_volid: None,
                image_id: None,
                request: "{}".into(),
                created_at: 1,
                updated_at: 2,
                deleted: false,
                deleted_at: None,
                admin_metadata: r#"{"readonly":"True","other":"x"}"#.into(),
            },
            unavailable: false,
        }
    }

    fn volume_keys(
        v: &VolumeView,
        mv: (u16, u16),
        admin: bool,
        body: VolumeBody,
    ) -> BTreeSet<String> {
        let j = serde_json::to_value(volume_full(
            "http://x",
            "p1",
            v,
            Microversion::new(mv.0, mv.1),
            admin,
            body,
            None,
        ))
        .unwrap();
        j.as_object().unwrap().keys().cloned().collect()
    }

    /// Tempest's `create_volume` schema (create and update answers, 3.0): exactly its
    /// required keys.
    const CREATE: &[&str] = &[
        "attachments",
        "links",
        "encrypted",
        "updated_at",
        "replication_status",
        "id",
        "size",
        "user_id",
        "availability_zone",
        "metadata",
        "status",
        "description",
        "multiattach",
        "consistencygroup_id",
        "name",
        "bootable",
        "created_at",
        "volume_type",
        "snapshot_id",
        "source_volid",
    ];

    #[test]
    fn volume_key_sets() {
        let image = r#"{"image_id":"i1","image_name":"cirros","min_disk":"0"}"#;
        let v = volume(image);
        let create: BTreeSet<String> = CREATE.iter().map(|s| s.to_string()).collect();
        for admin in [false, true] {
            let mut want = create.clone();
            if admin {
                want.insert("migration_status".into());
            }
            assert_eq!(volume_keys(&v, (3, 0), admin, VolumeBody::Plain), want);
        }
        let mut want = create.clone();
        want.insert("volume_image_metadata".into());
        want.insert("os-vol-tenant-attr:tenant_id".into());
        assert_eq!(volume_keys(&v, (3, 0), false, VolumeBody::Extended), want);
        for k in [
            "migration_status",
            "os-vol-host-attr:host",
            "os-vol-mig-status-attr:migstat",
            "os-vol-mig-status-attr:name_id",
        ] {
            want.insert(k.into());
        }
        assert_eq!(volume_keys(&v, (3, 0), true, VolumeBody::Extended), want);
        let at71 = volume_keys(&v, (3, 71), false, VolumeBody::Extended);
        for k in [
            "group_id",
            "shared_targets",
            "service_uuid",
            "volume_type_id",
            "consumes_quota",
        ] {
            assert!(at71.contains(k), "{k}");
        }
        assert!(!at71.contains("provider_id") && !at71.contains("cluster_name"));
        let admin71 = volume_keys(&v, (3, 71), true, VolumeBody::Extended);
        assert!(admin71.contains("provider_id") && admin71.contains("cluster_name"));
        // No image, no `volume_image_metadata`.
        assert!(
            !volume_keys(&volume("{}"), (3, 0), false, VolumeBody::Extended)
                .contains("volume_image_metadata")
        );
    }

    #[test]
    fn visible_admin_metadata_overrides_the_tenants() {
        let v = volume("{}");
        let j = serde_json::to_value(volume_full(
            "http://x",
            "p1",
            &v,
            Microversion::new(3, 0),
            false,
            VolumeBody::Extended,
            None,
        ))
        .unwrap();
        assert_eq!(j["metadata"], json!({"k": "v", "readonly": "True"}));
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
