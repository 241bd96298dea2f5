//! End to end: real protocol bytes over TCP, UDP and HTTP to a server on port 0; the exact
//! bytes each device gets back; the points found in the store.

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use support::devices::{
    self, closed_without_reply, exchange, expected_points, hex, offline, register,
};
use support::{Enc, TestApp};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use trackd_core::metrics::Metrics;
use trackd_core::{TrackerId, UserId};
use trackd_protocol::{Protocol, Transport};

const IMEI_FRAME: &str = "000f313233343536373839303132333435";

/// Codec 8 Extended, two records (teltonika.tsv idx 1).
fn avl_two_records() -> Vec<u8> {
    devices::capture("teltonika", 1)
}

async fn account(app: &TestApp) -> UserId {
    app.master().await;
    app.store
        .user_by_login("alice")
        .await
        .expect("read")
        .expect("alice")
        .id
}

async fn connect(app: &TestApp, protocol: Protocol, transport: Transport) -> TcpStream {
    let addr = app
        .server
        .device_addr(protocol, transport)
        .expect("listener");
    TcpStream::connect(addr).await.expect("connect")
}

async fn points(app: &TestApp, tracker: TrackerId) -> u64 {
    app.store.count_points(tracker).await.expect("count")
}

#[tokio::test]
async fn teltonika_tcp_is_acknowledged_after_commit_and_retransmissions_count_once() {
    let app = TestApp::spawn().await;
    let me = account(&app).await;
    let tracker = register(
        app.store.as_ref(),
        me,
        Protocol::Teltonika,
        "123456789012345",
    )
    .await;
    let mut device = connect(&app, Protocol::Teltonika, Transport::Tcp).await;
    assert_eq!(exchange(&mut device, &hex(IMEI_FRAME), 1).await, [0x01]);
    let avl = avl_two_records();
    assert_eq!(exchange(&mut device, &avl, 4).await, [0, 0, 0, 2]);
    // Acknowledged means committed: the points are there now.
    assert_eq!(points(&app, tracker).await, 2);
    // The device did not hear the ack and sends again: acknowledged again, stored once.
    assert_eq!(exchange(&mut device, &avl, 4).await, [0, 0, 0, 2]);
    assert_eq!(points(&app, tracker).await, 2);
    let stored = app
        .store
        .points(tracker, 0, i64::MAX, 10)
        .await
        .expect("points");
    let decoded = offline(
        Protocol::Teltonika,
        Transport::Tcp,
        true,
        &[hex(IMEI_FRAME), avl],
    );
    let times: Vec<Option<i64>> = stored.iter().map(|p| Some(p.time)).collect();
    let mut expected: Vec<Option<i64>> = decoded[1].records.iter().map(|(_, t)| *t).collect();
    expected.sort();
    assert_eq!(times, expected);
    assert!(
        stored
            .iter()
            .all(|p| p.position.is_some_and(|pos| pos.valid)),
        "{stored:?}"
    );
    let m = &app.server.metrics;
    assert_eq!(
        (
            Metrics::get(&m.points_total),
            Metrics::get(&m.duplicate_points_total)
        ),
        (2, 2)
    );
}

#[tokio::test]
async fn teltonika_udp_datagrams_are_acknowledged() {
    let app = TestApp::spawn().await;
    let me = account(&app).await;
    let tracker = register(
        app.store.as_ref(),
        me,
        Protocol::Teltonika,
        "123456789012345",
    )
    .await;
    // A UDP packet carries the same AVL data as TCP, behind a header naming the device.
    let tcp = avl_two_records();
    let avl = &tcp[8..tcp.len() - 4];
    let mut body = vec![0xca, 0xfe, 0x01, 0x05, 0x00, 0x0f];
    body.extend_from_slice(b"123456789012345");
    body.extend_from_slice(avl);
    let mut datagram = u16::try_from(body.len())
        .expect("len")
        .to_be_bytes()
        .to_vec();
    datagram.extend(body);

    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    socket
        .connect(
            app.server
                .device_addr(Protocol::Teltonika, Transport::Udp)
                .expect("udp"),
        )
        .await
        .expect("connect");
    socket.send(&datagram).await.expect("send");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(devices::DEADLINE, socket.recv(&mut buf))
        .await
        .expect("ack in time")
        .expect("recv");
    assert_eq!(&buf[..n], [0x00, 0x05, 0xca, 0xfe, 0x01, 0x05, 0x02]);
    assert_eq!(points(&app, tracker).await, 2);
}

#[tokio::test]
async fn unregistered_and_blocked_devices_are_not_stored() {
    let app = TestApp::spawn().await;
    let hash = app.master().await;
    let mut device = connect(&app, Protocol::Teltonika, Transport::Tcp).await;
    device.write_all(&hex(IMEI_FRAME)).await.expect("write");
    assert!(
        closed_without_reply(&mut device).await,
        "an unknown IMEI is not acknowledged"
    );
    assert_eq!(
        Metrics::get(&app.server.metrics.unknown_device_messages_total),
        1
    );

    let (_, reg) = app
        .call(
            Enc::Json,
            "tracker/register",
            json!({"hash": hash, "label": "T", "group_id": 0, "plugin_id": 44,
            "model": "telfmb920", "device_id": "123456789012345", "phone": "4917000000"}),
        )
        .await;
    let id = reg["value"]["id"].as_i64().expect("id");
    trackd::admin::set_blocked(app.store.as_ref(), id, true)
        .await
        .expect("block");
    let mut device = connect(&app, Protocol::Teltonika, Transport::Tcp).await;
    device.write_all(&hex(IMEI_FRAME)).await.expect("write");
    assert!(
        closed_without_reply(&mut device).await,
        "a blocked device is not acknowledged"
    );
    assert_eq!(points(&app, TrackerId(id)).await, 0);
}

#[tokio::test]
async fn wialon_login_and_data_get_their_answers() {
    let app = TestApp::spawn().await;
    let me = account(&app).await;
    let tracker = register(app.store.as_ref(), me, Protocol::Wialon, "861234567890123").await;
    let mut device = connect(&app, Protocol::Wialon, Transport::Tcp).await;
    assert_eq!(
        exchange(&mut device, b"#L#861234567890123;NA\r\n", 7).await,
        b"#AL#1\r\n"
    );
    let sd = b"#SD#220625;101500;5544.6025;N;03739.6834;E;42;180;120;9\r\n";
    assert_eq!(exchange(&mut device, sd, 8).await, b"#ASD#1\r\n");
    let stored = app
        .store
        .points(tracker, 0, i64::MAX, 10)
        .await
        .expect("points");
    assert_eq!(stored.len(), 1);
    let p = &stored[0];
    assert_eq!(p.time, 1_750_587_300_000, "2025-06-22 10:15:00 UTC");
    let pos = p.position.expect("position");
    assert!(
        (pos.lat - 55.743375).abs() < 1e-5 && (pos.lng - 37.66139).abs() < 1e-5,
        "{pos:?}"
    );
    assert_eq!(
        (pos.speed, pos.heading, pos.satellites),
        (Some(42.0), Some(180.0), Some(9))
    );
}

#[tokio::test]
async fn osmand_over_http() {
    let app = TestApp::spawn().await;
    let me = account(&app).await;
    let tracker = register(app.store.as_ref(), me, Protocol::Osmand, "777000111").await;
    let mut device = connect(&app, Protocol::Osmand, Transport::Http).await;
    let request = b"GET /?id=777000111&lat=52.52&lon=13.405&timestamp=1700000000&speed=10&batt=80 HTTP/1.1\r\nHost: trackd\r\n\r\n";
    let expected = offline(Protocol::Osmand, Transport::Http, true, &[request.to_vec()]);
    let reply = exchange(&mut device, request, expected[0].reply.len()).await;
    assert!(
        reply.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(reply, expected[0].reply);
    let stored = app
        .store
        .points(tracker, 0, i64::MAX, 10)
        .await
        .expect("points");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].time, stored[0].battery_level),
        (1_700_000_000_000, Some(80))
    );
    // Same connection, keep-alive: a second report.
    let second = b"GET /?id=777000111&lat=52.53&lon=13.405&timestamp=1700000060 HTTP/1.1\r\nHost: trackd\r\n\r\n";
    assert_eq!(exchange(&mut device, second, reply.len()).await, reply);
    assert_eq!(points(&app, tracker).await, 2);
}

/// Pipelined requests (written at once, before any answer) are committed together, then all
/// answered in order: the device waits one commit, not one per request.
#[tokio::test]
async fn osmand_pipelined_requests_share_one_commit() {
    let app = TestApp::spawn().await;
    let me = account(&app).await;
    let tracker = register(app.store.as_ref(), me, Protocol::Osmand, "777000222").await;
    let requests: Vec<Vec<u8>> = (0..5)
        .map(|i| {
            format!(
                "GET /?id=777000222&lat=52.5{i}&lon=13.405&timestamp={} HTTP/1.1\r\nHost: \
                 trackd\r\n\r\n",
                1_700_000_000 + i * 10
            )
            .into_bytes()
        })
        .collect();
    let expected = offline(Protocol::Osmand, Transport::Http, true, &requests);
    let answers: Vec<u8> = expected.iter().flat_map(|e| e.reply.clone()).collect();
    let commits = Metrics::get(&app.server.metrics.commits_total);
    let mut device = connect(&app, Protocol::Osmand, Transport::Http).await;
    let burst = requests.concat();
    assert_eq!(exchange(&mut device, &burst, answers.len()).await, answers);
    assert_eq!(points(&app, tracker).await, 5);
    assert_eq!(
        Metrics::get(&app.server.metrics.commits_total) - commits,
        1,
        "one commit for the burst"
    );
}

/// Every protocol's captures, replayed over a real socket in order, get the answers and
/// stored points that decoding them offline says they must.
#[tokio::test]
async fn every_protocol_replays_its_captures() {
    let cases = [
        (Protocol::Teltonika, Transport::Tcp, "testDecode"),
        (Protocol::Gt06, Transport::Tcp, "testDecode"),
        (Protocol::Gl200, Transport::Tcp, "testDecode"),
        (Protocol::H02, Transport::Tcp, "testDecode"),
        (Protocol::Wialon, Transport::Tcp, "testDecode"),
        (Protocol::Meitrack, Transport::Tcp, "testDecode"),
        (Protocol::Jt808, Transport::Tcp, "testDecode"),
        (Protocol::Osmand, Transport::Http, "testDecodeQuery"),
        (Protocol::Osmand, Transport::Http, "testDecodeJson"),
    ];
    for (protocol, transport, method) in cases {
        let what = format!("{} {method}", protocol.key());
        // A server per protocol: captures of different protocols reuse device IDs. Checksums
        // are relaxed: some captures were edited by hand (the decoders' own tests cover
        // rejecting them), and a refused login would stop the replay at its first capture.
        let app = TestApp::spawn_with(|c| c.gateway.strict_checksum = false).await;
        let me = account(&app).await;
        let captures = devices::group(protocol.key(), method);
        let outcomes = offline(protocol, transport, false, &captures);
        assert!(!outcomes.is_empty(), "{what}: nothing to replay");
        let mut trackers: BTreeMap<String, TrackerId> = BTreeMap::new();
        for id in outcomes.iter().flat_map(|o| o.device_ids.iter()) {
            if !trackers.contains_key(id) {
                trackers.insert(
                    id.clone(),
                    register(app.store.as_ref(), me, protocol, id).await,
                );
            }
        }
        let mut device = connect(&app, protocol, transport).await;
        for (i, (capture, expected)) in captures.iter().zip(&outcomes).enumerate() {
            let got = exchange(&mut device, capture, expected.reply.len()).await;
            if !expected.timed_reply {
                assert_eq!(got, expected.reply, "{what} capture {i}: reply");
            }
        }
        // Every answer came after its commit; the last capture may have had none, so wait for
        // the writer to settle by closing the connection and waiting for the server to see it.
        drop(device);
        let expected = expected_points(&outcomes) as u64;
        assert!(
            expected > 0,
            "{what}: the captures carry data: {outcomes:?}"
        );
        let deadline = std::time::Instant::now() + devices::DEADLINE;
        let stored = loop {
            let mut stored = 0;
            for tracker in trackers.values() {
                stored += points(&app, *tracker).await;
            }
            if stored >= expected || std::time::Instant::now() > deadline {
                break stored;
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(stored, expected, "{what}: stored points");
    }
}

#[tokio::test]
async fn late_history_is_stored_in_its_place_and_the_latest_point_only_moves_forward() {
    let app = TestApp::spawn().await;
    let me = account(&app).await;
    let tracker = register(app.store.as_ref(), me, Protocol::Wialon, "861234567890123").await;
    let mut device = connect(&app, Protocol::Wialon, Transport::Tcp).await;
    exchange(&mut device, b"#L#861234567890123;NA\r\n", 7).await;
    let live = b"#SD#220625;101500;5544.6025;N;03739.6834;E;42;180;120;9\r\n";
    assert_eq!(exchange(&mut device, live, 8).await, b"#ASD#1\r\n");
    // Black-box history from an hour earlier arrives after the live point.
    let history = b"#B#220625;091500;5544.0000;N;03739.0000;E;10;90;100;7|220625;093000;5544.1000;N;03739.1000;E;20;90;100;7\r\n";
    assert_eq!(exchange(&mut device, history, 7).await, b"#AB#2\r\n");
    let stored = app
        .store
        .points(tracker, 0, i64::MAX, 10)
        .await
        .expect("points");
    let times: Vec<i64> = stored.iter().map(|p| p.time).collect();
    assert_eq!(
        times,
        [1_750_583_700_000, 1_750_584_600_000, 1_750_587_300_000],
        "in time order, history first"
    );
    assert!(stored[0].buffered && stored[1].buffered && !stored[2].buffered);
    let latest = app
        .store
        .latest_point(tracker)
        .await
        .expect("latest")
        .expect("a point");
    assert_eq!(
        latest.time, 1_750_587_300_000,
        "the live point stays the latest"
    );
}

#[tokio::test]
async fn connection_limits_apply() {
    let app = TestApp::spawn_with(|c| {
        c.gateway.max_connections = 1;
        c.gateway.max_frame_bytes = 4096;
    })
    .await;
    let me = account(&app).await;
    register(
        app.store.as_ref(),
        me,
        Protocol::Teltonika,
        "123456789012345",
    )
    .await;
    let mut first = connect(&app, Protocol::Teltonika, Transport::Tcp).await;
    assert_eq!(exchange(&mut first, &hex(IMEI_FRAME), 1).await, [0x01]);
    // The only slot is taken: a second device is hung up on.
    let mut second = connect(&app, Protocol::Teltonika, Transport::Tcp).await;
    assert!(closed_without_reply(&mut second).await);
    assert_eq!(
        Metrics::get(&app.server.metrics.connections_refused_total),
        1
    );
    // A frame that never ends within the limit closes the connection.
    let mut endless = hex("00000000000fffff08");
    endless.resize(5000, 0);
    first.write_all(&endless).await.expect("write");
    assert!(closed_without_reply(&mut first).await);
    // The slot is free again.
    let deadline = std::time::Instant::now() + devices::DEADLINE;
    loop {
        let mut third = connect(&app, Protocol::Teltonika, Transport::Tcp).await;
        third.write_all(&hex(IMEI_FRAME)).await.expect("write");
        let mut b = [0u8; 1];
        if let Ok(Ok(1)) = tokio::time::timeout(
            devices::DEADLINE,
            tokio::io::AsyncReadExt::read(&mut third, &mut b),
        )
        .await
        {
            assert_eq!(b, [0x01]);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slot was never freed"
        );
    }
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let app = TestApp::spawn_with(|c| c.gateway.idle_timeout_secs = 1).await;
    let mut device = connect(&app, Protocol::Teltonika, Transport::Tcp).await;
    assert!(
        closed_without_reply(&mut device).await,
        "closed after a second of silence"
    );
}

#[tokio::test]
async fn metrics_are_exported() {
    let app = TestApp::spawn().await;
    let me = account(&app).await;
    register(
        app.store.as_ref(),
        me,
        Protocol::Teltonika,
        "123456789012345",
    )
    .await;
    let mut device = connect(&app, Protocol::Teltonika, Transport::Tcp).await;
    exchange(&mut device, &hex(IMEI_FRAME), 1).await;
    exchange(&mut device, &avl_two_records(), 4).await;
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(text.contains("trackd_points_total 2\n"), "{text}");
    assert!(text.contains("trackd_connections_open 1\n"), "{text}");
    assert!(
        text.contains("trackd_acks_total 2\n"),
        "the handshake and the data: {text}"
    );
}
