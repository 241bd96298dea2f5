use proptest::prelude::*;

use super::*;
use crate::message::{Alarm, Gsm, IoValue};
use crate::testing::{self, assert_verify, Capture};
use crate::Transport;

const KEY: &str = "wialon";

/// Captures whose checksum is wrong, rejected (answered with the CRC error code, nothing
/// decoded) under `strict_checksum`.
/// - idx 0 `#L#2.0;42001300083;;CE45`: the CRC-16/ARC of `2.0;42001300083;;` is 0xDBEB (the
///   data captures of the same device check out with that algorithm: idx 1, 3, 9).
const WRONG_CRC: &[u32] = &[0];

fn config(capture: &Capture, strict: bool) -> SessionConfig {
    let mut c = SessionConfig::new(testing::transport_of(&capture.context));
    c.strict_checksum = strict;
    c
}

/// The vectors hold lines without their CR/LF (Traccar's line framer strips it): it is put
/// back so that the capture goes through the framer as a device would send it.
fn frame_and_decode(session: &mut WialonSession, capture: &Capture) -> Vec<DeviceMessage> {
    let what = format!("wialon idx {}", capture.idx);
    let transport = session.config.transport;
    let mut bytes = capture.bytes.clone();
    if transport != Transport::Udp {
        bytes.extend_from_slice(b"\r\n");
    }
    testing::frame_and_decode(session, transport, &bytes, &what)
}

fn replay(strict: bool) -> Vec<(Capture, Vec<DeviceMessage>)> {
    let mut out = Vec::new();
    for (_, group) in testing::groups(KEY) {
        let mut session = WialonSession::new(&config(&group[0], strict));
        for capture in group {
            let msgs = frame_and_decode(&mut session, &capture);
            out.push((capture, msgs));
        }
    }
    out
}

fn decoded(idx: u32) -> DeviceMessage {
    replay(true)
        .into_iter()
        .find(|(c, _)| c.idx == idx)
        .and_then(|(_, mut m)| m.pop())
        .unwrap_or_else(|| panic!("no capture {idx}"))
}

fn record(idx: u32) -> Record {
    decoded(idx)
        .records
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("capture {idx} has no record"))
}

fn reply(msg: &DeviceMessage) -> String {
    String::from_utf8_lossy(msg.reply.as_deref().unwrap_or_default()).into_owned()
}

#[test]
fn every_capture_decodes_as_its_verify_column_says() {
    for strict in [true, false] {
        let all = replay(strict);
        assert_eq!(all.len(), testing::captures(KEY).len());
        for (capture, msgs) in &all {
            assert_verify(
                &capture.verify,
                msgs,
                &format!("wialon idx {} strict={strict}", capture.idx),
            );
        }
    }
}

#[test]
fn wrong_checksums_are_refused_when_strict_and_accepted_when_relaxed() {
    let strict = replay(true);
    let relaxed = replay(false);
    for &idx in WRONG_CRC {
        let find = |all: &[(Capture, Vec<DeviceMessage>)]| {
            all.iter()
                .find(|(c, _)| c.idx == idx)
                .map(|(_, m)| m[0].clone())
                .expect("capture")
        };
        let refused = find(&strict);
        assert_eq!(reply(&refused), "#AL#10\r\n", "idx {idx}");
        assert_eq!(refused.device_id, None);
        assert!(refused.records.is_empty());
        let accepted = find(&relaxed);
        assert_eq!(reply(&accepted), "#AL#1\r\n", "idx {idx}");
        assert_eq!(accepted.device_id.as_deref(), Some("42001300083"));
    }
    // Every other capture decodes the same either way.
    for ((c, a), (_, b)) in strict.iter().zip(relaxed.iter()) {
        if !WRONG_CRC.contains(&c.idx) {
            assert_eq!(a, b, "idx {}", c.idx);
        }
    }
}

#[test]
fn checksums_are_verified_on_every_packet_kind() {
    let mut strict = WialonSession::new(&SessionConfig::new(Transport::Tcp));
    let mut relaxed = WialonSession::new(&{
        let mut c = SessionConfig::new(Transport::Tcp);
        c.strict_checksum = false;
        c
    });
    let good_sd = b"#SD#300924;154245;5554.350052;N;3644.670410;E;2.92;NA;NA;NA;7A01";
    let bad_sd = b"#SD#300924;154245;5554.350052;N;3644.670410;E;2.92;NA;NA;NA;7A02";
    let msg = strict.decode(good_sd).expect("good");
    assert_eq!((reply(&msg), msg.records.len()), ("#ASD#1\r\n".into(), 1));
    let msg = strict.decode(bad_sd).expect("bad");
    assert_eq!((reply(&msg), msg.records.len()), ("#ASD#13\r\n".into(), 0));
    let msg = relaxed.decode(bad_sd).expect("relaxed");
    assert_eq!((reply(&msg), msg.records.len()), ("#ASD#1\r\n".into(), 1));

    let bad_d = b"#D#120319;112003;NA;NA;NA;NA;0.000;NA;NA;0;NA;NA;NA;NA;NA;a:1:1;626C";
    let msg = strict.decode(bad_d).expect("bad d");
    assert_eq!((reply(&msg), msg.records.len()), ("#AD#16\r\n".into(), 0));

    // A 2.0 black box carries one CRC after its last record.
    let records = "080914;073235;5027.50625;N;03026.19321;E;0.7;0;NA;4|080914;073420;5027.50845;N;03026.18854;E;1.9;292;NA;4|";
    let crc = crate::checksum::crc16_arc(records.as_bytes());
    let good_b = format!("#B#{records}{crc:04X}");
    let msg = strict.decode(good_b.as_bytes()).expect("good b");
    assert_eq!((reply(&msg), msg.records.len()), ("#AB#2\r\n".into(), 2));
    assert!(msg.records.iter().all(|r| r.buffered));
    let bad_b = format!("#B#{records}{:04X}", crc ^ 1);
    let msg = strict.decode(bad_b.as_bytes()).expect("bad b");
    assert_eq!((reply(&msg), msg.records.len()), ("#AB#0\r\n".into(), 0));

    // A 2.0 driver message.
    let text = "hello;";
    let crc = crate::checksum::crc16_arc(text.as_bytes());
    strict
        .decode(b"#L#2.0;42001300083;;DBEB")
        .expect("login 2.0");
    assert_eq!(strict.version(), Some(Version::V2_0));
    let msg = strict
        .decode(format!("#M#{text}{crc:04x}").as_bytes())
        .expect("m");
    assert_eq!(reply(&msg), "#AM#1\r\n");
    assert_eq!(
        msg.records[0].io.get("wialon_message"),
        Some(&IoValue::Text("hello".into()))
    );
    let msg = strict.decode(b"#M#hello;0000").expect("bad m");
    assert_eq!(reply(&msg), "#AM#01\r\n");
}

#[test]
fn expectations_hold() {
    let all = replay(true);
    for (idx, field, value) in testing::expectations(KEY) {
        let rec = all
            .iter()
            .find(|(c, _)| c.idx == idx)
            .and_then(|(_, m)| m.iter().flat_map(|m| m.records.iter()).next())
            .unwrap_or_else(|| panic!("idx {idx}: no record"));
        let what = format!("idx {idx} {field}");
        if let Some(ok) = testing::fix_expectation(rec, &field, &value) {
            assert!(ok, "{what}: expected {value}, got {rec:?}");
            continue;
        }
        match field.as_str() {
            // `cellTowers[(mcc=250,mnc=2,lac=5901,cid=45542),(mcc=222,...)]`: trackd's record
            // holds one cell, the first (serving) one; further cells keep their parameter
            // names.
            "network" => {
                assert!(value.starts_with("cellTowers[(mcc=250,mnc=2,lac=5901,cid=45542),(mcc=222,mnc=22,lac=2222,cid=22222)"), "{what}");
                assert_eq!(
                    rec.gsm,
                    Some(Gsm {
                        mcc: Some(250),
                        mnc: Some(2),
                        lac: Some(5901),
                        cell_id: Some(45542),
                        ..Gsm::default()
                    }),
                    "{what}"
                );
                for (key, v) in [
                    ("wialon_mcc2", 222),
                    ("wialon_mnc2", 22),
                    ("wialon_lac2", 2222),
                    ("wialon_cell_id2", 22222),
                ] {
                    assert_eq!(rec.io.get(key), Some(&IoValue::Int(v)), "{what} {key}");
                }
            }
            // Traccar's deviceTemp is the `temp` parameter: Navixy's `temp_sensor`.
            "deviceTemp" => assert_eq!(
                rec.io.get("temp_sensor"),
                Some(&IoValue::Float(value.parse().expect("temp"))),
                "{what}"
            ),
            other => panic!("unmapped expectation {other}"),
        }
    }
}

#[test]
fn replies_follow_the_protocol() {
    let relaxed = replay(false);
    let reply_of = |idx: u32| {
        relaxed
            .iter()
            .find(|(c, _)| c.idx == idx)
            .map(|(_, m)| reply(&m[0]))
            .expect("capture")
    };
    assert_eq!(reply_of(0), "#AL#1\r\n");
    assert_eq!(reply_of(1), "#ASD#1\r\n");
    assert_eq!(reply_of(3), "#AD#1\r\n");
    assert_eq!(reply_of(5), "#AL#1\r\n");
    assert_eq!(reply_of(7), "#AP#\r\n");
    assert_eq!(reply_of(12), "#ASD#1\r\n");
    assert_eq!(reply_of(19), "#AB#2\r\n");
    assert_eq!(reply_of(21), "#AB#1\r\n");
    assert_eq!(reply_of(22), "#AB#1\r\n");

    let mut s = WialonSession::new(&SessionConfig::new(Transport::Tcp));
    assert_eq!(
        reply(&s.decode(b"#L#;pass").expect("empty id")),
        "#AL#0\r\n"
    );
    assert_eq!(
        reply(&s.decode(b"#D#1;2;3").expect("structure")),
        "#AD#-1\r\n"
    );
    assert_eq!(
        reply(
            &s.decode(b"#SD#321399;112003;NA;NA;NA;NA;0;NA;NA;0")
                .expect("time")
        ),
        "#ASD#0\r\n"
    );
    assert_eq!(
        reply(
            &s.decode(b"#SD#NA;NA;9999.0;N;NA;NA;0;NA;NA;0")
                .expect("coordinates")
        ),
        "#ASD#10\r\n"
    );
    assert_eq!(
        reply(
            &s.decode(b"#SD#NA;NA;NA;NA;NA;NA;fast;NA;NA;0")
                .expect("speed")
        ),
        "#ASD#11\r\n"
    );
    assert_eq!(
        reply(&s.decode(b"#SD#NA;NA;NA;NA;NA;NA;NA;NA;NA;x").expect("sats")),
        "#ASD#12\r\n"
    );
}

#[test]
fn logins_set_the_identity_and_version() {
    let msgs = replay(true);
    let find = |idx: u32| msgs.iter().find(|(c, _)| c.idx == idx).expect("capture").1[0].clone();
    assert_eq!(find(5).device_id.as_deref(), Some("123456789012345"));
    assert_eq!(find(6).device_id.as_deref(), Some("2002"));
    // Data after a login names no device: the session does.
    assert_eq!(find(10).device_id, None);
    // A UDP-style prefix names it in the packet.
    assert_eq!(find(9).device_id.as_deref(), Some("99999999"));
    assert_eq!(find(13).device_id.as_deref(), Some("99999999"));

    let mut s = WialonSession::new(&SessionConfig::new(Transport::Tcp));
    s.decode(b"#L#123456789012345;test").expect("login");
    assert_eq!(s.device_id(), Some("123456789012345"));
    assert_eq!(s.version(), Some(Version::V1_1));
}

#[test]
fn records_map_their_fields() {
    // Short data: speed km/h, course, altitude, satellites.
    let r = record(12);
    let fix = r.fix.expect("fix");
    assert_eq!(
        (fix.speed, fix.course, fix.altitude, fix.satellites),
        (Some(1.0), Some(2.0), Some(3.0), Some(4))
    );
    // Extended data without a time: adc, parameters, fuel level.
    let r = record(3);
    assert_eq!(r.time, None);
    assert!(r.fix.expect("fix").valid);
    assert_eq!(r.io.get("analog_1"), Some(&IoValue::Float(1.0)));
    assert_eq!(r.io.get("lls_level_1"), Some(&IoValue::Float(21588.0)));
    assert_eq!(r.io.get("wialon_m1"), Some(&IoValue::Int(9_196_679)));
    // Inputs, an odometer in km, an unmapped CAN counter.
    let r = record(10);
    assert_eq!(r.inputs, Some(241));
    assert_eq!(r.outputs, None);
    assert_eq!(r.io.get("hw_mileage"), Some(&IoValue::Float(0.0)));
    assert_eq!(
        r.io.get("wialon_can_mileage"),
        Some(&IoValue::Int(140_367_515))
    );
    let fix = r.fix.expect("fix");
    assert_eq!((fix.satellites, fix.hdop), (Some(12), Some(1.0)));
    // Three adc values and the three parameter types.
    let r = record(15);
    for (n, v) in [(1, 14.77), (2, 0.02), (3, 3.6)] {
        assert_eq!(
            r.io.get(format!("analog_{n}").as_str()),
            Some(&IoValue::Float(v))
        );
    }
    assert_eq!(r.io.get("wialon_count1"), Some(&IoValue::Int(564)));
    assert_eq!(r.io.get("wialon_fuel"), Some(&IoValue::Float(45.8)));
    assert_eq!(r.io.get("wialon_hw"), Some(&IoValue::Text("V4.5".into())));
    // An empty course is absent, not zero.
    assert_eq!(record(18).fix.expect("fix").course, None);
    // Voltages under their device-specific names.
    let r = record(21);
    assert_eq!(r.io.get("battery_voltage"), Some(&IoValue::Float(3.4)));
    assert_eq!(r.io.get("board_voltage"), Some(&IoValue::Float(13.2)));
    assert_eq!(r.io.get("wialon_gps"), Some(&IoValue::Text("Off".into())));
    assert!(r.buffered);
    // iButton.
    assert_eq!(record(22).hardware_key.as_deref(), Some("AB45DF01145"));
    // Non-ASCII parameter names are kept.
    let msg = decoded(19);
    assert_eq!(msg.records.len(), 2);
    assert_eq!(
        msg.records[1].io.get("wialon_батарея"),
        Some(&IoValue::Text("100 %".into()))
    );
    // SOS 0 raises nothing; temp is the device temperature.
    let r = record(25);
    assert!(r.alarms.is_empty());
    assert_eq!(r.io.get("wialon_bat"), Some(&IoValue::Text("99".into())));

    let mut s = WialonSession::new(&SessionConfig::new(Transport::Udp));
    let msg = s
        .decode(b"77#D#NA;NA;NA;NA;NA;NA;NA;NA;NA;NA;NA;1;2;NA;NA;SOS:1:1,temp3:2:-4.5,name:3:a,b,c\r\n")
        .expect("decode");
    let r = &msg.records[0];
    assert_eq!(r.alarms, vec![Alarm::Sos]);
    assert_eq!((r.inputs, r.outputs), (Some(1), Some(2)));
    assert_eq!(r.io.get("ext_temp_sensor_3"), Some(&IoValue::Float(-4.5)));
    assert_eq!(
        r.io.get("wialon_name"),
        Some(&IoValue::Text("a,b,c".into()))
    );
    // Over UDP the answer is sent as well: some firmwares wait for it.
    assert_eq!(reply(&msg), "#AD#1\r\n");
}

#[test]
fn framer_cuts_lines_and_photo_blocks() {
    let s = WialonSession::new(&SessionConfig::new(Transport::Tcp));
    assert_eq!(s.frame(b""), Err(FrameError::Incomplete));
    assert_eq!(s.frame(b"#P#"), Err(FrameError::Incomplete));
    assert_eq!(
        s.frame(b"#P#\r\n#SD#"),
        Ok(Cut {
            consumed: 5,
            start: 0,
            end: 3
        })
    );
    assert_eq!(
        s.frame(b"#P#\n"),
        Ok(Cut {
            consumed: 4,
            start: 0,
            end: 3
        })
    );
    assert!(matches!(
        s.frame(b"\r\n#P#\r\n"),
        Err(FrameError::Reject { skip: 2, .. })
    ));
    assert!(matches!(
        s.frame(&vec![b'a'; MAX_LINE + 1]),
        Err(FrameError::Fatal(_))
    ));
    // A photo block: the header line, then `size` bytes that may hold CR/LF.
    let mut photo = b"#I#4;0;1;080914;073235;cam.jpg\r\n".to_vec();
    let header = photo.len();
    photo.extend_from_slice(b"\r\n\xff\xd8");
    assert_eq!(s.frame(&photo[..header + 2]), Err(FrameError::Incomplete));
    assert_eq!(s.frame(&photo), Ok(Cut::whole(header + 4)));
    let mut session = WialonSession::new(&SessionConfig::new(Transport::Tcp));
    let msg = session.decode(&photo).expect("photo");
    assert_eq!(reply(&msg), "#AI#0;1\r\n#AI#1\r\n");
    assert!(matches!(
        s.frame(b"#I#999999;0;1;NA;NA;x\r\n"),
        Err(FrameError::Fatal(_))
    ));
}

#[test]
fn encoder_sends_driver_messages() {
    let mut s = WialonSession::new(&SessionConfig::new(Transport::Tcp));
    assert_eq!(
        s.encode(&Command::Text("hello".into())).expect("1.1"),
        b"#M#hello\r\n".to_vec()
    );
    s.decode(b"#L#2.0;42001300083;;DBEB").expect("login");
    let crc = crate::checksum::crc16_arc(b"hello;");
    assert_eq!(
        s.encode(&Command::Text("hello".into())).expect("2.0"),
        format!("#M#hello;{crc:04X}\r\n").into_bytes()
    );
    assert_eq!(
        s.encode(&Command::Bytes(b"#P#\r\n".to_vec()))
            .expect("bytes"),
        b"#P#\r\n".to_vec()
    );
    assert!(matches!(
        s.encode(&Command::Text("two\r\nlines".into())),
        Err(EncodeError::Invalid(_))
    ));
    for unsupported in [
        Command::EngineStop,
        Command::PositionSingle,
        Command::PositionPeriodic { interval_secs: 30 },
    ] {
        assert!(matches!(
            s.encode(&unsupported),
            Err(EncodeError::Unsupported(_))
        ));
    }
}

#[test]
fn garbage_is_rejected() {
    let mut s = WialonSession::new(&SessionConfig::new(Transport::Tcp));
    testing::assert_all_rejected(
        &mut s,
        &[b"hello", b"#", b"##", b"#XYZW#1", b"#QQ#", b"#I#x;y;z"],
    );
}

// Arbitrary bytes are covered for every protocol by `protocol::tests`; this shapes the input
// like Wialon packets so that it gets past the first checks.
proptest! {
    #[test]
    fn packet_like_input_never_panics(
        kind in "(L|SD|D|B|M|I|P)",
        fields in proptest::collection::vec("[0-9A-Fa-fNSEW.:,|x\\- ]{0,12}", 0..20),
        strict in any::<bool>(),
    ) {
        let mut c = SessionConfig::new(Transport::Tcp);
        c.strict_checksum = strict;
        let mut s = WialonSession::new(&c);
        let packet = format!("#{kind}#{}\r\n", fields.join(";"));
        if let Ok(cut) = s.frame(packet.as_bytes()) {
            let _ = s.decode(&packet.as_bytes()[cut.start..cut.end]);
        }
    }
}
