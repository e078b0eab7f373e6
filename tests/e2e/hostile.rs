//! Hostile kiosks, bad input and faults: the server stays up and the money stays right.

use chrono::{Duration, Utc};
use e2e_tests::upload::{at, Uploader};
use e2e_tests::{http, Server, Site};
use pm_shared::EventKind;

#[test]
fn an_instant_in_the_year_262142_is_set_aside_and_breaks_nothing() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let organizer = site.add_organizer("Olga", &["--all"]);
    let mut k = Uploader::new(&server, &token, 1);
    let far: chrono::DateTime<Utc> = "+262142-07-02T12:00:00Z".parse().expect("far instant");
    let bad = k.scan(&site, "M-1", far, EventKind::CheckIn);
    // A kiosk whose clock booted at 1970, then a good morning behind it in the same upload.
    let epoch = k.scan(
        &site,
        "M-2",
        chrono::DateTime::UNIX_EPOCH,
        EventKind::CheckIn,
    );
    let i = k.scan(&site, "M-3", at("2026-10-05", 8, 0), EventKind::CheckIn);
    let o = k.scan(
        &site,
        "M-3",
        at("2026-10-05", 10, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    let training = k.coordinator(
        "M-1",
        at("2026-10-05", 12, 0),
        EventKind::AddSession {
            category: pm_shared::HourCategory::Training,
            start: at("2026-10-05", 9, 0),
            end: Utc::now() + Duration::days(3),
            group: None,
        },
    );
    let ack = k.send(vec![bad.clone(), epoch, i, o, training]);
    assert!(ack.contains("instant_out_of_range:at"), "{ack}");
    assert!(ack.contains("instant_out_of_range:end"), "{ack}");
    assert_eq!(site.server_event_count(), 5, "kept, every one");
    for _ in 0..2 {
        let (status, _) = http(&server.url, "GET", "/api/v1/roster", Some(&token), b"");
        assert_eq!(status, 200);
        let (status, _) = http(
            &server.url,
            "GET",
            "/api/v1/reports/hours?period=all",
            Some(&organizer),
            b"",
        );
        assert_eq!(status, 200);
        let (status, csv) = http(
            &server.url,
            "GET",
            "/api/v1/reviews?format=csv",
            Some(&organizer),
            b"",
        );
        assert_eq!(status, 200);
        assert!(
            csv.contains(&bad.id.to_string()),
            "listed for review: {csv}"
        );
    }
    // The good morning behind them counts.
    let csv = site.hours_csv("2026-fall");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("M-3,") && l.contains(",2.00,")),
        "{csv}"
    );
    // It can be rejected, never accepted.
    let path = format!("/api/v1/reviews/{}", bad.id);
    let (status, _) = http(
        &server.url,
        "POST",
        &path,
        Some(&organizer),
        br#"{"action":"accept","reason":"x"}"#,
    );
    assert_eq!(status, 400);
    let (status, _) = http(
        &server.url,
        "POST",
        &path,
        Some(&organizer),
        br#"{"action":"reject","reason":"clock reset"}"#,
    );
    assert_eq!(status, 201);
    // And a restart changes nothing.
    drop(server);
    let server = Server::start(&site);
    let (status, _) = http(&server.url, "GET", "/api/v1/roster", Some(&token), b"");
    assert_eq!(status, 200);
}
