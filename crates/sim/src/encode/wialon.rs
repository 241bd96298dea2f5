//! Wialon IPS 2.0 over TCP: `#L#2.0;imei;NA;crc` (answered `#AL#1`), then one extended data
//! packet `#D#...;crc` per record (answered `#AD#1`) or a black box `#B#rec|rec|...|crc` of
//! several (answered `#AB#<count>`). The CRC is CRC-16/ARC of the body up to and including
//! the separator before it, in hex.
//!
//! Parameters sent with every record: `ign` (ignition), `pwr_ext` (board voltage, V), `fuel1`
//! (fuel level, litres) and `odometer` (km), which the server reads as `ignition`,
//! `board_voltage`, `lls_level_1` and `hw_mileage`; movement goes in input 2 (bit 1) since
//! the protocol has no field for it.

use std::fmt::{self, Write as _};

use trackd_protocol::checksum::crc16_arc;

use super::decimal::Fixed;
use crate::route::Sample;

pub const LOGIN_ACK: &[u8] = b"#AL#1\r\n";
pub const DATA_ACK: &[u8] = b"#AD#1\r\n";

/// `#L#2.0;<imei>;NA;<crc>\r\n`.
pub fn login(imei: &str) -> Vec<u8> {
    with_crc("#L#", format!("2.0;{imei};NA;"))
}

/// One record as `#D#` (one sample) or a black box `#B#` (several).
pub fn packet(samples: &[Sample]) -> Vec<u8> {
    let mut body = String::with_capacity(samples.len() * 160);
    match samples {
        [one] => {
            record(&mut body, one);
            body.push(';');
            with_crc("#D#", body)
        }
        many => {
            for s in many {
                record(&mut body, s);
                body.push('|');
            }
            with_crc("#B#", body)
        }
    }
}

/// The answer the server gives to [`packet`] once it stored the records.
pub fn expected_ack(records: usize) -> Vec<u8> {
    if records == 1 {
        DATA_ACK.to_vec()
    } else {
        format!("#AB#{records}\r\n").into_bytes()
    }
}

fn with_crc(kind: &str, covered: String) -> Vec<u8> {
    let crc = crc16_arc(covered.as_bytes());
    format!("{kind}{covered}{crc:04X}\r\n").into_bytes()
}

/// The 16 fields of an extended record, without a trailing separator.
fn record(out: &mut String, s: &Sample) {
    let (date, time) = date_time(s.time_ms);
    let _ = write!(
        out,
        "{date};{time};{};{};{};{};{};{};{};{};0;NA;NA;",
        Coordinate(s.lat, 'N', 'S'),
        Coordinate(s.lon, 'E', 'W'),
        Fixed(s.speed_kmh, 0),
        Fixed(s.course, 0),
        Fixed(s.altitude, 0),
        s.satellites,
        Fixed(s.hdop, 1),
        if s.motion { 2 } else { 0 },
    );
    let _ = write!(
        out,
        "ign:1:{},pwr_ext:2:{},fuel1:2:{},odometer:2:{}",
        u8::from(s.ignition),
        Fixed(s.board_voltage, 2),
        Fixed(s.fuel_l, 1),
        Fixed(s.odometer_m / 1000.0, 3)
    );
}

/// `ddmm.mmmmmm;N` from signed degrees (six decimals of minutes: a few centimetres), with
/// the letters for north or east and south or west.
struct Coordinate(f64, char, char);

impl fmt::Display for Coordinate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Coordinate(deg, plus, minus) = *self;
        let hemisphere = if deg < 0.0 { minus } else { plus };
        let abs = deg.abs();
        let mut whole = abs.floor();
        let mut minutes = (abs - whole) * 60.0;
        // Rounding must not print 60 minutes.
        if (minutes * 1e6).round() >= 60.0 * 1e6 {
            whole += 1.0;
            minutes = 0.0;
        }
        write!(f, "{};{hemisphere}", Fixed(whole * 100.0 + minutes, 6))
    }
}

/// `ddmmyy` and `hhmmss.fff`, UTC.
fn date_time(ms: i64) -> (String, String) {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (
        format!("{d:02}{m:02}{:02}", y.rem_euclid(100)),
        format!(
            "{:02}{:02}{:02}.{millis:03}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        ),
    )
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use trackd_protocol::{IoValue, Protocol, Session, SessionConfig, Transport};

    use super::*;
    use crate::encode::tests::samples;

    fn session() -> Box<dyn Session> {
        Protocol::Wialon.session(&SessionConfig::new(Transport::Tcp))
    }

    /// Frames and decodes one packet the way the gateway does.
    fn decode(s: &mut dyn Session, bytes: &[u8]) -> trackd_protocol::DeviceMessage {
        let cut = s.frame(bytes).expect("a frame");
        assert_eq!(cut.consumed, bytes.len(), "one packet is one frame");
        s.decode(&bytes[cut.start..cut.end]).expect("decode")
    }

    #[test]
    fn login_data_and_black_box_decode_exactly() {
        let mut s = session();
        let msg = decode(s.as_mut(), &login("356307042441013"));
        assert_eq!(msg.device_id.as_deref(), Some("356307042441013"));
        assert_eq!(msg.reply.as_deref(), Some(LOGIN_ACK));

        let sent = samples(5);
        let one = decode(s.as_mut(), &packet(&sent[..1]));
        assert_eq!(one.reply, Some(expected_ack(1)));
        let many = decode(s.as_mut(), &packet(&sent));
        assert_eq!(many.reply, Some(expected_ack(5)));
        assert_eq!(many.records.len(), 5);
        assert_eq!(one.records[0].time, many.records[0].time);
        for (r, s) in many.records.iter().zip(&sent) {
            assert_eq!(r.time.map(|t| t.millis()), Some(s.time_ms));
            let fix = r.fix.expect("fix");
            assert!((fix.lat - s.lat).abs() < 1e-7, "{} {}", fix.lat, s.lat);
            assert!((fix.lon - s.lon).abs() < 1e-7, "{} {}", fix.lon, s.lon);
            assert_eq!(fix.speed, Some(s.speed_kmh.round()));
            assert_eq!(fix.course, Some(s.course));
            assert_eq!(fix.satellites, Some(s.satellites));
            assert_eq!(fix.hdop, Some(s.hdop));
            assert_eq!(r.ignition, Some(s.ignition));
            assert_eq!(r.inputs, Some(if s.motion { 2 } else { 0 }));
            let io = |k: &str| r.io.get(k).and_then(IoValue::as_f64);
            assert_eq!(io("board_voltage"), Some(s.board_voltage));
            assert_eq!(io("lls_level_1"), Some(s.fuel_l));
            assert!((io("hw_mileage").unwrap_or(0.0) - s.odometer_m / 1000.0).abs() < 1e-9);
        }
    }

    #[test]
    fn southern_and_western_hemispheres_and_dates() {
        let coordinate = |deg, plus, minus| Coordinate(deg, plus, minus).to_string();
        assert_eq!(coordinate(-33.5, 'N', 'S'), "3330.000000;S");
        assert_eq!(coordinate(-70.25, 'E', 'W'), "7015.000000;W");
        assert_eq!(coordinate(10.99999999999, 'N', 'S'), "1100.000000;N");
        assert_eq!(
            date_time(1_750_587_300_123),
            ("220625".to_owned(), "101500.123".to_owned())
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
