//! Identity: who is calling. Two backends chosen in the configuration — `embedded`, a Keystone
//! v3 subset served by Cascade itself on its own database ([`EmbeddedIdentity`]), and
//! `keystone`, a real external Keystone whose tokens Cascade validates and caches
//! ([`KeystoneIdentity`]). Both produce the same [`AuthContext`].

mod app_creds;
mod context;
mod delegation;
mod embedded;
mod keystone;
mod password;

pub use context::{AuthContext, Scope};
pub use delegation::{Actor, Delegation};
pub use embedded::{BootstrapUser, EmbeddedIdentity, RoleAssignment};
pub use keystone::{KeystoneIdentity, KeystoneIdentityConfig};
pub use password::PasswordLimits;

use crate::Result;

/// The identity backend in use.
#[derive(Debug, Clone)]
pub enum Identity {
    Embedded(std::sync::Arc<EmbeddedIdentity>),
    Keystone(std::sync::Arc<KeystoneIdentity>),
}

impl Identity {
    /// Validates a token presented in `X-Auth-Token`; any failure means "not authenticated".
    pub async fn validate(&self, token: &str) -> Result<AuthContext> {
        match self {
            Identity::Embedded(e) => e.validate(token).await,
            Identity::Keystone(k) => k.validate(token).await,
        }
    }

    /// The embedded identity, when that is the backend.
    pub fn embedded(&self) -> Option<&EmbeddedIdentity> {
        match self {
            Identity::Embedded(e) => Some(e),
            Identity::Keystone(_) => None,
        }
    }

    pub fn mode(&self) -> &'static str {
        match self {
            Identity::Embedded(_) => "embedded",
            Identity::Keystone(_) => "keystone",
        }
    }
}
