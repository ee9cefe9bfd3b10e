//! Neutron v2.0 at `/network` (the client appends `/v2.0`): version documents on `/network`
//! and `/network/v2.0`, `/v2.0/extensions`, quotas, and one generic route table for the
//! collections (networks, subnets, ports, routers, security groups and rules, floating IPs)
//! with their tags and the router actions (`add_router_interface`, `remove_router_interface`,
//! `add_extraroutes`, `remove_extraroutes`). Handlers parse the request and call
//! [`cascade_core::network::NetworkService`]; errors render as `{"NeutronError": {...}}`.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use cascade_core::network::{Caller, Doc, Kind, ListQuery, NetError, extensions};
use cascade_model::fault::Service;
use http::StatusCode;
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::body;
use crate::error::ApiError;
use crate::state::AppState;

const SVC: Service = Service::Network;
type ApiResult<T = Response> = Result<T, ApiError>;

fn err(e: NetError) -> ApiError {
    if e.status >= 500 && e.status != 503 {
        tracing::error!(error = %e.message, "network internal error");
        return ApiError::new(
            SVC,
            500,
            "Request Failed: internal server error while processing your request.",
        );
    }
    let mut a = ApiError::new(SVC, e.status, e.message);
    a.neutron_type = Some(e.neutron_type);
    a
}

fn not_found() -> ApiError {
    let mut a = ApiError::new(SVC, 404, "The resource could not be found.");
    a.neutron_type = Some("HTTPNotFound".into());
    a
}

fn caller(auth: &Auth) -> ApiResult<Caller> {
    Caller::of(&auth.0).map_err(err)
}

fn kind(coll: &str) -> ApiResult<Kind> {
    Kind::from_collection(coll).ok_or_else(not_found)
}

fn parse_query(q: Option<&str>) -> ListQuery {
    ListQuery(
        url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

fn object(v: &Value, key: &str) -> ApiResult<Doc> {
    v.as_object().cloned().map(Doc).ok_or_else(|| {
        let mut a = ApiError::new(
            SVC,
            400,
            format!("Invalid input for {key}: must be an object."),
        );
        a.neutron_type = Some("BadRequest".into());
        a
    })
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(versions))
        .route("/v2.0", get(v2))
        .route("/v2.0/", get(v2))
        .route("/v2.0/{coll}", get(list).post(create))
        .route("/v2.0/{coll}/{id}", get(show).put(update).delete(remove))
        .route(
            "/v2.0/{coll}/{id}/{sub}",
            get(sub_get).put(sub_put).delete(sub_delete),
        )
        .route(
            "/v2.0/{coll}/{id}/{sub}/{tag}",
            get(tag_get).put(tag_put).delete(tag_delete),
        )
}

/// `GET /network`: Neutron's version list.
pub(crate) async fn versions(State(state): State<AppState>) -> Response {
    axum::Json(json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": format!("{}/network/v2.0/", state.public_url)}]}]}))
        .into_response()
}

async fn v2(State(state): State<AppState>) -> Response {
    let res: Vec<Value> = Kind::ALL
        .iter()
        .map(|k| json!({"name": k.singular(), "collection": k.collection(), "links": [{"rel": "self", "href": format!("{}/network/v2.0/{}", state.public_url, k.collection())}]}))
        .collect();
    axum::Json(json!({"resources": res})).into_response()
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Path(coll): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let caller = caller(&auth)?;
    match coll.as_str() {
        "extensions" => return Ok(axum::Json(json!({"extensions": extensions()})).into_response()),
        "agents" => {
            let agents = state.network.list_agents(&caller).await.map_err(err)?;
            return Ok(axum::Json(json!({ "agents": agents })).into_response());
        }
        "quotas" => {
            let mut out = Vec::new();
            if caller.is_admin {
                let mut doc = state
                    .network
                    .quota(&caller, &caller.project_id)
                    .await
                    .map_err(err)?;
                doc["project_id"] = json!(caller.project_id);
                doc["tenant_id"] = json!(caller.project_id);
                out.push(doc);
            }
            return Ok(axum::Json(json!({"quotas": out})).into_response());
        }
        _ => {}
    }
    let k = kind(&coll)?;
    let query = parse_query(q.as_deref());
    let page = state.network.list(&caller, k, &query).await.map_err(err)?;
    let mut out = json!({ k.plural(): page.items });
    let link = |marker: &str, reverse: bool| {
        let mut pairs: Vec<(String, String)> = query
            .0
            .iter()
            .filter(|(key, _)| key != "marker" && key != "page_reverse")
            .cloned()
            .collect();
        pairs.push(("marker".into(), marker.to_string()));
        if reverse {
            pairs.push(("page_reverse".into(), "True".into()));
        }
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("{}/network/v2.0/{}?{qs}", state.public_url, k.collection())
    };
    let mut links = Vec::new();
    if let Some(m) = &page.next_marker {
        links.push(json!({"rel": "next", "href": link(m, false)}));
    }
    if let Some(m) = &page.prev_marker {
        links.push(json!({"rel": "previous", "href": link(m, true)}));
    }
    if !links.is_empty() {
        out[format!("{}_links", k.plural())] = json!(links);
    }
    Ok(axum::Json(out).into_response())
}

async fn show(
    State(state): State<AppState>,
    auth: Auth,
    Path((coll, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let caller = caller(&auth)?;
    match coll.as_str() {
        "extensions" => {
            return extensions()
                .into_iter()
                .find(|e| e["alias"] == json!(id))
                .map(|e| axum::Json(json!({"extension": e})).into_response())
                .ok_or_else(not_found);
        }
        "quotas" => {
            let q = state.network.quota(&caller, &id).await.map_err(err)?;
            return Ok(axum::Json(json!({"quota": q})).into_response());
        }
        _ => {}
    }
    let k = kind(&coll)?;
    let mut v = state.network.show(&caller, k, &id).await.map_err(err)?;
    let fields = parse_query(q.as_deref());
    let fields = fields.fields();
    if !fields.is_empty()
        && let Some(o) = v.as_object_mut()
    {
        o.retain(|key, _| fields.contains(&key.as_str()));
    }
    Ok(axum::Json(json!({ k.singular(): v })).into_response())
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Path(coll): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let k = kind(&coll)?;
    let v = body::json(SVC, &raw)?;
    // Bulk: `{"<plural>": [...]}`.
    if let Some(items) = v.get(k.plural()).and_then(Value::as_array) {
        let mut out = Vec::new();
        for it in items {
            let b = object(it, k.singular())?;
            out.push(state.network.create(&caller, k, &b).await.map_err(err)?);
        }
        return Ok((StatusCode::CREATED, axum::Json(json!({ k.plural(): out }))).into_response());
    }
    let Some(inner) = v.get(k.singular()) else {
        let mut a = ApiError::new(
            SVC,
            400,
            format!("Resource body required; expected '{}'.", k.singular()),
        );
        a.neutron_type = Some("BadRequest".into());
        return Err(a);
    };
    let b = object(inner, k.singular())?;
    let out = state.network.create(&caller, k, &b).await.map_err(err)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ k.singular(): out })),
    )
        .into_response())
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path((coll, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    if coll == "quotas" {
        let v = body::json(SVC, &raw)?;
        let b = object(v.get("quota").unwrap_or(&Value::Null), "quota")?;
        let q = state
            .network
            .update_quota(&caller, &id, &b)
            .await
            .map_err(err)?;
        return Ok(axum::Json(json!({"quota": q})).into_response());
    }
    let k = kind(&coll)?;
    let v = body::json(SVC, &raw)?;
    let b = object(v.get(k.singular()).unwrap_or(&Value::Null), k.singular())?;
    let out = state
        .network
        .update(&caller, k, &id, &b)
        .await
        .map_err(err)?;
    Ok(axum::Json(json!({ k.singular(): out })).into_response())
}

async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Path((coll, id)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    if coll == "quotas" {
        state.network.reset_quota(&caller, &id).await.map_err(err)?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let k = kind(&coll)?;
    state.network.delete(&caller, k, &id).await.map_err(err)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn sub_get(
    State(state): State<AppState>,
    auth: Auth,
    Path((coll, id, sub)): Path<(String, String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    match (coll.as_str(), sub.as_str()) {
        ("quotas", "details" | "details.json") => {
            let q = state
                .network
                .quota_details(&caller, &id)
                .await
                .map_err(err)?;
            Ok(axum::Json(json!({"quota": q})).into_response())
        }
        ("quotas", "default") => {
            let q = state
                .network
                .quota(&caller, &caller.project_id)
                .await
                .map_err(err)?;
            Ok(axum::Json(json!({"quota": q})).into_response())
        }
        (_, "tags") => {
            let tags = state
                .network
                .tags(&caller, kind(&coll)?, &id)
                .await
                .map_err(err)?;
            Ok(axum::Json(json!({"tags": tags})).into_response())
        }
        _ => Err(not_found()),
    }
}

async fn sub_put(
    State(state): State<AppState>,
    auth: Auth,
    Path((coll, id, sub)): Path<(String, String, String)>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let svc = &state.network;
    match (coll.as_str(), sub.as_str()) {
        (_, "tags") => {
            let v = body::json(SVC, &raw)?;
            let tags: Vec<String> = v["tags"]
                .as_array()
                .ok_or_else(|| {
                    err(NetError::bad_request(
                        "Invalid input: 'tags' must be a list",
                    ))
                })?
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
            let tags = svc
                .set_tags(&caller, kind(&coll)?, &id, Some(tags), None)
                .await
                .map_err(err)?;
            Ok(axum::Json(json!({"tags": tags})).into_response())
        }
        ("routers", action) => {
            let v = body::json(SVC, &raw)?;
            let b = if action.ends_with("extraroutes") {
                object(v.get("router").unwrap_or(&Value::Null), "router")?
            } else {
                object(&v, "body")?
            };
            let out = match action {
                "add_router_interface" => svc.add_router_interface(&caller, &id, &b).await,
                "remove_router_interface" => svc.remove_router_interface(&caller, &id, &b).await,
                "add_extraroutes" => svc
                    .extra_routes(&caller, &id, &b, true)
                    .await
                    .map(|r| json!({"router": r})),
                "remove_extraroutes" => svc
                    .extra_routes(&caller, &id, &b, false)
                    .await
                    .map(|r| json!({"router": r})),
                _ => return Err(not_found()),
            }
            .map_err(err)?;
            Ok(axum::Json(out).into_response())
        }
        _ => Err(not_found()),
    }
}

async fn sub_delete(
    State(state): State<AppState>,
    auth: Auth,
    Path((coll, id, sub)): Path<(String, String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    if sub != "tags" {
        return Err(not_found());
    }
    state
        .network
        .set_tags(&caller, kind(&coll)?, &id, Some(Vec::new()), None)
        .await
        .map_err(err)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn tag_get(
    State(state): State<AppState>,
    auth: Auth,
    Path((coll, id, sub, tag)): Path<(String, String, String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    if sub != "tags" {
        return Err(not_found());
    }
    let tags = state
        .network
        .tags(&caller, kind(&coll)?, &id)
        .await
        .map_err(err)?;
    if tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(err(NetError::new(
            404,
            "TagNotFound",
            format!("Tag {tag} could not be found for {coll} {id}."),
        )))
    }
}

async fn tag_put(
    State(state): State<AppState>,
    auth: Auth,
    Path((coll, id, sub, tag)): Path<(String, String, String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    if sub != "tags" {
        return Err(not_found());
    }
    state
        .network
        .set_tags(&caller, kind(&coll)?, &id, None, Some((&tag, true)))
        .await
        .map_err(err)?;
    Ok(StatusCode::CREATED.into_response())
}

async fn tag_delete(
    State(state): State<AppState>,
    auth: Auth,
    Path((coll, id, sub, tag)): Path<(String, String, String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    if sub != "tags" {
        return Err(not_found());
    }
    state
        .network
        .set_tags(&caller, kind(&coll)?, &id, None, Some((&tag, false)))
        .await
        .map_err(err)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
