//! The kiosk's window for real: the binary opens it on a private X server (Xvfb). `--demo` checks
//! mentors in from its simulated camera by itself; `kiosk` with no command runs the UI with the
//! background sync worker against the real server.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{workspace_binary, Server, Site};

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn first_line(child: &mut Child) -> String {
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("read");
    line.trim().to_owned()
}

/// A private X server on whatever display is free (it writes the number it took); killed when
/// dropped.
fn private_display() -> (Killed, String) {
    let mut xvfb = Killed(
        Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is needed for this test: scripts/system-deps.sh installs it"),
    );
    let number = first_line(&mut xvfb.0);
    assert!(!number.is_empty(), "Xvfb gave no display number");
    (xvfb, format!(":{number}"))
}

/// Polls `probe` until it gives `Some`, while `child` keeps running.
fn wait_for<T>(child: &mut Killed, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        assert!(
            child.0.try_wait().expect("wait").is_none(),
            "the kiosk exited while waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn the_demo_kiosk_opens_its_window_and_checks_mentors_in_by_itself() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_xvfb, display) = private_display();
    let mut kiosk = Killed(
        Command::new(workspace_binary("kiosk"))
            .arg("--demo")
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kiosk"),
    );
    let banner = first_line(&mut kiosk.0);
    let dir: PathBuf = banner
        .strip_prefix("demo kiosk: data in ")
        .and_then(|rest| rest.split(" (").next())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("unexpected banner {banner:?}"));
    assert!(
        dir.starts_with(tmp.path()),
        "demo data in {}",
        dir.display()
    );
    assert!(banner.contains("coordinator PIN 51627384"), "{banner}");

    // The demo camera shows María's badge about 3 s in and Ann's about 8 s in.
    wait_for(&mut kiosk, "María and Ann checked in by badge", || {
        rusqlite::Connection::open(dir.join("kiosk.db"))
            .and_then(|db| {
                db.query_row(
                    "SELECT COUNT(DISTINCT mentor) FROM events WHERE is_scan = 1",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            })
            .ok()
            .filter(|n| *n == 2)
    });
}

#[test]
fn kiosk_with_no_command_opens_its_window_and_syncs_in_the_background() {
    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("kiosk-a");
    site.kiosk_ok(
        "kiosk-a",
        &["setup", "--server", &server.url, "--token", &token],
    );
    // A check-in recorded while offline (a replayed frame), waiting on disk.
    let script = site.script(
        "one.csv",
        &[("2026-10-05T08:00:00-05:00", "badges/M-1.png")],
    );
    site.kiosk_ok("kiosk-a", &["replay", &script]);
    assert_eq!(site.server_event_count(), 0);

    let (_xvfb, display) = private_display();
    // There is no camera 99: the kiosk shows its no-camera screen and keeps working.
    let mut kiosk = Killed(
        Command::new(workspace_binary("kiosk"))
            .args(["--data", "kiosk-a", "--camera", "99"])
            .current_dir(site.dir.path())
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("kiosk"),
    );
    // The UI's background worker delivers the waiting event and pulls the roster.
    wait_for(&mut kiosk, "the waiting check-in delivered", || {
        (site.server_event_count() == 1).then_some(())
    });
    let db = site.path("kiosk-a/kiosk.db");
    wait_for(
        &mut kiosk,
        "the roster pulled and the sync recorded",
        || {
            rusqlite::Connection::open(&db)
                .and_then(|db| {
                    db.query_row(
                        "SELECT (SELECT COUNT(*) FROM roster), \
                            (SELECT COUNT(*) FROM sync_state WHERE key = 'last_success')",
                        [],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                    )
                })
                .ok()
                .filter(|counts| *counts == (1, 1))
        },
    );
}
