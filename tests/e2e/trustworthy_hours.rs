//! Hours an organizer can pay from: the cases of the trustworthy-hours issue, each against the
//! real binaries (replays through the real decoder, uploads over real HTTP, the real CLI).

use chrono::{Duration, NaiveDate, Utc};
use e2e_tests::upload::{at, chicago, Uploader};
use e2e_tests::{http, kiosk_id_of, Server, Site};
use pm_shared::{EventId, EventKind, HourCategory, Source};

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

/// One row of `report hours` CSV for a mentor and period, as (column → value).
fn report_row(
    site: &Site,
    mentor: &str,
    period: &str,
) -> std::collections::HashMap<String, String> {
    let csv = site.hours_csv(period);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let line = lines
        .find(|l| l.starts_with(&format!("{mentor},")))
        .unwrap_or_else(|| panic!("no row for {mentor} in\n{csv}"));
    header
        .iter()
        .map(|h| h.to_string())
        .zip(line.split(',').map(str::to_owned))
        .collect()
}

/// `review list` CSV rows as (column → value).
fn review_rows(site: &Site, args: &[&str]) -> Vec<std::collections::HashMap<String, String>> {
    let mut all = vec!["review", "list", "--format", "csv"];
    all.extend_from_slice(args);
    let csv = site.server(&all);
    let mut lines = csv.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header.join(","),
        "item,mentor_id,mentor_name,school_id,period,start,end,reasons,kiosks"
    );
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

fn resolve(site: &Site, item: &str, action: &[&str]) -> String {
    let mut args = vec!["review", "resolve", item];
    args.extend_from_slice(action);
    args.extend_from_slice(&["--by", "Olga", "--reason", "checked with the teacher"]);
    site.server(&args)
}

#[test]
fn two_kiosks_never_contradict_each_other() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    set_up_kiosk(&site, "kiosk-b", &server);
    // Yesterday at the school: the roster carries the last 14 days' sessions.
    let yesterday = (e2e_tests::upload::chicago_today() - Duration::days(1)).to_string();
    let when = |h: u32| at(&yesterday, h, 0).to_rfc3339();
    let script = |name: &str, time: String| site.script(name, &[(&time, "badges/M-1.png")]);

    let s = script("a1.csv", when(8));
    assert_eq!(
        outcomes(&site.kiosk_ok("kiosk-a", &["replay", &s])),
        ["checked-in M-1"]
    );
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    site.kiosk_ok("kiosk-b", &["sync", "--once"]);
    let s = script("b1.csv", when(10));
    assert_eq!(
        outcomes(&site.kiosk_ok("kiosk-b", &["replay", &s])),
        ["checked-out M-1"]
    );
    site.kiosk_ok("kiosk-b", &["sync", "--once"]);
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    // Kiosk A knows from the roster that B closed her 8:00 check-in: noon is a new arrival.
    let s = script("a2.csv", when(12));
    assert_eq!(
        outcomes(&site.kiosk_ok("kiosk-a", &["replay", &s])),
        ["checked-in M-1"]
    );
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    let period = pm_shared::ProgramRules::default()
        .periods
        .period_of(yesterday.parse().expect("date"))
        .name;
    let row = report_row(&site, "M-1", &period.0);
    assert_eq!(
        (row["hours"].as_str(), row["open_sessions"].as_str()),
        ("2.00", "1"),
        "{row:?}"
    );
    // Kiosk A's coordinator sees her open session since noon, not one since 8:00.
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    let today = site.kiosk_ok("kiosk-a", &["today"]);
    let mine: Vec<&str> = today.lines().filter(|l| l.starts_with("M-1\t")).collect();
    assert_eq!(mine.len(), 1, "{today}");
    assert!(
        mine[0].contains("\t12:00\t") && mine[0].contains("open"),
        "{today}"
    );
}

#[test]
fn an_accidental_second_scan_records_nothing() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    let s = site.script(
        "day.csv",
        &[
            ("2026-10-05T08:02:00-05:00", "badges/M-1.png"),
            ("2026-10-05T08:05:00-05:00", "badges/M-1.png"),
            ("2026-10-05T10:00:00-05:00", "badges/M-1.png"),
            ("2026-10-05T10:04:00-05:00", "badges/M-1.png"),
        ],
    );
    assert_eq!(
        outcomes(&site.kiosk_ok("kiosk-a", &["replay", &s])),
        [
            "checked-in M-1",
            "already-checked-in M-1",
            "checked-out M-1",
            "already-checked-out M-1"
        ]
    );
    site.kiosk_ok("kiosk-a", &["sync", "--once"]);
    assert_eq!(
        site.server_event_count(),
        2,
        "the second scans recorded nothing"
    );
    assert_eq!(report_row(&site, "M-1", "2026-fall")["hours"], "1.97");
}

#[test]
fn overlapping_time_is_counted_once() {
    let site = Site::new();
    site.add_coordinator("lincoln", "Ms. Rivera", "24681357");
    let server = Server::start(&site);
    // Three days ago at the school: coordinators' entries older than 14 days are set aside.
    let day = (e2e_tests::upload::chicago_today() - Duration::days(3)).to_string();
    let period = pm_shared::ProgramRules::default()
        .periods
        .period_of(day.parse().expect("date"))
        .name
        .0;
    let front = site.add_kiosk("front");
    let side = site.add_kiosk("side");
    let mut a = Uploader::new(&server, &front, 1);
    let mut b = Uploader::new(&server, &side, 2);
    let check_in = a.scan(&site, "M-1", at(&day, 8, 0), EventKind::CheckIn);
    let check_out = a.scan(
        &site,
        "M-1",
        at(&day, 10, 0),
        EventKind::CheckOut {
            check_in: Some(check_in.id),
        },
    );
    let training = EventKind::AddSession {
        category: HourCategory::Training,
        start: at(&day, 9, 0),
        end: at(&day, 11, 0),
        group: None,
    };
    let entered = a.coordinator("M-1", Utc::now(), training.clone());
    a.send(vec![check_in, check_out, entered]);
    let row = report_row(&site, "M-1", &period);
    assert_eq!(
        row["hours"], "3.00",
        "08:00-10:00 scanned and 09:00-11:00 training: 3 h, not 4"
    );
    let (_, json) = http(
        &server.url,
        "GET",
        &format!("/api/v1/reports/hours?format=json&period={period}"),
        Some(&site.add_organizer("Olga", &["--all"])),
        b"",
    );
    assert!(
        json.contains(r#""classroom":"1.00""#) && json.contains(r#""training":"2.00""#),
        "{json}"
    );

    // The same training entered again at the other kiosk: review, never 2 more hours.
    let again = b.coordinator("M-1", Utc::now() + Duration::seconds(1), training);
    b.send(vec![again.clone()]);
    assert_eq!(report_row(&site, "M-1", &period)["hours"], "3.00");
    let items = review_rows(&site, &[]);
    let item = items
        .iter()
        .find(|r| r["item"] == again.id.to_string())
        .expect("the second entry is a review item");
    assert_eq!(item["reasons"], "overlap");
    resolve(&site, &again.id.to_string(), &["--approve"]);
    assert_eq!(
        report_row(&site, "M-1", &period)["hours"],
        "3.00",
        "approved, still the union"
    );
    assert!(review_rows(&site, &[])
        .iter()
        .all(|r| r["item"] != again.id.to_string()));
}

#[test]
fn the_review_queue_ends_from_the_cli_and_the_api() {
    let site = Site::new();
    let server = Server::start(&site);
    let front = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &front, 1);
    // Over the cap: 06:00-15:00.
    let long_in = k.scan(&site, "M-1", at("2026-10-05", 6, 0), EventKind::CheckIn);
    let long_out = k.scan(
        &site,
        "M-1",
        at("2026-10-05", 15, 0),
        EventKind::CheckOut {
            check_in: Some(long_in.id),
        },
    );
    // A check-out with no check-in.
    let lone = k.scan(
        &site,
        "M-2",
        at("2026-10-06", 10, 0),
        EventKind::CheckOut { check_in: None },
    );
    // A mentor nobody imported: set aside.
    let stranger = k.event(
        Some("M-9"),
        at("2026-10-07", 8, 0),
        EventKind::CheckIn,
        Source::BadgeScan {
            generation: 1,
            provisional: true,
            badge_hash: "x".into(),
            proof: None,
        },
    );
    let ack = k.send(vec![
        long_in.clone(),
        long_out,
        lone.clone(),
        stranger.clone(),
    ]);
    assert!(
        e2e_tests::upload::server_reasons(&site, &ack).contains("unknown_mentor"),
        "{ack}"
    );

    let items = review_rows(&site, &["--period", "2026-fall"]);
    let find = |id: &EventId| items.iter().find(|r| r["item"] == id.to_string()).cloned();
    let long = find(&long_in.id).expect("over the cap");
    assert_eq!(long["reasons"], "over_cap");
    assert_eq!(
        long["start"], "2026-10-05T06:00:00-05:00",
        "school-local, with its offset"
    );
    assert_eq!(long["end"], "2026-10-05T15:00:00-05:00");
    assert_eq!(long["kiosks"], kiosk_id_of(&front));
    assert_eq!(
        find(&lone.id).expect("lone")["reasons"],
        "check_out_without_check_in"
    );
    let set_aside = find(&stranger.id).expect("set aside");
    assert_eq!(
        (set_aside["reasons"].as_str(), set_aside["end"].as_str()),
        ("set_aside", "")
    );
    assert_eq!(set_aside["start"], "2026-10-07T08:00:00-05:00");

    // CLI: approve the long day; set the lone check-out's start.
    assert_eq!(report_row(&site, "M-1", "2026-fall")["hours"], "0.00");
    resolve(&site, &long_in.id.to_string(), &["--approve"]);
    assert_eq!(report_row(&site, "M-1", "2026-fall")["hours"], "9.00");
    resolve(
        &site,
        &lone.id.to_string(),
        &["--start", "2026-10-06T08:00:00-05:00"],
    );
    assert_eq!(report_row(&site, "M-2", "2026-fall")["hours"], "2.00");
    // Resolving it again: it no longer needs review.
    let again = e2e_tests::run(
        "sync-server",
        &[
            "--db",
            site.db.as_str(),
            "review",
            "resolve",
            &lone.id.to_string(),
            "--approve",
            "--by",
            "Olga",
            "--reason",
            "x",
        ],
        site.dir.path(),
    );
    assert!(!again.status.success());

    // API: an organizer of this school rejects the stranger's scan; who comes from her token.
    let olga = site.add_organizer("Olga", &["--school", "lincoln"]);
    let path = format!("/api/v1/reviews/{}", stranger.id);
    let (status, _) = http(
        &server.url,
        "POST",
        &path,
        Some(&front),
        br#"{"action":"reject","reason":"not ours"}"#,
    );
    assert_eq!(status, 401, "a kiosk token cannot resolve");
    let (status, body) = http(
        &server.url,
        "POST",
        &path,
        Some(&olga),
        br#"{"action":"approve","reason":"x"}"#,
    );
    assert_eq!(
        status, 400,
        "a set-aside event is accepted or rejected: {body}"
    );
    let (status, body) = http(
        &server.url,
        "POST",
        &path,
        Some(&olga),
        br#"{"action":"reject","reason":"not one of ours"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let (status, csv) = http(
        &server.url,
        "GET",
        "/api/v1/reviews?format=csv",
        Some(&olga),
        b"",
    );
    assert_eq!(status, 200);
    assert!(
        csv.starts_with("item,mentor_id,mentor_name,school_id,period,start,end,reasons,kiosks"),
        "{csv}"
    );
    assert!(!csv.contains(&stranger.id.to_string()), "{csv}");
    let (status, _) = http(
        &server.url,
        "POST",
        &path,
        Some(&olga),
        br#"{"action":"reject","reason":"again"}"#,
    );
    assert_eq!(status, 409, "already resolved");
    let (status, _) = http(
        &server.url,
        "POST",
        "/api/v1/reviews/not-an-id",
        Some(&olga),
        br#"{"action":"void","reason":"x"}"#,
    );
    assert_eq!(status, 400);

    // Every resolution is an event naming who and why; nothing was edited.
    let by: Vec<String> = site.column("SELECT body FROM events WHERE kiosk = 'server'", &[]);
    assert_eq!(by.len(), 3);
    assert!(
        by.iter().all(|b| b.contains(r#""organizer":"Olga""#)),
        "{by:?}"
    );
}

#[test]
fn a_kiosk_clock_is_judged_by_the_checks_around_its_events() {
    let site = Site::new();
    let server = Server::start(&site);
    let front = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &front, 1);
    let six = Duration::minutes(6);
    // Right at the last sync (its clock check), 6 minutes fast at this one: not parked.
    let check = k.clock(
        at("2026-10-05", 7, 0),
        EventKind::ClockCheck {
            server_clock: at("2026-10-05", 7, 0),
        },
    );
    k.send(vec![check]);
    let i = k.scan(&site, "M-1", at("2026-10-05", 8, 0), EventKind::CheckIn);
    let o = k.scan(
        &site,
        "M-1",
        at("2026-10-05", 10, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    k.send_at(vec![i, o], Utc::now() + six);
    assert_eq!(report_row(&site, "M-1", "2026-fall")["hours"], "2.00");

    // M-2's kiosk restarted 6 minutes fast, recorded the morning, then NTP set it back before
    // it synced: the sync sees a right clock, the jump says the morning's was not.
    let side = site.add_kiosk("side");
    let mut s = Uploader::new(&server, &side, 2);
    let started = s.clock(at("2026-10-06", 7, 36), EventKind::Started);
    let i = s.scan(&site, "M-2", at("2026-10-06", 8, 6), EventKind::CheckIn);
    let o = s.scan(
        &site,
        "M-2",
        at("2026-10-06", 10, 6),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    let jump = s.clock(
        at("2026-10-06", 10, 30),
        EventKind::ClockJump {
            delta_ms: -six.num_milliseconds(),
        },
    );
    s.send(vec![started, i.clone(), o, jump]);
    assert_eq!(report_row(&site, "M-2", "2026-fall")["hours"], "0.00");
    let item = review_rows(&site, &[])
        .into_iter()
        .find(|r| r["item"] == i.id.to_string())
        .expect("a review item");
    assert_eq!(item["reasons"], "kiosk_clock_skew");
    // Set right by hand: it counts.
    resolve(
        &site,
        &i.id.to_string(),
        &[
            "--start",
            "2026-10-06T08:00:00-05:00",
            "--end",
            "2026-10-06T10:00:00-05:00",
        ],
    );
    assert_eq!(report_row(&site, "M-2", "2026-fall")["hours"], "2.00");
    // Clock events are the kiosk's, not a mentor's: they are not counted among events.
    assert_eq!(
        site.server_event_count(),
        2 + 2 + 1,
        "four scans and one resolution"
    );
}

#[test]
fn a_moved_or_deactivated_mentor_keeps_her_hours_and_her_stipend() {
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
    site.server(&["program", "set", "--threshold", "2"]);
    let server = Server::start(&site);
    let front = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &front, 1);
    // Recorded at Lincoln before her move, delivered after it.
    let i = k.scan(&site, "M-1", at("2026-10-05", 8, 0), EventKind::CheckIn);
    let o = k.scan(
        &site,
        "M-1",
        at("2026-10-05", 10, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    let late = k.scan(&site, "M-1", at("2026-10-12", 8, 0), EventKind::CheckIn);
    site.server(&[
        "mentor",
        "move",
        "M-1",
        "--school",
        "jefferson",
        "--from",
        "2026-10-10",
    ]);
    let ack = k.send(vec![i, o, late.clone()]);
    // Her badge at Lincoln after the move is a visit: held for organizers to decide.
    assert_eq!(
        e2e_tests::upload::server_reasons(&site, &ack),
        "visit",
        "{ack}"
    );
    let row = report_row(&site, "M-1", "2026-fall");
    assert_eq!(
        (
            row["hours"].as_str(),
            row["school_id"].as_str(),
            row["eligible"].as_str()
        ),
        ("2.00", "jefferson", "true")
    );
    assert_eq!(row["set_aside"], "1");
    // Lincoln's organizer sees the held visit to decide.
    let lincoln = review_rows(&site, &["--school", "lincoln"]);
    assert!(
        lincoln
            .iter()
            .any(|r| r["item"] == late.id.to_string() && r["reasons"] == "set_aside"),
        "{lincoln:?}"
    );
    // Lincoln's organizer sees her row: she earned hours there this period.
    let ana = site.add_organizer("Ana", &["--school", "lincoln"]);
    let (_, csv) = http(
        &server.url,
        "GET",
        "/api/v1/reports/hours?format=csv&period=2026-fall",
        Some(&ana),
        b"",
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("M-1,") && l.contains(",jefferson,")),
        "{csv}"
    );

    // Deactivated: no more scans, but still owed, in every report, and payable.
    site.server(&["mentor", "deactivate", "M-1"]);
    let row = report_row(&site, "M-1", "2026-fall");
    assert_eq!(
        (
            row["active"].as_str(),
            row["eligible"].as_str(),
            row["paid_on"].as_str()
        ),
        ("false", "true", "")
    );
    let all = site.server(&["report", "hours", "--format", "csv", "--period", "all"]);
    assert!(
        all.lines()
            .any(|l| l.starts_with("M-1,") && l.contains(",2026-fall,")),
        "{all}"
    );
    site.server(&[
        "stipend",
        "paid",
        "--mentor",
        "M-1",
        "--period",
        "2026-fall",
        "--amount",
        "600",
        "--reference",
        "CHK-7",
    ]);
    assert_ne!(report_row(&site, "M-1", "2026-fall")["paid_on"], "");
}

#[test]
fn payments_are_booked_once_and_voided_never_deleted() {
    let site = Site::new();
    site.server(&["program", "set", "--threshold", "2"]);
    let server = Server::start(&site);
    let front = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &front, 1);
    let i = k.scan(&site, "M-1", at("2026-10-05", 8, 0), EventKind::CheckIn);
    let o = k.scan(
        &site,
        "M-1",
        at("2026-10-05", 10, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    k.send(vec![i, o]);
    let olga = site.add_organizer("Olga", &["--all"]);
    let pay = |body: &str| {
        http(
            &server.url,
            "POST",
            "/api/v1/stipends",
            Some(&olga),
            body.as_bytes(),
        )
    };
    let body = |period: &str, extra: &str| {
        format!(
            r#"{{"mentor":"M-1","period":"{period}","amount":"600.00","paid_on":"2026-12-01","reference":"CHK-1"{extra}}}"#
        )
    };
    let (status, message) = pay(&body("+2026-fall", ""));
    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains("2026-fall"),
        "the message says how to write it: {message}"
    );
    let (status, first) = pay(&body("2026-fall", ""));
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        pay(&body("2026-fall", "")).0,
        409,
        "a double click records one payment"
    );
    assert_eq!(pay(&body("2026-fall", r#","additional":true"#)).0, 201);
    assert_eq!(
        pay(&body("2026-spring", "")).0,
        409,
        "not eligible in spring"
    );
    let cli = e2e_tests::run(
        "sync-server",
        &[
            "--db",
            site.db.as_str(),
            "stipend",
            "paid",
            "--mentor",
            "M-1",
            "--period",
            "2026-fall",
            "--amount",
            "5",
            "--reference",
            "X",
        ],
        site.dir.path(),
    );
    assert!(
        !cli.status.success(),
        "the CLI refuses a second payment too"
    );

    // Voided payments stay in the ledger; when none is left, she shows as unpaid again.
    let ids: Vec<i64> = site.column("SELECT id FROM stipend_payments ORDER BY id", &[]);
    assert_eq!(ids.len(), 2);
    let (status, _) = http(
        &server.url,
        "POST",
        &format!("/api/v1/stipends/{}/void", ids[0]),
        Some(&olga),
        br#"{"reason":"wrong check"}"#,
    );
    assert_eq!(status, 200);
    site.server(&[
        "stipend",
        "void",
        &ids[1].to_string(),
        "--reason",
        "entered twice",
    ]);
    assert_eq!(report_row(&site, "M-1", "2026-fall")["paid_on"], "");
    let (_, ledger) = http(
        &server.url,
        "GET",
        "/api/v1/stipends?format=csv",
        Some(&olga),
        b"",
    );
    assert_eq!(
        ledger.lines().count(),
        3,
        "both payments are still in the ledger: {ledger}"
    );
    assert!(
        ledger.contains("wrong check") && ledger.contains("entered twice"),
        "{ledger}"
    );
    assert_eq!(pay(&body("2026-fall", "")).0, 201, "paid again, properly");
}

#[test]
fn a_kiosk_not_yet_upgraded_still_syncs() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("old");
    // Protocol 1's roster: no fields a protocol 1 kiosk would refuse.
    let (status, body) = http(&server.url, "GET", "/api/v1/roster", Some(&token), b"");
    assert_eq!(status, 200);
    assert!(body.contains(r#""protocol":1"#), "{body}");
    assert!(
        !body.contains("min_session_minutes") && !body.contains(r#""recent""#),
        "{body}"
    );
    let (_, body) = http(
        &server.url,
        "GET",
        "/api/v1/roster?protocol=2",
        Some(&token),
        b"",
    );
    assert!(
        body.contains("min_session_minutes") && body.contains(r#""recent""#),
        "{body}"
    );
}

/// Random mornings at two kiosks with syncs in between; after everyone syncs, every kiosk shows
/// each mentor exactly the hours the server's report credits.
#[test]
fn every_kiosk_shows_what_the_report_credits() {
    let site = Site::new();
    let server = Server::start(&site);
    set_up_kiosk(&site, "kiosk-a", &server);
    set_up_kiosk(&site, "kiosk-b", &server);
    let zone = chicago().tz();
    let today = Utc::now().with_timezone(&zone).date_naive();
    // Days of this period before today (the kiosk shows this period's hours).
    let period = pm_shared::ProgramRules::default().period_of(today);
    let days: Vec<NaiveDate> = (1..=6)
        .map(|k| today - Duration::days(k))
        .filter(|d| period.contains(*d))
        .collect();
    let mut seed: u64 = 0x5eed_1234_abcd;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for day in &days {
        for step in 0..6 {
            let kiosk = if next(2) == 0 { "kiosk-a" } else { "kiosk-b" };
            let minute = 7 * 60 + step * 50 + next(40);
            let time = at(&day.to_string(), (minute / 60) as u32, (minute % 60) as u32);
            let mentor = format!("badges/M-{}.png", next(3) + 1);
            let name = format!("s-{day}-{step}.csv");
            let script = site.script(&name, &[(&time.to_rfc3339(), &mentor)]);
            site.kiosk_ok(kiosk, &["replay", &script]);
            if next(3) == 0 {
                site.kiosk_ok(kiosk, &["sync", "--once"]);
            }
        }
    }
    for kiosk in ["kiosk-a", "kiosk-b", "kiosk-a"] {
        site.kiosk_ok(kiosk, &["sync", "--once"]);
    }
    let report = site.server(&["report", "hours", "--format", "csv"]);
    for kiosk in ["kiosk-a", "kiosk-b"] {
        let shown = site.kiosk_ok(kiosk, &["hours"]);
        for line in shown.lines().skip(1) {
            let fields: Vec<&str> = line.split('\t').collect();
            let (mentor, hours) = (fields[0], fields[2]);
            let row = report
                .lines()
                .find(|l| l.starts_with(&format!("{mentor},")))
                .unwrap_or_else(|| panic!("{mentor} not in\n{report}"));
            let credited = row.split(',').nth(4).unwrap_or_default();
            assert_eq!(
                hours, credited,
                "{kiosk} shows {mentor} {hours} h, the report {credited} h\n{report}\n{shown}"
            );
        }
    }
}
