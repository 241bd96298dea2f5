//! `/tracker/sensor/calibration_data/*`: the table that maps a metering sensor's divided raw
//! value to its quantity. Only metering sensors have one (228 for the others); see
//! `trackd_core::sensor::calibrate` for how it is applied.

use serde_json::{json, Value};
use trackd_core::sensor::{parse_calibration, Sensor, SensorId};

use super::{owner, writable};
use crate::tracker::{find, not_blocked};
use crate::{ApiError, Ctx, Reply};

/// The sensor, if the tracker has it (201) and it can be calibrated (228).
async fn calibratable(
    ctx: &Ctx,
    tracker: trackd_core::TrackerId,
    id: i64,
) -> Result<Sensor, ApiError> {
    let sensor = ctx
        .store()
        .sensor(tracker, SensorId(id))
        .await?
        .ok_or_else(|| ApiError::new(201))?;
    if !sensor.def.supports_calibration() {
        return Err(ApiError::new(228));
    }
    Ok(sensor)
}

/// `calibration_data/read`: the table sorted by `in`, empty when there is none.
pub async fn read(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let sensor_id = c.int("sensor_id");
    c.done()?;
    let tracker = find(&ctx, id).await?;
    not_blocked(&tracker)?;
    let sensor = calibratable(&ctx, owner(&ctx, &tracker).await?, sensor_id).await?;
    let value: Vec<Value> = sensor
        .calibration
        .iter()
        .map(|p| json!({"in": p.input, "out": p.output}))
        .collect();
    Ok(Reply::ok().with("value", value))
}

/// `calibration_data/update`: replaces the table; `data` is an array of `{"in", "out"}` with no
/// `in` twice, in any order; an empty array removes the calibration.
pub async fn update(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let sensor_id = c.int("sensor_id");
    let items = c.array("data");
    let points = match parse_calibration(&items) {
        Ok(points) => points,
        Err(msg) => {
            c.fail("data", msg);
            Vec::new()
        }
    };
    c.done()?;
    let tracker = writable(&ctx, id).await?;
    calibratable(&ctx, tracker.id, sensor_id).await?;
    ctx.store()
        .set_calibration(tracker.id, SensorId(sensor_id), &points)
        .await?;
    Ok(Reply::ok())
}
