//! The direct writer: an ingest commit on a file steps SQLite on the caller's thread through a
//! read-write rusqlite connection of its own, one prepared statement a row.
//!
//! Through sqlx every statement was a round trip to sqlx's worker thread, and a batch of
//! points went in as multi-row statements of 1,260 points whose values sqlx copies one by one:
//! the same 600,000 rows went in at 190-208k rows/s that way and at 321-383k through a
//! prepared rusqlite statement (BENCHMARKS.md). The caller is the ingest writer, on a thread
//! and runtime of its own that does nothing else while it commits.
//!
//! The live states and counter states a commit writes are kept parsed (`LiveStates`) for the
//! next commit of the same trackers, which then neither reads nor parses them. They stay
//! exact while no other connection commits: SQLite's `data_version` says when one did, and
//! the kept states are dropped then.
//!
//! The store's sqlx writer is still the one way in for every other write. While a direct
//! commit runs it holds that pool's one connection (`SqliteStore::ingest`): in this process
//! writers take turns in the pool's queue, and never meet SQLite's busy handler, which polls
//! and could starve a rare API write between back-to-back commits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use trackd_core::counter::{CounterState, Event};
use trackd_core::point::Point;
use trackd_core::sensor::Sensor;
use trackd_core::state::TrackerState;

use super::direct::{error, Prepared};
use crate::shared::counting::parse_counter_state;
use crate::shared::ingest::{self, HistoryEntry, IngestTx, PerTracker, Written};
use crate::shared::published::Published;
use crate::shared::store_impl::POINT_COLUMNS;
use crate::shared::WholePoint;
use crate::shared::{self, store_impl::point_columns, EventRow, JsonRow, PointRow, SensorRow};
use crate::{EncodedPoint, Result, StoreError};

/// Statements the writer keeps prepared: the ingest commit uses about a dozen.
const STATEMENT_CACHE: usize = 32;
/// Trackers whose states are kept at most: about 3 KiB each with its counters (29 MiB more
/// for 10,000 trackers, measured), so at most about 60 MiB. A larger fleet has the rest read
/// from the database each commit, as before.
const LIVE_STATES: usize = 20_000;

/// The states the last commits wrote, parsed, as of a `data_version`.
#[derive(Default)]
struct LiveStates {
    /// `data_version` when they were last known to be the database's.
    version: Option<i64>,
    states: HashMap<i64, TrackerState>,
    counters: HashMap<i64, CounterState>,
}

impl LiveStates {
    /// Keeps what a commit wrote, once it is committed.
    fn keep(&mut self, written: Written) {
        for (id, state) in written.states {
            if self.states.len() < LIVE_STATES {
                self.states.insert(id, state);
            }
        }
        for (id, state) in written.counters {
            if self.counters.len() < LIVE_STATES {
                self.counters.insert(id, state);
            }
        }
    }
}

/// The connection with the states its commits wrote.
struct Writer {
    conn: Connection,
    live: LiveStates,
}

/// A read-write connection to a database file for ingest commits, opened at the first.
pub(super) struct DirectWriter {
    /// Where each commit's states are published once it is committed.
    published: Arc<Published>,
    path: PathBuf,
    settings: String,
    /// `None` before the first commit, and after a commit that left the connection in a
    /// transaction it could not roll back.
    conn: Mutex<Option<Writer>>,
}

impl DirectWriter {
    /// A writer of the file at `path`, set up by the `settings` (`PRAGMA` statements) when
    /// it opens.
    pub fn new(published: Arc<Published>, path: PathBuf, settings: String) -> Self {
        DirectWriter {
            published,
            path,
            settings,
            conn: Mutex::new(None),
        }
    }

    /// Runs `work` in one `IMMEDIATE` transaction and commits it; on an error nothing of it
    /// is stored. Blocks the calling thread for the whole commit.
    pub fn write<T>(&self, work: impl FnOnce(&mut DirectTx<'_>) -> Result<T>) -> Result<T> {
        let mut slot = lock(&self.conn);
        let mut writer = match slot.take() {
            Some(writer) => writer,
            None => Writer {
                conn: open(&self.path, &self.settings)?,
                live: LiveStates::default(),
            },
        };
        let result = transaction(&mut writer.conn, &mut writer.live, &self.published, work);
        // Dropping a failed transaction rolls it back; a connection still inside one cannot
        // serve the next commit.
        if writer.conn.is_autocommit() {
            *slot = Some(writer);
        }
        result
    }
}

fn open(path: &Path, settings: &str) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(error)?;
    conn.execute_batch(settings).map_err(error)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn transaction<T>(
    conn: &mut Connection,
    live: &mut LiveStates,
    published: &Published,
    work: impl FnOnce(&mut DirectTx<'_>) -> Result<T>,
) -> Result<T> {
    // IMMEDIATE takes the write lock at BEGIN, as the sqlx writer's transactions do: another
    // process's writer (the admin CLI) is waited for there, by the busy timeout.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(error)?;
    // Read under the write lock, so no other commit can come between it and this one. Any
    // other connection's commit (an API write, another process) may have changed a state.
    let version: i64 = tx
        .query_row("PRAGMA data_version", [], |r| r.get(0))
        .map_err(error)?;
    if live.version != Some(version) {
        *live = LiveStates {
            version: Some(version),
            ..LiveStates::default()
        };
    }
    // Only `Counters::change_counter` writes these rows besides this writer, and it
    // invalidates its tracker; a commit that began before that does not publish it.
    let began = published.generation();
    let mut direct = DirectTx {
        tx,
        live,
        written: Written::default(),
    };
    let out = work(&mut direct)?;
    let DirectTx { tx, live, written } = direct;
    tx.commit().map_err(error)?;
    published.commit(
        began,
        written.states.iter().map(|(id, s)| (*id, s)),
        written.counters.iter().map(|(id, s)| (*id, s)),
    );
    // The states this commit took from `live` went with a failure above; now it stands,
    // what it wrote is theirs.
    live.keep(written);
    Ok(out)
}

/// An open direct transaction. Its `IngestTx` methods do their work before they return a
/// future, so the futures of `ingest::write_batch` over it never wait (`run_ready`).
pub(super) struct DirectTx<'c> {
    tx: rusqlite::Transaction<'c>,
    /// States taken from here are the transaction's; they come back by `written` if it
    /// commits.
    live: &'c mut LiveStates,
    written: Written,
}

/// Runs a future that cannot wait to its end on this thread: one over a `DirectTx`.
pub(super) fn run_ready<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => Err(StoreError::Database(
            "a direct write waited, which it cannot".into(),
        )),
    }
}

impl DirectTx<'_> {
    fn insert_points(&self, sorted: &[&EncodedPoint]) -> Result<u64> {
        let sql = format!(
            concat!(
                "INSERT INTO points (",
                point_columns!(),
                ") VALUES {} ON CONFLICT (tracker_id, time) DO NOTHING"
            ),
            shared::value_rows(false, 1, POINT_COLUMNS)
        );
        let mut statement = self.tx.prepare_cached(&sql).map_err(error)?;
        sorted.iter().try_fold(0, |new, p| {
            Ok(new + insert_point(&mut statement, &PointRow::of(p))?)
        })
    }

    /// The rows of a prepared read, once for each parameter set.
    fn rows_each<M: shared::RowMap, const N: usize>(
        &self,
        sql: &str,
        args: impl IntoIterator<Item = [i64; N]>,
    ) -> Result<Vec<M::Out>> {
        let mut prepared = Prepared::new(&self.tx, sql)?;
        let mut out = Vec::new();
        for a in args {
            prepared.rows_into::<M>(rusqlite::params_from_iter(a), &mut out)?;
        }
        Ok(out)
    }

    /// Writes parsed states by their JSON; returns the parsed ones, to keep once committed.
    fn put_parsed<S>(
        &self,
        table: PerTracker,
        states: Vec<(i64, S, String)>,
    ) -> Result<impl Iterator<Item = (i64, S)>> {
        let rows = states.iter().map(|(id, _, json)| (id, json.as_str()));
        self.execute_each(&put_json_sql(table), rows)?;
        Ok(states.into_iter().map(|(id, state, _)| (id, state)))
    }

    /// Runs a prepared write once for each parameter set.
    fn execute_each<P: rusqlite::Params>(
        &self,
        sql: &str,
        args: impl IntoIterator<Item = P>,
    ) -> Result<()> {
        let mut statement = self.tx.prepare_cached(sql).map_err(error)?;
        for a in args {
            statement.execute(a).map_err(error)?;
        }
        Ok(())
    }
}

impl IngestTx for DirectTx<'_> {
    async fn json_rows(&mut self, table: PerTracker, ids: &[i64]) -> Result<Vec<(i64, String)>> {
        // One search a tracker, through one prepared statement: no SQL the length of the
        // batch to parse, and in the tracker order asked.
        let sql = format!(
            "SELECT tracker_id, state FROM {} WHERE tracker_id = $1",
            table.table()
        );
        self.rows_each::<JsonRow, 1>(&sql, ids.iter().map(|id| [*id]))
    }

    async fn put_json_rows(&mut self, table: PerTracker, rows: &[(i64, String)]) -> Result<()> {
        let sql = put_json_sql(table);
        self.execute_each(&sql, rows.iter().map(|(id, json)| (id, json.as_str())))
    }

    /// SQLite's rows have no version; this writer keeps the states it wrote itself.
    async fn row_versions(
        &mut self,
        _table: PerTracker,
        _ids: &[i64],
    ) -> Result<Option<Vec<(i64, i64)>>> {
        Ok(None)
    }

    /// One after the other, on this thread: a thread making the rows (their readings and
    /// alarms into JSON) and running `side` beside the inserts measured no faster (83-86k
    /// records/s against 86-92k in (b) with 1,000 connections, alternating).
    async fn insert_points_while<R: Send, F: FnOnce() -> Result<R> + Send>(
        &mut self,
        sorted: &[&EncodedPoint],
        side: F,
    ) -> (Result<u64>, Result<R>) {
        (self.insert_points(sorted), side())
    }

    /// Those kept from the last commits without reading; the rest read and parsed.
    async fn states(&mut self, ids: &[i64]) -> Result<HashMap<i64, TrackerState>> {
        let (mut out, missing) = take_kept(&mut self.live.states, ids);
        let rows = self.json_rows(PerTracker::State, &missing).await?;
        out.extend(ingest::parsed(rows, shared::parse_state));
        Ok(out)
    }

    async fn put_states(&mut self, states: Vec<(i64, TrackerState, String)>) -> Result<()> {
        let kept = self.put_parsed(PerTracker::State, states)?;
        self.written.states.extend(kept);
        Ok(())
    }

    /// Those kept from the last commits without reading; the rest read and parsed.
    async fn counter_states(&mut self, ids: &[i64]) -> Result<HashMap<i64, Option<CounterState>>> {
        let (kept, missing) = take_kept(&mut self.live.counters, ids);
        let mut out: HashMap<i64, Option<CounterState>> = kept
            .into_iter()
            .map(|(id, state)| (id, Some(state)))
            .collect();
        let rows = self.json_rows(PerTracker::Counters, &missing).await?;
        out.extend(ingest::parsed(rows, parse_counter_state));
        Ok(out)
    }

    async fn put_counter_states(&mut self, states: Vec<(i64, CounterState, String)>) -> Result<()> {
        let kept = self.put_parsed(PerTracker::Counters, states)?;
        self.written.counters.extend(kept);
        Ok(())
    }

    async fn sensors(&mut self, ids: &[i64]) -> Result<Vec<Sensor>> {
        self.rows_each::<SensorRow, 1>(ingest::SENSORS_OF, ids.iter().map(|id| [*id]))
    }

    async fn checkpoint_before(&mut self, tracker: i64, time: i64) -> Result<Option<String>> {
        let mut statement = self
            .tx
            .prepare_cached(ingest::CHECKPOINT_BEFORE)
            .map_err(error)?;
        let mut rows = statement.query([tracker, time]).map_err(error)?;
        match rows.next().map_err(error)? {
            Some(row) => Ok(Some(row.get("state").map_err(error)?)),
            None => Ok(None),
        }
    }

    async fn points_after(&mut self, tracker: i64, after: i64) -> Result<Vec<Point>> {
        self.rows_each::<WholePoint, 2>(ingest::POINTS_AFTER, [[tracker, after]])
    }

    async fn events_from(&mut self, tracker: i64, from: i64) -> Result<Vec<Event>> {
        self.rows_each::<EventRow, 2>(ingest::EVENTS_FROM, [[tracker, from]])
    }

    async fn put_history(&mut self, rows: &[HistoryEntry<'_>]) -> Result<()> {
        let sql = format!(
            "{}VALUES ($1, $2, $3, $4, $5, $6, $7){}",
            ingest::HISTORY_INTO,
            ingest::HISTORY_CONFLICT
        );
        let args = rows.iter().map(|h| {
            let [odometer, engine_hours, fuel] = h.row.values;
            (
                h.tracker,
                h.row.bucket,
                h.row.time,
                odometer,
                engine_hours,
                fuel,
                h.state.as_str(),
            )
        });
        self.execute_each(&sql, args)
    }
}

/// Takes the states of `ids` that are kept out of `kept`; returns them and the IDs of the
/// others, to be read.
fn take_kept<S>(kept: &mut HashMap<i64, S>, ids: &[i64]) -> (HashMap<i64, S>, Vec<i64>) {
    let mut found = HashMap::with_capacity(ids.len());
    let mut missing = Vec::new();
    for &id in ids {
        match kept.remove(&id) {
            Some(state) => {
                found.insert(id, state);
            }
            None => missing.push(id),
        }
    }
    (found, missing)
}

/// An upsert of one row of a per-tracker JSON table.
fn put_json_sql(table: PerTracker) -> String {
    format!(
        "INSERT INTO {} (tracker_id, state) VALUES ($1, $2) ON CONFLICT (tracker_id) DO UPDATE \
         SET state = excluded.state",
        table.table()
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Inserts one point through a prepared `INSERT` of the columns of `point_columns!`, its
/// values bound in that order, as the ingest writer does (the raw-insert benchmark too);
/// returns whether it was new.
pub fn insert_point(statement: &mut rusqlite::Statement<'_>, r: &PointRow<'_>) -> Result<u64> {
    let changed = statement
        .execute(rusqlite::params![
            r.tracker_id,
            r.time,
            r.received_at,
            r.lat,
            r.lng,
            r.altitude,
            r.speed,
            r.heading,
            r.satellites,
            r.hdop,
            r.valid,
            r.lbs,
            r.ignition,
            r.motion,
            r.battery_level,
            r.inputs,
            r.outputs,
            r.gsm_signal,
            r.mcc,
            r.mnc,
            r.lac,
            r.cell_id,
            r.hardware_key,
            r.io,
            r.alarms,
            r.buffered,
        ])
        .map_err(error)?;
    Ok(changed as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writer.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE parent (id INTEGER PRIMARY KEY); \
                 CREATE TABLE t (n INTEGER CHECK (n > 0), parent INTEGER REFERENCES parent (id));",
            )
            .unwrap();
        (dir, path)
    }

    fn count(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    fn insert(tx: &DirectTx<'_>, n: i64) -> Result<()> {
        tx.tx
            .execute("INSERT INTO t (n) VALUES (?)", [n])
            .map(drop)
            .map_err(error)
    }

    #[test]
    fn a_failed_commit_stores_nothing_and_the_next_one_goes_on() {
        let (_dir, path) = database();
        let writer = DirectWriter::new(
            Default::default(),
            path.clone(),
            "PRAGMA foreign_keys = ON;".into(),
        );
        let refused = writer.write(|tx| {
            insert(tx, 1)?;
            insert(tx, -1)
        });
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{refused:?}"
        );
        assert_eq!(
            count(&path),
            0,
            "the first row was rolled back with the second"
        );
        assert!(lock(&writer.conn).is_some(), "the connection is kept");

        let missing = writer.write(|tx| {
            tx.tx
                .execute("INSERT INTO t (n, parent) VALUES (1, 7)", [])
                .map_err(error)
        });
        assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

        writer.write(|tx| insert(tx, 2)).unwrap();
        assert_eq!(count(&path), 1);
    }

    #[test]
    fn another_writer_holding_the_lock_is_worth_a_retry() {
        let (_dir, path) = database();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let writer = DirectWriter::new(
            Default::default(),
            path.clone(),
            "PRAGMA busy_timeout = 0;".into(),
        );
        let busy = writer.write(|tx| insert(tx, 1));
        assert!(matches!(busy, Err(StoreError::Unavailable(_))), "{busy:?}");
        other.execute_batch("COMMIT").unwrap();
        writer.write(|tx| insert(tx, 1)).unwrap();
        assert_eq!(count(&path), 1);
    }

    #[test]
    fn a_future_that_would_wait_is_refused() {
        let ready = run_ready(async { Ok(5) });
        assert_eq!(ready.unwrap(), 5);
        let waits = run_ready(async {
            std::future::pending::<()>().await;
            Ok(())
        });
        assert!(matches!(waits, Err(StoreError::Database(_))), "{waits:?}");
    }
}
