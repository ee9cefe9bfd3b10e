//! Nova response bodies, rendered from the server index in the shape of the requested
//! microversion (up to 2.100) whatever the pod's own version: which fields exist at which
//! version, the flavor embedding (2.47), tags (2.26), down-pod `UNKNOWN` records (2.69), etc.

use cascade_core::compute::ServerView;
use cascade_model::microversion::Microversion;
use cascade_store::compute::{FlavorRow, KeypairRow, ServerGroupRow};
use cascade_store::from_micros;
use serde_json::{Map, Value, json};

fn iso(us: i64) -> String {
    cascade_model::time::iso_seconds(from_micros(us))
}

fn usg(us: Option<i64>) -> Value {
    us.map(|t| json!(from_micros(t).format("%Y-%m-%dT%H:%M:%S%.6f").to_string()))
        .unwrap_or(Value::Null)
}

pub(crate) fn links(base: &str, collection: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/compute/v2.1/{collection}/{id}")},
        {"rel": "bookmark", "href": format!("{base}/compute/{collection}/{id}")},
    ])
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// `GET /servers` entries.
pub(crate) fn server_brief(base: &str, v: &ServerView, mv: Microversion) -> Value {
    let mut out = json!({"id": v.row.id, "links": links(base, "servers", &v.row.id)});
    if v.unknown && mv.at_least(2, 69) {
        out["status"] = json!("UNKNOWN");
    } else {
        out["name"] = json!(v.row.name);
    }
    out
}

/// `GET /servers/detail` entries (`detail`) and `GET /servers/{id}` (`!detail`).
pub(crate) fn server_full(
    base: &str,
    v: &ServerView,
    mv: Microversion,
    is_admin: bool,
    detail: bool,
) -> Value {
    let r = &v.row;
    let flavor = parse(&r.flavor);
    let image = if r.image_id.is_empty() {
        json!("")
    } else {
        let mut i = json!({"id": r.image_id, "links": [{"rel": "bookmark", "href": format!("{base}/compute/images/{}", r.image_id)}]});
        if mv.at_least(2, 98) {
            i["properties"] = json!({});
        }
        i
    };
    let flavor_view = if mv.at_least(2, 47) {
        json!({
            "original_name": flavor["name"], "vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
            "ephemeral": flavor["ephemeral"], "swap": flavor["swap"], "extra_specs": flavor["extra_specs"],
        })
    } else {
        json!({"id": flavor["id"], "links": [{"rel": "bookmark", "href": format!("{base}/compute/flavors/{}", flavor["id"].as_str().unwrap_or_default())}]})
    };
    if v.unknown && mv.at_least(2, 69) {
        let mut out = json!({
            "id": r.id, "status": "UNKNOWN", "tenant_id": r.project_id, "created": iso(r.created_at),
            "links": links(base, "servers", &r.id),
        });
        if !detail {
            out["user_id"] = json!(r.user_id);
            out["image"] = image;
            out["flavor"] = flavor_view;
            out["OS-EXT-AZ:availability_zone"] =
                json!(if r.az.is_empty() { "UNKNOWN" } else { &r.az });
            out["OS-EXT-STS:power_state"] = json!(0);
            if mv.at_least(2, 71) {
                out["server_groups"] = json!(v.server_groups);
            }
        }
        return out;
    }
    let mut m = Map::new();
    let mut put = |k: &str, val: Value| {
        m.insert(k.to_string(), val);
    };
    put("id", json!(r.id));
    put("name", json!(r.name));
    put("status", json!(r.status));
    put("tenant_id", json!(r.project_id));
    put("user_id", json!(r.user_id));
    put("metadata", parse(&r.metadata));
    put("hostId", json!(r.host_id));
    put("image", image);
    put("flavor", flavor_view);
    put("created", json!(iso(r.created_at)));
    put("updated", json!(iso(r.updated_at)));
    put(
        "addresses",
        if r.addresses.is_empty() {
            json!({})
        } else {
            parse(&r.addresses)
        },
    );
    put("accessIPv4", json!(r.access_ipv4));
    put("accessIPv6", json!(r.access_ipv6));
    put("links", links(base, "servers", &r.id));
    put("OS-DCF:diskConfig", json!("MANUAL"));
    if matches!(
        r.status.as_str(),
        "ACTIVE" | "BUILD" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE" | "MIGRATING"
    ) {
        put("progress", json!(if r.status == "BUILD" { 0 } else { 100 }));
    }
    put("OS-EXT-AZ:availability_zone", json!(r.az));
    put("config_drive", json!(r.config_drive));
    put("key_name", json!(r.key_name));
    put("OS-SRV-USG:launched_at", usg(r.launched_at));
    put("OS-SRV-USG:terminated_at", usg(r.terminated_at));
    put("OS-EXT-STS:task_state", json!(r.task_state));
    put("OS-EXT-STS:vm_state", json!(r.vm_state));
    put("OS-EXT-STS:power_state", json!(r.power_state));
    let volumes: Vec<Value> = parse(&r.volumes).as_array().cloned().unwrap_or_default();
    let volumes: Vec<Value> = volumes
        .iter()
        .map(|vol| {
            let mut o = json!({"id": vol["id"]});
            if mv.at_least(2, 3) {
                o["delete_on_termination"] =
                    json!(vol["delete_on_termination"].as_bool().unwrap_or(false));
            }
            o
        })
        .collect();
    put("os-extended-volumes:volumes_attached", json!(volumes));
    let groups: Vec<String> = serde_json::from_str(&r.security_groups).unwrap_or_default();
    if !groups.is_empty() && !r.addresses.is_empty() && r.addresses != "{}" {
        put(
            "security_groups",
            json!(
                groups
                    .iter()
                    .map(|g| json!({"name": g}))
                    .collect::<Vec<_>>()
            ),
        );
    }
    let instance_name = format!("instance-{}", &r.id[..8.min(r.id.len())]);
    if is_admin {
        put(
            "OS-EXT-SRV-ATTR:host",
            json!((!r.host.is_empty()).then_some(r.host.as_str())),
        );
        put("OS-EXT-SRV-ATTR:instance_name", json!(instance_name));
        put("OS-EXT-SRV-ATTR:hypervisor_hostname", json!(null));
        if mv.at_least(2, 3) {
            let request = parse(&r.request);
            put(
                "OS-EXT-SRV-ATTR:reservation_id",
                json!(format!("r-{}", &r.id[..8.min(r.id.len())])),
            );
            put("OS-EXT-SRV-ATTR:launch_index", json!(0));
            put("OS-EXT-SRV-ATTR:kernel_id", json!(""));
            put("OS-EXT-SRV-ATTR:ramdisk_id", json!(""));
            put("OS-EXT-SRV-ATTR:root_device_name", json!(null));
            put("OS-EXT-SRV-ATTR:user_data", request["user_data"].clone());
        }
    }
    if (is_admin && mv.at_least(2, 3)) || mv.at_least(2, 90) {
        put("OS-EXT-SRV-ATTR:hostname", json!(hostname(&r.name)));
    }
    if (r.status == "ERROR" || r.status == "DELETED")
        && let Some(mut f) = r.fault.as_deref().map(parse)
    {
        if !is_admin
            && f["code"] == 500
            && let Some(o) = f.as_object_mut()
        {
            o.remove("details");
        }
        put("fault", f);
    }
    if mv.at_least(2, 9) {
        put("locked", json!(r.locked));
    }
    if mv.at_least(2, 16) && is_admin {
        put(
            "host_status",
            json!(if v.unknown { "UNKNOWN" } else { "UP" }),
        );
    }
    if mv.at_least(2, 19) {
        put("description", json!(r.description));
    }
    if mv.at_least(2, 26) {
        put("tags", parse(&r.tags));
    }
    if mv.at_least(2, 63) {
        put("trusted_image_certificates", json!(null));
    }
    if mv.at_least(2, 71) && !detail {
        put("server_groups", json!(v.server_groups));
    }
    if mv.at_least(2, 73) {
        put("locked_reason", json!(r.locked_reason));
    }
    if mv.at_least(2, 96) {
        put("pinned_availability_zone", json!(null));
    }
    if mv.at_least(2, 100) {
        put("scheduler_hints", json!({}));
    }
    Value::Object(m)
}

/// The keys of the server body Nova answers `PUT /servers/{id}` and `rebuild` with below 2.75
/// (its view builder without the extended attributes).
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

/// `PUT /servers/{id}`: the basic view below 2.75, everything `GET` shows from 2.75.
pub(crate) fn server_update(base: &str, v: &ServerView, mv: Microversion, is_admin: bool) -> Value {
    let mut out = server_full(base, v, mv, is_admin, false);
    if !mv.at_least(2, 75)
        && let Some(o) = out.as_object_mut()
    {
        o.retain(|k, _| BASIC_KEYS.contains(&k.as_str()));
        // ...and the addresses without their type and MAC (Nova's `extend_address=False`).
        if let Some(nets) = o.get_mut("addresses").and_then(Value::as_object_mut) {
            for ips in nets.values_mut().filter_map(Value::as_array_mut) {
                for ip in ips.iter_mut().filter_map(Value::as_object_mut) {
                    ip.retain(|k, _| k == "addr" || k == "version");
                }
            }
        }
    }
    out
}

/// `rebuild`'s `server`: the update view plus `adminPass`, `key_name` (2.54) and `user_data`
/// (2.57, in place of `OS-EXT-SRV-ATTR:user_data`).
pub(crate) fn server_rebuild(
    base: &str,
    v: &ServerView,
    mv: Microversion,
    is_admin: bool,
    admin_pass: Option<&str>,
) -> Value {
    let mut out = server_update(base, v, mv, is_admin);
    let user_data = parse(&v.row.request)["user_data"].clone();
    if let Some(o) = out.as_object_mut() {
        o.remove("OS-EXT-SRV-ATTR:user_data");
        if mv.at_least(2, 54) {
            o.insert("key_name".into(), json!(v.row.key_name));
        }
        if mv.at_least(2, 57) {
            o.insert("user_data".into(), user_data);
        }
        if let Some(p) = admin_pass {
            o.insert("adminPass".into(), json!(p));
        }
    }
    out
}

/// Nova's hostname sanitisation of a display name.
fn hostname(name: &str) -> String {
    let mut h: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    h = h.trim_matches('-').to_string();
    h.truncate(63);
    if h.is_empty() { "server".into() } else { h }
}

pub(crate) fn flavor(base: &str, f: &FlavorRow, mv: Microversion, detail: bool) -> Value {
    let mut out = json!({"id": f.id, "name": f.name, "links": links(base, "flavors", &f.id)});
    if mv.at_least(2, 55) {
        out["description"] = json!(f.description);
    }
    if !detail {
        return out;
    }
    out["ram"] = json!(f.ram);
    out["disk"] = json!(f.disk);
    out["vcpus"] = json!(f.vcpus);
    out["swap"] = if f.swap == 0 && !mv.at_least(2, 75) {
        json!("")
    } else {
        json!(f.swap)
    };
    out["OS-FLV-EXT-DATA:ephemeral"] = json!(f.ephemeral);
    out["OS-FLV-DISABLED:disabled"] = json!(false);
    out["os-flavor-access:is_public"] = json!(f.is_public);
    out["rxtx_factor"] = json!(f.rxtx_factor.parse::<f64>().unwrap_or(1.0));
    if mv.at_least(2, 61) {
        out["extra_specs"] = parse(&f.extra_specs);
    }
    out
}

pub(crate) fn keypair(k: &KeypairRow, mv: Microversion, full: bool) -> Value {
    let mut out = json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
    if mv.at_least(2, 2) {
        out["type"] = json!(k.key_type);
    }
    if full {
        out["user_id"] = json!(k.user_id);
        out["created_at"] = json!(
            from_micros(k.created_at)
                .format("%Y-%m-%dT%H:%M:%S%.6f")
                .to_string()
        );
        out["deleted"] = json!(false);
        out["deleted_at"] = json!(null);
        out["updated_at"] = json!(null);
        out["id"] = json!(1);
    }
    out
}

pub(crate) fn server_group(g: &ServerGroupRow, members: &[String], mv: Microversion) -> Value {
    let mut out = json!({"id": g.id, "name": g.name, "members": members});
    if mv.at_least(2, 64) {
        out["policy"] = json!(g.policy);
        out["rules"] = Some(parse(&g.rules))
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
    } else {
        out["policies"] = json!([g.policy]);
        out["metadata"] = json!({});
    }
    if mv.at_least(2, 13) {
        out["project_id"] = json!(g.project_id);
        out["user_id"] = json!(g.user_id);
    }
    out
}
