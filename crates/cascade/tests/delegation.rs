//! Keystone mode never stores a tenant's token in plaintext: Cascade B trusts the identity of
//! Cascade A (an external Keystone v3 over HTTP, without `OS-TRUST`, so B falls back to sealing
//! the caller's token), a tenant boots a server in B's pod, the build job acts for the tenant,
//! and neither B's database files nor its job API ever contain the token.

mod support;

use std::time::Duration;

use cascade_sim::{RegionSpec, SimConfig};
use reqwest::Method;
use serde_json::json;
use support::*;

fn db_bytes(db: &Db) -> Vec<u8> {
    let Db::Sqlite(path) = db else { unreachable!() };
    let mut out = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", path.display())) {
            out.extend(b);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn keystone_mode_jobs_act_for_the_tenant_without_storing_its_token() {
    let db_a = Db::sqlite();
    let a = Cascade::start(&db_a, "").await;
    let db_b = Db::sqlite();
    let b = Cascade::start(
        &db_b,
        &format!(
            "[pods]\nhealth_interval_secs = 1\n\n[identity]\nmode = \"keystone\"\nurl = \"{}/identity\"\nservice_username = \"admin\"\nservice_password = \"{ADMIN_PASSWORD}\"\nservice_project = \"admin\"\n",
            a.url
        ),
    )
    .await;
    let mut region = RegionSpec::new("R1", "az1").instant();
    region.build_time = Duration::from_millis(200);
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", a.url), vec![region]))
        .await
        .unwrap();
    let admin = admin_token(&a.url).await;
    register_pods(&b.url, &admin, &sim).await;
    // A tenant of the shared identity.
    let t1 = tenant(&a.url, &admin, "t1", "tina", Some("member")).await;
    let (project, tenant) = (t1.project_id, t1.token);

    let nova = |m: Method, path: &str, t: &str, body: Option<serde_json::Value>| {
        let url = format!("{}/compute/v2.1{path}", b.url);
        let t = t.to_string();
        async move {
            call(
                m,
                &url,
                Some(&t),
                body,
                &[("OpenStack-API-Version", "compute 2.100")],
            )
            .await
        }
    };
    let f = nova(
        Method::POST,
        "/flavors",
        &admin,
        Some(json!({"flavor": {"name": "m1", "id": "42", "vcpus": 1, "ram": 256, "disk": 1}})),
    )
    .await;
    assert_eq!(f.status, 200, "{}", f.text);
    let img = call(
        Method::POST,
        &format!("{}/image/v2/images", b.url),
        Some(&tenant),
        Some(json!({"name": "img", "disk_format": "qcow2", "container_format": "bare"})),
        &[],
    )
    .await;
    assert_eq!(img.status, 201, "{}", img.text);
    let image = img.body["id"].as_str().unwrap().to_string();
    let up = reqwest::Client::new()
        .put(format!("{}/image/v2/images/{image}/file", b.url))
        .header("x-auth-token", &tenant)
        .header("content-type", "application/octet-stream")
        .body(vec![1u8; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 204);
    let s = nova(Method::POST, "/servers", &tenant,
        Some(json!({"server": {"name": "vm", "flavorRef": "42", "imageRef": image, "networks": "none"}}))).await;
    assert_eq!(s.status, 202, "{}", s.text);
    let id = s.body["server"]["id"].as_str().unwrap().to_string();
    // The build job acts for the tenant in the pod (the bottom server is the tenant's).
    assert!(
        eventually(Duration::from_secs(30), || async {
            nova(Method::GET, &format!("/servers/{id}"), &tenant, None)
                .await
                .body["server"]["status"]
                == "ACTIVE"
        })
        .await,
        "the server did not become ACTIVE"
    );
    let bottom = call(
        Method::GET,
        &format!(
            "{}/servers/detail?all_tenants=1",
            sim.regions()[0].compute_url
        ),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let twin = bottom.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == format!("vm@{id}"))
        .cloned()
        .unwrap();
    assert_eq!(twin["tenant_id"], project.as_str());

    // Nowhere at rest, nowhere in the job API.
    assert!(
        !contains(&db_bytes(&db_b), &tenant),
        "the tenant's token is stored in plaintext"
    );
    let jobs = call(
        Method::GET,
        &format!("{}/v1.0/jobs/detail", b.url),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(jobs.status, 200, "{}", jobs.text);
    assert!(!jobs.text.contains(&tenant), "{}", jobs.text);
    drop(b);
    db_b.cleanup().await;
    db_a.cleanup().await;
}
