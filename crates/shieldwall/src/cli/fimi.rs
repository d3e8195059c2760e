//! `shieldwall fimi new|link|matrix`: FIMI incidents (an `incident` with Incident Core and the
//! FIMI extension) linked by `uses` to DISARM techniques (found by DISARM id), narratives and
//! channels, and by `led-to` from the cyber incident that fed them (hack-and-leak); and the
//! DISARM matrix of tactics × techniques with counts of use, as the member may see it. The
//! objects are built by `coord::fimi` and written by the library's `services::fimi`; this
//! module parses, calls and prints.

use std::process::ExitCode;

use coord::fimi::{FimiIncident, IncidentDomain};
use coord::incident::Determination;
use shieldwall::services::fimi;

use super::coordio::{self, Ctx, On};
use super::incident::term;

/// `shieldwall fimi …`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    on: On,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Report a FIMI incident with its narratives, channels and DISARM techniques.
    New(NewArgs),
    /// Link a FIMI incident to techniques, narratives, channels, other objects, or the incident
    /// that fed it.
    Link(LinkArgs),
    /// The DISARM matrix: tactics × techniques with the number of objects using each.
    Matrix {
        /// Every technique, also those nobody uses.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, clap::Args)]
struct Links {
    /// A DISARM technique by DISARM id (`T0086.002`) or STIX id (repeatable): `uses`.
    #[arg(long = "technique")]
    techniques: Vec<String>,
    /// A new narrative by name (repeatable): written, then `uses`.
    #[arg(long = "narrative")]
    narratives: Vec<String>,
    /// A new channel `NAME@PLATFORM` (repeatable): written, then `uses`.
    #[arg(long = "channel")]
    channels: Vec<String>,
    /// An existing object (narrative, channel, intrusion-set, malware, indicator, ATT&CK
    /// attack-pattern, …) the incident `uses` (repeatable).
    #[arg(long = "uses")]
    uses: Vec<String>,
    /// The cyber incident that fed this one (hack-and-leak): `INCIDENT led-to FIMI` (repeatable).
    #[arg(long = "fed-by")]
    fed_by: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct NewArgs {
    /// Name.
    #[arg(long)]
    name: String,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// information-environment, hybrid or cyber.
    #[arg(long, default_value = "information-environment")]
    domain: String,
    /// suspected, confirmed, …
    #[arg(long, default_value = "suspected")]
    determination: String,
    /// Investigation status.
    #[arg(long, default_value = "new")]
    status: String,
    /// Criticality 0–100.
    #[arg(long)]
    criticality: Option<u8>,
    /// Incident types (default `fimi`; e.g. `hack-and-leak`, `disinformation`).
    #[arg(long = "type")]
    types: Vec<String>,
    /// The DISARM release the techniques come from (e.g. `1.6`).
    #[arg(long)]
    disarm_version: Option<String>,
    #[command(flatten)]
    links: Links,
}

#[derive(Debug, clap::Args)]
struct LinkArgs {
    /// The FIMI incident.
    id: String,
    #[command(flatten)]
    links: Links,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    coordio::block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    // Reading commands never create a store.
    let ctx = if matches!(args.command, Command::Matrix { .. }) {
        Ctx::open_existing(&args.on, "cli:fimi").await?
    } else {
        Ctx::open(&args.on, "cli:fimi").await?
    };
    match args.command {
        Command::New(a) => new(&ctx, a).await,
        Command::Link(a) => link(&ctx, a).await,
        Command::Matrix { all } => matrix(&ctx, all).await,
    }
}

impl Links {
    fn to_service(&self) -> fimi::Links {
        fimi::Links {
            techniques: self.techniques.clone(),
            narratives: self.narratives.clone(),
            channels: self.channels.clone(),
            uses: self.uses.clone(),
            fed_by: self.fed_by.clone(),
        }
    }
}

async fn new(ctx: &Ctx, a: NewArgs) -> anyhow::Result<ExitCode> {
    let coll = ctx.write_collection()?;
    let incident = FimiIncident {
        name: a.name.clone(),
        description: a.description.clone(),
        determination: term::<Determination>("determination", &a.determination)?,
        investigation_status: a.status.clone(),
        criticality: a.criticality,
        incident_types: a.types.clone(),
        domain: term::<IncidentDomain>("domain", &a.domain)?,
        disarm_framework_version: a.disarm_version.clone(),
    };
    let w = fimi::new_incident(
        &ctx.member,
        &coll,
        ctx.marking()?,
        &incident,
        &a.links.to_service(),
    )
    .await?;
    coordio::print_written(ctx.on.json, "fimi incident", &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

async fn link(ctx: &Ctx, a: LinkArgs) -> anyhow::Result<ExitCode> {
    let coll = ctx.write_collection()?;
    let w = fimi::link(
        &ctx.member,
        &coll,
        ctx.marking()?,
        &a.id,
        &a.links.to_service(),
    )
    .await?;
    coordio::print_written(ctx.on.json, "linked", &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

async fn matrix(ctx: &Ctx, all: bool) -> anyhow::Result<ExitCode> {
    let m = fimi::matrix(&ctx.member, &ctx.read_collections()?).await?;
    if ctx.on.json {
        println!("{}", m.to_json());
    } else {
        print!("{}", m.render_text(!all));
    }
    Ok(ExitCode::SUCCESS)
}
