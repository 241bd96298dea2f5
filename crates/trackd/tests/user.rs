//! `user/*` and `api/key/*`: logging in, sessions, keys, rights.

mod support;

use serde_json::json;
use support::{error, invalid, Enc, TestApp, ENCODINGS, PASSWORD};

#[tokio::test]
async fn auth_answers_a_hash_in_every_encoding() {
    let app = TestApp::spawn().await;
    app.user("alice", None, &[]).await;
    for enc in ENCODINGS {
        let (status, body) = app
            .call(
                enc,
                "user/auth",
                json!({"login": "alice", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{enc:?}");
        let hash = body["hash"].as_str().expect("hash");
        assert_eq!(
            body,
            json!({"success": true, "hash": hash, "type": "authenticated"})
        );
        assert_eq!(hash.len(), 32);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

#[tokio::test]
async fn auth_errors() {
    let app = TestApp::spawn().await;
    app.user("alice", None, &[]).await;
    let (status, body) = app.call_all("user/auth", json!({})).await;
    assert_eq!(
        (status, body),
        (
            400,
            invalid(&[
                ("login", "must not be null"),
                ("password", "must not be null")
            ])
        )
    );
    let long = "p".repeat(41);
    let (status, body) = app
        .call_all("user/auth", json!({"login": "alice", "password": long}))
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            invalid(&[("password", "size must be between 1 and 40")])
        )
    );
    for enc in [Enc::Json, Enc::Form] {
        for login in ["alice", "nobody"] {
            assert_eq!(
                app.call(
                    enc,
                    "user/auth",
                    json!({"login": login, "password": "wrong"})
                )
                .await,
                (400, error(102, "Wrong login or password"))
            );
        }
    }
}

#[tokio::test]
async fn repeated_failures_are_throttled() {
    let app = TestApp::spawn_with(|c| c.api.login_max_failures = 3).await;
    app.user("alice", None, &[]).await;
    for _ in 0..3 {
        let (_, body) = app
            .call(
                Enc::Json,
                "user/auth",
                json!({"login": "alice", "password": "nope"}),
            )
            .await;
        assert_eq!(body["status"]["code"], 102);
    }
    // Now even the right password waits for the window to pass.
    assert_eq!(
        app.call(
            Enc::Json,
            "user/auth",
            json!({"login": "alice", "password": PASSWORD})
        )
        .await,
        (
            400,
            error(105, "Login attempts limit exceeded, try again later")
        )
    );
}

#[tokio::test]
async fn get_info_describes_the_user() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let (status, body) = app.call_all("user/get_info", json!({"hash": hash})).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["login"], "alice");
    assert_eq!(body["master"], true);
    assert_eq!(body["user_info"]["time_zone"], "Europe/Berlin");
    assert_eq!(
        body["settings"],
        json!({"time_zone": "Europe/Berlin", "locale": "en_US", "measurement_system": "metric"})
    );
    let rights = body["privileges"]["rights"].as_array().expect("rights");
    assert!(rights.contains(&json!("admin")) && rights.contains(&json!("tracker_update")));
    // Users created at t=0 by the test support: midnight UTC is 01:00 in Berlin.
    assert_eq!(body["user_info"]["creation_date"], "1970-01-01 01:00:00");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    assert_eq!(
        app.call(Enc::Form, "user/logout", json!({"hash": hash}))
            .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.call(Enc::Json, "user/get_info", json!({"hash": hash}))
            .await,
        (400, error(4, "User or API key not found or session ended"))
    );
}

#[tokio::test]
async fn sessions_expire_after_30_idle_days_and_renew_keeps_them() {
    let app = TestApp::spawn().await;
    let kept = app.master().await;
    let idle = app.login("alice").await;
    let day = 86_400_000;
    app.server.state.clock.advance(29 * day);
    assert_eq!(
        app.call(Enc::Json, "user/session/renew", json!({"hash": kept}))
            .await,
        (200, json!({"success": true}))
    );
    app.server.state.clock.advance(2 * day);
    assert_eq!(
        app.call(Enc::Json, "user/get_info", json!({"hash": kept}))
            .await
            .0,
        200
    );
    assert_eq!(
        app.call(Enc::Json, "user/get_info", json!({"hash": idle}))
            .await,
        (400, error(4, "User or API key not found or session ended"))
    );
}

#[tokio::test]
async fn api_keys_create_list_delete() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let (status, created) = app
        .call(
            Enc::Json,
            "api/key/create",
            json!({"hash": hash, "title": "integration"}),
        )
        .await;
    assert_eq!(status, 200);
    let key = created["value"]["hash"].as_str().expect("key").to_owned();
    let date = created["value"]["create_date"].clone();
    assert_eq!(
        created,
        json!({"success": true, "value": {"hash": key, "create_date": date, "title": "integration"}})
    );

    let (_, list) = app.call_all("api/key/list", json!({"hash": hash})).await;
    assert_eq!(
        list,
        json!({"success": true, "list": [{"hash": key, "create_date": date, "title": "integration"}]})
    );
    // The newer name of the same call.
    assert_eq!(
        app.call(Enc::Query, "user/api_key/list", json!({"hash": hash}))
            .await
            .1,
        list
    );

    // A key works for ordinary calls, never expires, but cannot log out or manage keys.
    app.server.state.clock.advance(400 * 86_400_000);
    assert_eq!(
        app.call(Enc::Json, "tracker/list", json!({"hash": key}))
            .await,
        (200, json!({"success": true, "list": []}))
    );
    let ended = (400, error(4, "User or API key not found or session ended"));
    assert_eq!(
        app.call(Enc::Json, "user/logout", json!({"hash": key}))
            .await,
        ended
    );
    assert_eq!(
        app.call(Enc::Json, "api/key/list", json!({"hash": key}))
            .await,
        ended
    );

    let hash = app.login("alice").await;
    assert_eq!(
        app.call(
            Enc::Form,
            "api/key/delete",
            json!({"hash": hash, "key": "ffffffffffffffffffffffffffffffff"})
        )
        .await,
        (400, error(201, "Not found in database"))
    );
    assert_eq!(
        app.call(
            Enc::Form,
            "api/key/delete",
            json!({"hash": hash, "key": key})
        )
        .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.call(Enc::Json, "tracker/list", json!({"hash": key}))
            .await,
        ended
    );
    assert_eq!(
        app.call(Enc::Json, "api/key/delete", json!({"hash": hash}))
            .await,
        (400, invalid(&[("key", "must not be null")]))
    );
}

#[tokio::test]
async fn api_key_quota_is_over_quota_268() {
    let app = TestApp::spawn_with(|c| c.api.max_api_keys = 2).await;
    let hash = app.master().await;
    for _ in 0..2 {
        assert_eq!(
            app.call(Enc::Json, "api/key/create", json!({"hash": hash}))
                .await
                .0,
            200
        );
    }
    assert_eq!(
        app.call(Enc::Json, "api/key/create", json!({"hash": hash}))
            .await,
        (402, error(268, "Over quota"))
    );
}

#[tokio::test]
async fn sub_users_lack_admin_and_ungranted_rights() {
    let app = TestApp::spawn().await;
    app.user("alice", None, &[]).await;
    app.user("bob", Some("alice"), &["tag_update"]).await;
    let bob = app.login("bob").await;
    let denied = (403, error(13, "Operation not permitted"));
    assert_eq!(
        app.call(Enc::Json, "api/key/create", json!({"hash": bob}))
            .await,
        denied
    );
    assert_eq!(
        app.call(
            Enc::Json,
            "tracker/group/create",
            json!({"hash": bob, "title": "g", "color": "FF0000"})
        )
        .await,
        denied
    );
    // Granted right works, reads need none.
    assert_eq!(
        app.call(
            Enc::Json,
            "tag/create",
            json!({"hash": bob, "tag": {"name": "hop", "color": "FF0000"}})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.call(Enc::Json, "tracker/list", json!({"hash": bob}))
            .await
            .0,
        200
    );
    let (_, info) = app
        .call(Enc::Json, "user/get_info", json!({"hash": bob}))
        .await;
    assert_eq!(info["master"], false);
    assert_eq!(info["privileges"]["rights"], json!(["tag_update"]));
}
