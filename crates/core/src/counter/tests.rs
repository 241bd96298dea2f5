use std::f64::consts::PI;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::ids::TrackerId;
use crate::point::{Point, Position};
use crate::sensor::{
    CalcMethod, Discrete, DiscreteType, Kind, Metering, MeteringType, Sensor, SensorDef, SensorId,
    Virtual, VirtualParameters, VirtualType,
};

/// The mean Earth radius `distance_km` uses; the expected answers below are worked out from
/// it by spherical geometry, not by calling `distance_km`.
const R: f64 = 6371.0088;
/// A whole minute (and a whole 5 minutes), so that history buckets start at T0.
const T0: i64 = 1_700_000_100_000;
const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

const ODO: CounterType = CounterType::Odometer;
const HOURS: CounterType = CounterType::EngineHours;
const FUEL: CounterType = CounterType::FuelConsumed;

// ---------------------------------------------------------------------------------------
// Helpers

/// The length of `deg` degrees of a great circle.
fn arc_km(deg: f64) -> f64 {
    R * deg * PI / 180.0
}

fn assert_close(actual: f64, expected: f64, rel: f64) {
    assert!(
        (actual - expected).abs() <= rel * expected.abs(),
        "{actual} is not {expected} within {rel} relative"
    );
}

fn record(time: i64) -> Point {
    Point::empty(TrackerId(1), time, time)
}

/// A valid GPS fix; moving (motion reported) when faster than 1 km/h, parked otherwise.
fn fix(time: i64, lat: f64, lng: f64, speed: f64) -> Point {
    let mut p = record(time);
    p.position = Some(Position {
        lat,
        lng,
        altitude: None,
        speed: Some(speed),
        heading: None,
        satellites: Some(9),
        hdop: Some(0.9),
        valid: true,
        lbs: false,
    });
    p.motion = Some(speed > 1.0);
    p
}

fn parked(time: i64, lat: f64, lng: f64) -> Point {
    fix(time, lat, lng, 0.0)
}

/// A drive north along the meridian 10°E: `steps` legs of `step_deg` degrees, 10 s apart
/// (0.001° in 10 s is 40 km/h).
fn north(start: i64, lat0: f64, steps: usize, step_deg: f64) -> Vec<Point> {
    (0..=steps)
        .map(|i| {
            fix(
                start + i as i64 * 10 * SEC,
                lat0 + i as f64 * step_deg,
                10.0,
                40.0,
            )
        })
        .collect()
}

fn ignition(time: i64, on: Option<bool>) -> Point {
    let mut p = record(time);
    p.ignition = on;
    p
}

fn reading(time: i64, input: &str, value: f64) -> Point {
    let mut p = record(time);
    p.io.insert(input.to_owned(), json!(value));
    p
}

fn set(time: i64, counter_type: CounterType, value: f64) -> Event {
    Event {
        time,
        seq: 0,
        counter_type,
        change: Change::Set { value },
    }
}

fn update(time: i64, counter_type: CounterType, multiplier: f64, sensor: Option<i64>) -> Event {
    Event {
        time,
        seq: 0,
        counter_type,
        change: Change::Update {
            multiplier,
            sensor_id: sensor.map(SensorId),
        },
    }
}

fn sensor(id: i64, kind: Kind) -> Sensor {
    Sensor {
        id: SensorId(id),
        tracker_id: TrackerId(1),
        def: SensorDef {
            name: format!("sensor {id}"),
            kind,
        },
        calibration: Vec::new(),
    }
}

fn metering(id: i64, sensor_type: MeteringType, input: &str) -> Sensor {
    sensor(
        id,
        Kind::Metering(Metering {
            sensor_type,
            input_name: input.to_owned(),
            divider: 1.0,
            accuracy: 0.0,
            units: String::new(),
            units_type: "custom".to_owned(),
            group_type: None,
            parameters: None,
        }),
    )
}

fn discrete_ignition(id: i64, input_number: u8) -> Sensor {
    sensor(
        id,
        Kind::Discrete(Discrete {
            sensor_type: DiscreteType::Ignition,
            input_number,
        }),
    )
}

/// A virtual ignition: on while the board voltage is at least 13 V (the alternator runs).
fn virtual_ignition(id: i64) -> Sensor {
    sensor(
        id,
        Kind::Virtual(Virtual {
            sensor_type: VirtualType::VirtualIgnition,
            input_name: "board_voltage".to_owned(),
            custom_field_name: None,
            parameters: Some(VirtualParameters {
                calc_method: CalcMethod::InRange,
                range_from: Some(13.0),
                range_to: None,
                bit_index: None,
                value_titles: None,
            }),
        }),
    )
}

const MILEAGE: &str = "can_mileage";
const MILEAGE_ID: i64 = 7;

fn mileage_sources() -> Sources {
    Sources::of(&[metering(MILEAGE_ID, MeteringType::Custom, MILEAGE)])
}

/// Points and events in the fold's order.
fn items<'a>(points: &'a [Point], events: &'a [Event]) -> Vec<Item<'a>> {
    let mut items: Vec<Item> = points
        .iter()
        .map(Item::Point)
        .chain(events.iter().map(Item::Event))
        .collect();
    items.sort_by_key(Item::key);
    items
}

fn fold(points: &[Point], events: &[Event], sources: &Sources) -> CounterState {
    let mut state = CounterState::default();
    state.fold(items(points, events), sources, &CounterConfig::default());
    state
}

fn value(state: &CounterState, t: CounterType) -> Option<f64> {
    state.reading(t).current().map(|(v, _)| v)
}

fn km(state: &CounterState) -> f64 {
    value(state, ODO).expect("the odometer has a value")
}

/// The GPS odometer of a route, created at 0 before it.
fn gps_km(points: &[Point]) -> f64 {
    km(&fold(points, &[set(T0 - 1, ODO, 0.0)], &Sources::default()))
}

// ---------------------------------------------------------------------------------------
// Names and sources

#[test]
fn counter_type_names() {
    for (i, t) in CounterType::ALL.into_iter().enumerate() {
        assert_eq!(CounterType::parse(t.as_str()), Some(t));
        assert_eq!(t.index(), i);
        assert_eq!(t.to_string(), t.as_str());
        assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        assert_eq!(
            serde_json::from_value::<CounterType>(json!(t.as_str())).unwrap(),
            t
        );
    }
    assert_eq!(ODO.as_str(), "odometer");
    assert_eq!(HOURS.as_str(), "engine_hours");
    assert_eq!(FUEL.as_str(), "fuel_consumed");
    for bad in ["", "Odometer", "mileage", "engine hours", "fuel_consumed "] {
        assert_eq!(CounterType::parse(bad), None, "{bad:?}");
    }
    assert!(serde_json::from_value::<CounterType>(json!("mileage")).is_err());
}

#[test]
fn sources_without_sensors_read_the_device_ignition() {
    let s = Sources::of(&[]);
    assert_eq!(s, Sources::default());
    assert_eq!(s.ignition(&ignition(T0, Some(true))), Some(true));
    assert_eq!(s.ignition(&ignition(T0, None)), None);
}

#[test]
fn sources_take_the_oldest_sensor_of_a_kind() {
    let sensors = [
        sensor(
            1,
            Kind::Discrete(Discrete {
                sensor_type: DiscreteType::Door,
                input_number: 1,
            }),
        ),
        virtual_ignition(2),
        discrete_ignition(3, 2),
        metering(4, MeteringType::Custom, "hw_engine_hours"),
        metering(5, MeteringType::Custom, "can_engine_hours"),
        metering(6, MeteringType::FuelConsumption, "can_consumption"),
        metering(7, MeteringType::FuelConsumption, "fuel_consumption"),
        metering(8, MeteringType::InstantConsumption, "can_fuel_rate"),
        metering(9, MeteringType::InstantConsumption, "obd_consumption"),
        metering(10, MeteringType::Fuel, "lls_level_1"),
    ];
    let s = Sources::of(&sensors);
    let input = |m: &Option<Meter>| m.as_ref().map(|m| m.metering.input_name.clone());
    // The door is no ignition; of the two ignitions the virtual one came first.
    assert!(matches!(&s.ignition, IgnitionSource::Virtual(v) if v.input_name == "board_voltage"));
    assert_eq!(input(&s.engine_hours).as_deref(), Some("hw_engine_hours"));
    assert_eq!(input(&s.fuel_total).as_deref(), Some("can_consumption"));
    assert_eq!(input(&s.fuel_rate).as_deref(), Some("can_fuel_rate"));
    // Any metering sensor may be an odometer's source.
    let mut ids: Vec<i64> = s.meters.keys().map(|id| id.0).collect();
    ids.sort();
    assert_eq!(ids, vec![4, 5, 6, 7, 8, 9, 10]);

    // The other order, the other winners.
    let mut reversed = sensors.to_vec();
    reversed.reverse();
    let s = Sources::of(&reversed);
    assert!(matches!(
        s.ignition,
        IgnitionSource::Discrete(Discrete {
            input_number: 2,
            ..
        })
    ));
    assert_eq!(input(&s.engine_hours).as_deref(), Some("can_engine_hours"));
    assert_eq!(input(&s.fuel_total).as_deref(), Some("fuel_consumption"));
    assert_eq!(input(&s.fuel_rate).as_deref(), Some("obd_consumption"));
}

// ---------------------------------------------------------------------------------------
// Odometer by GPS

#[test]
fn one_degree_of_latitude() {
    // 1000 legs of 111 m, 10 s each.
    let route = north(T0, 50.0, 1000, 0.001);
    assert_eq!(route.last().unwrap().position.unwrap().lat, 51.0);
    let expected = R * PI / 180.0;
    assert_close(gps_km(&route), expected, 1e-9);
    assert_close(expected, 111.195, 1e-5);
}

#[test]
fn a_circuit_is_the_sum_of_its_legs() {
    // 360 points on a circle of 5 km radius around (50°N, 10°E), then back to the first.
    // Adjacent points and the centre make an isosceles spherical triangle with legs rho and
    // apex angle 1°, so each leg c has sin(c/2) = sin(rho) sin(0.5°).
    let n = 360;
    let rho = 5.0 / R;
    let (lat0, lng0) = (50f64.to_radians(), 10f64.to_radians());
    let vertex = |i: usize| {
        let bearing = (i % n) as f64 * 2.0 * PI / n as f64;
        let lat = (lat0.sin() * rho.cos() + lat0.cos() * rho.sin() * bearing.cos()).asin();
        let lng = lng0
            + (bearing.sin() * rho.sin() * lat0.cos()).atan2(rho.cos() - lat0.sin() * lat.sin());
        (lat.to_degrees(), lng.to_degrees())
    };
    // 87 m per 10 s: 31 km/h.
    let route: Vec<Point> = (0..=n)
        .map(|i| {
            let (lat, lng) = vertex(i);
            fix(T0 + i as i64 * 10 * SEC, lat, lng, 31.0)
        })
        .collect();
    assert_eq!(route[0].position, route[n].position);
    let leg = 2.0 * R * (rho.sin() * (PI / n as f64).sin()).asin();
    assert_close(gps_km(&route), n as f64 * leg, 1e-9);
    // Nearly the circle's circumference, 2 pi R sin(rho).
    assert_close(n as f64 * leg, 2.0 * PI * R * rho.sin(), 1e-4);
}

#[test]
fn parked_drift_adds_nothing() {
    let leg = arc_km(0.001);
    let mut route = north(T0, 50.0, 10, 0.001);
    // Arrives at 50.011 (a counted leg), then 100 fixes within 20 m of the spot, speed 0.
    let spot = 50.011;
    let arrived = T0 + 110 * SEC;
    route.push(parked(arrived, spot, 10.0));
    let (dlat, dlng) = (0.00018, 0.00028); // 20 m north, 20 m east at 50°N
    for i in 1..=100 {
        let sign = |k: i64| if (i / k) % 2 == 0 { 1.0 } else { -1.0 };
        route.push(parked(
            arrived + i * 10 * SEC,
            spot + sign(1) * dlat,
            10.0 + sign(2) * dlng,
        ));
    }
    assert_close(gps_km(&route), 11.0 * leg, 1e-9);
    // Driving on counts from the parking spot, not from the last drifted fix.
    let on = north(arrived + 1010 * SEC, spot + 0.001, 9, 0.001);
    route.extend(on);
    assert_close(gps_km(&route), 21.0 * leg, 1e-9);
}

#[test]
fn invalid_and_cell_located_fixes_add_nothing() {
    let mut route = north(T0, 50.0, 20, 0.001);
    let real = gps_km(&route);
    assert_close(real, arc_km(0.02), 1e-9);
    // Between each two fixes, one 300 m east: near enough to be counted if it were a fix.
    for i in 0..20 {
        let mut p = fix(
            T0 + i * 10 * SEC + 5 * SEC,
            50.0 + i as f64 * 0.001,
            10.0042,
            40.0,
        );
        let pos = p.position.as_mut().unwrap();
        if i % 2 == 0 {
            pos.valid = false;
        } else {
            pos.lbs = true;
        }
        route.push(p);
    }
    assert_close(gps_km(&route), real, 1e-12);
}

#[test]
fn an_impossible_jump_adds_nothing() {
    let mut route = north(T0, 50.0, 20, 0.001);
    // 500 km north, 5 s after the 10th fix.
    route.push(fix(T0 + 105 * SEC, 54.5, 10.0, 40.0));
    assert_close(gps_km(&route), arc_km(0.02), 1e-9);
}

#[test]
fn a_bogus_first_fix_is_left_behind() {
    let real = north(T0 + 10 * SEC, 50.0, 20, 0.001);
    let mut route = vec![fix(T0, 45.5, 10.0, 40.0)];
    route.extend(real.iter().cloned());
    let total = gps_km(&route);
    assert!(total <= arc_km(0.02) * (1.0 + 1e-9), "{total}");
    assert!(total >= arc_km(0.019) * (1.0 - 1e-9), "{total}");
}

#[test]
fn a_bogus_first_fix_is_left_behind_after_a_long_stop() {
    // The device starts in a parked vehicle with a fix 500 km off, then reports the real spot
    // for 3 hours (speed 0) before the vehicle drives off: 3 hours would make 500 km a
    // plausible drive if the stop's anchor kept the bogus fix's time.
    let mut route = vec![parked(T0, 45.5, 10.0)];
    for i in 1..=180 {
        route.push(parked(T0 + i * MIN, 50.0, 10.0));
    }
    route.extend(north(T0 + 3 * HOUR + 10 * SEC, 50.001, 19, 0.001));
    let total = gps_km(&route);
    assert!(total <= arc_km(0.02) * (1.0 + 1e-9), "{total}");
    assert!(total >= arc_km(0.019) * (1.0 - 1e-9), "{total}");
}

// ---------------------------------------------------------------------------------------
// Engine hours

fn hours(points: &[Point], sources: &Sources) -> f64 {
    value(&fold(points, &[set(T0 - 1, HOURS, 0.0)], sources), HOURS).expect("engine hours")
}

#[test]
fn engine_hours_count_time_with_the_ignition_on_at_both_ends() {
    let on = |m: i64| ignition(T0 + m * MIN, Some(true));
    let off = |m: i64| ignition(T0 + m * MIN, Some(false));
    // on-on, on-on, on-off, off-off, off-on, on-on: three minutes.
    let points = [on(0), on(1), on(2), off(3), off(4), on(5), on(6)];
    assert_close(hours(&points, &Sources::default()), 3.0 / 60.0, 1e-12);
}

#[test]
fn engine_hours_skip_gaps_longer_than_the_limit() {
    let on = |t: i64| ignition(T0 + t, Some(true));
    // 15 min (the limit) counts, 15 min 1 s does not, the minute after it does.
    let points = [on(0), on(15 * MIN), on(30 * MIN + SEC), on(31 * MIN + SEC)];
    assert_close(
        hours(&points, &Sources::default()),
        0.25 + 1.0 / 60.0,
        1e-12,
    );
}

#[test]
fn records_without_ignition_are_ignored() {
    let at = |m: i64, on: Option<bool>| ignition(T0 + m * MIN, on);
    // Neither breaks an on-on span nor makes an off-on span count.
    let points = [
        at(0, Some(true)),
        at(1, None),
        at(2, Some(true)),
        at(3, Some(false)),
        at(4, None),
        at(5, Some(true)),
    ];
    assert_close(hours(&points, &Sources::default()), 2.0 / 60.0, 1e-12);
}

#[test]
fn a_discrete_ignition_on_input_2_reads_bit_1() {
    let sources = Sources::of(&[discrete_ignition(1, 2)]);
    let at = |m: i64, inputs: Option<i64>| {
        // The device's own flag says the opposite, and is not read.
        let mut p = ignition(T0 + m * MIN, Some(inputs.is_some_and(|i| i & 2 == 0)));
        p.inputs = inputs;
        p
    };
    let points = [
        at(0, Some(0b10)),
        at(1, Some(0b11)),
        at(2, Some(0b01)), // input 1 only: off
        at(3, Some(0b10)),
        at(4, None), // no inputs: ignored
        at(5, Some(0b110)),
    ];
    // 0-1 and 3-5.
    assert_close(hours(&points, &sources), 3.0 / 60.0, 1e-12);
}

#[test]
fn a_virtual_ignition_counts() {
    let sources = Sources::of(&[virtual_ignition(1)]);
    let at = |m: i64, volts: f64| {
        let mut p = reading(T0 + m * MIN, "board_voltage", volts);
        p.ignition = Some(true);
        p
    };
    let points = [
        at(0, 13.8),
        at(1, 13.9),
        at(2, 12.3),
        at(3, 14.0),
        at(4, 14.1),
    ];
    // 0-1 and 3-4.
    assert_close(hours(&points, &sources), 2.0 / 60.0, 1e-12);
}

#[test]
fn a_can_engine_hours_sensor_counts_its_change() {
    let sources = Sources::of(&[metering(5, MeteringType::Custom, "can_engine_hours")]);
    let at = |m: i64, h: f64| {
        // The ignition is off throughout: it is not what counts.
        let mut p = reading(T0 + m * MIN, "can_engine_hours", h);
        p.ignition = Some(false);
        p
    };
    let points = [
        at(0, 1000.0),
        at(30, 1000.5),
        at(60, 1001.0),
        at(70, 1002.0), // a whole-hour sensor's step: within the slack
        at(80, 3.0),    // a reset adds nothing
        at(110, 3.5),
    ];
    assert_eq!(hours(&points, &sources), 2.5);
}

// ---------------------------------------------------------------------------------------
// Odometer and fuel by sensors

fn meter_km(values: &[f64]) -> f64 {
    let points: Vec<Point> = values
        .iter()
        .enumerate()
        .map(|(i, v)| reading(T0 + i as i64 * MIN, MILEAGE, *v))
        .collect();
    let events = [update(T0 - 1, ODO, 1.0, Some(MILEAGE_ID))];
    km(&fold(&points, &events, &mileage_sources()))
}

#[test]
fn a_mileage_sensor_counts_its_increments() {
    assert_eq!(meter_km(&[1000.0, 1001.0, 1002.5, 1002.5, 1004.0]), 4.0);
}

#[test]
fn a_mileage_sensor_reset_adds_nothing() {
    // A reset to 0, then counting from the new base.
    assert_eq!(meter_km(&[1000.0, 1001.0, 1002.5, 0.0, 0.5, 1.5]), 4.0);
}

#[test]
fn a_mileage_glitch_adds_nothing() {
    // One reading far beyond 300 km/h for a minute: the next one counts from before it.
    assert_eq!(meter_km(&[1000.0, 1001.0, 90000.0, 1002.0, 1003.0]), 3.0);
    // A glitch right after a reset.
    assert_eq!(meter_km(&[1000.0, 0.0, 0.5, 1.0e9, 1.5, 2.0]), 2.0);
}

#[test]
fn a_mileage_sensor_rising_to_a_new_base_counts_on() {
    // A replaced sensor (or the tracker moved to another vehicle) reads higher from now on:
    // the first reading of the new base adds nothing, the ones after it count.
    assert_eq!(meter_km(&[1000.0, 1001.0, 50000.0, 50001.0, 50002.5]), 3.5);
}

#[test]
fn a_new_odometer_source_counts_from_its_own_next_reading() {
    let sources = Sources::of(&[
        metering(MILEAGE_ID, MeteringType::Custom, MILEAGE),
        metering(8, MeteringType::Custom, "hw_mileage"),
    ]);
    let points: Vec<Point> = (0..5)
        .map(|m| {
            let mut p = reading(T0 + m * MIN, MILEAGE, 100.0 + m as f64);
            p.io.insert("hw_mileage".to_owned(), json!(101.5 + m as f64));
            p
        })
        .collect();
    let events = [
        update(T0 - 1, ODO, 1.0, Some(MILEAGE_ID)),
        update(T0 + 2 * MIN + 30 * SEC, ODO, 1.0, Some(8)),
    ];
    // 2 km by the first sensor; then not 104.5 - 102 (one sensor's reading less the other's)
    // but the second sensor's 1 km after its first reading.
    assert_eq!(km(&fold(&points, &events, &sources)), 3.0);
}

fn fuel(points: &[Point], sources: &Sources) -> f64 {
    value(&fold(points, &[set(T0 - 1, FUEL, 0.0)], sources), FUEL).expect("fuel consumed")
}

#[test]
fn a_cumulative_fuel_sensor_counts_its_change() {
    let sources = Sources::of(&[metering(
        8,
        MeteringType::FuelConsumption,
        "can_consumption",
    )]);
    let litres = [200.0, 200.5, 201.5, 0.0, 1.0, 70000.0, 1.5, 2.5];
    let points: Vec<Point> = litres
        .iter()
        .enumerate()
        .map(|(i, v)| reading(T0 + i as i64 * MIN, "can_consumption", *v))
        .collect();
    // 0.5 + 1, the reset to 0 and the glitch add nothing, 1 + 0.5 + 1.
    assert_eq!(fuel(&points, &sources), 4.0);
}

#[test]
fn an_instant_consumption_sensor_is_integrated() {
    let sources = Sources::of(&[metering(
        9,
        MeteringType::InstantConsumption,
        "can_fuel_rate",
    )]);
    let at = |m: i64, lph: f64| reading(T0 + m * MIN, "can_fuel_rate", lph);
    let points = [
        // Trapezoids of a quarter hour: 3.75 + 5 + 2.5.
        at(0, 10.0),
        at(15, 20.0),
        at(30, 20.0),
        at(45, 0.0),
        // 16 minutes later: a gap, not integrated.
        at(61, 8.0),
        // Not a rate: ignored, and not the start of the next trapezoid.
        at(66, -5.0),
        at(76, 8.0),
    ];
    assert_eq!(fuel(&points, &sources), 11.25 + 2.0);
}

// ---------------------------------------------------------------------------------------
// Changes

fn mileage_points(readings: &[(i64, f64)]) -> Vec<Point> {
    readings
        .iter()
        .map(|&(t, v)| reading(t, MILEAGE, v))
        .collect()
}

#[test]
fn a_multiplier_applies_to_later_records_only() {
    let points = mileage_points(&[
        (T0, 100.0),
        (T0 + MIN, 101.0),
        (T0 + 2 * MIN, 102.0),
        (T0 + 3 * MIN, 103.0),
        (T0 + 4 * MIN, 104.0),
    ]);
    // Changed at the same millisecond as the third record: that record is counted first.
    let events = [
        update(T0 - 1, ODO, 1.0, Some(MILEAGE_ID)),
        update(T0 + 2 * MIN, ODO, 2.0, Some(MILEAGE_ID)),
    ];
    let state = fold(&points, &events, &mileage_sources());
    assert_eq!(km(&state), 1.0 + 1.0 + 2.0 + 2.0);
    assert_eq!(state.reading(ODO).multiplier, 2.0);
    assert_eq!(state.reading(ODO).current(), Some((6.0, T0 + 4 * MIN)));
}

#[test]
fn a_gps_multiplier_applies_to_later_fixes_only() {
    let route = north(T0, 50.0, 10, 0.001);
    let events = [set(T0 - 1, ODO, 0.0), update(T0 + 45 * SEC, ODO, 2.0, None)];
    let state = fold(&route, &events, &Sources::default());
    // Legs 1-4 once, 5-10 twice.
    assert_close(km(&state), arc_km(0.004) + 2.0 * arc_km(0.006), 1e-9);
}

#[test]
fn a_set_value_rebases() {
    let mut points = mileage_points(&[
        (T0, 100.0),
        (T0 + MIN, 101.0),
        (T0 + 2 * MIN, 102.0),
        (T0 + 3 * MIN, 103.0),
        (T0 + 4 * MIN, 104.0),
        (T0 + 5 * MIN, 105.5),
    ]);
    let set_at = T0 + 3 * MIN + 30 * SEC;
    let events = [
        update(T0 - 1, ODO, 1.0, Some(MILEAGE_ID)),
        set(set_at, ODO, 500.0),
    ];
    let until = |t: i64| {
        let mut state = CounterState::default();
        let items = items(&points, &events);
        let upto = items.iter().copied().filter(|i| i.key().0 <= t);
        state.fold(upto, &mileage_sources(), &CounterConfig::default());
        state.reading(ODO).current()
    };
    assert_eq!(until(set_at - 1), Some((3.0, T0 + 3 * MIN)));
    assert_eq!(until(set_at), Some((500.0, set_at)));
    let state = fold(&points, &events, &mileage_sources());
    assert_eq!(state.reading(ODO).current(), Some((502.5, T0 + 5 * MIN)));
    // A late record from before the set changes nothing after it.
    points.push(reading(T0 + MIN + 30 * SEC, MILEAGE, 101.4));
    assert_eq!(km(&fold(&points, &events, &mileage_sources())), 502.5);
}

#[test]
fn counters_that_do_not_exist_count_nothing() {
    let mut route = north(T0, 50.0, 10, 0.001);
    for p in &mut route {
        p.ignition = Some(true);
    }
    let state = fold(&route, &[], &Sources::default());
    for t in CounterType::ALL {
        assert_eq!(*state.reading(t), Reading::default(), "{t}");
        assert_eq!(state.reading(t).current(), None);
    }
}

#[test]
fn an_update_creates_a_counter_without_a_value() {
    let events = [update(T0, HOURS, 1.0, None)];
    let on = |m: i64| ignition(T0 + m * MIN, Some(true));
    let state = fold(&[], &events, &Sources::default());
    assert!(state.reading(HOURS).exists);
    assert_eq!(state.reading(HOURS).current(), None);
    // Counted from 0 by the first record: the first ignition report adds nothing yet.
    let state = fold(&[on(1)], &events, &Sources::default());
    assert_eq!(state.reading(HOURS).current(), Some((0.0, T0 + MIN)));
    let state = fold(&[on(1), on(2)], &events, &Sources::default());
    assert_close(value(&state, HOURS).unwrap(), 1.0 / 60.0, 1e-12);
    // The others still do not exist.
    assert!(!state.reading(ODO).exists && !state.reading(FUEL).exists);
}

// ---------------------------------------------------------------------------------------
// History

fn minute_config() -> CounterConfig {
    CounterConfig {
        history_interval_secs: 60,
        ..CounterConfig::default()
    }
}

/// A reading every 20 s for 5 minutes, +0.25 km each; the odometer created 1 s before.
fn history_route() -> (Vec<Point>, Vec<Event>) {
    let points = (0..=15)
        .map(|i| reading(T0 + i * 20 * SEC, MILEAGE, 10.0 + i as f64 * 0.25))
        .collect();
    let events = vec![update(T0 - SEC, ODO, 1.0, Some(MILEAGE_ID))];
    (points, events)
}

#[test]
fn history_has_one_checkpoint_per_completed_bucket() {
    let (points, events) = history_route();
    let config = minute_config();
    let sources = mileage_sources();
    let all = items(&points, &events);
    let mut state = CounterState::default();
    let rows = state.fold(all.iter().copied(), &sources, &config);
    // The bucket before T0 (the update alone) and the 5 complete minutes; the sixth (the
    // reading at T0 + 5 min) is the state itself.
    let b0 = T0 / MIN;
    assert_eq!(
        rows.iter().map(|r| r.bucket).collect::<Vec<_>>(),
        vec![b0 - 1, b0, b0 + 1, b0 + 2, b0 + 3, b0 + 4]
    );
    assert_eq!(rows[0].time, T0 - SEC);
    assert_eq!(rows[0].values, [None, None, None]);
    for k in 0..5 {
        let row = &rows[k + 1];
        // The bucket's last reading is the third of its minute.
        let last = 3 * k as i64 + 2;
        assert_eq!(row.time, T0 + last * 20 * SEC);
        assert_eq!(row.values, [Some(last as f64 * 0.25), None, None]);
        // The state after that reading, as a fold of what came before it gives it.
        let mut upto = CounterState::default();
        let before = all.iter().copied().filter(|i| i.key().0 <= row.time);
        upto.fold(before, &sources, &config);
        assert_eq!(row.state, upto);
    }
    assert_eq!(km(&state), 3.75);
    assert_eq!(state.checkpoint(&config).unwrap().bucket, b0 + 5);

    // Folding the rest onto any checkpoint ends where folding everything did, with the same
    // checkpoints after it.
    for (k, row) in rows.iter().enumerate() {
        let mut again = row.state.clone();
        let later = again.fold(all.iter().copied(), &sources, &config);
        assert_eq!(again, state);
        // The checkpoint folded from is written again when the fold moves on from its bucket.
        assert_eq!(later, rows[k..]);
    }
}

#[test]
fn a_late_record_refolds_from_the_checkpoint_before_it() {
    let (points, events) = history_route();
    let config = minute_config();
    let sources = mileage_sources();
    let mut everything = CounterState::default();
    everything.fold(items(&points, &events), &sources, &config);

    // The reading at T0 + 140 s arrives last.
    let (late, on_time): (Vec<Point>, Vec<Point>) =
        points.into_iter().partition(|p| p.time == T0 + 140 * SEC);
    let mut state = CounterState::default();
    let rows = state.fold(items(&on_time, &events), &sources, &config);
    // Folded as it came, it is skipped: it is before the state.
    let mut skipped = state.clone();
    skipped.fold(items(&late, &[]), &sources, &config);
    assert_eq!(skipped, state);

    let from = rows
        .iter()
        .rev()
        .find(|r| r.state.last < (late[0].time, 0, 0))
        .unwrap();
    assert_eq!(from.time, T0 + 100 * SEC);
    let mut refolded = from.state.clone();
    let mut all = on_time.clone();
    all.extend(late);
    refolded.fold(items(&all, &events), &sources, &config);
    assert_eq!(refolded, everything);
}

// ---------------------------------------------------------------------------------------
// Order does not matter

/// One record of a random route.
#[derive(Clone, Debug)]
struct Step {
    /// Seconds since the previous record.
    dt: i64,
    /// What the record is: see `route`.
    kind: u8,
    /// Metres moved north and east.
    north: f64,
    east: f64,
    speed: f64,
    ignition: Option<bool>,
    /// Tenths of a km the mileage sensor advanced; 25 is a reset.
    mileage: u8,
    /// Litres per hour; none above 60.
    rate: Option<u8>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        1i64..120,
        0u8..12,
        -300.0..300.0f64,
        -300.0..300.0f64,
        0.0..120.0f64,
        prop::option::of(any::<bool>()),
        0u8..=25,
        prop::option::of(0u8..=60),
    )
        .prop_map(
            |(dt, kind, north, east, speed, ignition, mileage, rate)| Step {
                dt,
                kind,
                north,
                east,
                speed,
                ignition,
                mileage,
                rate,
            },
        )
}

/// The points of a random route: mostly driving, with parked drift, invalid and cell-located
/// fixes, records without a position and the odd bogus fix far away.
fn route(steps: &[Step]) -> Vec<Point> {
    let (mut time, mut lat, mut lng, mut mileage) = (T0, 50.0, 10.0, 1000.0);
    let mut points = Vec::new();
    for s in steps {
        time += s.dt * SEC;
        let (dlat, dlng) = (s.north / 111_195.0, s.east / 71_474.0);
        let mut p = match s.kind {
            0 => {
                let mut p = fix(time, lat + dlat, lng + dlng, s.speed);
                p.position.as_mut().unwrap().valid = false;
                p
            }
            1 => {
                let mut p = fix(time, lat + dlat, lng + dlng, s.speed);
                p.position.as_mut().unwrap().lbs = true;
                p
            }
            // Drift within 20 m.
            2 | 3 => parked(time, lat + dlat / 15.0, lng + dlng / 15.0),
            4 => record(time),
            5 => fix(time, lat + 4.5, lng, s.speed),
            _ => {
                lat += dlat;
                lng += dlng;
                let mut p = fix(time, lat, lng, s.speed.max(2.0));
                if s.kind == 6 {
                    p.motion = None;
                }
                p
            }
        };
        p.ignition = s.ignition;
        mileage = if s.mileage == 25 {
            0.0
        } else {
            mileage + f64::from(s.mileage) / 10.0
        };
        p.io.insert(MILEAGE.to_owned(), json!(mileage));
        if let Some(rate) = s.rate {
            p.io.insert("can_fuel_rate".to_owned(), json!(rate));
        }
        points.push(p);
    }
    points
}

/// Counter changes at random times of the route: `(permille of the route's span, what, value)`.
fn changes(changes: &[(u16, u8, u8)], span: i64) -> Vec<Event> {
    // Every counter exists from the start, so that everything is counted.
    let mut events = vec![set(T0, ODO, 0.0), set(T0, HOURS, 0.0), set(T0, FUEL, 0.0)];
    for &(at, what, v) in changes {
        let time = T0 + span * i64::from(at) / 1000;
        let v = f64::from(v);
        events.push(match what {
            0 => set(time, ODO, v * 10.0),
            1 => update(time, ODO, 1.0 + v / 100.0, None),
            2 => update(time, ODO, 0.5, Some(MILEAGE_ID)),
            3 => set(time, HOURS, v),
            _ => update(time, FUEL, v / 50.0, None),
        });
    }
    // One seq per change: changes of a millisecond are ordered by it.
    for (seq, e) in events.iter_mut().enumerate() {
        e.seq = seq as i64;
    }
    events
}

/// A small deterministic generator for shuffles and chunk sizes (proptest picks its seed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

/// Folds items arriving in `chunks` as the store does: a chunk after the state is folded onto
/// it; one with an item at or before it refolds everything seen from the last checkpoint
/// before that item. Returns the state and the history, one row per bucket.
fn deliver<'a>(
    chunks: Vec<Vec<Item<'a>>>,
    sources: &Sources,
    config: &CounterConfig,
) -> (CounterState, Vec<HistoryRow>) {
    let mut seen: Vec<Item<'a>> = Vec::new();
    let mut state = CounterState::default();
    let mut rows: Vec<HistoryRow> = Vec::new();
    for mut chunk in chunks {
        chunk.sort_by_key(Item::key);
        seen.extend(chunk.iter().copied());
        let first = chunk[0].key();
        let new_rows = if first > state.last {
            state.fold(chunk, sources, config)
        } else {
            rows.retain(|r| r.state.last < first);
            state = rows
                .last()
                .map_or_else(CounterState::default, |r| r.state.clone());
            let mut all = seen.clone();
            all.sort_by_key(Item::key);
            state.fold(all, sources, config)
        };
        for row in new_rows {
            // Refolding from a bucket's checkpoint writes that bucket's row again.
            if rows.last().is_some_and(|r| r.bucket == row.bucket) {
                rows.pop();
            }
            rows.push(row);
        }
    }
    (state, rows)
}

fn chunked<'a>(mut items: Vec<Item<'a>>, rng: &mut Rng) -> Vec<Vec<Item<'a>>> {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
    let mut chunks = Vec::new();
    while !items.is_empty() {
        let n = 1 + rng.below(items.len().min(8));
        chunks.push(items.drain(..n).collect());
    }
    chunks
}

fn bits(state: &CounterState) -> Vec<Option<u64>> {
    CounterType::ALL
        .iter()
        .map(|t| value(state, *t).map(f64::to_bits))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_fold_depends_on_the_set_of_items_only(
        steps in prop::collection::vec(step(), 1..80),
        change_list in prop::collection::vec((0u16..=1000, 0u8..5, 0u8..=100), 0..4),
        seed in any::<u64>(),
    ) {
        let points = route(&steps);
        let span = points.last().map_or(0, |p| p.time - T0);
        let events = changes(&change_list, span);
        let sources = Sources::of(&[
            metering(MILEAGE_ID, MeteringType::Custom, MILEAGE),
            metering(9, MeteringType::InstantConsumption, "can_fuel_rate"),
        ]);
        let config = minute_config();
        let mut rng = Rng(seed | 1);

        // (a) Sorted, at once.
        let sorted = items(&points, &events);
        let mut once = CounterState::default();
        let once_rows = once.fold(sorted.iter().copied(), &sources, &config);
        prop_assert!(value(&once, ODO).is_some());

        // (b) Shuffled, in chunks.
        let (b, b_rows) = deliver(chunked(sorted.clone(), &mut rng), &sources, &config);
        prop_assert_eq!(bits(&b), bits(&once));
        prop_assert_eq!(&b, &once);
        prop_assert_eq!(&b_rows, &once_rows);

        // (c) With duplicates: sorted at once, and shuffled in chunks.
        let mut doubled = sorted.clone();
        for _ in 0..1 + rng.below(sorted.len()) {
            doubled.push(sorted[rng.below(sorted.len())]);
        }
        let mut c = CounterState::default();
        let mut c_sorted = doubled.clone();
        c_sorted.sort_by_key(Item::key);
        let c_rows = c.fold(c_sorted, &sources, &config);
        prop_assert_eq!(bits(&c), bits(&once));
        prop_assert_eq!(&c, &once);
        prop_assert_eq!(&c_rows, &once_rows);
        let (d, d_rows) = deliver(chunked(doubled, &mut rng), &sources, &config);
        prop_assert_eq!(bits(&d), bits(&once));
        prop_assert_eq!(&d, &once);
        prop_assert_eq!(&d_rows, &once_rows);
    }
}

/// A bus that reports whole kilometres, read every second: each step of one counts.
#[test]
fn whole_kilometre_mileage_read_every_second_counts_every_step() {
    // 100 km/h: a kilometre every 36 s.
    let points: Vec<Point> = (0..=360_i64)
        .map(|s| reading(T0 + s * 1000, MILEAGE, (5000 + s / 36) as f64))
        .collect();
    let events = [update(T0 - 1, ODO, 1.0, Some(MILEAGE_ID))];
    assert_eq!(km(&fold(&points, &events, &mileage_sources())), 10.0);
}
