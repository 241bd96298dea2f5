//! `api/key/*` (and the newer `user/api_key/*` names): keys that never expire, for master
//! users, created from a standard session.

use serde_json::{json, Value};
use trackd_core::account::{Session, SessionKind};

use crate::auth::new_hash;
use crate::{ApiError, Ctx, Reply};

pub async fn create(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let title = c.opt_text("title", 0, 255);
    c.done()?;
    let caller = ctx.caller()?;
    let existing = ctx
        .store()
        .sessions_of(caller.user.id, SessionKind::ApiKey)
        .await?;
    if existing.len() >= ctx.state.config.max_api_keys {
        return Err(ApiError::new(268));
    }
    let now = ctx.now();
    let key = Session {
        hash: new_hash(),
        user_id: caller.user.id,
        kind: SessionKind::ApiKey,
        title,
        created_at: now,
        last_used_at: now,
    };
    ctx.store().create_session(&key).await?;
    Ok(Reply::ok().with("value", render(&ctx, &key)))
}

pub async fn list(ctx: Ctx) -> Result<Reply, ApiError> {
    let caller = ctx.caller()?;
    let keys = ctx
        .store()
        .sessions_of(caller.user.id, SessionKind::ApiKey)
        .await?;
    let list: Vec<Value> = keys.iter().map(|k| render(&ctx, k)).collect();
    Ok(Reply::ok().with("list", list))
}

/// Deletes one of the caller's keys, named by `key` (the key's hash; `hash` itself is the
/// caller's session). 201 when the caller has no such key.
pub async fn delete(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let key = if ctx.params.get("api_key").is_some() {
        c.string("api_key")
    } else {
        c.string("key")
    };
    c.done()?;
    let caller = ctx.caller()?;
    let key = key.to_ascii_lowercase();
    let keys = ctx
        .store()
        .sessions_of(caller.user.id, SessionKind::ApiKey)
        .await?;
    if !keys.iter().any(|k| k.hash == key) {
        return Err(ApiError::new(201));
    }
    ctx.store().delete_session(&key).await?;
    Ok(Reply::ok())
}

fn render(ctx: &Ctx, key: &Session) -> Value {
    json!({
        "hash": key.hash,
        "create_date": ctx.time.format(key.created_at),
        "title": key.title.clone().unwrap_or_default(),
    })
}
