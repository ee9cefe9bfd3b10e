//! [`AuthContext`]: a validated token — user, scope, roles, expiry — whatever backend issued it.

use cascade_model::identity::{CatalogService, IdName, Token, TokenProject, TokenUser};
use chrono::{DateTime, Utc};

use crate::{CoreError, Result};

/// A validated token and what it grants.
#[derive(Clone)]
pub struct AuthContext {
    pub token: String,
    pub user: TokenUser,
    pub project: Option<TokenProject>,
    pub domain: Option<IdName>,
    pub roles: Vec<IdName>,
    pub methods: Vec<String>,
    pub audit_ids: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthContext")
            .field("user", &self.user.id)
            .field("project", &self.project.as_ref().map(|p| &p.id))
            .field(
                "roles",
                &self.roles.iter().map(|r| &r.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl AuthContext {
    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name == name)
    }

    /// Cloud administrator: the `admin` role on the token's scope.
    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }

    pub fn project_id(&self) -> Option<&str> {
        self.project.as_ref().map(|p| p.id.as_str())
    }

    /// Fails with 403 unless the caller is an administrator.
    pub fn require_admin(&self) -> Result<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(CoreError::forbidden(
                "You are not authorized to perform the requested action: admin required.",
            ))
        }
    }

    /// The Keystone token document for this context.
    pub fn to_token(&self, catalog: Option<Vec<CatalogService>>) -> Token {
        let scoped = self.project.is_some() || self.domain.is_some();
        Token {
            methods: self.methods.clone(),
            user: self.user.clone(),
            audit_ids: self.audit_ids.clone(),
            expires_at: cascade_model::time::keystone(self.expires_at),
            issued_at: cascade_model::time::keystone(self.issued_at),
            project: self.project.clone(),
            domain: self.domain.clone(),
            is_domain: self.project.as_ref().map(|_| false),
            roles: scoped.then(|| self.roles.clone()),
            catalog: if scoped { catalog } else { None },
        }
    }

    /// Builds a context from a Keystone token document (the `keystone` backend).
    pub fn from_token(token: String, doc: Token) -> Result<AuthContext> {
        let parse = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    CoreError::internal(format!("identity returned a bad timestamp {s:?}"))
                })
        };
        Ok(AuthContext {
            token,
            expires_at: parse(&doc.expires_at)?,
            issued_at: parse(&doc.issued_at).unwrap_or_else(|_| Utc::now()),
            user: doc.user,
            project: doc.project,
            domain: doc.domain,
            roles: doc.roles.unwrap_or_default(),
            methods: doc.methods,
            audit_ids: doc.audit_ids,
        })
    }
}
