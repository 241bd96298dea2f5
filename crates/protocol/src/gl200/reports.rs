//! Reports built around position blocks: GTFRI and the reports sharing its head, GTERI
//! with its peripheral blocks, GTIGN/GTIGF, and the position search for everything else.

use super::can;
use super::decode::{report_type, Ctx, Decoded};
use super::fields::{
    apply_status, block_plausible, cell, float, hex, hours, int, is_coordinate, is_hex_len,
    millivolts, percent, read_position, time, BlockShape, Cursor, Fields,
};
use crate::message::Record;

/// Reads `count` position blocks from `start`, stopping at the first that does not look
/// like one (a count that lies must not shift fields into coordinates).
fn positions(ctx: &Ctx, start: usize, count: i64, shape: BlockShape) -> (Vec<Record>, usize) {
    let mut c = ctx.f.cursor(start);
    let mut records = Vec::new();
    for k in 0..count.clamp(0, 15) {
        if k > 0 && !block_plausible(ctx.f, c.i) {
            break;
        }
        records.push(read_position(&mut c, shape).record(ctx.send));
    }
    (records, c.i)
}

/// GTFRI and the reports sharing its head: `<name>,<ext power>,<report type>,<number>,
/// {position}×number, <tail>`. Older and smaller devices put one or two more fields before
/// the number; the block check picks the layout.
pub(super) fn fri_like(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let n = ctx.name;
    let shape = BlockShape::of(ctx.model);
    let (ci, count) = [3usize, 4, 5].iter().find_map(|off| {
        let ci = n + off;
        let count = int(f.get(ci)).filter(|c| (1..=15).contains(c))?;
        block_plausible(f, ci + 1).then_some((ci, count))
    })?;
    let (mut records, next) = positions(ctx, ci + 1, count, shape);
    let last = records.last_mut()?;
    if ci == n + 3 {
        // Only some models print the external power here; others put 0 or 1.
        if let Some(mv) = int(f.get(n + 1)).filter(|v| *v > 10) {
            last.set_io("board_voltage", mv as f64 / 1000.0);
        }
    }
    fri_tail(last, f.body_from(next), ctx.model, shape);
    Some(Decoded {
        records,
        report_type: report_type(f.get(ci.saturating_sub(1))),
        block: Some(ci + 1),
    })
}

fn analog(rec: &mut Record, index: usize, s: &str) {
    if let Some(fuel) = s.strip_prefix('F') {
        // An analog input configured as a fuel sensor reports percent.
        if let Some(v) = int(fuel) {
            rec.set_io(format!("gl200_analog_fuel_{index}"), v);
        }
    } else if let Some(v) = millivolts(s) {
        rec.set_io(format!("analog_{index}"), v);
    }
}

pub(super) fn set_mileage(rec: &mut Record, s: &str) {
    if let Some(km) = float(s) {
        rec.set_io("hw_mileage", km);
    }
}

fn set_hours(rec: &mut Record, s: &str) {
    if let Some(h) = hours(s) {
        rec.set_io("gl200_hour_meter", h);
    }
}

/// The fields after the last position of GTFRI.
fn fri_tail(rec: &mut Record, tail: &[&str], model: &str, shape: BlockShape) {
    let at = |i: usize| tail.get(i).copied().unwrap_or("");
    let k = tail.len();
    if shape == BlockShape::Gl5 {
        // <battery %>,<mode>,<motion>,<temperature>
        if k >= 4 {
            rec.battery_level = percent(at(0));
            rec.motion = int(at(2)).map(|m| m > 0);
            if let Some(t) = float(at(3)) {
                rec.set_io("temp_sensor", t);
            }
        } else {
            rec.battery_level = tail.last().and_then(|s| percent(s));
        }
    } else if k >= 8 {
        // <mileage>,<hour meter>,<analog>...,<battery %>,<device status>,<3 more>: the
        // last three are reserved, or RPM, fuel consumption and fuel level on GV500.
        set_mileage(rec, at(0));
        set_hours(rec, at(1));
        for (i, s) in tail
            .get(2..k.saturating_sub(5))
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            analog(rec, i + 1, s);
        }
        rec.battery_level = percent(at(k.saturating_sub(5)));
        apply_status(rec, at(k.saturating_sub(4)));
        if model.starts_with("GV500") {
            if let Some(rpm) = int(at(k.saturating_sub(3))) {
                rec.set_io("obd_rpm", rpm);
            }
            if let Some(v) = float(at(k.saturating_sub(2))) {
                rec.set_io("obd_consumption", v);
            }
            if let Some(v) = float(at(k.saturating_sub(1))) {
                rec.set_io("obd_fuel", v);
            }
        }
    } else {
        let mut rest = tail;
        if let Some((first, others)) = tail.split_first() {
            if first.contains('.') {
                set_mileage(rec, first);
                rest = others;
            }
        }
        if let Some(b) = rest.last().and_then(|s| percent(s)) {
            rec.battery_level = Some(b);
        }
    }
}

/// GTERI: GTFRI plus `<ERI Mask>` after the name and the peripheral blocks it selects.
pub(super) fn eri(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let n = ctx.name;
    let model = ctx.model;
    let mask = hex(f.get(n + 1))?;
    let count = int(f.get(n + 4)).filter(|c| (1..=15).contains(c))?;
    if !block_plausible(f, n + 5) {
        return None;
    }
    let shape = BlockShape::of(model);
    let (mut records, next) = positions(ctx, n + 5, count, shape);
    let rec = records.last_mut()?;
    // As in GTFRI, 0 or 1 here is a filler value, not a voltage.
    if let Some(mv) = int(f.get(n + 2)).filter(|v| *v > 10) {
        rec.set_io("board_voltage", mv as f64 / 1000.0);
    }
    let mut c = f.cursor(next);
    if eri_head(&mut c, rec, f, model, mask) {
        eri_blocks(&mut c, rec, model, mask);
    }
    Some(Decoded {
        records,
        report_type: report_type(f.get(n + 3)),
        block: Some(n + 5),
    })
}

/// The fixed fields between the last position and the peripheral blocks. Returns false
/// when the layout could not be recognised (the blocks would then be misread).
fn eri_head(c: &mut Cursor, rec: &mut Record, f: &Fields, model: &str, mask: u64) -> bool {
    if model.starts_with("GL5") {
        rec.battery_level = percent(c.next());
        c.skip(1); // mode selection
        rec.motion = int(c.next()).map(|m| m > 0);
        return true;
    }
    if model == "GL320M" {
        set_mileage(rec, c.next());
        rec.battery_level = percent(c.next());
        if can::has(mask, 7) {
            if let Some(v) = int(c.next()) {
                rec.set_io("gl200_external_battery", v);
            }
        }
        return true;
    }
    set_mileage(rec, c.next());
    set_hours(rec, c.next());
    if model == "GV200" {
        for i in 1..=3 {
            analog(rec, i, c.next());
        }
        let inputs = hex(c.next()).and_then(|v| u32::try_from(v).ok());
        let outputs = hex(c.next()).and_then(|v| u32::try_from(v).ok());
        rec.inputs = inputs.map(|v| v >> 1);
        rec.outputs = outputs;
        c.skip(1); // UART device type
        return true;
    }
    // The number of analog inputs before <battery %>,<device status> varies by model and
    // firmware (0 to 3, plus a reserved slot on some): find the status instead of counting.
    let from = c.i;
    let Some(status) = (from..from + 7).find(|i| is_hex_len(f.get(*i), &[6, 10]) && *i < f.end())
    else {
        return false;
    };
    if status > from {
        for (k, i) in (from..status.saturating_sub(1)).enumerate() {
            analog(rec, k + 1, f.get(i));
        }
        rec.battery_level = percent(f.get(status.saturating_sub(1)));
    }
    apply_status(rec, f.get(status));
    c.i = status + 1;
    c.skip(1); // reserved / UART device type
    true
}

fn eri_blocks(c: &mut Cursor, rec: &mut Record, model: &str, mask: u64) {
    let bit = |n| can::has(mask, n);
    if bit(0) && model != "GV350M" {
        set_lls(rec, c.next());
    }
    if bit(29) {
        c.skip(2);
        let data_mask = hex(c.next()).unwrap_or(0);
        if can::has(data_mask, 0) {
            set_lls(rec, c.next());
        }
        if can::has(data_mask, 1) {
            c.skip(1); // fuel height
        }
    }
    if bit(1) {
        let count = bounded_count(c.next());
        let mut temp_index = 0;
        for _ in 0..count {
            let id = c.next();
            let kind = c.next();
            let data = c.next();
            if kind == "2" {
                // iButton: the key id identifies the driver; the data is a presence code.
                if !id.is_empty() {
                    rec.hardware_key = Some(id.to_owned());
                }
                continue;
            }
            temp_index += 1;
            if let Some(t) = one_wire_temperature(data) {
                rec.set_io(format!("ext_temp_sensor_{temp_index}"), t);
            }
        }
    }
    if bit(2) {
        c.skip(1); // CANBUS device state
                   // GNSS and GSM blocks never appear inside GTERI, whatever the mask says.
        let can_mask = hex(c.next()).unwrap_or(0) & 0x3FFF_FFFF;
        can::decode_can_fields(c, can_mask, model, rec);
    }
    if (bit(3) || bit(4) || (bit(0) && model == "GV350M")) && !c.at_end() {
        let count = bounded_count(c.next());
        for i in 1..=count {
            c.skip(1); // sensor type
            if model == "GV350M" {
                c.skip(1); // UART id
                if bit(0) {
                    set_lls(rec, c.next());
                }
            }
            if bit(3) {
                if let Some(v) = float(c.next()) {
                    rec.set_io(format!("gl200_fuel_percent_{i}"), v);
                }
            }
            if bit(4) {
                if let Some(v) = float(c.next()) {
                    rec.set_io(format!("gl200_fuel_volume_{i}"), v);
                }
            }
            if bit(10) {
                c.skip(1); // fuel temperature
            }
        }
    }
    if bit(7) && model != "GL320M" && !c.at_end() {
        let count = bounded_count(c.next());
        for _ in 0..count {
            c.skip(1); // serial number
            let kind = int(c.next());
            c.skip(1); // temperature
            if kind == Some(2) {
                c.skip(1); // humidity
            }
        }
    }
    if bit(8) && model != "GL320M" && !c.at_end() {
        let count = bounded_count(c.next());
        for i in 1..=count {
            c.skip(3); // index, accessory type, model
            if model.starts_with("GV600M") {
                c.skip(1); // raw data length
            }
            c.skip(1); // raw data
            let m = hex(c.next()).unwrap_or(0);
            ble_accessory(c, rec, i, m);
        }
    }
}

fn ble_accessory(c: &mut Cursor, rec: &mut Record, i: usize, m: u64) {
    let bit = |n| can::has(m, n);
    if bit(0) {
        c.skip(1); // name
    }
    if bit(1) {
        let mac = c.next();
        if !mac.is_empty() {
            rec.set_io(format!("gl200_ble_mac_{i}"), mac);
        }
    }
    if bit(2) {
        c.skip(1); // status
    }
    if bit(3) {
        if let Some(v) = int(c.next()) {
            rec.set_io(format!("gl200_ble_battery_{i}"), v);
        }
    }
    // Plain °C and %rh here, unlike the 1/16 °C of 1-Wire sensors.
    if bit(4) {
        if let Some(v) = float(c.next()) {
            rec.set_io(format!("gl200_ble_temp_{i}"), v);
        }
    }
    if bit(5) {
        if let Some(v) = float(c.next()) {
            rec.set_io(format!("humidity_{i}"), v);
        }
    }
    for n in 7..=12 {
        if bit(n) {
            c.skip(1);
        }
    }
    if bit(13) {
        if let Some(v) = int(c.next()) {
            rec.set_io(format!("gl200_ble_battery_level_{i}"), v);
        }
    }
    if bit(14) {
        c.skip(1); // relay
    }
}

pub(super) fn bounded_count(s: &str) -> usize {
    int(s)
        .and_then(|v| usize::try_from(v.clamp(0, 32)).ok())
        .unwrap_or(0)
}

/// Raw digital fuel sensor reading, printed in hex.
fn set_lls(rec: &mut Record, s: &str) {
    if let Some(v) = hex(s).and_then(|v| i64::try_from(v).ok()) {
        rec.set_io("lls_level_1", v);
    }
}

/// DS18B20 counts as 4 hex digits (two's complement, 1/16 °C); some GL3xx firmware prints
/// plain decimal degrees instead.
fn one_wire_temperature(data: &str) -> Option<f64> {
    if data.contains('.') {
        return float(data);
    }
    if !is_hex_len(data, &[1, 2, 3, 4]) {
        return None;
    }
    let raw = u16::try_from(hex(data)?).ok()?;
    Some(f64::from(raw as i16) * 0.0625)
}

/// GTIGN/GTIGF/GTVGN/GTVGF: `<name>,[CV200: reserved, report type],<duration>,<position>,
/// <hour meter>,<mileage>`.
pub(super) fn ign(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let d = if ctx.model == "CV200" {
        ctx.name + 3
    } else {
        ctx.name + 1
    };
    let (mut records, next, block) = if block_plausible(f, d + 1) {
        let (records, next) = positions(ctx, d + 1, 1, BlockShape::of(ctx.model));
        (records, next, d + 1)
    } else {
        let g = generic(ctx);
        let block = g.block.unwrap_or(d + 1);
        let next = f.end();
        (g.records, next, block)
    };
    let rec = records.last_mut()?;
    rec.ignition = Some(ctx.ty.ends_with("GN"));
    if let Some(secs) = int(f.get(block.saturating_sub(1))) {
        rec.set_io("gl200_duration", secs);
    }
    let mut c = f.cursor(next);
    set_hours(rec, c.next());
    set_mileage(rec, c.next());
    Some(Decoded {
        records,
        report_type: None,
        block: Some(block),
    })
}

/// Reports whose head this decoder does not know: find the position block by its
/// coordinates, or at least a serving cell.
pub(super) fn generic(ctx: &Ctx) -> Decoded {
    let f = ctx.f;
    let lower = ctx.name + 1;
    let found = (lower + 4..f.end()).find(|i| {
        is_coordinate(f.get(*i)) && is_coordinate(f.get(i + 1)) && time(f.get(i + 2)).is_some()
    });
    let mut rec;
    let mut block = None;
    if let Some(lon) = found {
        let start = lon.saturating_sub(4);
        block = Some(start);
        let mut c = f.cursor(start);
        rec = read_position(&mut c, BlockShape::of(ctx.model)).record(ctx.send);
        let rest = f.body_from(c.i);
        let mut tail = rest;
        if let Some((first, others)) = rest.split_first() {
            if first.contains('.') {
                set_mileage(&mut rec, first);
                tail = others;
            }
        }
        if let Some(b) = tail.last().and_then(|s| percent(s)) {
            rec.battery_level = Some(b);
        }
    } else {
        rec = Record {
            time: ctx.send,
            ..Record::default()
        };
        rec.gsm = (lower..f.end()).find_map(|i| {
            let (a, b, l, id) = (f.get(i), f.get(i + 1), f.get(i + 2), f.get(i + 3));
            let ok = a.len() == 4
                && b.len() == 4
                && int(a).is_some()
                && int(b).is_some()
                && is_hex_len(l, &[4])
                && is_hex_len(id, &[4, 5, 6, 7, 8]);
            if ok {
                cell(a, b, l, id)
            } else {
                None
            }
        });
    }
    Decoded {
        records: vec![rec],
        report_type: report_type(f.get(ctx.name + 2)),
        block,
    }
}
