//! One HTTP request -> `DeviceMessage`: query/form parameters or a JSON body.

use serde_json::{Map, Value};

use super::{body_length, chunked_extent, header_end, BodyLength, REPLY_BAD_REQUEST, REPLY_OK};
use crate::message::{DeviceMessage, Fix, Gsm, IoValue, Record, Timestamp};
use crate::time;

/// Knots to km/h (the Traccar Client sends `speed` in knots).
const KNOTS: f64 = 1.852;
/// m/s to km/h (the JSON form sends `coords.speed` in m/s).
const METRES_PER_SECOND: f64 = 3.6;
/// Device-chosen IO keys are stored as sent; these bounds keep a hostile client from
/// filling the state with junk.
const MAX_KEY_LEN: usize = 64;
const MAX_EXTRA_KEYS: usize = 64;
const MAX_TEXT_LEN: usize = 1024;

/// Why a request gets a `400`.
type Bad = String;

pub(super) fn decode(frame: &[u8]) -> DeviceMessage {
    match decode_request(frame) {
        Ok((device_id, records)) => DeviceMessage {
            device_id: Some(device_id),
            records,
            reply: Some(REPLY_OK.to_vec()),
            command_replies: Vec::new(),
        },
        // The client needs an answer whatever went wrong, or it keeps the connection waiting.
        Err(_) => DeviceMessage {
            reply: Some(REPLY_BAD_REQUEST.to_vec()),
            ..DeviceMessage::default()
        },
    }
}

/// A request's parts as far as positions care.
struct Request<'a> {
    target: &'a str,
    content_type: String,
    body: Vec<u8>,
}

fn parse_request(frame: &[u8]) -> Result<Request<'_>, Bad> {
    let head_end = header_end(frame).ok_or("no end of headers")?;
    let head = frame.get(..head_end).unwrap_or_default();
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or("no request line")?;
    let line = std::str::from_utf8(head.get(..line_end).unwrap_or_default())
        .map_err(|_| "request line is not text")?;
    let mut parts = line.split(' ');
    let _method = parts.next().filter(|m| !m.is_empty()).ok_or("no method")?;
    let target = parts.next().filter(|t| !t.is_empty()).ok_or("no target")?;
    let version = parts.next().ok_or("no HTTP version")?;
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return Err(format!("bad request line {line:?}"));
    }
    let mut content_type = String::new();
    for header in head.split(|&b| b == b'\n').skip(1) {
        let header = String::from_utf8_lossy(header);
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-type") {
                content_type = value.trim().to_ascii_lowercase();
            }
        }
    }
    let rest = frame.get(head_end..).unwrap_or_default();
    let body = match body_length(head)? {
        BodyLength::Fixed(len) => rest
            .get(..len)
            .ok_or("body shorter than Content-Length")?
            .to_vec(),
        BodyLength::Chunked => dechunk(rest)?,
    };
    Ok(Request {
        target,
        content_type,
        body,
    })
}

fn dechunk(buf: &[u8]) -> Result<Vec<u8>, Bad> {
    let (_, total) = chunked_extent(buf)?.ok_or("chunked body incomplete")?;
    let mut out = Vec::with_capacity(total);
    let mut pos = 0usize;
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk")?;
        let size_text = rest
            .get(..eol)
            .unwrap_or_default()
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        let size = std::str::from_utf8(size_text)
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .ok_or("bad chunk size")?;
        pos += eol + 2;
        if size == 0 {
            return Ok(out);
        }
        let chunk = buf
            .get(pos..pos.saturating_add(size))
            .ok_or("chunk truncated")?;
        out.extend_from_slice(chunk);
        pos = pos.saturating_add(size).saturating_add(2);
    }
}

fn decode_request(frame: &[u8]) -> Result<(String, Vec<Record>), Bad> {
    let request = parse_request(frame)?;
    let query = request.target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut params = parse_query(query.as_bytes());
    let body = request.body.trim_ascii();
    let json = request.content_type.contains("json")
        || body.first().is_some_and(|&b| b == b'{' || b == b'[');
    if json && !body.is_empty() {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("bad JSON body: {e}"))?;
        let query_id = params
            .iter()
            .find(|(k, _)| k == "id" || k == "deviceid")
            .map(|(_, v)| v.clone());
        return decode_json(&value, query_id);
    }
    if params.is_empty() && !body.is_empty() {
        // Form posts (`application/x-www-form-urlencoded`) carry the same parameters.
        params = parse_query(body);
    }
    decode_params(&params)
}

/// `a=1&b=x%20y` -> pairs, percent- and `+`-decoded.
fn parse_query(query: &[u8]) -> Vec<(String, String)> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (
                    pair.get(..eq).unwrap_or_default(),
                    pair.get(eq + 1..).unwrap_or_default(),
                ),
                None => (pair, &[][..]),
            };
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = hex {
                    out.push(v);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn number(value: &str, what: &str) -> Result<f64, Bad> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("bad {what}: {value:?}"))
}

fn boolean(value: &str) -> bool {
    value.eq_ignore_ascii_case("true") || value == "1"
}

fn percent(value: f64) -> u8 {
    value.round().clamp(0.0, 100.0) as u8
}

/// A position being assembled, the same for query and JSON forms.
#[derive(Default)]
struct Builder {
    record: Record,
    lat: Option<f64>,
    lon: Option<f64>,
    valid: Option<bool>,
    speed: Option<f64>,
    course: Option<f64>,
    altitude: Option<f64>,
    hdop: Option<f64>,
    satellites: Option<u8>,
    extras: usize,
}

impl Builder {
    /// Keeps a parameter trackd has no field for under the device's own name.
    fn extra(&mut self, key: &str, value: IoValue) {
        let key_ok = !key.is_empty()
            && key.len() <= MAX_KEY_LEN
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        if key_ok && self.extras < MAX_EXTRA_KEYS {
            self.extras += 1;
            self.record.set_io(key.to_owned(), value);
        }
    }

    fn extra_text(&mut self, key: &str, value: &str) {
        let value = if value.eq_ignore_ascii_case("true") {
            IoValue::Bool(true)
        } else if value.eq_ignore_ascii_case("false") {
            IoValue::Bool(false)
        } else if let Ok(i) = value.parse::<i64>() {
            IoValue::Int(i)
        } else if let Some(f) = value.parse::<f64>().ok().filter(|f| f.is_finite()) {
            IoValue::Float(f)
        } else {
            IoValue::Text(value.chars().take(MAX_TEXT_LEN).collect())
        };
        self.extra(key, value);
    }

    fn finish(mut self) -> Result<Record, Bad> {
        match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => {
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    return Err(format!("coordinates out of range: {lat},{lon}"));
                }
                let mut fix = Fix::new(lat, lon, self.valid.unwrap_or(true));
                fix.speed = self.speed.filter(|s| *s >= 0.0);
                fix.course = self.course.filter(|c| (0.0..=360.0).contains(c));
                fix.altitude = self.altitude;
                fix.hdop = self.hdop;
                fix.satellites = self.satellites;
                self.record.fix = Some(fix);
            }
            (None, None) => {}
            _ => return Err("latitude without longitude, or the reverse".into()),
        }
        Ok(self.record)
    }
}

/// The Traccar Client / OsmAnd parameters.
fn decode_params(params: &[(String, String)]) -> Result<(String, Vec<Record>), Bad> {
    let mut id = None;
    let mut b = Builder::default();
    let mut wifi = Vec::new();
    for (key, value) in params {
        let v = value.as_str();
        match key.as_str() {
            "id" | "deviceid" => id = Some(v.trim().to_owned()),
            "valid" => b.valid = Some(boolean(v)),
            "timestamp" => b.record.time = Some(parse_timestamp(v)?),
            "lat" => b.lat = Some(number(v, "lat")?),
            "lon" => b.lon = Some(number(v, "lon")?),
            "location" => {
                let (lat, lon) = v.split_once(',').ok_or("location is not lat,lon")?;
                b.lat = Some(number(lat, "location latitude")?);
                b.lon = Some(number(lon, "location longitude")?);
            }
            "speed" => b.speed = Some(number(v, "speed")? * KNOTS),
            "bearing" | "heading" => b.course = Some(number(v, "bearing")?),
            "altitude" => b.altitude = Some(number(v, "altitude")?),
            "accuracy" => b.record.set_io("accuracy", number(v, "accuracy")?),
            "hdop" => b.hdop = Some(number(v, "hdop")?),
            "sat" | "satellites" => {
                b.satellites = Some(number(v, "satellites")?.clamp(0.0, 255.0) as u8)
            }
            "batt" => b.record.battery_level = Some(percent(number(v, "batt")?)),
            "charge" => b.record.set_io("charge", boolean(v)),
            "driverUniqueId" => b.record.hardware_key = Some(v.to_owned()),
            "ignition" => b.record.ignition = Some(boolean(v)),
            "motion" => b.record.motion = Some(boolean(v)),
            "power" => b.record.set_io("board_voltage", number(v, "power")?),
            "battery" => b.record.set_io("battery_voltage", number(v, "battery")?),
            "odometer" => b
                .record
                .set_io("hw_mileage", number(v, "odometer")? / 1000.0),
            "cell" => {
                // The first cell is the serving one; neighbours add nothing we store.
                if b.record.gsm.is_none() {
                    b.record.gsm = Some(parse_cell(v)?);
                }
            }
            "wifi" => wifi.push(v.to_owned()),
            other => b.extra_text(other, v),
        }
    }
    if !wifi.is_empty() {
        b.extra("wifi", IoValue::Text(wifi.join(";")));
    }
    let id = id.filter(|i| !i.is_empty()).ok_or("no id")?;
    Ok((id, vec![b.finish()?]))
}

/// `mcc,mnc,lac,cid[,signal dBm]`.
fn parse_cell(value: &str) -> Result<Gsm, Bad> {
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    let field = |i: usize| -> Result<u64, Bad> {
        parts
            .get(i)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("bad cell {value:?}"))
    };
    Ok(Gsm {
        mcc: u16::try_from(field(0)?).ok(),
        mnc: u16::try_from(field(1)?).ok(),
        lac: u32::try_from(field(2)?).ok(),
        cell_id: Some(field(3)?),
        ..Gsm::default()
    })
}

/// Unix seconds or milliseconds, ISO 8601, or `yyyy-MM-dd HH:mm:ss` (taken as UTC).
pub(super) fn parse_timestamp(value: &str) -> Result<Timestamp, Bad> {
    let v = value.trim();
    if let Ok(n) = v.parse::<i64>() {
        // Seconds until 2038 stay below i32::MAX; milliseconds are far above it.
        return Ok(if n < i64::from(i32::MAX) {
            Timestamp(n.saturating_mul(1000))
        } else {
            Timestamp(n)
        });
    }
    if let Ok(f) = v.parse::<f64>() {
        if f.is_finite() && f.abs() < 1e15 {
            return Ok(Timestamp((f * 1000.0).round() as i64));
        }
    }
    parse_datetime(v).ok_or_else(|| format!("bad timestamp {value:?}"))
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|±HH:MM|±HHMM|±HH]`.
fn parse_datetime(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let year = digits(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(5, 2)?;
    let day = digits(8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(14, 2)?;
    let (second, mut i) = if b.get(16) == Some(&b':') {
        (digits(17, 2)?, 19)
    } else {
        (0, 16)
    };
    let mut millis = 0u32;
    if matches!(b.get(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let frac = s.get(start..i)?;
        if frac.is_empty() {
            return None;
        }
        let ms: String = frac.chars().chain("000".chars()).take(3).collect();
        millis = ms.parse().ok()?;
    }
    let offset_secs: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = s.get(i + 1..)?;
            let (h, m) = match rest.len() {
                2 => (rest, "00"),
                4 => (rest.get(..2)?, rest.get(2..)?),
                5 if rest.as_bytes().get(2) == Some(&b':') => (rest.get(..2)?, rest.get(3..)?),
                _ => return None,
            };
            let h: i64 = h.parse().ok()?;
            let m: i64 = m.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let local = time::utc_millis(i64::from(year), month, day, hour, minute, second, millis)?;
    Some(Timestamp(local.0 - offset_secs * 1000))
}

/// The Transistorsoft background-geolocation body: `{"location": {..} | [..], "device_id"}`,
/// or a bare location / array of locations.
fn decode_json(root: &Value, query_id: Option<String>) -> Result<(String, Vec<Record>), Bad> {
    let locations: Vec<&Value> = match root {
        Value::Array(items) => items.iter().collect(),
        Value::Object(obj) => match obj.get("location") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(loc @ Value::Object(_)) => vec![loc],
            _ => vec![root],
        },
        _ => return Err("JSON body is neither an object nor an array".into()),
    };
    let id = json_id(root.get("device_id"))
        .or_else(|| json_id(root.get("id")))
        .or_else(|| {
            locations.iter().find_map(|l| {
                json_id(l.get("extras").and_then(|e| e.get("device_id")))
                    .or_else(|| json_id(l.get("device_id")))
            })
        })
        .or(query_id)
        .filter(|i| !i.is_empty())
        .ok_or("no device_id")?;
    let records = locations
        .into_iter()
        .map(|l| match l {
            // A batch item may itself be wrapped as `{"location": {..}}`.
            Value::Object(obj) => match obj.get("location") {
                Some(Value::Object(inner)) => json_location(inner),
                _ => json_location(obj),
            },
            _ => Err("location is not an object".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((id, records))
}

fn json_id(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn json_f64(v: Option<&Value>) -> Option<f64> {
    v?.as_f64().filter(|f| f.is_finite())
}

fn json_location(loc: &Map<String, Value>) -> Result<Record, Bad> {
    let mut b = Builder::default();
    match loc.get("timestamp") {
        Some(Value::String(s)) => b.record.time = Some(parse_timestamp(s)?),
        Some(Value::Number(n)) => b.record.time = Some(parse_timestamp(&n.to_string())?),
        _ => {}
    }
    if let Some(coords) = loc.get("coords").and_then(Value::as_object) {
        b.lat = json_f64(coords.get("latitude"));
        b.lon = json_f64(coords.get("longitude"));
        // The SDK reports -1 for an unknown speed or heading.
        b.speed = json_f64(coords.get("speed"))
            .filter(|s| *s >= 0.0)
            .map(|s| s * METRES_PER_SECOND);
        b.course = json_f64(coords.get("heading")).filter(|h| *h >= 0.0);
        b.altitude = json_f64(coords.get("altitude"));
        if let Some(acc) = json_f64(coords.get("accuracy")) {
            b.record.set_io("accuracy", acc);
        }
    }
    if let Some(moving) = loc.get("is_moving").and_then(Value::as_bool) {
        b.record.motion = Some(moving);
    }
    if let Some(odometer) = json_f64(loc.get("odometer")) {
        b.record.set_io("hw_mileage", odometer / 1000.0);
    }
    if let Some(event) = loc.get("event").and_then(Value::as_str) {
        b.record.set_io("event", event);
    }
    if let Some(mock) = loc.get("mock").and_then(Value::as_bool) {
        b.record.set_io("mock", mock);
    }
    if let Some(activity) = loc
        .get("activity")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
    {
        b.record.set_io("activity", activity);
    }
    if let Some(battery) = loc.get("battery").and_then(Value::as_object) {
        // Level is a fraction 0..1, -1 when the phone does not know.
        if let Some(level) = json_f64(battery.get("level")).filter(|l| *l >= 0.0) {
            b.record.battery_level = Some(percent(level * 100.0));
        }
        if let Some(charging) = battery.get("is_charging").and_then(Value::as_bool) {
            b.record.set_io("charge", charging);
        }
    }
    if let Some(extras) = loc.get("extras").and_then(Value::as_object) {
        for (key, value) in extras {
            let value = match value {
                Value::Bool(v) => IoValue::Bool(*v),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => IoValue::Int(i),
                    None => match n.as_f64() {
                        Some(f) => IoValue::Float(f),
                        None => continue,
                    },
                },
                Value::String(s) => IoValue::Text(s.chars().take(MAX_TEXT_LEN).collect()),
                Value::Null => continue,
                nested => IoValue::Text(nested.to_string().chars().take(MAX_TEXT_LEN).collect()),
            };
            b.extra(key, value);
        }
    }
    b.finish()
}
