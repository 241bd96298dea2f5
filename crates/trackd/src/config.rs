//! Configuration: a TOML file, overridden by `TRACKD_*` environment variables, overridden by
//! command-line flags. Every key is documented in docs/configuration.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use trackd_api::ApiConfig;
use trackd_core::counter::CounterConfig;
use trackd_core::state::StateConfig;
use trackd_gateway::GatewayConfig;
use trackd_ingest::IngestConfig;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the embedded SQLite database (and later other state) lives.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; empty means `sqlite://<data_dir>/trackd.db`.
    pub database: String,
    pub http: HttpConfig,
    pub api: ApiConfig,
    pub gateway: GatewayConfig,
    pub ingest: IngestConfig,
    /// Tracker status thresholds (docs/state.md), read by ingest and the API alike.
    pub state: StateConfig,
    /// The counting rules of odometer, engine hours and fuel (docs/counters.md).
    pub counters: CounterConfig,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address of the HTTP API; port 0 picks a free port (the bound address is logged).
    pub listen: SocketAddr,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            database: String::new(),
            http: HttpConfig::default(),
            api: ApiConfig::default(),
            gateway: GatewayConfig::default(),
            ingest: IngestConfig::default(),
            state: StateConfig::default(),
            counters: CounterConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
        }
    }
}

impl Config {
    /// Reads a TOML file; a missing file named explicitly is an error.
    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The database URL, defaulting to the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.is_empty() {
            format!("sqlite://{}", self.data_dir.join("trackd.db").display())
        } else {
            self.database.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_file_values() {
        let c = Config::default();
        assert_eq!(c.database_url(), "sqlite://data/trackd.db");
        let parsed: Config = toml::from_str(
            "data_dir = \"/var/lib/trackd\"\n[http]\nlisten = \"127.0.0.1:0\"\n[api]\nrate_limit_per_second = 5\n",
        )
        .expect("parse");
        assert_eq!(parsed.database_url(), "sqlite:///var/lib/trackd/trackd.db");
        assert_eq!(parsed.http.listen.port(), 0);
        assert_eq!(parsed.api.rate_limit_per_second, 5);
        assert_eq!(parsed.api.max_api_keys, 20);
        let state: Config = toml::from_str("[state]\nparking_after_secs = 120\n").expect("parse");
        assert_eq!(state.state.parking_after_secs, 120);
        assert_eq!(state.state.offline_after_secs, 1800);
        let ingest: Config = toml::from_str("[ingest]\nlinger_ms = 0\n").expect("parse");
        assert_eq!(ingest.ingest.linger_ms, 0);
        assert_eq!(c.ingest.linger_ms, 5);
        assert_eq!(ingest.ingest.max_batch_points, c.ingest.max_batch_points);
        assert!(
            toml::from_str::<Config>("nonsense = 1").is_err(),
            "unknown keys are rejected"
        );
    }
}
