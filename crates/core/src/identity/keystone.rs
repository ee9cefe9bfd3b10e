//! The `keystone` identity backend: tokens are issued by a real, external Keystone; Cascade
//! validates each incoming token with `GET /v3/auth/tokens` (authenticated with its own service
//! token) and caches the answer for a bounded time (like keystonemiddleware's token cache), so
//! a revoked token may keep working here for at most `cache_ttl`. It also makes the Keystone
//! trusts through which Cascade's service user acts for tenants in durable jobs
//! ([`super::delegation`]).

use std::collections::HashMap;
use std::time::Duration;

use cascade_model::identity::TokenResponse;
use chrono::Utc;
use serde_json::json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::context::AuthContext;
use crate::{CoreError, ErrorKind, Result};

/// One trust as `OS-TRUST` lists it.
#[derive(Debug, serde::Deserialize)]
struct Trust {
    id: String,
    trustee_user_id: String,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    impersonation: bool,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    remaining_uses: Option<i64>,
}

#[derive(Debug, serde::Deserialize)]
struct TrustList {
    #[serde(default)]
    trusts: Vec<Trust>,
}

#[derive(Debug, serde::Deserialize)]
struct TrustDoc {
    trust: Trust,
}

/// How to reach and use the external Keystone. `Debug` never shows the password.
#[derive(Clone)]
pub struct KeystoneIdentityConfig {
    /// Base URL, e.g. `http://127.0.0.1/identity` (without `/v3`).
    pub url: String,
    pub service_username: String,
    pub service_password: String,
    pub service_project: String,
    pub service_user_domain: String,
    pub service_project_domain: String,
    pub cache_ttl: Duration,
    pub cache_size: usize,
    pub timeout: Duration,
}

impl std::fmt::Debug for KeystoneIdentityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeystoneIdentityConfig")
            .field("url", &self.url)
            .field("service_username", &self.service_username)
            .field("service_password", &cascade_model::redact::REDACTED)
            .field("service_project", &self.service_project)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Cached {
    at: Instant,
    ctx: AuthContext,
}

/// Validates tokens against an external Keystone. `Debug` shows neither the service token nor
/// the cached tokens.
pub struct KeystoneIdentity {
    config: KeystoneIdentityConfig,
    http: reqwest::Client,
    /// (token, expiry, the service user's id).
    service_token: Mutex<Option<(String, chrono::DateTime<Utc>, String)>>,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for KeystoneIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeystoneIdentity")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KeystoneIdentity {
    pub fn new(config: KeystoneIdentityConfig) -> KeystoneIdentity {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .unwrap_or_default();
        KeystoneIdentity {
            config,
            http,
            service_token: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    fn v3(&self) -> String {
        let base = self.config.url.trim_end_matches('/');
        if base.ends_with("/v3") {
            base.to_string()
        } else {
            format!("{base}/v3")
        }
    }

    fn unavailable(e: impl std::fmt::Display) -> CoreError {
        CoreError::new(
            ErrorKind::Unavailable,
            format!("identity service unavailable: {e}"),
        )
    }

    async fn service_token(&self, force: bool) -> Result<String> {
        Ok(self.service_identity(force).await?.0)
    }

    /// Cascade's service token and its user id.
    async fn service_identity(&self, force: bool) -> Result<(String, String)> {
        let mut guard = self.service_token.lock().await;
        if let Some((token, exp, user)) = guard.as_ref()
            && !force
            && *exp > Utc::now() + chrono::Duration::seconds(60)
        {
            return Ok((token.clone(), user.clone()));
        }
        let c = &self.config;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": c.service_username, "domain": {"name": c.service_user_domain}, "password": c.service_password}}},
            "scope": {"project": {"name": c.service_project, "domain": {"name": c.service_project_domain}}}
        }});
        let resp = self
            .http
            .post(format!("{}/auth/tokens?nocatalog", self.v3()))
            .json(&body)
            .send()
            .await
            .map_err(Self::unavailable)?;
        if resp.status().as_u16() != 201 {
            return Err(Self::unavailable(format!(
                "service user authentication answered {}",
                resp.status()
            )));
        }
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| Self::unavailable("no X-Subject-Token"))?;
        let doc: TokenResponse = resp.json().await.map_err(Self::unavailable)?;
        let exp = chrono::DateTime::parse_from_rfc3339(&doc.token.expires_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now() + chrono::Duration::minutes(5));
        *guard = Some((token.clone(), exp, doc.token.user.id.clone()));
        Ok((token, doc.token.user.id))
    }

    /// A trust from the caller to Cascade's service user on the caller's project, with
    /// impersonation and the caller's roles: an existing one when the caller has made it
    /// before, else a new one (made with the caller's own token, as Keystone requires).
    pub async fn ensure_trust(&self, ctx: &AuthContext) -> Result<String> {
        let project = ctx
            .project_id()
            .ok_or_else(|| CoreError::forbidden("A project-scoped token is required."))?;
        let (_, trustee) = self.service_identity(false).await?;
        let refused = |what: &str, status: u16| {
            CoreError::new(
                ErrorKind::Unavailable,
                format!("Keystone answered {status} to {what} a trust"),
            )
        };
        let resp = self
            .http
            .get(format!("{}/OS-TRUST/trusts", self.v3()))
            .query(&[("trustor_user_id", ctx.user.id.as_str())])
            .header("x-auth-token", &ctx.token)
            .send()
            .await
            .map_err(Self::unavailable)?;
        if resp.status().as_u16() == 200 {
            let list: TrustList = resp.json().await.map_err(Self::unavailable)?;
            let now = Utc::now();
            if let Some(t) = list.trusts.into_iter().find(|t| {
                t.trustee_user_id == trustee
                    && t.project_id.as_deref() == Some(project)
                    && t.impersonation
                    && t.remaining_uses.is_none()
                    && t.expires_at.as_deref().is_none_or(|e| {
                        chrono::DateTime::parse_from_rfc3339(e)
                            .is_ok_and(|e| e > now + chrono::Duration::hours(1))
                    })
            }) {
                return Ok(t.id);
            }
        }
        let roles: Vec<serde_json::Value> =
            ctx.roles.iter().map(|r| json!({"name": r.name})).collect();
        let body = json!({"trust": {
            "trustor_user_id": ctx.user.id, "trustee_user_id": trustee, "project_id": project,
            "impersonation": true, "roles": roles,
        }});
        let resp = self
            .http
            .post(format!("{}/OS-TRUST/trusts", self.v3()))
            .header("x-auth-token", &ctx.token)
            .json(&body)
            .send()
            .await
            .map_err(Self::unavailable)?;
        let status = resp.status().as_u16();
        if status != 201 {
            return Err(refused("create", status));
        }
        let doc: TrustDoc = resp.json().await.map_err(Self::unavailable)?;
        tracing::info!(user = %ctx.user.id, project, trust = %doc.trust.id, "Keystone trust created for delegated work");
        Ok(doc.trust.id)
    }

    /// A token of the trustor, made by Cascade's service user through `trust_id`.
    pub async fn trust_token(&self, trust_id: &str) -> Result<(String, chrono::DateTime<Utc>)> {
        let c = &self.config;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": c.service_username, "domain": {"name": c.service_user_domain}, "password": c.service_password}}},
            "scope": {"OS-TRUST:trust": {"id": trust_id}}
        }});
        let resp = self
            .http
            .post(format!("{}/auth/tokens?nocatalog", self.v3()))
            .json(&body)
            .send()
            .await
            .map_err(Self::unavailable)?;
        let status = resp.status().as_u16();
        if status != 201 {
            return Err(CoreError::new(
                ErrorKind::Unavailable,
                format!("Keystone answered {status} to a token through trust {trust_id}"),
            ));
        }
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| Self::unavailable("no X-Subject-Token"))?;
        let doc: TokenResponse = resp.json().await.map_err(Self::unavailable)?;
        let exp = chrono::DateTime::parse_from_rfc3339(&doc.token.expires_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now() + chrono::Duration::minutes(5));
        Ok((token, exp))
    }

    /// Validates `token` (cached).
    pub async fn validate(&self, token: &str) -> Result<AuthContext> {
        {
            let cache = self.cache.lock().await;
            if let Some(c) = cache.get(token)
                && c.at.elapsed() < self.config.cache_ttl
                && c.ctx.expires_at > Utc::now()
            {
                return Ok(c.ctx.clone());
            }
        }
        let mut service = self.service_token(false).await?;
        for attempt in 0..2 {
            let resp = self
                .http
                .get(format!("{}/auth/tokens", self.v3()))
                .header("x-auth-token", &service)
                .header("x-subject-token", token)
                .send()
                .await
                .map_err(Self::unavailable)?;
            match resp.status().as_u16() {
                200 => {
                    let doc: TokenResponse = resp.json().await.map_err(Self::unavailable)?;
                    let ctx = AuthContext::from_token(token.to_string(), doc.token)?;
                    let mut cache = self.cache.lock().await;
                    if cache.len() >= self.config.cache_size {
                        let ttl = self.config.cache_ttl;
                        cache.retain(|_, c| c.at.elapsed() < ttl);
                        if cache.len() >= self.config.cache_size {
                            cache.clear();
                        }
                    }
                    cache.insert(
                        token.to_string(),
                        Cached {
                            at: Instant::now(),
                            ctx: ctx.clone(),
                        },
                    );
                    return Ok(ctx);
                }
                401 if attempt == 0 => service = self.service_token(true).await?,
                404 | 401 => break,
                other => {
                    return Err(Self::unavailable(format!(
                        "token validation answered {other}"
                    )));
                }
            }
        }
        Err(CoreError::not_found("Could not find token."))
    }
}
