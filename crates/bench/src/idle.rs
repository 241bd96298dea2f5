//! (e) Memory per idle connection, measured in a process of its own (the harness runs itself
//! with `idle-probe`), so that memory the earlier stages freed and the allocator kept does not
//! hide what the connections take: a server on a fresh SQLite database, N Teltonika devices
//! that log in (IMEI handshake answered) and then say nothing; resident memory before and
//! after, and the kernel's TCP memory (both ends of loopback).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use trackd_core::metrics::Metrics;
use trackd_sim::encode::teltonika;
use trackd_sim::{Mix, SimProtocol};

use crate::e2e::{Backend, Bench};
use crate::sys;

pub struct IdleFigures {
    pub connections: usize,
    pub rss_per_connection: f64,
    pub kernel_per_connection: f64,
    pub rss_total: u64,
}

/// Runs in the child process; prints one line `connections rss_delta kernel_delta rss_total`.
pub async fn probe(n: usize) -> anyhow::Result<()> {
    let bench = Bench::start(Backend::Sqlite, n, &Mix::only(SimProtocol::Teltonika))
        .await?
        .ok_or_else(|| anyhow!("SQLite is always there"))?;
    let addr = bench
        .targets()
        .get(SimProtocol::Teltonika)
        .ok_or_else(|| anyhow!("no Teltonika listener"))?;
    let ids: Vec<String> = bench.devices.iter().map(|d| d.device_id.clone()).collect();
    // Warm up the runtime and the allocator with a few connections first, so the baseline
    // already holds what the first connection makes the server allocate once.
    let warm = ids.iter().take(50).cloned().collect::<Vec<_>>();
    let kept = tokio::task::spawn_blocking(move || open(addr, &warm)).await??;
    drop(kept);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Metrics::get(&bench.server.metrics.connections_open) > 0 {
        if Instant::now() > deadline {
            bail!("warm-up connections did not close");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (rss0, kernel0) = (sys::rss_bytes(), sys::tcp_kernel_bytes());
    let streams = tokio::task::spawn_blocking(move || open(addr, &ids)).await??;
    let open_now = Metrics::get(&bench.server.metrics.connections_open);
    if open_now < streams.len() as u64 {
        bail!("{open_now} connections open, {} expected", streams.len());
    }
    // Let the connection tasks settle into their idle read.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss1, kernel1) = (sys::rss_bytes(), sys::tcp_kernel_bytes());
    let count = streams.len().max(1);
    println!(
        "{} {} {} {}",
        streams.len(),
        rss1.saturating_sub(rss0) as f64 / count as f64,
        kernel1.saturating_sub(kernel0) as f64 / count as f64,
        rss1
    );
    drop(streams);
    bench.stop().await
}

/// Connects and logs in every device with plain blocking sockets: the client side then
/// costs this process a descriptor and a few bytes per connection, not a task.
fn open(addr: std::net::SocketAddr, ids: &[String]) -> anyhow::Result<Vec<TcpStream>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.write_all(&teltonika::login(id))?;
        let mut ack = [0u8; 1];
        s.read_exact(&mut ack)?;
        if ack[0] != teltonika::LOGIN_ACK {
            bail!("login of {id} answered {ack:?}");
        }
        out.push(s);
    }
    Ok(out)
}

/// Runs the probe in a child process and reads its line.
pub fn measure(n: usize) -> anyhow::Result<IdleFigures> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .args(["idle-probe", &n.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("idle probe failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match f.as_slice() {
        [conns, rss, kernel, total] => Ok(IdleFigures {
            connections: *conns as usize,
            rss_per_connection: *rss,
            kernel_per_connection: *kernel,
            rss_total: *total as u64,
        }),
        _ => bail!("idle probe said {line:?}"),
    }
}
