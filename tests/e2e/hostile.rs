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
    assert!(
        e2e_tests::upload::server_reasons(&site, &ack).contains("instant_out_of_range:at"),
        "{ack}"
    );
    assert!(
        e2e_tests::upload::server_reasons(&site, &ack).contains("instant_out_of_range:end"),
        "{ack}"
    );
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

#[test]
fn coordinator_entries_are_checked_listed_and_voidable() {
    let site = Site::new();
    let server = Server::start(&site);
    site.add_coordinator("lincoln", "Ms. Rivera", "24681357");
    let token = site.add_kiosk("front");
    let olga = site.add_organizer("Olga", &["--all"]);
    let mut k = Uploader::new(&server, &token, 1);
    let now = Utc::now();
    let training = |start: chrono::DateTime<Utc>, hours: i64| EventKind::AddSession {
        category: pm_shared::HourCategory::Training,
        start,
        end: start + Duration::hours(hours),
        group: None,
    };
    // Two school days ago at 10:00 in Chicago (a UTC instant could fall late in the evening
    // there, and a training from it run past midnight).
    let two_days_ago = e2e_tests::upload::chicago_today() - Duration::days(2);
    let day = at(&two_days_ago.to_string(), 10, 0);
    let good = k.coordinator("M-1", Utc::now(), training(day, 2));
    let too_long = k.coordinator("M-2", Utc::now(), training(day, 9));
    let too_old = k.coordinator("M-3", Utc::now(), training(now - Duration::days(30), 2));
    let future = k.coordinator("M-3", Utc::now(), training(now + Duration::hours(2), 1));
    let mut forged = k.coordinator("M-2", Utc::now(), training(day, 1));
    forged.source = pm_shared::Source::Coordinator {
        coordinator: "Nobody".into(),
        reason: "trust me".into(),
    };
    let mut approve = k.coordinator("M-2", Utc::now(), EventKind::approve(good.id));
    approve.source = pm_shared::Source::Coordinator {
        coordinator: "Ms. Rivera".into(),
        reason: "x".into(),
    };
    let mut wordy = k.coordinator("M-2", Utc::now(), training(day, 1));
    wordy.source = pm_shared::Source::Coordinator {
        coordinator: "Ms. Rivera".into(),
        reason: "x".repeat(201),
    };
    // A NUL inside a name: stored and set aside on either engine (PostgreSQL cannot hold one
    // in a text column), never a refused batch that would block the kiosk.
    let mut unreadable = k.coordinator("M-2", Utc::now(), training(day, 1));
    unreadable.source = pm_shared::Source::Coordinator {
        coordinator: "Ms. Rivera\0".into(),
        reason: "fix".into(),
    };
    let ack = k.send(vec![
        good.clone(),
        too_long,
        too_old,
        future,
        forged,
        approve,
        wordy,
        unreadable,
    ]);
    for code in [
        "over_cap",
        "too_old",
        "in_the_future",
        "not_a_coordinator",
        "organizer_only",
        "text_too_long",
        "text_unreadable",
    ] {
        assert!(
            e2e_tests::upload::server_reasons(&site, &ack).contains(code),
            "{code} in {ack}"
        );
    }
    assert!(
        ack.contains(&format!("\"stored\":[\"{}\"]", good.id)),
        "{ack}"
    );

    // She leaves: her PIN is gone from the roster, and what a kiosk enters in her name later is
    // set aside.
    site.server(&[
        "coordinator",
        "remove",
        "--school",
        "lincoln",
        "--name",
        "Ms. Rivera",
    ]);
    let (_, roster) = http(
        &server.url,
        "GET",
        "/api/v1/roster?protocol=2",
        Some(&token),
        b"",
    );
    assert!(roster.contains(r#""coordinators":[]"#), "{roster}");
    let late = k.coordinator("M-1", Utc::now(), training(day + Duration::hours(3), 1));
    let ack = k.send(vec![late]);
    assert!(
        e2e_tests::upload::server_reasons(&site, &ack).contains("not_a_coordinator"),
        "{ack}"
    );

    // The organizer sees every entry, and voids the one that should not count.
    let (status, csv) = http(
        &server.url,
        "GET",
        "/api/v1/coordinator-entries?format=csv",
        Some(&olga),
        b"",
    );
    assert_eq!(status, 200);
    assert!(csv.starts_with("entry,at,school_id,kiosk,coordinator,reason,mentor_id,mentor_name,action,details,set_aside_reason"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 9, "{csv}");
    assert!(
        csv.contains("Nobody") && csv.contains("not_a_coordinator"),
        "{csv}"
    );
    assert!(
        csv.contains("Ms. Rivera\u{fffd},fix,") && !csv.contains('\0'),
        "{csv}"
    );
    let before = site.server(&["report", "hours", "--format", "csv", "--period", "all"]);
    assert!(
        before
            .lines()
            .any(|l| l.starts_with("M-1,") && l.contains(",2.00,")),
        "{before}"
    );
    let (status, body) = http(
        &server.url,
        "POST",
        &format!("/api/v1/reviews/{}", good.id),
        Some(&olga),
        br#"{"action":"void","reason":"no training that day"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let after = site.server(&["report", "hours", "--format", "csv", "--period", "all"]);
    assert!(
        !after
            .lines()
            .any(|l| l.starts_with("M-1,") && l.contains(",2.00,")),
        "{after}"
    );
}

#[test]
fn pins_and_tokens_can_come_from_standard_input_and_secrets_are_private() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    let server = Server::start(&site);
    let mut child = std::process::Command::new(e2e_tests::workspace_binary("sync-server"))
        .args([
            "--db",
            site.db.as_str(),
            "coordinator",
            "add",
            "--school",
            "lincoln",
            "--name",
            "Ana",
            "--pin",
            "-",
        ])
        .current_dir(site.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"13572468\n")
        .expect("pin");
    assert!(child.wait().expect("wait").success());
    let token = site.add_kiosk("front");
    let mut child = std::process::Command::new(e2e_tests::workspace_binary("kiosk"))
        .args([
            "--data",
            "kiosk-a",
            "setup",
            "--server",
            &server.url,
            "--token",
            "-",
        ])
        .current_dir(site.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{token}\n").as_bytes())
        .expect("token");
    assert!(child.wait().expect("wait").success());
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    // The server's files, when it keeps them (PostgreSQL keeps its own, with its own rights).
    let mut files = vec!["kiosk-a/kiosk.db", "kiosk-a/config.json"];
    if !sync_server::db::is_postgres_url(&site.db) {
        site.server(&["backup", "--out", "backup.db"]);
        files.extend(["server.db", "backup.db"]);
    }
    for file in files {
        let mode = std::fs::metadata(site.path(file))
            .expect(file)
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file} is {mode:o}");
    }
    // The PIN that came through standard input is the one the kiosk checks.
    let config = std::fs::read_to_string(site.path("kiosk-a/config.json")).expect("config");
    assert!(config.contains(&token));
    let conn = rusqlite::Connection::open(site.path("kiosk-a/kiosk.db")).expect("db");
    let roster: String = conn
        .query_row("SELECT body FROM roster", [], |r| r.get(0))
        .expect("roster");
    let hash = roster
        .split("\"pin_hash\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a pin hash");
    assert!(pm_shared::verify_pin("13572468", hash));
}

#[test]
fn spreadsheets_never_run_a_name_and_a_reimport_never_reactivates_quietly() {
    let site = Site::new();
    std::fs::write(
        site.path("more.csv"),
        "id,name,school,language\nM-7,\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",lincoln,en\nM-8,@SUM(A1),lincoln,es\n",
    )
    .expect("csv");
    site.server(&["mentor", "import", "more.csv"]);
    let csv = site.server(&["report", "hours", "--format", "csv"]);
    assert!(
        csv.contains(r#""'=HYPERLINK(""http://x"",""y"")""#),
        "the formula is text: {csv}"
    );
    assert!(csv.contains(",'@SUM(A1),"), "{csv}");

    site.server(&["mentor", "deactivate", "M-7"]);
    site.server(&["mentor", "import", "more.csv"]);
    let active = || -> bool { site.scalar("SELECT active FROM mentors WHERE id = 'M-7'", &[]) };
    assert!(!active(), "a re-import leaves her deactivated");
    site.server(&["mentor", "import", "more.csv", "--reactivate"]);
    assert!(active(), "unless told to reactivate");
}

#[test]
fn a_badge_reissued_after_the_last_roster_pull_is_provisional_not_forged() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    site.kiosk_ok(
        "kiosk-a",
        &["setup", "--server", &server.url, "--token", &token],
    );
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    // Her badge is lost and reissued; this kiosk has not pulled the roster since.
    site.server(&["badges", "--out", "badges", "--mentor", "M-1", "--reissue"]);
    let script = site.script(
        "new-badge.csv",
        &[("2026-10-05T08:00:00-05:00", "badges/M-1.png")],
    );
    let out = site.kiosk_ok("kiosk-a", &["replay", &script]);
    assert!(out.contains("checked-in M-1"), "{out}");
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    // The server knows the new badge: verified, stored, not set aside.
    let rows = site.query(
        "SELECT badge_verified, set_aside_reason FROM events WHERE mentor = 'M-1'",
        &[],
    );
    let scan = rows.first().expect("the scan");
    let (verified, aside): (bool, Option<String>) =
        (scan.get(0).expect("flag"), scan.get(1).expect("reason"));
    assert!(verified && aside.is_none(), "{verified} {aside:?}");
}

#[test]
fn a_move_entered_late_lets_her_new_school_hours_count_and_kiosks_stay_in_their_lane() {
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
    let server = Server::start(&site);
    let lincoln = site.add_kiosk("front");
    let out = site.server(&["kiosk", "add", "--school", "jefferson", "--name", "j"]);
    let jefferson = out.lines().last().unwrap_or_default().trim().to_owned();
    let olga = site.add_organizer("Olga", &["--all"]);
    // She has been coming to Jefferson since Oct 1; the organizer enters the move on Oct 10.
    let mut j = Uploader::new(&server, &jefferson, 2);
    let i = j.scan(&site, "M-1", at("2026-10-02", 8, 0), EventKind::CheckIn);
    let o = j.scan(
        &site,
        "M-1",
        at("2026-10-02", 10, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    let ack = j.send(vec![i.clone(), o]);
    // Her own badge at another school's kiosk is a visit: it counts where she was.
    assert!(
        !e2e_tests::upload::server_reasons(&site, &ack).contains("not_at_school"),
        "{ack}"
    );
    site.server(&[
        "mentor",
        "move",
        "M-1",
        "--school",
        "jefferson",
        "--from",
        "2026-10-01",
    ]);
    let csv = site.hours_csv("2026-fall");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("M-1,") && l.contains(",jefferson,2026-fall,2.00,")),
        "{csv}"
    );

    // A kiosk stays in its lane: Jefferson's coordinator cannot void what M-1 did at Lincoln
    // before her move, and Lincoln's cannot undo an organizer's decision.
    site.add_coordinator("jefferson", "Ms. Vega", "24681357");
    site.add_coordinator("lincoln", "Ms. Rivera", "13579024");
    let mut l = Uploader::new(&server, &lincoln, 1);
    let before = l.scan(&site, "M-1", at("2026-09-15", 8, 0), EventKind::CheckIn);
    let ann = l.scan(&site, "M-2", at("2026-10-05", 8, 0), EventKind::CheckIn);
    let ann_out = l.scan(
        &site,
        "M-2",
        at("2026-10-05", 16, 30),
        EventKind::CheckOut {
            check_in: Some(ann.id),
        },
    );
    l.send(vec![before.clone(), ann.clone(), ann_out]);
    let (status, body) = http(
        &server.url,
        "POST",
        &format!("/api/v1/reviews/{}", ann.id),
        Some(&olga),
        br#"{"action":"set_times","end":"2026-10-05T10:00:00-05:00","reason":"teacher confirmed"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let decision: String = site.scalar("SELECT id FROM events WHERE kiosk = 'server'", &[]);
    let source = |u: &mut Uploader, who: &str, mentor: &str, kind: EventKind| {
        let mut e = u.coordinator(mentor, Utc::now(), kind);
        e.source = pm_shared::Source::Coordinator {
            coordinator: who.into(),
            reason: "fix".into(),
        };
        e
    };
    let undo = source(
        &mut l,
        "Ms. Rivera",
        "M-2",
        EventKind::Void {
            target: decision.parse().expect("id"),
        },
    );
    let ack = l.send(vec![undo]);
    assert!(
        e2e_tests::upload::server_reasons(&site, &ack).contains("organizer_only"),
        "{ack}"
    );
    let elsewhere = source(
        &mut j,
        "Ms. Vega",
        "M-1",
        EventKind::Void { target: before.id },
    );
    let ack = j.send(vec![elsewhere]);
    assert!(
        e2e_tests::upload::server_reasons(&site, &ack).contains("not_at_school"),
        "{ack}"
    );
    let csv = site.hours_csv("2026-fall");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("M-2,") && l.contains(",2.00,")),
        "{csv}"
    );
}

/// Reads an HTTP response's status line within `limit`, or 0.
fn status_within(stream: &mut std::net::TcpStream, limit: std::time::Duration) -> u16 {
    use std::io::Read;
    stream.set_read_timeout(Some(limit)).expect("timeout");
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn slow_and_greedy_clients_do_not_hold_up_the_others() {
    use std::io::Write;
    use std::time::{Duration as Std, Instant};
    let site = Site::new();
    let server = Server::start_with(
        &site,
        &[
            "--listen",
            "127.0.0.1:0",
            // A slow refill, so the burst is spent however slowly this machine runs.
            "--rate-limit",
            "0.05",
            "--rate-burst",
            "5",
        ],
    );
    let organizer = site.add_organizer("Olga", &["--all"]);
    let addr = server.url.trim_start_matches("http://").to_owned();

    // A wrong token is refused before the (announced, never sent) 4 MB body is read.
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    write!(s, "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k-nobody.WRONG\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n").expect("write");
    assert_eq!(status_within(&mut s, Std::from_secs(5)), 401);

    // 200 connections trickle one header byte a second.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut slow = Vec::new();
    for _ in 0..200 {
        let addr = addr.clone();
        let stop = stop.clone();
        slow.push(std::thread::spawn(move || {
            let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
                return;
            };
            for b in b"GET /api/v1/reports/hours HTTP/1.1\r\nHost: x\r\n"
                .iter()
                .cycle()
            {
                if stop.load(std::sync::atomic::Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Std::from_secs(1));
            }
        }));
    }
    std::thread::sleep(Std::from_secs(3));
    // Meanwhile, a normal client's report answers: not held until the slow ones time out
    // (30 s for a request head), with room for a loaded test machine.
    for _ in 0..3 {
        let started = Instant::now();
        let (status, _) = http(
            &server.url,
            "GET",
            "/api/v1/reports/hours",
            Some(&organizer),
            b"",
        );
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Std::from_secs(15),
            "{:?}",
            started.elapsed()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in slow {
        let _ = t.join();
    }

    // A greedy token gets 429 with Retry-After past its burst; others are not affected.
    let mut statuses = Vec::new();
    let mut retry = String::new();
    for _ in 0..8 {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        write!(s, "GET /api/v1/reviews HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {organizer}\r\nConnection: close\r\n\r\n").expect("write");
        let mut response = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut response);
        let status: u16 = response
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if status == 429 {
            retry = response
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("retry-after:")
                        .map(|v| v.trim().to_owned())
                })
                .unwrap_or_default();
        }
        statuses.push(status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        retry.parse::<u64>().is_ok_and(|s| s >= 1),
        "Retry-After: {retry:?}"
    );
    let other = site.add_organizer("Ana", &["--all"]);
    assert_eq!(
        http(&server.url, "GET", "/api/v1/reviews", Some(&other), b"").0,
        200
    );
}

#[test]
fn a_replacement_kiosk_delivers_what_the_old_one_never_sent() {
    let site = Site::new();
    let server = Server::start(&site);
    let old = site.add_kiosk("parent room");
    site.kiosk_ok("room", &["setup", "--server", &server.url, "--token", &old]);
    site.kiosk_ok("room", &["sync", "--once"]);
    // Offline all morning, then its token leaks (or the kiosk is rebuilt from its disk).
    let s = site.script(
        "morning.csv",
        &[
            ("2026-10-05T08:00:00-05:00", "badges/M-1.png"),
            ("2026-10-05T10:00:00-05:00", "badges/M-1.png"),
        ],
    );
    site.kiosk_ok("room", &["replay", &s]);
    let old_id = e2e_tests::kiosk_id_of(&old);
    let out = site.server(&[
        "kiosk",
        "add",
        "--school",
        "lincoln",
        "--name",
        "parent room",
        "--replaces",
        &old_id,
    ]);
    let new = out.lines().last().unwrap_or_default().trim().to_owned();
    // The old token is revoked at once.
    assert_eq!(
        http(&server.url, "GET", "/api/v1/roster", Some(&old), b"").0,
        401
    );
    assert_eq!(site.server_event_count(), 0);
    // The same data folder under the new token delivers the morning, kept as recorded there.
    site.kiosk_ok("room", &["setup", "--server", &server.url, "--token", &new]);
    site.kiosk_ok("room", &["sync", "--once"]);
    assert_eq!(site.server_event_count(), 2);
    let kiosks: i64 = site.scalar("SELECT COUNT(*) FROM events WHERE kiosk = ?1", &[&old_id]);
    assert_eq!(
        kiosks, 2,
        "recorded by the old kiosk, delivered by the new one"
    );
    let csv = site.hours_csv("2026-fall");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("M-1,") && l.contains(",2.00,")),
        "{csv}"
    );
}

#[test]
fn a_refused_push_never_stops_the_roster_pull() {
    let site = Site::new();
    let server = Server::start(&site);
    let first = site.add_kiosk("first");
    site.kiosk_ok(
        "room",
        &["setup", "--server", &server.url, "--token", &first],
    );
    site.kiosk_ok("room", &["sync", "--once"]);
    let s = site.script(
        "scan.csv",
        &[("2026-10-05T08:00:00-05:00", "badges/M-1.png")],
    );
    site.kiosk_ok("room", &["replay", &s]);
    // Set up again with another kiosk's token (not a replacement): the server refuses the old
    // kiosk's events, but the roster still comes, with a coordinator added meanwhile.
    site.add_coordinator("lincoln", "Ms. Rivera", "24681357");
    let second = site.add_kiosk("second");
    site.kiosk_ok(
        "room",
        &["setup", "--server", &server.url, "--token", &second],
    );
    let out = site.kiosk("room", &["sync", "--once"]);
    assert!(!out.status.success(), "the push was refused");
    let conn = rusqlite::Connection::open(site.path("room/kiosk.db")).expect("db");
    let roster: String = conn
        .query_row("SELECT body FROM roster", [], |r| r.get(0))
        .expect("roster");
    assert!(roster.contains("Ms. Rivera"), "the pull happened anyway");
    let pending: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE delivered_at IS NULL",
            [],
            |r| r.get(0),
        )
        .expect("pending");
    assert_eq!(pending, 1, "and the scan waits, never lost");
}

/// A NUL or another control character in an imported name is a broken line (named), and
/// nothing is imported, on either engine.
#[test]
fn control_characters_in_imported_names_are_a_named_broken_line() {
    let site = Site::new();
    std::fs::write(
        site.path("nul.csv"),
        "id,name,school,language\nM-8,Eva Ruiz,lincoln,es\nM-9,Bad\u{0}Name,lincoln,es\n",
    )
    .expect("write");
    let out = e2e_tests::run(
        "sync-server",
        &["--db", site.db.as_str(), "mentor", "import", "nul.csv"],
        site.dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3") && err.contains("control characters"),
        "{err}"
    );
    let ids: Vec<String> = site.column("SELECT id FROM mentors ORDER BY id", &[]);
    assert_eq!(ids, ["M-1", "M-2", "M-3"], "nothing imported");
}

#[test]
fn wrong_secrets_cannot_lock_a_kiosk_or_the_scraper_out() {
    let site = Site::new();
    let server = Server::start_with(
        &site,
        &[
            "--listen",
            "127.0.0.1:0",
            // A slow refill, so the burst is spent however slowly this machine runs.
            "--rate-limit",
            "0.05",
            "--rate-burst",
            "5",
            "--metrics-token",
            "scrape-secret-123",
        ],
    );
    let token = site.add_kiosk("room");
    let id = token.split('.').next().expect("id");
    // Someone who read the kiosk's id sends it with wrong secrets: refused, then limited.
    let forged = format!("{id}.WRONGSECRETWRONGSECRET");
    let statuses: Vec<u16> = (0..8)
        .map(|_| http(&server.url, "GET", "/api/v1/roster", Some(&forged), b"").0)
        .collect();
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // The real kiosk, from the same address even, is not refused.
    for _ in 0..3 {
        let (status, body) = http(&server.url, "GET", "/api/v1/roster", Some(&token), b"");
        assert_eq!(status, 200, "{body}");
    }
    // A new made-up id each time is limited too (by address, not by id).
    let status = http(
        &server.url,
        "GET",
        "/api/v1/roster",
        Some("k-madeup.NOPE"),
        b"",
    )
    .0;
    assert_eq!(status, 429);
    // A wrong metrics token does not drain the scraper's bucket.
    for _ in 0..10 {
        let status = http(&server.url, "GET", "/metrics", Some("not-the-token"), b"").0;
        assert!(status == 401 || status == 429, "{status}");
    }
    let (status, body) = http(
        &server.url,
        "GET",
        "/metrics",
        Some("scrape-secret-123"),
        b"",
    );
    assert_eq!(status, 200, "{body}");
    // Each failure is logged with the client's address and why, never with the secret.
    let log = std::fs::read_to_string(&server.log).expect("log");
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("authentication failed"))
        .collect();
    assert!(!failures.is_empty(), "{log}");
    assert!(
        failures
            .iter()
            .all(|l| l.contains("127.0.0.1") && l.contains("reason")),
        "{failures:?}"
    );
    assert!(!log.contains("WRONGSECRET"), "{log}");
    assert!(!log.contains("not-the-token"), "{log}");
}

/// The raw answer to a GET: (lower-cased header lines, body).
fn raw_get(server: &Server, path: &str) -> (Vec<String>, String) {
    use std::io::{Read, Write};
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().map(|l| l.to_ascii_lowercase()).collect(),
        body.to_owned(),
    )
}

#[test]
fn the_organizer_page_runs_no_inline_script_and_cannot_be_framed() {
    let site = Site::new();
    let server = Server::start(&site);
    let (head, body) = raw_get(&server, "/");
    let header = |name: &str| {
        head.iter()
            .find_map(|l| {
                l.strip_prefix(&format!("{name}:"))
                    .map(|v| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let csp = header("content-security-policy");
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap_or_default()
        .to_owned();
    assert_eq!(script_src, "script-src 'self'", "{csp}");
    for directive in [
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{directive}: {csp}");
    }
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("cache-control"), "no-store");
    // The page's script is its own file; the page holds none inline.
    assert!(body.contains("<script src=\"organizer.js\"></script>"));
    assert_eq!(body.matches("<script").count(), 1, "{body}");
    let (js_head, js) = raw_get(&server, "/organizer.js");
    assert!(js_head[0].contains(" 200 "), "{js_head:?}");
    assert!(js.contains("replace_signin"));
    // API answers are not kept in caches either.
    let (api_head, _) = raw_get(&server, "/api/v1/roster");
    assert!(
        api_head.iter().any(|l| l == "cache-control: no-store"),
        "{api_head:?}"
    );
}

/// Whether the server closes this connection within `within` (EOF or a reset), reading nothing.
fn closed_within(s: &mut std::net::TcpStream, within: std::time::Duration) -> bool {
    use std::io::Read;
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn idle_connections_cannot_use_up_the_server() {
    use std::time::Duration as Std;
    let site = Site::new();
    let server = Server::start_with(
        &site,
        &[
            "--listen",
            "127.0.0.1:0",
            "--max-connections",
            "40",
            "--max-connections-per-address",
            "20",
        ],
    );
    let organizer = site.add_organizer("Olga", &["--all"]);
    let addr = server.url.trim_start_matches("http://").to_owned();
    // Twenty idle connections from one address: the next one is accepted and closed at once.
    let mut idle: Vec<std::net::TcpStream> = (0..20)
        .map(|_| std::net::TcpStream::connect(&addr).expect("connect"))
        .collect();
    std::thread::sleep(Std::from_millis(300));
    let mut extra = std::net::TcpStream::connect(&addr).expect("connect");
    assert!(
        closed_within(&mut extra, Std::from_secs(5)),
        "one past the cap is closed"
    );
    // Give some back: a real request is served again.
    idle.truncate(10);
    std::thread::sleep(Std::from_millis(300));
    let (status, _) = http(&server.url, "GET", "/api/v1/reviews", Some(&organizer), b"");
    assert_eq!(status, 200);
    // A connection that never sends a request is closed within the first-request time (10 s).
    let started = std::time::Instant::now();
    assert!(closed_within(&mut idle[0], Std::from_secs(20)));
    assert!(
        started.elapsed() < Std::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let log = std::fs::read_to_string(&server.log).expect("log");
    assert!(log.contains("connection refused"), "{log}");
}
