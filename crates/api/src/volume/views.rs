//! Cinder's JSON for index rows: volumes (summary and detail, fields by microversion, Cinder's
//! naive microsecond timestamps), snapshots, types and attachments. A volume whose pod cannot be
//! reached is shown from the index with `status: "unavailable"`.

use cascade_core::volume::VolumeView;
use cascade_model::microversion::Microversion;
use cascade_store::from_micros;
use cascade_store::volumes::{AttachmentRow, SnapshotRow, VolumeTypeRow};
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
    put(
        "metadata",
        serde_json::from_str(&r.metadata).unwrap_or(json!({})),
    );
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

pub(crate) fn snapshot(s: &SnapshotRow, mv: Microversion, is_admin: bool) -> Value {
    let mut v = json!({
        "id": s.id, "name": s.name, "description": s.description, "volume_id": s.volume_id,
        "status": s.status, "size": s.size,
        "metadata": serde_json::from_str::<Value>(&s.metadata).unwrap_or(json!({})),
        "created_at": ts(s.created_at), "updated_at": ts(s.updated_at),
        "os-extended-snapshot-attributes:progress": if s.status == "available" { "100%" } else { "0%" },
    });
    if is_admin {
        v["os-extended-snapshot-attributes:project_id"] = json!(s.project_id);
    }
    if mv.at_least(3, 14) {
        v["group_snapshot_id"] = Value::Null;
    }
    if mv.at_least(3, 41) {
        v["user_id"] = json!(s.user_id);
    }
    if mv.at_least(3, 65) {
        v["consumes_quota"] = json!(true);
    }
    v
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
