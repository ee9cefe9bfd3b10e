//! The embedded identity: a Keystone v3 subset on Cascade's own database — password and token
//! and application-credential authentication ([`super::app_creds`]) with project, domain or
//! no scope; token validation and revocation; the
//! admin CRUD of domains (the `default` one), projects, users, roles and role assignments.
//! Tokens are random 256-bit strings stored only as SHA-256 hashes, so they validate on every
//! Cascade instance sharing the database and can be revoked anywhere. Roles are re-read at
//! validation time, and disabling a user, project or domain invalidates its tokens at once.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cascade_model::identity::{
    AuthRequest, Domain, IdName, Project, ProjectCreate, ProjectUpdate, ResourceRef, Role,
    RoleCreate, SelfLink, TokenProject, TokenUser, User, UserCreate, UserUpdate,
};
use cascade_store::identity::{
    AssignmentRow, DomainRow, ProjectRow, RoleRow, TargetKind, TokenRow, UserRow,
};
use cascade_store::{Store, StoreError, from_micros, now_micros, to_micros};
use chrono::Utc;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::context::AuthContext;
use super::password::{PasswordGate, PasswordLimits};
use crate::{CoreError, Result};

const DEFAULT_DOMAIN_ID: &str = "default";
pub(super) const AUTH_REQUIRED: &str = "The request you have made requires authentication.";

/// A user to create at bootstrap, with a role on a project. `Debug` never shows the password.
#[derive(Clone)]
pub struct BootstrapUser {
    pub name: String,
    pub password: String,
    pub project: String,
    pub role: String,
}

impl std::fmt::Debug for BootstrapUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapUser")
            .field("name", &self.name)
            .field("password", &cascade_model::redact::REDACTED)
            .field("project", &self.project)
            .field("role", &self.role)
            .finish()
    }
}

/// One role assignment, as `/v3/role_assignments` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub user_id: String,
    pub role_id: String,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
}

/// The embedded Keystone.
#[derive(Debug)]
pub struct EmbeddedIdentity {
    pub(super) store: Store,
    token_ttl: Duration,
    pub(super) public_url: String,
    pub(super) passwords: PasswordGate,
}

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A new token id: 32 random bytes in hex, like Keystone's UUID tokens. Never base64: a token
/// that starts with `-` is taken for an option by `openstack token revoke <token>`.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn audit_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn tags_of(row: &ProjectRow) -> Vec<String> {
    serde_json::from_str(&row.tags).unwrap_or_default()
}

fn not_found(kind: &str, id: &str) -> impl FnOnce(StoreError) -> CoreError {
    let message = format!("Could not find {kind}: {id}.");
    move |e| match e {
        StoreError::NotFound => CoreError::not_found(message),
        other => other.into(),
    }
}

fn duplicate(kind: &str, name: &str, domain_id: &str) -> impl FnOnce(StoreError) -> CoreError {
    let message = format!(
        "Conflict occurred attempting to store {kind} - Duplicate entry found with name {name} at domain ID {domain_id}."
    );
    move |e| match e {
        StoreError::Conflict(_) => CoreError::conflict(message),
        other => other.into(),
    }
}

/// Keystone's schema for names: at least one non-blank character, at most 64 characters for a
/// project (and domain), 255 for a user or a role; its validation error text.
fn check_name(kind: &str, name: &str) -> Result<()> {
    let max = if kind == "project" { 64 } else { 255 };
    if name.trim().is_empty() {
        return Err(CoreError::bad_request(format!(
            "Invalid input for field 'name': '{name}' is too short (a {kind} name needs a non-blank character)."
        )));
    }
    if name.chars().count() > max {
        return Err(CoreError::bad_request(format!(
            "Invalid input for field 'name': '{name}' is too long (a {kind} name has at most {max} characters)."
        )));
    }
    Ok(())
}

impl EmbeddedIdentity {
    pub fn new(
        store: Store,
        token_ttl: Duration,
        public_url: impl Into<String>,
    ) -> EmbeddedIdentity {
        EmbeddedIdentity {
            store,
            token_ttl,
            public_url: public_url.into().trim_end_matches('/').to_string(),
            passwords: PasswordGate::new(PasswordLimits::default()),
        }
    }

    /// Bounds the queue of password checks (default [`PasswordLimits::default`]).
    pub fn with_password_limits(mut self, limits: PasswordLimits) -> EmbeddedIdentity {
        self.passwords = PasswordGate::new(limits);
        self
    }

    fn link(&self, collection: &str, id: &str) -> SelfLink {
        SelfLink {
            href: format!("{}/identity/v3/{collection}/{id}", self.public_url),
        }
    }

    // ---- bootstrap -----------------------------------------------------------------------

    /// Creates what a fresh deployment needs, idempotently: the `default` domain, the roles
    /// `admin`, `manager`, `member`, `reader` and `service`, and each given user with its project and role. An
    /// existing user keeps its password.
    pub async fn bootstrap(&self, users: &[BootstrapUser]) -> Result<()> {
        match self.store.get_domain(DEFAULT_DOMAIN_ID).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                let row = DomainRow {
                    id: DEFAULT_DOMAIN_ID.into(),
                    name: "Default".into(),
                    description: "The default domain".into(),
                    enabled: true,
                    created_at: now_micros(),
                };
                match self.store.insert_domain(&row).await {
                    Ok(()) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
        // Keystone's own bootstrap creates these five (2024.1 onwards).
        for role in ["admin", "manager", "member", "reader", "service"] {
            self.ensure_role(role).await?;
        }
        for u in users {
            let project = match self.store.find_project(DEFAULT_DOMAIN_ID, &u.project).await {
                Ok(p) => p,
                Err(StoreError::NotFound) => {
                    self.create_project(ProjectCreate {
                        name: u.project.clone(),
                        domain_id: None,
                        description: Some(format!("Bootstrap project {}", u.project)),
                        enabled: Some(true),
                        is_domain: None,
                        parent_id: None,
                        tags: None,
                    })
                    .await?;
                    self.store
                        .find_project(DEFAULT_DOMAIN_ID, &u.project)
                        .await?
                }
                Err(e) => return Err(e.into()),
            };
            let user = match self.store.find_user(DEFAULT_DOMAIN_ID, &u.name).await {
                Ok(user) => user,
                Err(StoreError::NotFound) => {
                    self.create_user(UserCreate {
                        name: u.name.clone(),
                        domain_id: None,
                        password: Some(u.password.clone()),
                        enabled: Some(true),
                        default_project_id: Some(project.id.clone()),
                        description: None,
                        email: None,
                    })
                    .await?;
                    self.store.find_user(DEFAULT_DOMAIN_ID, &u.name).await?
                }
                Err(e) => return Err(e.into()),
            };
            let role = self.ensure_role(&u.role).await?;
            self.grant(TargetKind::Project, &user.id, &project.id, &role.id)
                .await?;
        }
        Ok(())
    }

    async fn ensure_role(&self, name: &str) -> Result<RoleRow> {
        match self.store.find_role(name).await {
            Ok(r) => Ok(r),
            Err(StoreError::NotFound) => {
                let row = RoleRow {
                    id: new_id(),
                    name: name.into(),
                    description: None,
                    created_at: now_micros(),
                };
                match self.store.insert_role(&row).await {
                    Ok(()) => Ok(row),
                    Err(StoreError::Conflict(_)) => Ok(self.store.find_role(name).await?),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    // ---- authentication ------------------------------------------------------------------

    pub(super) async fn resolve_domain(&self, r: &ResourceRef) -> Result<DomainRow> {
        let found = if let Some(id) = &r.id {
            self.store.get_domain(id).await
        } else if let Some(name) = &r.name {
            self.store.find_domain_by_name(name).await
        } else {
            return Err(CoreError::bad_request(
                "Expecting to find domain id or name in the request.",
            ));
        };
        found.map_err(|e| match e {
            StoreError::NotFound => CoreError::unauthorized(AUTH_REQUIRED),
            other => other.into(),
        })
    }

    async fn password_user(&self, req: &AuthRequest) -> Result<UserRow> {
        let Some(pw) = &req.auth.identity.password else {
            return Err(CoreError::bad_request(
                "Invalid input for field 'identity': 'password' is a required property",
            ));
        };
        let u = &pw.user;
        let found = if let Some(id) = &u.id {
            self.store.get_user(id).await
        } else if let Some(name) = &u.name {
            let domain = match &u.domain {
                Some(d) => self.resolve_domain(d).await?,
                None => {
                    return Err(CoreError::bad_request(
                        "Expecting to find domain in user. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
                    ));
                }
            };
            self.store.find_user(&domain.id, name).await
        } else {
            return Err(CoreError::bad_request(
                "Expecting to find user id or name in the request.",
            ));
        };
        // An unknown user costs the same Argon2 work as a wrong password, so the answer's
        // timing does not tell which users exist.
        let user = match found {
            Ok(user) => Some(user),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        };
        let phc = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let ok = self.passwords.verify(&pw.user.password, phc).await?;
        match user {
            Some(user) if ok => Ok(user),
            _ => Err(CoreError::unauthorized(AUTH_REQUIRED)),
        }
    }

    /// `POST /v3/auth/tokens`: returns the new token and its context.
    pub async fn authenticate(&self, req: &AuthRequest) -> Result<AuthContext> {
        let mut methods = req.auth.identity.methods.clone();
        if methods.is_empty() {
            return Err(CoreError::bad_request(
                "Invalid input for field 'identity/methods': [] is too short",
            ));
        }
        let mut app_cred = None;
        let (user, expires_at, parent_audit) = if methods.iter().any(|m| m == "password") {
            (
                self.password_user(req).await?,
                Utc::now() + self.token_ttl,
                None,
            )
        } else if methods.iter().any(|m| m == "application_credential") {
            let Some(m) = &req.auth.identity.application_credential else {
                return Err(CoreError::bad_request(
                    "Invalid input for field 'identity': 'application_credential' is a required property",
                ));
            };
            if req.auth.scope.is_some() {
                return Err(CoreError::unauthorized(
                    "Application credentials cannot request a scope.",
                ));
            }
            let (user, row) = self.app_cred_login(m).await?;
            let expires = Self::app_cred_expiry(&row, Utc::now() + self.token_ttl);
            app_cred = Some(row);
            (user, expires, None)
        } else if methods.iter().any(|m| m == "token") {
            let Some(t) = &req.auth.identity.token else {
                return Err(CoreError::bad_request(
                    "Invalid input for field 'identity': 'token' is a required property",
                ));
            };
            let parent = self
                .validate(&t.id)
                .await
                .map_err(|_| CoreError::unauthorized(AUTH_REQUIRED))?;
            let user = self.store.get_user(&parent.user.id).await?;
            // Keystone: a token made from a token carries the parent's methods plus "token".
            for m in &parent.methods {
                if !methods.contains(m) {
                    methods.insert(0, m.clone());
                }
            }
            (user, parent.expires_at, parent.audit_ids.first().cloned())
        } else {
            return Err(CoreError::unauthorized(format!(
                "Attempted to authenticate with an unsupported method: {}",
                methods.join(", ")
            )));
        };
        if !user.enabled {
            return Err(CoreError::unauthorized(AUTH_REQUIRED));
        }
        let user_domain = self.store.get_domain(&user.domain_id).await?;
        if !user_domain.enabled {
            return Err(CoreError::unauthorized(AUTH_REQUIRED));
        }

        let (project_id, domain_id) = match &app_cred {
            Some(a) => (Some(a.project_id.clone()), None),
            None => self.resolve_scope(req.auth.scope.as_ref(), &user).await?,
        };
        let row = TokenRow {
            id_hash: String::new(),
            user_id: user.id.clone(),
            project_id,
            domain_id,
            methods: methods.join(","),
            audit_id: audit_id(),
            issued_at: now_micros(),
            expires_at: to_micros(expires_at),
            app_cred_id: app_cred.map(|a| a.id),
        };
        // Check that the scope grants something before minting.
        let mut ctx = self.context_for(&row, String::new()).await?;
        if let Some(parent) = parent_audit {
            ctx.audit_ids.push(parent);
        }
        let token = random_token();
        self.store
            .insert_token(&TokenRow {
                id_hash: token_hash(&token),
                ..row
            })
            .await?;
        ctx.token = token;
        Ok(ctx)
    }

    /// Mints a token for `user_id` scoped to `project_id` without a password: Cascade acting
    /// for a tenant in a pod (the pod trusts this identity). Fails like validation would when
    /// the user no longer holds a role on the project.
    pub async fn issue_for(&self, user_id: &str, project_id: &str) -> Result<AuthContext> {
        let row = TokenRow {
            id_hash: String::new(),
            user_id: user_id.to_string(),
            project_id: Some(project_id.to_string()),
            domain_id: None,
            methods: "token".into(),
            audit_id: audit_id(),
            issued_at: now_micros(),
            expires_at: to_micros(Utc::now() + self.token_ttl),
            app_cred_id: None,
        };
        let mut ctx = self.context_for(&row, String::new()).await?;
        let token = random_token();
        self.store
            .insert_token(&TokenRow {
                id_hash: token_hash(&token),
                ..row
            })
            .await?;
        ctx.token = token;
        Ok(ctx)
    }

    async fn resolve_scope(
        &self,
        scope: Option<&Value>,
        user: &UserRow,
    ) -> Result<(Option<String>, Option<String>)> {
        let scope = match scope {
            None => {
                // Keystone scopes an unscoped request to the default project when it can.
                if let Some(pid) = &user.default_project_id
                    && self.store.get_project(pid).await.is_ok_and(|p| p.enabled)
                    && !self.store.roles_of(&user.id, pid).await?.is_empty()
                {
                    return Ok((Some(pid.clone()), None));
                }
                return Ok((None, None));
            }
            Some(Value::String(s)) if s == "unscoped" => return Ok((None, None)),
            Some(v) => v,
        };
        let parse_ref = |v: &Value| serde_json::from_value::<ResourceRef>(v.clone());
        if let Some(p) = scope.get("project") {
            let r = parse_ref(p).map_err(|e| {
                CoreError::bad_request(format!("Invalid input for field 'scope/project': {e}"))
            })?;
            let project = if let Some(id) = &r.id {
                self.store.get_project(id).await
            } else if let Some(name) = &r.name {
                let Some(d) = &r.domain else {
                    return Err(CoreError::bad_request(
                        "Expecting to find domain in project.",
                    ));
                };
                let domain = self.resolve_domain(d).await?;
                self.store.find_project(&domain.id, name).await
            } else {
                return Err(CoreError::bad_request(
                    "Expecting to find project id or name in the scope.",
                ));
            };
            let project = project.map_err(|e| match e {
                StoreError::NotFound => CoreError::unauthorized(AUTH_REQUIRED),
                other => other.into(),
            })?;
            return Ok((Some(project.id), None));
        }
        if let Some(d) = scope.get("domain") {
            let r = parse_ref(d).map_err(|e| {
                CoreError::bad_request(format!("Invalid input for field 'scope/domain': {e}"))
            })?;
            let domain = self.resolve_domain(&r).await?;
            return Ok((None, Some(domain.id)));
        }
        if scope.get("system").is_some() {
            return Err(CoreError::bad_request(
                "System-scoped tokens are not supported by Cascade's embedded identity.",
            ));
        }
        Err(CoreError::bad_request(
            "Invalid input for field 'scope': expected project, domain or \"unscoped\".",
        ))
    }

    /// Builds the live context of a stored token: the user, project and domain must still be
    /// enabled and the user must still hold a role on the scope.
    async fn context_for(&self, row: &TokenRow, token: String) -> Result<AuthContext> {
        let denied = || CoreError::unauthorized(AUTH_REQUIRED);
        let user = self
            .store
            .get_user(&row.user_id)
            .await
            .map_err(|_| denied())?;
        if !user.enabled {
            return Err(denied());
        }
        let user_domain = self
            .store
            .get_domain(&user.domain_id)
            .await
            .map_err(|_| denied())?;
        if !user_domain.enabled {
            return Err(denied());
        }
        let mut ctx = AuthContext {
            token,
            user: TokenUser {
                id: user.id.clone(),
                name: user.name.clone(),
                domain: IdName {
                    id: user_domain.id.clone(),
                    name: user_domain.name.clone(),
                },
                password_expires_at: None,
            },
            project: None,
            domain: None,
            roles: Vec::new(),
            methods: row.methods.split(',').map(str::to_string).collect(),
            audit_ids: vec![row.audit_id.clone()],
            issued_at: from_micros(row.issued_at),
            expires_at: from_micros(row.expires_at),
            application_credential: None,
        };
        let target = if let Some(pid) = &row.project_id {
            let project = self.store.get_project(pid).await.map_err(|_| denied())?;
            let domain = self
                .store
                .get_domain(&project.domain_id)
                .await
                .map_err(|_| denied())?;
            if !project.enabled || !domain.enabled {
                return Err(denied());
            }
            ctx.project = Some(TokenProject {
                id: project.id.clone(),
                name: project.name.clone(),
                domain: IdName {
                    id: domain.id.clone(),
                    name: domain.name.clone(),
                },
            });
            Some(project.id)
        } else if let Some(did) = &row.domain_id {
            let domain = self.store.get_domain(did).await.map_err(|_| denied())?;
            if !domain.enabled {
                return Err(denied());
            }
            ctx.domain = Some(IdName {
                id: domain.id.clone(),
                name: domain.name.clone(),
            });
            Some(domain.id)
        } else {
            None
        };
        if let Some(target) = target {
            let roles = self.store.roles_of(&user.id, &target).await?;
            if roles.is_empty() {
                return Err(CoreError::unauthorized(match &ctx.project {
                    Some(p) => format!("User {} has no access to project {}", user.id, p.id),
                    None => format!("User {} has no access to domain {target}", user.id),
                }));
            }
            ctx.roles = match &row.app_cred_id {
                Some(id) => {
                    let (roles, app_cred) = self.app_cred_bound(id, roles).await?;
                    ctx.application_credential = Some(app_cred);
                    roles
                }
                None => roles
                    .into_iter()
                    .map(|r| IdName {
                        id: r.id,
                        name: r.name,
                    })
                    .collect(),
            };
        }
        Ok(ctx)
    }

    /// Validates a token: 404-style `NotFound` for unknown, expired or revoked tokens, and for
    /// tokens whose user, project or domain was disabled or whose roles were all revoked. Two
    /// queries: the token with its user, project and domains, then the roles.
    pub async fn validate(&self, token: &str) -> Result<AuthContext> {
        let missing = || CoreError::not_found(format!("Could not find token: {token}."));
        let Some(t) = self.store.token_context(&token_hash(token)).await? else {
            return Err(missing());
        };
        if t.expires_at <= now_micros() || t.user_enabled == 0 || t.user_domain_enabled == 0 {
            return Err(missing());
        }
        let mut ctx = AuthContext {
            token: token.to_string(),
            user: TokenUser {
                id: t.user_id.clone(),
                name: t.user_name.clone(),
                domain: IdName {
                    id: t.user_domain_id.clone(),
                    name: t.user_domain_name.clone(),
                },
                password_expires_at: None,
            },
            project: None,
            domain: None,
            roles: Vec::new(),
            methods: t.methods.split(',').map(str::to_string).collect(),
            audit_ids: vec![t.audit_id.clone()],
            issued_at: from_micros(t.issued_at),
            expires_at: from_micros(t.expires_at),
            application_credential: None,
        };
        let target = if let Some(pid) = &t.project_id {
            let (Some(name), Some(1), Some(did), Some(dname), Some(1)) = (
                t.project_name.clone(),
                t.project_enabled,
                t.project_domain_id.clone(),
                t.project_domain_name.clone(),
                t.project_domain_enabled,
            ) else {
                return Err(missing());
            };
            ctx.project = Some(TokenProject {
                id: pid.clone(),
                name,
                domain: IdName {
                    id: did,
                    name: dname,
                },
            });
            Some(pid.clone())
        } else if let Some(did) = &t.domain_id {
            let (Some(name), Some(1)) = (t.scope_domain_name.clone(), t.scope_domain_enabled)
            else {
                return Err(missing());
            };
            ctx.domain = Some(IdName {
                id: did.clone(),
                name,
            });
            Some(did.clone())
        } else {
            None
        };
        if let Some(target) = target {
            let roles = self.store.roles_of(&t.user_id, &target).await?;
            if roles.is_empty() {
                return Err(missing());
            }
            ctx.roles = match &t.app_cred_id {
                Some(id) => {
                    let (roles, app_cred) = self
                        .app_cred_bound(id, roles)
                        .await
                        .map_err(|_| missing())?;
                    ctx.application_credential = Some(app_cred);
                    roles
                }
                None => roles
                    .into_iter()
                    .map(|r| IdName {
                        id: r.id,
                        name: r.name,
                    })
                    .collect(),
            };
        }
        Ok(ctx)
    }

    /// Revokes a token.
    pub async fn revoke(&self, token: &str) -> Result<()> {
        self.store
            .delete_token(&token_hash(token))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => {
                    CoreError::not_found(format!("Could not find token: {token}."))
                }
                other => other.into(),
            })
    }

    /// Deletes expired tokens.
    pub async fn purge_expired(&self) -> Result<u64> {
        Ok(self.store.purge_expired_tokens().await?)
    }

    // ---- domains -------------------------------------------------------------------------

    fn domain_view(&self, d: DomainRow) -> Domain {
        Domain {
            links: self.link("domains", &d.id),
            id: d.id,
            name: d.name,
            description: d.description,
            enabled: d.enabled,
            tags: vec![],
        }
    }

    pub async fn list_domains(&self, name: Option<&str>) -> Result<Vec<Domain>> {
        let rows = self.store.list_domains().await?;
        Ok(rows
            .into_iter()
            .filter(|d| name.is_none_or(|n| d.name == n))
            .map(|d| self.domain_view(d))
            .collect())
    }

    pub async fn get_domain(&self, id: &str) -> Result<Domain> {
        Ok(self.domain_view(
            self.store
                .get_domain(id)
                .await
                .map_err(not_found("domain", id))?,
        ))
    }

    // ---- projects ------------------------------------------------------------------------

    fn project_view(&self, p: ProjectRow) -> Project {
        Project {
            links: self.link("projects", &p.id),
            tags: tags_of(&p),
            parent_id: p.domain_id.clone(),
            id: p.id,
            name: p.name,
            domain_id: p.domain_id,
            description: p.description,
            enabled: p.enabled,
            is_domain: false,
        }
    }

    pub async fn create_project(&self, req: ProjectCreate) -> Result<Project> {
        check_name("project", &req.name)?;
        if req.is_domain == Some(true) {
            return Err(CoreError::bad_request(
                "Projects acting as domains are not supported.",
            ));
        }
        let domain_id = req
            .domain_id
            .unwrap_or_else(|| DEFAULT_DOMAIN_ID.to_string());
        self.store
            .get_domain(&domain_id)
            .await
            .map_err(not_found("domain", &domain_id))?;
        if let Some(parent) = &req.parent_id
            && parent != &domain_id
        {
            return Err(CoreError::bad_request(
                "Nested projects are not supported: parent_id must be the domain.",
            ));
        }
        let row = ProjectRow {
            id: new_id(),
            name: req.name.clone(),
            domain_id: domain_id.clone(),
            description: req.description.unwrap_or_default(),
            enabled: req.enabled.unwrap_or(true),
            tags: serde_json::to_string(&req.tags.unwrap_or_default())
                .unwrap_or_else(|_| "[]".into()),
            created_at: now_micros(),
        };
        self.store
            .insert_project(&row)
            .await
            .map_err(duplicate("project", &req.name, &domain_id))?;
        Ok(self.project_view(row))
    }

    pub async fn get_project(&self, id: &str) -> Result<Project> {
        Ok(self.project_view(
            self.store
                .get_project(id)
                .await
                .map_err(not_found("project", id))?,
        ))
    }

    pub async fn list_projects(
        &self,
        name: Option<&str>,
        domain_id: Option<&str>,
        enabled: Option<bool>,
    ) -> Result<Vec<Project>> {
        let rows = self.store.list_projects(name, domain_id).await?;
        Ok(rows
            .into_iter()
            .filter(|p| enabled.is_none_or(|e| p.enabled == e))
            .map(|p| self.project_view(p))
            .collect())
    }

    pub async fn update_project(&self, id: &str, req: ProjectUpdate) -> Result<Project> {
        let mut row = self
            .store
            .get_project(id)
            .await
            .map_err(not_found("project", id))?;
        if let Some(name) = req.name {
            check_name("project", &name)?;
            row.name = name;
        }
        if let Some(d) = req.description {
            row.description = d;
        }
        if let Some(e) = req.enabled {
            row.enabled = e;
        }
        if let Some(t) = req.tags {
            row.tags = serde_json::to_string(&t).unwrap_or_else(|_| "[]".into());
        }
        let name = row.name.clone();
        let domain_id = row.domain_id.clone();
        self.store
            .update_project(&row)
            .await
            .map_err(duplicate("project", &name, &domain_id))?;
        Ok(self.project_view(row))
    }

    pub async fn delete_project(&self, id: &str) -> Result<()> {
        self.store
            .delete_project(id)
            .await
            .map_err(not_found("project", id))
    }

    /// Projects on which `user_id` holds at least one role.
    pub async fn projects_of_user(&self, user_id: &str) -> Result<Vec<Project>> {
        let mut ids: Vec<String> = self
            .store
            .list_assignments(Some(user_id), None, None)
            .await?
            .into_iter()
            .filter(|a| a.target_kind == TargetKind::Project)
            .map(|a| a.target_id)
            .collect();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            if let Ok(p) = self.store.get_project(&id).await {
                out.push(self.project_view(p));
            }
        }
        Ok(out)
    }

    // ---- users ---------------------------------------------------------------------------

    fn user_view(&self, u: UserRow) -> User {
        User {
            links: self.link("users", &u.id),
            id: u.id,
            name: u.name,
            domain_id: u.domain_id,
            enabled: u.enabled,
            password_expires_at: None,
            default_project_id: u.default_project_id,
            description: u.description,
            email: u.email,
        }
    }

    pub async fn create_user(&self, req: UserCreate) -> Result<User> {
        check_name("user", &req.name)?;
        let domain_id = req
            .domain_id
            .unwrap_or_else(|| DEFAULT_DOMAIN_ID.to_string());
        self.store
            .get_domain(&domain_id)
            .await
            .map_err(not_found("domain", &domain_id))?;
        if let Some(pid) = &req.default_project_id {
            self.store
                .get_project(pid)
                .await
                .map_err(not_found("project", pid))?;
        }
        let password_hash = match &req.password {
            Some(p) => Some(self.passwords.hash(p).await?),
            None => None,
        };
        let row = UserRow {
            id: new_id(),
            name: req.name.clone(),
            domain_id: domain_id.clone(),
            password_hash,
            enabled: req.enabled.unwrap_or(true),
            default_project_id: req.default_project_id,
            description: req.description,
            email: req.email,
            created_at: now_micros(),
        };
        self.store
            .insert_user(&row)
            .await
            .map_err(duplicate("user", &req.name, &domain_id))?;
        Ok(self.user_view(row))
    }

    pub async fn get_user(&self, id: &str) -> Result<User> {
        Ok(self.user_view(
            self.store
                .get_user(id)
                .await
                .map_err(not_found("user", id))?,
        ))
    }

    pub async fn list_users(
        &self,
        name: Option<&str>,
        domain_id: Option<&str>,
    ) -> Result<Vec<User>> {
        Ok(self
            .store
            .list_users(name, domain_id)
            .await?
            .into_iter()
            .map(|u| self.user_view(u))
            .collect())
    }

    /// Updates a user; a new password or disabling the user revokes its tokens.
    pub async fn update_user(&self, id: &str, req: UserUpdate) -> Result<User> {
        let mut row = self
            .store
            .get_user(id)
            .await
            .map_err(not_found("user", id))?;
        let mut drop_tokens = false;
        if let Some(name) = req.name {
            check_name("user", &name)?;
            row.name = name;
        }
        if let Some(p) = req.password {
            row.password_hash = Some(self.passwords.hash(&p).await?);
            drop_tokens = true;
        }
        if let Some(e) = req.enabled {
            drop_tokens |= !e;
            row.enabled = e;
        }
        if let Some(pid) = req.default_project_id {
            self.store
                .get_project(&pid)
                .await
                .map_err(not_found("project", &pid))?;
            row.default_project_id = Some(pid);
        }
        if req.description.is_some() {
            row.description = req.description;
        }
        if req.email.is_some() {
            row.email = req.email;
        }
        let name = row.name.clone();
        self.store
            .update_user(&row, drop_tokens)
            .await
            .map_err(duplicate("user", &name, &row.domain_id))?;
        Ok(self.user_view(row))
    }

    pub async fn delete_user(&self, id: &str) -> Result<()> {
        self.store
            .delete_user(id)
            .await
            .map_err(not_found("user", id))
    }

    // ---- roles ---------------------------------------------------------------------------

    fn role_view(&self, r: RoleRow) -> Role {
        Role {
            links: self.link("roles", &r.id),
            id: r.id,
            name: r.name,
            domain_id: None,
            description: r.description,
        }
    }

    pub async fn create_role(&self, req: RoleCreate) -> Result<Role> {
        check_name("role", &req.name)?;
        let row = RoleRow {
            id: new_id(),
            name: req.name.clone(),
            description: req.description,
            created_at: now_micros(),
        };
        self.store.insert_role(&row).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::conflict(format!(
                "Conflict occurred attempting to store role - Duplicate entry found with name {}.",
                req.name
            )),
            other => other.into(),
        })?;
        Ok(self.role_view(row))
    }

    pub async fn get_role(&self, id: &str) -> Result<Role> {
        Ok(self.role_view(
            self.store
                .get_role(id)
                .await
                .map_err(not_found("role", id))?,
        ))
    }

    pub async fn list_roles(&self, name: Option<&str>) -> Result<Vec<Role>> {
        Ok(self
            .store
            .list_roles(name)
            .await?
            .into_iter()
            .map(|r| self.role_view(r))
            .collect())
    }

    pub async fn delete_role(&self, id: &str) -> Result<()> {
        self.store
            .delete_role(id)
            .await
            .map_err(not_found("role", id))
    }

    // ---- role assignments ----------------------------------------------------------------

    async fn check_target(&self, kind: TargetKind, target_id: &str) -> Result<()> {
        match kind {
            TargetKind::Project => self
                .store
                .get_project(target_id)
                .await
                .map(|_| ())
                .map_err(not_found("project", target_id)),
            TargetKind::Domain => self
                .store
                .get_domain(target_id)
                .await
                .map(|_| ())
                .map_err(not_found("domain", target_id)),
        }
    }

    async fn check_assignment(
        &self,
        kind: TargetKind,
        user_id: &str,
        target_id: &str,
        role_id: &str,
    ) -> Result<AssignmentRow> {
        self.check_target(kind, target_id).await?;
        self.store
            .get_user(user_id)
            .await
            .map_err(not_found("user", user_id))?;
        self.store
            .get_role(role_id)
            .await
            .map_err(not_found("role", role_id))?;
        Ok(AssignmentRow {
            target_kind: kind,
            actor_id: user_id.into(),
            target_id: target_id.into(),
            role_id: role_id.into(),
        })
    }

    async fn grant(
        &self,
        kind: TargetKind,
        user_id: &str,
        target_id: &str,
        role_id: &str,
    ) -> Result<()> {
        let a = self
            .check_assignment(kind, user_id, target_id, role_id)
            .await?;
        Ok(self.store.grant_role(&a).await?)
    }

    /// `PUT /v3/{projects|domains}/{target}/users/{user}/roles/{role}`.
    pub async fn grant_role(
        &self,
        on_domain: bool,
        target_id: &str,
        user_id: &str,
        role_id: &str,
    ) -> Result<()> {
        let kind = if on_domain {
            TargetKind::Domain
        } else {
            TargetKind::Project
        };
        self.grant(kind, user_id, target_id, role_id).await
    }

    /// `HEAD/GET …/roles/{role}`: whether the assignment exists.
    pub async fn check_role(
        &self,
        on_domain: bool,
        target_id: &str,
        user_id: &str,
        role_id: &str,
    ) -> Result<()> {
        let kind = if on_domain {
            TargetKind::Domain
        } else {
            TargetKind::Project
        };
        let a = self
            .check_assignment(kind, user_id, target_id, role_id)
            .await?;
        let found = self
            .store
            .list_assignments(Some(user_id), Some(target_id), Some(role_id))
            .await?;
        if found.iter().any(|f| f.target_kind == a.target_kind) {
            Ok(())
        } else {
            Err(CoreError::not_found(format!(
                "Could not find role assignment with role: {role_id}, user or group: {user_id}, project, domain, or system: {target_id}."
            )))
        }
    }

    pub async fn revoke_role(
        &self,
        on_domain: bool,
        target_id: &str,
        user_id: &str,
        role_id: &str,
    ) -> Result<()> {
        let kind = if on_domain {
            TargetKind::Domain
        } else {
            TargetKind::Project
        };
        let a = self
            .check_assignment(kind, user_id, target_id, role_id)
            .await?;
        self.store.revoke_role(&a).await.map_err(|e| match e {
            StoreError::NotFound => CoreError::not_found(format!("Could not find role assignment with role: {role_id}, user or group: {user_id}, project, domain, or system: {target_id}.")),
            other => other.into(),
        })
    }

    /// The roles `user_id` holds on a target.
    pub async fn roles_on(
        &self,
        on_domain: bool,
        target_id: &str,
        user_id: &str,
    ) -> Result<Vec<Role>> {
        let kind = if on_domain {
            TargetKind::Domain
        } else {
            TargetKind::Project
        };
        self.check_target(kind, target_id).await?;
        self.store
            .get_user(user_id)
            .await
            .map_err(not_found("user", user_id))?;
        Ok(self
            .store
            .roles_of(user_id, target_id)
            .await?
            .into_iter()
            .map(|r| self.role_view(r))
            .collect())
    }

    /// `GET /v3/role_assignments` with the usual filters.
    pub async fn list_assignments(
        &self,
        user_id: Option<&str>,
        target_id: Option<&str>,
        role_id: Option<&str>,
    ) -> Result<Vec<RoleAssignment>> {
        Ok(self
            .store
            .list_assignments(user_id, target_id, role_id)
            .await?
            .into_iter()
            .map(|a| RoleAssignment {
                user_id: a.actor_id,
                role_id: a.role_id,
                project_id: (a.target_kind == TargetKind::Project).then(|| a.target_id.clone()),
                domain_id: (a.target_kind == TargetKind::Domain).then_some(a.target_id),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use cascade_model::identity::AuthRequest;
    use cascade_store::testing::TestDb;

    use super::*;
    use crate::ErrorKind;

    #[test]
    fn tokens_never_look_like_an_option() {
        // A base64 token starts with `-` once in 64 tries; the CLI then takes it for a flag.
        for _ in 0..2000 {
            let t = random_token();
            assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()), "{t}");
        }
    }

    #[test]
    fn bootstrap_user_debug_hides_the_password() {
        let u = BootstrapUser {
            name: "admin".into(),
            password: "pw-s3cret".into(),
            project: "admin".into(),
            role: "admin".into(),
        };
        let shown = format!("{u:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    fn password_auth(user: &str, password: &str) -> AuthRequest {
        serde_json::from_value(serde_json::json!({"auth": {"identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}}
        }}}))
        .unwrap()
    }

    #[tokio::test]
    async fn an_unknown_user_costs_the_same_argon2_work() {
        let db = TestDb::sqlite().await.unwrap();
        let id = EmbeddedIdentity::new(db.store.clone(), Duration::from_secs(60), "http://x");
        id.bootstrap(&[BootstrapUser {
            name: "alice".into(),
            password: "right".into(),
            project: "p".into(),
            role: "member".into(),
        }])
        .await
        .unwrap();
        let before = id.passwords.verifies();
        let e = id
            .authenticate(&password_auth("alice", "wrong"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized);
        assert_eq!(id.passwords.verifies(), before + 1);
        let e = id
            .authenticate(&password_auth("nobody", "wrong"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized);
        assert_eq!(e.message, AUTH_REQUIRED);
        assert_eq!(
            id.passwords.verifies(),
            before + 2,
            "an unknown user must be verified against the dummy hash"
        );
        db.cleanup().await;
    }
}
