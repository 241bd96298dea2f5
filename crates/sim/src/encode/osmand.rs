//! OsmAnd / Traccar Client over HTTP/1.1: one `GET /?id=..&lat=..` request per position on
//! a keep-alive connection, answered `200` with an empty body once stored. Several positions
//! are pipelined (sent back to back, answered in order), as a client flushing its buffer
//! over one connection would.
//!
//! Besides the position: `ignition`, `motion`, `power` (board voltage, V), `odometer`
//! (metres) and `lls_level_1` (fuel level, litres; unknown parameters are stored under their
//! own name, so the fuel sensor reads the same input as the other protocols').

use std::fmt::Write as _;

use super::decimal::Fixed;
use crate::route::Sample;

/// Knots per km/h: the Traccar Client sends `speed` in knots.
const KNOTS: f64 = 1.852;

/// One request per sample, back to back.
pub fn requests(device_id: &str, host: &str, samples: &[Sample]) -> Vec<u8> {
    let mut out = String::with_capacity(samples.len() * 300);
    for s in samples {
        let _ = write!(
            out,
            "GET /?id={device_id}&timestamp={}&lat={}&lon={}&speed={}&bearing={}\
             &altitude={}&sat={}&hdop={}&ignition={}&motion={}&power={}\
             &odometer={}&lls_level_1={} HTTP/1.1\r\nHost: {host}\r\n\
             User-Agent: trackd-sim\r\n\r\n",
            s.time_ms,
            Fixed(s.lat, 7),
            Fixed(s.lon, 7),
            Fixed(s.speed_kmh / KNOTS, 3),
            Fixed(s.course, 0),
            Fixed(s.altitude, 0),
            s.satellites,
            Fixed(s.hdop, 1),
            s.ignition,
            s.motion,
            Fixed(s.board_voltage, 2),
            Fixed(s.odometer_m, 0),
            Fixed(s.fuel_l, 1),
        );
    }
    out.into_bytes()
}

/// A response's status code, from its status line (`HTTP/1.1 200 OK`).
pub fn status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split(' ');
    parts
        .next()
        .filter(|v| v.starts_with("HTTP/1."))
        .and(parts.next())
        .and_then(|c| c.parse().ok())
}

/// The `content-length` of a response head, 0 when absent.
pub fn content_length(head: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(head).ok()?;
    for line in text.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                return value.trim().parse().ok();
            }
        }
    }
    Some(0)
}

#[cfg(test)]
mod tests {
    use trackd_protocol::{IoValue, Protocol, SessionConfig, Transport};

    use super::*;
    use crate::encode::tests::samples;

    #[test]
    fn pipelined_requests_decode_exactly() {
        let mut s = Protocol::Osmand.session(&SessionConfig::new(Transport::Http));
        let sent = samples(4);
        let mut buf = requests("sim-0001", "127.0.0.1:5055", &sent);
        let mut decoded = Vec::new();
        while !buf.is_empty() {
            let cut = s.frame(&buf).expect("a whole request");
            let msg = s.decode(&buf[cut.start..cut.end]).expect("decode");
            assert_eq!(msg.device_id.as_deref(), Some("sim-0001"));
            assert_eq!(
                msg.reply.as_deref(),
                Some(trackd_protocol::osmand::REPLY_OK)
            );
            decoded.extend(msg.records);
            buf.drain(..cut.consumed);
        }
        assert_eq!(decoded.len(), 4);
        for (r, s) in decoded.iter().zip(&sent) {
            assert_eq!(r.time.map(|t| t.millis()), Some(s.time_ms));
            let fix = r.fix.expect("fix");
            assert!((fix.lat - s.lat).abs() < 1e-7 && (fix.lon - s.lon).abs() < 1e-7);
            assert!((fix.speed.unwrap_or(-1.0) - s.speed_kmh).abs() < 0.01);
            assert_eq!(fix.course, Some(s.course));
            assert_eq!(fix.altitude, Some(s.altitude));
            assert_eq!(fix.satellites, Some(s.satellites));
            assert_eq!(r.ignition, Some(s.ignition));
            assert_eq!(r.motion, Some(s.motion));
            let io = |k: &str| r.io.get(k).and_then(IoValue::as_f64);
            assert_eq!(io("board_voltage"), Some(s.board_voltage));
            assert_eq!(io("lls_level_1"), Some(s.fuel_l));
            assert_eq!(io("hw_mileage"), Some(s.odometer_m / 1000.0));
        }
    }

    #[test]
    fn responses_are_read() {
        let ok = trackd_protocol::osmand::REPLY_OK;
        assert_eq!(status(ok), Some(200));
        assert_eq!(content_length(ok), Some(0));
        assert_eq!(status(b"HTTP/1.1 400 Bad Request\r\n\r\n"), Some(400));
        assert_eq!(
            content_length(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
            Some(12)
        );
        assert_eq!(status(b"SSH-2.0\r\n"), None);
    }
}
