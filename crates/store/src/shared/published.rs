//! The live states and counter states the ingest writers last committed, shared with the API's
//! reads (DESIGN §4: "state reads come from memory or one indexed row").
//!
//! Reading a state from its row means parsing its JSON: for `tracker/get_states` of 2,000
//! trackers that was 7.9 ms of a 14.6 ms read (states of about 1 KB, medians of 30, a
//! throwaway program). The writer has the states parsed already, as it wrote them; it
//! publishes a copy of each after its commit, and readers take the copies they find and read
//! the rest (trackers the writer has not written since the store opened) from their rows.
//!
//! What is published must never be older than the rows. On PostgreSQL every write of a state
//! row records its transaction's ID as the row's version (migration 10); its writers publish
//! what they committed with that version, and a reader takes a published state only while its
//! row has the same version (one read of the versions), whoever else writes the rows: a
//! counter change, another node. SQLite's rows have no version: its one writer is the only
//! one that publishes, and the one other write of them, `Counters::change_counter`
//! (`counter/value/set`, in this process: the admin commands write neither table), calls
//! [`Published::invalidate`] for its tracker after its commit; a commit
//! of the writer that began before that invalidation does not publish that tracker, since
//! SQLite may have run the change between the writer's commit and its publishing. Between the
//! change's commit and its invalidation a reader may still see the value before it, as a
//! reader that came a moment earlier would. Other writes (a session's last use, a tracker's
//! label) leave the states alone: the writer's own kept states
//! (`sqlite::ingest`) are dropped on any other commit, since SQLite cannot tell which, but
//! these are not, or every API write would empty them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use trackd_core::counter::CounterState;
use trackd_core::state::TrackerState;

use super::ingest::Written;

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
    states: HashMap<i64, Kept<TrackerState>>,
    counters: HashMap<i64, Kept<CounterState>>,
}

/// A published state and the version of the row it was committed as (0 on SQLite).
struct Kept<S> {
    version: i64,
    state: Arc<S>,
}

/// A tracker a read asks for: its ID, and the version its row has where rows have versions
/// (`None` on SQLite, which takes what is published).
pub(crate) type Wanted = (i64, Option<i64>);

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
        let copy = |s: &TrackerState| Arc::new(s.clone());
        publish(&mut inner.states, 0, states, copy, &since);
        let copy = |s: &CounterState| Arc::new(s.clone());
        publish(&mut inner.counters, 0, counters, copy, &since);
    }

    /// Publishes what a commit wrote at `version` (its rows' version), once it is committed,
    /// taking the states over (nothing is copied on the writer's way). Whatever wrote the rows
    /// since has another version, so readers pass these by.
    pub fn commit_at(&self, version: i64, written: Written) {
        let inner = &mut *self.write();
        publish(
            &mut inner.states,
            version,
            written.states,
            Arc::new,
            &|_| false,
        );
        publish(
            &mut inner.counters,
            version,
            written.counters,
            Arc::new,
            &|_| false,
        );
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

    /// The published states of `wanted` (at the version wanted, if any), and the IDs of
    /// those not published so.
    pub fn states(&self, wanted: &[Wanted]) -> (HashMap<i64, Arc<TrackerState>>, Vec<i64>) {
        found(&self.read().states, wanted)
    }

    /// The published counter states of `wanted`, as [`Published::states`].
    pub fn counters(&self, wanted: &[Wanted]) -> (HashMap<i64, Arc<CounterState>>, Vec<i64>) {
        found(&self.read().counters, wanted)
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

/// `written` at `version` into `map` (each made shared by `share`, only if kept), but for
/// trackers `invalidated` since the commit began, and no new tracker beyond `PUBLISHED`.
fn publish<S, W>(
    map: &mut HashMap<i64, Kept<S>>,
    version: i64,
    written: impl IntoIterator<Item = (i64, W)>,
    share: impl Fn(W) -> Arc<S>,
    invalidated: &dyn Fn(i64) -> bool,
) {
    for (id, state) in written {
        if invalidated(id) {
            continue;
        }
        if map.len() < PUBLISHED || map.contains_key(&id) {
            let state = share(state);
            map.insert(id, Kept { version, state });
        }
    }
}

fn found<S>(map: &HashMap<i64, Kept<S>>, wanted: &[Wanted]) -> (HashMap<i64, Arc<S>>, Vec<i64>) {
    let mut out = HashMap::with_capacity(wanted.len());
    let mut missing = Vec::new();
    for &(id, version) in wanted {
        match map.get(&id) {
            Some(kept) if version.is_none_or(|v| v == kept.version) => {
                out.insert(id, Arc::clone(&kept.state));
            }
            _ => missing.push(id),
        }
    }
    (out, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trackers wanted at whatever version is published (SQLite's reads).
    fn any(ids: &[i64]) -> Vec<Wanted> {
        ids.iter().map(|&id| (id, None)).collect()
    }

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
        let (found, missing) = p.states(&any(&[1, 2, 3]));
        assert_eq!(found[&1].last_update, Some(10));
        assert_eq!(found[&2].last_update, Some(20));
        assert_eq!(missing, [3]);
        let (found, missing) = p.counters(&any(&[1, 2]));
        assert_eq!(*found[&1], counters);
        assert_eq!(missing, [2]);
        // A later commit replaces what it wrote again.
        p.commit(p.generation(), [(1, &state(30))], []);
        assert_eq!(p.states(&any(&[1])).0[&1].last_update, Some(30));
    }

    #[test]
    fn a_commit_that_began_before_another_write_of_a_tracker_does_not_publish_it() {
        let p = Published::default();
        let counters = CounterState::default();
        p.commit(p.generation(), [(1, &state(10))], [(1, &counters)]);
        let began = p.generation();
        // Another connection writes tracker 1 between the commit's start and its publishing.
        p.invalidate(1);
        assert_eq!(p.states(&any(&[1])).1, [1], "forgotten at once");
        p.commit(began, [(1, &state(20)), (2, &state(20))], [(1, &counters)]);
        let (found, missing) = p.states(&any(&[1, 2]));
        assert_eq!(missing, [1], "neither the old state nor the suspect one");
        assert_eq!(found[&2].last_update, Some(20), "the others as committed");
        assert_eq!(p.counters(&any(&[1])).1, [1]);
        // The next commit, begun after it, publishes it again.
        p.commit(p.generation(), [(1, &state(30))], []);
        assert_eq!(p.states(&any(&[1])).0[&1].last_update, Some(30));
    }

    #[test]
    fn a_versioned_read_takes_only_what_its_row_still_holds() {
        let p = Published::default();
        let counters = CounterState::default();
        p.commit_at(
            100,
            Written {
                states: vec![(1, state(10)), (2, state(20))],
                counters: vec![(1, counters.clone())],
            },
        );
        let (found, missing) = p.states(&[(1, Some(100)), (2, Some(105)), (3, Some(90))]);
        assert_eq!(found[&1].last_update, Some(10));
        assert_eq!(found.len(), 1);
        assert_eq!(
            missing,
            [2, 3],
            "written since by another transaction, or never published"
        );
        assert_eq!(p.counters(&[(1, Some(100))]).0.len(), 1);
        assert_eq!(p.counters(&[(1, Some(101))]).1, [1]);
        // A later commit of the same writer replaces it, at its own version.
        p.commit_at(
            110,
            Written {
                states: vec![(2, state(30))],
                counters: Vec::new(),
            },
        );
        assert_eq!(p.states(&[(2, Some(110))]).0[&2].last_update, Some(30));
        assert_eq!(p.states(&[(2, Some(105))]).1, [2]);
    }
}
