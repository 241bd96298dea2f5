//! `tracker/settings/*`: a tracker's label and group.

use serde_json::json;
use trackd_core::GroupId;

use super::{find, not_blocked};
use crate::{ApiError, Ctx, Reply};

pub async fn read(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    c.done()?;
    let tracker = find(&ctx, id).await?;
    not_blocked(&tracker)?;
    Ok(Reply::ok().with(
        "settings",
        json!({"label": tracker.label, "group_id": tracker.group_id.0}),
    ))
}

/// Both `label` and `group_id` are required; the label may not hold `<` or `>`.
pub async fn update(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let group_id = c.int("group_id");
    let label = c.text("label", 1, 60);
    if label.contains(['<', '>']) {
        c.fail("label", "must not contain '<' or '>'");
    }
    c.done()?;
    let tracker = find(&ctx, id).await?;
    not_blocked(&tracker)?;
    let group = GroupId(group_id);
    super::group::exists(&ctx, group).await?;
    ctx.store()
        .update_settings(tracker.id, &label, group)
        .await?;
    Ok(Reply::ok())
}
