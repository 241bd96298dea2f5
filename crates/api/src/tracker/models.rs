//! `tracker/list_models`: the catalog of device models trackd supports.

use serde_json::{json, Value};
use trackd_core::catalog::{self, TrackerModel};

use crate::{ApiError, Ctx, Reply};

/// `codes` narrows the list to those model codes; `compact_view` answers only the fields a
/// model picker needs.
pub async fn list_models(ctx: Ctx) -> Result<Reply, ApiError> {
    let mut c = ctx.params.check();
    let compact = c.bool_or("compact_view", false);
    let codes = c.opt_string_array("codes");
    c.opt_bool("compact_index");
    c.done()?;
    let list: Vec<Value> = catalog::models()
        .iter()
        .filter(|m| codes.as_ref().is_none_or(|cs| cs.contains(&m.code)))
        .map(|m| {
            if compact {
                compact_view(m)
            } else {
                full_view(m)
            }
        })
        .collect();
    Ok(Reply::ok().with("list", list))
}

fn compact_view(m: &TrackerModel) -> Value {
    json!({
        "id": m.id,
        "vendor": m.vendor,
        "code": m.code,
        "parent_code": m.parent_code,
        "type": m.kind,
        "name": m.name,
        "id_type": m.id_type,
        "has_phone": m.has_phone,
        "register": m.register,
    })
}

fn full_view(m: &TrackerModel) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}
