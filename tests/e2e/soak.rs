//! Faults, proven by a soak: the real server and four real kiosks replaying scans, a TCP proxy
//! (written here) between them that delays, cuts and refuses connections, while the server and
//! the kiosks are SIGKILLed and restarted at random points, mid-upload included. When the faults
//! stop and every kiosk has synced, the server holds exactly the events the kiosks committed,
//! each once; every outcome a kiosk printed is among them; and the report equals a
//! recomputation. About a minute in the normal run; `PM_SOAK_SECONDS=600` soaks longer.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_tests::{workspace_binary, Server, Site};

/// A small deterministic random source (the seed is printed, so a failure can be replayed).
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Default)]
struct ProxyStats {
    connections: AtomicU64,
    refused: AtomicU64,
    cut: AtomicU64,
    delayed: AtomicU64,
}

/// Forwards loopback connections to `backend`, misbehaving while `faults` is set.
fn proxy(
    backend: Arc<std::sync::Mutex<String>>,
    faults: Arc<AtomicBool>,
    stats: Arc<ProxyStats>,
    seed: u64,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("proxy");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        let mut dice = Dice(seed | 1);
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            stats.connections.fetch_add(1, Ordering::Relaxed);
            let roll = if faults.load(Ordering::Relaxed) {
                dice.below(10)
            } else {
                9
            };
            if roll == 0 {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                let _ = client.shutdown(Shutdown::Both);
                continue;
            }
            let target = backend.lock().map(|b| b.clone()).unwrap_or_default();
            let delay = if roll == 1 {
                stats.delayed.fetch_add(1, Ordering::Relaxed);
                Duration::from_millis(100 + dice.below(900))
            } else {
                Duration::ZERO
            };
            // A cut: the connection dies after some bytes, in either direction.
            let limit = if roll == 2 {
                stats.cut.fetch_add(1, Ordering::Relaxed);
                Some(dice.below(3000) as usize)
            } else {
                None
            };
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let Ok(server) = TcpStream::connect(&target) else {
                    return;
                };
                let pipe = |mut from: TcpStream, mut to: TcpStream, limit: Option<usize>| {
                    let mut sent = 0usize;
                    let mut buf = [0u8; 8192];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let n = limit.map_or(n, |l| n.min(l.saturating_sub(sent)));
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n;
                    }
                    let _ = to.shutdown(Shutdown::Both);
                    let _ = from.shutdown(Shutdown::Both);
                };
                let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                    (Ok(c), Ok(s)) => (c, s),
                    _ => return,
                };
                let up = std::thread::spawn(move || pipe(client, server, limit));
                pipe(s2, c2, limit);
                let _ = up.join();
            });
        }
    });
    addr
}

/// A kiosk command, SIGKILLed after `kill_after` if it is still running; its stdout, and
/// whether it was killed.
fn run_kiosk(site: &Site, args: &[&str], kill_after: Option<Duration>) -> (String, bool) {
    let mut child = Command::new(workspace_binary("kiosk"))
        .args(args)
        .current_dir(site.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kiosk");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + kill_after.unwrap_or(Duration::from_secs(120));
    let mut killed = false;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            killed = kill_after.is_some();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (reader.join().unwrap_or_default(), killed)
}

fn event_ids(db: &std::path::Path) -> Vec<(String, String, String)> {
    let conn = rusqlite::Connection::open(db).expect("db");
    let mut stmt = conn
        .prepare("SELECT id, mentor, at FROM events")
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn kiosks_and_server_killed_at_random_over_a_faulty_network_lose_and_double_nothing() {
    let seconds: u64 = std::env::var("PM_SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(45);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    println!("soak: {seconds} s, seed {seed}");
    let mut dice = Dice(seed | 1);
    let site = Site::new();
    let mut server = Server::start(&site);
    let listen = server.listen_addr();
    let backend = Arc::new(std::sync::Mutex::new(listen.clone()));
    let faults = Arc::new(AtomicBool::new(true));
    let stats = Arc::new(ProxyStats::default());
    let proxy_addr = proxy(backend.clone(), faults.clone(), stats.clone(), seed);
    let kiosks: Vec<String> = (0..4).map(|k| format!("kiosk-{k}")).collect();
    for k in &kiosks {
        let token = site.add_kiosk(k);
        let url = format!("http://{proxy_addr}");
        site.kiosk_ok(k, &["setup", "--server", &url, "--token", &token]);
    }

    let (mut scans, mut kiosk_kills, mut server_kills, mut syncs) = (0u64, 0u64, 0u64, 0u64);
    let mut printed: Vec<String> = Vec::new();
    // Each kiosk's scans move forward in time, 13 minutes apart, in its own stretch of days.
    let base = chrono::DateTime::parse_from_rfc3339("2026-09-01T07:00:00-05:00").expect("base");
    let mut next_scan: Vec<i64> = vec![0; kiosks.len()];
    let started = Instant::now();
    let mut round = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        round += 1;
        let k = dice.below(kiosks.len() as u64) as usize;
        match dice.below(10) {
            // A morning of scans, maybe killed partway.
            0..=4 => {
                let rows: Vec<(String, String)> = (0..(5 + dice.below(20)))
                    .map(|_| {
                        let minutes = next_scan[k] * 13;
                        next_scan[k] += 1;
                        let at = base
                            + chrono::Duration::days(40 * k as i64)
                            + chrono::Duration::minutes(minutes);
                        (
                            at.to_rfc3339(),
                            format!("badges/M-{}.png", 1 + dice.below(3)),
                        )
                    })
                    .collect();
                let refs: Vec<(&str, &str)> =
                    rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                let script = site.script(&format!("r{round}.csv"), &refs);
                let kill =
                    (dice.below(3) == 0).then(|| Duration::from_millis(20 + dice.below(200)));
                let (out, killed) =
                    run_kiosk(&site, &["--data", &kiosks[k], "replay", &script], kill);
                scans += out.lines().count() as u64;
                printed.extend(out.lines().map(str::to_owned));
                kiosk_kills += u64::from(killed);
            }
            // A sync, maybe killed mid-upload.
            5..=7 => {
                let kill = (dice.below(3) == 0).then(|| Duration::from_millis(dice.below(120)));
                let (_, killed) = run_kiosk(&site, &["--data", &kiosks[k], "sync", "--once"], kill);
                syncs += 1;
                kiosk_kills += u64::from(killed);
            }
            // The server is SIGKILLed (maybe mid-ingest) and comes back on the same port.
            _ => {
                if dice.below(2) == 0 {
                    std::thread::sleep(Duration::from_millis(dice.below(200)));
                }
                server.kill();
                server_kills += 1;
                server = Server::start_on(&site, &listen);
            }
        }
    }

    // The faults stop; every kiosk syncs until nothing waits.
    faults.store(false, Ordering::Relaxed);
    for k in &kiosks {
        for attempt in 0.. {
            let out = site.kiosk(k, &["sync", "--once"]);
            let conn = rusqlite::Connection::open(site.path(&format!("{k}/kiosk.db"))).expect("db");
            let pending: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM events WHERE delivered_at IS NULL",
                    [],
                    |r| r.get(0),
                )
                .expect("pending");
            if out.status.success() && pending == 0 {
                break;
            }
            assert!(
                attempt < 20,
                "{k} never finished syncing: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    drop(server);

    let on_server: Vec<(String, String, String)> = site
        .query("SELECT id, mentor, at FROM events", &[])
        .iter()
        .map(|r| {
            (
                r.get(0).expect("id"),
                r.get(1).expect("mentor"),
                r.get(2).expect("at"),
            )
        })
        .collect();
    let mut committed: Vec<(String, String, String)> = Vec::new();
    for k in &kiosks {
        committed.extend(event_ids(&site.path(&format!("{k}/kiosk.db"))));
    }
    let server_ids: std::collections::BTreeSet<&str> =
        on_server.iter().map(|e| e.0.as_str()).collect();
    let kiosk_ids: std::collections::BTreeSet<&str> =
        committed.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(server_ids.len(), on_server.len(), "each event stored once");
    assert_eq!(
        server_ids, kiosk_ids,
        "the server holds exactly what the kiosks committed"
    );
    let stored: std::collections::HashSet<(String, String)> = on_server
        .iter()
        .map(|e| (e.1.clone(), e.2.clone()))
        .collect();
    let mut shown = 0u64;
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
        shown += 1;
        let at = chrono::DateTime::parse_from_rfc3339(at)
            .expect("instant")
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        assert!(
            stored.contains(&(mentor.to_owned(), at)),
            "shown but not on the server: {line}"
        );
    }
    let mut db = site.open_db();
    let now = chrono::Utc::now();
    let cached = sync_server::report::hours(&mut db, None, Some("all"), now).expect("report");
    let fresh =
        sync_server::report::hours_recomputed(&db, None, Some("all"), now).expect("recomputed");
    assert_eq!(cached, fresh, "the report equals a recomputation");
    println!(
        "soak: {round} rounds, {scans} scans ({shown} shown as check-ins/outs), {} events stored once, {syncs} syncs, {kiosk_kills} kiosk kills, {server_kills} server kills; proxy: {} connections, {} refused, {} cut, {} delayed",
        on_server.len(),
        stats.connections.load(Ordering::Relaxed),
        stats.refused.load(Ordering::Relaxed),
        stats.cut.load(Ordering::Relaxed),
        stats.delayed.load(Ordering::Relaxed),
    );
}
