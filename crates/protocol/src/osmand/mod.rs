//! OsmAnd / Traccar Client protocol: positions as HTTP/1.1 requests.
//!
//! A frame is one whole request. Phones send either query parameters
//! (`GET /?id=..&lat=..&lon=..&timestamp=..`, the Traccar Client and OsmAnd's live tracking),
//! the same parameters as a form body, or the JSON body of the Transistorsoft
//! background-geolocation SDK (`{"location": {...}, "device_id": ".."}`, one location or an
//! array). The reply is the HTTP response: `200` with an empty body once stored, `400` for a
//! request that names no device or carries unreadable values (then with no records). OsmAnd
//! devices cannot receive commands. See `docs/protocols/osmand.md`.

mod decode;
#[cfg(test)]
mod tests;

use crate::command::{Command, EncodeError};
use crate::error::{DecodeError, FrameError};
use crate::message::DeviceMessage;
use crate::{Cut, Session, SessionConfig};

/// Request line and headers larger than this are not a tracker talking.
pub const MAX_HEADER: usize = 16 * 1024;
/// A batch of a few hundred JSON locations fits; more is refused.
pub const MAX_BODY: usize = 256 * 1024;

/// The response once the request's records are committed.
pub const REPLY_OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
/// The response to a request that cannot be stored (no device id, unreadable values).
pub const REPLY_BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";

/// One HTTP connection (keep-alive connections carry several requests).
#[derive(Debug, Default)]
pub struct OsmandSession {}

impl OsmandSession {
    pub fn new(_config: &SessionConfig) -> Self {
        OsmandSession {}
    }
}

impl Session for OsmandSession {
    fn frame(&self, buf: &[u8]) -> Result<Cut, FrameError> {
        frame(buf)
    }

    fn decode(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        Ok(decode::decode(frame))
    }

    fn encode(&mut self, command: &Command) -> Result<Vec<u8>, EncodeError> {
        Err(EncodeError::Unsupported(format!(
            "OsmAnd clients only send positions; they cannot receive {command:?}"
        )))
    }
}

/// How the body of a request is delimited.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyLength {
    Fixed(usize),
    Chunked,
}

/// The end (exclusive) of the header block, `\r\n\r\n` included.
pub(crate) fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Reads the body delimitation from the header block (request line included).
pub(crate) fn body_length(head: &[u8]) -> Result<BodyLength, String> {
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line.get(..colon).unwrap_or_default();
        let value = line.get(colon + 1..).unwrap_or_default();
        let value = String::from_utf8_lossy(value);
        let value = value.trim();
        if name.eq_ignore_ascii_case(b"content-length") {
            let n: usize = value
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length headers".into());
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or("").trim();
            if last.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if !last.eq_ignore_ascii_case("identity") {
                return Err(format!("unsupported Transfer-Encoding {value:?}"));
            }
        }
    }
    if chunked {
        // RFC 9112: chunked wins over a Content-Length (which a proxy may have left behind).
        return Ok(BodyLength::Chunked);
    }
    Ok(BodyLength::Fixed(length.unwrap_or(0)))
}

/// Walks a chunked body starting at `buf[0]`. `Ok(Some((consumed, data_len)))` once the last
/// chunk and trailers are in, `Ok(None)` while more bytes are needed.
pub(crate) fn chunked_extent(buf: &[u8]) -> Result<Option<(usize, usize)>, String> {
    let mut pos = 0usize;
    let mut data = 0usize;
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            if rest.len() > 1024 {
                return Err("chunk size line too long".into());
            }
            return Ok(None);
        };
        let line = rest.get(..eol).unwrap_or_default();
        let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
        let size_text = std::str::from_utf8(size_text)
            .map_err(|_| "bad chunk size".to_string())?
            .trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        pos += eol + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let rest = buf.get(pos..).unwrap_or_default();
                let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                    if rest.len() > MAX_HEADER {
                        return Err("trailers too large".into());
                    }
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some((pos, data)));
                }
            }
        }
        data = data.saturating_add(size);
        if data > MAX_BODY {
            return Err(format!("chunked body exceeds {MAX_BODY} bytes"));
        }
        let after = pos.saturating_add(size);
        match buf.get(after..after.saturating_add(2)) {
            None => return Ok(None),
            Some(b"\r\n") => pos = after + 2,
            Some(_) => return Err("chunk not followed by CRLF".into()),
        }
    }
}

/// Cuts one whole request (headers and body) from the head of the buffer.
fn frame(buf: &[u8]) -> Result<Cut, FrameError> {
    // RFC 9112 lets a client send empty lines between requests: skip them.
    let blank = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if blank > 0 {
        return Err(FrameError::reject(blank, "empty line before request"));
    }
    match buf.first() {
        None => return Err(FrameError::Incomplete),
        Some(b) if b.is_ascii_uppercase() => {}
        // HTTP has no resynchronisation point: a stream that does not start with a method is
        // not HTTP, or has lost its framing.
        Some(_) => return Err(FrameError::Fatal("not an HTTP request".into())),
    }
    let search = buf.get(..buf.len().min(MAX_HEADER)).unwrap_or(buf);
    let Some(head_end) = header_end(search) else {
        if buf.len() >= MAX_HEADER {
            return Err(FrameError::Fatal(format!(
                "request headers exceed {MAX_HEADER} bytes"
            )));
        }
        return Err(FrameError::Incomplete);
    };
    let head = buf.get(..head_end).unwrap_or_default();
    match body_length(head).map_err(FrameError::Fatal)? {
        BodyLength::Fixed(len) => {
            if len > MAX_BODY {
                return Err(FrameError::Fatal(format!(
                    "request body of {len} bytes exceeds {MAX_BODY}"
                )));
            }
            let end = head_end + len;
            if buf.len() < end {
                return Err(FrameError::Incomplete);
            }
            Ok(Cut::whole(end))
        }
        BodyLength::Chunked => {
            let body = buf.get(head_end..).unwrap_or_default();
            match chunked_extent(body).map_err(FrameError::Fatal)? {
                Some((consumed, _)) => Ok(Cut::whole(head_end + consumed)),
                None => Err(FrameError::Incomplete),
            }
        }
    }
}
