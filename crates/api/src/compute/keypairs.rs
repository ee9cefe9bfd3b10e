//! Keypairs (`/os-keypairs`): imported or (below 2.92) generated keys, per user; admins may act for another user
//! (2.10).

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::compute::KeypairCreate;
use cascade_core::identity::AuthContext;
use cascade_model::microversion::Microversion;
use http::StatusCode;
use serde_json::{Value, json};

use super::misc::{Params, admin, bad, ok};
use super::{ApiResult, SVC, views};
use crate::auth::Auth;
use crate::body;
use crate::error::OrApi;
use crate::state::AppState;

// ---- keypairs ------------------------------------------------------------------------------

fn keypair_user(
    ctx: &AuthContext,
    q: &HashMap<String, String>,
    mv: Microversion,
) -> ApiResult<String> {
    match q.get("user_id") {
        Some(u) if mv.at_least(2, 10) && u != &ctx.user.id => {
            admin(ctx)?;
            Ok(u.clone())
        }
        _ => Ok(ctx.user.id.clone()),
    }
}

pub(crate) async fn keypairs(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Query(q): Params,
) -> ApiResult {
    let user = keypair_user(&ctx, &q, mv)?;
    let rows = state.compute.list_keypairs(&user).await.or_api(SVC)?;
    ok(
        json!({"keypairs": rows.iter().map(|k| json!({"keypair": views::keypair(k, mv, false)})).collect::<Vec<_>>()}),
    )
}

pub(crate) async fn create_keypair(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    raw: Bytes,
) -> ApiResult {
    let doc = body::json(SVC, &raw)?;
    let k = doc.get("keypair").ok_or_else(|| {
        bad("Invalid input for field/attribute keypair. 'keypair' is a required property")
    })?;
    let name = k["name"].as_str().ok_or_else(|| {
        bad("Invalid input for field/attribute keypair. 'name' is a required property")
    })?;
    let actor = state.delegation.actor(&ctx).await.or_api(SVC)?;
    let mut user = ctx.user.id.clone();
    if let Some(u) = k["user_id"].as_str().filter(|u| *u != ctx.user.id) {
        admin(&ctx)?;
        user = u.to_string();
    }
    let public_key = match &k["public_key"] {
        Value::Null if mv.at_least(2, 92) => {
            return Err(bad(
                "Invalid input for field/attribute keypair. 'public_key' is a required property",
            ));
        }
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => return Err(bad("Invalid input for field/attribute public_key.")),
    };
    let created = state
        .compute
        .create_keypair(
            &user,
            &actor.project_id,
            KeypairCreate {
                name: name.to_string(),
                public_key,
                key_type: if mv.at_least(2, 2) {
                    k["type"].as_str().map(str::to_string)
                } else {
                    None
                },
                user_id: None,
            },
            mv.at_least(2, 92),
        )
        .await
        .or_api(SVC)?;
    let row = &created.row;
    let mut v = views::keypair(row, mv, false);
    v["user_id"] = json!(row.user_id);
    if let Some(private_key) = &created.private_key {
        v["private_key"] = json!(private_key);
    }
    let status = if mv.at_least(2, 2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(json!({"keypair": v}))).into_response())
}

pub(crate) async fn show_keypair(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult {
    let user = keypair_user(&ctx, &q, mv)?;
    let row = state.compute.get_keypair(&user, &name).await.or_api(SVC)?;
    ok(json!({"keypair": views::keypair(&row, mv, true)}))
}

pub(crate) async fn delete_keypair(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult {
    let user = keypair_user(&ctx, &q, mv)?;
    state
        .compute
        .delete_keypair(&user, &name)
        .await
        .or_api(SVC)?;
    Ok(if mv.at_least(2, 2) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    }
    .into_response())
}
