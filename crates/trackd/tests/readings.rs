//! Sensor readings over HTTP, in all three encodings with exact bodies: `tracker/get_fuel`,
//! `get_readings`, `get_inputs`, `tracker/readings/list`, `readings/batch_list` and
//! `tracker/sensor/data/read`, from Wialon IPS records a simulated device sends over a real
//! socket. Alice measures in metric units, bob in US units (gallons). The clock is stopped, so
//! every time in an answer is known.

mod support;

use chrono::DateTime;
use serde_json::{json, Value};
use support::devices::{register, send_wialon};
use support::{error, invalid, ok, Enc, TestApp};
use trackd_core::account::NewUser;
use trackd_core::rights::Rights;
use trackd_core::{TrackerId, UserId};
use trackd_protocol::Protocol;

/// 2025-06-02 08:00:00 UTC: 10:00:00 in Berlin, the users' zone (summer time, UTC+2).
const T0: i64 = 1_748_851_200_000;
const BERLIN_MS: i64 = 2 * 3_600_000;
const LITRES_PER_US_GALLON: f64 = 3.785_411_784;

/// T0 + `secs` as the users read it.
fn at(secs: i64) -> Value {
    let berlin = DateTime::from_timestamp_millis(T0 + secs * 1000 + BERLIN_MS).expect("time");
    json!(berlin.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A Wialon IPS extended record at T0 + `secs`: input 1 on, an iButton key, the fuel probe
/// (`lls1` -> `lls_level_1`) reading `fuel` and 12.5 V on `adc2` (`analog_2`).
fn record(secs: i64, fuel: u32) -> String {
    let t = DateTime::from_timestamp_millis(T0 + secs * 1000).expect("time");
    format!(
        "#D#{};{};5530.00000;N;03715.00000;E;0;90;120;9;0.9;1;0;NA;AB45DF01145;\
         lls1:2:{fuel},adc2:2:12.5\r\n",
        t.format("%d%m%y"),
        t.format("%H%M%S"),
    )
}

fn fuel_sensor() -> Value {
    json!({"type": "metering", "sensor_type": "fuel", "name": "Tank", "input_name": "lls_level_1",
           "divider": 1.0, "accuracy": 0.0, "units": "l", "units_type": "litre",
           "parameters": {"min": 0.0, "max": 4095.0}})
}

fn voltage_sensor() -> Value {
    json!({"type": "metering", "sensor_type": "power", "name": "Board", "input_name": "analog_2",
           "divider": 1.0, "accuracy": 0.0, "units": "V", "units_type": "volt"})
}

fn powered_sensor() -> Value {
    json!({"type": "virtual", "sensor_type": "state", "name": "Powered", "input_name": "analog_2",
           "parameters": {"calc_method": "in_range", "range_from": 12.0,
                          "value_titles": [{"value": "1", "title": "On"}]}})
}

fn ignition_sensor() -> Value {
    json!({"type": "discrete", "sensor_type": "ignition", "name": "Ignition", "input_number": 1})
}

fn door_sensor() -> Value {
    json!({"type": "discrete", "sensor_type": "door", "name": "Door", "input_number": 2})
}

/// The sensors of one tracker, by ID.
struct Sensors {
    fuel: i64,
    voltage: i64,
    powered: i64,
    ignition: i64,
}

struct Setup {
    app: TestApp,
    alice: String,
    bob: String,
    /// Alice's tracker with sensors and data.
    a: i64,
    /// Alice's second tracker: no sensors, no data.
    quiet: i64,
    /// Alice's blocked tracker.
    blocked: i64,
    /// Bob's tracker, with the same sensors and data as `a`.
    b: i64,
    sa: Sensors,
    sb: Sensors,
}

const IMEI_A: &str = "861234567890123";
const IMEI_B: &str = "861234567890131";

/// Bob, a master user who measures in US units, created in the store as the admin tool
/// would (the tool creates metric users only).
async fn create_bob(app: &TestApp, alice: UserId) -> UserId {
    let alice = app.store.user(alice).await.expect("read").expect("alice");
    let bob = NewUser {
        login: "bob".into(),
        // Alice's hash: both log in with the test password.
        password_hash: alice.password_hash,
        parent_id: None,
        rights: Rights::master(),
        time_zone: "Europe/Berlin".into(),
        locale: "en_US".into(),
        measurement_system: "us".into(),
        first_name: String::new(),
        last_name: String::new(),
    };
    app.store.create_user(&bob, 0).await.expect("bob").id
}

async fn create(app: &TestApp, hash: &str, tracker: i64, sensor: Value) -> i64 {
    let params = json!({"hash": hash, "tracker_id": tracker, "sensor": sensor});
    let (status, body) = app.call(Enc::Json, "tracker/sensor/create", params).await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_i64().expect("id")
}

/// The sensors of [`Sensors`], the fuel probe calibrated 0..1000 -> 0..80 litres.
async fn sensors(app: &TestApp, hash: &str, tracker: i64) -> Sensors {
    let s = Sensors {
        fuel: create(app, hash, tracker, fuel_sensor()).await,
        voltage: create(app, hash, tracker, voltage_sensor()).await,
        powered: create(app, hash, tracker, powered_sensor()).await,
        ignition: create(app, hash, tracker, ignition_sensor()).await,
    };
    create(app, hash, tracker, door_sensor()).await;
    let params = json!({"hash": hash, "tracker_id": tracker, "sensor_id": s.fuel,
                        "data": [{"in": 0.0, "out": 0.0}, {"in": 1000.0, "out": 80.0}]});
    let answer = app
        .call(Enc::Json, "tracker/sensor/calibration_data/update", params)
        .await;
    assert_eq!(answer, (200, json!({"success": true})));
    s
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    app.server.state.clock.stop_at(T0);
    let alice = app.master().await;
    let alice_id = app.user_id("alice").await;
    let bob_id = create_bob(&app, alice_id).await;
    let bob = app.login("bob").await;
    assert_ne!(bob, alice);
    let store = app.store.as_ref();
    let a = register(store, alice_id, Protocol::Wialon, IMEI_A).await.0;
    let quiet = register(store, alice_id, Protocol::Wialon, "861234567890149")
        .await
        .0;
    let blocked = register(store, alice_id, Protocol::Wialon, "861234567890156")
        .await
        .0;
    trackd::admin::set_blocked(store, blocked, true)
        .await
        .expect("block");
    let b = register(store, bob_id, Protocol::Wialon, IMEI_B).await.0;
    let sa = sensors(&app, &alice, a).await;
    let sb = sensors(&app, &bob, b).await;
    Setup {
        app,
        alice,
        bob,
        a,
        quiet,
        blocked,
        b,
        sa,
        sb,
    }
}

impl Setup {
    async fn expect(&self, path: &str, params: Value, expected: (u16, Value)) {
        let answer = self.app.call_all(path, params.clone()).await;
        assert_eq!(answer, expected, "{path} {params}");
    }

    /// Both devices report fuel 500 (40 l) at T0 and 250 (20 l) a minute later.
    async fn report(&self) {
        let records = [record(0, 500), record(60, 250)];
        send_wialon(&self.app, IMEI_A, &records).await;
        send_wialon(&self.app, IMEI_B, &records).await;
    }
}

fn not_found() -> (u16, Value) {
    (400, error(201, "Not found in database"))
}

fn blocked() -> (u16, Value) {
    (403, error(208, "Device blocked"))
}

fn nonexistent() -> (u16, Value) {
    (400, error(217, "List contains nonexistent entities"))
}

fn litres_value(litres: f64) -> Value {
    json!({"label": "Tank", "name": "lls_level_1", "type": "fuel", "value": litres,
           "units_type": "litre", "units": "l", "converted_units_type": null,
           "converted_value": null})
}

fn gallons_value(litres: f64) -> Value {
    json!({"label": "Tank", "name": "lls_level_1", "type": "fuel", "value": litres,
           "units_type": "litre", "units": "l", "converted_units_type": "us_gallon",
           "converted_value": litres / LITRES_PER_US_GALLON})
}

fn voltage_value() -> Value {
    json!({"label": "Board", "name": "analog_2", "type": "power", "value": 12.5,
           "units_type": "volt", "units": "V", "converted_units_type": null,
           "converted_value": null})
}

#[tokio::test]
async fn current_readings_fuel_and_inputs() {
    let s = setup().await;
    let one = |hash: &str, tracker: i64| json!({"hash": hash, "tracker_id": tracker});

    // Nothing reported yet.
    let empty = ok(json!({"user_time": at(0), "inputs": [], "update_time": null}));
    s.expect("tracker/get_fuel", one(&s.alice, s.a), empty.clone())
        .await;
    s.expect("tracker/get_readings", one(&s.alice, s.a), empty)
        .await;
    let inputs_off = ok(json!({
        "user_time": at(0),
        "inputs": [false, false, false, false, false, false, false, false],
        "states": [
            {"type": "ignition", "name": "Ignition", "status": false, "input_number": 1},
            {"type": "door", "name": "Door", "status": false, "input_number": 2},
        ],
        "update_time": null,
    }));
    s.expect("tracker/get_inputs", one(&s.alice, s.a), inputs_off)
        .await;

    s.report().await;
    s.app.server.state.clock.advance(90_000);

    // The calibrated fuel level in litres for alice, with gallons for bob.
    s.expect(
        "tracker/get_fuel",
        one(&s.alice, s.a),
        ok(json!({"user_time": at(90), "inputs": [litres_value(20.0)], "update_time": at(60)})),
    )
    .await;
    s.expect(
        "tracker/get_fuel",
        one(&s.bob, s.b),
        ok(json!({"user_time": at(90), "inputs": [gallons_value(20.0)], "update_time": at(60)})),
    )
    .await;
    // Readings: the voltage, neither the fuel probe nor the virtual sensor.
    s.expect(
        "tracker/get_readings",
        one(&s.alice, s.a),
        ok(json!({"user_time": at(90), "inputs": [voltage_value()], "update_time": at(60)})),
    )
    .await;
    s.expect(
        "tracker/get_inputs",
        one(&s.alice, s.a),
        ok(json!({
            "user_time": at(90),
            "inputs": [true, false, false, false, false, false, false, false],
            "states": [
                {"type": "ignition", "name": "Ignition", "status": true, "input_number": 1},
                {"type": "door", "name": "Door", "status": false, "input_number": 2},
            ],
            "update_time": at(60),
        })),
    )
    .await;

    // A tracker without sensors has nothing to read.
    s.expect(
        "tracker/get_fuel",
        one(&s.alice, s.quiet),
        ok(json!({"user_time": at(90), "inputs": [], "update_time": null})),
    )
    .await;

    // Errors of each call: another user's tracker, a missing one, a blocked one, no ID.
    for path in [
        "tracker/get_fuel",
        "tracker/get_readings",
        "tracker/get_inputs",
        "tracker/readings/list",
    ] {
        s.expect(path, one(&s.alice, s.b), not_found()).await;
        s.expect(path, one(&s.alice, 999_999), not_found()).await;
        s.expect(path, one(&s.alice, s.blocked), blocked()).await;
        s.expect(
            path,
            json!({"hash": s.alice}),
            (400, invalid(&[("tracker_id", "must not be null")])),
        )
        .await;
    }
}

#[tokio::test]
async fn readings_list_and_batch_list() {
    let s = setup().await;
    s.report().await;
    let list = "tracker/readings/list";
    let batch = "tracker/readings/batch_list";

    let fuel = |sa: &Sensors| {
        let mut v = litres_value(20.0);
        v["sensor_id"] = json!(sa.fuel);
        v["update_time"] = at(60);
        v["min_value"] = json!(0.0);
        v["max_value"] = json!(4095.0);
        v
    };
    let mut voltage = voltage_value();
    voltage["sensor_id"] = json!(s.sa.voltage);
    voltage["update_time"] = at(60);
    let powered = json!({"sensor_id": s.sa.powered, "label": "Powered", "name": "analog_2",
                         "type": "state", "value": 1.0, "update_time": at(60),
                         "value_title": "On"});
    let states = json!([{"field": "hardware_key", "value": "AB45DF01145", "update_time": at(60)}]);
    let readings = json!({"inputs": [fuel(&s.sa), voltage], "virtual_sensors": [powered],
                          "states": states});
    let mut full = readings.clone();
    full["success"] = json!(true);
    full["user_time"] = at(0);
    // No counter has a value (tests/counters.rs shows them).
    full["counters"] = json!([]);
    s.expect(
        list,
        json!({"hash": s.alice, "tracker_id": s.a}),
        (200, full),
    )
    .await;

    // By sensor type: only those sensors, and no state values.
    s.expect(
        list,
        json!({"hash": s.alice, "tracker_id": s.a, "sensor_type": "fuel"}),
        ok(json!({"user_time": at(0), "inputs": [fuel(&s.sa)], "virtual_sensors": []})),
    )
    .await;
    // Bob reads gallons.
    let mut gallons = gallons_value(20.0);
    gallons["sensor_id"] = json!(s.sb.fuel);
    gallons["update_time"] = at(60);
    gallons["min_value"] = json!(0.0);
    gallons["max_value"] = json!(4095.0);
    s.expect(
        list,
        json!({"hash": s.bob, "tracker_id": s.b, "sensor_type": "fuel"}),
        ok(json!({"user_time": at(0), "inputs": [gallons], "virtual_sensors": []})),
    )
    .await;
    // A tracker with nothing: every category, empty.
    s.expect(
        list,
        json!({"hash": s.alice, "tracker_id": s.quiet}),
        ok(
            json!({"user_time": at(0), "inputs": [], "virtual_sensors": [], "states": [],
                  "counters": []}),
        ),
    )
    .await;

    // Batch: each tracker named, categories without data left out.
    s.expect(
        batch,
        json!({"hash": s.alice, "trackers": [s.a, s.quiet]}),
        ok(json!({"user_time": at(0),
                  "result": {s.a.to_string(): readings, s.quiet.to_string(): {}}})),
    )
    .await;

    // Errors (those of `list` are with the other single-tracker calls').
    for trackers in [json!([s.a, s.b]), json!([s.a, s.blocked]), json!([999_999])] {
        s.expect(
            batch,
            json!({"hash": s.alice, "trackers": trackers}),
            nonexistent(),
        )
        .await;
    }
    s.expect(
        batch,
        json!({"hash": s.alice}),
        (400, invalid(&[("trackers", "must not be null")])),
    )
    .await;
    let too_many: Vec<i64> = (0..501).map(|_| s.a).collect();
    s.expect(
        batch,
        json!({"hash": s.alice, "trackers": too_many}),
        (403, error(221, "Device limit exceeded")),
    )
    .await;
}

#[tokio::test]
async fn sensor_data_read() {
    let s = setup().await;
    s.report().await;
    let read = "tracker/sensor/data/read";
    let params = |hash: &str, tracker: i64, sensor: i64| {
        json!({"hash": hash, "tracker_id": tracker, "sensor_id": sensor,
               "from": at(-60), "to": at(120)})
    };

    s.expect(
        read,
        params(&s.alice, s.a, s.sa.fuel),
        ok(json!({"list": [{"value": 40.0, "get_time": at(0)},
                           {"value": 20.0, "get_time": at(60)}]})),
    )
    .await;
    let mut raw = params(&s.alice, s.a, s.sa.fuel);
    raw["raw_data"] = json!(true);
    s.expect(
        read,
        raw,
        ok(json!({"list": [{"value": 500.0, "get_time": at(0)},
                           {"value": 250.0, "get_time": at(60)}]})),
    )
    .await;
    s.expect(
        read,
        params(&s.bob, s.b, s.sb.fuel),
        ok(
            json!({"list": [{"value": 40.0 / LITRES_PER_US_GALLON, "get_time": at(0)},
                           {"value": 20.0 / LITRES_PER_US_GALLON, "get_time": at(60)}]}),
        ),
    )
    .await;
    // A virtual sensor reads its state; a period without points is empty.
    s.expect(
        read,
        params(&s.alice, s.a, s.sa.powered),
        ok(json!({"list": [{"value": 1.0, "get_time": at(0)},
                           {"value": 1.0, "get_time": at(60)}]})),
    )
    .await;
    let mut later = params(&s.alice, s.a, s.sa.voltage);
    later["from"] = at(61);
    s.expect(read, later, ok(json!({"list": []}))).await;

    // Errors: another user's tracker or sensor, a missing tracker, a blocked one.
    s.expect(read, params(&s.alice, s.b, s.sb.fuel), not_found())
        .await;
    s.expect(read, params(&s.alice, s.a, s.sb.fuel), not_found())
        .await;
    s.expect(read, params(&s.alice, 999_999, s.sa.fuel), not_found())
        .await;
    s.expect(read, params(&s.alice, s.blocked, s.sa.fuel), blocked())
        .await;
    // A discrete sensor has no values.
    s.expect(
        read,
        params(&s.alice, s.a, s.sa.ignition),
        (400, error(228, "Not supported by sensor")),
    )
    .await;
    // `from` after `to`; `from` equal to `to` is a period of one instant.
    let mut backwards = params(&s.alice, s.a, s.sa.fuel);
    backwards["from"] = at(120);
    backwards["to"] = at(0);
    s.expect(
        read,
        backwards,
        (400, invalid(&[("to", "must not be before from")])),
    )
    .await;
    let mut instant = params(&s.alice, s.a, s.sa.fuel);
    instant["from"] = at(60);
    instant["to"] = at(60);
    s.expect(
        read,
        instant,
        ok(json!({"list": [{"value": 20.0, "get_time": at(60)}]})),
    )
    .await;
    // Longer than the 30 days of `api.max_sensor_data_days`: 211; 30 days exactly is fine.
    let mut long = params(&s.alice, s.a, s.sa.fuel);
    long["from"] = at(120 - 30 * 86_400 - 1);
    s.expect(
        read,
        long.clone(),
        (400, error(211, "Requested time span is too big")),
    )
    .await;
    long["from"] = at(120 - 30 * 86_400);
    s.expect(
        read,
        long,
        ok(json!({"list": [{"value": 40.0, "get_time": at(0)},
                           {"value": 20.0, "get_time": at(60)}]})),
    )
    .await;
    // Missing and malformed parameters.
    s.expect(
        read,
        json!({"hash": s.alice, "tracker_id": s.a, "sensor_id": s.sa.fuel, "from": "yesterday"}),
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

/// A smaller `api.max_sensor_data_days` is honoured.
#[tokio::test]
async fn sensor_data_period_is_configurable() {
    let app = TestApp::spawn_with(|c| c.api.max_sensor_data_days = 1).await;
    app.server.state.clock.stop_at(T0);
    let hash = app.master().await;
    let alice = app.user_id("alice").await;
    let tracker: TrackerId = register(app.store.as_ref(), alice, Protocol::Wialon, IMEI_A).await;
    let fuel = create(&app, &hash, tracker.0, fuel_sensor()).await;
    let params = |from: i64| {
        json!({"hash": hash, "tracker_id": tracker.0, "sensor_id": fuel,
               "from": at(from), "to": at(86_400)})
    };
    let answer = app.call_all("tracker/sensor/data/read", params(-1)).await;
    assert_eq!(answer, (400, error(211, "Requested time span is too big")));
    let answer = app.call_all("tracker/sensor/data/read", params(0)).await;
    assert_eq!(answer, ok(json!({"list": []})));
}
