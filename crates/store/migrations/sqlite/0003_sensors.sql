-- Sensors: what a tracker's inputs mean (metering, discrete, virtual), keyed by tracker first.
-- Columns a kind does not have are NULL; the kind's optional `parameters` object and the
-- calibration table are JSON text, read and written whole, never queried inside.
--
-- The unique indexes hold the rules two concurrent writes could otherwise both pass (the API
-- checks them first to answer 232 and 270); the error mapping finds the conflict by the
-- column names SQLite reports (input_name, input_number, sensor_type).
CREATE TABLE sensors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tracker_id INTEGER NOT NULL REFERENCES trackers (id),
    kind TEXT NOT NULL CHECK (kind IN ('metering', 'discrete', 'virtual')),
    sensor_type TEXT NOT NULL,
    name TEXT NOT NULL,
    -- Metering and virtual sensors.
    input_name TEXT,
    -- Discrete sensors: 1..8.
    input_number INTEGER CHECK (input_number BETWEEN 1 AND 8),
    -- Metering sensors.
    divider REAL CHECK (divider <> 0),
    accuracy REAL CHECK (accuracy BETWEEN 0 AND 100),
    units TEXT,
    units_type TEXT,
    group_type TEXT,
    -- Virtual sensors (a metering sensor keeps it in its parameters, as Navixy's JSON does).
    custom_field_name INTEGER CHECK (custom_field_name IN (0, 1)),
    parameters TEXT,
    -- JSON array of {"in", "out"}, sorted by "in".
    calibration TEXT NOT NULL DEFAULT '[]',
    CHECK ((input_number IS NOT NULL) = (kind = 'discrete')),
    CHECK ((input_name IS NOT NULL) = (kind <> 'discrete')),
    CHECK ((divider IS NOT NULL) = (kind = 'metering') AND (accuracy IS NOT NULL) = (kind = 'metering')
        AND (units IS NOT NULL) = (kind = 'metering') AND (units_type IS NOT NULL) = (kind = 'metering'))
) STRICT;
CREATE INDEX sensors_tracker ON sensors (tracker_id, id);
-- Composite sensors read no input of their own, so any number share the name 'composite'.
CREATE UNIQUE INDEX sensors_metering_input_name ON sensors (tracker_id, input_name)
    WHERE kind = 'metering' AND input_name <> 'composite';
CREATE UNIQUE INDEX sensors_discrete_input_number ON sensors (tracker_id, input_number)
    WHERE kind = 'discrete';
CREATE UNIQUE INDEX sensors_one_ignition ON sensors (tracker_id, sensor_type)
    WHERE sensor_type IN ('ignition', 'virtual_ignition');
