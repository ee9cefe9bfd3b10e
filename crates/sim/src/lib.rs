//! Simulated OpenStack regions — like Nova's fake virt driver, but for a whole region.
//!
//! [`start`] runs any number of regions in one process, each on its own loopback listener,
//! speaking the real wire APIs from memory: Nova v2.1 (`/compute/v2.1`, microversions up to
//! 2.100), Neutron v2.0 (`/network`), Cinder v3 (`/volume/v3/{project_id}`), Glance v2
//! (`/image`), a forwarding Keystone front (`/identity/v3`, so the unmodified `openstack` CLI
//! can use one region directly), an admin API (`/sim/...`) for fault injection, state and the
//! reachability oracle, and `/healthcheck`. Tokens are validated against a real (or the
//! [`testing`]) Keystone; the simulator keeps no users.
//!
//! It serves `cascade demo`, tests and benchmarks and must never be used by Cascade's
//! production code paths: it depends on no other Cascade crate.

mod admin;
mod compute;
mod config;
mod error;
mod faults;
mod identity;
mod image;
mod network;
mod oracle;
mod server;
mod state;
pub mod testing;
mod util;
mod volume;

pub use config::{Capacity, RegionSpec, SimConfig};
pub use error::SimError;
pub use faults::{ErrorRule, FaultSpec, Latency};
pub use oracle::{PortRef, ReachQuery, Reachability};
pub use server::{RegionInfo, SimHandle, start};
