//! Committed batches freed beside the writers. Dropping a batch's points (each with its map
//! of readings) was about 5 % of the SQLite writer's profile, on the thread every device's
//! acknowledgement waits for; nothing waits for the memory to come back, so a thread of
//! lower priority frees it (`trackd_store::background`).

use std::sync::mpsc::{self, SyncSender, TrySendError};

/// Batches that may wait to be freed: beyond them a writer frees its own (at most
/// `max_batch_points` each, so the memory held back stays bounded).
const WAITING: usize = 4;

/// Takes what a writer is done with; cheap to clone, one per writer. The thread ends once
/// every clone is dropped.
#[derive(Clone)]
pub(crate) struct Reclaimer<T: Send + 'static> {
    queue: SyncSender<T>,
}

impl<T: Send + 'static> Reclaimer<T> {
    pub fn start() -> std::io::Result<Self> {
        let (queue, waiting) = mpsc::sync_channel::<T>(WAITING);
        std::thread::Builder::new()
            .name("ingest-reclaim".into())
            .spawn(move || {
                trackd_store::background::lower_this_threads_priority();
                waiting.iter().for_each(drop);
            })?;
        Ok(Reclaimer { queue })
    }

    /// Frees `done` on the reclaiming thread, or here if it is behind; never waits.
    pub fn reclaim(&self, done: T) {
        match self.queue.try_send(done) {
            Ok(()) => {}
            Err(TrySendError::Full(done) | TrySendError::Disconnected(done)) => drop(done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn what_is_reclaimed_is_freed() {
        let reclaimer = Reclaimer::start().unwrap();
        let held = Arc::new(());
        for _ in 0..100 {
            reclaimer.reclaim(vec![held.clone(), held.clone()]);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&held) > 1 {
            assert!(
                Instant::now() < deadline,
                "{} left",
                Arc::strong_count(&held)
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
