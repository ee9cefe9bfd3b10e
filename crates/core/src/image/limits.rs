//! Bounds on image transfers through the global Glance: a project runs at most
//! `max_transfers_per_project` uploads and downloads at once (so no tenant can take a pod's
//! call slots; beyond it Glance's 413 for a project over its `image_count_uploading` limit),
//! and an upload may carry at most `max_size_bytes` (Glance's `image_size_cap`: 413 "Image
//! exceeds the storage quota"), checked against `Content-Length` up front and against the
//! bytes actually streamed.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

use crate::{CoreError, ErrorKind, Result};

/// Glance's answer to an image over `image_size_cap`.
pub(crate) fn too_large() -> CoreError {
    CoreError::new(
        ErrorKind::OverLimit,
        "Image exceeds the storage quota: The provided image is too large.",
    )
}

/// Transfers running per project.
#[derive(Debug)]
pub(crate) struct TransferSlots {
    max: usize,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

/// One running transfer; its slot is given back when dropped.
#[derive(Debug)]
pub(crate) struct TransferSlot {
    project: String,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

impl TransferSlots {
    pub(crate) fn new(max: usize) -> TransferSlots {
        TransferSlots {
            max: max.max(1),
            running: Arc::default(),
        }
    }

    /// Takes a slot for `project`, or refuses at once when it runs `max` transfers already.
    pub(crate) fn acquire(&self, project: &str) -> Result<TransferSlot> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let n = running.entry(project.to_string()).or_insert(0);
        if *n >= self.max {
            return Err(CoreError::new(
                ErrorKind::OverLimit,
                format!(
                    "Project {project} is over a limit for [Resource image_count_uploading is over limit of {} due to current usage {} and delta 1]",
                    self.max, *n
                ),
            ));
        }
        *n += 1;
        Ok(TransferSlot {
            project: project.to_string(),
            running: self.running.clone(),
        })
    }

    #[cfg(test)]
    pub(crate) fn running(&self, project: &str) -> usize {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.get(project).copied().unwrap_or(0)
    }
}

impl Drop for TransferSlot {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = running.get_mut(&self.project) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                running.remove(&self.project);
            }
        }
    }
}

/// A byte stream that fails once more than `cap` bytes have passed, and says so in `over`.
pub(crate) struct Capped<S> {
    inner: S,
    cap: u64,
    seen: u64,
    pub(crate) over: Arc<AtomicBool>,
}

impl<S> Capped<S> {
    pub(crate) fn new(inner: S, cap: u64) -> Capped<S> {
        Capped {
            inner,
            cap,
            seen: 0,
            over: Arc::default(),
        }
    }
}

impl<S> Stream for Capped<S>
where
    S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Unpin,
{
    type Item = std::result::Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.over.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                if self.seen > self.cap {
                    self.over.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(std::io::Error::other(
                        "the image exceeds the size cap",
                    ))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[test]
    fn slots_are_per_project_and_given_back() {
        let slots = TransferSlots::new(2);
        let a1 = slots.acquire("a").unwrap();
        let _a2 = slots.acquire("a").unwrap();
        let e = slots.acquire("a").unwrap_err();
        assert_eq!(e.kind, ErrorKind::OverLimit);
        assert!(e.message.contains("image_count_uploading"), "{}", e.message);
        let _b = slots.acquire("b").unwrap();
        drop(a1);
        assert_eq!(slots.running("a"), 1);
        assert!(slots.acquire("a").is_ok());
    }

    #[tokio::test]
    async fn capped_stream_fails_past_the_cap() {
        let chunks = || {
            futures_util::stream::iter(vec![
                Ok(Bytes::from_static(b"12345")),
                Ok(Bytes::from_static(b"678")),
            ])
        };
        let s = Capped::new(chunks(), 8);
        let got: Vec<_> = s.collect().await;
        assert!(got.iter().all(|c| c.is_ok()));
        let s = Capped::new(chunks(), 7);
        let over = s.over.clone();
        let got: Vec<_> = s.collect().await;
        assert!(got[0].is_ok() && got[1].is_err());
        assert!(over.load(Ordering::Relaxed));
    }
}
