//! SQLite, the embedded default: one file, no setup.
//!
//! SQLite allows one writer at a time, so writes go through a pool of exactly one connection
//! (they queue in the pool instead of spinning on `SQLITE_BUSY`), and reads through a few more
//! connections that WAL lets run beside the writer.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

mod checkpoint;
mod direct;
mod ingest;
pub use ingest::insert_point;
mod wal_sync;

use crate::shared::ingest::{HistoryEntry, PerTracker, HISTORY_CONFLICT, HISTORY_INTO};
use crate::shared::published::Published;
use crate::shared::tracker_cache::TrackerCache;
use crate::shared::{
    bind_ids, impl_counters, impl_store, migrations, params, value_rows, JsonRow, Migration,
    RowMap, SensorRow, IN_CHUNK, STATE_CHUNK,
};
use crate::{EncodedPoint, Result, StoreError};
use checkpoint::Checkpointer;
use direct::DirectReaders;
use ingest::DirectWriter;
use wal_sync::WalSyncer;

const MIGRATIONS: &[Migration] = migrations!("sqlite");

/// Readers beside the writer: enough to overlap a few API reads on two cores.
const READERS: u32 = 4;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Page cache per connection: negative is KiB (64 MiB).
const CACHE_SIZE: &str = "-65536";
/// Pages in the WAL (400 MiB) past which a connection checkpoints after its own commit. The
/// checkpointer beside the ingest writer (`checkpoint`) copies committed pages long before;
/// this is the backstop, and what bounds the WAL file under sustained load: beyond it the
/// writer catches the checkpoint up itself, and the WAL restarts from its start. At 10,000
/// pages the writer's checkpoints and the checkpointer's ran into each other, neither caught
/// up, and the WAL grew to 490-811 MiB in 60 s of (b) (BENCHMARKS.md).
const WAL_AUTOCHECKPOINT_PAGES: &str = "100000";
/// How long a statement waits for another process's write lock (e.g. the admin CLI).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers map the database file instead of copying each page out of the OS cache with a
/// read call: API reads of many rows visit thousands of pages (BENCHMARKS.md: p50 of the (d)
/// calls 5-15 % lower at low ingest, side by side). Address space, not memory: the pages
/// are the OS cache's. The writer is left as it was, since nothing measured it faster.
const READER_MMAP_BYTES: &str = "1073741824";
/// Rows sqlx's worker thread may queue for the reading task. Every read here collects its
/// whole result, so holding the worker back buys nothing; with sqlx's default of 50 a read of
/// 2,000 rows was 40 hand-offs between threads, each waiting for a core under ingest
/// (BENCHMARKS.md: `get_states` p50 78 and 74 ms with 50, 69 and 69 with this).
const ROW_BUFFER: usize = 8192;

/// Removes our `synchronous` parameter from a URL (sqlx does not know it) and parses it.
fn take_synchronous(url: &str) -> Result<(String, SqliteSynchronous)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), SqliteSynchronous::Full));
    };
    let mut mode = SqliteSynchronous::Full;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("synchronous", v)) => {
                mode = match v.to_ascii_lowercase().as_str() {
                    "full" => SqliteSynchronous::Full,
                    "normal" => SqliteSynchronous::Normal,
                    other => {
                        return Err(StoreError::Database(format!(
                            "synchronous={other}: use full or normal"
                        )))
                    }
                }
            }
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, mode))
}

/// The `synchronous` pragma's value for a mode we accept (`take_synchronous`).
fn synchronous_pragma(mode: SqliteSynchronous) -> &'static str {
    match mode {
        SqliteSynchronous::Normal => "NORMAL",
        SqliteSynchronous::Off => "OFF",
        SqliteSynchronous::Extra => "EXTRA",
        SqliteSynchronous::Full => "FULL",
    }
}

/// Whether ingest commits are synced by the WAL syncer: under FULL, when the database is in
/// WAL mode. A file system that refused WAL leaves no WAL file to sync; its commits then sync
/// themselves, as FULL does.
fn syncs_beside_the_writer(synchronous: SqliteSynchronous, journal_mode: &str) -> bool {
    let full = matches!(synchronous, SqliteSynchronous::Full);
    let wal = journal_mode.eq_ignore_ascii_case("wal");
    if full && !wal {
        tracing::warn!(journal_mode, "the SQLite database is not in WAL mode");
    }
    full && wal
}

/// The WAL file of the database `options` name: SQLite keeps it beside the database, named
/// with `-wal` appended. Absolute, so the syncer finds it whatever the working directory.
fn wal_path(options: &SqliteConnectOptions) -> Result<std::path::PathBuf> {
    let db = std::fs::canonicalize(options.get_filename())
        .map_err(|e| StoreError::Database(format!("{}: {e}", options.get_filename().display())))?;
    let mut wal = db.into_os_string();
    wal.push("-wal");
    Ok(wal.into())
}

/// Runs blocking work on the calling task's thread: as it is on a runtime with only that
/// thread (the ingest writer's own, a test's), and with the runtime told on a multi-threaded
/// one, so its other tasks move to another worker meanwhile.
fn on_this_thread<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Files only: an in-memory database has no WAL.
    checkpointer: Option<Checkpointer>,
    /// Files only: an in-memory database is its one connection's alone.
    direct: Option<DirectReaders>,
    /// Files only, as `direct`: ingest commits (`ingest`).
    direct_writer: Option<DirectWriter>,
    /// With `synchronous = FULL` on a file: syncs the WAL after the direct writer's commits,
    /// which do not.
    wal_sync: Option<WalSyncer>,
    /// Files only, as `direct`: the states the direct writer last committed, for the API's
    /// reads of many trackers' states.
    published: Option<Arc<Published>>,
    /// The accounts' trackers, for the API's reads of many.
    tracker_cache: TrackerCache,
}

impl SqliteStore {
    /// Opens a database by `sqlite:` URL or plain path, creating the file if missing, and
    /// applies the migrations. `sqlite::memory:` is a private in-memory database.
    ///
    /// `?synchronous=normal` (or `full`, the default) chooses how commits reach the disk.
    /// FULL syncs the WAL for every commit, so what a device was acknowledged for survives a
    /// power cut (an ingest commit's sync runs beside the next commit, `wal_sync`); NORMAL
    /// survives a crash of trackd but may lose the last commits to a power cut, for more
    /// throughput. Group commit makes each sync cover many devices.
    pub async fn open(url: &str) -> Result<Self> {
        let (url, synchronous) = take_synchronous(url)?;
        let url = url.as_str();
        let options = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Database(format!("database URL '{url}': {e}")))?
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::open_with(options, synchronous, memory).await
    }

    async fn open_with(
        options: SqliteConnectOptions,
        synchronous: SqliteSynchronous,
        memory: bool,
    ) -> Result<Self> {
        let options = options
            .synchronous(synchronous)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // A commit of points touches a leaf page per tracker; with SQLite's default 2 MiB
            // cache those pages are read back from the OS and parsed again every commit.
            .pragma("cache_size", CACHE_SIZE)
            // The default checkpoints every 1,000 pages (4 MiB), i.e. after nearly every large
            // commit, copying pages into the database file that the next commit dirties
            // again; a larger WAL copies each hot page once per checkpoint instead (see the
            // constant).
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
            .row_buffer_size(ROW_BUFFER);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT);
        let store = if memory {
            // An in-memory database lives as long as its connection: keep the one connection
            // forever and read through it too.
            let pool = writer
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            SqliteStore {
                reader: pool.clone(),
                writer: pool,
                checkpointer: None,
                direct: None,
                direct_writer: None,
                wal_sync: None,
                published: None,
                tracker_cache: TrackerCache::default(),
            }
        } else {
            // The writer connects first: it creates the file and switches it to WAL.
            let writer = writer.connect_with(options.clone()).await?;
            let reader = SqlitePoolOptions::new()
                .max_connections(READERS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone().pragma("mmap_size", READER_MMAP_BYTES))
                .await?;
            let checkpointer = Some(Checkpointer::start(options.get_filename())?);
            let direct = DirectReaders::new(
                options.get_filename().to_path_buf(),
                format!(
                    "PRAGMA busy_timeout = {}; PRAGMA cache_size = {CACHE_SIZE}; \
                     PRAGMA mmap_size = {READER_MMAP_BYTES};",
                    BUSY_TIMEOUT.as_millis()
                ),
            );
            // FULL's syncs move off the ingest commit to the WAL syncer, which is as durable
            // for what is acknowledged (`wal_sync`).
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&writer)
                .await?;
            let wal_sync = if syncs_beside_the_writer(synchronous, &journal) {
                Some(
                    WalSyncer::start(wal_path(&options)?)
                        .map_err(|e| StoreError::Database(format!("the WAL syncer: {e}")))?,
                )
            } else {
                None
            };
            let commits = if wal_sync.is_some() {
                SqliteSynchronous::Normal
            } else {
                synchronous
            };
            // Otherwise the settings of the sqlx writer's connections (above), which this one
            // stands in for during an ingest commit.
            let published = Arc::new(Published::default());
            let direct_writer = DirectWriter::new(
                published.clone(),
                options.get_filename().to_path_buf(),
                format!(
                    "PRAGMA busy_timeout = {}; PRAGMA cache_size = {CACHE_SIZE}; \
                     PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = {};",
                    BUSY_TIMEOUT.as_millis(),
                    synchronous_pragma(commits)
                ),
            );
            SqliteStore {
                writer,
                reader,
                checkpointer,
                direct: Some(direct),
                direct_writer: Some(direct_writer),
                wal_sync,
                published: Some(published),
                tracker_cache: TrackerCache::default(),
            }
        };
        store.migrate(MIGRATIONS).await?;
        Ok(store)
    }

    /// The states the direct writer publishes (a file's store; an in-memory one has no direct
    /// writer).
    fn published(&self) -> Option<&Published> {
        self.published.as_deref()
    }

    fn tracker_cache(&self) -> &TrackerCache {
        &self.tracker_cache
    }

    /// To SQLite `$n` (and `?n`) is a named parameter, and sqlx asks each parameter's name,
    /// which SQLite finds by scanning the list of names: 5,000 points took seconds to bind.
    /// A bare `?` has no name and takes the next argument, the order `bind_point` binds in.
    const NUMBERED_PARAMS: bool = false;

    /// SQLite's state rows have no version: its one writer publishes what it commits, and
    /// the other write of them withdraws it (`Published`).
    const STATE_VERSION_NOW: Option<&'static str> = None;

    /// No node: nothing counts SQLite's state writes (migration 11 is PostgreSQL's).
    fn state_node(&self) -> Option<&str> {
        None
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// `IMMEDIATE` takes the write lock at `BEGIN`: a deferred transaction that reads first
    /// could fail with `SQLITE_BUSY` when it upgrades, which no busy timeout retries.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// SQLite commits one transaction at a time: more ingest writers would only queue for
    /// its write lock.
    const INGEST_LANES: usize = 1;

    /// The ingest writer's transactions are write transactions like any other: SQLite has
    /// one writer connection.
    async fn begin_ingest(&self, _lane: crate::IngestLane) -> Result<Transaction<'static, Sqlite>> {
        self.begin_write().await
    }

    /// A read with integer parameters: on the direct readers of a file, through sqlx for an
    /// in-memory database.
    async fn rows<M: crate::shared::RowMap>(
        &self,
        sql: String,
        args: Vec<i64>,
    ) -> Result<Vec<M::Out>> {
        match &self.direct {
            Some(direct) => direct.rows::<M>(sql, args).await,
            None => self.sqlx_rows::<M>(&sql, &args).await,
        }
    }

    /// A read of one row by key (a session, a user): on a file, on the calling thread
    /// (`DirectReaders::row_here`); through sqlx in memory.
    async fn row<M: crate::shared::RowMap>(
        &self,
        sql: &str,
        key: crate::shared::Key<'_>,
    ) -> Result<Option<M::Out>> {
        match &self.direct {
            Some(direct) => direct.row_here::<M>(sql, key),
            None => self.sqlx_row::<M>(sql, key).await,
        }
    }

    /// An ingest commit: on a file, through the direct writer on this thread (see `ingest`);
    /// in memory, through sqlx.
    async fn ingest(
        &self,
        lane: crate::IngestLane,
        sorted: &[&EncodedPoint],
        config: &trackd_core::state::StateConfig,
        counters: &trackd_core::counter::CounterConfig,
    ) -> Result<(u64, crate::Durable)> {
        let Some(direct) = &self.direct_writer else {
            return self
                .ingest_through_sqlx(lane, sorted, config, counters)
                .await;
        };
        let new = {
            // The sqlx writer's one connection, held as this process's turn to write.
            let _turn = self.writer.acquire().await?;
            on_this_thread(|| {
                direct.write(|tx| {
                    ingest::run_ready(crate::shared::ingest::write_batch(
                        tx, sorted, config, counters,
                    ))
                })
            })?
        };
        let durable = match &self.wal_sync {
            Some(syncer) => syncer.after_commit(),
            None => crate::Durable::now(),
        };
        Ok((new, durable))
    }

    /// After an ingest commit: its pages are copied into the database file beside the
    /// writer (see `checkpoint`).
    fn ingest_committed(&self) {
        if let Some(c) = &self.checkpointer {
            c.request();
        }
    }

    /// Write transactions are already serial (one writer, `BEGIN IMMEDIATE`).
    async fn serialize(_tx: &mut Transaction<'static, Sqlite>, _key: i64) -> Result<()> {
        Ok(())
    }
}

impl SqliteStore {
    /// SQLite has no arrays to bind: multi-row `VALUES`, fast here since its parameters are
    /// bare `?`.
    async fn insert_points(
        tx: &mut Transaction<'_, Sqlite>,
        sorted: &[&EncodedPoint],
    ) -> Result<u64> {
        Self::insert_point_values(tx, sorted).await
    }
}

/// History rows per upsert: 7 parameters each.
const HISTORY_PER_INSERT: usize = 1000;

/// The rows of a read whose parameters are `ids`, mapped, appended to `out`.
async fn rows_into<M: RowMap>(
    tx: &mut Transaction<'_, Sqlite>,
    sql: &str,
    ids: &[i64],
    out: &mut Vec<M::Out>,
) -> Result<()> {
    for row in bind_ids(sqlx::query(sql), ids).fetch_all(&mut **tx).await? {
        out.push(M::map(&row)?);
    }
    Ok(())
}

/// How an ingest commit through sqlx (an in-memory database's) and a counter change read and
/// write their trackers' rows: `IN` lists and multi-row `VALUES` of bare `?` in chunks, since
/// SQLite has no arrays to bind. The writer is alone (one connection, `BEGIN IMMEDIATE`), so
/// rows it reads cannot change under it: nothing to lock, and no version to record.
impl SqliteStore {
    async fn json_rows_in(
        tx: &mut Transaction<'_, Sqlite>,
        table: PerTracker,
        ids: &[i64],
    ) -> Result<Vec<(i64, String)>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(STATE_CHUNK) {
            let sql = table.select_in(false, chunk.len(), " ORDER BY tracker_id");
            rows_into::<JsonRow>(tx, &sql, chunk, &mut out).await?;
        }
        Ok(out)
    }

    /// SQLite's rows have no version.
    async fn row_versions_in(
        _tx: &mut Transaction<'_, Sqlite>,
        _table: PerTracker,
        _ids: &[i64],
    ) -> Result<Option<Vec<(i64, i64)>>> {
        Ok(None)
    }

    async fn put_json_rows_in(
        tx: &mut Transaction<'_, Sqlite>,
        table: PerTracker,
        rows: &[(i64, String)],
    ) -> Result<()> {
        for chunk in rows.chunks(STATE_CHUNK) {
            let sql = format!(
                "INSERT INTO {} (tracker_id, state) VALUES {} ON CONFLICT (tracker_id) DO \
                 UPDATE SET state = excluded.state",
                table.table(),
                value_rows(false, chunk.len(), 2),
            );
            let mut q = sqlx::query(&sql);
            for (id, json) in chunk {
                q = q.bind(*id).bind(json.as_str());
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn sensors_in(
        tx: &mut Transaction<'_, Sqlite>,
        ids: &[i64],
    ) -> Result<Vec<trackd_core::sensor::Sensor>> {
        let mut sensors = Vec::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT * FROM sensors WHERE tracker_id IN ({}) ORDER BY tracker_id, id",
                params(false, 1, chunk.len())
            );
            rows_into::<SensorRow>(tx, &sql, chunk, &mut sensors).await?;
        }
        Ok(sensors)
    }

    async fn put_history_in(
        tx: &mut Transaction<'_, Sqlite>,
        rows: &[HistoryEntry<'_>],
    ) -> Result<()> {
        for chunk in rows.chunks(HISTORY_PER_INSERT) {
            let sql = format!(
                "{HISTORY_INTO}VALUES {}{HISTORY_CONFLICT}",
                value_rows(false, chunk.len(), 7),
            );
            let mut q = sqlx::query(&sql);
            for h in chunk {
                let [odometer, engine_hours, fuel] = h.row.values;
                q = q
                    .bind(h.tracker)
                    .bind(h.row.bucket)
                    .bind(h.row.time)
                    .bind(odometer)
                    .bind(engine_hours)
                    .bind(fuel)
                    .bind(h.state.as_str());
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

impl_store!(SqliteStore, Sqlite);
impl_counters!(SqliteStore, Sqlite);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::published::At;

    #[test]
    fn synchronous_parameter_is_ours() {
        let (url, mode) =
            take_synchronous("sqlite://x.db?mode=rwc&synchronous=normal").expect("parse");
        assert_eq!(
            (url.as_str(), mode),
            ("sqlite://x.db?mode=rwc", SqliteSynchronous::Normal)
        );
        let (url, mode) = take_synchronous("sqlite://x.db").expect("parse");
        assert_eq!(
            (url.as_str(), mode),
            ("sqlite://x.db", SqliteSynchronous::Full)
        );
        assert!(take_synchronous("sqlite://x.db?synchronous=off").is_err());
    }

    /// The shared SQL relies on sqlx-sqlite binding `$n` by number, not by order of appearance.
    #[tokio::test]
    async fn dollar_parameters_bind_by_number() -> Result<()> {
        let store = SqliteStore::open("sqlite::memory:").await?;
        let (a, b, c): (i64, String, i64) = sqlx::query_as("SELECT $2, $1, $2 * 10")
            .bind("one")
            .bind(2_i64)
            .fetch_one(store.reader())
            .await?;
        assert_eq!((a, b.as_str(), c), (2, "one", 20));
        Ok(())
    }

    /// A device login looks its trackers up by device ID, and registration checks a phone:
    /// each must search the partial index of live sources, not scan every tracker.
    #[tokio::test]
    async fn device_and_phone_lookups_use_the_live_indexes() -> Result<()> {
        use crate::shared::store_impl::{PHONE_IN_USE, TRACKERS_BY_DEVICE_ID};
        let store = SqliteStore::open("sqlite::memory:").await?;
        for (sql, index) in [
            (TRACKERS_BY_DEVICE_ID, "sources_live_device_id"),
            (PHONE_IN_USE, "sources_live_phone"),
        ] {
            let plan = explain(&store, sql).await?;
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{sql}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|step| step.starts_with("SCAN")),
                "{sql}: {plan:?}"
            );
        }
        Ok(())
    }

    /// The steps of SQLite's plan for `sql`, its one parameter bound.
    async fn explain(store: &SqliteStore, sql: &str) -> Result<Vec<String>> {
        use sqlx::Row;
        let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .bind("1")
            .fetch_all(store.reader())
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("detail")?))
            .collect()
    }

    fn temp_path() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db").to_string_lossy().into_owned();
        (dir, path)
    }

    #[tokio::test]
    async fn migrations_are_idempotent() -> Result<()> {
        let (_dir, path) = temp_path();
        SqliteStore::open(&path).await?;
        let store = SqliteStore::open(&format!("sqlite://{path}")).await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations")
            .fetch_one(store.reader())
            .await?;
        assert_eq!(n, MIGRATIONS.len() as i64);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.reader())
            .await?;
        assert_eq!(mode, "wal");
        Ok(())
    }

    /// The writer keeps a tracker's hot pages cached and checkpoints the WAL in large steps
    /// (see `open_with`); the settings change speed, not results (the contract suite).
    #[tokio::test]
    async fn cache_and_checkpoint_settings_apply() -> Result<()> {
        let (_dir, path) = temp_path();
        let store = SqliteStore::open(&path).await?;
        for pool in [store.writer(), store.reader()] {
            let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(pool)
                .await?;
            let checkpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                .fetch_one(pool)
                .await?;
            assert_eq!(
                (cache.to_string(), checkpoint.to_string()),
                (CACHE_SIZE.to_owned(), WAL_AUTOCHECKPOINT_PAGES.to_owned())
            );
        }
        let mmap = |pool| sqlx::query_scalar::<_, i64>("PRAGMA mmap_size").fetch_one(pool);
        assert_eq!(mmap(store.reader()).await?.to_string(), READER_MMAP_BYTES);
        assert_eq!(mmap(store.writer()).await?, 0);
        Ok(())
    }

    /// A database from before migration 7 (points clustered by key, WITHOUT ROWID) keeps
    /// every point through the move to arrival order, and the key still refuses a repeat.
    #[tokio::test]
    async fn points_survive_the_move_to_arrival_order() -> Result<()> {
        let (_dir, path) = temp_path();
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let old = SqliteStore {
            writer: pool.clone(),
            reader: pool,
            checkpointer: None,
            direct: None,
            direct_writer: None,
            wal_sync: None,
            published: None,
            tracker_cache: TrackerCache::default(),
        };
        let before: Vec<Migration> = MIGRATIONS
            .iter()
            .filter(|m| m.version < 7)
            .cloned()
            .collect();
        old.migrate(&before).await?;
        let insert = "INSERT INTO points (tracker_id, time, received_at, io, alarms, buffered) \
                      VALUES ($1, $2, $3, '{}', '[]', 0)";
        for (tracker, time) in [(2_i64, 20_i64), (1, 30), (1, 10), (2, 5)] {
            sqlx::query(insert)
                .bind(tracker)
                .bind(time)
                .bind(time + 1)
                .execute(old.writer())
                .await?;
        }
        old.writer.close().await;

        let store = SqliteStore::open(&path).await?;
        let rows: Vec<(i64, i64, i64)> =
            sqlx::query_as("SELECT tracker_id, time, received_at FROM points ORDER BY rowid")
                .fetch_all(store.reader())
                .await?;
        assert_eq!(rows, [(1, 10, 11), (1, 30, 31), (2, 5, 6), (2, 20, 21)]);
        let table: String =
            sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'points'")
                .fetch_one(store.reader())
                .await?;
        assert!(!table.contains("WITHOUT ROWID"), "{table}");
        let repeat = sqlx::query(&format!(
            "{insert} ON CONFLICT (tracker_id, time) DO NOTHING"
        ))
        .bind(1_i64)
        .bind(30_i64)
        .bind(99_i64)
        .execute(store.writer())
        .await?;
        assert_eq!(repeat.rows_affected(), 0);
        Ok(())
    }

    /// An ingest commit far below `wal_autocheckpoint` still reaches the database file: the
    /// checkpointer copies it there beside the writer.
    #[tokio::test]
    async fn ingest_commits_are_checkpointed_beside_the_writer() -> Result<()> {
        use crate::States;
        use trackd_core::counter::CounterConfig;
        use trackd_core::point::Point;
        use trackd_core::state::StateConfig;
        use trackd_core::TrackerId;

        let (_dir, path) = temp_path();
        let store = SqliteStore::open(&path).await?;
        let file_len = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let before = file_len();
        let points: Vec<Point> = (0..2_000)
            .map(|i| Point::empty(TrackerId(1 + i % 50), 1_700_000_000_000 + i, 0))
            .collect();
        let stored = store
            .store_points_and_states(&points, &StateConfig::default(), &CounterConfig::default())
            .await?;
        assert_eq!(stored, 2_000);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while file_len() <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file stayed at {before} bytes"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// Ingest commits (the direct writer, blocking its thread) and other writes (the sqlx
    /// writer) take turns: on a multi-threaded runtime, all of them land.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ingest_and_other_writes_take_turns() -> Result<()> {
        use crate::{Points, States, Trackers};
        use trackd_core::counter::CounterConfig;
        use trackd_core::point::Point;
        use trackd_core::state::StateConfig;
        use trackd_core::TrackerId;

        let (_dir, path) = temp_path();
        let store = std::sync::Arc::new(SqliteStore::open(&path).await?);
        let ingest = {
            let store = store.clone();
            tokio::spawn(async move {
                for batch in 0..20_i64 {
                    let points: Vec<Point> = (0..100)
                        .map(|i| Point::empty(TrackerId(1 + i % 10), batch * 1_000 + i, 0))
                        .collect();
                    store
                        .store_points_and_states(
                            &points,
                            &StateConfig::default(),
                            &CounterConfig::default(),
                        )
                        .await?;
                }
                Ok::<_, StoreError>(())
            })
        };
        for i in 0..20 {
            store.set_setting(&format!("k{i}"), Some("v")).await?;
        }
        ingest
            .await
            .map_err(|e| StoreError::Database(e.to_string()))??;
        let mut stored = 0;
        for t in 1..=10 {
            stored += store.count_points(TrackerId(t)).await?;
        }
        assert_eq!(stored, 2_000);
        for i in 0..20 {
            assert_eq!(store.setting(&format!("k{i}")).await?.as_deref(), Some("v"));
        }
        Ok(())
    }

    /// An ingest commit under the default rules.
    async fn ingest_with_defaults(
        store: &SqliteStore,
        points: Vec<trackd_core::point::Point>,
    ) -> Result<u64> {
        use crate::States;
        let state = trackd_core::state::StateConfig::default();
        let counters = trackd_core::counter::CounterConfig::default();
        store
            .store_points_and_states(&points, &state, &counters)
            .await
    }

    /// The direct writer keeps the states its commits wrote; another connection's commit
    /// (here the sqlx writer's, as an API write would be) makes it read them again, and a
    /// commit that fails leaves nothing of its own behind.
    #[tokio::test]
    async fn kept_states_follow_other_writes_and_failed_commits() -> Result<()> {
        use crate::States;
        use trackd_core::point::Point;
        use trackd_core::TrackerId;

        let (_dir, path) = temp_path();
        let store = SqliteStore::open(&path).await?;
        let ingest = |points: Vec<Point>| ingest_with_defaults(&store, points);
        let first_update = || async {
            Ok::<_, StoreError>(store.states(&[TrackerId(1)]).await?[&TrackerId(1)].first_update)
        };
        ingest(vec![Point::empty(TrackerId(1), 1_000, 0)]).await?;
        ingest(vec![Point::empty(TrackerId(1), 2_000, 0)]).await?;
        assert_eq!(first_update().await?, Some(1_000));

        // Written by another connection: the next commit must start from it.
        sqlx::query("UPDATE tracker_state SET state = '{\"first_update\": 500}'")
            .execute(store.writer())
            .await?;
        ingest(vec![Point::empty(TrackerId(1), 3_000, 0)]).await?;
        assert_eq!(first_update().await?, Some(500));

        // Refused inside the transaction, after the state was taken: the next commit reads
        // the stored one.
        let bad = Point {
            battery_level: Some(101),
            ..Point::empty(TrackerId(1), 4_000, 0)
        };
        let refused = ingest(vec![bad]).await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{refused:?}"
        );
        ingest(vec![Point::empty(TrackerId(1), 5_000, 0)]).await?;
        let state = &store.states(&[TrackerId(1)]).await?[&TrackerId(1)];
        assert_eq!(
            (state.first_update, state.last_update),
            (Some(500), Some(5_000))
        );
        Ok(())
    }

    /// What the direct writer commits is published for the API's reads, as the rows have
    /// it; a refused commit publishes nothing; an in-memory store publishes nothing at all.
    #[tokio::test]
    async fn ingest_publishes_what_it_committed() -> Result<()> {
        use crate::{Counters, States};
        use trackd_core::point::Point;
        use trackd_core::TrackerId;

        let (_dir, path) = temp_path();
        let store = SqliteStore::open(&path).await?;
        let ingest = |points: Vec<Point>| ingest_with_defaults(&store, points);
        ingest(vec![
            Point::empty(TrackerId(1), 1_000, 0),
            Point::empty(TrackerId(1), 2_000, 0),
            Point::empty(TrackerId(2), 1_500, 0),
        ])
        .await?;
        let published = store.published().expect("a file's store publishes");
        let ids = [TrackerId(1), TrackerId(2)];
        let (states, missing) = published.states(&[(1, At::Any), (2, At::Any), (3, At::Any)]);
        assert_eq!(missing, [3], "tracker 3 sent nothing");
        let stored = store.states(&ids).await?;
        for id in ids {
            assert_eq!(*states[&id.0], stored[&id], "{id:?}");
        }
        let (counters, _) = published.counters(&[(1, At::Any), (2, At::Any)]);
        let stored = store.counter_states(&ids).await?;
        for id in ids {
            assert_eq!(*counters[&id.0], stored[&id], "{id:?}");
        }

        let bad = Point {
            battery_level: Some(101),
            ..Point::empty(TrackerId(1), 4_000, 0)
        };
        assert!(ingest(vec![Point::empty(TrackerId(2), 3_000, 0), bad])
            .await
            .is_err());
        let (after, _) = published.states(&[(1, At::Any), (2, At::Any)]);
        assert_eq!(after, states, "nothing of the refused commit");

        let memory = SqliteStore::open("sqlite::memory:").await?;
        assert!(memory.published().is_none());
        Ok(())
    }

    #[test]
    fn only_full_commits_in_wal_mode_are_synced_beside_the_writer() {
        assert!(syncs_beside_the_writer(SqliteSynchronous::Full, "wal"));
        assert!(syncs_beside_the_writer(SqliteSynchronous::Full, "WAL"));
        assert!(!syncs_beside_the_writer(SqliteSynchronous::Full, "delete"));
        assert!(!syncs_beside_the_writer(SqliteSynchronous::Normal, "wal"));
    }

    /// Under FULL the WAL syncer makes ingest commits durable after they return; under
    /// NORMAL, chosen for speed over a power cut, nothing syncs them; in memory there is no
    /// file to sync.
    #[tokio::test]
    async fn the_wal_is_synced_after_ingest_commits_under_full_only() -> Result<()> {
        let (_dir, path) = temp_path();
        assert!(SqliteStore::open(&path).await?.wal_sync.is_some());
        let normal = format!("sqlite://{path}?synchronous=normal");
        assert!(SqliteStore::open(&normal).await?.wal_sync.is_none());
        assert!(SqliteStore::open("sqlite::memory:")
            .await?
            .wal_sync
            .is_none());
        Ok(())
    }

    #[tokio::test]
    async fn refuses_a_newer_schema() -> Result<()> {
        let (_dir, path) = temp_path();
        let store = SqliteStore::open(&path).await?;
        sqlx::query("INSERT INTO schema_migrations VALUES (9999, 'future', 0)")
            .execute(store.writer())
            .await?;
        drop(store);
        assert!(matches!(
            SqliteStore::open(&path).await,
            Err(StoreError::Database(m)) if m.contains("9999")
        ));
        Ok(())
    }
}
