//! The pod registry and routing table through a real `cascade serve` process in front of real
//! simulated regions over loopback: registration and its bad input, secrets never shown, the
//! health checker following a pod going down and coming back, maintenance, the routing list
//! with filters and paging, keystone mode, and the operations endpoints.

mod support;

use std::time::Duration;

use cascade_sim::{RegionSpec, SimConfig};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const FAST_HEALTH: &str =
    "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 1\ncall_timeout_secs = 2\n";

async fn sim(identity: &str, names: &[(&str, &str)]) -> cascade_sim::SimHandle {
    let regions = names
        .iter()
        .map(|(n, az)| RegionSpec::new(*n, *az))
        .collect();
    cascade_sim::start(SimConfig::new(identity, regions))
        .await
        .expect("sim starts")
}

fn pod_body(region: &cascade_sim::RegionInfo) -> Value {
    json!({"pod": {
        "region_name": region.name, "az_name": region.az, "dc_name": "dc1",
        "auth_url": region.identity_url,
        "credentials": {"username": "admin", "password": ADMIN_PASSWORD, "project_name": "admin"},
        "capabilities": {"country": "DE", "gpu": "true"},
    }})
}

async fn pod_state(base: &str, token: &str, id: &str) -> String {
    let r = call(
        Method::GET,
        &format!("{base}/v1.0/pods/{id}"),
        Some(token),
        None,
        &[],
    )
    .await;
    r.body["pod"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { let db = super::Db::sqlite(); super::$case(&db).await; db.cleanup().await; } )* }
        mod postgres { $( #[tokio::test] async fn $case() { let db = super::Db::postgres(); super::$case(&db).await; db.cleanup().await; } )* }
    };
}

both_backends!(pod_registry_and_health, routing_listing);

async fn pod_registry_and_health(db: &Db) {
    let c = Cascade::start(db, FAST_HEALTH).await;
    let s = sim(
        &format!("{}/identity", c.url),
        &[("Pod1", "az1"), ("Pod2", "az2")],
    )
    .await;
    let admin = admin_token(&c.url).await;
    let pods = format!("{}/v1.0/pods", c.url);
    let regions = s.regions();

    let r = call(
        Method::POST,
        &pods,
        Some(&admin),
        Some(pod_body(&regions[0])),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        !r.text.contains(ADMIN_PASSWORD),
        "credentials are never returned"
    );
    assert_eq!(r.body["pod"]["credentials_configured"], true);
    assert_eq!(r.body["pod"]["capabilities"]["country"], "DE");
    let pod1 = r.body["pod"]["pod_id"].as_str().unwrap().to_string();
    let r = call(
        Method::POST,
        &pods,
        Some(&admin),
        Some(pod_body(&regions[1])),
        &[],
    )
    .await;
    let pod2 = r.body["pod"]["pod_id"].as_str().unwrap().to_string();

    // Bad input.
    let dup = call(
        Method::POST,
        &pods,
        Some(&admin),
        Some(pod_body(&regions[0])),
        &[],
    )
    .await;
    assert_eq!(dup.status, 409, "{}", dup.text);
    assert_eq!(dup.body["error"]["code"], 409);
    let empty = call(
        Method::POST,
        &pods,
        Some(&admin),
        Some(json!({"pod": {"region_name": "", "az_name": "az9"}})),
        &[],
    )
    .await;
    assert_eq!(empty.status, 422);
    for bad in [
        json!({"region": {}}),
        json!({"pod": {"region_name": "X", "az_name": "az9", "bogus": 1}}),
        json!({"pod": {"region_name": 7, "az_name": "az9"}}),
        json!({"pod": {"region_name": "X", "az_name": ""}}),
        json!({"pod": {"region_name": "X", "az_name": "az9", "auth_url": "ftp://x"}}),
        json!({"pod": {"region_name": "X", "az_name": "az9", "endpoints": {"compute": "http://x"},
                       "credentials": {"username": "u", "project_name": "p"}}}),
    ] {
        let r = call(Method::POST, &pods, Some(&admin), Some(bad.clone()), &[]).await;
        assert_eq!(r.status, 400, "{bad} -> {}", r.text);
    }
    let r = call(Method::GET, &pods, Some(&admin), None, &[]).await;
    assert_eq!(
        r.body["pods"].as_array().unwrap().len(),
        2,
        "nothing half-written"
    );
    assert_eq!(call(Method::GET, &pods, None, None, &[]).await.status, 401);
    assert_eq!(
        call(
            Method::GET,
            &format!("{pods}/nope"),
            Some(&admin),
            None,
            &[]
        )
        .await
        .status,
        404
    );

    // A member is not an admin.
    let v3 = format!("{}/identity/v3", c.url);
    let r = call(
        Method::POST,
        &format!("{v3}/users"),
        Some(&admin),
        Some(json!({"user": {"name": "bob", "password": "pw"}})),
        &[],
    )
    .await;
    let bob = r.body["user"]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::GET,
        &format!("{v3}/projects?name=admin"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let admin_project = r.body["projects"][0]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::GET,
        &format!("{v3}/roles?name=member"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let member = r.body["roles"][0]["id"].as_str().unwrap().to_string();
    call(
        Method::PUT,
        &format!("{v3}/projects/{admin_project}/users/{bob}/roles/{member}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let (bob_token, _) = token(&c.url, "bob", "pw", Some("admin")).await;
    let r = call(Method::GET, &pods, Some(&bob_token), None, &[]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = call(
        Method::POST,
        &pods,
        Some(&bob_token),
        Some(json!({"pod": {"region_name": "Z", "az_name": "z"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 403);

    // Health: both pods come up through their own identity endpoint and catalog.
    let up = eventually(Duration::from_secs(20), || async {
        pod_state(&c.url, &admin, &pod1).await == "up"
            && pod_state(&c.url, &admin, &pod2).await == "up"
    })
    .await;
    assert!(up, "pods never came up");

    // Pod1 goes down (connection refused); pod2 stays up; then pod1 recovers.
    s.set_down("Pod1", true).await.unwrap();
    assert!(
        eventually(Duration::from_secs(20), || async {
            pod_state(&c.url, &admin, &pod1).await == "down"
        })
        .await
    );
    assert_eq!(pod_state(&c.url, &admin, &pod2).await, "up");
    let r = call(
        Method::GET,
        &format!("{pods}/{pod1}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert!(!r.body["pod"]["state_reason"].as_str().unwrap().is_empty());
    s.set_down("Pod1", false).await.unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            pod_state(&c.url, &admin, &pod1).await == "up"
        })
        .await
    );

    // Maintenance is the operator's and survives health checks.
    let r = call(
        Method::PUT,
        &format!("{pods}/{pod2}"),
        Some(&admin),
        Some(json!({"pod": {"state": "maintenance"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(pod_state(&c.url, &admin, &pod2).await, "maintenance");
    let r = call(
        Method::PUT,
        &format!("{pods}/{pod2}"),
        Some(&admin),
        Some(json!({"pod": {"state": "down"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    call(
        Method::PUT,
        &format!("{pods}/{pod2}"),
        Some(&admin),
        Some(json!({"pod": {"state": "up"}})),
        &[],
    )
    .await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            pod_state(&c.url, &admin, &pod2).await == "up"
        })
        .await
    );

    // Metrics carry HTTP, per-pod call and pod state series; healthz summarises.
    // Both need an admin (or the monitoring token) since the policy layer.
    let text = call(
        Method::GET,
        &format!("{}/metrics", c.url),
        Some(&admin),
        None,
        &[],
    )
    .await
    .text;
    assert!(
        text.contains("cascade_http_requests_total{service=\"admin\",route=\"/v1.0/pods/{id}\""),
        "{text}"
    );
    assert!(
        text.contains("cascade_pod_calls_total{pod=\"Pod1\",service=\"probe\",outcome=\"ok\"}"),
        "{text}"
    );
    assert!(
        text.contains(
            "cascade_pod_calls_total{pod=\"Pod1\",service=\"probe\",outcome=\"connect\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("cascade_pod_call_duration_seconds_count{pod=\"Pod2\",service=\"probe\"}"),
        "{text}"
    );
    assert!(
        text.contains("cascade_pod_state{pod=\"Pod1\",az=\"az1\"} 0"),
        "{text}"
    );
    let r = call(
        Method::GET,
        &format!("{}/healthz", c.url),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["pods"]["total"], 2);

    // Delete.
    let r = call(
        Method::DELETE,
        &format!("{pods}/{pod2}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({}));
    assert_eq!(
        call(
            Method::DELETE,
            &format!("{pods}/{pod2}"),
            Some(&admin),
            None,
            &[]
        )
        .await
        .status,
        404
    );
    s.shutdown().await;
}

async fn routing_listing(db: &Db) {
    let c = Cascade::start(db, "").await;
    let admin = admin_token(&c.url).await;
    let pods = format!("{}/v1.0/pods", c.url);
    let body = json!({"pod": {"region_name": "R1", "az_name": "az1", "endpoints": {"compute": "http://127.0.0.1:9/compute/v2.1"}}});
    let r = call(Method::POST, &pods, Some(&admin), Some(body), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pod = r.body["pod"]["pod_id"].as_str().unwrap().to_string();

    // Routing rows are written by sagas; here the test writes them through the store.
    let store = match db {
        Db::Sqlite(p) => cascade_store::Store::connect(&format!("sqlite://{}", p.display()), None)
            .await
            .unwrap(),
        Db::Postgres { url, schema } => cascade_store::Store::connect(url, Some(schema))
            .await
            .unwrap(),
    };
    for i in 0..5 {
        store
            .insert_routing(&cascade_store::routings::NewRouting {
                top_id: format!("top-{i}"),
                bottom_id: (i % 2 == 0).then(|| format!("bottom-{i}")),
                pod_id: pod.clone(),
                project_id: if i < 3 { "p1".into() } else { "p2".into() },
                resource_type: if i == 4 {
                    "network".into()
                } else {
                    "server".into()
                },
            })
            .await
            .unwrap();
    }
    store.close().await;

    let routings = format!("{}/v1.0/routings", c.url);
    let mut seen = Vec::new();
    let mut next = Some(format!("{routings}?resource_type=server&limit=2"));
    while let Some(url) = next {
        let r = call(Method::GET, &url, Some(&admin), None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(
            r.body["routings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["top_id"].as_str().unwrap().to_string()),
        );
        next = r.body["routings_links"][0]["href"]
            .as_str()
            .map(str::to_string);
    }
    assert_eq!(
        seen,
        ["top-3", "top-2", "top-1", "top-0"],
        "newest first, each once"
    );
    let r = call(
        Method::GET,
        &format!("{routings}?project_id=p2"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["routings"].as_array().unwrap().len(), 2);
    let r = call(
        Method::GET,
        &format!("{routings}?bottom_id=bottom-2"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let id = r.body["routings"][0]["id"].as_i64().unwrap();
    let r = call(
        Method::GET,
        &format!("{routings}/{id}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["routing"]["top_id"], "top-2");
    assert_eq!(r.body["routing"]["pod_id"], pod.as_str());
    assert_eq!(
        call(
            Method::GET,
            &format!("{routings}/999999"),
            Some(&admin),
            None,
            &[]
        )
        .await
        .status,
        404
    );
    for bad in ["marker=999999", "limit=abc", "limit=0", "colour=blue"] {
        let r = call(
            Method::GET,
            &format!("{routings}?{bad}"),
            Some(&admin),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    // A pod that resources are routed to cannot be removed.
    let r = call(
        Method::DELETE,
        &format!("{pods}/{pod}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
}

/// `identity.mode = "keystone"`: Cascade B trusts tokens of an external Keystone (here the
/// embedded identity of Cascade A — a real Keystone v3 API over HTTP).
#[tokio::test]
async fn keystone_mode_validates_against_an_external_keystone() {
    let db_a = Db::sqlite();
    let a = Cascade::start(&db_a, "").await;
    let db_b = Db::sqlite();
    let b = Cascade::start(
        &db_b,
        &format!(
            "[identity]\nmode = \"keystone\"\nurl = \"{}/identity\"\nservice_username = \"admin\"\nservice_password = \"{ADMIN_PASSWORD}\"\nservice_project = \"admin\"\n",
            a.url
        ),
    )
    .await;
    let t = admin_token(&a.url).await;
    let r = call(
        Method::GET,
        &format!("{}/v1.0/pods", b.url),
        Some(&t),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        call(
            Method::GET,
            &format!("{}/v1.0/pods", b.url),
            Some("bogus"),
            None,
            &[]
        )
        .await
        .status,
        401
    );
    // B serves no identity API of its own.
    assert_eq!(
        call(
            Method::GET,
            &format!("{}/identity/v3", b.url),
            None,
            None,
            &[]
        )
        .await
        .status,
        404
    );
    // Pods registered without auth_url use the shared Keystone.
    let body = json!({"pod": {"region_name": "R", "az_name": "az1",
        "credentials": {"username": "admin", "password": ADMIN_PASSWORD, "project_name": "admin"}}});
    let r = call(
        Method::POST,
        &format!("{}/v1.0/pods", b.url),
        Some(&t),
        Some(body),
        &[],
    )
    .await;
    assert_eq!(r.body["pod"]["auth_url"], format!("{}/identity", a.url));
    drop((a, b));
    db_a.cleanup().await;
    db_b.cleanup().await;
}
