//! Meitrack's event codes, `CCE` parameter ids and ADC scales, mapped to trackd's model and the
//! Navixy input names. Ids without a Navixy name keep `meitrack_<hex id>`.

use crate::error::DecodeError;
use crate::message::{Alarm, Fix, Gsm, IoValue, Record, Timestamp};
use crate::reader::Reader;

/// Event 37: a driver swiped an RFID card / iButton; the event data is its number.
pub(super) const EVENT_RFID: u32 = 37;

/// The alarm an event code raises (Meitrack's event table; the rest are reasons for a
/// report: input changes, timers, heartbeats, ...). The code itself is kept as `event_code`.
fn event_alarm(event: u32) -> Option<Alarm> {
    Some(match event {
        1 => Alarm::Sos,
        17 => Alarm::LowBattery,
        18 => Alarm::LowPower,
        19 => Alarm::Overspeed,
        20 => Alarm::GeofenceEnter,
        21 => Alarm::GeofenceExit,
        22 => Alarm::PowerRestored,
        23 => Alarm::PowerCut,
        36 => Alarm::Other("tow".into()),
        44 => Alarm::Jamming,
        78 => Alarm::Accident,
        90 | 91 => Alarm::HardCornering,
        129 => Alarm::HardBraking,
        130 => Alarm::HardAcceleration,
        135 => Alarm::Fatigue,
        _ => return None,
    })
}

pub(super) fn apply_event(record: &mut Record, event: u32) {
    record.set_io("event_code", event);
    if let Some(alarm) = event_alarm(event) {
        record.alarms.push(alarm);
    }
}

/// GSM signal as CSQ (0..31) in percent.
pub(super) fn csq_percent(csq: u32) -> u8 {
    (csq.min(31) * 100 / 31) as u8
}

/// How a model's `AAA` analog fields convert to volts. Older models send raw ADC counts whose
/// scale Meitrack documents per model; current ones send hundredths of a volt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AdcScale {
    /// T311/T322X/T333/T355/T366 and every current model: 0.01 V.
    Centivolts,
    /// MVT340/MVT380: 10-bit ADC.
    Mvt380,
    /// MT90: 12-bit ADC, no external power input.
    Mt90,
    /// T1/T3/MVT100/MVT600/MVT800/TC68/TC68S: 12-bit ADC.
    Adc12,
}

impl AdcScale {
    pub(super) fn for_model(model: Option<&str>) -> Self {
        match model.unwrap_or("") {
            "MVT340" | "MVT380" => AdcScale::Mvt380,
            "MT90" => AdcScale::Mt90,
            "T1" | "T3" | "MVT100" | "MVT600" | "MVT800" | "TC68" | "TC68S" => AdcScale::Adc12,
            _ => AdcScale::Centivolts,
        }
    }

    /// AD1..AD3 in volts; `None` where the model's divider is undocumented (kept as `adc_N`).
    pub(super) fn analog(self, raw: u64) -> Option<f64> {
        match self {
            AdcScale::Centivolts => Some(raw as f64 / 100.0),
            _ => None,
        }
    }

    pub(super) fn battery(self, raw: u64) -> f64 {
        match self {
            AdcScale::Centivolts => raw as f64 / 100.0,
            AdcScale::Mvt380 => raw as f64 * 3.0 * 2.0 / 1024.0,
            AdcScale::Mt90 | AdcScale::Adc12 => raw as f64 * 3.3 * 2.0 / 4096.0,
        }
    }

    pub(super) fn power(self, raw: u64) -> Option<f64> {
        match self {
            AdcScale::Centivolts => Some(raw as f64 / 100.0),
            AdcScale::Mvt380 => Some(raw as f64 * 3.0 * 16.0 / 1024.0),
            AdcScale::Adc12 => Some(raw as f64 * 3.3 * 16.0 / 4096.0),
            AdcScale::Mt90 => None,
        }
    }
}

/// One `AAA` temperature `IIVVVV` (sensor number, value). From protocol version 3 the value is
/// a signed 16-bit count of 0.01 °C; before, a signed whole part and a hundredths byte.
pub(super) fn aaa_temperature(temp: &str, protocol: u32) -> Option<(u8, f64)> {
    if temp.len() != 6 || !temp.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let index = u8::from_str_radix(temp.get(..2)?, 16).ok()?;
    let value = if protocol >= 3 {
        f64::from(u16::from_str_radix(temp.get(2..)?, 16).ok()? as i16) / 100.0
    } else {
        let whole = f64::from(u8::from_str_radix(temp.get(2..4)?, 16).ok()? as i8);
        let hundredths = f64::from(u8::from_str_radix(temp.get(4..)?, 16).ok()?) / 100.0;
        if whole < 0.0 {
            whole - hundredths
        } else {
            whole + hundredths
        }
    };
    Some((index, value))
}

/// Sensors are numbered when registered (command C40); 0 is a sensor not yet registered.
pub(super) fn temperature_key(index: u8) -> String {
    if index == 0 {
        "meitrack_temp_unregistered".to_owned()
    } else {
        format!("ext_temp_sensor_{index}")
    }
}

fn generic_key(id: u16) -> String {
    format!("meitrack_{id:02x}")
}

/// A `CCE` record being assembled from its tagged values.
#[derive(Debug, Default)]
pub(super) struct CceRecord {
    record: Record,
    event: Option<u32>,
    lat: Option<f64>,
    lon: Option<f64>,
    time: Option<Timestamp>,
    valid: Option<bool>,
    satellites: Option<u8>,
    csq: Option<u32>,
    speed: Option<f64>,
    course: Option<f64>,
    hdop: Option<f64>,
    altitude: Option<f64>,
    cell: Option<Gsm>,
}

impl CceRecord {
    /// A 1-, 2- or 4-byte value (`width`), already read little-endian into `raw`.
    pub(super) fn apply_fixed(&mut self, id: u16, width: usize, raw: u32) {
        let r = &mut self.record;
        let f = f64::from(raw);
        match (width, id) {
            (1, 0x01) | (2, 0x40) => self.event = Some(raw),
            (1, 0x05) => self.valid = Some(raw > 0),
            (1, 0x06) => self.satellites = Some(raw as u8),
            (1, 0x07) => self.csq = Some(raw),
            (1, 0x14) => r.outputs = Some(raw),
            (1, 0x15) => r.inputs = Some(raw),
            (1, 0x97) => r.set_io("obd_throttle", f),
            (1, 0x9D) => r.set_io("obd_fuel", f),
            (1, 0xFE69) => r.battery_level = Some(raw.min(100) as u8),
            (2, 0x08) => self.speed = Some(f),
            (2, 0x09) => self.course = Some(f),
            (2, 0x0A) => self.hdop = Some(f / 10.0),
            (2, 0x0B) => self.altitude = Some(f64::from(raw as u16 as i16)),
            (2, 0x16) => r.set_io("analog_1", f / 100.0),
            (2, 0x17) => r.set_io("analog_2", f / 100.0),
            (2, 0x18) => r.set_io("analog_3", f / 100.0),
            (2, 0x19) => r.set_io("battery_voltage", f / 100.0),
            (2, 0x1A) => r.set_io("board_voltage", f / 100.0),
            (2, 0x29) => r.set_io("fuel_level", f / 100.0),
            (2, 0x91) => r.set_io("obd_speed", f),
            (2, 0x92) => r.set_io("can_speed", f),
            (2, 0x99) => r.set_io("obd_rpm", f),
            (2, 0x9C) => r.set_io("obd_coolant_t", f64::from(raw as u16 as i16)),
            (4, 0x02) => self.lat = Some(f64::from(raw as i32) * 1e-6),
            (4, 0x03) => self.lon = Some(f64::from(raw as i32) * 1e-6),
            (4, 0x04) => self.time = Some(super::decode::time_since_2000(raw)),
            (4, 0x0C) => r.set_io("hw_mileage", f / 1000.0),
            (4, 0x0D) => r.set_io("hw_engine_hours", f / 3600.0),
            (4, 0x25) => r.hardware_key = Some(raw.to_string()),
            (4, 0x9B) => r.set_io("can_mileage", f / 1000.0),
            (4, 0xA0) => r.set_io("fuel_consumption", f / 1000.0),
            (4, 0xFEF4) => r.set_io("can_engine_hours", f / 60.0),
            _ => r.set_io(generic_key(id), raw),
        }
    }

    /// A length-prefixed value. A payload too short for its id is kept raw, not rejected: the
    /// record's length already kept the stream in step.
    pub(super) fn apply_variable(&mut self, id: u16, data: &[u8]) {
        let done = match id {
            0x0E => self.serving_cell(data),
            0x2A..=0x31 => temperature(&mut self.record, id, data),
            0x39 => driver_card(&mut self.record, data),
            0xFE31 => camera_alarm(&mut self.record, data),
            0xFE73 => ble_tag(&mut self.record, data),
            0xFEA8 => batteries(&mut self.record, data),
            _ => None,
        };
        if done.is_none() {
            self.record
                .set_io(generic_key(id), IoValue::Bytes(data.to_vec()));
        }
    }

    fn serving_cell(&mut self, data: &[u8]) -> Option<()> {
        let mut r = Reader::new(data);
        let mcc = r.u16_le().ok()?;
        let mnc = r.u16_le().ok()?;
        let lac = r.u16_le().ok()?;
        let cid = r.u32_le().ok()?;
        if mcc != 0 {
            self.cell = Some(Gsm {
                mcc: Some(mcc),
                mnc: Some(mnc),
                lac: Some(u32::from(lac)),
                cell_id: Some(u64::from(cid)),
                ..Gsm::default()
            });
        }
        Some(())
    }

    pub(super) fn finish(mut self) -> Result<Record, DecodeError> {
        self.record.time = self.time;
        let valid = self.valid.unwrap_or(false);
        if let (Some(lat), Some(lon)) = (self.lat, self.lon) {
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(DecodeError::reject(format!(
                    "coordinates out of range: {lat},{lon}"
                )));
            }
            // 0,0 without a fix is the receiver's "never located", not a place.
            if valid || lat != 0.0 || lon != 0.0 {
                let mut fix = Fix::new(lat, lon, valid);
                fix.satellites = self.satellites;
                fix.speed = self.speed;
                fix.course = self.course;
                fix.hdop = self.hdop;
                fix.altitude = self.altitude;
                self.record.fix = Some(fix);
            }
        }
        if self.cell.is_some() || self.csq.is_some() {
            let mut gsm = self.cell.unwrap_or_default();
            gsm.signal_level = self.csq.map(csq_percent);
            self.record.gsm = Some(gsm);
        }
        if let Some(event) = self.event {
            apply_event(&mut self.record, event);
        }
        Ok(self.record)
    }
}

/// 0x2A..0x31: temperature sensors 1..8, a label byte then 0.01 °C (signed).
fn temperature(record: &mut Record, id: u16, data: &[u8]) -> Option<()> {
    let mut r = Reader::new(data);
    let _label = r.u8().ok()?;
    let value = f64::from(r.u16_le().ok()? as i16) / 100.0;
    record.set_io(format!("ext_temp_sensor_{}", id - 0x2A + 1), value);
    Some(())
}

/// 0x39: a magnetic driver card's track, padded with spaces and separators.
fn driver_card(record: &mut Record, data: &[u8]) -> Option<()> {
    let text: String = String::from_utf8_lossy(data)
        .chars()
        .filter(|c| !matches!(c, ' ' | '\r' | '\n' | '|' | '\0'))
        .collect();
    if !text.is_empty() {
        record.hardware_key = Some(text);
    }
    Some(())
}

/// 0xFE31: a camera alarm: protocol, alarm type and, with protocol 2, the picture's file name.
fn camera_alarm(record: &mut Record, data: &[u8]) -> Option<()> {
    let mut r = Reader::new(data);
    let protocol = r.u8().ok()?;
    record.set_io("camera_alarm_type", u32::from(r.u8().ok()?));
    if protocol == 2 && r.remaining() > 0 {
        let name = std::str::from_utf8(r.rest()).ok()?;
        record.set_io("image", name);
    }
    Some(())
}

/// 0xFE73: a BLE temperature/humidity tag: version, name, MAC, battery %, temperature and
/// humidity in 1/256 units, then alert thresholds.
fn ble_tag(record: &mut Record, data: &[u8]) -> Option<()> {
    let mut r = Reader::new(data);
    let _version = r.u8().ok()?;
    let name_len = usize::from(r.u8().ok()?);
    let name = String::from_utf8_lossy(r.bytes(name_len).ok()?).into_owned();
    let mac = r.bytes(6).ok()?;
    let battery = r.u8().ok()?;
    let temp = f64::from(r.u16_le().ok()? as i16) / 256.0;
    let humidity = f64::from(r.u16_le().ok()? as i16) / 256.0;
    record.set_io("ble_tag_name", name);
    let mac: Vec<String> = mac.iter().map(|b| format!("{b:02X}")).collect();
    record.set_io("ble_tag_mac", mac.join(":"));
    record.set_io("ble_tag_battery_level", u32::from(battery));
    record.set_io("ble_tag_temperature", temp);
    record.set_io("ble_tag_humidity", humidity);
    Some(())
}

/// 0xFEA8: up to three batteries as (present, level %) pairs, then an alert byte.
fn batteries(record: &mut Record, data: &[u8]) -> Option<()> {
    let mut r = Reader::new(data);
    for k in 1..=3 {
        let present = r.u8().ok()?;
        let level = r.u8().ok()?;
        if present == 0 {
            continue;
        }
        if k == 1 {
            record.battery_level = Some(level.min(100));
        } else {
            record.set_io(format!("battery_level_{k}"), u32::from(level.min(100)));
        }
    }
    Some(())
}
