//! Running a fleet: every device connects and logs in, then (all at once) they drive and
//! send, each waiting for the acknowledgement of one message before the next, as trackers
//! do. A message that is not acknowledged is sent again, over a new connection if need be,
//! exactly as it was; so a device's acknowledged records are always its first ones.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{oneshot, watch, Barrier, Semaphore};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::link::Link;
use crate::route::{Rng, Sample, Vehicle};
use crate::stats::{self, DeviceOutcome, Goal, Latency, Live, Report};
use crate::{DeviceSpec, Targets};

#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Records per message (a Teltonika packet, a Wialon black box, pipelined OsmAnd
    /// requests); capped per protocol.
    pub batch: usize,
    /// Time between two records of a device, on the device's clock.
    pub interval: Duration,
    /// Wait the interval in real time between records, as real devices do. Without it a
    /// device sends its next message as soon as the last is acknowledged (load tests); its
    /// clock still advances by the interval per record.
    pub realtime: bool,
    /// Stop each device after this many records.
    pub records_per_device: Option<u64>,
    /// Stop the run after this long (counted once every device has connected).
    pub duration: Option<Duration>,
    /// Latencies and the records/s window start this long after the devices start, so a
    /// load test measures the steady state and not the start-up surge.
    pub warmup: Duration,
    /// How long a device waits to connect, and for an answer.
    pub ack_timeout: Duration,
    /// Devices connecting at once (a listen backlog is finite).
    pub connect_concurrency: usize,
    /// Attempts to resend a message (reconnecting) before the device gives up.
    pub max_retries: u32,
    /// Print a progress line on stderr.
    pub progress: bool,
    /// The first record's time (Unix ms). Default: now for a realtime run; a day ago
    /// otherwise, so a fast run's clock does not race far into the future.
    pub start_ms: Option<i64>,
    /// After the measured window the devices go on this long, unmeasured, before they halt:
    /// what is measured beside the fleet in its window (the bench's API calls) then ends under
    /// the same load, not while thousands of connections close. Skipped when stopped.
    pub cooldown: Duration,
    /// Told when the measured window opens and closes, for what measures beside the fleet.
    pub phase: Option<watch::Sender<Phase>>,
}

/// Where a run is: before its measured window (connecting, warming up), in it, or past it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    #[default]
    Before,
    Measuring,
    Measured,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            batch: 1,
            interval: Duration::from_secs(10),
            realtime: true,
            records_per_device: None,
            duration: None,
            warmup: Duration::ZERO,
            ack_timeout: Duration::from_secs(30),
            connect_concurrency: 256,
            max_retries: 5,
            progress: false,
            start_ms: None,
            cooldown: Duration::ZERO,
            phase: None,
        }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The measuring window: its start (time, records acknowledged then) and, once halted, its
/// end.
#[derive(Clone, Copy)]
struct Window {
    from: (Instant, u64),
    to: Option<(Instant, u64)>,
}

/// What every device task shares.
struct Shared {
    config: SimConfig,
    targets: Targets,
    live: Arc<Live>,
    halt: watch::Receiver<bool>,
    measuring: AtomicBool,
    barrier: Barrier,
    connect_slots: Semaphore,
    start_ms: i64,
}

/// Runs the fleet until every device has sent its records, the duration is over, or `stop`
/// turns true; returns what was achieved.
pub async fn run(
    devices: Vec<DeviceSpec>,
    targets: &Targets,
    config: &SimConfig,
    stop: Option<watch::Receiver<bool>>,
) -> Report {
    let live = Arc::new(Live::default());
    let (halt_tx, halt) = watch::channel(false);
    let start_ms = config.start_ms.unwrap_or_else(|| {
        if config.realtime {
            now_ms()
        } else {
            now_ms() - 86_400_000
        }
    });
    let shared = Arc::new(Shared {
        config: config.clone(),
        targets: targets.clone(),
        live: live.clone(),
        halt,
        measuring: AtomicBool::new(config.warmup.is_zero()),
        barrier: Barrier::new(devices.len() + 1),
        connect_slots: Semaphore::new(config.connect_concurrency.max(1)),
        start_ms,
    });
    let mut per_protocol = BTreeMap::new();
    for d in &devices {
        *per_protocol.entry(d.protocol).or_insert(0) += 1;
    }
    let count = devices.len();
    let connecting = Instant::now();
    let mut tasks = JoinSet::new();
    for spec in devices {
        tasks.spawn(device(spec, shared.clone()));
    }
    shared.barrier.wait().await;
    let connect_time = connecting.elapsed();
    let started = Instant::now();

    // The measuring window: from the end of the warm-up to the halt (or the last answer).
    let window = Arc::new(Mutex::new(Window {
        from: (started, 0),
        to: None,
    }));
    let supervisor = tokio::spawn(supervise(shared.clone(), halt_tx, stop, window.clone()));

    let (done_tx, done_rx) = oneshot::channel::<()>();
    let collect = async move {
        let mut outcomes = Vec::with_capacity(count);
        let mut latencies = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            if let Ok((outcome, mut lat)) = joined {
                outcomes.push(outcome);
                latencies.append(&mut lat);
            }
        }
        let _ = done_tx.send(());
        (outcomes, latencies)
    };
    let goal = match (config.records_per_device, config.duration) {
        (_, Some(d)) => Goal::Time(d),
        (Some(n), None) => Goal::Records(n.saturating_mul(count as u64)),
        (None, None) => Goal::Open,
    };
    let show = async {
        if config.progress {
            stats::progress(&live, goal, started, async {
                let _ = done_rx.await;
            })
            .await;
        }
    };
    let ((mut outcomes, latencies), ()) = tokio::join!(collect, show);
    let finished = (Instant::now(), live.records_acked.load(Ordering::Relaxed));
    supervisor.abort();
    let w = *window.lock().unwrap_or_else(|p| p.into_inner());
    let (from, from_acked) = w.from;
    let (to, to_acked) = w.to.unwrap_or(finished);
    outcomes.sort_by(|a, b| a.device_id.cmp(&b.device_id));
    Report {
        devices: count,
        connected: live.connected.load(Ordering::Relaxed) as usize,
        records_sent: live.records_sent.load(Ordering::Relaxed),
        records_acked: finished.1,
        window_records: to_acked.saturating_sub(from_acked),
        elapsed: to.saturating_duration_since(from),
        connect_time,
        latency: Latency::from_micros(latencies),
        errors: live.errors.load(Ordering::Relaxed),
        error_kinds: live.error_kinds(),
        per_protocol,
        outcomes,
    }
}

/// Ends the warm-up, then halts the devices when the time is up or `stop` says so.
async fn supervise(
    shared: Arc<Shared>,
    halt: watch::Sender<bool>,
    stop: Option<watch::Receiver<bool>>,
    window: Arc<Mutex<Window>>,
) {
    let acked = || shared.live.records_acked.load(Ordering::Relaxed);
    let config = &shared.config;
    let tell = |phase| {
        if let Some(tx) = &config.phase {
            tx.send_replace(phase);
        }
    };
    let warmup = config.warmup;
    let timer = async {
        if !warmup.is_zero() {
            tokio::time::sleep(warmup).await;
            window.lock().unwrap_or_else(|p| p.into_inner()).from = (Instant::now(), acked());
            shared.measuring.store(true, Ordering::Relaxed);
        }
        tell(Phase::Measuring);
        match config.duration {
            Some(d) => tokio::time::sleep(d.saturating_sub(warmup)).await,
            None => std::future::pending().await,
        }
    };
    let stopped = async {
        match stop {
            Some(mut rx) => {
                let _ = rx.wait_for(|s| *s).await;
            }
            None => std::future::pending().await,
        }
    };
    let timed_out = tokio::select! {
        _ = timer => true,
        _ = stopped => false,
    };
    window.lock().unwrap_or_else(|p| p.into_inner()).to = Some((Instant::now(), acked()));
    shared.measuring.store(false, Ordering::Relaxed);
    tell(Phase::Measured);
    if timed_out && !config.cooldown.is_zero() {
        tokio::time::sleep(config.cooldown).await;
    }
    let _ = halt.send(true);
}

/// One device: connect and log in, wait for the others, then drive and send.
async fn device(spec: DeviceSpec, shared: Arc<Shared>) -> (DeviceOutcome, Vec<u32>) {
    let config = &shared.config;
    let live = &shared.live;
    let interval_ms = i64::try_from(config.interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let mut outcome = DeviceOutcome {
        protocol: spec.protocol,
        device_id: spec.device_id.clone(),
        acked: 0,
        first_time_ms: shared.start_ms,
        interval_ms,
    };
    let mut latencies = Vec::new();
    let addr = shared.targets.get(spec.protocol);
    let mut link = match addr {
        Some(addr) => {
            let _slot = shared.connect_slots.acquire().await;
            match Link::open(spec.protocol, addr, &spec.device_id, config.ack_timeout).await {
                Ok(l) => Some(l),
                Err(e) => {
                    live.error(e.kind());
                    tracing::debug!(device = %spec.device_id, error = %e, "could not connect");
                    None
                }
            }
        }
        None => {
            live.error("no_listener");
            None
        }
    };
    shared.barrier.wait().await;
    let Some(addr) = addr else {
        return (outcome, latencies);
    };
    if link.is_some() {
        live.connected.fetch_add(1, Ordering::Relaxed);
    }
    let mut vehicle = Vehicle::new(spec.seed, shared.start_ms, interval_ms);
    let batch = config.batch.clamp(1, spec.protocol.max_batch());
    let limit = config.records_per_device.unwrap_or(u64::MAX);
    let mut halt = shared.halt.clone();
    let mut ticker = config.realtime.then(|| {
        // Devices report out of step with each other, as real ones do.
        let period = config
            .interval
            .saturating_mul(batch as u32)
            .max(Duration::from_millis(1));
        let offset = period.mul_f64(Rng::new(spec.seed).unit());
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    });
    let mut produced = 0u64;
    'run: while produced < limit && !*halt.borrow() {
        if let Some(t) = ticker.as_mut() {
            tokio::select! {
                _ = t.tick() => {}
                _ = halt.changed() => break,
            }
        }
        let n = (limit - produced).min(batch as u64) as usize;
        let samples: Vec<Sample> = (0..n).map(|_| vehicle.next_sample()).collect();
        produced += n as u64;
        live.records_sent.fetch_add(n as u64, Ordering::Relaxed);
        let mut failures = 0u32;
        loop {
            if link.is_none() {
                match Link::open(spec.protocol, addr, &spec.device_id, config.ack_timeout).await {
                    Ok(l) => link = Some(l),
                    Err(e) => live.error(e.kind()),
                }
            }
            if let Some(l) = link.as_mut() {
                let sent_at = Instant::now();
                match l.exchange(&samples).await {
                    Ok(()) => {
                        if shared.measuring.load(Ordering::Relaxed) {
                            let micros = sent_at.elapsed().as_micros();
                            latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                        }
                        outcome.acked += n as u64;
                        live.records_acked.fetch_add(n as u64, Ordering::Relaxed);
                        live.acks.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => {
                        live.error(e.kind());
                        tracing::debug!(device = %spec.device_id, error = %e, "message not acknowledged");
                        link = None;
                    }
                }
            }
            failures += 1;
            if failures > config.max_retries || *halt.borrow() {
                break 'run;
            }
            // Back off a little, as devices do, before reconnecting.
            tokio::time::sleep(Duration::from_millis(100 * u64::from(failures))).await;
        }
    }
    (outcome, latencies)
}
