//! A stored point: one record of one tracker at one time, as ingest derived it from what a
//! device sent. Points are keyed by (tracker, time): a retransmitted record is the same point.

use crate::ids::TrackerId;
use crate::readings::Readings;

#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub tracker_id: TrackerId,
    /// When the device took the reading (Unix ms, UTC); the receive time when the device sent
    /// none.
    pub time: i64,
    /// When trackd received it (Unix ms).
    pub received_at: i64,
    pub position: Option<Position>,
    pub ignition: Option<bool>,
    pub motion: Option<bool>,
    /// Percent.
    pub battery_level: Option<i32>,
    /// Discrete inputs, input 1 in bit 0.
    pub inputs: Option<i64>,
    pub outputs: Option<i64>,
    /// Percent.
    pub gsm_signal: Option<i32>,
    pub gsm_cell: Option<GsmCell>,
    pub hardware_key: Option<String>,
    /// Readings keyed by Navixy input name.
    pub io: Readings,
    /// Alarm names.
    pub alarms: Vec<String>,
    /// The device sent it from its memory.
    pub buffered: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    pub lat: f64,
    pub lng: f64,
    /// Metres.
    pub altitude: Option<f64>,
    /// km/h.
    pub speed: Option<f64>,
    /// Degrees from north.
    pub heading: Option<f64>,
    pub satellites: Option<i32>,
    pub hdop: Option<f64>,
    pub valid: bool,
    /// Located by GSM cells rather than GPS.
    pub lbs: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GsmCell {
    pub mcc: i32,
    pub mnc: i32,
    pub lac: i64,
    pub cell_id: i64,
}

impl Point {
    /// A point with nothing but its identity.
    pub fn empty(tracker_id: TrackerId, time: i64, received_at: i64) -> Point {
        Point {
            tracker_id,
            time,
            received_at,
            position: None,
            ignition: None,
            motion: None,
            battery_level: None,
            inputs: None,
            outputs: None,
            gsm_signal: None,
            gsm_cell: None,
            hardware_key: None,
            io: Readings::new(),
            alarms: Vec::new(),
            buffered: false,
        }
    }
}
