//! What a decoded message leads to, on any transport: bind the connection to its tracker,
//! commit the records, then (and only then) answer the device. A stream connection decodes
//! every complete frame it has before committing them together ([`decode`], [`commit`]); a
//! datagram is one frame ([`process`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use trackd_core::clock::Clock;
use trackd_core::metrics::Metrics;
use trackd_core::point::Point;
use trackd_core::TrackerId;
use trackd_ingest::{to_point, Ingest};
use trackd_protocol::{DecodeError, DeviceMessage, Protocol, Session, Timestamp};

use crate::config::GatewayConfig;
use crate::directory::{Directory, Resolution};

/// What every listener shares.
pub struct Deps {
    pub ingest: Ingest,
    pub directory: Directory,
    pub metrics: Arc<Metrics>,
    pub config: GatewayConfig,
    /// Receive times come from the clock the API reads "now" from, so a tracker's status
    /// (how long since it was heard from) compares like with like.
    pub clock: Arc<Clock>,
}

/// The device behind one connection (or one UDP peer).
#[derive(Default)]
pub struct Peer {
    device_id: Option<String>,
    tracker: Option<TrackerId>,
    resolved_at: Option<Instant>,
    /// The last receive time given to a record without a time of its own.
    last_stamp: i64,
}

/// What to do after a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Keep going; send these bytes first, if any.
    Continue(Option<Vec<u8>>),
    /// Close the connection (unknown device, protocol violation).
    Close,
}

/// Bindings are re-checked this often, so blocking or corrupting a tracker reaches devices
/// that stay connected.
const RECHECK: Duration = Duration::from_secs(60);

/// What one frame comes to before any commit.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// Points to commit (none for a login or a heartbeat) and the reply that may be sent once
    /// they are committed.
    Ready {
        points: Vec<Point>,
        reply: Option<Vec<u8>>,
    },
    /// Nothing to commit or answer (a rejected frame; a failed lookup the device will retry).
    Skip,
    /// Close the connection (unknown device, protocol violation).
    Close,
}

/// Decodes one frame, commits its records and answers: what a UDP datagram gets.
pub async fn process(
    session: &mut dyn Session,
    frame: &[u8],
    peer: &mut Peer,
    protocol: Protocol,
    deps: &Deps,
) -> Step {
    match decode(session, frame, peer, protocol, deps).await {
        Decoded::Ready { points, reply } => {
            if commit(points, peer, deps).await {
                Step::Continue(answered(reply, deps))
            } else {
                Step::Continue(None)
            }
        }
        Decoded::Skip => Step::Continue(None),
        Decoded::Close => Step::Close,
    }
}

/// A reply about to be sent, counted.
pub fn answered(reply: Option<Vec<u8>>, deps: &Deps) -> Option<Vec<u8>> {
    if reply.is_some() {
        Metrics::inc(&deps.metrics.acks_total);
    }
    reply
}

/// Commits points (nothing to do for none); whether the device may be answered.
pub async fn commit(points: Vec<Point>, peer: &Peer, deps: &Deps) -> bool {
    if points.is_empty() {
        return true;
    }
    match deps.ingest.submit(points).await {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, device_id = ?peer.device_id, "not acknowledged");
            false
        }
    }
}

/// Decodes one frame, binds the connection to its tracker and makes its records points.
pub async fn decode(
    session: &mut dyn Session,
    frame: &[u8],
    peer: &mut Peer,
    protocol: Protocol,
    deps: &Deps,
) -> Decoded {
    Metrics::inc(&deps.metrics.frames_total);
    let received_at = deps.clock.now();
    session.set_now(Timestamp(received_at));
    match session.decode(frame) {
        Err(DecodeError::Reject(reason)) => {
            Metrics::inc(&deps.metrics.decode_errors_total);
            tracing::debug!(protocol = protocol.key(), device_id = ?peer.device_id, %reason, "frame rejected");
            Decoded::Skip
        }
        Err(DecodeError::Fatal(reason)) => {
            Metrics::inc(&deps.metrics.decode_errors_total);
            tracing::debug!(protocol = protocol.key(), device_id = ?peer.device_id, %reason, "closing connection");
            Decoded::Close
        }
        Ok(msg) => prepare(msg, peer, protocol, deps, received_at).await,
    }
}

async fn prepare(
    msg: DeviceMessage,
    peer: &mut Peer,
    protocol: Protocol,
    deps: &Deps,
    received_at: i64,
) -> Decoded {
    let announced = msg
        .device_id
        .as_deref()
        .or(peer.device_id.as_deref())
        .map(str::to_owned);
    let stale = peer.resolved_at.is_none_or(|at| at.elapsed() > RECHECK);
    if let Some(id) = announced {
        if peer.device_id.as_deref() != Some(id.as_str()) || stale {
            match deps.directory.resolve(&id).await {
                Ok(Resolution::Tracker(t)) => {
                    peer.device_id = Some(id);
                    peer.tracker = Some(t);
                    peer.resolved_at = Some(Instant::now());
                }
                Ok(refused) => {
                    Metrics::inc(&deps.metrics.unknown_device_messages_total);
                    deps.directory.log_refused(&id, refused, protocol.key());
                    return Decoded::Close;
                }
                Err(e) => {
                    // The device is not answered and will retry; its data is not lost.
                    tracing::warn!(error = %e, device_id = %id, "device lookup failed");
                    return Decoded::Skip;
                }
            }
        }
    }
    if msg.records.is_empty() {
        return Decoded::Ready {
            points: Vec::new(),
            reply: msg.reply,
        };
    }
    let Some(tracker) = peer.tracker else {
        Metrics::inc(&deps.metrics.unknown_device_messages_total);
        tracing::debug!(
            protocol = protocol.key(),
            "data before the device identified itself; closing"
        );
        return Decoded::Close;
    };
    // Records without a time of their own get the receive time, at least a millisecond after
    // the last one so that two of them never collapse into one point.
    let points = msg
        .records
        .into_iter()
        .map(|r| {
            let mut stamp = received_at;
            if r.time.is_none() {
                stamp = stamp.max(peer.last_stamp + 1);
                peer.last_stamp = stamp;
            }
            to_point(tracker, r, received_at, stamp)
        })
        .collect();
    Decoded::Ready {
        points,
        reply: msg.reply,
    }
}
