//! Nova's proxy and small server APIs through a real `cascade serve` in front of two simulated
//! regions, checked against Tempest's schemas and tests: the image proxy (`/images`, metadata,
//! a `createImage` snapshot `SAVING` then `ACTIVE` with its server, deleted while saving),
//! `createBackup` rotation, the `os-volumes`/`os-snapshots` proxies, `os-instance-actions`,
//! `os-server-password`, `os-tenant-networks`, `extensions` and `/compute/v2/`.

mod fidelity;
mod support;

use std::time::Duration;

use fidelity::*;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const IMAGE_KEYS: &[&str] = &[
    "id",
    "status",
    "updated",
    "links",
    "name",
    "created",
    "minDisk",
    "minRam",
    "progress",
    "metadata",
    "OS-EXT-IMG-SIZE:size",
];

async fn flavor(e: &Env) {
    let r = nova(
        e,
        Method::POST,
        "/flavors",
        &e.admin,
        Some(json!({"flavor": {"name": "m1.proxy", "id": "1", "vcpus": 1, "ram": 256, "disk": 1}})),
        "2.61",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn boot(e: &Env, tok: &str, img: &str) -> (String, String) {
    let r = nova(
        e,
        Method::POST,
        "/servers",
        tok,
        Some(
            json!({"server": {"name": "s", "imageRef": img, "flavorRef": "1", "networks": "none"}}),
        ),
        "2.100",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let rid = r.headers["x-compute-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(wait_status(e, tok, &id, "ACTIVE").await);
    (id, rid)
}

async fn image_status(e: &Env, tok: &str, id: &str) -> Value {
    nova(e, Method::GET, &format!("/images/{id}"), tok, None, "2.1")
        .await
        .body["image"]["status"]
        .clone()
}

#[tokio::test]
async fn image_proxy_and_snapshots() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let t = tenant(&e.c.url, &e.admin, "ipp", "ipu", Some("member")).await;
    let tok = t.token.as_str();
    let img = image(&e).await;
    flavor(&e).await;

    // List, detail and show in Nova's shapes; gone from 2.36.
    let r = nova(&e, Method::GET, "/images", tok, None, "2.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let brief = &r.body["images"][0];
    assert_eq!(keys(brief), set(&["id", "links", "name"]));
    let r = nova(
        &e,
        Method::GET,
        "/images/detail?status=ACTIVE",
        tok,
        None,
        "2.1",
    )
    .await;
    assert!(
        r.body["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == img.as_str())
    );
    let r = nova(&e, Method::GET, &format!("/images/{img}"), tok, None, "2.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["image"]), set(IMAGE_KEYS));
    assert_eq!(r.body["image"]["status"], "ACTIVE");
    assert_eq!(r.body["image"]["progress"], 100);
    let r = nova(
        &e,
        Method::GET,
        &format!("/images/{img}"),
        tok,
        None,
        "2.36",
    )
    .await;
    assert_eq!(r.status, 404);
    let r = nova(
        &e,
        Method::GET,
        "/images/00000000-0000-4000-8000-000000000000",
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(
        r.body["itemNotFound"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be found")
    );

    // Metadata of the tenant's own image: set, merge, item, delete.
    let r = call(
        Method::POST,
        &format!("{}/image/v2/images", e.c.url),
        Some(tok),
        Some(json!({"name": "own", "disk_format": "raw", "container_format": "bare"})),
        &[],
    )
    .await;
    let own = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/images/{own}/metadata");
    let r = nova(
        &e,
        Method::PUT,
        &path,
        tok,
        Some(json!({"metadata": {"os_version": "v1", "os_distro": "v2"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"metadata": {"os_version": "v1", "os_distro": "v2"}})
    );
    let r = nova(
        &e,
        Method::POST,
        &path,
        tok,
        Some(json!({"metadata": {"os_arch": "x"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.body["metadata"].as_object().unwrap().len(), 3);
    let r = nova(
        &e,
        Method::PUT,
        &format!("{path}/os_arch"),
        tok,
        Some(json!({"meta": {"other": "y"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 400, "URI and body mismatch");
    let r = nova(
        &e,
        Method::GET,
        &format!("{path}/os_arch"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.body, json!({"meta": {"os_arch": "x"}}));
    let r = nova(
        &e,
        Method::DELETE,
        &format!("{path}/os_arch"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 204);
    let r = nova(
        &e,
        Method::DELETE,
        &format!("{path}/os_arch"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 404);
    let r = nova(&e, Method::GET, &path, tok, None, "2.39").await;
    assert_eq!(r.status, 404, "metadata proxy gone from 2.39");

    // A snapshot is visible at once (SAVING), then ACTIVE with its server and properties.
    let (server, _) = boot(&e, tok, &img).await;
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{server}/action"),
        tok,
        Some(json!({"createImage": {"name": "snap", "metadata": {"image_type": "test"}}})),
        "2.45",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let snap = r.body["image_id"].as_str().unwrap().to_string();
    assert_eq!(image_status(&e, tok, &snap).await, "SAVING");
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{server}/action"),
        tok,
        Some(json!({"createImage": {"name": "snap2"}})),
        "2.45",
    )
    .await;
    assert_eq!(r.status, 409, "a second snapshot while saving: {}", r.text);
    assert!(
        eventually(Duration::from_secs(20), || async {
            image_status(&e, tok, &snap).await == "ACTIVE"
        })
        .await
    );
    let r = nova(
        &e,
        Method::GET,
        &format!("/images/{snap}"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.body["image"]["server"]["id"], server.as_str());
    assert_eq!(
        r.body["image"]["metadata"]["image_type"], "test",
        "the request's metadata wins"
    );
    let r = nova(
        &e,
        Method::GET,
        &format!("/images?server={server}"),
        tok,
        None,
        "2.1",
    )
    .await;
    let ids: Vec<&str> = r.body["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(ids, vec![snap.as_str()]);
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/images/{snap}"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 204);

    // Deleted while saving: gone for good, the pod's image too.
    assert!(wait_status(&e, tok, &server, "ACTIVE").await);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{server}/action"),
        tok,
        Some(json!({"createImage": {"name": "gone"}})),
        "2.45",
    )
    .await;
    let gone = r.body["image_id"].as_str().unwrap().to_string();
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/images/{gone}"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 204);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = nova(
        &e,
        Method::GET,
        &format!("/images/{gone}"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 404);

    // createBackup keeps `rotation` backups.
    let mut backups = Vec::new();
    for n in 0..3 {
        assert!(wait_status(&e, tok, &server, "ACTIVE").await);
        let r = nova(&e, Method::POST, &format!("/servers/{server}/action"), tok,
            Some(json!({"createBackup": {"name": format!("b{n}"), "backup_type": "daily", "rotation": 2}})), "2.45").await;
        assert_eq!(r.status, 202, "{}", r.text);
        let id = r.body["image_id"].as_str().unwrap().to_string();
        assert!(
            eventually(Duration::from_secs(20), || async {
                image_status(&e, tok, &id).await == "ACTIVE"
            })
            .await
        );
        backups.push(id);
    }
    assert!(
        eventually(Duration::from_secs(10), || async {
            nova(
                &e,
                Method::GET,
                &format!("/images/{}", backups[0]),
                tok,
                None,
                "2.1",
            )
            .await
            .status
                == 404
        })
        .await,
        "the oldest backup is rotated out"
    );
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{server}/action"),
        tok,
        Some(json!({"createBackup": {"name": "x", "backup_type": "daily"}})),
        "2.45",
    )
    .await;
    assert_eq!(r.status, 400, "rotation is required");
}

#[tokio::test]
async fn volume_proxies_actions_and_small_apis() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let t = tenant(&e.c.url, &e.admin, "vpp", "vpu", Some("member")).await;
    let tok = t.token.as_str();
    let img = image(&e).await;
    flavor(&e).await;

    // os-volumes: Nova's validation and shapes.
    for body in [
        json!({"volume": {}}),
        json!({"volume": {"size": 0}}),
        json!({"volume": {"size": "#$%"}}),
    ] {
        let r = nova(&e, Method::POST, "/os-volumes", tok, Some(body), "2.1").await;
        assert_eq!(r.status, 400, "{}", r.text);
    }
    let r = nova(
        &e,
        Method::POST,
        "/os-volumes",
        tok,
        Some(json!({"volume": {"size": 1, "display_name": "v", "metadata": {"k": "v"}}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let vol = r.body["volume"].clone();
    assert_eq!(vol["attachments"], json!([{}]));
    assert_eq!(vol["displayName"], "v");
    let vid = vol["id"].as_str().unwrap().to_string();
    assert!(
        eventually(Duration::from_secs(20), || async {
            nova(
                &e,
                Method::GET,
                &format!("/os-volumes/{vid}"),
                tok,
                None,
                "2.1",
            )
            .await
            .body["volume"]["status"]
                == "available"
        })
        .await
    );
    let r = nova(
        &e,
        Method::GET,
        "/os-volumes/detail?limit=1",
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.body["volumes"].as_array().unwrap().len(), 1);
    let r = nova(&e, Method::GET, "/os-volumes", tok, None, "2.36").await;
    assert_eq!(r.status, 404);

    // os-snapshots.
    let r = nova(
        &e,
        Method::POST,
        "/os-snapshots",
        tok,
        Some(json!({"snapshot": {"volume_id": vid, "display_name": "s"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sid = r.body["snapshot"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["snapshot"]["volumeId"], vid.as_str());
    assert!(
        eventually(Duration::from_secs(20), || async {
            nova(
                &e,
                Method::GET,
                &format!("/os-snapshots/{sid}"),
                tok,
                None,
                "2.1",
            )
            .await
            .body["snapshot"]["status"]
                == "available"
        })
        .await
    );
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/os-snapshots/{sid}"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202);

    // Instance actions: the create's request id, then a reboot; a deleted server's from 2.21.
    let (server, rid) = boot(&e, tok, &img).await;
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{server}/os-instance-actions/{rid}"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["instanceAction"]["action"], "create");
    assert_eq!(r.body["instanceAction"]["instance_uuid"], server.as_str());
    assert!(
        r.body["instanceAction"].get("events").is_none(),
        "no events for members before 2.51"
    );
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{server}/os-instance-actions/{rid}"),
        tok,
        None,
        "2.51",
    )
    .await;
    assert_eq!(r.body["instanceAction"]["events"][0]["result"], "Success");
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{server}/action"),
        tok,
        Some(json!({"reboot": {"type": "HARD"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202);
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{server}/os-instance-actions"),
        tok,
        None,
        "2.58",
    )
    .await;
    let mut names: Vec<&str> = r.body["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, vec!["create", "reboot"]);
    assert!(r.body["instanceActions"][0]["updated_at"].is_string());

    // Server password: empty, cleared.
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{server}/os-server-password"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.body, json!({"password": ""}));
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/servers/{server}/os-server-password"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 204);

    // Restore is a conflict (nothing soft-deleted); force delete deletes.
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{server}/action"),
        tok,
        Some(json!({"restore": null})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = nova(
        &e,
        Method::POST,
        "/servers/00000000-0000-4000-8000-000000000000/action",
        tok,
        Some(json!({"forceDelete": null})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(wait_status(&e, tok, &server, "ACTIVE").await);
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/servers/{server}"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(
        eventually(Duration::from_secs(20), || async {
            nova(
                &e,
                Method::GET,
                &format!("/servers/{server}"),
                tok,
                None,
                "2.1",
            )
            .await
            .status
                == 404
        })
        .await
    );
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{server}/os-instance-actions"),
        tok,
        None,
        "2.21",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["instanceActions"].as_array().unwrap().len(), 3);
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{server}/os-instance-actions"),
        tok,
        None,
        "2.20",
    )
    .await;
    assert_eq!(r.status, 404);

    // Tenant networks, extensions, the v2.0 document.
    let net = neutron(
        &e,
        Method::POST,
        "/networks",
        tok,
        Some(json!({"network": {"name": "tn"}})),
    )
    .await;
    let nid = net.body["network"]["id"].as_str().unwrap().to_string();
    let r = nova(&e, Method::GET, "/os-tenant-networks", tok, None, "2.1").await;
    assert!(
        r.body["networks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == nid.as_str() && n["label"] == "tn")
    );
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-tenant-networks/{nid}"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(keys(&r.body["network"]), set(&["id", "cidr", "label"]));
    let r = nova(&e, Method::GET, "/os-tenant-networks", tok, None, "2.36").await;
    assert_eq!(r.status, 404);
    let r = nova(&e, Method::GET, "/extensions", tok, None, "2.1").await;
    assert!(
        r.body["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "Hosts")
    );
    let r = nova(&e, Method::GET, "/extensions/os-consoles", tok, None, "2.1").await;
    assert_eq!(r.body["extension"]["alias"], "os-consoles");
    let r = call(
        Method::GET,
        &format!("{}/compute/v2/", e.c.url),
        Some(tok),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["version"]["id"], "v2.0");
}
