//! Tracker state and history over HTTP, in all three encodings with exact bodies, from data
//! that simulated devices send over real sockets: Wialon IPS text records and Teltonika
//! Codec 8 Extended packets built here. The clock is stopped and moved by hand (the gateway
//! stamps receive times by the same clock), so every time in an answer is known.

mod support;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use support::devices::{exchange, register};
use support::{error, invalid, TestApp};
use tokio::net::TcpStream;
use trackd_core::track::distance_km;
use trackd_core::tracker::Replacement;
use trackd_core::{TrackerId, UserId};
use trackd_protocol::checksum::crc16_arc;
use trackd_protocol::{Protocol, Transport};

/// 2025-06-02 08:00:00 UTC: 10:00:00 in Berlin, alice's zone (summer time, UTC+2).
const T0: i64 = 1_748_851_200_000;
const BERLIN_MS: i64 = 2 * 3_600_000;
const IMEI: &str = "861234567890123";

fn utc(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(T0 + secs * 1000).expect("time")
}

/// T0 + `secs` as alice reads it.
fn at(secs: i64) -> Value {
    let berlin = DateTime::from_timestamp_millis(T0 + secs * 1000 + BERLIN_MS).expect("time");
    json!(berlin.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// The latitude of the k-th position of a drive north, in Wialon's `ddmm.mmmmm`: steps of
/// 0.46875' (0.0078125°, 869 m), exact in binary so the answers' numbers are too.
fn wialon_lat(k: u32) -> String {
    format!("{:.5}", 5530.0 + 0.46875 * f64::from(k))
}

fn lat(k: u32) -> f64 {
    55.5 + 0.0078125 * f64::from(k)
}

/// An extended Wialon record at T0 + `secs` on the meridian 37.25 (or `lng_step` steps east of
/// it): heading 90, altitude 120, input 1 and output 2 on, an iButton, the serving cell and
/// the ignition. Fewer than 3 satellites is no fix.
fn record(secs: i64, k: u32, lng_step: u32, speed: u32, sats: u32, ignition: bool) -> String {
    let t = utc(secs);
    format!(
        "{};{};{};N;{:011.5};E;{speed};90;120;{sats};0.9;1;2;NA;AB45DF01145;ign:1:{},mcc:1:262,\
         mnc:1:1,lac:1:1234,cell_id:1:5678",
        t.format("%d%m%y"),
        t.format("%H%M%S"),
        wialon_lat(k),
        3715.0 + 0.46875 * f64::from(lng_step),
        u8::from(ignition)
    )
}

struct Wialon(TcpStream);

impl Wialon {
    async fn login(app: &TestApp, imei: &str) -> Wialon {
        let addr = app
            .server
            .device_addr(Protocol::Wialon, Transport::Tcp)
            .expect("wialon listener");
        let mut device = Wialon(TcpStream::connect(addr).await.expect("connect"));
        device.send(&format!("#L#{imei};NA\r\n"), "#AL#1\r\n").await;
        device
    }

    /// Sends a packet and waits for its answer, which comes after the commit.
    async fn send(&mut self, packet: &str, answer: &str) {
        let got = exchange(&mut self.0, packet.as_bytes(), answer.len()).await;
        assert_eq!(String::from_utf8_lossy(&got), answer, "answer to {packet}");
    }

    async fn report(&mut self, record: String) {
        self.send(&format!("#D#{record}\r\n"), "#AD#1\r\n").await;
    }
}

struct Setup {
    app: TestApp,
    hash: String,
    account: UserId,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    app.server.state.clock.stop_at(T0);
    let hash = app.master().await;
    let account = app.user_id("alice").await;
    Setup { app, hash, account }
}

impl Setup {
    fn advance(&self, secs: i64) {
        self.app.server.state.clock.advance(secs * 1000);
    }

    async fn source_id(&self, tracker: TrackerId) -> i64 {
        let t = self.app.store.tracker_any(tracker).await.expect("read");
        t.expect("tracker").source.id.0
    }

    /// Calls `path` for one tracker in every encoding; the answer must be 200 and `body`.
    async fn expect(&self, path: &str, tracker: TrackerId, body: Value) {
        let (status, got) = self
            .app
            .call_all(path, json!({"hash": self.hash, "tracker_id": tracker.0}))
            .await;
        assert_eq!((status, &got), (200, &body), "{path}");
    }

    /// `get_last_gps_point` after a fix of [`record`] at `secs` at position `k`.
    async fn expect_last_fix(&self, tracker: TrackerId, secs: i64, k: u32, speed: u32) {
        let value = json!({"get_time": at(secs), "heading": 90, "lat": lat(k), "lng": 37.25,
                           "satellites": 9, "speed": speed});
        let body = json!({"success": true, "value": value});
        self.expect("tracker/get_last_gps_point", tracker, body)
            .await;
    }

    /// `get_state`, and the same object from `get_states`, which keeps the objects it
    /// rendered while their tracker and state are unchanged: each step of a test that calls
    /// this is one where a kept object must not be answered (new data, time gone by, a new
    /// device), and the encodings after the first are answered what it kept.
    async fn expect_state(&self, tracker: TrackerId, now: i64, state: &Value) {
        let body = json!({"success": true, "user_time": at(now), "state": state});
        self.expect("tracker/get_state", tracker, body).await;
        let states = json!({"success": true, "user_time": at(now),
                            "states": {tracker.0.to_string(): state}});
        for params in [json!({"trackers": [tracker.0]}), json!({})] {
            let mut params = params;
            params["hash"] = json!(self.hash);
            let answer = self.app.call_all("tracker/get_states", params).await;
            assert_eq!(answer, (200, states.clone()), "get_states");
        }
    }
}

/// The state object of a Wialon IPS tracker (8 inputs, 8 outputs) that has sent nothing.
fn empty_wialon_state(source_id: i64) -> Value {
    json!({
        "source_id": source_id,
        "gps": {"updated": null, "signal_level": null, "location": null,
                "heading": 0, "speed": 0, "alt": 0},
        "connection_status": "just_registered",
        "movement_status": "parked",
        "movement_status_update": null,
        "gsm": null,
        "last_update": null,
        "battery_level": null,
        "battery_update": null,
        "inputs": vec![false; 8],
        "inputs_update": null,
        "outputs": vec![false; 8],
        "outputs_update": null,
        "additional": {},
        "actual_track_update": null,
    })
}

/// What every record of [`record`] sets, at `secs`.
fn reported(state: &mut Value, secs: i64, ignition: bool) {
    state["last_update"] = at(secs);
    state["gsm"] = json!({"updated": at(secs), "signal_level": null,
                          "network_name": null, "roaming": null});
    state["inputs"] = json!([true, false, false, false, false, false, false, false]);
    state["inputs_update"] = at(secs);
    state["outputs"] = json!([false, true, false, false, false, false, false, false]);
    state["outputs_update"] = at(secs);
    state["additional"] = json!({"hardware_key": {"value": "AB45DF01145", "updated": at(secs)}});
    state["ignition"] = json!(ignition);
    state["ignition_update"] = at(secs);
}

/// The GPS part after a fix at `secs` at position `k` going `speed`.
fn gps(secs: i64, k: u32, speed: u32) -> Value {
    json!({"updated": at(secs), "signal_level": 90, "location": {"lat": lat(k), "lng": 37.25},
           "heading": 90, "speed": speed, "alt": 120})
}

#[tokio::test]
async fn a_tracker_drives_parks_loses_its_fix_goes_offline_and_comes_back() {
    let s = setup().await;
    let tracker = register(s.app.store.as_ref(), s.account, Protocol::Wialon, IMEI).await;
    let mut state = empty_wialon_state(s.source_id(tracker).await);
    s.expect_state(tracker, 0, &state).await;
    s.expect(
        "tracker/get_last_gps_point",
        tracker,
        json!({"success": true, "value": null}),
    )
    .await;

    // Driving north with the ignition on.
    let mut device = Wialon::login(&s.app, IMEI).await;
    s.expect_state(tracker, 0, &state).await;
    device.report(record(0, 0, 0, 60, 9, true)).await;
    s.advance(60);
    device.report(record(60, 2, 0, 62, 9, true)).await;
    reported(&mut state, 60, true);
    state["gps"] = gps(60, 2, 62);
    state["connection_status"] = json!("active");
    state["movement_status"] = json!("moving");
    state["movement_status_update"] = at(0);
    state["actual_track_update"] = at(60);
    s.expect_state(tracker, 60, &state).await;
    s.expect_last_fix(tracker, 60, 2, 62).await;
    s.expect(
        "tracker/get_inputs",
        tracker,
        json!({"success": true, "user_time": at(60),
               "inputs": [true, false, false, false, false, false, false, false],
               "states": [], "update_time": at(60)}),
    )
    .await;

    // Standing, ignition off: stopped, then parked once the parking time has passed.
    s.advance(60);
    device.report(record(120, 4, 0, 0, 9, false)).await;
    reported(&mut state, 120, false);
    state["gps"] = gps(120, 4, 0);
    state["movement_status"] = json!("stopped");
    state["movement_status_update"] = at(120);
    s.expect_state(tracker, 120, &state).await;
    s.advance(280);
    s.expect_state(tracker, 400, &state).await;
    s.advance(20);
    state["movement_status"] = json!("parked");
    s.expect_state(tracker, 420, &state).await;
    s.advance(10);
    state["connection_status"] = json!("idle");
    s.expect_state(tracker, 430, &state).await;

    // Reports without a fix: the last fix stays; ten minutes on, the signal is lost.
    s.advance(50);
    device.report(record(480, 4, 0, 0, 0, false)).await;
    reported(&mut state, 480, false);
    state["connection_status"] = json!("active");
    s.expect_state(tracker, 480, &state).await;
    s.advance(300);
    device.report(record(780, 4, 0, 0, 0, false)).await;
    reported(&mut state, 780, false);
    state["connection_status"] = json!("signal_lost");
    s.expect_state(tracker, 780, &state).await;

    // Silent for more than 30 minutes: offline.
    s.advance(1801);
    state["connection_status"] = json!("offline");
    s.expect_state(tracker, 2581, &state).await;

    // Back, first with late history from its memory: the device is heard from again, but a
    // record older than the state moves none of it.
    s.advance(119);
    device
        .send(
            &format!("#B#{}\r\n", record(100, 3, 0, 62, 9, true)),
            "#AB#1\r\n",
        )
        .await;
    state["connection_status"] = json!("signal_lost");
    s.expect_state(tracker, 2700, &state).await;
    // Then a fix.
    s.advance(60);
    device.report(record(2760, 4, 0, 0, 9, false)).await;
    reported(&mut state, 2760, false);
    state["gps"] = gps(2760, 4, 0);
    state["connection_status"] = json!("active");
    s.expect_state(tracker, 2760, &state).await;
    s.advance(360);
    state["connection_status"] = json!("idle");
    s.expect_state(tracker, 3120, &state).await;

    // A new device behind the tracker: just replaced until it reports.
    s.app
        .store
        .replace(
            tracker,
            &Replacement {
                device_id: "861234567890124".into(),
                model: "wialon_ips_11".into(),
                phone: None,
                apn_name: None,
                apn_user: None,
                apn_password: None,
                register_commands_pending: false,
                creation_date: "2025-06-02".into(),
                replaced_at: T0 + 3120 * 1000,
            },
        )
        .await
        .expect("replace");
    state["connection_status"] = json!("just_replaced");
    s.expect_state(tracker, 3120, &state).await;
    s.advance(60);
    let mut new_device = Wialon::login(&s.app, "861234567890124").await;
    new_device.report(record(3180, 4, 0, 0, 9, false)).await;
    reported(&mut state, 3180, false);
    state["gps"] = gps(3180, 4, 0);
    state["connection_status"] = json!("active");
    s.expect_state(tracker, 3180, &state).await;
    s.expect_last_fix(tracker, 3180, 4, 0).await;
}

/// A Codec 8 Extended packet of one record at T0 + `secs` (52.5 N, 13.4 E, 35 m, heading
/// 180, 10 satellites, 45 km/h): input 1, GSM level 4 of 5, battery 87 %, ignition and
/// movement on, 2 trouble codes, output 1; RPM 1500, coolant 90.5 °C; CAN mileage
/// 123456.789 km; the VIN.
fn codec8e(secs: i64) -> Vec<u8> {
    let one: &[(u16, u8)] = &[
        (1, 1),
        (21, 4),
        (113, 87),
        (239, 1),
        (240, 1),
        (30, 2),
        (179, 1),
    ];
    let two: &[(u16, u16)] = &[(85, 1500), (115, 905)];
    let four: &[(u16, u32)] = &[(87, 123_456_789)];
    let vin = b"WVWZZZ1JZXW000001";
    let mut avl = vec![0x8E, 1];
    avl.extend((T0 + secs * 1000).to_be_bytes());
    avl.push(0);
    avl.extend(134_000_000_i32.to_be_bytes());
    avl.extend(525_000_000_i32.to_be_bytes());
    avl.extend(35_u16.to_be_bytes());
    avl.extend(180_u16.to_be_bytes());
    avl.push(10);
    avl.extend(45_u16.to_be_bytes());
    avl.extend(0_u16.to_be_bytes());
    let total = one.len() + two.len() + four.len() + 1;
    avl.extend(u16::try_from(total).expect("count").to_be_bytes());
    avl.extend(u16::try_from(one.len()).expect("count").to_be_bytes());
    for (id, v) in one {
        avl.extend(id.to_be_bytes());
        avl.push(*v);
    }
    avl.extend(u16::try_from(two.len()).expect("count").to_be_bytes());
    for (id, v) in two {
        avl.extend(id.to_be_bytes());
        avl.extend(v.to_be_bytes());
    }
    avl.extend(u16::try_from(four.len()).expect("count").to_be_bytes());
    for (id, v) in four {
        avl.extend(id.to_be_bytes());
        avl.extend(v.to_be_bytes());
    }
    avl.extend(0_u16.to_be_bytes());
    avl.extend(1_u16.to_be_bytes());
    avl.extend(256_u16.to_be_bytes());
    avl.extend(u16::try_from(vin.len()).expect("len").to_be_bytes());
    avl.extend(vin);
    avl.push(1);
    let mut packet = vec![0, 0, 0, 0];
    packet.extend(u32::try_from(avl.len()).expect("len").to_be_bytes());
    packet.extend(&avl);
    packet.extend(u32::from(crc16_arc(&avl)).to_be_bytes());
    packet
}

#[tokio::test]
async fn teltonika_battery_gsm_inputs_and_diagnostics() {
    let s = setup().await;
    let imei = "356307042441013";
    let tracker = register(s.app.store.as_ref(), s.account, Protocol::Teltonika, imei).await;
    let addr = s
        .app
        .server
        .device_addr(Protocol::Teltonika, Transport::Tcp)
        .expect("teltonika listener");
    let mut device = TcpStream::connect(addr).await.expect("connect");
    let mut login = vec![0, 15];
    login.extend(imei.as_bytes());
    assert_eq!(exchange(&mut device, &login, 1).await, [1]);
    assert_eq!(exchange(&mut device, &codec8e(0), 4).await, [0, 0, 0, 1]);

    let state = json!({
        "source_id": s.source_id(tracker).await,
        "gps": {"updated": at(0), "signal_level": 100, "location": {"lat": 52.5, "lng": 13.4},
                "heading": 180, "speed": 45, "alt": 35},
        "connection_status": "active",
        "movement_status": "moving",
        "movement_status_update": at(0),
        "gsm": {"updated": at(0), "signal_level": 80, "network_name": null, "roaming": null},
        "last_update": at(0),
        "battery_level": 87,
        "battery_update": at(0),
        "inputs": [true],
        "inputs_update": at(0),
        "outputs": [true],
        "outputs_update": at(0),
        "additional": {},
        "actual_track_update": at(0),
        "ignition": true,
        "ignition_update": at(0),
    });
    s.expect_state(tracker, 0, &state).await;
    s.expect(
        "tracker/get_inputs",
        tracker,
        json!({"success": true, "user_time": at(0), "inputs": [true], "states": [],
               "update_time": at(0)}),
    )
    .await;
    let value = |label: &str, name: &str, kind: &str, value: f64, units_type: &str| {
        json!({"label": label, "name": name, "type": kind, "value": value,
               "units_type": units_type, "units": "", "converted_units_type": null,
               "converted_value": null})
    };
    s.expect(
        "tracker/get_diagnostics",
        tracker,
        json!({
            "success": true,
            "user_time": at(0),
            "inputs": [
                value("CAN: Coolant temperature", "can_coolant_t", "temperature", 90.5, "celsius"),
                value("CAN: Mileage", "can_mileage", "custom", 123_456.789, "km"),
                value("CAN: RPM", "can_rpm", "rpm", 1500.0, "custom"),
            ],
            "states": {"obd_dtc_number": 2, "obd_vin": "WVWZZZ1JZXW000001"},
            "update_time": at(0),
        }),
    )
    .await;

    // Times in ISO 8601 when asked, in alice's zone.
    let (_, body) = s
        .app
        .call_all(
            "tracker/get_last_gps_point",
            json!({"hash": s.hash, "tracker_id": tracker.0, "iso_datetime": true}),
        )
        .await;
    assert_eq!(
        body,
        json!({"success": true, "value": {"get_time": "2025-06-02T10:00:00+02:00",
               "heading": 180, "lat": 52.5, "lng": 13.4, "satellites": 10, "speed": 45}})
    );

    // A tracker without any of it.
    let quiet = register(
        s.app.store.as_ref(),
        s.account,
        Protocol::Teltonika,
        "356307042441014",
    )
    .await;
    s.expect(
        "tracker/get_diagnostics",
        quiet,
        json!({"success": true, "user_time": at(0), "inputs": [], "states": null,
               "update_time": null}),
    )
    .await;
    s.expect(
        "tracker/get_inputs",
        quiet,
        json!({"success": true, "user_time": at(0), "inputs": [false], "states": [],
               "update_time": null}),
    )
    .await;
}

#[tokio::test]
async fn get_states_lists_blocked_and_missing_trackers_or_refuses_them() {
    let s = setup().await;
    let store = s.app.store.as_ref();
    let a = register(store, s.account, Protocol::Wialon, IMEI).await;
    let b = register(store, s.account, Protocol::Wialon, "861234567890125").await;
    let blocked = register(store, s.account, Protocol::Wialon, "861234567890126").await;
    let corrupted = register(store, s.account, Protocol::Wialon, "861234567890127").await;
    s.app.user("bob", None, &[]).await;
    let bob = store
        .user_by_login("bob")
        .await
        .expect("read")
        .expect("bob");
    let bobs = register(store, bob.id, Protocol::Wialon, "861234567890128").await;
    trackd::admin::set_blocked(store, blocked.0, true)
        .await
        .expect("block");
    store.corrupt(corrupted).await.expect("corrupt");

    let mut device = Wialon::login(&s.app, IMEI).await;
    device.report(record(0, 0, 0, 0, 9, false)).await;
    let mut a_state = empty_wialon_state(s.source_id(a).await);
    reported(&mut a_state, 0, false);
    a_state["gps"] = gps(0, 0, 0);
    a_state["connection_status"] = json!("active");
    a_state["movement_status"] = json!("stopped");
    a_state["movement_status_update"] = at(0);
    let b_state = empty_wialon_state(s.source_id(b).await);

    let call = |params: Value| {
        let mut params = params;
        params["hash"] = json!(s.hash);
        s.app.call_all("tracker/get_states", params)
    };
    let ok = |states: Value| json!({"success": true, "user_time": at(0), "states": states});
    let both = json!({a.0.to_string(): a_state, b.0.to_string(): b_state});

    assert_eq!(
        call(json!({"trackers": [a.0, b.0]})).await,
        (200, ok(both.clone()))
    );
    assert_eq!(
        call(json!({"trackers": [b.0, a.0, a.0]})).await,
        (200, ok(both.clone())),
        "duplicates count once"
    );
    // Left out: every live tracker; a blocked one is skipped, or listed.
    assert_eq!(call(json!({})).await, (200, ok(both.clone())));
    let mut listed = ok(both.clone());
    listed["blocked"] = json!([blocked.0]);
    assert_eq!(call(json!({"list_blocked": true})).await, (200, listed));
    assert_eq!(call(json!({"trackers": []})).await, (200, ok(json!({}))));

    let one = json!({a.0.to_string(): a_state});
    assert_eq!(
        call(json!({"trackers": [a.0, blocked.0]})).await,
        (403, error(208, "Device blocked"))
    );
    let mut listed = ok(one.clone());
    listed["blocked"] = json!([blocked.0]);
    assert_eq!(
        call(json!({"trackers": [a.0, blocked.0], "list_blocked": true})).await,
        (200, listed)
    );
    assert_eq!(
        call(json!({"trackers": [a.0, corrupted.0]})).await,
        (400, error(201, "Not found in database"))
    );
    for missing in [bobs.0, 999_999] {
        assert_eq!(
            call(json!({"trackers": [a.0, missing]})).await,
            (400, error(217, "List contains nonexistent entities"))
        );
    }
    let mut listed = ok(one.clone());
    listed["not_exist"] = json!([corrupted.0, bobs.0, 999_999]);
    assert_eq!(
        call(json!({"trackers": [999_999, a.0, bobs.0, corrupted.0], "allow_not_exist": true}))
            .await,
        (200, listed)
    );
    let mut listed = ok(one);
    listed["not_exist"] = json!([999_999]);
    listed["blocked"] = json!([blocked.0]);
    assert_eq!(
        call(
            json!({"trackers": [a.0, blocked.0, 999_999], "allow_not_exist": true,
                    "list_blocked": true})
        )
        .await,
        (200, listed)
    );
    let many: Vec<i64> = (1..=2001).collect();
    assert_eq!(
        call(json!({"trackers": many})).await,
        (
            400,
            invalid(&[("trackers", "size must be between 0 and 2000")])
        )
    );

    // The single-tracker calls.
    for path in [
        "tracker/get_state",
        "tracker/get_last_gps_point",
        "tracker/get_inputs",
        "tracker/get_diagnostics",
    ] {
        for (tracker, code) in [(blocked, 208), (corrupted, 201), (bobs, 201)] {
            let (status, body) = s
                .app
                .call_all(path, json!({"hash": s.hash, "tracker_id": tracker.0}))
                .await;
            assert_eq!(body["status"]["code"], code, "{path} {tracker}");
            assert_eq!(status, if code == 208 { 403 } else { 400 });
        }
        let (_, body) = s.app.call_all(path, json!({"hash": s.hash})).await;
        assert_eq!(
            body,
            invalid(&[("tracker_id", "must not be null")]),
            "{path}"
        );
    }
}

/// `get_states` keeps the objects it rendered while their trackers and states are unchanged:
/// a new report answers anew even where the statuses stay as they were, and each call is
/// answered in its own time format.
#[tokio::test]
async fn get_states_answers_each_report_and_each_time_format() {
    let s = setup().await;
    let a = register(s.app.store.as_ref(), s.account, Protocol::Wialon, IMEI).await;
    let mut device = Wialon::login(&s.app, IMEI).await;
    device.report(record(0, 0, 0, 0, 9, false)).await;
    let mut state = empty_wialon_state(s.source_id(a).await);
    reported(&mut state, 0, false);
    state["gps"] = gps(0, 0, 0);
    state["connection_status"] = json!("active");
    state["movement_status"] = json!("stopped");
    state["movement_status_update"] = at(0);
    s.expect_state(a, 0, &state).await;

    // Standing still ten seconds on, a little further north: active and stopped since 0
    // as before, the rest new.
    s.advance(10);
    device.report(record(10, 1, 0, 0, 9, false)).await;
    reported(&mut state, 10, false);
    state["gps"] = gps(10, 1, 0);
    s.expect_state(a, 10, &state).await;

    // In ISO 8601 when asked, then as alice reads times again.
    let iso = |secs: i64| {
        let berlin = utc(secs) + chrono::Duration::milliseconds(BERLIN_MS);
        json!(berlin.format("%Y-%m-%dT%H:%M:%S+02:00").to_string())
    };
    let mut iso_state = state.clone();
    for key in [
        "last_update",
        "inputs_update",
        "outputs_update",
        "ignition_update",
    ] {
        iso_state[key] = iso(10);
    }
    iso_state["movement_status_update"] = iso(0);
    iso_state["gps"]["updated"] = iso(10);
    iso_state["gsm"]["updated"] = iso(10);
    iso_state["additional"]["hardware_key"]["updated"] = iso(10);
    let answer = s
        .app
        .call_all(
            "tracker/get_states",
            json!({"hash": s.hash, "iso_datetime": true}),
        )
        .await;
    assert_eq!(
        answer,
        (
            200,
            json!({"success": true, "user_time": iso(10),
                   "states": {a.0.to_string(): iso_state}})
        )
    );
    s.expect_state(a, 10, &state).await;
}

/// The points of the history test: (seconds, position north, steps east, speed, satellites,
/// sent from the device's memory).
const HISTORY: &[(i64, u32, u32, u32, u32, bool)] = &[
    // Parked, then a first trip north (two records from the black box).
    (0, 0, 0, 0, 9, false),
    (600, 1, 0, 50, 9, false),
    (660, 2, 0, 50, 9, true),
    (720, 3, 0, 50, 9, true),
    (780, 3, 0, 0, 9, false),
    // Parked; once without a fix.
    (1000, 3, 0, 0, 0, false),
    (1800, 3, 0, 0, 9, false),
    // A second trip, east.
    (1860, 3, 1, 40, 9, false),
    (1920, 3, 2, 40, 9, false),
    (1980, 3, 2, 0, 9, false),
    (2700, 3, 2, 0, 9, false),
];

fn lng(step: u32) -> f64 {
    37.25 + 0.0078125 * f64::from(step)
}

/// A track point of `track/read` from a row of [`HISTORY`].
fn track_point(row: &(i64, u32, u32, u32, u32, bool)) -> Value {
    let (secs, k, east, speed, sats, buffered) = *row;
    let mut v = json!({"lat": lat(k), "lng": lng(east), "alt": 120, "satellites": sats,
                       "get_time": at(secs), "address": "", "heading": 90, "speed": speed});
    if buffered {
        v["buffered"] = json!(true);
    }
    v
}

/// The `regular` track made of these rows of [`HISTORY`].
fn regular(rows: &[(i64, u32, u32, u32, u32, bool)], max_speed: u32) -> Value {
    let mut km = 0.0;
    for pair in rows.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.3 > 0 || b.3 > 0 {
            km += distance_km((lat(a.1), lng(a.2)), (lat(b.1), lng(b.2)));
        }
    }
    let (first, last) = (rows[0].0, rows[rows.len() - 1].0);
    let hours = (last - first) as f64 / 3600.0;
    json!({"id": T0 / 1000 + first, "start_date": at(first), "start_address": "",
           "max_speed": max_speed, "end_date": at(last), "end_address": "",
           "length": (km * 100.0_f64).round() / 100.0, "points": rows.len(),
           "avg_speed": (km / hours).round() as i64, "type": "regular"})
}

#[tokio::test]
async fn history_as_trips_and_points() {
    let s = setup().await;
    let tracker = register(s.app.store.as_ref(), s.account, Protocol::Wialon, IMEI).await;
    let mut device = Wialon::login(&s.app, IMEI).await;
    for &(secs, k, east, speed, sats, buffered) in HISTORY {
        let r = record(secs, k, east, speed, sats, false);
        if buffered {
            device.send(&format!("#B#{r}\r\n"), "#AB#1\r\n").await;
        } else {
            device.report(r).await;
        }
    }
    s.advance(3600);
    let call = |path: &'static str, params: Value| {
        let mut params = params;
        params["hash"] = json!(s.hash);
        params["tracker_id"] = json!(tracker.0);
        s.app.call_all(path, params)
    };
    let period = json!({"from": "2025-06-02 10:00:00", "to": "2025-06-02 11:00:00"});
    let ok = |list: Value| json!({"success": true, "limit_exceeded": false, "list": list});

    // Two trips: from moving off (the parked report came long before) to the arrival, and
    // from the parking's last report (just before moving off) to the next arrival.
    let first = &HISTORY[1..=4];
    let second: Vec<_> = HISTORY[6..=9].to_vec();
    let trips = json!([regular(first, 50), regular(&second, 40)]);
    assert_eq!(
        call("track/list", period.clone()).await,
        (200, ok(trips.clone()))
    );
    let mut counted = trips.clone();
    for t in counted.as_array_mut().expect("list") {
        t["event_count"] = json!(0);
    }
    let mut params = period.clone();
    params["count_events"] = json!(true);
    assert_eq!(call("track/list", params).await, (200, ok(counted)));
    let located: Vec<_> = HISTORY.iter().filter(|r| r.4 >= 3).copied().collect();
    let mut params = period.clone();
    params["split"] = json!(false);
    assert_eq!(
        call("track/list", params).await,
        (200, ok(json!([regular(&located, 50)])))
    );

    // Every located point (not the one without a fix), oldest first.
    let points: Vec<Value> = located.iter().map(track_point).collect();
    assert_eq!(
        call("track/read", period.clone()).await,
        (200, ok(json!(points)))
    );
    // Thinned to three: the ends and the corner.
    let mut params = period.clone();
    params["point_limit"] = json!(3);
    assert_eq!(
        call("track/read", params.clone()).await,
        (
            200,
            ok(json!([
                track_point(&HISTORY[0]),
                track_point(&HISTORY[3]),
                track_point(&HISTORY[10])
            ]))
        )
    );
    params["simplify"] = json!(false);
    assert_eq!(
        call("track/read", params).await,
        (200, ok(json!(points))),
        "no simplifying, no limit"
    );
    // One track by its ID.
    let mut params = period.clone();
    params["track_id"] = json!(T0 / 1000 + 1800);
    let second_points: Vec<Value> = second.iter().map(track_point).collect();
    assert_eq!(
        call("track/read", params.clone()).await,
        (200, ok(json!(second_points)))
    );
    params["track_id"] = json!(T0 / 1000 + 1);
    assert_eq!(
        call("track/read", params).await,
        (404, error(204, "Entity not found"))
    );
    // Periods and limits.
    for path in ["track/read", "track/list"] {
        let month = json!({"from": "2025-06-01 00:00:00", "to": "2025-07-01 00:00:01"});
        assert_eq!(
            call(path, month).await,
            (400, error(211, "Requested time span is too big"))
        );
        let backwards = json!({"from": "2025-06-02 11:00:00", "to": "2025-06-02 10:00:00"});
        assert_eq!(
            call(path, backwards).await,
            (400, invalid(&[("to", "must be after from")]))
        );
        let bad = json!({"from": "yesterday"});
        assert_eq!(
            call(path, bad).await,
            (
                400,
                invalid(&[
                    ("from", "must be a date/time as yyyy-MM-dd HH:mm:ss"),
                    ("to", "must not be null")
                ])
            )
        );
        let (status, body) = s
            .app
            .call_all(path, json!({"hash": s.hash, "tracker_id": 999_999, "from": "2025-06-02 10:00:00", "to": "2025-06-02 11:00:00"}))
            .await;
        assert_eq!((status, body), (404, error(204, "Entity not found")));
    }
    for limit in [1, 3001] {
        let mut params = period.clone();
        params["point_limit"] = json!(limit);
        assert_eq!(
            call("track/read", params).await,
            (
                400,
                invalid(&[("point_limit", "must be between 2 and 3000")])
            )
        );
    }
    trackd::admin::set_blocked(s.app.store.as_ref(), tracker.0, true)
        .await
        .expect("block");
    assert_eq!(
        call("track/list", period).await,
        (403, error(208, "Device blocked"))
    );
}
