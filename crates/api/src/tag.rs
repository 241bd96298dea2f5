//! `/tag/*`: tags that can be bound to trackers (and, in Navixy, to other entities).

use std::collections::HashSet;

use serde_json::{json, Map, Value};
use trackd_core::tracker::Tag;
use trackd_core::TagId;

use crate::params::{as_int, as_string, Check};
use crate::tracker::group::check_color;
use crate::{tracker, ApiError, Ctx, Reply};

/// The entity types `tag/search` answers for; trackd holds only trackers, the rest are empty.
const ENTITY_TYPES: &[&str] = &[
    "place",
    "task",
    "task_schedule",
    "employee",
    "vehicle",
    "zone",
    "tracker",
];

fn render(t: &Tag) -> Value {
    let mut v = json!({"id": t.id.0, "name": t.name, "color": t.color});
    if let Some(a) = &t.avatar_file_name {
        v["avatar_file_name"] = json!(a);
    }
    v
}

/// Reads the `tag` object's name and colour.
fn tag_fields(c: &mut Check<'_>, tag: &Map<String, Value>) -> (String, String) {
    let name = tag
        .get("name")
        .and_then(|v| as_string(v).ok())
        .unwrap_or_default();
    if name.is_empty() || name.chars().count() > 60 {
        c.fail("tag.name", "size must be between 1 and 60");
    }
    let color = tag
        .get("color")
        .and_then(|v| as_string(v).ok())
        .unwrap_or_default();
    check_color(c, "tag.color", &color);
    (name, color.to_uppercase())
}

pub async fn create(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let tag = c.object("tag");
    let (name, color) = if c.ok() {
        tag_fields(&mut c, &tag)
    } else {
        Default::default()
    };
    c.done()?;
    let tag = ctx
        .store()
        .create_tag(ctx.account()?, &name, &color)
        .await?;
    Ok(Reply::ok().with("id", tag.id.0))
}

/// `filter` (3..60 characters) keeps tags whose name contains it.
pub async fn list(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let filter = c.opt_text("filter", 3, 60);
    c.done()?;
    let needle = filter.map(|f| f.to_lowercase());
    let tags = ctx.store().tags(ctx.account()?).await?;
    let list: Vec<Value> = tags
        .iter()
        .filter(|t| {
            needle
                .as_ref()
                .is_none_or(|n| t.name.to_lowercase().contains(n.as_str()))
        })
        .map(render)
        .collect();
    Ok(Reply::ok().with("list", list))
}

pub async fn update(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let tag = c.object("tag");
    let id = tag.get("id").and_then(|v| as_int(v).ok());
    if c.ok() && id.is_none() {
        c.fail("tag.id", "must not be null");
    }
    let (name, color) = if c.ok() {
        tag_fields(&mut c, &tag)
    } else {
        Default::default()
    };
    c.done()?;
    let account = ctx.account()?;
    let id = TagId(id.unwrap_or_default());
    let existing = ctx
        .store()
        .tags(account)
        .await?
        .into_iter()
        .find(|t| t.id == id);
    let existing = existing.ok_or_else(|| ApiError::new(201))?;
    ctx.store()
        .update_tag(&Tag {
            name,
            color,
            ..existing
        })
        .await?;
    Ok(Reply::ok())
}

/// `tag_id` (201 when missing) or `tag_ids` (missing ones are ignored).
pub async fn delete(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let single = c.opt_int("tag_id");
    let many = c.opt_int_array("tag_ids");
    if single.is_none() && many.is_none() && c.ok() {
        c.fail("tag_id", "must not be null");
    }
    c.done()?;
    let account = ctx.account()?;
    if let Some(id) = single {
        if ctx.store().delete_tags(account, &[TagId(id)]).await? == 0 {
            return Err(ApiError::new(201));
        }
    }
    if let Some(ids) = many {
        let ids: Vec<TagId> = ids.into_iter().map(TagId).collect();
        ctx.store().delete_tags(account, &ids).await?;
    }
    Ok(Reply::ok())
}

/// Entities bound to all of `tag_ids`, per entity type.
pub async fn search(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let tag_ids = c.int_array("tag_ids");
    let types = c.opt_string_array("entity_types");
    if let Some(types) = &types {
        if let Some(bad) = types.iter().find(|t| !ENTITY_TYPES.contains(&t.as_str())) {
            c.fail("entity_types", format!("unknown entity type '{bad}'"));
        }
    }
    c.done()?;
    let wanted: HashSet<i64> = tag_ids.into_iter().collect();
    let trackers = ctx.store().trackers(ctx.account()?).await?;
    let matching: Vec<Value> = trackers
        .iter()
        .filter(|t| {
            let bound: HashSet<i64> = t.tag_bindings.iter().map(|b| b.tag_id.0).collect();
            !wanted.is_empty() && wanted.is_subset(&bound)
        })
        // A tracker object always serializes (its keys are names).
        .map(|t| serde_json::to_value(tracker::render(t, true)).unwrap_or(Value::Null))
        .collect();
    let mut result = Map::new();
    for ty in ENTITY_TYPES {
        if types.as_ref().is_some_and(|ts| !ts.iter().any(|t| t == ty)) {
            continue;
        }
        let items = if *ty == "tracker" {
            matching.clone()
        } else {
            Vec::new()
        };
        result.insert((*ty).to_owned(), Value::Array(items));
    }
    Ok(Reply::ok().with("result", Value::Object(result)))
}
