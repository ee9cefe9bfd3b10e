//! The routing row as a lock (DESIGN.md protocol 1, Tricircle's `get_or_create_route`): to
//! make the bottom copy of a top resource in a pod, insert the routing row with a NULL
//! `bottom_id` (unique on `(top_id, pod_id, resource_type)`, so only one creator wins), create
//! the bottom resource carrying the top id in a searchable field, then fill `bottom_id`. A NULL
//! row older than `stale_after` belongs to a creator that died: look the bottom resource up by
//! its top id and adopt it, or drop the row and start again. Every bottom create is therefore
//! idempotent and crash-recoverable.

use std::future::Future;
use std::time::Duration;

use cascade_store::routings::NewRouting;
use cascade_store::{Store, StoreError, now_micros};

use crate::{CoreError, ErrorKind, Result};

/// Where a bottom resource goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BottomKey<'a> {
    pub top_id: &'a str,
    pub pod_id: &'a str,
    pub project_id: &'a str,
    pub resource_type: &'a str,
}

/// How long a NULL row may exist before its creator is presumed dead.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// Returns the bottom id of `key`, creating the bottom resource once if needed. `find` looks
/// the bottom resource up by its top id (for adoption after a crash); `create` makes it.
pub async fn ensure_bottom<F, FFut, C, CFut>(
    store: &Store,
    key: &BottomKey<'_>,
    find: F,
    create: C,
) -> Result<String>
where
    F: Fn() -> FFut,
    FFut: Future<Output = Result<Option<String>>>,
    C: Fn() -> CFut,
    CFut: Future<Output = Result<String>>,
{
    ensure_bottom_with(store, key, STALE_AFTER, find, create).await
}

/// [`ensure_bottom`] with an explicit staleness threshold (tests).
pub async fn ensure_bottom_with<F, FFut, C, CFut>(
    store: &Store,
    key: &BottomKey<'_>,
    stale_after: Duration,
    find: F,
    create: C,
) -> Result<String>
where
    F: Fn() -> FFut,
    FFut: Future<Output = Result<Option<String>>>,
    C: Fn() -> CFut,
    CFut: Future<Output = Result<String>>,
{
    let stale_us = stale_after.as_micros() as i64;
    for attempt in 0..200u32 {
        if let Some(row) = store
            .find_routing(key.top_id, key.pod_id, key.resource_type)
            .await?
        {
            if let Some(bottom) = row.bottom_id {
                return Ok(bottom);
            }
            if now_micros() - row.updated_at >= stale_us {
                // The creator died: adopt what it made, or start over.
                match find().await? {
                    Some(bottom) => {
                        store.set_routing_bottom(row.id, &bottom).await?;
                        return Ok(bottom);
                    }
                    None => {
                        let _ = store.delete_routing(row.id).await;
                        continue;
                    }
                }
            }
            // Someone else is creating it right now.
            tokio::time::sleep(Duration::from_millis(50 + 10 * u64::from(attempt.min(20)))).await;
            continue;
        }
        let row = match store
            .insert_routing(&NewRouting {
                top_id: key.top_id.to_string(),
                bottom_id: None,
                pod_id: key.pod_id.to_string(),
                project_id: key.project_id.to_string(),
                resource_type: key.resource_type.to_string(),
            })
            .await
        {
            Ok(row) => row,
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        // We hold the lock. A previous, crashed attempt may have made the resource already.
        let made = match find().await {
            Ok(Some(bottom)) => Ok(bottom),
            Ok(None) => create().await,
            Err(e) => Err(e),
        };
        return match made {
            Ok(bottom) => {
                store.set_routing_bottom(row.id, &bottom).await?;
                Ok(bottom)
            }
            Err(e) => {
                let _ = store.delete_routing(row.id).await;
                Err(e)
            }
        };
    }
    Err(CoreError::new(
        ErrorKind::Unavailable,
        format!(
            "gave up waiting for the {} {} in pod {}",
            key.resource_type, key.top_id, key.pod_id
        ),
    ))
}

/// Drops the routing row of a bottom resource that was deleted.
pub async fn forget(store: &Store, key: &BottomKey<'_>) -> Result<()> {
    if let Some(row) = store
        .find_routing(key.top_id, key.pod_id, key.resource_type)
        .await?
    {
        match store.delete_routing(row.id).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use cascade_store::pods::PodRow;
    use cascade_store::testing::TestDb;

    use super::*;

    async fn db_with_pod() -> TestDb {
        let db = TestDb::sqlite().await.unwrap();
        let now = now_micros();
        db.store
            .insert_pod(&PodRow {
                pod_id: "pod".into(),
                region_name: "R".into(),
                az_name: "az".into(),
                pod_az_name: String::new(),
                dc_name: String::new(),
                auth_url: None,
                endpoints: "{}".into(),
                capabilities: "{}".into(),
                credentials: None,
                state: "up".into(),
                state_reason: String::new(),
                created_at: now,
                updated_at: now,
                checked_at: None,
            })
            .await
            .unwrap();
        db
    }

    const KEY: BottomKey<'static> = BottomKey {
        top_id: "top",
        pod_id: "pod",
        project_id: "p",
        resource_type: "server",
    };

    #[tokio::test]
    async fn concurrent_callers_create_once() {
        let db = db_with_pod().await;
        let creates = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = db.store.clone();
            let creates = creates.clone();
            tasks.push(tokio::spawn(async move {
                ensure_bottom(
                    &store,
                    &KEY,
                    || async { Ok(None) },
                    || {
                        let creates = creates.clone();
                        async move {
                            creates.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(30)).await;
                            Ok("bottom-1".to_string())
                        }
                    },
                )
                .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), "bottom-1");
        }
        assert_eq!(creates.load(Ordering::SeqCst), 1);
        db.cleanup().await;
    }

    #[tokio::test]
    async fn stale_lock_is_adopted_or_retried_and_failures_release_it() {
        let db = db_with_pod().await;
        // A crashed creator left a NULL row; the bottom resource exists: adopt it.
        db.store
            .insert_routing(&NewRouting {
                top_id: "top".into(),
                bottom_id: None,
                pod_id: "pod".into(),
                project_id: "p".into(),
                resource_type: "server".into(),
            })
            .await
            .unwrap();
        let got = ensure_bottom_with(
            &db.store,
            &KEY,
            Duration::ZERO,
            || async { Ok(Some("adopted".to_string())) },
            || async { Err(CoreError::internal("must not create")) },
        )
        .await
        .unwrap();
        assert_eq!(got, "adopted");
        forget(&db.store, &KEY).await.unwrap();
        // A failed create leaves no row behind, so the next call creates.
        let err = ensure_bottom(
            &db.store,
            &KEY,
            || async { Ok(None) },
            || async { Err(CoreError::bad_request("boom")) },
        )
        .await;
        assert!(err.is_err());
        assert!(
            db.store
                .find_routing("top", "pod", "server")
                .await
                .unwrap()
                .is_none()
        );
        let ok = ensure_bottom(
            &db.store,
            &KEY,
            || async { Ok(None) },
            || async { Ok("b2".to_string()) },
        )
        .await
        .unwrap();
        assert_eq!(ok, "b2");
        db.cleanup().await;
    }
}
