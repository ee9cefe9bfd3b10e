//! Central networking through a real `cascade serve` process in front of simulated regions:
//! the Neutron API (shapes, filters, paging, errors, project scoping), and cross-pod
//! connectivity judged by the simulator's reachability oracle — one network across pods
//! (shadow ports), two networks behind a router in different pods (bridge network and extra
//! routes), a security group allowing only port 22 from one group — and that deleting a
//! server, a router interface or a rule removes exactly that reachability.

mod support;

use std::time::Duration;

use cascade_sim::{PortRef, ReachQuery, RegionSpec, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const CONFIG: &str =
    "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 1\ncall_timeout_secs = 5\n";

struct Env {
    c: Cascade,
    sim: SimHandle,
    admin: String,
}

async fn env(db: &Db, pods: usize) -> Env {
    let c = Cascade::start(db, CONFIG).await;
    let regions = (1..=pods)
        .map(|i| {
            let mut r = RegionSpec::new(format!("Pod{i}"), format!("az{i}")).instant();
            r.build_time = Duration::from_millis(100);
            r
        })
        .collect();
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), regions))
        .await
        .unwrap();
    let admin = admin_token(&c.url).await;
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
    }
    let (url, t) = (c.url.clone(), admin.clone());
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
                    .is_some_and(|p| p.len() == pods && p.iter().all(|p| p["state"] == "up"))
            }
        })
        .await
    );
    Env { c, sim, admin }
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

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// A tenant (project + member user) and its token.
async fn tenant(e: &Env, name: &str) -> (String, String) {
    let v3 = format!("{}/identity/v3", e.c.url);
    let r = call(
        Method::POST,
        &format!("{v3}/projects"),
        Some(&e.admin),
        Some(json!({"project": {"name": name}})),
        &[],
    )
    .await;
    let project = r.body["project"]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::POST,
        &format!("{v3}/users"),
        Some(&e.admin),
        Some(json!({"user": {"name": name, "password": "pw", "default_project_id": project}})),
        &[],
    )
    .await;
    let user = r.body["user"]["id"].as_str().unwrap().to_string();
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
        &format!("{v3}/projects/{project}/users/{user}/roles/{member}"),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    let (t, _) = token(&e.c.url, name, "pw", Some(name)).await;
    (project, t)
}

#[tokio::test]
async fn neutron_api_on_sqlite() {
    let db = Db::sqlite();
    neutron_api(&db).await;
    db.cleanup().await;
}

#[tokio::test]
async fn neutron_api_on_postgres() {
    let db = Db::postgres();
    neutron_api(&db).await;
    db.cleanup().await;
}

async fn neutron_api(db: &Db) {
    let e = env(db, 2).await;
    let (pa, ta) = tenant(&e, "alice").await;
    let (_pb, tb) = tenant(&e, "bob").await;

    // Version documents and extensions.
    let r = call(
        Method::GET,
        &format!("{}/network", e.c.url),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["versions"][0]["id"], "v2.0");
    let r = neutron(&e, Method::GET, "/extensions", &ta, None).await;
    let aliases: Vec<&str> = r.body["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["alias"].as_str())
        .collect();
    assert!(
        aliases.contains(&"router")
            && aliases.contains(&"security-group")
            && aliases.contains(&"extraroute")
    );
    let r = neutron(&e, Method::GET, &format!("/quotas/{pa}"), &ta, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota"]["network"], 100);

    // Networks: defaults, provider attributes hidden from tenants, admin sees them.
    let net = create(
        &e,
        &ta,
        "networks",
        "network",
        json!({"name": "net1", "admin_state_up": true}),
    )
    .await;
    assert_eq!(net["status"], "ACTIVE");
    assert_eq!(net["mtu"], 1450);
    assert_eq!(net["project_id"], pa);
    assert!(net.get("provider:segmentation_id").is_none());
    let shown = neutron(
        &e,
        Method::GET,
        &format!("/networks/{}", id(&net)),
        &e.admin,
        None,
    )
    .await;
    assert_eq!(shown.body["network"]["provider:network_type"], "vxlan");
    let vni = shown.body["network"]["provider:segmentation_id"]
        .as_i64()
        .unwrap();
    assert!((100_000..=199_999).contains(&vni));
    // Unknown AZ hint, provider attributes from a tenant, unknown attribute.
    let r = neutron(
        &e,
        Method::POST,
        "/networks",
        &ta,
        Some(json!({"network": {"availability_zone_hints": ["nowhere"]}})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["NeutronError"]["type"], "AvailabilityZoneNotFound");
    let r = neutron(
        &e,
        Method::POST,
        "/networks",
        &ta,
        Some(json!({"network": {"provider:network_type": "vlan"}})),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = neutron(
        &e,
        Method::POST,
        "/networks",
        &ta,
        Some(json!({"network": {"bogus": 1}})),
    )
    .await;
    assert_eq!(r.status, 400);
    // Admin-chosen segment conflicts.
    let r = neutron(
        &e,
        Method::POST,
        "/networks",
        &e.admin,
        Some(
            json!({"network": {"provider:network_type": "vxlan", "provider:segmentation_id": vni}}),
        ),
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["NeutronError"]["type"], "TunnelIdInUse");

    // Subnets: defaults, overlap, v6.
    let sub = create(
        &e,
        &ta,
        "subnets",
        "subnet",
        json!({"name": "sub1", "network_id": id(&net), "cidr": "10.9.0.0/24", "ip_version": 4}),
    )
    .await;
    assert_eq!(sub["gateway_ip"], "10.9.0.1");
    assert_eq!(
        sub["allocation_pools"],
        json!([{"start": "10.9.0.2", "end": "10.9.0.254"}])
    );
    assert_eq!(sub["enable_dhcp"], true);
    let r = neutron(
        &e,
        Method::POST,
        "/subnets",
        &ta,
        Some(json!({"subnet": {"network_id": id(&net), "cidr": "10.9.0.128/25", "ip_version": 4}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let v6 = create(
        &e,
        &ta,
        "subnets",
        "subnet",
        json!({"network_id": id(&net), "cidr": "fd00:9::/64", "ip_version": 6}),
    )
    .await;
    assert_eq!(v6["gateway_ip"], "fd00:9::1");
    let r = neutron(
        &e,
        Method::GET,
        &format!("/networks/{}", id(&net)),
        &ta,
        None,
    )
    .await;
    assert_eq!(r.body["network"]["subnets"].as_array().unwrap().len(), 2);

    // Ports: one v4 + one v6 address, MAC under fa:16:3e, default security group.
    let port = create(&e, &ta, "ports", "port", json!({"network_id": id(&net)})).await;
    assert_eq!(port["fixed_ips"].as_array().unwrap().len(), 2);
    assert!(
        port["mac_address"]
            .as_str()
            .unwrap()
            .starts_with("fa:16:3e:")
    );
    assert_eq!(port["security_groups"].as_array().unwrap().len(), 1);
    assert!(port.get("binding:host_id").is_none());
    let fixed = create(&e, &ta, "ports", "port", json!({"network_id": id(&net), "fixed_ips": [{"subnet_id": id(&sub), "ip_address": "10.9.0.50"}]})).await;
    assert_eq!(fixed["fixed_ips"][0]["ip_address"], "10.9.0.50");
    let r = neutron(
        &e,
        Method::POST,
        "/ports",
        &ta,
        Some(json!({"port": {"network_id": id(&net), "fixed_ips": [{"ip_address": "10.9.0.50"}]}})),
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["NeutronError"]["type"], "IpAddressAlreadyAllocated");
    let r = neutron(
        &e,
        Method::POST,
        "/ports",
        &ta,
        Some(json!({"port": {"network_id": id(&net), "fixed_ips": [{"ip_address": "10.8.0.5"}]}})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = neutron(
        &e,
        Method::POST,
        "/ports",
        &ta,
        Some(json!({"port": {"network_id": id(&net), "mac_address": fixed["mac_address"]}})),
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["NeutronError"]["type"], "MacAddressInUse");
    let r = neutron(
        &e,
        Method::POST,
        "/ports",
        &ta,
        Some(json!({"port": {"network_id": id(&net), "binding:host_id": "h"}})),
    )
    .await;
    assert_eq!(r.status, 403);

    // Filters, fields, sorting, paging with links.
    for i in 0..3 {
        create(
            &e,
            &ta,
            "networks",
            "network",
            json!({"name": format!("page{i}"), "tags": ["paged"]}),
        )
        .await;
    }
    let r = neutron(
        &e,
        Method::GET,
        "/networks?name=net1&fields=id&fields=name",
        &ta,
        None,
    )
    .await;
    assert_eq!(
        r.body["networks"],
        json!([{"id": id(&net), "name": "net1"}])
    );
    let r = neutron(
        &e,
        Method::GET,
        "/networks?tags=paged&sort_key=name&sort_dir=desc&limit=2",
        &ta,
        None,
    )
    .await;
    let names: Vec<&str> = r.body["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["page2", "page1"]);
    let next = r.body["networks_links"][0]["href"]
        .as_str()
        .unwrap()
        .to_string();
    let r = call(Method::GET, &next, Some(&ta), None, &[]).await;
    assert_eq!(r.body["networks"][0]["name"], "page0");
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 1);

    // Security groups: the default group with its rules; rule validation and duplicates.
    let r = neutron(&e, Method::GET, "/security-groups?name=default", &ta, None).await;
    let default = r.body["security_groups"][0].clone();
    assert_eq!(default["security_group_rules"].as_array().unwrap().len(), 4);
    let sg = create(
        &e,
        &ta,
        "security-groups",
        "security_group",
        json!({"name": "web"}),
    )
    .await;
    assert_eq!(sg["security_group_rules"].as_array().unwrap().len(), 2);
    let rule = json!({"security_group_id": id(&sg), "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"});
    create(
        &e,
        &ta,
        "security-group-rules",
        "security_group_rule",
        rule.clone(),
    )
    .await;
    let r = neutron(
        &e,
        Method::POST,
        "/security-group-rules",
        &ta,
        Some(json!({"security_group_rule": rule})),
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["NeutronError"]["type"], "SecurityGroupRuleExists");
    let r = neutron(&e, Method::POST, "/security-group-rules", &ta, Some(json!({"security_group_rule": {"security_group_id": id(&sg), "direction": "ingress", "protocol": "tcp", "port_range_min": 30, "port_range_max": 20}}))).await;
    assert_eq!(r.status, 400);

    // Project scoping: bob sees nothing of alice's and cannot use her network.
    let r = neutron(&e, Method::GET, "/networks", &tb, None).await;
    assert!(
        r.body["networks"].as_array().unwrap().is_empty(),
        "{}",
        r.text
    );
    assert_eq!(
        neutron(&e, Method::GET, &format!("/ports/{}", id(&port)), &tb, None)
            .await
            .status,
        404
    );
    let r = neutron(
        &e,
        Method::POST,
        "/ports",
        &tb,
        Some(json!({"port": {"network_id": id(&net)}})),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        neutron(
            &e,
            Method::DELETE,
            &format!("/networks/{}", id(&net)),
            &tb,
            None
        )
        .await
        .status,
        404
    );
    // Admin sees all, filters by project.
    let r = neutron(
        &e,
        Method::GET,
        &format!("/networks?project_id={pa}"),
        &e.admin,
        None,
    )
    .await;
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 4);
    // A shared network is visible to bob, who may put a port on it.
    let shared = create(
        &e,
        &e.admin,
        "networks",
        "network",
        json!({"name": "public-ish", "shared": true}),
    )
    .await;
    create(
        &e,
        &e.admin,
        "subnets",
        "subnet",
        json!({"network_id": id(&shared), "cidr": "172.31.0.0/24"}),
    )
    .await;
    create(&e, &tb, "ports", "port", json!({"network_id": id(&shared)})).await;

    // Deleting a network with ports: 409; subnets in use: 409; then clean up.
    let r = neutron(
        &e,
        Method::DELETE,
        &format!("/networks/{}", id(&net)),
        &ta,
        None,
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["NeutronError"]["type"], "NetworkInUse");
    let r = neutron(
        &e,
        Method::DELETE,
        &format!("/subnets/{}", id(&sub)),
        &ta,
        None,
    )
    .await;
    assert_eq!(r.status, 409);
    for p in [&port, &fixed] {
        assert_eq!(
            neutron(&e, Method::DELETE, &format!("/ports/{}", id(p)), &ta, None)
                .await
                .status,
            204
        );
    }
    // The address is free again.
    create(
        &e,
        &ta,
        "ports",
        "port",
        json!({"network_id": id(&net), "fixed_ips": [{"ip_address": "10.9.0.50"}]}),
    )
    .await;

    // Routers: interface by subnet, overlap, routes, tags.
    let net2 = create(&e, &ta, "networks", "network", json!({"name": "net2"})).await;
    let sub2 = create(
        &e,
        &ta,
        "subnets",
        "subnet",
        json!({"network_id": id(&net2), "cidr": "10.10.0.0/24"}),
    )
    .await;
    let net3 = create(&e, &ta, "networks", "network", json!({"name": "net3"})).await;
    let sub3 = create(
        &e,
        &ta,
        "subnets",
        "subnet",
        json!({"network_id": id(&net3), "cidr": "10.10.0.0/25"}),
    )
    .await;
    let router = create(&e, &ta, "routers", "router", json!({"name": "r1"})).await;
    let r = neutron(
        &e,
        Method::PUT,
        &format!("/routers/{}/add_router_interface", id(&router)),
        &ta,
        Some(json!({"subnet_id": id(&sub2)})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["subnet_id"], id(&sub2));
    let r = neutron(
        &e,
        Method::PUT,
        &format!("/routers/{}/add_router_interface", id(&router)),
        &ta,
        Some(json!({"subnet_id": id(&sub3)})),
    )
    .await;
    assert_eq!(r.status, 400, "overlapping cidr on one router: {}", r.text);
    let r = neutron(&e, Method::PUT, &format!("/routers/{}", id(&router)), &ta, Some(json!({"router": {"routes": [{"destination": "192.168.0.0/24", "nexthop": "10.10.0.9"}]}}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = neutron(&e, Method::PUT, &format!("/routers/{}", id(&router)), &ta, Some(json!({"router": {"routes": [{"destination": "192.168.0.0/24", "nexthop": "10.99.0.9"}]}}))).await;
    assert_eq!(r.status, 400);
    let r = neutron(
        &e,
        Method::PUT,
        &format!("/routers/{}/tags/blue", id(&router)),
        &ta,
        None,
    )
    .await;
    assert_eq!(r.status, 201);
    let r = neutron(&e, Method::GET, "/routers?tags=blue", &ta, None).await;
    assert_eq!(r.body["routers"].as_array().unwrap().len(), 1);
    let r = neutron(
        &e,
        Method::DELETE,
        &format!("/routers/{}", id(&router)),
        &ta,
        None,
    )
    .await;
    assert_eq!(r.status, 409);
}

/// The bottom port of a top port in a pod, from Cascade's routing table.
impl Env {
    /// Every network a simulated region holds, asked directly as admin.
    async fn sim_networks(&self, region: &str) -> Vec<Value> {
        let r = self.sim.region(region).unwrap();
        let resp = call(
            Method::GET,
            &format!("{}/v2.0/networks", r.network_url),
            Some(&self.admin),
            None,
            &[],
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        resp.body["networks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

async fn bottom_port(e: &Env, top: &str, rt: &str) -> Vec<(String, String)> {
    let r = call(
        Method::GET,
        &format!("{}/v1.0/routings?top_id={top}&resource_type={rt}", e.c.url),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    let pods = call(
        Method::GET,
        &format!("{}/v1.0/pods", e.c.url),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    r.body["routings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| {
            let pod = x["pod_id"].as_str()?;
            let region = pods.body["pods"]
                .as_array()?
                .iter()
                .find(|p| p["pod_id"] == pod)?["region_name"]
                .as_str()?
                .to_string();
            Some((region, x["bottom_id"].as_str()?.to_string()))
        })
        .collect()
}

/// A server's top port and its bottom twin `(region, bottom id)`.
async fn server_port(e: &Env, token: &str, server: &str) -> (String, PortRef) {
    let r = neutron(
        e,
        Method::GET,
        &format!("/ports?device_id={server}"),
        token,
        None,
    )
    .await;
    let top = r.body["ports"][0]["id"]
        .as_str()
        .expect("server port")
        .to_string();
    let b = bottom_port(e, &top, "port").await;
    let (region, bottom) = b.first().cloned().expect("bottom twin");
    (top, PortRef::new(region, bottom))
}

fn reach(e: &Env, from: &PortRef, to: &PortRef, protocol: &str, port: Option<u16>) -> bool {
    let q = ReachQuery {
        from: from.clone(),
        to: to.clone(),
        protocol: protocol.into(),
        port,
    };
    e.sim.can_reach(&q).unwrap().reachable
}

async fn eventually_reach(
    e: &Env,
    from: &PortRef,
    to: &PortRef,
    protocol: &str,
    port: Option<u16>,
    want: bool,
) -> bool {
    eventually(Duration::from_secs(30), || async {
        reach(e, from, to, protocol, port) == want
    })
    .await
}

async fn flavor_and_image(e: &Env) -> String {
    let r = call(
        Method::POST,
        &format!("{}/compute/v2.1/flavors", e.c.url),
        Some(&e.admin),
        Some(json!({"flavor": {"name": "m1.test", "id": "42", "vcpus": 1, "ram": 256, "disk": 1}})),
        &[("OpenStack-API-Version", "compute 2.61")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(Method::POST, &format!("{}/image/v2/images", e.c.url), Some(&e.admin),
        Some(json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "visibility": "public"})), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let image = r.body["id"].as_str().unwrap().to_string();
    let up = reqwest::Client::new()
        .put(format!("{}/image/v2/images/{image}/file", e.c.url))
        .header("x-auth-token", &e.admin)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 204);
    image
}

async fn boot(e: &Env, token: &str, name: &str, image: &str, az: &str, networks: Value) -> String {
    let server = json!({"name": name, "flavorRef": "42", "imageRef": image, "networks": networks, "availability_zone": az});
    let r = call(
        Method::POST,
        &format!("{}/compute/v2.1/servers", e.c.url),
        Some(token),
        Some(json!({"server": server})),
        &[("OpenStack-API-Version", "compute 2.100")],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let url = format!("{}/compute/v2.1/servers/{id}", e.c.url);
    let ok = eventually(Duration::from_secs(30), || async {
        call(
            Method::GET,
            &url,
            Some(token),
            None,
            &[("OpenStack-API-Version", "compute 2.100")],
        )
        .await
        .body["server"]["status"]
            == "ACTIVE"
    })
    .await;
    if !ok {
        let r = call(
            Method::GET,
            &url,
            Some(token),
            None,
            &[("OpenStack-API-Version", "compute 2.100")],
        )
        .await;
        panic!("server {name} did not become ACTIVE: {}", r.text);
    }
    id
}

async fn delete_server(e: &Env, token: &str, id: &str) {
    let url = format!("{}/compute/v2.1/servers/{id}", e.c.url);
    let r = call(
        Method::DELETE,
        &url,
        Some(token),
        None,
        &[("OpenStack-API-Version", "compute 2.100")],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(
        eventually(Duration::from_secs(30), || async {
            call(Method::GET, &url, Some(token), None, &[]).await.status == 404
        })
        .await
    );
}

#[tokio::test]
async fn one_network_across_three_pods() {
    let db = Db::sqlite();
    let e = env(&db, 3).await;
    let (_p, t) = tenant(&e, "carol").await;
    let image = flavor_and_image(&e).await;
    let net = create(&e, &t, "networks", "network", json!({"name": "span"})).await;
    create(
        &e,
        &t,
        "subnets",
        "subnet",
        json!({"network_id": id(&net), "cidr": "10.20.0.0/24"}),
    )
    .await;
    let nets = json!([{"uuid": id(&net)}]);
    let s1 = boot(&e, &t, "vm1", &image, "az1", nets.clone()).await;
    let s2 = boot(&e, &t, "vm2", &image, "az2", nets.clone()).await;
    let (top1, p1) = server_port(&e, &t, &s1).await;
    let (top2, p2) = server_port(&e, &t, &s2).await;
    assert_eq!(p1.region, "Pod1");
    assert_eq!(p2.region, "Pod2");
    // Same IP and MAC as the top port in the pod.
    let top = neutron(&e, Method::GET, &format!("/ports/{top1}"), &t, None)
        .await
        .body["port"]
        .clone();
    let pod1 = e.sim.region("Pod1").unwrap();
    let b = call(
        Method::GET,
        &format!("{}/v2.0/ports/{}", pod1.network_url, p1.port_id),
        Some(&e.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(b.body["port"]["mac_address"], top["mac_address"]);
    assert_eq!(
        b.body["port"]["fixed_ips"][0]["ip_address"],
        top["fixed_ips"][0]["ip_address"]
    );
    // The default group allows traffic from members: both ways, once shadows converge.
    assert!(
        eventually_reach(&e, &p1, &p2, "tcp", Some(80), true).await,
        "vm1 -> vm2"
    );
    assert!(reach(&e, &p2, &p1, "icmp", None));
    assert_eq!(bottom_port(&e, &top1, "shadow_port").await.len(), 1);
    assert_eq!(bottom_port(&e, &top2, "shadow_port").await.len(), 1);
    // A third pod joins: everyone has shadows of everyone.
    let s3 = boot(&e, &t, "vm3", &image, "az3", nets.clone()).await;
    let (_top3, p3) = server_port(&e, &t, &s3).await;
    assert!(
        eventually_reach(&e, &p3, &p1, "tcp", Some(22), true).await,
        "vm3 -> vm1"
    );
    assert!(
        eventually_reach(&e, &p2, &p3, "tcp", Some(22), true).await,
        "vm2 -> vm3"
    );
    assert!(
        eventually(Duration::from_secs(20), || async {
            bottom_port(&e, &top1, "shadow_port").await.len() == 2
        })
        .await
    );
    // Deleting vm2 removes exactly its reachability (and its shadows everywhere).
    delete_server(&e, &t, &s2).await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            bottom_port(&e, &top2, "shadow_port").await.is_empty()
        })
        .await
    );
    assert!(eventually_reach(&e, &p1, &p2, "tcp", Some(80), false).await);
    assert!(reach(&e, &p1, &p3, "tcp", Some(80)));
    db.cleanup().await;
}

#[tokio::test]
async fn router_across_pods_and_security_groups() {
    let db = Db::sqlite();
    let e = env(&db, 2).await;
    let (project, t) = tenant(&e, "dave").await;
    let image = flavor_and_image(&e).await;
    let a = create(&e, &t, "networks", "network", json!({"name": "a"})).await;
    let sa = create(
        &e,
        &t,
        "subnets",
        "subnet",
        json!({"network_id": id(&a), "cidr": "10.31.0.0/24"}),
    )
    .await;
    let b = create(&e, &t, "networks", "network", json!({"name": "b"})).await;
    let sb = create(
        &e,
        &t,
        "subnets",
        "subnet",
        json!({"network_id": id(&b), "cidr": "10.32.0.0/24"}),
    )
    .await;
    // Groups: "ssh-from-admins" lets in tcp/22 only from members of "admins".
    let admins = create(
        &e,
        &t,
        "security-groups",
        "security_group",
        json!({"name": "admins"}),
    )
    .await;
    let target = create(
        &e,
        &t,
        "security-groups",
        "security_group",
        json!({"name": "ssh-from-admins"}),
    )
    .await;
    let rule = create(&e, &t, "security-group-rules", "security_group_rule",
        json!({"security_group_id": id(&target), "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_group_id": id(&admins)})).await;
    let pa = create(
        &e,
        &t,
        "ports",
        "port",
        json!({"network_id": id(&a), "security_groups": [id(&admins)]}),
    )
    .await;
    let pb = create(
        &e,
        &t,
        "ports",
        "port",
        json!({"network_id": id(&b), "security_groups": [id(&target)]}),
    )
    .await;
    let s1 = boot(&e, &t, "va", &image, "az1", json!([{"port": id(&pa)}])).await;
    let s2 = boot(&e, &t, "vb", &image, "az2", json!([{"port": id(&pb)}])).await;
    let (_, ba) = server_port(&e, &t, &s1).await;
    let (_, bb) = server_port(&e, &t, &s2).await;
    assert!(!reach(&e, &ba, &bb, "tcp", Some(22)), "no router yet");
    let router = create(&e, &t, "routers", "router", json!({"name": "r"})).await;
    for s in [&sa, &sb] {
        let r = neutron(
            &e,
            Method::PUT,
            &format!("/routers/{}/add_router_interface", id(&router)),
            &t,
            Some(json!({"subnet_id": id(s)})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Routed through the bridge, port 22 only, and only from the admins group.
    assert!(
        eventually_reach(&e, &ba, &bb, "tcp", Some(22), true).await,
        "va -> vb:22 via the bridge"
    );
    assert!(!reach(&e, &ba, &bb, "tcp", Some(80)));
    // Each pod has one bottom router; the bridge interfaces exist.
    assert_eq!(bottom_port(&e, &id(&router), "router").await.len(), 2);
    assert_eq!(bottom_port(&e, &id(&router), "bridge_port").await.len(), 2);
    // Removing the rule removes that reachability.
    let r = neutron(
        &e,
        Method::DELETE,
        &format!("/security-group-rules/{}", id(&rule)),
        &t,
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(
        eventually_reach(&e, &ba, &bb, "tcp", Some(22), false).await,
        "rule removed"
    );
    create(&e, &t, "security-group-rules", "security_group_rule",
        json!({"security_group_id": id(&target), "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_group_id": id(&admins)})).await;
    assert!(
        eventually_reach(&e, &ba, &bb, "tcp", Some(22), true).await,
        "rule back"
    );
    // Removing an interface removes the route.
    let r = neutron(
        &e,
        Method::PUT,
        &format!("/routers/{}/remove_router_interface", id(&router)),
        &t,
        Some(json!({"subnet_id": id(&sb)})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        eventually_reach(&e, &ba, &bb, "tcp", Some(22), false).await,
        "interface removed"
    );
    // Deleting a server booted on the tenant's own port keeps the port and unbinds it (the
    // port's document has no "created for" mark: reading it must not fail).
    delete_server(&e, &t, &s1).await;
    let r = neutron(&e, Method::GET, &format!("/ports/{}", id(&pa)), &t, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["port"]["device_id"], "", "{}", r.text);
    assert_eq!(r.body["port"]["device_owner"], "", "{}", r.text);
    // The project's bridge network lives while a router needs it, and goes with the last one.
    let bridge = format!("bridge_net_{project}");
    assert!(!bottom_port(&e, &bridge, "network").await.is_empty());
    let r = neutron(
        &e,
        Method::PUT,
        &format!("/routers/{}/remove_router_interface", id(&router)),
        &t,
        Some(json!({"subnet_id": id(&sa)})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = neutron(
        &e,
        Method::DELETE,
        &format!("/routers/{}", id(&router)),
        &t,
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(
        eventually(Duration::from_secs(20), || async {
            bottom_port(&e, &bridge, "network").await.is_empty()
                && bottom_port(&e, &id(&router), "router").await.is_empty()
        })
        .await,
        "bridge network left in the pods: {:?}",
        bottom_port(&e, &bridge, "network").await
    );
    for region in ["Pod1", "Pod2"] {
        let nets = e.sim_networks(region).await;
        assert!(
            !nets.iter().any(|n| n["name"] == json!(bridge)),
            "{region} still has {bridge}"
        );
    }
    db.cleanup().await;
}

/// A server on a network with an IPv4 and a SLAAC IPv6 subnet: the top port's EUI-64
/// address is the one its twin gets in the pod (sent by subnet only, since Neutron refuses
/// an explicit address in a SLAAC subnet and derives the same one from the MAC), and the
/// shadow port of the other pod carries both addresses too.
#[tokio::test]
async fn dual_stack_slaac_ports_in_pods() {
    let db = Db::sqlite();
    let e = env(&db, 2).await;
    let (_p, t) = tenant(&e, "dave").await;
    let image = flavor_and_image(&e).await;
    let net = create(&e, &t, "networks", "network", json!({"name": "dual"})).await;
    create(
        &e,
        &t,
        "subnets",
        "subnet",
        json!({"network_id": id(&net), "cidr": "10.30.0.0/24"}),
    )
    .await;
    let slaac = create(
        &e,
        &t,
        "subnets",
        "subnet",
        json!({"network_id": id(&net), "ip_version": 6,
        "cidr": "2001:db8:30::/64", "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
    )
    .await;
    let nets = json!([{"uuid": id(&net)}]);
    let s1 = boot(&e, &t, "vm1", &image, "az1", nets.clone()).await;
    let s2 = boot(&e, &t, "vm2", &image, "az2", nets).await;
    let addresses = |port: &Value| {
        let mut v: Vec<String> = port["fixed_ips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["ip_address"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    for (server, region) in [(&s1, "Pod1"), (&s2, "Pod2")] {
        let (top_id, bottom) = server_port(&e, &t, server).await;
        assert_eq!(bottom.region, region);
        let top = neutron(&e, Method::GET, &format!("/ports/{top_id}"), &t, None)
            .await
            .body["port"]
            .clone();
        let mac = top["mac_address"].as_str().unwrap();
        let b: Vec<u8> = mac
            .split(':')
            .map(|x| u8::from_str_radix(x, 16).unwrap())
            .collect();
        let eui = format!(
            "2001:db8:30:0:{:x}:{:x}:{:x}:{:x}",
            u16::from_be_bytes([b[0] ^ 2, b[1]]),
            u16::from_be_bytes([b[2], 0xff]),
            u16::from_be_bytes([0xfe, b[3]]),
            u16::from_be_bytes([b[4], b[5]])
        );
        let want = addresses(&top);
        assert_eq!(want.len(), 2, "{top}");
        assert!(want.contains(&eui), "{want:?} {eui}");
        let pod = e.sim.region(region).unwrap();
        let r = call(
            Method::GET,
            &format!("{}/v2.0/ports/{}", pod.network_url, bottom.port_id),
            Some(&e.admin),
            None,
            &[],
        )
        .await;
        assert_eq!(addresses(&r.body["port"]), want, "{}", r.text);
        // The other pod's shadow of this port carries the same addresses.
        assert!(
            eventually(Duration::from_secs(20), || async {
                bottom_port(&e, &top_id, "shadow_port").await.len() == 1
            })
            .await,
            "shadow of {top_id}"
        );
        let (shadow_region, shadow) = bottom_port(&e, &top_id, "shadow_port").await.pop().unwrap();
        assert_ne!(shadow_region, region);
        let pod = e.sim.region(&shadow_region).unwrap();
        let r = call(
            Method::GET,
            &format!("{}/v2.0/ports/{shadow}", pod.network_url),
            Some(&e.admin),
            None,
            &[],
        )
        .await;
        assert_eq!(addresses(&r.body["port"]), want, "{}", r.text);
    }
    // Deleting the SLAAC subnet takes its address off the ports, in the pods too.
    let r = neutron(
        &e,
        Method::DELETE,
        &format!("/subnets/{}", id(&slaac)),
        &t,
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (_, bottom) = server_port(&e, &t, &s1).await;
    let pod = e.sim.region("Pod1").unwrap();
    let url = format!("{}/v2.0/ports/{}", pod.network_url, bottom.port_id);
    assert!(
        eventually(Duration::from_secs(20), || async {
            let r = call(Method::GET, &url, Some(&e.admin), None, &[]).await;
            r.body["port"]["fixed_ips"]
                .as_array()
                .is_some_and(|f| f.len() == 1)
        })
        .await,
        "the twin keeps its SLAAC address"
    );
    db.cleanup().await;
}

/// Two projects each with a router joining networks in two pods: each project's bridge subnet
/// in each pod gets a pool inside its own bridge CIDR (the pool reservation was once shared by
/// all projects in a pod, so the second project's pods refused its bridge subnet with
/// "allocation pool ... spans beyond the subnet cidr"), and both routers carry traffic.
#[tokio::test]
async fn routers_of_two_projects_across_pods() {
    let db = Db::sqlite();
    let e = env(&db, 2).await;
    let image = flavor_and_image(&e).await;
    for (n, name) in ["erin", "frank"].iter().enumerate() {
        let (project, t) = tenant(&e, name).await;
        let mut ports = Vec::new();
        let mut subnets = Vec::new();
        for (i, az) in ["az1", "az2"].iter().enumerate() {
            let net = create(&e, &t, "networks", "network", json!({"name": az})).await;
            let sub = create(
                &e,
                &t,
                "subnets",
                "subnet",
                json!({"network_id": id(&net), "cidr": format!("10.{}.{i}.0/24", 50 + n)}),
            )
            .await;
            subnets.push(id(&sub));
            let s = boot(&e, &t, az, &image, az, json!([{"uuid": id(&net)}])).await;
            ports.push(server_port(&e, &t, &s).await.1);
        }
        let router = create(&e, &t, "routers", "router", json!({"name": "r"})).await;
        for s in &subnets {
            let r = neutron(
                &e,
                Method::PUT,
                &format!("/routers/{}/add_router_interface", id(&router)),
                &t,
                Some(json!({"subnet_id": s})),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        assert!(
            eventually_reach(&e, &ports[0], &ports[1], "tcp", Some(22), true).await,
            "{name}: az1 -> az2 through the bridge"
        );
        let bridges = bottom_port(&e, &format!("bridge_subnet_{project}"), "bridge_subnet").await;
        assert_eq!(bridges.len(), 2, "{name}: {bridges:?}");
        for (region, bsub) in bridges {
            let pod = e.sim.region(&region).unwrap();
            let r = call(
                Method::GET,
                &format!("{}/v2.0/subnets/{bsub}", pod.network_url),
                Some(&e.admin),
                None,
                &[],
            )
            .await;
            let cidr = r.body["subnet"]["cidr"].as_str().unwrap();
            let (net, len) = cidr.split_once('/').unwrap();
            let net = u32::from(net.parse::<std::net::Ipv4Addr>().unwrap());
            let mask = u32::MAX << (32 - len.parse::<u32>().unwrap());
            let pools = r.body["subnet"]["allocation_pools"].as_array().unwrap();
            assert!(!pools.is_empty());
            for p in pools {
                for k in ["start", "end"] {
                    let ip: std::net::Ipv4Addr = p[k].as_str().unwrap().parse().unwrap();
                    assert_eq!(
                        u32::from(ip) & mask,
                        net,
                        "{name} {region}: {ip} outside {cidr}"
                    );
                }
            }
        }
    }
    db.cleanup().await;
}
