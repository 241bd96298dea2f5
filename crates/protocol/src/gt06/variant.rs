//! Telling GT06 clones apart: by the device model where it is configured, by a frame length
//! only one vendor uses where it is not.

use super::frame::Packet;

/// Device-model families whose layouts differ from the Concox reference.
#[derive(Clone, Debug, Default)]
pub(super) struct Model {
    /// Upper-cased model name.
    pub name: Option<String>,
    /// Concox LW series (`LW4G-4B`, ...): a 12-bit external voltage in the status frame.
    pub lw: bool,
    /// SeeWorld: the status frame's alarm byte is the external voltage.
    pub seeworld: bool,
    /// NT20, VL100, XT40: `0x22` carries IMEI, device time, voltages, mileage and hours.
    pub nt: bool,
    /// Jimi VL103, LL303, VL512, G18: their own alarm codes, a driver key after the status.
    pub vl: bool,
}

impl Model {
    pub fn new(name: Option<&str>) -> Self {
        let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
            return Model::default();
        };
        let upper = name.to_ascii_uppercase();
        Model {
            lw: upper.starts_with("LW"),
            seeworld: upper == "SEEWORLD",
            nt: matches!(upper.as_str(), "NT20" | "VL100" | "XT40"),
            vl: matches!(upper.as_str(), "VL103" | "LL303" | "VL512" | "G18"),
            name: Some(upper),
        }
    }

    pub fn is(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name)
    }
}

/// Layouts recognised from the frame alone (basic frames only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Variant {
    Standard,
    /// VXT01: no LBS length byte, the last status byte is not an alarm code.
    Vxt01,
    /// Wanway S20: cell count and timing advance before the cells.
    WanwayS20,
    /// SR411 mini: `0x24` is GPS + LBS + ignition and voltages.
    Sr411Mini,
    /// GT06E with a card reader: mileage and card number after `0x12`.
    Gt06eCard,
    /// Benway: ignition, input and analog/temperature word after `0x12`.
    Benway,
    /// S5: status, voltage, oil, temperature and mileage after `0x12`.
    S5,
    /// Space10X: `0x19` lists several cells (no layout known: acknowledged and skipped).
    Space10x,
    /// OBD6: `0x13` with satellites, voltage and temperature.
    Obd6,
    /// WeTrust: mileage, card and driving time after `0x12`.
    Wetrust,
    /// JC400: `0x95` with a marker, swapped speed/flags and a voltage.
    Jc400,
    /// SL4X: two-byte MNC, eight-byte cell id, altitude.
    Sl4x,
    /// SeeWorld: four-byte cell ids, `0xA3` is a status frame.
    Seeworld,
    /// `0x17` is GPS + LBS + RFID card, not Wi-Fi.
    Rfid,
    /// LW4G: `0xA2` is GPS + LBS + status with mileage and hours, not Wi-Fi.
    Lw4g,
}

impl Variant {
    pub fn detect(p: &Packet<'_>) -> Variant {
        if p.extended || p.irregular {
            return Variant::Standard;
        }
        let len = p.length;
        match (p.kind, len) {
            (0x12, 0x24) | (0x16, 0x24) => Variant::Vxt01,
            (0x24, 0x31) => Variant::WanwayS20,
            (0x24, 0x2e) => Variant::Sr411Mini,
            (0x12, l) if l >= 0x71 => Variant::Gt06eCard,
            (0x12, 0x21) => Variant::Benway,
            (0x12, 0x2b) => Variant::S5,
            (0x19, l) if l >= 0x17 => Variant::Space10x,
            (0x13, 0x13) => Variant::Obd6,
            (0x12, 0x29) => Variant::Wetrust,
            (0x95, _) if p.content.starts_with(&[0xFF, 0xFF]) => Variant::Jc400,
            (0x34, 0x37) | (0x31, 0x2a) | (0x32, 0x27) | (0x32, 0x29) => Variant::Sl4x,
            (0x22, 0x2f) | (0x16, 0x26) | (0xA3, 0x0c) => Variant::Seeworld,
            (0x17, 0x28) => Variant::Rfid,
            (0xA2, 0x40) => Variant::Lw4g,
            _ => Variant::Standard,
        }
    }
}
