//! `cascade demo`: Cascade on SQLite with the embedded identity, in front of N simulated pods
//! (regions `Pod1..PodN`, AZs `az1..azN`), with an `admin` and a `demo` user. Prints the
//! `OS_*` variables and a clouds.yaml entry, and writes them (with the generated passwords)
//! into the data directory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use cascade_core::identity::BootstrapUser;
use cascade_core::secrets::Sealer;
use cascade_model::admin::{PodCreate, PodCredentials, PodUpdate};
use cascade_sim::{RegionSpec, SimConfig};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::cli::DemoArgs;
use crate::config::Config;
use crate::server;

/// Generated secrets, kept in the data directory (readable by the owner only) so a
/// `--data-dir` demo keeps its users. `Debug` shows none of them.
#[derive(Serialize, Deserialize)]
struct DemoSecrets {
    admin_password: String,
    demo_password: String,
    service_password: String,
    secret_key: String,
}

impl std::fmt::Debug for DemoSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoSecrets { <redacted> }")
    }
}

/// A new demo password: hex, so it never starts with `-` (which the CLI would take for an
/// option) and needs no quoting in a shell.
fn password() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn secrets(dir: &Path) -> anyhow::Result<DemoSecrets> {
    let path = dir.join("secrets.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        server::warn_if_exposed(&path);
        return serde_json::from_str(&text).with_context(|| format!("corrupt {}", path.display()));
    }
    let s = DemoSecrets {
        admin_password: password(),
        demo_password: password(),
        service_password: password(),
        secret_key: Sealer::generate_key(),
    };
    server::write_private(&path, serde_json::to_string_pretty(&s)?.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(s)
}

fn openrc(auth_url: &str, user: &str, password: &str, project: &str) -> String {
    format!(
        "export OS_AUTH_URL={auth_url}\nexport OS_USERNAME={user}\nexport OS_PASSWORD={password}\n\
         export OS_PROJECT_NAME={project}\nexport OS_USER_DOMAIN_NAME=Default\nexport OS_PROJECT_DOMAIN_NAME=Default\n\
         export OS_IDENTITY_API_VERSION=3\nexport OS_INTERFACE=public\nexport OS_REGION_NAME=RegionOne\n"
    )
}

fn clouds_yaml(auth_url: &str, s: &DemoSecrets) -> String {
    let entry = |name: &str, user: &str, pw: &str, project: &str| {
        format!(
            "  {name}:\n    auth:\n      auth_url: {auth_url}\n      username: {user}\n      password: {pw}\n      \
             project_name: {project}\n      user_domain_name: Default\n      project_domain_name: Default\n    \
             region_name: RegionOne\n    interface: public\n    identity_api_version: 3\n"
        )
    };
    format!(
        "clouds:\n{}{}",
        entry("cascade-admin", "admin", &s.admin_password, "admin"),
        entry("cascade-demo", "demo", &s.demo_password, "demo")
    )
}

/// `cascade demo`.
pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::telemetry::init("pretty", &args.log);
    let dir: PathBuf = match &args.data_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("cascade-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let s = secrets(&dir)?;

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr: SocketAddr = listener.local_addr()?;
    let mut config = Config::from_toml("")?;
    config.listen = addr.to_string();
    config.database_url = format!("sqlite://{}", dir.join("cascade.db").display());
    config.secret_key = Some(s.secret_key.clone().into());
    config.identity.admin_password = Some(s.admin_password.clone().into());
    config.pods.health_interval_secs = 2;
    config.pods.health_timeout_secs = 2;
    // Pod passwords given as `file:` references may also live in the demo's data directory.
    config.pods.credential_dirs.push(dir.clone());
    let users = [
        BootstrapUser {
            name: "demo".into(),
            password: s.demo_password.clone(),
            project: "demo".into(),
            role: "member".into(),
        },
        BootstrapUser {
            name: "cascade".into(),
            password: s.service_password.clone(),
            project: "service".into(),
            role: "admin".into(),
        },
    ];
    let running = server::start(&config, listener, &users).await?;
    let identity_url = format!("{}/identity", running.public_url);

    let regions: Vec<RegionSpec> = (1..=args.pods)
        .map(|i| {
            let mut r = RegionSpec::new(format!("Pod{i}"), format!("az{i}"));
            r.build_time = Duration::from_secs(args.build_secs);
            r
        })
        .collect();
    let mut sim_config = SimConfig::new(identity_url.clone(), regions);
    sim_config.listen_ip = addr.ip();
    // `--listen …:0` means "any free port": the pods then take free ports too.
    sim_config.base_port = if args.listen.port() == 0 {
        0
    } else {
        addr.port().saturating_add(1)
    };
    sim_config.state_file = Some(dir.join("sim-state.json"));
    let sim = cascade_sim::start(sim_config)
        .await
        .context("cannot start the simulated pods")?;

    let credentials = || PodCredentials {
        username: "cascade".into(),
        password: Some(s.service_password.clone()),
        password_ref: None,
        project_name: "service".into(),
        user_domain_name: None,
        project_domain_name: None,
    };
    let existing = running.state.pods.list().await?;
    for region in sim.regions() {
        match existing.iter().find(|p| p.region_name == region.name) {
            Some(pod) => {
                let update = PodUpdate {
                    auth_url: Some(region.identity_url.clone()),
                    credentials: Some(credentials()),
                    ..PodUpdate::default()
                };
                running.state.pods.update(&pod.pod_id, update).await?;
            }
            None => {
                running
                    .state
                    .pods
                    .create(PodCreate {
                        region_name: region.name.clone(),
                        az_name: region.az.clone(),
                        pod_az_name: String::new(),
                        dc_name: format!("dc-{}", region.az),
                        auth_url: Some(region.identity_url.clone()),
                        endpoints: BTreeMap::new(),
                        credentials: Some(credentials()),
                        capabilities: BTreeMap::from([(
                            "simulated".to_string(),
                            "true".to_string(),
                        )]),
                    })
                    .await?;
            }
        }
    }
    running.state.pods.check_all().await?;

    let auth_url = format!("{identity_url}/v3");
    std::fs::write(
        dir.join("admin-openrc.sh"),
        openrc(&auth_url, "admin", &s.admin_password, "admin"),
    )?;
    std::fs::write(
        dir.join("demo-openrc.sh"),
        openrc(&auth_url, "demo", &s.demo_password, "demo"),
    )?;
    std::fs::write(dir.join("clouds.yaml"), clouds_yaml(&auth_url, &s))?;

    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::ASCII_FULL_CONDENSED);
    table.set_header(["Region", "AZ", "State", "Endpoint (straight to the pod)"]);
    let pods = running.state.pods.list().await?;
    for region in sim.regions() {
        let state = pods
            .iter()
            .find(|p| p.region_name == region.name)
            .map(|p| p.state.as_str())
            .unwrap_or("?");
        table.add_row([
            region.name.clone(),
            region.az.clone(),
            state.to_string(),
            region.identity_url.clone(),
        ]);
    }
    println!("Cascade demo is running at {}", running.public_url);
    println!("Data directory: {}", dir.display());
    println!("\nPods (simulated OpenStack regions, one availability zone each):\n{table}");
    println!(
        "\nUse the openstack CLI as the admin (or source {}/demo-openrc.sh for the demo user):\n",
        dir.display()
    );
    print!("{}", openrc(&auth_url, "admin", &s.admin_password, "admin"));
    println!(
        "\nor put this in clouds.yaml (written to {}/clouds.yaml) and set OS_CLOUD=cascade-demo:\n",
        dir.display()
    );
    print!("{}", clouds_yaml(&auth_url, &s));
    println!(
        "\nOperator commands (with the admin variables above): cascade pod list, cascade routing list"
    );
    println!("Stop with Ctrl-C.");

    server::shutdown_signal().await;
    eprintln!("stopping the demo");
    sim.shutdown().await;
    running.shutdown().await;
    Ok(())
}
