//! Hashing bytes as they stream past: MD5 (`checksum`), SHA-512 (`os_hash_value`), optionally
//! SHA-256 (to check the `owner_specified.openstack.sha256` property openstacksdk sets), and
//! the byte count, which a progress ticker reads while the transfer runs. Nothing is buffered:
//! each chunk is hashed and passed on.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use md5::Digest;

/// The digests of a finished transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub size: u64,
    pub md5: String,
    pub sha512: String,
    pub sha256: Option<String>,
}

struct Hashers {
    md5: md5::Md5,
    sha512: sha2::Sha512,
    sha256: Option<sha2::Sha256>,
}

/// What the outside can watch of a transfer.
#[derive(Debug, Default)]
pub struct Meter {
    /// Bytes seen so far.
    pub bytes: AtomicU64,
    /// The source failed (the transfer is incomplete).
    pub source_failed: AtomicBool,
    done: Mutex<Option<Digests>>,
}

impl Meter {
    /// The digests, once the source ended cleanly.
    pub fn digests(&self) -> Option<Digests> {
        self.done.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Wraps a byte stream, hashing and counting it.
pub struct Digesting<S> {
    inner: S,
    hashers: Option<Hashers>,
    meter: Arc<Meter>,
}

impl<S> Digesting<S> {
    pub fn new(inner: S, with_sha256: bool) -> (Digesting<S>, Arc<Meter>) {
        let meter = Arc::new(Meter::default());
        (
            Digesting {
                inner,
                hashers: Some(Hashers {
                    md5: md5::Md5::new(),
                    sha512: sha2::Sha512::new(),
                    sha256: with_sha256.then(sha2::Sha256::new),
                }),
                meter: meter.clone(),
            },
            meter,
        )
    }
}

impl<S, E> Stream for Digesting<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(h) = this.hashers.as_mut() {
                    h.md5.update(&chunk);
                    h.sha512.update(&chunk);
                    if let Some(s) = h.sha256.as_mut() {
                        s.update(&chunk);
                    }
                }
                this.meter
                    .bytes
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.meter.source_failed.store(true, Ordering::Relaxed);
                this.hashers = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                if let Some(h) = this.hashers.take() {
                    let d = Digests {
                        size: this.meter.bytes.load(Ordering::Relaxed),
                        md5: hex::encode(h.md5.finalize()),
                        sha512: hex::encode(h.sha512.finalize()),
                        sha256: h.sha256.map(|s| hex::encode(s.finalize())),
                    };
                    *this.meter.done.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn hashes_what_passes() {
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"hello ")),
            Ok(Bytes::from_static(b"world")),
        ];
        let (s, meter) = Digesting::new(futures_util::stream::iter(chunks), true);
        let out: Vec<_> = s.collect().await;
        assert_eq!(out.len(), 2);
        let d = meter.digests().unwrap();
        assert_eq!(d.size, 11);
        assert_eq!(d.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(d.sha512.starts_with("309ecc489c12d6eb4cc40f50c902f2b4"));
        assert_eq!(
            d.sha256.as_deref(),
            Some("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
        );
    }
}
