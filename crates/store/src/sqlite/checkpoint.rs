//! Checkpoints beside the writer. SQLite checkpoints a WAL on the connection whose commit
//! pushed it past `wal_autocheckpoint`, so the ingest writer copied 40 MiB into the database
//! file every few commits and the devices of that commit waited for it (commits of more than
//! three times the median were 11 % of the writer's time). Here a connection of its own copies
//! committed pages after every ingest commit, on sqlx's worker thread for that connection,
//! i.e. on the other core; when it has caught up, the writer restarts the WAL at its next
//! `BEGIN`. `PASSIVE` never waits for the writer or the readers, so neither waits for it.
//! The writer's own `wal_autocheckpoint` stays as the backstop and then finds little left
//! to copy.

use std::sync::Arc;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection;
use tokio::sync::{watch, Notify};

/// Asks for a checkpoint; the task ends when this is dropped (with the store).
pub(super) struct Checkpointer {
    wanted: Arc<Notify>,
    _stop: watch::Sender<()>,
}

impl Checkpointer {
    /// Connects and starts the task on the current runtime.
    pub(super) async fn start(options: &SqliteConnectOptions) -> sqlx::Result<Checkpointer> {
        let conn = SqliteConnection::connect_with(options).await?;
        let wanted = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(());
        tokio::spawn(run(conn, wanted.clone(), stopped));
        Ok(Checkpointer {
            wanted,
            _stop: stop,
        })
    }

    /// After a commit: requests made while a checkpoint runs are one more checkpoint.
    pub(super) fn request(&self) {
        self.wanted.notify_one();
    }
}

async fn run(mut conn: SqliteConnection, wanted: Arc<Notify>, mut stopped: watch::Receiver<()>) {
    loop {
        tokio::select! {
            _ = wanted.notified() => {}
            _ = stopped.changed() => break,
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            // The writer's automatic checkpoints still run; nothing is lost but speed.
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
    }
    let _ = conn.close().await;
}
