//! Tracker protocols as pure functions over bytes.
//!
//! Every protocol module offers a session type implementing [`Session`]: it cuts frames out
//! of a stream buffer ([`Session::frame`]), decodes one frame into a [`DeviceMessage`]
//! ([`Session::decode`]) and encodes commands for the device ([`Session::encode`]);
//! [`Protocol`] names the protocols and builds their sessions. Nothing here does I/O or knows
//! about tokio: the gateway owns sockets, this crate owns bytes.

pub mod checksum;
pub mod command;
pub mod error;
pub mod gl200;
pub mod gt06;
pub mod h02;
pub mod jt808;
pub mod meitrack;
pub mod message;
pub mod osmand;
pub mod protocol;
pub mod reader;
mod resync;
pub mod teltonika;
pub mod time;
pub mod wialon;

#[cfg(test)]
pub(crate) mod testing;

pub use command::{Command, EncodeError};
pub use error::{DecodeError, FrameError};
pub use message::{
    Alarm, CommandReply, DeviceMessage, Fix, FixSource, Gsm, IoName, IoValue, Record, Timestamp,
};
pub use protocol::Protocol;
pub use reader::Reader;

/// How the bytes reached us: some protocols frame, answer or identify differently per transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
    Http,
}

impl Transport {
    /// The transport's name in logs and in `trackd serve --ready-file`.
    pub fn key(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Http => "http",
        }
    }
}

/// Settings a session is created with.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub transport: Transport,
    /// Reject frames whose checksum or CRC does not match (the default). Turning it off accepts
    /// captures from devices with broken firmware, at the price of accepting line noise.
    pub strict_checksum: bool,
    /// A device model whose IO mapping differs from the protocol's default (e.g. Teltonika
    /// `FMB130`, JT808 `JC371`).
    pub model: Option<String>,
}

impl SessionConfig {
    pub fn new(transport: Transport) -> Self {
        SessionConfig {
            transport,
            strict_checksum: true,
            model: None,
        }
    }
}

/// Where a frame sits at the head of a stream buffer.
///
/// `consumed` bytes are to be dropped from the buffer; the frame itself is
/// `buf[start..end]` (a framer may leave out delimiters or leading noise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    pub consumed: usize,
    pub start: usize,
    pub end: usize,
}

impl Cut {
    /// A frame that is exactly the first `len` bytes.
    pub fn whole(len: usize) -> Self {
        Cut {
            consumed: len,
            start: 0,
            end: len,
        }
    }
}

/// One device connection's protocol state: identity learnt from a login frame, sequence
/// numbers, a codec chosen by the handshake.
pub trait Session: Send {
    /// Finds the first frame in `buf`. Must never claim more than `buf.len()` bytes.
    fn frame(&self, buf: &[u8]) -> Result<Cut, FrameError>;

    /// Decodes one frame (on UDP one datagram, on HTTP one request).
    fn decode(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError>;

    /// Encodes a command for the device this session talks to.
    fn encode(&mut self, command: &Command) -> Result<Vec<u8>, EncodeError>;

    /// The server's current time. The gateway calls it before each `decode` and `encode` with
    /// the receive time; sessions that answer with the time (time-sync replies, time-tagged
    /// confirmations) or stamp records whose frame carries no time use it, and keep it until
    /// the next call. Protocol code never reads the system clock, so that decoding stays a
    /// function of its inputs: a session that needs the time and has not been given one leaves
    /// the time-bearing answer out (the device asks again) and its time-less records keep
    /// `time: None` (ingest stamps them).
    // Named `now` rather than `_now` because rustdoc shows the name to implementors.
    #[allow(unused_variables)]
    fn set_now(&mut self, now: Timestamp) {}
}
