//! Registration: `tracker/register` (plugins 44 and 37), `register_quick` (bundles), and the
//! replacements `replace` and `replace_quick`, where a new device takes over a tracker and
//! keeps its history, counters and sensors.

use trackd_core::catalog::{self, IdType, TrackerModel};
use trackd_core::tracker::{Bundle, NewTracker, Replacement};
use trackd_core::GroupId;
use trackd_store::Registration;

use super::{check_phone, find, not_blocked, not_clone, render};
use crate::params::Check;
use crate::time::utc_date;
use crate::{plugin, ApiError, Ctx, Reply};

/// Device-side settings common to the plugin parameters.
#[derive(Default)]
struct DeviceParams {
    device_id: String,
    phone: Option<String>,
    apn_name: Option<String>,
    apn_user: Option<String>,
    apn_password: Option<String>,
    send_register_commands: bool,
}

/// Reads `model`, `plugin_id`, `device_id`, `phone`, `apn_*` and `send_register_commands`,
/// validating what can be checked without the database: 7 for bad values, 220 for an unknown
/// model, 222 for a plugin that is not enabled or not for this model.
fn device_params(
    ctx: &Ctx,
    c: &mut Check<'_>,
) -> Result<(DeviceParams, Option<&'static TrackerModel>, i64), ApiError> {
    let model_code = c.string("model");
    let plugin_id = c.int("plugin_id");
    let device_id = c.opt_string("device_id");
    let phone = c.opt_string("phone").filter(|p| !p.is_empty());
    if let Some(p) = &phone {
        check_phone(c, "phone", p);
    }
    let apn_name = c.opt_text("apn_name", 0, 40);
    let apn_user = c.opt_text("apn_user", 0, 40);
    let apn_password = c.opt_text("apn_password", 0, 40);
    let send_register_commands = c.bool_or("send_register_commands", false);
    if !c.ok() {
        return Ok((DeviceParams::default(), None, plugin_id));
    }
    let model = catalog::model(&model_code).ok_or_else(|| ApiError::new(220))?;
    match plugin::enabled(ctx, plugin_id) {
        Some(p) if p.allows_model(&model.code) => {}
        _ => return Err(ApiError::new(222)),
    }
    let id_type = IdType::parse(&model.id_type);
    let device_id = match (id_type, device_id) {
        // Generated IDs are the platform's to give; a client-supplied one is ignored.
        (Some(IdType::Generated { len, prefix }), _) => generated_id(len, &prefix),
        (_, None) => {
            c.fail("device_id", "must not be null");
            String::new()
        }
        (id_type, Some(id)) => {
            if let Err(e) = trackd_core::DeviceId::parse(&id) {
                c.fail("device_id", e);
            } else if let Some(Err(e)) = id_type.map(|t| t.check(&id)) {
                c.fail("device_id", e);
            }
            id
        }
    };
    if model.has_phone && phone.is_none() {
        c.fail("phone", "must not be null");
    }
    let params = DeviceParams {
        device_id,
        phone,
        apn_name,
        apn_user,
        apn_password,
        send_register_commands,
    };
    Ok((params, Some(model), plugin_id))
}

/// A platform-assigned device ID: `len` digits starting with `prefix`.
fn generated_id(len: usize, prefix: &str) -> String {
    let mut id = prefix.to_owned();
    let random = crate::auth::new_hash();
    for b in random.bytes() {
        if id.len() >= len {
            break;
        }
        id.push(char::from(b'0' + (b % 10)));
    }
    id
}

async fn device_limit(ctx: &Ctx) -> Result<Option<i64>, ApiError> {
    Ok(ctx
        .store()
        .setting("device_limit")
        .await?
        .and_then(|v| v.parse().ok()))
}

/// Answers 223/224 before the insert, so the common case gets its error without relying on
/// the database constraint (which still guards against a race).
async fn check_free(ctx: &Ctx, device_id: &str, phone: Option<&str>) -> Result<(), ApiError> {
    if !ctx
        .store()
        .trackers_by_device_id(device_id)
        .await?
        .is_empty()
    {
        return Err(ApiError::new(224));
    }
    if let Some(phone) = phone {
        if ctx.store().phone_in_use(phone).await? {
            return Err(ApiError::new(223));
        }
    }
    Ok(())
}

/// `tracker/register`.
pub async fn register(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let label = c.text("label", 1, 60);
    let group_id = c.int("group_id");
    let code = c.opt_string("activation_code").filter(|s| !s.is_empty());
    let (device, model, plugin_id) = device_params(&ctx, &mut c)?;
    if plugin_id == 37 && code.is_none() && c.ok() {
        c.fail("activation_code", "must not be null");
    }
    c.done()?;
    let Some(model) = model else {
        return Err(ApiError::new(220));
    };
    super::group::exists(&ctx, GroupId(group_id)).await?;
    check_free(&ctx, &device.device_id, device.phone.as_deref()).await?;
    if let Some(code) = &code {
        let valid = ctx
            .store()
            .activation_code(code)
            .await?
            .is_some_and(|c| c.devices_left > 0);
        if !valid {
            return Err(ApiError::new(227));
        }
    }
    let new = NewTracker {
        user_id: ctx.account()?,
        label,
        group_id: GroupId(group_id),
        device_id: device.device_id,
        model: model.code.clone(),
        phone: device.phone,
        apn_name: device.apn_name,
        apn_user: device.apn_user,
        apn_password: device.apn_password,
        register_commands_pending: device.send_register_commands,
        creation_date: utc_date(ctx.now()),
    };
    let registration = Registration {
        device_limit: device_limit(&ctx).await?,
        activation_code: code,
        bundle_imei: None,
    };
    let tracker = ctx.store().create_tracker(&new, &registration).await?;
    Ok(Reply::ok().with_serialized("value", &render(&tracker, true)))
}

/// The bundle with this IMEI, if it is not used yet: 201 otherwise; 220 when its model is
/// not in the catalog.
async fn free_bundle(ctx: &Ctx, imei: &str) -> Result<(Bundle, &'static TrackerModel), ApiError> {
    let bundle = ctx
        .store()
        .bundle(imei)
        .await?
        .filter(|b| b.tracker_id.is_none());
    let bundle = bundle.ok_or_else(|| ApiError::new(201))?;
    let model = catalog::model(&bundle.model).ok_or_else(|| ApiError::new(220))?;
    Ok((bundle, model))
}

/// `tracker/register_quick`: a pre-configured bundle registers with its IMEI alone.
pub async fn register_quick(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let label = c.text("label", 1, 60);
    let group_id = c.int("group_id");
    let imei = c.string("imei");
    c.done()?;
    let (bundle, model) = free_bundle(&ctx, &imei).await?;
    super::group::exists(&ctx, GroupId(group_id)).await?;
    check_free(&ctx, &bundle.imei, bundle.phone.as_deref()).await?;
    let new = NewTracker {
        user_id: ctx.account()?,
        label,
        group_id: GroupId(group_id),
        device_id: bundle.imei.clone(),
        model: model.code.clone(),
        phone: bundle.phone.clone(),
        apn_name: bundle.apn_name.clone(),
        apn_user: bundle.apn_user.clone(),
        apn_password: bundle.apn_password.clone(),
        register_commands_pending: false,
        creation_date: utc_date(ctx.now()),
    };
    let registration = Registration {
        device_limit: device_limit(&ctx).await?,
        activation_code: None,
        bundle_imei: Some(bundle.imei),
    };
    let tracker = ctx.store().create_tracker(&new, &registration).await?;
    Ok(Reply::ok().with_serialized("value", &render(&tracker, true)))
}

/// The tracker to replace the device of: 204 when missing, 266 for a clone or a blocked one.
async fn replaceable(ctx: &Ctx, id: i64) -> Result<trackd_core::tracker::Tracker, ApiError> {
    let tracker = find(ctx, id).await.map_err(|_| ApiError::new(204))?;
    if not_clone(&tracker).is_err() || not_blocked(&tracker).is_err() {
        return Err(ApiError::new(266));
    }
    Ok(tracker)
}

/// `tracker/replace`: no activation code; the tracker keeps its ID and everything recorded.
pub async fn replace(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let (device, model, _) = device_params(&ctx, &mut c)?;
    c.done()?;
    let Some(model) = model else {
        return Err(ApiError::new(220));
    };
    let tracker = replaceable(&ctx, id).await?;
    if device.device_id != tracker.source.device_id {
        check_free(&ctx, &device.device_id, None).await?;
    }
    if let Some(phone) = &device.phone {
        if tracker.source.phone.as_deref() != Some(phone.as_str())
            && ctx.store().phone_in_use(phone).await?
        {
            return Err(ApiError::new(223));
        }
    }
    let now = ctx.now();
    let replacement = Replacement {
        device_id: device.device_id,
        model: model.code.clone(),
        phone: device.phone,
        apn_name: device.apn_name,
        apn_user: device.apn_user,
        apn_password: device.apn_password,
        register_commands_pending: device.send_register_commands,
        creation_date: utc_date(now),
        replaced_at: now,
    };
    let tracker = ctx.store().replace(tracker.id, &replacement).await?;
    Ok(Reply::ok().with_serialized("value", &render(&tracker, true)))
}

/// `tracker/replace_quick`: the new device is a bundle.
pub async fn replace_quick(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let id = c.int("tracker_id");
    let imei = c.string("imei");
    c.done()?;
    let tracker = replaceable(&ctx, id).await?;
    let (bundle, model) = free_bundle(&ctx, &imei).await?;
    check_free(&ctx, &bundle.imei, None).await?;
    let now = ctx.now();
    let replacement = Replacement {
        device_id: bundle.imei.clone(),
        model: model.code.clone(),
        phone: bundle.phone.clone().or(tracker.source.phone.clone()),
        apn_name: bundle.apn_name.clone(),
        apn_user: bundle.apn_user.clone(),
        apn_password: bundle.apn_password.clone(),
        register_commands_pending: false,
        creation_date: utc_date(now),
        replaced_at: now,
    };
    let tracker = ctx.store().replace(tracker.id, &replacement).await?;
    Ok(Reply::ok().with_serialized("value", &render(&tracker, true)))
}
