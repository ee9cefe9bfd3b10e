//! A region's whole state (one value behind one mutex), timed transitions, and the optional
//! JSON state file (all regions in one object keyed by region name, written atomically via a
//! temporary file and rename).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::compute::servers::ComputeState;
use crate::config::RegionSpec;
use crate::error::SimError;
use crate::image::ImageState;
use crate::network::NetworkState;
use crate::server::Cluster;
use crate::util::Ts;
use crate::volume::VolumeState;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct RegionState {
    pub(crate) compute: ComputeState,
    pub(crate) network: NetworkState,
    pub(crate) volume: VolumeState,
    pub(crate) image: ImageState,
}

impl RegionState {
    pub(crate) fn fresh(spec: &RegionSpec) -> Self {
        let mut s = RegionState::default();
        s.compute.flavors = crate::compute::flavors::defaults();
        s.volume.seed();
        if spec.seed_image {
            s.image.seed(crate::util::now());
        }
        s.configure(spec);
        s
    }

    pub(crate) fn configure(&mut self, spec: &RegionSpec) {
        self.volume.delay = chrono::Duration::from_std(spec.volume_time).unwrap_or_default();
    }

    pub(crate) fn rebuild_indexes(&mut self) {
        self.compute.rebuild_indexes();
        self.network.rebuild_indexes();
    }

    pub(crate) fn advance(&mut self, now: Ts) -> bool {
        let a = self.compute.advance(now);
        let b = self.volume.advance(now);
        let c = self.image.advance(now);
        a || b || c
    }

    pub(crate) fn summary(&self) -> Value {
        let live = self.compute.servers.values().filter(|s| !s.deleted).count();
        json!({
            "servers": live,
            "servers_deleted": self.compute.servers.len() - live,
            "flavors": self.compute.flavors.len(),
            "keypairs": self.compute.keypairs.len(),
            "networks": self.network.networks.len(),
            "subnets": self.network.subnets.len(),
            "ports": self.network.ports.len(),
            "routers": self.network.routers.len(),
            "security_groups": self.network.security_groups.len(),
            "floatingips": self.network.floatingips.len(),
            "volumes": self.volume.volumes.len(),
            "snapshots": self.volume.snapshots.len(),
            "images": self.image.images.len(),
            "used": {"vcpus": self.compute.used.vcpus, "ram_mb": self.compute.used.ram, "disk_gb": self.compute.used.disk},
        })
    }
}

pub(crate) fn load(path: &Path) -> Result<HashMap<String, RegionState>, SimError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| SimError::State {
            path: path.into(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(e) => Err(SimError::State {
            path: path.into(),
            message: e.to_string(),
        }),
    }
}

pub(crate) fn save(cluster: &Cluster, path: &Path) -> Result<(), SimError> {
    let mut out = serde_json::Map::new();
    for r in &cluster.regions {
        let st = r.lock();
        let v = serde_json::to_value(&*st).map_err(|e| SimError::State {
            path: path.into(),
            message: e.to_string(),
        })?;
        out.insert(r.name.clone(), v);
    }
    cluster.dirty.store(false, Ordering::Relaxed);
    let tmp = path.with_extension("tmp");
    let err = |e: std::io::Error| SimError::State {
        path: path.into(),
        message: e.to_string(),
    };
    std::fs::write(
        &tmp,
        serde_json::to_vec(&Value::Object(out)).unwrap_or_default(),
    )
    .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
