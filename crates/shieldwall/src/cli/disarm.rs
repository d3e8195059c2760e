//! `shieldwall disarm import FILE | show ID`: the DISARM framework's STIX bundle, normalised
//! (kill chain `disarm`, the meaningless `x_mitre_*` platform/version fields dropped) and stored,
//! and its techniques found by DISARM id (`T0086`, `T0086.002`, `TA06`) or STIX id. The bundle
//! is prepared by `coord::disarm::prepare_import` and stored and searched by the library's
//! `services::disarm`; this module reads the file, calls and prints.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use coord::disarm;
use serde_json::Value;
use shieldwall::services;
use stix::tlp::TlpLevel;

use super::coordio::{self, Ctx, On, s};

/// `shieldwall disarm …`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    on: On,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Import the DISARM STIX bundle (normalised). Objects without a TLP marking get `--tlp`
    /// (default: clear — DISARM is a public framework).
    Import {
        /// The bundle (e.g. DISARM.json from DISARMFoundation/DISARMframeworks).
        file: PathBuf,
    },
    /// Find a technique or tactic by DISARM id (`T0086`, `TA06`) or STIX id.
    Show {
        /// DISARM id or STIX id.
        id: String,
    },
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    coordio::block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    // Reading commands never create a store.
    let ctx = if matches!(args.command, Command::Show { .. }) {
        Ctx::open_existing(&args.on, "cli:disarm").await?
    } else {
        Ctx::open(&args.on, "cli:disarm").await?
    };
    match args.command {
        Command::Import { file } => import(&ctx, &file).await,
        Command::Show { id } => show(&ctx, &id).await,
    }
}

async fn import(ctx: &Ctx, file: &PathBuf) -> anyhow::Result<ExitCode> {
    let coll = ctx.write_collection()?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let bundle = stix::json::parse(&bytes).map_err(|e| {
        anyhow::anyhow!("{}:{}:{}: {}", file.display(), e.line, e.column, e.message)
    })?;
    let marking = ctx.marking_or(TlpLevel::Clear)?;
    let prepared = disarm::prepare_import(&bundle, marking)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let r = services::disarm::import(&ctx.member, &coll, prepared).await?;
    let (report, marked, stored) = (&r.report, r.marked, r.stored);
    let summary = r.to_json();
    if ctx.on.json {
        println!("{summary}");
    } else {
        println!(
            "DISARM imported into {}: {} objects ({stored} stored), {} techniques, {} tactics; \
             {} kill chain phases renamed, {} source names renamed, {} x_mitre properties dropped, \
             {marked} objects marked {}.",
            r.collection,
            r.objects,
            r.techniques,
            r.tactics,
            report.kill_chain_phases_renamed,
            report.source_names_renamed,
            report.properties_dropped,
            stix::tlp::level_of_marking(marking).map_or("", TlpLevel::name),
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(ctx: &Ctx, id: &str) -> anyhow::Result<ExitCode> {
    let found = services::disarm::find(&ctx.member, &ctx.read_collections()?, id)
        .await?
        .map(|f| f.to_json());
    let Some(found) = found else {
        if ctx.on.json {
            println!("null");
        } else {
            println!(
                "{id}: no DISARM technique or tactic visible to {}",
                ctx.principal.member
            );
        }
        return Ok(ExitCode::from(1));
    };
    if ctx.on.json {
        println!("{found}");
    } else if let Some(t) = found.get("technique") {
        println!(
            "{} {}  ({})  tactics: {}{}",
            s(t, "disarm_id"),
            s(t, "name"),
            s(t, "stix_id"),
            t["phases"]
                .as_array()
                .map(|p| p
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            t["parent"]
                .as_str()
                .map(|p| format!("  sub-technique of {p}"))
                .unwrap_or_default()
        );
    } else if let Some(t) = found.get("tactic") {
        println!(
            "{} {}  ({})",
            s(t, "disarm_id"),
            s(t, "name"),
            s(t, "shortname")
        );
    }
    Ok(ExitCode::SUCCESS)
}
