//! Running the server like real software: a config file, health and readiness, Prometheus
//! metrics behind a token, request logs without tokens (text or JSON), scheduled backups with
//! pruning and a restore drill.

use e2e_tests::{http, run, Server, Site};

fn write_config(site: &Site, extra: &str) -> String {
    let text = format!(
        "db = \"server.db\"\nlisten = \"127.0.0.1:0\"\nbackup_dir = \"backups\"\nbackup_every = \"6h\"\nkeep = 2\nmetrics_token = \"scrape-me\"\n{extra}"
    );
    std::fs::write(site.path("config.toml"), text).expect("config");
    "config.toml".to_owned()
}

/// The finished backups (a copy still being written has a hidden partial name).
fn backups(site: &Site) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = everything_in(&site.path("backups"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("pm-backup-") && n.ends_with(".db"))
        })
        .collect();
    files.sort();
    files
}

fn everything_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn wait_for_backups(site: &Site, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while backups(site).len() < n {
        assert!(std::time::Instant::now() < deadline, "no backup appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
}

#[test]
fn a_configured_server_reports_health_metrics_and_backs_itself_up() {
    let site = Site::new();
    let config = write_config(&site, "");
    let server = Server::start_args(&site, &["--config", &config, "serve"]);
    assert_eq!(http(&server.url, "GET", "/healthz", None, b"").0, 200);
    assert_eq!(http(&server.url, "GET", "/readyz", None, b"").0, 200);
    // Metrics: the token is asked for; every series is there from the start, at 0.
    assert_eq!(http(&server.url, "GET", "/metrics", None, b"").0, 401);
    assert_eq!(
        http(&server.url, "GET", "/metrics", Some("wrong"), b"").0,
        401
    );
    let (status, text) = http(&server.url, "GET", "/metrics", Some("scrape-me"), b"");
    assert_eq!(status, 200, "{text}");
    for name in [
        "pm_events_ingested_total",
        "pm_events_set_aside_total",
        "pm_events_already_stored_total",
        "pm_roster_pulls_total",
        "pm_upload_batch_seconds_count",
        "pm_report_seconds_count",
        "pm_review_items_open",
    ] {
        assert_eq!(metric(&text, name), 0.0, "{name}");
    }
    assert!(text.contains("# TYPE pm_kiosk_last_seen_seconds gauge"));
    // A backup was taken at start.
    wait_for_backups(&site, 1);

    // A kiosk syncs one scan; the organizer reads a report.
    let token = site.add_kiosk("front");
    site.kiosk_ok(
        "front",
        &["setup", "--server", &server.url, "--token", &token],
    );
    let at = (chrono::Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
    let script = site.script("a.csv", &[(&at, "badges/M-1.png")]);
    site.kiosk_ok("front", &["replay", &script]);
    site.kiosk_ok("front", &["sync", "--once"]);
    site.kiosk_ok("front", &["sync", "--once"]);
    let olga = site.add_organizer("Olga", &["--all"]);
    assert_eq!(
        http(
            &server.url,
            "GET",
            "/api/v1/reports/hours",
            Some(&olga),
            b""
        )
        .0,
        200
    );
    let (_, text) = http(&server.url, "GET", "/metrics", Some("scrape-me"), b"");
    // The scan, and the clock check the kiosk records after delivering it.
    assert!(metric(&text, "pm_events_ingested_total") >= 1.0);
    assert!(metric(&text, "pm_roster_pulls_total") >= 2.0);
    assert!(metric(&text, "pm_upload_batch_seconds_count") >= 1.0);
    assert_eq!(metric(&text, "pm_report_seconds_count"), 1.0);
    assert!(metric(&text, "pm_review_items_open") >= 0.0);
    let kiosk = e2e_tests::kiosk_id_of(&token);
    assert!(
        metric(
            &text,
            &format!("pm_kiosk_last_seen_seconds{{kiosk=\"{kiosk}\"}}")
        ) < 60.0,
        "{text}"
    );

    // The log: a line per request with who made it, never a token, never a mentor id.
    let log = std::fs::read_to_string(&server.log).expect("log");
    assert!(
        log.lines().any(
            |l| l.contains("route=/api/v1/events") && l.contains(&format!("who=kiosk:{kiosk}"))
        ),
        "{log}"
    );
    assert!(
        log.lines().any(|l| l.contains("who=organizer:Olga")),
        "{log}"
    );
    assert!(!log.contains(&token) && !log.contains(&olga) && !log.contains("scrape-me"));
    let (status, _) = http(&server.url, "GET", "/api/v1/mentors/M-1", Some(&olga), b"");
    assert_eq!(status, 200);
    let log = std::fs::read_to_string(&server.log).expect("log");
    assert!(
        log.contains("route=/api/v1/mentors/{id}") && !log.contains("M-1"),
        "{log}"
    );

    // Readiness follows the database: a schema this binary does not know is not ready.
    let conn = rusqlite::Connection::open(site.path("server.db")).expect("db");
    conn.execute("UPDATE schema_version SET version = version + 1", [])
        .expect("bump");
    assert_eq!(http(&server.url, "GET", "/readyz", None, b"").0, 503);
    assert_eq!(http(&server.url, "GET", "/healthz", None, b"").0, 200);
    conn.execute("UPDATE schema_version SET version = version - 1", [])
        .expect("restore");
    assert_eq!(http(&server.url, "GET", "/readyz", None, b"").0, 200);
    drop(server);

    // Two more starts: each takes a backup, and only the newest two are kept.
    for _ in 0..2 {
        let before = backups(&site);
        let server = Server::start_args(&site, &["--config", &config, "serve"]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        // Appeared (renamed into place once checked) and the oldest pruned.
        while backups(&site) == before || backups(&site).len() > 2 {
            assert!(std::time::Instant::now() < deadline, "no new backup");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        drop(server);
    }
    let kept = backups(&site);
    assert_eq!(kept.len(), 2, "{kept:?}");
    // Each server was stopped once its backup had appeared: nothing half-written is left.
    assert_eq!(everything_in(&site.path("backups")), kept);

    // The restore drill: the newest backup, restored into a fresh database, gives the same
    // hours report as the live one.
    let newest = kept.last().expect("a backup").display().to_string();
    let live = site.server(&["report", "hours", "--period", "all"]);
    let out = run(
        "sync-server",
        &["--db", "restored.db", "restore", "--from", &newest],
        site.dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = e2e_tests::ok(
        "sync-server",
        &["--db", "restored.db", "report", "hours", "--period", "all"],
        site.dir.path(),
    );
    assert_eq!(restored, live);
    assert!(live.contains("M-1,"));
}

#[test]
fn config_mistakes_are_named_and_json_logs_parse() {
    let site = Site::new();
    let config = write_config(&site, "colour = \"blue\"\n");
    let out = run(
        "sync-server",
        &["--config", &config, "serve"],
        site.dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("colour"), "the unknown key is named: {err}");
    std::fs::write(site.path("bad.toml"), "listen = \"127.0.0.1:0\"\n").expect("write");
    let out = run(
        "sync-server",
        &["--config", "bad.toml", "serve"],
        site.dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("db"));
    let config = write_config(&site, "");
    let out = run(
        "sync-server",
        &["--config", &config, "serve", "--backup-every", "5x"],
        site.dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("5x"));

    // Flags win over the file; JSON logs are one object per line.
    std::fs::write(site.path("plain.toml"), "db = \"other.db\"\n").expect("write");
    let server = Server::start_args(
        &site,
        &[
            "--config",
            "plain.toml",
            "--db",
            site.db.as_str(),
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert!(
        !site.path("other.db").exists(),
        "--db wins over the config's db"
    );
    let olga = site.add_organizer("Olga", &["--all"]);
    assert_eq!(
        http(&server.url, "GET", "/api/v1/reviews", Some(&olga), b"").0,
        200
    );
    assert_eq!(
        http(&server.url, "GET", "/metrics", None, b"").0,
        200,
        "no token set: open"
    );
    let log = std::fs::read_to_string(&server.log).expect("log");
    let request = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["route"] == "/api/v1/reviews")
        .unwrap_or_else(|| panic!("no JSON request line in\n{log}"));
    assert_eq!(request["fields"]["status"], 200);
    assert_eq!(request["fields"]["who"], "organizer:Olga");
}
