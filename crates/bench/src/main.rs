//! trackd's benchmark harness: one command, every figure of BENCHMARKS.md side by side.
//!
//! ```sh
//! cargo run --release -p trackd-bench --bin bench            # 3 runs, medians
//! cargo run --release -p trackd-bench --bin bench -- --help
//! ```
//!
//! (a) decoder throughput per protocol on one core; (b) end-to-end persisted records/s over
//! loopback, acknowledged after commit, with 1,000 and 10,000 connections, on SQLite and
//! PostgreSQL; (c) the raw insert rate of the same rows into the same database without trackd,
//! and (b) as a fraction of (c); (d) API latency under concurrent ingest at half the target
//! rate; (e) memory per idle connection. The PostgreSQL is the throwaway cluster of the test
//! support (fsync off), started here; without PostgreSQL binaries its columns say so.

mod client;
mod decode;
mod e2e;
mod idle;
mod raw;
mod sys;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use e2e::{Backend, Bench, ProbeResult};
use trackd_sim::{Latency, Mix, SimProtocol};

/// Allocation-heavy paths (decoded records, sqlx rows, JSON) spent a quarter of the CPU in
/// glibc's malloc and free under load; mimalloc's thread-local heaps cost a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "bench",
    about = "trackd benchmark harness: prints medians of several runs"
)]
struct Args {
    #[command(subcommand)]
    probe: Option<Probe>,
    /// Runs; each figure is the median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds measured per end-to-end run (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Records per device message.
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// Protocol mix of the simulated fleet.
    #[arg(long, default_value = "teltonika:6,wialon:3,osmand:1")]
    mix: Mix,
    /// Connection counts of (b).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    connections: Vec<usize>,
    /// Databases.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// Which parts: any of a, b, c, d, e.
    #[arg(long, default_value = "abcde")]
    only: String,
    /// Seconds per protocol for (a).
    #[arg(long, default_value_t = 1.0)]
    decode_seconds: f64,
    /// Idle connections for (e).
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// The paced rate of (d) on SQLite and on PostgreSQL: half the targets of (b).
    #[arg(long, default_value_t = 50_000.0)]
    half_rate_sqlite: f64,
    #[arg(long, default_value_t = 25_000.0)]
    half_rate_postgres: f64,
}

#[derive(Subcommand)]
enum Probe {
    /// (internal) the idle-connection probe, run in a child process.
    #[command(hide = true)]
    IdleProbe { connections: usize },
    /// (internal) the simulated fleet, run in a child process.
    #[command(hide = true)]
    SimClient(client::ClientArgs),
}

/// Figures of every run, by key; text where a figure cannot be had.
#[derive(Default)]
struct Figures {
    values: BTreeMap<String, Vec<f64>>,
    notes: BTreeMap<String, String>,
}

impl Figures {
    fn put(&mut self, key: impl Into<String>, v: f64) {
        self.values.entry(key.into()).or_default().push(v);
    }
    fn note(&mut self, key: impl Into<String>, text: impl Into<String>) {
        self.notes.insert(key.into(), text.into());
    }
    fn median(&self, key: &str) -> Option<f64> {
        let mut v = self.values.get(key)?.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        })
    }
    fn spread(&self, key: &str) -> Option<(f64, f64)> {
        let v = self.values.get(key)?;
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (v.len() > 1).then_some((min, max))
    }
    /// The median formatted, or the note, or a dash.
    fn cell(&self, key: &str, fmt: impl Fn(f64) -> String) -> String {
        match self.median(key) {
            Some(v) => fmt(v),
            None => self.notes.get(key).cloned().unwrap_or_else(|| "—".into()),
        }
    }
    /// The median with the range of the runs.
    fn cell_range(&self, key: &str, fmt: impl Fn(f64) -> String) -> String {
        match (self.median(key), self.spread(key)) {
            (Some(m), Some((lo, hi))) => format!("{} ({}–{})", fmt(m), fmt(lo), fmt(hi)),
            _ => self.cell(key, fmt),
        }
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

fn to_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (soft, hard) = sys::raise_fd_limit(65_536);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.probe {
        Some(Probe::IdleProbe { connections }) => {
            return runtime.block_on(idle::probe(connections))
        }
        Some(Probe::SimClient(a)) => return runtime.block_on(client::child(a)),
        None => {}
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRACKD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let machine = sys::machine();
    eprintln!("bench: {machine}; open files {soft}/{hard}");
    let figures = runtime.block_on(bench(&args))?;
    print(&args, &figures, &machine, (soft, hard));
    Ok(())
}

fn backends(args: &Args) -> Vec<Backend> {
    args.backends
        .iter()
        .filter_map(|b| match b.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" => Some(Backend::Postgres),
            _ => None,
        })
        .collect()
}

async fn bench(args: &Args) -> anyhow::Result<Figures> {
    let mut f = Figures::default();
    let part = |c: char| args.only.contains(c);
    let warmup = Duration::from_secs_f64(args.warmup);
    let measure = Duration::from_secs_f64(args.seconds);
    let most = args.connections.iter().copied().max().unwrap_or(0);
    for run in 1..=args.runs {
        eprintln!("bench: run {run} of {}", args.runs);
        if part('a') {
            for p in SimProtocol::ALL {
                // On this thread alone: one core.
                let d = decode::measure(p, Duration::from_secs_f64(args.decode_seconds));
                f.put(format!("a/{p}/decode"), d.decode);
                f.put(format!("a/{p}/to_point"), d.to_point);
                f.put(format!("a/{p}/mbs"), d.bytes_per_sec / 1e6);
                f.put(format!("a/{p}/batch"), d.records_per_message as f64);
            }
        }
        for backend in backends(args) {
            let b = backend.name();
            for &conns in &args.connections {
                if !(part('b') || part('c') || (part('d') && conns == most)) {
                    continue;
                }
                eprintln!("bench: {b}, {conns} connections: registering");
                let Some(bench) = Bench::start(backend, conns, &args.mix).await? else {
                    f.note(format!("b/{b}/{conns}/rate"), "PostgreSQL not installed");
                    continue;
                };
                let key = |k: &str| format!("b/{b}/{conns}/{k}");
                if part('b') || part('c') {
                    eprintln!("bench: {b}, {conns} connections: closed loop");
                    let r =
                        e2e::closed_loop(&bench, &args.mix, args.batch, warmup, measure).await?;
                    f.put(key("rate"), r.report.records_per_second());
                    put_latency(&mut f, &key("ack"), r.report.latency);
                    f.put(key("errors"), r.report.errors as f64);
                    f.put(key("connected"), r.report.connected as f64);
                    f.put(key("rows_per_commit"), r.ingest.rows_per_commit());
                    f.put(key("commit_ms"), r.ingest.commit_ms());
                    eprintln!(
                        "bench: {} of {} records acknowledged",
                        r.report.acked, r.report.sent
                    );
                    f.put(key("server_cpu"), r.server_cpu);
                    f.put(key("sim_cpu"), r.sim_cpu);
                }
                if part('c') {
                    eprintln!("bench: {b}, {conns} connections: raw insert");
                    let points = bench.stored_points().await?;
                    let last = |f: &Figures, k: &str| {
                        f.values.get(&key(k)).and_then(|v| v.last()).copied()
                    };
                    let (raw, like_b) = match backend {
                        Backend::Sqlite => {
                            let mut plans = vec![raw::FAST];
                            plans.extend(last(&f, "rows_per_commit").map(raw::Plan::like_b));
                            let mut figures =
                                raw::sqlite(&bench.url, points, &plans).await?.into_iter();
                            (figures.next().context("(c) ran")?, figures.next())
                        }
                        Backend::Postgres => (raw::postgres(&bench.url, points).await?, None),
                    };
                    f.put(format!("c/{b}/{conns}/rate"), raw.rate());
                    f.put(format!("c/{b}/{conns}/rows"), raw.rows as f64);
                    if let Some(e2e) = last(&f, "rate") {
                        f.put(format!("c/{b}/{conns}/ratio"), e2e / raw.rate());
                        if let Some(like_b) = like_b {
                            f.put(format!("c/{b}/{conns}/like_b"), like_b.rate());
                            f.put(format!("c/{b}/{conns}/ratio_like_b"), e2e / like_b.rate());
                        }
                    }
                }
                if part('d') && conns == most {
                    let rate = match backend {
                        Backend::Sqlite => args.half_rate_sqlite,
                        Backend::Postgres => args.half_rate_postgres,
                    };
                    let fleet =
                        e2e::paced_fleet(&bench, &args.mix, rate, args.batch, warmup, measure);
                    eprintln!("bench: {b}: {rate} records/s paced, ingest alone");
                    let alone = e2e::paced(&bench, &fleet).await?;
                    put_latency(&mut f, &format!("d/{b}/ack_alone"), alone.report.latency);
                    if let Some(busy) = alone.machine_cpu {
                        f.put(format!("d/{b}/busy_alone"), busy);
                    }
                    f.put(
                        format!("d/{b}/rate_alone"),
                        alone.report.records_per_second(),
                    );
                    f.put(
                        format!("d/{b}/rows_per_commit_alone"),
                        alone.ingest.rows_per_commit(),
                    );
                    f.put(format!("d/{b}/commit_ms_alone"), alone.ingest.commit_ms());
                    eprintln!("bench: {b}: {rate} records/s paced, with API calls");
                    let (r, results, probes) = e2e::half_load(&bench, &fleet).await?;
                    put_latency(&mut f, &format!("d/{b}/ack"), r.report.latency);
                    if let Some(busy) = r.machine_cpu {
                        f.put(format!("d/{b}/busy"), busy);
                    }
                    f.put(format!("d/{b}/rate"), r.report.records_per_second());
                    f.put(format!("d/{b}/rows_per_commit"), r.ingest.rows_per_commit());
                    f.put(format!("d/{b}/commit_ms"), r.ingest.commit_ms());
                    f.put(format!("d/{b}/errors"), r.report.errors as f64);
                    for (probe, result) in probes.iter().zip(results) {
                        let k = format!("d/{b}/{}", probe.label);
                        match result {
                            ProbeResult::NotImplemented => f.note(
                                format!("{k}/p50"),
                                "not yet measurable: call not implemented",
                            ),
                            ProbeResult::Measured {
                                latencies_us,
                                first_us,
                                errors,
                                last_error,
                            } => {
                                if let Some(first) = first_us {
                                    f.put(format!("{k}/first"), f64::from(first) / 1000.0);
                                }
                                let calls = latencies_us.len();
                                let l = Latency::from_micros(latencies_us);
                                if calls > 0 {
                                    f.put(format!("{k}/p50"), to_ms(l.p50));
                                    f.put(format!("{k}/p99"), to_ms(l.p99));
                                    f.put(format!("{k}/calls"), calls as f64);
                                }
                                if let Some(e) = last_error {
                                    f.note(format!("{k}/p50"), format!("{errors} errors: {e}"));
                                }
                            }
                        }
                    }
                }
                bench.stop().await?;
            }
        }
        if part('e') {
            eprintln!("bench: {} idle connections", args.idle);
            match idle::measure(args.idle) {
                Ok(i) => {
                    f.put("e/rss", i.rss_per_connection);
                    f.put("e/kernel", i.kernel_per_connection);
                    f.put("e/connections", i.connections as f64);
                    f.put("e/rss_total", i.rss_total as f64);
                }
                Err(e) => f.note("e/rss", format!("failed: {e}")),
            }
        }
    }
    Ok(f)
}

fn put_latency(f: &mut Figures, key: &str, l: Latency) {
    if l.count > 0 {
        f.put(format!("{key}/p50"), to_ms(l.p50));
        f.put(format!("{key}/p99"), to_ms(l.p99));
        f.put(format!("{key}/max"), to_ms(l.max));
    }
}

fn print(args: &Args, f: &Figures, machine: &str, fds: (u64, u64)) {
    let part = |c: char| args.only.contains(c);
    println!("# trackd benchmark");
    println!();
    println!(
        "Machine: {machine}; open files raised to {}/{} (soft/hard).",
        fds.0, fds.1
    );
    println!(
        "Medians of {} run(s){}; {} s measured after {} s warm-up per end-to-end run; device \
         messages of {} records; fleet mix {}.",
        args.runs,
        if args.runs > 1 {
            " (range in brackets)"
        } else {
            ""
        },
        args.seconds,
        args.warmup,
        args.batch,
        args.mix
    );
    if part('a') {
        println!();
        println!("## (a) Decoder throughput, one core");
        println!();
        println!("| protocol | records/message | framed + decoded (records/s) | + converted to points (records/s) | input MB/s |");
        println!("|---|---|---|---|---|");
        for p in SimProtocol::ALL {
            let k = |s: &str| format!("a/{p}/{s}");
            println!(
                "| {p} | {} | {} | {} | {} |",
                f.cell(&k("batch"), |v| format!("{v:.0}")),
                f.cell_range(&k("decode"), thousands),
                f.cell_range(&k("to_point"), thousands),
                f.cell(&k("mbs"), |v| format!("{v:.0}")),
            );
        }
    }
    let bks = backends(args);
    if part('b') || part('c') {
        println!();
        println!("## (b) End to end and (c) raw insert");
        println!();
        let mut header = String::from("| | ");
        let mut line = String::from("|---|");
        let mut cols = Vec::new();
        for b in &bks {
            for c in &args.connections {
                header.push_str(&format!("{} {} conns | ", b.name(), thousands(*c as f64)));
                line.push_str("---|");
                cols.push((b.name(), *c));
            }
        }
        println!("{}", header.trim_end());
        println!("{line}");
        let row = |label: &str, cell: &dyn Fn(&str, usize) -> String| {
            let cells: Vec<String> = cols.iter().map(|(b, c)| cell(b, *c)).collect();
            println!("| {label} | {} |", cells.join(" | "));
        };
        row("(b) records/s persisted, acked after commit", &|b, c| {
            f.cell_range(&format!("b/{b}/{c}/rate"), thousands)
        });
        row("ack latency p50 / p99 / max (ms)", &|b, c| {
            let k = |s: &str| format!("b/{b}/{c}/ack/{s}");
            format!(
                "{} / {} / {}",
                f.cell(&k("p50"), ms),
                f.cell(&k("p99"), ms),
                f.cell(&k("max"), ms)
            )
        });
        row("devices connected / errors (median)", &|b, c| {
            let k = |s: &str| format!("b/{b}/{c}/{s}");
            format!(
                "{} / {}",
                f.cell(&k("connected"), thousands),
                f.cell(&k("errors"), thousands)
            )
        });
        row("rows per commit (mean)", &|b, c| {
            f.cell(&format!("b/{b}/{c}/rows_per_commit"), thousands)
        });
        row("commit time (mean ms)", &|b, c| {
            f.cell(&format!("b/{b}/{c}/commit_ms"), ms)
        });
        row("CPU used, cores: server + simulator", &|b, c| {
            let k = |s: &str| format!("b/{b}/{c}/{s}");
            format!(
                "{} + {}",
                f.cell(&k("server_cpu"), |v| format!("{v:.2}")),
                f.cell(&k("sim_cpu"), |v| format!("{v:.2}"))
            )
        });
        if part('c') {
            row(
                "(c) raw insert rows/s (same rows, 50k-row commits)",
                &|b, c| f.cell_range(&format!("c/{b}/{c}/rate"), thousands),
            );
            row("rows inserted raw", &|b, c| {
                f.cell(&format!("c/{b}/{c}/rows"), thousands)
            });
            let percent = |v: f64| format!("{:.0} %", v * 100.0);
            row("(b) / (c)", &|b, c| {
                f.cell(&format!("c/{b}/{c}/ratio"), percent)
            });
            row(
                "(c′) raw insert rows/s in commits like (b)'s (SQLite: its mean rows a commit, by message; syncs left out, as trackd syncs beside the writer)",
                &|b, c| f.cell_range(&format!("c/{b}/{c}/like_b"), thousands),
            );
            row("(b) / (c′): trackd's own work", &|b, c| {
                f.cell(&format!("c/{b}/{c}/ratio_like_b"), percent)
            });
        }
        row("target (b)", &|b, _| {
            if b == "sqlite" {
                "≥ 100,000 and ≥ 50 % of (c)"
            } else {
                "≥ 50,000 and ≥ 50 % of (c)"
            }
            .into()
        });
    }
    if part('d') {
        println!();
        println!("## (d) Under concurrent ingest at half the target rate (10,000 paced devices)");
        println!();
        let mut header = String::from("| | ");
        let mut line = String::from("|---|");
        for b in &bks {
            header.push_str(&format!("{} p50 / p99 (ms) | ", b.name()));
            line.push_str("---|");
        }
        println!("{}target p99 |", header);
        println!("{line}---|");
        let cells_of = |k: &str| -> String {
            let p50 = f.cell(&format!("{k}/p50"), ms);
            if f.median(&format!("{k}/p50")).is_none() {
                p50
            } else {
                format!("{p50} / {}", f.cell(&format!("{k}/p99"), ms))
            }
        };
        let cells = |key: &dyn Fn(&str) -> String| -> String {
            bks.iter()
                .map(|b| cells_of(&key(b.name())))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let rates: Vec<String> = bks
            .iter()
            .map(|b| f.cell(&format!("d/{}/rate", b.name()), thousands))
            .collect();
        let rates_alone: Vec<String> = bks
            .iter()
            .map(|b| f.cell(&format!("d/{}/rate_alone", b.name()), thousands))
            .collect();
        println!(
            "| ingest alone: achieved (records/s) | {} | |",
            rates_alone.join(" | ")
        );
        println!(
            "| ingest alone: device acknowledgement | {} | 100 |",
            cells(&|b| format!("d/{b}/ack_alone"))
        );
        println!(
            "| with the API calls: ingest achieved (records/s) | {} | |",
            rates.join(" | ")
        );
        println!(
            "| with the API calls: device acknowledgement | {} | 100 |",
            cells(&|b| format!("d/{b}/ack"))
        );
        // Fewer, larger commits cost the database less per row, leaving more for the API.
        for (label, key) in [("ingest alone", "_alone"), ("with the API calls", "")] {
            let commits: Vec<String> = bks
                .iter()
                .map(|b| {
                    format!(
                        "{} ({} ms each)",
                        f.cell(&format!("d/{}/rows_per_commit{key}", b.name()), |v| {
                            format!("{v:.0}")
                        }),
                        f.cell(&format!("d/{}/commit_ms{key}", b.name()), |v| {
                            format!("{v:.1}")
                        })
                    )
                })
                .collect();
            println!("| {label}: rows per commit | {} | |", commits.join(" | "));
        }
        // Everything on the machine: where both cores are busy, a call waits for one.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        for (label, key) in [
            ("ingest alone", "busy_alone"),
            ("with the API calls", "busy"),
        ] {
            let busy: Vec<String> = bks
                .iter()
                .map(|b| {
                    f.cell(&format!("d/{}/{key}", b.name()), |v| {
                        format!("{v:.2} of {cores}")
                    })
                })
                .collect();
            println!(
                "| {label}: the machine's cores busy (every process) | {} | |",
                busy.join(" | ")
            );
        }
        for (label, target) in [
            ("tracker/list (all trackers)", "—"),
            ("tracker/get_states (2000 trackers)", "20"),
            ("tracker/counter/value/list (1000)", "10"),
            ("tracker/counter/data/read (31 days)", "100"),
            ("track/read (10,000 points)", "50"),
        ] {
            // With a few dozen calls in a run, p99 is its slowest call or nearly: the count
            // says how much to make of it. The first call of a run, on cold caches, is
            // apart.
            let timed: Vec<String> = bks
                .iter()
                .map(|b| {
                    let k = format!("d/{}/{label}", b.name());
                    match (
                        f.median(&format!("{k}/calls")),
                        f.median(&format!("{k}/first")),
                    ) {
                        (Some(n), Some(first)) => format!(
                            "{} ({} calls; first {})",
                            cells_of(&k),
                            n.round(),
                            ms(first)
                        ),
                        (Some(n), None) => format!("{} ({} calls)", cells_of(&k), n.round()),
                        _ => cells_of(&k),
                    }
                })
                .collect();
            println!("| {label} | {} | {target} |", timed.join(" | "));
        }
    }
    if part('e') {
        println!();
        println!("## (e) Idle connections");
        println!();
        let n = f.median("e/connections").unwrap_or(args.idle as f64);
        let rss = f.median("e/rss");
        let kernel = f.median("e/kernel");
        println!(
            "| | per connection | for {} connections | target |",
            thousands(n)
        );
        println!("|---|---|---|---|");
        let kib = |v: f64| format!("{:.1} KiB", v / 1024.0);
        let mib = |v: f64| format!("{:.1} MiB", v * n / 1024.0 / 1024.0);
        println!(
            "| server resident memory | {} | {} | |",
            f.cell("e/rss", kib),
            rss.map(mib).unwrap_or_else(|| "—".into())
        );
        println!(
            "| kernel TCP buffers (both ends) | {} | {} | |",
            f.cell("e/kernel", kib),
            kernel.map(mib).unwrap_or_else(|| "—".into())
        );
        println!(
            "| total | | {} | < 200 MiB |",
            rss.zip(kernel)
                .map(|(r, k)| mib(r + k))
                .unwrap_or_else(|| "—".into())
        );
    }
}
