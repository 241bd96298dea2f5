//! The counters' SQL (DESIGN §3), written once for both backends like `store_impl`:
//! `impl_counters!(Store, Database)` expands to `impl Counters`. How a batch or a change is
//! counted is `shared::counting`, inside the transaction's `IngestTx`.

macro_rules! impl_counters {
    ($store:ty, $db:ty) => {
        const _: () = {
            use std::collections::HashMap;

            use async_trait::async_trait;
            use sqlx::Row as _;
            use trackd_core::counter::{
                Change, Counter, CounterConfig, CounterState, CounterType, Event, Item,
            };
            use trackd_core::sensor::SensorId;
            use trackd_core::tracker::Tracker;
            use trackd_core::{TrackerId, UserId};

            use $crate::shared::counting::{self, parse_counter_state, to_json, Counted};
            use $crate::shared::ingest::{IngestTx, PerTracker};
            use $crate::shared;
            use $crate::traits::Counters;
            use $crate::{Result, StoreError};

            fn counter_from_row(r: &impl shared::Cols) -> Result<Counter> {
                Ok(Counter {
                    id: r.i64("id")?,
                    tracker_id: TrackerId(r.i64("tracker_id")?),
                    counter_type: shared::counter_type_from_row(r)?,
                    multiplier: r.f64("multiplier")?,
                    sensor_id: r.opt_i64("sensor_id")?.map(SensorId),
                })
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
                    let state = IngestTx::counter_states(&mut tx, &[id])
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
                    let sources = counting::sources(&mut tx, &[id])
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
                        _ => counting::refold(&mut tx, id, now, &sources, config).await?,
                    };
                    counting::save_counted(&mut tx, vec![counted]).await?;
                    tx.commit().await?;
                    // What ingest published of this tracker's counters is older now.
                    if let Some(published) = self.published() {
                        published.invalidate(id);
                    }
                    Ok(counter)
                }

                async fn counter_states(
                    &self,
                    trackers: &[TrackerId],
                ) -> Result<HashMap<TrackerId, CounterState>> {
                    let ids: Vec<i64> = trackers.iter().map(|t| t.0).collect();
                    Ok(self
                        .read_json_rows(PerTracker::Counters, &ids)
                        .await?
                        .into_iter()
                        .filter_map(|(id, text)| Some((TrackerId(id), parse_counter_state(id, &text)?)))
                        .collect())
                }

                async fn tracker_counters(
                    &self,
                    account: UserId,
                    ids: &[TrackerId],
                ) -> Result<Vec<(std::sync::Arc<Tracker>, Option<std::sync::Arc<CounterState>>)>> {
                    self.trackers_with(
                        account,
                        Some(ids),
                        PerTracker::Counters,
                        |published, ids| published.counters(ids),
                        |id, text| parse_counter_state(id, text).map(std::sync::Arc::new),
                    )
                    .await
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
