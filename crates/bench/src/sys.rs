//! The machine: descriptor limits, memory, CPU time, and what the OS allows.

use std::time::Duration;

/// Raises the open-file limit as far as allowed: 10,000 device connections need 10,000
/// descriptors in the server and as many in the simulator of the same process. Root may
/// raise the hard limit too. Returns (soft, hard) after the change.
pub fn raise_fd_limit(want: u64) -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write and read a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return (0, 0);
        }
        let raised = libc::rlimit {
            rlim_cur: want.max(lim.rlim_cur),
            rlim_max: want.max(lim.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            // Not root: the soft limit can still go up to the hard one.
            let soft = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &soft);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    (lim.rlim_cur, lim.rlim_max)
}

/// Resident memory of this process, bytes.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Kernel memory held by TCP sockets of the whole machine (both ends of loopback), bytes.
pub fn tcp_kernel_bytes() -> u64 {
    let stat = std::fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    // "TCP: inuse 36 orphan 0 tw 0 alloc 51 mem 152": mem counts pages.
    let pages = stat
        .lines()
        .find(|l| l.starts_with("TCP:"))
        .and_then(|l| {
            let mut it = l.split_whitespace();
            while let Some(w) = it.next() {
                if w == "mem" {
                    return it.next()?.parse::<u64>().ok();
                }
            }
            None
        })
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

/// CPU time this process used so far (user + system).
pub fn cpu_time() -> Duration {
    rusage(libc::RUSAGE_SELF)
}

/// CPU time of the child processes that have ended (the simulator runs in one).
pub fn children_cpu_time() -> Duration {
    rusage(libc::RUSAGE_CHILDREN)
}

fn rusage(who: libc::c_int) -> Duration {
    // SAFETY: getrusage writes a struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The machine's CPU time so far in clock ticks, busy and in all (`/proc/stat`): every
/// process's, the database server's and the simulator's too.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let n: Vec<u64> = line
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is within user).
    let [user, nice, system, idle, iowait, irq, softirq, steal, ..] = n[..] else {
        return None;
    };
    let busy = user + nice + system + irq + softirq + steal;
    Some((busy, busy + idle + iowait))
}

/// The cores busy on average between two [`machine_ticks`].
pub fn cores_busy(from: (u64, u64), to: (u64, u64)) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let total = to.1.saturating_sub(from.1).max(1) as f64;
    to.0.saturating_sub(from.0) as f64 / total * cores
}

/// A one-paragraph description of the machine and its relevant OS limits.
pub fn machine() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem_kb = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease");
    format!(
        "{cores} cores ({model}), {:.1} GiB RAM, Linux {}; somaxconn {}, tcp_max_syn_backlog {}, \
         ephemeral ports {}",
        mem_kb as f64 / 1024.0 / 1024.0,
        kernel.trim(),
        read("/proc/sys/net/core/somaxconn").trim(),
        read("/proc/sys/net/ipv4/tcp_max_syn_backlog").trim(),
        read("/proc/sys/net/ipv4/ip_local_port_range")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("-"),
    )
}
