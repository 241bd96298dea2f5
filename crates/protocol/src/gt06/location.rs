//! The GPS / LBS / status family: the three blocks in that order, then what each vendor
//! appends.

use crate::error::DecodeError;
use crate::message::{Alarm, Record};
use crate::reader::Reader;

use super::decode::Ctx;
use super::fields::*;
use super::frame::Packet;
use super::variant::{Model, Variant};

/// The GPS/LBS/status family, decoded by [`location`].
pub(super) fn is_location(kind: u8, v: Variant, m: &Model) -> bool {
    has_gps(kind, v) || has_lbs(kind, v) || has_status(kind, v, m)
}

fn has_gps(kind: u8, v: Variant) -> bool {
    match kind {
        GPS | GPS_LBS_1 | GPS_LBS_2 | GPS_LBS_3 | GPS_LBS_4 | GPS_LBS_5 | GPS_LBS_6
        | GPS_LBS_STATUS_1 | GPS_LBS_STATUS_2 | GPS_LBS_STATUS_3 | GPS_LBS_STATUS_4 | GPS_PHONE
        | GPS_LBS_EXTEND | GPS_LBS_7 | FENCE_MULTI => true,
        WIFI => v == Variant::Rfid,
        WIFI_3 => v == Variant::Lw4g,
        FENCE_SINGLE => v != Variant::Seeworld,
        _ => false,
    }
}

fn has_lbs(kind: u8, v: Variant) -> bool {
    match kind {
        LBS_STATUS | GPS_LBS_1 | GPS_LBS_2 | GPS_LBS_3 | GPS_LBS_4 | GPS_LBS_5 | GPS_LBS_6
        | GPS_LBS_STATUS_1 | GPS_LBS_STATUS_2 | GPS_LBS_STATUS_3 | GPS_LBS_STATUS_4 | GPS_LBS_7
        | FENCE_MULTI | LBS_ALARM | LBS_ADDRESS => true,
        WIFI => v == Variant::Rfid,
        WIFI_3 => v == Variant::Lw4g,
        FENCE_SINGLE => v != Variant::Seeworld,
        _ => false,
    }
}

fn has_status(kind: u8, v: Variant, m: &Model) -> bool {
    match kind {
        STATUS | STATUS_2 | LBS_STATUS | GPS_LBS_STATUS_1 | GPS_LBS_STATUS_2 | GPS_LBS_STATUS_3
        | GPS_LBS_STATUS_4 | FENCE_MULTI | LBS_ALARM => true,
        WIFI_3 => v == Variant::Lw4g,
        GPS_LBS_2 => m.nt,
        FENCE_SINGLE => v == Variant::Seeworld,
        _ => false,
    }
}

/// Jimi VL103 `0x36`: GPS, a cell with a four-byte id, ACC, the battery voltage and the driver
/// key. The other bytes (eight after ACC, three after the voltage) are not documented and are
/// skipped rather than guessed at.
pub(super) fn vl_status(r: &mut Reader<'_>, ctx: &Ctx<'_>) -> Result<Record, DecodeError> {
    let mut rec = Record::default();
    read_gps(r, &mut rec, ctx.tz_offset_secs, GpsLayout::STANDARD)?;
    let mcc = r.u16()?;
    let mnc = u16::from(r.u8()?);
    let lac = u32::from(r.u16()?);
    let cid = u64::from(r.u32()?);
    set_cell(&mut rec, cell(mcc & 0x7FFF, mnc, lac, cid));
    rec.ignition = Some(r.u8()? > 0);
    r.skip(8)?;
    rec.set_io("battery_voltage", f64::from(r.u8()?) / 10.0);
    r.skip(3)?;
    if r.remaining() >= 8 {
        set_driver(&mut rec, r.bytes(8)?);
    }
    Ok(rec)
}

/// ACC, data upload mode and the re-upload (history) flag of Jimi location frames.
fn upload_flags(r: &mut Reader<'_>, rec: &mut Record) -> Result<(), DecodeError> {
    rec.ignition = Some(r.u8()? > 0);
    rec.set_io("gt06_upload_mode", i64::from(r.u8()?));
    rec.buffered = r.u8()? > 0;
    Ok(())
}

/// The location family: GPS, cell and status blocks in that order, then model-specific tails.
pub(super) fn location(
    p: &Packet<'_>,
    r: &mut Reader<'_>,
    ctx: &Ctx<'_>,
) -> Result<Record, DecodeError> {
    let (kind, v, m) = (p.kind, ctx.variant, ctx.model);
    let tz = ctx.tz_offset_secs;
    let mut rec = Record::default();
    let nt22 = kind == GPS_LBS_2 && m.nt;
    let status5 = kind == WIFI_3;
    if kind == GPS_LBS_1 && m.is("QH302R") {
        r.skip(8)?; // IMEI
    }
    if nt22 {
        r.skip(9)?; // location source, IMEI
        read_date(r, tz)?; // device time; the GPS time follows
    }
    if has_gps(kind, v) {
        read_gps(r, &mut rec, tz, GpsLayout::STANDARD)?;
    }
    if has_lbs(kind, v) && r.remaining() > 0 {
        let has_length = has_status(kind, v, m)
            && !matches!(kind, LBS_STATUS | LBS_ALARM)
            && (kind != GPS_LBS_STATUS_1 || v != Variant::Vxt01)
            && !status5;
        set_cell(&mut rec, read_lbs(r, LbsLayout::of(kind, v, has_length))?);
    }
    if has_status(kind, v, m) {
        status_block(r, &mut rec, kind, ctx)?;
    }
    if matches!(kind, STATUS_2 | GPS_LBS_STATUS_3 | FENCE_MULTI) || status5 || nt22 {
        r.skip(1)?; // language
    }
    if kind == STATUS_2 {
        status_modules(r, &mut rec)?;
    }
    if status5 {
        rec.set_io("hw_mileage", f64::from(r.u32()?) / 1000.0);
        rec.set_io("gt06_engine_hours", f64::from(r.u32()?) / 3600.0);
        r.skip(8)?; // terminal id
        rec.inputs = Some(u32::from(r.u16()?));
    }
    if kind == GPS_LBS_1 {
        gps_lbs_1_tail(r, &mut rec, ctx)?;
    }
    if kind == GPS_LBS_2 && v == Variant::Seeworld {
        rec.ignition = Some(r.u8()? > 0);
        r.skip(2)?; // reporting mode, supplementary transmission
        rec.set_io("hw_mileage", f64::from(r.u32()?) / 1000.0);
        r.skip(4)?; // travel time
        let t = r.u16()?;
        let t = if t & 0x8000 != 0 {
            -i32::from(t & 0x7FFF)
        } else {
            i32::from(t)
        };
        rec.set_io("ext_temp_sensor_1", f64::from(t) / 100.0);
        rec.set_io("humidity_1", f64::from(r.u16()?) / 100.0);
    }
    if kind == GPS_LBS_STATUS_4 && v == Variant::Sl4x {
        set_altitude(&mut rec, f64::from(r.i16()?));
    }
    if matches!(kind, GPS_LBS_2 | GPS_LBS_3 | GPS_LBS_4 | GPS_LBS_5) && r.remaining() >= 3 && !m.nt
    {
        upload_flags(r, &mut rec)?;
        if v == Variant::Sl4x {
            if r.remaining() > 2 {
                rec.set_io("hw_mileage", f64::from(r.u32()?) / 1000.0);
            }
            set_altitude(&mut rec, f64::from(r.i16()?));
        }
    }
    if kind == GPS_LBS_3 {
        let module = r.u16()?;
        let len = usize::from(r.u8()?);
        let mr = &mut Reader::new(r.bytes(len)?);
        match module {
            0x0027 => rec.set_io("board_voltage", f64::from(mr.u16()?) / 100.0),
            0x002E => rec.set_io("hw_mileage", f64::from(mr.u32()?) / 1000.0),
            0x003B => {
                if let Some(fix) = rec.fix.as_mut() {
                    fix.hdop = Some(f64::from(mr.u16()?) / 100.0);
                }
            }
            _ => {}
        }
    }
    if kind == WIFI {
        set_driver(&mut rec, r.bytes(8)?);
        r.skip(1)?; // validity
    }
    if nt22 {
        rec.set_io("hw_mileage", f64::from(r.u24()?) / 1000.0);
        rec.set_io("gt06_engine_hours", f64::from(r.u24()?) / 60.0);
    }
    if matches!(kind, GPS_LBS_STATUS_1 | GPS_LBS_STATUS_2) && r.remaining() == 9 {
        r.skip(1)?; // language
        set_driver(&mut rec, r.bytes(8)?);
    }
    if r.remaining() == 3 || r.remaining() == 7 {
        upload_flags(r, &mut rec)?;
    }
    if r.remaining() == 4 {
        rec.set_io("hw_mileage", f64::from(r.u32()?) / 1000.0);
    }
    if matches!(kind, GPS_LBS_STATUS_3 | FENCE_MULTI) && r.remaining() > 0 {
        rec.set_io("gt06_geofence", i64::from(r.u8()?));
    }
    Ok(rec)
}

fn set_altitude(rec: &mut Record, metres: f64) {
    if let Some(fix) = rec.fix.as_mut() {
        fix.altitude = Some(metres);
    }
}

/// Terminal information, voltage level, GSM signal and the alarm byte.
fn status_block(
    r: &mut Reader<'_>,
    rec: &mut Record,
    kind: u8,
    ctx: &Ctx<'_>,
) -> Result<(), DecodeError> {
    let (v, m) = (ctx.variant, ctx.model);
    let nt22 = kind == GPS_LBS_2 && m.nt;
    if kind == WIFI_3 {
        r.skip(1)?; // network indicator
    }
    terminal_info(rec, r.u8()?, v);
    if v == Variant::Obd6 {
        let signal = r.u16()?;
        let satellites = ((signal >> 10) & 0x1F) + ((signal >> 5) & 0x1F);
        rec.set_io("gt06_satellites", i64::from(satellites));
        set_signal_pct(rec, ((u32::from(signal & 0x1F) * 100) / 31) as u8);
        apply_alarm_code(rec, u16::from(r.u8()?), m);
        r.skip(1)?; // language
        rec.battery_level = Some(r.u8()?.min(100));
        let mode = r.u8()?;
        rec.set_io("board_voltage", f64::from(r.u16()?) / 100.0);
        r.skip(3)?; // reserved, working time
        if mode == 4 {
            rec.set_io("ext_temp_sensor_1", f64::from(r.i16()?) / 10.0);
        }
        return Ok(());
    }
    if kind == WIFI_3 || nt22 {
        rec.set_io("board_voltage", f64::from(r.u16()?) / 100.0);
    }
    if kind == STATUS && m.is("R11") {
        rec.set_io("board_voltage", f64::from(r.u16()?) / 100.0);
    } else {
        let level = r.u8()?;
        if nt22 {
            rec.set_io("battery_voltage", f64::from(level) / 10.0);
        } else if let Some(pct) = battery_level(level) {
            rec.battery_level = Some(pct);
        }
    }
    set_signal(rec, r.u8()?);
    if kind == STATUS && m.lw {
        rec.set_io("board_voltage", f64::from(r.u16()? & 0x0FFF) / 10.0);
    } else {
        let code = r.u8()?;
        if kind == STATUS && m.seeworld {
            rec.set_io("board_voltage", f64::from(code));
        } else if v != Variant::Vxt01 {
            apply_alarm_code(rec, u16::from(code), m);
        }
    }
    Ok(())
}

/// The type-length-value tail of the Jimi 4G heartbeat (`0x36`).
fn status_modules(r: &mut Reader<'_>, rec: &mut Record) -> Result<(), DecodeError> {
    while r.remaining() > 0 {
        let module = r.u16()?;
        let len = usize::from(r.u8()?);
        let mr = &mut Reader::new(r.bytes(len)?);
        match module {
            0x0018 => rec.set_io("battery_voltage", f64::from(mr.u16()?) / 100.0),
            0x0032 => rec.set_io("gt06_startup_status", i64::from(mr.u8()?)),
            0x006A => rec.battery_level = Some(mr.u8()?.min(100)),
            _ => {}
        }
    }
    Ok(())
}

/// What clones append to `0x12`.
fn gps_lbs_1_tail(r: &mut Reader<'_>, rec: &mut Record, ctx: &Ctx<'_>) -> Result<(), DecodeError> {
    match ctx.variant {
        Variant::Gt06eCard => {
            rec.set_io("hw_mileage", f64::from(r.u32()?) / 1000.0);
            let len = usize::from(r.u8()?);
            set_card(rec, r.bytes(len)?);
            r.skip(2)?; // alarm, swiped
        }
        Variant::Benway => {
            let mask = r.u16()?;
            rec.ignition = Some(mask & 0x8000 != 0);
            rec.inputs = Some(u32::from(mask & 0x4000 != 0) << 1);
            if mask & 0x1000 != 0 {
                let t = f64::from(mask & 0x01FF);
                let t = if mask & 0x0200 != 0 { -t } else { t };
                rec.set_io("ext_temp_sensor_1", t);
            } else {
                let value = f64::from(mask & 0x03FF);
                let volts = if mask & 0x2000 != 0 {
                    value
                } else {
                    value / 10.0
                };
                rec.set_io("analog_1", volts);
            }
        }
        Variant::Vxt01 => {
            terminal_info(rec, r.u8()?, ctx.variant);
            rec.set_io("board_voltage", f64::from(r.u16()?) / 100.0);
            set_signal(rec, r.u8()?);
            r.skip(1)?; // alarm extension
        }
        Variant::S5 => {
            terminal_info(rec, r.u8()?, ctx.variant);
            rec.set_io("board_voltage", f64::from(r.u16()?) / 100.0);
            set_signal(rec, r.u8()?);
            apply_alarm_code(rec, u16::from(r.u8()?), ctx.model);
            rec.set_io("gt06_oil", i64::from(r.u16()?));
            let t = r.u8()?;
            let t = if t & 0x80 != 0 {
                -i32::from(t & 0x7F)
            } else {
                i32::from(t)
            };
            rec.set_io("ext_temp_sensor_1", f64::from(t));
            rec.set_io("hw_mileage", f64::from(r.u32()?) / 100.0);
        }
        Variant::Wetrust => {
            rec.set_io("hw_mileage", f64::from(r.u32()?) / 1000.0);
            let len = usize::from(r.u8()?);
            set_card(rec, r.bytes(len)?);
            if r.u8()? > 0 {
                push_alarm(rec, Some(Alarm::Other("general".into())));
            }
            rec.set_io("gt06_card_status", i64::from(r.u8()?));
            rec.set_io("gt06_driving_time", i64::from(r.u16()?));
        }
        _ => {}
    }
    Ok(())
}
