//! What a decoded frame says: who the device is, where it was, what its sensors read.
//!
//! IO values are keyed by the Navixy input names (`board_voltage`, `hw_mileage`,
//! `can_engine_hours`, `lls_level_1`, ...) so that sensors configured through the API find them
//! whatever protocol the device speaks. Units are fixed per name and documented in
//! `docs/protocols.md`: volts, kilometres, hours, litres, degrees Celsius, km/h.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// A reading's Navixy input name. Nearly every name a decoder sets is a literal, so it is
/// borrowed, not allocated again for each record; the few built at run time (`io_{id}` for
/// an IO element trackd has no name for, a parameter a text protocol named) are owned.
pub type IoName = Cow<'static, str>;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs * 1000)
    }
    pub fn millis(self) -> i64 {
        self.0
    }
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
}

/// Everything one frame carried.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceMessage {
    /// The device identifier this frame announced (login, handshake, or an ID carried in
    /// every frame). `None` when the frame relies on an earlier login in the same session.
    pub device_id: Option<String>,
    /// Positions and sensor readings, in the order the device sent them.
    pub records: Vec<Record>,
    /// Bytes the device expects back once the records are committed (an ACK, a login
    /// response). Sent even when `records` is empty.
    pub reply: Option<Vec<u8>>,
    /// Answers to commands sent earlier.
    pub command_replies: Vec<CommandReply>,
}

/// One point in time of one device: a fix, readings, events, or any mix of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// When the device took the reading (device clock, UTC). `None` when the frame carries no
    /// time; ingest then stamps it with the server's receive time.
    pub time: Option<Timestamp>,
    pub fix: Option<Fix>,
    pub gsm: Option<Gsm>,
    /// Ignition as reported by the device (ACC line or a dedicated status bit).
    pub ignition: Option<bool>,
    /// Motion as reported by the device's accelerometer.
    pub motion: Option<bool>,
    /// Battery charge in percent, 0..=100.
    pub battery_level: Option<u8>,
    /// Discrete inputs, input 1 in bit 0.
    pub inputs: Option<u32>,
    /// Discrete outputs, output 1 in bit 0.
    pub outputs: Option<u32>,
    /// Driver identification key (iButton, RFID card), reported as state `hardware_key`.
    pub hardware_key: Option<String>,
    /// Sensor readings keyed by Navixy input name.
    pub io: BTreeMap<IoName, IoValue>,
    pub alarms: Vec<Alarm>,
    /// The device sent this record from its memory (history), not live.
    pub buffered: bool,
}

impl Record {
    pub fn at(time: Timestamp) -> Self {
        Record {
            time: Some(time),
            ..Record::default()
        }
    }
    pub fn set_io(&mut self, name: impl Into<IoName>, value: impl Into<IoValue>) {
        self.io.insert(name.into(), value.into());
    }
}

/// A position.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fix {
    /// Degrees, WGS84, north positive.
    pub lat: f64,
    /// Degrees, WGS84, east positive.
    pub lon: f64,
    /// Metres above sea level.
    pub altitude: Option<f64>,
    /// km/h.
    pub speed: Option<f64>,
    /// Degrees clockwise from north, 0..360.
    pub course: Option<f64>,
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,
    /// The device says its receiver had a valid fix. Invalid fixes are stored but never move
    /// an odometer.
    pub valid: bool,
    pub source: FixSource,
}

impl Fix {
    pub fn new(lat: f64, lon: f64, valid: bool) -> Self {
        Fix {
            lat,
            lon,
            altitude: None,
            speed: None,
            course: None,
            satellites: None,
            hdop: None,
            valid,
            source: FixSource::Gps,
        }
    }
}

/// How a position was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixSource {
    Gps,
    /// Located by GSM cells (LBS) or Wi-Fi: coarse, excluded from odometers and
    /// `get_last_gps_point`.
    Lbs,
}

/// Mobile network data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gsm {
    /// Signal strength in percent, 0..=100.
    pub signal_level: Option<u8>,
    pub mcc: Option<u16>,
    pub mnc: Option<u16>,
    pub lac: Option<u32>,
    pub cell_id: Option<u64>,
    pub roaming: Option<bool>,
    pub operator: Option<String>,
}

/// A sensor reading.
#[derive(Clone, Debug, PartialEq)]
pub enum IoValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

impl IoValue {
    /// The reading as a number, for sensors and counters; text and bytes have none.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            IoValue::Int(v) => Some(*v as f64),
            IoValue::Float(v) => Some(*v),
            IoValue::Bool(v) => Some(if *v { 1.0 } else { 0.0 }),
            IoValue::Text(_) | IoValue::Bytes(_) => None,
        }
    }
}

impl From<i64> for IoValue {
    fn from(v: i64) -> Self {
        IoValue::Int(v)
    }
}
impl From<u32> for IoValue {
    fn from(v: u32) -> Self {
        IoValue::Int(i64::from(v))
    }
}
impl From<f64> for IoValue {
    fn from(v: f64) -> Self {
        IoValue::Float(v)
    }
}
impl From<bool> for IoValue {
    fn from(v: bool) -> Self {
        IoValue::Bool(v)
    }
}
impl From<String> for IoValue {
    fn from(v: String) -> Self {
        IoValue::Text(v)
    }
}
impl From<&str> for IoValue {
    fn from(v: &str) -> Self {
        IoValue::Text(v.to_owned())
    }
}

/// Alarms devices raise. Names follow the Navixy event vocabulary where there is one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Alarm {
    Sos,
    Tampering,
    PowerCut,
    PowerRestored,
    LowBattery,
    LowPower,
    Overspeed,
    HardBraking,
    HardAcceleration,
    HardCornering,
    Accident,
    Vibration,
    Movement,
    Door,
    FallDown,
    GeofenceEnter,
    GeofenceExit,
    GpsAntennaCut,
    Jamming,
    Idle,
    Fatigue,
    Temperature,
    Removing,
    /// A device-specific alarm with no common name.
    Other(String),
}

/// A device's answer to a command.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandReply {
    Text(String),
    Bytes(Vec<u8>),
}
