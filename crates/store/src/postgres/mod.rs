//! PostgreSQL, for production and for several trackd nodes sharing one database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, Transaction};

use crate::shared::{impl_counters, impl_store, migrations, Migration};
use crate::{Result, StoreError};

const MIGRATIONS: &[Migration] = migrations!("postgres");

/// Connections per node: a few per core keeps the server busy while others wait on I/O,
/// and leaves room under the default `max_connections = 100` for several nodes.
const MAX_CONNECTIONS: u32 = 8;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects by `postgres://` URL and applies the migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("database URL: {e}")))?;
        // One plain attempt first: the pool would retry a refused connection until its
        // acquire timeout, and at start-up a clear error now beats a silent wait.
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        let store = PgStore { pool };
        store.migrate(MIGRATIONS).await?;
        Ok(store)
    }

    /// PostgreSQL knows no bare `?`.
    const NUMBERED_PARAMS: bool = true;

    /// Another node may ingest the same tracker (its device reconnected there): the state
    /// rows a batch reads stay locked until its commit, so neither node loses the other's
    /// update.
    const LOCK_ROWS: &'static str = " FOR UPDATE";

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Under READ COMMITTED a count-then-insert can race with another node's; a
    /// transaction-scoped advisory lock makes such transactions take turns, and is released
    /// at commit or rollback.
    async fn serialize(tx: &mut Transaction<'static, Postgres>, key: i64) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

impl_store!(PgStore, Postgres);
impl_counters!(PgStore, Postgres);
