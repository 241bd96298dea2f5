//! Rows to domain values, written once for both backends: `Cols` is the few typed getters the
//! mapping needs, implemented for sqlx's rows of both databases (here) and for rusqlite's
//! (`sqlite::direct`).

use sqlx::{Decode, Row, Type};
use trackd_core::account::{Session, SessionKind, User};
use trackd_core::counter::{CounterType, Event};
use trackd_core::point::{GsmCell, Point, Position};
use trackd_core::readings::Readings;
use trackd_core::sensor::{
    Discrete, DiscreteType, GroupType, Kind, Metering, MeteringType, Sensor, SensorDef, SensorId,
    SensorKind, Virtual, VirtualType,
};
use trackd_core::state::TrackerState;

use super::published::Foreign;
use trackd_core::tracker::{ActivationCode, Bundle, Group, Source, Tag, TagBinding, Tracker};
use trackd_core::{GroupId, Right, Rights, SourceId, TagId, TrackerId, UserId};

use crate::{Result, StoreError};

/// Declares `Cols`, a getter for each type and its `opt_` twin for a nullable column, and
/// implements it for sqlx's rows of both databases.
macro_rules! cols {
    ($($get:ident, $opt:ident: $t:ty;)*) => {
        pub(crate) trait Cols {
            $(
                fn $get(&self, col: &str) -> Result<$t>;
                fn $opt(&self, col: &str) -> Result<Option<$t>>;
            )*
        }

        /// SQLite's hot reads go through `sqlite::direct`; what is left takes sqlx's checks.
        impl Cols for sqlx::sqlite::SqliteRow {
            $(
                fn $get(&self, col: &str) -> Result<$t> {
                    Ok(self.try_get(col)?)
                }
                fn $opt(&self, col: &str) -> Result<Option<$t>> {
                    Ok(self.try_get(col)?)
                }
            )*
        }

        impl Cols for sqlx::postgres::PgRow {
            $(
                fn $get(&self, col: &str) -> Result<$t> {
                    pg_get(self, col)
                }
                fn $opt(&self, col: &str) -> Result<Option<$t>> {
                    pg_get(self, col)
                }
            )*
        }
    };
}

cols! {
    i64, opt_i64: i64;
    i32, opt_i32: i32;
    f64, opt_f64: f64;
    bool, opt_bool: bool;
    string, opt_string: String;
}

/// A PostgreSQL column read as `T`.
///
/// sqlx's `try_get` checks each value's type against `T` before decoding it, and that check
/// costs more than the decoding: of a 10,000-point track read in 15.5 ms, 2.7 went to it
/// (BENCHMARKS.md). A row's columns carry their types (from the statement's description),
/// so a column of `T`'s own type, told by its OID, is decoded without it; any other type
/// takes the checked path, which accepts what is compatible and refuses the rest as before.
fn pg_get<'r, T>(row: &'r sqlx::postgres::PgRow, col: &str) -> Result<T>
where
    T: Decode<'r, sqlx::Postgres> + Type<sqlx::Postgres>,
{
    use sqlx::Column as _;
    // Found by comparing names, as `sqlite::direct` does: a row has a dozen columns or so,
    // and sqlx's own lookup hashes the name every time.
    let (i, column) = row
        .columns()
        .iter()
        .enumerate()
        .find(|(_, c)| c.name() == col)
        .ok_or_else(|| StoreError::Database(format!("no column {col}")))?;
    let own = column.type_info().oid();
    if own.is_some() && own == T::type_info().oid() {
        Ok(row.try_get_unchecked(i)?)
    } else {
        Ok(row.try_get(i)?)
    }
}

/// A row mapping named by a type, so that a backend can run it over rows of its own kind:
/// sqlx's, or rusqlite's for SQLite's direct reads (`sqlite::direct`).
pub(crate) trait RowMap {
    type Out: Send + 'static;
    fn map(r: &impl Cols) -> Result<Self::Out>;
}

/// Declares row mappings, each a type named for what its rows are and the function that
/// reads one.
macro_rules! row_maps {
    ($($(#[$doc:meta])* $name:ident: $out:ty = $read:path;)*) => {
        $(
            $(#[$doc])*
            pub(crate) struct $name;

            impl RowMap for $name {
                type Out = $out;
                fn map(r: &impl Cols) -> Result<$out> {
                    $read(r)
                }
            }
        )*
    };
}

row_maps! {
    /// A point of a track (`track_point_columns!`).
    TrackPoint: Point = track_point_from_row;
    /// A whole point (`point_columns!`).
    WholePoint: Point = point_from_row;
    /// A tracker (`tracker_select!`), its tag bindings not yet read.
    TrackerRow: Tracker = tracker_from_row;
    /// A tag binding with its tracker's ID.
    BindingRow: (TrackerId, TagBinding) = binding_from_row;
    /// An account's tracker revision (`tracker_revisions`).
    RevisionRow: i64 = revision_row;
    /// A user (`SELECT *` of `users`).
    UserRow: User = user_from_row;
    /// A session (`SELECT *` of `sessions`).
    SessionRow: Session = session_from_row;
    /// A session and its user ([`SESSION_WITH_USER`]).
    SessionUserRow: (Session, User) = session_user_row;
    /// A row of a per-tracker JSON table: `tracker_id` and `state`.
    JsonRow: (i64, String) = json_row;
    /// A row's version in a per-tracker JSON table: `tracker_id` and `version`.
    VersionRow: (i64, i64) = version_row;
    /// The state writes not of this node's writers (the columns `lanes` and `elsewhere`).
    ForeignRow: Foreign = foreign_row;
    /// A sensor (`SELECT *` of `sensors`).
    SensorRow: Sensor = sensor_from_row;
    /// A counter change (`seq, time, type, change` of `counter_events`).
    EventRow: Event = event_from_row;
}

fn version_row(r: &impl Cols) -> Result<(i64, i64)> {
    Ok((r.i64("tracker_id")?, r.i64("version")?))
}

fn foreign_row(r: &impl Cols) -> Result<Foreign> {
    Ok(Foreign {
        lanes: r.i64("lanes")?,
        elsewhere: r.i64("elsewhere")?,
    })
}

fn json_row(r: &impl Cols) -> Result<(i64, String)> {
    Ok((r.i64("tracker_id")?, r.string("state")?))
}

/// A row's counter `type` column.
pub(crate) fn counter_type_from_row(r: &impl Cols) -> Result<CounterType> {
    let kind = r.string("type")?;
    CounterType::parse(&kind)
        .ok_or_else(|| StoreError::Database(format!("unknown counter type '{kind}'")))
}

pub(crate) fn event_from_row(r: &impl Cols) -> Result<Event> {
    Ok(Event {
        time: r.i64("time")?,
        seq: r.i64("seq")?,
        counter_type: counter_type_from_row(r)?,
        change: serde_json::from_str(&r.string("change")?)
            .map_err(bad_json("counter_events.change"))?,
    })
}

fn revision_row(r: &impl Cols) -> Result<i64> {
    r.i64("revision")
}

/// A row of [`REVISION_AND_FOREIGN`](super::published::REVISION_AND_FOREIGN): an account
/// that never changed is at revision 0, as `account_trackers` reads it.
pub(crate) fn revision_and_foreign_row(r: &impl Cols) -> Result<(i64, Foreign)> {
    Ok((r.opt_i64("revision")?.unwrap_or(0), foreign_row(r)?))
}

pub(crate) fn user_from_row(r: &impl Cols) -> Result<User> {
    let parent_id = r.opt_i64("parent_id")?.map(UserId);
    let rights = if parent_id.is_none() {
        Rights::master()
    } else {
        let json = r.string("rights")?;
        let names: Vec<String> = serde_json::from_str(&json)
            .map_err(|e| StoreError::Database(format!("users.rights '{json}': {e}")))?;
        // A name this build does not know (written by a newer one) grants nothing here.
        Rights::sub_user(names.iter().filter_map(|n| n.parse::<Right>().ok()))
    };
    Ok(User {
        id: UserId(r.i64("id")?),
        login: r.string("login")?,
        password_hash: r.string("password_hash")?,
        parent_id,
        rights,
        time_zone: r.string("time_zone")?,
        locale: r.string("locale")?,
        measurement_system: r.string("measurement_system")?,
        first_name: r.string("first_name")?,
        last_name: r.string("last_name")?,
        blocked: r.bool("blocked")?,
        created_at: r.i64("created_at")?,
    })
}

pub(crate) fn session_from_row(r: &impl Cols) -> Result<Session> {
    session_with_created_at(r, "created_at")
}

/// A session and its user, read together; the users' columns come as they are named, the
/// session's creation as `session_created_at`.
pub(crate) const SESSION_WITH_USER: &str = "SELECT u.*, s.hash, s.user_id, s.kind, s.title, \
     s.created_at AS session_created_at, s.last_used_at \
     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = $1";

fn session_user_row(r: &impl Cols) -> Result<(Session, User)> {
    Ok((
        session_with_created_at(r, "session_created_at")?,
        user_from_row(r)?,
    ))
}

fn session_with_created_at(r: &impl Cols, created_at: &str) -> Result<Session> {
    let kind = r.string("kind")?;
    Ok(Session {
        hash: r.string("hash")?,
        user_id: UserId(r.i64("user_id")?),
        kind: SessionKind::parse(&kind)
            .ok_or_else(|| StoreError::Database(format!("unknown session kind '{kind}'")))?,
        title: r.opt_string("title")?,
        created_at: r.i64(created_at)?,
        last_used_at: r.i64("last_used_at")?,
    })
}

/// A row of `TRACKER_SELECT`; tag bindings are filled in afterwards.
pub(crate) fn tracker_from_row(r: &impl Cols) -> Result<Tracker> {
    Ok(Tracker {
        id: TrackerId(r.i64("id")?),
        user_id: UserId(r.i64("user_id")?),
        label: r.string("label")?,
        group_id: GroupId(r.i64("group_id")?),
        clone: r.bool("clone")?,
        deleted: r.bool("deleted")?,
        avatar_file_name: r.opt_string("avatar_file_name")?,
        source: Source {
            id: SourceId(r.i64("source_id")?),
            // A corrupted source has released its device ID.
            device_id: r.opt_string("device_id")?.unwrap_or_default(),
            model: r.string("model")?,
            phone: r.opt_string("phone")?,
            apn_name: r.opt_string("apn_name")?,
            apn_user: r.opt_string("apn_user")?,
            apn_password: r.opt_string("apn_password")?,
            blocked: r.bool("blocked")?,
            tariff_id: r.opt_i64("tariff_id")?,
            tariff_end_date: r.opt_string("tariff_end_date")?,
            status_listing_id: r.opt_i64("status_listing_id")?,
            creation_date: r.string("creation_date")?,
            corrupted: r.bool("corrupted")?,
            register_commands_pending: r.bool("register_commands_pending")?,
            replaced_at: r.opt_i64("replaced_at")?,
        },
        tag_bindings: Vec::new(),
    })
}

pub(crate) fn group_from_row(r: &impl Cols) -> Result<Group> {
    Ok(Group {
        id: GroupId(r.i64("id")?),
        user_id: UserId(r.i64("user_id")?),
        title: r.string("title")?,
        color: r.string("color")?,
    })
}

pub(crate) fn tag_from_row(r: &impl Cols) -> Result<Tag> {
    Ok(Tag {
        id: TagId(r.i64("id")?),
        user_id: UserId(r.i64("user_id")?),
        name: r.string("name")?,
        color: r.string("color")?,
        avatar_file_name: r.opt_string("avatar_file_name")?,
    })
}

pub(crate) fn bundle_from_row(r: &impl Cols) -> Result<Bundle> {
    Ok(Bundle {
        imei: r.string("imei")?,
        model: r.string("model")?,
        phone: r.opt_string("phone")?,
        apn_name: r.opt_string("apn_name")?,
        apn_user: r.opt_string("apn_user")?,
        apn_password: r.opt_string("apn_password")?,
        tracker_id: r.opt_i64("tracker_id")?.map(TrackerId),
    })
}

pub(crate) fn activation_code_from_row(r: &impl Cols) -> Result<ActivationCode> {
    Ok(ActivationCode {
        code: r.string("code")?,
        devices_left: r.i64("devices_left")?,
        free_days: r.opt_i64("free_days")?,
    })
}

/// A `tag_bindings` row: the tracker it belongs to and the binding.
pub(crate) fn binding_from_row(r: &impl Cols) -> Result<(TrackerId, TagBinding)> {
    let ordinal = r.i64("ordinal")?;
    Ok((
        TrackerId(r.i64("tracker_id")?),
        TagBinding {
            tag_id: TagId(r.i64("tag_id")?),
            ordinal: i32::try_from(ordinal)
                .map_err(|_| StoreError::Database(format!("tag ordinal {ordinal} out of range")))?,
        },
    ))
}

/// The position of a row of `points`, its `hdop` only `with_hdop` (a track's columns leave it
/// out). The schema keeps a position's and a GSM cell's columns all set or all NULL, so `lat`
/// and `mcc` say whether there is one.
fn position_from_row(r: &impl Cols, with_hdop: bool) -> Result<Option<Position>> {
    Ok(match r.opt_f64("lat")? {
        None => None,
        Some(lat) => Some(Position {
            lat,
            lng: r.f64("lng")?,
            altitude: r.opt_f64("altitude")?,
            speed: r.opt_f64("speed")?,
            heading: r.opt_f64("heading")?,
            satellites: r.opt_i32("satellites")?,
            hdop: if with_hdop { r.opt_f64("hdop")? } else { None },
            valid: r.bool("valid")?,
            lbs: r.bool("lbs")?,
        }),
    })
}

fn alarms_from_row(r: &impl Cols) -> Result<Vec<String>> {
    let json = r.string("alarms")?;
    // Nearly every point has none.
    if json == "[]" {
        return Ok(Vec::new());
    }
    serde_json::from_str::<Vec<String>>(&json).map_err(bad_json("points.alarms"))
}

/// A point of `track_point_columns!`: what is not read stays empty, its tracker is 0 (the
/// caller knows it) and its receive time is its time.
pub(crate) fn track_point_from_row(r: &impl Cols) -> Result<Point> {
    let time = r.i64("time")?;
    Ok(Point {
        position: position_from_row(r, false)?,
        alarms: alarms_from_row(r)?,
        buffered: r.bool("buffered")?,
        ..Point::empty(TrackerId(0), time, time)
    })
}

pub(crate) fn point_from_row(r: &impl Cols) -> Result<Point> {
    let position = position_from_row(r, true)?;
    let gsm_cell = match r.opt_i32("mcc")? {
        None => None,
        Some(mcc) => Some(GsmCell {
            mcc,
            mnc: r.i32("mnc")?,
            lac: r.i64("lac")?,
            cell_id: r.i64("cell_id")?,
        }),
    };
    Ok(Point {
        tracker_id: TrackerId(r.i64("tracker_id")?),
        time: r.i64("time")?,
        received_at: r.i64("received_at")?,
        position,
        ignition: r.opt_bool("ignition")?,
        motion: r.opt_bool("motion")?,
        battery_level: r.opt_i32("battery_level")?,
        inputs: r.opt_i64("inputs")?,
        outputs: r.opt_i64("outputs")?,
        gsm_signal: r.opt_i32("gsm_signal")?,
        gsm_cell,
        hardware_key: r.opt_string("hardware_key")?,
        io: serde_json::from_str::<Readings>(&r.string("io")?).map_err(bad_json("points.io"))?,
        alarms: alarms_from_row(r)?,
        buffered: r.bool("buffered")?,
    })
}

fn bad_json(col: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |e| StoreError::Database(format!("{col}: {e}"))
}

fn optional_json<T: serde::de::DeserializeOwned>(
    text: Option<&str>,
    col: &'static str,
) -> Result<Option<T>> {
    text.map(serde_json::from_str)
        .transpose()
        .map_err(bad_json(col))
}

/// A row of `sensors`. The schema's checks keep each kind's columns set, so a missing one is
/// a damaged row.
pub(crate) fn sensor_from_row(r: &impl Cols) -> Result<Sensor> {
    let id = r.i64("id")?;
    let damaged = |what: &str| StoreError::Database(format!("sensor {id}: {what}"));
    let kind = r.string("kind")?;
    let sensor_type = r.string("sensor_type")?;
    let bad_type = || damaged(&format!("sensor_type '{sensor_type}'"));
    let input_name = || {
        r.opt_string("input_name")?
            .ok_or_else(|| damaged("no input_name"))
    };
    let parameters = r.opt_string("parameters")?;
    let kind = match SensorKind::parse(&kind).ok_or_else(|| damaged(&format!("kind '{kind}'")))? {
        SensorKind::Metering => Kind::Metering(Metering {
            sensor_type: MeteringType::parse(&sensor_type).ok_or_else(bad_type)?,
            input_name: input_name()?,
            divider: r.f64("divider")?,
            accuracy: r.f64("accuracy")?,
            units: r.string("units")?,
            units_type: r.string("units_type")?,
            group_type: r
                .opt_string("group_type")?
                .map(|g| GroupType::parse(&g).ok_or_else(|| damaged(&format!("group_type '{g}'"))))
                .transpose()?,
            parameters: optional_json(parameters.as_deref(), "sensors.parameters")?,
        }),
        SensorKind::Discrete => {
            let n = r.i64("input_number")?;
            Kind::Discrete(Discrete {
                sensor_type: DiscreteType::parse(&sensor_type).ok_or_else(bad_type)?,
                input_number: u8::try_from(n).map_err(|_| damaged(&format!("input_number {n}")))?,
            })
        }
        SensorKind::Virtual => Kind::Virtual(Virtual {
            sensor_type: VirtualType::parse(&sensor_type).ok_or_else(bad_type)?,
            input_name: input_name()?,
            custom_field_name: r.opt_bool("custom_field_name")?,
            parameters: optional_json(parameters.as_deref(), "sensors.parameters")?,
        }),
    };
    Ok(Sensor {
        id: SensorId(id),
        tracker_id: TrackerId(r.i64("tracker_id")?),
        def: SensorDef {
            name: r.string("name")?,
            kind,
        },
        calibration: serde_json::from_str(&r.string("calibration")?)
            .map_err(bad_json("sensors.calibration"))?,
    })
}

/// A stored state. A row that no longer parses (hand-edited, or written by a newer trackd
/// whose format this one cannot read) counts as no state: refusing it would fail every batch
/// of that tracker, and the device would resend forever; the next batch rewrites it.
pub(crate) fn parse_state(tracker: i64, text: &str) -> TrackerState {
    serde_json::from_str(text).unwrap_or_else(|e| {
        tracing::warn!(tracker, error = %e, "unreadable tracker state; starting afresh");
        TrackerState::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_state_is_no_state() {
        assert_eq!(parse_state(1, "not json"), TrackerState::default());
        assert_eq!(parse_state(1, "[]"), TrackerState::default());
        let state = parse_state(1, r#"{"last_update": 5, "future_field": true}"#);
        assert_eq!(state.last_update, Some(5), "unknown fields are ignored");
    }

    /// A column of the getter's own type is read without sqlx's check; one of another type
    /// still meets it: a compatible one is read, an incompatible one refused, and a NULL is
    /// refused by a getter that is not `opt_`.
    #[cfg(feature = "testing")]
    #[tokio::test]
    async fn postgres_columns_are_read_by_their_type_and_the_others_checked() {
        use sqlx::Connection as _;
        let Some(db) = crate::testing::fresh_database().await else {
            return;
        };
        let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
        let row = sqlx::query(
            "SELECT 7::int8 AS big, 5::int4 AS small, NULL::int8 AS nothing, 1.5::float8 AS f, \
             true AS b, 'x'::text AS t, 'y'::varchar AS v",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(row.i64("big").unwrap(), 7);
        assert_eq!(row.opt_i64("big").unwrap(), Some(7));
        assert_eq!(row.i32("small").unwrap(), 5);
        assert_eq!(row.opt_i64("nothing").unwrap(), None);
        assert_eq!(row.f64("f").unwrap(), 1.5);
        assert!(row.bool("b").unwrap());
        assert_eq!(row.string("t").unwrap(), "x");
        assert_eq!(
            row.string("v").unwrap(),
            "y",
            "VARCHAR is compatible with String"
        );

        let refused = |r: Result<i64>| r.unwrap_err().to_string();
        assert!(
            refused(row.i64("small")).contains("INT4"),
            "INT4 is not read as i64"
        );
        assert!(refused(row.i64("nothing")).contains("null"));
        assert!(refused(row.i64("absent")).contains("absent"));
        assert!(row.f64("big").is_err(), "INT8 is not read as f64");
    }
}
