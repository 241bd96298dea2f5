#!/usr/bin/env python3
"""The two layouts of SQLite's points table, side by side, without trackd.

    python3 crates/bench/sqlite_points_layout.py [--prefill COMMITS] [--measure COMMITS]

Commits of 4,700 rows from 10,000 trackers (ingest's shape with 1,000 devices) go into a
fresh database per layout, with trackd's settings (WAL, synchronous FULL, 64 MiB cache,
checkpoints every 10,000 pages): first `--prefill` commits to grow the table, then
`--measure` commits whose INSERT and COMMIT times are reported as medians; then the price on
the read side: one tracker's whole history (a track's columns) read back for 200 random
trackers, median, from the OS cache. "clustered" is
migration 0002 (WITHOUT ROWID, keyed by tracker and time), "arrival" is migration 0007 (rowid
table, the key a unique index). Used for BENCHMARKS.md, "points in arrival order".
"""
import argparse
import os
import random
import re
import sqlite3
import statistics
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "..", "store", "migrations", "sqlite")
ROWS, TRACKERS = 4_700, 10_000
IO = '{"can_fuel":12,"ain1":3.3,"din1":1,"ext_voltage":12.6}'


def schema(layout):
    if layout == "clustered":
        sql = open(os.path.join(MIGRATIONS, "0002_points.sql")).read()
        return re.sub(r"--[^\n]*", "", sql)
    sql = open(os.path.join(MIGRATIONS, "0007_points_in_arrival_order.sql")).read()
    sql = re.sub(r"--[^\n]*", "", sql)
    create = sql[: sql.index(";") + 1].replace("points_by_arrival", "points")
    return create + "CREATE UNIQUE INDEX points_key ON points (tracker_id, time);"


def run(layout, prefill, measure, directory):
    db = sqlite3.connect(os.path.join(directory, layout + ".db"), isolation_level=None)
    for pragma in ("journal_mode=wal", "synchronous=full", "cache_size=-65536",
                   "wal_autocheckpoint=10000"):
        db.execute("PRAGMA " + pragma)
    db.executescript(schema(layout))
    insert = "INSERT INTO points VALUES (" + ",".join("?" * 26) + ")"
    rng = random.Random(1)
    t0 = 1_700_000_000_000
    times = []
    for c in range(prefill + measure):
        rows = []
        for k in range(ROWS):
            tracker = rng.randint(1, TRACKERS)
            rows.append((tracker, t0 + c * 100_000 + k * 10 + tracker, t0, 51.5, 0.1, 100.0,
                         50.0, 90.0, 9, 1.0, 1, 0, 1, 1, 80, 1, 0, 70, 250, 1, 100, 2000,
                         None, IO, "[]", 0))
        rows.sort(key=lambda r: (r[0], r[1]))
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(insert, rows)
        inserted = time.perf_counter()
        db.execute("COMMIT")
        if c >= prefill:
            times.append(((inserted - started) * 1e3, (time.perf_counter() - inserted) * 1e3))
    reads, rows = [], 0
    for _ in range(200):
        started = time.perf_counter()
        rows += len(db.execute("SELECT time, lat, lng, speed, heading, alarms FROM points "
                               "WHERE tracker_id = ? ORDER BY time",
                               (rng.randint(1, TRACKERS),)).fetchall())
        reads.append((time.perf_counter() - started) * 1e3)
    db.close()
    return (statistics.median(t[0] for t in times), statistics.median(t[1] for t in times),
            statistics.median(reads), rows // 200)


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--prefill", type=int, default=1200)
    args.add_argument("--measure", type=int, default=50)
    a = args.parse_args()
    print(f"{ROWS} rows a commit from {TRACKERS} trackers; {a.prefill} commits before "
          f"measuring {a.measure}; medians")
    with tempfile.TemporaryDirectory() as directory:
        for layout in ("clustered", "arrival"):
            insert, commit, read, points = run(layout, a.prefill, a.measure, directory)
            print(f"{layout:>9}: INSERT {insert:6.1f} ms, COMMIT {commit:6.1f} ms; "
                  f"a tracker's {points} points read in {read:5.2f} ms")


if __name__ == "__main__":
    main()
