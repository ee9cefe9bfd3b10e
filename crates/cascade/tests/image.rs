//! The global Glance through a real `cascade serve` process in front of real simulated regions:
//! upload streamed to the home pod with checksums checked in the pod itself, download, lazy
//! copies (through the `ImageSource` seam, driven from this test on the same database, with
//! concurrent first uses sharing one copy) landing only in the pods that need them, eager
//! replication under a `country` placement policy, register mode, visibility, interrupted
//! uploads and copies leaving no half image in any pod, and Glance's bad-input answers.

mod support;

use std::sync::Arc;
use std::time::Duration;

use cascade_core::compute::deps::ImageSource;
use cascade_core::image::{ImageConfig, ImageService};
use cascade_core::pods::{PodRegistry, PodRegistryConfig};
use cascade_core::secrets::Sealer;
use cascade_pod::PodMetrics;
use cascade_sim::{ErrorRule, FaultSpec, RegionSpec, SimConfig};
use futures_util::StreamExt;
use md5::Digest;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const FAST: &str = "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 2\ncall_timeout_secs = 10\n[images]\nsweep_interval_secs = 1\n";

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { let db = super::Db::sqlite(); super::$case(&db).await; db.cleanup().await; } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { let db = super::Db::postgres(); super::$case(&db).await; db.cleanup().await; } )* }
    };
}

macro_rules! sqlite_only {
    ($($case:ident),* $(,)?) => {
        mod sqlite_only { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { let db = super::Db::sqlite(); super::$case(&db).await; db.cleanup().await; } )* }
    };
}

both_backends!(upload_download_and_lazy_copies);
sqlite_only!(
    eager_policy_and_bad_input,
    register_and_visibility,
    interrupted_transfers_leave_no_half_image,
    size_cap_and_transfers_per_project
);

/// Cascade, a simulator with three regions registered as pods, and an admin token.
struct Env {
    c: Cascade,
    sim: cascade_sim::SimHandle,
    admin: String,
    /// (pod id, region name) by AZ order.
    pods: Vec<(String, String)>,
    db: Db,
}

async fn env(db: &Db, caps: [Value; 3]) -> Env {
    env_with(db, caps, "").await
}

/// [`env`] with more `[images]` settings.
async fn env_with(db: &Db, caps: [Value; 3], images: &str) -> Env {
    let c = Cascade::start(db, &format!("{FAST}{images}")).await;
    let regions = vec![
        RegionSpec::new("Pod1", "az1").instant(),
        RegionSpec::new("Pod2", "az2").instant(),
        RegionSpec::new("Pod3", "az3").instant(),
    ];
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), regions))
        .await
        .expect("sim starts");
    let admin = admin_token(&c.url).await;
    let mut pods = Vec::new();
    for (region, caps) in sim.regions().iter().zip(caps) {
        let r = call(
            Method::POST,
            &format!("{}/v1.0/pods", c.url),
            Some(&admin),
            Some(json!({"pod": {
                "region_name": region.name, "az_name": region.az,
                "auth_url": region.identity_url,
                "credentials": {"username": "admin", "password": ADMIN_PASSWORD, "project_name": "admin"},
                "capabilities": caps,
            }})),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        pods.push((
            r.body["pod"]["pod_id"].as_str().unwrap().to_string(),
            region.name.clone(),
        ));
    }
    let url = c.url.clone();
    let tok = admin.clone();
    assert!(
        eventually(Duration::from_secs(20), || {
            let (url, tok) = (url.clone(), tok.clone());
            async move {
                let r = call(
                    Method::GET,
                    &format!("{url}/v1.0/pods"),
                    Some(&tok),
                    None,
                    &[],
                )
                .await;
                r.body["pods"]
                    .as_array()
                    .is_some_and(|a| a.iter().all(|p| p["state"] == "up"))
            }
        })
        .await,
        "pods come up"
    );
    Env {
        c,
        sim,
        admin,
        pods,
        db: db.clone(),
    }
}

impl Env {
    fn image(&self, path: &str) -> String {
        format!("{}/image{path}", self.c.url)
    }

    /// An in-test image service on the same database (what the compute saga holds).
    async fn service(&self) -> Arc<ImageService> {
        let store = match &self.db {
            Db::Sqlite(p) => {
                cascade_store::Store::connect(&format!("sqlite://{}", p.display()), None)
                    .await
                    .unwrap()
            }
            Db::Postgres { url, schema } => cascade_store::Store::connect(url, Some(schema))
                .await
                .unwrap(),
        };
        let pods = Arc::new(PodRegistry::new(
            store.clone(),
            Sealer::from_base64(SECRET_KEY).unwrap(),
            PodRegistryConfig {
                default_auth_url: Some(format!("{}/identity", self.c.url)),
                ..PodRegistryConfig::default()
            },
            PodMetrics::default(),
        ));
        ImageService::new(store, pods, ImageConfig::default())
    }

    /// The bottom images in a region carrying `top` (asked of the simulator directly).
    async fn bottoms(&self, region: &str, top: &str) -> Vec<Value> {
        let r = self.sim.region(region).unwrap();
        let resp = call(
            Method::GET,
            &format!(
                "{}/v2/images?cascade_top_id={top}&visibility=all",
                r.image_url
            ),
            Some(&self.admin),
            None,
            &[],
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        resp.body["images"].as_array().cloned().unwrap_or_default()
    }

    async fn sim_image_members(&self, region: &str, bottom: &str) -> Vec<String> {
        let r = self.sim.region(region).unwrap();
        let resp = call(
            Method::GET,
            &format!("{}/v2/images/{bottom}/members", r.image_url),
            Some(&self.admin),
            None,
            &[],
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        resp.body["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["member_id"].as_str().map(str::to_string))
            .collect()
    }

    async fn create(&self, body: Value) -> Reply {
        call(
            Method::POST,
            &self.image("/v2/images"),
            Some(&self.admin),
            Some(body),
            &[],
        )
        .await
    }

    async fn upload(&self, id: &str, data: Vec<u8>) -> (u16, String) {
        let resp = reqwest::Client::new()
            .put(self.image(&format!("/v2/images/{id}/file")))
            .header("x-auth-token", &self.admin)
            .header("content-type", "application/octet-stream")
            .body(data)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    async fn show(&self, id: &str) -> Reply {
        call(
            Method::GET,
            &self.image(&format!("/v2/images/{id}")),
            Some(&self.admin),
            None,
            &[],
        )
        .await
    }

    async fn copies(&self, id: &str) -> Vec<Value> {
        let r = call(
            Method::GET,
            &format!("{}/v1.0/images/{id}/copies", self.c.url),
            Some(&self.admin),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["copies"].as_array().cloned().unwrap_or_default()
    }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn md5_hex(d: &[u8]) -> String {
    hex(&md5::Md5::digest(d))
}

fn sha512_hex(d: &[u8]) -> String {
    hex(&sha2::Sha512::digest(d))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn no_caps() -> [Value; 3] {
    [json!({}), json!({}), json!({})]
}

async fn upload_download_and_lazy_copies(db: &Db) {
    let e = env(db, no_caps()).await;
    // Discovery: 300 on the root, as Glance.
    let r = call(Method::GET, &e.image(""), None, None, &[]).await;
    assert_eq!(r.status, 300, "{}", r.text);
    assert_eq!(r.body["versions"][0]["status"], "CURRENT");

    let r = e
        .create(json!({"name": "img1", "disk_format": "qcow2", "container_format": "bare"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["visibility"], "shared");
    let id = r.body["id"].as_str().unwrap().to_string();

    let bytes = data(3 * 1024 * 1024 + 17, 7);
    let (status, text) = e.upload(&id, bytes.clone()).await;
    assert_eq!(status, 204, "{text}");
    let img = e.show(&id).await.body;
    assert_eq!(img["status"], "active");
    assert_eq!(img["size"], bytes.len() as u64);
    assert_eq!(img["checksum"], md5_hex(&bytes));
    assert_eq!(img["os_hash_algo"], "sha512");
    assert_eq!(img["os_hash_value"], sha512_hex(&bytes));

    // The bytes are in the home pod (az1) only, and the pod computed the same checksums.
    let home = e.bottoms("Pod1", &id).await;
    assert_eq!(home.len(), 1);
    assert_eq!(home[0]["status"], "active");
    assert_eq!(home[0]["checksum"], md5_hex(&bytes));
    assert_eq!(home[0]["os_hash_value"], sha512_hex(&bytes));
    assert!(e.bottoms("Pod2", &id).await.is_empty());
    assert!(e.bottoms("Pod3", &id).await.is_empty());

    // Download streams back the same bytes.
    let resp = reqwest::Client::new()
        .get(e.image(&format!("/v2/images/{id}/file")))
        .header("x-auth-token", &e.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-md5"].to_str().unwrap(),
        md5_hex(&bytes)
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Lazy: four concurrent first boots in az3 share one copy; az2 gets nothing.
    let svc = e.service().await;
    let pod3 = e.pods[2].0.clone();
    let info = svc.resolve("whoever", &id).await;
    assert!(
        info.is_err(),
        "a shared image is not visible to a non-member"
    );
    let owner = img["owner"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (svc, id, pod3, owner) = (svc.clone(), id.clone(), pod3.clone(), owner.clone());
        tasks.push(tokio::spawn(async move {
            svc.ensure_in_pod(&owner, &id, &pod3).await
        }));
    }
    let mut bottoms = Vec::new();
    for t in tasks {
        bottoms.push(t.await.unwrap().expect("ensure_in_pod"));
    }
    bottoms.dedup();
    assert_eq!(bottoms.len(), 1, "one copy shared: {bottoms:?}");
    let in3 = e.bottoms("Pod3", &id).await;
    assert_eq!(in3.len(), 1, "exactly one bottom image in az3");
    assert_eq!(in3[0]["id"], json!(bottoms[0]));
    assert_eq!(in3[0]["status"], "active");
    assert_eq!(in3[0]["checksum"], md5_hex(&bytes));
    assert_eq!(in3[0]["os_hash_value"], sha512_hex(&bytes));
    assert!(
        e.bottoms("Pod2", &id).await.is_empty(),
        "az2 never needed it"
    );
    // The copy is the owner's, shared as the top image is (not open to the pod's projects).
    assert_eq!(in3[0]["visibility"], "shared");
    assert_eq!(in3[0]["owner"], json!(owner));
    // Again: no new copy.
    assert_eq!(
        svc.ensure_in_pod(&owner, &id, &pod3).await.unwrap(),
        bottoms[0]
    );
    // A member project's first boot there makes it a member of the copy, and only it.
    assert_eq!(
        svc.ensure_in_pod("member-project", &id, &pod3)
            .await
            .unwrap(),
        bottoms[0]
    );
    let r = e.sim_image_members("Pod3", &bottoms[0]).await;
    assert_eq!(r, vec!["member-project".to_string()]);

    let copies = e.copies(&id).await;
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert!(
        copies
            .iter()
            .all(|c| c["state"] == "active" && c["bytes_done"] == bytes.len() as u64)
    );
    let r = call(
        Method::GET,
        &format!("{}/v1.0/routings?resource_type=image&top_id={id}", e.c.url),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(
        r.body["routings"].as_array().unwrap().len(),
        2,
        "{}",
        r.text
    );

    // Lists: name filter, id=in:, paging with next.
    let r2 = e
        .create(json!({"name": "img2", "disk_format": "raw", "container_format": "bare"}))
        .await;
    let id2 = r2.body["id"].as_str().unwrap().to_string();
    let r = call(
        Method::GET,
        &e.image("/v2/images?name=img1"),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["images"].as_array().unwrap().len(), 1);
    let r = call(
        Method::GET,
        &e.image(&format!("/v2/images?id=in:{id},{id2}")),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["images"].as_array().unwrap().len(), 2);
    let r = call(
        Method::GET,
        &e.image("/v2/images?limit=1&sort_key=name&sort_dir=asc"),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["images"][0]["name"], "img1");
    let next = r.body["next"].as_str().expect("next link").to_string();
    let r = call(Method::GET, &e.image(&next), Some(&e.admin), None, &[]).await;
    assert_eq!(r.body["images"][0]["name"], "img2");
    assert!(r.body.get("next").is_none(), "{}", r.text);

    // JSON-patch.
    let r = call(
        Method::PATCH,
        &e.image(&format!("/v2/images/{id2}")),
        Some(&e.admin),
        Some(json!([{"op": "replace", "path": "/name", "value": "renamed"}, {"op": "add", "path": "/os_distro", "value": "cirros"}])),
        &[("content-type", "application/openstack-images-v2.1-json-patch")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["os_distro"], "cirros");

    // Delete: the top goes now, the pod copies follow.
    let r = call(
        Method::DELETE,
        &e.image(&format!("/v2/images/{id}")),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(e.show(&id).await.status, 404);
    let gone = eventually(Duration::from_secs(20), || async {
        e.bottoms("Pod1", &id).await.is_empty() && e.bottoms("Pod3", &id).await.is_empty()
    })
    .await;
    assert!(gone, "pod copies are deleted");
    // The routing rows go right after each pod's delete answers.
    let routings = || async {
        call(
            Method::GET,
            &format!("{}/v1.0/routings?resource_type=image&top_id={id}", e.c.url),
            Some(&e.admin),
            None,
            &[],
        )
        .await
    };
    let cleared = eventually(Duration::from_secs(10), || async {
        routings().await.body["routings"]
            .as_array()
            .is_some_and(|r| r.is_empty())
    })
    .await;
    assert!(cleared, "{}", routings().await.text);
    e.sim.shutdown().await;
}

async fn eager_policy_and_bad_input(db: &Db) {
    let e = env(
        db,
        [
            json!({"country": "DE"}),
            json!({"country": "DE"}),
            json!({"country": "FR", "regulation": "X"}),
        ],
    )
    .await;
    // Eager with a country policy: only the DE pods get it.
    let r = e
        .create(
            json!({"name": "eager", "disk_format": "raw", "container_format": "bare",
            "cascade_replication": "eager", "cascade_placement": "country=DE,regulation!=X"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let bytes = data(1024 * 1024, 3);
    assert_eq!(e.upload(&id, bytes.clone()).await.0, 204);
    let landed = eventually(Duration::from_secs(20), || async {
        let c = e.copies(&id).await;
        c.len() == 2 && c.iter().all(|c| c["state"] == "active")
    })
    .await;
    assert!(landed, "{:?}", e.copies(&id).await);
    for region in ["Pod1", "Pod2"] {
        let b = e.bottoms(region, &id).await;
        assert_eq!(b.len(), 1, "{region}");
        assert_eq!(b[0]["checksum"], md5_hex(&bytes));
    }
    assert!(e.bottoms("Pod3", &id).await.is_empty(), "FR/X pod excluded");
    let svc = e.service().await;
    let owner = e.show(&id).await.body["owner"]
        .as_str()
        .unwrap()
        .to_string();
    let err = svc
        .ensure_in_pod(&owner, &id, &e.pods[2].0)
        .await
        .unwrap_err();
    assert_eq!(err.kind.status(), 400, "{}", err.message);

    // A policy naming no pod.
    let r = e
        .create(
            json!({"name": "nowhere", "disk_format": "raw", "container_format": "bare",
            "cascade_placement": "country=US"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(r.text.contains("selects no pod"), "{}", r.text);
    // Wrong formats.
    for bad in [
        json!({"name": "x", "disk_format": "floppy", "container_format": "bare"}),
        json!({"name": "x", "disk_format": "raw", "container_format": "crate"}),
        json!({"name": "x", "cascade_replication": "sometimes"}),
    ] {
        let r = e.create(bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = e.create(json!({"name": "x", "status": "active"})).await;
    assert_eq!(r.status, 403, "{}", r.text);
    // Upload to an active image.
    assert_eq!(e.upload(&id, vec![1, 2, 3]).await.0, 409);
    // Upload before the formats are set.
    let r = e.create(json!({"name": "noformat"})).await;
    let nf = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(e.upload(&nf, vec![1, 2, 3]).await.0, 400);
    // A checksum mismatch (openstacksdk's owner_specified.openstack.md5): nothing left behind.
    let r = e
        .create(
            json!({"name": "mismatch", "disk_format": "raw", "container_format": "bare",
            "owner_specified.openstack.md5": md5_hex(b"something else")}),
        )
        .await;
    let mm = r.body["id"].as_str().unwrap().to_string();
    let (status, text) = e.upload(&mm, data(200_000, 1)).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("checksum mismatch"), "{text}");
    assert_eq!(e.show(&mm).await.body["status"], "queued");
    for region in ["Pod1", "Pod2", "Pod3"] {
        assert!(e.bottoms(region, &mm).await.is_empty(), "{region}");
    }
    assert!(e.copies(&mm).await.is_empty());
    // Patch content type.
    let r = call(
        Method::PATCH,
        &e.image(&format!("/v2/images/{mm}")),
        Some(&e.admin),
        Some(json!([])),
        &[],
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.text);
    e.sim.shutdown().await;
}

async fn register_and_visibility(db: &Db) {
    let e = env(db, no_caps()).await;
    // An image that already exists in Pod3, made there directly.
    let pod3 = e.sim.region("Pod3").unwrap();
    let r = call(
        Method::POST,
        &format!("{}/v2/images", pod3.image_url),
        Some(&e.admin),
        Some(json!({"name": "golden", "disk_format": "qcow2", "container_format": "bare", "visibility": "public"})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let bottom = r.body["id"].as_str().unwrap().to_string();
    let bytes = data(500_000, 9);
    let resp = reqwest::Client::new()
        .put(format!("{}/v2/images/{bottom}/file", pod3.image_url))
        .header("x-auth-token", &e.admin)
        .header("content-type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);

    let r = call(
        Method::POST,
        &format!("{}/v1.0/images/register", e.c.url),
        Some(&e.admin),
        Some(json!({"image": {"pod_id": e.pods[2].0, "bottom_id": bottom}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["image"]["id"].as_str().unwrap().to_string();
    assert_eq!(id, bottom, "the pod's id is kept when free");
    let img = e.show(&id).await.body;
    assert_eq!(img["status"], "active");
    assert_eq!(img["visibility"], "public");
    assert_eq!(img["checksum"], md5_hex(&bytes));
    let copies = e.copies(&id).await;
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0]["az_name"], "az3");
    // Registered, not copied: the data comes from az3, and a lazy copy to az1 works from it.
    let resp = reqwest::Client::new()
        .get(e.image(&format!("/v2/images/{id}/file")))
        .header("x-auth-token", &e.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let svc = e.service().await;
    let info = svc
        .resolve("any-project", &id)
        .await
        .expect("public image resolves");
    assert_eq!(info.status, "active");
    let owner = e.show(&id).await.body["owner"]
        .as_str()
        .unwrap()
        .to_string();
    let b1 = svc.ensure_in_pod(&owner, &id, &e.pods[0].0).await.unwrap();
    let in1 = e.bottoms("Pod1", &id).await;
    assert_eq!(in1.len(), 1);
    assert_eq!(in1[0]["id"], json!(b1));
    assert_eq!(in1[0]["visibility"], "public");
    assert_eq!(in1[0]["checksum"], md5_hex(&bytes));
    // Registering a missing bottom image: 400, nothing made.
    let r = call(
        Method::POST,
        &format!("{}/v1.0/images/register", e.c.url),
        Some(&e.admin),
        Some(json!({"image": {"pod_id": e.pods[0].0, "bottom_id": "no-such-image"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);

    // Visibility through the ImageSource seam.
    let mk = |vis: &str, owner: &str| json!({"name": format!("{vis}-img"), "visibility": vis, "owner": owner});
    let private = e.create(mk("private", "p-owner")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shared = e.create(mk("shared", "p-owner")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let community = e.create(mk("community", "p-owner")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(svc.resolve("p-owner", &private).await.is_ok());
    assert_eq!(
        svc.resolve("p-other", &private)
            .await
            .unwrap_err()
            .kind
            .status(),
        404
    );
    assert!(svc.resolve("p-other", &shared).await.is_err());
    assert!(svc.resolve("p-other", &community).await.is_ok());
    let r = call(
        Method::POST,
        &e.image(&format!("/v2/images/{shared}/members")),
        Some(&e.admin),
        Some(json!({"member": "p-other"})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "pending");
    assert!(
        svc.resolve("p-other", &shared).await.is_ok(),
        "members use it by id"
    );
    let r = call(
        Method::POST,
        &e.image(&format!("/v2/images/{private}/members")),
        Some(&e.admin),
        Some(json!({"member": "p-other"})),
        &[],
    )
    .await;
    assert_eq!(r.status, 403, "only shared images have members: {}", r.text);
    e.sim.shutdown().await;
}

async fn interrupted_transfers_leave_no_half_image(db: &Db) {
    let e = env(db, no_caps()).await;
    let r = e
        .create(json!({"name": "big", "disk_format": "raw", "container_format": "bare"}))
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();

    // 1. The client dies in the middle of the upload.
    let first = bytes::Bytes::from(data(1024 * 1024, 1));
    let body = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(first)]).chain(
        futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Err(std::io::Error::other("client gone"))
        }),
    );
    let sent = reqwest::Client::new()
        .put(e.image(&format!("/v2/images/{id}/file")))
        .header("x-auth-token", &e.admin)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await;
    assert!(sent.is_err() || sent.unwrap().status().as_u16() >= 400);
    let clean = eventually(Duration::from_secs(10), || async {
        e.show(&id).await.body["status"] == "queued" && e.bottoms("Pod1", &id).await.is_empty()
    })
    .await;
    assert!(
        clean,
        "status {} / bottoms {:?}",
        e.show(&id).await.body["status"],
        e.bottoms("Pod1", &id).await
    );

    // A complete upload afterwards works.
    let bytes = data(2 * 1024 * 1024, 5);
    assert_eq!(e.upload(&id, bytes.clone()).await.0, 204);

    // 2. The source pod fails while a copy to az2 runs: the partial bottom image is deleted.
    e.sim
        .set_faults(
            "Pod1",
            FaultSpec {
                errors: vec![ErrorRule {
                    prefix: "/image/v2/images".into(),
                    rate: 1.0,
                    status: 500,
                }],
                ..FaultSpec::default()
            },
        )
        .await
        .unwrap();
    let svc = e.service().await;
    let pod2 = e.pods[1].0.clone();
    let owner = e.show(&id).await.body["owner"]
        .as_str()
        .unwrap()
        .to_string();
    let err = svc.ensure_in_pod(&owner, &id, &pod2).await.unwrap_err();
    assert!(err.retryable, "{}", err.message);
    assert!(
        e.bottoms("Pod2", &id).await.is_empty(),
        "no half image left in az2"
    );
    let copies = e.copies(&id).await;
    let c2 = copies
        .iter()
        .find(|c| c["az_name"] == "az2")
        .expect("copy row");
    assert_eq!(c2["state"], "failed");
    e.sim.clear_faults("Pod1").await.unwrap();
    // Give the breaker time to close again, then the copy restarts cleanly.
    let mut copied = None;
    for _ in 0..40 {
        match svc.ensure_in_pod(&owner, &id, &pod2).await {
            Ok(b) => {
                copied = Some(b);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    let b2 = copied.expect("copy succeeds once the source recovers");
    let in2 = e.bottoms("Pod2", &id).await;
    assert_eq!(in2.len(), 1);
    assert_eq!(in2[0]["id"], json!(b2));
    assert_eq!(in2[0]["checksum"], md5_hex(&bytes));

    // 3. A copier crashed mid-copy (lease expired, bottom image still queued in the pod):
    // the next user takes over and finishes into a clean image.
    let pod3 = e.sim.region("Pod3").unwrap();
    let r = call(
        Method::POST,
        &format!("{}/v2/images", pod3.image_url),
        Some(&e.admin),
        Some(json!({"name": "big", "disk_format": "raw", "container_format": "bare", "cascade_top_id": id})),
        &[],
    )
    .await;
    let half = r.body["id"].as_str().unwrap().to_string();
    let store = svc_store(&e).await;
    let pod3_id = e.pods[2].0.clone();
    store
        .insert_routing(&cascade_store::routings::NewRouting {
            top_id: id.clone(),
            bottom_id: Some(half.clone()),
            pod_id: pod3_id.clone(),
            project_id: "x".into(),
            resource_type: "image".into(),
        })
        .await
        .unwrap();
    store.ensure_copy(&id, &pod3_id, None).await.unwrap();
    let past = cascade_store::now_micros() - 120_000_000;
    assert!(
        store
            .claim_copy(&id, &pod3_id, "dead-process", past, past + 1)
            .await
            .unwrap()
    );
    let owner = e.show(&id).await.body["owner"]
        .as_str()
        .unwrap()
        .to_string();
    let b3 = svc.ensure_in_pod(&owner, &id, &pod3_id).await.unwrap();
    let in3 = e.bottoms("Pod3", &id).await;
    assert_eq!(in3.len(), 1, "{in3:?}");
    assert_eq!(in3[0]["id"], json!(b3));
    assert_eq!(in3[0]["status"], "active");
    assert_eq!(in3[0]["checksum"], md5_hex(&bytes));
    e.sim.shutdown().await;
}

async fn svc_store(e: &Env) -> cascade_store::Store {
    match &e.db {
        Db::Sqlite(p) => cascade_store::Store::connect(&format!("sqlite://{}", p.display()), None)
            .await
            .unwrap(),
        Db::Postgres { url, schema } => cascade_store::Store::connect(url, Some(schema))
            .await
            .unwrap(),
    }
}

/// `[images] max_size_bytes` (Glance's `image_size_cap`): too large by `Content-Length` or by
/// the bytes streamed is a 413 leaving nothing in the pod; `max_transfers_per_project`: one
/// project's transfers beyond it are refused while another project's go through.
async fn size_cap_and_transfers_per_project(db: &Db) {
    let e = env_with(
        db,
        no_caps(),
        "max_size_bytes = 1000000
max_transfers_per_project = 1
",
    )
    .await;
    let mk = |name: &'static str| {
        let e = &e;
        async move {
            let r = e
                .create(json!({"name": name, "disk_format": "raw", "container_format": "bare"}))
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["id"].as_str().unwrap().to_string()
        }
    };
    let id = mk("capped").await;

    // Announced too large: refused before a byte moves.
    let (status, text) = e.upload(&id, data(1_000_001, 1)).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("Image exceeds the storage quota"), "{text}");
    assert_eq!(e.show(&id).await.body["status"], "queued");

    // Streamed without a length: cut off past the cap, nothing left in the pod.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..8)
        .map(|i| Ok(bytes::Bytes::from(data(200_000, i))))
        .collect();
    let resp = reqwest::Client::new()
        .put(e.image(&format!("/v2/images/{id}/file")))
        .header("x-auth-token", &e.admin)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let clean = eventually(Duration::from_secs(10), || async {
        e.show(&id).await.body["status"] == "queued" && e.bottoms("Pod1", &id).await.is_empty()
    })
    .await;
    assert!(clean, "bottoms {:?}", e.bottoms("Pod1", &id).await);
    // Within the cap it works.
    assert_eq!(e.upload(&id, data(1_000_000, 2)).await.0, 204);

    // One transfer at a time per project: a slow upload holds the only slot.
    let slow_id = mk("slow").await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
    let url = e.image(&format!("/v2/images/{slow_id}/file"));
    let admin = e.admin.clone();
    let slow =
        tokio::spawn(async move {
            let body = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|c| (c, rx))
            });
            reqwest::Client::new()
                .put(url)
                .header("x-auth-token", admin)
                .header("content-type", "application/octet-stream")
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
    tx.send(Ok(bytes::Bytes::from(data(1000, 3))))
        .await
        .unwrap();
    let busy = eventually(Duration::from_secs(10), || async {
        e.show(&slow_id).await.body["status"] == "saving"
    })
    .await;
    assert!(busy, "the slow upload started");
    let r = call(
        Method::GET,
        &e.image(&format!("/v2/images/{id}/file")),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.text.contains("over a limit"), "{}", r.text);
    drop(tx);
    assert_eq!(slow.await.unwrap().unwrap(), 204);
    // The slot is back.
    let r = reqwest::Client::new()
        .get(e.image(&format!("/v2/images/{id}/file")))
        .header("x-auth-token", &e.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), 1_000_000);
}
