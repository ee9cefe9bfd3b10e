//! `os-quota-class-sets` (the `default` class is every project's defaults, stored at the top
//! since quotas are counted across all pods) and `DELETE /os-quota-sets/{project}` (a project
//! returns to the defaults). Shapes per microversion as Nova's: nova-network's quotas gone and
//! the server-group ones shown from 2.50, personality files gone from 2.57.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::compute::QuotaSet;
use cascade_model::microversion::Microversion;
use http::StatusCode;
use serde_json::{Value, json};

use super::misc::{admin, bad, ok};
use super::{ApiResult, SVC};
use crate::auth::Auth;
use crate::body;
use crate::error::OrApi;
use crate::state::AppState;

/// Whether a resource is part of a quota class set at this microversion.
fn class_shown(k: &str, mv: Microversion) -> bool {
    let network = cascade_core::compute::NETWORK_QUOTAS.contains(&k);
    let groups = k == "server_groups" || k == "server_group_members";
    if mv.at_least(2, 50) {
        let personality = mv.at_least(2, 57) && k.starts_with("injected_file");
        !(network || personality)
    } else {
        !groups
    }
}

fn class_view(id: Option<&str>, q: &QuotaSet, mv: Microversion) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(id) = id {
        out.insert("id".into(), json!(id));
    }
    for (k, v) in q.iter().filter(|(k, _)| class_shown(k, mv)) {
        out.insert(k.clone(), json!(v));
    }
    Value::Object(out)
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    let q = state.compute.quota_class(&id).await.or_api(SVC)?;
    ok(json!({"quota_class_set": class_view(Some(&id), &q, mv)}))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    admin(&ctx)?;
    let doc = body::json(SVC, &raw)?;
    let m = doc["quota_class_set"]
        .as_object()
        .ok_or_else(|| bad("Invalid input for field/attribute quota_class_set."))?;
    let mut updates = QuotaSet::new();
    for (k, v) in m {
        let known = cascade_core::compute::default_quotas().contains_key(k);
        let dropped = mv.at_least(2, 50) && !class_shown(k, mv);
        if !known || dropped {
            return Err(bad(format!(
                "Invalid input for field/attribute quota_class_set. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let n = v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| bad(format!("Invalid input for field/attribute {k}.")))?;
        updates.insert(k.clone(), n);
    }
    let q = state
        .compute
        .set_quota_class(&id, &updates)
        .await
        .or_api(SVC)?;
    ok(json!({"quota_class_set": class_view(None, &q, mv)}))
}

/// `DELETE /os-quota-sets/{project}`: 202 with no body, as Nova answers.
pub(crate) async fn delete_quotas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    state.compute.delete_quotas(&project).await.or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}
