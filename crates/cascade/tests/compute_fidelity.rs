//! Nova v2.1 fidelity through a real `cascade serve` in front of two simulated regions, checked
//! against Tempest's response schemas and tests: the key sets of `PUT /servers/{id}` and
//! `rebuild`; statuses and `Location` headers of actions and tags; the requested `adminPass`;
//! the flavor after a resize; nova-network's quotas below 2.36; generated key pairs; and
//! create-time validation (the security-group proxy is in `compute_sg_proxy.rs`).

mod fidelity;
mod support;

use fidelity::*;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const BASIC_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "tenant_id",
    "user_id",
    "metadata",
    "hostId",
    "image",
    "flavor",
    "created",
    "updated",
    "addresses",
    "accessIPv4",
    "accessIPv6",
    "links",
    "OS-DCF:diskConfig",
    "progress",
    "fault",
    "locked",
    "description",
    "tags",
    "trusted_image_certificates",
    "locked_reason",
];

#[tokio::test]
async fn server_response_shapes_and_validation() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let t = tenant(&e.c.url, &e.admin, "shp", "shu", Some("member")).await;
    let tok = t.token.as_str();
    let img = image(&e).await;
    for (id, name, ram) in [("fa", "m1.a", 128), ("fb", "m1.b", 256)] {
        let r = nova(
            &e,
            Method::POST,
            "/flavors",
            &e.admin,
            Some(json!({"flavor": {"name": name, "id": id, "vcpus": 1, "ram": ram, "disk": 1}})),
            "2.61",
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let net = neutron(
        &e,
        Method::POST,
        "/networks",
        tok,
        Some(json!({"network": {"name": "n"}})),
    )
    .await;
    let net_id = net.body["network"]["id"].as_str().unwrap().to_string();
    let r = neutron(
        &e,
        Method::POST,
        "/subnets",
        tok,
        Some(json!({"subnet": {"network_id": net_id, "cidr": "10.44.0.0/24", "ip_version": 4}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Validation at create.
    let base =
        json!({"name": "v", "flavorRef": "fa", "imageRef": img, "networks": [{"uuid": net_id}]});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        json!({ "server": b })
    };
    for (body, what) in [
        (
            with("metadata", json!({"k".repeat(256): "v"})),
            "metadata key over 255",
        ),
        (
            with("metadata", json!({"k": "v".repeat(256)})),
            "metadata value over 255",
        ),
        (with("accessIPv4", json!("1.2.3")), "accessIPv4"),
        (
            with("accessIPv4", json!("::1")),
            "accessIPv4 given an IPv6 address",
        ),
        (with("accessIPv6", json!("2001:db8::zz")), "accessIPv6"),
        (
            with("networks", json!([{"uuid": "not-a-uuid"}])),
            "network id",
        ),
    ] {
        let r = nova(&e, Method::POST, "/servers", tok, Some(body), "2.100").await;
        assert_eq!(r.status, 400, "{what}: {}", r.text);
    }

    // The requested password comes back; the IPv6 access address is canonical.
    let mut b = base.clone();
    b["adminPass"] = json!("Sup3r-Secret");
    b["accessIPv6"] = json!("2001:0DB8:0000:0000::0001");
    let r = nova(
        &e,
        Method::POST,
        "/servers",
        tok,
        Some(json!({ "server": b })),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["server"]["adminPass"], "Sup3r-Secret");
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let r = nova(
        &e,
        Method::POST,
        "/servers",
        tok,
        Some(json!({ "server": base })),
        "2.1",
    )
    .await;
    assert_eq!(
        r.body["server"]["adminPass"].as_str().map(str::len),
        Some(12),
        "a generated one"
    );
    assert!(wait_status(&e, tok, &id, "ACTIVE").await);
    let s = nova(&e, Method::GET, &format!("/servers/{id}"), tok, None, "2.1")
        .await
        .body["server"]
        .clone();
    assert_eq!(s["accessIPv6"], "2001:db8::1");

    // The ips views: version and address only.
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{id}/ips"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(
        keys(&r.body["addresses"]["n"][0]),
        set(&["addr", "version"])
    );
    // One network's addresses.
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{id}/ips/n"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["n"][0]), set(&["addr", "version"]));
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers/{id}/ips/nope"),
        tok,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 404);

    // `ip` filter: a substring of a fixed address.
    let addr = s["addresses"]["n"][0]["addr"]
        .as_str()
        .expect("an address")
        .to_string();
    let r = nova(
        &e,
        Method::GET,
        &format!("/servers?ip={addr}"),
        tok,
        None,
        "2.1",
    )
    .await;
    let found: Vec<&str> = r.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(found, [id.as_str()], "{}", r.text);
    let r = nova(&e, Method::GET, "/servers?ip=10.45.", tok, None, "2.1").await;
    assert_eq!(r.body["servers"], json!([]));
    let r = nova(&e, Method::GET, "/servers?ip=10.44.0", tok, None, "2.1").await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 2);

    // PUT /servers/{id}: only the basic view below 2.75, everything from 2.75.
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}"),
        tok,
        Some(json!({"server": {"name": "renamed", "accessIPv4": "10.1.1.1"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let k = keys(&r.body["server"]);
    assert!(
        k.is_subset(&set(BASIC_KEYS)),
        "unexpected keys: {:?}",
        k.difference(&set(BASIC_KEYS)).collect::<Vec<_>>()
    );
    assert_eq!(r.body["server"]["name"], "renamed");
    for ip in r.body["server"]["addresses"]["n"]
        .as_array()
        .expect("addresses")
    {
        assert_eq!(
            keys(ip),
            set(&["addr", "version"]),
            "no type or MAC below 2.75"
        );
    }
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}"),
        tok,
        Some(json!({"server": {"accessIPv4": "999.1.1.1"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}"),
        tok,
        Some(json!({"server": {"description": "d"}})),
        "2.75",
    )
    .await;
    assert!(
        r.body["server"]
            .get("OS-EXT-AZ:availability_zone")
            .is_some(),
        "{}",
        r.text
    );
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}/metadata/big"),
        tok,
        Some(json!({"meta": {"big": "v".repeat(256)}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 400);

    // Tags: a new tag answers 201 with its Location.
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}/tags/blue"),
        tok,
        None,
        "2.26",
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.headers["location"],
        format!("{}/compute/v2.1/servers/{id}/tags/blue", e.c.url).as_str()
    );
    let r = nova(
        &e,
        Method::PUT,
        &format!("/servers/{id}/tags/blue"),
        tok,
        None,
        "2.26",
    )
    .await;
    assert_eq!(r.status, 204);

    // createImage: a Location below 2.45, the id in the body from 2.45.
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"createImage": {"name": "snap-a"}})),
        "2.44",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let loc = r.headers["location"].to_str().unwrap().to_string();
    assert!(
        loc.starts_with(&format!("{}/image/images/", e.c.url)),
        "{loc}"
    );
    // The server is `image_snapshot` until the first upload ends (a 409 meanwhile, as in Nova).
    assert!(
        eventually(std::time::Duration::from_secs(20), || async {
            nova(
                &e,
                Method::GET,
                &format!("/servers/{id}"),
                tok,
                None,
                "2.100",
            )
            .await
            .body["server"]["OS-EXT-STS:task_state"]
                .is_null()
        })
        .await
    );
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"createImage": {"name": "snap-b"}})),
        "2.45",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(keys(&r.body), set(&["image_id"]));

    // rebuild: 202 with the server (new image, name, metadata) and the requested password.
    let img2 = image(&e).await;
    assert!(wait_status(&e, tok, &id, "ACTIVE").await);
    assert!(
        eventually(std::time::Duration::from_secs(20), || async {
            nova(
                &e,
                Method::GET,
                &format!("/servers/{id}"),
                tok,
                None,
                "2.100",
            )
            .await
            .body["server"]["OS-EXT-STS:task_state"]
                .is_null()
        })
        .await
    );
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"rebuild": {"imageRef": img2, "adminPass": "N3w-Pass", "name": "rebuilt", "metadata": {"role": "web"}}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = &r.body["server"];
    assert_eq!(s["adminPass"], "N3w-Pass");
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["name"], "rebuilt");
    assert_eq!(s["image"]["id"], img2.as_str(), "the new image");
    assert_eq!(s["metadata"], json!({"role": "web"}));
    let mut bottoms = Vec::new();
    for region in e.sim.regions() {
        let b = call(
            Method::GET,
            &format!("{}/servers/detail?all_tenants=1", region.compute_url),
            Some(&e.admin),
            None,
            &[],
        )
        .await;
        bottoms.extend(b.body["servers"].as_array().cloned().unwrap_or_default());
    }
    let twin = bottoms
        .iter()
        .find(|b| b["name"] == format!("rebuilt@{id}"))
        .expect("the bottom server");
    assert_eq!(
        twin["metadata"]["cascade_top_id"],
        id.as_str(),
        "the top id survives new metadata"
    );
    assert_eq!(twin["metadata"]["role"], "web");
    let mut allowed = set(BASIC_KEYS);
    allowed.insert("adminPass".into());
    assert!(
        keys(s).is_subset(&allowed),
        "{:?}",
        keys(s).difference(&allowed).collect::<Vec<_>>()
    );
    assert!(wait_status(&e, tok, &id, "ACTIVE").await);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"rebuild": {"imageRef": img, "user_data": "aGVsbG8="}})),
        "2.57",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["server"]["user_data"], "aGVsbG8=");
    assert!(r.body["server"].get("key_name").is_some());
    assert_eq!(
        r.body["server"]["adminPass"].as_str().map(str::len),
        Some(12)
    );
    assert!(wait_status(&e, tok, &id, "ACTIVE").await);

    // resize, then confirmResize answers 204.
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"resize": {"flavorRef": "fb"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(wait_status(&e, tok, &id, "VERIFY_RESIZE").await);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"confirmResize": null})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The index follows the pod to the new flavor.
    let s = nova(&e, Method::GET, &format!("/servers/{id}"), tok, None, "2.1").await;
    assert_eq!(s.body["server"]["flavor"]["id"], "fb", "{}", s.text);
    let s = nova(
        &e,
        Method::GET,
        &format!("/servers/{id}"),
        tok,
        None,
        "2.47",
    )
    .await;
    assert_eq!(s.body["server"]["flavor"]["original_name"], "m1.b");

    // A stopped server is rebuilt stopped.
    assert!(wait_status(&e, tok, &id, "ACTIVE").await);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"os-stop": null})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(wait_status(&e, tok, &id, "SHUTOFF").await);
    let r = nova(
        &e,
        Method::POST,
        &format!("/servers/{id}/action"),
        tok,
        Some(json!({"rebuild": {"imageRef": img}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["server"]["image"]["id"], img.as_str());
    assert!(
        wait_status(&e, tok, &id, "SHUTOFF").await,
        "back to SHUTOFF"
    );

    // Quotas: nova-network's keys below 2.36 only.
    let p = &t.project_id;
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-quota-sets/{p}"),
        tok,
        None,
        "2.35",
    )
    .await;
    for k in [
        "floating_ips",
        "fixed_ips",
        "security_groups",
        "security_group_rules",
        "injected_files",
    ] {
        assert!(
            r.body["quota_set"].get(k).is_some(),
            "{k} at 2.35: {}",
            r.text
        );
    }
    assert!(r.body["quota_set"].get("networks").is_none());
    let r = nova(
        &e,
        Method::GET,
        &format!("/os-quota-sets/{p}/detail"),
        tok,
        None,
        "2.36",
    )
    .await;
    for k in [
        "floating_ips",
        "fixed_ips",
        "security_groups",
        "security_group_rules",
    ] {
        assert!(r.body["quota_set"].get(k).is_none(), "{k} at 2.36");
    }
    let r = nova(
        &e,
        Method::PUT,
        &format!("/os-quota-sets/{p}"),
        &e.admin,
        Some(json!({"quota_set": {"security_groups": 50}})),
        "2.35",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota_set"]["security_groups"], 50);
    let r = nova(
        &e,
        Method::PUT,
        &format!("/os-quota-sets/{p}"),
        &e.admin,
        Some(json!({"quota_set": {"security_groups": 50}})),
        "2.36",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = nova(&e, Method::GET, "/limits", tok, None, "2.35").await;
    assert_eq!(r.body["limits"]["absolute"]["maxSecurityGroups"], 50);
    assert!(
        r.body["limits"]["absolute"]
            .get("totalFloatingIpsUsed")
            .is_some()
    );
    let r = nova(&e, Method::GET, "/limits", tok, None, "2.36").await;
    assert!(
        r.body["limits"]["absolute"]
            .get("maxSecurityGroups")
            .is_none()
    );

    // Key pairs without a public key are generated below 2.92.
    let r = nova(
        &e,
        Method::POST,
        "/os-keypairs",
        tok,
        Some(json!({"keypair": {"name": "gen"}})),
        "2.2",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let kp = &r.body["keypair"];
    let private = kp["private_key"].as_str().expect("private_key");
    assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assert!(
        kp["public_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
    assert_eq!(kp["type"], "ssh");
    assert_eq!(kp["fingerprint"].as_str().unwrap().split(':').count(), 16);
    if std::path::Path::new("/usr/bin/ssh-keygen").exists() {
        // OpenSSH itself reads the private key back to the same public key.
        let dir = std::env::temp_dir().join(format!("cascade-kp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("id");
        std::fs::write(&f, private).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let out = std::process::Command::new("/usr/bin/ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&f)
            .output()
            .unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let derived = String::from_utf8_lossy(&out.stdout);
        let mine: Vec<&str> = kp["public_key"]
            .as_str()
            .unwrap()
            .split(' ')
            .take(2)
            .collect();
        let theirs: Vec<&str> = derived.trim().split(' ').take(2).collect();
        assert_eq!(mine, theirs);
    }
    let r = nova(&e, Method::GET, "/os-keypairs/gen", tok, None, "2.2").await;
    assert!(
        r.body["keypair"].get("private_key").is_none(),
        "never shown again"
    );
    let r = nova(
        &e,
        Method::POST,
        "/os-keypairs",
        tok,
        Some(json!({"keypair": {"name": "junk", "public_key": "ssh-rsa JUNK nova@ubuntu"}})),
        "2.2",
    )
    .await;
    assert_eq!(r.status, 400, "a malformed key: {}", r.text);
    let r = nova(
        &e,
        Method::POST,
        "/os-keypairs",
        tok,
        Some(json!({"keypair": {"name": "gen2"}})),
        "2.92",
    )
    .await;
    assert_eq!(r.status, 400, "public_key is required from 2.92");

    e.sim.shutdown().await;
    drop(e.c);
    db.cleanup().await;
}

/// A project without any network: before 2.37 a server asked for with no `networks` boots
/// without ports, as Nova does; `"auto"` (2.37+) is refused with Nova's text.
#[tokio::test]
async fn servers_of_a_project_without_networks() {
    let db = Db::sqlite();
    let e = env(&db).await;
    let t = tenant(&e.c.url, &e.admin, "nonet", "nonet-u", Some("member")).await;
    let tok = t.token.as_str();
    let img = image(&e).await;
    let r = nova(
        &e,
        Method::POST,
        "/flavors",
        &e.admin,
        Some(json!({"flavor": {"name": "m1.nonet", "id": "fnonet", "vcpus": 1, "ram": 64, "disk": 1}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = json!({"server": {"name": "bare", "imageRef": img, "flavorRef": "fnonet"}});
    let r = nova(&e, Method::POST, "/servers", tok, Some(body.clone()), "2.1").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    assert!(wait_status(&e, tok, &id, "ACTIVE").await);
    let r = nova(&e, Method::GET, &format!("/servers/{id}"), tok, None, "2.1").await;
    assert_eq!(r.body["server"]["addresses"], json!({}), "{}", r.text);
    let mut auto = body;
    auto["server"]["networks"] = json!("auto");
    let r = nova(&e, Method::POST, "/servers", tok, Some(auto), "2.37").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text
            .contains("Unable to automatically allocate a network"),
        "{}",
        r.text
    );
}
