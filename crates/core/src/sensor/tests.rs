use serde_json::json;

use super::*;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn parse(v: Value) -> Result<SensorDef, Vec<Invalid>> {
    SensorDef::parse(&obj(v), "sensor")
}

fn errors(v: Value) -> Vec<(String, String)> {
    parse(v)
        .expect_err("invalid")
        .into_iter()
        .map(|e| (e.field, e.error))
        .collect()
}

fn err(field: &str, error: &str) -> (String, String) {
    (field.to_owned(), error.to_owned())
}

fn sensor(id: i64, v: Value) -> Sensor {
    Sensor {
        id: SensorId(id),
        tracker_id: TrackerId(1),
        def: parse(v).expect("valid sensor"),
        calibration: Vec::new(),
    }
}

fn io(v: Value) -> Readings {
    obj(v).into_iter().collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn table(points: &[(f64, f64)]) -> Vec<CalibrationPoint> {
    points
        .iter()
        .map(|&(input, output)| CalibrationPoint { input, output })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Calibration

#[test]
fn calibration_interpolates_between_points() {
    let t = table(&[(0.0, 0.0), (0.7, 60.0), (1.5, 100.0)]);
    assert!(close(calibrate(&t, 0.35), 30.0));
    assert!(close(calibrate(&t, 0.7), 60.0));
    assert!(close(calibrate(&t, 1.1), 80.0));
    assert!(close(calibrate(&t, 0.0), 0.0));
}

#[test]
fn calibration_clamps_outside_the_table() {
    let t = table(&[(1.0, 10.0), (2.0, 30.0)]);
    assert_eq!(calibrate(&t, 0.5), 10.0);
    assert_eq!(calibrate(&t, -100.0), 10.0);
    assert_eq!(calibrate(&t, 2.5), 30.0);
    // A falling table (a sensor whose output drops as the level rises) works alike.
    let falling = table(&[(0.0, 100.0), (10.0, 0.0)]);
    assert!(close(calibrate(&falling, 2.5), 75.0));
    assert_eq!(calibrate(&falling, 11.0), 0.0);
}

#[test]
fn calibration_edge_tables() {
    assert_eq!(calibrate(&[], 4.2), 4.2);
    let one = table(&[(3.0, 7.0)]);
    assert_eq!(calibrate(&one, 1.0), 7.0);
    assert_eq!(calibrate(&one, 9.0), 7.0);
}

#[test]
fn calibration_parsing() {
    let parsed = parse_calibration(&[
        json!({"in": 0.7, "out": 60}),
        json!({"in": "0", "out": "0.0"}),
    ])
    .expect("valid");
    assert_eq!(parsed, table(&[(0.0, 0.0), (0.7, 60.0)]));
    assert_eq!(parse_calibration(&[]), Ok(Vec::new()));
    assert_eq!(
        parse_calibration(&[json!({"in": 1, "out": 2}), json!({"in": 1.0, "out": 3})]),
        Err("in values must be unique".to_owned())
    );
    for bad in [
        json!({"in": 1}),
        json!([1, 2]),
        json!({"in": "x", "out": 1}),
    ] {
        assert_eq!(
            parse_calibration(&[bad]),
            Err("items must be objects with numeric in and out".to_owned())
        );
    }
    let many: Vec<Value> = (0..=MAX_CALIBRATION_POINTS)
        .map(|i| json!({"in": i, "out": i}))
        .collect();
    assert_eq!(
        parse_calibration(&many),
        Err("size must be between 0 and 1000".to_owned())
    );
}

// ---------------------------------------------------------------------------------------
// Units

#[test]
fn conversions_with_known_answers() {
    use MeasurementSystem::*;
    let c = |v, u, s| convert(v, u, s).map(|(u, v)| (u, (v * 1e6_f64).round() / 1e6));
    assert_eq!(c(10.0, "litre", Us), Some(("us_gallon", 2.641721)));
    assert_eq!(
        c(4.54609, "litre", Imperial),
        Some(("imperial_gallon", 1.0))
    );
    assert_eq!(c(1.0, "us_gallon", Metric), Some(("litre", 3.785412)));
    assert_eq!(c(1.0, "imperial_gallon", Us), Some(("us_gallon", 1.200950)));
    assert_eq!(c(1.0, "us_gallon", MetricGalUs), None);
    assert_eq!(c(100.0, "celsius", Us), Some(("fahrenheit", 212.0)));
    assert_eq!(c(-40.0, "celsius", Us), Some(("fahrenheit", -40.0)));
    assert_eq!(c(0.0, "fahrenheit", Metric), Some(("celsius", -17.777778)));
    assert_eq!(c(20.0, "celsius", Imperial), None);
    assert_eq!(c(100.0, "km", Us), Some(("mile", 62.137119)));
    assert_eq!(c(1.0, "mile", MetricGalUs), Some(("km", 1.609344)));
    assert_eq!(c(60.0, "mph", Metric), Some(("kmh", 96.56064)));
    assert_eq!(c(100.0, "kmh", Imperial), Some(("mph", 62.137119)));
    assert_eq!(c(100.0, "kmh", Metric), None);
}

#[test]
fn units_that_are_not_converted() {
    for system in [
        MeasurementSystem::Metric,
        MeasurementSystem::Imperial,
        MeasurementSystem::Us,
        MeasurementSystem::MetricGalUs,
    ] {
        assert_eq!(convert(1.0, "custom", system), None);
        assert_eq!(convert(1.0, "volt", system), None);
        // A value in the system's own unit needs no conversion, whatever the system.
        for unit in known_units() {
            if let Some((target, _)) = convert(1.0, unit, system) {
                assert_eq!(convert(1.0, target, system), None, "{unit} {system:?}");
            }
        }
    }
}

#[test]
fn measurement_system_names() {
    use MeasurementSystem::*;
    for (name, system) in [
        ("us", Us),
        ("imperial", Imperial),
        ("metric_gal_us", MetricGalUs),
        ("metric_gal", MetricGalUs),
        ("metric", Metric),
        ("", Metric),
    ] {
        assert_eq!(MeasurementSystem::parse(name), system, "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Evaluation

fn fuel_sensor() -> Sensor {
    let mut s = sensor(
        7,
        json!({"type": "metering", "sensor_type": "fuel", "name": "Main tank", "input_name": "analog_1",
               "divider": 1000, "accuracy": 0.5, "units": "l", "units_type": "litre",
               "parameters": {"min": 0, "max": 5000}}),
    );
    s.calibration = table(&[(0.0, 0.0), (0.7, 60.0), (1.5, 100.0)]);
    s
}

#[test]
fn metering_value_divides_calibrates_and_rounds() {
    let s = fuel_sensor();
    // 350 mV -> 0.35 V -> 30 litres.
    let v = evaluate(&s, &io(json!({"analog_1": 350})), MeasurementSystem::Metric).expect("value");
    assert_eq!(
        v,
        SensorValue {
            label: "Main tank".into(),
            name: "analog_1".into(),
            sensor_type: "fuel".into(),
            value: 30.0,
            units_type: "litre".into(),
            units: "l".into(),
            converted_units_type: None,
            converted_value: None,
        }
    );
    assert_eq!(
        v.to_json(),
        json!({"label": "Main tank", "name": "analog_1", "type": "fuel", "value": 30.0,
               "units_type": "litre", "units": "l", "converted_units_type": null, "converted_value": null})
    );
    // 1.1 V -> 80 litres; 1.13 V -> 81.5 -> rounded to the 0.5 accuracy: 81.5; 1.14 V -> 82.
    let value = |raw: Value| {
        evaluate(&s, &io(json!({"analog_1": raw})), MeasurementSystem::Metric).map(|v| v.value)
    };
    assert_eq!(value(json!(1100)), Some(80.0));
    assert_eq!(value(json!(1130)), Some(81.5));
    assert_eq!(value(json!(1140)), Some(82.0));
    // Past the table: clamped to a full tank.
    assert_eq!(value(json!(4000)), Some(100.0));
    // Numbers as text are read.
    assert_eq!(value(json!("700")), Some(60.0));
    // Outside the sensor's min..max raw range, or not a number: no reading.
    assert_eq!(value(json!(5001)), None);
    assert_eq!(value(json!(-1)), None);
    assert_eq!(value(json!("n/a")), None);
    assert_eq!(value(json!(null)), None);
    assert_eq!(
        evaluate(&s, &io(json!({"analog_2": 1})), MeasurementSystem::Metric),
        None
    );
}

#[test]
fn metering_value_converted_to_the_users_system() {
    let s = fuel_sensor();
    let v = evaluate(&s, &io(json!({"analog_1": 350})), MeasurementSystem::Us).expect("value");
    assert_eq!(v.value, 30.0);
    assert_eq!(v.converted_units_type, Some("us_gallon"));
    assert!(close(
        v.converted_value.unwrap_or_default(),
        30.0 / 3.785_411_784
    ));

    let temp = sensor(
        8,
        json!({"type": "metering", "sensor_type": "temperature", "name": "Coolant",
               "input_name": "obd_coolant_t", "units_type": "celsius"}),
    );
    let v = evaluate(
        &temp,
        &io(json!({"obd_coolant_t": 90})),
        MeasurementSystem::Us,
    )
    .expect("value");
    assert_eq!(
        (v.value, v.converted_units_type, v.converted_value),
        (90.0, Some("fahrenheit"), Some(194.0))
    );
    let v = evaluate(
        &temp,
        &io(json!({"obd_coolant_t": 90})),
        MeasurementSystem::Imperial,
    )
    .expect("value");
    assert_eq!((v.converted_units_type, v.converted_value), (None, None));
}

#[test]
fn virtual_values() {
    let ignition = sensor(
        9,
        json!({"type": "virtual", "sensor_type": "virtual_ignition", "name": "Ignition", "input_name": "board_voltage",
               "parameters": {"calc_method": "in_range", "range_from": 13.4,
                              "value_titles": [{"value": "0", "title": "Off"}, {"value": "1", "title": "On"}]}}),
    );
    let at = |volts: f64| {
        evaluate(
            &ignition,
            &io(json!({"board_voltage": volts})),
            MeasurementSystem::Us,
        )
    };
    let on = at(13.9).expect("value");
    assert_eq!(
        on.to_json(),
        json!({"label": "Ignition", "name": "board_voltage", "type": "virtual_ignition", "value": 1.0,
               "units_type": "custom", "units": "", "converted_units_type": null, "converted_value": null})
    );
    assert_eq!(at(13.4).map(|v| v.value), Some(1.0));
    assert_eq!(at(12.1).map(|v| v.value), Some(0.0));
    let Kind::Virtual(v) = &ignition.def.kind else {
        panic!("virtual")
    };
    assert_eq!(value_title(v, 1.0), Some("On"));
    assert_eq!(value_title(v, 0.0), Some("Off"));
    assert_eq!(value_title(v, 2.0), None);

    let window = sensor(
        10,
        json!({"type": "virtual", "sensor_type": "state", "name": "Window", "input_name": "analog_2",
               "parameters": {"calc_method": "in_range", "range_from": 1, "range_to": 2}}),
    );
    let inside = |x: f64| {
        evaluate(
            &window,
            &io(json!({"analog_2": x})),
            MeasurementSystem::Metric,
        )
        .map(|v| v.value)
    };
    assert_eq!(
        (inside(0.5), inside(1.0), inside(2.0), inside(2.5)),
        (Some(0.0), Some(1.0), Some(1.0), Some(0.0))
    );

    let bit = sensor(
        11,
        json!({"type": "virtual", "sensor_type": "state", "name": "Door", "input_name": "input_status",
               "parameters": {"calc_method": "bit_index", "bit_index": 3}}),
    );
    let bit3 = |x: Value| {
        evaluate(
            &bit,
            &io(json!({"input_status": x})),
            MeasurementSystem::Metric,
        )
        .map(|v| v.value)
    };
    assert_eq!(bit3(json!(0b100)), Some(1.0));
    assert_eq!(bit3(json!(0b011)), Some(0.0));
    assert_eq!(bit3(json!(4.5)), None);

    let identity = sensor(
        12,
        json!({"type": "virtual", "sensor_type": "state", "name": "Gear", "input_name": "gear"}),
    );
    let flag = sensor(
        13,
        json!({"type": "virtual", "sensor_type": "state", "name": "Flag", "input_name": "flag",
               "parameters": {"calc_method": "identity"}}),
    );
    let point = io(json!({"gear": 3, "flag": true}));
    assert_eq!(
        evaluate(&identity, &point, MeasurementSystem::Metric).map(|v| v.value),
        Some(3.0)
    );
    assert_eq!(
        evaluate(&flag, &point, MeasurementSystem::Metric).map(|v| v.value),
        Some(1.0)
    );
}

#[test]
fn discrete_sensors_read_input_bits() {
    let s = sensor(
        14,
        json!({"type": "discrete", "sensor_type": "ignition", "name": "Ignition", "input_number": 4}),
    );
    assert_eq!(
        evaluate(&s, &io(json!({"din_4": 1})), MeasurementSystem::Metric),
        None
    );
    let Kind::Discrete(d) = s.def.kind else {
        panic!("discrete")
    };
    assert!(discrete_state(&d, 0b1000));
    assert!(!discrete_state(&d, 0b0111));
    assert!(!discrete_state(&d, 0));
}

#[test]
fn rounding_to_accuracy() {
    assert_eq!(round_to(12.3456, 0.0), 12.3456);
    assert_eq!(round_to(12.3456, 0.25), 12.25);
    assert_eq!(round_to(12.4, 0.25), 12.5);
    assert_eq!(round_to(17.0, 5.0), 15.0);
    assert_eq!(round_to(-1.2, 1.0), -1.0);
}

// ---------------------------------------------------------------------------------------
// Parsing and rendering

#[test]
fn the_navixy_examples_round_trip() {
    let metering = json!({
        "type": "metering", "sensor_type": "temperature", "name": "OBD Coolant temperature",
        "input_name": "obd_coolant_t", "divider": 1.0, "accuracy": 0.0, "units": "", "units_type": "celsius",
        "parameters": {"parent_ids": [123042, 123566], "volume": 0.7, "min": 0.0, "max": 12.0,
                       "max_lowering_by_time": 120.0, "max_lowering_by_mileage": 120.0,
                       "ignore_drains_in_move": true, "ignore_refuels_in_move": false,
                       "refuel_gap_minutes": 11, "custom_field_name": false}
    });
    let discrete = json!({"type": "discrete", "sensor_type": "ignition", "name": "Ignition", "input_number": 4});
    let virtual_sensor = json!({
        "type": "virtual", "sensor_type": "virtual_ignition", "name": "Virtual Ignition",
        "input_name": "board_voltage", "custom_field_name": false,
        "parameters": {"calc_method": "in_range", "range_from": 13.4,
                       "value_titles": [{"value": "0", "title": "Off"}, {"value": "1", "title": "On"}]}
    });
    for (id, v) in [
        (860250, metering),
        (888951, discrete),
        (1700049, virtual_sensor),
    ] {
        let s = sensor(id, v.clone());
        let mut expected = v;
        expected["id"] = json!(id);
        assert_eq!(s.to_json(), expected);
    }
}

#[test]
fn defaults_of_a_minimal_metering_sensor() {
    let s = sensor(
        1,
        json!({"type": "metering", "sensor_type": "custom", "name": "", "input_name": "analog_1",
               "group_type": "avg", "id": 99}),
    );
    assert_eq!(
        s.to_json(),
        json!({"id": 1, "type": "metering", "sensor_type": "custom", "name": "", "input_name": "analog_1",
               "divider": 1.0, "accuracy": 0.0, "units": "", "units_type": "custom", "group_type": "avg"})
    );
}

#[test]
fn lenient_values_inside_the_object() {
    let s = sensor(
        1,
        json!({"type": "discrete", "sensor_type": "door", "name": 5, "input_number": "2"}),
    );
    assert_eq!(s.def.name, "5");
    assert_eq!(
        s.def.kind,
        Kind::Discrete(Discrete {
            sensor_type: DiscreteType::Door,
            input_number: 2
        })
    );
}

#[test]
fn every_bad_field_is_named() {
    assert_eq!(
        errors(json!({})),
        vec![
            err("sensor.type", "must not be null"),
            err("sensor.name", "must not be null")
        ]
    );
    assert_eq!(
        errors(json!({"type": "analog", "name": "x"})),
        vec![err(
            "sensor.type",
            "must be one of: metering, discrete, virtual"
        )]
    );
    assert_eq!(
        errors(
            json!({"type": "metering", "sensor_type": "volume", "name": "n".repeat(101),
                      "input_name": "i".repeat(65), "divider": 0, "accuracy": 0.3, "units": "u".repeat(65),
                      "units_type": "Litre", "group_type": "max",
                      "parameters": {"min": 5, "max": 1, "volume": -1, "parent_ids": [1, "x"],
                                     "refuel_gap_minutes": -5, "ignore_drains_in_move": "maybe"}})
        ),
        vec![
            err("sensor.name", "size must be between 0 and 100"),
            err(
                "sensor.sensor_type",
                "must be one of: fuel, temperature, rpm, custom, fuel_consumption, \
                 instant_consumption, power, speed, flow_meter, acceleration"
            ),
            err("sensor.input_name", "size must be between 1 and 64"),
            err("sensor.divider", "must not be 0"),
            err(
                "sensor.accuracy",
                "must be between 0 and 100 in steps of 0.25"
            ),
            err("sensor.units", "size must be between 0 and 64"),
            err(
                "sensor.units_type",
                "must be 1 to 32 lowercase letters, digits or '_'"
            ),
            err("sensor.group_type", "must be one of: sum, avg"),
            err(
                "sensor.parameters.parent_ids",
                "must be an array of integers"
            ),
            err(
                "sensor.parameters.ignore_drains_in_move",
                "must be a boolean"
            ),
            err("sensor.parameters.volume", "must not be negative"),
            err("sensor.parameters.min", "must not be greater than max"),
            err(
                "sensor.parameters.refuel_gap_minutes",
                "must not be negative"
            ),
        ]
    );
    assert_eq!(
        errors(
            json!({"type": "metering", "sensor_type": "fuel", "name": "x", "input_name": "",
                      "accuracy": 100.25, "parameters": "nope"})
        ),
        vec![
            err("sensor.input_name", "size must be between 1 and 64"),
            err(
                "sensor.accuracy",
                "must be between 0 and 100 in steps of 0.25"
            ),
            err("sensor.parameters", "must be an object"),
        ]
    );
    assert_eq!(
        errors(
            json!({"type": "discrete", "sensor_type": "fuel", "name": "a\u{7}b", "input_number": 9})
        ),
        vec![
            err("sensor.name", "must not contain control characters"),
            err(
                "sensor.sensor_type",
                "must be one of: ignition, sos_button, power, engine, car_alarm, door, charge, \
                 detach, custom"
            ),
            err("sensor.input_number", "must be between 1 and 8"),
        ]
    );
    assert_eq!(
        errors(json!({"type": "discrete", "sensor_type": "door", "name": "x"})),
        vec![err("sensor.input_number", "must not be null")]
    );
}

#[test]
fn virtual_parameter_rules() {
    let v = |params: Value| {
        json!({"type": "virtual", "sensor_type": "state", "name": "s", "input_name": "analog_1",
               "parameters": params})
    };
    assert_eq!(
        errors(v(json!({"calc_method": "in_range"}))),
        vec![err(
            "sensor.parameters.range_from",
            "range_from or range_to must be set for in_range"
        )]
    );
    assert_eq!(
        errors(v(
            json!({"calc_method": "in_range", "range_from": 5, "range_to": 1})
        )),
        vec![err(
            "sensor.parameters.range_from",
            "must not be greater than range_to"
        )]
    );
    assert_eq!(
        errors(v(json!({"calc_method": "bit_index"}))),
        vec![err(
            "sensor.parameters.bit_index",
            "must be set for bit_index"
        )]
    );
    assert_eq!(
        errors(v(json!({"calc_method": "bit_index", "bit_index": 0}))),
        vec![err(
            "sensor.parameters.bit_index",
            "must be between 1 and 64"
        )]
    );
    assert_eq!(
        errors(v(json!({"calc_method": "average"}))),
        vec![err(
            "sensor.parameters.calc_method",
            "must be one of: in_range, identity, bit_index"
        )]
    );
    assert_eq!(
        errors(v(
            json!({"value_titles": [{"value": "1", "title": "a"}, {"value": 1, "title": "b"}]})
        )),
        vec![err(
            "sensor.parameters.value_titles",
            "values must be unique"
        )]
    );
    assert_eq!(
        errors(v(
            json!({"value_titles": [{"value": "1", "title": "t".repeat(65)}]})
        )),
        vec![err(
            "sensor.parameters.value_titles",
            "values and titles must be at most 64 characters"
        )]
    );
    assert_eq!(
        errors(v(json!({"value_titles": [{"value": "1"}]}))),
        vec![err(
            "sensor.parameters.value_titles",
            "items must be objects with a value and a title"
        )]
    );
    let titles: Vec<Value> = (0..=100)
        .map(|i| json!({"value": i.to_string(), "title": "t"}))
        .collect();
    assert_eq!(
        errors(v(json!({"value_titles": titles}))),
        vec![err(
            "sensor.parameters.value_titles",
            "size must be between 0 and 100"
        )]
    );
    let hundred: Vec<Value> = (0..100)
        .map(|i| json!({"value": i.to_string(), "title": "t"}))
        .collect();
    assert!(parse(v(json!({"value_titles": hundred}))).is_ok());
    // No parameters at all: the input itself.
    assert!(parse(
        json!({"type": "virtual", "sensor_type": "state", "name": "s", "input_name": "x"})
    )
    .is_ok());
}

// ---------------------------------------------------------------------------------------
// Rules between a tracker's sensors

fn metering_on(id: i64, input: &str, sensor_type: &str) -> Sensor {
    sensor(
        id,
        json!({"type": "metering", "sensor_type": sensor_type, "name": "m", "input_name": input}),
    )
}

fn discrete_on(id: i64, n: u8, sensor_type: &str) -> Sensor {
    sensor(
        id,
        json!({"type": "discrete", "sensor_type": sensor_type, "name": "d", "input_number": n}),
    )
}

fn virtual_on(id: i64, input: &str, sensor_type: &str) -> Sensor {
    sensor(
        id,
        json!({"type": "virtual", "sensor_type": sensor_type, "name": "v", "input_name": input}),
    )
}

#[test]
fn inputs_in_use() {
    let others = vec![
        metering_on(1, "analog_1", "fuel"),
        discrete_on(2, 3, "door"),
        virtual_on(3, "board_voltage", "state"),
        metering_on(4, COMPOSITE_INPUT, "fuel"),
    ];
    let check = |s: Sensor| check_against(&s.def, &others);
    assert_eq!(
        check(metering_on(9, "analog_1", "temperature")),
        Err(Conflict::InputInUse)
    );
    assert_eq!(
        check(discrete_on(9, 3, "engine")),
        Err(Conflict::InputInUse)
    );
    assert_eq!(check(metering_on(9, "analog_2", "fuel")), Ok(()));
    assert_eq!(check(discrete_on(9, 4, "door")), Ok(()));
    // Virtual sensors share inputs with anything, and composite sensors with each other.
    assert_eq!(check(virtual_on(9, "analog_1", "state")), Ok(()));
    assert_eq!(check(virtual_on(9, "board_voltage", "state")), Ok(()));
    assert_eq!(check(metering_on(9, "board_voltage", "power")), Ok(()));
    assert_eq!(check(metering_on(9, COMPOSITE_INPUT, "fuel")), Ok(()));
}

#[test]
fn too_many_of_a_type() {
    let with_ignitions = vec![
        discrete_on(1, 1, "ignition"),
        virtual_on(2, "board_voltage", "virtual_ignition"),
    ];
    assert_eq!(
        check_against(&discrete_on(9, 2, "ignition").def, &with_ignitions),
        Err(Conflict::TooMany)
    );
    assert_eq!(
        check_against(
            &virtual_on(9, "analog_1", "virtual_ignition").def,
            &with_ignitions
        ),
        Err(Conflict::TooMany)
    );
    assert_eq!(
        check_against(&virtual_on(9, "analog_1", "state").def, &with_ignitions),
        Ok(())
    );
    let fuel: Vec<Sensor> = (0..MAX_PER_TYPE)
        .map(|i| metering_on(i as i64, &format!("lls_level_{i}"), "fuel"))
        .collect();
    assert_eq!(
        check_against(&metering_on(99, "can_fuel", "fuel").def, &fuel),
        Err(Conflict::TooMany)
    );
    assert_eq!(
        check_against(&metering_on(99, "can_fuel", "custom").def, &fuel),
        Ok(())
    );
    // Input conflicts are reported before counts.
    assert_eq!(
        check_against(&metering_on(99, "lls_level_3", "fuel").def, &fuel),
        Err(Conflict::InputInUse)
    );
}

#[test]
fn supports_calibration_only_when_metering() {
    assert!(metering_on(1, "a", "fuel").def.supports_calibration());
    assert!(!discrete_on(1, 1, "door").def.supports_calibration());
    assert!(!virtual_on(1, "a", "state").def.supports_calibration());
}

#[test]
fn parameters_survive_the_store_format() {
    let s = fuel_sensor();
    let Kind::Metering(m) = &s.def.kind else {
        panic!("metering")
    };
    let text = serde_json::to_string(&m.parameters).expect("serialize");
    assert_eq!(text, r#"{"min":0.0,"max":5000.0}"#);
    let back: Option<MeteringParameters> = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(&back, &m.parameters);
    let calibration = serde_json::to_string(&s.calibration).expect("serialize");
    assert_eq!(
        calibration,
        r#"[{"in":0.0,"out":0.0},{"in":0.7,"out":60.0},{"in":1.5,"out":100.0}]"#
    );
}

// ---------------------------------------------------------------------------------------
// Input names

#[test]
fn input_names_are_sorted_unique_and_cover_the_spec_families() {
    let names: Vec<&str> = input_names()
        .iter()
        .map(|n| n.input_name.as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted);
    for expected in [
        "analog_1",
        "analog_8",
        "lls_level_16",
        "ext_temp_sensor_10",
        "raw_can_16",
        "can_axle_load_15",
        "rs232_6",
        "board_voltage",
        "hw_mileage",
        "fuel_level",
        "can_fuel_litres",
        "obd_coolant_t",
        "obd_vin",
    ] {
        assert!(names.contains(&expected), "{expected}");
    }
    for absent in ["analog_9", "lls_level_17", "rs232_7", "analog_0"] {
        assert!(!names.contains(&absent), "{absent}");
    }
    let analog_3 = input_names().iter().find(|n| n.input_name == "analog_3");
    assert_eq!(
        analog_3.map(|n| n.description.as_str()),
        Some("Analog input #3")
    );
    // Every input a catalog model lists is known.
    for model in crate::catalog::models() {
        let inputs = model.rest.get("inputs").and_then(Value::as_array);
        for input in inputs.into_iter().flatten() {
            let name = input.as_str().unwrap_or_default();
            assert!(names.contains(&name), "{} lists {name}", model.code);
        }
    }
}
