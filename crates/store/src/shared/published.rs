//! The live states and counter states the ingest writers last committed, shared with the API's
//! reads (DESIGN §4: "state reads come from memory or one indexed row").
//!
//! Reading a state from its row means parsing its JSON: for `tracker/get_states` of 2,000
//! trackers that was 7.9 ms of a 14.6 ms read (states of about 1 KB, medians of 30, a
//! throwaway program). The writer has the states parsed already, as it wrote them; it
//! publishes a copy of each after its commit, and readers take the copies they find and read
//! the rest (trackers the writer has not written since the store opened) from their rows.
//!
//! What is published must never be older than the rows. On PostgreSQL every write of a state row
//! records its transaction's ID as the row's version (migration 10); its writers publish what they
//! committed with that version, and a reader takes a published state only while its row has the
//! same version (one read of the versions), whoever else writes the rows: a counter change, another
//! node. Reading 2,000 versions still means finding 2,000 rows that ingest keeps rewriting, so a
//! read first counts the state writes made other than by this node's writers (migration 11,
//! [`Foreign`]): while that count stays as it was when an era began, a state this node's writer
//! published in that era is its row's, and no version is read. A count that moved begins a new era,
//! and what was published before it is taken only at its row's version until the writer publishes
//! it again. SQLite's rows have no version: its one writer is the only one that publishes, and the
//! one other write of them, `Counters::change_counter` (`counter/value/set`, in this process: the
//! admin commands write neither table), calls [`Published::invalidate`] for its tracker after its
//! commit; a commit of the writer that began before that invalidation does not publish that
//! tracker, since SQLite may have run the change between the writer's commit and its publishing.
//! Between the change's commit and its invalidation a reader may still see the value before it, as
//! a reader that came a moment earlier would. Other writes (a session's last use, a tracker's
//! label) leave the states alone: the writer's own kept states (`sqlite::ingest`) are dropped on
//! any other commit, since SQLite cannot tell which, but these are not, or every API write would
//! empty them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The last [`Ticket`]'s order.
    order: AtomicU64,
}

#[derive(Default)]
struct Inner {
    /// Bumped by every invalidation.
    generation: u64,
    /// The generation of each tracker's last invalidation: a commit that began before it
    /// does not publish the tracker.
    invalidated: HashMap<i64, u64>,
    /// Counted up each time [`Published::trust`] finds the foreign writes moved.
    era: u64,
    /// The foreign writes counted when `era` began.
    trusted_at: Option<Foreign>,
    states: HashMap<i64, Kept<TrackerState>>,
    counters: HashMap<i64, Kept<CounterState>>,
}

/// A published state, the version of the row it was committed as (0 on SQLite), and the
/// ticket its commit took.
struct Kept<S> {
    version: i64,
    ticket: Ticket,
    state: Arc<S>,
}

/// The state writes PostgreSQL counted that were not this node's writers' (migration 11):
/// those of other nodes' writers, and those made elsewhere (the API's counter changes on any
/// node, the admin commands, SQL by hand). Each part only grows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Foreign {
    pub lanes: i64,
    pub elsewhere: i64,
}

/// The state writes counted (migration 11) but for those of the ingest writers of the node
/// named `$1`, as the columns `lanes` (other nodes' writers) and `elsewhere` (everything else:
/// a sequence, read as it is now, committed or not; a write counted before it commits only
/// ends an era early).
macro_rules! foreign_state_writes {
    () => {
        "(SELECT coalesce(sum(writes), 0)::bigint FROM state_writes WHERE node <> $1) AS lanes, \
         (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM state_writes_elsewhere) \
         AS elsewhere"
    };
}

/// The account `$2`'s tracker revision (NULL before its first change) and the foreign state
/// writes of all but the node named `$1`: a read of many trackers' states needs both, and
/// one round trip less is one wait for the database less under load.
pub(crate) const REVISION_AND_FOREIGN: &str = concat!(
    "SELECT (SELECT revision FROM tracker_revisions WHERE user_id = $2) AS revision, ",
    foreign_state_writes!()
);

/// An ingest commit's count of itself and its version, as it is about to commit: it counts
/// one write in its own row of `state_writes` (node `$1`, lane `$2`), and reads its
/// transaction's ID (which its state rows record) and the foreign state writes ([`Foreign`])
/// of all but its node, the count it publishes in the era of ([`Published::trust`]), so that
/// an era a counter change ended begins again with the writers' next commits, not the next
/// read.
pub(crate) const VERSION_AND_FOREIGN: &str = concat!(
    "WITH counted AS (INSERT INTO state_writes (node, lane, writes) VALUES ($1, $2, 1) \
     ON CONFLICT (node, lane) DO UPDATE SET writes = state_writes.writes + 1) \
     SELECT pg_current_xact_id()::text::bigint AS version, ",
    foreign_state_writes!()
);

/// What a commit takes after its writes and before it commits, and publishes with: its order
/// among this node's commits, and the era then.
///
/// Two commits that write the same row take their tickets in the order they commit it: the
/// later one writes the row only once the earlier has committed (the row is locked till
/// then), after the earlier took its ticket. So of two publishes of a tracker the one with
/// the later order is the row's, whichever reaches here first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    order: u64,
    era: u64,
}

/// A tracker a read asks for, and which published state of it will do.
pub(crate) type Wanted = (i64, At);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum At {
    /// Whatever is published (SQLite, whose one writer publishes).
    Any,
    /// Only a state committed at this version, the row's.
    Version(i64),
    /// Only a state committed in this era, begun by [`Published::trust`] at the foreign
    /// writes counted just now.
    Era(u64),
}

impl Published {
    /// What a commit records before it reads anything, and hands back to [`Published::commit`].
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// What a commit takes once it has written, before it commits, to publish with
    /// ([`Published::commit_at`]).
    pub fn ticket(&self) -> Ticket {
        let era = self.read().era;
        let order = self.order.fetch_add(1, Ordering::Relaxed) + 1;
        Ticket { order, era }
    }

    /// The era in which what this node's writers publish is their rows', given the foreign
    /// writes counted now: the current one while that count is the one it began at, else a
    /// new one.
    ///
    /// A state published in the era returned was committed after its ticket, so after the
    /// era began, so after `foreign` was counted: any write of its row by another that had
    /// committed by then came before it, and any since would have moved the count that the
    /// next read finds.
    pub fn trust(&self, foreign: Foreign) -> u64 {
        {
            let inner = self.read();
            if inner.trusted_at == Some(foreign) {
                return inner.era;
            }
        }
        let mut inner = self.write();
        if inner.trusted_at != Some(foreign) {
            inner.era += 1;
            inner.trusted_at = Some(foreign);
        }
        inner.era
    }

    /// Ends the era: what was published is taken only at its rows' versions until published
    /// again. For a commit of this node's writers that may have been made unpublished.
    pub fn distrust(&self) {
        let mut inner = self.write();
        inner.era += 1;
        inner.trusted_at = None;
    }

    /// Publishes what a commit wrote, once it is committed, but for trackers invalidated
    /// since it began at `began`.
    pub fn commit<'a>(
        &self,
        began: u64,
        states: impl IntoIterator<Item = (i64, &'a TrackerState)>,
        counters: impl IntoIterator<Item = (i64, &'a CounterState)>,
    ) {
        // SQLite's one writer publishes its commits in turn: its ticket may be taken now.
        let at = (0, self.ticket());
        let inner = &mut *self.write();
        let since = |id| inner.invalidated.get(&id).is_some_and(|&at| at > began);
        let copy = |s: &TrackerState| Arc::new(s.clone());
        publish(&mut inner.states, at, states, copy, &since);
        let copy = |s: &CounterState| Arc::new(s.clone());
        publish(&mut inner.counters, at, counters, copy, &since);
    }

    /// Publishes what a commit wrote at `version` (its rows' version) with the `ticket` it took
    /// before committing, once it is committed, taking the states over (nothing is copied on
    /// the writer's way). Whatever wrote the rows since has another version, so readers pass
    /// these by.
    pub fn commit_at(&self, version: i64, ticket: Ticket, written: Written) {
        let inner = &mut *self.write();
        let at = (version, ticket);
        publish(&mut inner.states, at, written.states, Arc::new, &|_| false);
        publish(&mut inner.counters, at, written.counters, Arc::new, &|_| {
            false
        });
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

/// `written` at `(version, ticket)` into `map` (each made shared by `share`, only if kept),
/// but for trackers `invalidated` since the commit began, those published already by a
/// commit of a later ticket, and no new tracker beyond `PUBLISHED`.
fn publish<S, W>(
    map: &mut HashMap<i64, Kept<S>>,
    (version, ticket): (i64, Ticket),
    written: impl IntoIterator<Item = (i64, W)>,
    share: impl Fn(W) -> Arc<S>,
    invalidated: &dyn Fn(i64) -> bool,
) {
    for (id, state) in written {
        if invalidated(id) {
            continue;
        }
        let kept = match map.get(&id) {
            Some(kept) if kept.ticket.order > ticket.order => continue,
            Some(_) => true,
            None => false,
        };
        if kept || map.len() < PUBLISHED {
            let state = share(state);
            map.insert(
                id,
                Kept {
                    version,
                    ticket,
                    state,
                },
            );
        }
    }
}

fn found<S>(map: &HashMap<i64, Kept<S>>, wanted: &[Wanted]) -> (HashMap<i64, Arc<S>>, Vec<i64>) {
    let mut out = HashMap::with_capacity(wanted.len());
    let mut missing = Vec::new();
    for &(id, at) in wanted {
        match map.get(&id) {
            Some(kept)
                if match at {
                    At::Any => true,
                    At::Version(v) => v == kept.version,
                    At::Era(era) => era == kept.ticket.era,
                } =>
            {
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
        ids.iter().map(|&id| (id, At::Any)).collect()
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
            p.ticket(),
            Written {
                states: vec![(1, state(10)), (2, state(20))],
                counters: vec![(1, counters.clone())],
            },
        );
        let (found, missing) = p.states(&[
            (1, At::Version(100)),
            (2, At::Version(105)),
            (3, At::Version(90)),
        ]);
        assert_eq!(found[&1].last_update, Some(10));
        assert_eq!(found.len(), 1);
        assert_eq!(
            missing,
            [2, 3],
            "written since by another transaction, or never published"
        );
        assert_eq!(p.counters(&[(1, At::Version(100))]).0.len(), 1);
        assert_eq!(p.counters(&[(1, At::Version(101))]).1, [1]);
        // A later commit of the same writer replaces it, at its own version.
        p.commit_at(
            110,
            p.ticket(),
            Written {
                states: vec![(2, state(30))],
                counters: Vec::new(),
            },
        );
        assert_eq!(
            p.states(&[(2, At::Version(110))]).0[&2].last_update,
            Some(30)
        );
        assert_eq!(p.states(&[(2, At::Version(105))]).1, [2]);
    }

    fn written(id: i64, last_update: i64) -> Written {
        Written {
            states: vec![(id, state(last_update))],
            counters: vec![(id, CounterState::default())],
        }
    }

    #[test]
    fn of_two_commits_of_a_tracker_the_later_ticket_stays_whichever_publishes_last() {
        let p = Published::default();
        let first = p.ticket();
        let second = p.ticket();
        p.commit_at(101, second, written(1, 20));
        p.commit_at(100, first, written(1, 10));
        assert_eq!(p.states(&any(&[1])).0[&1].last_update, Some(20));
        assert_eq!(p.states(&[(1, At::Version(101))]).1, Vec::<i64>::new());
        assert_eq!(p.counters(&[(1, At::Version(100))]).1, [1]);
        // A later ticket replaces it.
        p.commit_at(102, p.ticket(), written(1, 30));
        assert_eq!(p.states(&any(&[1])).0[&1].last_update, Some(30));
    }

    #[test]
    fn a_state_is_taken_by_era_only_if_its_ticket_came_after_the_count_it_began_at() {
        let p = Published::default();
        let quiet = Foreign {
            lanes: 4,
            elsewhere: 1,
        };
        // Committed before anything was counted: taken only at its row's version.
        p.commit_at(100, p.ticket(), written(1, 10));
        let era = p.trust(quiet);
        assert_eq!(p.states(&[(1, At::Era(era))]).1, [1]);
        assert_eq!(p.states(&[(1, At::Version(100))]).1, Vec::<i64>::new());
        // Committed in the era: taken while the count stays.
        p.commit_at(101, p.ticket(), written(2, 20));
        assert_eq!(p.trust(quiet), era, "the same count keeps the era");
        let (found, missing) = p.states(&[(1, At::Era(era)), (2, At::Era(era))]);
        assert_eq!(found[&2].last_update, Some(20));
        assert_eq!(missing, [1]);
        assert_eq!(p.counters(&[(2, At::Era(era))]).0.len(), 1);
        // A ticket taken before the count moved is of the old era, though published after.
        let before = p.ticket();
        for moved in [
            Foreign {
                lanes: 5,
                elsewhere: 1,
            },
            Foreign {
                lanes: 5,
                elsewhere: 2,
            },
        ] {
            let next = p.trust(moved);
            assert!(next > era, "another node's write, or one made elsewhere");
            assert_eq!(p.states(&[(2, At::Era(next))]).1, [2]);
        }
        p.commit_at(102, before, written(3, 30));
        let now = p.trust(Foreign {
            lanes: 5,
            elsewhere: 2,
        });
        assert_eq!(p.states(&[(3, At::Era(now))]).1, [3]);
        assert_eq!(p.states(&[(3, At::Version(102))]).0.len(), 1);
        p.commit_at(103, p.ticket(), written(3, 40));
        assert_eq!(p.states(&[(3, At::Era(now))]).0[&3].last_update, Some(40));
        // A commit that failed may have been made: nothing of before is taken by era, even
        // at the same count.
        p.distrust();
        let after = p.trust(Foreign {
            lanes: 5,
            elsewhere: 2,
        });
        assert!(after > now);
        assert_eq!(p.states(&[(3, At::Era(after))]).1, [3]);
        assert_eq!(p.states(&[(3, At::Version(103))]).0.len(), 1);
    }
}
