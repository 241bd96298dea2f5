use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::message::{IoValue, Timestamp};
use crate::testing::{self, assert_verify, io_f64};
use crate::Transport;

const KEY: &str = "osmand";

fn session() -> OsmandSession {
    OsmandSession::new(&SessionConfig::new(Transport::Http))
}

/// What the gateway does before storing: a record the device did not time (the Traccar
/// Client may leave `timestamp` out) takes the request's receive time.
fn stamp_receive_time(mut msg: DeviceMessage, now: Timestamp) -> DeviceMessage {
    for r in &mut msg.records {
        r.time.get_or_insert(now);
    }
    msg
}

fn replay() -> BTreeMap<u32, DeviceMessage> {
    let receive_time = Timestamp(1_700_000_000_000);
    let mut out = BTreeMap::new();
    for (method, group) in testing::groups(KEY) {
        let mut s = session();
        for c in &group {
            let what = format!("{KEY} {method} idx {}", c.idx);
            // A request is one frame, cut whole from the stream.
            assert_eq!(s.frame(&c.bytes), Ok(Cut::whole(c.bytes.len())), "{what}");
            let msg = s.decode(&c.bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_verify(
                &c.verify,
                &[stamp_receive_time(msg.clone(), receive_time)],
                &what,
            );
            out.insert(c.idx, msg);
        }
    }
    out
}

fn request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: trackd\r\n\r\n").into_bytes()
}

fn post(content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn decode(bytes: &[u8]) -> DeviceMessage {
    session().decode(bytes).unwrap()
}

#[test]
fn replays_every_capture() {
    let decoded = replay();
    assert_eq!(decoded.len(), testing::captures(KEY).len());
}

#[test]
fn expectations_hold() {
    let decoded = replay();
    for (idx, field, value) in testing::expectations(KEY) {
        let r = &decoded[&idx].records[0];
        match field.as_str() {
            // Transistorsoft `extras` have no trackd field: kept under the device's own key.
            "device_integer_twelve_test" => {
                assert_eq!(
                    r.io.get(field.as_str()),
                    Some(&IoValue::Int(value.parse().unwrap()))
                );
            }
            other => panic!("idx {idx}: no mapping for expectation field {other}"),
        }
    }
}

#[test]
fn answers_200_once_stored_and_400_without_a_device() {
    let decoded = replay();
    for (idx, msg) in &decoded {
        if *idx == 5 {
            // `GET /?timestamp=..&lat=..&lon=..`: no id, nothing to attribute the fix to.
            assert_eq!(msg.reply.as_deref(), Some(REPLY_BAD_REQUEST));
            assert!(msg.records.is_empty() && msg.device_id.is_none());
        } else {
            assert_eq!(msg.reply.as_deref(), Some(REPLY_OK), "idx {idx}");
            assert_eq!(
                msg.reply.as_deref(),
                Some(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".as_slice())
            );
        }
    }
}

#[test]
fn json_locations_map_to_trackd_fields() {
    let decoded = replay();
    let msg = &decoded[&0];
    assert_eq!(msg.device_id.as_deref(), Some("48241179"));
    let r = &msg.records[0];
    let fix = r.fix.unwrap();
    assert!((fix.lat - 37.4219983).abs() < 1e-9 && (fix.lon + 122.084).abs() < 1e-9);
    assert!(fix.valid);
    assert_eq!(fix.speed, Some(0.0));
    assert_eq!(fix.course, None, "heading -1 is unknown");
    assert_eq!(fix.altitude, Some(5.0));
    assert_eq!(
        r.time,
        Some(crate::time::utc_millis(2025, 6, 15, 13, 45, 12, 862).unwrap())
    );
    assert_eq!(r.battery_level, Some(100));
    assert_eq!(r.motion, Some(false));
    assert_eq!(io_f64(r, "accuracy"), Some(5.0));
    assert_eq!(io_f64(r, "hw_mileage"), Some(0.0));
    assert_eq!(r.io.get("charge"), Some(&IoValue::Bool(false)));
    assert_eq!(
        r.io.get("event"),
        Some(&IoValue::Text("motionchange".into()))
    );
    assert_eq!(r.io.get("activity"), Some(&IoValue::Text("still".into())));

    let r = &decoded[&1].records[0];
    assert_eq!(r.io.get("device_bool_test"), Some(&IoValue::Bool(true)));
    assert_eq!(
        r.io.get("device_string_test"),
        Some(&IoValue::Text("long_device_id".into()))
    );
    assert_eq!(io_f64(r, "device_double_test"), Some(1.345));

    let r = &decoded[&3].records[0];
    let fix = r.fix.unwrap();
    assert!(
        (fix.speed.unwrap() - 18.67 * 3.6).abs() < 1e-9,
        "m/s to km/h"
    );
    assert_eq!(fix.course, Some(63.0));
    assert_eq!(r.battery_level, Some(79));
}

#[test]
fn query_parameters_map_to_trackd_fields() {
    let decoded = replay();
    let r = &decoded[&4].records[0];
    assert!(r.fix.is_none(), "cells and Wi-Fi alone are no fix");
    assert_eq!(r.time, Some(Timestamp::from_secs(1_377_177_267)));
    let gsm = r.gsm.as_ref().unwrap();
    assert_eq!(
        (gsm.mcc, gsm.mnc, gsm.lac, gsm.cell_id),
        (Some(257), Some(2), Some(16), Some(2224))
    );
    assert_eq!(
        r.io.get("wifi"),
        Some(&IoValue::Text(
            "00-14-22-01-23-45,-80;00-1C-B3-09-85-15,-70".into()
        ))
    );

    let r = &decoded[&6].records[0];
    assert_eq!(
        r.time,
        Some(crate::time::utc(2016, 1, 27, 18, 55, 47).unwrap())
    );
    let fix = r.fix.unwrap();
    assert_eq!(
        (fix.hdop, fix.altitude, fix.speed),
        (Some(6.0), Some(224.0), Some(0.0))
    );

    assert_eq!(
        decoded[&7].records[0].time,
        Some(Timestamp(1_442_068_686_579))
    );

    let r = &decoded[&12].records[0];
    assert_eq!(
        r.time, None,
        "no timestamp: the gateway stamps the receive time"
    );
    assert_eq!(r.battery_level, Some(87));

    let fix = decoded[&13].records[0].fix.unwrap();
    assert_eq!((fix.lat, fix.lon), (60.0, 30.0));

    let msg = decode(&request(
        "/?deviceid=7&lat=1.5&lon=2.5&speed=10&bearing=90&valid=false&driverUniqueId=ab12\
         &ignition=true&power=12.5&odometer=1500&charge=1&custom=x%20y&batt=55.6",
    ));
    assert_eq!(msg.device_id.as_deref(), Some("7"));
    let r = &msg.records[0];
    let fix = r.fix.unwrap();
    assert!(!fix.valid);
    assert!((fix.speed.unwrap() - 18.52).abs() < 1e-9, "knots to km/h");
    assert_eq!(fix.course, Some(90.0));
    assert_eq!(r.hardware_key.as_deref(), Some("ab12"));
    assert_eq!(r.ignition, Some(true));
    assert_eq!(io_f64(r, "board_voltage"), Some(12.5));
    assert_eq!(io_f64(r, "hw_mileage"), Some(1.5));
    assert_eq!(r.io.get("charge"), Some(&IoValue::Bool(true)));
    assert_eq!(r.io.get("custom"), Some(&IoValue::Text("x y".into())));
    assert_eq!(r.battery_level, Some(56));
}

#[test]
fn timestamps_in_every_form() {
    use super::decode::parse_timestamp;
    let t = crate::time::utc(2016, 1, 27, 18, 55, 47).unwrap();
    assert_eq!(parse_timestamp("1453920947"), Ok(t));
    assert_eq!(parse_timestamp("1453920947000"), Ok(t));
    assert_eq!(parse_timestamp("2016-01-27T18:55:47Z"), Ok(t));
    assert_eq!(parse_timestamp("2016-01-27T18:55:47"), Ok(t));
    assert_eq!(parse_timestamp("2016-01-27 18:55:47"), Ok(t));
    assert_eq!(parse_timestamp("2016-01-27T20:55:47+02:00"), Ok(t));
    assert_eq!(parse_timestamp("2016-01-27T13:55:47-0500"), Ok(t));
    assert_eq!(
        parse_timestamp("2016-01-27T18:55:47.250Z"),
        Ok(Timestamp(t.0 + 250))
    );
    assert!(parse_timestamp("2016-02-30T18:55:47Z").is_err());
    assert!(parse_timestamp("yesterday").is_err());
}

#[test]
fn unreadable_requests_get_400() {
    for bytes in [
        request("/?id=1&lat=abc&lon=2"),
        request("/?id=1&lat=91&lon=2"),
        request("/?id=1&lat=10"),
        request("/?id=1&timestamp=soon"),
        request("/?id=&lat=1&lon=2"),
        post(
            "application/json",
            "{\"location\": {\"coords\": {\"latitude\": 1}}",
        ),
        post(
            "application/json",
            "{\"location\": {\"timestamp\": \"x\"}, \"device_id\": \"1\"}",
        ),
        b"GARBAGE\r\n\r\n".to_vec(),
    ] {
        let msg = decode(&bytes);
        assert_eq!(
            msg.reply.as_deref(),
            Some(REPLY_BAD_REQUEST),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(msg.records.is_empty());
    }
}

#[test]
fn form_and_json_batch_bodies() {
    let msg = decode(&post(
        "application/x-www-form-urlencoded",
        "id=42&lat=10.5&lon=20.25&timestamp=1377177267",
    ));
    assert_eq!(msg.device_id.as_deref(), Some("42"));
    assert_eq!(
        msg.records[0].fix.map(|f| (f.lat, f.lon)),
        Some((10.5, 20.25))
    );

    let batch = r#"{"location":[
        {"timestamp":"2021-07-21T08:06:34Z","coords":{"latitude":1,"longitude":2,"speed":-1,"heading":-1}},
        {"timestamp":"2021-07-21T08:06:44Z","coords":{"latitude":1.1,"longitude":2.1},"battery":{"level":-1}}
    ],"device_id":"abc"}"#;
    let msg = decode(&post("application/json", batch));
    assert_eq!(msg.device_id.as_deref(), Some("abc"));
    assert_eq!(msg.records.len(), 2);
    assert_eq!(msg.records[0].fix.unwrap().speed, None);
    assert_eq!(msg.records[1].battery_level, None);

    // The device id may also come in the query of a JSON post.
    let mut bytes = post(
        "application/json",
        r#"{"location":{"coords":{"latitude":1,"longitude":2}}}"#,
    );
    bytes.splice(5..6, b"/?id=99".iter().copied());
    assert_eq!(decode(&bytes).device_id.as_deref(), Some("99"));
}

#[test]
fn chunked_bodies_are_framed_and_decoded() {
    let body = "id=5&lat=1&lon=2";
    let bytes = format!(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        5,
        &body[..5],
        body.len() - 5,
        &body[5..]
    )
    .into_bytes();
    let s = session();
    testing::assert_waits_for_every_prefix(&s, &bytes, "chunked request");
    let mut stream = bytes.clone();
    stream.extend_from_slice(&request("/?id=6"));
    assert_eq!(s.frame(&stream), Ok(Cut::whole(bytes.len())));
    let msg = decode(&bytes);
    assert_eq!(msg.device_id.as_deref(), Some("5"));
    assert_eq!(msg.records[0].fix.map(|f| (f.lat, f.lon)), Some((1.0, 2.0)));
}

#[test]
fn framer_cuts_keep_alive_streams() {
    let caps = testing::captures(KEY);
    let mut stream = Vec::new();
    for c in &caps {
        stream.extend_from_slice(&c.bytes);
        stream.extend_from_slice(b"\r\n");
    }
    let s = session();
    let cuts = testing::cut_stream(&s, &stream);
    assert!(cuts.rest.is_empty() && cuts.fatal.is_none(), "{cuts:?}");
    let expected: Vec<&[u8]> = caps.iter().map(|c| c.bytes.as_slice()).collect();
    assert_eq!(cuts.frames, expected);

    testing::assert_waits_for_every_prefix(&s, &caps[0].bytes, "idx 0");
}

#[test]
fn framer_refuses_what_cannot_be_http() {
    let s = session();
    assert!(matches!(
        s.frame(b"\x16\x03\x01"),
        Err(FrameError::Fatal(_))
    ));
    assert!(matches!(
        s.frame(b"get / HTTP/1.1\r\n\r\n"),
        Err(FrameError::Fatal(_))
    ));
    let mut huge = b"GET /?".to_vec();
    huge.resize(MAX_HEADER, b'a');
    assert!(matches!(s.frame(&huge), Err(FrameError::Fatal(_))));
    let big_body = format!(
        "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY + 1
    );
    assert!(matches!(
        s.frame(big_body.as_bytes()),
        Err(FrameError::Fatal(_))
    ));
    let conflict = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
    assert!(matches!(s.frame(conflict), Err(FrameError::Fatal(_))));
    let gzip = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
    assert!(matches!(s.frame(gzip), Err(FrameError::Fatal(_))));
    let bad_chunk = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert!(matches!(s.frame(bad_chunk), Err(FrameError::Fatal(_))));
    let huge_chunk = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n";
    assert!(matches!(s.frame(huge_chunk), Err(FrameError::Fatal(_))));
}

#[test]
fn commands_are_unsupported() {
    let mut s = session();
    for c in [
        Command::Text("x".into()),
        Command::EngineStop,
        Command::PositionSingle,
    ] {
        assert!(matches!(s.encode(&c), Err(EncodeError::Unsupported(_))));
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_always_get_an_answer(buf in proptest::collection::vec(any::<u8>(), 0..512)) {
        let msg = session().decode(&buf).unwrap();
        prop_assert!(msg.reply.is_some());
    }

    #[test]
    fn mutated_captures_never_panic(
        pick in 0usize..64,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        truncate in any::<usize>(),
    ) {
        let caps = testing::captures(KEY);
        let mut buf = caps[pick % caps.len()].bytes.clone();
        for (at, byte) in edits {
            let i = at % buf.len();
            buf[i] = byte;
        }
        buf.truncate(truncate % (buf.len() + 1));
        let mut s = session();
        testing::check_cut(buf.len(), &s.frame(&buf)).map_err(TestCaseError::fail)?;
        let msg = s.decode(&buf).unwrap();
        prop_assert!(msg.reply.is_some());
    }

    #[test]
    fn query_values_never_panic(
        params in proptest::collection::vec(("[a-zA-Z_]{1,12}", "[-0-9.,:TZ%+a-f ]{0,24}"), 0..10),
    ) {
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let bytes = request(&format!("/?id=1&{}", query.join("&")).replace(' ', "+"));
        let msg = session().decode(&bytes).unwrap();
        prop_assert!(msg.reply.is_some());
    }
}
