//! Rendering bodies: every answer, success or error, is `application/json`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

pub fn json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{\"success\":false}".to_vec());
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// The root keys of a successful answer besides `"success": true`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply(pub Map<String, Value>);

impl Reply {
    pub fn ok() -> Self {
        Reply(Map::new())
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }
    pub fn into_body(self) -> Value {
        let mut body = Map::new();
        body.insert("success".into(), Value::Bool(true));
        body.extend(self.0);
        Value::Object(body)
    }
}
