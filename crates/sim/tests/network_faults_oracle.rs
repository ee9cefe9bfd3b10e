//! Neutron, fault injection and the reachability oracle over loopback HTTP.

mod common;

use cascade_sim::{FaultSpec, PortRef, ReachQuery, RegionSpec};
use common::*;
use serde_json::json;

#[tokio::test]
async fn ports_ipam_conflicts_filters_and_tags() {
    let e = env(vec![RegionSpec::new("r1", "az1").instant()]).await;
    let b = e.base(0);
    let (net, sub) = e.net(0, MEMBER, "n1", "10.2.0.0/24", json!({})).await;
    let p = e.port(0, MEMBER, json!({"network_id": net, "fixed_ips": [{"ip_address": "10.2.0.50"}], "mac_address": "fa:16:3e:00:00:01", "name": "a"})).await;
    assert_eq!(p["fixed_ips"][0]["subnet_id"], sub.as_str());
    let (s, v) = e
        .post(
            &format!("{b}/network/v2.0/ports"),
            MEMBER,
            json!({"port": {"network_id": net, "fixed_ips": [{"ip_address": "10.2.0.50"}]}}),
        )
        .await;
    assert_eq!(
        (s, v["NeutronError"]["type"].as_str().unwrap()),
        (409, "IpAddressAlreadyAllocated")
    );
    let (s, v) = e
        .post(
            &format!("{b}/network/v2.0/ports"),
            MEMBER,
            json!({"port": {"network_id": net, "mac_address": "fa:16:3e:00:00:01"}}),
        )
        .await;
    assert_eq!(
        (s, v["NeutronError"]["type"].as_str().unwrap()),
        (409, "MacAddressInUse")
    );
    let auto = e
        .port(0, MEMBER, json!({"network_id": net, "name": "b"}))
        .await;
    assert_eq!(auto["fixed_ips"][0]["ip_address"], "10.2.0.2");
    let (_, v) = e
        .get(
            &format!(
                "{b}/network/v2.0/ports?fixed_ips=ip_address%3D10.2.0.50&fields=id&fields=name"
            ),
            MEMBER,
        )
        .await;
    assert_eq!(v["ports"], json!([{"id": p["id"], "name": "a"}]));
    let (s, _) = e
        .put(
            &format!("{b}/network/v2.0/ports/{}/tags", p["id"].as_str().unwrap()),
            MEMBER,
            json!({"tags": ["top:1"]}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, v) = e
        .get(&format!("{b}/network/v2.0/ports?tags=top:1"), MEMBER)
        .await;
    assert_eq!(v["ports"].as_array().unwrap().len(), 1);
    let (_, v) = e
        .get(
            &format!("{b}/network/v2.0/ports?limit=1&sort_key=name&sort_dir=asc"),
            MEMBER,
        )
        .await;
    assert_eq!(v["ports"][0]["name"], "a");
    assert!(
        v["ports_links"][0]["href"]
            .as_str()
            .unwrap()
            .contains("marker=")
    );
    // Provider attributes are admin-only, and visible only to admins.
    let (s, _) = e.post(&format!("{b}/network/v2.0/networks"), MEMBER, json!({"network": {"name": "x", "provider:network_type": "vlan", "provider:segmentation_id": 100}})).await;
    assert_eq!(s, 403);
    let (_, v) = e
        .get(&format!("{b}/network/v2.0/networks/{net}"), MEMBER)
        .await;
    assert!(v["network"].get("provider:segmentation_id").is_none());
    let (_, v) = e
        .get(&format!("{b}/network/v2.0/networks/{net}"), ADMIN)
        .await;
    assert_eq!(v["network"]["provider:network_type"], "vxlan");
    let (s, _, _) = e
        .call(
            "DELETE",
            &format!("{b}/network/v2.0/networks/{net}"),
            MEMBER,
            None,
            None,
        )
        .await;
    assert_eq!(s, 409);
    let (_, v) = e
        .get(&format!("{b}/network/v2.0/networks/nope"), MEMBER)
        .await;
    assert_eq!(v["NeutronError"]["type"], "NetworkNotFound");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn faults_down_error_rate_latency() {
    let e = env(vec![
        RegionSpec::new("r1", "az1").instant(),
        RegionSpec::new("r2", "az2").instant(),
    ])
    .await;
    let (b1, b2) = (e.base(0), e.base(1));
    let url = format!("{b1}/compute/v2.1/servers");
    e.sim.set_faults("r1", FaultSpec::down()).await.unwrap();
    let fresh = reqwest::Client::new();
    assert!(
        fresh.get(&url).send().await.unwrap_err().is_connect(),
        "connection refused while down"
    );
    assert_eq!(
        e.get(&format!("{b2}/compute/v2.1/servers"), MEMBER).await.0,
        200,
        "other regions unaffected"
    );
    // Cleared through another region's admin API: same port again.
    let r = e
        .http
        .delete(format!("{b2}/sim/regions/r1/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(e.get(&url, MEMBER).await.0, 200);
    // Error rate 1.0 on a prefix, in the service's format.
    let r = e
        .http
        .post(format!("{b1}/sim/faults"))
        .json(&json!({"errors": [{"prefix": "/compute", "rate": 1.0, "status": 503}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, v) = e.get(&url, MEMBER).await;
    assert_eq!(
        (s, v["serviceUnavailable"]["code"].clone()),
        (503, json!(503))
    );
    assert_eq!(
        e.get(&format!("{b1}/network/v2.0/networks"), MEMBER)
            .await
            .0,
        200
    );
    let v: serde_json::Value = e
        .http
        .get(format!("{b1}/sim/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["faults"]["errors"][0]["status"], 503);
    // Latency.
    e.sim
        .set_faults("r1", FaultSpec::latency_ms(150))
        .await
        .unwrap();
    let t = std::time::Instant::now();
    assert_eq!(e.get(&url, MEMBER).await.0, 200);
    assert!(t.elapsed() >= std::time::Duration::from_millis(150));
    // Hang: no answer until cleared.
    e.sim.set_faults("r1", FaultSpec::hang()).await.unwrap();
    let slow = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        e.http.get(&url).header("X-Auth-Token", MEMBER).send(),
    )
    .await;
    assert!(slow.is_err(), "hung request must not answer");
    e.sim.clear_faults("r1").await.unwrap();
    assert_eq!(e.get(&url, MEMBER).await.0, 200);
    e.sim.shutdown().await;
}

fn q(ra: &str, a: &str, rb: &str, b: &str, proto: &str, port: Option<u16>) -> ReachQuery {
    ReachQuery {
        from: PortRef::new(ra, a),
        to: PortRef::new(rb, b),
        protocol: proto.into(),
        port,
    }
}

fn id(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn oracle_same_network_routed_blocked_isolated() {
    let e = env(vec![RegionSpec::new("r1", "az1").instant()]).await;
    let b = e.base(0);
    let (n1, s1) = e.net(0, MEMBER, "n1", "10.10.0.0/24", json!({})).await;
    let (n2, s2) = e.net(0, MEMBER, "n2", "10.20.0.0/24", json!({})).await;
    let (n3, _) = e.net(0, MEMBER, "n3", "10.30.0.0/24", json!({})).await;
    let a = id(&e.port(0, MEMBER, json!({"network_id": n1})).await);
    let a2 = id(&e.port(0, MEMBER, json!({"network_id": n1})).await);
    let c = id(&e.port(0, MEMBER, json!({"network_id": n2})).await);
    let iso = id(&e.port(0, MEMBER, json!({"network_id": n3})).await);
    // Default SG: ingress only from members of the same group, so same-network works.
    let r = e
        .sim
        .can_reach(&q("r1", &a, "r1", &a2, "tcp", Some(22)))
        .unwrap();
    assert!(r.reachable, "{r:?}");
    assert_eq!(r.reason, "same-segment");
    // Different networks without a router: no path.
    assert_eq!(
        e.sim
            .can_reach(&q("r1", &a, "r1", &c, "tcp", Some(22)))
            .unwrap()
            .reason,
        "no path"
    );
    // Router with interfaces on both subnets.
    let (_, r) = e
        .post(
            &format!("{b}/network/v2.0/routers"),
            MEMBER,
            json!({"router": {"name": "r"}}),
        )
        .await;
    let rid = id(&r["router"]);
    for s in [&s1, &s2] {
        let (st, v) = e
            .put(
                &format!("{b}/network/v2.0/routers/{rid}/add_router_interface"),
                MEMBER,
                json!({"subnet_id": s}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let r = e
        .sim
        .can_reach(&q("r1", &a, "r1", &c, "tcp", Some(22)))
        .unwrap();
    assert!(r.reachable, "{r:?}");
    assert!(r.reason.starts_with("routed via router"), "{}", r.reason);
    assert!(
        !e.sim
            .can_reach(&q("r1", &a, "r1", &iso, "tcp", Some(22)))
            .unwrap()
            .reachable
    );
    // A port in a custom SG with no ingress rules is blocked; opening tcp/80 lets only 80 in.
    let (_, g) = e
        .post(
            &format!("{b}/network/v2.0/security-groups"),
            MEMBER,
            json!({"security_group": {"name": "web"}}),
        )
        .await;
    let gid = id(&g["security_group"]);
    let w = id(&e
        .port(
            0,
            MEMBER,
            json!({"network_id": n2, "security_groups": [gid]}),
        )
        .await);
    let r = e
        .sim
        .can_reach(&q("r1", &a, "r1", &w, "tcp", Some(80)))
        .unwrap();
    assert_eq!(
        (r.reachable, r.reason.as_str()),
        (false, "blocked by security group")
    );
    let (s, v) = e.post(&format!("{b}/network/v2.0/security-group-rules"), MEMBER, json!({"security_group_rule": {"security_group_id": gid, "direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80, "remote_ip_prefix": "10.10.0.0/24"}})).await;
    assert_eq!(s, 201, "{v}");
    assert!(
        e.sim
            .can_reach(&q("r1", &a, "r1", &w, "tcp", Some(80)))
            .unwrap()
            .reachable
    );
    assert!(
        !e.sim
            .can_reach(&q("r1", &a, "r1", &w, "tcp", Some(81)))
            .unwrap()
            .reachable
    );
    assert!(
        !e.sim
            .can_reach(&q("r1", &c, "r1", &w, "tcp", Some(80)))
            .unwrap()
            .reachable,
        "source outside the prefix"
    );
    // Port security off disables filtering. Same answer over HTTP.
    e.put(
        &format!("{b}/network/v2.0/ports/{w}"),
        MEMBER,
        json!({"port": {"security_groups": []}}),
    )
    .await;
    let (s, v) = e
        .put(
            &format!("{b}/network/v2.0/ports/{w}"),
            MEMBER,
            json!({"port": {"port_security_enabled": false}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let v: serde_json::Value = e
        .http
        .post(format!("{b}/sim/reachability"))
        .json(&json!({"from": {"port_id": a}, "to": {"port_id": w}, "protocol": "udp", "port": 53}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["reachable"], true, "{v}");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn oracle_cross_region_shared_segment_needs_shadows() {
    let e = env(vec![
        RegionSpec::new("r1", "az1").instant(),
        RegionSpec::new("r2", "az2").instant(),
    ])
    .await;
    let seg = json!({"provider:network_type": "vxlan", "provider:segmentation_id": 5001, "shared": false});
    let mut nets = vec![];
    for i in 0..2 {
        nets.push(e.net(i, ADMIN, "l2", "10.50.0.0/24", seg.clone()).await.0);
    }
    let a = e.port(0, ADMIN, json!({"network_id": nets[0], "fixed_ips": [{"ip_address": "10.50.0.10"}], "mac_address": "fa:16:3e:aa:00:10", "port_security_enabled": false})).await;
    let b = e.port(1, ADMIN, json!({"network_id": nets[1], "fixed_ips": [{"ip_address": "10.50.0.20"}], "mac_address": "fa:16:3e:aa:00:20", "port_security_enabled": false})).await;
    let qq = q("r1", &id(&a), "r2", &id(&b), "icmp", None);
    let r = e.sim.can_reach(&qq).unwrap();
    assert!(!r.reachable && r.reason.contains("no shadow port"), "{r:?}");
    // Shadows both ways.
    e.port(0, ADMIN, json!({"network_id": nets[0], "fixed_ips": [{"ip_address": "10.50.0.20"}], "mac_address": "fa:16:3e:aa:00:20", "device_owner": "compute:shadow", "binding:profile": {"host_ip": "192.0.2.2"}, "port_security_enabled": false})).await;
    assert!(
        !e.sim.can_reach(&qq).unwrap().reachable,
        "one shadow is not enough"
    );
    e.port(1, ADMIN, json!({"network_id": nets[1], "fixed_ips": [{"ip_address": "10.50.0.10"}], "mac_address": "fa:16:3e:aa:00:10", "device_owner": "compute:shadow", "binding:profile": {"host_ip": "192.0.2.1"}, "port_security_enabled": false})).await;
    let r = e.sim.can_reach(&qq).unwrap();
    assert!(r.reachable, "{r:?}");
    assert!(r.reason.starts_with("same-segment"));
    // Tenant networks with auto-allocated ids never join across regions.
    let (t1, _) = e.net(0, MEMBER, "t", "10.60.0.0/24", json!({})).await;
    let (t2, _) = e.net(1, MEMBER, "t", "10.60.0.0/24", json!({})).await;
    let x = e.port(0, MEMBER, json!({"network_id": t1})).await;
    let y = e.port(1, MEMBER, json!({"network_id": t2})).await;
    assert_eq!(
        e.sim
            .can_reach(&q("r1", &id(&x), "r2", &id(&y), "tcp", Some(22)))
            .unwrap()
            .reason,
        "no path"
    );
    e.sim.shutdown().await;
}
