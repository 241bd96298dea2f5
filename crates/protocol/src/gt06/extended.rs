//! Extended (`79 79`) frames: the types only long frames carry. Types the basic form also
//! has (login, heartbeat, locations, alarms) are decoded as basic ones and answered in the
//! extended form.

use crate::error::DecodeError;
use crate::message::{Alarm, CommandReply, Fix, Record, Timestamp};
use crate::reader::Reader;
use crate::time::utc;

use super::decode::{self, access_point, ack, Ctx, Decoded};
use super::encode::response;
use super::fields::*;
use super::frame::Packet;
use super::location::is_location;

const PHOTO_DATA: u8 = 0x36;
const MULTIMEDIA: u8 = 0x41;

pub(super) fn decode(p: &Packet<'_>, ctx: &Ctx<'_>) -> Result<Decoded, DecodeError> {
    let r = &mut Reader::new(p.content);
    match p.kind {
        STRING_INFO => string_info(r),
        INFO => info(r, ctx).map(|rec| match rec {
            Some(rec) => Decoded::record(rec, None),
            None => Decoded::nothing(),
        }),
        // Photo and media transfers need a store for the pieces; not supported.
        PHOTO_DATA | MULTIMEDIA => Ok(Decoded::nothing()),
        GPS_LBS_STATUS_4 | WIFI_5 => az735(p, r, ctx),
        OBD => obd(r, ctx).map(|rec| Decoded::record(rec, None)),
        GPS_MODULAR => modular(r).map(|rec| {
            // Answered in the basic form, as the devices expect.
            Decoded::record(rec, p.serial.map(|s| response(false, GPS_MODULAR, s, &[])))
        }),
        SERIAL => Ok(serial_data(r)),
        PERIPHERAL => peripheral(r)
            .map(|rec| Decoded::record(rec, p.serial.map(|s| response(false, PERIPHERAL, s, &[])))),
        GPS_LBS_8 => {
            let mut rec = Record::default();
            read_gps(r, &mut rec, ctx.tz_offset_secs, GpsLayout::STANDARD)?;
            rec.set_io("gt06_upload_mode", i64::from(r.u8()?));
            rec.buffered = r.u8()? > 0;
            set_cell(
                &mut rec,
                read_lbs(r, LbsLayout::of(p.kind, ctx.variant, false))?,
            );
            Ok(Decoded::record(rec, None))
        }
        LOGIN | HEARTBEAT | STRING | TIME_REQUEST | ALARM | ADDRESS_REQUEST => {
            decode::decode(p, ctx)
        }
        k if is_location(k, ctx.variant, ctx.model) => decode::decode(p, ctx),
        _ => Ok(Decoded::nothing()),
    }
}

/// `0x21`: a command answer in ASCII or UTF-16, or the position a `WHERE#` asked for.
fn string_info(r: &mut Reader<'_>) -> Result<Decoded, DecodeError> {
    r.skip(4)?; // server flag
    let ascii = r.u8()? == 1;
    let rest = r.rest();
    let text = if ascii {
        printable(rest)
    } else {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| match c {
                [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                _ => 0,
            })
            .collect();
        String::from_utf16_lossy(&units)
            .trim_matches(|c: char| c.is_control() || c.is_whitespace())
            .to_owned()
    };
    let mut rec = Record::default();
    if let Some((time, fix)) = text_position(&text) {
        rec.time = Some(time);
        rec.fix = Some(fix);
        return Ok(Decoded::record(rec, None));
    }
    rec.set_io("gt06_result", text.clone());
    let mut d = Decoded::record(rec, None);
    d.message.command_replies.push(CommandReply::Text(text));
    Ok(d)
}

/// `Current position!Lat:N22.57,Lon:E113.86,Course:0.00,Speed:0.00,DateTime:2015-07-14 17:04:47`
fn text_position(text: &str) -> Option<(Timestamp, Fix)> {
    let rest = text.strip_prefix("Current position!")?;
    let mut lat = None;
    let mut lon = None;
    let mut course = None;
    let mut speed = None;
    let mut time = None;
    for part in rest.split(',') {
        let (key, value) = part.split_once(':')?;
        let hemisphere = |v: &str, neg: char| -> Option<f64> {
            let mut chars = v.chars();
            let h = chars.next()?;
            let deg: f64 = chars.as_str().trim().parse().ok()?;
            Some(if h == neg { -deg } else { deg })
        };
        match key.trim() {
            "Lat" => lat = hemisphere(value, 'S'),
            "Lon" => lon = hemisphere(value, 'W'),
            "Course" => course = value.trim().parse::<f64>().ok(),
            "Speed" => speed = value.trim().parse::<f64>().ok(),
            "DateTime" => {
                // The value itself holds colons: take everything after the key.
                let dt = part.get(part.find(':')? + 1..)?.trim();
                let (date, clock) = dt.split_once(' ')?;
                let d: Vec<&str> = date.split('-').collect();
                let c: Vec<&str> = clock.trim().split(':').collect();
                let num = |v: Option<&&str>| v.and_then(|s| s.parse::<u32>().ok());
                time = utc(
                    i64::from(num(d.first())?),
                    num(d.get(1))?,
                    num(d.get(2))?,
                    num(c.first())?,
                    num(c.get(1))?,
                    num(c.get(2))?,
                );
            }
            _ => {}
        }
    }
    let (lat, lon) = (lat?, lon?);
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None;
    }
    let mut fix = Fix::new(lat, lon, true);
    fix.course = course;
    fix.speed = speed;
    Some((time?, fix))
}

/// `0x94`: information transmission, one kind per subtype.
fn info(r: &mut Reader<'_>, ctx: &Ctx<'_>) -> Result<Option<Record>, DecodeError> {
    let mut rec = Record::default();
    match r.u8()? {
        0x00 => rec.set_io("analog_1", f64::from(r.u16()?) / 100.0),
        0x04 => {
            let text = String::from_utf8_lossy(r.rest()).into_owned();
            for pair in text.split(';') {
                let Some((key, value)) = pair.split_once('=') else {
                    continue;
                };
                let number = || i64::from_str_radix(value.trim(), 16).ok();
                match key.trim() {
                    "ALM1" | "ALM2" | "ALM3" => {
                        if let Some(n) = number() {
                            let i = key.trim().trim_start_matches("ALM");
                            rec.set_io(format!("gt06_alarm{i}_status"), n);
                        }
                    }
                    "STA1" => {
                        if let Some(n) = number() {
                            rec.set_io("gt06_other_status", n);
                        }
                    }
                    "DYD" => {
                        if let Some(n) = number() {
                            rec.set_io("gt06_engine_status", n);
                        }
                    }
                    "ICCID" => rec.set_io(
                        "iccid",
                        value.trim().trim_end_matches(['F', 'f']).to_owned(),
                    ),
                    _ => {}
                }
            }
        }
        0x05 => {
            if r.remaining() >= 7 {
                rec.time = read_date(r, ctx.tz_offset_secs)?;
            }
            let flags = r.u8()?;
            rec.set_io("gt06_door", flags & 0x01 != 0);
            rec.inputs = Some(u32::from(flags & 0x01) | (u32::from(flags >> 2 & 0x01) << 1));
        }
        0x0A => {
            r.skip(16)?; // IMEI, IMSI
            let iccid: String = hex(r.bytes(10)?).chars().filter(|&c| c != 'f').collect();
            rec.set_io("iccid", iccid);
        }
        0x0B => match r.remaining() {
            1 => {
                let tech = if r.u8()? > 0 { "4G" } else { "2G" };
                rec.set_io("gt06_network_technology", tech);
            }
            2 => rec.set_io("board_voltage", f64::from(r.u16()?) / 100.0),
            _ => return Ok(None),
        },
        0x0D => {
            if r.rest().first() != Some(&b'!') {
                r.skip(6)?; // date
            }
            let text = String::from_utf8_lossy(r.rest()).into_owned();
            let Some((celsius, level)) = fuel_sensor(&text) else {
                return Ok(None);
            };
            rec.set_io("lls_temperature_1", celsius);
            rec.set_io("lls_level_1", level);
        }
        0x1B => {
            if r.rest().first().is_some_and(u8::is_ascii_alphabetic) {
                let text = printable(r.rest());
                if let Some(card) = text.strip_prefix("RFID:") {
                    rec.hardware_key = Some(card.trim().to_owned());
                }
                rec.set_io("gt06_serial", text);
            } else {
                r.skip(2)?; // header, type
                set_driver(&mut rec, r.bytes(4)?);
            }
        }
        0x1E => {
            rec.set_io("ext_temp_sensor_1", f64::from(r.i32()?) / 10.0);
            rec.set_io("humidity_1", f64::from(r.i32()?) / 10.0);
        }
        _ => return Ok(None),
    }
    Ok(Some(rec))
}

/// `!AIOIL,<addr>,<output>,<temperature>,<version>,<status>,<level>,<moving>,<count>,<sum>`,
/// an ultrasonic fuel-level sensor on the serial port.
fn fuel_sensor(text: &str) -> Option<(f64, f64)> {
    let fields: Vec<&str> = text.trim().split(',').collect();
    if fields.len() < 10 || fields.first() != Some(&"!AIOIL") {
        return None;
    }
    let celsius = fields.get(3)?.parse().ok()?;
    let level = fields.get(6)?.parse().ok()?;
    Some((celsius, level))
}

/// AZ735 `0x32` (location) and `0x33` (alarm), with length-prefixed blocks.
fn az735(p: &Packet<'_>, r: &mut Reader<'_>, ctx: &Ctx<'_>) -> Result<Decoded, DecodeError> {
    let mut rec = Record::default();
    let layout = GpsLayout {
        has_length: true,
        ..GpsLayout::STANDARD
    };
    read_gps(r, &mut rec, ctx.tz_offset_secs, layout)?;
    let has_cell = r.rest().first().is_some_and(|&l| l != 0);
    set_cell(
        &mut rec,
        read_lbs(r, LbsLayout::of(p.kind, ctx.variant, true))?,
    );
    if has_cell {
        set_signal(&mut rec, r.u8()?);
    }
    for _ in 0..2 {
        let n = usize::from(r.u8()?);
        r.skip(n)?; // more cells, then Wi-Fi access points
    }
    let status = r.u8()?;
    rec.set_io("gt06_status", i64::from(status));
    if p.kind == WIFI_5 {
        match status {
            0xA0 => rec.set_io("gt06_armed", true),
            0xA1 => rec.set_io("gt06_armed", false),
            0xA2 | 0xA3 => push_alarm(&mut rec, Some(Alarm::LowBattery)),
            0xA4 => push_alarm(&mut rec, Some(Alarm::Other("general".into()))),
            0xA5 => push_alarm(&mut rec, Some(Alarm::Door)),
            _ => {}
        }
    }
    let n = usize::from(r.u8()?);
    r.skip(n)?; // reserved extension
    Ok(Decoded::record(rec, ack(p)))
}

/// `0x8C`: OBD readings as `PID=hex` pairs.
fn obd(r: &mut Reader<'_>, ctx: &Ctx<'_>) -> Result<Record, DecodeError> {
    let time = read_date(r, ctx.tz_offset_secs)?;
    let mut rec = Record {
        time,
        ignition: Some(r.u8()? > 0),
        ..Record::default()
    };
    // Twelve bytes after the text are not documented.
    let len = r.remaining().saturating_sub(12);
    let text = String::from_utf8_lossy(r.bytes(len)?).into_owned();
    for pair in text.split(',') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let Some(pid) = key.get(..2).and_then(|k| u8::from_str_radix(k, 16).ok()) else {
            continue;
        };
        let scaled = || {
            i64::from_str_radix(value.trim(), 16)
                .ok()
                .map(|v| v as f64 / 100.0)
        };
        let (name, v) = match pid {
            0x28 => ("gt06_obd_odometer", scaled()),
            0x2B => ("obd_fuel", scaled()),
            0x2D => ("obd_coolant_t", scaled()),
            0x35 => ("obd_speed", scaled()),
            0x36 => ("obd_rpm", scaled()),
            0x47 => ("fuel_consumption", scaled()),
            0x49 => ("gt06_obd_engine_hours", scaled()),
            0x4A => {
                rec.set_io("obd_vin", value.trim().to_owned());
                continue;
            }
            _ => continue,
        };
        if let Some(v) = v {
            rec.set_io(name, v);
        }
    }
    Ok(rec)
}

/// `0x70`: type-length-value modules (Jimi 4G).
fn modular(r: &mut Reader<'_>) -> Result<Record, DecodeError> {
    let mut rec = Record::default();
    let mut satellites = None;
    let mut hdop = None;
    while r.remaining() >= 4 {
        let module = r.u16()?;
        let len = usize::from(r.u16()?);
        let m = &mut Reader::new(r.bytes(len)?);
        match module {
            0x03 => rec.set_io("iccid", hex(m.bytes(10)?)),
            0x09 => satellites = Some(m.u8()?),
            0x0A => rec.set_io("gt06_satellites_visible", i64::from(m.u8()?)),
            0x11 => {
                let (mcc, mnc, lac) = (m.u16()?, m.u16()?, u32::from(m.u16()?));
                let cid = u64::from(m.u24()?);
                if cid > 0 {
                    set_cell(&mut rec, cell(mcc, mnc, lac, cid));
                }
            }
            0x18 => rec.set_io("battery_voltage", f64::from(m.u16()?) / 100.0),
            0x28 => hdop = Some(f64::from(m.u8()?) / 10.0),
            0x29 => rec.set_io("gt06_index", m.u32()?),
            0x2A => {
                let input = m.u8()?;
                rec.set_io("gt06_door", input & 0x0F > 0);
                rec.set_io("gt06_tamper", input >> 4 > 0);
            }
            0x2B => rec.set_io("gt06_boot_reason", i64::from(m.u8()?)),
            // Big-endian like every other module: read little-endian, the capture's mileage
            // would be 3.25 million km.
            0x2E => rec.set_io("hw_mileage", f64::from(m.u32()?) / 1000.0),
            0x33 => {
                rec.time = Some(Timestamp::from_secs(i64::from(m.u32()?)));
                let sats = m.u8()?;
                let altitude = f64::from(m.i16()?);
                let lat = f64::from(m.u32()?) / 1_800_000.0;
                let lon = f64::from(m.u32()?) / 1_800_000.0;
                let speed = f64::from(m.u8()?);
                let flags = m.u16()?;
                apply_course_status(&mut rec, flags, lat, lon, Some(speed), Some(sats));
                if let Some(fix) = rec.fix.as_mut() {
                    fix.altitude = Some(altitude);
                }
            }
            0x34 => {
                let event = m.u8()?;
                rec.set_io("gt06_event", i64::from(event));
                let alarm = match event {
                    0x10 => Some(Alarm::Door),
                    0x12 => Some(Alarm::Removing),
                    0x14 => Some(Alarm::GeofenceEnter),
                    0x15 => Some(Alarm::GeofenceExit),
                    0x16 => Some(Alarm::Temperature),
                    0x1A => Some(Alarm::LowBattery),
                    0x1B => Some(Alarm::Overspeed),
                    0x1C => Some(Alarm::Other("power_on".into())),
                    0x1D => Some(Alarm::Other("power_off".into())),
                    0x20 => Some(Alarm::Vibration),
                    0x21 => Some(Alarm::PowerCut),
                    0x23 => Some(Alarm::Tampering),
                    _ => None,
                };
                push_alarm(&mut rec, alarm);
            }
            _ => {}
        }
    }
    if let Some(fix) = rec.fix.as_mut() {
        fix.satellites = satellites.or(fix.satellites);
        fix.hdop = hdop;
    }
    Ok(rec)
}

/// `0x9B`: what a device on the tracker's serial port sent (often the answer to a command
/// passed through to it).
fn serial_data(r: &mut Reader<'_>) -> Decoded {
    let data = r.rest().get(1..).unwrap_or(&[]); // after the external device type
    let mut d = Decoded::nothing();
    let text = if is_printable(data) {
        let t = printable(data);
        d.message
            .command_replies
            .push(CommandReply::Text(t.clone()));
        t
    } else {
        d.message
            .command_replies
            .push(CommandReply::Bytes(data.to_vec()));
        hex(data)
    };
    let mut rec = Record::default();
    rec.set_io("gt06_result", text);
    d.message.records.push(rec);
    d
}

/// `0xF2`: Bluetooth peripherals and external batteries (VL842).
fn peripheral(r: &mut Reader<'_>) -> Result<Record, DecodeError> {
    let mut rec = Record::at(Timestamp::from_secs(i64::from(r.u32()?)));
    while r.remaining() >= 3 {
        match r.u16()? {
            0x000A => {
                let len = usize::from(r.u16()?);
                let m = &mut Reader::new(r.bytes(len)?);
                m.skip(1)?; // MAC address type
                rec.set_io("gt06_ble_mac", access_point(m.bytes(6)?, None));
                let event = m.u8()?;
                rec.set_io("gt06_ble_event", i64::from(event));
                let data = m.u8()?;
                if event > 0 {
                    rec.set_io("gt06_ble_event_data", i64::from(data));
                }
                rec.set_io("gt06_ble_data_type", i64::from(m.u8()?));
                let details = m.rest();
                let details = if is_printable(details) {
                    printable(details)
                } else {
                    hex(details)
                };
                rec.set_io("gt06_ble_data", details);
            }
            0x000C => {
                let len = usize::from(r.u8()?);
                let m = &mut Reader::new(r.bytes(len)?);
                rec.set_io("gt06_ext_battery_level", i64::from(m.u8()?));
                rec.set_io("gt06_ext_battery_charging", m.u8()? > 0);
                rec.set_io("gt06_ext_battery_cycles", i64::from(m.u16()?));
            }
            _ => {
                let mut len = usize::from(r.u8()?);
                if len == 0 {
                    len = usize::from(r.u8()?);
                }
                r.skip(len)?;
            }
        }
    }
    Ok(rec)
}
