//! Configuration of a simulator process: which regions it hosts, where they listen, which
//! identity service validates tokens, and the optional state file.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::FaultSpec;

/// One simulator process: any number of regions, one listener each.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Base URL of the Keystone v3 service that validates tokens, e.g.
    /// `http://127.0.0.1:5000/identity` (a trailing `/v3` is accepted and stripped).
    pub identity_url: String,
    /// Address every listener binds (loopback by default).
    pub listen_ip: IpAddr,
    /// `0`: every region gets an ephemeral port. Otherwise region `i` listens on `base_port + i`.
    pub base_port: u16,
    /// The regions, in order.
    pub regions: Vec<RegionSpec>,
    /// When set, all regions' resources are loaded from this JSON file at start and written
    /// back (atomically, at most once a second while something changed, and at shutdown).
    pub state_file: Option<PathBuf>,
}

impl SimConfig {
    /// A loopback config with ephemeral ports and no state file.
    pub fn new(identity_url: impl Into<String>, regions: Vec<RegionSpec>) -> Self {
        SimConfig {
            identity_url: identity_url.into(),
            listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 0,
            regions,
            state_file: None,
        }
    }
}

/// Capacity of a region's (single, aggregated) hypervisor pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Physical cores times the allocation ratio.
    pub vcpus: u64,
    /// RAM in MiB.
    pub ram_mb: u64,
    /// Local disk in GiB.
    pub disk_gb: u64,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            vcpus: 1000,
            ram_mb: 4 * 1024 * 1024,
            disk_gb: 100 * 1024,
        }
    }
}

/// One simulated region.
#[derive(Debug, Clone)]
pub struct RegionSpec {
    /// Keystone region id, published in the region's catalog.
    pub name: String,
    /// The one availability zone of the region (Nova and Cinder).
    pub az: String,
    /// Hypervisor capacity; exhausting it puts new servers in ERROR ("No valid host was found").
    pub capacity: Capacity,
    /// How long a server stays in BUILD.
    pub build_time: Duration,
    /// How long a server action (reboot, stop, resize, ...) keeps its task_state.
    pub action_time: Duration,
    /// How long a volume or snapshot stays `creating` (and an extend `extending`).
    pub volume_time: Duration,
    /// Segmentation type given to tenant networks created without provider attributes
    /// (`vxlan`, `vlan` or `geneve`).
    pub tenant_network_type: String,
    /// Physical network used for `vlan` tenant networks and offered for provider networks.
    pub physical_network: String,
    /// Faults active from the start.
    pub faults: FaultSpec,
    /// Create a public `cirros` image (with a few bytes of data) in a fresh region.
    pub seed_image: bool,
}

impl RegionSpec {
    /// Defaults: 1000 vCPU, 4 TiB RAM, 100 TiB disk, 2 s build time, 500 ms actions, 1 s volumes,
    /// vxlan tenant networks, no faults, a seed image.
    pub fn new(name: impl Into<String>, az: impl Into<String>) -> Self {
        RegionSpec {
            name: name.into(),
            az: az.into(),
            capacity: Capacity::default(),
            build_time: Duration::from_secs(2),
            action_time: Duration::from_millis(500),
            volume_time: Duration::from_secs(1),
            tenant_network_type: "vxlan".into(),
            physical_network: "physnet1".into(),
            faults: FaultSpec::default(),
            seed_image: true,
        }
    }

    /// Same region with every delay set to zero (convenient in tests).
    pub fn instant(mut self) -> Self {
        self.build_time = Duration::ZERO;
        self.action_time = Duration::ZERO;
        self.volume_time = Duration::ZERO;
        self
    }

    /// Same region with another capacity.
    pub fn with_capacity(mut self, vcpus: u64, ram_mb: u64, disk_gb: u64) -> Self {
        self.capacity = Capacity {
            vcpus,
            ram_mb,
            disk_gb,
        };
        self
    }
}
