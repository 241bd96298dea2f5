//! Counters over HTTP, in all three encodings with exact bodies: `tracker/counter/read`,
//! `update`, `value/get` (and `value/read`), `value/list`, `value/set`, `data/read` (and
//! `data/list`), `tracker/get_counters`, and the counters `tracker/readings/list` and
//! `readings/batch_list` show. A simulated Wialon IPS device drives north over a real socket;
//! the clock is stopped, so every time in an answer is known.

mod support;

use chrono::DateTime;
use serde_json::{json, Value};
use support::devices::{register, send_wialon};
use support::{error, invalid, ok, Enc, TestApp};
use trackd::admin;
use trackd_core::track::distance_km;
use trackd_protocol::Protocol;

/// 2025-06-02 08:00:00 UTC: 10:00:00 in Berlin, the users' zone (summer time, UTC+2). A
/// whole number of 5-minute history intervals.
const T0: i64 = 1_748_851_200_000;
const BERLIN_MS: i64 = 2 * 3_600_000;

const IMEI_A: &str = "861234567890123";
const IMEI_OTHER: &str = "861234567890131";

/// T0 + `secs` as the users read it.
fn at(secs: i64) -> Value {
    let berlin = DateTime::from_timestamp_millis(T0 + secs * 1000 + BERLIN_MS).expect("time");
    json!(berlin.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A Wialon IPS record at T0 + `secs`, `step` hundredths of a degree north of 55.5 N, moving
/// at 60 km/h with a valid fix.
fn record(secs: i64, step: u32) -> String {
    let t = DateTime::from_timestamp_millis(T0 + secs * 1000).expect("time");
    let minutes = 30.0 + f64::from(step) * 0.6;
    format!(
        "#D#{};{};55{minutes:08.5};N;03715.00000;E;60;0;120;9;0.9;0;0;NA;NA;NA\r\n",
        t.format("%d%m%y"),
        t.format("%H%M%S"),
    )
}

struct Setup {
    app: TestApp,
    alice: String,
    /// Alice's tracker the device drives.
    a: i64,
    /// Alice's second tracker, with a device of its own.
    other: i64,
    /// Alice's blocked tracker.
    blocked: i64,
}

async fn setup_with(tweak: impl FnOnce(&mut trackd::Config)) -> Setup {
    let app = TestApp::spawn_with(tweak).await;
    app.server.state.clock.stop_at(T0);
    let alice = app.master().await;
    let alice_id = app.user_id("alice").await;
    let store = app.store.as_ref();
    let a = register(store, alice_id, Protocol::Wialon, IMEI_A).await.0;
    let other = register(store, alice_id, Protocol::Wialon, IMEI_OTHER)
        .await
        .0;
    let blocked = register(store, alice_id, Protocol::Wialon, "861234567890149")
        .await
        .0;
    admin::set_blocked(store, blocked, true)
        .await
        .expect("block");
    Setup {
        app,
        alice,
        a,
        other,
        blocked,
    }
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

impl Setup {
    /// Calls in every encoding and checks the (common) answer.
    async fn expect(&self, path: &str, params: Value, expected: (u16, Value)) {
        let answer = self.app.call_all(path, params.clone()).await;
        assert_eq!(answer, expected, "{path} {params}");
    }

    /// As [`Setup::expect`], numbers within 1e-9: GPS distances summed here, in another order
    /// than the fold's, may differ from its sum in the last bits.
    async fn expect_close(&self, path: &str, params: Value, expected: (u16, Value)) {
        let answer = self.app.call_all(path, params.clone()).await;
        assert_eq!(answer.0, expected.0, "{path} {params}: {}", answer.1);
        assert!(
            close(&answer.1, &expected.1),
            "{path} {params}: {} is not {}",
            answer.1,
            expected.1
        );
    }

    /// The counter's ID from `counter/read`, whose answer must be the counter with it.
    async fn counter_id(&self, tracker: i64, kind: &str, multiplier: f64) -> i64 {
        let params = self.params(tracker, kind, json!({}));
        let (status, body) = self.app.call_all("tracker/counter/read", params).await;
        let id = body["value"]["id"].as_i64().expect("id");
        let expected = json!({"success": true,
                              "value": {"id": id, "type": kind, "multiplier": multiplier}});
        assert_eq!((status, body), (200, expected));
        assert!(id > 0);
        id
    }

    /// `tracker_id` and `type` with alice's hash, plus `extra`.
    fn params(&self, tracker: i64, kind: &str, extra: Value) -> Value {
        let mut p = json!({"hash": self.alice, "tracker_id": tracker, "type": kind});
        if let (Some(p), Value::Object(e)) = (p.as_object_mut(), extra) {
            p.extend(e);
        }
        p
    }

    async fn set(&self, tracker: i64, kind: &str, value: f64) {
        let params = self.params(tracker, kind, json!({"value": value}));
        self.expect("tracker/counter/value/set", params, ok(json!({})))
            .await;
    }

    async fn value(&self, tracker: i64, kind: &str) -> (u16, Value) {
        let params = self.params(tracker, kind, json!({}));
        let answer = self.app.call_all("tracker/counter/value/get", params).await;
        let again = self
            .app
            .call_all(
                "tracker/counter/value/read",
                self.params(tracker, kind, json!({})),
            )
            .await;
        assert_eq!(answer, again, "value/read is value/get");
        answer
    }

    async fn sensor(&self, tracker: i64, sensor: Value) -> i64 {
        let params = json!({"hash": self.alice, "tracker_id": tracker, "sensor": sensor});
        let (status, body) = self
            .app
            .call(Enc::Json, "tracker/sensor/create", params)
            .await;
        assert_eq!(status, 200, "{body}");
        body["id"].as_i64().expect("id")
    }

    /// The stored positions of a tracker's points, oldest first, as `track/read` gives them.
    async fn positions(&self, tracker: i64) -> Vec<(f64, f64)> {
        let params = json!({"hash": self.alice, "tracker_id": tracker, "from": at(-60),
                            "to": at(3600), "filter": false});
        let (status, body) = self.app.call(Enc::Json, "track/read", params).await;
        assert_eq!(status, 200, "{body}");
        body["list"]
            .as_array()
            .expect("list")
            .iter()
            .map(|p| {
                (
                    p["lat"].as_f64().expect("lat"),
                    p["lng"].as_f64().expect("lng"),
                )
            })
            .collect()
    }
}

/// Equal, but numbers only within 1e-9.
fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() < 1e-9
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}

fn not_found() -> (u16, Value) {
    (404, error(204, "Entity not found"))
}

fn blocked() -> (u16, Value) {
    (403, error(208, "Device blocked"))
}

fn clone_denied() -> (u16, Value) {
    (403, error(219, "Not allowed for clones of the device"))
}

fn nonexistent() -> (u16, Value) {
    (400, error(217, "List contains nonexistent entities"))
}

fn bad(parameter: &str, message: &str) -> (u16, Value) {
    (400, invalid(&[(parameter, message)]))
}

fn counter(kind: &str, value: f64, update_time: Value) -> Value {
    json!({"type": kind, "value": value, "update_time": update_time})
}

/// The odometer: set, counted from GPS fixes after the set, the multiplier applied only to
/// later increments; `get_counters`, `data/read` and the readings calls show the values.
#[tokio::test]
async fn odometer_counts_gps_distance_after_a_set() {
    let s = setup().await;
    let get = |kind: &str| s.params(s.a, kind, json!({}));

    // No counter yet.
    assert_eq!(s.value(s.a, "odometer").await, not_found());
    s.expect(
        "tracker/get_counters",
        json!({"hash": s.alice, "tracker_id": s.a}),
        ok(json!({"user_time": at(0), "list": []})),
    )
    .await;

    s.set(s.a, "odometer", 100.0).await;
    assert_eq!(s.value(s.a, "odometer").await, ok(json!({"value": 100.0})));
    s.expect(
        "tracker/get_counters",
        json!({"hash": s.alice, "tracker_id": s.a}),
        ok(json!({"user_time": at(0), "list": [counter("odometer", 100.0, at(0))]})),
    )
    .await;

    // Three fixes a minute apart, each 0.01 degree further north; then the multiplier goes to
    // 2, and two more fixes count twice.
    let first: Vec<String> = (0..3).map(|i| record(60 * (i + 1), i as u32)).collect();
    send_wialon(&s.app, IMEI_A, &first).await;
    s.app.server.state.clock.advance(200_000);
    let update = s.params(
        s.a,
        "odometer",
        json!({"multiplier": 2.0, "sensor_id": null}),
    );
    s.expect("tracker/counter/update", update, ok(json!({})))
        .await;
    send_wialon(&s.app, IMEI_A, &[record(240, 3), record(300, 4)]).await;

    let p = s.positions(s.a).await;
    assert_eq!(p.len(), 5);
    let d = |i: usize| distance_km(p[i], p[i + 1]);
    // The fold's own sums, in its order.
    let v180 = 100.0 + 0.0 * 1.0 + d(0) * 1.0 + d(1) * 1.0;
    let v240 = v180 + d(2) * 2.0;
    let v300 = v240 + d(3) * 2.0;
    assert!(
        (v300 - 100.0 - 4.0 * 1.112 - 2.0 * 1.112).abs() < 0.02,
        "{v300}"
    );
    s.expect_close(
        "tracker/counter/value/get",
        get("odometer"),
        ok(json!({"value": v300})),
    )
    .await;
    s.expect_close(
        "tracker/get_counters",
        json!({"hash": s.alice, "tracker_id": s.a}),
        ok(json!({"user_time": at(200), "list": [counter("odometer", v300, at(300))]})),
    )
    .await;
    s.counter_id(s.a, "odometer", 2.0).await;

    // History: one value per 5 minutes of device time (the last of 10:00-10:05 at 10:04) and
    // the current one, oldest first.
    let history = ok(json!({"list": [{"value": v240, "update_time": at(240)},
                                     {"value": v300, "update_time": at(300)}]}));
    for path in ["tracker/counter/data/read", "tracker/counter/data/list"] {
        let params = s.params(s.a, "odometer", json!({"from": at(0), "to": at(400)}));
        s.expect_close(path, params, history.clone()).await;
    }
    let params = s.params(s.a, "odometer", json!({"from": at(250), "to": at(400)}));
    s.expect_close(
        "tracker/counter/data/read",
        params,
        ok(json!({"list": [{"value": v300, "update_time": at(300)}]})),
    )
    .await;

    // The readings calls list the counters, unless filtered by sensor type.
    let counters = json!([counter("odometer", v300, at(300))]);
    s.expect_close(
        "tracker/readings/list",
        json!({"hash": s.alice, "tracker_id": s.a}),
        ok(
            json!({"user_time": at(200), "inputs": [], "virtual_sensors": [], "states": [],
                  "counters": counters}),
        ),
    )
    .await;
    s.expect(
        "tracker/readings/list",
        json!({"hash": s.alice, "tracker_id": s.a, "sensor_type": "fuel"}),
        ok(json!({"user_time": at(200), "inputs": [], "virtual_sensors": []})),
    )
    .await;
    s.expect_close(
        "tracker/readings/batch_list",
        json!({"hash": s.alice, "trackers": [s.a, s.other]}),
        ok(json!({"user_time": at(200),
                  "result": {s.a.to_string(): {"counters": counters},
                             s.other.to_string(): {}}})),
    )
    .await;
}

/// `counter/update` creates a counter without a value: 204 until data or a set gives it one.
#[tokio::test]
async fn update_creates_a_counter_without_a_value() {
    let s = setup().await;
    let update = |kind: &str| s.params(s.other, kind, json!({"multiplier": "1.5"}));
    s.expect("tracker/counter/update", update("odometer"), ok(json!({})))
        .await;
    s.expect(
        "tracker/counter/update",
        update("engine_hours"),
        ok(json!({})),
    )
    .await;
    let odometer = s.counter_id(s.other, "odometer", 1.5).await;
    let hours = s.counter_id(s.other, "engine_hours", 1.5).await;
    assert_ne!(odometer, hours);
    assert_eq!(s.value(s.other, "odometer").await, not_found());
    assert_eq!(s.value(s.other, "engine_hours").await, not_found());
    // A counter that does not exist has no history either; one without values, an empty one.
    let period = json!({"from": at(0), "to": at(600)});
    s.expect(
        "tracker/counter/data/read",
        s.params(s.other, "fuel_consumed", period.clone()),
        not_found(),
    )
    .await;
    s.expect(
        "tracker/counter/data/read",
        s.params(s.other, "odometer", period.clone()),
        ok(json!({"list": []})),
    )
    .await;

    // A first fix starts the GPS odometer at 0; engine hours need ignition time or a set.
    send_wialon(&s.app, IMEI_OTHER, &[record(30, 0)]).await;
    assert_eq!(
        s.value(s.other, "odometer").await,
        ok(json!({"value": 0.0}))
    );
    assert_eq!(s.value(s.other, "engine_hours").await, not_found());
    s.set(s.other, "engine_hours", 12.25).await;
    assert_eq!(
        s.value(s.other, "engine_hours").await,
        ok(json!({"value": 12.25}))
    );
    s.expect(
        "tracker/get_counters",
        json!({"hash": s.alice, "tracker_id": s.other}),
        ok(json!({"user_time": at(0), "list": [
            counter("odometer", 0.0, at(30)),
            counter("engine_hours", 12.25, at(0)),
        ]})),
    )
    .await;

    // value/list: every tracker's value by ID; 204 when one has none.
    s.set(s.a, "odometer", 7.5).await;
    let list =
        |trackers: Value, kind: &str| json!({"hash": s.alice, "trackers": trackers, "type": kind});
    s.expect(
        "tracker/counter/value/list",
        list(json!([s.a, s.other]), "odometer"),
        ok(json!({"value": {s.a.to_string(): 7.5, s.other.to_string(): 0.0}})),
    )
    .await;
    s.expect(
        "tracker/counter/value/list",
        list(json!([s.other, s.other]), "engine_hours"),
        ok(json!({"value": {s.other.to_string(): 12.25}})),
    )
    .await;
    s.expect(
        "tracker/counter/value/list",
        list(json!([]), "engine_hours"),
        ok(json!({"value": {}})),
    )
    .await;
    s.expect(
        "tracker/counter/value/list",
        list(json!([s.a, s.other]), "engine_hours"),
        not_found(),
    )
    .await;
    s.expect(
        "tracker/counter/value/list",
        list(json!([s.a, s.other]), "fuel_consumed"),
        not_found(),
    )
    .await;
    // 217: a missing tracker or a blocked one (before any 204).
    for trackers in [json!([s.a, 999_999]), json!([s.blocked, s.a])] {
        s.expect(
            "tracker/counter/value/list",
            list(trackers, "odometer"),
            nonexistent(),
        )
        .await;
    }
    // Parameters: the array is limited like get_states'.
    let too_many: Vec<i64> = (1..=2001).collect();
    s.expect(
        "tracker/counter/value/list",
        list(json!(too_many), "odometer"),
        bad("trackers", "size must be between 0 and 2000"),
    )
    .await;
    s.expect(
        "tracker/counter/value/list",
        json!({"hash": s.alice}),
        (
            400,
            invalid(&[
                ("trackers", "must not be null"),
                ("type", "must not be null"),
            ]),
        ),
    )
    .await;
    s.expect(
        "tracker/counter/value/list",
        list(json!([s.a]), "mileage"),
        bad(
            "type",
            "must be one of odometer, engine_hours, fuel_consumed",
        ),
    )
    .await;
}

/// The odometer's source: a metering sensor of the tracker itself, for the odometer only.
#[tokio::test]
async fn update_checks_the_sensor() {
    let s = setup().await;
    let mileage = json!({"type": "metering", "sensor_type": "custom", "name": "Mileage",
                         "input_name": "can_mileage", "divider": 1.0, "accuracy": 0.0,
                         "units": "km", "units_type": "custom"});
    let own = s.sensor(s.a, mileage.clone()).await;
    let theirs = s.sensor(s.other, mileage).await;
    let ignition = s
        .sensor(
            s.a,
            json!({"type": "discrete", "sensor_type": "ignition", "name": "Ignition",
                   "input_number": 1}),
        )
        .await;
    let update = |kind: &str, sensor: Value| {
        s.params(s.a, kind, json!({"multiplier": 1.0, "sensor_id": sensor}))
    };
    let path = "tracker/counter/update";
    for (kind, sensor, message) in [
        (
            "odometer",
            json!(theirs),
            "sensor belongs to another tracker",
        ),
        ("odometer", json!(ignition), "must be a metering sensor"),
        ("odometer", json!(999_999), "sensor not found"),
        ("odometer", json!(-1), "must not be negative"),
        ("odometer", json!("x"), "must be an integer"),
        (
            "engine_hours",
            json!(own),
            "must be null unless type is odometer",
        ),
        (
            "fuel_consumed",
            json!(own),
            "must be null unless type is odometer",
        ),
    ] {
        s.expect(path, update(kind, sensor), bad("sensor_id", message))
            .await;
    }
    // Nothing was created by the refusals.
    s.expect(
        "tracker/counter/read",
        s.params(s.a, "odometer", json!({})),
        not_found(),
    )
    .await;
    // The multiplier: required, a number, not negative (0 stops counting).
    for (multiplier, message) in [
        (json!(null), "must not be null"),
        (json!("fast"), "must be a number"),
        (json!("NaN"), "must be a number"),
        (json!(-0.5), "must not be negative"),
    ] {
        let params = s.params(s.a, "odometer", json!({"multiplier": multiplier}));
        s.expect(path, params, bad("multiplier", message)).await;
    }
    s.expect(
        path,
        s.params(s.a, "distance", json!({"multiplier": 1.0})),
        bad(
            "type",
            "must be one of odometer, engine_hours, fuel_consumed",
        ),
    )
    .await;
    // Accepted: the tracker's own metering sensor; an engine-hours counter without one.
    s.expect(path, update("odometer", json!(own)), ok(json!({})))
        .await;
    s.expect(path, update("engine_hours", json!(null)), ok(json!({})))
        .await;
    s.counter_id(s.a, "odometer", 1.0).await;
    s.counter_id(s.a, "engine_hours", 1.0).await;
}

/// Value and parameter errors of `value/set` and `value/get`.
#[tokio::test]
async fn value_set_and_get_parameters() {
    let s = setup().await;
    let path = "tracker/counter/value/set";
    for (value, message) in [
        (json!(null), "must not be null"),
        (json!("much"), "must be a number"),
        (json!(-1.0), "must not be negative"),
    ] {
        let params = s.params(s.a, "odometer", json!({"value": value}));
        s.expect(path, params, bad("value", message)).await;
    }
    s.expect(
        path,
        json!({"hash": s.alice}),
        (
            400,
            invalid(&[
                ("tracker_id", "must not be null"),
                ("type", "must not be null"),
                ("value", "must not be null"),
            ]),
        ),
    )
    .await;
    // Numbers as strings, as the older pages send them.
    let params = json!({"hash": s.alice, "tracker_id": s.a.to_string(),
                        "type": "fuel_consumed", "value": "233.21"});
    s.expect(path, params, ok(json!({}))).await;
    assert_eq!(
        s.value(s.a, "fuel_consumed").await,
        ok(json!({"value": 233.21}))
    );
    for kind in ["odometer", "engine_hours"] {
        assert_eq!(s.value(s.a, kind).await, not_found());
    }
    let (status, body) = s
        .app
        .call_all(
            "tracker/counter/value/get",
            json!({"hash": s.alice, "tracker_id": s.a, "type": "hours"}),
        )
        .await;
    assert_eq!(
        (status, body),
        bad(
            "type",
            "must be one of odometer, engine_hours, fuel_consumed"
        )
    );
}

/// Missing, blocked and cloned trackers, and a sub-user without `tracker_update`.
#[tokio::test]
async fn tracker_errors_clones_and_rights() {
    let s = setup().await;
    s.set(s.a, "odometer", 42.0).await;
    let period = json!({"from": at(0), "to": at(60)});
    let calls = |tracker: i64| {
        vec![
            (
                "tracker/counter/read",
                s.params(tracker, "odometer", json!({})),
            ),
            (
                "tracker/counter/update",
                s.params(tracker, "odometer", json!({"multiplier": 1.0})),
            ),
            (
                "tracker/counter/value/set",
                s.params(tracker, "odometer", json!({"value": 1.0})),
            ),
            (
                "tracker/counter/value/get",
                s.params(tracker, "odometer", json!({})),
            ),
            (
                "tracker/counter/value/read",
                s.params(tracker, "odometer", json!({})),
            ),
            (
                "tracker/counter/data/read",
                s.params(tracker, "odometer", period.clone()),
            ),
            (
                "tracker/get_counters",
                json!({"hash": s.alice, "tracker_id": tracker}),
            ),
        ]
    };
    for (path, params) in calls(999_999) {
        s.expect(path, params, not_found()).await;
    }
    for (path, params) in calls(s.blocked) {
        s.expect(path, params, blocked()).await;
    }

    // Bob's clone of tracker a: changes and counter/read answer 219, value reads show the
    // original's counters.
    s.app.user("bob", None, &[]).await;
    let bob = s.app.login("bob").await;
    admin::clone_tracker(s.app.store.as_ref(), s.a, "bob", None)
        .await
        .expect("clone");
    let (_, list) = s
        .app
        .call(Enc::Json, "tracker/list", json!({"hash": bob}))
        .await;
    let clone = list["list"][0]["id"].as_i64().expect("clone id");
    let as_bob = |params: Value| {
        let mut p = params;
        p["hash"] = json!(bob);
        p
    };
    for (path, params) in calls(clone).into_iter().take(3) {
        s.expect(path, as_bob(params), clone_denied()).await;
    }
    s.expect(
        "tracker/counter/value/get",
        as_bob(s.params(clone, "odometer", json!({}))),
        ok(json!({"value": 42.0})),
    )
    .await;
    s.expect(
        "tracker/counter/value/list",
        json!({"hash": bob, "trackers": [clone], "type": "odometer"}),
        ok(json!({"value": {clone.to_string(): 42.0}})),
    )
    .await;
    s.expect(
        "tracker/get_counters",
        json!({"hash": bob, "tracker_id": clone}),
        ok(json!({"user_time": at(0), "list": [counter("odometer", 42.0, at(0))]})),
    )
    .await;
    // Bob cannot reach alice's tracker by its ID.
    s.expect(
        "tracker/counter/value/get",
        as_bob(s.params(s.a, "odometer", json!({}))),
        not_found(),
    )
    .await;
    s.expect(
        "tracker/counter/value/list",
        json!({"hash": bob, "trackers": [s.a], "type": "odometer"}),
        nonexistent(),
    )
    .await;

    // A sub-user without tracker_update reads but does not change.
    s.app.user("viewer", Some("alice"), &[]).await;
    let viewer = s.app.login("viewer").await;
    let as_viewer = |params: Value| {
        let mut p = params;
        p["hash"] = json!(viewer);
        p
    };
    let denied = (403, error(13, "Operation not permitted"));
    for (path, params) in calls(s.a).into_iter().skip(1).take(2) {
        s.expect(path, as_viewer(params), denied.clone()).await;
    }
    s.expect(
        "tracker/counter/value/get",
        as_viewer(s.params(s.a, "odometer", json!({}))),
        ok(json!({"value": 42.0})),
    )
    .await;
    s.app
        .user("editor", Some("alice"), &["tracker_update"])
        .await;
    let editor = s.app.login("editor").await;
    let mut params = s.params(s.a, "odometer", json!({"value": 43.0}));
    params["hash"] = json!(editor);
    s.expect("tracker/counter/value/set", params, ok(json!({})))
        .await;
    assert_eq!(s.value(s.a, "odometer").await, ok(json!({"value": 43.0})));
}

/// `data/read`'s period: `from` not after `to`, at most 31 days (error 7).
#[tokio::test]
async fn data_read_period() {
    let s = setup().await;
    s.set(s.a, "odometer", 5.0).await;
    let read = |from: Value, to: Value| s.params(s.a, "odometer", json!({"from": from, "to": to}));
    let path = "tracker/counter/data/read";
    s.expect(
        path,
        read(at(60), at(0)),
        bad("to", "must not be before from"),
    )
    .await;
    s.expect(
        path,
        read(at(-31 * 86_400 - 1), at(0)),
        bad("to", "must be within 31 days of from"),
    )
    .await;
    let value = ok(json!({"list": [{"value": 5.0, "update_time": at(0)}]}));
    s.expect(path, read(at(-31 * 86_400), at(0)), value.clone())
        .await;
    s.expect(path, read(at(0), at(0)), value).await;
    s.expect(path, read(at(1), at(60)), ok(json!({"list": []})))
        .await;
    s.expect(
        path,
        s.params(s.a, "odometer", json!({"from": "yesterday"})),
        (
            400,
            invalid(&[
                ("from", "must be a date/time as yyyy-MM-dd HH:mm:ss"),
                ("to", "must not be null"),
            ]),
        ),
    )
    .await;
}

/// A smaller `api.max_counter_data_days` answers 211 for a period longer than it.
#[tokio::test]
async fn data_read_period_is_configurable() {
    let s = setup_with(|c| c.api.max_counter_data_days = 1).await;
    s.set(s.a, "odometer", 5.0).await;
    let read = |from: i64| s.params(s.a, "odometer", json!({"from": at(from), "to": at(86_400)}));
    let path = "tracker/counter/data/read";
    s.expect(
        path,
        read(-1),
        (400, error(211, "Requested time span is too big")),
    )
    .await;
    s.expect(
        path,
        read(0),
        ok(json!({"list": [{"value": 5.0, "update_time": at(0)}]})),
    )
    .await;
    // The 31 days of error 7 still come first.
    s.expect(
        path,
        read(-31 * 86_400),
        bad("to", "must be within 31 days of from"),
    )
    .await;
}
