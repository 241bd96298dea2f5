//! `trackd serve --ready-file PATH`: once the API and every device listener are bound, their
//! addresses are written to PATH as JSON, so a supervisor or a test that started trackd with
//! port 0 learns where it listens without parsing logs:
//!
//! ```json
//! {"pid": 4242, "http": "127.0.0.1:41234",
//!  "devices": [{"protocol": "teltonika", "transport": "tcp", "addr": "127.0.0.1:40111"}, ...]}
//! ```
//!
//! The file appears whole or not at all (written beside PATH, then renamed over it), is
//! removed when `serve` starts (so a file left by an earlier run never announces this one)
//! and again after a clean shutdown. After a crash it stays; `pid` tells whose it is.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};

use crate::Server;

/// What the file holds.
pub fn contents(server: &Server, pid: u32) -> Value {
    let devices: Vec<Value> = server
        .listeners
        .iter()
        .map(|l| {
            json!({
                "protocol": l.protocol.key(),
                "transport": l.transport.key(),
                "addr": l.addr.to_string(),
            })
        })
        .collect();
    json!({
        "pid": pid,
        "http": server.http_addr.to_string(),
        "devices": devices,
    })
}

/// Writes the file atomically: a reader polling for it never sees half of it.
pub fn write(path: &Path, contents: &Value) -> anyhow::Result<()> {
    let tmp = temp_path(path);
    let text = serde_json::to_string_pretty(contents).context("encoding the ready file")?;
    std::fs::write(&tmp, text + "\n").with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Removes the file; that it is not there is fine.
pub fn remove(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing the ready file {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// In the same directory, so the rename stays on one file system (and is atomic).
fn temp_path(path: &Path) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_whole_and_removed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ready.json");
        remove(&path).expect("removing a missing file is fine");
        let value = json!({"pid": 1, "http": "127.0.0.1:1", "devices": []});
        write(&path, &value).expect("write");
        let read: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(read, value);
        assert!(!temp_path(&path).exists(), "the temporary file was renamed");
        remove(&path).expect("remove");
        assert!(!path.exists());
    }
}
