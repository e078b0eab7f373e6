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
