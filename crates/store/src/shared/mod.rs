//! What the SQLite and PostgreSQL stores share: error mapping, row mapping, small helpers and
//! (in `store_impl`) the one body of SQL that implements the traits for both.

mod rows;
pub(crate) mod store_impl;

pub(crate) use rows::{
    activation_code_from_row, binding_from_row, bundle_from_row, group_from_row, session_from_row,
    tag_from_row, tracker_from_row, user_from_row,
};
pub(crate) use store_impl::impl_store;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::error::ErrorKind;
use trackd_core::Rights;

use crate::{Conflict, Result, StoreError};

/// One schema step, applied once in its own transaction.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// IDs per `IN (...)` list: well under SQLite's 32766 and PostgreSQL's 65535 parameters.
pub(crate) const IN_CHUNK: usize = 500;

/// `$first, $first+1, ...` for `n` parameters.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 5);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('$');
        s.push_str(&(first + i).to_string());
    }
    s
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `date` (`YYYY-MM-DD`) plus `days`, as `YYYY-MM-DD`.
pub(crate) fn add_days(date: &str, days: i64) -> Result<String> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|e| StoreError::Database(format!("creation date '{date}': {e}")))?;
    let end = d
        .checked_add_signed(chrono::Duration::days(days))
        .ok_or_else(|| StoreError::Database(format!("{date} plus {days} days is out of range")))?;
    Ok(end.format("%Y-%m-%d").to_string())
}

/// An empty phone means "no phone": storing it as text would make every phoneless device
/// conflict with the first one.
pub(crate) fn phone(p: Option<&str>) -> Option<&str> {
    p.filter(|p| !p.is_empty())
}

/// The granted rights as stored; a master's are implied by having no parent.
pub(crate) fn rights_json(rights: &Rights) -> String {
    let names: Vec<&str> = rights.granted().map(|r| r.as_str()).collect();
    serde_json::Value::from(names).to_string()
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Database(db) => {
                match db.kind() {
                    ErrorKind::UniqueViolation => {
                        if let Some(c) = conflict_of(db.constraint().unwrap_or(db.message())) {
                            return StoreError::Conflict(c);
                        }
                    }
                    // A row refers to one that does not exist: the caller named a missing
                    // tracker, tag or user.
                    ErrorKind::ForeignKeyViolation => return StoreError::NotFound,
                    _ => {}
                }
                let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
                if db.code().is_some_and(|c| is_transient(&c, sqlite)) {
                    StoreError::Unavailable(e.to_string())
                } else {
                    StoreError::Database(e.to_string())
                }
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// Which unique value a violated constraint guards. PostgreSQL names the index; SQLite names
/// the columns (`sources.device_id`), so both spellings contain the words matched here.
fn conflict_of(what: &str) -> Option<Conflict> {
    if what.contains("tag_bindings") {
        Some(Conflict::TagBinding)
    } else if what.contains("device_id") {
        Some(Conflict::DeviceId)
    } else if what.contains("phone") {
        Some(Conflict::Phone)
    } else if what.contains("login") {
        Some(Conflict::Login)
    } else {
        None
    }
}

/// Error codes that mean "the database is there but cannot serve now": SQLite's BUSY and
/// LOCKED (extended codes keep the primary code in the low byte); PostgreSQL's connection
/// exceptions (class 08), shutdown and start-up (57P01-57P03), and too many connections.
fn is_transient(code: &str, sqlite: bool) -> bool {
    if sqlite {
        return code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6));
    }
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_from_first() {
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(placeholders(1, 1), "$1");
    }

    #[test]
    fn add_days_crosses_months() {
        assert_eq!(
            add_days("2024-02-28", 2).ok().as_deref(),
            Some("2024-03-01")
        );
        assert!(add_days("28.02.2024", 1).is_err());
    }

    #[test]
    fn conflicts_by_either_spelling() {
        assert_eq!(
            conflict_of("sources_live_device_id"),
            Some(Conflict::DeviceId)
        );
        assert_eq!(
            conflict_of("UNIQUE constraint failed: sources.phone"),
            Some(Conflict::Phone)
        );
        assert_eq!(
            conflict_of("UNIQUE constraint failed: tag_bindings.tracker_id, tag_bindings.ordinal"),
            Some(Conflict::TagBinding)
        );
        assert_eq!(conflict_of("users_login"), Some(Conflict::Login));
        assert_eq!(conflict_of("sessions_pkey"), None);
    }

    #[test]
    fn transient_codes() {
        assert!(is_transient("5", true));
        assert!(is_transient("517", true));
        assert!(!is_transient("19", true));
        assert!(is_transient("08006", false));
        assert!(is_transient("57P01", false));
        assert!(!is_transient("23505", false));
    }
}
