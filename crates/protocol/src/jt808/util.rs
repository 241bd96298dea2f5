//! Small helpers shared by the JT808 decoders: BCD, device clocks, record setters.

use crate::message::{Alarm, Gsm, IoName, IoValue, Record, Timestamp};
use crate::time;

/// JT/T 808 terminals report local time in China (GMT+8) unless reconfigured.
pub(super) const GMT8_SECS: i64 = 8 * 3600;

pub(super) fn bit(value: u64, n: u32) -> bool {
    n < 64 && (value >> n) & 1 == 1
}

/// The two decimal digits of a BCD byte, `None` if a nibble is not a digit.
pub(super) fn bcd_byte(b: u8) -> Option<u32> {
    let (hi, lo) = (u32::from(b >> 4), u32::from(b & 0x0F));
    (hi <= 9 && lo <= 9).then_some(hi * 10 + lo)
}

/// `yymmddhhmmss` in BCD, local time `offset_secs` east of UTC.
pub(super) fn bcd_time(b: &[u8], offset_secs: i64) -> Option<Timestamp> {
    let f: Vec<u32> = b.iter().map(|&x| bcd_byte(x)).collect::<Option<_>>()?;
    let [yy, mo, dd, hh, mi, ss] = f.as_slice() else {
        return None;
    };
    let t = time::utc(time::year_2digit(*yy), *mo, *dd, *hh, *mi, *ss)?;
    Some(Timestamp(t.0.checked_sub(offset_secs.checked_mul(1000)?)?))
}

/// Text a device padded with NULs or spaces, decoded as ASCII (other bytes become `?`,
/// since the devices use GBK and we carry no code-page tables).
pub(super) fn text(b: &[u8]) -> String {
    let s: String = b
        .iter()
        .map(|&c| if c.is_ascii() { char::from(c) } else { '?' })
        .collect();
    s.trim_matches(|c: char| c <= ' ' || c == '\u{7f}')
        .to_owned()
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(super) fn is_printable(b: &[u8]) -> bool {
    b.iter().all(|&c| (0x20..0x7F).contains(&c))
}

pub(super) fn add_alarm(rec: &mut Record, alarm: Alarm) {
    if !rec.alarms.contains(&alarm) {
        rec.alarms.push(alarm);
    }
}

pub(super) fn other_alarm(rec: &mut Record, name: &str) {
    add_alarm(rec, Alarm::Other(name.to_owned()));
}

pub(super) fn gsm(rec: &mut Record) -> &mut Gsm {
    rec.gsm.get_or_insert_with(Gsm::default)
}

/// Signal strength as the modem's CSQ (0..=31); other values are not on that scale and are
/// kept raw under `rssi` rather than guessed into a percentage.
pub(super) fn set_rssi(rec: &mut Record, csq: u8) {
    if csq <= 31 {
        let pct = (u32::from(csq) * 100 + 15) / 31;
        gsm(rec).signal_level = u8::try_from(pct).ok();
    } else {
        rec.set_io("rssi", i64::from(csq));
    }
}

/// The first cell a frame names is the serving cell; neighbours are not kept.
pub(super) fn set_cell(rec: &mut Record, mcc: u16, mnc: u16, lac: u32, cid: u64) {
    let g = gsm(rec);
    if g.cell_id.is_none() && mcc != 0 && lac != 0 {
        g.mcc = Some(mcc);
        g.mnc = Some(mnc);
        g.lac = Some(lac);
        g.cell_id = Some(cid);
    }
}

pub(super) fn set_sats(rec: &mut Record, n: u8) {
    match rec.fix.as_mut() {
        Some(fix) => fix.satellites = Some(n),
        None => rec.set_io("satellites", i64::from(n)),
    }
}

pub(super) fn set_hdop(rec: &mut Record, hdop: f64) {
    match rec.fix.as_mut() {
        Some(fix) => fix.hdop = Some(hdop),
        None => rec.set_io("hdop", hdop),
    }
}

pub(super) fn set_battery_level(rec: &mut Record, pct: i64) {
    if let Ok(v) = u8::try_from(pct) {
        if v <= 100 {
            rec.battery_level = Some(v);
        }
    }
}

pub(super) fn set_f(rec: &mut Record, key: impl Into<IoName>, v: f64) {
    rec.set_io(key, IoValue::Float(v));
}

pub(super) fn set_i(rec: &mut Record, key: impl Into<IoName>, v: i64) {
    rec.set_io(key, IoValue::Int(v));
}

pub(super) fn set_b(rec: &mut Record, key: impl Into<IoName>, v: bool) {
    rec.set_io(key, IoValue::Bool(v));
}

pub(super) fn set_s(rec: &mut Record, key: impl Into<IoName>, v: String) {
    rec.set_io(key, IoValue::Text(v));
}

/// Luhn check digit of a number's decimal digits.
pub(super) fn luhn(n: u64) -> u64 {
    let digits = n.to_string();
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = u32::from(c.saturating_sub(b'0'));
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    u64::from((10 - sum % 10) % 10)
}

/// The terminal ID from the header's phone field. BCD digits are kept in full, leading zeros
/// included (`013511221122`, and the 2019 form's 20 digits), as Traccar's full identifier
/// does. Some firmware (Jimi/Concox) puts a binary IMEI there instead: 2 + 4 bytes of the
/// number without its check digit, which is recomputed.
pub(super) fn device_id(phone: &[u8]) -> String {
    if phone.iter().all(|&b| bcd_byte(b).is_some()) {
        return hex(phone);
    }
    match phone {
        [a, b, c, d, e, f] => {
            let n = (u64::from(u16::from_be_bytes([*a, *b])) << 32)
                | u64::from(u32::from_be_bytes([*c, *d, *e, *f]));
            format!("{n}{}", luhn(n))
        }
        _ => hex(phone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_check_digit() {
        assert_eq!(luhn(49015420323751), 8);
        assert_eq!(
            device_id(&[0x4e, 0xb6, 0xfb, 0x4a, 0xfd, 0x9e]),
            "865478070102068"
        );
        assert_eq!(
            device_id(&[0x01, 0x35, 0x11, 0x22, 0x11, 0x22]),
            "013511221122"
        );
    }

    #[test]
    fn gmt8_to_utc() {
        // 2014-07-23 17:20:15 in Beijing is 09:20:15 UTC.
        let t = bcd_time(&[0x14, 0x07, 0x23, 0x17, 0x20, 0x15], GMT8_SECS);
        assert_eq!(t, time::utc(2014, 7, 23, 9, 20, 15));
        assert_eq!(bcd_time(&[0x14, 0x1A, 0x23, 0x17, 0x20, 0x15], 0), None);
        assert_eq!(bcd_time(&[0x14, 0x07, 0x23], 0), None);
    }
}
