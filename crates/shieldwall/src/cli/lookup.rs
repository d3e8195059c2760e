//! `shieldwall lookup VALUE [--as MEMBER] [--json] [--limit N]`: where else a value has appeared
//! — every object, in every collection the member may read, that holds it (an indicator's
//! pattern, observed data, a sighting of those, the SCO itself, a CVE or ATT&CK/DISARM external
//! id), through the same policy as TAXII (`services::lookup`). Exit status as grep's: 0 found,
//! 1 nothing found (or not a value), 2 could not look (bad configuration, bad value).
//! Hits that are RED or AMBER+STRICT are recorded in the node's audit trail.

use std::process::ExitCode;

use anyhow::Context;
use shieldwall::services::lookup::{self, Outcome};

use super::coordio::{self, Ctx, On};

/// `shieldwall lookup`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The value: an IP address or network, a domain name, a URL, an e-mail address, an
    /// MD5/SHA-1/SHA-256/SHA-512 digest, a CVE id or an ATT&CK/DISARM id (defanged forms such
    /// as `evil[.]example` and `hxxp://` are accepted).
    value: String,
    /// Configuration file.
    #[arg(long, default_value = "shieldwall.toml")]
    config: std::path::PathBuf,
    /// The member looking (default: the only member configured).
    #[arg(long = "as", value_name = "MEMBER")]
    as_member: Option<String>,
    /// At most this many hits (1–1000).
    #[arg(long, default_value_t = lookup::DEFAULT_LIMIT, value_parser = clap::value_parser!(u32).range(1..=i64::from(lookup::MAX_LIMIT)))]
    limit: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    coordio::block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let on = On {
        config: args.config.clone(),
        as_member: args.as_member.clone(),
        collection: None,
        tlp: None,
        json: args.json,
    };
    let ctx = Ctx::open_existing(&on, "cli:lookup").await?;
    let outcome = lookup::lookup(
        &ctx.node.store,
        &ctx.node.coalition,
        &ctx.principal,
        &args.value,
        args.limit,
    )
    .await
    .with_context(|| format!("cannot look up {:?}", args.value))?;
    let mut principal = ctx.principal.clone();
    principal.actor = super::audit::cli_actor();
    if let Some(entry) = outcome.audit_entry(&principal, "cli") {
        use shieldwall::store::Store;
        ctx.node
            .store
            .audit_append(&[entry])
            .await
            .context("the look-up found RED or AMBER+STRICT objects but could not be recorded in the audit trail; nothing is shown")?;
    }
    if args.json {
        println!("{}", outcome.to_json(&args.value));
    } else {
        print_human(&outcome, &ctx.principal.member);
    }
    Ok(if outcome.hits().is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_human(outcome: &Outcome, member: &str) {
    match outcome {
        Outcome::NotAValue(reason) => println!("{reason}"),
        Outcome::Value {
            kind,
            value,
            hits,
            more,
        } => {
            println!(
                "{value} ({}): {} object{} visible to {member}{}",
                kind.as_str(),
                hits.len(),
                if hits.len() == 1 { "" } else { "s" },
                if *more {
                    " (more left out: raise --limit)"
                } else {
                    ""
                }
            );
            for h in hits {
                let mut place = h.place.clone();
                if !h.value.is_empty() && h.value != *value {
                    place.push_str(&format!(" {}", h.value));
                }
                if let Some(via) = &h.via {
                    place.push_str(&format!(" of {via}"));
                }
                println!(
                    "  {}  {}  {}  {}/{}  {}  {}{}  [{}]",
                    h.id,
                    h.object_type,
                    h.name.as_deref().unwrap_or("-"),
                    h.api_root,
                    h.collection,
                    h.tlp.name(),
                    h.modified,
                    if h.revoked { "  REVOKED" } else { "" },
                    place
                );
            }
        }
    }
}
