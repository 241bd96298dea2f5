//! Where a tracker's counters read their data, from its sensors: the ignition, the metering
//! sensors an odometer may count, a CAN engine-hours sensor, a fuel-consumption sensor.

use std::collections::HashMap;

use crate::point::Point;
use crate::readings::Readings;
use crate::sensor::{
    discrete_state, metering_value, virtual_value, CalibrationPoint, DiscreteType, Kind, Metering,
    MeteringType, Sensor, SensorId, VirtualType,
};

/// Inputs that carry a cumulative engine-hours reading (hours once divided).
const ENGINE_HOURS_INPUTS: &[&str] = &["can_engine_hours", "hw_engine_hours"];

/// A metering sensor as a counter reads it: its value after divider and calibration.
#[derive(Clone, Debug, PartialEq)]
pub struct Meter {
    pub metering: Metering,
    pub calibration: Vec<CalibrationPoint>,
}

impl Meter {
    fn of(m: &Metering, s: &Sensor) -> Meter {
        Meter {
            metering: m.clone(),
            calibration: s.calibration.clone(),
        }
    }

    pub fn read(&self, io: &Readings) -> Option<f64> {
        metering_value(&self.metering, &self.calibration, io)
    }
}

/// Where the ignition state comes from.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum IgnitionSource {
    /// The ignition flag the device's protocol reports (no ignition sensor defined).
    #[default]
    Device,
    /// A discrete `ignition` sensor: a bit of the digital inputs.
    Discrete(crate::sensor::Discrete),
    /// A `virtual_ignition` sensor: on while its value is not 0.
    Virtual(crate::sensor::Virtual),
}

/// A tracker's counter sources, built from its sensors.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Sources {
    pub ignition: IgnitionSource,
    /// Every metering sensor, by ID: the odometer counts the one its `sensor_id` names.
    pub meters: HashMap<SensorId, Meter>,
    /// A sensor reading engine hours from the CAN bus or the device: engine hours count its
    /// change instead of ignition time.
    pub engine_hours: Option<Meter>,
    /// A cumulative fuel-consumption sensor (litres).
    pub fuel_total: Option<Meter>,
    /// An instant fuel-consumption sensor (litres per hour), integrated over time.
    pub fuel_rate: Option<Meter>,
}

impl Sources {
    /// The sources of a tracker with these sensors (oldest first: the oldest of a kind wins).
    pub fn of(sensors: &[Sensor]) -> Sources {
        let mut out = Sources::default();
        for s in sensors {
            match &s.def.kind {
                Kind::Metering(m) => {
                    let meter = Meter::of(m, s);
                    if out.engine_hours.is_none()
                        && ENGINE_HOURS_INPUTS.contains(&m.input_name.as_str())
                    {
                        out.engine_hours = Some(meter.clone());
                    }
                    match m.sensor_type {
                        MeteringType::FuelConsumption if out.fuel_total.is_none() => {
                            out.fuel_total = Some(meter.clone());
                        }
                        MeteringType::InstantConsumption if out.fuel_rate.is_none() => {
                            out.fuel_rate = Some(meter.clone());
                        }
                        _ => {}
                    }
                    out.meters.insert(s.id, meter);
                }
                Kind::Discrete(d)
                    if d.sensor_type == DiscreteType::Ignition
                        && out.ignition == IgnitionSource::Device =>
                {
                    out.ignition = IgnitionSource::Discrete(*d);
                }
                Kind::Virtual(v)
                    if v.sensor_type == VirtualType::VirtualIgnition
                        && out.ignition == IgnitionSource::Device =>
                {
                    out.ignition = IgnitionSource::Virtual(v.clone());
                }
                _ => {}
            }
        }
        out
    }

    /// Whether the ignition is on at this record; `None` when the record does not say.
    pub fn ignition(&self, p: &Point) -> Option<bool> {
        match &self.ignition {
            IgnitionSource::Device => p.ignition,
            IgnitionSource::Discrete(d) => p.inputs.map(|i| discrete_state(d, i)),
            IgnitionSource::Virtual(v) => virtual_value(v, &p.io).map(|x| x != 0.0),
        }
    }
}
