//! `shieldwall pattern`.

use std::process::ExitCode;

/// Subcommands of `shieldwall pattern`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Check that patterns are valid.
    Check {
        /// The patterns.
        #[arg(required = true)]
        patterns: Vec<String>,
    },
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("pattern is being built ({cmd:?})")
}
