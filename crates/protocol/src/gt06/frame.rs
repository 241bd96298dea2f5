//! Cutting GT06 frames out of a TCP stream, and splitting one into its fields.

use crate::checksum::crc16_x25;
use crate::error::{DecodeError, FrameError};
use crate::Cut;

const STOP: [u8; 2] = [0x0D, 0x0A];

/// Frames whose length field is wrong are cut at their stop bytes instead. They are short: a
/// stream that shows no stop bytes this far after such a header is not GT06, and the header is
/// dropped.
const MAX_IRREGULAR: usize = 1024;

/// Whether the stream head starts a basic (`78 78`) or an extended (`79 79`) frame.
fn header(buf: &[u8]) -> Option<bool> {
    match buf.get(..2)? {
        [0x78, 0x78] => Some(false),
        [0x79, 0x79] => Some(true),
        _ => None,
    }
}

/// Where the next plausible frame start is, to skip the garbage before it.
fn resync(buf: &[u8]) -> usize {
    (1..buf.len())
        .find(|&i| {
            let b = buf.get(i).copied();
            let next = buf.get(i + 1).copied();
            matches!(b, Some(0x78 | 0x79)) && (next.is_none() || next == b)
        })
        .unwrap_or(buf.len())
}

/// The first two bytes as a big-endian number.
fn be16(b: &[u8]) -> Option<u16> {
    match b {
        [hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

fn declared_len(buf: &[u8], extended: bool) -> Option<usize> {
    if extended {
        buf.get(2..).and_then(be16).map(usize::from)
    } else {
        buf.get(2).map(|&l| usize::from(l))
    }
}

fn stop_at(buf: &[u8], at: usize) -> bool {
    at.checked_add(2)
        .and_then(|end| buf.get(at..end))
        .is_some_and(|s| s == STOP)
}

/// Whether stop bytes at `at` can end a frame: the buffer ends there or the next frame starts.
fn boundary(buf: &[u8], at: usize) -> bool {
    if !stop_at(buf, at) {
        return false;
    }
    match buf.get(at + 2..).unwrap_or(&[]) {
        [] | [0x78] | [0x79] => true,
        next => header(next).is_some(),
    }
}

/// Cuts the first frame. A frame whose stop bytes sit where its length field says is cut
/// there (its content may itself hold `0D 0A`). Frames whose length field lies (Wi-Fi reports
/// that put the access-point count there, firmware that miscounts, a login cut short) are cut
/// at the first stop bytes that end the buffer or precede the next frame's start bytes, so
/// that a frame still arriving is not cut at stop bytes inside its content.
pub(super) fn cut(buf: &[u8]) -> Result<Cut, FrameError> {
    let Some(extended) = header(buf) else {
        return match buf {
            [] | [0x78] | [0x79] => Err(FrameError::Incomplete),
            _ => Err(FrameError::reject(resync(buf), "no GT06 start bytes")),
        };
    };
    let len_size = if extended { 2 } else { 1 };
    let Some(len) = declared_len(buf, extended) else {
        return Err(FrameError::Incomplete);
    };
    let total = 2 + len_size + len + 2;
    if buf.len() >= total {
        if stop_at(buf, total - 2) {
            return Ok(Cut::whole(total));
        }
        // Some firmware counts two bytes short of its frame.
        if stop_at(buf, total) {
            return Ok(Cut::whole(total + 2));
        }
    }
    let search_from = 2 + len_size + 1;
    // Irregular frames are short, so stop bytes further on are not theirs. Searching the whole
    // buffer made a stream of start bytes cost a pass over the buffer per two bytes skipped.
    let search_to = buf.len().min(MAX_IRREGULAR);
    if let Some(at) = (search_from..search_to).find(|&i| boundary(buf, i)) {
        return Ok(Cut::whole(at + 2));
    }
    if buf.len() > MAX_IRREGULAR.max(total + 2) {
        return Err(FrameError::reject(
            2,
            "length field disagrees with the stream and no stop bytes end the frame",
        ));
    }
    Err(FrameError::Incomplete)
}

/// One frame split into its fields.
#[derive(Clone, Debug)]
pub(super) struct Packet<'a> {
    pub extended: bool,
    /// The length field as sent.
    pub length: usize,
    pub kind: u8,
    /// Between the type and the serial number.
    pub content: &'a [u8],
    /// `None` when the frame has no room for one (only irregular frames).
    pub serial: Option<u16>,
    /// The length field does not match the frame: the content is everything after the type
    /// and may include the serial and CRC. Only accepted without strict checksums.
    pub irregular: bool,
}

/// Splits a frame (with or without its stop bytes) and verifies its CRC when `strict`.
pub(super) fn parse(frame: &[u8], strict: bool) -> Result<Packet<'_>, DecodeError> {
    let extended = header(frame).ok_or_else(|| DecodeError::reject("no GT06 start bytes"))?;
    let len_size = if extended { 2 } else { 1 };
    let length = declared_len(frame, extended)
        .ok_or_else(|| DecodeError::reject("frame shorter than its header"))?;
    let start = 2 + len_size;
    let end = start + length;
    // After the declared end only the stop bytes, or a part of them, may follow.
    let regular = length >= 5
        && frame
            .get(end..)
            .is_some_and(|tail| tail.len() <= 2 && STOP.starts_with(tail));
    if regular {
        let crc_at = end - 2;
        let covered = frame
            .get(2..crc_at)
            .ok_or_else(|| DecodeError::reject("frame shorter than its length field"))?;
        let crc = frame
            .get(crc_at..end)
            .and_then(be16)
            .ok_or_else(|| DecodeError::reject("frame shorter than its length field"))?;
        if strict && crc16_x25(covered) != crc {
            return Err(DecodeError::reject(format!(
                "CRC mismatch: frame says {crc:04x}, content gives {:04x}",
                crc16_x25(covered)
            )));
        }
        let kind = frame.get(start).copied().unwrap_or(0);
        let content = frame.get(start + 1..end - 4).unwrap_or(&[]);
        let serial = frame.get(end - 4..end - 2).and_then(be16);
        return Ok(Packet {
            extended,
            length,
            kind,
            content,
            serial,
            irregular: false,
        });
    }
    if strict {
        return Err(DecodeError::reject(format!(
            "length field {length} does not match a frame of {} bytes, so its CRC cannot be checked",
            frame.len()
        )));
    }
    let body = frame.strip_suffix(&STOP).unwrap_or(frame);
    let payload = body
        .get(start..)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| DecodeError::reject("frame without a type"))?;
    let kind = payload.first().copied().unwrap_or(0);
    let content = payload.get(1..).unwrap_or(&[]);
    // Where a regular frame's serial would be; the Wi-Fi formats carry none.
    let serial = if matches!(kind, 0x17 | 0x69) || payload.len() < 5 {
        None
    } else {
        let at = payload.len() - 4;
        payload.get(at..).and_then(be16)
    };
    Ok(Packet {
        extended,
        length,
        kind,
        content,
        serial,
        irregular: true,
    })
}
