//! The call table: path, who may call, the right it needs, the handler.

use std::future::Future;
use std::pin::Pin;

use trackd_core::Right;

use crate::{api_key, plugin, tag, track, tracker, user, ApiError, Ctx, Reply};

/// Who may make a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No hash needed (`user/auth`).
    Public,
    /// A session hash or an API key.
    User,
    /// A session hash from `user/auth`; an API key answers 4.
    SessionOnly,
}

pub type Handler = fn(Ctx) -> Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send>>;

pub struct Route {
    pub path: &'static str,
    pub access: Access,
    pub right: Option<Right>,
    pub handler: Handler,
}

macro_rules! routes {
    ($( $path:literal => $access:ident $(+ $right:ident)? => $handler:path ),* $(,)?) => {
        &[ $( Route {
            path: $path,
            access: Access::$access,
            right: routes!(@right $($right)?),
            handler: |ctx| Box::pin($handler(ctx)),
        } ),* ]
    };
    (@right) => { None };
    (@right $right:ident) => { Some(Right::$right) };
}

static ROUTES: &[Route] = routes![
    "user/auth" => Public => user::auth::auth,
    "user/logout" => SessionOnly => user::auth::logout,
    "user/session/renew" => SessionOnly => user::session::renew,
    "user/get_info" => User => user::info::get_info,

    "api/key/create" => SessionOnly + Admin => api_key::create,
    "api/key/list" => SessionOnly + Admin => api_key::list,
    "api/key/delete" => SessionOnly + Admin => api_key::delete,
    "user/api_key/list" => SessionOnly + Admin => api_key::list,
    "user/api_key/delete" => SessionOnly + Admin => api_key::delete,

    "plugin/list" => User => plugin::list,

    "tag/create" => User + TagUpdate => tag::create,
    "tag/list" => User => tag::list,
    "tag/update" => User + TagUpdate => tag::update,
    "tag/delete" => User + TagUpdate => tag::delete,
    "tag/search" => User => tag::search,

    "tracker/read" => User => tracker::read,
    "tracker/list" => User => tracker::list,
    "tracker/corrupt" => User + TrackerRegister => tracker::corrupt,
    "tracker/delete" => User + Admin => tracker::delete,
    "tracker/change_phone" => User + TrackerConfigure => tracker::change_phone,
    "tracker/settings/read" => User => tracker::settings::read,
    "tracker/settings/update" => User + TrackerUpdate => tracker::settings::update,
    "tracker/tags/set" => User + TrackerUpdate => tracker::tags::set,
    "tracker/list_models" => User => tracker::models::list_models,
    "tracker/get_state" => User => tracker::state::get_state,
    "tracker/get_states" => User => tracker::state::get_states,
    "tracker/get_last_gps_point" => User => tracker::state::get_last_gps_point,
    "tracker/get_inputs" => User => tracker::state::get_inputs,
    "tracker/get_diagnostics" => User => tracker::state::get_diagnostics,
    "tracker/get_fuel" => User => tracker::readings::get_fuel,
    "tracker/get_readings" => User => tracker::readings::get_readings,
    "tracker/readings/list" => User => tracker::readings::list,
    "tracker/readings/batch_list" => User => tracker::readings::batch_list,
    "tracker/get_counters" => User => tracker::counter::get_counters,

    "tracker/counter/read" => User => tracker::counter::read,
    "tracker/counter/update" => User + TrackerUpdate => tracker::counter::update,
    "tracker/counter/value/get" => User => tracker::counter::value_get,
    "tracker/counter/value/read" => User => tracker::counter::value_get,
    "tracker/counter/value/list" => User => tracker::counter::value_list,
    "tracker/counter/value/set" => User + TrackerUpdate => tracker::counter::value_set,
    "tracker/counter/data/read" => User => tracker::counter::data_read,
    "tracker/counter/data/list" => User => tracker::counter::data_read,

    "track/list" => User => track::list,
    "track/read" => User => track::read,

    "tracker/sensor/list" => User => tracker::sensor::list,
    "tracker/sensor/batch_list" => User => tracker::sensor::batch_list,
    "tracker/sensor/create" => User + TrackerUpdate => tracker::sensor::create,
    "tracker/sensor/update" => User + TrackerUpdate => tracker::sensor::update,
    "tracker/sensor/delete" => User + TrackerUpdate => tracker::sensor::delete,
    "tracker/sensor/batch_copy" => User + TrackerUpdate => tracker::sensor::batch_copy,
    "tracker/sensor/input_name/list" => User => tracker::sensor::input_name_list,
    "tracker/sensor/data/read" => User => tracker::readings::data_read,
    "tracker/sensor/calibration_data/read" => User => tracker::sensor::calibration::read,
    "tracker/sensor/calibration_data/update" => User + TrackerUpdate => tracker::sensor::calibration::update,

    "tracker/group/list" => User => tracker::group::list,
    "tracker/group/create" => User + Admin => tracker::group::create,
    "tracker/group/update" => User + Admin => tracker::group::update,
    "tracker/group/delete" => User + Admin => tracker::group::delete,
    "tracker/group/assign" => User + Admin => tracker::group::assign,

    "tracker/register" => User + TrackerRegister => tracker::register::register,
    "tracker/register_quick" => User + TrackerRegister => tracker::register::register_quick,
    "tracker/replace" => User + TrackerConfigure => tracker::register::replace,
    "tracker/replace_quick" => User + TrackerConfigure => tracker::register::replace_quick,
];

pub fn find(name: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.path == name)
}

/// Every call trackd answers, for documentation and tests.
pub fn all() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter()
}
