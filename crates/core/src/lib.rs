//! trackd's domain: identifiers, users and their rights, trackers and the devices behind them,
//! sensors, and the catalog of device models. Pure: no I/O, no async.

pub mod account;
pub mod catalog;
pub mod ids;
pub mod lenient;
pub mod metrics;
pub mod point;
pub mod rights;
pub mod sensor;
pub mod tracker;

pub use ids::{DeviceId, GroupId, SourceId, TagId, TrackerId, UserId};
pub use rights::{Right, Rights};
