//! The kiosk binary. The UI, the scan engine and the headless commands arrive with their issues.

use clap::Parser;

/// Parent Mentor kiosk: mentors check in and out by holding their QR badge to the camera.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Folder holding the kiosk's database and configuration.
    #[arg(long, default_value = "kiosk-data")]
    data: std::path::PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::bail!(
        "the kiosk has no commands yet (data folder {}); see README.md",
        cli.data.display()
    )
}
