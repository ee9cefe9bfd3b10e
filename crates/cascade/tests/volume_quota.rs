//! Boot from volume counts against the project's Cinder quota: a server whose
//! `block_device_mapping_v2` makes a volume (from an image here) is refused with Nova's 403
//! `Volume resource quota exceeded` when that volume would not fit `volumes` / `gigabytes`,
//! exactly as a `POST /volumes` of the same size would be; one that fits is accepted, its
//! volume shows in the quota usage, and the next plain volume create is refused with
//! Cinder's 413. Runs a real `cascade serve` with one simulated pod, on SQLite and PostgreSQL.

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
    _sim: SimHandle,
    admin: String,
    admin_project: String,
    /// The tenant project with the small quota, and its member's token.
    project: String,
    member: String,
}

async fn admin_call(e: &Env, method: Method, path: &str, body: Option<Value>) -> Reply {
    call(
        method,
        &format!("{}{path}", e.c.url),
        Some(&e.admin),
        body,
        &[],
    )
    .await
}

async fn env(db: &Db) -> Env {
    let c = Cascade::start(db, CONFIG).await;
    let mut region = RegionSpec::new("Pod1", "az1").instant();
    region.build_time = Duration::from_millis(200);
    region.volume_time = Duration::from_millis(200);
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), vec![region]))
        .await
        .unwrap();
    let (admin, r) = token(&c.url, "admin", ADMIN_PASSWORD, Some("admin")).await;
    let admin_project = r.body["token"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut e = Env {
        c,
        _sim: sim,
        admin,
        admin_project,
        project: String::new(),
        member: String::new(),
    };
    let r = e._sim.regions()[0].clone();
    let body = json!({"pod": {"region_name": r.name, "az_name": r.az, "auth_url": r.identity_url,
        "credentials": {"username": "admin", "password": ADMIN_PASSWORD, "project_name": "admin"}}});
    let resp = admin_call(&e, Method::POST, "/v1.0/pods", Some(body)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(
        eventually(Duration::from_secs(20), || async {
            let r = admin_call(&e, Method::GET, "/v1.0/pods", None).await;
            r.body["pods"][0]["state"] == "up"
        })
        .await,
        "the pod did not come up"
    );
    let r = admin_call(
        &e,
        Method::POST,
        "/identity/v3/projects",
        Some(json!({"project": {"name": "small"}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    e.project = r.body["project"]["id"].as_str().unwrap().to_string();
    let r = admin_call(
        &e,
        Method::POST,
        "/identity/v3/users",
        Some(json!({"user": {"name": "sam", "password": "pw", "default_project_id": e.project}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let user = r.body["user"]["id"].as_str().unwrap().to_string();
    let r = admin_call(&e, Method::GET, "/identity/v3/roles?name=member", None).await;
    let role = r.body["roles"][0]["id"].as_str().unwrap().to_string();
    let r = admin_call(
        &e,
        Method::PUT,
        &format!(
            "/identity/v3/projects/{}/users/{user}/roles/{role}",
            e.project
        ),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (member, r) = token(&e.c.url, "sam", "pw", Some("small")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    e.member = member;
    e
}

async fn nova(e: &Env, method: Method, path: &str, body: Option<Value>) -> Reply {
    call(
        method,
        &format!("{}/compute/v2.1{path}", e.c.url),
        Some(&e.member),
        body,
        &[("OpenStack-API-Version", "compute 2.100")],
    )
    .await
}

async fn cinder(e: &Env, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    let project = if token == e.admin {
        &e.admin_project
    } else {
        &e.project
    };
    call(
        method,
        &format!("{}/volume/v3/{project}{path}", e.c.url),
        Some(token),
        body,
        &[("OpenStack-API-Version", "volume 3.71")],
    )
    .await
}

/// A small public image (64 KiB: a volume made from it needs 1 GiB).
async fn image(e: &Env) -> String {
    let r = admin_call(e, Method::POST, "/image/v2/images",
        Some(json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "visibility": "public"}))).await;
    assert_eq!(r.status, 201, "image create: {}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let up = reqwest::Client::new()
        .put(format!("{}/image/v2/images/{id}/file", e.c.url))
        .header("x-auth-token", &e.admin)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 204);
    id
}

fn boot_from_image(name: &str, image: &str, gib: i64) -> Value {
    json!({"server": {"name": name, "flavorRef": "42", "networks": "none",
        "block_device_mapping_v2": [{"boot_index": 0, "uuid": image, "source_type": "image",
            "destination_type": "volume", "volume_size": gib, "delete_on_termination": true}]}})
}

/// (in_use volumes, in_use gigabytes) of the tenant's Cinder quota usage.
async fn usage(e: &Env) -> (i64, i64) {
    let r = cinder(
        e,
        &e.admin.clone(),
        Method::GET,
        &format!("/os-quota-sets/{}?usage=true", e.project),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let q = &r.body["quota_set"];
    (
        q["volumes"]["in_use"].as_i64().unwrap(),
        q["gigabytes"]["in_use"].as_i64().unwrap(),
    )
}

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { let db = super::Db::sqlite(); super::$case(&db).await; db.cleanup().await; } )* }
        mod postgres { $( #[tokio::test] async fn $case() { let db = super::Db::postgres(); super::$case(&db).await; db.cleanup().await; } )* }
    };
}

both_backends!(boot_from_volume_counts_against_volume_quota);

async fn boot_from_volume_counts_against_volume_quota(db: &Db) {
    let e = env(db).await;
    let r = admin_call(
        &e,
        Method::POST,
        "/compute/v2.1/flavors",
        Some(json!({"flavor": {"name": "m1.q", "id": "42", "vcpus": 1, "ram": 256, "disk": 1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let img = image(&e).await;
    let admin = e.admin.clone();
    let r = cinder(
        &e,
        &admin,
        Method::PUT,
        &format!("/os-quota-sets/{}", e.project),
        Some(json!({"quota_set": {"volumes": 1, "gigabytes": 1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // A 2 GiB boot volume does not fit 1 GiB: Nova's 403, and nothing is made.
    let r = nova(
        &e,
        Method::POST,
        "/servers",
        Some(boot_from_image("big", &img, 2)),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let msg = r.body["forbidden"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("Volume resource quota exceeded"),
        "{}",
        r.text
    );
    assert!(msg.contains("gigabytes"), "{msg}");
    let r = nova(&e, Method::GET, "/servers", None).await;
    assert_eq!(r.body["servers"], json!([]), "{}", r.text);
    assert_eq!(usage(&e).await, (0, 0));

    // The same as a plain volume create is refused by Cinder too.
    let member = e.member.clone();
    let r = cinder(
        &e,
        &member,
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 2}})),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text);

    // 1 GiB fits: accepted, and once built the quota usage shows its volume.
    let r = nova(
        &e,
        Method::POST,
        "/servers",
        Some(boot_from_image("fits", &img, 1)),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    assert!(
        eventually(Duration::from_secs(30), || async {
            let s = nova(&e, Method::GET, &format!("/servers/{id}"), None).await;
            s.body["server"]["status"] == "ACTIVE"
        })
        .await,
        "the boot-from-volume server did not become ACTIVE"
    );
    assert_eq!(usage(&e).await, (1, 1));

    // The quota is used up: a second boot volume and a plain volume are both refused.
    let r = nova(
        &e,
        Method::POST,
        "/servers",
        Some(boot_from_image("second", &img, 1)),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(
        r.body["forbidden"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Maximum number of volumes allowed (1)")),
        "{}",
        r.text
    );
    let r = cinder(
        &e,
        &member,
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 1}})),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.text.contains("VolumeLimitExceeded"), "{}", r.text);

    // A server that makes no volume is not held back by the volume quota.
    let r = nova(
        &e,
        Method::POST,
        "/servers",
        Some(json!({"server": {"name": "plain",
        "flavorRef": "42", "imageRef": img, "networks": "none"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
}
