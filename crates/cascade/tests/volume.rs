//! Block storage across pods through a real `cascade serve` process in front of three simulated
//! regions: Cinder discovery and microversions, a volume created in az2 lives in Pod2 carrying
//! the top id, list paging, a volume from an image, attach to a server in the same AZ (the
//! server shows it, the pod has the attachment) and the clear 400 across AZs, boot from volume,
//! delete, the down-pod answer (that pod's volumes marked unavailable), and bad input.

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
    project: String,
    pods: Vec<(String, String)>,
}

async fn env(db: &Db) -> Env {
    let c = Cascade::start(db, CONFIG).await;
    let regions = (1..=3)
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
    let project = r.body["token"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
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
    let e = Env {
        c,
        sim,
        admin,
        project,
        pods,
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
                .is_some_and(|p| p.len() == 3 && p.iter().all(|p| p["state"] == "up"))
        })
        .await
    );
    e
}

async fn cinder(e: &Env, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    call(
        method,
        &format!("{}/volume/v3/{}{path}", e.c.url, e.project),
        Some(token),
        body,
        &[("OpenStack-API-Version", "volume 3.71")],
    )
    .await
}

async fn nova(e: &Env, method: Method, path: &str, body: Option<Value>) -> Reply {
    call(
        method,
        &format!("{}/compute/v2.1{path}", e.c.url),
        Some(&e.admin),
        body,
        &[("OpenStack-API-Version", "compute 2.100")],
    )
    .await
}

async fn volume(e: &Env, id: &str) -> Value {
    cinder(e, Method::GET, &format!("/volumes/{id}"), &e.admin, None)
        .await
        .body["volume"]
        .clone()
}

async fn wait_volume(e: &Env, id: &str, want: &str) -> bool {
    eventually(Duration::from_secs(30), || async {
        volume(e, id).await["status"] == want
    })
    .await
}

async fn create(e: &Env, body: Value) -> String {
    let r = cinder(
        e,
        Method::POST,
        "/volumes",
        &e.admin,
        Some(json!({"volume": body})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.body["volume"]["id"].as_str().unwrap().to_string()
}

async fn bottom_volumes(e: &Env, region: &str) -> Vec<Value> {
    let info = e.sim.region(region).unwrap();
    let r = call(
        Method::GET,
        &format!(
            "{}/{}/volumes/detail?all_tenants=1",
            info.volume_url, e.project
        ),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    r.body["volumes"].as_array().cloned().unwrap_or_default()
}

async fn image(e: &Env) -> String {
    let r = call(Method::POST, &format!("{}/image/v2/images", e.c.url), Some(&e.admin),
        Some(json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "visibility": "public"})), &[]).await;
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

async fn server(e: &Env, name: &str, az: &str, extra: Value) -> String {
    let mut s =
        json!({"name": name, "flavorRef": "42", "networks": "none", "availability_zone": az});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    let r = nova(e, Method::POST, "/servers", Some(json!({"server": s}))).await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.body["server"]["id"].as_str().unwrap().to_string()
}

async fn server_view(e: &Env, id: &str) -> Value {
    nova(e, Method::GET, &format!("/servers/{id}"), None)
        .await
        .body["server"]
        .clone()
}

async fn wait_server(e: &Env, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..150 {
        last = server_view(e, id).await;
        if last["status"] != "BUILD" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last
}

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { let db = super::Db::sqlite(); super::$case(&db).await; db.cleanup().await; } )* }
        mod postgres { $( #[tokio::test] async fn $case() { let db = super::Db::postgres(); super::$case(&db).await; db.cleanup().await; } )* }
    };
}

both_backends!(volumes_across_pods, bootable_flag_reaches_the_pod);

/// `os-set_bootable` by a tenant changes the pod's volume (as the owner: Cinder refuses a URL
/// project that is not the token's), and a pod's refusal is the tenant's answer.
async fn bootable_flag_reaches_the_pod(db: &Db) {
    let e = env(db).await;
    let vt = support::tenant(&e.c.url, &e.admin, "vt", "vu", Some("member")).await;
    let (project, t) = (vt.project_id, vt.token);
    let id_of = |r: &Reply, k: &str| r.body[k]["id"].as_str().unwrap().to_string();
    let tenant = |m: Method, path: &str, body: Option<Value>| {
        let url = format!("{}/volume/v3/{project}{path}", e.c.url);
        let t = t.clone();
        async move {
            call(
                m,
                &url,
                Some(&t),
                body,
                &[("OpenStack-API-Version", "volume 3.71")],
            )
            .await
        }
    };
    let r = tenant(
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 1, "name": "bv", "availability_zone": "az1"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = id_of(&r, "volume");
    assert!(wait_volume(&e, &id, "available").await);
    let r = tenant(
        Method::POST,
        &format!("/volumes/{id}/action"),
        Some(json!({"os-set_bootable": {"bootable": true}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let bottom = bottom_volumes(&e, "Pod1")
        .await
        .into_iter()
        .find(|v| v["name"] == format!("bv@{id}"))
        .unwrap();
    assert_eq!(bottom["bootable"], "true", "{bottom}");
    assert_eq!(volume(&e, &id).await["bootable"], "true");
    // The pod refuses (down): the tenant hears it, and the index keeps the old value.
    e.sim
        .set_faults("Pod1", cascade_sim::FaultSpec::down())
        .await
        .unwrap();
    let r = tenant(
        Method::POST,
        &format!("/volumes/{id}/action"),
        Some(json!({"os-set_bootable": {"bootable": false}})),
    )
    .await;
    assert!(r.status >= 500, "{} {}", r.status, r.text);
    assert_eq!(volume(&e, &id).await["bootable"], "true");
}

async fn volumes_across_pods(db: &Db) {
    let e = env(db).await;

    // Discovery: 300 on the root, the v3 document, microversions echoed, 406 outside.
    let r = call(
        Method::GET,
        &format!("{}/volume/", e.c.url),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 300, "{}", r.text);
    let r = call(
        Method::GET,
        &format!("{}/volume/v3/", e.c.url),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["versions"][0]["version"], "3.71");
    assert_eq!(r.body["versions"][0]["min_version"], "3.0");
    let r = cinder(&e, Method::GET, "/volumes", &e.admin, None).await;
    assert_eq!(r.headers["openstack-api-version"], "volume 3.71");
    let r = call(
        Method::GET,
        &format!("{}/volume/v3/{}/volumes", e.c.url, e.project),
        Some(&e.admin),
        None,
        &[("OpenStack-API-Version", "volume 3.72")],
    )
    .await;
    assert_eq!(r.status, 406);

    // The CLI's body (explicit nulls) into az2: available, and in Pod2 with the top id.
    let v1 = create(&e, json!({"name": "v1", "size": 1, "source_volid": null, "imageRef": null, "metadata": null,
        "volume_type": null, "consistencygroup_id": null, "snapshot_id": null, "availability_zone": "az2",
        "backup_id": null, "description": null})).await;
    assert!(
        wait_volume(&e, &v1, "available").await,
        "{}",
        volume(&e, &v1).await
    );
    let v = volume(&e, &v1).await;
    assert_eq!(v["availability_zone"], "az2");
    assert_eq!(v["name"], "v1");
    assert!(
        v["created_at"].as_str().unwrap().contains('.'),
        "Cinder timestamps"
    );
    let twin = bottom_volumes(&e, "Pod2")
        .await
        .into_iter()
        .find(|b| b["name"] == format!("v1@{v1}"))
        .expect("bottom volume in Pod2");
    assert_eq!(twin["metadata"]["cascade_top_id"], v1.as_str());
    assert_eq!(twin["os-vol-tenant-attr:tenant_id"], e.project.as_str());
    assert!(bottom_volumes(&e, "Pod1").await.is_empty());

    // Paging over more volumes: each exactly once, newest first.
    let mut ids = vec![v1.clone()];
    for (i, az) in ["az1", "az3", "az1", "az3"].iter().enumerate() {
        ids.push(create(&e, json!({"name": format!("p{i}"), "size": 1, "availability_zone": az, "metadata": {"k": i.to_string()}})).await);
    }
    let mut seen = Vec::new();
    let mut next = Some(format!(
        "{}/volume/v3/{}/volumes/detail?limit=2",
        e.c.url, e.project
    ));
    while let Some(url) = next {
        let r = call(Method::GET, &url, Some(&e.admin), None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(
            r.body["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        next = r.body["volumes_links"][0]["href"]
            .as_str()
            .map(str::to_string);
    }
    assert_eq!(seen.len(), ids.len(), "{seen:?}");
    let mut a = seen.clone();
    a.sort();
    let mut b = ids.clone();
    b.sort();
    assert_eq!(a, b, "every volume exactly once");
    assert_eq!(seen.first(), ids.last(), "newest first");
    let r = cinder(
        &e,
        Method::GET,
        "/volumes/detail?availability_zone=az1",
        &e.admin,
        None,
    )
    .await;
    assert_eq!(r.body["volumes"].as_array().unwrap().len(), 2);
    let r = cinder(
        &e,
        Method::GET,
        "/volumes?metadata=%7B%22k%22%3A%20%221%22%7D",
        &e.admin,
        None,
    )
    .await;
    assert_eq!(r.body["volumes"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = cinder(
        &e,
        Method::GET,
        "/volumes?sort=name:asc&limit=1",
        &e.admin,
        None,
    )
    .await;
    assert_eq!(r.body["volumes"][0]["name"], "p0");
    let r = cinder(&e, Method::GET, "/volumes?marker=nope", &e.admin, None).await;
    assert_eq!(r.status, 400);

    // From an image: bootable, in the pod asked.
    let flavor = nova(
        &e,
        Method::POST,
        "/flavors",
        Some(json!({"flavor": {"name": "m1.test", "id": "42", "vcpus": 1, "ram": 256, "disk": 1}})),
    )
    .await;
    assert_eq!(flavor.status, 200, "{}", flavor.text);
    let img = image(&e).await;
    let vi = create(
        &e,
        json!({"name": "from-image", "size": 1, "imageRef": img, "availability_zone": "az3"}),
    )
    .await;
    assert!(
        wait_volume(&e, &vi, "available").await,
        "{}",
        volume(&e, &vi).await
    );
    let v = volume(&e, &vi).await;
    assert_eq!(v["bootable"], "true");
    assert_eq!(v["volume_image_metadata"]["image_id"], img.as_str());

    // Attach: same AZ works, other AZ is a clear 400.
    let s2 = server(&e, "s2", "az2", json!({"imageRef": img})).await;
    let s1 = server(&e, "s1", "az1", json!({"imageRef": img})).await;
    assert_eq!(wait_server(&e, &s2).await["status"], "ACTIVE");
    assert_eq!(wait_server(&e, &s1).await["status"], "ACTIVE");
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{s1}/os-volume_attachments"),
        Some(json!({"volumeAttachment": {"volumeId": v1}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let msg = r.body["badRequest"]["message"].as_str().unwrap();
    assert!(
        msg.contains("az2") && msg.contains("az1") && msg.contains("same availability zone"),
        "{msg}"
    );
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{s2}/os-volume_attachments"),
        Some(json!({"volumeAttachment": {"volumeId": v1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["volumeAttachment"]["volumeId"], v1.as_str());
    assert_eq!(r.body["volumeAttachment"]["serverId"], s2.as_str());
    let s = server_view(&e, &s2).await;
    assert_eq!(
        s["os-extended-volumes:volumes_attached"][0]["id"],
        v1.as_str(),
        "{s}"
    );
    let v = volume(&e, &v1).await;
    assert_eq!(v["status"], "in-use");
    assert_eq!(v["attachments"][0]["server_id"], s2.as_str());
    let twin = bottom_volumes(&e, "Pod2")
        .await
        .into_iter()
        .find(|b| b["name"] == format!("v1@{v1}"))
        .unwrap();
    assert_eq!(twin["status"], "in-use");
    assert_eq!(twin["attachments"].as_array().unwrap().len(), 1);
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{s2}/os-volume_attachments"),
        None,
    )
    .await;
    assert_eq!(
        r.body["volumeAttachments"][0]["volumeId"],
        v1.as_str(),
        "{}",
        r.text
    );
    // The watcher keeps top ids in the server view.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = server_view(&e, &s2).await;
    assert_eq!(
        s["os-extended-volumes:volumes_attached"][0]["id"],
        v1.as_str(),
        "{s}"
    );
    let r = cinder(
        &e,
        Method::DELETE,
        &format!("/volumes/{v1}"),
        &e.admin,
        None,
    )
    .await;
    assert_eq!(r.status, 400, "attached volumes are not deleted");
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/servers/{s2}/os-volume_attachments/{v1}"),
        None,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(volume(&e, &v1).await["status"], "available");
    assert_eq!(
        server_view(&e, &s2).await["os-extended-volumes:volumes_attached"],
        json!([])
    );

    // Boot from an existing volume: the server goes to the volume's pod.
    let bfv = server(
        &e,
        "bfv",
        "az3",
        json!({"block_device_mapping_v2": [{"boot_index": 0, "uuid": vi,
        "source_type": "volume", "destination_type": "volume", "delete_on_termination": false}]}),
    )
    .await;
    let s = wait_server(&e, &bfv).await;
    assert_eq!(s["status"], "ACTIVE", "{s}");
    assert_eq!(s["OS-EXT-AZ:availability_zone"], "az3");
    assert_eq!(
        s["os-extended-volumes:volumes_attached"][0]["id"],
        vi.as_str(),
        "{s}"
    );
    let r = nova(&e, Method::POST, "/servers", Some(json!({"server": {"name": "x", "flavorRef": "42", "networks": "none",
        "availability_zone": "az1", "block_device_mapping_v2": [{"boot_index": 0, "uuid": v1, "source_type": "volume",
        "destination_type": "volume"}]}}))).await;
    assert_eq!(r.status, 400, "boot volume in another AZ: {}", r.text);
    // Boot from an image onto a new volume: Cascade makes the volume in the server's pod.
    let bfi = server(&e, "bfi", "az1", json!({"block_device_mapping_v2": [{"boot_index": 0, "uuid": img,
        "source_type": "image", "destination_type": "volume", "volume_size": 2, "delete_on_termination": true}]})).await;
    let s = wait_server(&e, &bfi).await;
    assert_eq!(s["status"], "ACTIVE", "{s}");
    let boot_vol = s["os-extended-volumes:volumes_attached"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = volume(&e, &boot_vol).await;
    assert_eq!(v["availability_zone"], "az1", "{v}");
    assert_eq!(v["size"], 2);
    assert_eq!(v["bootable"], "true");

    // Delete.
    let r = cinder(
        &e,
        Method::DELETE,
        &format!("/volumes/{v1}"),
        &e.admin,
        None,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(
        eventually(Duration::from_secs(20), || async {
            cinder(&e, Method::GET, &format!("/volumes/{v1}"), &e.admin, None)
                .await
                .status
                == 404
        })
        .await
    );
    assert!(
        !bottom_volumes(&e, "Pod2")
            .await
            .iter()
            .any(|b| b["name"] == format!("v1@{v1}"))
    );

    // Bad input.
    let bad = |body: Value| {
        cinder(
            &e,
            Method::POST,
            "/volumes",
            &e.admin,
            Some(json!({"volume": body})),
        )
    };
    let r = bad(json!({"name": "z", "size": 0})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["badRequest"]["message"].is_string());
    let r = bad(json!({"name": "t", "size": 1, "volume_type": "nope"})).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = bad(json!({"name": "huge", "size": 500000})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("can hold"), "{}", r.text);
    let r = bad(json!({"name": "az", "size": 1, "availability_zone": "nowhere"})).await;
    assert_eq!(r.status, 400);
    let r = bad(json!({"name": "q", "size": 1001})).await;
    assert_eq!(r.status, 413, "over the gigabytes quota: {}", r.text);

    // Another project sees nothing of ours.
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
    let r = call(
        Method::GET,
        &format!("{}/volume/v3/{other}/volumes/{vi}", e.c.url),
        Some(&eve_token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["itemNotFound"]["code"], 404);
    let r = call(
        Method::GET,
        &format!("{}/volume/v3/{}/volumes", e.c.url, e.project),
        Some(&eve_token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 403, "another project's URL");
    // Eve's own volume is hers, made as her in the pod.
    let r = call(
        Method::POST,
        &format!("{}/volume/v3/{other}/volumes", e.c.url),
        Some(&eve_token),
        Some(json!({"volume": {"name": "eves", "size": 1, "availability_zone": "az1"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let ev = r.body["volume"]["id"].as_str().unwrap().to_string();
    assert!(
        eventually(Duration::from_secs(20), || async {
            call(
                Method::GET,
                &format!("{}/volume/v3/{other}/volumes/{ev}", e.c.url),
                Some(&eve_token),
                None,
                &[],
            )
            .await
            .body["volume"]["status"]
                == "available"
        })
        .await
    );

    // Pod3 goes down: the list still answers, its volumes marked unavailable.
    e.sim.set_down("Pod3", true).await.unwrap();
    let pod3 = e.pods[2].1.clone();
    assert!(
        eventually(Duration::from_secs(20), || async {
            call(
                Method::GET,
                &format!("{}/v1.0/pods/{pod3}", e.c.url),
                Some(&e.admin),
                None,
                &[],
            )
            .await
            .body["pod"]["state"]
                == "down"
        })
        .await
    );
    let r = cinder(&e, Method::GET, "/volumes/detail", &e.admin, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body["volumes"].as_array().unwrap();
    let unavailable: Vec<_> = list
        .iter()
        .filter(|v| v["status"] == "unavailable")
        .collect();
    assert!(!unavailable.is_empty());
    assert!(
        unavailable.iter().all(|v| v["availability_zone"] == "az3"),
        "{list:?}"
    );
    assert!(
        list.iter()
            .filter(|v| v["availability_zone"] != "az3")
            .all(|v| v["status"] != "unavailable")
    );
    assert_eq!(volume(&e, &vi).await["status"], "unavailable");
    e.sim.set_down("Pod3", false).await.unwrap();

    e.sim.shutdown().await;
}
