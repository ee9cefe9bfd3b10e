//! The embedded Keystone v3 API at `/identity`: version discovery, tokens (issue, validate,
//! check, revoke), `/v3/auth/{projects,domains,catalog}`, and the admin CRUD of domains,
//! projects, users, roles and role assignments; application credentials ([`app_creds`]); project
//! tags ([`project_tags`]). Policy follows Keystone's defaults in spirit:
//! reads of oneself are open, everything else needs the `admin` role.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use bytes::Bytes;
use cascade_core::catalog;
use cascade_core::identity::{AuthContext, EmbeddedIdentity};
use cascade_model::fault::Service;
use cascade_model::identity::{
    AuthRequest, ProjectCreate, ProjectUpdate, RoleCreate, TokenResponse, UserCreate, UserUpdate,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::ratelimit::AuthRateLimit;
use crate::state::AppState;

mod app_creds;
mod project_tags;

const SVC: Service = Service::Identity;
type ApiResult<T = Response> = Result<T, ApiError>;
type Params = Query<HashMap<String, String>>;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(version))
        .route("/v3/", get(version))
        .route(
            "/v3/auth/tokens",
            get(validate_token).post(issue_token).delete(revoke_token),
        )
        .route("/v3/auth/projects", get(auth_projects))
        .route("/v3/auth/domains", get(auth_domains))
        .route("/v3/auth/catalog", get(auth_catalog))
        .route("/v3/domains", get(list_domains).post(create_domain))
        .route("/v3/domains/{id}", get(show_domain))
        .route("/v3/projects", get(list_projects).post(create_project))
        .route(
            "/v3/projects/{id}",
            get(show_project)
                .patch(update_project)
                .delete(delete_project),
        )
        .route("/v3/users", get(list_users).post(create_user))
        .route(
            "/v3/users/{id}",
            get(show_user).patch(update_user).delete(delete_user),
        )
        .route("/v3/users/{id}/projects", get(user_projects))
        .route("/v3/roles", get(list_roles).post(create_role))
        .route("/v3/roles/{id}", get(show_role).delete(delete_role))
        .route(
            "/v3/projects/{target}/users/{user}/roles",
            get(list_project_roles),
        )
        .route(
            "/v3/projects/{target}/users/{user}/roles/{role}",
            put(grant_project_role)
                .get(check_project_role)
                .delete(revoke_project_role),
        )
        .route(
            "/v3/domains/{target}/users/{user}/roles",
            get(list_domain_roles),
        )
        .route(
            "/v3/domains/{target}/users/{user}/roles/{role}",
            put(grant_domain_role)
                .get(check_domain_role)
                .delete(revoke_domain_role),
        )
        .route("/v3/role_assignments", get(role_assignments))
        .merge(app_creds::router())
        .merge(project_tags::router())
}

fn embedded(state: &AppState) -> ApiResult<&EmbeddedIdentity> {
    state.identity.embedded().ok_or_else(|| {
        ApiError::new(
            SVC,
            404,
            "Cascade uses an external Keystone; this identity API is not served here.",
        )
    })
}

fn admin(ctx: &AuthContext) -> ApiResult<()> {
    ctx.require_admin().or_api(SVC)
}

fn v3_doc(state: &AppState) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/identity/v3/", state.public_url)}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

pub(crate) async fn versions(State(state): State<AppState>) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": {"values": [v3_doc(&state)]}})),
    )
        .into_response()
}

async fn version(State(state): State<AppState>) -> Response {
    Json(json!({"version": v3_doc(&state)})).into_response()
}

fn list_links(state: &AppState, collection: &str) -> Value {
    json!({"self": format!("{}/identity/v3/{collection}", state.public_url), "previous": null, "next": null})
}

fn token_response(
    state: &AppState,
    ctx: &AuthContext,
    status: StatusCode,
    with_catalog: bool,
) -> Response {
    let cat = with_catalog
        .then(|| catalog::build(&state.public_url, &state.region_name, ctx.project_id()));
    let body = TokenResponse {
        token: ctx.to_token(cat),
    };
    let mut resp = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&ctx.token) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    resp
}

fn unauthorized_with_uri(state: &AppState, e: ApiError) -> ApiError {
    let mut e = e;
    if e.status == 401 {
        e.auth_uri = Some(format!("{}/identity", state.public_url));
    }
    e
}

async fn issue_token(
    State(state): State<AppState>,
    limit: Option<Extension<AuthRateLimit>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Query(q): Params,
    body: Bytes,
) -> ApiResult {
    let limit = match (limit, peer) {
        (Some(Extension(limit)), Some(Extension(ConnectInfo(peer)))) => Some((limit, peer)),
        _ => None,
    };
    if let Some((limit, peer)) = &limit
        && let Err(wait) = limit.admit(peer.ip())
    {
        tracing::warn!(%peer, "authentication rate limit exceeded");
        return Ok(crate::ratelimit::too_many_requests(wait));
    }
    let id = embedded(&state)?;
    let req: AuthRequest = body::wrapped::<Value>(SVC, &body, "auth")
        .and_then(|auth| body::typed(SVC, json!({"auth": auth}), "auth"))?;
    let ctx = match id.authenticate(&req).await {
        Ok(ctx) => ctx,
        Err(e) => {
            // Only failed authentications use up a source's allowance.
            if e.kind == cascade_core::ErrorKind::Unauthorized
                && let Some((limit, peer)) = &limit
            {
                limit.charge(peer.ip());
            }
            return Err(unauthorized_with_uri(&state, ApiError::from_core(SVC, e)));
        }
    };
    tracing::info!(user = %ctx.user.id, project = ?ctx.project_id(), "token issued");
    Ok(token_response(
        &state,
        &ctx,
        StatusCode::CREATED,
        !q.contains_key("nocatalog"),
    ))
}

fn subject(headers: &HeaderMap) -> ApiResult<String> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::new(
                SVC,
                400,
                "Expecting to find X-Subject-Token in the request headers.",
            )
        })
}

async fn subject_context(
    state: &AppState,
    caller: &AuthContext,
    headers: &HeaderMap,
) -> ApiResult<AuthContext> {
    let token = subject(headers)?;
    let ctx = embedded(state)?.validate(&token).await.or_api(SVC)?;
    if !caller.is_admin() && caller.user.id != ctx.user.id {
        return Err(ApiError::new(
            SVC,
            403,
            "You are not authorized to perform the requested action: identity:validate_token.",
        ));
    }
    Ok(ctx)
}

async fn validate_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(q): Params,
    headers: HeaderMap,
) -> ApiResult {
    let ctx = subject_context(&state, &caller, &headers).await?;
    Ok(token_response(
        &state,
        &ctx,
        StatusCode::OK,
        !q.contains_key("nocatalog"),
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
) -> ApiResult {
    let ctx = subject_context(&state, &caller, &headers).await?;
    embedded(&state)?.revoke(&ctx.token).await.or_api(SVC)?;
    tracing::info!(user = %ctx.user.id, "token revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn auth_projects(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult {
    let projects = embedded(&state)?
        .projects_of_user(&caller.user.id)
        .await
        .or_api(SVC)?;
    let projects: Vec<_> = projects.into_iter().filter(|p| p.enabled).collect();
    Ok(
        Json(json!({"projects": projects, "links": list_links(&state, "auth/projects")}))
            .into_response(),
    )
}

async fn auth_domains(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult {
    let id = embedded(&state)?;
    let mut domains = Vec::new();
    for a in id
        .list_assignments(Some(&caller.user.id), None, None)
        .await
        .or_api(SVC)?
    {
        if let Some(d) = a.domain_id
            && let Ok(domain) = id.get_domain(&d).await
        {
            domains.push(domain);
        }
    }
    Ok(
        Json(json!({"domains": domains, "links": list_links(&state, "auth/domains")}))
            .into_response(),
    )
}

async fn auth_catalog(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult {
    let cat = catalog::build(&state.public_url, &state.region_name, caller.project_id());
    Ok(Json(json!({"catalog": cat, "links": list_links(&state, "auth/catalog")})).into_response())
}

// ---- domains ---------------------------------------------------------------------------------

async fn list_domains(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(q): Params,
) -> ApiResult {
    admin(&caller)?;
    let domains = embedded(&state)?
        .list_domains(q.get("name").map(String::as_str))
        .await
        .or_api(SVC)?;
    Ok(Json(json!({"domains": domains, "links": list_links(&state, "domains")})).into_response())
}

async fn create_domain(Auth(caller): Auth) -> ApiResult {
    admin(&caller)?;
    Err(ApiError::new(
        SVC,
        501,
        "Cascade's embedded identity has only the default domain; use an external Keystone for more.",
    ))
}

async fn show_domain(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let in_scope =
        caller.user.domain.id == id || caller.project.as_ref().is_some_and(|p| p.domain.id == id);
    if !caller.is_admin() && !in_scope {
        admin(&caller)?;
    }
    let domain = embedded(&state)?.get_domain(&id).await.or_api(SVC)?;
    Ok(Json(json!({"domain": domain})).into_response())
}

// ---- projects --------------------------------------------------------------------------------

fn flag(q: &HashMap<String, String>, key: &str) -> Option<bool> {
    q.get(key)
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

async fn list_projects(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(q): Params,
) -> ApiResult {
    admin(&caller)?;
    let projects = embedded(&state)?
        .list_projects(
            q.get("name").map(String::as_str),
            q.get("domain_id").map(String::as_str),
            flag(&q, "enabled"),
        )
        .await
        .or_api(SVC)?;
    Ok(
        Json(json!({"projects": projects, "links": list_links(&state, "projects")}))
            .into_response(),
    )
}

async fn create_project(
    State(state): State<AppState>,
    Auth(caller): Auth,
    body: Bytes,
) -> ApiResult {
    admin(&caller)?;
    let req: ProjectCreate = body::wrapped(SVC, &body, "project")?;
    let project = embedded(&state)?.create_project(req).await.or_api(SVC)?;
    tracing::info!(project = %project.id, name = %project.name, "project created");
    Ok((StatusCode::CREATED, Json(json!({"project": project}))).into_response())
}

async fn show_project(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    if caller.project_id() != Some(id.as_str()) {
        admin(&caller)?;
    }
    let project = embedded(&state)?.get_project(&id).await.or_api(SVC)?;
    Ok(Json(json!({"project": project})).into_response())
}

async fn update_project(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    admin(&caller)?;
    let req: ProjectUpdate = body::wrapped(SVC, &body, "project")?;
    let project = embedded(&state)?
        .update_project(&id, req)
        .await
        .or_api(SVC)?;
    Ok(Json(json!({"project": project})).into_response())
}

async fn delete_project(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&caller)?;
    embedded(&state)?.delete_project(&id).await.or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- users -----------------------------------------------------------------------------------

async fn list_users(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(q): Params,
) -> ApiResult {
    admin(&caller)?;
    let users = embedded(&state)?
        .list_users(
            q.get("name").map(String::as_str),
            q.get("domain_id").map(String::as_str),
        )
        .await
        .or_api(SVC)?;
    Ok(Json(json!({"users": users, "links": list_links(&state, "users")})).into_response())
}

async fn create_user(State(state): State<AppState>, Auth(caller): Auth, body: Bytes) -> ApiResult {
    admin(&caller)?;
    let req: UserCreate = body::wrapped(SVC, &body, "user")?;
    let user = embedded(&state)?.create_user(req).await.or_api(SVC)?;
    tracing::info!(user = %user.id, name = %user.name, "user created");
    Ok((StatusCode::CREATED, Json(json!({"user": user}))).into_response())
}

async fn show_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    if caller.user.id != id {
        admin(&caller)?;
    }
    let user = embedded(&state)?.get_user(&id).await.or_api(SVC)?;
    Ok(Json(json!({"user": user})).into_response())
}

async fn update_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    admin(&caller)?;
    let req: UserUpdate = body::wrapped(SVC, &body, "user")?;
    let user = embedded(&state)?.update_user(&id, req).await.or_api(SVC)?;
    Ok(Json(json!({"user": user})).into_response())
}

async fn delete_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&caller)?;
    embedded(&state)?.delete_user(&id).await.or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn user_projects(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    if caller.user.id != id {
        admin(&caller)?;
    }
    let id_backend = embedded(&state)?;
    id_backend.get_user(&id).await.or_api(SVC)?;
    let projects = id_backend.projects_of_user(&id).await.or_api(SVC)?;
    Ok(Json(
        json!({"projects": projects, "links": list_links(&state, &format!("users/{id}/projects"))}),
    )
    .into_response())
}

// ---- roles -----------------------------------------------------------------------------------

async fn list_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(q): Params,
) -> ApiResult {
    admin(&caller)?;
    let roles = embedded(&state)?
        .list_roles(q.get("name").map(String::as_str))
        .await
        .or_api(SVC)?;
    Ok(Json(json!({"roles": roles, "links": list_links(&state, "roles")})).into_response())
}

async fn create_role(State(state): State<AppState>, Auth(caller): Auth, body: Bytes) -> ApiResult {
    admin(&caller)?;
    let req: RoleCreate = body::wrapped(SVC, &body, "role")?;
    let role = embedded(&state)?.create_role(req).await.or_api(SVC)?;
    Ok((StatusCode::CREATED, Json(json!({"role": role}))).into_response())
}

async fn show_role(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&caller)?;
    let role = embedded(&state)?.get_role(&id).await.or_api(SVC)?;
    Ok(Json(json!({"role": role})).into_response())
}

async fn delete_role(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&caller)?;
    embedded(&state)?.delete_role(&id).await.or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- role assignments ------------------------------------------------------------------------

async fn grant(
    state: &AppState,
    caller: &AuthContext,
    on_domain: bool,
    t: &str,
    u: &str,
    r: &str,
) -> ApiResult {
    admin(caller)?;
    embedded(state)?
        .grant_role(on_domain, t, u, r)
        .await
        .or_api(SVC)?;
    tracing::info!(user = %u, target = %t, role = %r, "role granted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn check(
    state: &AppState,
    caller: &AuthContext,
    on_domain: bool,
    t: &str,
    u: &str,
    r: &str,
) -> ApiResult {
    if caller.user.id != u {
        admin(caller)?;
    }
    embedded(state)?
        .check_role(on_domain, t, u, r)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn revoke(
    state: &AppState,
    caller: &AuthContext,
    on_domain: bool,
    t: &str,
    u: &str,
    r: &str,
) -> ApiResult {
    admin(caller)?;
    embedded(state)?
        .revoke_role(on_domain, t, u, r)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_roles_on(
    state: &AppState,
    caller: &AuthContext,
    on_domain: bool,
    t: &str,
    u: &str,
) -> ApiResult {
    if caller.user.id != u {
        admin(caller)?;
    }
    let roles = embedded(state)?
        .roles_on(on_domain, t, u)
        .await
        .or_api(SVC)?;
    Ok(Json(json!({"roles": roles, "links": list_links(state, "roles")})).into_response())
}

type Triple = Path<(String, String, String)>;
type Pair = Path<(String, String)>;

async fn grant_project_role(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((t, u, r)): Triple,
) -> ApiResult {
    grant(&s, &c, false, &t, &u, &r).await
}
async fn check_project_role(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((t, u, r)): Triple,
) -> ApiResult {
    check(&s, &c, false, &t, &u, &r).await
}
async fn revoke_project_role(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((t, u, r)): Triple,
) -> ApiResult {
    revoke(&s, &c, false, &t, &u, &r).await
}
async fn list_project_roles(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((t, u)): Pair,
) -> ApiResult {
    list_roles_on(&s, &c, false, &t, &u).await
}
async fn grant_domain_role(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((t, u, r)): Triple,
) -> ApiResult {
    grant(&s, &c, true, &t, &u, &r).await
}
async fn check_domain_role(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((t, u, r)): Triple,
) -> ApiResult {
    check(&s, &c, true, &t, &u, &r).await
}
async fn revoke_domain_role(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((t, u, r)): Triple,
) -> ApiResult {
    revoke(&s, &c, true, &t, &u, &r).await
}
async fn list_domain_roles(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((t, u)): Pair,
) -> ApiResult {
    list_roles_on(&s, &c, true, &t, &u).await
}

async fn role_assignments(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(q): Params,
) -> ApiResult {
    let user = q.get("user.id").map(String::as_str);
    if user != Some(caller.user.id.as_str()) {
        admin(&caller)?;
    }
    let target = q
        .get("scope.project.id")
        .or_else(|| q.get("scope.domain.id"))
        .map(String::as_str);
    let id = embedded(&state)?;
    let mut out = Vec::new();
    for a in id
        .list_assignments(user, target, q.get("role.id").map(String::as_str))
        .await
        .or_api(SVC)?
    {
        let scope = match (&a.project_id, &a.domain_id) {
            (Some(p), _) => json!({"project": {"id": p}}),
            (_, Some(d)) => json!({"domain": {"id": d}}),
            _ => json!({}),
        };
        let target_link = match (&a.project_id, &a.domain_id) {
            (Some(p), _) => format!("projects/{p}"),
            (_, Some(d)) => format!("domains/{d}"),
            _ => String::new(),
        };
        out.push(json!({
            "role": {"id": a.role_id},
            "user": {"id": a.user_id},
            "scope": scope,
            "links": {"assignment": format!("{}/identity/v3/{target_link}/users/{}/roles/{}", state.public_url, a.user_id, a.role_id)},
        }));
    }
    Ok(
        Json(json!({"role_assignments": out, "links": list_links(&state, "role_assignments")}))
            .into_response(),
    )
}
