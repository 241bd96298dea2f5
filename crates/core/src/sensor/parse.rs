//! Reading a sensor object as a client sends it (`tracker/sensor/create` and `update`), with
//! every bad field named: `sensor.name`, `sensor.parameters.bit_index`, ...

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::*;
use crate::lenient::{as_array, as_bool, as_float, as_int, as_object, as_string};

const MISSING: &str = "must not be null";

/// Collects the problems of one object; fields are named `<prefix>.<field>`.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    errors: &'a mut Vec<Invalid>,
}

impl<'a> Fields<'a> {
    fn name(&self, field: &str) -> String {
        format!("{}.{field}", self.prefix)
    }

    fn fail(&mut self, field: &str, error: impl Into<String>) {
        let field = self.name(field);
        if !self.errors.iter().any(|e| e.field == field) {
            self.errors.push(Invalid {
                field,
                error: error.into(),
            });
        }
    }

    /// The value of `field` read by `conv`; `None` when absent (or `null`) or bad.
    fn opt<T>(
        &mut self,
        field: &str,
        conv: impl Fn(&Value) -> Result<T, &'static str>,
    ) -> Option<T> {
        let v = self.obj.get(field).filter(|v| !v.is_null())?;
        match conv(v) {
            Ok(t) => Some(t),
            Err(msg) => {
                self.fail(field, msg);
                None
            }
        }
    }

    fn required<T>(
        &mut self,
        field: &str,
        conv: impl Fn(&Value) -> Result<T, &'static str>,
    ) -> Option<T> {
        if self.obj.get(field).is_none_or(Value::is_null) {
            self.fail(field, MISSING);
            return None;
        }
        self.opt(field, conv)
    }

    /// A string of `min..=max` characters without control characters.
    fn text(&mut self, field: &str, min: usize, max: usize, required: bool) -> Option<String> {
        let s = if required {
            self.required(field, as_string)?
        } else {
            self.opt(field, as_string)?
        };
        let n = s.chars().count();
        if n < min || n > max {
            self.fail(field, format!("size must be between {min} and {max}"));
        } else if s.chars().any(char::is_control) {
            self.fail(field, "must not contain control characters");
        }
        Some(s)
    }

    /// One of the names of an enumeration.
    fn one_of<T: Names>(&mut self, field: &str, required: bool) -> Option<T> {
        let s = if required {
            self.required(field, as_string)?
        } else {
            self.opt(field, as_string)?
        };
        let t = T::parse(&s);
        if t.is_none() {
            self.fail(field, format!("must be one of: {}", T::names().join(", ")));
        }
        t
    }

    /// An optional nested object, read with its own field names.
    fn nested<T>(&mut self, field: &str, read: impl FnOnce(&mut Fields<'_>) -> T) -> Option<T> {
        let obj = self.opt(field, as_object)?;
        let prefix = self.name(field);
        let mut nested = Fields {
            obj: &obj,
            prefix,
            errors: &mut *self.errors,
        };
        Some(read(&mut nested))
    }
}

impl SensorDef {
    /// Reads and checks a sensor object. `prefix` names it in the errors (`sensor`). An `id`
    /// in the object is not read here: `create` ignores it and `update` reads it itself.
    pub fn parse(obj: &Map<String, Value>, prefix: &str) -> Result<SensorDef, Vec<Invalid>> {
        let mut errors = Vec::new();
        let mut f = Fields {
            obj,
            prefix: prefix.to_owned(),
            errors: &mut errors,
        };
        let kind = f.one_of::<SensorKind>("type", true);
        let name = f.text("name", 0, MAX_NAME, true);
        let kind = match kind {
            Some(SensorKind::Metering) => metering(&mut f).map(Kind::Metering),
            Some(SensorKind::Discrete) => discrete(&mut f).map(Kind::Discrete),
            Some(SensorKind::Virtual) => virtual_sensor(&mut f).map(Kind::Virtual),
            None => None,
        };
        match (name, kind) {
            (Some(name), Some(kind)) if errors.is_empty() => Ok(SensorDef { name, kind }),
            _ => Err(errors),
        }
    }
}

fn input_name(f: &mut Fields<'_>) -> Option<String> {
    f.text("input_name", 1, MAX_INPUT_NAME, true)
}

fn metering(f: &mut Fields<'_>) -> Option<Metering> {
    let sensor_type = f.one_of::<MeteringType>("sensor_type", true);
    let input_name = input_name(f);
    let divider = f.opt("divider", as_float).unwrap_or(1.0);
    if divider == 0.0 {
        f.fail("divider", "must not be 0");
    }
    let accuracy = f.opt("accuracy", as_float).unwrap_or(0.0);
    if !(0.0..=100.0).contains(&accuracy) || (accuracy * 4.0).fract() != 0.0 {
        f.fail("accuracy", "must be between 0 and 100 in steps of 0.25");
    }
    let units = f.text("units", 0, MAX_UNITS, false).unwrap_or_default();
    let units_type = f
        .opt("units_type", as_string)
        .unwrap_or_else(|| "custom".to_owned());
    if !is_unit_name(&units_type) {
        f.fail(
            "units_type",
            "must be 1 to 32 lowercase letters, digits or '_'",
        );
    }
    let group_type = f.one_of::<GroupType>("group_type", false);
    let parameters = f.nested("parameters", metering_parameters);
    Some(Metering {
        sensor_type: sensor_type?,
        input_name: input_name?,
        divider,
        accuracy,
        units,
        units_type,
        group_type,
        parameters,
    })
}

/// Units trackd does not know are kept (and never converted): refusing them would break a
/// client that uses a unit of Navixy's that is missing here.
fn is_unit_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn metering_parameters(f: &mut Fields<'_>) -> MeteringParameters {
    let parent_ids = f.opt("parent_ids", as_array).map(|items| {
        let ids: Vec<i64> = items.iter().filter_map(|i| as_int(i).ok()).collect();
        if ids.len() != items.len() {
            f.fail("parent_ids", "must be an array of integers");
        }
        ids
    });
    let p = MeteringParameters {
        parent_ids,
        volume: f.opt("volume", as_float),
        min: f.opt("min", as_float),
        max: f.opt("max", as_float),
        max_lowering_by_time: f.opt("max_lowering_by_time", as_float),
        max_lowering_by_mileage: f.opt("max_lowering_by_mileage", as_float),
        ignore_drains_in_move: f.opt("ignore_drains_in_move", as_bool),
        ignore_refuels_in_move: f.opt("ignore_refuels_in_move", as_bool),
        refuel_gap_minutes: f.opt("refuel_gap_minutes", as_int),
        custom_field_name: f.opt("custom_field_name", as_bool),
    };
    if p.volume.is_some_and(|v| v < 0.0) {
        f.fail("volume", "must not be negative");
    }
    if let (Some(min), Some(max)) = (p.min, p.max) {
        if min > max {
            f.fail("min", "must not be greater than max");
        }
    }
    if p.refuel_gap_minutes.is_some_and(|m| m < 0) {
        f.fail("refuel_gap_minutes", "must not be negative");
    }
    p
}

fn discrete(f: &mut Fields<'_>) -> Option<Discrete> {
    let sensor_type = f.one_of::<DiscreteType>("sensor_type", true);
    let input_number = f.required("input_number", as_int).and_then(|n| {
        let n = u8::try_from(n).ok().filter(|n| (1..=8).contains(n));
        if n.is_none() {
            f.fail("input_number", "must be between 1 and 8");
        }
        n
    });
    Some(Discrete {
        sensor_type: sensor_type?,
        input_number: input_number?,
    })
}

/// Bits a `bit_index` may name: those of a 64-bit input.
const MAX_BIT_INDEX: i64 = 64;

fn virtual_sensor(f: &mut Fields<'_>) -> Option<Virtual> {
    let sensor_type = f.one_of::<VirtualType>("sensor_type", true);
    let input_name = input_name(f);
    let custom_field_name = f.opt("custom_field_name", as_bool);
    let parameters = f.nested("parameters", virtual_parameters);
    Some(Virtual {
        sensor_type: sensor_type?,
        input_name: input_name?,
        custom_field_name,
        parameters,
    })
}

fn virtual_parameters(f: &mut Fields<'_>) -> VirtualParameters {
    let calc_method = f
        .one_of::<CalcMethod>("calc_method", false)
        .unwrap_or(CalcMethod::Identity);
    let range_from = f.opt("range_from", as_float);
    let range_to = f.opt("range_to", as_float);
    let bit_index = f.opt("bit_index", as_int);
    match calc_method {
        CalcMethod::InRange if range_from.is_none() && range_to.is_none() => {
            f.fail(
                "range_from",
                "range_from or range_to must be set for in_range",
            );
        }
        CalcMethod::BitIndex if bit_index.is_none() => {
            f.fail("bit_index", "must be set for bit_index");
        }
        _ => {}
    }
    if let (Some(from), Some(to)) = (range_from, range_to) {
        if from > to {
            f.fail("range_from", "must not be greater than range_to");
        }
    }
    let bit_index = bit_index.and_then(|b| {
        if !(1..=MAX_BIT_INDEX).contains(&b) {
            f.fail(
                "bit_index",
                format!("must be between 1 and {MAX_BIT_INDEX}"),
            );
        }
        u32::try_from(b).ok()
    });
    let value_titles = f
        .opt("value_titles", as_array)
        .map(|items| value_titles(f, &items));
    VirtualParameters {
        calc_method,
        range_from,
        range_to,
        bit_index,
        value_titles,
    }
}

fn value_titles(f: &mut Fields<'_>, items: &[Value]) -> Vec<ValueTitle> {
    if items.len() > MAX_VALUE_TITLES {
        f.fail(
            "value_titles",
            format!("size must be between 0 and {MAX_VALUE_TITLES}"),
        );
        return Vec::new();
    }
    let mut titles = Vec::with_capacity(items.len());
    for item in items {
        let title = as_object(item).ok().and_then(|o| {
            Some(ValueTitle {
                value: as_string(o.get("value")?).ok()?,
                title: as_string(o.get("title")?).ok()?,
            })
        });
        match title {
            Some(t) => titles.push(t),
            None => {
                f.fail(
                    "value_titles",
                    "items must be objects with a value and a title",
                );
                return Vec::new();
            }
        }
    }
    let long = |s: &str| s.chars().count() > MAX_VALUE_TITLE;
    if titles.iter().any(|t| long(&t.value) || long(&t.title)) {
        f.fail(
            "value_titles",
            format!("values and titles must be at most {MAX_VALUE_TITLE} characters"),
        );
    }
    let distinct: HashSet<&str> = titles.iter().map(|t| t.value.as_str()).collect();
    if distinct.len() != titles.len() {
        f.fail("value_titles", "values must be unique");
    }
    titles
}
