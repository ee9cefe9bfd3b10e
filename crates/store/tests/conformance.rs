//! One conformance suite for both store backends: every case runs on SQLite and on the real
//! PostgreSQL server (a private schema per case). A backend that drifts fails here.

use cascade_store::identity::{
    AssignmentRow, DomainRow, ProjectRow, RoleRow, TargetKind, TokenRow, UserRow,
};
use cascade_store::pods::PodRow;
use cascade_store::routings::{NewRouting, RoutingFilter};
use cascade_store::testing::TestDb;
use cascade_store::{Store, StoreError, now_micros};

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = cascade_store::testing::TestDb::sqlite().await.expect("sqlite test db");
                    super::$case(db.store.clone()).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = cascade_store::testing::TestDb::postgres()
                        .await
                        .expect("PostgreSQL test db (set CASCADE_TEST_POSTGRES_URL; .ci/run starts the server)");
                    super::$case(db.store.clone()).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

conformance!(
    domains_projects_users,
    assignments_and_roles,
    tokens_expire_and_revoke,
    deletes_cascade,
    pods_crud_and_health,
    routing_lock_and_paging,
);

fn domain(id: &str, name: &str) -> DomainRow {
    DomainRow {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        enabled: true,
        created_at: now_micros(),
    }
}

fn project(id: &str, name: &str, domain_id: &str) -> ProjectRow {
    ProjectRow {
        id: id.into(),
        name: name.into(),
        domain_id: domain_id.into(),
        description: "d".into(),
        enabled: true,
        tags: "[]".into(),
        created_at: now_micros(),
    }
}

fn user(id: &str, name: &str, domain_id: &str) -> UserRow {
    UserRow {
        id: id.into(),
        name: name.into(),
        domain_id: domain_id.into(),
        password_hash: Some("hash".into()),
        enabled: true,
        default_project_id: None,
        description: None,
        email: None,
        created_at: now_micros(),
    }
}

fn role(id: &str, name: &str) -> RoleRow {
    RoleRow {
        id: id.into(),
        name: name.into(),
        description: None,
        created_at: now_micros(),
    }
}

fn pod(id: &str, region: &str, az: &str) -> PodRow {
    let now = now_micros();
    PodRow {
        pod_id: id.into(),
        region_name: region.into(),
        az_name: az.into(),
        pod_az_name: String::new(),
        dc_name: "dc1".into(),
        auth_url: None,
        endpoints: "{}".into(),
        capabilities: r#"{"gpu":"true"}"#.into(),
        credentials: Some("sealed".into()),
        state: "up".into(),
        state_reason: String::new(),
        created_at: now,
        updated_at: now,
        checked_at: None,
    }
}

async fn domains_projects_users(store: Store) {
    store
        .insert_domain(&domain("default", "Default"))
        .await
        .unwrap();
    assert!(matches!(
        store.insert_domain(&domain("d2", "Default")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.find_domain_by_name("Default").await.unwrap().id,
        "default"
    );

    store
        .insert_project(&project("p1", "demo", "default"))
        .await
        .unwrap();
    store
        .insert_project(&project("p2", "admin", "default"))
        .await
        .unwrap();
    let dup = store
        .insert_project(&project("p3", "demo", "default"))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let bad_domain = store.insert_project(&project("p4", "x", "nope")).await;
    assert!(
        matches!(bad_domain, Err(StoreError::Constraint(_))),
        "{bad_domain:?}"
    );

    let all = store.list_projects(None, None).await.unwrap();
    assert_eq!(
        all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["admin", "demo"]
    );
    let only = store
        .list_projects(Some("demo"), Some("default"))
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0], store.get_project("p1").await.unwrap());
    assert!(matches!(
        store.get_project("zzz").await,
        Err(StoreError::NotFound)
    ));

    let mut p = store.get_project("p1").await.unwrap();
    p.enabled = false;
    p.tags = r#"["a"]"#.into();
    store.update_project(&p).await.unwrap();
    let p = store.find_project("default", "demo").await.unwrap();
    assert!(!p.enabled);
    assert_eq!(p.tags, r#"["a"]"#);

    store
        .insert_user(&user("u1", "alice", "default"))
        .await
        .unwrap();
    assert!(matches!(
        store.insert_user(&user("u2", "alice", "default")).await,
        Err(StoreError::Conflict(_))
    ));
    let mut u = store.find_user("default", "alice").await.unwrap();
    assert_eq!(u.password_hash.as_deref(), Some("hash"));
    u.email = Some("a@example.org".into());
    store.update_user(&u, false).await.unwrap();
    assert_eq!(
        store.get_user("u1").await.unwrap().email.as_deref(),
        Some("a@example.org")
    );
    assert_eq!(
        store.list_users(Some("alice"), None).await.unwrap().len(),
        1
    );
    assert!(
        store
            .list_users(Some("bob"), None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn assignments_and_roles(store: Store) {
    store
        .insert_domain(&domain("default", "Default"))
        .await
        .unwrap();
    store
        .insert_project(&project("p1", "demo", "default"))
        .await
        .unwrap();
    store
        .insert_user(&user("u1", "alice", "default"))
        .await
        .unwrap();
    store.insert_role(&role("r1", "member")).await.unwrap();
    store.insert_role(&role("r2", "reader")).await.unwrap();
    assert!(matches!(
        store.insert_role(&role("r3", "member")).await,
        Err(StoreError::Conflict(_))
    ));

    let grant = |role_id: &str| AssignmentRow {
        target_kind: TargetKind::Project,
        actor_id: "u1".into(),
        target_id: "p1".into(),
        role_id: role_id.into(),
    };
    store.grant_role(&grant("r1")).await.unwrap();
    store.grant_role(&grant("r1")).await.unwrap(); // idempotent
    store.grant_role(&grant("r2")).await.unwrap();
    let names: Vec<_> = store
        .roles_of("u1", "p1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["member", "reader"]);
    assert_eq!(
        store
            .list_assignments(Some("u1"), None, None)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_assignments(None, None, Some("r2"))
            .await
            .unwrap()
            .len(),
        1
    );

    store.revoke_role(&grant("r2")).await.unwrap();
    assert!(matches!(
        store.revoke_role(&grant("r2")).await,
        Err(StoreError::NotFound)
    ));
    store.delete_role("r1").await.unwrap();
    assert!(store.roles_of("u1", "p1").await.unwrap().is_empty());
    assert_eq!(store.list_roles(None).await.unwrap().len(), 1);
}

async fn tokens_expire_and_revoke(store: Store) {
    let now = now_micros();
    let token = |hash: &str, audit: &str, expires_at: i64| TokenRow {
        id_hash: hash.into(),
        user_id: "u1".into(),
        project_id: Some("p1".into()),
        domain_id: None,
        methods: "password".into(),
        audit_id: audit.into(),
        issued_at: now,
        expires_at,
        app_cred_id: None,
    };
    store
        .insert_token(&token("h1", "a1", now + 3_600_000_000))
        .await
        .unwrap();
    store
        .insert_token(&token("h2", "a1", now + 3_600_000_000))
        .await
        .unwrap();
    store
        .insert_token(&token("h3", "a3", now - 1))
        .await
        .unwrap();
    assert_eq!(
        store.get_token("h1").await.unwrap().project_id.as_deref(),
        Some("p1")
    );
    assert_eq!(store.purge_expired_tokens().await.unwrap(), 1);
    assert!(matches!(
        store.get_token("h3").await,
        Err(StoreError::NotFound)
    ));
    // Revoking h1 leaves h2 alone; revoking twice is NotFound.
    store.delete_token("h1").await.unwrap();
    assert!(matches!(
        store.get_token("h1").await,
        Err(StoreError::NotFound)
    ));
    assert!(store.get_token("h2").await.is_ok());
    assert!(matches!(
        store.delete_token("h1").await,
        Err(StoreError::NotFound)
    ));
}

async fn deletes_cascade(store: Store) {
    store
        .insert_domain(&domain("default", "Default"))
        .await
        .unwrap();
    store
        .insert_project(&project("p1", "demo", "default"))
        .await
        .unwrap();
    store
        .insert_user(&user("u1", "alice", "default"))
        .await
        .unwrap();
    store.insert_role(&role("r1", "member")).await.unwrap();
    store
        .grant_role(&AssignmentRow {
            target_kind: TargetKind::Project,
            actor_id: "u1".into(),
            target_id: "p1".into(),
            role_id: "r1".into(),
        })
        .await
        .unwrap();
    store
        .insert_token(&TokenRow {
            id_hash: "h".into(),
            user_id: "u1".into(),
            project_id: Some("p1".into()),
            domain_id: None,
            methods: "password".into(),
            audit_id: "a".into(),
            issued_at: now_micros(),
            expires_at: now_micros() + 1_000_000_000,
            app_cred_id: None,
        })
        .await
        .unwrap();
    store.delete_project("p1").await.unwrap();
    assert!(
        store
            .list_assignments(None, Some("p1"), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.get_token("h").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_project("p1").await,
        Err(StoreError::NotFound)
    ));
    store.delete_user("u1").await.unwrap();
    assert!(matches!(
        store.get_user("u1").await,
        Err(StoreError::NotFound)
    ));
}

async fn pods_crud_and_health(store: Store) {
    store
        .insert_pod(&pod("pod-1", "RegionOne", "az1"))
        .await
        .unwrap();
    store
        .insert_pod(&pod("pod-2", "RegionTwo", "az2"))
        .await
        .unwrap();
    let dup = store.insert_pod(&pod("pod-3", "RegionOne", "az3")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let pods = store.list_pods().await.unwrap();
    assert_eq!(
        pods.iter().map(|p| p.az_name.as_str()).collect::<Vec<_>>(),
        ["az1", "az2"]
    );
    assert_eq!(store.get_pod("pod-1").await.unwrap(), pods[0]);

    store
        .record_pod_health("pod-1", "down", "connection refused", now_micros())
        .await
        .unwrap();
    let p = store.get_pod("pod-1").await.unwrap();
    assert_eq!(
        (p.state.as_str(), p.state_reason.as_str()),
        ("down", "connection refused")
    );
    assert!(p.checked_at.is_some());

    let mut p = store.get_pod("pod-2").await.unwrap();
    p.state = "maintenance".into();
    p.capabilities = r#"{"country":"DE"}"#.into();
    store.update_pod(&p).await.unwrap();
    // The health checker never overrides maintenance.
    store
        .record_pod_health("pod-2", "up", "", now_micros())
        .await
        .unwrap();
    let p = store.get_pod("pod-2").await.unwrap();
    assert_eq!(p.state, "maintenance");
    assert_eq!(p.capabilities, r#"{"country":"DE"}"#);

    store.delete_pod("pod-2").await.unwrap();
    assert!(matches!(
        store.delete_pod("pod-2").await,
        Err(StoreError::NotFound)
    ));
}

async fn routing_lock_and_paging(store: Store) {
    store
        .insert_pod(&pod("pod-1", "RegionOne", "az1"))
        .await
        .unwrap();
    let new = |top: &str, ty: &str| NewRouting {
        top_id: top.into(),
        bottom_id: None,
        pod_id: "pod-1".into(),
        project_id: "p1".into(),
        resource_type: ty.into(),
    };
    let row = store.insert_routing(&new("t1", "server")).await.unwrap();
    assert_eq!(row.bottom_id, None);
    // The triple is a lock: a second insert conflicts.
    assert!(matches!(
        store.insert_routing(&new("t1", "server")).await,
        Err(StoreError::Conflict(_))
    ));
    // Same top id, other type: fine.
    store.insert_routing(&new("t1", "port")).await.unwrap();
    // Unknown pod: refused by the foreign key.
    let mut orphan = new("t9", "server");
    orphan.pod_id = "nope".into();
    assert!(matches!(
        store.insert_routing(&orphan).await,
        Err(StoreError::Constraint(_))
    ));

    store.set_routing_bottom(row.id, "b1").await.unwrap();
    let got = store.get_routing(row.id).await.unwrap();
    assert_eq!(got.bottom_id.as_deref(), Some("b1"));

    for i in 2..=7 {
        store
            .insert_routing(&new(&format!("t{i}"), "server"))
            .await
            .unwrap();
    }
    let filter = RoutingFilter {
        resource_type: Some("server".into()),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let page = store.list_routings(&filter, 3, marker).await.unwrap();
        if page.is_empty() {
            break;
        }
        marker = page.last().map(|r| r.id);
        seen.extend(page.into_iter().map(|r| r.top_id));
    }
    assert_eq!(seen, ["t7", "t6", "t5", "t4", "t3", "t2", "t1"]);
    let by_bottom = RoutingFilter {
        bottom_id: Some("b1".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_routings(&by_bottom, 10, None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        store.list_routings(&filter, 3, Some(999_999)).await,
        Err(StoreError::NotFound)
    ));

    // A pod with routings cannot be deleted.
    assert!(matches!(
        store.delete_pod("pod-1").await,
        Err(StoreError::Constraint(_))
    ));
    store.delete_routing(row.id).await.unwrap();
    assert!(matches!(
        store.delete_routing(row.id).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn rejects_unknown_urls_and_bad_schema_names() {
    assert!(matches!(
        Store::connect("mysql://x", None).await,
        Err(StoreError::Config(_))
    ));
    let url = cascade_store::testing::postgres_url();
    assert!(matches!(
        Store::connect(&url, Some("bad;name")).await,
        Err(StoreError::Config(_))
    ));
    let db = TestDb::sqlite().await.unwrap();
    db.store.ping().await.unwrap();
    db.cleanup().await;
}
