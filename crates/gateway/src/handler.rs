//! What a decoded message leads to, on any transport: bind the connection to its tracker,
//! commit the records, then (and only then) answer the device.

use std::sync::Arc;
use std::time::{Duration, Instant};

use trackd_core::clock::Clock;
use trackd_core::metrics::Metrics;
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

/// Decodes one frame and acts on it.
pub async fn process(
    session: &mut dyn Session,
    frame: &[u8],
    peer: &mut Peer,
    protocol: Protocol,
    deps: &Deps,
) -> Step {
    Metrics::inc(&deps.metrics.frames_total);
    let received_at = deps.clock.now();
    session.set_now(Timestamp(received_at));
    match session.decode(frame) {
        Err(DecodeError::Reject(reason)) => {
            Metrics::inc(&deps.metrics.decode_errors_total);
            tracing::debug!(protocol = protocol.key(), device_id = ?peer.device_id, %reason, "frame rejected");
            Step::Continue(None)
        }
        Err(DecodeError::Fatal(reason)) => {
            Metrics::inc(&deps.metrics.decode_errors_total);
            tracing::debug!(protocol = protocol.key(), device_id = ?peer.device_id, %reason, "closing connection");
            Step::Close
        }
        Ok(msg) => handle(msg, peer, protocol, deps, received_at).await,
    }
}

async fn handle(
    msg: DeviceMessage,
    peer: &mut Peer,
    protocol: Protocol,
    deps: &Deps,
    received_at: i64,
) -> Step {
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
                    return Step::Close;
                }
                Err(e) => {
                    // The device is not answered and will retry; its data is not lost.
                    tracing::warn!(error = %e, device_id = %id, "device lookup failed");
                    return Step::Continue(None);
                }
            }
        }
    }
    if msg.records.is_empty() {
        if msg.reply.is_some() {
            Metrics::inc(&deps.metrics.acks_total);
        }
        return Step::Continue(msg.reply);
    }
    let Some(tracker) = peer.tracker else {
        Metrics::inc(&deps.metrics.unknown_device_messages_total);
        tracing::debug!(
            protocol = protocol.key(),
            "data before the device identified itself; closing"
        );
        return Step::Close;
    };
    // Records without a time of their own get the receive time, at least a millisecond after
    // the last one so that two of them never collapse into one point.
    let points = msg
        .records
        .iter()
        .map(|r| {
            let mut stamp = received_at;
            if r.time.is_none() {
                stamp = stamp.max(peer.last_stamp + 1);
                peer.last_stamp = stamp;
            }
            to_point(tracker, r, received_at, stamp)
        })
        .collect();
    match deps.ingest.submit(points).await {
        Ok(()) => {
            if msg.reply.is_some() {
                Metrics::inc(&deps.metrics.acks_total);
            }
            Step::Continue(msg.reply)
        }
        Err(e) => {
            tracing::debug!(error = %e, device_id = ?peer.device_id, "not acknowledged");
            Step::Continue(None)
        }
    }
}
