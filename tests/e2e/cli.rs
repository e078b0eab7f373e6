use std::process::Command;

use e2e_tests::workspace_binary;

fn help_of(binary: &str) -> String {
    let out = Command::new(workspace_binary(binary))
        .arg("--help")
        .output()
        .unwrap_or_else(|e| {
            panic!("{binary} should run (build it with cargo build --workspace): {e}")
        });
    assert!(out.status.success(), "{binary} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn both_binaries_answer_help() {
    assert!(help_of("kiosk").contains("--data"));
    assert!(help_of("sync-server").contains("--db"));
}

#[test]
fn badges_are_png_svg_and_a_printable_sheet_and_decode_to_their_text() {
    let site = e2e_tests::Site::new();
    for file in ["M-1.png", "M-1.svg", "M-2.png", "badges.html"] {
        assert!(site.path(&format!("badges/{file}")).exists(), "{file}");
    }
    // A badge's text is a key: its files are the owner's alone, in a folder only she opens.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| {
            std::fs::metadata(site.path(p))
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("badges"), 0o700);
        for file in ["M-1.png", "M-1.svg", "badges.html"] {
            assert_eq!(mode(&format!("badges/{file}")), 0o600, "{file}");
        }
    }
    let sheet = std::fs::read_to_string(site.path("badges/badges.html")).expect("sheet");
    assert!(
        sheet.contains("María López")
            && sheet.contains("Lincoln Elementary")
            && sheet.contains("85.6mm")
    );
    let decoded = e2e_tests::ok("kiosk", &["decode", "badges/M-1.png"], site.dir.path());
    let text = decoded
        .trim()
        .split('\t')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.starts_with("PM1:M-1:1:") && text.len() >= 26,
        "{decoded}"
    );
    let hash: String = site.scalar("SELECT hash FROM badges WHERE mentor = 'M-1'", &[]);
    assert_eq!(hash, pm_shared::badge_hash(&text));
    // An unknown mentor is a clear error.
    let out = e2e_tests::run(
        "sync-server",
        &[
            "--db",
            site.db.as_str(),
            "badges",
            "--out",
            "b",
            "--mentor",
            "X-9",
        ],
        site.dir.path(),
    );
    assert!(!out.status.success());
}

#[test]
fn mentor_import_reports_the_broken_line_and_imports_nothing() {
    let site = e2e_tests::Site::new();
    std::fs::write(
        site.path("bad.csv"),
        "id,name,school,language,notes\nM-7,Lola Ruiz,lincoln,es,ok\nM-8,,lincoln,es,\nM-9,Ana,nowhere,es,\n",
    )
    .expect("csv");
    let out = e2e_tests::run(
        "sync-server",
        &["--db", site.db.as_str(), "mentor", "import", "bad.csv"],
        site.dir.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("name is empty"),
        "{stderr}"
    );
    let report = site.server(&["report", "hours", "--format", "csv"]);
    assert!(
        !report.contains("M-7"),
        "nothing imported from a file with errors"
    );
    // Re-import updates by id; deactivate and move keep the mentor.
    std::fs::write(
        site.path("fix.csv"),
        "id,name,school,language\nm-1,María L. López,lincoln,ES\n",
    )
    .expect("csv");
    site.server(&["mentor", "import", "fix.csv"]);
    let report = site.server(&["report", "hours", "--format", "csv"]);
    assert!(report.contains("M-1,María L. López,lincoln,"), "{report}");
    site.server(&["mentor", "deactivate", "M-2"]);
    let report = site.server(&["report", "hours", "--format", "csv"]);
    assert!(!report.contains("M-2,"), "{report}");
    site.server(&[
        "school",
        "add",
        "--id",
        "jefferson",
        "--name",
        "Jefferson",
        "--timezone",
        "America/Chicago",
    ]);
    site.server(&["mentor", "move", "M-3", "--school", "jefferson"]);
    let report = site.server(&[
        "report",
        "hours",
        "--format",
        "csv",
        "--school",
        "jefferson",
    ]);
    assert!(report.contains("M-3,Rosa Díaz,jefferson,"), "{report}");
}

#[test]
fn program_rules_are_settings() {
    let site = e2e_tests::Site::new();
    let out = site.server(&[
        "program",
        "set",
        "--periods",
        "years",
        "--threshold",
        "200",
        "--cap-hours",
        "6",
        "--counting",
        "classroom,training",
    ]);
    assert!(
        out.contains("\"stipend_threshold_hours\": 200.0") && out.contains("school_years"),
        "{out}"
    );
    let report = site.server(&[
        "report",
        "hours",
        "--format",
        "csv",
        "--period",
        "2026-year",
    ]);
    assert!(
        report.contains(",2026-year,0.00,0,0,0,0,200.00,false,,"),
        "{report}"
    );
    let bad = e2e_tests::run(
        "sync-server",
        &[
            "--db",
            site.db.as_str(),
            "program",
            "set",
            "--counting",
            "classroom,naps",
        ],
        site.dir.path(),
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown hour category"));
    let bad = e2e_tests::run(
        "sync-server",
        &[
            "--db",
            site.db.as_str(),
            "program",
            "set",
            "--threshold",
            "-5",
        ],
        site.dir.path(),
    );
    assert!(!bad.status.success());
}
