//! The crash test (DESIGN §1: a device is acknowledged only after its data is committed).
//!
//! The real `trackd serve` binary runs as a child process. Simulated Teltonika devices send
//! Codec 8 packets as fast as acknowledgements come back; once ten thousand records are
//! acknowledged the server is killed with SIGKILL while devices are mid-send. It is restarted
//! on the same database, and then every acknowledged record must be stored, exactly once,
//! and the packet each device had in flight must be stored whole or not at all. Devices then
//! reconnect and resend, as real ones do: what was acknowledged is acknowledged again without
//! new points, and afterwards every record ever sent is stored once.
//!
//! The same body runs on SQLite (a temp file, so the restart runs WAL recovery after the kill)
//! and on PostgreSQL (a fresh database on the test cluster).

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::devices::{register, DEADLINE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use trackd::admin::{self, UserSpec};
use trackd_core::TrackerId;
use trackd_protocol::checksum::crc16_arc;
use trackd_protocol::Protocol;
use trackd_store::testing::{fresh_database, PgTestDb};
use trackd_store::Store;

/// Concurrent simulated devices.
const DEVICES: usize = 50;
/// Acknowledged records before the kill: enough for many group commits, few enough for a
/// debug build on two shared cores to get there in seconds.
const KILL_AFTER_ACKED: usize = 10_000;
/// Most records in one packet (Teltonika devices send up to a few dozen; 10 keeps packets
/// varied and small).
const MAX_RECORDS: usize = 10;
/// How long the load may take to reach `KILL_AFTER_ACKED` before the test gives up.
const LOAD_DEADLINE: Duration = Duration::from_secs(120);
/// Record times start here (2025-01-01 UTC) and advance a second per record of a device.
const FIRST_TIME: i64 = 1_735_689_600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("crash.db");
    let url = format!("sqlite://{}", file.display());
    crash_and_recover("sqlite", &url, dir.path(), Some(&file)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_sigkill_on_postgres() {
    // `None` means PostgreSQL is not installed: fresh_database printed SKIPPED (or panicked,
    // with TRACKD_REQUIRE_PG=1).
    let Some(db): Option<PgTestDb> = fresh_database().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    crash_and_recover("postgres", db.url(), dir.path(), None).await;
}

/// `sqlite_file` is the database file on SQLite, to report the WAL the kill left behind.
async fn crash_and_recover(backend: &str, url: &str, dir: &Path, sqlite_file: Option<&Path>) {
    let started = Instant::now();
    let fleet = setup_fleet(url).await;

    // First life: load, then SIGKILL in the middle of it.
    let mut server = TrackdProcess::start(dir, url, 1).await;
    let addr = server.teltonika;
    let (progress, progress_rx) = watch::channel(0usize);
    let progress = Arc::new(progress);
    let killed = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, device) in fleet.iter().enumerate() {
        let (imei, progress, killed) = (device.imei.clone(), progress.clone(), killed.clone());
        tasks.spawn(async move { run_device(addr, index, imei, progress, killed).await });
    }
    let load_started = Instant::now();
    server.wait_for_load(&progress_rx).await;
    // Devices must tell the kill's dropped connections from failures of a live server.
    killed.store(true, Ordering::SeqCst);
    let acked_at_kill = *progress_rx.borrow();
    let load_time = load_started.elapsed();
    server.kill().await;
    // A clean close checkpoints and deletes the WAL; after the kill it is still there, and the
    // restart has to recover it.
    let wal_bytes = sqlite_file.map(|f| {
        let mut wal = f.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len())
    });

    let mut logs = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        logs.push(joined.expect("device task"));
    }
    logs.sort_by_key(|l| l.index);
    let acked_total: usize = logs.iter().map(DeviceLog::acked_records).sum();
    let in_flight_total: usize = logs
        .iter()
        .map(|l| l.in_flight.as_ref().map_or(0, |p| p.times.len()))
        .sum();

    // Second life on the same database: it must come up cleanly (migrations are idempotent;
    // SQLite recovers its WAL).
    let restart = Instant::now();
    let mut server = TrackdProcess::start(dir, url, 2).await;
    let restart_time = restart.elapsed();
    server.assert_running();

    let store = trackd_store::open(url)
        .await
        .expect("open the store after the crash");
    let mut stored_total = 0;
    let mut in_flight_stored = 0;
    for (device, log) in fleet.iter().zip(&logs) {
        let stored = stored_times(store.as_ref(), device.tracker).await;
        in_flight_stored += check_after_crash(backend, log, &stored);
        stored_total += stored.len();
    }

    // Devices reconnect and resend acknowledged packets (a device that did not hear an answer
    // sends again): acknowledged again, and not one point more.
    let addr = server.teltonika;
    let mut resent = tokio::task::JoinSet::new();
    for (device, log) in fleet.iter().zip(logs) {
        let imei = device.imei.clone();
        resent.spawn(async move { resend_acknowledged(addr, imei, log).await });
    }
    let mut devices = Vec::new();
    while let Some(joined) = resent.join_next().await {
        devices.push(joined.expect("reconnecting device"));
    }
    devices.sort_by_key(|(_, l)| l.index);
    let mut after_resend = 0;
    for device in &fleet {
        after_resend += stored_times(store.as_ref(), device.tracker).await.len();
    }
    assert_eq!(
        after_resend, stored_total,
        "{backend}: resending acknowledged packets added points"
    );

    // Then each sends the packet that was in flight, and a new one: after that, every record
    // ever sent is stored once.
    let mut finished = tokio::task::JoinSet::new();
    for (stream, log) in devices {
        finished.spawn(async move { send_the_rest(stream, log).await });
    }
    let mut logs = Vec::new();
    while let Some(joined) = finished.join_next().await {
        logs.push(joined.expect("device after the restart"));
    }
    logs.sort_by_key(|l| l.index);
    let mut final_total = 0;
    for (device, log) in fleet.iter().zip(&logs) {
        let stored = stored_times(store.as_ref(), device.tracker).await;
        let sent: Vec<i64> = log.sent_times().into_iter().collect();
        assert_eq!(
            stored, sent,
            "{backend}: device {} after resending: every record sent is stored once",
            log.index
        );
        final_total += stored.len();
    }
    server.kill().await;
    server.assert_quiet();

    let wal = wal_bytes.map_or(String::new(), |b| format!(", {b}-byte WAL left"));
    println!(
        "crash test on {backend}: {DEVICES} devices, {acked_at_kill} records acknowledged \
         after {load_time:.1?} ({:.0} records/s), then SIGKILL{wal}; {acked_total} acknowledged \
         in all, {in_flight_total} in flight; after restart ({restart_time:.1?}) {stored_total} \
         stored ({in_flight_stored} of those in flight); after resending {final_total}; \
         whole test {:.1?}",
        acked_at_kill as f64 / load_time.as_secs_f64(),
        started.elapsed()
    );
}

/// A registered device.
struct Device {
    imei: String,
    tracker: TrackerId,
}

/// Registers the fleet directly in the store, then drops it (its connections close): during the crash run the
/// server is the only process with the database open, as in production, so on SQLite the
/// restart has to recover the WAL the kill left behind.
async fn setup_fleet(url: &str) -> Vec<Device> {
    let store = trackd_store::open(url).await.expect("open the store");
    admin::create_user(
        store.as_ref(),
        UserSpec {
            login: "fleet".into(),
            password: "correct horse".into(),
            time_zone: "UTC".into(),
            parent: None,
            rights: Vec::new(),
        },
        0,
    )
    .await
    .expect("create user");
    let account = store
        .user_by_login("fleet")
        .await
        .expect("read user")
        .expect("user")
        .id;
    let mut fleet = Vec::with_capacity(DEVICES);
    for i in 0..DEVICES {
        let imei = format!("35630704244{i:04}");
        let tracker = register(store.as_ref(), account, Protocol::Teltonika, &imei).await;
        fleet.push(Device { imei, tracker });
    }
    fleet
}

/// The stored record times of a tracker, oldest first, checked to be distinct and to agree
/// with `count_points`.
async fn stored_times(store: &dyn Store, tracker: TrackerId) -> Vec<i64> {
    let points = store
        .points(tracker, i64::MIN, i64::MAX, 1_000_000)
        .await
        .expect("read points");
    let times: Vec<i64> = points.iter().map(|p| p.time).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "tracker {}: a time is stored twice",
        tracker.0
    );
    let counted = store.count_points(tracker).await.expect("count points");
    assert_eq!(
        counted,
        times.len() as u64,
        "tracker {}: count_points",
        tracker.0
    );
    times
}

/// Checks one device after the crash; returns how many records of its in-flight packet were
/// stored.
fn check_after_crash(backend: &str, log: &DeviceLog, stored: &[i64]) -> usize {
    let stored_set: BTreeSet<i64> = stored.iter().copied().collect();
    let acked: BTreeSet<i64> = log
        .acked
        .iter()
        .flat_map(|p| p.times.iter().copied())
        .collect();
    let missing: Vec<&i64> = acked.difference(&stored_set).collect();
    assert!(
        missing.is_empty(),
        "{backend}: device {} lost {} acknowledged records (times {:?}...): DURABILITY BUG",
        log.index,
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let in_flight: BTreeSet<i64> = log
        .in_flight
        .iter()
        .flat_map(|p| p.times.iter().copied())
        .collect();
    let extra: Vec<&i64> = stored_set.difference(&acked).collect();
    assert!(
        extra.iter().all(|t| in_flight.contains(t)),
        "{backend}: device {} has stored records it never sent: {extra:?}",
        log.index
    );
    // A packet is one submission, committed in one transaction: all of it or nothing.
    assert!(
        extra.is_empty() || extra.len() == in_flight.len(),
        "{backend}: device {} has {} of the {} records of its in-flight packet",
        log.index,
        extra.len(),
        in_flight.len()
    );
    extra.len()
}

/// A Codec 8 packet and the record times it carries.
#[derive(Clone, Debug)]
struct Packet {
    times: Vec<i64>,
    bytes: Vec<u8>,
}

/// What one device sent and heard.
#[derive(Debug)]
struct DeviceLog {
    index: usize,
    /// Packets whose acknowledgement arrived, in order.
    acked: Vec<Packet>,
    /// The packet sent when the connection dropped, unanswered.
    in_flight: Option<Packet>,
    /// Packets sent after the restart (new data).
    later: Vec<Packet>,
}

impl DeviceLog {
    fn acked_records(&self) -> usize {
        self.acked.iter().map(|p| p.times.len()).sum()
    }

    fn sent_times(&self) -> BTreeSet<i64> {
        self.acked
            .iter()
            .chain(&self.in_flight)
            .chain(&self.later)
            .flat_map(|p| p.times.iter().copied())
            .collect()
    }
}

/// The IMEI handshake frame: u16 length, ASCII digits.
fn login_frame(imei: &str) -> Vec<u8> {
    let len = u16::try_from(imei.len()).expect("IMEI length");
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend_from_slice(imei.as_bytes());
    frame
}

/// A Codec 8 AVL packet: zero preamble, data length, codec 8, record count, records, record
/// count, CRC-16/ARC of the data as a u32.
fn codec8_packet(device: usize, times: &[i64]) -> Packet {
    let count = u8::try_from(times.len()).expect("at most 255 records");
    let mut data = vec![0x08, count];
    for &time in times {
        let step = (time - FIRST_TIME) / 1000;
        // A device drifting north-east from a point of its own near Berlin.
        let lat = 52.0 + device as f64 * 0.01 + step as f64 * 1e-5;
        let lon = 13.0 + device as f64 * 0.01 + step as f64 * 1e-5;
        data.extend_from_slice(&u64::try_from(time).expect("time").to_be_bytes());
        data.push(0); // priority: low
        data.extend_from_slice(&((lon * 1e7).round() as i32).to_be_bytes());
        data.extend_from_slice(&((lat * 1e7).round() as i32).to_be_bytes());
        data.extend_from_slice(&42_i16.to_be_bytes()); // altitude, m
        data.extend_from_slice(&45_u16.to_be_bytes()); // angle, degrees
        data.push(9); // satellites: a valid fix
        data.extend_from_slice(&36_u16.to_be_bytes()); // speed, km/h
        data.push(0); // event IO id
        data.push(1); // IO elements in all
        data.extend_from_slice(&[1, 239, 1]); // one 1-byte element: ignition on
        data.extend_from_slice(&[0, 0, 0]); // no 2-, 4- or 8-byte elements
    }
    data.push(count);
    let mut bytes = vec![0, 0, 0, 0];
    bytes.extend_from_slice(&u32::try_from(data.len()).expect("length").to_be_bytes());
    bytes.extend_from_slice(&data);
    bytes.extend_from_slice(&u32::from(crc16_arc(&data)).to_be_bytes());
    Packet {
        times: times.to_vec(),
        bytes,
    }
}

/// Record counts per packet, 1..=MAX_RECORDS, varied but the same on every run (xorshift).
struct Counts(u64);

impl Counts {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % MAX_RECORDS as u64) as usize + 1
    }
}

/// Sends a packet and reads the 4-byte acknowledgement; `None` when the connection failed or
/// no answer came within the deadline.
async fn send_packet(stream: &mut TcpStream, packet: &Packet) -> Option<u32> {
    stream.write_all(&packet.bytes).await.ok()?;
    let mut ack = [0u8; 4];
    match tokio::time::timeout(DEADLINE, stream.read_exact(&mut ack)).await {
        Ok(Ok(_)) => Some(u32::from_be_bytes(ack)),
        _ => None,
    }
}

async fn handshake(addr: SocketAddr, imei: &str) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.write_all(&login_frame(imei)).await.ok()?;
    let mut answer = [0u8; 1];
    match tokio::time::timeout(DEADLINE, stream.read_exact(&mut answer)).await {
        Ok(Ok(_)) if answer == [0x01] => Some(stream),
        _ => None,
    }
}

/// One device of the first life: packets back to back, each after the previous one's
/// acknowledgement, until the connection drops. A drop before the kill is a failure.
async fn run_device(
    addr: SocketAddr,
    index: usize,
    imei: String,
    progress: Arc<watch::Sender<usize>>,
    killed: Arc<AtomicBool>,
) -> DeviceLog {
    let mut log = DeviceLog {
        index,
        acked: Vec::new(),
        in_flight: None,
        later: Vec::new(),
    };
    let Some(mut stream) = handshake(addr, &imei).await else {
        assert!(
            killed.load(Ordering::SeqCst),
            "device {index}: handshake failed on a live server"
        );
        return log;
    };
    let mut counts = Counts(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1));
    let mut next_time = FIRST_TIME;
    loop {
        let n = counts.next();
        let times: Vec<i64> = (0..n as i64).map(|k| next_time + k * 1000).collect();
        next_time += n as i64 * 1000;
        let packet = codec8_packet(index, &times);
        match send_packet(&mut stream, &packet).await {
            Some(ack) => {
                assert_eq!(ack as usize, n, "device {index}: acknowledged record count");
                log.acked.push(packet);
                progress.send_modify(|acked| *acked += n);
            }
            None => {
                assert!(
                    killed.load(Ordering::SeqCst),
                    "device {index}: connection failed or went unanswered on a live server"
                );
                log.in_flight = Some(packet);
                return log;
            }
        }
    }
}

/// One device after the restart: connects again and resends its first and its last
/// acknowledged packet; both must be acknowledged.
async fn resend_acknowledged(
    addr: SocketAddr,
    imei: String,
    log: DeviceLog,
) -> (TcpStream, DeviceLog) {
    let index = log.index;
    let mut stream = handshake(addr, &imei)
        .await
        .unwrap_or_else(|| panic!("device {index}: handshake after the restart"));
    for packet in log.acked.first().into_iter().chain(log.acked.last()) {
        expect_ack(&mut stream, index, packet).await;
    }
    (stream, log)
}

/// Then the packet that was in flight at the kill, and one new packet.
async fn send_the_rest(mut stream: TcpStream, mut log: DeviceLog) -> DeviceLog {
    let index = log.index;
    if let Some(packet) = &log.in_flight {
        expect_ack(&mut stream, index, packet).await;
    }
    let next_time = log.sent_times().last().map_or(FIRST_TIME, |t| t + 1000);
    let new = codec8_packet(index, &[next_time, next_time + 1000]);
    expect_ack(&mut stream, index, &new).await;
    log.later.push(new);
    log
}

async fn expect_ack(stream: &mut TcpStream, index: usize, packet: &Packet) {
    let ack = send_packet(stream, packet)
        .await
        .unwrap_or_else(|| panic!("device {index}: no answer after the restart"));
    assert_eq!(
        ack as usize,
        packet.times.len(),
        "device {index}: acknowledged record count after the restart"
    );
}

/// `trackd serve` as a child process, with its log in a file beside its configuration.
struct TrackdProcess {
    child: Child,
    log_path: PathBuf,
    teltonika: SocketAddr,
}

impl TrackdProcess {
    /// Starts the binary with every listener on 127.0.0.1 port 0 and waits for its ready file.
    async fn start(dir: &Path, url: &str, life: u32) -> TrackdProcess {
        let config = dir.join("trackd.toml");
        std::fs::write(&config, config_toml(dir)).expect("write config");
        // A file of its own per start: the killed server's file stays behind.
        let ready = dir.join(format!("ready-{life}.json"));
        let log_path = dir.join(format!("trackd-{life}.log"));
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_trackd"))
            .arg("--config")
            .arg(&config)
            .arg("--database")
            .arg(url)
            .arg("serve")
            .arg("--ready-file")
            .arg(&ready)
            .env("TRACKD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            // A failing test must not leave a server running.
            .kill_on_drop(true)
            .spawn()
            .expect("start trackd");
        let mut process = TrackdProcess {
            child,
            log_path,
            teltonika: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        let addrs = process.wait_ready(&ready).await;
        process.teltonika = addrs;
        process
    }

    /// Polls for the ready file until the deadline; the child exiting first is a failure.
    async fn wait_ready(&mut self, ready: &Path) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(60);
        let pid = self.child.id().expect("a running child has a pid");
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                panic!(
                    "trackd exited before it was ready ({status})\n{}",
                    self.log()
                );
            }
            // Written atomically by trackd, so a file that exists is complete.
            if let Ok(text) = std::fs::read_to_string(ready) {
                let json: serde_json::Value =
                    serde_json::from_str(&text).expect("ready file is JSON");
                assert_eq!(json["pid"], pid, "the ready file is this process's");
                let addr = json["devices"]
                    .as_array()
                    .expect("devices")
                    .iter()
                    .find(|d| d["protocol"] == "teltonika" && d["transport"] == "tcp")
                    .and_then(|d| d["addr"].as_str())
                    .expect("a Teltonika TCP listener");
                return addr.parse().expect("listener address");
            }
            assert!(
                Instant::now() < deadline,
                "trackd not ready within a minute\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `KILL_AFTER_ACKED` records are acknowledged; the server dying first, or the
    /// deadline passing, is a failure.
    async fn wait_for_load(&mut self, progress: &watch::Receiver<usize>) {
        let mut rx = progress.clone();
        // `wait_for` hands back a guard that holds the value's read lock, and the devices
        // take its write lock to count: keep the guard no longer than this expression.
        let reached = async {
            rx.wait_for(|acked| *acked >= KILL_AFTER_ACKED)
                .await
                .map(|_| ())
        };
        tokio::select! {
            reached = reached => reached.expect("devices hold the sender"),
            status = self.child.wait() => {
                panic!("trackd died under load ({status:?})\n{}", self.log());
            }
            () = tokio::time::sleep(LOAD_DEADLINE) => {
                panic!(
                    "only {} records acknowledged within {LOAD_DEADLINE:?}\n{}",
                    *progress.borrow(),
                    self.log()
                );
            }
        }
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("child status") {
            panic!("trackd exited ({status})\n{}", self.log());
        }
    }

    /// SIGKILL: no destructor, no shutdown path, no flush runs.
    async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        let status = self.child.wait().await.expect("wait for trackd");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt as _;
            assert_eq!(status.signal(), Some(9), "trackd died of SIGKILL");
        }
        #[cfg(not(unix))]
        let _ = status;
    }

    /// Nothing went wrong that the server noticed: no warning or error in its log (plain
    /// text, since stdout is a file).
    fn assert_quiet(&self) {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        assert!(
            !text
                .lines()
                .any(|l| l.contains(" WARN ") || l.contains(" ERROR ")),
            "trackd logged warnings or errors\n{}",
            self.log()
        );
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        format!("--- {} ---\n{text}", self.log_path.display())
    }
}

/// The API and every device listener on 127.0.0.1, port 0.
fn config_toml(dir: &Path) -> String {
    let mut toml = format!(
        "data_dir = {:?}\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[gateway]\nbind = \"127.0.0.1\"\n",
        dir.display().to_string()
    );
    for protocol in Protocol::ALL {
        toml.push_str(&format!(
            "\n[gateway.protocols.{}]\nport = 0\n",
            protocol.key()
        ));
    }
    toml
}
