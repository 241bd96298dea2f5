//! trackd's domain: identifiers, users and their rights, trackers and the devices behind them,
//! sensors, the catalog of device models, tracker state and tracks. Pure: no I/O, no async
//! (the [`clock`] reads the system time, and nothing else here does).

pub mod account;
pub mod catalog;
pub mod clock;
pub mod counter;
pub mod ids;
pub mod lenient;
pub mod metrics;
pub mod point;
pub mod readings;
pub mod rights;
pub mod sensor;
pub mod state;
pub mod track;
pub mod tracker;

pub use ids::{DeviceId, GroupId, SourceId, TagId, TrackerId, UserId};
pub use rights::{Right, Rights};
