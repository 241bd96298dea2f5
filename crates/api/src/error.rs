//! The API's errors and the Navixy envelope they render to.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use trackd_store::{Conflict, StoreError};

/// The error table of navixy-reference §1.5: code, description, HTTP status.
const TABLE: &[(u16, &str, u16)] = &[
    (1, "Database error", 500),
    (2, "Service Auth error", 403),
    (3, "Wrong hash", 400),
    (4, "User or API key not found or session ended", 400),
    (5, "Wrong request format", 400),
    (6, "Unexpected error", 500),
    (7, "Invalid parameters", 400),
    (8, "Queue service error, try again later", 503),
    (9, "Too large request", 412),
    (11, "Access denied", 403),
    (12, "Dealer not found", 400),
    (13, "Operation not permitted", 403),
    (14, "Database unavailable", 503),
    (15, "Too many requests (rate limit exceeded)", 429),
    (101, "In demo mode this function is disabled", 403),
    (102, "Wrong login or password", 400),
    (103, "User not activated", 400),
    (
        104,
        "Logins limit exceeded, please reuse existing sessions instead",
        400,
    ),
    (105, "Login attempts limit exceeded, try again later", 400),
    (111, "Wrong handler", 400),
    (112, "Wrong method", 400),
    (201, "Not found in database", 400),
    (202, "Too many points in zone", 400),
    (203, "Delete entity associated with", 400),
    (204, "Entity not found", 404),
    (206, "Login already in use", 400),
    (207, "Invalid captcha", 400),
    (208, "Device blocked", 403),
    (209, "Failed sending email", 400),
    (210, "Geocoding failed", 400),
    (211, "Requested time span is too big", 400),
    (212, "Requested limit is too big", 400),
    (213, "Cannot perform action: the device is offline", 400),
    (
        214,
        "Requested operation or parameters are not supported by the device",
        400,
    ),
    (215, "External service error", 400),
    (217, "List contains nonexistent entities", 400),
    (218, "Malformed external service parameters", 400),
    (219, "Not allowed for clones of the device", 403),
    (220, "Unknown device model", 400),
    (221, "Device limit exceeded", 403),
    (222, "Plugin not found", 400),
    (223, "Phone number already in use", 400),
    (224, "Device ID already in use", 400),
    (225, "Not allowed for this legal type", 403),
    (226, "Wrong ICCID", 400),
    (227, "Wrong activation code", 400),
    (228, "Not supported by sensor", 400),
    (229, "Requested data is not ready yet", 404),
    (230, "Not supported for this entity type", 400),
    (231, "Entity type mismatch", 409),
    (232, "Input already in use", 400),
    (233, "No data file", 400),
    (234, "Invalid data format", 400),
    (235, "Missing calibration data", 400),
    (236, "Feature unavailable due to tariff restrictions", 402),
    (237, "Invalid tariff", 400),
    (238, "Changing tariff is not allowed", 403),
    (239, "New tariff does not exist", 404),
    (240, "Not allowed to change tariff too frequently", 403),
    (
        241,
        "Cannot change phone to bundled sim. Contact tech support.",
        400,
    ),
    (242, "There were errors during content validation", 400),
    (243, "Device already connected.", 400),
    (244, "Duplicate entity label.", 400),
    (245, "New password must be different", 400),
    (246, "Invalid user ID", 400),
    (247, "Entity already exists", 409),
    (248, "Wrong password", 400),
    (249, "Operation available for clones only", 403),
    (250, "Not allowed for deleted devices", 403),
    (251, "Insufficient funds", 403),
    (252, "Device already corrupted", 400),
    (253, "Device has clones", 400),
    (254, "Cannot save file", 500),
    (255, "Invalid task state", 400),
    (256, "Location already actual", 400),
    (257, "Registration forbidden", 403),
    (258, "Bundle not found", 404),
    (259, "Payments count not comply with summary", 400),
    (260, "Payments sum not comply with summary", 400),
    (261, "Entity has external links", 403),
    (
        262,
        "Entries list is missing some entries or contains nonexistent entries",
        400,
    ),
    (
        263,
        "No change needed, old and new values are the same",
        400,
    ),
    (264, "Timeout not reached", 403),
    (265, "Already done", 403),
    (
        266,
        "Cannot perform action for the device in current status",
        403,
    ),
    (267, "Too many entities", 400),
    (268, "Over quota", 402),
    (269, "Invalid file state", 400),
    (270, "Too many sensors of same type already exist", 400),
    (271, "File over max size", 413),
    (272, "Trackers must have same models", 400),
    (273, "Duplicate login", 400),
    (274, "Empty data file", 400),
    (275, "User is blocked", 403),
    (276, "Action is forbidden for received session type", 403),
    (277, "Security group has users in it", 409),
    (278, "Security group is a default one", 409),
    (279, "Invalid task period", 400),
    (280, "Invalid import request state", 400),
    (281, "This resource is closed", 400),
    (284, "Not enough points for the specified zone type", 400),
];

/// Description and HTTP status of a code; unknown codes render as 400.
pub fn describe(code: u16) -> (&'static str, u16) {
    TABLE
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, d, s)| (*d, *s))
        .unwrap_or(("Unexpected error", 400))
}

/// One bad parameter, as listed in the `errors` array of error 7.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub parameter: String,
    pub error: String,
}

/// A failed call: renders `{"success": false, "status": {"code", "description"}}`, plus
/// `errors` for invalid parameters and any extra root keys (e.g. `rules` for 203).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub errors: Vec<FieldError>,
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(code: u16) -> Self {
        ApiError {
            code,
            errors: Vec::new(),
            extra: Map::new(),
        }
    }
    /// Error 7 naming the parameters that are wrong.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        ApiError {
            code: 7,
            errors,
            extra: Map::new(),
        }
    }
    /// Error 7 for one parameter.
    pub fn invalid_param(parameter: &str, error: impl Into<String>) -> Self {
        ApiError::invalid(vec![FieldError {
            parameter: parameter.to_owned(),
            error: error.into(),
        }])
    }
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }
    pub fn body(&self) -> Value {
        let (description, _) = describe(self.code);
        let mut body = Map::new();
        body.insert("success".into(), Value::Bool(false));
        body.insert(
            "status".into(),
            json!({ "code": self.code, "description": description }),
        );
        if !self.errors.is_empty() {
            let errors: Vec<Value> = self
                .errors
                .iter()
                .map(|e| json!({ "parameter": e.parameter, "error": e.error }))
                .collect();
            body.insert("errors".into(), Value::Array(errors));
        }
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(describe(self.code).1).unwrap_or(StatusCode::BAD_REQUEST)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::response::json(self.status(), &self.body())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "database unavailable");
                ApiError::new(14)
            }
            // The API validates what it stores, so a value the schema refuses is our bug.
            StoreError::Database(msg) | StoreError::Invalid(msg) => {
                tracing::error!(error = %msg, "database error");
                ApiError::new(1)
            }
            StoreError::Conflict(Conflict::Login) => ApiError::new(206),
            StoreError::Conflict(Conflict::DeviceId) => ApiError::new(224),
            StoreError::Conflict(Conflict::Phone) => ApiError::new(223),
            StoreError::Conflict(Conflict::TagBinding) => {
                ApiError::invalid_param("tag_bindings", "tags and ordinals must be unique")
            }
            // The API checks both before writing; these answer a concurrent write that won.
            StoreError::Conflict(Conflict::SensorInput) => ApiError::new(232),
            StoreError::Conflict(Conflict::SensorType) => ApiError::new(270),
            StoreError::NotFound => ApiError::new(201),
            StoreError::DeviceLimit => ApiError::new(221),
            StoreError::ActivationCode => ApiError::new(227),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_table() {
        for (code, status) in [
            (1, 500),
            (3, 400),
            (7, 400),
            (9, 412),
            (13, 403),
            (15, 429),
            (204, 404),
            (208, 403),
            (219, 403),
            (221, 403),
            (249, 403),
            (268, 402),
        ] {
            assert_eq!(ApiError::new(code).status().as_u16(), status, "code {code}");
        }
    }

    #[test]
    fn invalid_lists_each_parameter() {
        let e = ApiError::invalid(vec![
            FieldError {
                parameter: "a".into(),
                error: "must not be null".into(),
            },
            FieldError {
                parameter: "b".into(),
                error: "must be an integer".into(),
            },
        ]);
        assert_eq!(
            e.body(),
            json!({"success": false, "status": {"code": 7, "description": "Invalid parameters"},
                   "errors": [{"parameter": "a", "error": "must not be null"},
                              {"parameter": "b", "error": "must be an integer"}]})
        );
    }
}
