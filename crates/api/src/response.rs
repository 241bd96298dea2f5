//! Rendering bodies: every answer, success or error, is `application/json`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

pub fn json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{\"success\":false}".to_vec());
    json_bytes(status, bytes)
}

/// A body serialized already.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// The root keys of a successful answer besides `"success": true`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    fields: Map<String, Value>,
    /// Keys whose values are JSON already (see [`Reply::with_serialized`]).
    serialized: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn ok() -> Self {
        Reply::default()
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(key.to_owned(), value.into());
        self
    }

    /// A key whose value is serialized now, straight from typed values: a list of 10,000
    /// track points built as `Value`s first cost an allocation per key of every point.
    pub fn with_serialized(self, key: &'static str, value: &impl Serialize) -> Self {
        match serde_json::to_string(value) {
            Ok(json) => self.with_json(key, json),
            // Our own types with string keys always serialize; were one not to, the key
            // would still be answered, as null, rather than the whole answer be lost.
            Err(_) => self.with(key, Value::Null),
        }
    }

    /// A key whose value is JSON already, as `serde_json` wrote it (or put together from
    /// pieces it wrote): it goes into the body as it is.
    pub(crate) fn with_json(mut self, key: &'static str, json: String) -> Self {
        self.fields.remove(key);
        self.serialized.push((key, json));
        self
    }

    /// The whole body, keys in order as `serde_json` orders a map's.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut keys: Vec<(&str, Entry<'_>)> = Vec::with_capacity(self.fields.len() + 2);
        keys.push(("success", Entry::Value(&Value::Bool(true))));
        keys.extend(
            self.fields
                .iter()
                .map(|(k, v)| (k.as_str(), Entry::Value(v))),
        );
        keys.extend(self.serialized.iter().map(|(k, v)| (*k, Entry::Json(v))));
        keys.sort_by(|a, b| a.0.cmp(b.0));
        let size: usize = self.serialized.iter().map(|(_, v)| v.len()).sum();
        let mut out = Vec::with_capacity(size + 256);
        out.push(b'{');
        for (i, (key, entry)) in keys.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing into a Vec cannot fail, and a string or a Value always serializes.
            let _ = serde_json::to_writer(&mut out, key);
            out.push(b':');
            match entry {
                Entry::Value(v) => {
                    let _ = serde_json::to_writer(&mut out, v);
                }
                Entry::Json(json) => out.extend_from_slice(json.as_bytes()),
            }
        }
        out.push(b'}');
        out
    }
}

enum Entry<'a> {
    Value(&'a Value),
    Json(&'a str),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_keys_in_order_whichever_way_they_were_given() {
        #[derive(Serialize)]
        struct P {
            lat: f64,
        }
        let reply = Reply::ok()
            .with("zeta", json!({"b": 1, "a": [true]}))
            .with_serialized("list", &[P { lat: 1.5 }, P { lat: f64::NAN }])
            .with("limit_exceeded", false);
        assert_eq!(
            String::from_utf8(reply.into_bytes()).unwrap(),
            r#"{"limit_exceeded":false,"list":[{"lat":1.5},{"lat":null}],"success":true,"zeta":{"a":[true],"b":1}}"#
        );
        assert_eq!(Reply::ok().into_bytes(), br#"{"success":true}"#);
    }

    #[test]
    fn a_key_given_twice_is_answered_once() {
        let reply = Reply::ok().with("list", 1).with_serialized("list", &[2]);
        assert_eq!(reply.into_bytes(), br#"{"list":[2],"success":true}"#);
    }
}
