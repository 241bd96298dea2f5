//! The fold: a tracker's counter state moved by one record or one change at a time, in
//! device-time order.

use serde::{Deserialize, Serialize};

use super::{Change, CounterConfig, CounterType, Event, Sources};
use crate::point::Point;
use crate::sensor::SensorId;
use crate::track::distance_km;

/// A fix error this large is GPS noise at any speed: a jump must exceed it as well as the
/// speed limit (1 s between two fixes 50 m apart is 180 km/h, and that is not a jump).
const JUMP_SLACK_KM: f64 = 0.1;
/// A mileage reading may step this much more than the speed limit allows: many buses report
/// whole kilometres, and a step of one read a second after the last is not a glitch.
const MILEAGE_SLACK_KM: f64 = 1.0;
/// A cumulative hours reading may advance this much more than the clock did: CAN engine
/// hours often come in whole hours.
const HOURS_SLACK: f64 = 1.0;
/// A cumulative fuel reading rising faster than this is a glitch: no tracked engine burns
/// that much (a large mining truck burns a few hundred litres an hour).
const MAX_FUEL_LPH: f64 = 1000.0;
/// A cumulative fuel reading may step this much at once: sensors in whole litres.
const FUEL_SLACK_L: f64 = 1.0;
const MS_PER_HOUR: f64 = 3_600_000.0;

/// What the fold takes, in the order it takes them: by time; at one time records before
/// changes (a change made at 12:00 applies to what follows 12:00); changes by `seq`.
#[derive(Clone, Copy, Debug)]
pub enum Item<'a> {
    Point(&'a Point),
    Event(&'a Event),
}

impl Item<'_> {
    /// The fold's order. Two records of one time are the same record.
    pub fn key(&self) -> (i64, u8, i64) {
        match self {
            Item::Point(p) => (p.time, 0, 0),
            Item::Event(e) => (e.time, 1, e.seq),
        }
    }
}

/// One counter's part of the state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Created (by a first value set or update): a counter that does not exist counts nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exists: bool,
    pub multiplier: f64,
    /// The odometer's metering sensor; `None` counts GPS distance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_id: Option<SensorId>,
    /// `None` until set or first counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The time of the last record or change that gave it a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<i64>,
}

impl Default for Reading {
    fn default() -> Self {
        Reading {
            exists: false,
            multiplier: 1.0,
            sensor_id: None,
            value: None,
            update_time: None,
        }
    }
}

impl Reading {
    /// Adds an increment counted at `time` (raw units, before the multiplier).
    fn count(&mut self, increment: f64, time: i64) {
        if !self.exists {
            return;
        }
        self.value = Some(self.value.unwrap_or(0.0) + increment * self.multiplier);
        self.update_time = Some(time);
    }

    /// The value, if the counter exists and has one.
    pub fn current(&self) -> Option<(f64, i64)> {
        if !self.exists {
            return None;
        }
        Some((self.value?, self.update_time.unwrap_or_default()))
    }
}

/// A position counted from (device time, lat, lng).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Anchor {
    time: i64,
    lat: f64,
    lng: f64,
    /// The fix was a stop (no motion, no speed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    parked: bool,
}

/// A sample of a source: (device time, value).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Sample {
    time: i64,
    value: f64,
}

/// A cumulative source's state: the reading counted from, and a later one that rose too far
/// from it to be believed yet (a glitch, or the first reading of a new, higher base).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Cumulative {
    last: Sample,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    glitch: Option<Sample>,
}

/// A tracker's counters and what the next record is counted from. Serialized as the stored
/// counter state and each history checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CounterState {
    /// The key of the last item folded ([`Item::key`]); items at or before it are not folded
    /// again.
    pub last: (i64, u8, i64),
    /// By [`CounterType::index`].
    pub readings: [Reading; 3],
    /// The last counted GPS fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gps: Option<Anchor>,
    /// A fix that was a jump from `gps`: if the next fix is a plausible drive from it, the
    /// anchor was the bad one (a bogus fix, or the vehicle was carried) and counting goes on
    /// from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jumped: Option<Anchor>,
    /// The odometer sensor's last reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mileage: Option<Cumulative>,
    /// The last ignition report (1 on, 0 off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ignition: Option<Sample>,
    /// The engine-hours sensor's last reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hours: Option<Cumulative>,
    /// The cumulative fuel sensor's last reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fuel_total: Option<Cumulative>,
    /// The instant fuel sensor's last reading (litres per hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fuel_rate: Option<Sample>,
}

impl Default for CounterState {
    fn default() -> Self {
        CounterState {
            last: (i64::MIN, 0, 0),
            readings: Default::default(),
            gps: None,
            jumped: None,
            mileage: None,
            ignition: None,
            hours: None,
            fuel_total: None,
            fuel_rate: None,
        }
    }
}

/// A checkpoint: the state after the last item of one history bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRow {
    pub bucket: i64,
    /// The device time of the bucket's last item.
    pub time: i64,
    /// Each counter's value then, by [`CounterType::index`]; `None` where it had none.
    pub values: [Option<f64>; 3],
    pub state: CounterState,
}

impl CounterState {
    pub fn reading(&self, t: CounterType) -> &Reading {
        &self.readings[t.index()]
    }

    fn reading_mut(&mut self, t: CounterType) -> &mut Reading {
        &mut self.readings[t.index()]
    }

    /// The device time of the last item folded; `None` before any.
    pub fn time(&self) -> Option<i64> {
        (self.last.0 != i64::MIN).then_some(self.last.0)
    }

    /// This state as a checkpoint of its bucket.
    pub fn checkpoint(&self, config: &CounterConfig) -> Option<HistoryRow> {
        let time = self.time()?;
        Some(HistoryRow {
            bucket: config.bucket(time),
            time,
            values: CounterType::ALL.map(|t| self.reading(t).current().map(|(v, _)| v)),
            state: self.clone(),
        })
    }

    /// Folds `items` (sorted by [`Item::key`]) into the state. Items at or before the last one
    /// folded are skipped: a duplicate counts once, and a late item needs a fold from a
    /// checkpoint before it (the caller's part). Returns the checkpoint of every bucket an
    /// item moved on from, oldest first; the current bucket's is the state itself.
    pub fn fold<'a>(
        &mut self,
        items: impl IntoIterator<Item = Item<'a>>,
        sources: &Sources,
        config: &CounterConfig,
    ) -> Vec<HistoryRow> {
        let mut rows = Vec::new();
        for item in items {
            let key = item.key();
            if key <= self.last {
                continue;
            }
            if let Some(time) = self.time() {
                if config.bucket(time) != config.bucket(key.0) {
                    rows.extend(self.checkpoint(config));
                }
            }
            match item {
                Item::Point(p) => self.apply_point(p, sources, config),
                Item::Event(e) => self.apply_event(e),
            }
            self.last = key;
        }
        rows
    }

    fn apply_event(&mut self, e: &Event) {
        let odometer = e.counter_type == CounterType::Odometer;
        let r = self.reading_mut(e.counter_type);
        r.exists = true;
        match &e.change {
            Change::Set { value } => {
                r.value = Some(*value);
                r.update_time = Some(e.time);
            }
            Change::Update {
                multiplier,
                sensor_id,
            } => {
                r.multiplier = *multiplier;
                let source_changed = r.sensor_id != *sensor_id;
                if odometer {
                    r.sensor_id = *sensor_id;
                }
                // A new source counts from its own next reading, not from the old one's.
                if odometer && source_changed {
                    self.gps = None;
                    self.jumped = None;
                    self.mileage = None;
                }
            }
        }
    }

    fn apply_point(&mut self, p: &Point, sources: &Sources, config: &CounterConfig) {
        self.odometer(p, sources, config);
        self.engine_hours(p, sources, config);
        self.fuel(p, sources, config);
    }

    fn odometer(&mut self, p: &Point, sources: &Sources, config: &CounterConfig) {
        let odometer = CounterType::Odometer;
        match self.reading(odometer).sensor_id {
            None => {
                if let Some(km) = self.gps_distance(p, config) {
                    self.reading_mut(odometer).count(km, p.time);
                }
            }
            Some(id) => {
                let Some(km) = sources.meters.get(&id).and_then(|m| m.read(&p.io)) else {
                    return;
                };
                let limit = |hours: f64| config.max_speed_kmh * hours + MILEAGE_SLACK_KM;
                let increment = cumulative(&mut self.mileage, p.time, km, limit);
                self.reading_mut(odometer).count(increment, p.time);
            }
        }
    }

    /// The distance a fix adds; `None` for a record that is not a counted fix.
    fn gps_distance(&mut self, p: &Point, config: &CounterConfig) -> Option<f64> {
        let pos = p.position.as_ref().filter(|pos| pos.valid && !pos.lbs)?;
        if !pos.lat.is_finite() || !pos.lng.is_finite() {
            return None;
        }
        let moving =
            p.motion == Some(true) || pos.speed.is_some_and(|s| s > config.parked_speed_kmh);
        let parked = !moving && (p.motion == Some(false) || pos.speed.is_some());
        let here = Anchor {
            time: p.time,
            lat: pos.lat,
            lng: pos.lng,
            parked,
        };
        let Some(from) = self.gps else {
            self.gps = Some(here);
            return Some(0.0);
        };
        if parked && from.parked {
            // The anchor stays where the vehicle stopped: the way there was counted by the
            // first stopped fix, the next movement is counted from there, and the drift
            // around it never is. Its time is the last stopped fix's: a long stop must not
            // make a jump from it plausible (a bogus fix the vehicle seemed to stop at,
            // contradicted by hours of fixes elsewhere, followed by a drive).
            self.gps = Some(Anchor {
                time: here.time,
                ..from
            });
            return Some(0.0);
        }
        let plausible = |a: &Anchor| {
            let km = distance_km((a.lat, a.lng), (here.lat, here.lng));
            let hours = hours_between(a.time, here.time);
            (km <= config.max_speed_kmh * hours + JUMP_SLACK_KM).then_some(km)
        };
        if let Some(km) = plausible(&from) {
            self.gps = Some(here);
            self.jumped = None;
            return Some(km);
        }
        match self.jumped.as_ref().and_then(plausible) {
            Some(km) => {
                self.gps = Some(here);
                self.jumped = None;
                Some(km)
            }
            None => {
                self.jumped = Some(here);
                None
            }
        }
    }

    fn engine_hours(&mut self, p: &Point, sources: &Sources, config: &CounterConfig) {
        let engine_hours = CounterType::EngineHours;
        if let Some(meter) = &sources.engine_hours {
            let Some(hours) = meter.read(&p.io) else {
                return;
            };
            let increment = cumulative(&mut self.hours, p.time, hours, |h| h + HOURS_SLACK);
            self.reading_mut(engine_hours).count(increment, p.time);
            return;
        }
        let Some(on) = sources.ignition(p) else {
            return;
        };
        let now = Sample {
            time: p.time,
            value: if on { 1.0 } else { 0.0 },
        };
        let increment = match step(&mut self.ignition, now, config.engine_hours_max_gap_ms()) {
            Some((before, hours)) if on && before.value == 1.0 => hours,
            _ => 0.0,
        };
        self.reading_mut(engine_hours).count(increment, p.time);
    }

    fn fuel(&mut self, p: &Point, sources: &Sources, config: &CounterConfig) {
        let fuel = CounterType::FuelConsumed;
        if let Some(meter) = &sources.fuel_total {
            let Some(litres) = meter.read(&p.io) else {
                return;
            };
            let limit = |hours: f64| MAX_FUEL_LPH * hours + FUEL_SLACK_L;
            let increment = cumulative(&mut self.fuel_total, p.time, litres, limit);
            self.reading_mut(fuel).count(increment, p.time);
            return;
        }
        let Some(meter) = &sources.fuel_rate else {
            return;
        };
        let Some(rate) = meter.read(&p.io).filter(|r| *r >= 0.0) else {
            return;
        };
        let now = Sample {
            time: p.time,
            value: rate,
        };
        let increment = match step(&mut self.fuel_rate, now, config.fuel_max_gap_ms()) {
            Some((before, hours)) => (before.value + rate) / 2.0 * hours,
            None => 0.0,
        };
        self.reading_mut(fuel).count(increment, p.time);
    }
}

/// Hours from one device time (Unix ms) to a later one.
fn hours_between(from: i64, to: i64) -> f64 {
    (to - from) as f64 / MS_PER_HOUR
}

/// Replaces the sample `last` holds with `now`; the one it held and the hours since, if it is
/// at most `max_gap_ms` older (a longer gap, the device off line, spans nothing).
fn step(last: &mut Option<Sample>, now: Sample, max_gap_ms: i64) -> Option<(Sample, f64)> {
    let before = last.replace(now)?;
    (now.time - before.time <= max_gap_ms).then(|| (before, hours_between(before.time, now.time)))
}

/// The increment of a cumulative reading over the one counted from (in `state`, which it
/// moves on). A drop (the device or its bus reset) adds nothing and counting goes on from the
/// new value. A rise beyond `limit(hours elapsed)` adds nothing either and is held as a
/// glitch: the next reading counts from the last good one if it is a plausible rise from it
/// (the glitch was one bad reading), or from the glitch if it is a plausible rise from that
/// (the sensor moved to a higher base).
fn cumulative(
    state: &mut Option<Cumulative>,
    time: i64,
    value: f64,
    limit: impl Fn(f64) -> f64,
) -> f64 {
    let now = Sample { time, value };
    let rise_from = |from: Sample| {
        let rise = value - from.value;
        let hours = hours_between(from.time, time);
        (rise >= 0.0 && rise <= limit(hours)).then_some(rise)
    };
    let rebase = Some(Cumulative {
        last: now,
        glitch: None,
    });
    let Some(c) = state.as_mut() else {
        *state = rebase;
        return 0.0;
    };
    if value < c.last.value {
        *state = rebase;
        return 0.0;
    }
    match rise_from(c.last).or_else(|| c.glitch.and_then(rise_from)) {
        Some(rise) => {
            *state = rebase;
            rise
        }
        None => {
            c.glitch = Some(now);
            0.0
        }
    }
}
