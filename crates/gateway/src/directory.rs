//! Which tracker a device ID belongs to, remembered for a short while so devices that name
//! themselves in every frame do not cost a query per frame. Unknown devices are logged once
//! per hour each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trackd_core::TrackerId;
use trackd_store::{Store, StoreError};

/// What a device ID resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Points are stored for this tracker (the original, not a clone: clones read through it).
    Tracker(TrackerId),
    /// No live tracker has this device ID (never registered, or corrupted).
    Unregistered,
    /// Registered, but its device is blocked.
    Blocked,
}

pub struct Directory {
    store: Arc<dyn Store>,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Resolution, Instant)>>,
    logged: Mutex<HashMap<String, Instant>>,
}

const LOG_EVERY: Duration = Duration::from_secs(3600);
const CACHE_LIMIT: usize = 200_000;

impl Directory {
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Directory {
        Directory {
            store,
            ttl,
            cache: Mutex::new(HashMap::new()),
            logged: Mutex::new(HashMap::new()),
        }
    }

    pub async fn resolve(&self, device_id: &str) -> Result<Resolution, StoreError> {
        let now = Instant::now();
        if let Some((r, at)) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(device_id)
        {
            if now.duration_since(*at) < self.ttl {
                return Ok(*r);
            }
        }
        let trackers = self.store.trackers_by_device_id(device_id).await?;
        let original = trackers.iter().find(|t| !t.clone && !t.deleted);
        let resolution = match original {
            None => Resolution::Unregistered,
            Some(t) if t.source.blocked => Resolution::Blocked,
            Some(t) => Resolution::Tracker(t.id),
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_LIMIT {
            let ttl = self.ttl;
            cache.retain(|_, (_, at)| now.duration_since(*at) < ttl);
        }
        cache.insert(device_id.to_owned(), (resolution, now));
        Ok(resolution)
    }

    /// Logs a message from an unknown or blocked device, at most once an hour per device;
    /// whether it logged this time.
    pub fn log_refused(&self, device_id: &str, resolution: Resolution, protocol: &str) -> bool {
        let now = Instant::now();
        let mut logged = self.logged.lock().unwrap_or_else(|p| p.into_inner());
        if logged
            .get(device_id)
            .is_some_and(|at| now.duration_since(*at) < LOG_EVERY)
        {
            return false;
        }
        if logged.len() >= CACHE_LIMIT {
            logged.retain(|_, at| now.duration_since(*at) < LOG_EVERY);
        }
        logged.insert(device_id.to_owned(), now);
        match resolution {
            Resolution::Blocked => {
                tracing::warn!(device_id, protocol, "blocked device sent data; not stored")
            }
            _ => tracing::warn!(
                device_id,
                protocol,
                "unregistered device sent data; not stored (register it with tracker/register)"
            ),
        }
        true
    }
}
