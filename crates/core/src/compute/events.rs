//! `os-server-external-events` at the top: each event names a top server; it is passed to
//! the server's pod (bottom id, Cascade's own identity) so the pod's compute acts on it, and
//! answered per event as Nova does: 404 for an unknown server, 422 for one without a bottom
//! server yet, else the pod's code. A pod that cannot be reached fails its events (500).

use std::collections::BTreeMap;

use cascade_store::StoreError;
use http::Method;
use serde::{Deserialize, Serialize};

use super::Compute;
use crate::{CoreError, Result};

/// Nova's event names (the request schema's enum).
pub const EVENT_NAMES: &[&str] = &[
    "network-changed",
    "network-vif-plugged",
    "network-vif-unplugged",
    "network-vif-deleted",
    "volume-extended",
    "power-update",
    "accelerator-request-bound",
    "volume-reimaged",
];

/// One event, as asked and as answered (`code` and the final `status` in the answer).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalEvent {
    pub name: String,
    pub server_uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

#[derive(Deserialize)]
struct PodAnswer {
    events: Vec<ExternalEvent>,
}

fn fail(ev: &mut ExternalEvent, code: u16) {
    ev.status = Some("failed".into());
    ev.code = Some(code);
}

impl Compute {
    /// Delivers the events; answers the HTTP status (200 all accepted, 207 some failed) and
    /// each event's outcome, or 404 when no event found its server.
    pub async fn external_events(
        &self,
        mut events: Vec<ExternalEvent>,
    ) -> Result<(u16, Vec<ExternalEvent>)> {
        if events.is_empty() {
            return Err(CoreError::bad_request(
                "Invalid input for field/attribute events. Value: []. [] is too short",
            ));
        }
        for ev in &mut events {
            if !EVENT_NAMES.contains(&ev.name.as_str()) {
                return Err(CoreError::bad_request(format!(
                    "Invalid input for field/attribute name. Value: {0}. '{0}' is not one of {EVENT_NAMES:?}",
                    ev.name
                )));
            }
            let status = ev.status.get_or_insert_with(|| "completed".into());
            if !["failed", "completed", "in-progress"].contains(&status.as_str()) {
                return Err(CoreError::bad_request(format!(
                    "Invalid input for field/attribute status. Value: {status}."
                )));
            }
            ev.code = None;
        }
        // pod → [(event index, bottom id)]
        let mut by_pod: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
        for (i, ev) in events.iter_mut().enumerate() {
            match self.store.get_server(&ev.server_uuid).await {
                Ok(row) => match (row.pod_id, row.bottom_id) {
                    (Some(pod), Some(bottom)) => by_pod.entry(pod).or_default().push((i, bottom)),
                    _ => fail(ev, 422),
                },
                Err(StoreError::NotFound) => fail(ev, 404),
                Err(e) => return Err(e.into()),
            }
        }
        for (pod_id, items) in by_pod {
            let sent: Vec<ExternalEvent> = items
                .iter()
                .map(|(i, bottom)| ExternalEvent {
                    server_uuid: bottom.clone(),
                    ..events[*i].clone()
                })
                .collect();
            let answer = self.send_events(&pod_id, &sent).await;
            for (n, (i, _)) in items.iter().enumerate() {
                let ev = &mut events[*i];
                match &answer {
                    Ok(Some(a)) => match a.get(n) {
                        Some(got) => {
                            ev.status = got.status.clone();
                            ev.code = got.code;
                        }
                        None => fail(ev, 500),
                    },
                    Ok(None) => fail(ev, 404),
                    Err(e) => {
                        tracing::warn!(pod = %pod_id, error = %e.full(), "external events not delivered");
                        fail(ev, 500);
                    }
                }
            }
        }
        if events.iter().all(|e| e.code == Some(404)) {
            return Err(CoreError::not_found("No instances found for any event"));
        }
        let all_ok = events.iter().all(|e| e.code == Some(200));
        Ok((if all_ok { 200 } else { 207 }, events))
    }

    /// The pod's per-event answer, `None` when the pod found none of the servers.
    async fn send_events(
        &self,
        pod_id: &str,
        events: &[ExternalEvent],
    ) -> Result<Option<Vec<ExternalEvent>>> {
        let client = self.pods.client(pod_id).await?;
        let body = serde_json::json!({ "events": events });
        let r = client
            .send(
                Method::POST,
                "compute",
                "/os-server-external-events",
                Some(&body),
                &[],
            )
            .await?;
        match r.status {
            200 | 207 => {
                let a: PodAnswer = serde_json::from_slice(&r.body).map_err(|e| {
                    CoreError::internal(format!("unreadable external events answer: {e}"))
                })?;
                Ok(Some(a.events))
            }
            404 => Ok(None),
            s => Err(CoreError::internal(format!(
                "pod answered {s} to external events"
            ))),
        }
    }
}
