//! Streamed transfers to and from a pod (image data): the request body or the response body
//! flows chunk by chunk and is never held whole. Same token, endpoints, breaker, in-flight
//! limit and metrics as [`PodClient::send`]; but instead of one total deadline (a big image
//! takes as long as it takes) each transfer has an idle timeout: it fails when no chunk moved
//! for that long. The in-flight permit is held for the whole transfer. A 401 is not retried
//! (the body is gone); the session is refreshed ahead of expiry instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use http::{HeaderMap, Method};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::client::{PodClient, PodResponse, outcome_of};
use crate::error::{PodError, PodErrorKind};

/// A streamed answer: status and headers now, the body as it arrives.
pub struct PodDownload {
    pub status: u16,
    pub headers: HeaderMap,
    /// `Content-Length`, when the pod sent one.
    pub content_length: Option<u64>,
    pub body: BoxStream<'static, Result<Bytes, PodError>>,
}

impl std::fmt::Debug for PodDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodDownload")
            .field("status", &self.status)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl PodDownload {
    /// Reads the whole body (for error answers, which are small); at most `limit` bytes.
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, PodError> {
        let mut buf = Vec::new();
        while let Some(chunk) = self.body.next().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > limit {
                break;
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    }
}

impl PodClient {
    /// The idle timeout of streamed transfers: the pod's call timeout.
    pub fn idle_timeout(&self) -> Duration {
        self.config.timeout
    }

    async fn stream_gate(&self) -> Result<OwnedSemaphorePermit, PodError> {
        if !self.breaker.try_acquire() {
            return Err(self.err(
                PodErrorKind::CircuitOpen,
                "circuit open: the pod failed repeatedly",
            ));
        }
        match tokio::time::timeout(
            self.config.queue_timeout.min(self.config.timeout),
            self.in_flight.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                self.breaker.on_neutral();
                Err(self.err(PodErrorKind::Busy, "too many calls in flight to this pod"))
            }
        }
    }

    async fn stream_request(
        &self,
        token: Option<&str>,
        method: Method,
        service: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<reqwest::RequestBuilder, PodError> {
        let session = if self.config.credentials.is_some() {
            Some(
                tokio::time::timeout(self.config.timeout, self.session(false))
                    .await
                    .map_err(|_| self.err(PodErrorKind::Timeout, "authentication timed out"))??,
            )
        } else {
            None
        };
        let base = self.endpoint(session.as_ref(), service)?;
        let url = format!("{base}/{}", path.trim_start_matches('/'));
        let mut req = self.http.request(method, &url);
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        } else if let Some(s) = &session {
            req = req.header("x-auth-token", &s.token);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Ok(req)
    }

    fn feed_breaker(&self, result: &Result<(), PodError>) {
        match result {
            Ok(()) => self.breaker.on_success(),
            Err(e) if e.is_pod_failure() => self.breaker.on_failure(),
            Err(_) => self.breaker.on_neutral(),
        }
    }

    /// Sends `body` as the request body, streamed (e.g. `PUT /v2/images/{id}/file`). `token`
    /// acts as a tenant instead of Cascade's service user. 4xx answers are `Ok`; 5xx are errors
    /// carrying the body. Fails with `Timeout` when no chunk moved for [`Self::idle_timeout`].
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_stream<S, E>(
        &self,
        token: Option<&str>,
        method: Method,
        service: &str,
        path: &str,
        body: S,
        content_length: Option<u64>,
        headers: &[(&str, &str)],
    ) -> Result<PodResponse, PodError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let started = Instant::now();
        let result = async {
            let _permit = self.stream_gate().await?;
            let result = self
                .upload_inner(token, method, service, path, body, content_length, headers)
                .await;
            self.feed_breaker(&result.as_ref().map(|_| ()).map_err(Clone::clone));
            result
        }
        .await;
        let outcome = match &result {
            Ok(r) => format!("{}xx", r.status / 100),
            Err(e) => outcome_of(e),
        };
        self.record(service, outcome, started.elapsed());
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_inner<S, E>(
        &self,
        token: Option<&str>,
        method: Method,
        service: &str,
        path: &str,
        body: S,
        content_length: Option<u64>,
        headers: &[(&str, &str)],
    ) -> Result<PodResponse, PodError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let mut req = self
            .stream_request(token, method.clone(), service, path, headers)
            .await?;
        let origin = Instant::now();
        let last_move = Arc::new(AtomicU64::new(0));
        let mark = last_move.clone();
        let body = body.map(move |chunk| {
            mark.store(origin.elapsed().as_millis() as u64, Ordering::Relaxed);
            chunk
        });
        req = req.body(reqwest::Body::wrap_stream(body));
        if let Some(len) = content_length {
            req = req.header(http::header::CONTENT_LENGTH, len);
        }
        let idle = self.idle_timeout();
        let watchdog = async {
            loop {
                tokio::time::sleep(idle / 4 + Duration::from_millis(10)).await;
                let since = origin.elapsed().as_millis() as u64
                    - last_move
                        .load(Ordering::Relaxed)
                        .min(origin.elapsed().as_millis() as u64);
                if since > idle.as_millis() as u64 {
                    return;
                }
            }
        };
        let resp = tokio::select! {
            r = req.send() => r.map_err(|e| self.transport_error(&e))?,
            () = watchdog => {
                return Err(self.err(
                    PodErrorKind::Timeout,
                    format!("{method} {path}: no data moved for {} s", idle.as_secs()),
                ));
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = tokio::time::timeout(self.config.timeout, resp.bytes())
            .await
            .map_err(|_| self.err(PodErrorKind::Timeout, "reading the answer timed out"))?
            .map_err(|e| self.transport_error(&e))?;
        if status >= 500 {
            let mut err = self.err(
                PodErrorKind::Status(status),
                format!("{method} {path} answered {status}"),
            );
            err.body = Some(String::from_utf8_lossy(&body).into_owned());
            return Err(err);
        }
        Ok(PodResponse {
            status,
            headers,
            body,
        })
    }

    /// Starts a streamed `GET` (e.g. `/v2/images/{id}/file`). The headers must arrive within
    /// the call timeout; then every chunk within [`Self::idle_timeout`] of the previous one.
    /// Answers below 500 are `Ok` (check `status`); 5xx are errors carrying the body.
    pub async fn download_stream(
        self: &Arc<Self>,
        token: Option<&str>,
        service: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<PodDownload, PodError> {
        let started = Instant::now();
        let permit = match self.stream_gate().await {
            Ok(p) => p,
            Err(e) => {
                self.record(service, outcome_of(&e), started.elapsed());
                return Err(e);
            }
        };
        let head = async {
            let req = self
                .stream_request(token, Method::GET, service, path, headers)
                .await?;
            tokio::time::timeout(self.config.timeout, req.send())
                .await
                .map_err(|_| self.err(PodErrorKind::Timeout, "call timed out"))?
                .map_err(|e| self.transport_error(&e))
        }
        .await;
        let resp = match head {
            Ok(r) if r.status().as_u16() < 500 => r,
            Ok(r) => {
                let status = r.status().as_u16();
                let body = tokio::time::timeout(self.config.timeout, r.bytes())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                let mut err = self.err(
                    PodErrorKind::Status(status),
                    format!("GET {path} answered {status}"),
                );
                err.body = Some(String::from_utf8_lossy(&body).into_owned());
                self.feed_breaker(&Err(err.clone()));
                self.record(service, outcome_of(&err), started.elapsed());
                return Err(err);
            }
            Err(e) => {
                self.feed_breaker(&Err(e.clone()));
                self.record(service, outcome_of(&e), started.elapsed());
                return Err(e);
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_length = resp.content_length();
        let state = Transfer {
            client: self.clone(),
            service: service.to_string(),
            status,
            started,
            inner: resp.bytes_stream().boxed(),
            _permit: permit,
            done: false,
        };
        let body = futures_util::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            let idle = st.client.idle_timeout();
            match tokio::time::timeout(idle, st.inner.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), st)),
                Ok(None) => {
                    st.finish(None);
                    None
                }
                Ok(Some(Err(e))) => {
                    let err = st.client.transport_error(&e);
                    st.finish(Some(&err));
                    Some((Err(err), st))
                }
                Err(_) => {
                    let err = st.client.err(
                        PodErrorKind::Timeout,
                        format!("no data for {} s while reading", idle.as_secs()),
                    );
                    st.finish(Some(&err));
                    Some((Err(err), st))
                }
            }
        })
        .boxed();
        Ok(PodDownload {
            status,
            headers,
            content_length,
            body,
        })
    }
}

/// The state of one streamed download.
struct Transfer {
    client: Arc<PodClient>,
    service: String,
    status: u16,
    started: Instant,
    inner: BoxStream<'static, reqwest::Result<Bytes>>,
    _permit: OwnedSemaphorePermit,
    done: bool,
}

impl Transfer {
    fn finish(&mut self, err: Option<&PodError>) {
        self.done = true;
        let outcome = match err {
            None => {
                self.client.feed_breaker(&Ok(()));
                format!("{}xx", self.status / 100)
            }
            Some(e) => {
                self.client.feed_breaker(&Err(e.clone()));
                outcome_of(e)
            }
        };
        self.client
            .record(&self.service, outcome, self.started.elapsed());
    }
}
