//! Units of sensor values and their conversion to the user's measurement system.
//!
//! A metering sensor's `units_type` names the unit its values are in. When the user's
//! measurement system (user settings: `metric`, `imperial`, `us`, `metric_gal_us`) measures
//! that quantity in another unit, the sensor value object carries `converted_units_type` and
//! `converted_value`; otherwise both are null. Units that are not a known quantity (`custom`,
//! volts, rpm, percent, any unit trackd does not know) are never converted.

/// A user's measurement system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeasurementSystem {
    /// Kilometres, km/h, litres, degrees Celsius.
    Metric,
    /// British usage: miles, mph, imperial gallons, degrees Celsius.
    Imperial,
    /// Miles, mph, US gallons, degrees Fahrenheit.
    Us,
    /// Metric, but fuel in US gallons.
    MetricGalUs,
}

impl MeasurementSystem {
    /// Navixy spells the last one `metric_gal_us`; trackd's own docs said `metric_gal`, so both
    /// are read. Anything else is metric, the default of a new account.
    pub fn parse(s: &str) -> MeasurementSystem {
        match s {
            "imperial" => MeasurementSystem::Imperial,
            "us" => MeasurementSystem::Us,
            "metric_gal_us" | "metric_gal" => MeasurementSystem::MetricGalUs,
            _ => MeasurementSystem::Metric,
        }
    }

    /// The unit this system measures `q` in.
    fn unit_of(self, q: Quantity) -> &'static str {
        use MeasurementSystem::*;
        match (q, self) {
            (Quantity::Volume, Metric) => LITRE,
            (Quantity::Volume, Imperial) => IMPERIAL_GALLON,
            (Quantity::Volume, Us | MetricGalUs) => US_GALLON,
            (Quantity::Temperature, Us) => FAHRENHEIT,
            (Quantity::Temperature, _) => CELSIUS,
            (Quantity::Distance, Metric | MetricGalUs) => KM,
            (Quantity::Distance, Imperial | Us) => MILE,
            (Quantity::Speed, Metric | MetricGalUs) => KMH,
            (Quantity::Speed, Imperial | Us) => MPH,
        }
    }
}

pub const LITRE: &str = "litre";
pub const US_GALLON: &str = "us_gallon";
pub const IMPERIAL_GALLON: &str = "imperial_gallon";
pub const CELSIUS: &str = "celsius";
pub const FAHRENHEIT: &str = "fahrenheit";
pub const KM: &str = "km";
pub const MILE: &str = "mile";
pub const KMH: &str = "kmh";
pub const MPH: &str = "mph";

/// Litres in one US gallon (231 cubic inches, exactly).
const LITRES_PER_US_GALLON: f64 = 3.785_411_784;
/// Litres in one imperial gallon (exactly, by the 1985 Weights and Measures Act).
const LITRES_PER_IMPERIAL_GALLON: f64 = 4.546_09;
/// Kilometres in one international mile (exactly).
const KM_PER_MILE: f64 = 1.609_344;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quantity {
    Volume,
    Temperature,
    Distance,
    Speed,
}

/// Each known unit: its quantity, and how a value relates to the quantity's base unit (litre,
/// degree Celsius, kilometre, km/h): `base = (value - offset) * scale`.
struct Unit {
    name: &'static str,
    quantity: Quantity,
    scale: f64,
    offset: f64,
}

impl Unit {
    const fn new(name: &'static str, quantity: Quantity, scale: f64, offset: f64) -> Unit {
        Unit {
            name,
            quantity,
            scale,
            offset,
        }
    }
    fn to_base(&self, x: f64) -> f64 {
        (x - self.offset) * self.scale
    }
    fn in_unit(&self, x: f64) -> f64 {
        x / self.scale + self.offset
    }
}

const UNITS: &[Unit] = &[
    Unit::new(LITRE, Quantity::Volume, 1.0, 0.0),
    Unit::new(US_GALLON, Quantity::Volume, LITRES_PER_US_GALLON, 0.0),
    Unit::new(
        IMPERIAL_GALLON,
        Quantity::Volume,
        LITRES_PER_IMPERIAL_GALLON,
        0.0,
    ),
    Unit::new(CELSIUS, Quantity::Temperature, 1.0, 0.0),
    Unit::new(FAHRENHEIT, Quantity::Temperature, 5.0 / 9.0, 32.0),
    Unit::new(KM, Quantity::Distance, 1.0, 0.0),
    Unit::new(MILE, Quantity::Distance, KM_PER_MILE, 0.0),
    Unit::new(KMH, Quantity::Speed, 1.0, 0.0),
    Unit::new(MPH, Quantity::Speed, KM_PER_MILE, 0.0),
];

fn unit(name: &str) -> Option<&'static Unit> {
    UNITS.iter().find(|u| u.name == name)
}

/// The known unit names, for documentation and tests.
pub fn known_units() -> impl Iterator<Item = &'static str> {
    UNITS.iter().map(|u| u.name)
}

/// `value` in `units_type`, converted to the unit `system` uses for that quantity: `None` when
/// the unit is already the system's or is not one trackd converts.
pub fn convert(
    value: f64,
    units_type: &str,
    system: MeasurementSystem,
) -> Option<(&'static str, f64)> {
    let from = unit(units_type)?;
    let target = system.unit_of(from.quantity);
    if target == from.name {
        return None;
    }
    let to = unit(target)?;
    Some((to.name, to.in_unit(from.to_base(value))))
}
