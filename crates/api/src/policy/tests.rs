//! Unit tests of the policy layer: the router's inventory is complete and covered, and each rule
//! admits exactly whom it should.

use std::collections::{BTreeMap, HashMap};

use cascade_core::identity::AuthContext;
use cascade_model::identity::{IdName, TokenProject, TokenUser};
use http::Method;

use super::*;

fn inventory() -> Vec<(Method, String)> {
    route_inventory(&crate::stack::routes(true))
}

#[test]
fn the_inventory_reads_every_service_from_the_router() {
    let inv = inventory();
    let has = |m: Method, p: &str| inv.iter().any(|(im, ip)| *im == m && ip == p);
    assert!(has(Method::GET, "/compute/v2.1/servers"), "{inv:?}");
    assert!(has(Method::POST, "/compute/v2.1/servers"));
    assert!(has(Method::DELETE, "/compute/v2.1/servers/{id}"));
    assert!(has(Method::PUT, "/network/v2.0/{coll}/{id}"));
    assert!(has(Method::PATCH, "/image/v2/images/{id}"));
    assert!(has(
        Method::POST,
        "/volume/v3/{project_id}/volumes/{id}/action"
    ));
    assert!(has(Method::POST, "/identity/v3/auth/tokens"));
    assert!(has(Method::DELETE, "/v1.0/pods/{id}"));
    assert!(has(Method::GET, "/metrics"));
    assert!(!has(Method::POST, "/compute/v2.1/servers/detail"));
    assert!(inv.len() > 150, "only {} routes read", inv.len());
}

#[test]
fn no_route_without_a_rule() {
    let inv = inventory();
    let policy = Policy::new(&inv, &BTreeMap::new(), None).expect("every route has a rule");
    for (m, p) in &inv {
        assert!(policy.rule_of(m, p).is_some(), "{m} {p} has no rule");
    }
    // Every rule in the table names a route that exists (no stale entries), except Neutron's
    // collection-specific ones, which refine `{coll}`.
    let stale: Vec<String> = default_rules()
        .filter(|r| {
            !(inv.iter().any(|(m, p)| *m == r.method && p == r.path)
                || r.path.starts_with("/network/v2.0/") && !r.path.contains("{coll}"))
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(stale.is_empty(), "rules that name no route: {stale:?}");
}

#[test]
fn a_route_without_a_rule_refuses_the_policy() {
    let mut inv = inventory();
    inv.push((Method::POST, "/compute/v2.1/os-made-up".into()));
    let err = Policy::new(&inv, &BTreeMap::new(), None).unwrap_err();
    assert!(err.0.contains("POST /compute/v2.1/os-made-up"), "{err}");
}

#[test]
fn overrides_apply_by_action_and_bad_names_are_refused() {
    let inv = inventory();
    let mut o = BTreeMap::new();
    o.insert(
        "os_compute_api:servers:index".to_string(),
        "admin_only".to_string(),
    );
    o.insert("create_network".to_string(), "deny".to_string());
    let p = Policy::new(&inv, &o, None).unwrap();
    let none = HashMap::new();
    let d = p
        .decide(&Method::GET, "/compute/v2.1/servers", &none)
        .unwrap();
    assert_eq!(d.rule, Rule::AdminOnly);
    let coll = HashMap::from([("coll".to_string(), "networks".to_string())]);
    let d = p
        .decide(&Method::POST, "/network/v2.0/{coll}", &coll)
        .unwrap();
    assert_eq!((d.action.as_str(), d.rule), ("create_network", Rule::Deny));
    let d = p
        .decide(&Method::GET, "/network/v2.0/{coll}", &coll)
        .unwrap();
    assert_eq!(
        (d.action.as_str(), d.rule),
        ("get_network", Rule::ProjectReader)
    );
    o.insert("x".into(), "everyone".into());
    assert!(Policy::new(&inv, &o, None).is_err());
}

#[test]
fn neutron_collection_specific_rules_win() {
    let p = Policy::new(&inventory(), &BTreeMap::new(), None).unwrap();
    let params = HashMap::from([
        ("coll".to_string(), "quotas".to_string()),
        ("id".to_string(), "p1".to_string()),
    ]);
    let d = p
        .decide(&Method::PUT, "/network/v2.0/{coll}/{id}", &params)
        .unwrap();
    assert_eq!(
        (d.action.as_str(), d.rule),
        ("update_quota", Rule::AdminOnly)
    );
    let d = p
        .decide(&Method::GET, "/network/v2.0/{coll}/{id}", &params)
        .unwrap();
    assert_eq!(d.target, Target::Project("id"));
    let ports = HashMap::from([("coll".to_string(), "ports".to_string())]);
    let d = p
        .decide(&Method::DELETE, "/network/v2.0/{coll}/{id}", &ports)
        .unwrap();
    assert_eq!(
        (d.action.as_str(), d.rule),
        ("delete_port", Rule::ProjectMember)
    );
    let pol = HashMap::from([("coll".to_string(), "qos-policies".to_string())]);
    let d = p
        .decide(&Method::GET, "/network/v2.0/{coll}", &pol)
        .unwrap();
    assert_eq!(d.action, "get_qos_policy");
}

fn ctx(project: Option<&str>, roles: &[&str]) -> AuthContext {
    let now = chrono::Utc::now();
    AuthContext {
        token: "t".into(),
        user: TokenUser {
            id: "u1".into(),
            name: "alice".into(),
            domain: IdName {
                id: "default".into(),
                name: "Default".into(),
            },
            password_expires_at: None,
        },
        project: project.map(|p| TokenProject {
            id: p.into(),
            name: p.into(),
            domain: IdName {
                id: "default".into(),
                name: "Default".into(),
            },
        }),
        domain: None,
        roles: roles
            .iter()
            .map(|r| IdName {
                id: format!("id-{r}"),
                name: r.to_string(),
            })
            .collect(),
        methods: vec!["password".into()],
        audit_ids: vec![],
        issued_at: now,
        expires_at: now,
        application_credential: None,
    }
}

#[test]
fn project_rules_need_a_project_scoped_token_with_a_role() {
    let none = HashMap::new();
    let unscoped = ctx(None, &[]);
    let reader = ctx(Some("p1"), &["reader"]);
    let member = ctx(Some("p1"), &["member"]);
    let admin = ctx(Some("admin"), &["admin"]);
    let no_role = ctx(Some("p1"), &[]);
    let t = Target::Nobody;
    assert_eq!(
        authorize(Rule::ProjectReader, t, None, &none),
        Err(Denial::Unauthenticated)
    );
    assert_eq!(
        authorize(Rule::ProjectReader, t, Some(&unscoped), &none),
        Err(Denial::Forbidden)
    );
    assert_eq!(
        authorize(Rule::ProjectReader, t, Some(&no_role), &none),
        Err(Denial::Forbidden)
    );
    assert_eq!(
        authorize(Rule::ProjectReader, t, Some(&reader), &none),
        Ok(())
    );
    assert_eq!(
        authorize(Rule::ProjectMember, t, Some(&reader), &none),
        Err(Denial::Forbidden)
    );
    assert_eq!(
        authorize(Rule::ProjectMember, t, Some(&member), &none),
        Ok(())
    );
    assert_eq!(
        authorize(Rule::AdminOnly, t, Some(&member), &none),
        Err(Denial::Forbidden)
    );
    assert_eq!(authorize(Rule::AdminOnly, t, Some(&admin), &none), Ok(()));
    assert_eq!(
        authorize(Rule::Deny, t, Some(&admin), &none),
        Err(Denial::Forbidden)
    );
    assert_eq!(authorize(Rule::Public, t, None, &none), Ok(()));
    assert_eq!(
        authorize(Rule::Authenticated, t, Some(&unscoped), &none),
        Ok(())
    );
    assert_eq!(
        authorize(Rule::Monitor, t, Some(&member), &none),
        Err(Denial::Forbidden)
    );
}

#[test]
fn targets_must_be_the_callers_own_unless_admin() {
    let member = ctx(Some("p1"), &["member"]);
    let admin = ctx(Some("admin"), &["admin"]);
    let own = HashMap::from([("project".to_string(), "p1".to_string())]);
    let other = HashMap::from([("project".to_string(), "p2".to_string())]);
    let t = Target::Project("project");
    assert_eq!(
        authorize(Rule::ProjectReader, t, Some(&member), &own),
        Ok(())
    );
    assert_eq!(
        authorize(Rule::ProjectReader, t, Some(&member), &other),
        Err(Denial::Forbidden)
    );
    assert_eq!(
        authorize(Rule::ProjectReader, t, Some(&admin), &other),
        Ok(())
    );
    let me = HashMap::from([("id".to_string(), "u1".to_string())]);
    let them = HashMap::from([("id".to_string(), "u2".to_string())]);
    let unscoped = ctx(None, &[]);
    assert_eq!(
        authorize(Rule::Owner, Target::User("id"), Some(&unscoped), &me),
        Ok(())
    );
    assert_eq!(
        authorize(Rule::Owner, Target::User("id"), Some(&unscoped), &them),
        Err(Denial::Forbidden)
    );
    assert_eq!(
        authorize(Rule::Owner, Target::User("id"), Some(&admin), &them),
        Ok(())
    );
}

#[test]
fn singular_names_follow_neutron() {
    assert_eq!(singular("networks"), "network");
    assert_eq!(singular("policies"), "policy");
    assert_eq!(singular("security-group-rules"), "security_group_rule");
    assert_eq!(singular("floatingips"), "floatingip");
}
