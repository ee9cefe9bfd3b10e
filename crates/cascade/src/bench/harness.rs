//! The benchmarks' environment: a `cascade serve` child process on a fresh SQLite file with
//! the embedded identity (its config written to a temporary directory), simulated pods in this
//! process registered through the admin API as an operator would, an admin token, the compute
//! fixtures (unlimited quota, a flavor, an image) and a bounded closed-loop load generator.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cascade_core::secrets::Sealer;
use cascade_sim::{RegionSpec, SimConfig, SimHandle};
use rand::RngCore;
use reqwest::Method;
use serde_json::{Value, json};

use super::Summary;

/// Raw samples of a load loop.
#[derive(Debug, Default)]
pub(crate) struct Samples {
    pub(crate) samples: Vec<Duration>,
    pub(crate) errors: usize,
    pub(crate) wall: Duration,
}

impl Samples {
    pub(crate) fn add(&mut self, other: Samples) {
        self.samples.extend(other.samples);
        self.errors += other.errors;
        self.wall += other.wall;
    }

    pub(crate) fn summary(self) -> Summary {
        Summary::of(self.samples, self.errors, self.wall)
    }
}

/// Microversion of every compute call of the benchmarks (the one Cascade uses with pods).
pub(crate) const MV: &str = "compute 2.73";
/// The benchmarks' flavor id.
pub(crate) const FLAVOR: &str = "bench";

/// A registered simulated pod.
#[derive(Debug, Clone)]
pub(crate) struct PodInfo {
    pub(crate) az: String,
    pub(crate) pod_id: String,
    pub(crate) compute_url: String,
}

/// Cascade (child process) + simulated pods + an admin session.
pub(crate) struct Harness {
    dir: PathBuf,
    child: tokio::process::Child,
    pub(crate) pid: u32,
    pub(crate) url: String,
    pub(crate) database_url: String,
    pub(crate) http: reqwest::Client,
    pub(crate) token: String,
    pub(crate) project_id: String,
    sim: Option<SimHandle>,
    pub(crate) pods: Vec<PodInfo>,
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A random (version 4) UUID in its text form.
pub(crate) fn uuid4() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Harness {
    /// Starts Cascade and `pods` simulated regions (`Pod1..PodN`, `az1..azN`, instant builds),
    /// registers them and waits until every pod is `up`.
    pub(crate) async fn start(pods: usize, log: &str) -> anyhow::Result<Harness> {
        let dir = std::env::temp_dir().join(format!(
            "cascade-bench-{}-{}",
            std::process::id(),
            random_hex(4)
        ));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let password = random_hex(12);
        let database_url = format!("sqlite://{}", dir.join("cascade.db").display());
        let config = format!(
            "listen = \"127.0.0.1:0\"\ndatabase_url = \"{database_url}\"\nsecret_key = \"{}\"\n\
             log_format = \"json\"\n\n[identity]\nadmin_password = \"{password}\"\n\n\
             [pods]\nhealth_interval_secs = 2\nhealth_timeout_secs = 2\n",
            Sealer::generate_key()
        );
        let config_path = dir.join("cascade.toml");
        std::fs::write(&config_path, config)?;
        let ready = dir.join("ready");
        let exe = std::env::current_exe().context("cannot find the cascade binary")?;
        let mut child = tokio::process::Command::new(exe)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--ready-file")
            .arg(&ready)
            .env("CASCADE_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start `cascade serve`")?;
        let pid = child.id().unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            if let Ok(url) = std::fs::read_to_string(&ready)
                && !url.is_empty()
            {
                break url;
            }
            if let Some(status) = child.try_wait()? {
                bail!("cascade serve exited early: {status}");
            }
            if Instant::now() > deadline {
                bail!("cascade serve did not become ready in 60 s");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let mut h = Harness {
            dir,
            child,
            pid,
            url,
            database_url,
            http,
            token: String::new(),
            project_id: String::new(),
            sim: None,
            pods: Vec::new(),
        };
        h.login(&password).await?;
        h.start_pods(pods, &password).await?;
        Ok(h)
    }

    async fn login(&mut self, password: &str) -> anyhow::Result<()> {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}});
        let r = self
            .http
            .post(format!("{}/identity/v3/auth/tokens", self.url))
            .json(&body)
            .send()
            .await?;
        if r.status().as_u16() != 201 {
            bail!("admin login answered {}", r.status());
        }
        self.token = r
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .context("no X-Subject-Token")?
            .to_string();
        let v: Value = r.json().await?;
        self.project_id = v["token"]["project"]["id"]
            .as_str()
            .context("no project in the token")?
            .to_string();
        Ok(())
    }

    async fn start_pods(&mut self, n: usize, password: &str) -> anyhow::Result<()> {
        let regions: Vec<RegionSpec> = (1..=n)
            .map(|i| RegionSpec::new(format!("Pod{i}"), format!("az{i}")).instant())
            .collect();
        let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", self.url), regions))
            .await
            .context("cannot start the simulated pods")?;
        let regions = sim.regions();
        self.sim = Some(sim);
        for r in regions {
            let body = json!({"pod": {"region_name": r.name, "az_name": r.az,
                "dc_name": format!("dc-{}", r.az), "auth_url": r.identity_url,
                "capabilities": {"simulated": "true"},
                "credentials": {"username": "admin", "password": password,
                                "project_name": "admin"}}});
            let (status, v) = self.call(Method::POST, "/v1.0/pods", Some(body)).await?;
            if status != 200 {
                bail!("pod registration answered {status}: {v}");
            }
            self.pods.push(PodInfo {
                az: r.az.clone(),
                pod_id: v["pod"]["pod_id"].as_str().unwrap_or_default().to_string(),
                compute_url: r.compute_url.clone(),
            });
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, v) = self.call(Method::GET, "/v1.0/pods", None).await?;
            let up = v["pods"]
                .as_array()
                .map(|p| p.iter().filter(|p| p["state"] == "up").count())
                .unwrap_or(0);
            if up == n {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("only {up} of {n} pods came up in 120 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A call to Cascade as the admin, with the compute microversion header.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("x-auth-token", &self.token)
            .header("openstack-api-version", MV);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Unlimited compute quota for the admin project, the `bench` flavor and a small public
    /// image (uploaded through Cascade's Glance; copied lazily to pods by the first builds).
    pub(crate) async fn compute_fixtures(&self) -> anyhow::Result<String> {
        let (s, v) = self
            .call(
                Method::PUT,
                &format!("/compute/v2.1/os-quota-sets/{}", self.project_id),
                Some(json!({"quota_set": {"instances": -1, "cores": -1, "ram": -1}})),
            )
            .await?;
        if s != 200 {
            bail!("quota update answered {s}: {v}");
        }
        let (s, v) = self
            .call(
                Method::POST,
                "/compute/v2.1/flavors",
                Some(json!({"flavor": {"name": "bench.tiny", "id": FLAVOR, "vcpus": 1, "ram": 64, "disk": 1}})),
            )
            .await?;
        if s != 200 {
            bail!("flavor create answered {s}: {v}");
        }
        let (s, v) = self
            .call(
                Method::POST,
                "/image/v2/images",
                Some(json!({"name": "bench-image", "disk_format": "qcow2",
                    "container_format": "bare", "visibility": "public"})),
            )
            .await?;
        if s != 201 {
            bail!("image create answered {s}: {v}");
        }
        let image = v["id"].as_str().unwrap_or_default().to_string();
        let up = self
            .http
            .put(format!("{}/image/v2/images/{image}/file", self.url))
            .header("x-auth-token", &self.token)
            .header("content-type", "application/octet-stream")
            .body(vec![7u8; 64 * 1024])
            .send()
            .await?;
        if up.status().as_u16() != 204 {
            bail!("image upload answered {}", up.status());
        }
        Ok(image)
    }

    /// `POST /servers` (networks "none"); returns the status and the server id.
    pub(crate) async fn boot(
        &self,
        name: &str,
        image: &str,
        az: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        let mut server =
            json!({"name": name, "flavorRef": FLAVOR, "imageRef": image, "networks": "none"});
        if let Some(az) = az {
            server["availability_zone"] = json!(az);
        }
        let (s, v) = self
            .call(
                Method::POST,
                "/compute/v2.1/servers",
                Some(json!({"server": server})),
            )
            .await?;
        if s != 202 {
            return Ok((s, v.to_string()));
        }
        Ok((
            s,
            v["server"]["id"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// Ids of the admin project's servers with `status`, read from the index page by page.
    pub(crate) async fn ids_with_status(
        &self,
        status: &str,
    ) -> anyhow::Result<std::collections::HashSet<String>> {
        let mut out = std::collections::HashSet::new();
        let mut marker: Option<String> = None;
        for _ in 0..1000 {
            let path = match &marker {
                Some(m) => format!("/compute/v2.1/servers?status={status}&limit=1000&marker={m}"),
                None => format!("/compute/v2.1/servers?status={status}&limit=1000"),
            };
            let (s, v) = self.call(Method::GET, &path, None).await?;
            if s != 200 {
                bail!("server list answered {s}: {v}");
            }
            let page = v["servers"].as_array().cloned().unwrap_or_default();
            for srv in &page {
                if let Some(id) = srv["id"].as_str() {
                    out.insert(id.to_string());
                }
            }
            let has_next = v["servers_links"]
                .as_array()
                .is_some_and(|l| l.iter().any(|l| l["rel"] == "next"));
            match page.last().and_then(|s| s["id"].as_str()) {
                Some(last) if has_next => marker = Some(last.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Waits until every id is ACTIVE (or ERROR); returns (active, error) counts.
    pub(crate) async fn wait_active(
        &self,
        ids: &[String],
        timeout: Duration,
        poll: Duration,
    ) -> anyhow::Result<(usize, usize)> {
        let deadline = Instant::now() + timeout;
        loop {
            let active = self.ids_with_status("ACTIVE").await?;
            let error = self.ids_with_status("ERROR").await?;
            let a = ids.iter().filter(|i| active.contains(*i)).count();
            let e = ids.iter().filter(|i| error.contains(*i)).count();
            if a + e >= ids.len() {
                return Ok((a, e));
            }
            if Instant::now() > deadline {
                bail!(
                    "only {a} ACTIVE and {e} ERROR of {} servers after {timeout:?}",
                    ids.len()
                );
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Stops the pods and Cascade, and removes the temporary directory.
    pub(crate) async fn shutdown(mut self) {
        if let Some(sim) = self.sim.take() {
            sim.shutdown().await;
        }
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A closed loop: `concurrency` workers share one client and send `GET`s to `urls` (round
/// robin) until `requests` were sent or `max_time` passed. Each sample is the time from send
/// to the whole body read; a non-200 answer counts as an error (no sample).
pub(crate) async fn get_loop(
    http: &reqwest::Client,
    token: &str,
    urls: Arc<Vec<String>>,
    concurrency: usize,
    requests: usize,
    max_time: Duration,
) -> Samples {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + max_time;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (http, token, urls, next) =
            (http.clone(), token.to_string(), urls.clone(), next.clone());
        workers.spawn(async move {
            let mut samples = Vec::with_capacity(requests / concurrency.max(1) + 1);
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() > deadline {
                    break;
                }
                let url = &urls[i % urls.len()];
                let t = Instant::now();
                let r = http
                    .get(url)
                    .header("x-auth-token", &token)
                    .header("openstack-api-version", MV)
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) => r.status().as_u16() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    samples.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (samples, errors)
        });
    }
    let mut samples = Vec::with_capacity(requests);
    let mut errors = 0;
    while let Some(r) = workers.join_next().await {
        if let Ok((s, e)) = r {
            samples.extend(s);
            errors += e;
        }
    }
    Samples {
        samples,
        errors,
        wall: started.elapsed(),
    }
}
