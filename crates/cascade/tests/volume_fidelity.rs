//! Cinder v3 bodies as Tempest 47's schemas and tests expect them, through a real `cascade
//! serve` in front of two simulated regions, as a member of a tenant project: snapshot key sets
//! per answer and microversion (and the pods' own), a snapshot create without a volume,
//! `os-update_readonly_flag` (metadata `readonly`, the pod's volume, `ro` attachments), the
//! extension list, `next` links on full pages, the AZ filter and a volume's image metadata.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use cascade_sim::{RegionSpec, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const CONFIG: &str =
    "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 1\ncall_timeout_secs = 3\n";

struct Env {
    c: Cascade,
    sim: SimHandle,
    admin: String,
    /// The admin's project (a pod's Cinder wants the token's project in its URLs).
    admin_project: String,
    tenant: Tenant,
}

async fn env(db: &Db) -> Env {
    let c = Cascade::start(db, CONFIG).await;
    let regions = (1..=2)
        .map(|i| {
            let mut r = RegionSpec::new(format!("Pod{i}"), format!("az{i}")).instant();
            r.volume_time = Duration::from_millis(200);
            r
        })
        .collect();
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), regions))
        .await
        .unwrap();
    let (admin, r) = token(&c.url, "admin", ADMIN_PASSWORD, Some("admin")).await;
    let admin_project = r.body["token"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    register_pods(&c.url, &admin, &sim).await;
    let tenant = support::tenant(&c.url, &admin, "fid", "fid-user", Some("member")).await;
    Env {
        c,
        sim,
        admin,
        admin_project,
        tenant,
    }
}

/// A call to the tenant's Cinder at microversion `mv` (`None`: no header, i.e. 3.0).
async fn cinder(
    e: &Env,
    mv: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let header = mv.map(|v| format!("volume {v}"));
    let headers: Vec<(&str, &str)> = header
        .as_deref()
        .map(|h| vec![("OpenStack-API-Version", h)])
        .unwrap_or_default();
    call(
        method,
        &format!("{}/volume/v3/{}{path}", e.c.url, e.tenant.project_id),
        Some(&e.tenant.token),
        body,
        &headers,
    )
    .await
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(base: &[&str], extra: &[&str]) -> BTreeSet<String> {
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// Tempest's `common_snapshot_schema` (create, update, summary list).
const SNAP: &[&str] = &[
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
/// `common_snapshot_detail_schema` adds these (show, detail list).
const EXT: &[&str] = &[
    "os-extended-snapshot-attributes:progress",
    "os-extended-snapshot-attributes:project_id",
];
const V3: &[&str] = &["group_snapshot_id", "user_id", "consumes_quota"];

/// Tempest's `create_volume` schema (create and update answers at 3.0): its required keys, and
/// nothing else for a tenant.
const VOLUME_CREATE: &[&str] = &[
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

async fn create_volume(e: &Env, body: Value) -> String {
    let r = cinder(
        e,
        None,
        Method::POST,
        "/volumes",
        Some(json!({"volume": body})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        keys(&r.body["volume"]),
        set(VOLUME_CREATE, &[]),
        "{}",
        r.text
    );
    r.body["volume"]["id"].as_str().unwrap().to_string()
}

async fn wait_status(e: &Env, kind: &str, id: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..150 {
        let r = cinder(e, None, Method::GET, &format!("/{kind}s/{id}"), None).await;
        last = r.body[kind].clone();
        if last["status"] == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{kind} {id} never became {want}: {last}");
}

#[tokio::test]
async fn cinder_bodies_match_tempest() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let v1 = create_volume(
        &e,
        json!({"name": "v1", "size": 1, "availability_zone": "az1"}),
    )
    .await;
    wait_status(&e, "volume", &v1, "available").await;

    // ---- snapshot create errors -------------------------------------------------------------
    let r = cinder(
        &e,
        None,
        Method::POST,
        "/snapshots",
        Some(json!({"snapshot": {"name": "s"}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"badRequest": {"code": 400, "message": "Invalid input for field/attribute snapshot. Value: {'name': 's'}. 'volume_id' is a required property"}})
    );
    // Tempest's test_create_snapshot_without_passing_volume_id sends an explicit null.
    let r = cinder(
        &e,
        None,
        Method::POST,
        "/snapshots",
        Some(json!({"snapshot": {"volume_id": null, "display_name": "s"}})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        r.body["itemNotFound"]["message"],
        "Volume None could not be found."
    );

    // ---- snapshot bodies ------------------------------------------------------------------------
    let r = cinder(
        &e,
        None,
        Method::POST,
        "/snapshots",
        Some(json!({"snapshot": {"volume_id": v1, "display_name": "s0"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        keys(&r.body["snapshot"]),
        set(SNAP, &[]),
        "create at 3.0: {}",
        r.text
    );
    assert_eq!(r.body["snapshot"]["name"], "s0");
    let s0 = r.body["snapshot"]["id"].as_str().unwrap().to_string();
    wait_status(&e, "snapshot", &s0, "available").await;
    let r = cinder(
        &e,
        Some("3.71"),
        Method::POST,
        "/snapshots",
        Some(json!({"snapshot": {"volume_id": v1, "name": "s1", "force": "true"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        keys(&r.body["snapshot"]),
        set(SNAP, V3),
        "create at 3.71: {}",
        r.text
    );
    assert_eq!(r.body["snapshot"]["user_id"], e.tenant.user_id.as_str());
    let s1 = r.body["snapshot"]["id"].as_str().unwrap().to_string();
    wait_status(&e, "snapshot", &s1, "available").await;

    let r = cinder(&e, None, Method::GET, &format!("/snapshots/{s0}"), None).await;
    assert_eq!(
        keys(&r.body["snapshot"]),
        set(SNAP, EXT),
        "show at 3.0: {}",
        r.text
    );
    assert_eq!(
        r.body["snapshot"]["os-extended-snapshot-attributes:progress"],
        "100%"
    );
    assert_eq!(
        r.body["snapshot"]["os-extended-snapshot-attributes:project_id"],
        e.tenant.project_id.as_str()
    );
    let r = cinder(
        &e,
        Some("3.14"),
        Method::GET,
        &format!("/snapshots/{s0}"),
        None,
    )
    .await;
    assert_eq!(
        keys(&r.body["snapshot"]),
        set(SNAP, &[EXT, &["group_snapshot_id"]].concat())
    );
    let r = cinder(&e, Some("3.71"), Method::GET, "/snapshots", None).await;
    let list = r.body["snapshots"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        list.iter().all(|s| keys(s) == set(SNAP, &[])),
        "summary: {}",
        r.text
    );
    let r = cinder(&e, None, Method::GET, "/snapshots/detail", None).await;
    assert!(
        r.body["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| keys(s) == set(SNAP, EXT)),
        "detail at 3.0: {}",
        r.text
    );
    let r = cinder(
        &e,
        None,
        Method::PUT,
        &format!("/snapshots/{s0}"),
        Some(json!({"snapshot": {"display_name": "renamed"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body["snapshot"]),
        set(SNAP, &[]),
        "update at 3.0: {}",
        r.text
    );
    assert_eq!(r.body["snapshot"]["name"], "renamed");
    // An admin sees the same show body.
    let r = call(
        Method::GET,
        &format!(
            "{}/volume/v3/{}/snapshots/{s0}",
            e.c.url, e.tenant.project_id
        ),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(
        keys(&r.body["snapshot"]),
        set(SNAP, EXT),
        "admin show: {}",
        r.text
    );
    // The simulated pod renders its snapshots the same way.
    let pod = e.sim.region("Pod1").unwrap();
    let r = call(
        Method::GET,
        &format!(
            "{}/{}/snapshots/detail?all_tenants=1",
            pod.volume_url, e.admin_project
        ),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    let pod_snaps = r.body["snapshots"].as_array().cloned().unwrap_or_default();
    assert_eq!(pod_snaps.len(), 2, "{}", r.text);
    assert!(
        pod_snaps.iter().all(|s| keys(s) == set(SNAP, EXT)),
        "pod detail: {}",
        r.text
    );
    let r = call(
        Method::GET,
        &format!(
            "{}/{}/snapshots?all_tenants=1",
            pod.volume_url, e.admin_project
        ),
        Some(&e.admin),
        None,
        &[("OpenStack-API-Version", "volume 3.71")],
    )
    .await;
    assert!(
        r.body["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| keys(s) == set(SNAP, &[])),
        "pod summary: {}",
        r.text
    );
    // A snapshot's metadata.
    let path = format!("/snapshots/{s0}/metadata");
    let r = cinder(
        &e,
        None,
        Method::POST,
        &path,
        Some(json!({"metadata": {"a": "1", "b": "2"}})),
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"metadata": {"a": "1", "b": "2"}})),
        "{}",
        r.text
    );
    let r = cinder(
        &e,
        None,
        Method::PUT,
        &path,
        Some(json!({"metadata": {"c": "3"}})),
    )
    .await;
    assert_eq!(r.body, json!({"metadata": {"c": "3"}}), "{}", r.text);
    let r = cinder(
        &e,
        None,
        Method::PUT,
        &format!("{path}/c"),
        Some(json!({"meta": {"c": "4"}})),
    )
    .await;
    assert_eq!(r.body, json!({"meta": {"c": "4"}}), "{}", r.text);
    let r = cinder(&e, None, Method::GET, &format!("{path}/c"), None).await;
    assert_eq!(r.body, json!({"meta": {"c": "4"}}), "{}", r.text);
    let r = cinder(&e, None, Method::DELETE, &format!("{path}/c"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = cinder(&e, None, Method::GET, &path, None).await;
    assert_eq!(r.body, json!({"metadata": {}}), "{}", r.text);
    let r = cinder(&e, None, Method::GET, &format!("{path}/c"), None).await;
    assert_eq!(r.status, 404, "{}", r.text);

    // Paging and sorting as Cinder does.
    let r = cinder(&e, None, Method::GET, "/snapshots?limit=1", None).await;
    assert_eq!(
        r.body["snapshots"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    assert_eq!(r.body["snapshots"][0]["id"], s1.as_str(), "newest first");
    let next = r.body["snapshots_links"][0]["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        next.contains("limit=1") && next.contains(&format!("marker={s1}")),
        "{next}"
    );
    let r = call(Method::GET, &next, Some(&e.tenant.token), None, &[]).await;
    assert_eq!(r.body["snapshots"][0]["id"], s0.as_str(), "{}", r.text);
    let r = cinder(
        &e,
        None,
        Method::GET,
        "/snapshots?sort_key=display_name&sort_dir=asc",
        None,
    )
    .await;
    let names: Vec<&str> = r.body["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["renamed", "s1"], "{}", r.text);
    let r = cinder(&e, None, Method::GET, "/snapshots?offset=1&limit=3", None).await;
    assert_eq!(
        r.body["snapshots"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    for (q, status) in [
        ("limit=x", 400),
        ("sort_key=invalid", 400),
        ("marker=7c1f6a3e-0000-4000-8000-000000000000", 404),
    ] {
        let r = cinder(&e, None, Method::GET, &format!("/snapshots?{q}"), None).await;
        assert_eq!(r.status, status, "{q}: {}", r.text);
    }
    for s in [&s0, &s1] {
        let r = cinder(&e, None, Method::DELETE, &format!("/snapshots/{s}"), None).await;
        assert_eq!(r.status, 202, "{}", r.text);
    }

    // ---- reserve / unreserve -----------------------------------------------------------------
    let action = format!("/volumes/{v1}/action");
    let r = cinder(
        &e,
        None,
        Method::POST,
        &action,
        Some(json!({"os-reserve": {}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = cinder(&e, None, Method::GET, &format!("/volumes/{v1}"), None).await;
    assert_eq!(r.body["volume"]["status"], "attaching", "{}", r.text);
    let r = cinder(
        &e,
        None,
        Method::POST,
        &action,
        Some(json!({"os-reserve": {}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = cinder(
        &e,
        None,
        Method::POST,
        &action,
        Some(json!({"os-unreserve": {}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = cinder(&e, None, Method::GET, &format!("/volumes/{v1}"), None).await;
    assert_eq!(r.body["volume"]["status"], "available", "{}", r.text);
    let r = cinder(
        &e,
        None,
        Method::POST,
        "/volumes/7c1f6a3e-0000-4000-8000-000000000000/action",
        Some(json!({"os-reserve": {}})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    // An action this cloud lacks: 404 for a missing volume (Cinder looks it up first), else 400.
    let r = cinder(
        &e,
        None,
        Method::POST,
        "/volumes/7c1f6a3e-0000-4000-8000-000000000000/action",
        Some(json!({"os-attach": {"instance_uuid": "x", "mountpoint": "/dev/vdb"}})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = cinder(
        &e,
        None,
        Method::POST,
        &action,
        Some(json!({"os-migrate_volume": {"host": "h"}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);

    // ---- read-only flag ---------------------------------------------------------------------
    let flag = |ro: Value| json!({"os-update_readonly_flag": {"readonly": ro}});
    let r = cinder(
        &e,
        None,
        Method::POST,
        &format!("/volumes/{v1}/action"),
        Some(json!({"os-update_readonly_flag": {}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    for (ro, shown) in [
        (json!(true), "True"),
        (json!(false), "False"),
        (json!("true"), "True"),
    ] {
        let r = cinder(
            &e,
            None,
            Method::POST,
            &format!("/volumes/{v1}/action"),
            Some(flag(ro)),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let v = cinder(&e, None, Method::GET, &format!("/volumes/{v1}"), None).await;
        assert_eq!(
            v.body["volume"]["metadata"]["readonly"], shown,
            "{}",
            v.text
        );
    }
    // The tenant's own metadata calls do not see it; the pod's volume has it.
    let r = cinder(
        &e,
        None,
        Method::GET,
        &format!("/volumes/{v1}/metadata"),
        None,
    )
    .await;
    assert!(r.body["metadata"].get("readonly").is_none(), "{}", r.text);
    let r = call(
        Method::GET,
        &format!(
            "{}/{}/volumes/detail?all_tenants=1",
            pod.volume_url, e.admin_project
        ),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    let bottom = r.body["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["metadata"]["cascade_top_id"] == v1.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(bottom["metadata"]["readonly"], "True", "{}", r.text);
    // A new attachment of a read-only volume is `ro`.
    let r = cinder(
        &e,
        Some("3.54"),
        Method::POST,
        "/attachments",
        Some(json!({"attachment": {"volume_uuid": v1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["attachment"]["attach_mode"], "ro", "{}", r.text);
    let att = r.body["attachment"]["id"].as_str().unwrap().to_string();
    // Only an available volume's flag changes.
    let r = cinder(
        &e,
        None,
        Method::POST,
        &format!("/volumes/{v1}/action"),
        Some(flag(json!(false))),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("to update readonly flag"), "{}", r.text);
    let r = cinder(
        &e,
        Some("3.54"),
        Method::DELETE,
        &format!("/attachments/{att}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // ---- extensions -----------------------------------------------------------------------------
    let r = cinder(&e, None, Method::GET, "/extensions", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let exts = r.body["extensions"].as_array().unwrap();
    let want = set(&["alias", "description", "links", "name", "updated"], &[]);
    assert!(exts.iter().all(|x| keys(x) == want), "{}", r.text);
    let aliases: BTreeSet<&str> = exts.iter().filter_map(|x| x["alias"].as_str()).collect();
    assert!(
        aliases.contains("os-volume-actions")
            && aliases.contains("os-extended-snapshot-attributes")
    );

    // ---- paging and the AZ filter ---------------------------------------------------------------
    let v2 = create_volume(
        &e,
        json!({"name": "v2", "size": 1, "availability_zone": "az2"}),
    )
    .await;
    let v3 = create_volume(
        &e,
        json!({"name": "v3", "size": 1, "availability_zone": "az2"}),
    )
    .await;
    for v in [&v2, &v3] {
        wait_status(&e, "volume", v, "available").await;
    }
    for detail in ["", "/detail"] {
        let mut seen = Vec::new();
        let mut next = Some(format!(
            "{}/volume/v3/{}/volumes{detail}?limit=1",
            e.c.url, e.tenant.project_id
        ));
        let mut pages = 0;
        while let Some(url) = next {
            let r = call(Method::GET, &url, Some(&e.tenant.token), None, &[]).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let page = r.body["volumes"].as_array().unwrap();
            seen.extend(page.iter().map(|v| v["id"].as_str().unwrap().to_string()));
            next = r.body["volumes_links"][0]["href"]
                .as_str()
                .map(str::to_string);
            // A full page links on (Cinder's rule), an empty one does not.
            assert_eq!(next.is_some(), page.len() == 1, "{}", r.text);
            if let Some(n) = &next {
                assert_eq!(r.body["volumes_links"][0]["rel"], "next");
                assert!(
                    n.starts_with(&format!(
                        "{}/volume/v3/{}/volumes{detail}?",
                        e.c.url, e.tenant.project_id
                    )),
                    "{n}"
                );
                assert!(n.contains("limit=1") && n.contains("marker="), "{n}");
            }
            pages += 1;
        }
        assert_eq!(pages, 4, "three full pages and an empty one");
        let all: BTreeSet<String> = seen.into_iter().collect();
        assert_eq!(
            all,
            [v1.clone(), v2.clone(), v3.clone()].into_iter().collect()
        );
    }
    // The summary (3.12; metadata from 3.36); below 3.12 `summary` is no volume.
    let r = cinder(&e, Some("3.12"), Method::GET, "/volumes/summary", None).await;
    assert_eq!(
        r.body,
        json!({"volume-summary": {"total_size": 3, "total_count": 3}}),
        "{}",
        r.text
    );
    let r = cinder(
        &e,
        Some("3.36"),
        Method::GET,
        "/volumes/summary?availability_zone=az2",
        None,
    )
    .await;
    assert_eq!(r.body["volume-summary"]["total_count"], 2, "{}", r.text);
    assert!(
        r.body["volume-summary"]["metadata"].is_object(),
        "{}",
        r.text
    );
    let r = cinder(&e, None, Method::GET, "/volumes/summary", None).await;
    assert_eq!(r.status, 404, "{}", r.text);
    // 3.63: the type's id.
    let types = cinder(&e, None, Method::GET, "/types", None).await;
    let default = types.body["volume_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "__DEFAULT__")
        .cloned()
        .unwrap_or_default();
    let r = cinder(
        &e,
        Some("3.63"),
        Method::GET,
        &format!("/volumes/{v2}"),
        None,
    )
    .await;
    assert_eq!(r.body["volume"]["volume_type"], "__DEFAULT__", "{}", r.text);
    assert_eq!(
        r.body["volume"]["volume_type_id"], default["id"],
        "{}",
        r.text
    );
    assert!(default["id"].is_string(), "{}", types.text);
    for path in [
        "/volumes?availability_zone=az2",
        "/volumes/detail?availability_zone=az2",
    ] {
        let r = cinder(&e, None, Method::GET, path, None).await;
        let ids: BTreeSet<&str> = r.body["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["id"].as_str())
            .collect();
        assert_eq!(
            ids,
            [v2.as_str(), v3.as_str()].into_iter().collect(),
            "{path}: {}",
            r.text
        );
    }

    // ---- a volume from an image -----------------------------------------------------------------
    let r = call(
        Method::POST,
        &format!("{}/image/v2/images", e.c.url),
        Some(&e.admin),
        Some(
            json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare",
                    "visibility": "public", "min_ram": 64, "os_distro": "cirros"}),
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let img = r.body["id"].as_str().unwrap().to_string();
    let up = reqwest::Client::new()
        .put(format!("{}/image/v2/images/{img}/file", e.c.url))
        .header("x-auth-token", &e.admin)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 204);
    let vi = create_volume(
        &e,
        json!({"size": 1, "imageRef": img, "availability_zone": "az1"}),
    )
    .await;
    let v = wait_status(&e, "volume", &vi, "available").await;
    assert_eq!(v["bootable"], "true");
    let m = &v["volume_image_metadata"];
    for k in [
        "image_id",
        "image_name",
        "checksum",
        "container_format",
        "disk_format",
        "min_disk",
        "min_ram",
        "size",
    ] {
        assert!(m[k].is_string(), "{k} missing: {m}");
    }
    assert_eq!(m["image_id"], img.as_str());
    assert_eq!(m["image_name"], "cirros");
    assert_eq!(m["disk_format"], "qcow2");
    assert_eq!(m["container_format"], "bare");
    assert_eq!(m["min_ram"], "64");
    assert_eq!(m["size"], "4096");
    assert_eq!(m["os_distro"], "cirros");
    // The image metadata actions.
    let action_path = format!("/volumes/{vi}/action");
    let act = |body: Value| cinder(&e, None, Method::POST, &action_path, Some(body));
    let r = act(
        json!({"os-set_image_metadata": {"metadata": {"kernel_id": "k1", "ramdisk_id": "r1"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["metadata"]["kernel_id"], "k1");
    assert_eq!(r.body["metadata"]["image_id"], img.as_str());
    let r = act(json!({"os-unset_image_metadata": {"key": "ramdisk_id"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = act(json!({"os-unset_image_metadata": {"key": "ramdisk_id"}})).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = act(json!({"os-show_image_metadata": {}})).await;
    assert_eq!(r.body["metadata"]["kernel_id"], "k1", "{}", r.text);
    assert!(r.body["metadata"].get("ramdisk_id").is_none(), "{}", r.text);
    let v = cinder(&e, None, Method::GET, &format!("/volumes/{vi}"), None).await;
    assert_eq!(v.body["volume"]["volume_image_metadata"]["kernel_id"], "k1");
    // Update answers without the show-only extensions.
    let r = cinder(
        &e,
        None,
        Method::PUT,
        &format!("/volumes/{vi}"),
        Some(json!({"volume": {"name": "from-image"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body["volume"]),
        set(VOLUME_CREATE, &[]),
        "{}",
        r.text
    );

    drop(e);
    db.cleanup().await;
}
