//! Acting for a tenant in a pod. Bottom resources must belong to the tenant's project in the
//! pod, so pod calls made on a tenant's behalf carry a token of that user and project, which
//! the pod accepts because it trusts the same identity. With the embedded identity Cascade
//! mints such tokens itself (cached until shortly before expiry), so durable jobs can run long
//! after the request; with an external Keystone it uses the caller's own token captured at
//! request time (a job that outlives that token fails with 401 and is retried/failed).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::{AuthContext, Identity};
use crate::{CoreError, ErrorKind, Result};

/// Who a piece of work is done for. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    pub user_id: String,
    pub project_id: String,
    /// The caller's token (keystone mode); not serialised into jobs in embedded mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("user_id", &self.user_id)
            .field("project_id", &self.project_id)
            .field("token", &cascade_model::redact::opt(&self.token))
            .finish()
    }
}

impl Actor {
    /// The actor's own project as a scope: work done for a tenant reaches only its resources.
    pub fn scope(&self) -> super::Scope {
        super::Scope::Project(self.project_id.clone())
    }

    /// The actor of an authenticated request. The token is kept only when the identity is
    /// external (embedded mode can mint its own).
    pub fn of(ctx: &AuthContext, identity: &Identity) -> Result<Actor> {
        let project_id = ctx
            .project_id()
            .ok_or_else(|| CoreError::forbidden("A project-scoped token is required."))?
            .to_string();
        let token = match identity {
            Identity::Embedded(_) => None,
            Identity::Keystone(_) => Some(ctx.token.clone()),
        };
        Ok(Actor {
            user_id: ctx.user.id.clone(),
            project_id,
            token,
        })
    }
}

/// (user, project) → (token, expiry).
type TokenCache = HashMap<(String, String), (String, DateTime<Utc>)>;

/// Hands out tokens to act for tenants.
#[derive(Debug)]
pub struct Delegation {
    identity: Identity,
    cache: Mutex<TokenCache>,
}

impl Delegation {
    pub fn new(identity: Identity) -> Delegation {
        Delegation {
            identity,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A token for `actor`, valid for at least a few more minutes.
    pub async fn token_for(&self, actor: &Actor) -> Result<String> {
        match &self.identity {
            Identity::Keystone(_) => actor.token.clone().ok_or_else(|| {
                CoreError::new(
                    ErrorKind::Unavailable,
                    "no token to act for the project with the external identity",
                )
            }),
            Identity::Embedded(e) => {
                let key = (actor.user_id.clone(), actor.project_id.clone());
                let mut cache = self.cache.lock().await;
                if let Some((token, exp)) = cache.get(&key)
                    && *exp > Utc::now() + chrono::Duration::minutes(5)
                {
                    return Ok(token.clone());
                }
                let ctx = e.issue_for(&actor.user_id, &actor.project_id).await?;
                if cache.len() > 10_000 {
                    cache.retain(|_, (_, exp)| *exp > Utc::now());
                }
                cache.insert(key, (ctx.token.clone(), ctx.expires_at));
                Ok(ctx.token)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn actor_debug_hides_the_token() {
        let a = super::Actor {
            user_id: "u".into(),
            project_id: "p".into(),
            token: Some("tok-s3cret".into()),
        };
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
