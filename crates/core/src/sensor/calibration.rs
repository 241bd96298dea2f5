//! Calibration tables: (in, out) pairs that map a metering sensor's divided raw value to the
//! quantity (an LLS probe's volts to litres in the tank).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::lenient::{as_float, as_object};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationPoint {
    #[serde(rename = "in")]
    pub input: f64,
    #[serde(rename = "out")]
    pub output: f64,
}

/// Navixy states no limit; an Omnicomm table has a few hundred rows at most, and the whole
/// table is read with every sensor, so it stays small.
pub const MAX_CALIBRATION_POINTS: usize = 1000;

/// Reads the `data` of `calibration_data/update`: objects with numeric `in` and `out`, no `in`
/// twice (two outputs for one input would make the table ambiguous). Returns the points sorted
/// by `in`; an empty table removes the calibration.
pub fn parse_calibration(items: &[Value]) -> Result<Vec<CalibrationPoint>, String> {
    if items.len() > MAX_CALIBRATION_POINTS {
        return Err(format!(
            "size must be between 0 and {MAX_CALIBRATION_POINTS}"
        ));
    }
    let mut points = Vec::with_capacity(items.len());
    for item in items {
        let point = as_object(item).ok().and_then(|o| {
            Some(CalibrationPoint {
                input: as_float(o.get("in")?).ok()?,
                output: as_float(o.get("out")?).ok()?,
            })
        });
        match point {
            Some(p) => points.push(p),
            None => return Err("items must be objects with numeric in and out".into()),
        }
    }
    points.sort_by(|a, b| a.input.total_cmp(&b.input));
    if points.windows(2).any(|w| w[0].input == w[1].input) {
        return Err("in values must be unique".into());
    }
    Ok(points)
}

/// Maps `x` through the table by piecewise-linear interpolation between neighbouring points.
///
/// Outside the table the value is **clamped** to the first or last `out`, not extrapolated: a
/// table describes the sensor's calibrated range (an empty and a full tank), and a probe that
/// reads past it (a wave in the tank, a voltage spike) must not report more fuel than the tank
/// holds or less than none. An empty table leaves `x` as it is. `table` must be sorted by
/// `in` with no `in` twice, as [`parse_calibration`] returns it.
pub fn calibrate(table: &[CalibrationPoint], x: f64) -> f64 {
    let (Some(first), Some(last)) = (table.first(), table.last()) else {
        return x;
    };
    if x <= first.input {
        return first.output;
    }
    if x >= last.input {
        return last.output;
    }
    // The first point above x; there is one, and one at or below it, since x is inside.
    let i = table.partition_point(|p| p.input <= x);
    match (table.get(i - 1), table.get(i)) {
        (Some(a), Some(b)) => {
            let t = (x - a.input) / (b.input - a.input);
            a.output + t * (b.output - a.output)
        }
        _ => x,
    }
}
