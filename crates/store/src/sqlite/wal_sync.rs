//! The WAL syncer: with it, an ingest commit returns once it is written and visible, and is
//! durable once a thread of its own has synced the WAL file after it.
//!
//! With `synchronous = FULL` every commit syncs the WAL before it returns, and the ingest
//! writer, which commits one batch after another, waited for the disk each time (a commit's
//! sync was about a quarter of it). The direct writer commits with `NORMAL` instead (written,
//! not synced) and asks for a sync here; the devices of the batch are acknowledged once the
//! sync is done, while the writer is already at the next batch. One sync covers every commit
//! written before it, so requests that queue up while a sync runs share the next one.
//!
//! That is as durable as `FULL` for what is acknowledged: a commit's frames are in the WAL
//! file before the request, and the WAL restarts from its start only after a checkpoint has
//! copied every frame into the database file and synced it. A reader may see a batch before
//! it is durable; a crash then loses a batch no device was acknowledged for, and its devices
//! send it again.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::durable::Durable;
use crate::{Result, StoreError};

type Waiter = oneshot::Sender<Result<()>>;

/// Syncs one WAL file for commits; the thread ends when this is dropped (with the store).
pub(super) struct WalSyncer {
    requests: mpsc::Sender<Waiter>,
}

impl WalSyncer {
    /// Starts the thread syncing the WAL file at `wal`.
    pub fn start(wal: PathBuf) -> std::io::Result<Self> {
        let (requests, waiting) = mpsc::channel();
        std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || run(&wal, &waiting))?;
        Ok(WalSyncer { requests })
    }

    /// After a commit was written: durable at the next sync.
    pub fn after_commit(&self) -> Durable {
        let (synced, waiting) = oneshot::channel();
        // If the thread is gone the waiter is dropped with the request, and waiting says so.
        let _ = self.requests.send(synced);
        Durable::after(waiting)
    }
}

fn run(wal: &Path, requests: &mpsc::Receiver<Waiter>) {
    while let Ok(first) = requests.recv() {
        let mut waiting = vec![first];
        waiting.extend(requests.try_iter());
        let synced = sync(wal).map_err(|e| format!("syncing {}: {e}", wal.display()));
        if let Err(e) = &synced {
            tracing::error!(error = %e, "the WAL could not be synced; its commits are not acknowledged");
        }
        for w in waiting {
            // A waiter that gave up no longer needs its answer.
            let _ = w.send(synced.clone().map_err(StoreError::Database));
        }
    }
}

/// Opened for each sync, so a WAL file made anew is the one synced.
fn sync(wal: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(wal)?
        .sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_request_is_answered_by_a_sync() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let syncer = WalSyncer::start(wal).unwrap();
        let durables: Vec<Durable> = (0..50).map(|_| syncer.after_commit()).collect();
        for d in durables {
            d.wait().await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_failed_sync_is_an_error_for_its_commits() {
        let dir = tempfile::tempdir().unwrap();
        let syncer = WalSyncer::start(dir.path().join("missing-wal")).unwrap();
        let failed = syncer.after_commit().wait().await;
        assert!(
            matches!(&failed, Err(StoreError::Database(m)) if m.contains("missing-wal")),
            "{failed:?}"
        );
    }
}
