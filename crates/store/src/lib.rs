//! Storage behind narrow traits, with two implementations: SQLite (embedded, the default) and
//! PostgreSQL (production, several nodes). The same contract tests run against both.
//!
//! Times are Unix milliseconds (UTC) in `i64` columns in both backends, so SQL text can be
//! shared; each backend keeps its own migrations for what the dialects disagree on.

use std::sync::Arc;

pub mod background;
mod durable;
mod encoded_point;
mod error;
pub mod postgres;
mod shared;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
pub mod traits;

pub use durable::Durable;
pub use encoded_point::EncodedPoint;
pub use error::{Conflict, StoreError};
pub use postgres::PgStore;
pub use shared::PointRow;
pub use sqlite::SqliteStore;
pub use traits::{
    Counters, IngestLane, Points, Registration, Sensors, States, Store, Trackers, Users,
};

pub type Result<T> = std::result::Result<T, StoreError>;

/// Opens the database `url` names and brings its schema up to date: `postgres://` or
/// `postgresql://` for PostgreSQL; `sqlite:...` or a plain file path for SQLite (the file is
/// created if missing).
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Ok(Arc::new(SqliteStore::open(url).await?))
    }
}
