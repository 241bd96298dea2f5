//! The record layout shared by `#SD#`, `#D#` and black boxes, and the mapping of the free-form
//! `name:type:value` parameters to trackd's input names.
//!
//! `date;time;lat;N/S;lon;E/W;speed;course;altitude;sats` (short), then
//! `;hdop;inputs;outputs;adc;ibutton;params` (extended). `NA` (or nothing) means absent.

use std::borrow::Cow;

use crate::message::{Alarm, Fix, Gsm, IoName, IoValue, Record, Timestamp};
use crate::time::{utc_millis, year_2digit};

/// The answer code for a record that cannot be stored, as the protocol numbers them.
pub(super) type Code = &'static str;

const STRUCTURE: Code = "-1";
const TIME: Code = "0";
const COORDINATES: Code = "10";
const MOTION: Code = "11";
const SATELLITES: Code = "12";
const IO: Code = "13";
const ADC: Code = "14";

pub(super) fn record(fields: &[&str]) -> Result<Record, Code> {
    if fields.len() != 10 && fields.len() != 16 {
        return Err(STRUCTURE);
    }
    let field = |i: usize| present(fields.get(i).copied().unwrap_or_default());

    let mut record = Record {
        time: match (field(0), field(1)) {
            (Some(date), Some(time)) => Some(datetime(date, time).ok_or(TIME)?),
            // The server's receive time stands in, as the protocol says.
            _ => None,
        },
        ..Record::default()
    };

    let speed = optional(field(6), number, MOTION)?;
    let course = optional(field(7), number, MOTION)?;
    let altitude = optional(field(8), number, MOTION)?;
    let satellites = optional(field(9), |s| s.parse::<u32>().ok(), SATELLITES)?;
    let hdop = if fields.len() == 16 {
        optional(field(10), number, SATELLITES)?
    } else {
        None
    };

    match (field(2), field(3), field(4), field(5)) {
        (Some(lat), Some(ns), Some(lon), Some(ew)) => {
            let lat = coordinate(lat, ns, 'N', 'S', 90.0).ok_or(COORDINATES)?;
            let lon = coordinate(lon, ew, 'E', 'W', 180.0).ok_or(COORDINATES)?;
            // Devices send NA rather than coordinates they do not have, so a position with no
            // satellite count is taken as a fix; with one, fewer than 3 satellites is none.
            let mut fix = Fix::new(lat, lon, !matches!(satellites, Some(s) if s < 3));
            fix.speed = speed;
            fix.course = course;
            fix.altitude = altitude;
            fix.satellites = satellites.map(|s| u8::try_from(s).unwrap_or(u8::MAX));
            fix.hdop = hdop;
            record.fix = Some(fix);
        }
        (None, _, None, _) => {}
        _ => return Err(COORDINATES),
    }

    if fields.len() == 16 {
        record.inputs = optional(field(11), |s| s.parse::<u32>().ok(), IO)?;
        record.outputs = optional(field(12), |s| s.parse::<u32>().ok(), IO)?;
        if let Some(adc) = field(13) {
            for (i, value) in adc.split(',').enumerate() {
                let value = number(value.trim()).ok_or(ADC)?;
                analog(&mut record, i + 1, value);
            }
        }
        record.hardware_key = field(14).map(str::to_owned);
        if let Some(params) = field(15) {
            for (name, value) in parse_params(params) {
                apply_param(&mut record, &name, value);
            }
        }
    }
    Ok(record)
}

fn present(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty() && !s.eq_ignore_ascii_case("NA")).then_some(s)
}

fn optional<T>(
    s: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    code: Code,
) -> Result<Option<T>, Code> {
    s.map(|s| parse(s).ok_or(code)).transpose()
}

/// A finite decimal number, optionally negative (no exponents, `inf` or `nan`).
fn number(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    ok.then(|| s.parse::<f64>().ok())
        .flatten()
        .filter(|v| v.is_finite())
}

/// `ddmmyy` and `hhmmss` or `hhmmss.fraction`, UTC.
fn datetime(date: &str, time: &str) -> Option<Timestamp> {
    let two = |s: &str, i: usize| -> Option<u32> {
        let part = s.get(i..i + 2)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if date.len() != 6 {
        return None;
    }
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    if clock.len() != 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    utc_millis(
        year_2digit(two(date, 4)?),
        two(date, 2)?,
        two(date, 0)?,
        two(clock, 0)?,
        two(clock, 2)?,
        two(clock, 4)?,
        millis,
    )
}

/// `ddmm.mmmm` / `dddmm.mmmm`, signed by the hemisphere letter.
fn coordinate(value: &str, hemisphere: &str, plus: char, minus: char, max: f64) -> Option<f64> {
    let sign = match hemisphere.chars().next()?.to_ascii_uppercase() {
        c if c == plus => 1.0,
        c if c == minus => -1.0,
        _ => return None,
    };
    let raw = number(value).filter(|v| *v >= 0.0)?;
    let degrees = (raw / 100.0).floor();
    let result = degrees + (raw - degrees * 100.0) / 60.0;
    (result <= max).then_some(sign * result)
}

/// `name:type:value` items separated by commas; type 1 is an integer, 2 a double, 3 text. A
/// text value may itself hold commas: an item that does not parse continues the text before.
fn parse_params(params: &str) -> Vec<(String, IoValue)> {
    let mut out: Vec<(String, IoValue)> = Vec::new();
    for item in params.split(',') {
        let mut parts = item.splitn(3, ':');
        let (name, kind, value) = (parts.next(), parts.next(), parts.next());
        let parsed = match (name, kind, value) {
            (Some(name), Some("1"), Some(value)) if !name.is_empty() => Some(
                value
                    .trim()
                    .parse::<i64>()
                    .map(IoValue::Int)
                    .ok()
                    .or_else(|| number(value.trim()).map(IoValue::Float))
                    .unwrap_or_else(|| IoValue::Text(value.to_owned())),
            ),
            (Some(name), Some("2"), Some(value)) if !name.is_empty() => Some(
                number(value.trim())
                    .map(IoValue::Float)
                    .unwrap_or_else(|| IoValue::Text(value.to_owned())),
            ),
            (Some(name), Some("3"), Some(value)) if !name.is_empty() => {
                Some(IoValue::Text(value.to_owned()))
            }
            _ => None,
        };
        match (parsed, name, out.last_mut()) {
            (Some(value), Some(name), _) => out.push((name.trim().to_owned(), value)),
            (None, _, Some((_, IoValue::Text(text)))) => {
                text.push(',');
                text.push_str(item);
            }
            _ => {}
        }
    }
    out
}

/// Known parameter names become trackd's input names (units fixed per name); the rest keep
/// theirs as `wialon_<name>`, lower-cased.
fn apply_param(record: &mut Record, name: &str, value: IoValue) {
    // Most devices name their parameters in lower case already: no copy for those.
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    let lower: Cow<str> = if name.chars().all(plain) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_lowercase())
    };
    let num = match &value {
        IoValue::Text(text) => number(text.trim()),
        other => other.as_f64(),
    };
    let indexed = |prefix: &str, max: usize| -> Option<usize> {
        let n: usize = lower.strip_prefix(prefix)?.parse().ok()?;
        (1..=max).contains(&n).then_some(n)
    };
    let gsm_u64 = num
        .filter(|v| *v >= 0.0 && v.fract() == 0.0)
        .map(|v| v as u64);
    let mapped: Option<(IoName, f64)> = match (lower.as_ref(), num) {
        ("pwr_ext" | "power" | "uext", Some(v)) => Some(("board_voltage".into(), v)),
        ("pwr_int" | "uacc", Some(v)) => Some(("battery_voltage".into(), v)),
        ("temp", Some(v)) => Some(("temp_sensor".into(), v)),
        ("odometer" | "odo" | "mileage", Some(v)) => Some(("hw_mileage".into(), v)),
        ("sos", Some(v)) => {
            if v != 0.0 && !record.alarms.contains(&Alarm::Sos) {
                record.alarms.push(Alarm::Sos);
            }
            return;
        }
        ("ign" | "ignition" | "acc", Some(v)) => {
            record.ignition = Some(v != 0.0);
            return;
        }
        ("mcc" | "mcc1", _) if gsm_u64.is_some() => {
            gsm(record).mcc = gsm_u64.and_then(|v| u16::try_from(v).ok());
            return;
        }
        ("mnc" | "mnc1", _) if gsm_u64.is_some() => {
            gsm(record).mnc = gsm_u64.and_then(|v| u16::try_from(v).ok());
            return;
        }
        ("lac" | "lac1", _) if gsm_u64.is_some() => {
            gsm(record).lac = gsm_u64.and_then(|v| u32::try_from(v).ok());
            return;
        }
        ("cell_id" | "cell_id1", _) if gsm_u64.is_some() => {
            gsm(record).cell_id = gsm_u64;
            return;
        }
        (_, Some(v)) => indexed("fuel", 16)
            .or_else(|| indexed("lls", 16))
            .map(|n| (format!("lls_level_{n}").into(), v))
            .or_else(|| indexed("temp", 10).map(|n| (format!("ext_temp_sensor_{n}").into(), v)))
            .or_else(|| indexed("adc", 8).map(|n| (format!("analog_{n}").into(), v))),
        _ => None,
    };
    match mapped {
        Some((key, v)) => record.set_io(key, v),
        None => record.set_io(format!("wialon_{lower}"), value),
    }
}

fn gsm(record: &mut Record) -> &mut Gsm {
    record.gsm.get_or_insert_with(Gsm::default)
}

/// The `adc` field: `analog_1..8`, the rest under a Wialon name.
fn analog(record: &mut Record, n: usize, value: f64) {
    if (1..=8).contains(&n) {
        record.set_io(format!("analog_{n}"), value);
    } else {
        record.set_io(format!("wialon_adc{n}"), value);
    }
}
