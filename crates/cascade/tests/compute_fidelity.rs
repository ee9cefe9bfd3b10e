//! Nova v2.1 fidelity through a real `cascade serve` in front of two simulated regions, checked
//! against what Tempest's response schemas and tests expect: the deprecated security-group proxy
//! (`os-security-groups`, `os-security-group-rules`, 404 from 2.36) over the central Neutron and
//! `GET /servers/{id}/os-security-groups`; the key sets of `PUT /servers/{id}` and `rebuild`;
//! statuses and `Location` headers of actions and tags; the requested `adminPass`; nova-network's
//! quotas below 2.36; generated key pairs; and create-time validation.

mod support;

use std::collections::BTreeSet;
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
}

async fn env(db: &Db) -> Env {
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

async fn nova(
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

async fn neutron(e: &Env, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    call(
        method,
        &format!("{}/network/v2.0{path}", e.c.url),
        Some(token),
        body,
        &[],
    )
    .await
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
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
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 204);
    id
}

async fn wait_status(e: &Env, token: &str, id: &str, want: &str) -> bool {
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

const GROUP_KEYS: &[&str] = &["id", "name", "description", "tenant_id", "rules"];
const RULE_KEYS: &[&str] = &[
    "id",
    "parent_group_id",
    "ip_protocol",
    "from_port",
    "to_port",
    "group",
    "ip_range",
];

#[tokio::test]
async fn security_group_proxy() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let t = tenant(&e.c.url, &e.admin, "sgp", "sgu", Some("member")).await;
    let other = tenant(&e.c.url, &e.admin, "sgq", "sgv", Some("member")).await;
    let tok = t.token.as_str();

    // The tenant's default group, in Nova's shape: ingress rules only.
    let r = nova(&e, Method::GET, "/os-security-groups", tok, None, "2.35").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let groups = r.body["security_groups"].as_array().unwrap();
    let default = groups
        .iter()
        .find(|g| g["name"] == "default")
        .expect("default group");
    assert_eq!(keys(default), set(GROUP_KEYS));
    assert_eq!(default["tenant_id"], t.project_id.as_str());
    for rule in default["rules"].as_array().unwrap() {
        assert_eq!(keys(rule), set(RULE_KEYS));
        assert_eq!(rule["group"]["name"], "default", "{rule}");
    }
    assert!(
        groups
            .iter()
            .all(|g| g["tenant_id"] == t.project_id.as_str()),
        "only the caller's project's groups"
    );

    // Create, show, update.
    let r = nova(
        &e,
        Method::POST,
        "/os-security-groups",
        tok,
        Some(json!({"security_group": {"name": "web", "description": "web tier"}})),
        "2.35",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let web = r.body["security_group"].clone();
    assert_eq!(keys(&web), set(GROUP_KEYS));
    assert_eq!(
        web["rules"],
        json!([]),
        "Neutron's egress rules are not shown"
    );
    let web_id = web["id"].as_str().unwrap().to_string();
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-security-groups/{web_id}"),
        tok,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.body["security_group"], web);
    for bad in [
        json!({"security_group": {"name": "x".repeat(260), "description": "d"}}),
        json!({"security_group": {"name": "ok", "description": "d".repeat(260)}}),
        json!({"security_group": {"description": "no name"}}),
        json!({"nothing": {}}),
    ] {
        let r = nova(
            &e,
            Method::POST,
            "/os-security-groups",
            tok,
            Some(bad.clone()),
            "2.35",
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = nova(
        &e,
        Method::PUT,
        &format!("/os-security-groups/{web_id}"),
        tok,
        Some(json!({"security_group": {"name": "web2", "description": "new"}})),
        "2.35",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["security_group"]["name"], "web2");
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-security-groups/{web_id}"),
        tok,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.body["security_group"]["description"], "new");
    let r = nova(
        &e,
        Method::GET,
        "/os-security-groups/not-a-uuid",
        tok,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.status, 400);
    let missing = "8f2b5d0e-4c3a-4b7e-9d1f-2a6c8e0b4d3f";
    for (m, body) in [
        (Method::GET, None),
        (Method::DELETE, None),
        (
            Method::PUT,
            Some(json!({"security_group": {"name": "a", "description": "b"}})),
        ),
    ] {
        let r = nova(
            &e,
            m.clone(),
            &format!("/os-security-groups/{missing}"),
            tok,
            body,
            "2.35",
        )
        .await;
        assert_eq!(r.status, 404, "{m} {}", r.text);
    }
    // Another project's group does not exist for this tenant.
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-security-groups/{web_id}"),
        &other.token,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.status, 404);

    // Rules: a CIDR rule (0.0.0.0/0 by default), a duplicate, bad input, a remote-group rule.
    let rule = |body: Value| {
        let e = &e;
        async move {
            nova(
                e,
                Method::POST,
                "/os-security-group-rules",
                tok,
                Some(json!({"security_group_rule": body})),
                "2.35",
            )
            .await
        }
    };
    let r = rule(
        json!({"parent_group_id": web_id, "ip_protocol": "tcp", "from_port": 22, "to_port": 22}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ssh = r.body["security_group_rule"].clone();
    assert_eq!(keys(&ssh), set(RULE_KEYS));
    assert_eq!(ssh["ip_range"], json!({"cidr": "0.0.0.0/0"}));
    assert_eq!(ssh["group"], json!({}));
    assert_eq!(ssh["parent_group_id"], web_id.as_str());
    assert_eq!(
        (ssh["from_port"].as_i64(), ssh["to_port"].as_i64()),
        (Some(22), Some(22))
    );
    let r = rule(
        json!({"parent_group_id": web_id, "ip_protocol": "tcp", "from_port": 22, "to_port": 22}),
    )
    .await;
    assert_eq!(r.status, 400, "a duplicate: {}", r.text);
    assert!(r.text.contains("This rule already exists"), "{}", r.text);
    for (body, status) in [
        (
            json!({"parent_group_id": web_id, "ip_protocol": "gre", "from_port": 1, "to_port": 2}),
            400,
        ),
        (
            json!({"parent_group_id": web_id, "ip_protocol": "tcp", "from_port": 30, "to_port": 20}),
            400,
        ),
        (
            json!({"parent_group_id": web_id, "ip_protocol": "tcp", "from_port": 0, "to_port": 20}),
            400,
        ),
        (
            json!({"parent_group_id": web_id, "ip_protocol": "tcp", "from_port": 80, "to_port": 80, "cidr": "10.0.0.1"}),
            400,
        ),
        (
            json!({"parent_group_id": web_id, "ip_protocol": "tcp"}),
            400,
        ),
        (
            json!({"parent_group_id": "nope", "ip_protocol": "tcp", "from_port": 1, "to_port": 2}),
            400,
        ),
        (
            json!({"parent_group_id": missing, "ip_protocol": "tcp", "from_port": 1, "to_port": 2}),
            404,
        ),
    ] {
        let r = rule(body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
    }
    // A CIDR with host bits stays as given (Neutron shows the network as `normalized_cidr`).
    let r = rule(json!({"parent_group_id": web_id, "ip_protocol": "udp", "from_port": 53, "to_port": 53, "cidr": "10.2.3.124/24"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["security_group_rule"]["ip_range"],
        json!({"cidr": "10.2.3.124/24"})
    );
    let dns = r.body["security_group_rule"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = neutron(
        &e,
        Method::GET,
        &format!("/security-group-rules/{dns}"),
        tok,
        None,
    )
    .await;
    assert_eq!(
        r.body["security_group_rule"]["normalized_cidr"],
        "10.2.3.0/24"
    );
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/os-security-group-rules/{dns}"),
        tok,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.status, 202);
    let r = nova(
        &e,
        Method::POST,
        "/os-security-groups",
        tok,
        Some(json!({"security_group": {"name": "peer", "description": ""}})),
        "2.35",
    )
    .await;
    let peer_id = r.body["security_group"]["id"].as_str().unwrap().to_string();
    let r =
        rule(json!({"parent_group_id": web_id, "ip_protocol": "icmp", "group_id": peer_id})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let from_peer = r.body["security_group_rule"].clone();
    assert_eq!(
        from_peer["group"],
        json!({"name": "peer", "tenant_id": t.project_id})
    );
    assert_eq!(from_peer["ip_range"], json!({}));
    assert_eq!(
        (
            from_peer["from_port"].as_i64(),
            from_peer["to_port"].as_i64()
        ),
        (Some(-1), Some(-1))
    );
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-security-groups/{web_id}"),
        tok,
        None,
        "2.35",
    )
    .await;
    assert_eq!(
        r.body["security_group"]["rules"].as_array().unwrap().len(),
        2
    );
    // The same rules, seen through Neutron.
    let r = neutron(
        &e,
        Method::GET,
        &format!("/security-group-rules?security_group_id={web_id}&direction=ingress"),
        tok,
        None,
    )
    .await;
    assert_eq!(
        r.body["security_group_rules"].as_array().unwrap().len(),
        2,
        "{}",
        r.text
    );
    // Deleting the peer group takes its rule with it (Neutron) or out of view (Nova).
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/os-security-groups/{peer_id}"),
        tok,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-security-groups/{web_id}"),
        tok,
        None,
        "2.35",
    )
    .await;
    let rules = r.body["security_group"]["rules"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let ssh_id = ssh["id"].as_str().unwrap();
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/os-security-group-rules/{ssh_id}"),
        tok,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/os-security-group-rules/{ssh_id}"),
        tok,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.status, 404);

    // The default group cannot go: a 400 (Neutron's 409 in Nova's terms).
    let default_id = default["id"].as_str().unwrap();
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/os-security-groups/{default_id}"),
        tok,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);

    // Gone from 2.36.
    for (m, path) in [
        (Method::GET, "/os-security-groups".to_string()),
        (Method::GET, format!("/os-security-groups/{web_id}")),
        (
            Method::DELETE,
            format!("/os-security-group-rules/{missing}"),
        ),
    ] {
        let r = nova(&e, m, &path, tok, None, "2.36").await;
        assert_eq!(r.status, 404, "{path} at 2.36");
    }

    // A server's groups (every microversion), and a group in use cannot be deleted.
    let img = image(&e).await;
    let r = nova(
        &e,
        Method::POST,
        "/flavors",
        &e.admin,
        Some(json!({"flavor": {"name": "m1.sg", "id": "7", "vcpus": 1, "ram": 128, "disk": 1}})),
        "2.61",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let net = neutron(
        &e,
        Method::POST,
        "/networks",
        tok,
        Some(json!({"network": {"name": "n"}})),
    )
    .await;
    let net_id = net.body["network"]["id"].as_str().unwrap().to_string();
    let r = neutron(
        &e,
        Method::POST,
        "/subnets",
        tok,
        Some(json!({"subnet": {"network_id": net_id, "cidr": "10.9.0.0/24", "ip_version": 4}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = nova(
        &e,
        Method::POST,
        "/servers",
        tok,
        Some(json!({"server": {"name": "s1", "flavorRef": "7",
        "imageRef": img, "networks": [{"uuid": net_id}]}})),
        "2.35",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let server = r.body["server"]["id"].as_str().unwrap().to_string();
    assert!(wait_status(&e, tok, &server, "ACTIVE").await);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{server}/action"),
        tok,
        Some(json!({"addSecurityGroup": {"name": "web2"}})),
        "2.35",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    for v in ["2.1", "2.35", "2.100"] {
        let r = nova(
            &e,
            Method::GET,
            &format!("/servers/{server}/os-security-groups"),
            tok,
            None,
            v,
        )
        .await;
        assert_eq!(r.status, 200, "{v}: {}", r.text);
        let names: BTreeSet<String> = r.body["security_groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                assert_eq!(keys(g), set(GROUP_KEYS));
                g["name"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(names, set(&["default", "web2"]), "{v}");
    }
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{server}/os-security-groups"),
        &other.token,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.status, 404, "another project's server");
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/os-security-groups/{web_id}"),
        tok,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.status, 400, "in use: {}", r.text);

    e.sim.shutdown().await;
    drop(e.c);
    db.cleanup().await;
}

const BASIC_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "tenant_id",
    "user_id",
    "metadata",
    "hostId",
    "image",
    "flavor",
    "created",
    "updated",
    "addresses",
    "accessIPv4",
    "accessIPv6",
    "links",
    "OS-DCF:diskConfig",
    "progress",
    "fault",
    "locked",
    "description",
    "tags",
    "trusted_image_certificates",
    "locked_reason",
];

#[tokio::test]
async fn server_response_shapes_and_validation() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let t = tenant(&e.c.url, &e.admin, "shp", "shu", Some("member")).await;
    let tok = t.token.as_str();
    let img = image(&e).await;
    for (id, name, ram) in [("fa", "m1.a", 128), ("fb", "m1.b", 256)] {
        let r = nova(
            &e,
            Method::POST,
            "/flavors",
            &e.admin,
            Some(json!({"flavor": {"name": name, "id": id, "vcpus": 1, "ram": ram, "disk": 1}})),
            "2.61",
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let net = neutron(
        &e,
        Method::POST,
        "/networks",
        tok,
        Some(json!({"network": {"name": "n"}})),
    )
    .await;
    let net_id = net.body["network"]["id"].as_str().unwrap().to_string();
    let r = neutron(
        &e,
        Method::POST,
        "/subnets",
        tok,
        Some(json!({"subnet": {"network_id": net_id, "cidr": "10.44.0.0/24", "ip_version": 4}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Validation at create.
    let base =
        json!({"name": "v", "flavorRef": "fa", "imageRef": img, "networks": [{"uuid": net_id}]});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        json!({ "server": b })
    };
    for (body, what) in [
        (
            with("metadata", json!({"k".repeat(256): "v"})),
            "metadata key over 255",
        ),
        (
            with("metadata", json!({"k": "v".repeat(256)})),
            "metadata value over 255",
        ),
        (with("accessIPv4", json!("1.2.3")), "accessIPv4"),
        (
            with("accessIPv4", json!("::1")),
            "accessIPv4 given an IPv6 address",
        ),
        (with("accessIPv6", json!("2001:db8::zz")), "accessIPv6"),
        (
            with("networks", json!([{"uuid": "not-a-uuid"}])),
            "network id",
        ),
    ] {
        let r = nova(&e, Method::POST, "/servers", tok, Some(body), "2.100").await;
        assert_eq!(r.status, 400, "{what}: {}", r.text);
    }

    // The requested password comes back; the IPv6 access address is canonical.
    let mut b = base.clone();
    b["adminPass"] = json!("Sup3r-Secret");
    b["accessIPv6"] = json!("2001:0DB8:0000:0000::0001");
    let r = nova(
        &e,
        Method::POST,
        "/servers",
        tok,
        Some(json!({ "server": b })),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["server"]["adminPass"], "Sup3r-Secret");
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let r = nova(
        &e,
        Method::POST,
        "/servers",
        tok,
        Some(json!({ "server": base })),
        "2.1",
    )
    .await;
    assert_eq!(
        r.body["server"]["adminPass"].as_str().map(str::len),
        Some(12),
        "a generated one"
    );
    assert!(wait_status(&e, tok, &id, "ACTIVE").await);
    let s = nova(&e, Method::GET, &format!("/servers/{id}"), tok, None, "2.1")
        .await
        .body["server"]
        .clone();
    assert_eq!(s["accessIPv6"], "2001:db8::1");

    // One network's addresses.
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{id}/ips/n"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["n"][0]), set(&["addr", "version"]));
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{id}/ips/nope"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 404);

    // `ip` filter: a substring of a fixed address.
    let addr = s["addresses"]["n"][0]["addr"]
        .as_str()
        .expect("an address")
        .to_string();
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers?ip={addr}"),
        tok,
        None,
        "2.1",
    )
    .await;
    let found: Vec<&str> = r.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(found, [id.as_str()], "{}", r.text);
    let r = nova(&e, Method::GET, "/servers?ip=10.45.", tok, None, "2.1").await;
    assert_eq!(r.body["servers"], json!([]));
    let r = nova(&e, Method::GET, "/servers?ip=10.44.0", tok, None, "2.1").await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 2);

    // PUT /servers/{id}: only the basic view below 2.75, everything from 2.75.
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}"),
        tok,
        Some(json!({"server": {"name": "renamed", "accessIPv4": "10.1.1.1"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let k = keys(&r.body["server"]);
    assert!(
        k.is_subset(&set(BASIC_KEYS)),
        "unexpected keys: {:?}",
        k.difference(&set(BASIC_KEYS)).collect::<Vec<_>>()
    );
    assert_eq!(r.body["server"]["name"], "renamed");
    for ip in r.body["server"]["addresses"]["n"]
        .as_array()
        .expect("addresses")
    {
        assert_eq!(
            keys(ip),
            set(&["addr", "version"]),
            "no type or MAC below 2.75"
        );
    }
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}"),
        tok,
        Some(json!({"server": {"accessIPv4": "999.1.1.1"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}"),
        tok,
        Some(json!({"server": {"description": "d"}})),
        "2.75",
    )
    .await;
    assert!(
        r.body["server"]
            .get("OS-EXT-AZ:availability_zone")
            .is_some(),
        "{}",
        r.text
    );
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}/metadata/big"),
        tok,
        Some(json!({"meta": {"big": "v".repeat(256)}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 400);

    // Tags: a new tag answers 201 with its Location.
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}/tags/blue"),
        tok,
        None,
        "2.26",
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.headers["location"],
        format!("{}/compute/v2.1/servers/{id}/tags/blue", e.c.url).as_str()
    );
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}/tags/blue"),
        tok,
        None,
        "2.26",
    )
    .await;
    assert_eq!(r.status, 204);

    // createImage: a Location below 2.45, the id in the body from 2.45.
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"createImage": {"name": "snap-a"}})),
        "2.44",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let loc = r.headers["location"].to_str().unwrap().to_string();
    assert!(
        loc.starts_with(&format!("{}/image/images/", e.c.url)),
        "{loc}"
    );
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"createImage": {"name": "snap-b"}})),
        "2.45",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(keys(&r.body), set(&["image_id"]));

    // rebuild: 202 with the server (new image, name, metadata) and the requested password.
    let img2 = image(&e).await;
    assert!(wait_status(&e, tok, &id, "ACTIVE").await);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"rebuild": {"imageRef": img2, "adminPass": "N3w-Pass", "name": "rebuilt", "metadata": {"role": "web"}}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = &r.body["server"];
    assert_eq!(s["adminPass"], "N3w-Pass");
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["name"], "rebuilt");
    assert_eq!(s["image"]["id"], img2.as_str(), "the new image");
    assert_eq!(s["metadata"], json!({"role": "web"}));
    let mut bottoms = Vec::new();
    for region in e.sim.regions() {
        let b = call(
            Method::GET,
            &format!("{}/servers/detail?all_tenants=1", region.compute_url),
            Some(&e.admin),
            None,
            &[],
        )
        .await;
        bottoms.extend(b.body["servers"].as_array().cloned().unwrap_or_default());
    }
    let twin = bottoms
        .iter()
        .find(|b| b["name"] == format!("rebuilt@{id}"))
        .expect("the bottom server");
    assert_eq!(
        twin["metadata"]["cascade_top_id"],
        id.as_str(),
        "the top id survives new metadata"
    );
    assert_eq!(twin["metadata"]["role"], "web");
    let mut allowed = set(BASIC_KEYS);
    allowed.insert("adminPass".into());
    assert!(
        keys(s).is_subset(&allowed),
        "{:?}",
        keys(s).difference(&allowed).collect::<Vec<_>>()
    );
    assert!(wait_status(&e, tok, &id, "ACTIVE").await);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"rebuild": {"imageRef": img, "user_data": "aGVsbG8="}})),
        "2.57",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["server"]["user_data"], "aGVsbG8=");
    assert!(r.body["server"].get("key_name").is_some());
    assert_eq!(
        r.body["server"]["adminPass"].as_str().map(str::len),
        Some(12)
    );
    assert!(wait_status(&e, tok, &id, "ACTIVE").await);

    // resize, then confirmResize answers 204.
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"resize": {"flavorRef": "fb"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(wait_status(&e, tok, &id, "VERIFY_RESIZE").await);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"confirmResize": null})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The index follows the pod to the new flavor.
    let s = nova(&e, Method::GET, &format!("/servers/{id}"), tok, None, "2.1").await;
    assert_eq!(s.body["server"]["flavor"]["id"], "fb", "{}", s.text);
    let s = nova(
        &e,
        Method::GET,
        &format!("/servers/{id}"),
        tok,
        None,
        "2.47",
    )
    .await;
    assert_eq!(s.body["server"]["flavor"]["original_name"], "m1.b");

    // Quotas: nova-network's keys below 2.36 only.
    let p = &t.project_id;
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-quota-sets/{p}"),
        tok,
        None,
        "2.35",
    )
    .await;
    for k in [
        "floating_ips",
        "fixed_ips",
        "security_groups",
        "security_group_rules",
        "injected_files",
    ] {
        assert!(
            r.body["quota_set"].get(k).is_some(),
            "{k} at 2.35: {}",
            r.text
        );
    }
    assert!(r.body["quota_set"].get("networks").is_none());
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-quota-sets/{p}/detail"),
        tok,
        None,
        "2.36",
    )
    .await;
    for k in [
        "floating_ips",
        "fixed_ips",
        "security_groups",
        "security_group_rules",
    ] {
        assert!(r.body["quota_set"].get(k).is_none(), "{k} at 2.36");
    }
    let r = nova(
        &e,
        Method::PUT,
        &format!("/os-quota-sets/{p}"),
        &e.admin,
        Some(json!({"quota_set": {"security_groups": 50}})),
        "2.35",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota_set"]["security_groups"], 50);
    let r = nova(
        &e,
        Method::PUT,
        &format!("/os-quota-sets/{p}"),
        &e.admin,
        Some(json!({"quota_set": {"security_groups": 50}})),
        "2.36",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = nova(&e, Method::GET, "/limits", tok, None, "2.35").await;
    assert_eq!(r.body["limits"]["absolute"]["maxSecurityGroups"], 50);
    assert!(
        r.body["limits"]["absolute"]
            .get("totalFloatingIpsUsed")
            .is_some()
    );
    let r = nova(&e, Method::GET, "/limits", tok, None, "2.36").await;
    assert!(
        r.body["limits"]["absolute"]
            .get("maxSecurityGroups")
            .is_none()
    );

    // Key pairs without a public key are generated below 2.92.
    let r = nova(
        &e,
        Method::POST,
        "/os-keypairs",
        tok,
        Some(json!({"keypair": {"name": "gen"}})),
        "2.2",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let kp = &r.body["keypair"];
    let private = kp["private_key"].as_str().expect("private_key");
    assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assert!(
        kp["public_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
    assert_eq!(kp["type"], "ssh");
    assert_eq!(kp["fingerprint"].as_str().unwrap().split(':').count(), 16);
    if std::path::Path::new("/usr/bin/ssh-keygen").exists() {
        // OpenSSH itself reads the private key back to the same public key.
        let dir = std::env::temp_dir().join(format!("cascade-kp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("id");
        std::fs::write(&f, private).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let out = std::process::Command::new("/usr/bin/ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&f)
            .output()
            .unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let derived = String::from_utf8_lossy(&out.stdout);
        let mine: Vec<&str> = kp["public_key"]
            .as_str()
            .unwrap()
            .split(' ')
            .take(2)
            .collect();
        let theirs: Vec<&str> = derived.trim().split(' ').take(2).collect();
        assert_eq!(mine, theirs);
    }
    let r = nova(&e, Method::GET, "/os-keypairs/gen", tok, None, "2.2").await;
    assert!(
        r.body["keypair"].get("private_key").is_none(),
        "never shown again"
    );
    let r = nova(
        &e,
        Method::POST,
        "/os-keypairs",
        tok,
        Some(json!({"keypair": {"name": "junk", "public_key": "ssh-rsa JUNK nova@ubuntu"}})),
        "2.2",
    )
    .await;
    assert_eq!(r.status, 400, "a malformed key: {}", r.text);
    let r = nova(
        &e,
        Method::POST,
        "/os-keypairs",
        tok,
        Some(json!({"keypair": {"name": "gen2"}})),
        "2.92",
    )
    .await;
    assert_eq!(r.status, 400, "public_key is required from 2.92");

    e.sim.shutdown().await;
    drop(e.c);
    db.cleanup().await;
}
