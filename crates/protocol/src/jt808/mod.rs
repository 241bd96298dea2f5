//! JT/T 808 (2011, 2013 and 2019 headers), the Chinese road-transport terminal protocol, and
//! the vendor messages that ride on it (Jimi/Concox, Jointech JT701 e-locks, AOVX, OBD
//! boxes). TCP and UDP: on UDP a datagram is one frame given to [`Session::decode`].
//!
//! Frame: `0x7E header body checksum 0x7E` with 0x7E/0x7D escaped inside. Header:
//! message id, body properties (length in bits 0-9, encryption 10-12, subpackage 13,
//! version flag 14), then for 2019 a version byte and a 10-byte BCD phone, else a 6-byte
//! BCD phone, then the terminal's serial number and, when subpackaged, total and index.
//! The checksum is the XOR of header and body.
//!
//! Identity: every frame names its terminal, so every decoded message carries `device_id`
//! (see [`util::device_id`] for the form). Answers reuse the frame's own phone field and
//! header version, with the platform's serial number counting up per session.

mod encode;
mod frame;
mod items;
mod location;
mod util;
mod vendor;

#[cfg(test)]
mod tests;

use crate::checksum;
use crate::command::{Command, EncodeError};
use crate::error::{DecodeError, FrameError};
use crate::message::{CommandReply, DeviceMessage, Record, Timestamp};
use crate::reader::Reader;
use crate::{Cut, Session, SessionConfig};

use encode::{RESULT_OK, RESULT_UNSUPPORTED};
use util::{bcd_time, set_i, set_s, GMT8_SECS};

const TERMINAL_GENERAL_RESPONSE: u16 = 0x0001;
const HEARTBEAT: u16 = 0x0002;
const LOGOUT: u16 = 0x0003;
const RETRANSMIT_REQUEST: u16 = 0x0005;
const REGISTER: u16 = 0x0100;
const AUTH: u16 = 0x0102;
const PARAMETERS: u16 = 0x0104;
const ATTRIBUTES: u16 = 0x0107;
const TIME_SYNC: u16 = 0x0109;
const LOCATION: u16 = 0x0200;
const LOCATION_QUERY_RESPONSE: u16 = 0x0201;
const LOCATION_BATCH_2: u16 = 0x0210;
const VEHICLE_CONTROL_RESPONSE: u16 = 0x0500;
const HEARTBEAT_2: u16 = 0x0506;
const COMMAND_RESPONSE: u16 = 0x0701;
const DRIVER_IDENTITY: u16 = 0x0702;
const LOCATION_BATCH: u16 = 0x0704;
const MEDIA_EVENT: u16 = 0x0800;
const MEDIA_DATA: u16 = 0x0801;
const TRANSPARENT: u16 = 0x0900;
const COMPRESSED: u16 = 0x0901;
const TIMEZONE_SYNC: u16 = 0x1007;
const TEXT_RESPONSE: u16 = 0x1300;
const ACCELERATION: u16 = 0x2070;
const JT701_LOCATION: u16 = 0x5501;
const JT701_STORED: u16 = 0x5502;
const TEXT_REPORT: u16 = 0x6006;
const PHOTO: u16 = 0x8888;

/// Subpackaged messages are put back together up to this many packets; longer ones (photos
/// in 0x0801) are acknowledged packet by packet without being kept.
const MAX_PACKETS: u16 = 16;

/// A device model whose items differ from the common layout (`SessionConfig::model`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Model(Option<String>);

impl Model {
    fn is(&self, names: &[&str]) -> bool {
        self.0
            .as_deref()
            .is_some_and(|m| names.iter().any(|n| n.eq_ignore_ascii_case(m)))
    }
    fn padlock(&self) -> bool {
        self.is(&["G-360P", "G-508P"])
    }
    fn aovx(&self) -> bool {
        self.is(&["AL300", "GL100"])
    }
    fn jc(&self) -> bool {
        self.is(&["JC371", "JC181", "JC182", "JC450", "JC451"])
    }
    fn mv_door(&self) -> bool {
        self.is(&["MV810G", "MV710G"])
    }
    fn steps(&self) -> bool {
        self.is(&["C5", "C5L"])
    }
    fn dt800(&self) -> bool {
        self.is(&["DT800"])
    }
    fn vl300(&self) -> bool {
        self.is(&["VL300"])
    }
    fn g1c_pro(&self) -> bool {
        self.is(&["G1C Pro"])
    }
}

/// How to address the terminal: its phone field as sent, and the 2019 version if it used it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Terminal {
    phone: Vec<u8>,
    version: Option<u8>,
}

struct Header {
    id: u16,
    attr: u16,
    terminal: Terminal,
    serial: u16,
    /// (total, index from 1) of a subpackaged message.
    packet: Option<(u16, u16)>,
}

struct Reassembly {
    id: u16,
    total: u16,
    parts: Vec<Vec<u8>>,
}

pub struct Jt808Session {
    strict_checksum: bool,
    model: Model,
    terminal: Option<Terminal>,
    serial: u16,
    reassembly: Option<Reassembly>,
    /// The multimedia id of the photo or recording whose packets are arriving.
    media_id: Option<u32>,
    /// The server's time from [`Session::set_now`], for the answers that carry it (0x8109,
    /// the JT701 `BASE,2` time request).
    now: Option<Timestamp>,
}

impl Jt808Session {
    pub fn new(config: &SessionConfig) -> Self {
        Jt808Session {
            strict_checksum: config.strict_checksum,
            model: Model(config.model.clone()),
            terminal: None,
            serial: 0,
            reassembly: None,
            media_id: None,
            now: None,
        }
    }

    fn next_serial(&mut self) -> u16 {
        let s = self.serial;
        self.serial = self.serial.wrapping_add(1);
        s
    }

    fn general(&mut self, h: &Header, result: u8) -> Vec<u8> {
        let own = self.next_serial();
        encode::general(&h.terminal, own, h.serial, h.id, result)
    }

    fn reply(&mut self, h: &Header, id: u16, body: &[u8]) -> Vec<u8> {
        let own = self.next_serial();
        encode::message(&h.terminal, id, own, body)
    }

    /// JT701 text lines: `(id,1,001,BASE,2,TIME)` asks for the time, anything else is the
    /// answer to a command.
    fn decode_text(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        let line: String = util::text(frame);
        let mut msg = DeviceMessage {
            device_id: line
                .trim_start_matches('(')
                .split(',')
                .next()
                .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned),
            ..DeviceMessage::default()
        };
        if line.contains("BASE,2") {
            // Without the server's time there is nothing true to answer; the device asks again.
            msg.reply = self
                .now
                .map(|now| line.replace("TIME", &format_utc(now)).into_bytes());
        } else {
            let mut rec = Record::default();
            set_s(&mut rec, "result", line.clone());
            msg.records.push(rec);
            msg.command_replies.push(CommandReply::Text(line));
        }
        Ok(msg)
    }

    fn decode_binary(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        let inner = match frame {
            [frame::FLAG, inner @ .., frame::FLAG] => inner,
            _ => return Err(DecodeError::reject("frame is not delimited by 0x7E")),
        };
        if inner.len() > frame::MAX_CONTENT * 2 {
            return Err(DecodeError::reject("frame longer than any JT808 message"));
        }
        let content = frame::unescape(inner)?;
        let Some((&sum, data)) = content.split_last() else {
            return Err(DecodeError::reject("empty frame"));
        };
        if self.strict_checksum && checksum::xor(data) != sum {
            return Err(DecodeError::reject(format!(
                "checksum 0x{sum:02X}, computed 0x{:02X}",
                checksum::xor(data)
            )));
        }
        let mut r = Reader::new(data);
        let h = header(&mut r)?;
        let body = r.rest();
        self.terminal = Some(h.terminal.clone());
        let mut msg = DeviceMessage {
            device_id: Some(util::device_id(&h.terminal.phone)),
            ..DeviceMessage::default()
        };
        let vendor = matches!(h.id, JT701_LOCATION | JT701_STORED);
        if !vendor && (h.attr >> 10) & 0x7 != 0 {
            // RSA-encrypted body: we hold no keys, so say "not supported" rather than guess.
            msg.reply = Some(self.general(&h, RESULT_UNSUPPORTED));
            return Ok(msg);
        }
        if let Some((total, index)) = h.packet {
            match self.subpackage(&h, total, index, body) {
                Some(whole) => self.dispatch(&h, &whole, &mut msg)?,
                None => {
                    if h.id == MEDIA_DATA && index == 1 {
                        // The first packet holds the head; a bad one only costs the record.
                        self.media_id = self.media(body, &mut msg).unwrap_or(None);
                    }
                    msg.reply = Some(if h.id == MEDIA_DATA && index == total {
                        let id = self.media_id.take();
                        self.media_reply(&h, id)
                    } else {
                        self.general(&h, RESULT_OK)
                    });
                }
            }
            return Ok(msg);
        }
        self.dispatch(&h, body, &mut msg)?;
        Ok(msg)
    }

    /// Collects the packets of a subpackaged message; gives the whole body once the last one
    /// is in. Photos (0x0801) and messages longer than [`MAX_PACKETS`] are never kept.
    fn subpackage(&mut self, h: &Header, total: u16, index: u16, body: &[u8]) -> Option<Vec<u8>> {
        if h.id == MEDIA_DATA || total > MAX_PACKETS || index == 0 || index > total {
            self.reassembly = None;
            return None;
        }
        if index == 1 {
            self.reassembly = Some(Reassembly {
                id: h.id,
                total,
                parts: Vec::new(),
            });
        }
        let next = self.reassembly.as_ref().is_some_and(|r| {
            r.id == h.id && r.total == total && r.parts.len() + 1 == usize::from(index)
        });
        if !next {
            // A packet out of order: the message is lost, the device will resend it.
            self.reassembly = None;
            return None;
        }
        let r = self.reassembly.as_mut()?;
        r.parts.push(body.to_vec());
        if index < total {
            return None;
        }
        let whole = self.reassembly.take()?.parts.concat();
        Some(whole)
    }

    fn media_reply(&mut self, h: &Header, media_id: Option<u32>) -> Vec<u8> {
        // Multimedia id and no packets to resend.
        let mut body = media_id.unwrap_or(0).to_be_bytes().to_vec();
        body.push(0);
        self.reply(h, encode::MEDIA_RESPONSE, &body)
    }

    /// 0x0801 head: id, type, format, event, channel, then a basic location.
    fn media(&mut self, body: &[u8], msg: &mut DeviceMessage) -> Result<Option<u32>, DecodeError> {
        let mut r = Reader::new(body);
        let id = r.u32()?;
        let kind = r.u8()?;
        let format = r.u8()?;
        let event = r.u8()?;
        r.skip(1)?; // channel
        let location = r.bytes(28)?;
        let mut rec = location::location(&mut Reader::new(location), &self.model)?;
        set_i(&mut rec, "media_id", i64::from(id));
        set_i(&mut rec, "media_type", i64::from(kind));
        set_i(&mut rec, "media_format", i64::from(format));
        set_i(&mut rec, "media_event", i64::from(event));
        msg.records.push(rec);
        Ok(Some(id))
    }

    fn dispatch(
        &mut self,
        h: &Header,
        body: &[u8],
        msg: &mut DeviceMessage,
    ) -> Result<(), DecodeError> {
        match h.id {
            TERMINAL_GENERAL_RESPONSE => {
                let mut r = Reader::new(body);
                let serial = r.u16()?;
                let id = r.u16()?;
                let result = match r.u8()? {
                    0 => "success",
                    1 => "failure",
                    2 => "message error",
                    3 => "not supported",
                    4 => "alarm confirmed",
                    _ => "unknown result",
                };
                msg.command_replies.push(CommandReply::Text(format!(
                    "0x{id:04X} #{serial}: {result}"
                )));
            }
            HEARTBEAT => {
                msg.reply = Some(self.general(h, RESULT_OK));
                if let [battery, rssi, status, ..] = body {
                    let mut rec = Record::default();
                    util::set_battery_level(&mut rec, i64::from(*battery));
                    util::set_rssi(&mut rec, *rssi);
                    set_i(&mut rec, "status", i64::from(*status));
                    msg.records.push(rec);
                }
            }
            LOGOUT | RETRANSMIT_REQUEST | AUTH | HEARTBEAT_2 | TIMEZONE_SYNC | PHOTO
            | MEDIA_EVENT | COMPRESSED => {
                // 0x0901 is gzip-compressed transparent data; without an inflater it is
                // acknowledged and dropped.
                msg.reply = Some(self.general(h, RESULT_OK));
            }
            REGISTER => {
                // Result 0 and an authentication code: the terminal's own ID, which it sends
                // back in 0x0102.
                let mut body = h.serial.to_be_bytes().to_vec();
                body.push(RESULT_OK);
                body.extend_from_slice(util::device_id(&h.terminal.phone).as_bytes());
                msg.reply = Some(self.reply(h, encode::REGISTER_RESPONSE, &body));
            }
            PARAMETERS => {
                msg.command_replies
                    .push(CommandReply::Text(parameters(body)?));
            }
            ATTRIBUTES => {
                msg.reply = Some(self.general(h, RESULT_OK));
                msg.records
                    .push(vendor::attributes(body, h.terminal.version.is_some())?);
            }
            TIME_SYNC => {
                // Without the server's time there is nothing true to answer; the terminal
                // asks again.
                let Some(now) = self.now else {
                    return Ok(());
                };
                let days = now.secs().div_euclid(86_400);
                let secs = now.secs().rem_euclid(86_400);
                let (y, mo, d) = crate::time::civil_from_days(days);
                let mut body = u16::try_from(y).unwrap_or(0).to_be_bytes().to_vec();
                for v in [
                    i64::from(mo),
                    i64::from(d),
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60,
                ] {
                    body.push(u8::try_from(v).unwrap_or(0));
                }
                body.push(RESULT_OK);
                msg.reply = Some(self.reply(h, encode::TIME_SYNC_RESPONSE, &body));
            }
            LOCATION => {
                msg.reply = Some(self.general(h, RESULT_OK));
                msg.records
                    .push(location::location(&mut Reader::new(body), &self.model)?);
            }
            LOCATION_QUERY_RESPONSE | VEHICLE_CONTROL_RESPONSE => {
                let mut r = Reader::new(body);
                let serial = r.u16()?;
                msg.records.push(location::location(&mut r, &self.model)?);
                if h.id == VEHICLE_CONTROL_RESPONSE {
                    msg.command_replies.push(CommandReply::Text(format!(
                        "0x8500 #{serial}: vehicle control done"
                    )));
                }
            }
            LOCATION_BATCH_2 if body.len() == 7 => {
                // Battery level and time only.
                msg.reply = Some(self.general(h, RESULT_OK));
                let mut rec = Record::default();
                if let Some((&level, time)) = body.split_first() {
                    util::set_battery_level(&mut rec, i64::from(level));
                    rec.time = bcd_time(time, GMT8_SECS);
                }
                msg.records.push(rec);
            }
            LOCATION_BATCH | LOCATION_BATCH_2 => {
                msg.reply = Some(self.general(h, RESULT_OK));
                let mut r = Reader::new(body);
                let mut buffered = false;
                if h.id == LOCATION_BATCH {
                    r.skip(2)?; // count: the lengths tell
                    buffered = r.u8()? == 1;
                }
                while r.remaining() > 0 {
                    let len = if h.id == LOCATION_BATCH {
                        usize::from(r.u16()?)
                    } else {
                        usize::from(r.u8()?)
                    };
                    let mut rec = location::location(&mut Reader::new(r.bytes(len)?), &self.model)?;
                    rec.buffered |= buffered;
                    msg.records.push(rec);
                }
            }
            COMMAND_RESPONSE => {
                let mut r = Reader::new(body);
                let len = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
                let text = util::text(r.bytes(len.min(r.remaining()))?);
                msg.command_replies.push(CommandReply::Text(text));
            }
            DRIVER_IDENTITY => {
                msg.reply = Some(self.general(h, RESULT_OK));
                msg.records.push(vendor::driver_identity(body)?);
            }
            MEDIA_DATA => {
                let id = self.media(body, msg)?;
                msg.reply = Some(self.media_reply(h, id));
            }
            TRANSPARENT => {
                msg.reply = Some(self.general(h, RESULT_OK));
                msg.records.extend(vendor::transparent(body, &self.model)?);
            }
            TEXT_RESPONSE => {
                // Answered serial, then UTF-16BE text.
                let units: Vec<u16> = body
                    .get(2..)
                    .unwrap_or_default()
                    .chunks_exact(2)
                    .map(|c| match c {
                        [a, b] => u16::from_be_bytes([*a, *b]),
                        _ => 0,
                    })
                    .collect();
                let text = String::from_utf16_lossy(&units).trim().to_owned();
                msg.command_replies.push(CommandReply::Text(text));
            }
            ACCELERATION => msg.records.push(vendor::acceleration(body)?),
            JT701_LOCATION | JT701_STORED => {
                if h.attr & 0x8000 != 0 {
                    msg.reply = Some(encode::jt701_general(&h.terminal, h.id));
                }
                msg.records.push(vendor::jt701(body, h.id == JT701_STORED)?);
            }
            TEXT_REPORT => {
                msg.reply = Some(self.general(h, RESULT_OK));
                // Encoding byte, then the text.
                let text = util::text(body.get(1..).unwrap_or_default());
                msg.command_replies.push(CommandReply::Text(text));
            }
            _ => {}
        }
        Ok(())
    }
}

fn header(r: &mut Reader) -> Result<Header, DecodeError> {
    let id = r.u16()?;
    let attr = r.u16()?;
    if matches!(id, JT701_LOCATION | JT701_STORED) {
        // JT701: 2013 header with a one-byte serial; bit 15 asks for an answer.
        let phone = r.bytes(6)?.to_vec();
        let serial = u16::from(r.u8()?);
        return Ok(Header {
            id,
            attr,
            terminal: Terminal {
                phone,
                version: None,
            },
            serial,
            packet: None,
        });
    }
    let version = if attr & 0x4000 != 0 {
        Some(r.u8()?)
    } else {
        None
    };
    let phone = r.bytes(if version.is_some() { 10 } else { 6 })?.to_vec();
    let serial = r.u16()?;
    let packet = if attr & 0x2000 != 0 {
        Some((r.u16()?, r.u16()?))
    } else {
        None
    };
    // The length field is not checked against the body: terminals were seen to misstate it
    // (AOVX GL100), and the checksum already guards the frame.
    Ok(Header {
        id,
        attr,
        terminal: Terminal { phone, version },
        serial,
        packet,
    })
}

/// 0x0104: answered serial, count, then `id(4) length(1) value` parameters, as one line.
fn parameters(body: &[u8]) -> Result<String, DecodeError> {
    let mut r = Reader::new(body);
    let serial = r.u16()?;
    r.skip(1)?; // count: the entries tell
    let mut out = vec![format!("0x8104 #{serial}:")];
    while r.remaining() >= 5 {
        let id = r.u32()?;
        let len = usize::from(r.u8()?);
        let Ok(v) = r.bytes(len) else { break };
        let value = match (id, v) {
            // Strings: APN, user names, server addresses, plate number.
            (0x0010..=0x0017 | 0x001A | 0x001D | 0x0048 | 0x0049 | 0x0083, _) => util::text(v),
            (_, [a]) => a.to_string(),
            (_, [a, b]) => u16::from_be_bytes([*a, *b]).to_string(),
            (_, [a, b, c, d]) => u32::from_be_bytes([*a, *b, *c, *d]).to_string(),
            _ => util::hex(v),
        };
        out.push(format!("0x{id:04X}={value}"));
    }
    Ok(out.join(" "))
}

/// `yyyyMMddHHmmss` in UTC, as JT701 wants the time.
fn format_utc(t: Timestamp) -> String {
    let secs = t.secs();
    let (y, mo, d) = crate::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}{mo:02}{d:02}{:02}{:02}{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

impl Session for Jt808Session {
    fn frame(&self, buf: &[u8]) -> Result<Cut, FrameError> {
        frame::cut(buf)
    }

    fn decode(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        if frame.first() == Some(&b'(') {
            self.decode_text(frame)
        } else {
            self.decode_binary(frame)
        }
    }

    fn encode(&mut self, command: &Command) -> Result<Vec<u8>, EncodeError> {
        if let Command::Bytes(raw) = command {
            // A whole message composed by the user, sent as it is (as Traccar's custom
            // command does): header, checksum and escaping are theirs.
            return Ok(raw.clone());
        }
        let (id, body) = encode::command_body(command)?;
        let Some(terminal) = self.terminal.clone() else {
            return Err(EncodeError::Invalid(
                "the terminal has not sent a frame yet: its phone number is unknown".into(),
            ));
        };
        let serial = self.next_serial();
        Ok(encode::message(&terminal, id, serial, &body))
    }

    fn set_now(&mut self, now: Timestamp) {
        self.now = Some(now);
    }
}
