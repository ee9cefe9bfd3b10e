//! Shapes the contract suite (tests/real) checks against the real region: key sets, error
//! envelopes and echoed headers.

mod common;

use std::collections::BTreeSet;

use cascade_sim::RegionSpec;
use common::*;
use serde_json::{Value, json};

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(k: &[&str]) -> BTreeSet<String> {
    k.iter().map(|s| s.to_string()).collect()
}

async fn raw_get(
    e: &Env,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut rb = e.http.get(url);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    let text = r.text().await.unwrap();
    (
        s,
        h,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn auth_errors_and_version_echo() {
    let e = env(vec![RegionSpec::new("r1", "az1").instant()]).await;
    let b = e.base(0);
    for url in [
        format!("{b}/compute/v2.1/servers"),
        format!("{b}/network/v2.0/networks"),
        format!("{b}/volume/v3/proj-a/volumes"),
    ] {
        let (s, h, v) = raw_get(&e, &url, &[("Accept", "application/json")]).await;
        assert_eq!(s, 401);
        assert_eq!(
            v,
            json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})
        );
        let www = h["www-authenticate"].to_str().unwrap();
        assert!(www.starts_with("Keystone uri=\"http://"), "{www}");
    }
    let (s, h, v) = raw_get(
        &e,
        &format!("{b}/image/v2/images"),
        &[("Accept", "application/json")],
    )
    .await;
    assert_eq!(s, 401);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(v["code"], "401 Unauthorized");
    assert_eq!(v["title"], "Unauthorized");
    assert!(v["message"].is_string());
    assert!(
        h["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Keystone uri=\"http")
    );

    // Glance 404: JSON when asked, HTML otherwise
    let missing = format!("{b}/image/v2/images/00000000-0000-0000-0000-000000000000");
    let (s, h, v) = raw_get(
        &e,
        &missing,
        &[("X-Auth-Token", MEMBER), ("Accept", "application/json")],
    )
    .await;
    assert_eq!(s, 404);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(keys(&v), set(&["message", "code", "title"]));
    assert_eq!(
        (&v["code"], &v["title"]),
        (&json!("404 Not Found"), &json!("Not Found"))
    );
    assert!(v["message"].as_str().unwrap().contains("No image found"));
    let (_, h, _) = raw_get(&e, &missing, &[("X-Auth-Token", MEMBER)]).await;
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));

    // 406 echoes the requested version; a malformed one gets no version headers
    let (s, h, _) = raw_get(
        &e,
        &format!("{b}/compute/v2.1/flavors"),
        &[
            ("X-Auth-Token", MEMBER),
            ("OpenStack-API-Version", "compute 2.999"),
        ],
    )
    .await;
    assert_eq!(s, 406);
    assert_eq!(h["openstack-api-version"], "compute 2.999");
    assert_eq!(h["x-openstack-nova-api-version"], "2.999");
    let (s, h, _) = raw_get(
        &e,
        &format!("{b}/compute/v2.1/flavors"),
        &[
            ("X-Auth-Token", MEMBER),
            ("OpenStack-API-Version", "compute 2.x"),
        ],
    )
    .await;
    assert_eq!(s, 400);
    assert!(h.get("openstack-api-version").is_none());
    assert!(h.get("x-openstack-nova-api-version").is_none());
    let (s, h, _) = raw_get(
        &e,
        &format!("{b}/volume/v3/proj-a/volumes"),
        &[
            ("X-Auth-Token", MEMBER),
            ("OpenStack-API-Version", "volume 3.999"),
        ],
    )
    .await;
    assert_eq!(s, 406);
    assert_eq!(h["openstack-api-version"], "volume 3.999");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn network_subnet_port_key_sets() {
    let e = env(vec![RegionSpec::new("r1", "az1").instant()]).await;
    let b = e.base(0);
    let (s, n) = e
        .post(
            &format!("{b}/network/v2.0/networks"),
            ADMIN,
            json!({"network": {"name": "n2"}}),
        )
        .await;
    assert_eq!(s, 201, "{n}");
    let net_keys = set(&[
        "admin_state_up",
        "availability_zone_hints",
        "availability_zones",
        "created_at",
        "description",
        "id",
        "ipv4_address_scope",
        "ipv6_address_scope",
        "mtu",
        "name",
        "port_security_enabled",
        "project_id",
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "qinq",
        "revision_number",
        "router:external",
        "shared",
        "status",
        "subnets",
        "tags",
        "tenant_id",
        "updated_at",
        "vlan_transparent",
    ]);
    let mut with_default = net_keys.clone();
    with_default.insert("is_default".into());
    assert_eq!(keys(&n["network"]), with_default);
    let nid = n["network"]["id"].as_str().unwrap();
    let (_, shown) = e
        .get(&format!("{b}/network/v2.0/networks/{nid}"), ADMIN)
        .await;
    assert_eq!(keys(&shown["network"]), net_keys);
    assert_eq!(shown["network"]["qinq"], false);
    assert_eq!(shown["network"]["vlan_transparent"], false);

    let (s, sn) = e
        .post(
            &format!("{b}/network/v2.0/subnets"),
            ADMIN,
            json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.124.0.0/24"}}),
        )
        .await;
    assert_eq!(s, 201, "{sn}");
    let sub_keys = set(&[
        "allocation_pools",
        "cidr",
        "created_at",
        "description",
        "dns_nameservers",
        "enable_dhcp",
        "gateway_ip",
        "host_routes",
        "id",
        "ip_version",
        "ipv6_address_mode",
        "ipv6_ra_mode",
        "name",
        "network_id",
        "project_id",
        "revision_number",
        "router:external",
        "service_types",
        "subnetpool_id",
        "tags",
        "tenant_id",
        "updated_at",
    ]);
    assert_eq!(keys(&sn["subnet"]), sub_keys);
    assert_eq!(sn["subnet"]["router:external"], false);
    let sid = sn["subnet"]["id"].as_str().unwrap();
    let (_, shown) = e
        .get(&format!("{b}/network/v2.0/subnets/{sid}"), ADMIN)
        .await;
    assert_eq!(keys(&shown["subnet"]), sub_keys);

    let p = e
        .port(
            0,
            ADMIN,
            json!({"name": "p0", "network_id": nid, "fixed_ips": [{"subnet_id": sid, "ip_address": "10.124.0.10"}]}),
        )
        .await;
    let port_keys = set(&[
        "admin_state_up",
        "allowed_address_pairs",
        "binding:host_id",
        "binding:profile",
        "binding:vif_details",
        "binding:vif_type",
        "binding:vnic_type",
        "created_at",
        "description",
        "device_id",
        "device_owner",
        "extra_dhcp_opts",
        "fixed_ips",
        "id",
        "mac_address",
        "name",
        "network_id",
        "port_security_enabled",
        "project_id",
        "revision_number",
        "security_groups",
        "status",
        "tags",
        "tenant_id",
        "updated_at",
    ]);
    assert_eq!(keys(&p), port_keys);
    let pid = p["id"].as_str().unwrap();
    let (_, shown) = e.get(&format!("{b}/network/v2.0/ports/{pid}"), ADMIN).await;
    assert_eq!(keys(&shown["port"]), port_keys);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn volume_views_and_image_stores() {
    let e = env(vec![RegionSpec::new("r1", "az1").instant()]).await;
    let b = e.base(0);
    let v3 = format!("{b}/volume/v3/proj-admin");
    let (s, v) = e
        .post(
            &format!("{v3}/volumes"),
            ADMIN,
            json!({"volume": {"size": 1, "name": "vol", "description": null}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let create = set(&[
        "attachments",
        "availability_zone",
        "bootable",
        "consistencygroup_id",
        "created_at",
        "description",
        "encrypted",
        "id",
        "links",
        "metadata",
        "migration_status",
        "multiattach",
        "name",
        "replication_status",
        "size",
        "snapshot_id",
        "source_volid",
        "status",
        "updated_at",
        "user_id",
        "volume_type",
    ]);
    assert_eq!(keys(&v["volume"]), create);
    let id = v["volume"]["id"].as_str().unwrap().to_string();
    let mut show = create.clone();
    show.extend(set(&[
        "os-vol-host-attr:host",
        "os-vol-mig-status-attr:migstat",
        "os-vol-mig-status-attr:name_id",
        "os-vol-tenant-attr:tenant_id",
    ]));
    let (_, v) = e.get(&format!("{v3}/volumes/{id}"), ADMIN).await;
    assert_eq!(keys(&v["volume"]), show);
    let (_, _, v) = e
        .call("GET", &format!("{v3}/volumes/{id}"), ADMIN, None, None)
        .await;
    assert_eq!(keys(&v["volume"]), show);
    let r = e
        .http
        .get(format!("{v3}/volumes/{id}"))
        .header("X-Auth-Token", ADMIN)
        .header("OpenStack-API-Version", "volume 3.60")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let mut show60 = show.clone();
    show60.extend(set(&[
        "group_id",
        "provider_id",
        "service_uuid",
        "shared_targets",
    ]));
    assert_eq!(keys(&v["volume"]), show60);
    let (_, l) = e.get(&format!("{v3}/volumes?name=vol"), ADMIN).await;
    assert_eq!(keys(&l["volumes"][0]), set(&["id", "name", "links"]));
    let (_, l) = e.get(&format!("{v3}/volumes/detail?name=vol"), ADMIN).await;
    assert_eq!(keys(&l["volumes"][0]), show);

    // images: stores and virtual_size once active; a second upload is a 409 that closes
    let g = format!("{b}/image/v2");
    let (s, img) = e
        .post(
            &format!("{g}/images"),
            MEMBER,
            json!({"name": "i", "disk_format": "raw", "container_format": "bare"}),
        )
        .await;
    assert_eq!(s, 201, "{img}");
    assert!(img.get("stores").is_none());
    let iid = img["id"].as_str().unwrap().to_string();
    let put = || {
        e.http
            .put(format!("{g}/images/{iid}/file"))
            .header("X-Auth-Token", MEMBER)
            .header("Content-Type", "application/octet-stream")
            .body(vec![7u8; 4096])
            .send()
    };
    assert_eq!(put().await.unwrap().status(), 204);
    let (_, v) = e.get(&format!("{g}/images/{iid}"), MEMBER).await;
    assert_eq!(v["stores"], "fs");
    assert_eq!(v["virtual_size"], 4096);
    let r = put().await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["connection"], "close");

    // a server created without a description shows its name as one from 2.19
    let (_, imgs) = e.get(&format!("{g}/images"), MEMBER).await;
    let cirros = imgs["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"].as_str().unwrap_or("").starts_with("cirros"))
        .unwrap()["id"]
        .clone();
    let (s, srv) = e
        .post(
            &format!("{b}/compute/v2.1/servers"),
            MEMBER,
            json!({"server": {"name": "vm0", "flavorRef": "1", "imageRef": cirros}}),
        )
        .await;
    assert_eq!(s, 202, "{srv}");
    let sid = srv["server"]["id"].as_str().unwrap();
    let (_, _, v) = e
        .call(
            "GET",
            &format!("{b}/compute/v2.1/servers/{sid}"),
            MEMBER,
            None,
            Some("2.19"),
        )
        .await;
    assert_eq!(v["server"]["description"], "vm0");
    e.sim.shutdown().await;
}
