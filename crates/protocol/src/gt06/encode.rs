//! Frames the server sends: answers to device frames and commands.

use crate::checksum::crc16_x25;
use crate::command::{Command, EncodeError};
use crate::message::Timestamp;
use crate::time::civil_from_days;

use super::variant::Model;

const COMMAND: u8 = 0x80;
const TIME_REQUEST: u8 = 0x8A;

/// The longest command text a basic frame holds: the length byte counts type, command
/// length, server flag, text, serial and CRC.
const MAX_TEXT: usize = 255 - 10;

/// A server frame: `<start> <len> <kind> <body> <serial> <crc> 0D 0A`, in the basic form, or
/// the extended one when `extended` (or when the body is too long for a one-byte length).
pub(super) fn response(extended: bool, kind: u8, serial: u16, body: &[u8]) -> Vec<u8> {
    let len = 5 + body.len();
    let extended = extended || len > 0xFF;
    let mut out = Vec::with_capacity(len + 6);
    if extended {
        out.extend_from_slice(&[0x79, 0x79]);
        out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    } else {
        out.extend_from_slice(&[0x78, 0x78, len as u8]);
    }
    out.push(kind);
    out.extend_from_slice(body);
    out.extend_from_slice(&serial.to_be_bytes());
    let crc = crc16_x25(out.get(2..).unwrap_or(&[]));
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&[0x0D, 0x0A]);
    out
}

/// The answer to a time request (`0x8A`): `now` in UTC as `yy mm dd hh mm ss`, with the
/// request's serial number.
pub fn time_reply(now: Timestamp, serial: u16, extended: bool) -> Vec<u8> {
    let secs = now.secs();
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    let yy = u8::try_from((year - 2000).clamp(0, 99)).unwrap_or(0);
    let body = [
        yy,
        month as u8,
        day as u8,
        (of_day / 3600) as u8,
        (of_day / 60 % 60) as u8,
        (of_day % 60) as u8,
    ];
    response(extended, TIME_REQUEST, serial, &body)
}

/// A command frame (`0x80`): command length, a server flag of 0 (the device echoes it in its
/// answer), the ASCII text.
fn text_command(text: &str, serial: u16) -> Result<Vec<u8>, EncodeError> {
    if !text.is_ascii() {
        return Err(EncodeError::Invalid(
            "GT06 commands are ASCII text".to_owned(),
        ));
    }
    if text.is_empty() || text.len() > MAX_TEXT {
        return Err(EncodeError::Invalid(format!(
            "GT06 command text must be 1 to {MAX_TEXT} bytes, not {}",
            text.len()
        )));
    }
    let mut body = Vec::with_capacity(5 + text.len());
    body.push((4 + text.len()) as u8);
    body.extend_from_slice(&[0, 0, 0, 0]);
    body.extend_from_slice(text.as_bytes());
    Ok(response(false, COMMAND, serial, &body))
}

pub(super) fn command(
    command: &Command,
    model: &Model,
    serial: u16,
) -> Result<Vec<u8>, EncodeError> {
    // G109 firmware knows only the short relay commands.
    let g109 = model.is("G109");
    match command {
        Command::Text(text) => text_command(text, serial),
        Command::Bytes(bytes) => Ok(bytes.clone()),
        Command::EngineStop => text_command(if g109 { "DYD#" } else { "Relay,1#" }, serial),
        Command::EngineResume => text_command(if g109 { "HFYD#" } else { "Relay,0#" }, serial),
        other => Err(EncodeError::Unsupported(format!("{other:?} on GT06"))),
    }
}
