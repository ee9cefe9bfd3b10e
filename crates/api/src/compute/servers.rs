//! `/servers`: create, list, detail, show, update, delete, actions and ips (metadata and tags
//! are in `server_meta.rs`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::compute::deps::{RequestedNetwork, RequestedNetworks};
use cascade_core::compute::{
    Action, ActionOutcome, ListQuery, SchedulerHints, ServerCreate, ServerUpdate,
};
use cascade_core::identity::{Actor, AuthContext};
use cascade_model::microversion::Microversion;
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};

use super::{ApiResult, SVC, accepted, instance_actions, scope, views};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;
use cascade_model::request_id::RequestId;

async fn actor(state: &AppState, ctx: &AuthContext) -> ApiResult<Actor> {
    state.delegation.actor(ctx).await.or_api(SVC)
}

pub(super) fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(SVC, 400, message)
}

fn count(v: &Value, field: &str) -> ApiResult<Option<u32>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .filter(|n| *n >= 1)
            .map(|n| Some(n as u32))
            .ok_or_else(|| bad(format!("Invalid input for field/attribute {field}."))),
        Value::String(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Some)
            .ok_or_else(|| bad(format!("Invalid input for field/attribute {field}."))),
        _ => Err(bad(format!("Invalid input for field/attribute {field}."))),
    }
}

const CREATE_FIELDS: &[&str] = &[
    "name",
    "flavorRef",
    "imageRef",
    "networks",
    "availability_zone",
    "key_name",
    "security_groups",
    "metadata",
    "user_data",
    "block_device_mapping_v2",
    "block_device_mapping",
    "min_count",
    "max_count",
    "description",
    "tags",
    "accessIPv4",
    "accessIPv6",
    "config_drive",
    "adminPass",
    "OS-DCF:diskConfig",
    "return_reservation_id",
    "personality",
    "hostname",
    "host",
    "hypervisor_hostname",
    "trusted_image_certificates",
];

/// Nova's metadata schema: keys of 1 to 255 characters, values of at most 255.
pub(super) fn check_metadata(m: &BTreeMap<String, String>) -> ApiResult<()> {
    for (k, v) in m {
        let n = k.chars().count();
        if n == 0 || n > 255 {
            return Err(bad(format!(
                "Invalid input for field/attribute metadata. Value: {k}. '{k}' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{{1,255}}$'"
            )));
        }
        if v.chars().count() > 255 {
            return Err(bad(format!(
                "Invalid input for field/attribute {k}. Value: {v}. '{v}' is too long"
            )));
        }
    }
    Ok(())
}

/// `accessIPv4` / `accessIPv6`: a valid address of that family, kept in canonical form (IPv6
/// compressed as Nova's netaddr prints it).
fn access_ip(v: &Value, family: u8) -> ApiResult<Option<String>> {
    let field = if family == 4 {
        "accessIPv4"
    } else {
        "accessIPv6"
    };
    let invalid = || {
        bad(format!(
            "Invalid input for field/attribute {field}. Value: {v}. {v} is not a 'ipv{family}'"
        ))
    };
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            let addr: IpAddr = s.trim().parse().map_err(|_| invalid())?;
            match (family, addr) {
                (4, IpAddr::V4(a)) => Ok(Some(a.to_string())),
                (6, IpAddr::V6(a)) => Ok(Some(a.to_string())),
                _ => Err(invalid()),
            }
        }
        _ => Err(invalid()),
    }
}

fn parse_create(v: &Value, hints: &Value, mv: Microversion) -> ApiResult<ServerCreate> {
    let s = v
        .as_object()
        .ok_or_else(|| bad("Invalid input for field/attribute server."))?;
    if let Some(k) = s.keys().find(|k| !CREATE_FIELDS.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field/attribute server. Value: {v}. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let text = |k: &str| -> ApiResult<Option<String>> {
        match &v[k] {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(bad(format!("Invalid input for field/attribute {k}."))),
        }
    };
    let name = text("name")?.ok_or_else(|| {
        bad("Invalid input for field/attribute server. 'name' is a required property")
    })?;
    let flavor_ref = match &v["flavorRef"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(bad(
                "Invalid input for field/attribute server. 'flavorRef' is a required property",
            ));
        }
    };
    let networks = match &v["networks"] {
        Value::Null if mv.at_least(2, 37) => {
            return Err(bad(
                "Invalid input for field/attribute server. 'networks' is a required property",
            ));
        }
        Value::Null => None,
        Value::String(s) if s == "auto" => Some(RequestedNetworks::Auto),
        Value::String(s) if s == "none" => Some(RequestedNetworks::None),
        Value::Array(items) => {
            let mut out = Vec::new();
            for n in items {
                if let Some(port) = n["port"].as_str() {
                    if uuid::Uuid::try_parse(port).is_err() {
                        return Err(bad(format!(
                            "Invalid input for field/attribute port. Value: {port}. '{port}' is not a 'uuid'"
                        )));
                    }
                    out.push(RequestedNetwork::Port {
                        port_id: port.to_string(),
                    });
                } else if let Some(net) = n["uuid"].as_str() {
                    if uuid::Uuid::try_parse(net).is_err() {
                        return Err(bad(format!(
                            "Bad networks format: network uuid is not in proper format ({net})"
                        )));
                    }
                    if let Some(ip) = n.get("fixed_ip").filter(|ip| !ip.is_null())
                        && ip.as_str().is_none_or(|ip| ip.parse::<IpAddr>().is_err())
                    {
                        return Err(bad(format!(
                            "Invalid input for field/attribute fixed_ip. Value: {ip}. {ip} is not a valid IP address"
                        )));
                    }
                    out.push(RequestedNetwork::Network {
                        network_id: net.to_string(),
                        fixed_ip: n["fixed_ip"].as_str().map(str::to_string),
                    });
                } else {
                    return Err(bad(
                        "Bad networks format: network uuid is not in proper format",
                    ));
                }
            }
            Some(RequestedNetworks::Explicit(out))
        }
        _ => return Err(bad("Invalid input for field/attribute networks.")),
    };
    let metadata: BTreeMap<String, String> = match &v["metadata"] {
        Value::Null => BTreeMap::new(),
        m => serde_json::from_value(m.clone())
            .map_err(|_| bad("Invalid input for field/attribute metadata."))?,
    };
    check_metadata(&metadata)?;
    let security_groups = v["security_groups"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|g| g["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let bdm = v["block_device_mapping_v2"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut capabilities = BTreeMap::new();
    if let Some(h) = hints.as_object() {
        for (k, val) in h {
            if let (Some(key), Some(val)) = (k.strip_prefix("capabilities:"), val.as_str()) {
                capabilities.insert(key.to_string(), val.to_string());
            }
        }
    }
    let min_count = count(&v["min_count"], "min_count")?.unwrap_or(1);
    let max_count = count(&v["max_count"], "max_count")?.unwrap_or(min_count);
    let tags = v["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(ServerCreate {
        name,
        flavor_ref,
        image_ref: text("imageRef")?,
        networks,
        availability_zone: text("availability_zone")?,
        key_name: text("key_name")?,
        security_groups,
        metadata,
        user_data: text("user_data")?,
        block_device_mapping_v2: bdm,
        hints: SchedulerHints {
            group: hints["group"].as_str().map(str::to_string),
            capabilities,
            ..Default::default()
        },
        min_count,
        max_count,
        description: text("description")?,
        tags,
        access_ipv4: access_ip(&v["accessIPv4"], 4)?,
        access_ipv6: access_ip(&v["accessIPv6"], 6)?,
        config_drive: v["config_drive"].as_bool().unwrap_or(false) || v["config_drive"] == "true",
    })
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    rid: Option<Extension<RequestId>>,
    raw: Bytes,
) -> ApiResult {
    let doc = body::json(SVC, &raw)?;
    let server = doc.get("server").ok_or_else(|| {
        bad("Invalid input for field/attribute server. 'server' is a required property")
    })?;
    let hints = doc
        .get("os:scheduler_hints")
        .or_else(|| doc.get("OS-SCH-HNT:scheduler_hints"))
        .cloned()
        .unwrap_or(Value::Null);
    let req = parse_create(server, &hints, mv)?;
    let actor = actor(&state, &ctx).await?;
    let rows = state
        .compute
        .create_servers(&actor, ctx.is_admin(), req)
        .await
        .or_api(SVC)?;
    let first = &rows[0];
    for row in &rows {
        instance_actions::record(&state, &ctx, rid.as_ref(), &row.id, "create").await?;
    }
    if server["return_reservation_id"] == json!(true) {
        return Ok(accepted(
            json!({"reservation_id": format!("r-{}", &first.id[..8])}),
        ));
    }
    let mut body = json!({"server": {
        "id": first.id,
        "links": views::links(&state.public_url, "servers", &first.id),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": serde_json::from_str::<Vec<String>>(&first.security_groups).unwrap_or_default().iter().map(|g| json!({"name": g})).collect::<Vec<_>>(),
    }});
    // Nova answers with the requested password, or the one it generated.
    body["server"]["adminPass"] = json!(
        server["adminPass"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(generated_password)
    );
    let mut resp = accepted(body);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}/compute/v2.1/servers/{}",
        state.public_url, first.id
    )) {
        resp.headers_mut().insert("location", v);
    }
    Ok(resp)
}

/// A password like Nova's `generate_password` (12 characters from an unambiguous alphabet).
fn generated_password() -> String {
    const SYMBOLS: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..12]
        .iter()
        .map(|b| SYMBOLS[*b as usize % SYMBOLS.len()] as char)
        .collect()
}

pub(super) fn location(state: &AppState, path: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{}{path}", state.public_url)).ok()
}

fn split_list(v: Option<&String>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

fn parse_time(field: &str, v: &str) -> ApiResult<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(t.and_utc().timestamp_micros());
    }
    Err(bad(format!("Invalid filter field: {field}.")))
}

fn list_query(ctx: &AuthContext, mv: Microversion, raw: Option<String>) -> ApiResult<ListQuery> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let mut q: HashMap<String, String> = HashMap::new();
    let mut sort_keys = Vec::new();
    let mut sort_dirs = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "sort_key" => sort_keys.push(v),
            "sort_dir" => sort_dirs.push(v),
            _ => {
                q.insert(k, v);
            }
        }
    }
    let admin = ctx.is_admin();
    let all_tenants = admin
        && q.get("all_tenants")
            .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no"));
    let mut lq = ListQuery::new(ctx.list_scope(all_tenants).or_api(SVC)?);
    lq.show_unknown = mv.at_least(2, 69);
    if admin && all_tenants {
        lq.filter.project_id = q.get("project_id").or_else(|| q.get("tenant_id")).cloned();
    }
    lq.name = q.get("name").cloned();
    lq.filter.status = q.get("status").map(|s| s.to_ascii_uppercase());
    lq.filter.az = q.get("availability_zone").cloned();
    lq.filter.image_id = q.get("image").cloned();
    lq.filter.flavor_id = q.get("flavor").cloned();
    lq.filter.key_name = q.get("key_name").cloned();
    // Admin-only filter (Nova ignores it for others).
    lq.filter.host = q.get("host").filter(|_| admin).cloned();
    lq.filter.user_id = q.get("user_id").cloned();
    lq.filter.locked = q
        .get("locked")
        .map(|l| matches!(l.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    if let Some(t) = q.get("changes-since") {
        lq.filter.changes_since = Some(parse_time("changes-since", t)?);
    }
    if let Some(t) = q.get("changes-before") {
        lq.filter.changes_before = Some(parse_time("changes-before", t)?);
    }
    if admin
        && q.get("deleted")
            .is_some_and(|d| matches!(d.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
    {
        lq.filter.only_deleted = true;
    }
    lq.tags = split_list(q.get("tags"));
    lq.tags_any = split_list(q.get("tags-any"));
    lq.not_tags = split_list(q.get("not-tags"));
    lq.not_tags_any = split_list(q.get("not-tags-any"));
    lq.sort_key = sort_keys.into_iter().next();
    lq.sort_dir = sort_dirs.into_iter().next();
    lq.limit = match q.get("limit") {
        Some(l) => Some(
            l.parse::<i64>()
                .ok()
                .filter(|l| *l >= 0)
                .ok_or_else(|| bad("limit param must be an integer"))? as usize,
        ),
        None => None,
    };
    lq.marker = q.get("marker").cloned();
    lq.ip = q.get("ip").cloned();
    lq.ip6 = q.get("ip6").cloned();
    Ok(lq)
}

async fn list(
    state: &AppState,
    ctx: &AuthContext,
    mv: Microversion,
    raw: Option<String>,
    detail: bool,
) -> ApiResult {
    let query = raw.clone();
    let lq = list_query(ctx, mv, raw)?;
    let page = state.compute.list_servers(&lq).await.or_api(SVC)?;
    let servers: Vec<Value> = page
        .servers
        .iter()
        .map(|v| {
            if detail {
                views::server_full(&state.public_url, v, mv, ctx.is_admin(), true)
            } else {
                views::server_brief(&state.public_url, v, mv)
            }
        })
        .collect();
    let mut body = json!({"servers": servers});
    if let Some(marker) = page.next_marker {
        let mut params: Vec<(String, String)> =
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .filter(|(k, _)| k != "marker")
                .collect();
        params.push(("marker".into(), marker));
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let path = if detail { "servers/detail" } else { "servers" };
        body["servers_links"] = json!([{"rel": "next", "href": format!("{}/compute/v2.1/{path}?{qs}", state.public_url)}]);
    }
    Ok(axum::Json(body).into_response())
}

pub(crate) async fn index(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    list(&state, &ctx, mv, raw, false).await
}

pub(crate) async fn detail(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    list(&state, &ctx, mv, raw, true).await
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    let view = state
        .compute
        .get_server(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    if view.unknown && !mv.at_least(2, 69) {
        return Err(ApiError::new(
            SVC,
            503,
            format!(
                "The availability zone of instance {id} is unreachable; request microversion 2.69 or later to see what is known."
            ),
        ));
    }
    Ok(axum::Json(
        json!({"server": views::server_full(&state.public_url, &view, mv, ctx.is_admin(), false)}),
    )
    .into_response())
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let doc = body::json(SVC, &raw)?;
    let s = doc
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute server."))?;
    for k in s.keys() {
        if ![
            "name",
            "description",
            "accessIPv4",
            "accessIPv6",
            "OS-DCF:diskConfig",
            "hostname",
        ]
        .contains(&k.as_str())
        {
            return Err(bad(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    let update = ServerUpdate {
        name: s
            .get("name")
            .map(|n| {
                n.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("Invalid input for field/attribute name."))
            })
            .transpose()?,
        description: s.get("description").map(|d| d.as_str().map(str::to_string)),
        access_ipv4: access_ip(s.get("accessIPv4").unwrap_or(&Value::Null), 4)?,
        access_ipv6: access_ip(s.get("accessIPv6").unwrap_or(&Value::Null), 6)?,
    };
    let view = state
        .compute
        .update_server(&scope(&ctx)?, &id, update)
        .await
        .or_api(SVC)?;
    Ok(axum::Json(
        json!({"server": views::server_update(&state.public_url, &view, mv, ctx.is_admin())}),
    )
    .into_response())
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    rid: Option<Extension<RequestId>>,
    Path(id): Path<String>,
) -> ApiResult {
    state
        .compute
        .delete_server(&scope(&ctx)?, &id, ctx.is_admin())
        .await
        .or_api(SVC)?;
    instance_actions::record(&state, &ctx, rid.as_ref(), &id, "delete").await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn action(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    rid: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let doc = body::json(SVC, &raw)?;
    let name = doc
        .as_object()
        .and_then(|m| (m.len() == 1).then(|| m.keys().next().cloned()).flatten())
        .ok_or_else(|| bad("Malformed request body"))?;
    let actor = actor(&state, &ctx).await?;
    let outcome = state
        .compute
        .server_action(
            &actor,
            &scope(&ctx)?,
            &id,
            Action {
                name: name.clone(),
                body: doc,
            },
        )
        .await
        .or_api(SVC)?;
    instance_actions::record(&state, &ctx, rid.as_ref(), &id, &name).await?;
    Ok(match outcome {
        ActionOutcome::Accepted => StatusCode::ACCEPTED.into_response(),
        ActionOutcome::NoContent => StatusCode::NO_CONTENT.into_response(),
        ActionOutcome::Rebuilt { admin_pass } => {
            let view = state
                .compute
                .get_server(&scope(&ctx)?, &id)
                .await
                .or_api(SVC)?;
            let pass = admin_pass.unwrap_or_else(generated_password);
            accepted(json!({"server": views::server_rebuild(
                &state.public_url,
                &view,
                mv,
                ctx.is_admin(),
                Some(&pass),
            )}))
        }
        // From 2.45 the image id is in the body and there is no `Location` (as in Nova).
        ActionOutcome::Body(_, body) if name == "createImage" || name == "createBackup" => {
            if mv.at_least(2, 45) {
                accepted(body)
            } else {
                let mut resp = StatusCode::ACCEPTED.into_response();
                if let Some(l) = body["image_id"]
                    .as_str()
                    .and_then(|i| location(&state, &format!("/image/images/{i}")))
                {
                    resp.headers_mut().insert("location", l);
                }
                resp
            }
        }
        ActionOutcome::Body(status, body) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            axum::Json(body),
        )
            .into_response(),
    })
}

/// `GET /servers/{id}/ips/{network}`: one network's addresses.
pub(crate) async fn ips_by_network(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((id, network)): Path<(String, String)>,
) -> ApiResult {
    let view = state
        .compute
        .get_server(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let addresses: Value = serde_json::from_str(&view.row.addresses).unwrap_or_else(|_| json!({}));
    let ips = addresses
        .get(&network)
        .ok_or_else(|| ApiError::new(SVC, 404, "There is no such network"))?;
    let ips: Vec<Value> = ips
        .as_array()
        .into_iter()
        .flatten()
        .map(|ip| json!({"version": ip["version"], "addr": ip["addr"]}))
        .collect();
    Ok(axum::Json(json!({ network: ips })).into_response())
}

pub(crate) async fn ips(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let view = state
        .compute
        .get_server(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let mut addresses: Value =
        serde_json::from_str(&view.row.addresses).unwrap_or_else(|_| json!({}));
    // Nova's ips view: version and address only.
    for ips in addresses
        .as_object_mut()
        .into_iter()
        .flat_map(|o| o.values_mut())
        .filter_map(Value::as_array_mut)
    {
        for ip in ips.iter_mut().filter_map(Value::as_object_mut) {
            ip.retain(|k, _| k == "addr" || k == "version");
        }
    }
    Ok(axum::Json(json!({ "addresses": addresses })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_ips_are_checked_and_canonical() {
        assert_eq!(
            access_ip(&json!("2001:0DB8:0000:0000::0001"), 6).unwrap(),
            Some("2001:db8::1".to_string())
        );
        assert_eq!(
            access_ip(&json!("10.0.0.1"), 4).unwrap(),
            Some("10.0.0.1".to_string())
        );
        assert_eq!(access_ip(&Value::Null, 4).unwrap(), None);
        for (v, family) in [
            (json!("1.2.3"), 4),
            (json!("::1"), 4),
            (json!("10.0.0.1"), 6),
            (json!(""), 6),
            (json!(17), 4),
        ] {
            assert_eq!(access_ip(&v, family).unwrap_err().status, 400, "{v}");
        }
    }

    #[test]
    fn metadata_keys_and_values_are_at_most_255() {
        let ok: BTreeMap<String, String> = [("k".repeat(255), "v".repeat(255))].into();
        assert!(check_metadata(&ok).is_ok());
        for m in [
            [("k".repeat(256), "v".to_string())],
            [("k".to_string(), "v".repeat(256))],
            [(String::new(), "v".to_string())],
        ] {
            let m: BTreeMap<String, String> = m.into();
            assert_eq!(check_metadata(&m).unwrap_err().status, 400);
        }
    }

    #[test]
    fn networks_need_uuids() {
        let mv = Microversion::new(2, 100);
        let s = |networks: Value| json!({"name": "a", "flavorRef": "1", "networks": networks});
        let e = parse_create(&s(json!([{"uuid": "nope"}])), &Value::Null, mv).unwrap_err();
        assert_eq!(e.status, 400);
        let e = parse_create(&s(json!([{"port": "nope"}])), &Value::Null, mv).unwrap_err();
        assert_eq!(e.status, 400);
        let e = parse_create(
            &s(json!([{"uuid": "8f2b5d0e-4c3a-4b7e-9d1f-2a6c8e0b4d3f", "fixed_ip": "10.0.0"}])),
            &Value::Null,
            mv,
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
        assert!(
            parse_create(
                &s(json!([{"uuid": "8f2b5d0e-4c3a-4b7e-9d1f-2a6c8e0b4d3f", "fixed_ip": "10.0.0.4"}])),
                &Value::Null,
                mv
            )
            .is_ok()
        );
    }
}
