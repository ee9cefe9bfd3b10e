//! The embedded Keystone through a real `cascade serve` process, on SQLite and PostgreSQL:
//! version discovery, token issue/validate/revoke, scopes, expiry, admin CRUD, policy and the
//! Keystone error bodies for bad input.

mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::*;

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { let db = super::Db::sqlite(); super::$case(&db).await; db.cleanup().await; } )* }
        mod postgres { $( #[tokio::test] async fn $case() { let db = super::Db::postgres(); super::$case(&db).await; db.cleanup().await; } )* }
    };
}

both_backends!(
    discovery_and_tokens,
    crud_and_role_assignment,
    bad_input_and_policy,
    tokens_expire
);

async fn discovery_and_tokens(db: &Db) {
    let c = Cascade::start(db, "").await;
    let r = call(Method::GET, &format!("{}/identity", c.url), None, None, &[]).await;
    assert_eq!(r.status, 300);
    assert_eq!(r.body["versions"]["values"][0]["id"], "v3.14");
    let r = call(
        Method::GET,
        &format!("{}/identity/v3", c.url),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["version"]["links"][0]["href"],
        format!("{}/identity/v3/", c.url)
    );
    let rid = r.headers["x-openstack-request-id"].to_str().unwrap();
    assert!(rid.starts_with("req-") && rid.len() == 40, "{rid}");

    let (token, r) = token(&c.url, "admin", ADMIN_PASSWORD, Some("admin")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!token.is_empty());
    let t = &r.body["token"];
    assert_eq!(t["user"]["name"], "admin");
    assert_eq!(t["project"]["name"], "admin");
    assert_eq!(t["project"]["domain"]["id"], "default");
    assert!(
        t["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "admin")
    );
    assert!(t["expires_at"].as_str().unwrap().ends_with('Z'));
    let types: Vec<_> = t["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "identity",
            "compute",
            "network",
            "image",
            "block-storage",
            "volumev3"
        ]
    );
    let project_id = t["project"]["id"].as_str().unwrap();
    let volume = t["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "volumev3")
        .unwrap();
    assert_eq!(
        volume["endpoints"][0]["url"],
        format!("{}/volume/v3/{project_id}", c.url)
    );
    for s in t["catalog"].as_array().unwrap() {
        assert!(
            s["endpoints"][0]["url"]
                .as_str()
                .unwrap()
                .starts_with(&c.url),
            "catalog points at Cascade only"
        );
    }

    // Validate (GET and HEAD), the auth/* helpers, then revoke.
    let tokens = format!("{}/identity/v3/auth/tokens", c.url);
    let r = call(
        Method::GET,
        &tokens,
        Some(&token),
        None,
        &[("x-subject-token", &token)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["token"]["user"]["name"], "admin");
    let r = call(
        Method::HEAD,
        &tokens,
        Some(&token),
        None,
        &[("x-subject-token", &token)],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        Method::GET,
        &format!("{}/identity/v3/auth/projects", c.url),
        Some(&token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["projects"][0]["name"], "admin");
    let r = call(
        Method::GET,
        &format!("{}/identity/v3/auth/catalog", c.url),
        Some(&token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["catalog"].as_array().unwrap().len(), 6);

    // Unscoped and domain-scoped tokens; rescoping with the token method.
    let unscoped = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}}, "scope": "unscoped"}});
    let r = call(Method::POST, &tokens, None, Some(unscoped), &[]).await;
    assert_eq!(r.status, 201);
    assert!(r.body["token"].get("project").is_none() && r.body["token"].get("catalog").is_none());
    let unscoped_token = r.headers["x-subject-token"].to_str().unwrap().to_string();
    let rescope = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped_token}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}});
    let r = call(Method::POST, &tokens, None, Some(rescope), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Keystone: a token made from a token carries the parent's methods plus "token".
    assert_eq!(r.body["token"]["methods"], json!(["password", "token"]));
    assert_eq!(r.body["token"]["project"]["name"], "admin");
    let r = call(
        Method::POST,
        &tokens,
        None,
        Some(
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": ADMIN_PASSWORD}}},
        "scope": {"domain": {"id": "default"}}}}),
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 401, "admin has no role on the domain: {}", r.text);

    let r = call(
        Method::DELETE,
        &tokens,
        Some(&token),
        None,
        &[("x-subject-token", &token)],
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(
        Method::GET,
        &format!("{}/identity/v3/projects", c.url),
        Some(&token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 401, "a revoked token no longer works");
    assert_eq!(r.body["error"]["code"], 401);
    assert_eq!(r.body["error"]["title"], "Unauthorized");
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Keystone uri=")
    );
}

async fn crud_and_role_assignment(db: &Db) {
    let c = Cascade::start(db, "").await;
    let admin = admin_token(&c.url).await;
    let v3 = format!("{}/identity/v3", c.url);
    let r = call(
        Method::POST,
        &format!("{v3}/projects"),
        Some(&admin),
        Some(json!({"project": {"name": "alpha", "description": "A"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let project_id = r.body["project"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["project"]["domain_id"], "default");
    let r = call(
        Method::POST,
        &format!("{v3}/projects"),
        Some(&admin),
        Some(json!({"project": {"name": "alpha"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 409);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Duplicate entry")
    );

    let r = call(Method::POST, &format!("{v3}/users"), Some(&admin), Some(json!({"user": {"name": "alice", "password": "pw-alice", "default_project_id": project_id}})), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains("pw-alice") && r.body["user"].get("password").is_none());
    let user_id = r.body["user"]["id"].as_str().unwrap().to_string();

    // No role yet: scoping to alpha fails.
    let (_, r) = token(&c.url, "alice", "pw-alice", Some("alpha")).await;
    assert_eq!(r.status, 401);
    let r = call(
        Method::GET,
        &format!("{v3}/roles?name=member"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let member = r.body["roles"][0]["id"].as_str().unwrap().to_string();
    let assignment = format!("{v3}/projects/{project_id}/users/{user_id}/roles/{member}");
    assert_eq!(
        call(Method::PUT, &assignment, Some(&admin), None, &[])
            .await
            .status,
        204
    );
    assert_eq!(
        call(Method::HEAD, &assignment, Some(&admin), None, &[])
            .await
            .status,
        204
    );
    let r = call(
        Method::GET,
        &format!("{v3}/role_assignments?user.id={user_id}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(
        r.body["role_assignments"][0]["scope"]["project"]["id"],
        project_id.as_str()
    );

    let (alice, r) = token(&c.url, "alice", "pw-alice", Some("alpha")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["token"]["roles"][0]["name"], "member");
    // Without a scope, alice gets her default project.
    let (_, r) = token(&c.url, "alice", "pw-alice", None).await;
    assert_eq!(r.body["token"]["project"]["name"], "alpha");
    // A member is not an admin.
    let r = call(Method::GET, &format!("{v3}/users"), Some(&alice), None, &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["title"], "Forbidden");
    // But can read herself.
    assert_eq!(
        call(
            Method::GET,
            &format!("{v3}/users/{user_id}"),
            Some(&alice),
            None,
            &[]
        )
        .await
        .status,
        200
    );

    // Revoking the role invalidates her project token at once.
    assert_eq!(
        call(Method::DELETE, &assignment, Some(&admin), None, &[])
            .await
            .status,
        204
    );
    assert_eq!(
        call(
            Method::GET,
            &format!("{v3}/users/{user_id}"),
            Some(&alice),
            None,
            &[]
        )
        .await
        .status,
        401
    );
    assert_eq!(
        call(Method::DELETE, &assignment, Some(&admin), None, &[])
            .await
            .status,
        404
    );

    // Disabling a user kills its tokens; so does disabling its project.
    assert_eq!(
        call(Method::PUT, &assignment, Some(&admin), None, &[])
            .await
            .status,
        204
    );
    let (alice, _) = token(&c.url, "alice", "pw-alice", Some("alpha")).await;
    let r = call(
        Method::PATCH,
        &format!("{v3}/projects/{project_id}"),
        Some(&admin),
        Some(json!({"project": {"enabled": false}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        call(
            Method::GET,
            &format!("{v3}/users/{user_id}"),
            Some(&alice),
            None,
            &[]
        )
        .await
        .status,
        401
    );
    call(
        Method::PATCH,
        &format!("{v3}/projects/{project_id}"),
        Some(&admin),
        Some(json!({"project": {"enabled": true}})),
        &[],
    )
    .await;
    let (alice, _) = token(&c.url, "alice", "pw-alice", Some("alpha")).await;
    assert_eq!(
        call(
            Method::GET,
            &format!("{v3}/users/{user_id}"),
            Some(&alice),
            None,
            &[]
        )
        .await
        .status,
        200
    );
    let r = call(
        Method::PATCH,
        &format!("{v3}/users/{user_id}"),
        Some(&admin),
        Some(json!({"user": {"enabled": false}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        call(
            Method::GET,
            &format!("{v3}/users/{user_id}"),
            Some(&alice),
            None,
            &[]
        )
        .await
        .status,
        401
    );
    let (_, r) = token(&c.url, "alice", "pw-alice", Some("alpha")).await;
    assert_eq!(r.status, 401, "a disabled user cannot authenticate");

    // Deletes.
    assert_eq!(
        call(
            Method::DELETE,
            &format!("{v3}/users/{user_id}"),
            Some(&admin),
            None,
            &[]
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(
            Method::DELETE,
            &format!("{v3}/projects/{project_id}"),
            Some(&admin),
            None,
            &[]
        )
        .await
        .status,
        204
    );
    let r = call(
        Method::GET,
        &format!("{v3}/projects/{project_id}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body["error"]["message"],
        format!("Could not find project: {project_id}.")
    );
    let r = call(Method::GET, &format!("{v3}/roles"), Some(&admin), None, &[]).await;
    let names: Vec<_> = r.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["admin", "manager", "member", "reader", "service"]);
}

async fn bad_input_and_policy(db: &Db) {
    let c = Cascade::start(db, "").await;
    let tokens = format!("{}/identity/v3/auth/tokens", c.url);
    let client = reqwest::Client::new();
    let r = client
        .post(&tokens)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], 400);
    assert_eq!(body["error"]["title"], "Bad Request");

    let r = call(
        Method::POST,
        &tokens,
        None,
        Some(json!({"auth": {"identity": {"methods": "password"}}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 400, "wrong type: {}", r.text);
    let r = call(Method::POST, &tokens, None, Some(json!({"nope": 1})), &[]).await;
    assert_eq!(r.status, 400);
    let (_, r) = token(&c.url, "admin", "wrong-password", Some("admin")).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body["error"]["message"],
        "The request you have made requires authentication."
    );
    let (_, r) = token(&c.url, "nobody", "x", Some("admin")).await;
    assert_eq!(r.status, 401);

    let v3 = format!("{}/identity/v3", c.url);
    let r = call(Method::GET, &format!("{v3}/projects"), None, None, &[]).await;
    assert_eq!(r.status, 401, "missing token");
    let r = call(
        Method::GET,
        &format!("{v3}/projects"),
        Some("forged-token-value"),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 401, "forged token");
    let admin = admin_token(&c.url).await;
    let r = call(
        Method::POST,
        &format!("{v3}/projects"),
        Some(&admin),
        Some(json!({"project": {"name": ""}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        Method::POST,
        &format!("{v3}/projects"),
        Some(&admin),
        Some(json!({"project": {"name": 5}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        Method::POST,
        &format!("{v3}/users"),
        Some(&admin),
        Some(json!({"user": {"name": "x", "default_project_id": "missing"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        Method::GET,
        &format!("{v3}/users?name=x"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(
        r.body["users"].as_array().unwrap().len(),
        0,
        "nothing half-written"
    );
    let r = call(
        Method::GET,
        &format!("{}/identity/v3/nope", c.url),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"]["code"], 404);
}

async fn tokens_expire(db: &Db) {
    let c = Cascade::start(
        db,
        &format!("[identity]\nadmin_password = \"{ADMIN_PASSWORD}\"\ntoken_ttl_secs = 1\n"),
    )
    .await;
    let admin = admin_token(&c.url).await;
    let v3 = format!("{}/identity/v3", c.url);
    assert_eq!(
        call(
            Method::GET,
            &format!("{v3}/projects"),
            Some(&admin),
            None,
            &[]
        )
        .await
        .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        call(
            Method::GET,
            &format!("{v3}/projects"),
            Some(&admin),
            None,
            &[]
        )
        .await
        .status,
        401
    );
}

/// Tokens live in the shared database: one instance's token works on another, and a
/// revocation on one is seen by the other at once.
#[tokio::test]
async fn tokens_validate_across_instances_sharing_postgres() {
    let db = Db::postgres();
    let a = Cascade::start(&db, "").await;
    let b = Cascade::start(&db, "").await;
    let t = admin_token(&a.url).await;
    let r = call(
        Method::GET,
        &format!("{}/identity/v3/projects", b.url),
        Some(&t),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(
        Method::DELETE,
        &format!("{}/identity/v3/auth/tokens", b.url),
        Some(&t),
        None,
        &[("x-subject-token", &t)],
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        call(
            Method::GET,
            &format!("{}/identity/v3/projects", a.url),
            Some(&t),
            None,
            &[]
        )
        .await
        .status,
        401
    );
    drop((a, b));
    db.cleanup().await;
}
