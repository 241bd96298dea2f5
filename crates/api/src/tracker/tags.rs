//! `tracker/tags/set`: replaces a tracker's tag bindings.

use std::collections::HashSet;

use trackd_core::tracker::TagBinding;
use trackd_core::TagId;

use super::{find, not_blocked};
use crate::params::{as_int, as_object};
use crate::{ApiError, Ctx, Reply};

pub async fn set(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let items = c.array("tag_bindings");
    let mut bindings = Vec::with_capacity(items.len());
    for item in &items {
        let parsed = as_object(item).ok().and_then(|o| {
            let tag = o.get("tag_id").and_then(|v| as_int(v).ok())?;
            let ordinal = o.get("ordinal").and_then(|v| as_int(v).ok())?;
            Some(TagBinding {
                tag_id: TagId(tag),
                ordinal: i32::try_from(ordinal).ok()?,
            })
        });
        match parsed {
            Some(b) if (1..=5).contains(&b.ordinal) => bindings.push(b),
            Some(_) => c.fail("tag_bindings", "ordinal must be between 1 and 5"),
            None => c.fail(
                "tag_bindings",
                "items must be objects with integer tag_id and ordinal",
            ),
        }
    }
    let ordinals: HashSet<i32> = bindings.iter().map(|b| b.ordinal).collect();
    let tags: HashSet<TagId> = bindings.iter().map(|b| b.tag_id).collect();
    if ordinals.len() != bindings.len() || tags.len() != bindings.len() {
        c.fail("tag_bindings", "tags and ordinals must be unique");
    }
    c.done()?;
    let tracker = find(&ctx, id).await?;
    not_blocked(&tracker)?;
    let known: HashSet<TagId> = ctx
        .store()
        .tags(ctx.account()?)
        .await?
        .iter()
        .map(|t| t.id)
        .collect();
    if !tags.is_subset(&known) {
        return Err(ApiError::new(217));
    }
    ctx.store().set_tag_bindings(tracker.id, &bindings).await?;
    Ok(Reply::ok())
}
