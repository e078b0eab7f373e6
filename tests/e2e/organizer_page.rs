//! The organizer page in real headless Chromium against a real server.

use std::process::Command;

use e2e_tests::{http, kiosk_id_of, Server, Site};

/// Two-hour mornings for M-1 on 55 days (110 h: eligible), one open check-in for M-2.
fn seed(site: &Site, server: &Server) {
    let token = site.add_kiosk("front");
    let kiosk = kiosk_id_of(&token);
    let badge1 = e2e_tests::upload::badge_of(site, "M-1").0;
    let badge2 = e2e_tests::upload::badge_of(site, "M-2").0;
    let start = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).expect("date");
    let mut events = Vec::new();
    let mut seq = 0u64;
    // Scans as a kiosk that read the badge sends them: with their proofs.
    let mut push = |mentor: &str, kind: &str, at: String, badge: &str| {
        seq += 1;
        let hash = pm_shared::badge_hash(badge);
        let json = format!(
            r#"{{"id":"0190a000-0000-7000-8fff-{seq:012}","kiosk":"{kiosk}","series":"0190a000-0000-7000-8000-000000000001","sequence":{seq},"mentor":"{mentor}","at":"{at}","time_zone":"America/Chicago","kind":{{"type":"{kind}"}},"source":{{"type":"badge_scan","generation":1,"provisional":false,"badge_hash":"{hash}"}}}}"#
        );
        let mut event: pm_shared::Event = serde_json::from_str(&json).expect("event");
        pm_shared::prove_scan(&mut event, badge);
        events.push(serde_json::to_string(&event).expect("json"));
    };
    for day in 0..55 {
        let d = start + chrono::Duration::days(day);
        push("M-1", "check_in", format!("{d}T13:00:00Z"), &badge1);
        push("M-1", "check_out", format!("{d}T15:00:00Z"), &badge1);
    }
    push("M-2", "check_in", format!("{start}T13:30:00Z"), &badge2);
    let body = format!(
        r#"{{"protocol":3,"kiosk":"{kiosk}","kiosk_clock":"{}","events":[{}]}}"#,
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

/// The Review section in a real browser: one item resolved with new times, two approved in
/// bulk, in English and in Spanish, with screenshots.
#[test]
fn the_review_section_resolves_items_one_by_one_and_in_bulk() {
    use e2e_tests::upload::{at, Uploader};
    use e2e_tests::webdriver::Browser;
    use pm_shared::EventKind;

    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &token, 1);
    let mut events = Vec::new();
    // Three days over the cap (approvable), one forgotten check-out (needs times).
    let mut long = Vec::new();
    for (mentor, day) in [
        ("M-1", "2026-10-05"),
        ("M-2", "2026-10-06"),
        ("M-3", "2026-10-07"),
    ] {
        let i = k.scan(&site, mentor, at(day, 6, 0), EventKind::CheckIn);
        let o = k.scan(
            &site,
            mentor,
            at(day, 15, 0),
            EventKind::CheckOut {
                check_in: Some(i.id),
            },
        );
        long.push(i.id);
        events.extend([i, o]);
    }
    let open = k.scan(&site, "M-1", at("2026-10-08", 8, 0), EventKind::CheckIn);
    events.push(open.clone());
    k.send(events);
    let organizer = site.add_organizer("Olga", &["--school", "lincoln"]);

    let browser = Browser::start(1280, 1400);
    browser.goto(&format!(
        "{}/?period=2026-fall#token={organizer}",
        server.url
    ));
    browser.wait_for("document.body.dataset.loaded");
    assert_eq!(
        browser.find_all("#review tr[data-item]").len(),
        4,
        "{}",
        browser.text("#review")
    );
    assert!(browser
        .text("#review")
        .contains("longer than a session may be"));
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    browser.screenshot(&shots.join("organizer-review-en.png"));

    // One item: the forgotten check-out gets its real end.
    let row = format!("#review tr[data-item='{}']", open.id);
    browser.click(&format!("{row} button[data-action='set_times']"));
    browser.eval(&format!(
        "const i = document.querySelector(\"{row} .times input[type=datetime-local]:last-of-type\"); i.value = '2026-10-08T10:00'; return true;"
    ));
    browser.type_into(
        &format!("{row} input.reason"),
        "teacher confirmed she left at 10",
    );
    let loaded = browser.eval("return document.body.dataset.loaded;");
    browser.click(&format!("{row} button[data-action='save_times']"));
    browser.wait_for(&format!("document.body.dataset.loaded != {loaded}"));
    browser.wait_for(&format!("!document.querySelector(\"{row}\")"));

    // Two in bulk.
    for id in &long[..2] {
        browser.click(&format!("#review input.pick[value='{id}']"));
    }
    browser.type_into("#bulk-reason", "long training days, confirmed");
    browser.click("#bulk-approve");
    browser.wait_for("document.getElementById('notice').innerText.includes('2 approved')");
    browser.wait_for("document.querySelectorAll('#review tr[data-item]').length == 1");

    // What the server now says: 2 h (closed) + 9 h (approved) for M-1, 9 h for M-2; M-3 waits.
    let report = site.hours_csv("2026-fall");
    let hours = |m: &str| {
        report
            .lines()
            .find(|l| l.starts_with(&format!("{m},")))
            .and_then(|l| l.split(',').nth(4))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        (hours("M-1"), hours("M-2"), hours("M-3")),
        ("11.00".into(), "9.00".into(), "0.00".into()),
        "{report}"
    );
    let resolutions: Vec<String> =
        site.column("SELECT body FROM events WHERE kiosk = 'server'", &[]);
    assert_eq!(resolutions.len(), 3);
    assert!(
        resolutions
            .iter()
            .all(|b| b.contains("\"organizer\":\"Olga\"")),
        "who comes from the token"
    );
    assert!(resolutions.iter().any(|b| b.contains("teacher confirmed")));

    // In Spanish, remembered.
    browser.eval("const s = document.getElementById('lang'); s.value = 'es'; s.dispatchEvent(new Event('change')); return true;");
    browser.wait_for("document.querySelector('#review-section h2').innerText == 'Por revisar'");
    browser.wait_for(
        "document.getElementById('review').innerText.includes('más larga de lo permitido')",
    );
    browser.screenshot(&shots.join("organizer-review-es.png"));
    browser.goto(&format!("{}/", server.url));
    browser.wait_for("document.body.dataset.loaded");
    assert_eq!(browser.text("#review-section h2"), "Por revisar");
}

/// A program with two schools, placements, clearances, kiosks (one silent), sessions, a review
/// item, a coordinator's entry and a payment: enough for every section of the page to show
/// something. Returns the organizer's token.
fn seed_workplace(site: &Site, server: &Server) -> String {
    use e2e_tests::upload::{at, Uploader};
    use pm_shared::{EventKind, HourCategory};

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
        "id,name,school,language,teacher,classroom\nM-4,Luz Ortega,jefferson,es,Ms. Green,3\n",
    )
    .expect("write");
    site.server(&["mentor", "import", "more.csv"]);
    site.server(&["badges", "--out", "badges"]);
    site.server(&[
        "mentor",
        "place",
        "M-1",
        "--teacher",
        "Ms. Smith",
        "--classroom",
        "12",
    ]);
    site.server(&[
        "mentor",
        "place",
        "M-2",
        "--teacher",
        "Mr. Brown",
        "--classroom",
        "7",
    ]);
    site.server(&[
        "program",
        "set",
        "--threshold",
        "20",
        "--volunteer-rate",
        "34.79",
    ]);
    // The school's date, as the server counts days left (not UTC's).
    let today = e2e_tests::upload::chicago_today();
    let expired = (today - chrono::Duration::days(4)).to_string();
    let soon = (today + chrono::Duration::days(12)).to_string();
    site.server(&[
        "clearance",
        "set",
        "M-2",
        "--kind",
        "tb-test",
        "--expires",
        &expired,
    ]);
    site.server(&[
        "clearance",
        "set",
        "M-4",
        "--kind",
        "background-check",
        "--expires",
        &soon,
    ]);

    site.add_coordinator("lincoln", "Ms. Rivera", "24681357");
    let front = site.add_kiosk("front");
    site.add_kiosk("hallway");
    let mut k = Uploader::new(server, &front, 1);
    let mut events = Vec::new();
    // Recent weeks: María 2 h a day for 11 days (22 h, eligible), Ann 3 days, Rosa one over
    // the cap (review).
    for d in 0..11 {
        let date = (today - chrono::Duration::days(2 + d * 2)).to_string();
        let i = k.scan(site, "M-1", at(&date, 8, 0), EventKind::CheckIn);
        let o = k.scan(
            site,
            "M-1",
            at(&date, 10, 0),
            EventKind::CheckOut {
                check_in: Some(i.id),
            },
        );
        events.extend([i, o]);
        if d < 3 {
            let i = k.scan(site, "M-2", at(&date, 9, 0), EventKind::CheckIn);
            let o = k.scan(
                site,
                "M-2",
                at(&date, 11, 30),
                EventKind::CheckOut {
                    check_in: Some(i.id),
                },
            );
            events.extend([i, o]);
        }
    }
    let long_day = (today - chrono::Duration::days(3)).to_string();
    let i = k.scan(site, "M-3", at(&long_day, 6, 0), EventKind::CheckIn);
    let o = k.scan(
        site,
        "M-3",
        at(&long_day, 17, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    events.extend([i, o]);
    // A training the coordinator entered for Ann (recent: counted).
    let training = (today - chrono::Duration::days(1)).to_string();
    events.push(k.coordinator(
        "M-2",
        chrono::Utc::now(),
        EventKind::AddSession {
            category: HourCategory::Training,
            start: at(&training, 13, 0),
            end: at(&training, 15, 0),
            group: None,
        },
    ));
    k.send(events);
    let health = format!(
        r#"{{"protocol":2,"kiosk_clock":"{}","app_version":"0.1.0","camera":"ok","last_scan":"{}","pending_events":0}}"#,
        (chrono::Utc::now() + chrono::Duration::seconds(42)).to_rfc3339(),
        chrono::Utc::now().to_rfc3339()
    );
    let (status, body) = http(
        &server.url,
        "POST",
        "/api/v1/health",
        Some(&front),
        health.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let period = {
        let csv = site.server(&["report", "hours", "--format", "csv"]);
        csv.lines()
            .nth(1)
            .and_then(|l| l.split(',').nth(3))
            .unwrap_or_default()
            .to_owned()
    };
    site.server(&[
        "stipend",
        "paid",
        "--mentor",
        "M-1",
        "--period",
        &period,
        "--amount",
        "600",
        "--reference",
        "check 1041",
    ]);
    site.add_organizer("Olga", &["--all"])
}

const SECTIONS: [&str; 8] = [
    "overview-section",
    "review-section",
    "payments-section",
    "mentors-section",
    "mentor-page",
    "kiosks-section",
    "entries-section",
    "reports-section",
];

/// Serious or critical axe-core violations inside one element, as readable lines.
fn axe_violations(browser: &e2e_tests::webdriver::Browser, css: &str) -> Vec<String> {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         axe.run(document.querySelector({css:?}), {{ resultTypes: ['violations'] }})
           .then((r) => done(r.violations
             .filter((v) => v.impact === 'serious' || v.impact === 'critical')
             .map((v) => v.id + ': ' + v.help + ' @ ' + v.nodes.map((n) => n.target.join(' ')).join(', '))))
           .catch((e) => done(['axe failed: ' + e]));"
    );
    browser
        .eval_async(&script)
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_else(|| vec!["axe returned nothing".into()])
}

/// Every section of the organizer's workplace in real Chromium, in English and Spanish, with
/// screenshots and the axe-core check; then the page on a phone.
#[test]
fn the_organizers_workplace_in_both_languages_passes_axe_and_fits_a_phone() {
    use e2e_tests::webdriver::Browser;

    let site = Site::new();
    let server = Server::start(&site);
    let token = seed_workplace(&site, &server);
    let axe = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/axe/node_modules/axe-core/axe.min.js"
    ))
    .expect("axe-core: run scripts/system-deps.sh (npm ci in tests/axe)");
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    let browser = Browser::start(1280, 1000);
    browser.goto(&format!("{}/#token={token}", server.url));
    browser.wait_for("document.body.dataset.loaded");

    // Overview: a card per school, both charts with their numbers, the clearances to renew.
    let overview = browser.text("#overview-section");
    assert!(
        overview.contains("Lincoln Elementary") && overview.contains("Jefferson Elementary"),
        "{overview}"
    );
    assert!(
        overview.contains("2 kiosks · 1 silent for 24 h"),
        "{overview}"
    );
    // Jefferson has one mentor: the singular, in each language.
    assert!(overview.contains("1 mentor · 0 eligible"), "{overview}");
    assert_eq!(browser.find_all("#weeks-chart svg rect").len(), 12);
    assert_eq!(browser.find_all("#bands-chart svg rect").len(), 5);
    let bands = browser
        .eval("return document.querySelector('#bands-chart svg').getAttribute('aria-label');");
    assert!(
        bands
            .as_str()
            .is_some_and(|l| l.ends_with("100+ %: 1 mentor") && l.contains("0–25 %: 2 mentors;")),
        "{bands}"
    );
    let clearances = browser.text("#clearances");
    assert!(
        clearances.contains("Ann Lee")
            && clearances.contains("TB test")
            && clearances.contains("expired"),
        "{clearances}"
    );
    assert!(
        clearances.contains("Luz Ortega") && clearances.contains("expires in 12 days"),
        "{clearances}"
    );

    // Kiosks: the one that reported, and the silent one marked in words.
    let kiosks = browser.text("#kiosks");
    assert!(
        kiosks.contains("front") && kiosks.contains("0.1.0") && kiosks.contains("working"),
        "{kiosks}"
    );
    assert!(kiosks.contains("Silent for more than 24 hours"), "{kiosks}");
    // The kiosk ran 42 s ahead; the server measures it on arrival (a busy machine takes a moment).
    let (_, list) = http(&server.url, "GET", "/api/v1/kiosks", Some(&token), b"");
    let list: serde_json::Value = serde_json::from_str(&list).expect("kiosks json");
    let offset = list
        .as_array()
        .and_then(|l| l.iter().find(|k| k["name"] == "front"))
        .and_then(|k| k["clock_offset_secs"].as_i64())
        .expect("front's offset");
    assert!((30..=42).contains(&offset), "{offset}");
    assert!(kiosks.contains(&format!("{offset} s")), "{kiosks}");

    // Mentors: filter by classroom and by status; open María's page.
    browser.eval("const s = document.getElementById('filter-classroom'); s.value = '7'; s.dispatchEvent(new Event('input')); return true;");
    assert_eq!(browser.find_all("#mentors button[data-mentor]").len(), 1);
    assert!(browser.text("#mentors").contains("Ann Lee"));
    browser.eval("const s = document.getElementById('filter-classroom'); s.value = ''; s.dispatchEvent(new Event('input')); const f = document.getElementById('filter-status'); f.value = 'eligible'; f.dispatchEvent(new Event('input')); return true;");
    assert_eq!(browser.find_all("#mentors button[data-mentor]").len(), 1);
    browser.eval("const f = document.getElementById('filter-status'); f.value = ''; f.dispatchEvent(new Event('input')); return true;");
    browser.type_into("#filter-text", "ann");
    browser.click("#mentors button[data-mentor='M-2']");
    browser.wait_for("!document.getElementById('mentor-page').hidden");
    let page = browser.text("#mentor-page");
    assert!(
        page.contains("Ann Lee") && page.contains("Mr. Brown"),
        "{page}"
    );
    assert!(
        page.contains("Ms. Rivera (coordinator)") && page.contains("training day"),
        "who and why: {page}"
    );
    assert!(
        !page.contains("set aside"),
        "her coordinator's entry counts: {page}"
    );
    assert!(page.contains("TB test"), "{page}");
    assert_eq!(browser.find_all("#mentor-sessions tr").len(), 5, "{page}");

    // Payments: the ledger; the program report shown on the page.
    assert!(browser.text("#ledger").contains("check 1041"));
    browser.click("#program-show");
    browser.wait_for("document.querySelectorAll('#program tr').length == 4");
    assert!(browser.text("#program").contains("All schools"));

    for lang in ["en", "es"] {
        browser.eval(&format!("const s = document.getElementById('lang'); s.value = '{lang}'; s.dispatchEvent(new Event('change')); return true;"));
        browser.wait_for(&format!(
            "document.documentElement.lang == '{lang}' && document.body.dataset.loaded"
        ));
        let loaded = browser.eval("return document.body.dataset.loaded;");
        browser.click("#refresh");
        browser.wait_for(&format!("document.body.dataset.loaded != {loaded}"));
        browser.wait_for("!document.getElementById('mentor-page').hidden && document.querySelectorAll('#mentor-sessions tr').length == 5");
        if lang == "es" {
            assert_eq!(browser.text("#overview-section h2"), "Resumen");
            let overview = browser.text("#overview-section");
            assert!(
                overview.contains("1 mentora · 0 con derecho")
                    && overview.contains("2 quioscos · 1 sin noticias en 24 h"),
                "{overview}"
            );
            assert!(browser
                .text("#clearances")
                .contains("prueba de tuberculosis"));
            assert!(browser
                .text("#kiosks")
                .contains("Sin noticias desde hace más de 24 horas"));
            assert!(browser.text("#mentor-corrections").contains("coordinadora"));
            browser.wait_for(
                "document.getElementById('program').innerText.includes('Mentoras activas')",
            );
        }
        browser.eval(&format!("{axe}\nreturn typeof axe;"));
        for section in SECTIONS {
            browser.eval(&format!(
                "document.getElementById('{section}').scrollIntoView(); return true;"
            ));
            browser.screenshot(&shots.join(format!(
                "organizer-{}-{lang}.png",
                section.trim_end_matches("-section")
            )));
            let violations = axe_violations(&browser, &format!("#{section}"));
            assert!(violations.is_empty(), "{section} ({lang}): {violations:#?}");
        }
        let whole = axe_violations(&browser, "body");
        assert!(whole.is_empty(), "page ({lang}): {whole:#?}");
    }

    // A phone: nothing wider than the screen (tables scroll inside their sections).
    let phone = Browser::start_phone(375, 800);
    phone.goto(&format!("{}/#token={token}", server.url));
    phone.wait_for("document.body.dataset.loaded");
    assert_eq!(phone.eval("return window.innerWidth;"), 375);
    let width = phone.eval("return document.documentElement.scrollWidth;");
    assert!(
        width.as_i64().is_some_and(|w| w <= 375),
        "page is {width} px wide on a 375 px phone"
    );
    phone.screenshot(&shots.join("organizer-phone-overview.png"));
    phone.eval("document.getElementById('review-section').scrollIntoView(); return true;");
    phone.screenshot(&shots.join("organizer-phone-review.png"));
}

#[test]
fn the_page_enters_time_after_the_fact_and_decides_only_what_was_seen() {
    use e2e_tests::upload::{at, chicago_today, Uploader};
    use e2e_tests::webdriver::Browser;
    use pm_shared::EventKind;

    let site = Site::new();
    // Rules before any record: they judge every period.
    site.server(&["program", "set", "--threshold", "2"]);
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &token, 1);
    // 06:00–15:00: over the cap, for review.
    let i = k.scan(&site, "M-1", at("2026-10-05", 6, 0), EventKind::CheckIn);
    let o = k.scan(
        &site,
        "M-1",
        at("2026-10-05", 15, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    k.send(vec![i.clone(), o]);
    let organizer = site.add_organizer("Olga", &["--school", "lincoln"]);
    let browser = Browser::start(1280, 1600);
    browser.goto(&format!(
        "{}/?period=2026-fall#token={organizer}",
        server.url
    ));
    browser.wait_for("document.body.dataset.loaded");

    // A paper sign-in sheet: two mentors, one date, one reason.
    let set = |css: &str, value: &str| {
        browser.eval(&format!(
            "const e = document.querySelector({}); e.value = {}; e.dispatchEvent(new Event('input')); return true;",
            serde_json::Value::String(css.into()),
            serde_json::Value::String(value.into())
        ));
    };
    set("#enter-date", "2026-10-09");
    set("#enter-category", "training");
    browser.type_into("#enter-reason", "paper sign-in sheet, training day");
    set("#enter-lines tr:nth-child(2) .enter-mentor", "M-2");
    set("#enter-lines tr:nth-child(2) .enter-start", "08:00");
    set("#enter-lines tr:nth-child(2) .enter-end", "10:00");
    browser.click("#enter-add");
    set("#enter-lines tr:nth-child(3) .enter-mentor", "M-3");
    set("#enter-lines tr:nth-child(3) .enter-start", "09:00");
    set("#enter-lines tr:nth-child(3) .enter-end", "10:30");
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    browser.eval("document.getElementById('enter-section').scrollIntoView(); return true;");
    browser.screenshot(&shots.join("organizer-enter-time-en.png"));
    browser.click("#enter-save");
    browser.wait_for("document.getElementById('notice').innerText.includes('2 sessions entered')");
    let report = site.hours_csv("2026-fall");
    let hours = |m: &str| {
        report
            .lines()
            .find(|l| l.starts_with(&format!("{m},")))
            .and_then(|l| l.split(',').nth(4))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        (hours("M-2"), hours("M-3")),
        ("2.00".into(), "1.50".into()),
        "{report}"
    );
    let bodies: Vec<String> = site.column(
        "SELECT body FROM events WHERE kiosk = 'server' ORDER BY sequence",
        &[],
    );
    assert_eq!(bodies.len(), 2);
    assert!(
        bodies
            .iter()
            .all(|b| b.contains("\"organizer\":\"Olga\"") && b.contains("paper sign-in sheet")),
        "{bodies:?}"
    );
    // 08:00 and 09:00 in Chicago (CDT) are 13:00 and 14:00 UTC.
    assert!(
        bodies[0].contains("2026-10-09T13:00:00Z") && bodies[1].contains("2026-10-09T14:00:00Z"),
        "{bodies:?}"
    );

    // M-2 reached the threshold: the payment form's date is today at her school.
    browser.wait_for("document.querySelector('#unpaid form.pay input[type=date]')");
    let paid_date =
        browser.eval("return document.querySelector('#unpaid form.pay input[type=date]').value;");
    assert_eq!(
        paid_date,
        serde_json::Value::String(chicago_today().to_string())
    );

    // Another organizer changes the item's times after the page loaded: approving it now
    // records nothing, and the page says so and reloads.
    site.server(&[
        "review",
        "resolve",
        &i.id.to_string(),
        "--start",
        "2026-10-05T05:00:00-05:00",
        "--by",
        "Ana",
        "--reason",
        "teacher says 5 am",
    ]);
    let before = site.server_event_count();
    let row = format!("#review tr[data-item='{}']", i.id);
    browser.type_into(&format!("{row} input.reason"), "long training day");
    let loaded = browser.eval("return document.body.dataset.loaded;");
    browser.click(&format!("{row} button[data-action='approve']"));
    browser.wait_for(&format!("document.body.dataset.loaded != {loaded}"));
    assert!(
        browser
            .text("#error")
            .contains("changed since the page was loaded"),
        "{}",
        browser.text("#error")
    );
    assert_eq!(site.server_event_count(), before, "nothing recorded");
    // Reloaded, as it is now: approving records it.
    browser.type_into(&format!("{row} input.reason"), "long training day");
    let loaded = browser.eval("return document.body.dataset.loaded;");
    browser.click(&format!("{row} button[data-action='approve']"));
    browser.wait_for(&format!("document.body.dataset.loaded != {loaded}"));
    browser.wait_for(&format!("!document.querySelector(\"{row}\")"));
    assert_eq!(site.server_event_count(), before + 1);

    // Her page lists the decisions with their ids; the approval can be reversed from there.
    browser.click("#mentors button.link[data-mentor='M-1']");
    browser.wait_for("!document.getElementById('mentor-page').hidden");
    browser.wait_for("document.querySelector('#mentor-corrections button[data-action=reverse]')");
    // Ana's new times and Olga's approval, each with its id.
    let corrections = browser.text("#mentor-corrections");
    assert!(
        corrections.contains("Ana") && corrections.contains("Olga"),
        "{corrections}"
    );
    browser.type_into("#mentor-corrections input.reason", "approved the wrong day");
    browser.click("#mentor-corrections button[data-action=reverse]");
    browser.wait_for("document.getElementById('notice').innerText.includes('reversed')");
    let list = site.server(&["review", "list"]);
    assert!(list.contains(&i.id.to_string()), "back in review: {list}");
    // The reversed approval stays on her page, marked, with the void that reversed it.
    browser
        .wait_for("document.getElementById('mentor-corrections').innerText.includes('reversed')");

    // In Spanish.
    browser.eval("const s = document.getElementById('lang'); s.value = 'es'; s.dispatchEvent(new Event('change')); return true;");
    browser.wait_for(
        "document.querySelector('#enter-section h2').innerText == 'Anotar horas después'",
    );
    browser.eval("document.getElementById('mentor-page').scrollIntoView(); return true;");
    browser.screenshot(&shots.join("organizer-mentor-decisions-es.png"));
    browser.eval("document.getElementById('enter-section').scrollIntoView(); return true;");
    browser.screenshot(&shots.join("organizer-enter-time-es.png"));
}

/// The Coordinator PINs table: a lost kiosk's PINs shown as exposed, a new one set from the
/// page, in English and Spanish.
#[test]
fn the_page_lists_exposed_pins_and_sets_a_new_one() {
    use e2e_tests::webdriver::Browser;

    let site = Site::new();
    let server = Server::start(&site);
    let old = site.add_kiosk("front");
    site.add_coordinator("lincoln", "Carmen", "48291375");
    site.server(&[
        "kiosk",
        "add",
        "--school",
        "lincoln",
        "--name",
        "front again",
        "--replaces",
        &kiosk_id_of(&old),
    ]);
    let organizer = site.add_organizer("Olga", &["--school", "lincoln"]);
    let browser = Browser::start(1280, 1600);
    browser.goto(&format!("{}/#token={organizer}", server.url));
    browser.wait_for("document.body.dataset.loaded");
    let row = "#pins tr[data-coordinator='Carmen']";
    assert!(
        browser.text(row).contains("was on a lost kiosk"),
        "{}",
        browser.text(row)
    );
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    browser.eval("document.getElementById('kiosks-section').scrollIntoView(); return true;");
    browser.screenshot(&shots.join("organizer-pins-en.png"));
    // Spanish: the same table, in her language.
    browser.eval(
        "const s = document.getElementById('lang'); s.value = 'es'; s.dispatchEvent(new Event('change')); return true;",
    );
    browser.wait_for(&format!(
        "(document.querySelector(\"{row}\") || {{}}).innerText?.includes('quiosco perdido')"
    ));
    browser.eval("document.getElementById('kiosks-section').scrollIntoView(); return true;");
    browser.screenshot(&shots.join("organizer-pins-es.png"));
    // A trivial PIN is refused and said; a good one is saved.
    browser.type_into(&format!("{row} input"), "11111111");
    browser.click(&format!("{row} button"));
    browser.wait_for("document.getElementById('error').innerText.length > 0");
    browser.type_into(&format!("{row} input"), "59173824");
    browser.click(&format!("{row} button"));
    browser.wait_for("document.getElementById('notice').innerText.includes('Carmen')");
    browser.wait_for(&format!(
        "(document.querySelector(\"{row}\") || {{}}).innerText?.includes('✓')"
    ));
    assert!(site.server(&["coordinator", "list"]).contains("Carmen\tok"));
}
