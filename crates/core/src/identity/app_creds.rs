//! Application credentials of the embedded identity (Keystone's
//! `/v3/users/{user_id}/application_credentials` and the `application_credential` auth method):
//! a user hands a tool a login to one project with some of its roles, without its password.
//! The secret is shown once and kept as an Argon2 hash; a token issued from the credential
//! carries at most the credential's roles (re-checked against the user's live roles at every
//! validation), ends no later than the credential, and dies with it.

use cascade_model::identity::{
    AppCredCreate, AppCredMethod, AppCredRole, AppCredential, IdName, TokenAppCred,
};
use cascade_store::StoreError;
use cascade_store::app_creds::AppCredRow;
use cascade_store::identity::{RoleRow, UserRow};
use chrono::{DateTime, NaiveDateTime, Utc};
use rand::RngCore;
use serde_json::json;

use super::context::AuthContext;
use super::embedded::{AUTH_REQUIRED, EmbeddedIdentity, new_id};
use crate::{CoreError, Result};

const RESTRICTED: &str = "Using method 'application_credential' is not allowed for managing additional application credentials.";

/// Keystone's expiry format: ISO 8601 with microseconds and no zone (UTC).
fn render_expiry(micros: i64) -> String {
    cascade_store::from_micros(micros)
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

/// Reads an expiry as Keystone does: ISO 8601, with or without a zone (none means UTC).
fn parse_expiry(text: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    Err(CoreError::bad_request(format!(
        "Invalid input for field 'expires_at': {text:?} is not a 'date-time'"
    )))
}

fn role_ids(row: &AppCredRow) -> Vec<String> {
    serde_json::from_str(&row.roles).unwrap_or_default()
}

/// A token issued from a restricted credential may not manage credentials.
fn refuse_restricted(caller: &AuthContext) -> Result<()> {
    match &caller.application_credential {
        Some(a) if a.restricted => Err(CoreError::forbidden(RESTRICTED)),
        _ => Ok(()),
    }
}

fn expired(row: &AppCredRow) -> bool {
    row.expires_at
        .is_some_and(|e| e <= cascade_store::now_micros())
}

fn new_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl EmbeddedIdentity {
    fn app_cred_view(&self, row: &AppCredRow, roles: &[RoleRow]) -> AppCredential {
        AppCredential {
            id: row.id.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            user_id: row.user_id.clone(),
            project_id: row.project_id.clone(),
            roles: roles
                .iter()
                .map(|r| AppCredRole {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    domain_id: None,
                })
                .collect(),
            unrestricted: row.unrestricted != 0,
            expires_at: row.expires_at.map(render_expiry),
            access_rules: Vec::new(),
            secret: None,
            links: json!({"self": format!(
                "{}/identity/v3/users/{}/application_credentials/{}",
                self.public_url, row.user_id, row.id
            )}),
        }
    }

    /// The roles a credential names that still exist.
    async fn app_cred_roles(&self, row: &AppCredRow) -> Result<Vec<RoleRow>> {
        let mut roles = Vec::new();
        for id in role_ids(row) {
            match self.store.get_role(&id).await {
                Ok(r) => roles.push(r),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(roles)
    }

    /// `POST /v3/users/{user_id}/application_credentials`: for the caller's own user, on the
    /// token's project, with the token's roles or a subset of them.
    pub async fn create_app_cred(
        &self,
        caller: &AuthContext,
        user_id: &str,
        req: AppCredCreate,
    ) -> Result<AppCredential> {
        if caller.user.id != user_id {
            return Err(CoreError::forbidden(
                "You are not authorized to perform the requested action: identity:create_application_credential.",
            ));
        }
        refuse_restricted(caller)?;
        let Some(project) = &caller.project else {
            return Err(CoreError::bad_request(
                "Application credentials must be created with a project-scoped token.",
            ));
        };
        let name = req.name.trim();
        if name.is_empty() || name.chars().count() > 255 {
            return Err(CoreError::bad_request(
                "Invalid input for field 'name': the name must be 1 to 255 characters.",
            ));
        }
        if req.access_rules.as_ref().is_some_and(|r| !r.is_empty()) {
            return Err(CoreError::bad_request(
                "Access rules are not supported by Cascade's embedded identity.",
            ));
        }
        let expires_at = match req.expires_at.as_deref() {
            None => None,
            Some(text) => {
                let t = parse_expiry(text)?;
                if t <= Utc::now() {
                    return Err(CoreError::bad_request(
                        "The expiration date of an application credential must be in the future.",
                    ));
                }
                Some(cascade_store::to_micros(t))
            }
        };
        let held = self.store.roles_of(user_id, &project.id).await?;
        let roles: Vec<RoleRow> = match &req.roles {
            None => held,
            Some(wanted) => {
                let mut roles = Vec::new();
                for w in wanted {
                    let role = held.iter().find(|r| {
                        w.id.as_deref() == Some(r.id.as_str())
                            || (w.id.is_none() && w.name.as_deref() == Some(r.name.as_str()))
                    });
                    let Some(role) = role else {
                        let what = w.id.as_deref().or(w.name.as_deref()).unwrap_or("?");
                        return Err(CoreError::forbidden(format!(
                            "Could not find role assignment with role: {what}, user or group: {user_id}, project, domain, or system: {}.",
                            project.id
                        )));
                    };
                    if !roles.iter().any(|r: &RoleRow| r.id == role.id) {
                        roles.push(role.clone());
                    }
                }
                roles
            }
        };
        if roles.is_empty() {
            return Err(CoreError::forbidden(format!(
                "User {user_id} has no access to project {}",
                project.id
            )));
        }
        let secret = req.secret.clone().unwrap_or_else(new_secret);
        let row = AppCredRow {
            id: new_id(),
            user_id: user_id.to_string(),
            project_id: project.id.clone(),
            name: name.to_string(),
            description: req.description.clone(),
            secret_hash: self.passwords.hash(&secret).await?,
            roles: serde_json::to_string(&roles.iter().map(|r| &r.id).collect::<Vec<_>>())
                .map_err(|e| CoreError::internal(e.to_string()))?,
            unrestricted: i64::from(req.unrestricted.unwrap_or(false)),
            expires_at,
            created_at: cascade_store::now_micros(),
        };
        self.store.insert_app_cred(&row).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::conflict(format!(
                "Conflict occurred attempting to store application_credential - Duplicate name, {name}."
            )),
            other => other.into(),
        })?;
        let mut view = self.app_cred_view(&row, &roles);
        view.secret = Some(secret);
        Ok(view)
    }

    fn app_cred_missing(id: &str) -> CoreError {
        CoreError::not_found(format!("Could not find Application Credential: {id}."))
    }

    /// One of the user's application credentials.
    pub async fn get_app_cred(&self, user_id: &str, id: &str) -> Result<AppCredential> {
        let row = match self.store.get_app_cred(id).await {
            Ok(row) if row.user_id == user_id => row,
            Ok(_) | Err(StoreError::NotFound) => return Err(Self::app_cred_missing(id)),
            Err(e) => return Err(e.into()),
        };
        let roles = self.app_cred_roles(&row).await?;
        Ok(self.app_cred_view(&row, &roles))
    }

    /// The user's application credentials, optionally only the one named `name`.
    pub async fn list_app_creds(
        &self,
        user_id: &str,
        name: Option<&str>,
    ) -> Result<Vec<AppCredential>> {
        let mut out = Vec::new();
        for row in self.store.list_app_creds(user_id, name).await? {
            let roles = self.app_cred_roles(&row).await?;
            out.push(self.app_cred_view(&row, &roles));
        }
        Ok(out)
    }

    /// Deletes one of the user's application credentials and every token issued from it. A
    /// token issued from a restricted credential cannot.
    pub async fn delete_app_cred(
        &self,
        caller: &AuthContext,
        user_id: &str,
        id: &str,
    ) -> Result<()> {
        refuse_restricted(caller)?;
        match self.store.get_app_cred(id).await {
            Ok(row) if row.user_id == user_id => {}
            Ok(_) | Err(StoreError::NotFound) => return Err(Self::app_cred_missing(id)),
            Err(e) => return Err(e.into()),
        }
        self.store.delete_app_cred(id).await.map_err(|e| match e {
            StoreError::NotFound => Self::app_cred_missing(id),
            other => other.into(),
        })
    }

    /// The `application_credential` auth method: the user and the credential, when the secret
    /// matches and the credential has not expired (401 otherwise, as for a wrong password).
    pub(super) async fn app_cred_login(&self, m: &AppCredMethod) -> Result<(UserRow, AppCredRow)> {
        let denied = || CoreError::unauthorized(AUTH_REQUIRED);
        let found = if let Some(id) = &m.id {
            self.store.get_app_cred(id).await
        } else if let (Some(name), Some(user)) = (&m.name, &m.user) {
            let user = if let Some(id) = &user.id {
                self.store.get_user(id).await
            } else if let (Some(uname), Some(domain)) = (&user.name, &user.domain) {
                let domain = self.resolve_domain(domain).await?;
                self.store.find_user(&domain.id, uname).await
            } else {
                return Err(CoreError::bad_request(
                    "Could not find user for application credential: give the user's id, or its name and domain.",
                ));
            };
            match user {
                Ok(u) => self.store.find_app_cred(&u.id, name).await,
                Err(e) => Err(e),
            }
        } else {
            return Err(CoreError::bad_request(
                "Expecting to find id or name with user for application credential.",
            ));
        };
        let row = match found {
            Ok(row) => Some(row),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let ok = self
            .passwords
            .verify(&m.secret, row.as_ref().map(|r| r.secret_hash.as_str()))
            .await?;
        let Some(row) = row.filter(|_| ok) else {
            return Err(denied());
        };
        if expired(&row) {
            return Err(denied());
        }
        let user = self
            .store
            .get_user(&row.user_id)
            .await
            .map_err(|_| denied())?;
        Ok((user, row))
    }

    /// Narrows a token's roles to those of the credential it was issued from; fails when the
    /// credential is gone or expired, or when none of its roles is held any longer.
    pub(super) async fn app_cred_bound(
        &self,
        app_cred_id: &str,
        held: Vec<RoleRow>,
    ) -> Result<(Vec<IdName>, TokenAppCred)> {
        let denied = || CoreError::unauthorized(AUTH_REQUIRED);
        let row = self
            .store
            .get_app_cred(app_cred_id)
            .await
            .map_err(|_| denied())?;
        if expired(&row) {
            return Err(denied());
        }
        let allowed = role_ids(&row);
        let roles: Vec<IdName> = held
            .into_iter()
            .filter(|r| allowed.contains(&r.id))
            .map(|r| IdName {
                id: r.id,
                name: r.name,
            })
            .collect();
        if roles.is_empty() {
            return Err(denied());
        }
        Ok((
            roles,
            TokenAppCred {
                id: row.id,
                name: row.name,
                restricted: row.unrestricted == 0,
            },
        ))
    }

    /// The latest a token issued from this credential may live.
    pub(super) fn app_cred_expiry(row: &AppCredRow, ttl_end: DateTime<Utc>) -> DateTime<Utc> {
        match row.expires_at.map(cascade_store::from_micros) {
            Some(end) if end < ttl_end => end,
            _ => ttl_end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_reads_keystone_forms_and_renders_like_keystone() {
        let t = parse_expiry("2030-01-02T03:04:05.123456").unwrap();
        assert_eq!(
            render_expiry(cascade_store::to_micros(t)),
            "2030-01-02T03:04:05.123456"
        );
        let z = parse_expiry("2030-01-02T03:04:05Z").unwrap();
        assert_eq!(
            render_expiry(cascade_store::to_micros(z)),
            "2030-01-02T03:04:05.000000"
        );
        assert!(parse_expiry("next tuesday").is_err());
    }
}
