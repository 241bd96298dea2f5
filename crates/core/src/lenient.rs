//! Reading JSON values the way real Navixy clients send them: numbers and booleans may arrive
//! as strings (old docs sent `"tracker_id": "265489"`), arrays and objects as JSON text. Both
//! the API's parameters and objects nested in them (a sensor, a calibration table) are read
//! with these. `Err` carries the message for the `errors` array of error 7.

use serde_json::Value;

pub fn as_int(v: &Value) -> Result<i64, &'static str> {
    match v {
        Value::Number(n) => n.as_i64().ok_or("must be an integer"),
        Value::String(s) => s.trim().parse().map_err(|_| "must be an integer"),
        _ => Err("must be an integer"),
    }
}

/// A finite number: JSON cannot carry NaN, but a string can ("NaN" parses as `f64`).
pub fn as_float(v: &Value) -> Result<f64, &'static str> {
    let f = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    f.filter(|f| f.is_finite()).ok_or("must be a number")
}

pub fn as_bool(v: &Value) -> Result<bool, &'static str> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err("must be a boolean"),
        },
        Value::Number(n) => match n.as_i64() {
            Some(1) => Ok(true),
            Some(0) => Ok(false),
            _ => Err("must be a boolean"),
        },
        _ => Err("must be a boolean"),
    }
}

pub fn as_string(v: &Value) -> Result<String, &'static str> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("must be a string"),
    }
}

/// An array, or a string holding a JSON array.
pub fn as_array(v: &Value) -> Result<Vec<Value>, &'static str> {
    match v {
        Value::Array(a) => Ok(a.clone()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => Ok(a),
            _ => Err("must be an array"),
        },
        _ => Err("must be an array"),
    }
}

/// An object, or a string holding a JSON object.
pub fn as_object(v: &Value) -> Result<serde_json::Map<String, Value>, &'static str> {
    match v {
        Value::Object(o) => Ok(o.clone()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => Ok(o),
            _ => Err("must be an object"),
        },
        _ => Err("must be an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_stand_for_numbers_and_booleans() {
        assert_eq!(as_int(&json!("12")), Ok(12));
        assert_eq!(as_float(&json!(" 2.5")), Ok(2.5));
        assert_eq!(as_float(&json!("NaN")), Err("must be a number"));
        assert_eq!(as_bool(&json!("false")), Ok(false));
        assert_eq!(as_string(&json!(7)), Ok("7".to_owned()));
        assert_eq!(as_array(&json!("[1]")), Ok(vec![json!(1)]));
        assert!(as_object(&json!("[1]")).is_err());
    }
}
