//! Where the bytes go: the tenant's upload streamed to the home pod, downloads streamed from a
//! pod holding a copy, pod-to-pod copies (lazy through [`ImageSource::ensure_in_pod`], eager
//! as `image_copy` jobs), the deletion of pod copies, the admin's register mode, the copy view
//! behind `cascade image copies`, and the sweeper that finishes what a crash left behind.
//!
//! A copy holds the lease of its `image_copies` row while it runs and renews it with every
//! progress report (once a second); whoever finds the lease expired takes the copy over and
//! starts again from a clean bottom image. A bottom image is only kept when the bytes that went
//! in hash to the top's `checksum`/`os_hash_value`/`size` and the pod reports the same.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cascade_model::admin::{Pod, PodState};
use cascade_pod::PodClient;
use cascade_store::images::{COPY_ACTIVE, COPY_COPYING, COPY_FAILED, CopyRow};
use cascade_store::routings::{NewRouting, RoutingFilter};
use cascade_store::{StoreError, from_micros, now_micros};
use futures_util::stream::{BoxStream, StreamExt};
use http::Method;
use serde_json::{Value, json};

use super::digest::{Digesting, Digests, Meter};
use super::model::{Caller, Image, not_found};
use super::policy::ImagePolicy;
use super::{COPY_JOB, DELETE_COPY_JOB, ImageService, RESOURCE_TYPE, TOP_ID_PROPERTY, model};
use crate::compute::deps::{BoxFuture, ImageInfo, ImageSource, SnapshotRequest};
use crate::jobs::{Job, JobContext, JobError, JobHandler, NewJob};
use crate::routing_lock::{self, BottomKey};
use crate::{CoreError, ErrorKind, Result};

/// A byte stream of image data.
pub type ByteStream = BoxStream<'static, std::result::Result<Bytes, std::io::Error>>;

/// The data of `PUT /v2/images/{id}/file`.
pub struct UploadRequest {
    pub body: ByteStream,
    /// The request's `Content-Length`, when sent.
    pub content_length: Option<u64>,
}

impl std::fmt::Debug for UploadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadRequest")
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

/// The answer to `GET /v2/images/{id}/file`: no body (204) for an image without data.
pub struct Download {
    pub size: Option<u64>,
    pub checksum: Option<String>,
    pub body: Option<ByteStream>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("size", &self.size)
            .field("checksum", &self.checksum)
            .finish_non_exhaustive()
    }
}

/// One pod copy as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CopyView {
    pub image_id: String,
    pub pod_id: String,
    pub region_name: String,
    pub az_name: String,
    /// `pending`, `copying`, `active` or `failed`.
    pub state: String,
    pub bottom_id: Option<String>,
    pub bytes_done: i64,
    pub bytes_total: Option<i64>,
    pub attempts: i64,
    pub error: Option<String>,
    pub updated_at: String,
}

/// `POST /v1.0/images/register`: adopt an image that already exists in a pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub pod_id: String,
    pub bottom_id: String,
    /// Register as a location of this existing top image (checksums must match), or create the
    /// top image with this id. Default: the bottom id when free, else a new id.
    #[serde(default)]
    pub image_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub visibility: Option<String>,
    /// Project owning the top image (default: the caller's project).
    #[serde(default)]
    pub owner: Option<String>,
}

fn pod_failed(what: &str, status: u16, body: &[u8]) -> CoreError {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut e = CoreError::new(
        ErrorKind::Unavailable,
        format!(
            "{what} failed in the pod ({status}): {}",
            text.chars().take(300).collect::<String>()
        ),
    );
    e.retryable = status >= 500 || status == 429 || status == 409;
    e
}

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// How a verified transfer compares with what the top expects.
fn check_digests(img: &Image, d: &Digests) -> std::result::Result<(), String> {
    if img.size.is_some_and(|s| s != d.size) {
        return Err(format!(
            "size mismatch: expected {} bytes, copied {}",
            img.size.unwrap_or(0),
            d.size
        ));
    }
    if img.checksum.as_deref().is_some_and(|c| c != d.md5) {
        return Err("checksum (MD5) mismatch".into());
    }
    if img.os_hash_value.as_deref().is_some_and(|h| h != d.sha512) {
        return Err("os_hash_value (SHA-512) mismatch".into());
    }
    Ok(())
}

/// Whether the pod's view of a bottom image matches the expected digests.
fn pod_agrees(bottom: &Value, d: &Digests) -> std::result::Result<(), String> {
    if bottom["status"] != "active" {
        return Err(format!(
            "the pod reports status {} after the upload",
            bottom["status"]
        ));
    }
    if bottom["checksum"].as_str().is_some_and(|c| c != d.md5) {
        return Err("the pod computed a different checksum".into());
    }
    if bottom["os_hash_value"]
        .as_str()
        .is_some_and(|h| h != d.sha512)
    {
        return Err("the pod computed a different os_hash_value".into());
    }
    if bottom["size"].as_u64().is_some_and(|s| s != d.size) {
        return Err("the pod stored a different size".into());
    }
    Ok(())
}

impl ImageService {
    /// The placement and mode of an image, and the healthy pods (by AZ) the placement allows.
    async fn placement(&self, img: &Image) -> Result<(ImagePolicy, Vec<Pod>)> {
        let policy = model::policy_of(
            img,
            &self.config.default_placement,
            self.config.default_replication,
        )?;
        let pods = self.pods.list().await?;
        let allowed: Vec<Pod> = pods
            .into_iter()
            .filter(|p| policy.placement.allows(p))
            .collect();
        if allowed.is_empty() {
            return Err(CoreError::bad_request(format!(
                "The placement policy '{}' of image {} selects no pod.",
                policy.placement.source(),
                img.id
            )));
        }
        let mut healthy: Vec<Pod> = allowed
            .into_iter()
            .filter(|p| matches!(p.state, PodState::Up | PodState::Degraded))
            .collect();
        healthy.sort_by_key(|p| (p.state != PodState::Up, p.az_name.clone()));
        Ok((policy, healthy))
    }

    /// The bottom image document for `img` in a pod.
    fn bottom_body(img: &Image) -> Value {
        let mut body = serde_json::Map::new();
        for (k, v) in &img.properties {
            if !k.starts_with("cascade_") {
                body.insert(k.clone(), v.clone());
            }
        }
        body.insert(TOP_ID_PROPERTY.into(), json!(img.id));
        body.insert("name".into(), json!(img.name));
        body.insert("disk_format".into(), json!(img.disk_format));
        body.insert("container_format".into(), json!(img.container_format));
        body.insert("min_disk".into(), json!(img.min_disk));
        body.insert("min_ram".into(), json!(img.min_ram));
        let (visibility, owner) = Self::bottom_access(img);
        body.insert("visibility".into(), json!(visibility));
        if let Some(owner) = owner {
            body.insert("owner".into(), json!(owner));
        }
        Value::Object(body)
    }

    /// Who may use a bottom image: the top image's visibility, owned by the top image's owner
    /// (public images stay with Cascade's service project). A `shared` bottom image is usable
    /// by its owner and by the projects [`Self::ensure_access`] adds as members.
    fn bottom_access(img: &Image) -> (&'static str, Option<&str>) {
        match img.visibility.as_str() {
            "public" => ("public", None),
            "private" => ("private", Some(&img.owner)),
            "community" => ("community", Some(&img.owner)),
            _ => ("shared", Some(&img.owner)),
        }
    }

    /// Before a server (or volume) of `project_id` uses the bottom image: its visibility and
    /// owner follow the top image's as they are now (the top may have changed since the copy
    /// was made), and a member project of a shared image becomes a member in the pod too
    /// (Glance lets a member use a shared image by id whatever its member status).
    async fn ensure_access(
        client: &PodClient,
        img: &Image,
        bottom: &str,
        project_id: &str,
    ) -> Result<()> {
        let current = Self::get_bottom(client, bottom).await?.ok_or_else(|| {
            CoreError::new(
                ErrorKind::Unavailable,
                format!("Image {} vanished from the pod.", img.id),
            )
        })?;
        let (visibility, owner) = Self::bottom_access(img);
        let mut ops = Vec::new();
        if let Some(owner) = owner
            && current["owner"].as_str() != Some(owner)
        {
            ops.push(json!({"op": "replace", "path": "/owner", "value": owner}));
        }
        if current["visibility"].as_str() != Some(visibility) {
            ops.push(json!({"op": "replace", "path": "/visibility", "value": visibility}));
        }
        if !ops.is_empty() {
            let r = client
                .send(
                    Method::PATCH,
                    "image",
                    &format!("/v2/images/{bottom}"),
                    Some(&Value::Array(ops)),
                    &[(
                        "content-type",
                        "application/openstack-images-v2.1-json-patch",
                    )],
                )
                .await?;
            if r.status != 200 {
                return Err(pod_failed(
                    "Updating the bottom image's access",
                    r.status,
                    &r.body,
                ));
            }
        }
        if visibility == "shared" && project_id != img.owner {
            let r = client
                .send(
                    Method::POST,
                    "image",
                    &format!("/v2/images/{bottom}/members"),
                    Some(&json!({"member": project_id})),
                    &[],
                )
                .await?;
            if r.status != 200 && r.status != 409 {
                return Err(pod_failed("Sharing the bottom image", r.status, &r.body));
            }
        }
        Ok(())
    }

    async fn find_bottom(client: &PodClient, top_id: &str) -> Result<Option<String>> {
        let r = client
            .send(
                Method::GET,
                "image",
                &format!("/v2/images?{TOP_ID_PROPERTY}={top_id}&visibility=all"),
                None,
                &[],
            )
            .await?;
        if r.status != 200 {
            return Err(pod_failed("Looking up the bottom image", r.status, &r.body));
        }
        let doc = r.json().unwrap_or(Value::Null);
        Ok(doc["images"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|i| i["id"].as_str())
            .map(str::to_string))
    }

    async fn create_bottom(client: &PodClient, img: &Image) -> Result<String> {
        let r = client
            .send(
                Method::POST,
                "image",
                "/v2/images",
                Some(&Self::bottom_body(img)),
                &[],
            )
            .await?;
        if r.status != 201 {
            return Err(pod_failed("Creating the bottom image", r.status, &r.body));
        }
        r.json()
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_string))
            .ok_or_else(|| CoreError::internal("the pod created an image without an id"))
    }

    pub(super) async fn get_bottom(client: &PodClient, bottom: &str) -> Result<Option<Value>> {
        let r = client
            .send(
                Method::GET,
                "image",
                &format!("/v2/images/{bottom}"),
                None,
                &[],
            )
            .await?;
        match r.status {
            200 => Ok(Some(r.json().unwrap_or(Value::Null))),
            404 => Ok(None),
            s => Err(pod_failed("Reading the bottom image", s, &r.body)),
        }
    }

    pub(super) async fn delete_bottom(client: &PodClient, bottom: &str) -> Result<()> {
        let r = client
            .send(
                Method::DELETE,
                "image",
                &format!("/v2/images/{bottom}"),
                None,
                &[],
            )
            .await?;
        match r.status {
            200 | 204 | 404 => Ok(()),
            s => Err(pod_failed("Deleting the bottom image", s, &r.body)),
        }
    }

    /// The bottom image of `img` in `pod_id` (routing protocol 1), `queued` or `active`.
    async fn bottom_for(&self, img: &Image, pod_id: &str, client: &PodClient) -> Result<String> {
        let key = BottomKey {
            top_id: &img.id,
            pod_id,
            project_id: &img.owner,
            resource_type: RESOURCE_TYPE,
        };
        routing_lock::ensure_bottom(
            &self.store,
            &key,
            || Self::find_bottom(client, &img.id),
            || Self::create_bottom(client, img),
        )
        .await
    }

    /// Deletes a partial bottom image and its routing row (best effort: the sweeper retries).
    async fn discard_bottom(
        &self,
        img_id: &str,
        owner: &str,
        pod_id: &str,
        client: &PodClient,
        bottom: &str,
    ) {
        if let Err(e) = Self::delete_bottom(client, bottom).await {
            tracing::warn!(image = %img_id, pod = %pod_id, error = %e, "cannot delete a partial bottom image");
        }
        let key = BottomKey {
            top_id: img_id,
            pod_id,
            project_id: owner,
            resource_type: RESOURCE_TYPE,
        };
        let _ = routing_lock::forget(&self.store, &key).await;
    }

    /// Drives `transfer` while reporting progress every second (which renews the copy lease).
    /// Fails when the lease is lost.
    async fn with_progress<T>(
        &self,
        image_id: &str,
        pod_id: &str,
        meter: &Meter,
        total: Option<u64>,
        job: Option<&JobContext>,
        transfer: impl std::future::Future<Output = T>,
    ) -> Result<T> {
        tokio::pin!(transfer);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tokio::select! {
                out = &mut transfer => return Ok(out),
                _ = tick.tick() => {
                    let done = meter.bytes.load(std::sync::atomic::Ordering::Relaxed);
                    let lease = now_micros() + self.config.copy_lease.as_micros() as i64;
                    match self.store.copy_progress(image_id, pod_id, &self.owner, done as i64, total.map(|t| t as i64), lease).await {
                        Ok(true) => {}
                        Ok(false) => {
                            return Err(CoreError::new(ErrorKind::Unavailable, "the copy lease was lost"));
                        }
                        Err(e) => tracing::warn!(image = %image_id, error = %e, "cannot record copy progress"),
                    }
                    if let Some(ctx) = job {
                        ctx.set_progress(json!({"bytes_done": done, "bytes_total": total})).await;
                    }
                }
            }
        }
    }

    /// `PUT /v2/images/{id}/file`: streams the data to the image's home pod, hashing it on the
    /// way; the image becomes `active` only once the pod holds exactly these bytes. On any
    /// failure the partial bottom image is deleted and the image is `queued` again.
    pub async fn upload(
        self: &Arc<Self>,
        caller: &Caller,
        id: &str,
        req: UploadRequest,
    ) -> Result<Image> {
        let mut img = self.get(caller, id).await?;
        if !caller.is_admin && img.owner != caller.project_id {
            return Err(CoreError::forbidden(format!(
                "You are not permitted to upload data to image {id}."
            )));
        }
        if img.status != "queued" {
            return Err(CoreError::conflict(format!(
                "Image status transition from {} to saving is not allowed",
                img.status
            )));
        }
        if img.disk_format.is_none() || img.container_format.is_none() {
            return Err(CoreError::bad_request(
                "Properties disk_format, container_format must be set prior to saving data.",
            ));
        }
        if req
            .content_length
            .is_some_and(|l| l > self.config.max_size_bytes)
        {
            return Err(super::limits::too_large());
        }
        let _slot = self.transfers.acquire(&caller.project_id)?;
        let (policy, pods) = self.placement(&img).await?;
        let home = pods.first().cloned().ok_or_else(|| {
            CoreError::new(
                ErrorKind::Unavailable,
                format!(
                    "No pod allowed by the placement policy '{}' is available to store the image.",
                    policy.placement.source()
                ),
            )
        })?;
        let queued = img.clone();
        img.status = "saving".into();
        img.home_pod_id = Some(home.pod_id.clone());
        img.updated_at = now_micros();
        if !self
            .store
            .update_image(&img.to_row(), Some("queued"))
            .await?
        {
            return Err(CoreError::conflict(
                "Image status transition from saving to saving is not allowed",
            ));
        }
        match self.upload_to(&img, &home, req).await {
            Ok(d) => {
                img.status = "active".into();
                img.size = Some(d.size);
                img.checksum = Some(d.md5);
                img.os_hash_algo = Some("sha512".into());
                img.os_hash_value = Some(d.sha512);
                img.updated_at = now_micros();
                if !self
                    .store
                    .update_image(&img.to_row(), Some("saving"))
                    .await?
                {
                    // Deleted during the upload: the sweeper removes the orphan copy.
                    return Err(CoreError::conflict(format!(
                        "Image {id} was deleted during the upload."
                    )));
                }
                if policy.replication == super::Replication::Eager {
                    self.replicate(&img, &pods).await;
                }
                Ok(img)
            }
            Err(e) => {
                let mut back = queued;
                back.updated_at = now_micros();
                let _ = self
                    .store
                    .update_image(&back.to_row(), Some("saving"))
                    .await;
                Err(e)
            }
        }
    }

    async fn upload_to(&self, img: &Image, home: &Pod, req: UploadRequest) -> Result<Digests> {
        let client = self.pods.client(&home.pod_id).await?;
        let _ = self.store.delete_copy(&img.id, &home.pod_id).await;
        self.store
            .ensure_copy(&img.id, &home.pod_id, req.content_length.map(|l| l as i64))
            .await?;
        let now = now_micros();
        if !self
            .store
            .claim_copy(
                &img.id,
                &home.pod_id,
                &self.owner,
                now,
                now + self.config.copy_lease.as_micros() as i64,
            )
            .await?
        {
            return Err(CoreError::conflict(
                "Another upload of this image is in progress.",
            ));
        }
        let fail = |msg: String| async move {
            let _ = self
                .store
                .finish_copy(
                    &img.id,
                    &home.pod_id,
                    &self.owner,
                    COPY_FAILED,
                    None,
                    Some(&msg),
                )
                .await;
            let _ = self.store.delete_copy(&img.id, &home.pod_id).await;
        };
        let bottom = match self.bottom_for(img, &home.pod_id, &client).await {
            Ok(b) => b,
            Err(e) => {
                fail(e.message.clone()).await;
                return Err(e);
            }
        };
        let want_sha256 = img
            .properties
            .contains_key("owner_specified.openstack.sha256");
        let capped = super::limits::Capped::new(req.body, self.config.max_size_bytes);
        let over_cap = capped.over.clone();
        let (body, meter) = Digesting::new(capped, want_sha256);
        let sent = self
            .with_progress(
                &img.id,
                &home.pod_id,
                &meter,
                req.content_length,
                None,
                client.upload_stream(
                    None,
                    Method::PUT,
                    "image",
                    &format!("/v2/images/{bottom}/file"),
                    body,
                    None,
                    &[("content-type", "application/octet-stream")],
                ),
            )
            .await;
        let verdict: Result<Digests> = async {
            if over_cap.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(super::limits::too_large());
            }
            let resp = sent?;
            if meter.source_failed.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(CoreError::bad_request(
                    "Error reading the image data from the request.",
                ));
            }
            let resp = resp?;
            if !(200..300).contains(&resp.status) {
                return Err(pod_failed("Storing the image data", resp.status, &resp.body));
            }
            let d = meter
                .digests()
                .ok_or_else(|| CoreError::bad_request("The image data ended early."))?;
            if req.content_length.is_some_and(|l| l != d.size) {
                return Err(CoreError::bad_request(format!(
                    "Image size mismatch: the request announced {} bytes and sent {}.",
                    req.content_length.unwrap_or(0),
                    d.size
                )));
            }
            for (prop, have) in [
                ("owner_specified.openstack.md5", Some(&d.md5)),
                ("owner_specified.openstack.sha256", d.sha256.as_ref()),
            ] {
                if let (Some(want), Some(have)) =
                    (img.properties.get(prop).and_then(Value::as_str), have)
                    && !want.is_empty()
                    && want != have
                {
                    return Err(CoreError::bad_request(format!(
                        "The uploaded data does not match the image's {prop} property (checksum mismatch)."
                    )));
                }
            }
            let seen = Self::get_bottom(&client, &bottom)
                .await?
                .ok_or_else(|| CoreError::new(ErrorKind::Unavailable, "the pod lost the uploaded image"))?;
            pod_agrees(&seen, &d).map_err(|m| CoreError::new(ErrorKind::Unavailable, m))?;
            Ok(d)
        }
        .await;
        match verdict {
            Ok(d) => {
                self.store
                    .finish_copy(
                        &img.id,
                        &home.pod_id,
                        &self.owner,
                        COPY_ACTIVE,
                        Some(&bottom),
                        None,
                    )
                    .await?;
                // bytes_total was the announced length; record the real one.
                self.store
                    .put_active_copy(&img.id, &home.pod_id, &bottom, Some(d.size as i64))
                    .await?;
                Ok(d)
            }
            Err(e) => {
                self.discard_bottom(&img.id, &img.owner, &home.pod_id, &client, &bottom)
                    .await;
                fail(e.message.clone()).await;
                Err(e)
            }
        }
    }

    /// Active copies of an image, the home pod first, then healthy pods.
    async fn sources(&self, img: &Image, except: Option<&str>) -> Result<Vec<(Pod, String)>> {
        let pods = self.pods.list().await?;
        let mut out: Vec<(Pod, String)> = Vec::new();
        for c in self.store.list_copies(Some(&img.id)).await? {
            if c.state != COPY_ACTIVE || Some(c.pod_id.as_str()) == except {
                continue;
            }
            let (Some(bottom), Some(pod)) =
                (c.bottom_id, pods.iter().find(|p| p.pod_id == c.pod_id))
            else {
                continue;
            };
            out.push((pod.clone(), bottom));
        }
        out.sort_by_key(|(p, _)| {
            (
                img.home_pod_id.as_deref() != Some(p.pod_id.as_str()),
                !matches!(p.state, PodState::Up | PodState::Degraded),
                p.az_name.clone(),
            )
        });
        Ok(out)
    }

    async fn open_source(
        &self,
        img: &Image,
        except: Option<&str>,
    ) -> Result<cascade_pod::PodDownload> {
        let mut last = CoreError::new(
            ErrorKind::Unavailable,
            format!("No pod holds an active copy of image {}.", img.id),
        );
        for (pod, bottom) in self.sources(img, except).await? {
            let client = match self.pods.client(&pod.pod_id).await {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            match client
                .download_stream(None, "image", &format!("/v2/images/{bottom}/file"), &[])
                .await
            {
                Ok(d) if d.status == 200 => return Ok(d),
                Ok(d) => {
                    last = CoreError::new(
                        ErrorKind::Unavailable,
                        format!(
                            "pod {} answered {} for the image data",
                            pod.region_name, d.status
                        ),
                    );
                }
                Err(e) => last = e.into(),
            }
        }
        Err(last)
    }

    /// `GET /v2/images/{id}/file`: streamed from a pod holding a copy.
    pub async fn download(&self, caller: &Caller, id: &str) -> Result<Download> {
        let img = self.get(caller, id).await?;
        if img.status == "deactivated" && !caller.is_admin {
            return Err(CoreError::forbidden(
                "The requested image has been deactivated. Image data download is forbidden.",
            ));
        }
        if img.status != "active" && img.status != "deactivated" {
            return Ok(Download {
                size: None,
                checksum: None,
                body: None,
            });
        }
        let slot = self.transfers.acquire(&caller.project_id)?;
        let src = self.open_source(&img, None).await?;
        // The slot is held until the client has the whole body (or goes away).
        let body = src
            .body
            .map(move |c| {
                let _held = &slot;
                c.map_err(io_error)
            })
            .boxed();
        Ok(Download {
            size: img.size,
            checksum: img.checksum.clone(),
            body: Some(body),
        })
    }

    /// Makes sure `pod_id` holds an active, verified copy of the image and returns its bottom
    /// id. Concurrent callers (in any instance) share one copy through the copy row's lease;
    /// makes at most `attempts` copy attempts itself.
    pub async fn copy_to_pod(
        &self,
        image_id: &str,
        pod_id: &str,
        attempts: u32,
        job: Option<&JobContext>,
    ) -> Result<String> {
        let mut tries = 0u32;
        loop {
            let img =
                Image::from_row(self.store.get_image(image_id).await.map_err(|e| match e {
                    StoreError::NotFound => not_found(image_id),
                    other => other.into(),
                })?);
            if img.status != "active" {
                return Err(CoreError::conflict(format!(
                    "Image {image_id} is not active (status {}).",
                    img.status
                )));
            }
            let row = self
                .store
                .ensure_copy(image_id, pod_id, img.size.map(|s| s as i64))
                .await
                .map_err(|e| match e {
                    StoreError::Constraint(_) => {
                        CoreError::not_found(format!("Pod {pod_id} could not be found"))
                    }
                    other => other.into(),
                })?;
            if row.state == COPY_ACTIVE
                && let Some(b) = row.bottom_id
            {
                return Ok(b);
            }
            let now = now_micros();
            if self
                .store
                .claim_copy(
                    image_id,
                    pod_id,
                    &self.owner,
                    now,
                    now + self.config.copy_lease.as_micros() as i64,
                )
                .await?
            {
                tries += 1;
                match self.run_copy(&img, pod_id, job).await {
                    Ok(b) => return Ok(b),
                    Err(e) if tries >= attempts || !e.retryable => return Err(e),
                    Err(e) => {
                        tracing::warn!(image = %image_id, pod = %pod_id, error = %e, "image copy failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500 * u64::from(tries))).await;
                        continue;
                    }
                }
            }
            // Someone else holds it: wait for them to finish (or their lease to lapse).
            if row.state == COPY_FAILED && tries >= attempts {
                return Err(CoreError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "Copying image {image_id} to the pod failed: {}",
                        row.error.unwrap_or_default()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if row.state == COPY_FAILED {
                tries += 1;
            }
        }
    }

    /// One copy attempt while holding the lease; records the outcome on the copy row.
    async fn run_copy(
        &self,
        img: &Image,
        pod_id: &str,
        job: Option<&JobContext>,
    ) -> Result<String> {
        let result = self.run_copy_inner(img, pod_id, job).await;
        match &result {
            Ok(bottom) => {
                self.store
                    .finish_copy(
                        &img.id,
                        pod_id,
                        &self.owner,
                        COPY_ACTIVE,
                        Some(bottom),
                        None,
                    )
                    .await?;
                tracing::info!(image = %img.id, pod = %pod_id, bottom = %bottom, "image copied to pod");
            }
            Err(e) => {
                let _ = self
                    .store
                    .finish_copy(
                        &img.id,
                        pod_id,
                        &self.owner,
                        COPY_FAILED,
                        None,
                        Some(&e.message),
                    )
                    .await;
            }
        }
        result
    }

    async fn run_copy_inner(
        &self,
        img: &Image,
        pod_id: &str,
        job: Option<&JobContext>,
    ) -> Result<String> {
        let client = self.pods.client(pod_id).await?;
        let mut bottom = self.bottom_for(img, pod_id, &client).await?;
        // Resume: a finished earlier attempt (or a crash after the upload) needs no bytes.
        match Self::get_bottom(&client, &bottom).await? {
            Some(b) if b["status"] == "active" => {
                let d = Digests {
                    size: img.size.unwrap_or(0),
                    md5: img.checksum.clone().unwrap_or_default(),
                    sha512: img.os_hash_value.clone().unwrap_or_default(),
                    sha256: None,
                };
                if pod_agrees(&b, &d).is_ok() {
                    return Ok(bottom);
                }
                self.discard_bottom(&img.id, &img.owner, pod_id, &client, &bottom)
                    .await;
                bottom = self.bottom_for(img, pod_id, &client).await?;
            }
            Some(b) if b["status"] == "queued" => {}
            _ => {
                // Half-written (saving/killed) or gone: start from a fresh bottom image.
                self.discard_bottom(&img.id, &img.owner, pod_id, &client, &bottom)
                    .await;
                bottom = self.bottom_for(img, pod_id, &client).await?;
            }
        }
        let outcome: Result<()> = async {
            let src = self.open_source(img, Some(pod_id)).await?;
            let (body, meter) = Digesting::new(src.body, false);
            let sent = self
                .with_progress(
                    &img.id,
                    pod_id,
                    &meter,
                    img.size,
                    job,
                    client.upload_stream(
                        None,
                        Method::PUT,
                        "image",
                        &format!("/v2/images/{bottom}/file"),
                        body,
                        // Chunked: with a length, hyper stops polling the body at the last
                        // byte and the hasher would never see its end.
                        None,
                        &[("content-type", "application/octet-stream")],
                    ),
                )
                .await??;
            if !(200..300).contains(&sent.status) {
                return Err(pod_failed(
                    "Storing the image data",
                    sent.status,
                    &sent.body,
                ));
            }
            if meter
                .source_failed
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                return Err(CoreError::new(
                    ErrorKind::Unavailable,
                    "reading the source copy failed",
                ));
            }
            let d = meter.digests().ok_or_else(|| {
                CoreError::new(ErrorKind::Unavailable, "the source copy ended early")
            })?;
            check_digests(img, &d).map_err(|m| CoreError::new(ErrorKind::Unavailable, m))?;
            let seen = Self::get_bottom(&client, &bottom).await?.ok_or_else(|| {
                CoreError::new(ErrorKind::Unavailable, "the pod lost the copied image")
            })?;
            pod_agrees(&seen, &d).map_err(|m| CoreError::new(ErrorKind::Unavailable, m))?;
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => Ok(bottom),
            Err(e) => {
                if e.message != "the copy lease was lost" {
                    self.discard_bottom(&img.id, &img.owner, pod_id, &client, &bottom)
                        .await;
                }
                Err(e)
            }
        }
    }

    /// Starts copies to every allowed, healthy pod that lacks one (eager replication).
    pub(super) async fn replicate(self: &Arc<Self>, img: &Image, pods: &[Pod]) {
        for pod in pods {
            if img.home_pod_id.as_deref() == Some(pod.pod_id.as_str()) {
                continue;
            }
            if let Err(e) = self.schedule_copy(img, &pod.pod_id).await {
                tracing::warn!(image = %img.id, pod = %pod.pod_id, error = %e, "cannot schedule an eager copy");
            }
        }
    }

    /// Queues one copy: an `image_copy` job when the job engine is attached, else a task.
    pub async fn schedule_copy(self: &Arc<Self>, img: &Image, pod_id: &str) -> Result<()> {
        self.store
            .ensure_copy(&img.id, pod_id, img.size.map(|s| s as i64))
            .await?;
        if let Some(engine) = self.jobs.get() {
            engine
                .enqueue(NewJob {
                    job_type: COPY_JOB.into(),
                    resource_id: format!("{}@{pod_id}", img.id),
                    project_id: img.owner.clone(),
                    pod_id: Some(pod_id.to_string()),
                    payload: json!({"image_id": img.id, "pod_id": pod_id}),
                    max_attempts: None,
                    delay: None,
                })
                .await?;
        } else {
            let me = self.clone();
            let (image_id, pod_id) = (img.id.clone(), pod_id.to_string());
            tokio::spawn(async move {
                if let Err(e) = me
                    .copy_to_pod(&image_id, &pod_id, me.config.copy_attempts, None)
                    .await
                {
                    tracing::warn!(image = %image_id, pod = %pod_id, error = %e, "eager image copy failed");
                }
            });
        }
        Ok(())
    }

    /// After the top image is gone: delete every pod copy (jobs, or tasks).
    pub(super) async fn schedule_copy_deletions(self: &Arc<Self>, img: &Image) {
        let rows = match self.store.routings_of(&img.id, RESOURCE_TYPE).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(image = %img.id, error = %e, "cannot list pod copies; the sweeper will delete them");
                return;
            }
        };
        for row in rows {
            if let Some(engine) = self.jobs.get() {
                let queued = engine
                    .enqueue(NewJob {
                        job_type: DELETE_COPY_JOB.into(),
                        resource_id: format!("{}@{}", img.id, row.pod_id),
                        project_id: img.owner.clone(),
                        pod_id: Some(row.pod_id.clone()),
                        payload: json!({"image_id": img.id, "pod_id": row.pod_id}),
                        max_attempts: None,
                        delay: None,
                    })
                    .await;
                if let Err(e) = queued {
                    tracing::warn!(image = %img.id, error = %e, "cannot queue a copy deletion; the sweeper will do it");
                }
            } else {
                let me = self.clone();
                let (image_id, pod_id) = (img.id.clone(), row.pod_id.clone());
                tokio::spawn(async move {
                    if let Err(e) = me.delete_copy_in_pod(&image_id, &pod_id).await {
                        tracing::warn!(image = %image_id, pod = %pod_id, error = %e, "cannot delete a pod copy; the sweeper will retry");
                    }
                });
            }
        }
    }

    /// Deletes the pod copy of a deleted image, its routing row and its copy row. Idempotent;
    /// does nothing while the top image exists.
    pub async fn delete_copy_in_pod(&self, image_id: &str, pod_id: &str) -> Result<()> {
        match self.store.get_image(image_id).await {
            Ok(_) => return Ok(()),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let client = self.pods.client(pod_id).await?;
        let row = self
            .store
            .find_routing(image_id, pod_id, RESOURCE_TYPE)
            .await?;
        let bottom = match row.as_ref().and_then(|r| r.bottom_id.clone()) {
            Some(b) => Some(b),
            None => Self::find_bottom(&client, image_id).await?,
        };
        if let Some(b) = bottom {
            Self::delete_bottom(&client, &b).await?;
        }
        if let Some(r) = row {
            match self.store.delete_routing(r.id).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.store.delete_copy(image_id, pod_id).await?;
        Ok(())
    }

    /// Copies of one image (or all), for the admin API and `cascade image copies`.
    pub async fn copies(&self, image_id: Option<&str>) -> Result<Vec<CopyView>> {
        if let Some(id) = image_id {
            match self.store.get_image(id).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => return Err(not_found(id)),
                Err(e) => return Err(e.into()),
            }
        }
        let pods = self.pods.list().await?;
        Ok(self
            .store
            .list_copies(image_id)
            .await?
            .into_iter()
            .map(|c: CopyRow| {
                let pod = pods.iter().find(|p| p.pod_id == c.pod_id);
                CopyView {
                    region_name: pod.map(|p| p.region_name.clone()).unwrap_or_default(),
                    az_name: pod.map(|p| p.az_name.clone()).unwrap_or_default(),
                    image_id: c.image_id,
                    pod_id: c.pod_id,
                    state: c.state,
                    bottom_id: c.bottom_id,
                    bytes_done: c.bytes_done,
                    bytes_total: c.bytes_total,
                    attempts: c.attempts,
                    error: c.error,
                    updated_at: cascade_model::time::iso_seconds(from_micros(c.updated_at)),
                }
            })
            .collect())
    }

    /// Admin: copy an image to a pod now (queued as a job or task).
    pub async fn request_copy(self: &Arc<Self>, image_id: &str, pod_id: &str) -> Result<()> {
        let img = Image::from_row(self.store.get_image(image_id).await.map_err(|e| match e {
            StoreError::NotFound => not_found(image_id),
            other => other.into(),
        })?);
        if img.status != "active" {
            return Err(CoreError::conflict(format!(
                "Image {image_id} is not active."
            )));
        }
        let pod = self.pods.get(pod_id).await?;
        let (policy, _) = self.placement(&img).await?;
        if !policy.placement.allows(&pod) {
            return Err(CoreError::bad_request(format!(
                "The placement policy '{}' of image {image_id} does not allow pod {}.",
                policy.placement.source(),
                pod.region_name
            )));
        }
        self.schedule_copy(&img, pod_id).await
    }

    /// Register mode: adopt an image that already exists in a pod, without copying it.
    pub async fn register(&self, caller: &Caller, req: RegisterRequest) -> Result<Image> {
        caller
            .is_admin
            .then_some(())
            .ok_or_else(|| CoreError::forbidden("Registering pod images requires admin."))?;
        let pod = self.pods.get(&req.pod_id).await?;
        let client = self.pods.client(&pod.pod_id).await?;
        let bottom = Self::get_bottom(&client, &req.bottom_id)
            .await?
            .ok_or_else(|| {
                CoreError::bad_request(format!(
                    "No image {} in pod {}.",
                    req.bottom_id, pod.region_name
                ))
            })?;
        if bottom["status"] != "active" {
            return Err(CoreError::bad_request(format!(
                "Image {} in pod {} is {}, not active.",
                req.bottom_id, pod.region_name, bottom["status"]
            )));
        }
        let existing = match &req.image_id {
            Some(id) => match self.store.get_image(id).await {
                Ok(r) => Some(Image::from_row(r)),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let img = match existing {
            Some(img) => {
                let d = Digests {
                    size: bottom["size"].as_u64().unwrap_or(0),
                    md5: bottom["checksum"].as_str().unwrap_or_default().into(),
                    sha512: bottom["os_hash_value"].as_str().unwrap_or_default().into(),
                    sha256: None,
                };
                check_digests(&img, &d).map_err(|m| {
                    CoreError::bad_request(format!(
                        "Image {} in pod {} is not a copy of image {}: {m}",
                        req.bottom_id, pod.region_name, img.id
                    ))
                })?;
                img
            }
            None => {
                let id = match &req.image_id {
                    Some(id) => id.clone(),
                    None => match self.store.get_image(&req.bottom_id).await {
                        Err(StoreError::NotFound) => req.bottom_id.clone(),
                        _ => uuid::Uuid::new_v4().to_string(),
                    },
                };
                let mut img = Image::new(
                    id,
                    req.owner
                        .clone()
                        .unwrap_or_else(|| caller.project_id.clone()),
                );
                let s = |k: &str| bottom[k].as_str().map(str::to_string);
                img.name = req.name.clone().or_else(|| s("name"));
                img.visibility = req
                    .visibility
                    .clone()
                    .or_else(|| s("visibility"))
                    .filter(|v| model::VISIBILITIES.contains(&v.as_str()))
                    .unwrap_or_else(|| "private".into());
                img.disk_format = s("disk_format");
                img.container_format = s("container_format");
                img.min_disk = bottom["min_disk"].as_u64().unwrap_or(0);
                img.min_ram = bottom["min_ram"].as_u64().unwrap_or(0);
                img.size = bottom["size"].as_u64();
                img.checksum = s("checksum");
                img.os_hash_algo = s("os_hash_algo");
                img.os_hash_value = s("os_hash_value");
                img.status = "active".into();
                img.home_pod_id = Some(pod.pod_id.clone());
                self.store
                    .insert_image(&img.to_row())
                    .await
                    .map_err(|e| match e {
                        StoreError::Conflict(_) => CoreError::conflict(format!(
                            "An image with identifier {} already exists",
                            img.id
                        )),
                        other => other.into(),
                    })?;
                img
            }
        };
        match self
            .store
            .insert_routing(&NewRouting {
                top_id: img.id.clone(),
                bottom_id: Some(req.bottom_id.clone()),
                pod_id: pod.pod_id.clone(),
                project_id: img.owner.clone(),
                resource_type: RESOURCE_TYPE.into(),
            })
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(CoreError::conflict(format!(
                    "Image {} already has a copy in pod {}.",
                    img.id, pod.region_name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.store
            .put_active_copy(
                &img.id,
                &pod.pod_id,
                &req.bottom_id,
                img.size.map(|s| s as i64),
            )
            .await?;
        // Tag the bottom image with its top id (best effort; lookups use the routing row).
        if bottom.get(TOP_ID_PROPERTY).is_none() {
            let patch =
                json!([{"op": "add", "path": format!("/{TOP_ID_PROPERTY}"), "value": img.id}]);
            let tagged = client
                .send(
                    Method::PATCH,
                    "image",
                    &format!("/v2/images/{}", req.bottom_id),
                    Some(&patch),
                    &[(
                        "content-type",
                        "application/openstack-images-v2.1-json-patch",
                    )],
                )
                .await;
            match tagged {
                Ok(r) if r.status == 200 => {}
                Ok(r) => {
                    tracing::warn!(image_id = %img.id, pod_id = %pod.pod_id, bottom = %req.bottom_id,
                    status = r.status, "registered image: the pod refused the top-id tag (the routing row still finds it)")
                }
                Err(e) => {
                    tracing::warn!(image_id = %img.id, pod_id = %pod.pod_id, bottom = %req.bottom_id,
                    error = %e, "registered image: the top-id tag could not be set (the routing row still finds it)")
                }
            }
        }
        Ok(img)
    }

    /// One pass of the sweeper: deletes pod copies of images that no longer exist (a crash
    /// between the top delete and the copy deletions, or a pod that was down), and restarts
    /// eager copies that are missing or failed.
    pub async fn sweep(self: &Arc<Self>) -> Result<()> {
        let copies = self.store.list_copies(None).await?;
        let mut gone: Vec<(String, String)> = Vec::new();
        for c in &copies {
            if matches!(
                self.store.get_image(&c.image_id).await,
                Err(StoreError::NotFound)
            ) {
                gone.push((c.image_id.clone(), c.pod_id.clone()));
            }
        }
        let routings = self
            .store
            .list_routings(
                &RoutingFilter {
                    resource_type: Some(RESOURCE_TYPE.into()),
                    ..RoutingFilter::default()
                },
                10_000,
                None,
            )
            .await?;
        for r in routings {
            if !gone.iter().any(|(i, p)| *i == r.top_id && *p == r.pod_id)
                && matches!(
                    self.store.get_image(&r.top_id).await,
                    Err(StoreError::NotFound)
                )
            {
                gone.push((r.top_id.clone(), r.pod_id.clone()));
            }
        }
        for (image_id, pod_id) in gone {
            if let Err(e) = self.delete_copy_in_pod(&image_id, &pod_id).await {
                tracing::debug!(image = %image_id, pod = %pod_id, error = %e, "orphan copy not deleted yet");
            }
        }
        // Eager images: every allowed healthy pod should have a copy.
        let mut pods: Option<Vec<Pod>> = None;
        for row in self
            .store
            .list_images(&cascade_store::images::ImageScope::All, None)
            .await?
        {
            let img = Image::from_row(row);
            if img.status != "active" {
                continue;
            }
            let Ok(policy) = model::policy_of(
                &img,
                &self.config.default_placement,
                self.config.default_replication,
            ) else {
                continue;
            };
            if policy.replication != super::Replication::Eager {
                continue;
            }
            if pods.is_none() {
                pods = Some(self.pods.list().await?);
            }
            let allowed = pods.iter().flatten().filter(|p| {
                policy.placement.allows(p) && matches!(p.state, PodState::Up | PodState::Degraded)
            });
            for pod in allowed {
                let row = copies
                    .iter()
                    .find(|c| c.image_id == img.id && c.pod_id == pod.pod_id);
                let stale = match row {
                    None => true,
                    Some(c) if c.state == COPY_FAILED && c.attempts < 10 => true,
                    Some(c) => {
                        let now = now_micros();
                        (c.state == COPY_COPYING && c.lease_until.is_some_and(|l| l < now))
                            || (c.state == cascade_store::images::COPY_PENDING
                                && c.updated_at
                                    < now - 2 * self.config.copy_lease.as_micros() as i64)
                    }
                };
                // A copy that cannot be scheduled now is found stale again by the next sweep.
                if stale && let Err(e) = self.schedule_copy(&img, &pod.pod_id).await {
                    tracing::warn!(image_id = %img.id, pod_id = %pod.pod_id, error = %e.message,
                        "sweeper: cannot restart an eager copy; the next sweep retries");
                }
            }
        }
        Ok(())
    }

    /// Runs [`ImageService::sweep`] every `sweep_interval` until `cancel` fires.
    pub async fn run_sweeper(self: Arc<Self>, cancel: tokio_util::sync::CancellationToken) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.config.sweep_interval) => {}
            }
            if let Err(e) = self.sweep().await {
                tracing::warn!(error = %e, "image sweep failed");
            }
        }
    }
}

impl ImageSource for ImageService {
    fn resolve<'a>(
        &'a self,
        project_id: &'a str,
        image_id: &'a str,
    ) -> BoxFuture<'a, Result<ImageInfo>> {
        Box::pin(async move {
            let caller = Caller {
                project_id: project_id.to_string(),
                is_admin: false,
            };
            let img = self.get(&caller, image_id).await.map_err(|e| {
                if e.kind == ErrorKind::NotFound {
                    CoreError::not_found(format!("Image {image_id} could not be found."))
                } else {
                    e
                }
            })?;
            Ok(ImageInfo {
                id: img.id,
                name: img.name.unwrap_or_default(),
                status: img.status,
                min_disk: img.min_disk,
                min_ram: img.min_ram,
                size: img.size,
                checksum: img.checksum,
                container_format: img.container_format,
                disk_format: img.disk_format,
                properties: img.properties,
            })
        })
    }

    fn adopt<'a>(
        &'a self,
        _project_id: &'a str,
        pod_id: &'a str,
        bottom_id: &'a str,
        image_id: &'a str,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.adopt_snapshot(pod_id, bottom_id, image_id))
    }

    fn reserve_snapshot<'a>(&'a self, req: &'a SnapshotRequest) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.reserve(req))
    }

    fn abandon_snapshot<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.abandon(image_id))
    }

    fn rotate_backups<'a>(
        &'a self,
        project_id: &'a str,
        server_id: &'a str,
        backup_type: &'a str,
        rotation: u64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.rotate(project_id, server_id, backup_type, rotation))
    }

    fn ensure_in_pod<'a>(
        &'a self,
        project_id: &'a str,
        image_id: &'a str,
        pod_id: &'a str,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let img =
                Image::from_row(self.store.get_image(image_id).await.map_err(|e| match e {
                    StoreError::NotFound => {
                        CoreError::not_found(format!("Image {image_id} could not be found."))
                    }
                    other => other.into(),
                })?);
            if img.status != "active" {
                return Err(CoreError::bad_request(format!(
                    "Image {image_id} is not active."
                )));
            }
            let (policy, _) = self.placement(&img).await?;
            let pod = self.pods.get(pod_id).await?;
            if !policy.placement.allows(&pod) {
                return Err(CoreError::bad_request(format!(
                    "Image {image_id} may not be placed in availability zone {}: its placement policy is '{}'.",
                    pod.az_name,
                    policy.placement.source()
                )));
            }
            let bottom = self
                .copy_to_pod(image_id, pod_id, self.config.copy_attempts, None)
                .await?;
            let client = self.pods.client(pod_id).await?;
            Self::ensure_access(&client, &img, &bottom, project_id).await?;
            Ok(bottom)
        })
    }
}

/// `image_copy` jobs: payload `{"image_id", "pod_id"}`.
pub(super) struct CopyJob(pub(super) Arc<ImageService>);

impl JobHandler for CopyJob {
    fn job_type(&self) -> &'static str {
        COPY_JOB
    }

    fn run<'a>(
        &'a self,
        job: &'a Job,
        ctx: &'a JobContext,
    ) -> crate::jobs::BoxFuture<'a, std::result::Result<(), JobError>> {
        Box::pin(async move {
            let image_id = job.payload["image_id"].as_str().unwrap_or_default();
            let pod_id = job.payload["pod_id"].as_str().unwrap_or_default();
            match self.0.copy_to_pod(image_id, pod_id, 1, Some(ctx)).await {
                Ok(_) => Ok(()),
                Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
                Err(e) => Err(JobError::from(e)),
            }
        })
    }
}

/// `image_delete_copy` jobs: payload `{"image_id", "pod_id"}`.
pub(super) struct DeleteCopyJob(pub(super) Arc<ImageService>);

impl JobHandler for DeleteCopyJob {
    fn job_type(&self) -> &'static str {
        DELETE_COPY_JOB
    }

    fn run<'a>(
        &'a self,
        job: &'a Job,
        _ctx: &'a JobContext,
    ) -> crate::jobs::BoxFuture<'a, std::result::Result<(), JobError>> {
        Box::pin(async move {
            let image_id = job.payload["image_id"].as_str().unwrap_or_default();
            let pod_id = job.payload["pod_id"].as_str().unwrap_or_default();
            self.0
                .delete_copy_in_pod(image_id, pod_id)
                .await
                .map_err(JobError::from)
        })
    }
}
