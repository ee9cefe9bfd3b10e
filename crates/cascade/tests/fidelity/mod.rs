//! Shared by the Nova fidelity tests: a `cascade serve` in front of two simulated regions and
//! helpers to call Nova and Neutron through it and compare key sets.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::time::Duration;

use cascade_sim::{RegionSpec, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

pub const CONFIG: &str =
    "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 1\ncall_timeout_secs = 3\n";

pub struct Env {
    pub c: Cascade,
    pub sim: SimHandle,
    pub admin: String,
}

pub async fn env(db: &Db) -> Env {
    let c = Cascade::start(db, CONFIG).await;
    let regions = (1..=2)
        .map(|i| {
            let mut r = RegionSpec::new(format!("Pod{i}"), format!("az{i}")).instant();
            r.build_time = Duration::from_millis(200);
            r.action_time = Duration::from_millis(200);
            r
        })
        .collect();
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), regions))
        .await
        .unwrap();
    let admin = admin_token(&c.url).await;
    register_pods(&c.url, &admin, &sim).await;
    Env { c, sim, admin }
}

pub async fn nova(
    e: &Env,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    version: &str,
) -> Reply {
    let v = format!("compute {version}");
    call(
        method,
        &format!("{}/compute/v2.1{path}", e.c.url),
        Some(token),
        body,
        &[("OpenStack-API-Version", v.as_str())],
    )
    .await
}

pub async fn neutron(
    e: &Env,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    call(
        method,
        &format!("{}/network/v2.0{path}", e.c.url),
        Some(token),
        body,
        &[],
    )
    .await
}

pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub async fn image(e: &Env) -> String {
    let r = call(Method::POST, &format!("{}/image/v2/images", e.c.url), Some(&e.admin),
        Some(json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "visibility": "public"})), &[]).await;
    assert_eq!(r.status, 201, "image create: {}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let up = reqwest::Client::new()
        .put(format!("{}/image/v2/images/{id}/file", e.c.url))
        .header("x-auth-token", &e.admin)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 204);
    id
}

pub async fn wait_status(e: &Env, token: &str, id: &str, want: &str) -> bool {
    eventually(Duration::from_secs(30), || async {
        nova(
            e,
            Method::GET,
            &format!("/servers/{id}"),
            token,
            None,
            "2.100",
        )
        .await
        .body["server"]["status"]
            == want
    })
    .await
}
