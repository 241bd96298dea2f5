//! Commands for @Track devices: `AT+GT<command>=<password>,...,<serial>$`.

use crate::command::{Command, EncodeError};

/// Serial number echoed in the device's `+ACK`; a fixed value, as commands are not
/// correlated by serial here.
const SERIAL: &str = "FFFF";

pub(super) fn encode(password: &str, command: &Command) -> Result<Vec<u8>, EncodeError> {
    match command {
        Command::Text(text) if text.is_empty() => Err(EncodeError::Invalid("empty command".into())),
        Command::Text(text) => Ok(text.clone().into_bytes()),
        Command::Bytes(bytes) if bytes.is_empty() => {
            Err(EncodeError::Invalid("empty command".into()))
        }
        Command::Bytes(bytes) => Ok(bytes.clone()),
        // Output 1 drives the immobiliser relay in Queclink's wiring guides; outputs 2 and 3
        // are switched off as in the vendor's own examples.
        Command::EngineStop => Ok(format!(
            "AT+GTOUT={},1,,,0,0,0,0,0,0,0,,,,,,,{SERIAL}$",
            checked(password)?
        )
        .into_bytes()),
        Command::EngineResume => Ok(format!(
            "AT+GTOUT={},0,,,0,0,0,0,0,0,0,,,,,,,{SERIAL}$",
            checked(password)?
        )
        .into_bytes()),
        Command::PositionSingle => {
            Ok(format!("AT+GTRTO={},1,,,,,,{SERIAL}$", checked(password)?).into_bytes())
        }
        Command::SetOutput { index, on } => {
            if !(1..=3).contains(index) {
                return Err(EncodeError::Invalid(format!(
                    "AT+GTOUT drives outputs 1 to 3, not {index}"
                )));
            }
            // Each output has <status>,<duration>,<toggle times>; the other outputs' fields
            // stay empty, which leaves them as they are.
            let groups: Vec<String> = (1..=3u8)
                .map(|k| {
                    if k == *index {
                        format!("{},0,0", u8::from(*on))
                    } else {
                        ",,".to_owned()
                    }
                })
                .collect();
            Ok(format!(
                "AT+GTOUT={},{},,,,,,,,{SERIAL}$",
                checked(password)?,
                groups.join(",")
            )
            .into_bytes())
        }
        Command::AlarmArm | Command::AlarmDisarm | Command::PositionPeriodic { .. } => {
            Err(EncodeError::Unsupported(format!(
                "{command:?} has no model-independent @Track form; send AT+GT... as text"
            )))
        }
    }
}

fn checked(password: &str) -> Result<&str, EncodeError> {
    if password.is_empty()
        || password.len() > 16
        || !password
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b',' && b != b'$')
    {
        return Err(EncodeError::Invalid(
            "device password must be 1-16 printable characters without ',' or '$'".into(),
        ));
    }
    Ok(password)
}
