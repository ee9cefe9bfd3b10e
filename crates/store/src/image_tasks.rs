//! Glance's tasks (`image_tasks`): an `import` task's input (JSON), status
//! (`pending` → `processing` → `success` | `failure`), result (JSON, the new image's id) and
//! message, owned by the project that created it.

use sqlx::FromRow;

use crate::{Result, Store, StoreError};

/// One task.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TaskRow {
    pub id: String,
    #[sqlx(rename = "type")]
    pub task_type: String,
    pub status: String,
    pub owner: String,
    /// JSON object.
    pub input: String,
    /// JSON object, once the task has one.
    pub result: Option<String>,
    pub message: String,
    pub image_id: Option<String>,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const TASK_COLS: &str = "id, type, status, owner, input, result, message, image_id, request_id, \
     user_id, expires_at, created_at, updated_at";

impl Store {
    pub async fn insert_image_task(&self, t: &TaskRow) -> Result<()> {
        sqlx::query(sql!(
            "INSERT INTO image_tasks ({TASK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13)"
        ))
        .bind(&t.id)
        .bind(&t.task_type)
        .bind(&t.status)
        .bind(&t.owner)
        .bind(&t.input)
        .bind(&t.result)
        .bind(&t.message)
        .bind(&t.image_id)
        .bind(&t.request_id)
        .bind(&t.user_id)
        .bind(t.expires_at)
        .bind(t.created_at)
        .bind(t.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_image_task(&self, id: &str) -> Result<TaskRow> {
        Ok(
            sqlx::query_as(sql!("SELECT {TASK_COLS} FROM image_tasks WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The tasks of `owner` (every task when `None`), oldest first.
    pub async fn list_image_tasks(&self, owner: Option<&str>) -> Result<Vec<TaskRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {TASK_COLS} FROM image_tasks WHERE $1 IS NULL OR owner = $1 \
             ORDER BY created_at, id"
        ))
        .bind(owner)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records a task's progress: status, result, message, image and expiry.
    pub async fn update_image_task(&self, t: &TaskRow) -> Result<()> {
        let done = sqlx::query(
            "UPDATE image_tasks SET status = $2, result = $3, message = $4, image_id = $5, \
             expires_at = $6, updated_at = $7 WHERE id = $1",
        )
        .bind(&t.id)
        .bind(&t.status)
        .bind(&t.result)
        .bind(&t.message)
        .bind(&t.image_id)
        .bind(t.expires_at)
        .bind(t.updated_at)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
