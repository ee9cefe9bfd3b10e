//! Rows of Cinder's admin APIs kept at the top: volume type updates and project access to
//! private types, the quota class `default`, and volume transfers (the auth key only as a
//! salted hash).

use sqlx::FromRow;

use crate::volumes::VolumeTypeRow;
use crate::{Result, Store, StoreError};

/// One pending volume transfer.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TransferRow {
    pub id: String,
    pub volume_id: String,
    /// The project giving the volume away.
    pub project_id: String,
    pub name: Option<String>,
    pub salt: String,
    /// Hex SHA-256 of `salt` + the auth key.
    pub key_hash: String,
    #[sqlx(try_from = "crate::Flag")]
    pub no_snapshots: bool,
    /// The pod of the volume and the pod's own transfer of the bottom volume.
    pub pod_id: Option<String>,
    pub bottom_id: Option<String>,
    pub created_at: i64,
}

const TRANSFER_COLS: &str =
    "id, volume_id, project_id, name, salt, key_hash, no_snapshots, pod_id, bottom_id, created_at";

impl Store {
    /// Rewrites a type's name, description, visibility and extra specs; volumes of the index
    /// that name it by its old name follow a rename.
    pub async fn update_volume_type(&self, t: &VolumeTypeRow, old_name: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE volume_types SET name = $2, description = $3, is_public = $4, extra_specs = $5 \
             WHERE id = $1",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.description)
        .bind(i64::from(t.is_public))
        .bind(&t.extra_specs)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if old_name != t.name {
            sqlx::query("UPDATE volumes SET volume_type = $2 WHERE volume_type = $1")
                .bind(old_name)
                .bind(&t.name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The projects given access to a (private) type, sorted.
    pub async fn volume_type_projects(&self, type_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT project_id FROM volume_type_access WHERE type_id = $1 ORDER BY project_id",
        )
        .bind(type_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(p,)| p).collect())
    }

    /// Gives `project_id` access to the type; `Conflict` when it already has it.
    pub async fn add_volume_type_access(&self, type_id: &str, project_id: &str) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO volume_type_access (type_id, project_id) VALUES ($1, $2) \
             ON CONFLICT (type_id, project_id) DO NOTHING",
        )
        .bind(type_id)
        .bind(project_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("volume type access".into()));
        }
        Ok(())
    }

    /// Takes the access away; `NotFound` when the project had none.
    pub async fn remove_volume_type_access(&self, type_id: &str, project_id: &str) -> Result<()> {
        let done =
            sqlx::query("DELETE FROM volume_type_access WHERE type_id = $1 AND project_id = $2")
                .bind(type_id)
                .bind(project_id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Drops every access row of a deleted type.
    pub async fn clear_volume_type_access(&self, type_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM volume_type_access WHERE type_id = $1")
            .bind(type_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- quota classes ---------------------------------------------------------------------

    pub async fn volume_quota_class(&self, class_name: &str) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT resource, hard_limit FROM volume_quota_classes WHERE class_name = $1 \
             ORDER BY resource",
        )
        .bind(class_name)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn set_volume_quota_class(
        &self,
        class_name: &str,
        resource: &str,
        limit: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO volume_quota_classes (class_name, resource, hard_limit) VALUES ($1, $2, $3) \
             ON CONFLICT (class_name, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
        )
        .bind(class_name)
        .bind(resource)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a project's own limits (it falls back to the defaults).
    pub async fn delete_volume_quotas(&self, project_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM volume_quotas WHERE project_id = $1")
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- transfers -------------------------------------------------------------------------

    pub async fn insert_transfer(&self, t: &TransferRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO volume_transfers (id, volume_id, project_id, name, salt, key_hash, \
             no_snapshots, pod_id, bottom_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&t.id)
        .bind(&t.volume_id)
        .bind(&t.project_id)
        .bind(&t.name)
        .bind(&t.salt)
        .bind(&t.key_hash)
        .bind(i64::from(t.no_snapshots))
        .bind(&t.pod_id)
        .bind(&t.bottom_id)
        .bind(t.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("transfer".into()),
            other => other,
        })?;
        Ok(())
    }

    pub async fn get_transfer(&self, id: &str) -> Result<TransferRow> {
        sqlx::query_as::<_, TransferRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {TRANSFER_COLS} FROM volume_transfers WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// Transfers of one project (all with `None`), oldest first.
    pub async fn list_transfers(&self, project_id: Option<&str>) -> Result<Vec<TransferRow>> {
        Ok(
            sqlx::query_as::<_, TransferRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {TRANSFER_COLS} FROM volume_transfers \
             WHERE ($1 IS NULL OR project_id = $1) ORDER BY created_at, id"
            )))
            .bind(project_id)
            .fetch_all(&self.pool)
            .await?,
        )
    }

    pub async fn volume_transfer(&self, volume_id: &str) -> Result<Option<TransferRow>> {
        Ok(
            sqlx::query_as::<_, TransferRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {TRANSFER_COLS} FROM volume_transfers WHERE volume_id = $1"
            )))
            .bind(volume_id)
            .fetch_optional(&self.pool)
            .await?,
        )
    }

    pub async fn delete_transfer(&self, id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM volume_transfers WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
