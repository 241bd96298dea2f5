//! Cutting frames out of a TCP stream, and the 0x7E/0x7D byte stuffing.
//!
//! A binary frame is `0x7E <escaped content> 0x7E`; inside it 0x7E is sent as 0x7D 0x02 and
//! 0x7D as 0x7D 0x01, so the next 0x7E always closes the frame. JT701 e-locks mix in text
//! frames `( ... )` on the same connection.

use crate::error::{DecodeError, FrameError};
use crate::{resync, Cut};

pub(super) const FLAG: u8 = 0x7E;
const ESCAPE: u8 = 0x7D;

/// The largest unescaped frame: 2019 header (17 bytes) + subpackage fields (4) + a 1023-byte
/// body + checksum. Escaping can at most double it, and the two flags come on top.
pub(super) const MAX_CONTENT: usize = 17 + 4 + 1023 + 1;
const MAX_FRAME: usize = 2 * MAX_CONTENT + 2;
/// JT701 text frames are short status lines; anything longer is not one.
const MAX_TEXT: usize = 1024;

pub(super) fn cut(buf: &[u8]) -> Result<Cut, FrameError> {
    let Some(&first) = buf.first() else {
        return Err(FrameError::Incomplete);
    };
    match first {
        FLAG => match buf.iter().skip(1).position(|&b| b == FLAG) {
            // Two flags in a row: the first one closed a frame we never saw the start of.
            Some(0) => Err(FrameError::reject(1, "empty frame between two 0x7E flags")),
            Some(i) => Ok(Cut::whole(i + 2)),
            None if buf.len() > MAX_FRAME => Err(FrameError::reject(
                buf.len(),
                "no closing 0x7E within the largest frame size",
            )),
            None => Err(FrameError::Incomplete),
        },
        // Only within the longest text frame: searching the whole buffer made a stream of '('
        // cost a pass over the buffer for every byte skipped.
        b'(' => match buf.iter().take(MAX_TEXT).position(|&b| b == b')') {
            Some(i) => Ok(Cut::whole(i + 1)),
            // A stray '(' in line noise: drop it and look for the next start.
            None if buf.len() >= MAX_TEXT => Err(FrameError::reject(
                resync::skip_unterminated(
                    buf,
                    MAX_TEXT - 1,
                    |b| b == b')',
                    |b| b == b'(',
                    |head| head.first() == Some(&FLAG),
                ),
                "unterminated text frame",
            )),
            None => Err(FrameError::Incomplete),
        },
        _ => {
            let skip = buf
                .iter()
                .position(|&b| b == FLAG || b == b'(')
                .unwrap_or(buf.len());
            Err(FrameError::reject(skip, "bytes before the 0x7E flag"))
        }
    }
}

/// The content between the flags with the byte stuffing undone.
pub(super) fn unescape(inner: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(inner.len());
    let mut it = inner.iter();
    while let Some(&b) = it.next() {
        match b {
            ESCAPE => match it.next() {
                Some(0x01) => out.push(ESCAPE),
                Some(0x02) => out.push(FLAG),
                Some(other) => {
                    return Err(DecodeError::reject(format!(
                        "invalid escape 0x7D 0x{other:02X}"
                    )))
                }
                None => return Err(DecodeError::reject("frame ends inside an escape")),
            },
            FLAG => return Err(DecodeError::reject("unescaped 0x7E inside a frame")),
            _ => out.push(b),
        }
    }
    Ok(out)
}

/// Wraps unescaped content (header, body, checksum) into a frame ready for the wire.
pub(super) fn escape_into_frame(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 8);
    out.push(FLAG);
    for &b in content {
        match b {
            FLAG => out.extend_from_slice(&[ESCAPE, 0x02]),
            ESCAPE => out.extend_from_slice(&[ESCAPE, 0x01]),
            _ => out.push(b),
        }
    }
    out.push(FLAG);
    out
}
