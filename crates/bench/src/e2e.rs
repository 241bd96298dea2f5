//! (b) End to end: a trackd server on loopback, a fleet of simulated devices each waiting for
//! the acknowledgement (sent after commit) of one message before sending the next; the
//! records/s persisted and the acknowledgement latency. (d) API latency while a paced fleet
//! ingests at half the target rate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use tokio::sync::watch;
use trackd::admin::{self, UserSpec};
use trackd::{Config, Server};
use trackd_core::counter::{Change, CounterConfig, CounterType};
use trackd_core::metrics::Metrics;
use trackd_core::point::{Point, Position};
use trackd_core::{TrackerId, UserId};
use trackd_sim::{DeviceSpec, Mix, Phase, Targets};

use crate::client::{self, ClientArgs, SimFigures};
use trackd_store::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub const PASSWORD: &str = "bench password";

/// A server with its database and registered fleet.
pub struct Bench {
    pub backend: Backend,
    pub url: String,
    pub server: Server,
    pub store: Arc<dyn Store>,
    pub owner: UserId,
    pub devices: Vec<DeviceSpec>,
    pub trackers: HashMap<String, TrackerId>,
    _dir: tempfile::TempDir,
}

/// A fresh database of the backend; `None` when PostgreSQL is not installed.
async fn fresh_url(backend: Backend, dir: &std::path::Path) -> anyhow::Result<Option<String>> {
    Ok(match backend {
        Backend::Sqlite => Some(format!("sqlite://{}", dir.join("bench.db").display())),
        Backend::Postgres => trackd_store::testing::fresh_database()
            .await
            .map(|db| db.url().to_owned()),
    })
}

impl Bench {
    /// Starts a server on a fresh database and registers `devices` devices of the mix.
    pub async fn start(
        backend: Backend,
        devices: usize,
        mix: &Mix,
    ) -> anyhow::Result<Option<Bench>> {
        let dir = tempfile::tempdir()?;
        let Some(url) = fresh_url(backend, dir.path()).await? else {
            return Ok(None);
        };
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            database: url.clone(),
            http: trackd::config::HttpConfig {
                listen: "127.0.0.1:0".parse()?,
            },
            gateway: trackd_gateway::GatewayConfig {
                bind: [127, 0, 0, 1].into(),
                max_connections: 50_000,
                ..Default::default()
            }
            .any_ports(),
            ..Config::default()
        };
        config.api.rate_limit_per_second = 1_000_000;
        let store = trackd::open_store(&config).await?;
        let server = Server::start(config, store.clone()).await?;
        admin::create_user(
            store.as_ref(),
            UserSpec {
                login: "bench".into(),
                password: PASSWORD.into(),
                time_zone: "UTC".into(),
                parent: None,
                rights: Vec::new(),
            },
            trackd::now_ms(),
        )
        .await?;
        let owner = store
            .user_by_login("bench")
            .await?
            .ok_or_else(|| anyhow!("bench user missing"))?
            .id;
        let fleet = trackd_sim::fleet(devices, mix, 1);
        let trackers = trackd_sim::register(store.clone(), owner, &fleet)
            .await
            .context("registering the fleet")?;
        Ok(Some(Bench {
            backend,
            url,
            server,
            store,
            owner,
            devices: fleet,
            trackers,
            _dir: dir,
        }))
    }

    pub fn targets(&self) -> Targets {
        Targets::from_fn(|p, t| self.server.device_addr(p, t))
    }

    /// Every point stored for the fleet.
    pub async fn stored_points(&self) -> anyhow::Result<Vec<Point>> {
        let mut out = Vec::new();
        for t in self.trackers.values() {
            out.extend(self.store.points(*t, 0, i64::MAX, u32::MAX).await?);
        }
        Ok(out)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}

/// What the ingest path did during a run, from the server's metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct IngestFigures {
    pub commits: u64,
    pub points: u64,
    pub commit_us: u64,
}

impl IngestFigures {
    fn now(m: &Metrics) -> IngestFigures {
        IngestFigures {
            commits: Metrics::get(&m.commits_total),
            points: Metrics::get(&m.points_total),
            commit_us: Metrics::get(&m.commit_latency_us_total),
        }
    }
    fn since(self, before: IngestFigures) -> IngestFigures {
        IngestFigures {
            commits: self.commits - before.commits,
            points: self.points - before.points,
            commit_us: self.commit_us - before.commit_us,
        }
    }
    pub fn rows_per_commit(&self) -> f64 {
        self.points as f64 / self.commits.max(1) as f64
    }
    pub fn commit_ms(&self) -> f64 {
        self.commit_us as f64 / 1000.0 / self.commits.max(1) as f64
    }
}

pub struct RunFigures {
    pub report: SimFigures,
    pub ingest: IngestFigures,
    /// CPU cores used over the run by the server process and by the simulator process.
    pub server_cpu: f64,
    pub sim_cpu: f64,
    /// The machine's cores busy in the measured window, whatever ran: the server, the
    /// simulator, the database server, the API client.
    pub machine_cpu: Option<f64>,
}

/// Every device sends as soon as its last message is acknowledged.
pub async fn closed_loop(
    bench: &Bench,
    mix: &Mix,
    batch: usize,
    warmup: Duration,
    measure: Duration,
) -> anyhow::Result<RunFigures> {
    let args = ClientArgs {
        teltonika: None,
        wialon: None,
        osmand: None,
        devices: bench.devices.len(),
        mix: mix.clone(),
        batch,
        interval_ms: 1000,
        realtime: false,
        duration_ms: millis(warmup + measure),
        warmup_ms: millis(warmup),
        cooldown_ms: 0,
    };
    run(bench, &args, None).await
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The fleet of `args` against the server, its measured window told to `phase`.
async fn run(
    bench: &Bench,
    args: &ClientArgs,
    phase: Option<&watch::Sender<Phase>>,
) -> anyhow::Result<RunFigures> {
    let metrics = &bench.server.metrics;
    let before = IngestFigures::now(metrics);
    let (cpu0, child0, wall0) = (
        crate::sys::cpu_time(),
        crate::sys::children_cpu_time(),
        Instant::now(),
    );
    let own = watch::channel(Phase::Before).0;
    let phase = phase.unwrap_or(&own);
    let mut window = phase.subscribe();
    let machine = async move {
        window.wait_for(|p| *p != Phase::Before).await.ok()?;
        let from = crate::sys::machine_ticks()?;
        window.wait_for(|p| *p == Phase::Measured).await.ok()?;
        Some(crate::sys::cores_busy(from, crate::sys::machine_ticks()?))
    };
    let targets = bench.targets();
    let (report, machine_cpu) = tokio::join!(client::spawn(&targets, args, Some(phase)), machine);
    let report = report?;
    let wall = wall0.elapsed().as_secs_f64();
    Ok(RunFigures {
        machine_cpu,
        ingest: IngestFigures::now(metrics).since(before),
        server_cpu: (crate::sys::cpu_time() - cpu0).as_secs_f64() / wall,
        sim_cpu: (crate::sys::children_cpu_time() - child0).as_secs_f64() / wall,
        report,
    })
}

/// An API call measured under ingest.
#[derive(Clone)]
pub struct Probe {
    pub label: &'static str,
    pub path: &'static str,
    pub params: Value,
}

pub enum ProbeResult {
    /// The route does not exist yet.
    NotImplemented,
    Measured {
        /// The calls after the first.
        latencies_us: Vec<u32>,
        /// The first call, timed apart: it finds the server's caches cold (the account's
        /// trackers, SQLite's page caches), which a dashboard calling again does not.
        first_us: Option<u32>,
        errors: u64,
        last_error: Option<String>,
    },
}

/// The calls of (d), with parameters for this bench's data.
pub async fn probes(bench: &Bench) -> anyhow::Result<Vec<Probe>> {
    let mut ids: Vec<i64> = bench.trackers.values().map(|t| t.0).collect();
    ids.sort_unstable();
    let first = |n: usize| ids.iter().take(n).copied().collect::<Vec<i64>>();
    let track = track_tracker(bench).await?;
    let now = trackd::now_ms();
    start_odometers(bench, &first(1000), now).await?;
    let history = counter_tracker(bench, now).await?;
    as_autovacuum_leaves_it(bench).await?;
    let date = chrono_like;
    Ok(vec![
        Probe {
            label: "tracker/list (all trackers)",
            path: "tracker/list",
            params: json!({}),
        },
        Probe {
            label: "tracker/get_states (2000 trackers)",
            path: "tracker/get_states",
            params: json!({"trackers": first(2000)}),
        },
        Probe {
            label: "tracker/counter/value/list (1000)",
            path: "tracker/counter/value/list",
            params: json!({"trackers": first(1000), "type": "odometer"}),
        },
        Probe {
            label: "tracker/counter/data/read (31 days)",
            path: "tracker/counter/data/read",
            params: json!({"tracker_id": history.0, "type": "odometer",
                "from": date(now - 31 * 86_400_000), "to": date(now)}),
        },
        Probe {
            label: "track/read (10,000 points)",
            path: "track/read",
            params: json!({"tracker_id": track.0, "from": date(now - 2 * 86_400_000),
                "to": date(now), "simplify": false}),
        },
    ])
}

/// The database as PostgreSQL's autovacuum leaves it on a server that has run for days:
/// yesterday's points vacuumed, so their pages are marked all-visible and a track is read
/// from the key index alone (migration 13), and every table analyzed. The bench's database
/// is minutes old and autovacuum may or may not have come by before the measured window
/// (it had in some runs, not in others); the points ingested during the window stay
/// unvacuumed, as the last hours' do on a server. SQLite keeps no visibility map.
async fn as_autovacuum_leaves_it(bench: &Bench) -> anyhow::Result<()> {
    if let Backend::Postgres = bench.backend {
        let mut db = sqlx::postgres::PgConnection::connect(&bench.url).await?;
        // The last seeded commits may not be on disk yet, and vacuum would leave their pages.
        trackd_store::testing::flush_commits(&mut db).await?;
        db.execute("VACUUM (ANALYZE)").await?;
    }
    Ok(())
}

/// `yyyy-MM-dd HH:mm:ss` (UTC, the bench user's zone).
fn chrono_like(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = trackd_sim::encode::wialon::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Records of the track's device per message, each message its own commit.
const TRACK_MESSAGE: usize = 10;

/// Trackers whose messages commit beside each of the track's: a commit of 80 rows fills
/// about a PostgreSQL page or two of SQLite's, so the track's messages lie on pages apart,
/// as among a fleet.
const TRACK_NEIGHBOURS: u64 = 7;

/// A tracker with 10,000 points over the last day, for `track/read`, stored the way a device
/// reporting among others leaves them: message by message, each commit with messages of
/// other trackers (on SQLite 1,000 runs of 10 rows, on PostgreSQL about 1,440 heap pages).
/// Stored in one batch instead, the track lay on consecutive pages on SQLite and, filling
/// the room ingest's commits had left, on about 3,300 pages on PostgreSQL: neither what a
/// day of reports leaves, and not the same on the two (BENCHMARKS.md).
async fn track_tracker(bench: &Bench) -> anyhow::Result<TrackerId> {
    let (tracker, spec) = sim_tracker(bench, 5_000_000).await?;
    if bench.store.count_points(tracker).await? >= 10_000 {
        return Ok(tracker);
    }
    let start = trackd::now_ms() - 86_400_000;
    let day = |tracker: TrackerId, seed: u64| driven(tracker, seed, start, 8_000, 10_000);
    let mut neighbours = Vec::new();
    for n in 0..TRACK_NEIGHBOURS {
        let (id, spec) = sim_tracker(bench, 5_000_100 + n).await?;
        neighbours.push(day(id, spec.seed));
    }
    for commit in as_reported(day(tracker, spec.seed), neighbours, TRACK_MESSAGE) {
        bench.store.store_points(&commit).await?;
    }
    Ok(tracker)
}

/// The commits of trackers reporting side by side: the i-th holds each tracker's i-th
/// message of `message` points, the track's first. A neighbour's messages beyond the
/// track's last are left out: the commits are the track's.
fn as_reported(track: Vec<Point>, neighbours: Vec<Vec<Point>>, message: usize) -> Vec<Vec<Point>> {
    let message = message.max(1);
    let mut commits: Vec<Vec<Point>> = track.chunks(message).map(<[Point]>::to_vec).collect();
    for points in neighbours {
        for (commit, chunk) in commits.iter_mut().zip(points.chunks(message)) {
            commit.extend_from_slice(chunk);
        }
    }
    commits
}

/// A tracker of the bench user for one more simulated device, numbered `first` (apart from
/// the fleet's).
async fn sim_tracker(bench: &Bench, first: u64) -> anyhow::Result<(TrackerId, DeviceSpec)> {
    let spec = trackd_sim::fleet(1, &Mix::only(trackd_sim::SimProtocol::Wialon), first).remove(0);
    let ids = trackd_sim::register(
        bench.store.clone(),
        bench.owner,
        std::slice::from_ref(&spec),
    )
    .await?;
    let tracker = *ids
        .get(&spec.device_id)
        .ok_or_else(|| anyhow!("tracker of {} missing", spec.device_id))?;
    Ok((tracker, spec))
}

/// `n` points of a simulated vehicle reporting every `interval_ms` from `start`.
fn driven(tracker: TrackerId, seed: u64, start: i64, interval_ms: i64, n: usize) -> Vec<Point> {
    let mut v = trackd_sim::Vehicle::new(seed, start, interval_ms);
    (0..n)
        .map(|_| sample_point(tracker, v.next_sample()))
        .collect()
}

/// A simulated sample as the point ingest would store.
fn sample_point(tracker: TrackerId, s: trackd_sim::Sample) -> Point {
    let mut p = Point::empty(tracker, s.time_ms, s.time_ms);
    p.position = Some(Position {
        lat: s.lat,
        lng: s.lon,
        altitude: Some(s.altitude),
        speed: Some(s.speed_kmh),
        heading: Some(s.course),
        satellites: Some(i32::from(s.satellites)),
        hdop: Some(s.hdop),
        valid: true,
        lbs: false,
    });
    p.ignition = Some(s.ignition);
    p
}

/// Sets the odometers of these trackers, so `counter/value/list` finds a value for each.
async fn start_odometers(bench: &Bench, ids: &[i64], now: i64) -> anyhow::Result<()> {
    let config = CounterConfig::default();
    for id in ids {
        bench
            .store
            .change_counter(
                TrackerId(*id),
                CounterType::Odometer,
                &Change::Set { value: 0.0 },
                now,
                &config,
            )
            .await?;
    }
    Ok(())
}

/// A tracker whose odometer has counted a record every 5 minutes for the last 31 days: a
/// full history for `counter/data/read`.
async fn counter_tracker(bench: &Bench, now: i64) -> anyhow::Result<TrackerId> {
    let (tracker, spec) = sim_tracker(bench, 5_000_001).await?;
    let start = now - 31 * 86_400_000;
    let config = CounterConfig::default();
    let set = Change::Set { value: 1000.0 };
    bench
        .store
        .change_counter(tracker, CounterType::Odometer, &set, start - 1, &config)
        .await?;
    let points = driven(tracker, spec.seed, start, 300_000, 31 * 288);
    for batch in points.chunks(2000) {
        bench
            .store
            .store_points_and_states(batch, &Default::default(), &config)
            .await?;
    }
    Ok(tracker)
}

/// Calls each implemented probe in turn while the fleet's measured window is open (`phase`),
/// one call at a time, as one dashboard user would.
pub async fn measure_api(
    base: String,
    probes: &[Probe],
    mut phase: watch::Receiver<Phase>,
) -> anyhow::Result<Vec<ProbeResult>> {
    let client = reqwest::Client::new();
    let auth: Value = client
        .post(format!("{base}/v2/user/auth"))
        .json(&json!({"login": "bench", "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let hash = auth["hash"]
        .as_str()
        .ok_or_else(|| anyhow!("login failed: {auth}"))?
        .to_owned();
    // The API is measured in the fleet's window, like the acknowledgements. A fleet that
    // ended before its window opened (the sender gone) leaves nothing to measure.
    let _ = phase.wait_for(|p| *p != Phase::Before).await;
    let mut results: Vec<ProbeResult> = probes
        .iter()
        .map(|p| {
            if trackd_api::routes::find(p.path).is_some() {
                ProbeResult::Measured {
                    latencies_us: Vec::new(),
                    first_us: None,
                    errors: 0,
                    last_error: None,
                }
            } else {
                ProbeResult::NotImplemented
            }
        })
        .collect();
    if results
        .iter()
        .all(|r| matches!(r, ProbeResult::NotImplemented))
    {
        let _ = phase.wait_for(|p| *p == Phase::Measured).await;
        return Ok(results);
    }
    'outer: loop {
        for (probe, result) in probes.iter().zip(results.iter_mut()) {
            let ProbeResult::Measured {
                latencies_us,
                first_us,
                errors,
                last_error,
            } = result
            else {
                continue;
            };
            if *phase.borrow() == Phase::Measured {
                break 'outer;
            }
            let mut body = probe.params.clone();
            body["hash"] = Value::String(hash.clone());
            let started = Instant::now();
            let answer = client
                .post(format!("{base}/v2/{}", probe.path))
                .json(&body)
                .send()
                .await;
            let answer = match answer {
                Ok(resp) => resp.bytes().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
            match answer {
                Ok(bytes) if success(&bytes) => match first_us {
                    None => *first_us = Some(micros),
                    Some(_) => latencies_us.push(micros),
                },
                Ok(bytes) => {
                    *errors += 1;
                    *last_error = Some(String::from_utf8_lossy(&bytes).chars().take(200).collect());
                }
                Err(e) => {
                    *errors += 1;
                    *last_error = Some(e);
                }
            }
        }
    }
    Ok(results)
}

/// [`measure_api`] as a dashboard would call: from a thread and runtime of its own. Polled
/// among the simulator's 10,000 device tasks, the client measured their queue as well: at
/// 1,000 records/s the server answered `get_states` in 29 ms at p99 while the client in the
/// simulator's runtime saw 130.
async fn measure_api_on_own_thread(
    base: String,
    probes: Vec<Probe>,
    phase: watch::Receiver<Phase>,
) -> anyhow::Result<Vec<ProbeResult>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("bench-api-client".into())
        .spawn(move || {
            let measured = runtime.block_on(measure_api(base, &probes, phase));
            let _ = done.send(measured);
        })?;
    finished
        .await
        .unwrap_or_else(|_| Err(anyhow!("the API client panicked")))
}

/// Whether an answer says `"success": true`. The server orders keys alphabetically, so it
/// is mostly the last key; parsing every answer whole (10,000 trackers' objects) took a third
/// of the harness process's CPU while the calls ran, on the cores the server shares.
fn success(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"{\"success\":true") || bytes.ends_with(b",\"success\":true}") {
        return true;
    }
    serde_json::from_slice::<Value>(bytes)
        .map(|v| v["success"] == Value::Bool(true))
        .unwrap_or(false)
}

/// The fleet of (d): every device sends `batch` records every `batch * devices / rate`
/// seconds, in real time, out of step with the others.
pub fn paced_fleet(
    bench: &Bench,
    mix: &Mix,
    rate: f64,
    batch: usize,
    warmup: Duration,
    measure: Duration,
) -> ClientArgs {
    // The interval is per record.
    let interval = Duration::from_secs_f64(bench.devices.len() as f64 / rate.max(1.0));
    ClientArgs {
        teltonika: None,
        wialon: None,
        osmand: None,
        devices: bench.devices.len(),
        mix: mix.clone(),
        batch,
        interval_ms: millis(interval).max(1),
        realtime: true,
        duration_ms: millis(warmup + measure),
        warmup_ms: millis(warmup),
        cooldown_ms: millis(COOLDOWN),
    }
}

/// How long (d)'s devices go on after the measured window: longer than any API call takes
/// under ingest (`tracker/list` 250 ms at most), so the last one timed ends under the load it
/// began in. It had ended while the simulator closed its 10,000 connections, and with 60
/// calls of a kind that one call was often the p99.
const COOLDOWN: Duration = Duration::from_secs(2);

/// The paced fleet with nothing else running: the acknowledgement latency the target names,
/// at a load below what the writer sustains.
pub async fn paced(bench: &Bench, fleet: &ClientArgs) -> anyhow::Result<RunFigures> {
    run(bench, fleet, None).await
}

/// The paced fleet with the API probes running alongside.
pub async fn half_load(
    bench: &Bench,
    fleet: &ClientArgs,
) -> anyhow::Result<(RunFigures, Vec<ProbeResult>, Vec<Probe>)> {
    let probes = probes(bench).await?;
    let (phase, phase_rx) = watch::channel(Phase::Before);
    let base = format!("http://{}", bench.server.http_addr);
    let api = measure_api_on_own_thread(base, probes.clone(), phase_rx);
    let sim = run(bench, fleet, Some(&phase));
    let (figures, api) = tokio::join!(sim, api);
    Ok((figures?, api?, probes))
}

#[cfg(test)]
mod tests {
    use super::{as_reported, success};
    use trackd_core::point::Point;
    use trackd_core::TrackerId;

    fn points(tracker: i64, n: i64) -> Vec<Point> {
        (0..n)
            .map(|i| Point::empty(TrackerId(tracker), i * 1000, i * 1000))
            .collect()
    }

    fn keys(commit: &[Point]) -> Vec<(i64, i64)> {
        commit.iter().map(|p| (p.tracker_id.0, p.time)).collect()
    }

    #[test]
    fn each_commit_holds_one_message_of_every_tracker_the_tracks_first() {
        let commits = as_reported(points(1, 25), vec![points(2, 25), points(3, 25)], 10);
        assert_eq!(commits.len(), 3);
        assert_eq!(
            keys(&commits[0])[..11],
            [
                (1, 0),
                (1, 1000),
                (1, 2000),
                (1, 3000),
                (1, 4000),
                (1, 5000),
                (1, 6000),
                (1, 7000),
                (1, 8000),
                (1, 9000),
                (2, 0)
            ]
        );
        assert_eq!(commits[0].len(), 30);
        assert_eq!(keys(&commits[1])[0], (1, 10_000));
        assert_eq!(keys(&commits[1])[10], (2, 10_000));
        assert_eq!(keys(&commits[1])[20], (3, 10_000));
        assert_eq!(
            keys(&commits[2]),
            [
                (1, 20_000),
                (1, 21_000),
                (1, 22_000),
                (1, 23_000),
                (1, 24_000),
                (2, 20_000),
                (2, 21_000),
                (2, 22_000),
                (2, 23_000),
                (2, 24_000),
                (3, 20_000),
                (3, 21_000),
                (3, 22_000),
                (3, 23_000),
                (3, 24_000)
            ]
        );
        let all: usize = commits.iter().map(Vec::len).sum();
        assert_eq!(all, 75, "every point once");
    }

    #[test]
    fn an_answer_is_a_success_only_when_its_own_success_is_true() {
        assert!(success(br#"{"list":[1,2],"success":true}"#));
        assert!(success(br#"{"success":true,"list":[]}"#));
        assert!(success(br#"{ "list": [], "success": true }"#));
        assert!(!success(br#"{"status":{"code":201},"success":false}"#));
        assert!(!success(br#"{"x":{"success":true},"success":false}"#));
        assert!(!success(br#"{"x":{"success":true}}"#));
        assert!(!success(b"not json"));
    }
}
