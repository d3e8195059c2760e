//! `shieldwall completions SHELL` and `shieldwall man --out DIR`: shell completion scripts and
//! man pages generated from the command-line definition, so they never drift from it.

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use clap::CommandFactory;

/// Arguments of `shieldwall completions`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell (bash: `source <(shieldwall completions bash)` or write it to
    /// /usr/share/bash-completion/completions/shieldwall).
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Arguments of `shieldwall man`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ManArgs {
    /// Directory to write the pages into (created when absent; existing pages are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub(crate) fn completions<C: CommandFactory>(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = C::command();
    let name = cmd.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        // `shieldwall completions bash | head` is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")?
        }
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn man<C: CommandFactory>(args: ManArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    // One page for the command and one for each subcommand, recursively
    // (`shieldwall-admin-add-user.1`).
    clap_mangen::generate_to(C::command(), &args.out)
        .with_context(|| format!("cannot write the man pages into {}", args.out.display()))?;
    let written = std::fs::read_dir(&args.out)
        .with_context(|| format!("cannot read {}", args.out.display()))?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("shieldwall") && name.ends_with(".1")
        })
        .count();
    if written == 0 {
        bail!("no man page written into {}", args.out.display());
    }
    eprintln!("shieldwall: {written} man pages in {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
