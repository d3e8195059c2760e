//! The `shieldwall` binary: parses the command line and hands over to one module per subcommand.
//!
//! Exit statuses follow grep's convention where a subcommand answers a yes/no question
//! (0 yes, 1 no) and use 2 for "could not do the work" (unreadable input, bad configuration).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// The version `--version` prints: the package version, the commit and the build date.
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SHIELDWALL_COMMIT"),
    ", built ",
    env!("SHIELDWALL_BUILD_DATE"),
    ")"
);

/// Shieldwall: share, federate, detect, counter disinformation, coordinate — over STIX 2.1 and TAXII 2.1.
#[derive(Debug, Parser)]
#[command(name = "shieldwall", version = VERSION, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Log lines on standard error as text or as one JSON object per line (`serve`, `sync`).
    /// Filter them with SHIELDWALL_LOG (e.g. `info,shieldwall::sync=debug`); NO_COLOR turns
    /// colours off (they are only ever written to a terminal).
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        env = "SHIELDWALL_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: cli::logs::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate STIX 2.1 documents (bundles, objects, arrays of objects, TAXII envelopes).
    Validate(cli::validate::Args),
    /// Check STIX patterns, or match them against observed data.
    #[command(subcommand)]
    Pattern(cli::pattern::Command),
    /// Run the TAXII 2.1 hub.
    Serve(cli::serve::Args),
    /// Write a commented default configuration file.
    Init(cli::init::Args),
    /// Import STIX bundles and MISP events (files, gzip, folders, feeds) into a collection.
    Import(cli::import::Args),
    /// Export indicators: a STIX bundle of what a member may see in a collection
    /// (`--format stix`), or rules and lists for blocking and detection tools (Suricata, Zeek
    /// Intel, RPZ, lists, CSV).
    Export(cli::exports::Args),
    /// Pull from and push to the configured peers over TAXII 2.1, under the egress policy.
    Sync(cli::sync::Args),
    /// Add members, users and API keys to the configuration.
    #[command(subcommand)]
    Admin(cli::admin::Command),
    /// The audit trail: verify its hash chain, show records, print its head.
    #[command(subcommand)]
    Audit(cli::audit::Command),
    /// Scan logs (ECS JSON, Suricata EVE, Zeek, CSV; gzip, stdin, directories) for indicators.
    Scan(cli::scan::Args),
    /// Incidents on critical infrastructure (OASIS Incident Core): new, list, show, add-impact.
    Incident(cli::incident::Args),
    /// FIMI incidents with narratives, channels and DISARM techniques; the DISARM matrix.
    Fimi(cli::fimi::Args),
    /// The DISARM framework: import its STIX bundle, find techniques by DISARM id.
    Disarm(cli::disarm::Args),
    /// Requests for assistance and offers: request, offer, match, advance, close, board.
    Assist(cli::assist::Args),
    /// The coalition picture: a self-contained HTML report of what a member may see.
    Report(cli::report::Args),
    /// Where else a value (address, network, domain, URL, e-mail, digest, CVE, ATT&CK/DISARM id)
    /// has appeared, in every collection a member may read.
    Lookup(cli::lookup::Args),
    /// Take a consistent snapshot of a node (SQLite database and configuration) while it runs.
    Backup(cli::backup::BackupArgs),
    /// Unpack a backup into a new directory, ready to `serve --config DIR/shieldwall.toml`.
    Restore(cli::backup::RestoreArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cli::package::CompletionsArgs),
    /// Write man pages (shieldwall.1 and one per subcommand) into a directory.
    Man(cli::package::ManArgs),
}

/// A benchmark's switch: on only when the variable is exactly `1` (anything else, `true` or
/// ` 1` included, is off, so that a stray value never turns a safeguard off).
fn bench_switch(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| v == "1")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::logs::set_format(cli.log_format);
    // Every HTTP client of the process (sync, feeds) uses rustls with the ring provider.
    shieldwall::tls::ensure_provider();
    // Benchmarks only: measure what the value index costs a POST (versions stored meanwhile are
    // never indexed; docs/PERFORMANCE.md).
    if bench_switch("SHIELDWALL_BENCH_NO_VALUE_INDEX") {
        shieldwall::ingest::set_value_extraction(false);
    }
    // Benchmarks only: measure what the audit records of reads cost (reads of RED and
    // AMBER+STRICT objects are then NOT recorded; docs/PERFORMANCE.md, "Audit trail").
    if bench_switch("SHIELDWALL_BENCH_NO_READ_AUDIT") {
        eprintln!(
            "shieldwall: SHIELDWALL_BENCH_NO_READ_AUDIT=1: reads of RED and AMBER+STRICT objects are NOT recorded in the audit trail (benchmarks only)"
        );
        hub::audit::skip_read_records_for_benchmarks();
    }
    let result = match cli.command {
        Command::Validate(args) => cli::validate::run(args),
        Command::Pattern(cmd) => cli::pattern::run(cmd),
        Command::Serve(args) => cli::serve::run(args),
        Command::Init(args) => cli::init::run(args),
        Command::Import(args) => cli::import::run(args),
        Command::Export(args) => cli::exports::run(args),
        Command::Admin(cmd) => cli::admin::run(cmd),
        Command::Audit(cmd) => cli::audit::run(cmd),
        Command::Scan(args) => cli::scan::run(args),
        Command::Sync(args) => cli::sync::run(args),
        Command::Incident(args) => cli::incident::run(args),
        Command::Fimi(args) => cli::fimi::run(args),
        Command::Disarm(args) => cli::disarm::run(args),
        Command::Assist(args) => cli::assist::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Lookup(args) => cli::lookup::run(args),
        Command::Backup(args) => cli::backup::backup(args),
        Command::Restore(args) => cli::backup::restore(args),
        Command::Completions(args) => cli::package::completions::<Cli>(args),
        Command::Man(args) => cli::package::man::<Cli>(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("shieldwall: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
