//! Field layouts several GT06 message types share: dates, the GPS block and its course/status
//! word, the cell (LBS) block, the terminal-information byte and the alarm codes.

use crate::error::DecodeError;
use crate::message::{Alarm, Fix, Gsm, Record, Timestamp};
use crate::reader::Reader;
use crate::time::{utc, year_2digit};

use super::variant::{Model, Variant};

// Message types, named after what the Concox/Jimi documents call them.
pub const LOGIN: u8 = 0x01;
pub const GPS: u8 = 0x10;
pub const GPS_LBS_6: u8 = 0x11;
pub const GPS_LBS_1: u8 = 0x12;
pub const STATUS: u8 = 0x13;
pub const STRING: u8 = 0x15;
pub const GPS_LBS_STATUS_1: u8 = 0x16;
pub const WIFI: u8 = 0x17;
pub const LBS_EXTEND: u8 = 0x18;
pub const LBS_STATUS: u8 = 0x19;
pub const GPS_PHONE: u8 = 0x1A;
pub const GPS_LBS_EXTEND: u8 = 0x1E;
pub const STRING_INFO: u8 = 0x21;
pub const GPS_LBS_2: u8 = 0x22;
pub const HEARTBEAT: u8 = 0x23;
pub const LBS_MULTIPLE_3: u8 = 0x24;
pub const GPS_LBS_STATUS_2: u8 = 0x26;
pub const GPS_LBS_STATUS_3: u8 = 0x27;
pub const LBS_MULTIPLE_1: u8 = 0x28;
pub const ADDRESS_REQUEST: u8 = 0x2A;
pub const LBS_WIFI: u8 = 0x2C;
pub const GPS_LBS_4: u8 = 0x2D;
pub const LBS_MULTIPLE_2: u8 = 0x2E;
pub const GPS_LBS_5: u8 = 0x31;
pub const GPS_LBS_STATUS_4: u8 = 0x32;
pub const WIFI_5: u8 = 0x33;
pub const X1_GPS: u8 = 0x34;
pub const X1_PHOTO_INFO: u8 = 0x35;
pub const STATUS_2: u8 = 0x36;
pub const GPS_LBS_3: u8 = 0x37;
pub const GPS_LBS_8: u8 = 0x38;
pub const IBUTTON: u8 = 0x61;
pub const WIFI_2: u8 = 0x69;
pub const GPS_MODULAR: u8 = 0x70;
pub const COMMAND_0: u8 = 0x80;
pub const COMMAND_2: u8 = 0x82;
pub const TIME_REQUEST: u8 = 0x8A;
pub const OBD: u8 = 0x8C;
pub const INFO: u8 = 0x94;
pub const ALARM: u8 = 0x95;
pub const ADDRESS_RESPONSE: u8 = 0x97;
pub const SERIAL: u8 = 0x9B;
pub const GPS_LBS_7: u8 = 0xA0;
pub const LBS_2: u8 = 0xA1;
pub const WIFI_3: u8 = 0xA2;
pub const FENCE_SINGLE: u8 = 0xA3;
pub const FENCE_MULTI: u8 = 0xA4;
pub const LBS_ALARM: u8 = 0xA5;
pub const LBS_ADDRESS: u8 = 0xA7;
pub const PERIPHERAL: u8 = 0xF2;
pub const WIFI_4: u8 = 0xF3;

pub fn array<const N: usize>(r: &mut Reader<'_>) -> Result<[u8; N], DecodeError> {
    r.bytes(N)?
        .try_into()
        .map_err(|_| DecodeError::reject("short read"))
}

/// `yy mm dd hh mm ss` in the device's zone (`tz_offset_secs` east of UTC).
pub fn read_date(
    r: &mut Reader<'_>,
    tz_offset_secs: i64,
) -> Result<Option<Timestamp>, DecodeError> {
    let [y, mo, d, h, mi, s] = array::<6>(r)?;
    Ok(civil(y, mo, d, h, mi, s, tz_offset_secs))
}

/// The same in BCD digits (Wi-Fi reports), always UTC.
pub fn read_bcd_date(r: &mut Reader<'_>) -> Result<Option<Timestamp>, DecodeError> {
    let b = array::<6>(r)?;
    let mut v = [0u8; 6];
    for (out, byte) in v.iter_mut().zip(b) {
        *out = (byte >> 4).saturating_mul(10).saturating_add(byte & 0x0F);
    }
    let [y, mo, d, h, mi, s] = v;
    Ok(civil(y, mo, d, h, mi, s, 0))
}

fn civil(y: u8, mo: u8, d: u8, h: u8, mi: u8, s: u8, tz: i64) -> Option<Timestamp> {
    let t = utc(
        year_2digit(u32::from(y)),
        u32::from(mo),
        u32::from(d),
        u32::from(h),
        u32::from(mi),
        u32::from(s),
    )?;
    Some(Timestamp(t.0.saturating_sub(tz.saturating_mul(1000))))
}

/// How a message lays out its GPS block.
#[derive(Clone, Copy, Debug)]
pub struct GpsLayout {
    /// A length byte before the satellites; 0 means no GPS data follows.
    pub has_length: bool,
    pub has_satellites: bool,
    pub has_speed: bool,
    /// Speed as two bytes (JC400).
    pub long_speed: bool,
    /// The course/status word before the speed (JC400).
    pub swap_flags: bool,
}

impl GpsLayout {
    pub const STANDARD: GpsLayout = GpsLayout {
        has_length: false,
        has_satellites: true,
        has_speed: true,
        long_speed: false,
        swap_flags: false,
    };
}

/// Reads date and GPS block into `rec`. Returns false when a length byte says the device had
/// no GPS data (the date is still set).
pub fn read_gps(
    r: &mut Reader<'_>,
    rec: &mut Record,
    tz_offset_secs: i64,
    layout: GpsLayout,
) -> Result<bool, DecodeError> {
    rec.time = read_date(r, tz_offset_secs)?;
    if layout.has_length && r.u8()? == 0 {
        return Ok(false);
    }
    let satellites = if layout.has_satellites {
        Some(r.u8()? & 0x0F)
    } else {
        None
    };
    let lat = f64::from(r.u32()?) / 1_800_000.0;
    let lon = f64::from(r.u32()?) / 1_800_000.0;
    let mut flags = 0;
    if layout.swap_flags {
        flags = r.u16()?;
    }
    let speed = if !layout.has_speed {
        None
    } else if layout.long_speed {
        Some(f64::from(r.u16()?))
    } else {
        Some(f64::from(r.u8()?))
    };
    if !layout.swap_flags {
        flags = r.u16()?;
    }
    apply_course_status(rec, flags, lat, lon, speed, satellites);
    Ok(true)
}

/// The course/status word: course in bits 0-9, north in bit 10, west in bit 11, positioned
/// in bit 12, differential GPS in bit 13, and on some devices ACC in bit 15 when bit 14 says
/// it is reported.
pub fn apply_course_status(
    rec: &mut Record,
    flags: u16,
    lat: f64,
    lon: f64,
    speed_kmh: Option<f64>,
    satellites: Option<u8>,
) {
    let valid = flags & (1 << 12) != 0;
    let lat = if flags & (1 << 10) != 0 { lat } else { -lat };
    let lon = if flags & (1 << 11) != 0 { -lon } else { lon };
    if flags & (1 << 14) != 0 {
        rec.ignition = Some(flags & (1 << 15) != 0);
    }
    // A receiver without a fix reports zeros: that is no position at all, not the Gulf of
    // Guinea.
    if !valid && lat == 0.0 && lon == 0.0 {
        return;
    }
    rec.set_io("gt06_gps_differential", flags & (1 << 13) != 0);
    let mut fix = Fix::new(lat, lon, valid);
    fix.course = Some(f64::from(flags & 0x03FF));
    fix.speed = speed_kmh;
    fix.satellites = satellites;
    rec.fix = Some(fix);
}

/// How a message lays out its cell block.
#[derive(Clone, Copy, Debug)]
pub struct LbsLayout {
    /// A length byte (counting itself) first.
    pub has_length: bool,
    /// A cell-type byte first (`0x38`); types 3 and up have long LAC and cell ids.
    pub has_cell_type: bool,
    pub long_mnc: bool,
    pub long_lac: bool,
    pub cid_bytes: usize,
}

impl LbsLayout {
    /// The cell layout of message `kind` for this variant.
    pub fn of(kind: u8, variant: Variant, has_length: bool) -> LbsLayout {
        let sl4x = variant == Variant::Sl4x;
        let wide =
            matches!(kind, LBS_ALARM | GPS_LBS_7) || (kind == WIFI_3 && variant == Variant::Lw4g);
        let cid_bytes = if wide || sl4x {
            8
        } else if matches!(kind, GPS_LBS_6 | IBUTTON) || variant == Variant::Seeworld {
            4
        } else {
            3
        };
        LbsLayout {
            has_length,
            has_cell_type: kind == GPS_LBS_8,
            long_mnc: kind == GPS_LBS_6 || sl4x,
            long_lac: wide,
            cid_bytes,
        }
    }
}

/// Reads a cell block. `None` when the length byte says there is none, or every field is 0.
pub fn read_lbs(r: &mut Reader<'_>, layout: LbsLayout) -> Result<Option<Gsm>, DecodeError> {
    let mut length = 0;
    if layout.has_length {
        length = usize::from(r.u8()?);
        if length == 0 {
            // Some firmware pads an absent cell block with zeros instead of leaving it out.
            if r.rest()
                .get(9..45)
                .is_some_and(|z| z.iter().all(|&b| b == 0))
            {
                r.skip(45)?;
            }
            return Ok(None);
        }
    }
    let cell_type = if layout.has_cell_type { r.u8()? } else { 0 };
    let wide = cell_type >= 3;
    let mcc = r.u16()?;
    let mnc = if mcc & 0x8000 != 0 || layout.long_mnc {
        r.u16()?
    } else {
        u16::from(r.u8()?)
    };
    let lac = if wide || layout.long_lac {
        r.u32()?
    } else {
        u32::from(r.u16()?)
    };
    let cid = if wide {
        r.u64()?
    } else {
        r.uint(layout.cid_bytes)?
    };
    if wide {
        r.skip(2)?; // signal
    } else if layout.has_cell_type {
        r.skip(1)?;
    }
    if length > 9 {
        r.skip(length - 9)?;
    }
    Ok(cell(mcc & 0x7FFF, mnc, lac, cid))
}

pub fn cell(mcc: u16, mnc: u16, lac: u32, cid: u64) -> Option<Gsm> {
    if mcc == 0 && lac == 0 && cid == 0 {
        return None;
    }
    Some(Gsm {
        mcc: Some(mcc),
        mnc: Some(mnc),
        lac: Some(lac),
        cell_id: Some(cid),
        ..Gsm::default()
    })
}

/// Merges a cell into the record's GSM data, keeping a signal level already set.
pub fn set_cell(rec: &mut Record, gsm: Option<Gsm>) {
    if let Some(g) = gsm {
        let signal = rec.gsm.as_ref().and_then(|old| old.signal_level);
        rec.gsm = Some(Gsm {
            signal_level: g.signal_level.or(signal),
            ..g
        });
    }
}

/// GSM signal as devices send it: 0-4 bars on the Concox scale, or a CSQ value up to 31.
/// Larger values are in no known scale and are left out.
pub fn set_signal(rec: &mut Record, level: u8) {
    let pct = match level {
        0..=4 => level * 25,
        5..=31 => ((u16::from(level) * 100) / 31) as u8,
        _ => return,
    };
    set_signal_pct(rec, pct);
}

pub fn set_signal_pct(rec: &mut Record, pct: u8) {
    rec.gsm.get_or_insert_with(Gsm::default).signal_level = Some(pct.min(100));
}

/// Battery as the voltage level 0-6 of the Concox documents, or already a percentage.
pub fn battery_level(level: u8) -> Option<u8> {
    match level {
        0..=6 => Some(((u16::from(level) * 100) / 6) as u8),
        7..=100 => Some(level),
        _ => None,
    }
}

pub fn push_alarm(rec: &mut Record, alarm: Option<Alarm>) {
    if let Some(a) = alarm {
        if !rec.alarms.contains(&a) {
            rec.alarms.push(a);
        }
    }
}

/// The terminal-information byte: bit 0 armed, bit 1 ACC, bit 2 charging, bits 3-5 an alarm,
/// bit 6 GPS tracking on, bit 7 oil and electricity cut (the relay, output 1).
pub fn terminal_info(rec: &mut Record, status: u8, variant: Variant) {
    rec.ignition = Some(status & 0x02 != 0);
    rec.outputs = Some(u32::from(status >> 7));
    rec.set_io("gt06_armed", status & 0x01 != 0);
    rec.set_io("gt06_charging", status & 0x04 != 0);
    rec.set_io("gt06_gps_tracking", status & 0x40 != 0);
    let alarm = match (status >> 3) & 0x07 {
        1 => Some(Alarm::Vibration),
        2 => Some(Alarm::PowerCut),
        3 => Some(Alarm::LowBattery),
        4 => Some(Alarm::Sos),
        6 => Some(Alarm::Other("geofence".into())),
        7 if variant == Variant::Vxt01 => Some(Alarm::Overspeed),
        7 => Some(Alarm::Removing),
        _ => None,
    };
    push_alarm(rec, alarm);
}

/// The alarm/language byte of status blocks and alarm frames.
pub fn alarm_code(code: u16, model: &Model) -> Option<Alarm> {
    let other = |name: &str| Some(Alarm::Other(name.into()));
    match code {
        0x01 => Some(Alarm::Sos),
        0x02 => Some(Alarm::PowerCut),
        0x03 => Some(Alarm::Vibration),
        0x04 => Some(Alarm::GeofenceEnter),
        0x05 => Some(Alarm::GeofenceExit),
        0x06 => Some(Alarm::Overspeed),
        0x09 if model.vl => other("tow"),
        0x09 => Some(Alarm::Vibration),
        0x0E | 0x0F => Some(Alarm::LowBattery),
        0x11 => other("power_off"),
        0x0C | 0x13 | 0x25 => Some(Alarm::Tampering),
        0x14 => Some(Alarm::Door),
        0x18 if model.lw => Some(Alarm::Accident),
        0x18 => Some(Alarm::Removing),
        0x19 if model.lw => Some(Alarm::HardAcceleration),
        0x19 => Some(Alarm::LowBattery),
        0x1A | 0x27 => Some(Alarm::HardBraking),
        0x1B | 0x2A | 0x2B | 0x2E => Some(Alarm::HardCornering),
        0x23 => Some(Alarm::FallDown),
        0x26 => Some(Alarm::HardAcceleration),
        0x28 if model.seeworld => Some(Alarm::HardCornering),
        0x28 => Some(Alarm::HardBraking),
        0x29 if model.seeworld => Some(Alarm::Accident),
        0x29 => Some(Alarm::HardAcceleration),
        0x2C => Some(Alarm::Accident),
        0x30 if model.vl => Some(Alarm::HardBraking),
        0x30 => Some(Alarm::Jamming),
        _ => None,
    }
}

/// Keeps the raw alarm code (nonzero) beside its meaning: vendors add codes faster than
/// anyone documents them.
pub fn apply_alarm_code(rec: &mut Record, code: u16, model: &Model) {
    if code != 0 {
        rec.set_io("gt06_event", i64::from(code));
    }
    push_alarm(rec, alarm_code(code, model));
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Text a device sent, without the NUL padding and control bytes around it.
pub fn printable(bytes: &[u8]) -> String {
    let keep = |b: &u8| b.is_ascii_graphic() || *b == b' ';
    let start = bytes.iter().position(keep).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(keep).map_or(start, |e| e + 1);
    String::from_utf8_lossy(bytes.get(start..end).unwrap_or(&[])).into_owned()
}

pub fn is_printable(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n' | b'\t'))
}

/// A card number as text, unless the device sent blanks or zeros for "no card".
pub fn set_card(rec: &mut Record, raw: &[u8]) {
    let card = printable(raw);
    let card = card.trim();
    if !card.is_empty() && card.bytes().any(|b| b != b'0') {
        rec.hardware_key = Some(card.to_owned());
    }
}

/// A driver key, unless the device filled the field with zeros.
pub fn set_driver(rec: &mut Record, key: &[u8]) {
    if key.iter().any(|&b| b != 0) {
        rec.hardware_key = Some(hex(key));
    }
}
