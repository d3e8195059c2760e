//! `shieldwall disarm import FILE | show ID`: the DISARM framework's STIX bundle, normalised
//! (kill chain `disarm`, the meaningless `x_mitre_*` platform/version fields dropped) and stored,
//! and its techniques found by DISARM id (`T0086`, `T0086.002`, `TA06`) or STIX id.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use coord::disarm::{self, DisarmIndex};
use serde_json::{Value, json};
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
    let (mut objects, report) =
        disarm::normalise(&bundle).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    // The bundle's relationships and matrix have no creator: they are the framework's, so they
    // are attributed to the bundle's own identity (when it has exactly one), not to whoever
    // imports them — every node's import is then the same object, byte for byte.
    let identities: Vec<String> = objects
        .iter()
        .filter(|o| s(o, "type") == "identity")
        .map(|o| s(o, "id").to_owned())
        .collect();
    let mut attributed = 0usize;
    if let [owner] = identities.as_slice() {
        for o in &mut objects {
            let t = s(o, "type");
            if t != "identity"
                && t != "marking-definition"
                && o.get("created_by_ref").is_none()
                && let Some(m) = o.as_object_mut()
            {
                m.insert("created_by_ref".into(), json!(owner));
                attributed += 1;
            }
        }
    }
    let marking = ctx.marking_or(TlpLevel::Clear)?;
    let mut marked = 0usize;
    for o in &mut objects {
        let t = s(o, "type");
        // Marking definitions carry no markings of their own here.
        if t == "marking-definition" || stix::tlp::effective_tlp_of(o).is_some() {
            continue;
        }
        if let Some(m) = o.as_object_mut() {
            let refs = m
                .entry("object_marking_refs")
                .or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(list) = refs {
                list.push(json!(marking));
                marked += 1;
            }
        }
    }
    let index = DisarmIndex::build(&objects)?;
    let out = ctx.write(&coll, &objects).await?;
    let stored = out
        .iter()
        .filter(|o| matches!(o, shieldwall::store::AddOutcome::Added { .. }))
        .count();
    let summary = json!({
        "collection": coll.id, "objects": objects.len(), "stored": stored,
        "already_present": objects.len() - stored, "techniques": index.techniques().len(),
        "tactics": index.tactics().len(), "marked": marked, "attributed": attributed,
        "normalisation": report,
    });
    if ctx.on.json {
        println!("{summary}");
    } else {
        println!(
            "DISARM imported into {}: {} objects ({stored} stored), {} techniques, {} tactics; \
             {} kill chain phases renamed, {} source names renamed, {} x_mitre properties dropped, \
             {marked} objects marked {}.",
            coll.id,
            objects.len(),
            index.techniques().len(),
            index.tactics().len(),
            report.kill_chain_phases_renamed,
            report.source_names_renamed,
            report.properties_dropped,
            stix::tlp::level_of_marking(marking).map_or("", TlpLevel::name),
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(ctx: &Ctx, id: &str) -> anyhow::Result<ExitCode> {
    let objects = ctx.view(&ctx.read_collections()?, false).await?;
    let index = DisarmIndex::build(&objects)?;
    let found = if let Some(t) = index.technique(id) {
        Some(json!({"kind": "technique", "technique": t}))
    } else {
        index
            .tactic(id)
            .map(|t| json!({"kind": "tactic", "tactic": t}))
    };
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
