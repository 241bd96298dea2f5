//! `trackd serve --demo`: the server plus a `demo` user and a handful of simulated devices
//! driving in-process, so a first look at the API shows trackers with live data.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trackd_api::auth::{hash_password, new_hash};
use trackd_core::TrackerId;
use trackd_sim::{fleet, DeviceSpec, Mix, Report, SimConfig, SimProtocol, Targets};
use trackd_store::Store;

use crate::admin::{self, UserSpec};
use crate::Server;

pub const LOGIN: &str = "demo";
/// Serial numbers of the demo's IMEIs: far from `trackd sim`'s defaults, so both can run
/// against one database.
const FIRST_SERIAL: u64 = 900_000_000;

/// The demo's devices: two Teltonika trucks, two Wialon vans and a phone.
pub fn devices() -> Vec<DeviceSpec> {
    let mut out = Vec::new();
    for (protocol, n) in [
        (SimProtocol::Teltonika, 2),
        (SimProtocol::Wialon, 2),
        (SimProtocol::Osmand, 1),
    ] {
        let first = FIRST_SERIAL + out.len() as u64;
        out.extend(fleet(n, &Mix::only(protocol), first));
    }
    out
}

pub struct Demo {
    pub login: String,
    pub password: String,
    pub trackers: Vec<(DeviceSpec, TrackerId)>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Report>,
}

/// Where a client on this machine reaches a listener bound to `addr` (a wildcard bind is
/// reached through loopback).
pub fn local(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip = match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}

impl Demo {
    /// Creates (or resets the password of) the `demo` user, registers the demo devices to it
    /// and starts them, each sending a record every `interval`.
    pub async fn start(
        server: &Server,
        store: Arc<dyn Store>,
        interval: Duration,
    ) -> anyhow::Result<Demo> {
        // A fresh password each start: it is printed, never stored in clear.
        let password = new_hash()
            .get(..12)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("session hash too short"))?;
        let user = match store.user_by_login(LOGIN).await? {
            Some(u) => {
                let hash =
                    hash_password(&password).map_err(|_| anyhow!("hashing the password failed"))?;
                store.set_password_hash(u.id, &hash).await?;
                u
            }
            None => {
                admin::create_user(
                    store.as_ref(),
                    UserSpec {
                        login: LOGIN.into(),
                        password: password.clone(),
                        time_zone: "UTC".into(),
                        parent: None,
                        rights: Vec::new(),
                    },
                    crate::now_ms(),
                )
                .await?;
                store
                    .user_by_login(LOGIN)
                    .await?
                    .ok_or_else(|| anyhow!("the demo user vanished"))?
            }
        };
        let devices = devices();
        let ids = trackd_sim::register(store.clone(), user.id, &devices)
            .await
            .context("registering the demo devices")?;
        let trackers = devices
            .iter()
            .filter_map(|d| Some((d.clone(), *ids.get(&d.device_id)?)))
            .collect();
        let targets = Targets::from_fn(|p, t| server.device_addr(p, t).map(local));
        let config = SimConfig {
            interval,
            realtime: true,
            // A demo keeps going through a server restart or a slow moment.
            max_retries: u32::MAX,
            ..SimConfig::default()
        };
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            trackd_sim::run(devices, &targets, &config, Some(stop_rx)).await
        });
        Ok(Demo {
            login: LOGIN.into(),
            password,
            trackers,
            stop,
            task,
        })
    }

    /// What to print: the login and calls ready to paste.
    pub fn instructions(&self, http: SocketAddr) -> String {
        let base = format!("http://{}", local(http));
        let (login, password) = (&self.login, &self.password);
        let first = self.trackers.first().map(|(_, t)| t.0).unwrap_or(1);
        format!(
            "\nDemo: {} simulated devices are driving (Teltonika, Wialon IPS, OsmAnd).\n\
             Log in as '{login}' with password '{password}':\n\n  \
             HASH=$(curl -s {base}/v2/user/auth -d login={login} -d password={password} | sed -E 's/.*\"hash\":\"([^\"]+)\".*/\\1/')\n  \
             curl -s {base}/v2/tracker/list -H \"Authorization: NVX $HASH\"\n  \
             curl -s {base}/v2/tracker/read -H \"Authorization: NVX $HASH\" -d tracker_id={first}\n  \
             curl -s {base}/v2/user/get_info -H \"Authorization: NVX $HASH\"\n  \
             curl -s {base}/metrics\n",
            self.trackers.len()
        )
    }

    /// Stops the devices (each finishes the message in hand) and returns what they did.
    pub async fn stop(self) -> anyhow::Result<Report> {
        let _ = self.stop.send(true);
        self.task.await.context("demo devices panicked")
    }
}
