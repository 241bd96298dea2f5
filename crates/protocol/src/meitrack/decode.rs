//! Frame -> `DeviceMessage`: the envelope, the text `AAA` report, the binary `CCC` and `CCE`
//! batches, photo packets and command replies.

use super::io::{self, CceRecord};
use super::{server_frame, MeitrackSession, Photo, MAX_ID_LEN, MAX_PHOTO};
use crate::checksum::sum8;
use crate::error::DecodeError;
use crate::message::{CommandReply, DeviceMessage, Fix, Gsm, Record, Timestamp};
use crate::reader::Reader;
use crate::time;

/// The parts of a `$$` frame around its data.
struct Envelope<'a> {
    flag: u8,
    imei: &'a str,
    code: &'a str,
    data: &'a [u8],
}

fn reject(reason: impl Into<String>) -> DecodeError {
    DecodeError::reject(reason)
}

/// Splits a frame (with or without its trailing `\r\n`, as UDP datagrams and some captures
/// come) and checks its checksum.
fn envelope(frame: &[u8], strict: bool) -> Result<Envelope<'_>, DecodeError> {
    let body = frame.strip_suffix(b"\r\n").unwrap_or(frame);
    if !body.starts_with(b"$$") {
        return Err(reject("no $$ frame start"));
    }
    let star = body
        .len()
        .checked_sub(3)
        .filter(|&i| body.get(i) == Some(&b'*'))
        .ok_or_else(|| reject("no *XX checksum trailer"))?;
    let declared = body
        .get(star + 1..)
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| u8::from_str_radix(h, 16).ok())
        .ok_or_else(|| reject("checksum is not two hex digits"))?;
    if strict {
        let computed = sum8(body.get(..=star).unwrap_or_default());
        if computed != declared {
            return Err(reject(format!(
                "checksum mismatch: declared {declared:02X}, computed {computed:02X}"
            )));
        }
    }
    let flag = body.get(2).copied().ok_or_else(|| reject("no data flag"))?;
    let head = body.get(..star).unwrap_or_default();
    let c1 = position(head, b',', 3).ok_or_else(|| reject("no comma after length"))?;
    let c2 = position(head, b',', c1 + 1).ok_or_else(|| reject("no comma after IMEI"))?;
    let imei = std::str::from_utf8(head.get(c1 + 1..c2).unwrap_or_default())
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= MAX_ID_LEN)
        .filter(|s| s.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| reject("bad IMEI"))?;
    let code_end = c2 + 4;
    let code = head
        .get(c2 + 1..code_end)
        .and_then(|c| std::str::from_utf8(c).ok())
        .filter(|c| c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| reject("bad command code"))?;
    // The data follows `<code>,`; a bare code (`A10`) carries none.
    let data = match head.get(code_end) {
        Some(b',') => head.get(code_end + 1..).unwrap_or_default(),
        None => &[],
        Some(_) => return Err(reject("command code longer than three characters")),
    };
    Ok(Envelope {
        flag,
        imei,
        code,
        data,
    })
}

fn position(buf: &[u8], byte: u8, from: usize) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|p| p + from)
}

pub(super) fn decode(
    session: &mut MeitrackSession,
    frame: &[u8],
) -> Result<DeviceMessage, DecodeError> {
    let env = envelope(frame, session.strict_checksum)?;
    session.imei = Some(env.imei.to_owned());
    let mut msg = DeviceMessage {
        device_id: Some(env.imei.to_owned()),
        ..DeviceMessage::default()
    };
    match env.code {
        "AAA" => {
            let text = std::str::from_utf8(env.data).map_err(|_| reject("AAA is not text"))?;
            msg.records
                .push(decode_aaa(text, session.model.as_deref())?);
        }
        "CCC" => {
            msg.records = decode_ccc(env.data)?;
            // The device keeps its cache until told how many packets arrived.
            let content = format!("CCC,{}", msg.records.len());
            msg.reply = Some(server_frame(env.flag, env.imei, &content));
        }
        "CCE" => msg.records = decode_cce(env.data)?,
        "AAC" => {
            msg.reply = Some(server_frame(env.flag, env.imei, "AAC,1"));
        }
        "D00" => decode_photo_packet(session, &env, &mut msg)?,
        "D03" => {
            // The device took a picture on our request: fetch it from its first packet.
            session.photo = None;
            msg.reply = Some(server_frame(env.flag, env.imei, "D00,camera_picture.jpg,0"));
            push_command_reply(&mut msg, &env);
        }
        _ => push_command_reply(&mut msg, &env),
    }
    Ok(msg)
}

/// A command's answer (`C01,OK`, `E91,<version>,<sn>`, `D82,0`, `FC0,OK`...): handed to the
/// command queue, and kept as the `command_result` reading so that it is visible in history.
fn push_command_reply(msg: &mut DeviceMessage, env: &Envelope<'_>) {
    let data = String::from_utf8_lossy(env.data);
    let text = if env.data.is_empty() {
        env.code.to_owned()
    } else {
        format!("{},{}", env.code, data)
    };
    let mut record = Record::default();
    record.set_io("command_result", text.as_str());
    msg.records.push(record);
    msg.command_replies.push(CommandReply::Text(text));
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, DecodeError> {
    s.trim()
        .parse()
        .map_err(|_| reject(format!("bad {what}: {s:?}")))
}

fn hex(s: &str, what: &str) -> Result<u64, DecodeError> {
    u64::from_str_radix(s.trim(), 16).map_err(|_| reject(format!("bad {what}: {s:?}")))
}

/// Hex or empty (Meitrack leaves unused analog channels and cell fields blank).
fn opt_hex(s: &str, what: &str) -> Result<Option<u64>, DecodeError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        hex(s, what).map(Some)
    }
}

fn check_coordinates(lat: f64, lon: f64) -> Result<(), DecodeError> {
    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) {
        Ok(())
    } else {
        Err(reject(format!("coordinates out of range: {lat},{lon}")))
    }
}

/// `yymmddhhmmss`, UTC.
fn parse_time(s: &str) -> Result<Timestamp, DecodeError> {
    let digits = s.as_bytes();
    if digits.len() != 12 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(reject(format!("bad date/time: {s:?}")));
    }
    let two = |i: usize| -> u32 {
        digits
            .iter()
            .skip(i)
            .take(2)
            .fold(0, |acc, d| acc * 10 + u32::from(d.saturating_sub(b'0')))
    };
    time::utc(
        time::year_2digit(two(0)),
        two(2),
        two(4),
        two(6),
        two(8),
        two(10),
    )
    .ok_or_else(|| reject(format!("impossible date/time: {s:?}")))
}

/// The `AAA` report:
/// `event,lat,lon,yymmddhhmmss,A|V,sats,gsm,speed,course,hdop,alt,mileage,runtime,`
/// `mcc|mnc|lac|cid,IIOO,analog[,event data,reserved,protocol,fuel,temps,count,data...]`.
pub(super) fn decode_aaa(text: &str, model: Option<&str>) -> Result<Record, DecodeError> {
    let f: Vec<&str> = text.split(',').collect();
    if f.len() < 15 {
        return Err(reject(format!("AAA has {} fields, expected 15+", f.len())));
    }
    let field = |i: usize| f.get(i).copied().unwrap_or("");

    let event: u32 = num(field(0), "event code")?;
    let lat: f64 = num(field(1), "latitude")?;
    let lon: f64 = num(field(2), "longitude")?;
    check_coordinates(lat, lon)?;
    let mut record = Record::at(parse_time(field(3))?);
    let valid = match field(4) {
        "A" => true,
        "V" => false,
        other => return Err(reject(format!("bad validity {other:?}"))),
    };
    let mut fix = Fix::new(lat, lon, valid);
    fix.satellites = Some(num(field(5), "satellites")?);
    let csq: u32 = num(field(6), "GSM signal")?;
    fix.speed = Some(num(field(7), "speed")?);
    fix.course = Some(num(field(8), "course")?);
    fix.hdop = Some(num(field(9), "HDOP")?);
    fix.altitude = Some(num(field(10), "altitude")?);
    record.fix = Some(fix);

    let mileage_m: u64 = num(field(11), "mileage")?;
    record.set_io("hw_mileage", mileage_m as f64 / 1000.0);
    let runtime_s: u64 = num(field(12), "run time")?;
    record.set_io("hw_engine_hours", runtime_s as f64 / 3600.0);

    let mut gsm = Gsm {
        signal_level: Some(io::csq_percent(csq)),
        ..Gsm::default()
    };
    let cell: Vec<&str> = field(13).split('|').collect();
    let mcc: u16 = num(cell.first().copied().unwrap_or(""), "MCC").unwrap_or(0);
    if mcc != 0 {
        gsm.mcc = Some(mcc);
        gsm.mnc = cell.get(1).and_then(|s| s.trim().parse().ok());
        gsm.lac =
            opt_hex(cell.get(2).copied().unwrap_or(""), "LAC")?.and_then(|v| u32::try_from(v).ok());
        gsm.cell_id = opt_hex(cell.get(3).copied().unwrap_or(""), "cell id")?;
    }
    record.gsm = Some(gsm);

    let io_state = hex(field(14), "I/O state")?;
    record.inputs = Some(((io_state >> 8) & 0xFF) as u32);
    record.outputs = Some((io_state & 0xFF) as u32);

    if let Some(analog) = f.get(15) {
        decode_aaa_analog(&mut record, analog, model)?;
    }

    let event_data = field(16);
    if !event_data.is_empty() {
        if event == io::EVENT_RFID {
            record.hardware_key = Some(event_data.to_owned());
        } else {
            record.set_io("event_data", event_data);
        }
    }
    let protocol: u32 = field(18).trim().parse().unwrap_or(0);
    let fuel = field(19);
    if fuel.len() == 4 {
        if let (Ok(whole), Ok(hundredths)) = (
            u8::from_str_radix(fuel.get(..2).unwrap_or(""), 16),
            u8::from_str_radix(fuel.get(2..).unwrap_or(""), 16),
        ) {
            record.set_io(
                "fuel_level",
                f64::from(whole) + f64::from(hundredths) / 100.0,
            );
        }
    }
    for temp in field(20).split('|').filter(|t| !t.is_empty()) {
        let (index, value) = io::aaa_temperature(temp, protocol)
            .ok_or_else(|| reject(format!("bad temperature {temp:?}")))?;
        record.set_io(io::temperature_key(index), value);
    }
    // Data count and the model-specific data that follows (taximeter, LLS...): kept verbatim.
    if let Some(rest) = f.get(22..).filter(|r| !r.is_empty()) {
        let data = rest.join(",");
        if !data.is_empty() {
            record.set_io("meitrack_data", data);
        }
    }

    io::apply_event(&mut record, event);
    Ok(record)
}

/// `AD1|AD2|AD3|battery|power` in hex ADC units, or on newer firmware
/// `battery|power|rtc|mcu|gps` in volts with decimals.
fn decode_aaa_analog(
    record: &mut Record,
    analog: &str,
    model: Option<&str>,
) -> Result<(), DecodeError> {
    let parts: Vec<&str> = analog.split('|').collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or("");
    if parts.iter().take(2).any(|p| p.contains('.')) {
        if !part(0).is_empty() {
            record.set_io("battery_voltage", num::<f64>(part(0), "battery voltage")?);
        }
        if !part(1).is_empty() {
            record.set_io("board_voltage", num::<f64>(part(1), "power voltage")?);
        }
        return Ok(());
    }
    let scale = io::AdcScale::for_model(model);
    for i in 0..3 {
        if let Some(raw) = opt_hex(part(i), "analog input")? {
            match scale.analog(raw) {
                Some(volts) => record.set_io(format!("analog_{}", i + 1), volts),
                None => record.set_io(format!("adc_{}", i + 1), raw as i64),
            }
        }
    }
    if let Some(raw) = opt_hex(part(3), "battery")? {
        record.set_io("battery_voltage", scale.battery(raw));
    }
    if let Some(raw) = opt_hex(part(4), "power")? {
        match scale.power(raw) {
            Some(volts) => record.set_io("board_voltage", volts),
            None => record.set_io("adc_5", raw as i64),
        }
    }
    Ok(())
}

fn i32_le(r: &mut Reader<'_>) -> Result<i32, DecodeError> {
    Ok(r.u32_le()? as i32)
}

/// Seconds since 2000-01-01T00:00:00Z, as the binary formats count.
pub(super) fn time_since_2000(secs: u32) -> Timestamp {
    const EPOCH_2000: i64 = 946_684_800;
    Timestamp::from_secs(EPOCH_2000 + i64::from(secs))
}

/// Packets of the `CCC` compressed format (protocol version, packet length, remaining cache,
/// then fixed 52-byte packets, little-endian).
fn decode_ccc(data: &[u8]) -> Result<Vec<Record>, DecodeError> {
    const PACKET: usize = 52;
    let mut r = Reader::new(data);
    let _version = r.u16_le()?;
    let packet_len = usize::from(r.u16_le()?);
    if packet_len < PACKET {
        return Err(reject(format!("CCC packet length {packet_len} < {PACKET}")));
    }
    let _remaining_cache = r.u32_le()?;
    let mut records = Vec::new();
    while r.remaining() >= packet_len {
        let mut p = Reader::new(r.bytes(packet_len)?);
        let event = u32::from(p.u8()?);
        let lat = f64::from(i32_le(&mut p)?) * 1e-6;
        let lon = f64::from(i32_le(&mut p)?) * 1e-6;
        check_coordinates(lat, lon)?;
        let mut record = Record::at(time_since_2000(p.u32_le()?));
        let mut fix = Fix::new(lat, lon, p.u8()? == 1);
        fix.satellites = Some(p.u8()?);
        let csq = u32::from(p.u8()?);
        fix.speed = Some(f64::from(p.u16_le()?));
        fix.course = Some(f64::from(p.u16_le()?));
        fix.hdop = Some(f64::from(p.u16_le()?) / 10.0);
        fix.altitude = Some(f64::from(p.u16_le()? as i16));
        record.fix = Some(fix);
        record.set_io("hw_mileage", f64::from(p.u32_le()?) / 1000.0);
        record.set_io("hw_engine_hours", f64::from(p.u32_le()?) / 3600.0);
        let mcc = p.u16_le()?;
        let mnc = p.u16_le()?;
        let lac = p.u16_le()?;
        let cid = p.u16_le()?;
        record.gsm = Some(Gsm {
            signal_level: Some(io::csq_percent(csq)),
            mcc: (mcc != 0).then_some(mcc),
            mnc: (mcc != 0).then_some(mnc),
            lac: (mcc != 0).then_some(u32::from(lac)),
            cell_id: (mcc != 0).then_some(u64::from(cid)),
            ..Gsm::default()
        });
        record.set_io("meitrack_io_status", u32::from(p.u16_le()?));
        record.set_io("analog_1", f64::from(p.u16_le()?) / 100.0);
        record.set_io("battery_voltage", f64::from(p.u16_le()?) / 100.0);
        record.set_io("board_voltage", f64::from(p.u16_le()?) / 100.0);
        let geofence = p.u32_le()?;
        if geofence != 0 {
            record.set_io("meitrack_geofence", geofence);
        }
        io::apply_event(&mut record, event);
        records.push(record);
    }
    Ok(records)
}

/// Records of the `CCE` format: remaining cache (u32), record count (u16), then per record a
/// length (u16, counting what follows it), an index (u16) and four groups of tagged values
/// (1-, 2-, 4-byte and length-prefixed), each group led by its count. Tags starting with
/// `0xFE` are two bytes long. All little-endian.
fn decode_cce(data: &[u8]) -> Result<Vec<Record>, DecodeError> {
    let mut r = Reader::new(data);
    let _remaining_cache = r.u32_le()?;
    let count = r.u16_le()?;
    let mut records = Vec::with_capacity(usize::from(count).min(64));
    for _ in 0..count {
        let len = usize::from(r.u16_le()?);
        // The length bounds the record, so that a tag we read wrongly cannot shift the next.
        let mut p = Reader::new(r.bytes(len)?);
        let _index = p.u16_le()?;
        let mut rec = CceRecord::default();
        for width in [1usize, 2, 4] {
            for _ in 0..p.u8()? {
                let id = cce_tag(&mut p)?;
                let raw = match width {
                    1 => u32::from(p.u8()?),
                    2 => u32::from(p.u16_le()?),
                    _ => p.u32_le()?,
                };
                rec.apply_fixed(id, width, raw);
            }
        }
        for _ in 0..p.u8()? {
            let id = cce_tag(&mut p)?;
            let n = usize::from(p.u8()?);
            rec.apply_variable(id, p.bytes(n)?);
        }
        records.push(rec.finish()?);
    }
    Ok(records)
}

fn cce_tag(p: &mut Reader<'_>) -> Result<u16, DecodeError> {
    if p.rest().first() == Some(&0xFE) {
        p.u16()
    } else {
        p.u8().map(u16::from)
    }
}

/// `D00,<file>,<packet count>,<packet index>,<jpeg bytes>`: a photo in packets of about
/// 1 KiB. The device sends eight packets per request; we ask for the next eight after each
/// eighth, and hand the assembled photo over with the last.
fn decode_photo_packet(
    session: &mut MeitrackSession,
    env: &Envelope<'_>,
    msg: &mut DeviceMessage,
) -> Result<(), DecodeError> {
    let mut parts = env.data.splitn(4, |&b| b == b',');
    let mut text = |what: &str| -> Result<&str, DecodeError> {
        parts
            .next()
            .and_then(|p| std::str::from_utf8(p).ok())
            .ok_or_else(|| reject(format!("D00 without {what}")))
    };
    let name = text("file name")?.to_owned();
    // The name goes back into our packet requests, where `*` would end the command early.
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b'*') {
        return Err(reject(format!("bad photo file name {name:?}")));
    }
    let total: u32 = num(text("packet count")?, "packet count")?;
    let index: u32 = num(text("packet index")?, "packet index")?;
    let chunk = parts.next().unwrap_or_default();

    let mut photo = match session.photo.take() {
        Some(p) if p.name == name && p.next == index => p,
        _ if index == 0 => Photo {
            name: name.clone(),
            data: Vec::new(),
            next: 0,
        },
        // Packets were lost (or we joined mid-transfer): this photo cannot be completed.
        _ => return Ok(()),
    };
    if photo.data.len().saturating_add(chunk.len()) > MAX_PHOTO {
        return Err(reject(format!("photo {name} exceeds {MAX_PHOTO} bytes")));
    }
    photo.data.extend_from_slice(chunk);
    photo.next = index.saturating_add(1);

    if index.saturating_add(1) >= total {
        let mut record = Record::default();
        record.set_io("photo_name", name.as_str());
        record.set_io("photo", crate::message::IoValue::Bytes(photo.data));
        msg.records.push(record);
    } else {
        let next = index.saturating_add(1);
        if next & 7 == 0 {
            msg.reply = Some(server_frame(
                env.flag,
                env.imei,
                &format!("D00,{name},{next}"),
            ));
        }
        session.photo = Some(photo);
    }
    Ok(())
}
