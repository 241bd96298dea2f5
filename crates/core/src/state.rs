//! A tracker's live state and the statuses derived from it (docs/state.md).
//!
//! Two halves, both pure:
//!
//! - [`TrackerState::apply`] folds one stored point into the state. Ingest runs it for every
//!   point of a batch, in time order, inside the transaction that stores the points. Each part
//!   of the state (position, GSM, battery, inputs, ...) remembers the device time it was last
//!   set at and only a strictly newer point moves it, so late history (a device emptying its
//!   memory) never overwrites what is current, and a retransmission changes nothing.
//! - [`TrackerState::connection_status`] and [`TrackerState::movement_status`] are written rules
//!   over (state, now): nothing about a status is stored, so a status changes with the clock
//!   (a silent device turns idle, then offline) without any write.
//!
//! The thresholds are settings ([`StateConfig`]), with the defaults docs/state.md gives.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::point::Point;
use crate::readings::Name;

/// The thresholds of the status rules. Times in seconds, speeds in km/h.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// Data received within this long: `active`.
    pub active_within_secs: u64,
    /// Nothing received for longer than this: `offline` (between the two: `idle`).
    pub offline_after_secs: u64,
    /// Location reports without a valid GPS fix for longer than this: `signal_lost`.
    pub signal_lost_after_secs: u64,
    /// A GPS speed at or above this is moving; below it, standing (GPS drift reads as a few
    /// km/h on a parked vehicle).
    pub moving_speed_kmh: f64,
    /// Standing this long with the ignition off (or not reported): `parked`; shorter, or with
    /// the ignition on: `stopped`. Also the stop that splits two trips in `track/list`.
    pub parking_after_secs: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            active_within_secs: 5 * 60,
            offline_after_secs: 30 * 60,
            signal_lost_after_secs: 10 * 60,
            moving_speed_kmh: 5.0,
            parking_after_secs: 5 * 60,
        }
    }
}

impl StateConfig {
    fn ms(secs: u64) -> i64 {
        i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
    pub fn active_within_ms(&self) -> i64 {
        Self::ms(self.active_within_secs)
    }
    pub fn offline_after_ms(&self) -> i64 {
        Self::ms(self.offline_after_secs)
    }
    pub fn signal_lost_after_ms(&self) -> i64 {
        Self::ms(self.signal_lost_after_secs)
    }
    pub fn parking_after_ms(&self) -> i64 {
        Self::ms(self.parking_after_secs)
    }

    /// Whether a point says the vehicle moves: a valid GPS speed decides; without one, the
    /// device's own motion flag; `None` when the point tells nothing (an invalid fix's speed
    /// is noise, and a cell-tower location has no speed worth the name).
    pub fn moving(&self, p: &Point) -> Option<bool> {
        let gps_speed = p
            .position
            .as_ref()
            .filter(|pos| pos.valid && !pos.lbs)
            .and_then(|pos| pos.speed);
        match gps_speed {
            Some(speed) => Some(speed >= self.moving_speed_kmh),
            None => p.motion,
        }
    }
}

/// A value and the device time it was reported at (Unix ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stamped<T> {
    pub value: T,
    pub time: i64,
}

/// A location as the state keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// Device time (Unix ms).
    pub time: i64,
    pub lat: f64,
    pub lng: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satellites: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hdop: Option<f64>,
}

impl Fix {
    fn of(p: &Point) -> Option<Fix> {
        p.position.as_ref().map(|pos| Fix {
            time: p.time,
            lat: pos.lat,
            lng: pos.lng,
            speed: pos.speed,
            heading: pos.heading,
            altitude: pos.altitude,
            satellites: pos.satellites,
            hdop: pos.hdop,
        })
    }
}

/// The GSM part: when the device last reported anything about its cell, and the last signal
/// level it gave.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gsm {
    pub time: i64,
    /// Percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_level: Option<i32>,
}

/// What the points said about movement. Device times (Unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Movement {
    /// The newest point that told whether the vehicle moved.
    pub time: i64,
    /// What that point said.
    pub moving: bool,
    /// The first point of the current run of moving (or of standing) points.
    pub since: i64,
    /// The newest point that said moving (`actual_track_update`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_moving: Option<i64>,
}

/// A tracker's state: the newest of everything its points reported. Device times unless a
/// field says otherwise. Stored as JSON (one row per tracker); `default` lets a field added
/// later read as its default from older rows. What was never reported is left out rather
/// than stored as `null` (both read as `None`): a commit writes a state row for each of its
/// trackers, and a smaller row fits more to a page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerState {
    /// The newest point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update: Option<i64>,
    /// The oldest point: before the first valid fix, the signal has been missing since then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_update: Option<i64>,
    /// When trackd last received a point, by its own clock (`received_at`), late history
    /// included: any data proves the device is connected, however old its content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_received: Option<i64>,
    /// The last valid GPS fix. Fixes located by GSM cells and invalid fixes never replace it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gps: Option<Fix>,
    /// The last location found from GSM cells (shown only while there is no GPS fix at all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lbs: Option<Fix>,
    /// The newest point that carried a location of any kind (valid, invalid or from cells):
    /// the device was trying to locate itself then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fix_attempt: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gsm: Option<Gsm>,
    /// Percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub battery_level: Option<Stamped<i32>>,
    /// Discrete inputs, input 1 in bit 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Stamped<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Stamped<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignition: Option<Stamped<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware_key: Option<Stamped<String>>,
    /// The newest value of each reading, by Navixy input name (CAN, OBD, analog, ...).
    pub io: BTreeMap<Name, Stamped<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub movement: Option<Movement>,
}

/// `connection_status` of the state object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionStatus {
    JustRegistered,
    JustReplaced,
    Active,
    Idle,
    Offline,
    SignalLost,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::JustRegistered => "just_registered",
            ConnectionStatus::JustReplaced => "just_replaced",
            ConnectionStatus::Active => "active",
            ConnectionStatus::Idle => "idle",
            ConnectionStatus::Offline => "offline",
            ConnectionStatus::SignalLost => "signal_lost",
        }
    }
}

/// `movement_status` of the state object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MovementStatus {
    Moving,
    Stopped,
    Parked,
}

impl MovementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MovementStatus::Moving => "moving",
            MovementStatus::Stopped => "stopped",
            MovementStatus::Parked => "parked",
        }
    }
}

/// Whether a point at `time` is newer than what was set at `set_at` (nothing set: newer).
fn newer(time: i64, set_at: Option<i64>) -> bool {
    set_at.is_none_or(|t| time > t)
}

/// Sets `slot` to `value` at `time` unless what it holds is as new or newer.
fn stamp<T>(slot: &mut Option<Stamped<T>>, value: Option<T>, time: i64) {
    if let Some(value) = value {
        if newer(time, slot.as_ref().map(|s| s.time)) {
            *slot = Some(Stamped { value, time });
        }
    }
}

impl TrackerState {
    /// Folds one point in. Points may come in any order; each part of the state keeps the
    /// newest by device time, so applying the same points in another order gives the same
    /// state, except for movement runs, which follow arrival order among the new points.
    pub fn apply(&mut self, p: &Point, config: &StateConfig) {
        let t = p.time;
        self.last_received = Some(
            self.last_received
                .map_or(p.received_at, |r| r.max(p.received_at)),
        );
        self.first_update = Some(self.first_update.map_or(t, |f| f.min(t)));
        if newer(t, self.last_update) {
            self.last_update = Some(t);
        }
        if let (Some(pos), Some(fix)) = (&p.position, Fix::of(p)) {
            if newer(t, self.last_fix_attempt) {
                self.last_fix_attempt = Some(t);
            }
            let slot = if pos.lbs {
                Some(&mut self.lbs)
            } else if pos.valid {
                Some(&mut self.gps)
            } else {
                None
            };
            if let Some(slot) = slot {
                if newer(t, slot.map(|f| f.time)) {
                    *slot = Some(fix);
                }
            }
        }
        if (p.gsm_signal.is_some() || p.gsm_cell.is_some()) && newer(t, self.gsm.map(|g| g.time)) {
            let previous = self.gsm.and_then(|g| g.signal_level);
            self.gsm = Some(Gsm {
                time: t,
                signal_level: p.gsm_signal.or(previous),
            });
        }
        stamp(&mut self.battery_level, p.battery_level, t);
        stamp(&mut self.inputs, p.inputs, t);
        stamp(&mut self.outputs, p.outputs, t);
        stamp(&mut self.ignition, p.ignition, t);
        stamp(&mut self.hardware_key, p.hardware_key.clone(), t);
        for (name, value) in &p.io {
            // A reading the state holds already is updated in place: its name is not
            // allocated again for every point (the writer applies every point it commits).
            match self.io.get_mut(name.as_ref()) {
                Some(slot) => {
                    if newer(t, Some(slot.time)) {
                        slot.value = value.clone();
                        slot.time = t;
                    }
                }
                None => {
                    let stamped = Stamped {
                        value: value.clone(),
                        time: t,
                    };
                    self.io.insert(name.clone(), stamped);
                }
            }
        }
        if let Some(moving) = config.moving(p) {
            self.move_to(moving, t);
        }
    }

    fn move_to(&mut self, moving: bool, t: i64) {
        let Some(m) = self.movement.as_mut() else {
            self.movement = Some(Movement {
                time: t,
                moving,
                since: t,
                last_moving: moving.then_some(t),
            });
            return;
        };
        // Late history: the run it belonged to is over.
        if t <= m.time {
            return;
        }
        if m.moving != moving {
            m.since = t;
        }
        m.moving = moving;
        m.time = t;
        if moving {
            m.last_moving = Some(t);
        }
    }

    /// `connection_status` at `now` (Unix ms, trackd's clock); `replaced_at` is when the
    /// tracker last got a new device.
    ///
    /// 1. `just_replaced`: replaced, and nothing received since.
    /// 2. `just_registered`: nothing ever received.
    /// 3. `offline`: nothing received for longer than `offline_after`.
    /// 4. `signal_lost`: the newest location report is more than `signal_lost_after` newer
    ///    than the last valid GPS fix (or, before any fix, than the first point).
    /// 5. `active`: something received within `active_within`.
    /// 6. `idle`: otherwise.
    pub fn connection_status(
        &self,
        replaced_at: Option<i64>,
        now: i64,
        config: &StateConfig,
    ) -> ConnectionStatus {
        let received = match (self.last_received, replaced_at) {
            (Some(r), Some(replaced)) if r < replaced => return ConnectionStatus::JustReplaced,
            (None, Some(_)) => return ConnectionStatus::JustReplaced,
            (None, None) => return ConnectionStatus::JustRegistered,
            (Some(r), _) => r,
        };
        let silent = now.saturating_sub(received);
        if silent > config.offline_after_ms() {
            ConnectionStatus::Offline
        } else if self.signal_lost(config) {
            ConnectionStatus::SignalLost
        } else if silent <= config.active_within_ms() {
            ConnectionStatus::Active
        } else {
            ConnectionStatus::Idle
        }
    }

    fn signal_lost(&self, config: &StateConfig) -> bool {
        let Some(attempt) = self.last_fix_attempt else {
            // A device that never sends locations (heartbeats only) has no signal to lose.
            return false;
        };
        let since = match (self.gps, self.first_update) {
            (Some(fix), _) => fix.time,
            (None, Some(first)) => first,
            (None, None) => return false,
        };
        attempt.saturating_sub(since) > config.signal_lost_after_ms()
    }

    /// `movement_status` at `now` and the time it began (`movement_status_update`).
    ///
    /// 1. `moving`: the newest movement report says moving and the device is not offline.
    /// 2. Otherwise the vehicle stands since the first standing report of the current run (or,
    ///    if it went offline while moving, since its last moving report):
    ///    `stopped` while the ignition is on (as last reported by a device not offline) or
    ///    for less than `parking_after`; `parked` after that.
    /// 3. No movement report at all: `parked`, with no time.
    pub fn movement_status(&self, now: i64, config: &StateConfig) -> (MovementStatus, Option<i64>) {
        let Some(m) = self.movement else {
            return (MovementStatus::Parked, None);
        };
        let connected = self
            .last_received
            .is_some_and(|r| now.saturating_sub(r) <= config.offline_after_ms());
        if m.moving && connected {
            return (MovementStatus::Moving, Some(m.since));
        }
        let stop_since = if m.moving {
            m.last_moving.unwrap_or(m.time)
        } else {
            m.since
        };
        // An offline device's last ignition report says nothing about now.
        let ignition_on = connected && self.ignition.as_ref().is_some_and(|i| i.value);
        if ignition_on || now.saturating_sub(stop_since) < config.parking_after_ms() {
            (MovementStatus::Stopped, Some(stop_since))
        } else {
            (MovementStatus::Parked, Some(stop_since))
        }
    }

    /// When the vehicle last moved (`actual_track_update`).
    pub fn last_moved(&self) -> Option<i64> {
        self.movement.and_then(|m| m.last_moving)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::{GsmCell, Position};
    use crate::TrackerId;
    use serde_json::json;

    const T0: i64 = 1_700_000_000_000;
    const MIN: i64 = 60_000;

    fn cfg() -> StateConfig {
        StateConfig::default()
    }

    /// A point at `T0 + minutes`, received when it was taken.
    fn at(minutes: i64) -> Point {
        let t = T0 + minutes * MIN;
        Point::empty(TrackerId(1), t, t)
    }

    fn position(lat: f64, speed: f64, valid: bool, lbs: bool) -> Position {
        Position {
            lat,
            lng: 13.4,
            altitude: Some(35.0),
            speed: Some(speed),
            heading: Some(90.0),
            satellites: Some(if valid { 9 } else { 0 }),
            hdop: None,
            valid,
            lbs,
        }
    }

    fn fix(minutes: i64, speed: f64) -> Point {
        let mut p = at(minutes);
        p.position = Some(position(52.5, speed, true, false));
        p
    }

    fn state(points: &[Point]) -> TrackerState {
        let mut s = TrackerState::default();
        for p in points {
            s.apply(p, &cfg());
        }
        s
    }

    fn now(minutes: i64) -> i64 {
        T0 + minutes * MIN
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = cfg();
        assert_eq!(
            (
                c.active_within_secs,
                c.offline_after_secs,
                c.signal_lost_after_secs,
                c.moving_speed_kmh,
                c.parking_after_secs
            ),
            (300, 1800, 600, 5.0, 300)
        );
    }

    #[test]
    fn no_data_is_just_registered_and_parked() {
        let s = TrackerState::default();
        assert_eq!(
            s.connection_status(None, now(0), &cfg()),
            ConnectionStatus::JustRegistered
        );
        assert_eq!(
            s.movement_status(now(0), &cfg()),
            (MovementStatus::Parked, None)
        );
        assert_eq!(s.last_moved(), None);
    }

    #[test]
    fn active_idle_offline_by_the_time_since_data_arrived() {
        let s = state(&[fix(0, 0.0)]);
        let c = cfg();
        let status = |m: i64| s.connection_status(None, now(m), &c);
        assert_eq!(status(0), ConnectionStatus::Active);
        assert_eq!(status(5), ConnectionStatus::Active, "5 min is still active");
        assert_eq!(status(6), ConnectionStatus::Idle);
        assert_eq!(status(30), ConnectionStatus::Idle, "30 min is still idle");
        assert_eq!(status(31), ConnectionStatus::Offline);
    }

    #[test]
    fn late_history_proves_the_device_connected() {
        let mut s = state(&[fix(10, 0.0)]);
        let mut old = fix(0, 0.0);
        old.received_at = now(60);
        s.apply(&old, &cfg());
        assert_eq!(s.last_received, Some(now(60)));
        assert_eq!(s.last_update, Some(now(10)), "but moves nothing else");
        assert_eq!(
            s.connection_status(None, now(61), &cfg()),
            ConnectionStatus::Active
        );
    }

    #[test]
    fn replaced_until_new_data() {
        let mut s = state(&[fix(0, 0.0)]);
        let c = cfg();
        assert_eq!(
            s.connection_status(Some(now(1)), now(2), &c),
            ConnectionStatus::JustReplaced
        );
        assert_eq!(
            TrackerState::default().connection_status(Some(now(1)), now(2), &c),
            ConnectionStatus::JustReplaced
        );
        s.apply(&fix(3, 0.0), &c);
        assert_eq!(
            s.connection_status(Some(now(1)), now(3), &c),
            ConnectionStatus::Active
        );
    }

    #[test]
    fn signal_lost_when_locations_come_without_a_fix() {
        let c = cfg();
        let mut s = state(&[fix(0, 30.0)]);
        let mut no_fix = |m: i64| {
            let mut p = at(m);
            p.position = Some(position(52.5, 0.0, false, false));
            s.apply(&p, &c);
            s.connection_status(None, now(m), &c)
        };
        assert_eq!(no_fix(5), ConnectionStatus::Active, "a short gap is normal");
        assert_eq!(no_fix(10), ConnectionStatus::Active, "10 min is the limit");
        assert_eq!(no_fix(11), ConnectionStatus::SignalLost);
        assert_eq!(s.gps.map(|g| g.time), Some(now(0)), "the last fix stays");
        // A valid fix ends it.
        s.apply(&fix(12, 30.0), &c);
        assert_eq!(
            s.connection_status(None, now(12), &c),
            ConnectionStatus::Active
        );
    }

    #[test]
    fn signal_lost_gives_way_to_offline_and_idle_keeps_it() {
        let c = cfg();
        let mut p = at(20);
        p.position = Some(position(52.5, 0.0, false, false));
        let s = state(&[fix(0, 0.0), p]);
        assert_eq!(
            s.connection_status(None, now(40), &c),
            ConnectionStatus::SignalLost,
            "still connected (idle), still no fix"
        );
        assert_eq!(
            s.connection_status(None, now(51), &c),
            ConnectionStatus::Offline
        );
    }

    #[test]
    fn signal_lost_before_any_fix_counts_from_the_first_point() {
        let c = cfg();
        let invalid = |m: i64| {
            let mut p = at(m);
            p.position = Some(position(0.0, 0.0, false, false));
            p
        };
        let s = state(&[invalid(0), invalid(5)]);
        assert_eq!(
            s.connection_status(None, now(5), &c),
            ConnectionStatus::Active
        );
        let s = state(&[invalid(0), invalid(11)]);
        assert_eq!(
            s.connection_status(None, now(11), &c),
            ConnectionStatus::SignalLost
        );
    }

    #[test]
    fn heartbeats_without_location_lose_no_signal() {
        let c = cfg();
        let s = state(&[fix(0, 0.0), at(20), at(25)]);
        assert_eq!(
            s.connection_status(None, now(25), &c),
            ConnectionStatus::Active
        );
        assert_eq!(s.last_update, Some(now(25)));
    }

    #[test]
    fn gsm_located_and_invalid_points_never_replace_the_gps_fix() {
        let mut lbs = at(5);
        lbs.position = Some(position(48.0, 0.0, true, true));
        let mut invalid = at(6);
        invalid.position = Some(position(47.0, 0.0, false, false));
        let s = state(&[fix(0, 12.0), lbs, invalid]);
        let gps = s.gps.expect("gps");
        assert_eq!((gps.time, gps.lat, gps.speed), (now(0), 52.5, Some(12.0)));
        assert_eq!(s.lbs.map(|f| (f.time, f.lat)), Some((now(5), 48.0)));
        assert_eq!(s.last_fix_attempt, Some(now(6)));
    }

    #[test]
    fn a_cell_location_is_a_fix_attempt_without_a_fix() {
        let c = cfg();
        let mut lbs = at(15);
        lbs.position = Some(position(48.0, 0.0, true, true));
        let s = state(&[fix(0, 0.0), lbs]);
        assert_eq!(
            s.connection_status(None, now(15), &c),
            ConnectionStatus::SignalLost
        );
    }

    #[test]
    fn a_newer_reading_replaces_the_one_held_and_an_equal_time_does_not() {
        let mut first = fix(10, 50.0);
        first.io.insert("can_rpm", json!(2000));
        let mut same_time = fix(10, 50.0);
        same_time.io.insert("can_rpm", json!(900));
        let mut newer = fix(20, 50.0);
        newer.io.insert("can_rpm", json!(2500));
        let s = state(&[first.clone(), same_time.clone()]);
        assert_eq!(
            (&s.io["can_rpm"].value, s.io["can_rpm"].time),
            (&json!(2000), now(10))
        );
        let s = state(&[first, same_time, newer]);
        assert_eq!(
            (&s.io["can_rpm"].value, s.io["can_rpm"].time),
            (&json!(2500), now(20))
        );
        assert_eq!(s.io.len(), 1);
    }

    #[test]
    fn only_newer_points_move_each_part() {
        let mut newest = fix(10, 50.0);
        newest.battery_level = Some(80);
        newest.ignition = Some(true);
        newest.io.insert("can_rpm", json!(2000));
        let mut late = fix(5, 0.0);
        late.position = Some(position(10.0, 0.0, true, false));
        late.battery_level = Some(20);
        late.ignition = Some(false);
        late.inputs = Some(0b101);
        late.io.insert("can_rpm", json!(700));
        late.io.insert("obd_vin", json!("VIN1"));
        let s = state(&[newest.clone(), late.clone()]);
        assert_eq!(s.last_update, Some(now(10)));
        assert_eq!(s.gps.map(|g| g.lat), Some(52.5));
        assert_eq!(s.battery_level.as_ref().map(|b| b.value), Some(80));
        assert_eq!(s.ignition.as_ref().map(|i| i.value), Some(true));
        assert_eq!(s.io["can_rpm"].value, json!(2000));
        // What the newest point did not report, the late one may still fill in.
        assert_eq!(
            s.inputs.as_ref().map(|i| (i.value, i.time)),
            Some((0b101, now(5)))
        );
        assert_eq!(s.io["obd_vin"].value, json!("VIN1"));
        assert_eq!(
            s.movement.map(|m| m.moving),
            Some(true),
            "late history stays history"
        );
        assert_eq!(s.first_update, Some(now(5)));
        // The other order gives the same state.
        assert_eq!(state(&[late, newest]).gps, s.gps);
    }

    #[test]
    fn retransmissions_change_nothing() {
        let c = cfg();
        let mut p = fix(0, 20.0);
        p.battery_level = Some(50);
        let once = state(&[p.clone()]);
        let mut twice = once.clone();
        let mut again = p.clone();
        again.battery_level = Some(10);
        twice.apply(&again, &c);
        assert_eq!(twice, once);
    }

    #[test]
    fn gsm_keeps_the_last_signal_level() {
        let mut a = at(0);
        a.gsm_signal = Some(80);
        let mut b = at(1);
        b.gsm_cell = Some(GsmCell {
            mcc: 262,
            mnc: 1,
            lac: 2,
            cell_id: 3,
        });
        let s = state(&[a, b]);
        assert_eq!(
            s.gsm,
            Some(Gsm {
                time: now(1),
                signal_level: Some(80)
            })
        );
    }

    #[test]
    fn moving_then_stopped_then_parked() {
        let c = cfg();
        let s = state(&[fix(0, 40.0), fix(1, 60.0)]);
        assert_eq!(
            s.movement_status(now(1), &c),
            (MovementStatus::Moving, Some(now(0)))
        );
        let s = state(&[fix(0, 40.0), fix(1, 60.0), fix(2, 0.0), fix(3, 1.0)]);
        assert_eq!(
            s.movement_status(now(3), &c),
            (MovementStatus::Stopped, Some(now(2))),
            "standing since the first standing report"
        );
        assert_eq!(
            s.movement_status(now(6), &c),
            (MovementStatus::Stopped, Some(now(2))),
            "4 min is a stop"
        );
        assert_eq!(
            s.movement_status(now(7), &c),
            (MovementStatus::Parked, Some(now(2))),
            "5 min is parking"
        );
        assert_eq!(s.last_moved(), Some(now(1)));
    }

    #[test]
    fn ignition_on_keeps_a_stop_from_becoming_parking() {
        let c = cfg();
        let mut standing = fix(2, 0.0);
        standing.ignition = Some(true);
        let s = state(&[fix(0, 40.0), standing.clone()]);
        assert_eq!(s.movement_status(now(20), &c).0, MovementStatus::Stopped);
        // Offline, the old ignition report no longer counts.
        assert_eq!(s.movement_status(now(40), &c).0, MovementStatus::Parked);
        let mut off = fix(3, 0.0);
        off.ignition = Some(false);
        let s = state(&[fix(0, 40.0), standing, off]);
        assert_eq!(
            s.movement_status(now(20), &c),
            (MovementStatus::Parked, Some(now(2)))
        );
    }

    #[test]
    fn moving_again_starts_a_new_run() {
        let c = cfg();
        let s = state(&[fix(0, 40.0), fix(1, 0.0), fix(20, 30.0)]);
        assert_eq!(
            s.movement_status(now(20), &c),
            (MovementStatus::Moving, Some(now(20)))
        );
    }

    #[test]
    fn a_device_gone_offline_while_moving_stands_since_it_was_last_seen_moving() {
        let c = cfg();
        let s = state(&[fix(0, 40.0), fix(1, 50.0)]);
        assert_eq!(s.movement_status(now(31), &c).0, MovementStatus::Moving);
        assert_eq!(
            s.movement_status(now(32), &c),
            (MovementStatus::Parked, Some(now(1)))
        );
    }

    #[test]
    fn motion_flag_counts_only_without_a_gps_speed() {
        let c = cfg();
        let mut p = at(0);
        p.motion = Some(true);
        assert_eq!(c.moving(&p), Some(true));
        p.position = Some(position(1.0, 0.0, true, false));
        assert_eq!(c.moving(&p), Some(false), "the GPS speed decides");
        p.position = Some(position(1.0, 80.0, false, false));
        assert_eq!(
            c.moving(&p),
            Some(true),
            "an invalid fix's speed is ignored"
        );
        p.motion = None;
        assert_eq!(c.moving(&p), None);
        assert_eq!(
            c.moving(&fix(0, 4.9)),
            Some(false),
            "below the threshold is drift"
        );
        assert_eq!(c.moving(&fix(0, 5.0)), Some(true));
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut p = fix(0, 30.0);
        p.hardware_key = Some("AB12".into());
        p.io.insert("obd_vin", json!("WVW"));
        p.inputs = Some(3);
        let s = state(&[p]);
        let text = serde_json::to_string(&s).expect("json");
        let back: TrackerState = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, s);
        let empty: TrackerState = serde_json::from_str("{}").expect("parse");
        assert_eq!(empty, TrackerState::default());
    }

    #[test]
    fn what_was_never_reported_is_left_out_and_old_rows_with_nulls_still_read() {
        let mut p = fix(0, 30.0);
        p.ignition = Some(true);
        let s = state(&[p]);
        let text = serde_json::to_string(&s).expect("json");
        assert_eq!(
            text,
            format!(
                concat!(
                    r#"{{"last_update":{t},"first_update":{t},"last_received":{t},"#,
                    r#""gps":{{"time":{t},"lat":52.5,"lng":13.4,"speed":30.0,"heading":90.0,"#,
                    r#""altitude":35.0,"satellites":9}},"#,
                    r#""last_fix_attempt":{t},"ignition":{{"value":true,"time":{t}}},"io":{{}},"#,
                    r#""movement":{{"time":{t},"moving":true,"since":{t},"last_moving":{t}}}}}"#
                ),
                t = now(0)
            )
        );
        let with_nulls = text
            .replace(r#""satellites":9"#, r#""satellites":9,"hdop":null"#)
            .replace(r#""io":{}"#, r#""gsm":null,"battery_level":null,"io":{}"#);
        let back: TrackerState = serde_json::from_str(&with_nulls).expect("parse");
        assert_eq!(back, s);
    }

    #[test]
    fn config_reads_partial_toml_like_json() {
        let c: StateConfig =
            serde_json::from_value(json!({"parking_after_secs": 120})).expect("config");
        assert_eq!(c.parking_after_ms(), 120_000);
        assert_eq!(c.offline_after_ms(), 1_800_000);
        assert!(serde_json::from_value::<StateConfig>(json!({"nope": 1})).is_err());
    }
}
