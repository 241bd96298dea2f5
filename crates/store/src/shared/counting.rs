//! How a batch is counted (DESIGN §3), per tracker, over any `IngestTx`.
//!
//! If all its points are newer than the last item the stored state folded, they fold onto it
//! (the common case: one read and one write of the state row, and a history row when a bucket
//! closes). Otherwise some point is late: the fold restarts from the last history checkpoint
//! before it, over the stored points and changes after the checkpoint (the batch's are
//! already inserted), and rewrites the history it passes. A counter change dated before the
//! last folded item does the same (`Counters::change_counter`).

use std::collections::HashMap;

use trackd_core::counter::{CounterConfig, CounterState, Event, HistoryRow, Item, Sources};
use trackd_core::point::Point;

use super::ingest::{HistoryEntry, IngestTx};
use crate::{EncodedPoint, Result, StoreError};

/// A tracker's fold after counting, to be written.
pub(crate) struct Counted {
    pub tracker: i64,
    pub state: CounterState,
    pub rows: Vec<HistoryRow>,
}

pub(crate) fn to_json<T: serde::Serialize>(tracker: i64, what: &T) -> Result<String> {
    serde_json::to_string(what)
        .map_err(|e| StoreError::Invalid(format!("counters of tracker {tracker}: {e}")))
}

/// A stored fold. One that no longer parses is refolded from history rather than refused:
/// refusing it would fail every batch of the tracker forever.
pub(crate) fn parse_counter_state(tracker: i64, text: &str) -> Option<CounterState> {
    serde_json::from_str(text)
        .map_err(|e| {
            tracing::warn!(tracker, error = %e, "unreadable counter state; refolding");
        })
        .ok()
}

/// Two sorted runs of items as one, in fold order.
fn merge<'a>(points: &'a [Point], events: &'a [Event]) -> Vec<Item<'a>> {
    let mut items: Vec<Item<'a>> = points
        .iter()
        .map(Item::Point)
        .chain(events.iter().map(Item::Event))
        .collect();
    items.sort_by_key(|i| i.key());
    items
}

/// Counts a batch's points (sorted by tracker and time, already inserted) into their
/// trackers' counters, inside the batch's transaction. `ids` are the trackers of `sorted`.
pub(crate) async fn count<T: IngestTx>(
    tx: &mut T,
    sorted: &[&EncodedPoint],
    ids: &[i64],
    config: &CounterConfig,
) -> Result<()> {
    let mut states = tx.counter_states(ids).await?;
    let sources = sources(tx, ids).await?;
    let none = Sources::default();
    let mut out = Vec::with_capacity(ids.len());
    for group in sorted.chunk_by(|a, b| a.tracker_id == b.tracker_id) {
        let id = group[0].tracker_id.0;
        let src = sources.get(&id).unwrap_or(&none);
        let first = Item::Point(group[0]).key();
        let counted = match states.remove(&id) {
            // A tracker's first points, or all newer than the fold.
            None => fold_onto(id, CounterState::default(), group, src, config),
            Some(Some(state)) if first > state.last => fold_onto(id, state, group, src, config),
            Some(Some(state)) => {
                // Records too far behind the fold are stored, not counted: a refold costs the
                // history after its start, and a clock gone wrong (a GPS week rollover dates
                // records 19.6 years back) would otherwise refold everything on every batch.
                let oldest = state
                    .time()
                    .map_or(i64::MIN, |t| t.saturating_sub(config.max_late_ms()));
                match group.iter().find(|p| p.time >= oldest) {
                    Some(p) if Item::Point(p).key() > state.last => {
                        fold_onto(id, state, group, src, config)
                    }
                    Some(p) => refold(tx, id, p.time, src, config).await?,
                    None => Counted {
                        tracker: id,
                        state,
                        rows: Vec::new(),
                    },
                }
            }
            // A fold that no longer reads: rebuilt from history.
            Some(None) => refold(tx, id, first.0, src, config).await?,
        };
        out.push(counted);
    }
    save_counted(tx, out).await
}

fn fold_onto(
    tracker: i64,
    mut state: CounterState,
    points: &[&EncodedPoint],
    sources: &Sources,
    config: &CounterConfig,
) -> Counted {
    let rows = state.fold(points.iter().map(|p| Item::Point(p)), sources, config);
    Counted {
        tracker,
        state,
        rows,
    }
}

/// Folds the tracker's items again from the last checkpoint before `time`.
pub(crate) async fn refold<T: IngestTx>(
    tx: &mut T,
    tracker: i64,
    time: i64,
    sources: &Sources,
    config: &CounterConfig,
) -> Result<Counted> {
    let start = tx
        .checkpoint_before(tracker, time)
        .await?
        .and_then(|text| parse_counter_state(tracker, &text));
    let mut state = start.unwrap_or_default();
    let after = state.time().unwrap_or(i64::MIN);
    let points = tx.points_after(tracker, after).await?;
    let events = tx.events_from(tracker, after).await?;
    let rows = state.fold(merge(&points, &events), sources, config);
    Ok(Counted {
        tracker,
        state,
        rows,
    })
}

/// The counter sources of these trackers that have sensors.
pub(crate) async fn sources<T: IngestTx>(tx: &mut T, ids: &[i64]) -> Result<HashMap<i64, Sources>> {
    let sensors = tx.sensors(ids).await?;
    Ok(sensors
        .chunk_by(|a, b| a.tracker_id == b.tracker_id)
        .map(|own| (own[0].tracker_id.0, Sources::of(own)))
        .collect())
}

/// Writes the folds and the history rows they produced.
pub(crate) async fn save_counted<T: IngestTx>(tx: &mut T, counted: Vec<Counted>) -> Result<()> {
    let mut history = Vec::new();
    for c in &counted {
        for row in &c.rows {
            history.push(HistoryEntry {
                tracker: c.tracker,
                row,
                state: to_json(c.tracker, &row.state)?,
            });
        }
    }
    if !history.is_empty() {
        tx.put_history(&history).await?;
    }
    drop(history);
    let states = counted
        .into_iter()
        .map(|c| {
            let json = to_json(c.tracker, &c.state)?;
            Ok((c.tracker, c.state, json))
        })
        .collect::<Result<_>>()?;
    tx.put_counter_states(states).await
}
