//! Classrooms, clearances and kiosk health, end to end: the organizer's CLI and API, the roster,
//! the kiosk's replay and Today list, the hours report.

use chrono::{DateTime, Duration, Timelike, Utc};
use e2e_tests::{http, run, Server, Site};

const HOURS_HEADER: &str = "mentor_id,mentor_name,school_id,period,hours,days,sessions,open_sessions,needs_review,threshold,eligible,eligible_on,paid_on,community_hours,set_aside,active,teacher,classroom";

fn set_up_kiosk(site: &Site, data: &str, server: &Server) {
    let token = site.add_kiosk(data);
    site.kiosk_ok(data, &["setup", "--server", &server.url, "--token", &token]);
    site.kiosk_ok(data, &["sync", "--once"]);
}

/// Scans `badge` now (a replay of one frame), returning the kiosk's outcome column.
fn scan_now(site: &Site, data: &str, badge: &str, name: &str) -> String {
    scan_at(site, data, badge, name, Utc::now())
}

fn scan_at(site: &Site, data: &str, badge: &str, name: &str, at: DateTime<Utc>) -> String {
    let at = at.to_rfc3339();
    let script = site.script(name, &[(&at, badge)]);
    let out = site.kiosk_ok(data, &["replay", &script]);
    out.lines()
        .next()
        .and_then(|l| l.split('\t').nth(2))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn placements_reach_the_report_and_the_kiosk() {
    let site = Site::new();
    // The import places Ann; María is placed by hand; Rosa's cells are empty.
    std::fs::write(
        site.path("placed.csv"),
        "id,name,school,language,teacher,classroom\nM-1,María López,lincoln,es,,\nM-2,Ann Lee,lincoln,en,Mr. Brown,7\nM-3,Rosa Díaz,lincoln,es,,\n",
    )
    .expect("write");
    site.server(&["mentor", "import", "placed.csv"]);
    let out = site.server(&[
        "mentor",
        "place",
        "M-1",
        "--teacher",
        "Ms. Smith",
        "--classroom",
        "12",
    ]);
    assert!(out.contains("Room 12 · Ms. Smith"), "{out}");
    // A re-import without the columns leaves placements alone.
    site.server(&["mentor", "import", "mentors.csv"]);
    let csv = site.hours_csv("2026-fall");
    assert_eq!(csv.lines().next(), Some(HOURS_HEADER));
    let row = |id: &str| {
        csv.lines()
            .find(|l| l.starts_with(&format!("{id},")))
            .unwrap_or_else(|| panic!("{id} in {csv}"))
            .to_owned()
    };
    assert!(row("M-1").ends_with(",true,Ms. Smith,12"), "{csv}");
    assert!(row("M-2").ends_with(",true,Mr. Brown,7"), "{csv}");
    assert!(row("M-3").ends_with(",true,,"), "{csv}");
    // Only the classroom changes; then the placement is cleared.
    site.server(&["mentor", "place", "M-2", "--classroom", "8"]);
    assert!(site.hours_csv("2026-fall").contains(",true,Mr. Brown,8"));
    site.server(&["mentor", "place", "M-2", "--clear"]);
    assert!(!site.hours_csv("2026-fall").contains("Mr. Brown"));
    // Bad input: an unknown mentor, a control character, a broken file (its line named).
    let server_run = |args: &[&str]| {
        let mut all = vec!["--db", site.db.as_str()];
        all.extend_from_slice(args);
        run("sync-server", &all, site.dir.path())
    };
    assert!(!server_run(&["mentor", "place", "M-9", "--teacher", "X"])
        .status
        .success());
    assert!(
        !server_run(&["mentor", "place", "M-1", "--teacher", "a\u{7}b"])
            .status
            .success()
    );
    std::fs::write(
        site.path("broken.csv"),
        "id,name,school,language,teacher,classroom\nM-1,María López,lincoln,es,Ms. Green,3\nM-2,Ann Lee,lincoln,en,Mr. Brown,\u{1}\n",
    )
    .expect("write");
    let out = server_run(&["mentor", "import", "broken.csv"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        site.hours_csv("2026-fall").contains(",Ms. Smith,12"),
        "nothing changed"
    );

    // The kiosk learns her placement from the roster and shows it on her confirmation (the
    // screens test renders it); the roster carries it.
    let server = Server::start(&site);
    set_up_kiosk(&site, "front", &server);
    let conn = rusqlite::Connection::open(site.path("front/kiosk.db")).expect("kiosk db");
    let db_roster: String = conn
        .query_row("SELECT body FROM roster", [], |r| r.get(0))
        .expect("roster body");
    assert!(db_roster.contains("\"classroom\":\"12\""), "{db_roster}");
    assert!(db_roster.contains("\"teacher\":\"Ms. Smith\""));
}

#[test]
fn expired_clearances_warn_or_refuse_at_the_kiosk_and_are_listed() {
    let site = Site::new();
    // The school's date, as the server and the kiosk count days (not UTC's).
    let now = Utc::now();
    let local_now = now.with_timezone(&e2e_tests::upload::chicago().tz());
    let today = local_now.date_naive();
    // María's visit: three hours on one school day, ending now late in the evening.
    let (arrives, leaves) = if local_now.hour() < 21 {
        (now, now + Duration::hours(3))
    } else {
        (now - Duration::hours(3), now)
    };
    let expired = (today - Duration::days(3)).to_string();
    let soon = (today + Duration::days(10)).to_string();
    let later = (today + Duration::days(200)).to_string();
    // María's TB test expired; Ann's background check runs out soon; Rosa is current.
    site.server(&[
        "clearance",
        "set",
        "M-1",
        "--kind",
        "tb-test",
        "--expires",
        &expired,
    ]);
    site.server(&[
        "clearance",
        "set",
        "M-1",
        "--kind",
        "background-check",
        "--expires",
        &later,
    ]);
    std::fs::write(
        site.path("clearances.csv"),
        format!(
            "mentor_id,kind,expires\nM-2,background-check,{soon}\nM-3,initial-training,{later}\n"
        ),
    )
    .expect("write");
    site.server(&["clearance", "import", "clearances.csv"]);
    let list = site.server(&["clearance", "list", "--attention"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines[0],
        "mentor_id,mentor_name,school_id,kind,expires,status"
    );
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[1].starts_with("M-1,") && lines[1].ends_with(&format!("tb-test,{expired},expired")),
        "{list}"
    );
    assert!(
        lines[2].ends_with(&format!("background-check,{soon},expiring")),
        "{list}"
    );
    assert_eq!(site.server(&["clearance", "list"]).lines().count(), 5);

    // Broken rows: named by line, nothing recorded.
    std::fs::write(
        site.path("bad.csv"),
        format!(
            "mentor_id,kind,expires\nM-3,tb-test,{later}\nM-9,tb-test,{later}\nM-3,tb-test,soon\n"
        ),
    )
    .expect("write");
    let out = run(
        "sync-server",
        &["--db", site.db.as_str(), "clearance", "import", "bad.csv"],
        site.dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3"));
    assert_eq!(site.server(&["clearance", "list"]).lines().count(), 5);

    // Over HTTP, in an organizer's scope.
    let server = Server::start(&site);
    let olga = site.add_organizer("Olga", &["--all"]);
    let (status, body) = http(
        &server.url,
        "GET",
        "/api/v1/clearances?attention=true",
        Some(&olga),
        b"",
    );
    assert_eq!(status, 200, "{body}");
    let rows: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(rows.as_array().map(Vec::len), Some(2));
    assert_eq!(rows[0]["status"], "expired");
    assert_eq!(rows[0]["days_left"], -3);

    // Warn (the default): she is checked in, and the coordinator's Today lists both.
    set_up_kiosk(&site, "front", &server);
    assert_eq!(
        scan_at(&site, "front", "badges/M-1.png", "a.csv", arrives),
        "checked-in M-1"
    );
    let today_out = site.kiosk_ok("front", &["today"]);
    assert!(
        today_out.contains(&format!(
            "clearance\tM-1\tMaría López\ttb-test\t{expired}\texpired"
        )),
        "{today_out}"
    );
    assert!(today_out.contains(&format!(
        "clearance\tM-2\tAnn Lee\tbackground-check\t{soon}\texpiring"
    )));
    assert!(!today_out.contains("initial-training"));

    // Refuse: the organizer changes the rule. María, already in, still checks out; her next
    // check-in is refused, and nothing is recorded for it.
    site.server(&["program", "set", "--expired-clearance", "refuse"]);
    site.kiosk_ok("front", &["sync", "--once"]);
    let conn = rusqlite::Connection::open(site.path("front/kiosk.db")).expect("kiosk db");
    let count = || -> i64 {
        conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .expect("count")
    };
    // Ann (expiring, not expired) is checked in as usual.
    assert_eq!(
        scan_now(&site, "front", "badges/M-2.png", "b.csv"),
        "checked-in M-2"
    );
    // María checks out three hours later.
    let later_at = leaves.to_rfc3339();
    let script = site.script("c.csv", &[(&later_at, "badges/M-1.png")]);
    let out = site.kiosk_ok("front", &["replay", &script]);
    assert!(out.contains("checked-out M-1"), "{out}");
    let before = count();
    let next_day = (Utc::now() + Duration::hours(20)).to_rfc3339();
    let script = site.script("d.csv", &[(&next_day, "badges/M-1.png")]);
    let out = site.kiosk_ok("front", &["replay", &script]);
    assert!(out.contains("refused-clearance M-1 tb-test"), "{out}");
    assert_eq!(count(), before, "a refused check-in records nothing");
    // A renewed clearance lets her in again.
    site.server(&[
        "clearance",
        "set",
        "M-1",
        "--kind",
        "tb test",
        "--expires",
        &later,
    ]);
    site.kiosk_ok("front", &["sync", "--once"]);
    let script = site.script("e.csv", &[(&next_day, "badges/M-1.png")]);
    let out = site.kiosk_ok("front", &["replay", &script]);
    assert!(out.contains("checked-in M-1"), "{out}");
}

#[test]
fn kiosks_report_their_health_at_every_sync() {
    let site = Site::new();
    let server = Server::start(&site);
    let olga = site.add_organizer("Olga", &["--all"]);
    // One kiosk syncs; another was registered and never heard from.
    set_up_kiosk(&site, "front", &server);
    site.add_kiosk("back");
    let at = (Utc::now() - Duration::minutes(5)).to_rfc3339();
    let script = site.script("a.csv", &[(&at, "badges/M-1.png")]);
    site.kiosk_ok("front", &["replay", &script]);
    site.kiosk_ok("front", &["sync", "--once"]);
    let (status, body) = http(&server.url, "GET", "/api/v1/kiosks", Some(&olga), b"");
    assert_eq!(status, 200, "{body}");
    let kiosks: serde_json::Value = serde_json::from_str(&body).expect("json");
    let list = kiosks.as_array().expect("array");
    assert_eq!(list.len(), 2);
    let front = list.iter().find(|k| k["name"] == "front").expect("front");
    let back = list.iter().find(|k| k["name"] == "back").expect("back");
    assert_eq!(front["silent"], false);
    assert_eq!(front["app_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(front["camera"], "unknown", "no UI has run on it");
    // Reported again after the push delivered it: nothing is waiting.
    assert_eq!(front["pending_events"], 0);
    assert!(front["last_scan"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(front["clock_offset_secs"]
        .as_i64()
        .is_some_and(|s| s.abs() <= 5));
    assert_eq!(back["silent"], true);
    assert!(back["last_sync"].is_null());
    // The next sync reports nothing waiting.
    site.kiosk_ok("front", &["sync", "--once"]);
    let (_, body) = http(&server.url, "GET", "/api/v1/kiosks", Some(&olga), b"");
    assert!(body.contains("\"pending_events\":0"), "{body}");

    // A malformed or foreign report changes nothing; an organizer's token cannot send one.
    let token = site.add_kiosk("side");
    for bad in [
        "{}",
        r#"{"protocol":2,"kiosk_clock":"2026-11-25T08:00:00Z","app_version":"x","camera":"on fire","pending_events":0}"#,
        r#"{"protocol":2,"kiosk_clock":"2026-11-25T08:00:00Z","app_version":"x","camera":"ok","pending_events":-1}"#,
    ] {
        let (status, body) = http(
            &server.url,
            "POST",
            "/api/v1/health",
            Some(&token),
            bad.as_bytes(),
        );
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let good = r#"{"protocol":2,"kiosk_clock":"2026-11-25T08:00:00Z","app_version":"x","camera":"ok","pending_events":0}"#;
    let (status, _) = http(
        &server.url,
        "POST",
        "/api/v1/health",
        Some(&olga),
        good.as_bytes(),
    );
    assert_eq!(status, 401);
    let (_, body) = http(&server.url, "GET", "/api/v1/kiosks", Some(&olga), b"");
    let kiosks: serde_json::Value = serde_json::from_str(&body).expect("json");
    let side = kiosks
        .as_array()
        .and_then(|l| l.iter().find(|k| k["name"] == "side"))
        .expect("side");
    assert_eq!(side["silent"], true);
}

#[test]
fn a_mentor_page_shows_an_organizer_only_what_happened_at_her_schools() {
    use e2e_tests::upload::{at, Uploader};
    use pm_shared::EventKind;

    let site = Site::new();
    for (id, name) in [("jefferson", "Jefferson"), ("washington", "Washington")] {
        site.server(&[
            "school",
            "add",
            "--id",
            id,
            "--name",
            name,
            "--timezone",
            "America/Chicago",
        ]);
    }
    let server = Server::start(&site);
    let lincoln = site.add_kiosk("front");
    let out = site.server(&["kiosk", "add", "--school", "jefferson", "--name", "j"]);
    let jefferson = out.lines().last().unwrap_or_default().trim().to_owned();
    site.server(&[
        "mentor",
        "place",
        "M-1",
        "--teacher",
        "Ms. Smith",
        "--classroom",
        "12",
    ]);
    // Two mornings at Lincoln in September; she moves to Jefferson on Oct 1 and comes there.
    let mut l = Uploader::new(&server, &lincoln, 1);
    let mut events = Vec::new();
    for day in ["2026-09-14", "2026-09-15"] {
        let i = l.scan(&site, "M-1", at(day, 8, 0), EventKind::CheckIn);
        let o = l.scan(
            &site,
            "M-1",
            at(day, 10, 0),
            EventKind::CheckOut {
                check_in: Some(i.id),
            },
        );
        events.extend([i, o]);
    }
    l.send(events);
    site.server(&[
        "mentor",
        "move",
        "M-1",
        "--school",
        "jefferson",
        "--from",
        "2026-10-01",
    ]);
    let mut j = Uploader::new(&server, &jefferson, 2);
    let i = j.scan(&site, "M-1", at("2026-10-05", 8, 0), EventKind::CheckIn);
    let o = j.scan(
        &site,
        "M-1",
        at("2026-10-05", 11, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    j.send(vec![i, o]);
    site.server(&[
        "clearance",
        "set",
        "M-1",
        "--kind",
        "tb-test",
        "--expires",
        "2030-01-01",
    ]);

    let page = |token: &str| {
        let (status, body) = http(&server.url, "GET", "/api/v1/mentors/M-1", Some(token), b"");
        (
            status,
            serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default(),
        )
    };
    let dates = |p: &serde_json::Value| -> Vec<String> {
        p["sessions"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|s| s["date"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let all = site.add_organizer("Olga", &["--all"]);
    let (status, p) = page(&all);
    assert_eq!(status, 200);
    assert_eq!(dates(&p), ["2026-10-05", "2026-09-15", "2026-09-14"]);
    // The move left the Lincoln placement behind.
    assert_eq!(p["classroom"], "");
    // Jefferson's organizer: her time there, her clearances and payments (she belongs there).
    let jo = site.add_organizer("Jo", &["--school", "jefferson"]);
    let (status, p) = page(&jo);
    assert_eq!(status, 200);
    assert_eq!(dates(&p), ["2026-10-05"]);
    assert_eq!(p["clearances"].as_array().map(Vec::len), Some(1));
    // Lincoln's organizer: the two mornings at Lincoln, nothing from Jefferson, no clearances.
    let lin = site.add_organizer("Lin", &["--school", "lincoln"]);
    let (status, p) = page(&lin);
    assert_eq!(status, 200);
    assert_eq!(dates(&p), ["2026-09-15", "2026-09-14"]);
    assert_eq!(p["clearances"].as_array().map(Vec::len), Some(0));
    // Another school's organizer: no such mentor for her.
    let wa = site.add_organizer("Wa", &["--school", "washington"]);
    assert_eq!(page(&wa).0, 404);
    // The overview is of one period.
    let (status, _) = http(
        &server.url,
        "GET",
        "/api/v1/overview?period=all",
        Some(&all),
        b"",
    );
    assert_eq!(status, 400);
}
