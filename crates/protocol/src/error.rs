//! Errors that tell the gateway what to do next: wait, skip, or hang up.

use std::fmt;

/// Why no frame could be cut from the head of a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The buffer holds the start of a frame: read more bytes and try again.
    Incomplete,
    /// The head of the buffer is not a frame: drop `skip` bytes (at least one) and try again.
    Reject { skip: usize, reason: String },
    /// The stream cannot be resynchronised (a length field beyond any sane size, a peer that
    /// speaks another protocol): close the connection.
    Fatal(String),
}

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is malformed or fails its checksum: drop it, keep the connection. The device
    /// gets no acknowledgement and will resend.
    Reject(String),
    /// The connection is unusable (data before the login that identifies the device, a
    /// protocol violation after which the state is unknown): close it.
    Fatal(String),
}

impl DecodeError {
    pub fn reject(reason: impl Into<String>) -> Self {
        DecodeError::Reject(reason.into())
    }
    pub fn fatal(reason: impl Into<String>) -> Self {
        DecodeError::Fatal(reason.into())
    }
}

impl FrameError {
    pub fn reject(skip: usize, reason: impl Into<String>) -> Self {
        FrameError::Reject {
            skip: skip.max(1),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Incomplete => f.write_str("incomplete frame"),
            FrameError::Reject { skip, reason } => write!(f, "rejected {skip} bytes: {reason}"),
            FrameError::Fatal(reason) => write!(f, "unrecoverable stream: {reason}"),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Reject(reason) => write!(f, "frame rejected: {reason}"),
            DecodeError::Fatal(reason) => write!(f, "connection unusable: {reason}"),
        }
    }
}

impl std::error::Error for FrameError {}
impl std::error::Error for DecodeError {}
