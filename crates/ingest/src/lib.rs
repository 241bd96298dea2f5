//! Ingest: decoded records in, committed points out.
//!
//! Connections hand their points to one writer task through a queue and wait. The writer takes
//! whatever has queued up while the previous commit ran (group commit), stores it in one
//! transaction, and only once that is durable answers every waiting connection, which
//! acknowledges its device. A commit may be visible before it is durable (SQLite's WAL is
//! synced after it, `Durable`): its answers then wait on the shared runtime while the writer
//! commits the next batch. One writer keeps one order: a tracker's points are committed in
//! the order they arrived. The same transaction moves each tracker's live state by the
//! batch's points (DESIGN §1, §4).

pub mod convert;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use trackd_core::counter::CounterConfig;
use trackd_core::metrics::Metrics;
use trackd_core::point::Point;
use trackd_core::state::StateConfig;
use trackd_store::{Durable, Store, StoreError};

pub use convert::to_point;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Most points in one commit. Larger commits are cheaper per point (DESIGN §1); the cap
    /// bounds memory and the latency a device waits behind a big batch.
    pub max_batch_points: usize,
    /// Submissions that may wait for the writer before connections wait to enqueue.
    pub queue_capacity: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_batch_points: 20_000,
            queue_capacity: 16_384,
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
}

/// The rules a batch moves trackers' state and counters by.
struct Rules {
    state: StateConfig,
    counters: CounterConfig,
}

struct Submission {
    points: Vec<Point>,
    done: oneshot::Sender<Result<(), IngestError>>,
}

/// A handle to the writer; cheap to clone, one per connection.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Submission>,
    metrics: Arc<Metrics>,
}

impl Ingest {
    /// Starts the writer on a thread of its own. It stops once every handle is dropped and the
    /// queue is drained. `state` holds the rules a tracker's state moves by (the movement
    /// thresholds), `counters` those its counters count by. Fails only if the thread cannot be
    /// started.
    pub fn start(
        store: Arc<dyn Store>,
        config: IngestConfig,
        state: StateConfig,
        counters: CounterConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Ingest, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let writer = writer(
            store,
            rx,
            config.max_batch_points.max(1),
            Rules { state, counters },
            metrics.clone(),
            tokio::runtime::Handle::current(),
        );
        Ok((Ingest { tx, metrics }, run_on_own_thread(writer)?))
    }

    /// Stores the points and returns once they are committed (or the commit failed).
    pub async fn submit(&self, points: Vec<Point>) -> Result<(), IngestError> {
        if points.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        Metrics::inc(&self.metrics.ingest_queue_depth);
        if self.tx.send(Submission { points, done }).await.is_err() {
            Metrics::dec(&self.metrics.ingest_queue_depth);
            return Err(IngestError::Closed);
        }
        wait.await.unwrap_or(Err(IngestError::Closed))
    }
}

/// Runs the writer on a thread of its own, with a runtime of its own. A commit is a chain of
/// round trips to the database, and each time the database answers the writer must go on at
/// once: on the shared runtime it waited behind the hundreds of connection tasks its last
/// commit had just woken (8 ms of an 82 ms commit went to `BEGIN` alone; 0.5 ms here), and the
/// database sat idle meanwhile. The returned task ends when the writer does, and fails if it
/// panicked.
fn run_on_own_thread(
    writer: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done, finished) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("ingest-writer".into())
        .spawn(move || {
            runtime.block_on(writer);
            let _ = done.send(());
        })?;
    Ok(tokio::spawn(async move {
        if finished.await.is_err() {
            panic!("the ingest writer panicked");
        }
    }))
}

/// `answers` is the runtime the answers of a commit wait on until it is durable: not the
/// writer's own, which is busy with the next commit.
async fn writer(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Submission>,
    max_batch: usize,
    rules: Rules,
    metrics: Arc<Metrics>,
    answers: tokio::runtime::Handle,
) {
    let mut batch: Vec<Submission> = Vec::new();
    let mut points: Vec<Point> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut queued = first.points.len();
        batch.push(first);
        while queued < max_batch {
            match rx.try_recv() {
                Ok(next) => {
                    queued += next.points.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        for _ in 0..batch.len() {
            Metrics::dec(&metrics.ingest_queue_depth);
        }
        points.clear();
        let mut sizes = Vec::with_capacity(batch.len());
        for s in &mut batch {
            sizes.push(s.points.len());
            points.append(&mut s.points);
        }
        let started = Instant::now();
        let result = commit(store.as_ref(), &points, &rules).await;
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
                    let alone = commit(store.as_ref(), own, &rules).await;
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
                answers.spawn(answer_when_durable(durable, waiting));
            }
            Err(e) => answer(&mut batch, Err(IngestError::Commit(e.to_string()))),
        }
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
    points: &[Point],
    rules: &Rules,
) -> Result<(u64, Durable), StoreError> {
    let (state, counters) = (&rules.state, &rules.counters);
    match store
        .commit_points_and_states(points, state, counters)
        .await
    {
        Err(StoreError::Unavailable(_)) => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            store
                .commit_points_and_states(points, state, counters)
                .await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_is_answered_once_its_commit_is_durable() {
        let (synced, waiting) = oneshot::channel();
        let (done, mut answer) = oneshot::channel();
        let batch = vec![Submission {
            points: Vec::new(),
            done,
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
