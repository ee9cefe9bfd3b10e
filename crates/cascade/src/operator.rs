//! Operator commands (`cascade pod …`, `cascade routing …`): authenticate like the `openstack`
//! CLI (the `OS_*` variables), call the admin API at `/v1.0`, print readable tables or JSON.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use comfy_table::{Table, presets};
use serde_json::{Value, json};

use crate::cli::{OperatorArgs, PodCommand, RoutingCommand};

pub(crate) struct Session {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) json: bool,
}

impl Session {
    pub(crate) async fn open(args: &OperatorArgs) -> anyhow::Result<Session> {
        let auth_url = args
            .os_auth_url
            .clone()
            .context("set OS_AUTH_URL (the demo prints it) or --os-auth-url")?;
        let username = args.os_username.clone().context("set OS_USERNAME")?;
        let password = args.os_password.clone().context("set OS_PASSWORD")?;
        let project = args
            .os_project_name
            .clone()
            .context("set OS_PROJECT_NAME")?;
        let auth_url = auth_url.trim_end_matches('/').to_string();
        let v3 = if auth_url.ends_with("/v3") {
            auth_url.clone()
        } else {
            format!("{auth_url}/v3")
        };
        let base = match &args.cascade_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => match v3.find("/identity") {
                Some(i) => v3[..i].to_string(),
                None => bail!("cannot derive Cascade's URL from OS_AUTH_URL; set CASCADE_URL"),
            },
        };
        let http = reqwest::Client::new();
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": username, "domain": {"name": args.os_user_domain_name}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": args.os_project_domain_name}}}
        }});
        let resp = http
            .post(format!("{v3}/auth/tokens?nocatalog"))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach {v3}"))?;
        if resp.status().as_u16() != 201 {
            bail!(
                "authentication failed ({}): {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .context("no X-Subject-Token in the answer")?
            .to_string();
        Ok(Session {
            http,
            base,
            token,
            json: args.format == "json",
        })
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}/v1.0{path}", self.base))
            .header("x-auth-token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.context("cannot reach Cascade")?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let message = value["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(text);
            bail!("{} {}", status.as_u16(), message);
        }
        Ok(value)
    }
}

pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::ASCII_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", s(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn print_pod(session: &Session, pod: &Value) {
    if session.json {
        println!("{}", serde_json::to_string_pretty(pod).unwrap_or_default());
        return;
    }
    let mut t = table(&["Field", "Value"]);
    if let Some(map) = pod.as_object() {
        for (k, v) in map {
            t.add_row([k.clone(), s(v)]);
        }
    }
    println!("{t}");
}

fn pairs(items: &[String], what: &str) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => bail!("{what} must be KEY=VALUE, got {i:?}"),
        })
        .collect()
}

/// `cascade pod …`.
pub(crate) async fn pod(args: OperatorArgs, cmd: PodCommand) -> anyhow::Result<()> {
    let session = Session::open(&args).await?;
    match cmd {
        PodCommand::List => {
            let v = session.call(reqwest::Method::GET, "/pods", None).await?;
            if session.json {
                println!("{}", serde_json::to_string_pretty(&v["pods"])?);
                return Ok(());
            }
            let mut t = table(&[
                "Pod ID",
                "Region",
                "AZ",
                "DC",
                "State",
                "Reason",
                "Capabilities",
            ]);
            for p in v["pods"].as_array().cloned().unwrap_or_default() {
                t.add_row([
                    s(&p["pod_id"]),
                    s(&p["region_name"]),
                    s(&p["az_name"]),
                    s(&p["dc_name"]),
                    s(&p["state"]),
                    s(&p["state_reason"]),
                    s(&p["capabilities"]),
                ]);
            }
            println!("{t}");
        }
        PodCommand::Show { pod_id } => {
            let v = session
                .call(reqwest::Method::GET, &format!("/pods/{pod_id}"), None)
                .await?;
            print_pod(&session, &v["pod"]);
        }
        PodCommand::Add(a) => {
            let a = *a;
            let mut pod = json!({
                "region_name": a.region_name,
                "az_name": a.az_name,
                "pod_az_name": a.pod_az_name,
                "dc_name": a.dc_name,
                "endpoints": pairs(&a.endpoints, "--endpoint")?,
                "capabilities": pairs(&a.capabilities, "--capability")?,
            });
            if let Some(u) = a.auth_url {
                pod["auth_url"] = json!(u);
            }
            if let Some(username) = a.username {
                let project = a
                    .project_name
                    .context("--project-name is needed with --username")?;
                let mut c = json!({"username": username, "project_name": project,
                    "user_domain_name": a.user_domain_name, "project_domain_name": a.project_domain_name});
                match (a.password, a.password_ref) {
                    (Some(p), None) => c["password"] = json!(p),
                    (None, Some(r)) => c["password_ref"] = json!(r),
                    _ => bail!("give exactly one of --password or --password-ref"),
                }
                pod["credentials"] = c;
            }
            let v = session
                .call(reqwest::Method::POST, "/pods", Some(json!({"pod": pod})))
                .await?;
            print_pod(&session, &v["pod"]);
        }
        PodCommand::Remove { pod_id } => {
            session
                .call(reqwest::Method::DELETE, &format!("/pods/{pod_id}"), None)
                .await?;
            println!("Pod {pod_id} removed.");
        }
        PodCommand::Maintenance { pod_id, mode } => {
            let state = if mode == "on" { "maintenance" } else { "up" };
            let v = session
                .call(
                    reqwest::Method::PUT,
                    &format!("/pods/{pod_id}"),
                    Some(json!({"pod": {"state": state}})),
                )
                .await?;
            print_pod(&session, &v["pod"]);
        }
    }
    Ok(())
}

/// `cascade routing …`.
pub(crate) async fn routing(args: OperatorArgs, cmd: RoutingCommand) -> anyhow::Result<()> {
    let session = Session::open(&args).await?;
    let RoutingCommand::List {
        top_id,
        bottom_id,
        pod_id,
        project_id,
        resource_type,
        limit,
        marker,
    } = cmd;
    let mut query = Vec::new();
    for (k, v) in [
        ("top_id", top_id),
        ("bottom_id", bottom_id),
        ("pod_id", pod_id),
        ("project_id", project_id),
        ("resource_type", resource_type),
        ("limit", limit.map(|l| l.to_string())),
        ("marker", marker.map(|m| m.to_string())),
    ] {
        if let Some(v) = v {
            query.push(format!("{k}={v}"));
        }
    }
    let path = if query.is_empty() {
        "/routings".to_string()
    } else {
        format!("/routings?{}", query.join("&"))
    };
    let v = session.call(reqwest::Method::GET, &path, None).await?;
    if session.json {
        println!("{}", serde_json::to_string_pretty(&v["routings"])?);
        return Ok(());
    }
    let mut t = table(&[
        "ID",
        "Top ID",
        "Bottom ID",
        "Pod ID",
        "Project",
        "Type",
        "Updated",
    ]);
    for r in v["routings"].as_array().cloned().unwrap_or_default() {
        t.add_row([
            s(&r["id"]),
            s(&r["top_id"]),
            s(&r["bottom_id"]),
            s(&r["pod_id"]),
            s(&r["project_id"]),
            s(&r["resource_type"]),
            s(&r["updated_at"]),
        ]);
    }
    println!("{t}");
    if let Some(next) = v["routings_links"][0]["href"].as_str() {
        println!("More: {next}");
    }
    Ok(())
}

/// `cascade policy list`: the effective rules, without a running Cascade.
pub(crate) fn policy_list(config: Option<&std::path::Path>, json: bool) -> anyhow::Result<()> {
    let policy = match config {
        Some(path) => crate::config::Config::load(path)?.policy()?,
        None => cascade_api::policy(true, &Default::default(), None)
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let rows = policy.effective();
    if json {
        let out: Vec<Value> = rows
            .iter()
            .map(|(path, method, action, rule, overridden)| {
                serde_json::json!({
                    "route": path, "method": method, "action": action,
                    "rule": rule, "overridden": overridden,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let mut t = table(&["Route", "Method", "Action", "Rule", "Overridden"]);
        for (path, method, action, rule, overridden) in rows {
            t.add_row(vec![
                path,
                method,
                action,
                rule.to_string(),
                if overridden {
                    "yes".into()
                } else {
                    String::new()
                },
            ]);
        }
        println!("{t}");
    }
    Ok(())
}
