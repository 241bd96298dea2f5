//! What a tracker's sensors read: `tracker/get_fuel`, `tracker/get_readings`,
//! `tracker/readings/list` and `readings/batch_list` from the newest value of each input in the
//! tracker's state, and `tracker/sensor/data/read` from the stored points of a period. Values
//! come from `sensor::evaluate` (divider, calibration, accuracy) in the caller's measurement
//! system.
//! The readings calls also list the tracker's counter values (see `counter`).

use serde_json::{json, Map, Value};
use trackd_core::counter::CounterState;
use trackd_core::readings::Readings;
use trackd_core::sensor::{self, Kind, MeasurementSystem, Metering, MeteringType, Sensor};
use trackd_core::sensor::{SensorId, SensorValue};
use trackd_core::state::TrackerState;
use trackd_core::TrackerId;

use super::counter::counter_values;
use super::sensor::{listed, owner, sensors_of_each};
use super::state::{state_values, time, tracker_with_state};
use super::{find, not_blocked};
use crate::track::{datetime, DAY_MS, MAX_POINTS};
use crate::{ApiError, Ctx, Reply};

/// The caller's measurement system (user settings), for converted values.
fn system(ctx: &Ctx) -> Result<MeasurementSystem, ApiError> {
    Ok(MeasurementSystem::parse(
        &ctx.caller()?.user.measurement_system,
    ))
}

/// A sensor's reading on the state's newest inputs, with the time its input was reported.
/// `None` when the tracker has not reported the input (or the value is no reading: see
/// `sensor::evaluate`).
fn reading(
    sensor: &Sensor,
    state: &TrackerState,
    system: MeasurementSystem,
) -> Option<(SensorValue, i64)> {
    let (name, input) = state.io.get_key_value(sensor.def.input_name()?)?;
    // `evaluate` reads a point's inputs; the one input it needs, as one point would carry it.
    let mut io = Readings::new();
    io.insert(name.clone(), input.value.clone());
    Some((sensor::evaluate(sensor, &io, system)?, input.time))
}

/// Input names the get_fuel page lists as fuel readings, besides `lls_level_x` and sensors of
/// a fuel type (`rs232_x` counts only as a fuel sensor: it carries anything serial).
const FUEL_INPUTS: &[&str] = &[
    "fuel_level",
    "fuel_frequency",
    "fuel_consumption",
    "can_fuel",
    "can_fuel_2",
    "can_fuel_litres",
    "can_fuel_economy",
];

/// A sensor `get_fuel` lists.
fn fuel_related(m: &Metering) -> bool {
    matches!(
        m.sensor_type,
        MeteringType::Fuel | MeteringType::FuelConsumption
    ) || FUEL_INPUTS.contains(&m.input_name.as_str())
        || m.input_name.starts_with("lls_level_")
}

/// A CAN or OBD input: `get_diagnostics` lists those, `get_readings` does not.
fn on_bus(m: &Metering) -> bool {
    ["can_", "obd_", "raw_can_"]
        .iter()
        .any(|p| m.input_name.starts_with(p))
}

/// `get_fuel` and `get_readings`: the metering sensors `keep` chooses, read on the state's
/// newest inputs; `update_time` is the newest of their times, null when none has a reading.
async fn current(ctx: Ctx, keep: fn(&Metering) -> bool) -> Result<Reply, ApiError> {
    let (tracker, state) = tracker_with_state(&ctx).await?;
    let system = system(&ctx)?;
    let sensors = ctx.store().sensors(owner(&ctx, &tracker).await?).await?;
    let values: Vec<(SensorValue, i64)> = sensors
        .iter()
        .filter(|s| matches!(&s.def.kind, Kind::Metering(m) if keep(m)))
        .filter_map(|s| reading(s, &state, system))
        .collect();
    let updated = values.iter().map(|(_, t)| *t).max();
    let inputs: Vec<Value> = values.iter().map(|(v, _)| v.to_json()).collect();
    Ok(Reply::ok()
        .with("user_time", ctx.time.format(ctx.now()))
        .with("inputs", inputs)
        .with("update_time", time(&ctx, updated)))
}

/// `tracker/get_fuel`: fuel-level and fuel-consumption sensors.
pub async fn get_fuel(ctx: Ctx) -> Result<Reply, ApiError> {
    current(ctx, fuel_related).await
}

/// `tracker/get_readings`: metering sensors that are neither CAN/OBD nor fuel sensors.
pub async fn get_readings(ctx: Ctx) -> Result<Reply, ApiError> {
    current(ctx, |m| !fuel_related(m) && !on_bus(m)).await
}

/// The readings object of one tracker: `inputs` (metering sensors), `virtual_sensors` and,
/// without a `sensor_type` filter, `states` (the diagnostic state values) and `counters` (the
/// counters that have a value). With `sparse`, a category without data is left out rather
/// than empty (what `batch_list` does).
fn render(
    ctx: &Ctx,
    sensors: &[Sensor],
    state: &TrackerState,
    counters: &CounterState,
    system: MeasurementSystem,
    sensor_type: Option<&str>,
    sparse: bool,
) -> Map<String, Value> {
    let wanted = |s: &&Sensor| sensor_type.is_none_or(|t| s.def.sensor_type() == t);
    let mut inputs = Vec::new();
    let mut virtuals = Vec::new();
    for s in sensors.iter().filter(wanted) {
        let Some((value, at)) = reading(s, state, system) else {
            continue;
        };
        match &s.def.kind {
            Kind::Metering(m) => {
                let mut v = value.to_json();
                v["sensor_id"] = json!(s.id.0);
                v["update_time"] = time(ctx, Some(at));
                // The bounds of a valid raw value, when the sensor sets them.
                let params = m.parameters.as_ref();
                if let Some(min) = params.and_then(|p| p.min) {
                    v["min_value"] = json!(min);
                }
                if let Some(max) = params.and_then(|p| p.max) {
                    v["max_value"] = json!(max);
                }
                inputs.push(v);
            }
            Kind::Virtual(virt) => {
                let mut v = json!({
                    "sensor_id": s.id.0,
                    "label": s.def.name,
                    "name": value.name,
                    "type": value.sensor_type,
                    "value": value.value,
                    "update_time": time(ctx, Some(at)),
                });
                if let Some(title) = sensor::value_title(virt, value.value) {
                    v["value_title"] = json!(title);
                }
                virtuals.push(v);
            }
            // A discrete sensor's state is in `tracker/get_inputs`.
            Kind::Discrete(_) => {}
        }
    }
    let mut out = Map::new();
    let mut put = |key: &str, list: Vec<Value>| {
        if !(sparse && list.is_empty()) {
            out.insert(key.to_owned(), Value::Array(list));
        }
    };
    put("inputs", inputs);
    put("virtual_sensors", virtuals);
    // Filtering by sensor type drops the state values and counters (navixy-reference §5).
    if sensor_type.is_none() {
        let states = state_values(state)
            .into_iter()
            .map(|(field, value, at)| {
                json!({"field": field, "value": value, "update_time": time(ctx, Some(at))})
            })
            .collect();
        put("states", states);
        put("counters", counter_values(ctx, counters));
    }
    out
}

/// `tracker/readings/list` (`tracker_id`, optional `sensor_type`): 201, 208.
pub async fn list(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    // Read here so that both parameters' errors come together; `tracker_with_state` reads
    // `tracker_id` again.
    c.int("tracker_id");
    let sensor_type = c.opt_string("sensor_type");
    c.done()?;
    let (tracker, state) = tracker_with_state(&ctx).await?;
    let owner = owner(&ctx, &tracker).await?;
    let sensors = ctx.store().sensors(owner).await?;
    let counters = ctx
        .store()
        .counter_states(&[owner])
        .await?
        .remove(&owner)
        .unwrap_or_default();
    let body = render(
        &ctx,
        &sensors,
        &state,
        &counters,
        system(&ctx)?,
        sensor_type.as_deref(),
        false,
    );
    Ok(body.into_iter().fold(
        Reply::ok().with("user_time", ctx.time.format(ctx.now())),
        |r, (k, v)| r.with(&k, v),
    ))
}

/// `tracker/readings/batch_list` (`trackers`): `result` maps each tracker to its readings
/// object; a tracker with nothing to report still appears, its empty categories left out.
/// 217 for a tracker that is missing or blocked, 221 for more than 500.
pub async fn batch_list(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let ids = c.int_array("trackers");
    c.done()?;
    let trackers = listed(&ctx, &ids).await?;
    let sensors = sensors_of_each(&ctx, &trackers).await?;
    let ids: Vec<TrackerId> = trackers.iter().map(|t| t.id).collect();
    let states = ctx.store().states(&ids).await?;
    let owners: Vec<TrackerId> = sensors.iter().map(|(_, o, _)| *o).collect();
    let counters = ctx.store().counter_states(&owners).await?;
    let system = system(&ctx)?;
    let empty = TrackerState::default();
    let no_counters = CounterState::default();
    let result: Map<String, Value> = sensors
        .iter()
        .map(|(id, owner, list)| {
            let state = states.get(id).unwrap_or(&empty);
            let counters = counters.get(owner).unwrap_or(&no_counters);
            let body = render(&ctx, list, state, counters, system, None, true);
            (id.0.to_string(), Value::Object(body))
        })
        .collect();
    Ok(Reply::ok()
        .with("user_time", ctx.time.format(ctx.now()))
        .with("result", result))
}

/// `tracker/sensor/data/read` (`tracker_id`, `sensor_id`, `from`, `to`, `raw_data`): the
/// sensor's values in the stored points of the period, oldest first; with `raw_data` the
/// input as the device sent it (no divider, calibration or conversion). Points without the
/// input are left out. 201 for a tracker or sensor the caller does not have, 208 blocked,
/// 228 for a discrete sensor (its state is a bit of the inputs, not a value), 7 when `from`
/// is after `to`, 211 for a period longer than `api.max_sensor_data_days`.
pub async fn data_read(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let sensor_id = c.int("sensor_id");
    let from = datetime(&mut c, &ctx, "from");
    let to = datetime(&mut c, &ctx, "to");
    let raw = c.bool_or("raw_data", false);
    if c.ok() && from > to {
        c.fail("to", "must not be before from");
    }
    c.done()?;
    let tracker = find(&ctx, id).await?;
    not_blocked(&tracker)?;
    let sensor = ctx
        .store()
        .sensor(owner(&ctx, &tracker).await?, SensorId(sensor_id))
        .await?
        .ok_or_else(|| ApiError::new(201))?;
    let input = match (&sensor.def.kind, sensor.def.input_name()) {
        (Kind::Discrete(_), _) | (_, None) => return Err(ApiError::new(228)),
        (_, Some(input)) => input,
    };
    let max = i64::from(ctx.state.config.max_sensor_data_days).saturating_mul(DAY_MS);
    if to.saturating_sub(from) > max {
        return Err(ApiError::new(211));
    }
    let system = system(&ctx)?;
    let points = ctx.store().points(tracker.id, from, to, MAX_POINTS).await?;
    let list: Vec<Value> = points
        .iter()
        .filter_map(|p| {
            let value = if raw {
                sensor::raw_number(p.io.get(input)?)?
            } else {
                let v = sensor::evaluate(&sensor, &p.io, system)?;
                v.converted_value.unwrap_or(v.value)
            };
            Some(json!({"value": value, "get_time": ctx.time.format(p.time)}))
        })
        .collect();
    Ok(Reply::ok().with("list", list))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metering(sensor_type: MeteringType, input: &str) -> Metering {
        Metering {
            sensor_type,
            input_name: input.into(),
            divider: 1.0,
            accuracy: 0.0,
            units: String::new(),
            units_type: "custom".into(),
            group_type: None,
            parameters: None,
        }
    }

    #[test]
    fn fuel_and_bus_sensors_by_type_and_input() {
        assert!(fuel_related(&metering(MeteringType::Fuel, "analog_1")));
        assert!(fuel_related(&metering(MeteringType::Custom, "lls_level_3")));
        assert!(fuel_related(&metering(
            MeteringType::Custom,
            "can_fuel_litres"
        )));
        assert!(!fuel_related(&metering(
            MeteringType::Temperature,
            "fuel_temperature"
        )));
        assert!(!fuel_related(&metering(MeteringType::Custom, "rs232_1")));
        assert!(on_bus(&metering(MeteringType::Rpm, "obd_rpm")));
        assert!(on_bus(&metering(MeteringType::Custom, "raw_can_2")));
        assert!(!on_bus(&metering(MeteringType::Power, "board_voltage")));
    }
}
