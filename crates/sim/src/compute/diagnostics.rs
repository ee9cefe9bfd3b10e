//! `GET /servers/{id}/diagnostics` (admin): what the libvirt driver reports of a running
//! guest, as a free-form map of counters before 2.48 and Nova's standard diagnostics object
//! from 2.48. The guest's CPU, memory, NICs (its ports' MACs) and disks (root plus attached
//! volumes) come from the server; the counters of a simulated guest stay at zero.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Mv;
use crate::error::{ApiError, ApiResult};
use crate::identity::Auth;
use crate::server::Ctx;
use crate::util::now;

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if !auth.is_admin {
        return Err(ApiError::nova(
            403,
            "Policy doesn't allow os_compute_api:os-server-diagnostics to be performed.",
        ));
    }
    let st = ctx.read();
    let s = st.compute.visible(&id, &auth)?;
    if s.host.is_none() || s.vm_state == "building" {
        return Err(ApiError::nova(
            409,
            format!(
                "Cannot 'get_diagnostics' instance {id} while it is in vm_state {}",
                s.vm_state
            ),
        ));
    }
    let macs: Vec<String> = s
        .port_ids
        .iter()
        .filter_map(|p| st.network.ports.get(p))
        .filter_map(|p| p["mac_address"].as_str().map(str::to_string))
        .collect();
    let disks = 1 + s.volumes.len();
    let uptime = s
        .launched_at
        .map(|t| (now() - t).num_seconds().max(0))
        .unwrap_or(0);
    let vcpus = s.flavor.vcpus;
    let ram = s.flavor.ram;
    if !mv.ge(2, 48) {
        let mut m = serde_json::Map::new();
        for i in 0..vcpus {
            m.insert(format!("cpu{i}_time"), json!(0));
        }
        m.insert("memory".into(), json!(ram * 1024));
        m.insert("memory-actual".into(), json!(ram * 1024));
        for d in 0..disks {
            let name = format!("vd{}", (b'a' + (d % 26) as u8) as char);
            for k in ["read_req", "read", "write_req", "write", "errors"] {
                m.insert(format!("{name}_{k}"), json!(0));
            }
        }
        for (n, _) in macs.iter().enumerate() {
            for k in [
                "rx",
                "rx_drop",
                "rx_errors",
                "rx_packets",
                "tx",
                "tx_drop",
                "tx_errors",
                "tx_packets",
            ] {
                m.insert(format!("tap{n}_{k}"), json!(0));
            }
        }
        return Ok(axum::Json(Value::Object(m)).into_response());
    }
    let state = match s.power_state {
        1 => "running",
        3 => "paused",
        4 => "shutdown",
        6 => "crashed",
        7 => "suspended",
        _ => "pending",
    };
    let nic = |mac: &String| {
        json!({"mac_address": mac, "rx_octets": 0, "rx_errors": 0, "rx_drop": 0, "rx_packets": 0,
               "rx_rate": null, "tx_octets": 0, "tx_errors": 0, "tx_drop": 0, "tx_packets": 0,
               "tx_rate": null})
    };
    Ok(axum::Json(json!({
        "state": state, "driver": "libvirt", "hypervisor": "qemu", "hypervisor_os": "linux",
        "uptime": uptime, "config_drive": s.config_drive.eq_ignore_ascii_case("true"),
        "num_cpus": vcpus, "num_nics": macs.len(), "num_disks": disks,
        "memory_details": {"maximum": ram, "used": ram},
        "cpu_details": (0..vcpus).map(|i| json!({"id": i, "time": 0, "utilisation": null})).collect::<Vec<_>>(),
        "nic_details": macs.iter().map(nic).collect::<Vec<_>>(),
        "disk_details": (0..disks).map(|_| json!({"read_bytes": 0, "read_requests": 0, "write_bytes": 0, "write_requests": 0, "errors_count": 0})).collect::<Vec<_>>(),
    }))
    .into_response())
}
