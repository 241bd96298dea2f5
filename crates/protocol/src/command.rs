//! Commands trackd sends to devices.

use std::fmt;

/// A command for a device. Protocols encode what they support and answer
/// [`EncodeError::Unsupported`] for the rest.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Free text as typed by the user (`raw_command/send` with `type=text`).
    Text(String),
    /// Raw bytes (`raw_command/send` with `type=hex`).
    Bytes(Vec<u8>),
    EngineStop,
    EngineResume,
    AlarmArm,
    AlarmDisarm,
    /// Ask for a position now.
    PositionSingle,
    /// Report every `interval_secs` seconds.
    PositionPeriodic {
        interval_secs: u32,
    },
    /// Set discrete output `index` (1-based) on or off.
    SetOutput {
        index: u8,
        on: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// This protocol or device has no such command.
    Unsupported(String),
    /// The command's parameters cannot be encoded (text too long, bad characters).
    Invalid(String),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::Unsupported(what) => write!(f, "command not supported: {what}"),
            EncodeError::Invalid(why) => write!(f, "command cannot be encoded: {why}"),
        }
    }
}

impl std::error::Error for EncodeError {}
