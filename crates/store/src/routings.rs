//! The routing table: `(top_id, pod_id, resource_type) → bottom_id`, unique on the triple, with
//! a NULL `bottom_id` meaning "being created" (the row is the lock of DESIGN.md protocol 1).

use sqlx::FromRow;

use crate::{Result, Store, StoreError, now_micros};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RoutingRow {
    pub id: i64,
    pub top_id: String,
    pub bottom_id: Option<String>,
    pub pod_id: String,
    pub project_id: String,
    pub resource_type: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new routing row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRouting {
    pub top_id: String,
    pub bottom_id: Option<String>,
    pub pod_id: String,
    pub project_id: String,
    pub resource_type: String,
}

/// Filters of a routing list; every field present must match exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutingFilter {
    pub id: Option<i64>,
    pub top_id: Option<String>,
    pub bottom_id: Option<String>,
    pub pod_id: Option<String>,
    pub project_id: Option<String>,
    pub resource_type: Option<String>,
}

const ROUTING_COLS: &str =
    "id, top_id, bottom_id, pod_id, project_id, resource_type, created_at, updated_at";

impl Store {
    /// Inserts a routing row; [`StoreError::Conflict`] when the triple exists (someone else holds
    /// the lock), [`StoreError::Constraint`] when the pod does not exist.
    pub async fn insert_routing(&self, r: &NewRouting) -> Result<RoutingRow> {
        let now = now_micros();
        Ok(sqlx::query_as(sql!(
            "INSERT INTO routings (top_id, bottom_id, pod_id, project_id, resource_type, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {ROUTING_COLS}"
        ))
        .bind(&r.top_id)
        .bind(&r.bottom_id)
        .bind(&r.pod_id)
        .bind(&r.project_id)
        .bind(&r.resource_type)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn get_routing(&self, id: i64) -> Result<RoutingRow> {
        Ok(
            sqlx::query_as(sql!("SELECT {ROUTING_COLS} FROM routings WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Routings matching `filter`, newest first (descending id), at most `limit`, starting
    /// after the row whose id is `marker` (a marker that does not exist is
    /// [`StoreError::NotFound`]).
    pub async fn list_routings(
        &self,
        filter: &RoutingFilter,
        limit: i64,
        marker: Option<i64>,
    ) -> Result<Vec<RoutingRow>> {
        if let Some(marker) = marker {
            self.get_routing(marker).await?;
        }
        Ok(sqlx::query_as(sql!(
            "SELECT {ROUTING_COLS} FROM routings \
             WHERE ($1 IS NULL OR id = $1) AND ($2 IS NULL OR top_id = $2) AND ($3 IS NULL OR bottom_id = $3) \
               AND ($4 IS NULL OR pod_id = $4) AND ($5 IS NULL OR project_id = $5) \
               AND ($6 IS NULL OR resource_type = $6) AND ($7 IS NULL OR id < $7) \
             ORDER BY id DESC LIMIT $8"
        ))
        .bind(filter.id)
        .bind(&filter.top_id)
        .bind(&filter.bottom_id)
        .bind(&filter.pod_id)
        .bind(&filter.project_id)
        .bind(&filter.resource_type)
        .bind(marker)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The row for `(top_id, pod_id, resource_type)`, if any.
    pub async fn find_routing(
        &self,
        top_id: &str,
        pod_id: &str,
        resource_type: &str,
    ) -> Result<Option<RoutingRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {ROUTING_COLS} FROM routings WHERE top_id = $1 AND pod_id = $2 AND resource_type = $3"
        ))
        .bind(top_id)
        .bind(pod_id)
        .bind(resource_type)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every row of a top resource (all pods), oldest first.
    pub async fn routings_of(&self, top_id: &str, resource_type: &str) -> Result<Vec<RoutingRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {ROUTING_COLS} FROM routings WHERE top_id = $1 AND resource_type = $2 ORDER BY id"
        ))
        .bind(top_id)
        .bind(resource_type)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Fills in `bottom_id` of a row being created (releases the lock).
    pub async fn set_routing_bottom(&self, id: i64, bottom_id: &str) -> Result<()> {
        let done = sqlx::query("UPDATE routings SET bottom_id = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(bottom_id)
            .bind(now_micros())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn delete_routing(&self, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM routings WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
