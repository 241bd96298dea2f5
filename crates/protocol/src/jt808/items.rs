//! Vendor additional items of the location report whose layouts take more than a few lines:
//! the OBD extension after 0x80, Jimi JC-series 0xE8, the 0xEA/0xEB/0xF3/0xF6 blocks, and the
//! `$OBD-RT` line. Each reads one item's own slice (see [`super::location`]).

use super::util::*;
use crate::error::DecodeError;
use crate::message::{Alarm, Record};
use crate::reader::Reader;

/// Items after the 0x80 marker: an OBD extension with ids of its own.
/// Item 0x0B, an electronic lock's report; its length says which fields follow (the standard
/// location item and the JT701 vendor item share the layout).
pub(super) fn lock_item(rec: &mut Record, len: usize, d: &mut Reader) -> Result<(), DecodeError> {
    set_i(rec, "lock_command", i64::from(d.u8()?));
    if (5..=6).contains(&len) {
        set_i(rec, "lock_card", i64::from(d.u32()?));
    } else if len >= 7 {
        set_s(rec, "lock_password", text(d.bytes(6)?));
    }
    if len.is_multiple_of(2) {
        set_i(rec, "unlock_result", i64::from(d.u8()?));
    }
    Ok(())
}

pub(super) fn obd_item(rec: &mut Record, id: u8, d: &mut Reader) -> Result<(), DecodeError> {
    match id {
        0x01 => set_f(rec, "hw_mileage", f64::from(d.u32()?) / 10.0),
        0x02 => set_f(rec, "fuel_level", f64::from(d.u16()?) / 10.0),
        0x03 => set_f(rec, "obd_speed", f64::from(d.u16()?) / 10.0),
        0x56 => {
            d.skip(1)?;
            set_battery_level(rec, i64::from(d.u8()?));
        }
        0x61 => set_f(rec, "board_voltage", f64::from(d.u16()?) / 100.0),
        0x69 => set_f(rec, "battery_voltage", f64::from(d.u16()?) / 100.0),
        0x80 => set_i(rec, "obd_speed", i64::from(d.u8()?)),
        0x81 => set_i(rec, "obd_rpm", i64::from(d.u16()?)),
        0x82 => set_f(rec, "board_voltage", f64::from(d.u16()?) / 10.0),
        0x83 => set_i(rec, "obd_engine_load", i64::from(d.u8()?)),
        0x84 => set_i(rec, "obd_coolant_t", i64::from(d.u8()?) - 40),
        // Unit undocumented by the vendor: kept raw under its own name.
        0x85 => set_i(rec, "obd_fuel_rate_raw", i64::from(d.u16()?)),
        0x86 => set_i(rec, "obd_intake_air_t", i64::from(d.u8()?) - 40),
        0x87 => set_i(rec, "obd_intake_flow", i64::from(d.u16()?)),
        0x88 => set_i(rec, "obd_intake_pressure", i64::from(d.u8()?)),
        0x89 => set_i(rec, "obd_throttle", i64::from(d.u8()?)),
        0x8B => set_s(rec, "obd_vin", text(d.bytes(17)?)),
        0x8C => set_f(rec, "can_mileage", f64::from(d.u32()?) / 10.0),
        0x8D => set_i(rec, "trip_mileage", i64::from(d.u16()?)),
        0x8E => set_i(rec, "obd_fuel", i64::from(d.u8()?)),
        0xA0 => set_s(rec, "obd_dtc_codes", text(d.rest()).replace(',', " ")),
        0xCC => set_s(rec, "iccid", text(d.bytes(20)?)),
        _ => {}
    }
    Ok(())
}

/// 0xD4/0xE1/0xE9: one byte is a battery level (0xFF: on the charger); 0xE1 may also carry
/// cells or the external voltage; otherwise the item is a driver card number.
pub(super) fn battery_or_cells(
    rec: &mut Record,
    id: u8,
    d: &mut Reader,
) -> Result<(), DecodeError> {
    let len = d.remaining();
    if len == 1 {
        match d.u8()? {
            0xFF => set_b(rec, "charging", true),
            v => set_battery_level(rec, i64::from(v)),
        }
    } else if id == 0xE1 && len >= 12 && (len - 4).is_multiple_of(8) {
        let mcc = d.u16()?;
        let mnc = d.u16()?;
        while d.remaining() > 0 {
            let lac = d.u24()?;
            let cid = d.u32()?;
            d.skip(1)?; // rssi
            if lac > 0 && lac <= 0xFFFF && cid <= 0x0FFF_FFFF {
                set_cell(rec, mcc, mnc, lac, u64::from(cid));
            }
        }
    } else if id == 0xE1 && len == 2 {
        set_f(rec, "board_voltage", f64::from(d.u16()?) / 10.0);
    } else {
        rec.hardware_key = Some(d.u32()?.to_string());
    }
    Ok(())
}

/// Jimi JC-series (JC371, JC181...) extended item: a 16-bit type, then its data.
pub(super) fn jc_item(rec: &mut Record, d: &mut Reader) -> Result<(), DecodeError> {
    match d.u16()? {
        0x2002 => {
            d.skip(1)?;
            set_i(rec, "upload_mode", i64::from(d.u8()?));
            rec.buffered = d.u8()? == 1;
        }
        0x2003 => {
            d.skip(1)?;
            set_b(rec, "charging", d.u8()? == 1);
            let level = d.u8()?;
            if (1..=6).contains(&level) {
                set_battery_level(rec, i64::from(level) * 100 / 6);
            }
            set_f(rec, "battery_voltage", f64::from(d.u16()?) / 100.0);
            set_rssi(rec, d.u8()?);
            set_f(rec, "board_voltage", f64::from(d.u16()?) / 100.0);
        }
        0x2005 => {
            d.skip(1)?;
            while d.remaining() > 0 {
                let status_id = d.u16()?;
                let l = usize::from(d.u8()?);
                let mut v = Reader::new(d.bytes(l)?);
                match status_id {
                    0x0001 => set_f(rec, "battery_voltage", f64::from(v.u16()?) / 100.0),
                    0x0002 => set_i(rec, "data_usage", i64::from(v.u32()?)),
                    0x0003 => set_battery_level(rec, i64::from(v.u8()?)),
                    0x0004 => set_b(rec, "charging", v.u8()? == 0),
                    0x0005 => {
                        let h = hex(v.bytes(10)?);
                        set_s(rec, "iccid", h.get(..19).unwrap_or_default().to_owned());
                    }
                    0x0007 => set_hdop(rec, f64::from(v.u16()?) / 10.0),
                    0x2001 => set_f(rec, "board_voltage", f64::from(v.u16()?) / 10.0),
                    _ => {}
                }
            }
        }
        0x0001 => other_alarm(rec, "fault"),
        0x0400 | 0x0412 => add_alarm(rec, Alarm::HardAcceleration),
        0x0401 | 0x0413 => add_alarm(rec, Alarm::HardBraking),
        0x0402 | 0x0414 => add_alarm(rec, Alarm::HardCornering),
        0x0403 => add_alarm(rec, Alarm::Overspeed),
        0x0405 | 0x0416 | 0x0417 => add_alarm(rec, Alarm::Accident),
        0x0406 => add_alarm(rec, Alarm::Vibration),
        0x0407 => other_alarm(rec, "tow"),
        0x0408 => add_alarm(rec, Alarm::GeofenceEnter),
        0x0409 => add_alarm(rec, Alarm::GeofenceExit),
        0x040C => add_alarm(rec, Alarm::Door),
        0x0415 => other_alarm(rec, "lane_change"),
        0x0C01 => add_alarm(rec, Alarm::Sos),
        0x0C02 => add_alarm(rec, Alarm::LowPower),
        0x0C03 => rec.ignition = Some(true),
        0x0C04 => rec.ignition = Some(false),
        0x0C05 => other_alarm(rec, "general"),
        0x0C0E => add_alarm(rec, Alarm::PowerCut),
        0x0C0F => add_alarm(rec, Alarm::LowBattery),
        0x0C10 => other_alarm(rec, "power_off"),
        0x0C12 => add_alarm(rec, Alarm::Tampering),
        _ => {}
    }
    Ok(())
}

/// 0xEA: external sensor block, a type byte then `id, length, value` entries.
pub(super) fn ext_sensors(rec: &mut Record, d: &mut Reader) -> Result<(), DecodeError> {
    d.skip(1)?;
    while d.remaining() >= 2 {
        let t = d.u8()?;
        let l = usize::from(d.u8()?);
        let Ok(v) = d.bytes(l) else { break };
        let mut v = Reader::new(v);
        match t {
            0x11 => {
                set_i(rec, "external_alarms", i64::from(v.u16()?));
                set_i(rec, "alarm_threshold_type", i64::from(v.u8()?));
            }
            0x13 => set_i(rec, "illuminance", i64::from(v.u16()?)),
            0x14 => set_i(rec, "air_pressure", i64::from(v.u16()?)),
            0x15 => set_f(rec, "humidity_1", f64::from(v.u16()?) / 10.0),
            0x16 => set_f(rec, "ext_temp_sensor_1", f64::from(v.u16()?) / 10.0 - 50.0),
            _ => {}
        }
    }
    Ok(())
}

/// 0xEB is three different things: a cell list (MCC first), a printable time zone, or a list
/// of `length, type, value` entries (Jimi/Concox extended data).
pub(super) fn eb_item(rec: &mut Record, d: &mut Reader) -> Result<(), DecodeError> {
    let len = d.remaining();
    let data = d.rest();
    let first = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    if first > 200 && len >= 3 && (len - 3).is_multiple_of(5) {
        let mcc = d.u16()?;
        let mnc = u16::from(d.u8()?);
        while d.remaining() > 0 {
            let lac = d.u16()?;
            let cid = d.u16()?;
            d.skip(1)?; // rssi
            set_cell(rec, mcc, mnc, u32::from(lac), u64::from(cid));
        }
    } else if is_printable(data) {
        set_s(rec, "timezone", text(data));
    } else {
        while d.remaining() >= 2 {
            let l = usize::from(d.u16()?);
            let Ok(entry) = d.bytes(l) else { break };
            let mut v = Reader::new(entry);
            let _ = eb_entry(rec, &mut v, l);
        }
    }
    Ok(())
}

pub(super) fn eb_entry(rec: &mut Record, v: &mut Reader, l: usize) -> Result<(), DecodeError> {
    match v.u16()? {
        0x0001 => set_f(rec, "lls_level_1", f64::from(v.u16()?) / 10.0),
        0x0023 => {
            if let Ok(x) = text(v.bytes(6)?).parse::<f64>() {
                set_f(rec, "lls_level_2", x);
            }
        }
        0x002D => {
            if l == 6 {
                set_f(rec, "board_voltage", f64::from(v.u32()?) / 1000.0);
            } else {
                set_f(rec, "battery_voltage", f64::from(v.u16()?) / 1000.0);
            }
        }
        0x0089 => {
            let a = u64::from(v.u32()?);
            // Active-low flags.
            if !bit(a, 0) {
                add_alarm(rec, Alarm::PowerCut);
            }
            if !bit(a, 12) {
                add_alarm(rec, Alarm::Removing);
            }
        }
        0x00A8 | 0x00E1 => set_battery_level(rec, i64::from(v.u8()?)),
        0x00B2 => {
            let h = hex(v.bytes(10)?);
            set_s(rec, "iccid", h.trim_end_matches('f').to_owned());
        }
        0x00C5 => {
            let a = u64::from(v.u32()?);
            if !bit(a, 6) {
                add_alarm(rec, Alarm::Vibration);
            }
            match (a >> 23) & 0x3 {
                0 => rec.motion = Some(true),
                1 => rec.motion = Some(false),
                _ => {}
            }
        }
        0x00C6 => {
            let b = v.u8()?;
            if b == 0x03 || b == 0x04 {
                add_alarm(rec, Alarm::LowBattery);
            }
            set_i(rec, "battery_alarm", i64::from(b));
        }
        0x00CE => set_f(rec, "board_voltage", f64::from(v.u16()?) / 100.0),
        0x00D8 => {
            let mcc = v.u16()?;
            let mnc = u16::from(v.u8()?);
            let lac = v.u16()?;
            let cid = v.u32()?;
            set_cell(rec, mcc, mnc, u32::from(lac), u64::from(cid));
        }
        _ => {}
    }
    Ok(())
}

/// AOVX (GL100, AL300) BLE tag list: a mask of optional fields, then one entry per tag.
pub(super) fn ble_tags(rec: &mut Record, d: &mut Reader) -> Result<(), DecodeError> {
    let mask = u64::from(d.u8()?);
    let mut i = 0u32;
    while d.remaining() > 0 {
        i += 1;
        set_s(rec, format!("tag_{i}_mac"), hex(d.bytes(6)?));
        set_i(rec, format!("tag_{i}_rssi"), i64::from(d.i8()?));
        if bit(mask, 0) {
            set_s(rec, format!("tag_{i}_name"), text(d.bytes(10)?));
        }
        if bit(mask, 1) {
            d.skip(2)?; // firmware version
        }
        if bit(mask, 2) {
            set_f(
                rec,
                format!("tag_{i}_battery"),
                f64::from(d.u16()?) / 1000.0,
            );
        }
        if bit(mask, 3) {
            set_f(rec, format!("tag_{i}_temp"), f64::from(d.i16()?) / 10.0);
        }
        if bit(mask, 4) {
            set_f(rec, format!("tag_{i}_humidity"), f64::from(d.i16()?) / 10.0);
        }
        for (n, skip) in [(5, 6), (6, 2), (7, 2)] {
            if bit(mask, n) {
                d.skip(skip)?;
            }
        }
    }
    Ok(())
}

/// 0xF3 on OBD dongles: `type(2), length(1), value` entries.
pub(super) fn obd_list(rec: &mut Record, d: &mut Reader) -> Result<(), DecodeError> {
    while d.remaining() > 0 {
        let t = d.u16()?;
        let l = usize::from(d.u8()?);
        let mut v = Reader::new(d.bytes(l)?);
        match t {
            0x0002 => set_f(rec, "obd_speed", f64::from(v.u16()?) / 10.0),
            0x0003 => set_i(rec, "obd_rpm", i64::from(v.u16()?)),
            0x0004 => set_f(rec, "board_voltage", f64::from(v.u16()?) / 1000.0),
            0x0005 => set_f(rec, "can_mileage", f64::from(v.u32()?) / 10.0),
            0x0007 => set_f(rec, "obd_consumption", f64::from(v.u16()?) / 10.0),
            0x0008 => set_f(rec, "obd_engine_load", f64::from(v.u16()?) / 10.0),
            0x0009 => set_i(rec, "obd_coolant_t", i64::from(v.u16()?) - 40),
            0x000B => set_i(rec, "obd_intake_pressure", i64::from(v.u16()?)),
            0x000C => set_i(rec, "obd_intake_air_t", i64::from(v.u16()?) - 40),
            0x000D => set_i(rec, "obd_intake_flow", i64::from(v.u16()?)),
            0x000E => set_i(rec, "obd_throttle", i64::from(v.u16()?) * 100 / 255),
            0x0050 => set_s(rec, "obd_vin", text(v.bytes(17)?)),
            0x0100 => set_f(rec, "trip_mileage", f64::from(v.u16()?) / 10.0),
            0x0102 => set_f(rec, "trip_fuel_used", f64::from(v.u16()?) / 10.0),
            0x0112 => set_i(rec, "hard_acceleration_count", i64::from(v.u16()?)),
            0x0113 => set_i(rec, "hard_braking_count", i64::from(v.u16()?)),
            0x0114 => set_i(rec, "hard_cornering_count", i64::from(v.u16()?)),
            _ => {}
        }
    }
    Ok(())
}

/// 0xF6: an event code and a mask of environment readings.
pub(super) fn aovx_sensors(rec: &mut Record, d: &mut Reader) -> Result<(), DecodeError> {
    let event = d.u8()?;
    set_i(rec, "event", i64::from(event));
    if event == 2 {
        rec.motion = Some(true);
    }
    let mask = u64::from(d.u8()?);
    if bit(mask, 0) {
        set_i(rec, "illuminance", i64::from(d.u16()?));
    }
    if bit(mask, 1) {
        set_f(rec, "ext_temp_sensor_1", f64::from(d.i16()?) / 10.0);
    }
    if bit(mask, 2) {
        set_f(rec, "humidity_1", f64::from(d.i16()?) / 10.0);
    }
    if bit(mask, 3) {
        let (x, y, z) = (d.i16()?, d.i16()?, d.i16()?);
        set_s(rec, "g_sensor", format!("[{x},{y},{z}]"));
    }
    if bit(mask, 4) {
        d.skip(10)?; // threshold configuration
    }
    if bit(mask, 5) {
        set_i(rec, "air_pressure", i64::from(d.u16()?));
    }
    Ok(())
}

/// `$OBD-RT,power,rpm,speed,throttle,load,coolant,instant l/h,average l/100km,trip km,
/// odometer km,trip fuel l,total fuel l,...`: empty fields are absent readings.
pub(super) fn obd_rt(rec: &mut Record, line: &str) {
    const KEYS: [&str; 12] = [
        "board_voltage",
        "obd_rpm",
        "obd_speed",
        "obd_throttle",
        "obd_engine_load",
        "obd_coolant_t",
        "obd_consumption",
        "obd_avg_consumption",
        "trip_mileage",
        "can_mileage",
        "trip_fuel_used",
        "fuel_consumption",
    ];
    for (key, field) in KEYS.iter().zip(line.split(',').skip(1)) {
        if let Ok(v) = field.trim().parse::<f64>() {
            set_f(rec, *key, v);
        }
    }
}

/// Sign and magnitude in 15 bits, as the temperature items send it.
pub(super) fn sign_magnitude(v: u16) -> f64 {
    let m = f64::from(v & 0x7FFF);
    if v & 0x8000 != 0 {
        -m
    } else {
        m
    }
}

/// Integer part as a signed byte and fraction in 1/255: the E6 sensor encoding.
pub(super) fn byte_pair_value(d: &mut Reader) -> Result<f64, DecodeError> {
    let whole = d.i8()?;
    let frac = f64::from(d.u8()?) / 255.0;
    let mag = f64::from(whole.unsigned_abs()) + frac;
    Ok(if whole < 0 { -mag } else { mag })
}

/// The last `n` bytes of what is left in `d`.
pub(super) fn data_tail<'a>(d: &mut Reader<'a>, n: usize) -> Result<&'a [u8], DecodeError> {
    let skip = d
        .remaining()
        .checked_sub(n)
        .ok_or_else(|| DecodeError::reject("item shorter than its tail"))?;
    d.skip(skip)?;
    d.bytes(n)
}
