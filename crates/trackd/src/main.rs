//! The `trackd` command: `serve` runs the server; the other subcommands administer it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use trackd::{admin, now_ms, Config, Server};

/// Allocation-heavy paths (decoded records, sqlx rows, JSON) spent a quarter of the CPU in
/// glibc's malloc and free under load; mimalloc's thread-local heaps cost a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "trackd",
    version,
    about = "GPS-tracking platform server (Navixy API v2 compatible)"
)]
struct Cli {
    /// Configuration file (TOML). Defaults apply where it is silent.
    #[arg(long, global = true, env = "TRACKD_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER:PASS@HOST/DB.
    #[arg(long, global = true, env = "TRACKD_DATABASE")]
    database: Option<String>,
    /// Data directory (holds the SQLite database by default).
    #[arg(long, global = true, env = "TRACKD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: the HTTP API, the device listeners and the ingest writer.
    Serve {
        /// Address of the HTTP API (port 0 picks a free one).
        #[arg(long, env = "TRACKD_HTTP_LISTEN")]
        listen: Option<std::net::SocketAddr>,
        /// Once the API and every device listener are bound, write their addresses to this
        /// file as JSON (for supervisors and tests that use port 0).
        #[arg(long, env = "TRACKD_READY_FILE")]
        ready_file: Option<PathBuf>,
        /// Also create a `demo` user (password printed) with a handful of simulated devices
        /// driving in-process, and print ready curl calls.
        #[arg(long)]
        demo: bool,
    },
    /// Simulate devices against a running trackd: N trackers with a protocol mix drive routes
    /// and send over real sockets; prints records/s, acknowledgement latency and errors.
    Sim(SimArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Import bundles (pre-configured devices for tracker/register_quick) from a CSV file:
    /// imei,model[,phone[,apn_name[,apn_user[,apn_password]]]].
    ImportBundles { file: PathBuf },
    /// Create an activation code for tracker/register (plugins 37 and 44); prints the code.
    ActivationCode {
        /// The code; a random one when omitted.
        #[arg(long)]
        code: Option<String>,
        /// How many devices it may register.
        #[arg(long, default_value_t = 1)]
        devices: i64,
        /// Days of service it grants (sets the tariff end date).
        #[arg(long)]
        free_days: Option<i64>,
    },
    /// Block or unblock a tracker, set its tariff end date, or clone it to another user.
    #[command(subcommand)]
    Tracker(TrackerCommand),
    /// Show or set the installation's device limit ("none" removes it).
    DeviceLimit { limit: Option<String> },
}

#[derive(Args)]
struct SimArgs {
    /// Simulated devices.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Protocol weights: teltonika, wialon and osmand.
    #[arg(long, default_value = "teltonika:6,wialon:3,osmand:1")]
    mix: trackd_sim::Mix,
    /// Seconds between two records of a device (on the device's clock).
    #[arg(long, default_value_t = 10.0)]
    interval: f64,
    /// Records per message (Teltonika packet, Wialon black box, pipelined OsmAnd requests).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Send each message as soon as the last is acknowledged instead of waiting the interval
    /// (a load test; the devices' clocks still advance by the interval per record).
    #[arg(long)]
    fast: bool,
    /// Stop each device after this many records.
    #[arg(long)]
    records: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds at the start left out of records/s and latencies.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Host the device listeners run on; the ports are the configured ones.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Register the simulated devices to this user first, in the database (--database,
    /// --data-dir or --config, as for `serve`); without it they must be registered already.
    #[arg(long)]
    owner: Option<String>,
    /// Serial number of the first device's IMEI (the same serial gives the same devices).
    #[arg(long, default_value_t = 1)]
    first_serial: u64,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a master user, or a sub-user with --parent and --rights.
    Create(CreateUser),
    /// List users.
    List,
}

#[derive(Args)]
struct CreateUser {
    #[arg(long)]
    login: String,
    #[arg(long, env = "TRACKD_NEW_USER_PASSWORD")]
    password: String,
    /// IANA time zone for the user's times.
    #[arg(long, default_value = "UTC")]
    time_zone: String,
    /// The master user this sub-user belongs to.
    #[arg(long)]
    parent: Option<String>,
    /// Rights of a sub-user, comma-separated (tracker_update,tracker_register,...).
    #[arg(long, value_delimiter = ',')]
    rights: Vec<String>,
}

#[derive(Subcommand)]
enum TrackerCommand {
    Block {
        id: i64,
    },
    Unblock {
        id: i64,
    },
    /// Set the tariff end date (YYYY-MM-DD) or "none".
    TariffEnd {
        id: i64,
        date: String,
    },
    /// Clone a tracker to another user's account: both see the same device.
    Clone {
        id: i64,
        #[arg(long)]
        to: String,
        #[arg(long)]
        label: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRACKD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // Colour codes are for people at a terminal; in a log file or a pipe they are noise
        // that every reader has to strip.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let cli = Cli::parse();
    let mut config = match &cli.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(db) = cli.database {
        config.database = db;
    }
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }

    match cli.command {
        Command::Serve {
            listen,
            ready_file,
            demo,
        } => {
            if let Some(listen) = listen {
                config.http.listen = listen;
            }
            return serve(config, ready_file, demo).await;
        }
        Command::Sim(args) => return simulate(args, &config).await,
        _ => {}
    }

    let out = administer(cli.command, &config).await?;
    println!("{}", out.trim_end());
    Ok(())
}

/// Runs an admin subcommand and returns what to print.
async fn administer(command: Command, config: &Config) -> anyhow::Result<String> {
    let store = trackd::open_store(config).await?;
    let store = store.as_ref();
    Ok(match command {
        Command::Serve { .. } | Command::Sim(_) => {
            anyhow::bail!("serve and sim are not admin commands")
        }
        Command::User(UserCommand::Create(u)) => {
            let spec = admin::UserSpec {
                login: u.login,
                password: u.password,
                time_zone: u.time_zone,
                parent: u.parent,
                rights: u.rights,
            };
            admin::create_user(store, spec, now_ms()).await?
        }
        Command::User(UserCommand::List) => admin::list_users(store).await?,
        Command::ImportBundles { file } => {
            let csv = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            admin::import_bundles(store, &csv).await?
        }
        Command::ActivationCode {
            code,
            devices,
            free_days,
        } => admin::create_activation_code(store, code, devices, free_days).await?,
        Command::Tracker(TrackerCommand::Block { id }) => {
            admin::set_blocked(store, id, true).await?
        }
        Command::Tracker(TrackerCommand::Unblock { id }) => {
            admin::set_blocked(store, id, false).await?
        }
        Command::Tracker(TrackerCommand::TariffEnd { id, date }) => {
            let date = (date != "none").then_some(date);
            admin::set_tariff_end(store, id, date.as_deref()).await?
        }
        Command::Tracker(TrackerCommand::Clone { id, to, label }) => {
            admin::clone_tracker(store, id, &to, label.as_deref()).await?
        }
        Command::DeviceLimit { limit } => {
            let limit = match limit.as_deref() {
                None => None,
                Some("none") => Some(None),
                Some(n) => Some(Some(
                    n.parse::<i64>()
                        .context("the limit must be a number or 'none'")?,
                )),
            };
            admin::device_limit(store, limit).await?
        }
    })
}

async fn serve(config: Config, ready_file: Option<PathBuf>, demo: bool) -> anyhow::Result<()> {
    if let Some(path) = &ready_file {
        // A file left by an earlier run must not announce this one before it is ready.
        trackd::ready::remove(path)?;
    }
    let store = trackd::open_store(&config).await?;
    let first_user = store.users().await?.is_empty();
    let server = Server::start(config.clone(), store.clone()).await?;
    tracing::info!(database = %trackd::redact(&config.database_url()), "storage ready");
    tracing::info!("HTTP API listening on http://{}/v2/", server.http_addr);
    for l in &server.listeners {
        tracing::info!(
            protocol = l.protocol.key(),
            transport = l.transport.key(),
            "devices listening on {}",
            l.addr
        );
    }
    let demo = if demo {
        let d = trackd::demo::Demo::start(&server, store, Duration::from_secs(2)).await?;
        println!("{}", d.instructions(server.http_addr));
        Some(d)
    } else {
        None
    };
    if first_user && demo.is_none() {
        tracing::info!(
            "no users yet: create one with `trackd user create --login admin --password <secret>` \
             (same --database/--data-dir), then POST /v2/user/auth"
        );
    }
    if let Some(path) = &ready_file {
        let contents = trackd::ready::contents(&server, std::process::id());
        if let Err(e) = trackd::ready::write(path, &contents) {
            // Whoever waits for the file would wait forever: better to stop and say why.
            if let Err(stop) = server.stop().await {
                tracing::warn!(error = %stop, "stopping after the ready file failed");
            }
            return Err(e);
        }
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some(d) = demo {
        d.stop().await?;
    }
    let stopped = server.stop().await;
    if let Some(path) = &ready_file {
        // Stopped means no longer ready; a failure to remove the file is only worth a warning.
        if let Err(e) = trackd::ready::remove(path) {
            tracing::warn!(error = %e, "could not remove the ready file");
        }
    }
    stopped
}

/// `trackd sim`: registers the devices if asked, runs them, prints the report.
async fn simulate(args: SimArgs, config: &Config) -> anyhow::Result<()> {
    let devices = trackd_sim::fleet(args.devices, &args.mix, args.first_serial);
    if let Some(owner) = &args.owner {
        let store = trackd::open_store(config).await?;
        let user = store.user_by_login(owner).await?.ok_or_else(|| {
            anyhow::anyhow!("no user '{owner}' (create one with `trackd user create`)")
        })?;
        let ids = trackd_sim::register(store, user.account(), &devices).await?;
        eprintln!("{} devices registered to {owner}", ids.len());
    }
    let targets = trackd_sim::Targets::from_fn(|p, _| {
        config
            .gateway
            .port(p)
            .map(|port| std::net::SocketAddr::new(args.host, port))
    });
    let seconds = |s: f64| Duration::try_from_secs_f64(s).context("a duration in seconds");
    let sim = trackd_sim::SimConfig {
        batch: args.batch,
        interval: seconds(args.interval)?,
        realtime: !args.fast,
        records_per_device: args.records,
        duration: args.duration.map(seconds).transpose()?,
        warmup: seconds(args.warmup)?,
        progress: true,
        ..trackd_sim::SimConfig::default()
    };
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let report = trackd_sim::run(devices, &targets, &sim, Some(stop_rx)).await;
    println!("{report}");
    if report.records_sent > 0 && report.records_acked == 0 {
        anyhow::bail!("no record was acknowledged: is trackd running and are the devices registered (--owner)?");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
