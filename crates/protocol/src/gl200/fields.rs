//! Reading comma-separated @Track sentences without trusting a single field count.
//!
//! Every read goes through [`Fields::get`], which answers `""` past the body, so a short or
//! lying sentence degrades to "absent" instead of an out-of-bounds index.

use crate::message::{Fix, FixSource, Gsm, Record, Timestamp};
use crate::time;

/// The fields of one sentence. The body ends before the trailing `<send time>,<count>` pair
/// so that no layout walk can mistake them for data.
pub(super) struct Fields<'a> {
    v: Vec<&'a str>,
    end: usize,
    send_time: Option<Timestamp>,
    count: Option<&'a str>,
}

impl<'a> Fields<'a> {
    pub fn new(sentence: &'a str) -> Self {
        let v: Vec<&'a str> = sentence.split(',').collect();
        let n = v.len();
        let last = v.last().copied().unwrap_or("");
        let before_last = n
            .checked_sub(2)
            .and_then(|i| v.get(i))
            .copied()
            .unwrap_or("");
        let (end, send_time, count) = if n >= 3 && is_count(last) && time(before_last).is_some() {
            (n - 2, time(before_last), Some(last))
        } else if n >= 2 && time(last).is_some() {
            // A truncated sentence without its count number: never acknowledge it.
            (n - 1, time(last), None)
        } else {
            (n, None, None)
        };
        Fields {
            v,
            end,
            send_time,
            count,
        }
    }

    /// Index of the first non-body field (the send time when there is one).
    pub fn end(&self) -> usize {
        self.end
    }

    /// A body field, `""` when absent.
    pub fn get(&self, i: usize) -> &'a str {
        if i < self.end {
            self.v.get(i).copied().unwrap_or("")
        } else {
            ""
        }
    }

    /// Any field, including the trailer.
    pub fn raw(&self, i: usize) -> &'a str {
        self.v.get(i).copied().unwrap_or("")
    }

    /// Body fields `from..end` (empty when `from` is past the body).
    pub fn body_from(&self, from: usize) -> &[&'a str] {
        self.v.get(from..self.end).unwrap_or(&[])
    }

    pub fn send_time(&self) -> Option<Timestamp> {
        self.send_time
    }

    /// The `<Count Number>` the device expects echoed in `+SACK`.
    pub fn count(&self) -> Option<&'a str> {
        self.count
    }

    pub fn cursor(&self, at: usize) -> Cursor<'_, 'a> {
        Cursor {
            f: self,
            i: at,
            bound: self.end,
        }
    }
}

/// A forward reader over the body that never reads at or past `bound`.
pub(super) struct Cursor<'f, 'a> {
    f: &'f Fields<'a>,
    pub i: usize,
    bound: usize,
}

impl<'a> Cursor<'_, 'a> {
    pub fn with_bound(mut self, bound: usize) -> Self {
        self.bound = bound.min(self.f.end());
        self
    }
    pub fn next(&mut self) -> &'a str {
        let s = if self.i < self.bound {
            self.f.get(self.i)
        } else {
            ""
        };
        self.i = self.i.saturating_add(1);
        s
    }
    pub fn peek(&self, ahead: usize) -> &'a str {
        let i = self.i.saturating_add(ahead);
        if i < self.bound {
            self.f.get(i)
        } else {
            ""
        }
    }
    pub fn skip(&mut self, n: usize) {
        self.i = self.i.saturating_add(n);
    }
    pub fn at_end(&self) -> bool {
        self.i >= self.bound
    }
}

// ---------------------------------------------------------------------------------------
// Scalar parsers: strict, so that `nan`, `Inf` or stray letters never become numbers.

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Signed decimal integer.
pub(super) fn int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !all_digits(digits) || digits.len() > 18 {
        return None;
    }
    s.parse().ok()
}

/// Decimal number with an optional sign and fraction; never NaN or infinite.
pub(super) fn float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    let ok_whole = whole.bytes().all(|b| b.is_ascii_digit());
    let ok_frac = frac.bytes().all(|b| b.is_ascii_digit());
    if !ok_whole || !ok_frac || (whole.is_empty() && frac.is_empty()) || body.len() > 24 {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Hexadecimal of 1..=16 digits.
pub(super) fn hex(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

pub(super) fn is_hex_len(s: &str, lens: &[usize]) -> bool {
    lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_count(s: &str) -> bool {
    is_hex_len(s, &[4])
}

/// `YYYYMMDDHHMMSS`, UTC.
pub(super) fn time(s: &str) -> Option<Timestamp> {
    if s.len() != 14 || !all_digits(s) {
        return None;
    }
    let n = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<u32>().ok());
    time::utc(
        i64::from(n(0, 4)?),
        n(4, 6)?,
        n(6, 8)?,
        n(8, 10)?,
        n(10, 12)?,
        n(12, 14)?,
    )
}

/// A coordinate as devices print it: 1-3 integer digits and at least 5 decimals.
pub(super) fn is_coordinate(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    match body.split_once('.') {
        Some((w, f)) => {
            (1..=3).contains(&w.len()) && all_digits(w) && f.len() >= 5 && all_digits(f)
        }
        None => false,
    }
}

/// `HHHHH:MM:SS` hour meter, in hours.
pub(super) fn hours(s: &str) -> Option<f64> {
    let mut parts = s.split(':');
    let h = int(parts.next()?)?;
    let m = parts.next().map_or(Some(0), int)?;
    let sec = parts.next().map_or(Some(0), int)?;
    if parts.next().is_some() || h < 0 || !(0..60).contains(&m) || !(0..=60).contains(&sec) {
        return None;
    }
    Some(h as f64 + m as f64 / 60.0 + sec as f64 / 3600.0)
}

/// Millivolts as printed by the device, in volts.
pub(super) fn millivolts(s: &str) -> Option<f64> {
    int(s).map(|mv| mv as f64 / 1000.0)
}

/// A battery percentage: 1-3 digits, 0..=100.
pub(super) fn percent(s: &str) -> Option<u8> {
    if s.len() > 3 {
        return None;
    }
    int(s)
        .filter(|v| (0..=100).contains(v))
        .and_then(|v| u8::try_from(v).ok())
}

/// A VIN as some models insert it before the device name.
pub(super) fn is_vin(s: &str) -> bool {
    s.len() == 17
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

// ---------------------------------------------------------------------------------------
// The position block shared by most reports:
// `<accuracy>,<speed>,<azimuth>,<altitude>,<lon>,<lat>,<GNSS UTC>,[wifi],<mcc>,<mnc>,<lac>,<cell>,<extra>`

#[derive(Clone, Debug, Default)]
pub(super) struct Position {
    /// GNSS accuracy (HDOP); `Some(0.0)` means "fix failed, last known position".
    pub hdop: Option<f64>,
    pub speed: Option<f64>,
    pub course: Option<f64>,
    pub altitude: Option<f64>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub gnss_time: Option<Timestamp>,
    pub satellites: Option<u8>,
    pub gsm: Option<Gsm>,
    /// Per-position mileage (km) some GL300-class firmware prints in the extra slot.
    pub odometer: Option<f64>,
    pub wifi: Vec<(String, i64)>,
}

impl Position {
    /// The record this position describes. A failed fix keeps its stale coordinates as an
    /// invalid fix but takes the send time: the GNSS time of the last good fix would collide
    /// with the record that fix already produced.
    pub fn record(&self, send_time: Option<Timestamp>) -> Record {
        let fix = match (self.lat, self.lon) {
            (Some(lat), Some(lon)) if plausible(lat, lon) => {
                let valid = self.hdop != Some(0.0) && self.gnss_time.is_some();
                Some(Fix {
                    lat,
                    lon,
                    altitude: self.altitude,
                    speed: self.speed,
                    course: self.course,
                    satellites: self.satellites,
                    hdop: self.hdop.filter(|h| *h > 0.0),
                    valid,
                    source: FixSource::Gps,
                })
            }
            _ => None,
        };
        let time = match &fix {
            Some(f) if f.valid => self.gnss_time,
            _ => send_time.or(self.gnss_time),
        };
        let mut rec = Record {
            time,
            fix,
            gsm: self.gsm.clone(),
            ..Record::default()
        };
        if let Some(km) = self.odometer {
            rec.set_io("hw_mileage", km);
        }
        if !self.wifi.is_empty() {
            rec.set_io("gl200_wifi", wifi_text(&self.wifi));
        }
        rec
    }
}

pub(super) fn wifi_text(aps: &[(String, i64)]) -> String {
    aps.iter()
        .map(|(mac, rssi)| format!("{mac}:{rssi}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// In range and not the (0,0) a device prints when it has nothing.
pub(super) fn plausible(lat: f64, lon: f64) -> bool {
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) && !(lat == 0.0 && lon == 0.0)
}

/// MCC and MNC are printed in decimal, LAC and cell id in hex.
pub(super) fn cell(mcc: &str, mnc: &str, lac: &str, cid: &str) -> Option<Gsm> {
    let mcc = int(mcc)
        .and_then(|v| u16::try_from(v).ok())
        .filter(|v| *v > 0)?;
    Some(Gsm {
        mcc: Some(mcc),
        mnc: int(mnc).and_then(|v| u16::try_from(v).ok()),
        lac: hex(lac).and_then(|v| u32::try_from(v).ok()),
        cell_id: hex(cid),
        ..Gsm::default()
    })
}

/// Which fields a model puts around the position block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BlockShape {
    /// `<extra>` after the cell: position append mask, per-position mileage or reserved.
    Standard,
    /// GL5xx: CSQ RSSI and BER after the cell, then `<extra>`.
    Gl5,
    /// GL320M: nothing after the cell.
    Gl320m,
    /// GT501: one CSQ RSSI field after the cell.
    Gt501,
}

impl BlockShape {
    pub fn of(model: &str) -> Self {
        if model.starts_with("GL5") {
            BlockShape::Gl5
        } else if model == "GL320M" {
            BlockShape::Gl320m
        } else if model == "GT501" || model == "GT500MA" {
            BlockShape::Gt501
        } else {
            BlockShape::Standard
        }
    }
}

/// Does a position block plausibly start at `b`? Used to choose between header layouts.
pub(super) fn block_plausible(f: &Fields, b: usize) -> bool {
    let hdop = f.get(b);
    let lon = f.get(b.saturating_add(4));
    let lat = f.get(b.saturating_add(5));
    let t = f.get(b.saturating_add(6));
    let coords = (is_coordinate(lon) && is_coordinate(lat)) || (lon.is_empty() && lat.is_empty());
    b.saturating_add(6) < f.end()
        && (hdop.is_empty() || float(hdop).is_some())
        && coords
        && (t.is_empty() || time(t).is_some())
}

/// Reads `<accuracy>,<speed>,<azimuth>,<altitude>,<lon>,<lat>,<GNSS UTC>` at the cursor.
pub(super) fn read_gnss(c: &mut Cursor) -> Position {
    let mut p = Position {
        hdop: float(c.next()),
        speed: float(c.next()),
        course: float(c.next()),
        altitude: float(c.next()),
        ..Position::default()
    };
    let lon = c.next();
    let lat = c.next();
    if is_coordinate(lon) && is_coordinate(lat) {
        p.lon = float(lon);
        p.lat = float(lat);
    }
    p.gnss_time = time(c.next());
    p
}

/// Reads one position block at the cursor.
pub(super) fn read_position(c: &mut Cursor, shape: BlockShape) -> Position {
    let mut p = read_gnss(c);

    // Wi-Fi access points: a count, then (mac, rssi, 3 reserved) per point.
    if c.peek(1).len() == 12 && is_hex_len(c.peek(1), &[12]) {
        let n = int(c.next()).unwrap_or(0).clamp(0, 32);
        for _ in 0..n {
            let mac = c.next();
            let rssi = int(c.next()).unwrap_or(0);
            c.skip(3);
            p.wifi.push((mac.to_owned(), rssi));
        }
    }

    let (mcc, mnc, lac, cid) = (c.next(), c.next(), c.next(), c.next());
    p.gsm = cell(mcc, mnc, lac, cid);

    match shape {
        BlockShape::Gl5 => {
            let rssi = c.next();
            c.skip(1); // BER
            if let (Some(g), Some(r)) = (p.gsm.as_mut(), int(rssi)) {
                g.signal_level = csq_percent(r);
            }
            read_extra(c, &mut p);
        }
        BlockShape::Gl320m => {}
        BlockShape::Gt501 => {
            c.skip(1); // CSQ RSSI
        }
        BlockShape::Standard => read_extra(c, &mut p),
    }
    p
}

/// The slot after the cell: a per-position mileage (`25.2`), a position append mask
/// (`00`-`FF`, hex) or anything else a firmware put there.
fn read_extra(c: &mut Cursor, p: &mut Position) {
    if c.at_end() {
        return;
    }
    let extra = c.next();
    if extra.contains('.') {
        p.odometer = float(extra);
    } else if extra.len() <= 2 {
        if let Some(mask) = hex(extra) {
            if mask & 0x01 != 0 {
                p.satellites = int(c.next()).and_then(|v| u8::try_from(v).ok());
            }
            if mask & 0x02 != 0 {
                c.skip(1); // GNSS trigger type
            }
            if mask & 0x10 != 0 {
                c.skip(1); // GNSS jamming state
            }
        }
    }
}

/// CSQ RSSI (0..=31, 99 unknown) as a percentage.
pub(super) fn csq_percent(rssi: i64) -> Option<u8> {
    if (0..=31).contains(&rssi) {
        u8::try_from(rssi * 100 / 31).ok()
    } else {
        None
    }
}

/// Applies the device status: `[EIO in][EIO out]<motion><inputs><outputs>` as hex, or just
/// the motion byte on dashcams that send two characters.
pub(super) fn apply_status(rec: &mut Record, s: &str) {
    if is_hex_len(s, &[2]) {
        if let Some(v) = hex(s) {
            apply_motion_state(rec, v);
        }
        return;
    }
    if !is_hex_len(s, &[6, 10]) {
        return;
    }
    let Some(v) = hex(s) else { return };
    let outputs = (v & 0xFF) as u32;
    let inputs = ((v >> 8) & 0xFF) as u32;
    // Input bit 0 is the ignition line; DIN1 is bit 1, reported as input 1.
    rec.inputs = Some(inputs >> 1);
    rec.outputs = Some(outputs);
    apply_motion_state(rec, (v >> 16) & 0xFF);
}

/// The motion state byte: `1x` ignition off, `2x` ignition on, `4x` no ignition signal;
/// low nibble 1 rest, 2 motion, 6 tow, A fake tow.
pub(super) fn apply_motion_state(rec: &mut Record, state: u64) {
    match state >> 4 {
        1 => rec.ignition = Some(false),
        2 => rec.ignition = Some(true),
        _ => {}
    }
    match state & 0x0F {
        1 => rec.motion = Some(false),
        2 | 6 => rec.motion = Some(true),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_numbers() {
        assert_eq!(float("nan"), None);
        assert_eq!(float("Inf"), None);
        assert_eq!(float("-12.5"), Some(-12.5));
        assert_eq!(float("."), None);
        assert_eq!(int("0099"), Some(99));
        assert_eq!(hex("FFE2"), Some(0xFFE2));
        assert!(is_coordinate("-117.1299493"));
        assert!(!is_coordinate("51.6"));
        assert_eq!(
            hours("01476:55:53").map(|h| (h * 3600.0).round()),
            Some(5_316_953.0)
        );
        assert_eq!(
            time("20090214013254"),
            crate::time::utc(2009, 2, 14, 1, 32, 54)
        );
        assert_eq!(time("2009021401325"), None);
    }

    #[test]
    fn trailer_is_not_body() {
        let f = Fields::new("+RESP:GTPFA,F50201,866425030235982,GL300M,20190208124849,0BD4");
        assert_eq!(f.end(), 4);
        assert_eq!(f.get(4), "");
        assert_eq!(f.count(), Some("0BD4"));
        let f = Fields::new("+RESP:GTX,1,2,20190208124849");
        assert_eq!(f.count(), None);
        assert!(f.send_time().is_some());
    }
}
