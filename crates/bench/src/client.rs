//! The simulated fleet runs in a child process (the harness runs itself with `sim-client`):
//! 10,000 connections need 10,000 descriptors on each side, more than one process may open
//! here, and a process of its own shows the server's and the simulator's CPU apart.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;
use trackd_sim::{Latency, Mix, Phase, SimConfig, SimProtocol, Targets};

/// What the child is told.
#[derive(Clone, Debug, clap::Args)]
pub struct ClientArgs {
    #[arg(long)]
    pub teltonika: Option<SocketAddr>,
    #[arg(long)]
    pub wialon: Option<SocketAddr>,
    #[arg(long)]
    pub osmand: Option<SocketAddr>,
    #[arg(long)]
    pub devices: usize,
    #[arg(long)]
    pub mix: Mix,
    #[arg(long)]
    pub batch: usize,
    #[arg(long)]
    pub interval_ms: u64,
    #[arg(long)]
    pub realtime: bool,
    #[arg(long)]
    pub duration_ms: u64,
    #[arg(long)]
    pub warmup_ms: u64,
    /// How long the devices go on, unmeasured, after the measured window (`SimConfig`).
    #[arg(long, default_value_t = 0)]
    pub cooldown_ms: u64,
}

/// What the child reports.
#[derive(Clone, Debug, Default)]
pub struct SimFigures {
    pub sent: u64,
    pub acked: u64,
    pub window_records: u64,
    pub elapsed: Duration,
    pub latency: Latency,
    pub errors: u64,
    pub connected: u64,
}

impl SimFigures {
    pub fn records_per_second(&self) -> f64 {
        self.window_records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Before => "before",
        Phase::Measuring => "measuring",
        Phase::Measured => "measured",
    }
}

/// The child's side: runs the fleet, prints a `PHASE` line as its measured window opens and
/// closes, and one `RESULT` line.
pub async fn child(args: ClientArgs) -> anyhow::Result<()> {
    let (phase_tx, mut phase_rx) = watch::channel(Phase::Before);
    let devices = trackd_sim::fleet(args.devices, &args.mix, 1);
    let targets = Targets::from_fn(|p, _| match p {
        trackd_protocol::Protocol::Teltonika => args.teltonika,
        trackd_protocol::Protocol::Wialon => args.wialon,
        trackd_protocol::Protocol::Osmand => args.osmand,
        _ => None,
    });
    let config = SimConfig {
        batch: args.batch,
        interval: Duration::from_millis(args.interval_ms),
        realtime: args.realtime,
        duration: Some(Duration::from_millis(args.duration_ms)),
        warmup: Duration::from_millis(args.warmup_ms),
        ack_timeout: Duration::from_secs(120),
        progress: true,
        cooldown: Duration::from_millis(args.cooldown_ms),
        phase: Some(phase_tx),
        ..SimConfig::default()
    };
    // The parent learns when the window opens and closes from these lines.
    let tell = tokio::spawn(async move {
        while phase_rx.changed().await.is_ok() {
            let phase = *phase_rx.borrow_and_update();
            println!("PHASE {}", phase_name(phase));
        }
    });
    let r = trackd_sim::run(devices, &targets, &config, None).await;
    drop(config);
    let _ = tell.await;
    eprintln!("{r}");
    println!(
        "RESULT {} {} {} {} {} {} {} {} {} {}",
        r.records_sent,
        r.records_acked,
        r.window_records,
        r.elapsed.as_micros(),
        r.latency.count,
        r.latency.p50.as_micros(),
        r.latency.p99.as_micros(),
        r.latency.max.as_micros(),
        r.errors,
        r.connected
    );
    Ok(())
}

/// The parent's side: runs a child against `targets` and reads its figures, passing on where
/// its measured window is to `phase`.
pub async fn spawn(
    targets: &Targets,
    args: &ClientArgs,
    phase: Option<&watch::Sender<Phase>>,
) -> anyhow::Result<SimFigures> {
    let exe = std::env::current_exe()?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("sim-client")
        .args(["--devices", &args.devices.to_string()])
        .args(["--mix", &args.mix.to_string()])
        .args(["--batch", &args.batch.to_string()])
        .args(["--interval-ms", &args.interval_ms.to_string()])
        .args(["--duration-ms", &args.duration_ms.to_string()])
        .args(["--warmup-ms", &args.warmup_ms.to_string()])
        .args(["--cooldown-ms", &args.cooldown_ms.to_string()]);
    if args.realtime {
        cmd.arg("--realtime");
    }
    for p in SimProtocol::ALL {
        if let Some(addr) = targets.get(p) {
            cmd.arg(format!("--{p}")).arg(addr.to_string());
        }
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting the simulator process")?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout from the simulator"))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut result = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(rest) = line.strip_prefix("RESULT ") {
            result = Some(rest.to_owned());
        } else if let (Some(name), Some(tx)) = (line.strip_prefix("PHASE "), phase) {
            let told = [Phase::Before, Phase::Measuring, Phase::Measured]
                .into_iter()
                .find(|p| phase_name(*p) == name);
            if let Some(p) = told {
                tx.send_replace(p);
            }
        }
    }
    // However the child ended, its window has.
    if let Some(tx) = phase {
        tx.send_replace(Phase::Measured);
    }
    let status = child.wait().await?;
    if !status.success() {
        bail!("the simulator process failed ({status})");
    }
    let line = result.ok_or_else(|| anyhow!("the simulator printed no result"))?;
    let n: Vec<u64> = line
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(0))
        .collect();
    let [sent, acked, window, elapsed, count, p50, p99, max, errors, connected] = n[..] else {
        bail!("unreadable result {line:?}");
    };
    Ok(SimFigures {
        sent,
        acked,
        window_records: window,
        elapsed: Duration::from_micros(elapsed),
        latency: Latency {
            count: usize::try_from(count).unwrap_or(0),
            p50: Duration::from_micros(p50),
            p99: Duration::from_micros(p99),
            max: Duration::from_micros(max),
        },
        errors,
        connected,
    })
}
