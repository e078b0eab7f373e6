//! The sync server's ingest over real HTTP: idempotence, a crash mid-ingest, bad input.

use std::io::{Read, Write};
use std::net::TcpStream;

use e2e_tests::{Server, Site};

/// A raw HTTP/1.1 request, so tests can send anything, malformed bodies included.
fn http(url: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    let _ = stream.write_all(body);
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

fn batch_json(kiosk: &str, series: &str, events: &[(u64, &str, &str)], badge_hash: &str) -> String {
    let events: Vec<String> = events
        .iter()
        .map(|(seq, kind, at)| {
            format!(
                r#"{{"id":"0190a000-0000-7000-8000-{seq:012}","kiosk":"{kiosk}","series":"{series}","sequence":{seq},"mentor":"M-1","at":"{at}","time_zone":"America/Chicago","kind":{{"type":"{kind}"}},"source":{{"type":"badge_scan","generation":1,"provisional":false,"badge_hash":"{badge_hash}"}}}}"#
            )
        })
        .collect();
    // The kiosk's clock is right: the server compares it with its own.
    let clock = chrono::Utc::now().to_rfc3339();
    format!(
        r#"{{"protocol":1,"kiosk":"{kiosk}","kiosk_clock":"{clock}","events":[{}]}}"#,
        events.join(",")
    )
}

fn badge_hash_of_m1(site: &Site) -> String {
    let conn = rusqlite::Connection::open(site.path("server.db")).expect("open");
    conn.query_row(
        "SELECT hash FROM badges WHERE mentor = 'M-1' AND generation = 1",
        [],
        |r| r.get(0),
    )
    .expect("badge")
}

#[test]
fn the_same_batch_three_times_is_stored_once() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let kiosk = token.split('.').next().unwrap_or_default().to_owned();
    let hash = badge_hash_of_m1(&site);
    let series = "0190a000-0000-7000-8000-00000000aaaa";
    let body = batch_json(
        &kiosk,
        series,
        &[
            (1, "check_in", "2026-10-05T13:00:00Z"),
            (2, "check_out", "2026-10-05T15:00:00Z"),
        ],
        &hash,
    );
    let mut acks = Vec::new();
    for _ in 0..3 {
        let (status, ack) = http(
            &server.url,
            "POST",
            "/api/v1/events",
            Some(&token),
            body.as_bytes(),
        );
        assert_eq!(status, 200, "{ack}");
        acks.push(ack);
    }
    assert!(acks[0].contains(r#""already_stored":[]"#), "{}", acks[0]);
    assert!(
        acks[1].contains(r#""stored":[]"#) && acks[2].contains(r#""stored":[]"#),
        "{acks:?}"
    );
    assert_eq!(site.server_event_count(), 2);
    let report = site.server(&[
        "report",
        "hours",
        "--format",
        "csv",
        "--period",
        "2026-fall",
    ]);
    assert!(
        report.contains("M-1,María López,lincoln,2026-fall,2.00,"),
        "{report}"
    );
}

#[test]
fn bad_requests_get_a_clear_4xx_and_store_nothing() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let other = site.add_kiosk("back");
    let kiosk = token.split('.').next().unwrap_or_default().to_owned();
    let other_kiosk = other.split('.').next().unwrap_or_default().to_owned();
    let hash = badge_hash_of_m1(&site);
    let series = "0190a000-0000-7000-8000-00000000aaaa";
    let good = batch_json(
        &kiosk,
        series,
        &[(1, "check_in", "2026-10-05T13:00:00Z")],
        &hash,
    );
    let cases: Vec<(&str, Option<&str>, String, u16)> = vec![
        ("no token", None, good.clone(), 401),
        (
            "wrong token",
            Some("k-nope.AAAAAAAAAAAAAAAAAAAAAAAA"),
            good.clone(),
            401,
        ),
        (
            "malformed json",
            Some(&token),
            "{\"protocol\":1,".into(),
            400,
        ),
        (
            "not json at all",
            Some(&token),
            "\u{0}\u{1}garbage".into(),
            400,
        ),
        (
            "wrong protocol",
            Some(&token),
            good.replace("\"protocol\":1", "\"protocol\":99"),
            400,
        ),
        ("another kiosk's events", Some(&other), good.clone(), 403),
        (
            "bad time zone",
            Some(&token),
            good.replace("America/Chicago", "Mars/Base"),
            400,
        ),
        (
            "oversized",
            Some(&token),
            format!("{{\"pad\":\"{}\"}}", "x".repeat(5 * 1024 * 1024)),
            413,
        ),
    ];
    for (name, tok, body, expected) in cases {
        let (status, response) = http(&server.url, "POST", "/api/v1/events", tok, body.as_bytes());
        assert_eq!(status, expected, "{name}: {response}");
        if status != 413 {
            assert!(
                response.contains("\"error\""),
                "{name}: JSON error body expected, got {response}"
            );
        }
    }
    let _ = other_kiosk;
    assert_eq!(site.server_event_count(), 0);
    let (status, _) = http(&server.url, "GET", "/api/v1/roster", None, b"");
    assert_eq!(status, 401);
    let (status, _) = http(&server.url, "GET", "/nope", Some(&token), b"");
    assert_eq!(status, 404);
    // The server is still up and well after all that.
    let (status, _) = http(
        &server.url,
        "POST",
        "/api/v1/events",
        Some(&token),
        good.as_bytes(),
    );
    assert_eq!(status, 200);
}

#[test]
fn unverifiable_scans_are_set_aside_not_counted() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let kiosk = token.split('.').next().unwrap_or_default().to_owned();
    let series = "0190a000-0000-7000-8000-00000000aaaa";
    let forged = pm_shared::badge_hash("PM1:M-1:1:AAAAAAAAAAAAAAAA");
    let body = batch_json(
        &kiosk,
        series,
        &[
            (1, "check_in", "2026-10-05T13:00:00Z"),
            (2, "check_out", "2026-10-05T15:00:00Z"),
        ],
        &forged,
    );
    let (status, ack) = http(
        &server.url,
        "POST",
        "/api/v1/events",
        Some(&token),
        body.as_bytes(),
    );
    assert_eq!(status, 200);
    assert!(ack.contains("badge does not match"), "{ack}");
    assert_eq!(
        site.server_event_count(),
        2,
        "kept for review, never dropped"
    );
    let report = site.server(&[
        "report",
        "hours",
        "--format",
        "csv",
        "--period",
        "2026-fall",
    ]);
    assert!(
        report.contains("M-1,María López,lincoln,2026-fall,0.00,"),
        "{report}"
    );
}
