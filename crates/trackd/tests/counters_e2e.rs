//! Counters end to end (DESIGN §3): a simulated Teltonika device drives a known route, with
//! parking (ignition off) between trips, over a real TCP socket, and `tracker/get_counters`
//! must give the odometer and engine hours that the records it sent imply, on SQLite and on
//! PostgreSQL.
//!
//! The expectation is computed here, independently of the server's counter engine, from what
//! went on the wire (Codec 8 carries coordinates in 1e-7 degrees): the odometer is the sum of
//! great-circle distances between consecutive fixes, the engine hours the sum of the time
//! between consecutive records with the ignition on in both. (The server leaves out parked
//! drift and jumps; the simulated vehicle has neither: it stands still exactly where it
//! stopped, and drives at road speeds.) The route is asserted to be long enough, with engine
//! time and an ignition-off parking between trips, that a wrong rule cannot pass by chance.
//!
//! The in-order device also sends one packet twice (a lost acknowledgement): duplicates count
//! once. A second device sends the same route out of order (the second half first, then the first
//! half as buffered records): its late records are counted in their place, so its counters
//! must come out as the in-order device's.
//!
//! The clock is stopped at T0, when the counters are set to 0; records are dated after it,
//! and the clock follows the records as they are sent (each packet is received just after
//! its last record). Nothing sleeps: every packet's acknowledgement comes after its commit.

mod support;

use chrono::DateTime;
use serde_json::{json, Value};
use support::devices::{register, DEADLINE};
use support::{Enc, TestApp};
use trackd_core::counter::CounterType;
use trackd_core::TrackerId;
use trackd_protocol::{Protocol, Transport};
use trackd_sim::encode::SimProtocol;
use trackd_sim::link::Link;
use trackd_sim::{Sample, Vehicle};
use trackd_store::testing::fresh_database;

/// 2025-06-02 08:00:00 UTC (10:00 in Berlin, alice's zone): the counters are set to 0 then.
const T0: i64 = 1_748_851_200_000;
const BERLIN_MS: i64 = 2 * 3_600_000;
/// The device's first record, a minute after the counters were set.
const FIRST_RECORD: i64 = T0 + 60_000;
/// A record every 10 s for 3 hours.
const INTERVAL_MS: i64 = 10_000;
const SAMPLES: usize = 3 * 360;
/// The route (see `trackd_sim::route`): chosen so that within three hours the vehicle drives
/// several trips with ignition-off parking between them.
const SEED: u64 = 11;
/// Records per Codec 8 packet: small enough that history buckets (5 min = 30 records) and
/// ignition changes fall across packets, prime so they do so at varying offsets.
const BATCH: usize = 37;
/// Relative tolerance of the comparison with the expectation.
const TOLERANCE: f64 = 1e-3;
/// Mean Earth radius, km (IUGG), as DESIGN §3's odometer uses.
const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Engine hours: records further apart than this count nothing (the server's default).
const MAX_GAP_MS: i64 = 15 * 60 * 1000;
const IMEI_IN_ORDER: &str = "356307042441013";
const IMEI_OUT_OF_ORDER: &str = "356307042441021";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_match_the_route_on_sqlite() {
    let app = TestApp::spawn().await;
    drive_and_count(&app, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_match_the_route_on_postgres() {
    // `None`: PostgreSQL is not installed, and fresh_database printed SKIPPED (with
    // TRACKD_REQUIRE_PG=1 it panics instead).
    let Some(db) = fresh_database().await else {
        return;
    };
    let url = db.url().to_owned();
    let app = TestApp::spawn_with(|c| c.database = url).await;
    drive_and_count(&app, "postgres").await;
}

/// What the records on the wire imply.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Expected {
    odometer_km: f64,
    engine_hours: f64,
}

async fn drive_and_count(app: &TestApp, backend: &str) {
    app.server.state.clock.stop_at(T0);
    let hash = app.master().await;
    let account = app.user_id("alice").await;

    let sent = route();
    let expected = expect(&sent);
    // The route is not trivial: a real distance, real engine time, and a parking with the
    // ignition off between two stretches with it on.
    assert!(expected.odometer_km > 10.0, "{expected:?}");
    assert!(expected.engine_hours > 0.5, "{expected:?}");
    let first_on = sent.iter().position(|s| s.ignition).expect("ignition on");
    let off_after = sent[first_on..]
        .iter()
        .position(|s| !s.ignition)
        .expect("ignition off after a trip")
        + first_on;
    assert!(
        sent[off_after..].iter().any(|s| s.ignition),
        "a trip after the parking"
    );

    let mut trackers = Vec::new();
    for imei in [IMEI_IN_ORDER, IMEI_OUT_OF_ORDER] {
        let tracker = register(app.store.as_ref(), account, Protocol::Teltonika, imei).await;
        // Counters exist from T0 on, at 0: they count the records dated after T0.
        for kind in ["odometer", "engine_hours"] {
            set_counter(app, &hash, tracker, kind, 0.0).await;
        }
        let set = counters(app, &hash, tracker).await;
        assert_eq!(set.values(), (0.0, 0.0), "set to 0 before any record");
        assert_eq!(set.update_times, [berlin(T0), berlin(T0)]);
        trackers.push(tracker);
    }
    let (in_order, out_of_order) = (trackers[0], trackers[1]);

    // In order, as a device on line sends.
    let mut device = Device::open(app, IMEI_IN_ORDER).await;
    for packet in sent.chunks(BATCH) {
        device.send(app, packet).await;
    }
    let last = berlin(sent.last().expect("records").time_ms);
    let got = counters(app, &hash, in_order).await;
    report(backend, "in order", expected, &got);
    assert_close(expected, &got, "in order");
    assert_eq!(got.update_times, [last.clone(), last.clone()]);
    assert_stored(app, in_order, &got).await;
    // A device that missed an acknowledgement sends the packet again: its records are
    // duplicates now, and count once.
    let again = sent.chunks(BATCH).nth(10).expect("packet");
    device.send(app, again).await;
    assert_eq!(
        counters(app, &hash, in_order).await,
        got,
        "after a packet sent twice"
    );

    // Out of order: the second half first (the device came on line in the middle of the
    // route), then the first half from its black box, oldest first.
    let (first_half, second_half) = sent.split_at(sent.len() / 2);
    let mut device = Device::open(app, IMEI_OUT_OF_ORDER).await;
    for packet in second_half.chunks(BATCH) {
        device.send(app, packet).await;
    }
    let partial = counters(app, &hash, out_of_order).await;
    assert_close(expect(second_half), &partial, "the second half alone");
    for packet in first_half.chunks(BATCH) {
        device.send(app, packet).await;
    }
    let late = counters(app, &hash, out_of_order).await;
    report(backend, "out of order", expected, &late);
    assert_close(expected, &late, "out of order");
    assert_stored(app, out_of_order, &late).await;
    // The same records in another order: late records are folded in their place, so the
    // fold is the same, to the bit, and so is the answer.
    assert_eq!(late, got, "out of order as in order");
}

/// The route's records, as the device sends them (Codec 8 carries 1e-7 degrees).
fn route() -> Vec<Sample> {
    let mut vehicle = Vehicle::new(SEED, FIRST_RECORD, INTERVAL_MS);
    (0..SAMPLES)
        .map(|_| {
            let mut s = vehicle.next_sample();
            s.lat = on_the_wire(s.lat);
            s.lon = on_the_wire(s.lon);
            s
        })
        .collect()
}

fn on_the_wire(degrees: f64) -> f64 {
    (degrees * 1e7).round() / 1e7
}

/// The counters these records imply, counted from their first.
fn expect(samples: &[Sample]) -> Expected {
    let mut out = Expected {
        odometer_km: 0.0,
        engine_hours: 0.0,
    };
    for w in samples.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        out.odometer_km += haversine_km(a.lat, a.lon, b.lat, b.lon);
        let dt = b.time_ms - a.time_ms;
        if a.ignition && b.ignition && dt <= MAX_GAP_MS {
            out.engine_hours += dt as f64 / 3_600_000.0;
        }
    }
    out
}

fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let h = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

fn relative(expected: f64, got: f64) -> f64 {
    (got - expected).abs() / expected.abs().max(f64::MIN_POSITIVE)
}

fn assert_close(expected: Expected, got: &Answer, what: &str) {
    let (odometer, hours) = got.values();
    assert!(
        relative(expected.odometer_km, odometer) <= TOLERANCE,
        "{what}: odometer {odometer} km, expected {} km",
        expected.odometer_km
    );
    assert!(
        relative(expected.engine_hours, hours) <= TOLERANCE,
        "{what}: engine hours {hours} h, expected {} h",
        expected.engine_hours
    );
}

fn report(backend: &str, what: &str, expected: Expected, got: &Answer) {
    let (odometer, hours) = got.values();
    eprintln!(
        "{backend}, {what}: odometer {odometer:.9} km (expected {:.9}, {:+.1e}), engine hours \
         {hours:.9} h (expected {:.9}, {:+.1e})",
        expected.odometer_km,
        (odometer - expected.odometer_km) / expected.odometer_km,
        expected.engine_hours,
        (hours - expected.engine_hours) / expected.engine_hours,
    );
}

/// The answer agrees with the stored counter state (to the digits the answer rounds to).
async fn assert_stored(app: &TestApp, tracker: TrackerId, got: &Answer) {
    let (odometer, hours) = got.values();
    let states = app.store.counter_states(&[tracker]).await.expect("states");
    let state = &states[&tracker];
    let value = |t| state.reading(t).current().expect("a value").0;
    assert!(
        (value(CounterType::Odometer) - odometer).abs() < 0.01,
        "{state:?}"
    );
    assert!(
        (value(CounterType::EngineHours) - hours).abs() < 0.01,
        "{state:?}"
    );
}

/// `tracker/counter/value/set`.
async fn set_counter(app: &TestApp, hash: &str, tracker: TrackerId, kind: &str, value: f64) {
    let (status, body) = app
        .call(
            Enc::Json,
            "tracker/counter/value/set",
            json!({"hash": hash, "tracker_id": tracker.0, "type": kind, "value": value}),
        )
        .await;
    assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
}

/// What `tracker/get_counters` says of the two counters.
#[derive(Clone, Debug, PartialEq)]
struct Answer {
    odometer_km: f64,
    engine_hours: f64,
    /// Each counter's `update_time`, as alice reads it.
    update_times: [String; 2],
}

impl Answer {
    fn values(&self) -> (f64, f64) {
        (self.odometer_km, self.engine_hours)
    }
}

/// `tracker/get_counters`.
async fn counters(app: &TestApp, hash: &str, tracker: TrackerId) -> Answer {
    let (status, body) = app
        .call(
            Enc::Json,
            "tracker/get_counters",
            json!({"hash": hash, "tracker_id": tracker.0}),
        )
        .await;
    assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
    let list = body["list"].as_array().unwrap_or_else(|| panic!("{body}"));
    let counter = |kind: &str| -> (f64, String) {
        let c: &Value = list
            .iter()
            .find(|c| c["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {body}"));
        let value = c["value"]
            .as_f64()
            .unwrap_or_else(|| panic!("{kind} value in {body}"));
        let time = c["update_time"]
            .as_str()
            .unwrap_or_else(|| panic!("{kind} update_time in {body}"));
        (value, time.to_owned())
    };
    let (odometer_km, odometer_time) = counter("odometer");
    let (engine_hours, hours_time) = counter("engine_hours");
    Answer {
        odometer_km,
        engine_hours,
        update_times: [odometer_time, hours_time],
    }
}

/// A device time as alice (Europe/Berlin, summer time in June) reads it.
fn berlin(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms + BERLIN_MS)
        .expect("time")
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A simulated Teltonika device on its own connection, logged in.
struct Device(Link);

impl Device {
    async fn open(app: &TestApp, imei: &str) -> Device {
        let addr = app
            .server
            .device_addr(Protocol::Teltonika, Transport::Tcp)
            .expect("teltonika listener");
        let link = Link::open(SimProtocol::Teltonika, addr, imei, DEADLINE)
            .await
            .expect("log in");
        Device(link)
    }

    /// Sends one packet, received just after its newest record, and waits for the
    /// acknowledgement of all its records (which comes after their commit).
    async fn send(&mut self, app: &TestApp, packet: &[Sample]) {
        let clock = &app.server.state.clock;
        let newest = packet.iter().map(|s| s.time_ms).max().expect("records");
        let now = clock.now();
        if newest + 1000 > now {
            clock.advance(newest + 1000 - now);
        }
        self.0.exchange(packet).await.expect("acknowledged");
    }
}
