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

/// `KEY=VALUE` lines of the package's environment file (comments and blanks skipped).
fn env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The unit's `ExecStart`, expanded as systemd does (`${X}` as one word, `$X` split on
/// whitespace), with the installed binary replaced by the one built here.
fn exec_start(unit: &str, env: &[(String, String)], kiosk: &str) -> Vec<String> {
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart");
    let value = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut words = Vec::new();
    for word in line.split_whitespace() {
        if let Some(name) = word.strip_prefix("${").and_then(|w| w.strip_suffix('}')) {
            words.push(value(name));
        } else if let Some(name) = word.strip_prefix('$') {
            words.extend(value(name).split_whitespace().map(str::to_owned));
        } else if word == "/usr/bin/kiosk" {
            words.push(kiosk.to_owned());
        } else {
            words.push(word.to_owned());
        }
    }
    words
}

fn unit_says(unit: &str, setting: &str) -> bool {
    unit.lines().any(|l| l.trim() == setting)
}

/// The packaged kiosk, run as its unit runs it: `ExecStart` as written (cage, no console
/// switching) with the package's environment file, as a user other than root, with no new
/// privileges and no capabilities (what the unit's hardening leaves it), under wlroots'
/// headless backend. It must draw its scan screen full-screen; `grim` takes the picture.
#[test]
fn the_packaged_kiosk_draws_its_scan_screen_under_cage() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let unit =
        std::fs::read_to_string(root.join("packaging/pm-kiosk/pm-kiosk.service")).expect("unit");
    let env = std::fs::read_to_string(root.join("packaging/pm-kiosk/kiosk.env")).expect("env");
    for setting in [
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "ProtectSystem=strict",
        "UMask=0077",
    ] {
        assert!(unit_says(&unit, setting), "the unit sets {setting}");
    }

    let site = Site::new();
    let server = Server::start(&site);
    let token = site.add_kiosk("room");
    // The kiosk's own folder, as the package lays it out: its data, its runtime directory.
    // Under /tmp, where any user can reach it (a checkout may be in root's home).
    let home = tempfile::tempdir().expect("home");
    let data = home.path().join("data");
    let run = home.path().join("run");
    std::fs::create_dir(&run).expect("run dir");
    let data_arg = data.to_string_lossy().into_owned();
    site.kiosk_ok(
        &data_arg,
        &["setup", "--server", &server.url, "--token", &token],
    );
    // The binary where an unprivileged user can run it (the build folder may not be).
    let binary = home.path().join("kiosk");
    std::fs::copy(workspace_binary("kiosk"), &binary).expect("copy kiosk");
    let mut env = env_file(&env);
    env.retain(|(k, _)| k != "KIOSK_DATA");
    env.push(("KIOSK_DATA".into(), data_arg.clone()));
    let command = exec_start(&unit, &env, &binary.to_string_lossy());
    assert_eq!(command[0], "/usr/bin/cage", "{command:?}");
    assert!(
        !command.iter().any(|w| w == "-s"),
        "no console switching: {command:?}"
    );

    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .expect("id");
    // As the unit runs it: not root, no new privileges, no capabilities, a clean environment.
    let mut prefix: Vec<String> = Vec::new();
    if as_root {
        let status = Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(home.path())
            .status()
            .expect("chown");
        assert!(status.success());
        prefix.extend(
            [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
            ]
            .map(str::to_owned),
        );
    } else {
        // Already unprivileged: with no new privileges it can never gain a capability (dropping
        // the bounding set itself would need one).
        prefix.push("setpriv".to_owned());
    }
    prefix.push("--no-new-privs".into());
    std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod");
    let runtime = run.to_string_lossy().into_owned();
    // `program` with the unit's environment (systemd starts from an empty one).
    let session = |program: &[String]| {
        let mut c = Command::new(&program[0]);
        c.args(&program[1..])
            .current_dir(home.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", home.path())
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env("TZ", "America/Chicago");
        c
    };
    // The unit's file-system settings, as systemd sets them up, where this machine lets a test
    // (root, with mount namespaces): PrivateTmp (an empty /tmp but for the kiosk's folder, as
    // its StateDirectory), ProtectSystem=strict (everything else read-only),
    // ProtectKernelTunables and ProtectControlGroups (/sys read-only). Its seccomp-based settings (RestrictNamespaces, RestrictAddressFamilies,
    // LockPersonality, SystemCallArchitectures, RestrictSUIDSGID, ProtectKernelModules) need
    // systemd itself.
    let mut sandboxed: Vec<String> = prefix.iter().chain(&command).cloned().collect();
    let namespaces = as_root
        && Command::new("unshare")
            .args(["--mount", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if as_root && !namespaces {
        eprintln!("note: no mount namespaces here: the unit's file-system settings are not tried");
    }
    if namespaces {
        assert!(
            unit_says(&unit, "PrivateTmp=yes") && unit_says(&unit, "ProtectKernelTunables=yes")
        );
        let script = r#"set -e
home=$1; shift
mount --bind "$home" /mnt
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mkdir -p "$home"
mount --move /mnt "$home"
mount -o remount,bind,ro /
mount --bind /sys /sys
mount -o remount,bind,ro /sys
exec "$@""#;
        let mut wrapped: Vec<String> = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            "sh",
        ]
        .map(str::to_owned)
        .to_vec();
        wrapped.push(home.path().to_string_lossy().into_owned());
        wrapped.extend(prefix.iter().cloned());
        wrapped.extend(command.iter().cloned());
        sandboxed = wrapped;
    }
    let mut cage = Killed(
        session(&sandboxed)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cage is needed for this test: scripts/system-deps.sh installs it"),
    );
    let shot = home.path().join("shot.png");
    let picture = wait_for(&mut cage, "the scan screen drawn full-screen", || {
        let socket = std::fs::read_dir(&run)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("wayland-") && !n.ends_with(".lock"))?;
        let grim: Vec<String> = prefix
            .iter()
            .cloned()
            .chain(["grim".into(), shot.to_string_lossy().into_owned()])
            .collect();
        let ok = session(&grim)
            .env("WAYLAND_DISPLAY", socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?
            .success();
        let picture = image::open(&shot).ok().filter(|_| ok)?.to_rgb8();
        // Its header (white) across the top, and its background reaching the bottom corner.
        let header = picture.get_pixel(4, 4).0;
        let corner = picture
            .get_pixel(picture.width() - 4, picture.height() - 4)
            .0;
        // And words on it: dark pixels in the middle band.
        let words = (picture.height() / 3..picture.height() * 2 / 3)
            .step_by(4)
            .flat_map(|y| (0..picture.width()).step_by(4).map(move |x| (x, y)))
            .any(|(x, y)| picture.get_pixel(x, y).0.iter().all(|c| *c < 120));
        (header == [255, 255, 255] && corner.iter().all(|c| *c > 200) && words).then_some(picture)
    });
    let out = root.join("target/screenshots");
    std::fs::create_dir_all(&out).expect("screenshots dir");
    picture
        .save(out.join("packaged-kiosk-under-cage.png"))
        .expect("save screenshot");
}
