//! `kiosk --demo` for real: the binary opens its window on a private X server (Xvfb), its
//! simulated camera shows the demo badges, and check-ins land in its SQLite file by themselves.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::workspace_binary;

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

#[test]
fn the_demo_kiosk_opens_its_window_and_checks_mentors_in_by_itself() {
    let tmp = tempfile::tempdir().expect("tmp");
    // A private X server on whatever display is free; it writes the number it took.
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
    let display = first_line(&mut xvfb.0);
    assert!(!display.is_empty(), "Xvfb gave no display number");

    let mut kiosk = Killed(
        Command::new(workspace_binary("kiosk"))
            .arg("--demo")
            .env("DISPLAY", format!(":{display}"))
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
    assert!(banner.contains("coordinator PIN 123456"), "{banner}");

    // The demo camera shows María's badge about 3 s in and Ann's about 8 s in.
    let deadline = Instant::now() + Duration::from_secs(90);
    let scanned = loop {
        let count = rusqlite::Connection::open(dir.join("kiosk.db"))
            .and_then(|db| {
                db.query_row(
                    "SELECT COUNT(DISTINCT mentor) FROM events WHERE is_scan = 1",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            })
            .unwrap_or(0);
        if count >= 2 || Instant::now() > deadline {
            break count;
        }
        assert!(
            kiosk.0.try_wait().expect("wait").is_none(),
            "the demo kiosk exited early"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(scanned, 2, "María and Ann checked in by badge");
}
