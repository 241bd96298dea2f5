//! Mask-driven vehicle data: the `<CAN Report Mask>` of GTCAN (and of the CAN block inside
//! GTERI) and the `<OBD Report Mask>` of GTOBD. Fields appear in ascending bit order, except
//! that engine RPM (bit 5) comes before vehicle speed (bit 4).

use super::fields::{float, hex, int, millivolts, Cursor};
use crate::message::Record;

fn bit(mask: u64, n: u32) -> bool {
    mask.checked_shr(n).is_some_and(|v| v & 1 != 0)
}

/// The numeric part after a unit prefix such as `H`, `L`, `P`, `L/H`.
fn split_prefix(s: &str) -> (&str, &str) {
    let idx = s
        .find(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
        .unwrap_or(s.len());
    (s.get(..idx).unwrap_or(""), s.get(idx..).unwrap_or(""))
}

fn set_f(rec: &mut Record, key: &'static str, v: Option<f64>) {
    if let Some(v) = v {
        rec.set_io(key, v);
    }
}

fn set_i(rec: &mut Record, key: &'static str, v: Option<i64>) {
    if let Some(v) = v {
        rec.set_io(key, v);
    }
}

fn set_text(rec: &mut Record, key: &'static str, s: &str) {
    if !s.is_empty() {
        rec.set_io(key, s);
    }
}

/// Decodes the masked CAN fields (bits 0..=29 and the expansion masks) at the cursor. The
/// GNSS/GSM blocks of bits 30/31 are not read here: callers anchor them on the trailer.
pub(super) fn decode_can_fields(c: &mut Cursor, mask: u64, model: &str, rec: &mut Record) {
    let ceu = model.starts_with("GV35") && model.ends_with("CEU");

    if bit(mask, 0) {
        set_text(rec, "obd_vin", c.next());
    }
    if bit(mask, 1) {
        // 0 off, 1 on, 2 engine running.
        if let Some(key) = int(c.next()) {
            rec.ignition = Some(key > 0);
            rec.set_io("gl200_can_ignition_key", key);
        }
    }
    if bit(mask, 2) {
        match split_prefix(c.next()) {
            // Hectometres.
            ("H", v) => set_f(rec, "can_mileage", float(v).map(|hm| hm / 10.0)),
            // Impulses are not a distance: never let them reach an odometer.
            ("I", v) => set_i(rec, "gl200_can_distance_impulses", int(v)),
            _ => {}
        }
    }
    if bit(mask, 3) {
        if let ("" | "L", v) = split_prefix(c.next()) {
            set_f(rec, "fuel_consumption", float(v));
        }
    }
    if bit(mask, 5) {
        set_i(rec, "can_rpm", int(c.next()));
    }
    if bit(mask, 4) {
        set_f(rec, "can_speed", float(c.next()));
    }
    if bit(mask, 6) {
        set_f(rec, "can_coolant_t", float(c.next()));
    }
    if bit(mask, 7) {
        match split_prefix(c.next()) {
            ("H" | "L/H", v) => set_f(rec, "can_fuel_rate", float(v)),
            ("M" | "L/100KM" | "L/100km", v) => {
                set_f(rec, "gl200_can_consumption_l100km", float(v))
            }
            _ => {}
        }
    }
    if bit(mask, 8) {
        match split_prefix(c.next()) {
            ("L", v) => set_f(rec, "can_fuel_litres", float(v)),
            ("P" | "", v) => set_f(rec, "can_fuel", float(v)),
            _ => {}
        }
    }
    if bit(mask, 9) {
        set_f(rec, "gl200_can_range", float(c.next()).map(|hm| hm / 10.0));
    }
    if bit(mask, 10) {
        set_f(rec, "can_throttle", float(c.next()));
    }
    if bit(mask, 11) {
        set_f(rec, "can_engine_hours", float(c.next()));
    }
    if bit(mask, 12) {
        set_f(rec, "gl200_can_driving_hours", float(c.next()));
    }
    if bit(mask, 13) {
        set_f(rec, "gl200_can_idle_hours", float(c.next()));
    }
    if bit(mask, 14) {
        if let ("" | "L", v) = split_prefix(c.next()) {
            set_f(rec, "gl200_can_idle_fuel", float(v));
        }
    }
    if bit(mask, 15) {
        set_f(rec, "can_axle_load_2", float(c.next()));
    }
    for (n, key) in [
        (16, "gl200_can_tachograph"),
        (17, "gl200_can_indicators"),
        (18, "gl200_can_lights"),
        (19, "gl200_can_doors"),
    ] {
        if bit(mask, n) {
            set_i(rec, key, hex(c.next()).and_then(|v| i64::try_from(v).ok()));
        }
    }
    if bit(mask, 20) {
        set_f(rec, "gl200_can_vehicle_overspeed_hours", float(c.next()));
    }
    if bit(mask, 21) {
        set_f(rec, "gl200_can_engine_overspeed_hours", float(c.next()));
    }
    // Model-specific bits between 22 and 27 carry fields we only step over.
    let extra: &[u32] = if model == "GV350M" {
        &[22, 23, 24]
    } else if ceu {
        &[23, 24, 25, 26, 27]
    } else {
        &[]
    };
    for &n in extra {
        if bit(mask, n) {
            c.skip(1);
        }
    }

    let ext = if bit(mask, 29) {
        hex(c.next()).unwrap_or(0)
    } else {
        0
    };
    if ext != 0 {
        decode_expansion(c, ext, ceu, rec);
    }
}

/// `<CAN Report Expansion Mask>` fields.
fn decode_expansion(c: &mut Cursor, ext: u64, ceu: bool, rec: &mut Record) {
    if bit(ext, 0) {
        let (_, v) = split_prefix(c.next());
        set_f(rec, "can_adblue_level", float(v));
    }
    for (n, key) in [
        (1, "can_axle_load_1"),
        (2, "can_axle_load_3"),
        (3, "can_axle_load_4"),
    ] {
        if bit(ext, n) {
            set_f(rec, key, float(c.next()));
        }
    }
    for n in 4..=6 {
        if bit(ext, n) {
            c.skip(1);
        }
    }
    if bit(ext, 7) {
        set_f(rec, "gl200_can_analog_input", millivolts(c.next()));
    }
    for n in 8..=14 {
        if bit(ext, n) {
            c.skip(1);
        }
    }
    if bit(ext, 15) {
        let card = c.next();
        if !card.is_empty() {
            rec.hardware_key = Some(card.to_owned());
            rec.set_io("tacho_card1_sn", card);
        }
    }
    if bit(ext, 16) {
        set_text(rec, "tacho_card2_sn", c.next());
    }
    if bit(ext, 17) {
        set_text(rec, "gl200_driver1_name", c.next());
    }
    if bit(ext, 18) {
        set_text(rec, "gl200_driver2_name", c.next());
    }
    if bit(ext, 19) {
        set_text(rec, "gl200_registration", c.next());
    }
    for n in 20..=25 {
        if bit(ext, n) {
            c.skip(1);
        }
    }
    for n in 26..=27 {
        if bit(ext, n) {
            // CEU models print a mask followed by the fields it selects.
            if ceu {
                let m = hex(c.next()).unwrap_or(0);
                c.skip(m.count_ones() as usize);
            } else {
                c.skip(1);
            }
        }
    }
    if bit(ext, 28) {
        let count = if ceu { int(c.peek(0)).unwrap_or(0) } else { 0 };
        c.skip(1 + usize::try_from(count.clamp(0, 64)).unwrap_or(0));
    }
    for n in 29..=30 {
        if bit(ext, n) {
            c.skip(1);
        }
    }
}

/// `<OBD Report Mask>` fields 0..=19 (GTOBD); the GNSS/GSM/mileage bits are anchored on the
/// trailer by the caller.
pub(super) fn decode_obd_fields(c: &mut Cursor, mask: u64, rec: &mut Record) {
    if bit(mask, 0) {
        set_text(rec, "obd_vin", c.next());
    }
    if bit(mask, 1) {
        if let Some(v) = int(c.next()) {
            rec.set_io("gl200_obd_connected", v == 1);
        }
    }
    if bit(mask, 2) {
        // The OBD port is fed by the vehicle battery: it is the board voltage.
        set_f(rec, "board_voltage", millivolts(c.next()));
    }
    if bit(mask, 3) {
        set_text(rec, "gl200_obd_pids", c.next());
    }
    if bit(mask, 4) {
        set_i(rec, "obd_rpm", int(c.next()));
    }
    if bit(mask, 5) {
        set_f(rec, "obd_speed", float(c.next()));
    }
    if bit(mask, 6) {
        set_f(rec, "obd_coolant_t", float(c.next()));
    }
    if bit(mask, 7) {
        // `Inf` and `NaN` are documented values here; `float` refuses them.
        set_f(rec, "obd_consumption", float(c.next()));
    }
    if bit(mask, 8) {
        set_f(rec, "obd_dtc_cleared_distance", float(c.next()));
    }
    if bit(mask, 9) {
        set_f(rec, "obd_mil_activated_distance", float(c.next()));
    }
    if bit(mask, 10) {
        set_i(rec, "obd_mil_status", int(c.next()));
    }
    if bit(mask, 11) {
        set_i(rec, "obd_dtc_number", int(c.next()));
    }
    if bit(mask, 12) {
        set_text(rec, "obd_dtc_codes", c.next());
    }
    if bit(mask, 13) {
        set_f(rec, "obd_throttle", float(c.next()));
    }
    if bit(mask, 14) {
        set_f(rec, "obd_engine_load", float(c.next()));
    }
    if bit(mask, 15) {
        set_f(rec, "obd_fuel", float(c.next()));
    }
    for n in 16..=18 {
        if bit(mask, n) {
            c.skip(1);
        }
    }
    if bit(mask, 19) {
        set_f(rec, "obd_custom_odometer", float(c.next()));
    }
}

/// Is bit `n` of `mask` set?
pub(super) fn has(mask: u64, n: u32) -> bool {
    bit(mask, n)
}
