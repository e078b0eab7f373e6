//! A throwaway PostgreSQL cluster for tests, started by the test process itself: `initdb` in a
//! temporary folder (as the unprivileged `postgres` user when the tests run as root, since
//! PostgreSQL refuses to run as root), on a free loopback port, trust authentication, fsync off.
//! It stops and its folder is removed when the test process ends: a shell beside it waits on a
//! pipe whose other end only this process holds. Each test takes a database of its own.
//! (Shared by the server's storage tests and the end-to-end tests through `#[path]`.)

// Each user takes what it needs (tests one cluster, benchmarks the durable one).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Cluster {
    pub port: u16,
    /// The server's self-signed certificate (PEM, for `localhost` and 127.0.0.1): the cluster
    /// also speaks TLS, to clients that ask for it (`sslmode=require&sslrootcert=…`).
    pub certificate: String,
    /// Holds the pipe the cluster's keeper waits on: closed when this process ends.
    _keeper: Mutex<Child>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static DURABLE: OnceLock<Result<Cluster, String>> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The cluster, started on first use. Panics with the reason if PostgreSQL cannot start:
/// a test that asked for it must not pass without it.
pub fn cluster() -> &'static Cluster {
    started(&CLUSTER, false)
}

/// A second cluster with PostgreSQL's durable defaults (fsync, synchronous commit), for
/// benchmarks that compare it with SQLite at `synchronous=FULL`.
pub fn durable_cluster() -> &'static Cluster {
    started(&DURABLE, true)
}

fn started(cell: &'static OnceLock<Result<Cluster, String>>, durable: bool) -> &'static Cluster {
    match cell.get_or_init(|| start(durable)) {
        Ok(c) => c,
        Err(why) => panic!(
            "the test PostgreSQL cluster could not start: {why}\n(install it with scripts/system-deps.sh: Debian's postgresql package)"
        ),
    }
}

/// A new, empty database in the cluster, as a URL the server takes.
pub fn fresh_database() -> String {
    database_in(cluster())
}

/// A new, empty database in the durable cluster.
pub fn fresh_durable_database() -> String {
    database_in(durable_cluster())
}

/// Runs `sql` on the test cluster's maintenance database (for what a database cannot do to
/// itself, such as refusing connections).
pub fn run_in_cluster(sql: &str) {
    connect(cluster().port, "postgres")
        .expect("connect to the test cluster")
        .batch_execute(sql)
        .expect("run on the test cluster");
}

fn database_in(c: &Cluster) -> String {
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = connect(c.port, "postgres").expect("connect to the test cluster");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    format!("postgres://pm@127.0.0.1:{}/{name}", c.port)
}

fn connect(port: u16, db: &str) -> Result<postgres::Client, postgres::Error> {
    postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("pm")
        .dbname(db)
        .connect(postgres::NoTls)
}

fn bin_dir() -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("/usr/lib/postgresql: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("postgres").exists())
        .collect();
    // The newest major version.
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args` as the `postgres` user when we are root.
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A self-signed certificate and its key in `dir`, readable only by the cluster's owner (as
/// PostgreSQL demands of a key). Returns the certificate.
fn tls_files(dir: &Path, root: bool) -> Result<String, String> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|e| format!("test certificate: {e}"))?;
    let (crt, key) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::write(&crt, cert.pem()).map_err(|e| e.to_string())?;
    // Readable by its owner only from the start, as PostgreSQL demands of a key.
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key)
        .and_then(|mut f| f.write_all(signing_key.serialize_pem().as_bytes()))
        .map_err(|e| e.to_string())?;
    if root {
        let chown = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&crt)
            .arg(&key)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !chown.success() {
            return Err("cannot give the certificate to the postgres user".into());
        }
    }
    Ok(cert.pem())
}

fn start(durable: bool) -> Result<Cluster, String> {
    let bin = bin_dir()?;
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("pm-test-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    if root {
        let chown = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !chown.success() {
            return Err("cannot give the cluster's folder to the postgres user".into());
        }
    }
    let certificate = tls_files(&dir, root)?;
    let data = dir.join("data");
    let init = as_owner(root, &bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "pm",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !init.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    // The keeper: runs PostgreSQL, and when our end of its stdin closes (this process ended,
    // however it ended) stops it fast and removes the folder.
    let script = r#"
"$3/postgres" -D "$1/data" -p "$2" -k "$1" -c listen_addresses=127.0.0.1 \
    -c fsync="$4" -c synchronous_commit="$4" -c full_page_writes="$4" \
    -c max_connections=300 -c ssl=on -c ssl_cert_file="$1/server.crt" \
    -c ssl_key_file="$1/server.key" >"$1/log" 2>&1 &
pg=$!
cat >/dev/null
kill -INT "$pg" 2>/dev/null
wait "$pg"
rm -rf "$1"
"#;
    let mut keeper = as_owner(root, Path::new("/bin/sh"))
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(&dir)
        .arg(port.to_string())
        .arg(&bin)
        .arg(if durable { "on" } else { "off" })
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting postgres: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match connect(port, "postgres") {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => {
                let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                if let Some(stdin) = keeper.stdin.as_mut() {
                    let _ = stdin.write_all(b"stop\n");
                }
                let _ = keeper.kill();
                return Err(format!("no answer on port {port}: {e}\n{log}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Ok(Cluster {
        port,
        certificate,
        _keeper: Mutex::new(keeper),
    })
}
