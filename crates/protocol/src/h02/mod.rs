//! H02 (Sinotrack, "HQ" trackers and their many clones): comma-separated text frames
//! `*HQ,<id>,<type>,...#` and a fixed-length binary form starting with `$`.
//!
//! Both forms can share one TCP stream, so the framer decides by the first byte. The binary
//! form has no length field: it is 32 bytes, or 45 bytes for firmwares that append the serving
//! cell, and the framer tells them apart by what follows (see [`binary_len`]). Over UDP a
//! datagram is one frame.
//!
//! Answers: H02 devices expect none for most frames. Heartbeats (`V0`, `HTBT`) are echoed as
//! `*HQ,<id>,<type>#`, and `V1` positions and `NBR` cell reports get the
//! `*HQ,<id>,V4,<type>,<yyyyMMddHHmmss>#` time confirmation some firmwares wait for. That one
//! needs the server's time: the session stays pure by taking it from [`Session::set_now`],
//! which the gateway calls with the receive time before each `decode` and `encode`. Until it
//! has been given a time, those confirmations are left out.

mod binary;
mod text;

#[cfg(test)]
mod tests;

use crate::command::{Command, EncodeError};
use crate::error::{DecodeError, FrameError};
use crate::message::{Alarm, DeviceMessage, Record, Timestamp};
use crate::time::civil_from_days;
use crate::{resync, Cut, Session, SessionConfig};

/// A text frame longer than this is not H02 (the longest real ones are SMS echoes of a few
/// hundred bytes).
const MAX_TEXT_FRAME: usize = 4096;

/// The binary layouts seen in the field: the short one and the one with the serving cell.
const BINARY_SHORT: usize = 32;
const BINARY_LONG: usize = 45;
/// One firmware sends 48 bytes with three undocumented trailing bytes; it is cut whole so that
/// its tail is not taken for the next frame.
const BINARY_LONGER: usize = 48;

/// Knots to km/h.
const KNOTS: f64 = 1.852;

pub struct H02Session {
    config: SessionConfig,
    device_id: Option<String>,
    /// The server's time from [`Session::set_now`]: for the `V4` confirmations, the `hhmmss`
    /// tag of commands, and the time of records whose frame has no date.
    now: Option<Timestamp>,
}

impl H02Session {
    pub fn new(config: &SessionConfig) -> Self {
        H02Session {
            config: config.clone(),
            device_id: None,
            now: None,
        }
    }

    /// The device this session talks to, when the gateway knows it before any frame arrived
    /// (commands queued for a device reconnecting over UDP).
    pub fn set_device_id(&mut self, id: impl Into<String>) {
        self.device_id = Some(id.into());
    }

    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    fn learn_id(&mut self, msg: &DeviceMessage) {
        if let Some(id) = &msg.device_id {
            self.device_id = Some(id.clone());
        }
    }
}

impl Session for H02Session {
    fn frame(&self, buf: &[u8]) -> Result<Cut, FrameError> {
        let Some(&first) = buf.first() else {
            return Err(FrameError::Incomplete);
        };
        match first {
            b'*' => text_cut(buf),
            b'$' => binary_len(buf).map(Cut::whole),
            b'X' => {
                if buf.len() < BINARY_SHORT {
                    Err(FrameError::Incomplete)
                } else {
                    Ok(Cut::whole(BINARY_SHORT))
                }
            }
            _ => Err(FrameError::reject(
                next_marker(buf, 1),
                "not the start of an H02 frame",
            )),
        }
    }

    fn decode(&mut self, frame: &[u8]) -> Result<DeviceMessage, DecodeError> {
        let msg = match frame.first() {
            Some(b'*') => text::decode(frame, self.now)?,
            Some(b'$') => binary::decode(frame)?,
            // `X` frames repeat a `$` frame under another identifier whose meaning no public
            // document gives: taking its id for the device's would misfile the position.
            Some(b'X') => DeviceMessage::default(),
            _ => return Err(DecodeError::reject("not an H02 frame")),
        };
        self.learn_id(&msg);
        Ok(msg)
    }

    fn encode(&mut self, command: &Command) -> Result<Vec<u8>, EncodeError> {
        let (kind, args) = match command {
            Command::Text(text) => return Ok(text.as_bytes().to_vec()),
            Command::Bytes(bytes) => return Ok(bytes.clone()),
            Command::AlarmArm => ("SCF", "0,0".to_owned()),
            Command::AlarmDisarm => ("SCF", "1,1".to_owned()),
            Command::EngineStop => ("S20", "1,1".to_owned()),
            Command::EngineResume => ("S20", "1,0".to_owned()),
            Command::PositionPeriodic { interval_secs } => ("S71", format!("22,{interval_secs}")),
            other => return Err(EncodeError::Unsupported(format!("{other:?}"))),
        };
        let id = self
            .device_id
            .as_deref()
            .ok_or_else(|| EncodeError::Invalid("device id not known yet".to_owned()))?;
        // The time only tags the command (the device echoes it in its V4 answer), so a session
        // not given the time sends 000000 rather than refusing.
        let tag = self.now.map(hhmmss).unwrap_or_else(|| "000000".to_owned());
        Ok(format!("*HQ,{id},{kind},{tag},{args}#").into_bytes())
    }

    fn set_now(&mut self, now: Timestamp) {
        self.now = Some(now);
    }
}

/// Cuts a text frame: up to and including `#`, swallowing the CR/LF some firmwares append.
fn text_cut(buf: &[u8]) -> Result<Cut, FrameError> {
    let window = buf.get(..MAX_TEXT_FRAME.min(buf.len())).unwrap_or(buf);
    match window.iter().position(|&b| b == b'#') {
        Some(hash) => {
            let end = hash.saturating_add(1);
            let mut consumed = end;
            while matches!(buf.get(consumed), Some(b'\r' | b'\n')) {
                consumed = consumed.saturating_add(1);
            }
            Ok(Cut {
                consumed,
                start: 0,
                end,
            })
        }
        None if buf.len() >= MAX_TEXT_FRAME => Err(FrameError::reject(
            resync::skip_unterminated(
                buf,
                MAX_TEXT_FRAME - 1,
                |b| b == b'#',
                |b| b == b'*',
                |head| matches!(head.first(), Some(b'$' | b'X')),
            ),
            "text frame without '#' terminator",
        )),
        None => Err(FrameError::Incomplete),
    }
}

/// The length of the binary frame at the head of `buf`.
///
/// Nothing in the frame says which layout it is, so the length is the first candidate that
/// ends the buffer or is followed by the start of another frame (or CR/LF). A 45-byte frame
/// whose first 32 bytes arrive alone would be cut short; devices send each frame in one
/// segment, so in practice the buffer holds whole frames.
fn binary_len(buf: &[u8]) -> Result<usize, FrameError> {
    for len in [BINARY_SHORT, BINARY_LONG, BINARY_LONGER] {
        match buf.get(len) {
            None if buf.len() == len => return Ok(len),
            None => return Err(FrameError::Incomplete),
            Some(&next) if is_boundary(next) => return Ok(len),
            Some(_) => {}
        }
    }
    // No recognisable boundary: take the documented long layout; the resync skips the rest.
    Ok(BINARY_LONG)
}

fn is_boundary(b: u8) -> bool {
    matches!(b, b'*' | b'$' | b'X' | b'\r' | b'\n')
}

/// How many bytes to skip to reach the next possible frame start at or after `from`.
fn next_marker(buf: &[u8], from: usize) -> usize {
    buf.iter()
        .enumerate()
        .skip(from)
        .find(|(_, b)| matches!(b, b'*' | b'$' | b'X'))
        .map_or(buf.len(), |(i, _)| i)
}

fn hhmmss(t: Timestamp) -> String {
    let secs = t.secs().rem_euclid(86_400);
    format!("{:02}{:02}{:02}", secs / 3600, (secs / 60) % 60, secs % 60)
}

fn yyyymmddhhmmss(t: Timestamp) -> String {
    let (y, m, d) = civil_from_days(t.secs().div_euclid(86_400));
    format!("{y:04}{m:02}{d:02}{}", hhmmss(t))
}

/// Applies the 32-bit status word. Its bits use negative logic: 0 means the condition is
/// present. Bit numbers count from the least significant bit of the last byte (the layout of
/// the H02 protocol document; the first hex byte of `FFFFFBFF` holds bits 31..24).
fn apply_status(record: &mut Record, status: u32) {
    let active = |bit: u32| status & (1 << bit) == 0;
    let mut alarm = |a: Alarm| {
        if !record.alarms.contains(&a) {
            record.alarms.push(a);
        }
    };
    // Byte 4: alarms.
    if active(0) {
        // The theft alarm fires on vibration while armed.
        alarm(Alarm::Vibration);
    }
    if active(1) || active(18) {
        alarm(Alarm::Sos);
    }
    if active(2) || active(15) {
        alarm(Alarm::Overspeed);
    }
    if active(3) {
        alarm(Alarm::Other("illegal_ignition".to_owned()));
    }
    if active(4) {
        alarm(Alarm::GeofenceEnter);
    }
    if active(5) || active(21) {
        alarm(Alarm::GpsAntennaCut);
    }
    if active(6) || active(22) {
        alarm(Alarm::Other("gps_antenna_short".to_owned()));
    }
    if active(7) {
        alarm(Alarm::GeofenceExit);
    }
    // Byte 2: power and receiver.
    if active(16) {
        alarm(Alarm::Other("gps_fault".to_owned()));
    }
    if active(19) {
        // "Host powered by the backup battery": the external supply is gone.
        alarm(Alarm::PowerCut);
    }
    // Byte 1.
    if active(24) {
        alarm(Alarm::Temperature);
    }
    // Byte 3: vehicle state. ACC is the one bit with positive logic in practice: 0 is "ACC off".
    record.ignition = Some(!active(10));
    record.set_io("h02_door", active(8));
    record.set_io("h02_armed", active(9));
    record.set_io("h02_engine_cut", active(27));
    record.set_io("h02_status", status);
}
