//! Compute across pods through a real `cascade serve` process in front of three simulated
//! regions: microversions, flavors, keypairs, the build saga (the bottom server carries the top
//! id), scheduling by AZ, paging across pods, actions, down-pod answers at 2.69, deletes, bad
//! input, and recovery after `kill -9` in the middle of a batch of creates.

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
    pods: Vec<(String, String)>,
}

async fn env(db: &Db) -> Env {
    env_with(db, CONFIG, 0, Duration::from_millis(300)).await
}

/// Cascade on `port` (0: any) with `config`, and three simulated pods registered and up.
async fn env_with(db: &Db, config: &str, port: u16, build_time: Duration) -> Env {
    let c = Cascade::start_on(db, config, port).await;
    let regions = (1..=3)
        .map(|i| {
            let mut r = RegionSpec::new(format!("Pod{i}"), format!("az{i}")).instant();
            r.build_time = build_time;
            r
        })
        .collect();
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), regions))
        .await
        .unwrap();
    let admin = admin_token(&c.url).await;
    let mut pods = Vec::new();
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
        pods.push((
            r.name.clone(),
            resp.body["pod"]["pod_id"].as_str().unwrap().to_string(),
        ));
    }
    let url = c.url.clone();
    let t = admin.clone();
    assert!(
        eventually(Duration::from_secs(20), || {
            let (url, t) = (url.clone(), t.clone());
            async move {
                let r = call(
                    Method::GET,
                    &format!("{url}/v1.0/pods"),
                    Some(&t),
                    None,
                    &[],
                )
                .await;
                r.body["pods"]
                    .as_array()
                    .is_some_and(|p| p.len() == 3 && p.iter().all(|p| p["state"] == "up"))
            }
        })
        .await
    );
    Env {
        c,
        sim,
        admin,
        pods,
    }
}

fn mv(v: &str) -> [(&'static str, String); 1] {
    [("OpenStack-API-Version", format!("compute {v}"))]
}

async fn nova(
    e: &Env,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    version: &str,
) -> Reply {
    let h = mv(version);
    let headers: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    call(
        method,
        &format!("{}/compute/v2.1{path}", e.c.url),
        Some(token),
        body,
        &headers,
    )
    .await
}

/// Uploads a small image through Cascade's Glance and returns its id.
async fn image(e: &Env, token: &str) -> String {
    let r = call(Method::POST, &format!("{}/image/v2/images", e.c.url), Some(token),
        Some(json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "visibility": "public"})), &[]).await;
    assert_eq!(r.status, 201, "image create: {}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let client = reqwest::Client::new();
    let up = client
        .put(format!("{}/image/v2/images/{id}/file", e.c.url))
        .header("x-auth-token", token)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(
        up.status().as_u16(),
        204,
        "{}",
        up.text().await.unwrap_or_default()
    );
    id
}

async fn flavor(e: &Env) {
    let r = nova(
        e,
        Method::POST,
        "/flavors",
        &e.admin,
        Some(json!({"flavor": {"name": "m1.test", "id": "42", "vcpus": 1, "ram": 256, "disk": 1}})),
        "2.61",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn boot(e: &Env, token: &str, name: &str, image: &str, az: Option<&str>) -> String {
    let mut server =
        json!({"name": name, "flavorRef": "42", "imageRef": image, "networks": "none"});
    if let Some(az) = az {
        server["availability_zone"] = json!(az);
    }
    let r = nova(
        e,
        Method::POST,
        "/servers",
        token,
        Some(json!({"server": server})),
        "2.100",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.body["server"]["id"].as_str().unwrap().to_string()
}

async fn status_of(e: &Env, token: &str, id: &str, version: &str) -> Value {
    nova(
        e,
        Method::GET,
        &format!("/servers/{id}"),
        token,
        None,
        version,
    )
    .await
    .body["server"]
        .clone()
}

async fn wait_status(e: &Env, token: &str, id: &str, want: &str) -> bool {
    eventually(Duration::from_secs(30), || async {
        status_of(e, token, id, "2.100").await["status"] == want
    })
    .await
}

async fn bottom_servers(e: &Env, region: &str, token: &str) -> Vec<Value> {
    let info = e.sim.region(region).unwrap();
    let r = call(
        Method::GET,
        &format!("{}/servers/detail?all_tenants=1", info.compute_url),
        Some(token),
        None,
        &[],
    )
    .await;
    r.body["servers"].as_array().cloned().unwrap_or_default()
}

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { let db = super::Db::sqlite(); super::$case(&db).await; db.cleanup().await; } )* }
        mod postgres { $( #[tokio::test] async fn $case() { let db = super::Db::postgres(); super::$case(&db).await; db.cleanup().await; } )* }
    };
}

both_backends!(servers_across_pods);

async fn servers_across_pods(db: &Db) {
    let e = env(db).await;
    // Version discovery and microversions.
    let r = call(
        Method::GET,
        &format!("{}/compute/v2.1", e.c.url),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["version"]["version"], "2.100");
    assert_eq!(r.body["version"]["min_version"], "2.1");
    let r = nova(&e, Method::GET, "/flavors", &e.admin, None, "2.101").await;
    assert_eq!(r.status, 406);
    let r = nova(&e, Method::GET, "/flavors", &e.admin, None, "2.x").await;
    assert_eq!(r.status, 400);
    let r = nova(&e, Method::GET, "/flavors", &e.admin, None, "2.60").await;
    assert_eq!(r.headers["openstack-api-version"], "compute 2.60");
    assert_eq!(r.headers["x-openstack-nova-api-version"], "2.60");
    assert!(r.headers.contains_key("x-compute-request-id"));

    flavor(&e).await;
    let image = image(&e, &e.admin).await;
    let r = nova(
        &e,
        Method::GET,
        "/flavors/detail?is_public=None",
        &e.admin,
        None,
        "2.61",
    )
    .await;
    assert!(
        r.body["flavors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "42" && f["extra_specs"] == json!({}))
    );

    // Boot into az2: the bottom server lives in Pod2 and carries the top id.
    let id = boot(&e, &e.admin, "vm1", &image, Some("az2")).await;
    let s = status_of(&e, &e.admin, &id, "2.100").await;
    assert!(
        matches!(s["status"].as_str(), Some("BUILD") | Some("ACTIVE")),
        "{s}"
    );
    assert!(
        wait_status(&e, &e.admin, &id, "ACTIVE").await,
        "server never became ACTIVE"
    );
    let s = status_of(&e, &e.admin, &id, "2.100").await;
    assert_eq!(s["OS-EXT-AZ:availability_zone"], "az2");
    assert_eq!(s["flavor"]["original_name"], "m1.test");
    assert_eq!(s["OS-EXT-STS:vm_state"], "active");
    let bottoms = bottom_servers(&e, "Pod2", &e.admin).await;
    let twin = bottoms
        .iter()
        .find(|b| b["name"] == format!("vm1@{id}"))
        .expect("bottom server in Pod2");
    assert_eq!(twin["metadata"]["cascade_top_id"], id.as_str());
    assert!(bottom_servers(&e, "Pod1", &e.admin).await.is_empty());
    let r = call(
        Method::GET,
        &format!("{}/v1.0/routings?top_id={id}&resource_type=server", e.c.url),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["routings"][0]["bottom_id"], twin["id"]);
    assert_eq!(r.body["routings"][0]["pod_id"], e.pods[1].1.as_str());

    // More servers, spread over the AZs; paging walks each exactly once.
    let mut ids = vec![id.clone()];
    for (i, az) in ["az1", "az3", "az1", "az3"].iter().enumerate() {
        ids.push(boot(&e, &e.admin, &format!("vm{}", i + 2), &image, Some(az)).await);
    }
    let mut seen = Vec::new();
    let mut next = Some(format!("{}/compute/v2.1/servers?limit=2", e.c.url));
    while let Some(url) = next {
        let r = call(Method::GET, &url, Some(&e.admin), None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(
            r.body["servers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string()),
        );
        next = r.body["servers_links"][0]["href"]
            .as_str()
            .map(str::to_string);
    }
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    assert_eq!(sorted_seen, sorted_ids, "every server exactly once");
    assert_eq!(seen.first(), ids.last(), "newest first");
    let r = nova(
        &e,
        Method::GET,
        "/servers/detail?name=%5Evm%5B23%5D%24",
        &e.admin,
        None,
        "2.100",
    )
    .await;
    assert_eq!(
        r.body["servers"].as_array().unwrap().len(),
        2,
        "name is a regex"
    );
    let r = nova(
        &e,
        Method::GET,
        "/servers?marker=nope",
        &e.admin,
        None,
        "2.100",
    )
    .await;
    assert_eq!(r.status, 400);
    for id in &ids {
        assert!(wait_status(&e, &e.admin, id, "ACTIVE").await);
    }

    // Actions change state in the pod.
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        &e.admin,
        Some(json!({"os-stop": null})),
        "2.100",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(wait_status(&e, &e.admin, &id, "SHUTOFF").await);
    let twin = bottom_servers(&e, "Pod2", &e.admin)
        .await
        .into_iter()
        .find(|b| b["name"] == format!("vm1@{id}"))
        .unwrap();
    assert_eq!(twin["status"], "SHUTOFF");
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        &e.admin,
        Some(json!({"os-stop": null})),
        "2.100",
    )
    .await;
    assert_eq!(r.status, 409, "already stopped: {}", r.text);
    assert!(
        r.text.contains(&id) && !r.text.contains(twin["id"].as_str().unwrap()),
        "the pod's id never leaks: {}",
        r.text
    );
    nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        &e.admin,
        Some(json!({"os-start": null})),
        "2.100",
    )
    .await;
    assert!(wait_status(&e, &e.admin, &id, "ACTIVE").await);

    // Pod3 goes down: its servers are UNKNOWN at 2.69, skipped below; others stay usable.
    let in_az3 = ids[2].clone();
    e.sim.set_down("Pod3", true).await.unwrap();
    let url = e.c.url.clone();
    let t = e.admin.clone();
    let pod3 = e.pods[2].1.clone();
    assert!(
        eventually(Duration::from_secs(20), || {
            let (url, t, pod3) = (url.clone(), t.clone(), pod3.clone());
            async move {
                call(
                    Method::GET,
                    &format!("{url}/v1.0/pods/{pod3}"),
                    Some(&t),
                    None,
                    &[],
                )
                .await
                .body["pod"]["state"]
                    == "down"
            }
        })
        .await
    );
    let s = status_of(&e, &e.admin, &in_az3, "2.69").await;
    assert_eq!(s["status"], "UNKNOWN");
    assert_eq!(s["OS-EXT-AZ:availability_zone"], "az3");
    assert_eq!(s["OS-EXT-STS:power_state"], 0);
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{in_az3}"),
        &e.admin,
        None,
        "2.68",
    )
    .await;
    assert_eq!(r.status, 503);
    let r = nova(&e, Method::GET, "/servers/detail", &e.admin, None, "2.69").await;
    let unknown: Vec<_> = r.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "UNKNOWN")
        .collect();
    assert_eq!(unknown.len(), 2, "the two az3 servers");
    let r = nova(&e, Method::GET, "/servers/detail", &e.admin, None, "2.68").await;
    assert_eq!(
        r.body["servers"].as_array().unwrap().len(),
        3,
        "skipped below 2.69"
    );
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        &e.admin,
        Some(json!({"reboot": {"type": "SOFT"}})),
        "2.100",
    )
    .await;
    assert_eq!(
        r.status, 202,
        "a server in another pod stays manageable: {}",
        r.text
    );
    let r = nova(&e, Method::POST, "/servers", &e.admin, Some(json!({"server": {"name": "x", "flavorRef": "42", "imageRef": image, "networks": "none", "availability_zone": "az3"}})), "2.100").await;
    let x = r.body["server"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        status_of(&e, &e.admin, &x, "2.100").await["status"],
        "ERROR",
        "no usable pod in az3"
    );
    e.sim.set_down("Pod3", false).await.unwrap();

    // Bad input.
    let bad = |body: Value| nova(&e, Method::POST, "/servers", &e.admin, Some(body), "2.100");
    let r = bad(json!({"server": {"name": "b", "flavorRef": "nope", "imageRef": image, "networks": "none"}})).await;
    assert_eq!(
        (r.status, r.body["badRequest"]["message"].as_str()),
        (400, Some("Flavor nope could not be found."))
    );
    let r = bad(json!({"server": {"name": "b", "flavorRef": "42", "imageRef": image, "networks": "none", "availability_zone": "nowhere"}})).await;
    assert_eq!(r.status, 400);
    let r = bad(json!({"server": {"name": "b", "flavorRef": "42", "imageRef": "00000000-0000-0000-0000-000000000000", "networks": "none"}})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = bad(json!({"server": {"name": "b", "flavorRef": "42", "imageRef": image}})).await;
    assert_eq!(r.status, 400, "networks required at 2.37+");
    let r = bad(json!({"server": {"name": "b", "flavorRef": "42", "imageRef": image, "networks": "none", "bogus": 1}})).await;
    assert_eq!(r.status, 400);
    let r = nova(
        &e,
        Method::GET,
        "/servers/00000000-0000-0000-0000-000000000000",
        &e.admin,
        None,
        "2.100",
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["itemNotFound"]["code"], 404);

    // Another project's user sees nothing of ours.
    let v3 = format!("{}/identity/v3", e.c.url);
    let r = call(
        Method::POST,
        &format!("{v3}/projects"),
        Some(&e.admin),
        Some(json!({"project": {"name": "other"}})),
        &[],
    )
    .await;
    let other = r.body["project"]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::POST,
        &format!("{v3}/users"),
        Some(&e.admin),
        Some(json!({"user": {"name": "eve", "password": "pw", "default_project_id": other}})),
        &[],
    )
    .await;
    let eve = r.body["user"]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::GET,
        &format!("{v3}/roles?name=member"),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    let member = r.body["roles"][0]["id"].as_str().unwrap().to_string();
    call(
        Method::PUT,
        &format!("{v3}/projects/{other}/users/{eve}/roles/{member}"),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    let (eve_token, _) = token(&e.c.url, "eve", "pw", Some("other")).await;
    assert_eq!(
        nova(
            &e,
            Method::GET,
            &format!("/servers/{id}"),
            &eve_token,
            None,
            "2.100"
        )
        .await
        .status,
        404
    );
    assert_eq!(
        nova(
            &e,
            Method::DELETE,
            &format!("/servers/{id}"),
            &eve_token,
            None,
            "2.100"
        )
        .await
        .status,
        404
    );
    let r = nova(
        &e,
        Method::GET,
        "/servers/detail?all_tenants=1",
        &eve_token,
        None,
        "2.100",
    )
    .await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 0);
    // Eve boots her own server as a member: it belongs to her project in the pod.
    let mine = boot(&e, &eve_token, "eve-vm", &image, Some("az1")).await;
    assert!(wait_status(&e, &eve_token, &mine, "ACTIVE").await);
    let twin = bottom_servers(&e, "Pod1", &e.admin)
        .await
        .into_iter()
        .find(|b| b["name"] == format!("eve-vm@{mine}"))
        .unwrap();
    assert_eq!(twin["tenant_id"], other.as_str());
    // Quota: eve may have 2 instances.
    let r = nova(
        &e,
        Method::PUT,
        &format!("/os-quota-sets/{other}"),
        &e.admin,
        Some(json!({"quota_set": {"instances": 1}})),
        "2.56",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = nova(&e, Method::POST, "/servers", &eve_token, Some(json!({"server": {"name": "too-many", "flavorRef": "42", "imageRef": image, "networks": "none"}})), "2.100").await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(
        r.body["forbidden"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Quota exceeded for instances")
    );

    // Delete: gone at the top and in the pod.
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/servers/{id}"),
        &e.admin,
        None,
        "2.100",
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(
        eventually(Duration::from_secs(20), || async {
            nova(
                &e,
                Method::GET,
                &format!("/servers/{id}"),
                &e.admin,
                None,
                "2.100",
            )
            .await
            .status
                == 404
        })
        .await
    );
    assert!(
        bottom_servers(&e, "Pod2", &e.admin)
            .await
            .iter()
            .all(|b| b["name"] != format!("vm1@{id}"))
    );
    let r = call(
        Method::GET,
        &format!("{}/v1.0/routings?top_id={id}&resource_type=server", e.c.url),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert!(
        r.body["routings"].as_array().unwrap().is_empty(),
        "routing forgotten"
    );

    // AZ list and limits.
    let r = nova(
        &e,
        Method::GET,
        "/os-availability-zone",
        &e.admin,
        None,
        "2.100",
    )
    .await;
    let zones: Vec<_> = r.body["availabilityZoneInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["zoneName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(zones, ["az1", "az2", "az3"]);
    let r = nova(&e, Method::GET, "/limits", &eve_token, None, "2.100").await;
    assert_eq!(r.body["limits"]["absolute"]["totalInstancesUsed"], 1);
    e.sim.shutdown().await;
}

/// `kill -9` in the middle of a batch of creates, then a restart on the same database: every
/// server ends ACTIVE or ERROR, and no bottom server exists without its top server.
#[tokio::test]
async fn crash_during_creates_converges() {
    let db = Db::sqlite();
    let port = free_port();
    // A short job lease, so the dead process's jobs are taken over quickly.
    let config = format!("{CONFIG}[jobs]\nlease_secs = 3\n");
    let e = env_with(&db, &config, port, Duration::from_secs(3)).await;
    flavor(&e).await;
    let image = image(&e, &e.admin).await;
    let mut accepted = Vec::new();
    for i in 0..8 {
        accepted.push(
            boot(
                &e,
                &e.admin,
                &format!("crash{i}"),
                &image,
                Some(["az1", "az2", "az3"][i % 3]),
            )
            .await,
        );
    }
    // Die mid-flight, without any clean-up, while builds are still running.
    let mut building = 0;
    for id in &accepted {
        if status_of(&e, &e.admin, id, "2.100").await["status"] == "BUILD" {
            building += 1;
        }
    }
    assert!(building > 0, "the crash must interrupt builds");
    let Env { mut c, sim, .. } = e;
    c.kill9();
    drop(c);
    let c = Cascade::start_on(&db, &config, port).await;
    let admin = admin_token(&c.url).await;
    let e = Env {
        c,
        sim,
        admin,
        pods: Vec::new(),
    };
    for id in &accepted {
        let done = eventually(Duration::from_secs(60), || async {
            matches!(
                status_of(&e, &e.admin, id, "2.100").await["status"].as_str(),
                Some("ACTIVE") | Some("ERROR")
            )
        })
        .await;
        assert!(
            done,
            "server {id} never settled: {}",
            status_of(&e, &e.admin, id, "2.100").await
        );
    }
    let r = nova(
        &e,
        Method::GET,
        "/servers/detail?all_tenants=1",
        &e.admin,
        None,
        "2.100",
    )
    .await;
    let tops: Vec<String> = r.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tops.len(), accepted.len());
    for region in ["Pod1", "Pod2", "Pod3"] {
        for b in bottom_servers(&e, region, &e.admin).await {
            let top = b["name"]
                .as_str()
                .and_then(|n| n.rsplit_once('@'))
                .map(|(_, t)| t.to_string())
                .unwrap_or_default();
            assert!(
                tops.contains(&top),
                "orphan bottom server {} in {region}",
                b["name"]
            );
        }
    }
    e.sim.shutdown().await;
    drop(e.c);
    db.cleanup().await;
}

/// Keypairs copied to the pod, anti-affinity across pods, capability scheduling, metadata and
/// tags, snapshots adopted at the top, security groups through the central Neutron, usage.
#[tokio::test]
async fn server_features_across_pods() {
    let db = Db::sqlite();
    let e = env(&db).await;
    flavor(&e).await;
    let image = image(&e, &e.admin).await;

    // Keypair: imported at the top, copied to the pod at boot under the same name.
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbLZ8yQ0Z5cR6F0k6x4F7pX8mH8N1rSxYb0tT2nB1Qm test";
    let r = nova(
        &e,
        Method::POST,
        "/os-keypairs",
        &e.admin,
        Some(json!({"keypair": {"name": "k1", "public_key": key}})),
        "2.92",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["keypair"]["fingerprint"]
            .as_str()
            .unwrap()
            .split(':')
            .count(),
        16
    );
    let r = nova(
        &e,
        Method::POST,
        "/os-keypairs",
        &e.admin,
        Some(json!({"keypair": {"name": "k1", "public_key": key}})),
        "2.92",
    )
    .await;
    assert_eq!(r.status, 409);
    let r = nova(&e, Method::POST, "/servers", &e.admin, Some(json!({"server": {"name": "kv", "flavorRef": "42", "imageRef": image, "networks": "none", "key_name": "k1", "availability_zone": "az1", "metadata": {"role": "db"}}})), "2.100").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let kv = r.body["server"]["id"].as_str().unwrap().to_string();
    assert!(wait_status(&e, &e.admin, &kv, "ACTIVE").await);
    let info = e.sim.region("Pod1").unwrap();
    let r = call(
        Method::GET,
        &format!("{}/os-keypairs/k1", info.compute_url),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "keypair copied into Pod1: {}", r.text);
    let r = nova(&e, Method::POST, "/servers", &e.admin, Some(json!({"server": {"name": "x", "flavorRef": "42", "imageRef": image, "networks": "none", "key_name": "nope"}})), "2.100").await;
    assert_eq!(r.status, 400);

    // Metadata is copied to the bottom server; tags at 2.26+.
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{kv}/metadata"),
        &e.admin,
        Some(json!({"metadata": {"tier": "gold"}})),
        "2.100",
    )
    .await;
    assert_eq!(r.body["metadata"], json!({"role": "db", "tier": "gold"}));
    let synced = eventually(Duration::from_secs(10), || async {
        bottom_servers(&e, "Pod1", &e.admin).await.iter().any(|b| {
            b["metadata"]["tier"] == "gold" && b["metadata"]["cascade_top_id"] == kv.as_str()
        })
    })
    .await;
    assert!(synced, "metadata reached the pod");
    assert_eq!(
        nova(
            &e,
            Method::PUT,
            &format!("/servers/{kv}/tags/blue"),
            &e.admin,
            None,
            "2.26"
        )
        .await
        .status,
        201
    );
    assert_eq!(
        nova(
            &e,
            Method::GET,
            &format!("/servers/{kv}/tags"),
            &e.admin,
            None,
            "2.26"
        )
        .await
        .body["tags"],
        json!(["blue"])
    );
    assert_eq!(
        nova(
            &e,
            Method::GET,
            &format!("/servers/{kv}/tags"),
            &e.admin,
            None,
            "2.25"
        )
        .await
        .status,
        404
    );
    let r = nova(
        &e,
        Method::GET,
        "/servers?tags=blue",
        &e.admin,
        None,
        "2.26",
    )
    .await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 1);

    // Snapshot: made in the pod, adopted at the top under the id answered.
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{kv}/action"),
        &e.admin,
        Some(json!({"createImage": {"name": "snap1"}})),
        "2.45",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let snap = r.body["image_id"].as_str().unwrap().to_string();
    let adopted = eventually(Duration::from_secs(20), || async {
        let r = call(
            Method::GET,
            &format!("{}/image/v2/images/{snap}", e.c.url),
            Some(&e.admin),
            None,
            &[],
        )
        .await;
        r.status == 200 && r.body["status"] == "active" && r.body["name"] == "snap1"
    })
    .await;
    assert!(adopted, "snapshot adopted at the top");

    // Anti-affinity: each member in a different pod; a fourth cannot be placed.
    let r = nova(
        &e,
        Method::POST,
        "/os-server-groups",
        &e.admin,
        Some(json!({"server_group": {"name": "spread", "policy": "anti-affinity"}})),
        "2.64",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let group = r.body["server_group"]["id"].as_str().unwrap().to_string();
    let mut azs = Vec::new();
    for i in 0..3 {
        let r = nova(&e, Method::POST, "/servers", &e.admin, Some(json!({"server": {"name": format!("aa{i}"), "flavorRef": "42", "imageRef": image, "networks": "none"}, "os:scheduler_hints": {"group": group}})), "2.100").await;
        assert_eq!(r.status, 202, "{}", r.text);
        let id = r.body["server"]["id"].as_str().unwrap().to_string();
        azs.push(
            status_of(&e, &e.admin, &id, "2.100").await["OS-EXT-AZ:availability_zone"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    azs.sort();
    assert_eq!(azs, ["az1", "az2", "az3"], "one per pod");
    let r = nova(&e, Method::POST, "/servers", &e.admin, Some(json!({"server": {"name": "aa4", "flavorRef": "42", "imageRef": image, "networks": "none"}, "os:scheduler_hints": {"group": group}})), "2.100").await;
    let fourth = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = status_of(&e, &e.admin, &fourth, "2.100").await;
    assert_eq!(s["status"], "ERROR");
    assert!(
        s["fault"]["message"]
            .as_str()
            .unwrap()
            .starts_with("No valid host")
    );
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-server-groups/{group}"),
        &e.admin,
        None,
        "2.64",
    )
    .await;
    assert_eq!(
        r.body["server_group"]["members"].as_array().unwrap().len(),
        4
    );

    // Capabilities: only Pod2 has a GPU.
    let r = call(
        Method::PUT,
        &format!("{}/v1.0/pods/{}", e.c.url, e.pods[1].1),
        Some(&e.admin),
        Some(json!({"pod": {"capabilities": {"gpu": "true"}}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = nova(
        &e,
        Method::POST,
        "/flavors",
        &e.admin,
        Some(json!({"flavor": {"name": "g1", "id": "gpu1", "vcpus": 1, "ram": 256, "disk": 1}})),
        "2.61",
    )
    .await;
    assert_eq!(r.status, 200);
    let r = nova(
        &e,
        Method::POST,
        "/flavors/gpu1/os-extra_specs",
        &e.admin,
        Some(json!({"extra_specs": {"capabilities:gpu": "true"}})),
        "2.61",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for i in 0..2 {
        let r = nova(&e, Method::POST, "/servers", &e.admin, Some(json!({"server": {"name": format!("g{i}"), "flavorRef": "gpu1", "imageRef": image, "networks": "none"}})), "2.100").await;
        let id = r.body["server"]["id"].as_str().unwrap().to_string();
        assert_eq!(
            status_of(&e, &e.admin, &id, "2.100").await["OS-EXT-AZ:availability_zone"],
            "az2"
        );
    }

    // Security groups through the central Neutron.
    let net = call(
        Method::POST,
        &format!("{}/network/v2.0/networks", e.c.url),
        Some(&e.admin),
        Some(json!({"network": {"name": "n1"}})),
        &[],
    )
    .await;
    let net_id = net.body["network"]["id"].as_str().unwrap().to_string();
    call(
        Method::POST,
        &format!("{}/network/v2.0/subnets", e.c.url),
        Some(&e.admin),
        Some(json!({"subnet": {"network_id": net_id, "cidr": "10.7.0.0/24", "ip_version": 4}})),
        &[],
    )
    .await;
    let sg = call(
        Method::POST,
        &format!("{}/network/v2.0/security-groups", e.c.url),
        Some(&e.admin),
        Some(json!({"security_group": {"name": "web"}})),
        &[],
    )
    .await;
    let sg_id = sg.body["security_group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = nova(&e, Method::POST, "/servers", &e.admin, Some(json!({"server": {"name": "web1", "flavorRef": "42", "imageRef": image, "networks": [{"uuid": net_id}], "availability_zone": "az3"}})), "2.100").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let web1 = r.body["server"]["id"].as_str().unwrap().to_string();
    assert!(wait_status(&e, &e.admin, &web1, "ACTIVE").await);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{web1}/action"),
        &e.admin,
        Some(json!({"addSecurityGroup": {"name": "web"}})),
        "2.100",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let ports = call(
        Method::GET,
        &format!("{}/network/v2.0/ports?device_id={web1}", e.c.url),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert!(
        ports.body["ports"][0]["security_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == sg_id.as_str())
    );
    let s = status_of(&e, &e.admin, &web1, "2.100").await;
    assert!(
        s["security_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "web"),
        "{s}"
    );
    // Groups asked at create go on the new ports, instead of `default`.
    let r = nova(&e, Method::POST, "/servers", &e.admin, Some(json!({"server": {"name": "web2", "flavorRef": "42", "imageRef": image, "networks": [{"uuid": net_id}], "security_groups": [{"name": "web"}]}})), "2.100").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let web2 = r.body["server"]["id"].as_str().unwrap().to_string();
    let ports = call(
        Method::GET,
        &format!("{}/network/v2.0/ports?device_id={web2}", e.c.url),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(ports.body["ports"][0]["security_groups"], json!([sg_id]));
    let r = nova(&e, Method::POST, "/servers", &e.admin, Some(json!({"server": {"name": "web3", "flavorRef": "42", "imageRef": image, "networks": [{"uuid": net_id}], "security_groups": [{"name": "nope"}]}})), "2.100").await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{web1}/action"),
        &e.admin,
        Some(json!({"addSecurityGroup": {"name": "nope"}})),
        "2.100",
    )
    .await;
    assert_eq!(r.status, 404);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{web1}/action"),
        &e.admin,
        Some(json!({"removeSecurityGroup": {"name": "web"}})),
        "2.100",
    )
    .await;
    assert_eq!(r.status, 202);
    let ports = call(
        Method::GET,
        &format!("{}/network/v2.0/ports?device_id={web1}", e.c.url),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert!(
        !ports.body["ports"][0]["security_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == sg_id.as_str())
    );

    // Usage over all pods, from the index.
    let project = call(
        Method::GET,
        &format!("{}/identity/v3/auth/projects", e.c.url),
        Some(&e.admin),
        None,
        &[],
    )
    .await
    .body["projects"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-simple-tenant-usage/{project}"),
        &e.admin,
        None,
        "2.100",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["tenant_usage"]["server_usages"]
            .as_array()
            .unwrap()
            .len()
            >= 6
    );
    e.sim.shutdown().await;
    drop(e.c);
    db.cleanup().await;
}
