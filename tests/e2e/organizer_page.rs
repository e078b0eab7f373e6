//! The organizer page in real headless Chromium against a real server.

use std::process::Command;

use e2e_tests::{http, kiosk_id_of, Server, Site};

/// Two-hour mornings for M-1 on 55 days (110 h: eligible), one open check-in for M-2.
fn seed(site: &Site, server: &Server) {
    let token = site.add_kiosk("front");
    let kiosk = kiosk_id_of(&token);
    let conn = rusqlite::Connection::open(site.path("server.db")).expect("open");
    let hash: String = conn
        .query_row("SELECT hash FROM badges WHERE mentor = 'M-1'", [], |r| {
            r.get(0)
        })
        .expect("badge");
    let hash2: String = conn
        .query_row("SELECT hash FROM badges WHERE mentor = 'M-2'", [], |r| {
            r.get(0)
        })
        .expect("badge");
    let start = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).expect("date");
    let mut events = Vec::new();
    let mut seq = 0u64;
    let mut push = |mentor: &str, kind: &str, at: String, hash: &str| {
        seq += 1;
        events.push(format!(
            r#"{{"id":"0190a000-0000-7000-8fff-{seq:012}","kiosk":"{kiosk}","series":"0190a000-0000-7000-8000-000000000001","sequence":{seq},"mentor":"{mentor}","at":"{at}","time_zone":"America/Chicago","kind":{{"type":"{kind}"}},"source":{{"type":"badge_scan","generation":1,"provisional":false,"badge_hash":"{hash}"}}}}"#
        ));
    };
    for day in 0..55 {
        let d = start + chrono::Duration::days(day);
        push("M-1", "check_in", format!("{d}T13:00:00Z"), &hash);
        push("M-1", "check_out", format!("{d}T15:00:00Z"), &hash);
    }
    push("M-2", "check_in", format!("{start}T13:30:00Z"), &hash2);
    let body = format!(
        r#"{{"protocol":1,"kiosk":"{kiosk}","kiosk_clock":"{}","events":[{}]}}"#,
        chrono::Utc::now().to_rfc3339(),
        events.join(",")
    );
    let (status, ack) = http(
        &server.url,
        "POST",
        "/api/v1/events",
        Some(&token),
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{ack}");
}

/// The rendered content of `<table id="ID">` (the script's own text is outside it).
fn rendered_table(dom: &str, id: &str) -> String {
    let start = dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or(dom.len());
    let rest = &dom[start..];
    rest[..rest.find("</table>").unwrap_or(rest.len())].to_owned()
}

fn chromium() -> &'static str {
    let path = "/usr/bin/chromium";
    assert!(
        std::path::Path::new(path).exists(),
        "Debian's chromium is needed for this test: run scripts/system-deps.sh"
    );
    path
}

fn headless(profile: &std::path::Path) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=8000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn the_organizer_page_shows_progress_unpaid_and_review_lists() {
    let site = Site::new();
    let server = Server::start(&site);
    seed(&site, &server);
    let token = site.add_organizer("Ana", &["--school", "lincoln"]);
    let (status, json) = http(
        &server.url,
        "GET",
        "/api/v1/reports/hours?format=json&period=2026-fall",
        Some(&token),
        b"",
    );
    assert_eq!(status, 200);
    assert!(json.contains(r#""hours":"110.00""#), "{json}");

    // A link can name the period; the token in the fragment signs her in.
    let profile = tempfile::tempdir().expect("profile");
    let url = format!("{}/?period=2026-fall#token={token}", server.url);
    let dom = headless(profile.path())
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("María López"), "{dom}");
    assert!(
        dom.contains("110 of 100 hours"),
        "progress bar for the eligible mentor: {dom}"
    );
    let unpaid = rendered_table(&dom, "unpaid");
    assert!(
        unpaid.contains("María López") && unpaid.contains("Mark paid"),
        "{unpaid}"
    );
    assert!(
        dom.contains("1 to pay · 1 need review"),
        "school card: {dom}"
    );
    let review = rendered_table(&dom, "review");
    assert!(
        review.contains("Ann Lee") && !review.contains("María"),
        "{review}"
    );
    assert!(
        !dom.contains(&token),
        "the token is taken out of the page address"
    );

    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let shot = shots.join("organizer-page.png");
    let out = headless(profile.path())
        .arg("--window-size=1280,1500")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("chromium screenshot");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "screenshot written"
    );
}
