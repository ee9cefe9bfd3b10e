//! The HTTP listener: accepts TCP connections and serves the router over HTTP/1.1 with
//! server-side bounds on every connection. A client must send a request's headers within the
//! header timeout (a slowloris client is cut off), and a request body must make progress within
//! the body idle timeout (a client that stops mid-body is cut off; a long streamed upload that
//! keeps sending is not). Each request carries the peer's address as axum's `ConnectInfo`, which
//! per-source limits read. Shutdown stops accepting, lets in-flight requests finish for a
//! bounded time, and returns.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// Server-side bounds of every connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Time a client has to send a request's headers (also bounds an idle keep-alive connection).
    pub(crate) header_timeout: Duration,
    /// Time a request body may go without a single byte arriving.
    pub(crate) body_idle_timeout: Duration,
}

/// How long shutdown waits for in-flight requests before giving up on them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` is cancelled.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    // Every connection task holds a receiver; the sender's `closed()` resolves when all are gone.
    let (conns_tx, conns_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let app = app.clone();
        let shutdown = shutdown.clone();
        let conn_guard = conns_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, app, limits, shutdown).await;
            drop(conn_guard);
        });
    }
    drop(listener);
    drop(conns_rx);
    if tokio::time::timeout(DRAIN_TIMEOUT, conns_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout");
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    let body_idle = limits.body_idle_timeout;
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let req = req.map(|b| axum::body::Body::new(TimeoutBody::new(body_idle, b)));
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.oneshot(req).await.unwrap_or_else(|e| match e {})) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.cancelled(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
