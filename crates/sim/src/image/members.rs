//! Image members (`/v2/images/{id}/members`): the projects a `shared` image is shared with.
//! The owner adds and removes members; a member sees its own membership. As in Glance, a
//! member may use the image by id whatever its member status (`pending` here: nobody
//! accepts), and only `shared` images have members.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{check_owner, find, gerr};
use crate::error::ApiResult;
use crate::identity::Auth;
use crate::server::Ctx;
use crate::util::{now, ts_z};

pub(super) async fn list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let img = find(&st.image, &id, &auth)?;
    let owner_view = auth.is_admin || img.owner == auth.project_id;
    let members: Vec<&Value> = img
        .members
        .iter()
        .filter(|(m, _)| owner_view || **m == auth.project_id)
        .map(|(_, doc)| doc)
        .collect();
    Ok(axum::Json(json!({"members": members, "schema": "/v2/schemas/members"})).into_response())
}

pub(super) async fn add(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> ApiResult<Response> {
    let member = body["member"]
        .as_str()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| gerr(400, "Member to be added not specified"))?
        .to_string();
    let mut st = ctx.write();
    let img = find(&st.image, &id, &auth)?;
    check_owner(img, &auth)?;
    if img.visibility != "shared" {
        return Err(gerr(
            403,
            format!(
                "Only shared images have members. Image {id} is {}.",
                img.visibility
            ),
        ));
    }
    if img.members.contains_key(&member) {
        return Err(gerr(
            409,
            format!("Member {member} already exists on image {id}."),
        ));
    }
    let t = ts_z(&now());
    let doc = json!({"created_at": t, "updated_at": t, "image_id": id, "member_id": member,
        "status": "pending", "schema": "/v2/schemas/member"});
    if let Some(i) = st.image.images.get_mut(&id) {
        i.members.insert(member, doc.clone());
    }
    Ok(axum::Json(doc).into_response())
}

pub(super) async fn show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Response> {
    let st = ctx.read();
    let img = find(&st.image, &id, &auth)?;
    if !(auth.is_admin || img.owner == auth.project_id || member == auth.project_id) {
        return Err(gerr(
            404,
            format!("Member {member} not found on image {id}."),
        ));
    }
    let doc = img
        .members
        .get(&member)
        .ok_or_else(|| gerr(404, format!("Member {member} not found on image {id}.")))?;
    Ok(axum::Json(doc.clone()).into_response())
}

pub(super) async fn remove(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut st = ctx.write();
    check_owner(find(&st.image, &id, &auth)?, &auth)?;
    let removed = st
        .image
        .images
        .get_mut(&id)
        .and_then(|i| i.members.remove(&member));
    match removed {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(gerr(
            404,
            format!("Member {member} not found on image {id}."),
        )),
    }
}
