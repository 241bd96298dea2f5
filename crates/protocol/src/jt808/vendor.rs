//! Message bodies other than the location report: transparent data (0x0900), JT701 e-lock
//! reports (0x5501/0x5502), acceleration samples (0x2070), terminal attributes (0x0107),
//! driver identity (0x0702).

use super::items::{lock_item, obd_rt, sign_magnitude};
use super::location::status_and_coords;
use super::util::*;
use super::Model;
use crate::error::DecodeError;
use crate::message::{Alarm, Fix, Record};
use crate::reader::Reader;
use crate::time;

/// 0x0900 uplink transparent data: the first byte says whose payload follows.
pub(super) fn transparent(body: &[u8], model: &Model) -> Result<Vec<Record>, DecodeError> {
    let mut r = Reader::new(body);
    let kind = r.u8()?;
    let mut rec = Record::default();
    match kind {
        0x40 => {
            let data = text(r.rest());
            if data.starts_with("GTSL") {
                // Driver login line of a card reader: GTSL|type|...|card number|...
                if let Some(card) = data.split('|').nth(4) {
                    rec.hardware_key = Some(card.to_owned());
                }
            } else if !data.is_empty() {
                set_s(&mut rec, "data", data);
            } else {
                return Ok(Vec::new());
            }
        }
        0x41 => obd_rt(&mut rec, &text(r.rest())),
        0xF0 => return obd_box(&mut r, model),
        0xFF => {
            rec.time = bcd_time(r.bytes(6)?, GMT8_SECS);
            let lat = f64::from(r.i32()?) / 1_000_000.0;
            let lon = f64::from(r.i32()?) / 1_000_000.0;
            let mut fix = Fix::new(lat, lon, true);
            fix.altitude = Some(f64::from(r.i16()?));
            fix.speed = Some(f64::from(r.u16()?) / 10.0);
            fix.course = Some(f64::from(r.u16()?));
            rec.fix = Some(fix);
        }
        0xF3 => {
            while r.remaining() > 4 {
                let t = r.u16()?;
                let l = usize::from(r.u16()?);
                let mut v = Reader::new(r.bytes(l)?);
                match t {
                    0x0002 => set_f(&mut rec, "collision", f64::from(v.u16()?) / 25_600.0),
                    0x0006 => rec.time = bcd_time(v.bytes(6)?, GMT8_SECS),
                    _ => {}
                }
            }
        }
        0x53 | 0x54 => return aovx(&mut r, kind, model),
        _ => return Ok(Vec::new()),
    }
    Ok(vec![rec])
}

/// 0x0900/0xF0: an OBD box's report: a time, a history flag and one of several sub-reports,
/// most followed by status and coordinates.
fn obd_box(r: &mut Reader, model: &Model) -> Result<Vec<Record>, DecodeError> {
    let mut rec = Record {
        time: bcd_time(r.bytes(6)?, GMT8_SECS),
        ..Record::default()
    };
    rec.buffered = r.u8()? > 0;
    r.skip(1)?; // vehicle type
    match r.u8()? {
        0x01 => {
            for _ in 0..r.u8()? {
                let id = r.u16()?;
                let len = usize::from(r.u8()?);
                let mut v = Reader::new(r.bytes(len)?);
                let _ = obd_box_item(&mut rec, id, &mut v);
            }
            status_and_coords(&mut rec, r, model)?;
        }
        0x02 => {
            let mut codes = Vec::new();
            for _ in 0..r.u16()? {
                r.skip(4)?; // system id
                for _ in 0..r.u16()? {
                    r.skip(8)?; // code and its status
                    let len = usize::from(r.u16()?);
                    codes.push(text(r.bytes(len)?));
                }
            }
            set_s(&mut rec, "obd_dtc_codes", codes.join(" "));
            set_i(
                &mut rec,
                "obd_dtc_number",
                i64::try_from(codes.len()).unwrap_or(0),
            );
            status_and_coords(&mut rec, r, model)?;
        }
        0x03 => {
            for _ in 0..r.u8()? {
                let id = r.u8()?;
                let len = usize::from(r.u8()?);
                r.skip(len)?;
                match id {
                    0x01 => add_alarm(&mut rec, Alarm::PowerRestored),
                    0x02 => add_alarm(&mut rec, Alarm::PowerCut),
                    0x0E => add_alarm(&mut rec, Alarm::Idle),
                    0x1A => add_alarm(&mut rec, Alarm::HardAcceleration),
                    0x1B => add_alarm(&mut rec, Alarm::HardBraking),
                    0x1C => add_alarm(&mut rec, Alarm::HardCornering),
                    0x1D..=0x1F => other_alarm(&mut rec, "lane_change"),
                    0x23 => add_alarm(&mut rec, Alarm::Fatigue),
                    0x25 => add_alarm(&mut rec, Alarm::Overspeed),
                    0x26..=0x28 => add_alarm(&mut rec, Alarm::Accident),
                    0x31 | 0x32 => add_alarm(&mut rec, Alarm::Door),
                    _ => {}
                }
            }
            status_and_coords(&mut rec, r, model)?;
        }
        0x04 => {
            let property = r.u8()?;
            set_i(&mut rec, "trip_number", i64::from(r.u32()?));
            r.skip(6)?; // start time
            if property == 0x02 {
                r.skip(6 + 8 + 8 + 1)?; // end time, start and end locations, flags
                set_i(&mut rec, "idling_count", i64::from(r.u16()?));
                set_i(&mut rec, "idling_time", i64::from(r.u16()?));
                set_f(&mut rec, "trip_mileage", f64::from(r.u16()?) / 10.0);
                set_f(&mut rec, "trip_fuel_used", f64::from(r.u16()?) / 100.0);
            }
        }
        0x0B => {
            if r.u8()? > 0 {
                set_s(&mut rec, "obd_vin", text(r.bytes(17)?));
            }
        }
        0x15 => match r.i32()? {
            51 => add_alarm(&mut rec, Alarm::HardAcceleration),
            52 => add_alarm(&mut rec, Alarm::HardBraking),
            53 => add_alarm(&mut rec, Alarm::HardCornering),
            54 => other_alarm(&mut rec, "lane_change"),
            56 => add_alarm(&mut rec, Alarm::Accident),
            event => set_i(&mut rec, "event", i64::from(event)),
        },
        _ => return Ok(Vec::new()),
    }
    Ok(vec![rec])
}

fn obd_box_item(rec: &mut Record, id: u16, v: &mut Reader) -> Result<(), DecodeError> {
    match id {
        0x0102 | 0x0528 | 0x0546 => set_f(rec, "can_mileage", f64::from(v.u32()?) / 10.0),
        0x0103 => set_f(rec, "fuel_level", f64::from(v.u32()?) / 100.0),
        0x0111 => set_i(rec, "fuel_temperature", i64::from(v.u8()?) - 40),
        0x012E => set_f(rec, "oil_level", f64::from(v.u16()?) / 10.0),
        0x052A => set_f(rec, "fuel_level", f64::from(v.u16()?) / 100.0),
        0x0105 | 0x052C => set_f(rec, "fuel_consumption", f64::from(v.u32()?) / 100.0),
        0x014A | 0x0537 | 0x0538 | 0x0539 => {
            set_f(rec, "obd_consumption", f64::from(v.u16()?) / 100.0)
        }
        0x052B => set_i(rec, "obd_fuel", i64::from(v.u8()?)),
        0x052D => set_i(rec, "obd_coolant_t", i64::from(v.u8()?) - 40),
        0x052E => set_i(rec, "air_temp", i64::from(v.u8()?) - 40),
        0x0530 => set_f(rec, "board_voltage", f64::from(v.u16()?) / 1000.0),
        0x0535 => set_f(rec, "obd_speed", f64::from(v.u16()?) / 10.0),
        0x0536 => set_i(rec, "obd_rpm", i64::from(v.u16()?)),
        0x053D => set_f(rec, "obd_intake_pressure", f64::from(v.u16()?) / 10.0),
        0x0544 => set_i(rec, "liquid_level", i64::from(v.u8()?)),
        0x0547 | 0x0548 => set_i(rec, "obd_throttle", i64::from(v.u8()?)),
        0xFEEC => set_s(rec, "obd_vin", text(v.rest())),
        _ => {
            let key = format!("io_{id}");
            match v.remaining() {
                1 => set_i(rec, key, i64::from(v.u8()?)),
                2 => set_i(rec, key, i64::from(v.u16()?)),
                4 => set_i(rec, key, i64::from(v.u32()?)),
                _ => {}
            }
        }
    }
    Ok(())
}

/// 0x0900/0x53 and 0x54 of AOVX trackers (GL100): a position, then BLE tags (0x53) or
/// timed environment samples (0x54), each sample its own record at its own time.
fn aovx(r: &mut Reader, kind: u8, model: &Model) -> Result<Vec<Record>, DecodeError> {
    let mut rec = Record::default();
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
    let mut out = Vec::new();
    if kind == 0x53 {
        r.skip(1)?; // node count over all subpackages
        while r.remaining() > 0 {
            let i = u32::from(r.u8()?) + 1;
            set_s(&mut rec, format!("tag_{i}_mac"), hex(r.bytes(6)?));
            set_i(&mut rec, format!("tag_{i}_rssi"), i64::from(r.i8()?));
            let len = usize::from(r.u8()?);
            set_s(&mut rec, format!("tag_{i}_data"), hex(r.bytes(len)?));
        }
        out.push(rec);
    } else {
        out.push(rec);
        while r.remaining() > 0 {
            let mask = u64::from(r.u16()?);
            let mut s = Record {
                time: bcd_time(r.bytes(6)?, GMT8_SECS),
                ..Record::default()
            };
            if bit(mask, 0) {
                set_i(&mut s, "illuminance", i64::from(r.u16()?));
            }
            if bit(mask, 1) {
                set_f(&mut s, "temp_sensor", f64::from(r.i16()?) / 10.0);
                set_f(&mut s, "humidity_1", f64::from(r.i16()?) / 10.0);
            }
            if bit(mask, 2) {
                set_f(&mut s, "ext_temp_sensor_3", f64::from(r.i16()?) / 10.0);
            }
            if bit(mask, 3) {
                r.skip(6)?; // acceleration
            }
            if bit(mask, 4) {
                set_i(&mut s, "air_pressure", i64::from(r.u16()?));
            }
            out.push(s);
        }
    }
    Ok(out)
}

/// 0x5501 (live) and 0x5502 (stored while out of coverage) of Jointech JT701 e-locks: the
/// JT600 binary position (UTC, ddmmyy, degrees and minutes in BCD), then lock state.
pub(super) fn jt701(body: &[u8], stored: bool) -> Result<Record, DecodeError> {
    let mut r = Reader::new(body);
    let d: Vec<u32> = r
        .bytes(6)?
        .iter()
        .map(|&b| bcd_byte(b))
        .collect::<Option<_>>()
        .ok_or_else(|| DecodeError::reject("JT701 time is not BCD"))?;
    let time = match d.as_slice() {
        [dd, mo, yy, hh, mi, ss] => time::utc(time::year_2digit(*yy), *mo, *dd, *hh, *mi, *ss),
        _ => None,
    };
    let lat_raw = bcd_int(r.bytes(4)?)?;
    let lon_bytes = r.bytes(5)?;
    let (lon_head, last) = lon_bytes.split_at(4);
    let last = last.first().copied().unwrap_or(0);
    let lon_raw = bcd_int(lon_head)?
        .checked_mul(10)
        .and_then(|v| v.checked_add(u64::from(last >> 4)))
        .filter(|_| last >> 4 <= 9)
        .ok_or_else(|| DecodeError::reject("JT701 longitude is not BCD"))?;
    let flags = last & 0x0F;
    let mut lat = degrees_minutes(lat_raw);
    let mut lon = degrees_minutes(lon_raw);
    if flags & 0x2 == 0 {
        lat = -lat;
    }
    if flags & 0x4 == 0 {
        lon = -lon;
    }
    let mut fix = Fix::new(lat, lon, flags & 0x1 != 0);
    let speed = bcd_byte(r.u8()?).ok_or_else(|| DecodeError::reject("speed is not BCD"))?;
    // JT600 reports knots.
    fix.speed = Some(f64::from(speed) * 1.852);
    fix.course = Some(f64::from(r.u8()?) * 2.0);
    let mut rec = Record {
        time,
        fix: Some(fix),
        buffered: stored,
        ..Record::default()
    };
    set_rssi(&mut rec, r.u8()?);
    set_sats(&mut rec, r.u8()?);
    set_f(&mut rec, "hw_mileage", f64::from(r.u32()?));
    match r.u8()? {
        v @ 0..=100 => rec.battery_level = Some(v),
        0xAA | 0xAB => set_b(&mut rec, "charging", true),
        _ => {}
    }
    let cid = r.u32()?;
    let lac = r.u16()?;
    if cid > 0 && lac > 0 {
        let g = gsm(&mut rec);
        g.cell_id = Some(u64::from(cid));
        g.lac = Some(u32::from(lac));
    }
    let product = r.u8()?;
    let status = r.u16()?;
    let alarm = u64::from(r.u16()?);
    let table: &[(u32, Alarm)] = match product {
        1 | 2 => &[(0, Alarm::LowPower)],
        3 => &[
            (0, Alarm::Overspeed),
            (1, Alarm::LowPower),
            (2, Alarm::Vibration),
            (3, Alarm::LowBattery),
            (5, Alarm::GeofenceEnter),
            (6, Alarm::GeofenceExit),
        ],
        _ => &[],
    };
    for (n, a) in table {
        if bit(alarm, *n) {
            add_alarm(&mut rec, a.clone());
        }
    }
    if product == 3 {
        set_b(&mut rec, "locked", bit(u64::from(status), 5));
    }
    set_i(&mut rec, "lock_state", i64::from(status));
    while r.remaining() >= 2 {
        let id = r.u8()?;
        let len = usize::from(r.u8()?);
        let Ok(v) = r.bytes(len) else { break };
        let mut v = Reader::new(v);
        let _ = jt701_item(&mut rec, id, len, &mut v);
    }
    Ok(rec)
}

fn jt701_item(rec: &mut Record, id: u8, len: usize, v: &mut Reader) -> Result<(), DecodeError> {
    match id {
        0x02 => {
            let alt = f64::from(v.i16()?);
            if let Some(fix) = rec.fix.as_mut() {
                fix.altitude = Some(alt);
            }
        }
        0x0A if len == 3 => {
            let (mcc, mnc) = (v.u16()?, v.u8()?);
            if mcc != 0 {
                let g = gsm(rec);
                g.mcc = Some(mcc);
                g.mnc = Some(u16::from(mnc));
            }
        }
        0x0B => lock_item(rec, len, v)?,
        0x0C => {
            let (x, y, z) = (v.i16()?, v.i16()?, v.i16()?);
            set_s(rec, "tilt", format!("[{x},{y},{z}]"));
        }
        0x10 => set_i(rec, "wake_source", i64::from(v.u8()?)),
        0xFC => set_i(rec, "geofence_id", i64::from(v.u8()?)),
        _ => {}
    }
    Ok(())
}

fn bcd_int(b: &[u8]) -> Result<u64, DecodeError> {
    b.iter().try_fold(0u64, |acc, &x| {
        bcd_byte(x)
            .and_then(|v| acc.checked_mul(100)?.checked_add(u64::from(v)))
            .ok_or_else(|| DecodeError::reject("coordinate is not BCD"))
    })
}

/// `DDDMMmmmm` (degrees, then minutes in 1/10000) to decimal degrees.
fn degrees_minutes(raw: u64) -> f64 {
    let degrees = raw / 1_000_000;
    let minutes = (raw % 1_000_000) as f64 / 10_000.0;
    degrees as f64 + minutes / 60.0
}

/// 0x2070: accelerometer samples, `time(6) x y z` with sign-and-magnitude axes.
pub(super) fn acceleration(body: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader::new(body);
    let mut samples = Vec::new();
    while r.remaining() >= 12 {
        r.skip(6)?; // sample time
        let x = sign_magnitude(r.u16()?);
        let y = sign_magnitude(r.u16()?);
        let z = sign_magnitude(r.u16()?);
        samples.push(format!("[{x},{y},{z}]"));
    }
    let mut rec = Record::default();
    set_s(&mut rec, "g_sensor", format!("[{}]", samples.join(",")));
    Ok(rec)
}

/// 0x0107: terminal attributes (the answer to 0x8107, some terminals send it unasked).
pub(super) fn attributes(body: &[u8], v2019: bool) -> Result<Record, DecodeError> {
    let mut r = Reader::new(body);
    let mut rec = Record::default();
    r.skip(2)?; // terminal type
    r.skip(5)?; // manufacturer
    let model = text(r.bytes(if v2019 { 30 } else { 20 })?);
    if !model.is_empty() {
        set_s(&mut rec, "device_model", model);
    }
    r.skip(if v2019 { 30 } else { 7 })?; // terminal id
    set_s(
        &mut rec,
        "iccid",
        hex(r.bytes(10)?).trim_end_matches('f').to_owned(),
    );
    let hw_len = usize::from(r.u8()?);
    let hw = text(r.bytes(hw_len)?);
    if !hw.is_empty() {
        set_s(&mut rec, "hardware_version", hw);
    }
    let fw_len = usize::from(r.u8()?);
    let fw = text(r.bytes(fw_len)?);
    if !fw.is_empty() {
        set_s(&mut rec, "firmware_version", fw);
    }
    Ok(rec)
}

/// 0x0702: a driver's IC card was inserted (status 1) or removed (status 2).
pub(super) fn driver_identity(body: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader::new(body);
    let status = r.u8()?;
    let mut rec = Record {
        time: bcd_time(r.bytes(6)?, GMT8_SECS),
        ..Record::default()
    };
    set_i(&mut rec, "driver_card_status", i64::from(status));
    if status == 1 {
        let result = r.u8()?;
        set_i(&mut rec, "driver_card_result", i64::from(result));
        if result == 0 {
            let name_len = usize::from(r.u8()?);
            let name = text(r.bytes(name_len)?);
            if !name.is_empty() {
                set_s(&mut rec, "driver_name", name);
            }
            // The qualification certificate number identifies the driver.
            rec.hardware_key = Some(text(r.bytes(20)?));
            let agency_len = usize::from(r.u8()?);
            let agency = text(r.bytes(agency_len)?);
            if !agency.is_empty() {
                set_s(&mut rec, "driver_card_agency", agency);
            }
            if let Ok(validity) = r.bytes(4) {
                set_s(&mut rec, "driver_card_validity", hex(validity));
            }
        }
    }
    Ok(rec)
}
