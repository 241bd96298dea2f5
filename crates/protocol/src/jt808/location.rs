//! The location report body (0x0200, also inside 0x0201, 0x0500, 0x0704, 0x0801, 0x0210):
//! 28 bytes of basic information, then additional information items `id, length, value`.
//!
//! Items 0x01..0x31 are the standard's (JT/T 808-2013 table 27, 2019 table 28); the ids
//! above are vendor extensions, decoded the way the devices in the captures use them (the
//! same layouts Traccar's decoder knows). Every item is read from its own slice: an item
//! that does not match the expected layout is skipped without touching its neighbours.

use super::items::*;
use super::util::*;
use super::Model;
use crate::error::DecodeError;
use crate::message::{Alarm, Fix, Record};
use crate::reader::Reader;

/// Decodes basic information and additional items from `r` to its end.
pub(super) fn location(r: &mut Reader, model: &Model) -> Result<Record, DecodeError> {
    let alarm = r.u32()?;
    let mut rec = Record::default();
    alarm_flags(&mut rec, alarm, model);
    status_and_coords(&mut rec, r, model)?;
    let altitude = r.i16()?;
    let speed = r.u16()?;
    let course = r.u16()?;
    rec.time = bcd_time(r.bytes(6)?, GMT8_SECS);
    if let Some(fix) = rec.fix.as_mut() {
        fix.altitude = Some(f64::from(altitude));
        fix.speed = Some(f64::from(speed) / 10.0);
        fix.course = Some(f64::from(course));
    }
    items(&mut rec, r.rest(), model);
    Ok(rec)
}

/// The standard alarm flags (table 24), with the vendor bits 15..17 and the layouts of
/// padlocks and AOVX trackers, which reuse the word for their own events.
fn alarm_flags(rec: &mut Record, v: u32, model: &Model) {
    let v = u64::from(v);
    if model.padlock() {
        if bit(v, 0) || bit(v, 4) {
            add_alarm(rec, Alarm::Removing);
        }
        if bit(v, 1) {
            add_alarm(rec, Alarm::Tampering);
        }
        return;
    }
    if model.aovx() {
        if bit(v, 16) {
            add_alarm(rec, Alarm::Movement);
        }
        return;
    }
    const TABLE: [(u32, Option<Alarm>, &str); 30] = [
        (0, Some(Alarm::Sos), ""),
        (1, Some(Alarm::Overspeed), ""),
        (2, Some(Alarm::Fatigue), ""),
        (3, None, "danger_warning"),
        (4, None, "gnss_fault"),
        (5, Some(Alarm::GpsAntennaCut), ""),
        (6, None, "gnss_antenna_short"),
        (7, Some(Alarm::LowPower), ""),
        (8, Some(Alarm::PowerCut), ""),
        (9, None, "lcd_fault"),
        (10, None, "tts_fault"),
        (11, None, "camera_fault"),
        (12, None, "ic_card_fault"),
        (13, None, "overspeed_warning"),
        (14, None, "fatigue_warning"),
        // 15..17 are reserved by the standard; trackers use them as below.
        (15, Some(Alarm::Vibration), ""),
        (16, Some(Alarm::Tampering), ""),
        (17, Some(Alarm::Tampering), ""),
        (18, None, "driving_overtime"),
        (19, None, "parking_overtime"),
        (20, None, "geofence"),
        (21, None, "route"),
        (22, None, "route_time"),
        (23, None, "route_deviation"),
        (24, None, "vss_fault"),
        (25, None, "fuel_abnormal"),
        (26, None, "theft"),
        (27, None, "illegal_ignition"),
        (28, Some(Alarm::Movement), ""),
        (31, Some(Alarm::Door), ""),
    ];
    for (n, alarm, name) in TABLE {
        if bit(v, n) {
            match alarm {
                Some(a) => add_alarm(rec, a),
                None => other_alarm(rec, name),
            }
        }
    }
    // Collision and rollover; the VL300 uses these bits for something else.
    if (bit(v, 29) || bit(v, 30)) && !model.vl300() {
        add_alarm(rec, Alarm::Accident);
    }
}

/// Status word, latitude and longitude (table 25): also the head of vendor records in 0x0900.
pub(super) fn status_and_coords(
    rec: &mut Record,
    r: &mut Reader,
    model: &Model,
) -> Result<(), DecodeError> {
    let status = u64::from(r.u32()?);
    let lat = f64::from(r.u32()?) / 1_000_000.0;
    let lon = f64::from(r.u32()?) / 1_000_000.0;
    rec.ignition = Some(bit(status, 0));
    if model.g1c_pro() {
        rec.motion = Some(bit(status, 4));
    }
    set_b(rec, "fuel_cut", bit(status, 10));
    if model.mv_door() {
        set_b(rec, "door", bit(status, 16));
    }
    set_b(rec, "charging", bit(status, 26));
    let valid = bit(status, 1);
    let lat = if bit(status, 2) { -lat } else { lat };
    let lon = if bit(status, 3) { -lon } else { lon };
    // An unpositioned terminal reports 0/0: that is no position at all, not the Gulf of Guinea.
    if valid || lat != 0.0 || lon != 0.0 {
        rec.fix = Some(Fix::new(lat, lon, valid));
    }
    Ok(())
}

/// Splits the additional items. When they do not tile the rest of the body and exactly 18
/// bytes remain, it is the fixed tail some older terminals send instead.
fn items(rec: &mut Record, rest: &[u8], model: &Model) {
    let mut list = Vec::new();
    let mut pos = 0usize;
    let mut tiled = true;
    while pos < rest.len() {
        let (Some(&id), Some(&len)) = (rest.get(pos), rest.get(pos + 1)) else {
            tiled = false;
            break;
        };
        let start = pos + 2;
        let end = start + usize::from(len);
        let Some(data) = rest.get(start..end) else {
            tiled = false;
            break;
        };
        list.push((id, data));
        pos = end;
    }
    if !tiled && rest.len() == 18 {
        let _ = fixed_tail(rec, &mut Reader::new(rest));
        return;
    }
    let mut obd = false;
    for (id, data) in list {
        let mut d = Reader::new(data);
        // A malformed item is skipped; the ones around it still count.
        let _ = if obd {
            obd_item(rec, id, &mut d)
        } else {
            item(rec, id, &mut d, model, &mut obd)
        };
    }
}

fn fixed_tail(rec: &mut Record, r: &mut Reader) -> Result<(), DecodeError> {
    r.skip(4)?; // remaining battery and mileage, superseded by the fields below
    set_f(rec, "hw_mileage", f64::from(r.u32()?));
    set_f(rec, "battery_voltage", f64::from(r.u16()?) / 10.0);
    r.skip(4)?; // area id
    set_rssi(rec, r.u8()?);
    Ok(())
}

fn item(
    rec: &mut Record,
    id: u8,
    d: &mut Reader,
    model: &Model,
    obd: &mut bool,
) -> Result<(), DecodeError> {
    let len = d.remaining();
    match id {
        0x01 => set_f(rec, "hw_mileage", f64::from(d.u32()?) / 10.0),
        0x02 => {
            let v = d.u16()?;
            // Some terminals flag a percentage with the top bit instead of tenths of a litre.
            if v & 0x8000 != 0 {
                set_i(rec, "fuel_percent", i64::from(v & 0x7FFF));
            } else {
                set_f(rec, "fuel_level", f64::from(v) / 10.0);
            }
        }
        0x03 => set_f(rec, "can_speed", f64::from(d.u16()?) / 10.0),
        0x04 => set_i(rec, "alarm_event_id", i64::from(d.u16()?)),
        0x06 if len == 1 => set_battery_level(rec, i64::from(d.u8()?)),
        0x0B => lock_item(rec, len, d)?,
        0x12 => {
            let _area_type = d.u8()?;
            set_i(rec, "geofence_id", i64::from(d.u32()?));
            match d.u8()? {
                0 => add_alarm(rec, Alarm::GeofenceEnter),
                1 => add_alarm(rec, Alarm::GeofenceExit),
                _ => {}
            }
        }
        0x14 => set_i(rec, "video_alarm", i64::from(d.u32()?)),
        0x15 => set_i(rec, "video_signal_loss", i64::from(d.u32()?)),
        0x16 => set_i(rec, "video_occlusion", i64::from(d.u32()?)),
        0x17 => set_i(rec, "storage_fault", i64::from(d.u16()?)),
        0x18 => set_i(rec, "driving_behaviour", i64::from(d.u16()?)),
        0x25 => set_i(rec, "vehicle_signal_status", i64::from(d.u32()?)),
        0x2A => set_i(rec, "io_status", i64::from(d.u16()?)),
        0x2B => {
            // AD0 in the low half, AD1 in the high half, in hundredths of a volt.
            let v = d.u32()?;
            set_f(rec, "analog_1", f64::from(v & 0xFFFF) / 100.0);
            set_f(rec, "analog_2", f64::from(v >> 16) / 100.0);
        }
        0x30 => set_rssi(rec, d.u8()?),
        0x31 => set_sats(rec, d.u8()?),
        0x33 => {
            if len == 1 {
                set_i(rec, "mode", i64::from(d.u8()?));
            } else {
                // JT701 lock status line: `*M00,<lock>,<status digits>...`, volts in 10 mV.
                let s = text(d.rest());
                if s.starts_with("*M00") {
                    if let Some(v) = s.get(10..13).and_then(|v| v.parse::<u32>().ok()) {
                        set_f(rec, "battery_voltage", f64::from(v) / 100.0);
                    }
                }
            }
        }
        0x51 if len == 2 || len == 16 => {
            for i in 1..=len / 2 {
                let v = d.u16()?;
                if v != 0xFFFF {
                    set_f(
                        rec,
                        format!("ext_temp_sensor_{i}"),
                        sign_magnitude(v) / 10.0,
                    );
                }
            }
        }
        0x56 => {
            set_battery_level(rec, i64::from(d.u8()?) * 10);
        }
        0x57 => {
            let a = u64::from(d.u16()?);
            if bit(a, 8) {
                add_alarm(rec, Alarm::HardAcceleration);
            }
            if bit(a, 9) {
                add_alarm(rec, Alarm::HardBraking);
            }
            if bit(a, 10) {
                add_alarm(rec, Alarm::HardCornering);
            }
            d.skip(2)?; // external switch state
            let b = u64::from(d.u32()?);
            if model.mv_door() && bit(b, 16) {
                add_alarm(rec, Alarm::Door);
            }
        }
        0x60 => {
            let event = d.u16()?;
            set_i(rec, "event", i64::from(event));
            if (0x61..=0x66).contains(&event) {
                d.skip(6)?; // lock id
                rec.hardware_key = Some(text(d.bytes(8)?));
            }
        }
        0x63 => {
            for i in 1..=len / 11 {
                set_s(rec, format!("lock_{i}_id"), hex(d.bytes(6)?));
                set_f(
                    rec,
                    format!("lock_{i}_battery"),
                    f64::from(d.u16()?) / 1000.0,
                );
                set_b(rec, format!("lock_{i}_sealed"), d.u8()? == 0x31);
                d.skip(2)?; // physical state, rssi
            }
        }
        0x64 | 0x65 => {
            d.skip(5)?; // alarm serial number, alarm status
            let key = if id == 0x64 {
                "adas_alarm"
            } else {
                "dms_alarm"
            };
            set_i(rec, key, i64::from(d.u8()?));
            if len >= 47 {
                let label = data_tail(d, 16)?;
                set_s(rec, "alarm_label", hex(label));
            }
        }
        0x69 => set_f(rec, "battery_voltage", f64::from(d.u16()?) / 100.0),
        0x70 => {
            d.skip(5)?;
            match d.u8()? {
                0x01 => add_alarm(rec, Alarm::HardAcceleration),
                0x02 => add_alarm(rec, Alarm::HardBraking),
                0x03 => add_alarm(rec, Alarm::HardCornering),
                0x16 => add_alarm(rec, Alarm::Accident),
                _ => {}
            }
        }
        0x77 => {
            while d.remaining() > 0 {
                let i = d.u8()?;
                set_s(rec, format!("tire_{i}_sensor_id"), hex(d.bytes(3)?));
                set_f(
                    rec,
                    format!("tire_{i}_pressure"),
                    f64::from(d.u16()? & 0x03FF) / 40.0,
                );
                set_i(rec, format!("tire_{i}_temp"), i64::from(d.u8()?) - 50);
                set_i(rec, format!("tire_{i}_status"), i64::from(d.u8()?));
            }
        }
        0x80 => {
            // The items after this marker are the OBD extension's, with their own ids.
            *obd = true;
        }
        0x82 => set_f(rec, "board_voltage", f64::from(d.u16()?) / 10.0),
        0x91 => {
            set_f(rec, "battery_voltage", f64::from(d.u16()?) / 10.0);
            set_i(rec, "obd_rpm", i64::from(d.u16()?));
            set_i(rec, "obd_speed", i64::from(d.u8()?));
            set_i(rec, "obd_throttle", i64::from(d.u8()?) * 100 / 255);
            set_i(rec, "obd_engine_load", i64::from(d.u8()?) * 100 / 255);
            set_i(rec, "obd_coolant_t", i64::from(d.u8()?) - 40);
            d.skip(2)?;
            set_f(rec, "obd_consumption", f64::from(d.u16()?) / 100.0);
            d.skip(8)?;
            set_f(rec, "fuel_consumption", f64::from(d.u16()?) / 100.0);
        }
        0x94 if len > 0 => set_s(rec, "obd_vin", text(d.rest())),
        0xA7 => {
            set_f(rec, "analog_1", f64::from(d.u16()?) / 100.0);
            set_f(rec, "analog_2", f64::from(d.u16()?) / 100.0);
        }
        0xAC => set_f(rec, "hw_mileage", f64::from(d.u32()?) / 1000.0),
        0xBC => set_s(rec, "driver_name", text(d.rest())),
        0xBD => rec.hardware_key = Some(text(d.rest())),
        0xCC => set_s(rec, "iccid", text(d.bytes(20)?)),
        0xD0 if bit(u64::from(d.u32()?), 3) => add_alarm(rec, Alarm::Vibration),
        0xD3 => set_f(rec, "board_voltage", f64::from(d.u16()?) / 10.0),
        0xD4 | 0xE1 | 0xE9 => battery_or_cells(rec, id, d)?,
        0xD5 => {
            if len == 2 {
                set_f(rec, "battery_voltage", f64::from(d.u16()?) / 100.0);
            } else {
                for i in 1..=d.u8()? {
                    set_s(rec, format!("lock_{i}_id"), hex(d.bytes(5)?));
                    set_s(rec, format!("lock_{i}_card"), hex(d.bytes(5)?));
                    set_i(rec, format!("lock_{i}_battery_level"), i64::from(d.u8()?));
                    let status = u64::from(d.u16()?);
                    set_b(rec, format!("lock_{i}_locked"), !bit(status, 5));
                }
            }
        }
        0xDA => {
            d.skip(2)?; // string cut count
            let s = u64::from(d.u8()?);
            set_b(rec, "string_cut", bit(s, 0));
            rec.motion = Some(bit(s, 2));
            set_b(rec, "cover_open", bit(s, 3));
        }
        0xE2 if !model.dt800() => set_f(rec, "fuel_level", f64::from(d.u32()?) / 10.0),
        0xE3 if len == 6 => {
            d.skip(1)?;
            set_battery_level(rec, i64::from(d.u8()?));
            set_f(rec, "battery_voltage", f64::from(d.u16()?) / 100.0);
        }
        0xE4 => {
            set_b(rec, "charging", d.u8()? == 0);
            set_battery_level(rec, i64::from(d.u8()?));
        }
        0xE5 if len == 1 => rec.motion = Some(d.u8()? == 1),
        0xE6 => {
            if d.rest().starts_with(b"$OBD-RT") {
                obd_rt(rec, &text(d.rest()));
            } else if len >= 11 && len.is_multiple_of(11) {
                while d.remaining() > 0 {
                    let i = d.u8()?;
                    d.skip(6)?; // sensor MAC
                    set_f(rec, format!("ext_temp_sensor_{i}"), byte_pair_value(d)?);
                    set_f(rec, format!("humidity_{i}"), byte_pair_value(d)?);
                }
            }
        }
        0xE7 if len == 8 => {
            let a = u64::from(d.u16()?);
            if bit(a, 0) {
                add_alarm(rec, Alarm::Vibration);
            }
            if (a >> 1) & 0x7 != 0 {
                add_alarm(rec, Alarm::Sos);
            }
        }
        0xE8 => {
            if model.jc() {
                jc_item(rec, d)?;
            } else {
                set_i(rec, "lock_status", i64::from(d.u24()?));
            }
        }
        0xEA if len > 2 => ext_sensors(rec, d)?,
        0xEB => eb_item(rec, d)?,
        0xED => set_s(rec, "card", text(d.rest())),
        0xEE if len == 6 => {
            set_rssi(rec, d.u8()?);
            set_f(rec, "board_voltage", f64::from(d.u16()?) / 1000.0);
            set_f(rec, "battery_voltage", f64::from(d.u16()?) / 1000.0);
            set_sats(rec, d.u8()?);
        }
        0xF0 => {
            while d.remaining() > 0 {
                let mcc = d.u16()?;
                let mnc = d.u16()?;
                let cid = d.u32()?;
                let lac = d.u32()?;
                d.skip(1)?; // rssi
                set_cell(rec, mcc, mnc, lac, u64::from(cid));
            }
        }
        0xF1 => set_f(rec, "board_voltage", f64::from(d.u32()?) / 1000.0),
        0xF2 => set_s(rec, "firmware_version", text(d.rest())),
        0xF3 => {
            if model.aovx() {
                ble_tags(rec, d)?;
            } else {
                obd_list(rec, d)?;
            }
        }
        0xF5 if len == 2 => set_i(rec, "illuminance", i64::from(d.u16()?)),
        0xF6 => {
            if !model.aovx() && len == 2 {
                set_i(rec, "air_pressure", i64::from(d.u16()?));
            } else if !model.aovx() && len == 8 {
                // The terminal's IMEI, which the header already identifies.
            } else {
                aovx_sensors(rec, d)?;
            }
        }
        0xF7 => {
            if len == 2 {
                set_f(rec, "humidity_1", f64::from(d.u16()?) / 10.0);
            } else {
                set_f(rec, "battery_voltage", f64::from(d.u32()?) / 1000.0);
                if len >= 5 {
                    let s = d.u8()?;
                    set_b(rec, "charging", s == 2 || s == 3);
                }
                if len >= 6 {
                    set_battery_level(rec, i64::from(d.u8()?));
                }
            }
        }
        0xF8 => {
            if model.aovx() {
                d.skip(1 + 8)?; // working mode, IMEI
                set_s(rec, "iccid", hex(d.bytes(10)?));
            } else if model.steps() {
                set_i(rec, "steps", i64::from(d.u16()?));
            } else {
                set_f(rec, "ext_temp_sensor_2", f64::from(d.u16()?) / 10.0 - 50.0);
            }
        }
        0xF9 => {
            let mask = u64::from(d.u16()?);
            if bit(mask, 0) {
                d.skip(4)?; // GNSS age
            }
            if bit(mask, 1) {
                d.skip(4)?; // ACC on time
            }
            if bit(mask, 2) {
                set_hdop(rec, f64::from(d.u16()?) / 10.0);
            }
            if bit(mask, 3) {
                d.skip(6)?; // GNSS time
            }
            if bit(mask, 5) {
                d.skip(8)?; // sampling and report intervals
            }
            if bit(mask, 6) {
                set_f(rec, "ext_temp_sensor_3", f64::from(d.i16()?) / 10.0);
            }
        }
        0xFB => {
            let container = text(d.rest());
            if !container.is_empty() {
                set_s(rec, "container", container);
            }
        }
        0xFC => set_i(rec, "geofence_id", i64::from(d.u8()?)),
        0xFE => match len {
            1 => set_battery_level(rec, i64::from(d.u8()?)),
            2 => set_f(rec, "board_voltage", f64::from(d.u16()?) / 10.0),
            4 => set_f(rec, "hw_mileage", f64::from(d.u32()?) / 1000.0),
            _ => {
                if d.u8()? == 0x7C {
                    while d.remaining() > 1 {
                        let t = d.u8()?;
                        let l = usize::from(d.u8()?);
                        let v = d.bytes(l)?;
                        if t == 0x01 {
                            let a = u64::from(Reader::new(v).u32()?);
                            for (n, alarm) in [
                                (0, Alarm::HardAcceleration),
                                (1, Alarm::HardBraking),
                                (2, Alarm::HardCornering),
                                (3, Alarm::Accident),
                                (4, Alarm::Tampering),
                            ] {
                                if bit(a, n) {
                                    add_alarm(rec, alarm);
                                }
                            }
                        }
                    }
                }
                set_battery_level(rec, i64::from(d.u8()?));
            }
        },
        _ => {}
    }
    Ok(())
}
