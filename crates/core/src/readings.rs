//! A point's readings: its sensor values by Navixy input name (`board_voltage`,
//! `can_engine_hours`, `lls_level_1`, ...).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A reading's input name. The names decoders set are nearly all literals, so they are
/// borrowed rather than allocated again for every point, and copied for free into the
/// tracker's state; a name read back from the database, or built at run time, is owned.
pub type Name = Cow<'static, str>;

/// Readings in name order, each name once; stored and served as a JSON object.
///
/// A sorted list rather than a map: ingest makes one for every point it stores (about 125,000
/// a second under load), each holds a dozen readings or so, and they are only ever looked up
/// by name a few times (the state, the counters, the sensors). A list is one allocation where
/// a B-tree takes a node for every eleven entries, and it is built from the decoder's map
/// without comparing a single name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Readings(Vec<(Name, Value)>);

impl Readings {
    pub const fn new() -> Readings {
        Readings(Vec::new())
    }

    /// The readings of `map` (already in name order, each name once), each value through
    /// `convert`; a value it turns into `None` is left out.
    pub fn from_map<V>(
        map: BTreeMap<Name, V>,
        mut convert: impl FnMut(V) -> Option<Value>,
    ) -> Readings {
        Readings(
            map.into_iter()
                .filter_map(|(name, v)| Some((name, convert(v)?)))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        let i = self.position(name).ok()?;
        self.0.get(i).map(|(_, v)| v)
    }

    /// Sets `name` to `value`; returns the value it replaced.
    pub fn insert(&mut self, name: impl Into<Name>, value: Value) -> Option<Value> {
        let name = name.into();
        match self.position(&name) {
            Ok(i) => self
                .0
                .get_mut(i)
                .map(|(_, slot)| std::mem::replace(slot, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// In name order.
    pub fn iter(&self) -> Iter<'_> {
        self.into_iter()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(name))
    }
}

pub type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (Name, Value)>,
    fn(&'a (Name, Value)) -> (&'a Name, &'a Value),
>;

impl<'a> IntoIterator for &'a Readings {
    type Item = (&'a Name, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// A name given twice keeps its last value, as inserting each in turn would.
impl<N: Into<Name>> FromIterator<(N, Value)> for Readings {
    fn from_iter<I: IntoIterator<Item = (N, Value)>>(iter: I) -> Readings {
        let mut list: Vec<(Name, Value)> = iter.into_iter().map(|(k, v)| (k.into(), v)).collect();
        let ordered = list.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0));
        if !ordered {
            // Stable, so among equal names the last given is last; reversed, it comes first,
            // and `dedup_by` keeps the first of each run.
            list.sort_by(|a, b| a.0.cmp(&b.0));
            list.reverse();
            list.dedup_by(|later, kept| later.0 == kept.0);
            list.reverse();
        }
        Readings(list)
    }
}

impl Serialize for Readings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k.as_ref(), v)))
    }
}

impl<'de> Deserialize<'de> for Readings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Readings, D::Error> {
        deserializer.deserialize_map(ReadingsVisitor)
    }
}

struct ReadingsVisitor;

impl<'de> Visitor<'de> for ReadingsVisitor {
    type Value = Readings;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of readings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Readings, A::Error> {
        let mut list: Vec<(String, Value)> = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(entry) = map.next_entry::<String, Value>()? {
            list.push(entry);
        }
        Ok(list.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_name_is_kept_once_in_order_and_the_last_value_wins() {
        let mut r = Readings::new();
        assert_eq!(r.insert("speed", json!(1)), None);
        assert_eq!(r.insert("analog_1", json!(2.5)), None);
        assert_eq!(r.insert(String::from("can_rpm"), json!(900)), None);
        assert_eq!(r.insert("speed", json!(3)), Some(json!(1)));
        let names: Vec<&str> = r.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(names, ["analog_1", "can_rpm", "speed"]);
        assert_eq!(
            (r.get("speed"), r.get("spee"), r.len()),
            (Some(&json!(3)), None, 3)
        );

        let collected: Readings = [
            ("b", json!(1)),
            ("a", json!(2)),
            ("b", json!(3)),
            ("c", json!(4)),
            ("b", json!(5)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            serde_json::to_string(&collected).unwrap(),
            r#"{"a":2,"b":5,"c":4}"#
        );
    }

    #[test]
    fn from_a_map_values_converted_or_left_out() {
        let map: BTreeMap<Name, i64> = [("z".into(), 1), ("m".into(), -2), ("a".into(), 3)]
            .into_iter()
            .collect();
        let r = Readings::from_map(map, |v| (v > 0).then(|| json!(v)));
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"a":3,"z":1}"#);
        assert!(matches!(r.iter().next(), Some((Cow::Borrowed("a"), _))));
    }

    #[test]
    fn json_round_trips_and_an_unordered_object_is_put_in_order() {
        let text = r#"{"obd_vin":"WVW","board_voltage":12.5,"can_\"odd\"":[1],"board_voltage":13}"#;
        let r: Readings = serde_json::from_str(text).unwrap();
        let back = serde_json::to_string(&r).unwrap();
        assert_eq!(
            back,
            r#"{"board_voltage":13,"can_\"odd\"":[1],"obd_vin":"WVW"}"#
        );
        assert_eq!(serde_json::from_str::<Readings>(&back).unwrap(), r);
        assert!(serde_json::from_str::<Readings>("[1]").is_err());
        assert!(serde_json::from_str::<Readings>("{}").unwrap().is_empty());
    }
}
