//! Glance's metadata definitions catalog and tasks through a real `cascade serve`: the seeded
//! resource types, namespaces with their associations, objects, properties and tags (created
//! by an administrator, read by a tenant when public or its own, 404 when not, 403 on writes),
//! `protected` namespaces, renames, Glance's duplicate and schema errors, the ten metadefs
//! schemas, and import tasks: refused at create for a URL Glance would not read, and run to an
//! `active` image with the served bytes from a local HTTP server (ports opened by config).

mod support;

use std::time::Duration;

use cascade_sim::{RegionSpec, SimConfig};
use md5::Digest;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const CONFIG: &str = "[pods]\nhealth_interval_secs = 1\nhealth_timeout_secs = 2\ncall_timeout_secs = 10\n[images]\nimport_allowed_ports = []\n";

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { let db = super::Db::sqlite(); super::$case(&db).await; db.cleanup().await; } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { let db = super::Db::postgres(); super::$case(&db).await; db.cleanup().await; } )* }
    };
}

both_backends!(metadefs_catalog, import_tasks);

struct Env {
    c: Cascade,
    admin: String,
    tenant: Tenant,
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}/image{path}", self.c.url)
    }

    async fn admin(&self, m: Method, path: &str, body: Option<Value>) -> Reply {
        call(m, &self.url(path), Some(&self.admin), body, &[]).await
    }

    async fn tenant(&self, m: Method, path: &str, body: Option<Value>) -> Reply {
        call(m, &self.url(path), Some(&self.tenant.token), body, &[]).await
    }
}

async fn env(db: &Db) -> Env {
    let c = Cascade::start(db, CONFIG).await;
    let admin = admin_token(&c.url).await;
    let tenant = tenant(&c.url, &admin, "md", "md-user", Some("member")).await;
    Env { c, admin, tenant }
}

fn names(v: &Value, key: &str, field: &str) -> Vec<String> {
    v[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x[field].as_str().map(str::to_string))
        .collect()
}

async fn metadefs_catalog(db: &Db) {
    let e = env(db).await;
    let ns = "/v2/metadefs/namespaces";

    // Glance's resource types are there from the start.
    let r = e
        .tenant(Method::GET, "/v2/metadefs/resource_types", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let types = names(&r.body, "resource_types", "name");
    for t in [
        "OS::Glance::Image",
        "OS::Cinder::Volume",
        "OS::Nova::Flavor",
        "OS::Nova::Server",
    ] {
        assert!(types.contains(&t.to_string()), "{types:?}");
    }
    assert!(
        r.body["resource_types"][0]["created_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    // An administrator creates a public, protected namespace with contents.
    let body = json!({
        "namespace": "Cascade::Test", "display_name": "Test", "description": "d",
        "visibility": "public", "protected": true,
        "resource_type_associations": [{"name": "OS::Nova::Flavor", "prefix": "hw:"}],
        "properties": {"cpu_policy": {"title": "CPU policy", "type": "string", "enum": ["shared", "dedicated"]}},
        "objects": [{"name": "Limits", "properties": {"quota": {"title": "Quota", "type": "integer"}}}],
        "tags": [{"name": "t1"}],
    });
    let r = e.tenant(Method::POST, ns, Some(body.clone())).await;
    assert_eq!(
        r.status, 403,
        "tenants do not write the catalog: {}",
        r.text
    );
    let r = e.admin(Method::POST, ns, Some(body.clone())).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/image/v2/metadefs/namespaces/Cascade::Test")
    );
    assert_eq!(r.body["self"], "/v2/metadefs/namespaces/Cascade::Test");
    assert_eq!(r.body["schema"], "/v2/schemas/metadefs/namespace");
    assert_eq!(r.body["protected"], true);
    let r = e.admin(Method::POST, ns, Some(body)).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(
        r.text
            .contains("The metadata definition namespace=Cascade::Test already exists."),
        "{}",
        r.text
    );

    // A tenant reads it, with its contents; the resource type filter prefixes properties.
    let r = e
        .tenant(Method::GET, &format!("{ns}/Cascade::Test"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["resource_type_associations"][0]["prefix"], "hw:");
    assert_eq!(
        r.body["properties"]["cpu_policy"]["enum"],
        json!(["shared", "dedicated"])
    );
    assert_eq!(r.body["objects"][0]["name"], "Limits");
    assert_eq!(r.body["tags"], json!([{"name": "t1"}]));
    let r = e
        .tenant(
            Method::GET,
            &format!("{ns}/Cascade::Test?resource_type=OS::Nova::Flavor"),
            None,
        )
        .await;
    assert!(
        r.body["properties"]["hw:cpu_policy"].is_object(),
        "{}",
        r.text
    );
    let r = e
        .tenant(
            Method::GET,
            &format!("{ns}/Cascade::Test/properties/hw:cpu_policy?resource_type=OS::Nova::Flavor"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "cpu_policy");

    // A private namespace of the admin's project is invisible to the tenant: 404, not listed.
    let r = e
        .admin(
            Method::POST,
            ns,
            Some(json!({"namespace": "Cascade::Private"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["visibility"], "private");
    assert_eq!(r.body["protected"], false);
    let r = e
        .tenant(Method::GET, &format!("{ns}/Cascade::Private"), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = e
        .tenant(Method::GET, &format!("{ns}/Cascade::Private/objects"), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = e.tenant(Method::GET, ns, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        names(&r.body, "namespaces", "namespace"),
        vec!["Cascade::Test"]
    );
    assert_eq!(r.body["first"], "/v2/metadefs/namespaces");
    assert_eq!(r.body["schema"], "/v2/schemas/metadefs/namespaces");
    let r = e
        .admin(Method::GET, &format!("{ns}?limit=1&sort_dir=asc"), None)
        .await;
    assert_eq!(
        names(&r.body, "namespaces", "namespace"),
        vec!["Cascade::Test"]
    );
    assert_eq!(
        r.body["next"],
        "/v2/metadefs/namespaces?limit=1&sort_dir=asc&marker=Cascade%3A%3ATest"
    );
    let r = e
        .admin(
            Method::GET,
            &format!("{ns}?resource_types=OS::Nova::Flavor"),
            None,
        )
        .await;
    assert_eq!(
        names(&r.body, "namespaces", "namespace"),
        vec!["Cascade::Test"]
    );
    let r = e
        .admin(Method::GET, &format!("{ns}?visibility=shared"), None)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);

    // Schema errors: read-only attributes are 403, the rest 400.
    let r = e
        .admin(
            Method::POST,
            ns,
            Some(json!({"namespace": "x", "self": "y"})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = e
        .admin(
            Method::POST,
            ns,
            Some(json!({"namespace": "x", "visibility": "community"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text
            .contains("Provided object does not match schema 'namespace'"),
        "{}",
        r.text
    );

    // Objects: create, duplicate, rename, delete.
    let objs = format!("{ns}/Cascade::Test/objects");
    let r = e
        .admin(
            Method::POST,
            &objs,
            Some(json!({"name": "o1", "description": "first"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["self"],
        "/v2/metadefs/namespaces/Cascade::Test/objects/o1"
    );
    assert_eq!(r.body["required"], json!([]));
    let r = e
        .admin(Method::POST, &objs, Some(json!({"name": "o1"})))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = e
        .admin(
            Method::PUT,
            &format!("{objs}/o1"),
            Some(json!({"name": "o2"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "o2");
    let r = e.tenant(Method::GET, &objs, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["schema"], "v2/schemas/metadefs/objects");
    let listed = names(&r.body, "objects", "name");
    assert!(
        listed.contains(&"o2".to_string()) && !listed.contains(&"o1".to_string()),
        "{listed:?}"
    );
    let r = e.tenant(Method::DELETE, &format!("{objs}/o2"), None).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = e.admin(Method::DELETE, &format!("{objs}/o2"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = e.admin(Method::GET, &format!("{objs}/o2"), None).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(
        r.text.contains(
            "The metadata definition object with name=o2 was not found in namespace=Cascade::Test."
        ),
        "{}",
        r.text
    );

    // Properties.
    let props = format!("{ns}/Cascade::Test/properties");
    let r = e
        .admin(
            Method::POST,
            &props,
            Some(json!({"name": "p", "title": "P", "type": "text"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = e
        .admin(
            Method::POST,
            &props,
            Some(json!({"name": "p", "title": "P", "type": "string"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e
        .admin(
            Method::PUT,
            &format!("{props}/p"),
            Some(json!({"name": "p", "title": "P2", "type": "integer", "minimum": 1})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"name": "p", "title": "P2", "type": "integer", "minimum": 1})
    );
    let r = e.tenant(Method::GET, &props, None).await;
    assert_eq!(r.body["properties"]["p"]["title"], "P2", "{}", r.text);
    let r = e.admin(Method::DELETE, &format!("{props}/p"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);

    // Tags: replace all, append, rename, delete all.
    let tags = format!("{ns}/Cascade::Test/tags");
    let r = e
        .admin(
            Method::POST,
            &tags,
            Some(json!({"tags": [{"name": "a"}, {"name": "b"}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body, json!({"tags": [{"name": "a"}, {"name": "b"}]}));
    let r = call(
        Method::POST,
        &e.url(&tags),
        Some(&e.admin),
        Some(json!({"tags": [{"name": "c"}]})),
        &[("x-openstack-append", "True")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e.admin(Method::GET, &tags, None).await;
    let mut listed = names(&r.body, "tags", "name");
    listed.sort();
    assert_eq!(listed, vec!["a", "b", "c"], "t1 was replaced, c appended");
    let r = e.admin(Method::POST, &format!("{tags}/a"), None).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = e
        .admin(
            Method::PUT,
            &format!("{tags}/a"),
            Some(json!({"name": "z"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "z");
    let r = e.tenant(Method::GET, &format!("{tags}/z"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // A protected namespace is neither deleted nor emptied.
    let r = e.admin(Method::DELETE, &tags, None).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = e
        .admin(Method::DELETE, &format!("{ns}/Cascade::Test"), None)
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(
        r.text.contains("is protected and cannot be deleted"),
        "{}",
        r.text
    );

    // Associations.
    let rts = format!("{ns}/Cascade::Test/resource_types");
    let r = e
        .admin(
            Method::POST,
            &rts,
            Some(json!({"name": "OS::Cascade::New"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e
        .admin(
            Method::POST,
            &rts,
            Some(json!({"name": "OS::Cascade::New"})),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = e
        .tenant(Method::GET, "/v2/metadefs/resource_types", None)
        .await;
    assert!(names(&r.body, "resource_types", "name").contains(&"OS::Cascade::New".to_string()));
    let r = e
        .admin(Method::DELETE, &format!("{rts}/OS::Cascade::New"), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = e.admin(Method::GET, &rts, None).await;
    assert_eq!(
        names(&r.body, "resource_type_associations", "name"),
        vec!["OS::Nova::Flavor"]
    );

    // Update (a rename keeps the contents), then delete.
    let r = e
        .admin(
            Method::PUT,
            &format!("{ns}/Cascade::Test"),
            Some(json!({"namespace": "Cascade::Renamed", "visibility": "public"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["protected"], false);
    let r = e
        .tenant(Method::GET, &format!("{ns}/Cascade::Renamed"), None)
        .await;
    assert_eq!(r.body["objects"][0]["name"], "Limits", "{}", r.text);
    let r = e
        .admin(Method::DELETE, &format!("{ns}/Cascade::Renamed"), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = e
        .admin(Method::GET, &format!("{ns}/Cascade::Renamed"), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);

    // The schemas.
    for (path, name) in [
        ("namespace", "namespace"),
        ("namespaces", "namespaces"),
        ("resource_type", "resource_type_association"),
        ("resource_types", "resource_type_associations"),
        ("object", "object"),
        ("objects", "objects"),
        ("property", "property"),
        ("properties", "properties"),
        ("tag", "tag"),
        ("tags", "tags"),
    ] {
        let r = e
            .tenant(Method::GET, &format!("/v2/schemas/metadefs/{path}"), None)
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body["name"], name);
    }
}

/// Serves `data` to every connection, as a minimal HTTP/1.1 server on loopback.
async fn serve_bytes(data: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let data = data.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if s.read(&mut buf).await.is_err() {
                    return;
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: application/octet-stream\r\nconnection: close\r\n\r\n",
                    data.len()
                );
                if s.write_all(head.as_bytes()).await.is_ok() {
                    s.write_all(&data).await.ok();
                }
            });
        }
    });
    format!("http://{addr}/disk.qcow2")
}

async fn import_tasks(db: &Db) {
    let e = env(db).await;
    let sim = cascade_sim::start(SimConfig::new(
        format!("{}/identity", e.c.url),
        vec![RegionSpec::new("Pod1", "az1").instant()],
    ))
    .await
    .expect("sim starts");
    register_pods(&e.c.url, &e.admin, &sim).await;

    let task = |from: &str| {
        json!({"type": "import", "input": {
            "import_from": from, "import_from_format": "qcow2",
            "image_properties": {"name": "imported", "disk_format": "qcow2", "container_format": "bare"},
        }})
    };
    // Refused at create, as Glance does: an unresolvable host, a local file, a numeric host.
    for bad in [
        "http://cascade-no-such-host-4242.qcow2",
        "file:///etc/passwd",
        "http://2130706433/x",
    ] {
        let r = e.admin(Method::POST, "/v2/tasks", Some(task(bad))).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = e
        .admin(Method::POST, "/v2/tasks", Some(json!({"input": {}})))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("Task 'type' is required"), "{}", r.text);
    let r = e
        .tenant(Method::POST, "/v2/tasks", Some(task("http://127.0.0.1/x")))
        .await;
    assert_eq!(r.status, 403, "tasks are for administrators: {}", r.text);

    // An import from a reachable URL ends in an active image with those bytes.
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let url = serve_bytes(data.clone()).await;
    let r = e.admin(Method::POST, "/v2/tasks", Some(task(&url))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["schema"], "/v2/schemas/task");
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.headers["location"], format!("/v2/tasks/{id}").as_str());
    let mut shown = Value::Null;
    for _ in 0..150 {
        shown = e
            .admin(Method::GET, &format!("/v2/tasks/{id}"), None)
            .await
            .body;
        if shown["status"] == "success" || shown["status"] == "failure" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(shown["status"], "success", "{shown}");
    assert!(shown["expires_at"].is_string());
    let image_id = shown["result"]["image_id"].as_str().unwrap().to_string();
    let r = e
        .admin(Method::GET, &format!("/v2/images/{image_id}"), None)
        .await;
    assert_eq!(r.body["status"], "active", "{}", r.text);
    assert_eq!(r.body["size"], data.len());
    let md5: String = md5::Md5::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r.body["checksum"], md5.as_str());

    let r = e.admin(Method::GET, "/v2/tasks", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["tasks"][0]["id"], id.as_str());
    assert!(r.body["tasks"][0].get("input").is_none());
    let r = e.admin(Method::GET, "/v2/tasks?status=bogus", None).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = e.admin(Method::GET, "/v2/schemas/tasks", None).await;
    assert_eq!(r.body["name"], "tasks");
}
