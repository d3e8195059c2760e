//! `shieldwall import FILE|DIR|-… [--collection C] [--as MEMBER]`: stream STIX bundles (or TAXII
//! envelopes, arrays of objects, single objects) of any size, gzip-compressed or not, from files
//! or standard input (`-`), into a
//! collection (by default the only one the member may write), with the same validation and
//! publishing rules as a TAXII POST. MISP JSON, folders of MISP event files and MISP feeds
//! (directories with `manifest.json`, or `--feed URL`) are converted to STIX 2.1 first
//! (`misp_in`).

use std::{
    io::IsTerminal,
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use shieldwall::{
    config::Role,
    publish::{self, Publisher},
};
use stix::stream::{ItemKind, StreamError};

const BATCH: usize = 1000;

/// Arguments of `shieldwall import`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files to import (STIX bundles, TAXII envelopes, JSON arrays of objects, single objects;
    /// MISP JSON — an event, a REST response — and MISP feed directories, converted to STIX),
    /// gzip-compressed or not; a directory without `manifest.json` is walked for its `*.json`
    /// and `*.json.gz` files; `-` reads standard input (once).
    #[arg(required_unless_present = "feed")]
    files: Vec<PathBuf>,
    /// Pull a remote MISP feed (its `manifest.json`, then every event file it lists) and import
    /// it converted to STIX 2.1, e.g. `https://misp.example/feeds/coalition`.
    #[arg(long, value_name = "URL")]
    feed: Option<String>,
    /// What the files hold: `auto` tells MISP (a directory with `manifest.json`, a JSON document
    /// starting with `Event` or `response`) from STIX.
    #[arg(long, value_enum, default_value = "auto")]
    from: super::misp_in::From,
    /// Collection id or alias (default: the only collection the member may write).
    #[arg(long)]
    collection: Option<String>,
    /// The member publishing the objects (default: the only member).
    #[arg(long = "as", value_name = "MEMBER")]
    as_member: Option<String>,
    /// Configuration file.
    #[arg(long, default_value = "shieldwall.toml")]
    config: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Sends each object of the document to `tx` in batches while splitting it with the strict
/// streaming splitter (`stix::stream`): memory holds one object and one batch, never the whole
/// file. A bundle's or an envelope's own properties are read strictly too, then dropped. The
/// first error stops the file, as `file:line:column: message`.
fn parse_file(
    name: &str,
    reader: Box<dyn std::io::BufRead + Send>,
    tx: tokio::sync::mpsc::Sender<Vec<Value>>,
) -> anyhow::Result<()> {
    let at = |line: usize, column: usize, message: &dyn std::fmt::Display| {
        anyhow::anyhow!("{name}:{line}:{column}: {message}")
    };
    let mut batch = Vec::with_capacity(BATCH);
    for item in stix::stream::ObjectStream::new(reader) {
        let item = item.map_err(|e| match e {
            StreamError::Syntax {
                message,
                line,
                column,
            } => at(line, column, &message),
            StreamError::TooLarge { line, column, .. } => at(line, column, &e),
            e => anyhow::anyhow!("{name}: {e}"),
        })?;
        let value = item.value.map_err(|e| at(e.line, e.column, &e.message))?;
        if item.kind != ItemKind::Object {
            continue;
        }
        batch.push(value);
        if batch.len() >= BATCH {
            tx.blocking_send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                .map_err(|_| anyhow::anyhow!("the writer stopped"))?;
        }
    }
    if !batch.is_empty() {
        tx.blocking_send(batch)
            .map_err(|_| anyhow::anyhow!("the writer stopped"))?;
    }
    Ok(())
}

/// What storing some objects did.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) stored: u64,
    pub(crate) already: u64,
    pub(crate) refused: u64,
    /// The first refusals (id: reason), at most 20.
    pub(crate) refusals: Vec<String>,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.stored += o.stored;
        self.already += o.already;
        self.refused += o.refused;
        for r in o.refusals {
            if self.refusals.len() < 20 {
                self.refusals.push(r);
            }
        }
    }
}

/// Publishes one batch as `principal` through the library's one write path
/// ([`shieldwall::publish`]): validation, the publishing rules and one transaction, as a TAXII
/// POST by `principal` would.
pub(crate) async fn store_batch(
    node: &super::node::Node,
    coll: &shieldwall::coalition::Collection,
    principal: &shieldwall::policy::Principal,
    batch: Vec<Value>,
) -> anyhow::Result<Counts> {
    let r = publish::publish(
        &node.store,
        &node.coalition,
        batch,
        Publisher::Member(principal),
        coll,
        node.limits,
    )
    .await?;
    Ok(Counts {
        stored: r.added,
        already: r.already_present,
        refused: r.refused(),
        refusals: r.failures.iter().take(20).map(|f| f.line()).collect(),
    })
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::serve::runtime()?.block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let node = super::node::Node::open(&args.config).await?;
    let principal = node.principal(args.as_member.as_deref(), Role::Contributor, "cli:import")?;
    let coll = node
        .write_collection(args.collection.as_deref(), &principal)?
        .clone();
    use super::misp_in::{self, InputKind};
    let read = Arc::new(AtomicU64::new(0));
    // Standard input (`-`) is opened once, before the inputs are classified: its first bytes
    // tell MISP from STIX under `--from auto`, and are then read again.
    let mut stdin = if args.files.iter().any(|f| misp_in::is_stdin(f)) {
        Some(misp_in::Stdin::open(&read)?)
    } else {
        None
    };
    let stdin_kind = stdin.as_ref().map(|s| misp_in::kind_of(&s.prefix));
    let inputs = misp_in::expand(&args.files, args.from, stdin_kind)?;
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let total_bytes: u64 = inputs
        .iter()
        .map(|(f, kind)| match kind {
            InputKind::MispFeedDir => std::fs::read_dir(f)
                .map(|d| d.filter_map(Result::ok).map(|e| size(&e.path())).sum())
                .unwrap_or(0),
            _ if misp_in::is_stdin(f) => 0,
            _ => size(f),
        })
        .sum();
    let bar = if std::io::stderr().is_terminal() {
        // Standard input has no size known in advance: bytes read so far, no bar.
        let (b, template) = if stdin.is_some() {
            (
                indicatif::ProgressBar::no_length(),
                "{spinner} {bytes} {msg}",
            )
        } else {
            (
                indicatif::ProgressBar::new(total_bytes),
                "{bar:40} {bytes}/{total_bytes} {msg}",
            )
        };
        b.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let feed = match &args.feed {
        Some(url) => {
            let progress = |done: usize, total: usize| {
                if let Some(b) = &bar {
                    b.set_message(format!("{done}/{total} event files of {url}"));
                }
            };
            Some(misp_in::fetch_feed(url, &read, &progress).await?)
        }
        None => None,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Value>>(4);
    let read2 = read.clone();
    let parser = tokio::task::spawn_blocking(move || -> anyhow::Result<misp_in::MispReport> {
        let mut report = misp_in::MispReport::default();
        let send = |conv: misp::Conversion, report: &mut misp_in::MispReport| {
            report.add(&conv);
            let mut objects = conv.objects;
            misp_in::propagate_event_tlp(&mut objects);
            while !objects.is_empty() {
                let rest = objects.split_off(objects.len().min(BATCH));
                tx.blocking_send(std::mem::replace(&mut objects, rest))
                    .map_err(|_| anyhow::anyhow!("the writer stopped"))?;
            }
            anyhow::Ok(())
        };
        // A document's name in messages and its reader (standard input's is taken once).
        let mut open =
            |f: &std::path::Path| -> anyhow::Result<(String, Box<dyn std::io::BufRead + Send>)> {
                if misp_in::is_stdin(f) {
                    let s = stdin
                        .take()
                        .context("-: standard input can be imported once per command")?;
                    Ok(("<stdin>".to_owned(), s.into_reader()))
                } else {
                    Ok((f.display().to_string(), misp_in::open(f, &read2)?))
                }
            };
        for (f, kind) in &inputs {
            match kind {
                InputKind::Stix => {
                    let (name, reader) = open(f)?;
                    parse_file(&name, reader, tx.clone())?;
                }
                InputKind::MispJson => {
                    let (name, reader) = open(f)?;
                    send(misp_in::convert_reader(&name, reader)?, &mut report)?;
                }
                InputKind::MispFeedDir => send(
                    misp_in::FeedData::read_dir(f, &read2)?.convert()?,
                    &mut report,
                )?,
            }
        }
        if let Some(feed) = feed {
            send(feed.convert()?, &mut report)?;
        }
        Ok(report)
    });
    let mut counts = Counts::default();
    while let Some(batch) = rx.recv().await {
        let c = store_batch(&node, &coll, &principal, batch).await?;
        counts.add(c);
        if let Some(b) = &bar {
            b.set_position(read.load(Ordering::Relaxed));
            b.set_message(format!("{} stored", counts.stored));
        }
    }
    let Counts {
        stored,
        already,
        refused,
        refusals: first_refusals,
    } = counts;
    let parsed = parser.await.context("the parser stopped")?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let misp = match &parsed {
        Ok(r) => r,
        Err(_) => &misp_in::MispReport::default(),
    };
    if args.json {
        let mut o = json!({"collection": coll.id, "stored": stored, "already_present": already, "refused": refused, "refusals": first_refusals});
        if misp.inputs > 0 {
            o["misp"] = json!({"inputs": misp.inputs, "objects": misp.objects, "warnings": misp.warnings,
                "errors": misp.errors, "diagnostics": misp.first()});
        }
        println!("{o}");
    } else {
        if misp.inputs > 0 {
            println!(
                "Converted {} MISP inputs to {} STIX objects ({} elements converted approximately, {} left out).",
                misp.inputs, misp.objects, misp.warnings, misp.errors
            );
            for d in misp.first() {
                println!("  {d}");
            }
        }
        println!(
            "Imported into {} as {}: {stored} stored, {already} already present, {refused} refused.",
            coll.id, principal.member
        );
        for r in &first_refusals {
            println!("  refused {r}");
        }
    }
    let misp_errors = misp.errors;
    if let Err(e) = parsed {
        bail!("{e:#} (the {stored} objects before the error are stored)");
    }
    // Exit 1 when something was refused or left out of a MISP conversion.
    Ok(if refused > 0 || misp_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
