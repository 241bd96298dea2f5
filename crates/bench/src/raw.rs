//! (c) The raw insert rate: the rows an end-to-end run stored, read back and inserted again
//! into a copy of the `points` table in the same database, without trackd: batched
//! multi-row INSERTs on SQLite (the fastest way through sqlx), COPY on PostgreSQL; 50,000-row
//! commits, rows in arrival order and each commit sorted by key (as ingest does).

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Executor};
use trackd_core::point::Point;

/// Rows per commit: what DESIGN §1's reference figures used for the fast case.
pub const COMMIT_ROWS: usize = 50_000;
/// SQLite's limit of 32,766 parameters over 26 columns.
const ROWS_PER_STATEMENT: usize = 32_766 / COLUMNS;
const COLUMNS: usize = 26;
const COLUMN_LIST: &str = "tracker_id, time, received_at, lat, lng, altitude, speed, heading, \
    satellites, hdop, valid, lbs, ignition, motion, battery_level, inputs, outputs, gsm_signal, \
    mcc, mnc, lac, cell_id, hardware_key, io, alarms, buffered";

/// One row, its JSON already serialised (that is trackd's work, not the database's).
struct Row {
    p: Point,
    io: String,
    alarms: String,
}

fn rows(mut points: Vec<Point>) -> Vec<Row> {
    // Arrival order: trackers interleaved in time.
    points.sort_by_key(|p| (p.time, p.tracker_id.0));
    points
        .into_iter()
        .map(|p| Row {
            io: serde_json::to_string(&p.io).unwrap_or_default(),
            alarms: serde_json::to_string(&p.alarms).unwrap_or_default(),
            p,
        })
        .collect()
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

pub async fn sqlite(url: &str, points: Vec<Point>) -> anyhow::Result<RawFigures> {
    let rows = rows(points);
    // The same settings as trackd's store by default (and in (b)): WAL, synchronous FULL,
    // 64 MiB page cache, checkpoints every 10,000 pages.
    let options = SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .pragma("cache_size", "-65536")
        .pragma("wal_autocheckpoint", "10000");
    let mut conn = SqliteConnection::connect_with(&options).await?;
    // The table and its indexes as the migrations left them, renamed.
    let schema: Vec<(String, String)> = sqlx::query_as(
        "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'points' AND sql IS NOT NULL \
         ORDER BY type = 'index'",
    )
    .fetch_all(&mut conn)
    .await
    .context("the points table's schema")?;
    anyhow::ensure!(
        schema.first().is_some_and(|(kind, _)| kind == "table"),
        "no points table"
    );
    conn.execute("DROP TABLE IF EXISTS points_raw").await?;
    for (n, (kind, sql)) in schema.iter().enumerate() {
        conn.execute(copy_of(kind, sql, n).as_str()).await?;
    }
    let row_sql = format!("({})", vec!["?"; COLUMNS].join(","));
    let started = Instant::now();
    for commit in rows.chunks(COMMIT_ROWS) {
        let mut sorted: Vec<&Row> = commit.iter().collect();
        sorted.sort_by_key(|r| (r.p.tracker_id.0, r.p.time));
        let mut tx = conn.begin().await?;
        for stmt in sorted.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO points_raw ({COLUMN_LIST}) VALUES {}",
                vec![row_sql.as_str(); stmt.len()].join(",")
            );
            let mut q = sqlx::query(&sql).persistent(stmt.len() == ROWS_PER_STATEMENT);
            for r in stmt {
                let p = &r.p;
                let pos = p.position.as_ref();
                let cell = p.gsm_cell.as_ref();
                q = q
                    .bind(p.tracker_id.0)
                    .bind(p.time)
                    .bind(p.received_at)
                    .bind(pos.map(|x| x.lat))
                    .bind(pos.map(|x| x.lng))
                    .bind(pos.and_then(|x| x.altitude))
                    .bind(pos.and_then(|x| x.speed))
                    .bind(pos.and_then(|x| x.heading))
                    .bind(pos.and_then(|x| x.satellites))
                    .bind(pos.and_then(|x| x.hdop))
                    .bind(pos.map(|x| x.valid))
                    .bind(pos.map(|x| x.lbs))
                    .bind(p.ignition)
                    .bind(p.motion)
                    .bind(p.battery_level)
                    .bind(p.inputs)
                    .bind(p.outputs)
                    .bind(p.gsm_signal)
                    .bind(cell.map(|c| c.mcc))
                    .bind(cell.map(|c| c.mnc))
                    .bind(cell.map(|c| c.lac))
                    .bind(cell.map(|c| c.cell_id))
                    .bind(p.hardware_key.as_deref())
                    .bind(r.io.as_str())
                    .bind(r.alarms.as_str())
                    .bind(p.buffered);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    let elapsed = started.elapsed();
    conn.execute("DROP TABLE points_raw").await?;
    Ok(RawFigures {
        rows: rows.len(),
        elapsed,
    })
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
    let rows = rows(points);
    let mut conn = PgConnection::connect(url).await?;
    conn.execute("DROP TABLE IF EXISTS points_raw").await?;
    conn.execute("CREATE TABLE points_raw (LIKE points INCLUDING ALL)")
        .await?;
    let copy = format!("COPY points_raw ({COLUMN_LIST}) FROM STDIN");
    let started = Instant::now();
    let mut text = String::with_capacity(COMMIT_ROWS * 300);
    for commit in rows.chunks(COMMIT_ROWS) {
        let mut sorted: Vec<&Row> = commit.iter().collect();
        sorted.sort_by_key(|r| (r.p.tracker_id.0, r.p.time));
        text.clear();
        for r in sorted {
            copy_line(&mut text, r);
        }
        let mut tx = conn.begin().await?;
        let mut sink = tx.copy_in_raw(&copy).await?;
        sink.send(text.as_bytes()).await?;
        sink.finish().await?;
        tx.commit().await?;
    }
    let elapsed = started.elapsed();
    conn.execute("DROP TABLE points_raw").await?;
    Ok(RawFigures {
        rows: rows.len(),
        elapsed,
    })
}

/// One row in COPY's text format: tab-separated, `\N` for NULL.
fn copy_line(out: &mut String, r: &Row) {
    fn opt<T: std::fmt::Display>(out: &mut String, v: Option<T>) {
        match v {
            Some(v) => {
                let _ = write!(out, "{v}\t");
            }
            None => out.push_str("\\N\t"),
        }
    }
    fn text(out: &mut String, v: Option<&str>) {
        let Some(v) = v else {
            out.push_str("\\N\t");
            return;
        };
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out.push('\t');
    }
    let b = |v: bool| if v { "t" } else { "f" };
    let p = &r.p;
    let pos = p.position.as_ref();
    let cell = p.gsm_cell.as_ref();
    let _ = write!(out, "{}\t{}\t{}\t", p.tracker_id.0, p.time, p.received_at);
    opt(out, pos.map(|x| x.lat));
    opt(out, pos.map(|x| x.lng));
    opt(out, pos.and_then(|x| x.altitude));
    opt(out, pos.and_then(|x| x.speed));
    opt(out, pos.and_then(|x| x.heading));
    opt(out, pos.and_then(|x| x.satellites));
    opt(out, pos.and_then(|x| x.hdop));
    opt(out, pos.map(|x| b(x.valid)));
    opt(out, pos.map(|x| b(x.lbs)));
    opt(out, p.ignition.map(b));
    opt(out, p.motion.map(b));
    opt(out, p.battery_level);
    opt(out, p.inputs);
    opt(out, p.outputs);
    opt(out, p.gsm_signal);
    opt(out, cell.map(|c| c.mcc));
    opt(out, cell.map(|c| c.mnc));
    opt(out, cell.map(|c| c.lac));
    opt(out, cell.map(|c| c.cell_id));
    text(out, p.hardware_key.as_deref());
    text(out, Some(&r.io));
    text(out, Some(&r.alarms));
    out.push_str(b(p.buffered));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::copy_of;

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
