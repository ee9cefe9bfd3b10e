//! The embedded Keystone's project tags, project name limits and token rescoping, as Keystone
//! does them (Tempest's `test_project_tags`, `test_projects_negative`, `test_rescope_token`),
//! through a real `cascade serve` process.

mod support;

use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test]
async fn project_tags_and_name_limits() {
    let db = Db::sqlite();
    let c = Cascade::start(&db, "").await;
    let admin = admin_token(&c.url).await;
    let v3 = format!("{}/identity/v3", c.url);
    let projects = format!("{v3}/projects");
    let create = |name: String| {
        call(
            Method::POST,
            &projects,
            Some(&admin),
            Some(json!({"project": {"name": name}})),
            &[],
        )
    };
    // Keystone: a project name has at most 64 characters.
    let r = create("a".repeat(65)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("too long"), "{}", r.text);
    let r = create("a".repeat(64)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["project"]["id"].as_str().unwrap().to_string();
    let tags = format!("{v3}/projects/{id}/tags");

    let r = call(
        Method::PUT,
        &format!("{tags}/blue"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/tags/blue")
    );
    let r = call(
        Method::GET,
        &format!("{tags}/blue"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(Method::GET, &format!("{tags}/red"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 404);
    let r = call(
        Method::PUT,
        &tags,
        Some(&admin),
        Some(json!({"tags": ["a", "b", "c", "a"]})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["tags"], json!(["a", "b", "c"]));
    let r = call(Method::GET, &tags, Some(&admin), None, &[]).await;
    assert_eq!(r.body["tags"], json!(["a", "b", "c"]));
    // The project's own view carries the same tags.
    let r = call(
        Method::GET,
        &format!("{v3}/projects/{id}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["project"]["tags"], json!(["a", "b", "c"]));
    let r = call(
        Method::DELETE,
        &format!("{tags}/a"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(
        Method::DELETE,
        &format!("{tags}/a"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        Method::PUT,
        &format!("{tags}/x%2Cy"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = call(Method::DELETE, &tags, Some(&admin), None, &[]).await;
    assert_eq!(r.status, 204);
    let r = call(Method::GET, &tags, Some(&admin), None, &[]).await;
    assert_eq!(r.body["tags"], json!([]));

    // Changing tags needs admin; a member of another project cannot read them.
    let demo = tenant(&c.url, &admin, "tags-other", "tags-bob", Some("member"))
        .await
        .token;
    let r = call(Method::PUT, &format!("{tags}/z"), Some(&demo), None, &[]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = call(Method::GET, &tags, Some(&demo), None, &[]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    db.cleanup().await;
}

#[tokio::test]
async fn rescoped_token_keeps_methods_expiry_and_parent() {
    let db = Db::sqlite();
    let c = Cascade::start(&db, "").await;
    let admin = admin_token(&c.url).await;
    // A user without a default project, with the role of another member on project "rescope".
    let t = tenant(&c.url, &admin, "rescope", "rescope-owner", Some("member")).await;
    let v3 = format!("{}/identity/v3", c.url);
    let r = call(
        Method::POST,
        &format!("{v3}/users"),
        Some(&admin),
        Some(json!({"user": {"name": "rescope-user", "password": "rescope-pw"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let user_id = r.body["user"]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::GET,
        &format!("{v3}/roles?name=member"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let role = r.body["roles"][0]["id"].as_str().unwrap().to_string();
    let grant = format!(
        "{v3}/projects/{}/users/{user_id}/roles/{role}",
        t.project_id
    );
    let r = call(Method::PUT, &grant, Some(&admin), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let url = format!("{}/identity/v3/auth/tokens", c.url);
    let r = call(
        Method::POST,
        &url,
        None,
        Some(
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "rescope-user", "domain": {"id": "default"}, "password": "rescope-pw"}}}}}),
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["token"].get("project").is_none());
    let unscoped = r.headers["x-subject-token"].to_str().unwrap().to_string();
    let expires = r.body["token"]["expires_at"].clone();
    let rescope = || {
        call(
            Method::POST,
            &url,
            None,
            Some(
                json!({"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped}},
                "scope": {"project": {"name": "rescope", "domain": {"id": "default"}}}}}),
            ),
            &[],
        )
    };
    let r = rescope().await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["token"]["methods"], json!(["password", "token"]));
    assert_eq!(r.body["token"]["expires_at"], expires);
    assert_eq!(r.body["token"]["project"]["name"], "rescope");
    let scoped = r.headers["x-subject-token"].to_str().unwrap().to_string();
    // Revoking the scoped token leaves the unscoped one usable.
    let r = call(
        Method::DELETE,
        &url,
        Some(&scoped),
        None,
        &[("X-Subject-Token", &scoped)],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = rescope().await;
    assert_eq!(r.status, 201, "{}", r.text);
    db.cleanup().await;
}
