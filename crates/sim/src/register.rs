//! Registering simulated devices, straight in the store (as an admin would): the gateway
//! stores data only from registered devices.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinSet;
use trackd_core::tracker::NewTracker;
use trackd_core::{GroupId, TrackerId, UserId};
use trackd_store::{Registration, Store, StoreError};

use crate::{DeviceSpec, SimProtocol};

/// Registrations in flight at once: PostgreSQL overlaps them; SQLite queues them on its one
/// writer anyway.
const CONCURRENCY: usize = 8;

/// Registers every device that has no live tracker yet, under `owner`'s account; returns the
/// tracker of every device, newly registered or not.
pub async fn register(
    store: Arc<dyn Store>,
    owner: UserId,
    devices: &[DeviceSpec],
) -> Result<HashMap<String, TrackerId>, StoreError> {
    let today = today();
    let mut out = HashMap::with_capacity(devices.len());
    let mut tasks: JoinSet<Result<(String, TrackerId), StoreError>> = JoinSet::new();
    for (i, d) in devices.iter().enumerate() {
        if tasks.len() >= CONCURRENCY {
            if let Some(done) = tasks.join_next().await {
                let (id, t) = joined(done)?;
                out.insert(id, t);
            }
        }
        let store = store.clone();
        let spec = d.clone();
        let date = today.clone();
        tasks.spawn(async move {
            let existing = store.trackers_by_device_id(&spec.device_id).await?;
            if let Some(t) = existing.iter().find(|t| !t.clone && !t.deleted) {
                return Ok((spec.device_id, t.id));
            }
            let tracker = store
                .create_tracker(
                    &new_tracker(owner, &spec, i, date),
                    &Registration::default(),
                )
                .await?;
            Ok((spec.device_id, tracker.id))
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (id, t) = joined(done)?;
        out.insert(id, t);
    }
    Ok(out)
}

fn joined(
    done: Result<Result<(String, TrackerId), StoreError>, tokio::task::JoinError>,
) -> Result<(String, TrackerId), StoreError> {
    done.map_err(|e| StoreError::Database(format!("registration task failed: {e}")))?
}

fn new_tracker(owner: UserId, spec: &DeviceSpec, i: usize, creation_date: String) -> NewTracker {
    // Models with a SIM card need a phone number, unique per device: the IMEI's serial.
    let model = trackd_core::catalog::model(spec.protocol.model());
    let phone = model
        .filter(|m| m.has_phone)
        .map(|_| format!("49{}", spec.device_id.get(2..14).unwrap_or(&spec.device_id)));
    let kind = match spec.protocol {
        SimProtocol::Teltonika => "Truck",
        SimProtocol::Wialon => "Van",
        SimProtocol::Osmand => "Courier",
    };
    NewTracker {
        user_id: owner,
        label: format!("{kind} {}", i + 1),
        group_id: GroupId(0),
        device_id: spec.device_id.clone(),
        model: spec.protocol.model().to_owned(),
        phone,
        apn_name: None,
        apn_user: None,
        apn_password: None,
        register_commands_pending: false,
        creation_date,
    }
}

/// Today's date in UTC, `YYYY-MM-DD`.
fn today() -> String {
    let days = crate::run::now_ms().div_euclid(86_400_000);
    let (y, m, d) = crate::encode::wialon::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}
