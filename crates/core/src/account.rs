//! Users, their sessions and API keys.

use crate::ids::UserId;
use crate::rights::Rights;

/// A user as stored. The password hash is the PHC string of a memory-hard hash (Argon2id).
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: UserId,
    pub login: String,
    pub password_hash: String,
    /// The master user of a sub-user; `None` for a master user.
    pub parent_id: Option<UserId>,
    pub rights: Rights,
    /// IANA time zone, e.g. `Europe/Amsterdam`.
    pub time_zone: String,
    pub locale: String,
    /// `metric`, `imperial`, `us`, `metric_gal`, ...
    pub measurement_system: String,
    pub first_name: String,
    pub last_name: String,
    pub blocked: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl User {
    /// The account whose trackers, groups and tags this user works on: its own for a master
    /// user, its parent's for a sub-user.
    pub fn account(&self) -> UserId {
        self.parent_id.unwrap_or(self.id)
    }
    pub fn is_master(&self) -> bool {
        self.parent_id.is_none()
    }
}

/// What a user creates.
#[derive(Clone, Debug, PartialEq)]
pub struct NewUser {
    pub login: String,
    pub password_hash: String,
    pub parent_id: Option<UserId>,
    pub rights: Rights,
    pub time_zone: String,
    pub locale: String,
    pub measurement_system: String,
    pub first_name: String,
    pub last_name: String,
}

/// How a hash was issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// From `user/auth`; expires after a period without use.
    Session,
    /// From `api/key/create`; never expires, master users only.
    ApiKey,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Session => "session",
            SessionKind::ApiKey => "api_key",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "session" => Some(SessionKind::Session),
            "api_key" => Some(SessionKind::ApiKey),
            _ => None,
        }
    }
}

/// A session hash or API key.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// 32 lowercase hexadecimal characters.
    pub hash: String,
    pub user_id: UserId,
    pub kind: SessionKind,
    pub title: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub last_used_at: i64,
}
