//! History as tracks (docs/state.md, "History"): which stored points make a track, trips
//! split by parking, and thinning a track to a number of points for display. Pure functions
//! over points already read, oldest first.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::point::Point;
use crate::state::StateConfig;

/// Mean Earth radius (IUGG), km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A cell-tower location implying a faster ride than this from the previous kept point is a
/// jump to another tower's estimate, not a movement; `filter` drops it.
const MAX_LBS_SPEED_KMH: f64 = 300.0;

/// Great-circle distance in km between two (lat, lng) in degrees (haversine).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = lat2 - lat1;
    let dlng = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

fn latlng(p: &Point) -> (f64, f64) {
    p.position.map_or((0.0, 0.0), |pos| (pos.lat, pos.lng))
}

fn is_lbs(p: &Point) -> bool {
    p.position.is_some_and(|pos| pos.lbs)
}

/// The points that draw a track: those with a valid location (invalid fixes are where the
/// device did not know where it was), cell-tower locations only if `include_lbs`, and with
/// `filter` no cell-tower location that jumps impossibly far from the point before it.
pub fn located(points: &[Point], include_lbs: bool, filter: bool) -> Vec<&Point> {
    let mut out: Vec<&Point> = Vec::with_capacity(points.len());
    for p in points {
        let Some(pos) = &p.position else { continue };
        if !pos.valid || (pos.lbs && !include_lbs) {
            continue;
        }
        if pos.lbs && filter {
            if let Some(prev) = out.last() {
                let hours = (p.time - prev.time) as f64 / 3_600_000.0;
                let km = distance_km(latlng(prev), (pos.lat, pos.lng));
                if hours <= 0.0 || km / hours > MAX_LBS_SPEED_KMH {
                    continue;
                }
            }
        }
        out.push(p);
    }
    out
}

/// One trip: the points from `start` to `end` (inclusive indexes into the located points)
/// and what `track/list` reports about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Trip {
    pub start: usize,
    pub end: usize,
    /// Unix ms of the first and last point.
    pub start_time: i64,
    pub end_time: i64,
    pub length_km: f64,
    /// km/h.
    pub max_speed: f64,
    /// Length over duration, km/h (0 for a trip of no duration).
    pub avg_speed: f64,
    pub points: usize,
    /// Any of its points was located by cell towers.
    pub gsm_lbs: bool,
    /// Alarms its points carried.
    pub events: usize,
}

/// Splits located points into trips at parkings (docs/state.md):
///
/// - a point moves when [`StateConfig::moving`] says so;
/// - a run of standing points is a parking when it lasts `parking_after` or longer, counted
///   from its first point to the next moving point (or its own last point at the end);
/// - a gap of `parking_after` or more between two moving points is a parking too (the device
///   said nothing; it may have been switched off);
/// - a trip runs from where the vehicle left (the parking's last point, when it came within
///   `parking_after` of the first moving one; else that first moving point, so a parked
///   device's sparse reports do not start the trip early) to where it arrived (the first
///   point of the next parking); a run without a moving point is no trip.
///
/// With `split` false the whole period is one trip (when it has two points or more).
pub fn trips(points: &[&Point], config: &StateConfig, split: bool) -> Vec<Trip> {
    let n = points.len();
    if n < 2 {
        return Vec::new();
    }
    if !split {
        return vec![trip(points, config, 0, n - 1)];
    }
    let parking = config.parking_after_ms();
    let moving: Vec<bool> = points
        .iter()
        .map(|p| config.moving(p).unwrap_or(false))
        .collect();
    let mut out = Vec::new();
    let mut seg_start = 0;
    let mut has_moving = false;
    let mut i = 0;
    while i < n {
        if moving[i] {
            if i > seg_start && moving[i - 1] && points[i].time - points[i - 1].time >= parking {
                if has_moving {
                    out.push(trip(points, config, seg_start, i - 1));
                }
                seg_start = i;
            }
            has_moving = true;
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < n && !moving[j + 1] {
            j += 1;
        }
        let until = points.get(j + 1).map_or(points[j].time, |next| next.time);
        if until - points[i].time >= parking {
            if has_moving {
                out.push(trip(points, config, seg_start, i));
            }
            let left_soon = points
                .get(j + 1)
                .is_some_and(|next| next.time - points[j].time < parking);
            seg_start = if left_soon { j } else { j + 1 };
            has_moving = false;
        }
        i = j + 1;
    }
    if has_moving && seg_start < n - 1 {
        out.push(trip(points, config, seg_start, n - 1));
    }
    out
}

fn trip(points: &[&Point], config: &StateConfig, start: usize, end: usize) -> Trip {
    let run = &points[start..=end];
    let mut length_km = 0.0;
    for pair in run.windows(2) {
        // Standing on both ends is GPS drift, not distance (DESIGN §3).
        let drift = config.moving(pair[0]) != Some(true) && config.moving(pair[1]) != Some(true);
        if !drift {
            length_km += distance_km(latlng(pair[0]), latlng(pair[1]));
        }
    }
    let start_time = run.first().map_or(0, |p| p.time);
    let end_time = run.last().map_or(0, |p| p.time);
    let hours = (end_time - start_time) as f64 / 3_600_000.0;
    Trip {
        start,
        end,
        start_time,
        end_time,
        length_km,
        max_speed: run
            .iter()
            .filter_map(|p| p.position.and_then(|pos| pos.speed))
            .fold(0.0, f64::max),
        avg_speed: if hours > 0.0 { length_km / hours } else { 0.0 },
        points: run.len(),
        gsm_lbs: run.iter().any(|p| is_lbs(p)),
        events: run.iter().map(|p| p.alarms.len()).sum(),
    }
}

/// A stretch between two kept points and how far its farthest inner point lies off the
/// straight line between them.
struct Stretch {
    start: usize,
    end: usize,
    farthest: usize,
    offset: f64,
}

impl PartialEq for Stretch {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Stretch {}
impl PartialOrd for Stretch {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Stretch {
    fn cmp(&self, other: &Self) -> Ordering {
        // Equal offsets: the earlier stretch first, so the result does not depend on the heap.
        self.offset
            .total_cmp(&other.offset)
            .then_with(|| other.start.cmp(&self.start))
    }
}

/// Planar coordinates good enough to compare offsets within one track: longitude shrunk by
/// the cosine of the latitude.
fn planar(p: (f64, f64)) -> (f64, f64) {
    (p.1 * p.0.to_radians().cos(), p.0)
}

fn offset(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p, a, b) = (planar(p), planar(a), planar(b));
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return ((p.0 - a.0).powi(2) + (p.1 - a.1).powi(2)).sqrt();
    }
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0);
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
}

fn stretch(coords: &[(f64, f64)], start: usize, end: usize) -> Option<Stretch> {
    (start + 1..end)
        .map(|i| (i, offset(coords[i], coords[start], coords[end])))
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(farthest, offset)| Stretch {
            start,
            end,
            farthest,
            offset,
        })
}

/// Which of `coords` (lat, lng) to keep so that at most `limit` remain (at least 2): the first
/// and the last, then, Douglas-Peucker style, always the point farthest off the line of the
/// kept points around it, so the shape survives. Indexes ascending.
pub fn simplify(coords: &[(f64, f64)], limit: usize) -> Vec<usize> {
    let n = coords.len();
    let limit = limit.max(2);
    if n <= limit {
        return (0..n).collect();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    let mut kept = 2;
    let mut heap = BinaryHeap::new();
    heap.extend(stretch(coords, 0, n - 1));
    while kept < limit {
        let Some(s) = heap.pop() else { break };
        keep[s.farthest] = true;
        kept += 1;
        heap.extend(stretch(coords, s.start, s.farthest));
        heap.extend(stretch(coords, s.farthest, s.end));
    }
    (0..n).filter(|i| keep[*i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::Position;
    use crate::TrackerId;

    const T0: i64 = 1_700_000_000_000;
    const MIN: i64 = 60_000;

    /// A GPS point `minutes` after T0 at latitude 50, longitude `lng`.
    fn p(minutes: i64, lng: f64, speed: f64) -> Point {
        let t = T0 + minutes * MIN;
        let mut p = Point::empty(TrackerId(1), t, t);
        p.position = Some(Position {
            lat: 50.0,
            lng,
            altitude: None,
            speed: Some(speed),
            heading: None,
            satellites: Some(8),
            hdop: None,
            valid: true,
            lbs: false,
        });
        p
    }

    fn refs(points: &[Point]) -> Vec<&Point> {
        points.iter().collect()
    }

    fn spans(trips: &[Trip]) -> Vec<(usize, usize)> {
        trips.iter().map(|t| (t.start, t.end)).collect()
    }

    #[test]
    fn distance_of_a_degree() {
        let d = distance_km((0.0, 0.0), (0.0, 1.0));
        assert!((d - 111.195).abs() < 0.01, "{d}");
        assert_eq!(distance_km((52.5, 13.4), (52.5, 13.4)), 0.0);
    }

    #[test]
    fn located_drops_invalid_and_optionally_cell_locations() {
        let mut invalid = p(1, 10.0, 0.0);
        if let Some(pos) = invalid.position.as_mut() {
            pos.valid = false;
        }
        let mut lbs = p(2, 10.01, 0.0);
        if let Some(pos) = lbs.position.as_mut() {
            pos.lbs = true;
        }
        let mut jump = p(3, 15.0, 0.0);
        if let Some(pos) = jump.position.as_mut() {
            pos.lbs = true;
        }
        let none = Point::empty(TrackerId(1), T0 + 4 * MIN, 0);
        let points = vec![p(0, 10.0, 0.0), invalid, lbs, jump, none];
        let times = |v: Vec<&Point>| v.iter().map(|p| (p.time - T0) / MIN).collect::<Vec<_>>();
        assert_eq!(times(located(&points, true, false)), [0, 2, 3]);
        assert_eq!(
            times(located(&points, true, true)),
            [0, 2],
            "350 km in a minute"
        );
        assert_eq!(times(located(&points, false, true)), [0]);
    }

    #[test]
    fn a_drive_between_two_parkings_is_one_trip() {
        // Parked 0..30, drives 31..40, parked from 41 on.
        let mut points = vec![p(0, 10.0, 0.0), p(30, 10.0, 0.0)];
        for (i, m) in (31..=40).enumerate() {
            points.push(p(m, 10.0 + 0.01 * (i as f64 + 1.0), 60.0));
        }
        points.push(p(41, 10.1, 0.0));
        points.push(p(60, 10.1, 0.0));
        let trips = trips(&refs(&points), &StateConfig::default(), true);
        assert_eq!(
            spans(&trips),
            [(1, 12)],
            "from the departure to the arrival"
        );
        let t = &trips[0];
        assert_eq!((t.start_time, t.end_time), (T0 + 30 * MIN, T0 + 41 * MIN));
        assert_eq!(t.points, 12);
        let km = distance_km((50.0, 10.0), (50.0, 10.1));
        // Ten short arcs along the parallel are a little longer than one great circle.
        assert!((t.length_km - km).abs() < 1e-5, "{} vs {km}", t.length_km);
        assert_eq!(t.max_speed, 60.0);
        assert!((t.avg_speed - km / (11.0 / 60.0)).abs() < 1e-3);
        assert!(!t.gsm_lbs);
    }

    #[test]
    fn a_short_stop_stays_inside_the_trip_and_a_long_one_splits() {
        let c = StateConfig::default();
        let short = [
            p(0, 10.0, 50.0),
            p(1, 10.01, 0.0),
            p(4, 10.01, 0.0),
            p(5, 10.02, 50.0),
        ];
        assert_eq!(spans(&trips(&refs(&short), &c, true)), [(0, 3)]);
        let long = [
            p(0, 10.0, 50.0),
            p(1, 10.01, 0.0),
            p(6, 10.01, 0.0),
            p(7, 10.02, 50.0),
            p(8, 10.03, 0.0),
        ];
        assert_eq!(spans(&trips(&refs(&long), &c, true)), [(0, 1), (2, 4)]);
        assert_eq!(spans(&trips(&refs(&long), &c, false)), [(0, 4)]);
    }

    #[test]
    fn a_silent_gap_while_moving_splits_and_drift_is_no_distance() {
        let c = StateConfig::default();
        let gap = [
            p(0, 10.0, 50.0),
            p(1, 10.01, 50.0),
            p(20, 10.5, 50.0),
            p(21, 10.51, 50.0),
        ];
        assert_eq!(spans(&trips(&refs(&gap), &c, true)), [(0, 1), (2, 3)]);
        let drift = [
            p(0, 10.0, 50.0),
            p(1, 10.01, 1.0),
            p(2, 10.02, 1.0),
            p(3, 10.03, 50.0),
        ];
        let t = &trips(&refs(&drift), &c, true)[0];
        let km = 2.0 * distance_km((50.0, 10.0), (50.0, 10.01));
        assert!((t.length_km - km).abs() < 1e-3, "{} vs {km}", t.length_km);
    }

    #[test]
    fn a_trip_starts_when_moving_off_after_a_sparse_parking() {
        let c = StateConfig::default();
        let points = [
            p(0, 10.0, 0.0),
            p(20, 10.0, 50.0),
            p(21, 10.01, 50.0),
            p(22, 10.02, 0.0),
            p(40, 10.02, 0.0),
        ];
        let trips = trips(&refs(&points), &c, true);
        assert_eq!(spans(&trips), [(1, 3)]);
        assert_eq!(trips[0].start_time, T0 + 20 * MIN);
    }

    #[test]
    fn standing_only_is_no_trip() {
        let c = StateConfig::default();
        let still = [p(0, 10.0, 0.0), p(10, 10.0, 0.0), p(20, 10.0, 0.0)];
        assert!(trips(&refs(&still), &c, true).is_empty());
        assert!(trips(&refs(&still[..1]), &c, false).is_empty());
    }

    #[test]
    fn simplify_keeps_ends_and_corners() {
        // An L: east along the latitude, then north.
        let mut coords: Vec<(f64, f64)> = (0..10)
            .map(|i| (50.0, 10.0 + f64::from(i) * 0.01))
            .collect();
        coords.extend((1..10).map(|i| (50.0 + f64::from(i) * 0.01, 10.09)));
        assert_eq!(simplify(&coords, 3), [0, 9, 18], "the corner survives");
        assert_eq!(simplify(&coords, 2), [0, 18]);
        assert_eq!(simplify(&coords, 100).len(), 19, "nothing to drop");
        assert_eq!(simplify(&coords, 10).len(), 10);
        assert_eq!(simplify(&[], 5), Vec::<usize>::new());
    }
}
