//! Nova flavors: the five classic `m1.*` flavors in every fresh region, admin create (with a
//! caller-chosen id), delete, description update (2.55), extra specs, flavor access for
//! private flavors, and `flavors/detail?is_public=None` as the CLI sends it.
//!
//! Simplifications: `rxtx_factor` is stored and echoed only; no flavor-level quotas.

use std::collections::{BTreeMap, BTreeSet};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Mv;
use super::servers::body_json;
use crate::error::{ApiError, ApiResult, Service};
use crate::identity::{Auth, AuthContext};
use crate::server::Ctx;
use crate::util::Params;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Flavor {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) vcpus: u64,
    pub(crate) ram: u64,
    pub(crate) disk: u64,
    pub(crate) ephemeral: u64,
    pub(crate) swap: u64,
    pub(crate) rxtx_factor: f64,
    pub(crate) is_public: bool,
    pub(crate) description: Option<String>,
    pub(crate) extra_specs: BTreeMap<String, String>,
    pub(crate) access: BTreeSet<String>,
}

pub(crate) fn defaults() -> BTreeMap<String, Flavor> {
    [
        ("1", "m1.tiny", 1, 512, 1),
        ("2", "m1.small", 1, 2048, 20),
        ("3", "m1.medium", 2, 4096, 40),
        ("4", "m1.large", 4, 8192, 80),
        ("5", "m1.xlarge", 8, 16384, 160),
    ]
    .into_iter()
    .map(|(id, name, vcpus, ram, disk)| {
        (
            id.to_string(),
            Flavor {
                id: id.into(),
                name: name.into(),
                vcpus,
                ram,
                disk,
                ephemeral: 0,
                swap: 0,
                rxtx_factor: 1.0,
                is_public: true,
                description: None,
                extra_specs: BTreeMap::new(),
                access: BTreeSet::new(),
            },
        )
    })
    .collect()
}

fn render(f: &Flavor, mv: Mv, base: &str, detail: bool) -> Value {
    let links = json!([{"rel": "self", "href": format!("{base}/compute/v2.1/flavors/{}", f.id)}, {"rel": "bookmark", "href": format!("{base}/compute/flavors/{}", f.id)}]);
    let mut o = json!({"id": f.id, "name": f.name, "links": links});
    if mv.ge(2, 55) {
        o["description"] = json!(f.description);
    }
    if !detail {
        return o;
    }
    o["vcpus"] = json!(f.vcpus);
    o["ram"] = json!(f.ram);
    o["disk"] = json!(f.disk);
    o["OS-FLV-EXT-DATA:ephemeral"] = json!(f.ephemeral);
    o["swap"] = if f.swap == 0 {
        json!("")
    } else {
        json!(f.swap)
    };
    if mv.ge(2, 75) && f.swap == 0 {
        o["swap"] = json!(0);
    }
    o["rxtx_factor"] = json!(f.rxtx_factor);
    o["os-flavor-access:is_public"] = json!(f.is_public);
    o["OS-FLV-DISABLED:disabled"] = json!(false);
    if mv.ge(2, 61) {
        o["extra_specs"] = json!(f.extra_specs);
    }
    o
}

fn visible<'a>(
    st: &'a crate::state::RegionState,
    id: &str,
    auth: &AuthContext,
) -> ApiResult<&'a Flavor> {
    st.compute
        .flavors
        .get(id)
        .filter(|f| f.is_public || auth.is_admin || f.access.contains(&auth.project_id))
        .ok_or_else(|| ApiError::nova(404, format!("Flavor {id} could not be found.")))
}

fn admin_only(auth: &AuthContext) -> ApiResult<()> {
    if auth.is_admin {
        Ok(())
    } else {
        Err(ApiError::nova(
            403,
            "Policy doesn't allow this operation to be performed.",
        ))
    }
}

fn do_list(
    ctx: &Ctx,
    auth: &AuthContext,
    mv: Mv,
    q: Option<String>,
    detail: bool,
) -> ApiResult<Value> {
    let p = Params::parse(q.as_deref());
    let st = ctx.read();
    let is_public = p.get("is_public").map(|v| v.to_ascii_lowercase());
    let min_ram: u64 = p.get("minRam").and_then(|v| v.parse().ok()).unwrap_or(0);
    let min_disk: u64 = p.get("minDisk").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut list: Vec<&Flavor> = st
        .compute
        .flavors
        .values()
        .filter(|f| match (auth.is_admin, is_public.as_deref()) {
            (true, Some("none")) => true,
            (_, Some(v)) if crate::util::truthy(v) == Some(false) => {
                !f.is_public && (auth.is_admin || f.access.contains(&auth.project_id))
            }
            (true, _) => f.is_public,
            (false, _) => f.is_public || f.access.contains(&auth.project_id),
        })
        .filter(|f| f.ram >= min_ram && f.disk >= min_disk)
        .collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(m) = p.get("marker") {
        let pos = list
            .iter()
            .position(|f| f.id == m)
            .ok_or_else(|| ApiError::nova(400, format!("marker [{m}] not found")))?;
        list.drain(..=pos);
    }
    let limit = p
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(1000)
        .min(1000);
    let full = list.len() > limit || p.has("limit") && list.len() == limit;
    list.truncate(limit);
    let base = &ctx.region.base_url;
    let mut out =
        json!({"flavors": list.iter().map(|f| render(f, mv, base, detail)).collect::<Vec<_>>()});
    if full && let Some(last) = list.last() {
        let path = if detail { "flavors/detail" } else { "flavors" };
        out["flavors_links"] = json!([{"rel": "next", "href": format!("{base}/compute/v2.1/{path}?{}", p.with_marker(&last.id, limit))}]);
    }
    Ok(out)
}

pub(crate) async fn list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    Ok(axum::Json(do_list(&ctx, &auth, mv, q, false)?).into_response())
}

pub(crate) async fn list_detail(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    Ok(axum::Json(do_list(&ctx, &auth, mv, q, true)?).into_response())
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    Ok(axum::Json(
        json!({"flavor": render(visible(&st, &id, &auth)?, mv, &ctx.region.base_url, true)}),
    )
    .into_response())
}

pub(crate) async fn create(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    body: Bytes,
) -> ApiResult<Response> {
    admin_only(&auth)?;
    let v = body_json(Service::Compute, &body)?;
    let f = v
        .get("flavor")
        .ok_or_else(|| ApiError::nova(400, "Invalid input for field/attribute flavor."))?;
    let num = |k: &str, req: bool| -> ApiResult<u64> {
        match f.get(k) {
            Some(x) => x
                .as_u64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    ApiError::nova(
                        400,
                        format!("Invalid input for field/attribute {k}. Value: {x}."),
                    )
                }),
            None if req => Err(ApiError::nova(
                400,
                format!("Invalid input for field/attribute flavor. '{k}' is a required property"),
            )),
            None => Ok(0),
        }
    };
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::nova(400, "Invalid input for field/attribute name."))?
        .to_string();
    let (vcpus, ram, disk) = (num("vcpus", true)?, num("ram", true)?, num("disk", true)?);
    if vcpus == 0 || ram == 0 {
        return Err(ApiError::nova(
            400,
            "Invalid input for field/attribute vcpus/ram: must be positive.",
        ));
    }
    let id = match f.get("id") {
        Some(Value::String(s)) if s != "auto" => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => crate::util::new_id(),
    };
    let flavor = Flavor {
        id: id.clone(),
        name,
        vcpus,
        ram,
        disk,
        ephemeral: num("OS-FLV-EXT-DATA:ephemeral", false)?,
        swap: num("swap", false)?,
        rxtx_factor: f.get("rxtx_factor").and_then(Value::as_f64).unwrap_or(1.0),
        is_public: f
            .get("os-flavor-access:is_public")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        description: f
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        extra_specs: BTreeMap::new(),
        access: BTreeSet::new(),
    };
    let mut st = ctx.write();
    if st.compute.flavors.contains_key(&id) {
        return Err(ApiError::nova(
            409,
            format!("Flavor with ID {id} already exists."),
        ));
    }
    if st.compute.flavors.values().any(|x| x.name == flavor.name) {
        return Err(ApiError::nova(
            409,
            format!("Flavor with name {} already exists.", flavor.name),
        ));
    }
    let out = render(&flavor, mv, &ctx.region.base_url, true);
    st.compute.flavors.insert(id, flavor);
    Ok(axum::Json(json!({"flavor": out})).into_response())
}

pub(crate) async fn update(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    admin_only(&auth)?;
    if !mv.ge(2, 55) {
        return Err(ApiError::nova(
            405,
            "Method not allowed at this microversion.",
        ));
    }
    let v = body_json(Service::Compute, &body)?;
    let mut st = ctx.write();
    let f = st
        .compute
        .flavors
        .get_mut(&id)
        .ok_or_else(|| ApiError::nova(404, format!("Flavor {id} could not be found.")))?;
    f.description = v
        .pointer("/flavor/description")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(axum::Json(json!({"flavor": render(f, mv, &ctx.region.base_url, true)})).into_response())
}

pub(crate) async fn delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    admin_only(&auth)?;
    let mut st = ctx.write();
    st.compute
        .flavors
        .remove(&id)
        .ok_or_else(|| ApiError::nova(404, format!("Flavor {id} could not be found.")))?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn access_json(f: &Flavor) -> Value {
    json!({"flavor_access": f.access.iter().map(|t| json!({"flavor_id": f.id, "tenant_id": t})).collect::<Vec<_>>()})
}

pub(crate) async fn access_list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    admin_only(&auth)?;
    let st = ctx.read();
    let f = visible(&st, &id, &auth)?;
    if f.is_public {
        return Err(ApiError::nova(
            404,
            "Access list not available for public flavors.",
        ));
    }
    Ok(axum::Json(access_json(f)).into_response())
}

/// `addTenantAccess` / `removeTenantAccess`.
pub(crate) async fn action(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    admin_only(&auth)?;
    let v = body_json(Service::Compute, &body)?;
    let mut st = ctx.write();
    let f = st
        .compute
        .flavors
        .get_mut(&id)
        .ok_or_else(|| ApiError::nova(404, format!("Flavor {id} could not be found.")))?;
    if f.is_public {
        return Err(ApiError::nova(
            409,
            "Can not add access to a public flavor.",
        ));
    }
    if let Some(t) = v.pointer("/addTenantAccess/tenant").and_then(Value::as_str) {
        if !f.access.insert(t.to_string()) {
            return Err(ApiError::nova(
                409,
                format!(
                    "Flavor access already exists for flavor {id} and project {t} combination."
                ),
            ));
        }
    } else if let Some(t) = v
        .pointer("/removeTenantAccess/tenant")
        .and_then(Value::as_str)
    {
        if !f.access.remove(t) {
            return Err(ApiError::nova(
                404,
                format!("Flavor access not found for {id} / {t} combination."),
            ));
        }
    } else {
        return Err(ApiError::nova(400, "There is no such action."));
    }
    Ok(axum::Json(access_json(f)).into_response())
}

pub(crate) async fn specs_list(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    Ok(axum::Json(json!({"extra_specs": visible(&st, &id, &auth)?.extra_specs})).into_response())
}

fn spec_map(v: &Value, key: &str) -> ApiResult<BTreeMap<String, String>> {
    v.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::nova(400, format!("Invalid input for field/attribute {key}.")))?
        .iter()
        .map(|(k, v)| {
            let s = v
                .as_str()
                .map(str::to_string)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
                .or_else(|| v.as_bool().map(|b| b.to_string()));
            s.map(|s| (k.clone(), s)).ok_or_else(|| {
                ApiError::nova(400, format!("Invalid input for field/attribute {k}."))
            })
        })
        .collect()
}

pub(crate) async fn specs_set(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    admin_only(&auth)?;
    let m = spec_map(&body_json(Service::Compute, &body)?, "extra_specs")?;
    let mut st = ctx.write();
    let f = st
        .compute
        .flavors
        .get_mut(&id)
        .ok_or_else(|| ApiError::nova(404, format!("Flavor {id} could not be found.")))?;
    f.extra_specs.extend(m.clone());
    Ok(axum::Json(json!({"extra_specs": m})).into_response())
}

pub(crate) async fn spec_get(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let st = ctx.read();
    match visible(&st, &id, &auth)?.extra_specs.get(&key) {
        Some(v) => Ok(axum::Json(json!({key: v})).into_response()),
        None => Err(ApiError::nova(
            404,
            format!("Flavor {id} has no extra specs with key {key}."),
        )),
    }
}

pub(crate) async fn spec_put(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    admin_only(&auth)?;
    let v = body_json(Service::Compute, &body)?;
    let m = spec_map(&json!({"x": v}), "x")?;
    if m.len() != 1 || !m.contains_key(&key) {
        return Err(ApiError::nova(400, "Request body and URI mismatch"));
    }
    let mut st = ctx.write();
    let f = st
        .compute
        .flavors
        .get_mut(&id)
        .ok_or_else(|| ApiError::nova(404, format!("Flavor {id} could not be found.")))?;
    f.extra_specs.extend(m.clone());
    Ok(axum::Json(json!(m)).into_response())
}

pub(crate) async fn spec_delete(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    admin_only(&auth)?;
    let mut st = ctx.write();
    let f = st
        .compute
        .flavors
        .get_mut(&id)
        .ok_or_else(|| ApiError::nova(404, format!("Flavor {id} could not be found.")))?;
    f.extra_specs.remove(&key).ok_or_else(|| {
        ApiError::nova(
            404,
            format!("Flavor {id} has no extra specs with key {key}."),
        )
    })?;
    Ok(StatusCode::OK.into_response())
}
