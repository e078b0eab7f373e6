//! The sync server binary. The HTTP API, storage and reports arrive with their issue.

use clap::Parser;

/// Parent Mentor sync server: merges kiosk event logs, computes hours and stipends.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// The server's SQLite database file.
    #[arg(long, default_value = "server.db")]
    db: std::path::PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::bail!(
        "the server has no commands yet (database {}); see README.md",
        cli.db.display()
    )
}
