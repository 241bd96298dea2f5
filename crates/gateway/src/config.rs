//! Listener settings. Defaults are Traccar's ports, so devices set up for Traccar connect
//! unchanged.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;
use trackd_protocol::Protocol;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address every device listener binds to.
    pub bind: IpAddr,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout_secs: u64,
    /// Bytes a connection may buffer without completing a frame before it is closed.
    pub max_frame_bytes: usize,
    /// Open device connections across all listeners; more are refused.
    pub max_connections: usize,
    /// Reject frames whose checksum does not match.
    pub strict_checksum: bool,
    /// How long a device-ID lookup (registered, blocked) is remembered.
    pub directory_ttl_secs: u64,
    /// Per-protocol overrides, keyed by protocol (`teltonika`, `gt06`, ...).
    pub protocols: BTreeMap<String, ProtocolListen>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtocolListen {
    pub enabled: Option<bool>,
    /// 0 picks a free port (the bound address is logged).
    pub port: Option<u16>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            bind: IpAddr::from([0, 0, 0, 0]),
            idle_timeout_secs: 600,
            max_frame_bytes: 1024 * 1024,
            max_connections: 20_000,
            strict_checksum: true,
            directory_ttl_secs: 60,
            protocols: BTreeMap::new(),
        }
    }
}

impl GatewayConfig {
    /// The port a protocol listens on, or `None` when it is disabled.
    pub fn port(&self, protocol: Protocol) -> Option<u16> {
        let over = self.protocols.get(protocol.key());
        if over.and_then(|o| o.enabled) == Some(false) {
            return None;
        }
        Some(over.and_then(|o| o.port).unwrap_or(protocol.default_port()))
    }

    /// Every listener on port 0: for tests and for running beside another server.
    pub fn any_ports(mut self) -> Self {
        for p in Protocol::ALL {
            self.protocols.entry(p.key().to_owned()).or_default().port = Some(0);
        }
        self
    }

    /// Names in `protocols` that are not protocols: a typo must not silently disable nothing.
    pub fn unknown_protocols(&self) -> Vec<String> {
        self.protocols
            .keys()
            .filter(|k| Protocol::from_key(k).is_none())
            .cloned()
            .collect()
    }
}
