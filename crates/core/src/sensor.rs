//! Tracker sensors (navixy-reference §7): what a tracker's raw inputs mean.
//!
//! Three kinds, as Navixy's JSON has them:
//! - **metering**: a number read from a named input (`analog_1`, `can_fuel`, `lls_level_2`),
//!   divided by `divider`, mapped through a calibration table, rounded to `accuracy`, in
//!   `units_type` units (converted to the user's measurement system on the way out);
//! - **discrete**: one of the device's digital inputs (`input_number` 1..8) with a meaning
//!   (ignition, door, SOS button, ...);
//! - **virtual**: a state derived from a named input: whether it is in a range, one of its
//!   bits, or the value itself (`calc_method`), with optional titles for the values.
//!
//! Pure: parsing and validating the JSON object ([`SensorDef::parse`]), rendering it back
//! ([`Sensor::to_json`]), the per-tracker rules (input in use, too many of a type:
//! [`check_against`]) and evaluating a point's inputs into a sensor value ([`evaluate`]).

mod calibration;
mod inputs;
mod parse;
mod units;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::ids::TrackerId;
use crate::readings::Readings;

pub use calibration::{calibrate, parse_calibration, CalibrationPoint, MAX_CALIBRATION_POINTS};
pub use inputs::{input_names, InputName};
pub use units::{convert, known_units, MeasurementSystem};

/// A sensor's ID; sensors are numbered across all trackers, as in Navixy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SensorId(pub i64);

impl fmt::Display for SensorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An enumeration read from its wire name.
pub trait Names: Sized {
    fn parse(s: &str) -> Option<Self>;
    /// Every name, in declaration order.
    fn names() -> Vec<&'static str>;
}

/// A closed set of names, spelled as on the wire; (de)serialized as those strings.
macro_rules! names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $s:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),* }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$variant),)* _ => None }
            }
        }

        impl Names for $name {
            fn parse(s: &str) -> Option<Self> {
                $name::parse(s)
            }
            fn names() -> Vec<&'static str> {
                Self::ALL.iter().map(|n| n.as_str()).collect()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown {} '{s}'", stringify!($name)
                    ))
                })
            }
        }
    };
}

names!(
    /// The `type` of a sensor.
    SensorKind {
        Metering = "metering",
        Discrete = "discrete",
        Virtual = "virtual",
    }
);

names!(
    /// `sensor_type` of a metering sensor.
    MeteringType {
        Fuel = "fuel",
        Temperature = "temperature",
        Rpm = "rpm",
        Custom = "custom",
        FuelConsumption = "fuel_consumption",
        InstantConsumption = "instant_consumption",
        Power = "power",
        Speed = "speed",
        FlowMeter = "flow_meter",
        Acceleration = "acceleration",
    }
);

names!(
    /// `sensor_type` of a discrete sensor.
    DiscreteType {
        Ignition = "ignition",
        SosButton = "sos_button",
        Power = "power",
        Engine = "engine",
        CarAlarm = "car_alarm",
        Door = "door",
        Charge = "charge",
        Detach = "detach",
        Custom = "custom",
    }
);

names!(
    /// `sensor_type` of a virtual sensor.
    VirtualType {
        State = "state",
        VirtualIgnition = "virtual_ignition",
    }
);

names!(
    /// How a metering sensor's values combine over a period (newer Navixy docs).
    GroupType {
        Sum = "sum",
        Avg = "avg",
    }
);

names!(
    /// How a virtual sensor's value is computed from its input.
    CalcMethod {
        InRange = "in_range",
        Identity = "identity",
        BitIndex = "bit_index",
    }
);

/// A stored sensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Sensor {
    pub id: SensorId,
    pub tracker_id: TrackerId,
    pub def: SensorDef,
    /// Sorted by `in`, no `in` twice; empty when not calibrated (and always for sensors that
    /// are not metering).
    pub calibration: Vec<CalibrationPoint>,
}

/// What a user sets: everything but the ID and the calibration table.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorDef {
    pub name: String,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Metering(Metering),
    Discrete(Discrete),
    Virtual(Virtual),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Metering {
    pub sensor_type: MeteringType,
    pub input_name: String,
    /// Raw values are divided by it; never zero.
    pub divider: f64,
    /// Values are rounded to a multiple of it; 0 leaves them as they are.
    pub accuracy: f64,
    /// The user's label for the units.
    pub units: String,
    /// The unit values are in (`litre`, `celsius`, ... or `custom`): see [`convert`].
    pub units_type: String,
    pub group_type: Option<GroupType>,
    pub parameters: Option<MeteringParameters>,
}

/// The optional `parameters` of a metering sensor. Only what was sent is stored and shown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeteringParameters {
    /// Sensors a composite sensor adds up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ids: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<f64>,
    /// Raw values outside `min..=max` are not readings (a disconnected probe, a glitch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lowering_by_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lowering_by_mileage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_drains_in_move: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_refuels_in_move: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuel_gap_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_field_name: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discrete {
    pub sensor_type: DiscreteType,
    /// 1..=8.
    pub input_number: u8,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Virtual {
    pub sensor_type: VirtualType,
    pub input_name: String,
    pub custom_field_name: Option<bool>,
    /// `None` when the user sent none; evaluated as `identity`.
    pub parameters: Option<VirtualParameters>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VirtualParameters {
    pub calc_method: CalcMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_from: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_to: Option<f64>,
    /// 1-based: bit 1 is the least significant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_titles: Option<Vec<ValueTitle>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueTitle {
    pub value: String,
    pub title: String,
}

/// One bad field of a sensor object, named as the `errors` array names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub error: String,
}

pub const MAX_NAME: usize = 100;
pub const MAX_INPUT_NAME: usize = 64;
/// Navixy leaves the limit of `units` unsaid; a label longer than an input name helps nobody.
pub const MAX_UNITS: usize = 64;
pub const MAX_VALUE_TITLES: usize = 100;
pub const MAX_VALUE_TITLE: usize = 64;
/// Navixy says only that sensors of one `sensor_type` per tracker are limited (error 270);
/// ignition and virtual ignition are one each, other types this many.
pub const MAX_PER_TYPE: usize = 50;
/// A composite sensor reads no input of its own, so any number of them share this name.
pub const COMPOSITE_INPUT: &str = "composite";

impl SensorDef {
    pub fn kind_name(&self) -> SensorKind {
        match &self.kind {
            Kind::Metering(_) => SensorKind::Metering,
            Kind::Discrete(_) => SensorKind::Discrete,
            Kind::Virtual(_) => SensorKind::Virtual,
        }
    }

    pub fn sensor_type(&self) -> &'static str {
        match &self.kind {
            Kind::Metering(m) => m.sensor_type.as_str(),
            Kind::Discrete(d) => d.sensor_type.as_str(),
            Kind::Virtual(v) => v.sensor_type.as_str(),
        }
    }

    /// The named input it reads; discrete sensors read a numbered one instead.
    pub fn input_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Metering(m) => Some(&m.input_name),
            Kind::Discrete(_) => None,
            Kind::Virtual(v) => Some(&v.input_name),
        }
    }

    /// Only metering sensors turn raw numbers into quantities, so only they are calibrated.
    pub fn supports_calibration(&self) -> bool {
        matches!(self.kind, Kind::Metering(_))
    }

    /// How many sensors of this one's kind and `sensor_type` a tracker may have.
    pub fn max_of_type(&self) -> usize {
        match &self.kind {
            Kind::Discrete(d) if d.sensor_type == DiscreteType::Ignition => 1,
            Kind::Virtual(v) if v.sensor_type == VirtualType::VirtualIgnition => 1,
            _ => MAX_PER_TYPE,
        }
    }
}

impl Sensor {
    /// The sensor object as Navixy's API shows it.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id.0,
            "type": self.def.kind_name().as_str(),
            "sensor_type": self.def.sensor_type(),
            "name": self.def.name,
        });
        let extra: Map<String, Value> = match &self.def.kind {
            Kind::Metering(m) => {
                let mut o = Map::new();
                o.insert("input_name".into(), json!(m.input_name));
                o.insert("divider".into(), json!(m.divider));
                o.insert("accuracy".into(), json!(m.accuracy));
                o.insert("units".into(), json!(m.units));
                o.insert("units_type".into(), json!(m.units_type));
                if let Some(g) = m.group_type {
                    o.insert("group_type".into(), json!(g.as_str()));
                }
                if let Some(p) = &m.parameters {
                    o.insert("parameters".into(), to_value(p));
                }
                o
            }
            Kind::Discrete(d) => {
                let mut o = Map::new();
                o.insert("input_number".into(), json!(d.input_number));
                o
            }
            Kind::Virtual(vs) => {
                let mut o = Map::new();
                o.insert("input_name".into(), json!(vs.input_name));
                if let Some(c) = vs.custom_field_name {
                    o.insert("custom_field_name".into(), json!(c));
                }
                if let Some(p) = &vs.parameters {
                    o.insert("parameters".into(), to_value(p));
                }
                o
            }
        };
        if let Some(obj) = v.as_object_mut() {
            obj.extend(extra);
        }
        v
    }
}

/// Parameters are plain data of numbers, strings and booleans, which always serialize.
fn to_value<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Why a sensor cannot join a tracker's others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// Another metering sensor reads the same named input, or another discrete sensor the
    /// same numbered one (error 232).
    InputInUse,
    /// The tracker has as many sensors of this `sensor_type` as it may (error 270).
    TooMany,
}

/// Checks `def` against the tracker's `others` (without the sensor being updated, if any).
/// Virtual sensors may share inputs with anything: several states are often read from the
/// bits of one input, and a virtual ignition from the voltage a metering sensor also shows.
pub fn check_against(def: &SensorDef, others: &[Sensor]) -> Result<(), Conflict> {
    let in_use = others.iter().any(|o| match (&def.kind, &o.def.kind) {
        (Kind::Metering(a), Kind::Metering(b)) => {
            a.input_name == b.input_name && a.input_name != COMPOSITE_INPUT
        }
        (Kind::Discrete(a), Kind::Discrete(b)) => a.input_number == b.input_number,
        _ => false,
    });
    if in_use {
        return Err(Conflict::InputInUse);
    }
    let same_type = others
        .iter()
        .filter(|o| {
            o.def.kind_name() == def.kind_name() && o.def.sensor_type() == def.sensor_type()
        })
        .count();
    if same_type >= def.max_of_type() {
        return Err(Conflict::TooMany);
    }
    Ok(())
}

/// A sensor's current reading: the numbers of Navixy's "sensor value" object (get_readings,
/// get_fuel, get_diagnostics).
#[derive(Clone, Debug, PartialEq)]
pub struct SensorValue {
    /// The sensor's name.
    pub label: String,
    /// The input it reads.
    pub name: String,
    /// Its `sensor_type`.
    pub sensor_type: String,
    pub value: f64,
    pub units_type: String,
    pub units: String,
    /// The unit of the user's measurement system, when it differs from `units_type`.
    pub converted_units_type: Option<&'static str>,
    pub converted_value: Option<f64>,
}

impl SensorValue {
    pub fn to_json(&self) -> Value {
        json!({
            "label": self.label,
            "name": self.name,
            "type": self.sensor_type,
            "value": self.value,
            "units_type": self.units_type,
            "units": self.units,
            "converted_units_type": self.converted_units_type,
            "converted_value": self.converted_value,
        })
    }
}

/// The value of a metering or virtual sensor from a point's inputs (`io`, keyed by Navixy
/// input name), in the units of `system`. `None` when the point does not carry the input, the
/// input is not a number, the raw value is outside the sensor's `min..=max`, or the sensor is
/// discrete (its state is a bit of the point's inputs: [`discrete_state`]).
pub fn evaluate(sensor: &Sensor, io: &Readings, system: MeasurementSystem) -> Option<SensorValue> {
    let value = match &sensor.def.kind {
        Kind::Metering(m) => metering_value(m, &sensor.calibration, io)?,
        Kind::Virtual(v) => virtual_value(v, io)?,
        Kind::Discrete(_) => return None,
    };
    let (units_type, units) = match &sensor.def.kind {
        Kind::Metering(m) => (m.units_type.clone(), m.units.clone()),
        // A state has no unit to convert.
        _ => ("custom".to_owned(), String::new()),
    };
    let converted = convert(value, &units_type, system);
    Some(SensorValue {
        label: sensor.def.name.clone(),
        name: sensor.def.input_name().unwrap_or_default().to_owned(),
        sensor_type: sensor.def.sensor_type().to_owned(),
        value,
        units_type,
        units,
        converted_units_type: converted.map(|c| c.0),
        converted_value: converted.map(|c| c.1),
    })
}

/// A metering sensor's value, in its own `units_type`: raw / divider, then the calibration
/// table, then rounded to the accuracy.
pub fn metering_value(
    m: &Metering,
    calibration: &[CalibrationPoint],
    io: &Readings,
) -> Option<f64> {
    let raw = raw_number(io.get(&m.input_name)?)?;
    let params = m.parameters.as_ref();
    if params.and_then(|p| p.min).is_some_and(|min| raw < min)
        || params.and_then(|p| p.max).is_some_and(|max| raw > max)
    {
        return None;
    }
    let divided = raw / m.divider;
    let calibrated = calibrate(calibration, divided);
    Some(round_to(calibrated, m.accuracy))
}

/// A virtual sensor's value: 1 or 0 for `in_range` and `bit_index`, the input for `identity`.
pub fn virtual_value(v: &Virtual, io: &Readings) -> Option<f64> {
    let x = raw_number(io.get(&v.input_name)?)?;
    let Some(p) = &v.parameters else {
        return Some(x);
    };
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    match p.calc_method {
        CalcMethod::Identity => Some(x),
        CalcMethod::InRange => {
            let above = p.range_from.is_none_or(|from| x >= from);
            let below = p.range_to.is_none_or(|to| x <= to);
            Some(flag(above && below))
        }
        CalcMethod::BitIndex => {
            let bit = p.bit_index?.checked_sub(1)?;
            // Bits of an integer: a fractional or out-of-range input has none.
            if x.fract() != 0.0 || !(i64::MIN as f64..=i64::MAX as f64).contains(&x) {
                return None;
            }
            let n = x as i64;
            Some(flag(n.checked_shr(bit).is_some_and(|s| s & 1 == 1)))
        }
    }
}

/// The title a virtual sensor gives a value, if it has one. Titles are keyed by the value's
/// text, so 1.0 finds the title of "1".
pub fn value_title(v: &Virtual, value: f64) -> Option<&str> {
    let titles = v.parameters.as_ref()?.value_titles.as_ref()?;
    let text = number_text(value);
    titles
        .iter()
        .find(|t| t.value == text)
        .map(|t| t.title.as_str())
}

/// A discrete sensor's state from a point's digital inputs (input 1 in bit 0).
pub fn discrete_state(d: &Discrete, inputs: i64) -> bool {
    let bit = u32::from(d.input_number.saturating_sub(1));
    inputs.checked_shr(bit).is_some_and(|s| s & 1 == 1)
}

/// A reading as a number: devices report numbers, booleans (a flag input) and at times
/// numbers as text.
pub fn raw_number(v: &Value) -> Option<f64> {
    let f = match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    f.filter(|f| f.is_finite())
}

/// `x` rounded to the nearest multiple of `step`; a step of 0 keeps `x`.
pub fn round_to(x: f64, step: f64) -> f64 {
    if step > 0.0 {
        (x / step).round() * step
    } else {
        x
    }
}

/// 1.0 as "1", 1.5 as "1.5": how a value is written in `value_titles`.
fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests;
