//! Conformance of the image tables on both backends: images CRUD with the status
//! compare-and-set, visibility scopes, members, and the copy lease (claim, progress, expiry,
//! finish).

use cascade_store::images::{
    COPY_ACTIVE, COPY_COPYING, COPY_FAILED, ImageRow, ImageScope, MemberRow,
};
use cascade_store::pods::PodRow;
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
                        .expect("PostgreSQL test db (set CASCADE_TEST_POSTGRES_URL)");
                    super::$case(db.store.clone()).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

conformance!(
    images_crud_and_cas,
    visibility_scopes_and_members,
    copy_lease
);

fn image(id: &str, owner: &str, visibility: &str) -> ImageRow {
    let now = now_micros();
    ImageRow {
        id: id.into(),
        owner: owner.into(),
        name: Some(format!("img-{id}")),
        status: "queued".into(),
        visibility: visibility.into(),
        protected: false,
        os_hidden: false,
        disk_format: Some("qcow2".into()),
        container_format: Some("bare".into()),
        min_disk: 1,
        min_ram: 0,
        size: None,
        virtual_size: None,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        tags: "[]".into(),
        properties: r#"{"k":"v"}"#.into(),
        home_pod_id: None,
        created_at: now,
        updated_at: now,
    }
}

async fn pod(store: &Store, id: &str) {
    let now = now_micros();
    store
        .insert_pod(&PodRow {
            pod_id: id.into(),
            region_name: format!("R-{id}"),
            az_name: format!("az-{id}"),
            pod_az_name: String::new(),
            dc_name: String::new(),
            auth_url: None,
            endpoints: "{}".into(),
            capabilities: "{}".into(),
            credentials: None,
            state: "up".into(),
            state_reason: String::new(),
            created_at: now,
            updated_at: now,
            checked_at: None,
        })
        .await
        .unwrap();
}

async fn images_crud_and_cas(store: Store) {
    let mut i = image("i1", "p1", "private");
    store.insert_image(&i).await.unwrap();
    assert!(matches!(
        store.insert_image(&i).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_image("i1").await.unwrap(), i);

    // queued -> saving applies once.
    i.status = "saving".into();
    assert!(store.update_image(&i, Some("queued")).await.unwrap());
    assert!(!store.update_image(&i, Some("queued")).await.unwrap());
    i.status = "active".into();
    i.size = Some(5_000_000_000);
    i.checksum = Some("abc".into());
    i.protected = true;
    assert!(store.update_image(&i, None).await.unwrap());
    let got = store.get_image("i1").await.unwrap();
    assert_eq!(got.size, Some(5_000_000_000));
    assert!(got.protected);
    assert_eq!(got.status, "active");

    let mut ghost = image("nope", "p1", "private");
    ghost.status = "active".into();
    assert!(matches!(
        store.update_image(&ghost, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_image(&ghost, Some("queued")).await,
        Err(StoreError::NotFound)
    ));

    store.delete_image("i1").await.unwrap();
    assert!(matches!(
        store.get_image("i1").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_image("i1").await,
        Err(StoreError::NotFound)
    ));
}

async fn visibility_scopes_and_members(store: Store) {
    for (id, owner, vis) in [
        ("a", "p1", "private"),
        ("b", "p2", "private"),
        ("c", "p2", "public"),
        ("d", "p2", "community"),
        ("e", "p2", "shared"),
        ("f", "p2", "shared"),
    ] {
        store.insert_image(&image(id, owner, vis)).await.unwrap();
    }
    let now = now_micros();
    store
        .insert_member(&MemberRow {
            image_id: "e".into(),
            member_id: "p1".into(),
            status: "pending".into(),
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_member(&MemberRow {
                image_id: "e".into(),
                member_id: "p1".into(),
                status: "pending".into(),
                created_at: now,
                updated_at: now,
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    let ids = |rows: Vec<ImageRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let mut seen = ids(store
        .list_images(&ImageScope::Project("p1"), None)
        .await
        .unwrap());
    seen.sort();
    assert_eq!(seen, ["a", "c", "d", "e"]);
    assert_eq!(
        store
            .list_images(&ImageScope::All, None)
            .await
            .unwrap()
            .len(),
        6
    );
    let only = ids(store
        .list_images(&ImageScope::Project("p1"), Some(&["a".into(), "b".into()]))
        .await
        .unwrap());
    assert_eq!(only, ["a"]);

    let m = store
        .update_member_status("e", "p1", "accepted")
        .await
        .unwrap();
    assert_eq!(m.status, "accepted");
    assert_eq!(store.list_members("e").await.unwrap().len(), 1);
    assert_eq!(store.memberships_of("p1").await.unwrap().len(), 1);
    assert!(matches!(
        store.update_member_status("f", "p1", "accepted").await,
        Err(StoreError::NotFound)
    ));
    store.delete_member("e", "p1").await.unwrap();
    assert!(matches!(
        store.get_member("e", "p1").await,
        Err(StoreError::NotFound)
    ));
    // Deleting an image drops its members.
    store
        .insert_member(&MemberRow {
            image_id: "f".into(),
            member_id: "p3".into(),
            status: "accepted".into(),
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    store.delete_image("f").await.unwrap();
    assert!(store.memberships_of("p3").await.unwrap().is_empty());
}

async fn copy_lease(store: Store) {
    pod(&store, "pod1").await;
    pod(&store, "pod2").await;
    let row = store.ensure_copy("img", "pod1", Some(100)).await.unwrap();
    assert_eq!(row.state, "pending");
    // ensure_copy is idempotent.
    store.ensure_copy("img", "pod1", None).await.unwrap();
    let now = now_micros();
    assert!(
        store
            .claim_copy("img", "pod1", "w1", now, now + 10_000_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_copy("img", "pod1", "w2", now, now + 10_000_000)
            .await
            .unwrap(),
        "a live lease is not taken over"
    );
    assert!(
        store
            .copy_progress("img", "pod1", "w1", 40, None, now + 20_000_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .copy_progress("img", "pod1", "w2", 50, None, now + 20_000_000)
            .await
            .unwrap()
    );
    let row = store.get_copy("img", "pod1").await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.bytes_done, row.bytes_total),
        (COPY_COPYING, 40, Some(100))
    );
    // The lease expires: another worker takes over (the interrupted copy restarts).
    let later = now + 30_000_000;
    assert!(
        store
            .claim_copy("img", "pod1", "w2", later, later + 10_000_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_copy("img", "pod1", "w1", COPY_ACTIVE, Some("b1"), None)
            .await
            .unwrap(),
        "the old holder cannot finish"
    );
    assert!(
        store
            .finish_copy("img", "pod1", "w2", COPY_FAILED, None, Some("boom"))
            .await
            .unwrap()
    );
    let row = store.get_copy("img", "pod1").await.unwrap().unwrap();
    assert_eq!(row.attempts, 2);
    assert_eq!(row.error.as_deref(), Some("boom"));
    // A failed copy is claimable again.
    assert!(
        store
            .claim_copy("img", "pod1", "w3", later, later + 10_000_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_copy("img", "pod1", "w3", COPY_ACTIVE, Some("b1"), None)
            .await
            .unwrap()
    );
    let row = store.get_copy("img", "pod1").await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.bottom_id.as_deref(), row.bytes_done),
        (COPY_ACTIVE, Some("b1"), 100)
    );
    assert!(
        !store
            .claim_copy("img", "pod1", "w4", later, later + 1)
            .await
            .unwrap(),
        "an active copy is never claimed"
    );

    store
        .put_active_copy("img", "pod2", "b2", Some(100))
        .await
        .unwrap();
    assert_eq!(store.list_copies(Some("img")).await.unwrap().len(), 2);
    assert_eq!(store.list_copies(None).await.unwrap().len(), 2);
    store.delete_copy("img", "pod2").await.unwrap();
    assert_eq!(store.list_copies(Some("img")).await.unwrap().len(), 1);
}
