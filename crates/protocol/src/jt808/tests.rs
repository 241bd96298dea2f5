use super::*;
use crate::message::{Alarm, IoValue};
use crate::testing::{self, assert_verify, records, Capture};
use crate::{time, Transport};
use proptest::prelude::*;

const KEY: &str = "jt808";

/// Captures whose bytes are the frame content *after* unescaping: Traccar's decoder tests
/// feed its decoder behind its frame decoder, and these rows were pasted in that form (a raw
/// 0x7E or 0x7D inside). A device sends them escaped, so the replay escapes them first.
const UNESCAPED_FORM: &[u32] = &[18, 39, 45, 57, 97, 105, 106, 108];

/// Captures whose checksum is wrong (hand-edited in the original suite). Rejected by default,
/// accepted with `strict_checksum = false`. 87 also states a body length of 50 for a
/// 40-byte body.
const WRONG_CHECKSUM: &[u32] = &[33, 87, 108, 109];

fn now() -> Timestamp {
    time::utc(2024, 2, 29, 23, 59, 58).unwrap_or(Timestamp(0))
}

fn config(context: &str, strict: bool) -> SessionConfig {
    let mut c = SessionConfig::new(testing::transport_of(context));
    c.strict_checksum = strict;
    c.model = testing::model_override(context);
    c
}

fn session(context: &str, strict: bool) -> Jt808Session {
    let mut s = Jt808Session::new(&config(context, strict));
    s.set_now(now());
    s
}

/// The bytes as a device puts them on the wire.
fn wire(c: &Capture) -> Vec<u8> {
    if !UNESCAPED_FORM.contains(&c.idx) {
        return c.bytes.clone();
    }
    match c.bytes.as_slice() {
        [frame::FLAG, inner @ .., frame::FLAG] => frame::escape_into_frame(inner),
        _ => panic!("idx {}: not a 0x7E frame", c.idx),
    }
}

fn decode_all(s: &mut Jt808Session, c: &Capture) -> Result<Vec<DeviceMessage>, DecodeError> {
    let what = format!("jt808 idx {}", c.idx);
    let bytes = wire(c);
    // Not `testing::frame_and_decode`: the callers check how decoding fails.
    let frames = if config(&c.context, true).transport == Transport::Udp {
        vec![bytes.as_slice()]
    } else {
        testing::cut_stream(s, &bytes).clean(&what)
    };
    frames.iter().map(|f| s.decode(f)).collect()
}

fn capture(idx: u32) -> Capture {
    testing::capture(KEY, idx)
}

/// Decodes one capture alone, relaxed when its checksum is known to be wrong.
fn decode_capture(idx: u32) -> Vec<DeviceMessage> {
    let c = capture(idx);
    let mut s = session(&c.context, !WRONG_CHECKSUM.contains(&idx));
    decode_all(&mut s, &c).unwrap_or_else(|e| panic!("idx {idx}: {e}"))
}

fn one_record(idx: u32) -> Record {
    let msgs = decode_capture(idx);
    let recs = records(&msgs);
    assert_eq!(recs.len(), 1, "idx {idx}: {recs:?}");
    recs[0].clone()
}

#[test]
fn replay_every_capture() {
    let mut decoded = 0;
    for (group, captures) in testing::groups(KEY) {
        // One connection per group; a new decoder context (model override) is a new session.
        let mut current: Option<(String, Jt808Session)> = None;
        for c in captures {
            let what = format!("jt808 {group} idx {}", c.idx);
            if current
                .as_ref()
                .map(|(ctx, _)| ctx != &c.context)
                .unwrap_or(true)
            {
                current = Some((c.context.clone(), session(&c.context, true)));
            }
            let Some((_, s)) = current.as_mut() else {
                unreachable!()
            };
            let msgs = if WRONG_CHECKSUM.contains(&c.idx) {
                let strict = decode_all(s, &c);
                assert!(
                    matches!(strict, Err(DecodeError::Reject(_))),
                    "{what}: a wrong checksum must be rejected, got {strict:?}"
                );
                decode_all(&mut session(&c.context, false), &c)
            } else {
                decode_all(s, &c)
            };
            let msgs = msgs.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_verify(&c.verify, &msgs, &what);
            decoded += 1;
        }
    }
    assert_eq!(decoded, testing::captures(KEY).len());
}

#[test]
fn wrong_checksums_rejected_by_default_accepted_when_relaxed() {
    for &idx in WRONG_CHECKSUM {
        let c = capture(idx);
        let err = decode_all(&mut session(&c.context, true), &c);
        assert!(
            matches!(&err, Err(DecodeError::Reject(r)) if r.contains("checksum")),
            "idx {idx}: {err:?}"
        );
        let msgs = decode_all(&mut session(&c.context, false), &c)
            .unwrap_or_else(|e| panic!("idx {idx} relaxed: {e}"));
        assert_verify(&c.verify, &msgs, &format!("idx {idx} relaxed"));
    }
    // The others all pass the check.
    for c in testing::captures(KEY) {
        if !WRONG_CHECKSUM.contains(&c.idx) {
            decode_all(&mut session(&c.context, true), &c)
                .unwrap_or_else(|e| panic!("idx {}: {e}", c.idx));
        }
    }
}

#[test]
fn unescaped_captures_do_not_decode_as_sent() {
    // The reason they are escaped before the replay: as pasted, a raw 0x7E splits them, or a
    // raw 0x7D reads as an escape and breaks the checksum or the escape rule.
    for &idx in UNESCAPED_FORM {
        let c = capture(idx);
        let mut s = session(&c.context, true);
        let ok = match s.frame(&c.bytes) {
            Ok(cut) if cut.consumed == c.bytes.len() => s.decode(&c.bytes).is_ok(),
            _ => false,
        };
        assert!(
            !ok,
            "idx {idx} decodes as pasted: drop it from UNESCAPED_FORM"
        );
        let raw = c.bytes.get(1..c.bytes.len() - 1).unwrap_or_default();
        assert!(raw.iter().any(|&b| b == 0x7E || b == 0x7D), "idx {idx}");
    }
}

// ---- expectations -------------------------------------------------------------------------

fn io_of<'a>(msgs: &'a [DeviceMessage], key: &str) -> Option<&'a IoValue> {
    records(msgs).into_iter().find_map(|r| r.io.get(key))
}

fn io_f64(msgs: &[DeviceMessage], key: &str, what: &str) -> f64 {
    io_of(msgs, key)
        .and_then(IoValue::as_f64)
        .unwrap_or_else(|| panic!("{what}: no numeric io {key} in {msgs:?}"))
}

fn io_text(msgs: &[DeviceMessage], key: &str, what: &str) -> String {
    match io_of(msgs, key) {
        Some(IoValue::Text(s)) => s.clone(),
        other => panic!("{what}: io {key} is {other:?}"),
    }
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-6, "{what}: got {a}, expected {b}");
}

#[test]
fn expect_rows() {
    let rows = testing::expectations(KEY);
    assert!(!rows.is_empty());
    for (idx, field, value) in rows {
        let what = format!("idx {idx} {field}={value}");
        let msgs = decode_capture(idx);
        let recs = records(&msgs);
        let num = || {
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{what}: number"))
        };
        match field.as_str() {
            "sat" => {
                let sats = recs.iter().find_map(|r| r.fix.and_then(|f| f.satellites));
                assert_eq!(sats.map(f64::from), Some(num()), "{what}");
            }
            "batteryLevel" => {
                let level = recs.iter().find_map(|r| r.battery_level);
                assert_eq!(level.map(f64::from), Some(num()), "{what}");
            }
            "motion" => {
                let motion = recs.iter().find_map(|r| r.motion);
                assert_eq!(motion, Some(value == "true"), "{what}");
            }
            // Card number and driver ids identify the driver: the state's hardware_key.
            "cardCode" | "driverUniqueId" => {
                let key = recs.iter().find_map(|r| r.hardware_key.clone());
                assert_eq!(key.as_deref(), Some(value.as_str()), "{what}");
            }
            "alarm" => {
                let alarm = match value.as_str() {
                    "removing" => Alarm::Removing,
                    "vibration" => Alarm::Vibration,
                    "door" => Alarm::Door,
                    "sos" => Alarm::Sos,
                    other => panic!("{what}: unmapped alarm {other}"),
                };
                assert!(
                    recs.iter().any(|r| r.alarms.contains(&alarm)),
                    "{what}: {recs:?}"
                );
            }
            // Traccar's names and units onto ours; all these are already in our units.
            "power" => close(io_f64(&msgs, "board_voltage", &what), num(), &what),
            "battery" => close(io_f64(&msgs, "battery_voltage", &what), num(), &what),
            "rpm" => close(io_f64(&msgs, "obd_rpm", &what), num(), &what),
            "fuelUsed" => close(io_f64(&msgs, "fuel_consumption", &what), num(), &what),
            "temp1" => close(io_f64(&msgs, "ext_temp_sensor_1", &what), num(), &what),
            "temp3" => close(io_f64(&msgs, "ext_temp_sensor_3", &what), num(), &what),
            "fuel1" => close(io_f64(&msgs, "lls_level_1", &what), num(), &what),
            "deviceTemp" => close(io_f64(&msgs, "temp_sensor", &what), num(), &what),
            "door" => assert_eq!(
                io_of(&msgs, "door"),
                Some(&IoValue::Bool(value == "true")),
                "{what}"
            ),
            "charge" => assert_eq!(
                io_of(&msgs, "charging"),
                Some(&IoValue::Bool(value == "true")),
                "{what}"
            ),
            "iccid" => assert_eq!(io_text(&msgs, "iccid", &what), value, "{what}"),
            "timezone" => assert_eq!(io_text(&msgs, "timezone", &what), value, "{what}"),
            "dtcs" => assert_eq!(io_text(&msgs, "obd_dtc_codes", &what), value, "{what}"),
            "driver" => assert_eq!(io_text(&msgs, "driver_name", &what), value, "{what}"),
            "result" => {
                assert_eq!(io_text(&msgs, "result", &what), value, "{what}");
                assert!(msgs.iter().any(|m| m
                    .command_replies
                    .contains(&CommandReply::Text(value.clone()))));
            }
            // No Navixy name for these: protocol-specific keys, same units as Traccar's
            // (bar, volts, a count, hex strings).
            "tire1Pressure" => close(io_f64(&msgs, "tire_1_pressure", &what), num(), &what),
            "lock2Battery" => close(io_f64(&msgs, "lock_2_battery", &what), num(), &what),
            "steps" => close(io_f64(&msgs, "steps", &what), num(), &what),
            "alarmLabel" => assert_eq!(io_text(&msgs, "alarm_label", &what), value, "{what}"),
            "tag1Mac" => assert_eq!(io_text(&msgs, "tag_1_mac", &what), value, "{what}"),
            other => panic!("{what}: no mapping for {other}"),
        }
    }
}

// ---- decoded values -----------------------------------------------------------------------

#[test]
fn location_basic_fields() {
    let r = one_record(87);
    let fix = r.fix.expect("fix");
    assert!((fix.lat - 22.514880).abs() < 1e-5);
    assert!((fix.lon - 113.916508).abs() < 1e-5);
    assert_eq!(fix.altitude, Some(71.0));
    assert_eq!(fix.speed, Some(0.0));
    assert_eq!(fix.satellites, Some(11));
    assert!(fix.valid);
    // 2014-07-23 17:20:15 at GMT+8.
    assert_eq!(r.time, time::utc(2014, 7, 23, 9, 20, 15));
    assert_eq!(r.ignition, Some(true));
    assert_eq!(r.io.get("hw_mileage"), Some(&IoValue::Float(0.0)));
    assert_eq!(r.gsm.and_then(|g| g.signal_level), Some(71));
    assert!(!r.buffered);
}

#[test]
fn west_hemisphere_sos_and_mileage() {
    let r = one_record(90);
    let fix = r.fix.expect("fix");
    assert!((fix.lat - 50.871735).abs() < 1e-5);
    assert!((fix.lon + 1.255923).abs() < 1e-5);
    assert_eq!(fix.speed, Some(2.0));
    assert_eq!(r.time, time::utc(2013, 4, 12, 8, 49, 52));
    assert_eq!(r.alarms, vec![Alarm::Sos]);
    assert_eq!(r.io.get("hw_mileage"), Some(&IoValue::Float(1.8)));
}

#[test]
fn batch_upload_is_buffered() {
    let msgs = decode_capture(12);
    let recs = records(&msgs);
    assert_eq!(recs.len(), 6);
    assert!(recs.iter().all(|r| r.buffered && r.fix.is_some()));
    let times: Vec<_> = recs.iter().map(|r| r.time).collect();
    assert_eq!(times[0], time::utc(2025, 11, 12, 7, 45, 45));
    assert_eq!(times[5], time::utc(2025, 11, 12, 7, 46, 32));
    assert_eq!(msgs[0].device_id.as_deref(), Some("865478070102068"));
}

#[test]
fn unpositioned_zero_coordinates_are_no_fix() {
    let r = one_record(1);
    assert!(r.fix.is_none());
    assert_eq!(r.io.get("board_voltage"), Some(&IoValue::Float(11.7)));
}

#[test]
fn jt701_stored_report() {
    let msgs = decode_capture(34);
    let r = &msgs[0].records[0];
    let fix = r.fix.expect("fix");
    assert!((fix.lat - (22.0 + 34.8621 / 60.0)).abs() < 1e-6);
    assert!((fix.lon - (113.0 + 55.0170 / 60.0)).abs() < 1e-6);
    assert_eq!(fix.altitude, Some(20.0));
    assert_eq!(fix.satellites, Some(8));
    assert_eq!(r.time, time::utc(2021, 5, 8, 6, 30, 51));
    assert!(r.buffered);
    assert_eq!(r.io.get("hw_mileage"), Some(&IoValue::Float(10.0)));
    assert_eq!(r.io.get("charging"), Some(&IoValue::Bool(true)));
    assert_eq!(msgs[0].device_id.as_deref(), Some("850011000200"));
}

#[test]
fn device_ids() {
    // 2019 header: 20 BCD digits kept whole, leading zeros included.
    assert_eq!(
        decode_capture(4)[0].device_id.as_deref(),
        Some("00000866496077582164")
    );
    assert_eq!(
        decode_capture(85)[0].device_id.as_deref(),
        Some("007089994489")
    );
    // Binary IMEI in the phone field (Jimi): the 15-digit IMEI with its check digit.
    assert_eq!(
        decode_capture(37)[0].device_id.as_deref(),
        Some("868935060005020")
    );
}

#[test]
fn model_overrides_change_the_mapping() {
    // JC371: 0xE8 type 0x2003 is the battery block; without the model it is a lock status.
    let jc = one_record(105);
    assert_eq!(jc.io.get("battery_voltage"), Some(&IoValue::Float(4.15)));
    let c = capture(105);
    let mut plain = session("", false);
    let msgs = decode_all(&mut plain, &c).expect("decodes");
    assert!(msgs[0].records[0].io.contains_key("lock_status"));
    // MV710G: status bit 16 is the door.
    assert_eq!(one_record(102).io.get("door"), Some(&IoValue::Bool(true)));
}

#[test]
fn obd_extension_after_0x80() {
    let r = one_record(58);
    assert_eq!(r.io.get("obd_rpm"), Some(&IoValue::Int(5000)));
    assert_eq!(r.io.get("obd_coolant_t"), Some(&IoValue::Int(130)));
    assert_eq!(
        r.io.get("obd_vin"),
        Some(&IoValue::Text("123456789ABCDEFGH".into()))
    );
    assert_eq!(
        r.io.get("iccid"),
        Some(&IoValue::Text("89860478102070318608".into()))
    );
}

#[test]
fn fixed_tail_of_older_terminals() {
    let r = one_record(64);
    assert_eq!(r.io.get("battery_voltage"), Some(&IoValue::Float(12.0)));
    assert_eq!(r.gsm.and_then(|g| g.signal_level), Some(77));
}

#[test]
fn environment_samples_are_records_of_their_own() {
    let msgs = decode_capture(112);
    let recs = records(&msgs);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1].time, time::utc(2024, 1, 11, 19, 45, 21));
    assert_eq!(recs[2].io.get("air_pressure"), Some(&IoValue::Int(1022)));
}

// ---- answers ------------------------------------------------------------------------------

fn hex(s: &str) -> Vec<u8> {
    testing::hex(s)
}

#[test]
fn replies_and_platform_serial() {
    // One connection: register, authenticate, report; the platform's serial counts 0, 1, 2.
    let mut s = session("", true);
    let reg = s.decode(&capture(84).bytes).expect("register");
    assert_eq!(
        reg.reply,
        Some(hex(
            "7e8100000f0135112211220000000500303133353131323231313232b87e"
        ))
    );
    let auth = s.decode(&capture(86).bytes).expect("auth");
    assert_eq!(
        auth.reply,
        Some(hex("7e8001000501351122112200010006010200b47e"))
    );
    let mut relaxed = session("", false);
    relaxed.serial = 2;
    let loc = relaxed.decode(&capture(87).bytes).expect("location");
    assert_eq!(
        loc.reply,
        Some(hex("7e8001000501351122112200020007020000b77e"))
    );
}

#[test]
fn heartbeat_reply() {
    let mut s = session("", true);
    let m = s.decode(&capture(92).bytes).expect("heartbeat");
    assert_eq!(
        m.reply,
        Some(hex("7e80010005043048325465000000b70002004e7e"))
    );
    assert!(m.records.is_empty());
    assert_eq!(m.device_id.as_deref(), Some("043048325465"));
}

#[test]
fn registration_2019_answered_in_2019_form() {
    let mut s = session("", true);
    let m = s.decode(&capture(4).bytes).expect("register");
    assert_eq!(
        m.reply,
        Some(hex(
            "7e81004017010000086649607758216400005218003030303030383636343936303737353832313634bf7e"
        ))
    );
    // Commands follow the same form.
    assert_eq!(
        s.encode(&Command::EngineStop),
        Ok(hex("7e850040010100000866496077582164000101e87e"))
    );
}

#[test]
fn jt701_reply_and_time_request() {
    let mut s = session("", true);
    let m = s.decode(&capture(34).bytes).expect("jt701");
    assert_eq!(m.reply, Some(hex("7e4401000385001100020001550200867e")));
    let t = s.decode(&capture(52).bytes).expect("BASE,2");
    assert_eq!(
        t.reply,
        Some(b"(794104004140,1,001,BASE,2,20240229235958)".to_vec())
    );
    assert_eq!(t.device_id.as_deref(), Some("794104004140"));
}

#[test]
fn time_requests_before_the_time_is_given_get_no_answer() {
    let mut s = Jt808Session::new(&config("", true));
    let t = s.decode(&capture(52).bytes).expect("BASE,2");
    assert_eq!(t.reply, None);
    assert_eq!(t.device_id.as_deref(), Some("794104004140"));
    let mut c = hex("010900000135112211220009");
    c.push(checksum::xor(&c));
    let m = s.decode(&frame::escape_into_frame(&c)).expect("time sync");
    assert_eq!(m.reply, None);
    assert_eq!(m.device_id.as_deref(), Some("013511221122"));
}

#[test]
fn time_sync_reply() {
    // 0x0109 from terminal 013511221122, serial 9, empty body.
    let mut c = hex("010900000135112211220009");
    c.push(checksum::xor(&c));
    let f = frame::escape_into_frame(&c);
    let m = session("", true).decode(&f).expect("time sync");
    assert_eq!(
        m.reply,
        Some(hex("7e81090008013511221122000007e8021d173b3a00527e"))
    );
}

#[test]
fn terminal_general_response_is_a_command_reply() {
    // 0x0001 answering our 0x8300 number 7 with success.
    let mut c = hex("00010005013511221122000a0007830000");
    c.push(checksum::xor(&c));
    let m = session("", true)
        .decode(&frame::escape_into_frame(&c))
        .expect("0x0001");
    assert_eq!(m.reply, None);
    assert_eq!(
        m.command_replies,
        vec![CommandReply::Text("0x8300 #7: success".into())]
    );
}

#[test]
fn subpackaged_message_is_reassembled() {
    // A 0x0200 body split in two packets.
    let body = {
        let c = capture(87);
        let content = frame::unescape(&c.bytes[1..c.bytes.len() - 1]).expect("content");
        content[12..content.len() - 1].to_vec()
    };
    let (a, b) = body.split_at(20);
    let packet = |part: &[u8], index: u16, serial: u16| {
        let mut c = vec![0x02, 0x00];
        c.extend_from_slice(&(0x2000u16 | part.len() as u16).to_be_bytes());
        c.extend_from_slice(&hex("013511221122"));
        c.extend_from_slice(&serial.to_be_bytes());
        c.extend_from_slice(&2u16.to_be_bytes());
        c.extend_from_slice(&index.to_be_bytes());
        c.extend_from_slice(part);
        c.push(checksum::xor(&c));
        frame::escape_into_frame(&c)
    };
    let mut s = session("", true);
    let first = s.decode(&packet(a, 1, 40)).expect("first");
    assert!(first.records.is_empty());
    assert!(first.reply.is_some());
    let second = s.decode(&packet(b, 2, 41)).expect("second");
    assert_eq!(second.records.len(), 1);
    assert!(second.records[0].fix.is_some());
}

// ---- framer -------------------------------------------------------------------------------

#[test]
fn framer_cases() {
    let s = session("", true);
    let f = capture(92).bytes;
    assert_eq!(s.frame(&f), Ok(Cut::whole(f.len())));
    // Partial frame: wait.
    assert_eq!(s.frame(&f[..5]), Err(FrameError::Incomplete));
    assert_eq!(s.frame(&[]), Err(FrameError::Incomplete));
    // Two frames in one read: the first only.
    let two = [f.clone(), f.clone()].concat();
    assert_eq!(s.frame(&two), Ok(Cut::whole(f.len())));
    // Noise before the flag is skipped up to it.
    let noisy = [b"xyz".to_vec(), f.clone()].concat();
    assert!(matches!(
        s.frame(&noisy),
        Err(FrameError::Reject { skip: 3, .. })
    ));
    // A closing flag whose start was lost, then the next frame.
    assert!(matches!(
        s.frame(&[0x7E, 0x7E, 0x00]),
        Err(FrameError::Reject { skip: 1, .. })
    ));
    // Text frames of JT701.
    let t = capture(52).bytes;
    assert_eq!(s.frame(&t), Ok(Cut::whole(t.len())));
    assert_eq!(s.frame(&t[..10]), Err(FrameError::Incomplete));
    // No end flag within the largest frame: drop it all and resynchronise.
    let mut long = vec![0x7E];
    long.extend(std::iter::repeat_n(0x11, 5000));
    assert!(matches!(
        s.frame(&long),
        Err(FrameError::Reject { skip: 5001, .. })
    ));
}

/// Found by timing the framer on adversarial streams (docs/fuzzing.md): it searched the whole
/// buffer for the `)` of a text frame, so 64 KiB of `(` took over a second to skip, one byte
/// per pass. Text frames are at most 1 KiB: the search stops there, and the framer resumes
/// where a text frame could still end in time, or at a flag.
#[test]
fn text_frames_are_looked_for_within_a_kilobyte_only() {
    let s = session("", true);
    let mut far = b"(".to_vec();
    far.resize(2000, b'1');
    far.push(b')');
    assert!(matches!(
        s.frame(&far),
        Err(FrameError::Reject { skip: 2001, .. })
    ));
    let mut flag_inside = far.clone();
    flag_inside[10] = 0x7E;
    assert!(matches!(
        s.frame(&flag_inside),
        Err(FrameError::Reject { skip: 10, .. })
    ));
    let mut late_start = far.clone();
    late_start[1500] = b'(';
    assert!(matches!(
        s.frame(&late_start),
        Err(FrameError::Reject { skip: 1500, .. })
    ));
    let mut near = b"(".to_vec();
    near.resize(1000, b'1');
    near.push(b')');
    assert_eq!(s.frame(&near), Ok(Cut::whole(1001)));
    assert_eq!(s.frame(&near[..1000]), Err(FrameError::Incomplete));

    let starts = vec![b'('; 8 * 1024];
    let cuts = testing::cut_stream(&s, &starts);
    assert!(cuts.frames.is_empty() && cuts.fatal.is_none());
    assert!(cuts.rest.len() < 1024, "{} bytes left", cuts.rest.len());
}

#[test]
fn frames_tsv_rows() {
    // The vectors hold no jt808.frames.tsv (nor jt808.commands.tsv) yet; when one appears,
    // its rows are checked here.
    if !testing::vectors_dir().join("jt808.frames.tsv").exists() {
        return;
    }
    testing::assert_frames_file(KEY, &session("", true));
}

#[test]
fn every_prefix_of_a_capture_waits_for_more() {
    let s = session("", true);
    for c in testing::captures(KEY) {
        let bytes = wire(&c);
        testing::assert_waits_for_every_prefix(&s, &bytes, &format!("idx {}", c.idx));
        assert_eq!(
            s.frame(&bytes),
            Ok(Cut::whole(bytes.len())),
            "idx {}",
            c.idx
        );
    }
}

#[test]
fn decode_rejects_malformed_frames() {
    testing::assert_all_rejected(
        &mut session("", false),
        &[
            b"",
            &[0x7E],
            &[0x7E, 0x7E],
            &[0x7E, 0x7D, 0x03, 0x7E],
            &[0x7E, 0x01, 0x02, 0x7D],
            &[0x7E, 0x00, 0x02, 0x00, 0x00, 0x7E],
        ],
    );
}

// ---- commands -----------------------------------------------------------------------------

fn identified() -> Jt808Session {
    let mut s = session("", true);
    s.decode(&capture(86).bytes).expect("auth");
    s.serial = 0;
    s
}

#[test]
fn command_encoding() {
    let mut s = identified();
    assert_eq!(
        s.encode(&Command::Text("STATUS#".into())),
        Ok(hex("7e8300000801351122112200000153544154555323897e"))
    );
    assert_eq!(
        s.encode(&Command::EngineResume),
        Ok(hex("7e85000001013511221122000100b17e"))
    );
    let mut s = identified();
    assert_eq!(
        s.encode(&Command::EngineStop),
        Ok(hex("7e85000001013511221122000001b17e"))
    );
    let mut s = identified();
    assert_eq!(
        s.encode(&Command::PositionSingle),
        Ok(hex("7e820100000135112211220000b77e"))
    );
    let mut s = identified();
    assert_eq!(
        s.encode(&Command::PositionPeriodic { interval_secs: 30 }),
        Ok(hex("7e8103000a01351122112200000100000029040000001e8e7e"))
    );
    // 0x7E and 0x7D in the text are escaped.
    let mut s = identified();
    assert_eq!(
        s.encode(&Command::Text("a~b}c".into())),
        Ok(hex("7e83000006013511221122000001617d02627d0163d37e"))
    );
    // Raw bytes go out untouched.
    assert_eq!(s.encode(&Command::Bytes(vec![1, 2, 3])), Ok(vec![1, 2, 3]));
    assert!(matches!(
        s.encode(&Command::AlarmArm),
        Err(EncodeError::Unsupported(_))
    ));
    assert!(matches!(
        s.encode(&Command::SetOutput { index: 1, on: true }),
        Err(EncodeError::Unsupported(_))
    ));
    assert!(matches!(
        s.encode(&Command::Text("\u{4f60}\u{597d}".into())),
        Err(EncodeError::Invalid(_))
    ));
    assert!(matches!(
        s.encode(&Command::Text("x".repeat(2000))),
        Err(EncodeError::Invalid(_))
    ));
    // Before any frame the terminal's phone number is unknown.
    assert!(matches!(
        session("", true).encode(&Command::EngineStop),
        Err(EncodeError::Invalid(_))
    ));
}

// ---- robustness ---------------------------------------------------------------------------

const IDS: &[u16] = &[
    0x0001, 0x0002, 0x0003, 0x0005, 0x0100, 0x0102, 0x0104, 0x0107, 0x0109, 0x0200, 0x0201, 0x0210,
    0x0500, 0x0506, 0x0701, 0x0702, 0x0704, 0x0800, 0x0801, 0x0900, 0x0901, 0x1007, 0x1300, 0x2070,
    0x5501, 0x5502, 0x6006, 0x8888,
];

const MODELS: &[&str] = &[
    "", "JC371", "GL100", "MV710G", "C5L", "G-360P", "DT800", "VL300",
];

/// A frame with a valid checksum around arbitrary bytes, so the body decoders get exercised.
fn valid_frame(id: u16, attr: u16, rest: &[u8]) -> Vec<u8> {
    let mut c = id.to_be_bytes().to_vec();
    c.extend_from_slice(&attr.to_be_bytes());
    c.extend_from_slice(rest);
    c.push(checksum::xor(&c));
    frame::escape_into_frame(&c)
}

// Arbitrary bytes are covered for every protocol (with no model) by `protocol::tests`.
proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_any_model(buf in proptest::collection::vec(any::<u8>(), 0..600), m in 0..MODELS.len()) {
        let mut s = session(&format!("setModelOverride({})", MODELS[m]), false);
        let _ = s.decode(&buf);
    }

    #[test]
    fn arbitrary_bodies_never_panic(
        i in 0..IDS.len(),
        attr in any::<u16>(),
        rest in proptest::collection::vec(any::<u8>(), 0..400),
        m in 0..MODELS.len(),
    ) {
        let mut s = session(&format!("setModelOverride({})", MODELS[m]), true);
        let _ = s.decode(&valid_frame(IDS[i], attr & !0x1C00, &rest));
        let _ = s.decode(&valid_frame(IDS[i], attr, &rest));
        let _ = s.encode(&Command::Text("x".into()));
    }

    #[test]
    fn mutated_captures_never_panic(
        which in 0..82usize,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let all = testing::captures(KEY);
        let c = &all[which % all.len()];
        let mut content = match c.bytes.as_slice() {
            [0x7E, inner @ .., 0x7E] => inner.to_vec(),
            other => other.to_vec(),
        };
        for (pos, v) in flips {
            if !content.is_empty() {
                let n = content.len();
                content[pos % n] = v;
            }
        }
        content.truncate(cut % (content.len() + 1));
        if let Some((_, data)) = content.split_last() {
            let sum = checksum::xor(data);
            if let Some(last) = content.last_mut() {
                *last = sum;
            }
        }
        let mut s = session(&c.context, true);
        let _ = s.decode(&frame::escape_into_frame(&content));
    }
}
