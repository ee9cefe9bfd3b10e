//! The job table of DESIGN.md protocol 2: durable background work claimed with leases. A row is
//! `NEW` (waiting for `run_at`), `RUNNING` (held by `lease_owner` until `lease_until`; an expired
//! lease makes it claimable again), `SUCCESS` or `FAIL` (kept as the log). At most one `NEW` or
//! `RUNNING` row exists per `(job_type, resource_id)` (a partial unique index), which is the
//! dedupe. Claims are one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL); every transition
//! out of `RUNNING` only applies while the caller still holds the lease.

use sqlx::FromRow;

use crate::{Backend, Result, Store, StoreError, now_micros};

/// Stored status strings.
pub const NEW: &str = "NEW";
pub const RUNNING: &str = "RUNNING";
pub const SUCCESS: &str = "SUCCESS";
pub const FAIL: &str = "FAIL";
/// Every status, for validating filters.
pub const STATUSES: &[&str] = &[NEW, RUNNING, SUCCESS, FAIL];

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct JobRow {
    pub id: String,
    pub job_type: String,
    pub resource_id: String,
    pub project_id: String,
    pub pod_id: Option<String>,
    /// JSON.
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    /// JSON.
    pub progress: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub run_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A job to insert (status `NEW`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJobRow {
    pub id: String,
    pub job_type: String,
    pub resource_id: String,
    pub project_id: String,
    pub pod_id: Option<String>,
    /// JSON.
    pub payload: String,
    pub max_attempts: i64,
    /// When the job becomes due (microseconds).
    pub run_at: i64,
}

/// Filters of a job list; every field present must match exactly (`status` is a stored status
/// string).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub project_id: Option<String>,
    pub job_type: Option<String>,
    pub status: Option<String>,
    pub pod_id: Option<String>,
    pub resource_id: Option<String>,
}

/// Which pod's jobs a claim may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodScope<'a> {
    /// Any job.
    Any,
    /// Only jobs with no pod.
    NoPod,
    /// Only jobs of this pod.
    Pod(&'a str),
}

/// A claim: take up to `limit` due jobs for `owner` until `lease_until`.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub owner: &'a str,
    /// "Now" as the claimer sees it (microseconds): due means `run_at <= now` for `NEW` and
    /// `lease_until < now` for `RUNNING`.
    pub now: i64,
    pub lease_until: i64,
    pub limit: i64,
    pub pod: PodScope<'a>,
    /// Only these types; empty means any type.
    pub job_types: &'a [String],
}

/// Due jobs per `(pod_id, job_type)`: what a worker could claim now.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DueGroup {
    pub pod_id: Option<String>,
    pub job_type: String,
    pub due: i64,
    pub first_run_at: i64,
}

/// The outcome of a redo (`PUT /v1.0/jobs/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redo {
    /// The job is `NEW` and due now.
    Done(JobRow),
    /// The job is `RUNNING` or `SUCCESS` (its current row).
    NotAllowed(JobRow),
}

/// The outcome of a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delete {
    Done,
    /// The job is `RUNNING` or `SUCCESS` (its current status).
    NotAllowed(String),
}

const JOB_COLS: &str = "id, job_type, resource_id, project_id, pod_id, payload, status, attempts, \
     max_attempts, last_error, progress, lease_owner, lease_until, run_at, created_at, updated_at";

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Inserts a `NEW` job unless a `NEW` or `RUNNING` job with the same `(job_type,
    /// resource_id)` exists; returns the job that is now active and whether it is the new one.
    pub async fn enqueue_job(&self, job: &NewJobRow) -> Result<(JobRow, bool)> {
        for _ in 0..5 {
            let now = now_micros();
            let inserted: Option<JobRow> = sqlx::query_as(sql!(
                "INSERT INTO jobs (id, job_type, resource_id, project_id, pod_id, payload, status, \
                   attempts, max_attempts, run_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, '{NEW}', 0, $7, $8, $9, $9) \
                 ON CONFLICT DO NOTHING RETURNING {JOB_COLS}"
            ))
            .bind(&job.id)
            .bind(&job.job_type)
            .bind(&job.resource_id)
            .bind(&job.project_id)
            .bind(&job.pod_id)
            .bind(&job.payload)
            .bind(job.max_attempts)
            .bind(job.run_at)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = inserted {
                return Ok((row, true));
            }
            let existing: Option<JobRow> = sqlx::query_as(sql!(
                "SELECT {JOB_COLS} FROM jobs WHERE job_type = $1 AND resource_id = $2 \
                   AND status IN ('{NEW}', '{RUNNING}')"
            ))
            .bind(&job.job_type)
            .bind(&job.resource_id)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = existing {
                return Ok((row, false));
            }
            if self.get_job(&job.id).await.is_ok() {
                return Err(StoreError::Conflict(format!("job {} exists", job.id)));
            }
            // The active job finished between the two statements: insert again.
        }
        Err(StoreError::Conflict(format!(
            "job ({}, {}) keeps changing",
            job.job_type, job.resource_id
        )))
    }

    pub async fn get_job(&self, id: &str) -> Result<JobRow> {
        Ok(
            sqlx::query_as(sql!("SELECT {JOB_COLS} FROM jobs WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Jobs matching `filter`, newest first (descending `created_at`, then id), at most
    /// `limit`, starting after the job `marker` (a marker that does not exist is
    /// [`StoreError::NotFound`]).
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        limit: i64,
        marker: Option<&str>,
    ) -> Result<Vec<JobRow>> {
        let (marker_at, marker_id) = match marker {
            Some(m) => {
                let row = self.get_job(m).await?;
                (Some(row.created_at), Some(row.id))
            }
            None => (None, None),
        };
        Ok(sqlx::query_as(sql!(
            "SELECT {JOB_COLS} FROM jobs \
             WHERE ($1 IS NULL OR project_id = $1) AND ($2 IS NULL OR job_type = $2) \
               AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR pod_id = $4) \
               AND ($5 IS NULL OR resource_id = $5) \
               AND ($6 IS NULL OR created_at < $6 OR (created_at = $6 AND id < $7)) \
             ORDER BY created_at DESC, id DESC LIMIT $8"
        ))
        .bind(&filter.project_id)
        .bind(&filter.job_type)
        .bind(&filter.status)
        .bind(&filter.pod_id)
        .bind(&filter.resource_id)
        .bind(marker_at)
        .bind(marker_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Due jobs grouped by `(pod_id, job_type)`, as of `now`.
    pub async fn due_jobs(&self, now: i64) -> Result<Vec<DueGroup>> {
        Ok(sqlx::query_as(sql!(
            "SELECT pod_id, job_type, COUNT(*) AS due, MIN(run_at) AS first_run_at FROM jobs \
             WHERE (status = '{NEW}' AND run_at <= $1) OR (status = '{RUNNING}' AND lease_until < $1) \
             GROUP BY pod_id, job_type"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Claims up to `claim.limit` due jobs (oldest `run_at` first) in one statement: they
    /// become `RUNNING` under `claim.owner`'s lease with `attempts` incremented. Concurrent
    /// claims never return the same job.
    pub async fn claim_jobs(&self, claim: &Claim<'_>) -> Result<Vec<JobRow>> {
        if claim.limit <= 0 {
            return Ok(Vec::new());
        }
        let (pod, first_type) = match claim.pod {
            PodScope::Any => ("", 6),
            PodScope::NoPod => (" AND pod_id IS NULL", 6),
            PodScope::Pod(_) => (" AND pod_id = $6", 7),
        };
        let types = if claim.job_types.is_empty() {
            String::new()
        } else {
            format!(
                " AND job_type IN ({})",
                placeholders(first_type, claim.job_types.len())
            )
        };
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let statement = sql!(
            "UPDATE jobs SET status = '{RUNNING}', lease_owner = $1, lease_until = $2, \
               attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs \
               WHERE ((status = '{NEW}' AND run_at <= $3) OR (status = '{RUNNING}' AND lease_until < $4)){pod}{types} \
               ORDER BY run_at, id LIMIT $5{lock}) \
             RETURNING {JOB_COLS}"
        );
        let mut q = sqlx::query_as(statement)
            .bind(claim.owner)
            .bind(claim.lease_until)
            .bind(claim.now)
            .bind(claim.now)
            .bind(claim.limit);
        if let PodScope::Pod(p) = claim.pod {
            q = q.bind(p);
        }
        for t in claim.job_types {
            q = q.bind(t);
        }
        let mut rows: Vec<JobRow> = q.fetch_all(&self.pool).await?;
        rows.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
        Ok(rows)
    }

    /// Extends `owner`'s lease; false when the lease is no longer held.
    pub async fn renew_job_lease(&self, id: &str, owner: &str, lease_until: i64) -> Result<bool> {
        let done = sqlx::query(sql!(
            "UPDATE jobs SET lease_until = $3 \
             WHERE id = $1 AND lease_owner = $2 AND status = '{RUNNING}'"
        ))
        .bind(id)
        .bind(owner)
        .bind(lease_until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records progress (JSON) of a running job; false when the lease is no longer held.
    pub async fn set_job_progress(&self, id: &str, owner: &str, progress: &str) -> Result<bool> {
        let done = sqlx::query(sql!(
            "UPDATE jobs SET progress = $3, updated_at = $4 \
             WHERE id = $1 AND lease_owner = $2 AND status = '{RUNNING}'"
        ))
        .bind(id)
        .bind(owner)
        .bind(progress)
        .bind(now_micros())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_job(
        &self,
        id: &str,
        owner: &str,
        status: &str,
        error: Option<&str>,
        run_at: Option<i64>,
    ) -> Result<bool> {
        let done = sqlx::query(sql!(
            "UPDATE jobs SET status = $3, last_error = COALESCE($4, last_error), \
               run_at = COALESCE($5, run_at), lease_owner = NULL, lease_until = NULL, updated_at = $6 \
             WHERE id = $1 AND lease_owner = $2 AND status = '{RUNNING}'"
        ))
        .bind(id)
        .bind(owner)
        .bind(status)
        .bind(error)
        .bind(run_at)
        .bind(now_micros())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `RUNNING` → `SUCCESS`, only while `owner` holds the lease (else false, nothing changes).
    pub async fn complete_job(&self, id: &str, owner: &str) -> Result<bool> {
        self.finish_job(id, owner, SUCCESS, None, None).await
    }

    /// `RUNNING` → `NEW` due at `run_at` with `error` recorded, only while `owner` holds the
    /// lease.
    pub async fn retry_job(&self, id: &str, owner: &str, run_at: i64, error: &str) -> Result<bool> {
        self.finish_job(id, owner, NEW, Some(error), Some(run_at))
            .await
    }

    /// `RUNNING` → `FAIL` with `error` recorded, only while `owner` holds the lease.
    pub async fn fail_job(&self, id: &str, owner: &str, error: &str) -> Result<bool> {
        self.finish_job(id, owner, FAIL, Some(error), None).await
    }

    /// Tricircle's redo: a `NEW` job becomes due now; a `FAIL` job becomes `NEW`, due now, with
    /// its attempts reset. `RUNNING` and `SUCCESS` jobs are not changed. A `FAIL` job whose
    /// resource has another active job is [`StoreError::Conflict`].
    pub async fn redo_job(&self, id: &str) -> Result<Redo> {
        let now = now_micros();
        let row: Option<JobRow> = sqlx::query_as(sql!(
            "UPDATE jobs SET attempts = CASE WHEN status = '{FAIL}' THEN 0 ELSE attempts END, \
               status = '{NEW}', run_at = $2, lease_owner = NULL, lease_until = NULL, updated_at = $2 \
             WHERE id = $1 AND status IN ('{NEW}', '{FAIL}') RETURNING {JOB_COLS}"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Redo::Done(row)),
            None => Ok(Redo::NotAllowed(self.get_job(id).await?)),
        }
    }

    /// Deletes a `NEW` or `FAIL` job; `RUNNING` and `SUCCESS` jobs are kept.
    pub async fn delete_job(&self, id: &str) -> Result<Delete> {
        let done = sqlx::query(sql!(
            "DELETE FROM jobs WHERE id = $1 AND status IN ('{NEW}', '{FAIL}')"
        ))
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            Ok(Delete::Done)
        } else {
            Ok(Delete::NotAllowed(self.get_job(id).await?.status))
        }
    }

    /// How many jobs of `job_types` (empty: any) are `RUNNING`, or `NEW` and due by `before`.
    pub async fn count_pending_jobs(&self, before: i64, job_types: &[String]) -> Result<i64> {
        let types = if job_types.is_empty() {
            String::new()
        } else {
            format!(" AND job_type IN ({})", placeholders(2, job_types.len()))
        };
        let mut q = sqlx::query_scalar(sql!(
            "SELECT COUNT(*) FROM jobs \
             WHERE (status = '{RUNNING}' OR (status = '{NEW}' AND run_at <= $1)){types}"
        ))
        .bind(before);
        for t in job_types {
            q = q.bind(t);
        }
        Ok(q.fetch_one(&self.pool).await?)
    }
}
