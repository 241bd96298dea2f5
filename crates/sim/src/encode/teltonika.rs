//! Teltonika over TCP as an FMB device sends it: the IMEI handshake, then Codec 8 AVL packets
//! (`00000000, u32 length, 08, count, records, count, u32 CRC-16/ARC`), each acknowledged
//! with the record count as a big-endian `u32`.
//!
//! IO elements sent with every record (FMB AVL ids): 239 ignition and 240 movement (1 byte),
//! 66 external voltage in mV and 201 LLS fuel level in 0.1 L (2 bytes), 16 total odometer in
//! metres (4 bytes). The server reads them as `ignition`, `motion`, `board_voltage` (V),
//! `lls_level_1` (raw, here decilitres) and `hw_mileage` (km).

use trackd_protocol::checksum::crc16_arc;

use crate::route::Sample;

/// The most records one Codec 8 packet counts (the count is one byte).
pub const MAX_RECORDS: usize = 255;
/// The server's answer to the IMEI handshake.
pub const LOGIN_ACK: u8 = 0x01;

/// `u16 length, IMEI`.
pub fn login(imei: &str) -> Vec<u8> {
    let len = u16::try_from(imei.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(imei.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(imei.as_bytes());
    out
}

/// One Codec 8 packet of up to [`MAX_RECORDS`] samples (extra samples are left out; callers
/// batch within the limit).
pub fn codec8(samples: &[Sample]) -> Vec<u8> {
    let samples = samples
        .get(..samples.len().min(MAX_RECORDS))
        .unwrap_or(samples);
    let count = u8::try_from(samples.len()).unwrap_or(u8::MAX);
    let mut data = Vec::with_capacity(3 + samples.len() * 48);
    data.push(0x08);
    data.push(count);
    for s in samples {
        record(&mut data, s);
    }
    data.push(count);
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&data);
    out.extend_from_slice(&u32::from(crc16_arc(&data)).to_be_bytes());
    out
}

/// Scales to the wire's integer units, saturating rather than wrapping on nonsense.
fn scaled<T: TryFrom<i64> + Copy>(v: f64, factor: f64, max: T) -> T {
    T::try_from((v * factor).round() as i64).unwrap_or(max)
}

fn record(out: &mut Vec<u8>, s: &Sample) {
    out.extend_from_slice(&u64::try_from(s.time_ms).unwrap_or(0).to_be_bytes());
    out.push(0); // priority: low
    out.extend_from_slice(&scaled(s.lon, 1e7, i32::MAX).to_be_bytes());
    out.extend_from_slice(&scaled(s.lat, 1e7, i32::MAX).to_be_bytes());
    out.extend_from_slice(&scaled(s.altitude, 1.0, i16::MAX).to_be_bytes());
    out.extend_from_slice(&scaled(s.course.rem_euclid(360.0), 1.0, 0u16).to_be_bytes());
    out.push(s.satellites);
    out.extend_from_slice(&scaled(s.speed_kmh, 1.0, u16::MAX).to_be_bytes());
    out.push(0); // event IO id: a periodic record
    out.push(5); // elements in all
    out.extend_from_slice(&[2, 239, u8::from(s.ignition), 240, u8::from(s.motion)]);
    out.push(2);
    out.push(66);
    out.extend_from_slice(&scaled(s.board_voltage, 1000.0, u16::MAX).to_be_bytes());
    out.push(201);
    out.extend_from_slice(&scaled(s.fuel_l, 10.0, u16::MAX).to_be_bytes());
    out.push(1);
    out.push(16);
    out.extend_from_slice(&scaled(s.odometer_m, 1.0, u32::MAX).to_be_bytes());
    out.push(0); // no 8-byte elements
}

/// The record count an acknowledgement carries.
pub fn ack_count(ack: [u8; 4]) -> u32 {
    u32::from_be_bytes(ack)
}

#[cfg(test)]
mod tests {
    use trackd_protocol::{IoValue, Protocol, Session, SessionConfig, Transport};

    use super::*;
    use crate::encode::tests::samples;

    fn session() -> Box<dyn Session> {
        Protocol::Teltonika.session(&SessionConfig::new(Transport::Tcp))
    }

    #[test]
    fn login_and_records_decode_exactly() {
        let mut s = session();
        let hello = login("356307042441013");
        assert_eq!(s.frame(&hello).map(|c| c.consumed), Ok(hello.len()));
        let msg = s.decode(&hello).expect("login");
        assert_eq!(msg.device_id.as_deref(), Some("356307042441013"));
        assert_eq!(msg.reply, Some(vec![LOGIN_ACK]));

        let sent = samples(7);
        let packet = codec8(&sent);
        // One frame, exactly the packet.
        let mut stream = packet.clone();
        stream.extend_from_slice(&packet);
        assert_eq!(s.frame(&stream).map(|c| c.consumed), Ok(packet.len()));
        let msg = s.decode(&packet).expect("codec 8");
        assert_eq!(msg.reply, Some(7u32.to_be_bytes().to_vec()));
        assert_eq!(ack_count([0, 0, 0, 7]), 7);
        assert_eq!(msg.records.len(), 7);
        for (r, s) in msg.records.iter().zip(&sent) {
            assert_eq!(r.time.map(|t| t.millis()), Some(s.time_ms));
            let fix = r.fix.expect("fix");
            assert!((fix.lat - s.lat).abs() < 1e-7 && (fix.lon - s.lon).abs() < 1e-7);
            assert_eq!(fix.speed, Some(s.speed_kmh.round()));
            assert_eq!(fix.course, Some(s.course));
            assert_eq!(fix.altitude, Some(s.altitude));
            assert_eq!(fix.satellites, Some(s.satellites));
            assert!(fix.valid);
            assert_eq!(r.ignition, Some(s.ignition));
            assert_eq!(r.motion, Some(s.motion));
            let io = |k: &str| r.io.get(k).and_then(IoValue::as_f64);
            assert_eq!(io("board_voltage"), Some(s.board_voltage));
            assert_eq!(io("lls_level_1"), Some((s.fuel_l * 10.0).round()));
            assert_eq!(io("hw_mileage"), Some(s.odometer_m / 1000.0));
        }
    }

    #[test]
    fn a_full_packet_holds_255_records() {
        let sent = samples(300);
        let msg = session().decode(&codec8(&sent)).expect("decode");
        assert_eq!(msg.records.len(), MAX_RECORDS);
    }
}
