//! A device simulator: a fleet of simulated trackers, each driving its own route (streets,
//! junction stops, parking with the ignition off, a fuel level and the board voltage), that
//! speak Teltonika Codec 8, Wialon IPS 2.0 and OsmAnd to a trackd gateway over real sockets,
//! wait for each acknowledgement, and report what they achieved: records per second, the
//! acknowledgement latency (p50, p99, max) and errors.
//!
//! Used by `trackd sim` (against a running server), `trackd serve --demo` (a few devices
//! in-process), the end-to-end tests and the benchmark harness.

pub mod encode;
pub mod link;
pub mod register;
pub mod route;
pub mod run;
pub mod stats;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use trackd_protocol::{Protocol, Transport};

pub use encode::SimProtocol;
pub use register::register;
pub use route::{Sample, Vehicle};
pub use run::{run, Phase, SimConfig};
pub use stats::{Latency, Report};

/// One simulated device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceSpec {
    pub protocol: SimProtocol,
    /// Its IMEI (every simulated device has one, whatever its protocol).
    pub device_id: String,
    /// Picks its route and sensor noise.
    pub seed: u64,
}

/// How many devices of each protocol, as weights: `teltonika:6,wialon:3,osmand:1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix(Vec<(SimProtocol, u32)>);

impl Default for Mix {
    /// Teltonika-heavy, as commercial fleets are; a tenth phones.
    fn default() -> Self {
        Mix(vec![
            (SimProtocol::Teltonika, 6),
            (SimProtocol::Wialon, 3),
            (SimProtocol::Osmand, 1),
        ])
    }
}

impl Mix {
    pub fn only(protocol: SimProtocol) -> Mix {
        Mix(vec![(protocol, 1)])
    }

    /// The protocol of device `i`: weights interleaved, so any prefix of the fleet has the mix.
    fn pick(&self, i: usize) -> SimProtocol {
        let total: u64 = self.0.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut slot = (i as u64) % total.max(1);
        for (p, w) in &self.0 {
            if slot < u64::from(*w) {
                return *p;
            }
            slot -= u64::from(*w);
        }
        SimProtocol::Teltonika
    }
}

impl FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Mix, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once(':').unwrap_or((part, "1"));
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("'{weight}' is not a weight (in '{part}')"))?;
            if weight > 0 {
                out.push((name.trim().parse()?, weight));
            }
        }
        if out.is_empty() {
            return Err("the mix names no protocol".into());
        }
        Ok(Mix(out))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(p, w)| format!("{p}:{w}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// A valid IMEI (Luhn check digit) for a serial number: `35` + 12 digits + check digit.
pub fn imei(serial: u64) -> String {
    let body = format!("35{:012}", serial % 1_000_000_000_000);
    let check = luhn(&body);
    format!("{body}{check}")
}

/// The Luhn check digit of a string of digits.
fn luhn(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// `n` devices with the mix's protocols, IMEIs from serial `first_serial` on. The same
/// arguments give the same fleet, so a rerun finds its devices registered.
pub fn fleet(n: usize, mix: &Mix, first_serial: u64) -> Vec<DeviceSpec> {
    (0..n)
        .map(|i| {
            let serial = first_serial + i as u64;
            DeviceSpec {
                protocol: mix.pick(i),
                device_id: imei(serial),
                seed: serial,
            }
        })
        .collect()
}

/// Where each protocol's listener is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets(BTreeMap<SimProtocol, SocketAddr>);

impl Targets {
    /// The addresses a lookup gives (e.g. `Server::device_addr`, or the configured ports).
    pub fn from_fn(lookup: impl Fn(Protocol, Transport) -> Option<SocketAddr>) -> Targets {
        Targets(
            SimProtocol::ALL
                .into_iter()
                .filter_map(|p| Some((p, lookup(p.protocol(), p.transport())?)))
                .collect(),
        )
    }

    pub fn get(&self, protocol: SimProtocol) -> Option<SocketAddr> {
        self.0.get(&protocol).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imeis_pass_the_luhn_check() {
        assert_eq!(imei(0), "350000000000006");
        // A real one: 490154203237518.
        assert_eq!(luhn("49015420323751"), 8);
        assert!(trackd_core::DeviceId::parse(&imei(123_456)).is_ok());
    }

    #[test]
    fn mixes_parse_and_interleave() {
        let mix: Mix = "teltonika:2, osmand".parse().expect("mix");
        assert_eq!(mix.to_string(), "teltonika:2,osmand:1");
        let f = fleet(6, &mix, 100);
        let protocols: Vec<SimProtocol> = f.iter().map(|d| d.protocol).collect();
        use SimProtocol::*;
        assert_eq!(
            protocols,
            [Teltonika, Teltonika, Osmand, Teltonika, Teltonika, Osmand]
        );
        assert_eq!(f, fleet(6, &mix, 100), "deterministic");
        let ids: std::collections::BTreeSet<_> = f.iter().map(|d| &d.device_id).collect();
        assert_eq!(ids.len(), 6);
        assert!("gt06:1".parse::<Mix>().is_err());
        assert!("teltonika:x".parse::<Mix>().is_err());
        assert!("".parse::<Mix>().is_err());
    }
}
