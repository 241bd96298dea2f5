//! A trackd server on port 0 with a fresh SQLite database, and a client that makes Navixy
//! calls in each of the three parameter encodings.
#![allow(dead_code)]

pub mod devices;

use std::sync::Arc;

use serde_json::{json, Map, Value};
use trackd::admin::{self, UserSpec};
use trackd::{Config, Server};
use trackd_store::Store;

pub struct TestApp {
    pub server: Server,
    pub base: String,
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// How parameters travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enc {
    Json,
    Form,
    Query,
}

pub const ENCODINGS: [Enc; 3] = [Enc::Json, Enc::Form, Enc::Query];

pub const PASSWORD: &str = "correct horse";

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            http: trackd::config::HttpConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
            },
            gateway: trackd_gateway::GatewayConfig {
                bind: [127, 0, 0, 1].into(),
                ..Default::default()
            }
            .any_ports(),
            ..Config::default()
        };
        // Tests make many calls quickly from one address; the limit has tests of its own.
        config.api.rate_limit_per_second = 100_000;
        tweak(&mut config);
        let store = trackd::open_store(&config).await.expect("open store");
        let server = Server::start(config, store.clone())
            .await
            .expect("start server");
        let base = format!("http://{}", server.http_addr);
        TestApp {
            server,
            base,
            store,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// Creates a master user (or a sub-user of `parent` with `rights`).
    pub async fn user(&self, login: &str, parent: Option<&str>, rights: &[&str]) {
        admin::create_user(
            self.store.as_ref(),
            UserSpec {
                login: login.into(),
                password: PASSWORD.into(),
                time_zone: "Europe/Berlin".into(),
                parent: parent.map(str::to_owned),
                rights: rights.iter().map(|r| (*r).to_owned()).collect(),
            },
            0,
        )
        .await
        .expect("create user");
    }

    /// The ID of the user `login`.
    pub async fn user_id(&self, login: &str) -> trackd_core::UserId {
        let user = self.store.user_by_login(login).await.expect("read user");
        user.unwrap_or_else(|| panic!("no user {login}")).id
    }

    /// Logs in and returns the session hash.
    pub async fn login(&self, login: &str) -> String {
        let (status, body) = self
            .call(
                Enc::Json,
                "user/auth",
                json!({"login": login, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["hash"].as_str().expect("hash").to_owned()
    }

    /// A master user "alice", logged in.
    pub async fn master(&self) -> String {
        self.user("alice", None, &[]).await;
        self.login("alice").await
    }

    /// Calls `/v2/<path>` with `params` in the given encoding.
    pub async fn call(&self, enc: Enc, path: &str, params: Value) -> (u16, Value) {
        let url = format!("{}/v2/{}", self.base, path);
        let map = match params {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => panic!("params must be an object, got {other}"),
        };
        let req = match enc {
            Enc::Json => self.client.post(&url).json(&Value::Object(map)),
            Enc::Form => self.client.post(&url).form(&flatten(&map)),
            Enc::Query => self.client.get(&url).query(&flatten(&map)),
        };
        let resp = req.send().await.expect("request");
        parse(resp).await
    }

    /// Calls in all three encodings (with `setup` re-run before each when a call changes
    /// state) and asserts they answer alike; returns that answer.
    pub async fn call_all(&self, path: &str, params: Value) -> (u16, Value) {
        let mut answers = Vec::new();
        for enc in ENCODINGS {
            answers.push(self.call(enc, path, params.clone()).await);
        }
        assert_eq!(
            answers[0], answers[1],
            "{path}: JSON and form answers differ"
        );
        assert_eq!(
            answers[0], answers[2],
            "{path}: JSON and query answers differ"
        );
        answers.remove(0)
    }

    pub async fn raw(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        parse(req.send().await.expect("request")).await
    }
}

async fn parse(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.expect("body");
    assert!(
        ct.starts_with("application/json"),
        "content type {ct} for {text}"
    );
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

/// Form and query values: strings as they are, everything else as JSON text; a `null` is left
/// out, as form-encoding clients do.
pub fn flatten(map: &Map<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect()
}

/// A success answer: `{"success": true}` with `extra`'s keys.
pub fn ok(extra: Value) -> (u16, Value) {
    (200, with(&json!({"success": true}), extra))
}

/// The error envelope of `code`.
pub fn error(code: u16, description: &str) -> Value {
    json!({"success": false, "status": {"code": code, "description": description}})
}

/// Error 7 naming parameters.
pub fn invalid(errors: &[(&str, &str)]) -> Value {
    let errors: Vec<Value> = errors
        .iter()
        .map(|(p, e)| json!({"parameter": p, "error": e}))
        .collect();
    json!({"success": false, "status": {"code": 7, "description": "Invalid parameters"}, "errors": errors})
}

/// Merges `extra` into `base` (both objects).
pub fn with(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    out
}
