//! Rows of the embedded identity: domains, projects, users (with their password hashes), roles,
//! role assignments and issued tokens (stored by hash only, so a database leak leaks no token).

use sqlx::FromRow;

use crate::{Result, Store, StoreError, now_micros};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DomainRow {
    pub id: String,
    pub name: String,
    pub description: String,
    #[sqlx(try_from = "crate::Flag")]
    pub enabled: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    #[sqlx(try_from = "crate::Flag")]
    pub enabled: bool,
    /// JSON array of strings.
    pub tags: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub password_hash: Option<String>,
    #[sqlx(try_from = "crate::Flag")]
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RoleRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
}

/// What a role is granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Project,
    Domain,
}

impl TargetKind {
    fn as_str(self) -> &'static str {
        match self {
            TargetKind::Project => "UserProject",
            TargetKind::Domain => "UserDomain",
        }
    }

    fn parse(s: &str) -> TargetKind {
        if s == "UserDomain" {
            TargetKind::Domain
        } else {
            TargetKind::Project
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentRow {
    pub target_kind: TargetKind,
    pub actor_id: String,
    pub target_id: String,
    pub role_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TokenRow {
    pub id_hash: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    /// Comma-separated auth methods.
    pub methods: String,
    pub audit_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The application credential the token was issued from, if any.
    pub app_cred_id: Option<String>,
}

/// A token with everything validation needs, read in one query.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TokenContextRow {
    pub user_id: String,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub methods: String,
    pub audit_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub user_name: String,
    pub user_enabled: i64,
    pub user_domain_id: String,
    pub user_domain_name: String,
    pub user_domain_enabled: i64,
    pub project_name: Option<String>,
    pub project_enabled: Option<i64>,
    pub project_domain_id: Option<String>,
    pub project_domain_name: Option<String>,
    pub project_domain_enabled: Option<i64>,
    pub scope_domain_name: Option<String>,
    pub scope_domain_enabled: Option<i64>,
    pub app_cred_id: Option<String>,
}

const PROJECT_COLS: &str = "id, name, domain_id, description, enabled, tags, created_at";
const USER_COLS: &str = "id, name, domain_id, password_hash, enabled, default_project_id, description, email, created_at";

impl Store {
    // ---- domains -------------------------------------------------------------------------

    pub async fn insert_domain(&self, d: &DomainRow) -> Result<()> {
        sqlx::query("INSERT INTO domains (id, name, description, enabled, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&d.id)
            .bind(&d.name)
            .bind(&d.description)
            .bind(i64::from(d.enabled))
            .bind(d.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn get_domain(&self, id: &str) -> Result<DomainRow> {
        Ok(sqlx::query_as(
            "SELECT id, name, description, enabled, created_at FROM domains WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn find_domain_by_name(&self, name: &str) -> Result<DomainRow> {
        Ok(sqlx::query_as(
            "SELECT id, name, description, enabled, created_at FROM domains WHERE name = $1",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn list_domains(&self) -> Result<Vec<DomainRow>> {
        Ok(sqlx::query_as(
            "SELECT id, name, description, enabled, created_at FROM domains ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    // ---- projects ------------------------------------------------------------------------

    pub async fn insert_project(&self, p: &ProjectRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO projects (id, name, domain_id, description, enabled, tags, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.domain_id)
        .bind(&p.description)
        .bind(i64::from(p.enabled))
        .bind(&p.tags)
        .bind(p.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_project(&self, id: &str) -> Result<ProjectRow> {
        Ok(
            sqlx::query_as(sql!("SELECT {PROJECT_COLS} FROM projects WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn find_project(&self, domain_id: &str, name: &str) -> Result<ProjectRow> {
        Ok(sqlx::query_as(sql!(
            "SELECT {PROJECT_COLS} FROM projects WHERE domain_id = $1 AND name = $2"
        ))
        .bind(domain_id)
        .bind(name)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Projects, optionally filtered by exact name and domain, ordered by name.
    pub async fn list_projects(
        &self,
        name: Option<&str>,
        domain_id: Option<&str>,
    ) -> Result<Vec<ProjectRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {PROJECT_COLS} FROM projects \
             WHERE ($1 IS NULL OR name = $1) AND ($2 IS NULL OR domain_id = $2) ORDER BY name, id"
        ))
        .bind(name)
        .bind(domain_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn update_project(&self, p: &ProjectRow) -> Result<()> {
        let done = sqlx::query("UPDATE projects SET name = $2, description = $3, enabled = $4, tags = $5 WHERE id = $1")
            .bind(&p.id)
            .bind(&p.name)
            .bind(&p.description)
            .bind(i64::from(p.enabled))
            .bind(&p.tags)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deletes a project with its role assignments and the tokens scoped to it, atomically.
    pub async fn delete_project(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM role_assignments WHERE target_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tokens WHERE project_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- users ---------------------------------------------------------------------------

    pub async fn insert_user(&self, u: &UserRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, name, domain_id, password_hash, enabled, default_project_id, description, email, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(&u.domain_id)
        .bind(&u.password_hash)
        .bind(i64::from(u.enabled))
        .bind(&u.default_project_id)
        .bind(&u.description)
        .bind(&u.email)
        .bind(u.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_user(&self, id: &str) -> Result<UserRow> {
        Ok(
            sqlx::query_as(sql!("SELECT {USER_COLS} FROM users WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn find_user(&self, domain_id: &str, name: &str) -> Result<UserRow> {
        Ok(sqlx::query_as(sql!(
            "SELECT {USER_COLS} FROM users WHERE domain_id = $1 AND name = $2"
        ))
        .bind(domain_id)
        .bind(name)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn list_users(
        &self,
        name: Option<&str>,
        domain_id: Option<&str>,
    ) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {USER_COLS} FROM users \
             WHERE ($1 IS NULL OR name = $1) AND ($2 IS NULL OR domain_id = $2) ORDER BY name, id"
        ))
        .bind(name)
        .bind(domain_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Rewrites a user. When the user is disabled or its password changes, its tokens are
    /// deleted in the same transaction.
    pub async fn update_user(&self, u: &UserRow, drop_tokens: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET name = $2, password_hash = $3, enabled = $4, default_project_id = $5, \
             description = $6, email = $7 WHERE id = $1",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(&u.password_hash)
        .bind(i64::from(u.enabled))
        .bind(&u.default_project_id)
        .bind(&u.description)
        .bind(&u.email)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if drop_tokens {
            sqlx::query("DELETE FROM tokens WHERE user_id = $1")
                .bind(&u.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user with its role assignments, tokens and application credentials, atomically.
    pub async fn delete_user(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM role_assignments WHERE actor_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tokens WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM application_credentials WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- roles ---------------------------------------------------------------------------

    pub async fn insert_role(&self, r: &RoleRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO roles (id, name, description, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.description)
        .bind(r.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_role(&self, id: &str) -> Result<RoleRow> {
        Ok(
            sqlx::query_as("SELECT id, name, description, created_at FROM roles WHERE id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn find_role(&self, name: &str) -> Result<RoleRow> {
        Ok(
            sqlx::query_as("SELECT id, name, description, created_at FROM roles WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn list_roles(&self, name: Option<&str>) -> Result<Vec<RoleRow>> {
        Ok(sqlx::query_as(
            "SELECT id, name, description, created_at FROM roles WHERE ($1 IS NULL OR name = $1) ORDER BY name",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes a role and every assignment of it.
    pub async fn delete_role(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM role_assignments WHERE role_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- role assignments ----------------------------------------------------------------

    /// Grants a role; granting twice is not an error (Keystone answers 204 both times).
    pub async fn grant_role(&self, a: &AssignmentRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO role_assignments (target_kind, actor_id, target_id, role_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(a.target_kind.as_str())
        .bind(&a.actor_id)
        .bind(&a.target_id)
        .bind(&a.role_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn revoke_role(&self, a: &AssignmentRow) -> Result<()> {
        let done = sqlx::query(
            "DELETE FROM role_assignments WHERE target_kind = $1 AND actor_id = $2 AND target_id = $3 AND role_id = $4",
        )
        .bind(a.target_kind.as_str())
        .bind(&a.actor_id)
        .bind(&a.target_id)
        .bind(&a.role_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Assignments matching every given filter.
    pub async fn list_assignments(
        &self,
        actor_id: Option<&str>,
        target_id: Option<&str>,
        role_id: Option<&str>,
    ) -> Result<Vec<AssignmentRow>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT target_kind, actor_id, target_id, role_id FROM role_assignments \
             WHERE ($1 IS NULL OR actor_id = $1) AND ($2 IS NULL OR target_id = $2) AND ($3 IS NULL OR role_id = $3) \
             ORDER BY actor_id, target_id, role_id",
        )
        .bind(actor_id)
        .bind(target_id)
        .bind(role_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(kind, actor_id, target_id, role_id)| AssignmentRow {
                target_kind: TargetKind::parse(&kind),
                actor_id,
                target_id,
                role_id,
            })
            .collect())
    }

    /// The roles a user holds on a target, as rows.
    pub async fn roles_of(&self, user_id: &str, target_id: &str) -> Result<Vec<RoleRow>> {
        Ok(sqlx::query_as(
            "SELECT r.id, r.name, r.description, r.created_at FROM roles r \
             JOIN role_assignments a ON a.role_id = r.id \
             WHERE a.actor_id = $1 AND a.target_id = $2 ORDER BY r.name",
        )
        .bind(user_id)
        .bind(target_id)
        .fetch_all(&self.pool)
        .await?)
    }

    // ---- tokens --------------------------------------------------------------------------

    pub async fn insert_token(&self, t: &TokenRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO tokens (id_hash, user_id, project_id, domain_id, methods, audit_id, issued_at, expires_at, app_cred_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&t.id_hash)
        .bind(&t.user_id)
        .bind(&t.project_id)
        .bind(&t.domain_id)
        .bind(&t.methods)
        .bind(&t.audit_id)
        .bind(t.issued_at)
        .bind(t.expires_at)
        .bind(&t.app_cred_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_token(&self, id_hash: &str) -> Result<TokenRow> {
        Ok(sqlx::query_as(
            "SELECT id_hash, user_id, project_id, domain_id, methods, audit_id, issued_at, expires_at, app_cred_id \
             FROM tokens WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The token with its user, project and domains (one query; `None` when unknown).
    pub async fn token_context(&self, id_hash: &str) -> Result<Option<TokenContextRow>> {
        Ok(sqlx::query_as(
            "SELECT t.user_id, t.project_id, t.domain_id, t.methods, t.audit_id, t.issued_at, t.expires_at, \
                    u.name AS user_name, u.enabled AS user_enabled, \
                    ud.id AS user_domain_id, ud.name AS user_domain_name, ud.enabled AS user_domain_enabled, \
                    p.name AS project_name, p.enabled AS project_enabled, \
                    pd.id AS project_domain_id, pd.name AS project_domain_name, pd.enabled AS project_domain_enabled, \
                    sd.name AS scope_domain_name, sd.enabled AS scope_domain_enabled, t.app_cred_id \
             FROM tokens t \
             JOIN users u ON u.id = t.user_id \
             JOIN domains ud ON ud.id = u.domain_id \
             LEFT JOIN projects p ON p.id = t.project_id \
             LEFT JOIN domains pd ON pd.id = p.domain_id \
             LEFT JOIN domains sd ON sd.id = t.domain_id \
             WHERE t.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Revokes one token.
    pub async fn delete_token(&self, id_hash: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM tokens WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deletes expired tokens; returns how many.
    pub async fn purge_expired_tokens(&self) -> Result<u64> {
        let done = sqlx::query("DELETE FROM tokens WHERE expires_at <= $1")
            .bind(now_micros())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
