//! The policy layer: every route of every service has a rule, declared in one table
//! ([`rules::default_rules`], a file per service), checked by one middleware ([`enforce`]) after routing and before
//! any handler runs. Rules follow OpenStack's default personas (`admin_only`, `project_member`,
//! `project_reader`, `owner`); an operator overrides them by action name, as with `policy.yaml`.
//!
//! "No route without a rule" holds by construction: [`Policy::new`] reads the router's own
//! inventory of routes and methods and refuses any routed method that has no rule, so an
//! instance with an unruled route does not start. The middleware validates the token once and
//! hands the [`AuthContext`] to the handlers' `Auth` extractor through the request's extensions.
//!
//! Project services (Nova, Neutron, Cinder, Glance) need a project-scoped token with a role on
//! that project; an unscoped or domain-scoped token is refused with the service's own policy
//! error (403), never answered with data.

pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::RequestExt;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cascade_core::identity::AuthContext;
use cascade_model::fault::Service;
use http::Method;

use crate::error::ApiError;
use crate::state::AppState;
pub use rules::{RouteRule, default_rules};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No token needed (version documents, authentication, `/healthcheck`).
    Public,
    /// Any valid token, scoped or not (the handler narrows further, e.g. to the token's subject).
    Authenticated,
    /// An admin, or the user named by the route's target (`Target::User`).
    Owner,
    /// A project-scoped token with `reader`, `member` or `admin` on its project; where the route
    /// names a target project, it must be the token's (admins may name any).
    ProjectReader,
    /// As [`Rule::ProjectReader`] with `member` or `admin`.
    ProjectMember,
    /// The `admin` role on the token's scope.
    AdminOnly,
    /// The configured monitoring token, or an admin.
    Monitor,
    /// Nobody (OpenStack's `!`).
    Deny,
}

impl Rule {
    pub const ALL: [Rule; 8] = [
        Rule::Public,
        Rule::Authenticated,
        Rule::Owner,
        Rule::ProjectReader,
        Rule::ProjectMember,
        Rule::AdminOnly,
        Rule::Monitor,
        Rule::Deny,
    ];

    /// The rule's name in configuration and in `cascade policy list`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Public => "public",
            Rule::Authenticated => "authenticated",
            Rule::Owner => "owner",
            Rule::ProjectReader => "project_reader",
            Rule::ProjectMember => "project_member",
            Rule::AdminOnly => "admin_only",
            Rule::Monitor => "monitor",
            Rule::Deny => "deny",
        }
    }

    pub fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// Where a route names the project or user it acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Nobody,
    /// The path parameter holding the target project id.
    Project(&'static str),
    /// The path parameter holding the target user id.
    User(&'static str),
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// No valid token (401).
    Unauthenticated,
    /// A valid token that the rule does not admit (403).
    Forbidden,
}

/// Roles that read a project, and roles that change it (OpenStack's implied-role chain
/// admin → member → reader, spelled out so the embedded identity needs no implied roles).
const READER_ROLES: [&str; 3] = ["reader", "member", "admin"];
const MEMBER_ROLES: [&str; 2] = ["member", "admin"];

/// Whether `ctx` (None: no token) may make a request under `rule` aimed at `target`, whose path
/// parameters are `params`.
pub fn authorize(
    rule: Rule,
    target: Target,
    ctx: Option<&AuthContext>,
    params: &HashMap<String, String>,
) -> Result<(), Denial> {
    if rule == Rule::Public {
        return Ok(());
    }
    let ctx = ctx.ok_or(Denial::Unauthenticated)?;
    let admin = ctx.is_admin();
    let allowed = match rule {
        Rule::Public => true,
        Rule::Authenticated => true,
        Rule::Deny => false,
        Rule::AdminOnly | Rule::Monitor => admin,
        Rule::Owner => {
            admin
                || match target {
                    Target::User(p) => params.get(p).is_some_and(|u| *u == ctx.user.id),
                    Target::Project(p) => params
                        .get(p)
                        .is_some_and(|p| Some(p.as_str()) == ctx.project_id()),
                    Target::Nobody => false,
                }
        }
        Rule::ProjectReader | Rule::ProjectMember => {
            let roles: &[&str] = if rule == Rule::ProjectReader {
                &READER_ROLES
            } else {
                &MEMBER_ROLES
            };
            ctx.project.is_some()
                && roles.iter().any(|r| ctx.has_role(r))
                && match target {
                    Target::Project(p) if !admin => {
                        params.get(p).map(String::as_str) == ctx.project_id()
                    }
                    Target::User(p) if !admin => params.get(p).is_some_and(|u| *u == ctx.user.id),
                    _ => true,
                }
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(Denial::Forbidden)
    }
}

/// The rule that applies to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: String,
    pub rule: Rule,
    pub target: Target,
}

/// The effective rules: defaults, the operator's overrides, and the routes they cover.
#[derive(Debug)]
pub struct Policy {
    /// (method, route) → rules of that route (the generic entry and collection-specific ones).
    rules: HashMap<(Method, &'static str), &'static RouteRule>,
    overrides: HashMap<String, Rule>,
    /// Every (method, route) the router serves.
    routed: BTreeSet<(String, String)>,
    /// Token that may read `/metrics` and `/healthz` without being an admin.
    monitor_token: Option<String>,
}

/// A policy that cannot be built: a routed method without a rule, or a bad override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

impl Policy {
    /// The policy over `inventory` (see [`route_inventory`]) with the operator's `overrides`
    /// (action → rule name). Fails when a routed method has no rule or an override names an
    /// unknown rule.
    pub fn new(
        inventory: &[(Method, String)],
        overrides: &BTreeMap<String, String>,
        monitor_token: Option<String>,
    ) -> Result<Policy, PolicyError> {
        let mut rules = HashMap::new();
        for r in default_rules() {
            if rules.insert((r.method.clone(), r.path), r).is_some() {
                return Err(PolicyError(format!(
                    "two rules for {} {}",
                    r.method, r.path
                )));
            }
        }
        let mut parsed = HashMap::new();
        for (action, name) in overrides {
            let rule = Rule::parse(name).ok_or_else(|| {
                PolicyError(format!(
                    "policy override {action:?}: unknown rule {name:?} (one of: {})",
                    Rule::ALL.map(Rule::name).join(", ")
                ))
            })?;
            parsed.insert(action.clone(), rule);
        }
        let policy = Policy {
            rules,
            overrides: parsed,
            routed: inventory
                .iter()
                .map(|(m, p)| (m.to_string(), p.clone()))
                .collect(),
            monitor_token: monitor_token.filter(|t| !t.is_empty()),
        };
        let missing: Vec<String> = inventory
            .iter()
            .filter(|(m, p)| policy.rule_of(m, p).is_none())
            .map(|(m, p)| format!("{m} {p}"))
            .collect();
        if !missing.is_empty() {
            return Err(PolicyError(format!(
                "routes without a policy rule: {}",
                missing.join(", ")
            )));
        }
        Ok(policy)
    }

    fn rule_of(&self, method: &Method, path: &str) -> Option<&'static RouteRule> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.rules.get(&(method.clone(), path)).copied()
    }

    /// The decision for a request on `route` (as matched) with path parameters `params`.
    pub fn decide(
        &self,
        method: &Method,
        route: &str,
        params: &HashMap<String, String>,
    ) -> Option<Decision> {
        // A collection-specific entry (`/network/v2.0/quotas/{id}`) wins over the generic one.
        let coll = params.get("coll");
        let specific = coll.and_then(|c| self.rule_of(method, &route.replacen("{coll}", c, 1)));
        let entry = specific.or_else(|| self.rule_of(method, route))?;
        let action = match coll {
            Some(c) => entry.action.replace("{coll}", &singular(c)),
            None => entry.action.to_string(),
        };
        let rule = self.overrides.get(&action).copied().unwrap_or(entry.rule);
        Some(Decision {
            action,
            rule,
            target: entry.target,
        })
    }

    /// Whether the router serves `method` on `route`.
    pub fn is_routed(&self, method: &Method, route: &str) -> bool {
        self.routed
            .contains(&(method.to_string(), route.to_string()))
    }

    /// The effective rules, one line per (method, route) the table declares, sorted.
    pub fn effective(&self) -> Vec<(String, String, String, &'static str, bool)> {
        let mut out: Vec<_> = default_rules()
            .map(|r| {
                let rule = self.overrides.get(r.action).copied().unwrap_or(r.rule);
                (
                    r.path.to_string(),
                    r.method.to_string(),
                    r.action.to_string(),
                    rule.name(),
                    self.overrides.contains_key(r.action),
                )
            })
            .collect();
        out.sort();
        out
    }

    fn monitor_token_matches(&self, req: &Request) -> bool {
        let Some(expected) = &self.monitor_token else {
            return false;
        };
        let given = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| {
                req.headers()
                    .get("x-auth-token")
                    .and_then(|v| v.to_str().ok())
            });
        given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Neutron's singular resource name for a collection (`policies` → `policy`).
fn singular(coll: &str) -> String {
    let c = coll.replace('-', "_");
    if let Some(stem) = c.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = c.strip_suffix('s') {
        stem.to_string()
    } else {
        c
    }
}

/// The service whose envelope a path's errors use.
pub(crate) fn service_for_path(path: &str) -> Service {
    match path.trim_start_matches('/').split('/').next().unwrap_or("") {
        "compute" => Service::Compute,
        "network" => Service::Network,
        "volume" => Service::Volume,
        "image" => Service::Image,
        "v1.0" | "healthz" | "metrics" | "healthcheck" => Service::Admin,
        _ => Service::Identity,
    }
}

/// The service's own answer to a request its policy refuses.
pub(crate) fn forbidden(service: Service, action: &str) -> ApiError {
    match service {
        Service::Network => {
            let mut e = ApiError::new(
                service,
                403,
                format!("(rule:{action}) is disallowed by policy"),
            );
            e.neutron_type = Some("PolicyNotAuthorized".into());
            e
        }
        Service::Image => ApiError::new(
            service,
            403,
            format!("You are not authorized to complete {action} action."),
        ),
        Service::Identity => ApiError::new(
            service,
            403,
            format!("You are not authorized to perform the requested action: {action}."),
        ),
        Service::Compute | Service::Volume | Service::Admin => ApiError::new(
            service,
            403,
            format!("Policy doesn't allow {action} to be performed."),
        ),
    }
}

/// The answer to a path whose parameters are not UTF-8 once percent-decoded (axum's own
/// rejection is a plain-text page in no service's envelope).
pub(crate) fn bad_path(service: Service) -> ApiError {
    ApiError::new(
        service,
        400,
        "Invalid URL: a path segment is not valid UTF-8 once percent-decoded.",
    )
}

/// keystonemiddleware's 401 (Keystone's envelope, Glance's own page), with the identity URL.
pub(crate) fn unauthenticated(service: Service, public_url: &str) -> ApiError {
    let envelope = if service == Service::Image {
        Service::Image
    } else {
        Service::Identity
    };
    let mut e = ApiError::unauthenticated(envelope);
    e.auth_uri = Some(format!("{public_url}/identity"));
    e
}

/// The validated caller, handed from [`enforce`] to the handlers' `Auth` extractor.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated(pub(crate) Arc<AuthContext>);

/// Validates `X-Auth-Token` (once per request) and records the caller in the log span.
pub(crate) async fn authenticate(
    state: &AppState,
    service: Service,
    headers: &http::HeaderMap,
) -> Result<Arc<AuthContext>, ApiError> {
    let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) else {
        return Err(unauthenticated(service, &state.public_url));
    };
    match state.identity.validate(token).await {
        Ok(ctx) => {
            let span = tracing::Span::current();
            span.record("user", ctx.user.id.as_str());
            if let Some(p) = ctx.project_id() {
                span.record("project", p);
            }
            Ok(Arc::new(ctx))
        }
        Err(e) if e.kind == cascade_core::ErrorKind::Unavailable => {
            Err(ApiError::from_core(service, e))
        }
        Err(_) => Err(unauthenticated(service, &state.public_url)),
    }
}

/// The middleware: finds the route's rule, validates the token when the rule needs one,
/// and refuses before any handler runs.
pub(crate) async fn enforce(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
    else {
        return next.run(req).await;
    };
    let service = service_for_path(&route);
    // `None`: a path parameter is not UTF-8 once percent-decoded (`%FF`); refused with the
    // service's own 400 below, after authentication as keystonemiddleware would.
    let params: Option<HashMap<String, String>> =
        req.extract_parts::<RawPathParams>().await.ok().map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        });
    let method = req.method().clone();
    let no_params = HashMap::new();
    let Some(decision) =
        state
            .policy
            .decide(&method, &route, params.as_ref().unwrap_or(&no_params))
    else {
        if state.policy.is_routed(&method, &route) {
            tracing::error!(%method, %route, "route without a policy rule: refused");
            return forbidden(service, &format!("{method} {route}")).into_response();
        }
        // Not a method this route serves: the router answers 405 with `Allow`.
        return next.run(req).await;
    };
    if decision.rule == Rule::Public
        || (decision.rule == Rule::Monitor && state.policy.monitor_token_matches(&req))
    {
        return match params {
            Some(_) => next.run(req).await,
            None => bad_path(service).into_response(),
        };
    }
    let ctx = match authenticate(&state, service, req.headers()).await {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    let Some(params) = params else {
        return bad_path(service).into_response();
    };
    match authorize(decision.rule, decision.target, Some(&ctx), &params) {
        Ok(()) => {
            req.extensions_mut().insert(Authenticated(ctx));
            next.run(req).await
        }
        Err(Denial::Unauthenticated) => unauthenticated(service, &state.public_url).into_response(),
        Err(Denial::Forbidden) => {
            tracing::info!(action = %decision.action, rule = decision.rule.name(), "refused by policy");
            forbidden(service, &decision.action).into_response()
        }
    }
}

/// Every (method, route) a router serves, read from the router itself: axum keeps each
/// route's path and `Allow` set, and its `Debug` form is the only place that lists them.
/// `HEAD` (served by every `GET` route) is left out. Empty when the form is not understood;
/// callers treat that as an error.
pub fn route_inventory<S>(router: &axum::Router<S>) -> Vec<(Method, String)> {
    let full = format!("{router:?}");
    // Only the main path router: the fallback router numbers its routes on its own.
    let text = match (full.find("path_router: "), full.find("fallback_router: ")) {
        (Some(a), Some(b)) if a < b => &full[a..b],
        _ => return Vec::new(),
    };
    // `RouteId(7): "/compute/v2.1/servers"` in the node's path table.
    let mut paths: HashMap<String, String> = HashMap::new();
    let mut methods: HashMap<String, String> = HashMap::new();
    let mut rest = text;
    while let Some(i) = rest.find("RouteId(") {
        rest = &rest[i + "RouteId(".len()..];
        let Some(close) = rest.find(')') else { break };
        let id = rest[..close].to_string();
        let after = &rest[close + 1..];
        if let Some(s) = after.strip_prefix(": \"") {
            if let Some(end) = s.find('"') {
                paths.insert(id, s[..end].to_string());
            }
        } else if after.starts_with(": MethodRouter(") {
            let marker = "allow_header: Bytes(b\"";
            if let Some(a) = after.find(marker) {
                let s = &after[a + marker.len()..];
                if let Some(end) = s.find('"') {
                    methods.insert(id, s[..end].to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    for (id, path) in &paths {
        let Some(allow) = methods.get(id) else {
            continue;
        };
        for m in allow.split(',').filter(|m| !m.is_empty() && *m != "HEAD") {
            if let Ok(m) = Method::from_bytes(m.as_bytes()) {
                out.push((m, path.clone()));
            }
        }
    }
    out.sort_by(|a, b| (&a.1, a.0.as_str()).cmp(&(&b.1, b.0.as_str())));
    out
}

#[cfg(test)]
mod tests;
