//! An ingest commit's work, written once over the reads and writes it makes inside its
//! transaction (`IngestTx`): the points inserted, each tracker's live state moved by them and
//! their counters counted (`counting`).
//!
//! `IngestTx` is implemented for sqlx transactions (PostgreSQL, and SQLite in memory) in
//! `store_impl`, and for SQLite's direct writer (`sqlite::ingest`), whose methods do their work
//! synchronously on the writer's thread.

use std::collections::HashMap;

use trackd_core::counter::{CounterConfig, CounterState, Event, HistoryRow};
use trackd_core::point::Point;
use trackd_core::sensor::Sensor;
use trackd_core::state::{StateConfig, TrackerState};

use super::counting;
use super::published::{At, Published, Wanted};
use crate::{EncodedPoint, Result, StoreError};

/// A table of one JSON value per tracker, keyed by `tracker_id`, its value in `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PerTracker {
    /// `tracker_state`: the live state.
    State,
    /// `counter_state`: the counters' fold.
    Counters,
}

impl PerTracker {
    pub fn table(self) -> &'static str {
        match self {
            PerTracker::State => "tracker_state",
            PerTracker::Counters => "counter_state",
        }
    }

    /// The rows of `trackers` trackers, bound as the `IN` list's parameters (numbered `$n`
    /// or bare `?`), with `tail` after the condition.
    pub fn select_in(self, numbered: bool, trackers: usize, tail: &str) -> String {
        self.columns_in("tracker_id, state", numbered, trackers, tail)
    }

    /// The rows' versions (PostgreSQL's, migration 10), as `select_in` finds the rows.
    pub fn versions_in(self, numbered: bool, trackers: usize) -> String {
        self.columns_in("tracker_id, version", numbered, trackers, "")
    }

    fn columns_in(self, columns: &str, numbered: bool, trackers: usize, tail: &str) -> String {
        format!(
            "SELECT {columns} FROM {} WHERE tracker_id IN ({}){tail}",
            self.table(),
            super::params(numbered, 1, trackers)
        )
    }
}

/// A history row to write, with its tracker and its state as JSON.
pub(crate) struct HistoryEntry<'a> {
    pub tracker: i64,
    pub row: &'a HistoryRow,
    pub state: String,
}

/// The last history checkpoint of a tracker before a time (`$1` tracker, `$2` time).
pub(crate) const CHECKPOINT_BEFORE: &str = "SELECT time, state FROM counter_history WHERE \
     tracker_id = $1 AND time < $2 ORDER BY time DESC LIMIT 1";

/// A tracker's whole points after a time (`$1` tracker, `$2` time), in time order.
pub(crate) const POINTS_AFTER: &str = concat!(
    "SELECT ",
    crate::shared::store_impl::point_columns!(),
    " FROM points WHERE tracker_id = $1 AND time > $2 ORDER BY time"
);

/// A tracker's counter changes dated at or after a time (`$1` tracker, `$2` time), in fold
/// order.
pub(crate) const EVENTS_FROM: &str = "SELECT seq, time, type, change FROM counter_events \
     WHERE tracker_id = $1 AND time >= $2 ORDER BY time, seq";

/// The start of an upsert of history rows; their 7 values follow (`VALUES`, or PostgreSQL's
/// arrays), then `HISTORY_CONFLICT`.
pub(crate) const HISTORY_INTO: &str = "INSERT INTO counter_history (tracker_id, bucket, \
     time, odometer, engine_hours, fuel_consumed, state) ";

/// What ends an upsert of history rows: a bucket written again is replaced.
pub(crate) const HISTORY_CONFLICT: &str = " ON CONFLICT (tracker_id, bucket) DO UPDATE SET \
     time = excluded.time, odometer = excluded.odometer, engine_hours = \
     excluded.engine_hours, fuel_consumed = excluded.fuel_consumed, state = excluded.state";

/// The sensors of a tracker (`$1`), by ID: where its counters read their sources.
pub(crate) const SENSORS_OF: &str = "SELECT * FROM sensors WHERE tracker_id = $1 ORDER BY id";

/// The reads and writes of an ingest commit (and of a counter change), inside one
/// transaction. IDs are given in ascending order.
pub(crate) trait IngestTx {
    /// The rows of `table` for these trackers, in tracker order; on PostgreSQL locked, since
    /// another node may ingest the same tracker.
    async fn json_rows(&mut self, table: PerTracker, ids: &[i64]) -> Result<Vec<(i64, String)>>;

    /// Writes rows of `table`, replacing what was there.
    async fn put_json_rows(&mut self, table: PerTracker, rows: &[(i64, String)]) -> Result<()>;

    /// The versions of these trackers' rows of `table` (PostgreSQL's, migration 10), locked
    /// as `json_rows` locks them, in tracker order; `None` where rows have no version
    /// (SQLite).
    async fn row_versions(
        &mut self,
        table: PerTracker,
        ids: &[i64],
    ) -> Result<Option<Vec<(i64, i64)>>>;

    /// The live states of these trackers; one without a stored state has none here.
    async fn states(&mut self, ids: &[i64]) -> Result<HashMap<i64, TrackerState>> {
        read_states(self, ids).await
    }

    /// Writes live states, each given with its JSON.
    async fn put_states(&mut self, states: Vec<(i64, TrackerState, String)>) -> Result<()> {
        self.put_json_rows(PerTracker::State, &json_of(states))
            .await
    }

    /// The counters' folds of these trackers; `None` for one stored that does not parse.
    async fn counter_states(&mut self, ids: &[i64]) -> Result<HashMap<i64, Option<CounterState>>> {
        read_counter_states(self, ids).await
    }

    /// Writes counters' folds, each given with its JSON.
    async fn put_counter_states(&mut self, states: Vec<(i64, CounterState, String)>) -> Result<()> {
        self.put_json_rows(PerTracker::Counters, &json_of(states))
            .await
    }

    /// Inserts points sorted by tracker and time, keeping a stored point of the same key, and
    /// meanwhile runs `side`, pure work that needs no transaction; returns how many points
    /// were new, and what `side` returned.
    async fn insert_points_while<R: Send, F: FnOnce() -> Result<R> + Send>(
        &mut self,
        sorted: &[&EncodedPoint],
        side: F,
    ) -> (Result<u64>, Result<R>);

    /// The sensors of these trackers, by tracker and ID.
    async fn sensors(&mut self, ids: &[i64]) -> Result<Vec<Sensor>>;

    /// The state of the tracker's last history row before `time` (`CHECKPOINT_BEFORE`).
    async fn checkpoint_before(&mut self, tracker: i64, time: i64) -> Result<Option<String>>;

    /// The tracker's points after `after` (`POINTS_AFTER`).
    async fn points_after(&mut self, tracker: i64, after: i64) -> Result<Vec<Point>>;

    /// The tracker's counter changes from `from` on (`EVENTS_FROM`).
    async fn events_from(&mut self, tracker: i64, from: i64) -> Result<Vec<Event>>;

    /// Upserts history rows (`HISTORY_INSERT`, `HISTORY_CONFLICT`).
    async fn put_history(&mut self, rows: &[HistoryEntry<'_>]) -> Result<()>;
}

/// The states a transaction wrote, kept or published once it commits.
#[derive(Default)]
pub(crate) struct Written {
    pub states: Vec<(i64, TrackerState)>,
    pub counters: Vec<(i64, CounterState)>,
}

/// An ingest transaction that remembers the states it writes, to publish them once it
/// commits (PostgreSQL's writers; SQLite's direct writer records its own).
///
/// It reads the states it moves from what its node published where it can: it locks the
/// rows and reads their versions, takes a tracker's state as published when it was
/// published at its row's version (so it is the row's, whoever wrote since), and reads and
/// parses only the others. The writers publish every state they commit, so under steady
/// ingest that is nearly all: PostgreSQL sends versions instead of a 700-byte JSON text a
/// tracker, and the writer clones a state instead of parsing one.
pub(crate) struct Recording<'t, T> {
    pub tx: &'t mut T,
    pub published: &'t Published,
    pub written: Written,
}

impl<T: IngestTx> Recording<'_, T> {
    /// The versions wanted of the rows of `table` for `ids` (locking them), or `None` where
    /// rows have no version.
    async fn wanted(&mut self, table: PerTracker, ids: &[i64]) -> Result<Option<Vec<Wanted>>> {
        let versions = self.tx.row_versions(table, ids).await?;
        Ok(versions.map(|v| v.into_iter().map(|(id, v)| (id, At::Version(v))).collect()))
    }
}

impl<T: IngestTx> IngestTx for Recording<'_, T> {
    async fn json_rows(&mut self, table: PerTracker, ids: &[i64]) -> Result<Vec<(i64, String)>> {
        self.tx.json_rows(table, ids).await
    }

    async fn put_json_rows(&mut self, table: PerTracker, rows: &[(i64, String)]) -> Result<()> {
        self.tx.put_json_rows(table, rows).await
    }

    async fn row_versions(
        &mut self,
        table: PerTracker,
        ids: &[i64],
    ) -> Result<Option<Vec<(i64, i64)>>> {
        self.tx.row_versions(table, ids).await
    }

    async fn states(&mut self, ids: &[i64]) -> Result<HashMap<i64, TrackerState>> {
        let Some(wanted) = self.wanted(PerTracker::State, ids).await? else {
            return read_states(self.tx, ids).await;
        };
        let (found, missing) = self.published.states(&wanted);
        let mut out: HashMap<i64, TrackerState> = found
            .into_iter()
            .map(|(id, state)| (id, TrackerState::clone(&state)))
            .collect();
        out.extend(read_states(self.tx, &missing).await?);
        Ok(out)
    }

    async fn counter_states(&mut self, ids: &[i64]) -> Result<HashMap<i64, Option<CounterState>>> {
        let Some(wanted) = self.wanted(PerTracker::Counters, ids).await? else {
            return read_counter_states(self.tx, ids).await;
        };
        let (found, missing) = self.published.counters(&wanted);
        let mut out: HashMap<i64, Option<CounterState>> = found
            .into_iter()
            .map(|(id, state)| (id, Some(CounterState::clone(&state))))
            .collect();
        out.extend(read_counter_states(self.tx, &missing).await?);
        Ok(out)
    }

    async fn put_states(&mut self, states: Vec<(i64, TrackerState, String)>) -> Result<()> {
        let (rows, parsed) = split(states);
        self.tx.put_json_rows(PerTracker::State, &rows).await?;
        self.written.states.extend(parsed);
        Ok(())
    }

    async fn put_counter_states(&mut self, states: Vec<(i64, CounterState, String)>) -> Result<()> {
        let (rows, parsed) = split(states);
        self.tx.put_json_rows(PerTracker::Counters, &rows).await?;
        self.written.counters.extend(parsed);
        Ok(())
    }

    async fn insert_points_while<R: Send, F: FnOnce() -> Result<R> + Send>(
        &mut self,
        sorted: &[&EncodedPoint],
        side: F,
    ) -> (Result<u64>, Result<R>) {
        self.tx.insert_points_while(sorted, side).await
    }

    async fn sensors(&mut self, ids: &[i64]) -> Result<Vec<Sensor>> {
        self.tx.sensors(ids).await
    }

    async fn checkpoint_before(&mut self, tracker: i64, time: i64) -> Result<Option<String>> {
        self.tx.checkpoint_before(tracker, time).await
    }

    async fn points_after(&mut self, tracker: i64, after: i64) -> Result<Vec<Point>> {
        self.tx.points_after(tracker, after).await
    }

    async fn events_from(&mut self, tracker: i64, from: i64) -> Result<Vec<Event>> {
        self.tx.events_from(tracker, from).await
    }

    async fn put_history(&mut self, rows: &[HistoryEntry<'_>]) -> Result<()> {
        self.tx.put_history(rows).await
    }
}

/// The live states of these trackers read from their rows and parsed (none to read: no
/// round trip).
async fn read_states<T: IngestTx + ?Sized>(
    tx: &mut T,
    ids: &[i64],
) -> Result<HashMap<i64, TrackerState>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tx.json_rows(PerTracker::State, ids).await?;
    Ok(parsed(rows, super::parse_state))
}

/// The counters' folds of these trackers read from their rows and parsed, as `read_states`.
async fn read_counter_states<T: IngestTx + ?Sized>(
    tx: &mut T,
    ids: &[i64],
) -> Result<HashMap<i64, Option<CounterState>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tx.json_rows(PerTracker::Counters, ids).await?;
    Ok(parsed(rows, counting::parse_counter_state))
}

/// Rows of a per-tracker JSON table to write: tracker and JSON.
type JsonRows = Vec<(i64, String)>;

/// States given with their JSON as the rows to write and the states.
fn split<S>(states: Vec<(i64, S, String)>) -> (JsonRows, Vec<(i64, S)>) {
    states
        .into_iter()
        .map(|(id, state, json)| ((id, json), (id, state)))
        .unzip()
}

/// Rows of a per-tracker JSON table, each parsed by `parse`.
pub(crate) fn parsed<S>(
    rows: Vec<(i64, String)>,
    parse: impl Fn(i64, &str) -> S,
) -> HashMap<i64, S> {
    rows.into_iter()
        .map(|(id, text)| (id, parse(id, &text)))
        .collect()
}

/// The rows of a per-tracker JSON table for states given with their JSON.
fn json_of<S>(states: Vec<(i64, S, String)>) -> JsonRows {
    split(states).0
}

/// A batch in key order, `None` when empty. Key order walks the key's index (SQLite's,
/// PostgreSQL's) in order, and makes concurrent batches on PostgreSQL that share keys wait on
/// them in the same order (no deadlock). The sort is stable, so of a point repeated within
/// the batch the first is kept, like a retransmission.
pub(crate) fn sorted(points: &[EncodedPoint]) -> Option<Vec<&EncodedPoint>> {
    if points.is_empty() {
        return None;
    }
    let mut sorted: Vec<&EncodedPoint> = points.iter().collect();
    sorted.sort_by_key(|p| (p.tracker_id.0, p.time));
    Some(sorted)
}

/// Stores a sorted batch inside `tx`: its points, the live states they move and the counters
/// they count. Returns how many points were new.
pub(crate) async fn write_batch<T: IngestTx>(
    tx: &mut T,
    sorted: &[&EncodedPoint],
    config: &StateConfig,
    counters: &CounterConfig,
) -> Result<u64> {
    // The states are read (and on PostgreSQL locked) first, so that they move while the
    // points insert: a commit's every step waits for the one before.
    let ids = trackers_of(sorted);
    let stored = tx.states(&ids).await?;
    let (new, states) = tx
        .insert_points_while(sorted, || moved_states(stored, &ids, sorted, config))
        .await;
    let new = new?;
    tx.put_states(states?).await?;
    counting::count(tx, sorted, &ids, counters).await?;
    Ok(new)
}

/// The tracker IDs of `sorted`, in order, each once.
fn trackers_of(sorted: &[&EncodedPoint]) -> Vec<i64> {
    let mut ids: Vec<i64> = sorted.iter().map(|p| p.tracker_id.0).collect();
    ids.dedup();
    ids
}

/// The states of `ids` (the trackers of `sorted`) moved by their points, each with the JSON
/// to store.
fn moved_states(
    mut states: HashMap<i64, TrackerState>,
    ids: &[i64],
    sorted: &[&EncodedPoint],
    config: &StateConfig,
) -> Result<Vec<(i64, TrackerState, String)>> {
    for p in sorted {
        states.entry(p.tracker_id.0).or_default().apply(p, config);
    }
    ids.iter()
        .map(|&id| {
            let state = states.remove(&id).unwrap_or_default();
            serde_json::to_string(&state)
                .map(|json| (id, state, json))
                .map_err(|e| StoreError::Invalid(format!("state of tracker {id}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use trackd_core::TrackerId;

    #[test]
    fn a_batch_sorts_by_key_keeping_the_first_of_a_repeat() {
        let mut late = Point::empty(TrackerId(1), 10, 1);
        late.buffered = true;
        let points = EncodedPoint::all([
            Point::empty(TrackerId(2), 5, 0),
            Point::empty(TrackerId(1), 10, 0),
            Point::empty(TrackerId(1), 3, 0),
            late,
        ])
        .unwrap();
        let sorted = sorted(&points).unwrap();
        let keys: Vec<(i64, i64, bool)> = sorted
            .iter()
            .map(|p| (p.tracker_id.0, p.time, p.buffered))
            .collect();
        assert_eq!(
            keys,
            [(1, 3, false), (1, 10, false), (1, 10, true), (2, 5, false)]
        );
        assert_eq!(trackers_of(&sorted), [1, 2]);
        assert!(super::sorted(&[]).is_none());
    }
}
