//! The Navixy API v2 surface of trackd.
//!
//! Every call goes through [`dispatch`]: the path picks a [`routes::Route`], parameters are read
//! from the JSON body, form body or query string, the `hash` is resolved to a caller, the
//! route's right is checked, and the handler's [`Reply`] or [`ApiError`] is rendered in the
//! Navixy envelope. One module per resource path holds the handlers.

pub mod api_key;
pub mod auth;
mod body;
pub mod clock;
pub mod config;
pub mod error;
pub mod limits;
pub mod params;
pub mod plugin;
pub mod response;
pub mod routes;
pub mod tag;
pub mod time;
pub mod track;
pub mod tracker;
pub mod user;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use trackd_core::counter::CounterConfig;
use trackd_core::metrics::Metrics;
use trackd_core::state::StateConfig;
use trackd_core::UserId;
use trackd_store::Store;

pub use auth::Caller;
pub use clock::Clock;
pub use config::ApiConfig;
pub use error::ApiError;
pub use params::Params;
pub use response::Reply;
pub use time::TimeFormat;

use limits::{LoginThrottle, RateLimiter};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub config: ApiConfig,
    /// The thresholds of the tracker statuses (shared with ingest).
    pub state_config: StateConfig,
    /// The counting rules (shared with ingest): a counter change folds by them.
    pub counter_config: CounterConfig,
    /// Shared with the gateway, which stamps receive times by it.
    pub clock: Arc<Clock>,
    ip_limiter: RateLimiter<IpAddr>,
    user_limiter: RateLimiter<UserId>,
    pub(crate) login_throttle: LoginThrottle,
    /// The state objects `get_states` answered, kept while unchanged.
    pub(crate) rendered_states: tracker::rendered::RenderedStates,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: ApiConfig) -> Self {
        Self::with_metrics(store, config, Arc::new(Metrics::default()))
    }

    pub fn with_metrics(store: Arc<dyn Store>, config: ApiConfig, metrics: Arc<Metrics>) -> Self {
        Self::build(
            store,
            config,
            metrics,
            StateConfig::default(),
            CounterConfig::default(),
            Arc::new(Clock::default()),
        )
    }

    /// Everything given: the server passes the clock its gateway stamps receive times by.
    pub fn build(
        store: Arc<dyn Store>,
        config: ApiConfig,
        metrics: Arc<Metrics>,
        state_config: StateConfig,
        counter_config: CounterConfig,
        clock: Arc<Clock>,
    ) -> Self {
        AppState(Arc::new(Inner {
            metrics,
            ip_limiter: RateLimiter::new(config.rate_limit_per_second),
            user_limiter: RateLimiter::new(config.rate_limit_per_second),
            login_throttle: LoginThrottle::new(
                config.login_max_failures,
                Duration::from_secs(config.login_failure_window_secs),
            ),
            store,
            config,
            state_config,
            counter_config,
            clock,
            rendered_states: Default::default(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// One call in progress.
pub struct Ctx {
    pub state: AppState,
    pub params: Params,
    pub caller: Option<Caller>,
    pub time: TimeFormat,
    pub peer: IpAddr,
}

impl Ctx {
    pub fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }
    pub fn now(&self) -> i64 {
        self.state.clock.now()
    }
    /// The authenticated caller; routes that need none never ask.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().ok_or_else(|| ApiError::new(3))
    }
    /// The account (master user) the caller acts on.
    pub fn account(&self) -> Result<UserId, ApiError> {
        Ok(self.caller()?.user.account())
    }
}

/// The router: `/metrics` for Prometheus, every other path goes to [`dispatch`].
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .fallback(dispatch)
        .with_state(state)
}

/// Prometheus text format. Unauthenticated, like most exporters: keep the API port off the
/// public internet or filter `/metrics` at the proxy.
async fn metrics(State(state): State<AppState>) -> Response {
    let mut resp = state.metrics.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// Serves the API on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// `/v2/tracker/list/` -> `tracker/list`; `None` without a known prefix.
fn call_name(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/v2/")
        .or_else(|| path.strip_prefix("/api-v2/"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    (!rest.is_empty()).then_some(rest)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let result = handle(state, peer, req).await;
    let response = match result {
        Ok(reply) => response::json_bytes(StatusCode::OK, reply.into_bytes()),
        Err(err) => {
            tracing::debug!(path = %path, code = err.code, "call failed");
            err.into_response()
        }
    };
    tracing::trace!(path = %path, elapsed_us = started.elapsed().as_micros() as u64, "call");
    response
}

async fn handle(state: AppState, peer: IpAddr, req: Request) -> Result<Reply, ApiError> {
    let now = Instant::now();
    if !state.ip_limiter.allow(&peer, now) {
        return Err(ApiError::new(15));
    }
    let route = call_name(req.uri().path())
        .and_then(routes::find)
        .ok_or_else(|| ApiError::new(111))?;

    let (parts, body) = req.into_parts();
    let limit = state.config.max_body_bytes;
    let declared = header_str(&parts.headers, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.parse::<usize>().ok());
    let bytes = body::read(body, limit, declared).await?;
    let params = Params::parse(
        parts.uri.query(),
        header_str(&parts.headers, header::CONTENT_TYPE.as_str()),
        &bytes,
    )?;

    let mut time = TimeFormat::default();
    let iso_header = header_str(&parts.headers, "nvx-iso-datetime")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let iso_param = params
        .get("iso_datetime")
        .and_then(|v| params::as_bool(v).ok())
        .unwrap_or(false);
    time.iso = iso_header || iso_param;

    let caller = match route.access {
        routes::Access::Public => None,
        access => {
            let hash = auth::find_hash(&params, &parts.headers)?;
            let caller = auth::authenticate(&state, &hash, access).await?;
            if !state.user_limiter.allow(&caller.user.id, now) {
                return Err(ApiError::new(15));
            }
            if let Some(right) = route.right {
                if !caller.user.rights.has(right) {
                    return Err(ApiError::new(13));
                }
            }
            if let Some(tz) = time::parse_zone(&caller.user.time_zone) {
                time.tz = tz;
            }
            Some(caller)
        }
    };

    let ctx = Ctx {
        state,
        params,
        caller,
        time,
        peer,
    };
    (route.handler)(ctx).await
}

#[cfg(test)]
mod tests {
    use super::call_name;

    #[test]
    fn both_prefixes_and_trailing_slash() {
        assert_eq!(call_name("/v2/tracker/list"), Some("tracker/list"));
        assert_eq!(call_name("/v2/tracker/list/"), Some("tracker/list"));
        assert_eq!(
            call_name("/api-v2/tracker/counter/value/list"),
            Some("tracker/counter/value/list")
        );
        assert_eq!(call_name("/tracker/list"), None);
        assert_eq!(call_name("/v2/"), None);
    }
}
