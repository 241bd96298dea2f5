-- PostgreSQL counts the writes of state rows by who made them, so that a node knows when
-- what its writers published is still the rows' (see migrations/postgres/0011). SQLite's one
-- writer publishes what it commits and the one other write withdraws it: nothing to count.
SELECT 1;
