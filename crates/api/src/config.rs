//! The API's settings, with the defaults documented in docs/configuration.md.

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Largest request body accepted; larger ones answer error 9.
    pub max_body_bytes: usize,
    /// Requests per second allowed per user and, separately, per client address (error 15).
    pub rate_limit_per_second: u32,
    /// A session unused this long has ended (error 4). API keys never expire.
    pub session_idle_days: u32,
    /// Failed logins per login name or client address before `user/auth` answers 105.
    pub login_max_failures: u32,
    /// How long failed logins are remembered, in seconds.
    pub login_failure_window_secs: u64,
    /// API keys a master user may hold (error 268 beyond).
    pub max_api_keys: usize,
    /// Sessions one user may hold at once (error 104 beyond).
    pub max_sessions_per_user: usize,
    /// The registration plugins offered by `plugin/list` and accepted by `tracker/register`.
    pub registration_plugins: Vec<u32>,
    /// The longest period `track/read` and `track/list` answer, in days (error 211 beyond).
    pub max_track_days: u32,
    /// The longest period `tracker/sensor/data/read` answers, in days (error 211 beyond):
    /// Navixy's `maxReportTimeSpan`, 30 days by default.
    pub max_sensor_data_days: u32,
    /// The longest period `tracker/counter/data/read` answers, in days (error 211 beyond).
    /// Navixy refuses more than 31 days with error 7 whatever this says, so only a smaller
    /// value ever answers 211.
    pub max_counter_data_days: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 1024 * 1024,
            rate_limit_per_second: 50,
            session_idle_days: 30,
            login_max_failures: 5,
            login_failure_window_secs: 15 * 60,
            max_api_keys: 20,
            max_sessions_per_user: 100,
            registration_plugins: vec![44, 37],
            max_track_days: 30,
            max_sensor_data_days: 30,
            max_counter_data_days: 31,
        }
    }
}
