//! `/track/*`: a tracker's history as trips (`track/list`) and as points (`track/read`),
//! built on the fly from the stored points by the rules of docs/state.md ("History").

use serde::Serialize;
use serde_json::{json, Value};
use trackd_core::point::Point;
use trackd_core::track::{self, Trip};
use trackd_core::tracker::Tracker;
use trackd_core::TrackerId;

use crate::params::Check;
use crate::{ApiError, Ctx, Reply};

/// Most points one call reads. A longer history is cut there and the answer says
/// `limit_exceeded`, the flag Navixy raises when it clips a period.
pub(crate) const MAX_POINTS: u32 = 100_000;

pub(crate) const DAY_MS: i64 = 24 * 3_600_000;

/// A required date/time parameter, in the user's zone or ISO 8601.
pub(crate) fn datetime(c: &mut Check<'_>, ctx: &Ctx, name: &str) -> i64 {
    let text = c.string(name);
    ctx.time.parse(&text).unwrap_or_else(|| {
        // A missing parameter has already been named; this only adds a bad one.
        c.fail(name, "must be a date/time as yyyy-MM-dd HH:mm:ss");
        0
    })
}

/// The period asked for: `to` after `from`, at most `max_track_days` long (211 beyond).
fn period(c: &mut Check<'_>, ctx: &Ctx) -> (i64, i64) {
    let from = datetime(c, ctx, "from");
    let to = datetime(c, ctx, "to");
    if c.ok() && to <= from {
        c.fail("to", "must be after from");
    }
    (from, to)
}

fn check_span(ctx: &Ctx, from: i64, to: i64) -> Result<(), ApiError> {
    let max = i64::from(ctx.state.config.max_track_days).saturating_mul(DAY_MS);
    if to.saturating_sub(from) > max {
        return Err(ApiError::new(211));
    }
    Ok(())
}

/// The caller's tracker: 204 when it has none by that ID (the code of the track and counter
/// pages), 208 when it is blocked.
pub(crate) async fn tracker(ctx: &Ctx, id: i64) -> Result<Tracker, ApiError> {
    let tracker = ctx
        .store()
        .tracker(ctx.account()?, TrackerId(id))
        .await?
        .ok_or_else(|| ApiError::new(204))?;
    crate::tracker::not_blocked(&tracker)?;
    Ok(tracker)
}

/// The stored points of the period and whether the read was cut at [`MAX_POINTS`].
async fn history(
    ctx: &Ctx,
    tracker: &Tracker,
    from: i64,
    to: i64,
) -> Result<(Vec<Point>, bool), ApiError> {
    let points = ctx
        .store()
        .track_points(tracker.id, from, to, MAX_POINTS)
        .await?;
    let cut = points.len() >= MAX_POINTS as usize;
    Ok((points, cut))
}

/// A track's ID: the second it starts, which names it again in `track/read`.
fn trip_id(trip: &Trip) -> i64 {
    trip.start_time.div_euclid(1000)
}

fn whole(v: Option<f64>) -> i64 {
    v.map_or(0, |v| v.round() as i64)
}

/// `track/list`: trips between parkings, oldest first, as `regular` tracks. No address
/// lookup (addresses are empty) and no single-report tracks: a run without movement is no
/// track.
pub async fn list(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let (from, to) = period(&mut c, &ctx);
    let filter = c.bool_or("filter", true);
    let split = c.bool_or("split", true);
    let include_lbs = c.bool_or("include_gsm_lbs", true);
    // Accepted for compatibility; with no single-report tracks there is nothing to cluster.
    c.bool_or("cluster_single_reports", false);
    let count_events = c.bool_or("count_events", false);
    c.done()?;
    let tracker = tracker(&ctx, id).await?;
    check_span(&ctx, from, to)?;
    let (points, cut) = history(&ctx, &tracker, from, to).await?;
    let located = track::located(&points, include_lbs, filter);
    let list: Vec<Value> = track::trips(&located, &ctx.state.state_config, split)
        .iter()
        .map(|trip| {
            let mut v = json!({
                "id": trip_id(trip),
                "start_date": ctx.time.format(trip.start_time),
                "start_address": "",
                "max_speed": whole(Some(trip.max_speed)),
                "end_date": ctx.time.format(trip.end_time),
                "end_address": "",
                "length": (trip.length_km * 100.0).round() / 100.0,
                "points": trip.points,
                "avg_speed": whole(Some(trip.avg_speed)),
                "type": "regular",
            });
            if trip.gsm_lbs {
                v["gsm_lbs"] = json!(true);
            }
            if count_events {
                v["event_count"] = json!(trip.events);
            }
            v
        })
        .collect();
    Ok(Reply::ok().with("limit_exceeded", cut).with("list", list))
}

/// One point of `track/read`, serialized straight from here: its fields in the order of a
/// JSON object's keys elsewhere (alphabetical), the flags only when set.
#[derive(Serialize)]
struct TrackPoint {
    address: &'static str,
    alt: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    buffered: bool,
    get_time: crate::time::Formatted,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    gsm_lbs: bool,
    heading: i64,
    lat: f64,
    lng: f64,
    satellites: i32,
    speed: i64,
}

/// One point of `track/read`; `None` for a point without a location ([`track::located`]
/// keeps none such).
fn render_point(ctx: &Ctx, p: &Point) -> Option<TrackPoint> {
    let pos = p.position?;
    Some(TrackPoint {
        address: "",
        alt: whole(pos.altitude),
        buffered: p.buffered,
        get_time: ctx.time.at(p.time),
        gsm_lbs: pos.lbs,
        heading: whole(pos.heading),
        lat: pos.lat,
        lng: pos.lng,
        satellites: pos.satellites.unwrap_or(0),
        speed: whole(pos.speed),
    })
}

/// `track/read`: the located points of the period (of one track with `track_id`), oldest
/// first; with `simplify` (the default) and `point_limit`, thinned to that many points, the
/// shape kept (docs/state.md).
pub async fn read(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let (from, to) = period(&mut c, &ctx);
    let track_id = c.opt_int("track_id");
    let include_lbs = c.bool_or("include_gsm_lbs", true);
    let simplify = c.bool_or("simplify", true);
    let filter = c.bool_or("filter", true);
    let point_limit = c.opt_int("point_limit");
    if point_limit.is_some_and(|n| !(2..=3000).contains(&n)) {
        c.fail("point_limit", "must be between 2 and 3000");
    }
    c.done()?;
    let tracker = tracker(&ctx, id).await?;
    check_span(&ctx, from, to)?;
    let (points, cut) = history(&ctx, &tracker, from, to).await?;
    let mut located = track::located(&points, include_lbs, filter);
    if let Some(track_id) = track_id {
        let trips = track::trips(&located, &ctx.state.state_config, true);
        let trip = trips
            .iter()
            .find(|t| trip_id(t) == track_id)
            .ok_or_else(|| ApiError::new(204))?;
        located = located
            .get(trip.start..=trip.end)
            .map(<[&Point]>::to_vec)
            .unwrap_or_default();
    }
    if let (true, Some(limit)) = (simplify, point_limit) {
        let coords: Vec<(f64, f64)> = located
            .iter()
            .map(|p| p.position.map_or((0.0, 0.0), |pos| (pos.lat, pos.lng)))
            .collect();
        let keep = track::simplify(&coords, usize::try_from(limit).unwrap_or(2));
        located = keep
            .into_iter()
            .filter_map(|i| located.get(i).copied())
            .collect();
    }
    let list: Vec<TrackPoint> = located
        .iter()
        .filter_map(|p| render_point(&ctx, p))
        .collect();
    Ok(Reply::ok()
        .with("limit_exceeded", cut)
        .with_serialized("list", &list))
}
