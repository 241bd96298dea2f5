//! Cutting Queclink frames out of a TCP stream.
//!
//! Three wire formats share the port (see `docs/protocols/gl200.md`):
//! - ASCII @Track: `+RESP:`/`+BUFF:`/`+ACK:`... sentences ending with `$` (or NUL on the
//!   GT300 dialect). No length, no checksum: the delimiter is the frame.
//! - HEX @Track: `+RSP`, `+EVT`, `+INF`, `+HBD`... with a length field whose offset depends
//!   on the header, ending with `\r\n`.
//! - @Track Protocol Pro: `0x2B`/`0x2D`, `0x00`, u16 length ... `$`; heartbeat `0x2B 0x10 len`.

use crate::error::FrameError;
use crate::{resync, Cut};

/// Longest ASCII sentence we wait for: GTERI with a CAN block or GTBDR payloads run to
/// about 1.5 KB; anything beyond this without a `$` is not a sentence.
pub(super) const MAX_TEXT_FRAME: usize = 8 * 1024;

/// HEX headers and where their length field sits: (header, offsets to try, width).
const BINARY_HEADERS: &[(&[u8; 4], &[usize], usize)] = &[
    (b"+RSP", &[9], 2),
    (b"+BSP", &[9], 2),
    (b"+EVT", &[9], 2),
    (b"+BVT", &[9], 2),
    (b"+CAN", &[9], 2),
    (b"+DAT", &[9], 2),
    // The expansion mask is model dependent: the CRC-less check below picks the candidate
    // that ends with CRLF.
    (b"+INF", &[7, 9], 2),
    (b"+BNF", &[7, 9], 2),
    (b"+HBD", &[5], 1),
    (b"+CRD", &[6], 2),
    (b"+BRD", &[6], 2),
    (b"+LGN", &[6], 2),
    (b"+ATI", &[4], 1),
];

/// Is this frame one of the binary formats (HEX @Track or Protocol Pro)?
pub(super) fn is_binary(frame: &[u8]) -> bool {
    match (frame.first(), frame.get(1)) {
        (Some(b'+' | b'-'), Some(0x00)) | (Some(b'+'), Some(0x10)) => return true,
        _ => {}
    }
    let Some(head) = frame.get(..4) else {
        return false;
    };
    if head == b"+ACK" {
        return frame.get(4).is_some_and(|b| *b != b':');
    }
    head == b"+ACC" || BINARY_HEADERS.iter().any(|(h, _, _)| head == &h[..])
}

pub(super) fn frame(buf: &[u8]) -> Result<Cut, FrameError> {
    let Some(&first) = buf.first() else {
        return Err(FrameError::Incomplete);
    };
    if first != b'+' && first != b'-' {
        return Err(skip_to_next_start(buf, "no '+' at frame start"));
    }
    // Protocol Pro report (real-time `+` or buffered `-`) and heartbeat.
    if let Some(&id) = buf.get(1) {
        if id == 0x00 {
            return pro_report(buf);
        }
        if id == 0x10 && first == b'+' {
            return sized(buf, 2, 1, b"$");
        }
    }
    if first == b'-' {
        return if buf.len() < 2 {
            Err(FrameError::Incomplete)
        } else {
            Err(skip_to_next_start(
                buf,
                "'-' not followed by a Protocol Pro identifier",
            ))
        };
    }
    if buf.len() < 5 {
        return Err(FrameError::Incomplete);
    }
    let head = buf.get(..4).unwrap_or_default();
    if head == b"+ACK" && buf.get(4) != Some(&b':') {
        return sized(buf, 6, 1, b"\r\n");
    }
    if head == b"+ACC" {
        // No length field and no documented fixed size: guessing would desynchronise the
        // stream for good, so give up on the connection.
        return Err(FrameError::Fatal(
            "HEX +ACC frame carries no length field".into(),
        ));
    }
    if let Some((_, offsets, width)) = BINARY_HEADERS.iter().find(|(h, _, _)| head == &h[..]) {
        return hex_frame(buf, offsets, *width);
    }
    text(buf)
}

/// ASCII sentence: up to the first `$` or NUL, delimiter consumed but not part of the frame.
fn text(buf: &[u8]) -> Result<Cut, FrameError> {
    let limit = buf.len().min(MAX_TEXT_FRAME.saturating_add(1));
    let window = buf.get(..limit).unwrap_or(buf);
    match window.iter().position(|b| *b == b'$' || *b == 0) {
        Some(end) => Ok(Cut {
            consumed: end.saturating_add(1),
            start: 0,
            end,
        }),
        None if buf.len() > MAX_TEXT_FRAME => Err(FrameError::reject(
            resync::skip_unterminated(
                buf,
                MAX_TEXT_FRAME,
                |b| b == b'$' || b == 0,
                |b| b == b'+',
                // A '+' too close to the end to tell is tried too.
                |head| {
                    head.first() == Some(&b'-')
                        || (head.len() < 5 && head.first() == Some(&b'+'))
                        || is_binary(head)
                },
            ),
            "text sentence longer than the maximum without a '$'",
        )),
        None => Err(FrameError::Incomplete),
    }
}

fn pro_report(buf: &[u8]) -> Result<Cut, FrameError> {
    sized(buf, 2, 2, b"$")
}

/// HEX @Track: try each candidate length offset, accept the one whose frame ends in CRLF.
fn hex_frame(buf: &[u8], offsets: &[usize], width: usize) -> Result<Cut, FrameError> {
    let mut incomplete = false;
    for &off in offsets {
        match sized(buf, off, width, b"\r\n") {
            Ok(cut) => return Ok(cut),
            Err(FrameError::Incomplete) => incomplete = true,
            Err(_) => {}
        }
    }
    if incomplete {
        Err(FrameError::Incomplete)
    } else {
        Err(skip_to_next_start(
            buf,
            "HEX frame length does not end on CRLF",
        ))
    }
}

/// A frame whose total length is a big-endian field at `off` of `width` bytes and that must
/// end with `tail`.
fn sized(buf: &[u8], off: usize, width: usize, tail: &[u8]) -> Result<Cut, FrameError> {
    let Some(field) = buf.get(off..off.saturating_add(width)) else {
        return Err(FrameError::Incomplete);
    };
    let len = field
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    if len < off.saturating_add(width).saturating_add(tail.len()) {
        return Err(skip_to_next_start(
            buf,
            "length field shorter than the header",
        ));
    }
    let Some(frame) = buf.get(..len) else {
        return Err(FrameError::Incomplete);
    };
    if !frame.ends_with(tail) {
        return Err(skip_to_next_start(
            buf,
            "frame does not end where its length says",
        ));
    }
    Ok(Cut::whole(len))
}

/// Drops everything up to the next byte that could start a frame.
fn skip_to_next_start(buf: &[u8], reason: &str) -> FrameError {
    let skip = buf
        .iter()
        .skip(1)
        .position(|b| *b == b'+' || *b == b'-')
        .map_or(buf.len(), |p| p.saturating_add(1));
    FrameError::reject(skip, reason)
}
