use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::message::{Alarm, CommandReply, IoValue, Record};
use crate::testing::{self, Capture};
use crate::Transport;

const KEY: &str = "gl200";

fn config_for(context: &str) -> SessionConfig {
    SessionConfig::new(testing::transport_of(context))
}

fn session() -> Gl200Session {
    Gl200Session::new(&SessionConfig::new(Transport::Tcp))
}

/// Frames a capture as a TCP stream and decodes every frame. Captures that Traccar's suite
/// stored without the trailing `$` leave an unterminated sentence: like a UDP datagram (or
/// the end of a stream), it is decoded whole. Returns the messages and whether that
/// happened.
fn replay_capture(s: &mut Gl200Session, c: &Capture) -> (Vec<DeviceMessage>, bool) {
    let (mut msgs, rest) = testing::decode_stream(s, &c.bytes, &format!("idx {}", c.idx));
    if rest.is_empty() {
        return (msgs, false);
    }
    let m = s
        .decode(rest)
        .unwrap_or_else(|e| panic!("idx {} (unterminated): {e}", c.idx));
    msgs.push(m);
    (msgs, true)
}

/// Every capture replayed in its group, in order, on one session per group.
fn replay_all() -> BTreeMap<u32, (Capture, Vec<DeviceMessage>)> {
    let mut out = BTreeMap::new();
    for (_, caps) in testing::groups(KEY) {
        let mut s = Gl200Session::new(&config_for(&caps[0].context));
        for c in caps {
            let (msgs, _) = replay_capture(&mut s, &c);
            out.insert(c.idx, (c, msgs));
        }
    }
    out
}

fn last_record(msgs: &[DeviceMessage]) -> &Record {
    msgs.iter()
        .flat_map(|m| m.records.iter())
        .last()
        .expect("a record")
}

fn decode_one(sentence: &str) -> DeviceMessage {
    session()
        .decode(sentence.as_bytes())
        .unwrap_or_else(|e| panic!("{sentence}: {e}"))
}

fn io<'a>(rec: &'a Record, key: &str) -> &'a IoValue {
    rec.io
        .get(key)
        .unwrap_or_else(|| panic!("no io {key} in {:?}", rec.io))
}

fn io_f(rec: &Record, key: &str) -> f64 {
    io(rec, key).as_f64().expect("numeric io")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

// ---------------------------------------------------------------------------------------
// Captures

#[test]
fn every_capture_decodes_as_its_verify_column_says() {
    let mut unterminated = Vec::new();
    let mut total = 0;
    for (_, caps) in testing::groups(KEY) {
        let mut s = Gl200Session::new(&config_for(&caps[0].context));
        for c in caps {
            assert_eq!(
                c.encoding, "text",
                "idx {}: only text captures exist",
                c.idx
            );
            let (msgs, rest) = replay_capture(&mut s, &c);
            if rest {
                unterminated.push(c.idx);
            }
            testing::assert_verify(&c.verify, &msgs, &format!("gl200 idx {}", c.idx));
            total += 1;
        }
    }
    assert_eq!(total, 128);
    // These captures were stored without their `$`; they decode as whole datagrams.
    assert_eq!(
        unterminated,
        vec![67, 141, 144, 145, 154, 156, 157, 159, 160, 162, 163, 165, 181, 183, 184, 186, 187]
    );
}

#[test]
fn every_capture_decodes_identically_as_a_udp_datagram() {
    let tcp = replay_all();
    for (_, caps) in testing::groups(KEY) {
        let mut s = Gl200Session::new(&SessionConfig::new(Transport::Udp));
        for c in caps {
            let m = s.decode(&c.bytes).expect("datagram decodes");
            assert_eq!(vec![m], tcp[&c.idx].1, "idx {}", c.idx);
        }
    }
}

#[test]
fn expectations_hold() {
    let all = replay_all();
    let rows = testing::expectations(KEY);
    assert_eq!(rows.len(), 22);
    for (idx, field, value) in rows {
        let (_, msgs) = &all[&idx];
        let rec = last_record(msgs);
        let what = format!("idx {idx} {field}={value}");
        let num = || value.parse::<f64>().expect("number");
        match field.as_str() {
            "alarm" => {
                let want = match value.as_str() {
                    "sos" => Alarm::Sos,
                    "hardCornering" => Alarm::HardCornering,
                    "hardBraking" => Alarm::HardBraking,
                    // Traccar's powerOff is the device being switched off (GTPFA), not an
                    // external power cut: our enum has no such variant.
                    "powerOff" => Alarm::Other("power_off".into()),
                    other => panic!("unmapped alarm {other}"),
                };
                assert!(rec.alarms.contains(&want), "{what}: {:?}", rec.alarms);
            }
            // No Navixy name for a transparent serial payload.
            "data" => assert_eq!(
                io(rec, "gl200_data"),
                &IoValue::Text(value.clone()),
                "{what}"
            ),
            "batteryLevel" if value == "null" => {
                assert!(
                    msgs.iter()
                        .flat_map(|m| &m.records)
                        .all(|r| r.battery_level.is_none()),
                    "{what}"
                )
            }
            "batteryLevel" => assert_eq!(rec.battery_level, Some(num() as u8), "{what}"),
            // Traccar's power2 is the GTINF backup power voltage (V); no Navixy name.
            "power2" => assert!(
                close(io_f(rec, "gl200_backup_power_voltage"), num()),
                "{what}"
            ),
            "power" => assert!(close(io_f(rec, "board_voltage"), num()), "{what}"),
            "ignition" => assert_eq!(rec.ignition, Some(value == "true"), "{what}"),
            // Bluetooth accessory battery voltage (V); no Navixy name.
            "accessoryVoltage" => {
                assert!(close(io_f(rec, "gl200_accessory_voltage"), num()), "{what}")
            }
            // GTDTT carries a serial fuel sensor's level (fuel_level); the GTERI digital fuel
            // sensor raw reading is an LLS level (lls_level_1).
            "fuel" if idx == 43 => assert!(close(io_f(rec, "fuel_level"), num()), "{what}"),
            "fuel" => assert!(close(io_f(rec, "lls_level_1"), num()), "{what}"),
            // GTDAR warning code; no Navixy name.
            "warningType" => assert!(close(io_f(rec, "gl200_warning_type"), num()), "{what}"),
            // in1 is digital input 1, bit 0 of Record.inputs.
            "in1" => assert_eq!(
                rec.inputs.map(|i| i & 1 == 1),
                Some(value == "true"),
                "{what}"
            ),
            // adcN in Traccar's raw units here (0); ours are volts: 0 either way.
            "adc3" => assert!(close(io_f(rec, "analog_3"), num()), "{what}"),
            other => panic!("unmapped expectation field {other}"),
        }
    }
}

#[test]
fn checksum_setting_changes_nothing_for_the_text_protocol() {
    // ASCII @Track has no checksum and the vectors list no gl200 capture with a bad one:
    // both settings must decode every capture identically.
    let strict = replay_all();
    for (_, caps) in testing::groups(KEY) {
        let mut cfg = config_for(&caps[0].context);
        cfg.strict_checksum = false;
        let mut s = Gl200Session::new(&cfg);
        for c in caps {
            let (msgs, _) = replay_capture(&mut s, &c);
            assert_eq!(msgs, strict[&c.idx].1, "idx {}", c.idx);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Framer

#[test]
fn framer_cuts_every_frames_row_exactly() {
    let s = session();
    let rows = testing::assert_frames_file(KEY, &s);
    assert_eq!(rows.len(), 4);
    for (input, cut) in rows {
        // Every strict prefix of what the frame consumes is "need more".
        testing::assert_waits_for_every_prefix(&s, &input[..cut.consumed], "frames row");
    }
}

#[test]
fn binary_frames_are_cut_but_rejected_clearly() {
    let mut s = session();
    let mut binary = 0;
    for (input, expected, source) in testing::frames(KEY) {
        let result = s.decode(&expected);
        if expected.starts_with(b"+RESP:") {
            assert!(result.is_ok(), "{source}");
        } else {
            binary += 1;
            assert_eq!(
                result,
                Err(DecodeError::Reject(
                    "binary Queclink format not supported".into()
                )),
                "{source}"
            );
        }
        let _ = input;
    }
    assert_eq!(binary, 3);
}

#[test]
fn framer_handles_streams() {
    let s = session();
    // Two sentences back to back, the second split.
    let a = b"+RESP:GTPFA,F50201,866425030235982,GL300M,20190208124849,0BD4$";
    let mut buf = a.to_vec();
    buf.extend_from_slice(b"+ACK:GTHBD,1A0401,1357902468");
    let cut = s.frame(&buf).unwrap();
    assert_eq!(
        cut,
        Cut {
            consumed: a.len(),
            start: 0,
            end: a.len() - 1
        }
    );
    assert_eq!(s.frame(&buf[cut.consumed..]), Err(FrameError::Incomplete));

    // GT300 dialect: NUL terminated.
    let cut = s.frame(b"+RESP:GTTRI,1,2\0+RESP").unwrap();
    assert_eq!(
        cut,
        Cut {
            consumed: 16,
            start: 0,
            end: 15
        }
    );

    // Garbage (a stray CRLF, a NUL) before a sentence is skipped up to the '+'.
    match s.frame(b"\r\n\0+RESP:GTPFA,1$") {
        Err(FrameError::Reject { skip, .. }) => assert_eq!(skip, 3),
        other => panic!("{other:?}"),
    }
    match s.frame(b"xyz") {
        Err(FrameError::Reject { skip, .. }) => assert_eq!(skip, 3),
        other => panic!("{other:?}"),
    }

    // A sentence that never ends is dropped, not waited for forever.
    let long = [
        b"+RESP:GTFRI,".as_slice(),
        &[b'1'; super::frame::MAX_TEXT_FRAME],
    ]
    .concat();
    assert!(matches!(s.frame(&long), Err(FrameError::Reject { .. })));

    // Found by timing the framer on adversarial streams (docs/fuzzing.md): after such a
    // sentence it resumed at the next '+', so a stream of '+' cost an 8 KiB scan per byte.
    // It now resumes where a sentence could still end in time, or at a binary head.
    let pluses = vec![b'+'; 3 * super::frame::MAX_TEXT_FRAME];
    assert!(matches!(
        s.frame(&pluses),
        Err(FrameError::Reject { skip, .. }) if skip == 2 * super::frame::MAX_TEXT_FRAME
    ));
    let mut then_sentence = pluses.clone();
    then_sentence.extend_from_slice(b"RESP:GTPFA,1$");
    let cuts = testing::cut_stream(&s, &then_sentence);
    assert_eq!(cuts.frames.len(), 1);
    assert_eq!(cuts.frames[0].len(), super::frame::MAX_TEXT_FRAME);
    let mut then_binary = [b'+'; 100].to_vec();
    then_binary.extend_from_slice(b"+HBD");
    then_binary.extend(std::iter::repeat_n(b'1', super::frame::MAX_TEXT_FRAME));
    assert!(matches!(
        s.frame(&then_binary),
        Err(FrameError::Reject { skip: 100, .. })
    ));

    // HEX +ACC has no length: the stream cannot be resynchronised.
    assert!(matches!(
        s.frame(b"+ACC\x01\x02\x03\x04\x05"),
        Err(FrameError::Fatal(_))
    ));

    // A HEX frame whose length does not land on CRLF is not trusted.
    let mut evt = testing::hex(
        "2b4556540c00fc1fbf005c4501010108563254030003430564312a41090100000000003f007dff75a11a025c6a7807e1070a14041202680003189c1ac500000000000000000000000000000000000007e1070b041134054e5c6e0d0a",
    );
    let n = evt.len();
    evt[n - 1] = b'X';
    assert!(matches!(s.frame(&evt), Err(FrameError::Reject { .. })));
}

// ---------------------------------------------------------------------------------------
// Replies

#[test]
fn replies_echo_the_count_verbatim() {
    let all = replay_all();
    let reply = |idx: u32| {
        all[&idx]
            .1
            .iter()
            .map(|m| {
                m.reply
                    .as_ref()
                    .map(|r| String::from_utf8_lossy(r).into_owned())
            })
            .collect::<Vec<_>>()
    };
    // Heartbeat: the one acknowledgement every @Track document makes mandatory.
    assert_eq!(
        reply(181),
        vec![Some("+SACK:GTHBD,1A0401,11F0$".to_owned())]
    );
    // Reports: +SACK:<count>$, for real-time and buffered alike.
    assert_eq!(reply(0), vec![Some("+SACK:32DB$".to_owned())]);
    assert_eq!(reply(13), vec![Some("+SACK:22D0$".to_owned())]);
    // Command acknowledgements are answers, not reports: nothing to acknowledge.
    assert_eq!(reply(183), vec![None]);
    // The GT300 dialect's acknowledgement format is undocumented.
    assert_eq!(reply(156), vec![None]);

    // A lower-case count is echoed as sent; a sentence without one is never acknowledged.
    let m = decode_one("+ACK:GTHBD,,135790246811220,,20100214093254,11f0$");
    assert_eq!(m.reply.as_deref(), Some(b"+SACK:GTHBD,,11f0$".as_slice()));
    let m = decode_one("+RESP:GTPFA,F50201,866425030235982,GL300M,20190208124849$");
    assert_eq!(m.reply, None);
    assert_eq!(m.records.len(), 1);
}

#[test]
fn a_datagram_with_several_sentences_answers_each() {
    let mut s = Gl200Session::new(&SessionConfig::new(Transport::Udp));
    let m = s
        .decode(b"+BUFF:GTPFA,F50201,866425030235982,GL300M,20190208124849,0BD4$+RESP:GTPNA,F50201,866425030235982,GL300M,20190208124949,0BD5$\r\n")
        .unwrap();
    assert_eq!(m.records.len(), 2);
    assert!(m.records[0].buffered && !m.records[1].buffered);
    assert_eq!(
        m.reply.as_deref(),
        Some(b"+SACK:0BD4$+SACK:0BD5$".as_slice())
    );
}

#[test]
fn command_acks_become_command_replies() {
    let m = decode_one("+ACK:GTOUT,1A0401,135790246811220,,FFFF,20100214093254,11F0$");
    assert_eq!(m.device_id.as_deref(), Some("135790246811220"));
    assert_eq!(
        m.command_replies,
        vec![CommandReply::Text(
            "+ACK:GTOUT,1A0401,135790246811220,,FFFF,20100214093254,11F0".into()
        )]
    );
    assert_eq!(
        io(&m.records[0], "gl200_command_ack"),
        &IoValue::Text("GTOUT".into())
    );
    let m = decode_one("+NACK:APN,123456789012345,C031,10,0,,0,012F,20210407101530,1234$");
    assert_eq!(m.device_id.as_deref(), Some("123456789012345"));
    assert!(m.records.is_empty() && m.command_replies.len() == 1);
}

// ---------------------------------------------------------------------------------------
// Decoded values

#[test]
fn multi_position_fixed_report() {
    let all = replay_all();
    let recs: Vec<_> = all[&64].1[0].records.clone();
    assert_eq!(recs.len(), 4);
    let times: Vec<_> = recs.iter().map(|r| r.time.unwrap().secs()).collect();
    assert_eq!(times, vec![1544795163, 1544795179, 1544795193, 1544795208]);
    let last = recs[3].fix.unwrap();
    assert!(close(last.lat, 47.682040) && close(last.lon, 8.612236));
    assert_eq!(last.speed, Some(4.8));
    // The shared tail belongs to the last position only.
    assert_eq!(recs[3].battery_level, Some(83));
    assert!(recs[..3].iter().all(|r| r.battery_level.is_none()));
    assert_eq!(all[&133].1[0].records.len(), 2);
    assert_eq!(all[&142].1[0].records.len(), 2);
    assert_eq!(all[&172].1[0].records.len(), 2);
}

#[test]
fn fixed_report_fields() {
    let all = replay_all();
    let r = last_record(&all[&102].1);
    let fix = r.fix.unwrap();
    assert!(close(fix.lat, -17.739317) && close(fix.lon, -63.174466));
    assert_eq!(
        (fix.speed, fix.course, fix.altitude),
        (Some(3.4), Some(199.0), Some(409.6))
    );
    assert!(fix.valid);
    assert_eq!(r.time, crate::time::utc(2017, 4, 7, 12, 18, 23));
    assert!(close(io_f(r, "board_voltage"), 14.827));
    assert!(close(io_f(r, "hw_mileage"), 15989.5));
    assert!(close(
        io_f(r, "gl200_hour_meter"),
        1070.0 + 43.0 / 60.0 + 13.0 / 3600.0
    ));
    // Device status 220101: ignition on, moving, output 1 on.
    assert_eq!(
        (r.ignition, r.motion, r.outputs),
        (Some(true), Some(true), Some(1))
    );
    let gsm = r.gsm.clone();
    assert_eq!(gsm, None, "cell 0000 is no cell");

    // GV500: VIN before the name and OBD values at the end.
    let r = last_record(&all[&132].1);
    assert_eq!(io(r, "obd_vin"), &IoValue::Text("1G1JC5444R7252367".into()));
    assert_eq!(io(r, "obd_rpm"), &IoValue::Int(791));
    assert!(close(io_f(r, "obd_fuel"), 56.0));
}

#[test]
fn failed_fix_is_kept_invalid_and_stamped_with_the_send_time() {
    let all = replay_all();
    // GTIGF with GNSS accuracy 0: last known position.
    let r = last_record(&all[&78].1);
    let fix = r.fix.unwrap();
    assert!(!fix.valid);
    assert_eq!(r.time, crate::time::utc(2018, 3, 27, 7, 8, 37));
    assert_eq!(r.ignition, Some(false));
}

#[test]
fn empty_or_zero_positions_are_not_fixes() {
    let all = replay_all();
    for idx in [13, 19, 46, 84, 109, 148] {
        assert!(
            all[&idx]
                .1
                .iter()
                .flat_map(|m| &m.records)
                .all(|r| r.fix.is_none()),
            "idx {idx}"
        );
    }
    let m = decode_one("+RESP:GTFRI,060100,135790246811220,,,00,1,1,0.0,0,0.0,0.000000,0.000000,20090214013254,0460,0000,18d8,6141,00,0.0,,,,80,210100,,,,20090214093254,11F0$");
    assert!(m.records[0].fix.is_none());
    assert_eq!(m.records[0].time, crate::time::utc(2009, 2, 14, 9, 32, 54));
}

#[test]
fn extended_report_peripherals() {
    let all = replay_all();
    // 1-Wire: two's complement 1/16 °C.
    let r = last_record(&all[&87].1);
    assert!(close(io_f(r, "ext_temp_sensor_1"), 91.0));
    let r = last_record(&all[&91].1);
    assert!(close(io_f(r, "ext_temp_sensor_1"), -5.1875));
    let m = decode_one("+RESP:GTERI,040A00,862894022579562,gv200,00000002,,10,1,1,96.1,180,749.7,39.222692,24.165463,20210225065756,0420,0004,759C,3360,00,15529.8,,,2789,,01,00,2,2,282BD47A0B000063,1,FFE2,281FDD5D0B000057,1,FFC8,20210225065800,6974$");
    let r = &m.records[0];
    assert!(close(io_f(r, "ext_temp_sensor_1"), -1.875));
    assert!(close(io_f(r, "ext_temp_sensor_2"), -3.5));
    assert!(close(io_f(r, "analog_2"), 2.789));
    // iButton on the 1-Wire bus identifies the driver; its data is not a temperature.
    let m = decode_one("+RESP:GTERI,4B0306,867995030009362,,00000002,,10,1,1,0.0,0,40.4,117.129326,31.839245,20190522064541,0460,0000,550B,B969,00,0.0,,,65,210100,,2,3C00000340FD1128,2,019E,FD0000034129ED28,2,01AC,20190522064542,0541$");
    let r = &m.records[0];
    assert_eq!(r.hardware_key.as_deref(), Some("FD0000034129ED28"));
    assert!(!r.io.contains_key("ext_temp_sensor_1"));
    assert_eq!(r.battery_level, Some(65));
    // Fuel sensors: raw digital level and a percentage/volume sensor.
    let r = last_record(&all[&82].1);
    assert_eq!(io(r, "lls_level_1"), &IoValue::Int(0x394));
    assert!(close(io_f(r, "gl200_fuel_percent_1"), 100.0));
    assert!(close(io_f(r, "gl200_fuel_volume_1"), 100.0));
    // Bluetooth sensors: plain °C and %rh.
    let r = last_record(&all[&12].1);
    assert!(close(io_f(r, "gl200_ble_temp_1"), 24.0));
    assert!(close(io_f(r, "humidity_1"), 36.0));
    assert_eq!(r.fix.unwrap().satellites, Some(12));
    // CAN block inside GTERI.
    let r = last_record(&all[&33].1);
    assert!(close(io_f(r, "can_mileage"), 31179.6));
    assert!(close(io_f(r, "can_engine_hours"), 46.54));
    assert!(close(io_f(r, "fuel_consumption"), 109.40));
    assert_eq!(io(r, "obd_vin"), &IoValue::Text("VR3USHNSSNJ711765".into()));
    assert_eq!(r.fix.unwrap().satellites, Some(7));
}

#[test]
fn can_report() {
    let all = replay_all();
    let r = last_record(&all[&34].1);
    assert!(close(io_f(r, "can_mileage"), 289805.8));
    assert!(close(io_f(r, "fuel_consumption"), 232160.50));
    assert_eq!(io(r, "can_rpm"), &IoValue::Int(896));
    assert!(close(io_f(r, "can_speed"), 0.0));
    assert!(close(io_f(r, "can_coolant_t"), 64.0));
    assert!(close(io_f(r, "can_fuel_rate"), 1.5));
    assert!(close(io_f(r, "can_fuel"), 99.2));
    assert!(close(io_f(r, "can_engine_hours"), 40532.95));
    assert_eq!(r.ignition, Some(true));
    let fix = r.fix.unwrap();
    assert!(close(fix.lat, -0.218812) && close(fix.lon, -78.508807));
    assert_eq!(fix.altitude, Some(2812.2));
    // Vendor example: RPM (bit 5) is printed before speed (bit 4); L = litres.
    let m = decode_one("+RESP:GTCAN,4B0305,867995030082104,gv300can,00,1,C03FFFFF,,2,I6782,50.56,1705,40,55,,L87.40,3960,32,860.64,755.43,105.21,7436.00,4365,BF,FFFF,3F,3F,6.38,21.61,0,0.0,0,1.4,117.1299493,31.839403,20190418055225,0460,0000,550B,B969,00,20190418055227,0DC0$");
    let r = &m.records[0];
    assert_eq!(io(r, "can_rpm"), &IoValue::Int(1705));
    assert!(close(io_f(r, "can_speed"), 40.0));
    assert!(close(io_f(r, "can_fuel_litres"), 87.40));
    assert!(close(io_f(r, "gl200_can_range"), 396.0));
    // Impulses are not a distance.
    assert!(!r.io.contains_key("can_mileage"));
    assert_eq!(io(r, "gl200_can_distance_impulses"), &IoValue::Int(6782));
    assert!(close(r.fix.unwrap().lat, 31.839403));
}

#[test]
fn obd_report() {
    let all = replay_all();
    let r = last_record(&all[&151].1);
    assert_eq!(io(r, "obd_rpm"), &IoValue::Int(787));
    assert!(close(io_f(r, "obd_speed"), 3.0));
    assert!(close(io_f(r, "obd_coolant_t"), 43.0));
    assert_eq!(io(r, "obd_dtc_number"), &IoValue::Int(10));
    assert!(close(io_f(r, "obd_throttle"), 20.0));
    assert!(close(io_f(r, "obd_custom_odometer"), 1286.0));
    assert!(close(io_f(r, "board_voltage"), 13.411));
    assert!(close(r.fix.unwrap().lat, 6.529714));
    // `nan` fuel consumption is absent, not NaN.
    let r = last_record(&all[&90].1);
    assert!(!r.io.contains_key("obd_consumption"));
    assert!(close(io_f(r, "hw_mileage"), 690.1));
}

#[test]
fn device_information() {
    let all = replay_all();
    let r = last_record(&all[&18].1);
    assert!(close(io_f(r, "board_voltage"), 12.295));
    assert!(close(io_f(r, "battery_voltage"), 4.25));
    assert_eq!(r.gsm.as_ref().unwrap().signal_level, Some(61));
    assert_eq!(
        io(r, "gl200_iccid"),
        &IoValue::Text("89464278206103756482".into())
    );
    assert!(r.fix.is_none());
    // GV500VC: the VIN comes before the device name.
    let r = last_record(&all[&93].1);
    assert!(close(io_f(r, "board_voltage"), 12.986));
    assert!(close(io_f(r, "battery_voltage"), 4.16));
}

#[test]
fn events_and_states() {
    let all = replay_all();
    let r = last_record(&all[&147].1);
    assert_eq!(r.hardware_key.as_deref(), Some("D2C4FBC5"));
    assert!(last_record(&all[&13].1).buffered);
    assert!(!last_record(&all[&0].1).buffered);
    assert_eq!(last_record(&all[&94].1).alarms, vec![Alarm::PowerRestored]);
    assert_eq!(last_record(&all[&100].1).alarms, vec![Alarm::LowBattery]);
    assert!(close(
        io_f(last_record(&all[&100].1), "battery_voltage"),
        3.53
    ));
    assert_eq!(last_record(&all[&177].1).alarms, vec![Alarm::Jamming]);
    assert_eq!(
        last_record(&all[&10].1).alarms,
        vec![Alarm::Other("power_on".into())]
    );
    assert_eq!(last_record(&all[&136].1).motion, Some(true));
    assert_eq!(last_record(&all[&99].1).motion, Some(false));
    assert_eq!(
        io(last_record(&all[&79].1), "gl200_input_2"),
        &IoValue::Bool(true)
    );
    assert_eq!(
        io(last_record(&all[&75].1), "gl200_input_1"),
        &IoValue::Bool(true)
    );
    assert_eq!(
        io(last_record(&all[&0].1), "gl200_event"),
        &IoValue::Text("FRI".into())
    );

    // GTIGL: report type 0 is ignition on, except on the CV200 where it is off.
    let on = decode_one("+RESP:GTIGL,F1030A,868446036599153,gv350m,,00,1,2,0.0,0,151.0,114.015284,22.537202,20190823065816,0460,0001,253D,AEC3,,0.0,20190823145817,12C8$");
    assert_eq!(on.records[0].ignition, Some(true));
    let off = decode_one("+RESP:GTIGL,BD0214,869409069481243,cv100,,00,1,1,5.6,344,274.7,-1.601826,6.666228,20250114094616,0620,0001,3EE8,00016E04,,,20250114094616,20250114094616,2862$");
    assert_eq!(off.records[0].ignition, Some(false));
}

#[test]
fn position_append_mask_is_hex() {
    // 12 hex = bits 1 and 4: a trigger type and a jamming state follow. Read as decimal it
    // would be bits 2 and 3 (no fields) and the mileage would be taken from the trigger.
    let m = decode_one("+RESP:GTFRI,8020040200,866314060249032,,12194,10,1,3,0.0,0,20.1,-71.596533,-33.524718,20230926200338,0730,0001,772A,052B253E,12,1,0,5.5,,,,,0,420000,,,,20230926200340,1549$");
    let r = &m.records[0];
    assert!(close(io_f(r, "hw_mileage"), 5.5), "{:?}", r.io);
    let m = decode_one("+RESP:GTFRI,8020040200,866314060249032,,12194,10,1,3,0.0,0,20.1,-71.596533,-33.524718,20230926200338,0730,0001,772A,052B253E,03,9,1,0.0,,,,,77,420000,,,,20230926200340,1549$");
    let r = &m.records[0];
    assert_eq!(r.fix.unwrap().satellites, Some(9));
    assert_eq!(r.battery_level, Some(77));
}

#[test]
fn model_override_from_config() {
    let mut cfg = SessionConfig::new(Transport::Tcp);
    cfg.model = Some("gl320m".into());
    let mut s = Gl200Session::new(&cfg);
    // An unknown version prefix decoded with the configured GL320M layout.
    let m = s
        .decode(b"+RESP:GTERI,990303,860201068142036,,00000100,0,0,1,1,0.0,0,219.7,8.111111,50.111111,20251221144733,,,,,,97,1,32.4,20251221144735,18B6$")
        .unwrap();
    assert_eq!(m.records[0].battery_level, Some(97));
}

#[test]
fn malformed_sentences_are_rejected() {
    testing::assert_all_rejected(
        &mut session(),
        &[
            b"+RESP",
            b"GTFRI,1,2",
            b"+XYZ:GTFRI,1,2",
            b"+RESP:GTFRI,060100,,,",
            b"+SACK:11F0",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Commands

#[test]
fn commands_encode() {
    // There is no gl200.commands.tsv in the vectors; these are the documented @Track forms.
    assert!(!testing::vectors_dir().join("gl200.commands.tsv").exists());
    let mut s = session();
    let enc =
        |s: &mut Gl200Session, c: Command| s.encode(&c).map(|b| String::from_utf8(b).unwrap());
    assert_eq!(
        enc(&mut s, Command::EngineStop).unwrap(),
        "AT+GTOUT=gl200,1,,,0,0,0,0,0,0,0,,,,,,,FFFF$"
    );
    assert_eq!(
        enc(&mut s, Command::EngineResume).unwrap(),
        "AT+GTOUT=gl200,0,,,0,0,0,0,0,0,0,,,,,,,FFFF$"
    );
    assert_eq!(
        enc(&mut s, Command::PositionSingle).unwrap(),
        "AT+GTRTO=gl200,1,,,,,,FFFF$"
    );
    assert_eq!(
        enc(&mut s, Command::SetOutput { index: 2, on: true }).unwrap(),
        "AT+GTOUT=gl200,,,,1,0,0,,,,,,,,,,,FFFF$"
    );
    assert_eq!(
        enc(
            &mut s,
            Command::SetOutput {
                index: 1,
                on: false
            }
        )
        .unwrap(),
        "AT+GTOUT=gl200,0,0,0,,,,,,,,,,,,,,FFFF$"
    );
    assert!(matches!(
        enc(&mut s, Command::SetOutput { index: 4, on: true }),
        Err(EncodeError::Invalid(_))
    ));
    assert_eq!(
        enc(&mut s, Command::Text("AT+GTRTO=gv300,3,,,,,,0001$".into())).unwrap(),
        "AT+GTRTO=gv300,3,,,,,,0001$"
    );
    assert_eq!(s.encode(&Command::Bytes(vec![1, 2])).unwrap(), vec![1, 2]);
    for c in [
        Command::AlarmArm,
        Command::AlarmDisarm,
        Command::PositionPeriodic { interval_secs: 30 },
    ] {
        assert!(matches!(s.encode(&c), Err(EncodeError::Unsupported(_))));
    }
    let mut s = session().with_password("gv300");
    assert_eq!(
        enc(&mut s, Command::EngineStop).unwrap(),
        "AT+GTOUT=gv300,1,,,0,0,0,0,0,0,0,,,,,,,FFFF$"
    );
    let mut s = session().with_password("a,b");
    assert!(matches!(
        s.encode(&Command::EngineStop),
        Err(EncodeError::Invalid(_))
    ));
}

#[test]
fn set_output_has_the_gtout_field_count() {
    // Same number of fields as the engine-stop form: password + 16 parameters + serial.
    let mut s = session();
    let stop = s.encode(&Command::EngineStop).unwrap();
    let out = s
        .encode(&Command::SetOutput { index: 3, on: true })
        .unwrap();
    let commas = |b: &[u8]| b.iter().filter(|c| **c == b',').count();
    assert_eq!(commas(&stop), commas(&out));
}

// ---------------------------------------------------------------------------------------
// Robustness

// Arbitrary bytes are covered for every protocol by `protocol::tests`; these start from
// Queclink headers and real captures so that the input gets past the first checks.
proptest! {
    #[test]
    fn framer_headers_with_arbitrary_bodies(
        head in prop::sample::select(vec![
            b"+RSP".to_vec(), b"+INF".to_vec(), b"+HBD".to_vec(), b"+ACK".to_vec(),
            b"+LGN".to_vec(), b"+ATI".to_vec(), b"+\x00".to_vec(), b"-\x00".to_vec(),
            b"+\x10".to_vec(), b"+RESP:GT".to_vec(), b"+ACC".to_vec(),
        ]),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut s = session();
        let data = [head, body].concat();
        testing::check_cut(data.len(), &s.frame(&data)).map_err(TestCaseError::fail)?;
        let _ = s.decode(&data);
    }

    #[test]
    fn mutated_captures_never_panic(
        pick in 0usize..128,
        field in 0usize..64,
        value in prop::sample::select(vec![
            "", "0", "1", "FFFFFFFF", "-1", "99999999999999999999", "nan", "1.5", "FF",
            "-180.123456", "20241301000000", "7", "15", ",,,", "00:00", "H", "L/H",
        ]),
    ) {
        let caps = testing::captures(KEY);
        let c = &caps[pick % caps.len()];
        let text = String::from_utf8_lossy(&c.bytes).into_owned();
        let mut parts: Vec<&str> = text.split(',').collect();
        let i = field % parts.len();
        parts[i] = value;
        let mutated = parts.join(",");
        let mut s = session();
        let _ = s.decode(mutated.as_bytes());
        // Truncations too.
        for cut in [mutated.len() / 2, mutated.len() / 3] {
            if let Some(head) = mutated.get(..cut) {
                let _ = s.decode(head.as_bytes());
            }
        }
    }
}
