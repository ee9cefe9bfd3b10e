//! The admin view of the routing table (`/v1.0/routings`): filtered, newest-first listing with
//! `limit`/`marker` paging, and single rows. Writers of routing rows are the sagas and jobs.

use cascade_model::admin::Routing;
use cascade_store::routings::{RoutingFilter, RoutingRow};
use cascade_store::{Store, StoreError, from_micros};

use crate::{CoreError, Result};

/// Largest page the admin API returns.
pub const MAX_LIMIT: i64 = 1000;

fn view(r: RoutingRow) -> Routing {
    Routing {
        id: r.id,
        top_id: r.top_id,
        bottom_id: r.bottom_id,
        pod_id: r.pod_id,
        project_id: r.project_id,
        resource_type: r.resource_type,
        created_at: cascade_model::time::iso_seconds(from_micros(r.created_at)),
        updated_at: cascade_model::time::iso_seconds(from_micros(r.updated_at)),
    }
}

/// A page of routings and whether more follow.
#[derive(Debug, Clone)]
pub struct RoutingPage {
    pub routings: Vec<Routing>,
    pub more: bool,
}

/// Lists routings; a marker that names no row is a 400, like Tricircle.
pub async fn list(
    store: &Store,
    filter: &RoutingFilter,
    limit: Option<i64>,
    marker: Option<i64>,
) -> Result<RoutingPage> {
    let limit = match limit {
        None => MAX_LIMIT,
        Some(l) if l <= 0 => {
            return Err(CoreError::bad_request("limit must be a positive integer"));
        }
        Some(l) => l.min(MAX_LIMIT),
    };
    let mut rows = store
        .list_routings(filter, limit + 1, marker)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => CoreError::bad_request(format!(
                "marker {} does not exist",
                marker.unwrap_or_default()
            )),
            other => other.into(),
        })?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok(RoutingPage {
        routings: rows.into_iter().map(view).collect(),
        more,
    })
}

pub async fn get(store: &Store, id: i64) -> Result<Routing> {
    store.get_routing(id).await.map(view).map_err(|e| match e {
        StoreError::NotFound => CoreError::not_found(format!("Routing {id} could not be found")),
        other => other.into(),
    })
}
