//! Glance's tasks API at `/image/v2/tasks` (create 201 with `Location`, list with Glance's
//! `first`/`next`/`schema` links, show) and its schemas `/v2/schemas/task` and `/tasks`.
//! Administrators only, by route policy (Glance's `tasks_api_access`); the work is in
//! [`cascade_core::image::tasks`].

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use cascade_core::image::tasks::{TaskCreator, TaskStub};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{ApiResult, SVC, caller, query_pairs};
use crate::auth::Auth;
use crate::body;
use crate::error::OrApi;
use crate::state::AppState;

pub(crate) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/v2/tasks", get(list).post(create))
        .route("/v2/tasks/{id}", get(show))
        .route("/v2/schemas/task", get(schema_task))
        .route("/v2/schemas/tasks", get(schema_tasks))
}

async fn create(State(state): State<AppState>, auth: Auth, raw: Bytes) -> ApiResult {
    let who = TaskCreator {
        caller: caller(&auth)?,
        user_id: Some(auth.0.user.id.clone()),
        request_id: None,
    };
    let v = body::json(SVC, &raw)?;
    let task = state.images.create_task(who, &v).await.or_api(SVC)?;
    let mut resp = (StatusCode::CREATED, Json(&task)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&task.self_link) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

async fn show(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult {
    let caller = caller(&auth)?;
    let task = state.images.get_task(&caller, &id).await.or_api(SVC)?;
    Ok(Json(task).into_response())
}

#[derive(Serialize)]
struct TasksBody {
    tasks: Vec<TaskStub>,
    first: String,
    schema: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

async fn list(State(state): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> ApiResult {
    let caller = caller(&auth)?;
    let mut params = query_pairs(q.as_deref());
    let page = state
        .images
        .list_tasks(&caller, &params)
        .await
        .or_api(SVC)?;
    params.retain(|(k, _)| k != "marker");
    let encode = |params: &[(String, String)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish()
    };
    let first = if params.is_empty() {
        "/v2/tasks".to_string()
    } else {
        format!("/v2/tasks?{}", encode(&params))
    };
    let next = page.next_marker.map(|m| {
        params.push(("marker".into(), m));
        format!("/v2/tasks?{}", encode(&params))
    });
    Ok(Json(TasksBody {
        tasks: page.tasks,
        first,
        schema: "/v2/schemas/tasks",
        next,
    })
    .into_response())
}

/// Glance's task schema properties; the partial (listing) schema leaves out `input`,
/// `result` and `message`.
fn task_properties(partial: bool) -> Value {
    let mut p = json!({
        "id": {
            "description": "An identifier for the task",
            "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
            "type": "string",
        },
        "type": {
            "description": "The type of task represented by this content",
            "enum": ["import", "api_image_import", "location_import"],
            "type": "string",
        },
        "status": {
            "description": "The current status of this task",
            "enum": ["pending", "processing", "success", "failure"],
            "type": "string",
        },
        "input": {"description": "The parameters required by task, JSON blob", "type": ["null", "object"]},
        "result": {"description": "The result of current task, JSON blob", "type": ["null", "object"]},
        "owner": {"description": "An identifier for the owner of this task", "type": "string"},
        "message": {
            "description": "Human-readable informative message only included when appropriate (usually on failure)",
            "type": "string",
        },
        "image_id": {"description": "Image associated with the task", "type": "string"},
        "request_id": {"description": "Human-readable informative request-id", "type": "string"},
        "user_id": {"description": "User associated with the task", "type": "string"},
        "expires_at": {"description": "Datetime when this resource would be subject to removal", "type": ["null", "string"]},
        "created_at": {"description": "Datetime when this resource was created", "type": "string"},
        "updated_at": {"description": "Datetime when this resource was updated", "type": "string"},
        "self": {"readOnly": true, "type": "string"},
        "schema": {"readOnly": true, "type": "string"},
    });
    if partial && let Some(o) = p.as_object_mut() {
        for k in ["input", "result", "message"] {
            o.remove(k);
        }
    }
    p
}

fn task_schema(partial: bool) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!("task"));
    o.insert("properties".into(), task_properties(partial));
    o.insert("additionalProperties".into(), json!(false));
    Value::Object(o)
}

async fn schema_task() -> ApiResult {
    Ok(Json(task_schema(false)).into_response())
}

async fn schema_tasks() -> ApiResult {
    Ok(Json(json!({
        "name": "tasks",
        "properties": {
            "tasks": {"type": "array", "items": task_schema(true)},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }))
    .into_response())
}
