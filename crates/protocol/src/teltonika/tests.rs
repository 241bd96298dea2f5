//! The Teltonika captures of `shared/vectors/` replayed, plus framing, replies, IO mapping,
//! commands and robustness.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::message::{Alarm, Timestamp};
use crate::testing::{self, assert_verify, hex};

const KEY: &str = "teltonika";

/// Captures whose CRC was edited by hand in Traccar's suite (shared/vectors/README.md; 14 and
/// 20 are not in the sample).
const BAD_CHECKSUM: &[u32] = &[14, 20, 22, 28, 33, 36, 40, 49, 50];
/// Of those, the ones whose data length field was edited too (28 says 0 bytes, 33 and 36 a
/// few more than they carry, 40 far more): no framer can cut them, so they are decoded whole.
const BAD_LENGTH: &[u32] = &[28, 33, 36, 40];

fn config(transport: Transport, strict: bool) -> SessionConfig {
    let mut cfg = SessionConfig::new(transport);
    cfg.strict_checksum = strict;
    cfg
}

/// Honours `decoder_context`: `TeltonikaProtocolDecoder(null,<connectionless>)`,
/// `setModelOverride(M)` -> `SessionConfig::model`, `setExtended(true)` -> `with_extended`.
fn session_for(context: &str, strict: bool) -> TeltonikaSession {
    let udp = context.contains("(null,true)");
    let mut cfg = config(if udp { Transport::Udp } else { Transport::Tcp }, strict);
    cfg.model = testing::model_override(context);
    TeltonikaSession::new(&cfg).with_extended(context.contains("setExtended(true)"))
}

/// Cuts every frame out of a TCP capture and decodes each; a UDP capture is one datagram.
fn frame_and_decode(s: &mut TeltonikaSession, bytes: &[u8], what: &str) -> Vec<DeviceMessage> {
    let transport = s.transport;
    testing::frame_and_decode(s, transport, bytes, what)
}

/// Replays every group on a fresh session, in order. With `strict`, the hand-edited captures
/// must be rejected; without it, they decode (whole) and must verify like the rest.
/// Returns the decoded messages by capture idx.
fn replay(strict: bool) -> BTreeMap<u32, Vec<DeviceMessage>> {
    let mut out = BTreeMap::new();
    let mut rejected = 0;
    for (method, caps) in testing::groups(KEY) {
        let mut context = caps[0].context.clone();
        let mut s = session_for(&context, strict);
        for c in caps {
            // A group may change the decoder's settings midway (idx 45, 46): same connection.
            if c.context != context {
                let imei = s.imei.take();
                s = session_for(&c.context, strict);
                s.imei = imei;
                context = c.context.clone();
            }
            let what = format!("{method} idx {} (strict {strict})", c.idx);
            if BAD_CHECKSUM.contains(&c.idx) {
                let res = s.decode(&c.bytes);
                if strict {
                    assert!(
                        matches!(res, Err(DecodeError::Reject(_))),
                        "{what}: a wrong checksum must be rejected, got {res:?}"
                    );
                    rejected += 1;
                    continue;
                }
                let msg = res.unwrap_or_else(|e| panic!("{what}: relaxed decode: {e}"));
                assert_verify(&c.verify, std::slice::from_ref(&msg), &what);
                out.insert(c.idx, vec![msg]);
                continue;
            }
            let msgs = frame_and_decode(&mut s, &c.bytes, &what);
            assert_verify(&c.verify, &msgs, &what);
            out.insert(c.idx, msgs);
        }
    }
    // No capture may be skipped silently.
    assert_eq!(out.len() + rejected, testing::captures(KEY).len());
    out
}

fn capture(idx: u32) -> Vec<u8> {
    testing::capture(KEY, idx).bytes
}

fn tcp() -> TeltonikaSession {
    TeltonikaSession::new(&SessionConfig::new(Transport::Tcp))
}

fn decode_one(idx: u32) -> DeviceMessage {
    let mut s = tcp();
    s.decode(&capture(idx))
        .unwrap_or_else(|e| panic!("idx {idx}: {e}"))
}

/// Wraps an AVL body (codec .. count) into a TCP packet with its length and CRC.
fn tcp_packet(body: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&u32::from(crc16_arc(body)).to_be_bytes());
    out
}

fn float(rec: &Record, key: &str) -> f64 {
    rec.io
        .get(key)
        .and_then(IoValue::as_f64)
        .unwrap_or_else(|| panic!("no {key} in {:?}", rec.io))
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn replay_captures_strict() {
    let decoded = replay(true);
    assert!(decoded.len() >= 28, "{} captures decoded", decoded.len());
}

#[test]
fn replay_captures_relaxed() {
    let decoded = replay(false);
    assert_eq!(decoded.len(), testing::captures(KEY).len());
}

#[test]
fn wrong_checksums_rejected_then_accepted_when_relaxed() {
    let caps: Vec<_> = testing::captures(KEY)
        .into_iter()
        .filter(|c| BAD_CHECKSUM.contains(&c.idx))
        .collect();
    assert_eq!(
        caps.len(),
        7,
        "22, 28, 33, 36, 40, 49 and 50 are in the sample"
    );
    for c in caps {
        let what = format!("idx {}", c.idx);
        let mut strict = tcp();
        let res = strict.decode(&c.bytes);
        assert!(
            matches!(res, Err(DecodeError::Reject(_))),
            "{what}: {res:?}"
        );
        if BAD_LENGTH.contains(&c.idx) {
            // The framer trusts the length field: it waits for bytes that never come, skips
            // a header that cannot be one, or cuts a frame the decoder then rejects.
            match strict.frame(&c.bytes) {
                Err(FrameError::Incomplete | FrameError::Reject { .. }) => {}
                Ok(cut) => assert!(strict.decode(&c.bytes[cut.start..cut.end]).is_err()),
                Err(e) => panic!("{what}: frame: {e}"),
            }
        } else {
            let cut = strict
                .frame(&c.bytes)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(cut, Cut::whole(c.bytes.len()), "{what}");
            assert!(matches!(
                strict.decode(&c.bytes),
                Err(DecodeError::Reject(_))
            ));
        }
        let mut relaxed = TeltonikaSession::new(&config(Transport::Tcp, false));
        let msg = relaxed
            .decode(&c.bytes)
            .unwrap_or_else(|e| panic!("{what}: relaxed: {e}"));
        assert_verify(&c.verify, &[msg], &what);
    }
}

/// Traccar's attribute names and units -> ours.
fn check_expectation(idx: u32, field: &str, value: &str, records: &[&Record]) {
    let num = || -> f64 {
        value
            .parse()
            .unwrap_or_else(|_| panic!("idx {idx}: {field}={value}"))
    };
    let any = |pred: &dyn Fn(&Record) -> bool| records.iter().any(|r| pred(r));
    let ok = match field {
        // BLE tag battery, mV -> `ble_tag_N_battery` in volts.
        f if f.starts_with("tag") && f.ends_with("Battery") => {
            let n = &f[3..f.len() - 7];
            let key = format!("ble_tag_{n}_battery");
            any(&|r| {
                r.io.get(key.as_str())
                    .and_then(IoValue::as_f64)
                    .is_some_and(|v| close(v, num() / 1000.0, 1e-9))
            })
        }
        "latitude" | "longitude" => {
            any(&|r| testing::fix_expectation(r, field, value) == Some(true))
        }
        // knots -> km/h
        "speed" => any(&|r| {
            r.fix
                .and_then(|f| f.speed)
                .is_some_and(|s| close(s, num() * 1.852, 0.01))
        }),
        "ignition" => any(&|r| r.ignition == Some(value == "true")),
        "motion" => any(&|r| r.motion == Some(value == "true")),
        "power" => any(&|r| r.io.get("board_voltage").and_then(IoValue::as_f64) == Some(num())),
        "battery" => any(&|r| r.io.get("battery_voltage").and_then(IoValue::as_f64) == Some(num())),
        "batteryLevel" => any(&|r| r.battery_level.map(f64::from) == Some(num())),
        // metres -> km
        "odometer" => any(&|r| {
            r.io.get("hw_mileage")
                .and_then(IoValue::as_f64)
                .is_some_and(|v| close(v, num() / 1000.0, 1e-9))
        }),
        "driverUniqueId" => any(&|r| r.hardware_key.as_deref() == Some(value)),
        "result" => any(&|r| r.io.get("command_result") == Some(&IoValue::Text(value.into()))),
        other => panic!("idx {idx}: no mapping for expectation {other}={value}"),
    };
    assert!(ok, "idx {idx}: expected {field}={value} in {records:?}");
}

#[test]
fn expectations_hold() {
    let decoded = replay(false);
    let rows = testing::expectations(KEY);
    assert!(!rows.is_empty());
    for (idx, field, value) in rows {
        let msgs = decoded
            .get(&idx)
            .unwrap_or_else(|| panic!("idx {idx} not decoded"));
        check_expectation(idx, &field, &value, &testing::records(msgs));
    }
}

#[test]
fn frames_file() {
    testing::assert_frames_file(KEY, &tcp());
}

#[test]
fn commands_file() {
    let rows = testing::commands(KEY);
    assert!(!rows.is_empty());
    for (kind, attributes, expected, source) in rows {
        assert_eq!(kind, "custom", "{source}");
        let data = attributes
            .strip_prefix("data=")
            .unwrap_or_else(|| panic!("{source}: {attributes}"));
        // Traccar guesses hex from the text; our API says which it is.
        let command = match data.strip_suffix(" (hex payload)") {
            Some(h) => Command::Bytes(hex(h)),
            None => Command::Text(data.to_owned()),
        };
        let out = tcp()
            .encode(&command)
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(out, expected, "{source}");
    }
}

#[test]
fn login_is_answered_with_01() {
    let mut s = tcp();
    let msg = s.decode(&capture(0)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(msg.device_id.as_deref(), Some("123456789012345"));
    assert_eq!(msg.reply, Some(vec![0x01]));
    assert!(msg.records.is_empty());
    assert_eq!(s.device_id(), Some("123456789012345"));
    // Data after it relies on the session's identity.
    let data = s.decode(&capture(1)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data.device_id, None);
    assert_eq!(s.device_id(), Some("123456789012345"));
}

#[test]
fn data_is_acknowledged_with_the_record_count() {
    assert_eq!(decode_one(1).reply, Some(vec![0, 0, 0, 2]));
    assert_eq!(decode_one(27).reply, Some(vec![0, 0, 0, 8]));
    assert_eq!(decode_one(21).reply, Some(vec![0, 0, 0, 1])); // codec 16
    assert_eq!(decode_one(37).reply, Some(vec![0, 0, 0, 2])); // codec 7
}

#[test]
fn data_before_login_still_decodes() {
    let msg = decode_one(18);
    assert_eq!(msg.device_id, None);
    assert_eq!(msg.records.len(), 1);
}

#[test]
fn ping_and_command_answers_get_no_reply() {
    let ping = decode_one(43);
    assert_eq!(ping, DeviceMessage::default());
    for idx in [15, 16, 30, 39] {
        let msg = decode_one(idx);
        assert_eq!(msg.reply, None, "idx {idx}");
        assert_eq!(msg.command_replies.len(), 1, "idx {idx}");
    }
}

#[test]
fn udp_datagram_is_answered_with_packet_ids() {
    // Teltonika's own UDP example: packet id CAFE, AVL packet id 05, one codec 8 record.
    let datagram = hex(concat!(
        "003dcafe0105000f333532303933303836343033363535",
        "08010000016b4f815b30010000000000000000000000000000000103021503010101425dbc000001"
    ));
    let mut s = TeltonikaSession::new(&SessionConfig::new(Transport::Udp));
    let msg = s.decode(&datagram).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(msg.device_id.as_deref(), Some("352093086403655"));
    assert_eq!(msg.reply, Some(hex("0005cafe010501")));
    assert_eq!(msg.records.len(), 1);
    let rec = &msg.records[0];
    assert_eq!(rec.time, Some(Timestamp(0x016b_4f81_5b30)));
    assert!(rec.fix.is_none(), "0,0 is no position");
    assert_eq!(rec.gsm.as_ref().and_then(|g| g.signal_level), Some(60));
    assert_eq!(rec.inputs, Some(1));
    assert_eq!(float(rec, "board_voltage"), 23.996);
    // Priority 1 is "high", not panic.
    assert!(rec.alarms.is_empty());
}

#[test]
fn udp_length_is_checked_when_strict() {
    let mut datagram = hex(concat!(
        "003dcafe0105000f333532303933303836343033363535",
        "08010000016b4f815b30010000000000000000000000000000000103021503010101425dbc000001"
    ));
    datagram.push(0);
    let mut s = TeltonikaSession::new(&SessionConfig::new(Transport::Udp));
    assert!(matches!(s.decode(&datagram), Err(DecodeError::Reject(_))));
    let mut relaxed = TeltonikaSession::new(&config(Transport::Udp, false));
    assert!(relaxed.decode(&datagram).is_ok());
}

#[test]
fn codec_8_extended_fields() {
    let msg = decode_one(1);
    let rec = &msg.records[0];
    let fix = rec.fix.unwrap_or_else(|| panic!("fix"));
    assert!(close(fix.lat, 41.4349316, 1e-7) && close(fix.lon, 2.2190583, 1e-7));
    assert_eq!(fix.satellites, Some(8));
    assert_eq!(fix.hdop, Some(1.2));
    assert_eq!(fix.altitude, Some(24.0));
    assert_eq!(fix.course, Some(119.0));
    assert!(fix.valid);
    assert_eq!(rec.time, Some(Timestamp(0x0197_69de_9f98)));
    assert_eq!(rec.ignition, Some(true));
    assert_eq!(rec.motion, Some(false));
    assert_eq!(rec.gsm.as_ref().and_then(|g| g.signal_level), Some(100));
    assert_eq!(
        rec.gsm.as_ref().map(|g| (g.mcc, g.mnc)),
        Some((Some(214), Some(3)))
    );
    assert_eq!(float(rec, "board_voltage"), 14.548);
    assert_eq!(float(rec, "hw_mileage"), 61.383);
    assert_eq!(rec.outputs, Some(0b10));
    // A variable-length element nobody maps stays raw.
    assert!(matches!(msg.records[1].io.get("io_11317"), Some(IoValue::Bytes(b)) if b.len() == 112));

    let obd = decode_one(12);
    let rec = &obd.records[0];
    assert_eq!(
        rec.io.get("obd_vin"),
        Some(&IoValue::Text("WV1ZZZ2EZ86015388".into()))
    );
    assert_eq!(
        rec.io.get("obd_dtc_codes"),
        Some(&IoValue::Text(
            "P0299,P0675,P0674,P0672,P0671,P0471,P2BAC".into()
        ))
    );
    assert_eq!(rec.io.get("obd_rpm"), Some(&IoValue::Int(1439)));
}

#[test]
fn event_alarms() {
    let msg = decode_one(7);
    assert_eq!(msg.records[0].alarms, vec![Alarm::Accident]);
    assert_eq!(msg.records[2].alarms, vec![Alarm::PowerCut]);
    assert_eq!(msg.records[0].battery_level, Some(87));
}

#[test]
fn codec_16_and_gh3000() {
    let c16 = decode_one(21);
    assert_eq!(
        c16.records[0].io.get("generation_type"),
        Some(&IoValue::Int(7))
    );
    let gh = decode_one(37);
    let rec = &gh.records[0];
    let fix = rec.fix.unwrap_or_else(|| panic!("fix"));
    assert!(close(fix.lat, 44.4401893, 1e-6) && close(fix.lon, 26.0931263, 1e-6));
    assert_eq!(fix.satellites, Some(5));
    // 2007-01-01 epoch.
    assert_eq!(rec.time, Some(Timestamp::from_secs(1_375_309_835)));
    let nofix = decode_one(31);
    assert!(nofix.records[0].fix.is_none());
    assert_eq!(nofix.records[0].motion, Some(true));
}

#[test]
fn command_responses() {
    let c13 = decode_one(15);
    assert_eq!(
        c13.command_replies,
        vec![CommandReply::Text("getinfo".into())]
    );
    // 8-byte millisecond timestamp: 2019-07-19.
    assert_eq!(c13.records[0].time, Some(Timestamp(0x016c_0a81_c320)));

    let axles = decode_one(16);
    let rec = &axles.records[0];
    assert_eq!(float(rec, "axle_load_1"), 6.4);
    assert_eq!(float(rec, "axle_load_2"), 4.2);
    assert_eq!(float(rec, "load_truck"), 1.3);
    assert_eq!(float(rec, "total_truck"), 10.7);

    let at = decode_one(30);
    assert!(matches!(
        &at.command_replies[..],
        [CommandReply::Text(t)] if t.starts_with("AT$MSGSND=4,") && t.ends_with('"')
    ));
}

#[test]
fn extended_group_is_found_without_the_flag() {
    for idx in [45, 46] {
        let mut flagged =
            TeltonikaSession::new(&SessionConfig::new(Transport::Tcp)).with_extended(true);
        let with = flagged
            .decode(&capture(idx))
            .unwrap_or_else(|e| panic!("{e}"));
        let without = decode_one(idx);
        assert_eq!(with, without, "idx {idx}");
        assert_eq!(with.records.len(), 11);
        assert_eq!(with.reply, Some(vec![0, 0, 0, 11]));
    }
    // The flag is taken at its word: a plain packet does not fit it.
    let mut flagged =
        TeltonikaSession::new(&SessionConfig::new(Transport::Tcp)).with_extended(true);
    assert!(flagged.decode(&capture(18)).is_err());
}

#[test]
fn hand_built_codec_8_record() {
    // One record: priority 2 (panic), then 1-byte elements ignition=1, DIN1=1, DOUT1=1,
    // LLS temperature 1 = -5; 2-byte LLS level 1 = 400, CAN coolant = -12.5 °C;
    // 4-byte Dallas 1 = 21.5 °C, engine hours 6000 min, CAN mileage 123456 m;
    // 8-byte iButton.
    let mut body = vec![0x08, 0x01];
    body.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
    body.push(2);
    body.extend_from_slice(&253_000_000i32.to_be_bytes()); // lon 25.3
    body.extend_from_slice(&(-546_000_000i32).to_be_bytes()); // lat -54.6
    body.extend_from_slice(&100i16.to_be_bytes());
    body.extend_from_slice(&90u16.to_be_bytes());
    body.push(9);
    body.extend_from_slice(&50u16.to_be_bytes());
    body.extend_from_slice(&[0, 11]); // event id, total
    body.extend_from_slice(&[4, 239, 1, 1, 1, 179, 1, 202, 0xFB]);
    body.extend_from_slice(&[2, 201, 0x01, 0x90, 115, 0xFF, 0x83]);
    body.extend_from_slice(&[
        3, 72, 0, 0, 0, 215, 103, 0, 0, 0x17, 0x70, 87, 0, 1, 0xE2, 0x40,
    ]);
    body.extend_from_slice(&[1, 78, 1, 2, 3, 4, 5, 6, 7, 8]);
    body.push(1);
    let msg = tcp()
        .decode(&tcp_packet(&body))
        .unwrap_or_else(|e| panic!("{e}"));
    let rec = &msg.records[0];
    assert_eq!(rec.alarms, vec![Alarm::Sos]);
    let fix = rec.fix.unwrap_or_else(|| panic!("fix"));
    assert_eq!((fix.lat, fix.lon, fix.speed), (-54.6, 25.3, Some(50.0)));
    assert_eq!(rec.ignition, Some(true));
    assert_eq!(rec.inputs, Some(1));
    assert_eq!(rec.outputs, Some(1));
    assert_eq!(float(rec, "lls_temperature_1"), -5.0);
    assert_eq!(rec.io.get("lls_level_1"), Some(&IoValue::Int(400)));
    assert_eq!(float(rec, "can_coolant_t"), -12.5);
    assert_eq!(float(rec, "ext_temp_sensor_1"), 21.5);
    assert_eq!(float(rec, "can_engine_hours"), 100.0);
    assert_eq!(float(rec, "can_mileage"), 123.456);
    assert_eq!(rec.hardware_key.as_deref(), Some("0807060504030201"));
    assert_eq!(msg.reply, Some(vec![0, 0, 0, 1]));
}

#[test]
fn corrupted_packets_are_rejected() {
    let mut bytes = capture(1);
    bytes[40] ^= 0x01;
    assert!(matches!(tcp().decode(&bytes), Err(DecodeError::Reject(_))));
    let login = hex("000f3132333435363738393031323334");
    assert!(matches!(tcp().decode(&login), Err(DecodeError::Reject(_))));
    assert!(matches!(tcp().decode(&[0x00]), Err(DecodeError::Reject(_))));
    // A well-formed packet of an unknown codec.
    let odd = tcp_packet(&[0x42, 0x00, 0x00]);
    assert!(matches!(tcp().decode(&odd), Err(DecodeError::Reject(_))));
}

#[test]
fn framer_waits_skips_and_gives_up() {
    let s = tcp();
    let packet = capture(18);
    testing::assert_waits_for_every_prefix(&s, &packet, "idx 18");
    let mut two = packet.clone();
    two.extend_from_slice(&packet);
    assert_eq!(s.frame(&two), Ok(Cut::whole(packet.len())));
    let login = capture(0);
    assert_eq!(s.frame(&login[..5]), Err(FrameError::Incomplete));
    assert!(matches!(
        s.frame(&hex("000f31320a")),
        Err(FrameError::Reject { skip: 1, .. })
    ));
    assert!(matches!(
        s.frame(&hex("0000000100000000")),
        Err(FrameError::Reject { skip: 1, .. })
    ));
    assert!(matches!(
        s.frame(&hex("0000000000100000")),
        Err(FrameError::Fatal(_))
    ));
    assert!(matches!(
        s.frame(&hex("0000000000000001")),
        Err(FrameError::Reject { skip: 1, .. })
    ));
    assert_eq!(s.frame(&[]), Err(FrameError::Incomplete));
    assert_eq!(s.frame(&[0xFF]), Ok(Cut::whole(1)));
}

/// A codec 12 camera message for `tcp_packet`.
fn camera(payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0x0C, 0x01, 0x0D];
    body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    body.extend_from_slice(payload);
    body.push(0x01);
    tcp_packet(&body)
}

#[test]
fn photo_is_fetched_chunk_by_chunk() {
    let mut s = tcp();
    s.decode(&capture(47)).unwrap_or_else(|e| panic!("{e}"));
    // The camera announces photo 0x598493ed of 3000 bytes.
    let mut start = vec![0x01];
    start.extend_from_slice(&0x5984_93edu32.to_be_bytes());
    start.extend_from_slice(&3000u32.to_be_bytes());
    let msg = s.decode(&camera(&start)).unwrap_or_else(|e| panic!("{e}"));
    assert!(msg.records.is_empty());
    // Request: codec 12, camera, subtype 2, id, offset 0, 2048 bytes (Traccar's layout).
    assert_eq!(
        msg.reply,
        Some(tcp_packet(&hex("0c010d0000000b02598493ed000000000800 01"
            .replace(' ', "")
            .as_str())))
    );
    // The first chunk is capture 50's (its CRC is wrong there: rebuilt here).
    let cap = capture(50);
    let chunk_msg = &cap[10..cap.len() - 5]; // type .. data
    let mut first = chunk_msg[5..].to_vec();
    assert_eq!(first.len(), 11 + 2048);
    let msg = s.decode(&camera(&first)).unwrap_or_else(|e| panic!("{e}"));
    assert!(msg.records.is_empty());
    assert_eq!(
        msg.reply,
        Some(tcp_packet(&hex("0c010d0000000b02598493ed0000080003b801")))
    );
    // The rest, 952 bytes at offset 2048.
    first.truncate(1 + 4);
    first.extend_from_slice(&2048u32.to_be_bytes());
    first.extend_from_slice(&952u16.to_be_bytes());
    first.extend_from_slice(&[0xAB; 952]);
    let msg = s.decode(&camera(&first)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(msg.reply, None);
    let image = match msg.records.first().and_then(|r| r.io.get("image")) {
        Some(IoValue::Bytes(b)) => b.clone(),
        other => panic!("no image: {other:?}"),
    };
    assert_eq!(image.len(), 3000);
    assert_eq!(&image[..4], &[0xFF, 0xD8, 0xFF, 0xE0]);
    assert!(msg.records[0].fix.is_none());
    assert!(s.photos.is_empty());
}

#[test]
fn photo_group_gets_no_requests() {
    // 48 is a camera status (subtype 0); 49 announces a photo without its size, so there is
    // nothing to request and 50's chunk belongs to no transfer.
    let mut s = TeltonikaSession::new(&config(Transport::Tcp, false));
    for idx in [47, 48, 49, 50] {
        let msg = s.decode(&capture(idx)).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg.records.is_empty(), "idx {idx}");
        if idx != 47 {
            assert_eq!(msg.reply, None, "idx {idx}");
        }
    }
}

#[test]
fn encoder_commands() {
    let mut s = tcp();
    let text = |t: &str| tcp().encode(&Command::Text(t.into()));
    assert_eq!(s.encode(&Command::EngineStop), text("setdigout 1"));
    assert_eq!(s.encode(&Command::EngineResume), text("setdigout 0"));
    assert_eq!(s.encode(&Command::PositionSingle), text("getrecord"));
    assert_eq!(
        s.encode(&Command::SetOutput { index: 2, on: true }),
        text("setdigout ?1")
    );
    assert!(matches!(
        s.encode(&Command::SetOutput { index: 0, on: true }),
        Err(EncodeError::Invalid(_))
    ));
    assert!(matches!(
        s.encode(&Command::AlarmArm),
        Err(EncodeError::Unsupported(_))
    ));
    assert!(matches!(
        s.encode(&Command::Text(String::new())),
        Err(EncodeError::Invalid(_))
    ));
    assert!(matches!(
        s.encode(&Command::Text("caf\u{e9}".into())),
        Err(EncodeError::Invalid(_))
    ));
    let mut udp = TeltonikaSession::new(&SessionConfig::new(Transport::Udp));
    assert!(matches!(
        udp.encode(&Command::EngineStop),
        Err(EncodeError::Unsupported(_))
    ));
    // What we send, we can read back.
    let out = s
        .encode(&Command::Text("getver".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    let back = tcp().decode(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        back.command_replies,
        vec![CommandReply::Text("getver".into())]
    );
}

fn prefixed(prefix: u8, tail: Vec<u8>) -> Vec<u8> {
    // Shapes random bytes into something the decoder reads deeply: a TCP AVL header with a
    // real codec id, an IMEI frame, a UDP header, or nothing.
    let mut out = Vec::new();
    match prefix % 6 {
        0 => {}
        1 => {
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.extend_from_slice(&((tail.len() + 1) as u32).to_be_bytes());
            out.push(0x08);
        }
        2 => {
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.extend_from_slice(&((tail.len() + 1) as u32).to_be_bytes());
            out.push(0x8E);
        }
        3 => {
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
            out.push(0x0C);
        }
        4 => out.extend_from_slice(&[0x00, 0x0F]),
        _ => out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0x07]),
    }
    out.extend(tail);
    out
}

proptest! {
    #[test]
    fn frame_never_claims_more_than_given(
        prefix in any::<u8>(),
        tail in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let buf = prefixed(prefix, tail);
        testing::check_cut(buf.len(), &tcp().frame(&buf)).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn decode_never_panics(
        prefix in any::<u8>(),
        tail in proptest::collection::vec(any::<u8>(), 0..600),
        strict in any::<bool>(),
        udp in any::<bool>(),
        extended in any::<bool>(),
    ) {
        let buf = prefixed(prefix, tail);
        let transport = if udp { Transport::Udp } else { Transport::Tcp };
        let mut s = TeltonikaSession::new(&config(transport, strict)).with_extended(extended);
        let _ = s.decode(&buf);
    }

    #[test]
    fn mutated_captures_never_panic(
        pick in any::<prop::sample::Index>(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let caps = testing::captures(KEY);
        let mut bytes = caps[pick.index(caps.len())].bytes.clone();
        let at = pos.index(bytes.len());
        bytes[at] = byte;
        bytes.truncate(cut.index(bytes.len() + 1));
        let mut s = TeltonikaSession::new(&config(Transport::Tcp, false));
        let _ = s.frame(&bytes);
        let _ = s.decode(&bytes);
    }
}
