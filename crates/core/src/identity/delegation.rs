//! Acting for a tenant in a pod. Bottom resources must belong to the tenant's project in the
//! pod, so pod calls made on a tenant's behalf carry a token of that user and project, which
//! the pod accepts because it trusts the same identity. Durable jobs run long after the
//! request, so an [`Actor`] never holds a tenant's token in plaintext:
//! - with the embedded identity, Cascade mints such tokens itself (cached until shortly before
//!   expiry), and the actor is just (user, project);
//! - with an external Keystone, the request's own token creates (or reuses) a Keystone trust
//!   from the user to Cascade's service user on the project, with impersonation; jobs then
//!   authenticate as the service user scoped to that trust. Where no trust can be made (a
//!   Keystone whose policy forbids it), the caller's token is kept sealed with Cascade's
//!   secret key, and a job that outlives it fails with 401 like before.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::{AuthContext, Identity, Scope};
use crate::secrets::Sealer;
use crate::{CoreError, ErrorKind, Result};

/// Who a piece of work is done for. `Debug` never shows a grant's secret.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    pub user_id: String,
    pub project_id: String,
    /// With an external Keystone: how Cascade acts as this user later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Grant>,
}

/// How Cascade's service identity acts for a user of an external Keystone.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// A Keystone trust: trustee Cascade's service user, impersonating the trustor.
    Trust(String),
    /// The user's own token, sealed (ChaCha20-Poly1305) with Cascade's secret key.
    SealedToken(String),
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grant::Trust(id) => f.debug_tuple("Trust").field(id).finish(),
            Grant::SealedToken(_) => f.write_str("SealedToken(<redacted>)"),
        }
    }
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("user_id", &self.user_id)
            .field("project_id", &self.project_id)
            .field("grant", &self.grant)
            .finish()
    }
}

impl Actor {
    /// The actor's own project as a scope: work done for a tenant reaches only its resources.
    pub fn scope(&self) -> Scope {
        Scope::Project(self.project_id.clone())
    }

    /// The actor of a row of `user_id` in `project_id` whose stored request document
    /// (`{"actor": {...}}`) recorded the grant; a grant is only ever used in its own project.
    pub fn from_request(request: &str, user_id: &str, project_id: &str) -> Actor {
        let grant = serde_json::from_str::<serde_json::Value>(request)
            .ok()
            .and_then(|v| serde_json::from_value::<Actor>(v.get("actor")?.clone()).ok())
            .filter(|a| a.project_id == project_id)
            .and_then(|a| a.grant);
        Actor {
            user_id: user_id.to_string(),
            project_id: project_id.to_string(),
            grant,
        }
    }
}

/// (user, project) → (token, expiry).
type TokenCache = HashMap<(String, String), (String, DateTime<Utc>)>;

/// Hands out actors for requests, and tokens to act for them later. `Debug` shows no token.
pub struct Delegation {
    identity: Identity,
    sealer: Sealer,
    cache: Mutex<TokenCache>,
    /// (user, project) → trust id (external Keystone).
    trusts: Mutex<HashMap<(String, String), String>>,
}

impl std::fmt::Debug for Delegation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delegation")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Delegation {
    pub fn new(identity: Identity, sealer: Sealer) -> Delegation {
        Delegation {
            identity,
            sealer,
            cache: Mutex::new(HashMap::new()),
            trusts: Mutex::new(HashMap::new()),
        }
    }

    /// The actor of an authenticated request (which must be project-scoped). With an external
    /// Keystone this makes sure Cascade can act for the caller after the token expires.
    pub async fn actor(&self, ctx: &AuthContext) -> Result<Actor> {
        let project_id = ctx
            .project_id()
            .ok_or_else(|| CoreError::forbidden("A project-scoped token is required."))?
            .to_string();
        let grant = match &self.identity {
            Identity::Embedded(_) => None,
            Identity::Keystone(k) => {
                let key = (ctx.user.id.clone(), project_id.clone());
                let cached = self.trusts.lock().await.get(&key).cloned();
                let trust = match cached {
                    Some(t) => Ok(t),
                    None => k.ensure_trust(ctx).await,
                };
                match trust {
                    Ok(id) => {
                        let mut trusts = self.trusts.lock().await;
                        if trusts.len() > 100_000 {
                            trusts.clear();
                        }
                        trusts.insert(key, id.clone());
                        Some(Grant::Trust(id))
                    }
                    Err(e) => {
                        tracing::warn!(user = %ctx.user.id, project = %project_id, error = %e.message,
                            "no Keystone trust for the caller; keeping the caller's token sealed instead");
                        Some(Grant::SealedToken(self.sealer.seal(ctx.token.as_bytes())?))
                    }
                }
            }
        };
        Ok(Actor {
            user_id: ctx.user.id.clone(),
            project_id,
            grant,
        })
    }

    /// A token for `actor`, valid for at least a few more minutes.
    pub async fn token_for(&self, actor: &Actor) -> Result<String> {
        let no_grant = || {
            CoreError::new(
                ErrorKind::Unavailable,
                "no grant to act for the project with the external identity",
            )
        };
        let key = match (&self.identity, &actor.grant) {
            (Identity::Embedded(_), _) => (actor.user_id.clone(), actor.project_id.clone()),
            (Identity::Keystone(_), Some(Grant::SealedToken(sealed))) => {
                let bytes = self.sealer.open(sealed)?;
                return String::from_utf8(bytes)
                    .map_err(|_| CoreError::internal("a sealed token is not UTF-8"));
            }
            (Identity::Keystone(_), Some(Grant::Trust(id))) => {
                (format!("trust:{id}"), String::new())
            }
            (Identity::Keystone(_), None) => return Err(no_grant()),
        };
        let mut cache = self.cache.lock().await;
        if let Some((token, exp)) = cache.get(&key)
            && *exp > Utc::now() + chrono::Duration::minutes(5)
        {
            return Ok(token.clone());
        }
        let (token, expires_at) = match (&self.identity, &actor.grant) {
            (Identity::Embedded(e), _) => {
                let ctx = e.issue_for(&actor.user_id, &actor.project_id).await?;
                (ctx.token, ctx.expires_at)
            }
            (Identity::Keystone(k), Some(Grant::Trust(id))) => k.trust_token(id).await?,
            (Identity::Keystone(_), _) => return Err(no_grant()),
        };
        if cache.len() > 10_000 {
            cache.retain(|_, (_, exp)| *exp > Utc::now());
        }
        cache.insert(key, (token.clone(), expires_at));
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_debug_and_json_never_show_a_plaintext_token() {
        let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let a = Actor {
            user_id: "u".into(),
            project_id: "p".into(),
            grant: Some(Grant::SealedToken(sealer.seal(b"tok-s3cret").unwrap())),
        };
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("<redacted>"),
            "{shown}"
        );
        let stored = serde_json::to_string(&a).unwrap();
        assert!(!stored.contains("tok-s3cret"), "{stored}");
        let request = format!("{{\"actor\": {stored}}}");
        assert_eq!(Actor::from_request(&request, "u", "p"), a);
        // A row of another project never inherits the grant.
        assert_eq!(Actor::from_request(&request, "u", "p2").grant, None);
        // Rows written before grants existed read as grant-less actors.
        let d = Delegation::new(
            Identity::Keystone(std::sync::Arc::new(super::super::KeystoneIdentity::new(
                super::super::KeystoneIdentityConfig {
                    url: "http://127.0.0.1:1/identity".into(),
                    service_username: "cascade".into(),
                    service_password: "pw-s3cret".into(),
                    service_project: "service".into(),
                    service_user_domain: "Default".into(),
                    service_project_domain: "Default".into(),
                    cache_ttl: std::time::Duration::from_secs(1),
                    cache_size: 1,
                    timeout: std::time::Duration::from_secs(1),
                },
            ))),
            sealer,
        );
        let shown = format!("{d:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("Sealer {"),
            "{shown}"
        );
        let old = r#"{"actor": {"user_id": "u", "project_id": "p", "token": "plain"}}"#;
        assert_eq!(Actor::from_request(old, "u", "p").grant, None);
    }
}
