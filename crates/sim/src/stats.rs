//! What a simulation achieved, and the progress line while it runs.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::encode::SimProtocol;

/// Counters the device tasks share while running.
#[derive(Default)]
pub struct Live {
    pub records_sent: AtomicU64,
    pub records_acked: AtomicU64,
    pub acks: AtomicU64,
    pub errors: AtomicU64,
    pub connected: AtomicU64,
    kinds: Mutex<BTreeMap<&'static str, u64>>,
}

impl Live {
    pub fn error(&self, kind: &'static str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        *kinds.entry(kind).or_default() += 1;
    }

    pub fn error_kinds(&self) -> BTreeMap<&'static str, u64> {
        self.kinds.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Acknowledgement latencies of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latency {
    /// From latencies in microseconds (sorted here).
    pub fn from_micros(mut micros: Vec<u32>) -> Latency {
        micros.sort_unstable();
        let at = |q: f64| -> Duration {
            let i = ((micros.len() as f64 * q).ceil() as usize).saturating_sub(1);
            Duration::from_micros(u64::from(micros.get(i).copied().unwrap_or(0)))
        };
        Latency {
            count: micros.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: Duration::from_micros(u64::from(micros.last().copied().unwrap_or(0))),
        }
    }
}

/// What one device did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceOutcome {
    pub protocol: SimProtocol,
    pub device_id: String,
    /// Records the server acknowledged: the device's first `acked` samples, whose times are
    /// `first_time_ms + k * interval_ms` (a batch that failed is resent as it was).
    pub acked: u64,
    pub first_time_ms: i64,
    pub interval_ms: i64,
}

impl DeviceOutcome {
    /// The times of the acknowledged records.
    pub fn acked_times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.acked as i64).map(|k| self.first_time_ms + k * self.interval_ms)
    }
}

/// The result of a simulation.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub devices: usize,
    pub connected: usize,
    pub records_sent: u64,
    pub records_acked: u64,
    /// Records acknowledged within the measuring window (after the warm-up, before the halt).
    pub window_records: u64,
    /// The measuring window: from the end of the warm-up (or the moment every device had
    /// connected) to the halt (or the last answer).
    pub elapsed: Duration,
    /// Connecting and logging in every device.
    pub connect_time: Duration,
    pub latency: Latency,
    pub errors: u64,
    pub error_kinds: BTreeMap<&'static str, u64>,
    pub per_protocol: BTreeMap<SimProtocol, usize>,
    pub outcomes: Vec<DeviceOutcome>,
}

impl Report {
    pub fn records_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.window_records as f64 / secs
        } else {
            0.0
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mix: Vec<String> = self
            .per_protocol
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        writeln!(
            f,
            "devices:       {} ({}), {} connected in {:.2} s",
            self.devices,
            mix.join(", "),
            self.connected,
            self.connect_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "records:       {} acknowledged of {} sent; {} in {:.2} s measured: {:.0} records/s",
            self.records_acked,
            self.records_sent,
            self.window_records,
            self.elapsed.as_secs_f64(),
            self.records_per_second()
        )?;
        writeln!(
            f,
            "ack latency:   p50 {}, p99 {}, max {} ({} acknowledgements)",
            ms(self.latency.p50),
            ms(self.latency.p99),
            ms(self.latency.max),
            self.latency.count
        )?;
        let kinds: Vec<String> = self
            .error_kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        if kinds.is_empty() {
            write!(f, "errors:        0")
        } else {
            write!(f, "errors:        {} ({})", self.errors, kinds.join(", "))
        }
    }
}

/// How much of the run is done, for the progress line.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    Records(u64),
    Time(Duration),
    Open,
}

/// Prints a progress line on stderr until `done` resolves: redrawn in place on a terminal,
/// one line every few seconds otherwise (logs stay readable).
pub async fn progress(
    live: &Live,
    goal: Goal,
    started: Instant,
    done: impl std::future::Future<Output = ()>,
) {
    let tty = std::io::stderr().is_terminal();
    let every = if tty {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(5)
    };
    tokio::pin!(done);
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::select! {
            _ = &mut done => break,
            _ = tick.tick() => {}
        }
        let acked = live.records_acked.load(Ordering::Relaxed);
        let now = Instant::now();
        let rate = (acked - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-3);
        last = (now, acked);
        let fraction = match goal {
            Goal::Records(total) if total > 0 => Some(acked as f64 / total as f64),
            Goal::Time(d) if !d.is_zero() => {
                Some(started.elapsed().as_secs_f64() / d.as_secs_f64())
            }
            _ => None,
        };
        let bar = fraction.map(|f| {
            let f = f.clamp(0.0, 1.0);
            let filled = (f * 30.0).round() as usize;
            format!(
                "[{}{}] {:3.0}% ",
                "#".repeat(filled),
                ".".repeat(30 - filled),
                f * 100.0
            )
        });
        let line = format!(
            "sim {}{} records acked, {:.0} records/s, {} connected, {} errors",
            bar.unwrap_or_default(),
            acked,
            rate,
            live.connected.load(Ordering::Relaxed),
            live.errors.load(Ordering::Relaxed)
        );
        let mut err = std::io::stderr().lock();
        let _ = if tty {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
    if tty {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K");
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let l = Latency::from_micros((1..=1000).rev().collect());
        assert_eq!(l.count, 1000);
        assert_eq!(l.p50, Duration::from_micros(500));
        assert_eq!(l.p99, Duration::from_micros(990));
        assert_eq!(l.max, Duration::from_micros(1000));
        assert_eq!(Latency::from_micros(vec![]), Latency::default());
        assert_eq!(Latency::from_micros(vec![7]).p99, Duration::from_micros(7));
    }

    #[test]
    fn acked_times_follow_the_interval() {
        let o = DeviceOutcome {
            protocol: SimProtocol::Wialon,
            device_id: "x".into(),
            acked: 3,
            first_time_ms: 1000,
            interval_ms: 10,
        };
        assert_eq!(o.acked_times().collect::<Vec<_>>(), [1000, 1010, 1020]);
    }
}
