//! Cinder's attachment API (3.27+), quota sets, limits, availability zones and the extension
//! list.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::identity::AuthContext;
use cascade_core::volume::QuotaSet;
use cascade_model::microversion::Microversion;
use serde_json::{Value, json};

use super::volumes::actor;
use super::{ApiResult, SVC, bad, check_project, scope, views};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

type Params = Query<HashMap<String, String>>;

pub(crate) fn ok(v: Value) -> ApiResult {
    Ok(axum::Json(v).into_response())
}

pub(crate) fn admin(ctx: &AuthContext, rule: &str) -> ApiResult<()> {
    if ctx.is_admin() {
        Ok(())
    } else {
        Err(ApiError::new(
            SVC,
            403,
            format!("Policy doesn't allow {rule} to be performed."),
        ))
    }
}

pub(crate) fn opt_text(v: &Value, k: &str) -> ApiResult<Option<String>> {
    match &v[k] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(bad(format!("Invalid input for field/attribute {k}."))),
    }
}

pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "t"),
        _ => false,
    }
}

fn mv_at_least(mv: Microversion, minor: u16) -> ApiResult<()> {
    if mv.at_least(3, minor) {
        Ok(())
    } else {
        Err(ApiError::new(SVC, 404, "The resource could not be found."))
    }
}

// ---- attachments (3.27) ------------------------------------------------------------------------

async fn attachment_list(
    state: &AppState,
    ctx: &AuthContext,
    mv: Microversion,
    project: &str,
    q: &HashMap<String, String>,
    detail: bool,
) -> ApiResult {
    check_project(ctx, project)?;
    mv_at_least(mv, 27)?;
    let all = ctx.is_admin() && q.contains_key("all_tenants");
    let list = state
        .volumes
        .list_attachments(&ctx.list_scope(all).or_api(SVC)?)
        .await
        .or_api(SVC)?;
    let out: Vec<Value> = list
        .iter()
        .filter(|a| q.get("volume_id").is_none_or(|v| v == &a.volume_id))
        .filter(|a| {
            q.get("instance_id")
                .is_none_or(|v| Some(v) == a.server_id.as_ref())
        })
        .map(|a| views::attachment(a, detail))
        .collect();
    ok(json!({"attachments": out}))
}

pub(crate) async fn attachments(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    Query(q): Params,
) -> ApiResult {
    attachment_list(&state, &ctx, mv, &project, &q, false).await
}

pub(crate) async fn attachments_detail(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    Query(q): Params,
) -> ApiResult {
    attachment_list(&state, &ctx, mv, &project, &q, true).await
}

pub(crate) async fn create_attachment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(project): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    mv_at_least(mv, 27)?;
    let doc = body::json(SVC, &raw)?;
    let a = doc
        .get("attachment")
        .ok_or_else(|| bad("Missing required element 'attachment' in request body."))?;
    let volume_id = opt_text(a, "volume_uuid")?
        .or(opt_text(a, "volume_id")?)
        .ok_or_else(|| bad("Invalid input for field/attribute volume_uuid."))?;
    let instance = opt_text(a, "instance_uuid")?;
    let mode = opt_text(a, "mode")?;
    if mode.as_deref().is_some_and(|m| m != "rw" && m != "ro") {
        return Err(bad("Invalid input for field/attribute mode."));
    }
    let connector = a.get("connector").filter(|c| !c.is_null()).cloned();
    let actor = actor(&state, &ctx).await?;
    let row = state
        .volumes
        .create_attachment(
            &actor,
            &scope(&ctx)?,
            &volume_id,
            instance.as_deref(),
            connector,
            mode.as_deref(),
        )
        .await
        .or_api(SVC)?;
    ok(json!({"attachment": views::attachment(&row, true)}))
}

pub(crate) async fn show_attachment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    mv_at_least(mv, 27)?;
    let a = state
        .volumes
        .get_attachment(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    ok(json!({"attachment": views::attachment(&a, true)}))
}

pub(crate) async fn delete_attachment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    mv_at_least(mv, 27)?;
    let actor = actor(&state, &ctx).await?;
    state
        .volumes
        .delete_attachment(&actor, &scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    ok(json!({"attachments": []}))
}

// ---- quotas, limits, zones -----------------------------------------------------------------------

fn target_allowed(ctx: &AuthContext, target: &str) -> ApiResult<()> {
    if ctx.is_admin() || ctx.project_id() == Some(target) {
        Ok(())
    } else {
        Err(ApiError::new(
            SVC,
            403,
            "Policy doesn't allow volume_extension:quotas:show to be performed.",
        ))
    }
}

pub(crate) async fn quotas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, target)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    check_project(&ctx, &project)?;
    target_allowed(&ctx, &target)?;
    let usage = q
        .get("usage")
        .is_some_and(|u| matches!(u.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    let limits = state.volumes.volume_quotas(&target).await.or_api(SVC)?;
    let (n, g, s) = state.volumes.volume_usage(&target).await.or_api(SVC)?;
    let used = |k: &str| match k {
        "volumes" | "volumes___DEFAULT__" => n,
        "gigabytes" | "gigabytes___DEFAULT__" => g,
        "snapshots" | "snapshots___DEFAULT__" => s,
        _ => 0,
    };
    let mut set = serde_json::Map::new();
    set.insert("id".into(), json!(target));
    for (k, limit) in limits {
        let v = if usage {
            json!({"limit": limit, "in_use": used(&k), "reserved": 0, "allocated": 0})
        } else {
            json!(limit)
        };
        set.insert(k, v);
    }
    ok(json!({"quota_set": set}))
}

pub(crate) async fn quota_defaults(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, target)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let q = state.volumes.quota_class("default").await.or_api(SVC)?;
    ok(json!({"quota_set": with_id(&target, q)}))
}

fn with_id(id: &str, q: QuotaSet) -> serde_json::Map<String, Value> {
    let mut set = serde_json::Map::new();
    set.insert("id".into(), json!(id));
    for (k, v) in q {
        set.insert(k, json!(v));
    }
    set
}

/// A `quota_set` / `quota_class_set` body: integer limits (numeric strings too), `id` and
/// `tenant_id` ignored.
fn quota_updates(doc: &Value, key: &str) -> ApiResult<QuotaSet> {
    let set = doc
        .get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| bad(format!("Missing required element '{key}' in request body.")))?;
    let mut updates = QuotaSet::new();
    for (k, v) in set {
        if k == "id" || k == "tenant_id" {
            continue;
        }
        let n = v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| {
                bad(format!(
                    "Invalid input received: Quota {k} must be an integer."
                ))
            })?;
        updates.insert(k.clone(), n);
    }
    Ok(updates)
}

/// `DELETE /os-quota-sets/{target}` (admin): the project's own limits go.
pub(crate) async fn delete_quotas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, target)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, "volume_extension:quotas:delete")?;
    state
        .volumes
        .delete_volume_quotas(&target)
        .await
        .or_api(SVC)?;
    Ok(http::StatusCode::OK.into_response())
}

/// `GET /os-quota-class-sets/{class}` (admin).
pub(crate) async fn quota_class(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, class)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, "volume_extension:quota_classes")?;
    let q = state.volumes.quota_class(&class).await.or_api(SVC)?;
    ok(json!({"quota_class_set": with_id(&class, q)}))
}

/// `PUT /os-quota-class-sets/{class}` (admin): answers the class's limits (no `id`).
pub(crate) async fn update_quota_class(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, class)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, "volume_extension:quota_classes:update")?;
    let doc = body::json(SVC, &raw)?;
    let updates = quota_updates(&doc, "quota_class_set")?;
    let q = state
        .volumes
        .set_quota_class(&class, &updates)
        .await
        .or_api(SVC)?;
    ok(json!({ "quota_class_set": q }))
}

pub(crate) async fn update_quotas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((project, target)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    admin(&ctx, "volume_extension:quotas:update")?;
    let doc = body::json(SVC, &raw)?;
    let updates = quota_updates(&doc, "quota_set")?;
    let q = state
        .volumes
        .set_volume_quotas(&target, &updates)
        .await
        .or_api(SVC)?;
    ok(json!({"quota_set": q}))
}

pub(crate) async fn limits(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let p = ctx
        .project_id()
        .ok_or_else(|| ApiError::new(SVC, 403, "A project-scoped token is required."))?;
    let absolute = state.volumes.volume_limits(p).await.or_api(SVC)?;
    ok(json!({"limits": {"rate": [], "absolute": absolute}}))
}

pub(crate) async fn availability_zones(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    let zones = state.volumes.availability_zones().await.or_api(SVC)?;
    ok(
        json!({"availabilityZoneInfo": zones.iter().map(|(name, up)| json!({"zoneName": name, "zoneState": {"available": up}})).collect::<Vec<_>>()}),
    )
}

/// One entry of `GET /extensions`.
#[derive(Debug, serde::Serialize)]
struct ApiExtension {
    alias: &'static str,
    description: &'static str,
    links: [(); 0],
    name: &'static str,
    updated: &'static str,
}

const fn ext(
    alias: &'static str,
    name: &'static str,
    description: &'static str,
    updated: &'static str,
) -> ApiExtension {
    ApiExtension {
        alias,
        description,
        links: [],
        name,
        updated,
    }
}

/// The Cinder API extensions whose behaviour this gateway has (Cinder's names, descriptions and
/// dates); those it lacks (hosts, backups, transfers, QoS, manage/unmanage, services, …) are
/// not announced.
const EXTENSIONS: &[ApiExtension] = &[
    ext(
        "os-vol-tenant-attr",
        "VolumeTenantAttribute",
        "Expose the internal project_id as an attribute of a volume.",
        "2011-11-03T00:00:00+00:00",
    ),
    ext(
        "os-quota-sets",
        "Quotas",
        "Quota management support.",
        "2011-08-08T00:00:00+00:00",
    ),
    ext(
        "os-availability-zone",
        "AvailabilityZones",
        "Describe Availability Zones.",
        "2013-06-27T00:00:00+00:00",
    ),
    ext(
        "os-volume-actions",
        "VolumeActions",
        "Enable volume actions.",
        "2012-05-31T00:00:00+00:00",
    ),
    ext(
        "os-vol-host-attr",
        "VolumeHostAttribute",
        "Expose host as an attribute of a volume.",
        "2011-11-03T00:00:00+00:00",
    ),
    ext(
        "os-vol-image-meta",
        "VolumeImageMetadata",
        "Show image metadata associated with the volume.",
        "2012-12-07T00:00:00+00:00",
    ),
    ext(
        "os-types-manage",
        "TypesManage",
        "Types manage support.",
        "2011-08-24T00:00:00+00:00",
    ),
    ext(
        "os-types-extra-specs",
        "TypesExtraSpecs",
        "Type extra specs support.",
        "2011-08-24T00:00:00+00:00",
    ),
    ext(
        "os-used-limits",
        "UsedLimits",
        "Provide data on limited resources that are being used.",
        "2013-10-03T00:00:00+00:00",
    ),
    ext(
        "os-vol-mig-status-attr",
        "VolumeMigStatusAttribute",
        "Expose migration_status as an attribute of a volume.",
        "2013-08-08T00:00:00+00:00",
    ),
    ext(
        "os-volume-type-access",
        "VolumeTypeAccess",
        "Volume type access support.",
        "2014-06-26T00:00:00+00:00",
    ),
    ext(
        "os-extended-snapshot-attributes",
        "ExtendedSnapshotAttributes",
        "Extended SnapshotAttributes support.",
        "2012-06-19T00:00:00+00:00",
    ),
    ext(
        "os-admin-actions",
        "AdminActions",
        "Enable admin actions.",
        "2012-08-25T00:00:00+00:00",
    ),
    ext(
        "OS-SCH-HNT",
        "SchedulerHints",
        "Pass arbitrary key/value pairs to the scheduler.",
        "2013-04-18T00:00:00+00:00",
    ),
];

pub(crate) async fn extensions(Auth(ctx): Auth, Path(project): Path<String>) -> ApiResult {
    check_project(&ctx, &project)?;
    ok(json!({ "extensions": EXTENSIONS }))
}
