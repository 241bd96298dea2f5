//! The group-commit writer against a real SQLite store.

use std::sync::Arc;
use std::time::Duration;

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

/// A point no store keeps is refused on the submitting task: it never reaches a writer,
/// so the batch it would have joined is not committed again submission by submission.
#[tokio::test]
async fn a_point_that_is_not_finite_is_refused_before_the_writer() {
    let dir = tempfile::tempdir().expect("dir");
    let store = sqlite_store(&dir).await;
    let (ingest, metrics, writer) = start(store.clone(), 0);
    let mut bad = point(1, 2_000, 52.6);
    if let Some(pos) = bad.position.as_mut() {
        pos.speed = Some(f64::NAN);
    }
    let result = ingest.submit(vec![point(1, 1_000, 52.5), bad]).await;
    assert_eq!(
        result,
        Err(IngestError::Invalid(
            "point of tracker 1 at 2000: speed is Some(NaN)".into()
        ))
    );
    assert_eq!(Metrics::get(&metrics.commits_total), 0, "no commit tried");
    assert_eq!(Metrics::get(&metrics.points_refused_total), 1);
    assert_eq!(Metrics::get(&metrics.ingest_queue_depth), 0);
    ingest
        .submit(vec![point(1, 1_000, 52.5)])
        .await
        .expect("the next submission is committed");
    assert_eq!(store.count_points(TrackerId(1)).await.expect("count"), 1);
    assert_eq!(Metrics::get(&metrics.commits_total), 1);
    drop(ingest);
    writer.await.expect("writer stops");
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
    start_with(
        store,
        IngestConfig {
            writers,
            ..IngestConfig::default()
        },
    )
}

fn start_with(
    store: Arc<dyn trackd_store::Store>,
    config: IngestConfig,
) -> (Ingest, Arc<Metrics>, tokio::task::JoinHandle<()>) {
    let metrics = Arc::new(Metrics::default());
    let (ingest, task) = Ingest::start(
        store,
        config,
        StateConfig::default(),
        trackd_core::counter::CounterConfig::default(),
        metrics.clone(),
    )
    .expect("writer threads");
    (ingest, metrics, task)
}

/// A writer lingering for an hour commits as soon as its batch is full: the two
/// submissions share one commit, and neither waits the hour.
#[tokio::test]
async fn submissions_within_the_linger_share_a_commit_that_a_full_batch_ends() {
    let dir = tempfile::tempdir().expect("dir");
    let store = sqlite_store(&dir).await;
    let (ingest, metrics, writer) = start_with(
        store.clone(),
        IngestConfig {
            max_batch_points: 4,
            linger_ms: 3_600_000,
            ..IngestConfig::default()
        },
    );
    let mut first = Box::pin(ingest.submit(vec![point(1, 1_000, 52.5), point(1, 2_000, 52.6)]));
    // Polled once (a zero timeout polls before it checks the time): queued, now waiting.
    assert!(tokio::time::timeout(Duration::ZERO, &mut first)
        .await
        .is_err());
    // Then taken by the writer before the second is queued: without the linger it would be
    // committed alone.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while Metrics::get(&metrics.ingest_queue_depth) != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never took it"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let second = ingest.submit(vec![point(2, 1_000, 52.5), point(2, 2_000, 52.6)]);
    assert_eq!(tokio::join!(first, second), (Ok(()), Ok(())));
    assert_eq!(
        Metrics::get(&metrics.commits_total),
        1,
        "one commit for both"
    );
    assert_eq!(Metrics::get(&metrics.points_total), 4);
    drop(ingest);
    writer.await.expect("the writer stops");
}

/// A submission nothing joins is committed once it has lingered, not left waiting for
/// company.
#[tokio::test]
async fn a_lone_submission_is_committed_after_its_linger() {
    let dir = tempfile::tempdir().expect("dir");
    let store = sqlite_store(&dir).await;
    let (ingest, metrics, writer) = start_with(
        store.clone(),
        IngestConfig {
            linger_ms: 20,
            ..IngestConfig::default()
        },
    );
    let submitted = ingest.submit(vec![point(3, 1_000, 52.5)]);
    let answered = tokio::time::timeout(Duration::from_secs(60), submitted).await;
    assert_eq!(answered, Ok(Ok(())));
    assert_eq!(store.count_points(TrackerId(3)).await.expect("count"), 1);
    assert_eq!(Metrics::get(&metrics.commits_total), 1);
    drop(ingest);
    writer.await.expect("the writer stops");
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
