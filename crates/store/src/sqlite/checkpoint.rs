//! Checkpoints beside the writer. SQLite checkpoints a WAL on the connection whose commit
//! pushed it past `wal_autocheckpoint`, so the ingest writer copied 40 MiB into the database
//! file every few commits and the devices of that commit waited for it (commits of more than
//! three times the median were 11 % of the writer's time). Here a connection of its own copies
//! committed pages on a thread of its own, at most every [`GAP`] while commits come; when it
//! has caught up, the writer restarts the WAL at its next `BEGIN`. `PASSIVE` never waits for
//! the writer or the readers, so neither waits for it. The writer's own `wal_autocheckpoint`
//! stays as the backstop that bounds the WAL under sustained load.
//!
//! The gap is for the pages every commit dirties again (a leaf of the points' key index for
//! each tracker, the state and counter rows): copied after every commit, each was copied
//! once a commit; after a gap of several commits, once for all of them. Side by side
//! (BENCHMARKS.md) the server then used 1.32-1.36 cores where it used 1.43-1.52, for 2-9 %
//! more records a second.
//!
//! The thread runs at a lower priority than the rest of trackd (`crate::background`): the
//! writer, which every device's acknowledgement waits for, lost a fifth of its time waiting
//! for a core while this copied pages beside it at the same priority (BENCHMARKS.md, side by
//! side: 120-134k records/s end to end with 1,000 connections where it was 97-112k).

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::direct::error;
use crate::Result;

/// How long a request waits before its checkpoint, gathering the commits that come meanwhile.
/// Durability does not wait for it: the WAL syncer makes each commit durable in the WAL.
const GAP: Duration = Duration::from_millis(250);

/// Asks for checkpoints; the thread ends when this is dropped (with the store).
pub(super) struct Checkpointer {
    wanted: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Opens a connection to the database file at `path` and starts the thread.
    pub(super) fn start(path: &Path) -> Result<Checkpointer> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(error)?;
        let (wanted, requests) = mpsc::channel();
        std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || run(&conn, &requests))
            .map_err(|e| crate::StoreError::Database(format!("the WAL checkpointer: {e}")))?;
        Ok(Checkpointer { wanted })
    }

    /// After a commit: requests made while a checkpoint runs are one more checkpoint.
    pub(super) fn request(&self) {
        // The thread is gone only if a checkpoint panicked; the writer's automatic
        // checkpoints still run.
        let _ = self.wanted.send(());
    }
}

fn run(conn: &Connection, requests: &mpsc::Receiver<()>) {
    crate::background::lower_this_threads_priority();
    while requests.recv().is_ok() {
        std::thread::sleep(GAP);
        // Those that came meanwhile are covered by this one.
        requests.try_iter().for_each(drop);
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            // The writer's automatic checkpoints still run; nothing is lost but speed.
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A thread's name and nice value, from procfs (`comm`, and field 19 of `stat`).
    fn thread(tid: &str) -> Option<(String, i32)> {
        let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        let after_name = &stat[stat.rfind(')')? + 2..];
        let nice = after_name.split(' ').nth(16)?.parse().ok()?;
        Some((name.trim_end().to_owned(), nice))
    }

    fn threads() -> Vec<(String, i32)> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|e| thread(e.ok()?.file_name().to_str()?))
            .collect()
    }

    #[test]
    fn the_checkpointing_thread_alone_runs_at_a_lower_priority() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
            .unwrap();
        let own = thread(&unsafe { libc::gettid() }.to_string()).unwrap().1;
        let checkpointer = Checkpointer::start(&path).unwrap();
        checkpointer.request();
        let lowered = (own + crate::background::NICE).min(19);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !threads().contains(&("wal-checkpoint".to_owned(), lowered)) {
            assert!(Instant::now() < deadline, "threads: {:?}", threads());
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            thread(&unsafe { libc::gettid() }.to_string()).unwrap().1,
            own
        );
    }
}
