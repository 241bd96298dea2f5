//! (c) The raw insert rate: the rows an end-to-end run stored, read back and inserted again
//! into a copy of the `points` table in the same database, without trackd, the way trackd's
//! ingest writes them: one prepared `INSERT` a row through rusqlite on SQLite, binary `COPY`
//! on PostgreSQL; 50,000-row commits, rows in arrival order and each commit sorted by key (as
//! ingest does).
//!
//! On SQLite also (c′): the same rows in commits like (b)'s, as many rows as (b)'s mean commit,
//! a device message's records together. What a commit costs a row depends on its size (each
//! commit writes at least one leaf of the key index for every tracker in it), so (b) / (c′)
//! is what trackd's own work leaves of the database's rate at the commits the devices allow,
//! and (c′) / (c) what those smaller commits leave of its best rate.

use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor};
use trackd_core::point::Point;
use trackd_store::postgres::points_copy_data;
use trackd_store::sqlite::insert_point;
use trackd_store::{EncodedPoint, PointRow};

/// Rows per commit: what DESIGN §1's reference figures used for the fast case.
pub const COMMIT_ROWS: usize = 50_000;

/// How a raw insert takes the rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    /// Rows per commit.
    pub rows: usize,
    /// Ordered as the devices' messages arrived, each message's records together (what (b)'s
    /// commits held), rather than by time alone.
    pub by_message: bool,
    /// SQLite's `synchronous`: `FULL` syncs the WAL at each commit, on the inserting thread;
    /// `NORMAL` leaves the sync out, as trackd's writer leaves it to a thread of its own.
    pub synchronous: &'static str,
}

/// (c): the database's best rate.
pub const FAST: Plan = Plan {
    rows: COMMIT_ROWS,
    by_message: false,
    synchronous: "FULL",
};

impl Plan {
    /// (c′): commits of (b)'s mean size.
    pub fn like_b(rows_per_commit: f64) -> Plan {
        Plan {
            rows: rows_per_commit.round().max(1.0) as usize,
            by_message: true,
            synchronous: "NORMAL",
        }
    }

    /// The rows in the order this plan takes them: arranged before the clock starts.
    fn order<'r, 'p>(&self, in_time_order: &'r [PointRow<'p>]) -> Vec<&'r PointRow<'p>> {
        let mut order: Vec<&PointRow<'_>> = in_time_order.iter().collect();
        if self.by_message {
            // A message's records share the time it was received.
            order.sort_by_key(|r| (r.received_at, r.tracker_id, r.time));
        }
        order
    }

    /// The plan's commits of `order`, each sorted by key as ingest sorts a batch: inside the
    /// clock, as ingest's sort is inside a commit.
    fn commits<'a, 'r, 'p>(
        &self,
        order: &'a [&'r PointRow<'p>],
    ) -> impl Iterator<Item = Vec<&'r PointRow<'p>>> + 'a {
        order.chunks(self.rows.max(1)).map(|chunk| {
            let mut commit = chunk.to_vec();
            commit.sort_by_key(|r| (r.tracker_id, r.time));
            commit
        })
    }
}
const COLUMNS: usize = 26;
const COLUMN_LIST: &str = "tracker_id, time, received_at, lat, lng, altitude, speed, heading, \
    satellites, hdop, valid, lbs, ignition, motion, battery_level, inputs, outputs, gsm_signal, \
    mcc, mnc, lac, cell_id, hardware_key, io, alarms, buffered";

/// The points in arrival order (trackers interleaved in time).
fn arrival_order(mut points: Vec<Point>) -> Vec<Point> {
    points.sort_by_key(|p| (p.time, p.tracker_id.0));
    points
}

/// Each point's values.
fn values(points: &[EncodedPoint]) -> Vec<PointRow<'_>> {
    points.iter().map(PointRow::of).collect()
}

pub struct RawFigures {
    pub rows: usize,
    pub elapsed: Duration,
}

impl RawFigures {
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One figure for each plan, in order.
pub async fn sqlite(
    url: &str,
    points: Vec<Point>,
    plans: &[Plan],
) -> anyhow::Result<Vec<RawFigures>> {
    let path = url
        .strip_prefix("sqlite://")
        .with_context(|| format!("not a SQLite file URL: {url}"))?
        .to_owned();
    let plans = plans.to_vec();
    tokio::task::spawn_blocking(move || sqlite_blocking(&path, points, &plans)).await?
}

/// Through rusqlite and one prepared statement, a row at a time, as trackd's ingest writer
/// inserts (`trackd_store::sqlite::insert_point`): SQLite's fastest way, about 1.7 times
/// sqlx's multi-row statements (see BENCHMARKS.md).
fn sqlite_blocking(
    path: &str,
    points: Vec<Point>,
    plans: &[Plan],
) -> anyhow::Result<Vec<RawFigures>> {
    // Checked and their JSON serialized: trackd's work, done before the clock starts.
    let points = EncodedPoint::all(arrival_order(points))?;
    let values = values(&points);
    let mut conn = rusqlite::Connection::open(path)?;
    // The same settings as trackd's store by default (and in (b)): WAL, 64 MiB page cache,
    // checkpoints every 10,000 pages; `synchronous` by the plan.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 10000;",
    )?;
    // The table and its indexes as the migrations left them, renamed.
    let schema: Vec<(String, String)> = conn
        .prepare(
            "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'points' AND sql IS NOT \
             NULL ORDER BY type = 'index'",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()
        .context("the points table's schema")?;
    anyhow::ensure!(
        schema.first().is_some_and(|(kind, _)| kind == "table"),
        "no points table"
    );
    let insert = format!(
        "INSERT INTO points_raw ({COLUMN_LIST}) VALUES ({})",
        vec!["?"; COLUMNS].join(",")
    );
    let mut figures = Vec::new();
    for plan in plans {
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {}; DROP TABLE IF EXISTS points_raw;",
            plan.synchronous
        ))?;
        for (n, (kind, sql)) in schema.iter().enumerate() {
            conn.execute_batch(&copy_of(kind, sql, n))?;
        }
        let order = plan.order(&values);
        let started = Instant::now();
        for commit in plan.commits(&order) {
            let tx = conn.transaction()?;
            {
                let mut statement = tx.prepare_cached(&insert)?;
                for r in commit {
                    insert_point(&mut statement, r)?;
                }
            }
            tx.commit()?;
        }
        figures.push(RawFigures {
            rows: values.len(),
            elapsed: started.elapsed(),
        });
        // Its checkpoint is not the next plan's work.
        conn.execute_batch("DROP TABLE points_raw; PRAGMA wal_checkpoint(TRUNCATE);")?;
    }
    Ok(figures)
}

/// `CREATE TABLE points (...)` or `CREATE [UNIQUE] INDEX x ON points (...)` (whatever the
/// quoting a rename left) for `points_raw`: the definition from its first parenthesis on.
fn copy_of(kind: &str, sql: &str, n: usize) -> String {
    let definition = sql.find('(').map_or("", |i| &sql[i..]);
    if kind == "table" {
        format!("CREATE TABLE points_raw {definition}")
    } else {
        let unique = if sql.starts_with("CREATE UNIQUE") {
            "UNIQUE "
        } else {
            ""
        };
        format!("CREATE {unique}INDEX points_raw_{n} ON points_raw {definition}")
    }
}

pub async fn postgres(url: &str, points: Vec<Point>) -> anyhow::Result<RawFigures> {
    // Checked and their JSON serialized: trackd's work, done before the clock starts.
    let points = EncodedPoint::all(arrival_order(points))?;
    let values = values(&points);
    let mut conn = PgConnection::connect(url).await?;
    conn.execute("DROP TABLE IF EXISTS points_raw").await?;
    conn.execute("CREATE TABLE points_raw (LIKE points INCLUDING ALL)")
        .await?;
    // Binary, as trackd's ingest sends it: neither side formats or parses a number.
    let copy = format!("COPY points_raw ({COLUMN_LIST}) FROM STDIN (FORMAT binary)");
    let order = FAST.order(&values);
    let started = Instant::now();
    for sorted in FAST.commits(&order) {
        let data = points_copy_data(&sorted)?;
        let mut tx = conn.begin().await?;
        let mut sink = tx.copy_in_raw(&copy).await?;
        sink.send(data).await?;
        sink.finish().await?;
        tx.commit().await?;
    }
    let elapsed = started.elapsed();
    conn.execute("DROP TABLE points_raw").await?;
    Ok(RawFigures {
        rows: values.len(),
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use trackd_core::TrackerId;

    use super::*;

    /// (tracker, time) of the rows of each of the plan's commits.
    fn keys(plan: Plan, rows: &[PointRow<'_>]) -> Vec<Vec<(i64, i64)>> {
        plan.commits(&plan.order(rows))
            .map(|c| c.iter().map(|r| (r.tracker_id, r.time)).collect())
            .collect()
    }

    #[test]
    fn commits_take_the_rows_by_time_or_by_message() {
        // (tracker, time, received): tracker 2's last message is history sent late.
        let sent = [
            (1, 10, 100),
            (1, 11, 100),
            (2, 5, 100),
            (2, 6, 100),
            (1, 12, 200),
            (1, 13, 200),
            (2, 1, 300),
            (2, 2, 300),
        ];
        let points = sent.map(|(t, time, received)| Point::empty(TrackerId(t), time, received));
        let encoded = EncodedPoint::all(arrival_order(points.to_vec())).unwrap();
        let rows = values(&encoded);
        let four = |by_message| Plan {
            rows: 4,
            by_message,
            synchronous: "NORMAL",
        };
        assert_eq!(
            keys(four(false), &rows),
            [
                vec![(2, 1), (2, 2), (2, 5), (2, 6)],
                vec![(1, 10), (1, 11), (1, 12), (1, 13)]
            ]
        );
        assert_eq!(
            keys(four(true), &rows),
            [
                vec![(1, 10), (1, 11), (2, 5), (2, 6)],
                vec![(1, 12), (1, 13), (2, 1), (2, 2)]
            ]
        );
        assert_eq!(
            Plan::like_b(3_049.4),
            Plan {
                rows: 3_049,
                ..four(true)
            }
        );
        assert_eq!(keys(Plan::like_b(100.0), &rows).len(), 1);
    }

    #[test]
    fn copies_are_renamed_whatever_the_quoting() {
        assert_eq!(
            copy_of(
                "table",
                "CREATE TABLE \"points\" (a INTEGER, b TEXT) STRICT",
                0
            ),
            "CREATE TABLE points_raw (a INTEGER, b TEXT) STRICT"
        );
        assert_eq!(
            copy_of(
                "index",
                "CREATE UNIQUE INDEX points_key ON points (a, b)",
                1
            ),
            "CREATE UNIQUE INDEX points_raw_1 ON points_raw (a, b)"
        );
        assert_eq!(
            copy_of("index", "CREATE INDEX x ON \"points\" (b)", 2),
            "CREATE INDEX points_raw_2 ON points_raw (b)"
        );
    }
}
