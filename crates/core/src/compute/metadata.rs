//! Server metadata (copied to the bottom server by the sync job, counted against
//! `metadata_items`) and tags (top only, 2.26+).

use std::collections::BTreeMap;

use cascade_store::now_micros;

use super::Compute;
use super::servers::json_text;
use crate::identity::Scope;
use crate::{CoreError, Result};

impl Compute {
    // ---- metadata and tags -------------------------------------------------------------------

    pub async fn server_metadata(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<BTreeMap<String, String>> {
        let row = self.server_row(scope, id).await?;
        Ok(serde_json::from_str(&row.metadata).unwrap_or_default())
    }

    /// Replaces (`replace`) or merges metadata; returns the result.
    pub async fn set_server_metadata(
        &self,
        scope: &Scope,
        id: &str,
        items: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<BTreeMap<String, String>> {
        let mut row = self.server_row(scope, id).await?;
        for (k, v) in &items {
            if k.is_empty() || k.len() > 255 || v.len() > 255 {
                return Err(CoreError::bad_request(
                    "Invalid input for field/attribute metadata.",
                ));
            }
        }
        let mut current: BTreeMap<String, String> = if replace {
            BTreeMap::new()
        } else {
            serde_json::from_str(&row.metadata).unwrap_or_default()
        };
        current.extend(items);
        let limit = self
            .quotas(&row.project_id)
            .await?
            .get("metadata_items")
            .copied()
            .unwrap_or(128);
        if limit >= 0 && current.len() as i64 > limit {
            return Err(CoreError::forbidden("Quota exceeded for metadata_items."));
        }
        row.metadata = json_text(&current);
        row.updated_at = now_micros();
        self.store.update_server(&row).await?;
        self.push_to_pod(&row).await?;
        Ok(current)
    }

    pub async fn delete_server_metadata(&self, scope: &Scope, id: &str, key: &str) -> Result<()> {
        let mut row = self.server_row(scope, id).await?;
        let mut current: BTreeMap<String, String> =
            serde_json::from_str(&row.metadata).unwrap_or_default();
        if current.remove(key).is_none() {
            return Err(CoreError::not_found("Metadata item was not found"));
        }
        row.metadata = json_text(&current);
        row.updated_at = now_micros();
        self.store.update_server(&row).await?;
        self.push_to_pod(&row).await
    }

    pub async fn server_tags(&self, scope: &Scope, id: &str) -> Result<Vec<String>> {
        let row = self.server_row(scope, id).await?;
        Ok(serde_json::from_str(&row.tags).unwrap_or_default())
    }

    pub async fn set_server_tags(
        &self,
        scope: &Scope,
        id: &str,
        tags: Vec<String>,
    ) -> Result<Vec<String>> {
        let mut row = self.server_row(scope, id).await?;
        if tags.len() > 50 {
            return Err(CoreError::bad_request(
                "The number of tags exceeded the per-server limit 50",
            ));
        }
        for t in &tags {
            if t.is_empty() || t.len() > 60 || t.contains(',') || t.contains('/') {
                return Err(CoreError::bad_request(format!("Invalid tag {t:?}")));
            }
        }
        let mut unique: Vec<String> = Vec::new();
        for t in tags {
            if !unique.contains(&t) {
                unique.push(t);
            }
        }
        row.tags = json_text(&unique);
        row.updated_at = now_micros();
        self.store.update_server(&row).await?;
        Ok(unique)
    }
}
