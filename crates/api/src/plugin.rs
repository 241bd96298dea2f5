//! `plugin/list`: the registration plugins this installation offers.

use serde_json::{json, Value};

use crate::{ApiError, Ctx, Reply};

/// A registration plugin trackd implements (navixy-reference §3.4).
pub struct Plugin {
    pub id: u32,
    pub module: &'static str,
    pub ui_module: &'static str,
    /// Whether `activation_code` must be given.
    pub code_required: bool,
    /// Model code patterns (`*` suffix) the plugin is excluded from.
    pub excluded_models: &'static [&'static str],
}

pub const PLUGINS: &[Plugin] = &[
    Plugin {
        id: 44,
        module: "com.navixy.plugin.tracker.register.activation_code_optional",
        ui_module: "Registration.appPlugins.ActivationCodeOptional",
        code_required: false,
        excluded_models: &["navixymobile", "mobile_unknown*"],
    },
    Plugin {
        id: 37,
        module: "com.navixy.plugin.tracker.register.activation_code",
        ui_module: "Registration.appPlugins.ActivationCode",
        code_required: true,
        excluded_models: &["navixymobile", "mobile_unknown*"],
    },
];

/// The plugin with this ID, if the installation enables it.
pub fn enabled(ctx: &Ctx, id: i64) -> Option<&'static Plugin> {
    PLUGINS
        .iter()
        .find(|p| i64::from(p.id) == id && ctx.state.config.registration_plugins.contains(&p.id))
}

impl Plugin {
    pub fn allows_model(&self, model: &str) -> bool {
        !self
            .excluded_models
            .iter()
            .any(|pat| match pat.strip_suffix('*') {
                Some(prefix) => model.starts_with(prefix),
                None => model == *pat,
            })
    }
}

pub async fn list(ctx: Ctx) -> Result<Reply, ApiError> {
    let list: Vec<Value> = PLUGINS
        .iter()
        .filter(|p| ctx.state.config.registration_plugins.contains(&p.id))
        .map(|p| {
            let values: Vec<String> = p
                .excluded_models
                .iter()
                .map(|m| m.replace('*', ".*"))
                .collect();
            json!({
                "id": p.id,
                "type": "tracker_register",
                "ui_module": p.ui_module,
                "module": p.module,
                "filter": { "exclusion": true, "values": values },
            })
        })
        .collect();
    Ok(Reply::ok().with("list", list))
}
