use std::fmt;

/// What already exists when a unique value is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    Login,
    DeviceId,
    Phone,
    /// A tag binding ordinal or tag used twice on one tracker.
    TagBinding,
    /// A metering sensor's input name or a discrete sensor's input number used twice on one
    /// tracker.
    SensorInput,
    /// A second ignition or virtual ignition sensor on one tracker.
    SensorType,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conflict::Login => "login",
            Conflict::DeviceId => "device ID",
            Conflict::Phone => "phone number",
            Conflict::TagBinding => "tag binding",
            Conflict::SensorInput => "sensor input",
            Conflict::SensorType => "sensor type",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (pool timed out, connection refused): retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(String),
    /// A value the schema refuses (a CHECK constraint, a float that is not finite): the
    /// caller's data is wrong, and sending it again will not help.
    #[error("invalid value: {0}")]
    Invalid(String),
    #[error("{0} already in use")]
    Conflict(Conflict),
    /// The row to change does not exist (or is not the caller's).
    #[error("not found")]
    NotFound,
    /// Registering one more tracker would exceed the installation's device limit.
    #[error("device limit exceeded")]
    DeviceLimit,
    /// The activation code does not exist or has no registrations left.
    #[error("wrong activation code")]
    ActivationCode,
}
