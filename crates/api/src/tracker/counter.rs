//! Counters (navixy-reference §5, docs/counters.md): `/tracker/counter/*` — a counter's
//! settings (`read`, `update`), its value (`value/get`, its 2020 name `value/read`,
//! `value/list`, `value/set`) and its recorded values (`data/read`, its deprecated name
//! `data/list`). `tracker/get_counters` lives here too, although its path is at the tracker
//! root, because it reads counters.
//!
//! The counting itself is `trackd_core::counter`, done by ingest; these calls read the stored
//! counter states and make the changes (`value/set`, `update`) the fold takes in order.
//!
//! A tracker the caller does not have (or has deleted) is 204, the counter pages' code. Reads
//! of a clone show the counters of the original tracker on its source (the clone has no data
//! of its own, like its sensors); `read`, `update` and `value/set` answer a clone 219.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Map, Value};
use trackd_core::counter::{Change, CounterState, CounterType};
use trackd_core::sensor::{Kind, SensorId};
use trackd_core::tracker::Tracker;
use trackd_core::TrackerId;
use trackd_store::StoreError;

use super::not_clone;
use super::sensor::owner;
use super::state::MAX_STATES;
use crate::params::Check;
use crate::track::{datetime, tracker, DAY_MS};
use crate::{ApiError, Ctx, Reply};

/// Navixy's fixed limit of `data/read`: a longer period is error 7 (not 211).
const MAX_DATA_DAYS: i64 = 31;

/// The `type` parameter: one of [`CounterType::ALL`].
fn counter_type(c: &mut Check<'_>) -> CounterType {
    let text = c.string("type");
    CounterType::parse(&text).unwrap_or_else(|| {
        // A missing `type` has already been named; this only adds an unknown one.
        c.fail(
            "type",
            "must be one of odometer, engine_hours, fuel_consumed",
        );
        CounterType::Odometer
    })
}

/// `tracker_id` and `type`, the parameters of most counter calls.
fn tracker_and_type(c: &mut Check<'_>) -> (i64, CounterType) {
    (c.int("tracker_id"), counter_type(c))
}

/// A required number of at least 0 (a multiplier, a value).
fn non_negative(c: &mut Check<'_>, name: &str) -> f64 {
    let n = c.float(name);
    if n < 0.0 {
        c.fail(name, "must not be negative");
    }
    n
}

/// The caller's tracker for a change: 204, 208, 219.
async fn writable(ctx: &Ctx, id: i64) -> Result<Tracker, ApiError> {
    let tracker = tracker(ctx, id).await?;
    not_clone(&tracker)?;
    Ok(tracker)
}

/// The counter state `tracker` reads (its original's for a clone); an empty one before any
/// data or counter.
async fn state_of(ctx: &Ctx, tracker: &Tracker) -> Result<CounterState, ApiError> {
    let owner = owner(ctx, tracker).await?;
    let mut states = ctx.store().counter_states(&[owner]).await?;
    Ok(states.remove(&owner).unwrap_or_default())
}

/// The value of one counter: `None` while it does not exist or has no value.
fn value(state: &CounterState, counter_type: CounterType) -> Option<f64> {
    state.reading(counter_type).current().map(|(v, _)| v)
}

/// The counter value objects of a state (`get_counters`, `readings/list`): the counters that
/// have a value, in [`CounterType::ALL`] order.
pub(crate) fn counter_values(ctx: &Ctx, state: &CounterState) -> Vec<Value> {
    CounterType::ALL
        .into_iter()
        .filter_map(|t| {
            let (value, at) = state.reading(t).current()?;
            Some(json!({"type": t.as_str(), "value": value, "update_time": ctx.time.format(at)}))
        })
        .collect()
}

/// Applies a change: a tracker deleted meanwhile is 204 like one never had.
async fn change(
    ctx: &Ctx,
    tracker: &Tracker,
    counter_type: CounterType,
    change: Change,
) -> Result<(), ApiError> {
    ctx.store()
        .change_counter(
            tracker.id,
            counter_type,
            &change,
            ctx.now(),
            &ctx.state.counter_config,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::new(204),
            other => other.into(),
        })?;
    Ok(())
}

/// `tracker/counter/read`: the counter's settings; 204 when it does not exist.
pub async fn read(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let (id, counter_type) = tracker_and_type(&mut c);
    c.done()?;
    let tracker = writable(&ctx, id).await?;
    let counter = ctx
        .store()
        .counters(tracker.id)
        .await?
        .into_iter()
        .find(|k| k.counter_type == counter_type)
        .ok_or_else(|| ApiError::new(204))?;
    Ok(Reply::ok().with(
        "value",
        json!({"id": counter.id, "type": counter_type.as_str(), "multiplier": counter.multiplier}),
    ))
}

/// Why `sensor_id` cannot be the odometer's source, or `None` when it can: it must be a
/// metering sensor of the tracker itself.
async fn bad_source(
    ctx: &Ctx,
    tracker: &Tracker,
    sensor_id: SensorId,
) -> Result<Option<&'static str>, ApiError> {
    if let Some(sensor) = ctx.store().sensor(tracker.id, sensor_id).await? {
        return Ok(match sensor.def.kind {
            Kind::Metering(_) => None,
            _ => Some("must be a metering sensor"),
        });
    }
    // Not the tracker's: another of the account's trackers', or none the caller may know of.
    let account: Vec<TrackerId> = ctx
        .store()
        .trackers(ctx.account()?)
        .await?
        .iter()
        .map(|t| t.id)
        .collect();
    let elsewhere = ctx
        .store()
        .sensors_of(&account)
        .await?
        .iter()
        .any(|s| s.id == sensor_id);
    Ok(Some(if elsewhere {
        "sensor belongs to another tracker"
    } else {
        "sensor not found"
    }))
}

/// `tracker/counter/update` (right `tracker_update`): a new multiplier for the increments
/// counted from now on and, for the odometer, a metering sensor as its source (`sensor_id`
/// null or left out: GPS distance). Creates the counter. The multiplier must be a number
/// of at least 0 (inference: a negative one would make a counter run backwards).
pub async fn update(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let (id, counter_type) = tracker_and_type(&mut c);
    let multiplier = non_negative(&mut c, "multiplier");
    let sensor_id = c.opt_int("sensor_id");
    match sensor_id {
        Some(s) if s < 0 => c.fail("sensor_id", "must not be negative"),
        Some(_) if c.ok() && counter_type != CounterType::Odometer => {
            c.fail("sensor_id", "must be null unless type is odometer");
        }
        _ => {}
    }
    c.done()?;
    let tracker = writable(&ctx, id).await?;
    let sensor_id = sensor_id.map(SensorId);
    if let Some(sensor) = sensor_id {
        if let Some(error) = bad_source(&ctx, &tracker, sensor).await? {
            return Err(ApiError::invalid_param("sensor_id", error));
        }
    }
    let update = Change::Update {
        multiplier,
        sensor_id,
    };
    change(&ctx, &tracker, counter_type, update).await?;
    Ok(Reply::ok())
}

/// `tracker/get_counters`: the tracker's counters that have a value.
pub async fn get_counters(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    c.done()?;
    let tracker = tracker(&ctx, id).await?;
    let state = state_of(&ctx, &tracker).await?;
    Ok(Reply::ok()
        .with("user_time", ctx.time.format(ctx.now()))
        .with("list", counter_values(&ctx, &state)))
}

/// `tracker/counter/value/get` (and `value/read`): 204 also while the counter does not exist
/// or has no value yet.
pub async fn value_get(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let (id, counter_type) = tracker_and_type(&mut c);
    c.done()?;
    let tracker = tracker(&ctx, id).await?;
    let state = state_of(&ctx, &tracker).await?;
    let value = value(&state, counter_type).ok_or_else(|| ApiError::new(204))?;
    Ok(Reply::ok().with("value", value))
}

/// `tracker/counter/value/list` (`trackers`, `type`): the value of each tracker's counter, by
/// tracker ID. 217 when a tracker is missing, deleted or blocked; 204 when one's counter does
/// not exist or has no value; at most as many trackers as `get_states` takes (error 7). One
/// read whatever the number of trackers, the trackers with their counter states (plus, for
/// clones, finding their originals and reading theirs).
pub async fn value_list(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let ids = c.int_array("trackers");
    let counter_type = counter_type(&mut c);
    if ids.len() > MAX_STATES {
        c.fail(
            "trackers",
            format!("size must be between 0 and {MAX_STATES}"),
        );
    }
    c.done()?;
    let wanted: Vec<TrackerId> = ids
        .into_iter()
        .collect::<BTreeSet<i64>>()
        .into_iter()
        .map(TrackerId)
        .collect();
    let rows = ctx
        .store()
        .tracker_counters(ctx.account()?, &wanted)
        .await?;
    let live = rows
        .iter()
        .filter(|(t, _)| !t.deleted && !t.source.blocked)
        .count();
    if live != wanted.len() {
        return Err(ApiError::new(217));
    }
    // A clone reads its original's counters: one more read for those only.
    let mut original_of = HashMap::new();
    for (tracker, _) in rows.iter().filter(|(t, _)| t.clone) {
        original_of.insert(tracker.id, owner(&ctx, tracker).await?);
    }
    let of_originals = if original_of.is_empty() {
        HashMap::new()
    } else {
        let originals: Vec<TrackerId> = original_of.values().copied().collect();
        ctx.store().counter_states(&originals).await?
    };
    let mut values = Map::new();
    for (tracker, state) in &rows {
        let state = match original_of.get(&tracker.id) {
            Some(original) => of_originals.get(original),
            None => state.as_deref(),
        };
        let value = state
            .and_then(|s| value(s, counter_type))
            .ok_or_else(|| ApiError::new(204))?;
        values.insert(tracker.id.0.to_string(), json!(value));
    }
    Ok(Reply::ok().with("value", values))
}

/// `tracker/counter/value/set` (right `tracker_update`): the counter's value from now on
/// (server time); records after it add to it. Creates the counter. The value must be a
/// number of at least 0 (Navixy's UI takes 0 to 99,999,999).
pub async fn value_set(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let (id, counter_type) = tracker_and_type(&mut c);
    let value = non_negative(&mut c, "value");
    c.done()?;
    let tracker = writable(&ctx, id).await?;
    change(&ctx, &tracker, counter_type, Change::Set { value }).await?;
    Ok(Reply::ok())
}

/// `tracker/counter/data/read` (and the deprecated `data/list`): the counter's recorded
/// values with `from <= update_time <= to`, oldest first, one per history interval
/// (docs/counters.md). 7 when `from` is after `to` or the period is longer than 31 days; 204
/// for a tracker or counter the caller does not have; 208 blocked; 211 for a period longer
/// than `api.max_counter_data_days`.
pub async fn data_read(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let (id, counter_type) = tracker_and_type(&mut c);
    let from = datetime(&mut c, &ctx, "from");
    let to = datetime(&mut c, &ctx, "to");
    if c.ok() && from > to {
        c.fail("to", "must not be before from");
    } else if c.ok() && to.saturating_sub(from) > MAX_DATA_DAYS * DAY_MS {
        c.fail("to", format!("must be within {MAX_DATA_DAYS} days of from"));
    }
    c.done()?;
    let tracker = tracker(&ctx, id).await?;
    let owner = owner(&ctx, &tracker).await?;
    let exists = ctx
        .store()
        .counters(owner)
        .await?
        .iter()
        .any(|k| k.counter_type == counter_type);
    if !exists {
        return Err(ApiError::new(204));
    }
    let max = i64::from(ctx.state.config.max_counter_data_days).saturating_mul(DAY_MS);
    if to.saturating_sub(from) > max {
        return Err(ApiError::new(211));
    }
    let list: Vec<Value> = ctx
        .store()
        .counter_history(owner, counter_type, from, to)
        .await?
        .into_iter()
        .map(|(at, value)| json!({"value": value, "update_time": ctx.time.format(at)}))
        .collect();
    Ok(Reply::ok().with("list", list))
}
