//! `tracker/sensor/*`: sensors, their calibration tables and the input names, through all
//! three parameter encodings, with exact bodies and statuses.

mod support;

use serde_json::{json, Value};
use support::devices::register;
use support::{error, invalid, with, Enc, TestApp, ENCODINGS};
use trackd::admin;
use trackd_protocol::Protocol;

const LIST: &str = "tracker/sensor/list";
const BATCH_LIST: &str = "tracker/sensor/batch_list";
const CREATE: &str = "tracker/sensor/create";
const UPDATE: &str = "tracker/sensor/update";
const DELETE: &str = "tracker/sensor/delete";
const BATCH_COPY: &str = "tracker/sensor/batch_copy";
const INPUT_NAMES: &str = "tracker/sensor/input_name/list";
const CALIBRATION_READ: &str = "tracker/sensor/calibration_data/read";
const CALIBRATION_UPDATE: &str = "tracker/sensor/calibration_data/update";

/// Alice, logged in, with two Teltonika trackers and a GT06 one (another model).
struct Fleet {
    app: TestApp,
    hash: String,
    /// Teltonika, Teltonika, GT06.
    ids: [i64; 3],
}

async fn fleet() -> Fleet {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let mut f = Fleet {
        app,
        hash,
        ids: [0; 3],
    };
    for (i, (protocol, device_id)) in [
        (Protocol::Teltonika, "356307042441013"),
        (Protocol::Teltonika, "356307042441021"),
        (Protocol::Gt06, "356307042441039"),
    ]
    .into_iter()
    .enumerate()
    {
        f.ids[i] = f.register("alice", protocol, device_id).await;
    }
    f
}

fn fuel() -> Value {
    json!({"type": "metering", "sensor_type": "fuel", "name": "Main tank", "input_name": "lls_level_1",
           "divider": 1.0, "accuracy": 0.5, "units": "l", "units_type": "litre",
           "parameters": {"min": 0.0, "max": 4095.0, "refuel_gap_minutes": 5}})
}

fn ignition() -> Value {
    json!({"type": "discrete", "sensor_type": "ignition", "name": "Ignition", "input_number": 1})
}

fn virtual_ignition() -> Value {
    json!({"type": "virtual", "sensor_type": "virtual_ignition", "name": "By voltage",
           "input_name": "board_voltage",
           "parameters": {"calc_method": "in_range", "range_from": 13.4,
                          "value_titles": [{"value": "0", "title": "Off"}, {"value": "1", "title": "On"}]}})
}

fn door(input: u8) -> Value {
    json!({"type": "discrete", "sensor_type": "door", "name": "Door", "input_number": input})
}

fn with_id(id: i64, sensor: &Value) -> Value {
    with(sensor, json!({"id": id}))
}

fn ok() -> (u16, Value) {
    (200, json!({"success": true}))
}

fn not_found() -> (u16, Value) {
    (400, error(201, "Not found in database"))
}

fn nonexistent() -> (u16, Value) {
    (400, error(217, "List contains nonexistent entities"))
}

fn in_use() -> (u16, Value) {
    (400, error(232, "Input already in use"))
}

fn too_many() -> (u16, Value) {
    (
        400,
        error(270, "Too many sensors of same type already exist"),
    )
}

fn unsupported() -> (u16, Value) {
    (400, error(228, "Not supported by sensor"))
}

impl Fleet {
    /// Calls `path` in all three encodings and asserts the answer.
    async fn expect(&self, path: &str, params: Value, expected: (u16, Value)) {
        let answer = self.app.call_all(path, params.clone()).await;
        assert_eq!(answer, expected, "{path} {params}");
    }

    async fn create(&self, tracker: i64, sensor: Value) -> i64 {
        let params = json!({"hash": self.hash, "tracker_id": tracker, "sensor": sensor});
        let (status, body) = self.app.call(Enc::Json, CREATE, params).await;
        assert_eq!(status, 200, "{body}");
        body["id"].as_i64().expect("id")
    }

    async fn calibrate(&self, tracker: i64, sensor: i64, data: &Value) {
        let params =
            json!({"hash": self.hash, "tracker_id": tracker, "sensor_id": sensor, "data": data});
        assert_eq!(
            self.app.call(Enc::Json, CALIBRATION_UPDATE, params).await,
            ok()
        );
    }

    async fn list(&self, tracker: i64) -> Value {
        let params = json!({"hash": self.hash, "tracker_id": tracker});
        let (status, body) = self.app.call_all(LIST, params).await;
        assert_eq!(status, 200, "{body}");
        body["list"].clone()
    }

    /// Registers a device for `login`'s account, as the admin panel would.
    async fn register(&self, login: &str, protocol: Protocol, device_id: &str) -> i64 {
        let user = self.app.store.user_by_login(login).await.expect("read");
        let account = user.expect("user").account();
        register(self.app.store.as_ref(), account, protocol, device_id)
            .await
            .0
    }

    /// A clone of tracker `id` for bob (a new account); returns bob's hash and the clone's ID.
    async fn clone_for_bob(&self, id: i64) -> (String, i64) {
        self.app.user("bob", None, &[]).await;
        let bob = self.app.login("bob").await;
        admin::clone_tracker(self.app.store.as_ref(), id, "bob", None)
            .await
            .expect("clone");
        let (_, list) = self
            .app
            .call(Enc::Json, "tracker/list", json!({"hash": bob}))
            .await;
        (bob, list["list"][0]["id"].as_i64().expect("clone id"))
    }

    async fn block(&self, id: i64, blocked: bool) {
        admin::set_blocked(self.app.store.as_ref(), id, blocked)
            .await
            .expect("block");
    }
}

#[tokio::test]
async fn create_in_every_encoding_then_list() {
    let f = fleet().await;
    let t = f.ids[0];
    let mut expected = Vec::new();
    for (enc, sensor) in ENCODINGS
        .into_iter()
        .zip([fuel(), ignition(), virtual_ignition()])
    {
        let params = json!({"hash": f.hash, "tracker_id": t, "sensor": sensor});
        let (status, body) = f.app.call(enc, CREATE, params).await;
        assert_eq!(status, 200, "{enc:?}: {body}");
        let id = body["id"].as_i64().expect("id");
        assert_eq!(body, json!({"success": true, "id": id}));
        expected.push(with_id(id, &sensor));
    }
    assert_eq!(f.list(t).await, Value::Array(expected.clone()));
    assert_eq!(f.list(f.ids[1]).await, json!([]));

    // Defaults of what a metering sensor leaves out; an `id` in the object is ignored; the
    // object may come as JSON text inside a JSON body.
    let minimal = json!({"type": "metering", "sensor_type": "rpm", "name": "OBD: RPM",
                         "input_name": "obd_rpm", "id": 12345});
    let params = json!({"hash": f.hash, "tracker_id": t, "sensor": minimal.to_string()});
    let (status, body) = f.app.call(Enc::Json, CREATE, params).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_i64().expect("id");
    assert_ne!(id, 12345);
    expected.push(
        json!({"id": id, "type": "metering", "sensor_type": "rpm", "name": "OBD: RPM",
                         "input_name": "obd_rpm", "divider": 1.0, "accuracy": 0.0, "units": "",
                         "units_type": "custom"}),
    );
    assert_eq!(f.list(t).await, Value::Array(expected));
}

#[tokio::test]
async fn create_errors() {
    let f = fleet().await;
    let [t, t2, _] = f.ids;
    f.create(t, fuel()).await;
    f.create(t, ignition()).await;
    f.create(t, virtual_ignition()).await;
    let create = |tracker: i64, sensor: Value| json!({"hash": f.hash, "tracker_id": tracker, "sensor": sensor});
    let titles: Vec<Value> = (0..101)
        .map(|i| json!({"value": i.to_string(), "title": "t"}))
        .collect();
    let cases = [
        (
            json!({"hash": f.hash}),
            invalid(&[
                ("tracker_id", "must not be null"),
                ("sensor", "must not be null"),
            ]),
        ),
        (
            json!({"hash": f.hash, "tracker_id": t, "sensor": [1]}),
            invalid(&[("sensor", "must be an object")]),
        ),
        (
            create(
                t,
                json!({"type": "metering", "sensor_type": "fuel", "name": "x".repeat(101),
                       "input_name": "i".repeat(65), "accuracy": 0.1, "divider": 0}),
            ),
            invalid(&[
                ("sensor.name", "size must be between 0 and 100"),
                ("sensor.input_name", "size must be between 1 and 64"),
                ("sensor.divider", "must not be 0"),
                (
                    "sensor.accuracy",
                    "must be between 0 and 100 in steps of 0.25",
                ),
            ]),
        ),
        (
            create(t, door(9)),
            invalid(&[("sensor.input_number", "must be between 1 and 8")]),
        ),
        (
            create(
                t,
                json!({"type": "virtual", "sensor_type": "state", "name": "S", "input_name": "analog_1",
                       "parameters": {"calc_method": "bit_index", "value_titles": titles}}),
            ),
            invalid(&[
                ("sensor.parameters.bit_index", "must be set for bit_index"),
                (
                    "sensor.parameters.value_titles",
                    "size must be between 0 and 100",
                ),
            ]),
        ),
    ];
    for (params, body) in cases {
        f.expect(CREATE, params, (400, body)).await;
    }

    // 232: the metering sensor's input, the discrete sensor's input number. 270: a second
    // ignition, a second virtual ignition. Another tracker takes them all.
    let temperature = json!({"type": "metering", "sensor_type": "temperature", "name": "T",
                             "input_name": "lls_level_1"});
    let second_ignition = with(&ignition(), json!({"input_number": 2}));
    let second_virtual = with(&virtual_ignition(), json!({"input_name": "analog_1"}));
    for (sensor, refusal) in [
        (temperature, in_use()),
        (door(1), in_use()),
        (second_ignition, too_many()),
        (second_virtual, too_many()),
    ] {
        f.expect(CREATE, create(t, sensor.clone()), refusal).await;
        f.create(t2, sensor).await;
    }
    f.expect(CREATE, create(999_999, fuel()), not_found()).await;
    assert_eq!(f.list(t).await.as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn update_in_every_encoding() {
    let f = fleet().await;
    let t = f.ids[0];
    let fuel_id = f.create(t, fuel()).await;
    let door_id = f.create(t, door(2)).await;
    for (i, enc) in ENCODINGS.into_iter().enumerate() {
        let renamed = json!({"id": fuel_id, "type": "metering", "sensor_type": "fuel",
                             "name": format!("Tank {i}"), "input_name": format!("lls_level_{}", i + 2),
                             "divider": 2.0, "accuracy": 1.25, "units": "gal", "units_type": "us_gallon",
                             "group_type": "avg"});
        let params = json!({"hash": f.hash, "tracker_id": t, "sensor": renamed});
        assert_eq!(f.app.call(enc, UPDATE, params).await, ok(), "{enc:?}");
        assert_eq!(
            f.list(t).await,
            json!([renamed, with_id(door_id, &door(2))])
        );
    }
    // A sensor may keep its own input.
    let renamed = with_id(door_id, &with(&door(2), json!({"name": "Back door"})));
    let params = json!({"hash": f.hash, "tracker_id": t, "sensor": renamed});
    f.expect(UPDATE, params, ok()).await;
    assert_eq!(f.list(t).await[1], renamed);
}

#[tokio::test]
async fn update_errors() {
    let f = fleet().await;
    let t = f.ids[0];
    let fuel_id = f.create(t, fuel()).await;
    let door_id = f.create(t, door(2)).await;
    f.create(t, ignition()).await;
    let elsewhere = f.create(f.ids[1], door(3)).await;
    let update = |sensor: Value| json!({"hash": f.hash, "tracker_id": t, "sensor": sensor});
    let second_ignition = with(&ignition(), json!({"input_number": 2}));
    let cases = [
        (
            update(door(4)),
            (400, invalid(&[("sensor.id", "must not be null")])),
        ),
        (
            update(with(&door(0), json!({"id": "x"}))),
            (
                400,
                invalid(&[("sensor.input_number", "must be between 1 and 8")]),
            ),
        ),
        (
            update(with(&door(4), json!({"id": "x"}))),
            (400, invalid(&[("sensor.id", "must be an integer")])),
        ),
        (
            update(with_id(fuel_id, &door(4))),
            (400, invalid(&[("sensor.type", "must not change")])),
        ),
        (update(with_id(999_999, &door(4))), not_found()),
        (update(with_id(elsewhere, &door(4))), not_found()),
        (
            json!({"hash": f.hash, "tracker_id": 999_999, "sensor": with_id(door_id, &door(4))}),
            not_found(),
        ),
        (update(with_id(door_id, &door(1))), in_use()),
        (update(with_id(door_id, &second_ignition)), too_many()),
    ];
    for (params, expected) in cases {
        f.expect(UPDATE, params, expected).await;
    }
    assert_eq!(f.list(t).await[1], with_id(door_id, &door(2)), "unchanged");
}

#[tokio::test]
async fn delete_in_every_encoding_and_its_errors() {
    let f = fleet().await;
    let [t, t2, _] = f.ids;
    let mut ids = Vec::new();
    for n in 1..=4 {
        ids.push(f.create(t, door(n)).await);
    }
    let elsewhere = f.create(t2, door(1)).await;
    for (enc, id) in ENCODINGS.into_iter().zip(&ids) {
        let params = json!({"hash": f.hash, "tracker_id": t, "sensor_id": id});
        assert_eq!(f.app.call(enc, DELETE, params).await, ok(), "{enc:?}");
    }
    assert_eq!(f.list(t).await, json!([with_id(ids[3], &door(4))]));
    for gone in [ids[0], elsewhere, 999_999] {
        let params = json!({"hash": f.hash, "tracker_id": t, "sensor_id": gone});
        f.expect(DELETE, params, not_found()).await;
    }
    let params = json!({"hash": f.hash, "tracker_id": t});
    let missing = (400, invalid(&[("sensor_id", "must not be null")]));
    f.expect(DELETE, params, missing).await;
    assert_eq!(f.list(t2).await, json!([with_id(elsewhere, &door(1))]));
}

/// Writes answer 208 for a blocked tracker, 219 for a clone and 13 for a sub-user without
/// `tracker_update`; reads answer 208 for a blocked tracker, and show a clone the original's
/// sensors.
#[tokio::test]
async fn blocked_trackers_clones_and_sub_users() {
    let f = fleet().await;
    let [t, t2, _] = f.ids;
    let fuel_id = f.create(t, fuel()).await;
    let table = json!([{"in": 0.0, "out": 0.0}, {"in": 0.7, "out": 60.0}]);
    f.calibrate(t, fuel_id, &table).await;
    let writes = |hash: &str, tracker: i64| {
        [
            (
                CREATE,
                json!({"hash": hash, "tracker_id": tracker, "sensor": door(5)}),
            ),
            (
                UPDATE,
                json!({"hash": hash, "tracker_id": tracker, "sensor": with_id(fuel_id, &fuel())}),
            ),
            (
                DELETE,
                json!({"hash": hash, "tracker_id": tracker, "sensor_id": fuel_id}),
            ),
            (
                CALIBRATION_UPDATE,
                json!({"hash": hash, "tracker_id": tracker, "sensor_id": fuel_id, "data": []}),
            ),
            (
                BATCH_COPY,
                json!({"hash": hash, "base_tracker_id": tracker, "trackers": []}),
            ),
        ]
    };
    let reads = |hash: &str, tracker: i64| {
        [
            (LIST, json!({"hash": hash, "tracker_id": tracker})),
            (
                CALIBRATION_READ,
                json!({"hash": hash, "tracker_id": tracker, "sensor_id": fuel_id}),
            ),
        ]
    };
    let list = (
        200,
        json!({"success": true, "list": [with_id(fuel_id, &fuel())]}),
    );
    let calibration = (200, json!({"success": true, "value": table}));

    f.block(t, true).await;
    let blocked = (403, error(208, "Device blocked"));
    for (path, params) in writes(&f.hash, t).into_iter().chain(reads(&f.hash, t)) {
        f.expect(path, params, blocked.clone()).await;
    }
    f.block(t, false).await;

    let (bob, clone) = f.clone_for_bob(t).await;
    let denied = (403, error(219, "Not allowed for clones of the device"));
    // Copying onto a clone is refused; copying from it is a read.
    let onto_clone = json!({"hash": bob, "base_tracker_id": clone, "trackers": [clone]});
    f.expect(BATCH_COPY, onto_clone, denied.clone()).await;
    for (path, params) in writes(&bob, clone).into_iter().take(4) {
        f.expect(path, params, denied.clone()).await;
    }
    let [list_clone, read_clone] = reads(&bob, clone);
    f.expect(list_clone.0, list_clone.1, list.clone()).await;
    f.expect(read_clone.0, read_clone.1, calibration.clone())
        .await;
    // Another account cannot reach the original by its ID.
    let [list_original, _] = reads(&bob, t);
    f.expect(list_original.0, list_original.1, not_found())
        .await;

    f.app.user("viewer", Some("alice"), &[]).await;
    let viewer = f.app.login("viewer").await;
    let not_permitted = (403, error(13, "Operation not permitted"));
    for (path, params) in writes(&viewer, t) {
        f.expect(path, params, not_permitted.clone()).await;
    }
    let [list_viewer, read_viewer] = reads(&viewer, t);
    f.expect(list_viewer.0, list_viewer.1, list).await;
    f.expect(read_viewer.0, read_viewer.1, calibration).await;

    f.app
        .user("editor", Some("alice"), &["tracker_update"])
        .await;
    let editor = f.app.login("editor").await;
    // The right lets the editor through to each call's own answer: the fuel sensor is not t2's.
    for ((path, params), status) in writes(&editor, t2)
        .into_iter()
        .zip([200, 400, 400, 400, 200])
    {
        let (got, body) = f.app.call(Enc::Form, path, params).await;
        assert_eq!(got, status, "{path}: {body}");
    }
}

#[tokio::test]
async fn list_errors() {
    let f = fleet().await;
    let params = json!({"hash": f.hash, "tracker_id": 999_999});
    f.expect(LIST, params, not_found()).await;
    let missing = (400, invalid(&[("tracker_id", "must not be null")]));
    f.expect(LIST, json!({"hash": f.hash}), missing).await;
}

#[tokio::test]
async fn batch_list() {
    let f = fleet().await;
    let [t1, t2, t3] = f.ids;
    let a = f.create(t1, fuel()).await;
    let b = f.create(t1, ignition()).await;
    let c = f.create(t3, virtual_ignition()).await;
    let result = json!({
        t1.to_string(): [with_id(a, &fuel()), with_id(b, &ignition())],
        t2.to_string(): [],
        t3.to_string(): [with_id(c, &virtual_ignition())],
    });
    let params = json!({"hash": f.hash, "trackers": [t3, t1, t2]});
    f.expect(
        BATCH_LIST,
        params,
        (200, json!({"success": true, "result": result})),
    )
    .await;
    // The Navixy docs' GET form: the array as JSON text, with a space.
    let params = json!({"hash": f.hash, "trackers": format!("[{t2}, {t2}]")});
    let (_, get) = f.app.call(Enc::Query, BATCH_LIST, params).await;
    assert_eq!(
        get,
        json!({"success": true, "result": {t2.to_string(): []}})
    );
    let params = json!({"hash": f.hash, "trackers": []});
    f.expect(
        BATCH_LIST,
        params,
        (200, json!({"success": true, "result": {}})),
    )
    .await;

    let params = json!({"hash": f.hash, "trackers": [t1, 999_999]});
    f.expect(BATCH_LIST, params, nonexistent()).await;
    let params = json!({"hash": f.hash, "trackers": "1,2"});
    let not_array = (400, invalid(&[("trackers", "must be an array")]));
    f.expect(BATCH_LIST, params, not_array).await;
    let params = json!({"hash": f.hash, "trackers": vec![t1; 501]});
    let limit = (403, error(221, "Device limit exceeded"));
    assert_eq!(f.app.call(Enc::Json, BATCH_LIST, params).await, limit);
    let params = json!({"hash": f.hash, "trackers": vec![t3; 500]});
    assert_eq!(f.app.call(Enc::Json, BATCH_LIST, params).await.0, 200);
    f.block(t2, true).await;
    let params = json!({"hash": f.hash, "trackers": [t1, t2]});
    f.expect(BATCH_LIST, params, nonexistent()).await;

    // A clone lists the original's sensors.
    let (bob, clone) = f.clone_for_bob(t3).await;
    let result = json!({clone.to_string(): [with_id(c, &virtual_ignition())]});
    let params = json!({"hash": bob, "trackers": [clone]});
    f.expect(
        BATCH_LIST,
        params,
        (200, json!({"success": true, "result": result})),
    )
    .await;
}

#[tokio::test]
async fn calibration_data() {
    let f = fleet().await;
    let t = f.ids[0];
    let fuel_id = f.create(t, fuel()).await;
    let door_id = f.create(t, door(2)).await;
    let virtual_id = f.create(t, virtual_ignition()).await;
    let read = |tracker: i64, sensor: i64| json!({"hash": f.hash, "tracker_id": tracker, "sensor_id": sensor});
    let update = |tracker: i64, sensor: i64, data: &Value| json!({"hash": f.hash, "tracker_id": tracker, "sensor_id": sensor, "data": data});
    let value = |table: Value| (200, json!({"success": true, "value": table}));
    f.expect(CALIBRATION_READ, read(t, fuel_id), value(json!([])))
        .await;
    let tables = [
        (
            json!([{"in": 0.0, "out": 0.0}, {"in": 0.7, "out": 60.0}]),
            json!([{"in": 0.0, "out": 0.0}, {"in": 0.7, "out": 60.0}]),
        ),
        (
            json!([{"in": 3.5, "out": 100.0}, {"in": "0.5", "out": 10}, {"in": 1, "out": 20.5}]),
            json!([{"in": 0.5, "out": 10.0}, {"in": 1.0, "out": 20.5}, {"in": 3.5, "out": 100.0}]),
        ),
        (json!([]), json!([])),
    ];
    for (enc, (data, sorted)) in ENCODINGS.into_iter().zip(tables) {
        let answer = f
            .app
            .call(enc, CALIBRATION_UPDATE, update(t, fuel_id, &data))
            .await;
        assert_eq!(answer, ok(), "{enc:?}");
        f.expect(CALIBRATION_READ, read(t, fuel_id), value(sorted))
            .await;
    }
    // An update of the sensor keeps its table.
    let table = json!([{"in": 0.0, "out": 0.0}, {"in": 0.7, "out": 60.0}]);
    f.calibrate(t, fuel_id, &table).await;
    let params = json!({"hash": f.hash, "tracker_id": t, "sensor": with_id(fuel_id, &fuel())});
    f.expect(UPDATE, params, ok()).await;
    f.expect(CALIBRATION_READ, read(t, fuel_id), value(table.clone()))
        .await;

    // 228 for sensors that are not metering, 201 for a sensor not the tracker's.
    for id in [door_id, virtual_id] {
        f.expect(CALIBRATION_READ, read(t, id), unsupported()).await;
        f.expect(CALIBRATION_UPDATE, update(t, id, &table), unsupported())
            .await;
    }
    for (tracker, sensor) in [(t, 999_999), (f.ids[1], fuel_id), (999_999, fuel_id)] {
        f.expect(CALIBRATION_READ, read(tracker, sensor), not_found())
            .await;
        let params = update(tracker, sensor, &table);
        f.expect(CALIBRATION_UPDATE, params, not_found()).await;
    }
    for (data, msg) in [
        (
            json!([{"in": 1, "out": 2}, {"in": 1.0, "out": 3}]),
            "in values must be unique",
        ),
        (
            json!([{"in": 1}]),
            "items must be objects with numeric in and out",
        ),
        (json!({"in": 1, "out": 2}), "must be an array"),
        (Value::Null, "must not be null"),
    ] {
        let params = update(t, fuel_id, &data);
        f.expect(CALIBRATION_UPDATE, params, (400, invalid(&[("data", msg)])))
            .await;
    }
    f.expect(CALIBRATION_READ, read(t, fuel_id), value(table))
        .await;
}

#[tokio::test]
async fn batch_copy() {
    let f = fleet().await;
    let [base, same_model, other_model] = f.ids;
    let fuel_id = f.create(base, fuel()).await;
    f.create(base, ignition()).await;
    let table = json!([{"in": 0.0, "out": 0.0}, {"in": 1.0, "out": 50.0}]);
    f.calibrate(base, fuel_id, &table).await;
    // The target's own sensor is replaced.
    f.create(same_model, door(3)).await;
    let base_list = f.list(base).await;
    let without_ids = |list: &Value| -> Vec<Value> {
        let items = list.as_array().expect("list").iter().cloned();
        items
            .map(|mut s| {
                s.as_object_mut().map(|o| o.remove("id"));
                s
            })
            .collect()
    };

    for enc in ENCODINGS {
        let params =
            json!({"hash": f.hash, "base_tracker_id": base, "trackers": [same_model, base]});
        assert_eq!(f.app.call(enc, BATCH_COPY, params).await, ok(), "{enc:?}");
        let copies = f.list(same_model).await;
        assert_eq!(without_ids(&copies), without_ids(&base_list), "{enc:?}");
        assert_eq!(f.list(base).await, base_list, "the base is unchanged");
        let params =
            json!({"hash": f.hash, "tracker_id": same_model, "sensor_id": copies[0]["id"]});
        let answer = f.app.call(Enc::Json, CALIBRATION_READ, params).await;
        assert_eq!(answer, (200, json!({"success": true, "value": table})));
    }

    let copy = |base: i64, targets: Value| json!({"hash": f.hash, "base_tracker_id": base, "trackers": targets});
    let cases = [
        (
            copy(base, json!([other_model])),
            (400, error(272, "Trackers must have same models")),
        ),
        (copy(999_999, json!([same_model])), not_found()),
        (copy(base, json!([same_model, 999_999])), nonexistent()),
        (
            json!({"hash": f.hash}),
            (
                400,
                invalid(&[
                    ("base_tracker_id", "must not be null"),
                    ("trackers", "must not be null"),
                ]),
            ),
        ),
    ];
    for (params, expected) in cases {
        f.expect(BATCH_COPY, params, expected).await;
    }
    let params = copy(base, json!(vec![same_model; 501]));
    let limit = (403, error(221, "Device limit exceeded"));
    assert_eq!(f.app.call(Enc::Json, BATCH_COPY, params).await, limit);
    f.block(same_model, true).await;
    f.expect(BATCH_COPY, copy(base, json!([same_model])), nonexistent())
        .await;
    f.block(same_model, false).await;

    // Bob copies from his clone of the base (the original's sensors) to a tracker of his own.
    let (bob, clone) = f.clone_for_bob(base).await;
    let own = f
        .register("bob", Protocol::Teltonika, "356307042441047")
        .await;
    let params = json!({"hash": bob, "base_tracker_id": clone, "trackers": [own]});
    f.expect(BATCH_COPY, params, ok()).await;
    let params = json!({"hash": bob, "tracker_id": own});
    let (_, copies) = f.app.call(Enc::Json, LIST, params).await;
    assert_eq!(without_ids(&copies["list"]), without_ids(&base_list));
}

#[tokio::test]
async fn input_names() {
    let f = fleet().await;
    let (status, body) = f.app.call_all(INPUT_NAMES, json!({"hash": f.hash})).await;
    assert_eq!(status, 200);
    let list = body["list"].as_array().expect("list");
    assert_eq!(list.len(), trackd_core::sensor::input_names().len());
    assert_eq!(
        list[..3],
        [
            json!({"input_name": "analog_1", "description": "Analog input #1"}),
            json!({"input_name": "analog_2", "description": "Analog input #2"}),
            json!({"input_name": "analog_3", "description": "Analog input #3"}),
        ]
    );
    for item in [
        json!({"input_name": "board_voltage", "description": "Board voltage"}),
        json!({"input_name": "lls_level_16", "description": "LLS: Fuel level #16"}),
        json!({"input_name": "can_fuel_litres", "description": "CAN: Fuel level in litres"}),
    ] {
        assert!(list.contains(&item), "{item}");
    }
    // The hash is all it needs; without one it is error 3.
    f.expect(INPUT_NAMES, json!({}), (400, error(3, "Wrong hash")))
        .await;
}
