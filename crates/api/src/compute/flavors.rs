//! Flavors: list (`is_public=None` as the CLI sends), detail, show, admin create/delete and
//! description updates (2.55), extra specs (2.61 in bodies) and flavor access.

use std::collections::{BTreeMap, HashMap};

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::compute::FlavorCreate;
use cascade_core::identity::AuthContext;
use cascade_model::microversion::Microversion;
use http::StatusCode;
use serde_json::{Value, json};

use super::misc::{Params, admin, bad, ok};
use super::{ApiResult, SVC, views};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

// ---- flavors -------------------------------------------------------------------------------

fn is_public_param(q: &HashMap<String, String>) -> Option<Option<bool>> {
    q.get("is_public")
        .map(|v| match v.to_ascii_lowercase().as_str() {
            "none" => None,
            "false" | "f" | "off" | "no" | "n" | "0" => Some(false),
            _ => Some(true),
        })
}

async fn flavor_list(
    state: &AppState,
    ctx: &AuthContext,
    mv: Microversion,
    q: &HashMap<String, String>,
    detail: bool,
) -> ApiResult {
    let is_public = is_public_param(q).unwrap_or(Some(true));
    let mut flavors = state
        .compute
        .list_flavors(ctx.project_id(), ctx.is_admin(), is_public)
        .await
        .or_api(SVC)?;
    if let Some(r) = q.get("minRam").and_then(|v| v.parse::<i64>().ok()) {
        flavors.retain(|f| f.ram >= r);
    }
    if let Some(d) = q.get("minDisk").and_then(|v| v.parse::<i64>().ok()) {
        flavors.retain(|f| f.disk >= d);
    }
    if let Some(m) = q.get("marker") {
        let pos = flavors
            .iter()
            .position(|f| &f.id == m)
            .ok_or_else(|| bad(format!("marker [{m}] not found")))?;
        flavors.drain(..=pos);
    }
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok());
    let more = limit.is_some_and(|l| flavors.len() > l);
    if let Some(l) = limit {
        flavors.truncate(l);
    }
    let items: Vec<Value> = flavors
        .iter()
        .map(|f| views::flavor(&state.public_url, f, mv, detail))
        .collect();
    let mut body = json!({"flavors": items});
    if more && let Some(last) = flavors.last() {
        let path = if detail { "flavors/detail" } else { "flavors" };
        body["flavors_links"] = json!([{"rel": "next", "href": format!("{}/compute/v2.1/{path}?limit={}&marker={}", state.public_url, limit.unwrap_or(0), last.id)}]);
    }
    ok(body)
}

pub(crate) async fn flavors(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Query(q): Params,
) -> ApiResult {
    flavor_list(&state, &ctx, mv, &q, false).await
}

pub(crate) async fn flavors_detail(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Query(q): Params,
) -> ApiResult {
    flavor_list(&state, &ctx, mv, &q, true).await
}

pub(crate) async fn show_flavor(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    let f = state
        .compute
        .get_flavor(&id, ctx.project_id(), ctx.is_admin())
        .await
        .or_api(SVC)?;
    ok(json!({"flavor": views::flavor(&state.public_url, &f, mv, true)}))
}

fn int_field(v: &Value, name: &str, required: bool) -> ApiResult<i64> {
    match v {
        Value::Null if !required => Ok(0),
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| bad(format!("Invalid input for field/attribute {name}."))),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| {
            bad(format!(
                "Invalid input for field/attribute {name}. Value: {s}."
            ))
        }),
        Value::Null => Err(bad(format!(
            "Invalid input for field/attribute flavor. '{name}' is a required property"
        ))),
        _ => Err(bad(format!("Invalid input for field/attribute {name}."))),
    }
}

pub(crate) async fn create_flavor(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    raw: Bytes,
) -> ApiResult {
    admin(&ctx)?;
    let doc = body::json(SVC, &raw)?;
    let f = doc.get("flavor").ok_or_else(|| {
        bad("Invalid input for field/attribute flavor. 'flavor' is a required property")
    })?;
    let name = f["name"].as_str().ok_or_else(|| {
        bad("Invalid input for field/attribute flavor. 'name' is a required property")
    })?;
    let id = match &f["id"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => return Err(bad("Invalid input for field/attribute id.")),
    };
    let req = FlavorCreate {
        id,
        name: name.to_string(),
        vcpus: int_field(&f["vcpus"], "vcpus", true)?,
        ram: int_field(&f["ram"], "ram", true)?,
        disk: int_field(&f["disk"], "disk", true)?,
        ephemeral: int_field(
            &f["OS-FLV-EXT-DATA:ephemeral"],
            "OS-FLV-EXT-DATA:ephemeral",
            false,
        )?,
        swap: int_field(&f["swap"], "swap", false)?,
        rxtx_factor: f["rxtx_factor"].as_f64().unwrap_or(1.0),
        is_public: nova_bool(
            &f["os-flavor-access:is_public"],
            "os-flavor-access:is_public",
        )?
        .unwrap_or(true),
        description: if mv.at_least(2, 55) {
            f["description"].as_str().map(str::to_string)
        } else {
            None
        },
    };
    let row = state.compute.create_flavor(req).await.or_api(SVC)?;
    ok(json!({"flavor": views::flavor(&state.public_url, &row, mv, true)}))
}

/// Nova's `parameter_types.boolean`: a JSON boolean, or one of the strings and numbers
/// oslo's `strutils.bool_from_string` accepts (Tempest sends `"False"`); anything else is 400.
fn nova_bool(v: &Value, field: &str) -> ApiResult<Option<bool>> {
    let text = match v {
        Value::Null => return Ok(None),
        Value::Bool(b) => return Ok(Some(*b)),
        Value::String(s) => s.to_ascii_lowercase(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    match text.as_str() {
        "true" | "t" | "on" | "yes" | "y" | "1" => Ok(Some(true)),
        "false" | "f" | "off" | "no" | "n" | "0" => Ok(Some(false)),
        _ => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {v}. {v} is not of type 'boolean', 'string'"
        ))),
    }
}

pub(crate) async fn update_flavor(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    admin(&ctx)?;
    if !mv.at_least(2, 55) {
        return Err(ApiError::new(
            SVC,
            405,
            "Method not allowed before microversion 2.55.",
        ));
    }
    let doc = body::json(SVC, &raw)?;
    let d = doc["flavor"]
        .get("description")
        .ok_or_else(|| bad("'description' is a required property"))?;
    let row = state
        .compute
        .update_flavor_description(&id, d.as_str().map(str::to_string))
        .await
        .or_api(SVC)?;
    ok(json!({"flavor": views::flavor(&state.public_url, &row, mv, true)}))
}

pub(crate) async fn delete_flavor(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    state.compute.delete_flavor(&id).await.or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn access_body(id: &str, tenants: Vec<String>) -> Value {
    json!({"flavor_access": tenants.into_iter().map(|t| json!({"flavor_id": id, "tenant_id": t})).collect::<Vec<_>>()})
}

pub(crate) async fn flavor_action(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    admin(&ctx)?;
    let doc = body::json(SVC, &raw)?;
    let tenants = if let Some(t) = doc["addTenantAccess"]["tenant"].as_str() {
        state.compute.add_flavor_access(&id, t).await.or_api(SVC)?
    } else if let Some(t) = doc["removeTenantAccess"]["tenant"].as_str() {
        state
            .compute
            .remove_flavor_access(&id, t)
            .await
            .or_api(SVC)?
    } else {
        return Err(bad("Invalid flavor action"));
    };
    ok(access_body(&id, tenants))
}

pub(crate) async fn flavor_access(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&ctx)?;
    let tenants = state.compute.flavor_access(&id).await.or_api(SVC)?;
    ok(access_body(&id, tenants))
}

pub(crate) async fn extra_specs(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    state
        .compute
        .get_flavor(&id, ctx.project_id(), ctx.is_admin())
        .await
        .or_api(SVC)?;
    let specs = state.compute.flavor_extra_specs(&id).await.or_api(SVC)?;
    ok(json!({"extra_specs": specs}))
}

fn specs_body(raw: &Bytes) -> ApiResult<BTreeMap<String, String>> {
    let doc = body::json(SVC, raw)?;
    let m = doc["extra_specs"]
        .as_object()
        .ok_or_else(|| bad("Invalid input for field/attribute extra_specs."))?;
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            Value::Bool(b) => Ok((k.clone(), b.to_string())),
            _ => Err(bad("Invalid input for field/attribute extra_specs.")),
        })
        .collect()
}

pub(crate) async fn set_extra_specs(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    admin(&ctx)?;
    let specs = specs_body(&raw)?;
    let all = state
        .compute
        .set_flavor_extra_specs(&id, specs)
        .await
        .or_api(SVC)?;
    ok(json!({"extra_specs": all}))
}

pub(crate) async fn extra_spec(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    state
        .compute
        .get_flavor(&id, ctx.project_id(), ctx.is_admin())
        .await
        .or_api(SVC)?;
    let specs = state.compute.flavor_extra_specs(&id).await.or_api(SVC)?;
    let v = specs.get(&key).ok_or_else(|| {
        ApiError::new(
            SVC,
            404,
            format!("Flavor {id} has no extra specs with key {key}."),
        )
    })?;
    ok(json!({key: v}))
}

pub(crate) async fn put_extra_spec(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    admin(&ctx)?;
    let doc = body::json(SVC, &raw)?;
    let given = doc
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.get(&key))
        .ok_or_else(|| bad("Request body and URI mismatch"))?;
    let v = given
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| given.to_string());
    state
        .compute
        .set_flavor_extra_specs(&id, BTreeMap::from([(key.clone(), v.clone())]))
        .await
        .or_api(SVC)?;
    ok(json!({key: v}))
}

pub(crate) async fn delete_extra_spec(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    admin(&ctx)?;
    state
        .compute
        .delete_flavor_extra_spec(&id, &key)
        .await
        .or_api(SVC)?;
    // Nova answers 200 with an empty body (not 202 as a flavor delete does).
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_read_like_nova() {
        for (v, want) in [
            (json!(false), Some(false)),
            (json!("False"), Some(false)),
            (json!("no"), Some(false)),
            (json!(0), Some(false)),
            (json!(true), Some(true)),
            (json!("True"), Some(true)),
            (json!("on"), Some(true)),
            (json!(1), Some(true)),
            (Value::Null, None),
        ] {
            assert_eq!(nova_bool(&v, "x").unwrap(), want, "{v}");
        }
        for v in [json!("maybe"), json!(2), json!([])] {
            assert_eq!(nova_bool(&v, "x").unwrap_err().status, 400, "{v}");
        }
        let q = |v: &str| HashMap::from([("is_public".to_string(), v.to_string())]);
        for v in ["f", "false", "no", "0"] {
            assert_eq!(is_public_param(&q(v)), Some(Some(false)), "{v}");
        }
        for v in ["t", "true", "yes", "1"] {
            assert_eq!(is_public_param(&q(v)), Some(Some(true)), "{v}");
        }
        assert_eq!(is_public_param(&q("None")), Some(None));
    }
}
