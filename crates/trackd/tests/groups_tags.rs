//! `tracker/group/*` and `tag/*`.

mod support;

use serde_json::json;
use support::{error, invalid, Enc, TestApp, ENCODINGS};

#[tokio::test]
async fn groups_lifecycle() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let mut ids = Vec::new();
    for (i, enc) in ENCODINGS.into_iter().enumerate() {
        let (status, body) = app
            .call(
                enc,
                "tracker/group/create",
                json!({"hash": hash, "title": format!("g{i}"), "color": "ff6ddc"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["id"].clone());
        assert_eq!(body, json!({"success": true, "id": ids[i]}));
    }
    assert_eq!(
        app.call_all("tracker/group/list", json!({"hash": hash}))
            .await,
        (
            200,
            json!({"success": true, "list": [
            {"id": ids[0], "title": "g0", "color": "FF6DDC"},
            {"id": ids[1], "title": "g1", "color": "FF6DDC"},
            {"id": ids[2], "title": "g2", "color": "FF6DDC"}]})
        )
    );
    assert_eq!(
        app.call(
            Enc::Form,
            "tracker/group/update",
            json!({"hash": hash, "id": ids[0], "title": "Vans", "color": "00FF00"})
        )
        .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.call_all(
            "tracker/group/update",
            json!({"hash": hash, "id": 999, "title": "x", "color": "00FF00"})
        )
        .await,
        (400, error(201, "Not found in database"))
    );
    assert_eq!(
        app.call_all(
            "tracker/group/create",
            json!({"hash": hash, "title": "", "color": "#00FF00"})
        )
        .await,
        (
            400,
            invalid(&[
                ("title", "size must be between 1 and 60"),
                ("color", "must be 6 hexadecimal digits")
            ])
        )
    );

    // Assign a tracker, delete its group: it falls back to group 0.
    let (_, reg) = app
        .call(
            Enc::Json,
            "tracker/register",
            json!({"hash": hash, "label": "T", "group_id": ids[0], "plugin_id": 44,
            "model": "telfmb920", "device_id": "986575154632586", "phone": "999999999969"}),
        )
        .await;
    let tid = reg["value"]["id"].clone();
    assert_eq!(reg["value"]["group_id"], ids[0]);
    assert_eq!(
        app.call(
            Enc::Query,
            "tracker/group/assign",
            json!({"hash": hash, "id": ids[1], "trackers": [tid]})
        )
        .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.call(
            Enc::Json,
            "tracker/read",
            json!({"hash": hash, "tracker_id": tid})
        )
        .await
        .1["value"]["group_id"],
        ids[1]
    );
    assert_eq!(
        app.call_all(
            "tracker/group/assign",
            json!({"hash": hash, "id": ids[1], "trackers": [tid, 77777]})
        )
        .await,
        (400, error(217, "List contains nonexistent entities"))
    );
    assert_eq!(
        app.call_all(
            "tracker/group/assign",
            json!({"hash": hash, "id": 9999, "trackers": [tid]})
        )
        .await,
        (400, error(201, "Not found in database"))
    );
    assert_eq!(
        app.call(
            Enc::Json,
            "tracker/group/delete",
            json!({"hash": hash, "id": ids[1]})
        )
        .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.call(
            Enc::Json,
            "tracker/read",
            json!({"hash": hash, "tracker_id": tid})
        )
        .await
        .1["value"]["group_id"],
        0
    );
    assert_eq!(
        app.call_all("tracker/group/delete", json!({"hash": hash, "id": ids[1]}))
            .await,
        (400, error(201, "Not found in database"))
    );
}

#[tokio::test]
async fn tags_lifecycle_and_search() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let (status, a) = app
        .call(
            Enc::Query,
            "tag/create",
            json!({"hash": hash, "tag": {"name": "hop", "color": "FF0000"}}),
        )
        .await;
    assert_eq!(status, 200, "{a}");
    let (_, b) = app
        .call(
            Enc::Form,
            "tag/create",
            json!({"hash": hash, "tag": {"name": "Hopper", "color": "00ff00"}}),
        )
        .await;
    let (_, c) = app
        .call(
            Enc::Json,
            "tag/create",
            json!({"hash": hash, "tag": "{\"name\": \"other\", \"color\": \"0000FF\"}"}),
        )
        .await;
    let all = json!({"success": true, "list": [
        {"id": a["id"], "name": "hop", "color": "FF0000"},
        {"id": b["id"], "name": "Hopper", "color": "00FF00"},
        {"id": c["id"], "name": "other", "color": "0000FF"}]});
    assert_eq!(
        app.call_all("tag/list", json!({"hash": hash})).await,
        (200, all)
    );
    assert_eq!(
        app.call_all("tag/list", json!({"hash": hash, "filter": "hop"}))
            .await
            .1["list"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        app.call_all("tag/list", json!({"hash": hash, "filter": "ho"}))
            .await,
        (400, invalid(&[("filter", "size must be between 3 and 60")]))
    );
    assert_eq!(
        app.call_all(
            "tag/create",
            json!({"hash": hash, "tag": {"name": "", "color": "red"}})
        )
        .await,
        (
            400,
            invalid(&[
                ("tag.name", "size must be between 1 and 60"),
                ("tag.color", "must be 6 hexadecimal digits")
            ])
        )
    );
    assert_eq!(
        app.call_all("tag/create", json!({"hash": hash, "tag": "nope"}))
            .await,
        (400, invalid(&[("tag", "must be an object")]))
    );

    assert_eq!(
        app.call(
            Enc::Json,
            "tag/update",
            json!({"hash": hash, "tag": {"id": a["id"], "name": "hip", "color": "FF00FF"}})
        )
        .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.call_all(
            "tag/update",
            json!({"hash": hash, "tag": {"id": 4242, "name": "x", "color": "FF00FF"}})
        )
        .await,
        (400, error(201, "Not found in database"))
    );

    let (_, reg) = app
        .call(
            Enc::Json,
            "tracker/register",
            json!({"hash": hash, "label": "T", "group_id": 0, "plugin_id": 44,
            "model": "telfmb920", "device_id": "986575154632586", "phone": "999999999969"}),
        )
        .await;
    let tid = reg["value"]["id"].clone();
    app.call(Enc::Json, "tracker/tags/set", json!({"hash": hash, "tracker_id": tid, "tag_bindings": [{"tag_id": a["id"], "ordinal": 1}, {"tag_id": b["id"], "ordinal": 2}]})).await;
    let (status, found) = app
        .call_all(
            "tag/search",
            json!({"hash": hash, "tag_ids": [a["id"], b["id"]]}),
        )
        .await;
    assert_eq!(status, 200);
    let r = &found["result"];
    assert_eq!(
        r["tracker"]
            .as_array()
            .map(|t| t.iter().map(|x| x["id"].clone()).collect::<Vec<_>>()),
        Some(vec![tid.clone()])
    );
    for empty in [
        "place",
        "task",
        "task_schedule",
        "employee",
        "vehicle",
        "zone",
    ] {
        assert_eq!(r[empty], json!([]), "{empty}");
    }
    let (_, none) = app
        .call_all(
            "tag/search",
            json!({"hash": hash, "tag_ids": [c["id"]], "entity_types": ["tracker"]}),
        )
        .await;
    assert_eq!(none, json!({"success": true, "result": {"tracker": []}}));
    assert_eq!(
        app.call_all(
            "tag/search",
            json!({"hash": hash, "tag_ids": [1], "entity_types": ["planet"]})
        )
        .await,
        (
            400,
            invalid(&[("entity_types", "unknown entity type 'planet'")])
        )
    );

    assert_eq!(
        app.call_all("tag/delete", json!({"hash": hash, "tag_id": 4242}))
            .await,
        (400, error(201, "Not found in database"))
    );
    assert_eq!(
        app.call(
            Enc::Form,
            "tag/delete",
            json!({"hash": hash, "tag_id": a["id"]})
        )
        .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.call(
            Enc::Form,
            "tag/delete",
            json!({"hash": hash, "tag_ids": [b["id"], 4242]})
        )
        .await,
        (200, json!({"success": true}))
    );
    let (_, list) = app
        .call(Enc::Json, "tracker/list", json!({"hash": hash}))
        .await;
    assert_eq!(
        list["list"][0]["tag_bindings"],
        json!([]),
        "deleting tags removes their bindings"
    );
    assert_eq!(
        app.call(Enc::Json, "tag/list", json!({"hash": hash}))
            .await
            .1["list"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}
