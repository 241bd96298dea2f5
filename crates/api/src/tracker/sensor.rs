//! `/tracker/sensor/*` (navixy-reference §7): a tracker's metering, discrete and virtual
//! sensors. Calibration tables are in `sensor/calibration.rs`.
//!
//! A clone shows the sensors of the original tracker on its source and cannot change them
//! (219): the sensors describe the device's wiring, which the clone shares.

pub mod calibration;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use trackd_core::sensor::{self, input_names, Sensor, SensorDef, SensorId};
use trackd_core::tracker::Tracker;
use trackd_core::TrackerId;

use super::{find, not_blocked, not_clone};
use crate::params::{as_int, Check};
use crate::{ApiError, Ctx, Reply};

/// Trackers one batch call may name (Navixy: "limited to a maximum of 500"); more is 221.
pub const MAX_BATCH: usize = 500;

/// The tracker whose sensors `tracker` has: its own, or for a clone the original's.
pub async fn owner(ctx: &Ctx, tracker: &Tracker) -> Result<TrackerId, ApiError> {
    if !tracker.clone {
        return Ok(tracker.id);
    }
    let on_source = ctx
        .store()
        .trackers_by_device_id(&tracker.source.device_id)
        .await?;
    Ok(on_source
        .iter()
        .find(|t| !t.clone && t.source.id == tracker.source.id)
        .map_or(tracker.id, |t| t.id))
}

/// The sensors of each of `trackers`, in order (a clone's are its original's), read in one
/// query: each tracker's ID, its [`owner`] and the owner's sensors.
pub(crate) async fn sensors_of_each(
    ctx: &Ctx,
    trackers: &[Tracker],
) -> Result<Vec<(TrackerId, TrackerId, Vec<Sensor>)>, ApiError> {
    let mut owners = Vec::with_capacity(trackers.len());
    for t in trackers {
        owners.push((t.id, owner(ctx, t).await?));
    }
    let wanted: Vec<TrackerId> = owners
        .iter()
        .map(|(_, o)| *o)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut sensors: HashMap<TrackerId, Vec<Sensor>> = HashMap::new();
    for s in ctx.store().sensors_of(&wanted).await? {
        sensors.entry(s.tracker_id).or_default().push(s);
    }
    Ok(owners
        .into_iter()
        .map(|(id, o)| (id, o, sensors.get(&o).cloned().unwrap_or_default()))
        .collect())
}

/// The caller's tracker, for a change to its sensors: 201, 208, 219.
pub(crate) async fn writable(ctx: &Ctx, id: i64) -> Result<Tracker, ApiError> {
    let tracker = find(ctx, id).await?;
    not_blocked(&tracker)?;
    not_clone(&tracker)?;
    Ok(tracker)
}

/// The caller's trackers a batch call names, in order: 221 for more than [`MAX_BATCH`], 217
/// for one that is missing or blocked.
pub(crate) async fn listed(ctx: &Ctx, ids: &[i64]) -> Result<Vec<Tracker>, ApiError> {
    if ids.len() > MAX_BATCH {
        return Err(ApiError::new(221));
    }
    let trackers = ctx.store().trackers(ctx.account()?).await?;
    let by_id: HashMap<i64, &Tracker> = trackers.iter().map(|t| (t.id.0, &**t)).collect();
    ids.iter()
        .map(|id| match by_id.get(id) {
            Some(t) if !t.source.blocked => Ok((*t).clone()),
            _ => Err(ApiError::new(217)),
        })
        .collect()
}

fn render(sensors: &[Sensor]) -> Value {
    Value::Array(sensors.iter().map(Sensor::to_json).collect())
}

/// Reads the `sensor` object into `c`'s errors, each bad field as `sensor.<field>`.
fn read_sensor(c: &mut Check<'_>, present: bool) -> Option<(Map<String, Value>, SensorDef)> {
    let obj = c.opt_object("sensor");
    if obj.is_none() && !present {
        c.fail("sensor", "must not be null");
    }
    let obj = obj?;
    match SensorDef::parse(&obj, "sensor") {
        Ok(def) => Some((obj, def)),
        Err(errors) => {
            for e in errors {
                c.fail(&e.field, e.error);
            }
            None
        }
    }
}

/// 232 or 270 when `def` cannot join the tracker's `others`.
fn fits(def: &SensorDef, others: &[Sensor]) -> Result<(), ApiError> {
    sensor::check_against(def, others).map_err(|conflict| match conflict {
        sensor::Conflict::InputInUse => ApiError::new(232),
        sensor::Conflict::TooMany => ApiError::new(270),
    })
}

/// `tracker/sensor/list`.
pub async fn list(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    c.done()?;
    let tracker = find(&ctx, id).await?;
    not_blocked(&tracker)?;
    let sensors = ctx.store().sensors(owner(&ctx, &tracker).await?).await?;
    Ok(Reply::ok().with("list", render(&sensors)))
}

/// `tracker/sensor/batch_list`: every tracker named, each with its (possibly empty) list.
/// A tracker that is missing or blocked is 217.
pub async fn batch_list(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let ids = c.int_array("trackers");
    c.done()?;
    let trackers = listed(&ctx, &ids).await?;
    let result: Map<String, Value> = sensors_of_each(&ctx, &trackers)
        .await?
        .into_iter()
        .map(|(id, _, list)| (id.0.to_string(), render(&list)))
        .collect();
    Ok(Reply::ok().with("result", Value::Object(result)))
}

/// `tracker/sensor/create`: an `id` in the object is ignored (Navixy's own example sends one).
pub async fn create(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let sensor = read_sensor(&mut c, ctx.params.get("sensor").is_some());
    c.done()?;
    let (_, def) = sensor.ok_or_else(|| ApiError::invalid_param("sensor", "must be an object"))?;
    let tracker = writable(&ctx, id).await?;
    fits(&def, &ctx.store().sensors(tracker.id).await?)?;
    let sensor_id = ctx.store().create_sensor(tracker.id, &def).await?;
    Ok(Reply::ok().with("id", sensor_id.0))
}

/// `tracker/sensor/update`: the object's `id` names the sensor. A sensor keeps its `type`
/// (its calibration and history mean nothing to another kind): delete and create instead.
pub async fn update(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let sensor = read_sensor(&mut c, ctx.params.get("sensor").is_some());
    let sensor_id = sensor.as_ref().and_then(|(obj, _)| match obj.get("id") {
        None | Some(Value::Null) => {
            c.fail("sensor.id", "must not be null");
            None
        }
        Some(v) => as_int(v).map_err(|e| c.fail("sensor.id", e)).ok(),
    });
    c.done()?;
    let (Some((_, def)), Some(sensor_id)) = (sensor, sensor_id) else {
        return Err(ApiError::invalid_param("sensor", "must be an object"));
    };
    let tracker = writable(&ctx, id).await?;
    let (current, others): (Vec<Sensor>, Vec<Sensor>) = ctx
        .store()
        .sensors(tracker.id)
        .await?
        .into_iter()
        .partition(|s| s.id == SensorId(sensor_id));
    let current = current.first().ok_or_else(|| ApiError::new(201))?;
    if current.def.kind_name() != def.kind_name() {
        return Err(ApiError::invalid_param("sensor.type", "must not change"));
    }
    fits(&def, &others)?;
    ctx.store()
        .update_sensor(tracker.id, current.id, &def)
        .await?;
    Ok(Reply::ok())
}

/// `tracker/sensor/delete`.
pub async fn delete(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let sensor_id = c.int("sensor_id");
    c.done()?;
    let tracker = writable(&ctx, id).await?;
    ctx.store()
        .delete_sensor(tracker.id, SensorId(sensor_id))
        .await?;
    Ok(Reply::ok())
}

/// `tracker/sensor/batch_copy`: the targets' sensors are replaced by copies of the base's,
/// calibration included, in one transaction. The base must be readable (201, 208); each target
/// must be the caller's and not blocked (217), not a clone (219), and of the base's model
/// (272). The base among the targets is left as it is.
pub async fn batch_copy(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let base_id = c.int("base_tracker_id");
    let ids = c.int_array("trackers");
    c.done()?;
    let listed = listed(&ctx, &ids).await?;
    let base = find(&ctx, base_id).await?;
    not_blocked(&base)?;
    let from = owner(&ctx, &base).await?;
    let mut targets = Vec::with_capacity(listed.len());
    for target in &listed {
        not_clone(target)?;
        if target.source.model != base.source.model {
            return Err(ApiError::new(272));
        }
        targets.push(target.id);
    }
    ctx.store().copy_sensors(from, &targets).await?;
    Ok(Reply::ok())
}

/// `tracker/sensor/input_name/list`: every input name with its description.
pub async fn input_name_list(_ctx: Ctx) -> Result<Reply, ApiError> {
    let list: Vec<Value> = input_names()
        .iter()
        .map(|n| serde_json::json!({"input_name": n.input_name, "description": n.description}))
        .collect();
    Ok(Reply::ok().with("list", list))
}
