//! What the SQLite and PostgreSQL stores share: error mapping, row mapping, small helpers and
//! (in `store_impl`) the one body of SQL that implements the traits for both.

pub(crate) mod counter_impl;
pub(crate) mod counting;
pub(crate) mod ingest;
pub(crate) mod published;
mod rows;
pub(crate) mod store_impl;
pub(crate) mod tracker_cache;

pub(crate) use counter_impl::impl_counters;
pub(crate) use published::{REVISION_AND_FOREIGN, VERSION_AND_FOREIGN};
pub(crate) use rows::{
    activation_code_from_row, bundle_from_row, counter_type_from_row, group_from_row, parse_state,
    point_from_row, revision_and_foreign_row, sensor_from_row, session_from_row, tag_from_row,
    tracker_from_row, user_from_row,
};
pub(crate) use rows::{
    BindingRow, Cols, EventRow, ForeignRow, JsonRow, RevisionRow, RowMap, SensorRow, SessionRow,
    SessionUserRow, TrackPoint, TrackerRow, UserRow, VersionRow, WholePoint, SESSION_WITH_USER,
};
pub(crate) use store_impl::impl_store;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::error::ErrorKind;
use trackd_core::Rights;

use crate::{Conflict, EncodedPoint, Result, StoreError};

/// One schema step, applied once in its own transaction.
#[derive(Clone)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The schema steps of a backend, from `migrations/<backend>/`. One list for both, so a
/// version number means the same schema on either and neither can miss a step.
macro_rules! migrations {
    ($backend:literal) => {
        &[
            Migration {
                version: 1,
                name: "initial",
                sql: include_str!(concat!("../../migrations/", $backend, "/0001_initial.sql")),
            },
            Migration {
                version: 2,
                name: "points",
                sql: include_str!(concat!("../../migrations/", $backend, "/0002_points.sql")),
            },
            Migration {
                version: 3,
                name: "sensors",
                sql: include_str!(concat!("../../migrations/", $backend, "/0003_sensors.sql")),
            },
            Migration {
                version: 4,
                name: "state",
                sql: include_str!(concat!("../../migrations/", $backend, "/0004_state.sql")),
            },
            Migration {
                version: 5,
                name: "counters",
                sql: include_str!(concat!("../../migrations/", $backend, "/0005_counters.sql")),
            },
            Migration {
                version: 6,
                name: "counter_history_index",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0006_counter_history_index.sql"
                )),
            },
            Migration {
                version: 7,
                name: "points_in_arrival_order",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0007_points_in_arrival_order.sql"
                )),
            },
            Migration {
                version: 8,
                name: "live_source_indexes",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0008_live_source_indexes.sql"
                )),
            },
            Migration {
                version: 9,
                name: "tracker_revisions",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0009_tracker_revisions.sql"
                )),
            },
            Migration {
                version: 10,
                name: "state_versions",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0010_state_versions.sql"
                )),
            },
            Migration {
                version: 11,
                name: "state_writes",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0011_state_writes.sql"
                )),
            },
            Migration {
                version: 12,
                name: "tag_binding_revisions",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0012_tag_binding_revisions.sql"
                )),
            },
            Migration {
                version: 13,
                name: "track_in_key_index",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0013_track_in_key_index.sql"
                )),
            },
        ]
    };
}
pub(crate) use migrations;

/// What a read of one row looks it up by (`row`): its one parameter.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Key<'a> {
    Int(i64),
    Text(&'a str),
}

/// IDs per `IN (...)` list: well under SQLite's 32766 and PostgreSQL's 65535 parameters.
pub(crate) const IN_CHUNK: usize = 500;

/// IDs per `IN (...)` list for states: `tracker/get_states` takes up to 2000 trackers and
/// must cost one query (DESIGN §4).
pub(crate) const STATE_CHUNK: usize = 2000;

/// `$first, $first+1, ...` for `n` parameters.
pub(crate) fn param_list(first: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 5);
    push_params(&mut s, Some(first), n);
    s
}

/// `n` parameters numbered from `first`, or bare `?` when not `numbered` (see
/// `NUMBERED_PARAMS` in each backend): for `IN` lists long enough that SQLite's lookup of
/// numbered parameters by name would show.
pub(crate) fn params(numbered: bool, first: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 5);
    push_params(&mut s, numbered.then_some(first), n);
    s
}

/// `($1, ...), (...), ...`: `rows` groups of `cols` parameters, for a multi-row `VALUES`;
/// bare `?` when not `numbered` (see `NUMBERED_PARAMS` in each backend).
pub(crate) fn value_rows(numbered: bool, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * (cols * 8 + 4));
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        push_params(&mut s, numbered.then_some(1 + r * cols), cols);
        s.push(')');
    }
    s
}

/// `n` parameters, `$first, ...` or, without `first`, `?, ?, ...`.
fn push_params(s: &mut String, first: Option<usize>, n: usize) {
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        match first {
            Some(first) => {
                s.push('$');
                s.push_str(&(first + i).to_string());
            }
            None => s.push('?'),
        }
    }
}

/// Binds each ID, in order.
pub(crate) fn bind_ids<'q, DB: sqlx::Database>(
    mut q: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
    ids: &[i64],
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for id in ids {
        q = q.bind(*id);
    }
    q
}

/// A point as the `points` table's values, in the order of `point_columns!`: what binding a
/// row, PostgreSQL's `COPY` data and its column arrays are all made from.
pub struct PointRow<'p> {
    pub tracker_id: i64,
    pub time: i64,
    pub received_at: i64,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub altitude: Option<f64>,
    pub speed: Option<f64>,
    pub heading: Option<f64>,
    pub satellites: Option<i32>,
    pub hdop: Option<f64>,
    pub valid: Option<bool>,
    pub lbs: Option<bool>,
    pub ignition: Option<bool>,
    pub motion: Option<bool>,
    pub battery_level: Option<i32>,
    pub inputs: Option<i64>,
    pub outputs: Option<i64>,
    pub gsm_signal: Option<i32>,
    pub mcc: Option<i32>,
    pub mnc: Option<i32>,
    pub lac: Option<i64>,
    pub cell_id: Option<i64>,
    pub hardware_key: Option<&'p str>,
    /// JSON object.
    pub io: &'p str,
    /// JSON array.
    pub alarms: &'p str,
    pub buffered: bool,
}

impl<'p> PointRow<'p> {
    pub fn of(p: &'p EncodedPoint) -> PointRow<'p> {
        let pos = p.position.as_ref();
        let cell = p.gsm_cell.as_ref();
        PointRow {
            tracker_id: p.tracker_id.0,
            time: p.time,
            received_at: p.received_at,
            lat: pos.map(|x| x.lat),
            lng: pos.map(|x| x.lng),
            altitude: pos.and_then(|x| x.altitude),
            speed: pos.and_then(|x| x.speed),
            heading: pos.and_then(|x| x.heading),
            satellites: pos.and_then(|x| x.satellites),
            hdop: pos.and_then(|x| x.hdop),
            valid: pos.map(|x| x.valid),
            lbs: pos.map(|x| x.lbs),
            ignition: p.ignition,
            motion: p.motion,
            battery_level: p.battery_level,
            inputs: p.inputs,
            outputs: p.outputs,
            gsm_signal: p.gsm_signal,
            mcc: cell.map(|c| c.mcc),
            mnc: cell.map(|c| c.mnc),
            lac: cell.map(|c| c.lac),
            cell_id: cell.map(|c| c.cell_id),
            hardware_key: p.hardware_key.as_deref(),
            io: p.io_json(),
            alarms: p.alarms_json(),
            buffered: p.buffered,
        }
    }
}

/// The number of names in a comma-separated column list.
pub(crate) const fn column_count(list: &str) -> usize {
    let bytes = list.as_bytes();
    let mut n = 1;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
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
                    ErrorKind::CheckViolation => return StoreError::Invalid(e.to_string()),
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
pub(crate) fn conflict_of(what: &str) -> Option<Conflict> {
    if what.contains("input_name") || what.contains("input_number") {
        Some(Conflict::SensorInput)
    } else if what.contains("sensor_type") || what.contains("sensors_one_ignition") {
        Some(Conflict::SensorType)
    } else if what.contains("tag_bindings") {
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
    fn param_list_numbers_from_first() {
        assert_eq!(param_list(2, 3), "$2, $3, $4");
        assert_eq!(param_list(1, 1), "$1");
    }

    #[test]
    fn params_numbered_or_bare() {
        assert_eq!(params(true, 2, 2), "$2, $3");
        assert_eq!(params(false, 2, 2), "?, ?");
    }

    #[test]
    fn value_rows_number_on() {
        assert_eq!(value_rows(true, 2, 2), "($1, $2), ($3, $4)");
        assert_eq!(value_rows(false, 2, 3), "(?, ?, ?), (?, ?, ?)");
    }

    #[test]
    fn column_count_counts_names() {
        assert_eq!(column_count("a"), 1);
        assert_eq!(column_count("a, b,\n c"), 3);
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
        assert_eq!(
            conflict_of("sensors_metering_input_name"),
            Some(Conflict::SensorInput)
        );
        assert_eq!(
            conflict_of("UNIQUE constraint failed: sensors.tracker_id, sensors.input_number"),
            Some(Conflict::SensorInput)
        );
        assert_eq!(
            conflict_of("sensors_one_ignition"),
            Some(Conflict::SensorType)
        );
        assert_eq!(
            conflict_of("UNIQUE constraint failed: sensors.tracker_id, sensors.sensor_type"),
            Some(Conflict::SensorType)
        );
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
