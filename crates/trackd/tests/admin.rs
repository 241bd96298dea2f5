//! The admin subcommands' functions.

mod support;

use support::TestApp;
use trackd::admin::{self, UserSpec};

fn spec(login: &str, parent: Option<&str>, rights: &[&str], tz: &str) -> UserSpec {
    UserSpec {
        login: login.into(),
        password: "pw".into(),
        time_zone: tz.into(),
        parent: parent.map(str::to_owned),
        rights: rights.iter().map(|r| (*r).to_owned()).collect(),
    }
}

#[tokio::test]
async fn users_are_created_and_listed() {
    let app = TestApp::spawn().await;
    let store = app.store.as_ref();
    let out = admin::create_user(store, spec("boss", None, &[], "Europe/Paris"), 0)
        .await
        .expect("master");
    assert!(out.starts_with("created user boss (id "), "{out}");
    admin::create_user(
        store,
        spec("clerk", Some("boss"), &["tracker_update", "reports"], "UTC"),
        0,
    )
    .await
    .expect("sub");
    let list = admin::list_users(store).await.expect("list");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines[0], "id\tlogin\tparent\ttime_zone\trights");
    assert!(
        lines[1].ends_with("\tboss\t-\tEurope/Paris\tmaster"),
        "{list}"
    );
    assert!(
        lines[2].ends_with("\tclerk\t1\tUTC\ttracker_update,reports")
            || lines[2].contains("\tclerk\t"),
        "{list}"
    );

    for (bad, why) in [
        (spec("boss", None, &[], "UTC"), "already in use"),
        (spec("x", None, &[], "Mars/Olympus"), "unknown time zone"),
        (spec("x", Some("nobody"), &[], "UTC"), "no user 'nobody'"),
        (spec("x", Some("clerk"), &[], "UTC"), "sub-user"),
        (
            spec("x", Some("boss"), &["admin"], "UTC"),
            "master users only",
        ),
        (
            spec("x", Some("boss"), &["fly"], "UTC"),
            "unknown right 'fly'",
        ),
        (
            spec("x", None, &["reports"], "UTC"),
            "--rights is for sub-users",
        ),
    ] {
        let err = admin::create_user(store, bad, 0)
            .await
            .expect_err(why)
            .to_string();
        assert!(err.contains(why), "{err} should say {why}");
    }
}

#[tokio::test]
async fn bundles_are_checked_before_any_is_stored() {
    let app = TestApp::spawn().await;
    let store = app.store.as_ref();
    let err = admin::import_bundles(
        store,
        "356307042441013,telfmb920\n356307042441021,no_model\n",
    )
    .await
    .expect_err("bad model");
    assert!(
        err.to_string().contains("line 2: unknown model 'no_model'"),
        "{err}"
    );
    assert!(
        store
            .bundle("356307042441013")
            .await
            .expect("read")
            .is_none(),
        "nothing stored"
    );
    assert_eq!(
        admin::import_bundles(store, "# comment\n\n356307042441013,telfmb920,7999\n")
            .await
            .expect("ok"),
        "imported 1 bundles"
    );
    let b = store
        .bundle("356307042441013")
        .await
        .expect("read")
        .expect("bundle");
    assert_eq!(
        (b.model.as_str(), b.phone.as_deref()),
        ("telfmb920", Some("7999"))
    );
}

#[tokio::test]
async fn activation_codes_and_device_limit() {
    let app = TestApp::spawn().await;
    let store = app.store.as_ref();
    let code = admin::create_activation_code(store, None, 3, None)
        .await
        .expect("code");
    assert_eq!(code.len(), 12);
    let stored = store
        .activation_code(&code)
        .await
        .expect("read")
        .expect("code");
    assert_eq!(stored.devices_left, 3);
    assert!(admin::create_activation_code(store, None, 0, None)
        .await
        .is_err());

    assert_eq!(
        admin::device_limit(store, None).await.expect("show"),
        "device limit: none (0 registered)"
    );
    assert_eq!(
        admin::device_limit(store, Some(Some(10)))
            .await
            .expect("set"),
        "device limit: 10 (0 registered)"
    );
    assert_eq!(
        admin::device_limit(store, Some(None)).await.expect("clear"),
        "device limit: none (0 registered)"
    );
    assert!(admin::device_limit(store, Some(Some(-1))).await.is_err());
}

#[tokio::test]
async fn tracker_admin_on_missing_trackers_fails_clearly() {
    let app = TestApp::spawn().await;
    let store = app.store.as_ref();
    for err in [
        admin::set_blocked(store, 42, true)
            .await
            .expect_err("block"),
        admin::set_tariff_end(store, 42, Some("2030-01-01"))
            .await
            .expect_err("tariff"),
        admin::clone_tracker(store, 42, "x", None)
            .await
            .expect_err("clone"),
    ] {
        assert_eq!(err.to_string(), "no tracker 42");
    }
    let err = admin::set_tariff_end(store, 42, Some("2030-13-01"))
        .await
        .expect_err("date");
    assert_eq!(err.to_string(), "'2030-13-01' is not a YYYY-MM-DD date");
}
