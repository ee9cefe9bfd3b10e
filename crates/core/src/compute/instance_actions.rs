//! Nova's instance actions (`os-instance-actions`): Cascade records one action per server
//! create, delete and server action it accepts (the request id the client got back, the user,
//! the project, the time) with one event, Cascade's own handling of the request
//! (`cascade_<action>`: the pod call made or the job enqueued). Actions outlive their server:
//! a deleted server's are listed from microversion 2.21, as in Nova.

use cascade_store::instance_actions::InstanceActionRow;
use cascade_store::{StoreError, now_micros};
use serde_json::json;

use super::Compute;
use super::servers::instance_missing;
use crate::identity::Scope;
use crate::{CoreError, Result};

/// Nova's action name of a server action (`os-stop` → `stop`); `None` for actions Nova does
/// not record (console output, security groups).
pub fn action_name(action: &str) -> Option<&'static str> {
    Some(match action {
        "os-start" => "start",
        "os-stop" => "stop",
        "reboot" => "reboot",
        "pause" => "pause",
        "unpause" => "unpause",
        "suspend" => "suspend",
        "resume" => "resume",
        "lock" => "lock",
        "unlock" => "unlock",
        "resize" => "resize",
        "confirmResize" => "confirmResize",
        "revertResize" => "revertResize",
        "createImage" => "createImage",
        "createBackup" => "createBackup",
        "rebuild" => "rebuild",
        "changePassword" => "changePassword",
        "create" => "create",
        "delete" => "delete",
        "forceDelete" => "forceDelete",
        "restore" => "restore",
        "attach_volume" => "attach_volume",
        "detach_volume" => "detach_volume",
        _ => return None,
    })
}

/// Who asked for an action, and by which request.
#[derive(Debug, Clone)]
pub struct ActionRequest<'a> {
    pub request_id: &'a str,
    pub user_id: &'a str,
    pub project_id: &'a str,
}

impl Compute {
    /// Records that `req` asked `action` of server `server_id` and Cascade handled it.
    pub async fn record_action(
        &self,
        req: &ActionRequest<'_>,
        server_id: &str,
        action: &str,
    ) -> Result<()> {
        let Some(name) = action_name(action) else {
            return Ok(());
        };
        let now = now_micros();
        let events = json!([{
            "event": format!("cascade_{name}"),
            "start_time": now,
            "finish_time": now,
            "result": "Success",
        }]);
        let row = InstanceActionRow {
            server_id: server_id.to_string(),
            request_id: req.request_id.to_string(),
            action: name.to_string(),
            project_id: req.project_id.to_string(),
            user_id: req.user_id.to_string(),
            message: None,
            events: events.to_string(),
            start_time: now,
            updated_at: now,
        };
        match self.store.insert_instance_action(&row).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The server, deleted ones included when `deleted` (2.21+), if the caller may see it.
    async fn action_server(&self, scope: &Scope, id: &str, deleted: bool) -> Result<()> {
        let row = self.store.get_server(id).await.map_err(|e| match e {
            StoreError::NotFound => instance_missing(id),
            other => other.into(),
        })?;
        if (row.deleted && !deleted) || !scope.permits(&row.project_id) {
            return Err(instance_missing(id));
        }
        Ok(())
    }

    /// `GET /servers/{id}/os-instance-actions`: newest first.
    pub async fn instance_actions(
        &self,
        scope: &Scope,
        server_id: &str,
        deleted: bool,
    ) -> Result<Vec<InstanceActionRow>> {
        self.action_server(scope, server_id, deleted).await?;
        Ok(self.store.list_instance_actions(server_id).await?)
    }

    /// `GET /servers/{id}/os-instance-actions/{request_id}`.
    pub async fn instance_action(
        &self,
        scope: &Scope,
        server_id: &str,
        request_id: &str,
        deleted: bool,
    ) -> Result<InstanceActionRow> {
        self.action_server(scope, server_id, deleted).await?;
        self.store
            .get_instance_action(server_id, request_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => {
                    CoreError::not_found(format!("Action {request_id} not found"))
                }
                other => other.into(),
            })
    }
}
