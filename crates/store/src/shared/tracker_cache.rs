//! The accounts' trackers kept in memory for the API's reads of many trackers at once
//! (`get_states` of 2,000, `counter/value/list` of 1,000), which otherwise read every
//! tracker's 23 columns on each call. An account's trackers are kept with the revision
//! (`tracker_revisions`, counted up by triggers in every transaction that changes the account's
//! trackers or their sources) read before they were; a reader checks that one row and uses the
//! kept trackers only while it is unchanged. So nothing read from here is older than the
//! tables at the time of that check, whoever wrote them (the admin command in another process,
//! another node on PostgreSQL).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use trackd_core::tracker::Tracker;
use trackd_core::UserId;

/// Most trackers kept, over all accounts; the accounts used longest ago make room. About
/// 0.5 KiB each.
const CAPACITY: usize = 50_000;

/// An account's trackers, deleted ones included, by ID.
pub(crate) type AccountTrackers = Arc<[Arc<Tracker>]>;

#[derive(Default)]
pub(crate) struct TrackerCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    accounts: HashMap<UserId, Kept>,
    /// Trackers kept over all accounts.
    size: usize,
    /// Counts up at each use, to find the account used longest ago.
    clock: u64,
}

struct Kept {
    revision: i64,
    trackers: AccountTrackers,
    used: u64,
}

impl TrackerCache {
    /// The account's trackers if they were kept at `revision`.
    pub fn get(&self, account: UserId, revision: i64) -> Option<AccountTrackers> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let kept = inner.accounts.get_mut(&account)?;
        if kept.revision != revision {
            return None;
        }
        kept.used = now;
        Some(Arc::clone(&kept.trackers))
    }

    /// Keeps the account's trackers (all of them, by ID), read after `revision` was: if the
    /// tables changed in between, the revision has moved on and they are read again.
    pub fn put(&self, account: UserId, revision: i64, trackers: Vec<Tracker>) -> AccountTrackers {
        let trackers: AccountTrackers = trackers.into_iter().map(Arc::new).collect();
        let mut inner = self.lock();
        if let Some(old) = inner.accounts.remove(&account) {
            inner.size -= old.trackers.len();
        }
        if trackers.len() > CAPACITY {
            return trackers;
        }
        while inner.size + trackers.len() > CAPACITY {
            let Some(oldest) = inner
                .accounts
                .iter()
                .min_by_key(|(_, k)| k.used)
                .map(|(id, _)| *id)
            else {
                break;
            };
            if let Some(old) = inner.accounts.remove(&oldest) {
                inner.size -= old.trackers.len();
            }
        }
        inner.clock += 1;
        let used = inner.clock;
        inner.size += trackers.len();
        inner.accounts.insert(
            account,
            Kept {
                revision,
                trackers: Arc::clone(&trackers),
                used,
            },
        );
        trackers
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change to `Inner` leaves it whole before the next can panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The trackers of `all` (an account's, by ID) that a read asks for: the live ones when `ids`
/// is `None`, else those of `ids` (deleted ones included), by ID.
pub(crate) fn select(
    all: &[Arc<Tracker>],
    ids: Option<&[trackd_core::TrackerId]>,
) -> Vec<Arc<Tracker>> {
    match ids {
        None => all.iter().filter(|t| !t.deleted).cloned().collect(),
        Some(ids) => {
            let mut wanted: Vec<_> = ids
                .iter()
                .filter_map(|id| all.binary_search_by_key(id, |t| t.id).ok())
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            wanted
                .into_iter()
                .filter_map(|i| all.get(i).cloned())
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trackd_core::tracker::Source;
    use trackd_core::{GroupId, SourceId, TrackerId};

    fn tracker(id: i64, deleted: bool) -> Tracker {
        Tracker {
            id: TrackerId(id),
            user_id: UserId(1),
            label: format!("tracker {id}"),
            group_id: GroupId(0),
            clone: false,
            deleted,
            avatar_file_name: None,
            source: Source {
                id: SourceId(id),
                device_id: id.to_string(),
                model: "telfmb920".into(),
                phone: None,
                apn_name: None,
                apn_user: None,
                apn_password: None,
                blocked: false,
                tariff_id: None,
                tariff_end_date: None,
                status_listing_id: None,
                creation_date: "2026-01-01".into(),
                corrupted: false,
                register_commands_pending: false,
                replaced_at: None,
            },
            tag_bindings: Vec::new(),
        }
    }

    fn ids(trackers: &[Arc<Tracker>]) -> Vec<i64> {
        trackers.iter().map(|t| t.id.0).collect()
    }

    #[test]
    fn kept_trackers_serve_only_their_revision() {
        let cache = TrackerCache::default();
        let alice = UserId(1);
        assert!(cache.get(alice, 0).is_none());
        cache.put(alice, 3, vec![tracker(1, false), tracker(2, false)]);
        assert_eq!(ids(&cache.get(alice, 3).unwrap()), [1, 2]);
        assert!(
            cache.get(alice, 4).is_none(),
            "a later revision reads again"
        );
        assert!(
            cache.get(UserId(2), 3).is_none(),
            "another account's are not these"
        );
        cache.put(alice, 4, vec![tracker(1, false)]);
        assert_eq!(ids(&cache.get(alice, 4).unwrap()), [1]);
        assert!(cache.get(alice, 3).is_none());
    }

    #[test]
    fn the_account_used_longest_ago_makes_room() {
        let cache = TrackerCache::default();
        let many = |first: i64, n: usize| -> Vec<Tracker> {
            (0..n as i64).map(|i| tracker(first + i, false)).collect()
        };
        cache.put(UserId(1), 1, many(0, CAPACITY / 2));
        cache.put(UserId(2), 1, many(1_000_000, CAPACITY / 2));
        assert!(
            cache.get(UserId(1), 1).is_some(),
            "account 2 is now the one used longest ago"
        );
        cache.put(UserId(3), 1, many(2_000_000, 10));
        assert!(cache.get(UserId(2), 1).is_none());
        assert!(cache.get(UserId(1), 1).is_some());
        assert!(cache.get(UserId(3), 1).is_some());
        let too_many = cache.put(UserId(4), 1, many(3_000_000, CAPACITY + 1));
        assert_eq!(too_many.len(), CAPACITY + 1, "answered, not kept");
        assert!(cache.get(UserId(4), 1).is_none());
        assert!(
            cache.get(UserId(1), 1).is_some(),
            "nothing made room for it"
        );
    }

    #[test]
    fn a_read_selects_live_trackers_or_the_named_ones() {
        let all: Vec<Arc<Tracker>> = [(1, false), (2, true), (5, false), (9, false)]
            .into_iter()
            .map(|(id, deleted)| Arc::new(tracker(id, deleted)))
            .collect();
        assert_eq!(ids(&select(&all, None)), [1, 5, 9]);
        let named = [9, 2, 3, 9, 1].map(TrackerId);
        assert_eq!(ids(&select(&all, Some(&named))), [1, 2, 9]);
        assert!(select(&all, Some(&[])).is_empty());
    }
}
