//! What the compute saga needs from networking and images, as traits: the central Neutron
//! (`cascade_core::network`) and the global Glance (`cascade_core::image`) implement them, and
//! the binary wires the implementations in. Compute never reaches into their tables.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{CoreError, Result};

/// A boxed, sendable future (the job engine and these traits use the same shape).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// One entry of a server create's `networks`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RequestedNetwork {
    /// `{"uuid": net, "fixed_ip": optional}`: a new port on that network.
    Network {
        network_id: String,
        fixed_ip: Option<String>,
    },
    /// `{"port": id}`: an existing port of the project.
    Port { port_id: String },
}

/// What a server asked for: explicit entries, `"auto"` or `"none"`, or nothing at all.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RequestedNetworks {
    Explicit(Vec<RequestedNetwork>),
    /// `"auto"` (2.37+): the project's network or a shared one; without any, 400.
    Auto,
    None,
    /// No `networks` key (before 2.37): like `Auto`, but a project with no usable network
    /// gets a server without ports, as Nova does.
    Available,
}

/// A port as the compute saga sees it once planned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlannedPort {
    pub port_id: String,
    pub network_id: String,
    /// True when the port was created for this server (deleted with it).
    pub owned: bool,
}

/// The central Neutron, from the compute saga's point of view.
pub trait NetworkBinding: Send + Sync + 'static {
    /// At server create (synchronous, before 202): checks the requested networks and ports
    /// belong to (or are shared with) the project and are usable, and creates/reserves the top
    /// ports the server will use (device_id = server id, device_owner `compute:<az>`).
    /// Errors are Neutron's meaning (404 unknown network/port, 409 port in use, 400 bad IP).
    fn plan<'a>(
        &'a self,
        project_id: &'a str,
        server_id: &'a str,
        az: &'a str,
        requested: &'a RequestedNetworks,
    ) -> BoxFuture<'a, Result<Vec<PlannedPort>>>;

    /// In the build job: makes sure the pod has the bottom twins of these ports (and the
    /// network, subnet and security-group shadows they need), same IP and MAC; idempotent.
    /// Returns the bottom port ids, in order.
    fn bind<'a>(
        &'a self,
        project_id: &'a str,
        pod_id: &'a str,
        ports: &'a [PlannedPort],
    ) -> BoxFuture<'a, Result<Vec<String>>>;

    /// After the server is gone: deletes the ports it owned (top and bottom) and unbinds the
    /// others; removes shadows nothing else uses. Idempotent.
    fn release<'a>(
        &'a self,
        project_id: &'a str,
        server_id: &'a str,
        pod_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<()>>;

    /// Nova's `addSecurityGroup` / `removeSecurityGroup`: adds or removes the group (by name or
    /// id, in the project) on every port of the server; 404 for an unknown group, 400 when the
    /// server has no port.
    fn set_security_group<'a>(
        &'a self,
        project_id: &'a str,
        server_id: &'a str,
        group: &'a str,
        add: bool,
    ) -> BoxFuture<'a, Result<()>>;

    /// The server's `addresses` in Nova's shape: `{"<network name>": [{"addr", "version",
    /// "OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr"}]}`.
    fn addresses<'a>(
        &'a self,
        project_id: &'a str,
        server_id: &'a str,
    ) -> BoxFuture<'a, Result<Value>>;
}

/// Told by networking when a server's addresses change outside a build (a floating IP
/// associated or released, a port's fixed IPs updated), so the server index stays current.
pub trait AddressObserver: Send + Sync + 'static {
    fn addresses_changed<'a>(&'a self, server_id: &'a str) -> BoxFuture<'a, ()>;
}

/// What compute needs to know of an image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageInfo {
    pub id: String,
    pub name: String,
    pub status: String,
    pub min_disk: u64,
    pub min_ram: u64,
    pub size: Option<u64>,
    #[serde(default)]
    pub checksum: Option<String>,
    #[serde(default)]
    pub container_format: Option<String>,
    #[serde(default)]
    pub disk_format: Option<String>,
    /// The image's extra properties.
    #[serde(default)]
    pub properties: BTreeMap<String, Value>,
}

impl ImageInfo {
    /// What Cinder records of an image on a volume made from it (`volume_image_metadata`, all
    /// values strings): the image's extra properties, then `image_id`, `image_name` (when the
    /// image has one) and those of `checksum`, `container_format`, `disk_format`, `min_disk`,
    /// `min_ram`, `size` that are set (`volume_utils.get_volume_image_metadata`).
    pub fn volume_image_metadata(&self) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = self
            .properties
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect();
        m.insert("image_id".into(), self.id.clone());
        if !self.name.is_empty() {
            m.insert("image_name".into(), self.name.clone());
        }
        let attrs = [
            ("checksum", self.checksum.clone()),
            ("container_format", self.container_format.clone()),
            ("disk_format", self.disk_format.clone()),
            ("min_disk", Some(self.min_disk.to_string())),
            ("min_ram", Some(self.min_ram.to_string())),
            ("size", self.size.map(|s| s.to_string())),
        ];
        for (k, v) in attrs {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        }
        m
    }
}

/// The global Glance, from the compute saga's point of view.
pub trait ImageSource: Send + Sync + 'static {
    /// An image visible to the project (404-style `NotFound` otherwise).
    fn resolve<'a>(
        &'a self,
        project_id: &'a str,
        image_id: &'a str,
    ) -> BoxFuture<'a, Result<ImageInfo>>;

    /// In the build job: the image's id inside the pod, copying it there first if needed (lazy
    /// replication; concurrent callers share one copy), usable there by `project_id`. Waits for
    /// the copy.
    fn ensure_in_pod<'a>(
        &'a self,
        project_id: &'a str,
        image_id: &'a str,
        pod_id: &'a str,
    ) -> BoxFuture<'a, Result<String>>;

    /// Reserves the top image of a server snapshot (`createImage`): `saving` until the pod's
    /// image is adopted, visible (and deletable) at once, as Nova's snapshot image is in Glance.
    fn reserve_snapshot<'a>(&'a self, req: &'a SnapshotRequest) -> BoxFuture<'a, Result<()>>;

    /// `createBackup`'s rotation: deletes the project's oldest active backups of the server
    /// with that backup type beyond the `rotation` newest.
    fn rotate_backups<'a>(
        &'a self,
        project_id: &'a str,
        server_id: &'a str,
        backup_type: &'a str,
        rotation: u64,
    ) -> BoxFuture<'a, Result<()>>;

    /// A snapshot that failed for good: its reserved top image goes, as Nova deletes it.
    fn abandon_snapshot<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Adopts an active image made in a pod (a server snapshot) as the reserved top image
    /// `image_id` owned by `project_id` (register mode, no copy). Idempotent; when the top
    /// image was deleted meanwhile, the pod's image is deleted instead.
    fn adopt<'a>(
        &'a self,
        project_id: &'a str,
        pod_id: &'a str,
        bottom_id: &'a str,
        image_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<()>>;
}

/// The top image a `createImage` reserves, with the properties Nova gives a snapshot.
#[derive(Debug, Clone, Default)]
pub struct SnapshotRequest {
    pub image_id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: String,
    /// The top server snapshotted (`instance_uuid`).
    pub server_id: String,
    /// The server's image (`base_image_ref`), empty for a volume-backed server.
    pub base_image: String,
    /// The request's `metadata`.
    pub metadata: BTreeMap<String, String>,
    pub min_disk: u64,
    pub min_ram: u64,
    /// `createBackup`: the backup type (`daily`, …); the image's `image_type` is then `backup`.
    pub backup_type: Option<String>,
}

/// Used where no implementation is wired: every call fails with 503 "not available".
#[derive(Debug, Default, Clone, Copy)]
pub struct Unavailable;

fn unavailable(what: &str) -> CoreError {
    CoreError::new(
        crate::ErrorKind::Unavailable,
        format!("{what} is not available in this deployment"),
    )
}

impl NetworkBinding for Unavailable {
    fn plan<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        r: &'a RequestedNetworks,
    ) -> BoxFuture<'a, Result<Vec<PlannedPort>>> {
        Box::pin(async move {
            match r {
                RequestedNetworks::None => Ok(Vec::new()),
                _ => Err(unavailable("networking")),
            }
        })
    }
    fn bind<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        p: &'a [PlannedPort],
    ) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            if p.is_empty() {
                Ok(Vec::new())
            } else {
                Err(unavailable("networking"))
            }
        })
    }
    fn release<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
    fn addresses<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async { Ok(Value::Object(Default::default())) })
    }
    fn set_security_group<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: bool,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Err(unavailable("networking")) })
    }
}

impl ImageSource for Unavailable {
    fn resolve<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<ImageInfo>> {
        Box::pin(async { Err(unavailable("the image service")) })
    }
    fn ensure_in_pod<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async { Err(unavailable("the image service")) })
    }
    fn adopt<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Err(unavailable("the image service")) })
    }
    fn reserve_snapshot<'a>(&'a self, _: &'a SnapshotRequest) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Err(unavailable("the image service")) })
    }
    fn abandon_snapshot<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Err(unavailable("the image service")) })
    }
    fn rotate_backups<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: u64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Err(unavailable("the image service")) })
    }
}

/// The block-storage service, from compute's point of view: boot from volume and the
/// `os-extended-volumes:volumes_attached` of the server index (top volume ids). Wired after
/// both services exist ([`super::Compute::set_volume_binding`]); without it BDMs pass through.
pub trait VolumeBinding: Send + Sync + 'static {
    /// At server create (before 202): the pod holding the existing volumes the BDMs name
    /// (`source_type: volume`). They must be the project's, `available`, and all in one pod;
    /// `None` when no BDM names an existing volume. Errors are Nova's 400s.
    fn placement<'a>(
        &'a self,
        project_id: &'a str,
        bdms: &'a [Value],
    ) -> BoxFuture<'a, Result<Option<String>>>;

    /// At server create (before 202): the volumes that `servers` servers with these BDMs
    /// would make (`destination_type: volume` from an image, a snapshot or blank) must fit
    /// the project's volume quota, as a `POST /volumes` would; over quota is Nova's 403
    /// `Volume resource quota exceeded`.
    fn check_quota<'a>(
        &'a self,
        project_id: &'a str,
        bdms: &'a [Value],
        servers: i64,
    ) -> BoxFuture<'a, Result<()>>;

    /// In the build job: the BDMs as the pod must see them. Existing volumes get their bottom
    /// ids; volumes to be made from an image or blank (`destination_type: volume`) are created
    /// first as top volumes in the server's pod (idempotently, ids derived from the server) and
    /// then passed as `source_type: volume`.
    fn prepare<'a>(
        &'a self,
        actor: &'a crate::identity::Actor,
        server_id: &'a str,
        pod_id: &'a str,
        bdms: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Value>>>;

    /// The top id of a pod's volume, if Cascade knows it.
    fn top_volume<'a>(
        &'a self,
        pod_id: &'a str,
        bottom_id: &'a str,
    ) -> BoxFuture<'a, Option<String>>;
}
