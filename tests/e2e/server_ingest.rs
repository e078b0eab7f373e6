//! The sync server's ingest over real HTTP: idempotence, a crash mid-ingest, bad input.

use e2e_tests::{http, kiosk_id_of, Server, Site};

fn batch_json(kiosk: &str, series: &str, events: &[(u64, &str, &str)], badge: &str) -> String {
    batch_json_for(0, kiosk, series, events, badge)
}

/// A batch whose event ids are unique per (`stream`, sequence): scans of the badge `badge`
/// (its text), each with the scan proof a kiosk that read it makes.
fn batch_json_for(
    stream: u16,
    kiosk: &str,
    series: &str,
    events: &[(u64, &str, &str)],
    badge: &str,
) -> String {
    let badge_hash = pm_shared::badge_hash(badge);
    let events: Vec<String> = events
        .iter()
        .map(|(seq, kind, at)| {
            let json = format!(
                r#"{{"id":"0190a000-0000-7000-8{stream:03x}-{seq:012}","kiosk":"{kiosk}","series":"{series}","sequence":{seq},"mentor":"M-1","at":"{at}","time_zone":"America/Chicago","kind":{{"type":"{kind}"}},"source":{{"type":"badge_scan","generation":1,"provisional":false,"badge_hash":"{badge_hash}"}}}}"#
            );
            let mut event: pm_shared::Event = serde_json::from_str(&json).expect("event");
            pm_shared::prove_scan(&mut event, badge);
            serde_json::to_string(&event).expect("json")
        })
        .collect();
    // The kiosk's clock is right: the server compares it with its own.
    let clock = chrono::Utc::now().to_rfc3339();
    format!(
        r#"{{"protocol":3,"kiosk":"{kiosk}","kiosk_clock":"{clock}","events":[{}]}}"#,
        events.join(",")
    )
}

/// M-1's badge text.
fn badge_of_m1(site: &Site) -> String {
    e2e_tests::upload::badge_of(site, "M-1").0
}

#[test]
fn the_same_batch_three_times_is_stored_once() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let kiosk = kiosk_id_of(&token);
    let badge = badge_of_m1(&site);
    let series = "0190a000-0000-7000-8000-00000000aaaa";
    let body = batch_json(
        &kiosk,
        series,
        &[
            (1, "check_in", "2026-10-05T13:00:00Z"),
            (2, "check_out", "2026-10-05T15:00:00Z"),
        ],
        &badge,
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
    let report = site.hours_csv("2026-fall");
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
    let kiosk = kiosk_id_of(&token);
    let other_kiosk = kiosk_id_of(&other);
    let badge = badge_of_m1(&site);
    let series = "0190a000-0000-7000-8000-00000000aaaa";
    let good = batch_json(
        &kiosk,
        series,
        &[(1, "check_in", "2026-10-05T13:00:00Z")],
        &badge,
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
            good.replace("\"protocol\":3", "\"protocol\":99"),
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
    let kiosk = kiosk_id_of(&token);
    let series = "0190a000-0000-7000-8000-00000000aaaa";
    let forged = "PM1:M-1:1:AAAAAAAAAAAAAAAA";
    let body = batch_json(
        &kiosk,
        series,
        &[
            (1, "check_in", "2026-10-05T13:00:00Z"),
            (2, "check_out", "2026-10-05T15:00:00Z"),
        ],
        forged,
    );
    let (status, ack) = http(
        &server.url,
        "POST",
        "/api/v1/events",
        Some(&token),
        body.as_bytes(),
    );
    assert_eq!(status, 200);
    assert!(
        e2e_tests::upload::server_reasons(&site, &ack).contains("badge_mismatch"),
        "{ack}"
    );
    assert_eq!(
        site.server_event_count(),
        2,
        "kept for review, never dropped"
    );
    let report = site.hours_csv("2026-fall");
    assert!(
        report.contains("M-1,María López,lincoln,2026-fall,0.00,"),
        "{report}"
    );
}

/// `count` alternating check-ins and check-outs of M-1, a minute apart, in batches of 500.
fn batches(stream: u16, kiosk: &str, count: u64, badge: &str) -> Vec<String> {
    let series = format!("0190a000-0000-7000-8000-{:012}", 1_000 + u64::from(stream));
    let start = chrono::DateTime::parse_from_rfc3339("2026-09-01T13:00:00Z").expect("start");
    let events: Vec<(u64, &str, String)> = (1..=count)
        .map(|seq| {
            let at = (start + chrono::Duration::minutes(seq as i64)).to_rfc3339();
            (
                seq,
                if seq % 2 == 1 {
                    "check_in"
                } else {
                    "check_out"
                },
                at,
            )
        })
        .collect();
    events
        .chunks(500)
        .map(|chunk| {
            let refs: Vec<(u64, &str, &str)> =
                chunk.iter().map(|(s, k, a)| (*s, *k, a.as_str())).collect();
            batch_json_for(stream, kiosk, &series, &refs, badge)
        })
        .collect()
}

#[test]
fn sigkill_in_the_middle_of_ingest_then_a_resend_stores_every_event_once() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let kiosk = kiosk_id_of(&token);
    let badge = badge_of_m1(&site);
    let all = batches(1, &kiosk, 60_000, &badge);
    let url = server.url.clone();
    let addr = server.listen_addr();
    // Send from another thread; kill the server while it works.
    let sender = {
        let all = all.clone();
        let token = token.clone();
        std::thread::spawn(move || {
            for body in &all {
                // The kill may land between two requests: a refused connection ends it too.
                let sent = e2e_tests::try_http(
                    &url,
                    "POST",
                    "/api/v1/events",
                    Some(&token),
                    body.as_bytes(),
                );
                if !matches!(sent, Ok((200, _))) {
                    break;
                }
            }
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while site.server_event_count() < 1_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server stored nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.kill();
    sender.join().expect("sender");
    let after_crash = site.server_event_count();
    assert!(
        after_crash < 60_000,
        "killed mid-ingest ({after_crash} stored)"
    );

    let server = Server::start_on(&site, &addr);
    for body in &all {
        let (status, ack) = http(
            &server.url,
            "POST",
            "/api/v1/events",
            Some(&token),
            body.as_bytes(),
        );
        assert_eq!(status, 200, "{ack}");
    }
    assert_eq!(site.server_event_count(), 60_000);
    if !sync_server::db::is_postgres_url(&site.db) {
        let ok = site.open_db().integrity_check().expect("check");
        assert_eq!(ok, "ok");
    }
    let distinct: i64 = site.scalar(
        "SELECT COUNT(*) FROM (SELECT DISTINCT kiosk, series, sequence FROM events) AS k",
        &[],
    );
    assert_eq!(distinct, 60_000);
}

#[test]
fn twenty_kiosks_sending_five_thousand_events_each_at_once() {
    let site = Site::new();
    let server = Server::start(&site);
    let badge = badge_of_m1(&site);
    let senders: Vec<_> = (0..20u16)
        .map(|i| {
            let token = site.add_kiosk(&format!("kiosk-{i}"));
            let kiosk = kiosk_id_of(&token);
            let all = batches(i + 1, &kiosk, 5_000, &badge);
            let url = server.url.clone();
            std::thread::spawn(move || {
                for body in &all {
                    let (status, ack) = http(
                        &url,
                        "POST",
                        "/api/v1/events",
                        Some(&token),
                        body.as_bytes(),
                    );
                    assert_eq!(status, 200, "{ack}");
                }
            })
        })
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    assert_eq!(site.server_event_count(), 100_000);
    let distinct: i64 = site.scalar("SELECT COUNT(DISTINCT id) FROM events", &[]);
    assert_eq!(distinct, 100_000);
}

#[test]
fn organizers_see_only_their_schools_and_record_payments() {
    let site = Site::new();
    site.server(&[
        "school",
        "add",
        "--id",
        "jefferson",
        "--name",
        "Jefferson",
        "--timezone",
        "America/Chicago",
    ]);
    std::fs::write(
        site.path("j.csv"),
        "id,name,school,language\nJ-1,Jo Park,jefferson,en\n",
    )
    .expect("csv");
    site.server(&["mentor", "import", "j.csv"]);
    let server = Server::start(&site);
    let lincoln = site.add_organizer("Ana", &["--school", "lincoln"]);
    let everyone = site.add_organizer("Bea", &["--all"]);

    let (status, body) = http(
        &server.url,
        "GET",
        "/api/v1/reports/hours?format=json",
        Some(&lincoln),
        b"",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("M-1") && !body.contains("J-1"), "{body}");
    let (status, _) = http(
        &server.url,
        "GET",
        "/api/v1/reports/hours?school=jefferson",
        Some(&lincoln),
        b"",
    );
    assert_eq!(status, 403);
    let (status, body) = http(
        &server.url,
        "GET",
        "/api/v1/reports/hours?format=csv&period=2026-fall",
        Some(&everyone),
        b"",
    );
    assert_eq!(status, 200);
    assert!(
        body.starts_with("mentor_id,mentor_name,school_id,period,hours,"),
        "{body}"
    );
    assert!(body.contains("J-1") && body.contains("M-1"), "{body}");
    let (status, _) = http(
        &server.url,
        "GET",
        "/api/v1/reports/hours",
        Some(&token_of_kiosk(&site)),
        b"",
    );
    assert_eq!(status, 401, "a kiosk token is not an organizer token");

    let pay = |token: &str, body: &str| {
        http(
            &server.url,
            "POST",
            "/api/v1/stipends",
            Some(token),
            body.as_bytes(),
        )
        .0
    };
    let payment = r#"{"mentor":"M-1","period":"2026-fall","amount":"600.00","paid_on":"2026-12-01","reference":"CHK-1001"}"#;
    assert_eq!(
        pay(&lincoln, payment),
        409,
        "she has not reached the threshold"
    );
    let payment = r#"{"mentor":"M-1","period":"2026-fall","amount":"600.00","paid_on":"2026-12-01","reference":"CHK-1001","not_eligible":true}"#;
    assert_eq!(pay(&lincoln, payment), 201, "an exception, said so");
    assert_eq!(
        pay(&lincoln, payment),
        409,
        "a second payment for the same period"
    );
    assert_eq!(
        pay(&lincoln, &payment.replace("M-1", "J-1")),
        403,
        "not her school"
    );
    assert_eq!(
        pay(&lincoln, &payment.replace("600.00", "six hundred")),
        400
    );
    assert_eq!(pay(&lincoln, &payment.replace("2026-fall", "fall")), 400);
    let report = site.server(&[
        "report",
        "hours",
        "--format",
        "csv",
        "--school",
        "lincoln",
        "--period",
        "2026-fall",
    ]);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("M-1,") && l.contains(",2026-12-01,")),
        "{report}"
    );
    site.server(&[
        "stipend",
        "paid",
        "--mentor",
        "J-1",
        "--period",
        "2026-fall",
        "--amount",
        "500",
        "--reference",
        "T-9",
        "--on",
        "2026-12-02",
        "--not-eligible",
    ]);
    let report = site.server(&[
        "report",
        "hours",
        "--format",
        "csv",
        "--school",
        "jefferson",
        "--period",
        "2026-fall",
    ]);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("J-1,") && l.contains(",2026-12-02,")),
        "{report}"
    );

    site.server(&["organizer", "revoke", "Ana"]);
    let (status, _) = http(
        &server.url,
        "GET",
        "/api/v1/reports/hours",
        Some(&lincoln),
        b"",
    );
    assert_eq!(status, 401);
}

fn token_of_kiosk(site: &Site) -> String {
    site.add_kiosk("any")
}

#[test]
fn an_online_backup_restores_to_the_same_report() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let kiosk = kiosk_id_of(&token);
    let badge = badge_of_m1(&site);
    for body in batches(1, &kiosk, 1_000, &badge) {
        assert_eq!(
            http(
                &server.url,
                "POST",
                "/api/v1/events",
                Some(&token),
                body.as_bytes()
            )
            .0,
            200
        );
    }
    site.server(&["backup", "--out", "backup.db"]);
    let report = |db: &str| {
        e2e_tests::ok(
            "sync-server",
            &[
                "--db",
                db,
                "report",
                "hours",
                "--format",
                "json",
                "--period",
                "2026-fall",
            ],
            site.dir.path(),
        )
    };
    let original = report("server.db");
    assert!(original.contains("\"sessions\""), "{original}");
    drop(server);
    e2e_tests::ok(
        "sync-server",
        &["--db", "restored.db", "restore", "--from", "backup.db"],
        site.dir.path(),
    );
    assert_eq!(report("restored.db"), original);
    let again = e2e_tests::run(
        "sync-server",
        &["--db", site.db.as_str(), "backup", "--out", "backup.db"],
        site.dir.path(),
    );
    assert!(
        !again.status.success(),
        "never overwrites an existing backup"
    );
}

#[test]
fn coordinator_pins_are_stored_hashed_and_reach_the_kiosk() {
    let site = Site::new();
    let out = e2e_tests::run(
        "sync-server",
        &[
            "--db",
            site.db.as_str(),
            "coordinator",
            "add",
            "--school",
            "lincoln",
            "--name",
            "Carmen",
            "--pin",
            "1234",
        ],
        site.dir.path(),
    );
    assert!(!out.status.success(), "a 4-digit PIN is refused");
    // Eight digits at least for a new PIN, and none anyone would try first.
    for pin in ["482913", "00000000", "12345678", "87654321"] {
        let out = e2e_tests::run(
            "sync-server",
            &[
                "--db",
                site.db.as_str(),
                "coordinator",
                "add",
                "--school",
                "lincoln",
                "--name",
                "Carmen",
                "--pin",
                pin,
            ],
            site.dir.path(),
        );
        assert!(!out.status.success(), "{pin} is refused");
    }
    site.add_coordinator("lincoln", "Carmen", "48291375");
    if sync_server::db::is_postgres_url(&site.db) {
        let stored: Vec<String> = site.column(
            "SELECT school || name || pin_hash FROM coordinators UNION ALL
             SELECT school || name || from_at FROM coordinator_terms",
            &[],
        );
        assert!(
            !stored.is_empty() && stored.iter().all(|row| !row.contains("48291375")),
            "the PIN itself is not stored: {stored:?}"
        );
    } else {
        let raw = std::fs::read(site.path("server.db")).expect("read db");
        assert!(
            !raw.windows(8).any(|w| w == b"48291375"),
            "the PIN itself is not stored"
        );
    }
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    e2e_tests::ok(
        "kiosk",
        &[
            "--data",
            "k",
            "setup",
            "--server",
            &server.url,
            "--token",
            &token,
        ],
        site.dir.path(),
    );
    e2e_tests::ok("kiosk", &["--data", "k", "sync", "--once"], site.dir.path());
    let store = kiosk::open_store(&site.path("k"), chrono::Utc::now()).expect("store");
    let roster = store.roster().expect("roster").expect("pulled").roster;
    assert_eq!(roster.coordinators.len(), 1);
    assert!(pm_shared::verify_pin(
        "48291375",
        &roster.coordinators[0].pin_hash
    ));
    assert!(!pm_shared::verify_pin(
        "48291376",
        &roster.coordinators[0].pin_hash
    ));
}

#[test]
fn the_server_speaks_tls_with_a_certificate_and_plain_http_only_on_loopback() {
    let site = Site::new();
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("self-signed cert");
    std::fs::write(site.path("cert.pem"), cert.pem()).expect("cert");
    std::fs::write(site.path("key.pem"), signing_key.serialize_pem()).expect("key");
    let server = Server::start_with(
        &site,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ],
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let port = server.url.rsplit(':').next().unwrap_or_default().to_owned();
    let token = site.add_kiosk("front");

    let roots = ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
        ureq::tls::Certificate::from_der(cert.der()).to_owned(),
    ]));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&format!("https://localhost:{port}/api/v1/roster"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("https request");
    assert_eq!(response.status().as_u16(), 200);
    // Browsers are told to use HTTPS from now on.
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("max-age=")),
        "{:?}",
        response.headers()
    );
    let body = response.body_mut().read_to_string().expect("body");
    assert!(body.contains("Lincoln Elementary"), "{body}");

    // Plain HTTP to the TLS port gets no API answer.
    let (status, _) = http(
        &format!("http://127.0.0.1:{port}"),
        "GET",
        "/api/v1/roster",
        Some(&token),
        b"",
    );
    assert_ne!(status, 200);

    // Without a certificate, only loopback addresses are served.
    let out = e2e_tests::run(
        "sync-server",
        &["--db", site.db.as_str(), "serve", "--listen", "0.0.0.0:0"],
        site.dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only on a loopback address"));
}

#[test]
fn random_and_hostile_requests_never_get_a_5xx_or_stop_the_server() {
    let site = Site::new();
    let server = Server::start(&site);
    let kiosk = site.add_kiosk("front");
    let organizer = site.add_organizer("Ana", &["--all"]);
    let good = batch_json(
        kiosk.split('.').next().unwrap_or_default(),
        "0190a000-0000-7000-8000-00000000aaaa",
        &[(1, "check_in", "2026-10-05T13:00:00Z")],
        &badge_of_m1(&site),
    );
    // Deterministic garbage: truncations and byte flips of a good batch, and random bytes.
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..120 {
        let mut b = good.clone().into_bytes();
        match i % 4 {
            0 => b.truncate((next() as usize) % b.len()),
            1 => {
                for _ in 0..3 {
                    let at = (next() as usize) % b.len();
                    b[at] = next() as u8;
                }
            }
            2 => b = (0..(next() % 300)).map(|_| next() as u8).collect(),
            _ => {
                let text = String::from_utf8_lossy(&b)
                    .replace("check_in", ["null", "[]", "{}", "\"\"", "1e999"][i % 5]);
                b = text.into_bytes();
            }
        }
        bodies.push(b);
    }
    let paths = [
        ("POST", "/api/v1/events", Some(kiosk.as_str())),
        ("POST", "/api/v1/stipends", Some(organizer.as_str())),
        ("GET", "/api/v1/roster?since=%00%ff", Some(kiosk.as_str())),
        (
            "GET",
            "/api/v1/reports/hours?format=xml&period=;DROP",
            Some(organizer.as_str()),
        ),
        (
            "GET",
            "/api/v1/reports/hours?school=../../etc",
            Some(organizer.as_str()),
        ),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let (method, path, token) = paths[i % paths.len()];
        let (status, response) = http(&server.url, method, path, token, body);
        assert!(
            (200..500).contains(&status),
            "{method} {path} with body #{i} got {status}: {response}"
        );
    }
    // Still up, still correct.
    let (status, _) = http(
        &server.url,
        "POST",
        "/api/v1/events",
        Some(&kiosk),
        good.as_bytes(),
    );
    assert_eq!(status, 200);
    let db = site.open_db();
    if sync_server::db::is_postgres_url(&site.db) {
        db.ready().expect("ready");
    } else {
        assert_eq!(db.integrity_check().expect("check"), "ok");
    }
}

/// One upload with the same id twice, once in a forged copy under numbers that already name
/// another stored event: the real one is stored once, under its own numbers, acknowledged as
/// stored (not with the copy's verdict), and her totals are marked to be computed again.
#[test]
fn one_id_twice_in_a_batch_under_other_numbers_is_stored_once_as_itself() {
    use e2e_tests::upload::{at, Uploader};
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &token, 1);
    let first = k.scan(
        &site,
        "M-1",
        at("2026-10-05", 8, 0),
        pm_shared::EventKind::CheckIn,
    );
    k.send(vec![first.clone()]);
    let changed = |mentor: &str| -> i64 {
        site.scalar(
            "SELECT COALESCE((SELECT changed FROM mentor_totals_state WHERE mentor = ?1), 0)",
            &[mentor],
        )
    };
    let before = changed("M-2");
    let second = k.scan(
        &site,
        "M-2",
        at("2026-10-05", 9, 0),
        pm_shared::EventKind::CheckIn,
    );
    // A hostile copy: another mentor (its proof no longer holds) under the first's numbers.
    let mut copy = second.clone();
    copy.sequence = first.sequence;
    copy.mentor = Some(pm_shared::MentorId::new("M-1").expect("id"));
    let ack: serde_json::Value =
        serde_json::from_str(&k.send(vec![copy, second.clone()])).expect("ack");
    let id = second.id.to_string();
    assert_eq!(ack["stored"], serde_json::json!([id]), "{ack}");
    assert_eq!(ack["set_aside"], serde_json::json!([]), "{ack}");
    let rows: Vec<i64> = site.column("SELECT sequence FROM events WHERE id = ?1", &[&id]);
    assert_eq!(rows, [i64::try_from(second.sequence).expect("small")]);
    assert!(changed("M-2") > before, "her totals are computed again");
}
