//! `tracker/register`, `register_quick`, `replace`, `replace_quick` and their errors.

mod support;

use serde_json::{json, Value};
use support::{error, invalid, Enc, TestApp, ENCODINGS};
use trackd::admin;

fn params(hash: &str, imei: &str, phone: &str) -> Value {
    json!({"hash": hash, "label": "T571TO", "group_id": 0, "plugin_id": 44, "model": "telfmb920",
           "phone": phone, "device_id": imei, "apn_name": "internet", "apn_user": "user", "apn_password": "passwd"})
}

#[tokio::test]
async fn register_in_every_encoding() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    for (i, enc) in ENCODINGS.into_iter().enumerate() {
        let imei = format!("98657515463258{i}");
        let phone = format!("99999999996{i}");
        let (status, body) = app
            .call(enc, "tracker/register", params(&hash, &imei, &phone))
            .await;
        assert_eq!(status, 200, "{enc:?}: {body}");
        let v = &body["value"];
        assert_eq!(
            body,
            json!({"success": true, "value": {"id": v["id"], "label": "T571TO", "clone": false, "group_id": 0,
                   "source": {"id": v["source"]["id"], "device_id": imei, "model": "telfmb920", "blocked": false,
                              "tariff_id": null, "status_listing_id": null,
                              "creation_date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
                              "tariff_end_date": null, "phone": phone},
                   "tag_bindings": []}})
        );
    }
}

#[tokio::test]
async fn register_errors() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let base = params(&hash, "986575154632586", "999999999969");
    let set = |k: &str, v: Value| support::with(&base, json!({ k: v }));

    assert_eq!(
        app.call_all("tracker/register", set("model", json!("no_such_model")))
            .await,
        (400, error(220, "Unknown device model"))
    );
    assert_eq!(
        app.call_all("tracker/register", set("plugin_id", json!(35)))
            .await,
        (400, error(222, "Plugin not found"))
    );
    assert_eq!(
        app.call_all("tracker/register", set("device_id", json!("12345")))
            .await,
        (
            400,
            invalid(&[("device_id", "must be an IMEI of 15 digits")])
        )
    );
    assert_eq!(
        app.call_all("tracker/register", set("device_id", json!("bad id!")))
            .await,
        (
            400,
            invalid(&[("device_id", "must match \"^[0-9a-zA-Z\\-]{1,64}$\"")])
        )
    );
    assert_eq!(
        app.call_all("tracker/register", set("group_id", json!(31337)))
            .await,
        (404, error(204, "Entity not found"))
    );
    assert_eq!(
        app.call_all("tracker/register", json!({"hash": hash}))
            .await,
        (
            400,
            invalid(&[
                ("label", "must not be null"),
                ("group_id", "must not be null"),
                ("model", "must not be null"),
                ("plugin_id", "must not be null")
            ])
        )
    );
    assert_eq!(
        app.call_all("tracker/register", set("phone", Value::Null))
            .await,
        (400, invalid(&[("phone", "must not be null")]))
    );
    // Plugin 37 needs an activation code; a wrong one is 227.
    assert_eq!(
        app.call_all("tracker/register", set("plugin_id", json!(37)))
            .await,
        (400, invalid(&[("activation_code", "must not be null")]))
    );
    assert_eq!(
        app.call_all(
            "tracker/register",
            support::with(&base, json!({"plugin_id": 37, "activation_code": "NOPE"}))
        )
        .await,
        (400, error(227, "Wrong activation code"))
    );

    assert_eq!(
        app.call(Enc::Json, "tracker/register", base.clone())
            .await
            .0,
        200
    );
    assert_eq!(
        app.call_all("tracker/register", set("phone", json!("999999999970")))
            .await,
        (400, error(224, "Device ID already in use"))
    );
    assert_eq!(
        app.call_all(
            "tracker/register",
            set("device_id", json!("986575154632594"))
        )
        .await,
        (400, error(223, "Phone number already in use"))
    );

    app.user("viewer", Some("alice"), &["tracker_update"]).await;
    let viewer = app.login("viewer").await;
    assert_eq!(
        app.call_all(
            "tracker/register",
            params(&viewer, "986575154632602", "999999999971")
        )
        .await,
        (403, error(13, "Operation not permitted"))
    );
}

#[tokio::test]
async fn activation_codes_are_consumed() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let code =
        admin::create_activation_code(app.store.as_ref(), Some("WELCOME".into()), 1, Some(30))
            .await
            .expect("code");
    let with_code = |imei: &str, phone: &str| {
        support::with(
            &params(&hash, imei, phone),
            json!({"plugin_id": 37, "activation_code": code}),
        )
    };
    let (status, body) = app
        .call(
            Enc::Form,
            "tracker/register",
            with_code("986575154632586", "999999999969"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let expected_end = (chrono::Utc::now().date_naive() + chrono::Days::new(30))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        body["value"]["source"]["tariff_end_date"],
        json!(expected_end)
    );
    assert_eq!(
        app.call(
            Enc::Form,
            "tracker/register",
            with_code("986575154632594", "999999999970")
        )
        .await,
        (400, error(227, "Wrong activation code"))
    );
}

#[tokio::test]
async fn device_limit_is_221() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    admin::device_limit(app.store.as_ref(), Some(Some(1)))
        .await
        .expect("limit");
    assert_eq!(
        app.call(
            Enc::Json,
            "tracker/register",
            params(&hash, "986575154632586", "999999999969")
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.call_all(
            "tracker/register",
            params(&hash, "986575154632594", "999999999970")
        )
        .await,
        (403, error(221, "Device limit exceeded"))
    );
}

#[tokio::test]
async fn register_quick_uses_a_bundle_once() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    admin::import_bundles(
        app.store.as_ref(),
        "# imei,model,phone\n356307042441013,telfmb920,79990001111,internet\n",
    )
    .await
    .expect("import");
    let quick = json!({"hash": hash, "label": "Quick", "group_id": 0, "imei": "356307042441013"});
    let (status, body) = app
        .call(Enc::Query, "tracker/register_quick", quick.clone())
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"]["source"]["device_id"], "356307042441013");
    assert_eq!(body["value"]["source"]["phone"], "79990001111");
    assert_eq!(body["value"]["label"], "Quick");
    assert_eq!(
        app.call_all("tracker/register_quick", quick).await,
        (400, error(201, "Not found in database"))
    );
    assert_eq!(
        app.call_all(
            "tracker/register_quick",
            json!({"hash": hash, "label": "Q", "group_id": 0, "imei": "000000000000000"})
        )
        .await,
        (400, error(201, "Not found in database"))
    );
}

#[tokio::test]
async fn replace_keeps_the_tracker() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let (_, first) = app
        .call(
            Enc::Json,
            "tracker/register",
            params(&hash, "986575154632586", "999999999969"),
        )
        .await;
    let id = first["value"]["id"].clone();
    let replace = json!({"hash": hash, "tracker_id": id, "model": "telfmb920", "plugin_id": 44,
                         "device_id": "986575154632594", "phone": "999999999970"});
    let (status, body) = app
        .call(Enc::Form, "tracker/replace", replace.clone())
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"]["id"], id);
    assert_eq!(body["value"]["source"]["device_id"], "986575154632594");
    assert_eq!(body["value"]["source"]["phone"], "999999999970");
    // The old device ID is free again.
    assert_eq!(
        app.call(
            Enc::Json,
            "tracker/register",
            params(&hash, "986575154632586", "999999999911")
        )
        .await
        .0,
        200
    );

    assert_eq!(
        app.call_all(
            "tracker/replace",
            support::with(&replace, json!({"tracker_id": 4040}))
        )
        .await,
        (404, error(204, "Entity not found"))
    );
    assert_eq!(
        app.call_all(
            "tracker/replace",
            support::with(&replace, json!({"device_id": "986575154632586"}))
        )
        .await,
        (400, error(224, "Device ID already in use"))
    );
    assert_eq!(
        app.call_all(
            "tracker/replace",
            support::with(&replace, json!({"model": "zzz"}))
        )
        .await,
        (400, error(220, "Unknown device model"))
    );

    admin::import_bundles(app.store.as_ref(), "356307042441013,telfmb920\n")
        .await
        .expect("import");
    let (status, body) = app
        .call(
            Enc::Json,
            "tracker/replace_quick",
            json!({"hash": hash, "tracker_id": id, "imei": "356307042441013"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["value"]["id"].clone(),
            body["value"]["source"]["device_id"].clone()
        ),
        (id.clone(), json!("356307042441013"))
    );
    assert_eq!(
        app.call_all(
            "tracker/replace_quick",
            json!({"hash": hash, "tracker_id": id, "imei": "111111111111111"})
        )
        .await,
        (400, error(201, "Not found in database"))
    );

    // A clone cannot take a new device.
    app.user("bob", None, &[]).await;
    let bob = app.login("bob").await;
    admin::clone_tracker(app.store.as_ref(), id.as_i64().expect("id"), "bob", None)
        .await
        .expect("clone");
    let (_, list) = app
        .call(Enc::Json, "tracker/list", json!({"hash": bob}))
        .await;
    let clone_id = list["list"][0]["id"].clone();
    assert_eq!(
        app.call_all(
            "tracker/replace",
            support::with(
                &replace,
                json!({"hash": bob, "tracker_id": clone_id, "device_id": "986575154632610"})
            )
        )
        .await,
        (
            403,
            error(
                266,
                "Cannot perform action for the device in current status"
            )
        )
    );
}
