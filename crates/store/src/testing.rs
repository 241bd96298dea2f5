//! A throwaway PostgreSQL for tests (feature `testing`).
//!
//! [`fresh_database`] hands each test its own new database on a cluster that the test support
//! starts itself, so tests run in parallel without seeing each other's rows.
//!
//! # One cluster per run, shared by the run's test processes
//!
//! nextest runs every test in its own process, so a cluster per process would pay `initdb`
//! and a server start for every test. Instead all test processes built from one checkout
//! share one cluster in `$TMPDIR/trackd-pg-<uid>-<hash of checkout and binaries>/`:
//!
//! - `lock`: every decision about the cluster is taken under an exclusive `flock` on it.
//! - `clients/<pid>`: each test process that uses the cluster registers its PID here.
//! - `pg/`: owned by the `postgres` user when we are root (`initdb` and `pg_ctl` refuse root);
//!   holds `data/`, the unix socket (`listen_addresses = ''`: no TCP port to collide on) and
//!   the server log.
//! - `keeper.pid`: a small detached shell loop (the keeper) that owns the cluster's lifetime.
//!   Every second it takes the lock, forgets registered PIDs that are gone, and once no
//!   registered process has been alive for a few seconds it stops the server
//!   (`pg_ctl stop -m immediate`), deletes `pg/` and exits.
//!
//! A test process, under the lock, registers itself; if the keeper is alive and the server
//! answers (`pg_isready`), it uses the cluster as it is (a few milliseconds). Otherwise it
//! cleans up whatever a crashed run left (kills a leftover keeper, stops a leftover server,
//! deletes `pg/`), runs `initdb`, starts the server with fsync off, and starts a keeper.
//! So `initdb` runs once per run; the cluster goes away seconds after the run's last test
//! process ends, however it ended (a killed test process cannot run a destructor or an
//! `atexit` handler, which is why stopping is the keeper's job and not a `Drop`'s); and a
//! crashed run is cleaned up by the next one. Test databases are not dropped one by one:
//! they go with the cluster.
//!
//! The binaries are found in `$TRACKD_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`,
//! else `pg_config --bindir`. Without them [`fresh_database`] prints a loud
//! `SKIPPED: PostgreSQL not found` and returns `None`, unless `TRACKD_REQUIRE_PG=1`, when it
//! panics. A cluster that fails to start always panics: that is a failure, not a skip.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::io::AsRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use sqlx::{Connection as _, Executor as _, PgConnection};

/// A database of its own for one test.
pub struct PgTestDb {
    url: String,
    name: String,
}

impl PgTestDb {
    /// The `postgres://` URL to pass to [`crate::open`].
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Waits until every transaction committed so far is on disk. The test cluster commits
/// asynchronously (`synchronous_commit = off`), and until its commit record is flushed a
/// transaction's rows cannot be marked all-visible by `VACUUM`: one synchronous commit flushes
/// the WAL up to itself, so up to every commit before it.
pub async fn flush_commits(conn: &mut PgConnection) -> sqlx::Result<()> {
    let mut tx = conn.begin().await?;
    tx.execute("SET LOCAL synchronous_commit = on").await?;
    // A transaction that writes no WAL commits without a flush, whatever the setting: a
    // temporary table's catalog rows are WAL, and it is gone with the commit.
    tx.execute("CREATE TEMPORARY TABLE flush_commits () ON COMMIT DROP")
        .await?;
    tx.commit().await
}

/// A new empty database, or `None` when PostgreSQL is not installed (see the module docs).
pub async fn fresh_database() -> Option<PgTestDb> {
    let server = tokio::task::spawn_blocking(server)
        .await
        .unwrap_or_else(|e| panic!("test PostgreSQL: {e}"));
    let socket = match server {
        Server::Ready { socket } => socket,
        Server::Missing(why) => {
            if std::env::var("TRACKD_REQUIRE_PG").as_deref() == Ok("1") {
                panic!("PostgreSQL is required (TRACKD_REQUIRE_PG=1) but not usable: {why}");
            }
            eprintln!(
                "\n********************************************************************\n\
                 SKIPPED: PostgreSQL not found ({why}).\n\
                 Install postgresql or set TRACKD_PG_BIN; TRACKD_REQUIRE_PG=1 makes this fail.\n\
                 ********************************************************************"
            );
            return None;
        }
        Server::Failed(why) => panic!("test PostgreSQL failed to start: {why}"),
    };
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!(
        "t_{}_{}_{nanos:x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let url_of = |db: &str| format!("postgres://postgres@localhost:{PORT}/{db}?host={socket}");
    let mut admin = PgConnection::connect(&url_of("postgres"))
        .await
        .unwrap_or_else(|e| panic!("test PostgreSQL at {socket}: {e}"));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    let _ = admin.close().await;
    Some(PgTestDb {
        url: url_of(&name),
        name,
    })
}

/// The socket file is `<socket dir>/.s.PGSQL.<port>`; nothing listens on TCP.
const PORT: u16 = 5432;
/// Seconds without a live registered test process before the keeper stops the cluster.
const LINGER_SECONDS: u32 = 5;
/// Names the keeper in `ps` and `/proc/<pid>/cmdline`, so a reused PID is not taken for it.
const KEEPER_NAME: &str = "trackd-pg-keeper";

#[derive(Clone)]
enum Server {
    Ready { socket: String },
    Missing(String),
    Failed(String),
}

/// The cluster, set up once per process.
fn server() -> Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let Some(bin) = find_bin() else {
                return Server::Missing("no initdb and pg_ctl found".into());
            };
            let run_as = match RunAs::detect() {
                Ok(r) => r,
                Err(e) => return Server::Missing(e),
            };
            match ensure_cluster(&bin, &run_as) {
                Ok(socket) => Server::Ready { socket },
                Err(e) => Server::Failed(e),
            }
        })
        .clone()
}

fn find_bin() -> Option<PathBuf> {
    let usable = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("TRACKD_PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|d| usable(d));
    }
    let newest = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: f64 = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| usable(bin))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, bin)| bin);
    newest.or_else(|| {
        let out = Command::new("pg_config").arg("--bindir").output().ok()?;
        let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
        Some(dir).filter(|d| out.status.success() && usable(d))
    })
}

/// Who runs the server: ourselves, or the `postgres` user when we are root.
enum RunAs {
    Me,
    Postgres { uid: u32, gid: u32 },
}

impl RunAs {
    fn detect() -> Result<Self, String> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(RunAs::Me);
        }
        let id = |flag: &str| -> Result<u32, String> {
            let out = Command::new("id")
                .args([flag, "postgres"])
                .output()
                .map_err(|e| format!("id: {e}"))?;
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .map_err(|_| "running as root and there is no postgres user".to_string())
        };
        Ok(RunAs::Postgres {
            uid: id("-u")?,
            gid: id("-g")?,
        })
    }

    fn command(&self, program: &Path) -> Command {
        match self {
            RunAs::Me => Command::new(program),
            RunAs::Postgres { .. } => {
                let mut c = Command::new("runuser");
                c.args([OsStr::new("-u"), OsStr::new("postgres"), OsStr::new("--")])
                    .arg(program);
                c
            }
        }
    }

    fn give(&self, path: &Path) -> Result<(), String> {
        match self {
            RunAs::Me => Ok(()),
            RunAs::Postgres { uid, gid } => std::os::unix::fs::chown(path, Some(*uid), Some(*gid))
                .map_err(|e| format!("chown {}: {e}", path.display())),
        }
    }
}

/// FNV-1a: a stable short name for this checkout and these binaries.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn state_dir(bin: &Path) -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let key = fnv(&[
        env!("CARGO_MANIFEST_DIR").as_bytes(),
        bin.as_os_str().as_encoded_bytes(),
    ]);
    std::env::temp_dir().join(format!("trackd-pg-{uid}-{key:016x}"))
}

/// Makes sure the shared cluster runs and this process is registered with it; returns the
/// socket directory.
fn ensure_cluster(bin: &Path, run_as: &RunAs) -> Result<String, String> {
    let dir = state_dir(bin);
    let io = |what: &str, e: std::io::Error| format!("{what} in {}: {e}", dir.display());
    fs::create_dir_all(dir.join("clients")).map_err(|e| io("mkdir", e))?;
    let lock = File::options()
        .create(true)
        .append(true)
        .open(dir.join("lock"))
        .map_err(|e| io("lock file", e))?;
    // SAFETY: flock on a file descriptor we own; it is released when `lock` is closed.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io("flock", std::io::Error::last_os_error()));
    }
    fs::write(
        dir.join("clients").join(std::process::id().to_string()),
        b"",
    )
    .map_err(|e| io("register", e))?;

    let pg = dir.join("pg");
    let socket = pg.join("sock");
    let socket_str = socket
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", socket.display()))?
        .to_owned();
    if keeper_alive(&dir) && ready(bin, &socket) {
        return Ok(socket_str);
    }

    // Whatever an earlier run left behind goes: a keeper, a server, the data.
    if let Some(pid) = keeper_pid(&dir).filter(|p| is_keeper(*p)) {
        // SAFETY: kill with a PID we just checked is our keeper.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let data = pg.join("data");
    if data.join("postmaster.pid").exists() {
        let _ = run_as
            .command(&bin.join("pg_ctl"))
            .args([
                OsStr::new("stop"),
                OsStr::new("-m"),
                OsStr::new("immediate"),
            ])
            .arg("-D")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    if pg.exists() {
        fs::remove_dir_all(&pg).map_err(|e| io("remove old cluster", e))?;
    }
    fs::create_dir_all(&socket).map_err(|e| io("mkdir", e))?;
    run_as.give(&pg)?;
    run_as.give(&socket)?;
    // postgres must reach pg/ through our directory.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).map_err(|e| io("chmod", e))?;

    run(run_as
        .command(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        ]))?;
    let mut conf = File::options()
        .append(true)
        .open(data.join("postgresql.conf"))
        .map_err(|e| io("postgresql.conf", e))?;
    // Speed over durability: the data lives for one test run.
    write!(
        conf,
        "\nlisten_addresses = ''\nunix_socket_directories = '{socket_str}'\nport = {PORT}\n\
         fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
         max_connections = 200\nshared_buffers = 32MB\n"
    )
    .map_err(|e| io("postgresql.conf", e))?;
    drop(conf);
    run(run_as
        .command(&bin.join("pg_ctl"))
        .args(["start", "-w", "-t", "60", "-D"])
        .arg(&data)
        .arg("-l")
        .arg(pg.join("log")))
    .map_err(|e| {
        let log = fs::read_to_string(pg.join("log")).unwrap_or_default();
        format!("{e}\nserver log:\n{log}")
    })?;

    let keeper = Command::new("sh")
        .arg("-c")
        .arg(KEEPER)
        .arg(KEEPER_NAME)
        .arg(&dir)
        .arg(bin)
        .arg(if matches!(run_as, RunAs::Postgres { .. }) {
            "runuser"
        } else {
            ""
        })
        .arg(LINGER_SECONDS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a test runner that kills a test's group spares it.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting the keeper: {e}"))?;
    fs::write(dir.join("keeper.pid"), keeper.id().to_string()).map_err(|e| io("keeper.pid", e))?;
    Ok(socket_str)
}

/// Stops the cluster once no registered test process is left; see the module docs.
/// Arguments: state dir, bin dir, "runuser" when the server runs as postgres, linger seconds.
const KEEPER: &str = r#"
dir=$1 bin=$2 runuser=$3 linger=$4 idle=0
exec 9>>"$dir/lock"
while sleep 1; do
    flock 9
    [ "$(cat "$dir/keeper.pid" 2>/dev/null)" = "$$" ] || exit 0
    live=0
    for f in "$dir"/clients/*; do
        [ -e "$f" ] || continue
        if kill -0 "${f##*/}" 2>/dev/null; then live=1; else rm -f "$f"; fi
    done
    if [ "$live" = 1 ]; then idle=0; else idle=$((idle + 1)); fi
    if [ "$idle" -ge "$linger" ]; then
        if [ -n "$runuser" ]; then
            runuser -u postgres -- "$bin/pg_ctl" stop -D "$dir/pg/data" -m immediate
        else
            "$bin/pg_ctl" stop -D "$dir/pg/data" -m immediate
        fi
        rm -rf "$dir/pg" "$dir/keeper.pid"
        exit 0
    fi
    flock -u 9
done
"#;

fn keeper_pid(dir: &Path) -> Option<i32> {
    fs::read_to_string(dir.join("keeper.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn is_keeper(pid: i32) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            c.split(|b| *b == 0)
                .any(|arg| arg == KEEPER_NAME.as_bytes())
        })
        .unwrap_or(false)
}

fn keeper_alive(dir: &Path) -> bool {
    keeper_pid(dir).is_some_and(is_keeper)
}

fn ready(bin: &Path, socket: &Path) -> bool {
    Command::new(bin.join("pg_isready"))
        .arg("-q")
        .arg("-h")
        .arg(socket)
        .args(["-p", &PORT.to_string(), "-U", "postgres"])
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
