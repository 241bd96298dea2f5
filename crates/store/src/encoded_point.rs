//! A point made ready for the `points` table before it reaches an ingest writer.

use std::ops::Deref;

use trackd_core::point::Point;

use crate::{Result, StoreError};

/// A point checked the way both backends must store it alike, with its readings and alarms
/// already in the JSON the `points` table keeps.
///
/// Ingest makes these on the connection's task, where the device's frame was just decoded,
/// instead of on a writer, which every commit waits for. A profile of SQLite's writer put
/// 8.8 % of its samples in serializing readings, about 600 ns a point; made here instead,
/// its mean commit at 1,000 connections went from 27 ms to 24 (medians of five rounds side
/// by side, BENCHMARKS.md). A point refused here fails only its own device's submission.
///
/// It derefs to the point, which it never changes, so the JSON always matches the point.
#[derive(Clone, Debug)]
pub struct EncodedPoint {
    point: Point,
    /// `io` as a JSON object.
    io: String,
    /// `alarms` as a JSON array.
    alarms: String,
}

impl EncodedPoint {
    /// `Invalid` for a point no store keeps: one with a float that is not finite.
    pub fn new(point: Point) -> Result<EncodedPoint> {
        check_point(&point)?;
        let json = |e: serde_json::Error| {
            StoreError::Invalid(format!("point of tracker {}: {e}", point.tracker_id.0))
        };
        let io = serde_json::to_string(&point.io).map_err(json)?;
        let alarms = serde_json::to_string(&point.alarms).map_err(json)?;
        Ok(EncodedPoint { point, io, alarms })
    }

    /// Each of `points`, encoded; the first refused fails them all.
    pub fn all(points: impl IntoIterator<Item = Point>) -> Result<Vec<EncodedPoint>> {
        // Sized up front: collecting `Result`s hides the length, and each regrowth would move
        // every point encoded so far.
        let points = points.into_iter();
        let mut encoded = Vec::with_capacity(points.size_hint().0);
        for p in points {
            encoded.push(EncodedPoint::new(p)?);
        }
        Ok(encoded)
    }

    /// The readings as a JSON object.
    pub fn io_json(&self) -> &str {
        &self.io
    }

    /// The alarm names as a JSON array.
    pub fn alarms_json(&self) -> &str {
        &self.alarms
    }
}

impl Deref for EncodedPoint {
    type Target = Point;

    fn deref(&self) -> &Point {
        &self.point
    }
}

/// Refuses a point with a float that is not finite. SQLite stores NaN as NULL and
/// PostgreSQL keeps it, so without this the two backends would return different points.
fn check_point(p: &Point) -> Result<()> {
    let Some(pos) = &p.position else {
        return Ok(());
    };
    let floats = [
        ("lat", Some(pos.lat)),
        ("lng", Some(pos.lng)),
        ("altitude", pos.altitude),
        ("speed", pos.speed),
        ("heading", pos.heading),
        ("hdop", pos.hdop),
    ];
    match floats
        .iter()
        .find(|(_, v)| v.is_some_and(|v| !v.is_finite()))
    {
        Some((name, v)) => Err(StoreError::Invalid(format!(
            "point of tracker {} at {}: {name} is {v:?}",
            p.tracker_id.0, p.time
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trackd_core::point::Position;
    use trackd_core::TrackerId;

    #[test]
    fn the_json_is_the_points_readings_and_alarms() {
        let mut p = Point::empty(TrackerId(1), 0, 0);
        let encoded = EncodedPoint::new(p.clone()).expect("encoded");
        assert_eq!((encoded.io_json(), encoded.alarms_json()), ("{}", "[]"));
        p.io.insert("board_voltage", json!(14.24));
        p.io.insert("can_\"odd\"", json!("a\nb"));
        p.alarms = vec!["sos".into(), "power_cut".into()];
        let encoded = EncodedPoint::new(p.clone()).expect("encoded");
        assert_eq!(
            encoded.io_json(),
            r#"{"board_voltage":14.24,"can_\"odd\"":"a\nb"}"#
        );
        assert_eq!(encoded.alarms_json(), r#"["sos","power_cut"]"#);
        assert_eq!(*encoded, p);
    }

    #[test]
    fn a_float_that_is_not_finite_is_refused() {
        let mut p = Point::empty(TrackerId(1), 0, 0);
        let pos = Position {
            lat: 1.0,
            lng: 2.0,
            altitude: None,
            speed: Some(f64::NAN),
            heading: None,
            satellites: None,
            hdop: None,
            valid: true,
            lbs: false,
        };
        p.position = Some(pos);
        let refused = EncodedPoint::new(p.clone());
        assert!(matches!(refused, Err(StoreError::Invalid(m)) if m.contains("speed")));
        p.position = Some(Position {
            speed: Some(3.5),
            lng: f64::INFINITY,
            ..pos
        });
        let refused = EncodedPoint::all([Point::empty(TrackerId(2), 0, 0), p.clone()]);
        assert!(matches!(refused, Err(StoreError::Invalid(m)) if m.contains("lng")));
        p.position = Some(Position {
            lng: 2.5,
            speed: Some(3.5),
            ..pos
        });
        assert!(EncodedPoint::new(p).is_ok());
    }
}
