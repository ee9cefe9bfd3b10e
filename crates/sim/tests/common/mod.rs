//! Shared set-up of the simulator integration tests: a fake identity and started regions.

#![allow(dead_code, unreachable_pub)]

use cascade_sim::testing::{FakeIdentity, FakeToken, fake_identity};
use cascade_sim::{RegionSpec, SimConfig, SimHandle};
use serde_json::Value;

pub const MEMBER: &str = "tok-member";
pub const OTHER: &str = "tok-other";
pub const ADMIN: &str = "tok-admin";

pub struct Env {
    pub sim: SimHandle,
    pub idp: FakeIdentity,
    pub http: reqwest::Client,
}

pub async fn env(regions: Vec<RegionSpec>) -> Env {
    let (url, idp) = fake_identity(vec![
        FakeToken::member(MEMBER, "proj-a"),
        FakeToken::member(OTHER, "proj-b"),
        FakeToken::admin(ADMIN, "proj-admin"),
    ])
    .await;
    let sim = cascade_sim::start(SimConfig::new(url, regions))
        .await
        .expect("sim starts");
    Env {
        sim,
        idp,
        http: reqwest::Client::new(),
    }
}

impl Env {
    pub fn base(&self, i: usize) -> String {
        self.sim.regions()[i].base_url.clone()
    }

    pub async fn call(
        &self,
        method: &str,
        url: &str,
        token: &str,
        body: Option<Value>,
        mv: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, url).header("X-Auth-Token", token);
        if let Some(v) = mv {
            rb = rb.header("OpenStack-API-Version", format!("compute {v}"));
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, v)
    }

    pub async fn get(&self, url: &str, token: &str) -> (u16, Value) {
        let (s, _, v) = self.call("GET", url, token, None, None).await;
        (s, v)
    }

    pub async fn post(&self, url: &str, token: &str, body: Value) -> (u16, Value) {
        let (s, _, v) = self.call("POST", url, token, Some(body), None).await;
        (s, v)
    }

    pub async fn put(&self, url: &str, token: &str, body: Value) -> (u16, Value) {
        let (s, _, v) = self.call("PUT", url, token, Some(body), None).await;
        (s, v)
    }

    /// Creates a network and a subnet; returns (network id, subnet id).
    pub async fn net(
        &self,
        i: usize,
        token: &str,
        name: &str,
        cidr: &str,
        extra: Value,
    ) -> (String, String) {
        let b = self.base(i);
        let mut body = serde_json::json!({"network": {"name": name}});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                body["network"][k] = v;
            }
        }
        let (s, n) = self
            .post(&format!("{b}/network/v2.0/networks"), token, body)
            .await;
        assert_eq!(s, 201, "{n}");
        let nid = n["network"]["id"].as_str().unwrap().to_string();
        let (s, sn) = self.post(&format!("{b}/network/v2.0/subnets"), token, serde_json::json!({"subnet": {"network_id": nid, "cidr": cidr, "ip_version": 4, "name": format!("{name}-sub")}})).await;
        assert_eq!(s, 201, "{sn}");
        (nid, sn["subnet"]["id"].as_str().unwrap().to_string())
    }

    pub async fn port(&self, i: usize, token: &str, body: Value) -> Value {
        let (s, p) = self
            .post(
                &format!("{}/network/v2.0/ports", self.base(i)),
                token,
                serde_json::json!({"port": body}),
            )
            .await;
        assert_eq!(s, 201, "{p}");
        p["port"].clone()
    }

    pub async fn wait_status(&self, i: usize, token: &str, id: &str, want: &str) -> Value {
        for _ in 0..200 {
            let (s, v) = self
                .get(
                    &format!("{}/compute/v2.1/servers/{id}", self.base(i)),
                    token,
                )
                .await;
            assert_eq!(s, 200, "{v}");
            if v["server"]["status"] == want {
                return v["server"].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("server {id} never reached {want}");
    }
}
