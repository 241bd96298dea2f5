//! Wialon IPS 1.1 and 2.0 (Gurtam's open text protocol): `#<type>#<fields>\r\n` lines.
//!
//! A connection starts with a login `#L#` (1.1: `imei;password`; 2.0:
//! `2.0;imei;password;crc16`). Data comes as short `#SD#` and extended `#D#` records and as
//! black boxes `#B#` of records separated by `|`; `#P#` is a ping, `#M#` a message from the
//! driver, `#I#` a photo block whose binary follows its header line. Version 2.0 appends a
//! CRC-16/ARC of everything after the second `#` up to and including the `;` (or `|`) before it.
//!
//! Over UDP each datagram is one packet prefixed with the identity: `imei#SD#...` (1.1) or
//! `2.0;imei#D#...` (2.0). Such prefixes are honoured on TCP too.
//!
//! Answers are the protocol's own codes, including its errors: a packet that fails its CRC
//! (with `strict_checksum`) or cannot be parsed is answered with the code that tells the
//! device (`#AL#10`, `#ASD#13`, `#AD#16`, `#AD#-1`, ...) and yields no records, instead of a
//! silent [`DecodeError::Reject`], because a device that gets no answer resends the same packet
//! and blocks its black box behind it. Bytes that are not a Wialon packet at all are rejected.

mod data;

#[cfg(test)]
mod tests;

use crate::checksum::crc16_arc;
use crate::command::{Command, EncodeError};
use crate::error::{DecodeError, FrameError};
use crate::message::{DeviceMessage, Record};
use crate::{Cut, Session, SessionConfig};

/// A line longer than this is not Wialon IPS: the peer speaks something else.
const MAX_LINE: usize = 64 * 1024;
/// The largest photo block accepted after an `#I#` header.
const MAX_IMAGE_BLOCK: usize = 64 * 1024;

/// The protocol version a device announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1_1,
    V2_0,
}

pub struct WialonSession {
    config: SessionConfig,
    device_id: Option<String>,
    version: Option<Version>,
}

impl WialonSession {
    pub fn new(config: &SessionConfig) -> Self {
        WialonSession {
            config: config.clone(),
            device_id: None,
            version: None,
        }
    }

    /// The identity from the last login (or UDP prefix).
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    /// The version from the last login (or UDP prefix); decides whether `#M#` carries a CRC.
    pub fn version(&self) -> Option<Version> {
        self.version
    }
}

impl Session for WialonSession {
    fn frame(&self, buf: &[u8]) -> Result<Cut, FrameError> {
        let window = buf.get(..MAX_LINE.min(buf.len())).unwrap_or(buf);
        let Some(nl) = window.iter().position(|&b| b == b'\n') else {
            return if buf.len() >= MAX_LINE {
                Err(FrameError::Fatal(
                    "line longer than any Wialon packet".into(),
                ))
            } else {
                Err(FrameError::Incomplete)
            };
        };
        let line_end = if nl > 0 && buf.get(nl - 1) == Some(&b'\r') {
            nl - 1
        } else {
            nl
        };
        let line = buf.get(..line_end).unwrap_or_default();
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(FrameError::reject(nl + 1, "empty line"));
        }
        let after_line = nl + 1;
        match image_block_len(line) {
            Some(Ok(size)) => {
                let end = after_line.saturating_add(size);
                if buf.len() < end {
                    Err(FrameError::Incomplete)
                } else {
                    Ok(Cut::whole(end))
                }
            }
            Some(Err(reason)) => Err(FrameError::Fatal(reason.into())),
            None => Ok(Cut {
                consumed: after_line,
                start: 0,
                end: line_end,
            }),
        }
    }

    fn decode(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        let (line, payload) = match frame.iter().position(|&b| b == b'\n') {
            Some(nl) => (
                frame.get(..nl).unwrap_or_default(),
                frame.get(nl + 1..).unwrap_or_default(),
            ),
            None => (frame, &[][..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let packet = Packet::parse(line)?;

        let mut msg = DeviceMessage::default();
        if let Some((version, id)) = packet.identity() {
            msg.device_id = Some(id.clone());
            self.device_id = Some(id);
            self.version = Some(version);
        }
        let strict = self.config.strict_checksum;
        let version = packet.version().or(self.version);

        let reply: String = match packet.kind {
            b"L" => self.login(&packet, strict, &mut msg),
            b"P" => "#AP#".into(),
            b"SD" => data_packet(&packet, true, strict, &mut msg),
            b"D" => data_packet(&packet, false, strict, &mut msg),
            b"B" => black_box(&packet, strict, &mut msg),
            b"M" => driver_message(&packet, version, strict, &mut msg),
            b"I" => image(&packet, payload)?,
            _ => return Err(DecodeError::reject("unsupported Wialon packet type")),
        };
        msg.reply = Some(format!("{reply}\r\n").into_bytes());
        Ok(msg)
    }

    fn encode(&mut self, command: &Command) -> Result<Vec<u8>, EncodeError> {
        match command {
            Command::Text(text) => {
                if text.contains(['\r', '\n']) {
                    return Err(EncodeError::Invalid(
                        "a message to the driver is one line".into(),
                    ));
                }
                Ok(match self.version {
                    Some(Version::V2_0) => {
                        let covered = format!("{text};");
                        format!("#M#{covered}{:04X}\r\n", crc16_arc(covered.as_bytes()))
                    }
                    _ => format!("#M#{text}\r\n"),
                }
                .into_bytes())
            }
            Command::Bytes(bytes) => Ok(bytes.clone()),
            other => Err(EncodeError::Unsupported(format!("{other:?}"))),
        }
    }
}

impl WialonSession {
    fn login(&mut self, packet: &Packet<'_>, strict: bool, msg: &mut DeviceMessage) -> String {
        let body = String::from_utf8_lossy(packet.body);
        let fields: Vec<&str> = body.split(';').collect();
        let first = fields.first().copied().unwrap_or_default();
        let (version, id) = if first.contains('.') {
            if strict && !crc_matches(packet.body, b';') {
                return "#AL#10".into();
            }
            (Version::V2_0, fields.get(1).copied().unwrap_or_default())
        } else {
            (Version::V1_1, first)
        };
        let id = id.trim();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return "#AL#0".into();
        }
        // The password is not checked here: trackd identifies devices by id, and a gateway
        // that wants passwords can answer `#AL#01` itself.
        self.device_id = Some(id.to_owned());
        self.version = Some(version);
        msg.device_id = Some(id.to_owned());
        "#AL#1".into()
    }
}

/// One packet line: `[prefix]#kind#body`.
struct Packet<'a> {
    prefix: &'a [u8],
    kind: &'a [u8],
    body: &'a [u8],
}

impl<'a> Packet<'a> {
    fn parse(line: &'a [u8]) -> Result<Self, DecodeError> {
        let not_wialon = || DecodeError::reject("not a Wialon IPS packet");
        let first = line
            .iter()
            .position(|&b| b == b'#')
            .ok_or_else(not_wialon)?;
        let rest = line.get(first + 1..).ok_or_else(not_wialon)?;
        let second = rest
            .iter()
            .position(|&b| b == b'#')
            .ok_or_else(not_wialon)?;
        let kind = rest.get(..second).unwrap_or_default();
        if kind.is_empty() || kind.len() > 3 || !kind.iter().all(u8::is_ascii_uppercase) {
            return Err(not_wialon());
        }
        Ok(Packet {
            prefix: line.get(..first).unwrap_or_default(),
            kind,
            body: rest.get(second + 1..).unwrap_or_default(),
        })
    }

    /// The UDP-style prefix: `imei` (1.1) or `version;imei` (2.0).
    fn identity(&self) -> Option<(Version, String)> {
        let prefix = std::str::from_utf8(self.prefix).ok()?.trim();
        if prefix.is_empty() {
            return None;
        }
        let (version, id) = match prefix.split_once(';') {
            Some((_, id)) => (Version::V2_0, id.trim()),
            None => (Version::V1_1, prefix),
        };
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()))
            .then(|| (version, id.to_owned()))
    }

    fn version(&self) -> Option<Version> {
        self.identity().map(|(v, _)| v)
    }
}

/// Whether the field after the last `separator` is the CRC-16/ARC of everything before it
/// (separator included). Devices write it as `7A01`, `7a01` or `0x9b0`.
fn crc_matches(body: &[u8], separator: u8) -> bool {
    let Some(at) = body.iter().rposition(|&b| b == separator) else {
        return false;
    };
    let (covered, field) = body.split_at(at + 1);
    let Ok(field) = std::str::from_utf8(field) else {
        return false;
    };
    let field = field.trim();
    let hex = field
        .strip_prefix("0x")
        .or_else(|| field.strip_prefix("0X"))
        .unwrap_or(field);
    !hex.is_empty()
        && hex.len() <= 4
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && u16::from_str_radix(hex, 16) == Ok(crc16_arc(covered))
}

/// `#SD#` (10 fields) or `#D#` (16 fields), one more when 2.0 appends its CRC.
fn data_packet(packet: &Packet<'_>, short: bool, strict: bool, msg: &mut DeviceMessage) -> String {
    let (answer, plain, bad_crc) = if short {
        ("#ASD#", 10, "13")
    } else {
        ("#AD#", 16, "16")
    };
    let body = String::from_utf8_lossy(packet.body);
    let fields: Vec<&str> = body.split(';').collect();
    let fields = if fields.len() == plain + 1 {
        if strict && !crc_matches(packet.body, b';') {
            return format!("{answer}{bad_crc}");
        }
        fields.get(..plain).unwrap_or_default()
    } else {
        &fields[..]
    };
    match data::record(fields) {
        Ok(record) => {
            msg.records.push(record);
            format!("{answer}1")
        }
        Err(code) => format!("{answer}{code}"),
    }
}

/// `#B#record|record|...[|crc16]`: history records, each in the `SD` or `D` layout. The answer
/// counts every record of the packet, those that failed to parse included: they would fail
/// again, and a lower count makes the device resend the whole box.
fn black_box(packet: &Packet<'_>, strict: bool, msg: &mut DeviceMessage) -> String {
    let body = String::from_utf8_lossy(packet.body);
    let mut segments: Vec<&str> = body.split('|').collect();
    let has_crc = segments.len() > 1
        && segments
            .last()
            .is_some_and(|s| !s.trim().is_empty() && !s.contains(';'));
    if has_crc {
        if strict && !crc_matches(packet.body, b'|') {
            return "#AB#0".into();
        }
        segments.pop();
    }
    let mut count = 0usize;
    for segment in segments.iter().filter(|s| !s.trim().is_empty()) {
        count += 1;
        let fields: Vec<&str> = segment.split(';').collect();
        if let Ok(mut record) = data::record(&fields) {
            record.buffered = true;
            msg.records.push(record);
        }
    }
    format!("#AB#{count}")
}

/// `#M#text` (1.1) or `#M#text;crc16` (2.0): a message the driver typed.
fn driver_message(
    packet: &Packet<'_>,
    version: Option<Version>,
    strict: bool,
    msg: &mut DeviceMessage,
) -> String {
    let mut text = packet.body;
    if version == Some(Version::V2_0) {
        if strict && !crc_matches(packet.body, b';') {
            return "#AM#01".into();
        }
        if let Some(at) = packet.body.iter().rposition(|&b| b == b';') {
            text = packet.body.get(..at).unwrap_or_default();
        }
    }
    let mut record = Record::default();
    record.set_io("wialon_message", String::from_utf8_lossy(text).into_owned());
    msg.records.push(record);
    "#AM#1".into()
}

/// `#I#size;index;count;date;time;name[;crc16]` and `size` bytes of the photo. trackd has no
/// media store: blocks are acknowledged (so the device moves on) and dropped.
fn image(packet: &Packet<'_>, payload: &[u8]) -> Result<String, DecodeError> {
    let body = String::from_utf8_lossy(packet.body);
    let fields: Vec<&str> = body.split(';').collect();
    let number = |i: usize| -> Result<usize, DecodeError> {
        fields
            .get(i)
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| DecodeError::reject("photo header"))
    };
    let (size, index, count) = (number(0)?, number(1)?, number(2)?);
    if payload.len() != size {
        return Err(DecodeError::reject(
            "photo block shorter than its header says",
        ));
    }
    let mut answer = format!("#AI#{index};1");
    if index.saturating_add(1) == count {
        answer.push_str("\r\n#AI#1");
    }
    Ok(answer)
}

/// For an `#I#` header line, the size of the binary block that follows it.
fn image_block_len(line: &[u8]) -> Option<Result<usize, &'static str>> {
    let packet = Packet::parse(line).ok()?;
    if packet.kind != b"I" {
        return None;
    }
    let size = packet
        .body
        .split(|&b| b == b';')
        .next()
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.trim().parse::<usize>().ok());
    Some(match size {
        Some(size) if size <= MAX_IMAGE_BLOCK => Ok(size),
        Some(_) => Err("photo block larger than any sane one"),
        None => Ok(0),
    })
}
