//! Helpers shared by the end-to-end tests: locating the workspace's built binaries.

use std::path::PathBuf;

/// A binary of this workspace, built by `cargo test --workspace` into the shared target folder.
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
