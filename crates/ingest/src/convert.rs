//! From a decoded record to a storable point. Devices send nonsense at times (NaN, latitudes
//! of 200, batteries at 255 %); a value that cannot be true is dropped here rather than
//! failing the whole batch it would be committed with.

use std::collections::BTreeMap;

use serde_json::{Number, Value};
use trackd_core::point::{GsmCell, Point, Position};
use trackd_core::readings::Readings;
use trackd_core::TrackerId;
use trackd_protocol::{Alarm, FixSource, IoName, IoValue, Record};

/// `time` is the record's own time when it has one; otherwise the caller's `fallback`
/// (the receive time, made unique per record of one message). The record is consumed: its
/// readings' names and texts move into the point instead of being copied.
pub fn to_point(tracker: TrackerId, record: Record, received_at: i64, fallback: i64) -> Point {
    let time = record.time.map(|t| t.millis()).unwrap_or(fallback);
    let mut p = Point::empty(tracker, time, received_at);
    p.position = record.fix.as_ref().and_then(|f| {
        let sane = f.lat.is_finite()
            && f.lon.is_finite()
            && (-90.0..=90.0).contains(&f.lat)
            && (-180.0..=180.0).contains(&f.lon);
        sane.then(|| Position {
            lat: f.lat,
            lng: f.lon,
            altitude: finite(f.altitude),
            speed: finite(f.speed).filter(|s| *s >= 0.0),
            heading: finite(f.course).map(|c| c.rem_euclid(360.0)),
            satellites: f.satellites.map(i32::from),
            hdop: finite(f.hdop).filter(|h| *h >= 0.0),
            valid: f.valid,
            lbs: f.source == FixSource::Lbs,
        })
    });
    p.ignition = record.ignition;
    p.motion = record.motion;
    p.battery_level = record.battery_level.filter(|b| *b <= 100).map(i32::from);
    p.inputs = record.inputs.map(i64::from);
    p.outputs = record.outputs.map(i64::from);
    if let Some(gsm) = &record.gsm {
        p.gsm_signal = gsm.signal_level.filter(|s| *s <= 100).map(i32::from);
        if let (Some(mcc), Some(mnc), Some(lac), Some(cell)) =
            (gsm.mcc, gsm.mnc, gsm.lac, gsm.cell_id)
        {
            p.gsm_cell = Some(GsmCell {
                mcc: i32::from(mcc),
                mnc: i32::from(mnc),
                lac: i64::from(lac),
                cell_id: i64::try_from(cell).unwrap_or(i64::MAX),
            });
        }
    }
    p.hardware_key = record.hardware_key;
    p.io = readings(record.io);
    p.alarms = record.alarms.iter().map(alarm_name).collect();
    p.buffered = record.buffered;
    p
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// The decoder's names move into the point as they are: no name is copied or compared again.
fn readings(io: BTreeMap<IoName, IoValue>) -> Readings {
    Readings::from_map(io, |v| {
        Some(match v {
            IoValue::Int(i) => Value::Number(Number::from(i)),
            IoValue::Float(f) => Value::Number(Number::from_f64(f)?),
            IoValue::Bool(b) => Value::Bool(b),
            IoValue::Text(s) => Value::String(s),
            IoValue::Bytes(b) => Value::String(hex(&b)),
        })
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// The snake_case event name of an alarm.
pub fn alarm_name(alarm: &Alarm) -> String {
    let name = match alarm {
        Alarm::Sos => "sos",
        Alarm::Tampering => "tampering",
        Alarm::PowerCut => "power_cut",
        Alarm::PowerRestored => "power_restored",
        Alarm::LowBattery => "low_battery",
        Alarm::LowPower => "low_power",
        Alarm::Overspeed => "overspeed",
        Alarm::HardBraking => "hard_braking",
        Alarm::HardAcceleration => "hard_acceleration",
        Alarm::HardCornering => "hard_cornering",
        Alarm::Accident => "accident",
        Alarm::Vibration => "vibration",
        Alarm::Movement => "movement",
        Alarm::Door => "door",
        Alarm::FallDown => "fall_down",
        Alarm::GeofenceEnter => "geofence_enter",
        Alarm::GeofenceExit => "geofence_exit",
        Alarm::GpsAntennaCut => "gps_antenna_cut",
        Alarm::Jamming => "jamming",
        Alarm::Idle => "idle",
        Alarm::Fatigue => "fatigue",
        Alarm::Temperature => "temperature",
        Alarm::Removing => "removing",
        Alarm::Other(other) => return other.clone(),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use trackd_protocol::{Fix, Gsm, Timestamp};

    #[test]
    fn a_full_record_converts() {
        let mut r = Record::at(Timestamp(1_700_000_000_000));
        let mut fix = Fix::new(52.5, 13.4, true);
        fix.speed = Some(42.0);
        fix.course = Some(-90.0);
        fix.satellites = Some(9);
        r.fix = Some(fix);
        r.ignition = Some(true);
        r.battery_level = Some(87);
        r.gsm = Some(Gsm {
            signal_level: Some(80),
            mcc: Some(262),
            mnc: Some(1),
            lac: Some(7),
            cell_id: Some(99),
            ..Gsm::default()
        });
        r.set_io("board_voltage", 12.5);
        r.set_io("hw_mileage", 1234i64);
        r.set_io("raw", IoValue::Bytes(vec![0xde, 0xad]));
        r.alarms = vec![Alarm::Sos, Alarm::Other("tow".into())];
        let p = to_point(TrackerId(7), r, 5, 6);
        assert_eq!(p.time, 1_700_000_000_000);
        assert_eq!(p.received_at, 5);
        let pos = p.position.expect("position");
        assert_eq!(
            (pos.lat, pos.lng, pos.speed, pos.heading, pos.satellites),
            (52.5, 13.4, Some(42.0), Some(270.0), Some(9))
        );
        assert_eq!(
            p.gsm_cell,
            Some(GsmCell {
                mcc: 262,
                mnc: 1,
                lac: 7,
                cell_id: 99
            })
        );
        assert_eq!(
            serde_json::to_string(&p.io).expect("json"),
            r#"{"board_voltage":12.5,"hw_mileage":1234,"raw":"dead"}"#
        );
        assert_eq!(p.alarms, ["sos", "tow"]);
    }

    #[test]
    fn impossible_values_are_dropped_not_stored() {
        let mut r = Record {
            fix: Some(Fix::new(200.0, f64::NAN, true)),
            battery_level: Some(255),
            gsm: Some(Gsm {
                signal_level: Some(101),
                ..Gsm::default()
            }),
            ..Record::default()
        };
        r.set_io("nan", f64::NAN);
        let p = to_point(TrackerId(1), r, 10, 11);
        assert_eq!(p.time, 11, "no device time: the fallback");
        assert_eq!(
            (p.position, p.battery_level, p.gsm_signal),
            (None, None, None)
        );
        assert!(p.io.is_empty());
    }
}
