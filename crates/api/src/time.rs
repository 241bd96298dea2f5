//! Times on the wire: `yyyy-MM-dd HH:mm:ss` in the user's time zone, or ISO 8601 with offset
//! when the client asks (`iso_datetime=true` or `NVX-ISO-DateTime: true`). Stored as UTC ms.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeFormat {
    pub tz: Tz,
    pub iso: bool,
}

impl Default for TimeFormat {
    fn default() -> Self {
        TimeFormat {
            tz: Tz::UTC,
            iso: false,
        }
    }
}

/// Parses an IANA zone name, e.g. `Europe/Amsterdam`.
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

impl TimeFormat {
    pub fn format(&self, millis: i64) -> String {
        match self.spell(millis) {
            Spelled::Digits(digits) => digits.as_str().to_owned(),
            Spelled::Chrono(s) => s,
        }
    }

    /// The time as `format` spells it, for an answer serialized straight from typed values,
    /// with no String of its own.
    pub fn at(&self, millis: i64) -> Formatted {
        Formatted {
            format: *self,
            millis,
        }
    }

    fn spell(&self, millis: i64) -> Spelled {
        let Some(utc) = DateTime::<Utc>::from_timestamp_millis(millis) else {
            return Spelled::Chrono(String::new());
        };
        let local = utc.with_timezone(&self.tz);
        let offset = local.offset().fix().local_minus_utc();
        let t = local.naive_local();
        // Written digit by digit: an answer of 2,000 states or 10,000 points formats tens of
        // thousands of times, and chrono reads its pattern again for each. Years of other
        // than four digits and offsets of seconds (local mean time before 1900) keep
        // chrono's spelling.
        if !(0..=9999).contains(&t.year()) || offset % 60 != 0 {
            return Spelled::Chrono(self.format_by_chrono(&local));
        }
        let mut d = Digits {
            bytes: [0; 25],
            len: 0,
        };
        d.number(t.year().unsigned_abs(), 4);
        d.byte(b'-');
        d.number(t.month(), 2);
        d.byte(b'-');
        d.number(t.day(), 2);
        d.byte(if self.iso { b'T' } else { b' ' });
        d.number(t.hour(), 2);
        d.byte(b':');
        d.number(t.minute(), 2);
        d.byte(b':');
        d.number(t.second(), 2);
        if self.iso {
            d.byte(if offset < 0 { b'-' } else { b'+' });
            let minutes = offset.unsigned_abs() / 60;
            d.number(minutes / 60, 2);
            d.byte(b':');
            d.number(minutes % 60, 2);
        }
        Spelled::Digits(d)
    }

    fn format_by_chrono(&self, local: &DateTime<Tz>) -> String {
        if self.iso {
            local.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
        } else {
            local.format("%Y-%m-%d %H:%M:%S").to_string()
        }
    }

    /// The date part in the user's zone, `yyyy-MM-dd`.
    pub fn format_date(&self, millis: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(millis)
            .map(|t| t.with_timezone(&self.tz).format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }

    /// Accepts `yyyy-MM-dd HH:mm:ss` (in the user's zone) and ISO 8601 with an offset or `Z`,
    /// whichever format the user's answers use.
    pub fn parse(&self, s: &str) -> Option<i64> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(t.timestamp_millis());
        }
        for fmt in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
            if let Ok(t) = DateTime::parse_from_str(s, fmt) {
                return Some(t.timestamp_millis());
            }
        }
        let naive = [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S%.f",
        ]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())?;
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => Some(t.timestamp_millis()),
            // An ambiguous wall time (clocks going back) means the earlier instant; a skipped
            // one (clocks going forward) does not exist.
            LocalResult::Ambiguous(a, _) => Some(a.timestamp_millis()),
            LocalResult::None => None,
        }
    }
}

/// A time `TimeFormat::spell` wrote: digit by digit (at most `yyyy-MM-ddTHH:mm:ss+hh:mm`, 25
/// ASCII bytes), or in chrono's spelling where that applies.
enum Spelled {
    Digits(Digits),
    Chrono(String),
}

struct Digits {
    bytes: [u8; 25],
    len: usize,
}

impl Digits {
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// `n` in `width` decimal digits, zero-padded (`n` has no more digits than that).
    fn number(&mut self, n: u32, width: u32) {
        for place in (0..width).rev() {
            self.byte(b'0' + (n / 10u32.pow(place) % 10) as u8);
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// A time as the user's answers spell it (`TimeFormat::at`); serializes as that string.
#[derive(Clone, Copy, Debug)]
pub struct Formatted {
    format: TimeFormat,
    millis: i64,
}

impl serde::Serialize for Formatted {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.format.spell(self.millis) {
            Spelled::Digits(digits) => serializer.serialize_str(digits.as_str()),
            Spelled::Chrono(s) => serializer.serialize_str(&s),
        }
    }
}

/// `YYYY-MM-DD` of a UTC instant.
pub fn utc_date(millis: i64) -> String {
    TimeFormat::default().format_date(millis)
}

/// Validates a plain `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_the_users_zone() {
        let ny = TimeFormat {
            tz: parse_zone("America/New_York").expect("zone"),
            iso: false,
        };
        // 2014-07-09 02:50:58 UTC
        let t = 1_404_874_258_000;
        assert_eq!(ny.format(t), "2014-07-08 22:50:58");
        assert_eq!(
            TimeFormat { iso: true, ..ny }.format(t),
            "2014-07-08T22:50:58-04:00"
        );
        assert_eq!(TimeFormat::default().format(t), "2014-07-09 02:50:58");
        assert_eq!(
            TimeFormat {
                iso: true,
                ..TimeFormat::default()
            }
            .format(t),
            "2014-07-09T02:50:58+00:00"
        );
    }

    /// The digit-by-digit spelling is chrono's, in zones east and west, of half and
    /// quarter hours, across changes of daylight saving time, and where chrono's spelling
    /// takes over (offsets of seconds, years of five digits).
    #[test]
    fn formats_as_chrono_does() {
        let zones = [
            "UTC",
            "America/New_York",
            "America/St_Johns",
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "Pacific/Chatham",
            "Europe/Amsterdam",
            "Australia/Lord_Howe",
        ];
        let mut t: i64 = -2_500_000_000_000; // 1890, before standard time
        while t < 4_200_000_000_000 {
            for zone in zones {
                for iso in [false, true] {
                    let format = TimeFormat {
                        tz: parse_zone(zone).expect("zone"),
                        iso,
                    };
                    let local = DateTime::<Utc>::from_timestamp_millis(t)
                        .expect("in range")
                        .with_timezone(&format.tz);
                    assert_eq!(
                        format.format(t),
                        format.format_by_chrono(&local),
                        "{zone} {t}"
                    );
                }
            }
            t += 7_777_777_777;
        }
        let far = 300_000_000_000_000; // the year 11476
        assert_eq!(TimeFormat::default().format(far), "+11476-08-15 05:20:00");
    }

    /// `at` serializes as the string `format` makes, whatever the spelling.
    #[test]
    fn formatted_serializes_as_format_spells_it() {
        for iso in [false, true] {
            let format = TimeFormat {
                tz: parse_zone("Asia/Kathmandu").expect("zone"),
                iso,
            };
            for t in [1_404_874_258_000, -2_500_000_000_000, 300_000_000_000_000] {
                assert_eq!(
                    serde_json::to_string(&format.at(t)).expect("serializes"),
                    serde_json::to_string(&format.format(t)).expect("serializes"),
                );
            }
        }
    }

    #[test]
    fn parses_both_formats() {
        let tz = TimeFormat {
            tz: parse_zone("Asia/Karachi").expect("zone"),
            iso: false,
        };
        let t = 1_404_874_258_000;
        assert_eq!(tz.parse("2014-07-09 07:50:58"), Some(t));
        assert_eq!(tz.parse("2014-07-09T07:50:58+05:00"), Some(t));
        assert_eq!(tz.parse("2014-07-09T02:50:58Z"), Some(t));
        assert_eq!(tz.parse("2014-07-09T07:50:58+0500"), Some(t));
        assert_eq!(tz.parse("yesterday"), None);
        assert_eq!(tz.parse("2014-13-09 07:50:58"), None);
    }
}
