//! Keystone application credentials of the embedded identity through a real `cascade serve`,
//! on SQLite and PostgreSQL: create (secret shown once), list and filter by name, show,
//! authenticate with id or name, roles narrowed to the credential's, expiry, restricted
//! credentials, other users kept out, and deletion revoking the credential's tokens.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { let db = super::Db::sqlite(); super::$case(&db).await; db.cleanup().await; } )* }
        mod postgres { $( #[tokio::test] async fn $case() { let db = super::Db::postgres(); super::$case(&db).await; db.cleanup().await; } )* }
    };
}

both_backends!(application_credentials);

async fn login(base: &str, method: Value) -> Reply {
    call(
        Method::POST,
        &format!("{base}/identity/v3/auth/tokens"),
        None,
        Some(json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": method,
        }}})),
        &[],
    )
    .await
}

fn subject(r: &Reply) -> String {
    r.headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn application_credentials(db: &Db) {
    let c = Cascade::start(db, "").await;
    let admin = admin_token(&c.url).await;
    let v3 = format!("{}/identity/v3", c.url);
    let alice = tenant(&c.url, &admin, "ac-team", "ac-alice", Some("member")).await;
    // Alice also reads: the credential will carry only "reader".
    let r = call(
        Method::GET,
        &format!("{v3}/roles?name=reader"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let reader = r.body["roles"][0]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::PUT,
        &format!(
            "{v3}/projects/{}/users/{}/roles/{reader}",
            alice.project_id, alice.user_id
        ),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (alice_token, _) = token(&c.url, "ac-alice", "pw", Some("ac-team")).await;
    let creds = format!("{v3}/users/{}/application_credentials", alice.user_id);

    // Create: 201, the secret once, the project of the token, only the roles asked for.
    let r = call(
        Method::POST,
        &creds,
        Some(&alice_token),
        Some(json!({"application_credential": {
            "name": "ci", "description": "for CI",
            "expires_at": "2099-01-02T03:04:05.123456",
            "roles": [{"name": "reader"}],
        }})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ac = &r.body["application_credential"];
    let (id, secret) = (
        ac["id"].as_str().unwrap().to_string(),
        ac["secret"].as_str().unwrap().to_string(),
    );
    assert_eq!(ac["project_id"], alice.project_id.as_str());
    assert_eq!(ac["expires_at"], "2099-01-02T03:04:05.123456");
    assert_eq!(ac["unrestricted"], false);
    let names: Vec<&str> = ac["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["reader"]);

    // A duplicate name is 409; a role Alice does not hold is refused.
    let r = call(
        Method::POST,
        &creds,
        Some(&alice_token),
        Some(json!({"application_credential": {"name": "ci"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = call(
        Method::POST,
        &creds,
        Some(&alice_token),
        Some(json!({"application_credential": {"name": "x", "roles": [{"name": "admin"}]}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = call(
        Method::POST,
        &creds,
        Some(&alice_token),
        Some(json!({"application_credential": {"name": "second"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Show has no secret; list has both, and filters by name.
    let r = call(
        Method::GET,
        &format!("{creds}/{id}"),
        Some(&alice_token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["application_credential"].get("secret").is_none());
    let r = call(Method::GET, &creds, Some(&alice_token), None, &[]).await;
    assert_eq!(
        r.body["application_credentials"].as_array().unwrap().len(),
        2
    );
    let r = call(
        Method::GET,
        &format!("{creds}?name=second"),
        Some(&alice_token),
        None,
        &[],
    )
    .await;
    let listed = r.body["application_credentials"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "second");

    // Another tenant sees nothing of Alice's credentials.
    let bob = tenant(&c.url, &admin, "ac-other", "ac-bob", Some("member")).await;
    for (m, url) in [
        (Method::GET, creds.clone()),
        (Method::GET, format!("{creds}/{id}")),
        (Method::DELETE, format!("{creds}/{id}")),
    ] {
        let r = call(m.clone(), &url, Some(&bob.token), None, &[]).await;
        assert_eq!(r.status, 403, "{m} {url}: {}", r.text);
    }

    // Login by id and by name: a token on Alice's project with only the reader role.
    let r = login(&c.url, json!({"id": id, "secret": secret})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ac_token = subject(&r);
    let t = &r.body["token"];
    assert_eq!(t["project"]["id"], alice.project_id.as_str());
    assert_eq!(t["methods"], json!(["application_credential"]));
    assert_eq!(t["application_credential"]["id"], id.as_str());
    assert_eq!(t["application_credential"]["restricted"], true);
    let roles: Vec<&str> = t["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["reader"]);
    let r = login(
        &c.url,
        json!({"name": "ci", "secret": secret, "user": {"id": alice.user_id}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = login(&c.url, json!({"name": "ci", "secret": secret, "user": {"name": "ac-alice", "domain": {"id": "default"}}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // A wrong secret, an unknown id, or asking for a scope: 401.
    assert_eq!(
        login(&c.url, json!({"id": id, "secret": "wrong"}))
            .await
            .status,
        401
    );
    assert_eq!(
        login(&c.url, json!({"id": "nope", "secret": secret}))
            .await
            .status,
        401
    );
    let r = call(
        Method::POST,
        &format!("{v3}/auth/tokens"),
        None,
        Some(json!({"auth": {
            "identity": {"methods": ["application_credential"], "application_credential": {"id": id, "secret": secret}},
            "scope": {"project": {"id": bob.project_id}},
        }})),
        &[],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);

    // The token works, and validates with the credential in it.
    let r = call(
        Method::GET,
        &format!("{v3}/auth/tokens"),
        Some(&admin),
        None,
        &[("x-subject-token", &ac_token)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["token"]["application_credential"]["name"], "ci");
    // A restricted credential's token may not make more credentials nor delete any.
    let r = call(
        Method::POST,
        &creds,
        Some(&ac_token),
        Some(json!({"application_credential": {"name": "more"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);

    // Deleting the credential revokes its tokens; then it cannot log in.
    let r = call(
        Method::DELETE,
        &format!("{creds}/{id}"),
        Some(&alice_token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = call(
        Method::GET,
        &format!("{v3}/auth/tokens"),
        Some(&admin),
        None,
        &[("x-subject-token", &ac_token)],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        login(&c.url, json!({"id": id, "secret": secret}))
            .await
            .status,
        401
    );
    let r = call(
        Method::GET,
        &format!("{creds}/{id}"),
        Some(&alice_token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);

    // An expiry in the past is refused.
    let r = call(
        Method::POST,
        &creds,
        Some(&alice_token),
        Some(
            json!({"application_credential": {"name": "old", "expires_at": "2001-01-01T00:00:00"}}),
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
}
