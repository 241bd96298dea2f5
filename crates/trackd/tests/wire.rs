//! The Navixy wire format: paths, the hash lookup, the envelope, parameter encodings, limits
//! and time formats.

mod support;

use serde_json::json;
use support::{error, invalid, Enc, TestApp};

#[tokio::test]
async fn unknown_calls_answer_wrong_handler() {
    let app = TestApp::spawn().await;
    for path in [
        "/v2/no/such/call",
        "/api-v2/tracker/nothing",
        "/v2/",
        "/tracker/list",
        "/",
    ] {
        let (status, body) = app
            .raw(app.client.post(format!("{}{}", app.base, path)))
            .await;
        assert_eq!((status, body), (400, error(111, "Wrong handler")), "{path}");
    }
}

#[tokio::test]
async fn both_prefixes_and_a_trailing_slash_reach_the_same_call() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let mut answers = Vec::new();
    for path in [
        "/v2/tracker/list",
        "/v2/tracker/list/",
        "/api-v2/tracker/list",
        "/api-v2/tracker/list/",
    ] {
        let req = app
            .client
            .post(format!("{}{}", app.base, path))
            .json(&json!({"hash": hash}));
        answers.push(app.raw(req).await);
    }
    for a in &answers {
        assert_eq!(a, &(200, json!({"success": true, "list": []})));
    }
}

#[tokio::test]
async fn hash_is_looked_up_in_body_then_query_then_header() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let url = format!("{}/v2/tracker/list", app.base);
    let ok = (200, json!({"success": true, "list": []}));
    let wrong = (400, error(4, "User or API key not found or session ended"));

    // Body first: a good body hash wins over a bad query hash, and the other way round.
    let req = app
        .client
        .post(format!("{url}?hash=00000000000000000000000000000000"))
        .json(&json!({"hash": hash}));
    assert_eq!(app.raw(req).await, ok);
    let req = app
        .client
        .post(format!("{url}?hash={hash}"))
        .json(&json!({"hash": "00000000000000000000000000000000"}));
    assert_eq!(app.raw(req).await, wrong);
    // Query before header.
    let req = app
        .client
        .get(format!("{url}?hash={hash}"))
        .header("Authorization", "NVX 00000000000000000000000000000000");
    assert_eq!(app.raw(req).await, ok);
    // Header alone.
    let req = app
        .client
        .get(&url)
        .header("Authorization", format!("NVX {hash}"));
    assert_eq!(app.raw(req).await, ok);
    // "NVX" without the space is not a hash at all.
    let req = app
        .client
        .get(&url)
        .header("Authorization", format!("NVX{hash}"));
    assert_eq!(app.raw(req).await, (400, error(3, "Wrong hash")));
}

#[tokio::test]
async fn missing_and_unknown_hashes() {
    let app = TestApp::spawn().await;
    for enc in support::ENCODINGS {
        assert_eq!(
            app.call(enc, "tracker/list", json!({})).await,
            (400, error(3, "Wrong hash"))
        );
        for bad in [
            "00000000000000000000000000000000",
            "short",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        ] {
            assert_eq!(
                app.call(enc, "tracker/list", json!({"hash": bad})).await,
                (400, error(4, "User or API key not found or session ended")),
                "{enc:?} {bad}"
            );
        }
    }
}

#[tokio::test]
async fn malformed_bodies_get_format_errors_not_panics() {
    let app = TestApp::spawn().await;
    let url = format!("{}/v2/user/auth", app.base);
    for (ct, body) in [
        ("application/json", "{\"login\": "),
        ("application/json", "[1, 2]"),
        ("application/json", "\u{0}\u{1}"),
        ("multipart/form-data; boundary=x", "--x--"),
    ] {
        let req = app
            .client
            .post(&url)
            .header("content-type", ct)
            .body(body.to_owned());
        assert_eq!(
            app.raw(req).await,
            (400, error(5, "Wrong request format")),
            "{ct}: {body:?}"
        );
    }
    let req = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe]);
    assert_eq!(app.raw(req).await, (400, error(5, "Wrong request format")));
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_error_9() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let big = "x".repeat(10 * 1024 * 1024);
    let req = app
        .client
        .post(format!("{}/v2/tracker/list", app.base))
        .json(&json!({"hash": hash, "pad": big}));
    assert_eq!(app.raw(req).await, (412, error(9, "Too large request")));
}

#[tokio::test]
async fn wrong_types_name_each_parameter() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    for enc in support::ENCODINGS {
        let (status, body) = app
            .call(
                enc,
                "tracker/settings/update",
                json!({"hash": hash, "tracker_id": "abc", "group_id": "1.5"}),
            )
            .await;
        assert_eq!(
            (status, body),
            (
                400,
                invalid(&[
                    ("tracker_id", "must be an integer"),
                    ("group_id", "must be an integer"),
                    ("label", "must not be null")
                ])
            ),
            "{enc:?}"
        );
    }
}

#[tokio::test]
async fn rate_limit_answers_15_with_429() {
    let app = TestApp::spawn_with(|c| c.api.rate_limit_per_second = 3).await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(app.call(Enc::Json, "no/such", json!({})).await);
    }
    assert_eq!(answers[2], (400, error(111, "Wrong handler")));
    assert_eq!(
        answers[3],
        (429, error(15, "Too many requests (rate limit exceeded)"))
    );
}

#[tokio::test]
async fn times_follow_the_users_zone_and_iso_switch() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    // API key creation dates are "now": check the shape in each format.
    let (_, plain) = app
        .call(
            Enc::Json,
            "api/key/create",
            json!({"hash": hash, "title": "a"}),
        )
        .await;
    let date = plain["value"]["create_date"]
        .as_str()
        .expect("date")
        .to_owned();
    assert!(is_plain(&date), "{date}");
    let (_, iso) = app
        .call(
            Enc::Json,
            "api/key/create",
            json!({"hash": hash, "title": "b", "iso_datetime": true}),
        )
        .await;
    let date = iso["value"]["create_date"]
        .as_str()
        .expect("date")
        .to_owned();
    assert!(is_iso_berlin(&date), "{date}");
    let req = app
        .client
        .post(format!("{}/v2/api/key/create", app.base))
        .header("NVX-ISO-DateTime", "true")
        .json(&json!({"hash": hash, "title": "c"}));
    let (_, via_header) = app.raw(req).await;
    let date = via_header["value"]["create_date"]
        .as_str()
        .expect("date")
        .to_owned();
    assert!(is_iso_berlin(&date), "{date}");
}

fn is_plain(s: &str) -> bool {
    s.len() == 19
        && s.as_bytes()[10] == b' '
        && chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok()
}

fn is_iso_berlin(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
        && (s.ends_with("+01:00") || s.ends_with("+02:00"))
}
