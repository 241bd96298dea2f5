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
    let store = trackd_store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .expect("store");
    let metrics = Arc::new(Metrics::default());
    let (ingest, writer) = Ingest::start(
        store.clone(),
        IngestConfig::default(),
        StateConfig::default(),
        trackd_core::counter::CounterConfig::default(),
        metrics.clone(),
    )
    .expect("writer thread");
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
