//! A lost kiosk (issue 19): whoever holds a kiosk's disk, roster and token cannot mint hours.
//! Badge scans carry a proof only the badge makes; late deliveries wait for an organizer.

use chrono::{Duration, Utc};
use e2e_tests::upload::{at, chicago_today, Uploader};
use e2e_tests::{http, Server, Site};
use pm_shared::{EventKind, ProgramRules, Source};

fn days_ago(n: i64) -> String {
    (chicago_today() - Duration::days(n)).to_string()
}

fn period_of(date: &str) -> String {
    let d: chrono::NaiveDate = date.parse().expect("date");
    ProgramRules::default().period_of(d).name.0
}

/// (hours, needs_review, set_aside) of a mentor's row in a period's hours CSV.
fn standing(site: &Site, mentor: &str, period: &str) -> (String, String, String) {
    let csv = site.hours_csv(period);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let row: Vec<&str> = lines
        .find(|l| l.starts_with(&format!("{mentor},")))
        .unwrap_or_else(|| panic!("no row for {mentor}: {csv}"))
        .split(',')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .map(|i| row[i].to_owned())
            .unwrap_or_default()
    };
    (col("hours"), col("needs_review"), col("set_aside"))
}

/// Reasons the server stored for these events (set-aside codes).
fn set_aside_reasons(site: &Site, ids: &[&pm_shared::Event]) -> Vec<String> {
    ids.iter()
        .map(|e| {
            site.scalar::<Option<String>>(
                "SELECT set_aside_reason FROM events WHERE id = ?1",
                &[&e.id.to_string()],
            )
            .unwrap_or_default()
        })
        .collect()
}

#[test]
fn a_stolen_kiosk_cannot_mint_hours() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &token, 1);
    // What the thief holds: the token, and the roster's badge hashes. Weeks of mornings,
    // backdated, with the right hash but no proof: set aside, nothing credited.
    let date = days_ago(3);
    let period = period_of(&date);
    let mut forged = Vec::new();
    for d in 0..3 {
        let day = days_ago(3 + d);
        let i = k.unproven_scan(&site, "M-2", at(&day, 8, 0), EventKind::CheckIn);
        let o = k.unproven_scan(
            &site,
            "M-2",
            at(&day, 12, 0),
            EventKind::CheckOut {
                check_in: Some(i.id),
            },
        );
        forged.extend([i, o]);
    }
    let ack = k.send(forged.clone());
    assert!(!ack.contains("\"stored\":[\""), "{ack}");
    let refs: Vec<&pm_shared::Event> = forged.iter().collect();
    assert!(
        set_aside_reasons(&site, &refs)
            .iter()
            .all(|r| r == "scan_unproven"),
        "{ack}"
    );
    assert_eq!(standing(&site, "M-2", &period).0, "0.00");

    // A proof keyed by what the roster gives (the hash) is no proof.
    let hash = e2e_tests::upload::badge_of(&site, "M-2").1;
    let mut fake = k.unproven_scan(&site, "M-2", at(&date, 13, 0), EventKind::CheckIn);
    pm_shared::prove_scan(&mut fake, &format!("PM1:M-2:1:{hash}"));
    k.send(vec![fake.clone()]);
    assert_eq!(set_aside_reasons(&site, &[&fake]), ["scan_unproven"]);

    // A proven scan altered before delivery (made a check-out, moved a week back) fails.
    let mut altered = k.scan(&site, "M-3", at(&date, 8, 0), EventKind::CheckIn);
    altered.at -= Duration::days(7);
    k.send(vec![altered.clone()]);
    assert_eq!(set_aside_reasons(&site, &[&altered]), ["scan_unproven"]);

    // The real kiosk, which read the badges, is credited.
    let i = k.scan(&site, "M-1", at(&date, 8, 0), EventKind::CheckIn);
    let o = k.scan(
        &site,
        "M-1",
        at(&date, 10, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    let ack = k.send(vec![i, o]);
    assert!(!ack.contains("scan_unproven"), "{ack}");
    assert_eq!(standing(&site, "M-1", &period).0, "2.00");

    // Organizers see the set-aside scans in the review queue with their reason.
    let olga = site.add_organizer("Olga", &["--all"]);
    let (status, body) = http(
        &server.url,
        "GET",
        "/api/v1/reviews?format=json",
        Some(&olga),
        b"",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("scan_unproven"), "{body}");
}

#[test]
fn kiosks_from_before_scan_proofs_must_prove_from_the_programs_date() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let kiosk = e2e_tests::kiosk_id_of(&token);
    // A kiosk registered before the server checked proofs (as an upgraded database has it).
    site.query(
        "UPDATE kiosks SET proof_required = 0 WHERE id = ?1",
        &[&kiosk],
    );
    let olga = site.add_organizer("Olga", &["--all"]);
    let kiosks = |site: &Site| {
        let (_, body) = http(&server.url, "GET", "/api/v1/kiosks", Some(&olga), b"");
        let _ = site;
        let list: serde_json::Value = serde_json::from_str(&body).expect("json");
        list.as_array()
            .and_then(|l| l.iter().find(|k| k["kiosk"] == kiosk.as_str()))
            .cloned()
            .unwrap_or_else(|| panic!("{body}"))
    };
    assert_eq!(kiosks(&site)["proves_scans"], false);
    let mut k = Uploader::new(&server, &token, 1);
    // Its older software (protocol 2, no proofs) still delivers before the date; a kiosk
    // registered with proofs but running it is refused with a clear error, its events kept.
    let newer = site.add_kiosk("side");
    let post_v2 = |token: &str, events: Vec<pm_shared::Event>, kiosk: pm_shared::KioskId| {
        let batch = pm_shared::protocol::UploadBatch {
            protocol: 2,
            kiosk,
            kiosk_clock: Utc::now(),
            events,
        };
        http(
            &server.url,
            "POST",
            "/api/v1/events",
            Some(token),
            serde_json::to_string(&batch).expect("json").as_bytes(),
        )
    };
    let v2 = k.unproven_scan(&site, "M-3", at(&days_ago(1), 7, 0), EventKind::CheckIn);
    let (status, body) = post_v2(&token, vec![v2.clone()], k.kiosk.clone());
    assert_eq!(status, 200, "{body}");
    assert_eq!(set_aside_reasons(&site, &[&v2]), [""]);
    let mut n = Uploader::new(&server, &newer, 3);
    let refused = n.unproven_scan(&site, "M-3", at(&days_ago(1), 7, 30), EventKind::CheckIn);
    let (status, body) = post_v2(&newer, vec![refused], n.kiosk.clone());
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("protocol 3"), "{body}");
    let date = days_ago(1);
    // Before the program's date (30 days after the upgrade by default): accepted.
    let old = k.unproven_scan(&site, "M-1", at(&date, 8, 0), EventKind::CheckIn);
    k.send(vec![old.clone()]);
    assert_eq!(set_aside_reasons(&site, &[&old]), [""]);
    // From the date the program names: set aside.
    site.server(&[
        "program",
        "set",
        "--require-scan-proof-from",
        &Utc::now().date_naive().to_string(),
    ]);
    let late = k.unproven_scan(&site, "M-2", at(&date, 8, 0), EventKind::CheckIn);
    k.send(vec![late.clone()]);
    assert_eq!(set_aside_reasons(&site, &[&late]), ["scan_unproven"]);

    // Another old kiosk: once it has sent a proven scan, an unproven one is never accepted.
    let token2 = site.add_kiosk("back");
    let kiosk2 = e2e_tests::kiosk_id_of(&token2);
    site.query(
        "UPDATE kiosks SET proof_required = 0 WHERE id = ?1",
        &[&kiosk2],
    );
    site.server(&[
        "program",
        "set",
        "--require-scan-proof-from",
        &(Utc::now().date_naive() + Duration::days(60)).to_string(),
    ]);
    let mut b = Uploader::new(&server, &token2, 2);
    let proven = b.scan(&site, "M-3", at(&date, 9, 0), EventKind::CheckIn);
    b.send(vec![proven.clone()]);
    assert_eq!(set_aside_reasons(&site, &[&proven]), [""]);
    let after = b.unproven_scan(&site, "M-3", at(&date, 11, 0), EventKind::CheckIn);
    b.send(vec![after.clone()]);
    assert_eq!(set_aside_reasons(&site, &[&after]), ["scan_unproven"]);
    assert!(matches!(
        after.source,
        Source::BadgeScan { proof: None, .. }
    ));
}

#[test]
fn scans_delivered_late_wait_for_an_organizer() {
    let site = Site::new();
    let server = Server::start(&site);
    // The harness turns the rule off for its fixed past dates; here it is on, as by default.
    site.server(&["program", "set", "--late-delivery-days", "14"]);
    let token = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &token, 1);
    let olga = site.add_organizer("Olga", &["--all"]);
    // A kiosk offline for a week delivers normally.
    let week = days_ago(7);
    let i = k.scan(&site, "M-1", at(&week, 8, 0), EventKind::CheckIn);
    let o = k.scan(
        &site,
        "M-1",
        at(&week, 10, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    k.send(vec![i, o]);
    assert_eq!(standing(&site, "M-1", &period_of(&week)).0, "2.00");
    // Three weeks late: held for review as late_delivery, credited once an organizer approves.
    let old = days_ago(21);
    let i = k.scan(&site, "M-2", at(&old, 8, 0), EventKind::CheckIn);
    let o = k.scan(
        &site,
        "M-2",
        at(&old, 11, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    k.send(vec![i.clone(), o]);
    let period = period_of(&old);
    assert_eq!(
        standing(&site, "M-2", &period),
        ("0.00".to_owned(), "1".to_owned(), "0".to_owned())
    );
    let (_, body) = http(
        &server.url,
        "GET",
        "/api/v1/reviews?format=json",
        Some(&olga),
        b"",
    );
    assert!(body.contains("late_delivery"), "{body}");
    site.server(&[
        "review",
        "resolve",
        &i.id.to_string(),
        "--approve",
        "--by",
        "Olga",
        "--reason",
        "the kiosk was in a closet for three weeks",
    ]);
    assert_eq!(standing(&site, "M-2", &period).0, "3.00");
    // 0 turns the rule off.
    site.server(&["program", "set", "--late-delivery-days", "0"]);
    let j = k.scan(&site, "M-3", at(&old, 8, 0), EventKind::CheckIn);
    let p = k.scan(
        &site,
        "M-3",
        at(&old, 9, 0),
        EventKind::CheckOut {
            check_in: Some(j.id),
        },
    );
    k.send(vec![j, p]);
    assert_eq!(standing(&site, "M-3", &period).0, "1.00");
}

#[test]
fn a_kiosk_cannot_write_into_another_kiosks_series() {
    let site = Site::new();
    let server = Server::start(&site);
    let first = site.add_kiosk("front");
    let second = site.add_kiosk("back");
    let mut a = Uploader::new(&server, &first, 1);
    let date = days_ago(1);
    let i = a.scan(&site, "M-1", at(&date, 8, 0), EventKind::CheckIn);
    let o = a.scan(
        &site,
        "M-1",
        at(&date, 10, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    a.send(vec![i, o]);
    let period = period_of(&date);
    assert_eq!(standing(&site, "M-1", &period).0, "2.00");
    // The second kiosk writes clock events into the first one's series (same series id):
    // refused whole, nothing stored, the first kiosk's sessions untouched.
    let mut b = Uploader::new(&server, &second, 1);
    b.sequence = 10;
    let jump = b.clock(
        at(&date, 9, 0),
        EventKind::ClockJump {
            delta_ms: 86_400_000,
        },
    );
    let batch = pm_shared::protocol::UploadBatch {
        protocol: pm_shared::protocol::PROTOCOL_VERSION,
        kiosk: b.kiosk.clone(),
        kiosk_clock: Utc::now(),
        events: vec![jump],
    };
    let (status, body) = http(
        &server.url,
        "POST",
        "/api/v1/events",
        Some(&second),
        serde_json::to_string(&batch).expect("json").as_bytes(),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("another kiosk"), "{body}");
    let stored: i64 = site.scalar("SELECT COUNT(*) FROM kiosk_events", &[]);
    assert_eq!(stored, 0);
    assert_eq!(standing(&site, "M-1", &period).0, "2.00");
    // Its own series is its own.
    let mut own = Uploader::new(&server, &second, 2);
    let scan = own.scan(&site, "M-2", at(&date, 8, 0), EventKind::CheckIn);
    own.send(vec![scan]);
}

#[test]
fn a_kiosk_is_told_set_aside_never_why() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &token, 1);
    let now = Utc::now();
    let entry = |k: &mut Uploader, mentor: &str| {
        k.coordinator(
            mentor,
            now,
            EventKind::AddSession {
                category: pm_shared::HourCategory::Workshop,
                start: now - Duration::hours(2),
                end: now - Duration::hours(1),
                group: None,
            },
        )
    };
    // An id nobody has, and the forged scan of a real mentor: the same answer for both, so
    // a stolen token cannot sort real ids from made-up ones.
    let unknown = entry(&mut k, "M-99");
    let forged = k.unproven_scan(&site, "M-1", now, EventKind::CheckIn);
    let ack = k.send(vec![unknown.clone(), forged.clone()]);
    let value: serde_json::Value = serde_json::from_str(&ack).expect("ack");
    let reasons: Vec<&str> = value["set_aside"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["set_aside", "set_aside"], "{ack}");
    assert!(!ack.contains("unknown_mentor") && !ack.contains("scan_unproven"));
    // The server keeps why, for organizers.
    assert_eq!(
        set_aside_reasons(&site, &[&unknown, &forged]),
        ["unknown_mentor", "scan_unproven"]
    );
}

#[test]
fn organizers_see_only_what_their_schools_may_know() {
    let site = Site::new();
    let server = Server::start(&site);
    let lincoln = site.add_kiosk("front");
    let jefferson = site.add_jefferson();
    let date = days_ago(2);
    let period = period_of(&date);
    // M-1 worked at Lincoln, then moved to Jefferson and was placed there.
    let mut l = Uploader::new(&server, &lincoln, 1);
    let i = l.scan(&site, "M-1", at(&date, 8, 0), EventKind::CheckIn);
    let o = l.scan(
        &site,
        "M-1",
        at(&date, 10, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    l.send(vec![i, o]);
    site.server(&["mentor", "move", "M-1", "--school", "jefferson"]);
    site.server(&[
        "mentor",
        "place",
        "M-1",
        "--teacher",
        "Mr. Park",
        "--classroom",
        "4",
    ]);
    // M-2 of Lincoln visits Jefferson's kiosk once.
    let mut j = Uploader::new(&server, &jefferson, 2);
    let visit = j.scan(&site, "M-2", at(&date, 9, 0), EventKind::CheckIn);
    j.send(vec![visit]);
    let olga = site.add_organizer("Olga", &["--school", "lincoln"]);
    let jo = site.add_organizer("Jo", &["--school", "jefferson"]);
    let get = |token: &str, path: &str| {
        let (status, body) = http(&server.url, "GET", path, Some(token), b"");
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    // Her old school sees her hours there, not where she is placed now.
    let page: serde_json::Value =
        serde_json::from_str(&get(&olga, "/api/v1/mentors/M-1")).expect("json");
    assert_eq!(page["teacher"], "", "{page}");
    for row in page["periods"].as_array().expect("periods") {
        assert_eq!(
            (row["teacher"].as_str(), row["classroom"].as_str()),
            (Some(""), Some(""))
        );
    }
    let csv = get(
        &olga,
        &format!("/api/v1/reports/hours?period={period}&format=csv"),
    );
    assert!(!csv.contains("Mr. Park"), "{csv}");
    // Her new school does.
    let csv = get(
        &jo,
        &format!("/api/v1/reports/hours?period={period}&format=csv"),
    );
    assert!(csv.contains("Mr. Park"), "{csv}");
    // The visited school's organizer sees the visitor's id only: no name, school or language.
    assert!(!csv.contains("Ann Lee"), "{csv}");
    let page: serde_json::Value =
        serde_json::from_str(&get(&jo, "/api/v1/mentors/M-2")).expect("json");
    assert_eq!(
        (
            page["name"].as_str(),
            page["school_id"].as_str(),
            page["language"].as_str()
        ),
        (Some(""), Some(""), Some(""))
    );
}

#[test]
fn a_lost_kiosks_pins_are_exposed_then_refused_until_set_again() {
    let site = Site::new();
    let server = Server::start(&site);
    let old = site.add_kiosk("front");
    site.add_coordinator("lincoln", "Carmen", "48291375");
    let roster_has_carmen = |token: &str| {
        let (status, body) = http(
            &server.url,
            "GET",
            "/api/v1/roster?protocol=3",
            Some(token),
            b"",
        );
        assert_eq!(status, 200, "{body}");
        body.contains("Carmen")
    };
    assert!(roster_has_carmen(&old));
    // The kiosk is stolen: its replacement is registered, and organizers are told at once.
    let kiosk = e2e_tests::kiosk_id_of(&old);
    let out = e2e_tests::run(
        "sync-server",
        &[
            "--db",
            site.db.as_str(),
            "kiosk",
            "add",
            "--school",
            "lincoln",
            "--name",
            "front again",
            "--replaces",
            &kiosk,
        ],
        site.dir.path(),
    );
    assert!(out.status.success());
    let told = String::from_utf8_lossy(&out.stderr);
    assert!(
        told.contains("Carmen") && told.contains("set-pin"),
        "{told}"
    );
    let new = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(site.server(&["coordinator", "list"]).contains("exposed"));
    let olga = site.add_organizer("Olga", &["--school", "lincoln"]);
    let (_, body) = http(&server.url, "GET", "/api/v1/coordinators", Some(&olga), b"");
    let list: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(list[0]["name"], "Carmen", "{body}");
    assert!(list[0]["exposed_at"].is_string(), "{body}");
    assert_eq!(list[0]["refused"], false, "within the grace period: {body}");
    // Within the grace period her PIN still opens the kiosk; after it, the kiosks refuse it.
    assert!(roster_has_carmen(&new));
    site.server(&["program", "set", "--exposed-pin-grace-days", "0"]);
    assert!(
        !roster_has_carmen(&new),
        "refused once the grace period is over"
    );
    // The organizer sets a new PIN from the page's API: a weak one is refused, a good one
    // brings her back.
    let (status, body) = http(
        &server.url,
        "POST",
        "/api/v1/coordinators/pin",
        Some(&olga),
        br#"{"school":"lincoln","name":"Carmen","pin":"11111111"}"#,
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = http(
        &server.url,
        "POST",
        "/api/v1/coordinators/pin",
        Some(&olga),
        br#"{"school":"lincoln","name":"Carmen","pin":"59173824"}"#,
    );
    assert_eq!(status, 204, "{body}");
    assert!(roster_has_carmen(&new));
    assert!(site.server(&["coordinator", "list"]).contains("\tok"));
    // Another school's organizer cannot.
    site.add_jefferson();
    let jo = site.add_organizer("Jo", &["--school", "jefferson"]);
    let (status, _) = http(
        &server.url,
        "POST",
        "/api/v1/coordinators/pin",
        Some(&jo),
        br#"{"school":"lincoln","name":"Carmen","pin":"59173824"}"#,
    );
    assert_eq!(status, 403);
}

#[test]
fn a_stolen_kiosk_cannot_backdate_check_ins_without_a_badge() {
    let site = Site::new();
    let server = Server::start(&site);
    site.add_coordinator("lincoln", "Ms. Rivera", "48291375");
    let token = site.add_kiosk("front");
    let mut k = Uploader::new(&server, &token, 1);
    // A month back, "without a badge", in the coordinator's name: too old, set aside.
    let old = days_ago(30);
    let i = k.coordinator("M-1", at(&old, 8, 0), EventKind::CheckIn);
    let o = k.coordinator(
        "M-1",
        at(&old, 12, 0),
        EventKind::CheckOut {
            check_in: Some(i.id),
        },
    );
    k.send(vec![i.clone(), o.clone()]);
    assert_eq!(set_aside_reasons(&site, &[&i, &o]), ["too_old", "too_old"]);
    // Within her term and the 14 days, it is a coordinator's ordinary correction.
    let i = k.coordinator("M-2", Utc::now() - Duration::minutes(1), EventKind::CheckIn);
    k.send(vec![i.clone()]);
    assert_eq!(set_aside_reasons(&site, &[&i]), [""]);
}

/// A PIN a coordinator changed at the kiosk (its new hash, the one it replaces, and a proof
/// made with her old PIN) reaches the server at the next sync; a weak hash, or a change not
/// proven with her current PIN (a stolen kiosk's token and roster), is refused; an organizer's
/// reset meanwhile wins, and the kiosk then drops its change.
#[test]
fn a_pin_changed_at_the_kiosk_reaches_the_server_unless_an_organizer_reset_it() {
    let site = Site::new();
    let server = Server::start(&site);
    site.add_coordinator("lincoln", "Ms. Rivera", "24681379");
    let token = site.add_kiosk("room");
    site.kiosk_ok(
        "room",
        &["setup", "--server", &server.url, "--token", &token],
    );
    let hash_of = |site: &Site| -> String {
        site.scalar(
            "SELECT pin_hash FROM coordinators WHERE name = 'Ms. Rivera'",
            &[],
        )
    };
    let salt_of = |site: &Site| -> String {
        site.scalar(
            "SELECT change_salt FROM coordinators WHERE name = 'Ms. Rivera'",
            &[],
        )
    };
    let store = |site: &Site| {
        kiosk::store::Store::open(
            &kiosk::db_path(&site.path("room")),
            pm_shared::SeriesId::from_parts(0, [0; 10]),
            Utc::now(),
        )
        .expect("kiosk store")
    };
    // What the kiosk makes when she enters `old`, then `new` twice.
    let change = |site: &Site, old: &str, new: &str| {
        let secrets = pm_shared::pin_secrets(new, &[5; 16], &[6; 16]).expect("secrets");
        let mut change = pm_shared::protocol::OwnPinChange {
            name: "Ms. Rivera".into(),
            pin_hash: secrets.hash,
            replaces: hash_of(site),
            change_salt: secrets.change_salt,
            change_key: String::new(),
            proof: String::new(),
        };
        let key = pm_shared::change_key(old, &salt_of(site)).expect("key");
        change.change_key =
            pm_shared::wrap_change_key(&key, &change, &secrets.change_key).expect("wrap");
        change.proof = pm_shared::own_pin_proof(&key, &change);
        change
    };
    let post = |token: &str, change: &pm_shared::protocol::OwnPinChange| {
        http(
            &server.url,
            "POST",
            "/api/v1/coordinators/own-pin",
            Some(token),
            serde_json::to_string(change).expect("json").as_bytes(),
        )
    };

    // A weak hash (the old parameters) is refused outright.
    let weak = pm_shared::protocol::OwnPinChange {
        pin_hash: pm_shared::hash_pin_with("40817263", &[5; 16], 19 * 1024, 2).expect("hash"),
        ..change(&site, "24681379", "40817263")
    };
    let (status, body) = post(&token, &weak);
    assert_eq!(status, 400, "{body}");
    // A stolen kiosk knows the hash and the salt, not the PIN: its guess proves nothing.
    let (status, body) = post(&token, &change(&site, "11112222", "40817263"));
    assert_eq!(status, 403, "{body}");
    assert!(pm_shared::verify_pin("24681379", &hash_of(&site)));

    // Changed at the kiosk: the next sync takes it to the server, and the kiosk forgets it.
    store(&site)
        .save_own_pin(&change(&site, "24681379", "40817263"))
        .expect("save");
    site.kiosk_ok("room", &["sync", "--once"]);
    assert!(pm_shared::verify_pin("40817263", &hash_of(&site)));
    assert!(store(&site).own_pins().expect("pending").is_empty());
    let listed = site.server(&["coordinator", "list"]);
    assert!(!listed.contains("weak"), "{listed}");
    // The server keeps the new PIN's change key, unwrapped: the next change is proven with it.
    let key: String = site.scalar(
        "SELECT change_key FROM coordinators WHERE name = 'Ms. Rivera'",
        &[],
    );
    let expected = pm_shared::change_key("40817263", &salt_of(&site)).expect("key");
    assert_eq!(key, data_encoding::HEXLOWER.encode(&expected));

    // Changed again at the kiosk, but an organizer reset it meanwhile: hers wins.
    store(&site)
        .save_own_pin(&change(&site, "40817263", "59203817"))
        .expect("save");
    site.server(&[
        "coordinator",
        "set-pin",
        "--school",
        "lincoln",
        "--name",
        "Ms. Rivera",
        "--pin",
        "73920461",
    ]);
    site.kiosk_ok("room", &["sync", "--once"]);
    assert!(pm_shared::verify_pin("73920461", &hash_of(&site)));
    assert!(store(&site).own_pins().expect("pending").is_empty());

    // A lost kiosk exposes her PIN: changing it at a kiosk is refused, an organizer sets it.
    let replacement = site.server(&[
        "kiosk",
        "add",
        "--school",
        "lincoln",
        "--name",
        "room 2",
        "--replaces",
        &e2e_tests::kiosk_id_of(&token),
    ]);
    let new_token = replacement.lines().last().expect("token").trim().to_owned();
    let (status, body) = post(&new_token, &change(&site, "73920461", "59203817"));
    assert_eq!(status, 403, "{body}");
    assert!(pm_shared::verify_pin("73920461", &hash_of(&site)));

    // Another school's kiosk cannot change her PIN, even with it.
    let jefferson = site.add_jefferson();
    let (status, body) = post(&jefferson, &change(&site, "73920461", "59203817"));
    assert_eq!(status, 404, "{body}");
    assert!(pm_shared::verify_pin("73920461", &hash_of(&site)));
}
