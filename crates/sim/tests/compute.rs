//! Framework, identity and Nova over loopback HTTP.

mod common;

use cascade_sim::{FaultSpec, RegionSpec};
use common::*;
use serde_json::json;

#[tokio::test]
async fn discovery_auth_request_ids_and_token_cache() {
    let e = env(vec![RegionSpec::new("r1", "az1").instant()]).await;
    let b = e.base(0);
    let r = e
        .http
        .get(format!("{b}/compute/v2.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["x-openstack-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req-")
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["version"]["version"], "2.100");
    assert_eq!(v["version"]["min_version"], "2.1");
    assert_eq!(
        e.http
            .get(format!("{b}/image"))
            .send()
            .await
            .unwrap()
            .status(),
        300
    );
    assert_eq!(
        e.http
            .get(format!("{b}/volume/"))
            .send()
            .await
            .unwrap()
            .status(),
        300
    );
    assert_eq!(
        e.http
            .get(format!("{b}/identity"))
            .send()
            .await
            .unwrap()
            .status(),
        300
    );
    assert_eq!(
        e.http
            .get(format!("{b}/healthcheck"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let (s, v) = e.get(&format!("{b}/compute/v2.1/servers"), "nope").await;
    assert_eq!(s, 401);
    assert_eq!(v["error"]["code"], 401);
    assert_eq!(v["error"]["title"], "Unauthorized");
    let (s, v) = e.get(&format!("{b}/network/v2.0/networks"), "nope").await;
    assert_eq!(s, 401);
    assert_eq!(
        v["error"]["message"],
        "The request you have made requires authentication."
    );
    let r = e
        .http
        .get(format!("{b}/compute/v2.1/servers"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let before = e.idp.validations();
    for _ in 0..5 {
        assert_eq!(
            e.get(&format!("{b}/compute/v2.1/servers"), MEMBER).await.0,
            200
        );
    }
    assert_eq!(
        e.idp.validations() - before,
        1,
        "the token is validated once, then cached"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn identity_forwarding_rewrites_the_catalog() {
    let e = env(vec![RegionSpec::new("RegionX", "az1").instant()]).await;
    let b = e.base(0);
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "user-proj-a", "domain": {"name": "Default"}, "password": "secret"}}},
        "scope": {"project": {"name": "proj-a", "domain": {"name": "Default"}}}}});
    let r = e
        .http
        .post(format!("{b}/identity/v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-subject-token"], MEMBER);
    let v: serde_json::Value = r.json().await.unwrap();
    let cat = v["token"]["catalog"].as_array().unwrap();
    let url = |t: &str| {
        cat.iter().find(|c| c["type"] == t).unwrap()["endpoints"][0]["url"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(url("compute"), format!("{b}/compute/v2.1"));
    assert_eq!(url("volumev3"), format!("{b}/volume/v3/proj-a"));
    assert_eq!(url("block-storage"), format!("{b}/volume/v3/proj-a"));
    assert_eq!(cat[0]["endpoints"][0]["region_id"], "RegionX");
    let bad = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "user-proj-a", "password": "wrong"}}}}});
    assert_eq!(
        e.http
            .post(format!("{b}/identity/v3/auth/tokens"))
            .json(&bad)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn server_lifecycle_with_network_and_state_machine() {
    let mut spec = RegionSpec::new("r1", "nova-az");
    spec.build_time = std::time::Duration::from_millis(300);
    spec.action_time = std::time::Duration::from_millis(100);
    let e = env(vec![spec]).await;
    let b = e.base(0);
    let (net, _) = e.net(0, MEMBER, "net1", "10.1.0.0/24", json!({})).await;
    let name = "vm1@top-1234";
    let (s, h, v) = e.call("POST", &format!("{b}/compute/v2.1/servers"), MEMBER,
        Some(json!({"server": {"name": name, "flavorRef": "1", "imageRef": "", "networks": [{"uuid": net}], "metadata": {"cascade:top_id": "top-1234", "x": "y z"},
            "block_device_mapping_v2": [{"source_type": "blank", "destination_type": "volume", "boot_index": 0, "volume_size": 1, "delete_on_termination": true}]}})),
        Some("2.100")).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(h["openstack-api-version"], "compute 2.100");
    assert_eq!(h["x-openstack-nova-api-version"], "2.100");
    let id = v["server"]["id"].as_str().unwrap().to_string();
    let (_, v) = e
        .get(&format!("{b}/compute/v2.1/servers/{id}"), MEMBER)
        .await;
    assert_eq!(v["server"]["status"], "BUILD");
    let srv = e.wait_status(0, MEMBER, &id, "ACTIVE").await;
    assert_eq!(srv["name"], name);
    let (_, _, full) = e
        .call(
            "GET",
            &format!("{b}/compute/v2.1/servers/{id}"),
            MEMBER,
            None,
            Some("2.100"),
        )
        .await;
    let full = &full["server"];
    assert_eq!(full["metadata"]["cascade:top_id"], "top-1234");
    assert_eq!(full["OS-EXT-AZ:availability_zone"], "nova-az");
    assert_eq!(full["flavor"]["original_name"], "m1.tiny");
    assert_eq!(full["image"], "");
    assert_eq!(
        full["os-extended-volumes:volumes_attached"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let addr = &full["addresses"]["net1"][0];
    assert_eq!(addr["version"], 4);
    assert!(addr["addr"].as_str().unwrap().starts_with("10.1.0."));
    assert!(full["created"].as_str().unwrap().ends_with('Z'));
    // The port Nova created.
    let (_, ports) = e
        .get(&format!("{b}/network/v2.0/ports?device_id={id}"), MEMBER)
        .await;
    assert_eq!(ports["ports"][0]["device_owner"], "compute:nova-az");
    // Actions.
    let act = format!("{b}/compute/v2.1/servers/{id}/action");
    assert_eq!(e.post(&act, MEMBER, json!({"os-stop": null})).await.0, 202);
    let (_, v) = e
        .get(&format!("{b}/compute/v2.1/servers/{id}"), MEMBER)
        .await;
    assert_eq!(v["server"]["OS-EXT-STS:task_state"], "powering-off");
    let srv = e.wait_status(0, MEMBER, &id, "SHUTOFF").await;
    assert_eq!(srv["OS-EXT-STS:power_state"], 4);
    let (s, v) = e.post(&act, MEMBER, json!({"os-stop": null})).await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["conflictingRequest"]["message"]
            .as_str()
            .unwrap()
            .contains("vm_state stopped")
    );
    assert_eq!(e.post(&act, MEMBER, json!({"os-start": null})).await.0, 202);
    e.wait_status(0, MEMBER, &id, "ACTIVE").await;
    assert_eq!(e.post(&act, MEMBER, json!({"lock": null})).await.0, 202);
    assert_eq!(
        e.post(&act, MEMBER, json!({"reboot": {"type": "SOFT"}}))
            .await
            .0,
        409
    );
    let (s, _, _) = e
        .call(
            "DELETE",
            &format!("{b}/compute/v2.1/servers/{id}"),
            MEMBER,
            None,
            None,
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(e.post(&act, MEMBER, json!({"unlock": null})).await.0, 202);
    assert_eq!(
        e.post(&act, MEMBER, json!({"resize": {"flavorRef": "2"}}))
            .await
            .0,
        202
    );
    e.wait_status(0, MEMBER, &id, "VERIFY_RESIZE").await;
    assert_eq!(
        e.post(&act, MEMBER, json!({"revertResize": null})).await.0,
        202
    );
    let srv = e.wait_status(0, MEMBER, &id, "ACTIVE").await;
    assert_eq!(srv["flavor"]["id"], "1");
    // Other tenants see nothing.
    assert_eq!(
        e.get(&format!("{b}/compute/v2.1/servers/{id}"), OTHER)
            .await
            .0,
        404
    );
    let (s, _, _) = e
        .call(
            "DELETE",
            &format!("{b}/compute/v2.1/servers/{id}"),
            MEMBER,
            None,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, v) = e
        .get(&format!("{b}/compute/v2.1/servers/{id}"), MEMBER)
        .await;
    assert_eq!((s, v["itemNotFound"]["code"].clone()), (404, json!(404)));
    let (_, ports) = e
        .get(&format!("{b}/network/v2.0/ports?device_id={id}"), MEMBER)
        .await;
    assert_eq!(ports["ports"].as_array().unwrap().len(), 0);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn listing_paging_filters_and_changes_since() {
    let e = env(vec![RegionSpec::new("r1", "az1").instant()]).await;
    let b = e.base(0);
    let mut ids = vec![];
    for i in 0..7 {
        let (s, v) = e.post(&format!("{b}/compute/v2.1/servers"), MEMBER, json!({"server": {"name": format!("web-{i}@t{i}"), "flavorRef": "1", "imageRef": cirros(&e).await}})).await;
        assert_eq!(s, 202, "{v}");
        ids.push(v["server"]["id"].as_str().unwrap().to_string());
    }
    e.post(
        &format!("{b}/compute/v2.1/servers"),
        OTHER,
        json!({"server": {"name": "db", "flavorRef": "1", "imageRef": cirros(&e).await}}),
    )
    .await;
    // Pages of 3, newest first, following the next links.
    let mut url = format!("{b}/compute/v2.1/servers/detail?limit=3");
    let mut seen = vec![];
    loop {
        let (s, v) = e.get(&url, MEMBER).await;
        assert_eq!(s, 200, "{v}");
        for srv in v["servers"].as_array().unwrap() {
            seen.push(srv["id"].as_str().unwrap().to_string());
        }
        match v["servers_links"][0]["href"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    let mut expect = ids.clone();
    expect.reverse();
    assert_eq!(seen, expect);
    let (_, v) = e
        .get(&format!("{b}/compute/v2.1/servers?name=web-[12]@"), MEMBER)
        .await;
    assert_eq!(v["servers"].as_array().unwrap().len(), 2);
    let (_, v) = e
        .get(
            &format!("{b}/compute/v2.1/servers?sort_key=display_name&sort_dir=asc"),
            MEMBER,
        )
        .await;
    assert_eq!(v["servers"][0]["name"], "web-0@t0");
    assert_eq!(
        e.get(&format!("{b}/compute/v2.1/servers?marker=nope"), MEMBER)
            .await
            .0,
        400
    );
    let (_, v) = e
        .get(
            &format!("{b}/compute/v2.1/servers/detail?all_tenants=1"),
            ADMIN,
        )
        .await;
    assert_eq!(v["servers"].as_array().unwrap().len(), 8);
    let (_, v) = e
        .get(
            &format!("{b}/compute/v2.1/servers/detail?all_tenants=1"),
            MEMBER,
        )
        .await;
    assert_eq!(v["servers"].as_array().unwrap().len(), 7);
    // changes-since sees updates and deletions.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    e.put(
        &format!("{b}/compute/v2.1/servers/{}", ids[0]),
        MEMBER,
        json!({"server": {"name": "renamed"}}),
    )
    .await;
    e.call(
        "DELETE",
        &format!("{b}/compute/v2.1/servers/{}", ids[1]),
        MEMBER,
        None,
        None,
    )
    .await;
    let (_, v) = e
        .get(
            &format!("{b}/compute/v2.1/servers/detail?changes-since={since}"),
            MEMBER,
        )
        .await;
    let changed: Vec<(String, String)> = v["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().into(),
                s["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(changed.contains(&(ids[1].clone(), "DELETED".into())));
    assert!(changed.iter().any(|(i, _)| i == &ids[0]));
    e.sim.shutdown().await;
}

async fn cirros(e: &Env) -> String {
    let (_, v) = e
        .get(&format!("{}/image/v2/images", e.base(0)), MEMBER)
        .await;
    v["images"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn microversions_flavors_capacity_and_misc() {
    let e = env(vec![
        RegionSpec::new("r1", "az1")
            .instant()
            .with_capacity(2, 4096, 100),
    ])
    .await;
    let b = e.base(0);
    let (s, _, v) = e
        .call(
            "GET",
            &format!("{b}/compute/v2.1/servers"),
            MEMBER,
            None,
            Some("2.500"),
        )
        .await;
    assert_eq!(s, 406, "{v}");
    let (s, h, _) = e
        .call(
            "GET",
            &format!("{b}/compute/v2.1/servers"),
            MEMBER,
            None,
            None,
        )
        .await;
    assert_eq!(
        (s, h["x-openstack-nova-api-version"].to_str().unwrap()),
        (200, "2.1")
    );
    // Flavors: admin only create, with a chosen id, listed with is_public=None.
    let body =
        json!({"flavor": {"name": "big", "ram": 4096, "vcpus": 2, "disk": 10, "id": "big-1"}});
    assert_eq!(
        e.post(&format!("{b}/compute/v2.1/flavors"), MEMBER, body.clone())
            .await
            .0,
        403
    );
    let (s, v) = e
        .post(&format!("{b}/compute/v2.1/flavors"), ADMIN, body.clone())
        .await;
    assert_eq!((s, v["flavor"]["id"].clone()), (200, json!("big-1")));
    assert_eq!(
        e.post(&format!("{b}/compute/v2.1/flavors"), ADMIN, body)
            .await
            .0,
        409
    );
    e.post(
        &format!("{b}/compute/v2.1/flavors/big-1/os-extra_specs"),
        ADMIN,
        json!({"extra_specs": {"hw:cpu_policy": "dedicated"}}),
    )
    .await;
    let (_, _, v) = e
        .call(
            "GET",
            &format!("{b}/compute/v2.1/flavors/detail?is_public=None"),
            ADMIN,
            None,
            Some("2.61"),
        )
        .await;
    let big = v["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "big-1")
        .unwrap()
        .clone();
    assert_eq!(big["extra_specs"]["hw:cpu_policy"], "dedicated");
    assert_eq!(
        e.get(&format!("{b}/compute/v2.1/flavors/nope"), MEMBER)
            .await
            .0,
        404
    );
    // Capacity: the first big server fits, the second goes to ERROR with Nova's fault.
    let image = cirros(&e).await;
    let mk = |n: &str| json!({"server": {"name": n, "flavorRef": "big-1", "imageRef": image, "networks": "none"}});
    let (_, _, v1) = e
        .call(
            "POST",
            &format!("{b}/compute/v2.1/servers"),
            MEMBER,
            Some(mk("a")),
            Some("2.60"),
        )
        .await;
    let (_, _, v2) = e
        .call(
            "POST",
            &format!("{b}/compute/v2.1/servers"),
            MEMBER,
            Some(mk("b")),
            Some("2.60"),
        )
        .await;
    e.wait_status(0, MEMBER, v1["server"]["id"].as_str().unwrap(), "ACTIVE")
        .await;
    let err = e
        .wait_status(0, MEMBER, v2["server"]["id"].as_str().unwrap(), "ERROR")
        .await;
    assert!(
        err["fault"]["message"]
            .as_str()
            .unwrap()
            .starts_with("No valid host was found")
    );
    let (_, v) = e
        .get(
            &format!("{b}/compute/v2.1/os-hypervisors/statistics"),
            ADMIN,
        )
        .await;
    assert_eq!(v["hypervisor_statistics"]["vcpus_used"], 2);
    let (_, v) = e.get(&format!("{b}/compute/v2.1/limits"), MEMBER).await;
    assert_eq!(v["limits"]["absolute"]["totalInstancesUsed"], 2);
    let (_, v) = e
        .get(&format!("{b}/compute/v2.1/os-availability-zone"), MEMBER)
        .await;
    assert_eq!(v["availabilityZoneInfo"][0]["zoneName"], "az1");
    // Capacity-exhaustion fault.
    e.sim
        .set_faults(
            "r1",
            FaultSpec {
                capacity_exhausted: true,
                ..FaultSpec::none()
            },
        )
        .await
        .unwrap();
    let (_, _, v3) = e.call("POST", &format!("{b}/compute/v2.1/servers"), MEMBER, Some(json!({"server": {"name": "c", "flavorRef": "1", "imageRef": image, "networks": "none"}})), Some("2.60")).await;
    e.wait_status(0, MEMBER, v3["server"]["id"].as_str().unwrap(), "ERROR")
        .await;
    // Keypairs.
    let (s, v) = e
        .post(
            &format!("{b}/compute/v2.1/os-keypairs"),
            MEMBER,
            json!({"keypair": {"name": "k1"}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["keypair"]["private_key"].is_string());
    assert_eq!(
        e.post(
            &format!("{b}/compute/v2.1/os-keypairs"),
            MEMBER,
            json!({"keypair": {"name": "k1"}})
        )
        .await
        .0,
        409
    );
    // Networks are required from 2.37.
    let (s, _, _) = e
        .call(
            "POST",
            &format!("{b}/compute/v2.1/servers"),
            MEMBER,
            Some(json!({"server": {"name": "x", "flavorRef": "1", "imageRef": image}})),
            Some("2.37"),
        )
        .await;
    assert_eq!(s, 400);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn hundred_regions_in_one_process_and_persistence() {
    let regions: Vec<RegionSpec> = (0..100)
        .map(|i| RegionSpec::new(format!("R{i}"), format!("az{i}")).instant())
        .collect();
    let e = env(regions).await;
    assert_eq!(e.sim.regions().len(), 100);
    let last = e.base(99);
    assert_eq!(
        e.get(&format!("{last}/compute/v2.1/servers"), MEMBER)
            .await
            .0,
        200
    );
    e.sim.shutdown().await;

    let dir = std::env::temp_dir().join(format!("sim-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let _ = std::fs::remove_file(&file);
    let (url, _idp) =
        cascade_sim::testing::fake_identity(vec![cascade_sim::testing::FakeToken::member(
            MEMBER, "proj-a",
        )])
        .await;
    let mut cfg =
        cascade_sim::SimConfig::new(url.clone(), vec![RegionSpec::new("p1", "az").instant()]);
    cfg.state_file = Some(file.clone());
    let sim = cascade_sim::start(cfg.clone()).await.unwrap();
    let b = sim.regions()[0].base_url.clone();
    let http = reqwest::Client::new();
    let r: serde_json::Value = http
        .post(format!("{b}/network/v2.0/networks"))
        .header("X-Auth-Token", MEMBER)
        .json(&json!({"network": {"name": "kept"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let nid = r["network"]["id"].as_str().unwrap().to_string();
    sim.shutdown().await;
    let sim = cascade_sim::start(cfg).await.unwrap();
    let b = sim.regions()[0].base_url.clone();
    let r = http
        .get(format!("{b}/network/v2.0/networks/{nid}"))
        .header("X-Auth-Token", MEMBER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
