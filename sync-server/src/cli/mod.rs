//! The command line, one module per group of commands; `main.rs` parses it, opens the
//! database and dispatches (`serve`, `badges`, `backup`, `restore` and `migrate` stay there).

pub mod decisions;
pub mod people;
pub mod reports;
pub mod rules;

/// A secret from an argument: `-` reads it from standard input (kept out of shell history).
pub fn secret(arg: &str) -> anyhow::Result<String> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}
