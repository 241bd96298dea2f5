-- Counters (DESIGN §3): odometer, engine hours, fuel consumed.
--
-- `counters` holds what `counter/read` shows of each (multiplier, odometer source); a row
-- exists once a user created the counter. `counter_events` is every change users made
-- (value set, multiplier or source changed), dated by the server: the fold takes them in
-- device-time order with the points. `counter_state` is each tracker's fold after its last
-- item (trackd_core::counter::CounterState as JSON), rewritten by every batch of the
-- tracker. `counter_history` keeps, per tracker and history bucket, the fold after the
-- bucket's last item: `counter/data/read` reads its values, and a late point folds again
-- from the last checkpoint before it.
CREATE TABLE counters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tracker_id INTEGER NOT NULL REFERENCES trackers (id),
    type TEXT NOT NULL CHECK (type IN ('odometer', 'engine_hours', 'fuel_consumed')),
    multiplier REAL NOT NULL,
    sensor_id INTEGER,
    UNIQUE (tracker_id, type)
) STRICT;

CREATE TABLE counter_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tracker_id INTEGER NOT NULL REFERENCES trackers (id),
    time INTEGER NOT NULL,
    type TEXT NOT NULL,
    -- trackd_core::counter::Change as JSON.
    change TEXT NOT NULL
) STRICT;
CREATE INDEX counter_events_tracker ON counter_events (tracker_id, time, seq);

-- No foreign keys on the two tables ingest writes, as for points: trackers are never
-- hard-deleted, and the check would cost a lookup per tracker per batch.
CREATE TABLE counter_state (
    tracker_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL
) STRICT;

CREATE TABLE counter_history (
    tracker_id INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    time INTEGER NOT NULL,
    odometer REAL,
    engine_hours REAL,
    fuel_consumed REAL,
    state TEXT NOT NULL,
    PRIMARY KEY (tracker_id, bucket)
) STRICT, WITHOUT ROWID;
-- Reads go by time: a changed history interval renumbers buckets, times stay true.
CREATE INDEX counter_history_time ON counter_history (tracker_id, time);
