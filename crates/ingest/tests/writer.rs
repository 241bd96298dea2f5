//! The group-commit writer against a real SQLite store.

use std::sync::Arc;

use trackd_core::metrics::Metrics;
use trackd_core::point::{Point, Position};
use trackd_core::state::StateConfig;
use trackd_core::TrackerId;
use trackd_ingest::{Ingest, IngestConfig, IngestError};

fn point(tracker: i64, time: i64, lat: f64) -> Point {
    let mut p = Point::empty(TrackerId(tracker), time, time);
    p.position = Some(Position {
        lat,
        lng: 13.4,
        altitude: None,
        speed: None,
        heading: None,
        satellites: None,
        hdop: None,
        valid: true,
        lbs: false,
    });
    p
}

#[tokio::test]
async fn one_bad_submission_does_not_fail_the_others_in_its_batch() {
    let dir = tempfile::tempdir().expect("dir");
    let store = sqlite_store(&dir).await;
    let (ingest, metrics, writer) = start(store.clone(), 0);
    // Submitted together so the writer is likely to take them as one batch; the result must
    // be the same either way.
    let mut calls = Vec::new();
    for tracker in 1..=20 {
        let lat = if tracker == 7 { 200.0 } else { 52.5 };
        let ingest = ingest.clone();
        calls.push(tokio::spawn(async move {
            ingest
                .submit(vec![
                    point(tracker, 1_000, lat),
                    point(tracker, 2_000, 52.6),
                ])
                .await
        }));
    }
    for (i, call) in calls.into_iter().enumerate() {
        let result = call.await.expect("join");
        if i + 1 == 7 {
            assert!(matches!(result, Err(IngestError::Commit(_))), "{result:?}");
        } else {
            assert_eq!(result, Ok(()), "tracker {}", i + 1);
        }
    }
    for tracker in 1..=20 {
        let expected = if tracker == 7 { 0 } else { 2 };
        assert_eq!(
            store.count_points(TrackerId(tracker)).await.expect("count"),
            expected,
            "tracker {tracker}"
        );
    }
    drop(ingest);
    writer
        .await
        .expect("writer stops once every handle is gone");
    assert_eq!(Metrics::get(&metrics.points_total), 38);
}

/// A SQLite store in a file of `dir`.
async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn trackd_store::Store> {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    trackd_store::open(&url).await.expect("store")
}

/// Starts `writers` writers on `store`.
fn start(
    store: Arc<dyn trackd_store::Store>,
    writers: usize,
) -> (Ingest, Arc<Metrics>, tokio::task::JoinHandle<()>) {
    let metrics = Arc::new(Metrics::default());
    let (ingest, task) = Ingest::start(
        store,
        IngestConfig {
            writers,
            ..IngestConfig::default()
        },
        StateConfig::default(),
        trackd_core::counter::CounterConfig::default(),
        metrics.clone(),
    )
    .expect("writer threads");
    (ingest, metrics, task)
}

#[tokio::test]
async fn sqlite_has_one_writer_whatever_the_configuration_says() {
    let dir = tempfile::tempdir().expect("dir");
    let store = sqlite_store(&dir).await;
    let (ingest, _, task) = start(store, 4);
    assert_eq!(ingest.writers(), 1);
    drop(ingest);
    task.await.expect("the writer stops");
}

/// Two writers on PostgreSQL, many trackers each sending one message after another: every
/// point is stored once, no commit fails (two writers never wait on each other's rows), and
/// each tracker's state is its last message's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_side_by_side_store_every_trackers_points() {
    let Some(db) = trackd_store::testing::fresh_database().await else {
        return;
    };
    let store = trackd_store::open(db.url()).await.expect("store");
    let (ingest, metrics, task) = start(store.clone(), 2);
    assert_eq!(ingest.writers(), 2);
    const TRACKERS: i64 = 40;
    const MESSAGES: i64 = 10;
    let mut devices = Vec::new();
    for tracker in 1..=TRACKERS {
        let ingest = ingest.clone();
        devices.push(tokio::spawn(async move {
            for m in 0..MESSAGES {
                let t = 1_000 + m * 3_000;
                let lat = 50.0 + m as f64 / 100.0;
                let message = vec![
                    point(tracker, t, lat - 0.002),
                    point(tracker, t + 1_000, lat - 0.001),
                    point(tracker, t + 2_000, lat),
                ];
                ingest.submit(message).await.expect("committed");
            }
        }));
    }
    for device in devices {
        device.await.expect("device");
    }
    drop(ingest);
    task.await
        .expect("the writers stop once every handle is gone");
    assert_eq!(Metrics::get(&metrics.commit_errors_total), 0);
    assert_eq!(
        Metrics::get(&metrics.points_total),
        (TRACKERS * MESSAGES * 3) as u64
    );
    let ids: Vec<TrackerId> = (1..=TRACKERS).map(TrackerId).collect();
    let states = store.states(&ids).await.expect("states");
    for id in ids {
        assert_eq!(
            store.count_points(id).await.expect("count"),
            (MESSAGES * 3) as u64,
            "{id:?}"
        );
        let fix = states[&id].gps.as_ref().expect("a fix");
        assert_eq!(
            (fix.time, fix.lat),
            (1_000 + (MESSAGES - 1) * 3_000 + 2_000, 50.09)
        );
    }
}
