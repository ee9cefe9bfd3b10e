//! The store's error type: the database said no (conflict, not found), the configuration is
//! wrong, or the backend failed (retryable from the caller's point of view).

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint was violated (duplicate name, region, routing row, ...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    /// A referenced row does not exist or still has dependants.
    #[error("constraint: {0}")]
    Constraint(String),
    /// Bad database URL or schema name.
    #[error("configuration: {0}")]
    Config(String),
    /// Migrations failed to apply.
    #[error("migrate: {0}")]
    Migrate(String),
    /// The database failed or could not be reached.
    #[error("database: {0}")]
    Backend(sqlx::Error),
}

impl StoreError {
    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Backend(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    StoreError::Conflict(db.message().to_string())
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    StoreError::Constraint(db.message().to_string())
                }
                _ => StoreError::Backend(err),
            },
            _ => StoreError::Backend(err),
        }
    }
}
