//! Test support: the device captures in `shared/vectors/` and the checks their `verify` column
//! names. See [`vectors_dir`] for where they are looked for.

use std::path::{Path, PathBuf};

use crate::message::DeviceMessage;

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
