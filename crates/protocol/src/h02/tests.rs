use proptest::prelude::*;

use super::*;
use crate::message::{CommandReply, Gsm, IoValue};
use crate::testing::{self, assert_verify, Capture};
use crate::time::utc;
use crate::Transport;

const KEY: &str = "h02";

/// The time the replay gives the session: the gateway sets it to the receive time.
fn now() -> Timestamp {
    utc(2024, 1, 1, 0, 0, 0).expect("clock")
}

fn session_for(capture: &Capture) -> H02Session {
    let mut s = H02Session::new(&SessionConfig::new(testing::transport_of(&capture.context)));
    s.set_now(now());
    s
}

/// Every capture, replayed per connection in order. H02 has no checksum, so no capture is
/// rejected and `strict_checksum` changes nothing.
fn replay() -> Vec<(Capture, Vec<DeviceMessage>)> {
    let mut out = Vec::new();
    for (_, group) in testing::groups(KEY) {
        let mut session = session_for(&group[0]);
        for capture in group {
            let what = format!("h02 idx {}", capture.idx);
            let transport = session.config().transport;
            let msgs = testing::frame_and_decode(&mut session, transport, &capture.bytes, &what);
            out.push((capture, msgs));
        }
    }
    out
}

fn decoded(idx: u32) -> Vec<DeviceMessage> {
    replay()
        .into_iter()
        .find(|(c, _)| c.idx == idx)
        .map(|(_, m)| m)
        .unwrap_or_else(|| panic!("no capture {idx}"))
}

fn record(idx: u32) -> Record {
    decoded(idx)
        .into_iter()
        .flat_map(|m| m.records)
        .next()
        .unwrap_or_else(|| panic!("capture {idx} has no record"))
}

#[test]
fn every_capture_decodes_as_its_verify_column_says() {
    let all = replay();
    assert_eq!(all.len(), testing::captures(KEY).len());
    for (capture, msgs) in &all {
        assert_verify(&capture.verify, msgs, &format!("h02 idx {}", capture.idx));
    }
}

#[test]
fn expectations_hold() {
    let all = replay();
    for (idx, field, value) in testing::expectations(KEY) {
        let (_, msgs) = all
            .iter()
            .find(|(c, _)| c.idx == idx)
            .unwrap_or_else(|| panic!("no capture {idx}"));
        let rec = msgs
            .iter()
            .flat_map(|m| m.records.iter())
            .next()
            .unwrap_or_else(|| panic!("idx {idx}: no record"));
        let what = format!("idx {idx} {field}");
        if let Some(ok) = testing::fix_expectation(rec, &field, &value) {
            assert!(ok, "{what}: expected {value}, got {rec:?}");
            continue;
        }
        match field.as_str() {
            "batteryLevel" => {
                assert_eq!(
                    rec.battery_level.map(u32::from),
                    value.parse().ok(),
                    "{what}"
                )
            }
            // Traccar's `result` is the device's answer: a command reply here.
            "result" => {
                let text = String::from_utf8(testing::unescape(&value)).expect("utf8");
                assert!(
                    msgs.iter().any(|m| m
                        .command_replies
                        .contains(&CommandReply::Text(text.clone()))),
                    "{what}"
                );
            }
            // No Navixy name for the raw status word: it is kept as `h02_status`.
            "status" => assert_eq!(
                rec.io.get("h02_status"),
                Some(&IoValue::Int(value.parse().expect("status"))),
                "{what}"
            ),
            other => panic!("unmapped expectation {other}"),
        }
    }
}

#[test]
fn framer_cuts_what_the_frames_file_says() {
    testing::assert_frames_file(KEY, &H02Session::new(&SessionConfig::new(Transport::Tcp)));
}

#[test]
fn framer_handles_partial_and_noisy_input() {
    let s = H02Session::new(&SessionConfig::new(Transport::Tcp));
    assert_eq!(s.frame(b""), Err(FrameError::Incomplete));
    assert_eq!(s.frame(b"*HQ,123,V1,0"), Err(FrameError::Incomplete));
    assert_eq!(s.frame(&[b'$'; 20]), Err(FrameError::Incomplete));
    // A 45-byte frame whose first 40 bytes arrived.
    let long = testing::hex(
        "2441060008262153213108150441939006074041830600000\
         0fffffbfdff0015060000002c02dc0c000000001f",
    );
    assert_eq!(s.frame(&long[..40]), Err(FrameError::Incomplete));
    assert_eq!(s.frame(&long), Ok(Cut::whole(45)));
    match s.frame(b"\r\nxx*HQ,1,V0#") {
        Err(FrameError::Reject { skip, .. }) => assert_eq!(skip, 4),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.frame(b"*HQ,1,V0#\r\n*HQ"),
        Ok(Cut {
            consumed: 11,
            start: 0,
            end: 9
        })
    );
    let endless = [b'*'; MAX_TEXT_FRAME + 1];
    assert!(matches!(s.frame(&endless), Err(FrameError::Reject { .. })));
    // Found by timing the framer on adversarial streams (docs/fuzzing.md): it resumed at the
    // next '*', so a stream of '*' cost a 4 KiB scan per byte. It now resumes where a frame
    // could still end in time, or at a binary start.
    let stars = [b'*'; 3 * MAX_TEXT_FRAME];
    assert!(matches!(
        s.frame(&stars),
        Err(FrameError::Reject { skip, .. }) if skip == 2 * MAX_TEXT_FRAME + 1
    ));
    let mut then_frame = stars.to_vec();
    then_frame.extend_from_slice(b"HQ,1,V0#");
    let cuts = testing::cut_stream(&s, &then_frame);
    assert_eq!(cuts.frames.len(), 1);
    assert_eq!(cuts.frames[0].len(), MAX_TEXT_FRAME);
    let mut then_binary = [b'*'; 100].to_vec();
    then_binary.push(b'$');
    then_binary.extend_from_slice(&[b'1'; MAX_TEXT_FRAME]);
    assert!(matches!(
        s.frame(&then_binary),
        Err(FrameError::Reject { skip: 100, .. })
    ));
}

fn command_for(kind: &str, attributes: &str) -> Command {
    let attr = |name: &str| {
        attributes
            .split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{name} in {attributes}"))
    };
    match kind {
        "alarmArm" => Command::AlarmArm,
        "alarmDisarm" => Command::AlarmDisarm,
        "engineStop" => Command::EngineStop,
        "engineResume" => Command::EngineResume,
        "positionPeriodic" => Command::PositionPeriodic {
            interval_secs: attr("frequency").parse().expect("frequency"),
        },
        other => panic!("unmapped command {other}"),
    }
}

#[test]
fn encoder_writes_what_the_commands_file_says() {
    for (kind, attributes, expected, source) in testing::commands(KEY) {
        let mut s = H02Session::new(&SessionConfig::new(Transport::Tcp));
        let id = attributes
            .split(' ')
            .find_map(|kv| kv.strip_prefix("uniqueId="))
            .expect("uniqueId");
        s.set_device_id(id);
        // The rows say `time=01:02:03`.
        s.set_now(utc(2024, 1, 1, 1, 2, 3).expect("clock"));
        let out = s
            .encode(&command_for(&kind, &attributes))
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected),
            "{source}"
        );
    }
}

#[test]
fn encoder_uses_the_id_learnt_from_decoding_and_refuses_the_rest() {
    let mut s = H02Session::new(&SessionConfig::new(Transport::Tcp));
    assert!(matches!(
        s.encode(&Command::EngineStop),
        Err(EncodeError::Invalid(_))
    ));
    s.decode(b"*HQ,4210051415,V1,164549,A,0956.3869,N,08406.7068,W,000.00,000,221215,FFFFFBFF#")
        .expect("decode");
    assert_eq!(
        s.encode(&Command::EngineResume).expect("encode"),
        b"*HQ,4210051415,S20,000000,1,0#".to_vec()
    );
    assert_eq!(
        s.encode(&Command::Text("*HQ,4210051415,D1,000000,60,1#".into()))
            .expect("text"),
        b"*HQ,4210051415,D1,000000,60,1#".to_vec()
    );
    assert!(matches!(
        s.encode(&Command::PositionSingle),
        Err(EncodeError::Unsupported(_))
    ));
    assert!(matches!(
        s.encode(&Command::SetOutput { index: 1, on: true }),
        Err(EncodeError::Unsupported(_))
    ));
}

#[test]
fn replies_follow_the_protocol() {
    // Heartbeats are echoed up to their type.
    assert_eq!(
        decoded(7)[0].reply.as_deref(),
        Some(&b"*HQ,135790246811220,HTBT#"[..])
    );
    assert_eq!(
        decoded(4)[0].reply.as_deref(),
        Some(&b"*HQ,135790246811220,HTBT#"[..])
    );
    // V1 and NBR get the time confirmation, stamped with the session's time.
    assert_eq!(
        decoded(3)[0].reply.as_deref(),
        Some(&b"*HQ,4970105243,V4,V1,20240101000000#"[..])
    );
    assert_eq!(
        decoded(34)[0].reply.as_deref(),
        Some(&b"*HQ,4109179024,V4,NBR,20240101000000#"[..])
    );
    // Other frames get none, and before the session is given the time neither does V1.
    assert_eq!(decoded(0)[0].reply, None);
    assert_eq!(decoded(6)[0].reply, None);
    let mut no_time = H02Session::new(&SessionConfig::new(Transport::Tcp));
    let msg = no_time
        .decode(b"*HQ,4210051415,V1,164549,A,0956.3869,N,08406.7068,W,000.00,000,221215,FFFFFBFF#")
        .expect("decode");
    assert_eq!(msg.reply, None);
    assert_eq!(msg.device_id.as_deref(), Some("4210051415"));
}

#[test]
fn binary_frames_decode_fully() {
    // idx 87: 45 bytes with the serving cell.
    let r = record(87);
    let fix = r.fix.expect("fix");
    assert!((fix.lat - (22.0 + 33.9830 / 60.0)).abs() < 1e-9);
    assert!((fix.lon - (114.0 + 2.6520 / 60.0)).abs() < 1e-9);
    assert!(fix.valid);
    assert_eq!(r.time, utc(2014, 12, 1, 12, 22, 47));
    assert_eq!(r.battery_level, Some(100));
    assert_eq!(
        r.gsm,
        Some(Gsm {
            mcc: Some(460),
            mnc: Some(0),
            lac: Some(0x262b),
            cell_id: Some(0x0f17),
            ..Gsm::default()
        })
    );
    assert_eq!(r.ignition, Some(false));
    let msg = &decoded(87)[0];
    assert_eq!(msg.device_id.as_deref(), Some("4109114427"));

    // idx 9: south-west flags, invalid fix, percentage battery.
    let r = record(9);
    let fix = r.fix.expect("fix");
    assert!(!fix.valid);
    assert!(fix.lat > 0.0 && fix.lon < 0.0);
    assert_eq!(r.battery_level, Some(96));

    // idx 22: status FFFFFBFD carries the robbery (SOS) bit.
    assert_eq!(record(22).alarms, vec![Alarm::Sos]);

    // idx 78: speed and course.
    let fix = record(78).fix.expect("fix");
    assert_eq!(fix.course, Some(0.0));
}

#[test]
fn text_frames_map_their_fields() {
    // Speed in knots becomes km/h; the decimal serving cell is read.
    let r = record(28);
    let fix = r.fix.expect("fix");
    assert!((fix.speed.expect("speed") - 0.05 * KNOTS).abs() < 1e-9);
    assert_eq!(r.gsm.as_ref().and_then(|g| g.mcc), Some(246));
    // A hex cell (604 = Morocco).
    assert_eq!(record(40).gsm.and_then(|g| g.mcc), Some(604));
    // Odometer, temperature, fuel, altitude and cell.
    let r = record(30);
    assert_eq!(r.io.get("hw_mileage"), Some(&IoValue::Float(69_129.336)));
    assert_eq!(r.io.get("ext_temp_sensor_1"), Some(&IoValue::Int(0)));
    assert_eq!(r.fix.expect("fix").altitude, Some(18.0));
    assert_eq!(r.gsm.and_then(|g| g.cell_id), Some(0x5a20));
    // Coordinates as -dd-mm.mmmm.
    let fix = record(52).fix.expect("fix");
    assert!((fix.lat + (23.0 + 35.3408 / 60.0)).abs() < 1e-9);
    // A battery gauge before the date does not shift the date.
    assert_eq!(record(12).time, utc(2018, 9, 8, 5, 40, 48));
    // SIM data before the status (V19).
    assert_eq!(
        record(18).io.get("h02_status"),
        Some(&IoValue::Int(0xBFFF_FBFF))
    );
    // No time or date in the frame: the session's time stands in.
    assert_eq!(record(48).time, Some(now()));
    // A frame with no coordinates still carries its status.
    let r = record(16);
    assert!(r.fix.is_none());
    assert!(r.io.contains_key("h02_status"));
}

#[test]
fn status_bits_become_alarms_and_states() {
    // FFF7FBFF: running on the backup battery.
    assert!(record(1).alarms.contains(&Alarm::PowerCut));
    // FFFBFFFF: SOS; ACC on.
    let r = record(40);
    assert!(r.alarms.contains(&Alarm::Sos));
    assert_eq!(r.ignition, Some(true));
    // F7FFFBFF after an S20 command: the engine is cut.
    assert_eq!(
        record(66).io.get("h02_engine_cut"),
        Some(&IoValue::Bool(true))
    );
    // FBFFF9FF: armed, ACC off.
    let r = record(0);
    assert_eq!(r.io.get("h02_armed"), Some(&IoValue::Bool(true)));
    assert_eq!(r.ignition, Some(false));
    // All ones: nothing active.
    let r = record(58);
    assert!(r.alarms.is_empty());
    assert_eq!(r.io.get("h02_door"), Some(&IoValue::Bool(false)));
}

#[test]
fn other_text_types() {
    // V4: the command answer and the position.
    let msgs = decoded(64);
    assert_eq!(
        msgs[0].command_replies,
        vec![CommandReply::Text("S14,100,10,1,3,130305".into())]
    );
    assert_eq!(msgs[0].records[0].time, utc(2002, 9, 22, 5, 3, 16));
    // NBR: cells, no fix.
    let r = record(34);
    assert!(r.fix.is_none());
    assert_eq!(
        r.gsm,
        Some(Gsm {
            mcc: Some(722),
            mnc: Some(310),
            lac: Some(8106),
            cell_id: Some(32010),
            ..Gsm::default()
        })
    );
    assert_eq!(r.time, utc(2017, 2, 10, 10, 37, 32));
    // LINK: signal, battery, steps.
    let r = record(24);
    assert_eq!(r.battery_level, Some(84));
    assert_eq!(r.gsm.and_then(|g| g.signal_level), Some(48));
    assert_eq!(r.io.get("h02_steps"), Some(&IoValue::Int(0)));
    // V3: operator split into mcc/mnc, raw battery.
    let r = record(21);
    assert_eq!(r.gsm.as_ref().and_then(|g| g.mcc), Some(284));
    assert_eq!(r.gsm.as_ref().and_then(|g| g.mnc), Some(3));
    assert_eq!(r.io.get("h02_battery"), Some(&IoValue::Int(0x292)));
    // VP1 cells and VP1 fix.
    assert_eq!(record(10).gsm.and_then(|g| g.cell_id), Some(3565));
    let r = record(19);
    assert!(r.fix.expect("fix").lat < 0.0);
    // Frames trackd has nothing to store from still name the device.
    let msgs = decoded(20);
    assert!(msgs[0].records.is_empty());
    assert_eq!(msgs[0].device_id.as_deref(), Some("356327080425330"));
}

#[test]
fn malformed_frames_are_rejected_not_panicking() {
    let mut s = H02Session::new(&SessionConfig::new(Transport::Udp));
    let binary_noise = [&b"$"[..], &[0xff; 31]].concat();
    testing::assert_all_rejected(
        &mut s,
        &[
            b"*HQ",
            b"*HQ,1,NBR,103732,722,310,0,99,1#",
            b"*H,1,V1#",
            b"$12345",
            &binary_noise,
            b"hello",
        ],
    );
}

// Arbitrary bytes are covered for every protocol by `protocol::tests`; these shape the input
// like H02 so that it gets past the first checks.
proptest! {
    #[test]
    fn text_like_input_never_panics(
        kind in "(V1|V4|NBR|LINK|V3|VP1|HTBT|SMS|V19)",
        fields in proptest::collection::vec("[0-9A-Fa-fNSEWVX.\\- ]{0,12}", 0..40),
    ) {
        let mut s = H02Session::new(&SessionConfig::new(Transport::Tcp));
        s.set_now(now());
        let frame = format!("*HQ,123,{kind},{}#", fields.join(","));
        if let Ok(cut) = s.frame(frame.as_bytes()) {
            let _ = s.decode(&frame.as_bytes()[cut.start..cut.end]);
        }
    }

    #[test]
    fn binary_like_input_never_panics(mut buf in proptest::collection::vec(any::<u8>(), 32..50)) {
        buf[0] = b'$';
        let mut s = H02Session::new(&SessionConfig::new(Transport::Tcp));
        if let Ok(cut) = s.frame(&buf) {
            let _ = s.decode(&buf[cut.start..cut.end]);
        }
    }
}
