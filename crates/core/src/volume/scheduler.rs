//! Choosing a pod for a volume. A volume made from a snapshot or another volume, or meant for a
//! server (`local_to_instance`, boot from volume), goes to that pod; an explicit AZ must agree
//! with it, or otherwise selects the candidate pods. Pods that are down, in maintenance or
//! whose breaker is open are skipped; the volume must fit the pod's largest free storage pool
//! (Cinder's `scheduler-stats/get_pools`, cached briefly; a pod that does not report its
//! pools is taken to have room). Within an AZ a project keeps to the pod compute bound it to;
//! otherwise the pod with the most free space wins. When no pod can hold the size the create
//! is refused with a 400 that says how much the largest pod has free.

use cascade_model::admin::{Pod, PodState};
use http::Method;
use serde_json::Value;
use tokio::time::Instant;

use super::VolumeService;
use crate::{CoreError, ErrorKind, Result};

const CAPACITY_TTL: std::time::Duration = std::time::Duration::from_secs(5);

fn gib(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.parse().ok())
}

impl VolumeService {
    /// Largest free pool of a pod in GiB (`None`: unknown or unlimited).
    pub(crate) async fn pod_free_gb(&self, pod_id: &str) -> Option<f64> {
        if let Ok(cache) = self.capacity.lock()
            && let Some((at, free)) = cache.get(pod_id)
            && at.elapsed() < CAPACITY_TTL
        {
            return *free;
        }
        let free = self.fetch_free_gb(pod_id).await;
        if let Ok(mut cache) = self.capacity.lock() {
            cache.insert(pod_id.to_string(), (Instant::now(), free));
        }
        free
    }

    async fn fetch_free_gb(&self, pod_id: &str) -> Option<f64> {
        let client = self.pods.client(pod_id).await.ok()?;
        let r = tokio::time::timeout(
            self.config.live_timeout,
            client.send(
                Method::GET,
                "volumev3",
                "/scheduler-stats/get_pools?detail=True",
                None,
                &[super::POD_MV],
            ),
        )
        .await
        .ok()?
        .ok()?;
        if r.status != 200 {
            return None;
        }
        let v = r.json().ok()?;
        let mut best: Option<f64> = None;
        for p in v["pools"].as_array()? {
            // "infinite"/"unknown" parse to nothing: unlimited.
            let free = gib(&p["capabilities"]["free_capacity_gb"])?;
            best = Some(best.map_or(free, |b: f64| b.max(free)));
        }
        best
    }

    /// Charges a placement against the cached capacity so a burst of creates spreads out.
    fn charge(&self, pod_id: &str, size: i64) {
        if let Ok(mut cache) = self.capacity.lock()
            && let Some((_, Some(free))) = cache.get_mut(pod_id)
        {
            *free -= size as f64;
        }
    }

    fn usable(pod: &Pod) -> bool {
        matches!(pod.state, PodState::Up | PodState::Degraded)
    }

    /// Picks the pod for a new volume of `size` GiB.
    pub(crate) async fn place(
        &self,
        project_id: &str,
        az: Option<&str>,
        pinned: Option<&(String, String)>,
        size: i64,
    ) -> Result<Pod> {
        let pods = self.pods.list().await?;
        if let Some(az) = az
            && !pods.iter().any(|p| p.az_name == az)
        {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: Availability zone '{az}' is invalid."
            )));
        }
        if let Some((pod_id, why)) = pinned {
            let pod = pods
                .iter()
                .find(|p| &p.pod_id == pod_id)
                .cloned()
                .ok_or_else(|| CoreError::bad_request(format!("The pod of {why} is gone.")))?;
            if let Some(az) = az
                && az != pod.az_name
            {
                return Err(CoreError::bad_request(format!(
                    "Invalid input received: the volume must be in availability zone {} with {why}, not in {az}.",
                    pod.az_name
                )));
            }
            if !Self::usable(&pod) || self.pod_unreachable(&pod.pod_id).await {
                return Err(CoreError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "The availability zone {} of {why} is unreachable.",
                        pod.az_name
                    ),
                ));
            }
            if let Some(free) = self.pod_free_gb(&pod.pod_id).await
                && (size as f64) > free
            {
                return Err(CoreError::bad_request(format!(
                    "Invalid input received: availability zone {} cannot hold a volume of {size} GiB (free: {} GiB).",
                    pod.az_name,
                    free.floor()
                )));
            }
            self.charge(&pod.pod_id, size);
            return Ok(pod);
        }
        let mut candidates = Vec::new();
        for pod in pods {
            if az.is_some_and(|a| a != pod.az_name) || !Self::usable(&pod) {
                continue;
            }
            if let Ok(c) = self.pods.client(&pod.pod_id).await
                && c.is_open()
            {
                continue;
            }
            candidates.push(pod);
        }
        if candidates.is_empty() {
            return Err(CoreError::new(
                ErrorKind::Unavailable,
                match az {
                    Some(az) => format!("No pod of availability zone {az} is usable right now."),
                    None => "No availability zone is usable right now.".to_string(),
                },
            ));
        }
        let mut fitting = Vec::new();
        let mut largest: Option<f64> = None;
        for pod in candidates {
            let free = self.pod_free_gb(&pod.pod_id).await;
            match free {
                Some(f) if (size as f64) > f => {
                    largest = Some(largest.map_or(f, |l: f64| l.max(f)));
                }
                _ => fitting.push((pod, free.unwrap_or(f64::MAX))),
            }
        }
        if fitting.is_empty() {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: no availability zone{} can hold a volume of {size} GiB (the most free in one pod is {} GiB).",
                az.map(|a| format!(" matching '{a}'")).unwrap_or_default(),
                largest.unwrap_or(0.0).floor()
            )));
        }
        if let Some(az) = az
            && let Some(bound) = self.store.pod_binding(project_id, az).await?
            && let Some((pod, _)) = fitting.iter().find(|(p, _)| p.pod_id == bound)
        {
            let pod = pod.clone();
            self.charge(&pod.pod_id, size);
            return Ok(pod);
        }
        fitting.sort_by(|a, b| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.0.region_name.cmp(&b.0.region_name))
        });
        let pod = fitting.swap_remove(0).0;
        self.charge(&pod.pod_id, size);
        Ok(pod)
    }
}
