//! `shieldwall audit verify|show|head`: check the audit chain (naming the first record edited,
//! deleted, reordered or missing at the end), list records, print the head to keep elsewhere.
//! Also the CLI's own records (`record`): admin actions and exports.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use shieldwall::{
    audit::{self, Entry, Head},
    config,
    store::{AnyStore, AuditQuery, Store},
    timestamps,
};

/// Records read per page.
const PAGE: u32 = 2_000;

/// `shieldwall audit` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Check the chain; exit 1 naming the first bad record (edited, deleted, reordered, or,
    /// given an exported --head, truncated).
    Verify {
        /// A head printed earlier by `audit head` (`SEQ:DIGEST`): the chain must still hold it.
        #[arg(long, value_name = "SEQ:DIGEST")]
        head: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Configuration file.
        #[arg(long, default_value = "shieldwall.toml")]
        config: PathBuf,
    },
    /// List records, oldest first.
    Show {
        /// Only records at or after this time (RFC 3339, e.g. 2026-01-31T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only this actor (a user name, key:ID, anonymous, peer:NAME, cli:USER).
        #[arg(long)]
        actor: Option<String>,
        /// Only this action (sign-in, sign-in-failed, read, delete, export, sync-pull,
        /// sync-push, admin-add-member, admin-add-user, admin-add-key, admin-refused).
        #[arg(long)]
        action: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Configuration file.
        #[arg(long, default_value = "shieldwall.toml")]
        config: PathBuf,
    },
    /// Print the chain's head (`SEQ:DIGEST`), to keep off this node and give to `verify --head`.
    Head {
        /// As JSON (seq, digest, time).
        #[arg(long)]
        json: bool,
        /// Configuration file.
        #[arg(long, default_value = "shieldwall.toml")]
        config: PathBuf,
    },
}

/// The store of the configuration at `path`, which must exist, with the records a stopped or
/// killed `serve` left in this node's audit journal replayed into its chain (a running one's
/// are its own to drain).
async fn open_store(path: &std::path::Path) -> anyhow::Result<AnyStore> {
    let checked = config::load(path, &config::process_env())?;
    let db = config::redact_url(&checked.database);
    if let Some(place) = AnyStore::missing(&checked.database)
        .await
        .with_context(|| format!("cannot reach the database {db}"))?
    {
        bail!("no store at {place} (from {})", path.display());
    }
    let store = AnyStore::open(&checked.database)
        .await
        .with_context(|| format!("cannot open the database {db}"))?;
    replay_journal(&checked, &store).await?;
    Ok(store)
}

/// Replays what a stopped or killed `serve` left in the node's audit journal, saying so on
/// standard error when there was anything.
pub(crate) async fn replay_journal(
    checked: &config::Checked,
    store: &AnyStore,
) -> anyhow::Result<()> {
    let dir = checked.audit_journal_dir();
    let r = shieldwall::store::journal::recover(store, &dir)
        .await
        .with_context(|| format!("cannot replay the audit journal in {}", dir.display()))?;
    if r.segments > 0 {
        eprintln!(
            "Replayed {} audit record(s) from {} journal file(s) a stopped server left in {}{}.",
            r.records,
            r.segments,
            dir.display(),
            if r.torn + r.damaged > 0 {
                format!(
                    " ({} torn and {} damaged line(s) dropped, recorded as `audit-journal`)",
                    r.torn, r.damaged
                )
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// Who runs this command: `cli:` and the login name.
pub(crate) fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Appends a record of this command to the store of the configuration at `config`, when that
/// store exists (a node not yet started has no trail). Errors are the caller's to report.
pub(crate) async fn record(config: &std::path::Path, entry: Entry) -> anyhow::Result<bool> {
    let checked = config::load(config, &config::process_env())?;
    if AnyStore::missing(&checked.database).await?.is_some() {
        return Ok(false);
    }
    let store = AnyStore::open(&checked.database).await?;
    store.audit_append(&[entry]).await?;
    Ok(true)
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    super::serve::runtime()?.block_on(run_async(cmd))
}

fn line(r: &audit::Record) -> String {
    let mut s = format!(
        "{:>6} {} {} {} {} {} {}",
        r.seq,
        timestamps::format_us(r.time_us),
        r.actor,
        r.action,
        r.path,
        r.target,
        r.outcome
    );
    if !r.detail.is_empty() {
        s.push_str(" | ");
        s.push_str(&r.detail);
    }
    // Records are written printable, but the table may have been edited: one line each, always.
    audit::bound(&s, usize::MAX)
}

async fn run_async(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Verify { head, json, config } => {
            let head = match head {
                Some(h) => Some(Head::parse(&h).with_context(|| {
                    format!("--head {h}: not a head as `audit head` prints it (SEQ:DIGEST)")
                })?),
                None => None,
            };
            let store = open_store(&config).await?;
            let mut v = audit::Verifier::new();
            let mut after = 0;
            loop {
                let page = store
                    .audit_records(&AuditQuery {
                        after_seq: after,
                        limit: PAGE,
                        ..AuditQuery::default()
                    })
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                let n = page.len();
                for r in page {
                    v.push(r);
                }
                if n < PAGE as usize {
                    break;
                }
            }
            let report = v.finish(head.as_ref());
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if let Some(first) = report.problems.first() {
                println!("audit chain BROKEN: {first}");
                for p in report.problems.iter().skip(1).take(20) {
                    println!("  also: {p}");
                }
                if report.problems.len() > 21 {
                    println!("  … and {} more problems", report.problems.len() - 21);
                }
            } else {
                println!(
                    "audit chain intact: {} records, head {}{}",
                    report.records,
                    report.head,
                    if head.is_some() {
                        " (holds the exported head)"
                    } else {
                        ""
                    }
                );
            }
            Ok(if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Show {
            since,
            actor,
            action,
            limit,
            json,
            config,
        } => {
            let since_us = match since {
                Some(t) => Some(
                    timestamps::parse_us(&t)
                        .with_context(|| format!("--since {t}: not an RFC 3339 time"))?,
                ),
                None => None,
            };
            let store = open_store(&config).await?;
            let records = store
                .audit_records(&AuditQuery {
                    after_seq: 0,
                    since_us,
                    actor,
                    action,
                    limit,
                })
                .await?;
            for r in &records {
                if json {
                    println!("{}", serde_json::to_string(r)?);
                } else {
                    println!("{}", line(r));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Head { json, config } => {
            let store = open_store(&config).await?;
            let last = store.audit_last().await?;
            let head = Head::of(last.as_ref());
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "seq": head.seq,
                        "digest": head.digest,
                        "time": last.map(|r| timestamps::format_us(r.time_us)),
                        "head": head.to_string(),
                    })
                );
            } else {
                println!("{head}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
