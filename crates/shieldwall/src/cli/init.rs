//! `shieldwall init`: write a commented default configuration.

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};

/// Arguments of `shieldwall init`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where to write it (`-` for standard output).
    #[arg(default_value = "shieldwall.toml")]
    path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = shieldwall::config::DEFAULT_TOML;
    if args.path.as_os_str() == "-" {
        std::io::stdout()
            .write_all(text.as_bytes())
            .context("cannot write to standard output")?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.path.exists() && !args.force {
        bail!("{} exists (use --force to overwrite)", args.path.display());
    }
    // 0600: the file will hold password and key digests.
    shieldwall::files::write_private(&args.path, text.as_bytes())
        .with_context(|| format!("cannot write {}", args.path.display()))?;
    eprintln!(
        "Wrote {}. Add members, users and collections, then: shieldwall serve --config {}",
        args.path.display(),
        args.path.display()
    );
    Ok(ExitCode::SUCCESS)
}
