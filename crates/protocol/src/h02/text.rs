//! Text frames: `*<maker>,<id>,<type>,<fields...>#`.

use super::{apply_status, yyyymmddhhmmss, KNOTS};
use crate::error::DecodeError;
use crate::message::{CommandReply, DeviceMessage, Fix, Gsm, Record, Timestamp};
use crate::time::{utc, year_2digit};

pub(super) fn decode(frame: &[u8], now: Option<Timestamp>) -> Result<DeviceMessage, DecodeError> {
    let sentence = String::from_utf8_lossy(frame);
    let body = sentence
        .trim()
        .strip_prefix('*')
        .and_then(|s| s.strip_suffix('#'))
        .ok_or_else(|| DecodeError::reject("H02 text frame is not *...#"))?;
    let mut head = body.splitn(4, ',');
    let maker = head.next().unwrap_or_default();
    let id = head.next().unwrap_or_default().trim();
    let kind = head.next().unwrap_or_default();
    let rest = head.next().unwrap_or_default();
    if maker.len() != 2 || !maker.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(DecodeError::reject(
            "H02 manufacturer must be two characters",
        ));
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(DecodeError::reject("H02 device id is not alphanumeric"));
    }
    let fields: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split(',').collect()
    };

    let mut msg = DeviceMessage {
        device_id: (!id.is_empty()).then(|| id.to_owned()),
        ..DeviceMessage::default()
    };
    // Confirmation of a report, stamped with the server's time, as some firmwares expect.
    let confirm = |kind: &str| {
        now.filter(|_| !id.is_empty())
            .map(|now| format!("*HQ,{id},V4,{kind},{}#", yyyymmddhhmmss(now)).into_bytes())
    };

    match kind {
        "V0" | "HTBT" => {
            msg.reply = (!id.is_empty()).then(|| format!("*{maker},{id},{kind}#").into_bytes());
            if let Some(level) = fields.first().and_then(|f| f.trim().parse::<u8>().ok()) {
                let mut record = Record {
                    time: now,
                    ..Record::default()
                };
                record.battery_level = Some(level.min(100));
                msg.records.push(record);
            }
        }
        "NBR" => {
            msg.records.push(nbr(&fields, now)?);
            msg.reply = confirm("NBR");
        }
        "LINK" => msg.records.push(link(&fields, now)?),
        "V3" => msg.records.push(v3(&fields, now)?),
        "VP1" => msg.records.push(vp1(&fields, now)?),
        "SMS" => {
            // The device's answer to an SMS-style command, free text that may hold commas.
            msg.command_replies
                .push(CommandReply::Text(rest.to_owned()));
            let mut record = Record {
                time: now,
                ..Record::default()
            };
            record.set_io("h02_result", rest);
            msg.records.push(record);
        }
        "V4" => {
            // `V4,<command>,<its parameters>,<command time>,<time>,<validity>,...`: the answer
            // runs up to the device time that precedes the validity flag.
            let at = (2..fields.len()).find(|&i| {
                matches!(fields.get(i), Some(&("A" | "V" | "B")))
                    && fields.get(i - 1).is_some_and(|t| hms(t).is_some())
            });
            match at {
                Some(i) => {
                    let answer = fields.get(..i - 1).unwrap_or_default().join(",");
                    msg.command_replies.push(CommandReply::Text(answer));
                    msg.records
                        .push(position(fields.get(i - 1..).unwrap_or_default(), now));
                }
                None => msg
                    .command_replies
                    .push(CommandReply::Text(rest.to_owned())),
            }
        }
        k if k.starts_with('V') => {
            msg.records.push(position(&fields, now));
            if k == "V1" {
                msg.reply = confirm("V1");
            }
        }
        // XT, BS, BASE and the like carry nothing trackd models; the frame still names the
        // device.
        _ => {}
    }
    Ok(msg)
}

/// `time,validity,lat,N/S,lon,E/W,speed,course,[battery,]date,[sim info x3,]status,tail...`
fn position(f: &[&str], now: Option<Timestamp>) -> Record {
    let field = |i: usize| f.get(i).map_or("", |s| s.trim());
    let mut record = Record::default();

    // Some firmwares put a battery gauge before the date.
    let date_at = if !field(8).is_empty() && field(8).len() != 6 && dmy(field(9)).is_some() {
        9
    } else {
        8
    };
    record.time = datetime(field(date_at), field(0)).or(now);

    let lat = coordinate(field(2), field(3), 'N', 'S', 90.0);
    let lon = coordinate(field(4), field(5), 'E', 'W', 180.0);
    if let (Some(lat), Some(lon)) = (lat, lon) {
        // `A` is a fix, `V` none; a digit there is a coding scheme sent only with a fix.
        let validity = field(1);
        let coded = !validity.is_empty() && validity.bytes().all(|b| b.is_ascii_digit());
        let valid = validity == "A" || coded;
        let mut fix = Fix::new(lat, lon, valid);
        fix.speed = decimal(field(6)).map(|knots| knots * KNOTS);
        fix.course = decimal(field(7));
        record.fix = Some(fix);
    }

    let mut next = date_at + 1;
    if let Some(status) = status_word(field(next)) {
        apply_status(&mut record, status);
        next += 1;
    } else if let Some(status) = status_word(field(next + 3)) {
        // V19 and others put SIM data (phone number, IP or ICCID) before the status.
        apply_status(&mut record, status);
        next += 4;
    } else {
        return record;
    }
    tail(&mut record, f.get(next..).unwrap_or_default());
    record
}

/// What follows the status word varies by firmware: odometer/temperature/fuel/altitude/cell,
/// a serving cell in decimal or hex, or values no document names (kept as `h02_data_N`).
fn tail(record: &mut Record, fields: &[&str]) {
    let mut fields: Vec<&str> = fields.iter().map(|s| s.trim()).collect();
    while fields.last().is_some_and(|s| s.is_empty()) {
        fields.pop();
    }
    let mut unnamed_from = 0;
    if let [odometer, temp, fuel, altitude, lac, cid] = fields[..] {
        if fuel.contains('.') {
            if let (Ok(odometer), Ok(temp), Some(fuel), Ok(altitude), Ok(lac), Ok(cid)) = (
                odometer.parse::<u64>(),
                temp.parse::<i64>(),
                decimal(fuel),
                altitude.parse::<i32>(),
                u32::from_str_radix(lac, 16),
                u64::from_str_radix(cid, 16),
            ) {
                // Metres, as Traccar reads this firmware.
                record.set_io("hw_mileage", odometer as f64 / 1000.0);
                record.set_io("ext_temp_sensor_1", temp);
                record.set_io("h02_fuel", fuel);
                if let Some(fix) = record.fix.as_mut() {
                    fix.altitude = Some(f64::from(altitude));
                }
                record.gsm = Some(Gsm {
                    lac: Some(lac),
                    cell_id: Some(cid),
                    ..Gsm::default()
                });
                return;
            }
        }
    }
    if let Some(gsm) = cell(&fields) {
        record.gsm = Some(gsm);
        unnamed_from = 4;
    }
    for (i, value) in fields.iter().enumerate().skip(unnamed_from) {
        if !value.is_empty() {
            record.set_io(format!("h02_data_{}", i + 1), *value);
        }
    }
}

/// `mcc,mnc,lac,cid` after the status, in decimal on some firmwares and hex on others; taken
/// only when the country code is a real one in that reading.
fn cell(fields: &[&str]) -> Option<Gsm> {
    let f = fields.get(..4)?;
    if f.iter().any(|s| s.is_empty()) {
        return None;
    }
    let plausible = |g: &Gsm| g.mcc.is_some_and(|m| (200..=799).contains(&m));
    let read = |radix: u32| -> Option<Gsm> {
        Some(Gsm {
            mcc: Some(u16::from_str_radix(f.first()?, radix).ok()?),
            mnc: Some(u16::from_str_radix(f.get(1)?, radix).ok()?),
            lac: Some(u32::from_str_radix(f.get(2)?, radix).ok()?),
            cell_id: Some(u64::from_str_radix(f.get(3)?, radix).ok()?),
            ..Gsm::default()
        })
    };
    read(10)
        .filter(plausible)
        .or_else(|| read(16).filter(plausible))
}

/// `NBR,time,mcc,mnc,delay,count,(lac,cid,rssi)*count,date,status`: cells, no position.
fn nbr(f: &[&str], now: Option<Timestamp>) -> Result<Record, DecodeError> {
    let field = |i: usize| f.get(i).map_or("", |s| s.trim());
    let count: usize = field(4)
        .parse()
        .map_err(|_| DecodeError::reject("NBR cell count"))?;
    let cells_end = count
        .checked_mul(3)
        .and_then(|n| n.checked_add(5))
        .filter(|&end| end < f.len())
        .ok_or_else(|| DecodeError::reject("NBR cell list shorter than its count"))?;
    let mut record = Record {
        time: datetime(field(cells_end), field(0)).or(now),
        ..Record::default()
    };
    let mut gsm = Gsm {
        mcc: field(1).parse().ok(),
        mnc: field(2).parse().ok(),
        ..Gsm::default()
    };
    if count > 0 {
        // The first cell is the serving one.
        gsm.lac = field(5).parse().ok();
        gsm.cell_id = field(6).parse().ok();
    }
    record.gsm = Some(gsm);
    if let Some(status) = status_word(field(cells_end + 1)) {
        apply_status(&mut record, status);
    }
    Ok(record)
}

/// `LINK,time,rssi,satellites,battery %,steps,turnovers,date,status`: a watch's heartbeat.
fn link(f: &[&str], now: Option<Timestamp>) -> Result<Record, DecodeError> {
    let field = |i: usize| f.get(i).map_or("", |s| s.trim());
    if f.len() < 8 {
        return Err(DecodeError::reject("LINK frame too short"));
    }
    let mut record = Record {
        time: datetime(field(6), field(0)).or(now),
        ..Record::default()
    };
    // RSSI on the modem's 0..31 scale.
    if let Ok(rssi) = field(1).parse::<u8>() {
        if rssi <= 31 {
            record.gsm = Some(Gsm {
                signal_level: Some(percent_of(rssi, 31)),
                ..Gsm::default()
            });
        }
    }
    if let Ok(sats) = field(2).parse::<u32>() {
        record.set_io("h02_satellites", sats);
    }
    record.battery_level = field(3).parse::<u8>().ok().map(|b| b.min(100));
    if let Ok(steps) = field(4).parse::<u32>() {
        record.set_io("h02_steps", steps);
    }
    if let Ok(turnovers) = field(5).parse::<u32>() {
        record.set_io("h02_turnovers", turnovers);
    }
    if let Some(status) = status_word(field(7)) {
        apply_status(&mut record, status);
    }
    Ok(record)
}

/// `V3,time,mcc+mnc,count,(lac,cid,?,rssi)*count,battery(hex),reboot,X,date,status`.
fn v3(f: &[&str], now: Option<Timestamp>) -> Result<Record, DecodeError> {
    let field = |i: usize| f.get(i).map_or("", |s| s.trim());
    let n = f.len();
    if n < 8 || field(n - 3) != "X" {
        return Err(DecodeError::reject("V3 frame layout"));
    }
    let mut record = Record {
        time: datetime(field(n - 2), field(0)).or(now),
        ..Record::default()
    };
    let operator = field(1);
    let mut gsm = Gsm {
        mcc: operator.get(..3).and_then(|s| s.parse().ok()),
        mnc: operator.get(3..).and_then(|s| s.parse().ok()),
        ..Gsm::default()
    };
    if field(2).parse::<u32>().is_ok_and(|count| count > 0) && n >= 10 {
        gsm.lac = field(3).parse().ok();
        gsm.cell_id = field(4).parse().ok();
    }
    record.gsm = Some(gsm);
    // Its scale is undocumented (0x0292 = 658 is a typical value), so it stays raw.
    if let Ok(battery) = u32::from_str_radix(field(n - 5), 16) {
        record.set_io("h02_battery", battery);
    }
    if let Some(status) = status_word(field(n - 1)) {
        apply_status(&mut record, status);
    }
    Ok(record)
}

/// `VP1,V,mcc,mnc,lac,cid,rssi[Ylac,cid,rssi...]` (cells) or
/// `VP1,A,lat,N/S,lon,E/W,speed,course,date` (a fix with a date but no time).
fn vp1(f: &[&str], now: Option<Timestamp>) -> Result<Record, DecodeError> {
    let field = |i: usize| f.get(i).map_or("", |s| s.trim());
    let mut record = Record {
        time: now,
        ..Record::default()
    };
    match field(0) {
        "V" => {
            let cells = f.get(3..).unwrap_or_default().join(",");
            let serving: Vec<&str> = cells.split('Y').next().unwrap_or("").split(',').collect();
            record.gsm = Some(Gsm {
                mcc: field(1).parse().ok(),
                mnc: field(2).parse().ok(),
                lac: serving.first().and_then(|s| s.trim().parse().ok()),
                cell_id: serving.get(1).and_then(|s| s.trim().parse().ok()),
                ..Gsm::default()
            });
        }
        "A" | "B" => {
            let lat = coordinate(field(1), field(2), 'N', 'S', 90.0);
            let lon = coordinate(field(3), field(4), 'E', 'W', 180.0);
            let (Some(lat), Some(lon)) = (lat, lon) else {
                return Err(DecodeError::reject("VP1 coordinates"));
            };
            let mut fix = Fix::new(lat, lon, true);
            fix.speed = decimal(field(5)).map(|knots| knots * KNOTS);
            fix.course = decimal(field(6));
            record.fix = Some(fix);
            // The frame is sent live: the receive time is closer to the truth than midnight.
            if record.time.is_none() {
                record.time = datetime(field(7), "000000");
            }
        }
        _ => return Err(DecodeError::reject("VP1 kind")),
    }
    Ok(record)
}

/// `ddmm.mmmm` (any number of degree digits, even none), `-dd-mm.mmmm`, or `ddmmmmmm` with
/// four implied decimals; signed by the hemisphere letter.
fn coordinate(value: &str, hemisphere: &str, plus: char, minus: char, max: f64) -> Option<f64> {
    let sign = match hemisphere.trim().chars().next()?.to_ascii_uppercase() {
        c if c == plus => 1.0,
        c if c == minus => -1.0,
        _ => return None,
    };
    let value = value.trim();
    let degrees = if let Some(rest) = value.strip_prefix('-') {
        let (d, m) = rest.split_once('-')?;
        f64::from(digits(d)?) + decimal(m)? / 60.0
    } else if let Some((int, _)) = value.split_once('.') {
        let split = int.len().checked_sub(2)?;
        let deg = if split == 0 {
            0
        } else {
            digits(int.get(..split)?)?
        };
        decimal(value.get(split..)?)? / 60.0 + f64::from(deg)
    } else {
        let split = value.len().checked_sub(6)?;
        let deg = if split == 0 {
            0
        } else {
            digits(value.get(..split)?)?
        };
        let minutes = digits(value.get(split..)?)?;
        f64::from(deg) + f64::from(minutes) / 10_000.0 / 60.0
    };
    (degrees <= max).then_some(sign * degrees)
}

fn percent_of(value: u8, full: u8) -> u8 {
    let pct = u16::from(value.min(full)) * 100 / u16::from(full.max(1));
    u8::try_from(pct).unwrap_or(100)
}

/// A non-negative decimal number made of digits and at most one point (no signs, exponents or
/// `inf`, which `f64::from_str` would take).
fn decimal(s: &str) -> Option<f64> {
    let s = s.trim();
    let ok = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|&b| b == b'.').count() <= 1
        && s.bytes().any(|b| b.is_ascii_digit());
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

/// Up to nine decimal digits (so the value fits in a `u32`).
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn status_word(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        u32::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

fn pairs(s: &str) -> Option<(u32, u32, u32)> {
    let s = s.trim();
    if s.len() != 6 {
        return None;
    }
    Some((
        digits(s.get(0..2)?)?,
        digits(s.get(2..4)?)?,
        digits(s.get(4..6)?)?,
    ))
}

fn hms(s: &str) -> Option<(u32, u32, u32)> {
    pairs(s).filter(|&(h, m, sec)| h < 24 && m < 60 && sec < 61)
}

fn dmy(s: &str) -> Option<(u32, u32, u32)> {
    pairs(s).filter(|&(d, m, _)| (1..=31).contains(&d) && (1..=12).contains(&m))
}

fn datetime(date: &str, time: &str) -> Option<Timestamp> {
    let (d, mo, y) = dmy(date)?;
    let (h, mi, s) = hms(time)?;
    utc(year_2digit(y), mo, d, h, mi, s)
}
