//! Helpers shared by the end-to-end tests: the workspace's real binaries, a real server on a
//! loopback port, a kiosk data folder.

pub mod upload;
pub mod webdriver;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub mod pg;

/// A binary of this workspace, built by `cargo build --workspace` into the shared target folder.
pub fn workspace_binary(name: &str) -> PathBuf {
    // CARGO_BIN_EXE_* is only set for a package's own binaries; ours live in sibling packages,
    // so find them beside the test executable (target/<profile>/deps/..).
    let mut dir = std::env::current_exe().unwrap_or_default();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs a binary to completion.
pub fn run(binary: &str, args: &[&str], cwd: &Path) -> Output {
    Command::new(workspace_binary(binary))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| {
            panic!("{binary} should start (run `cargo build --workspace` first): {e}")
        })
}

/// Runs a binary and insists it succeeds; returns stdout.
pub fn ok(binary: &str, args: &[&str], cwd: &Path) -> String {
    let out = run(binary, args, cwd);
    assert!(
        out.status.success(),
        "{binary} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The kiosk id a kiosk token names (`<kiosk-id>.<secret>`).
pub fn kiosk_id_of(token: &str) -> String {
    token.split('.').next().unwrap_or_default().to_owned()
}

/// A workspace: a server database with one school, mentors, badges, and kiosks.
pub struct Site {
    pub dir: tempfile::TempDir,
    /// The server's database: `server.db` in `dir`, or a PostgreSQL URL.
    pub db: String,
}

/// Which database a test site's server uses: SQLite, unless `PM_TEST_DB=postgres` asks for a
/// fresh database in the tests' own PostgreSQL cluster (`scripts/test.sh` runs the server's
/// end-to-end tests both ways).
pub fn test_database() -> String {
    match std::env::var("PM_TEST_DB").as_deref() {
        Ok("postgres") => pg::fresh_database(),
        _ => "server.db".to_owned(),
    }
}

impl Site {
    /// School `lincoln` (America/Chicago) with mentors M-1 (es), M-2 (en), M-3 (es) and their
    /// badges under `badges/`.
    pub fn new() -> Self {
        Self::with_database(test_database())
    }

    /// The same site, its server on a fresh PostgreSQL database whatever `PM_TEST_DB` says.
    pub fn on_postgres() -> Self {
        Self::with_database(pg::fresh_database())
    }

    pub fn with_database(db: String) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let site = Self { dir, db };
        site.server(&[
            "school",
            "add",
            "--id",
            "lincoln",
            "--name",
            "Lincoln Elementary",
            "--timezone",
            "America/Chicago",
        ]);
        std::fs::write(
            site.path("mentors.csv"),
            "id,name,school,language\nM-1,María López,lincoln,es\nM-2,Ann Lee,lincoln,en\nM-3,Rosa Díaz,lincoln,es\n",
        )
        .expect("write mentors");
        site.server(&["mentor", "import", "mentors.csv"]);
        site.server(&["badges", "--out", "badges"]);
        // The tests replay fixed past dates (October 2026): delivered today, those scans would
        // be late deliveries. The rule is off here; the tests of the rule turn it on.
        site.server(&["program", "set", "--late-delivery-days", "0"]);
        site
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The server's database, opened in this process.
    pub fn open_db(&self) -> sync_server::db::Db {
        if sync_server::db::is_postgres_url(&self.db) {
            sync_server::db::Db::open_spec(&self.db).expect("open server db")
        } else {
            sync_server::db::Db::open(&self.path(&self.db)).expect("open server db")
        }
    }

    /// The rows of a query on the server's database, whichever engine holds it.
    pub fn query(&self, sql: &str, params: &[&str]) -> Vec<sync_server::db::sql::Row> {
        self.open_db()
            .select(sql, params)
            .expect("query the server db")
    }

    /// The first column of a query's rows, as `T`.
    pub fn column<T: sync_server::db::sql::FromValue>(&self, sql: &str, params: &[&str]) -> Vec<T> {
        self.query(sql, params)
            .iter()
            .map(|r| r.get(0).expect("a value of the asked type"))
            .collect()
    }

    /// The first column of the query's first row.
    pub fn scalar<T: sync_server::db::sql::FromValue>(&self, sql: &str, params: &[&str]) -> T {
        self.column(sql, params).into_iter().next().expect("a row")
    }

    /// `sync-server --db DB ARGS`, which must succeed.
    pub fn server(&self, args: &[&str]) -> String {
        let mut all = vec!["--db", self.db.as_str()];
        all.extend_from_slice(args);
        ok("sync-server", &all, self.dir.path())
    }

    /// The hours report for a period, as CSV.
    pub fn hours_csv(&self, period: &str) -> String {
        self.server(&["report", "hours", "--format", "csv", "--period", period])
    }

    /// Registers an organizer (`scope`: `["--all"]` or `["--school", "a,b"]`); returns her token.
    pub fn add_organizer(&self, name: &str, scope: &[&str]) -> String {
        let mut args = vec!["organizer", "add", "--name", name];
        args.extend_from_slice(scope);
        let out = self.server(&args);
        out.lines().last().unwrap_or_default().trim().to_owned()
    }

    /// Adds a coordinator of `school` with this PIN (`coordinator add`).
    pub fn add_coordinator(&self, school: &str, name: &str, pin: &str) {
        self.server(&[
            "coordinator",
            "add",
            "--school",
            school,
            "--name",
            name,
            "--pin",
            pin,
        ]);
    }

    /// A second school, Jefferson (Chicago), with a kiosk of its own; returns that kiosk's token.
    pub fn add_jefferson(&self) -> String {
        self.server(&[
            "school",
            "add",
            "--id",
            "jefferson",
            "--name",
            "Jefferson Elementary",
            "--timezone",
            "America/Chicago",
        ]);
        let out = self.server(&["kiosk", "add", "--school", "jefferson", "--name", "J room"]);
        out.lines().last().unwrap_or_default().trim().to_owned()
    }

    /// Registers a kiosk; returns its token.
    pub fn add_kiosk(&self, name: &str) -> String {
        let out = self.server(&["kiosk", "add", "--school", "lincoln", "--name", name]);
        out.lines().last().unwrap_or_default().trim().to_owned()
    }

    /// `kiosk --data DATA ARGS`.
    pub fn kiosk(&self, data: &str, args: &[&str]) -> Output {
        let mut all = vec!["--data", data];
        all.extend_from_slice(args);
        run("kiosk", &all, self.dir.path())
    }

    pub fn kiosk_ok(&self, data: &str, args: &[&str]) -> String {
        let mut all = vec!["--data", data];
        all.extend_from_slice(args);
        ok("kiosk", &all, self.dir.path())
    }

    /// Writes a replay script of (at, image) rows.
    pub fn script(&self, name: &str, rows: &[(&str, &str)]) -> String {
        let mut text = String::from("at,image\n");
        for (at, image) in rows {
            text.push_str(&format!("{at},{image}\n"));
        }
        std::fs::write(self.path(name), text).expect("write script");
        name.to_owned()
    }

    /// Events stored on the server.
    pub fn server_event_count(&self) -> i64 {
        let count = self.open_db().event_count().expect("count");
        i64::try_from(count).expect("count fits")
    }
}

impl Default for Site {
    fn default() -> Self {
        Self::new()
    }
}

/// A real `sync-server serve` on a free loopback port, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    /// Its standard error: the log.
    pub log: PathBuf,
}

impl Server {
    pub fn start(site: &Site) -> Self {
        Self::start_on(site, "127.0.0.1:0")
    }

    pub fn start_on(site: &Site, listen: &str) -> Self {
        Self::start_with(site, &["--listen", listen])
    }

    /// `sync-server serve ARGS`, waiting until it announces its address.
    pub fn start_with(site: &Site, serve_args: &[&str]) -> Self {
        let mut args = vec!["--db", site.db.as_str(), "serve"];
        args.extend_from_slice(serve_args);
        Self::start_args(site, &args)
    }

    /// `sync-server ARGS` (which must serve), waiting until it announces its address.
    pub fn start_args(site: &Site, args: &[&str]) -> Self {
        // The server's log goes to a file: a pipe nobody reads would block or break it.
        static STARTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log_path = site.path(&format!("server-{}-{n}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).expect("server log");
        let child = Command::new(workspace_binary("sync-server"))
            .args(args)
            .current_dir(site.dir.path())
            .stderr(Stdio::from(log))
            .stdout(Stdio::null())
            .spawn()
            .expect("start server");
        // Owned by a Server at once, so a failed start is killed and reaped on drop.
        let mut server = Self {
            child,
            url: String::new(),
            log: log_path.clone(),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            // Only whole lines: the server may be in the middle of writing one.
            let text = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
            // "serving on URL", or with --log-format json a line whose message is "serving".
            let json_url = text.lines().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["fields"]["message"] == "serving")
                    .then(|| v["fields"]["url"].as_str().map(str::to_owned))
                    .flatten()
            });
            if let Some(url) = text
                .lines()
                .find_map(|l| l.strip_prefix("serving on ").map(str::to_owned))
                .or(json_url)
            {
                server.url = url.trim().to_owned();
                assert!(!server.url.is_empty(), "no address in: {text}");
                return server;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "server did not start: {text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The port, to start a server again on the same address.
    pub fn listen_addr(&self) -> String {
        self.url.split("://").nth(1).unwrap_or_default().to_owned()
    }

    /// SIGINT (Ctrl-C), as an operator stops it: returns whether it then exited cleanly.
    pub fn interrupt(mut self) -> bool {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while sent && std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw HTTP/1.1 request, so tests can send anything, malformed bodies included.
pub fn http(
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    try_http(url, method, path, token, body)
        .unwrap_or_else(|e| panic!("{method} {path} to {url}: {e}"))
}

/// [`http`] for a server that may be gone (killed on purpose): a refused connection or a
/// failed write is an error, not a panic.
pub fn try_http(
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr)?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    let _ = stream.write_all(body);
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    Ok((status, body))
}
