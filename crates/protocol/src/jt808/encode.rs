//! Messages from the platform: answers to the terminal and commands, framed and escaped.

use super::frame::escape_into_frame;
use super::Terminal;
use crate::checksum;
use crate::command::{Command, EncodeError};

pub(super) const GENERAL_RESPONSE: u16 = 0x8001;
pub(super) const REGISTER_RESPONSE: u16 = 0x8100;
pub(super) const TIME_SYNC_RESPONSE: u16 = 0x8109;
pub(super) const MEDIA_RESPONSE: u16 = 0x8800;
pub(super) const SET_PARAMETERS: u16 = 0x8103;
pub(super) const LOCATION_QUERY: u16 = 0x8201;
pub(super) const TEXT_MESSAGE: u16 = 0x8300;
pub(super) const VEHICLE_CONTROL: u16 = 0x8500;
/// JT701's own general response to 0x5501/0x5502.
pub(super) const JT701_RESPONSE: u16 = 0x4401;

pub(super) const RESULT_OK: u8 = 0;
pub(super) const RESULT_UNSUPPORTED: u8 = 3;

/// The body length field has ten bits.
pub(super) const MAX_BODY: usize = 0x3FF;

/// Header, body and checksum, escaped between two flags. The header takes the terminal's
/// form: the 2019 version flag and 10-byte phone if it spoke 2019, else the 2013 form.
pub(super) fn message(terminal: &Terminal, id: u16, serial: u16, body: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(body.len() + 20);
    c.extend_from_slice(&id.to_be_bytes());
    // Bodies are built here and never exceed MAX_BODY; the mask keeps the flags intact.
    let len = u16::try_from(body.len()).unwrap_or(0) & 0x03FF;
    match terminal.version {
        Some(v) => {
            c.extend_from_slice(&(len | 0x4000).to_be_bytes());
            c.push(v);
        }
        None => c.extend_from_slice(&len.to_be_bytes()),
    }
    c.extend_from_slice(&terminal.phone);
    c.extend_from_slice(&serial.to_be_bytes());
    c.extend_from_slice(body);
    c.push(checksum::xor(&c));
    escape_into_frame(&c)
}

/// 0x8001: the platform accepted message `id` number `serial` (or not, per `result`).
pub(super) fn general(
    terminal: &Terminal,
    own_serial: u16,
    answered_serial: u16,
    answered_id: u16,
    result: u8,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(5);
    body.extend_from_slice(&answered_serial.to_be_bytes());
    body.extend_from_slice(&answered_id.to_be_bytes());
    body.push(result);
    message(terminal, GENERAL_RESPONSE, own_serial, &body)
}

/// JT701's short form: one-byte serial, body = answered message id and result.
pub(super) fn jt701_general(terminal: &Terminal, answered_id: u16) -> Vec<u8> {
    let mut c = Vec::with_capacity(16);
    c.extend_from_slice(&JT701_RESPONSE.to_be_bytes());
    c.extend_from_slice(&3u16.to_be_bytes());
    c.extend_from_slice(&terminal.phone);
    c.push(1);
    c.extend_from_slice(&answered_id.to_be_bytes());
    c.push(RESULT_OK);
    c.push(checksum::xor(&c));
    escape_into_frame(&c)
}

/// The body of a command, and its message id.
pub(super) fn command_body(command: &Command) -> Result<(u16, Vec<u8>), EncodeError> {
    match command {
        Command::Text(text) => {
            if !text.is_ascii() {
                // Terminals expect GBK; without a code page only ASCII is safe to send.
                return Err(EncodeError::Invalid(
                    "JT808 text messages are GBK: only ASCII text can be sent".into(),
                ));
            }
            if text.len() + 1 > MAX_BODY {
                return Err(EncodeError::Invalid(format!(
                    "text of {} bytes exceeds the {} bytes of a JT808 body",
                    text.len(),
                    MAX_BODY - 1
                )));
            }
            // Flag bit 0: urgent, which is what terminals that take commands as text expect.
            let mut body = vec![0x01];
            body.extend_from_slice(text.as_bytes());
            Ok((TEXT_MESSAGE, body))
        }
        // Control flag bit 0: 1 cuts the circuit (stop), 0 restores it.
        Command::EngineStop => Ok((VEHICLE_CONTROL, vec![0x01])),
        Command::EngineResume => Ok((VEHICLE_CONTROL, vec![0x00])),
        Command::PositionSingle => Ok((LOCATION_QUERY, Vec::new())),
        Command::PositionPeriodic { interval_secs } => {
            // One parameter: 0x0029, the default time reporting interval in seconds.
            let mut body = vec![1];
            body.extend_from_slice(&0x0029u32.to_be_bytes());
            body.push(4);
            body.extend_from_slice(&interval_secs.to_be_bytes());
            Ok((SET_PARAMETERS, body))
        }
        Command::Bytes(_) => Err(EncodeError::Invalid(
            "raw bytes are sent as they are".into(),
        )),
        Command::AlarmArm | Command::AlarmDisarm | Command::SetOutput { .. } => Err(
            EncodeError::Unsupported(format!("{command:?} has no JT/T 808 message")),
        ),
    }
}
