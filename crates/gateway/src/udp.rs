//! UDP: a datagram is a frame. Sessions are kept per peer address, since some protocols
//! (Wialon) identify the device once and rely on it later.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinSet;
use trackd_protocol::{Protocol, Session, SessionConfig, Transport};

use crate::handler::{process, Deps, Peer, Step};

struct PeerState {
    session: Box<dyn Session>,
    peer: Peer,
    last_seen: Instant,
}

type Peers = HashMap<SocketAddr, Arc<Mutex<PeerState>>>;

pub async fn recv_loop(
    socket: UdpSocket,
    protocol: Protocol,
    deps: Arc<Deps>,
    mut shutdown: watch::Receiver<bool>,
) {
    let socket = Arc::new(socket);
    let mut peers: Peers = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut buf = vec![0u8; 65_536];
    let idle = Duration::from_secs(deps.config.idle_timeout_secs.max(1));
    let mut last_sweep = Instant::now();
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((n, addr)) = received else { continue };
                let datagram = buf.get(..n).map(<[u8]>::to_vec).unwrap_or_default();
                let state = peers
                    .entry(addr)
                    .or_insert_with(|| {
                        let mut config = SessionConfig::new(Transport::Udp);
                        config.strict_checksum = deps.config.strict_checksum;
                        Arc::new(Mutex::new(PeerState { session: protocol.session(&config), peer: Peer::default(), last_seen: Instant::now() }))
                    })
                    .clone();
                let (deps, socket) = (deps.clone(), socket.clone());
                // One task per datagram so a commit in flight does not hold up other devices;
                // the per-peer lock keeps one device's datagrams in order.
                tasks.spawn(async move {
                    let mut s = state.lock().await;
                    s.last_seen = Instant::now();
                    let PeerState { session, peer, .. } = &mut *s;
                    if let Step::Continue(Some(reply)) = process(session.as_mut(), &datagram, peer, protocol, &deps).await {
                        let _ = socket.send_to(&reply, addr).await;
                    }
                });
                if last_sweep.elapsed() > idle {
                    peers.retain(|_, s| s.try_lock().map(|s| s.last_seen.elapsed() < idle).unwrap_or(true));
                    last_sweep = Instant::now();
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    while tasks.join_next().await.is_some() {}
}
