//! The counters' SQL (DESIGN §3), written once for both backends like `store_impl`:
//! `impl_counters!(Store, Database)` expands to `impl Counters` and the inherent `count` that
//! `store_points_and_states` calls inside its transaction.
//!
//! How a batch is counted, per tracker: if all its points are newer than the last item the
//! stored state folded, they fold onto it (the common case: one read and one write of the
//! state row, and a history row when a bucket closes). Otherwise some point is late: the fold
//! restarts from the last history checkpoint before it, over the stored points and changes
//! after the checkpoint (the batch's are already inserted), and rewrites the history it
//! passes. A counter change dated before the last folded item does the same.

macro_rules! impl_counters {
    ($store:ty, $db:ty) => {
        const _: () = {
            use std::collections::HashMap;

            use async_trait::async_trait;
            use sqlx::Row as _;
            use trackd_core::counter::{
                Change, Counter, CounterConfig, CounterState, CounterType, Event, HistoryRow,
                Item, Sources,
            };
            use trackd_core::point::Point;
            use trackd_core::sensor::SensorId;
            use trackd_core::tracker::Tracker;
            use trackd_core::{TrackerId, UserId};

            use $crate::shared::store_impl::point_columns;
            use $crate::shared::{self, bind_ids, IN_CHUNK};
            use $crate::traits::Counters;
            use $crate::{Result, StoreError};

            type Tx = sqlx::Transaction<'static, $db>;

            /// History rows per upsert: 7 parameters each.
            const HISTORY_PER_INSERT: usize = 1000;

            fn to_json<T: serde::Serialize>(tracker: i64, what: &T) -> Result<String> {
                serde_json::to_string(what).map_err(|e| {
                    StoreError::Invalid(format!("counters of tracker {tracker}: {e}"))
                })
            }

            /// A stored fold. One that no longer parses is refolded from history rather than
            /// refused: refusing it would fail every batch of the tracker forever.
            fn parse_counter_state(tracker: i64, text: &str) -> Option<CounterState> {
                serde_json::from_str(text)
                    .map_err(|e| {
                        tracing::warn!(tracker, error = %e, "unreadable counter state; refolding");
                    })
                    .ok()
            }

            /// A row's `type` column.
            fn type_of(r: &<$db as sqlx::Database>::Row) -> Result<CounterType> {
                let kind: String = r.try_get("type")?;
                CounterType::parse(&kind)
                    .ok_or_else(|| StoreError::Database(format!("unknown counter type '{kind}'")))
            }

            fn counter_from_row(r: &<$db as sqlx::Database>::Row) -> Result<Counter> {
                Ok(Counter {
                    id: r.try_get("id")?,
                    tracker_id: TrackerId(r.try_get("tracker_id")?),
                    counter_type: type_of(r)?,
                    multiplier: r.try_get("multiplier")?,
                    sensor_id: r.try_get::<Option<i64>, _>("sensor_id")?.map(SensorId),
                })
            }

            /// A tracker's fold after counting, to be written.
            struct Counted {
                tracker: i64,
                state: CounterState,
                rows: Vec<HistoryRow>,
            }

            /// Two sorted runs of items as one, in fold order.
            fn merge<'a>(points: &'a [Point], events: &'a [Event]) -> Vec<Item<'a>> {
                let mut items: Vec<Item<'a>> = points
                    .iter()
                    .map(Item::Point)
                    .chain(events.iter().map(Item::Event))
                    .collect();
                items.sort_by_key(|i| i.key());
                items
            }

            impl $store {
                /// Counts a batch's points (sorted by tracker and time, already inserted)
                /// into their trackers' counters, inside the batch's transaction.
                /// `ids` are the trackers of `sorted`, from `trackers_of`.
                async fn count(
                    tx: &mut Tx,
                    sorted: &[&Point],
                    ids: &[i64],
                    config: &CounterConfig,
                ) -> Result<()> {
                    let mut states = Self::counter_states_in(tx, ids).await?;
                    let sources = Self::sources_in(tx, ids).await?;
                    let none = Sources::default();
                    let mut out = Vec::with_capacity(ids.len());
                    for group in sorted.chunk_by(|a, b| a.tracker_id == b.tracker_id) {
                        let id = group[0].tracker_id.0;
                        let src = sources.get(&id).unwrap_or(&none);
                        let first = Item::Point(group[0]).key();
                        let counted = match states.remove(&id) {
                            // A tracker's first points, or all newer than the fold.
                            None => Self::fold_onto(id, CounterState::default(), group, src, config),
                            Some(Some(state)) if first > state.last => {
                                Self::fold_onto(id, state, group, src, config)
                            }
                            Some(Some(state)) => {
                                // Records too far behind the fold are stored, not counted: a
                                // refold costs the history after its start, and a clock
                                // gone wrong (a GPS week rollover dates records 19.6 years
                                // back) would otherwise refold everything on every batch.
                                let oldest = state
                                    .time()
                                    .map_or(i64::MIN, |t| t.saturating_sub(config.max_late_ms()));
                                match group.iter().find(|p| p.time >= oldest) {
                                    Some(p) if Item::Point(p).key() > state.last => {
                                        Self::fold_onto(id, state, group, src, config)
                                    }
                                    Some(p) => Self::refold(tx, id, p.time, src, config).await?,
                                    None => Counted {
                                        tracker: id,
                                        state,
                                        rows: Vec::new(),
                                    },
                                }
                            }
                            // A fold that no longer reads: rebuilt from history.
                            Some(None) => Self::refold(tx, id, first.0, src, config).await?,
                        };
                        out.push(counted);
                    }
                    Self::save_counted(tx, &out).await
                }

                fn fold_onto(
                    tracker: i64,
                    mut state: CounterState,
                    points: &[&Point],
                    sources: &Sources,
                    config: &CounterConfig,
                ) -> Counted {
                    let rows = state.fold(points.iter().map(|p| Item::Point(p)), sources, config);
                    Counted {
                        tracker,
                        state,
                        rows,
                    }
                }

                /// Folds the tracker's items again from the last checkpoint before `time`.
                async fn refold(
                    tx: &mut Tx,
                    tracker: i64,
                    time: i64,
                    sources: &Sources,
                    config: &CounterConfig,
                ) -> Result<Counted> {
                    let checkpoint = sqlx::query(
                        "SELECT time, state FROM counter_history WHERE tracker_id = $1 AND \
                         time < $2 ORDER BY time DESC LIMIT 1",
                    )
                    .bind(tracker)
                    .bind(time)
                    .fetch_optional(&mut **tx)
                    .await?;
                    let start = match checkpoint {
                        Some(row) => {
                            let text: String = row.try_get("state")?;
                            parse_counter_state(tracker, &text)
                        }
                        None => None,
                    };
                    let mut state = start.unwrap_or_default();
                    let after = state.time().unwrap_or(i64::MIN);
                    let points: Vec<Point> = sqlx::query(concat!(
                        "SELECT ",
                        point_columns!(),
                        " FROM points WHERE tracker_id = $1 AND time > $2 ORDER BY time"
                    ))
                    .bind(tracker)
                    .bind(after)
                    .fetch_all(&mut **tx)
                    .await?
                    .iter()
                    .map(shared::point_from_row)
                    .collect::<Result<_>>()?;
                    let events = Self::events_in(tx, tracker, after).await?;
                    let rows = state.fold(merge(&points, &events), sources, config);
                    Ok(Counted {
                        tracker,
                        state,
                        rows,
                    })
                }

                /// The tracker's counter changes dated at or after `from`, in fold order.
                async fn events_in(tx: &mut Tx, tracker: i64, from: i64) -> Result<Vec<Event>> {
                    let rows = sqlx::query(
                        "SELECT seq, time, type, change FROM counter_events WHERE tracker_id = \
                         $1 AND time >= $2 ORDER BY time, seq",
                    )
                    .bind(tracker)
                    .bind(from)
                    .fetch_all(&mut **tx)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let change: String = r.try_get("change")?;
                            Ok(Event {
                                time: r.try_get("time")?,
                                seq: r.try_get("seq")?,
                                counter_type: type_of(r)?,
                                change: serde_json::from_str(&change).map_err(|e| {
                                    StoreError::Database(format!("counter_events.change: {e}"))
                                })?,
                            })
                        })
                        .collect()
                }

                /// The stored folds of these trackers, rows locked as the state rows are
                /// (`json_rows`); `Some(None)` for one that does not parse.
                async fn counter_states_in(
                    tx: &mut Tx,
                    ids: &[i64],
                ) -> Result<HashMap<i64, Option<CounterState>>> {
                    Ok(Self::json_rows(tx, "counter_state", ids)
                        .await?
                        .into_iter()
                        .map(|(id, text)| (id, parse_counter_state(id, &text)))
                        .collect())
                }

                /// The counter sources of these trackers that have sensors.
                async fn sources_in(tx: &mut Tx, ids: &[i64]) -> Result<HashMap<i64, Sources>> {
                    let mut sensors = Vec::new();
                    for chunk in ids.chunks(IN_CHUNK) {
                        let sql = format!(
                            "SELECT * FROM sensors WHERE tracker_id IN ({}) ORDER BY \
                             tracker_id, id",
                            shared::params(Self::NUMBERED_PARAMS, 1, chunk.len())
                        );
                        for row in bind_ids(sqlx::query(&sql), chunk)
                            .fetch_all(&mut **tx)
                            .await?
                        {
                            sensors.push(shared::sensor_from_row(&row)?);
                        }
                    }
                    Ok(sensors
                        .chunk_by(|a, b| a.tracker_id == b.tracker_id)
                        .map(|own| (own[0].tracker_id.0, Sources::of(own)))
                        .collect())
                }

                /// Writes the folds and the history rows they produced.
                async fn save_counted(tx: &mut Tx, counted: &[Counted]) -> Result<()> {
                    let mut history: Vec<(i64, &HistoryRow, String)> = Vec::new();
                    for c in counted {
                        for row in &c.rows {
                            history.push((c.tracker, row, to_json(c.tracker, &row.state)?));
                        }
                    }
                    for chunk in history.chunks(HISTORY_PER_INSERT) {
                        let sql = format!(
                            "INSERT INTO counter_history (tracker_id, bucket, time, odometer, \
                             engine_hours, fuel_consumed, state) VALUES {} ON CONFLICT \
                             (tracker_id, bucket) DO UPDATE SET time = excluded.time, \
                             odometer = excluded.odometer, engine_hours = \
                             excluded.engine_hours, fuel_consumed = excluded.fuel_consumed, \
                             state = excluded.state",
                            shared::value_rows(Self::NUMBERED_PARAMS, chunk.len(), 7)
                        );
                        let mut q = sqlx::query(&sql);
                        for (tracker, row, json) in chunk {
                            let [odometer, engine_hours, fuel] = row.values;
                            q = q
                                .bind(*tracker)
                                .bind(row.bucket)
                                .bind(row.time)
                                .bind(odometer)
                                .bind(engine_hours)
                                .bind(fuel)
                                .bind(json.as_str());
                        }
                        q.execute(&mut **tx).await?;
                    }
                    let states: Vec<(i64, String)> = counted
                        .iter()
                        .map(|c| Ok((c.tracker, to_json(c.tracker, &c.state)?)))
                        .collect::<Result<_>>()?;
                    Self::put_json_rows(tx, "counter_state", &states).await
                }
            }

            #[async_trait]
            impl Counters for $store {
                async fn counters(&self, tracker: TrackerId) -> Result<Vec<Counter>> {
                    let mut out: Vec<Counter> = sqlx::query(
                        "SELECT id, tracker_id, type, multiplier, sensor_id FROM counters \
                         WHERE tracker_id = $1",
                    )
                    .bind(tracker.0)
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(counter_from_row)
                    .collect::<Result<_>>()?;
                    out.sort_by_key(|c| c.counter_type);
                    Ok(out)
                }

                async fn change_counter(
                    &self,
                    tracker: TrackerId,
                    counter_type: CounterType,
                    change: &Change,
                    now: i64,
                    config: &CounterConfig,
                ) -> Result<Counter> {
                    let id = tracker.0;
                    let mut tx = self.begin_write().await?;
                    let live: Option<i64> =
                        sqlx::query_scalar("SELECT id FROM trackers WHERE id = $1 AND NOT deleted")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if live.is_none() {
                        return Err(StoreError::NotFound);
                    }
                    // The row exists before it is locked, so a node ingesting the tracker
                    // at the same time waits for this change or this change for it.
                    sqlx::query(
                        "INSERT INTO counter_state (tracker_id, state) VALUES ($1, $2) ON \
                         CONFLICT (tracker_id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(to_json(id, &CounterState::default())?)
                    .execute(&mut *tx)
                    .await?;
                    let state = Self::counter_states_in(&mut tx, &[id])
                        .await?
                        .remove(&id)
                        .flatten();
                    let kind = counter_type.as_str();
                    match change {
                        Change::Set { .. } => {
                            sqlx::query(
                                "INSERT INTO counters (tracker_id, type, multiplier, sensor_id) \
                                 VALUES ($1, $2, 1.0, NULL) ON CONFLICT (tracker_id, type) DO \
                                 NOTHING",
                            )
                            .bind(id)
                            .bind(kind)
                            .execute(&mut *tx)
                            .await?;
                        }
                        Change::Update {
                            multiplier,
                            sensor_id,
                        } => {
                            sqlx::query(
                                "INSERT INTO counters (tracker_id, type, multiplier, sensor_id) \
                                 VALUES ($1, $2, $3, $4) ON CONFLICT (tracker_id, type) DO \
                                 UPDATE SET multiplier = excluded.multiplier, sensor_id = \
                                 excluded.sensor_id",
                            )
                            .bind(id)
                            .bind(kind)
                            .bind(*multiplier)
                            .bind(sensor_id.map(|s| s.0))
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    let counter = counter_from_row(
                        &sqlx::query(
                            "SELECT id, tracker_id, type, multiplier, sensor_id FROM counters \
                             WHERE tracker_id = $1 AND type = $2",
                        )
                        .bind(id)
                        .bind(kind)
                        .fetch_one(&mut *tx)
                        .await?,
                    )?;
                    let seq: i64 = sqlx::query_scalar(
                        "INSERT INTO counter_events (tracker_id, time, type, change) VALUES \
                         ($1, $2, $3, $4) RETURNING seq",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(kind)
                    .bind(to_json(id, change)?)
                    .fetch_one(&mut *tx)
                    .await?;
                    let event = Event {
                        time: now,
                        seq,
                        counter_type,
                        change: change.clone(),
                    };
                    let sources = Self::sources_in(&mut tx, &[id])
                        .await?
                        .remove(&id)
                        .unwrap_or_default();
                    let counted = match state {
                        Some(mut state) if Item::Event(&event).key() > state.last => {
                            let rows = state.fold([Item::Event(&event)], &sources, config);
                            Counted {
                                tracker: id,
                                state,
                                rows,
                            }
                        }
                        // Dated before what was already folded (a device clock ahead of
                        // the server's), or a state that must be rebuilt.
                        _ => Self::refold(&mut tx, id, now, &sources, config).await?,
                    };
                    Self::save_counted(&mut tx, &[counted]).await?;
                    tx.commit().await?;
                    Ok(counter)
                }

                async fn counter_states(
                    &self,
                    trackers: &[TrackerId],
                ) -> Result<HashMap<TrackerId, CounterState>> {
                    Ok(self
                        .read_json_rows("counter_state", trackers)
                        .await?
                        .into_iter()
                        .filter_map(|(id, text)| Some((TrackerId(id), parse_counter_state(id, &text)?)))
                        .collect())
                }

                async fn tracker_counters(
                    &self,
                    account: UserId,
                    ids: &[TrackerId],
                ) -> Result<Vec<(Tracker, Option<CounterState>)>> {
                    Ok(self
                        .trackers_joined(account, Some(ids), "counter_state")
                        .await?
                        .into_iter()
                        .map(|(t, state)| {
                            let state = state.and_then(|s| parse_counter_state(t.id.0, &s));
                            (t, state)
                        })
                        .collect())
                }

                async fn counter_history(
                    &self,
                    tracker: TrackerId,
                    counter_type: CounterType,
                    from: i64,
                    to: i64,
                ) -> Result<Vec<(i64, f64)>> {
                    // One snapshot for both reads: a bucket closing between them would
                    // otherwise be missed.
                    let mut tx = self.reader().begin().await?;
                    // The column is named by the enum, never by the caller's text.
                    let sql = format!(
                        "SELECT time, {0} AS value FROM counter_history WHERE tracker_id = $1 \
                         AND time >= $2 AND time <= $3 AND {0} IS NOT NULL ORDER BY time",
                        counter_type.as_str()
                    );
                    let mut out: Vec<(i64, f64)> = sqlx::query(&sql)
                        .bind(tracker.0)
                        .bind(from)
                        .bind(to)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| Ok((r.try_get("time")?, r.try_get("value")?)))
                        .collect::<Result<_>>()?;
                    let tail: Option<String> =
                        sqlx::query_scalar("SELECT state FROM counter_state WHERE tracker_id = $1")
                            .bind(tracker.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                    tx.commit().await?;
                    let current = tail
                        .and_then(|t| parse_counter_state(tracker.0, &t))
                        .and_then(|s| Some((s.time()?, s.reading(counter_type).current()?.0)));
                    if let Some((time, value)) = current {
                        let newer = out.last().is_none_or(|(t, _)| *t < time);
                        if newer && (from..=to).contains(&time) {
                            out.push((time, value));
                        }
                    }
                    Ok(out)
                }
            }
        };
    };
}
pub(crate) use impl_counters;
