//! Rows of the embedded identity's application credentials (Keystone's
//! `/v3/users/{user_id}/application_credentials`): a user's delegated login to one project
//! with some of its roles, kept with the secret's hash only.

use sqlx::FromRow;

use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AppCredRow {
    pub id: String,
    pub user_id: String,
    pub project_id: String,
    pub name: String,
    pub description: Option<String>,
    pub secret_hash: String,
    /// JSON array of role ids.
    pub roles: String,
    pub unrestricted: i64,
    /// Microseconds since the epoch.
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

const COLS: &str = "id, user_id, project_id, name, description, secret_hash, roles, unrestricted, \
                    expires_at, created_at";

impl Store {
    /// Stores a new application credential; `Conflict` when the user already has one of
    /// that name.
    pub async fn insert_app_cred(&self, a: &AppCredRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO application_credentials (id, user_id, project_id, name, description, \
             secret_hash, roles, unrestricted, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&a.id)
        .bind(&a.user_id)
        .bind(&a.project_id)
        .bind(&a.name)
        .bind(&a.description)
        .bind(&a.secret_hash)
        .bind(&a.roles)
        .bind(a.unrestricted)
        .bind(a.expires_at)
        .bind(a.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_app_cred(&self, id: &str) -> Result<AppCredRow> {
        Ok(sqlx::query_as(sql!(
            "SELECT {COLS} FROM application_credentials WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn find_app_cred(&self, user_id: &str, name: &str) -> Result<AppCredRow> {
        Ok(sqlx::query_as(sql!(
            "SELECT {COLS} FROM application_credentials WHERE user_id = $1 AND name = $2"
        ))
        .bind(user_id)
        .bind(name)
        .fetch_one(&self.pool)
        .await?)
    }

    /// A user's application credentials, oldest first, optionally only the one named `name`.
    pub async fn list_app_creds(
        &self,
        user_id: &str,
        name: Option<&str>,
    ) -> Result<Vec<AppCredRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {COLS} FROM application_credentials \
             WHERE user_id = $1 AND ($2 IS NULL OR name = $2) ORDER BY created_at, id"
        ))
        .bind(user_id)
        .bind(name)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes an application credential with the tokens issued from it, atomically.
    pub async fn delete_app_cred(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM tokens WHERE app_cred_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM application_credentials WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }
}
