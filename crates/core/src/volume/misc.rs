//! Snapshots (in the pod of their volume; create and delete are jobs; names and metadata kept
//! at the top; Cinder's paging), quotas at the top (one quota across all pods: defaults, admin overrides, usage
//! from the index) and the limits document's numbers.

use std::collections::BTreeMap;

use cascade_store::volumes::SnapshotRow;
use cascade_store::{StoreError, now_micros};
use serde_json::{Value, json};

use super::{VolumeService, json_text};
use crate::identity::Actor;
use crate::identity::Scope;
use crate::jobs::NewJob;
use crate::{CoreError, ErrorKind, Result};

/// Resource → hard limit (`-1` unlimited).
pub type QuotaSet = BTreeMap<String, i64>;

/// Cinder's defaults.
pub fn default_quotas() -> QuotaSet {
    [
        ("volumes", 10),
        ("gigabytes", 1000),
        ("snapshots", 10),
        ("per_volume_gigabytes", -1),
        ("backups", 10),
        ("backup_gigabytes", 1000),
        ("groups", 10),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The per-volume-type quota resources (`<resource>_<type name>`).
const PER_TYPE: [&str; 3] = ["volumes", "snapshots", "gigabytes"];

/// Every key must be one of `known`, every limit `-1` or more.
fn check_quota_updates(known: &QuotaSet, updates: &QuotaSet) -> Result<()> {
    for (k, v) in updates {
        if !known.contains_key(k) {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: Bad key(s) in quota set: {k}"
            )));
        }
        if *v < -1 {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: Quota limit {v} for {k} must be -1 or greater."
            )));
        }
    }
    Ok(())
}

/// `GET /snapshots[/detail]`'s filters, sort and page.
#[derive(Debug, Clone, Default)]
pub struct SnapshotQuery {
    pub volume_id: Option<String>,
    pub status: Option<String>,
    pub name: Option<String>,
    /// A Cinder sort key (`display_name` and `name` alike); `created_at` by default.
    pub sort_key: Option<String>,
    /// Ascending (default: descending).
    pub ascending: bool,
    pub marker: Option<String>,
    pub limit: Option<usize>,
    pub offset: usize,
}

fn page_snapshots(
    mut all: Vec<SnapshotRow>,
    q: &SnapshotQuery,
    max_limit: usize,
) -> Result<(Vec<SnapshotRow>, Option<String>)> {
    type Key = fn(&SnapshotRow) -> String;
    let key: Key = match q.sort_key.as_deref().unwrap_or("created_at") {
        "created_at" => |s| format!("{:020}", s.created_at),
        "updated_at" => |s| format!("{:020}", s.updated_at),
        "id" => |s| s.id.clone(),
        "name" | "display_name" => |s| s.name.clone().unwrap_or_default(),
        "description" | "display_description" => |s| s.description.clone().unwrap_or_default(),
        "status" => |s| s.status.clone(),
        "size" | "volume_size" => |s| format!("{:020}", s.size),
        "volume_id" => |s| s.volume_id.clone(),
        "project_id" => |s| s.project_id.clone(),
        "user_id" => |s| s.user_id.clone(),
        other => {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: Invalid sort key {other}"
            )));
        }
    };
    let marker_row = match &q.marker {
        Some(m) => Some(
            all.iter()
                .find(|s| &s.id == m)
                .cloned()
                .ok_or_else(|| CoreError::not_found(format!("Marker {m} could not be found.")))?,
        ),
        None => None,
    };
    all.retain(|s| {
        q.volume_id.as_ref().is_none_or(|v| v == &s.volume_id)
            && q.status.as_ref().is_none_or(|v| v == &s.status)
            && q.name.as_ref().is_none_or(|v| Some(v) == s.name.as_ref())
    });
    let order = |a: &SnapshotRow, b: &SnapshotRow| {
        let o = key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id));
        if q.ascending { o } else { o.reverse() }
    };
    all.sort_by(order);
    if let Some(m) = &marker_row {
        all.retain(|s| order(s, m) == std::cmp::Ordering::Greater);
    }
    let limit = q.limit.unwrap_or(max_limit).min(max_limit);
    let page: Vec<SnapshotRow> = all.into_iter().skip(q.offset).take(limit).collect();
    let next = (limit > 0 && page.len() == limit)
        .then(|| page.last().map(|s| s.id.clone()))
        .flatten();
    Ok((page, next))
}

/// `POST /snapshots`.
#[derive(Debug, Clone, Default)]
pub struct SnapshotCreate {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub force: bool,
    pub metadata: BTreeMap<String, String>,
}

/// One volume of `gigs` GiB must fit `per_volume_gigabytes`.
pub(crate) fn check_volume_size(q: &QuotaSet, gigs: i64) -> Result<()> {
    let per = q.get("per_volume_gigabytes").copied().unwrap_or(-1);
    if per >= 0 && gigs > per {
        return Err(CoreError::new(
            ErrorKind::OverLimit,
            format!(
                "VolumeSizeExceedsLimit: Requested volume size {gigs}G is larger than maximum allowed limit {per}G."
            ),
        ));
    }
    Ok(())
}

impl VolumeService {
    // ---- snapshots -------------------------------------------------------------------------

    pub async fn snapshot_row(&self, scope: &Scope, id: &str) -> Result<SnapshotRow> {
        let missing = || CoreError::not_found(format!("Snapshot {id} could not be found."));
        let s = self.store.get_snapshot(id).await.map_err(|e| match e {
            StoreError::NotFound => missing(),
            other => other.into(),
        })?;
        if s.deleted || !scope.permits(&s.project_id) {
            return Err(missing());
        }
        Ok(s)
    }

    pub async fn create_snapshot(
        &self,
        actor: &Actor,
        scope: &Scope,
        req: SnapshotCreate,
    ) -> Result<SnapshotRow> {
        let vol = self.volume_row(scope, &req.volume_id).await?;
        if vol.status != "available" && !(req.force && vol.status == "in-use") {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Volume {} status must be available, but current status is: {}.",
                vol.id, vol.status
            )));
        }
        let q = self.volume_quotas(&vol.project_id).await?;
        let limit = q.get("snapshots").copied().unwrap_or(-1);
        let used = self
            .store
            .list_snapshots(Some(&vol.project_id))
            .await?
            .len() as i64;
        if limit >= 0 && used + 1 > limit {
            return Err(CoreError::new(
                ErrorKind::OverLimit,
                format!(
                    "SnapshotLimitExceeded: Maximum number of snapshots allowed ({limit}) exceeded"
                ),
            ));
        }
        self.check_volume_totals(&vol.project_id, &q, 0, vol.size)
            .await?;
        let now = now_micros();
        let row = SnapshotRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: vol.project_id.clone(),
            user_id: actor.user_id.clone(),
            volume_id: vol.id.clone(),
            name: req.name,
            description: req.description,
            size: vol.size,
            status: "creating".into(),
            pod_id: vol.pod_id.clone(),
            bottom_id: None,
            metadata: json_text(&req.metadata),
            created_at: now,
            updated_at: now,
            deleted: false,
            progress: None,
        };
        self.store.insert_snapshot(&row).await?;
        self.enqueue_snapshot(super::jobs::SNAPSHOT_CREATE, &row)
            .await?;
        Ok(row)
    }

    async fn enqueue_snapshot(&self, job_type: &str, row: &SnapshotRow) -> Result<()> {
        self.jobs
            .enqueue(NewJob {
                job_type: job_type.into(),
                resource_id: row.id.clone(),
                project_id: row.project_id.clone(),
                pod_id: row.pod_id.clone(),
                payload: json!({"snapshot_id": row.id}),
                max_attempts: Some(20),
                delay: None,
            })
            .await?;
        Ok(())
    }

    pub async fn list_snapshots(&self, scope: &Scope) -> Result<Vec<SnapshotRow>> {
        Ok(self.store.list_snapshots(scope.project()).await?)
    }

    /// A page of the snapshots `scope` may see, as Cinder pages them: filtered, sorted on one
    /// key (newest first by default, ties by id), after `marker` (404 when it is not one of
    /// them), skipping `offset`, at most `limit` (capped by `max_limit`). The marker of a next
    /// page is set when the page is full.
    pub async fn list_snapshots_page(
        &self,
        scope: &Scope,
        q: &SnapshotQuery,
    ) -> Result<(Vec<SnapshotRow>, Option<String>)> {
        let all = self.list_snapshots(scope).await?;
        page_snapshots(all, q, self.config.max_limit)
    }

    pub async fn update_snapshot(
        &self,
        scope: &Scope,
        id: &str,
        name: Option<Option<String>>,
        description: Option<Option<String>>,
    ) -> Result<SnapshotRow> {
        let mut s = self.snapshot_row(scope, id).await?;
        if let Some(n) = name {
            s.name = n;
        }
        if let Some(d) = description {
            s.description = d;
        }
        s.updated_at = now_micros();
        self.store.update_snapshot(&s).await?;
        Ok(s)
    }

    /// A snapshot's metadata (kept at the top, like its name).
    pub async fn snapshot_metadata(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<BTreeMap<String, String>> {
        let s = self.snapshot_row(scope, id).await?;
        Ok(serde_json::from_str(&s.metadata).unwrap_or_default())
    }

    /// Replaces (`replace`) or merges a snapshot's metadata; returns the result.
    pub async fn set_snapshot_metadata(
        &self,
        scope: &Scope,
        id: &str,
        items: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<BTreeMap<String, String>> {
        let mut s = self.snapshot_row(scope, id).await?;
        super::volumes::check_metadata(&items)?;
        let mut current: BTreeMap<String, String> = if replace {
            BTreeMap::new()
        } else {
            serde_json::from_str(&s.metadata).unwrap_or_default()
        };
        current.extend(items);
        s.metadata = json_text(&current);
        s.updated_at = now_micros().max(s.updated_at + 1);
        self.store.update_snapshot(&s).await?;
        Ok(current)
    }

    pub async fn delete_snapshot_metadata(&self, scope: &Scope, id: &str, key: &str) -> Result<()> {
        let mut s = self.snapshot_row(scope, id).await?;
        let mut current: BTreeMap<String, String> =
            serde_json::from_str(&s.metadata).unwrap_or_default();
        if current.remove(key).is_none() {
            return Err(CoreError::not_found(format!(
                "Snapshot {id} has no metadata with key {key}."
            )));
        }
        s.metadata = json_text(&current);
        s.updated_at = now_micros().max(s.updated_at + 1);
        self.store.update_snapshot(&s).await?;
        Ok(())
    }

    pub async fn delete_snapshot(&self, scope: &Scope, id: &str) -> Result<()> {
        let mut s = self.snapshot_row(scope, id).await?;
        if !matches!(s.status.as_str(), "available" | "error") {
            return Err(CoreError::bad_request(format!(
                "Invalid snapshot: Snapshot status must be available or error (snapshot {id} is {}).",
                s.status
            )));
        }
        s.status = "deleting".into();
        s.updated_at = now_micros();
        self.store.update_snapshot(&s).await?;
        self.enqueue_snapshot(super::jobs::SNAPSHOT_DELETE, &s)
            .await
    }

    // ---- quotas ----------------------------------------------------------------------------

    /// A quota class: Cinder's defaults, a `-1` per volume type (`volumes_<type>`,
    /// `snapshots_<type>`, `gigabytes_<type>`), then what the admin set for the class.
    pub async fn quota_class(&self, class_name: &str) -> Result<QuotaSet> {
        let mut q = default_quotas();
        for t in self.store.list_volume_types().await? {
            for k in PER_TYPE {
                q.insert(format!("{k}_{}", t.name), -1);
            }
        }
        for (k, v) in self.store.volume_quota_class(class_name).await? {
            if q.contains_key(&k) {
                q.insert(k, v);
            }
        }
        Ok(q)
    }

    /// `PUT /os-quota-class-sets/{class}`: known keys (per-type ones of existing types) only.
    pub async fn set_quota_class(&self, class_name: &str, updates: &QuotaSet) -> Result<QuotaSet> {
        let known = self.quota_class(class_name).await?;
        check_quota_updates(&known, updates)?;
        for (k, v) in updates {
            self.store.set_volume_quota_class(class_name, k, *v).await?;
        }
        self.quota_class(class_name).await
    }

    /// A project's limits: the `default` class, then its own.
    pub async fn volume_quotas(&self, project_id: &str) -> Result<QuotaSet> {
        let mut q = self.quota_class("default").await?;
        for (k, v) in self.store.volume_quotas(project_id).await? {
            q.insert(k, v);
        }
        Ok(q)
    }

    pub async fn set_volume_quotas(
        &self,
        project_id: &str,
        updates: &QuotaSet,
    ) -> Result<QuotaSet> {
        let known = self.quota_class("default").await?;
        check_quota_updates(&known, updates)?;
        for (k, v) in updates {
            self.store.set_volume_quota(project_id, k, *v).await?;
        }
        self.volume_quotas(project_id).await
    }

    /// `DELETE /os-quota-sets/{project}`: the project returns to the defaults.
    pub async fn delete_volume_quotas(&self, project_id: &str) -> Result<()> {
        Ok(self.store.delete_volume_quotas(project_id).await?)
    }

    /// In use: volumes, gigabytes (volumes' and snapshots'), snapshots.
    pub async fn volume_usage(&self, project_id: &str) -> Result<(i64, i64, i64)> {
        let (n, g) = self.store.volume_usage(project_id).await?;
        let snaps = self.store.list_snapshots(Some(project_id)).await?;
        // Snapshots count against `gigabytes` too (Cinder's `no_snapshot_gb_quota = False`).
        let snap_g: i64 = snaps.iter().map(|s| s.size).sum();
        Ok((n, g + snap_g, snaps.len() as i64))
    }

    /// Refuses a create or extend over quota, with Cinder's 413 and words.
    pub(crate) async fn check_volume_quota(
        &self,
        project_id: &str,
        count: i64,
        gigs: i64,
    ) -> Result<()> {
        let q = self.volume_quotas(project_id).await?;
        check_volume_size(&q, gigs)?;
        self.check_volume_totals(project_id, &q, count, gigs).await
    }

    /// The totals half of [`Self::check_volume_quota`]: `count` more volumes and `gigs` more
    /// GiB must fit `volumes` and `gigabytes` (`q` is the project's quota set).
    pub(crate) async fn check_volume_totals(
        &self,
        project_id: &str,
        q: &QuotaSet,
        count: i64,
        gigs: i64,
    ) -> Result<()> {
        let (used_n, used_g, _) = self.volume_usage(project_id).await?;
        let limit_n = q.get("volumes").copied().unwrap_or(-1);
        if count > 0 && limit_n >= 0 && used_n.saturating_add(count) > limit_n {
            return Err(CoreError::new(
                ErrorKind::OverLimit,
                format!(
                    "VolumeLimitExceeded: Maximum number of volumes allowed ({limit_n}) exceeded for quota 'volumes'."
                ),
            ));
        }
        let limit_g = q.get("gigabytes").copied().unwrap_or(-1);
        if limit_g >= 0 && used_g.saturating_add(gigs) > limit_g {
            return Err(CoreError::new(
                ErrorKind::OverLimit,
                format!(
                    "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {gigs}G, quota is {limit_g}G and {used_g}G has been consumed."
                ),
            ));
        }
        Ok(())
    }

    /// The numbers of `GET /limits`' `absolute`.
    pub async fn volume_limits(&self, project_id: &str) -> Result<Value> {
        let q = self.volume_quotas(project_id).await?;
        let (n, g, s) = self.volume_usage(project_id).await?;
        let l = |k: &str| q.get(k).copied().unwrap_or(-1);
        Ok(json!({
            "maxTotalVolumes": l("volumes"), "maxTotalVolumeGigabytes": l("gigabytes"),
            "maxTotalSnapshots": l("snapshots"), "maxTotalBackups": l("backups"),
            "maxTotalBackupGigabytes": l("backup_gigabytes"),
            "totalVolumesUsed": n, "totalGigabytesUsed": g, "totalSnapshotsUsed": s,
            "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0,
        }))
    }

    /// The AZs tenants can use (one per pod AZ), with whether any of its pods is usable.
    pub async fn availability_zones(&self) -> Result<Vec<(String, bool)>> {
        self.compute.availability_zones().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(i: i64, name: &str) -> SnapshotRow {
        SnapshotRow {
            id: format!("s{i}"),
            project_id: "p".into(),
            user_id: "u".into(),
            volume_id: "v".into(),
            name: Some(name.into()),
            description: None,
            size: 1,
            status: "available".into(),
            pod_id: None,
            bottom_id: None,
            metadata: "{}".into(),
            created_at: i,
            updated_at: i,
            deleted: false,
            progress: None,
        }
    }

    fn ids(r: &(Vec<SnapshotRow>, Option<String>)) -> Vec<&str> {
        r.0.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn snapshot_pages_as_cinder() {
        let all = vec![snap(1, "b"), snap(2, "c"), snap(3, "a")];
        let page = |q: SnapshotQuery| page_snapshots(all.clone(), &q, 1000);
        // Newest first; a marker continues after itself.
        let r = page(SnapshotQuery::default()).unwrap();
        assert_eq!(ids(&r), ["s3", "s2", "s1"]);
        assert_eq!(r.1, None);
        let r = page(SnapshotQuery {
            marker: Some("s2".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ids(&r), ["s1"]);
        // A full page has a next marker, also when nothing follows.
        let r = page(SnapshotQuery {
            limit: Some(3),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.1.as_deref(), Some("s1"));
        let r = page(SnapshotQuery {
            limit: Some(0),
            ..Default::default()
        })
        .unwrap();
        assert!(r.0.is_empty() && r.1.is_none());
        let r = page(SnapshotQuery {
            offset: 2,
            limit: Some(3),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ids(&r), ["s1"]);
        let r = page(SnapshotQuery {
            sort_key: Some("display_name".into()),
            ascending: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ids(&r), ["s3", "s1", "s2"]);
        let e = page(SnapshotQuery {
            sort_key: Some("invalid".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadRequest);
        let e = page(SnapshotQuery {
            marker: Some("nope".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }
}
