//! Meitrack GPRS protocol (MVT/T1/T3xx/T6xx/P99/TC68 families), over TCP and UDP.
//!
//! Every frame is `$$<flag><length>,<imei>,<command>[,<data>]*<checksum>\r\n`: `length` counts
//! the bytes from the comma after it through the `\r\n`, and `checksum` is the byte sum of
//! everything before it (the `*` included) as two hex digits. Commands from the server use the
//! same shape behind `@@`; the device answers with the flag the server chose.
//!
//! Frame types decoded here: `AAA` (text position report), `CCC` (binary compressed history),
//! `CCE` (binary tagged records), `D00`/`D03` (photo transfer), `AAC` (needs a confirmation) and
//! every other command code as a command reply (`C01,OK`, `E91,...`, `D82,0`, `FC0,...`).
//! See `docs/protocols/meitrack.md` for the field mapping.

mod decode;
mod encode;
mod io;
#[cfg(test)]
mod tests;

use crate::command::{Command, EncodeError};
use crate::error::{DecodeError, FrameError};
use crate::message::DeviceMessage;
use crate::{Cut, Session, SessionConfig};

/// Largest frame we accept. Meitrack documents frames of at most about 1 KiB of data (a photo
/// packet, a batch of CCE records); anything declaring far more is line noise.
pub const MAX_FRAME: usize = 64 * 1024;

/// The length field has at most this many digits (64 KiB needs five).
const MAX_LENGTH_DIGITS: usize = 5;

/// An IMEI-like identifier is at most this long; the framer needs it to find the command code.
const MAX_ID_LEN: usize = 20;

/// Commands whose data is binary: their `*XX\r\n` may also occur inside the data, so only the
/// length field can delimit them.
const BINARY_COMMANDS: [&[u8; 3]; 4] = [b"CCC", b"CCE", b"CFF", b"D00"];

/// A photo being assembled from `D00` packets.
#[derive(Debug, Default)]
struct Photo {
    name: String,
    data: Vec<u8>,
    next: u32,
}

/// Largest photo kept in memory while it is being transferred.
const MAX_PHOTO: usize = 2 * 1024 * 1024;

/// One Meitrack connection (or, on UDP, one peer). TCP and UDP frames are alike, and the
/// answers are the same on both.
#[derive(Debug)]
pub struct MeitrackSession {
    strict_checksum: bool,
    model: Option<String>,
    /// The IMEI seen in the last frame, needed to address commands.
    imei: Option<String>,
    photo: Option<Photo>,
}

impl MeitrackSession {
    pub fn new(config: &SessionConfig) -> Self {
        MeitrackSession {
            strict_checksum: config.strict_checksum,
            model: config.model.as_ref().map(|m| m.to_ascii_uppercase()),
            imei: None,
            photo: None,
        }
    }
}

impl Session for MeitrackSession {
    fn frame(&self, buf: &[u8]) -> Result<Cut, FrameError> {
        frame(buf)
    }

    fn decode(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        decode::decode(self, frame)
    }

    fn encode(&mut self, command: &Command) -> Result<Vec<u8>, EncodeError> {
        encode::encode(self.imei.as_deref(), command)
    }
}

/// Cuts the first `$$` frame from a stream buffer.
///
/// The length field is trusted when it lands on `\r\n`, as devices send it. Text frames whose
/// length field is off (seen in the field after firmware edits) are still cut at their
/// `*XX\r\n` trailer, which cannot occur inside text data; binary frames have only the length.
fn frame(buf: &[u8]) -> Result<Cut, FrameError> {
    let first = match buf.first() {
        None => return Err(FrameError::Incomplete),
        Some(b) => *b,
    };
    if first != b'$' {
        let skip = buf.iter().position(|&b| b == b'$').unwrap_or(buf.len());
        return Err(FrameError::reject(skip, "no $$ frame start"));
    }
    match buf.get(1) {
        None => return Err(FrameError::Incomplete),
        Some(b'$') => {}
        Some(_) => return Err(FrameError::reject(1, "no $$ frame start")),
    }
    if buf.len() < 3 {
        return Err(FrameError::Incomplete);
    }

    // Length digits run from offset 3 to the first comma.
    let mut length: usize = 0;
    let mut comma = None;
    for (i, &b) in buf.iter().enumerate().skip(3).take(MAX_LENGTH_DIGITS + 1) {
        if b == b',' {
            comma = Some(i);
            break;
        }
        if !b.is_ascii_digit() || i - 3 >= MAX_LENGTH_DIGITS {
            return Err(FrameError::reject(2, "bad length field"));
        }
        length = length * 10 + usize::from(b - b'0');
    }
    let comma = match comma {
        Some(c) if c > 3 => c,
        Some(_) => return Err(FrameError::reject(2, "empty length field")),
        None => return Err(FrameError::Incomplete),
    };
    if length > MAX_FRAME {
        return Err(FrameError::Fatal(format!(
            "declared length {length} exceeds {MAX_FRAME}"
        )));
    }
    // `,<id>,<cmd>*XX\r\n` is the shortest possible frame.
    if length < 10 {
        return Err(FrameError::reject(2, "length field too small"));
    }
    let end = comma + length;

    if buf.len() >= end && buf.get(end - 2..end) == Some(b"\r\n".as_slice()) {
        return Ok(Cut::whole(end));
    }

    let binary = match command_code(buf, comma) {
        Some(code) => BINARY_COMMANDS.iter().any(|c| c.as_slice() == code),
        // The header is not complete yet: wait for it (or for the declared length).
        None if buf.len() < end => return Err(FrameError::Incomplete),
        None => return Err(FrameError::reject(2, "no command code")),
    };
    if !binary {
        // Stop at the next frame start, so a damaged trailer never swallows the next frame.
        let next = buf
            .get(2..)
            .and_then(|rest| rest.windows(2).position(|w| w == b"$$"))
            .map_or(buf.len(), |p| p + 2);
        let limit = buf.len().min(comma + MAX_FRAME).min(next);
        if let Some(cut) = find_text_trailer(buf.get(..limit).unwrap_or(buf), comma) {
            return Ok(Cut::whole(cut));
        }
    }
    if buf.len() >= end {
        // The declared length does not end in `\r\n`: hand the frame over anyway, the
        // decoder's checksum decides, and the next call resynchronises on `$$`.
        return Ok(Cut::whole(end));
    }
    Err(FrameError::Incomplete)
}

/// The three-byte command code after `,<id>,`, if the buffer holds it.
fn command_code(buf: &[u8], comma: usize) -> Option<&[u8]> {
    let id_start = comma + 1;
    let rest = buf.get(id_start..)?;
    let id_len = rest.iter().take(MAX_ID_LEN + 1).position(|&b| b == b',')?;
    let code_start = id_start + id_len + 1;
    buf.get(code_start..code_start + 3)
}

/// End (exclusive) of the first `*XX\r\n` after `from`.
fn find_text_trailer(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(pos) = buf
        .get(i..)
        .and_then(|rest| rest.windows(2).position(|w| w == b"\r\n"))
    {
        let crlf = i + pos;
        if crlf >= 3 {
            let star = buf.get(crlf - 3).copied();
            let h1 = buf.get(crlf - 2).copied().unwrap_or(0);
            let h2 = buf.get(crlf - 1).copied().unwrap_or(0);
            if star == Some(b'*') && h1.is_ascii_hexdigit() && h2.is_ascii_hexdigit() {
                return Some(crlf + 2);
            }
        }
        i = crlf + 2;
    }
    None
}

/// Builds a server frame `@@<flag><len>,<imei>,<content>*XX\r\n`.
pub(crate) fn server_frame(flag: u8, imei: &str, content: &str) -> Vec<u8> {
    // From the first comma through `\r\n`: `,` imei `,` content `*XX\r\n`.
    let length = 1 + imei.len() + 1 + content.len() + 5;
    let mut out = Vec::with_capacity(length + 8);
    out.extend_from_slice(b"@@");
    out.push(flag);
    out.extend_from_slice(format!("{length:02}").as_bytes());
    out.push(b',');
    out.extend_from_slice(imei.as_bytes());
    out.push(b',');
    out.extend_from_slice(content.as_bytes());
    out.push(b'*');
    let sum = crate::checksum::sum8(&out);
    out.extend_from_slice(format!("{sum:02X}\r\n").as_bytes());
    out
}
