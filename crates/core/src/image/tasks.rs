//! Glance's (legacy) tasks API, `/v2/tasks`: an `import` task creates an image from its
//! `input.image_properties` and fills it with the bytes at `input.import_from`, an HTTP(S)
//! URL, streamed to the image's home pod like an upload. As in Glance, the URL is checked when
//! the task is created (a 400 otherwise): scheme `http`/`https`, a host that is an IP address
//! or a name that resolves (never a numeric shorthand), and an explicit port only among
//! the allowed ones (Glance's `[import_filtering_opts]`, 80 and 443 by default; redirects are
//! held to the same rules). The task then runs in this process: `pending` → `processing` →
//! `success` with `result.image_id`, or `failure` with Glance's "Error: …" message; either end
//! sets `expires_at` 48 hours later. Tasks are listed and shown to their owner (every task to
//! an administrator); the route policy keeps the API to administrators, as Glance's
//! `tasks_api_access` does.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use cascade_store::image_tasks::TaskRow;
use cascade_store::{StoreError, now_micros};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::metadefs::{ListParams, iso};
use super::{Caller, ImageService, UploadRequest};
use crate::Result;
use crate::error::CoreError;

const TASK_TYPES: &[&str] = &["import", "api_image_import", "location_import"];
const TASK_STATUSES: &[&str] = &["pending", "processing", "success", "failure"];
/// Glance's `task_time_to_live`.
const TIME_TO_LIVE_MICROS: i64 = 48 * 3600 * 1_000_000;
/// How long resolving an import host may take before it counts as unresolvable.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who creates a task (Glance records the user and the request).
#[derive(Debug, Clone)]
pub struct TaskCreator {
    pub caller: Caller,
    pub user_id: Option<String>,
    pub request_id: Option<String>,
}

/// A task as `GET /v2/tasks/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskView {
    pub id: String,
    #[serde(rename = "type")]
    pub task_type: String,
    pub status: String,
    pub owner: String,
    pub input: Value,
    pub result: Value,
    pub message: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(rename = "self")]
    pub self_link: String,
    pub schema: &'static str,
}

/// A task in a listing (no input, result or message).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStub {
    pub id: String,
    #[serde(rename = "type")]
    pub task_type: String,
    pub status: String,
    pub owner: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(rename = "self")]
    pub self_link: String,
    pub schema: &'static str,
}

/// One page of tasks and the marker of the next one.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub tasks: Vec<TaskStub>,
    pub next_marker: Option<String>,
}

fn view(t: &TaskRow) -> TaskView {
    let parse = |s: Option<&str>| {
        s.and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null)
    };
    TaskView {
        id: t.id.clone(),
        task_type: t.task_type.clone(),
        status: t.status.clone(),
        owner: t.owner.clone(),
        input: parse(Some(&t.input)),
        result: parse(t.result.as_deref()),
        message: t.message.clone(),
        created_at: iso(t.created_at),
        updated_at: iso(t.updated_at),
        expires_at: t.expires_at.map(iso),
        image_id: t.image_id.clone(),
        request_id: t.request_id.clone(),
        user_id: t.user_id.clone(),
        self_link: format!("/v2/tasks/{}", t.id),
        schema: "/v2/schemas/task",
    }
}

fn stub(t: &TaskRow) -> TaskStub {
    TaskStub {
        id: t.id.clone(),
        task_type: t.task_type.clone(),
        status: t.status.clone(),
        owner: t.owner.clone(),
        created_at: iso(t.created_at),
        updated_at: iso(t.updated_at),
        expires_at: t.expires_at.map(iso),
        self_link: format!("/v2/tasks/{}", t.id),
        schema: "/v2/schemas/task",
    }
}

fn task_schema_error(reason: impl std::fmt::Display) -> CoreError {
    CoreError::bad_request(format!(
        "Provided object does not match schema 'task': {reason}"
    ))
}

/// Glance's `validate_location_uri` then `validate_import_uri`: the URL a legacy import may
/// read from.
pub async fn check_import_uri(uri: Option<&str>, allowed_ports: &[u16]) -> Result<url::Url> {
    let uri = uri.unwrap_or_default();
    if uri.is_empty() {
        return Err(CoreError::bad_request(format!("Invalid location: {uri}")));
    }
    if uri.starts_with("file:///") || uri.starts_with("filesystem:///") {
        return Err(CoreError::bad_request(
            "File based imports are not allowed. Please use a non-local source of image data.",
        ));
    }
    if !uri.starts_with("http://") && !uri.starts_with("https://") {
        return Err(CoreError::bad_request(
            "The given uri is not valid. Please specify a valid uri from the following list of \
             supported uri ['http']",
        ));
    }
    let refused = || {
        CoreError::bad_request(format!(
            "URI for legacy import task does not pass filtering: {uri}"
        ))
    };
    let parsed = url::Url::parse(uri).map_err(|_| refused())?;
    let host = raw_host(uri).ok_or_else(refused)?;
    if !scheme_and_port_allowed(&parsed, allowed_ports) || !host_acceptable(&host) {
        return Err(refused());
    }
    if let Some(url::Host::Domain(name)) = parsed.host() {
        // A trailing dot forces a DNS lookup, never a numeric parse.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let resolved = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((fqdn, 80)))
            .await
            .ok()
            .and_then(|r| r.ok())
            .is_some_and(|mut addrs| addrs.next().is_some());
        if !resolved {
            return Err(refused());
        }
    }
    Ok(parsed)
}

/// The host as written in `uri` (the URL parser normalises numeric forms away), without
/// user information, port or IPv6 brackets.
fn raw_host(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        hostport.split(':').next()?
    };
    Some(host.to_string())
}

/// Glance's `normalize_hostname` without the DNS part: a dotted-quad IPv4 or an IPv6
/// address, else a name that is not a numeric shorthand (`2130706433`, `127.1`).
fn host_acceptable(host: &str) -> bool {
    if host.parse::<Ipv4Addr>().is_ok() || host.parse::<Ipv6Addr>().is_ok() {
        return true;
    }
    !host.is_empty() && !host.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The scheme and port rules of `validate_import_uri` (also applied to redirects).
fn scheme_and_port_allowed(u: &url::Url, allowed_ports: &[u16]) -> bool {
    if u.scheme() != "http" && u.scheme() != "https" {
        return false;
    }
    match u.port() {
        Some(p) => allowed_ports.is_empty() || allowed_ports.contains(&p),
        None => u.host().is_some(),
    }
}

impl ImageService {
    /// `POST /v2/tasks`.
    pub async fn create_task(self: &Arc<Self>, who: TaskCreator, body: &Value) -> Result<TaskView> {
        let Some(obj) = body.as_object() else {
            return Err(CoreError::bad_request("Task 'type' is required"));
        };
        for key in ["type", "input"] {
            if !obj.contains_key(key) {
                return Err(CoreError::bad_request(format!("Task '{key}' is required")));
            }
        }
        if let Some(k) = obj.keys().find(|k| *k != "type" && *k != "input") {
            return Err(task_schema_error(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let task_type = match obj.get("type") {
            Some(Value::String(t)) if TASK_TYPES.contains(&t.as_str()) => t.clone(),
            Some(other) => {
                return Err(task_schema_error(format!(
                    "{other} is not one of {TASK_TYPES:?}"
                )));
            }
            None => unreachable!("checked above"),
        };
        let input = obj.get("input").cloned().unwrap_or(Value::Null);
        if !input.is_object() && !input.is_null() {
            return Err(task_schema_error(format!(
                "{input} is not of type 'null', 'object'"
            )));
        }
        if task_type == "import" {
            check_import_uri(
                input.get("import_from").and_then(Value::as_str),
                &self.config.import_allowed_ports,
            )
            .await?;
        }
        let now = now_micros();
        let row = TaskRow {
            id: uuid::Uuid::new_v4().to_string(),
            task_type,
            status: "pending".into(),
            owner: who.caller.project_id.clone(),
            input: input.to_string(),
            result: None,
            message: String::new(),
            image_id: input
                .get("image_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            request_id: who.request_id,
            user_id: who.user_id,
            expires_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_image_task(&row).await?;
        let this = self.clone();
        let caller = who.caller;
        let task = row.clone();
        tokio::spawn(async move { this.run_task(caller, task).await });
        Ok(view(&row))
    }

    /// `GET /v2/tasks/{id}`.
    pub async fn get_task(&self, caller: &Caller, id: &str) -> Result<TaskView> {
        let not_found =
            || CoreError::not_found(format!("Task with the given id {id} was not found"));
        match self.store.get_image_task(id).await {
            Ok(t) if caller.is_admin || t.owner == caller.project_id => Ok(view(&t)),
            Ok(_) | Err(StoreError::NotFound) => Err(not_found()),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /v2/tasks`: filters `type` and `status`, newest first, 25 by default.
    pub async fn list_tasks(
        &self,
        caller: &Caller,
        params: &[(String, String)],
    ) -> Result<TaskPage> {
        let mut p = ListParams::parse(params)?;
        if let Some(m) = &p.marker
            && uuid::Uuid::parse_str(m).is_err()
        {
            return Err(CoreError::bad_request("Invalid marker format"));
        }
        let limit = p.limit.unwrap_or(25).min(1000);
        p.limit = Some(limit);
        let owner = (!caller.is_admin).then_some(caller.project_id.as_str());
        let mut rows = self.store.list_image_tasks(owner).await?;
        if let Some(s) = p.filter("status") {
            if !TASK_STATUSES.contains(&s) {
                return Err(CoreError::bad_request(format!("Invalid status value: {s}")));
            }
            rows.retain(|r| r.status == s);
        }
        if let Some(t) = p.filter("type") {
            if !TASK_TYPES.contains(&t) {
                return Err(CoreError::bad_request(format!("Invalid type value: {t}")));
            }
            rows.retain(|r| r.task_type == t);
        }
        let rows = p.page(
            rows,
            &["created_at", "updated_at", "id", "type", "status"],
            |r, key| match key {
                "created_at" => Some(format!("{:020}", r.created_at)),
                "updated_at" => Some(format!("{:020}", r.updated_at)),
                "id" => Some(r.id.clone()),
                "type" => Some(r.task_type.clone()),
                "status" => Some(r.status.clone()),
                _ => None,
            },
            |r| r.id.as_str(),
        )?;
        let next_marker = (limit > 0 && rows.len() == limit)
            .then(|| rows.last().map(|r| r.id.clone()))
            .flatten();
        Ok(TaskPage {
            tasks: rows.iter().map(stub).collect(),
            next_marker,
        })
    }

    async fn save_task(&self, t: &TaskRow) {
        if let Err(e) = self.store.update_image_task(t).await {
            tracing::error!(task = %t.id, error = %e, "could not record a task's progress");
        }
    }

    async fn run_task(self: &Arc<Self>, caller: Caller, mut task: TaskRow) {
        task.status = "processing".into();
        task.updated_at = now_micros();
        self.save_task(&task).await;
        let outcome = match task.task_type.as_str() {
            "import" => self.run_import(&caller, &mut task).await,
            other => Err(format!(
                "Error: <class 'glance.common.exception.Invalid'>: Task type {other} is only run by \
                 the image import API."
            )),
        };
        let now = now_micros();
        match outcome {
            Ok(image_id) => {
                task.status = "success".into();
                task.result = Some(json!({"image_id": image_id}).to_string());
            }
            Err(message) => {
                task.status = "failure".into();
                task.message = message;
            }
        }
        task.updated_at = now;
        task.expires_at = Some(now + TIME_TO_LIVE_MICROS);
        self.save_task(&task).await;
    }

    /// Glance's legacy import: the image, then its bytes from the URL.
    async fn run_import(
        self: &Arc<Self>,
        caller: &Caller,
        task: &mut TaskRow,
    ) -> std::result::Result<String, String> {
        let invalid = |m: String| format!("Error: <class 'glance.common.exception.Invalid'>: {m}");
        let input: Map<String, Value> = serde_json::from_str(&task.input).unwrap_or_default();
        for key in ["import_from", "import_from_format", "image_properties"] {
            if !input.contains_key(key) {
                return Err(invalid(format!("Input does not contain '{key}' field")));
            }
        }
        let uri = check_import_uri(
            input.get("import_from").and_then(Value::as_str),
            &self.config.import_allowed_ports,
        )
        .await
        .map_err(|e| invalid(e.message))?;
        let mut props = match input.get("image_properties") {
            Some(Value::Object(p)) => p.clone(),
            _ => Map::new(),
        };
        if props.is_empty() {
            props.insert("disk_format".into(), json!("qcow2"));
            props.insert("container_format".into(), json!("bare"));
        }
        let image = self
            .create(caller, &Value::Object(props))
            .await
            .map_err(|e| invalid(e.message))?;
        task.image_id = Some(image.id.clone());
        self.save_task(task).await;
        let body = self
            .fetch(uri)
            .await
            .map_err(|m| format!("Error: <class 'urllib.error.URLError'>: {m}"))?;
        let req = UploadRequest {
            content_length: body.content_length(),
            body: body
                .bytes_stream()
                .map(|c| c.map_err(std::io::Error::other))
                .boxed(),
        };
        self.upload(caller, &image.id, req).await.map_err(|e| {
            format!(
                "Error: <class 'glance.common.exception.ImportTaskError'>: {}",
                e.message
            )
        })?;
        Ok(image.id)
    }

    /// Opens the import URL, following redirects only to URLs that pass the same filter.
    async fn fetch(&self, uri: url::Url) -> std::result::Result<reqwest::Response, String> {
        let ports = self.config.import_allowed_ports.clone();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 10 {
                    attempt.error("too many redirects")
                } else if scheme_and_port_allowed(attempt.url(), &ports) {
                    attempt.follow()
                } else {
                    let m = format!("Redirect to disallowed URL: {}", attempt.url());
                    attempt.error(m)
                }
            }))
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        let resp = client.get(uri).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP Error {}", resp.status()));
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn import_uris_are_filtered_like_glance() {
        let ports = [80, 443];
        for bad in [
            "",
            "file:///etc/passwd",
            "ftp://example.com/x",
            "http://2130706433/x",
            "http://127.1/x",
            "http://10.0.0.1:8080/x",
            "http://tempest-dummy-img-file-1234.qcow2",
        ] {
            let e = check_import_uri(Some(bad), &ports).await.unwrap_err();
            assert_eq!(e.kind.status(), 400, "{bad}");
        }
        let e = check_import_uri(Some("http://nowhere-xyz.qcow2"), &ports)
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "URI for legacy import task does not pass filtering: http://nowhere-xyz.qcow2"
        );
        assert!(
            check_import_uri(Some("http://127.0.0.1/x"), &ports)
                .await
                .is_ok()
        );
        assert!(
            check_import_uri(Some("http://[::1]:443/x"), &ports)
                .await
                .is_ok()
        );
        assert!(
            check_import_uri(Some("http://127.0.0.1:9/x"), &[])
                .await
                .is_ok()
        );
    }
}
