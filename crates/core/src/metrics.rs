//! Counters for Prometheus (`/metrics`): plain atomics, shared by the gateway, ingest and API.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! metrics {
    ($( $(#[doc = $help:literal])* $kind:ident $name:ident ),* $(,)?) => {
        /// Every metric trackd exports.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $( $(#[doc = $help])* pub $name: AtomicU64, )*
        }

        impl Metrics {
            /// The Prometheus text exposition format.
            pub fn render(&self) -> String {
                let mut out = String::new();
                $(
                    let help = concat!($($help),*).trim();
                    let _ = writeln!(out, "# HELP trackd_{} {}", stringify!($name), help);
                    let _ = writeln!(out, "# TYPE trackd_{} {}", stringify!($name), stringify!($kind));
                    let _ = writeln!(out, "trackd_{} {}", stringify!($name), self.$name.load(Ordering::Relaxed));
                )*
                out
            }
        }
    };
}

metrics! {
    /// Device connections accepted since start.
    counter connections_total,
    /// Device connections open now.
    gauge connections_open,
    /// Connections refused because the maximum was reached.
    counter connections_refused_total,
    /// Frames cut from device streams and datagrams.
    counter frames_total,
    /// Frames rejected by a framer or decoder (bad checksum, malformed).
    counter decode_errors_total,
    /// Messages from devices that are not registered, corrupted or blocked.
    counter unknown_device_messages_total,
    /// Points committed to the store (retransmissions excluded).
    counter points_total,
    /// Points received again that were already stored.
    counter duplicate_points_total,
    /// Device messages refused before a commit because a point in them cannot be stored (a
    /// float that is not finite); the device is not acknowledged.
    counter points_refused_total,
    /// Ingest commits (each a batch across connections).
    counter commits_total,
    /// Ingest commits that failed (devices were not acknowledged and will resend).
    counter commit_errors_total,
    /// Sum of commit latencies in microseconds (divide by commits_total for the mean): until
    /// a commit is visible; on SQLite its WAL is synced after that, beside the next commit.
    counter commit_latency_us_total,
    /// Submissions waiting for the ingest writer.
    gauge ingest_queue_depth,
    /// Acknowledgements sent to devices.
    counter acks_total,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    pub fn dec(gauge: &AtomicU64) {
        // Gauges never go below zero even if a decrement races an increment.
        let _ = gauge.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(1))
        });
    }
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        Metrics::add(&m.points_total, 42);
        Metrics::inc(&m.connections_open);
        Metrics::dec(&m.connections_open);
        Metrics::dec(&m.connections_open);
        let text = m.render();
        assert!(
            text.contains("# TYPE trackd_points_total counter\ntrackd_points_total 42\n"),
            "{text}"
        );
        assert!(text.contains("# HELP trackd_points_total Points committed to the store (retransmissions excluded).\n"));
        assert!(text.contains("trackd_connections_open 0\n"));
    }
}
