//! Compute quotas at the top (one quota across all pods, unlike per-region Nova): defaults,
//! per-project overrides set by admins, usage counted from the server index, and the check a
//! create runs before anything is written.

use std::collections::BTreeMap;

use super::Compute;
use crate::{CoreError, Result};

/// The quotas Nova drops from its quota sets and limits at 2.36 (nova-network's).
pub const NETWORK_QUOTAS: [&str; 4] = [
    "fixed_ips",
    "floating_ips",
    "security_group_rules",
    "security_groups",
];

/// Resource → hard limit (`-1` unlimited).
pub type QuotaSet = BTreeMap<String, i64>;

/// Nova's defaults for the resources Cascade enforces or reports.
pub fn default_quotas() -> QuotaSet {
    [
        ("instances", 10),
        ("cores", 20),
        ("ram", 51200),
        ("key_pairs", 100),
        ("metadata_items", 128),
        ("server_groups", 10),
        ("server_group_members", 10),
        ("injected_files", 5),
        ("injected_file_content_bytes", 10240),
        ("injected_file_path_bytes", 255),
        // nova-network's quotas: still shown (and settable) below 2.36, enforced by nothing
        // (Neutron has its own), with Nova's defaults.
        ("floating_ips", 10),
        ("fixed_ips", -1),
        ("security_groups", 10),
        ("security_group_rules", 20),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl Compute {
    /// The project's limits (defaults merged with overrides).
    pub async fn quotas(&self, project_id: &str) -> Result<QuotaSet> {
        let mut q = self.quota_class("default").await?;
        for (k, v) in self.store.compute_quotas(project_id).await? {
            q.insert(k, v);
        }
        Ok(q)
    }

    /// A quota class's limits: the built-in defaults with the `default` class's (Nova uses
    /// only that class; any other name shows them too, with its own overrides).
    pub async fn quota_class(&self, class_name: &str) -> Result<QuotaSet> {
        let mut q = default_quotas();
        for class in ["default", class_name] {
            for (k, v) in self.store.quota_class(class).await? {
                q.insert(k, v);
            }
        }
        Ok(q)
    }

    /// Admin update of a quota class (`default` changes every project's defaults).
    pub async fn set_quota_class(&self, class_name: &str, updates: &QuotaSet) -> Result<QuotaSet> {
        check_quota_updates(updates)?;
        for (k, v) in updates {
            self.store.set_quota_class(class_name, k, *v).await?;
        }
        self.quota_class(class_name).await
    }

    /// `DELETE /os-quota-sets/{project}`: the project's limits return to the defaults.
    pub async fn delete_quotas(&self, project_id: &str) -> Result<()> {
        Ok(self.store.delete_compute_quotas(project_id).await?)
    }

    /// Admin update; unknown resources are a 400.
    pub async fn set_quotas(&self, project_id: &str, updates: &QuotaSet) -> Result<QuotaSet> {
        check_quota_updates(updates)?;
        for (k, v) in updates {
            self.store.set_compute_quota(project_id, k, *v).await?;
        }
        self.quotas(project_id).await
    }

    /// In use: instances, cores, ram.
    pub async fn usage(&self, project_id: &str) -> Result<(i64, i64, i64)> {
        Ok(self.store.server_usage(project_id).await?)
    }

    /// Refuses a resize whose extra cores or RAM would exceed a limit, with Nova's message.
    pub(crate) async fn check_quota_growth(
        &self,
        project_id: &str,
        vcpus: i64,
        ram: i64,
    ) -> Result<()> {
        let q = self.quotas(project_id).await?;
        let (_, cores, used_ram) = self.usage(project_id).await?;
        for (resource, used, want) in [("cores", cores, vcpus), ("ram", used_ram, ram)] {
            let limit = q.get(resource).copied().unwrap_or(-1);
            if want > 0 && limit >= 0 && used + want > limit {
                return Err(CoreError::forbidden(format!(
                    "Quota exceeded for {resource}: Requested {want}, but already used {used} of {limit} {resource}"
                )));
            }
        }
        Ok(())
    }

    /// Refuses a create that would exceed a limit, with Nova's message.
    pub(crate) async fn check_quota(
        &self,
        project_id: &str,
        count: i64,
        vcpus: i64,
        ram: i64,
    ) -> Result<()> {
        let q = self.quotas(project_id).await?;
        let (instances, cores, used_ram) = self.usage(project_id).await?;
        for (resource, used, want) in [
            ("instances", instances, count),
            ("cores", cores, vcpus * count),
            ("ram", used_ram, ram * count),
        ] {
            let limit = q.get(resource).copied().unwrap_or(-1);
            if limit >= 0 && used + want > limit {
                return Err(CoreError::forbidden(format!(
                    "Quota exceeded for {resource}: Requested {want}, but already used {used} of {limit} {resource}"
                )));
            }
        }
        Ok(())
    }
}

/// Refuses unknown resources and limits below -1, as Nova's schema does.
fn check_quota_updates(updates: &QuotaSet) -> Result<()> {
    let known = default_quotas();
    for (k, v) in updates {
        if !known.contains_key(k) {
            return Err(CoreError::bad_request(format!(
                "Invalid input for field/attribute quota_set. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        if *v < -1 {
            return Err(CoreError::bad_request(format!(
                "Quota limit {v} for {k} must be -1 or greater."
            )));
        }
    }
    Ok(())
}
