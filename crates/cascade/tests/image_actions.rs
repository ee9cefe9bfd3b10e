//! Glance's image actions through a real `cascade serve` with a simulated pod: deactivate and
//! reactivate by an admin or by a member of the owning project (Glance's
//! `ADMIN_OR_PROJECT_MEMBER`), refused to a reader (403) and unseen by other projects (404); a deactivated image's
//! data is refused to everyone but an admin.

mod support;

use std::time::Duration;

use cascade_sim::{RegionSpec, SimConfig};
use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_and_reactivate() {
    let db = Db::sqlite();
    let c = Cascade::start(
        &db,
        "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 1\n",
    )
    .await;
    let sim = cascade_sim::start(SimConfig::new(
        format!("{}/identity", c.url),
        vec![RegionSpec::new("Pod1", "az1").instant()],
    ))
    .await
    .unwrap();
    let admin = admin_token(&c.url).await;
    register_pods(&c.url, &admin, &sim).await;
    let owner = tenant(&c.url, &admin, "img-a", "img-alice", Some("member")).await;
    let reader = tenant(&c.url, &admin, "img-a", "img-rita", Some("reader")).await;
    let other = tenant(&c.url, &admin, "img-b", "img-bob", Some("member")).await;
    let images = format!("{}/image/v2/images", c.url);

    let r = call(
        Method::POST,
        &images,
        Some(&owner.token),
        Some(json!({"name": "deact", "disk_format": "raw", "container_format": "bare"})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let resp = reqwest::Client::new()
        .put(format!("{images}/{id}/file"))
        .header("x-auth-token", &owner.token)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let active = eventually(Duration::from_secs(10), || async {
        let r = call(
            Method::GET,
            &format!("{images}/{id}"),
            Some(&owner.token),
            None,
            &[],
        )
        .await;
        r.body["status"] == "active"
    })
    .await;
    assert!(active, "the upload did not finish");

    let action = |who: String, verb: &'static str| {
        let url = format!("{images}/{id}/actions/{verb}");
        async move { call(Method::POST, &url, Some(&who), None, &[]).await }
    };
    // A reader of the project may not; another project does not even see the private image.
    let r = action(reader.token.clone(), "deactivate").await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = action(other.token.clone(), "deactivate").await;
    assert_eq!(r.status, 404, "{}", r.text);
    // The owner's member may; the image is then deactivated and its data refused.
    let r = action(owner.token.clone(), "deactivate").await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = call(
        Method::GET,
        &format!("{images}/{id}"),
        Some(&owner.token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["status"], "deactivated");
    let r = call(
        Method::GET,
        &format!("{images}/{id}/file"),
        Some(&owner.token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    // Deactivating again is a no-op; reactivating brings it back.
    assert_eq!(action(owner.token.clone(), "deactivate").await.status, 204);
    assert_eq!(action(reader.token.clone(), "reactivate").await.status, 403);
    assert_eq!(action(owner.token.clone(), "reactivate").await.status, 204);
    let r = call(
        Method::GET,
        &format!("{images}/{id}"),
        Some(&owner.token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["status"], "active");
    // An admin may too.
    assert_eq!(action(admin.clone(), "deactivate").await.status, 204);
    assert_eq!(action(admin.clone(), "reactivate").await.status, 204);
    db.cleanup().await;
}
