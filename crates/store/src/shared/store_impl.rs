//! The trait implementations, written once for both backends.
//!
//! `impl_store!(Store, Database)` expands to `impl Users`, `impl Trackers`, `impl Points` and
//! `impl Sensors` (and the migration runner) for a store type. The SQL is the dialect both SQLite and
//! PostgreSQL speak: `$n` parameters, `RETURNING`, `ON CONFLICT ... DO UPDATE` and
//! `DO NOTHING`, `TRUE`/`FALSE`, `INSERT ... SELECT`.
//! What differs lives in each backend as inherent methods the body calls:
//!
//! - `reader()` / `writer()`: the pools for reads and for writes (one pool on PostgreSQL; on
//!   SQLite a single-connection writer and several WAL readers);
//! - `begin_write()`: a write transaction (SQLite takes the write lock up front, so a
//!   read-then-write transaction never fails on lock upgrade); `begin_ingest(lane)`: an ingest
//!   writer's (on PostgreSQL from the lane's own connection, see `PgStore`), and `ingest()`,
//!   the ingest commit itself (`shared::ingest` over a sqlx transaction, or on a SQLite
//!   file over the direct writer, `sqlite::ingest`);
//! - `INGEST_LANES`: how many ingest writers may commit at once (`States::ingest_lanes`);
//! - `NUMBERED_PARAMS`: whether the multi-row `INSERT` of points numbers its thousands of
//!   parameters (`$n`, all PostgreSQL knows) or leaves them bare (`?`, fast on SQLite);
//! - `json_rows_in`, `put_json_rows_in`, `row_versions_in`, `sensors_in`, `put_history_in`:
//!   how an ingest commit through sqlx (or a counter change) reads and writes its trackers'
//!   rows: with their IDs and values as arrays on PostgreSQL, as `IN` lists and multi-row
//!   `VALUES` on SQLite, which has no arrays to bind (nor versions);
//! - `serialize(&mut tx, key)`: makes transactions with the same key run one at a time (a
//!   transaction-scoped advisory lock on PostgreSQL; nothing to do on SQLite, whose write
//!   transactions are already serial).

/// Advisory-lock keys for [`serialize`](crate::postgres::PgStore): any fixed, distinct numbers.
pub(crate) const LOCK_MIGRATIONS: i64 = 0x7472_6163_6b64_0001;
/// Registrations: the device-limit count and the insert must not interleave.
pub(crate) const LOCK_REGISTRATION: i64 = 0x7472_6163_6b64_0002;

/// The columns `tracker_from_row` reads, from `trackers t JOIN sources s`.
macro_rules! tracker_select {
    () => {
        "SELECT t.id, t.user_id, t.label, t.group_id, t.clone, \
         t.deleted, t.avatar_file_name, s.id AS source_id, \
         s.device_id, s.model, s.phone, s.apn_name, s.apn_user, \
         s.apn_password, s.blocked, s.tariff_id, s.tariff_end_date, \
         s.status_listing_id, s.creation_date, s.corrupted, \
         s.register_commands_pending, s.replaced_at FROM trackers t \
         JOIN sources s ON s.id = t.source_id "
    };
}
pub(crate) use tracker_select;

/// A device's live trackers: every device login asks. `NOT corrupted` is the condition of
/// the partial index of live device IDs, which each backend uses only when the query repeats
/// it (a test on SQLite checks the plan).
pub(crate) const TRACKERS_BY_DEVICE_ID: &str = concat!(
    tracker_select!(),
    "WHERE s.device_id = $1 AND NOT s.corrupted AND NOT t.deleted ORDER BY t.id"
);

/// Whether a live source has the phone: by the partial index of live phones, as above.
pub(crate) const PHONE_IN_USE: &str =
    "SELECT id FROM sources WHERE phone = $1 AND NOT corrupted LIMIT 1";

/// The columns of `points`, in the order `bind_point` binds them and `point_from_row` needs.
macro_rules! point_columns {
    () => {
        "tracker_id, time, received_at, lat, lng, altitude, speed, heading, satellites, hdop, \
         valid, lbs, ignition, motion, battery_level, inputs, outputs, gsm_signal, mcc, mnc, \
         lac, cell_id, hardware_key, io, alarms, buffered"
    };
}
pub(crate) use point_columns;

/// The columns of a point a track is drawn from (`Points::track_points`). PostgreSQL's key
/// index carries them (migration 13): one added here must be added there, or every track is
/// read from the heap again (`postgres::tests`).
macro_rules! track_point_columns {
    () => {
        "time, lat, lng, altitude, speed, heading, satellites, valid, lbs, alarms, buffered"
    };
}

/// What follows the column list of a read of a tracker's points by time range.
macro_rules! point_range_sql {
    () => {
        " FROM points WHERE tracker_id = $1 AND time >= $2 AND time <= $3 ORDER BY time LIMIT $4"
    };
}
pub(crate) use point_range_sql;

/// `track_points`' read: on PostgreSQL from the key index alone once vacuumed (migration 13).
pub(crate) const TRACK_POINTS_SQL: &str =
    concat!("SELECT ", track_point_columns!(), point_range_sql!());

/// The columns of a sensor's definition, in the order `bind_sensor` binds them.
macro_rules! sensor_columns {
    () => {
        "kind, sensor_type, name, input_name, input_number, divider, accuracy, units, \
         units_type, group_type, custom_field_name, parameters"
    };
}
pub(crate) use sensor_columns;

/// Parameters one statement may carry: SQLite's limit (PostgreSQL allows 65535).
const MAX_PARAMS: usize = 32766;
pub(crate) const POINT_COLUMNS: usize = super::column_count(point_columns!());
/// Points per `INSERT`: as many as the parameter limit allows, since each statement costs a
/// parse and a round trip.
pub(crate) const POINTS_PER_INSERT: usize = MAX_PARAMS / POINT_COLUMNS;

macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row as _;
            use trackd_core::account::{NewUser, Session, SessionKind, User};
            use trackd_core::point::Point;
            use trackd_core::sensor::{CalibrationPoint, Kind, Sensor, SensorDef, SensorId};
            use trackd_core::tracker::{
                ActivationCode, Bundle, Group, NewTracker, Replacement, Tag, TagBinding, Tracker,
            };
            use trackd_core::{GroupId, Rights, TagId, TrackerId, UserId};

            use std::collections::HashMap;

            use trackd_core::state::{StateConfig, TrackerState};

            use $crate::shared::ingest::{self, HistoryEntry, IngestTx, PerTracker};
            use $crate::shared::published::At;
            use $crate::shared::store_impl::{
                point_columns, point_range_sql, sensor_columns, tracker_select, LOCK_MIGRATIONS,
                LOCK_REGISTRATION, POINTS_PER_INSERT, POINT_COLUMNS,
            };
            use $crate::shared::{self, bind_ids, Migration, IN_CHUNK, STATE_CHUNK};
            use $crate::traits::{Points, Registration, Sensors, States, Trackers, Users};
            use $crate::{EncodedPoint, Result, StoreError};

            /// `NotFound` when a change touched no row.
            fn changed(rows: u64) -> Result<()> {
                if rows == 0 {
                    Err(StoreError::NotFound)
                } else {
                    Ok(())
                }
            }

            type Query<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>;

            /// The parameters of `point_range_sql!()`.
            fn range_args(tracker: TrackerId, from: i64, to: i64, limit: u32) -> Vec<i64> {
                vec![tracker.0, from, to, i64::from(limit)]
            }

            /// Binds one point's values in the order of `point_columns!`.
            fn bind_point<'q>(q: Query<'q>, p: &'q EncodedPoint) -> Query<'q> {
                let r = shared::PointRow::of(p);
                q.bind(r.tracker_id)
                    .bind(r.time)
                    .bind(r.received_at)
                    .bind(r.lat)
                    .bind(r.lng)
                    .bind(r.altitude)
                    .bind(r.speed)
                    .bind(r.heading)
                    .bind(r.satellites)
                    .bind(r.hdop)
                    .bind(r.valid)
                    .bind(r.lbs)
                    .bind(r.ignition)
                    .bind(r.motion)
                    .bind(r.battery_level)
                    .bind(r.inputs)
                    .bind(r.outputs)
                    .bind(r.gsm_signal)
                    .bind(r.mcc)
                    .bind(r.mnc)
                    .bind(r.lac)
                    .bind(r.cell_id)
                    .bind(r.hardware_key)
                    .bind(r.io)
                    .bind(r.alarms)
                    .bind(r.buffered)
            }

            /// Binds a sensor definition in the order of `sensor_columns!`; what the kind
            /// does not have is NULL.
            fn bind_sensor<'q>(q: Query<'q>, def: &'q SensorDef) -> Result<Query<'q>> {
                let json =
                    |e: serde_json::Error| StoreError::Invalid(format!("sensor parameters: {e}"));
                let (metering, input_number, custom_field_name, parameters) = match &def.kind {
                    Kind::Metering(m) => {
                        let p = m.parameters.as_ref().map(serde_json::to_string).transpose();
                        (Some(m), None, None, p.map_err(json)?)
                    }
                    Kind::Discrete(d) => (None, Some(i64::from(d.input_number)), None, None),
                    Kind::Virtual(v) => {
                        let p = v.parameters.as_ref().map(serde_json::to_string).transpose();
                        (None, None, v.custom_field_name, p.map_err(json)?)
                    }
                };
                Ok(q.bind(def.kind_name().as_str())
                    .bind(def.sensor_type())
                    .bind(def.name.as_str())
                    .bind(def.input_name())
                    .bind(input_number)
                    .bind(metering.map(|m| m.divider))
                    .bind(metering.map(|m| m.accuracy))
                    .bind(metering.map(|m| m.units.as_str()))
                    .bind(metering.map(|m| m.units_type.as_str()))
                    .bind(metering.and_then(|m| m.group_type).map(|g| g.as_str()))
                    .bind(custom_field_name)
                    .bind(parameters))
            }

            type DbRow = <$db as sqlx::Database>::Row;

            impl $store {
                async fn optional<T>(
                    &self,
                    query: Query<'_>,
                    map: fn(&DbRow) -> Result<T>,
                ) -> Result<Option<T>> {
                    query
                        .fetch_optional(self.reader())
                        .await?
                        .map(|r| map(&r))
                        .transpose()
                }

                /// Every row of `query`, each mapped as it arrives: the mapping runs while the
                /// database sends the rows after it, and no row is held once mapped.
                async fn all<T>(
                    &self,
                    query: Query<'_>,
                    map: fn(&DbRow) -> Result<T>,
                ) -> Result<Vec<T>> {
                    use futures_util::TryStreamExt as _;
                    let mut rows = query.fetch(self.reader());
                    let mut out = Vec::new();
                    while let Some(row) = rows.try_next().await? {
                        out.push(map(&row)?);
                    }
                    Ok(out)
                }

                /// A read whose parameters are all integers, through sqlx: PostgreSQL's
                /// hot reads, and SQLite's when it has no direct readers (`rows`).
                pub(crate) async fn sqlx_rows<M: shared::RowMap>(
                    &self,
                    sql: &str,
                    args: &[i64],
                ) -> Result<Vec<M::Out>> {
                    let mut query = sqlx::query(sql);
                    for a in args {
                        query = query.bind(*a);
                    }
                    self.all(query, M::map).await
                }

                /// A read of one row by `key`, through sqlx (`row`).
                pub(crate) async fn sqlx_row<M: shared::RowMap>(
                    &self,
                    sql: &str,
                    key: shared::Key<'_>,
                ) -> Result<Option<M::Out>> {
                    let query = match key {
                        shared::Key::Int(n) => sqlx::query(sql).bind(n),
                        shared::Key::Text(s) => sqlx::query(sql).bind(s),
                    };
                    self.optional(query, M::map).await
                }

                /// Runs one statement on its own; returns the rows it changed.
                async fn write(&self, query: Query<'_>) -> Result<u64> {
                    Ok(query.execute(self.writer()).await?.rows_affected())
                }

                /// Applies the migrations not yet applied, each in its own transaction.
                pub(crate) async fn migrate(&self, migrations: &[Migration]) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    Self::serialize(&mut tx, LOCK_MIGRATIONS).await?;
                    sqlx::raw_sql(
                        "CREATE TABLE IF NOT EXISTS schema_migrations (version \
                         BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT \
                         NOT NULL)",
                    )
                    .execute(&mut *tx)
                    .await?;
                    let newest: Option<i64> =
                        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
                            .fetch_one(&mut *tx)
                            .await?;
                    tx.commit().await?;
                    let known = migrations.iter().map(|m| m.version).max().unwrap_or(0);
                    if let Some(newest) = newest.filter(|v| *v > known) {
                        // An older binary must not write into a schema it does not know.
                        return Err(StoreError::Database(format!(
                            "the database schema is at version {newest}, \
                             newer than this trackd knows ({known})"
                        )));
                    }
                    for m in migrations {
                        let mut tx = self.begin_write().await?;
                        Self::serialize(&mut tx, LOCK_MIGRATIONS).await?;
                        // Checked again inside the lock: another node may have just applied it.
                        let done: Option<i64> = sqlx::query_scalar(
                            "SELECT version FROM schema_migrations WHERE version = $1",
                        )
                        .bind(m.version)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if done.is_none() {
                            sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(|e| {
                                StoreError::Database(format!(
                                    "migration {} {}: {e}",
                                    m.version, m.name
                                ))
                            })?;
                            sqlx::query(
                                "INSERT INTO schema_migrations (version, name, applied_at) \
                                 VALUES ($1, $2, $3)",
                            )
                            .bind(m.version)
                            .bind(m.name)
                            .bind(shared::now_ms())
                            .execute(&mut *tx)
                            .await?;
                            tracing::info!(version = m.version, name = m.name, "migrated");
                        }
                        tx.commit().await?;
                    }
                    Ok(())
                }

                /// Points by multi-row `VALUES`, as many a statement as the parameter limit
                /// allows: SQLite's way (each backend's `insert_points` chooses; PostgreSQL
                /// binds an array per column instead). Each statement's values are built
                /// while the one before executes on sqlx's worker thread.
                #[allow(dead_code)]
                async fn insert_point_values(
                    tx: &mut sqlx::Transaction<'_, $db>,
                    sorted: &[&EncodedPoint],
                ) -> Result<u64> {
                    let values_sql = |rows: usize| {
                        format!(
                            concat!(
                                "INSERT INTO points (",
                                $crate::shared::store_impl::point_columns!(),
                                ") VALUES {} ON CONFLICT (tracker_id, time) DO NOTHING"
                            ),
                            shared::value_rows(Self::NUMBERED_PARAMS, rows, POINT_COLUMNS)
                        )
                    };
                    // Each statement's text once, and only those the batch uses: a full
                    // one is 32,760 parameters long.
                    let full_sql = if sorted.len() >= POINTS_PER_INSERT {
                        values_sql(POINTS_PER_INSERT)
                    } else {
                        String::new()
                    };
                    let rest = sorted.len() % POINTS_PER_INSERT;
                    let rest_sql = if rest > 0 {
                        values_sql(rest)
                    } else {
                        String::new()
                    };
                    let chunks: Vec<&[&EncodedPoint]> = sorted.chunks(POINTS_PER_INSERT).collect();
                    fn statement<'q>(
                        full_sql: &'q str,
                        rest_sql: &'q str,
                        chunk: &[&'q EncodedPoint],
                    ) -> Query<'q> {
                        let full = chunk.len() == POINTS_PER_INSERT;
                        // A full chunk's statement recurs with every large batch and is worth
                        // keeping prepared; a remainder's length is a one-off.
                        let sql = if full { full_sql } else { rest_sql };
                        let mut q = sqlx::query(sql).persistent(full);
                        for p in chunk {
                            q = bind_point(q, p);
                        }
                        q
                    }
                    let mut new = 0;
                    let mut next = chunks.first().map(|c| statement(&full_sql, &rest_sql, c));
                    let mut i = 0;
                    while let Some(q) = next.take() {
                        i += 1;
                        let (done, following) = tokio::join!(q.execute(&mut **tx), async {
                            chunks.get(i).map(|c| statement(&full_sql, &rest_sql, c))
                        });
                        new += done?.rows_affected();
                        next = following;
                    }
                    Ok(new)
                }

                /// The account's trackers, in one query ordered by ID: all of them, deleted ones
                /// included, when `ids` is `None`; else those of `ids` the account owns. Tag
                /// bindings are not read.
                pub(crate) async fn trackers_of(
                    &self,
                    account: UserId,
                    ids: Option<&[TrackerId]>,
                ) -> Result<Vec<Tracker>> {
                    let select = |filter: String| {
                        format!(
                            concat!(
                                $crate::shared::store_impl::tracker_select!(),
                                "WHERE {} ORDER BY t.id"
                            ),
                            filter
                        )
                    };
                    let account_param = shared::params(Self::NUMBERED_PARAMS, 1, 1);
                    let Some(ids) = ids else {
                        let sql = select(format!("t.user_id = {account_param}"));
                        return self.rows::<shared::TrackerRow>(sql, vec![account.0]).await;
                    };
                    let mut out = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(STATE_CHUNK) {
                        // The unary plus keeps SQLite off the (user_id, id) index: found by
                        // primary key instead, the trackers come in ID order, so there is one
                        // search per tracker rather than two, and no sort (2,000 trackers'
                        // query 3.2-4.1 ms -> 1.8-2.4 ms). PostgreSQL reads it as it did.
                        let sql = select(format!(
                            "+t.user_id = {account_param} AND t.id IN ({})",
                            shared::params(Self::NUMBERED_PARAMS, 2, chunk.len())
                        ));
                        let args = std::iter::once(account.0).chain(chunk.iter().map(|t| t.0));
                        out.extend(self.rows::<shared::TrackerRow>(sql, args.collect()).await?);
                    }
                    Ok(out)
                }

                /// The account's trackers a read of many asks for: all live ones when `ids`
                /// is `None`, else those of `ids` it owns, deleted ones included; by ID, with
                /// their tag bindings. They come from memory while the account's revision is
                /// the one they were kept at (`tracker_cache`); else a read of a few named
                /// trackers reads those alone, and any other read reads all the account's
                /// trackers and keeps them.
                pub(crate) async fn account_trackers(
                    &self,
                    account: UserId,
                    ids: Option<&[TrackerId]>,
                ) -> Result<Vec<std::sync::Arc<Tracker>>> {
                    let revision = self
                        .row::<shared::RevisionRow>(
                            "SELECT revision FROM tracker_revisions WHERE user_id = $1",
                            shared::Key::Int(account.0),
                        )
                        .await?
                        .unwrap_or(0);
                    self.account_trackers_at(account, ids, revision).await
                }

                /// `account_trackers` with the account's revision read already.
                async fn account_trackers_at(
                    &self,
                    account: UserId,
                    ids: Option<&[TrackerId]>,
                    revision: i64,
                ) -> Result<Vec<std::sync::Arc<Tracker>>> {
                    use $crate::shared::tracker_cache::select;
                    /// Fewer named trackers than this are read alone when not kept: a
                    /// `get_state` need not read an account of 10,000.
                    const READ_ALL_FROM: usize = 50;
                    let cache = self.tracker_cache();
                    if let Some(all) = cache.get(account, revision) {
                        return Ok(select(&all, ids));
                    }
                    if let Some(ids) = ids.filter(|ids| ids.len() < READ_ALL_FROM) {
                        let few = self.trackers_of(account, Some(ids)).await?;
                        let few = self.with_bindings(few).await?;
                        return Ok(few.into_iter().map(std::sync::Arc::new).collect());
                    }
                    let all = self.trackers_of(account, None).await?;
                    let all = self.with_bindings(all).await?;
                    Ok(select(&cache.put(account, revision, all), ids))
                }

                /// The account's trackers as `account_trackers` reads them, each with its row
                /// of `table` parsed by `parse` (`None` where there is none or it does not
                /// parse). Where the store publishes what ingest committed, the states come
                /// from there (`from_memory`) and only the others' rows are read.
                pub(crate) async fn trackers_with<S>(
                    &self,
                    account: UserId,
                    ids: Option<&[TrackerId]>,
                    table: PerTracker,
                    from_memory: impl Fn(
                        &$crate::shared::published::Published,
                        &[$crate::shared::published::Wanted],
                    ) -> (
                        std::collections::HashMap<i64, std::sync::Arc<S>>,
                        Vec<i64>,
                    ),
                    parse: impl Fn(i64, &str) -> Option<std::sync::Arc<S>>,
                ) -> Result<Vec<(std::sync::Arc<Tracker>, Option<std::sync::Arc<S>>)>> {
                    // Where the foreign state writes are counted, they come with the
                    // account's revision in one read.
                    let (trackers, foreign) = match self.state_node() {
                        Some(node) if Self::STATE_VERSION_NOW.is_some() => {
                            let read = sqlx::query(shared::REVISION_AND_FOREIGN)
                                .bind(node)
                                .bind(account.0);
                            let (revision, foreign) = self
                                .optional(read, shared::revision_and_foreign_row)
                                .await?
                                .ok_or_else(|| {
                                    StoreError::Database("no row of the state writes".into())
                                })?;
                            let trackers = self.account_trackers_at(account, ids, revision).await?;
                            (trackers, Some(foreign))
                        }
                        _ => (self.account_trackers(account, ids).await?, None),
                    };
                    let ids: Vec<i64> = trackers.iter().map(|t| t.id.0).collect();
                    let (mut states, missing) = match self.published() {
                        None => (std::collections::HashMap::new(), ids),
                        // Where rows have versions, a published state is taken while no one
                        // else has written states since its era began, or else only at its
                        // row's version; a tracker without a row has no state to read.
                        Some(published) if Self::STATE_VERSION_NOW.is_some() => {
                            let era = foreign.map(|foreign| published.trust(foreign));
                            let (mut found, rest) = match era {
                                Some(era) => {
                                    let wanted: Vec<_> =
                                        ids.iter().map(|&id| (id, At::Era(era))).collect();
                                    from_memory(published, &wanted)
                                }
                                None => (std::collections::HashMap::new(), ids),
                            };
                            let mut wanted = Vec::with_capacity(rest.len());
                            for chunk in rest.chunks(STATE_CHUNK) {
                                let sql = table.versions_in(Self::NUMBERED_PARAMS, chunk.len());
                                wanted.extend(
                                    self.rows::<shared::VersionRow>(sql, chunk.to_vec())
                                        .await?
                                        .into_iter()
                                        .map(|(id, version)| (id, At::Version(version))),
                                );
                            }
                            let (more, missing) = from_memory(published, &wanted);
                            found.extend(more);
                            (found, missing)
                        }
                        Some(published) => {
                            let wanted: Vec<_> = ids.iter().map(|&id| (id, At::Any)).collect();
                            from_memory(published, &wanted)
                        }
                    };
                    for (id, text) in self.read_json_rows(table, &missing).await? {
                        if let Some(state) = parse(id, &text) {
                            states.insert(id, state);
                        }
                    }
                    Ok(trackers
                        .into_iter()
                        .map(|t| {
                            let state = states.remove(&t.id.0);
                            (t, state)
                        })
                        .collect())
                }

                /// The rows of a per-tracker JSON table for these trackers, read beside ingest
                /// (never waiting for it): one query for up to 2000 trackers.
                pub(crate) async fn read_json_rows(
                    &self,
                    table: PerTracker,
                    ids: &[i64],
                ) -> Result<Vec<(i64, String)>> {
                    let mut out = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(STATE_CHUNK) {
                        let sql = table.select_in(Self::NUMBERED_PARAMS, chunk.len(), "");
                        out.extend(self.rows::<shared::JsonRow>(sql, chunk.to_vec()).await?);
                    }
                    Ok(out)
                }

                /// One ingest commit through sqlx: PostgreSQL's, and SQLite's in memory. It
                /// is durable when it returns.
                async fn ingest_through_sqlx(
                    &self,
                    lane: $crate::IngestLane,
                    sorted: &[&EncodedPoint],
                    config: &StateConfig,
                    counters: &trackd_core::counter::CounterConfig,
                ) -> Result<(u64, $crate::Durable)> {
                    let mut tx = self.begin_ingest(lane).await?;
                    let (Some(published), Some(version)) =
                        (self.published(), Self::STATE_VERSION_NOW)
                    else {
                        let new = ingest::write_batch(&mut tx, sorted, config, counters).await?;
                        tx.commit().await?;
                        return Ok((new, $crate::Durable::now()));
                    };
                    // The states written are published, at the version their rows now
                    // have, once they are committed.
                    let mut recording = ingest::Recording {
                        tx: &mut tx,
                        published,
                        written: ingest::Written::default(),
                    };
                    let new = ingest::write_batch(&mut recording, sorted, config, counters).await?;
                    let written = recording.written;
                    let row = sqlx::query(version)
                        .bind(self.state_node().unwrap_or_default())
                        .bind(i64::try_from(lane.0).unwrap_or(i64::MAX))
                        .fetch_one(&mut *tx)
                        .await?;
                    let version: i64 = row.try_get("version")?;
                    published.trust(<shared::ForeignRow as shared::RowMap>::map(&row)?);
                    let ticket = published.ticket();
                    if let Err(e) = tx.commit().await {
                        // The commit may have been made all the same (the connection lost
                        // as it answered): its states are not published, so what is may be
                        // older than the rows.
                        published.distrust();
                        return Err(e.into());
                    }
                    published.commit_at(version, ticket, written);
                    Ok((new, $crate::Durable::now()))
                }

                /// Fills in the tag bindings, ordered by ordinal.
                async fn with_bindings(&self, mut trackers: Vec<Tracker>) -> Result<Vec<Tracker>> {
                    let ids: Vec<i64> = trackers.iter().map(|t| t.id.0).collect();
                    let index: std::collections::HashMap<i64, usize> =
                        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
                    for chunk in ids.chunks(IN_CHUNK) {
                        let sql = format!(
                            "SELECT tracker_id, tag_id, ordinal FROM tag_bindings WHERE \
                             tracker_id IN ({}) ORDER BY tracker_id, ordinal",
                            shared::param_list(1, chunk.len())
                        );
                        for (tracker, binding) in
                            self.rows::<shared::BindingRow>(sql, chunk.to_vec()).await?
                        {
                            if let Some(t) =
                                index.get(&tracker.0).and_then(|i| trackers.get_mut(*i))
                            {
                                t.tag_bindings.push(binding);
                            }
                        }
                    }
                    Ok(trackers)
                }

                async fn one_tracker(&self, tracker: Option<Tracker>) -> Result<Option<Tracker>> {
                    match tracker {
                        Some(t) => Ok(self.with_bindings(vec![t]).await?.pop()),
                        None => Ok(None),
                    }
                }

                /// The source of a live tracker, inside a write transaction.
                async fn live_source(
                    tx: &mut sqlx::Transaction<'static, $db>,
                    id: TrackerId,
                ) -> Result<i64> {
                    sqlx::query_scalar(
                        "SELECT source_id FROM trackers WHERE id = $1 AND NOT deleted",
                    )
                    .bind(id.0)
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or(StoreError::NotFound)
                }

                /// Runs `UPDATE trackers SET <set> WHERE id IN (...) AND <cond>` over `ids`
                /// in chunks, in one transaction; `$1` in `set` and `cond` is `arg`.
                async fn update_trackers_in(
                    &self,
                    set: &str,
                    arg: i64,
                    ids: &[i64],
                ) -> Result<u64> {
                    let mut tx = self.begin_write().await?;
                    let mut n = 0;
                    for chunk in ids.chunks(IN_CHUNK) {
                        let sql = format!(
                            "UPDATE trackers SET {set} WHERE NOT deleted AND id IN ({})",
                            shared::param_list(2, chunk.len())
                        );
                        n += bind_ids(sqlx::query(&sql).bind(arg), chunk)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                    tx.commit().await?;
                    Ok(n)
                }
            }

            /// A read inside a transaction whose parameters are all integers, bound in
            /// order: the transaction's twin of `sqlx_rows`.
            async fn tx_rows<M: shared::RowMap>(
                tx: &mut sqlx::Transaction<'_, $db>,
                sql: &str,
                args: &[i64],
            ) -> Result<Vec<M::Out>> {
                bind_ids(sqlx::query(sql), args)
                    .fetch_all(&mut **tx)
                    .await?
                    .iter()
                    .map(M::map)
                    .collect()
            }

            impl IngestTx for sqlx::Transaction<'_, $db> {
                async fn json_rows(
                    &mut self,
                    table: PerTracker,
                    ids: &[i64],
                ) -> Result<Vec<(i64, String)>> {
                    <$store>::json_rows_in(self, table, ids).await
                }

                async fn put_json_rows(
                    &mut self,
                    table: PerTracker,
                    rows: &[(i64, String)],
                ) -> Result<()> {
                    <$store>::put_json_rows_in(self, table, rows).await
                }

                async fn row_versions(
                    &mut self,
                    table: PerTracker,
                    ids: &[i64],
                ) -> Result<Option<Vec<(i64, i64)>>> {
                    <$store>::row_versions_in(self, table, ids).await
                }

                /// `side` runs on this thread while the database inserts (sqlx's SQLite
                /// worker, the PostgreSQL server).
                async fn insert_points_while<R: Send, F: FnOnce() -> Result<R> + Send>(
                    &mut self,
                    sorted: &[&EncodedPoint],
                    side: F,
                ) -> (Result<u64>, Result<R>) {
                    tokio::join!(<$store>::insert_points(self, sorted), async { side() })
                }

                async fn sensors(&mut self, ids: &[i64]) -> Result<Vec<Sensor>> {
                    <$store>::sensors_in(self, ids).await
                }

                async fn checkpoint_before(
                    &mut self,
                    tracker: i64,
                    time: i64,
                ) -> Result<Option<String>> {
                    let row = sqlx::query(ingest::CHECKPOINT_BEFORE)
                        .bind(tracker)
                        .bind(time)
                        .fetch_optional(&mut **self)
                        .await?;
                    Ok(row.map(|r| r.try_get("state")).transpose()?)
                }

                async fn points_after(&mut self, tracker: i64, after: i64) -> Result<Vec<Point>> {
                    tx_rows::<shared::WholePoint>(self, ingest::POINTS_AFTER, &[tracker, after])
                        .await
                }

                async fn events_from(
                    &mut self,
                    tracker: i64,
                    from: i64,
                ) -> Result<Vec<trackd_core::counter::Event>> {
                    tx_rows::<shared::EventRow>(self, ingest::EVENTS_FROM, &[tracker, from]).await
                }

                async fn put_history(&mut self, rows: &[HistoryEntry<'_>]) -> Result<()> {
                    <$store>::put_history_in(self, rows).await
                }
            }

            #[async_trait]
            impl Users for $store {
                async fn create_user(&self, user: &NewUser, now: i64) -> Result<User> {
                    let rights = match user.parent_id {
                        None => Rights::master(),
                        Some(_) => Rights::sub_user(user.rights.granted()),
                    };
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO users (login, password_hash, parent_id, \
                         rights, time_zone, locale, measurement_system, first_name, \
                         last_name, blocked, created_at) VALUES ($1, $2, $3, $4, \
                         $5, $6, $7, $8, $9, FALSE, $10) RETURNING id",
                    )
                    .bind(&user.login)
                    .bind(&user.password_hash)
                    .bind(user.parent_id.map(|p| p.0))
                    .bind(shared::rights_json(&rights))
                    .bind(&user.time_zone)
                    .bind(&user.locale)
                    .bind(&user.measurement_system)
                    .bind(&user.first_name)
                    .bind(&user.last_name)
                    .bind(now)
                    .fetch_one(self.writer())
                    .await?;
                    Ok(User {
                        id: UserId(id),
                        login: user.login.clone(),
                        password_hash: user.password_hash.clone(),
                        parent_id: user.parent_id,
                        rights,
                        time_zone: user.time_zone.clone(),
                        locale: user.locale.clone(),
                        measurement_system: user.measurement_system.clone(),
                        first_name: user.first_name.clone(),
                        last_name: user.last_name.clone(),
                        blocked: false,
                        created_at: now,
                    })
                }

                async fn user(&self, id: UserId) -> Result<Option<User>> {
                    self.row::<shared::UserRow>(
                        "SELECT * FROM users WHERE id = $1",
                        shared::Key::Int(id.0),
                    )
                    .await
                }

                async fn user_by_login(&self, login: &str) -> Result<Option<User>> {
                    self.optional(
                        sqlx::query("SELECT * FROM users WHERE login = $1").bind(login),
                        shared::user_from_row,
                    )
                    .await
                }

                async fn users(&self) -> Result<Vec<User>> {
                    self.all(
                        sqlx::query("SELECT * FROM users ORDER BY id"),
                        shared::user_from_row,
                    )
                    .await
                }

                async fn set_password_hash(&self, id: UserId, password_hash: &str) -> Result<()> {
                    let n = self
                        .write(
                            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                                .bind(id.0)
                                .bind(password_hash),
                        )
                        .await?;
                    changed(n)
                }

                async fn create_session(&self, session: &Session) -> Result<()> {
                    self.write(
                        sqlx::query(
                            "INSERT INTO sessions (hash, user_id, kind, title, \
                             created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(&session.hash)
                        .bind(session.user_id.0)
                        .bind(session.kind.as_str())
                        .bind(&session.title)
                        .bind(session.created_at)
                        .bind(session.last_used_at),
                    )
                    .await?;
                    Ok(())
                }

                async fn session(&self, hash: &str) -> Result<Option<Session>> {
                    self.row::<shared::SessionRow>(
                        "SELECT * FROM sessions WHERE hash = $1",
                        shared::Key::Text(hash),
                    )
                    .await
                }

                async fn session_with_user(&self, hash: &str) -> Result<Option<(Session, User)>> {
                    self.row::<shared::SessionUserRow>(
                        shared::SESSION_WITH_USER,
                        shared::Key::Text(hash),
                    )
                    .await
                }

                async fn touch_session(&self, hash: &str, now: i64) -> Result<()> {
                    let n = self
                        .write(
                            sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE hash = $1")
                                .bind(hash)
                                .bind(now),
                        )
                        .await?;
                    changed(n)
                }

                async fn delete_session(&self, hash: &str) -> Result<bool> {
                    let n = self
                        .write(sqlx::query("DELETE FROM sessions WHERE hash = $1").bind(hash))
                        .await?;
                    Ok(n > 0)
                }

                async fn delete_sessions_unused_since(
                    &self,
                    kind: SessionKind,
                    unused_since: i64,
                ) -> Result<u64> {
                    let n = self
                        .write(
                            sqlx::query(
                                "DELETE FROM sessions WHERE kind = $1 AND last_used_at < $2",
                            )
                            .bind(kind.as_str())
                            .bind(unused_since),
                        )
                        .await?;
                    Ok(n)
                }

                async fn sessions_of(
                    &self,
                    user: UserId,
                    kind: SessionKind,
                ) -> Result<Vec<Session>> {
                    self.all(
                        sqlx::query(
                            "SELECT * FROM sessions WHERE user_id = $1 AND kind = $2 \
                             ORDER BY created_at, hash",
                        )
                        .bind(user.0)
                        .bind(kind.as_str()),
                        shared::session_from_row,
                    )
                    .await
                }
            }

            #[async_trait]
            impl Trackers for $store {
                async fn create_tracker(
                    &self,
                    tracker: &NewTracker,
                    registration: &Registration,
                ) -> Result<Tracker> {
                    let mut tx = self.begin_write().await?;
                    Self::serialize(&mut tx, LOCK_REGISTRATION).await?;
                    if let Some(limit) = registration.device_limit {
                        let n: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM trackers WHERE NOT clone AND NOT \
                             deleted",
                        )
                        .fetch_one(&mut *tx)
                        .await?;
                        if n >= limit {
                            return Err(StoreError::DeviceLimit);
                        }
                    }
                    let mut tariff_end_date = None;
                    if let Some(code) = &registration.activation_code {
                        let free_days: Option<i64> = sqlx::query(
                            "UPDATE activation_codes SET devices_left = devices_left - \
                             1 WHERE code = $1 AND devices_left > 0 RETURNING free_days",
                        )
                        .bind(code)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::ActivationCode)?
                        .try_get("free_days")?;
                        if let Some(days) = free_days {
                            tariff_end_date = Some(shared::add_days(&tracker.creation_date, days)?);
                        }
                    }
                    let source_id: i64 = sqlx::query_scalar(
                        "INSERT INTO sources (device_id, model, phone, apn_name, \
                         apn_user, apn_password, tariff_end_date, creation_date, \
                         register_commands_pending) VALUES ($1, $2, $3, $4, $5, $6, \
                         $7, $8, $9) RETURNING id",
                    )
                    .bind(&tracker.device_id)
                    .bind(&tracker.model)
                    .bind(shared::phone(tracker.phone.as_deref()))
                    .bind(&tracker.apn_name)
                    .bind(&tracker.apn_user)
                    .bind(&tracker.apn_password)
                    .bind(tariff_end_date)
                    .bind(&tracker.creation_date)
                    .bind(tracker.register_commands_pending)
                    .fetch_one(&mut *tx)
                    .await?;
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO trackers (user_id, source_id, label, group_id) \
                         VALUES ($1, $2, $3, $4) RETURNING id",
                    )
                    .bind(tracker.user_id.0)
                    .bind(source_id)
                    .bind(&tracker.label)
                    .bind(tracker.group_id.0)
                    .fetch_one(&mut *tx)
                    .await?;
                    if let Some(imei) = &registration.bundle_imei {
                        let r = sqlx::query("UPDATE bundles SET tracker_id = $1 WHERE imei = $2")
                            .bind(id)
                            .bind(imei)
                            .execute(&mut *tx)
                            .await?;
                        changed(r.rows_affected())?;
                    }
                    tx.commit().await?;
                    self.tracker_any(TrackerId(id))
                        .await?
                        .ok_or(StoreError::NotFound)
                }

                async fn tracker(&self, account: UserId, id: TrackerId) -> Result<Option<Tracker>> {
                    let t = self
                        .optional(
                            sqlx::query(concat!(
                                tracker_select!(),
                                "WHERE t.id = $1 AND t.user_id = $2 AND NOT t.deleted"
                            ))
                            .bind(id.0)
                            .bind(account.0),
                            shared::tracker_from_row,
                        )
                        .await?;
                    self.one_tracker(t).await
                }

                async fn trackers(&self, account: UserId) -> Result<Vec<std::sync::Arc<Tracker>>> {
                    self.account_trackers(account, None).await
                }

                async fn tracker_any(&self, id: TrackerId) -> Result<Option<Tracker>> {
                    let t = self
                        .optional(
                            sqlx::query(concat!(tracker_select!(), "WHERE t.id = $1")).bind(id.0),
                            shared::tracker_from_row,
                        )
                        .await?;
                    self.one_tracker(t).await
                }

                async fn trackers_by_device_id(&self, device_id: &str) -> Result<Vec<Tracker>> {
                    let trackers = self
                        .all(
                            sqlx::query($crate::shared::store_impl::TRACKERS_BY_DEVICE_ID)
                                .bind(device_id),
                            shared::tracker_from_row,
                        )
                        .await?;
                    self.with_bindings(trackers).await
                }

                async fn phone_in_use(&self, phone: &str) -> Result<bool> {
                    let found: Option<i64> =
                        sqlx::query_scalar($crate::shared::store_impl::PHONE_IN_USE)
                            .bind(phone)
                            .fetch_optional(self.reader())
                            .await?;
                    Ok(found.is_some())
                }

                async fn count_devices(&self) -> Result<i64> {
                    Ok(sqlx::query_scalar(
                        "SELECT COUNT(*) FROM trackers WHERE NOT clone AND NOT \
                         deleted",
                    )
                    .fetch_one(self.reader())
                    .await?)
                }

                async fn update_settings(
                    &self,
                    id: TrackerId,
                    label: &str,
                    group_id: GroupId,
                ) -> Result<()> {
                    let n = self
                        .write(
                            sqlx::query(
                                "UPDATE trackers SET label = $2, group_id = $3 WHERE id = \
                                 $1 AND NOT deleted",
                            )
                            .bind(id.0)
                            .bind(label)
                            .bind(group_id.0),
                        )
                        .await?;
                    changed(n)
                }

                async fn change_phone(
                    &self,
                    id: TrackerId,
                    phone: &str,
                    apn_name: Option<&str>,
                    apn_user: Option<&str>,
                    apn_password: Option<&str>,
                ) -> Result<()> {
                    let n = self
                        .write(
                            sqlx::query(
                                "UPDATE sources SET phone = $2, apn_name = $3, apn_user = \
                                 $4, apn_password = $5 WHERE id = (SELECT source_id FROM \
                                 trackers WHERE id = $1 AND NOT deleted)",
                            )
                            .bind(id.0)
                            .bind(shared::phone(Some(phone)))
                            .bind(apn_name)
                            .bind(apn_user)
                            .bind(apn_password),
                        )
                        .await?;
                    changed(n)
                }

                async fn corrupt(&self, id: TrackerId) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    let source: i64 = sqlx::query_scalar(
                        "SELECT source_id FROM trackers WHERE id = $1 AND NOT \
                         deleted AND NOT clone",
                    )
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    // Clones on the source go too: they are views of a device that is gone.
                    sqlx::query("UPDATE trackers SET deleted = TRUE WHERE source_id = $1")
                        .bind(source)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE sources SET corrupted = TRUE, device_id = NULL, \
                         phone = NULL WHERE id = $1",
                    )
                    .bind(source)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn delete_clone(&self, id: TrackerId) -> Result<()> {
                    // Marked, not removed: its history rows keep a tracker to refer to.
                    let n = self
                        .write(
                            sqlx::query(
                                "UPDATE trackers SET deleted = TRUE WHERE id = $1 AND clone \
                                 AND NOT deleted",
                            )
                            .bind(id.0),
                        )
                        .await?;
                    changed(n)
                }

                async fn replace(
                    &self,
                    id: TrackerId,
                    replacement: &Replacement,
                ) -> Result<Tracker> {
                    let mut tx = self.begin_write().await?;
                    let source = Self::live_source(&mut tx, id).await?;
                    sqlx::query(
                        "UPDATE sources SET device_id = $2, model = $3, phone = $4, \
                         apn_name = $5, apn_user = $6, apn_password = $7, \
                         creation_date = $8, replaced_at = $9, \
                         register_commands_pending = $10 WHERE id = $1",
                    )
                    .bind(source)
                    .bind(&replacement.device_id)
                    .bind(&replacement.model)
                    .bind(shared::phone(replacement.phone.as_deref()))
                    .bind(&replacement.apn_name)
                    .bind(&replacement.apn_user)
                    .bind(&replacement.apn_password)
                    .bind(&replacement.creation_date)
                    .bind(replacement.replaced_at)
                    .bind(replacement.register_commands_pending)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    self.tracker_any(id).await?.ok_or(StoreError::NotFound)
                }

                async fn set_tag_bindings(
                    &self,
                    id: TrackerId,
                    bindings: &[TagBinding],
                ) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    Self::live_source(&mut tx, id).await?;
                    sqlx::query("DELETE FROM tag_bindings WHERE tracker_id = $1")
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await?;
                    for b in bindings {
                        sqlx::query(
                            "INSERT INTO tag_bindings (tracker_id, tag_id, ordinal) \
                             VALUES ($1, $2, $3)",
                        )
                        .bind(id.0)
                        .bind(b.tag_id.0)
                        .bind(i64::from(b.ordinal))
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn set_blocked(&self, id: TrackerId, blocked: bool) -> Result<()> {
                    let n = self
                        .write(
                            sqlx::query(
                                "UPDATE sources SET blocked = $2 WHERE id = (SELECT \
                                 source_id FROM trackers WHERE id = $1 AND NOT deleted)",
                            )
                            .bind(id.0)
                            .bind(blocked),
                        )
                        .await?;
                    changed(n)
                }

                async fn set_tariff_end_date(
                    &self,
                    id: TrackerId,
                    date: Option<&str>,
                ) -> Result<()> {
                    let n = self
                        .write(
                            sqlx::query(
                                "UPDATE sources SET tariff_end_date = $2 WHERE id = (SELECT \
                                 source_id FROM trackers WHERE id = $1 AND NOT deleted)",
                            )
                            .bind(id.0)
                            .bind(date),
                        )
                        .await?;
                    changed(n)
                }

                async fn clone_tracker(
                    &self,
                    id: TrackerId,
                    to: UserId,
                    label: &str,
                ) -> Result<Tracker> {
                    let clone: i64 = sqlx::query_scalar(
                        "INSERT INTO trackers (user_id, source_id, label, group_id, \
                         clone) SELECT $2, source_id, $3, 0, TRUE FROM trackers \
                         WHERE id = $1 AND NOT deleted RETURNING id",
                    )
                    .bind(id.0)
                    .bind(to.0)
                    .bind(label)
                    .fetch_optional(self.writer())
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    self.tracker_any(TrackerId(clone))
                        .await?
                        .ok_or(StoreError::NotFound)
                }

                async fn groups(&self, account: UserId) -> Result<Vec<Group>> {
                    self.all(
                        sqlx::query("SELECT * FROM tracker_groups WHERE user_id = $1 ORDER BY id")
                            .bind(account.0),
                        shared::group_from_row,
                    )
                    .await
                }

                async fn group(&self, account: UserId, id: GroupId) -> Result<Option<Group>> {
                    self.optional(
                        sqlx::query("SELECT * FROM tracker_groups WHERE id = $1 AND user_id = $2")
                            .bind(id.0)
                            .bind(account.0),
                        shared::group_from_row,
                    )
                    .await
                }

                async fn create_group(
                    &self,
                    account: UserId,
                    title: &str,
                    color: &str,
                ) -> Result<Group> {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO tracker_groups (user_id, title, color) VALUES \
                         ($1, $2, $3) RETURNING id",
                    )
                    .bind(account.0)
                    .bind(title)
                    .bind(color)
                    .fetch_one(self.writer())
                    .await?;
                    Ok(Group {
                        id: GroupId(id),
                        user_id: account,
                        title: title.to_owned(),
                        color: color.to_owned(),
                    })
                }

                async fn update_group(&self, group: &Group) -> Result<()> {
                    let n = self
                        .write(
                            sqlx::query(
                                "UPDATE tracker_groups SET title = $3, color = $4 WHERE id \
                                 = $1 AND user_id = $2",
                            )
                            .bind(group.id.0)
                            .bind(group.user_id.0)
                            .bind(&group.title)
                            .bind(&group.color),
                        )
                        .await?;
                    changed(n)
                }

                async fn delete_group(&self, account: UserId, id: GroupId) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    let r =
                        sqlx::query("DELETE FROM tracker_groups WHERE id = $1 AND user_id = $2")
                            .bind(id.0)
                            .bind(account.0)
                            .execute(&mut *tx)
                            .await?;
                    changed(r.rows_affected())?;
                    sqlx::query(
                        "UPDATE trackers SET group_id = 0 WHERE user_id = $1 AND \
                         group_id = $2",
                    )
                    .bind(account.0)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn assign_group(&self, id: GroupId, trackers: &[TrackerId]) -> Result<()> {
                    let ids: Vec<i64> = trackers.iter().map(|t| t.0).collect();
                    self.update_trackers_in("group_id = $1", id.0, &ids).await?;
                    Ok(())
                }

                async fn tags(&self, account: UserId) -> Result<Vec<Tag>> {
                    self.all(
                        sqlx::query("SELECT * FROM tags WHERE user_id = $1 ORDER BY id")
                            .bind(account.0),
                        shared::tag_from_row,
                    )
                    .await
                }

                async fn create_tag(
                    &self,
                    account: UserId,
                    name: &str,
                    color: &str,
                ) -> Result<Tag> {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO tags (user_id, name, color) VALUES ($1, $2, \
                         $3) RETURNING id",
                    )
                    .bind(account.0)
                    .bind(name)
                    .bind(color)
                    .fetch_one(self.writer())
                    .await?;
                    Ok(Tag {
                        id: TagId(id),
                        user_id: account,
                        name: name.to_owned(),
                        color: color.to_owned(),
                        avatar_file_name: None,
                    })
                }

                async fn update_tag(&self, tag: &Tag) -> Result<()> {
                    let n = self
                        .write(
                            sqlx::query(
                                "UPDATE tags SET name = $3, color = $4, avatar_file_name = \
                                 $5 WHERE id = $1 AND user_id = $2",
                            )
                            .bind(tag.id.0)
                            .bind(tag.user_id.0)
                            .bind(&tag.name)
                            .bind(&tag.color)
                            .bind(&tag.avatar_file_name),
                        )
                        .await?;
                    changed(n)
                }

                async fn delete_tags(&self, account: UserId, ids: &[TagId]) -> Result<u64> {
                    let ids: Vec<i64> = ids.iter().map(|t| t.0).collect();
                    let mut tx = self.begin_write().await?;
                    let mut deleted = 0;
                    for chunk in ids.chunks(IN_CHUNK) {
                        let list = shared::param_list(2, chunk.len());
                        let unbind = format!(
                            "DELETE FROM tag_bindings WHERE tag_id IN (SELECT id FROM \
                             tags WHERE user_id = $1 AND id IN ({list}))"
                        );
                        bind_ids(sqlx::query(&unbind).bind(account.0), chunk)
                            .execute(&mut *tx)
                            .await?;
                        let delete =
                            format!("DELETE FROM tags WHERE user_id = $1 AND id IN ({list})");
                        deleted += bind_ids(sqlx::query(&delete).bind(account.0), chunk)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                    tx.commit().await?;
                    Ok(deleted)
                }

                async fn add_bundle(&self, bundle: &Bundle) -> Result<()> {
                    self.write(
                        sqlx::query(
                            "INSERT INTO bundles (imei, model, phone, apn_name, \
                             apn_user, apn_password, tracker_id) VALUES ($1, $2, $3, \
                             $4, $5, $6, $7) ON CONFLICT (imei) DO UPDATE SET model = \
                             excluded.model, phone = excluded.phone, apn_name = \
                             excluded.apn_name, apn_user = excluded.apn_user, \
                             apn_password = excluded.apn_password, tracker_id = \
                             excluded.tracker_id",
                        )
                        .bind(&bundle.imei)
                        .bind(&bundle.model)
                        .bind(shared::phone(bundle.phone.as_deref()))
                        .bind(&bundle.apn_name)
                        .bind(&bundle.apn_user)
                        .bind(&bundle.apn_password)
                        .bind(bundle.tracker_id.map(|t| t.0)),
                    )
                    .await?;
                    Ok(())
                }

                async fn bundle(&self, imei: &str) -> Result<Option<Bundle>> {
                    self.optional(
                        sqlx::query("SELECT * FROM bundles WHERE imei = $1").bind(imei),
                        shared::bundle_from_row,
                    )
                    .await
                }

                async fn add_activation_code(&self, code: &ActivationCode) -> Result<()> {
                    self.write(
                        sqlx::query(
                            "INSERT INTO activation_codes (code, devices_left, \
                             free_days) VALUES ($1, $2, $3) ON CONFLICT (code) DO \
                             UPDATE SET devices_left = excluded.devices_left, free_days \
                             = excluded.free_days",
                        )
                        .bind(&code.code)
                        .bind(code.devices_left)
                        .bind(code.free_days),
                    )
                    .await?;
                    Ok(())
                }

                async fn activation_code(&self, code: &str) -> Result<Option<ActivationCode>> {
                    self.optional(
                        sqlx::query("SELECT * FROM activation_codes WHERE code = $1").bind(code),
                        shared::activation_code_from_row,
                    )
                    .await
                }

                async fn setting(&self, key: &str) -> Result<Option<String>> {
                    Ok(
                        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                            .bind(key)
                            .fetch_optional(self.reader())
                            .await?,
                    )
                }

                async fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
                    match value {
                        Some(value) => sqlx::query(
                            "INSERT INTO settings (key, value) VALUES ($1, $2) ON \
                             CONFLICT (key) DO UPDATE SET value = excluded.value",
                        )
                        .bind(key)
                        .bind(value),
                        None => sqlx::query("DELETE FROM settings WHERE key = $1").bind(key),
                    }
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }
            }

            #[async_trait]
            impl Points for $store {
                // Each backend inserts its own way (`insert_points`): PostgreSQL an array per
                // column, SQLite multi-row `VALUES`.
                async fn store_points(&self, points: &[Point]) -> Result<u64> {
                    let points = EncodedPoint::all(points.iter().cloned())?;
                    let Some(sorted) = ingest::sorted(&points) else {
                        return Ok(0);
                    };
                    let mut tx = self.begin_write().await?;
                    let new = Self::insert_points(&mut tx, &sorted).await?;
                    tx.commit().await?;
                    Ok(new)
                }

                async fn points(
                    &self,
                    tracker: TrackerId,
                    from: i64,
                    to: i64,
                    limit: u32,
                ) -> Result<Vec<Point>> {
                    let sql = concat!("SELECT ", point_columns!(), point_range_sql!());
                    self.rows::<shared::WholePoint>(
                        sql.into(),
                        range_args(tracker, from, to, limit),
                    )
                    .await
                }

                async fn track_points(
                    &self,
                    tracker: TrackerId,
                    from: i64,
                    to: i64,
                    limit: u32,
                ) -> Result<Vec<Point>> {
                    let mut points = self
                        .rows::<shared::TrackPoint>(
                            $crate::shared::store_impl::TRACK_POINTS_SQL.into(),
                            range_args(tracker, from, to, limit),
                        )
                        .await?;
                    for p in &mut points {
                        p.tracker_id = tracker;
                    }
                    Ok(points)
                }

                async fn latest_point(&self, tracker: TrackerId) -> Result<Option<Point>> {
                    self.optional(
                        sqlx::query(concat!(
                            "SELECT ",
                            point_columns!(),
                            " FROM points WHERE tracker_id = $1 ORDER BY time DESC LIMIT 1"
                        ))
                        .bind(tracker.0),
                        shared::point_from_row,
                    )
                    .await
                }

                async fn count_points(&self, tracker: TrackerId) -> Result<u64> {
                    let n: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM points WHERE tracker_id = $1")
                            .bind(tracker.0)
                            .fetch_one(self.reader())
                            .await?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }
            }

            #[async_trait]
            impl Sensors for $store {
                async fn sensors(&self, tracker: TrackerId) -> Result<Vec<Sensor>> {
                    self.all(
                        sqlx::query("SELECT * FROM sensors WHERE tracker_id = $1 ORDER BY id")
                            .bind(tracker.0),
                        shared::sensor_from_row,
                    )
                    .await
                }

                async fn sensors_of(&self, trackers: &[TrackerId]) -> Result<Vec<Sensor>> {
                    let ids: Vec<i64> = trackers.iter().map(|t| t.0).collect();
                    let mut out = Vec::new();
                    for chunk in ids.chunks(IN_CHUNK) {
                        let sql = format!(
                            "SELECT * FROM sensors WHERE tracker_id IN ({}) ORDER BY \
                             tracker_id, id",
                            shared::param_list(1, chunk.len())
                        );
                        out.extend(
                            self.all(bind_ids(sqlx::query(&sql), chunk), shared::sensor_from_row)
                                .await?,
                        );
                    }
                    out.sort_by_key(|s| (s.tracker_id, s.id));
                    Ok(out)
                }

                async fn sensor(&self, tracker: TrackerId, id: SensorId) -> Result<Option<Sensor>> {
                    self.optional(
                        sqlx::query("SELECT * FROM sensors WHERE id = $1 AND tracker_id = $2")
                            .bind(id.0)
                            .bind(tracker.0),
                        shared::sensor_from_row,
                    )
                    .await
                }

                async fn create_sensor(
                    &self,
                    tracker: TrackerId,
                    def: &SensorDef,
                ) -> Result<SensorId> {
                    let sql = concat!(
                        "INSERT INTO sensors (tracker_id, ",
                        sensor_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                         RETURNING id"
                    );
                    let id: i64 = bind_sensor(sqlx::query(sql).bind(tracker.0), def)?
                        .fetch_one(self.writer())
                        .await?
                        .try_get("id")?;
                    Ok(SensorId(id))
                }

                async fn update_sensor(
                    &self,
                    tracker: TrackerId,
                    id: SensorId,
                    def: &SensorDef,
                ) -> Result<()> {
                    let sql = concat!(
                        "UPDATE sensors SET (",
                        sensor_columns!(),
                        ") = ($3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) WHERE id = \
                         $1 AND tracker_id = $2"
                    );
                    let q = sqlx::query(sql).bind(id.0).bind(tracker.0);
                    let n = self.write(bind_sensor(q, def)?).await?;
                    changed(n)
                }

                async fn delete_sensor(&self, tracker: TrackerId, id: SensorId) -> Result<()> {
                    let n = self
                        .write(
                            sqlx::query("DELETE FROM sensors WHERE id = $1 AND tracker_id = $2")
                                .bind(id.0)
                                .bind(tracker.0),
                        )
                        .await?;
                    changed(n)
                }

                async fn calibration(
                    &self,
                    tracker: TrackerId,
                    id: SensorId,
                ) -> Result<Option<Vec<CalibrationPoint>>> {
                    Ok(self.sensor(tracker, id).await?.map(|s| s.calibration))
                }

                async fn set_calibration(
                    &self,
                    tracker: TrackerId,
                    id: SensorId,
                    points: &[CalibrationPoint],
                ) -> Result<()> {
                    let json = serde_json::to_string(points)
                        .map_err(|e| StoreError::Invalid(format!("calibration: {e}")))?;
                    let n = self
                        .write(
                            sqlx::query(
                                "UPDATE sensors SET calibration = $3 WHERE id = $1 AND \
                                 tracker_id = $2",
                            )
                            .bind(id.0)
                            .bind(tracker.0)
                            .bind(json),
                        )
                        .await?;
                    changed(n)
                }

                async fn copy_sensors(&self, from: TrackerId, to: &[TrackerId]) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    for target in to.iter().filter(|t| **t != from) {
                        sqlx::query("DELETE FROM sensors WHERE tracker_id = $1")
                            .bind(target.0)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(concat!(
                            "INSERT INTO sensors (tracker_id, ",
                            sensor_columns!(),
                            ", calibration) SELECT $1, ",
                            sensor_columns!(),
                            ", calibration FROM sensors WHERE tracker_id = $2 ORDER BY id"
                        ))
                        .bind(target.0)
                        .bind(from.0)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }
            }

            #[async_trait]
            impl States for $store {
                async fn store_points_and_states(
                    &self,
                    points: &[Point],
                    config: &StateConfig,
                    counters: &trackd_core::counter::CounterConfig,
                ) -> Result<u64> {
                    let points = EncodedPoint::all(points.iter().cloned())?;
                    let (new, durable) = self
                        .commit_points_and_states($crate::IngestLane(0), &points, config, counters)
                        .await?;
                    durable.wait().await?;
                    Ok(new)
                }

                async fn commit_points_and_states(
                    &self,
                    lane: $crate::IngestLane,
                    points: &[EncodedPoint],
                    config: &StateConfig,
                    counters: &trackd_core::counter::CounterConfig,
                ) -> Result<(u64, $crate::Durable)> {
                    let Some(sorted) = ingest::sorted(points) else {
                        return Ok((0, $crate::Durable::now()));
                    };
                    let committed = self.ingest(lane, &sorted, config, counters).await?;
                    self.ingest_committed();
                    Ok(committed)
                }

                fn ingest_lanes(&self) -> usize {
                    <$store>::INGEST_LANES
                }

                async fn states(
                    &self,
                    trackers: &[TrackerId],
                ) -> Result<HashMap<TrackerId, TrackerState>> {
                    let ids: Vec<i64> = trackers.iter().map(|t| t.0).collect();
                    Ok(self
                        .read_json_rows(PerTracker::State, &ids)
                        .await?
                        .into_iter()
                        .map(|(id, text)| (TrackerId(id), shared::parse_state(id, &text)))
                        .collect())
                }

                async fn tracker_states(
                    &self,
                    account: UserId,
                    ids: Option<&[TrackerId]>,
                ) -> Result<
                    Vec<(
                        std::sync::Arc<Tracker>,
                        Option<std::sync::Arc<TrackerState>>,
                    )>,
                > {
                    self.trackers_with(
                        account,
                        ids,
                        PerTracker::State,
                        |published, ids| published.states(ids),
                        |id, text| Some(std::sync::Arc::new(shared::parse_state(id, text))),
                    )
                    .await
                }
            }
        };
    };
}
pub(crate) use impl_store;
