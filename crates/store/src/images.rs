//! The global Glance's tables: `images` (the registry the tenant sees; the bytes live in pods),
//! `image_members` (sharing) and `image_copies` (one row per pod copy: its state, progress in
//! bytes, the bottom id once known, and a lease so exactly one worker copies at a time; a
//! lease that expires makes the copy claimable again, which is how an interrupted copy resumes).

use sqlx::FromRow;

use crate::{Flag, Result, Store, StoreError, now_micros};

/// One image.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ImageRow {
    pub id: String,
    pub owner: String,
    pub name: Option<String>,
    pub status: String,
    pub visibility: String,
    #[sqlx(try_from = "Flag")]
    pub protected: bool,
    #[sqlx(try_from = "Flag")]
    pub os_hidden: bool,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    /// JSON array of strings.
    pub tags: String,
    /// JSON object of the extra properties.
    pub properties: String,
    /// The pod the data was uploaded to (or registered from).
    pub home_pod_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One membership of a shared image.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct MemberRow {
    pub image_id: String,
    pub member_id: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Copy states.
pub const COPY_PENDING: &str = "pending";
pub const COPY_COPYING: &str = "copying";
pub const COPY_ACTIVE: &str = "active";
pub const COPY_FAILED: &str = "failed";

/// One pod's copy of an image.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CopyRow {
    pub image_id: String,
    pub pod_id: String,
    pub state: String,
    pub bottom_id: Option<String>,
    pub bytes_done: i64,
    pub bytes_total: Option<i64>,
    pub attempts: i64,
    pub error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Which images a listing may return before the caller's own filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageScope<'a> {
    /// Every image (administrators).
    All,
    /// What a project can see: its own, public, community, and shared with it (any member
    /// status; the caller filters on `member_status`).
    Project(&'a str),
}

const IMAGE_COLS: &str = "id, owner, name, status, visibility, protected, os_hidden, disk_format, \
     container_format, min_disk, min_ram, size, virtual_size, checksum, os_hash_algo, os_hash_value, \
     tags, properties, home_pod_id, created_at, updated_at";
const COPY_COLS: &str = "image_id, pod_id, state, bottom_id, bytes_done, bytes_total, attempts, \
     error, lease_owner, lease_until, created_at, updated_at";

impl Store {
    /// Inserts an image; [`StoreError::Conflict`] when the id exists.
    pub async fn insert_image(&self, i: &ImageRow) -> Result<()> {
        sqlx::query(sql!(
            "INSERT INTO images ({IMAGE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
        ))
        .bind(&i.id)
        .bind(&i.owner)
        .bind(&i.name)
        .bind(&i.status)
        .bind(&i.visibility)
        .bind(i64::from(i.protected))
        .bind(i64::from(i.os_hidden))
        .bind(&i.disk_format)
        .bind(&i.container_format)
        .bind(i.min_disk)
        .bind(i.min_ram)
        .bind(i.size)
        .bind(i.virtual_size)
        .bind(&i.checksum)
        .bind(&i.os_hash_algo)
        .bind(&i.os_hash_value)
        .bind(&i.tags)
        .bind(&i.properties)
        .bind(&i.home_pod_id)
        .bind(i.created_at)
        .bind(i.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_image(&self, id: &str) -> Result<ImageRow> {
        Ok(
            sqlx::query_as(sql!("SELECT {IMAGE_COLS} FROM images WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Rewrites every mutable field of an image. When `expect_status` is given, the write only
    /// applies while the stored status is still that (a compare-and-set for status
    /// transitions); `Ok(false)` means it was not.
    pub async fn update_image(&self, i: &ImageRow, expect_status: Option<&str>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE images SET owner = $2, name = $3, status = $4, visibility = $5, protected = $6, \
             os_hidden = $7, disk_format = $8, container_format = $9, min_disk = $10, min_ram = $11, \
             size = $12, virtual_size = $13, checksum = $14, os_hash_algo = $15, os_hash_value = $16, \
             tags = $17, properties = $18, home_pod_id = $19, updated_at = $20 \
             WHERE id = $1 AND ($21 IS NULL OR status = $21)",
        )
        .bind(&i.id)
        .bind(&i.owner)
        .bind(&i.name)
        .bind(&i.status)
        .bind(&i.visibility)
        .bind(i64::from(i.protected))
        .bind(i64::from(i.os_hidden))
        .bind(&i.disk_format)
        .bind(&i.container_format)
        .bind(i.min_disk)
        .bind(i.min_ram)
        .bind(i.size)
        .bind(i.virtual_size)
        .bind(&i.checksum)
        .bind(&i.os_hash_algo)
        .bind(&i.os_hash_value)
        .bind(&i.tags)
        .bind(&i.properties)
        .bind(&i.home_pod_id)
        .bind(i.updated_at)
        .bind(expect_status)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            if expect_status.is_some() {
                self.get_image(&i.id).await?;
                return Ok(false);
            }
            return Err(StoreError::NotFound);
        }
        Ok(true)
    }

    /// Deletes an image and its memberships (its copies are removed one by one as the pod
    /// copies are deleted).
    pub async fn delete_image(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM image_members WHERE image_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM images WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// The images in `scope`, optionally only those whose id is in `ids`, oldest first. The
    /// caller applies Glance's other filters, sorting and paging.
    pub async fn list_images(
        &self,
        scope: &ImageScope<'_>,
        ids: Option<&[String]>,
    ) -> Result<Vec<ImageRow>> {
        let project = match scope {
            ImageScope::All => None,
            ImageScope::Project(p) => Some(*p),
        };
        let rows: Vec<ImageRow> = sqlx::query_as(sql!(
            "SELECT {IMAGE_COLS} FROM images WHERE $1 IS NULL OR owner = $1 \
             OR visibility IN ('public', 'community') \
             OR (visibility = 'shared' AND id IN (SELECT image_id FROM image_members WHERE member_id = $1)) \
             ORDER BY created_at, id"
        ))
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        Ok(match ids {
            None => rows,
            Some(ids) => rows.into_iter().filter(|r| ids.contains(&r.id)).collect(),
        })
    }

    /// Adds a member; [`StoreError::Conflict`] when it exists.
    pub async fn insert_member(&self, m: &MemberRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO image_members (image_id, member_id, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&m.image_id)
        .bind(&m.member_id)
        .bind(&m.status)
        .bind(m.created_at)
        .bind(m.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_member(&self, image_id: &str, member_id: &str) -> Result<MemberRow> {
        Ok(sqlx::query_as(
            "SELECT image_id, member_id, status, created_at, updated_at FROM image_members \
             WHERE image_id = $1 AND member_id = $2",
        )
        .bind(image_id)
        .bind(member_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Members of one image, by member id.
    pub async fn list_members(&self, image_id: &str) -> Result<Vec<MemberRow>> {
        Ok(sqlx::query_as(
            "SELECT image_id, member_id, status, created_at, updated_at FROM image_members \
             WHERE image_id = $1 ORDER BY member_id",
        )
        .bind(image_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every membership of a project (image id → status), for list filtering.
    pub async fn memberships_of(&self, member_id: &str) -> Result<Vec<MemberRow>> {
        Ok(sqlx::query_as(
            "SELECT image_id, member_id, status, created_at, updated_at FROM image_members \
             WHERE member_id = $1",
        )
        .bind(member_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn update_member_status(
        &self,
        image_id: &str,
        member_id: &str,
        status: &str,
    ) -> Result<MemberRow> {
        let done = sqlx::query(
            "UPDATE image_members SET status = $3, updated_at = $4 WHERE image_id = $1 AND member_id = $2",
        )
        .bind(image_id)
        .bind(member_id)
        .bind(status)
        .bind(now_micros())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_member(image_id, member_id).await
    }

    pub async fn delete_member(&self, image_id: &str, member_id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM image_members WHERE image_id = $1 AND member_id = $2")
            .bind(image_id)
            .bind(member_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The copy row of `(image, pod)`, if any.
    pub async fn get_copy(&self, image_id: &str, pod_id: &str) -> Result<Option<CopyRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {COPY_COLS} FROM image_copies WHERE image_id = $1 AND pod_id = $2"
        ))
        .bind(image_id)
        .bind(pod_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Copies of one image (or of every image), by image then pod.
    pub async fn list_copies(&self, image_id: Option<&str>) -> Result<Vec<CopyRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {COPY_COLS} FROM image_copies WHERE $1 IS NULL OR image_id = $1 \
             ORDER BY image_id, created_at, pod_id"
        ))
        .bind(image_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Makes sure a copy row exists (`pending` when new); returns the current row.
    pub async fn ensure_copy(
        &self,
        image_id: &str,
        pod_id: &str,
        bytes_total: Option<i64>,
    ) -> Result<CopyRow> {
        let now = now_micros();
        sqlx::query(
            "INSERT INTO image_copies (image_id, pod_id, state, bytes_total, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (image_id, pod_id) DO NOTHING",
        )
        .bind(image_id)
        .bind(pod_id)
        .bind(COPY_PENDING)
        .bind(bytes_total)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.get_copy(image_id, pod_id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Takes the copy for `owner` until `lease_until` when it is `pending`, `failed`, or
    /// `copying` under an expired lease. `true` when this caller now holds it.
    pub async fn claim_copy(
        &self,
        image_id: &str,
        pod_id: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE image_copies SET state = $3, lease_owner = $4, lease_until = $5, \
             attempts = attempts + 1, bytes_done = 0, error = NULL, updated_at = $6 \
             WHERE image_id = $1 AND pod_id = $2 AND (state IN ($7, $8) \
               OR (state = $3 AND (lease_until IS NULL OR lease_until < $6)))",
        )
        .bind(image_id)
        .bind(pod_id)
        .bind(COPY_COPYING)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(COPY_PENDING)
        .bind(COPY_FAILED)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records progress and extends the lease; `false` when the caller lost the lease.
    pub async fn copy_progress(
        &self,
        image_id: &str,
        pod_id: &str,
        owner: &str,
        bytes_done: i64,
        bytes_total: Option<i64>,
        lease_until: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE image_copies SET bytes_done = $4, bytes_total = COALESCE($5, bytes_total), \
             lease_until = $6, updated_at = $7 \
             WHERE image_id = $1 AND pod_id = $2 AND lease_owner = $3 AND state = $8",
        )
        .bind(image_id)
        .bind(pod_id)
        .bind(owner)
        .bind(bytes_done)
        .bind(bytes_total)
        .bind(lease_until)
        .bind(now_micros())
        .bind(COPY_COPYING)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a copy held by `owner`: `active` with its bottom id, or `failed` with an error.
    pub async fn finish_copy(
        &self,
        image_id: &str,
        pod_id: &str,
        owner: &str,
        state: &str,
        bottom_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE image_copies SET state = $4, bottom_id = $5, error = $6, lease_owner = NULL, \
             lease_until = NULL, bytes_done = CASE WHEN $4 = 'active' THEN COALESCE(bytes_total, bytes_done) \
             ELSE bytes_done END, updated_at = $7 \
             WHERE image_id = $1 AND pod_id = $2 AND lease_owner = $3",
        )
        .bind(image_id)
        .bind(pod_id)
        .bind(owner)
        .bind(state)
        .bind(bottom_id)
        .bind(error)
        .bind(now_micros())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes a copy that needs no transfer (registered, or the upload's own home copy).
    pub async fn put_active_copy(
        &self,
        image_id: &str,
        pod_id: &str,
        bottom_id: &str,
        bytes: Option<i64>,
    ) -> Result<()> {
        let now = now_micros();
        sqlx::query(
            "INSERT INTO image_copies (image_id, pod_id, state, bottom_id, bytes_done, bytes_total, \
             attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) \
             ON CONFLICT (image_id, pod_id) DO UPDATE SET state = $3, bottom_id = $4, \
             bytes_done = $5, bytes_total = $6, error = NULL, lease_owner = NULL, lease_until = NULL, \
             updated_at = $7",
        )
        .bind(image_id)
        .bind(pod_id)
        .bind(COPY_ACTIVE)
        .bind(bottom_id)
        .bind(bytes.unwrap_or(0))
        .bind(bytes)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_copy(&self, image_id: &str, pod_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM image_copies WHERE image_id = $1 AND pod_id = $2")
            .bind(image_id)
            .bind(pod_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
