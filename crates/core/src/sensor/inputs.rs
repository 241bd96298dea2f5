//! The input names sensors read (`tracker/sensor/input_name/list`): the names the Navixy
//! tracker pages give for sensor values and state fields (trackers-2024: get_diagnostics,
//! get_fuel, get_readings; navixy-reference §6), those of the model catalog, and those trackd's
//! decoders put in a point's `io`. Numbered families (`analog_1` ... `analog_8`) are listed
//! name by name, as the Navixy list of that time did; descriptions are in English only.

use std::sync::OnceLock;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputName {
    pub input_name: String,
    pub description: String,
}

/// Families `<prefix>_1` ... `<prefix>_<last>`, described as "<description> #n"; the ranges are
/// those the Navixy pages give.
const FAMILIES: &[(&str, u8, &str)] = &[
    ("analog", 8, "Analog input"),
    ("can_axle_load", 15, "CAN: Axle load"),
    ("ext_temp_sensor", 10, "External temperature sensor"),
    ("freq", 8, "Frequency input"),
    ("humidity", 10, "Relative humidity sensor"),
    ("impulse_counter", 8, "Impulse counter"),
    ("lls_level", 16, "LLS: Fuel level"),
    ("lls_temperature", 16, "LLS: Fuel temperature"),
    ("raw_can", 16, "CAN: Raw value"),
    ("rs232", 6, "RS-232 input"),
];

const SINGLES: &[(&str, &str)] = &[
    // Device inputs (get_readings, get_fuel).
    ("axis_x", "Acceleration along the X axis"),
    ("axis_y", "Acceleration along the Y axis"),
    ("axis_z", "Acceleration along the Z axis"),
    ("battery_current", "Battery current"),
    ("battery_voltage", "Battery voltage"),
    ("board_voltage", "Board voltage"),
    ("composite", "Composite sensor"),
    ("fuel_consumption", "Fuel consumption"),
    ("fuel_frequency", "LLS: Frequency"),
    ("fuel_level", "LLS: Level"),
    ("fuel_temperature", "LLS: Temperature"),
    ("hw_engine_hours", "Engine hours (device)"),
    ("hw_mileage", "Mileage (device)"),
    ("input_status", "Input status"),
    ("tacho_mileage", "Tachograph: Mileage"),
    ("temp_sensor", "Internal temperature sensor"),
    ("uds_odometer", "UDS: Odometer"),
    // OBD (get_diagnostics).
    ("obd_absolute_load_value", "OBD: Absolute load value"),
    ("obd_consumption", "OBD: Fuel consumption"),
    ("obd_control_module_voltage", "OBD: Control module voltage"),
    ("obd_coolant_t", "OBD: Coolant temperature"),
    ("obd_custom_odometer", "OBD: Odometer"),
    ("obd_engine_load", "OBD: Engine load"),
    ("obd_fuel", "OBD: Fuel level"),
    ("obd_intake_air_t", "OBD: Intake air temperature"),
    ("obd_intake_flow", "OBD: Intake air flow"),
    ("obd_intake_pressure", "OBD: Intake manifold pressure"),
    ("obd_mil_run_time", "OBD: Run time with the MIL on"),
    ("obd_rpm", "OBD: Engine speed (RPM)"),
    ("obd_speed", "OBD: Vehicle speed"),
    ("obd_throttle", "OBD: Throttle position"),
    (
        "obd_time_since_engine_start",
        "OBD: Run time since engine start",
    ),
    // CAN (get_diagnostics, get_fuel, counters).
    ("can_adblue_level", "CAN: AdBlue level"),
    ("can_consumption", "CAN: Fuel consumed"),
    ("can_coolant_t", "CAN: Coolant temperature"),
    ("can_engine_hours", "CAN: Engine hours"),
    ("can_engine_hours_relative", "CAN: Engine hours (relative)"),
    ("can_engine_load", "CAN: Engine load"),
    ("can_engine_temp", "CAN: Engine temperature"),
    ("can_fuel", "CAN: Fuel level"),
    ("can_fuel_2", "CAN: Fuel level, second tank"),
    ("can_fuel_economy", "CAN: Fuel economy"),
    ("can_fuel_litres", "CAN: Fuel level in litres"),
    ("can_fuel_rate", "CAN: Instant fuel consumption"),
    ("can_intake_air_t", "CAN: Intake air temperature"),
    ("can_mileage", "CAN: Mileage"),
    ("can_mileage_relative", "CAN: Mileage (relative)"),
    ("can_r_prefix", "CAN: R-prefix"),
    ("can_rpm", "CAN: Engine speed (RPM)"),
    ("can_speed", "CAN: Vehicle speed"),
    ("can_throttle", "CAN: Throttle position"),
    // State fields (get_diagnostics `states`), which virtual sensors can read.
    ("can_airbag_state", "CAN: Airbag state"),
    ("can_door_driver_state", "CAN: Driver's door"),
    ("can_door_passenger_state", "CAN: Passenger's door"),
    ("can_door_state", "CAN: Doors"),
    ("can_hood_state", "CAN: Hood"),
    ("can_seat_belt_driver_state", "CAN: Driver's seat belt"),
    (
        "can_seat_belt_passenger_state",
        "CAN: Passenger's seat belt",
    ),
    ("can_trunk_state", "CAN: Trunk"),
    ("driver_ident_state", "Driver identification"),
    ("external_power_state", "External power"),
    ("hardware_key", "Driver identification key"),
    (
        "obd_dtc_cleared_distance",
        "OBD: Distance since trouble codes were cleared",
    ),
    ("obd_dtc_codes", "OBD: Trouble codes"),
    ("obd_dtc_number", "OBD: Number of trouble codes"),
    (
        "obd_mil_activated_distance",
        "OBD: Distance with the MIL on",
    ),
    ("obd_mil_status", "OBD: MIL status"),
    ("obd_vin", "OBD: VIN"),
    (
        "tacho_card1_last_download",
        "Tachograph: Last download of driver card 1",
    ),
    ("tacho_card1_sn", "Tachograph: Driver card 1 number"),
    (
        "tacho_card2_last_download",
        "Tachograph: Last download of driver card 2",
    ),
    ("tacho_card2_sn", "Tachograph: Driver card 2 number"),
    ("tacho_vin", "Tachograph: VIN"),
    (
        "tacho_vin_last_download",
        "Tachograph: Last download of vehicle data",
    ),
];

/// Every input name, sorted by name.
pub fn input_names() -> &'static [InputName] {
    static NAMES: OnceLock<Vec<InputName>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<InputName> = SINGLES
            .iter()
            .map(|(name, description)| InputName {
                input_name: (*name).to_owned(),
                description: (*description).to_owned(),
            })
            .collect();
        for (prefix, last, description) in FAMILIES {
            names.extend((1..=*last).map(|n| InputName {
                input_name: format!("{prefix}_{n}"),
                description: format!("{description} #{n}"),
            }));
        }
        names.sort_by(|a, b| a.input_name.cmp(&b.input_name));
        names
    })
}
