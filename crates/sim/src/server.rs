//! The process framework: one [`Region`] per [`RegionSpec`], each with its own TCP listener
//! (which the `down` fault really closes and re-opens), its own in-memory state behind one
//! `std::sync::Mutex` (never held across `.await`), and an axum router assembling the
//! services. [`start`] binds every listener before returning; [`SimHandle`] gives the URLs,
//! fault setters, the reachability oracle, persistence and shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use http::HeaderValue;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{RegionSpec, SimConfig};
use crate::error::SimError;
use crate::faults::FaultSpec;
use crate::identity::Identity;
use crate::oracle::{ReachQuery, Reachability};
use crate::state::RegionState;

/// One simulated region at run time.
pub(crate) struct Region {
    pub(crate) spec: RegionSpec,
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) base_url: String,
    pub(crate) state: Mutex<RegionState>,
    pub(crate) faults: watch::Sender<FaultSpec>,
    /// Whether the listener is currently bound (acknowledges `down` changes).
    pub(crate) listening: watch::Sender<bool>,
    /// Bumped to reset kept-alive connections (on `down` and shutdown).
    pub(crate) epoch: Arc<AtomicU64>,
}

impl Region {
    /// Locks the state after applying every timed transition that is due.
    pub(crate) fn lock(&self) -> MutexGuard<'_, RegionState> {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        g.advance(crate::util::now());
        g
    }
    pub(crate) fn build_time(&self) -> Duration {
        match self.faults.borrow().build_time_ms {
            Some(ms) => Duration::from_millis(ms),
            None => self.spec.build_time,
        }
    }
    pub(crate) fn capacity_exhausted(&self) -> bool {
        self.faults.borrow().capacity_exhausted
    }
    pub(crate) fn info(&self) -> RegionInfo {
        let b = &self.base_url;
        RegionInfo {
            name: self.name.clone(),
            az: self.spec.az.clone(),
            addr: self.addr,
            base_url: b.clone(),
            identity_url: format!("{b}/identity/v3"),
            compute_url: format!("{b}/compute/v2.1"),
            network_url: format!("{b}/network"),
            volume_url: format!("{b}/volume/v3"),
            image_url: format!("{b}/image"),
        }
    }
}

/// Everything the regions of one process share.
pub(crate) struct Cluster {
    pub(crate) regions: Vec<Arc<Region>>,
    pub(crate) identity: Identity,
    pub(crate) dirty: AtomicBool,
}

impl Cluster {
    pub(crate) fn region(&self, name: &str) -> Option<&Arc<Region>> {
        self.regions.iter().find(|r| r.name == name)
    }
}

/// The axum state of one region's router.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) region: Arc<Region>,
    pub(crate) cluster: Arc<Cluster>,
}

impl Ctx {
    /// The state, for reading.
    pub(crate) fn read(&self) -> MutexGuard<'_, RegionState> {
        self.region.lock()
    }
    /// The state, for changing (marks it for the next save).
    pub(crate) fn write(&self) -> MutexGuard<'_, RegionState> {
        self.cluster.dirty.store(true, Ordering::Relaxed);
        self.region.lock()
    }
}

/// URLs of one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInfo {
    /// Region name (Keystone region id).
    pub name: String,
    /// Availability zone.
    pub az: String,
    /// Listening address.
    pub addr: SocketAddr,
    /// `http://ip:port`.
    pub base_url: String,
    /// This region's forwarding identity endpoint, `.../identity/v3` (usable as `OS_AUTH_URL`).
    pub identity_url: String,
    /// `.../compute/v2.1`.
    pub compute_url: String,
    /// `.../network` (clients append `/v2.0`).
    pub network_url: String,
    /// `.../volume/v3` (append `/{project_id}`).
    pub volume_url: String,
    /// `.../image`.
    pub image_url: String,
}

/// A TCP stream that fails its next read once its region's epoch moves on.
pub(crate) struct SimIo {
    inner: TcpStream,
    born: u64,
    epoch: Arc<AtomicU64>,
}

impl AsyncRead for SimIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.epoch.load(Ordering::SeqCst) != self.born {
            return Poll::Ready(Err(std::io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A listener that closes its socket while the region is `down` and re-binds the same
/// address afterwards.
struct SwitchListener {
    addr: SocketAddr,
    inner: Option<TcpListener>,
    faults: watch::Receiver<FaultSpec>,
    listening: watch::Sender<bool>,
    epoch: Arc<AtomicU64>,
}

impl axum::serve::Listener for SwitchListener {
    type Io = SimIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SimIo, SocketAddr) {
        loop {
            let down = self.faults.borrow_and_update().down;
            if down {
                if self.inner.take().is_some() {
                    self.epoch.fetch_add(1, Ordering::SeqCst);
                    self.listening.send_replace(false);
                }
                if self.faults.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
                continue;
            }
            if self.inner.is_none() {
                match TcpListener::bind(self.addr).await {
                    Ok(l) => {
                        self.inner = Some(l);
                        self.listening.send_replace(true);
                    }
                    Err(e) => {
                        tracing::warn!(addr = %self.addr, error = %e, "cannot re-bind simulated region");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
            }
            let Some(listener) = self.inner.as_ref() else {
                continue;
            };
            tokio::select! {
                res = listener.accept() => match res {
                    Ok((s, peer)) => {
                        let _ = s.set_nodelay(true);
                        let born = self.epoch.load(Ordering::SeqCst);
                        return (SimIo { inner: s, born, epoch: self.epoch.clone() }, peer);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                },
                changed = self.faults.changed() => {
                    if changed.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

async fn request_id_layer(req: Request, next: Next) -> Response {
    let is_compute = req.uri().path().starts_with("/compute");
    let mut resp = next.run(req).await;
    let id = crate::util::request_id();
    if let Ok(v) = HeaderValue::from_str(&id) {
        if is_compute {
            resp.headers_mut().insert("x-compute-request-id", v.clone());
        }
        resp.headers_mut().insert("x-openstack-request-id", v);
    }
    resp
}

fn router(ctx: Ctx) -> Router {
    Router::new()
        .merge(crate::identity::router())
        .merge(crate::compute::router(ctx.clone()))
        .merge(crate::network::router(ctx.clone()))
        .merge(crate::volume::router(ctx.clone()))
        .merge(crate::image::router(ctx.clone()))
        .merge(crate::admin::router())
        .fallback(crate::admin::not_found)
        .layer(middleware::from_fn_with_state(
            ctx.clone(),
            crate::faults::fault_layer,
        ))
        .layer(middleware::from_fn(crate::error::glance_json_layer))
        .layer(middleware::from_fn(request_id_layer))
        .with_state(ctx)
}

/// A running simulator.
pub struct SimHandle {
    cluster: Arc<Cluster>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    state_file: Option<std::path::PathBuf>,
}

/// Starts every region of `config`; returns once every listener is bound.
pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
    let mut names = std::collections::HashSet::new();
    for r in &config.regions {
        if r.name.is_empty() || !names.insert(r.name.clone()) {
            return Err(SimError::Config(format!(
                "region name {:?} is empty or duplicated",
                r.name
            )));
        }
        r.faults.validate().map_err(SimError::Config)?;
    }
    let identity = Identity::new(&config.identity_url)?;
    let mut saved: HashMap<String, RegionState> = match &config.state_file {
        Some(p) => crate::state::load(p)?,
        None => HashMap::new(),
    };
    let mut regions = Vec::new();
    let mut listeners = Vec::new();
    for (i, spec) in config.regions.iter().enumerate() {
        let port = if config.base_port == 0 {
            0
        } else {
            config.base_port.saturating_add(i as u16)
        };
        let want = SocketAddr::new(config.listen_ip, port);
        let listener = TcpListener::bind(want)
            .await
            .map_err(|source| SimError::Bind { addr: want, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr: want, source })?;
        let host_ip = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let host = if addr.is_ipv6() {
            format!("[{host_ip}]")
        } else {
            host_ip
        };
        let base_url = format!("http://{host}:{}", addr.port());
        let state = match saved.remove(&spec.name) {
            Some(mut s) => {
                s.rebuild_indexes();
                s
            }
            None => RegionState::fresh(spec),
        };
        let (faults, _) = watch::channel(spec.faults.clone());
        let (listening, _) = watch::channel(!spec.faults.down);
        regions.push(Arc::new(Region {
            spec: spec.clone(),
            name: spec.name.clone(),
            addr,
            base_url,
            state: Mutex::new(state),
            faults,
            listening,
            epoch: Arc::new(AtomicU64::new(0)),
        }));
        listeners.push(listener);
    }
    let cluster = Arc::new(Cluster {
        regions,
        identity,
        dirty: AtomicBool::new(false),
    });
    let (shutdown, _) = watch::channel(false);
    let mut tasks = Vec::new();
    for (region, listener) in cluster.regions.iter().zip(listeners) {
        let ctx = Ctx {
            region: region.clone(),
            cluster: cluster.clone(),
        };
        let sl = SwitchListener {
            addr: region.addr,
            inner: if region.spec.faults.down {
                None
            } else {
                Some(listener)
            },
            faults: region.faults.subscribe(),
            listening: region.listening.clone(),
            epoch: region.epoch.clone(),
        };
        let app = router(ctx);
        let mut stop = shutdown.subscribe();
        tasks.push(tokio::spawn(async move {
            let serve = axum::serve(sl, app).with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "simulated region stopped");
            }
        }));
    }
    if let Some(path) = config.state_file.clone() {
        let c = cluster.clone();
        let mut stop = shutdown.subscribe();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                if c.dirty.swap(false, Ordering::Relaxed)
                    && let Err(e) = crate::state::save(&c, &path)
                {
                    tracing::warn!(error = %e, "cannot save simulator state");
                }
            }
        }));
    }
    Ok(SimHandle {
        cluster,
        shutdown,
        tasks,
        state_file: config.state_file,
    })
}

impl SimHandle {
    /// Every region's URLs, in configuration order.
    pub fn regions(&self) -> Vec<RegionInfo> {
        self.cluster.regions.iter().map(|r| r.info()).collect()
    }

    /// One region's URLs.
    pub fn region(&self, name: &str) -> Option<RegionInfo> {
        self.cluster.region(name).map(|r| r.info())
    }

    fn get(&self, name: &str) -> Result<&Arc<Region>, SimError> {
        self.cluster
            .region(name)
            .ok_or_else(|| SimError::UnknownRegion(name.to_string()))
    }

    /// Replaces a region's faults. Returns once a `down` change has taken effect on the
    /// listener (the socket is closed, or bound again).
    pub async fn set_faults(&self, region: &str, faults: FaultSpec) -> Result<(), SimError> {
        faults.validate().map_err(SimError::Config)?;
        let r = self.get(region)?;
        apply_faults(r, faults).await;
        Ok(())
    }

    /// Removes every fault of a region.
    pub async fn clear_faults(&self, region: &str) -> Result<(), SimError> {
        self.set_faults(region, FaultSpec::none()).await
    }

    /// A region's current faults.
    pub fn faults(&self, region: &str) -> Result<FaultSpec, SimError> {
        Ok(self.get(region)?.faults.borrow().clone())
    }

    /// Takes a region's listener down (connection refused) or brings it back, keeping its
    /// other faults.
    pub async fn set_down(&self, region: &str, down: bool) -> Result<(), SimError> {
        let mut f = self.faults(region)?;
        f.down = down;
        self.set_faults(region, f).await
    }

    /// The reachability oracle: can `query.from` send packets to `query.to`?
    pub fn can_reach(&self, query: &ReachQuery) -> Result<Reachability, SimError> {
        crate::oracle::can_reach(&self.cluster, query)
    }

    /// A JSON summary of a region's resources (counts and ids), as `GET /sim/state` gives.
    pub fn state_summary(&self, region: &str) -> Result<serde_json::Value, SimError> {
        Ok(self.get(region)?.lock().summary())
    }

    /// Writes the state file now (no-op without one).
    pub fn save_state(&self) -> Result<(), SimError> {
        match &self.state_file {
            Some(p) => crate::state::save(&self.cluster, p),
            None => Ok(()),
        }
    }

    /// Stops every listener, resets open connections and saves the state file.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for r in &self.cluster.regions {
            r.epoch.fetch_add(1, Ordering::SeqCst);
        }
        for t in std::mem::take(&mut self.tasks) {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Err(e) = self.save_state() {
            tracing::warn!(error = %e, "cannot save simulator state at shutdown");
        }
    }
}

pub(crate) async fn apply_faults(r: &Region, faults: FaultSpec) {
    let want_listening = !faults.down;
    r.faults.send_replace(faults);
    let mut rx = r.listening.subscribe();
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        rx.wait_for(|l| *l == want_listening),
    )
    .await;
}
