//! Call parameters from a JSON body, a form body or the query string, read leniently the way
//! real Navixy clients send them: arrays and objects as JSON or as JSON text, numbers and
//! booleans as strings. A [`Check`] gathers every bad parameter so error 7 can name them all.

use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// The parameters of one call. Body values win over query values (the `hash` lookup order).
#[derive(Clone, Debug, Default)]
pub struct Params {
    body: Map<String, Value>,
    query: Map<String, Value>,
}

const MISSING: &str = "must not be null";

impl Params {
    /// Parses the query string and the body. Errors: 5 for a body that is not the JSON object
    /// or form its content type says.
    pub fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Params, ApiError> {
        let query = query.map(form_pairs).unwrap_or_default();
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        let trimmed = body.iter().position(|b| !b.is_ascii_whitespace());
        let body = match trimmed {
            None => Map::new(),
            Some(start) => {
                let is_json = ct.contains("json") || (!ct.contains("form") && body[start] == b'{');
                if is_json {
                    match serde_json::from_slice::<Value>(body) {
                        Ok(Value::Object(map)) => map,
                        _ => return Err(ApiError::new(5)),
                    }
                } else if ct.is_empty()
                    || ct.starts_with("application/x-www-form-urlencoded")
                    || ct.starts_with("text/plain")
                {
                    match std::str::from_utf8(body) {
                        Ok(text) => form_pairs(text),
                        Err(_) => return Err(ApiError::new(5)),
                    }
                } else {
                    return Err(ApiError::new(5));
                }
            }
        };
        Ok(Params { body, query })
    }

    pub fn from_json(body: Map<String, Value>) -> Params {
        Params {
            body,
            query: Map::new(),
        }
    }

    /// The raw value, body first; JSON `null` counts as absent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.body
            .get(name)
            .filter(|v| !v.is_null())
            .or_else(|| self.query.get(name).filter(|v| !v.is_null()))
    }

    /// Whether the parameter was sent at all, even as `null`.
    pub fn present(&self, name: &str) -> bool {
        self.body.contains_key(name) || self.query.contains_key(name)
    }

    pub fn check(&self) -> Check<'_> {
        Check {
            params: self,
            errors: Vec::new(),
        }
    }
}

fn form_pairs(text: &str) -> Map<String, Value> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

/// Conversions from a parameter's raw value; `Err` carries the message for `errors`. They live in
/// core because objects nested in parameters (a sensor, a calibration table) are read alike.
pub use trackd_core::lenient::{as_array, as_bool, as_float, as_int, as_object, as_string};

/// Reads parameters, remembering each problem; [`Check::done`] turns them into error 7.
/// Required readers return a default value when the parameter is bad, so a handler reads all
/// its parameters first and calls `done()?` before using any.
pub struct Check<'a> {
    params: &'a Params,
    errors: Vec<FieldError>,
}

impl<'a> Check<'a> {
    pub fn fail(&mut self, parameter: &str, error: impl Into<String>) {
        if !self.errors.iter().any(|e| e.parameter == parameter) {
            self.errors.push(FieldError {
                parameter: parameter.to_owned(),
                error: error.into(),
            });
        }
    }

    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn done(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.errors))
        }
    }

    fn read<T>(
        &mut self,
        name: &str,
        conv: impl Fn(&Value) -> Result<T, &'static str>,
    ) -> Option<T> {
        match self.params.get(name) {
            None => None,
            Some(v) => match conv(v) {
                Ok(t) => Some(t),
                Err(msg) => {
                    self.fail(name, msg);
                    None
                }
            },
        }
    }

    fn required<T: Default>(
        &mut self,
        name: &str,
        conv: impl Fn(&Value) -> Result<T, &'static str>,
    ) -> T {
        if self.params.get(name).is_none() {
            self.fail(name, MISSING);
            return T::default();
        }
        self.read(name, conv).unwrap_or_default()
    }

    pub fn int(&mut self, name: &str) -> i64 {
        self.required(name, as_int)
    }
    pub fn opt_int(&mut self, name: &str) -> Option<i64> {
        self.read(name, as_int)
    }
    pub fn float(&mut self, name: &str) -> f64 {
        self.required(name, as_float)
    }
    pub fn opt_float(&mut self, name: &str) -> Option<f64> {
        self.read(name, as_float)
    }
    pub fn bool_or(&mut self, name: &str, default: bool) -> bool {
        self.read(name, as_bool).unwrap_or(default)
    }
    pub fn opt_bool(&mut self, name: &str) -> Option<bool> {
        self.read(name, as_bool)
    }
    pub fn string(&mut self, name: &str) -> String {
        self.required(name, as_string)
    }
    pub fn opt_string(&mut self, name: &str) -> Option<String> {
        self.read(name, as_string)
    }
    pub fn object(&mut self, name: &str) -> Map<String, Value> {
        self.required(name, as_object)
    }
    pub fn opt_object(&mut self, name: &str) -> Option<Map<String, Value>> {
        self.read(name, as_object)
    }
    pub fn array(&mut self, name: &str) -> Vec<Value> {
        self.required(name, as_array)
    }
    pub fn opt_array(&mut self, name: &str) -> Option<Vec<Value>> {
        self.read(name, as_array)
    }

    /// An array of integers (each may itself be a numeric string).
    pub fn int_array(&mut self, name: &str) -> Vec<i64> {
        let items = self.array(name);
        self.ints_of(name, items)
    }
    pub fn opt_int_array(&mut self, name: &str) -> Option<Vec<i64>> {
        let items = self.opt_array(name)?;
        let ok_before = self.errors.len();
        let out = self.ints_of(name, items);
        (self.errors.len() == ok_before).then_some(out)
    }
    fn ints_of(&mut self, name: &str, items: Vec<Value>) -> Vec<i64> {
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            match as_int(item) {
                Ok(i) => out.push(i),
                Err(_) => {
                    self.fail(name, "must be an array of integers");
                    return Vec::new();
                }
            }
        }
        out
    }

    /// An array of strings; `null` items are an error.
    pub fn opt_string_array(&mut self, name: &str) -> Option<Vec<String>> {
        let items = self.opt_array(name)?;
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            match item {
                Value::String(s) => out.push(s.clone()),
                _ => {
                    self.fail(name, "must be an array of strings");
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A printable string of `min..=max` characters (Navixy's label rule).
    pub fn text(&mut self, name: &str, min: usize, max: usize) -> String {
        let s = self.string(name);
        self.length(name, &s, min, max);
        s
    }
    pub fn opt_text(&mut self, name: &str, min: usize, max: usize) -> Option<String> {
        let s = self.opt_string(name)?;
        self.length(name, &s, min, max);
        Some(s)
    }
    fn length(&mut self, name: &str, s: &str, min: usize, max: usize) {
        if self.params.get(name).is_none() {
            return;
        }
        let n = s.chars().count();
        if n < min || n > max {
            self.fail(name, format!("size must be between {min} and {max}"));
        } else if s.chars().any(char::is_control) {
            self.fail(name, "must not contain control characters");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(q: &str, ct: &str, body: &str) -> Params {
        Params::parse(Some(q), Some(ct), body.as_bytes()).expect("parse")
    }

    #[test]
    fn all_three_encodings_read_alike() {
        let json = p(
            "",
            "application/json",
            r#"{"tracker_id": 5, "trackers": [1,2], "flag": true}"#,
        );
        let form = p(
            "",
            "application/x-www-form-urlencoded",
            "tracker_id=5&trackers=%5B1%2C2%5D&flag=true",
        );
        let query = p("tracker_id=5&trackers=[1,2]&flag=true", "", "");
        for params in [json, form, query] {
            let mut c = params.check();
            assert_eq!(c.int("tracker_id"), 5);
            assert_eq!(c.int_array("trackers"), vec![1, 2]);
            assert!(c.bool_or("flag", false));
            c.done().expect("valid");
        }
    }

    #[test]
    fn lenient_json_values() {
        let params = p(
            "",
            "application/json",
            r#"{"tracker_id": "123", "trackers": "[1, 2]", "m": "2.5", "b": "false"}"#,
        );
        let mut c = params.check();
        assert_eq!(c.int("tracker_id"), 123);
        assert_eq!(c.int_array("trackers"), vec![1, 2]);
        assert_eq!(c.float("m"), 2.5);
        assert!(!c.bool_or("b", true));
        c.done().expect("valid");
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let params = p(
            "",
            "application/json",
            r#"{"tracker_id": "x", "label": null}"#,
        );
        let mut c = params.check();
        c.int("tracker_id");
        c.string("label");
        c.int_array("trackers");
        let err = c.done().expect_err("invalid");
        assert_eq!(err.code, 7);
        let names: Vec<_> = err.errors.iter().map(|e| e.parameter.as_str()).collect();
        assert_eq!(names, ["tracker_id", "label", "trackers"]);
    }

    #[test]
    fn body_wins_over_query() {
        let params = p("hash=q", "application/json", r#"{"hash": "b"}"#);
        assert_eq!(params.get("hash"), Some(&json!("b")));
    }

    #[test]
    fn malformed_bodies_are_format_errors() {
        for (ct, body) in [
            ("application/json", "{"),
            ("application/json", "[1]"),
            ("multipart/form-data", "x"),
        ] {
            let err = Params::parse(None, Some(ct), body.as_bytes()).expect_err(body);
            assert_eq!(err.code, 5);
        }
    }
}
