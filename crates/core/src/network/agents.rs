//! Neutron's `GET /v2.0/agents` at the top. Cascade runs no agents of its own: the agents are
//! the pods' (their DHCP, L3, metadata and L2 agents). Neutron's policy shows them to admins
//! only and answers a member's list with an empty one; an admin sees every pod's agents, each
//! marked with the availability zone (pod) it serves. A pod that is down or fails is left out
//! (and logged), never failing the list for the others.

use cascade_model::admin::PodState;
use futures_util::future::join_all;
use http::Method;
use serde_json::{Value, json};

use super::{Caller, NetResult, NetworkService};

impl NetworkService {
    pub async fn list_agents(&self, caller: &Caller) -> NetResult<Vec<Value>> {
        if !caller.is_admin {
            return Ok(vec![]);
        }
        let pods: Vec<_> = self
            .pods
            .list()
            .await?
            .into_iter()
            .filter(|p| matches!(p.state, PodState::Up | PodState::Degraded))
            .collect();
        let answers = join_all(pods.iter().map(|p| async move {
            let client = self.pod(&p.pod_id).await?;
            self.call(&client, Method::GET, "/v2.0/agents", None).await
        }))
        .await;
        let mut out = Vec::new();
        for (pod, answer) in pods.iter().zip(answers) {
            match answer {
                Ok((200, body)) => {
                    for mut a in body["agents"].as_array().cloned().unwrap_or_default() {
                        if a.get("availability_zone").is_none_or(Value::is_null) {
                            a["availability_zone"] = json!(pod.az_name);
                        }
                        out.push(a);
                    }
                }
                // A pod without Neutron's agent extension has no agents to show.
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(pod = %pod.region_name, error = %e.message, "agents of a pod left out")
                }
            }
        }
        Ok(out)
    }
}
