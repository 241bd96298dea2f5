//! The live states and counter states the ingest writer last committed, shared with the API's
//! reads (DESIGN §4: "state reads come from memory or one indexed row").
//!
//! Reading a state from its row means parsing its JSON: for `tracker/get_states` of 2,000
//! trackers that was 7.9 ms of a 14.6 ms read (states of about 1 KB, medians of 30, a
//! throwaway program). The writer has the states parsed already, as it wrote them; it
//! publishes a copy of each after its commit, and readers take the copies they find and read
//! the rest (trackers the writer has not written since the store opened) from their rows.
//!
//! Only a store with one writer of these rows publishes (SQLite, whose writes are serial).
//! What is published must never be older than the rows. The one other write of them,
//! `Counters::change_counter` (`counter/value/set`, in this process: the admin commands write
//! neither table), calls [`Published::invalidate`] for its tracker after its commit; a commit
//! of the writer that began before that invalidation does not publish that tracker, since
//! SQLite may have run the change between the writer's commit and its publishing. Between the
//! change's commit and its invalidation a reader may still see the value before it, as a
//! reader that came a moment earlier would. Other writes (a session's
//! last use, a tracker's label) leave the states alone: the writer's own kept states
//! (`sqlite::ingest`) are dropped on any other commit, since SQLite cannot tell which, but
//! these are not, or every API write would empty them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use trackd_core::counter::CounterState;
use trackd_core::state::TrackerState;

/// Trackers whose states are published at most: about 1-3 KiB each with its counters, so at
/// most about 60 MiB; a larger fleet has the rest read from their rows.
const PUBLISHED: usize = 20_000;

#[derive(Default)]
pub(crate) struct Published {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped by every invalidation.
    generation: u64,
    /// The generation of each tracker's last invalidation: a commit that began before it
    /// does not publish the tracker.
    invalidated: HashMap<i64, u64>,
    states: HashMap<i64, Arc<TrackerState>>,
    counters: HashMap<i64, Arc<CounterState>>,
}

impl Published {
    /// What a commit records before it reads anything, and hands back to [`Published::commit`].
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// Publishes what a commit wrote, once it is committed, but for trackers invalidated
    /// since it began at `began`.
    pub fn commit<'a>(
        &self,
        began: u64,
        states: impl IntoIterator<Item = (i64, &'a TrackerState)>,
        counters: impl IntoIterator<Item = (i64, &'a CounterState)>,
    ) {
        let inner = &mut *self.write();
        let since = |id| inner.invalidated.get(&id).is_some_and(|&at| at > began);
        publish(&mut inner.states, states, &since);
        publish(&mut inner.counters, counters, &since);
    }

    /// Forgets a tracker's states: its rows were written other than by the writer.
    pub fn invalidate(&self, tracker: i64) {
        let mut inner = self.write();
        inner.generation += 1;
        let generation = inner.generation;
        inner.invalidated.insert(tracker, generation);
        inner.states.remove(&tracker);
        inner.counters.remove(&tracker);
    }

    /// The published states of `ids`, and the IDs of those not published.
    pub fn states(&self, ids: &[i64]) -> (HashMap<i64, Arc<TrackerState>>, Vec<i64>) {
        found(&self.read().states, ids)
    }

    /// The published counter states of `ids`, and the IDs of those not published.
    pub fn counters(&self, ids: &[i64]) -> (HashMap<i64, Arc<CounterState>>, Vec<i64>) {
        found(&self.read().counters, ids)
    }

    // A panic while a lock was held left whole maps behind: every change is one insert or a
    // clear.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Copies of `written` into `map`, but for trackers `invalidated` since the commit began, and
/// no new tracker beyond `PUBLISHED`.
fn publish<'a, S: Clone + 'a>(
    map: &mut HashMap<i64, Arc<S>>,
    written: impl IntoIterator<Item = (i64, &'a S)>,
    invalidated: &dyn Fn(i64) -> bool,
) {
    for (id, state) in written {
        if invalidated(id) {
            continue;
        }
        if map.len() < PUBLISHED || map.contains_key(&id) {
            map.insert(id, Arc::new(state.clone()));
        }
    }
}

fn found<S>(map: &HashMap<i64, Arc<S>>, ids: &[i64]) -> (HashMap<i64, Arc<S>>, Vec<i64>) {
    let mut out = HashMap::with_capacity(ids.len());
    let mut missing = Vec::new();
    for &id in ids {
        match map.get(&id) {
            Some(s) => {
                out.insert(id, Arc::clone(s));
            }
            None => missing.push(id),
        }
    }
    (out, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(last_update: i64) -> TrackerState {
        TrackerState {
            last_update: Some(last_update),
            ..TrackerState::default()
        }
    }

    #[test]
    fn a_commit_is_published_and_read_back() {
        let p = Published::default();
        let began = p.generation();
        let counters = CounterState::default();
        p.commit(began, [(1, &state(10)), (2, &state(20))], [(1, &counters)]);
        let (found, missing) = p.states(&[1, 2, 3]);
        assert_eq!(found[&1].last_update, Some(10));
        assert_eq!(found[&2].last_update, Some(20));
        assert_eq!(missing, [3]);
        let (found, missing) = p.counters(&[1, 2]);
        assert_eq!(*found[&1], counters);
        assert_eq!(missing, [2]);
        // A later commit replaces what it wrote again.
        p.commit(p.generation(), [(1, &state(30))], []);
        assert_eq!(p.states(&[1]).0[&1].last_update, Some(30));
    }

    #[test]
    fn a_commit_that_began_before_another_write_of_a_tracker_does_not_publish_it() {
        let p = Published::default();
        let counters = CounterState::default();
        p.commit(p.generation(), [(1, &state(10))], [(1, &counters)]);
        let began = p.generation();
        // Another connection writes tracker 1 between the commit's start and its publishing.
        p.invalidate(1);
        assert_eq!(p.states(&[1]).1, [1], "forgotten at once");
        p.commit(began, [(1, &state(20)), (2, &state(20))], [(1, &counters)]);
        let (found, missing) = p.states(&[1, 2]);
        assert_eq!(missing, [1], "neither the old state nor the suspect one");
        assert_eq!(found[&2].last_update, Some(20), "the others as committed");
        assert_eq!(p.counters(&[1]).1, [1]);
        // The next commit, begun after it, publishes it again.
        p.commit(p.generation(), [(1, &state(30))], []);
        assert_eq!(p.states(&[1]).0[&1].last_update, Some(30));
    }
}
