//! `user/session/renew`.

use crate::{ApiError, Ctx, Reply};

/// Prolongs the current session: a standard session only (an API key never expires).
pub async fn renew(ctx: Ctx) -> Result<Reply, ApiError> {
    let caller = ctx.caller()?;
    ctx.store()
        .touch_session(&caller.session.hash, ctx.now())
        .await?;
    Ok(Reply::ok())
}
