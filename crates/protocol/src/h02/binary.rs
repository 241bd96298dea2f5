//! Binary frames: `$`, the id and the position in BCD, the status word, and on 45-byte frames
//! the serving cell.
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | `$` |
//! | 1 | 5 | device id, BCD |
//! | 6 | 3 | time hhmmss, BCD (UTC) |
//! | 9 | 3 | date ddmmyy, BCD |
//! | 12 | 4 | latitude ddmm.mmmm, BCD |
//! | 16 | 1 | battery gauge |
//! | 17 | 5 | longitude dddmm.mmmm, BCD, then a flags nibble (valid, north, east) |
//! | 22 | 3 | speed (3 digits, knots) and course (3 digits), BCD |
//! | 25 | 4 | status word |
//! | 29 | 3 | not documented |
//! | 32 | 5 | not documented (45-byte frames) |
//! | 37 | 5 | mcc (2), mnc (1), lac (2) |
//! | 42 | 2 | cell id |
//! | 44 | 1 | not documented |

use super::{apply_status, KNOTS};
use crate::error::DecodeError;
use crate::message::{DeviceMessage, Fix, Gsm, Record};
use crate::reader::Reader;
use crate::time::{utc, year_2digit};

pub(super) fn decode(frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
    let mut r = Reader::new(frame);
    r.skip(1)?;
    let id: String = r.bytes(5)?.iter().map(|b| format!("{b:02x}")).collect();

    let time = nibbles(r.bytes(3)?);
    let date = nibbles(r.bytes(3)?);
    let two = |n: &[u8], i: usize| -> Result<u32, DecodeError> {
        let v = bcd(n.get(i..i + 2).unwrap_or_default())?;
        u32::try_from(v).map_err(|_| DecodeError::reject("H02 binary date/time"))
    };
    let timestamp = utc(
        year_2digit(two(&date, 4)?),
        two(&date, 2)?,
        two(&date, 0)?,
        two(&time, 0)?,
        two(&time, 2)?,
        two(&time, 4)?,
    )
    .ok_or_else(|| DecodeError::reject("H02 binary date/time out of range"))?;

    let lat = nibbles(r.bytes(4)?);
    let battery = r.u8()?;
    let lon = nibbles(r.bytes(5)?);
    let flags = lon.last().copied().unwrap_or(0);
    let mut lat = degrees(&lat, 2)?;
    let mut lon = degrees(lon.get(..9).unwrap_or_default(), 3)?;
    if flags & 0x04 == 0 {
        lat = -lat;
    }
    if flags & 0x08 == 0 {
        lon = -lon;
    }
    if lat.abs() > 90.0 || lon.abs() > 180.0 {
        return Err(DecodeError::reject("H02 binary coordinates out of range"));
    }

    // Three digits of speed (knots), three of course.
    let motion = nibbles(r.bytes(3)?);
    let speed = bcd(motion.get(..3).unwrap_or_default())?;
    let course = bcd(motion.get(3..).unwrap_or_default())?;

    let mut fix = Fix::new(lat, lon, flags & 0x02 != 0);
    fix.speed = Some(speed as f64 * KNOTS);
    fix.course = Some(course as f64);

    let mut record = Record::at(timestamp);
    record.fix = Some(fix);
    record.battery_level = battery_level(battery);
    apply_status(&mut record, r.u32()?);

    if frame.len() == super::BINARY_LONG {
        r.skip(8)?;
        let gsm = Gsm {
            mcc: Some(r.u16()?),
            mnc: Some(u16::from(r.u8()?)),
            lac: Some(u32::from(r.u16()?)),
            cell_id: Some(u64::from(r.u16()?)),
            ..Gsm::default()
        };
        if gsm.mcc.is_some_and(|mcc| (200..=799).contains(&mcc)) {
            record.gsm = Some(gsm);
        }
    }

    Ok(DeviceMessage {
        device_id: Some(id),
        records: vec![record],
        ..DeviceMessage::default()
    })
}

fn nibbles(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect()
}

/// The value of BCD digits, one per nibble; a nibble above 9 means the frame is not H02.
fn bcd(digits: &[u8]) -> Result<u64, DecodeError> {
    digits.iter().try_fold(0u64, |acc, &d| {
        if d > 9 {
            Err(DecodeError::reject("H02 binary field is not BCD"))
        } else {
            Ok(acc.saturating_mul(10).saturating_add(u64::from(d)))
        }
    })
}

/// `deg_digits` digits of degrees, then minutes with two integer and four decimal digits.
fn degrees(digits: &[u8], deg_digits: usize) -> Result<f64, DecodeError> {
    let deg = bcd(digits.get(..deg_digits).unwrap_or_default())?;
    let minutes = bcd(digits.get(deg_digits..).unwrap_or_default())?;
    Ok(deg as f64 + minutes as f64 / 10_000.0 / 60.0)
}

/// The battery byte is a 1..6 gauge on older firmwares and a percentage on newer ones;
/// 0xF1..0xF6 is the gauge while charging.
fn battery_level(value: u8) -> Option<u8> {
    let gauge = |v: u8| match v {
        1..=3 => Some((v - 1) * 10),
        4..=6 => Some((v - 1) * 20),
        _ => None,
    };
    match value {
        0 => None,
        1..=6 => gauge(value),
        7..=100 => Some(value),
        0xF1..=0xF6 => gauge(value - 0xF0),
        _ => None,
    }
}
