//! (e) Memory per idle connection, measured in a process of its own (the harness runs itself
//! with `idle-probe`), so that memory the earlier stages freed and the allocator kept does not
//! hide what the connections take: a server on a fresh SQLite database, N Teltonika devices
//! that log in (IMEI handshake answered) and then say nothing; resident memory before and
//! after, and the kernel's TCP memory (both ends of loopback).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use tokio::io::AsyncBufReadExt as _;
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

/// Runs in the child process (the server's side; the parent holds the client sockets, as
/// one process may not open 20,000 descriptors here). Talks over stdin/stdout: prints
/// `READY <addr>`, measures its baseline on `BASE`, its memory on `MEASURE <n>`.
pub async fn probe(n: usize) -> anyhow::Result<()> {
    let bench = Bench::start(Backend::Sqlite, n, &Mix::only(SimProtocol::Teltonika))
        .await?
        .ok_or_else(|| anyhow!("SQLite is always there"))?;
    let addr = bench
        .targets()
        .get(SimProtocol::Teltonika)
        .ok_or_else(|| anyhow!("no Teltonika listener"))?;
    println!("READY {addr}");
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let open = || Metrics::get(&bench.server.metrics.connections_open);
    let mut base = (0, 0);
    while let Some(line) = lines.next_line().await? {
        let deadline = Instant::now() + Duration::from_secs(60);
        if line == "BASE" {
            // The warm-up connections have gone: what stays allocated is not theirs.
            while open() > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            base = (sys::rss_bytes(), sys::tcp_kernel_bytes());
            println!("BASED");
        } else if let Some(count) = line.strip_prefix("MEASURE ") {
            let count: u64 = count.parse()?;
            while open() < count && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if open() < count {
                bail!("{} connections open, {count} expected", open());
            }
            // Let the connection tasks settle into their idle read.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (rss1, kernel1) = (sys::rss_bytes(), sys::tcp_kernel_bytes());
            let c = count.max(1) as f64;
            println!(
                "RESULT {} {} {} {}",
                count,
                rss1.saturating_sub(base.0) as f64 / c,
                kernel1.saturating_sub(base.1) as f64 / c,
                rss1
            );
        }
    }
    bench.stop().await
}

/// Connects and logs in every device with plain blocking sockets.
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

/// Runs the server in a child process, opens the connections from here, reads its figures.
pub fn measure(n: usize) -> anyhow::Result<IdleFigures> {
    use std::io::BufRead as _;
    let exe = std::env::current_exe()?;
    let mut child = std::process::Command::new(exe)
        .args(["idle-probe", &n.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()?;
    let mut to_child = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
    let mut from_child =
        std::io::BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?).lines();
    let mut next = || -> anyhow::Result<String> {
        from_child
            .next()
            .ok_or_else(|| anyhow!("the idle probe ended early"))?
            .map_err(Into::into)
    };
    let ready = next()?;
    let addr: std::net::SocketAddr = ready
        .strip_prefix("READY ")
        .ok_or_else(|| anyhow!("idle probe said {ready:?}"))?
        .parse()?;
    let ids: Vec<String> = trackd_sim::fleet(n, &Mix::only(SimProtocol::Teltonika), 1)
        .into_iter()
        .map(|d| d.device_id)
        .collect();
    // Warm the server's runtime and allocator up first, so the baseline already holds what
    // the first connections make it allocate once.
    drop(open(addr, ids.get(..50.min(n)).unwrap_or_default())?);
    writeln!(to_child, "BASE")?;
    next()?;
    let streams = open(addr, &ids)?;
    writeln!(to_child, "MEASURE {}", streams.len())?;
    let line = next()?;
    drop(streams);
    drop(to_child);
    let _ = child.wait();
    let f: Vec<f64> = line
        .strip_prefix("RESULT ")
        .unwrap_or_default()
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
