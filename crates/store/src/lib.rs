//! Storage behind narrow traits, with two implementations: SQLite (embedded, the default) and
//! PostgreSQL (production, several nodes). The same contract tests run against both.
//!
//! Times are Unix milliseconds (UTC) in `i64` columns in both backends, so SQL text can be
//! shared; each backend keeps its own migrations for what the dialects disagree on.

mod error;
pub mod traits;

pub use error::{Conflict, StoreError};
pub use traits::{Registration, Store, Trackers, Users};

pub type Result<T> = std::result::Result<T, StoreError>;
