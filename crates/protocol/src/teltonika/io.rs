//! Teltonika AVL IO element ids -> trackd record fields and Navixy input names.
//!
//! The ids and units follow Teltonika's "FMB AVL ID" list (FMB/FMC/FMM/FMU/FMT families,
//! the default) with a few differences for the older FM-series ("legacy": FM1100, FM36xx,
//! FM5300, FM63xx...), chosen by `SessionConfig::model`. Every mapping names the element
//! width it expects: an element of another width is another device's idea of that id, so it
//! is kept raw as `io_<id>` rather than converted with the wrong scale.

use crate::message::{Alarm, Gsm, IoValue, Record};
use crate::reader::Reader;

/// Which AVL id table applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    /// FMB/FMC/FMM/FMU/FMT/FMP/MTB/MSP... (current firmware, the default).
    Fmb,
    /// FM-series before FMB (`FM` + digit: FM1100, FM3612, FM5300, FM6320...): analog input 4
    /// on id 19 and no OBD ids.
    Legacy,
}

impl Family {
    pub(super) fn from_model(model: Option<&str>) -> Self {
        let Some(model) = model else {
            return Family::Fmb;
        };
        let b = model.as_bytes();
        let fm = b.get(..2).is_some_and(|p| p.eq_ignore_ascii_case(b"FM"));
        let digit = b.get(2).is_some_and(u8::is_ascii_digit);
        if fm && digit {
            Family::Legacy
        } else {
            Family::Fmb
        }
    }
}

/// Values that belong to the fix, which is built after the IO elements are read.
#[derive(Debug, Default)]
pub(super) struct FixExtras {
    pub hdop: Option<f64>,
}

fn unsigned(raw: &[u8]) -> u64 {
    raw.iter()
        .take(8)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// Two's complement of a 1..=8 byte big-endian value.
fn signed(raw: &[u8]) -> i64 {
    let width = raw.len().min(8);
    let u = unsigned(raw);
    if width == 0 || width == 8 {
        return u as i64;
    }
    let shift = 64 - 8 * width as u32;
    ((u << shift) as i64) >> shift
}

/// An unsigned raw value as an `IoValue`: `Int` when it fits, else its decimal text.
fn raw_value(raw: &[u8]) -> IoValue {
    let u = unsigned(raw);
    match i64::try_from(u) {
        Ok(v) => IoValue::Int(v),
        Err(_) => IoValue::Text(u.to_string()),
    }
}

fn keep_raw(rec: &mut Record, id: u16, raw: &[u8]) {
    rec.set_io(format!("io_{id}"), raw_value(raw));
}

fn set_bit(mask: &mut Option<u32>, bit: u16, on: bool) {
    let flag = 1u32.checked_shl(u32::from(bit)).unwrap_or(0);
    let cur = mask.unwrap_or(0);
    *mask = Some(if on { cur | flag } else { cur & !flag });
}

fn gsm(rec: &mut Record) -> &mut Gsm {
    rec.gsm.get_or_insert_with(Gsm::default)
}

fn add_alarm(rec: &mut Record, alarm: Alarm) {
    if !rec.alarms.contains(&alarm) {
        rec.alarms.push(alarm);
    }
}

/// Teltonika reports the operator as MCC and MNC digits run together (24601, 310410).
pub(super) fn set_operator(rec: &mut Record, code: u64) {
    if code == 0 {
        return;
    }
    let (mcc, mnc) = if code >= 100_000 {
        (code / 1000, code % 1000)
    } else {
        (code / 100, code % 100)
    };
    if let (Ok(mcc), Ok(mnc)) = (u16::try_from(mcc), u16::try_from(mnc)) {
        let g = gsm(rec);
        g.mcc = Some(mcc);
        g.mnc = Some(mnc);
    }
}

/// GSM signal on the 0..=5 scale Teltonika uses, as percent.
fn set_signal(rec: &mut Record, level: u64) {
    let pct = level.min(5) * 20;
    gsm(rec).signal_level = u8::try_from(pct).ok();
}

/// Applies one fixed-width (1, 2, 4 or 8 byte) element of codec 8, 8E or 16.
pub(super) fn apply(rec: &mut Record, fx: &mut FixExtras, family: Family, id: u16, raw: &[u8]) {
    let w = raw.len();
    let u = unsigned(raw);
    let s = signed(raw);
    let fmb = family == Family::Fmb;
    match (id, w) {
        (1..=4, 1) => set_bit(&mut rec.inputs, id - 1, u != 0),
        (179, 1) => set_bit(&mut rec.outputs, 0, u != 0),
        (180, 1) => set_bit(&mut rec.outputs, 1, u != 0),
        (380, 1) => set_bit(&mut rec.outputs, 2, u != 0),
        (9, 2) => rec.set_io("analog_1", u as f64 / 1000.0),
        (6, 2) if fmb => rec.set_io("analog_2", u as f64 / 1000.0),
        (10, 2) => rec.set_io("analog_2", u as f64 / 1000.0),
        (11, 2) => rec.set_io("analog_3", u as f64 / 1000.0),
        (19, 2) if !fmb => rec.set_io("analog_4", u as f64 / 1000.0),
        (17, 2) if fmb => rec.set_io("axis_x", s),
        (18, 2) if fmb => rec.set_io("axis_y", s),
        (19, 2) if fmb => rec.set_io("axis_z", s),
        (16, 4) => rec.set_io("hw_mileage", u as f64 / 1000.0),
        (199, 4) => rec.set_io("trip_odometer", u as f64 / 1000.0),
        (21, 1) => set_signal(rec, u),
        (66, 2) => rec.set_io("board_voltage", u as f64 / 1000.0),
        (67, 2) => rec.set_io("battery_voltage", u as f64 / 1000.0),
        (68, 2) => rec.set_io("battery_current", u as f64 / 1000.0),
        (69, 1) => rec.set_io("gnss_status", s),
        (80, 1) => rec.set_io("data_mode", s),
        (113, 1) => rec.battery_level = u8::try_from(u.min(100)).ok(),
        (181, 2) => rec.set_io("pdop", u as f64 / 10.0),
        (182, 2) => fx.hdop = Some(u as f64 / 10.0),
        (200, 1) => rec.set_io("sleep_mode", s),
        (205, 2 | 4) | (636, 4) => gsm(rec).cell_id = Some(u),
        (206, 2 | 4) => gsm(rec).lac = u32::try_from(u).ok(),
        (241, 4) => set_operator(rec, u),
        (239, 1) => rec.ignition = Some(u != 0),
        (240, 1) => rec.motion = Some(u != 0),
        // 85.0 °C is the DS18B20 power-on value Teltonika reports as "not ready"; 2000 and
        // up are error codes (read error, not connected, ...).
        (72..=75, 2 | 4) if (-550..=1250).contains(&s) && s != 850 => {
            rec.set_io(format!("ext_temp_sensor_{}", id - 71), s as f64 / 10.0)
        }
        (78, 8) => {
            // The 1-Wire ROM comes least significant byte first; reversed it reads like the
            // number printed on the key.
            if u != 0 {
                let key: String = raw.iter().rev().map(|b| format!("{b:02X}")).collect();
                rec.hardware_key = Some(key);
            }
        }
        (81, 1) => rec.set_io("can_speed", u as f64),
        (82, 1) => rec.set_io("can_throttle", s),
        (83, 4) => rec.set_io("fuel_consumption", u as f64 / 10.0),
        (84, 2) => rec.set_io("can_fuel_litres", u as f64 / 10.0),
        (85, 2) => rec.set_io("can_rpm", s),
        (87, 4) => rec.set_io("can_mileage", u as f64 / 1000.0),
        (89, 1) => rec.set_io("can_fuel", s),
        (102, 4) => rec.set_io("engine_worked_time", u as f64 / 60.0),
        (103, 4) => rec.set_io("can_engine_hours", u as f64 / 60.0),
        (110, 2) => rec.set_io("can_fuel_rate", u as f64 / 10.0),
        (111, 1) => rec.set_io("can_adblue_level", s),
        (114, 1) => rec.set_io("can_engine_load", s),
        (115, 2) => rec.set_io("can_coolant_t", s as f64 / 10.0),
        // Negative LLS levels are the sensor's error codes.
        (201 | 203 | 210 | 212 | 214, 2) if s >= 0 => {
            rec.set_io(format!("lls_level_{}", lls_index(id)), s)
        }
        (202 | 204 | 211 | 213 | 215, 1) => {
            rec.set_io(format!("lls_temperature_{}", lls_index(id)), s as f64)
        }
        (30, 1) if fmb => rec.set_io("obd_dtc_number", s),
        (31, 1) if fmb => rec.set_io("obd_engine_load", s),
        (32, 1) if fmb => rec.set_io("obd_coolant_t", s as f64),
        (36, 2) if fmb => rec.set_io("obd_rpm", s),
        (37, 1) if fmb => rec.set_io("obd_speed", u as f64),
        (39, 1) if fmb => rec.set_io("obd_intake_air_t", s as f64),
        (41, 1) if fmb => rec.set_io("obd_throttle", s),
        (42, 2) if fmb => rec.set_io("obd_time_since_engine_start", s),
        (43, 2) if fmb => rec.set_io("obd_mil_activated_distance", u as f64),
        (48, 1) if fmb => rec.set_io("obd_fuel", s),
        (49, 2) if fmb => rec.set_io("obd_dtc_cleared_distance", u as f64),
        (51, 2) if fmb => rec.set_io("obd_control_module_voltage", u as f64 / 1000.0),
        (52, 1) if fmb => rec.set_io("obd_absolute_load_value", s),
        (236, 1) => {
            if u != 0 {
                add_alarm(rec, Alarm::Other("alarm".into()));
            }
        }
        (246, 1) => {
            if u != 0 {
                add_alarm(rec, Alarm::Other("towing".into()));
            }
        }
        (247, 1) => {
            if u != 0 {
                add_alarm(rec, Alarm::Accident);
            }
        }
        (249, 1) => {
            if u == 1 {
                add_alarm(rec, Alarm::Jamming);
            }
        }
        (251, 1) => {
            if u == 1 {
                add_alarm(rec, Alarm::Idle);
            }
        }
        (252, 1) => {
            if u == 1 {
                add_alarm(rec, Alarm::PowerCut);
            }
        }
        (253, 1) => match u {
            1 => add_alarm(rec, Alarm::HardAcceleration),
            2 => add_alarm(rec, Alarm::HardBraking),
            3 => add_alarm(rec, Alarm::HardCornering),
            _ => {}
        },
        _ => keep_raw(rec, id, raw),
    }
}

fn lls_index(id: u16) -> u16 {
    match id {
        201 | 202 => 1,
        203 | 204 => 2,
        210 | 211 => 3,
        212 | 213 => 4,
        _ => 5,
    }
}

/// Applies one variable-length element of codec 8 Extended.
pub(super) fn apply_nx(rec: &mut Record, fx: &mut FixExtras, family: Family, id: u16, data: &[u8]) {
    match id {
        256 => rec.set_io("obd_vin", ascii_text(data)),
        281 => rec.set_io("obd_dtc_codes", ascii_text(data)),
        548 | 10829 | 10831 => {
            // A malformed tag list must not cost the record: keep it raw instead.
            let mut tags = Record::default();
            if decode_tags(&mut tags, data).is_ok() {
                rec.io.append(&mut tags.io);
            } else {
                rec.set_io(format!("io_{id}"), IoValue::Bytes(data.to_vec()));
            }
        }
        _ if matches!(data.len(), 1 | 2 | 4 | 8) => apply(rec, fx, family, id, data),
        _ => {
            rec.set_io(format!("io_{id}"), IoValue::Bytes(data.to_vec()));
        }
    }
}

fn ascii_text(data: &[u8]) -> String {
    data.iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ' || **b == b',')
        .map(|b| char::from(*b))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// BLE tag lists (ids 548, 10829, 10831): a header byte, then per tag a length-prefixed run
/// of (parameter id, length, value).
fn decode_tags(rec: &mut Record, data: &[u8]) -> Result<(), crate::DecodeError> {
    let mut r = Reader::new(data);
    r.u8()?; // header: data part / flags
    let mut n = 0u32;
    while r.remaining() > 0 {
        n = n.saturating_add(1);
        let len = usize::from(r.u8()?);
        let mut t = Reader::new(r.bytes(len)?);
        while t.remaining() > 0 {
            let pid = t.u8()?;
            let plen = usize::from(t.u8()?);
            let value = t.bytes(plen)?;
            match (pid, plen) {
                (0, 1) => rec.set_io(format!("ble_tag_{n}_rssi"), signed(value)),
                (1, _) => rec.set_io(
                    format!("ble_tag_{n}_id"),
                    value.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                ),
                (2, _) => {
                    let flags = value.first().copied().unwrap_or(0);
                    if flags & 0x40 != 0 {
                        rec.set_io(format!("ble_tag_{n}_low_battery"), true);
                    }
                    if flags & 0x80 != 0 {
                        if let Some(v) = value.get(1) {
                            let mv = u32::from(*v) * 10 + 2000;
                            rec.set_io(format!("ble_tag_{n}_battery"), f64::from(mv) / 1000.0);
                        }
                    }
                }
                (13, 1) => rec.set_io(format!("ble_tag_{n}_low_battery"), unsigned(value) != 0),
                (14, 2) => rec.set_io(
                    format!("ble_tag_{n}_battery"),
                    unsigned(value) as f64 / 1000.0,
                ),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Applies one element of the GH3000 codec (7), whose id table is its own.
pub(super) fn apply_gh3000(rec: &mut Record, fx: &mut FixExtras, id: u8, raw: &[u8]) {
    let u = unsigned(raw);
    match id {
        1 => rec.battery_level = u8::try_from(u.min(100)).ok(),
        2 => rec.set_io("usb_connected", u == 1),
        5 => rec.set_io("uptime", raw_value(raw)),
        20 => fx.hdop = Some(u as f64 / 10.0),
        21 => rec.set_io("vdop", u as f64 / 10.0),
        22 => rec.set_io("pdop", u as f64 / 10.0),
        67 => rec.set_io("battery_voltage", u as f64 / 1000.0),
        221 => rec.set_io("button", raw_value(raw)),
        222 => {
            if u == 1 {
                add_alarm(rec, Alarm::Sos);
            }
        }
        240 => rec.motion = Some(u == 1),
        244 => gsm(rec).roaming = Some(u == 1),
        _ => keep_raw(rec, u16::from(id), raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_widths() {
        assert_eq!(signed(&[0xFF]), -1);
        assert_eq!(signed(&[0xFF, 0x38]), -200);
        assert_eq!(signed(&[0x00, 0x00, 0x01, 0x2C]), 300);
        assert_eq!(signed(&[0xFF; 8]), -1);
    }

    #[test]
    fn family_from_model() {
        assert_eq!(Family::from_model(None), Family::Fmb);
        assert_eq!(Family::from_model(Some("FMB130")), Family::Fmb);
        assert_eq!(Family::from_model(Some("FM1100")), Family::Legacy);
        assert_eq!(Family::from_model(Some("F")), Family::Fmb);
    }

    #[test]
    fn common_elements() {
        let mut r = Record::default();
        let mut fx = FixExtras::default();
        let f = Family::Fmb;
        apply(&mut r, &mut fx, f, 239, &[1]);
        apply(&mut r, &mut fx, f, 240, &[0]);
        apply(&mut r, &mut fx, f, 21, &[4]);
        apply(&mut r, &mut fx, f, 66, &[0x30, 0x39]); // 12345 mV
        apply(&mut r, &mut fx, f, 16, &[0, 0, 0x30, 0x39]); // 12345 m
        apply(&mut r, &mut fx, f, 2, &[1]);
        apply(&mut r, &mut fx, f, 180, &[1]);
        apply(&mut r, &mut fx, f, 72, &[0xFF, 0xFF, 0xFF, 0x9C]); // -10.0 °C
        apply(&mut r, &mut fx, f, 73, &[0, 0, 0x0B, 0xB8]); // 3000: not connected
        apply(&mut r, &mut fx, f, 78, &[1, 2, 3, 4, 5, 6, 7, 8]);
        apply(&mut r, &mut fx, f, 103, &[0, 0, 0, 90]); // 90 min
        apply(&mut r, &mut fx, f, 182, &[0, 12]);
        apply(&mut r, &mut fx, f, 241, &[0, 0, 0x60, 0x19]); // 24601
        apply(&mut r, &mut fx, f, 999, &[7]);
        assert_eq!(r.ignition, Some(true));
        assert_eq!(r.motion, Some(false));
        assert_eq!(r.inputs, Some(0b10));
        assert_eq!(r.outputs, Some(0b10));
        let g = r.gsm.clone().unwrap_or_default();
        assert_eq!(g.signal_level, Some(80));
        assert_eq!((g.mcc, g.mnc), (Some(246), Some(1)));
        assert_eq!(r.io.get("board_voltage"), Some(&IoValue::Float(12.345)));
        assert_eq!(r.io.get("hw_mileage"), Some(&IoValue::Float(12.345)));
        assert_eq!(r.io.get("ext_temp_sensor_1"), Some(&IoValue::Float(-10.0)));
        assert_eq!(r.io.get("ext_temp_sensor_2"), None);
        assert_eq!(r.io.get("io_73"), Some(&IoValue::Int(3000)));
        assert_eq!(r.hardware_key.as_deref(), Some("0807060504030201"));
        assert_eq!(r.io.get("can_engine_hours"), Some(&IoValue::Float(1.5)));
        assert_eq!(r.io.get("io_999"), Some(&IoValue::Int(7)));
        assert_eq!(fx.hdop, Some(1.2));
    }

    #[test]
    fn width_mismatch_stays_raw() {
        let mut r = Record::default();
        let mut fx = FixExtras::default();
        // On FMB, id 11 is 8 bytes of ICCID, not analog input 3.
        apply(&mut r, &mut fx, Family::Fmb, 11, &[0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(r.io.get("io_11"), Some(&IoValue::Int(5)));
        assert!(!r.io.contains_key("analog_3"));
        apply(
            &mut r,
            &mut fx,
            Family::Fmb,
            16,
            &[0, 0, 0, 0, 0, 0, 0, 0xFF],
        );
        assert!(!r.io.contains_key("hw_mileage"));
        // Legacy FM devices carry analog input 4 on id 19.
        apply(&mut r, &mut fx, Family::Legacy, 19, &[0x03, 0xE8]);
        assert_eq!(r.io.get("analog_4"), Some(&IoValue::Float(1.0)));
        // Unsigned 8-byte values beyond i64 keep their decimal text.
        apply(&mut r, &mut fx, Family::Fmb, 998, &[0xFF; 8]);
        assert_eq!(
            r.io.get("io_998"),
            Some(&IoValue::Text(u64::MAX.to_string()))
        );
    }
}
