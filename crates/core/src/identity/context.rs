//! [`AuthContext`]: a validated token — user, scope, roles, expiry — whatever backend issued it.

use cascade_model::identity::{
    CatalogService, IdName, Token, TokenAppCred, TokenProject, TokenUser,
};
use chrono::{DateTime, Utc};

use crate::{CoreError, Result};

/// Whose resources a core call may see or change. There is no "absent" scope: a caller
/// without a project reaches nothing ([`AuthContext::scope`] refuses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Only this project's resources.
    Project(String),
    /// Every project's: an administrator (on one resource), or an administrator's list across
    /// all projects (`all_tenants`).
    Admin,
}

impl Scope {
    /// Whether a resource owned by `project_id` is within the scope.
    pub fn permits(&self, project_id: &str) -> bool {
        match self {
            Scope::Project(p) => p == project_id,
            Scope::Admin => true,
        }
    }

    /// The project a list is limited to (`None`: every project's, for an admin).
    pub fn project(&self) -> Option<&str> {
        match self {
            Scope::Project(p) => Some(p),
            Scope::Admin => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Scope::Admin)
    }
}

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
    /// The application credential the token was issued from, if any.
    pub application_credential: Option<TokenAppCred>,
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

    /// The scope of a call on one resource: an admin reaches every project's, anyone else only
    /// the token's project; a token without a project reaches nothing (403).
    pub fn scope(&self) -> Result<Scope> {
        if self.is_admin() {
            return Ok(Scope::Admin);
        }
        self.project_scope()
    }

    /// The scope of a list: the token's project, or every project's when an admin asks for all
    /// (`all_tenants`, `all_projects`).
    pub fn list_scope(&self, all_projects: bool) -> Result<Scope> {
        if all_projects && self.is_admin() {
            return Ok(Scope::Admin);
        }
        self.project_scope()
    }

    /// Only the token's own project, admin or not.
    pub fn project_scope(&self) -> Result<Scope> {
        self.project_id()
            .map(|p| Scope::Project(p.to_string()))
            .ok_or_else(|| CoreError::forbidden("A project-scoped token is required."))
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
            application_credential: self.application_credential.clone(),
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
            application_credential: doc.application_credential,
        })
    }
}
