//! What Navixy leaves to its admin panel, as `trackd` subcommands: users, bundles, activation
//! codes, blocking, tariffs, clones and the device limit. Each function returns the text to
//! print, so tests can check it.

use std::fmt::Write as _;

use anyhow::{anyhow, bail, Context};
use trackd_api::auth::{hash_password, new_hash};
use trackd_core::account::NewUser;
use trackd_core::catalog;
use trackd_core::tracker::{ActivationCode, Bundle};
use trackd_core::{Right, Rights, TrackerId};
use trackd_store::Store;

pub struct UserSpec {
    pub login: String,
    pub password: String,
    pub time_zone: String,
    pub parent: Option<String>,
    pub rights: Vec<String>,
}

pub async fn create_user(store: &dyn Store, spec: UserSpec, now: i64) -> anyhow::Result<String> {
    if spec.login.trim().is_empty() {
        bail!("the login must not be empty");
    }
    if spec.password.is_empty() || spec.password.chars().count() > 40 {
        bail!("the password must be 1 to 40 characters");
    }
    if trackd_api::time::parse_zone(&spec.time_zone).is_none() {
        bail!(
            "unknown time zone '{}' (use an IANA name such as Europe/Berlin)",
            spec.time_zone
        );
    }
    let (parent_id, rights) = match &spec.parent {
        None => {
            if !spec.rights.is_empty() {
                bail!("a master user has every right; --rights is for sub-users (with --parent)");
            }
            (None, Rights::master())
        }
        Some(parent) => {
            let parent = store
                .user_by_login(parent)
                .await?
                .ok_or_else(|| anyhow!("no user '{parent}'"))?;
            if !parent.is_master() {
                bail!(
                    "'{}' is a sub-user; a sub-user's parent must be a master user",
                    parent.login
                );
            }
            let rights = spec
                .rights
                .iter()
                .map(|r| r.parse::<Right>().map_err(|e| anyhow!(e)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if rights.contains(&Right::Admin) {
                bail!("the admin right belongs to master users only");
            }
            (Some(parent.id), Rights::sub_user(rights))
        }
    };
    let password_hash =
        hash_password(&spec.password).map_err(|_| anyhow!("hashing the password failed"))?;
    let user = store
        .create_user(
            &NewUser {
                login: spec.login.clone(),
                password_hash,
                parent_id,
                rights,
                time_zone: spec.time_zone,
                locale: "en_US".into(),
                measurement_system: "metric".into(),
                first_name: String::new(),
                last_name: String::new(),
            },
            now,
        )
        .await
        .map_err(|e| match e {
            trackd_store::StoreError::Conflict(_) => {
                anyhow!("login '{}' is already in use", spec.login)
            }
            other => anyhow!(other),
        })?;
    Ok(format!("created user {} (id {})", user.login, user.id))
}

pub async fn list_users(store: &dyn Store) -> anyhow::Result<String> {
    let mut out = String::from("id\tlogin\tparent\ttime_zone\trights\n");
    let users = store.users().await?;
    for u in &users {
        let parent = u
            .parent_id
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into());
        let rights = if u.is_master() {
            "master".to_owned()
        } else {
            u.rights.names().join(",")
        };
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            u.id, u.login, parent, u.time_zone, rights
        );
    }
    Ok(out)
}

/// Imports bundles from CSV lines `imei,model[,phone[,apn_name[,apn_user[,apn_password]]]]`;
/// `#` starts a comment. All lines are checked before any is stored.
pub async fn import_bundles(store: &dyn Store, csv: &str) -> anyhow::Result<String> {
    let mut bundles = Vec::new();
    for (n, line) in csv.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let field = |i: usize| f.get(i).filter(|s| !s.is_empty()).map(|s| (*s).to_owned());
        let imei = field(0).ok_or_else(|| anyhow!("line {}: no IMEI", n + 1))?;
        let model = field(1).ok_or_else(|| anyhow!("line {}: no model", n + 1))?;
        trackd_core::DeviceId::parse(&imei).map_err(|e| anyhow!("line {}: IMEI {e}", n + 1))?;
        if catalog::model(&model).is_none() {
            bail!(
                "line {}: unknown model '{model}' (see tracker/list_models)",
                n + 1
            );
        }
        bundles.push(Bundle {
            imei,
            model,
            phone: field(2),
            apn_name: field(3),
            apn_user: field(4),
            apn_password: field(5),
            tracker_id: None,
        });
    }
    for b in &bundles {
        store
            .add_bundle(b)
            .await
            .with_context(|| format!("storing bundle {}", b.imei))?;
    }
    Ok(format!("imported {} bundles", bundles.len()))
}

pub async fn create_activation_code(
    store: &dyn Store,
    code: Option<String>,
    devices: i64,
    free_days: Option<i64>,
) -> anyhow::Result<String> {
    if devices < 1 {
        bail!("--devices must be at least 1");
    }
    let code = code.unwrap_or_else(|| new_hash()[..12].to_uppercase());
    store
        .add_activation_code(&ActivationCode {
            code: code.clone(),
            devices_left: devices,
            free_days,
        })
        .await?;
    Ok(code)
}

pub async fn set_blocked(store: &dyn Store, id: i64, blocked: bool) -> anyhow::Result<String> {
    existing(store, id).await?;
    store.set_blocked(TrackerId(id), blocked).await?;
    Ok(format!(
        "tracker {id} {}",
        if blocked { "blocked" } else { "unblocked" }
    ))
}

pub async fn set_tariff_end(
    store: &dyn Store,
    id: i64,
    date: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(d) = date {
        trackd_api::time::parse_date(d).ok_or_else(|| anyhow!("'{d}' is not a YYYY-MM-DD date"))?;
    }
    existing(store, id).await?;
    store.set_tariff_end_date(TrackerId(id), date).await?;
    Ok(format!(
        "tracker {id} tariff end date: {}",
        date.unwrap_or("none")
    ))
}

pub async fn clone_tracker(
    store: &dyn Store,
    id: i64,
    to: &str,
    label: Option<&str>,
) -> anyhow::Result<String> {
    let tracker = existing(store, id).await?;
    if tracker.clone {
        bail!("tracker {id} is itself a clone: clone the original");
    }
    let user = store
        .user_by_login(to)
        .await?
        .ok_or_else(|| anyhow!("no user '{to}'"))?;
    let account = user.account();
    if account == tracker.user_id {
        bail!("tracker {id} already belongs to that account");
    }
    let clone = store
        .clone_tracker(tracker.id, account, label.unwrap_or(&tracker.label))
        .await?;
    Ok(format!(
        "cloned tracker {id} as tracker {} for {}",
        clone.id, user.login
    ))
}

pub async fn device_limit(store: &dyn Store, limit: Option<Option<i64>>) -> anyhow::Result<String> {
    if let Some(limit) = limit {
        if limit.is_some_and(|n| n < 0) {
            bail!("the device limit must not be negative");
        }
        store
            .set_setting("device_limit", limit.map(|n| n.to_string()).as_deref())
            .await?;
    }
    let current = store.setting("device_limit").await?;
    let used = store.count_devices().await?;
    Ok(format!(
        "device limit: {} ({} registered)",
        current.as_deref().unwrap_or("none"),
        used
    ))
}

async fn existing(store: &dyn Store, id: i64) -> anyhow::Result<trackd_core::tracker::Tracker> {
    store
        .tracker_any(TrackerId(id))
        .await?
        .filter(|t| !t.deleted)
        .ok_or_else(|| anyhow!("no tracker {id}"))
}
