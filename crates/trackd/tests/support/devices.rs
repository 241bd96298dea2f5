//! Simulated devices for end-to-end tests: replay device captures over real sockets, and the
//! same captures decoded offline by the protocol crate, to know what the gateway must answer
//! and store.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trackd_core::tracker::NewTracker;
use trackd_core::{TrackerId, UserId};
use trackd_protocol::{FrameError, Protocol, Session, SessionConfig, Timestamp, Transport};
use trackd_store::{Registration, Store};

/// How long a test waits for bytes that must come.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub fn vectors_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("TRACKD_VECTORS") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/vectors"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("shared/vectors not found above {}", manifest.display()))
}

/// The captures of one `test_method` group of a protocol, in order, as bytes.
pub fn group(key: &str, method: &str) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(vectors_dir().join(format!("{key}.tsv"))).expect("vectors");
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|r| r.len() >= 6 && r[3] == method && !r[4].contains("setModelOverride"))
        .map(|r| {
            if r[1] == "hex" {
                hex(r[5])
            } else {
                let mut bytes = unescape(r[5]);
                // The captures were kept without the line end these protocols frame by; a
                // device sends it.
                if matches!(key, "wialon" | "meitrack") && !bytes.ends_with(b"\n") {
                    bytes.extend_from_slice(b"\r\n");
                }
                bytes
            }
        })
        .collect()
}

/// One capture by its `idx`.
pub fn capture(key: &str, idx: u32) -> Vec<u8> {
    let text = std::fs::read_to_string(vectors_dir().join(format!("{key}.tsv"))).expect("vectors");
    let row = text
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|r| r.len() >= 6 && r[0] == idx.to_string())
        .unwrap_or_else(|| panic!("{key} idx {idx} not found"));
    if row[1] == "hex" {
        hex(row[5])
    } else {
        unescape(row[5])
    }
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).expect("escape"));
                    i += 4;
                    continue;
                }
                other => out.extend([b'\\', other]),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// What the gateway must do with one capture.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The bytes the device gets back (all replies of the frames in the capture).
    pub reply: Vec<u8>,
    /// Whether the reply carries the server's clock (then only its length can be predicted).
    pub timed_reply: bool,
    /// Points the capture adds, by device and time; `None` for a record stamped on receipt.
    pub records: Vec<(String, Option<i64>)>,
    pub device_ids: BTreeSet<String>,
}

/// Decodes captures the way the gateway will: one session, one stream buffer across captures.
/// Stops before the first capture whose records would come before any device identity (the
/// gateway closes such a connection).
pub fn offline(
    protocol: Protocol,
    transport: Transport,
    strict: bool,
    captures: &[Vec<u8>],
) -> Vec<Outcome> {
    let run = |now: i64| {
        let mut config = SessionConfig::new(transport);
        config.strict_checksum = strict;
        let mut session = protocol.session(&config);
        let mut buf = Vec::new();
        let mut current: Option<String> = None;
        let mut outcomes = Vec::new();
        for capture in captures {
            let mut out = Outcome::default();
            let (frames, fatal) = if transport == Transport::Udp {
                (vec![capture.clone()], false)
            } else {
                buf.extend_from_slice(capture);
                cut_all(session.as_mut(), &mut buf)
            };
            let mut orphan = false;
            for frame in frames {
                session.set_now(Timestamp(now));
                let Ok(msg) = session.decode(&frame) else {
                    continue;
                };
                if let Some(id) = &msg.device_id {
                    current = Some(id.clone());
                    out.device_ids.insert(id.clone());
                }
                let Some(device) = current.clone() else {
                    if msg.records.is_empty() {
                        out.reply.extend(msg.reply.unwrap_or_default());
                        continue;
                    }
                    orphan = true;
                    break;
                };
                out.records.extend(
                    msg.records
                        .iter()
                        .map(|r| (device.clone(), r.time.map(Timestamp::millis))),
                );
                if let Some(r) = msg.reply {
                    out.reply.extend(r);
                }
            }
            if orphan {
                break;
            }
            outcomes.push(out);
            if fatal {
                // The gateway hangs up on a stream it cannot resynchronise.
                break;
            }
        }
        outcomes
    };
    let (a, b) = (run(1_800_000_000_000), run(1_800_000_003_000));
    a.into_iter()
        .zip(b)
        .map(|(mut x, y)| {
            x.timed_reply = x.reply != y.reply;
            x
        })
        .collect()
}

/// The frames in the buffer, and whether the framer gave up on the stream.
fn cut_all(session: &mut dyn Session, buf: &mut Vec<u8>) -> (Vec<Vec<u8>>, bool) {
    let mut frames = Vec::new();
    while !buf.is_empty() {
        match session.frame(buf) {
            Ok(cut) => {
                frames.push(buf[cut.start..cut.end].to_vec());
                buf.drain(..cut.consumed);
            }
            Err(FrameError::Reject { skip, .. }) => {
                buf.drain(..skip.min(buf.len()));
            }
            Err(FrameError::Incomplete) => break,
            Err(FrameError::Fatal(_)) => return (frames, true),
        }
    }
    (frames, false)
}

/// Registers a device directly in the store (as the admin panel would), for any model of its
/// protocol, and returns its tracker.
pub async fn register(
    store: &dyn Store,
    account: UserId,
    protocol: Protocol,
    device_id: &str,
) -> TrackerId {
    let model = trackd_core::catalog::models()
        .iter()
        .find(|m| m.protocol == protocol.key())
        .expect("a model");
    let tracker = store
        .create_tracker(
            &NewTracker {
                user_id: account,
                label: format!("{} {device_id}", protocol.key()),
                group_id: trackd_core::GroupId(0),
                device_id: device_id.to_owned(),
                model: model.code.clone(),
                phone: None,
                apn_name: None,
                apn_user: None,
                apn_password: None,
                register_commands_pending: false,
                creation_date: "2026-01-01".into(),
            },
            &Registration::default(),
        )
        .await
        .expect("register");
    tracker.id
}

/// How many points the gateway must have stored for these outcomes: one per distinct
/// (device, time), plus one per record stamped on receipt.
pub fn expected_points(outcomes: &[Outcome]) -> usize {
    let mut timed = BTreeSet::new();
    let mut untimed = 0;
    for (device, time) in outcomes.iter().flat_map(|o| o.records.iter()) {
        match time {
            Some(t) => {
                timed.insert((device.clone(), *t));
            }
            None => untimed += 1,
        }
    }
    timed.len() + untimed
}

/// Logs a Wialon IPS device in over TCP and sends `records`, each answered after its commit.
pub async fn send_wialon(app: &super::TestApp, imei: &str, records: &[String]) {
    let addr = app
        .server
        .device_addr(Protocol::Wialon, Transport::Tcp)
        .expect("wialon listener");
    let mut device = TcpStream::connect(addr).await.expect("connect");
    for (packet, answer) in std::iter::once((format!("#L#{imei};NA\r\n"), "#AL#1\r\n"))
        .chain(records.iter().map(|r| (r.clone(), "#AD#1\r\n")))
    {
        let got = exchange(&mut device, packet.as_bytes(), answer.len()).await;
        assert_eq!(String::from_utf8_lossy(&got), answer, "answer to {packet}");
    }
}

/// Sends bytes and reads exactly `expect` bytes back (nothing when it is 0).
pub async fn exchange(stream: &mut TcpStream, send: &[u8], expect: usize) -> Vec<u8> {
    stream.write_all(send).await.expect("write");
    let mut got = vec![0u8; expect];
    if expect > 0 {
        tokio::time::timeout(DEADLINE, stream.read_exact(&mut got))
            .await
            .expect("reply within the deadline")
            .expect("read reply");
    }
    got
}

/// Whether the server closed the connection (EOF) within the deadline, without a byte.
pub async fn closed_without_reply(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(DEADLINE, stream.read(&mut byte)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}
