//! Direct reads: the API's reads of many rows (the states of 2,000 trackers, a track of
//! 10,000 points) step SQLite on a blocking thread and decode each row where it lies.
//!
//! sqlx's SQLite driver steps on a worker thread of its own and copies every value of every
//! row into an owned row it sends across: 10,000 track points took 57 ms through it and the
//! states of 2,000 trackers 27 ms, of which SQLite's own work is a few (BENCHMARKS.md). The
//! same statements through these connections share the one SQLite library sqlx links, and
//! read the same WAL snapshot rules; the database is opened read-only, so nothing here can
//! write.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::shared::{Cols, Key, RowMap};
use crate::{Result, StoreError};

/// Readers kept open: each read holds one for its whole run on a blocking thread.
const CONNECTIONS: usize = 4;

/// Read-only connections to a database file, lent to one read at a time.
pub(super) struct DirectReaders {
    path: PathBuf,
    settings: String,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl DirectReaders {
    /// Readers of the file at `path`, each set up by the `settings` (`PRAGMA` statements)
    /// when it opens; none opens before the first read.
    pub fn new(path: PathBuf, settings: String) -> Self {
        DirectReaders {
            path,
            settings,
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(CONNECTIONS)),
        }
    }

    /// The rows of `sql` with `args` bound in order, each mapped by `M`.
    pub async fn rows<M: RowMap>(&self, sql: String, args: Vec<i64>) -> Result<Vec<M::Out>> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the store is closing".into()))?;
        let idle = Arc::clone(&self.idle);
        let taken = lock(&idle).pop();
        let (path, settings) = (self.path.clone(), self.settings.clone());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match taken {
                Some(conn) => conn,
                None => open(&path, &settings)?,
            };
            let rows = read::<M>(&conn, &sql, &args);
            // A connection whose read failed is dropped rather than lent again: whatever
            // went wrong may have been its own.
            if rows.is_ok() {
                lock(&idle).push(conn);
            }
            rows
        })
        .await
        .map_err(|e| StoreError::Database(format!("direct read: {e}")))?
    }
}

impl DirectReaders {
    /// The one row `key` finds (a session by its hash, a user by ID), read on the calling
    /// thread. Such a read takes tens of microseconds, less than handing it to a blocking
    /// thread and back, which under ingest meant waiting twice for a core (`tracker/get_states`
    /// makes three such reads). It takes an idle connection, or opens one beside those the
    /// big reads hold, and keeps no more idle than they may.
    pub fn row_here<M: RowMap>(&self, sql: &str, key: Key<'_>) -> Result<Option<M::Out>> {
        let taken = lock(&self.idle).pop();
        let conn = match taken {
            Some(conn) => conn,
            None => open(&self.path, &self.settings)?,
        };
        let mut out = Vec::with_capacity(1);
        let read = Prepared::new(&conn, sql).and_then(|mut p| match key {
            Key::Int(n) => p.rows_into::<M>([n], &mut out),
            Key::Text(s) => p.rows_into::<M>([s], &mut out),
        });
        if read.is_ok() {
            let mut idle = lock(&self.idle);
            if idle.len() < CONNECTIONS {
                idle.push(conn);
            }
        }
        read?;
        Ok(out.into_iter().next())
    }
}

/// The free list; a panic while it was held left a list of whole connections behind.
fn lock(idle: &Mutex<Vec<Connection>>) -> std::sync::MutexGuard<'_, Vec<Connection>> {
    idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open(path: &std::path::Path, settings: &str) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(error)?;
    conn.execute_batch(settings).map_err(error)?;
    Ok(conn)
}

fn read<M: RowMap>(conn: &Connection, sql: &str, args: &[i64]) -> Result<Vec<M::Out>> {
    let mut out = Vec::new();
    Prepared::new(conn, sql)?.rows_into::<M>(rusqlite::params_from_iter(args), &mut out)?;
    Ok(out)
}

/// A statement prepared (and cached on its connection) with its column names, to run once or
/// again and again with other parameters.
pub(super) struct Prepared<'c> {
    statement: rusqlite::CachedStatement<'c>,
    /// Named once: rusqlite finds a name by asking SQLite for each column's name in turn,
    /// which for a row of 23 columns cost more than reading it.
    names: Vec<String>,
}

impl<'c> Prepared<'c> {
    pub fn new(conn: &'c Connection, sql: &str) -> Result<Self> {
        let statement = conn.prepare_cached(sql).map_err(error)?;
        let names = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        Ok(Prepared { statement, names })
    }

    /// Runs the statement with `args`, each row mapped by `M` onto `out`.
    pub fn rows_into<M: RowMap>(
        &mut self,
        args: impl rusqlite::Params,
        out: &mut Vec<M::Out>,
    ) -> Result<()> {
        let mut rows = self.statement.query(args).map_err(error)?;
        while let Some(row) = rows.next().map_err(error)? {
            out.push(M::map(&Row {
                row,
                names: &self.names,
            })?);
        }
        Ok(())
    }
}

/// A rusqlite error as sqlx's would be (`From<sqlx::Error>`): busy or locked is worth a
/// retry; a violated check refuses the values, a foreign key names a missing row, a unique
/// value a conflict.
pub(super) fn error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    let rusqlite::Error::SqliteFailure(failure, _) = &e else {
        return StoreError::Database(e.to_string());
    };
    match failure.extended_code {
        ffi::SQLITE_CONSTRAINT_CHECK => return StoreError::Invalid(e.to_string()),
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return StoreError::NotFound,
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            if let Some(c) = crate::shared::conflict_of(&e.to_string()) {
                return StoreError::Conflict(c);
            }
        }
        _ => {}
    }
    match failure.code {
        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Database(e.to_string()),
    }
}

/// A rusqlite row, read by the mappings sqlx rows are read by.
struct Row<'a> {
    row: &'a rusqlite::Row<'a>,
    names: &'a [String],
}

impl Row<'_> {
    fn get<T: rusqlite::types::FromSql>(&self, col: &str) -> Result<T> {
        let index = self
            .names
            .iter()
            .position(|n| n == col)
            .ok_or_else(|| StoreError::Database(format!("no column {col}")))?;
        self.row
            .get(index)
            .map_err(|e| StoreError::Database(format!("column {col}: {e}")))
    }
}

/// Every getter of `Cols` is the one lookup by name, typed by rusqlite.
macro_rules! getters {
    ($($get:ident, $opt:ident: $t:ty;)*) => {
        impl Cols for Row<'_> {
            $(
                fn $get(&self, col: &str) -> Result<$t> {
                    self.get(col)
                }
                fn $opt(&self, col: &str) -> Result<Option<$t>> {
                    self.get(col)
                }
            )*
        }
    };
}

getters! {
    i64, opt_i64: i64;
    i32, opt_i32: i32;
    f64, opt_f64: f64;
    bool, opt_bool: bool;
    string, opt_string: String;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Number;

    impl RowMap for Number {
        type Out = (i64, Option<String>);
        fn map(r: &impl Cols) -> Result<Self::Out> {
            Ok((r.i64("n")?, r.opt_string("name")?))
        }
    }

    fn database() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("direct.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER, name TEXT); \
             INSERT INTO t VALUES (1, 'one'), (2, NULL), (3, 'three');",
        )
        .unwrap();
        (dir, path)
    }

    #[tokio::test]
    async fn reads_rows_by_column_name_with_parameters_in_order() {
        let (_dir, path) = database();
        let readers = DirectReaders::new(path, "PRAGMA busy_timeout = 100;".into());
        let rows = readers
            .rows::<Number>(
                "SELECT name, n FROM t WHERE n >= ? AND n <= ? ORDER BY n".into(),
                vec![2, 3],
            )
            .await
            .unwrap();
        assert_eq!(rows, [(2, None), (3, Some("three".to_owned()))]);
        assert_eq!(lock(&readers.idle).len(), 1, "the connection is lent again");
    }

    #[tokio::test]
    async fn cannot_write_and_says_why() {
        let (_dir, path) = database();
        let readers = DirectReaders::new(path, String::new());
        let err = readers
            .rows::<Number>("DELETE FROM t RETURNING n, NULL AS name".into(), vec![])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Database(m) if m.contains("readonly")),
            "{err}"
        );
        assert!(
            lock(&readers.idle).is_empty(),
            "a failed connection is dropped"
        );
        let missing = readers
            .rows::<Number>("SELECT n FROM t".into(), vec![])
            .await
            .unwrap_err();
        assert!(
            matches!(&missing, StoreError::Database(m) if m.contains("no column name")),
            "{missing}"
        );
    }

    #[test]
    fn reads_one_row_by_key_here() {
        let (_dir, path) = database();
        let readers = DirectReaders::new(path, String::new());
        let by_n = "SELECT n, name FROM t WHERE n = $1";
        assert_eq!(
            readers.row_here::<Number>(by_n, Key::Int(3)).unwrap(),
            Some((3, Some("three".to_owned())))
        );
        assert_eq!(readers.row_here::<Number>(by_n, Key::Int(9)).unwrap(), None);
        let by_name = "SELECT n, name FROM t WHERE name = $1";
        assert_eq!(
            readers
                .row_here::<Number>(by_name, Key::Text("one"))
                .unwrap(),
            Some((1, Some("one".to_owned())))
        );
        assert_eq!(
            lock(&readers.idle).len(),
            1,
            "one connection, lent again each time"
        );
        for _ in 0..CONNECTIONS {
            lock(&readers.idle).push(open(&readers.path, "").unwrap());
        }
        readers.row_here::<Number>(by_n, Key::Int(1)).unwrap();
        assert_eq!(
            lock(&readers.idle).len(),
            CONNECTIONS,
            "with as many idle as the big reads may hold, the one used is not kept"
        );
    }
}
