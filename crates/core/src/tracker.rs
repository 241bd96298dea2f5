//! Trackers, the devices (sources) behind them, groups, tags, and what registration consumes:
//! bundles and activation codes.

use crate::ids::{GroupId, SourceId, TagId, TrackerId, UserId};

/// The physical device behind a tracker.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub id: SourceId,
    pub device_id: String,
    /// Model code from the catalog, e.g. `telfmb920`.
    pub model: String,
    pub phone: Option<String>,
    pub apn_name: Option<String>,
    pub apn_user: Option<String>,
    pub apn_password: Option<String>,
    pub blocked: bool,
    pub tariff_id: Option<i64>,
    /// `YYYY-MM-DD`.
    pub tariff_end_date: Option<String>,
    pub status_listing_id: Option<i64>,
    /// `YYYY-MM-DD`.
    pub creation_date: String,
    /// Corrupted sources keep their history but lose their device ID and phone: nothing can
    /// connect as them any more.
    pub corrupted: bool,
    /// Set by the register and replace calls: the registration commands still to be sent
    /// (by SMS or over the connection) when the commands issue lands.
    pub register_commands_pending: bool,
    /// Unix milliseconds of the last `replace`, for `connection_status = just_replaced`.
    pub replaced_at: Option<i64>,
}

/// A tracker as a user sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tracker {
    pub id: TrackerId,
    /// The account (master user) that owns it.
    pub user_id: UserId,
    pub label: String,
    pub group_id: GroupId,
    pub clone: bool,
    pub deleted: bool,
    pub avatar_file_name: Option<String>,
    pub source: Source,
    pub tag_bindings: Vec<TagBinding>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagBinding {
    pub tag_id: TagId,
    /// 1..=5, unique per tracker.
    pub ordinal: i32,
}

/// Everything needed to create a tracker and its source.
#[derive(Clone, Debug, PartialEq)]
pub struct NewTracker {
    pub user_id: UserId,
    pub label: String,
    pub group_id: GroupId,
    pub device_id: String,
    pub model: String,
    pub phone: Option<String>,
    pub apn_name: Option<String>,
    pub apn_user: Option<String>,
    pub apn_password: Option<String>,
    pub register_commands_pending: bool,
    /// `YYYY-MM-DD` of today, in UTC.
    pub creation_date: String,
}

/// A new device taking over an existing tracker (`replace`, `replace_quick`): the tracker
/// keeps its ID, history, counters and sensors; the old source is detached.
#[derive(Clone, Debug, PartialEq)]
pub struct Replacement {
    pub device_id: String,
    pub model: String,
    pub phone: Option<String>,
    pub apn_name: Option<String>,
    pub apn_user: Option<String>,
    pub apn_password: Option<String>,
    pub register_commands_pending: bool,
    pub creation_date: String,
    /// Unix milliseconds.
    pub replaced_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub id: GroupId,
    pub user_id: UserId,
    pub title: String,
    /// Six hex digits without `#`.
    pub color: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    pub id: TagId,
    pub user_id: UserId,
    pub name: String,
    pub color: String,
    pub avatar_file_name: Option<String>,
}

/// A device sold pre-configured: `register_quick` needs only its IMEI.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    pub imei: String,
    pub model: String,
    pub phone: Option<String>,
    pub apn_name: Option<String>,
    pub apn_user: Option<String>,
    pub apn_password: Option<String>,
    /// The tracker it was registered as, once used.
    pub tracker_id: Option<TrackerId>,
}

/// A code that unlocks registration (plugin 37 requires one, plugin 44 accepts one).
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationCode {
    pub code: String,
    /// How many devices it may still register.
    pub devices_left: i64,
    /// Days of service it grants (sets the tariff end date), if any.
    pub free_days: Option<i64>,
}
