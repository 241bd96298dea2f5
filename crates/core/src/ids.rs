//! Identifiers. Each is its own type so a tracker ID can never be passed where a user ID is
//! meant.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A tracker: what a user sees and names. Several trackers (clones) may share one source.
    TrackerId
);
id_type!(
    /// A source: the physical device behind one or more trackers.
    SourceId
);
id_type!(
    /// A user: a master user (an account) or one of its sub-users.
    UserId
);
id_type!(
    /// A tracker group; 0 means "no group".
    GroupId
);
id_type!(
    /// A tag.
    TagId
);

/// A device's own identifier (IMEI, factory ID, phone-app ID), as the protocol announces it.
///
/// Navixy allows `^[0-9a-zA-Z-]{1,64}$`; models narrow it further by their `id_type`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(String);

impl DeviceId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 {
            return Err("must match \"^[0-9a-zA-Z\\-]{1,64}$\"".into());
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("must match \"^[0-9a-zA-Z\\-]{1,64}$\"".into());
        }
        Ok(DeviceId(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` is a valid 15-digit IMEI (Luhn check digit included).
pub fn is_valid_imei(s: &str) -> bool {
    if s.len() != 15 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = s
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_id_rules() {
        assert!(DeviceId::parse("986575154632586").is_ok());
        assert!(DeviceId::parse("ab-12").is_ok());
        assert!(DeviceId::parse("").is_err());
        assert!(DeviceId::parse("a b").is_err());
        assert!(DeviceId::parse(&"1".repeat(65)).is_err());
    }

    #[test]
    fn imei_luhn() {
        assert!(is_valid_imei("490154203237518"));
        assert!(!is_valid_imei("490154203237519"));
        assert!(!is_valid_imei("49015420323751"));
    }
}
