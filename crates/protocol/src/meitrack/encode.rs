//! Commands as `@@<flag><len>,<imei>,<command>*XX\r\n` frames.
//!
//! The device echoes the flag in its answer; a fixed flag per command kind (the ones Meitrack's
//! own examples use) keeps frames reproducible.

use super::server_frame;
use crate::command::{Command, EncodeError};

/// Meitrack accepts at most this much command text.
const MAX_COMMAND: usize = 1024;

/// `C01,<speed>,<ABCDE>` drives outputs 1..5: `0` off, `1` on, `2` unchanged. The speed field
/// (km/h below which the change applies) is 0: at once.
fn output_pattern(index: u8, on: bool) -> Result<String, EncodeError> {
    if !(1..=5).contains(&index) {
        return Err(EncodeError::Invalid(format!(
            "output {index} out of range 1..=5"
        )));
    }
    let states: String = (1..=5u8)
        .map(|i| match (i == index, on) {
            (true, true) => '1',
            (true, false) => '0',
            (false, _) => '2',
        })
        .collect();
    Ok(format!("C01,0,{states}"))
}

pub(super) fn encode(imei: Option<&str>, command: &Command) -> Result<Vec<u8>, EncodeError> {
    let (flag, content) = match command {
        // Raw bytes are a complete frame the user built: sent as they are.
        Command::Bytes(bytes) => return Ok(bytes.clone()),
        Command::Text(text) => {
            let text = text.trim();
            if text.is_empty() || text.len() > MAX_COMMAND {
                return Err(EncodeError::Invalid(format!(
                    "command text must be 1..={MAX_COMMAND} characters"
                )));
            }
            // `*` starts the checksum and CR/LF end the frame: neither may occur inside.
            if !text.bytes().all(|b| (0x20..0x7F).contains(&b) && b != b'*') {
                return Err(EncodeError::Invalid(
                    "command text must be printable ASCII without '*'".into(),
                ));
            }
            (b'T', text.to_owned())
        }
        Command::PositionSingle => (b'Q', "A10".to_owned()),
        Command::PositionPeriodic { interval_secs } => {
            // A12 counts in tens of seconds, 0 stops; round up so we never report faster.
            let tens = interval_secs.div_ceil(10).min(65_535);
            (b'V', format!("A12,{tens}"))
        }
        Command::EngineStop => (b'M', output_pattern(1, true)?),
        Command::EngineResume => (b'M', output_pattern(1, false)?),
        Command::AlarmArm => (b'M', output_pattern(3, true)?),
        Command::AlarmDisarm => (b'M', output_pattern(3, false)?),
        Command::SetOutput { index, on } => (b'M', output_pattern(*index, *on)?),
    };
    let imei = imei.ok_or_else(|| {
        EncodeError::Invalid("the device's IMEI is not known until it has sent a frame".into())
    })?;
    Ok(server_frame(flag, imei, &content))
}
