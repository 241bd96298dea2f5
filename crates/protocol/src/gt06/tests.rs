use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::Gt06Session;
use crate::command::{Command, EncodeError};
use crate::error::{DecodeError, FrameError};
use crate::message::{Alarm, CommandReply, DeviceMessage, IoValue, Record, Timestamp};
use crate::testing::{self, assert_verify, io_f64, io_text, records};
use crate::{Session, SessionConfig, Transport};

const KEY: &str = "gt06";

/// Captures whose checksum was edited by hand in the original suites (vectors README), as far
/// as they are in the sample. The Wi-Fi reports among them (76, 99-106, 160) carry no CRC at
/// all and put the access-point count in the length field; 105, 159 and 161 are shorter or
/// longer than their length field. A strict session cannot check any of them.
const BAD_CHECKSUM: &[u32] = &[
    36, 37, 52, 76, 99, 100, 102, 103, 105, 106, 115, 145, 155, 159, 160, 161, 165, 166, 168, 174,
];

/// Captures cut short in the original suites so that the framer rightly waits for more bytes:
/// 70 lacks its final 0x0A. It is decoded from the captured bytes directly.
const TRUNCATED: &[u32] = &[70];

/// 2024-05-06 07:08:09 UTC.
const NOW: Timestamp = Timestamp(1_714_979_289_000);

fn session(strict: bool) -> Gt06Session {
    let mut config = SessionConfig::new(Transport::Tcp);
    config.strict_checksum = strict;
    let mut s = Gt06Session::new(&config);
    s.set_now(NOW);
    s
}

/// Replays every group in one session per group, checking each capture's `verify`.
/// Returns the decoded messages by capture index, and the indices the session rejected.
fn replay(strict: bool) -> (BTreeMap<u32, Vec<DeviceMessage>>, BTreeSet<u32>) {
    let mut decoded = BTreeMap::new();
    let mut rejected = BTreeSet::new();
    let mut truncated = BTreeSet::new();
    for (group, captures) in testing::groups(KEY) {
        let mut s = session(strict);
        for c in captures {
            assert!(!c.context.contains("UDP"), "GT06 is TCP only");
            s.set_model(testing::model_override(&c.context).as_deref());
            let what = format!("{group} idx {}", c.idx);
            let cuts = testing::cut_stream(&s, &c.bytes);
            assert!(
                cuts.skipped == 0 && cuts.fatal.is_none(),
                "{what}: framing failed: {cuts:?}"
            );
            let mut frames = cuts.frames;
            if !cuts.rest.is_empty() {
                truncated.insert(c.idx);
                frames.push(cuts.rest);
            }
            let mut msgs = Vec::new();
            let mut failed = false;
            for f in &frames {
                match s.decode(f) {
                    Ok(m) => msgs.push(m),
                    Err(DecodeError::Reject(why)) => {
                        assert!(strict, "{what}: rejected without strict checksums: {why}");
                        failed = true;
                    }
                    Err(e) => panic!("{what}: {e}"),
                }
            }
            if failed {
                assert!(msgs.is_empty(), "{what}: part of the capture was accepted");
                rejected.insert(c.idx);
                continue;
            }
            assert_verify(&c.verify, &msgs, &what);
            decoded.insert(c.idx, msgs);
        }
    }
    assert_eq!(
        truncated,
        TRUNCATED.iter().copied().collect(),
        "captures the framer could not finish"
    );
    (decoded, rejected)
}

#[test]
fn every_capture_decodes_without_strict_checksums() {
    let (decoded, rejected) = replay(false);
    assert!(rejected.is_empty());
    assert_eq!(decoded.len(), testing::captures(KEY).len());
}

#[test]
fn strict_checksums_reject_exactly_the_edited_captures() {
    let (decoded, rejected) = replay(true);
    assert_eq!(rejected, BAD_CHECKSUM.iter().copied().collect());
    assert_eq!(decoded.len() + rejected.len(), testing::captures(KEY).len());
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// Traccar's alarm names in ours.
fn alarm(name: &str) -> Alarm {
    match name {
        "tampering" => Alarm::Tampering,
        "sos" => Alarm::Sos,
        "lowBattery" => Alarm::LowBattery,
        "removing" => Alarm::Removing,
        "hardBraking" => Alarm::HardBraking,
        "accident" => Alarm::Accident,
        // No common name: kept as the protocol's own.
        "general" => Alarm::Other("general".into()),
        other => panic!("unmapped alarm {other}"),
    }
}

/// Whether a record carries the expected value, mapped from Traccar's names and units.
fn matches(r: &Record, field: &str, value: &str) -> bool {
    let num = || value.parse::<f64>().expect("numeric expectation");
    match field {
        "alarm" => r.alarms.contains(&alarm(value)),
        "driverUniqueId" => r.hardware_key.as_deref() == Some(value),
        "power" => io_f64(r, "board_voltage").is_some_and(|v| close(v, num())),
        "battery" => io_f64(r, "battery_voltage").is_some_and(|v| close(v, num())),
        "batteryLevel" => r.battery_level.map(f64::from) == Some(num()),
        "ignition" => r.ignition == Some(value == "true"),
        "altitude" => r.fix.and_then(|f| f.altitude) == Some(num()),
        "temp1" => io_f64(r, "ext_temp_sensor_1").is_some_and(|v| close(v, num())),
        "humidity" => io_f64(r, "humidity_1").is_some_and(|v| close(v, num())),
        "adc1" => io_f64(r, "analog_1").is_some_and(|v| close(v, num())),
        "iccid" => io_text(r, "iccid") == Some(value),
        // No Navixy names for these: the protocol-specific keys.
        "steps" => io_f64(r, "gt06_steps") == Some(num()),
        "event" => io_f64(r, "gt06_event") == Some(num()),
        "drivingTime" => io_f64(r, "gt06_driving_time") == Some(num()),
        "door" => r.io.get("gt06_door") == Some(&IoValue::Bool(value == "true")),
        "networkTechnology" => io_text(r, "gt06_network_technology") == Some(value),
        "serial" => io_text(r, "gt06_serial") == Some(value),
        // Command and serial-port answers: kept on the record and as a command reply.
        "result" => io_text(r, "gt06_result") == Some(value),
        other => panic!("no mapping for expectation field {other}"),
    }
}

#[test]
fn every_expectation_holds() {
    let (decoded, _) = replay(false);
    let expectations = testing::expectations(KEY);
    assert!(!expectations.is_empty());
    for (idx, field, value) in expectations {
        let msgs = decoded
            .get(&idx)
            .unwrap_or_else(|| panic!("idx {idx} not decoded"));
        assert!(
            records(msgs).iter().any(|r| matches(r, &field, &value)),
            "idx {idx}: expected {field} = {value}, got {msgs:#?}"
        );
        if field == "result" {
            assert!(msgs
                .iter()
                .any(|m| m.command_replies.iter().any(|c| match c {
                    CommandReply::Text(t) => t == &value,
                    CommandReply::Bytes(b) => testing::hex(&value) == *b,
                })));
        }
    }
}

#[test]
fn framer_cuts_every_frames_row() {
    testing::assert_frames_file(KEY, &session(true));
}

#[test]
fn framer_waits_resyncs_and_respects_embedded_stop_bytes() {
    let s = session(true);
    let login = testing::hex("78780d01086471700328358100093f040d0a");
    testing::assert_waits_for_every_prefix(&s, &login, "login");
    let mut noisy = vec![0x00, 0x78, 0x11];
    noisy.extend_from_slice(&login);
    match s.frame(&noisy) {
        Err(FrameError::Reject { skip, .. }) => assert_eq!(&noisy[skip..], &login[..]),
        other => panic!("{other:?}"),
    }
    // Two frames back to back: only the first is cut.
    let two = [login.clone(), login.clone()].concat();
    assert_eq!(s.frame(&two), Ok(crate::Cut::whole(login.len())));
    // Content holding 0D 0A is cut at the length field, not at the first stop bytes.
    let serial = testing::hex("7979000e9b0332382e33a1e60d0a0289be490d0a");
    assert_eq!(s.frame(&serial), Ok(crate::Cut::whole(serial.len())));
    // A login shorter than its length field ends at its stop bytes, alone or followed by a
    // frame.
    let short = testing::hex("78780d010359339075005244340d0a");
    assert_eq!(s.frame(&short), Ok(crate::Cut::whole(short.len())));
    let both = [short.clone(), login.clone()].concat();
    assert_eq!(s.frame(&both), Ok(crate::Cut::whole(short.len())));
    // A Wi-Fi report (no usable length) waits while stop bytes inside it are followed by more
    // of it, and ends at the stop bytes before the next frame.
    let wifi = testing::hex("787800691710231108500200cc080c4e2fa5640c4e2fa66e0d0a");
    let mut inner = wifi[..10].to_vec();
    inner.extend_from_slice(&[0x0d, 0x0a, 0x01]);
    assert_eq!(s.frame(&inner), Err(FrameError::Incomplete));
    let both = [wifi.clone(), login.clone()].concat();
    assert_eq!(s.frame(&both), Ok(crate::Cut::whole(wifi.len())));
}

/// Found by timing the framer on adversarial streams (docs/fuzzing.md): it searched the whole
/// buffer for the stop bytes of an irregular frame, so 64 KiB of `78 78` took a second and a
/// half to skip, two bytes per pass. Irregular frames are short: stop bytes beyond 1 KiB are
/// not theirs, and the search stops there.
#[test]
fn irregular_frames_are_looked_for_within_a_kilobyte_only() {
    let s = session(true);
    let mut far = testing::hex("7878050100");
    far.resize(1104, 0);
    far.extend_from_slice(&[0x0d, 0x0a]);
    assert!(matches!(
        s.frame(&far),
        Err(FrameError::Reject { skip: 2, .. })
    ));
    // Within the kilobyte they are still cut at their stop bytes.
    let mut near = testing::hex("7878050100");
    near.resize(900, 0);
    near.extend_from_slice(&[0x0d, 0x0a]);
    assert_eq!(s.frame(&near), Ok(crate::Cut::whole(902)));

    let starts = [0x78u8, 0x78].repeat(4 * 1024);
    let cuts = testing::cut_stream(&s, &starts);
    assert!(cuts.frames.is_empty() && cuts.fatal.is_none());
    assert!(cuts.rest.len() <= 1024, "{} bytes left", cuts.rest.len());
}

#[test]
fn encoder_matches_every_commands_row() {
    let rows = testing::commands(KEY);
    assert!(!rows.is_empty());
    for (kind, _attributes, expected, source) in rows {
        let mut s = session(true);
        let command = match kind.as_str() {
            "engineStop" => Command::EngineStop,
            "engineResume" => Command::EngineResume,
            other => panic!("{source}: unmapped command {other}"),
        };
        assert_eq!(s.encode(&command).expect("encodes"), expected, "{source}");
    }
}

#[test]
fn text_commands_and_the_unsupported() {
    let mut s = session(true);
    // Relay,0# in a 0x80 frame, serial 0, then serial 1 for the next command.
    let resume = s.encode(&Command::EngineResume).expect("encodes");
    assert_eq!(&resume[..4], &[0x78, 0x78, 0x12, 0x80]);
    assert_eq!(&resume[9..17], b"Relay,0#");
    assert_eq!(&resume[17..19], &[0, 0]);
    assert_eq!(
        crate::checksum::crc16_x25(&resume[2..19]).to_be_bytes(),
        [resume[19], resume[20]]
    );
    let text = s.encode(&Command::Text("WHERE#".into())).expect("encodes");
    assert_eq!(&text[..5], &[0x78, 0x78, 0x10, 0x80, 0x0a]);
    assert_eq!(&text[15..17], &[0, 1]);
    assert_eq!(s.encode(&Command::Bytes(vec![1, 2, 3])), Ok(vec![1, 2, 3]));
    assert!(matches!(
        s.encode(&Command::Text("x".repeat(246))),
        Err(EncodeError::Invalid(_))
    ));
    assert!(matches!(
        s.encode(&Command::Text("déjà".into())),
        Err(EncodeError::Invalid(_))
    ));
    assert!(matches!(
        s.encode(&Command::PositionSingle),
        Err(EncodeError::Unsupported(_))
    ));
    let mut g109 = session(true);
    g109.set_model(Some("g109"));
    let stop = g109.encode(&Command::EngineStop).expect("encodes");
    assert_eq!(&stop[9..13], b"DYD#");
}

fn decode_hex(s: &mut Gt06Session, hex: &str) -> DeviceMessage {
    s.decode(&testing::hex(hex)).expect("decodes")
}

#[test]
fn login_heartbeat_and_alarm_replies() {
    let mut s = session(true);
    // Login: IMEI from BCD, answered 78 78 05 01 <serial 0001> <crc> 0D 0A.
    let m = decode_hex(&mut s, "78780d01086471700328358100093f040d0a");
    assert_eq!(m.device_id.as_deref(), Some("864717003283581"));
    assert_eq!(s.device_id(), Some("864717003283581"));
    assert!(m.records.is_empty());
    assert_eq!(m.reply, Some(testing::hex("78780501000955940d0a")));
    // The example of the Concox document: serial 1, CRC D9DC.
    assert_eq!(
        super::encode::response(false, 0x01, 1, &[]),
        testing::hex("787805010001d9dc0d0a")
    );
    // Status (heartbeat) 0x13.
    let m = decode_hex(&mut s, "78780a13440604000201baaf540d0a");
    assert_eq!(
        m.reply,
        Some(super::encode::response(false, 0x13, 0x01ba, &[]))
    );
    let r = &m.records[0];
    assert_eq!(r.ignition, Some(false));
    assert_eq!(r.battery_level, Some(100));
    assert_eq!(r.gsm.as_ref().and_then(|g| g.signal_level), Some(100));
    assert_eq!(r.outputs, Some(0));
    assert_eq!(r.io.get("gt06_gps_tracking"), Some(&IoValue::Bool(true)));
    // Alarm 0x16: SOS from the terminal information, answered with its serial.
    let m = decode_hex(
        &mut s,
        "787826161709130f3a2dcc02c55f2a089f9af9005c210901360481fe066d9b03413e420102035f92fe0d0a",
    );
    assert_eq!(
        m.reply,
        Some(super::encode::response(false, 0x16, 0x035f, &[]))
    );
    assert!(m.records[0].alarms.contains(&Alarm::Sos));
    // An extended login is answered in the extended form.
    let mut body = testing::hex("000d0108647170032835810002");
    let crc = crate::checksum::crc16_x25(&body);
    body.extend_from_slice(&crc.to_be_bytes());
    let frame = [testing::hex("7979"), body, testing::hex("0d0a")].concat();
    let m = s.decode(&frame).expect("decodes");
    assert_eq!(m.reply, Some(super::encode::response(true, 0x01, 2, &[])));
    assert_eq!(
        &m.reply.as_ref().expect("reply")[..5],
        &[0x79, 0x79, 0x00, 0x05, 0x01]
    );
}

#[test]
fn login_time_zone_shifts_device_times() {
    let mut s = session(true);
    // West 4:00 (extension 0x190A); the GPS time 2017-08-25 17:02:22 local is 21:02:22 UTC.
    decode_hex(&mut s, "787811010864717003664467100f190a0002c6d20d0a");
    let m = decode_hex(
        &mut s,
        "78781f12110819110216d402f250340828924055d4c801944600d300c09501429c830d0a",
    );
    let r = &m.records[0];
    assert_eq!(r.time, crate::time::utc(2017, 8, 25, 21, 2, 22));
    let fix = r.fix.expect("fix");
    assert!(fix.valid);
    assert!(fix.lat > 0.0 && fix.lon > 0.0);
    assert_eq!(r.ignition, Some(true));
}

#[test]
fn time_request_is_answered_with_the_time_given() {
    let mut s = session(true);
    let m = decode_hex(&mut s, "7878058a000688290d0a");
    let expected = super::encode::response(false, 0x8A, 6, &[24, 5, 6, 7, 8, 9]);
    assert_eq!(m.reply, Some(expected.clone()));
    assert_eq!(super::time_reply(NOW, 6, false), expected);
    assert!(m.records.is_empty());
}

#[test]
fn time_request_before_the_time_is_given_gets_no_answer() {
    let mut s = Gt06Session::new(&SessionConfig::new(Transport::Tcp));
    let m = decode_hex(&mut s, "7878058a000688290d0a");
    assert_eq!(m.reply, None);
    assert!(m.records.is_empty());
    // The other answers do not depend on it.
    let login = decode_hex(&mut s, "78780d01086471700328358100093f040d0a");
    assert!(login.reply.is_some());
}

#[test]
fn address_request_is_answered_without_an_address() {
    let mut s = session(true);
    let m = decode_hex(
        &mut s,
        "78782e2a0f0c1d071139ca027ac8000c4658000014d83132353230313335333231373730373900000000000001002a6ece0d0a",
    );
    let reply = m.reply.expect("reply");
    assert_eq!(&reply[..5], &[0x79, 0x79, 0x00, 0x15, 0x97]);
    assert!(reply.windows(11).any(|w| w == b"NA&&NA&&0##"));
    assert!(m.records.is_empty());
}

#[test]
fn location_fields() {
    let mut s = session(true);
    // 0x22: 2018-06-22 08:56:23, valid, ACC and re-upload flags after the cell.
    let m = decode_hex(
        &mut s,
        "78782222120616083817c5050cc8c801a819d600152400e8011dbf003332000000004862500d0a",
    );
    assert_eq!(
        m.reply,
        Some(super::encode::response(false, 0x22, 0x48, &[]))
    );
    let r = &m.records[0];
    assert_eq!(r.time, crate::time::utc(2018, 6, 22, 8, 56, 23));
    let fix = r.fix.expect("fix");
    assert!(fix.valid);
    assert!((fix.lat - 0x050c_c8c8 as f64 / 1_800_000.0).abs() < 1e-9);
    assert!((fix.lon - 0x01a8_19d6 as f64 / 1_800_000.0).abs() < 1e-9);
    assert_eq!(fix.course, Some(f64::from(0x124)));
    assert_eq!(fix.satellites, Some(5));
    let gsm = r.gsm.as_ref().expect("gsm");
    assert_eq!(
        (gsm.mcc, gsm.mnc, gsm.lac, gsm.cell_id),
        (Some(232), Some(1), Some(0x1dbf), Some(0x3332))
    );
    assert_eq!(r.ignition, Some(false));
    assert!(!r.buffered);
    // 0x12 with mileage: 4 320 784 m.
    let m = decode_hex(
        &mut s,
        "787823120f081b121d37cb01c8e2cc08afd3c020d50201940701d600a1190041ee100576d1470d0a",
    );
    assert!(close(
        io_f64(&m.records[0], "hw_mileage").expect("mileage"),
        4320.784
    ));
    assert_eq!(m.records[0].fix.and_then(|f| f.speed), Some(32.0));
}

#[test]
fn wifi_report_is_answered_with_its_date_when_accepted() {
    let mut s = session(false);
    let m = decode_hex(
        &mut s,
        "787800691710231108500200cc080c4e2fa5640c4e2fa66e0d0a",
    );
    assert_eq!(m.reply, Some(testing::hex("787800691710231108500d0a")));
    let r = &m.records[0];
    assert_eq!(r.time, crate::time::utc(2017, 10, 23, 11, 8, 50));
    assert_eq!(r.gsm.as_ref().and_then(|g| g.mcc), Some(204));
    assert!(r.fix.is_none());
}

#[test]
fn wrong_crc_is_rejected_only_when_strict() {
    let hex = "78780d01086471700328358100093f050d0a";
    assert!(matches!(
        session(true).decode(&testing::hex(hex)),
        Err(DecodeError::Reject(_))
    ));
    let m = session(false).decode(&testing::hex(hex)).expect("relaxed");
    assert_eq!(m.device_id.as_deref(), Some("864717003283581"));
}

// Arbitrary bytes are covered for every protocol by `protocol::tests`; these build GT06 frames
// so that the input reaches the decoders behind the frame checks.
proptest! {
    #[test]
    /// Well-formed frames (right header, length and CRC) around arbitrary content reach
    /// every decoder; none may panic whatever the model.
    #[test]
    fn valid_frames_with_arbitrary_content_never_panic(
        extended in any::<bool>(),
        kind in prop_oneof![any::<u8>(), proptest::sample::select(vec![
            0x01u8, 0x10, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1e, 0x21, 0x22,
            0x23, 0x24, 0x26, 0x27, 0x28, 0x2a, 0x2c, 0x2d, 0x2e, 0x31, 0x32, 0x33, 0x34, 0x35,
            0x36, 0x37, 0x38, 0x61, 0x69, 0x70, 0x80, 0x8a, 0x8c, 0x94, 0x95, 0x9b, 0xa0, 0xa1,
            0xa2, 0xa3, 0xa4, 0xa5, 0xa7, 0xf2, 0xf3,
        ])],
        content in proptest::collection::vec(any::<u8>(), 0..120),
        model in proptest::sample::select(vec![
            None, Some("VL103"), Some("SEEWORLD"), Some("XT40"), Some("LW4G-4B"), Some("R11"),
            Some("QH302R"),
        ]),
    ) {
        let len = content.len() + 5;
        let mut frame = if extended {
            let mut f = vec![0x79, 0x79];
            f.extend_from_slice(&(len as u16).to_be_bytes());
            f
        } else {
            vec![0x78, 0x78, len as u8]
        };
        frame.push(kind);
        frame.extend_from_slice(&content);
        frame.extend_from_slice(&[0x00, 0x01]);
        let crc = crate::checksum::crc16_x25(&frame[2..]);
        frame.extend_from_slice(&crc.to_be_bytes());
        frame.extend_from_slice(&[0x0d, 0x0a]);
        let mut s = session(true);
        s.set_model(model);
        let _ = s.decode(&frame);
        testing::check_cut(frame.len(), &s.frame(&frame)).map_err(TestCaseError::fail)?;
    }

    /// Start bytes with any length field and body: the irregular-frame paths (length field
    /// wrong, stop bytes anywhere) of framer and relaxed decoder.
    #[test]
    fn start_bytes_with_arbitrary_rest_never_panic(
        extended in any::<bool>(),
        rest in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(0x0du8), Just(0x0au8), Just(0x78u8)],
            0..160,
        ),
    ) {
        let mut bytes = if extended { vec![0x79, 0x79] } else { vec![0x78, 0x78] };
        bytes.extend_from_slice(&rest);
        for strict in [true, false] {
            let mut s = session(strict);
            let cut = s.frame(&bytes);
            testing::check_cut(bytes.len(), &cut).map_err(TestCaseError::fail)?;
            if let Ok(cut) = cut {
                let _ = s.decode(&bytes[cut.start..cut.end]);
            }
            let _ = s.decode(&bytes);
        }
    }
}
