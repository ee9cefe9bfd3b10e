//! Neutron v2.0 at `/network/v2.0` (no version discovery is needed by clients, but `/network`
//! and `/network/v2.0` answer). One generic route table serves every collection; the
//! per-resource rules (validation, defaults, IPAM, dependencies) live in [`handlers`] and
//! [`model`]. Lists support filters on any attribute (repeated keys OR-ed), `fields`,
//! `sort_key`/`sort_dir`, `limit`/`marker` with `<collection>_links`, and the tag filters.

pub(crate) mod handlers;
pub(crate) mod model;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::identity::{Auth, AuthContext};
use crate::server::Ctx;
use crate::util::{Params, cmp_json, json_as_filter_str, str_field};
pub(crate) use model::NetworkState;
use model::nerr;

/// Collections: (URL name, singular body key, plural body key).
pub(crate) const KINDS: &[(&str, &str, &str)] = &[
    ("networks", "network", "networks"),
    ("subnets", "subnet", "subnets"),
    ("ports", "port", "ports"),
    ("routers", "router", "routers"),
    ("security-groups", "security_group", "security_groups"),
    (
        "security-group-rules",
        "security_group_rule",
        "security_group_rules",
    ),
    ("floatingips", "floatingip", "floatingips"),
];

pub(crate) fn kind(coll: &str) -> ApiResult<(&'static str, &'static str, &'static str)> {
    let coll = coll.trim_end_matches(".json");
    KINDS
        .iter()
        .copied()
        .find(|k| k.0 == coll)
        .ok_or_else(|| nerr(404, "HTTPNotFound", "The resource could not be found."))
}

pub(crate) fn map_of<'a>(
    st: &'a NetworkState,
    coll: &str,
) -> &'a std::collections::BTreeMap<String, Value> {
    match coll {
        "networks" => &st.networks,
        "subnets" => &st.subnets,
        "ports" => &st.ports,
        "routers" => &st.routers,
        "security-groups" => &st.security_groups,
        "security-group-rules" => &st.security_group_rules,
        _ => &st.floatingips,
    }
}

pub(crate) fn map_of_mut<'a>(
    st: &'a mut NetworkState,
    coll: &str,
) -> &'a mut std::collections::BTreeMap<String, Value> {
    match coll {
        "networks" => &mut st.networks,
        "subnets" => &mut st.subnets,
        "ports" => &mut st.ports,
        "routers" => &mut st.routers,
        "security-groups" => &mut st.security_groups,
        "security-group-rules" => &mut st.security_group_rules,
        _ => &mut st.floatingips,
    }
}

const ADMIN_ONLY: &[&str] = &[
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "binding:host_id",
    "binding:profile",
    "binding:vif_type",
    "binding:vif_details",
];

/// What a caller sees of a resource: internal keys dropped, admin-only attributes hidden,
/// security groups with their rules.
pub(crate) fn render(st: &NetworkState, coll: &str, v: &Value, auth: &AuthContext) -> Value {
    let mut o = v.as_object().cloned().unwrap_or_default();
    o.retain(|k, _| !k.starts_with('_') && (auth.is_admin || !ADMIN_ONLY.contains(&k.as_str())));
    match coll {
        "networks" => {
            let id = str_field(v, "id").unwrap_or_default();
            let subs: Vec<&str> = st
                .subnets
                .values()
                .filter(|s| str_field(s, "network_id") == Some(id))
                .filter_map(|s| str_field(s, "id"))
                .collect();
            o.insert("subnets".into(), json!(subs));
        }
        "subnets" => {
            // the external-net extension shows the network's router:external on its subnets
            let net = str_field(v, "network_id").and_then(|n| st.networks.get(n));
            o.insert(
                "router:external".into(),
                json!(net.is_some_and(|n| n["router:external"] == json!(true))),
            );
        }
        "security-groups" => {
            let id = str_field(v, "id").unwrap_or_default();
            let rules: Vec<Value> = st
                .security_group_rules
                .values()
                .filter(|r| str_field(r, "security_group_id") == Some(id))
                .cloned()
                .collect();
            o.insert("security_group_rules".into(), json!(rules));
        }
        _ => {}
    }
    Value::Object(o)
}

pub(crate) fn visible(coll: &str, v: &Value, auth: &AuthContext) -> bool {
    if auth.is_admin || str_field(v, "project_id") == Some(&auth.project_id) {
        return true;
    }
    match coll {
        "networks" => v["shared"] == json!(true) || v["router:external"] == json!(true),
        "subnets" => v["_shared"] == json!(true),
        "security-groups" => v["shared"] == json!(true),
        _ => false,
    }
}

const NON_FILTERS: &[&str] = &[
    "fields",
    "sort_key",
    "sort_dir",
    "limit",
    "marker",
    "page_reverse",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
    "verbose",
];

fn matches(v: &Value, p: &Params) -> bool {
    let mut keys: Vec<&str> =
        p.0.iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !NON_FILTERS.contains(k))
            .collect();
    keys.dedup();
    for k in keys {
        let wants = p.all(k);
        if k == "fixed_ips" {
            let fixed = v
                .get("fixed_ips")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for w in &wants {
                let Some((fk, fv)) = w.split_once('=') else {
                    continue;
                };
                if !fixed.iter().any(|f| {
                    str_field(f, fk) == Some(fv)
                        || (fk == "ip_address_substr"
                            && str_field(f, "ip_address").is_some_and(|ip| ip.contains(fv)))
                }) {
                    return false;
                }
            }
            continue;
        }
        let Some(field) = v.get(k) else { continue };
        let ok = match field {
            Value::Array(items) => items
                .iter()
                .any(|i| json_as_filter_str(i).is_some_and(|s| wants.contains(&s.as_str()))),
            _ => json_as_filter_str(field).is_some_and(|s| {
                wants
                    .iter()
                    .any(|w| *w == s || (field.is_boolean() && w.eq_ignore_ascii_case(&s)))
            }),
        };
        if !ok {
            return false;
        }
    }
    let tags: Vec<&str> = v
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let set = |k: &str| -> Vec<String> {
        p.all(k)
            .iter()
            .flat_map(|x| x.split(','))
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (all, any, not_all, not_any) = (
        set("tags"),
        set("tags-any"),
        set("not-tags"),
        set("not-tags-any"),
    );
    all.iter().all(|t| tags.contains(&t.as_str()))
        && (any.is_empty() || any.iter().any(|t| tags.contains(&t.as_str())))
        && (not_all.is_empty() || !not_all.iter().all(|t| tags.contains(&t.as_str())))
        && !not_any.iter().any(|t| tags.contains(&t.as_str()))
}

fn select_fields(v: Value, fields: &[&str]) -> Value {
    if fields.is_empty() {
        return v;
    }
    match v {
        Value::Object(mut o) => {
            o.retain(|k, _| fields.contains(&k.as_str()));
            Value::Object(o)
        }
        other => other,
    }
}

pub(crate) fn list(
    ctx: &Ctx,
    auth: &AuthContext,
    coll: &str,
    q: Option<String>,
) -> ApiResult<Value> {
    let (_, _, plural) = kind(coll)?;
    let p = Params::parse(q.as_deref());
    let mut guard = ctx.read();
    if coll == "security-groups" && !auth.is_admin {
        guard
            .network
            .ensure_default_sg(&auth.project_id, &crate::util::now());
    }
    let st = &guard.network;
    let mut items: Vec<Value> = map_of(st, coll)
        .values()
        .filter(|v| visible(coll, v, auth))
        .map(|v| render(st, coll, v, auth))
        .filter(|v| matches(v, &p))
        .collect();
    let keys = p.all("sort_key");
    let dirs = p.all("sort_dir");
    if !keys.is_empty() {
        items.sort_by(|a, b| {
            for (i, k) in keys.iter().enumerate() {
                let o = cmp_json(
                    a.get(*k).unwrap_or(&Value::Null),
                    b.get(*k).unwrap_or(&Value::Null),
                );
                let o = if dirs.get(i).is_some_and(|d| d.eq_ignore_ascii_case("desc")) {
                    o.reverse()
                } else {
                    o
                };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            cmp_json(&a["id"], &b["id"])
        });
    }
    if let Some(m) = p.get("marker") {
        let pos = items
            .iter()
            .position(|v| str_field(v, "id") == Some(m))
            .ok_or_else(|| nerr(400, "BadRequest", format!("Marker {m} not found.")))?;
        items.drain(..=pos);
    }
    let limit = match p.get("limit") {
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            nerr(
                400,
                "BadRequest",
                format!("Bad limit request: Limit must be an integer 0 or greater and not '{l}'."),
            )
        })?)
        .filter(|l| *l > 0),
        None => None,
    };
    let mut links = Vec::new();
    if let Some(l) = limit
        && items.len() > l
    {
        items.truncate(l);
        if let Some(last) = items.last().and_then(|v| str_field(v, "id")) {
            links.push(json!({"rel": "next", "href": format!("{}/network/v2.0/{coll}?{}", ctx.region.base_url, p.with_marker(last, l))}));
        }
    }
    if p.has("marker")
        && let Some(first) = items.first().and_then(|v| str_field(v, "id"))
    {
        let mut pp = p.clone();
        pp.0.push(("page_reverse".into(), "True".into()));
        links.push(json!({"rel": "previous", "href": format!("{}/network/v2.0/{coll}?{}", ctx.region.base_url, pp.with_marker(first, limit.unwrap_or(items.len().max(1))))}));
    }
    let fields = p.all("fields");
    let items: Vec<Value> = items
        .into_iter()
        .map(|v| select_fields(v, &fields))
        .collect();
    let mut out = json!({ plural: items });
    if !links.is_empty() {
        out[format!("{plural}_links")] = json!(links);
    }
    Ok(out)
}

async fn list_h(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(coll): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    if coll == "extensions" {
        return Ok(axum::Json(handlers::extensions()).into_response());
    }
    if coll == "agents" {
        return Ok(axum::Json(json!({ "agents": agents(&ctx, auth.is_admin) })).into_response());
    }
    Ok(axum::Json(list(&ctx, &auth, &coll, q)?).into_response())
}

async fn show_h(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((coll, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    if coll == "quotas" {
        return Ok(axum::Json(handlers::quota(&ctx, &id)).into_response());
    }
    let (_, single, _) = kind(&coll)?;
    let p = Params::parse(q.as_deref());
    let st = ctx.read();
    let v = map_of(&st.network, &coll)
        .get(&id)
        .filter(|v| visible(&coll, v, &auth))
        .ok_or_else(|| handlers::not_found(&coll, &id))?;
    let r = select_fields(render(&st.network, &coll, v, &auth), &p.all("fields"));
    Ok(axum::Json(json!({ single: r })).into_response())
}

async fn create_h(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(coll): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    handlers::create(&ctx, &auth, &coll, &body)
}

async fn update_h(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((coll, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    handlers::update(&ctx, &auth, &coll, &id, &body)
}

async fn delete_h(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((coll, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    handlers::delete(&ctx, &auth, &coll, &id)
}

async fn sub_get(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((coll, id, sub)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    match sub.as_str() {
        "tags" => handlers::tags_get(&ctx, &auth, &coll, &id),
        _ => Err(nerr(
            404,
            "HTTPNotFound",
            "The resource could not be found.",
        )),
    }
}

async fn sub_put(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((coll, id, sub)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    match (coll.as_str(), sub.as_str()) {
        (_, "tags") => handlers::tags_put(&ctx, &auth, &coll, &id, &body),
        ("routers", "add_router_interface") => {
            handlers::router_interface(&ctx, &auth, &id, &body, true)
        }
        ("routers", "remove_router_interface") => {
            handlers::router_interface(&ctx, &auth, &id, &body, false)
        }
        ("routers", "add_extraroutes") => handlers::extra_routes(&ctx, &auth, &id, &body, true),
        ("routers", "remove_extraroutes") => handlers::extra_routes(&ctx, &auth, &id, &body, false),
        _ => Err(nerr(
            404,
            "HTTPNotFound",
            "The resource could not be found.",
        )),
    }
}

async fn sub_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((coll, id, sub)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    match sub.as_str() {
        "tags" => handlers::tags_clear(&ctx, &auth, &coll, &id),
        _ => Err(nerr(
            404,
            "HTTPNotFound",
            "The resource could not be found.",
        )),
    }
}

async fn tag_get(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((coll, id, _t, tag)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    handlers::tag_one(&ctx, &auth, &coll, &id, &tag, None)
}

async fn tag_put(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((coll, id, _t, tag)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    handlers::tag_one(&ctx, &auth, &coll, &id, &tag, Some(true))
}

async fn tag_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((coll, id, _t, tag)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    handlers::tag_one(&ctx, &auth, &coll, &id, &tag, Some(false))
}

async fn index(State(ctx): State<Ctx>) -> Response {
    let b = &ctx.region.base_url;
    axum::Json(json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": format!("{b}/network/v2.0/")}]}]})).into_response()
}

async fn v2_index(State(ctx): State<Ctx>) -> Response {
    let b = &ctx.region.base_url;
    let res: Vec<Value> = KINDS.iter().map(|(c, s, _)| json!({"name": s, "collection": c, "links": [{"rel": "self", "href": format!("{b}/network/v2.0/{c}")}]})).collect();
    axum::Json(json!({"resources": res})).into_response()
}

pub(crate) fn router(ctx: Ctx) -> Router<Ctx> {
    let authed = Router::new()
        .route("/network/v2.0/{coll}", get(list_h).post(create_h))
        .route(
            "/network/v2.0/{coll}/{id}",
            get(show_h).put(update_h).delete(delete_h),
        )
        .route(
            "/network/v2.0/{coll}/{id}/{sub}",
            get(sub_get).put(sub_put).delete(sub_delete),
        )
        .route(
            "/network/v2.0/{coll}/{id}/{t}/{tag}",
            get(tag_get).put(tag_put).delete(tag_delete),
        )
        .route_layer(middleware::from_fn_with_state(
            ctx,
            crate::identity::auth_layer,
        ));
    Router::new()
        .route("/network", get(index))
        .route("/network/", get(index))
        .route("/network/v2.0", get(v2_index))
        .route("/network/v2.0/", get(v2_index))
        .merge(authed)
}

/// The region's agents as Neutron lists them: a DHCP and an L3 agent on the region's network
/// host, alive; shown to admins only (Neutron's policy gives members an empty list).
fn agents(ctx: &Ctx, is_admin: bool) -> Vec<Value> {
    if !is_admin {
        return vec![];
    }
    let region = &ctx.region.spec;
    let host = format!("{}-network", region.name.to_lowercase());
    [
        ("DHCP agent", "neutron-dhcp-agent", "dhcp_agent"),
        ("L3 agent", "neutron-l3-agent", "l3_agent"),
    ]
    .iter()
    .map(|(ty, binary, topic)| {
        // A stable id per region and agent (DefaultHasher::new() has fixed keys).
        let half = |salt: &str| {
            use std::hash::{Hash, Hasher};
            let mut h = std::hash::DefaultHasher::new();
            (salt, &region.name, binary).hash(&mut h);
            h.finish()
        };
        let id = uuid::Uuid::from_u64_pair(half("hi"), half("lo"));
        json!({
            "id": id.to_string(), "agent_type": ty, "binary": binary, "topic": topic,
            "host": host, "admin_state_up": true, "alive": true,
            "availability_zone": region.az, "configurations": {}, "description": null,
            "created_at": "2026-01-01 00:00:00", "started_at": "2026-01-01 00:00:00",
            "heartbeat_timestamp": "2026-01-01 00:00:00", "resources_synced": null,
        })
    })
    .collect()
}
