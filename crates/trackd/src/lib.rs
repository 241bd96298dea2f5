//! trackd as a library: the binary and the end-to-end tests start the same server.

pub mod admin;
pub mod config;
pub mod demo;
pub mod ready;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trackd_api::AppState;
use trackd_core::clock::Clock;
use trackd_core::metrics::Metrics;
use trackd_gateway::{Gateway, Listener};
use trackd_ingest::Ingest;
use trackd_protocol::{Protocol, Transport};
use trackd_store::Store;

pub use config::Config;

/// A running server: its bound addresses and the means to stop it.
pub struct Server {
    pub http_addr: SocketAddr,
    pub state: AppState,
    pub metrics: Arc<Metrics>,
    /// Every device listener, bound.
    pub listeners: Vec<Listener>,
    gateway: Gateway,
    ingest_task: JoinHandle<()>,
    shutdown: watch::Sender<bool>,
    api_task: JoinHandle<std::io::Result<()>>,
}

/// Opens the database named by the configuration, creating the data directory for SQLite.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    }
    trackd_store::open(&url)
        .await
        .with_context(|| format!("opening database {}", redact(&url)))
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Threads of the API's runtime: one per core of this 2-core target, so a slow call (a list of
/// 10,000 trackers) does not hold up the others.
const API_THREADS: usize = 2;

/// Serves the HTTP API on a runtime of its own. On the runtime of the device connections, an
/// API call waited behind hundreds of connection tasks at each of its database round trips
/// whenever ingest was busy; on its own threads the OS scheduler shares the cores between
/// the two fairly. The returned task ends with the server (after `stop` is set).
fn serve_api_on_own_runtime(
    listener: std::net::TcpListener,
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<std::io::Result<()>>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(API_THREADS)
        .thread_name("api")
        .enable_all()
        .build()
        .context("starting the API runtime")?;
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("api-server".into())
        .spawn(move || {
            let served = runtime.block_on(async move {
                // Registered with this runtime's reactor, so its sockets are polled here.
                let listener = tokio::net::TcpListener::from_std(listener)?;
                trackd_api::serve(listener, state, async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await
            });
            let _ = done.send(served);
        })
        .context("starting the API thread")?;
    Ok(tokio::spawn(async move {
        finished
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("the API server panicked")))
    }))
}

impl Server {
    /// Binds every listener and starts serving; returns once the sockets are bound.
    pub async fn start(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Server> {
        let metrics = Arc::new(Metrics::default());
        // One clock for receive times and the API's "now" (tracker statuses compare them).
        let clock = Arc::new(Clock::default());
        let (ingest, ingest_task) = Ingest::start(
            store.clone(),
            config.ingest.clone(),
            config.state.clone(),
            config.counters.clone(),
            metrics.clone(),
        )
        .context("starting the ingest writer")?;
        let gateway = Gateway::start(
            config.gateway.clone(),
            store.clone(),
            ingest,
            metrics.clone(),
            clock.clone(),
        )
        .await?;
        // Bound by tokio (which sets `SO_REUSEADDR`, so a restart binds beside the last run's
        // TIME_WAIT connections), then handed to the API's runtime to be polled there.
        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .with_context(|| format!("binding the HTTP API to {}", config.http.listen))?;
        let http_addr = listener.local_addr()?;
        let listener = listener.into_std()?;
        let state = AppState::build(
            store,
            config.api.clone(),
            metrics.clone(),
            config.state.clone(),
            config.counters.clone(),
            clock,
        );
        let (shutdown, rx) = watch::channel(false);
        let api_task = serve_api_on_own_runtime(listener, state.clone(), rx)?;
        let listeners = gateway.listeners.clone();
        Ok(Server {
            http_addr,
            state,
            metrics,
            listeners,
            gateway,
            ingest_task,
            shutdown,
            api_task,
        })
    }

    /// The address a device protocol listens on.
    pub fn device_addr(&self, protocol: Protocol, transport: Transport) -> Option<SocketAddr> {
        self.gateway.addr(protocol, transport)
    }

    /// Stops in dependency order: devices first (each finishes the frame in hand, so what was
    /// acknowledged is committed), then the ingest writer drains its queue, then the API.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.gateway.stop().await;
        self.ingest_task.await.context("ingest task panicked")?;
        let _ = self.shutdown.send(true);
        self.api_task
            .await
            .context("API task panicked")?
            .context("API server failed")
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact("postgres://trackd:s3cret@db:5432/trackd"),
            "postgres://trackd:***@db:5432/trackd"
        );
        assert_eq!(redact("sqlite://data/trackd.db"), "sqlite://data/trackd.db");
    }
}
