//! Queclink @Track (GL200, GL300, GV300, GV500, GV55, GV350M, ... family), Traccar's `gl200`.
//!
//! The ASCII protocol is decoded: `+RESP:`/`+BUFF:` reports, `+ACK:` command answers and
//! heartbeats, `+NACK:` refusals. Binary frames (HEX @Track, Protocol Pro) are cut exactly
//! by the framer but decoded to a clear rejection: no capture uses them. See
//! `docs/protocols/gl200.md` for message types, acknowledgements and the field mapping.

mod can;
mod decode;
mod encode;
mod fields;
mod frame;
mod info;
mod reports;
#[cfg(test)]
mod tests;

use crate::command::{Command, EncodeError};
use crate::error::{DecodeError, FrameError};
use crate::message::DeviceMessage;
use crate::{Cut, Session, SessionConfig};

/// Factory password of the GL200; other models ship with their own name (`gv300`, ...).
pub const DEFAULT_PASSWORD: &str = "gl200";

/// One Queclink connection (or UDP peer).
#[derive(Clone, Debug)]
pub struct Gl200Session {
    /// The model given by configuration, upper case: it wins over the protocol version.
    model_override: Option<String>,
    /// The model derived from the last protocol version that named one.
    model: String,
    device_id: Option<String>,
    password: String,
}

impl Gl200Session {
    pub fn new(config: &SessionConfig) -> Self {
        // The text protocol has no checksum, so `strict_checksum` changes nothing here;
        // the transport changes nothing either: a datagram is one sentence.
        Gl200Session {
            model_override: config
                .model
                .as_ref()
                .map(|m| m.trim().to_ascii_uppercase())
                .filter(|m| !m.is_empty()),
            model: String::new(),
            device_id: None,
            password: DEFAULT_PASSWORD.to_owned(),
        }
    }

    /// The device password used in `AT+GT...` commands.
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = password.into();
        self
    }

    /// The IMEI the last sentence carried.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }
}

impl Session for Gl200Session {
    fn frame(&self, buf: &[u8]) -> Result<Cut, FrameError> {
        frame::frame(buf)
    }

    fn decode(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        decode::decode(self, frame)
    }

    fn encode(&mut self, command: &Command) -> Result<Vec<u8>, EncodeError> {
        encode::encode(&self.password, command)
    }
}
