//! Where a simulated vehicle drives: a road-like polyline (street legs along a slightly
//! rotated grid, bends, junctions with traffic stops, parking with the ignition off at both
//! ends), driven back and forth, and the readings a vehicle's sensors would give on the way.
//!
//! Everything is a function of a seed, so a device replays the same day every run and a test
//! can predict what it sends.

/// Mean Earth radius (metres), as in the haversine the server's odometer uses.
const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Fuel tank size, litres.
const TANK_L: f64 = 60.0;
/// Below this the driver refuels at the next parking stop.
const REFUEL_BELOW_L: f64 = 10.0;
/// Consumption while driving (litres per km) and idling with the engine on (litres per hour).
const L_PER_KM: f64 = 0.09;
const L_PER_IDLE_HOUR: f64 = 0.8;
/// Braking and accelerating, m/s².
const ACCEL: f64 = 1.5;

/// Cities the routes start in (lat, lon): some spread, so maps of a demo look alive.
const CENTRES: [(f64, f64); 6] = [
    (52.5200, 13.4050), // Berlin
    (48.8566, 2.3522),  // Paris
    (51.5074, -0.1278), // London
    (41.9028, 12.4964), // Rome
    (40.4168, -3.7038), // Madrid
    (52.2297, 21.0122), // Warsaw
];

/// A small deterministic generator (SplitMix64): routes must not depend on an RNG crate's
/// version, and the simulator needs nothing stronger.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// A pause at a vertex.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stop {
    pub seconds: f64,
    /// Parked with the engine off (an ignition cycle), rather than waiting at a junction.
    pub ignition_off: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Vertex {
    pub lat: f64,
    pub lon: f64,
    /// The speed limit of the segment that ends at this vertex, km/h.
    pub limit_kmh: f64,
    pub stop: Option<Stop>,
}

/// An open polyline with stops; a vehicle drives it to the end, parks, and drives back.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub vertices: Vec<Vertex>,
}

/// Great-circle distance in metres.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// Initial bearing from the first point to the second, degrees clockwise from north.
pub fn bearing(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dl = (lon2 - lon1).to_radians();
    let y = dl.sin() * p2.cos();
    let x = p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos();
    y.atan2(x).to_degrees().rem_euclid(360.0)
}

/// The point `metres` away on `bearing_deg` (flat-earth step: legs are short).
fn step(lat: f64, lon: f64, bearing_deg: f64, metres: f64) -> (f64, f64) {
    let b = bearing_deg.to_radians();
    let dlat = metres * b.cos() / EARTH_RADIUS_M;
    let dlon = metres * b.sin() / (EARTH_RADIUS_M * lat.to_radians().cos());
    (lat + dlat.to_degrees(), lon + dlon.to_degrees())
}

impl Route {
    /// A route of `legs` street legs (each 200 m to 1.5 km) starting near one of a few city
    /// centres. Streets follow a grid turned by a per-route angle, with gentle bends; every
    /// junction may hold a traffic stop, and every few legs the trip ends at a parking stop.
    pub fn generate(seed: u64, legs: usize) -> Route {
        let mut rng = Rng::new(seed);
        let centre = CENTRES[(rng.next_u64() % CENTRES.len() as u64) as usize];
        let (mut lat, mut lon) = (
            centre.0 + rng.range(-0.05, 0.05),
            centre.1 + rng.range(-0.08, 0.08),
        );
        let grid = rng.range(0.0, 90.0);
        let mut heading = grid + 90.0 * (rng.next_u64() % 4) as f64;
        let mut vertices = vec![Vertex {
            lat,
            lon,
            limit_kmh: 0.0,
            stop: Some(Stop {
                seconds: rng.range(120.0, 900.0),
                ignition_off: true,
            }),
        }];
        let legs = legs.max(1);
        for leg in 0..legs {
            // Turn left, right or keep straight at each junction; never back.
            heading += match rng.next_u64() % 4 {
                0 => -90.0,
                1 => 90.0,
                _ => 0.0,
            };
            let length = rng.range(200.0, 1500.0);
            let limit = [30.0, 50.0, 50.0, 70.0, 90.0][(rng.next_u64() % 5) as usize];
            // A leg is a few shorter segments with a slight bend, as streets are.
            let pieces = 2 + (rng.next_u64() % 4) as usize;
            let bend = rng.range(-6.0, 6.0);
            for piece in 0..pieces {
                let h = heading + bend * (piece as f64 - pieces as f64 / 2.0) / pieces as f64;
                (lat, lon) = step(lat, lon, h, length / pieces as f64);
                vertices.push(Vertex {
                    lat,
                    lon,
                    limit_kmh: limit,
                    stop: None,
                });
            }
            let last = leg + 1 == legs;
            let stop = if last || (leg % 5 == 4 && rng.unit() < 0.7) {
                Some(Stop {
                    seconds: rng.range(300.0, 1800.0),
                    ignition_off: true,
                })
            } else if rng.unit() < 0.35 {
                Some(Stop {
                    seconds: rng.range(10.0, 60.0),
                    ignition_off: false,
                })
            } else {
                None
            };
            if let Some(v) = vertices.last_mut() {
                v.stop = stop;
            }
        }
        Route { vertices }
    }

    pub fn length_m(&self) -> f64 {
        self.vertices
            .windows(2)
            .map(|w| haversine_m(w[0].lat, w[0].lon, w[1].lat, w[1].lon))
            .sum()
    }
}

/// What the vehicle's tracker reads at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Unix milliseconds, UTC.
    pub time_ms: i64,
    pub lat: f64,
    pub lon: f64,
    /// Metres.
    pub altitude: f64,
    pub speed_kmh: f64,
    /// Degrees clockwise from north.
    pub course: f64,
    pub satellites: u8,
    pub hdop: f64,
    pub ignition: bool,
    pub motion: bool,
    /// Fuel in the tank, litres (a level sensor's reading, with its jitter).
    pub fuel_l: f64,
    /// Board (external power) voltage: charging with the engine running, sagging without.
    pub board_voltage: f64,
    /// Distance driven since the device was installed, metres.
    pub odometer_m: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Driving,
    Stopped { left_s: f64, ignition_off: bool },
}

/// A vehicle driving a route; [`Vehicle::next_sample`] advances it by one reporting interval.
#[derive(Clone, Debug)]
pub struct Vehicle {
    route: Route,
    rng: Rng,
    /// The segment being driven: from `vertices[at]` towards the next vertex in `forward`
    /// direction.
    at: usize,
    forward: bool,
    /// Metres driven along the current segment.
    along: f64,
    speed_ms: f64,
    phase: Phase,
    time_ms: i64,
    interval_ms: i64,
    fuel_l: f64,
    odometer_m: f64,
    /// Minutes the engine has been off, for the battery's sag.
    off_s: f64,
    altitude_base: f64,
}

impl Vehicle {
    /// A vehicle parked at the start of its route; its first sample is at `start_ms`, each
    /// next one `interval_ms` later.
    pub fn new(seed: u64, start_ms: i64, interval_ms: i64) -> Vehicle {
        let route = Route::generate(seed, 8 + (seed % 8) as usize);
        let mut rng = Rng::new(seed.rotate_left(17) ^ 0xA5A5);
        let first_stop = route.vertices.first().and_then(|v| v.stop);
        // Devices start at different points of their day: some parked, some about to leave.
        let phase = match first_stop {
            Some(s) => Phase::Stopped {
                left_s: s.seconds * rng.unit(),
                ignition_off: true,
            },
            None => Phase::Driving,
        };
        Vehicle {
            fuel_l: rng.range(20.0, TANK_L),
            odometer_m: rng.range(5_000_000.0, 250_000_000.0).round(),
            altitude_base: rng.range(20.0, 400.0),
            route,
            rng,
            at: 0,
            forward: true,
            along: 0.0,
            speed_ms: 0.0,
            phase,
            time_ms: start_ms,
            interval_ms: interval_ms.max(1),
            off_s: 3600.0,
        }
    }

    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The index of the vertex the current segment leads to, if any.
    fn next_index(&self) -> Option<usize> {
        if self.forward {
            (self.at + 1 < self.route.vertices.len()).then_some(self.at + 1)
        } else {
            self.at.checked_sub(1)
        }
    }

    fn segment(&self) -> Option<(Vertex, Vertex)> {
        let next = self.next_index()?;
        Some((
            *self.route.vertices.get(self.at)?,
            *self.route.vertices.get(next)?,
        ))
    }

    /// The reading now, then the vehicle moves on by one interval.
    pub fn next_sample(&mut self) -> Sample {
        let sample = self.read();
        self.advance(self.interval_ms as f64 / 1000.0);
        self.time_ms += self.interval_ms;
        sample
    }

    fn position(&self) -> (f64, f64, f64) {
        match self.segment() {
            Some((a, b)) => {
                let len = haversine_m(a.lat, a.lon, b.lat, b.lon).max(1e-6);
                let f = (self.along / len).clamp(0.0, 1.0);
                (
                    a.lat + (b.lat - a.lat) * f,
                    a.lon + (b.lon - a.lon) * f,
                    bearing(a.lat, a.lon, b.lat, b.lon),
                )
            }
            None => {
                let v = self.route.vertices.get(self.at).copied();
                v.map(|v| (v.lat, v.lon, 0.0)).unwrap_or((0.0, 0.0, 0.0))
            }
        }
    }

    fn ignition(&self) -> bool {
        !matches!(
            self.phase,
            Phase::Stopped {
                ignition_off: true,
                ..
            }
        )
    }

    fn read(&mut self) -> Sample {
        let (lat, lon, course) = self.position();
        let ignition = self.ignition();
        let speed_kmh = (self.speed_ms * 3.6 * 10.0).round() / 10.0;
        // The alternator charges at ~14 V; a parked battery sags slowly from 12.7 V.
        let voltage = if ignition {
            14.1 + self.rng.range(-0.15, 0.15)
        } else {
            (12.7 - self.off_s / 86_400.0 * 0.4).max(11.9) + self.rng.range(-0.03, 0.03)
        };
        Sample {
            time_ms: self.time_ms,
            lat,
            lon,
            altitude: (self.altitude_base + 15.0 * (self.odometer_m / 900.0).sin()).round(),
            speed_kmh,
            course: course.round().rem_euclid(360.0),
            satellites: 7 + (self.rng.next_u64() % 6) as u8,
            hdop: (self.rng.range(0.7, 1.6) * 10.0).round() / 10.0,
            ignition,
            motion: speed_kmh > 0.0,
            fuel_l: ((self.fuel_l + self.rng.range(-0.2, 0.2)).clamp(0.0, TANK_L) * 10.0).round()
                / 10.0,
            board_voltage: (voltage * 100.0).round() / 100.0,
            odometer_m: self.odometer_m.round(),
        }
    }

    fn advance(&mut self, mut dt: f64) {
        // Long intervals are taken in small steps so stops and corners are not skipped.
        while dt > 0.0 {
            let h = dt.min(1.0);
            dt -= h;
            self.tick(h);
        }
    }

    fn tick(&mut self, h: f64) {
        match self.phase {
            Phase::Stopped {
                left_s,
                ignition_off,
            } => {
                self.speed_ms = 0.0;
                if ignition_off {
                    self.off_s += h;
                } else {
                    self.fuel_l -= L_PER_IDLE_HOUR * h / 3600.0;
                }
                if left_s > h {
                    self.phase = Phase::Stopped {
                        left_s: left_s - h,
                        ignition_off,
                    };
                } else {
                    if ignition_off && self.fuel_l < REFUEL_BELOW_L {
                        self.fuel_l = TANK_L;
                    }
                    self.off_s = 0.0;
                    self.phase = Phase::Driving;
                }
            }
            Phase::Driving => self.drive(h),
        }
    }

    fn drive(&mut self, h: f64) {
        let Some((a, b)) = self.segment() else {
            // At an end of the route: turn round (the end vertex holds a parking stop).
            self.forward = !self.forward;
            return;
        };
        let len = haversine_m(a.lat, a.lon, b.lat, b.lon);
        let left = (len - self.along).max(0.0);
        let limit = b.limit_kmh.max(a.limit_kmh).max(20.0) / 3.6;
        // Slow down for a stop or a turn ahead: v² = 2·a·d.
        let ahead_stop = b.stop.is_some() || self.next_is_turn();
        let cap = if ahead_stop {
            (2.0 * ACCEL * left).sqrt().max(2.0)
        } else {
            limit
        };
        let target = limit.min(cap) * self.rng.range(0.92, 1.0);
        self.speed_ms = if self.speed_ms < target {
            (self.speed_ms + ACCEL * h).min(target)
        } else {
            (self.speed_ms - 2.0 * ACCEL * h).max(target)
        };
        let moved = self.speed_ms * h;
        self.odometer_m += moved;
        self.fuel_l -= L_PER_KM * moved / 1000.0 + L_PER_IDLE_HOUR * h / 3600.0;
        self.along += moved;
        if self.along >= len {
            self.along = 0.0;
            if let Some(next) = self.next_index() {
                self.at = next;
            }
            let arrived = self.route.vertices.get(self.at).copied();
            let at_end = self.next_index().is_none();
            if at_end {
                self.forward = !self.forward;
            }
            if let Some(stop) = arrived.and_then(|v| v.stop) {
                self.speed_ms = 0.0;
                self.phase = Phase::Stopped {
                    left_s: stop.seconds,
                    ignition_off: stop.ignition_off,
                };
            }
        }
    }

    /// Whether the vertex ahead turns the road by more than a bend.
    fn next_is_turn(&self) -> bool {
        let Some(next) = self.next_index() else {
            return true;
        };
        let after = if self.forward {
            next + 1
        } else {
            match next.checked_sub(1) {
                Some(i) => i,
                None => return true,
            }
        };
        let v = &self.route.vertices;
        match (v.get(self.at), v.get(next), v.get(after)) {
            (Some(a), Some(b), Some(c)) => {
                let turn = (bearing(b.lat, b.lon, c.lat, c.lon)
                    - bearing(a.lat, a.lon, b.lat, b.lon))
                .rem_euclid(360.0);
                (30.0..330.0).contains(&turn)
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_deterministic_and_road_like() {
        let a = Route::generate(7, 10);
        assert_eq!(a, Route::generate(7, 10));
        assert_ne!(a, Route::generate(8, 10));
        let segments: Vec<f64> = a
            .vertices
            .windows(2)
            .map(|w| haversine_m(w[0].lat, w[0].lon, w[1].lat, w[1].lon))
            .collect();
        assert!(
            segments.iter().all(|s| (40.0..=800.0).contains(s)),
            "{segments:?}"
        );
        let km = a.length_m() / 1000.0;
        assert!((2.0..=15.0).contains(&km), "{km} km");
        let first = a
            .vertices
            .first()
            .and_then(|v| v.stop)
            .expect("parking at the start");
        let last = a
            .vertices
            .last()
            .and_then(|v| v.stop)
            .expect("parking at the end");
        assert!(first.ignition_off && last.ignition_off);
        // A city, not the Gulf of Guinea.
        assert!(a.vertices.iter().all(|v| v.lat > 35.0 && v.lat < 60.0));
    }

    #[test]
    fn a_vehicle_drives_stops_and_cycles_its_ignition() {
        let mut v = Vehicle::new(42, 1_700_000_000_000, 10_000);
        let samples: Vec<Sample> = (0..3000).map(|_| v.next_sample()).collect();
        assert!(samples
            .windows(2)
            .all(|w| w[1].time_ms - w[0].time_ms == 10_000));
        let moving = samples.iter().filter(|s| s.motion).count();
        let parked = samples.iter().filter(|s| !s.ignition).count();
        let idling = samples.iter().filter(|s| s.ignition && !s.motion).count();
        assert!(
            moving > 100 && parked > 100 && idling > 0,
            "{moving} {parked} {idling}"
        );
        // Ignition goes on and off more than once: trips with parking between them.
        let switches = samples
            .windows(2)
            .filter(|w| w[0].ignition != w[1].ignition)
            .count();
        assert!(switches >= 4, "{switches}");
        for w in samples.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            assert!(b.odometer_m >= a.odometer_m);
            // The odometer agrees with the positions (within the straight-line shortcut of
            // corners and the rounding), and nothing jumps.
            let d = haversine_m(a.lat, a.lon, b.lat, b.lon);
            assert!(d <= b.odometer_m - a.odometer_m + 2.0, "{d} vs {a:?} {b:?}");
            assert!(d < 300.0, "{d} m in 10 s");
            if !b.ignition {
                assert_eq!(b.speed_kmh, 0.0);
                assert!(b.board_voltage < 13.0, "{b:?}");
            } else if b.motion {
                assert!(b.board_voltage > 13.5, "{b:?}");
            }
            assert!(b.speed_kmh <= 95.0);
            assert!((0.0..=60.0).contains(&b.fuel_l));
        }
        assert!(
            samples[0].fuel_l > samples[2999].fuel_l || samples.iter().any(|s| s.fuel_l > 59.0)
        );
    }
}
