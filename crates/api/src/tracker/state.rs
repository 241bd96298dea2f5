//! The live state of trackers: `tracker/get_state`, `get_states`, `get_last_gps_point`,
//! `get_inputs` and `get_diagnostics`. Each reads the trackers with their states
//! (`Store::tracker_states`: the trackers kept in memory while unchanged, the states as ingest
//! last committed them, or else in one query) and derives the statuses at the time of the call
//! by the rules of docs/state.md. `get_states` answers the objects it rendered before where
//! nothing they were rendered from has changed (`rendered`).

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Map, Value};
use trackd_core::catalog;
use trackd_core::sensor::{convert, MeasurementSystem};
use trackd_core::sensor::{discrete_state, Kind};
use trackd_core::state::{Fix, TrackerState};
use trackd_core::tracker::Tracker;
use trackd_core::TrackerId;

use super::not_blocked;
use super::rendered::{Statuses, Wanted};
use super::sensor::owner;
use crate::time::Formatted;
use crate::{ApiError, Ctx, Reply};

/// Most trackers one `get_states` (or `counter/value/list`) call may name.
pub(crate) const MAX_STATES: usize = 2000;

/// The tracker the call's `tracker_id` names, with its state (an empty one before any data),
/// in one query: 201 for a tracker the account does not have (or has deleted), 208 for a
/// blocked one.
pub(crate) async fn tracker_with_state(ctx: &Ctx) -> Result<(Tracker, TrackerState), ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    c.done()?;
    let rows = ctx
        .store()
        .tracker_states(ctx.account()?, Some(&[TrackerId(id)]))
        .await?;
    let (tracker, state) = rows
        .into_iter()
        .find(|(t, _)| !t.deleted)
        .ok_or_else(|| ApiError::new(201))?;
    not_blocked(&tracker)?;
    Ok((
        std::sync::Arc::unwrap_or_clone(tracker),
        state
            .map(std::sync::Arc::unwrap_or_clone)
            .unwrap_or_default(),
    ))
}

pub(crate) fn time(ctx: &Ctx, t: Option<i64>) -> Value {
    t.map_or(Value::Null, |t| Value::String(ctx.time.format(t)))
}

/// Whole units, as the state object has them (0 when unknown: the fields are ints).
fn whole(v: Option<f64>) -> i64 {
    v.map_or(0, |v| v.round() as i64)
}

/// GPS signal level in percent, from the satellites of the fix: ten or more is full strength
/// (docs/state.md). Unknown without a satellite count.
fn signal_level(fix: &Fix) -> Option<i32> {
    fix.satellites.map(|s| s.clamp(0, 10) * 10)
}

/// Discrete inputs or outputs as booleans, input 1 first: as many as the model has, more if
/// the device reported a higher one.
fn bits(mask: Option<i64>, model_count: usize) -> Bits {
    let mask = mask.map_or(0, |m| m as u64);
    let highest = 64 - mask.leading_zeros() as usize;
    Bits {
        mask,
        count: model_count.max(highest).min(64),
    }
}

/// A count from the model's catalog entry (`digital_inputs`, `digital_outputs`).
fn model_count(tracker: &Tracker, field: &str) -> usize {
    catalog::model(&tracker.source.model)
        .and_then(|m| m.rest.get(field))
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

/// The state object (navixy-reference §4), serialized straight from here: `get_states`
/// answers 2,000 of them. Fields in the order of a JSON object's keys elsewhere
/// (alphabetical). Its times are written into the answer as it is serialized, with no String
/// each: 2,000 states have some 20,000 of them.
#[derive(Serialize)]
pub struct StateObject {
    actual_track_update: Option<Formatted>,
    additional: Map<String, Value>,
    battery_level: Option<i32>,
    battery_update: Option<Formatted>,
    connection_status: &'static str,
    gps: GpsObject,
    gsm: Option<GsmObject>,
    /// Present only for devices that report it (navixy-reference §4).
    #[serde(skip_serializing_if = "Option::is_none")]
    ignition: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ignition_update: Option<Formatted>,
    inputs: Bits,
    inputs_update: Option<Formatted>,
    last_update: Option<Formatted>,
    movement_status: &'static str,
    movement_status_update: Option<Formatted>,
    outputs: Bits,
    outputs_update: Option<Formatted>,
    source_id: i64,
}

/// Discrete inputs or outputs as booleans, input 1 first: as many as the model has, more if
/// the device reported a higher one (`bits`), serialized without a list of their own.
struct Bits {
    mask: u64,
    count: usize,
}

impl Serialize for Bits {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((0..self.count).map(|i| self.mask >> i & 1 == 1))
    }
}

#[derive(Serialize)]
struct GpsObject {
    alt: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    gsm_lbs: bool,
    heading: i64,
    location: Option<LatLng>,
    signal_level: Option<i32>,
    speed: i64,
    updated: Option<Formatted>,
}

#[derive(Serialize)]
struct LatLng {
    lat: f64,
    lng: f64,
}

#[derive(Serialize)]
struct GsmObject {
    /// Points do not keep the operator's name or roaming yet.
    network_name: Option<String>,
    roaming: Option<bool>,
    signal_level: Option<i32>,
    updated: Option<Formatted>,
}

/// The state object with its statuses at the time of the call ([`Statuses::at`]).
pub(crate) fn render(
    ctx: &Ctx,
    tracker: &Tracker,
    state: &TrackerState,
    statuses: Statuses,
) -> StateObject {
    let time = |t: Option<i64>| t.map(|t| ctx.time.at(t));
    // The last GPS fix; a cell-tower location only while there has never been one.
    let (fix, lbs) = match (&state.gps, &state.lbs) {
        (Some(gps), _) => (Some(gps), false),
        (None, Some(lbs)) => (Some(lbs), true),
        (None, None) => (None, false),
    };
    let gps = GpsObject {
        alt: whole(fix.and_then(|f| f.altitude)),
        gsm_lbs: lbs,
        heading: whole(fix.and_then(|f| f.heading)),
        location: fix.map(|f| LatLng {
            lat: f.lat,
            lng: f.lng,
        }),
        signal_level: fix.filter(|_| !lbs).and_then(signal_level),
        speed: whole(fix.and_then(|f| f.speed)),
        updated: time(fix.map(|f| f.time)),
    };
    let mut additional = Map::new();
    if let Some(key) = &state.hardware_key {
        additional.insert(
            "hardware_key".into(),
            json!({"value": key.value, "updated": ctx.time.format(key.time)}),
        );
    }
    StateObject {
        actual_track_update: time(state.last_moved()),
        additional,
        battery_level: state.battery_level.as_ref().map(|b| b.value),
        battery_update: time(state.battery_level.as_ref().map(|b| b.time)),
        connection_status: statuses.connection.as_str(),
        gps,
        gsm: state.gsm.map(|g| GsmObject {
            network_name: None,
            roaming: None,
            signal_level: g.signal_level,
            updated: time(Some(g.time)),
        }),
        ignition: state.ignition.as_ref().map(|i| i.value),
        ignition_update: state.ignition.as_ref().map(|i| ctx.time.at(i.time)),
        inputs: bits(
            state.inputs.as_ref().map(|i| i.value),
            model_count(tracker, "digital_inputs"),
        ),
        inputs_update: time(state.inputs.as_ref().map(|i| i.time)),
        last_update: time(state.last_update),
        movement_status: statuses.movement.as_str(),
        movement_status_update: time(statuses.movement_since),
        outputs: bits(
            state.outputs.as_ref().map(|o| o.value),
            model_count(tracker, "digital_outputs"),
        ),
        outputs_update: time(state.outputs.as_ref().map(|o| o.time)),
        source_id: tracker.source.id.0,
    }
}

/// `tracker/get_state`.
pub async fn get_state(ctx: Ctx) -> Result<Reply, ApiError> {
    let (tracker, state) = tracker_with_state(&ctx).await?;
    let now = ctx.now();
    let statuses = Statuses::at(&tracker, &state, now, &ctx.state.state_config);
    Ok(Reply::ok()
        .with("user_time", ctx.time.format(now))
        .with_serialized("state", &render(&ctx, &tracker, &state, statuses)))
}

/// `tracker/get_states`: the named trackers (all of the account's when `trackers` is left
/// out) in one query. A tracker the account never had answers 217 and a deleted (corrupted)
/// one 201, unless `allow_not_exist` lists both under `not_exist`; a blocked one answers 208
/// unless `list_blocked` lists it under `blocked`. Left out, `trackers` means the live
/// trackers, and blocked ones are skipped rather than failing the call (inference: an
/// account with one blocked tracker could otherwise never read the others).
pub async fn get_states(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let ids = c.opt_int_array("trackers");
    let list_blocked = c.bool_or("list_blocked", false);
    let allow_not_exist = c.bool_or("allow_not_exist", false);
    if ids.as_ref().is_some_and(|ids| ids.len() > MAX_STATES) {
        c.fail(
            "trackers",
            format!("size must be between 0 and {MAX_STATES}"),
        );
    }
    c.done()?;
    let wanted: Option<Vec<TrackerId>> = ids.map(|ids| {
        let unique: BTreeSet<i64> = ids.into_iter().collect();
        unique.into_iter().map(TrackerId).collect()
    });
    let rows = ctx
        .store()
        .tracker_states(ctx.account()?, wanted.as_deref())
        .await?;
    let mut not_exist: Vec<i64> = Vec::new();
    if let Some(wanted) = &wanted {
        let found: HashSet<TrackerId> = rows.iter().map(|(t, _)| t.id).collect();
        not_exist.extend(
            wanted
                .iter()
                .filter(|id| !found.contains(id))
                .map(|id| id.0),
        );
        if !not_exist.is_empty() && !allow_not_exist {
            return Err(ApiError::new(217));
        }
    }
    if rows.iter().any(|(t, _)| t.deleted) && !allow_not_exist {
        return Err(ApiError::new(201));
    }
    if wanted.is_some() && rows.iter().any(|(t, _)| t.source.blocked) && !list_blocked {
        return Err(ApiError::new(208));
    }
    let now = ctx.now();
    let config = &ctx.state.state_config;
    let mut live = Vec::with_capacity(rows.len());
    let mut blocked = Vec::new();
    let no_data = TrackerState::default();
    for (tracker, state) in &rows {
        if tracker.deleted {
            not_exist.push(tracker.id.0);
        } else if tracker.source.blocked {
            blocked.push(tracker.id.0);
        } else {
            let statuses = Statuses::at(tracker, state.as_deref().unwrap_or(&no_data), now, config);
            live.push(Wanted {
                tracker,
                state: state.as_ref(),
                statuses,
            });
        }
    }
    let objects = ctx.state.rendered_states.objects(&live, ctx.time, |w| {
        let state = w.state.map_or(&no_data, |s| &**s);
        let object = render(&ctx, w.tracker, state, w.statuses);
        // Our own type with string keys: it always serializes.
        serde_json::to_string(&object).unwrap_or_else(|_| "null".to_owned())
    });
    let mut reply = Reply::ok()
        .with("user_time", ctx.time.format(now))
        .with_json("states", states_object(&live, &objects));
    if list_blocked {
        reply = reply.with("blocked", blocked);
    }
    if allow_not_exist {
        not_exist.sort_unstable();
        reply = reply.with("not_exist", not_exist);
    }
    Ok(reply)
}

/// The `states` object: each tracker's object under its ID, the keys ordered as a JSON
/// object's keys are elsewhere (as strings).
fn states_object(live: &[Wanted<'_>], objects: &[Arc<str>]) -> String {
    let mut keyed: Vec<(String, &str)> = live
        .iter()
        .zip(objects)
        .map(|(w, object)| (w.tracker.id.0.to_string(), &**object))
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let size: usize = keyed.iter().map(|(k, o)| k.len() + o.len() + 4).sum();
    let mut json = String::with_capacity(size + 2);
    json.push('{');
    for (i, (key, object)) in keyed.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        // A tracker's ID is digits: nothing in it to escape.
        json.push('"');
        json.push_str(key);
        json.push_str("\":");
        json.push_str(object);
    }
    json.push('}');
    json
}

/// `tracker/get_last_gps_point`: the last valid GPS fix; cell-tower locations never count.
/// `value` is null for a tracker that has had no fix yet.
pub async fn get_last_gps_point(ctx: Ctx) -> Result<Reply, ApiError> {
    let (_, state) = tracker_with_state(&ctx).await?;
    let value = state.gps.map_or(Value::Null, |f| {
        // `precision` (metres) only when known and not 0: points keep no accuracy yet.
        json!({
            "get_time": ctx.time.format(f.time),
            "heading": whole(f.heading),
            "lat": f.lat,
            "lng": f.lng,
            "satellites": f.satellites.unwrap_or(0),
            "speed": whole(f.speed),
        })
    });
    Ok(Reply::ok().with("value", value))
}

/// `tracker/get_inputs`: the discrete inputs, and under `states` the semantic inputs
/// (ignition, door, ...) the tracker's discrete sensors bind to them, each with the state of
/// its input (off before the device has reported its inputs).
pub async fn get_inputs(ctx: Ctx) -> Result<Reply, ApiError> {
    let (tracker, state) = tracker_with_state(&ctx).await?;
    let now = ctx.now();
    let inputs = state.inputs.as_ref();
    let sensors = ctx.store().sensors(owner(&ctx, &tracker).await?).await?;
    let states: Vec<Value> = sensors
        .iter()
        .filter_map(|s| match &s.def.kind {
            Kind::Discrete(d) => Some(json!({
                "type": d.sensor_type.as_str(),
                "name": s.def.name,
                "status": inputs.is_some_and(|i| discrete_state(d, i.value)),
                "input_number": d.input_number,
            })),
            _ => None,
        })
        .collect();
    Ok(Reply::ok()
        .with("user_time", ctx.time.format(now))
        .with_serialized(
            "inputs",
            &bits(
                inputs.map(|i| i.value),
                model_count(&tracker, "digital_inputs"),
            ),
        )
        .with("states", states)
        .with("update_time", time(&ctx, inputs.map(|i| i.time))))
}

/// The OBD readings `get_diagnostics` lists, by what follows `obd_`.
const OBD: &[&str] = &[
    "consumption",
    "rpm",
    "fuel",
    "coolant_t",
    "intake_air_t",
    "throttle",
    "speed",
    "engine_load",
    "absolute_load_value",
    "control_module_voltage",
    "time_since_engine_start",
    "mil_run_time",
];

/// The CAN readings it lists, by what follows `can_` (besides `raw_can_x` and
/// `can_axle_load_x`).
const CAN: &[&str] = &[
    "engine_temp",
    "engine_hours",
    "mileage",
    "throttle",
    "consumption",
    "rpm",
    "speed",
    "r_prefix",
    "coolant_t",
    "intake_air_t",
    "engine_load",
    "adblue_level",
    "fuel_rate",
];

/// What a reading is, whether OBD or CAN reports it: label, sensor type, unit.
#[rustfmt::skip]
const READINGS: &[(&str, &str, &str, &str)] = &[
    ("consumption", "Fuel consumption", "fuel_consumption", "litre"),
    ("rpm", "RPM", "rpm", "custom"),
    ("fuel", "Fuel level", "fuel", "percent"),
    ("coolant_t", "Coolant temperature", "temperature", "celsius"),
    ("intake_air_t", "Intake air temperature", "temperature", "celsius"),
    ("throttle", "Throttle position", "custom", "percent"),
    ("speed", "Speed", "speed", "kmh"),
    ("engine_load", "Engine load", "custom", "percent"),
    ("absolute_load_value", "Absolute load value", "custom", "percent"),
    ("control_module_voltage", "Control module voltage", "power", "volt"),
    ("time_since_engine_start", "Time since engine start", "custom", "custom"),
    ("mil_run_time", "Time run with MIL on", "custom", "custom"),
    ("engine_temp", "Engine temperature", "temperature", "celsius"),
    ("engine_hours", "Engine hours", "custom", "custom"),
    ("mileage", "Mileage", "custom", "km"),
    ("r_prefix", "R prefix", "custom", "custom"),
    ("adblue_level", "AdBlue level", "custom", "percent"),
    ("fuel_rate", "Fuel rate", "instant_consumption", "custom"),
];

/// A CAN or OBD reading `get_diagnostics` lists: its label, sensor type and unit.
fn diagnostic(name: &str) -> Option<(String, &'static str, &'static str)> {
    let indexed = |prefix: &str, max: u32| {
        name.strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=max).contains(n))
    };
    if let Some(n) = indexed("raw_can_", 16) {
        return Some((format!("CAN: Raw {n}"), "custom", "custom"));
    }
    if let Some(n) = indexed("can_axle_load_", 15) {
        return Some((format!("CAN: Axle load {n}"), "custom", "custom"));
    }
    let (bus, reading) = match (name.strip_prefix("obd_"), name.strip_prefix("can_")) {
        (Some(r), _) if OBD.contains(&r) => ("OBD", r),
        (_, Some(r)) if CAN.contains(&r) => ("CAN", r),
        _ => return None,
    };
    READINGS
        .iter()
        .find(|(r, ..)| *r == reading)
        .map(|(_, label, kind, units)| (format!("{bus}: {label}"), *kind, *units))
}

/// The state names `get_diagnostics` lists under `states`.
const DIAGNOSTIC_STATES: &[&str] = &[
    "obd_vin",
    "obd_dtc_number",
    "obd_dtc_codes",
    "obd_dtc_cleared_distance",
    "obd_mil_activated_distance",
    "hardware_key",
    "external_power_state",
    "driver_ident_state",
    "tacho_vin",
    "tacho_card1_sn",
    "tacho_card2_sn",
    "tacho_vin_last_download",
    "tacho_card1_last_download",
    "tacho_card2_last_download",
    "can_hood_state",
    "can_airbag_state",
    "can_trunk_state",
    "can_seat_belt_driver_state",
    "can_seat_belt_passenger_state",
    "can_door_state",
    "can_door_driver_state",
    "can_door_passenger_state",
];

/// The diagnostic state values (VIN, trouble codes, driver key, ...) of the state, by name,
/// each with the time it was reported: `get_diagnostics` lists them under `states`,
/// `readings/list` too.
pub(crate) fn state_values(state: &TrackerState) -> Vec<(String, Value, i64)> {
    let mut values: Vec<(String, Value, i64)> = state
        .io
        .iter()
        .filter(|(name, _)| DIAGNOSTIC_STATES.contains(&name.as_ref()))
        .map(|(name, reading)| (name.to_string(), reading.value.clone(), reading.time))
        .collect();
    if let Some(key) = &state.hardware_key {
        values.push(("hardware_key".into(), json!(key.value), key.time));
    }
    values
}

/// `tracker/get_diagnostics`: the newest CAN and OBD readings as sensor values, and the
/// diagnostic states (VIN, trouble codes, ...), from the state's readings. Values are in the
/// units the device sent (no conversion to the user's measurement system yet).
pub async fn get_diagnostics(ctx: Ctx) -> Result<Reply, ApiError> {
    let (_, state) = tracker_with_state(&ctx).await?;
    let now = ctx.now();
    let system = MeasurementSystem::parse(&ctx.caller()?.user.measurement_system);
    let mut updated: Option<i64> = None;
    let mut inputs = Vec::new();
    for (name, reading) in &state.io {
        let (Some((label, kind, units_type)), Some(value)) =
            (diagnostic(name), reading.value.as_f64())
        else {
            continue;
        };
        updated = updated.max(Some(reading.time));
        let converted = convert(value, units_type, system);
        inputs.push(json!({
            "label": label,
            "name": name,
            "type": kind,
            "value": value,
            "units_type": units_type,
            "units": "",
            "converted_units_type": converted.map(|c| c.0),
            "converted_value": converted.map(|c| c.1),
        }));
    }
    let mut states = Map::new();
    for (name, value, at) in state_values(&state) {
        updated = updated.max(Some(at));
        states.insert(name, value);
    }
    Ok(Reply::ok()
        .with("user_time", ctx.time.format(now))
        .with("inputs", inputs)
        .with(
            "states",
            if states.is_empty() {
                Value::Null
            } else {
                Value::Object(states)
            },
        )
        .with("update_time", time(&ctx, updated)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_cover_the_model_and_what_was_reported() {
        let json = |b: Bits| serde_json::to_value(b).expect("serializes");
        assert_eq!(json(bits(None, 3)), json!([false, false, false]));
        assert_eq!(json(bits(Some(0b101), 2)), json!([true, false, true]));
        assert_eq!(
            json(bits(Some(0b10), 4)),
            json!([false, true, false, false])
        );
        let highest = json(bits(Some(i64::MIN), 0));
        let highest = highest.as_array().expect("a list");
        assert_eq!(highest.len(), 64);
        assert_eq!(highest.last(), Some(&json!(true)));
        assert_eq!(json(bits(None, 0)), json!([]));
    }

    #[test]
    fn diagnostics_by_name() {
        assert_eq!(
            diagnostic("obd_rpm"),
            Some(("OBD: RPM".to_owned(), "rpm", "custom"))
        );
        assert_eq!(
            diagnostic("raw_can_16").map(|d| d.0),
            Some("CAN: Raw 16".to_owned())
        );
        assert_eq!(diagnostic("raw_can_17"), None);
        assert_eq!(diagnostic("can_axle_load_0"), None);
        assert_eq!(diagnostic("board_voltage"), None);
        assert_eq!(diagnostic("can_fuel"), None, "a fuel reading, for get_fuel");
        assert_eq!(
            diagnostic("can_coolant_t").map(|d| d.0),
            Some("CAN: Coolant temperature".to_owned())
        );
    }

    #[test]
    fn signal_level_from_satellites() {
        let fix = |s| Fix {
            time: 0,
            lat: 0.0,
            lng: 0.0,
            speed: None,
            heading: None,
            altitude: None,
            satellites: s,
            hdop: None,
        };
        assert_eq!(signal_level(&fix(Some(4))), Some(40));
        assert_eq!(signal_level(&fix(Some(14))), Some(100));
        assert_eq!(signal_level(&fix(None)), None);
    }
}
