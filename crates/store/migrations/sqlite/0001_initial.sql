-- Users, sessions, trackers and the sources behind them, groups, tags, and what registration
-- consumes. STRICT tables so a wrongly typed bind fails here instead of being stored as text.
-- Booleans are INTEGER 0/1 (STRICT knows no BOOLEAN); times are Unix milliseconds.
-- Every table a tracker owns is keyed by tracker_id first (room for sharding by tracker).

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    parent_id INTEGER REFERENCES users (id),
    -- JSON array of granted right names; a user without parent is a master and holds all.
    rights TEXT NOT NULL DEFAULT '[]',
    time_zone TEXT NOT NULL,
    locale TEXT NOT NULL,
    measurement_system TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
    created_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_login ON users (login);
CREATE INDEX users_parent ON users (parent_id);

CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('session', 'api_key')),
    title TEXT,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id, kind, created_at);
CREATE INDEX sessions_unused ON sessions (kind, last_used_at);

CREATE TABLE sources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL once corrupted: the device ID and phone are free for another device.
    device_id TEXT,
    model TEXT NOT NULL,
    phone TEXT,
    apn_name TEXT,
    apn_user TEXT,
    apn_password TEXT,
    blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
    tariff_id INTEGER,
    tariff_end_date TEXT,
    status_listing_id INTEGER,
    creation_date TEXT NOT NULL,
    corrupted INTEGER NOT NULL DEFAULT 0 CHECK (corrupted IN (0, 1)),
    register_commands_pending INTEGER NOT NULL DEFAULT 0
        CHECK (register_commands_pending IN (0, 1)),
    replaced_at INTEGER
) STRICT;
-- The error mapping finds the conflict by these names (PostgreSQL) or columns (SQLite).
CREATE UNIQUE INDEX sources_live_device_id ON sources (device_id) WHERE corrupted = 0;
CREATE UNIQUE INDEX sources_live_phone ON sources (phone) WHERE corrupted = 0;

CREATE TABLE trackers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The account (master user).
    user_id INTEGER NOT NULL REFERENCES users (id),
    source_id INTEGER NOT NULL REFERENCES sources (id),
    label TEXT NOT NULL,
    -- 0 = no group, so no foreign key.
    group_id INTEGER NOT NULL DEFAULT 0,
    clone INTEGER NOT NULL DEFAULT 0 CHECK (clone IN (0, 1)),
    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    avatar_file_name TEXT
) STRICT;
CREATE INDEX trackers_user ON trackers (user_id, id);
CREATE INDEX trackers_source ON trackers (source_id);

CREATE TABLE tracker_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id),
    title TEXT NOT NULL,
    color TEXT NOT NULL
) STRICT;
CREATE INDEX tracker_groups_user ON tracker_groups (user_id, id);

CREATE TABLE tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    avatar_file_name TEXT
) STRICT;
CREATE INDEX tags_user ON tags (user_id, id);

CREATE TABLE tag_bindings (
    tracker_id INTEGER NOT NULL REFERENCES trackers (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    PRIMARY KEY (tracker_id, ordinal)
) STRICT;
CREATE UNIQUE INDEX tag_bindings_tag ON tag_bindings (tracker_id, tag_id);
CREATE INDEX tag_bindings_by_tag ON tag_bindings (tag_id);

CREATE TABLE bundles (
    imei TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    phone TEXT,
    apn_name TEXT,
    apn_user TEXT,
    apn_password TEXT,
    tracker_id INTEGER REFERENCES trackers (id)
) STRICT;

CREATE TABLE activation_codes (
    code TEXT PRIMARY KEY,
    devices_left INTEGER NOT NULL,
    free_days INTEGER
) STRICT;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
