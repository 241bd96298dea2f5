//! The harness every fuzz target runs, and the input layout the corpus seeder writes.
//!
//! An input is one control byte and the bytes a device sent. The control byte picks the
//! session's settings, so that one corpus entry reaches the code behind each of them:
//!
//! | bits | setting |
//! |---|---|
//! | 0-1 | transport: index into [`Protocol::transports`] (modulo their number) |
//! | 2 | set: `strict_checksum = false` |
//! | 3 | set: the session is never given the time ([`Session::set_now`]) |
//! | 4-7 | device model: index into [`models`] (modulo their number; 0 is none) |
//!
//! The rest is given to the session twice, the two ways the gateway hands bytes over: as a
//! stream (frame, decode the cut, drop what it consumed, skip what it rejects, stop when the
//! framer needs more or gives up), and whole, as one UDP datagram or HTTP request.

use trackd_protocol::{
    Command, Cut, DecodeError, FrameError, Protocol, Session, SessionConfig, Timestamp,
};

/// The receive time the gateway would pass: 2024-05-06 07:08:09 UTC. A real clock, not an
/// arbitrary i64: the gateway never hands a session a time millions of years away.
pub const NOW: Timestamp = Timestamp(1_714_979_289_000);

/// Device models whose layouts differ from a protocol's default, as the gateway may set them
/// from the tracker record.
pub fn models(protocol: Protocol) -> &'static [Option<&'static str>] {
    match protocol {
        Protocol::Teltonika => &[None, Some("FMB130"), Some("FM3622")],
        Protocol::Gt06 => &[
            None,
            Some("VL103"),
            Some("SEEWORLD"),
            Some("XT40"),
            Some("LW4G-4B"),
            Some("R11"),
            Some("QH302R"),
            Some("G109"),
        ],
        Protocol::Gl200 => &[None, Some("GV350MCEU"), Some("GV350M"), Some("GL320M")],
        Protocol::Jt808 => &[
            None,
            Some("JC371"),
            Some("GL100"),
            Some("MV710G"),
            Some("C5L"),
            Some("G-360P"),
            Some("DT800"),
            Some("VL300"),
            Some("G1C Pro"),
        ],
        Protocol::H02 | Protocol::Wialon | Protocol::Osmand | Protocol::Meitrack => &[None],
    }
}

/// The settings a control byte selects.
#[derive(Clone, Debug)]
pub struct Setup {
    pub config: SessionConfig,
    pub now: Option<Timestamp>,
}

impl Setup {
    pub fn from_control(protocol: Protocol, control: u8) -> Setup {
        let transports = protocol.transports();
        let models = models(protocol);
        let transport = transports[usize::from(control & 0b11) % transports.len()];
        let mut config = SessionConfig::new(transport);
        config.strict_checksum = control & 0b100 == 0;
        config.model = models[usize::from(control >> 4) % models.len()].map(str::to_owned);
        Setup {
            config,
            now: (control & 0b1000 == 0).then_some(NOW),
        }
    }

    /// The control byte that selects these settings (the seeder's direction).
    pub fn control(&self, protocol: Protocol) -> u8 {
        let transport = protocol
            .transports()
            .iter()
            .position(|t| *t == self.config.transport)
            .unwrap_or(0);
        let model = models(protocol)
            .iter()
            .position(|m| m.map(str::to_owned) == self.config.model)
            .unwrap_or(0);
        (transport as u8 & 0b11)
            | if self.config.strict_checksum {
                0
            } else {
                0b100
            }
            | if self.now.is_some() { 0 } else { 0b1000 }
            | (model as u8) << 4
    }

    fn session(&self, protocol: Protocol) -> Box<dyn Session> {
        let mut s = protocol.session(&self.config);
        if let Some(now) = self.now {
            s.set_now(now);
        }
        s
    }
}

/// Runs one fuzz input through `protocol`'s session. Panics (a finding) when the session
/// panics, or when its framer breaks the contract the gateway relies on.
pub fn run(protocol: Protocol, data: &[u8]) {
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    let setup = Setup::from_control(protocol, control);

    let mut session = setup.session(protocol);
    let mut buf = bytes;
    while !buf.is_empty() {
        let result = session.frame(buf);
        assert_contract(buf.len(), &result);
        match result {
            Ok(cut) => {
                let decoded = session.decode(&buf[cut.start..cut.end]);
                buf = &buf[cut.consumed..];
                if let Err(DecodeError::Fatal(_)) = decoded {
                    // The gateway closes the connection.
                    break;
                }
            }
            Err(FrameError::Reject { skip, .. }) => buf = &buf[skip..],
            Err(FrameError::Incomplete | FrameError::Fatal(_)) => break,
        }
    }
    // Commands go to a session in whatever state the device left it (an identity learnt
    // from a login, a half-reassembled message).
    for command in commands(bytes) {
        let _ = session.encode(&command);
    }

    let mut datagram = setup.session(protocol);
    let _ = datagram.decode(bytes);
}

/// The framer contract (`testing::check_cut` in the protocol crate's tests): a cut lies
/// within what it consumes, which is at least one byte and at most the buffer; a rejection
/// skips at least one byte and at most the buffer. Breaking it makes the gateway slice out of
/// bounds or spin.
fn assert_contract(len: usize, result: &Result<Cut, FrameError>) {
    match result {
        Ok(cut) => assert!(
            cut.start <= cut.end && cut.end <= cut.consumed && (1..=len).contains(&cut.consumed),
            "{cut:?} from a {len}-byte buffer"
        ),
        Err(FrameError::Reject { skip, .. }) => assert!(
            (1..=len).contains(skip),
            "rejection skips {skip} of {len} bytes"
        ),
        Err(FrameError::Incomplete | FrameError::Fatal(_)) => {}
    }
}

/// One of each command, with text and numbers taken from the input.
fn commands(bytes: &[u8]) -> [Command; 9] {
    let head = bytes.get(..64).unwrap_or(bytes);
    let number = |at: usize| {
        let mut word = [0u8; 4];
        for (w, b) in word.iter_mut().zip(bytes.iter().skip(at)) {
            *w = *b;
        }
        u32::from_le_bytes(word)
    };
    [
        Command::Text(String::from_utf8_lossy(head).into_owned()),
        Command::Bytes(head.to_vec()),
        Command::EngineStop,
        Command::EngineResume,
        Command::AlarmArm,
        Command::AlarmDisarm,
        Command::PositionSingle,
        Command::PositionPeriodic {
            interval_secs: number(0),
        },
        Command::SetOutput {
            index: head.first().copied().unwrap_or(1),
            on: number(1) & 1 == 1,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_round_trip() {
        for protocol in Protocol::ALL {
            for control in 0..=255u8 {
                let setup = Setup::from_control(protocol, control);
                let again = Setup::from_control(protocol, setup.control(protocol));
                assert_eq!(again.config.transport, setup.config.transport);
                assert_eq!(again.config.strict_checksum, setup.config.strict_checksum);
                assert_eq!(again.config.model, setup.config.model);
                assert_eq!(again.now, setup.now);
            }
        }
    }

    #[test]
    fn zero_is_the_default_session() {
        let setup = Setup::from_control(Protocol::Gt06, 0);
        assert!(setup.config.strict_checksum);
        assert_eq!(setup.config.model, None);
        assert_eq!(setup.now, Some(NOW));
    }
}
