//! ASCII @Track sentences -> [`DeviceMessage`].
//!
//! Layouts differ by model and firmware. Where a layout can be checked (a position block
//! has coordinates where it should, a device status field has six hex digits) the decoder
//! checks it and falls back to a position search rather than misreading shifted fields.

use super::can;
use super::fields::{
    apply_motion_state, float, hex, int, is_hex_len, is_vin, millivolts, percent, Fields,
};
use super::frame::is_binary;
use super::Gl200Session;
use super::{info, reports};
use crate::error::DecodeError;
use crate::message::{Alarm, CommandReply, DeviceMessage, Record, Timestamp};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Resp,
    Buff,
    Ack,
    Nack,
}

/// Models by the prefix of `<Protocol Version>` (2 hex digits, or 6 for the 10-digit form).
const MODELS: &[(&str, &str)] = &[
    ("02", "GL200"),
    ("04", "GV200"),
    ("06", "GV300"),
    ("08", "GMT100"),
    ("09", "GV50P"),
    ("0F", "GV55"),
    ("10", "GV55LITE"),
    ("11", "GL500"),
    ("1A", "GL300"),
    ("1F", "GV500"),
    ("21", "GL200"),
    ("25", "GV300"),
    ("27", "GV300W"),
    ("28", "GL300VC"),
    ("2C", "GL300W"),
    ("2D", "GV500VC"),
    ("2F", "GV55"),
    ("30", "GL300"),
    ("31", "GV65"),
    ("35", "GV200"),
    ("36", "GV500"),
    ("3F", "GMT100"),
    ("40", "GL500"),
    ("41", "GV75W"),
    ("42", "GT501"),
    ("44", "GL530"),
    ("45", "GB100"),
    ("4F", "GV56"),
    ("50", "GV55W"),
    ("52", "GL50"),
    ("55", "GL50B"),
    ("5E", "GV500MAP"),
    ("6E", "GV310LAU"),
    ("74", "GV350CEU"),
    ("BD", "CV200"),
    ("C2", "GV600M"),
    ("C3", "GL320M"),
    ("DC", "GV600MG"),
    ("DE", "GL500M"),
    ("DF", "CV100LG"),
    ("F1", "GV350M"),
    ("F8", "GV800W"),
    ("FC", "GV600W"),
    ("802004", "GV58LAU"),
    ("802005", "GV355CEU"),
    ("80201E", "GV30CEU"),
];

pub(super) fn model_of(version: &str) -> Option<&'static str> {
    let prefix = if version.len() > 6 {
        version.get(..6)?
    } else {
        version.get(..2)?
    };
    MODELS
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(prefix))
        .map(|(_, m)| *m)
}

fn valid_id(s: &str) -> bool {
    (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What one sentence carries, plus what the event rules need to know about its layout.
pub(super) struct Ctx<'a, 'f> {
    pub(super) f: &'f Fields<'a>,
    pub(super) model: &'f str,
    pub(super) ty: &'a str,
    /// Index of `<Device Name>`.
    pub(super) name: usize,
    pub(super) vin: Option<&'a str>,
    pub(super) send: Option<Timestamp>,
}

pub(super) struct Decoded {
    pub(super) records: Vec<Record>,
    /// `<Report ID/Report Type>` when the layout has one.
    pub(super) report_type: Option<u64>,
    /// Index of the first position block, when one was found.
    pub(super) block: Option<usize>,
}

impl Decoded {
    pub(super) fn one(rec: Record) -> Self {
        Decoded {
            records: vec![rec],
            report_type: None,
            block: None,
        }
    }
}

pub(super) fn decode(s: &mut Gl200Session, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
    if is_binary(frame) {
        return Err(DecodeError::reject("binary Queclink format not supported"));
    }
    let owned = String::from_utf8_lossy(frame);
    let trim = |t: &'_ str| -> String {
        t.trim_start_matches(|c: char| c.is_whitespace() || c == '\0')
            .trim_end_matches(|c: char| c == '\0' || c.is_whitespace())
            .to_owned()
    };
    let sentences: Vec<String> = owned
        .split('$')
        .map(trim)
        .filter(|t| !t.is_empty())
        .collect();
    if sentences.len() <= 1 {
        return decode_sentence(s, sentences.first().map_or("", String::as_str));
    }
    // A datagram (or a device in multi-packet mode) may carry several sentences: decode
    // each, answer each, and keep what decoded.
    let mut merged = DeviceMessage::default();
    let mut first_error = None;
    let mut any = false;
    for sentence in &sentences {
        match decode_sentence(s, sentence) {
            Ok(m) => {
                any = true;
                merged.device_id = m.device_id.or(merged.device_id);
                merged.records.extend(m.records);
                merged.command_replies.extend(m.command_replies);
                if let Some(r) = m.reply {
                    merged.reply.get_or_insert_with(Vec::new).extend(r);
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match (any, first_error) {
        (false, Some(e)) => Err(e),
        _ => Ok(merged),
    }
}

fn decode_sentence(s: &mut Gl200Session, text: &str) -> Result<DeviceMessage, DecodeError> {
    let (header, _) = text
        .split_once(':')
        .ok_or_else(|| DecodeError::reject("no ':' after the message header"))?;
    let kind = match header {
        "+RESP" => Kind::Resp,
        "+BUFF" => Kind::Buff,
        "+ACK" => Kind::Ack,
        "+NACK" => Kind::Nack,
        other => {
            return Err(DecodeError::reject(format!(
                "unknown Queclink header {:?}",
                other.get(..other.len().min(16)).unwrap_or("")
            )))
        }
    };
    let f = Fields::new(text);
    let message = f.raw(0).split_once(':').map_or("", |(_, m)| m);

    if kind == Kind::Nack {
        // `+NACK:<command>,<IMEI>,...`: a refused command, never data.
        let id = f.raw(1);
        return Ok(DeviceMessage {
            device_id: valid_id(id).then(|| id.to_owned()),
            command_replies: vec![CommandReply::Text(text.to_owned())],
            ..DeviceMessage::default()
        });
    }

    let version = f.raw(1);
    // The GT300 dialect has the IMEI where the protocol version should be.
    let gt300 = version.len() > 10;
    let id = if gt300 { version } else { f.raw(2) };
    if !valid_id(id) {
        return Err(DecodeError::reject("no device identifier in the sentence"));
    }
    s.device_id = Some(id.to_owned());

    // A session is one device, so a model learnt from an earlier sentence still holds when
    // a report leaves its version empty; an unknown version means an unknown model.
    let model: String = match (&s.model_override, model_of(version)) {
        (Some(m), _) => m.clone(),
        (None, Some(m)) => {
            s.model = m.to_owned();
            m.to_owned()
        }
        (None, None) if version.is_empty() => s.model.clone(),
        (None, None) => String::new(),
    };

    let ty = message.strip_prefix("GT").unwrap_or(message);
    let mut out = DeviceMessage {
        device_id: Some(id.to_owned()),
        ..DeviceMessage::default()
    };

    if kind == Kind::Ack {
        if ty == "HBD" {
            // The one reply every @Track document makes mandatory. The version is echoed
            // as received; GT300 heartbeats get none (their SACK format is undocumented).
            if !gt300 {
                if let Some(count) = f.count() {
                    out.reply = Some(format!("+SACK:GTHBD,{version},{count}$").into_bytes());
                }
            }
            return Ok(out);
        }
        out.command_replies
            .push(CommandReply::Text(text.to_owned()));
        let mut rec = Record {
            time: f.send_time(),
            ..Record::default()
        };
        rec.set_io("gl200_command_ack", message);
        out.records.push(rec);
        return Ok(out);
    }

    if gt300 && ty == "INF" {
        return Ok(out);
    }

    let (name, vin) = if !gt300 && is_vin(f.get(3)) {
        (4, Some(f.get(3)))
    } else if gt300 {
        (1, None)
    } else {
        (3, None)
    };
    let ctx = Ctx {
        f: &f,
        model: &model,
        ty,
        name,
        vin,
        send: f.send_time(),
    };
    let mut decoded = match ty {
        "INF" => info::inf(&ctx),
        "OBD" => info::obd(&ctx),
        "CAN" => info::can_report(&ctx),
        "ERI" => reports::eri(&ctx),
        "IGN" | "IGF" | "VGN" | "VGF" => reports::ign(&ctx),
        "WIF" => info::wif(&ctx),
        "GSM" => info::gsm(&ctx),
        "LBS" => info::lbs(&ctx),
        "VER" => info::ver(&ctx),
        "PNA" | "PFA" => Some(Decoded::one(Record {
            time: ctx.send,
            ..Record::default()
        })),
        "DTT" => info::dtt(&ctx),
        "FRI" | "GEO" | "RTL" | "DOG" | "SOS" | "SPD" | "HBM" | "TOW" | "EPS" | "DIS" | "IOB"
        | "IGL" | "GES" | "GIN" | "GOT" | "PNL" | "IDL" => reports::fri_like(&ctx),
        _ => None,
    }
    .unwrap_or_else(|| reports::generic(&ctx));

    if decoded.records.is_empty() {
        decoded.records.push(Record {
            time: ctx.send,
            ..Record::default()
        });
    }
    if let Some(last) = decoded.records.last_mut() {
        events(&ctx, &decoded.report_type, decoded.block, last);
        if let Some(vin) = ctx.vin {
            last.set_io("obd_vin", vin);
        }
    }
    for rec in &mut decoded.records {
        rec.buffered = kind == Kind::Buff;
        rec.set_io("gl200_event", ty);
    }
    out.records = decoded.records;

    // With <SACK Enable> the device waits for its count number back; without it the SACK
    // is ignored, so every report gets one (after commit, by the gateway).
    if !gt300 {
        if let Some(count) = f.count() {
            out.reply = Some(format!("+SACK:{count}$").into_bytes());
        }
    }
    Ok(out)
}

/// Alarms and states carried by the message type and its report type.
fn events(ctx: &Ctx, rt: &Option<u64>, block: Option<usize>, rec: &mut Record) {
    let f = ctx.f;
    let n = ctx.name;
    let lo = rt.map(|v| v & 0x0F);
    let hi = rt.map(|v| v >> 4);
    match ctx.ty {
        "SOS" => rec.alarms.push(Alarm::Sos),
        "SPD" if lo != Some(1) => rec.alarms.push(Alarm::Overspeed),
        "TOW" => rec.alarms.push(Alarm::Other("tow".into())),
        "IDL" => rec.alarms.push(Alarm::Idle),
        "PNA" => rec.alarms.push(Alarm::Other("power_on".into())),
        "PFA" => rec.alarms.push(Alarm::Other("power_off".into())),
        "EPN" | "MPN" => rec.alarms.push(Alarm::PowerRestored),
        "EPF" | "MPF" => rec.alarms.push(Alarm::PowerCut),
        "BPL" => {
            rec.alarms.push(Alarm::LowBattery);
            let at = block.map_or(n + 1, |b| b.saturating_sub(1));
            if let Some(v) = float(f.get(at)) {
                rec.set_io("battery_voltage", v);
            }
        }
        "TMP" | "TEM" => rec.alarms.push(Alarm::Temperature),
        "JDR" | "JDS" | "GPJ" => rec.alarms.push(Alarm::Jamming),
        "CRA" => rec.alarms.push(Alarm::Accident),
        "SWG" => rec.alarms.push(Alarm::Other("geofence".into())),
        "GEO" => match lo {
            Some(1) => rec.alarms.push(Alarm::GeofenceEnter),
            Some(0) => rec.alarms.push(Alarm::GeofenceExit),
            _ => {}
        },
        "HBM" => match lo {
            Some(0) => rec.alarms.push(Alarm::HardBraking),
            Some(1) => rec.alarms.push(Alarm::HardAcceleration),
            Some(2) => rec.alarms.push(Alarm::HardCornering),
            Some(3) => rec
                .alarms
                .extend([Alarm::HardBraking, Alarm::HardCornering]),
            Some(4) => rec
                .alarms
                .extend([Alarm::HardAcceleration, Alarm::HardCornering]),
            _ => {}
        },
        "NMR" => rec.motion = rt.map(|v| v == 1),
        "DIS" | "IOB" => {
            if let (Some(h), Some(l)) = (hi, lo) {
                rec.set_io(format!("gl200_input_{h}"), l == 1);
            }
        }
        // 0 = on, 1 = off, except on CV200 where the documents say the opposite.
        "IGL" | "VGL" => {
            if let Some(l) = lo {
                rec.ignition = Some(if ctx.model == "CV200" { l == 1 } else { l == 0 });
            }
        }
        "STT" => {
            if let Some(state) = block.and_then(|b| hex(f.get(b.saturating_sub(1)))) {
                apply_motion_state(rec, state);
            }
        }
        "LSW" | "TSW" => {
            let input = if ctx.ty == "LSW" { 1 } else { 2 };
            if let Some(v) = int(f.get(n + 2)) {
                rec.set_io(format!("gl200_input_{input}"), v == 1);
            }
        }
        "IDA" => {
            let key = f.get(n + 2);
            if !key.is_empty() {
                rec.hardware_key = Some(key.to_owned());
            }
        }
        "DAR" => {
            let warning = int(f.get(n + 1));
            let degree = int(f.get(n + 2));
            if warning == Some(1) {
                rec.alarms.push(Alarm::Fatigue);
                if let Some(d) = degree {
                    rec.set_io("gl200_fatigue_degree", d);
                }
            } else if let Some(w) = warning {
                rec.set_io("gl200_warning_type", w);
            }
        }
        "DAT" => {
            let data = f.get(n + 4);
            if !data.is_empty() {
                rec.set_io("gl200_data", data);
            }
        }
        "BID" => accessory(rec, f, n + 3, &[(1, "mac"), (3, "voltage")]),
        "BAA" => accessory(
            rec,
            f,
            n + 5,
            &[
                (0, "name"),
                (1, "mac"),
                (2, "status"),
                (3, "voltage"),
                (4, "temp"),
                (5, "humidity"),
            ],
        ),
        "STR" | "CTN" if ctx.model == "GL500" || ctx.model == "GL530" => {
            if let Some(b) = percent(f.get(n + 5)) {
                rec.battery_level = Some(b);
            }
        }
        _ => {}
    }
}

/// Bluetooth accessory fields selected by an append mask at `at`.
fn accessory(rec: &mut Record, f: &Fields, at: usize, layout: &[(u32, &str)]) {
    let Some(mask) = hex(f.get(at)) else { return };
    let mut c = f.cursor(at + 1);
    for (bit, what) in layout {
        if !can::has(mask, *bit) {
            continue;
        }
        let v = c.next();
        match *what {
            "voltage" => {
                if let Some(volts) = millivolts(v) {
                    rec.set_io("gl200_accessory_voltage", volts);
                }
            }
            "temp" | "humidity" | "status" => {
                if let Some(x) = float(v) {
                    rec.set_io(format!("gl200_accessory_{what}"), x);
                }
            }
            _ if !v.is_empty() => rec.set_io(format!("gl200_accessory_{what}"), v),
            _ => {}
        }
    }
}

pub(super) fn report_type(s: &str) -> Option<u64> {
    if is_hex_len(s, &[1, 2]) {
        hex(s)
    } else {
        None
    }
}
