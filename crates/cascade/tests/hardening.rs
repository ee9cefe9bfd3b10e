//! Hardening findings through a real `cascade serve` in front of two simulated regions:
//! deleting a keypair removes the pods' copies (a re-imported key reaches new servers), the
//! watchers never adopt a bottom resource that merely claims a top id, a pod answering empty
//! lists never makes volumes look deleted, and pod internals (endpoints, region names, bottom
//! ids, transport errors) never reach a tenant.

mod support;

use std::time::Duration;

use cascade_sim::{FaultSpec, RegionSpec, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const CONFIG: &str = "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 1\ncall_timeout_secs = 3\n\
    [jobs]\nmax_attempts = 2\n";

const KEY1: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbLZ8yQ0Z5cR6F0k6x4F7pX8mH8N1rSxYb0tT2nB1Qm one";
const KEY2: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbLZ8yQ0Z5cR6F0k6x4F7pX8mH8N1rSxYb0tT2nB1Qn two";

struct Env {
    c: Cascade,
    sim: SimHandle,
    admin: String,
    user_id: String,
    project: String,
}

async fn env(db: &Db) -> Env {
    let c = Cascade::start(db, CONFIG).await;
    let regions = (1..=2)
        .map(|i| {
            let mut r = RegionSpec::new(format!("Pod{i}"), format!("az{i}")).instant();
            r.build_time = Duration::from_millis(200);
            r.volume_time = Duration::from_millis(200);
            r
        })
        .collect();
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), regions))
        .await
        .unwrap();
    let (admin, r) = token(&c.url, "admin", ADMIN_PASSWORD, Some("admin")).await;
    let user_id = r.body["token"]["user"]["id"].as_str().unwrap().to_string();
    let project = r.body["token"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for r in sim.regions() {
        let body = json!({"pod": {"region_name": r.name, "az_name": r.az, "auth_url": r.identity_url,
            "credentials": {"username": "admin", "password": ADMIN_PASSWORD, "project_name": "admin"}}});
        let resp = call(
            Method::POST,
            &format!("{}/v1.0/pods", c.url),
            Some(&admin),
            Some(body),
            &[],
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
    }
    let e = Env {
        c,
        sim,
        admin,
        user_id,
        project,
    };
    assert!(
        eventually(Duration::from_secs(20), || async {
            let r = call(
                Method::GET,
                &format!("{}/v1.0/pods", e.c.url),
                Some(&e.admin),
                None,
                &[],
            )
            .await;
            r.body["pods"]
                .as_array()
                .is_some_and(|p| p.len() == 2 && p.iter().all(|p| p["state"] == "up"))
        })
        .await
    );
    e
}

async fn nova(e: &Env, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    call(
        method,
        &format!("{}/compute/v2.1{path}", e.c.url),
        Some(token),
        body,
        &[("OpenStack-API-Version", "compute 2.100")],
    )
    .await
}

async fn cinder(e: &Env, method: Method, path: &str, body: Option<Value>) -> Reply {
    call(
        method,
        &format!("{}/volume/v3/{}{path}", e.c.url, e.project),
        Some(&e.admin),
        body,
        &[("OpenStack-API-Version", "volume 3.71")],
    )
    .await
}

/// A flavor (id 42) and a public image; returns the image id.
async fn flavor_and_image(e: &Env) -> String {
    let r = nova(
        e,
        Method::POST,
        "/flavors",
        &e.admin,
        Some(json!({"flavor": {"name": "m1.test", "id": "42", "vcpus": 1, "ram": 256, "disk": 1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(Method::POST, &format!("{}/image/v2/images", e.c.url), Some(&e.admin),
        Some(json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "visibility": "public"})), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let up = reqwest::Client::new()
        .put(format!("{}/image/v2/images/{id}/file", e.c.url))
        .header("x-auth-token", &e.admin)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 16 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 204);
    id
}

async fn boot(e: &Env, token: &str, image: &str, az: &str, key: Option<&str>) -> String {
    let mut server = json!({"name": "vm", "flavorRef": "42", "imageRef": image,
        "networks": "none", "availability_zone": az});
    if let Some(k) = key {
        server["key_name"] = json!(k);
    }
    let r = nova(
        e,
        Method::POST,
        "/servers",
        token,
        Some(json!({"server": server})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.body["server"]["id"].as_str().unwrap().to_string()
}

async fn server(e: &Env, token: &str, id: &str) -> Value {
    nova(e, Method::GET, &format!("/servers/{id}"), token, None)
        .await
        .body["server"]
        .clone()
}

async fn wait_server(e: &Env, id: &str, want: &str) {
    assert!(
        eventually(Duration::from_secs(30), || async {
            server(e, &e.admin, id).await["status"] == want
        })
        .await,
        "server {id} never reached {want}: {}",
        server(e, &e.admin, id).await
    );
}

/// A call straight to a simulated region, as Cascade's admin.
async fn pod_call(e: &Env, method: Method, url: String, body: Option<Value>, mv: &str) -> Reply {
    let (k, v) = mv.split_once(' ').unwrap();
    let h = if k == "compute" {
        ("OpenStack-API-Version", format!("compute {v}"))
    } else {
        ("OpenStack-API-Version", format!("volume {v}"))
    };
    call(method, &url, Some(&e.admin), body, &[(h.0, h.1.as_str())]).await
}

async fn pod_keypair(e: &Env, region: &str, name: &str) -> Reply {
    let info = e.sim.region(region).unwrap();
    pod_call(
        e,
        Method::GET,
        format!(
            "{}/os-keypairs/{name}?user_id={}",
            info.compute_url, e.user_id
        ),
        None,
        "compute 2.10",
    )
    .await
}

#[tokio::test]
async fn keypair_delete_reaches_the_pods() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let image = flavor_and_image(&e).await;
    let import = |key: &'static str| {
        let e = &e;
        async move {
            let r = nova(
                e,
                Method::POST,
                "/os-keypairs",
                &e.admin,
                Some(json!({"keypair": {"name": "k", "public_key": key}})),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
    };
    import(KEY1).await;
    let first = boot(&e, &e.admin, &image, "az1", Some("k")).await;
    wait_server(&e, &first, "ACTIVE").await;
    let r = pod_keypair(&e, "Pod1", "k").await;
    assert_eq!(r.body["keypair"]["public_key"], KEY1, "{}", r.text);

    let r = nova(&e, Method::DELETE, "/os-keypairs/k", &e.admin, None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The pod's copy goes too.
    assert!(
        eventually(Duration::from_secs(20), || async {
            pod_keypair(&e, "Pod1", "k").await.status == 404
        })
        .await,
        "the pod kept the deleted keypair"
    );

    // Re-imported under the same name with another key: new servers get the new key.
    import(KEY2).await;
    let second = boot(&e, &e.admin, &image, "az1", Some("k")).await;
    wait_server(&e, &second, "ACTIVE").await;
    let r = pod_keypair(&e, "Pod1", "k").await;
    assert_eq!(r.body["keypair"]["public_key"], KEY2, "{}", r.text);
    db.cleanup().await;
}

#[tokio::test]
async fn a_stale_pod_copy_of_a_keypair_is_replaced() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let image = flavor_and_image(&e).await;
    let r = nova(
        &e,
        Method::POST,
        "/os-keypairs",
        &e.admin,
        Some(json!({"keypair": {"name": "s", "public_key": KEY2}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The pod already holds another key under that name (left from before).
    let info = e.sim.region("Pod2").unwrap();
    let r = pod_call(
        &e,
        Method::POST,
        format!("{}/os-keypairs", info.compute_url),
        Some(json!({"keypair": {"name": "s", "public_key": KEY1}})),
        "compute 2.10",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = boot(&e, &e.admin, &image, "az2", Some("s")).await;
    wait_server(&e, &id, "ACTIVE").await;
    let r = pod_keypair(&e, "Pod2", "s").await;
    assert_eq!(r.body["keypair"]["public_key"], KEY2, "{}", r.text);
    db.cleanup().await;
}

#[tokio::test]
async fn watchers_never_adopt_a_claimant() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let image = flavor_and_image(&e).await;
    let top = boot(&e, &e.admin, &image, "az1", None).await;
    wait_server(&e, &top, "ACTIVE").await;
    let vol = cinder(
        &e,
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 1, "availability_zone": "az1"}})),
    )
    .await;
    assert_eq!(vol.status, 202, "{}", vol.text);
    let vol = vol.body["volume"]["id"].as_str().unwrap().to_string();
    assert!(
        eventually(Duration::from_secs(30), || async {
            cinder(&e, Method::GET, &format!("/volumes/{vol}"), None)
                .await
                .body["volume"]["status"]
                == "available"
        })
        .await
    );

    // Impostors in Pod1 claiming the top ids: a server that goes to ERROR, a bigger volume.
    let info = e.sim.region("Pod1").unwrap();
    let bottoms = pod_call(
        &e,
        Method::GET,
        format!("{}/servers/detail?all_tenants=1", info.compute_url),
        None,
        "compute 2.73",
    )
    .await;
    let routed = bottoms.body["servers"][0].clone();
    let bottom_image = routed["image"]["id"].as_str().unwrap().to_string();
    e.sim
        .set_faults(
            "Pod1",
            FaultSpec {
                capacity_exhausted: true,
                ..FaultSpec::default()
            },
        )
        .await
        .unwrap();
    let r = pod_call(
        &e,
        Method::POST,
        format!("{}/servers", info.compute_url),
        Some(
            json!({"server": {"name": format!("impostor@{top}"), "flavorRef": "42",
            "imageRef": bottom_image, "networks": "none",
            "metadata": {"cascade_top_id": top}}}),
        ),
        "compute 2.73",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = pod_call(
        &e,
        Method::POST,
        format!("{}/{}/volumes", info.volume_url, e.project),
        Some(
            json!({"volume": {"size": 3, "name": format!("impostor@{vol}"),
            "metadata": {"cascade_top_id": vol}}}),
        ),
        "volume 3.71",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    tokio::time::sleep(Duration::from_secs(1)).await;
    e.sim.clear_faults("Pod1").await.unwrap();

    // The indexes (lists never call pods) keep the routed resources' state.
    for _ in 0..40 {
        let list = nova(&e, Method::GET, "/servers/detail", &e.admin, None).await;
        let s = list.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == top.as_str())
            .cloned()
            .unwrap();
        assert_eq!(s["status"], "ACTIVE", "a claimant was adopted: {s}");
        let list = cinder(&e, Method::GET, "/volumes/detail", None).await;
        let v = list.body["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == vol.as_str())
            .cloned()
            .unwrap();
        assert_eq!(v["size"], 1, "a claimant was adopted: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    db.cleanup().await;
}

#[tokio::test]
async fn an_empty_pod_list_never_deletes_volumes() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = cinder(
            &e,
            Method::POST,
            "/volumes",
            Some(json!({"volume": {"size": 1, "availability_zone": "az1"}})),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text);
        ids.push(r.body["volume"]["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        assert!(
            eventually(Duration::from_secs(30), || async {
                cinder(&e, Method::GET, &format!("/volumes/{id}"), None)
                    .await
                    .body["volume"]["status"]
                    == "available"
            })
            .await
        );
    }
    // The second volume really goes, behind Cascade's back; then Pod1 lists nothing.
    let info = e.sim.region("Pod1").unwrap();
    let bottoms = pod_call(
        &e,
        Method::GET,
        format!(
            "{}/{}/volumes/detail?all_tenants=1",
            info.volume_url, e.project
        ),
        None,
        "volume 3.71",
    )
    .await;
    let gone = bottoms.body["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["metadata"]["cascade_top_id"] == ids[1].as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = pod_call(
        &e,
        Method::DELETE,
        format!("{}/{}/volumes/{gone}", info.volume_url, e.project),
        None,
        "volume 3.71",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    e.sim
        .set_faults(
            "Pod1",
            FaultSpec {
                empty_lists: true,
                ..FaultSpec::default()
            },
        )
        .await
        .unwrap();
    let listed = |id: String| {
        let e = &e;
        async move {
            cinder(e, Method::GET, "/volumes/detail", None).await.body["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["id"] == id.as_str())
        }
    };
    // The sweep (every 15 watch rounds, for volumes older than 30 s) confirms each missing
    // volume by id: the deleted one leaves the index, the other stays.
    assert!(
        eventually(Duration::from_secs(120), || async {
            !listed(ids[1].clone()).await
        })
        .await,
        "the sweep never removed the volume deleted in the pod"
    );
    assert!(
        listed(ids[0].clone()).await,
        "an empty pod list deleted a volume"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn pod_internals_never_reach_a_tenant() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let image = flavor_and_image(&e).await;
    // A tenant: eve, member of "other".
    let tenant = support::tenant(&e.c.url, &e.admin, "other", "eve", Some("member"))
        .await
        .token;
    let leaks = |text: &str| -> Vec<&'static str> {
        [
            "127.0.0.1",
            "http://",
            "Pod1",
            "Pod2",
            "pod answered",
            "error sending",
        ]
        .into_iter()
        .filter(|needle| text.contains(needle))
        .collect()
    };

    // Pod1 refuses every server create: the build fails for good.
    e.sim
        .set_faults(
            "Pod1",
            FaultSpec::error_rate("/compute/v2.1/servers", 1.0, 400),
        )
        .await
        .unwrap();
    let failed = boot(&e, &tenant, &image, "az1", None).await;
    wait_server(&e, &failed, "ERROR").await;
    let s = server(&e, &tenant, &failed).await;
    let fault = s["fault"].clone();
    assert_eq!(fault["code"], 500, "{s}");
    assert!(fault.get("details").is_none(), "{fault}");
    assert!(
        leaks(&fault.to_string()).is_empty(),
        "tenant fault leaks: {fault}"
    );
    let admin_view = server(&e, &e.admin, &failed).await;
    let details = admin_view["fault"]["details"].as_str().unwrap_or_default();
    assert!(
        details.contains("400"),
        "admins see the pod's answer: {admin_view}"
    );

    // A server in Pod2, then Pod2 goes away: the tenant's action fails without naming it.
    let ok = boot(&e, &tenant, &image, "az2", None).await;
    wait_server(&e, &ok, "ACTIVE").await;
    e.sim.set_faults("Pod2", FaultSpec::down()).await.unwrap();
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{ok}/action"),
        &tenant,
        Some(json!({"reboot": {"type": "SOFT"}})),
    )
    .await;
    assert!(r.status >= 400, "{}", r.text);
    assert!(leaks(&r.text).is_empty(), "tenant error leaks: {}", r.text);
    // And a pod failing with 5xx.
    e.sim
        .set_faults("Pod2", FaultSpec::error_rate("/compute", 1.0, 500))
        .await
        .unwrap();
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{ok}/action"),
        &tenant,
        Some(json!({"reboot": {"type": "SOFT"}})),
    )
    .await;
    assert!(r.status >= 400, "{}", r.text);
    assert!(leaks(&r.text).is_empty(), "tenant error leaks: {}", r.text);
    db.cleanup().await;
}
