//! Neutron and Glance details Tempest checks, through a real `cascade serve` in front of a
//! simulated region: IPv6 subnets (EUI-64 addresses from the port's MAC in `slaac` and
//! `dhcpv6-stateless` subnets, Neutron's 400s for invalid `ipv6_ra_mode` /
//! `ipv6_address_mode` combinations, v4 + v6 on one network), the subnets of another
//! project's external network hidden from a tenant, security group rules with invalid port
//! ranges, Neutron's agents list (empty for a member, the pods' agents for an admin), and
//! Glance image patches in both media types with RFC 6901 pointers.

mod support;

use std::time::Duration;

use cascade_sim::{RegionSpec, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const CONFIG: &str =
    "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 1\ncall_timeout_secs = 5\n";

struct Env {
    c: Cascade,
    _sim: SimHandle,
    admin: String,
}

async fn env(db: &Db) -> Env {
    let c = Cascade::start(db, CONFIG).await;
    let mut region = RegionSpec::new("Pod1", "az1").instant();
    region.build_time = Duration::from_millis(100);
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), vec![region]))
        .await
        .unwrap();
    let admin = admin_token(&c.url).await;
    register_pods(&c.url, &admin, &sim).await;
    Env {
        c,
        _sim: sim,
        admin,
    }
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

async fn create(e: &Env, token: &str, coll: &str, single: &str, body: Value) -> Value {
    let r = neutron(
        e,
        Method::POST,
        &format!("/{coll}"),
        token,
        Some(json!({ single: body })),
    )
    .await;
    assert_eq!(r.status, 201, "create {single}: {}", r.text);
    r.body[single].clone()
}

async fn refused(e: &Env, token: &str, coll: &str, single: &str, body: Value) -> Reply {
    let r = neutron(
        e,
        Method::POST,
        &format!("/{coll}"),
        token,
        Some(json!({ single: body })),
    )
    .await;
    assert_eq!(r.status, 400, "{single} {body}: {}", r.text);
    r
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn ips_by_subnet(port: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = port["fixed_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["subnet_id"].as_str().unwrap().to_string(),
                f["ip_address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn neutron_fidelity_on_sqlite() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let t = tenant(&e.c.url, &e.admin, "ipv6", "ipv6", Some("member"))
        .await
        .token;
    ipv6_subnets(&e, &t).await;
    external_subnets_hidden(&e, &t).await;
    security_group_port_ranges(&e, &t).await;
    agents(&e, &t).await;
    db.cleanup().await;
}

/// `GET /v2.0/agents`: a member gets Neutron's empty list; an admin gets the pods' agents,
/// each with the availability zone of its pod.
async fn agents(e: &Env, t: &str) {
    let r = neutron(e, Method::GET, "/agents", t, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["agents"], json!([]));
    let r = neutron(e, Method::GET, "/agents", &e.admin, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let agents = r.body["agents"].as_array().unwrap();
    let types: Vec<_> = agents
        .iter()
        .map(|a| a["agent_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["DHCP agent", "L3 agent"], "{}", r.text);
    assert!(
        agents
            .iter()
            .all(|a| a["availability_zone"] == "az1" && a["alive"] == true)
    );
}

async fn ipv6_subnets(e: &Env, t: &str) {
    let net = id(&create(e, t, "networks", "network", json!({"name": "v6"})).await);
    // Invalid combinations (tempest test_dhcpv6_invalid_options), with Neutron's text.
    for (ra, am) in [
        ("dhcpv6-stateless", "dhcpv6-stateful"),
        ("dhcpv6-stateless", "slaac"),
        ("slaac", "dhcpv6-stateful"),
        ("dhcpv6-stateful", "dhcpv6-stateless"),
        ("dhcpv6-stateful", "slaac"),
        ("slaac", "dhcpv6-stateless"),
    ] {
        let r = refused(
            e,
            t,
            "subnets",
            "subnet",
            json!({"network_id": net, "ip_version": 6,
            "cidr": "2001:db8:1::/64", "ipv6_ra_mode": ra, "ipv6_address_mode": am}),
        )
        .await;
        assert_eq!(
            r.body["NeutronError"]["message"],
            format!(
                "Invalid input for operation: ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{am}' is not valid. If both attributes are set, they must be the same value"
            )
        );
        assert_eq!(r.body["NeutronError"]["type"], "InvalidInput");
    }
    let r = refused(
        e,
        t,
        "subnets",
        "subnet",
        json!({"network_id": net, "ip_version": 4,
        "cidr": "10.61.0.0/24", "ipv6_address_mode": "slaac"}),
    )
    .await;
    assert!(
        r.text
            .contains("ipv6_address_mode is not valid when ip_version is 4")
    );
    let r = refused(
        e,
        t,
        "subnets",
        "subnet",
        json!({"network_id": net, "ip_version": 6,
        "cidr": "2001:db8:1::/80", "ipv6_address_mode": "slaac"}),
    )
    .await;
    assert!(
        r.text.contains("requires the prefix to be /64"),
        "{}",
        r.text
    );

    // v4 + SLAAC v6 + stateful v6 on one network (tempest test_dhcpv6_two_subnets and
    // test_dhcpv6_64_subnets).
    let v4 = id(&create(
        e,
        t,
        "subnets",
        "subnet",
        json!({"network_id": net, "cidr": "10.61.0.0/24"}),
    )
    .await);
    let slaac = id(&create(
        e,
        t,
        "subnets",
        "subnet",
        json!({"network_id": net, "ip_version": 6,
        "cidr": "2001:db8:1::/64", "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
    )
    .await);
    let stateless = id(&create(
        e,
        t,
        "subnets",
        "subnet",
        json!({"network_id": net, "ip_version": 6,
        "cidr": "2001:db8:2::/64", "ipv6_address_mode": "dhcpv6-stateless"}),
    )
    .await);
    let stateful = id(&create(
        e,
        t,
        "subnets",
        "subnet",
        json!({"network_id": net, "ip_version": 6,
        "cidr": "2001:db8:3::/64", "ipv6_address_mode": "dhcpv6-stateful"}),
    )
    .await);
    let port = create(
        e,
        t,
        "ports",
        "port",
        json!({"network_id": net, "mac_address": "fa:16:3e:12:34:56"}),
    )
    .await;
    let ips = ips_by_subnet(&port);
    assert_eq!(ips.len(), 4, "{ips:?}");
    let ip_of = |sid: &str| ips.iter().find(|x| x.0 == sid).map(|x| x.1.clone());
    // netutils.get_ipv6_addr_by_EUI64(cidr, 'fa:16:3e:12:34:56')
    assert_eq!(
        ip_of(&slaac).as_deref(),
        Some("2001:db8:1:0:f816:3eff:fe12:3456")
    );
    assert_eq!(
        ip_of(&stateless).as_deref(),
        Some("2001:db8:2:0:f816:3eff:fe12:3456")
    );
    assert!(ip_of(&v4).unwrap().starts_with("10.61.0."));
    let dhcp = ip_of(&stateful).unwrap();
    assert!(dhcp.starts_with("2001:db8:3::"), "{dhcp}");
    assert_ne!(dhcp, "2001:db8:3:0:f816:3eff:fe12:3456");
    // An address of a SLAAC subnet is not chosen by the client.
    let r = refused(
        e,
        t,
        "ports",
        "port",
        json!({"network_id": net,
        "fixed_ips": [{"subnet_id": slaac, "ip_address": "2001:db8:1::99"}]}),
    )
    .await;
    assert_eq!(
        r.body["NeutronError"]["type"],
        "AllocationOnAutoAddressSubnet"
    );
    // Asking for the SLAAC subnet alone gives the EUI-64 address of the port's MAC.
    let port = create(
        e,
        t,
        "ports",
        "port",
        json!({"network_id": net,
        "mac_address": "fa:16:3e:00:00:01", "fixed_ips": [{"subnet_id": slaac}]}),
    )
    .await;
    assert_eq!(
        ips_by_subnet(&port),
        vec![(slaac.clone(), "2001:db8:1:0:f816:3eff:fe00:1".to_string())]
    );
    // A SLAAC subnet goes with ports on it, its addresses leaving them (tempest
    // test_create_delete_slaac_subnet_with_ports); a stateful one does not.
    let r = neutron(e, Method::DELETE, &format!("/subnets/{stateful}"), t, None).await;
    assert_eq!(r.status, 409, "{}", r.text);
    for sub in [&slaac, &stateless] {
        let r = neutron(e, Method::DELETE, &format!("/subnets/{sub}"), t, None).await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let r = neutron(e, Method::GET, &format!("/ports/{}", id(&port)), t, None).await;
    assert_eq!(r.body["port"]["fixed_ips"], json!([]), "{}", r.text);
    let r = neutron(e, Method::DELETE, &format!("/networks/{net}"), t, None).await;
    assert_eq!(r.status, 409);
    assert!(
        r.text
            .contains("There are one or more ports still in use on the network"),
        "{}",
        r.text
    );
}

async fn external_subnets_hidden(e: &Env, t: &str) {
    // tempest test_external_network_visibility: Cascade lists no `subnet-external-network`,
    // so the subnets of a non-shared external network are not a tenant's to see.
    let ext = id(&create(
        e,
        &e.admin,
        "networks",
        "network",
        json!({"name": "public", "router:external": true, "availability_zone_hints": ["az1"]}),
    )
    .await);
    let sub = id(&create(
        e,
        &e.admin,
        "subnets",
        "subnet",
        json!({"network_id": ext, "cidr": "172.24.9.0/24"}),
    )
    .await);
    let r = neutron(e, Method::GET, "/extensions", t, None).await;
    assert!(!r.text.contains("subnet-external-network"));
    let r = neutron(e, Method::GET, "/networks?router:external=True", t, None).await;
    let nets = r.body["networks"].as_array().unwrap();
    assert!(nets.iter().any(|n| n["id"] == ext.as_str()));
    assert!(nets.iter().all(|n| n["router:external"] == true));
    let r = neutron(
        e,
        Method::GET,
        &format!("/subnets?network_id={ext}"),
        t,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["subnets"], json!([]), "{}", r.text);
    let r = neutron(e, Method::GET, &format!("/subnets/{sub}"), t, None).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = neutron(
        e,
        Method::GET,
        &format!("/subnets?network_id={ext}"),
        &e.admin,
        None,
    )
    .await;
    assert_eq!(r.body["subnets"].as_array().unwrap().len(), 1);
    // A shared network's subnets stay visible.
    let shared = id(&create(
        e,
        &e.admin,
        "networks",
        "network",
        json!({"name": "shared", "shared": true}),
    )
    .await);
    create(
        e,
        &e.admin,
        "subnets",
        "subnet",
        json!({"network_id": shared, "cidr": "172.25.9.0/24"}),
    )
    .await;
    let r = neutron(
        e,
        Method::GET,
        &format!("/subnets?network_id={shared}"),
        t,
        None,
    )
    .await;
    assert_eq!(r.body["subnets"].as_array().unwrap().len(), 1, "{}", r.text);
}

async fn security_group_port_ranges(e: &Env, t: &str) {
    // tempest test_create_security_group_rule_with_invalid_ports.
    let sg = id(&create(
        e,
        t,
        "security-groups",
        "security_group",
        json!({"name": "ports"}),
    )
    .await);
    let cases: [(&str, Option<i64>, Option<i64>, &str); 9] = [
        ("tcp", Some(-16), Some(80), "Invalid value for port -16"),
        (
            "tcp",
            Some(80),
            Some(79),
            "port_range_min must be <= port_range_max",
        ),
        ("tcp", Some(80), Some(65536), "Invalid value for port 65536"),
        (
            "tcp",
            None,
            Some(6),
            "port_range_min must be <= port_range_max",
        ),
        ("tcp", Some(-16), Some(65536), "Invalid value for port"),
        ("icmp", Some(1), Some(256), "Invalid value for ICMP code"),
        ("icmp", Some(-1), Some(25), "Invalid value"),
        (
            "icmp",
            None,
            Some(6),
            "ICMP type (port-range-min) is missing",
        ),
        ("icmp", Some(300), Some(1), "Invalid value for ICMP type"),
    ];
    for (protocol, lo, hi, msg) in cases {
        let r = refused(
            e,
            t,
            "security-group-rules",
            "security_group_rule",
            json!({
            "security_group_id": sg, "direction": "ingress", "ethertype": "IPv4",
            "protocol": protocol, "port_range_min": lo, "port_range_max": hi}),
        )
        .await;
        assert!(r.text.contains(msg), "{protocol} {lo:?} {hi:?}: {}", r.text);
    }
    let r = create(
        e,
        t,
        "security-group-rules",
        "security_group_rule",
        json!({
        "security_group_id": sg, "direction": "ingress", "ethertype": "IPv4",
        "protocol": "icmp", "port_range_min": 8, "port_range_max": 0}),
    )
    .await;
    assert_eq!(r["port_range_min"], 8);
    // No other group may take the name `default` (tempest
    // test_create_security_group_update_name_default).
    let r = neutron(
        e,
        Method::PUT,
        &format!("/security-groups/{sg}"),
        t,
        Some(json!({"security_group": {"name": "default"}})),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(
        r.body["NeutronError"]["type"],
        "SecurityGroupDefaultAlreadyExists"
    );
}

#[tokio::test]
async fn glance_patch_dialects_and_pointers() {
    let db = Db::sqlite();
    let c = Cascade::start(&db, CONFIG).await;
    let admin = admin_token(&c.url).await;
    let r = call(
        Method::POST,
        &format!("{}/image/v2/images", c.url),
        Some(&admin),
        Some(json!({"name": "p", "disk_format": "raw", "container_format": "bare"})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let url = format!(
        "{}/image/v2/images/{}",
        c.url,
        r.body["id"].as_str().unwrap()
    );
    let patch = |ct: &'static str, body: Value| {
        let (url, admin) = (url.clone(), admin.clone());
        async move {
            let r = reqwest::Client::new()
                .patch(&url)
                .header("x-auth-token", admin)
                .header("content-type", ct)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    const V20: &str = "application/openstack-images-v2.0-json-patch";
    const V21: &str = "application/openstack-images-v2.1-json-patch";
    // What tempest's images client sends.
    let (s, b) = patch(V20, json!([{"replace": "/name", "value": "renamed"}])).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["name"], "renamed");
    // `~1` is `/` and `~0` is `~` in a property name.
    let (s, b) = patch(
        V21,
        json!([{"op": "add", "path": "/hw~1arch", "value": "x86"},
               {"op": "add", "path": "/a~0b", "value": "t"}]),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["hw/arch"], "x86");
    assert_eq!(b["a~b"], "t");
    let (s, b) = patch(V20, json!([{"remove": "/hw~1arch"}])).await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("hw/arch").is_none(), "{b}");
    let (s, _) = patch(
        V21,
        json!([{"op": "add", "path": "/bad~2escape", "value": "x"}]),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = patch(V20, json!([{"op": "add", "path": "/x", "value": "x"}])).await;
    assert_eq!(s, 400);
    db.cleanup().await;
}
