//! The state objects `tracker/get_states` answered, kept rendered per tracker while nothing
//! they were rendered from has changed.
//!
//! A dashboard polls `get_states` for its whole fleet every few seconds, and between two
//! polls few of its trackers have reported: rendering and serializing 2,000 state objects
//! was most of the call (about 5 ms of it at p50 under ingest, BENCHMARKS.md). A state object
//! is a function of the tracker, its state, the caller's time format and, through its
//! statuses, of the time of the call. The store hands out the same `Arc` of a tracker and of
//! a state while they are unchanged (its kept trackers, the states its writers published), so
//! an object rendered from the same two `Arc`s, in the same time format and with the same
//! statuses at this call's time is the one this call would render. Anything else (a tracker
//! or state read from its row, another time zone) is rendered again and kept in its place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use trackd_core::state::{ConnectionStatus, MovementStatus, StateConfig, TrackerState};
use trackd_core::tracker::Tracker;
use trackd_core::TrackerId;

use crate::time::TimeFormat;

/// Trackers kept at most, one object each of about 600 bytes: some 12 MiB. Past it the
/// entries of trackers the store no longer keeps are dropped, and if that is not enough,
/// all of them.
const KEPT: usize = 20_000;

/// What a state object's statuses are at a time; all else in it is the same at any time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Statuses {
    pub connection: ConnectionStatus,
    pub movement: MovementStatus,
    pub movement_since: Option<i64>,
}

impl Statuses {
    pub fn at(tracker: &Tracker, state: &TrackerState, now: i64, config: &StateConfig) -> Self {
        let (movement, movement_since) = state.movement_status(now, config);
        Statuses {
            connection: state.connection_status(tracker.source.replaced_at, now, config),
            movement,
            movement_since,
        }
    }
}

/// What one tracker's object was rendered from, and the object's JSON.
struct Entry {
    /// Weak, so that the store's old trackers and states are freed when it lets them go; a
    /// weak reference keeps the allocation, so no new `Arc` can take its address.
    tracker: Weak<Tracker>,
    /// `None` for a tracker that had no state (rendered as an empty one).
    state: Option<Weak<TrackerState>>,
    format: TimeFormat,
    statuses: Statuses,
    json: Arc<str>,
}

impl Entry {
    fn rendered_from(
        &self,
        tracker: &Arc<Tracker>,
        state: Option<&Arc<TrackerState>>,
        format: TimeFormat,
        statuses: Statuses,
    ) -> bool {
        let state_is = match (&self.state, state) {
            (Some(kept), Some(state)) => std::ptr::eq(kept.as_ptr(), Arc::as_ptr(state)),
            (None, None) => true,
            _ => false,
        };
        state_is
            && std::ptr::eq(self.tracker.as_ptr(), Arc::as_ptr(tracker))
            && self.format == format
            && self.statuses == statuses
    }
}

/// The kept objects, shared by every call of the server.
#[derive(Default)]
pub struct RenderedStates {
    kept: Mutex<HashMap<TrackerId, Entry>>,
}

/// A tracker whose object a call needs: its tracker, state and statuses at the call's time.
pub(crate) struct Wanted<'a> {
    pub tracker: &'a Arc<Tracker>,
    pub state: Option<&'a Arc<TrackerState>>,
    pub statuses: Statuses,
}

impl RenderedStates {
    /// The JSON of each wanted tracker's state object, in the order wanted: kept ones as they
    /// are, the others made by `render` (outside the lock, so that two calls do not wait on
    /// each other's rendering) and kept.
    pub(crate) fn objects(
        &self,
        wanted: &[Wanted<'_>],
        format: TimeFormat,
        render: impl Fn(&Wanted<'_>) -> String,
    ) -> Vec<Arc<str>> {
        let kept: Vec<Option<Arc<str>>> = {
            let kept = self.lock();
            wanted
                .iter()
                .map(|w| {
                    kept.get(&w.tracker.id)
                        .filter(|e| e.rendered_from(w.tracker, w.state, format, w.statuses))
                        .map(|e| Arc::clone(&e.json))
                })
                .collect()
        };
        let mut fresh = Vec::new();
        let objects = kept
            .into_iter()
            .zip(wanted)
            .map(|(kept, w)| {
                kept.unwrap_or_else(|| {
                    let json: Arc<str> = render(w).into();
                    let entry = Entry {
                        tracker: Arc::downgrade(w.tracker),
                        state: w.state.map(Arc::downgrade),
                        format,
                        statuses: w.statuses,
                        json: Arc::clone(&json),
                    };
                    fresh.push((w.tracker.id, entry));
                    json
                })
            })
            .collect();
        if !fresh.is_empty() {
            let mut kept = self.lock();
            kept.extend(fresh);
            if kept.len() > KEPT {
                kept.retain(|_, e| e.tracker.strong_count() > 0);
                if kept.len() > KEPT {
                    kept.clear();
                }
            }
        }
        objects
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TrackerId, Entry>> {
        // A panic elsewhere while the lock was held leaves entries that are each whole.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use trackd_core::tracker::Source;
    use trackd_core::{GroupId, SourceId, UserId};

    use super::*;

    fn tracker(id: i64) -> Arc<Tracker> {
        Arc::new(Tracker {
            id: TrackerId(id),
            user_id: UserId(1),
            label: format!("t{id}"),
            group_id: GroupId(0),
            clone: false,
            deleted: false,
            avatar_file_name: None,
            source: Source {
                id: SourceId(id),
                device_id: format!("{id:015}"),
                model: "wialon_ips_20".into(),
                phone: None,
                apn_name: None,
                apn_user: None,
                apn_password: None,
                blocked: false,
                tariff_id: None,
                tariff_end_date: None,
                status_listing_id: None,
                creation_date: "2025-06-02".into(),
                corrupted: false,
                register_commands_pending: false,
                replaced_at: None,
            },
            tag_bindings: Vec::new(),
        })
    }

    fn want<'a>(
        tracker: &'a Arc<Tracker>,
        state: Option<&'a Arc<TrackerState>>,
        statuses: Statuses,
    ) -> Wanted<'a> {
        Wanted {
            tracker,
            state,
            statuses,
        }
    }

    const ACTIVE: Statuses = Statuses {
        connection: ConnectionStatus::Active,
        movement: MovementStatus::Moving,
        movement_since: Some(1),
    };

    /// The objects of one call, and which trackers it rendered.
    fn call(
        kept: &RenderedStates,
        wanted: &[Wanted<'_>],
        format: TimeFormat,
        version: &Cell<u32>,
    ) -> (Vec<String>, Vec<i64>) {
        let rendered = std::cell::RefCell::new(Vec::new());
        let objects = kept.objects(wanted, format, |w| {
            rendered.borrow_mut().push(w.tracker.id.0);
            format!("{{\"t\":{},\"v\":{}}}", w.tracker.id.0, version.get())
        });
        let objects = objects.iter().map(|o| o.to_string()).collect();
        (objects, rendered.into_inner())
    }

    #[test]
    fn an_object_is_kept_while_what_it_was_rendered_from_is_the_same() {
        let kept = RenderedStates::default();
        let version = Cell::new(1);
        let (a, b) = (tracker(1), tracker(2));
        let state = Arc::new(TrackerState::default());
        let utc = TimeFormat::default();
        let wanted = |state, statuses| [want(&a, state, statuses), want(&b, None, ACTIVE)];
        let first = call(&kept, &wanted(Some(&state), ACTIVE), utc, &version);
        assert_eq!(
            first,
            (
                vec![r#"{"t":1,"v":1}"#.into(), r#"{"t":2,"v":1}"#.into()],
                vec![1, 2]
            )
        );
        version.set(2);
        let again = call(&kept, &wanted(Some(&state), ACTIVE), utc, &version);
        assert_eq!(again, (first.0.clone(), Vec::<i64>::new()), "both kept");

        // A new state (an equal one, but another Arc: published again).
        let published = Arc::new(TrackerState::default());
        let (objects, rendered) = call(&kept, &wanted(Some(&published), ACTIVE), utc, &version);
        assert_eq!(rendered, vec![1]);
        assert_eq!(objects[0], r#"{"t":1,"v":2}"#);
        assert_eq!(objects[1], r#"{"t":2,"v":1}"#, "the other one kept");
        // No state where there was one.
        assert_eq!(call(&kept, &wanted(None, ACTIVE), utc, &version).1, vec![1]);
        // Other statuses at this call's time.
        let idle = Statuses {
            connection: ConnectionStatus::Idle,
            ..ACTIVE
        };
        assert_eq!(call(&kept, &wanted(None, idle), utc, &version).1, vec![1]);
        let since = Statuses {
            movement_since: Some(2),
            ..idle
        };
        assert_eq!(call(&kept, &wanted(None, since), utc, &version).1, vec![1]);
        assert_eq!(
            call(&kept, &wanted(None, since), utc, &version).1,
            Vec::<i64>::new()
        );
        // Another time format: rendered, and kept in its place.
        let iso = TimeFormat { iso: true, ..utc };
        assert_eq!(
            call(&kept, &wanted(None, since), iso, &version).1,
            vec![1, 2]
        );
        assert_eq!(
            call(&kept, &wanted(None, since), iso, &version).1,
            Vec::<i64>::new()
        );
        assert_eq!(
            call(&kept, &wanted(None, since), utc, &version).1,
            vec![1, 2]
        );
        // The tracker read again (changed, or reloaded).
        let a_again = tracker(1);
        let changed = [want(&a_again, None, since)];
        assert_eq!(call(&kept, &changed, utc, &version).1, vec![1]);
    }

    #[test]
    fn objects_of_trackers_let_go_are_dropped_when_too_many_are_kept() {
        let kept = RenderedStates::default();
        let version = Cell::new(1);
        let live = tracker(0);
        call(
            &kept,
            &[want(&live, None, ACTIVE)],
            TimeFormat::default(),
            &version,
        );
        for id in 1..=KEPT as i64 {
            // Each tracker dropped once its object is kept, as the store lets go of one.
            call(
                &kept,
                &[want(&tracker(id), None, ACTIVE)],
                TimeFormat::default(),
                &version,
            );
        }
        let mut left: Vec<TrackerId> = kept.lock().keys().copied().collect();
        left.sort_unstable();
        assert_eq!(
            left,
            vec![TrackerId(0), TrackerId(KEPT as i64)],
            "the objects of the trackers still held when the last one was kept"
        );
        assert_eq!(
            call(
                &kept,
                &[want(&live, None, ACTIVE)],
                TimeFormat::default(),
                &version
            )
            .1,
            Vec::<i64>::new()
        );
    }
}
