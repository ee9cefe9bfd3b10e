//! Nova's admin infrastructure APIs through a real `cascade serve` in front of two simulated
//! regions: `os-hypervisors` (ids per microversion, `cpu_info`, `with_servers`, search, uptime,
//! statistics, 2.88), `os-services` (filters, 2.53 update), `os-hosts`, a down pod left out of
//! the lists, quota classes and quota delete, the usage audit log, `os-migrations`, admin
//! server actions, external events and diagnostics, checked against Tempest's schemas.

mod fidelity;
mod support;

use fidelity::*;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

async fn get(e: &Env, path: &str, tok: &str, mv: &str) -> Reply {
    nova(e, Method::GET, path, tok, None, mv).await
}

fn names(list: &Value, key: &str) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[key].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// A tenant with a network, a flavor and an ACTIVE server in `az1`; returns its token and id.
async fn server(e: &Env, name: &str) -> (Tenant, String) {
    let t = tenant(
        &e.c.url,
        &e.admin,
        name,
        &format!("{name}u"),
        Some("member"),
    )
    .await;
    let img = image(e).await;
    let r = nova(e, Method::POST, "/flavors", &e.admin,
        Some(json!({"flavor": {"name": format!("{name}-f"), "id": format!("{name}-f"), "vcpus": 2, "ram": 256, "disk": 1}})), "2.61").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let net = neutron(
        e,
        Method::POST,
        "/networks",
        &t.token,
        Some(json!({"network": {"name": "n"}})),
    )
    .await;
    let net_id = net.body["network"]["id"].as_str().unwrap().to_string();
    let r = neutron(
        e,
        Method::POST,
        "/subnets",
        &t.token,
        Some(json!({"subnet": {"network_id": net_id, "cidr": "10.55.0.0/24", "ip_version": 4}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = nova(
        e,
        Method::POST,
        "/servers",
        &t.token,
        Some(json!({"server": {
        "name": "s", "flavorRef": format!("{name}-f"), "imageRef": img,
        "networks": [{"uuid": net_id}], "availability_zone": "az1"}})),
        "2.100",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    assert!(wait_status(e, &t.token, &id, "ACTIVE").await);
    (t, id)
}

#[tokio::test]
async fn hypervisors_services_and_hosts_across_pods() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let a = e.admin.clone();
    let (t, sid) = server(&e, "hyp").await;

    // The server's host as the top names it, shown to admins and filtered on.
    let shown = eventually(std::time::Duration::from_secs(10), || async {
        get(&e, &format!("/servers/{sid}"), &a, "2.1").await.body["server"]["OS-EXT-SRV-ATTR:host"]
            == "Pod1-compute@Pod1"
    })
    .await;
    assert!(shown, "host never shown");
    let r = get(
        &e,
        "/servers?all_tenants=1&host=Pod1-compute@Pod1",
        &a,
        "2.1",
    )
    .await;
    assert_eq!(r.body["servers"][0]["id"], sid.as_str(), "{}", r.text);
    let r = get(
        &e,
        "/servers?all_tenants=1&host=nonexistent_host",
        &a,
        "2.1",
    )
    .await;
    assert_eq!(r.body["servers"], json!([]), "{}", r.text);

    // Admin only, with Nova's policy fault.
    for path in [
        "/os-hypervisors",
        "/os-hypervisors/detail",
        "/os-hypervisors/statistics",
        "/os-services",
        "/os-hosts",
    ] {
        let r = get(&e, path, &t.token, "2.1").await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
        assert!(
            r.body["forbidden"]["message"].is_string(),
            "{path}: {}",
            r.text
        );
    }

    // Below 2.53: integer ids, host names qualified by region, cpu_info a string before 2.28.
    let r = get(&e, "/os-hypervisors", &a, "2.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body["hypervisors"].clone();
    assert_eq!(
        names(&list, "hypervisor_hostname"),
        ["Pod1-compute@Pod1", "Pod2-compute@Pod2"]
    );
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1]);
    let d = get(&e, "/os-hypervisors/detail", &a, "2.27").await;
    assert!(
        d.body["hypervisors"][0]["cpu_info"].is_string(),
        "{}",
        d.text
    );
    assert!(
        d.body["hypervisors"][0]["service"]["id"].is_i64(),
        "{}",
        d.text
    );
    let d = get(&e, "/os-hypervisors/detail", &a, "2.28").await;
    assert!(
        d.body["hypervisors"][0]["cpu_info"].is_object(),
        "{}",
        d.text
    );
    let show = get(&e, &format!("/os-hypervisors/{}", ids[0]), &a, "2.1").await;
    assert_eq!(show.status, 200, "{}", show.text);
    assert_eq!(show.body["hypervisor"]["id"], ids[0]);
    // The same integer ids on every read.
    let again = get(&e, "/os-hypervisors", &a, "2.1").await;
    assert_eq!(again.body["hypervisors"], list);
    let up = get(&e, &format!("/os-hypervisors/{}/uptime", ids[0]), &a, "2.1").await;
    assert!(up.body["hypervisor"]["uptime"].is_string(), "{}", up.text);
    let s = get(&e, "/os-hypervisors/Pod2/search", &a, "2.1").await;
    assert_eq!(
        names(&s.body["hypervisors"], "hypervisor_hostname"),
        ["Pod2-compute@Pod2"]
    );
    let s = get(&e, "/os-hypervisors/Pod1-compute@Pod1/servers", &a, "2.1").await;
    assert_eq!(
        s.body["hypervisors"][0]["servers"][0]["uuid"],
        sid.as_str(),
        "{}",
        s.text
    );
    assert_eq!(
        get(&e, "/os-hypervisors/nothing/search", &a, "2.1")
            .await
            .status,
        404
    );
    assert_eq!(
        get(&e, "/os-hypervisors/Pod2/search", &a, "2.53")
            .await
            .status,
        404
    );
    let st = get(&e, "/os-hypervisors/statistics", &a, "2.1").await;
    assert_eq!(st.body["hypervisor_statistics"]["count"], 2, "{}", st.text);
    assert_eq!(st.body["hypervisor_statistics"]["vcpus"], 2000);
    assert_eq!(st.body["hypervisor_statistics"]["vcpus_used"], 2);

    // From 2.53: UUIDs, and the top's servers with `with_servers`.
    let r = get(&e, "/os-hypervisors/detail?with_servers=true", &a, "2.53").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pod1 = r.body["hypervisors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hypervisor_hostname"] == "Pod1-compute@Pod1")
        .unwrap()
        .clone();
    let uuid = pod1["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&uuid).is_ok());
    assert!(uuid::Uuid::parse_str(pod1["service"]["id"].as_str().unwrap()).is_ok());
    assert_eq!(pod1["servers"], json!([{"uuid": sid, "name": "s"}]));
    let show = get(&e, &format!("/os-hypervisors/{uuid}"), &a, "2.53").await;
    assert_eq!(
        show.body["hypervisor"]["hypervisor_hostname"],
        "Pod1-compute@Pod1"
    );
    assert_eq!(
        get(
            &e,
            &format!("/os-hypervisors/{}", uuid::Uuid::new_v4()),
            &a,
            "2.53"
        )
        .await
        .status,
        404
    );
    assert_eq!(get(&e, "/os-hypervisors/1", &a, "2.53").await.status, 400);
    let p = get(
        &e,
        "/os-hypervisors?hypervisor_hostname_pattern=Pod2",
        &a,
        "2.53",
    )
    .await;
    assert_eq!(
        names(&p.body["hypervisors"], "hypervisor_hostname"),
        ["Pod2-compute@Pod2"]
    );
    // 2.88: usage fields gone, uptime in the detail, statistics gone.
    let r = get(&e, &format!("/os-hypervisors/{uuid}"), &a, "2.88").await;
    assert!(r.body["hypervisor"].get("vcpus").is_none(), "{}", r.text);
    assert!(r.body["hypervisor"]["uptime"].is_string(), "{}", r.text);
    assert_eq!(
        get(&e, "/os-hypervisors/statistics", &a, "2.88")
            .await
            .status,
        404
    );

    // Services: the pods' own, filtered, zones the top's; 2.53 update through the pod.
    let r = get(&e, "/os-services", &a, "2.1").await;
    assert_eq!(
        r.body["services"].as_array().unwrap().len(),
        6,
        "{}",
        r.text
    );
    assert!(r.body["services"][0].get("forced_down").is_none());
    let r = get(&e, "/os-services?binary=nova-compute", &a, "2.11").await;
    let computes = r.body["services"].as_array().unwrap().clone();
    assert_eq!(computes.len(), 2);
    assert_eq!(names(&r.body["services"], "zone"), ["az1", "az2"]);
    assert_eq!(computes[0]["forced_down"], false);
    let r = get(
        &e,
        "/os-services?host=Pod1-compute@Pod1&binary=xxx",
        &a,
        "2.1",
    )
    .await;
    assert_eq!(r.body["services"], json!([]));
    let r = get(
        &e,
        "/os-services?binary=nova-compute&host=Pod1-compute@Pod1",
        &a,
        "2.53",
    )
    .await;
    let svc = r.body["services"][0]["id"].as_str().unwrap().to_string();
    let r = nova(
        &e,
        Method::PUT,
        &format!("/os-services/{svc}"),
        &a,
        Some(json!({"status": "disabled", "disabled_reason": "maintenance"})),
        "2.53",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["service"]["status"], "disabled");
    assert_eq!(r.body["service"]["host"], "Pod1-compute@Pod1");
    let h = get(&e, &format!("/os-hypervisors/{uuid}"), &a, "2.53").await;
    assert_eq!(h.body["hypervisor"]["status"], "disabled");
    let r = nova(
        &e,
        Method::PUT,
        &format!("/os-services/{svc}"),
        &a,
        Some(json!({"status": "enabled"})),
        "2.53",
    )
    .await;
    assert_eq!(r.body["service"]["status"], "enabled", "{}", r.text);
    let r = nova(
        &e,
        Method::PUT,
        &format!("/os-services/{}", uuid::Uuid::new_v4()),
        &a,
        Some(json!({"status": "enabled"})),
        "2.53",
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = nova(
        &e,
        Method::PUT,
        "/os-services/disable",
        &a,
        Some(json!({"host": "Pod2-compute@Pod2", "binary": "nova-compute"})),
        "2.1",
    )
    .await;
    assert_eq!(
        r.body,
        json!({"service": {"host": "Pod2-compute@Pod2", "binary": "nova-compute", "status": "disabled"}}),
        "{}",
        r.text
    );
    nova(
        &e,
        Method::PUT,
        "/os-services/enable",
        &a,
        Some(json!({"host": "Pod2-compute@Pod2", "binary": "nova-compute"})),
        "2.1",
    )
    .await;

    // os-hosts, derived from the services; gone at 2.43.
    let r = get(&e, "/os-hosts", &a, "2.1").await;
    assert_eq!(r.body["hosts"].as_array().unwrap().len(), 6, "{}", r.text);
    let r = get(&e, "/os-hosts?zone=az1", &a, "2.1").await;
    assert_eq!(
        r.body["hosts"],
        json!([{"host_name": "Pod1-compute@Pod1", "service": "compute", "zone": "az1"}])
    );
    let r = get(&e, "/os-hosts/Pod1-compute@Pod1", &a, "2.1").await;
    let rows = r.body["host"].as_array().unwrap();
    assert_eq!(rows[0]["resource"]["project"], "(total)");
    assert_eq!(rows[0]["resource"]["cpu"], 1000);
    assert_eq!(
        rows[3]["resource"]["project"],
        t.project_id.as_str(),
        "{}",
        r.text
    );
    assert_eq!(
        get(&e, "/os-hosts/nonexistent", &a, "2.1").await.status,
        404
    );
    assert_eq!(get(&e, "/os-hosts", &a, "2.43").await.status, 404);

    // A down pod is left out; the others still answer.
    e.sim.set_down("Pod2", true).await.unwrap();
    let r = get(&e, "/os-hypervisors", &a, "2.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        names(&r.body["hypervisors"], "hypervisor_hostname"),
        ["Pod1-compute@Pod1"]
    );
    assert_eq!(
        get(&e, "/os-services", &a, "2.1").await.body["services"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    e.sim.set_down("Pod2", false).await.unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn quota_classes_audit_log_and_admin_server_actions() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let a = e.admin.clone();
    let (t, sid) = server(&e, "adm").await;

    // Quota classes: the default class is every project's defaults; a quota delete resets.
    let r = get(&e, "/os-quota-class-sets/default", &a, "2.1").await;
    assert_eq!(r.body["quota_class_set"]["id"], "default", "{}", r.text);
    assert!(r.body["quota_class_set"].get("server_groups").is_none());
    let r = get(&e, "/os-quota-class-sets/default", &a, "2.57").await;
    assert!(r.body["quota_class_set"].get("injected_files").is_none());
    assert!(r.body["quota_class_set"].get("server_groups").is_some());
    let r = nova(
        &e,
        Method::PUT,
        "/os-quota-class-sets/default",
        &a,
        Some(json!({"quota_class_set": {"ram": 60000}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["quota_class_set"].get("id").is_none());
    let p = &t.project_id;
    let d = get(&e, &format!("/os-quota-sets/{p}/defaults"), &a, "2.1").await;
    assert_eq!(d.body["quota_set"]["ram"], 60000);
    nova(
        &e,
        Method::PUT,
        &format!("/os-quota-sets/{p}"),
        &a,
        Some(json!({"quota_set": {"ram": 5120}})),
        "2.1",
    )
    .await;
    let r = nova(
        &e,
        Method::DELETE,
        &format!("/os-quota-sets/{p}"),
        &a,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        get(&e, &format!("/os-quota-sets/{p}"), &a, "2.1")
            .await
            .body["quota_set"]["ram"],
        60000
    );
    assert_eq!(
        get(&e, "/os-quota-class-sets/default", &t.token, "2.1")
            .await
            .status,
        403
    );

    // The usage audit log of both pods, hosts qualified; Nova's 400 for a bad time.
    let r = get(&e, "/os-instance_usage_audit_log", &a, "2.1").await;
    let log = &r.body["instance_usage_audit_logs"];
    assert_eq!(log["num_hosts"], 2, "{}", r.text);
    assert_eq!(log["overall_status"], "0 of 2 hosts done. 0 errors.");
    let r = get(
        &e,
        "/os-instance_usage_audit_log/2026-01-15%2010%3A00%3A00",
        &a,
        "2.1",
    )
    .await;
    assert_eq!(
        r.body["instance_usage_audit_log"]["period_beginning"], "2025-12-01 00:00:00",
        "{}",
        r.text
    );
    assert_eq!(
        get(&e, "/os-instance_usage_audit_log/invalid_time", &a, "2.1")
            .await
            .status,
        400
    );
    assert_eq!(
        get(&e, "/os-migrations", &a, "2.1").await.body,
        json!({"migrations": []})
    );

    // Admin actions: reset state (403 to the owner), inject network info, diagnostics.
    let act = |body: Value, tok: String| {
        let e = &e;
        let sid = sid.clone();
        async move {
            nova(
                e,
                Method::POST,
                &format!("/servers/{sid}/action"),
                &tok,
                Some(body),
                "2.1",
            )
            .await
        }
    };
    assert_eq!(
        act(
            json!({"os-resetState": {"state": "error"}}),
            t.token.clone()
        )
        .await
        .status,
        403
    );
    let r = act(json!({"os-resetState": {"state": "error"}}), a.clone()).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let l = get(&e, "/servers?status=error", &t.token, "2.1").await;
    assert_eq!(l.body["servers"][0]["id"], sid.as_str(), "{}", l.text);
    assert_eq!(
        act(json!({"os-resetState": {"state": "active"}}), a.clone())
            .await
            .status,
        202
    );
    assert!(wait_status(&e, &t.token, &sid, "ACTIVE").await);
    assert_eq!(
        act(json!({"injectNetworkInfo": null}), a.clone())
            .await
            .status,
        202
    );
    assert_eq!(act(json!({"restore": null}), a.clone()).await.status, 409);
    let r = get(&e, &format!("/servers/{sid}/diagnostics"), &a, "2.48").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["memory_details"]["maximum"], 256);
    assert_eq!(r.body["num_cpus"], 2);
    assert_eq!(
        get(&e, &format!("/servers/{sid}/diagnostics"), &t.token, "2.48")
            .await
            .status,
        403
    );

    // External events reach the server's pod; an unknown server alone is a 404.
    let ev = |events: Value| {
        let e = &e;
        let a = a.clone();
        async move {
            nova(
                e,
                Method::POST,
                "/os-server-external-events",
                &a,
                Some(json!({"events": events})),
                "2.1",
            )
            .await
        }
    };
    let r = ev(json!([{"name": "network-changed", "server_uuid": sid}])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["events"][0]["code"], 200);
    assert_eq!(r.body["events"][0]["status"], "completed");
    let ghost = uuid::Uuid::new_v4().to_string();
    let r = ev(json!([{"name": "network-changed", "server_uuid": sid}, {"name": "network-changed", "server_uuid": ghost}])).await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(r.body["events"][1]["code"], 404);
    assert_eq!(
        ev(json!([{"name": "network-changed", "server_uuid": ghost}]))
            .await
            .status,
        404
    );
    db.cleanup().await;
}
