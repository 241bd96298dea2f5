//! `tracker/*` management: read, list, settings, tags, phone, corrupt, delete, models, plugins.

mod support;

use serde_json::{json, Value};
use support::{error, invalid, Enc, TestApp, ENCODINGS};
use trackd::admin;

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// Registers a telfmb920 and returns its tracker object.
async fn register(app: &TestApp, hash: &str, label: &str, imei: &str, phone: &str) -> Value {
    let (status, body) = app
        .call(
            Enc::Json,
            "tracker/register",
            json!({"hash": hash, "label": label, "group_id": 0, "plugin_id": 44, "model": "telfmb920",
                   "phone": phone, "device_id": imei, "apn_name": "internet", "apn_user": "user", "apn_password": "passwd"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["value"].clone()
}

fn expected(id: &Value, source_id: &Value, label: &str, imei: &str, phone: &str) -> Value {
    json!({"id": id, "label": label, "clone": false, "group_id": 0,
           "source": {"id": source_id, "device_id": imei, "model": "telfmb920", "blocked": false, "tariff_id": null,
                      "status_listing_id": null, "creation_date": today(), "tariff_end_date": null, "phone": phone}})
}

#[tokio::test]
async fn read_and_list() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let t1 = register(&app, &hash, "Courier 1", "356307042441013", "79991234567").await;
    let t2 = register(&app, &hash, "Truck", "356307042441021", "79991234568").await;
    let mut e1 = expected(
        &t1["id"],
        &t1["source"]["id"],
        "Courier 1",
        "356307042441013",
        "79991234567",
    );
    assert_eq!(t1, support::with(&e1, json!({"tag_bindings": []})));

    let (status, body) = app
        .call_all(
            "tracker/read",
            json!({"hash": hash, "tracker_id": t1["id"]}),
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"success": true, "value": e1.clone()}))
    );

    e1["tag_bindings"] = json!([]);
    let e2 = support::with(
        &expected(
            &t2["id"],
            &t2["source"]["id"],
            "Truck",
            "356307042441021",
            "79991234568",
        ),
        json!({"tag_bindings": []}),
    );
    assert_eq!(
        app.call_all("tracker/list", json!({"hash": hash})).await,
        (200, json!({"success": true, "list": [e1.clone(), e2]}))
    );
    assert_eq!(
        app.call_all(
            "tracker/list",
            json!({"hash": hash, "labels": ["cour", "nothing"]})
        )
        .await,
        (200, json!({"success": true, "list": [e1]}))
    );

    assert_eq!(
        app.call_all("tracker/read", json!({"hash": hash, "tracker_id": 999_999}))
            .await,
        (400, error(201, "Not found in database"))
    );
    assert_eq!(
        app.call_all("tracker/read", json!({"hash": hash})).await,
        (400, invalid(&[("tracker_id", "must not be null")]))
    );

    // Another account sees none of them.
    app.user("mallory", None, &[]).await;
    let other = app.login("mallory").await;
    assert_eq!(
        app.call_all(
            "tracker/read",
            json!({"hash": other, "tracker_id": t1["id"]})
        )
        .await
        .1["status"]["code"],
        201
    );
    assert_eq!(
        app.call_all("tracker/list", json!({"hash": other})).await,
        (200, json!({"success": true, "list": []}))
    );
}

#[tokio::test]
async fn list_label_constraints() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let long = "x".repeat(61);
    for (labels, msg) in [
        (json!([]), "size must be between 1 and 1024"),
        (json!(["a", "a"]), "must not contain duplicates"),
        (json!([long]), "each label must be 1 to 60 characters"),
        (json!([""]), "each label must be 1 to 60 characters"),
        (json!(["a", null]), "must be an array of strings"),
    ] {
        assert_eq!(
            app.call_all("tracker/list", json!({"hash": hash, "labels": labels}))
                .await,
            (400, invalid(&[("labels", msg)])),
            "{labels}"
        );
    }
    let many: Vec<String> = (0..1025).map(|i| format!("l{i}")).collect();
    assert_eq!(
        app.call(
            Enc::Json,
            "tracker/list",
            json!({"hash": hash, "labels": many})
        )
        .await,
        (
            400,
            invalid(&[("labels", "size must be between 1 and 1024")])
        )
    );
}

#[tokio::test]
async fn settings_read_and_update() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let t = register(&app, &hash, "Courier", "356307042441013", "79991234567").await;
    let id = t["id"].clone();
    assert_eq!(
        app.call_all(
            "tracker/settings/read",
            json!({"hash": hash, "tracker_id": id})
        )
        .await,
        (
            200,
            json!({"success": true, "settings": {"label": "Courier", "group_id": 0}})
        )
    );
    let (_, g) = app
        .call(
            Enc::Json,
            "tracker/group/create",
            json!({"hash": hash, "title": "Fleet", "color": "ff6ddc"}),
        )
        .await;
    for (i, enc) in ENCODINGS.into_iter().enumerate() {
        let label = format!("Van {i}");
        assert_eq!(
            app.call(
                enc,
                "tracker/settings/update",
                json!({"hash": hash, "tracker_id": id, "label": label, "group_id": g["id"]})
            )
            .await,
            (200, json!({"success": true})),
            "{enc:?}"
        );
        assert_eq!(
            app.call(
                enc,
                "tracker/settings/read",
                json!({"hash": hash, "tracker_id": id})
            )
            .await
            .1["settings"],
            json!({"label": label, "group_id": g["id"]})
        );
    }
    assert_eq!(
        app.call_all(
            "tracker/settings/update",
            json!({"hash": hash, "tracker_id": id, "label": "x", "group_id": 12345})
        )
        .await,
        (404, error(204, "Entity not found"))
    );
    assert_eq!(
        app.call_all(
            "tracker/settings/update",
            json!({"hash": hash, "tracker_id": 777, "label": "x", "group_id": 0})
        )
        .await,
        (400, error(201, "Not found in database"))
    );
    assert_eq!(
        app.call_all(
            "tracker/settings/update",
            json!({"hash": hash, "tracker_id": id, "label": "<b>", "group_id": 0})
        )
        .await,
        (400, invalid(&[("label", "must not contain '<' or '>'")]))
    );
    assert_eq!(
        app.call_all(
            "tracker/settings/update",
            json!({"hash": hash, "tracker_id": id, "label": ""})
        )
        .await,
        (
            400,
            invalid(&[
                ("group_id", "must not be null"),
                ("label", "size must be between 1 and 60")
            ])
        )
    );
}

#[tokio::test]
async fn blocked_trackers_answer_208_but_stay_readable() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let t = register(&app, &hash, "Courier", "356307042441013", "79991234567").await;
    let id = t["id"].as_i64().expect("id");
    admin::set_blocked(app.store.as_ref(), id, true)
        .await
        .expect("block");
    let blocked = (403, error(208, "Device blocked"));
    assert_eq!(
        app.call_all(
            "tracker/settings/read",
            json!({"hash": hash, "tracker_id": id})
        )
        .await,
        blocked
    );
    assert_eq!(
        app.call_all(
            "tracker/change_phone",
            json!({"hash": hash, "tracker_id": id, "phone": "79990000000"})
        )
        .await,
        blocked
    );
    assert_eq!(
        app.call_all(
            "tracker/tags/set",
            json!({"hash": hash, "tracker_id": id, "tag_bindings": []})
        )
        .await,
        blocked
    );
    let (status, body) = app
        .call_all("tracker/read", json!({"hash": hash, "tracker_id": id}))
        .await;
    assert_eq!(
        (status, &body["value"]["source"]["blocked"]),
        (200, &json!(true))
    );
    admin::set_blocked(app.store.as_ref(), id, false)
        .await
        .expect("unblock");
    assert_eq!(
        app.call_all(
            "tracker/settings/read",
            json!({"hash": hash, "tracker_id": id})
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn tags_set_replaces_bindings() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let t = register(&app, &hash, "Courier", "356307042441013", "79991234567").await;
    let id = t["id"].clone();
    let (_, a) = app
        .call(
            Enc::Json,
            "tag/create",
            json!({"hash": hash, "tag": {"name": "red", "color": "FF0000"}}),
        )
        .await;
    let (_, b) = app
        .call(
            Enc::Json,
            "tag/create",
            json!({"hash": hash, "tag": {"name": "blue", "color": "0000FF"}}),
        )
        .await;
    let bindings = json!([{"tag_id": a["id"], "ordinal": 2}, {"tag_id": b["id"], "ordinal": 1}]);
    for enc in ENCODINGS {
        assert_eq!(
            app.call(
                enc,
                "tracker/tags/set",
                json!({"hash": hash, "tracker_id": id, "tag_bindings": bindings})
            )
            .await,
            (200, json!({"success": true}))
        );
    }
    // JSON text inside a JSON body, as the Navixy page's example sends it.
    let as_text = json!({"hash": hash, "tracker_id": id, "tag_bindings": bindings.to_string()});
    assert_eq!(
        app.call(Enc::Json, "tracker/tags/set", as_text).await,
        (200, json!({"success": true}))
    );
    let (_, list) = app
        .call(Enc::Json, "tracker/list", json!({"hash": hash}))
        .await;
    assert_eq!(
        list["list"][0]["tag_bindings"],
        json!([{"tag_id": b["id"], "ordinal": 1}, {"tag_id": a["id"], "ordinal": 2}])
    );

    assert_eq!(
        app.call_all("tracker/tags/set", json!({"hash": hash, "tracker_id": id, "tag_bindings": [{"tag_id": 4242, "ordinal": 1}]})).await,
        (400, error(217, "List contains nonexistent entities"))
    );
    assert_eq!(
        app.call_all("tracker/tags/set", json!({"hash": hash, "tracker_id": id, "tag_bindings": [{"tag_id": a["id"], "ordinal": 6}]})).await,
        (400, invalid(&[("tag_bindings", "ordinal must be between 1 and 5")]))
    );
    assert_eq!(
        app.call_all("tracker/tags/set", json!({"hash": hash, "tracker_id": id, "tag_bindings": [{"tag_id": a["id"], "ordinal": 1}, {"tag_id": b["id"], "ordinal": 1}]})).await,
        (400, invalid(&[("tag_bindings", "tags and ordinals must be unique")]))
    );
    assert_eq!(
        app.call(
            Enc::Json,
            "tracker/tags/set",
            json!({"hash": hash, "tracker_id": id, "tag_bindings": []})
        )
        .await
        .0,
        200
    );
    let (_, list) = app
        .call(Enc::Json, "tracker/list", json!({"hash": hash}))
        .await;
    assert_eq!(list["list"][0]["tag_bindings"], json!([]));
}

#[tokio::test]
async fn change_phone() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let t = register(&app, &hash, "Courier", "356307042441013", "79991234567").await;
    register(&app, &hash, "Other", "356307042441021", "79991234568").await;
    let id = t["id"].clone();
    assert_eq!(
        app.call(
            Enc::Form,
            "tracker/change_phone",
            json!({"hash": hash, "tracker_id": id, "phone": "79990000001", "apn_name": "m2m"})
        )
        .await,
        (200, json!({"success": true}))
    );
    let (_, read) = app
        .call(
            Enc::Json,
            "tracker/read",
            json!({"hash": hash, "tracker_id": id}),
        )
        .await;
    assert_eq!(read["value"]["source"]["phone"], "79990000001");
    assert_eq!(
        app.call_all(
            "tracker/change_phone",
            json!({"hash": hash, "tracker_id": id, "phone": "79991234568"})
        )
        .await,
        (400, error(223, "Phone number already in use"))
    );
    assert_eq!(
        app.call_all(
            "tracker/change_phone",
            json!({"hash": hash, "tracker_id": id, "phone": "+7999"})
        )
        .await,
        (
            400,
            invalid(&[(
                "phone",
                "must be 5 to 20 digits, international format without '+'"
            )])
        )
    );
    assert_eq!(
        app.call_all(
            "tracker/change_phone",
            json!({"hash": hash, "tracker_id": 5555, "phone": "79990000002"})
        )
        .await,
        (400, error(201, "Not found in database"))
    );
    assert_eq!(
        app.call_all("tracker/change_phone", json!({"hash": hash, "tracker_id": id, "phone": "79990000002", "apn_name": "a".repeat(41)})).await,
        (400, invalid(&[("apn_name", "size must be between 0 and 40")]))
    );
}

#[tokio::test]
async fn change_phone_of_a_device_without_sim_is_214() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let model = trackd_core::catalog::models()
        .iter()
        .find(|m| !m.has_phone && m.register)
        .expect("a model without a phone");
    let id_type = trackd_core::catalog::IdType::parse(&model.id_type).expect("id type");
    let device_id = match id_type {
        trackd_core::catalog::IdType::Imei => "356307042441039".to_owned(),
        trackd_core::catalog::IdType::Digits { len } => "7".repeat(len),
        trackd_core::catalog::IdType::Meid => "A1000012345678".to_owned(),
        trackd_core::catalog::IdType::Ascii { min, .. } => "d".repeat(min.max(1)),
        trackd_core::catalog::IdType::Generated { .. } => String::new(),
    };
    let (status, body) = app
        .call(Enc::Json, "tracker/register", json!({"hash": hash, "label": "App", "group_id": 0, "plugin_id": 44, "model": model.code, "device_id": device_id}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.call_all(
            "tracker/change_phone",
            json!({"hash": hash, "tracker_id": body["value"]["id"], "phone": "79990000002"})
        )
        .await,
        (
            400,
            error(
                214,
                "Requested operation or parameters are not supported by the device"
            )
        )
    );
}

#[tokio::test]
async fn corrupt_frees_the_device_id_and_phone() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let t = register(&app, &hash, "Courier", "356307042441013", "79991234567").await;
    let id = t["id"].clone();
    assert_eq!(
        app.call(
            Enc::Query,
            "tracker/corrupt",
            json!({"hash": hash, "tracker_id": id})
        )
        .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.call_all("tracker/read", json!({"hash": hash, "tracker_id": id}))
            .await,
        (400, error(201, "Not found in database"))
    );
    assert_eq!(
        app.call_all("tracker/corrupt", json!({"hash": hash, "tracker_id": id}))
            .await,
        (400, error(201, "Not found in database"))
    );
    // The same device registers again as a new tracker.
    let again = register(
        &app,
        &hash,
        "Courier again",
        "356307042441013",
        "79991234567",
    )
    .await;
    assert_ne!(again["id"], id);
}

#[tokio::test]
async fn clones_can_be_deleted_originals_cannot() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let t = register(&app, &hash, "Courier", "356307042441013", "79991234567").await;
    app.user("bob", None, &[]).await;
    let bob = app.login("bob").await;
    let id = t["id"].as_i64().expect("id");
    admin::clone_tracker(app.store.as_ref(), id, "bob", None)
        .await
        .expect("clone");
    let (_, list) = app
        .call(Enc::Json, "tracker/list", json!({"hash": bob}))
        .await;
    let clone = list["list"][0].clone();
    assert_eq!(
        (clone["clone"].clone(), clone["source"].clone()),
        (json!(true), t["source"].clone())
    );

    assert_eq!(
        app.call_all("tracker/delete", json!({"hash": hash, "tracker_id": id}))
            .await,
        (403, error(249, "Operation available for clones only"))
    );
    let denied = (403, error(219, "Not allowed for clones of the device"));
    assert_eq!(
        app.call_all(
            "tracker/change_phone",
            json!({"hash": bob, "tracker_id": clone["id"], "phone": "79990000009"})
        )
        .await,
        denied
    );
    assert_eq!(
        app.call_all(
            "tracker/corrupt",
            json!({"hash": bob, "tracker_id": clone["id"]})
        )
        .await,
        denied
    );
    assert_eq!(
        app.call(
            Enc::Form,
            "tracker/delete",
            json!({"hash": bob, "tracker_id": clone["id"]})
        )
        .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.call(Enc::Json, "tracker/list", json!({"hash": bob}))
            .await
            .1,
        json!({"success": true, "list": []})
    );
    assert_eq!(
        app.call(
            Enc::Json,
            "tracker/read",
            json!({"hash": hash, "tracker_id": id})
        )
        .await
        .0,
        200,
        "the original stays"
    );
}

#[tokio::test]
async fn writes_need_their_right() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let t = register(&app, &hash, "Courier", "356307042441013", "79991234567").await;
    app.user("viewer", Some("alice"), &[]).await;
    app.user("editor", Some("alice"), &["tracker_update"]).await;
    let viewer = app.login("viewer").await;
    let editor = app.login("editor").await;
    let params =
        |h: &str| json!({"hash": h, "tracker_id": t["id"], "label": "Renamed", "group_id": 0});
    assert_eq!(
        app.call_all("tracker/settings/update", params(&viewer))
            .await,
        (403, error(13, "Operation not permitted"))
    );
    assert_eq!(
        app.call_all("tracker/settings/update", params(&editor))
            .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.call_all(
            "tracker/corrupt",
            json!({"hash": editor, "tracker_id": t["id"]})
        )
        .await,
        (403, error(13, "Operation not permitted"))
    );
    assert_eq!(
        app.call_all(
            "tracker/read",
            json!({"hash": viewer, "tracker_id": t["id"]})
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn list_models_and_plugins() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let (status, all) = app
        .call_all("tracker/list_models", json!({"hash": hash}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        all["list"].as_array().expect("list").len(),
        trackd_core::catalog::models().len()
    );
    let (_, some) = app
        .call_all(
            "tracker/list_models",
            json!({"hash": hash, "codes": ["telfmb920", "nope"], "compact_view": true}),
        )
        .await;
    assert_eq!(
        some,
        json!({"success": true, "list": [{"id": 1001, "vendor": "Teltonika", "code": "telfmb920", "parent_code": null,
               "type": "vehicle", "name": "Teltonika FMB920", "id_type": "imei", "has_phone": true, "register": true}]})
    );
    let (_, full) = app
        .call(
            Enc::Json,
            "tracker/list_models",
            json!({"hash": hash, "codes": ["telfmb920"]}),
        )
        .await;
    let m = &full["list"][0];
    assert_eq!(
        (
            m["code"].clone(),
            m["id_type"].clone(),
            m["has_odometer"].clone()
        ),
        (json!("telfmb920"), json!("imei"), json!(true))
    );
    assert!(m["inputs"]
        .as_array()
        .is_some_and(|i| i.contains(&json!("board_voltage"))));
    assert_eq!(
        app.call_all(
            "tracker/list_models",
            json!({"hash": hash, "codes": "telfmb920"})
        )
        .await,
        (400, invalid(&[("codes", "must be an array")]))
    );

    let (_, plugins) = app.call_all("plugin/list", json!({"hash": hash})).await;
    let ids: Vec<i64> = plugins["list"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [44, 37]);
    assert_eq!(plugins["list"][0]["type"], "tracker_register");
    assert_eq!(
        plugins["list"][0]["filter"],
        json!({"exclusion": true, "values": ["navixymobile", "mobile_unknown.*"]})
    );
}
