//! `tracker/group/*`: tracker groups. Group 0 ("no group") always exists and is never listed.

use serde_json::{json, Value};
use trackd_core::tracker::Group;
use trackd_core::{GroupId, TrackerId};

use crate::params::Check;
use crate::{ApiError, Ctx, Reply};

/// 204 unless the group is 0 or one of the caller's.
pub async fn exists(ctx: &Ctx, id: GroupId) -> Result<(), ApiError> {
    if id.0 == 0 || ctx.store().group(ctx.account()?, id).await?.is_some() {
        Ok(())
    } else {
        Err(ApiError::new(204))
    }
}

/// A colour as six hex digits without `#`.
pub fn check_color(c: &mut Check<'_>, name: &str, color: &str) {
    if color.len() != 6 || !color.bytes().all(|b| b.is_ascii_hexdigit()) {
        c.fail(name, "must be 6 hexadecimal digits");
    }
}

fn render(g: &Group) -> Value {
    json!({"id": g.id.0, "title": g.title, "color": g.color})
}

pub async fn list(ctx: Ctx) -> Result<Reply, ApiError> {
    let groups = ctx.store().groups(ctx.account()?).await?;
    Ok(Reply::ok().with("list", groups.iter().map(render).collect::<Vec<_>>()))
}

pub async fn create(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let title = c.text("title", 1, 60);
    let color = c.string("color");
    check_color(&mut c, "color", &color);
    c.done()?;
    let group = ctx
        .store()
        .create_group(ctx.account()?, &title, &color.to_uppercase())
        .await?;
    Ok(Reply::ok().with("id", group.id.0))
}

pub async fn update(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("id");
    let title = c.text("title", 1, 60);
    let color = c.string("color");
    check_color(&mut c, "color", &color);
    c.done()?;
    let account = ctx.account()?;
    let group = ctx
        .store()
        .group(account, GroupId(id))
        .await?
        .ok_or_else(|| ApiError::new(201))?;
    ctx.store()
        .update_group(&Group {
            title,
            color: color.to_uppercase(),
            ..group
        })
        .await?;
    Ok(Reply::ok())
}

/// Deletes a group; its trackers move to group 0.
pub async fn delete(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("id");
    c.done()?;
    let account = ctx.account()?;
    ctx.store()
        .group(account, GroupId(id))
        .await?
        .ok_or_else(|| ApiError::new(201))?;
    ctx.store().delete_group(account, GroupId(id)).await?;
    Ok(Reply::ok())
}

/// Moves trackers into a group (`id` 0 takes them out of any group).
pub async fn assign(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("id");
    let trackers = c.int_array("trackers");
    c.done()?;
    let account = ctx.account()?;
    if id != 0 && ctx.store().group(account, GroupId(id)).await?.is_none() {
        return Err(ApiError::new(201));
    }
    let mine: std::collections::HashSet<i64> = ctx
        .store()
        .trackers(account)
        .await?
        .iter()
        .map(|t| t.id.0)
        .collect();
    if trackers.iter().any(|t| !mine.contains(t)) {
        return Err(ApiError::new(217));
    }
    let ids: Vec<TrackerId> = trackers.into_iter().map(TrackerId).collect();
    ctx.store().assign_group(GroupId(id), &ids).await?;
    Ok(Reply::ok())
}
