//! Cinder's admin APIs through a real `cascade serve` in front of two simulated regions, as
//! Tempest 47 drives them: volume type update, extra specs (reaching the pod's copy of a type a
//! volume was made with) and access to private types; `os-reset_status` / `os-force_delete`
//! on volumes and the snapshot actions (the pod's copy changes too); quota classes and quota
//! set deletion; pools, hosts and capabilities gathered from the pods; `os-retype`; and a
//! volume transfer accepted by another project (the pod's volume changes owner).

mod support;

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
    admin_project: String,
    tenant: Tenant,
    other: Tenant,
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
    let tenant = support::tenant(&c.url, &admin, "adm-a", "adm-a-user", Some("member")).await;
    let other = support::tenant(&c.url, &admin, "adm-b", "adm-b-user", Some("member")).await;
    Env {
        c,
        sim,
        admin,
        admin_project,
        tenant,
        other,
    }
}

/// A Cinder call as `who` (its project in the URL) at microversion `mv`.
async fn cinder_as(
    e: &Env,
    who: (&str, &str),
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
        &format!("{}/volume/v3/{}{path}", e.c.url, who.1),
        Some(who.0),
        body,
        &headers,
    )
    .await
}

fn admin(e: &Env) -> (&str, &str) {
    (&e.admin, &e.admin_project)
}

fn tenant(e: &Env) -> (&str, &str) {
    (&e.tenant.token, &e.tenant.project_id)
}

fn other(e: &Env) -> (&str, &str) {
    (&e.other.token, &e.other.project_id)
}

async fn wait_status(e: &Env, who: (&str, &str), kind: &str, id: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..150 {
        let r = cinder_as(e, who, None, Method::GET, &format!("/{kind}s/{id}"), None).await;
        last = r.body[kind].clone();
        if last["status"] == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{kind} {id} never became {want}: {last}");
}

async fn wait_gone(e: &Env, who: (&str, &str), kind: &str, id: &str) {
    for _ in 0..150 {
        let r = cinder_as(e, who, None, Method::GET, &format!("/{kind}s/{id}"), None).await;
        if r.status == 404 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{kind} {id} never went away");
}

async fn create_volume(e: &Env, body: Value) -> String {
    let r = cinder_as(
        e,
        tenant(e),
        None,
        Method::POST,
        "/volumes",
        Some(json!({ "volume": body })),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["volume"]["id"].as_str().unwrap().to_string();
    wait_status(e, tenant(e), "volume", &id, "available").await;
    id
}

/// A GET on Pod1's own Cinder as the admin.
async fn pod1(e: &Env, path: &str) -> Reply {
    let pod = e.sim.region("Pod1").unwrap();
    call(
        Method::GET,
        &format!("{}/{}{path}", pod.volume_url, e.admin_project),
        Some(&e.admin),
        None,
        &[],
    )
    .await
}

#[tokio::test]
async fn volume_types_extra_specs_and_access() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::POST,
        "/types",
        Some(json!({"volume_type": {"name": "gold", "extra_specs": {"spec1": "val1"}}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let type_id = r.body["volume_type"]["id"].as_str().unwrap().to_string();
    let specs = format!("/types/{type_id}/extra_specs");

    // A volume of the type puts a copy of it in Pod1.
    let v = create_volume(
        &e,
        json!({"size": 1, "volume_type": "gold", "availability_zone": "az1"}),
    )
    .await;

    // Create (merge), show, update one key, delete one key.
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::POST,
        &specs,
        Some(json!({"extra_specs": {"spec2": "val2"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"extra_specs": {"spec2": "val2"}}));
    let r = cinder_as(&e, admin(&e), None, Method::GET, &specs, None).await;
    assert_eq!(
        r.body,
        json!({"extra_specs": {"spec1": "val1", "spec2": "val2"}})
    );
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::PUT,
        &format!("{specs}/spec2"),
        Some(json!({"spec2": "val3"})),
    )
    .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"spec2": "val3"})));
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::DELETE,
        &format!("{specs}/spec1"),
        None,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::GET,
        &format!("{specs}/spec1"),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    // Cinder's 400s on a key update.
    for body in [
        json!({"spec2": "a", "spec3": "b"}),
        json!({"other": "a"}),
        json!(null),
    ] {
        let r = cinder_as(
            &e,
            admin(&e),
            None,
            Method::PUT,
            &format!("{specs}/spec2"),
            Some(body),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text);
    }
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::POST,
        &specs,
        Some(json!({"extra_specs": ["invalid"]})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    // Tenants may not change specs.
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::POST,
        &specs,
        Some(json!({"extra_specs": {"x": "y"}})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);

    // The pod's copy of the type has the same specs.
    let r = pod1(&e, "/types").await;
    let copy = r.body["volume_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "gold")
        .cloned()
        .unwrap_or_else(|| panic!("no copy of the type in Pod1: {}", r.text));
    assert_eq!(copy["extra_specs"], json!({"spec2": "val3"}));

    // Update: name, description, visibility; the update answer has no access flag.
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::PUT,
        &format!("/types/{type_id}"),
        Some(json!({"volume_type": {"name": "platinum", "description": "d"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["volume_type"]["name"], "platinum");
    assert!(
        r.body["volume_type"]
            .get("os-volume-type-access:is_public")
            .is_none()
    );
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::GET,
        &format!("/volumes/{v}"),
        None,
    )
    .await;
    assert_eq!(r.body["volume"]["volume_type"], "platinum", "{}", r.text);
    let r = pod1(&e, "/types").await;
    assert!(
        r.body["volume_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "platinum"),
        "the pod's copy was not renamed: {}",
        r.text
    );

    // A private type: invisible to the tenant until it is given access.
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::POST,
        "/types",
        Some(json!({"volume_type": {"name": "private", "os-volume-type-access:is_public": false}})),
    )
    .await;
    let private = r.body["volume_type"]["id"].as_str().unwrap().to_string();
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 1, "volume_type": private}})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::POST,
        &format!("/types/{private}/action"),
        Some(json!({"addProjectAccess": {"project": e.tenant.project_id}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::GET,
        &format!("/types/{private}/os-volume-type-access"),
        None,
    )
    .await;
    assert_eq!(
        r.body,
        json!({"volume_type_access": [{"volume_type_id": private, "project_id": e.tenant.project_id}]})
    );
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::GET,
        &format!("/types/{private}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    create_volume(&e, json!({"size": 1, "volume_type": private})).await;
}

#[tokio::test]
async fn admin_actions_reach_the_pod() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let v = create_volume(&e, json!({"size": 1, "availability_zone": "az1"})).await;
    let action = |id: &str| format!("/volumes/{id}/action");

    // Only admins reset; the pod's volume follows, so the index is not undone.
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::POST,
        &action(&v),
        Some(json!({"os-reset_status": {"status": "error"}})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    for status in ["error", "maintenance"] {
        let r = cinder_as(
            &e,
            admin(&e),
            None,
            Method::POST,
            &action(&v),
            Some(json!({"os-reset_status": {"status": status}})),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text);
        wait_status(&e, tenant(&e), "volume", &v, status).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        wait_status(&e, tenant(&e), "volume", &v, status).await;
    }
    let r = pod1(&e, "/volumes/detail?all_tenants=1").await;
    assert!(
        r.body["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["status"] == "maintenance"),
        "{}",
        r.text
    );

    // Snapshot actions.
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::POST,
        &action(&v),
        Some(json!({"os-reset_status": {"status": "available"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::POST,
        "/snapshots",
        Some(json!({"snapshot": {"volume_id": v, "name": "s"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = r.body["snapshot"]["id"].as_str().unwrap().to_string();
    wait_status(&e, tenant(&e), "snapshot", &s, "available").await;
    let snap_action = format!("/snapshots/{s}/action");
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::POST,
        &snap_action,
        Some(json!({"os-reset_status": {"status": "creating"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::POST,
        &snap_action,
        Some(json!({"os-update_snapshot_status": {"status": "error", "progress": "80%"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let shown = wait_status(&e, tenant(&e), "snapshot", &s, "error").await;
    assert_eq!(shown["os-extended-snapshot-attributes:progress"], "80%");
    // error → available is not one of update_snapshot_status' transitions.
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::POST,
        &snap_action,
        Some(json!({"os-update_snapshot_status": {"status": "available"}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::POST,
        &snap_action,
        Some(json!({"os-force_delete": {}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_gone(&e, tenant(&e), "snapshot", &s).await;

    // Force delete whatever the status.
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::POST,
        &action(&v),
        Some(json!({"os-reset_status": {"status": "attaching"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::POST,
        &action(&v),
        Some(json!({"os-force_delete": {}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_gone(&e, tenant(&e), "volume", &v).await;
    let r = pod1(&e, "/volumes/detail?all_tenants=1").await;
    assert_eq!(r.body["volumes"], json!([]), "{}", r.text);

    // Retype without migration.
    for name in ["t1", "t2"] {
        let r = cinder_as(
            &e,
            admin(&e),
            None,
            Method::POST,
            "/types",
            Some(json!({"volume_type": {"name": name}})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let v = create_volume(
        &e,
        json!({"size": 1, "volume_type": "t1", "availability_zone": "az1"}),
    )
    .await;
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::POST,
        &action(&v),
        Some(json!({"os-retype": {"new_type": "t2", "migration_policy": "never"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let shown = wait_status(&e, tenant(&e), "volume", &v, "available").await;
    assert_eq!(shown["volume_type"], "t2");
    let r = pod1(&e, "/volumes/detail?all_tenants=1").await;
    assert_eq!(r.body["volumes"][0]["volume_type"], "t2", "{}", r.text);
}

#[tokio::test]
async fn quotas_pools_hosts_and_transfers() {
    let db = Db::sqlite();
    let e = env(&db).await;

    // Quota classes: the default class changes every project's defaults, per-type keys too.
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::GET,
        "/os-quota-class-sets/default",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota_class_set"]["id"], "default");
    assert_eq!(r.body["quota_class_set"]["volumes___DEFAULT__"], -1);
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::PUT,
        "/os-quota-class-sets/default",
        Some(json!({"quota_class_set": {"volumes": 11, "gigabytes___DEFAULT__": 5}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota_class_set"]["volumes"], 11);
    let path = format!("/os-quota-sets/{}", e.tenant.project_id);
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::GET,
        &format!("{path}/defaults"),
        None,
    )
    .await;
    assert_eq!(r.body["quota_set"]["volumes"], 11, "{}", r.text);
    assert_eq!(r.body["quota_set"]["gigabytes___DEFAULT__"], 5);
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::GET,
        "/os-quota-class-sets/default",
        None,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    // A project's own limit, then deleted: back to the class's.
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::PUT,
        &path,
        Some(json!({"quota_set": {"volumes": 20}})),
    )
    .await;
    assert_eq!(r.body["quota_set"]["volumes"], 20, "{}", r.text);
    let r = cinder_as(&e, admin(&e), None, Method::DELETE, &path, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = cinder_as(&e, admin(&e), None, Method::GET, &path, None).await;
    assert_eq!(r.body["quota_set"]["volumes"], 11, "{}", r.text);

    // Pools, hosts and capabilities of both pods.
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::GET,
        "/scheduler-stats/get_pools?detail=True",
        None,
    )
    .await;
    let pools = r.body["pools"].as_array().cloned().unwrap_or_default();
    assert_eq!(pools.len(), 2, "{}", r.text);
    assert!(
        pools
            .iter()
            .all(|p| p["capabilities"]["vendor_name"] == "Open Source")
    );
    let r = cinder_as(&e, admin(&e), None, Method::GET, "/os-hosts", None).await;
    let hosts = r.body["hosts"].as_array().cloned().unwrap_or_default();
    assert_eq!(hosts.len(), 4, "{}", r.text);
    let r = cinder_as(&e, admin(&e), None, Method::GET, "/os-hosts/Pod2@lvm", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["host"][0]["resource"]["project"], "(total)");
    let r = cinder_as(&e, admin(&e), None, Method::GET, "/os-hosts/nowhere", None).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = cinder_as(
        &e,
        admin(&e),
        None,
        Method::GET,
        "/capabilities/Pod1@lvm",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["namespace"], "OS::Storage::Capabilities::Pod1@lvm");
    let r = cinder_as(&e, tenant(&e), None, Method::GET, "/os-hosts", None).await;
    assert_eq!(r.status, 403, "{}", r.text);

    // A transfer to another project (3.57 keys), accepted with the key.
    let v = create_volume(&e, json!({"size": 1, "availability_zone": "az1"})).await;
    let r = cinder_as(
        &e,
        tenant(&e),
        Some("3.57"),
        Method::POST,
        "/volume-transfers",
        Some(json!({"transfer": {"volume_id": v, "name": "t"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let t = r.body["transfer"].clone();
    for k in [
        "auth_key",
        "no_snapshots",
        "source_project_id",
        "accepted",
        "created_at",
        "links",
    ] {
        assert!(t.get(k).is_some(), "{k} missing: {t}");
    }
    let id = t["id"].as_str().unwrap().to_string();
    let key = t["auth_key"].as_str().unwrap().to_string();
    wait_status(&e, tenant(&e), "volume", &v, "awaiting-transfer").await;
    // Below 3.55 the new API does not exist.
    let r = cinder_as(&e, tenant(&e), None, Method::GET, "/volume-transfers", None).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::GET,
        "/os-volume-transfer/detail",
        None,
    )
    .await;
    assert_eq!(
        r.body["transfers"][0]["volume_id"],
        v.as_str(),
        "{}",
        r.text
    );
    let accept = format!("/os-volume-transfer/{id}/accept");
    let r = cinder_as(
        &e,
        other(&e),
        None,
        Method::POST,
        &accept,
        Some(json!({"accept": {"auth_key": "wrong"}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = cinder_as(
        &e,
        other(&e),
        None,
        Method::POST,
        &accept,
        Some(json!({"accept": {"auth_key": key}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let shown = wait_status(&e, other(&e), "volume", &v, "available").await;
    assert_eq!(shown["user_id"], e.other.user_id.as_str());
    assert_eq!(
        shown["os-vol-tenant-attr:tenant_id"],
        e.other.project_id.as_str()
    );
    let r = cinder_as(
        &e,
        tenant(&e),
        None,
        Method::GET,
        &format!("/volumes/{v}"),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = pod1(&e, "/volumes/detail?all_tenants=1").await;
    assert_eq!(
        r.body["volumes"][0]["os-vol-tenant-attr:tenant_id"],
        e.other.project_id.as_str(),
        "the pod's volume did not change owner: {}",
        r.text
    );
    // Its new owner can delete it.
    let r = cinder_as(
        &e,
        other(&e),
        None,
        Method::DELETE,
        &format!("/volumes/{v}"),
        None,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_gone(&e, other(&e), "volume", &v).await;
}
