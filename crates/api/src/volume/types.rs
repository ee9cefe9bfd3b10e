//! Volume types (admin-managed): list, show, create, update, delete, their extra specs
//! (`/types/{id}/extra_specs[/{key}]`) and project access to private types
//! (`/types/{id}/action` with `addProjectAccess` / `removeProjectAccess`,
//! `/types/{id}/os-volume-type-access`), with Cinder's validation and answers.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::volume::{TypeCreate, TypeUpdate, extra_specs};
use http::StatusCode;
use serde_json::{Value, json};

use super::misc::{admin, ok, opt_text, truthy};
use super::{ApiResult, SVC, bad, check_project, scope, views};
use crate::auth::Auth;
use crate::body;
use crate::error::OrApi;
use crate::state::AppState;

const MANAGE: &str = "volume_extension:types_manage";
const ACCESS: &str = "volume_extension:volume_type_access:addProjectAccess";

pub(crate) async fn types(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let list = state.volumes.list_types(&scope(&ctx)?).await.or_api(SVC)?;
    let read = views::TypeAnswer::Read {
        admin: ctx.is_admin(),
    };
    ok(
        json!({"volume_types": list.iter().map(|t| views::volume_type(t, read)).collect::<Vec<_>>()}),
    )
}

pub(crate) async fn show_type(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let t = state
        .volumes
        .get_type(&id, &scope(&ctx)?)
        .await
        .or_api(SVC)?;
    let read = views::TypeAnswer::Read {
        admin: ctx.is_admin(),
    };
    ok(json!({"volume_type": views::volume_type(&t, read)}))
}

/// An `extra_specs` object of strings (Cinder's schema: an object, string values).
fn specs_of(v: &Value) -> ApiResult<BTreeMap<String, String>> {
    let o = v.as_object().ok_or_else(|| {
        bad("Invalid input for field/attribute extra_specs. Value must be an object.")
    })?;
    o.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            Value::Bool(b) => Ok((k.clone(), if *b { "True" } else { "False" }.to_string())),
            _ => Err(bad(format!(
                "Invalid input for field/attribute extra_specs. Value of {k} must be a string."
            ))),
        })
        .collect()
}

pub(crate) async fn create_type(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, MANAGE)?;
    let doc = body::json(SVC, &raw)?;
    let t = doc
        .get("volume_type")
        .ok_or_else(|| bad("Missing required element 'volume_type' in request body."))?;
    let extra_specs = match &t["extra_specs"] {
        Value::Null => BTreeMap::new(),
        m => specs_of(m)?,
    };
    let req = TypeCreate {
        name: opt_text(t, "name")?.unwrap_or_default(),
        description: opt_text(t, "description")?,
        is_public: t
            .get("os-volume-type-access:is_public")
            .map(truthy)
            .unwrap_or(true),
        extra_specs,
    };
    let row = state.volumes.create_type(req).await.or_api(SVC)?;
    ok(json!({"volume_type": views::volume_type(&row, views::TypeAnswer::Create)}))
}

pub(crate) async fn update_type(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, MANAGE)?;
    let doc = body::json(SVC, &raw)?;
    let t = doc
        .get("volume_type")
        .filter(|t| t.is_object())
        .ok_or_else(|| bad("Missing required element 'volume_type' in request body."))?;
    let is_public = match t.get("is_public") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => Some(truthy(&Value::String(s.clone()))),
        Some(_) => return Err(bad("Invalid input for field/attribute is_public.")),
    };
    let req = TypeUpdate {
        name: opt_text(t, "name")?,
        description: opt_text(t, "description")?,
        is_public,
    };
    if req.name.is_none() && req.description.is_none() && req.is_public.is_none() {
        return Err(bad(
            "Invalid input received: Specify volume type name, description, is_public or a combination thereof.",
        ));
    }
    let row = state.volumes.update_type(&id, req).await.or_api(SVC)?;
    ok(json!({"volume_type": views::volume_type(&row, views::TypeAnswer::Update)}))
}

pub(crate) async fn delete_type(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, MANAGE)?;
    state.volumes.delete_type(&id).await.or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

// ---- extra specs -------------------------------------------------------------------------------

pub(crate) async fn list_specs(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let t = state
        .volumes
        .get_type(&id, &scope(&ctx)?)
        .await
        .or_api(SVC)?;
    ok(json!({"extra_specs": extra_specs(&t)}))
}

pub(crate) async fn create_specs(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, MANAGE)?;
    let doc = body::json(SVC, &raw)?;
    let specs = match doc.get("extra_specs") {
        Some(v) if v.is_object() => specs_of(v)?,
        _ => {
            return Err(bad(
                "Missing required element 'extra_specs' in request body.",
            ));
        }
    };
    let set = state
        .volumes
        .set_extra_specs(&id, specs)
        .await
        .or_api(SVC)?;
    ok(json!({ "extra_specs": set }))
}

pub(crate) async fn show_spec(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let t = state
        .volumes
        .get_type(&id, &scope(&ctx)?)
        .await
        .or_api(SVC)?;
    let v = state.volumes.extra_spec(&t.id, &key).await.or_api(SVC)?;
    ok(json!({ key: v }))
}

pub(crate) async fn update_spec(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, MANAGE)?;
    let doc = body::json(SVC, &raw)?;
    let specs = match &doc {
        Value::Object(_) => specs_of(&doc)?,
        _ => return Err(bad("Malformed request body")),
    };
    if specs.len() > 1 {
        return Err(bad("Request body contains too many items"));
    }
    let Some(value) = specs.get(&key).cloned() else {
        return Err(bad("Request body and URI mismatch"));
    };
    // The type must exist before anything is said about the body's key.
    state
        .volumes
        .get_type(&id, &scope(&ctx)?)
        .await
        .or_api(SVC)?;
    state
        .volumes
        .set_extra_specs(&id, specs)
        .await
        .or_api(SVC)?;
    ok(json!({ key: value }))
}

pub(crate) async fn delete_spec(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, MANAGE)?;
    state
        .volumes
        .delete_extra_spec(&id, &key)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

// ---- access ------------------------------------------------------------------------------------

pub(crate) async fn type_action(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, ACCESS)?;
    let doc = body::json(SVC, &raw)?;
    let (add, args) = match (doc.get("addProjectAccess"), doc.get("removeProjectAccess")) {
        (Some(a), _) => (true, a),
        (None, Some(r)) => (false, r),
        _ => return Err(bad("Invalid input received: unknown volume type action.")),
    };
    let target = args["project"]
        .as_str()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| bad("Missing required element 'project' in request body."))?;
    state
        .volumes
        .change_type_access(&id, target, add)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub(crate) async fn list_access(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, "volume_extension:volume_type_access")?;
    let (type_id, projects) = state.volumes.type_access(&id).await.or_api(SVC)?;
    let list: Vec<Value> = projects
        .iter()
        .map(|p| json!({"volume_type_id": type_id, "project_id": p}))
        .collect();
    ok(json!({ "volume_type_access": list }))
}
