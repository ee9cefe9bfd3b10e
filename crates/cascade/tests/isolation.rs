//! The isolation suite: two tenants, a reader and a user with no role at all probe every route
//! of every service and the admin API against a real `cascade serve` with two simulated pods.
//!
//! The sweep enumerates the routes from `cascade policy list` (which reads them from the
//! router itself), so a new route is probed the day it is added. For each route it fills the
//! path with the other tenant's ids and checks: without a token, nothing but public routes
//! answers; a role-less (unscoped) token gets 401/403 everywhere a project is needed; a
//! tenant gets 403 on admin routes; and no successful answer to anyone but the owner ever
//! contains the owner's ids. Then the owner's resources must be intact, and targeted checks
//! cover lists with `all_tenants` / `project_id` filters, actions, readers and the admin API.
//! Runs on SQLite and PostgreSQL.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use cascade_sim::{RegionSpec, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const MONITOR_TOKEN: &str = "monitor-secret-for-tests";
const PUBKEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm0jl9sZ1c0QkNmS3Ex0aqV8uN0aX5e2a6cQ5y7b8Qm bob@test";

struct World {
    c: Cascade,
    _sim: SimHandle,
    admin: String,
    /// project ids
    pa: String,
    pb: String,
    /// user ids
    bob: String,
    member_role: String,
    /// Bob's resources (project B), by kind.
    server: String,
    network: String,
    subnet: String,
    port: String,
    router: String,
    secgroup: String,
    volume: String,
    snapshot: String,
    image: String,
    group: String,
    keypair: String,
}

async fn req(
    w: &World,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let headers: &[(&str, &str)] = if path.starts_with("/compute") {
        &[("OpenStack-API-Version", "compute 2.100")]
    } else if path.starts_with("/volume") {
        &[("OpenStack-API-Version", "volume 3.60")]
    } else {
        &[]
    };
    call(method, &format!("{}{path}", w.c.url), token, body, headers).await
}

async fn ok_json(w: &World, method: Method, path: &str, token: &str, body: Value) -> Value {
    let r = req(w, method.clone(), path, Some(token), Some(body)).await;
    assert!(
        (200..300).contains(&r.status),
        "{method} {path}: {} {}",
        r.status,
        r.text
    );
    r.body
}

fn id_of(v: &Value, key: &str) -> String {
    v[key]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no {key}.id in {v}"))
        .to_string()
}

async fn role_id(url: &str, admin: &str, name: &str) -> String {
    let r = call(
        Method::GET,
        &format!("{url}/identity/v3/roles?name={name}"),
        Some(admin),
        None,
        &[],
    )
    .await;
    r.body["roles"][0]["id"].as_str().unwrap().to_string()
}

async fn scoped(url: &str, user: &str, project: &str) -> String {
    let (t, r) = token(url, user, "pw", Some(project)).await;
    assert_eq!(r.status, 201, "{user}@{project}: {}", r.text);
    t
}

/// Cascade with two simulated pods, tenants A (alice member, dave reader) and B (bob member),
/// carol with no role anywhere, and a full set of bob's resources.
async fn world(db: &Db) -> World {
    let config = format!(
        "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 1\ncall_timeout_secs = 3\n\n[monitoring]\ntoken = \"{MONITOR_TOKEN}\"\n"
    );
    let c = Cascade::start(db, &config).await;
    let regions = (1..=2)
        .map(|i| {
            let mut r = RegionSpec::new(format!("Pod{i}"), format!("az{i}")).instant();
            r.build_time = Duration::from_millis(200);
            r
        })
        .collect();
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), regions))
        .await
        .unwrap();
    let admin = admin_token(&c.url).await;
    register_pods(&c.url, &admin, &sim).await;
    let url = c.url.clone();
    let pa = tenant(&url, &admin, "tenant-a", "alice", Some("member"))
        .await
        .project_id;
    let bob_tenant = tenant(&url, &admin, "tenant-b", "bob", Some("member")).await;
    let (pb, bob) = (bob_tenant.project_id, bob_tenant.user_id);
    tenant(&url, &admin, "tenant-a", "dave", Some("reader")).await;
    tenant(&url, &admin, "tenant-a", "carol", None).await;
    let member_role = role_id(&url, &admin, "member").await;
    let mut w = World {
        c,
        _sim: sim,
        admin,
        pa,
        pb,
        bob,
        member_role,
        server: String::new(),
        network: String::new(),
        subnet: String::new(),
        port: String::new(),
        router: String::new(),
        secgroup: String::new(),
        volume: String::new(),
        snapshot: String::new(),
        image: String::new(),
        group: String::new(),
        keypair: "bobkey".into(),
    };
    let admin = w.admin.clone();
    ok_json(
        &w,
        Method::POST,
        "/compute/v2.1/flavors",
        &admin,
        json!({"flavor": {"name": "m1.iso", "id": "42", "vcpus": 1, "ram": 256, "disk": 1}}),
    )
    .await;
    let bob = scoped(&w.c.url, "bob", "tenant-b").await;
    // Bob's private image, with bytes.
    let img = ok_json(&w, Method::POST, "/image/v2/images", &bob,
        json!({"name": "bob-img", "disk_format": "qcow2", "container_format": "bare", "visibility": "private"})).await;
    w.image = img["id"].as_str().unwrap().to_string();
    let up = reqwest::Client::new()
        .put(format!("{}/image/v2/images/{}/file", w.c.url, w.image))
        .header("x-auth-token", &bob)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 204);
    let n = ok_json(
        &w,
        Method::POST,
        "/network/v2.0/networks",
        &bob,
        json!({"network": {"name": "bob-net"}}),
    )
    .await;
    w.network = id_of(&n, "network");
    let s = ok_json(
        &w,
        Method::POST,
        "/network/v2.0/subnets",
        &bob,
        json!({"subnet": {"network_id": w.network, "cidr": "10.9.0.0/24", "ip_version": 4}}),
    )
    .await;
    w.subnet = id_of(&s, "subnet");
    let p = ok_json(
        &w,
        Method::POST,
        "/network/v2.0/ports",
        &bob,
        json!({"port": {"network_id": w.network}}),
    )
    .await;
    w.port = id_of(&p, "port");
    let r = ok_json(
        &w,
        Method::POST,
        "/network/v2.0/routers",
        &bob,
        json!({"router": {"name": "bob-r"}}),
    )
    .await;
    w.router = id_of(&r, "router");
    let g = ok_json(
        &w,
        Method::POST,
        "/network/v2.0/security-groups",
        &bob,
        json!({"security_group": {"name": "bob-sg"}}),
    )
    .await;
    w.secgroup = id_of(&g, "security_group");
    let k = ok_json(
        &w,
        Method::POST,
        "/compute/v2.1/os-keypairs",
        &bob,
        json!({"keypair": {"name": "bobkey", "public_key": PUBKEY}}),
    )
    .await;
    assert_eq!(k["keypair"]["name"], "bobkey");
    let sg = ok_json(
        &w,
        Method::POST,
        "/compute/v2.1/os-server-groups",
        &bob,
        json!({"server_group": {"name": "bob-g", "policy": "anti-affinity"}}),
    )
    .await;
    w.group = id_of(&sg, "server_group");
    let sv = ok_json(&w, Method::POST, "/compute/v2.1/servers", &bob,
        json!({"server": {"name": "bob-vm", "flavorRef": "42", "imageRef": w.image, "networks": "none", "availability_zone": "az1"}})).await;
    w.server = id_of(&sv, "server");
    let pb = w.pb.clone();
    let v = ok_json(
        &w,
        Method::POST,
        &format!("/volume/v3/{pb}/volumes"),
        &bob,
        json!({"volume": {"size": 1, "name": "bob-vol", "availability_zone": "az1"}}),
    )
    .await;
    w.volume = id_of(&v, "volume");
    let (wref, bob_t) = (&w, bob.clone());
    assert!(
        eventually(Duration::from_secs(30), || async {
            let s = req(
                wref,
                Method::GET,
                &format!("/compute/v2.1/servers/{}", wref.server),
                Some(&bob_t),
                None,
            )
            .await;
            let v = req(
                wref,
                Method::GET,
                &format!("/volume/v3/{}/volumes/{}", wref.pb, wref.volume),
                Some(&bob_t),
                None,
            )
            .await;
            s.body["server"]["status"] == "ACTIVE" && v.body["volume"]["status"] == "available"
        })
        .await,
        "bob's server and volume did not become ready"
    );
    let sn = ok_json(
        &w,
        Method::POST,
        &format!("/volume/v3/{pb}/snapshots"),
        &bob,
        json!({"snapshot": {"volume_id": w.volume, "name": "bob-snap"}}),
    )
    .await;
    w.snapshot = id_of(&sn, "snapshot");
    w
}

/// One route of `cascade policy list`.
#[derive(Debug, Clone)]
struct Route {
    path: String,
    method: Method,
    rule: String,
}

fn policy_routes() -> Vec<Route> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(["policy", "list", "-f", "json"])
        .env_remove("CASCADE_CONFIG")
        .output()
        .expect("run cascade policy list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let routes: Vec<Route> = rows
        .iter()
        .map(|r| Route {
            path: r["route"].as_str().unwrap().to_string(),
            method: Method::from_bytes(r["method"].as_str().unwrap().as_bytes()).unwrap(),
            rule: r["rule"].as_str().unwrap().to_string(),
        })
        .collect();
    assert!(
        routes.len() > 150,
        "policy list shows only {} routes",
        routes.len()
    );
    routes
}

const NEUTRON_COLLECTIONS: [&str; 7] = [
    "networks",
    "subnets",
    "ports",
    "routers",
    "security-groups",
    "floatingips",
    "security-group-rules",
];

/// Concrete paths for a route, filled with bob's ids (one per Neutron collection).
fn fill(w: &World, route: &str) -> Vec<String> {
    let colls: Vec<&str> = if route.contains("{coll}") {
        NEUTRON_COLLECTIONS.to_vec()
    } else {
        vec![""]
    };
    colls
        .into_iter()
        .map(|coll| {
            let id = if route.contains("{coll}") {
                match coll {
                    "networks" => w.network.as_str(),
                    "subnets" => &w.subnet,
                    "ports" => &w.port,
                    "routers" => &w.router,
                    "security-groups" => &w.secgroup,
                    _ => "00000000-0000-0000-0000-000000000001",
                }
            } else if route.contains("/servers/") {
                &w.server
            } else if route.contains("/volumes/") {
                &w.volume
            } else if route.contains("/snapshots/") {
                &w.snapshot
            } else if route.contains("/images/") {
                &w.image
            } else if route.contains("/os-server-groups/") {
                &w.group
            } else if route.contains("/flavors/") {
                "42"
            } else if route.contains("/users/{id}") {
                &w.bob
            } else if route.contains("/projects/{id}") {
                &w.pb
            } else {
                "00000000-0000-0000-0000-000000000001"
            };
            route
                .replace("{coll}", coll)
                .replace("{id}", id)
                .replace("{project_id}", &w.pb)
                .replace("{project}", &w.pb)
                .replace("{target}", &w.pb)
                .replace("{user}", &w.bob)
                .replace("{role}", &w.member_role)
                .replace("{name}", &w.keypair)
                .replace("{volume}", &w.volume)
                .replace("{member}", &w.pa)
                .replace("{key}", "k")
                .replace("{tag}", "t")
                .replace("{sub}", "tags")
        })
        .collect()
}

/// What bob owns that nobody else may ever read back in a successful answer.
fn secrets(w: &World) -> Vec<&str> {
    vec![
        &w.server,
        &w.network,
        &w.subnet,
        &w.port,
        &w.router,
        &w.secgroup,
        &w.volume,
        &w.snapshot,
        &w.image,
        &w.group,
        "bob-vm",
        "bob-net",
        "bob-vol",
        PUBKEY,
    ]
}

/// Probes every route as `who` and returns what went wrong.
async fn sweep(w: &World, routes: &[Route], who: &str, token: Option<&str>) -> Vec<String> {
    let mut bad = Vec::new();
    let secret = secrets(w);
    for r in routes {
        // Token revocation would end the sweep's own token; it is covered by the identity tests.
        if r.path == "/identity/v3/auth/tokens" && r.method == Method::DELETE {
            continue;
        }
        for path in fill(w, &r.path) {
            let body =
                matches!(r.method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
            let resp = req(w, r.method.clone(), &path, token, body).await;
            let ok = (200..300).contains(&resp.status);
            let what = format!(
                "{who}: {} {path} [{}] -> {} {}",
                r.method,
                r.rule,
                resp.status,
                resp.text.chars().take(160).collect::<String>()
            );
            match (token, r.rule.as_str()) {
                (_, "public") => {}
                (None, _) if resp.status != 401 => bad.push(what.clone()),
                (Some(_), "authenticated" | "owner") => {}
                (Some(_), _) if who == "carol" && !matches!(resp.status, 401 | 403) => {
                    bad.push(what.clone())
                }
                (Some(_), "admin_only" | "monitor" | "deny") if resp.status != 403 => {
                    bad.push(what.clone())
                }
                _ => {}
            }
            if ok && secret.iter().any(|s| resp.text.contains(s)) {
                bad.push(format!("LEAK {what}"));
            }
        }
    }
    bad
}

async fn isolation(db: &Db) {
    let w = world(db).await;
    let routes = policy_routes();
    let url = w.c.url.clone();
    let (carol, r) = token(&url, "carol", "pw", None).await;
    assert_eq!(r.status, 201, "carol's unscoped token: {}", r.text);
    // No role on any project: she cannot scope a token at all.
    let (_, r) = token(&url, "carol", "pw", Some("tenant-a")).await;
    assert_eq!(r.status, 401, "{}", r.text);

    // The original finding: an unscoped token reads and renames nobody's servers.
    for path in [
        "/compute/v2.1/servers",
        "/compute/v2.1/servers/detail",
        &format!("/compute/v2.1/servers/{}", w.server),
    ] {
        let r = req(&w, Method::GET, path, Some(&carol), None).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
        assert_eq!(r.body["forbidden"]["code"], 403, "{}", r.text);
    }
    let r = req(
        &w,
        Method::PUT,
        &format!("/compute/v2.1/servers/{}", w.server),
        Some(&carol),
        Some(json!({"server": {"name": "pwned"}})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);

    let mut bad = sweep(&w, &routes, "anonymous", None).await;
    bad.extend(sweep(&w, &routes, "carol", Some(&carol)).await);
    let alice = scoped(&url, "alice", "tenant-a").await;
    bad.extend(sweep(&w, &routes, "alice", Some(&alice)).await);
    let dave = scoped(&url, "dave", "tenant-a").await;
    bad.extend(sweep(&w, &routes, "dave", Some(&dave)).await);
    assert!(
        bad.is_empty(),
        "{} isolation failures:\n{}",
        bad.len(),
        bad.join("\n")
    );

    // Bob's resources came through the sweep untouched.
    let bob = scoped(&url, "bob", "tenant-b").await;
    let s = req(
        &w,
        Method::GET,
        &format!("/compute/v2.1/servers/{}", w.server),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(
        (s.status, s.body["server"]["name"].as_str()),
        (200, Some("bob-vm")),
        "{}",
        s.text
    );
    for path in [
        format!("/network/v2.0/networks/{}", w.network),
        format!("/network/v2.0/ports/{}", w.port),
        format!("/network/v2.0/routers/{}", w.router),
        format!("/network/v2.0/security-groups/{}", w.secgroup),
        format!("/volume/v3/{}/volumes/{}", w.pb, w.volume),
        format!("/volume/v3/{}/snapshots/{}", w.pb, w.snapshot),
        format!("/image/v2/images/{}", w.image),
        format!("/compute/v2.1/os-server-groups/{}", w.group),
        "/compute/v2.1/os-keypairs/bobkey".to_string(),
    ] {
        let r = req(&w, Method::GET, &path, Some(&bob), None).await;
        assert_eq!(r.status, 200, "bob's {path} after the sweep: {}", r.text);
    }

    // Lists with every project filter a tenant might try show only its own.
    let alice = scoped(&url, "alice", "tenant-a").await;
    let pb = w.pb.clone();
    for path in [
        "/compute/v2.1/servers?all_tenants=1".to_string(),
        format!("/compute/v2.1/servers/detail?all_tenants=1&project_id={pb}"),
        format!("/compute/v2.1/servers/detail?tenant_id={pb}"),
        "/compute/v2.1/os-server-groups?all_projects=1".to_string(),
        "/compute/v2.1/os-keypairs".to_string(),
        format!("/compute/v2.1/os-keypairs?user_id={}", w.bob),
        format!(
            "/volume/v3/{}/volumes/detail?all_tenants=1&project_id={pb}",
            w.pa
        ),
        format!("/volume/v3/{}/snapshots/detail?all_tenants=1", w.pa),
        format!("/network/v2.0/networks?project_id={pb}"),
        format!("/network/v2.0/ports?tenant_id={pb}"),
        format!("/network/v2.0/routers?project_id={pb}"),
        format!("/network/v2.0/security-groups?project_id={pb}"),
        format!("/network/v2.0/subnets?project_id={pb}"),
        "/image/v2/images?visibility=all".to_string(),
        "/image/v2/images?visibility=private".to_string(),
    ] {
        let r = req(&w, Method::GET, &path, Some(&alice), None).await;
        let leaked: Vec<&str> = secrets(&w)
            .into_iter()
            .filter(|s| r.text.contains(*s))
            .collect();
        assert!(
            leaked.is_empty() && (r.status == 200 || r.status == 403),
            "alice {path}: {} leaked {leaked:?}: {}",
            r.status,
            r.text
        );
    }
    // Actions on another tenant's resources: 404 as the real services answer.
    let server_action = req(
        &w,
        Method::POST,
        &format!("/compute/v2.1/servers/{}/action", w.server),
        Some(&alice),
        Some(json!({"os-stop": null})),
    )
    .await;
    assert_eq!(server_action.status, 404, "{}", server_action.text);
    let volume_action = req(
        &w,
        Method::POST,
        &format!("/volume/v3/{}/volumes/{}/action", w.pa, w.volume),
        Some(&alice),
        Some(json!({"os-set_bootable": {"bootable": true}})),
    )
    .await;
    assert_eq!(volume_action.status, 404, "{}", volume_action.text);
    let net_update = req(
        &w,
        Method::PUT,
        &format!("/network/v2.0/networks/{}", w.network),
        Some(&alice),
        Some(json!({"network": {"name": "pwned"}})),
    )
    .await;
    assert_eq!(net_update.status, 404, "{}", net_update.text);
    assert_eq!(
        net_update.body["NeutronError"]["type"], "NetworkNotFound",
        "{}",
        net_update.text
    );
    let img_delete = req(
        &w,
        Method::DELETE,
        &format!("/image/v2/images/{}", w.image),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(img_delete.status, 404, "{}", img_delete.text);

    // A reader reads its project but changes nothing.
    let dave = scoped(&url, "dave", "tenant-a").await;
    let r = req(&w, Method::GET, "/compute/v2.1/servers", Some(&dave), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = req(&w, Method::POST, "/compute/v2.1/servers", Some(&dave),
        Some(json!({"server": {"name": "x", "flavorRef": "42", "imageRef": w.image, "networks": "none"}}))).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        r.body["forbidden"]["message"],
        "Policy doesn't allow os_compute_api:servers:create to be performed."
    );
    let r = req(
        &w,
        Method::POST,
        "/network/v2.0/networks",
        Some(&dave),
        Some(json!({"network": {}})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["NeutronError"]["type"].as_str()),
        (403, Some("PolicyNotAuthorized")),
        "{}",
        r.text
    );

    // The admin API, metrics and health details.
    for path in [
        "/v1.0/pods",
        "/v1.0/jobs",
        "/v1.0/routings",
        "/v1.0/image-copies",
    ] {
        assert_eq!(
            req(&w, Method::GET, path, Some(&alice), None).await.status,
            403,
            "{path}"
        );
        assert_eq!(
            req(&w, Method::GET, path, Some(&w.admin), None)
                .await
                .status,
            200,
            "{path}"
        );
    }
    for path in ["/metrics", "/healthz"] {
        assert_eq!(
            req(&w, Method::GET, path, None, None).await.status,
            401,
            "{path}"
        );
        assert_eq!(
            req(&w, Method::GET, path, Some(&alice), None).await.status,
            403,
            "{path}"
        );
        assert_eq!(
            req(&w, Method::GET, path, Some(&w.admin), None)
                .await
                .status,
            200,
            "{path}"
        );
        let r = call(
            Method::GET,
            &format!("{url}{path}"),
            None,
            None,
            &[("authorization", &format!("Bearer {MONITOR_TOKEN}"))],
        )
        .await;
        assert_eq!(r.status, 200, "{path} with the monitoring token");
    }
    let r = req(&w, Method::GET, "/healthcheck", None, None).await;
    assert_eq!((r.status, r.text.as_str()), (200, "OK"));

    // Projects and users: a tenant reads its own project only, and its own user only.
    let r = req(
        &w,
        Method::GET,
        &format!("/identity/v3/projects/{}", w.pa),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = req(
        &w,
        Method::GET,
        &format!("/identity/v3/projects/{}", w.pb),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = req(&w, Method::GET, "/identity/v3/projects", Some(&alice), None).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let seen: BTreeSet<u16> = [
        req(
            &w,
            Method::GET,
            &format!("/identity/v3/users/{}", w.bob),
            Some(&alice),
            None,
        )
        .await
        .status,
        req(
            &w,
            Method::GET,
            &format!("/identity/v3/users/{}/projects", w.bob),
            Some(&alice),
            None,
        )
        .await
        .status,
    ]
    .into();
    assert_eq!(seen, BTreeSet::from([403]));
}

#[tokio::test]
async fn isolation_sqlite() {
    let db = Db::sqlite();
    isolation(&db).await;
    db.cleanup().await;
}

#[tokio::test]
async fn isolation_postgres() {
    let db = Db::postgres();
    isolation(&db).await;
    db.cleanup().await;
}
