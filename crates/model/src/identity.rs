//! Keystone v3 documents: the `POST /v3/auth/tokens` request, the token body, the service
//! catalog, and the domain/project/user/role resources. Request types are lenient where
//! Keystone is (extra attributes pass), response types render Keystone's exact field names.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{"auth": {...}}` as posted to `/v3/auth/tokens`.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthRequest {
    pub auth: Auth,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Auth {
    pub identity: AuthIdentity,
    /// A project/domain/system object, or the string `"unscoped"`.
    #[serde(default)]
    pub scope: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthIdentity {
    pub methods: Vec<String>,
    #[serde(default)]
    pub password: Option<PasswordMethod>,
    #[serde(default)]
    pub token: Option<TokenMethod>,
    #[serde(default)]
    pub application_credential: Option<AppCredMethod>,
}

/// The `application_credential` auth method: the credential by id, or by name with its user.
#[derive(Clone, Deserialize)]
pub struct AppCredMethod {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub user: Option<ResourceRef>,
    pub secret: String,
}

impl std::fmt::Debug for AppCredMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredMethod")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("user", &self.user)
            .field("secret", &crate::redact::REDACTED)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct PasswordMethod {
    pub user: PasswordUser,
}

#[derive(Clone, Deserialize)]
pub struct PasswordUser {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub domain: Option<ResourceRef>,
    pub password: String,
}

impl std::fmt::Debug for PasswordUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordUser")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("domain", &self.domain)
            .field("password", &crate::redact::REDACTED)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
pub struct TokenMethod {
    pub id: String,
}

impl std::fmt::Debug for TokenMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenMethod")
            .field("id", &crate::redact::REDACTED)
            .finish()
    }
}

/// A reference by id, or by name (+ domain for projects).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ResourceRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Box<ResourceRef>>,
}

/// `{"id", "name"}` pairs as they appear inside a token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct IdName {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TokenUser {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub domain: IdName,
    #[serde(default)]
    pub password_expires_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TokenProject {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub domain: IdName,
}

/// The `token` object of a token response.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Token {
    pub methods: Vec<String>,
    pub user: TokenUser,
    #[serde(default)]
    pub audit_ids: Vec<String>,
    pub expires_at: String,
    #[serde(default)]
    pub issued_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<TokenProject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<IdName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_domain: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<IdName>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<Vec<CatalogService>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_credential: Option<TokenAppCred>,
}

/// The application credential a token was issued from, as Keystone shows it in the token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TokenAppCred {
    pub id: String,
    pub name: String,
    pub restricted: bool,
}

/// `POST /v3/users/{user_id}/application_credentials`.
#[derive(Debug, Clone, Deserialize)]
pub struct AppCredCreateRequest {
    pub application_credential: AppCredCreate,
}

#[derive(Clone, Deserialize)]
pub struct AppCredCreate {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub roles: Option<Vec<ResourceRef>>,
    #[serde(default)]
    pub unrestricted: Option<bool>,
    #[serde(default)]
    pub access_rules: Option<Vec<serde_json::Value>>,
}

impl std::fmt::Debug for AppCredCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredCreate")
            .field("name", &self.name)
            .field(
                "secret",
                &self.secret.as_ref().map(|_| crate::redact::REDACTED),
            )
            .finish_non_exhaustive()
    }
}

/// A role as an application credential lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppCredRole {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
}

/// Keystone's application credential body. `secret` only in the answer to its creation.
#[derive(Debug, Clone, Serialize)]
pub struct AppCredential {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub user_id: String,
    pub project_id: String,
    pub roles: Vec<AppCredRole>,
    pub unrestricted: bool,
    pub expires_at: Option<String>,
    pub access_rules: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub links: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TokenResponse {
    pub token: Token,
}

/// One service of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CatalogService {
    pub id: String,
    #[serde(rename = "type")]
    pub service_type: String,
    pub name: String,
    pub endpoints: Vec<CatalogEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CatalogEndpoint {
    pub id: String,
    pub interface: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub region_id: Option<String>,
    pub url: String,
}

/// `{"self": ...}` links of a resource.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SelfLink {
    #[serde(rename = "self")]
    pub href: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub links: SelfLink,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub enabled: bool,
    pub is_domain: bool,
    pub parent_id: String,
    pub tags: Vec<String>,
    pub links: SelfLink,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub password_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub links: SelfLink,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub links: SelfLink,
}

/// Body of `POST /v3/projects` (`{"project": {...}}`).
#[derive(Debug, Clone, Deserialize)]
pub struct ProjectCreate {
    pub name: String,
    #[serde(default)]
    pub domain_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub is_domain: Option<bool>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// Body of `PATCH /v3/projects/{id}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProjectUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// Body of `POST /v3/users`. `Debug` never shows the password.
#[derive(Clone, Deserialize)]
pub struct UserCreate {
    pub name: String,
    #[serde(default)]
    pub domain_id: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub default_project_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// Body of `PATCH /v3/users/{id}`. `Debug` never shows the password.
#[derive(Clone, Default, Deserialize)]
pub struct UserUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub default_project_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl std::fmt::Debug for UserCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCreate")
            .field("name", &self.name)
            .field("domain_id", &self.domain_id)
            .field("password", &crate::redact::opt(&self.password))
            .field("enabled", &self.enabled)
            .field("default_project_id", &self.default_project_id)
            .field("description", &self.description)
            .field("email", &self.email)
            .finish()
    }
}

impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("name", &self.name)
            .field("password", &crate::redact::opt(&self.password))
            .field("enabled", &self.enabled)
            .field("default_project_id", &self.default_project_id)
            .field("description", &self.description)
            .field("email", &self.email)
            .finish()
    }
}

/// Body of `POST /v3/roles`.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleCreate {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_password_request() {
        let body = r#"{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","domain":{"name":"Default"},"password":"secret"}}},"scope":{"project":{"name":"demo","domain":{"name":"Default"}}}}}"#;
        let req: AuthRequest = serde_json::from_str(body).unwrap();
        let user = req.auth.identity.password.unwrap().user;
        assert_eq!(user.name.as_deref(), Some("demo"));
        assert_eq!(user.domain.unwrap().name.as_deref(), Some("Default"));
        assert!(req.auth.scope.unwrap().get("project").is_some());
    }

    #[test]
    fn debug_never_shows_passwords_or_tokens() {
        let body = r#"{"auth":{"identity":{"methods":["password","token"],"password":{"user":{"name":"demo","password":"pw-s3cret"}},"token":{"id":"tok-s3cret"}}}}"#;
        let req: AuthRequest = serde_json::from_str(body).unwrap();
        let shown = format!("{req:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("demo"));
        let create: UserCreate =
            serde_json::from_str(r#"{"name":"u","password":"pw-s3cret"}"#).unwrap();
        let update: UserUpdate = serde_json::from_str(r#"{"password":"pw-s3cret"}"#).unwrap();
        for shown in [format!("{create:?}"), format!("{update:?}")] {
            assert!(
                !shown.contains("s3cret") && shown.contains("<redacted>"),
                "{shown}"
            );
        }
    }

    #[test]
    fn catalog_uses_type_key() {
        let svc = CatalogService {
            id: "1".into(),
            service_type: "compute".into(),
            name: "nova".into(),
            endpoints: vec![],
        };
        let v = serde_json::to_value(&svc).unwrap();
        assert_eq!(v["type"], "compute");
    }
}
