//! The storage contract, run against SQLite (a temp file) and PostgreSQL (a fresh database on
//! the test cluster). Each behaviour is one function over `&dyn Store`; `contract!` makes a
//! test of it for each backend.

use std::sync::Arc;

use serde_json::json;
use trackd_core::account::{NewUser, Session, SessionKind};
use trackd_core::counter::{
    Change, CounterConfig, CounterState, CounterType, Event, Item, Sources,
};
use trackd_core::point::{GsmCell, Point, Position};
use trackd_core::sensor::{CalibrationPoint, Sensor, SensorDef, SensorId};
use trackd_core::state::{StateConfig, TrackerState};
use trackd_core::tracker::{
    ActivationCode, Bundle, NewTracker, Replacement, Tag, TagBinding, Tracker,
};
use trackd_core::{GroupId, Right, Rights, TagId, TrackerId, UserId};
use trackd_store::testing::{fresh_database, PgTestDb};
use trackd_store::{Conflict, Registration, Store, StoreError};

use std::collections::HashMap;

#[allow(dead_code)] // the guards only keep the database alive
enum Guard {
    Dir(tempfile::TempDir),
    Pg(PgTestDb),
}

struct Db {
    store: Arc<dyn Store>,
    _guard: Guard,
}

async fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trackd.db");
    let store = trackd_store::open(path.to_str().unwrap()).await.unwrap();
    Db {
        store,
        _guard: Guard::Dir(dir),
    }
}

async fn postgres() -> Option<Db> {
    let db = fresh_database().await?;
    let store = trackd_store::open(db.url()).await.unwrap();
    Some(Db {
        store,
        _guard: Guard::Pg(db),
    })
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::sqlite().await;
                    super::$name(&*db.store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = super::postgres().await {
                        super::$name(&*db.store).await;
                    }
                }
            )*
        }
    };
}

contract!(
    users_round_trip,
    login_taken,
    sub_user_rights,
    password_hash,
    sessions,
    sessions_oldest_first,
    sessions_unused_since,
    create_and_read_tracker,
    trackers_scoped_to_account_and_ordered,
    device_limit,
    device_limit_is_race_free,
    activation_code,
    failed_registration_consumes_nothing,
    bundle_marked_used,
    device_id_and_phone_unique,
    corrupt_releases_device_id_and_phone,
    corrupt_refuses_clones_and_missing,
    replace_in_place,
    replace_conflicts,
    clones,
    tracker_settings,
    groups,
    tags_and_bindings,
    tag_binding_conflicts,
    bundles_and_codes,
    settings,
    points_round_trip,
    points_empty_batch,
    points_retransmissions_skipped,
    points_batch_all_or_nothing,
    points_range_limit_order,
    points_for_a_track_leave_readings_out,
    points_latest_by_time,
    points_count_and_isolation,
    points_large_batch,
    sensors_round_trip,
    sensors_update_and_delete,
    sensors_scoped_to_tracker,
    sensor_conflicts,
    sensors_of_several_trackers,
    sensor_calibration,
    sensors_copied,
    states_follow_points,
    states_commit_with_their_points,
    states_ignore_late_history,
    states_of_many_trackers,
    states_of_a_batch_of_several_statements,
    tracker_states_scoped_and_joined,
    tracker_counters_scoped_and_joined,
    tracker_states_and_counters_follow_every_write,
    tracker_reads_follow_every_tracker_change,
    counters_created_by_changes,
    counters_count_in_the_ingest_transaction,
    counters_late_points_refold,
    counters_change_dated_before_folded_points,
    counters_history_range,
    counters_read_the_trackers_sensors,
    counters_too_late_records_are_stored_not_counted,
);

/// SQLite reads points, tracks and trackers with their states through direct readers of its
/// file, and commits ingest batches through a direct writer; an in-memory database has no
/// file, and does both through sqlx.
macro_rules! in_memory {
    ($($name:ident),* $(,)?) => {
        mod sqlite_in_memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let store = trackd_store::open("sqlite::memory:").await.unwrap();
                    super::$name(&*store).await;
                }
            )*
        }
    };
}

in_memory!(
    points_round_trip,
    points_range_limit_order,
    points_for_a_track_leave_readings_out,
    tracker_states_scoped_and_joined,
    tracker_counters_scoped_and_joined,
    tracker_reads_follow_every_tracker_change,
    states_follow_points,
    states_commit_with_their_points,
    states_ignore_late_history,
    states_of_a_batch_of_several_statements,
    counters_count_in_the_ingest_transaction,
    counters_late_points_refold,
    counters_change_dated_before_folded_points,
    counters_too_late_records_are_stored_not_counted,
);

// ---------------------------------------------------------------------------------------
// Helpers

const NOW: i64 = 1_700_000_000_000;

fn new_user(login: &str, parent: Option<UserId>, rights: Rights) -> NewUser {
    NewUser {
        login: login.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        parent_id: parent,
        rights,
        time_zone: "Europe/Amsterdam".into(),
        locale: "en_US".into(),
        measurement_system: "metric".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
    }
}

async fn master(s: &dyn Store, login: &str) -> UserId {
    s.create_user(&new_user(login, None, Rights::master()), NOW)
        .await
        .unwrap()
        .id
}

fn new_tracker(user: UserId, device_id: &str, phone: Option<&str>) -> NewTracker {
    NewTracker {
        user_id: user,
        label: format!("Car {device_id}"),
        group_id: GroupId(0),
        device_id: device_id.into(),
        model: "telfmb920".into(),
        phone: phone.map(Into::into),
        apn_name: Some("internet".into()),
        apn_user: None,
        apn_password: None,
        register_commands_pending: true,
        creation_date: "2024-02-20".into(),
    }
}

async fn tracker(s: &dyn Store, user: UserId, device_id: &str) -> Tracker {
    s.create_tracker(
        &new_tracker(user, device_id, None),
        &Registration::default(),
    )
    .await
    .unwrap()
}

fn session(hash: &str, user: UserId, kind: SessionKind, created_at: i64) -> Session {
    Session {
        hash: hash.into(),
        user_id: user,
        kind,
        title: None,
        created_at,
        last_used_at: created_at,
    }
}

fn limit(n: i64) -> Registration {
    Registration {
        device_limit: Some(n),
        ..Registration::default()
    }
}

fn code(c: &str) -> Registration {
    Registration {
        activation_code: Some(c.into()),
        ..Registration::default()
    }
}

fn binding(tag: TagId, ordinal: i32) -> TagBinding {
    TagBinding {
        tag_id: tag,
        ordinal,
    }
}

// ---------------------------------------------------------------------------------------
// Users and sessions

async fn users_round_trip(s: &dyn Store) {
    let a = s
        .create_user(&new_user("a@example.com", None, Rights::master()), NOW)
        .await
        .unwrap();
    assert!(a.is_master() && a.rights.is_master());
    assert_eq!(a.created_at, NOW);
    assert_eq!(s.user(a.id).await.unwrap().as_ref(), Some(&a));
    assert_eq!(
        s.user_by_login("a@example.com").await.unwrap().as_ref(),
        Some(&a)
    );
    assert_eq!(s.user_by_login("b@example.com").await.unwrap(), None);
    assert_eq!(s.user(UserId(a.id.0 + 100)).await.unwrap(), None);
    let b = master(s, "b@example.com").await;
    let ids: Vec<UserId> = s.users().await.unwrap().iter().map(|u| u.id).collect();
    assert_eq!(ids, vec![a.id, b]);
}

async fn login_taken(s: &dyn Store) {
    master(s, "a@example.com").await;
    let again = s
        .create_user(&new_user("a@example.com", None, Rights::master()), NOW)
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(Conflict::Login))));
}

async fn sub_user_rights(s: &dyn Store) {
    let boss = master(s, "boss").await;
    let granted = Rights::sub_user([Right::TagUpdate, Right::Reports]);
    let sub = s
        .create_user(&new_user("sub", Some(boss), granted.clone()), NOW)
        .await
        .unwrap();
    let read = s.user(sub.id).await.unwrap().unwrap();
    assert_eq!(read, sub);
    assert_eq!(read.rights, granted);
    assert!(!read.rights.has(Right::Admin) && read.rights.has(Right::Reports));
    assert_eq!(read.account(), boss);
    // A parent that does not exist.
    let orphan = s
        .create_user(&new_user("orphan", Some(UserId(999)), granted), NOW)
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound)), "{orphan:?}");
}

async fn password_hash(s: &dyn Store) {
    let u = master(s, "a").await;
    s.set_password_hash(u, "new-hash").await.unwrap();
    assert_eq!(s.user(u).await.unwrap().unwrap().password_hash, "new-hash");
    assert!(matches!(
        s.set_password_hash(UserId(u.0 + 1), "x").await,
        Err(StoreError::NotFound)
    ));
}

async fn sessions(s: &dyn Store) {
    let u = master(s, "a").await;
    // Created at another time than its user, so that the two creation times cannot be
    // mistaken for each other when read together.
    let mut key = session("k1", u, SessionKind::ApiKey, NOW - 1_000);
    key.title = Some("integration".into());
    s.create_session(&key).await.unwrap();
    assert_eq!(s.session("k1").await.unwrap().as_ref(), Some(&key));
    let user = s.user(u).await.unwrap().unwrap();
    assert_ne!(user.created_at, key.created_at);
    assert_eq!(
        s.session_with_user("k1").await.unwrap(),
        Some((key.clone(), user))
    );
    let sub = s
        .create_user(
            &new_user("sub", Some(u), Rights::sub_user([Right::Reports])),
            NOW,
        )
        .await
        .unwrap();
    s.create_session(&session("k2", sub.id, SessionKind::Session, NOW + 1))
        .await
        .unwrap();
    let (k2, of) = s.session_with_user("k2").await.unwrap().unwrap();
    assert_eq!(
        (k2, of),
        (s.session("k2").await.unwrap().unwrap(), sub),
        "a sub-user with its rights"
    );
    assert_eq!(s.session_with_user("nope").await.unwrap(), None);
    s.touch_session("k1", NOW + 5).await.unwrap();
    assert_eq!(
        s.session("k1").await.unwrap().unwrap().last_used_at,
        NOW + 5
    );
    assert!(matches!(
        s.touch_session("nope", NOW).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.delete_session("k1").await.unwrap());
    assert!(!s.delete_session("k1").await.unwrap());
    assert_eq!(s.session("k1").await.unwrap(), None);
    assert_eq!(s.session_with_user("k1").await.unwrap(), None);
}

async fn sessions_oldest_first(s: &dyn Store) {
    let u = master(s, "a").await;
    let v = master(s, "b").await;
    for (hash, at) in [("s3", 30), ("s1", 10), ("s2", 20)] {
        s.create_session(&session(hash, u, SessionKind::Session, at))
            .await
            .unwrap();
    }
    s.create_session(&session("k", u, SessionKind::ApiKey, 5))
        .await
        .unwrap();
    s.create_session(&session("other", v, SessionKind::Session, 1))
        .await
        .unwrap();
    let hashes: Vec<String> = s
        .sessions_of(u, SessionKind::Session)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.hash)
        .collect();
    assert_eq!(hashes, ["s1", "s2", "s3"]);
    assert_eq!(
        s.sessions_of(u, SessionKind::ApiKey).await.unwrap().len(),
        1
    );
}

async fn sessions_unused_since(s: &dyn Store) {
    let u = master(s, "a").await;
    for (hash, at) in [("old", 10), ("edge", 20), ("new", 30)] {
        s.create_session(&session(hash, u, SessionKind::Session, at))
            .await
            .unwrap();
    }
    s.create_session(&session("key", u, SessionKind::ApiKey, 1))
        .await
        .unwrap();
    // "old" was used again: it stays.
    s.touch_session("old", 40).await.unwrap();
    let n = s
        .delete_sessions_unused_since(SessionKind::Session, 25)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(s.session("edge").await.unwrap(), None);
    assert!(s.session("old").await.unwrap().is_some());
    assert!(s.session("new").await.unwrap().is_some());
    // Keys are another kind: untouched.
    assert!(s.session("key").await.unwrap().is_some());
}

// ---------------------------------------------------------------------------------------
// Registration

async fn create_and_read_tracker(s: &dyn Store) {
    let u = master(s, "a").await;
    let mut nt = new_tracker(u, "356307042441013", Some("+31612345678"));
    nt.apn_user = Some("user".into());
    nt.apn_password = Some("pass".into());
    let t = s
        .create_tracker(&nt, &Registration::default())
        .await
        .unwrap();
    assert_eq!(t.user_id, u);
    assert_eq!(t.label, nt.label);
    assert_eq!(t.group_id, GroupId(0));
    assert!(!t.clone && !t.deleted);
    assert_eq!(t.avatar_file_name, None);
    assert!(t.tag_bindings.is_empty());
    let src = &t.source;
    assert_eq!(src.device_id, "356307042441013");
    assert_eq!(src.model, "telfmb920");
    assert_eq!(src.phone.as_deref(), Some("+31612345678"));
    assert_eq!(src.apn_name.as_deref(), Some("internet"));
    assert_eq!(src.apn_user.as_deref(), Some("user"));
    assert_eq!(src.apn_password.as_deref(), Some("pass"));
    assert!(!src.blocked && !src.corrupted && src.register_commands_pending);
    assert_eq!(src.creation_date, "2024-02-20");
    assert_eq!(src.tariff_end_date, None);
    assert_eq!(src.replaced_at, None);
    assert_eq!(s.tracker(u, t.id).await.unwrap().as_ref(), Some(&t));
    assert_eq!(s.tracker_any(t.id).await.unwrap().as_ref(), Some(&t));
    assert_eq!(
        s.trackers_by_device_id("356307042441013").await.unwrap(),
        vec![t.clone()]
    );
    assert!(s.trackers_by_device_id("000").await.unwrap().is_empty());
    assert!(s.phone_in_use("+31612345678").await.unwrap());
    assert!(!s.phone_in_use("+31600000000").await.unwrap());
    assert_eq!(s.count_devices().await.unwrap(), 1);
}

async fn trackers_scoped_to_account_and_ordered(s: &dyn Store) {
    let a = master(s, "a").await;
    let b = master(s, "b").await;
    let t1 = tracker(s, a, "1001").await;
    let other = tracker(s, b, "2001").await;
    let t2 = tracker(s, a, "1002").await;
    let t3 = tracker(s, a, "1003").await;
    let ids: Vec<TrackerId> = live_trackers(s, a).await.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![t1.id, t2.id, t3.id]);
    assert_eq!(s.tracker(a, other.id).await.unwrap(), None);
    assert_eq!(live_trackers(s, b).await, vec![other]);
    // A deleted tracker is gone from the account's reads but not from the admin's.
    s.corrupt(t2.id).await.unwrap();
    let ids: Vec<TrackerId> = live_trackers(s, a).await.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![t1.id, t3.id]);
    assert_eq!(s.tracker(a, t2.id).await.unwrap(), None);
    assert!(s.tracker_any(t2.id).await.unwrap().unwrap().deleted);
}

async fn device_limit(s: &dyn Store) {
    let a = master(s, "a").await;
    let b = master(s, "b").await;
    let t1 = s
        .create_tracker(&new_tracker(a, "1", None), &limit(2))
        .await
        .unwrap();
    s.create_tracker(&new_tracker(a, "2", None), &limit(2))
        .await
        .unwrap();
    let third = s
        .create_tracker(&new_tracker(a, "3", None), &limit(2))
        .await;
    assert!(matches!(third, Err(StoreError::DeviceLimit)), "{third:?}");
    // Clones are not devices.
    s.clone_tracker(t1.id, b, "shared").await.unwrap();
    assert_eq!(s.count_devices().await.unwrap(), 2);
    // Deleted trackers free their place.
    s.corrupt(t1.id).await.unwrap();
    assert_eq!(s.count_devices().await.unwrap(), 1);
    s.create_tracker(&new_tracker(a, "3", None), &limit(2))
        .await
        .unwrap();
    // No limit, no check.
    s.create_tracker(&new_tracker(a, "4", None), &Registration::default())
        .await
        .unwrap();
    assert_eq!(s.count_devices().await.unwrap(), 3);
}

async fn device_limit_is_race_free(s: &dyn Store) {
    let a = master(s, "a").await;
    let reg = limit(3);
    let make = |n: u32| {
        let nt = new_tracker(a, &format!("dev{n}"), None);
        let reg = reg.clone();
        async move { s.create_tracker(&nt, &reg).await }
    };
    let r = tokio::join!(
        make(1),
        make(2),
        make(3),
        make(4),
        make(5),
        make(6),
        make(7),
        make(8)
    );
    let all = [r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7];
    let ok = all.iter().filter(|r| r.is_ok()).count();
    let refused = all
        .iter()
        .filter(|r| matches!(r, Err(StoreError::DeviceLimit)))
        .count();
    assert_eq!((ok, refused), (3, 5), "{all:?}");
    assert_eq!(s.count_devices().await.unwrap(), 3);
}

async fn activation_code(s: &dyn Store) {
    let a = master(s, "a").await;
    let missing = s
        .create_tracker(&new_tracker(a, "1", None), &code("NOPE"))
        .await;
    assert!(matches!(missing, Err(StoreError::ActivationCode)));
    s.add_activation_code(&ActivationCode {
        code: "FREE30".into(),
        devices_left: 2,
        free_days: Some(30),
    })
    .await
    .unwrap();
    s.add_activation_code(&ActivationCode {
        code: "PLAIN".into(),
        devices_left: 1,
        free_days: None,
    })
    .await
    .unwrap();
    let t = s
        .create_tracker(&new_tracker(a, "1", None), &code("FREE30"))
        .await
        .unwrap();
    // 2024-02-20 plus 30 days, across a leap February.
    assert_eq!(t.source.tariff_end_date.as_deref(), Some("2024-03-21"));
    assert_eq!(
        s.activation_code("FREE30")
            .await
            .unwrap()
            .unwrap()
            .devices_left,
        1
    );
    let p = s
        .create_tracker(&new_tracker(a, "2", None), &code("PLAIN"))
        .await
        .unwrap();
    assert_eq!(p.source.tariff_end_date, None);
    let spent = s
        .create_tracker(&new_tracker(a, "3", None), &code("PLAIN"))
        .await;
    assert!(matches!(spent, Err(StoreError::ActivationCode)));
    assert_eq!(
        s.activation_code("PLAIN")
            .await
            .unwrap()
            .unwrap()
            .devices_left,
        0
    );
    assert_eq!(s.count_devices().await.unwrap(), 2);
}

async fn failed_registration_consumes_nothing(s: &dyn Store) {
    let a = master(s, "a").await;
    tracker(s, a, "taken").await;
    s.add_activation_code(&ActivationCode {
        code: "C".into(),
        devices_left: 1,
        free_days: None,
    })
    .await
    .unwrap();
    s.add_bundle(&bundle("taken")).await.unwrap();
    let reg = Registration {
        device_limit: Some(10),
        activation_code: Some("C".into()),
        bundle_imei: Some("taken".into()),
    };
    let r = s.create_tracker(&new_tracker(a, "taken", None), &reg).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(Conflict::DeviceId))),
        "{r:?}"
    );
    assert_eq!(
        s.activation_code("C").await.unwrap().unwrap().devices_left,
        1
    );
    assert_eq!(s.bundle("taken").await.unwrap().unwrap().tracker_id, None);
    assert_eq!(s.count_devices().await.unwrap(), 1);
}

fn bundle(imei: &str) -> Bundle {
    Bundle {
        imei: imei.into(),
        model: "telfmb920".into(),
        phone: Some("+3161111".into()),
        apn_name: Some("apn".into()),
        apn_user: None,
        apn_password: None,
        tracker_id: None,
    }
}

async fn bundle_marked_used(s: &dyn Store) {
    let a = master(s, "a").await;
    s.add_bundle(&bundle("490154203237518")).await.unwrap();
    let reg = Registration {
        bundle_imei: Some("490154203237518".into()),
        ..Registration::default()
    };
    let t = s
        .create_tracker(&new_tracker(a, "490154203237518", None), &reg)
        .await
        .unwrap();
    assert_eq!(
        s.bundle("490154203237518")
            .await
            .unwrap()
            .unwrap()
            .tracker_id,
        Some(t.id)
    );
    // A bundle that does not exist: nothing is registered.
    let reg = Registration {
        bundle_imei: Some("000000000000000".into()),
        ..Registration::default()
    };
    let r = s.create_tracker(&new_tracker(a, "x1", None), &reg).await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    assert!(s.trackers_by_device_id("x1").await.unwrap().is_empty());
}

async fn device_id_and_phone_unique(s: &dyn Store) {
    let a = master(s, "a").await;
    let b = master(s, "b").await;
    s.create_tracker(&new_tracker(a, "111", Some("+1")), &Registration::default())
        .await
        .unwrap();
    let dup = s
        .create_tracker(&new_tracker(b, "111", Some("+2")), &Registration::default())
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(Conflict::DeviceId))),
        "{dup:?}"
    );
    let dup = s
        .create_tracker(&new_tracker(b, "222", Some("+1")), &Registration::default())
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(Conflict::Phone))),
        "{dup:?}"
    );
    // No phone, or an empty one, is not a phone that can be taken.
    for (dev, phone) in [
        ("333", None),
        ("444", None),
        ("555", Some("")),
        ("666", Some("")),
    ] {
        let t = s
            .create_tracker(&new_tracker(b, dev, phone), &Registration::default())
            .await
            .unwrap();
        assert_eq!(t.source.phone, None);
    }
    assert_eq!(s.count_devices().await.unwrap(), 5);
}

// ---------------------------------------------------------------------------------------
// Corrupt, replace, clone

async fn corrupt_releases_device_id_and_phone(s: &dyn Store) {
    let a = master(s, "a").await;
    let b = master(s, "b").await;
    let t = s
        .create_tracker(&new_tracker(a, "777", Some("+7")), &Registration::default())
        .await
        .unwrap();
    let clone = s.clone_tracker(t.id, b, "view").await.unwrap();
    s.corrupt(t.id).await.unwrap();
    let gone = s.tracker_any(t.id).await.unwrap().unwrap();
    assert!(gone.deleted && gone.source.corrupted);
    assert_eq!(gone.source.device_id, "");
    assert_eq!(gone.source.phone, None);
    assert_eq!(gone.source.id, t.source.id);
    // Its clones went with the device.
    assert!(s.tracker_any(clone.id).await.unwrap().unwrap().deleted);
    assert!(live_trackers(s, b).await.is_empty());
    assert!(s.trackers_by_device_id("777").await.unwrap().is_empty());
    assert!(!s.phone_in_use("+7").await.unwrap());
    assert_eq!(s.count_devices().await.unwrap(), 0);
    // The device ID and phone can be registered again, as a new tracker.
    let again = s
        .create_tracker(&new_tracker(a, "777", Some("+7")), &Registration::default())
        .await
        .unwrap();
    assert_ne!(again.id, t.id);
    assert_ne!(again.source.id, t.source.id);
    assert_eq!(s.trackers_by_device_id("777").await.unwrap(), vec![again]);
}

async fn corrupt_refuses_clones_and_missing(s: &dyn Store) {
    let a = master(s, "a").await;
    let b = master(s, "b").await;
    let t = tracker(s, a, "1").await;
    let clone = s.clone_tracker(t.id, b, "view").await.unwrap();
    assert!(matches!(
        s.corrupt(clone.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.corrupt(TrackerId(t.id.0 + 100)).await,
        Err(StoreError::NotFound)
    ));
    s.corrupt(t.id).await.unwrap();
    assert!(matches!(s.corrupt(t.id).await, Err(StoreError::NotFound)));
}

fn replacement(device_id: &str, phone: Option<&str>) -> Replacement {
    Replacement {
        device_id: device_id.into(),
        model: "gt06n".into(),
        phone: phone.map(Into::into),
        apn_name: Some("new-apn".into()),
        apn_user: Some("u".into()),
        apn_password: Some("p".into()),
        register_commands_pending: false,
        creation_date: "2024-05-01".into(),
        replaced_at: NOW + 1000,
    }
}

async fn replace_in_place(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = s
        .create_tracker(&new_tracker(a, "old", Some("+1")), &Registration::default())
        .await
        .unwrap();
    let tag = s.create_tag(a, "red", "FF0000").await.unwrap();
    s.set_tag_bindings(t.id, &[binding(tag.id, 1)])
        .await
        .unwrap();
    let r = s
        .replace(t.id, &replacement("new", Some("+2")))
        .await
        .unwrap();
    assert_eq!(r.id, t.id);
    assert_eq!(r.label, t.label);
    assert_eq!(r.tag_bindings, vec![binding(tag.id, 1)]);
    assert_eq!(r.source.id, t.source.id);
    assert_eq!(r.source.device_id, "new");
    assert_eq!(r.source.model, "gt06n");
    assert_eq!(r.source.phone.as_deref(), Some("+2"));
    assert_eq!(r.source.apn_name.as_deref(), Some("new-apn"));
    assert_eq!(r.source.apn_user.as_deref(), Some("u"));
    assert_eq!(r.source.apn_password.as_deref(), Some("p"));
    assert_eq!(r.source.creation_date, "2024-05-01");
    assert_eq!(r.source.replaced_at, Some(NOW + 1000));
    assert!(!r.source.register_commands_pending);
    assert_eq!(s.tracker(a, t.id).await.unwrap(), Some(r.clone()));
    assert!(s.trackers_by_device_id("old").await.unwrap().is_empty());
    assert_eq!(s.trackers_by_device_id("new").await.unwrap(), vec![r]);
    // Keeping its own device ID is no conflict.
    s.replace(t.id, &replacement("new", Some("+2")))
        .await
        .unwrap();
    assert!(matches!(
        s.replace(TrackerId(t.id.0 + 100), &replacement("x", None))
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn replace_conflicts(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "mine").await;
    s.create_tracker(
        &new_tracker(a, "theirs", Some("+9")),
        &Registration::default(),
    )
    .await
    .unwrap();
    let r = s.replace(t.id, &replacement("theirs", None)).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(Conflict::DeviceId))),
        "{r:?}"
    );
    let r = s.replace(t.id, &replacement("fresh", Some("+9"))).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(Conflict::Phone))),
        "{r:?}"
    );
    // Nothing changed.
    assert_eq!(s.tracker(a, t.id).await.unwrap(), Some(t));
}

async fn clones(s: &dyn Store) {
    let a = master(s, "a").await;
    let b = master(s, "b").await;
    let t = tracker(s, a, "dev").await;
    let c = s.clone_tracker(t.id, b, "borrowed").await.unwrap();
    assert!(c.clone && !c.deleted);
    assert_ne!(c.id, t.id);
    assert_eq!((c.user_id, c.label.as_str()), (b, "borrowed"));
    assert_eq!(c.group_id, GroupId(0));
    assert_eq!(c.source, t.source);
    assert_eq!(live_trackers(s, b).await, vec![c.clone()]);
    assert_eq!(s.count_devices().await.unwrap(), 1);
    let ids: Vec<TrackerId> = s
        .trackers_by_device_id("dev")
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, vec![t.id, c.id]);
    // The source is shared: blocking one blocks both.
    s.set_blocked(t.id, true).await.unwrap();
    assert!(s.tracker(b, c.id).await.unwrap().unwrap().source.blocked);
    // Only a clone can be deleted as one.
    assert!(matches!(
        s.delete_clone(t.id).await,
        Err(StoreError::NotFound)
    ));
    s.delete_clone(c.id).await.unwrap();
    assert!(live_trackers(s, b).await.is_empty());
    assert!(matches!(
        s.delete_clone(c.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(live_trackers(s, a).await.len(), 1);
    assert!(matches!(
        s.clone_tracker(TrackerId(t.id.0 + 100), b, "x").await,
        Err(StoreError::NotFound)
    ));
}

async fn tracker_settings(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = s
        .create_tracker(&new_tracker(a, "d1", Some("+1")), &Registration::default())
        .await
        .unwrap();
    let other = s
        .create_tracker(&new_tracker(a, "d2", Some("+2")), &Registration::default())
        .await
        .unwrap();
    let g = s.create_group(a, "Fleet", "00FF00").await.unwrap();
    s.update_settings(t.id, "Renamed", g.id).await.unwrap();
    s.change_phone(t.id, "+3", Some("apn"), Some("u"), None)
        .await
        .unwrap();
    s.set_tariff_end_date(t.id, Some("2030-01-01"))
        .await
        .unwrap();
    s.set_blocked(t.id, true).await.unwrap();
    let r = s.tracker(a, t.id).await.unwrap().unwrap();
    assert_eq!((r.label.as_str(), r.group_id), ("Renamed", g.id));
    assert_eq!(r.source.phone.as_deref(), Some("+3"));
    assert_eq!(r.source.apn_name.as_deref(), Some("apn"));
    assert_eq!(r.source.apn_user.as_deref(), Some("u"));
    assert_eq!(r.source.apn_password, None);
    assert_eq!(r.source.tariff_end_date.as_deref(), Some("2030-01-01"));
    assert!(r.source.blocked);
    s.set_blocked(t.id, false).await.unwrap();
    s.set_tariff_end_date(t.id, None).await.unwrap();
    let r = s.tracker(a, t.id).await.unwrap().unwrap();
    assert!(!r.source.blocked);
    assert_eq!(r.source.tariff_end_date, None);
    assert!(!s.phone_in_use("+1").await.unwrap());
    let taken = s.change_phone(t.id, "+2", None, None, None).await;
    assert!(
        matches!(taken, Err(StoreError::Conflict(Conflict::Phone))),
        "{taken:?}"
    );
    assert_eq!(
        s.tracker(a, other.id)
            .await
            .unwrap()
            .unwrap()
            .source
            .phone
            .as_deref(),
        Some("+2")
    );
    let missing = TrackerId(t.id.0 + 100);
    assert!(matches!(
        s.update_settings(missing, "x", GroupId(0)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.change_phone(missing, "+5", None, None, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_blocked(missing, true).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_tariff_end_date(missing, None).await,
        Err(StoreError::NotFound)
    ));
}

// ---------------------------------------------------------------------------------------
// Groups and tags

async fn groups(s: &dyn Store) {
    let a = master(s, "a").await;
    let b = master(s, "b").await;
    let g1 = s.create_group(a, "One", "111111").await.unwrap();
    let g2 = s.create_group(a, "Two", "222222").await.unwrap();
    let gb = s.create_group(b, "Theirs", "333333").await.unwrap();
    assert_eq!(s.groups(a).await.unwrap(), vec![g1.clone(), g2.clone()]);
    assert_eq!(s.group(a, g1.id).await.unwrap(), Some(g1.clone()));
    assert_eq!(s.group(a, gb.id).await.unwrap(), None);
    let mut renamed = g2.clone();
    renamed.title = "Deux".into();
    renamed.color = "ABCDEF".into();
    s.update_group(&renamed).await.unwrap();
    assert_eq!(s.group(a, g2.id).await.unwrap(), Some(renamed));
    let mut foreign = gb.clone();
    foreign.user_id = a;
    assert!(matches!(
        s.update_group(&foreign).await,
        Err(StoreError::NotFound)
    ));

    let t1 = tracker(s, a, "1").await;
    let t2 = tracker(s, a, "2").await;
    let t3 = tracker(s, a, "3").await;
    s.assign_group(g1.id, &[t1.id, t2.id]).await.unwrap();
    s.assign_group(g2.id, &[t3.id]).await.unwrap();
    let group_of =
        |ts: &[Tracker], id: TrackerId| ts.iter().find(|t| t.id == id).map(|t| t.group_id);
    let ts = live_trackers(s, a).await;
    assert_eq!(group_of(&ts, t1.id), Some(g1.id));
    assert_eq!(group_of(&ts, t2.id), Some(g1.id));
    assert_eq!(group_of(&ts, t3.id), Some(g2.id));
    s.assign_group(GroupId(0), &[t2.id]).await.unwrap();
    s.assign_group(g1.id, &[]).await.unwrap();

    s.delete_group(a, g1.id).await.unwrap();
    let ts = live_trackers(s, a).await;
    assert_eq!(group_of(&ts, t1.id), Some(GroupId(0)));
    assert_eq!(group_of(&ts, t2.id), Some(GroupId(0)));
    assert_eq!(group_of(&ts, t3.id), Some(g2.id));
    assert_eq!(s.groups(a).await.unwrap().len(), 1);
    assert!(matches!(
        s.delete_group(a, g1.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_group(a, gb.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn tags_and_bindings(s: &dyn Store) {
    let a = master(s, "a").await;
    let b = master(s, "b").await;
    let red = s.create_tag(a, "red", "FF0000").await.unwrap();
    let blue = s.create_tag(a, "blue", "0000FF").await.unwrap();
    let green = s.create_tag(a, "green", "00FF00").await.unwrap();
    let theirs = s.create_tag(b, "theirs", "000000").await.unwrap();
    assert_eq!(
        s.tags(a).await.unwrap(),
        vec![red.clone(), blue.clone(), green.clone()]
    );
    let mut r2 = red.clone();
    r2.name = "crimson".into();
    r2.avatar_file_name = Some("c.png".into());
    s.update_tag(&r2).await.unwrap();
    assert_eq!(s.tags(a).await.unwrap()[0], r2);

    let t = tracker(s, a, "1").await;
    let u = tracker(s, a, "2").await;
    // Given out of order, read back by ordinal.
    s.set_tag_bindings(
        t.id,
        &[
            binding(green.id, 3),
            binding(red.id, 1),
            binding(blue.id, 2),
        ],
    )
    .await
    .unwrap();
    s.set_tag_bindings(u.id, &[binding(red.id, 5)])
        .await
        .unwrap();
    let read = s.tracker(a, t.id).await.unwrap().unwrap();
    assert_eq!(
        read.tag_bindings,
        vec![
            binding(red.id, 1),
            binding(blue.id, 2),
            binding(green.id, 3)
        ]
    );
    // The whole set is replaced.
    s.set_tag_bindings(t.id, &[binding(blue.id, 1)])
        .await
        .unwrap();
    let all = live_trackers(s, a).await;
    assert_eq!(all[0].tag_bindings, vec![binding(blue.id, 1)]);
    assert_eq!(all[1].tag_bindings, vec![binding(red.id, 5)]);

    // Deleting tags removes their bindings; another account's tag is not touched.
    let n = s
        .delete_tags(a, &[red.id, blue.id, theirs.id])
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(s.tags(a).await.unwrap(), vec![green.clone()]);
    assert_eq!(s.tags(b).await.unwrap(), vec![theirs]);
    for t in live_trackers(s, a).await {
        assert!(t.tag_bindings.is_empty(), "{t:?}");
    }
    assert_eq!(s.delete_tags(a, &[]).await.unwrap(), 0);
    s.set_tag_bindings(t.id, &[]).await.unwrap();
    assert!(matches!(
        s.set_tag_bindings(TrackerId(t.id.0 + 100), &[]).await,
        Err(StoreError::NotFound)
    ));
    // A tag that does not exist.
    assert!(matches!(
        s.set_tag_bindings(t.id, &[binding(TagId(green.id.0 + 100), 1)])
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn tag_binding_conflicts(s: &dyn Store) {
    let a = master(s, "a").await;
    let red = s.create_tag(a, "red", "FF0000").await.unwrap();
    let blue = s.create_tag(a, "blue", "0000FF").await.unwrap();
    let t = tracker(s, a, "1").await;
    s.set_tag_bindings(t.id, &[binding(red.id, 1)])
        .await
        .unwrap();
    let same_ordinal = s
        .set_tag_bindings(t.id, &[binding(red.id, 2), binding(blue.id, 2)])
        .await;
    assert!(
        matches!(
            same_ordinal,
            Err(StoreError::Conflict(Conflict::TagBinding))
        ),
        "{same_ordinal:?}"
    );
    let same_tag = s
        .set_tag_bindings(t.id, &[binding(blue.id, 1), binding(blue.id, 2)])
        .await;
    assert!(
        matches!(same_tag, Err(StoreError::Conflict(Conflict::TagBinding))),
        "{same_tag:?}"
    );
    // A failed replacement leaves the old set.
    assert_eq!(
        s.tracker(a, t.id).await.unwrap().unwrap().tag_bindings,
        vec![binding(red.id, 1)]
    );
}

// ---------------------------------------------------------------------------------------
// Bundles, activation codes, settings

async fn bundles_and_codes(s: &dyn Store) {
    assert_eq!(s.bundle("1").await.unwrap(), None);
    let mut b = bundle("1");
    s.add_bundle(&b).await.unwrap();
    assert_eq!(s.bundle("1").await.unwrap(), Some(b.clone()));
    b.model = "gt06n".into();
    b.phone = None;
    s.add_bundle(&b).await.unwrap();
    assert_eq!(s.bundle("1").await.unwrap(), Some(b));

    assert_eq!(s.activation_code("X").await.unwrap(), None);
    let mut c = ActivationCode {
        code: "X".into(),
        devices_left: 3,
        free_days: Some(7),
    };
    s.add_activation_code(&c).await.unwrap();
    assert_eq!(s.activation_code("X").await.unwrap(), Some(c.clone()));
    c.devices_left = 10;
    c.free_days = None;
    s.add_activation_code(&c).await.unwrap();
    assert_eq!(s.activation_code("X").await.unwrap(), Some(c));
}

async fn settings(s: &dyn Store) {
    assert_eq!(s.setting("device_limit").await.unwrap(), None);
    s.set_setting("device_limit", Some("10")).await.unwrap();
    assert_eq!(
        s.setting("device_limit").await.unwrap().as_deref(),
        Some("10")
    );
    s.set_setting("device_limit", Some("20")).await.unwrap();
    assert_eq!(
        s.setting("device_limit").await.unwrap().as_deref(),
        Some("20")
    );
    s.set_setting("device_limit", None).await.unwrap();
    assert_eq!(s.setting("device_limit").await.unwrap(), None);
    s.set_setting("absent", None).await.unwrap();
}

// ---------------------------------------------------------------------------------------
// Points

/// A plain point with a valid GPS position.
fn point(tracker: i64, time: i64) -> Point {
    Point {
        position: Some(Position {
            lat: 52.37,
            lng: 4.89,
            altitude: None,
            speed: Some(0.0),
            heading: None,
            satellites: Some(8),
            hdop: None,
            valid: true,
            lbs: false,
        }),
        ..Point::empty(TrackerId(tracker), time, time + 1_500)
    }
}

/// A point with every field set.
fn full_point(tracker: i64, time: i64) -> Point {
    let io = json!({
        "can_mileage": 123_456,
        "negative": -7,
        "large": u64::MAX,
        "board_voltage": 12.5,
        "inexact": 0.1 + 0.2,
        "din1": true,
        "ibutton": "01A2B3C4D5E6F7",
        "nested": {"list": [1, 2.5, null, "x"], "object": {"deep": false}},
    });
    Point {
        tracker_id: TrackerId(tracker),
        time,
        received_at: time + 42_000,
        position: Some(Position {
            lat: -33.868_820_1,
            lng: 151.209_295_5,
            altitude: Some(-12.25),
            speed: Some(87.3),
            heading: Some(359.9),
            satellites: Some(14),
            hdop: Some(0.8),
            valid: true,
            lbs: false,
        }),
        ignition: Some(true),
        motion: Some(false),
        battery_level: Some(100),
        inputs: Some(0b1011 | 1 << 40),
        outputs: Some(0),
        gsm_signal: Some(0),
        gsm_cell: Some(GsmCell {
            mcc: 505,
            mnc: 1,
            lac: 65_535,
            cell_id: 268_435_455,
        }),
        hardware_key: Some("1A2B3C4D".into()),
        io: serde_json::from_value(io).unwrap(),
        alarms: vec!["sos".into(), "overspeed".into()],
        buffered: true,
    }
}

async fn all_points(s: &dyn Store, tracker: i64) -> Vec<Point> {
    s.points(TrackerId(tracker), i64::MIN, i64::MAX, u32::MAX)
        .await
        .unwrap()
}

fn times(points: &[Point]) -> Vec<i64> {
    points.iter().map(|p| p.time).collect()
}

async fn points_round_trip(s: &dyn Store) {
    let full = full_point(1, NOW);
    // A position with none of its optional parts, located by cells, not valid.
    let mut bare = point(1, NOW + 1_000);
    bare.position = Some(Position {
        lat: 90.0,
        lng: -180.0,
        altitude: None,
        speed: None,
        heading: None,
        satellites: None,
        hdop: None,
        valid: false,
        lbs: true,
    });
    bare.ignition = Some(false);
    let empty = Point::empty(TrackerId(1), NOW + 2_000, NOW + 2_000);
    let batch = vec![full, bare, empty];
    assert_eq!(s.store_points(&batch).await.unwrap(), 3);
    assert_eq!(all_points(s, 1).await, batch);
    assert_eq!(
        s.latest_point(TrackerId(1)).await.unwrap().as_ref(),
        batch.last()
    );
}

async fn points_empty_batch(s: &dyn Store) {
    assert_eq!(s.store_points(&[]).await.unwrap(), 0);
    assert_eq!(s.count_points(TrackerId(1)).await.unwrap(), 0);
    assert_eq!(s.latest_point(TrackerId(1)).await.unwrap(), None);
    assert!(all_points(s, 1).await.is_empty());
}

async fn points_retransmissions_skipped(s: &dyn Store) {
    let first = vec![point(1, 1_000), point(1, 2_000), point(1, 3_000)];
    assert_eq!(s.store_points(&first).await.unwrap(), 3);
    // The device resends 3_000 (now with other values) along with two new points.
    let mut resent = full_point(1, 3_000);
    resent.buffered = true;
    let second = vec![resent, point(1, 4_000), point(1, 5_000)];
    assert_eq!(s.store_points(&second).await.unwrap(), 2);
    // A batch that repeats a point: the first copy is kept.
    let mut repeat = point(1, 6_000);
    repeat.battery_level = Some(7);
    let third = vec![point(1, 6_000), point(1, 7_000), repeat];
    assert_eq!(s.store_points(&third).await.unwrap(), 2);
    // The whole batch again: nothing new.
    assert_eq!(s.store_points(&third).await.unwrap(), 0);

    let stored = all_points(s, 1).await;
    assert_eq!(
        times(&stored),
        vec![1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000]
    );
    assert_eq!(stored[2], point(1, 3_000));
    assert_eq!(stored[5], point(1, 6_000));
    assert_eq!(s.count_points(TrackerId(1)).await.unwrap(), 7);
}

async fn points_batch_all_or_nothing(s: &dyn Store) {
    assert_eq!(s.store_points(&[point(1, 1_000)]).await.unwrap(), 1);

    let mut bad_lat = point(1, 3_000);
    if let Some(p) = &mut bad_lat.position {
        p.lat = 200.0;
    }
    let mut bad_lng = point(2, 3_000);
    if let Some(p) = &mut bad_lng.position {
        p.lng = -180.5;
    }
    let mut bad_speed = point(2, 3_000);
    if let Some(p) = &mut bad_speed.position {
        p.speed = Some(f64::NAN);
    }
    let bad_battery = Point {
        battery_level: Some(101),
        ..point(2, 3_000)
    };
    let bad_signal = Point {
        gsm_signal: Some(-1),
        ..point(2, 3_000)
    };
    for bad in [bad_lat, bad_lng, bad_speed, bad_battery, bad_signal] {
        let batch = vec![point(1, 2_000), bad.clone(), point(2, 4_000)];
        let r = s.store_points(&batch).await;
        assert!(matches!(r, Err(StoreError::Invalid(_))), "{bad:?}: {r:?}");
    }
    // The bad point in the last of several statements: the earlier ones are rolled back too.
    let mut many: Vec<Point> = (0..3_000).map(|i| point(3, 10_000 + i)).collect();
    if let Some(p) = many.last_mut().and_then(|p| p.position.as_mut()) {
        p.lat = -90.001;
    }
    assert!(matches!(
        s.store_points(&many).await,
        Err(StoreError::Invalid(_))
    ));

    assert_eq!(times(&all_points(s, 1).await), vec![1_000]);
    assert_eq!(s.count_points(TrackerId(2)).await.unwrap(), 0);
    assert_eq!(s.count_points(TrackerId(3)).await.unwrap(), 0);
    // The store is fine afterwards.
    let good = vec![point(1, 2_000), point(2, 4_000)];
    assert_eq!(s.store_points(&good).await.unwrap(), 2);
}

async fn points_range_limit_order(s: &dyn Store) {
    let shuffled = [7, 2, 9, 1, 5, 10, 3, 8, 4, 6];
    let batch: Vec<Point> = shuffled.iter().map(|i| point(1, i * 1_000)).collect();
    assert_eq!(s.store_points(&batch).await.unwrap(), 10);
    let range = |from, to, limit| s.points(TrackerId(1), from, to, limit);
    // Both ends are inclusive.
    assert_eq!(
        times(&range(3_000, 7_000, 100).await.unwrap()),
        vec![3_000, 4_000, 5_000, 6_000, 7_000]
    );
    assert_eq!(
        times(&range(2_500, 7_500, 2).await.unwrap()),
        vec![3_000, 4_000]
    );
    assert_eq!(
        times(&range(10_000, 20_000, 5).await.unwrap()),
        vec![10_000]
    );
    assert!(range(3_000, 7_000, 0).await.unwrap().is_empty());
    assert!(range(7_000, 3_000, 10).await.unwrap().is_empty());
    assert!(range(11_000, 20_000, 10).await.unwrap().is_empty());
    assert_eq!(
        times(&all_points(s, 1).await),
        (1..=10).map(|i| i * 1_000).collect::<Vec<_>>()
    );
}

async fn points_for_a_track_leave_readings_out(s: &dyn Store) {
    let mut alarmed = full_point(1, 2_000);
    alarmed.buffered = true;
    let batch = vec![
        full_point(1, 1_000),
        alarmed,
        full_point(1, 3_000),
        point(2, 1_000),
    ];
    assert_eq!(s.store_points(&batch).await.unwrap(), 4);
    let track = s
        .track_points(TrackerId(1), 1_000, 2_500, 10)
        .await
        .unwrap();
    let expected: Vec<Point> = batch[..2]
        .iter()
        .map(|p| Point {
            position: p.position.map(|pos| Position { hdop: None, ..pos }),
            alarms: p.alarms.clone(),
            buffered: p.buffered,
            ..Point::empty(p.tracker_id, p.time, p.time)
        })
        .collect();
    assert_eq!(track, expected);
    // The same range, order and limit as `points`.
    let limited = s.track_points(TrackerId(1), 0, i64::MAX, 2).await.unwrap();
    assert_eq!(times(&limited), vec![1_000, 2_000]);
    assert!(s
        .track_points(TrackerId(3), 0, i64::MAX, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn points_latest_by_time(s: &dyn Store) {
    assert_eq!(s.latest_point(TrackerId(1)).await.unwrap(), None);
    assert_eq!(s.store_points(&[point(1, 5_000)]).await.unwrap(), 1);
    // History the device had buffered arrives after the newer point.
    let history: Vec<Point> = [3_000, 4_000]
        .iter()
        .map(|t| Point {
            buffered: true,
            ..point(1, *t)
        })
        .collect();
    assert_eq!(s.store_points(&history).await.unwrap(), 2);
    assert_eq!(
        s.latest_point(TrackerId(1)).await.unwrap(),
        Some(point(1, 5_000))
    );
    assert_eq!(s.store_points(&[point(1, 6_000)]).await.unwrap(), 1);
    assert_eq!(
        s.latest_point(TrackerId(1)).await.unwrap().map(|p| p.time),
        Some(6_000)
    );
}

async fn points_count_and_isolation(s: &dyn Store) {
    // The same times on three trackers, interleaved in one batch.
    let batch: Vec<Point> = (1..=4)
        .flat_map(|t| [point(10, t * 1_000), point(11, t * 1_000), point(12, t)])
        .collect();
    assert_eq!(s.store_points(&batch).await.unwrap(), 12);
    assert_eq!(s.store_points(&[point(11, 99_000)]).await.unwrap(), 1);
    assert_eq!(s.count_points(TrackerId(10)).await.unwrap(), 4);
    assert_eq!(s.count_points(TrackerId(11)).await.unwrap(), 5);
    assert_eq!(s.count_points(TrackerId(12)).await.unwrap(), 4);
    assert_eq!(s.count_points(TrackerId(13)).await.unwrap(), 0);
    for (tracker, n) in [(10, 4), (11, 5), (12, 4)] {
        let got = all_points(s, tracker).await;
        assert_eq!(got.len(), n);
        assert!(got.iter().all(|p| p.tracker_id == TrackerId(tracker)));
    }
    assert_eq!(
        s.latest_point(TrackerId(10)).await.unwrap().map(|p| p.time),
        Some(4_000)
    );
    assert_eq!(
        s.latest_point(TrackerId(12)).await.unwrap().map(|p| p.time),
        Some(4)
    );
    assert!(all_points(s, 13).await.is_empty());
}

async fn points_large_batch(s: &dyn Store) {
    // 100 points for each of 50 trackers, interleaved as ingest receives them.
    let batch: Vec<Point> = (0..100)
        .flat_map(|i| (1..=50).map(move |t| full_point(t, NOW + i * 10_000)))
        .collect();
    assert_eq!(batch.len(), 5_000);
    let started = std::time::Instant::now();
    let new = s.store_points(&batch).await.unwrap();
    let first = started.elapsed();
    assert_eq!(new, 5_000);
    let started = std::time::Instant::now();
    assert_eq!(s.store_points(&batch).await.unwrap(), 0);
    let again = started.elapsed();
    println!("store_points of 5,000 points: {first:?} new, {again:?} all retransmitted");
    for t in 1..=50 {
        assert_eq!(
            s.count_points(TrackerId(t)).await.unwrap(),
            100,
            "tracker {t}"
        );
    }
    let seventh = all_points(s, 7).await;
    assert_eq!(
        times(&seventh),
        (0..100).map(|i| NOW + i * 10_000).collect::<Vec<_>>()
    );
    assert_eq!(seventh[99], full_point(7, NOW + 990_000));
}

// ---------------------------------------------------------------------------------------
// Sensors

fn sensor_def(v: serde_json::Value) -> SensorDef {
    let serde_json::Value::Object(obj) = v else {
        panic!("sensor must be an object")
    };
    SensorDef::parse(&obj, "sensor").expect("valid sensor")
}

/// One sensor of each kind, with every optional part set.
fn three_sensors() -> Vec<SensorDef> {
    vec![
        sensor_def(
            json!({"type": "metering", "sensor_type": "fuel", "name": "Main tank",
            "input_name": "lls_level_1", "divider": 0.5, "accuracy": 0.25, "units": "l",
            "units_type": "litre", "group_type": "sum",
            "parameters": {"parent_ids": [1, 2], "volume": 80.5, "min": 0, "max": 4095,
                "max_lowering_by_time": 12.5, "max_lowering_by_mileage": 3.0,
                "ignore_drains_in_move": true, "ignore_refuels_in_move": false,
                "refuel_gap_minutes": 7, "custom_field_name": false}}),
        ),
        sensor_def(
            json!({"type": "discrete", "sensor_type": "ignition", "name": "Ignition",
            "input_number": 1}),
        ),
        sensor_def(
            json!({"type": "virtual", "sensor_type": "virtual_ignition", "name": "By voltage",
            "input_name": "board_voltage", "custom_field_name": true,
            "parameters": {"calc_method": "in_range", "range_from": 13.4, "range_to": 30,
                "value_titles": [{"value": "0", "title": "Off"}, {"value": "1", "title": "On"}]}}),
        ),
    ]
}

fn points(table: &[(f64, f64)]) -> Vec<CalibrationPoint> {
    table
        .iter()
        .map(|&(input, output)| CalibrationPoint { input, output })
        .collect()
}

async fn create_all(s: &dyn Store, t: TrackerId, defs: &[SensorDef]) -> Vec<Sensor> {
    let mut out = Vec::new();
    for def in defs {
        let id = s.create_sensor(t, def).await.unwrap();
        out.push(Sensor {
            id,
            tracker_id: t,
            def: def.clone(),
            calibration: Vec::new(),
        });
    }
    out
}

async fn sensors_round_trip(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "1").await.id;
    assert!(s.sensors(t).await.unwrap().is_empty());
    let created = create_all(s, t, &three_sensors()).await;
    assert!(created.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(s.sensors(t).await.unwrap(), created);
    assert_eq!(
        s.sensor(t, created[2].id).await.unwrap().as_ref(),
        Some(&created[2])
    );
    // Minimal sensors: no parameters, no group type, no custom_field_name.
    let bare = vec![
        sensor_def(
            json!({"type": "metering", "sensor_type": "custom", "name": "",
            "input_name": "analog_1"}),
        ),
        sensor_def(
            json!({"type": "virtual", "sensor_type": "state", "name": "Raw",
            "input_name": "analog_1"}),
        ),
    ];
    let t2 = tracker(s, a, "2").await.id;
    let bare = create_all(s, t2, &bare).await;
    assert_eq!(s.sensors(t2).await.unwrap(), bare);
    // A tracker that does not exist.
    assert!(matches!(
        s.create_sensor(TrackerId(t2.0 + 100), &bare[0].def).await,
        Err(StoreError::NotFound)
    ));
}

async fn sensors_update_and_delete(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "1").await.id;
    let defs = three_sensors();
    let created = create_all(s, t, &defs).await;
    let table = points(&[(0.0, 0.0), (0.7, 60.0)]);
    s.set_calibration(t, created[0].id, &table).await.unwrap();

    // An update replaces the definition, even with another kind, and keeps the calibration.
    let new_def = sensor_def(json!({"type": "metering", "sensor_type": "temperature",
        "name": "Coolant", "input_name": "can_coolant_t", "units_type": "celsius"}));
    s.update_sensor(t, created[0].id, &new_def).await.unwrap();
    let state = sensor_def(
        json!({"type": "virtual", "sensor_type": "state", "name": "Bit",
        "input_name": "input_status", "parameters": {"calc_method": "bit_index", "bit_index": 3}}),
    );
    s.update_sensor(t, created[1].id, &state).await.unwrap();
    let read = s.sensors(t).await.unwrap();
    assert_eq!(read[0].def, new_def);
    assert_eq!(read[0].calibration, table);
    assert_eq!(read[1].def, state);
    assert_eq!(read[2], created[2]);

    s.delete_sensor(t, created[1].id).await.unwrap();
    let ids: Vec<SensorId> = s.sensors(t).await.unwrap().iter().map(|x| x.id).collect();
    assert_eq!(ids, vec![created[0].id, created[2].id]);
    let gone = created[1].id;
    assert!(matches!(
        s.delete_sensor(t, gone).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.update_sensor(t, gone, &new_def).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_calibration(t, gone, &table).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.sensor(t, gone).await.unwrap(), None);
    assert_eq!(s.calibration(t, gone).await.unwrap(), None);
}

async fn sensors_scoped_to_tracker(s: &dyn Store) {
    let a = master(s, "a").await;
    let t1 = tracker(s, a, "1").await.id;
    let t2 = tracker(s, a, "2").await.id;
    let created = create_all(s, t1, &three_sensors()).await;
    let id = created[0].id;
    // Another tracker's sensor is not found by this one's ID.
    assert_eq!(s.sensor(t2, id).await.unwrap(), None);
    assert_eq!(s.calibration(t2, id).await.unwrap(), None);
    assert!(matches!(
        s.update_sensor(t2, id, &created[0].def).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_sensor(t2, id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_calibration(t2, id, &[]).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.sensors(t2).await.unwrap().is_empty());
    assert_eq!(s.sensors(t1).await.unwrap(), created);
}

async fn sensor_conflicts(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "1").await.id;
    let created = create_all(s, t, &three_sensors()).await;
    let conflict = |r: trackd_store::Result<SensorId>, c: Conflict| {
        assert!(matches!(r, Err(StoreError::Conflict(x)) if x == c), "{r:?}");
    };
    // The metering sensor's input, the discrete sensor's input number, a second ignition and
    // a second virtual ignition.
    let same_input = sensor_def(json!({"type": "metering", "sensor_type": "temperature",
        "name": "t", "input_name": "lls_level_1"}));
    conflict(s.create_sensor(t, &same_input).await, Conflict::SensorInput);
    let same_number = sensor_def(json!({"type": "discrete", "sensor_type": "door",
        "name": "d", "input_number": 1}));
    conflict(
        s.create_sensor(t, &same_number).await,
        Conflict::SensorInput,
    );
    let ignition = sensor_def(json!({"type": "discrete", "sensor_type": "ignition",
        "name": "i", "input_number": 2}));
    conflict(s.create_sensor(t, &ignition).await, Conflict::SensorType);
    let virtual_ignition = sensor_def(json!({"type": "virtual", "sensor_type": "virtual_ignition",
        "name": "v", "input_name": "analog_2"}));
    conflict(
        s.create_sensor(t, &virtual_ignition).await,
        Conflict::SensorType,
    );
    // An update into a taken input conflicts too, and changes nothing.
    let other = s
        .create_sensor(
            t,
            &sensor_def(
                json!({"type": "metering", "sensor_type": "fuel", "name": "f",
                "input_name": "lls_level_2"}),
            ),
        )
        .await
        .unwrap();
    assert!(matches!(
        s.update_sensor(t, other, &same_input).await,
        Err(StoreError::Conflict(Conflict::SensorInput))
    ));
    assert_eq!(s.sensors(t).await.unwrap().len(), 4);
    // What is allowed: virtual sensors on a taken input, composite sensors side by side, the
    // same input on another tracker.
    let virtual_state = sensor_def(json!({"type": "virtual", "sensor_type": "state",
        "name": "v", "input_name": "lls_level_1"}));
    s.create_sensor(t, &virtual_state).await.unwrap();
    s.create_sensor(t, &virtual_state).await.unwrap();
    let composite = sensor_def(json!({"type": "metering", "sensor_type": "fuel",
        "name": "c", "input_name": "composite", "parameters": {"parent_ids": [1]}}));
    s.create_sensor(t, &composite).await.unwrap();
    s.create_sensor(t, &composite).await.unwrap();
    let t2 = tracker(s, a, "2").await.id;
    for def in three_sensors() {
        s.create_sensor(t2, &def).await.unwrap();
    }
    // A sensor's own input is not a conflict with itself.
    s.update_sensor(t, created[0].id, &created[0].def)
        .await
        .unwrap();
}

async fn sensors_of_several_trackers(s: &dyn Store) {
    let a = master(s, "a").await;
    let t1 = tracker(s, a, "1").await.id;
    let t2 = tracker(s, a, "2").await.id;
    let t3 = tracker(s, a, "3").await.id;
    let defs = three_sensors();
    let on_2 = create_all(s, t2, &defs[..1]).await;
    let on_1 = create_all(s, t1, &defs).await;
    let mut expected = on_1.clone();
    expected.extend(on_2.clone());
    assert_eq!(s.sensors_of(&[t2, t3, t1]).await.unwrap(), expected);
    assert_eq!(s.sensors_of(&[t2]).await.unwrap(), on_2);
    assert!(s.sensors_of(&[]).await.unwrap().is_empty());
    assert!(s.sensors_of(&[t3]).await.unwrap().is_empty());
    // More trackers than one IN list takes.
    let many: Vec<TrackerId> = (0..1200)
        .map(|i| TrackerId(t3.0 + 1 + i))
        .chain([t1])
        .collect();
    assert_eq!(s.sensors_of(&many).await.unwrap(), on_1);
}

async fn sensor_calibration(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "1").await.id;
    let id = create_all(s, t, &three_sensors()).await[0].id;
    assert_eq!(s.calibration(t, id).await.unwrap(), Some(Vec::new()));
    let table = points(&[(-1.5, 0.0), (0.0, 0.25), (0.7, 60.0), (1e6, 1e-3)]);
    s.set_calibration(t, id, &table).await.unwrap();
    assert_eq!(s.calibration(t, id).await.unwrap(), Some(table.clone()));
    assert_eq!(s.sensor(t, id).await.unwrap().unwrap().calibration, table);
    s.set_calibration(t, id, &[]).await.unwrap();
    assert_eq!(s.calibration(t, id).await.unwrap(), Some(Vec::new()));
}

async fn sensors_copied(s: &dyn Store) {
    let a = master(s, "a").await;
    let base = tracker(s, a, "1").await.id;
    let t2 = tracker(s, a, "2").await.id;
    let t3 = tracker(s, a, "3").await.id;
    let untouched = tracker(s, a, "4").await.id;
    let originals = create_all(s, base, &three_sensors()).await;
    let table = points(&[(0.0, 0.0), (1.0, 50.0)]);
    s.set_calibration(base, originals[0].id, &table)
        .await
        .unwrap();
    let old = create_all(s, t2, &three_sensors()[1..2]).await;
    let kept = create_all(s, untouched, &three_sensors()[..1]).await;

    // The base in the list is left as it is.
    s.copy_sensors(base, &[t2, t3, base]).await.unwrap();
    let source = s.sensors(base).await.unwrap();
    assert_eq!(source.len(), 3);
    assert_eq!(source[0].calibration, table);
    for target in [t2, t3] {
        let copies = s.sensors(target).await.unwrap();
        let defs: Vec<&SensorDef> = copies.iter().map(|c| &c.def).collect();
        let expected: Vec<&SensorDef> = source.iter().map(|c| &c.def).collect();
        assert_eq!(defs, expected);
        assert_eq!(copies[0].calibration, table);
        assert!(copies.iter().all(|c| c.tracker_id == target));
        assert!(copies.iter().all(|c| source.iter().all(|o| o.id != c.id)));
    }
    assert_eq!(s.sensor(t2, old[0].id).await.unwrap(), None);
    assert_eq!(s.sensors(untouched).await.unwrap(), kept);
    // Copying a tracker without sensors empties the targets.
    s.copy_sensors(untouched, &[]).await.unwrap();
    s.copy_sensors(t3, &[]).await.unwrap();
    let empty = tracker(s, a, "5").await.id;
    s.copy_sensors(empty, &[t2]).await.unwrap();
    assert!(s.sensors(t2).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Backend-specific: opening, reopening, errors

#[tokio::test]
async fn sqlite_reopen_by_path_and_url() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub.db");
    let path = path.to_str().unwrap();
    let first = trackd_store::open(path).await.unwrap();
    let a = master(&*first, "a").await;
    drop(first);
    for url in [
        path.to_string(),
        format!("sqlite://{path}"),
        format!("sqlite:{path}"),
    ] {
        let again = trackd_store::open(&url).await.unwrap();
        assert_eq!(again.user(a).await.unwrap().unwrap().login, "a", "{url}");
    }
}

#[tokio::test]
async fn sqlite_in_memory() {
    let s = trackd_store::open("sqlite::memory:").await.unwrap();
    let a = master(&*s, "a").await;
    tracker(&*s, a, "1").await;
    assert_eq!(live_trackers(&*s, a).await.len(), 1);
}

#[tokio::test]
async fn postgres_reopen() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let first = trackd_store::open(db.url()).await.unwrap();
    let a = master(&*first, "a").await;
    drop(first);
    let again = trackd_store::open(db.url()).await.unwrap();
    assert_eq!(again.user(a).await.unwrap().unwrap().login, "a");
}

#[tokio::test]
async fn postgres_unreachable_is_unavailable() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let r = trackd_store::open("postgres://postgres@127.0.0.1:1/none").await;
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "{:?}",
        r.err()
    );
}

// ---------------------------------------------------------------------------------------
// Tracker state

/// What the points make of an empty state, by the core rules: the store must agree.
fn folded(points: &[Point]) -> TrackerState {
    let mut sorted: Vec<&Point> = points.iter().collect();
    sorted.sort_by_key(|p| p.time);
    let mut state = TrackerState::default();
    for p in sorted {
        state.apply(p, &StateConfig::default());
    }
    state
}

async fn ingest(s: &dyn Store, points: &[Point]) -> u64 {
    s.store_points_and_states(points, &StateConfig::default(), &CounterConfig::default())
        .await
        .unwrap()
}

async fn state_of(s: &dyn Store, tracker: i64) -> Option<TrackerState> {
    s.states(&[TrackerId(tracker)])
        .await
        .unwrap()
        .remove(&TrackerId(tracker))
}

async fn states_follow_points(s: &dyn Store) {
    assert!(
        s.states(&[TrackerId(1)]).await.unwrap().is_empty(),
        "no data, no state"
    );
    assert_eq!(s.states(&[]).await.unwrap(), HashMap::new());
    let mut moving = point(1, NOW + 60_000);
    if let Some(p) = &mut moving.position {
        p.speed = Some(50.0);
    }
    let batch = vec![full_point(1, NOW), moving.clone(), point(2, NOW)];
    assert_eq!(ingest(s, &batch).await, 3);
    let one = state_of(s, 1).await.expect("state of 1");
    assert_eq!(one, folded(&batch[..2]));
    assert_eq!(one.last_update, Some(NOW + 60_000));
    assert_eq!(one.io["can_mileage"].value, json!(123_456));
    assert_eq!(
        one.hardware_key.as_ref().map(|k| k.value.as_str()),
        Some("1A2B3C4D")
    );
    assert_eq!(state_of(s, 2).await, Some(folded(&batch[2..])));
    // A later batch moves on from the stored state.
    let later = point(1, NOW + 120_000);
    assert_eq!(ingest(s, std::slice::from_ref(&later)).await, 1);
    let mut all = batch[..2].to_vec();
    all.push(later);
    assert_eq!(state_of(s, 1).await, Some(folded(&all)));
    // Plain `store_points` leaves the state alone.
    s.store_points(&[point(1, NOW + 180_000)]).await.unwrap();
    assert_eq!(state_of(s, 1).await, Some(folded(&all)));
    assert_eq!(s.count_points(TrackerId(1)).await.unwrap(), 4);
}

async fn states_commit_with_their_points(s: &dyn Store) {
    ingest(s, &[point(1, 1_000)]).await;
    let before = state_of(s, 1).await;
    let bad = Point {
        battery_level: Some(101),
        ..point(2, 3_000)
    };
    let r = s
        .store_points_and_states(
            &[point(1, 2_000), bad],
            &StateConfig::default(),
            &CounterConfig::default(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert_eq!(
        state_of(s, 1).await,
        before,
        "the state did not move either"
    );
    assert_eq!(state_of(s, 2).await, None);
    assert_eq!(s.count_points(TrackerId(1)).await.unwrap(), 1);
    assert_eq!(ingest(s, &[]).await, 0);
}

async fn states_ignore_late_history(s: &dyn Store) {
    let mut now = point(1, NOW);
    now.battery_level = Some(90);
    ingest(s, &[now]).await;
    let mut late = point(1, NOW - 3_600_000);
    late.battery_level = Some(10);
    late.received_at = NOW + 5_000;
    if let Some(p) = &mut late.position {
        p.lat = 10.0;
    }
    // Retransmitted with it, the first point: nothing new but the receive time.
    let mut again = point(1, NOW);
    again.battery_level = Some(50);
    assert_eq!(ingest(s, &[late, again]).await, 1);
    let state = state_of(s, 1).await.expect("state");
    assert_eq!(state.battery_level.map(|b| b.value), Some(90));
    assert_eq!(state.gps.map(|g| g.lat), Some(52.37));
    assert_eq!(state.last_update, Some(NOW));
    assert_eq!(state.last_received, Some(NOW + 5_000));
}

async fn states_of_many_trackers(s: &dyn Store) {
    let batch: Vec<Point> = (1..=2_000).map(|t| point(t, NOW + t)).collect();
    assert_eq!(ingest(s, &batch).await, 2_000);
    let ids: Vec<TrackerId> = (1..=2_001).map(TrackerId).collect();
    let states = s.states(&ids).await.unwrap();
    assert_eq!(states.len(), 2_000);
    assert_eq!(states[&TrackerId(1_234)].last_update, Some(NOW + 1_234));
    assert!(!states.contains_key(&TrackerId(2_001)));
}

/// SQLite inserts a large batch in several statements, each built while the one before
/// runs: every point lands once, a repeat across statements is skipped, and a bad point
/// anywhere refuses the whole batch.
async fn states_of_a_batch_of_several_statements(s: &dyn Store) {
    let mut batch: Vec<Point> = (1..=3)
        .flat_map(|t| (0..1_000).map(move |i| point(t, NOW + i * 1_000)))
        .collect();
    let mut repeat = point(2, NOW);
    repeat.battery_level = Some(7);
    batch.push(repeat);
    assert_eq!(ingest(s, &batch).await, 3_000);
    for t in 1..=3 {
        assert_eq!(s.count_points(TrackerId(t)).await.unwrap(), 1_000);
        let state = state_of(s, t).await.expect("state");
        assert_eq!(state.last_update, Some(NOW + 999_000));
    }
    assert_eq!(
        all_points(s, 2).await[0],
        point(2, NOW),
        "the first copy is kept"
    );

    let mut bad_at_the_end: Vec<Point> = (0..2_600).map(|i| point(4, NOW + i)).collect();
    bad_at_the_end.push(Point {
        battery_level: Some(101),
        ..point(5, NOW)
    });
    let r = s
        .store_points_and_states(
            &bad_at_the_end,
            &StateConfig::default(),
            &CounterConfig::default(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert_eq!(s.count_points(TrackerId(4)).await.unwrap(), 0);
    assert_eq!(state_of(s, 4).await, None);
}

/// Alice with three trackers and Bob with one.
async fn alice_and_bob(s: &dyn Store) -> (UserId, [Tracker; 3], Tracker) {
    let alice = master(s, "alice").await;
    let bob = master(s, "bob").await;
    let a1 = tracker(s, alice, "100000000000001").await;
    let a2 = tracker(s, alice, "100000000000002").await;
    let a3 = tracker(s, alice, "100000000000003").await;
    let b1 = tracker(s, bob, "100000000000004").await;
    (alice, [a1, a2, a3], b1)
}

async fn tracker_states_scoped_and_joined(s: &dyn Store) {
    let (alice, [a1, a2, a3], b1) = alice_and_bob(s).await;
    ingest(s, &[point(a1.id.0, NOW), point(b1.id.0, NOW)]).await;
    s.corrupt(a3.id).await.unwrap();

    let all = s.tracker_states(alice, None).await.unwrap();
    let summary: Vec<(TrackerId, bool)> = all.iter().map(|(t, st)| (t.id, st.is_some())).collect();
    assert_eq!(
        summary,
        [(a1.id, true), (a2.id, false)],
        "live trackers only"
    );
    assert_eq!(all[0].0.source.device_id, "100000000000001");
    assert_eq!(all[0].1.as_ref().and_then(|st| st.last_update), Some(NOW));

    let asked = [a3.id, b1.id, TrackerId(999_999), a1.id];
    let some = s.tracker_states(alice, Some(&asked)).await.unwrap();
    let summary: Vec<(TrackerId, bool, bool)> = some
        .iter()
        .map(|(t, st)| (t.id, t.deleted, st.is_some()))
        .collect();
    assert_eq!(
        summary,
        [(a1.id, false, true), (a3.id, true, false)],
        "the account's own, deleted included, by ID"
    );
    assert!(s.tracker_states(alice, Some(&[])).await.unwrap().is_empty());
}

/// `tracker_states` and `tracker_counters` of `ids` are what their rows hold (`states`,
/// `counter_states`); returns the counter states.
async fn check_states_are_rows(
    s: &dyn Store,
    account: UserId,
    ids: &[TrackerId],
    when: &str,
) -> HashMap<TrackerId, CounterState> {
    /// Each tracker's state or counter state, for those that have one.
    fn by_tracker<S: Clone>(rows: Vec<(Arc<Tracker>, Option<Arc<S>>)>) -> HashMap<TrackerId, S> {
        rows.into_iter()
            .filter_map(|(t, st)| Some((t.id, Arc::unwrap_or_clone(st?))))
            .collect()
    }
    let states = s.states(ids).await.unwrap();
    let read = by_tracker(s.tracker_states(account, Some(ids)).await.unwrap());
    assert_eq!(read, states, "states {when}");
    let counters = s.counter_states(ids).await.unwrap();
    let read = by_tracker(s.tracker_counters(account, ids).await.unwrap());
    assert_eq!(read, counters, "counters {when}");
    counters
}

/// A point of `t` at `time` with its latitude at `lat`: a move the counters count.
fn moving(t: TrackerId, time: i64, lat: f64) -> Point {
    let mut p = point(t.0, time);
    if let Some(pos) = &mut p.position {
        pos.lat = lat;
    }
    p
}

/// What `get_states` and `counter/value/list` read (`tracker_states`, `tracker_counters`) is
/// what the rows hold after every write, wherever it comes from (SQLite serves what ingest
/// last committed from memory): after ingest, after a counter is set, after ingest again.
async fn tracker_states_and_counters_follow_every_write(s: &dyn Store) {
    let (alice, [a1, a2, _], _) = alice_and_bob(s).await;
    let ids = [a1.id, a2.id];
    let check = |when: &'static str| check_states_are_rows(s, alice, &ids, when);
    let set_odometer = |t: TrackerId, value: f64, time: i64| async move {
        let config = CounterConfig::default();
        s.change_counter(t, ODO, &set(value), time, &config)
            .await
            .unwrap();
    };
    ingest(
        s,
        &[moving(a1.id, NOW, 52.0), moving(a1.id, NOW + 60_000, 52.01)],
    )
    .await;
    let counted = check("after ingest").await;
    set_odometer(a1.id, 500.0, NOW + 120_000).await;
    let changed = check("after a counter is set").await;
    assert_ne!(
        counted[&a1.id], changed[&a1.id],
        "the set changed the counters"
    );
    ingest(
        s,
        &[
            moving(a1.id, NOW + 180_000, 52.02),
            moving(a2.id, NOW, 10.0),
        ],
    )
    .await;
    let again = check("after ingest again").await;
    assert_ne!(
        changed[&a1.id], again[&a1.id],
        "ingest moved the counters on"
    );
    set_odometer(a1.id, 7.0, NOW + 240_000).await;
    check("after a counter is set again").await;
}

/// The account's live trackers as `Trackers::trackers` reads them, owned.
async fn live_trackers(s: &dyn Store, account: UserId) -> Vec<Tracker> {
    s.trackers(account)
        .await
        .unwrap()
        .into_iter()
        .map(Arc::unwrap_or_clone)
        .collect()
}

/// The account's trackers as `tracker_states` and `tracker_counters` read them, all live
/// ones and by enough IDs that the read takes the account's kept trackers (`tracker_cache`),
/// are what the tables hold: the trackers of `ids` as `tracker_any` reads them, tag bindings
/// aside.
async fn check_account_trackers(s: &dyn Store, account: UserId, ids: &[TrackerId], when: &str) {
    fn trackers<S>(rows: Vec<(Arc<Tracker>, S)>) -> Vec<Tracker> {
        rows.into_iter()
            .map(|(t, _)| Arc::unwrap_or_clone(t))
            .collect()
    }
    let mut stored = Vec::new();
    for id in ids {
        stored.push(s.tracker_any(*id).await.unwrap().unwrap());
    }
    let live: Vec<Tracker> = stored.iter().filter(|t| !t.deleted).cloned().collect();
    let read = trackers(s.tracker_states(account, None).await.unwrap());
    assert_eq!(read, live, "all live trackers {when}");
    assert_eq!(live_trackers(s, account).await, live, "the list {when}");
    let few = trackers(s.tracker_states(account, Some(ids)).await.unwrap());
    assert_eq!(few, stored, "a few named trackers {when}");
    // Unknown IDs make the list long enough to be read from the kept trackers.
    let mut many: Vec<TrackerId> = (900_000..900_060).map(TrackerId).collect();
    many.extend(ids);
    let read = trackers(s.tracker_states(account, Some(&many)).await.unwrap());
    assert_eq!(read, stored, "named trackers {when}");
    let read = trackers(s.tracker_counters(account, &many).await.unwrap());
    assert_eq!(read, stored, "trackers with counters {when}");
}

/// Every change to an account's trackers, or to the source behind one (another account's
/// included, through a clone), shows in the next read of its trackers, which otherwise come
/// from memory.
async fn tracker_reads_follow_every_tracker_change(s: &dyn Store) {
    let (alice, [a1, a2, a3], b1) = alice_and_bob(s).await;
    let lent = s.clone_tracker(b1.id, alice, "lent").await.unwrap();
    let mut ids = vec![a1.id, a2.id, a3.id, lent.id];
    check_account_trackers(s, alice, &ids, "at first").await;
    check_account_trackers(s, alice, &ids, "read again").await;
    s.update_settings(a1.id, "renamed", GroupId(0))
        .await
        .unwrap();
    check_account_trackers(s, alice, &ids, "after settings").await;
    s.change_phone(a2.id, "+15550001", Some("apn"), None, None)
        .await
        .unwrap();
    check_account_trackers(s, alice, &ids, "after a phone change").await;
    s.set_blocked(a2.id, true).await.unwrap();
    check_account_trackers(s, alice, &ids, "after blocking").await;
    s.set_tariff_end_date(a1.id, Some("2030-01-01"))
        .await
        .unwrap();
    check_account_trackers(s, alice, &ids, "after a tariff change").await;
    s.replace(a3.id, &replacement("200000000000009", None))
        .await
        .unwrap();
    check_account_trackers(s, alice, &ids, "after a replace").await;
    s.set_blocked(b1.id, true).await.unwrap();
    check_account_trackers(s, alice, &ids, "after the lent tracker's owner blocked it").await;
    s.corrupt(a1.id).await.unwrap();
    check_account_trackers(s, alice, &ids, "after a delete").await;
    ids.push(tracker(s, alice, "100000000000005").await.id);
    check_account_trackers(s, alice, &ids, "after a registration").await;
    s.delete_clone(lent.id).await.unwrap();
    check_account_trackers(s, alice, &ids, "after the clone is deleted").await;
    let red = s.create_tag(alice, "red", "FF0000").await.unwrap();
    let blue = s.create_tag(alice, "blue", "0000FF").await.unwrap();
    let bound = |tag: &Tag, ordinal| TagBinding {
        tag_id: tag.id,
        ordinal,
    };
    s.set_tag_bindings(a2.id, &[bound(&red, 1), bound(&blue, 2)])
        .await
        .unwrap();
    check_account_trackers(s, alice, &ids, "after tags are bound").await;
    s.set_tag_bindings(a2.id, &[bound(&blue, 1)]).await.unwrap();
    check_account_trackers(s, alice, &ids, "after the bindings change").await;
    s.delete_tags(alice, &[blue.id]).await.unwrap();
    check_account_trackers(s, alice, &ids, "after a bound tag is deleted").await;
}

/// The same when the change comes through another store on the same database: the admin
/// command's process on a SQLite file, another node on PostgreSQL.
async fn tracker_reads_follow_another_writer(s: &dyn Store, other: &dyn Store) {
    let (alice, [a1, a2, a3], _) = alice_and_bob(s).await;
    let ids = [a1.id, a2.id, a3.id];
    check_account_trackers(s, alice, &ids, "at first").await;
    other
        .update_settings(a2.id, "renamed elsewhere", GroupId(0))
        .await
        .unwrap();
    other.set_blocked(a3.id, true).await.unwrap();
    check_account_trackers(s, alice, &ids, "after another store's changes").await;
    let tag = other
        .create_tag(alice, "elsewhere", "00FF00")
        .await
        .unwrap();
    other
        .set_tag_bindings(
            a1.id,
            &[TagBinding {
                tag_id: tag.id,
                ordinal: 1,
            }],
        )
        .await
        .unwrap();
    check_account_trackers(s, alice, &ids, "after another store bound a tag").await;
    assert_eq!(
        s.tracker_states(alice, None).await.unwrap()[1].0.label,
        "renamed elsewhere"
    );
}

#[tokio::test]
async fn sqlite_tracker_reads_follow_another_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trackd.db");
    let path = path.to_str().unwrap();
    let s = trackd_store::open(path).await.unwrap();
    let other = trackd_store::open(path).await.unwrap();
    tracker_reads_follow_another_writer(&*s, &*other).await;
}

/// Two nodes on one PostgreSQL: what one reads of states and counters follows what the other
/// commits, though it keeps what its own writers committed. A read takes a kept state without
/// its row's version only while no one else has written states since its era began (each
/// ingest commit begins one if the count moved, and publishes in it); another node's ingest,
/// or a counter change made anywhere, ends the era, and the row's version then tells.
#[tokio::test]
async fn postgres_states_follow_another_node() {
    let Some((_db, s, other)) = two_postgres_nodes().await else {
        return;
    };
    let (alice, [a1, a2, _], _) = alice_and_bob(&*s).await;
    let ids = [a1.id, a2.id];
    check_states_are_rows(&*s, alice, &ids, "before any ingest").await;
    ingest(&*s, &[moving(a1.id, NOW, 52.0), moving(a2.id, NOW, 10.0)]).await;
    let counted = check_states_are_rows(&*s, alice, &ids, "after this node's ingest").await;
    ingest(&*other, &[moving(a1.id, NOW + 60_000, 52.01)]).await;
    let moved = check_states_are_rows(&*s, alice, &ids, "after the other's ingest").await;
    assert_ne!(counted[&a1.id], moved[&a1.id], "the other node counted");
    ingest(&*s, &[moving(a2.id, NOW + 60_000, 10.01)]).await;
    check_states_are_rows(&*s, alice, &ids, "after this node's ingest in a new era").await;
    set_odometer(&*other, a2.id, 42.0, NOW + 120_000).await;
    let set_there =
        check_states_are_rows(&*s, alice, &ids, "after the other's counter change").await;
    assert_eq!(
        set_there[&a2.id].reading(ODO).current().map(|(km, _)| km),
        Some(42.0)
    );
    ingest(&*s, &[moving(a1.id, NOW + 180_000, 52.02)]).await;
    check_states_are_rows(&*s, alice, &ids, "after this node's ingest again").await;
    set_odometer(&*s, a1.id, 7.0, NOW + 240_000).await;
    check_states_are_rows(&*s, alice, &ids, "after this node's counter change").await;
}

/// A node's ingest moves the state and counters another node left in the rows, though it
/// keeps what its own writers committed: what it kept is taken only at its row's version.
#[tokio::test]
async fn postgres_ingest_moves_what_another_node_wrote() {
    let Some((_db, s, other)) = two_postgres_nodes().await else {
        return;
    };
    let (_, [a1, _, _], _) = alice_and_bob(&*s).await;
    ingest(&*s, &[moving(a1.id, NOW, 52.0)]).await;
    let mut there = moving(a1.id, NOW + 60_000, 52.01);
    there.io.insert("fuel_level", serde_json::json!(40));
    ingest(&*other, &[there]).await;
    ingest(&*s, &[moving(a1.id, NOW + 120_000, 52.02)]).await;
    let state = state_of(&*s, a1.id.0).await.expect("a state");
    assert_eq!(state.first_update, Some(NOW), "this node's first point");
    assert_eq!(
        state.io.get("fuel_level").map(|r| (&r.value, r.time)),
        Some((&serde_json::json!(40), NOW + 60_000)),
        "the other node's reading, carried on by this node's commit"
    );
    set_odometer(&*other, a1.id, 100.0, NOW + 150_000).await;
    let mut driving = moving(a1.id, NOW + 180_000, 52.03);
    if let Some(p) = &mut driving.position {
        // Not parked drift, which counts nothing after the first parked fix.
        p.speed = Some(60.0);
    }
    ingest(&*s, &[driving]).await;
    let counters = s.counter_states(&[a1.id]).await.unwrap();
    let km = counters[&a1.id].reading(ODO).current().map(|(km, _)| km);
    // From where the vehicle stopped, the first parked fix (52.0): 3 x 1.11 km.
    assert!(
        km.is_some_and(|km| (103.2..103.5).contains(&km)),
        "counted on from the other node's 100 km: {km:?}"
    );
}

async fn set_odometer(s: &dyn Store, t: TrackerId, km: f64, at: i64) {
    s.change_counter(t, ODO, &set(km), at, &CounterConfig::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn postgres_tracker_reads_follow_another_writer() {
    if let Some((_db, s, other)) = two_postgres_nodes().await {
        tracker_reads_follow_another_writer(&*s, &*other).await;
    }
}

/// Two stores on one fresh PostgreSQL database, as two nodes would have.
async fn two_postgres_nodes() -> Option<(PgTestDb, Arc<dyn Store>, Arc<dyn Store>)> {
    let db = fresh_database().await?;
    let s = trackd_store::open(db.url()).await.unwrap();
    let other = trackd_store::open(db.url()).await.unwrap();
    Some((db, s, other))
}

async fn tracker_counters_scoped_and_joined(s: &dyn Store) {
    let (alice, [a1, a2, a3], b1) = alice_and_bob(s).await;
    for t in [a1.id, b1.id] {
        s.change_counter(t, ODO, &set(12.5), NOW, &CounterConfig::default())
            .await
            .unwrap();
    }
    s.corrupt(a3.id).await.unwrap();

    let asked = [a3.id, b1.id, TrackerId(999_999), a2.id, a1.id];
    let some = s.tracker_counters(alice, &asked).await.unwrap();
    let summary: Vec<(TrackerId, bool, bool)> = some
        .iter()
        .map(|(t, c)| (t.id, t.deleted, c.is_some()))
        .collect();
    assert_eq!(
        summary,
        [
            (a1.id, false, true),
            (a2.id, false, false),
            (a3.id, true, false)
        ],
        "the account's own, deleted included, by ID"
    );
    assert_eq!(some[0].0.source.device_id, "100000000000001");
    assert_eq!(
        some[0].1.as_deref(),
        s.counter_states(&[a1.id]).await.unwrap().get(&a1.id)
    );
    assert!(s.tracker_counters(alice, &[]).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Counters

const ODO: CounterType = CounterType::Odometer;
const HOURS: CounterType = CounterType::EngineHours;

fn set(value: f64) -> Change {
    Change::Set { value }
}

/// A record `minutes` after NOW, driving north at 0.005° a minute (about 33 km/h), the
/// ignition on.
fn driving(tracker: i64, minutes: i64) -> Point {
    let mut p = point(tracker, NOW + minutes * 60_000);
    if let Some(pos) = &mut p.position {
        pos.lat = 50.0 + minutes as f64 * 0.005;
        pos.speed = Some(33.0);
    }
    p.ignition = Some(true);
    p
}

/// The counters the core fold makes of these points after a value set of 0 at NOW: what the
/// store must agree with, bit for bit.
fn expected(points: &[Point]) -> CounterState {
    let events = [
        Event {
            time: NOW,
            seq: 1,
            counter_type: ODO,
            change: set(0.0),
        },
        Event {
            time: NOW,
            seq: 2,
            counter_type: HOURS,
            change: set(0.0),
        },
    ];
    let mut items: Vec<Item> = points
        .iter()
        .map(Item::Point)
        .chain(events.iter().map(Item::Event))
        .collect();
    items.sort_by_key(Item::key);
    let mut state = CounterState::default();
    state.fold(items, &Sources::default(), &CounterConfig::default());
    state
}

async fn counter_state(s: &dyn Store, t: TrackerId) -> CounterState {
    s.counter_states(&[t])
        .await
        .unwrap()
        .remove(&t)
        .expect("a counter state")
}

async fn start_counters(s: &dyn Store, t: TrackerId) {
    for kind in [ODO, HOURS] {
        s.change_counter(t, kind, &set(0.0), NOW, &CounterConfig::default())
            .await
            .unwrap();
    }
}

async fn counters_created_by_changes(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "1").await.id;
    let config = CounterConfig::default();
    assert!(s.counters(t).await.unwrap().is_empty());
    assert!(s.counter_states(&[t]).await.unwrap().is_empty());
    let odo = s
        .change_counter(t, ODO, &set(100.5), NOW, &config)
        .await
        .unwrap();
    assert_eq!(
        (
            odo.tracker_id,
            odo.counter_type,
            odo.multiplier,
            odo.sensor_id
        ),
        (t, ODO, 1.0, None)
    );
    let update = Change::Update {
        multiplier: 2.0,
        sensor_id: None,
    };
    let hours = s
        .change_counter(t, HOURS, &update, NOW + 1, &config)
        .await
        .unwrap();
    assert_eq!((hours.counter_type, hours.multiplier), (HOURS, 2.0));
    let moved = Change::Update {
        multiplier: 1.5,
        sensor_id: Some(SensorId(77)),
    };
    let odo2 = s
        .change_counter(t, ODO, &moved, NOW + 2, &config)
        .await
        .unwrap();
    assert_eq!(odo2.id, odo.id, "the same counter, updated");
    assert_eq!((odo2.multiplier, odo2.sensor_id), (1.5, Some(SensorId(77))));
    // A value set keeps the multiplier.
    let odo3 = s
        .change_counter(t, ODO, &set(7.0), NOW + 3, &config)
        .await
        .unwrap();
    assert_eq!(odo3, odo2);
    assert_eq!(s.counters(t).await.unwrap(), vec![odo2, hours]);
    let state = counter_state(s, t).await;
    assert_eq!(state.reading(ODO).current(), Some((7.0, NOW + 3)));
    assert_eq!(
        state.reading(HOURS).current(),
        None,
        "created, no value yet"
    );
    assert_eq!(state.reading(CounterType::FuelConsumed).current(), None);
    let missing = s
        .change_counter(TrackerId(999), ODO, &set(1.0), NOW, &config)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

async fn counters_count_in_the_ingest_transaction(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "1").await.id;
    start_counters(s, t).await;
    let route: Vec<Point> = (1..=40).map(|m| driving(t.0, m)).collect();
    ingest(s, &route[..25]).await;
    ingest(s, &route[25..]).await;
    let got = counter_state(s, t).await;
    let want = expected(&route);
    assert_eq!(got.readings, want.readings);
    let (km, at) = got.reading(ODO).current().unwrap();
    assert!((km - 39.0 * 0.556).abs() < 0.1, "{km} km");
    assert_eq!(at, NOW + 40 * 60_000);
    let hours = got.reading(HOURS).current().unwrap().0;
    assert!((hours - 39.0 / 60.0).abs() < 1e-12, "{hours} h");
    // A retransmission counts once.
    ingest(s, &route[30..35]).await;
    assert_eq!(counter_state(s, t).await.readings, want.readings);
}

async fn counters_late_points_refold(s: &dyn Store) {
    let a = master(s, "a").await;
    let (late, in_order) = (tracker(s, a, "1").await.id, tracker(s, a, "2").await.id);
    start_counters(s, late).await;
    start_counters(s, in_order).await;
    // Two hours of records; the device sends every third live and the rest from its memory
    // afterwards, out of order and with a duplicate, across several history buckets.
    let route = |t: TrackerId| -> Vec<Point> { (1..=120).map(|m| driving(t.0, m)).collect() };
    let (mut live, mut buffered) = (Vec::new(), Vec::new());
    for (i, p) in route(late).into_iter().enumerate() {
        if i % 3 == 0 {
            live.push(p)
        } else {
            buffered.push(p)
        }
    }
    buffered.reverse();
    ingest(s, &live).await;
    for chunk in buffered.chunks(17) {
        ingest(s, chunk).await;
    }
    ingest(s, &buffered[..5]).await;
    ingest(s, &route(in_order)).await;
    let want = expected(&route(in_order));
    assert_eq!(counter_state(s, in_order).await.readings, want.readings);
    assert_eq!(counter_state(s, late).await.readings, want.readings);
    for kind in [ODO, HOURS] {
        let history = s
            .counter_history(in_order, kind, NOW, NOW + 86_400_000)
            .await
            .unwrap();
        assert_eq!(
            s.counter_history(late, kind, NOW, NOW + 86_400_000)
                .await
                .unwrap(),
            history
        );
        assert!(
            history.len() >= 24,
            "a value per 5 minutes: {}",
            history.len()
        );
    }
}

async fn counters_change_dated_before_folded_points(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "1").await.id;
    // Records dated ahead of the server's clock are folded before the set that precedes them.
    let route: Vec<Point> = (1..=20).map(|m| driving(t.0, m)).collect();
    ingest(s, &route).await;
    assert_eq!(counter_state(s, t).await.reading(ODO).current(), None);
    start_counters(s, t).await;
    assert_eq!(
        counter_state(s, t).await.readings,
        expected(&route).readings
    );
    // A multiplier dated in the middle doubles what follows it only.
    let double = Change::Update {
        multiplier: 2.0,
        sensor_id: None,
    };
    let mid = NOW + 10 * 60_000 + 1;
    s.change_counter(t, ODO, &double, mid, &CounterConfig::default())
        .await
        .unwrap();
    let (before, _) = expected(&route[..10]).reading(ODO).current().unwrap();
    let (all, _) = expected(&route).reading(ODO).current().unwrap();
    let (km, _) = counter_state(s, t).await.reading(ODO).current().unwrap();
    assert!((km - (before + 2.0 * (all - before))).abs() < 1e-9, "{km}");
}

async fn counters_history_range(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "1").await.id;
    assert!(s
        .counter_history(t, ODO, 0, i64::MAX)
        .await
        .unwrap()
        .is_empty());
    start_counters(s, t).await;
    let route: Vec<Point> = (1..=31).map(|m| driving(t.0, m)).collect();
    ingest(s, &route).await;
    let all = s
        .counter_history(t, ODO, NOW, NOW + 3_600_000)
        .await
        .unwrap();
    // The set (bucket of NOW, with the first four minutes), one row per 5 minutes, and the
    // current bucket's value from the state.
    let times: Vec<i64> = all.iter().map(|(t, _)| (t - NOW) / 60_000).collect();
    let bucket_end = |m: i64| {
        let b = CounterConfig::default().bucket(NOW + m * 60_000);
        (1..=31)
            .filter(|x| CounterConfig::default().bucket(NOW + x * 60_000) == b)
            .max()
            .unwrap()
    };
    let mut want: Vec<i64> = (1..=31).map(bucket_end).collect();
    want.dedup();
    assert_eq!(times, want);
    // Each stored row is the odometer as its bucket's last record left it, and the engine
    // hours' rows beside it are theirs.
    for (kind, rows) in [
        (ODO, &all),
        (
            HOURS,
            &s.counter_history(t, HOURS, NOW, NOW + 3_600_000)
                .await
                .unwrap(),
        ),
    ] {
        for (time, value) in &rows[..rows.len() - 1] {
            let minute = usize::try_from((time - NOW) / 60_000).unwrap();
            let (want, _) = expected(&route[..minute]).reading(kind).current().unwrap();
            assert_eq!(*value, want, "{kind:?} at minute {minute}");
        }
    }
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
        "{all:?}"
    );
    let last = all.last().unwrap();
    assert_eq!(
        Some((last.1, last.0)),
        counter_state(s, t).await.reading(ODO).current()
    );
    // A range picks its rows; the current value only when its time is inside.
    let first_two = s.counter_history(t, ODO, NOW, all[1].0).await.unwrap();
    assert_eq!(first_two, all[..2].to_vec());
    assert!(s
        .counter_history(t, ODO, last.0 + 1, i64::MAX)
        .await
        .unwrap()
        .is_empty());
    assert!(
        s.counter_history(t, CounterType::FuelConsumed, NOW, NOW + 3_600_000)
            .await
            .unwrap()
            .is_empty(),
        "a counter without values records none"
    );
}

/// An ingest commit reads each tracker's sensors for its counters' sources: fuel consumed
/// counts a cumulative fuel sensor, as the core's fold does with those sensors.
async fn counters_read_the_trackers_sensors(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "1").await.id;
    let other = tracker(s, a, "2").await.id;
    let def = sensor_def(
        json!({"type": "metering", "sensor_type": "fuel_consumption",
        "name": "Fuel used", "input_name": "fuel_used", "divider": 1, "accuracy": 0,
        "units": "l", "units_type": "litre"}),
    );
    let sensors = create_all(s, t, &[def]).await;
    let fuel = CounterType::FuelConsumed;
    let config = CounterConfig::default();
    for tracker in [t, other] {
        s.change_counter(tracker, fuel, &set(0.0), NOW, &config)
            .await
            .unwrap();
    }
    let route = |tracker: TrackerId| -> Vec<Point> {
        (1..=12)
            .map(|m| {
                let mut p = driving(tracker.0, m);
                p.io.insert("fuel_used", json!(1000.0 + m as f64 * 0.75));
                p
            })
            .collect()
    };
    let mut batch = route(t);
    batch.extend(route(other));
    ingest(s, &batch).await;
    let event = Event {
        time: NOW,
        seq: 1,
        counter_type: fuel,
        change: set(0.0),
    };
    let mut want = CounterState::default();
    let own = route(t);
    let items = std::iter::once(Item::Event(&event)).chain(own.iter().map(Item::Point));
    want.fold(items, &Sources::of(&sensors), &config);
    let (litres, _) = counter_state(s, t).await.reading(fuel).current().unwrap();
    assert_eq!(Some(litres), want.reading(fuel).current().map(|(v, _)| v));
    assert!(litres > 0.0, "{litres}");
    // The tracker without the sensor counts nothing.
    let (none, _) = counter_state(s, other)
        .await
        .reading(fuel)
        .current()
        .unwrap();
    assert_eq!(none, 0.0);
}

async fn counters_too_late_records_are_stored_not_counted(s: &dyn Store) {
    let a = master(s, "a").await;
    let t = tracker(s, a, "1").await.id;
    start_counters(s, t).await;
    let day = 24 * 60;
    // Live records on the first day and three days on; then one from the first day (more
    // than the default two days behind) and one from the second (within them).
    let live: Vec<Point> = (0..10)
        .map(|m| driving(t.0, m))
        .chain((0..10).map(|m| driving(t.0, 3 * day + m)))
        .collect();
    ingest(s, &live).await;
    let before = counter_state(s, t).await;
    let mut too_late = driving(t.0, 5);
    too_late.time += 30_000;
    assert_eq!(
        ingest(s, std::slice::from_ref(&too_late)).await,
        1,
        "stored"
    );
    assert_eq!(counter_state(s, t).await, before, "not counted");
    // The late record refolds from the first day's last checkpoint, after the one too late.
    let late = driving(t.0, 2 * day);
    ingest(s, std::slice::from_ref(&late)).await;
    let mut counted = live;
    counted.push(late);
    assert_eq!(
        counter_state(s, t).await.readings,
        expected(&counted).readings
    );
}
