//! The device gateway: one listener per protocol and transport, a task per TCP connection,
//! a receive loop per UDP socket. It owns the sockets; decoding is the protocol crate's,
//! storing is ingest's. A device is answered only after its records are committed.

pub mod config;
pub mod directory;
pub mod handler;
mod tcp;
mod udp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use trackd_core::clock::Clock;
use trackd_core::metrics::Metrics;
use trackd_ingest::Ingest;
use trackd_protocol::{Protocol, Transport};
use trackd_store::Store;

pub use config::GatewayConfig;
use directory::Directory;
use handler::Deps;

/// A bound listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listener {
    pub protocol: Protocol,
    pub transport: Transport,
    pub addr: SocketAddr,
}

pub struct Gateway {
    pub listeners: Vec<Listener>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot listen for {protocol} on {addr}: {source}")]
    Bind {
        protocol: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("unknown protocol in the gateway configuration: {0}")]
    UnknownProtocol(String),
}

impl Gateway {
    /// Binds every enabled listener, then serves until [`Gateway::stop`].
    pub async fn start(
        config: GatewayConfig,
        store: Arc<dyn Store>,
        ingest: Ingest,
        metrics: Arc<Metrics>,
        clock: Arc<Clock>,
    ) -> Result<Gateway, GatewayError> {
        if let Some(bad) = config.unknown_protocols().into_iter().next() {
            return Err(GatewayError::UnknownProtocol(bad));
        }
        let deps = Arc::new(Deps {
            ingest,
            directory: Directory::new(store, Duration::from_secs(config.directory_ttl_secs)),
            metrics,
            config: config.clone(),
            clock,
        });
        let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let (shutdown, rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut listeners = Vec::new();
        for protocol in Protocol::ALL {
            let Some(port) = config.port(protocol) else {
                continue;
            };
            let addr = SocketAddr::new(config.bind, port);
            let bind_err = |source| GatewayError::Bind {
                protocol: protocol.key(),
                addr,
                source,
            };
            for &transport in protocol.transports() {
                match transport {
                    Transport::Tcp | Transport::Http => {
                        let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
                        let bound = listener.local_addr().map_err(bind_err)?;
                        listeners.push(Listener {
                            protocol,
                            transport,
                            addr: bound,
                        });
                        tasks.spawn(tcp::accept_loop(
                            listener,
                            protocol,
                            transport,
                            deps.clone(),
                            slots.clone(),
                            rx.clone(),
                        ));
                    }
                    Transport::Udp => {
                        // With port 0, UDP takes the port TCP got when it is free, so a device
                        // configured for either finds both.
                        let tcp_port = listeners
                            .iter()
                            .rev()
                            .find(|l| l.protocol == protocol)
                            .map(|l| l.addr.port());
                        let socket = match tcp_port {
                            Some(p) if port == 0 => {
                                match UdpSocket::bind(SocketAddr::new(config.bind, p)).await {
                                    Ok(s) => s,
                                    Err(_) => UdpSocket::bind(addr).await.map_err(bind_err)?,
                                }
                            }
                            _ => UdpSocket::bind(addr).await.map_err(bind_err)?,
                        };
                        let bound = socket.local_addr().map_err(bind_err)?;
                        listeners.push(Listener {
                            protocol,
                            transport,
                            addr: bound,
                        });
                        tasks.spawn(udp::recv_loop(socket, protocol, deps.clone(), rx.clone()));
                    }
                }
            }
        }
        Ok(Gateway {
            listeners,
            shutdown,
            tasks,
        })
    }

    /// The address a protocol listens on over a transport.
    pub fn addr(&self, protocol: Protocol, transport: Transport) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.protocol == protocol && l.transport == transport)
            .map(|l| l.addr)
    }

    /// Stops accepting, lets every connection finish the frame in hand (its commit and
    /// answer), and waits for all of them.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}
