//! Building and running one Cascade instance from a [`Config`]: connect the store (migrations
//! run), choose the identity backend, build the pod registry, start the background loops
//! (pod health, token purge, the job worker) and serve HTTP until shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cascade_api::{AppState, HttpMetrics};
use cascade_core::compute::deps::{ImageSource, NetworkBinding};
use cascade_core::compute::{Compute, ComputeConfig};
use cascade_core::identity::Delegation;
use cascade_core::identity::{
    BootstrapUser, EmbeddedIdentity, Identity, KeystoneIdentity, KeystoneIdentityConfig,
    PasswordLimits,
};
use cascade_core::jobs::JobEngine;
use cascade_core::network::{Binding, EngineSink, NetJobHandler, NetworkService};
use cascade_core::pods::{PodRegistry, PodRegistryConfig};
use cascade_core::secrets::Sealer;
use cascade_pod::{BreakerConfig, PodMetrics};
use cascade_store::Store;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::ServeArgs;
use crate::config::Config;

/// A running instance.
pub(crate) struct Running {
    pub(crate) public_url: String,
    pub(crate) state: AppState,
    pub(crate) cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops the listener and the background loops, and waits for them.
    pub(crate) async fn shutdown(self) {
        self.cancel.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        self.state.store.close().await;
    }
}

/// Writes a new file readable and writable by its owner only (mode 0600 on Unix); fails if
/// the file exists.
pub(crate) fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Warns when a secret file can be read by its group or by everyone.
pub(crate) fn warn_if_exposed(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:03o}"),
                    "secret file is readable by group or others; restrict it to its owner (chmod 600)"
                );
            }
        }
    }
}

fn secret_key(config: &Config) -> anyhow::Result<Sealer> {
    if let Some(key) = &config.secret_key {
        return Ok(Sealer::from_base64(key.expose())?);
    }
    let path = config
        .secret_key_file
        .clone()
        .unwrap_or_else(|| "cascade.key".into());
    if !path.exists() {
        match write_private(&path, Sealer::generate_key().as_bytes()) {
            Ok(()) => {
                tracing::warn!(path = %path.display(), "generated a new secret key; instances sharing this database need the same key")
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot write {}", path.display()));
            }
        }
    }
    warn_if_exposed(&path);
    let key = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Sealer::from_base64(&key)?)
}

/// Starts an instance on `listener`. `bootstrap` users are created in the embedded identity.
pub(crate) async fn start(
    config: &Config,
    listener: TcpListener,
    bootstrap: &[BootstrapUser],
) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();
    let store = Store::connect(&config.database_url, config.database_schema.as_deref())
        .await
        .with_context(|| "cannot open the database")?;
    let sealer = secret_key(config)?;

    let (identity, default_auth_url) = match config.identity.mode.as_str() {
        "keystone" => {
            let c = &config.identity;
            let url = c.url.clone().unwrap_or_default();
            let k = KeystoneIdentity::new(KeystoneIdentityConfig {
                url: url.clone(),
                service_username: c.service_username.clone().unwrap_or_default(),
                service_password: c
                    .service_password
                    .as_ref()
                    .map(|p| p.expose().to_string())
                    .unwrap_or_default(),
                service_project: c.service_project.clone(),
                service_user_domain: c.service_user_domain.clone(),
                service_project_domain: c.service_project_domain.clone(),
                cache_ttl: Duration::from_secs(c.cache_ttl_secs),
                cache_size: 100_000,
                timeout: Duration::from_secs(10),
            });
            (Identity::Keystone(Arc::new(k)), url)
        }
        _ => {
            let e = EmbeddedIdentity::new(
                store.clone(),
                Duration::from_secs(config.identity.token_ttl_secs),
                &public_url,
            )
            .with_password_limits(PasswordLimits {
                queue: config.identity.password_queue,
                queue_timeout: Duration::from_millis(config.identity.password_queue_timeout_ms),
            });
            let mut users = bootstrap.to_vec();
            if let Some(pw) = &config.identity.admin_password {
                users.insert(
                    0,
                    BootstrapUser {
                        name: "admin".into(),
                        password: pw.expose().to_string(),
                        project: "admin".into(),
                        role: "admin".into(),
                    },
                );
            }
            e.bootstrap(&users)
                .await
                .context("cannot bootstrap the embedded identity")?;
            (
                Identity::Embedded(Arc::new(e)),
                format!("{public_url}/identity"),
            )
        }
    };

    let mut registry = Registry::default();
    let pod_metrics = PodMetrics::default();
    pod_metrics.register(&mut registry);
    let http_metrics = HttpMetrics::default();
    http_metrics.register(&mut registry);
    let pods = Arc::new(PodRegistry::new(
        store.clone(),
        sealer.clone(),
        PodRegistryConfig {
            default_auth_url: Some(default_auth_url),
            call_timeout: config.pod_call_timeout(),
            max_in_flight: config.pods.max_in_flight,
            breaker: BreakerConfig {
                failure_threshold: config.pods.breaker_failure_threshold,
                open_for: Duration::from_secs(config.pods.breaker_open_secs),
            },
            health_interval: Duration::from_secs(config.pods.health_interval_secs),
            health_timeout: Duration::from_secs(config.pods.health_timeout_secs),
            degraded_latency: Duration::from_millis(config.pods.degraded_latency_ms),
            credential_refs: config.pods.credential_refs(),
        },
        pod_metrics,
    ));
    for (pod, reason) in pods
        .credential_ref_violations()
        .await
        .context("cannot check the pods' credentials")?
    {
        tracing::error!(%pod, %reason, "pod credentials refer outside [pods] credential_dirs / credential_env_prefix; the pod is unusable until its credentials are updated");
    }
    pods.register_metrics(&mut registry);
    let jobs = Arc::new(JobEngine::new(store.clone(), config.jobs.to_engine()));
    jobs.register_metrics(&mut registry);
    let image_service =
        cascade_core::image::ImageService::new(store.clone(), pods.clone(), config.image_config()?);
    image_service.attach_jobs(jobs.clone());
    let delegation = Arc::new(Delegation::new(identity.clone(), sealer.clone()));
    // Networking and images plug in through these seams (see `compute::deps`).
    // The central Neutron: its jobs run in the engine; compute binds ports through it.
    let network_service =
        NetworkService::new(store.clone(), pods.clone(), config.network.to_core()?);
    network_service.set_job_sink(Arc::new(EngineSink(jobs.clone())));
    for h in NetJobHandler::all(&network_service) {
        jobs.register(h);
    }
    let network: Arc<dyn NetworkBinding> = Arc::new(Binding(network_service.clone()));
    let images: Arc<dyn ImageSource> = image_service.clone();
    let compute = Compute::new(
        store.clone(),
        pods.clone(),
        jobs.clone(),
        delegation.clone(),
        network,
        images,
        ComputeConfig::default(),
    );
    // Block storage: its jobs run in the engine; it plugs itself into compute (boot from volume).
    let volume_service = cascade_core::volume::VolumeService::new(
        store.clone(),
        pods.clone(),
        jobs.clone(),
        delegation.clone(),
        image_service.clone(),
        compute.clone(),
        cascade_core::volume::VolumeConfig::default(),
    );
    let observer: Arc<dyn cascade_core::compute::deps::AddressObserver> = compute.clone();
    network_service.set_address_observer(Arc::downgrade(&observer));

    let state = AppState {
        store: store.clone(),
        identity: identity.clone(),
        pods: pods.clone(),
        jobs: jobs.clone(),
        images: image_service.clone(),
        compute: compute.clone(),
        network: network_service.clone(),
        volumes: volume_service.clone(),
        delegation: delegation.clone(),
        public_url: public_url.clone(),
        region_name: config.region_name.clone(),
        http_metrics,
        registry: Arc::new(registry),
        policy: Arc::new(config.policy()?),
    };
    let cancel = CancellationToken::new();
    let mut tasks = vec![
        tokio::spawn(pods.clone().run_health_checker(cancel.clone())),
        jobs.clone().start(cancel.clone()),
        tokio::spawn(image_service.clone().run_sweeper(cancel.clone())),
        tokio::spawn(compute.clone().run_watcher(cancel.clone())),
        tokio::spawn(volume_service.clone().run_watcher(cancel.clone())),
    ];
    if let Identity::Embedded(e) = &identity {
        let e = e.clone();
        let cancel = cancel.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                if let Err(err) = e.purge_expired().await {
                    tracing::warn!(error = %err, "cannot purge expired tokens");
                }
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                }
            }
        }));
    }
    let app =
        cascade_api::router(state.clone()).layer(axum::Extension(cascade_api::AuthRateLimit::new(
            config.identity.auth_rate_per_sec,
            config.identity.auth_burst,
        )));
    let shutdown = cancel.clone();
    tasks.push(tokio::spawn(crate::listener::serve(
        listener,
        app,
        config.server.limits(),
        shutdown,
    )));
    tracing::info!(%public_url, identity = identity.mode(), backend = ?store.backend(), "Cascade is serving");
    Ok(Running {
        public_url,
        state,
        cancel,
        tasks,
    })
}

/// Waits for Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `cascade serve`.
pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    crate::telemetry::init(&config.log_format, "info");
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let running = start(&config, listener, &[]).await?;
    if let Some(path) = &args.ready_file {
        std::fs::write(path, &running.public_url)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_generated_secret_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!(
            "cascade-key-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cascade.key");
        let mut config = Config::from_toml("").unwrap();
        config.secret_key_file = Some(path.clone());
        secret_key(&config).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
        // Loading again keeps the same key.
        let key = std::fs::read_to_string(&path).unwrap();
        secret_key(&config).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), key);
        // A new file never replaces an existing one.
        assert!(write_private(&path, b"other").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
