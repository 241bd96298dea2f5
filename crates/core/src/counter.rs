//! Counters (DESIGN §3): odometer, engine hours and fuel consumed, computed from a tracker's
//! records.
//!
//! A tracker's counters are one fold over its records and its counter events (a value set, a
//! multiplier or source changed), in device-time order: [`CounterState::fold`]. Because the
//! result is a function of the *set* of items and not of when they arrived, a record that
//! arrives late is counted in its place (A->C becomes A->B->C) by folding again from a
//! checkpoint before it, and a duplicate (same tracker and time) counts once.
//!
//! Checkpoints are the history: one row per counter set and [`CounterConfig::history_interval_secs`]
//! bucket of device time, holding the state after the bucket's last item. `counter/data/read`
//! reads their values; a late record refolds from the last one before it.
//!
//! Units: the odometer is in kilometres, engine hours in hours, fuel consumed in litres.

mod engine;
mod sources;

#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use engine::{CounterState, HistoryRow, Item, Reading};
pub use sources::{IgnitionSource, Meter, Sources};

use crate::ids::TrackerId;
use crate::sensor::SensorId;

/// A counter's kind. Navixy's older pages list `fuel_consumed`; its newer ones dropped it. trackd
/// keeps it: integrators of the older API call it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CounterType {
    Odometer,
    EngineHours,
    FuelConsumed,
}

impl CounterType {
    /// In the order the API lists counters.
    pub const ALL: [CounterType; 3] = [
        CounterType::Odometer,
        CounterType::EngineHours,
        CounterType::FuelConsumed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CounterType::Odometer => "odometer",
            CounterType::EngineHours => "engine_hours",
            CounterType::FuelConsumed => "fuel_consumed",
        }
    }

    pub fn parse(s: &str) -> Option<CounterType> {
        CounterType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Its position in [`CounterType::ALL`] (and in a history row's values).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for CounterType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CounterType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CounterType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CounterType::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown counter type '{s}'")))
    }
}

/// A counter's stored settings (`counter/read`).
#[derive(Clone, Debug, PartialEq)]
pub struct Counter {
    pub id: i64,
    pub tracker_id: TrackerId,
    pub counter_type: CounterType,
    /// Applied to increments counted after it was set.
    pub multiplier: f64,
    /// The odometer's metering sensor; `None` counts GPS distance.
    pub sensor_id: Option<SensorId>,
}

/// What a user changes about a counter; the first change creates it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// `counter/value/set`: the value is this from now on; later increments add to it.
    Set { value: f64 },
    /// `counter/update`: a new multiplier (and, for the odometer, source) for later increments.
    Update {
        multiplier: f64,
        sensor_id: Option<SensorId>,
    },
}

/// A change as the counter's history keeps it: when (server time, Unix ms) and in which order
/// among changes of the same millisecond.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time: i64,
    pub seq: i64,
    pub counter_type: CounterType,
    pub change: Change,
}

/// The thresholds of the counting rules (DESIGN §3), with the defaults docs/counters.md gives.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CounterConfig {
    /// A GPS fix (or a mileage reading) further from the last counted one than this speed
    /// covers in the time between is a jump, not a drive, and is not counted.
    pub max_speed_kmh: f64,
    /// A fix at or below this speed, with no motion reported, is a parked vehicle's GPS drift
    /// and is not counted.
    pub parked_speed_kmh: f64,
    /// Engine hours by ignition: records further apart than this (the device was off line)
    /// count nothing for the time between.
    pub engine_hours_max_gap_secs: u64,
    /// Fuel by instant consumption: readings further apart than this are not integrated.
    pub fuel_max_gap_secs: u64,
    /// One recorded value per counter per this much device time (`counter/data/read`'s
    /// resolution, and how far back a late record refolds from at most).
    pub history_interval_secs: u64,
    /// A record older than the newest one counted by more than this is stored but not
    /// counted: counting it in its place refolds the history after it.
    pub max_late_secs: u64,
}

impl Default for CounterConfig {
    fn default() -> Self {
        CounterConfig {
            max_speed_kmh: 300.0,
            parked_speed_kmh: 1.0,
            engine_hours_max_gap_secs: 15 * 60,
            fuel_max_gap_secs: 15 * 60,
            history_interval_secs: 5 * 60,
            max_late_secs: 2 * 86_400,
        }
    }
}

impl CounterConfig {
    pub fn history_interval_ms(&self) -> i64 {
        i64::try_from(self.history_interval_secs.max(1).saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    pub fn engine_hours_max_gap_ms(&self) -> i64 {
        Self::ms(self.engine_hours_max_gap_secs)
    }

    pub fn fuel_max_gap_ms(&self) -> i64 {
        Self::ms(self.fuel_max_gap_secs)
    }

    pub fn max_late_ms(&self) -> i64 {
        Self::ms(self.max_late_secs)
    }

    /// The history bucket a device time falls in.
    pub fn bucket(&self, time: i64) -> i64 {
        time.div_euclid(self.history_interval_ms())
    }

    fn ms(secs: u64) -> i64 {
        i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}
