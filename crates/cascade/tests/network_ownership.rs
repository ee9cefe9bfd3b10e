//! Neutron's ownership rules through a real `cascade serve` in front of a simulated region, with
//! two tenants of the embedded identity: a port may not name another project's router as a
//! router interface (`DeviceIDNotOwnedByTenant`); a port naming another project's router or
//! server never joins that router, the server's addresses or its security-group changes, and
//! survives their deletion; only the network owner or an admin chooses fixed addresses (shared
//! networks included), `network:*` device owners, floating IP addresses and router gateway
//! addresses; the gateway address is never allocated; another project's shared subnet is no
//! router interface; and pools ending at the top of the IPv4 and IPv6 spaces exhaust cleanly.

mod support;

use std::time::Duration;

use cascade_sim::{RegionSpec, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const CONFIG: &str =
    "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 1\ncall_timeout_secs = 5\n";
const NOVA: (&str, &str) = ("OpenStack-API-Version", "compute 2.100");

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

/// A refused request: its status, Neutron error type and (when given) message.
fn expect_err(r: Reply, status: u16, ty: &str, message: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["NeutronError"]["type"], ty, "{}", r.text);
    if let Some(m) = message {
        assert_eq!(r.body["NeutronError"]["message"], m, "{}", r.text);
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn ips(port: &Value) -> Vec<String> {
    port["fixed_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["ip_address"].as_str().unwrap().to_string())
        .collect()
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
    let body = json!({"user": {"name": name, "password": "pw", "default_project_id": project}});
    let r = call(
        Method::POST,
        &format!("{v3}/users"),
        Some(&e.admin),
        Some(body),
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
    let url = format!("{v3}/projects/{project}/users/{user}/roles/{member}");
    call(Method::PUT, &url, Some(&e.admin), None, &[]).await;
    let (t, _) = token(&e.c.url, name, "pw", Some(name)).await;
    (project, t)
}

/// A network with one subnet; returns `(network, subnet)`.
async fn net_with_subnet(
    e: &Env,
    token: &str,
    name: &str,
    net_extra: Value,
    subnet: Value,
) -> (Value, Value) {
    let mut nb = json!({"name": name});
    nb.as_object_mut()
        .unwrap()
        .extend(net_extra.as_object().unwrap().clone());
    let net = create(e, token, "networks", "network", nb).await;
    let mut sb = json!({"network_id": id(&net), "ip_version": 4});
    sb.as_object_mut()
        .unwrap()
        .extend(subnet.as_object().unwrap().clone());
    let sub = create(e, token, "subnets", "subnet", sb).await;
    (net, sub)
}

async fn flavor_and_image(e: &Env) -> String {
    let flavor =
        json!({"flavor": {"name": "m1.test", "id": "42", "vcpus": 1, "ram": 256, "disk": 1}});
    let r = call(
        Method::POST,
        &format!("{}/compute/v2.1/flavors", e.c.url),
        Some(&e.admin),
        Some(flavor),
        &[NOVA],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let image = json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "visibility": "public"});
    let r = call(
        Method::POST,
        &format!("{}/image/v2/images", e.c.url),
        Some(&e.admin),
        Some(image),
        &[],
    )
    .await;
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

async fn server(e: &Env, token: &str, id: &str) -> Value {
    let r = call(
        Method::GET,
        &format!("{}/compute/v2.1/servers/{id}", e.c.url),
        Some(token),
        None,
        &[NOVA],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["server"].clone()
}

async fn boot(e: &Env, token: &str, image: &str, net: &str) -> String {
    let body = json!({"server": {"name": "vm", "flavorRef": "42", "imageRef": image, "networks": [{"uuid": net}], "availability_zone": "az1"}});
    let r = call(
        Method::POST,
        &format!("{}/compute/v2.1/servers", e.c.url),
        Some(token),
        Some(body),
        &[NOVA],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let sid = r.body["server"]["id"].as_str().unwrap().to_string();
    let ok = eventually(Duration::from_secs(30), || async {
        server(e, token, &sid).await["status"] == "ACTIVE"
    })
    .await;
    assert!(
        ok,
        "server did not become ACTIVE: {}",
        server(e, token, &sid).await
    );
    sid
}

#[tokio::test]
async fn ownership_rules_on_sqlite() {
    let db = Db::sqlite();
    ownership_rules(&db).await;
    db.cleanup().await;
}

#[tokio::test]
async fn ownership_rules_on_postgres() {
    let db = Db::postgres();
    ownership_rules(&db).await;
    db.cleanup().await;
}

async fn ownership_rules(db: &Db) {
    let e = env(db).await;
    let (_pa, ta) = tenant(&e, "alice").await;
    let (pb, tb) = tenant(&e, "bob").await;
    router_devices(&e, &ta, &tb, &pb).await;
    chosen_addresses(&e, &ta, &tb).await;
    address_space_tops(&e, &ta).await;
    server_devices(&e, &ta, &tb).await;
}

/// Rule 1: router-interface ports naming another project's router; and what such a port
/// (made by an admin, who may) does to that router: nothing.
async fn router_devices(e: &Env, ta: &str, tb: &str, pb: &str) {
    let (_na, sa) =
        net_with_subnet(e, ta, "a-net", json!({}), json!({"cidr": "10.1.0.0/24"})).await;
    let ra = create(e, ta, "routers", "router", json!({"name": "a-router"})).await;
    let r = neutron(
        e,
        Method::PUT,
        &format!("/routers/{}/add_router_interface", id(&ra)),
        ta,
        Some(json!({"subnet_id": id(&sa)})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (nb, _sb) =
        net_with_subnet(e, tb, "b-net", json!({}), json!({"cidr": "10.2.0.0/24"})).await;

    let msg = format!(
        "The following device_id {} is not owned by your tenant or matches another tenants router.",
        id(&ra)
    );
    for owner in [
        "network:router_interface",
        "network:ha_router_replicated_interface",
        "network:router_interface_distributed",
    ] {
        let body =
            json!({"port": {"network_id": id(&nb), "device_owner": owner, "device_id": id(&ra)}});
        expect_err(
            neutron(e, Method::POST, "/ports", tb, Some(body)).await,
            409,
            "DeviceIDNotOwnedByTenant",
            Some(&msg),
        );
    }
    // By update: a new owner, or a new device for a port that has an interface owner.
    let plain = create(e, tb, "ports", "port", json!({"network_id": id(&nb)})).await;
    let path = format!("/ports/{}", id(&plain));
    let body = json!({"port": {"device_owner": "network:router_interface", "device_id": id(&ra)}});
    expect_err(
        neutron(e, Method::PUT, &path, tb, Some(body)).await,
        409,
        "DeviceIDNotOwnedByTenant",
        Some(&msg),
    );
    let rb = create(e, tb, "routers", "router", json!({"name": "b-router"})).await;
    let own = create(e, tb, "ports", "port", json!({"network_id": id(&nb), "device_owner": "network:router_interface", "device_id": id(&rb)})).await;
    let body = json!({"port": {"device_id": id(&ra)}});
    expect_err(
        neutron(
            e,
            Method::PUT,
            &format!("/ports/{}", id(&own)),
            tb,
            Some(body),
        )
        .await,
        409,
        "DeviceIDNotOwnedByTenant",
        Some(&msg),
    );
    // Unknown device ids pass, as in Neutron.
    create(e, tb, "ports", "port", json!({"network_id": id(&nb), "device_owner": "network:router_interface", "device_id": "no-such-router"})).await;

    // An admin may make such a port (for bob, on bob's network): it is still bob's port, not
    // an interface of alice's router, and alice's router's life does not touch it.
    let forged = create(e, &e.admin, "ports", "port", json!({"network_id": id(&nb), "project_id": pb, "device_owner": "network:router_interface", "device_id": id(&ra)})).await;
    let forged_gw = create(e, &e.admin, "ports", "port", json!({"network_id": id(&nb), "project_id": pb, "device_owner": "network:router_gateway", "device_id": id(&ra)})).await;
    let r = neutron(
        e,
        Method::PUT,
        &format!("/routers/{}", id(&ra)),
        ta,
        Some(json!({"router": {"external_gateway_info": {}}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = neutron(
        e,
        Method::PUT,
        &format!("/routers/{}/remove_router_interface", id(&ra)),
        ta,
        Some(json!({"subnet_id": id(&sa)})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = neutron(
        e,
        Method::DELETE,
        &format!("/routers/{}", id(&ra)),
        ta,
        None,
    )
    .await;
    assert_eq!(
        r.status, 204,
        "a port of another project kept alice's router in use: {}",
        r.text
    );
    for p in [&forged, &forged_gw] {
        let r = neutron(e, Method::GET, &format!("/ports/{}", id(p)), tb, None).await;
        assert_eq!(
            r.status, 200,
            "alice's router took bob's port with it: {}",
            r.text
        );
    }

    // add_router_interface: another project's port is invisible (404), another project's
    // globally shared subnet is refused (400).
    let (_pubn, pubs) = net_with_subnet(
        e,
        &e.admin,
        "public-shared",
        json!({"shared": true}),
        json!({"cidr": "10.70.0.0/24"}),
    )
    .await;
    let path = format!("/routers/{}/add_router_interface", id(&rb));
    let msg = format!(
        "Bad router request: Cannot add interface to router because subnet {} is not owned by project making the request",
        id(&pubs)
    );
    let r = neutron(
        e,
        Method::PUT,
        &path,
        tb,
        Some(json!({"subnet_id": id(&pubs)})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["NeutronError"]["message"].as_str()),
        (400, Some(msg.as_str())),
        "{}",
        r.text
    );
    let a_port = create(e, ta, "ports", "port", json!({"network_id": id(&_na)})).await;
    let r = neutron(
        e,
        Method::PUT,
        &path,
        tb,
        Some(json!({"port_id": id(&a_port)})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

/// Rule 3: fixed addresses, device owners, floating and gateway addresses.
async fn chosen_addresses(e: &Env, ta: &str, tb: &str) {
    let (shared, s) = net_with_subnet(
        e,
        &e.admin,
        "shared",
        json!({"shared": true}),
        json!({"cidr": "10.50.0.0/24", "gateway_ip": "10.50.0.1"}),
    )
    .await;
    // Bob may pick the subnet of a shared network, not the address.
    let p = create(
        e,
        tb,
        "ports",
        "port",
        json!({"network_id": id(&shared), "fixed_ips": [{"subnet_id": id(&s)}]}),
    )
    .await;
    assert_ne!(ips(&p), vec!["10.50.0.1".to_string()]);
    for (fixed, rules) in [
        (
            json!([{"subnet_id": id(&s), "ip_address": "10.50.0.10"}]),
            "rule:create_port:fixed_ips:subnet_id and rule:create_port:fixed_ips:ip_address",
        ),
        (
            json!([{"ip_address": "10.50.0.1"}]),
            "rule:create_port:fixed_ips:ip_address",
        ),
    ] {
        let msg = format!(
            "(rule:create_port and (rule:create_port:fixed_ips and ({rules}))) is disallowed by policy"
        );
        let body = json!({"port": {"network_id": id(&shared), "fixed_ips": fixed}});
        expect_err(
            neutron(e, Method::POST, "/ports", tb, Some(body)).await,
            403,
            "PolicyNotAuthorized",
            Some(&msg),
        );
    }
    let body = json!({"port": {"fixed_ips": [{"subnet_id": id(&s), "ip_address": "10.50.0.11"}]}});
    let msg = "(rule:update_port and (rule:update_port:fixed_ips and (rule:update_port:fixed_ips:subnet_id and rule:update_port:fixed_ips:ip_address))) is disallowed by policy";
    expect_err(
        neutron(
            e,
            Method::PUT,
            &format!("/ports/{}", id(&p)),
            tb,
            Some(body),
        )
        .await,
        403,
        "PolicyNotAuthorized",
        Some(msg),
    );
    // Keeping the address it holds is no choice.
    let body = json!({"port": {"fixed_ips": p["fixed_ips"].clone(), "name": "kept"}});
    let r = neutron(
        e,
        Method::PUT,
        &format!("/ports/{}", id(&p)),
        tb,
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = json!({"port": {"network_id": id(&shared), "device_owner": "network:dhcp"}});
    let msg = "(rule:create_port and rule:create_port:device_owner) is disallowed by policy";
    expect_err(
        neutron(e, Method::POST, "/ports", tb, Some(body)).await,
        403,
        "PolicyNotAuthorized",
        Some(msg),
    );
    let body = json!({"port": {"device_owner": "network:router_gateway"}});
    let msg = "(rule:update_port and rule:update_port:device_owner) is disallowed by policy";
    expect_err(
        neutron(
            e,
            Method::PUT,
            &format!("/ports/{}", id(&p)),
            tb,
            Some(body),
        )
        .await,
        403,
        "PolicyNotAuthorized",
        Some(msg),
    );
    // The owner (admin here) chooses freely.
    let mine = create(
        e,
        &e.admin,
        "ports",
        "port",
        json!({"network_id": id(&shared), "fixed_ips": [{"ip_address": "10.50.0.10"}]}),
    )
    .await;
    assert_eq!(ips(&mine), vec!["10.50.0.10".to_string()]);

    // The gateway is never allocated: a /29 gives its five pool addresses, then 409.
    let (tiny, _) =
        net_with_subnet(e, ta, "tiny", json!({}), json!({"cidr": "10.60.0.0/29"})).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.extend(ips(&create(
            e,
            ta,
            "ports",
            "port",
            json!({"network_id": id(&tiny)}),
        )
        .await));
    }
    got.sort();
    assert_eq!(
        got,
        [
            "10.60.0.2",
            "10.60.0.3",
            "10.60.0.4",
            "10.60.0.5",
            "10.60.0.6"
        ]
    );
    let body = json!({"port": {"network_id": id(&tiny)}});
    expect_err(
        neutron(e, Method::POST, "/ports", ta, Some(body)).await,
        409,
        "IpAddressGenerationFailure",
        None,
    );

    // Floating IPs: only an admin chooses the address; the router gateway's address likewise.
    let (ext, _) = net_with_subnet(
        e,
        &e.admin,
        "ext",
        json!({"router:external": true, "availability_zone_hints": ["az1"]}),
        json!({"cidr": "172.24.4.0/24"}),
    )
    .await;
    let body = json!({"floatingip": {"floating_network_id": id(&ext), "floating_ip_address": "172.24.4.1"}});
    let msg = "(rule:create_floatingip and rule:create_floatingip:floating_ip_address) is disallowed by policy";
    expect_err(
        neutron(e, Method::POST, "/floatingips", tb, Some(body)).await,
        403,
        "PolicyNotAuthorized",
        Some(msg),
    );
    let f = create(
        e,
        tb,
        "floatingips",
        "floatingip",
        json!({"floating_network_id": id(&ext)}),
    )
    .await;
    assert_ne!(f["floating_ip_address"], "172.24.4.1");
    let f = create(
        e,
        &e.admin,
        "floatingips",
        "floatingip",
        json!({"floating_network_id": id(&ext), "floating_ip_address": "172.24.4.50"}),
    )
    .await;
    assert_eq!(f["floating_ip_address"], "172.24.4.50");
    let gw = json!({"network_id": id(&ext), "external_fixed_ips": [{"ip_address": "172.24.4.1"}]});
    let msg = "(rule:create_router and (rule:create_router:external_gateway_info and (rule:create_router:external_gateway_info:network_id and rule:create_router:external_gateway_info:external_fixed_ips))) is disallowed by policy";
    expect_err(
        neutron(
            e,
            Method::POST,
            "/routers",
            tb,
            Some(json!({"router": {"name": "r", "external_gateway_info": gw}})),
        )
        .await,
        403,
        "PolicyNotAuthorized",
        Some(msg),
    );
    let r = create(
        e,
        tb,
        "routers",
        "router",
        json!({"name": "r", "external_gateway_info": {"network_id": id(&ext)}}),
    )
    .await;
    let gw_ip = &r["external_gateway_info"]["external_fixed_ips"][0]["ip_address"];
    assert!(gw_ip.is_string() && gw_ip != "172.24.4.1", "{r}");
}

/// Rule 4: pools ending at 255.255.255.255 and ffff:…:ffff allocate to the last address, then
/// answer 409, and the service keeps answering.
async fn address_space_tops(e: &Env, ta: &str) {
    for (cidr, version, pool, want) in [
        (
            "ffff:ffff:ffff:ffff::/64",
            6,
            Some(
                json!([{"start": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "end": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}]),
            ),
            [
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ],
        ),
        (
            "255.255.255.254/31",
            4,
            None,
            ["255.255.255.254", "255.255.255.255"],
        ),
    ] {
        let mut sb = json!({"cidr": cidr, "ip_version": version, "gateway_ip": null});
        if let Some(p) = pool {
            sb["allocation_pools"] = p;
        }
        let (net, _) = net_with_subnet(e, ta, cidr, json!({}), sb).await;
        let mut got = Vec::new();
        for _ in 0..2 {
            got.extend(ips(&create(
                e,
                ta,
                "ports",
                "port",
                json!({"network_id": id(&net)}),
            )
            .await));
        }
        got.sort();
        assert_eq!(got, want);
        let body = json!({"port": {"network_id": id(&net)}});
        expect_err(
            neutron(e, Method::POST, "/ports", ta, Some(body)).await,
            409,
            "IpAddressGenerationFailure",
            None,
        );
        let r = neutron(e, Method::GET, &format!("/networks/{}", id(&net)), ta, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

/// Rule 2: a port of bob's naming alice's server as its device.
async fn server_devices(e: &Env, ta: &str, tb: &str) {
    let image = flavor_and_image(e).await;
    let (na, _) = net_with_subnet(
        e,
        ta,
        "a-servers",
        json!({}),
        json!({"cidr": "10.80.0.0/24"}),
    )
    .await;
    let (nb, _) = net_with_subnet(
        e,
        tb,
        "b-servers",
        json!({}),
        json!({"cidr": "10.81.0.0/24"}),
    )
    .await;
    let sid = boot(e, ta, &image, &id(&na)).await;
    let forged = create(
        e,
        tb,
        "ports",
        "port",
        json!({"network_id": id(&nb), "device_owner": "compute:az1", "device_id": sid}),
    )
    .await;
    let bob_groups = forged["security_groups"].clone();
    // Never in the server's addresses (server show reads the central Neutron live).
    for _ in 0..3 {
        let s = server(e, ta, &sid).await;
        assert!(s["addresses"].get("a-servers").is_some(), "{s}");
        assert!(
            s["addresses"].get("b-servers").is_none(),
            "bob's port shows in alice's server: {s}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Alice's security-group change reaches her ports only.
    create(
        e,
        ta,
        "security-groups",
        "security_group",
        json!({"name": "web"}),
    )
    .await;
    let url = format!("{}/compute/v2.1/servers/{sid}/action", e.c.url);
    let r = call(
        Method::POST,
        &url,
        Some(ta),
        Some(json!({"addSecurityGroup": {"name": "web"}})),
        &[NOVA],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = neutron(e, Method::GET, &format!("/ports/{}", id(&forged)), tb, None).await;
    assert_eq!(r.body["port"]["security_groups"], bob_groups, "{}", r.text);
    // Deleting the server leaves bob's port as it was.
    let r = call(
        Method::DELETE,
        &format!("{}/compute/v2.1/servers/{sid}", e.c.url),
        Some(ta),
        None,
        &[NOVA],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let gone = eventually(Duration::from_secs(30), || async {
        call(
            Method::GET,
            &format!("{}/compute/v2.1/servers/{sid}", e.c.url),
            Some(ta),
            None,
            &[],
        )
        .await
        .status
            == 404
    })
    .await;
    assert!(gone);
    // (The release may trail the 404 a little: watch for a while.)
    for _ in 0..6 {
        let r = neutron(e, Method::GET, &format!("/ports/{}", id(&forged)), tb, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.body["port"]["device_id"],
            sid.as_str(),
            "alice's server delete unbound bob's port"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
