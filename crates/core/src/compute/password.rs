//! `os-server-password`: the encrypted password a guest posts to its region's metadata
//! service lives in the server's pod, so reading and clearing it are calls to that pod as the
//! tenant (the pod's ids scrubbed from its messages).

use http::Method;
use serde_json::Value;

use super::Compute;
use super::servers::{pod_message, scrub};
use crate::identity::{Actor, Scope};
use crate::{CoreError, ErrorKind, Result};

impl Compute {
    /// `GET` (`clear` false: the password, `""` when none) or `DELETE` (`clear` true) of a
    /// server's password in its pod.
    pub async fn server_password(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        clear: bool,
    ) -> Result<String> {
        let row = self.server_row(scope, id).await?;
        let (Some(pod_id), Some(bottom)) = (row.pod_id.clone(), row.bottom_id.clone()) else {
            // Not built: no guest has posted anything yet.
            return Ok(String::new());
        };
        if self.pod_unreachable(&pod_id).await {
            return Err(CoreError::new(
                ErrorKind::Unavailable,
                format!(
                    "The availability zone {} of instance {id} is unreachable.",
                    row.az
                ),
            ));
        }
        let client = self.pods.client(&pod_id).await?;
        let token = self.delegation.token_for(actor).await?;
        let method = if clear { Method::DELETE } else { Method::GET };
        let r = client
            .send_as(
                Some(&token),
                method,
                "compute",
                &format!("/servers/{bottom}/os-server-password"),
                None,
                &[],
            )
            .await?;
        match r.status {
            200 if !clear => Ok(r.json().unwrap_or(Value::Null)["password"]
                .as_str()
                .unwrap_or_default()
                .to_string()),
            204 if clear => Ok(String::new()),
            404 => Err(CoreError::not_found(format!(
                "Instance {id} could not be found."
            ))),
            s => {
                let mut e = CoreError::new(
                    if s >= 500 {
                        ErrorKind::Unavailable
                    } else {
                        ErrorKind::BadRequest
                    },
                    scrub(&pod_message(&r.body), Some(&bottom), id),
                );
                e.detail = Some(format!("pod answered {s}"));
                Err(e)
            }
        }
    }
}
