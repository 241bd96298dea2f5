//! Basic (`78 78`) frames. The extended ones that reuse these types are decoded here too.

use crate::error::DecodeError;
use crate::message::{Alarm, CommandReply, DeviceMessage, Record, Timestamp};
use crate::reader::Reader;

use super::encode::{response, time_reply};
use super::fields::*;
use super::frame::Packet;
use super::location::{is_location, location, vl_status};
use super::variant::{Model, Variant};

pub(super) struct Ctx<'a> {
    pub model: &'a Model,
    pub variant: Variant,
    pub tz_offset_secs: i64,
    /// The server's time, when the session has been given one.
    pub now: Option<Timestamp>,
}

pub(super) struct Login {
    pub imei: String,
    /// Seconds east of UTC, when the login frame states a zone.
    pub tz_offset_secs: Option<i64>,
}

pub(super) struct Decoded {
    pub message: DeviceMessage,
    pub login: Option<Login>,
}

impl Decoded {
    pub fn nothing() -> Self {
        Decoded {
            message: DeviceMessage::default(),
            login: None,
        }
    }

    pub fn reply(reply: Option<Vec<u8>>) -> Self {
        let mut d = Decoded::nothing();
        d.message.reply = reply;
        d
    }

    pub fn record(rec: Record, reply: Option<Vec<u8>>) -> Self {
        let mut d = Decoded::reply(reply);
        d.message.records.push(rec);
        d
    }
}

/// The standard answer: the frame's type and serial echoed in an empty frame of its form.
pub(super) fn ack(p: &Packet<'_>) -> Option<Vec<u8>> {
    p.serial.map(|s| response(p.extended, p.kind, s, &[]))
}

fn is_lbs_multi(kind: u8, v: Variant) -> bool {
    match kind {
        LBS_MULTIPLE_1 | LBS_MULTIPLE_2 | LBS_MULTIPLE_3 | LBS_EXTEND | LBS_WIFI | LBS_2
        | WIFI_5 => true,
        WIFI_3 => v != Variant::Lw4g,
        X1_GPS => v == Variant::Sl4x,
        _ => false,
    }
}

pub(super) fn decode(p: &Packet<'_>, ctx: &Ctx<'_>) -> Result<Decoded, DecodeError> {
    let r = &mut Reader::new(p.content);
    let v = ctx.variant;
    match p.kind {
        LOGIN => login(p, r),
        HEARTBEAT => heartbeat(p, r),
        ADDRESS_REQUEST => {
            // No geocoder here: tell the device the address is not available.
            let text = b"NA&&NA&&0##";
            let mut body = vec![text.len() as u8, 0, 0, 0, 0];
            body.extend_from_slice(text);
            let reply = p.serial.map(|s| response(true, ADDRESS_RESPONSE, s, &body));
            Ok(Decoded::reply(reply))
        }
        // Without the server's time there is nothing true to answer; the device asks again.
        TIME_REQUEST => Ok(Decoded::reply(
            ctx.now
                .zip(p.serial)
                .map(|(now, s)| time_reply(now, s, p.extended)),
        )),
        X1_GPS if v != Variant::Sl4x => x1_gps(r, ctx).map(|rec| Decoded::record(rec, None)),
        // Photo transfer needs a store for the pieces; not supported.
        X1_PHOTO_INFO => Ok(Decoded::nothing()),
        WIFI if v != Variant::Rfid => wifi(p, r),
        WIFI_2 | WIFI_4 => wifi(p, r),
        INFO => {
            let mut rec = Record::default();
            rec.set_io("board_voltage", f64::from(r.i16()?) / 100.0);
            Ok(Decoded::record(rec, None))
        }
        LBS_MULTIPLE_3 if v == Variant::Sr411Mini => {
            let mut rec = Record::default();
            read_gps(r, &mut rec, ctx.tz_offset_secs, GpsLayout::STANDARD)?;
            set_cell(&mut rec, read_lbs(r, LbsLayout::of(p.kind, v, false))?);
            rec.ignition = Some(r.u8()? > 0);
            rec.set_io("board_voltage", f64::from(r.u16()?) / 100.0);
            rec.set_io("battery_voltage", f64::from(r.u16()?) / 100.0);
            Ok(Decoded::record(rec, None))
        }
        k if is_lbs_multi(k, v) => lbs_multi(p, r, ctx).map(|rec| Decoded::record(rec, ack(p))),
        STRING | COMMAND_0..=COMMAND_2 => Ok(string(p, r)),
        STATUS if p.content.len() == 16 => status_info(r).map(|rec| Decoded::record(rec, ack(p))),
        IBUTTON => {
            let mut rec = Record::default();
            r.skip(8)?; // IMEI
            read_gps(r, &mut rec, ctx.tz_offset_secs, GpsLayout::STANDARD)?;
            set_cell(&mut rec, read_lbs(r, LbsLayout::of(p.kind, v, false))?);
            let key = (u64::from(r.u32()?) << 16) | u64::from(r.u16()?);
            rec.hardware_key = Some(key.to_string());
            Ok(Decoded::record(rec, ack(p)))
        }
        ALARM => alarm(p, r, ctx).map(|rec| Decoded::record(rec, ack(p))),
        FENCE_SINGLE if p.content.len() == 19 && !p.irregular => {
            // A pedometer report: only the step counter's place is known.
            let mut rec = Record::default();
            r.skip(9)?;
            rec.set_io("gt06_steps", r.u32()?);
            Ok(Decoded::record(rec, ack(p)))
        }
        STATUS_2 if ctx.model.vl => vl_status(r, ctx).map(|rec| Decoded::record(rec, ack(p))),
        // Several cells in a layout nobody documented: acknowledged by nobody either.
        LBS_STATUS if v == Variant::Space10x => Ok(Decoded::nothing()),
        // A report with nothing in it (seen from GT06 clones): acknowledged, nothing stored.
        k if is_location(k, v, ctx.model) && p.content.is_empty() => Ok(Decoded::reply(ack(p))),
        k if is_location(k, v, ctx.model) => {
            location(p, r, ctx).map(|rec| Decoded::record(rec, ack(p)))
        }
        _ => Ok(Decoded::reply(ack(p))),
    }
}

fn login(p: &Packet<'_>, r: &mut Reader<'_>) -> Result<Decoded, DecodeError> {
    let bcd = hex(r.bytes(8)?);
    // Sixteen BCD digits carry the fifteen of an IMEI behind a leading zero.
    let imei = bcd.get(1..).unwrap_or_default().to_owned();
    if !imei.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::reject(format!("login IMEI is not BCD: {bcd}")));
    }
    let mut tz_offset_secs = None;
    if r.remaining() >= 2 {
        r.skip(2)?; // device type
    }
    if p.content.len() > 10 && r.remaining() >= 2 {
        // Bits 15-4: the zone as hhmm in decimal; bit 3: west of Greenwich.
        let ext = r.u16()?;
        let hhmm = i64::from(ext >> 4);
        let secs = (hhmm / 100 * 60 + hhmm % 100) * 60;
        tz_offset_secs = Some(if ext & 0x08 != 0 { -secs } else { secs });
    }
    let mut d = Decoded::reply(ack(p));
    d.message.device_id = Some(imei.clone());
    d.login = Some(Login {
        imei,
        tz_offset_secs,
    });
    Ok(d)
}

fn heartbeat(p: &Packet<'_>, r: &mut Reader<'_>) -> Result<Decoded, DecodeError> {
    let mut rec = Record::default();
    let status = r.u8()?;
    rec.set_io("gt06_armed", status & 0x01 != 0);
    rec.ignition = Some(status & 0x02 != 0);
    rec.set_io("gt06_charging", status & 0x04 != 0);
    if r.remaining() >= 2 {
        rec.set_io("battery_voltage", f64::from(r.u16()?) / 100.0);
    }
    if r.remaining() >= 1 {
        set_signal(&mut rec, r.u8()?);
    }
    Ok(Decoded::record(rec, ack(p)))
}

fn x1_gps(r: &mut Reader<'_>, ctx: &Ctx<'_>) -> Result<Record, DecodeError> {
    let mut rec = Record::default();
    r.skip(4)?; // data and alarm flags
    read_gps(r, &mut rec, ctx.tz_offset_secs, GpsLayout::STANDARD)?;
    r.skip(2)?; // terminal information
    rec.set_io("hw_mileage", f64::from(r.u32()?) / 1000.0);
    let mcc = r.u16()?;
    let mnc = u16::from(r.u8()?);
    let lac = u32::from(r.u16()?);
    let cid = u64::from(r.u32()?);
    set_cell(&mut rec, cell(mcc, mnc, lac, cid));
    let driver = r.u32()?;
    if driver > 0 {
        rec.hardware_key = Some(driver.to_string());
    }
    rec.set_io("battery_voltage", f64::from(r.u16()?) / 100.0);
    rec.set_io("board_voltage", f64::from(r.u16()?) / 100.0);
    let ports = r.u32()?;
    rec.inputs = Some(u32::from(r.u8()?));
    rec.outputs = Some(u32::from(r.u8()?));
    for i in 1..=(ports >> 20) & 0x0F {
        rec.set_io(format!("analog_{i}"), f64::from(r.u16()?) / 100.0);
    }
    Ok(rec)
}

/// Wi-Fi reports. `0x17` and `0x69` put the access-point count in the length field and carry
/// neither serial nor CRC; they are answered with their date.
fn wifi(p: &Packet<'_>, r: &mut Reader<'_>) -> Result<Decoded, DecodeError> {
    let mut rec = Record::default();
    let raw_time = array::<6>(r)?;
    rec.time = read_bcd_date(&mut Reader::new(&raw_time))?;
    let four = p.kind == WIFI_4;
    let count = if four { usize::from(r.u8()?) } else { p.length };
    let mut aps = Vec::new();
    for _ in 0..count {
        if four {
            r.skip(2)?;
        }
        let mac = r.bytes(6)?;
        let rssi = if four { None } else { Some(r.u8()?) };
        aps.push(access_point(mac, rssi));
    }
    if !aps.is_empty() {
        rec.set_io("gt06_wifi", aps.join(";"));
    }
    if four {
        return Ok(Decoded::record(rec, None));
    }
    let cells = r.u8()?;
    let mcc = r.u16()?;
    let mnc = u16::from(r.u8()?);
    for i in 0..cells {
        let lac = u32::from(r.u16()?);
        let cid = u64::from(r.u16()?);
        r.skip(1)?; // signal
        if i == 0 {
            set_cell(&mut rec, cell(mcc, mnc, lac, cid));
        }
    }
    let mut reply = vec![0x78, 0x78, 0x00, p.kind];
    reply.extend_from_slice(&raw_time);
    reply.extend_from_slice(&[0x0D, 0x0A]);
    Ok(Decoded::record(rec, Some(reply)))
}

pub(super) fn access_point(mac: &[u8], rssi: Option<u8>) -> String {
    let mac = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    match rssi {
        Some(s) => format!("{mac},-{s}"),
        None => mac,
    }
}

fn lbs_multi(p: &Packet<'_>, r: &mut Reader<'_>, ctx: &Ctx<'_>) -> Result<Record, DecodeError> {
    let (kind, v) = (p.kind, ctx.variant);
    let mut rec = Record {
        time: read_date(r, ctx.tz_offset_secs)?,
        ..Record::default()
    };
    let wanway = v == Variant::WanwayS20;
    let sl4x = v == Variant::Sl4x;
    if wanway || sl4x {
        r.skip(1)?; // timing advance
    }
    let mcc = r.u16()?;
    let mnc = if mcc & 0x8000 != 0 || sl4x {
        r.u16()?
    } else {
        u16::from(r.u8()?)
    };
    let count = if wanway {
        r.u8()?
    } else if kind == WIFI_5 {
        6
    } else {
        7
    };
    for _ in 0..count {
        let (lac, cid) = match kind {
            LBS_2 | WIFI_3 => (r.u32()?, r.u64()?),
            WIFI_5 | X1_GPS => (u32::from(r.u16()?), u64::from(r.u32()?)),
            _ => (u32::from(r.u16()?), u64::from(r.u24()?)),
        };
        r.skip(1)?; // signal
        if lac != 0 && rec.gsm.is_none() {
            set_cell(&mut rec, cell(mcc & 0x7FFF, mnc, lac, cid));
        }
    }
    if !wanway && !sl4x {
        r.skip(1)?; // timing advance
    }
    if !matches!(
        kind,
        LBS_MULTIPLE_1 | LBS_MULTIPLE_2 | LBS_MULTIPLE_3 | LBS_2 | X1_GPS
    ) {
        let n = r.u8()?;
        let mut aps = Vec::new();
        for _ in 0..n {
            let mac = r.bytes(6)?;
            aps.push(access_point(mac, Some(r.u8()?)));
        }
        if !aps.is_empty() {
            rec.set_io("gt06_wifi", aps.join(";"));
        }
    }
    Ok(rec)
}

/// Command answers (`0x15`, and `0x80`-`0x82` from firmware that echoes the command type):
/// command length, the server flag of the command, the text.
fn string(p: &Packet<'_>, r: &mut Reader<'_>) -> Decoded {
    let rest = r.rest();
    let declared = rest.first().map(|&l| usize::from(l)).unwrap_or(0);
    let after_len = rest.get(1..).unwrap_or(&[]);
    // Some firmware leaves the command length 0 and pads the text with NULs.
    let raw = match after_len.get(4..declared.max(4)) {
        Some(t) if declared >= 4 => t,
        _ => after_len.get(4..).unwrap_or(&[]),
    };
    let text = printable(raw);
    let trimmed = text.as_bytes();
    // Answers that mix in UTF-16 or binary are passed on as bytes, not as mangled text.
    let (reply, shown) = if is_printable(trimmed) {
        (CommandReply::Text(text.clone()), text.clone())
    } else {
        (CommandReply::Bytes(raw.to_vec()), hex(raw))
    };
    let mut d = Decoded::nothing();
    if p.kind != STRING {
        if !raw.is_empty() {
            d.message.command_replies.push(reply);
        }
        return d;
    }
    let mut rec = Record::default();
    if let Some(iccid) = text.strip_prefix("<ICCID:") {
        let iccid: String = iccid.chars().take(20).collect();
        rec.set_io("iccid", iccid.trim_end_matches(['F', 'f']).to_owned());
    } else if !raw.is_empty() {
        rec.set_io("gt06_result", shown);
        d.message.command_replies.push(reply);
    }
    d.message.records.push(rec);
    d.message.reply = ack(p);
    d
}

/// `0x13` of 16 bytes: a status frame with battery percentage and temperature.
fn status_info(r: &mut Reader<'_>) -> Result<Record, DecodeError> {
    let mut rec = Record::default();
    r.skip(5)?; // information content, satellites, alarm, language
    rec.battery_level = Some(r.u8()?.min(100));
    r.skip(8)?; // working mode, voltage, reserved, working count and time
    let t = r.u16()?;
    let magnitude = f64::from(t & 0x7FFF) / 10.0;
    // The sign bit set means above zero on these devices.
    let celsius = if t & 0x8000 != 0 {
        magnitude
    } else {
        -magnitude
    };
    rec.set_io("ext_temp_sensor_1", celsius);
    Ok(rec)
}

fn alarm(p: &Packet<'_>, r: &mut Reader<'_>, ctx: &Ctx<'_>) -> Result<Record, DecodeError> {
    let mut rec = Record::default();
    let jc400 = ctx.variant == Variant::Jc400;
    let with_position = p.content.len() > 7;
    if with_position {
        if jc400 {
            r.skip(3)?; // marker, version
        }
        let layout = GpsLayout {
            has_length: false,
            has_satellites: jc400,
            has_speed: jc400,
            long_speed: jc400,
            swap_flags: jc400,
        };
        read_gps(r, &mut rec, ctx.tz_offset_secs, layout)?;
    } else {
        rec.time = read_date(r, ctx.tz_offset_secs)?;
    }
    if jc400 {
        rec.set_io("board_voltage", f64::from(r.u16()?) / 10.0);
    }
    let event = r.u8()?;
    rec.set_io("gt06_event", i64::from(event));
    if r.remaining() >= 2 {
        rec.set_io("gt06_event_data", i64::from(r.u16()?));
    }
    let alarm = match event {
        0x01 if with_position => Some(Alarm::Sos),
        0x01 => Some(Alarm::Other("general".into())),
        0x0E => Some(Alarm::LowPower),
        0x76 => Some(Alarm::Temperature),
        0x80 => Some(Alarm::Vibration),
        0x87 => Some(Alarm::Overspeed),
        0x88 => Some(Alarm::PowerCut),
        0x90 => Some(Alarm::HardAcceleration),
        0x91 => Some(Alarm::HardBraking),
        0x92 => Some(Alarm::HardCornering),
        0x93 => Some(Alarm::Accident),
        _ => None,
    };
    push_alarm(&mut rec, alarm);
    let files = printable(r.rest());
    if !files.is_empty() {
        rec.set_io("gt06_event_files", files);
    }
    Ok(rec)
}
