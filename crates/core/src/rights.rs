//! Sub-user rights (navixy-reference §2.2). A master user holds every right, including the
//! exclusive `admin`; a sub-user holds the ones granted to it. Most reads need none.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Right {
    Admin,
    TrackerUpdate,
    TrackerRegister,
    TrackerRuleUpdate,
    TrackerConfigure,
    TrackerSetOutput,
    TagUpdate,
    TaskUpdate,
    ZoneUpdate,
    PlaceUpdate,
    EmployeeUpdate,
    VehicleUpdate,
    PaymentCreate,
    FormTemplateUpdate,
    Reports,
    CheckinUpdate,
    PlacesCustomFieldsUpdate,
    VideoMonitoring,
    WeblocatorSessionCreate,
    DeliverySessionCreate,
}

const NAMES: &[(Right, &str)] = &[
    (Right::Admin, "admin"),
    (Right::TrackerUpdate, "tracker_update"),
    (Right::TrackerRegister, "tracker_register"),
    (Right::TrackerRuleUpdate, "tracker_rule_update"),
    (Right::TrackerConfigure, "tracker_configure"),
    (Right::TrackerSetOutput, "tracker_set_output"),
    (Right::TagUpdate, "tag_update"),
    (Right::TaskUpdate, "task_update"),
    (Right::ZoneUpdate, "zone_update"),
    (Right::PlaceUpdate, "place_update"),
    (Right::EmployeeUpdate, "employee_update"),
    (Right::VehicleUpdate, "vehicle_update"),
    (Right::PaymentCreate, "payment_create"),
    (Right::FormTemplateUpdate, "form_template_update"),
    (Right::Reports, "reports"),
    (Right::CheckinUpdate, "checkin_update"),
    (
        Right::PlacesCustomFieldsUpdate,
        "places_custom_fields_update",
    ),
    (Right::VideoMonitoring, "video_monitoring"),
    (Right::WeblocatorSessionCreate, "weblocator_session_create"),
    (Right::DeliverySessionCreate, "delivery_session_create"),
];

impl Right {
    pub fn as_str(self) -> &'static str {
        NAMES
            .iter()
            .find(|(r, _)| *r == self)
            .map(|(_, n)| *n)
            .unwrap_or("admin")
    }
    pub fn all() -> impl Iterator<Item = Right> {
        NAMES.iter().map(|(r, _)| *r)
    }
}

impl FromStr for Right {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(r, _)| *r)
            .ok_or_else(|| format!("unknown right '{s}'"))
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rights a user holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rights {
    master: bool,
    granted: BTreeSet<Right>,
}

impl Rights {
    pub fn master() -> Self {
        Rights {
            master: true,
            granted: BTreeSet::new(),
        }
    }
    /// A sub-user's rights; `admin` cannot be granted to a sub-user and is dropped.
    pub fn sub_user(granted: impl IntoIterator<Item = Right>) -> Self {
        Rights {
            master: false,
            granted: granted.into_iter().filter(|r| *r != Right::Admin).collect(),
        }
    }
    pub fn is_master(&self) -> bool {
        self.master
    }
    pub fn has(&self, right: Right) -> bool {
        self.master || self.granted.contains(&right)
    }
    /// The rights as Navixy lists them in `privileges.rights`.
    pub fn names(&self) -> Vec<&'static str> {
        if self.master {
            Right::all().map(Right::as_str).collect()
        } else {
            self.granted.iter().map(|r| r.as_str()).collect()
        }
    }
    pub fn granted(&self) -> impl Iterator<Item = Right> + '_ {
        self.granted.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Right::all() {
            assert_eq!(r.as_str().parse::<Right>(), Ok(r));
        }
        assert!("root".parse::<Right>().is_err());
    }

    #[test]
    fn master_has_everything_sub_user_only_granted() {
        assert!(Rights::master().has(Right::Admin));
        let sub = Rights::sub_user([Right::Admin, Right::TagUpdate]);
        assert!(sub.has(Right::TagUpdate));
        assert!(!sub.has(Right::Admin));
        assert!(!sub.has(Right::TrackerUpdate));
    }
}
