//! The protocols this crate speaks, by name: what the gateway needs to open a listener per
//! protocol and transport and to start a session for each connection, without naming the
//! session types.

use std::fmt;

use crate::{
    gl200::Gl200Session, gt06::Gt06Session, h02::H02Session, jt808::Jt808Session,
    meitrack::MeitrackSession, osmand::OsmandSession, teltonika::TeltonikaSession,
    wialon::WialonSession, Session, SessionConfig, Transport,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Teltonika,
    Gt06,
    Gl200,
    H02,
    Wialon,
    Osmand,
    Meitrack,
    Jt808,
}

impl Protocol {
    pub const ALL: [Protocol; 8] = [
        Protocol::Teltonika,
        Protocol::Gt06,
        Protocol::Gl200,
        Protocol::H02,
        Protocol::Wialon,
        Protocol::Osmand,
        Protocol::Meitrack,
        Protocol::Jt808,
    ];

    /// The protocol's name in configuration, in the capture files (`shared/vectors/<key>.tsv`)
    /// and in the fuzz targets.
    pub fn key(self) -> &'static str {
        match self {
            Protocol::Teltonika => "teltonika",
            Protocol::Gt06 => "gt06",
            Protocol::Gl200 => "gl200",
            Protocol::H02 => "h02",
            Protocol::Wialon => "wialon",
            Protocol::Osmand => "osmand",
            Protocol::Meitrack => "meitrack",
            Protocol::Jt808 => "jt808",
        }
    }

    /// The protocol of a [`key`](Protocol::key); keys are lower case and matched exactly.
    pub fn from_key(key: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.key() == key)
    }

    /// Traccar's port for the protocol: devices already configured for a Traccar server keep
    /// working when pointed at trackd.
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Teltonika => 5027,
            Protocol::Gt06 => 5023,
            Protocol::Gl200 => 5004,
            Protocol::H02 => 5013,
            Protocol::Wialon => 5039,
            Protocol::Osmand => 5055,
            Protocol::Meitrack => 5020,
            Protocol::Jt808 => 5015,
        }
    }

    /// The transports the protocol's devices use, each needing its own listener. OsmAnd is
    /// HTTP (over TCP): its framer cuts whole requests, not protocol frames.
    pub fn transports(self) -> &'static [Transport] {
        match self {
            Protocol::Gt06 => &[Transport::Tcp],
            Protocol::Osmand => &[Transport::Http],
            Protocol::Teltonika
            | Protocol::Gl200
            | Protocol::H02
            | Protocol::Wialon
            | Protocol::Meitrack
            | Protocol::Jt808 => &[Transport::Tcp, Transport::Udp],
        }
    }

    /// A fresh session for one connection (TCP, HTTP) or one peer (UDP).
    pub fn session(self, config: &SessionConfig) -> Box<dyn Session> {
        match self {
            Protocol::Teltonika => Box::new(TeltonikaSession::new(config)),
            Protocol::Gt06 => Box::new(Gt06Session::new(config)),
            Protocol::Gl200 => Box::new(Gl200Session::new(config)),
            Protocol::H02 => Box::new(H02Session::new(config)),
            Protocol::Wialon => Box::new(WialonSession::new(config)),
            Protocol::Osmand => Box::new(OsmandSession::new(config)),
            Protocol::Meitrack => Box::new(MeitrackSession::new(config)),
            Protocol::Jt808 => Box::new(Jt808Session::new(config)),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;
    use crate::testing;
    use crate::{Command, Timestamp};

    #[test]
    fn keys_round_trip_and_are_distinct() {
        let mut seen = HashSet::new();
        for p in Protocol::ALL {
            assert_eq!(Protocol::from_key(p.key()), Some(p));
            assert_eq!(p.to_string(), p.key());
            assert!(seen.insert(p.key()), "{p:?} shares its key");
        }
        assert_eq!(Protocol::from_key("GT06"), None);
        assert_eq!(Protocol::from_key(""), None);
        assert_eq!(Protocol::from_key("traccar"), None);
    }

    #[test]
    fn keys_name_the_capture_files() {
        for p in Protocol::ALL {
            assert!(
                !testing::captures(p.key()).is_empty(),
                "no captures for {p}"
            );
        }
    }

    #[test]
    fn default_ports_are_traccars() {
        let ports: Vec<(&str, u16)> = Protocol::ALL
            .iter()
            .map(|p| (p.key(), p.default_port()))
            .collect();
        assert_eq!(
            ports,
            [
                ("teltonika", 5027),
                ("gt06", 5023),
                ("gl200", 5004),
                ("h02", 5013),
                ("wialon", 5039),
                ("osmand", 5055),
                ("meitrack", 5020),
                ("jt808", 5015),
            ]
        );
        let distinct: HashSet<u16> = Protocol::ALL.iter().map(|p| p.default_port()).collect();
        assert_eq!(distinct.len(), Protocol::ALL.len());
    }

    #[test]
    fn transports() {
        assert_eq!(Protocol::Gt06.transports(), [Transport::Tcp]);
        assert_eq!(Protocol::Osmand.transports(), [Transport::Http]);
        for p in Protocol::ALL {
            let t = p.transports();
            assert!(!t.is_empty(), "{p}");
            // HTTP is a stream of its own; no protocol mixes it with raw TCP or UDP.
            assert!(
                t == [Transport::Http] || !t.contains(&Transport::Http),
                "{p}"
            );
        }
        for p in [
            Protocol::Teltonika,
            Protocol::Gl200,
            Protocol::H02,
            Protocol::Wialon,
            Protocol::Meitrack,
            Protocol::Jt808,
        ] {
            assert_eq!(p.transports(), [Transport::Tcp, Transport::Udp], "{p}");
        }
    }

    /// Each registry entry builds its own protocol's session: the first plain capture of every
    /// protocol decodes with the session the registry gives.
    #[test]
    fn sessions_decode_their_own_captures() {
        for p in Protocol::ALL {
            let capture = testing::captures(p.key())
                .into_iter()
                .find(|c| !c.context.contains("UDP") && !c.context.contains("setModelOverride"))
                .unwrap_or_else(|| panic!("{p}: no plain capture"));
            let mut s = p.session(&SessionConfig::new(p.transports()[0]));
            // Not framed: some capture files hold frames without their stream delimiters.
            let msg = s
                .decode(&capture.bytes)
                .unwrap_or_else(|e| panic!("{p}: capture {} not decoded: {e}", capture.idx));
            testing::assert_verify(&capture.verify, &[msg], p.key());
        }
    }

    /// A GT06 frame is not an H02 one: the registry does not hand out one session for all.
    #[test]
    fn sessions_differ_per_protocol() {
        let login = testing::hex("78780d01086471700328358100093f040d0a");
        let mut gt06 = Protocol::Gt06.session(&SessionConfig::new(Transport::Tcp));
        assert_eq!(
            gt06.decode(&login).map(|m| m.device_id),
            Ok(Some("864717003283581".to_owned()))
        );
        let mut h02 = Protocol::H02.session(&SessionConfig::new(Transport::Tcp));
        assert!(h02.decode(&login).is_err());
    }

    /// One of each command, with parameters drawn from the case.
    fn every_command(
        text: &str,
        bytes: &[u8],
        interval_secs: u32,
        index: u8,
        on: bool,
    ) -> [Command; 9] {
        [
            Command::Text(text.to_owned()),
            Command::Bytes(bytes.to_vec()),
            Command::EngineStop,
            Command::EngineResume,
            Command::AlarmArm,
            Command::AlarmDisarm,
            Command::PositionSingle,
            Command::PositionPeriodic { interval_secs },
            Command::SetOutput { index, on },
        ]
    }

    proptest! {
        /// Whatever arrives, on every protocol and transport: the framer keeps its contract,
        /// and neither decoding it nor encoding any command afterwards panics.
        #[test]
        fn arbitrary_bytes_never_panic_any_protocol(
            buf in proptest::collection::vec(any::<u8>(), 0..512),
            strict in any::<bool>(),
            now in proptest::option::of(any::<i64>()),
            interval_secs in any::<u32>(),
            index in any::<u8>(),
            on in any::<bool>(),
        ) {
            let text = String::from_utf8_lossy(&buf);
            let commands = every_command(&text, &buf, interval_secs, index, on);
            for p in Protocol::ALL {
                for &transport in p.transports() {
                    let mut config = SessionConfig::new(transport);
                    config.strict_checksum = strict;
                    let mut s = p.session(&config);
                    if let Some(now) = now {
                        s.set_now(Timestamp(now));
                    }
                    let cut = s.frame(&buf);
                    if let Err(e) = testing::check_cut(buf.len(), &cut) {
                        return Err(TestCaseError::fail(format!("{p} {transport:?}: {e}")));
                    }
                    if let Ok(cut) = cut {
                        let _ = s.decode(&buf[cut.start..cut.end]);
                    }
                    let _ = s.decode(&buf);
                    for c in &commands {
                        let _ = s.encode(c);
                    }
                }
            }
        }
    }
}
