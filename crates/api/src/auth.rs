//! Who is calling: the `hash` lookup (body, query, then `Authorization: NVX <hash>`), session
//! expiry, password hashing and new hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderMap;
use rand::RngCore;
use trackd_core::account::{Session, SessionKind, User};

use crate::error::ApiError;
use crate::params::{self, Params};
use crate::routes::Access;
use crate::AppState;

/// The authenticated user and the hash they came with.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    pub session: Session,
}

/// Finds the hash; error 3 when there is none.
pub fn find_hash(params: &Params, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(v) = params.get("hash") {
        return params::as_string(v).map_err(|_| ApiError::new(3));
    }
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // "NVX <hash>" with exactly that prefix; "NVX<hash>" is documented as invalid.
    match header.strip_prefix("NVX ") {
        Some(hash) if !hash.trim().is_empty() => Ok(hash.trim().to_owned()),
        _ => Err(ApiError::new(3)),
    }
}

/// Resolves a hash to its user: error 4 when unknown, expired, of the wrong kind for the call,
/// or when the user is blocked.
pub async fn authenticate(
    state: &AppState,
    hash: &str,
    access: Access,
) -> Result<Caller, ApiError> {
    if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(4));
    }
    let hash = hash.to_ascii_lowercase();
    let store = &state.store;
    let (session, user) = store
        .session_with_user(&hash)
        .await?
        .ok_or_else(|| ApiError::new(4))?;
    let now = state.clock.now();
    if session.kind == SessionKind::Session {
        let idle_ms = i64::from(state.config.session_idle_days) * 86_400_000;
        if now - session.last_used_at > idle_ms {
            store.delete_session(&hash).await?;
            return Err(ApiError::new(4));
        }
        // One write a minute per session is enough to keep it alive.
        if now - session.last_used_at > 60_000 {
            store.touch_session(&hash, now).await?;
        }
    }
    if access == Access::SessionOnly && session.kind != SessionKind::Session {
        return Err(ApiError::new(4));
    }
    if user.blocked {
        return Err(ApiError::new(275));
    }
    Ok(Caller { user, session })
}

/// A new session hash or API key: 32 lowercase hex digits from the OS's random source.
pub fn new_hash() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Argon2id with the crate's default (OWASP) parameters, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::new(6))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn hash_lookup_order() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("NVX aaaa"));
        let body = Params::parse(
            Some("hash=query"),
            Some("application/json"),
            br#"{"hash":"body"}"#,
        )
        .expect("p");
        assert_eq!(find_hash(&body, &headers).expect("hash"), "body");
        let query = Params::parse(Some("hash=query"), None, b"").expect("p");
        assert_eq!(find_hash(&query, &headers).expect("hash"), "query");
        let none = Params::default();
        assert_eq!(find_hash(&none, &headers).expect("hash"), "aaaa");
        let mut bad = HeaderMap::new();
        bad.insert("authorization", HeaderValue::from_static("NVXaaaa"));
        assert_eq!(find_hash(&none, &bad).expect_err("no space").code, 3);
        assert_eq!(
            find_hash(&none, &HeaderMap::new()).expect_err("none").code,
            3
        );
    }

    #[test]
    fn passwords_verify() {
        let phc = hash_password("s3cret").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &phc));
        assert!(!verify_password("S3cret", &phc));
        assert!(!verify_password("s3cret", "garbage"));
    }

    #[test]
    fn hashes_are_32_hex() {
        let h = new_hash();
        assert_eq!(h.len(), 32);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(h, new_hash());
    }
}
