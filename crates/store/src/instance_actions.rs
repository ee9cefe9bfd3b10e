//! Rows of Nova's instance actions (`os-instance-actions`): what was asked of a server, by
//! which request, user and project, and when, with the events of its handling as JSON.

use sqlx::FromRow;

use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct InstanceActionRow {
    pub server_id: String,
    pub request_id: String,
    pub action: String,
    pub project_id: String,
    pub user_id: String,
    pub message: Option<String>,
    /// JSON array of events.
    pub events: String,
    /// Microseconds since the epoch.
    pub start_time: i64,
    pub updated_at: i64,
}

const COLS: &str =
    "server_id, request_id, action, project_id, user_id, message, events, start_time, updated_at";

impl Store {
    /// Records an action; `Conflict` when the request already recorded one for the server.
    pub async fn insert_instance_action(&self, a: &InstanceActionRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO instance_actions (server_id, request_id, action, project_id, user_id, \
             message, events, start_time, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&a.server_id)
        .bind(&a.request_id)
        .bind(&a.action)
        .bind(&a.project_id)
        .bind(&a.user_id)
        .bind(&a.message)
        .bind(&a.events)
        .bind(a.start_time)
        .bind(a.updated_at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(())
    }

    /// A server's actions, newest first.
    pub async fn list_instance_actions(&self, server_id: &str) -> Result<Vec<InstanceActionRow>> {
        let rows = sqlx::query_as::<_, InstanceActionRow>(sql!(
            "SELECT {COLS} FROM instance_actions WHERE server_id = $1 \
             ORDER BY start_time DESC, request_id DESC"
        ))
        .bind(server_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// One action of a server by its request id.
    pub async fn get_instance_action(
        &self,
        server_id: &str,
        request_id: &str,
    ) -> Result<InstanceActionRow> {
        sqlx::query_as::<_, InstanceActionRow>(sql!(
            "SELECT {COLS} FROM instance_actions WHERE server_id = $1 AND request_id = $2"
        ))
        .bind(server_id)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }
}
