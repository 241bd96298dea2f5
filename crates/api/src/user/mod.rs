//! `/user/*`: logging in and out, sessions, the user's own information.

pub mod auth;
pub mod info;
pub mod session;
