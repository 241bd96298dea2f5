//! The storage contract. Every method is one transaction: a caller never sees half a
//! registration or half a replacement.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use trackd_core::account::{NewUser, Session, SessionKind, User};
use trackd_core::counter::{Change, Counter, CounterConfig, CounterState, CounterType};
use trackd_core::point::Point;
use trackd_core::sensor::{CalibrationPoint, Sensor, SensorDef, SensorId};
use trackd_core::state::{StateConfig, TrackerState};
use trackd_core::tracker::{
    ActivationCode, Bundle, Group, NewTracker, Replacement, Tag, TagBinding, Tracker,
};
use trackd_core::{GroupId, TagId, TrackerId, UserId};

use crate::{Durable, EncodedPoint, Result};

/// Users, sessions, API keys.
#[async_trait]
pub trait Users: Send + Sync {
    /// `Conflict(Login)` if the login is taken.
    async fn create_user(&self, user: &NewUser, now: i64) -> Result<User>;
    async fn user(&self, id: UserId) -> Result<Option<User>>;
    async fn user_by_login(&self, login: &str) -> Result<Option<User>>;
    async fn users(&self) -> Result<Vec<User>>;
    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> Result<()>;

    async fn create_session(&self, session: &Session) -> Result<()>;
    async fn session(&self, hash: &str) -> Result<Option<Session>>;
    /// A session or key with its user, in one read: every API call asks for both.
    async fn session_with_user(&self, hash: &str) -> Result<Option<(Session, User)>>;
    /// Records a use, which keeps a session from expiring.
    async fn touch_session(&self, hash: &str, now: i64) -> Result<()>;
    /// Whether a session or key was deleted.
    async fn delete_session(&self, hash: &str) -> Result<bool>;
    /// Deletes sessions of `kind` unused since `unused_since`; returns how many.
    async fn delete_sessions_unused_since(
        &self,
        kind: SessionKind,
        unused_since: i64,
    ) -> Result<u64>;
    /// A user's sessions or keys of one kind, oldest first.
    async fn sessions_of(&self, user: UserId, kind: SessionKind) -> Result<Vec<Session>>;
}

/// One of the ingest writers that commit side by side ([`States::ingest_lanes`]): on
/// PostgreSQL each has a connection of its own. Lane 0 is every store's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IngestLane(pub usize);

/// What registering a tracker consumes, checked in the same transaction as the insert.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Registration {
    /// The installation's device limit (trackers that are not clones and not deleted).
    pub device_limit: Option<i64>,
    /// An activation code to consume (one device of it).
    pub activation_code: Option<String>,
    /// A bundle (by IMEI) to mark as used by the new tracker.
    pub bundle_imei: Option<String>,
}

/// Trackers, their sources, groups, tags, bundles, activation codes and installation settings.
///
/// Reads by account never return deleted trackers. `account` is the master user's ID.
/// Changes by tracker ID apply to live (not deleted) trackers only, else `NotFound`.
/// An empty phone is stored as no phone (it takes nothing from another device).
#[async_trait]
pub trait Trackers: Send + Sync {
    /// Creates a tracker and its source. Errors: `Conflict(DeviceId)`, `Conflict(Phone)`,
    /// `DeviceLimit`, `ActivationCode`, `NotFound` (the bundle does not exist). On any error
    /// nothing is consumed. A code with `free_days` sets the tariff end date to
    /// `creation_date` plus that many days.
    async fn create_tracker(
        &self,
        tracker: &NewTracker,
        registration: &Registration,
    ) -> Result<Tracker>;
    async fn tracker(&self, account: UserId, id: TrackerId) -> Result<Option<Tracker>>;
    /// The account's live trackers by ID, with their tag bindings: from memory while the
    /// account's revision is the one they were read at (a change to a tracker, its source or
    /// its bindings, made anywhere, counts it up), else read and kept.
    async fn trackers(&self, account: UserId) -> Result<Vec<Arc<Tracker>>>;
    /// Any account's tracker by ID (admin CLI), deleted ones included.
    async fn tracker_any(&self, id: TrackerId) -> Result<Option<Tracker>>;
    /// The live (not corrupted) source with this device ID and the trackers on it.
    async fn trackers_by_device_id(&self, device_id: &str) -> Result<Vec<Tracker>>;
    async fn phone_in_use(&self, phone: &str) -> Result<bool>;
    /// Trackers counted against the device limit: not clones, not deleted.
    async fn count_devices(&self) -> Result<i64>;

    async fn update_settings(&self, id: TrackerId, label: &str, group_id: GroupId) -> Result<()>;
    /// Errors: `Conflict(Phone)`.
    async fn change_phone(
        &self,
        id: TrackerId,
        phone: &str,
        apn_name: Option<&str>,
        apn_user: Option<&str>,
        apn_password: Option<&str>,
    ) -> Result<()>;
    /// Marks the tracker deleted and corrupts its source: device ID and phone are released
    /// (the source then reads with an empty device ID and no phone). Clones on that source are
    /// marked deleted too. `NotFound` for a clone: only the owner's tracker can be corrupted.
    async fn corrupt(&self, id: TrackerId) -> Result<()>;
    /// Deletes a clone (marks it deleted). `NotFound` if `id` is not a live clone.
    async fn delete_clone(&self, id: TrackerId) -> Result<()>;
    /// Puts a new device behind the tracker; history, counters and sensors stay. The source
    /// is updated in place, so clones follow the new device. Errors: `Conflict(DeviceId)`,
    /// `Conflict(Phone)`.
    async fn replace(&self, id: TrackerId, replacement: &Replacement) -> Result<Tracker>;
    /// Replaces the tracker's whole set. `Conflict(TagBinding)` if an ordinal or a tag appears
    /// twice; `NotFound` if a tag does not exist.
    async fn set_tag_bindings(&self, id: TrackerId, bindings: &[TagBinding]) -> Result<()>;
    /// Blocks or unblocks the tracker's source (all trackers on it).
    async fn set_blocked(&self, id: TrackerId, blocked: bool) -> Result<()>;
    async fn set_tariff_end_date(&self, id: TrackerId, date: Option<&str>) -> Result<()>;
    /// A clone of the tracker for another account, on the same source.
    async fn clone_tracker(&self, id: TrackerId, to: UserId, label: &str) -> Result<Tracker>;

    async fn groups(&self, account: UserId) -> Result<Vec<Group>>;
    async fn group(&self, account: UserId, id: GroupId) -> Result<Option<Group>>;
    async fn create_group(&self, account: UserId, title: &str, color: &str) -> Result<Group>;
    async fn update_group(&self, group: &Group) -> Result<()>;
    /// Deletes the group; its trackers move to group 0.
    async fn delete_group(&self, account: UserId, id: GroupId) -> Result<()>;
    /// Moves trackers into a group (0 = none).
    async fn assign_group(&self, id: GroupId, trackers: &[TrackerId]) -> Result<()>;

    async fn tags(&self, account: UserId) -> Result<Vec<Tag>>;
    async fn create_tag(&self, account: UserId, name: &str, color: &str) -> Result<Tag>;
    async fn update_tag(&self, tag: &Tag) -> Result<()>;
    /// Deletes tags and their bindings; returns how many tags were deleted.
    async fn delete_tags(&self, account: UserId, ids: &[TagId]) -> Result<u64>;

    async fn add_bundle(&self, bundle: &Bundle) -> Result<()>;
    async fn bundle(&self, imei: &str) -> Result<Option<Bundle>>;
    async fn add_activation_code(&self, code: &ActivationCode) -> Result<()>;
    async fn activation_code(&self, code: &str) -> Result<Option<ActivationCode>>;

    /// Installation-wide settings the admin CLI sets (e.g. `device_limit`).
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()>;
}

/// Points: what devices sent, by tracker and time.
#[async_trait]
pub trait Points: Send + Sync {
    /// Stores a batch in one transaction. A point whose (tracker, time) is already stored is
    /// a retransmission and is skipped. Returns how many points were new. Either every point
    /// of the batch is stored or none is: ingest acknowledges devices on that promise.
    /// `Invalid` if a point breaks the schema's checks (a latitude out of range, a battery
    /// level over 100, a float that is not finite); then nothing of the batch is stored.
    async fn store_points(&self, points: &[Point]) -> Result<u64>;
    /// Points of a tracker with `from <= time <= to`, oldest first, at most `limit`.
    async fn points(
        &self,
        tracker: TrackerId,
        from: i64,
        to: i64,
        limit: u32,
    ) -> Result<Vec<Point>>;
    /// As [`Points::points`], with only what a track is drawn from: time, position (without
    /// HDOP), alarms and the buffered flag. Readings (`io`), the GSM cell, inputs, outputs,
    /// HDOP and the other status fields are not read and come back empty, and the receive
    /// time reads as the device time: a track of 10,000 points reads 11 of the 26 columns
    /// (SQLite's cost is mostly per value read) and parses no readings.
    async fn track_points(
        &self,
        tracker: TrackerId,
        from: i64,
        to: i64,
        limit: u32,
    ) -> Result<Vec<Point>>;
    /// The tracker's point with the latest time (one indexed row).
    async fn latest_point(&self, tracker: TrackerId) -> Result<Option<Point>>;
    async fn count_points(&self, tracker: TrackerId) -> Result<u64>;
}

/// Sensors of trackers. The store keeps what it is given: the per-tracker rules (an input in
/// use, too many of a type) are the API's to check, except those two concurrent writes could
/// both pass, which the schema holds: `Conflict(SensorInput)` for a metering sensor's input
/// name or a discrete sensor's input number taken on the tracker, `Conflict(SensorType)` for a
/// second ignition or virtual ignition. `NotFound` when the sensor is not the tracker's (or,
/// on create and copy, the tracker does not exist).
#[async_trait]
pub trait Sensors: Send + Sync {
    /// A tracker's sensors, oldest first.
    async fn sensors(&self, tracker: TrackerId) -> Result<Vec<Sensor>>;
    /// The sensors of several trackers, by tracker and then oldest first.
    async fn sensors_of(&self, trackers: &[TrackerId]) -> Result<Vec<Sensor>>;
    async fn sensor(&self, tracker: TrackerId, id: SensorId) -> Result<Option<Sensor>>;
    /// Adds a sensor without calibration; returns its ID.
    async fn create_sensor(&self, tracker: TrackerId, def: &SensorDef) -> Result<SensorId>;
    /// Replaces the definition; the calibration table stays.
    async fn update_sensor(&self, tracker: TrackerId, id: SensorId, def: &SensorDef) -> Result<()>;
    async fn delete_sensor(&self, tracker: TrackerId, id: SensorId) -> Result<()>;
    /// The calibration table, sorted by `in`; `None` if there is no such sensor.
    async fn calibration(
        &self,
        tracker: TrackerId,
        id: SensorId,
    ) -> Result<Option<Vec<CalibrationPoint>>>;
    /// Replaces the calibration table (`points` sorted by `in`, as
    /// `trackd_core::sensor::parse_calibration` returns them).
    async fn set_calibration(
        &self,
        tracker: TrackerId,
        id: SensorId,
        points: &[CalibrationPoint],
    ) -> Result<()>;
    /// Replaces the sensors of each of `to` with copies of `from`'s (calibration included),
    /// all in one transaction.
    async fn copy_sensors(&self, from: TrackerId, to: &[TrackerId]) -> Result<()>;
}

/// Live tracker state (DESIGN §4): one row per tracker that has sent anything. Reads never
/// wait for ingest (WAL on SQLite, MVCC on PostgreSQL): they see the last committed batch.
#[async_trait]
pub trait States: Send + Sync {
    /// Stores a batch as [`Points::store_points`] does and, in the same transaction, moves the
    /// state of every tracker in it: the stored state (or an empty one) takes the batch's
    /// points in time order by [`TrackerState::apply`] under `config`'s rules; and counts the
    /// points into each tracker's counters (see [`Counters`]) under `counters`' rules. A
    /// reader sees a batch's points and the state and counters they made together or not at
    /// all. Returns how many points were new.
    async fn store_points_and_states(
        &self,
        points: &[Point],
        config: &StateConfig,
        counters: &CounterConfig,
    ) -> Result<u64>;
    /// Commits a batch as [`States::store_points_and_states`] does, but returns once it is
    /// committed and visible, which may be before it is on disk: [`Durable`] says when it is.
    /// The ingest writer acknowledges devices on that, and meanwhile commits the next batch.
    /// Each of the [`States::ingest_lanes`] writers commits on its own `lane`. The points come
    /// checked and encoded ([`EncodedPoint`]), work done before they reach the writer.
    async fn commit_points_and_states(
        &self,
        lane: IngestLane,
        points: &[EncodedPoint],
        config: &StateConfig,
        counters: &CounterConfig,
    ) -> Result<(u64, Durable)>;
    /// How many ingest writers may commit at once, each on its own [`IngestLane`] and for
    /// trackers of its own: 1 where writes are serial anyway (SQLite), more where the database
    /// runs them side by side (PostgreSQL, which takes each commit's row locks).
    fn ingest_lanes(&self) -> usize;
    /// The stored states of these trackers (a tracker without data has none), in one query
    /// for up to 2000 trackers.
    async fn states(&self, trackers: &[TrackerId]) -> Result<HashMap<TrackerId, TrackerState>>;
    /// The account's trackers with their states, ordered by ID: all live trackers when `ids`
    /// is `None`; else those of `ids` that the account owns, deleted ones included (a caller
    /// tells a deleted tracker from a missing one), with their tag bindings. The states
    /// come from memory where ingest published them, else from their rows, in one query for
    /// up to 2000 trackers.
    async fn tracker_states(
        &self,
        account: UserId,
        ids: Option<&[TrackerId]>,
    ) -> Result<Vec<(Arc<Tracker>, Option<Arc<TrackerState>>)>>;
}

/// Counters (DESIGN §3). A tracker's counters are the fold of its points and its counter
/// changes in device-time order ([`CounterState::fold`]); ingest folds each batch in its
/// transaction, and a point older than the last one folded (or a change dated before it) is
/// counted in its place by folding again from the last history checkpoint before it, which
/// rewrites the history after it. Every tracker's points are folded, whether or not it has
/// counters yet, so a counter created later counts from the right place.
#[async_trait]
pub trait Counters: Send + Sync {
    /// The tracker's counters, in [`CounterType::ALL`] order.
    async fn counters(&self, tracker: TrackerId) -> Result<Vec<Counter>>;
    /// Applies a change dated `now` (server time, Unix ms), creating the counter if it does
    /// not exist, and keeps it in the counter's history. `NotFound` if the tracker does not
    /// exist. Returns the counter as it is after the change.
    async fn change_counter(
        &self,
        tracker: TrackerId,
        counter_type: CounterType,
        change: &Change,
        now: i64,
        config: &CounterConfig,
    ) -> Result<Counter>;
    /// The counter states of these trackers (a tracker without data or counters has none).
    async fn counter_states(
        &self,
        trackers: &[TrackerId],
    ) -> Result<HashMap<TrackerId, CounterState>>;
    /// The account's trackers of `ids` with their counter states, ordered by ID; deleted ones
    /// included, with their tag bindings, the states from memory or their rows (as
    /// [`States::tracker_states`]).
    async fn tracker_counters(
        &self,
        account: UserId,
        ids: &[TrackerId],
    ) -> Result<Vec<(Arc<Tracker>, Option<Arc<CounterState>>)>>;
    /// The recorded values of one counter with `from <= time <= to`, oldest first, as
    /// (device time, value): one per history bucket, the current bucket's from the state.
    async fn counter_history(
        &self,
        tracker: TrackerId,
        counter_type: CounterType,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, f64)>>;
}

/// Everything trackd stores.
pub trait Store: Users + Trackers + Points + Sensors + States + Counters {}
impl<T: Users + Trackers + Points + Sensors + States + Counters> Store for T {}
