//! Test support: the device captures in `shared/vectors/` and the checks their `verify` column
//! names. See [`vectors_dir`] for where they are looked for.

use std::path::{Path, PathBuf};

use crate::error::{DecodeError, FrameError};
use crate::message::{DeviceMessage, IoValue, Record, Timestamp};
use crate::{Cut, Session, Transport};

/// The directory of the device captures: `$TRACKD_VECTORS`, else the first `shared/vectors`
/// among the ancestors of this crate. Walking up rather than counting `..` lets the tests run
/// from the main checkout (`/work/main`) and from worktrees nested deeper (`/work/wt/x`).
pub fn vectors_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRACKD_VECTORS") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "TRACKD_VECTORS={} is not a directory",
            dir.display()
        );
        return dir;
    }
    find_vectors(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|e| panic!("{e}"))
}

/// The first `shared/vectors` directory among `from` and its ancestors, or a message naming
/// every place looked at.
fn find_vectors(from: &Path) -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = from
        .ancestors()
        .map(|a| a.join("shared").join("vectors"))
        .collect();
    if let Some(found) = candidates.iter().find(|c| c.is_dir()) {
        return Ok(found.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(format!(
        "device captures not found: set TRACKD_VECTORS, or put them at shared/vectors under \
         {} or one of its ancestors; looked in:\n  {}",
        from.display(),
        looked.join("\n  ")
    ))
}

fn read_rows(file: &str) -> Vec<Vec<String>> {
    let path = vectors_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// One captured message.
#[derive(Clone, Debug)]
pub struct Capture {
    pub idx: u32,
    /// `hex`, `text` or `http`: how the row was written (bytes are already decoded).
    #[allow(dead_code)]
    pub encoding: String,
    pub verify: String,
    pub test_method: String,
    pub context: String,
    pub bytes: Vec<u8>,
}

/// The captures of a protocol, in file order.
pub fn captures(key: &str) -> Vec<Capture> {
    read_rows(&format!("{key}.tsv"))
        .into_iter()
        .map(|r| {
            let encoding = r[1].clone();
            let bytes = match encoding.as_str() {
                "hex" => hex(&r[5]),
                _ => unescape(&r[5]),
            };
            Capture {
                idx: r[0].parse().expect("idx"),
                encoding,
                verify: r[2].clone(),
                test_method: r[3].clone(),
                context: r[4].clone(),
                bytes,
            }
        })
        .collect()
}

/// The capture `idx` of a protocol.
pub fn capture(key: &str, idx: u32) -> Capture {
    captures(key)
        .into_iter()
        .find(|c| c.idx == idx)
        .unwrap_or_else(|| panic!("{key}: no capture {idx}"))
}

/// The transport a capture's `decoder_context` names: UDP when it says so, else TCP.
pub fn transport_of(context: &str) -> Transport {
    if context.contains("UDP") {
        Transport::Udp
    } else {
        Transport::Tcp
    }
}

/// The model a capture's `decoder_context` sets with `setModelOverride(M)`.
pub fn model_override(context: &str) -> Option<String> {
    let rest = context.split("setModelOverride(").nth(1)?;
    rest.split(')').next().map(str::to_owned)
}

/// Captures grouped by `test_method`, each group in file order: a group is one connection.
pub fn groups(key: &str) -> Vec<(String, Vec<Capture>)> {
    let mut out: Vec<(String, Vec<Capture>)> = Vec::new();
    for c in captures(key) {
        match out.iter_mut().find(|(m, _)| *m == c.test_method) {
            Some((_, v)) => v.push(c),
            None => out.push((c.test_method.clone(), vec![c])),
        }
    }
    out
}

/// `(idx, field, value)` rows of `KEY.expect.tsv`.
pub fn expectations(key: &str) -> Vec<(u32, String, String)> {
    read_rows(&format!("{key}.expect.tsv"))
        .into_iter()
        .map(|r| {
            (
                r[0].parse().expect("idx"),
                r[1].clone(),
                r.get(2).cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// `(input, expected frame, source)` rows of `KEY.frames.tsv`.
pub fn frames(key: &str) -> Vec<(Vec<u8>, Vec<u8>, String)> {
    read_rows(&format!("{key}.frames.tsv"))
        .into_iter()
        .map(|r| (hex(&r[0]), hex(&r[1]), r[2].clone()))
        .collect()
}

/// `(command_type, attributes, expected bytes, source)` rows of `KEY.commands.tsv`.
pub fn commands(key: &str) -> Vec<(String, String, Vec<u8>, String)> {
    read_rows(&format!("{key}.commands.tsv"))
        .into_iter()
        .map(|r| {
            let out = if r[3] == "hex" {
                hex(&r[2])
            } else {
                unescape(&r[2])
            };
            (r[0].clone(), r[1].clone(), out, r[4].clone())
        })
        .collect()
}

pub fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Undoes the escaping of `text` and `http` rows: `\\`, `\r`, `\n`, `\t`, `\xNN`.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'\\' => out.push(b'\\'),
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'x' if i + 3 < b.len() => {
                    let v = std::str::from_utf8(&b[i + 2..i + 4])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .expect("\\xNN escape");
                    out.push(v);
                    i += 4;
                    continue;
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Whether `record` holds what an expectation row says about its fix, for the fields every
/// protocol shares: Traccar's `fixTime`, `valid`, `latitude` and `longitude` (degrees to
/// 0.00001, as the vectors README says). `None` for any other field: those are the protocol's
/// own to map.
pub fn fix_expectation(record: &Record, field: &str, value: &str) -> Option<bool> {
    let degrees = || {
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("{field}={value} is not a number"))
    };
    let fix = record.fix.as_ref();
    Some(match field {
        "fixTime" => fix.is_some() && record.time == Some(iso(value)),
        "valid" => fix.is_some_and(|f| f.valid.to_string() == value),
        "latitude" => fix.is_some_and(|f| (f.lat - degrees()).abs() <= 0.00001),
        "longitude" => fix.is_some_and(|f| (f.lon - degrees()).abs() <= 0.00001),
        _ => return None,
    })
}

/// The invariants every framer result keeps on a buffer of `buf_len` bytes: a cut lies within
/// what it consumes, which is at least one byte and at most the buffer; a rejection skips at
/// least one byte and at most the buffer. The gateway relies on both to make progress without
/// slicing out of bounds.
pub fn check_cut(buf_len: usize, result: &Result<Cut, FrameError>) -> Result<(), String> {
    match result {
        Ok(cut) => {
            if !(cut.start <= cut.end && cut.end <= cut.consumed && cut.consumed <= buf_len) {
                return Err(format!(
                    "{cut:?} breaks start <= end <= consumed <= {buf_len}"
                ));
            }
            if cut.consumed == 0 {
                return Err(format!("{cut:?} consumes nothing"));
            }
            Ok(())
        }
        Err(FrameError::Reject { skip, .. }) if !(1..=buf_len).contains(skip) => Err(format!(
            "rejection skips {skip} bytes of a {buf_len}-byte buffer"
        )),
        Err(_) => Ok(()),
    }
}

/// What the framer made of a stream buffer.
#[derive(Debug)]
pub struct Cuts<'a> {
    pub frames: Vec<&'a [u8]>,
    /// Bytes dropped because the framer rejected them.
    pub skipped: usize,
    /// What was left when the framer asked for more bytes or gave up.
    pub rest: &'a [u8],
    /// Why the framer gave up, if it did.
    pub fatal: Option<String>,
}

impl<'a> Cuts<'a> {
    /// The frames, when the buffer was frames and nothing else.
    pub fn clean(self, what: &str) -> Vec<&'a [u8]> {
        assert!(
            self.skipped == 0 && self.rest.is_empty() && self.fatal.is_none(),
            "{what}: not a clean run of frames: skipped {} bytes, {} left, fatal {:?}",
            self.skipped,
            self.rest.len(),
            self.fatal
        );
        self.frames
    }
}

/// Runs the framer over `buf` the way the gateway does: takes each frame, drops what it
/// rejects, and stops when it asks for more bytes or gives up. Every result must pass
/// [`check_cut`].
pub fn cut_stream<'a, S: Session + ?Sized>(session: &S, buf: &'a [u8]) -> Cuts<'a> {
    let mut cuts = Cuts {
        frames: Vec::new(),
        skipped: 0,
        rest: buf,
        fatal: None,
    };
    while !cuts.rest.is_empty() {
        let result = session.frame(cuts.rest);
        if let Err(e) = check_cut(cuts.rest.len(), &result) {
            panic!("framer broke its contract: {e}");
        }
        match result {
            Ok(cut) => {
                cuts.frames.push(&cuts.rest[cut.start..cut.end]);
                cuts.rest = &cuts.rest[cut.consumed..];
            }
            Err(FrameError::Reject { skip, .. }) => {
                cuts.skipped += skip;
                cuts.rest = &cuts.rest[skip..];
            }
            Err(FrameError::Incomplete) => break,
            Err(FrameError::Fatal(why)) => {
                cuts.fatal = Some(why);
                break;
            }
        }
    }
    cuts
}

/// Decodes a capture as it arrives: on UDP the bytes are one datagram; on a stream they must
/// be whole frames (see [`decode_stream`]). Panics naming `what` on any failure.
pub fn frame_and_decode<S: Session + ?Sized>(
    session: &mut S,
    transport: Transport,
    bytes: &[u8],
    what: &str,
) -> Vec<DeviceMessage> {
    if transport == Transport::Udp {
        let msg = session
            .decode(bytes)
            .unwrap_or_else(|e| panic!("{what}: decode failed: {e}"));
        return vec![msg];
    }
    let (msgs, rest) = decode_stream(session, bytes, what);
    assert!(
        rest.is_empty(),
        "{what}: {} bytes left that the framer waits to complete",
        rest.len()
    );
    msgs
}

/// Frames and decodes a stream buffer the way the gateway does, one frame at a time (a decoded
/// frame may change the session's state before the next is cut). Returns the messages and the
/// bytes left when the framer asked for more. Panics naming `what` when the framer rejects
/// bytes or gives up, or a frame does not decode.
pub fn decode_stream<'a, S: Session + ?Sized>(
    session: &mut S,
    bytes: &'a [u8],
    what: &str,
) -> (Vec<DeviceMessage>, &'a [u8]) {
    let mut msgs = Vec::new();
    let mut buf = bytes;
    while !buf.is_empty() {
        let result = session.frame(buf);
        if let Err(e) = check_cut(buf.len(), &result) {
            panic!("{what}: framer broke its contract: {e}");
        }
        match result {
            Ok(cut) => {
                let msg = session
                    .decode(&buf[cut.start..cut.end])
                    .unwrap_or_else(|e| panic!("{what}: decode failed: {e}"));
                msgs.push(msg);
                buf = &buf[cut.consumed..];
            }
            Err(FrameError::Incomplete) => break,
            Err(e) => panic!("{what}: framing failed: {e}"),
        }
    }
    (msgs, buf)
}

/// Asserts that the framer cuts from every row of `KEY.frames.tsv` exactly the frame the row
/// expects; returns each row's input and cut.
pub fn assert_frames_file<S: Session + ?Sized>(key: &str, session: &S) -> Vec<(Vec<u8>, Cut)> {
    let rows = frames(key);
    assert!(!rows.is_empty(), "{key}.frames.tsv has no rows");
    rows.into_iter()
        .map(|(input, expected, source)| {
            let result = session.frame(&input);
            if let Err(e) = check_cut(input.len(), &result) {
                panic!("{source}: {e}");
            }
            let cut = result.unwrap_or_else(|e| panic!("{source}: {e}"));
            assert_eq!(&input[cut.start..cut.end], &expected[..], "{source}");
            (input, cut)
        })
        .collect()
}

/// Asserts that the framer asks for more bytes on every strict prefix of `frame`.
pub fn assert_waits_for_every_prefix<S: Session + ?Sized>(session: &S, frame: &[u8], what: &str) {
    for n in 0..frame.len() {
        assert_eq!(
            session.frame(&frame[..n]),
            Err(FrameError::Incomplete),
            "{what}: prefix of {n} bytes"
        );
    }
}

/// Asserts that each input decodes to a [`DecodeError::Reject`]: dropped, connection kept.
pub fn assert_all_rejected<S: Session + ?Sized>(session: &mut S, inputs: &[&[u8]]) {
    for bad in inputs {
        assert!(
            matches!(session.decode(bad), Err(DecodeError::Reject(_))),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

/// Every record of the messages, in order.
pub fn records(msgs: &[DeviceMessage]) -> Vec<&Record> {
    msgs.iter().flat_map(|m| m.records.iter()).collect()
}

pub fn io_f64(record: &Record, key: &str) -> Option<f64> {
    record.io.get(key).and_then(IoValue::as_f64)
}

pub fn io_text<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    match record.io.get(key)? {
        IoValue::Text(t) => Some(t),
        _ => None,
    }
}

/// An ISO time as the expectation files write it (`2013-04-27T20:56:01.000Z`), to the second.
pub fn iso(s: &str) -> Timestamp {
    let n = |a: usize, b: usize| {
        s.get(a..b)
            .and_then(|d| d.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("not an ISO time: {s}"))
    };
    crate::time::utc(
        i64::from(n(0, 4)),
        n(5, 7),
        n(8, 10),
        n(11, 13),
        n(14, 16),
        n(17, 19),
    )
    .unwrap_or_else(|| panic!("impossible ISO time: {s}"))
}

/// Asserts what a capture's `verify` column promises about its decoded messages (one capture
/// may decode to several messages when it holds several frames).
pub fn assert_verify(verify: &str, msgs: &[DeviceMessage], what: &str) {
    let records: Vec<_> = msgs.iter().flat_map(|m| m.records.iter()).collect();
    let with_fix: Vec<_> = records.iter().filter(|r| r.fix.is_some()).collect();
    let check_fixes = |rs: &[&&crate::message::Record]| {
        for r in rs {
            let fix = r.fix.as_ref().expect("fix");
            assert!(r.time.is_some(), "{what}: position without time");
            assert!(
                (-90.0..=90.0).contains(&fix.lat),
                "{what}: lat {} out of range",
                fix.lat
            );
            assert!(
                (-180.0..=180.0).contains(&fix.lon),
                "{what}: lon {} out of range",
                fix.lon
            );
        }
    };
    match verify {
        "null" => assert!(
            with_fix.is_empty(),
            "{what}: expected no position, got {records:?}"
        ),
        "position" => {
            assert_eq!(
                with_fix.len(),
                1,
                "{what}: expected one position, got {records:?}"
            );
            check_fixes(&with_fix);
        }
        "positions" => {
            assert!(
                !with_fix.is_empty(),
                "{what}: expected positions, got {msgs:?}"
            );
            check_fixes(&with_fix);
        }
        "positions_nolocation" | "attributes" | "attribute" => {
            assert!(
                !records.is_empty(),
                "{what}: expected records, got {msgs:?}"
            )
        }
        "notnull" => assert!(
            msgs.iter().any(|m| !m.records.is_empty()
                || m.reply.is_some()
                || m.device_id.is_some()
                || !m.command_replies.is_empty()),
            "{what}: expected something decoded"
        ),
        other => panic!("{what}: unknown verify {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_cut_holds_the_framer_contract() {
        assert_eq!(check_cut(10, &Ok(Cut::whole(10))), Ok(()));
        let inner = Cut {
            consumed: 6,
            start: 1,
            end: 5,
        };
        assert_eq!(check_cut(6, &Ok(inner)), Ok(()));
        assert!(
            check_cut(5, &Ok(inner)).is_err(),
            "consumes past the buffer"
        );
        assert!(check_cut(10, &Ok(Cut::whole(0))).is_err(), "no progress");
        let crossed = Cut {
            consumed: 4,
            start: 3,
            end: 2,
        };
        assert!(check_cut(10, &Ok(crossed)).is_err());
        let past = Cut {
            consumed: 4,
            start: 0,
            end: 5,
        };
        assert!(check_cut(10, &Ok(past)).is_err(), "frame beyond consumed");
        let reject = |skip| {
            Err(FrameError::Reject {
                skip,
                reason: String::new(),
            })
        };
        assert_eq!(check_cut(3, &reject(3)), Ok(()));
        assert!(check_cut(3, &reject(4)).is_err());
        assert!(check_cut(3, &reject(0)).is_err());
        assert_eq!(check_cut(0, &Err(FrameError::Incomplete)), Ok(()));
        assert_eq!(check_cut(3, &Err(FrameError::Fatal("x".into()))), Ok(()));
    }

    #[test]
    fn decoder_context_settings() {
        let ctx = "Gt06ProtocolDecoder(null) setModelOverride(VL103)";
        assert_eq!(model_override(ctx).as_deref(), Some("VL103"));
        assert_eq!(model_override("Gt06ProtocolDecoder(null)"), None);
        assert_eq!(transport_of("UDP"), Transport::Udp);
        assert_eq!(transport_of(ctx), Transport::Tcp);
    }

    #[test]
    fn iso_times() {
        assert_eq!(
            iso("2021-06-08T06:43:28.000Z"),
            Timestamp(1_623_134_608_000)
        );
    }

    #[test]
    fn unescape_handles_every_escape() {
        assert_eq!(unescape(r"a\r\n\t\\\x01b"), b"a\r\n\t\\\x01b".to_vec());
    }

    #[test]
    fn missing_vectors_name_every_place_looked_at() {
        let err = find_vectors(Path::new("/nonexistent/trackd/crates/protocol"))
            .expect_err("no captures there");
        assert!(err.contains("TRACKD_VECTORS"), "{err}");
        for place in [
            "/nonexistent/trackd/crates/protocol/shared/vectors",
            "/nonexistent/trackd/shared/vectors",
            "/nonexistent/shared/vectors",
        ] {
            assert!(err.contains(place), "{place} not named in: {err}");
        }
    }

    #[test]
    fn every_vector_file_loads() {
        for key in [
            "teltonika",
            "gt06",
            "gl200",
            "h02",
            "wialon",
            "osmand",
            "meitrack",
            "jt808",
        ] {
            assert!(!captures(key).is_empty(), "{key}");
            expectations(key);
        }
    }
}
