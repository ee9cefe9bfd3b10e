//! Throw-away databases for tests: a fresh SQLite file in the temp directory, or a fresh schema
//! in the PostgreSQL named by `CASCADE_TEST_POSTGRES_URL` (default: the local server's `test`
//! database). Each [`TestDb`] is private to one test, so runs never collide.

use crate::{Result, Store};

/// The PostgreSQL server tests use.
pub fn postgres_url() -> String {
    std::env::var("CASCADE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A database made for one test.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub schema: Option<String>,
    pub store: Store,
    file: Option<std::path::PathBuf>,
}

fn unique_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl TestDb {
    /// A new SQLite database file.
    pub async fn sqlite() -> Result<TestDb> {
        let path = std::env::temp_dir().join(format!("cascade-test-{}.db", unique_suffix()));
        let url = format!("sqlite://{}", path.display());
        let store = Store::connect(&url, None).await?;
        Ok(TestDb {
            url,
            schema: None,
            store,
            file: Some(path),
        })
    }

    /// A new schema in the test PostgreSQL server.
    pub async fn postgres() -> Result<TestDb> {
        let url = postgres_url();
        let schema = format!("cascade_test_{}", unique_suffix());
        let store = Store::connect(&url, Some(&schema)).await?;
        Ok(TestDb {
            url,
            schema: Some(schema),
            store,
            file: None,
        })
    }

    /// Closes the pool and removes the file or schema.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(schema) = &self.schema {
            let _ = Store::drop_schema(&self.url, schema).await;
        }
        if let Some(file) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
    }
}
