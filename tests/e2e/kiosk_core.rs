//! The kiosk core against the real sync server: replay, exactly-once sync, crashes, bad input.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use e2e_tests::{workspace_binary, Server, Site};

fn set_up_kiosk(site: &Site, data: &str, server: &Server) -> String {
    let token = site.add_kiosk(data);
    site.kiosk_ok(data, &["setup", "--server", &server.url, "--token", &token]);
    site.kiosk_ok(data, &["sync", "--once"]);
    token
}

fn outcomes(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| l.split('\t').nth(2).unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_morning_replayed_then_synced() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    let script = site.script(
        "morning.csv",
        &[
            ("2026-10-05T08:00:00-05:00", "badges/M-1.png"),
            ("2026-10-05T08:00:20-05:00", "badges/M-1.png"),
            ("2026-10-05T08:03:00-05:00", "badges/M-2.png"),
            ("2026-10-05T10:00:00-05:00", "badges/M-1.png"),
            ("2026-10-05T10:01:00-05:00", "blank.png"),
        ],
    );
    // A frame with no code in it: a blank image.
    image::GrayImage::from_pixel(200, 200, image::Luma([255]))
        .save(site.path("blank.png"))
        .expect("blank frame");
    let out = site.kiosk_ok("kiosk-a", &["replay", &script]);
    assert_eq!(
        outcomes(&out),
        [
            "checked-in M-1",
            "duplicate M-1",
            "checked-in M-2",
            "checked-out M-1",
            "no-code"
        ],
        "{out}"
    );
    assert!(
        out.starts_with("2026-10-05T08:00:00-05:00\tbadges/M-1.png\t"),
        "{out}"
    );
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    assert_eq!(site.server_event_count(), 3);
    let report = site.hours_csv("2026-fall");
    assert!(
        report.contains("M-1,María López,lincoln,2026-fall,2.00,1,1,0,0,100.00,false,,"),
        "{report}"
    );
    assert!(
        report.contains("M-2,Ann Lee,lincoln,2026-fall,0.00,0,0,1,1,100.00,false,,"),
        "{report}"
    );
}

#[test]
fn server_down_for_the_whole_replay_then_one_sync_delivers_everything_once() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    let addr = server.listen_addr();
    server.kill();

    let mut rows = Vec::new();
    for day in 5..=9 {
        for (mentor, minute) in [("M-1", 0), ("M-2", 5), ("M-3", 10)] {
            rows.push((
                format!("2026-10-{day:02}T08:{minute:02}:00-05:00"),
                format!("badges/{mentor}.png"),
            ));
            rows.push((
                format!("2026-10-{day:02}T10:{minute:02}:00-05:00"),
                format!("badges/{mentor}.png"),
            ));
        }
    }
    let refs: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let script = site.script("week.csv", &refs);
    let out = site.kiosk_ok("kiosk-a", &["replay", &script]);
    assert_eq!(
        outcomes(&out)
            .iter()
            .filter(|o| o.starts_with("checked-"))
            .count(),
        30
    );

    let failed = site.kiosk("kiosk-a", &["sync", "--once"]);
    assert!(
        !failed.status.success(),
        "sync with the server down must fail"
    );
    assert!(String::from_utf8_lossy(&failed.stderr).contains("cannot reach the server"));

    let _server = Server::start_on(&site, &addr);
    let first = site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    assert!(first.contains("30 stored"), "{first}");
    let second = site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    assert!(second.contains("0 stored"), "{second}");
    assert_eq!(site.server_event_count(), 30);
    let report = site.hours_csv("2026-fall");
    for mentor in ["M-1", "M-2", "M-3"] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(mentor) && l.contains(",10.00,5,5,0,0,")),
            "{report}"
        );
    }
}

#[test]
fn a_reissued_badge_is_refused_after_a_roster_sync() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    std::fs::copy(site.path("badges/M-1.png"), site.path("old-M-1.png")).expect("keep old badge");
    site.server(&["badges", "--out", "badges", "--mentor", "M-1", "--reissue"]);
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    let script = site.script(
        "s.csv",
        &[
            ("2026-10-05T08:00:00-05:00", "old-M-1.png"),
            ("2026-10-05T08:05:00-05:00", "badges/M-1.png"),
        ],
    );
    let out = site.kiosk_ok("kiosk-a", &["replay", &script]);
    assert_eq!(
        outcomes(&out),
        ["rejected replaced", "checked-in M-1"],
        "{out}"
    );
}

#[test]
fn sigkill_during_a_replay_loses_no_shown_scan() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    drop(server);
    // 1,000 scans, 4 minutes apart, rotating over three mentors (each one every 12 minutes:
    // past the already-checked-in window, so every scan records something).
    let start = chrono::DateTime::parse_from_rfc3339("2026-09-01T08:00:00-05:00").expect("start");
    let rows: Vec<(String, String)> = (0..1000)
        .map(|i| {
            let at = start + chrono::Duration::minutes(4 * i);
            (at.to_rfc3339(), format!("badges/M-{}.png", i % 3 + 1))
        })
        .collect();
    let refs: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let script = site.script("long.csv", &refs);

    let mut child = Command::new(workspace_binary("kiosk"))
        .args(["--data", "kiosk-a", "replay", &script])
        .current_dir(site.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start replay");
    let stdout = child.stdout.take().expect("stdout");
    let mut printed = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        printed.push(line);
        if printed.len() == 300 {
            child.kill().expect("SIGKILL");
            break;
        }
    }
    let _ = child.wait();
    assert_eq!(
        printed.len(),
        300,
        "the replay was killed after 300 outcome lines"
    );

    let conn = rusqlite::Connection::open(site.path("kiosk-a/kiosk.db")).expect("open kiosk db");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(integrity, "ok");
    let mut stmt = conn
        .prepare("SELECT mentor, at FROM events")
        .expect("prepare");
    let stored: HashSet<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for line in &printed {
        let mut fields = line.split('\t');
        let at = fields.next().unwrap_or_default();
        let outcome = fields.nth(1).unwrap_or_default();
        let Some(mentor) = outcome
            .strip_prefix("checked-in ")
            .or_else(|| outcome.strip_prefix("checked-out "))
        else {
            continue;
        };
        let at = chrono::DateTime::parse_from_rfc3339(at)
            .expect("printed instant")
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        assert!(
            stored.contains(&(mentor.to_owned(), at.clone())),
            "shown but not on disk: {line}"
        );
    }
    // The replay may have committed a few more rows after the 300th line was printed and
    // before the kill landed; what matters is that nothing shown is missing.
    assert!(stored.len() >= 300, "{} events stored", stored.len());
}

#[test]
fn bad_replay_scripts_are_refused_with_line_numbers_and_record_nothing() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    let cases: &[(&str, &str, &str)] = &[
        ("bad-time.csv", "at,image\n2026-10-05T08:00:00-05:00,badges/M-1.png\nyesterday,badges/M-2.png\n", "line 3"),
        ("no-offset.csv", "at,image\n2026-10-05T08:00:00,badges/M-1.png\n", "line 2"),
        ("missing-image.csv", "at,image\n2026-10-05T08:00:00-05:00,badges/M-1.png\n2026-10-05T08:01:00-05:00,nope.png\n", "line 3"),
        ("bad-header.csv", "when,file\n2026-10-05T08:00:00-05:00,badges/M-1.png\n", "line 1"),
        ("short-row.csv", "at,image\n2026-10-05T08:00:00-05:00\n", "line 2"),
    ];
    std::fs::write(site.path("not-an-image.png"), b"this is text").expect("write");
    for (name, text, expected) in cases {
        std::fs::write(site.path(name), text).expect("write script");
        let out = site.kiosk("kiosk-a", &["replay", name]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} must fail");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
    let out = site.kiosk(
        "kiosk-a",
        &[
            "replay",
            &site.script(
                "garbage.csv",
                &[("2026-10-05T08:00:00-05:00", "not-an-image.png")],
            ),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
    let conn = rusqlite::Connection::open(site.path("kiosk-a/kiosk.db")).expect("open");
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 0, "nothing recorded from a broken script");
}

#[test]
fn a_corrupt_config_and_a_wrong_token_are_clear_errors() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    std::fs::write(site.path("kiosk-a/config.json"), "{\"server\": 5").expect("corrupt");
    let out = site.kiosk("kiosk-a", &["sync", "--once"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid kiosk configuration"));

    let token = site.add_kiosk("kiosk-b");
    let (id, _) = token.split_once('.').expect("token");
    let forged = format!("{id}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    site.kiosk_ok(
        "kiosk-b",
        &["setup", "--server", &server.url, "--token", &forged],
    );
    let out = site.kiosk("kiosk-b", &["sync", "--once"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HTTP 401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    site.kiosk_ok(
        "kiosk-b",
        &["setup", "--server", &server.url, "--token", &token],
    );
    site.kiosk_ok("kiosk-b", &["sync", "--once"]);
    site.server(&["kiosk", "revoke", id]);
    let out = site.kiosk("kiosk-b", &["sync", "--once"]);
    assert!(!out.status.success(), "a revoked kiosk is refused");

    let out = site.kiosk(
        "kiosk-c",
        &["setup", "--server", "http://example.org", "--token", &token],
    );
    assert!(!out.status.success(), "plain http off loopback is refused");
}

#[test]
fn a_kiosk_restored_from_an_old_copy_starts_a_new_series_and_loses_nothing() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    let day1 = site.script(
        "day1.csv",
        &[
            ("2026-10-05T08:00:00-05:00", "badges/M-1.png"),
            ("2026-10-05T10:00:00-05:00", "badges/M-1.png"),
        ],
    );
    site.kiosk_ok("kiosk-a", &["replay", &day1]);
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    // Back up the database (a consistent copy), then keep working and syncing.
    let conn = rusqlite::Connection::open(site.path("kiosk-a/kiosk.db")).expect("open");
    conn.execute(
        "VACUUM INTO ?1",
        [site.path("backup.db").to_string_lossy().as_ref()],
    )
    .expect("backup");
    drop(conn);
    let day2 = site.script(
        "day2.csv",
        &[
            ("2026-10-06T08:00:00-05:00", "badges/M-2.png"),
            ("2026-10-06T10:00:00-05:00", "badges/M-2.png"),
        ],
    );
    site.kiosk_ok("kiosk-a", &["replay", &day2]);
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    assert_eq!(site.server_event_count(), 4);
    // The disk dies; the old copy is restored and records new scans under reused numbers.
    for f in ["kiosk.db", "kiosk.db-wal", "kiosk.db-shm"] {
        let _ = std::fs::remove_file(site.path(&format!("kiosk-a/{f}")));
    }
    std::fs::copy(site.path("backup.db"), site.path("kiosk-a/kiosk.db")).expect("restore");
    let day3 = site.script(
        "day3.csv",
        &[
            ("2026-10-07T08:00:00-05:00", "badges/M-3.png"),
            ("2026-10-07T10:00:00-05:00", "badges/M-3.png"),
        ],
    );
    site.kiosk_ok("kiosk-a", &["replay", &day3]);
    let out = site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    assert!(
        out.contains("new series started") && out.contains("2 stored"),
        "{out}"
    );
    assert_eq!(
        site.server_event_count(),
        6,
        "both copies' scans, none twice"
    );
    let again = site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    assert!(again.contains("0 stored"), "{again}");
    let report = site.hours_csv("2026-fall");
    for mentor in ["M-1", "M-2", "M-3"] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(mentor) && l.contains(",2.00,1,1,")),
            "{report}"
        );
    }
}

#[test]
fn a_mentor_checked_in_at_one_kiosk_is_checked_out_at_the_other() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    set_up_kiosk(&site, "kiosk-b", &server);
    let now = chrono::Utc::now();
    let t1 = (now - chrono::Duration::minutes(90)).to_rfc3339();
    let t2 = (now - chrono::Duration::minutes(1)).to_rfc3339();
    let chicago = pm_shared::TimeZone::new("America/Chicago")
        .expect("tz")
        .tz();
    let day = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .expect("instant")
            .with_timezone(&chicago)
            .date_naive()
    };
    // Near midnight in Chicago the two scans fall on different school days: a check-in then.
    let same_day = day(&t1) == day(&t2);
    let a = site.script("a.csv", &[(&t1, "badges/M-1.png")]);
    assert_eq!(
        outcomes(&site.kiosk_ok("kiosk-a", &["replay", &a])),
        ["checked-in M-1"]
    );
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    site.kiosk_ok("kiosk-b", &["sync", "--once"]);
    let b = site.script("b.csv", &[(&t2, "badges/M-1.png")]);
    let expected = if same_day {
        "checked-out M-1"
    } else {
        "checked-in M-1"
    };
    assert_eq!(
        outcomes(&site.kiosk_ok("kiosk-b", &["replay", &b])),
        [expected]
    );
    // On the server, the two kiosks' events pair into one counted session.
    site.kiosk_ok("kiosk-b", &["sync", "--once"]);
    let report = site.server(&["report", "hours", "--format", "csv"]);
    let row = report
        .lines()
        .find(|l| l.starts_with("M-1,"))
        .unwrap_or_default()
        .to_owned();
    let fields: Vec<&str> = row.split(',').collect();
    if same_day {
        assert_eq!(
            (fields[4], fields[6], fields[7]),
            ("1.48", "1", "0"),
            "{report}"
        );
    } else {
        assert_eq!(fields[7], "1", "{report}");
    }
}

#[test]
fn a_mentor_not_yet_in_the_roster_is_accepted_provisionally_then_named() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    // A new mentor joins after the kiosk's last roster pull.
    std::fs::write(
        site.path("new.csv"),
        "id,name,school,language\nM-9,Lupe Torres,lincoln,es\n",
    )
    .expect("csv");
    site.server(&["mentor", "import", "new.csv"]);
    site.server(&["badges", "--out", "badges", "--mentor", "M-9"]);
    let now = chrono::Utc::now().to_rfc3339();
    let script = site.script("new.csv.replay", &[(&now, "badges/M-9.png")]);
    assert_eq!(
        outcomes(&site.kiosk_ok("kiosk-a", &["replay", &script])),
        ["checked-in M-9"]
    );
    let before = site.kiosk_ok("kiosk-a", &["today"]);
    assert!(before.contains("M-9\t(not in roster yet)"), "{before}");
    let sync = site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    assert!(
        sync.contains("1 stored") && sync.contains("0 set aside"),
        "verified by the server: {sync}"
    );
    let after = site.kiosk_ok("kiosk-a", &["today"]);
    assert!(after.contains("M-9\tLupe Torres"), "{after}");
}

#[test]
fn the_background_worker_delivers_once_the_server_comes_back() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    let addr = server.listen_addr();
    server.kill();
    let script = site.script(
        "s.csv",
        &[
            ("2026-10-05T08:00:00-05:00", "badges/M-1.png"),
            ("2026-10-05T08:02:00-05:00", "badges/M-2.png"),
            ("2026-10-05T10:00:00-05:00", "badges/M-1.png"),
            ("2026-10-05T10:02:00-05:00", "badges/M-2.png"),
        ],
    );
    site.kiosk_ok("kiosk-a", &["replay", &script]);

    let data = site.path("kiosk-a");
    let config = kiosk::config::Config::load(&data)
        .expect("config")
        .expect("set up");
    let stop = Arc::new(AtomicBool::new(false));
    let settings = kiosk::sync::WorkerSettings {
        interval: Duration::from_millis(200),
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(800),
    };
    let worker = kiosk::sync::spawn_worker(config, kiosk::db_path(&data), settings, stop.clone());
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(site.server_event_count(), 0, "the server is down");

    let _server = Server::start_on(&site, &addr);
    let deadline = Instant::now() + Duration::from_secs(20);
    while site.server_event_count() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let it run a few more rounds: nothing may arrive twice.
    std::thread::sleep(Duration::from_millis(600));
    stop.store(true, Ordering::Relaxed);
    worker.join().expect("worker thread");
    assert_eq!(site.server_event_count(), 4);
    let store = kiosk::open_store(&data, chrono::Utc::now()).expect("store");
    let status = store.sync_status().expect("status");
    assert_eq!(status.pending, 0);
    assert!(
        status.last_success.is_some() && status.last_error.is_none(),
        "{status:?}"
    );
}
