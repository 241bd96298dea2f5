//! Ingest: decoded records in, committed points out.
//!
//! Connections hand their points to a writer through a queue and wait. The writer takes
//! whatever has queued up while the previous commit ran (group commit), and what comes until
//! the oldest of it has waited `IngestConfig::linger_ms`, stores it in one transaction, and
//! only once that is durable answers every waiting connection, which acknowledges its
//! device. A commit may be visible before it is durable (SQLite's WAL is
//! synced after it, `Durable`): its answers then wait on the shared runtime while the writer
//! commits the next batch. The same transaction moves each tracker's live state by the
//! batch's points (DESIGN §1, §4).
//!
//! SQLite has one writer. PostgreSQL runs commits side by side, so there it has several
//! (`IngestConfig::writers`), each with its own queue, thread and connection, and a tracker
//! always goes to the same one: each writer keeps one order, so a tracker's points are
//! committed in the order they arrived, and no two commits wait on each other's rows.

pub mod convert;
mod reclaim;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use trackd_core::counter::CounterConfig;
use trackd_core::metrics::Metrics;
use trackd_core::point::Point;
use trackd_core::state::StateConfig;
use trackd_core::TrackerId;
use trackd_store::{Durable, EncodedPoint, IngestLane, Store, StoreError};

use reclaim::Reclaimer;

pub use convert::to_point;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Most points in one commit. Larger commits are cheaper per point (DESIGN §1); the cap
    /// bounds memory and the latency a device waits behind a big batch.
    pub max_batch_points: usize,
    /// Submissions that may wait for the writers before connections wait to enqueue,
    /// shared among them.
    pub queue_capacity: usize,
    /// Writers committing side by side, each for trackers of its own; 0 picks one per core,
    /// up to 4. The database bounds it: SQLite commits one transaction at a time and has one
    /// writer whatever this says, PostgreSQL up to 8.
    pub writers: usize,
    /// Longest a submission waits, from when it was queued, for others to share its commit.
    /// A busy writer's queue has waited that long already, so it costs nothing under load;
    /// at lighter load it turns many small commits into fewer larger ones, each costing the
    /// database a fixed round of statements (BENCHMARKS.md: at half the target rate, 5 ms
    /// took commits from 22 to 86 rows on PostgreSQL and the machine from 1.5 cores busy to
    /// 0.95). 0 commits whatever has queued at once.
    pub linger_ms: u64,
}

/// The writers `writers = 0` starts at most: beyond a few, commits wait on the database's
/// disk and locks rather than on round trips.
const AUTO_WRITERS: usize = 4;

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_batch_points: 20_000,
            queue_capacity: 16_384,
            writers: 0,
            linger_ms: 5,
        }
    }
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum IngestError {
    /// The commit failed; nothing of the batch was stored. The device is not acknowledged and
    /// will resend.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The writer has stopped (shutdown).
    #[error("ingest is shutting down")]
    Closed,
    /// A point no store keeps (a float that is not finite); refused before it reached a
    /// writer, so no other device's batch waited on it.
    #[error("point refused: {0}")]
    Invalid(String),
}

/// The rules a batch moves trackers' state and counters by.
struct Rules {
    state: StateConfig,
    counters: CounterConfig,
}

struct Submission {
    points: Vec<EncodedPoint>,
    done: oneshot::Sender<Result<(), IngestError>>,
    /// When the connection handed it over: its wait for company is counted from here.
    queued_at: tokio::time::Instant,
}

/// How a writer makes its batches (`IngestConfig::max_batch_points`, `linger_ms`).
#[derive(Clone, Copy)]
struct Batching {
    max_points: usize,
    linger: Duration,
}

/// A handle to the writers; cheap to clone, one per connection.
#[derive(Clone)]
pub struct Ingest {
    /// A queue per writer, indexed by lane.
    lanes: Arc<[mpsc::Sender<Submission>]>,
    metrics: Arc<Metrics>,
}

impl Ingest {
    /// Starts the writers, each on a thread of its own. They stop once every handle is dropped
    /// and the queues are drained; the returned task ends when all have. `state` holds the
    /// rules a tracker's state moves by (the movement thresholds), `counters` those its
    /// counters count by. Fails only if a thread cannot be started.
    pub fn start(
        store: Arc<dyn Store>,
        config: IngestConfig,
        state: StateConfig,
        counters: CounterConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Ingest, JoinHandle<()>)> {
        let writers = writer_count(config.writers, store.ingest_lanes());
        let capacity = config.queue_capacity.div_ceil(writers).max(1);
        let rules = Arc::new(Rules { state, counters });
        let reclaimer = Reclaimer::start()?;
        let mut lanes = Vec::with_capacity(writers);
        let mut running = Vec::with_capacity(writers);
        for lane in 0..writers {
            let (tx, rx) = mpsc::channel(capacity);
            let writer = writer(
                store.clone(),
                IngestLane(lane),
                rx,
                Batching {
                    max_points: config.max_batch_points.max(1),
                    linger: Duration::from_millis(config.linger_ms),
                },
                rules.clone(),
                metrics.clone(),
                AfterCommit {
                    answers: tokio::runtime::Handle::current(),
                    reclaimer: reclaimer.clone(),
                },
            );
            lanes.push(tx);
            running.push(run_on_own_thread(writer, lane, writers)?);
        }
        tracing::info!(writers, "ingest writers started");
        let all = tokio::spawn(async move {
            for finished in running {
                if finished.await.is_err() {
                    panic!("an ingest writer panicked");
                }
            }
        });
        let ingest = Ingest {
            lanes: lanes.into(),
            metrics,
        };
        Ok((ingest, all))
    }

    /// How many writers commit side by side.
    pub fn writers(&self) -> usize {
        self.lanes.len()
    }

    /// Stores the points and returns once they are committed (or the commit failed). A
    /// submission is one device's points: it goes to the writer of its first point's tracker.
    ///
    /// The points are checked and encoded here, on the caller's task, beside the decoding
    /// that made them: the writer, which every commit waits for, only inserts.
    pub async fn submit(&self, points: Vec<Point>) -> Result<(), IngestError> {
        let Some(first) = points.first() else {
            return Ok(());
        };
        let lane = lane_of(first.tracker_id, self.lanes.len());
        let points = EncodedPoint::all(points).map_err(|e| {
            Metrics::inc(&self.metrics.points_refused_total);
            match e {
                StoreError::Invalid(why) => IngestError::Invalid(why),
                other => IngestError::Invalid(other.to_string()),
            }
        })?;
        let (done, wait) = oneshot::channel();
        Metrics::inc(&self.metrics.ingest_queue_depth);
        if self.lanes[lane]
            .send(Submission {
                points,
                done,
                queued_at: tokio::time::Instant::now(),
            })
            .await
            .is_err()
        {
            Metrics::dec(&self.metrics.ingest_queue_depth);
            return Err(IngestError::Closed);
        }
        wait.await.unwrap_or(Err(IngestError::Closed))
    }
}

/// The writers to start: as configured (0: one per core, up to `AUTO_WRITERS`), at most as
/// many as the store commits side by side, and at least one.
fn writer_count(configured: usize, lanes: usize) -> usize {
    let wanted = match configured {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(AUTO_WRITERS)),
        n => n,
    };
    if wanted > lanes && configured != 0 {
        tracing::warn!(
            configured,
            lanes,
            "ingest.writers is more than this database commits side by side; using {lanes}"
        );
    }
    wanted.min(lanes).max(1)
}

/// The writer of a tracker's points: always the same one, so they commit in arrival order.
fn lane_of(tracker: TrackerId, writers: usize) -> usize {
    usize::try_from(tracker.0.rem_euclid(writers.max(1) as i64)).unwrap_or(0)
}

/// Runs a writer on a thread of its own, with a runtime of its own. A commit is a chain of
/// round trips to the database, and each time the database answers the writer must go on at
/// once: on the shared runtime it waited behind the hundreds of connection tasks its last
/// commit had just woken (8 ms of an 82 ms commit went to `BEGIN` alone; 0.5 ms here), and the
/// database sat idle meanwhile. The returned receiver is answered when the writer ends, and
/// dropped unanswered if it panicked.
fn run_on_own_thread(
    writer: impl std::future::Future<Output = ()> + Send + 'static,
    lane: usize,
    writers: usize,
) -> std::io::Result<oneshot::Receiver<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done, finished) = oneshot::channel::<()>();
    // Thread names show in `top -H` and `perf` (at most 15 bytes).
    let name = if writers == 1 {
        "ingest-writer".to_owned()
    } else {
        format!("ingest-writer{lane}")
    };
    std::thread::Builder::new().name(name).spawn(move || {
        runtime.block_on(writer);
        let _ = done.send(());
    })?;
    Ok(finished)
}

/// Where a writer leaves what follows a commit, so that it goes on to the next at once.
struct AfterCommit {
    /// The runtime the answers of a commit wait on until it is durable: not the writer's
    /// own, which is busy with the next commit.
    answers: tokio::runtime::Handle,
    /// Frees the commit's points.
    reclaimer: Reclaimer<Vec<EncodedPoint>>,
}

async fn writer(
    store: Arc<dyn Store>,
    lane: IngestLane,
    mut rx: mpsc::Receiver<Submission>,
    batching: Batching,
    rules: Arc<Rules>,
    metrics: Arc<Metrics>,
    after: AfterCommit,
) {
    let mut batch: Vec<Submission> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut queued = first.points.len();
        let deadline = first.queued_at + batching.linger;
        Metrics::dec(&metrics.ingest_queue_depth);
        batch.push(first);
        while queued < batching.max_points {
            // Whatever has queued first; then, until the oldest has lingered long enough,
            // whatever comes. Past the deadline `timeout_at` still takes a ready one.
            let next = match rx.try_recv() {
                Ok(next) => next,
                Err(_) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(next)) => next,
                    // Lingered enough, or every handle is gone: commit what there is.
                    Ok(None) | Err(_) => break,
                },
            };
            Metrics::dec(&metrics.ingest_queue_depth);
            queued += next.points.len();
            batch.push(next);
        }
        let mut points: Vec<EncodedPoint> = Vec::with_capacity(queued);
        let mut sizes = Vec::with_capacity(batch.len());
        for s in &mut batch {
            sizes.push(s.points.len());
            points.append(&mut s.points);
        }
        let started = Instant::now();
        let result = commit(store.as_ref(), lane, &points, &rules).await;
        record(&metrics, started, &result, points.len());
        match result {
            Err(StoreError::Invalid(_) | StoreError::Database(_)) if batch.len() > 1 => {
                // One device's bad data must not keep every other device of the batch
                // unacknowledged forever: commit each submission alone, so only the culprit
                // fails. The failed batch was rolled back whole, so nothing is stored twice.
                let mut offset = 0;
                for (s, size) in batch.drain(..).zip(&sizes) {
                    let own = points.get(offset..offset + size).unwrap_or_default();
                    offset += size;
                    let started = Instant::now();
                    let alone = commit(store.as_ref(), lane, own, &rules).await;
                    record(&metrics, started, &alone, own.len());
                    let durable = match alone {
                        Ok((_, durable)) => durable.wait().await,
                        Err(e) => Err(e),
                    };
                    let _ = s
                        .done
                        .send(durable.map_err(|e| IngestError::Commit(e.to_string())));
                }
            }
            // Durable already (PostgreSQL, SQLite under NORMAL): answered from here.
            Ok((_, durable)) if durable.is_now() => answer(&mut batch, Ok(())),
            Ok((_, durable)) => {
                let waiting = std::mem::take(&mut batch);
                after.answers.spawn(answer_when_durable(durable, waiting));
            }
            Err(e) => answer(&mut batch, Err(IngestError::Commit(e.to_string()))),
        }
        after.reclaimer.reclaim(points);
    }
}

/// Answers a committed batch's connections once it is durable.
async fn answer_when_durable(durable: Durable, mut batch: Vec<Submission>) {
    let durable = durable
        .wait()
        .await
        .map_err(|e| IngestError::Commit(e.to_string()));
    answer(&mut batch, durable);
}

fn answer(batch: &mut Vec<Submission>, answer: Result<(), IngestError>) {
    for s in batch.drain(..) {
        // A connection that went away no longer waits for its answer: nothing to do.
        let _ = s.done.send(answer.clone());
    }
}

fn record(
    metrics: &Metrics,
    started: Instant,
    result: &Result<(u64, Durable), StoreError>,
    points: usize,
) {
    Metrics::inc(&metrics.commits_total);
    Metrics::add(
        &metrics.commit_latency_us_total,
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    match result {
        Ok((new, _)) => {
            Metrics::add(&metrics.points_total, *new);
            Metrics::add(
                &metrics.duplicate_points_total,
                (points as u64).saturating_sub(*new),
            );
        }
        Err(e) => {
            Metrics::inc(&metrics.commit_errors_total);
            tracing::warn!(error = %e, points, "ingest commit failed; devices will resend");
        }
    }
}

/// One commit, retried once after a short pause when the database was only busy: a brief
/// lock or a pool timeout should not make a whole batch of devices resend.
async fn commit(
    store: &dyn Store,
    lane: IngestLane,
    points: &[EncodedPoint],
    rules: &Rules,
) -> Result<(u64, Durable), StoreError> {
    let (state, counters) = (&rules.state, &rules.counters);
    match store
        .commit_points_and_states(lane, points, state, counters)
        .await
    {
        Err(StoreError::Unavailable(_)) => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            store
                .commit_points_and_states(lane, points, state, counters)
                .await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracker_always_goes_to_the_same_writer() {
        assert_eq!(lane_of(TrackerId(7), 1), 0);
        assert_eq!(lane_of(TrackerId(7), 2), 1);
        assert_eq!(lane_of(TrackerId(8), 2), 0);
        assert_eq!(lane_of(TrackerId(10), 4), 2);
        assert_eq!(lane_of(TrackerId(-3), 2), 1, "never out of range");
        assert_eq!(lane_of(TrackerId(5), 0), 0, "never divides by zero");
    }

    #[test]
    fn writers_are_as_configured_within_what_the_database_runs_side_by_side() {
        assert_eq!(writer_count(3, 8), 3);
        assert_eq!(writer_count(4, 1), 1, "SQLite: one");
        assert_eq!(writer_count(20, 8), 8);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(writer_count(0, 8), cores.min(AUTO_WRITERS));
        assert_eq!(writer_count(0, 1), 1);
    }

    #[tokio::test]
    async fn a_batch_is_answered_once_its_commit_is_durable() {
        let (synced, waiting) = oneshot::channel();
        let (done, mut answer) = oneshot::channel();
        let batch = vec![Submission {
            points: Vec::new(),
            done,
            queued_at: tokio::time::Instant::now(),
        }];
        let answering = tokio::spawn(answer_when_durable(Durable::after(waiting), batch));
        tokio::task::yield_now().await;
        assert!(
            matches!(answer.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            "not answered before the sync"
        );
        synced.send(Ok(())).expect("waiting");
        assert_eq!(answer.await, Ok(Ok(())));
        answering.await.expect("answered");

        let (failed, waiting) = oneshot::channel();
        let (done, answer) = oneshot::channel();
        let batch = vec![Submission {
            points: Vec::new(),
            done,
            queued_at: tokio::time::Instant::now(),
        }];
        failed
            .send(Err(StoreError::Database("EIO".into())))
            .expect("waiting");
        answer_when_durable(Durable::after(waiting), batch).await;
        assert!(
            matches!(answer.await, Ok(Err(IngestError::Commit(m))) if m.contains("EIO")),
            "a failed sync fails the batch: its devices resend"
        );
    }
}
