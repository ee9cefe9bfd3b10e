//! The global Glance (seed 000's three ways to cascade Glance, with seed 002's placement
//! policy). The top keeps the image registry — metadata, members, tags — and no bytes: the
//! bytes live in pods. An upload streams to the image's home pod (the first healthy pod its
//! placement allows); every pod copy is a routing row (`resource_type` `image`, made through
//! [`crate::routing_lock`]; the bottom image carries the top id in its `cascade_top_id`
//! property) plus an `image_copies` row with its state and progress. Copies are made pod to
//! pod, streamed through Cascade and hashed on the way (MD5 `checksum`, SHA-512
//! `os_hash_value`, `size`), then verified against the top and against what the destination
//! pod reports; a copy that fails or is interrupted deletes its partial bottom image and is
//! claimed again from scratch (a lease on the copy row), so no half image is ever `active` in
//! a pod. Replication is `lazy` (on first use in a pod: [`ImageSource::ensure_in_pod`],
//! concurrent callers share one copy), `eager` (on upload, to every pod the placement
//! selects, as `image_copy` jobs), or `register` (an admin adopts an image already in a pod).
//!
//! Bottom images are created by Cascade's service user in the pod: `public` when the top image
//! is public, `private` and owned by the top image's owner when it is private (only that
//! project's servers may boot it), and `community` for shared and community images (usable by
//! id by any project in the pod, which is what the members' servers need; tenants never reach
//! pods directly).

mod data;
pub mod digest;
mod limits;
pub mod metadefs;
pub mod model;
pub mod nova;
pub mod patch;
pub mod policy;
mod registry;
mod snapshots;
pub mod tasks;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cascade_store::Store;

use crate::jobs::JobEngine;
use crate::pods::PodRegistry;

pub use data::{ByteStream, CopyView, Download, RegisterRequest, UploadRequest};
pub use model::{Caller, Image};
pub use patch::{PatchDialect, PatchOp, parse_patch};
pub use policy::{Placement, Replication};
pub use registry::{ImagePage, MemberView};

/// The resource type of image routing rows.
pub const RESOURCE_TYPE: &str = "image";
/// The bottom image property carrying the top id.
pub const TOP_ID_PROPERTY: &str = "cascade_top_id";
/// The job type of pod-to-pod copies.
pub const COPY_JOB: &str = "image_copy";
/// The job type of pod copy deletions.
pub const DELETE_COPY_JOB: &str = "image_delete_copy";

/// Settings of the image service.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// Placement of images without a `cascade_placement` property.
    pub default_placement: Placement,
    /// Replication of images without a `cascade_replication` property.
    pub default_replication: Replication,
    /// How long a copier holds a copy without showing progress before others take over.
    pub copy_lease: Duration,
    /// Copy attempts one `ensure_in_pod` call makes before giving up.
    pub copy_attempts: u32,
    /// How often the background loop deletes orphaned pod copies and resumes eager copies.
    pub sweep_interval: Duration,
    /// Largest image data accepted (Glance's `image_size_cap`); more is a 413.
    pub max_size_bytes: u64,
    /// Uploads and downloads one project may run at once; more is a 413.
    pub max_transfers_per_project: usize,
    /// The explicit ports an import task's URL may name (Glance's
    /// `[import_filtering_opts] allowed_ports`); empty allows any.
    pub import_allowed_ports: Vec<u16>,
}

impl Default for ImageConfig {
    fn default() -> Self {
        ImageConfig {
            default_placement: Placement::default(),
            default_replication: Replication::Lazy,
            copy_lease: Duration::from_secs(30),
            copy_attempts: 3,
            sweep_interval: Duration::from_secs(15),
            max_size_bytes: 1 << 40,
            max_transfers_per_project: 4,
            import_allowed_ports: vec![80, 443],
        }
    }
}

/// The global image service.
#[derive(Debug)]
pub struct ImageService {
    store: Store,
    pods: Arc<PodRegistry>,
    config: ImageConfig,
    /// The lease owner of copies made by this process.
    owner: String,
    jobs: OnceLock<Arc<JobEngine>>,
    /// Uploads and downloads running per project.
    transfers: limits::TransferSlots,
}

impl ImageService {
    pub fn new(store: Store, pods: Arc<PodRegistry>, config: ImageConfig) -> Arc<ImageService> {
        Arc::new(ImageService {
            store,
            pods,
            transfers: limits::TransferSlots::new(config.max_transfers_per_project),
            config,
            owner: format!("images-{}", uuid::Uuid::new_v4().simple()),
            jobs: OnceLock::new(),
        })
    }

    /// Runs eager copies and copy deletions as durable jobs of `engine` (registers the
    /// `image_copy` and `image_delete_copy` handlers). Without it they run as plain tasks and
    /// the background sweep ([`ImageService::run_sweeper`]) finishes what a crash left.
    pub fn attach_jobs(self: &Arc<Self>, engine: Arc<JobEngine>) {
        engine.register(Arc::new(data::CopyJob(self.clone())));
        engine.register(Arc::new(data::DeleteCopyJob(self.clone())));
        let _ = self.jobs.set(engine);
    }

    pub fn config(&self) -> &ImageConfig {
        &self.config
    }
}
