//! Test support: real `cascade serve` processes on loopback, each with its own SQLite file or
//! PostgreSQL schema, killed when dropped; and a small HTTP client for Keystone-style calls.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "admin-test-password";

/// Which database a test instance uses.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(PathBuf),
    Postgres { url: String, schema: String },
}

impl Db {
    pub fn sqlite() -> Db {
        Db::Sqlite(
            std::env::temp_dir().join(format!("cascade-it-{}.db", uuid::Uuid::new_v4().simple())),
        )
    }

    pub fn postgres() -> Db {
        Db::Postgres {
            url: cascade_store::testing::postgres_url(),
            schema: format!("cascade_it_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    fn toml(&self) -> String {
        match self {
            Db::Sqlite(p) => format!("database_url = \"sqlite://{}\"\n", p.display()),
            Db::Postgres { url, schema } => {
                format!("database_url = \"{url}\"\ndatabase_schema = \"{schema}\"\n")
            }
        }
    }

    pub async fn cleanup(&self) {
        match self {
            Db::Sqlite(p) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
                }
            }
            Db::Postgres { url, schema } => {
                let _ = cascade_store::Store::drop_schema(url, schema).await;
            }
        }
    }
}

/// A running `cascade serve` process.
pub struct Cascade {
    pub url: String,
    child: Child,
    dir: PathBuf,
}

impl Drop for Cascade {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub const SECRET_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

impl Cascade {
    /// The process id of the `cascade serve` child (benchmarks read its memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts an embedded-identity instance on `db` with `extra` TOML appended.
    pub async fn start(db: &Db, extra: &str) -> Cascade {
        Cascade::start_on(db, extra, 0).await
    }

    /// Like [`Cascade::start`] on a given port (0: any), so a restarted instance keeps its URL.
    pub async fn start_on(db: &Db, extra: &str, port: u16) -> Cascade {
        let config = format!(
            "listen = \"127.0.0.1:{port}\"\nsecret_key = \"{SECRET_KEY}\"\nlog_format = \"json\"\n{}{extra}",
            db.toml()
        );
        let config = if config.contains("[identity]") {
            config
        } else {
            format!("{config}\n[identity]\nadmin_password = \"{ADMIN_PASSWORD}\"\n")
        };
        Cascade::start_raw(&config).await
    }

    pub async fn start_raw(config: &str) -> Cascade {
        let dir =
            std::env::temp_dir().join(format!("cascade-it-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let config_path = dir.join("cascade.toml");
        std::fs::write(&config_path, config).unwrap();
        let ready = dir.join("ready");
        let child = Command::new(env!("CARGO_BIN_EXE_cascade"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .arg("--ready-file")
            .arg(&ready)
            .env("CASCADE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn cascade");
        let mut me = Cascade {
            url: String::new(),
            child,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(url) = std::fs::read_to_string(&ready)
                && !url.is_empty()
            {
                me.url = url;
                return me;
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                panic!("cascade exited early: {status}");
            }
            assert!(Instant::now() < deadline, "cascade did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Cascade {
    /// Whether the process is still running (it has not exited or been killed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process with SIGKILL (no clean shutdown).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The JSON of a response and its status and headers.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let client = reqwest::Client::new();
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.header("x-auth-token", t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub fn password_auth(user: &str, password: &str, project: Option<&str>) -> Value {
    let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}}});
    if let Some(p) = project {
        auth["scope"] = json!({"project": {"name": p, "domain": {"name": "Default"}}});
    }
    json!({"auth": auth})
}

/// Issues a token; returns (token, reply).
pub async fn token(
    base: &str,
    user: &str,
    password: &str,
    project: Option<&str>,
) -> (String, Reply) {
    let r = call(
        reqwest::Method::POST,
        &format!("{base}/identity/v3/auth/tokens"),
        None,
        Some(password_auth(user, password, project)),
        &[],
    )
    .await;
    let t = r
        .headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (t, r)
}

pub async fn admin_token(base: &str) -> String {
    let (t, r) = token(base, "admin", ADMIN_PASSWORD, Some("admin")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    t
}

/// Polls `f` until it returns true or the timeout passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// A user of the embedded identity with one role on its own project.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub project_id: String,
    pub user_id: String,
    /// A token scoped to the project (empty when the role gives none, e.g. no role at all).
    pub token: String,
}

/// Creates project `project` (if new), user `user` (password `pw`) whose default project it
/// is, grants `role` there (none when `role` is `None`) and issues the user's scoped token.
pub async fn tenant(
    base: &str,
    admin: &str,
    project: &str,
    user: &str,
    role: Option<&str>,
) -> Tenant {
    let v3 = format!("{base}/identity/v3");
    let r = call(
        reqwest::Method::POST,
        &format!("{v3}/projects"),
        Some(admin),
        Some(json!({"project": {"name": project}})),
        &[],
    )
    .await;
    let project_id = match r.body["project"]["id"].as_str() {
        Some(id) => id.to_string(),
        None => {
            let r = call(
                reqwest::Method::GET,
                &format!("{v3}/projects?name={project}"),
                Some(admin),
                None,
                &[],
            )
            .await;
            r.body["projects"][0]["id"]
                .as_str()
                .expect("project")
                .to_string()
        }
    };
    let r = call(
        reqwest::Method::POST,
        &format!("{v3}/users"),
        Some(admin),
        Some(json!({"user": {"name": user, "password": "pw", "default_project_id": project_id}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "user {user}: {}", r.text);
    let user_id = r.body["user"]["id"].as_str().unwrap().to_string();
    let mut token_str = String::new();
    if let Some(role) = role {
        let r = call(
            reqwest::Method::GET,
            &format!("{v3}/roles?name={role}"),
            Some(admin),
            None,
            &[],
        )
        .await;
        let role_id = r.body["roles"][0]["id"].as_str().expect("role").to_string();
        let r = call(
            reqwest::Method::PUT,
            &format!("{v3}/projects/{project_id}/users/{user_id}/roles/{role_id}"),
            Some(admin),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 204, "grant {role}: {}", r.text);
        let (t, r) = token(base, user, "pw", Some(project)).await;
        assert_eq!(r.status, 201, "{user}@{project}: {}", r.text);
        token_str = t;
    }
    Tenant {
        project_id,
        user_id,
        token: token_str,
    }
}

/// Registers every region of `sim` as a pod of the Cascade at `base` (as the simulator's admin)
/// and waits until all of them are `up`.
pub async fn register_pods(base: &str, admin: &str, sim: &cascade_sim::SimHandle) {
    let regions = sim.regions();
    for r in &regions {
        let body = json!({"pod": {"region_name": r.name, "az_name": r.az, "auth_url": r.identity_url,
            "credentials": {"username": "admin", "password": ADMIN_PASSWORD, "project_name": "admin"}}});
        let resp = call(
            reqwest::Method::POST,
            &format!("{base}/v1.0/pods"),
            Some(admin),
            Some(body),
            &[],
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
    }
    let up = eventually(Duration::from_secs(20), || async {
        let r = call(
            reqwest::Method::GET,
            &format!("{base}/v1.0/pods"),
            Some(admin),
            None,
            &[],
        )
        .await;
        r.body["pods"]
            .as_array()
            .is_some_and(|p| p.len() == regions.len() && p.iter().all(|p| p["state"] == "up"))
    })
    .await;
    assert!(up, "the pods did not come up");
}
