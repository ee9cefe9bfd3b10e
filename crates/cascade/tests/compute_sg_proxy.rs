//! Nova's deprecated security-group proxy through a real `cascade serve` in front of two
//! simulated regions, checked against Tempest's schemas and tests: `os-security-groups` and
//! `os-security-group-rules` (404 from 2.36) over the central Neutron, and
//! `GET /servers/{id}/os-security-groups`.

mod fidelity;
mod support;

use std::collections::BTreeSet;

use fidelity::*;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

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
