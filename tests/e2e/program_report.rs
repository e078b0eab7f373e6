//! The program report for funders, against totals computed by hand: CLI (CSV, JSON, XLSX read
//! back), HTTP (the same numbers, an organizer's school scope) and bad requests.

use std::collections::HashMap;

use e2e_tests::upload::{at, Uploader};
use e2e_tests::{http, run, Server, Site};
use pm_shared::{EventKind, HourCategory};

const HEADER: &str = "school_id,school_name,active_mentors,reached_threshold,classroom_hours,training_hours,workshop_hours,community_hours,days,avg_hours_per_mentor,stipends_paid,stipend_amount,in_kind_value";

/// A session scanned in and out on `date`, from h1:m1 to h2:m2 (Chicago).
fn scanned(
    k: &mut Uploader,
    site: &Site,
    mentor: &str,
    date: &str,
    (h1, m1): (u32, u32),
    (h2, m2): (u32, u32),
) -> Vec<pm_shared::Event> {
    let i = k.scan(site, mentor, at(date, h1, m1), EventKind::CheckIn);
    let o = k.scan(
        site,
        mentor,
        at(date, h2, m2),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    vec![i, o]
}

/// A session a coordinator added (training, a workshop, community work).
fn added(
    k: &mut Uploader,
    mentor: &str,
    date: &str,
    category: HourCategory,
    (h1, h2): (u32, u32),
) -> pm_shared::Event {
    k.coordinator(
        mentor,
        at(date, h1, 0),
        EventKind::AddSession {
            category,
            start: at(date, h1, 0),
            end: at(date, h2, 0),
            group: None,
        },
    )
}

/// Lincoln (M-1, M-2, M-3) and Jefferson (M-4), a threshold of 4 hours, a volunteer rate of
/// 34.79, sessions in September and October 2026, payments (one voided).
fn program_site() -> (Site, Server) {
    let site = Site::new();
    site.server(&[
        "school",
        "add",
        "--id",
        "jefferson",
        "--name",
        "Jefferson Elementary",
        "--timezone",
        "America/Chicago",
    ]);
    std::fs::write(
        site.path("more.csv"),
        "id,name,school,language\nM-4,Luz Ortega,jefferson,es\n",
    )
    .expect("write");
    site.server(&["mentor", "import", "more.csv"]);
    site.server(&["badges", "--out", "badges"]);
    site.server(&[
        "program",
        "set",
        "--threshold",
        "4",
        "--volunteer-rate",
        "34.79",
    ]);
    let server = Server::start(&site);
    let lincoln = site.add_kiosk("front");
    let out = site.server(&["kiosk", "add", "--school", "jefferson", "--name", "j"]);
    let jefferson = out.lines().last().unwrap_or_default().trim().to_owned();

    let mut l = Uploader::new(&server, &lincoln, 1);
    let mut events = Vec::new();
    // M-1: 2 h on Oct 5, 2.5 h on Oct 6 (past 4 h that day), 1 h of training on Oct 7.
    events.extend(scanned(&mut l, &site, "M-1", "2026-10-05", (8, 0), (10, 0)));
    events.extend(scanned(
        &mut l,
        &site,
        "M-1",
        "2026-10-06",
        (8, 0),
        (10, 30),
    ));
    events.push(added(
        &mut l,
        "M-1",
        "2026-10-07",
        HourCategory::Training,
        (13, 14),
    ));
    // M-2: 1 h on Oct 5, 2 h of community work on Oct 8 (not toward the stipend), and a
    // 10-hour session on Oct 9 that waits for review (credited nothing).
    events.extend(scanned(&mut l, &site, "M-2", "2026-10-05", (9, 0), (10, 0)));
    events.push(added(
        &mut l,
        "M-2",
        "2026-10-08",
        HourCategory::Community,
        (13, 15),
    ));
    events.extend(scanned(&mut l, &site, "M-2", "2026-10-09", (7, 0), (17, 0)));
    // M-3: checked in on Oct 9 and never out (credited nothing); 1 h on Nov 2 (outside).
    let open = l.scan(&site, "M-3", at("2026-10-09", 8, 0), EventKind::CheckIn);
    events.push(open);
    events.extend(scanned(&mut l, &site, "M-3", "2026-11-02", (8, 0), (9, 0)));
    l.send(events);

    let mut j = Uploader::new(&server, &jefferson, 2);
    let mut events = Vec::new();
    // M-4: 4 h on Sep 15 (past the threshold that day, before October), 1.5 h on Oct 20,
    // a 1 h workshop on Oct 21.
    events.extend(scanned(&mut j, &site, "M-4", "2026-09-15", (8, 0), (12, 0)));
    events.extend(scanned(&mut j, &site, "M-4", "2026-10-20", (8, 0), (9, 30)));
    events.push(added(
        &mut j,
        "M-4",
        "2026-10-21",
        HourCategory::Workshop,
        (13, 14),
    ));
    j.send(events);

    // The coordinators' entries reached the server more than 14 days after the fact: an
    // organizer accepts them (until then they are set aside, and credited nothing).
    let review = site.server(&["review", "list", "--format", "csv"]);
    let old_entries: Vec<String> = review
        .lines()
        .filter(|l| l.contains(",set_aside,"))
        .map(|l| l.split(',').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(old_entries.len(), 3, "{review}");
    for item in &old_entries {
        site.server(&[
            "review",
            "resolve",
            item,
            "--accept",
            "--by",
            "Olga",
            "--reason",
            "sign-in sheet",
        ]);
    }

    let pay = |mentor: &str, amount: &str, on: &str, extra: &[&str]| {
        let mut args = vec![
            "stipend",
            "paid",
            "--mentor",
            mentor,
            "--period",
            "2026-fall",
            "--amount",
            amount,
            "--reference",
            "chk",
            "--on",
            on,
        ];
        args.extend_from_slice(extra);
        site.server(&args)
    };
    pay("M-1", "600", "2026-10-20", &[]);
    pay("M-4", "600.00", "2026-09-30", &[]);
    let out = pay("M-1", "50.00", "2026-10-21", &["--additional"]);
    let id = out
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .expect("payment id")
        .to_owned();
    site.server(&["stipend", "void", &id, "--reason", "typed twice"]);
    (site, server)
}

fn rows_of(csv: &str) -> Vec<HashMap<String, String>> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let header: Vec<&str> = HEADER.split(',').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

/// October 2026, computed by hand (see `program_site`).
const OCTOBER: [&str; 3] = [
    // Lincoln: M-1 and M-2 active; M-1 past 4 h on Oct 6; classroom 2 + 2.5 + 1; training 1;
    // community 2; days M-1 ×3, M-2 ×2; toward the stipend (5.5 + 1) / 2; one payment (the
    // void left out); 8.5 h × 34.79 = 295.715.
    "lincoln,Lincoln Elementary,2,1,5.50,1.00,0.00,2.00,5,3.25,1,600.00,295.72",
    // Jefferson: M-4 active, past the threshold in September; 1.5 + 1 workshop; paid in
    // September; 2.5 h × 34.79 = 86.975.
    "jefferson,Jefferson Elementary,1,0,1.50,0.00,1.00,0.00,2,2.50,0,0.00,86.98",
    // All: 3 mentors, (6.5 + 2.5) / 3, 11 h × 34.79 = 382.69.
    "ALL,All schools,3,1,7.00,1.00,1.00,2.00,7,3.00,1,600.00,382.69",
];

fn sorted_lines(csv: &str) -> Vec<String> {
    let mut lines: Vec<String> = csv.lines().skip(1).map(str::to_owned).collect();
    lines.sort();
    lines
}

fn expected(rows: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    lines.sort();
    lines
}

#[test]
fn program_report_matches_totals_computed_by_hand_in_csv_json_and_xlsx() {
    let (site, server) = program_site();
    let october = ["--from", "2026-10-01", "--to", "2026-10-31"];

    let mut args = vec!["report", "program", "--format", "csv"];
    args.extend_from_slice(&october);
    let csv = site.server(&args);
    assert_eq!(csv.lines().next(), Some(HEADER));
    assert_eq!(sorted_lines(&csv), expected(&OCTOBER), "{csv}");
    assert_eq!(
        csv.lines().last().map(|l| l.starts_with("ALL,")),
        Some(true)
    );
    let _ = rows_of(&csv);

    // One school: its row and a total over it.
    let mut args = vec![
        "report",
        "program",
        "--format",
        "csv",
        "--school",
        "jefferson",
    ];
    args.extend_from_slice(&october);
    let csv = site.server(&args);
    assert_eq!(
        sorted_lines(&csv),
        expected(&[
            OCTOBER[1],
            "ALL,All schools,1,0,1.50,0.00,1.00,0.00,2,2.50,0,0.00,86.98"
        ])
    );

    // The whole fall period: M-4's September hours and payment, M-3's November hour; M-4
    // reached the threshold within it.
    let csv = site.server(&[
        "report",
        "program",
        "--period",
        "2026-fall",
        "--format",
        "csv",
    ]);
    let rows = rows_of(&csv);
    let all = rows.iter().find(|r| r["school_id"] == "ALL").expect("ALL");
    assert_eq!(all["active_mentors"], "4");
    assert_eq!(all["reached_threshold"], "2");
    assert_eq!(all["classroom_hours"], "12.00");
    assert_eq!(all["days"], "9");
    assert_eq!(all["stipends_paid"], "2");
    assert_eq!(all["stipend_amount"], "1200.00");
    assert_eq!(all["in_kind_value"], "556.64"); // 16 h × 34.79

    // JSON: the same numbers, money as text.
    let mut args = vec!["report", "program", "--format", "json"];
    args.extend_from_slice(&october);
    let json: serde_json::Value = serde_json::from_str(&site.server(&args)).expect("json report");
    let rows = json.as_array().expect("array");
    assert_eq!(rows.len(), 3);
    let lincoln = rows
        .iter()
        .find(|r| r["school_id"] == "lincoln")
        .expect("lincoln");
    assert_eq!(lincoln["active_mentors"], 2);
    assert_eq!(lincoln["classroom_hours"], 5.5);
    assert_eq!(lincoln["avg_hours_per_mentor"], 3.25);
    assert_eq!(lincoln["stipend_amount"], "600.00");
    assert_eq!(lincoln["in_kind_value"], "295.72");

    // XLSX, read back: the first sheet, row 1 the header, numbers typed as numbers.
    let mut args = vec![
        "report",
        "program",
        "--format",
        "xlsx",
        "--out",
        "program.xlsx",
    ];
    args.extend_from_slice(&october);
    site.server(&args);
    let from_cli = read_xlsx(&std::fs::read(site.path("program.xlsx")).expect("xlsx"));
    assert_eq!(from_cli, expected(&OCTOBER));

    // HTTP: the same three formats.
    let olga = site.add_organizer("Olga", &["--all"]);
    let query = "/api/v1/reports/program?from=2026-10-01&to=2026-10-31";
    let (status, csv) = http(
        &server.url,
        "GET",
        &format!("{query}&format=csv"),
        Some(&olga),
        b"",
    );
    assert_eq!(status, 200, "{csv}");
    assert_eq!(sorted_lines(&csv), expected(&OCTOBER));
    let (status, json) = http(&server.url, "GET", query, Some(&olga), b"");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(3));
    let xlsx = get_bytes(&server.url, &format!("{query}&format=xlsx"), &olga);
    assert_eq!(read_xlsx(&xlsx), expected(&OCTOBER));

    // An organizer of Jefferson sees Jefferson only, and no other school on request.
    let jo = site.add_organizer("Jo", &["--school", "jefferson"]);
    let (status, csv) = http(
        &server.url,
        "GET",
        &format!("{query}&format=csv"),
        Some(&jo),
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(sorted_lines(&csv).len(), 2, "{csv}");
    assert!(
        csv.contains("\njefferson,") && !csv.contains("lincoln"),
        "{csv}"
    );
    let (status, _) = http(
        &server.url,
        "GET",
        &format!("{query}&school=lincoln"),
        Some(&jo),
        b"",
    );
    assert_eq!(status, 403);
}

#[test]
fn program_report_refuses_unclear_requests_and_leaves_in_kind_empty_without_a_rate() {
    let site = Site::new();
    let server = Server::start(&site);
    let olga = site.add_organizer("Olga", &["--all"]);
    for bad in [
        "?period=2026-fall&from=2026-10-01&to=2026-10-31",
        "?from=2026-10-01",
        "?from=2026-10-31&to=2026-10-01",
        "?from=October&to=2026-10-31",
        "?period=autumn",
        "?format=pdf",
        "?school=nowhere",
    ] {
        let (status, body) = http(
            &server.url,
            "GET",
            &format!("/api/v1/reports/program{bad}"),
            Some(&olga),
            b"",
        );
        assert!(matches!(status, 400 | 404), "{bad}: {status} {body}");
        assert!(body.contains("error"), "{bad}: {body}");
    }
    let (status, _) = http(
        &server.url,
        "GET",
        "/api/v1/reports/program",
        Some("nope"),
        b"",
    );
    assert_eq!(status, 401);
    // The CLI: clear errors, and no rate means an empty in-kind column.
    let out = run(
        "sync-server",
        &[
            "--db",
            site.db.as_str(),
            "program",
            "set",
            "--volunteer-rate",
            "34,79",
        ],
        site.dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("34.79"));
    let csv = site.server(&["report", "program", "--period", "2026-fall"]);
    assert_eq!(
        csv.lines().last(),
        Some("ALL,All schools,0,0,0.00,0.00,0.00,0.00,0,0.00,0,0.00,")
    );
    site.server(&["program", "set", "--volunteer-rate", "20"]);
    site.server(&["program", "set", "--volunteer-rate", "none"]);
    let csv = site.server(&["report", "program", "--period", "2026-fall"]);
    assert!(
        csv.lines().last().is_some_and(|l| l.ends_with(",0.00,")),
        "{csv}"
    );
    // The rate stays on the server: kiosks never receive it.
    site.server(&["program", "set", "--volunteer-rate", "34.79"]);
    let token = site.add_kiosk("front");
    let (status, roster) = http(
        &server.url,
        "GET",
        "/api/v1/roster?protocol=2",
        Some(&token),
        b"",
    );
    assert_eq!(status, 200);
    assert!(!roster.contains("volunteer"), "{roster}");
}

fn get_bytes(url: &str, path: &str, token: &str) -> Vec<u8> {
    let mut response = ureq::get(&format!("{url}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("GET");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    response.body_mut().read_to_vec().expect("body")
}

/// The first sheet's rows after the header, as CSV lines, checking that row 1 is the header
/// and every column after the school's id and name holds a number (the money columns too).
fn read_xlsx(bytes: &[u8]) -> Vec<String> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    let names = book.sheet_names();
    let range = book.worksheet_range(&names[0]).expect("first sheet");
    let mut rows = range.rows();
    let header: Vec<String> = rows
        .next()
        .expect("header row")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header.join(","), HEADER);
    let mut lines: Vec<String> = rows
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, cell)| match (i, cell) {
                    (0 | 1, Data::String(s)) => s.clone(),
                    (2 | 3 | 8 | 10, Data::Float(n)) => format!("{n}"),
                    (_, Data::Float(n)) => format!("{n:.2}"),
                    (_, other) => panic!("column {i} is not typed as expected: {other:?}"),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    lines.sort();
    lines
}
