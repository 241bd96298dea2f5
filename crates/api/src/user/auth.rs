//! `user/auth` and `user/logout`.

use std::sync::OnceLock;
use std::time::Instant;

use trackd_core::account::{Session, SessionKind};

use crate::auth::{hash_password, new_hash, verify_password};
use crate::{ApiError, Ctx, Reply};

/// Logs in with login and password; answers a session hash.
pub async fn auth(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let login = c.string("login");
    let password = c.text("password", 1, 40);
    c.opt_int("dealer_id");
    c.done()?;

    let throttle = &ctx.state.login_throttle;
    let now_instant = Instant::now();
    let peer_key = format!("ip:{}", ctx.peer);
    let login_key = format!("login:{}", login.to_lowercase());
    if throttle.blocked(&login_key, now_instant) || throttle.blocked(&peer_key, now_instant) {
        return Err(ApiError::new(105));
    }

    let user = ctx.store().user_by_login(&login).await?;
    // Verify against a fixed hash when the login is unknown, so timing does not reveal which
    // logins exist.
    let dummy = DUMMY_PHC.get_or_init(|| hash_password("no such user").unwrap_or_default());
    let phc = user
        .as_ref()
        .map(|u| u.password_hash.as_str())
        .unwrap_or(dummy);
    let password_ok = verify_password(&password, phc);
    let Some(user) = user.filter(|_| password_ok) else {
        throttle.failed(&login_key, now_instant);
        throttle.failed(&peer_key, now_instant);
        return Err(ApiError::new(102));
    };
    throttle.succeeded(&login_key);
    if user.blocked {
        return Err(ApiError::new(275));
    }

    let now = ctx.now();
    let sessions = ctx
        .store()
        .sessions_of(user.id, SessionKind::Session)
        .await?;
    if sessions.len() >= ctx.state.config.max_sessions_per_user {
        return Err(ApiError::new(104));
    }
    let session = Session {
        hash: new_hash(),
        user_id: user.id,
        kind: SessionKind::Session,
        title: None,
        created_at: now,
        last_used_at: now,
    };
    ctx.store().create_session(&session).await?;
    Ok(Reply::ok()
        .with("hash", session.hash)
        .with("type", "authenticated"))
}

/// Ends the session the call was made with.
pub async fn logout(ctx: Ctx) -> Result<Reply, ApiError> {
    let caller = ctx.caller()?;
    ctx.store().delete_session(&caller.session.hash).await?;
    Ok(Reply::ok())
}

/// The hash of a password nobody knows: checking an unknown login against it costs what a
/// real check costs.
static DUMMY_PHC: OnceLock<String> = OnceLock::new();
