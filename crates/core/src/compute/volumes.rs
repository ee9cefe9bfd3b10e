//! Compute's side of block storage: where the volume service plugs in
//! ([`Compute::set_volume_binding`]), the hooks the create path and the build saga call (the
//! pod of a boot volume pins the scheduler; BDMs are rewritten for the pod), the translation of
//! the pod's `volumes_attached` (bottom ids) into top volume ids, and the few server-index
//! reads and writes the volume service needs (a server's pod, a bottom server's top id, the
//! server's attached-volume list).

use std::sync::Arc;

use cascade_store::compute::ServerRow;
use cascade_store::now_micros;
use serde_json::{Value, json};

use super::Compute;
use super::deps::VolumeBinding;
use crate::identity::Actor;
use crate::{CoreError, Result};

impl Compute {
    /// Plugs the volume service in (once; later calls are ignored).
    pub fn set_volume_binding(&self, binding: Arc<dyn VolumeBinding>) {
        let _ = self.volumes.set(binding);
    }

    /// At create: the pod the existing volumes of the BDMs pin the server to, checked against
    /// a requested AZ.
    pub(crate) async fn volume_pod(
        &self,
        project_id: &str,
        bdms: &[Value],
        az: Option<&str>,
    ) -> Result<Option<String>> {
        let Some(binding) = self.volumes.get() else {
            return Ok(None);
        };
        let Some(pod_id) = binding.placement(project_id, bdms).await? else {
            return Ok(None);
        };
        let pod = self.pods.get(&pod_id).await?;
        if let Some(az) = az
            && az != pod.az_name
        {
            return Err(CoreError::bad_request(format!(
                "The requested availability zone {az} differs from the availability zone {} of \
                 the boot volume: a server and its volumes must be in the same availability zone.",
                pod.az_name
            )));
        }
        Ok(Some(pod_id))
    }

    /// At server create: the volumes the BDMs of `servers` servers would make fit the
    /// project's volume quota.
    pub(crate) async fn check_bdm_quota(
        &self,
        project_id: &str,
        bdms: &[Value],
        servers: i64,
    ) -> Result<()> {
        match self.volumes.get() {
            Some(binding) => binding.check_quota(project_id, bdms, servers).await,
            None => Ok(()),
        }
    }

    /// In the build saga: the BDMs as the pod must see them.
    pub(crate) async fn prepare_volumes(
        &self,
        actor: &Actor,
        server_id: &str,
        pod_id: &str,
        bdms: Vec<Value>,
    ) -> Result<Vec<Value>> {
        let needs = bdms.iter().any(|b| b["destination_type"] == "volume");
        match self.volumes.get() {
            Some(binding) if needs => binding.prepare(actor, server_id, pod_id, bdms).await,
            _ => Ok(bdms),
        }
    }

    /// Rewrites the bottom volume ids of `row.volumes` (as copied from the pod) into top ids.
    pub(crate) async fn translate_volumes(&self, row: &mut ServerRow) {
        let (Some(binding), Some(pod_id)) = (self.volumes.get(), row.pod_id.clone()) else {
            return;
        };
        let mut list: Vec<Value> = serde_json::from_str(&row.volumes).unwrap_or_default();
        let mut changed = false;
        for v in &mut list {
            let Some(id) = v["id"].as_str().map(str::to_string) else {
                continue;
            };
            if let Some(top) = binding.top_volume(&pod_id, &id).await
                && top != id
            {
                v["id"] = json!(top);
                changed = true;
            }
        }
        if changed {
            row.volumes = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
        }
    }

    /// The top id of the server whose copy in `pod_id` is `bottom_id`.
    pub async fn server_by_bottom(&self, pod_id: &str, bottom_id: &str) -> Result<Option<String>> {
        Ok(self
            .store
            .server_by_bottom(pod_id, bottom_id)
            .await?
            .map(|r| r.id))
    }

    /// Adds (`Some(delete_on_termination)`) or removes (`None`) a top volume in the server's
    /// `os-extended-volumes:volumes_attached`.
    pub async fn set_server_volume(
        &self,
        server_id: &str,
        volume_id: &str,
        attached: Option<bool>,
    ) -> Result<()> {
        let Ok(mut row) = self.store.get_server(server_id).await else {
            return Ok(());
        };
        let mut list: Vec<Value> = serde_json::from_str(&row.volumes).unwrap_or_default();
        list.retain(|v| v["id"] != volume_id);
        if let Some(dot) = attached {
            list.push(json!({"id": volume_id, "delete_on_termination": dot}));
        }
        row.volumes = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_server(&row).await?;
        Ok(())
    }
}
