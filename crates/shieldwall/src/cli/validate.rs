//! `shieldwall validate`.

use std::{path::PathBuf, process::ExitCode};

/// Arguments of `shieldwall validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files to validate (`-` for standard input).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("validate is being built (files: {:?})", args.files)
}
