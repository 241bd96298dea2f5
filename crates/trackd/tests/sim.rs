//! The simulator against a real server on port 0: every acknowledged record is stored, and
//! `serve --demo`'s devices bring points.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use support::devices::DEADLINE;
use support::{Enc, TestApp};
use trackd::demo::Demo;
use trackd_core::{TrackerId, UserId};
use trackd_sim::{fleet, DeviceSpec, Mix, Phase, SimConfig, SimProtocol, Targets};

fn targets(app: &TestApp) -> Targets {
    Targets::from_fn(|p, t| app.server.device_addr(p, t))
}

/// A server with alice, and `n` simulated devices (serials from `first`) registered as hers.
async fn app_with_fleet(n: usize, first: u64) -> (TestApp, UserId, Vec<DeviceSpec>, Trackers) {
    let app = TestApp::spawn().await;
    app.master().await;
    let owner = app
        .store
        .user_by_login("alice")
        .await
        .expect("read")
        .expect("alice");
    let devices = fleet(n, &Mix::default(), first);
    let ids = trackd_sim::register(app.store.clone(), owner.id, &devices)
        .await
        .expect("register");
    (app, owner.id, devices, ids)
}

/// The tracker registered for each device.
type Trackers = HashMap<String, TrackerId>;

#[tokio::test]
async fn every_acknowledged_record_is_stored() {
    let (app, owner, devices, ids) = app_with_fleet(20, 1000).await;
    assert_eq!(ids.len(), 20);
    // Registering again finds the same trackers.
    let again = trackd_sim::register(app.store.clone(), owner, &devices)
        .await
        .expect("register again");
    assert_eq!(again, ids);

    let config = SimConfig {
        batch: 4,
        interval: Duration::from_secs(5),
        realtime: false,
        records_per_device: Some(20),
        ..SimConfig::default()
    };
    let report = trackd_sim::run(devices.clone(), &targets(&app), &config, None).await;
    assert_eq!(report.errors, 0, "{report}");
    assert_eq!(report.connected, 20, "{report}");
    assert_eq!(
        (report.records_sent, report.records_acked),
        (400, 400),
        "{report}"
    );
    assert_eq!(
        report.latency.count, 100,
        "5 messages of 4 records per device"
    );
    let protocols: HashMap<SimProtocol, usize> = report.per_protocol.clone().into_iter().collect();
    assert_eq!(protocols.len(), 3, "all three protocols took part");

    // Acknowledged means committed: each device's records are there, at their times.
    for outcome in &report.outcomes {
        let tracker = ids[&outcome.device_id];
        let stored = app
            .store
            .points(tracker, 0, i64::MAX, 1000)
            .await
            .expect("points");
        let times: Vec<i64> = stored.iter().map(|p| p.time).collect();
        let expected: Vec<i64> = outcome.acked_times().collect();
        assert_eq!(times, expected, "{}", outcome.device_id);
        let first = &stored[0];
        assert!(first.position.is_some_and(|p| p.valid));
        assert!(first.ignition.is_some());
        assert!(
            first.io.get("board_voltage").is_some() && first.io.get("lls_level_1").is_some(),
            "{:?}",
            first.io
        );
    }
}

/// A timed run tells when its measured window opens and closes, and its devices go on
/// through the cool-down after it, unmeasured, before the run ends.
#[tokio::test]
async fn a_timed_run_tells_its_window_and_cools_down_after_it() {
    let (app, _, devices, _) = app_with_fleet(6, 2000).await;
    let (phase_tx, mut phase_rx) = tokio::sync::watch::channel(Phase::Before);
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        while phase_rx.changed().await.is_ok() {
            seen.push((*phase_rx.borrow_and_update(), Instant::now()));
        }
        seen
    });
    let cooldown = Duration::from_millis(400);
    let config = SimConfig {
        batch: 2,
        interval: Duration::from_secs(5),
        realtime: false,
        duration: Some(Duration::from_millis(600)),
        warmup: Duration::from_millis(200),
        cooldown,
        phase: Some(phase_tx),
        ..SimConfig::default()
    };
    let report = trackd_sim::run(devices, &targets(&app), &config, None).await;
    let ended = Instant::now();
    drop(config);
    let seen = watcher.await.expect("watcher");
    let phases: Vec<Phase> = seen.iter().map(|(p, _)| *p).collect();
    assert_eq!(phases, [Phase::Measuring, Phase::Measured], "{report}");
    assert!(
        ended - seen[1].1 >= cooldown,
        "the devices went on after the window"
    );
    assert_eq!(report.errors, 0, "{report}");
    assert!(
        report.records_acked > report.window_records,
        "records outside the window (warm-up, cool-down) are not counted in it: {report}"
    );
}

#[tokio::test]
async fn demo_devices_drive_and_their_points_arrive() {
    let app = TestApp::spawn().await;
    let demo = Demo::start(&app.server, app.store.clone(), Duration::from_millis(100))
        .await
        .expect("demo");
    assert_eq!(demo.trackers.len(), 5);
    let text = demo.instructions(app.server.http_addr);
    assert!(
        text.contains(&format!("password={}", demo.password)),
        "{text}"
    );
    assert!(text.contains(&app.base), "{text}");

    // The printed login works, and the demo's trackers are the user's.
    let (status, auth) = app
        .call(
            Enc::Form,
            "user/auth",
            json!({"login": "demo", "password": demo.password}),
        )
        .await;
    assert_eq!(status, 200, "{auth}");
    let hash = auth["hash"].as_str().expect("hash");
    let (_, list) = app
        .call(Enc::Query, "tracker/list", json!({"hash": hash}))
        .await;
    assert_eq!(list["list"].as_array().map(Vec::len), Some(5), "{list}");

    let trackers: Vec<TrackerId> = demo.trackers.iter().map(|(_, t)| *t).collect();
    let deadline = Instant::now() + DEADLINE * 2;
    loop {
        let mut all = true;
        for t in &trackers {
            all &= app.store.count_points(*t).await.expect("count") >= 2;
        }
        if all {
            break;
        }
        assert!(Instant::now() < deadline, "demo points did not arrive");
        tokio::task::yield_now().await;
    }
    let report = demo.stop().await.expect("stop");
    assert_eq!(report.errors, 0, "{report}");
    assert!(report.records_acked >= 10, "{report}");

    // A second start (a restarted demo) reuses the user and trackers, with a new password.
    let again = Demo::start(&app.server, app.store.clone(), Duration::from_secs(60))
        .await
        .expect("demo again");
    assert_eq!(
        again.trackers.iter().map(|(_, t)| *t).collect::<Vec<_>>(),
        trackers
    );
    again.stop().await.expect("stop");
}
