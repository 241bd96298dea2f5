//! `/tracker/*`: reading, listing, corrupting and deleting trackers, changing their phone.
//! Live state (`get_state`, `get_inputs`, ...) is in `state`, counters (`counter/*`,
//! `get_counters`) in `counter`.
//! Sub-resources live in the files named after them.

pub mod counter;
pub mod group;
pub mod models;
pub mod readings;
pub mod register;
pub(crate) mod rendered;
pub mod sensor;
pub mod settings;
pub mod state;
pub mod tags;

use std::collections::HashSet;

use serde::Serialize;
use trackd_core::catalog;
use trackd_core::tracker::Tracker;
use trackd_core::TrackerId;

use crate::{ApiError, Ctx, Reply};

/// The caller's tracker, or 201.
pub async fn find(ctx: &Ctx, id: i64) -> Result<Tracker, ApiError> {
    let account = ctx.account()?;
    ctx.store()
        .tracker(account, TrackerId(id))
        .await?
        .ok_or_else(|| ApiError::new(201))
}

/// 208 for a tracker whose device is blocked.
pub fn not_blocked(tracker: &Tracker) -> Result<(), ApiError> {
    if tracker.source.blocked {
        Err(ApiError::new(208))
    } else {
        Ok(())
    }
}

/// 219 for a clone.
pub fn not_clone(tracker: &Tracker) -> Result<(), ApiError> {
    if tracker.clone {
        Err(ApiError::new(219))
    } else {
        Ok(())
    }
}

/// The tracker object; `tag_bindings` only where Navixy returns them (list, register,
/// replace). Serialized straight from the tracker: `tracker/list` answers thousands. Fields
/// in the order of a JSON object's keys elsewhere (alphabetical).
#[derive(Serialize)]
pub struct TrackerObject<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar_file_name: Option<&'a str>,
    clone: bool,
    group_id: i64,
    id: i64,
    label: &'a str,
    source: SourceObject<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag_bindings: Option<Vec<BindingObject>>,
}

#[derive(Serialize)]
struct SourceObject<'a> {
    blocked: bool,
    creation_date: &'a str,
    device_id: &'a str,
    id: i64,
    model: &'a str,
    phone: Option<&'a str>,
    status_listing_id: Option<i64>,
    tariff_end_date: Option<&'a str>,
    tariff_id: Option<i64>,
}

#[derive(Serialize)]
struct BindingObject {
    ordinal: i32,
    tag_id: i64,
}

pub fn render(tracker: &Tracker, with_tags: bool) -> TrackerObject<'_> {
    let s = &tracker.source;
    TrackerObject {
        avatar_file_name: tracker.avatar_file_name.as_deref(),
        clone: tracker.clone,
        group_id: tracker.group_id.0,
        id: tracker.id.0,
        label: &tracker.label,
        source: SourceObject {
            blocked: s.blocked,
            creation_date: &s.creation_date,
            device_id: &s.device_id,
            id: s.id.0,
            model: &s.model,
            phone: s.phone.as_deref(),
            status_listing_id: s.status_listing_id,
            tariff_end_date: s.tariff_end_date.as_deref(),
            tariff_id: s.tariff_id,
        },
        tag_bindings: with_tags.then(|| {
            tracker
                .tag_bindings
                .iter()
                .map(|b| BindingObject {
                    ordinal: b.ordinal,
                    tag_id: b.tag_id.0,
                })
                .collect()
        }),
    }
}

/// `tracker/read`: a blocked tracker is readable.
pub async fn read(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    c.done()?;
    let tracker = find(&ctx, id).await?;
    Ok(Reply::ok().with_serialized("value", &render(&tracker, false)))
}

/// `tracker/list`, optionally only trackers whose label contains any of `labels`.
pub async fn list(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let labels = c.opt_string_array("labels");
    if let Some(labels) = &labels {
        if labels.is_empty() || labels.len() > 1024 {
            c.fail("labels", "size must be between 1 and 1024");
        } else if labels
            .iter()
            .any(|l| l.is_empty() || l.chars().count() > 60)
        {
            c.fail("labels", "each label must be 1 to 60 characters");
        } else if labels.iter().collect::<HashSet<_>>().len() != labels.len() {
            c.fail("labels", "must not contain duplicates");
        }
    }
    c.done()?;
    let trackers = ctx.store().trackers(ctx.account()?).await?;
    let needles: Option<Vec<String>> =
        labels.map(|ls| ls.iter().map(|l| l.to_lowercase()).collect());
    let list: Vec<TrackerObject> = trackers
        .iter()
        .filter(|t| match &needles {
            None => true,
            Some(needles) => {
                let label = t.label.to_lowercase();
                needles.iter().any(|n| label.contains(n.as_str()))
            }
        })
        .map(|t| render(t, true))
        .collect();
    Ok(Reply::ok().with_serialized("list", &list))
}

/// `tracker/corrupt`: deletes the tracker and frees its device ID and phone for a new
/// registration; the history stays.
pub async fn corrupt(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    c.done()?;
    let tracker = find(&ctx, id).await?;
    if tracker.source.corrupted {
        return Err(ApiError::new(252));
    }
    not_clone(&tracker)?;
    not_blocked(&tracker)?;
    ctx.store().corrupt(tracker.id).await?;
    Ok(Reply::ok())
}

/// `tracker/delete`: clones only; a real device is corrupted instead.
pub async fn delete(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    c.done()?;
    let tracker = find(&ctx, id).await?;
    if !tracker.clone {
        return Err(ApiError::new(249));
    }
    ctx.store().delete_clone(tracker.id).await?;
    Ok(Reply::ok())
}

/// A phone number in international format without `+`: digits only.
pub fn check_phone(c: &mut crate::params::Check<'_>, name: &str, phone: &str) {
    if !(5..=20).contains(&phone.len()) || !phone.bytes().all(|b| b.is_ascii_digit()) {
        c.fail(
            name,
            "must be 5 to 20 digits, international format without '+'",
        );
    }
}

/// `tracker/change_phone`.
pub async fn change_phone(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let phone = c.string("phone");
    if c.ok() {
        check_phone(&mut c, "phone", &phone);
    }
    let apn_name = c.opt_text("apn_name", 0, 40);
    let apn_user = c.opt_text("apn_user", 0, 40);
    let apn_password = c.opt_text("apn_password", 0, 40);
    c.done()?;
    let tracker = find(&ctx, id).await?;
    not_blocked(&tracker)?;
    not_clone(&tracker)?;
    if !catalog::model(&tracker.source.model).is_some_and(|m| m.has_phone) {
        return Err(ApiError::new(214));
    }
    if tracker.source.phone.as_deref() != Some(phone.as_str())
        && ctx.store().phone_in_use(&phone).await?
    {
        return Err(ApiError::new(223));
    }
    ctx.store()
        .change_phone(
            tracker.id,
            &phone,
            apn_name.as_deref(),
            apn_user.as_deref(),
            apn_password.as_deref(),
        )
        .await?;
    Ok(Reply::ok())
}
