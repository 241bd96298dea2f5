//! `user/get_info`.

use serde_json::json;

use crate::{ApiError, Ctx, Reply};

/// The caller's account information, settings (time zone, locale, units) and rights.
pub async fn get_info(ctx: Ctx) -> Result<Reply, ApiError> {
    let user = &ctx.caller()?.user;
    let creation_date = ctx.time.format(user.created_at);
    Ok(Reply::ok()
        .with("id", user.id.0)
        .with("login", user.login.clone())
        .with(
            "user_info",
            json!({
                "login": user.login,
                "first_name": user.first_name,
                "middle_name": "",
                "last_name": user.last_name,
                "legal_type": "individual",
                "creation_date": creation_date,
                "time_zone": user.time_zone,
                "locale": user.locale,
                "measurement_system": user.measurement_system,
            }),
        )
        .with(
            "settings",
            json!({
                "time_zone": user.time_zone,
                "locale": user.locale,
                "measurement_system": user.measurement_system,
            }),
        )
        .with("master", user.is_master())
        .with("privileges", json!({ "rights": user.rights.names() })))
}
