//! Concox GT06 and the many devices that speak it (Concox/Jimi IoT GT, GK, JC, JM-VL, LW, SeeWorld,
//! Wanway and other clones), over TCP.
//!
//! A frame is `78 78 <len:1> <type> <content> <serial:2> <crc:2> 0D 0A`, or the extended form
//! `79 79 <len:2> ...` for long messages. The length counts type to CRC; the CRC is CRC-16/X-25
//! over length to serial. Devices wait for an answer to login, heartbeat and alarm frames: the
//! server echoes the type and serial in an empty frame of the same form.
//!
//! Clones disagree on the content of the same type. Where the frame itself tells them apart
//! (a type with a length only one vendor uses) the decoder picks the layout from it; where it
//! does not, the device model does
//! ([`SessionConfig::model`] or [`Gt06Session::set_model`], e.g. `VL103`, `SEEWORLD`, `XT40`).
//!
//! The time request (type `0x8A`) is answered with the server's time, which the session is given
//! through [`Session::set_now`] (the gateway calls it with the receive time before each decode):
//! decoding stays a function of the bytes and of that time. A session not yet given the time
//! leaves the answer out, and the device asks again. [`time_reply`] builds the answer for a
//! given time.

mod decode;
mod encode;
mod extended;
mod fields;
mod frame;
mod location;
mod variant;

#[cfg(test)]
mod tests;

use crate::command::{Command, EncodeError};
use crate::error::{DecodeError, FrameError};
use crate::message::{DeviceMessage, Timestamp};
use crate::{Cut, Session, SessionConfig};

pub use encode::time_reply;

/// One GT06 connection: the identity and time zone learnt from the login frame, the device
/// model (which picks between clone layouts) and the serial number of server commands.
pub struct Gt06Session {
    strict_checksum: bool,
    model: variant::Model,
    /// Seconds east of UTC of the device clock, from the login frame. Devices set to a local
    /// zone (`GMT,E,8#`) send local times in every date field.
    tz_offset_secs: i64,
    device_id: Option<String>,
    command_serial: u16,
    /// The server's time from [`Session::set_now`], for the time-request answer.
    now: Option<Timestamp>,
}

impl Gt06Session {
    pub fn new(config: &SessionConfig) -> Self {
        Gt06Session {
            strict_checksum: config.strict_checksum,
            model: variant::Model::new(config.model.as_deref()),
            tz_offset_secs: 0,
            device_id: None,
            command_serial: 0,
            now: None,
        }
    }

    /// Sets the device model once it is known (the gateway learns it from the tracker record
    /// after the login frame): it selects between the layouts clones give the same type.
    pub fn set_model(&mut self, model: Option<&str>) {
        self.model = variant::Model::new(model);
    }

    /// The IMEI announced by the last login frame.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }
}

impl Session for Gt06Session {
    fn frame(&self, buf: &[u8]) -> Result<Cut, FrameError> {
        frame::cut(buf)
    }

    fn decode(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        let packet = frame::parse(frame, self.strict_checksum)?;
        let ctx = decode::Ctx {
            model: &self.model,
            variant: variant::Variant::detect(&packet),
            tz_offset_secs: self.tz_offset_secs,
            now: self.now,
        };
        let out = if packet.extended {
            extended::decode(&packet, &ctx)?
        } else {
            decode::decode(&packet, &ctx)?
        };
        if let Some(login) = &out.login {
            self.device_id = Some(login.imei.clone());
            if let Some(tz) = login.tz_offset_secs {
                self.tz_offset_secs = tz;
            }
        }
        Ok(out.message)
    }

    fn encode(&mut self, command: &Command) -> Result<Vec<u8>, EncodeError> {
        let serial = self.command_serial;
        let bytes = encode::command(command, &self.model, serial)?;
        self.command_serial = self.command_serial.wrapping_add(1);
        Ok(bytes)
    }

    fn set_now(&mut self, now: Timestamp) {
        self.now = Some(now);
    }
}
