//! Rows of block storage: the volume index (the top's own record of every volume, used for
//! lists and when a pod is down), snapshots, attachment records, volume types and per-project
//! volume quotas. Lists page by keyset on `(sort column, id)` so a page out of a large index
//! costs one indexed range scan.

use sqlx::FromRow;

use crate::{Result, Store, StoreError};

/// One volume of the index. JSON columns: `attachments` (Cinder's list, top ids), `metadata`,
/// `image_metadata`, `request` (what the create job needs: actor, sources).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct VolumeRow {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: i64,
    pub status: String,
    pub az: String,
    pub pod_id: Option<String>,
    pub bottom_id: Option<String>,
    pub volume_type: String,
    #[sqlx(try_from = "crate::Flag")]
    pub bootable: bool,
    #[sqlx(try_from = "crate::Flag")]
    pub multiattach: bool,
    pub attachments: String,
    pub metadata: String,
    pub image_metadata: String,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub image_id: Option<String>,
    pub request: String,
    pub created_at: i64,
    pub updated_at: i64,
    #[sqlx(try_from = "crate::Flag")]
    pub deleted: bool,
    pub deleted_at: Option<i64>,
    /// Cinder's admin metadata (JSON object of strings): `readonly`, `attached_mode`.
    pub admin_metadata: String,
}

const VOLUME_COLS: &str = "id, project_id, user_id, name, description, size, status, az, pod_id, bottom_id, \
    volume_type, bootable, multiattach, attachments, metadata, image_metadata, snapshot_id, source_volid, image_id, \
    request, created_at, updated_at, deleted, deleted_at, admin_metadata";
const VOLUME_NCOLS: usize = 25;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SnapshotRow {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: i64,
    pub status: String,
    pub pod_id: Option<String>,
    pub bottom_id: Option<String>,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
    #[sqlx(try_from = "crate::Flag")]
    pub deleted: bool,
    /// What `os-update_snapshot_status` last set (`None`: derived from the status).
    pub progress: Option<String>,
}

const SNAPSHOT_COLS: &str = "id, project_id, user_id, volume_id, name, description, size, status, pod_id, \
    bottom_id, metadata, created_at, updated_at, deleted, progress";

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AttachmentRow {
    pub id: String,
    pub project_id: String,
    pub volume_id: String,
    pub server_id: Option<String>,
    pub status: String,
    pub attach_mode: String,
    pub device: Option<String>,
    /// The bottom attachment's id, when the pod made one.
    pub bottom_id: Option<String>,
    pub created_at: i64,
}

const ATTACHMENT_COLS: &str =
    "id, project_id, volume_id, server_id, status, attach_mode, device, bottom_id, created_at";

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct VolumeTypeRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[sqlx(try_from = "crate::Flag")]
    pub is_public: bool,
    pub extra_specs: String,
    pub created_at: i64,
}

/// The id of the `__DEFAULT__` type every database starts with.
pub const DEFAULT_TYPE_ID: &str = "5f2bd3a4-9c1e-4c1b-8f57-000000000001";

/// Columns a volume list may sort on (Cinder's sort keys → ours).
pub fn volume_sort_column(key: &str) -> Option<&'static str> {
    Some(match key {
        "created_at" => "created_at",
        "updated_at" => "updated_at",
        "name" | "display_name" => "name",
        "id" => "id",
        "size" => "size",
        "status" => "status",
        "availability_zone" => "az",
        "volume_type" => "volume_type",
        "bootable" => "bootable",
        "project_id" => "project_id",
        _ => return None,
    })
}

/// Filters of a volume list pushed into SQL; every `Some` must match.
#[derive(Debug, Clone, Default)]
pub struct VolumeFilter {
    pub project_id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub az: Option<String>,
    pub pod_id: Option<String>,
    pub bootable: Option<bool>,
    pub volume_type: Option<String>,
    /// `updated_at >= t` (µs); deleted volumes are included when set.
    pub changes_since: Option<i64>,
}

/// A keyset page request: sort column, direction, and the marker row.
#[derive(Debug, Clone)]
pub struct VolumePage {
    pub sort_column: &'static str,
    pub descending: bool,
    pub after: Option<VolumeRow>,
    pub limit: i64,
}

enum Param {
    Text(String),
    Int(i64),
}

fn sort_param(row: &VolumeRow, column: &str) -> Option<Param> {
    Some(match column {
        "created_at" => Param::Int(row.created_at),
        "updated_at" => Param::Int(row.updated_at),
        "size" => Param::Int(row.size),
        "bootable" => Param::Int(i64::from(row.bootable)),
        "name" => Param::Text(row.name.clone()?),
        "id" => Param::Text(row.id.clone()),
        "status" => Param::Text(row.status.clone()),
        "az" => Param::Text(row.az.clone()),
        "volume_type" => Param::Text(row.volume_type.clone()),
        _ => Param::Text(row.project_id.clone()),
    })
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind_volume<'q>(q: AnyQuery<'q>, v: &'q VolumeRow) -> AnyQuery<'q> {
    q.bind(&v.id)
        .bind(&v.project_id)
        .bind(&v.user_id)
        .bind(&v.name)
        .bind(&v.description)
        .bind(v.size)
        .bind(&v.status)
        .bind(&v.az)
        .bind(&v.pod_id)
        .bind(&v.bottom_id)
        .bind(&v.volume_type)
        .bind(i64::from(v.bootable))
        .bind(i64::from(v.multiattach))
        .bind(&v.attachments)
        .bind(&v.metadata)
        .bind(&v.image_metadata)
        .bind(&v.snapshot_id)
        .bind(&v.source_volid)
        .bind(&v.image_id)
        .bind(&v.request)
        .bind(v.created_at)
        .bind(v.updated_at)
        .bind(i64::from(v.deleted))
        .bind(v.deleted_at)
        .bind(&v.admin_metadata)
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sets(cols: &str) -> String {
    cols.split(", ")
        .enumerate()
        .skip(1)
        .map(|(i, c)| format!("{} = ${}", c.trim(), i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    // ---- volumes ---------------------------------------------------------------------------

    pub async fn insert_volume(&self, v: &VolumeRow) -> Result<()> {
        let q = sqlx::query(sql!(
            "INSERT INTO volumes ({VOLUME_COLS}) VALUES ({})",
            placeholders(VOLUME_NCOLS)
        ));
        bind_volume(q, v).execute(&self.pool).await?;
        Ok(())
    }

    /// Inserts many rows in one transaction (seeding large indexes).
    pub async fn insert_volumes(&self, rows: &[VolumeRow]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let text = format!(
            "INSERT INTO volumes ({VOLUME_COLS}) VALUES ({})",
            placeholders(VOLUME_NCOLS)
        );
        for v in rows {
            let q = sqlx::query(sqlx::AssertSqlSafe(text.clone()));
            bind_volume(q, v).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn update_volume(&self, v: &VolumeRow) -> Result<()> {
        let q = sqlx::query(sql!(
            "UPDATE volumes SET {} WHERE id = $1",
            sets(VOLUME_COLS)
        ));
        let done = bind_volume(q, v).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn get_volume(&self, id: &str) -> Result<VolumeRow> {
        sqlx::query_as::<_, VolumeRow>(sql!("SELECT {VOLUME_COLS} FROM volumes WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The live volume whose copy in `pod_id` is `bottom_id`.
    pub async fn volume_by_bottom(
        &self,
        pod_id: &str,
        bottom_id: &str,
    ) -> Result<Option<VolumeRow>> {
        Ok(sqlx::query_as::<_, VolumeRow>(sql!(
            "SELECT {VOLUME_COLS} FROM volumes WHERE pod_id = $1 AND bottom_id = $2 AND deleted = 0"
        ))
        .bind(pod_id)
        .bind(bottom_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Live volumes of a pod that have a bottom copy (the watcher's sweep).
    pub async fn pod_volumes(&self, pod_id: &str) -> Result<Vec<VolumeRow>> {
        Ok(sqlx::query_as::<_, VolumeRow>(sql!(
            "SELECT {VOLUME_COLS} FROM volumes WHERE pod_id = $1 AND deleted = 0 AND bottom_id IS NOT NULL"
        ))
        .bind(pod_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// One keyset page of the index.
    pub async fn list_volumes(
        &self,
        filter: &VolumeFilter,
        page: &VolumePage,
    ) -> Result<Vec<VolumeRow>> {
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<Param> = Vec::new();
        let mut push = |cond: &str, p: Param, params: &mut Vec<Param>| {
            params.push(p);
            conds.push(cond.replace('?', &format!("${}", params.len())));
        };
        for (col, val) in [
            ("project_id", &filter.project_id),
            ("name", &filter.name),
            ("status", &filter.status),
            ("az", &filter.az),
            ("pod_id", &filter.pod_id),
            ("volume_type", &filter.volume_type),
        ] {
            if let Some(v) = val {
                push(&format!("{col} = ?"), Param::Text(v.clone()), &mut params);
            }
        }
        if let Some(b) = filter.bootable {
            push("bootable = ?", Param::Int(i64::from(b)), &mut params);
        }
        if let Some(t) = filter.changes_since {
            push("updated_at >= ?", Param::Int(t), &mut params);
        } else {
            conds.push("deleted = 0".into());
        }
        let col = page.sort_column;
        let (cmp, dir) = if page.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(after) = &page.after {
            params.push(Param::Text(after.id.clone()));
            let id_pos = params.len();
            match sort_param(after, col) {
                Some(p) => {
                    params.push(p);
                    let n = params.len();
                    conds.push(format!(
                        "({col} {cmp} ${n} OR ({col} = ${n} AND id {cmp} ${id_pos}))"
                    ));
                }
                None => conds.push(format!(
                    "(({col} IS NULL AND id {cmp} ${id_pos}) OR {col} IS NOT NULL)"
                )),
            }
        }
        let where_clause = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        params.push(Param::Int(page.limit));
        let limit_pos = params.len();
        let text = format!(
            "SELECT {VOLUME_COLS} FROM volumes {where_clause} ORDER BY {col} {dir}, id {dir} LIMIT ${limit_pos}"
        );
        let mut q = sqlx::query_as::<_, VolumeRow>(sqlx::AssertSqlSafe(text));
        for p in params {
            q = match p {
                Param::Text(t) => q.bind(t),
                Param::Int(i) => q.bind(i),
            };
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// In use by a project: (volumes, gigabytes) of live volumes.
    pub async fn volume_usage(&self, project_id: &str) -> Result<(i64, i64)> {
        let (n, g): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(size) AS BIGINT) FROM volumes WHERE project_id = $1 AND deleted = 0",
        )
        .bind(project_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((n, g.unwrap_or(0)))
    }

    // ---- snapshots -------------------------------------------------------------------------

    pub async fn insert_snapshot(&self, s: &SnapshotRow) -> Result<()> {
        sqlx::query(sql!(
            "INSERT INTO volume_snapshots ({SNAPSHOT_COLS}) VALUES ({})",
            placeholders(15)
        ))
        .bind(&s.id)
        .bind(&s.project_id)
        .bind(&s.user_id)
        .bind(&s.volume_id)
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.size)
        .bind(&s.status)
        .bind(&s.pod_id)
        .bind(&s.bottom_id)
        .bind(&s.metadata)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(i64::from(s.deleted))
        .bind(&s.progress)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn update_snapshot(&self, s: &SnapshotRow) -> Result<()> {
        let done = sqlx::query(sql!(
            "UPDATE volume_snapshots SET {} WHERE id = $1",
            sets(SNAPSHOT_COLS)
        ))
        .bind(&s.id)
        .bind(&s.project_id)
        .bind(&s.user_id)
        .bind(&s.volume_id)
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.size)
        .bind(&s.status)
        .bind(&s.pod_id)
        .bind(&s.bottom_id)
        .bind(&s.metadata)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(i64::from(s.deleted))
        .bind(&s.progress)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn get_snapshot(&self, id: &str) -> Result<SnapshotRow> {
        sqlx::query_as::<_, SnapshotRow>(sql!(
            "SELECT {SNAPSHOT_COLS} FROM volume_snapshots WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// Live snapshots, newest first; of one project unless `None`.
    pub async fn list_snapshots(&self, project_id: Option<&str>) -> Result<Vec<SnapshotRow>> {
        let q = match project_id {
            Some(p) => sqlx::query_as::<_, SnapshotRow>(sql!(
                "SELECT {SNAPSHOT_COLS} FROM volume_snapshots WHERE project_id = $1 AND deleted = 0 ORDER BY created_at DESC, id DESC"
            ))
            .bind(p.to_string()),
            None => sqlx::query_as::<_, SnapshotRow>(sql!(
                "SELECT {SNAPSHOT_COLS} FROM volume_snapshots WHERE deleted = 0 ORDER BY created_at DESC, id DESC"
            )),
        };
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// Live snapshots of a volume.
    pub async fn volume_snapshots(&self, volume_id: &str) -> Result<Vec<SnapshotRow>> {
        Ok(sqlx::query_as::<_, SnapshotRow>(sql!(
            "SELECT {SNAPSHOT_COLS} FROM volume_snapshots WHERE volume_id = $1 AND deleted = 0"
        ))
        .bind(volume_id)
        .fetch_all(&self.pool)
        .await?)
    }

    // ---- attachments -----------------------------------------------------------------------

    pub async fn insert_attachment(&self, a: &AttachmentRow) -> Result<()> {
        sqlx::query(sql!(
            "INSERT INTO volume_attachments ({ATTACHMENT_COLS}) VALUES ({})",
            placeholders(9)
        ))
        .bind(&a.id)
        .bind(&a.project_id)
        .bind(&a.volume_id)
        .bind(&a.server_id)
        .bind(&a.status)
        .bind(&a.attach_mode)
        .bind(&a.device)
        .bind(&a.bottom_id)
        .bind(a.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_attachment(&self, id: &str) -> Result<AttachmentRow> {
        sqlx::query_as::<_, AttachmentRow>(sql!(
            "SELECT {ATTACHMENT_COLS} FROM volume_attachments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// Attachment records, oldest first; of one project unless `None`.
    pub async fn list_attachments(&self, project_id: Option<&str>) -> Result<Vec<AttachmentRow>> {
        let q = match project_id {
            Some(p) => sqlx::query_as::<_, AttachmentRow>(sql!(
                "SELECT {ATTACHMENT_COLS} FROM volume_attachments WHERE project_id = $1 ORDER BY created_at, id"
            ))
            .bind(p.to_string()),
            None => sqlx::query_as::<_, AttachmentRow>(sql!(
                "SELECT {ATTACHMENT_COLS} FROM volume_attachments ORDER BY created_at, id"
            )),
        };
        Ok(q.fetch_all(&self.pool).await?)
    }

    pub async fn volume_attachments(&self, volume_id: &str) -> Result<Vec<AttachmentRow>> {
        Ok(sqlx::query_as::<_, AttachmentRow>(sql!(
            "SELECT {ATTACHMENT_COLS} FROM volume_attachments WHERE volume_id = $1 ORDER BY created_at, id"
        ))
        .bind(volume_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delete_attachment(&self, id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM volume_attachments WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    // ---- types -----------------------------------------------------------------------------

    pub async fn insert_volume_type(&self, t: &VolumeTypeRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO volume_types (id, name, description, is_public, extra_specs, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.description)
        .bind(i64::from(t.is_public))
        .bind(&t.extra_specs)
        .bind(t.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// By id or by name.
    pub async fn get_volume_type(&self, id_or_name: &str) -> Result<VolumeTypeRow> {
        sqlx::query_as::<_, VolumeTypeRow>(
            "SELECT id, name, description, is_public, extra_specs, created_at FROM volume_types \
             WHERE id = $1 OR name = $1 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    pub async fn list_volume_types(&self) -> Result<Vec<VolumeTypeRow>> {
        Ok(sqlx::query_as::<_, VolumeTypeRow>(
            "SELECT id, name, description, is_public, extra_specs, created_at FROM volume_types ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delete_volume_type(&self, id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM volume_types WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Whether a live volume uses the type (by name).
    pub async fn volume_type_in_use(&self, name: &str) -> Result<bool> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM volumes WHERE volume_type = $1 AND deleted = 0")
                .bind(name)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    // ---- quotas ----------------------------------------------------------------------------

    pub async fn volume_quotas(&self, project_id: &str) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT resource, hard_limit FROM volume_quotas WHERE project_id = $1 ORDER BY resource",
        )
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn set_volume_quota(
        &self,
        project_id: &str,
        resource: &str,
        limit: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO volume_quotas (project_id, resource, hard_limit) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
        )
        .bind(project_id)
        .bind(resource)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
