//! When a commit is on disk.

use tokio::sync::oneshot;

use crate::{Result, StoreError};

/// Resolves once a commit is durable: at once where the commit itself synced the disk, or
/// when a sync after it covers it (SQLite's WAL syncer). Until then a crash may lose the
/// commit, so nothing it stored is acknowledged to a device before.
#[must_use = "a commit is acknowledged only once it is durable"]
pub struct Durable(Option<oneshot::Receiver<Result<()>>>);

impl Durable {
    /// A commit that was durable when it returned.
    pub fn now() -> Self {
        Durable(None)
    }

    /// A commit that is durable once `synced` says so (a store that syncs after committing);
    /// a sender dropped unsent means the sync never ran.
    pub fn after(synced: oneshot::Receiver<Result<()>>) -> Self {
        Durable(Some(synced))
    }

    /// Whether the commit was durable when it returned: nothing to wait for.
    pub fn is_now(&self) -> bool {
        self.0.is_none()
    }

    /// Waits until the commit is on disk; an error if the sync failed or never ran.
    pub async fn wait(self) -> Result<()> {
        match self.0 {
            None => Ok(()),
            Some(synced) => synced.await.unwrap_or_else(|_| {
                Err(StoreError::Unavailable(
                    "the store closed before the commit reached the disk".into(),
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_as_its_sync_says() {
        assert!(Durable::now().is_now());
        assert!(Durable::now().wait().await.is_ok());
        let (synced, waiting) = oneshot::channel();
        synced.send(Ok(())).unwrap();
        let after = Durable::after(waiting);
        assert!(!after.is_now());
        assert!(after.wait().await.is_ok());
        let (failed, waiting) = oneshot::channel();
        failed
            .send(Err(StoreError::Database("disk gone".into())))
            .unwrap();
        let failed = Durable::after(waiting).wait().await;
        assert!(matches!(failed, Err(StoreError::Database(m)) if m == "disk gone"));
        let (never, waiting) = oneshot::channel::<Result<()>>();
        drop(never);
        let never = Durable::after(waiting).wait().await;
        assert!(
            matches!(never, Err(StoreError::Unavailable(_))),
            "{never:?}"
        );
    }
}
