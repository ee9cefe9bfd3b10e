//! The block-storage tables on both backends: the volume index with its filters and keyset
//! pages (each row exactly once, in order, both directions), lookups by bottom id, usage sums,
//! snapshots, attachments, types (the seeded `__DEFAULT__`, lookup by id or name, unique names)
//! and quotas.

use cascade_store::volumes::{
    AttachmentRow, DEFAULT_TYPE_ID, SnapshotRow, VolumeFilter, VolumePage, VolumeRow, VolumeTypeRow,
};
use cascade_store::{Store, StoreError};

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

conformance!(volume_index_pages, snapshots_attachments_types_quotas);

fn vol(i: usize, project: &str, pod: &str) -> VolumeRow {
    VolumeRow {
        id: format!("vol-{i:04}"),
        project_id: project.into(),
        user_id: "u".into(),
        name: Some(format!("v{}", i % 3)),
        description: None,
        size: (i % 5 + 1) as i64,
        status: if i.is_multiple_of(4) {
            "in-use"
        } else {
            "available"
        }
        .into(),
        az: format!("az{}", i % 2),
        pod_id: Some(pod.into()),
        bottom_id: Some(format!("b-{i}")),
        volume_type: "__DEFAULT__".into(),
        bootable: i.is_multiple_of(3),
        multiattach: false,
        attachments: "[]".into(),
        metadata: "{}".into(),
        image_metadata: "{}".into(),
        snapshot_id: None,
        source_volid: None,
        image_id: None,
        request: "{}".into(),
        // Ties on created_at make the id tie-break matter.
        created_at: 1_000 + (i / 2) as i64,
        updated_at: 1_000 + i as i64,
        deleted: false,
        deleted_at: None,
        admin_metadata: "{}".into(),
    }
}

async fn walk(store: &Store, filter: &VolumeFilter, col: &'static str, desc: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_volumes(
                filter,
                &VolumePage {
                    sort_column: col,
                    descending: desc,
                    after: after.clone(),
                    limit: 7,
                },
            )
            .await
            .unwrap();
        let n = page.len();
        out.extend(page.iter().map(|r| r.id.clone()));
        after = page.last().cloned();
        if n < 7 {
            return out;
        }
    }
}

async fn volume_index_pages(store: Store) {
    let rows: Vec<VolumeRow> = (0..40)
        .map(|i| {
            vol(
                i,
                if i < 30 { "p1" } else { "p2" },
                if i % 2 == 0 { "podA" } else { "podB" },
            )
        })
        .collect();
    store.insert_volumes(&rows[..39]).await.unwrap();
    store.insert_volume(&rows[39]).await.unwrap();
    assert!(matches!(
        store.insert_volume(&rows[0]).await,
        Err(StoreError::Conflict(_))
    ));
    let p1 = VolumeFilter {
        project_id: Some("p1".into()),
        ..Default::default()
    };
    for (col, desc) in [
        ("created_at", true),
        ("created_at", false),
        ("name", false),
        ("size", true),
    ] {
        let seen = walk(&store, &p1, col, desc).await;
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 30, "{col} {desc}: every row exactly once");
        assert_eq!(seen.len(), 30);
    }
    let newest = walk(&store, &p1, "created_at", true).await;
    assert_eq!(newest[0], "vol-0029");
    assert_eq!(newest[1], "vol-0028", "id breaks ties, same direction");
    let f = VolumeFilter {
        project_id: Some("p1".into()),
        status: Some("in-use".into()),
        bootable: Some(true),
        ..Default::default()
    };
    // i < 30, i % 4 == 0 and i % 3 == 0: 0, 12, 24.
    assert_eq!(
        walk(&store, &f, "id", false).await,
        ["vol-0000", "vol-0012", "vol-0024"]
    );
    let f = VolumeFilter {
        name: Some("v1".into()),
        az: Some("az1".into()),
        pod_id: Some("podB".into()),
        ..Default::default()
    };
    assert_eq!(walk(&store, &f, "id", false).await.len(), 7); // odd i with i % 3 == 1

    let found = store
        .volume_by_bottom("podB", "b-3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, "vol-0003");
    assert!(
        store
            .volume_by_bottom("podA", "b-3")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.pod_volumes("podA").await.unwrap().len(), 20);

    let (n, gigs) = store.volume_usage("p2").await.unwrap();
    assert_eq!(n, 10);
    assert_eq!(gigs, (30..40).map(|i| (i % 5 + 1) as i64).sum::<i64>());

    let mut v = store.get_volume("vol-0030").await.unwrap();
    v.deleted = true;
    v.deleted_at = Some(5_000);
    v.updated_at = 5_000;
    v.status = "deleted".into();
    store.update_volume(&v).await.unwrap();
    assert_eq!(store.volume_usage("p2").await.unwrap().0, 9);
    let p2 = VolumeFilter {
        project_id: Some("p2".into()),
        ..Default::default()
    };
    assert_eq!(walk(&store, &p2, "created_at", true).await.len(), 9);
    let since = VolumeFilter {
        changes_since: Some(4_000),
        ..Default::default()
    };
    assert_eq!(
        walk(&store, &since, "updated_at", false).await,
        ["vol-0030"],
        "deleted rows show in changes-since"
    );
    let mut ghost = vol(99, "p", "podA");
    ghost.id = "ghost".into();
    assert!(matches!(
        store.update_volume(&ghost).await,
        Err(StoreError::NotFound)
    ));
}

async fn snapshots_attachments_types_quotas(store: Store) {
    store.insert_volume(&vol(1, "p1", "podA")).await.unwrap();
    let mut s = SnapshotRow {
        id: "s1".into(),
        project_id: "p1".into(),
        user_id: "u".into(),
        volume_id: "vol-0001".into(),
        name: Some("snap".into()),
        description: None,
        size: 2,
        status: "creating".into(),
        pod_id: Some("podA".into()),
        bottom_id: None,
        metadata: "{}".into(),
        created_at: 1,
        updated_at: 1,
        deleted: false,
        progress: None,
    };
    store.insert_snapshot(&s).await.unwrap();
    s.status = "available".into();
    s.bottom_id = Some("bs1".into());
    store.update_snapshot(&s).await.unwrap();
    assert_eq!(store.get_snapshot("s1").await.unwrap(), s);
    assert_eq!(store.list_snapshots(Some("p1")).await.unwrap().len(), 1);
    assert_eq!(store.list_snapshots(Some("p2")).await.unwrap().len(), 0);
    assert_eq!(store.volume_snapshots("vol-0001").await.unwrap().len(), 1);
    s.deleted = true;
    store.update_snapshot(&s).await.unwrap();
    assert!(store.list_snapshots(None).await.unwrap().is_empty());

    let a = AttachmentRow {
        id: "a1".into(),
        project_id: "p1".into(),
        volume_id: "vol-0001".into(),
        server_id: Some("srv".into()),
        status: "attached".into(),
        attach_mode: "rw".into(),
        device: Some("/dev/vdb".into()),
        bottom_id: Some("ba1".into()),
        created_at: 3,
    };
    store.insert_attachment(&a).await.unwrap();
    assert_eq!(store.get_attachment("a1").await.unwrap(), a);
    assert_eq!(store.volume_attachments("vol-0001").await.unwrap().len(), 1);
    assert_eq!(store.list_attachments(Some("p1")).await.unwrap().len(), 1);
    store.delete_attachment("a1").await.unwrap();
    assert!(matches!(
        store.delete_attachment("a1").await,
        Err(StoreError::NotFound)
    ));

    let default = store.get_volume_type("__DEFAULT__").await.unwrap();
    assert_eq!(default.id, DEFAULT_TYPE_ID);
    let t = VolumeTypeRow {
        id: "t1".into(),
        name: "ssd".into(),
        description: Some("fast".into()),
        is_public: true,
        extra_specs: "{\"k\":\"v\"}".into(),
        created_at: 2,
    };
    store.insert_volume_type(&t).await.unwrap();
    assert!(matches!(
        store
            .insert_volume_type(&VolumeTypeRow {
                id: "t2".into(),
                ..t.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_volume_type("ssd").await.unwrap(), t);
    assert_eq!(store.get_volume_type("t1").await.unwrap(), t);
    assert_eq!(store.list_volume_types().await.unwrap().len(), 2);
    assert!(store.volume_type_in_use("__DEFAULT__").await.unwrap());
    assert!(!store.volume_type_in_use("ssd").await.unwrap());
    store.delete_volume_type("t1").await.unwrap();
    assert!(matches!(
        store.get_volume_type("ssd").await,
        Err(StoreError::NotFound)
    ));

    store.set_volume_quota("p1", "volumes", 5).await.unwrap();
    store.set_volume_quota("p1", "volumes", 7).await.unwrap();
    store.set_volume_quota("p1", "gigabytes", -1).await.unwrap();
    assert_eq!(
        store.volume_quotas("p1").await.unwrap(),
        vec![("gigabytes".to_string(), -1), ("volumes".to_string(), 7)]
    );
}
