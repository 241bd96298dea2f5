-- counter/data/read reads up to a month of one counter's values by time: with the values in
-- the index it can read them from the index alone (an index-only scan), without visiting
-- each row (and its state JSON).
DROP INDEX counter_history_time;
CREATE INDEX counter_history_time
    ON counter_history (tracker_id, time) INCLUDE (odometer, engine_hours, fuel_consumed);
