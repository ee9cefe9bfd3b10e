//! Glance's metadata definitions API at `/image/v2/metadefs`: namespaces (list with
//! Glance's `first`/`next`/`schema` links, create 201 with `Location`, show, full-replace
//! update, delete 204), resource types and their associations with a namespace, and a
//! namespace's objects, property types and tags (one by one, all at once, and emptied).
//! Writes are admin-only by route policy (`metadef_admin`); reads are filtered by the
//! namespace's visibility in [`cascade_core::image::metadefs`]. Errors are Glance's pages.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use cascade_core::image::metadefs::{
    AssociationDoc, AssociationView, ItemKind, NamespaceDoc, NamespaceView, ObjectDoc, ObjectView,
    PropertyMap, PropertyType, ResourceTypeView, TagDoc, TagView,
};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;

use super::{ApiResult, SVC, caller, query_pairs};
use crate::auth::Auth;
use crate::body;
use crate::error::OrApi;
use crate::state::AppState;

pub(crate) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/v2/metadefs/resource_types", get(list_resource_types))
        .route(
            "/v2/metadefs/namespaces",
            get(list_namespaces).post(create_namespace),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}",
            get(show_namespace)
                .put(update_namespace)
                .delete(delete_namespace),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/resource_types",
            get(list_associations).post(add_association),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/resource_types/{rt}",
            axum::routing::delete(remove_association),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/objects",
            get(list_objects).post(create_object).delete(delete_objects),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/objects/{name}",
            get(show_object).put(update_object).delete(delete_object),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/properties",
            get(list_properties)
                .post(create_property)
                .delete(delete_properties),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/properties/{name}",
            get(show_property)
                .put(update_property)
                .delete(delete_property),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/tags",
            get(list_tags).post(create_tags).delete(delete_tags),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/tags/{name}",
            get(show_tag)
                .post(create_tag)
                .put(update_tag)
                .delete(delete_tag),
        )
        .route(
            "/v2/schemas/metadefs/{name}",
            get(super::metadef_schemas::show),
        )
}

fn created<T: Serialize>(body: &T, location: Option<String>) -> Response {
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Some(loc) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

fn ok<T: Serialize>(body: &T) -> ApiResult {
    Ok(Json(body).into_response())
}

fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn resource_type_filter(q: Option<&str>) -> Option<String> {
    query_pairs(q)
        .into_iter()
        .find(|(k, _)| k == "resource_type")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[derive(Serialize)]
struct NamespacesBody {
    namespaces: Vec<NamespaceView>,
    first: String,
    schema: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

async fn list_namespaces(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let caller = caller(&auth)?;
    let mut params = query_pairs(q.as_deref());
    let page = state
        .images
        .metadefs()
        .list_namespaces(&caller, &params)
        .await
        .or_api(SVC)?;
    params.retain(|(k, _)| k != "marker");
    let encode = |params: &[(String, String)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish()
    };
    let first = if params.is_empty() {
        "/v2/metadefs/namespaces".to_string()
    } else {
        format!("/v2/metadefs/namespaces?{}", encode(&params))
    };
    let next = page.next_marker.map(|m| {
        params.push(("marker".into(), m));
        format!("/v2/metadefs/namespaces?{}", encode(&params))
    });
    ok(&NamespacesBody {
        namespaces: page.namespaces,
        first,
        schema: "/v2/schemas/metadefs/namespaces",
        next,
    })
}

async fn create_namespace(State(state): State<AppState>, auth: Auth, raw: Bytes) -> ApiResult {
    let caller = caller(&auth)?;
    let doc = NamespaceDoc::parse(&body::json(SVC, &raw)?).or_api(SVC)?;
    let ns = state
        .images
        .metadefs()
        .create_namespace(&caller, doc)
        .await
        .or_api(SVC)?;
    let location = format!("{}/image{}", state.public_url, ns.self_link);
    Ok(created(&ns, Some(location)))
}

async fn show_namespace(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let caller = caller(&auth)?;
    let rt = resource_type_filter(q.as_deref());
    let ns = state
        .images
        .metadefs()
        .show_namespace(&caller, &ns, rt.as_deref())
        .await
        .or_api(SVC)?;
    ok(&ns)
}

async fn update_namespace(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let doc = NamespaceDoc::parse(&body::json(SVC, &raw)?).or_api(SVC)?;
    let ns = state
        .images
        .metadefs()
        .update_namespace(&caller, &ns, doc)
        .await
        .or_api(SVC)?;
    ok(&ns)
}

async fn delete_namespace(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
) -> ApiResult {
    let caller = caller(&auth)?;
    state
        .images
        .metadefs()
        .delete_namespace(&caller, &ns)
        .await
        .or_api(SVC)?;
    no_content()
}

#[derive(Serialize)]
struct ResourceTypesBody {
    resource_types: Vec<ResourceTypeView>,
}

async fn list_resource_types(State(state): State<AppState>, auth: Auth) -> ApiResult {
    caller(&auth)?;
    let resource_types = state
        .images
        .metadefs()
        .list_resource_types()
        .await
        .or_api(SVC)?;
    ok(&ResourceTypesBody { resource_types })
}

#[derive(Serialize)]
struct AssociationsBody {
    resource_type_associations: Vec<AssociationView>,
}

async fn list_associations(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
) -> ApiResult {
    let caller = caller(&auth)?;
    let resource_type_associations = state
        .images
        .metadefs()
        .list_associations(&caller, &ns)
        .await
        .or_api(SVC)?;
    ok(&AssociationsBody {
        resource_type_associations,
    })
}

async fn add_association(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let doc = AssociationDoc::parse(&body::json(SVC, &raw)?).or_api(SVC)?;
    let a = state
        .images
        .metadefs()
        .add_association(&caller, &ns, doc)
        .await
        .or_api(SVC)?;
    Ok(created(&a, None))
}

async fn remove_association(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, rt)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    state
        .images
        .metadefs()
        .remove_association(&caller, &ns, &rt)
        .await
        .or_api(SVC)?;
    no_content()
}

#[derive(Serialize)]
struct ObjectsBody {
    objects: Vec<ObjectView>,
    schema: &'static str,
}

async fn list_objects(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let caller = caller(&auth)?;
    let params = query_pairs(q.as_deref());
    let objects = state
        .images
        .metadefs()
        .list_objects(&caller, &ns, &params)
        .await
        .or_api(SVC)?;
    // Glance's link, without its leading slash.
    ok(&ObjectsBody {
        objects,
        schema: "v2/schemas/metadefs/objects",
    })
}

async fn create_object(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let doc = ObjectDoc::parse(&body::json(SVC, &raw)?).or_api(SVC)?;
    let o = state
        .images
        .metadefs()
        .create_object(&caller, &ns, doc)
        .await
        .or_api(SVC)?;
    Ok(created(&o, None))
}

async fn show_object(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    let o = state
        .images
        .metadefs()
        .show_object(&caller, &ns, &name)
        .await
        .or_api(SVC)?;
    ok(&o)
}

async fn update_object(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, name)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let doc = ObjectDoc::parse(&body::json(SVC, &raw)?).or_api(SVC)?;
    let o = state
        .images
        .metadefs()
        .update_object(&caller, &ns, &name, doc)
        .await
        .or_api(SVC)?;
    ok(&o)
}

async fn delete_object(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    state
        .images
        .metadefs()
        .delete_object(&caller, &ns, &name)
        .await
        .or_api(SVC)?;
    no_content()
}

async fn delete_all(state: &AppState, auth: &Auth, ns: &str, kind: ItemKind) -> ApiResult {
    let caller = caller(auth)?;
    state
        .images
        .metadefs()
        .delete_all(&caller, ns, kind)
        .await
        .or_api(SVC)?;
    no_content()
}

async fn delete_objects(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
) -> ApiResult {
    delete_all(&state, &auth, &ns, ItemKind::Object).await
}

async fn delete_properties(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
) -> ApiResult {
    delete_all(&state, &auth, &ns, ItemKind::Property).await
}

async fn delete_tags(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
) -> ApiResult {
    delete_all(&state, &auth, &ns, ItemKind::Tag).await
}

#[derive(Serialize)]
struct PropertiesBody {
    properties: PropertyMap,
}

async fn list_properties(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
) -> ApiResult {
    let caller = caller(&auth)?;
    let properties: BTreeMap<String, PropertyType> = state
        .images
        .metadefs()
        .list_properties(&caller, &ns)
        .await
        .or_api(SVC)?;
    ok(&PropertiesBody { properties })
}

async fn create_property(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let doc = PropertyType::parse(&body::json(SVC, &raw)?, true).or_api(SVC)?;
    let p = state
        .images
        .metadefs()
        .create_property(&caller, &ns, doc)
        .await
        .or_api(SVC)?;
    Ok(created(&p, None))
}

async fn show_property(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let caller = caller(&auth)?;
    let rt = resource_type_filter(q.as_deref());
    let p = state
        .images
        .metadefs()
        .show_property(&caller, &ns, &name, rt.as_deref())
        .await
        .or_api(SVC)?;
    ok(&p)
}

async fn update_property(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, name)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let doc = PropertyType::parse(&body::json(SVC, &raw)?, true).or_api(SVC)?;
    let p = state
        .images
        .metadefs()
        .update_property(&caller, &ns, &name, doc)
        .await
        .or_api(SVC)?;
    ok(&p)
}

async fn delete_property(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    state
        .images
        .metadefs()
        .delete_property(&caller, &ns, &name)
        .await
        .or_api(SVC)?;
    no_content()
}

#[derive(Serialize)]
struct TagsBody {
    tags: Vec<TagView>,
}

async fn list_tags(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let caller = caller(&auth)?;
    let params = query_pairs(q.as_deref());
    let tags = state
        .images
        .metadefs()
        .list_tags(&caller, &ns, &params)
        .await
        .or_api(SVC)?;
    ok(&TagsBody { tags })
}

async fn create_tags(
    State(state): State<AppState>,
    auth: Auth,
    Path(ns): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let docs = TagDoc::parse_list(&body::json(SVC, &raw)?).or_api(SVC)?;
    let names: Vec<String> = docs.into_iter().map(|t| t.name).collect();
    // oslo's bool_from_string: only these spellings are true.
    let append = headers
        .get("x-openstack-append")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "t" | "true" | "on" | "y" | "yes"
            )
        })
        .unwrap_or(false);
    let tags = state
        .images
        .metadefs()
        .create_tags(&caller, &ns, &names, append)
        .await
        .or_api(SVC)?;
    Ok(created(&TagsBody { tags }, None))
}

async fn create_tag(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    let t = state
        .images
        .metadefs()
        .create_tag(&caller, &ns, &name)
        .await
        .or_api(SVC)?;
    Ok(created(&t, None))
}

async fn show_tag(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    let t = state
        .images
        .metadefs()
        .show_tag(&caller, &ns, &name)
        .await
        .or_api(SVC)?;
    ok(&t)
}

async fn update_tag(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, name)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let caller = caller(&auth)?;
    let doc = TagDoc::parse(&body::json(SVC, &raw)?).or_api(SVC)?;
    let t = state
        .images
        .metadefs()
        .update_tag(&caller, &ns, &name, &doc.name)
        .await
        .or_api(SVC)?;
    ok(&t)
}

async fn delete_tag(
    State(state): State<AppState>,
    auth: Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    let caller = caller(&auth)?;
    state
        .images
        .metadefs()
        .delete_tag(&caller, &ns, &name)
        .await
        .or_api(SVC)?;
    no_content()
}
