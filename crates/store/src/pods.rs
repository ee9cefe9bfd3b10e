//! Rows of the pod registry: one per child cloud, with its encrypted credentials and its state.

use sqlx::FromRow;

use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PodRow {
    pub pod_id: String,
    pub region_name: String,
    pub az_name: String,
    pub pod_az_name: String,
    pub dc_name: String,
    pub auth_url: Option<String>,
    /// JSON object: service type → URL.
    pub endpoints: String,
    /// JSON object: label → value.
    pub capabilities: String,
    /// Sealed (encrypted) credentials document, never shown.
    pub credentials: Option<String>,
    pub state: String,
    pub state_reason: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub checked_at: Option<i64>,
}

const POD_COLS: &str = "pod_id, region_name, az_name, pod_az_name, dc_name, auth_url, endpoints, capabilities, \
                        credentials, state, state_reason, created_at, updated_at, checked_at";

impl Store {
    pub async fn insert_pod(&self, p: &PodRow) -> Result<()> {
        sqlx::query(sql!(
            "INSERT INTO pods ({POD_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&p.pod_id)
        .bind(&p.region_name)
        .bind(&p.az_name)
        .bind(&p.pod_az_name)
        .bind(&p.dc_name)
        .bind(&p.auth_url)
        .bind(&p.endpoints)
        .bind(&p.capabilities)
        .bind(&p.credentials)
        .bind(&p.state)
        .bind(&p.state_reason)
        .bind(p.created_at)
        .bind(p.updated_at)
        .bind(p.checked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_pod(&self, pod_id: &str) -> Result<PodRow> {
        Ok(
            sqlx::query_as(sql!("SELECT {POD_COLS} FROM pods WHERE pod_id = $1"))
                .bind(pod_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Pods ordered by availability zone, then region.
    pub async fn list_pods(&self) -> Result<Vec<PodRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {POD_COLS} FROM pods ORDER BY az_name, region_name"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Rewrites the operator-editable fields of a pod (everything but its name, AZ and health).
    pub async fn update_pod(&self, p: &PodRow) -> Result<()> {
        let done = sqlx::query(
            "UPDATE pods SET dc_name = $2, capabilities = $3, state = $4, state_reason = $5, updated_at = $6, \
             auth_url = $7, endpoints = $8, credentials = $9 WHERE pod_id = $1",
        )
        .bind(&p.pod_id)
        .bind(&p.dc_name)
        .bind(&p.capabilities)
        .bind(&p.state)
        .bind(&p.state_reason)
        .bind(p.updated_at)
        .bind(&p.auth_url)
        .bind(&p.endpoints)
        .bind(&p.credentials)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Records a health observation. A pod in `maintenance` keeps that state (operators own
    /// it); only `checked_at` and the reason move.
    pub async fn record_pod_health(
        &self,
        pod_id: &str,
        state: &str,
        reason: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE pods SET \
               state = CASE WHEN state = 'maintenance' THEN state ELSE $2 END, \
               updated_at = CASE WHEN state = $2 OR state = 'maintenance' THEN updated_at ELSE $4 END, \
               state_reason = $3, checked_at = $4 \
             WHERE pod_id = $1",
        )
        .bind(pod_id)
        .bind(state)
        .bind(reason)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a pod. Refused while routing rows still point at it: those resources would be
    /// lost from the global view.
    pub async fn delete_pod(&self, pod_id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM routings WHERE pod_id = $1")
            .bind(pod_id)
            .fetch_one(&mut *tx)
            .await?;
        if count > 0 {
            return Err(StoreError::Constraint(format!(
                "{count} routing entries still reference this pod"
            )));
        }
        let done = sqlx::query("DELETE FROM pods WHERE pod_id = $1")
            .bind(pod_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }
}
