//! (a) Decoder throughput per protocol on one core: the frames the simulator sends, cut and
//! decoded by the server's sessions in a loop on this thread, and the same plus the
//! conversion to a storable point.

use std::time::{Duration, Instant};

use trackd_core::TrackerId;
use trackd_protocol::{SessionConfig, Timestamp};
use trackd_sim::encode::{osmand, teltonika, wialon};
use trackd_sim::{SimProtocol, Vehicle};

pub struct DecodeFigures {
    /// Records framed and decoded per second.
    pub decode: f64,
    /// ... and converted to points (what ingest stores).
    pub to_point: f64,
    /// Input bytes per second while decoding.
    pub bytes_per_sec: f64,
    /// Records per message in the stream.
    pub records_per_message: usize,
}

/// A stream of messages as one device connection carries them (login first).
fn stream(protocol: SimProtocol, batch: usize) -> (Vec<u8>, usize) {
    let mut v = Vehicle::new(11, 1_750_000_000_000, 1000);
    let mut out = Vec::new();
    let mut records = 0;
    let id = trackd_sim::imei(11);
    match protocol {
        SimProtocol::Teltonika => out.extend(teltonika::login(&id)),
        SimProtocol::Wialon => out.extend(wialon::login(&id)),
        SimProtocol::Osmand => {}
    }
    for _ in 0..200 {
        let samples: Vec<_> = (0..batch).map(|_| v.next_sample()).collect();
        records += samples.len();
        out.extend(match protocol {
            SimProtocol::Teltonika => teltonika::codec8(&samples),
            SimProtocol::Wialon => wialon::packet(&samples),
            SimProtocol::Osmand => osmand::requests(&id, "127.0.0.1:5055", &samples),
        });
    }
    (out, records)
}

/// Runs the stream through a fresh session per pass for `time`; returns records/s.
fn pass_loop(
    protocol: SimProtocol,
    bytes: &[u8],
    records: usize,
    time: Duration,
    convert: bool,
) -> f64 {
    let started = Instant::now();
    let mut done = 0usize;
    let mut sink = 0usize;
    while started.elapsed() < time {
        let mut session = protocol
            .protocol()
            .session(&SessionConfig::new(protocol.transport()));
        session.set_now(Timestamp(1_750_000_000_000));
        let mut at = 0usize;
        while at < bytes.len() {
            let Ok(cut) = session.frame(&bytes[at..]) else {
                break;
            };
            let frame = &bytes[at + cut.start..at + cut.end];
            at += cut.consumed.max(1);
            if let Ok(msg) = session.decode(frame) {
                sink += msg.records.len();
                if convert {
                    for r in msg.records {
                        let p = trackd_ingest::to_point(TrackerId(1), r, 0, 0);
                        sink += p.io.len();
                    }
                }
            }
        }
        done += records;
    }
    std::hint::black_box(sink);
    done as f64 / started.elapsed().as_secs_f64()
}

pub fn measure(protocol: SimProtocol, time: Duration) -> DecodeFigures {
    // Devices batch what they send: Teltonika packets and Wialon black boxes of 10 records;
    // OsmAnd clients send one position per request.
    let batch = match protocol {
        SimProtocol::Osmand => 1,
        _ => 10,
    };
    let (bytes, records) = stream(protocol, batch);
    let decode = pass_loop(protocol, &bytes, records, time, false);
    let to_point = pass_loop(protocol, &bytes, records, time, true);
    DecodeFigures {
        decode,
        to_point,
        bytes_per_sec: decode * bytes.len() as f64 / records as f64,
        records_per_message: batch,
    }
}
