//! The body of an AVL packet (codec id .. second record count): codecs 7 (GH3000), 8,
//! 8 Extended and 16, and the command/serial messages of codecs 12 and 13.

use crate::error::DecodeError;
use crate::message::{Alarm, Fix, Record, Timestamp};
use crate::reader::Reader;

use super::io::{self, Family, FixExtras};

pub(super) const CODEC_GH3000: u8 = 0x07;
pub(super) const CODEC_8: u8 = 0x08;
pub(super) const CODEC_8_EXT: u8 = 0x8E;
pub(super) const CODEC_12: u8 = 0x0C;
pub(super) const CODEC_13: u8 = 0x0D;
pub(super) const CODEC_16: u8 = 0x10;

/// GH3000 times count seconds from 2007-01-01 00:00:00 UTC.
const GH3000_EPOCH: i64 = 1_167_609_600;

/// How to read the records of one packet.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    pub codec: u8,
    /// A 16-byte element group follows the 8-byte one (some firmware; Traccar's
    /// `teltonika.extended`).
    pub extended: bool,
    pub family: Family,
    /// When set, the second record count must equal the first and at most this many bytes
    /// may follow it (0 for a packet whose CRC was already checked and cut off).
    pub trailer: Option<usize>,
}

pub(super) fn is_avl_codec(codec: u8) -> bool {
    matches!(codec, CODEC_GH3000 | CODEC_8 | CODEC_8_EXT | CODEC_16)
}

/// Reads `codec, count, records, count` and returns the first count (what the device wants
/// acknowledged) with the records.
pub(super) fn parse_avl(body: &[u8], layout: Layout) -> Result<(u8, Vec<Record>), DecodeError> {
    let mut r = Reader::new(body);
    let codec = r.u8()?;
    if codec != layout.codec {
        return Err(DecodeError::reject("codec changed under the parser"));
    }
    let count = r.u8()?;
    let mut records = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let rec = if codec == CODEC_GH3000 {
            gh3000_record(&mut r)?
        } else {
            avl_record(&mut r, layout)?
        };
        records.push(rec);
    }
    let count2 = r.u8()?;
    if let Some(max) = layout.trailer {
        if count2 != count {
            return Err(DecodeError::reject(format!(
                "record counts differ: {count} then {count2}"
            )));
        }
        if r.remaining() > max {
            return Err(DecodeError::reject(format!(
                "{} bytes after the records",
                r.remaining()
            )));
        }
    }
    Ok((count, records))
}

/// Count fields and element ids are one byte in codec 8, two in 8 Extended; codec 16 has
/// two-byte ids with one-byte counts.
fn count(r: &mut Reader<'_>, codec: u8) -> Result<u16, DecodeError> {
    if codec == CODEC_8_EXT {
        r.u16()
    } else {
        r.u8().map(u16::from)
    }
}

fn element_id(r: &mut Reader<'_>, codec: u8) -> Result<u16, DecodeError> {
    if codec == CODEC_8 {
        r.u8().map(u16::from)
    } else {
        r.u16()
    }
}

fn avl_record(r: &mut Reader<'_>, layout: Layout) -> Result<Record, DecodeError> {
    let codec = layout.codec;
    let millis =
        i64::try_from(r.u64()?).map_err(|_| DecodeError::reject("record time out of range"))?;
    let mut rec = Record::at(Timestamp(millis));
    let priority = r.u8()?;
    let lon = f64::from(r.i32()?) / 10_000_000.0;
    let lat = f64::from(r.i32()?) / 10_000_000.0;
    let altitude = r.i16()?;
    let angle = r.u16()?;
    let satellites = r.u8()?;
    let speed = r.u16()?;
    let event = element_id(r, codec)?;
    if codec == CODEC_16 {
        rec.set_io("generation_type", i64::from(r.u8()?));
    }
    count(r, codec)?; // total element count, implied by the groups

    rec.set_io("priority", i64::from(priority));
    rec.set_io("event_io_id", i64::from(event));
    if priority == 2 {
        rec.alarms.push(Alarm::Sos);
    }

    let mut fx = FixExtras::default();
    for width in [1usize, 2, 4, 8] {
        let n = count(r, codec)?;
        for _ in 0..n {
            let id = element_id(r, codec)?;
            let raw = r.bytes(width)?;
            io::apply(&mut rec, &mut fx, layout.family, id, raw);
        }
    }
    if layout.extended {
        let n = count(r, codec)?;
        for _ in 0..n {
            let id = element_id(r, codec)?;
            let raw = r.bytes(16)?;
            rec.set_io(format!("io_{id}"), crate::IoValue::Bytes(raw.to_vec()));
        }
    }
    if codec == CODEC_8_EXT {
        let n = r.u16()?;
        for _ in 0..n {
            let id = r.u16()?;
            let len = usize::from(r.u16()?);
            let data = r.bytes(len)?;
            io::apply_nx(&mut rec, &mut fx, layout.family, id, data);
        }
    }

    // 0,0 is what a device that never had a fix sends: no position at all, not a point in
    // the Gulf of Guinea.
    let located = !(lat == 0.0 && lon == 0.0);
    if located && lat.abs() <= 90.0 && lon.abs() <= 180.0 {
        let mut fix = Fix::new(lat, lon, satellites > 0);
        fix.altitude = Some(f64::from(altitude));
        fix.course = Some(f64::from(angle % 360));
        fix.speed = Some(f64::from(speed));
        fix.satellites = Some(satellites);
        fix.hdop = fx.hdop;
        rec.fix = Some(fix);
    } else if let Some(hdop) = fx.hdop {
        rec.set_io("hdop", hdop);
    }
    Ok(rec)
}

fn gh3000_record(r: &mut Reader<'_>) -> Result<Record, DecodeError> {
    let stamp = r.u32()?;
    let secs = GH3000_EPOCH + i64::from(stamp & 0x3FFF_FFFF);
    let mut rec = Record::at(Timestamp::from_secs(secs));
    rec.set_io("priority", i64::from(stamp >> 30));
    let global = r.u8()?;
    let mut fx = FixExtras::default();
    let mut fix: Option<Fix> = None;

    if global & 0x01 != 0 {
        let mask = r.u8()?;
        if mask & 0x01 != 0 {
            let lat = f64::from(f32::from_bits(r.u32()?));
            let lon = f64::from(f32::from_bits(r.u32()?));
            if lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0 {
                fix = Some(Fix::new(lat, lon, true));
            }
        }
        if mask & 0x02 != 0 {
            let alt = r.u16()?;
            if let Some(f) = fix.as_mut() {
                f.altitude = Some(f64::from(alt));
            }
        }
        if mask & 0x04 != 0 {
            let course = f64::from(r.u8()?) * 360.0 / 256.0;
            if let Some(f) = fix.as_mut() {
                f.course = Some(course);
            }
        }
        if mask & 0x08 != 0 {
            let speed = r.u8()?;
            if let Some(f) = fix.as_mut() {
                f.speed = Some(f64::from(speed));
            }
        }
        if mask & 0x10 != 0 {
            let sats = r.u8()?;
            if let Some(f) = fix.as_mut() {
                f.satellites = Some(sats);
                f.valid = sats > 0;
            }
        }
        if mask & 0x20 != 0 {
            let lac = r.u16()?;
            let cell = r.u16()?;
            let g = rec.gsm.get_or_insert_with(Default::default);
            g.lac = Some(u32::from(lac));
            g.cell_id = Some(u64::from(cell));
        }
        if mask & 0x40 != 0 {
            // The modem's CSQ, 0..=31 (99: unknown).
            let q = r.u8()?;
            if q <= 31 {
                let g = rec.gsm.get_or_insert_with(Default::default);
                g.signal_level = u8::try_from(u32::from(q) * 100 / 31).ok();
            }
        }
        if mask & 0x80 != 0 {
            io::set_operator(&mut rec, u64::from(r.u32()?));
        }
    }

    for (bit, width) in [(0x02u8, 1usize), (0x04, 2), (0x08, 4)] {
        if global & bit != 0 {
            let n = r.u8()?;
            for _ in 0..n {
                let id = r.u8()?;
                let raw = r.bytes(width)?;
                io::apply_gh3000(&mut rec, &mut fx, id, raw);
            }
        }
    }

    if let Some(mut f) = fix {
        f.hdop = fx.hdop;
        rec.fix = Some(f);
    } else if let Some(hdop) = fx.hdop {
        rec.set_io("hdop", hdop);
    }
    Ok(rec)
}

/// One message of a codec 12 or 13 packet.
#[derive(Debug)]
pub(super) struct SerialItem<'a> {
    pub kind: u8,
    pub data: &'a [u8],
}

/// Reads `codec, count, (type, size, data)*, count`.
pub(super) fn parse_serial(
    body: &[u8],
    strict: bool,
) -> Result<(u8, Vec<SerialItem<'_>>), DecodeError> {
    let mut r = Reader::new(body);
    let codec = r.u8()?;
    let count = r.u8()?;
    let mut items = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let kind = r.u8()?;
        let size = usize::try_from(r.u32()?)
            .map_err(|_| DecodeError::reject("message size out of range"))?;
        let data = r.bytes(size)?;
        items.push(SerialItem { kind, data });
    }
    let count2 = r.u8()?;
    if strict && (count2 != count || r.remaining() != 0) {
        return Err(DecodeError::reject(format!(
            "codec {codec:#04x}: bad trailer (counts {count}/{count2}, {} extra bytes)",
            r.remaining()
        )));
    }
    Ok((codec, items))
}

/// Codec 13 puts a timestamp before the text: Teltonika documents 4 bytes of seconds, yet
/// devices (and Teltonika's own example) send 8 bytes of milliseconds. A 4-byte reading
/// before 2000 means it was the high half of the millisecond form.
pub(super) fn codec13_time(data: &[u8]) -> (Option<Timestamp>, &[u8]) {
    let be = |b: &[u8]| b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
    const YEAR_2000: u64 = 946_684_800;
    const YEAR_2100: u64 = 4_102_444_800;
    let (Some(head4), Some(rest4)) = (data.get(..4), data.get(4..)) else {
        return (None, data);
    };
    let secs = be(head4);
    if (YEAR_2000..YEAR_2100).contains(&secs) {
        return (i64::try_from(secs).ok().map(Timestamp::from_secs), rest4);
    }
    if let (Some(head8), Some(rest8)) = (data.get(..8), data.get(8..)) {
        let millis = be(head8);
        if (YEAR_2000 * 1000..YEAR_2100 * 1000).contains(&millis) {
            return (i64::try_from(millis).ok().map(Timestamp), rest8);
        }
    }
    (None, rest4)
}

/// Text as the device meant it, when every byte is printable (CR/LF/TAB allowed).
pub(super) fn printable(data: &[u8]) -> Option<String> {
    let ok = data
        .iter()
        .all(|b| (0x20..0x7F).contains(b) || matches!(b, b'\r' | b'\n' | b'\t'));
    if !ok {
        return None;
    }
    std::str::from_utf8(data).ok().map(|s| s.trim().to_owned())
}

/// `UUUUww<8 axle loads>;<load truck>;<load trailer>;<total truck>;<total trailer>;SSS`: the
/// serial output of an on-board weighing unit, in the unit the scale is set to (tonnes in
/// the captures seen).
pub(super) fn weighing(rec: &mut Record, text: &str) -> bool {
    let Some(inner) = text
        .strip_prefix("UUUUww")
        .and_then(|t| t.strip_suffix("SSS"))
    else {
        return false;
    };
    let values: Vec<f64> = inner
        .split(';')
        .filter(|v| !v.is_empty())
        .map_while(|v| v.trim().parse::<f64>().ok())
        .collect();
    if values.len() < 12 {
        return false;
    }
    let names = ["load_truck", "load_trailer", "total_truck", "total_trailer"];
    for (i, v) in values.iter().enumerate().take(12) {
        match names.get(i.wrapping_sub(8)) {
            Some(name) if i >= 8 => rec.set_io(*name, *v),
            _ => rec.set_io(format!("axle_load_{}", i + 1), *v),
        }
    }
    true
}
