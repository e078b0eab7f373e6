//! A whole school year (issue 18), against the real binaries: rules per period, time entered
//! after the fact, visits to another school, decisions that can be undone, approvals of what
//! the organizer saw, the kiosk after a void, and the small money faults. Dates are taken
//! relative to today and periods computed from them, so the tests hold as the calendar moves.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use e2e_tests::upload::{at, chicago, chicago_today, Uploader};
use e2e_tests::{http, run, Server, Site};
use pm_shared::{EventKind, HourCategory, Period, ProgramRules, Source};

/// The period before today's: past at every school.
fn closed_period() -> Period {
    let rules = ProgramRules::default();
    let current = rules.period_of(chicago_today());
    rules.period_of(current.first_day - Duration::days(1))
}

fn day(p: &Period, n: i64) -> String {
    (p.first_day + Duration::days(n)).to_string()
}

fn days_ago(n: i64) -> String {
    (chicago_today() - Duration::days(n)).to_string()
}

fn period_of(date: &str) -> String {
    let d: NaiveDate = date.parse().expect("date");
    ProgramRules::default().period_of(d).name.0
}

/// `sync-server` that must fail; its standard error.
fn server_fails(site: &Site, args: &[&str]) -> String {
    let mut all = vec!["--db", site.db.as_str()];
    all.extend_from_slice(args);
    let out = run("sync-server", &all, site.dir.path());
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One CSV row of a report as (column → value).
fn csv_row(csv: &str, key: &str) -> Option<std::collections::HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_owned)
        .collect();
    let line = lines.find(|l| l.starts_with(&format!("{key},")))?;
    Some(
        header
            .into_iter()
            .zip(line.split(',').map(str::to_owned))
            .collect(),
    )
}

fn hours_of(site: &Site, mentor: &str, period: &str) -> (String, String) {
    let row = csv_row(&site.hours_csv(period), mentor)
        .unwrap_or_else(|| panic!("no row for {mentor} in {period}"));
    (row["hours"].clone(), row["eligible"].clone())
}

fn session(k: &mut Uploader, site: &Site, mentor: &str, date: &str, from: u32, to: u32) {
    let check_in = k.scan(site, mentor, at(date, from, 0), EventKind::CheckIn);
    let id = check_in.id;
    let check_out = k.scan(
        site,
        mentor,
        at(date, to, 0),
        EventKind::CheckOut { check_in: Some(id) },
    );
    k.send(vec![check_in, check_out]);
}

fn review_json(server: &Server, token: &str) -> Vec<serde_json::Value> {
    let (status, body) = http(
        &server.url,
        "GET",
        "/api/v1/reviews?format=json",
        Some(token),
        b"",
    );
    assert_eq!(status, 200, "{body}");
    let value: serde_json::Value = serde_json::from_str(&body).expect("json");
    value
        .as_array()
        .cloned()
        .or_else(|| value["items"].as_array().cloned())
        .unwrap_or_default()
}

fn post_json(server: &Server, token: &str, path: &str, body: serde_json::Value) -> (u16, String) {
    http(
        &server.url,
        "POST",
        path,
        Some(token),
        body.to_string().as_bytes(),
    )
}

fn add_coordinator(site: &Site, school: &str) {
    site.add_coordinator(school, "Ms. Rivera", "24681379");
}

/// A span of today (Chicago) that has passed: from midnight or two hours ago, to a minute ago.
fn earlier_today() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = Utc::now();
    let midnight = at(&chicago_today().to_string(), 0, 0);
    let start = midnight.max(now - Duration::hours(2));
    (start, start + (now - start) / 2)
}

#[test]
fn a_rule_change_never_rewrites_a_closed_period() {
    let site = Site::new();
    let server = Server::start(&site);
    // Before anything is recorded, a change sets the rules of every period.
    site.server(&["program", "set", "--threshold", "4"]);
    let show = site.server(&["program", "show"]);
    assert!(
        show.starts_with("period\tfirst_day\tlast_day\tstatus\tthreshold"),
        "{show}"
    );
    let closed = closed_period();
    let token = site.add_kiosk("room");
    let mut k = Uploader::new(&server, &token, 1);
    session(&mut k, &site, "M-1", &day(&closed, 3), 8, 10);
    session(&mut k, &site, "M-1", &day(&closed, 4), 8, 10);
    session(&mut k, &site, "M-3", &day(&closed, 3), 8, 12);
    session(&mut k, &site, "M-2", &day(&closed, 3), 8, 11);
    let name = closed.name.0.clone();
    site.server(&[
        "stipend",
        "paid",
        "--mentor",
        "M-3",
        "--period",
        &name,
        "--amount",
        "500.00",
        "--reference",
        "CHK-1",
    ]);
    let hours_before = site.hours_csv(&name);
    let program_before = site.server(&["report", "program", "--period", &name]);
    assert_eq!(
        hours_of(&site, "M-1", &name),
        ("4.00".into(), "true".into())
    );

    // In the next period the program raises the threshold: the closed period keeps its rules.
    site.server(&["program", "set", "--threshold", "10"]);
    assert_eq!(site.hours_csv(&name), hours_before);
    assert_eq!(
        site.server(&["report", "program", "--period", &name]),
        program_before
    );
    let all: serde_json::Value = serde_json::from_str(
        &site.server(&["report", "hours", "--format", "json", "--period", "all"]),
    )
    .expect("json");
    let owed: Vec<&serde_json::Value> = all
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["eligible"] == true && r["paid_on"] == "")
        .collect();
    assert!(
        owed.iter()
            .any(|r| r["mentor_id"] == "M-1" && r["period"] == name.as_str()),
        "M-1 is still eligible and unpaid for {name}: {owed:?}"
    );
    site.server(&[
        "stipend",
        "paid",
        "--mentor",
        "M-1",
        "--period",
        &name,
        "--amount",
        "500.00",
        "--reference",
        "CHK-2",
    ]);
    let current = ProgramRules::default().period_of(chicago_today()).name.0;
    let show = site.server(&["program", "show"]);
    let line = |p: &str| {
        show.lines()
            .find(|l| l.starts_with(&format!("{p}\t")))
            .unwrap_or_else(|| panic!("{p} in\n{show}"))
            .to_owned()
    };
    assert!(line(&name).contains("\tclosed\t4\t"), "{show}");
    assert!(line(&current).contains("\tcurrent\t10\t"), "{show}");
    // A closed period cannot be named.
    let refused = server_fails(
        &site,
        &["program", "set", "--threshold", "1", "--from-period", &name],
    );
    assert!(refused.contains("closed"), "{refused}");
    assert!(
        line(&name).contains("\tclosed\t4\t"),
        "unchanged by the refusal"
    );

    // Semesters to school years: from the next 1 July, never over a period that has begun.
    let out = run(
        "sync-server",
        &[
            "--db",
            site.db.as_str(),
            "program",
            "set",
            "--periods",
            "years",
            "--threshold",
            "200",
        ],
        site.dir.path(),
    );
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("-year (from ") && said.contains("-07-01"),
        "{said}"
    );
    let show = site.server(&["program", "show"]);
    assert!(line(&name).contains("\tclosed\t4\t"), "{show}");
    assert!(
        show.contains("-year\t") && show.contains("-07-01\t"),
        "{show}"
    );
    assert!(
        show.lines().any(|l| l.starts_with(&format!("{current}\t"))),
        "the current semester stays: {show}"
    );
    // No year covers the semesters already paid: no second payment for the same time.
    let year_over_closed = format!("{}-year", closed.first_day.format("%Y"));
    let year_before = format!(
        "{}-year",
        closed
            .last_day
            .format("%Y")
            .to_string()
            .parse::<i32>()
            .unwrap_or(2026)
            - 1
    );
    for year in [year_over_closed, year_before] {
        let refused = server_fails(
            &site,
            &[
                "stipend",
                "paid",
                "--mentor",
                "M-3",
                "--period",
                &year,
                "--amount",
                "500.00",
                "--reference",
                "CHK-3",
                "--not-eligible",
            ],
        );
        assert!(refused.contains("period"), "{refused}");
    }
    assert_eq!(
        site.hours_csv(&name).lines().count(),
        hours_before.lines().count()
    );
}

#[test]
fn time_entered_after_the_fact_is_credited_once() {
    let site = Site::new();
    let server = Server::start(&site);
    let date = days_ago(30);
    let period = period_of(&date);
    let start = at(&date, 8, 0).with_timezone(&chicago().tz()).to_rfc3339();
    let end = at(&date, 10, 30)
        .with_timezone(&chicago().tz())
        .to_rfc3339();
    let out = site.server(&[
        "session",
        "add",
        "--mentor",
        "M-1",
        "--start",
        &start,
        "--end",
        &end,
        "--category",
        "classroom",
        "--by",
        "Olga",
        "--reason",
        "the kiosk was broken",
    ]);
    let ids: Vec<&str> = out.lines().collect();
    assert_eq!(ids.len(), 1, "{out}");
    assert!(ids[0].parse::<pm_shared::EventId>().is_ok(), "{out}");
    let row = csv_row(&site.hours_csv(&period), "M-1").expect("row");
    assert_eq!(
        (row["hours"].as_str(), row["needs_review"].as_str()),
        ("2.50", "0")
    );

    // A paper sign-in sheet: all or nothing, broken rows named by line.
    let sheet_day = days_ago(20);
    std::fs::write(
        site.path("sheet.csv"),
        format!(
            "mentor_id,date,start,end,category\nM-2,{sheet_day},08:00,10:00,classroom\nM-3,{sheet_day},13:00,14:15,workshop\n"
        ),
    )
    .expect("sheet");
    let before = site.server_event_count();
    std::fs::write(
        site.path("broken.csv"),
        format!("mentor_id,date,start,end,category\nM-2,{sheet_day},08:00,10:00,classroom\nM-3,{sheet_day},8h,10:00,classroom\n"),
    )
    .expect("sheet");
    let refused = server_fails(
        &site,
        &[
            "session",
            "import",
            "broken.csv",
            "--by",
            "Olga",
            "--reason",
            "paper",
        ],
    );
    assert!(refused.contains("line 3"), "{refused}");
    std::fs::write(
        site.path("header.csv"),
        "mentor,date,start,end\nM-2,2026-10-05,08:00,10:00\n",
    )
    .expect("sheet");
    let refused = server_fails(
        &site,
        &[
            "session",
            "import",
            "header.csv",
            "--by",
            "Olga",
            "--reason",
            "paper",
        ],
    );
    assert!(
        refused.contains("mentor_id,date,start,end,category"),
        "{refused}"
    );
    assert_eq!(site.server_event_count(), before, "nothing recorded");
    let out = site.server(&[
        "session",
        "import",
        "sheet.csv",
        "--by",
        "Olga",
        "--reason",
        "paper sign-in sheet",
    ]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let sheet_period = period_of(&sheet_day);
    let csv = site.hours_csv(&sheet_period);
    assert_eq!(csv_row(&csv, "M-2").expect("row")["hours"], "2.00");
    assert_eq!(csv_row(&csv, "M-3").expect("row")["hours"], "1.25");

    // The API: one session, or a sheet; who entered it from the token; her schools only.
    let olga = site.add_organizer("Olga", &["--school", "lincoln"]);
    site.add_jefferson();
    let jo = site.add_organizer("Jo", &["--school", "jefferson"]);
    let api_day = days_ago(10);
    let one = serde_json::json!({
        "mentor": "M-1", "start": at(&api_day, 9, 0), "end": at(&api_day, 11, 0),
        "category": "training", "reason": "training day on paper",
    });
    let (status, body) = post_json(&server, &jo, "/api/v1/sessions", one.clone());
    assert_eq!(status, 403, "{body}");
    let (status, body) = post_json(&server, &olga, "/api/v1/sessions", one);
    assert_eq!(status, 201, "{body}");
    let sheet = serde_json::json!({
        "sessions": [
            {"mentor": "M-2", "start": at(&api_day, 13, 0), "end": at(&api_day, 15, 0), "category": "community"},
            {"mentor": "M-3", "start": at(&api_day, 13, 0), "end": at(&api_day, 14, 0), "category": "workshop"},
        ],
        "reason": "workshop sheet",
    });
    let (status, body) = post_json(&server, &olga, "/api/v1/sessions", sheet);
    assert_eq!(status, 201, "{body}");
    let recorded: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        recorded["recorded"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );
    for bad in [
        serde_json::json!({"mentor": "M-1", "start": at(&api_day, 9, 0), "end": at(&api_day, 8, 0), "category": "training", "reason": "x"}),
        serde_json::json!({"mentor": "M-1", "start": Utc::now(), "end": Utc::now() + Duration::hours(2), "category": "training", "reason": "x"}),
        serde_json::json!({"mentor": "M-1", "start": at(&api_day, 9, 0), "end": at(&api_day, 10, 0), "category": "lunch", "reason": "x"}),
        serde_json::json!({"mentor": "M-1", "start": at(&api_day, 9, 0), "end": at(&api_day, 10, 0), "category": "training", "reason": ""}),
    ] {
        let (status, body) = post_json(&server, &olga, "/api/v1/sessions", bad);
        assert_eq!(status, 400, "{body}");
    }
    let (_, entries) = http(
        &server.url,
        "GET",
        "/api/v1/coordinator-entries",
        Some(&olga),
        b"",
    );
    assert!(
        entries.contains("\"entered_by\":\"organizer\""),
        "{entries}"
    );
    assert!(entries.contains("workshop sheet"), "{entries}");
    let (_, page) = http(&server.url, "GET", "/api/v1/mentors/M-1", Some(&olga), b"");
    assert!(page.contains("training day on paper"), "{page}");

    // Two entries of the same time: the later one waits for review, nothing is paid twice.
    let before = csv_row(&site.hours_csv(&period), "M-1").expect("row")["hours"].clone();
    let start = at(&date, 9, 0).with_timezone(&chicago().tz()).to_rfc3339();
    site.server(&[
        "session",
        "add",
        "--mentor",
        "M-1",
        "--start",
        &start,
        "--end",
        &end,
        "--category",
        "classroom",
        "--by",
        "Olga",
        "--reason",
        "entered twice by mistake",
    ]);
    let row = csv_row(&site.hours_csv(&period), "M-1").expect("row");
    assert_eq!(
        (&row["hours"], row["needs_review"].as_str()),
        (&before, "1")
    );

    // A coordinator's classroom entry at the kiosk waits for an organizer; her training
    // entry counts.
    add_coordinator(&site, "lincoln");
    let token = site.add_kiosk("room");
    let mut k = Uploader::new(&server, &token, 1);
    let entry_day = days_ago(3);
    let classroom = k.coordinator(
        "M-2",
        Utc::now(),
        EventKind::AddSession {
            category: HourCategory::Classroom,
            start: at(&entry_day, 8, 0),
            end: at(&entry_day, 10, 0),
            group: None,
        },
    );
    let training = k.coordinator(
        "M-3",
        Utc::now(),
        EventKind::AddSession {
            category: HourCategory::Training,
            start: at(&entry_day, 8, 0),
            end: at(&entry_day, 10, 0),
            group: None,
        },
    );
    let ack = k.send(vec![classroom.clone(), training]);
    assert!(!ack.contains("set_aside\":[{"), "{ack}");
    let items = review_json(&server, &olga);
    let item = items
        .iter()
        .find(|i| i["item"] == classroom.id.to_string())
        .unwrap_or_else(|| panic!("{items:?}"));
    assert_eq!(
        item["reasons"],
        serde_json::json!(["coordinator_classroom"])
    );
    assert_eq!(item["approvable"], true);
    let entry_period = period_of(&entry_day);
    let row = csv_row(&site.hours_csv(&entry_period), "M-3").expect("row");
    assert!(row["hours"] != "0.00", "{row:?}");
}

#[test]
fn a_set_aside_impossible_instant_points_to_entering_the_real_session() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("room");
    let mut k = Uploader::new(&server, &token, 1);
    let old = chrono::TimeZone::with_ymd_and_hms(&Utc, 1970, 1, 1, 8, 0, 0)
        .single()
        .expect("1970");
    let scan = k.scan(&site, "M-1", old, EventKind::CheckIn);
    k.send(vec![scan.clone()]);
    let refused = server_fails(
        &site,
        &[
            "review",
            "resolve",
            &scan.id.to_string(),
            "--accept",
            "--by",
            "Olga",
            "--reason",
            "r",
        ],
    );
    assert!(refused.contains("session add"), "{refused}");
}

#[test]
fn a_visit_is_held_pairs_on_the_kiosk_and_counts_once_accepted() {
    let site = Site::new();
    let server = Server::start(&site);
    let jefferson = site.add_jefferson();
    site.kiosk_ok(
        "jroom",
        &["setup", "--server", &server.url, "--token", &jefferson],
    );
    site.kiosk_ok("jroom", &["sync", "--once"]);
    let date = days_ago(1);
    let when = |h: u32| at(&date, h, 0).to_rfc3339();
    let s = site.script("in.csv", &[(&when(9), "badges/M-1.png")]);
    let out = site.kiosk_ok("jroom", &["replay", &s]);
    assert!(out.contains("checked-in M-1"), "{out}");
    site.kiosk_ok("jroom", &["sync", "--once"]);
    // Held for organizers, and the kiosk was told it still pairs.
    let held = |site: &Site| -> Vec<(String, i64)> {
        let db = rusqlite::Connection::open(site.path("jroom/kiosk.db")).expect("kiosk db");
        let mut stmt = db
            .prepare(
                "SELECT COALESCE(set_aside_reason, ''), set_aside_pairs FROM events ORDER BY at",
            )
            .expect("query");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows");
        rows.map(|r| r.expect("row")).collect()
    };
    assert_eq!(held(&site), vec![("set_aside".to_owned(), 1)]);
    let s = site.script("out.csv", &[(&when(12), "badges/M-1.png")]);
    let out = site.kiosk_ok("jroom", &["replay", &s]);
    assert!(
        out.contains("checked-out M-1"),
        "her departure pairs with her arrival: {out}"
    );
    site.kiosk_ok("jroom", &["sync", "--once"]);
    assert_eq!(held(&site).len(), 2);
    assert!(held(&site).iter().all(|(_, pairs)| *pairs == 1));
    let hours = |site: &Site| {
        let row = csv_row(&site.hours_csv(&period_of(&date)), "M-1").expect("row");
        (row["hours"].clone(), row["set_aside"].clone())
    };
    assert_eq!(
        hours(&site),
        ("0.00".into(), "2".into()),
        "held, not credited"
    );
    // Listed for both schools' organizers; the visited school's sees her id only.
    let olga = site.add_organizer("Olga", &["--school", "lincoln"]);
    let jo = site.add_organizer("Jo", &["--school", "jefferson"]);
    let visits = |token: &str| -> Vec<serde_json::Value> {
        review_json(&server, token)
            .into_iter()
            .filter(|i| i["mentor_id"] == "M-1" && i["set_aside_reason"] == "visit")
            .collect()
    };
    assert_eq!(visits(&olga).len(), 2);
    let theirs = visits(&jo);
    assert_eq!(theirs.len(), 2);
    assert!(theirs.iter().all(|i| i["mentor_name"] == ""), "{theirs:?}");
    // The visited school's organizer accepts both: the visit counts, once.
    for item in theirs {
        let id = item["item"].as_str().expect("item id");
        let (status, body) = post_json(
            &server,
            &jo,
            &format!("/api/v1/reviews/{id}"),
            serde_json::json!({"action": "accept", "reason": "joint workshop"}),
        );
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!(hours(&site), ("3.00".into(), "0".into()));

    // Over the API: a visit is `set_aside` with `pairs`; anything else set aside is not.
    let mut v = Uploader::new(&server, &jefferson, 8);
    let scan = v.scan(&site, "M-2", at(&date, 8, 0), EventKind::CheckIn);
    let ack: serde_json::Value = serde_json::from_str(&v.send(vec![scan])).expect("ack");
    assert_eq!(ack["set_aside"][0]["reason"], "set_aside");
    assert_eq!(ack["set_aside"][0]["pairs"], true);

    // A deactivated mentor's badge is no visit.
    site.server(&["mentor", "deactivate", "M-3"]);
    let mut v = Uploader::new(&server, &jefferson, 9);
    let scan = v.scan(&site, "M-3", at(&date, 13, 0), EventKind::CheckIn);
    let ack = v.send(vec![scan]);
    assert!(
        e2e_tests::upload::server_reasons(&site, &ack).contains("not_at_school"),
        "{ack}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&ack).expect("ack");
    assert_eq!(parsed["set_aside"][0]["pairs"], false, "{ack}");

    // What the kiosk there may not claim (a coordinator's entry) is set aside, and listed for
    // both schools' organizers; the visited school's sees her id only.
    add_coordinator(&site, "jefferson");
    let mut k = Uploader::new(&server, &jefferson, 7);
    let (start, end) = earlier_today();
    let entry = k.coordinator(
        "M-2",
        Utc::now(),
        EventKind::AddSession {
            category: HourCategory::Workshop,
            start,
            end,
            group: None,
        },
    );
    let ack = k.send(vec![entry.clone()]);
    assert!(
        e2e_tests::upload::server_reasons(&site, &ack).contains("not_at_school"),
        "{ack}"
    );
    let id = entry.id.to_string();
    let theirs = review_json(&server, &olga);
    let at_lincoln = theirs
        .iter()
        .find(|i| i["item"] == id)
        .expect("her school lists it");
    assert_eq!(at_lincoln["mentor_name"], "Ann Lee");
    let ours = review_json(&server, &jo);
    let at_jefferson = ours
        .iter()
        .find(|i| i["item"] == id)
        .expect("the kiosk's school lists it");
    assert_eq!(at_jefferson["mentor_name"], "");
    let (status, page) = http(&server.url, "GET", "/api/v1/mentors/M-1", Some(&jo), b"");
    assert_eq!(status, 200, "{page}");
    let page: serde_json::Value = serde_json::from_str(&page).expect("json");
    assert_eq!(
        (page["name"].as_str(), page["language"].as_str()),
        (Some(""), Some(""))
    );

    // Her school's organizer rejects it; moving her there by import looks at it again, and a
    // rejection stays a rejection.
    let (status, body) = post_json(
        &server,
        &olga,
        &format!("/api/v1/reviews/{id}"),
        serde_json::json!({"action": "reject", "reason": "not ours"}),
    );
    assert_eq!(status, 201, "{body}");
    let today_period = period_of(&chicago_today().to_string());
    let before = csv_row(&site.hours_csv(&today_period), "M-2").expect("row")["hours"].clone();
    std::fs::write(
        site.path("moved.csv"),
        "id,name,school,language\nM-2,Ann Lee,jefferson,en\n",
    )
    .expect("csv");
    site.server(&["mentor", "import", "moved.csv"]);
    let still: Vec<String> = site.column(
        "SELECT id FROM events WHERE set_aside_reason IS NOT NULL AND id = ?1",
        &[&id],
    );
    assert!(still.is_empty(), "re-checked after the import");
    assert_eq!(
        csv_row(&site.hours_csv(&today_period), "M-2").expect("row")["hours"],
        before
    );
    // The kiosk's school may still decide: accepted after all, it counts.
    let (status, body) = post_json(
        &server,
        &jo,
        &format!("/api/v1/reviews/{id}"),
        serde_json::json!({"action": "accept", "reason": "she came to our workshop"}),
    );
    assert_eq!(status, 201, "{body}");
    assert_ne!(
        csv_row(&site.hours_csv(&today_period), "M-2").expect("row")["hours"],
        before
    );
}

#[test]
fn every_decision_can_be_reversed() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("room");
    let mut k = Uploader::new(&server, &token, 1);
    let date = days_ago(5);
    let next = days_ago(4);
    let period = period_of(&date);
    // 22:00 to 01:00: across midnight, for review.
    let check_in = k.scan(&site, "M-1", at(&date, 22, 0), EventKind::CheckIn);
    let item = check_in.id;
    let check_out = k.scan(
        &site,
        "M-1",
        at(&next, 1, 0),
        EventKind::CheckOut {
            check_in: Some(item),
        },
    );
    k.send(vec![check_in, check_out]);
    let item = item.to_string();
    let resolve = |target: &str, action: &str| {
        site.server(&[
            "review", "resolve", target, action, "--by", "Olga", "--reason", "asked",
        ])
    };
    let last = |out: String| out.lines().last().unwrap_or_default().trim().to_owned();
    let approval = last(resolve(&item, "--approve"));
    assert!(approval.parse::<pm_shared::EventId>().is_ok(), "{approval}");
    assert_eq!(hours_of(&site, "M-1", &period).0, "3.00");
    let undo = last(resolve(&approval, "--void"));
    assert_eq!(
        hours_of(&site, "M-1", &period).0,
        "0.00",
        "the approval is reversed"
    );
    assert!(site.server(&["review", "list"]).contains(&item));
    resolve(&undo, "--void");
    assert_eq!(
        hours_of(&site, "M-1", &period).0,
        "3.00",
        "the void of the void restores it"
    );
    let again = server_fails(
        &site,
        &[
            "review", "resolve", &undo, "--void", "--by", "O", "--reason", "r",
        ],
    );
    assert!(again.contains("voided already"), "{again}");

    // A set-aside event: rejected, then accepted after all, then rejected again.
    let stranger = k.event(
        Some("M-3"),
        Utc::now() - Duration::minutes(30),
        EventKind::AddSession {
            category: HourCategory::Training,
            start: at(&date, 9, 0),
            end: at(&date, 11, 0),
            group: None,
        },
        Source::Coordinator {
            coordinator: "Nobody".into(),
            reason: "workshop".into(),
        },
    );
    let ack = k.send(vec![stranger.clone()]);
    assert!(
        e2e_tests::upload::server_reasons(&site, &ack).contains("not_a_coordinator"),
        "{ack}"
    );
    let sid = stranger.id.to_string();
    resolve(&sid, "--reject");
    assert_eq!(hours_of(&site, "M-3", &period).0, "0.00");
    resolve(&sid, "--accept");
    assert_eq!(
        hours_of(&site, "M-3", &period).0,
        "2.00",
        "accepted after a rejection"
    );
    let twice = server_fails(
        &site,
        &[
            "review", "resolve", &sid, "--accept", "--by", "O", "--reason", "r",
        ],
    );
    assert!(twice.contains("accepted already"), "{twice}");
    resolve(&sid, "--reject");
    assert_eq!(hours_of(&site, "M-3", &period).0, "0.00");

    // A coordinator's void of a session that needed nothing goes to review, and her hours wait.
    add_coordinator(&site, "lincoln");
    let sound = k.scan(&site, "M-2", at(&date, 8, 0), EventKind::CheckIn);
    let sound_id = sound.id;
    let out = k.scan(
        &site,
        "M-2",
        at(&date, 10, 0),
        EventKind::CheckOut {
            check_in: Some(sound_id),
        },
    );
    k.send(vec![sound, out]);
    assert_eq!(hours_of(&site, "M-2", &period).0, "2.00");
    let void = k.coordinator("M-2", Utc::now(), EventKind::Void { target: sound_id });
    let ack = k.send(vec![void]);
    assert!(!ack.contains("set_aside\":[{"), "{ack}");
    let list = site.server(&["review", "list"]);
    let line = list
        .lines()
        .find(|l| l.starts_with(&sound_id.to_string()))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains("closed_twice"), "{line}");
    resolve(&sound_id.to_string(), "--approve");
    assert_eq!(
        hours_of(&site, "M-2", &period).0,
        "2.00",
        "her approval keeps the hours"
    );

    // Her page lists each decision with its id and what it decides.
    let olga = site.add_organizer("Olga", &["--all"]);
    let (_, page) = http(&server.url, "GET", "/api/v1/mentors/M-1", Some(&olga), b"");
    let page: serde_json::Value = serde_json::from_str(&page).expect("json");
    let corrections = page["corrections"].as_array().expect("corrections");
    let find = |id: &str| {
        corrections
            .iter()
            .find(|c| c["event"] == id)
            .unwrap_or_else(|| panic!("{id} in {corrections:?}"))
    };
    assert_eq!(find(&approval)["decides"], item.as_str());
    assert_eq!(find(&approval)["in_force"], true);
    assert_eq!(find(&undo)["decides"], approval.as_str());
    assert_eq!(find(&undo)["in_force"], false);
}

#[test]
fn an_approval_is_of_what_the_organizer_saw() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("room");
    let mut k = Uploader::new(&server, &token, 1);
    let date = days_ago(6);
    let next = days_ago(5);
    let period = period_of(&date);
    // Real scans carry milliseconds; the queue shows seconds.
    let check_in = k.scan(
        &site,
        "M-1",
        at(&date, 22, 0) + Duration::milliseconds(17_482),
        EventKind::CheckIn,
    );
    let item = check_in.id;
    let check_out = k.scan(
        &site,
        "M-1",
        at(&next, 2, 0) + Duration::milliseconds(3_141),
        EventKind::CheckOut {
            check_in: Some(item),
        },
    );
    k.send(vec![check_in, check_out]);
    let ana = site.add_organizer("Ana", &["--all"]);
    let bea = site.add_organizer("Bea", &["--all"]);
    let seen = review_json(&server, &ana)
        .into_iter()
        .find(|i| i["item"] == item.to_string())
        .expect("item");
    // Bea changes the times meanwhile: 10 hours.
    let (status, body) = post_json(
        &server,
        &bea,
        &format!("/api/v1/reviews/{item}"),
        serde_json::json!({"action": "set_times", "start": at(&date, 16, 0), "reason": "teacher says 4 pm"}),
    );
    assert_eq!(status, 201, "{body}");
    let before = site.server_event_count();
    let approve = serde_json::json!({
        "action": "approve", "reason": "long day",
        "seen": {"reasons": seen["reasons"], "start": seen["start"], "end": seen["end"]},
    });
    let (status, body) = post_json(&server, &ana, &format!("/api/v1/reviews/{item}"), approve);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("\"item_changed\""), "{body}");
    assert_eq!(site.server_event_count(), before, "nothing recorded");
    assert_eq!(hours_of(&site, "M-1", &period).0, "0.00");
    // What she sees now, she may approve.
    let now_seen = review_json(&server, &ana)
        .into_iter()
        .find(|i| i["item"] == item.to_string())
        .expect("item");
    let approve = serde_json::json!({
        "action": "approve", "reason": "long day",
        "seen": {"reasons": now_seen["reasons"], "start": now_seen["start"], "end": now_seen["end"]},
    });
    let (status, body) = post_json(&server, &ana, &format!("/api/v1/reviews/{item}"), approve);
    assert_eq!(status, 201, "{body}");
    assert_eq!(hours_of(&site, "M-1", &period).0, "10.00");
}

#[test]
fn a_kiosk_shows_a_voided_check_in_as_the_server_decided() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("room");
    site.kiosk_ok(
        "room",
        &["setup", "--server", &server.url, "--token", &token],
    );
    let now = Utc::now();
    let tz = chicago().tz();
    let first = (now - Duration::minutes(40))
        .with_timezone(&tz)
        .to_rfc3339();
    let s = site.script("in.csv", &[(&first, "badges/M-1.png")]);
    let out = site.kiosk_ok("room", &["replay", &s]);
    assert!(out.contains("checked-in M-1"), "{out}");
    site.kiosk_ok("room", &["sync", "--once"]);
    let check_in: String = site.scalar(
        "SELECT id FROM events WHERE mentor = 'M-1' ORDER BY at DESC LIMIT 1",
        &[],
    );
    site.server(&[
        "review",
        "resolve",
        &check_in,
        "--void",
        "--by",
        "Olga",
        "--reason",
        "scanned by mistake",
    ]);
    site.kiosk_ok("room", &["sync", "--once"]);
    let second = now.with_timezone(&tz).to_rfc3339();
    let s = site.script("again.csv", &[(&second, "badges/M-1.png")]);
    let out = site.kiosk_ok("room", &["replay", &s]);
    assert!(
        out.contains("checked-in M-1"),
        "the voided check-in is not open: {out}"
    );
}

#[test]
fn money_faults_of_a_school_year() {
    let site = Site::new();
    let server = Server::start(&site);
    site.server(&["program", "set", "--threshold", "2"]);
    let token = site.add_kiosk("room");
    let mut k = Uploader::new(&server, &token, 1);
    let date = days_ago(8);
    let period = period_of(&date);
    // 1 h 59 min 50 s: shown as 2.00, so eligible.
    let check_in = k.scan(&site, "M-1", at(&date, 8, 0), EventKind::CheckIn);
    let id = check_in.id;
    let check_out = k.scan(
        &site,
        "M-1",
        at(&date, 10, 0) - Duration::seconds(10),
        EventKind::CheckOut { check_in: Some(id) },
    );
    k.send(vec![check_in, check_out]);
    assert_eq!(
        hours_of(&site, "M-1", &period),
        ("2.00".into(), "true".into())
    );
    // A payment of nothing is refused and does not block the real one.
    let refused = server_fails(
        &site,
        &[
            "stipend",
            "paid",
            "--mentor",
            "M-1",
            "--period",
            &period,
            "--amount",
            "0.00",
            "--reference",
            "X",
        ],
    );
    assert!(refused.contains("more than 0.00"), "{refused}");
    let olga = site.add_organizer("Olga", &["--all"]);
    let (status, body) = post_json(
        &server,
        &olga,
        "/api/v1/stipends",
        serde_json::json!({"mentor": "M-1", "period": period, "amount": "0", "paid_on": chicago_today(), "reference": "Y"}),
    );
    assert_eq!(status, 400, "{body}");
    site.server(&[
        "stipend",
        "paid",
        "--mentor",
        "M-1",
        "--period",
        &period,
        "--amount",
        "600.00",
        "--reference",
        "CHK-9",
    ]);
    // Paid today at her school, not by UTC's calendar.
    let ledger = site.server(&["stipend", "list"]);
    assert!(ledger.contains(&chicago_today().to_string()), "{ledger}");

    // A coordinator's group session ending a minute ahead by the kiosk's clock is not set aside.
    add_coordinator(&site, "lincoln");
    let now = Utc::now();
    let group = k.coordinator(
        "M-2",
        now,
        EventKind::AddSession {
            category: HourCategory::Workshop,
            start: now - Duration::minutes(59),
            end: now + Duration::minutes(1),
            group: None,
        },
    );
    let ack = k.send_at(vec![group], now);
    assert!(
        !e2e_tests::upload::server_reasons(&site, &ack).contains("in_the_future"),
        "{ack}"
    );

    // The Overview puts hours where they were earned: M-3 earned at Lincoln, then moved.
    session(&mut k, &site, "M-3", &days_ago(2), 8, 11);
    site.add_jefferson();
    site.server(&["mentor", "move", "M-3", "--school", "jefferson"]);
    let current = ProgramRules::default().period_of(chicago_today()).name.0;
    let (_, body) = http(
        &server.url,
        "GET",
        &format!("/api/v1/overview?period={current}"),
        Some(&olga),
        b"",
    );
    let overview: serde_json::Value = serde_json::from_str(&body).expect("json");
    let hours_at = |school: &str| {
        overview["schools"]
            .as_array()
            .and_then(|l| l.iter().find(|s| s["school_id"] == school))
            .map(|s| s["hours"].as_f64().unwrap_or(-1.0))
    };
    if period_of(&days_ago(2)) == current {
        assert!(hours_at("lincoln").unwrap_or(0.0) >= 3.0, "{body}");
        assert_eq!(hours_at("jefferson"), Some(0.0), "{body}");
    }

    // A kiosk's "events waiting" is what it holds after its sync.
    let kiosk = site.add_kiosk("front");
    site.kiosk_ok(
        "front",
        &["setup", "--server", &server.url, "--token", &kiosk],
    );
    let when = (Utc::now() - Duration::minutes(5))
        .with_timezone(&chicago().tz())
        .to_rfc3339();
    let s = site.script("scan.csv", &[(&when, "badges/M-2.png")]);
    site.kiosk_ok("front", &["replay", &s]);
    site.kiosk_ok("front", &["sync", "--once"]);
    let (_, body) = http(&server.url, "GET", "/api/v1/kiosks", Some(&olga), b"");
    let kiosks: serde_json::Value = serde_json::from_str(&body).expect("json");
    let front = kiosks
        .as_array()
        .and_then(|l| l.iter().find(|k| k["name"] == "front"))
        .cloned()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(front["pending_events"], 0, "{front}");
}

#[test]
fn a_visited_kiosk_hears_of_a_rejection_of_her_visit() {
    let site = Site::new();
    let server = Server::start(&site);
    let jefferson = site.add_jefferson();
    site.kiosk_ok(
        "jroom",
        &["setup", "--server", &server.url, "--token", &jefferson],
    );
    let now = Utc::now();
    let tz = chicago().tz();
    let first = (now - Duration::minutes(40))
        .with_timezone(&tz)
        .to_rfc3339();
    let s = site.script("in.csv", &[(&first, "badges/M-1.png")]);
    let out = site.kiosk_ok("jroom", &["replay", &s]);
    assert!(out.contains("checked-in M-1"), "{out}");
    site.kiosk_ok("jroom", &["sync", "--once"]);
    let check_in: String = site.scalar(
        "SELECT id FROM events WHERE mentor = 'M-1' ORDER BY at DESC LIMIT 1",
        &[],
    );
    site.server(&[
        "review",
        "resolve",
        &check_in,
        "--reject",
        "--by",
        "Olga",
        "--reason",
        "scanned by mistake",
    ]);
    site.kiosk_ok("jroom", &["sync", "--once"]);
    let second = now.with_timezone(&tz).to_rfc3339();
    let s = site.script("again.csv", &[(&second, "badges/M-1.png")]);
    let out = site.kiosk_ok("jroom", &["replay", &s]);
    assert!(
        out.contains("checked-in M-1"),
        "the visited school's kiosk knows her held check-in was rejected: {out}"
    );
}

#[test]
fn an_entered_session_is_filed_where_she_was_that_day() {
    let site = Site::new();
    let server = Server::start(&site);
    let date = days_ago(2);
    let period = period_of(&date);
    let start = at(&date, 8, 0).to_rfc3339();
    let end = at(&date, 11, 0).to_rfc3339();
    site.server(&[
        "session",
        "add",
        "--mentor",
        "M-3",
        "--start",
        &start,
        "--end",
        &end,
        "--category",
        "classroom",
        "--by",
        "Olga",
        "--reason",
        "paper sign-in sheet",
    ]);
    site.add_jefferson();
    site.server(&["mentor", "move", "M-3", "--school", "jefferson"]);
    let olga = site.add_organizer("Olga", &["--all"]);
    let (status, body) = http(
        &server.url,
        "GET",
        &format!("/api/v1/overview?period={period}"),
        Some(&olga),
        b"",
    );
    assert_eq!(status, 200, "{body}");
    let overview: serde_json::Value = serde_json::from_str(&body).expect("json");
    let hours_at = |school: &str| {
        overview["schools"]
            .as_array()
            .and_then(|l| l.iter().find(|s| s["school_id"] == school))
            .map(|s| s["hours"].as_f64().unwrap_or(-1.0))
    };
    assert_eq!(hours_at("lincoln"), Some(3.0), "{body}");
    assert_eq!(hours_at("jefferson"), Some(0.0), "{body}");
    // The program report files them at the same school.
    let report = site.server(&["report", "program", "--period", &period, "--format", "csv"]);
    let classroom = |school: &str| csv_row(&report, school).map(|r| r["classroom_hours"].clone());
    assert_eq!(classroom("lincoln").as_deref(), Some("3.00"), "{report}");
    assert_eq!(classroom("jefferson").as_deref(), Some("0.00"), "{report}");
}
