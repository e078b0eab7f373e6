//! The server on PostgreSQL, in the tests' own throwaway cluster: admin commands on an empty
//! database, two server processes sharing one database, `migrate` from SQLite, and backups
//! refused with the way to do them.

use e2e_tests::{http, kiosk_id_of, run, Server, Site};

/// A batch from `kiosk` of check-in/check-out pairs on school days of October 2026, one mentor
/// per kiosk; event ids unique per (`stream`, sequence).
/// The mentor's badge text.
fn badge_text(site: &e2e_tests::Site, mentor: &str) -> String {
    e2e_tests::upload::badge_of(site, mentor).0
}

/// The batch with every scan's proof made again (after the test changed its events).
fn reproved(batch: &str, badge: &str) -> String {
    let mut batch: pm_shared::protocol::UploadBatch = serde_json::from_str(batch).expect("batch");
    for event in &mut batch.events {
        pm_shared::prove_scan(event, badge);
    }
    serde_json::to_string(&batch).expect("json")
}

/// `days` mornings of 2 h for `mentor`, scanned from her badge `badge` (its text: each scan
/// carries the proof a kiosk that read it makes).
fn pairs_batch(
    stream: u16,
    kiosk: &str,
    mentor: &str,
    badge: &str,
    first_day: u32,
    days: u32,
) -> String {
    let hash = pm_shared::badge_hash(badge);
    let series = format!("0190b000-0000-7000-8{stream:03x}-000000000001");
    let mut events = Vec::new();
    for d in first_day..first_day + days {
        for (half, kind, hour) in [(0, "check_in", 13), (1, "check_out", 15)] {
            let seq = u64::from(d) * 2 + half + 1;
            let day = 1 + d % 28;
            let json = format!(
                r#"{{"id":"0190b000-0000-7000-8{stream:03x}-{seq:012}","kiosk":"{kiosk}","series":"{series}","sequence":{seq},"mentor":"{mentor}","at":"2026-10-{day:02}T{hour}:00:00Z","time_zone":"America/Chicago","kind":{{"type":"{kind}"}},"source":{{"type":"badge_scan","generation":1,"provisional":false,"badge_hash":"{hash}"}}}}"#
            );
            let mut event: pm_shared::Event = serde_json::from_str(&json).expect("event");
            pm_shared::prove_scan(&mut event, badge);
            events.push(serde_json::to_string(&event).expect("json"));
        }
    }
    let clock = chrono::Utc::now().to_rfc3339();
    format!(
        r#"{{"protocol":3,"kiosk":"{kiosk}","kiosk_clock":"{clock}","events":[{}]}}"#,
        events.join(",")
    )
}

#[test]
fn admin_commands_work_on_an_empty_postgres_database() {
    // `Site::on_postgres` runs `school add`, `mentor import` and `badges` on a new database.
    let site = Site::on_postgres();
    assert!(sync_server::db::is_postgres_url(&site.db));
    let token = site.add_kiosk("front");
    site.add_coordinator("lincoln", "Ana", "48291375");
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
        "clearance",
        "set",
        "M-1",
        "--kind",
        "tb-test",
        "--expires",
        "2027-06-30",
    ]);
    let server = Server::start(&site);
    let badge = badge_text(&site, "M-1");
    let body = pairs_batch(1, &kiosk_id_of(&token), "M-1", &badge, 4, 1);
    let (status, ack) = http(
        &server.url,
        "POST",
        "/api/v1/events",
        Some(&token),
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{ack}");
    let (status, roster) = http(
        &server.url,
        "GET",
        "/api/v1/roster?protocol=2",
        Some(&token),
        b"",
    );
    assert_eq!(status, 200, "{roster}");
    assert!(
        roster.contains("Ms. Smith") && roster.contains("tb-test"),
        "{roster}"
    );
    let report = site.hours_csv("2026-fall");
    assert!(
        report.contains("M-1,María López,lincoln,2026-fall,2.00,1,1,"),
        "{report}"
    );
    assert_eq!(site.server_event_count(), 2);
    // The database drops every connection (a restart, an idle timeout): the next requests
    // are served on fresh ones.
    let dropped: Vec<bool> = site.column(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
        &[],
    );
    assert!(!dropped.is_empty());
    for _ in 0..3 {
        let (status, roster) = http(
            &server.url,
            "GET",
            "/api/v1/roster?protocol=2",
            Some(&token),
            b"",
        );
        assert_eq!(
            status,
            200,
            "{roster}\nserver log:\n{}",
            std::fs::read_to_string(&server.log).unwrap_or_default()
        );
    }
    // Ctrl-C stops it cleanly: its connections are closed, nothing aborts.
    let log = server.log.clone();
    assert!(
        server.interrupt(),
        "{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A database URL's password shows neither in `--help` (from PM_DATABASE_URL) nor in the
/// message about a broken config line.
#[test]
fn database_passwords_stay_out_of_help_and_errors() {
    let dir = tempfile::tempdir().expect("dir");
    let help = std::process::Command::new(e2e_tests::workspace_binary("sync-server"))
        .arg("--help")
        .env("PM_DATABASE_URL", "postgres://pm:s3cret@db.example/pm")
        .output()
        .expect("help");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("PM_DATABASE_URL") && !text.contains("s3cret"),
        "{text}"
    );
    std::fs::write(
        dir.path().join("config.toml"),
        "listen = \"127.0.0.1:0\"\ndb = \"postgres://pm:s3cret@db.example/pm\" oops\n",
    )
    .expect("config");
    let out = run(
        "sync-server",
        &["--config", "config.toml", "report", "hours"],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("line 2") && !err.contains("s3cret"), "{err}");
}

#[test]
fn backups_of_a_postgres_database_point_to_its_own_tools() {
    let site = Site::on_postgres();
    let out = run(
        "sync-server",
        &["--db", &site.db, "backup", "--out", "copy.db"],
        site.dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!site.path("copy.db").exists());
    let out = run(
        "sync-server",
        &["--db", &site.db, "serve", "--backup-dir", "backups"],
        site.dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
}

/// Two `sync-server serve` processes on one database: six kiosks deliver to both (every batch
/// to both servers at once), while rosters and reports are pulled from both. Every event is
/// stored once, and the report (from materialized totals) equals a recomputation from the log.
#[test]
fn two_servers_on_one_database_keep_exactly_once() {
    let site = Site::on_postgres();
    let organizer = site.add_organizer("Olga", &["--all"]);
    let servers = [Server::start(&site), Server::start(&site)];
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let mentors = ["M-1", "M-2", "M-3"];
    let badges: Vec<String> = mentors.iter().map(|m| badge_text(&site, m)).collect();
    let kiosks: Vec<String> = (0..6).map(|k| site.add_kiosk(&format!("k{k}"))).collect();
    const BATCHES: u32 = 4;
    const DAYS: u32 = 5;
    std::thread::scope(|scope| {
        for (k, token) in kiosks.iter().enumerate() {
            let (urls, badge) = (&urls, &badges[k % 3]);
            let mentor = mentors[k % 3];
            scope.spawn(move || {
                for b in 0..BATCHES {
                    let stream = u16::try_from(k).expect("small");
                    let body =
                        pairs_batch(stream, &kiosk_id_of(token), mentor, badge, b * DAYS, DAYS);
                    // The same batch to both servers at the same moment.
                    std::thread::scope(|both| {
                        for url in urls {
                            let body = &body;
                            both.spawn(move || {
                                let (status, ack) = http(
                                    url,
                                    "POST",
                                    "/api/v1/events",
                                    Some(token),
                                    body.as_bytes(),
                                );
                                assert_eq!(status, 200, "{ack}");
                            });
                        }
                    });
                }
            });
        }
        for (i, url) in urls.iter().enumerate() {
            let (organizer, token) = (&organizer, &kiosks[i]);
            scope.spawn(move || {
                for _ in 0..10 {
                    let (status, body) = http(url, "GET", "/api/v1/roster", Some(token), b"");
                    assert_eq!(status, 200, "{body}");
                    let (status, body) = http(
                        url,
                        "GET",
                        "/api/v1/reports/hours?period=all",
                        Some(organizer),
                        b"",
                    );
                    assert_eq!(status, 200, "{body}");
                }
            });
        }
    });
    let expected = 6 * BATCHES * DAYS * 2;
    assert_eq!(site.server_event_count(), i64::from(expected));
    let mut db = site.open_db();
    let now = chrono::Utc::now();
    let served = sync_server::report::hours(&mut db, None, Some("all"), now).expect("report");
    let recomputed =
        sync_server::report::hours_recomputed(&db, None, Some("all"), now).expect("recompute");
    assert_eq!(
        serde_json::to_string(&served).expect("json"),
        serde_json::to_string(&recomputed).expect("json")
    );
    // Both servers answer the same report.
    let answers: Vec<String> = urls
        .iter()
        .map(|url| {
            let (status, body) = http(
                url,
                "GET",
                "/api/v1/reports/hours?period=all&format=csv",
                Some(&organizer),
                b"",
            );
            assert_eq!(status, 200, "{body}");
            body
        })
        .collect();
    assert_eq!(answers[0], answers[1]);
    assert!(
        answers[0].contains("M-1,María López,lincoln"),
        "{}",
        answers[0]
    );

    // The same payment posted to both servers at the same moment (a double click that a load
    // balancer sent two ways): one is booked, the other refused, for every mentor.
    for mentor in mentors {
        let body = format!(
            r#"{{"mentor":"{mentor}","period":"2026-fall","amount":"600.00","paid_on":"2026-12-01","reference":"CHK-{mentor}","not_eligible":true}}"#
        );
        let statuses: Vec<u16> = std::thread::scope(|both| {
            let handles: Vec<_> = urls
                .iter()
                .map(|url| {
                    let (body, organizer) = (&body, &organizer);
                    both.spawn(move || {
                        http(
                            url,
                            "POST",
                            "/api/v1/stipends",
                            Some(organizer),
                            body.as_bytes(),
                        )
                        .0
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("post"))
                .collect()
        });
        let mut sorted = statuses.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [201, 409], "{mentor}: {statuses:?}");
    }
    let booked: i64 = site.scalar("SELECT COUNT(*) FROM stipend_payments", &[]);
    assert_eq!(booked, 3, "one payment per mentor");

    // A review item resolved on both servers at the same moment (approve on one, void on the
    // other): one decision is recorded, the other refused.
    let kiosk = kiosk_id_of(&kiosks[0]);
    let stray = reproved(
        &pairs_batch(40, &kiosk, "M-1", &badges[0], 27, 1)
            .replace(r#""type":"check_in""#, r#""type":"check_out""#),
        &badges[0],
    );
    let (status, ack) = http(
        &urls[0],
        "POST",
        "/api/v1/events",
        Some(&kiosks[0]),
        stray.as_bytes(),
    );
    assert_eq!(status, 200, "{ack}");
    let (status, items) = http(
        &urls[0],
        "GET",
        "/api/v1/reviews?period=all&format=csv",
        Some(&organizer),
        b"",
    );
    assert_eq!(status, 200, "{items}");
    let items: Vec<String> = items
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next().map(str::to_owned))
        .collect();
    assert!(!items.is_empty(), "the stray check-outs need review");
    for item in items {
        let path = format!("/api/v1/reviews/{item}");
        let bodies = [
            r#"{"action":"void","reason":"a stray scan"}"#,
            r#"{"action":"void","reason":"the same stray scan"}"#,
        ];
        let statuses: Vec<u16> = std::thread::scope(|both| {
            let handles: Vec<_> = urls
                .iter()
                .zip(bodies)
                .map(|(url, body)| {
                    let (path, organizer) = (&path, &organizer);
                    both.spawn(move || http(url, "POST", path, Some(organizer), body.as_bytes()).0)
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("post"))
                .collect()
        });
        assert_eq!(
            statuses.iter().filter(|s| **s == 409).count(),
            1,
            "{item}: {statuses:?}"
        );
        let decisions: i64 = site.scalar(
            "SELECT COUNT(*) FROM events WHERE item = ?1",
            &[item.as_str()],
        );
        assert_eq!(decisions, 1, "{item}");
    }
}

/// Servers and commands starting at once on an empty database: the schema is made once, under
/// the migration lock, and every one of them works.
#[test]
fn commands_starting_at_once_on_an_empty_database_migrate_once() {
    let db = e2e_tests::pg::fresh_database();
    let dir = tempfile::tempdir().expect("dir");
    let runs: Vec<std::process::Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let (db, dir) = (&db, dir.path());
                scope.spawn(move || {
                    let id = format!("s{i}");
                    run(
                        "sync-server",
                        &[
                            "--db",
                            db,
                            "school",
                            "add",
                            "--id",
                            &id,
                            "--name",
                            "S",
                            "--timezone",
                            "UTC",
                        ],
                        dir,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("run"))
            .collect()
    });
    for out in &runs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let site = Site {
        dir: tempfile::tempdir().expect("dir"),
        db,
    };
    let versions: Vec<i64> = site.column("SELECT version FROM schema_version", &[]);
    assert_eq!(versions, [12]);
    let schools: Vec<String> = site.column("SELECT id FROM schools ORDER BY id", &[]);
    assert_eq!(schools, ["s0", "s1", "s2", "s3", "s4", "s5"]);
}

#[test]
fn migrate_copies_a_sqlite_server_and_checks_the_copy() {
    let site = Site::with_database("server.db".to_owned());
    let token = site.add_kiosk("front");
    site.server(&[
        "mentor",
        "place",
        "M-2",
        "--teacher",
        "Mr. Ruiz",
        "--classroom",
        "7",
    ]);
    site.server(&[
        "clearance",
        "set",
        "M-2",
        "--kind",
        "background",
        "--expires",
        "2027-01-31",
    ]);
    site.server(&["program", "set", "--volunteer-rate", "34.79"]);
    {
        let server = Server::start(&site);
        let kiosk = kiosk_id_of(&token);
        for (stream, mentor) in [(1u16, "M-1"), (2, "M-2")] {
            let badge = badge_text(&site, mentor);
            let body = pairs_batch(stream, &kiosk, mentor, &badge, 0, 12);
            let (status, ack) = http(
                &server.url,
                "POST",
                "/api/v1/events",
                Some(&token),
                body.as_bytes(),
            );
            assert_eq!(status, 200, "{ack}");
        }
        // A mistake for the review queue: a check-out with no check-in.
        let badge = badge_text(&site, "M-3");
        let body = reproved(
            &pairs_batch(3, &kiosk, "M-3", &badge, 0, 1)
                .replace(r#""type":"check_in""#, r#""type":"check_out""#),
            &badge,
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
    // An older server stored a NUL in a name (SQLite holds one, PostgreSQL cannot).
    rusqlite::Connection::open(site.path("server.db"))
        .expect("db")
        .execute(
            "UPDATE mentors SET name = 'Rosa' || char(0) || 'Díaz' WHERE id = 'M-3'",
            [],
        )
        .expect("old data");
    let target = e2e_tests::pg::fresh_database();
    let out = run(
        "sync-server",
        &["migrate", "--from", "server.db", "--to", &target],
        site.dir.path(),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("events\t50"), "{said}");
    assert!(said.contains("verified equal"), "{said}");
    let on = |db: &str, args: &[&str]| {
        let mut all = vec!["--db", db];
        all.extend_from_slice(args);
        e2e_tests::ok("sync-server", &all, site.dir.path())
    };
    for args in [
        &["report", "hours", "--period", "all"][..],
        &["review", "list", "--period", "all"][..],
        &[
            "report",
            "program",
            "--from",
            "2026-08-01",
            "--to",
            "2026-12-31",
            "--format",
            "csv",
        ][..],
        &["clearance", "list"][..],
    ] {
        assert_eq!(on("server.db", args), on(&target, args), "{args:?}");
    }
    // The migrated server takes the old kiosk's token and its next events.
    let server = Server::start(&Site {
        dir: tempfile::tempdir().expect("dir"),
        db: target.clone(),
    });
    let (status, roster) = http(&server.url, "GET", "/api/v1/roster", Some(&token), b"");
    assert_eq!(status, 200, "{roster}");
    // A second migration into the same database is refused: it is not empty.
    let again = run(
        "sync-server",
        &["migrate", "--from", "server.db", "--to", &target],
        site.dir.path(),
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

/// A database on another machine is reached over TLS, its certificate verified: every
/// connection the commands and the server make is encrypted, a certificate nobody vouched for
/// is refused with a message that says so, and `sslrootcert` without TLS is refused.
#[test]
fn a_database_over_tls_is_reached_with_its_certificate_verified() {
    let files = tempfile::tempdir().expect("dir");
    let ca = files.path().join("db-ca.pem");
    std::fs::write(&ca, &e2e_tests::pg::cluster().certificate).expect("ca");
    let plain = e2e_tests::pg::fresh_database();
    let url = format!("{plain}?sslmode=require&sslrootcert={}", ca.display());
    // The admin commands (school, roster import, badges) run over TLS.
    let site = Site::with_database(url.clone());
    let token = site.add_kiosk("front");
    let server = Server::start(&site);
    let badge = badge_text(&site, "M-1");
    let body = pairs_batch(1, &kiosk_id_of(&token), "M-1", &badge, 4, 1);
    let (status, ack) = http(
        &server.url,
        "POST",
        "/api/v1/events",
        Some(&token),
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{ack}");
    assert!(site
        .hours_csv("2026-fall")
        .contains("M-1,María López,lincoln,2026-fall,2.00,"));
    // The server's connections and this test's own are encrypted; none is not.
    let encrypted = "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
                     WHERE a.datname = current_database() AND a.backend_type = 'client backend' \
                     AND s.ssl = ?1";
    assert!(site.scalar::<i64>(&encrypted.replace("?1", "true"), &[]) >= 2);
    assert_eq!(
        site.scalar::<i64>(&encrypted.replace("?1", "false"), &[]),
        0
    );
    // libpq's verifying modes mean the same.
    let verify_full = format!("{plain}?sslmode=verify-full&sslrootcert={}", ca.display());
    let dir = files.path();
    let out = run(
        "sync-server",
        &["--db", &verify_full, "review", "list"],
        dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A certificate from another authority: refused, and the message says why.
    let stranger = files.path().join("other-ca.pem");
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("cert");
    std::fs::write(&stranger, other.cert.pem()).expect("other ca");
    let wrong = format!("{plain}?sslmode=require&sslrootcert={}", stranger.display());
    let out = run("sync-server", &["--db", &wrong, "review", "list"], dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("certificate"), "{err}");
    // Without sslrootcert, Mozilla's roots are used: a private certificate is refused too.
    let out = run(
        "sync-server",
        &[
            "--db",
            &format!("{plain}?sslmode=require"),
            "review",
            "list",
        ],
        dir,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("certificate"),
        "{err}"
    );
    // A CA file that is not there, and a CA file without TLS: clear refusals.
    let missing = format!("{plain}?sslmode=require&sslrootcert=/nonexistent/ca.pem");
    let out = run("sync-server", &["--db", &missing, "review", "list"], dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("sslrootcert /nonexistent/ca.pem: "),
        "{err}"
    );
    let no_tls = format!("{plain}?sslrootcert={}", ca.display());
    let out = run("sync-server", &["--db", &no_tls, "review", "list"], dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("sslmode=require"),
        "{err}"
    );
}

/// The connection ends while COMMIT is under way (a deferred trigger ends the session at
/// commit, once per table). An upload is run again on a fresh connection (its events are
/// stored once whatever happened), but a payment is never run again: it might be booked, so
/// the answer says so (503 `outcome_unknown`) and the organizer checks before paying again.
#[test]
fn a_connection_lost_during_commit_replays_uploads_but_never_a_payment() {
    let site = Site::on_postgres();
    let token = site.add_kiosk("front");
    let organizer = site.add_organizer("Olga", &["--all"]);
    let server = Server::start(&site);
    for table in ["stipend_payments", "events"] {
        site.query(&format!("CREATE SEQUENCE {table}_cut"), &[]);
        site.query(
            &format!(
                "CREATE FUNCTION {table}_cut() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF nextval('{table}_cut') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); \
                 END IF; RETURN NULL; END $$"
            ),
            &[],
        );
        site.query(
            &format!(
                "CREATE CONSTRAINT TRIGGER {table}_cut AFTER INSERT ON {table} \
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {table}_cut()"
            ),
            &[],
        );
    }
    let payment = r#"{"mentor":"M-1","period":"2026-fall","amount":"600.00","paid_on":"2026-12-01","reference":"CHK-1","not_eligible":true}"#;
    let (status, body) = http(
        &server.url,
        "POST",
        "/api/v1/stipends",
        Some(&organizer),
        payment.as_bytes(),
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("outcome_unknown"), "{body}");
    let booked: i64 = site.scalar("SELECT COUNT(*) FROM stipend_payments", &[]);
    assert_eq!(
        booked, 0,
        "this COMMIT did not happen, and it was not run again"
    );
    // Checked, then recorded once.
    let (status, body) = http(
        &server.url,
        "POST",
        "/api/v1/stipends",
        Some(&organizer),
        payment.as_bytes(),
    );
    assert_eq!(status, 201, "{body}");

    let badge = badge_text(&site, "M-1");
    let batch = pairs_batch(1, &kiosk_id_of(&token), "M-1", &badge, 4, 1);
    let (status, ack) = http(
        &server.url,
        "POST",
        "/api/v1/events",
        Some(&token),
        batch.as_bytes(),
    );
    assert_eq!(status, 200, "{ack}");
    assert_eq!(site.server_event_count(), 2);
    let cuts: i64 = site.scalar("SELECT last_value FROM events_cut", &[]);
    assert!(
        cuts >= 3,
        "the upload ran twice (two events each time): {cuts}"
    );
}

/// Reports recompute stale totals and store them; on PostgreSQL several at once (the page, a
/// CLI report, another server) each lock the same mentors' rows. In any order of their own they
/// would deadlock and one would fail ("deadlock detected"); in one shared order all succeed.
#[test]
fn reports_at_once_never_deadlock_on_the_totals_they_store() {
    let site = Site::on_postgres();
    let mut roster = String::from("id,name,school,language\n");
    let mut sheet = String::from("mentor_id,date,start,end,category\n");
    for m in 10..70 {
        roster.push_str(&format!("M-{m},Mentor {m},lincoln,es\n"));
        sheet.push_str(&format!("M-{m},2026-10-05,08:00,10:00,classroom\n"));
    }
    std::fs::write(site.path("more.csv"), roster).expect("roster");
    std::fs::write(site.path("sheet.csv"), sheet).expect("sheet");
    site.server(&["mentor", "import", "more.csv"]);
    site.server(&[
        "session",
        "import",
        "sheet.csv",
        "--by",
        "Olga",
        "--reason",
        "paper",
    ]);
    for round in 0..4 {
        // A program-wide rule: every mentor's stored totals are stale again.
        site.server(&[
            "program",
            "set",
            "--late-delivery-days",
            &(round + 1).to_string(),
        ]);
        let reports: Vec<std::process::Output> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        run(
                            "sync-server",
                            &[
                                "--db", &site.db, "report", "hours", "--format", "csv", "--period",
                                "all",
                            ],
                            site.dir.path(),
                        )
                    })
                })
                .collect();
            runs.into_iter()
                .map(|r| r.join().expect("thread"))
                .collect()
        });
        for out in &reports {
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, reports[0].stdout, "every report says the same");
        }
        let csv = String::from_utf8_lossy(&reports[0].stdout).into_owned();
        assert!(csv.contains("M-69"), "{csv}");
    }
}
