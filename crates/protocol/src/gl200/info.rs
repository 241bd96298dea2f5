//! Reports without a position block at a fixed place: device information, CAN and OBD
//! vehicle data (their GNSS block is anchored on the trailer), Wi-Fi and cell lists, versions
//! and transparent data.

use super::can;
use super::decode::{report_type, Ctx, Decoded};
use super::fields::{
    apply_motion_state, cell, csq_percent, float, hex, int, is_hex_len, millivolts, percent,
    read_gnss, wifi_text, Position,
};
use super::reports::{bounded_count, set_mileage};
use crate::message::Record;

/// GTINF: device information, no position.
pub(super) fn inf(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let n = ctx.name;
    let mut rec = Record {
        time: ctx.send,
        ..Record::default()
    };
    if let Some(state) = report_type(f.get(n + 1)) {
        apply_motion_state(&mut rec, state);
    }
    let iccid = f.get(n + 2);
    if !iccid.is_empty() {
        rec.set_io("gl200_iccid", iccid);
    }
    if let Some(level) = int(f.get(n + 3)).and_then(csq_percent) {
        rec.gsm = Some(crate::message::Gsm {
            signal_level: Some(level),
            ..Default::default()
        });
    }
    let power = f.get(n + 6);
    if power.contains('.') {
        set_mileage(&mut rec, power);
    } else if let Some(v) = millivolts(power) {
        rec.set_io("board_voltage", v);
    }
    let mut i = n + 7;
    if ctx.model != "GV350M" && ctx.model != "GV310LAU" {
        if let Some(v) = millivolts(f.get(i)) {
            rec.set_io("gl200_backup_power_voltage", v);
        }
    }
    i += 1;
    if let Some(v) = float(f.get(i)) {
        rec.set_io("battery_voltage", v);
    }
    if let Some(v) = int(f.get(i + 1)) {
        rec.set_io("gl200_charging", v == 1);
    }
    if ctx.model == "GV310LAU" {
        // LED, power saving, antenna, last fix time, pin mask, then three analog inputs.
        for k in 1..=3 {
            if let Some(v) = millivolts(f.get(i + 6 + k)) {
                rec.set_io(format!("analog_{k}"), v);
            }
        }
    }
    Some(Decoded::one(rec))
}

/// Reads a trailing GNSS block (7 fields) at `at`.
fn gnss_at(ctx: &Ctx, at: usize) -> Position {
    let mut c = ctx.f.cursor(at);
    read_gnss(&mut c)
}

/// GTCAN: `<name>,<report type>,<CAN state>,<mask>,{fields},[GNSS],[GSM]`. The optional
/// GNSS/GSM blocks are taken from the end, so an unknown CAN field cannot shift them.
pub(super) fn can_report(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let n = ctx.name;
    let mask = hex(f.get(n + 3))?;
    let mut e = f.end();
    let mut gsm = None;
    if can::has(mask, 31) {
        e = e.checked_sub(5)?;
        gsm = cell(f.get(e), f.get(e + 1), f.get(e + 2), f.get(e + 3));
    }
    let mut p = Position::default();
    if can::has(mask, 30) {
        e = e.checked_sub(7)?;
        p = gnss_at(ctx, e);
    }
    if e < n + 4 {
        return None;
    }
    p.gsm = gsm;
    let mut rec = p.record(ctx.send);
    let mut c = f.cursor(n + 4).with_bound(e);
    can::decode_can_fields(&mut c, mask, ctx.model, &mut rec);
    Some(Decoded::one(rec))
}

/// GTOBD: `<VIN>,<name>,<report type>,<mask>,{fields},[GNSS],[GSM],[mileage]`.
pub(super) fn obd(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let mask = hex(f.get(6))?;
    let mut e = f.end();
    let mut mileage = None;
    if can::has(mask, 22) {
        e = e.checked_sub(1)?;
        mileage = float(f.get(e));
    }
    let mut gsm = None;
    if can::has(mask, 21) {
        e = e.checked_sub(5)?;
        gsm = cell(f.get(e), f.get(e + 1), f.get(e + 2), f.get(e + 3));
    }
    let mut p = Position::default();
    if can::has(mask, 20) {
        e = e.checked_sub(7)?;
        p = gnss_at(ctx, e);
    }
    if e < 7 {
        return None;
    }
    p.gsm = gsm;
    let mut rec = p.record(ctx.send);
    if let Some(km) = mileage {
        rec.set_io("hw_mileage", km);
    }
    let vin = f.get(3);
    if !vin.is_empty() {
        rec.set_io("obd_vin", vin);
    }
    let mut c = f.cursor(7).with_bound(e);
    can::decode_obd_fields(&mut c, mask, &mut rec);
    Some(Decoded::one(rec))
}

/// GTWIF: Wi-Fi access points, no position.
pub(super) fn wif(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let count = bounded_count(f.get(ctx.name + 1));
    let mut c = f.cursor(ctx.name + 2);
    let mut aps = Vec::new();
    for _ in 0..count {
        let mac = c.next();
        let rssi = int(c.next());
        c.skip(3);
        if let (true, Some(r)) = (is_hex_len(mac, &[12]), rssi) {
            aps.push((mac.to_owned(), r));
        }
    }
    let mut rec = Record {
        time: ctx.send,
        ..Record::default()
    };
    if !aps.is_empty() {
        rec.set_io("gl200_wifi", wifi_text(&aps));
    }
    rec.battery_level = percent(f.get(f.end().saturating_sub(1)));
    Some(Decoded::one(rec))
}

/// GTGSM: neighbour cells in groups of `<mcc>,<mnc>,<lac>,<cell>,<rxlevel>,<reserved>`;
/// the last group is the serving cell.
pub(super) fn gsm(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let mut rec = Record {
        time: ctx.send,
        ..Record::default()
    };
    let mut i = 4;
    while i + 3 < f.end() {
        if let Some(g) = cell(f.get(i), f.get(i + 1), f.get(i + 2), f.get(i + 3)) {
            rec.gsm = Some(g);
        }
        i += 6;
    }
    Some(Decoded::one(rec))
}

/// GTLBS: battery and up to seven cells in groups of six fields.
pub(super) fn lbs(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let n = ctx.name;
    let mut rec = Record {
        time: ctx.send,
        battery_level: percent(f.get(n + 3)),
        ..Record::default()
    };
    let mut i = n + 9;
    while i + 3 < f.end() && rec.gsm.is_none() {
        rec.gsm = cell(f.get(i), f.get(i + 1), f.get(i + 2), f.get(i + 3));
        i += 6;
    }
    Some(Decoded::one(rec))
}

/// GTVER: device type and firmware/hardware versions.
pub(super) fn ver(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let n = ctx.name;
    let mut rec = Record {
        time: ctx.send,
        ..Record::default()
    };
    for (k, key) in [
        (1, "gl200_device_type"),
        (2, "gl200_firmware_version"),
        (3, "gl200_hardware_version"),
    ] {
        let v = f.get(n + k);
        if !v.is_empty() {
            rec.set_io(key, v);
        }
    }
    Some(Decoded::one(rec))
}

/// GTDTT: transparent serial data, hex encoded. A `COMB` line is an Ecuatrack-style fuel
/// sensor reading (`COMB,<id>,<level>,...`).
pub(super) fn dtt(ctx: &Ctx) -> Option<Decoded> {
    let f = ctx.f;
    let raw = f.get(ctx.name + 5);
    let bytes: Vec<u8> = (0..raw.len() / 2)
        .filter_map(|k| raw.get(2 * k..2 * k + 2).and_then(hex))
        .filter_map(|b| u8::try_from(b).ok())
        .collect();
    let data = String::from_utf8_lossy(&bytes).into_owned();
    let mut rec = Record {
        time: ctx.send,
        ..Record::default()
    };
    match data
        .contains("COMB")
        .then(|| data.split(',').nth(2))
        .flatten()
    {
        Some(level) if float(level.trim()).is_some() => {
            if let Some(v) = float(level.trim()) {
                rec.set_io("fuel_level", v);
            }
        }
        _ if !data.is_empty() => rec.set_io("gl200_data", data),
        _ => {}
    }
    Some(Decoded::one(rec))
}
