//! One task per TCP connection (HTTP too: an OsmAnd request is a frame like any other): read
//! into a buffer, cut frames, act on each in order, answer after the commit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use trackd_core::metrics::Metrics;
use trackd_protocol::{FrameError, Protocol, SessionConfig, Transport};

use crate::handler::{answered, commit, decode, Decoded, Deps, Peer};

pub async fn accept_loop(
    listener: TcpListener,
    protocol: Protocol,
    transport: Transport,
    deps: Arc<Deps>,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: pause instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    Metrics::inc(&deps.metrics.connections_refused_total);
                    continue;
                };
                Metrics::inc(&deps.metrics.connections_total);
                Metrics::inc(&deps.metrics.connections_open);
                let deps = deps.clone();
                let shutdown = shutdown.clone();
                connections.spawn(async move {
                    serve(stream, addr, protocol, transport, &deps, shutdown).await;
                    Metrics::dec(&deps.metrics.connections_open);
                    drop(permit);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    // Connections see the same signal; wait for them to finish the frame in hand.
    while connections.join_next().await.is_some() {}
}

async fn serve(
    mut stream: TcpStream,
    addr: SocketAddr,
    protocol: Protocol,
    transport: Transport,
    deps: &Deps,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut config = SessionConfig::new(transport);
    config.strict_checksum = deps.config.strict_checksum;
    let mut session = protocol.session(&config);
    let mut peer = Peer::default();
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let idle = Duration::from_secs(deps.config.idle_timeout_secs.max(1));
    loop {
        // Every complete frame in hand is decoded before any commit, and their records are
        // committed together: a device that pipelines (OsmAnd's HTTP requests, a Teltonika
        // with packets queued) waits for one commit, not one per frame. The replies follow
        // the commit, in frame order.
        let mut points = Vec::new();
        let mut replies: Vec<(bool, Vec<u8>)> = Vec::new();
        let mut close = false;
        while !buf.is_empty() {
            match session.frame(&buf) {
                Ok(cut) => {
                    let consumed = cut.consumed.clamp(1, buf.len());
                    let frame = buf
                        .get(cut.start..cut.end.min(consumed))
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default();
                    buf.drain(..consumed);
                    match decode(session.as_mut(), &frame, &mut peer, protocol, deps).await {
                        Decoded::Ready { points: own, reply } => {
                            let data = !own.is_empty();
                            points.extend(own);
                            replies.extend(reply.map(|r| (data, r)));
                        }
                        Decoded::Skip => {}
                        Decoded::Close => {
                            close = true;
                            break;
                        }
                    }
                }
                Err(FrameError::Incomplete) => break,
                Err(FrameError::Reject { skip, reason }) => {
                    Metrics::inc(&deps.metrics.decode_errors_total);
                    tracing::debug!(protocol = protocol.key(), %addr, %reason, "skipping bytes");
                    buf.drain(..skip.clamp(1, buf.len()));
                }
                Err(FrameError::Fatal(reason)) => {
                    Metrics::inc(&deps.metrics.decode_errors_total);
                    tracing::debug!(protocol = protocol.key(), %addr, %reason, "closing connection");
                    close = true;
                    break;
                }
            }
        }
        // Not committed: the frames before the first with records are still answered (a
        // login), the rest are not (the device resends them).
        let committed = commit(points, &peer, deps).await;
        let mut out = Vec::new();
        for (data, reply) in replies {
            if data && !committed {
                break;
            }
            out.extend(answered(Some(reply), deps).unwrap_or_default());
        }
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
        if close {
            return;
        }
        if buf.len() > deps.config.max_frame_bytes {
            tracing::debug!(protocol = protocol.key(), %addr, bytes = buf.len(), "frame too large; closing");
            return;
        }
        tokio::select! {
            read = tokio::time::timeout(idle, stream.read_buf(&mut buf)) => match read {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(_)) => {}
                Err(_) => {
                    tracing::debug!(protocol = protocol.key(), %addr, "idle timeout");
                    return;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}
