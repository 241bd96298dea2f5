#!/usr/bin/env python3
"""The WAL pages a SQLite commit writes a point, in commits like (b)'s and like (c)'s.

BENCHMARKS.md's (c') says that with 1,000 connections SQLite takes the same rows at 60 % of
(c)'s rate when they come in commits as small as (b)'s. This shows why, on trackd's own schema
(the SQLite migrations applied in order) and without trackd: it stores some history, then
makes commits of either kind, reads the frames each wrote from the WAL file (checkpoints off)
and names the table or index of each page through SQLite's `dbstat`.

- like (b): a third of the trackers, 10 points each (one message of each), with their state
  and counter-state rows, as trackd's ingest commits with 1,000 connections;
- like (c): every tracker, 50 points each, points only, as the raw insert commits 50,000 rows.

Usage: python3 crates/bench/scripts/commit_pages.py [trackers] [stored points]
(defaults 1000 and 1,600,000, about what a (b) run stores; takes about a minute). Python's
own SQLite is used, whatever its version; the figures are pages, not times.
"""

import collections
import json
import os
import pathlib
import random
import sqlite3
import struct
import sys
import tempfile

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "store" / "migrations" / "sqlite"
WAL_HEADER = 32
FRAME_HEADER = 24
POINT_SQL = "INSERT INTO points VALUES (" + ",".join("?" * 26) + ")"
UPSERT = "INSERT INTO {} VALUES (?, ?) ON CONFLICT (tracker_id) DO UPDATE SET state = excluded.state"


def point(tracker, time):
    io = json.dumps(
        {
            "board_voltage": 12.0 + (time % 100) / 100,
            "lls_level_1": 40.0 + (time % 1000) / 10,
            "hw_mileage": time / 1000.0,
            "ignition": True,
            "gsm_signal": 80,
        }
    )
    return (
        tracker, time, time + 150, 52.1 + tracker * 1e-4, 21.0 + (time % 10_000) * 1e-6,
        110.0, 54.0, 90.0, 9, 0.9, 1, 0, 1, 1, None, 0, 0, 80,
        None, None, None, None, None, io, "[]", 0,
    )


def state(tracker, time):
    # About as large as a bench tracker's stored state (645 bytes) and counter state.
    readings = {f"reading_{i}": {"value": time % (i + 7), "time": time} for i in range(14)}
    return json.dumps({"tracker": tracker, "last_update": time, "io": readings})


def counter_state(time):
    return json.dumps({"time": time, "odometer": time / 7.0, "engine_hours": time / 11.0})


class Model:
    def __init__(self, path, trackers):
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        for sql in ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = OFF",
                    "PRAGMA cache_size = -65536", "PRAGMA wal_autocheckpoint = 0"):
            self.db.execute(sql)
        for migration in sorted(MIGRATIONS.glob("*.sql")):
            self.db.executescript(migration.read_text())
        self.trackers = trackers
        self.next_time = [1_700_000_000_000] * trackers

    def commit(self, trackers, per_tracker, states):
        self.db.execute("BEGIN")
        for t in sorted(trackers):
            for _ in range(per_tracker):
                self.next_time[t] += 1000
                self.db.execute(POINT_SQL, point(t, self.next_time[t]))
            if states:
                self.db.execute(UPSERT.format("tracker_state"), (t, state(t, self.next_time[t])))
                self.db.execute(UPSERT.format("counter_state"), (t, counter_state(self.next_time[t])))
        self.db.execute("COMMIT")

    def like_b(self):
        self.commit(random.sample(range(self.trackers), self.trackers * 314 // 1000), 10, True)
        return self.trackers * 314 // 1000 * 10

    def like_c(self):
        self.commit(range(self.trackers), 50, False)
        return self.trackers * 50

    def frames(self, make, commits):
        """Pages written by `commits` commits of `make`, by object, and the rows they stored."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = sum(make() for _ in range(commits))
        page_size = self.db.execute("PRAGMA page_size").fetchone()[0]
        owner = dict(self.db.execute("SELECT pageno, name FROM dbstat"))
        data = pathlib.Path(self.path + "-wal").read_bytes()
        pages = collections.Counter()
        for at in range(WAL_HEADER, len(data), FRAME_HEADER + page_size):
            (page,) = struct.unpack(">I", data[at:at + 4])
            pages[owner.get(page, "other")] += 1
        return pages, rows


def main():
    trackers = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    stored = int(sys.argv[2]) if len(sys.argv) > 2 else 1_600_000
    random.seed(1)
    with tempfile.TemporaryDirectory() as dir:
        model = Model(os.path.join(dir, "model.db"), trackers)
        made = 0
        while made < stored:
            made += model.like_b()
        (fill,) = model.db.execute(
            "SELECT sum(pgsize - unused) * 1.0 / sum(pgsize) FROM dbstat "
            "WHERE name = 'points_key' AND pagetype = 'leaf'"
        ).fetchone()
        print(f"{trackers} trackers, {stored:,} points stored; the key index's leaves {fill:.0%} full")
        for name, make, commits in (("like (b)", model.like_b, 40), ("like (c)", model.like_c, 3)):
            pages, rows = model.frames(make, commits)
            total = sum(pages.values())
            detail = ", ".join(f"{k} {v / rows:.3f}" for k, v in pages.most_common())
            print(f"{name}: {rows // commits:,} rows a commit, {total / rows:.3f} pages a row ({detail})")


if __name__ == "__main__":
    main()
