//! Times on the wire: `yyyy-MM-dd HH:mm:ss` in the user's time zone, or ISO 8601 with offset
//! when the client asks (`iso_datetime=true` or `NVX-ISO-DateTime: true`). Stored as UTC ms.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
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
        let Some(utc) = DateTime::<Utc>::from_timestamp_millis(millis) else {
            return String::new();
        };
        let local = utc.with_timezone(&self.tz);
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
