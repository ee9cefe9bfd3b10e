//! Server groups: their policy is enforced by the scheduler across pods (anti-affinity means
//! different pods, affinity the same pod); members are servers of the index.

use cascade_store::compute::ServerGroupRow;
use cascade_store::{StoreError, now_micros};
use serde_json::Value;

use super::Compute;
use super::servers::json_text;
use crate::identity::Actor;
use crate::identity::Scope;
use crate::{CoreError, Result};

impl Compute {
    // ---- server groups ------------------------------------------------------------------------

    pub async fn create_server_group(
        &self,
        actor: &Actor,
        name: &str,
        policy: &str,
        rules: Value,
    ) -> Result<ServerGroupRow> {
        if !matches!(
            policy,
            "affinity" | "anti-affinity" | "soft-affinity" | "soft-anti-affinity"
        ) {
            return Err(CoreError::bad_request(format!(
                "Invalid input for field/attribute policy. Value: {policy}."
            )));
        }
        if name.trim().is_empty() || name.len() > 255 {
            return Err(CoreError::bad_request(
                "Invalid input for field/attribute name.",
            ));
        }
        let limit = self
            .quotas(&actor.project_id)
            .await?
            .get("server_groups")
            .copied()
            .unwrap_or(10);
        let used = self
            .store
            .list_server_groups(Some(&actor.project_id))
            .await?
            .len() as i64;
        if limit >= 0 && used >= limit {
            return Err(CoreError::forbidden(
                "Quota exceeded, too many server groups.",
            ));
        }
        let row = ServerGroupRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            project_id: actor.project_id.clone(),
            user_id: actor.user_id.clone(),
            policy: policy.to_string(),
            // Nova's default: no rules is `{}`.
            rules: if rules.is_null() {
                "{}".into()
            } else {
                json_text(&rules)
            },
            created_at: now_micros(),
        };
        self.store.insert_server_group(&row).await?;
        Ok(row)
    }

    pub async fn get_server_group(&self, scope: &Scope, id: &str) -> Result<ServerGroupRow> {
        let missing = || CoreError::not_found(format!("Instance group {id} could not be found."));
        let row = self.store.get_server_group(id).await.map_err(|e| match e {
            StoreError::NotFound => missing(),
            other => other.into(),
        })?;
        if !scope.permits(&row.project_id) {
            return Err(missing());
        }
        Ok(row)
    }

    pub async fn list_server_groups(&self, scope: &Scope) -> Result<Vec<ServerGroupRow>> {
        Ok(self.store.list_server_groups(scope.project()).await?)
    }

    /// Members of a group that still exist.
    pub async fn server_group_members(&self, id: &str) -> Result<Vec<String>> {
        let members = self.store.group_members(id).await?;
        Ok(self
            .store
            .server_pods(&members)
            .await?
            .into_iter()
            .map(|(s, _)| s)
            .collect())
    }

    pub async fn delete_server_group(&self, scope: &Scope, id: &str) -> Result<()> {
        self.get_server_group(scope, id).await?;
        self.store.delete_server_group(id).await?;
        Ok(())
    }
}
