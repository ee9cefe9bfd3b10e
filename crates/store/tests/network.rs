//! The central networking tables on both backends: resources with their lookups, the unique
//! guards on addresses, MACs, segment ids and bridge CIDRs (all-or-nothing inserts), and the
//! releases that go with deletes.

use cascade_store::network::{IpAllocation, NetResourceRow, SegmentRow};
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
    resources_and_lookups,
    address_and_mac_guards,
    segments_and_bridges
);

fn res(
    id: &str,
    kind: &str,
    project: &str,
    parent: Option<&str>,
    device: Option<&str>,
) -> NetResourceRow {
    NetResourceRow {
        id: id.into(),
        kind: kind.into(),
        project_id: project.into(),
        parent_id: parent.map(str::to_string),
        device_id: device.map(str::to_string),
        pod_id: None,
        body: format!("{{\"id\":\"{id}\"}}"),
        created_at: now_micros(),
        updated_at: now_micros(),
    }
}

fn ip(subnet: &str, addr: &str, owner: &str) -> IpAllocation {
    IpAllocation {
        subnet_id: subnet.into(),
        ip: addr.into(),
        network_id: "n1".into(),
        owner_id: owner.into(),
    }
}

async fn resources_and_lookups(store: Store) {
    store
        .insert_net_resource(&res("n1", "network", "p1", None, None), &[], &[])
        .await
        .unwrap();
    store
        .insert_net_resource(&res("s1", "subnet", "p1", Some("n1"), None), &[], &[])
        .await
        .unwrap();
    store
        .insert_net_resource(
            &res("port1", "port", "p1", Some("n1"), Some("vm")),
            &[],
            &[],
        )
        .await
        .unwrap();
    store
        .insert_net_resource(&res("n2", "network", "p2", None, None), &[], &[])
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_net_resource(&res("n1", "network", "p1", None, None), &[], &[])
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .list_net_resources("network", None)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_net_resources("network", Some("p1"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.count_net_resources("network", "p2").await.unwrap(), 1);
    assert_eq!(
        store.net_children("subnet", "n1").await.unwrap()[0].id,
        "s1"
    );
    assert_eq!(
        store.net_by_device("port", "vm").await.unwrap()[0].id,
        "port1"
    );
    let mut row = store.get_net_resource("port1").await.unwrap();
    row.pod_id = Some("pod".into());
    row.body = "{\"x\":1}".into();
    store
        .update_net_resource(&row, &[], &[], &[], &[])
        .await
        .unwrap();
    let got = store.get_net_resource("port1").await.unwrap();
    assert_eq!(got.pod_id.as_deref(), Some("pod"));
    assert_eq!(got.body, "{\"x\":1}");
    store.delete_net_resource("port1").await.unwrap();
    assert!(matches!(
        store.get_net_resource("port1").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_net_resource("port1").await,
        Err(StoreError::NotFound)
    ));
}

async fn address_and_mac_guards(store: Store) {
    let mac = |m: &str, o: &str| (m.to_string(), o.to_string());
    store
        .insert_net_resource(
            &res("a", "port", "p", Some("n1"), None),
            &[ip("s1", "10.0.0.2", "a")],
            &[mac("fa:16:3e:00:00:01", "a")],
        )
        .await
        .unwrap();
    // The same address: refused, and nothing of the failed insert remains.
    let e = store
        .insert_net_resource(
            &res("b", "port", "p", Some("n1"), None),
            &[ip("s1", "10.0.0.3", "b"), ip("s1", "10.0.0.2", "b")],
            &[mac("fa:16:3e:00:00:02", "b")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict(m) if m == "ip_address s1 10.0.0.2"),
        "{e:?}"
    );
    assert!(store.allocations_of("b").await.unwrap().is_empty());
    assert!(
        store
            .mac_owner("fa:16:3e:00:00:02")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.get_net_resource("b").await,
        Err(StoreError::NotFound)
    ));
    // The same MAC: refused.
    let e = store
        .insert_net_resource(
            &res("b", "port", "p", Some("n1"), None),
            &[ip("s1", "10.0.0.3", "b")],
            &[mac("fa:16:3e:00:00:01", "b")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict(m) if m.starts_with("mac_address")),
        "{e:?}"
    );
    // Moving an address in an update.
    let row = store.get_net_resource("a").await.unwrap();
    store
        .update_net_resource(
            &row,
            &[ip("s1", "10.0.0.9", "a")],
            &[ip("s1", "10.0.0.2", "a")],
            &[],
            &[],
        )
        .await
        .unwrap();
    let held: Vec<String> = store
        .allocations_of("a")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.ip)
        .collect();
    assert_eq!(held, ["10.0.0.9"]);
    store
        .claim_ips(&[ip("s1", "10.0.0.2", "reserved:s1:pod")])
        .await
        .unwrap();
    assert!(matches!(
        store.claim_ips(&[ip("s1", "10.0.0.9", "x")]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.subnet_allocations("s1").await.unwrap().len(), 2);
    // Deleting the port frees its address and MAC.
    store.delete_net_resource("a").await.unwrap();
    assert!(
        store
            .mac_owner("fa:16:3e:00:00:01")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.release_subnet_ips("s1").await.unwrap(), 1);
}

async fn segments_and_bridges(store: Store) {
    let seg = |id: i64, owner: &str| SegmentRow {
        network_type: "vxlan".into(),
        physical_network: String::new(),
        segmentation_id: id,
        owner_id: owner.into(),
    };
    store.claim_segment(&seg(100, "n1")).await.unwrap();
    store.claim_segment(&seg(101, "n2")).await.unwrap();
    assert!(
        matches!(store.claim_segment(&seg(100, "n3")).await, Err(StoreError::Conflict(m)) if m.starts_with("segment"))
    );
    assert_eq!(
        store.segments_in_use("vxlan", "").await.unwrap(),
        [100, 101]
    );
    assert_eq!(
        store
            .segment_of("n2")
            .await
            .unwrap()
            .unwrap()
            .segmentation_id,
        101
    );
    store.release_segments_of("n1").await.unwrap();
    assert_eq!(store.segments_in_use("vxlan", "").await.unwrap(), [101]);
    store.insert_bridge("p1", "100.0.0.0/24").await.unwrap();
    assert!(matches!(
        store.insert_bridge("p2", "100.0.0.0/24").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.insert_bridge("p1", "100.0.1.0/24").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_bridge("p1").await.unwrap().unwrap().cidr,
        "100.0.0.0/24"
    );
    assert_eq!(store.bridge_cidrs().await.unwrap(), ["100.0.0.0/24"]);
}
