//! Device-ID resolution and the once-an-hour log of refused devices.

use std::time::Duration;

use trackd_gateway::directory::{Directory, Resolution};

#[tokio::test]
async fn unknown_devices_resolve_and_are_logged_once_an_hour() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = trackd_store::open(&url).await.expect("store");
    let directory = Directory::new(store, Duration::from_secs(60));
    assert_eq!(
        directory.resolve("123").await.expect("resolve"),
        Resolution::Unregistered
    );
    assert!(directory.log_refused("123", Resolution::Unregistered, "teltonika"));
    assert!(
        !directory.log_refused("123", Resolution::Unregistered, "teltonika"),
        "once an hour"
    );
    assert!(
        directory.log_refused("456", Resolution::Blocked, "gt06"),
        "per device"
    );
}
