-- counter/data/read reads up to a month of one counter's values by time: with the values in
-- the index it reads them from the index alone, without visiting each row (and its state
-- JSON) by primary key.
DROP INDEX counter_history_time;
CREATE INDEX counter_history_time
    ON counter_history (tracker_id, time, odometer, engine_hours, fuel_consumed);
