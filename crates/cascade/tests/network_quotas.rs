//! Neutron quotas per project through a real `cascade serve`: admins set and reset overrides,
//! creates beyond the limit get Neutron's 409 `OverQuota`, tenants may only read their own.

mod support;

use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test]
async fn quotas_are_set_enforced_and_reset() {
    let db = Db::sqlite();
    let c = Cascade::start(&db, "").await;
    let admin = admin_token(&c.url).await;
    let v3 = format!("{}/identity/v3", c.url);
    let r = call(
        Method::POST,
        &format!("{v3}/projects"),
        Some(&admin),
        Some(json!({"project": {"name": "q"}})),
        &[],
    )
    .await;
    let project = r.body["project"]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::POST,
        &format!("{v3}/users"),
        Some(&admin),
        Some(json!({"user": {"name": "qu", "password": "pw", "default_project_id": project}})),
        &[],
    )
    .await;
    let user = r.body["user"]["id"].as_str().unwrap().to_string();
    let member = call(
        Method::GET,
        &format!("{v3}/roles?name=member"),
        Some(&admin),
        None,
        &[],
    )
    .await
    .body["roles"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    call(
        Method::PUT,
        &format!("{v3}/projects/{project}/users/{user}/roles/{member}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let (tenant, _) = token(&c.url, "qu", "pw", Some("q")).await;
    let quotas = format!("{}/network/v2.0/quotas/{project}", c.url);

    let r = call(Method::GET, &quotas, Some(&tenant), None, &[]).await;
    assert_eq!(r.body["quota"]["network"], 100);
    let r = call(
        Method::PUT,
        &quotas,
        Some(&tenant),
        Some(json!({"quota": {"network": 1}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 403, "tenants cannot raise their own quota");
    let r = call(
        Method::PUT,
        &quotas,
        Some(&admin),
        Some(json!({"quota": {"network": 1}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota"]["network"], 1);
    let r = call(
        Method::PUT,
        &quotas,
        Some(&admin),
        Some(json!({"quota": {"bogus": 1}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        Method::PUT,
        &quotas,
        Some(&admin),
        Some(json!({"quota": {"network": -5}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);

    let nets = format!("{}/network/v2.0/networks", c.url);
    let r = call(
        Method::POST,
        &nets,
        Some(&tenant),
        Some(json!({"network": {"name": "a"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = call(
        Method::POST,
        &nets,
        Some(&tenant),
        Some(json!({"network": {"name": "b"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["NeutronError"]["type"], "OverQuota");
    let r = call(
        Method::GET,
        &format!("{quotas}/details"),
        Some(&tenant),
        None,
        &[],
    )
    .await;
    assert_eq!(
        r.body["quota"]["network"],
        json!({"limit": 1, "used": 1, "reserved": 0})
    );

    assert_eq!(
        call(Method::DELETE, &quotas, Some(&admin), None, &[])
            .await
            .status,
        204
    );
    let r = call(
        Method::POST,
        &nets,
        Some(&tenant),
        Some(json!({"network": {"name": "b"}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "back to the default limit: {}", r.text);
    drop(c);
    db.cleanup().await;
}
