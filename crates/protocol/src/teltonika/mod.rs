//! Teltonika (FMB/FMC/FMM/FMU/FMT, legacy FM and GH3000): codecs 7, 8, 8 Extended and 16
//! for AVL data, codecs 12 and 13 for commands and their answers, over TCP and UDP.
//!
//! TCP: the device opens with its IMEI (`u16 length, ASCII`), answered `0x01`; then AVL
//! packets `00000000, u32 data length, codec .. count, u32 CRC-16/ARC`, each answered with
//! the record count as a big-endian `u32`. A lone `0xFF` is a keep-alive.
//! UDP: every datagram carries `u16 length, u16 packet id, 0x01, u8 AVL packet id, u16 IMEI
//! length, IMEI` before the AVL body (no CRC), answered
//! `00 05 <packet id> 01 <AVL packet id> <count>`.
//!
//! See `docs/protocols/teltonika.md` for the IO element table.

mod decode;
mod io;

#[cfg(test)]
mod tests;

use crate::checksum::crc16_arc;
use crate::command::{Command, EncodeError};
use crate::error::{DecodeError, FrameError};
use crate::message::{CommandReply, DeviceMessage, IoValue, Record};
use crate::reader::Reader;
use crate::{Cut, Session, SessionConfig, Transport};

use decode::{Layout, CODEC_12, CODEC_13};
use io::Family;

/// Larger than any AVL packet or photo chunk a Teltonika device sends.
pub const MAX_FRAME: usize = 64 * 1024;
/// An IMEI is 15 digits; leave room for odd identifiers, refuse anything longer.
const MAX_IMEI_LEN: usize = 32;
/// Codec 12 photo transfers are requested in chunks of this size.
const PHOTO_CHUNK: u32 = 2048;
/// A camera photo larger than this is not fetched (session memory is bounded).
const MAX_PHOTO: u32 = 2 * 1024 * 1024;
/// Photo transfers kept in flight per connection.
const MAX_PHOTOS: usize = 2;

/// A photo being fetched chunk by chunk over codec 12.
#[derive(Debug)]
struct Photo {
    id: u32,
    size: u32,
    data: Vec<u8>,
}

/// One Teltonika connection (TCP) or one device's datagrams (UDP).
#[derive(Debug)]
pub struct TeltonikaSession {
    transport: Transport,
    strict: bool,
    family: Family,
    /// Records carry a 16-byte element group after the 8-byte one. Off by default; a packet
    /// that only parses with the group is still decoded (see [`TeltonikaSession::decode`]).
    extended: bool,
    imei: Option<String>,
    photos: Vec<Photo>,
}

enum Ack {
    Tcp,
    Udp { packet_id: u16, avl_id: u8 },
}

impl TeltonikaSession {
    pub fn new(config: &SessionConfig) -> Self {
        TeltonikaSession {
            transport: config.transport,
            strict: config.strict_checksum,
            family: Family::from_model(config.model.as_deref()),
            extended: false,
            imei: None,
            photos: Vec::new(),
        }
    }

    /// Expects the 16-byte element group in every record (Traccar's `teltonika.extended`,
    /// needed by some FMB firmware). Without it such packets are still recognised, by a
    /// second parse when the first does not fit.
    pub fn with_extended(mut self, extended: bool) -> Self {
        self.extended = extended;
        self
    }

    /// The IMEI the device announced on this connection.
    pub fn device_id(&self) -> Option<&str> {
        self.imei.as_deref()
    }

    fn decode_login(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        let mut r = Reader::new(frame);
        let len = usize::from(r.u16()?);
        if len > MAX_IMEI_LEN {
            return Err(DecodeError::reject(format!("IMEI of {len} bytes")));
        }
        let imei = r.bytes(len)?;
        if r.remaining() != 0 {
            return Err(DecodeError::reject("bytes after the IMEI"));
        }
        let imei = ascii_id(imei)?;
        self.imei = Some(imei.clone());
        Ok(DeviceMessage {
            device_id: Some(imei),
            reply: Some(vec![0x01]),
            ..DeviceMessage::default()
        })
    }

    fn decode_tcp_data(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        let mut r = Reader::new(frame);
        if r.u32()? != 0 {
            return Err(DecodeError::reject("missing zero preamble"));
        }
        let declared = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
        let body = if self.strict {
            let len = frame
                .len()
                .checked_sub(12)
                .ok_or_else(|| DecodeError::reject("packet shorter than its header and CRC"))?;
            if declared != len {
                return Err(DecodeError::reject(format!(
                    "data length {declared} in a packet carrying {len}"
                )));
            }
            let body = frame
                .get(8..8 + len)
                .ok_or_else(|| DecodeError::reject("truncated"))?;
            let mut tail = Reader::new(frame.get(8 + len..).unwrap_or_default());
            let crc = tail.u32()?;
            let computed = crc16_arc(body);
            if crc != u32::from(computed) {
                return Err(DecodeError::reject(format!(
                    "CRC {crc:#06x}, computed {computed:#06x}"
                )));
            }
            body
        } else {
            // The length and CRC fields are not trusted: parse what is there.
            r.rest()
        };
        self.decode_body(body, Ack::Tcp)
    }

    fn decode_udp(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        let mut r = Reader::new(frame);
        let declared = usize::from(r.u16()?);
        if self.strict && declared != frame.len().saturating_sub(2) {
            return Err(DecodeError::reject(format!(
                "UDP length {declared} in a datagram of {}",
                frame.len()
            )));
        }
        let packet_id = r.u16()?;
        r.u8()?; // packet type, always 0x01
        let avl_id = r.u8()?;
        let len = usize::from(r.u16()?);
        if len > MAX_IMEI_LEN {
            return Err(DecodeError::reject(format!("IMEI of {len} bytes")));
        }
        let imei = ascii_id(r.bytes(len)?)?;
        let mut msg = self.decode_body(r.rest(), Ack::Udp { packet_id, avl_id })?;
        self.imei = Some(imei.clone());
        msg.device_id = Some(imei);
        Ok(msg)
    }

    fn decode_body(&mut self, body: &[u8], ack: Ack) -> Result<DeviceMessage, DecodeError> {
        let codec = *body
            .first()
            .ok_or_else(|| DecodeError::reject("empty AVL packet"))?;
        if codec == CODEC_12 || codec == CODEC_13 {
            return self.decode_serial(body);
        }
        if !decode::is_avl_codec(codec) {
            return Err(DecodeError::reject(format!("unknown codec {codec:#04x}")));
        }
        let (count, records) = self.parse_records(codec, body)?;
        let reply = match ack {
            Ack::Tcp => u32::from(count).to_be_bytes().to_vec(),
            Ack::Udp { packet_id, avl_id } => {
                let [hi, lo] = packet_id.to_be_bytes();
                vec![0x00, 0x05, hi, lo, 0x01, avl_id, count]
            }
        };
        Ok(DeviceMessage {
            device_id: None,
            records,
            reply: Some(reply),
            command_replies: Vec::new(),
        })
    }

    /// Tries the layouts a packet may have, strictest first. A device set up with the 16-byte
    /// element group says nothing about it, so a packet that does not fit the plain layout
    /// is tried with the group. Without `strict_checksum`, the CRC (or what is left of it)
    /// is still in `body`, and a last, lenient parse ignores the trailer altogether.
    fn parse_records(&self, codec: u8, body: &[u8]) -> Result<(u8, Vec<Record>), DecodeError> {
        let tail = if self.strict { 0 } else { 4 };
        let may_extend = !self.extended && codec != decode::CODEC_GH3000;
        let mut attempts = vec![(self.extended, Some(tail))];
        if may_extend {
            attempts.push((true, Some(tail)));
        }
        if !self.strict {
            attempts.push((self.extended, None));
        }
        let mut first_err = None;
        for (extended, trailer) in attempts {
            let layout = Layout {
                codec,
                extended,
                family: self.family,
                trailer,
            };
            match decode::parse_avl(body, layout) {
                Ok(parsed) => return Ok(parsed),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(|| DecodeError::reject("no layout fits")))
    }

    fn decode_serial(&mut self, body: &[u8]) -> Result<DeviceMessage, DecodeError> {
        let (codec, items) = decode::parse_serial(body, self.strict)?;
        let mut msg = DeviceMessage::default();
        let mut requests = Vec::new();
        for item in items {
            if codec == CODEC_12 && item.kind == 0x0D {
                if let Some(rec) = self.camera(item.data, &mut requests) {
                    msg.records.push(rec);
                }
                continue;
            }
            let (time, data) = if codec == CODEC_13 {
                decode::codec13_time(item.data)
            } else {
                (None, item.data)
            };
            let mut rec = Record {
                time,
                ..Record::default()
            };
            rec.set_io("command_type", i64::from(item.kind));
            match decode::printable(data) {
                Some(text) => {
                    decode::weighing(&mut rec, &text);
                    rec.set_io("command_result", text.clone());
                    msg.command_replies.push(CommandReply::Text(text));
                }
                None => {
                    rec.set_io("command_result", IoValue::Bytes(data.to_vec()));
                    msg.command_replies.push(CommandReply::Bytes(data.to_vec()));
                }
            }
            msg.records.push(rec);
        }
        if !requests.is_empty() {
            msg.reply = Some(requests);
        }
        Ok(msg)
    }

    /// Codec 12 camera messages: 1 announces a photo (id, size), 2 carries a chunk (id,
    /// offset, length, bytes). Each step is answered with a request for the next chunk;
    /// the finished photo comes out as a record with the JPEG in `image`.
    fn camera(&mut self, data: &[u8], requests: &mut Vec<u8>) -> Option<Record> {
        let mut r = Reader::new(data);
        match r.u8().ok()? {
            0x01 => {
                let id = r.u32().ok()?;
                // Without its size a photo cannot be requested.
                let size = r.u32().ok()?;
                if size == 0 || size > MAX_PHOTO {
                    return None;
                }
                self.photos.retain(|p| p.id != id);
                if self.photos.len() >= MAX_PHOTOS {
                    self.photos.remove(0);
                }
                self.photos.push(Photo {
                    id,
                    size,
                    data: Vec::new(),
                });
                requests.extend(photo_request(id, 0, size.min(PHOTO_CHUNK)));
                None
            }
            0x02 => {
                let id = r.u32().ok()?;
                let offset = r.u32().ok()?;
                let len = usize::from(r.u16().ok()?);
                let chunk = r.bytes(len).ok()?;
                let pos = self.photos.iter().position(|p| p.id == id)?;
                let photo = self.photos.get_mut(pos)?;
                let have = u32::try_from(photo.data.len()).ok()?;
                let fits = have
                    .checked_add(u32::try_from(len).ok()?)
                    .is_some_and(|end| end <= photo.size);
                if offset != have || !fits {
                    // Out of step: ask again for what is missing.
                    requests.extend(photo_request(
                        id,
                        have,
                        photo.size.saturating_sub(have).min(PHOTO_CHUNK),
                    ));
                    return None;
                }
                photo.data.extend_from_slice(chunk);
                let have = have.saturating_add(u32::try_from(len).ok()?);
                if have < photo.size {
                    requests.extend(photo_request(
                        id,
                        have,
                        photo.size.saturating_sub(have).min(PHOTO_CHUNK),
                    ));
                    return None;
                }
                let photo = self.photos.remove(pos);
                let mut rec = Record::default();
                rec.set_io("image", IoValue::Bytes(photo.data));
                Some(rec)
            }
            _ => None,
        }
    }
}

fn ascii_id(bytes: &[u8]) -> Result<String, DecodeError> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return Err(DecodeError::reject(
            "device identifier is not alphanumeric ASCII",
        ));
    }
    Ok(bytes.iter().map(|b| char::from(*b)).collect())
}

/// A codec 12 packet of one message: `00000000, u32 length, 0C 01 <kind> u32 size, payload,
/// 01, u32 CRC-16/ARC`.
fn codec12(kind: u8, payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let size = u32::try_from(payload.len())
        .ok()
        .filter(|n| (*n as usize) + 20 <= MAX_FRAME)
        .ok_or_else(|| EncodeError::Invalid(format!("{} bytes is too long", payload.len())))?;
    let mut out = Vec::with_capacity(payload.len() + 20);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(size + 8).to_be_bytes());
    out.extend_from_slice(&[CODEC_12, 0x01, kind]);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(payload);
    out.push(0x01);
    let crc = crc16_arc(out.get(8..).unwrap_or_default());
    out.extend_from_slice(&u32::from(crc).to_be_bytes());
    Ok(out)
}

fn photo_request(id: u32, offset: u32, size: u32) -> Vec<u8> {
    let mut payload = Vec::with_capacity(11);
    payload.push(0x02);
    payload.extend_from_slice(&id.to_be_bytes());
    payload.extend_from_slice(&offset.to_be_bytes());
    payload.extend_from_slice(&u16::try_from(size).unwrap_or(u16::MAX).to_be_bytes());
    codec12(0x0D, &payload).unwrap_or_default()
}

fn text_command(text: &str) -> Result<Vec<u8>, EncodeError> {
    if text.is_empty() {
        return Err(EncodeError::Invalid("empty command".into()));
    }
    if !text.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return Err(EncodeError::Invalid(
            "Teltonika commands are printable ASCII".into(),
        ));
    }
    codec12(0x05, text.as_bytes())
}

impl Session for TeltonikaSession {
    fn frame(&self, buf: &[u8]) -> Result<Cut, FrameError> {
        let Some(&first) = buf.first() else {
            return Err(FrameError::Incomplete);
        };
        if first == 0xFF {
            return Ok(Cut::whole(1));
        }
        let Some(&second) = buf.get(1) else {
            return Err(FrameError::Incomplete);
        };
        let head = usize::from(u16::from_be_bytes([first, second]));
        if head != 0 {
            // The IMEI handshake.
            if head > MAX_IMEI_LEN {
                return Err(FrameError::reject(1, format!("IMEI length {head}")));
            }
            let seen = buf.get(2..).unwrap_or_default();
            if seen.iter().take(head).any(|b| !b.is_ascii_alphanumeric()) {
                return Err(FrameError::reject(1, "IMEI is not ASCII"));
            }
            let total = head + 2;
            return if buf.len() < total {
                Err(FrameError::Incomplete)
            } else {
                Ok(Cut::whole(total))
            };
        }
        let preamble = buf.get(2..4.min(buf.len())).unwrap_or_default();
        if preamble.iter().any(|b| *b != 0) {
            return Err(FrameError::reject(1, "no zero preamble"));
        }
        let Some(len) = buf.get(4..8) else {
            return Err(FrameError::Incomplete);
        };
        let declared = len.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if declared > MAX_FRAME as u64 {
            return Err(FrameError::Fatal(format!("data length {declared}")));
        }
        let declared = declared as usize;
        if declared < 3 {
            // Not even a codec, a count and a count.
            return Err(FrameError::reject(1, format!("data length {declared}")));
        }
        let total = declared + 12;
        if buf.len() < total {
            return Err(FrameError::Incomplete);
        }
        Ok(Cut::whole(total))
    }

    /// A data packet whose records fit neither with nor without the 16-byte element group is
    /// rejected; one that fits only with it is decoded that way (the device was set up so).
    fn decode(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        if self.transport == Transport::Udp {
            return self.decode_udp(frame);
        }
        match frame {
            [0xFF] => Ok(DeviceMessage::default()),
            [0, 0, ..] => self.decode_tcp_data(frame),
            [_, _, ..] => self.decode_login(frame),
            _ => Err(DecodeError::reject("frame too short")),
        }
    }

    fn encode(&mut self, command: &Command) -> Result<Vec<u8>, EncodeError> {
        if self.transport == Transport::Udp {
            return Err(EncodeError::Unsupported(
                "codec 12 commands need the device's TCP connection".into(),
            ));
        }
        match command {
            Command::Text(text) => text_command(text),
            Command::Bytes(bytes) => {
                if bytes.is_empty() {
                    return Err(EncodeError::Invalid("empty command".into()));
                }
                codec12(0x05, bytes)
            }
            // Traccar's convention: the immobiliser relay sits on DOUT1.
            Command::EngineStop => text_command("setdigout 1"),
            Command::EngineResume => text_command("setdigout 0"),
            Command::PositionSingle => text_command("getrecord"),
            Command::SetOutput { index, on } => {
                if !(1..=4).contains(index) {
                    return Err(EncodeError::Invalid(format!("no output {index}")));
                }
                // `?` leaves the outputs before this one as they are.
                let mut arg = "?".repeat(usize::from(*index) - 1);
                arg.push(if *on { '1' } else { '0' });
                text_command(&format!("setdigout {arg}"))
            }
            other => Err(EncodeError::Unsupported(format!("{other:?}"))),
        }
    }
}
