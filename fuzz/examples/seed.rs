//! Writes the device captures of `shared/vectors/` as fuzz inputs to `fuzz/corpus/<key>/`:
//! each capture alone, each connection's captures as one stream, and each framer row, behind
//! the control byte that gives them the session they were captured with (see the crate docs).
//!
//! `cargo run --example seed [VECTORS_DIR]`; without an argument the directory is
//! `$TRACKD_VECTORS`, else the first `shared/vectors` above this crate.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};

use trackd_protocol::{Protocol, Transport};
use trackd_protocol_fuzz::{Setup, NOW};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Result<()> {
    let vectors = vectors_dir()?;
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for protocol in Protocol::ALL {
        let key = protocol.key();
        let dir = corpus.join(key);
        std::fs::create_dir_all(&dir)?;
        let mut written = 0;
        let mut streams: BTreeMap<String, (u8, Vec<u8>)> = BTreeMap::new();
        for row in rows(&vectors.join(format!("{key}.tsv")))? {
            let [idx, encoding, _verify, method, context, message] = row.as_slice() else {
                return Err(format!("{key}.tsv: a row without six columns: {row:?}").into());
            };
            let bytes = match encoding.as_str() {
                "hex" => hex(message)?,
                _ => unescape(message)?,
            };
            let control = control(protocol, context);
            std::fs::write(dir.join(format!("capture-{idx}")), input(control, &bytes))?;
            written += 1;
            let (_, stream) = streams
                .entry(method.clone())
                .or_insert_with(|| (control, Vec::new()));
            stream.extend_from_slice(&bytes);
            // Line protocols' captures lost their line end (the original suites fed decoders
            // behind a line framer): a stream needs it back.
            if encoding == "text" && !bytes.ends_with(b"\n") {
                stream.extend_from_slice(b"\r\n");
            }
        }
        for (n, (_, (control, stream))) in streams.iter().enumerate() {
            std::fs::write(dir.join(format!("stream-{n}")), input(*control, stream))?;
            written += 1;
        }
        let frames = vectors.join(format!("{key}.frames.tsv"));
        if frames.exists() {
            for (n, row) in rows(&frames)?.iter().enumerate() {
                let bytes = hex(row.first().map_or("", String::as_str))?;
                std::fs::write(dir.join(format!("frames-{n}")), input(0, &bytes))?;
                written += 1;
            }
        }
        println!("{key}: {written} inputs in {}", dir.display());
    }
    Ok(())
}

/// The session a capture was decoded with in its original suite.
fn control(protocol: Protocol, context: &str) -> u8 {
    // Teltonika's decoder takes `connectionless` as its second argument.
    let udp = context.contains("UDP") || context.contains("(null,true)");
    let transport = if udp && protocol.transports().contains(&Transport::Udp) {
        Transport::Udp
    } else {
        protocol.transports()[0]
    };
    let mut config = trackd_protocol::SessionConfig::new(transport);
    config.model = context
        .split("setModelOverride(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .map(str::to_owned);
    Setup {
        config,
        now: Some(NOW),
    }
    .control(protocol)
}

fn input(control: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.push(control);
    out.extend_from_slice(bytes);
    out
}

fn vectors_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("TRACKD_VECTORS"))
    {
        return Ok(PathBuf::from(dir));
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/vectors"))
        .find(|d| d.is_dir())
        .ok_or_else(|| {
            format!(
                "no shared/vectors above {}: pass the directory or set TRACKD_VECTORS",
                here.display()
            )
            .into()
        })
}

/// The rows of a TSV file, header left out.
fn rows(path: &Path) -> Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect())
}

fn hex(s: &str) -> Result<Vec<u8>> {
    let s = s.trim().as_bytes();
    s.chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .filter(|p| p.len() == 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("bad hex {:?}", String::from_utf8_lossy(pair)).into())
        })
        .collect()
}

/// The escapes of `text` and `http` rows (vectors README): `\\`, `\r`, `\n`, `\t`, `\xNN`.
fn unescape(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let (unescaped, used) = match rest {
            [b'r', ..] => (b'\r', 1),
            [b'n', ..] => (b'\n', 1),
            [b't', ..] => (b'\t', 1),
            [b'\\', ..] => (b'\\', 1),
            [b'x', high, low, ..] => (hex(&String::from_utf8_lossy(&[*high, *low]))?[0], 3),
            // Not an escape: the backslash stands for itself.
            _ => (b'\\', 0),
        };
        out.push(unescaped);
        rest = &rest[used..];
    }
    Ok(out)
}
