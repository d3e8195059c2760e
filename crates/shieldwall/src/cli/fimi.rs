//! `shieldwall fimi new|link|matrix`: FIMI incidents (an `incident` with Incident Core and the
//! FIMI extension) linked by `uses` to DISARM techniques (found by DISARM id), narratives and
//! channels, and by `led-to` from the cyber incident that fed them (hack-and-leak); and the
//! DISARM matrix of tactics × techniques with counts of use, as the member may see it.

use std::process::ExitCode;

use anyhow::{Context, bail};
use coord::disarm::{DisarmIndex, Matrix};
use coord::fimi::{Channel, FimiExtension, IncidentDomain, Narrative};
use coord::incident::{Determination, Incident, IncidentCore};
use serde_json::Value;
use shieldwall::coalition::Collection;

use super::coordio::{self, Ctx, On, s};
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

/// The objects and relationships `links` adds to incident `iid`, and the edges to existing
/// objects (`--uses` other than techniques, `led-to` from the incidents that fed it), each kept
/// with its target (see `Ctx::edge_collection`).
async fn linked(
    ctx: &Ctx,
    iid: &str,
    links: &Links,
    coll: &Collection,
) -> anyhow::Result<(Vec<Value>, Vec<(Collection, Value)>)> {
    let mut out = Vec::new();
    let mut targets: Vec<String> = Vec::new();
    if !links.techniques.is_empty() {
        // Techniques are looked up wherever the member may read them (DISARM is often kept in
        // a collection of its own).
        let objects = ctx.view(&ctx.readable(), false).await?;
        let index = DisarmIndex::build(&objects)?;
        for t in &links.techniques {
            let tech = index.technique(t).with_context(|| {
                format!(
                    "--technique {t}: no DISARM technique with that id visible to {} (import DISARM with `shieldwall disarm import`)",
                    ctx.principal.member
                )
            })?;
            targets.push(tech.stix_id.clone());
        }
    }
    for n in &links.narratives {
        let o = Narrative {
            name: n.clone(),
            ..Narrative::default()
        }
        .build(&ctx.common()?)?;
        targets.push(s(&o, "id").to_owned());
        out.push(o);
    }
    for c in &links.channels {
        let (name, platform) = match c.rsplit_once('@') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() => (n, Some(p.to_owned())),
            _ => (c.as_str(), None),
        };
        let o = Channel {
            name: name.to_owned(),
            platform,
            ..Channel::default()
        }
        .build(&ctx.common()?)?;
        targets.push(s(&o, "id").to_owned());
        out.push(o);
    }
    for t in &targets {
        out.push(coord::object::relationship(&ctx.common()?, "uses", iid, t)?);
    }
    let mut edges = Vec::new();
    // An edge to an existing object other than a (public) technique is kept with its target.
    for u in &links.uses {
        let r = coord::object::relationship(&ctx.common()?, "uses", iid, u)?;
        if u.starts_with("attack-pattern--") {
            out.push(r);
        } else {
            edges.push((ctx.edge_collection(u, coll).await, r));
        }
    }
    for f in &links.fed_by {
        if !f.starts_with("incident--") {
            bail!("--fed-by {f}: expected an incident id");
        }
        let r = coord::object::relationship(&ctx.common()?, "led-to", f, iid)?;
        edges.push((ctx.edge_collection(f, coll).await, r));
    }
    Ok((out, edges))
}

async fn new(ctx: &Ctx, a: NewArgs) -> anyhow::Result<ExitCode> {
    let coll = ctx.write_collection()?;
    let mut core = IncidentCore::new();
    core.determination = term::<Determination>("determination", &a.determination)?;
    core.investigation_status = a.status.clone();
    core.criticality = a.criticality;
    core.incident_types = if a.types.is_empty() {
        vec!["fimi".into()]
    } else {
        a.types.clone()
    };
    let mut fimi = FimiExtension::new(term::<IncidentDomain>("domain", &a.domain)?);
    fimi.declared_by_ref = Some(ctx.identity.clone());
    fimi.disarm_framework_version = a.disarm_version.clone();
    let incident = Incident {
        name: a.name.clone(),
        description: a.description.clone(),
        core,
        fimi: Some(fimi),
    }
    .build(&ctx.common()?)?;
    let iid = s(&incident, "id").to_owned();
    let mut objects = vec![incident];
    let (more, edges) = linked(ctx, &iid, &a.links, &coll).await?;
    objects.extend(more);
    let (out, objects) = coordio::write_with_edges(ctx, &coll, objects, edges).await?;
    coordio::print_written(ctx.on.json, "fimi incident", &objects, &out);
    Ok(ExitCode::SUCCESS)
}

async fn link(ctx: &Ctx, a: LinkArgs) -> anyhow::Result<ExitCode> {
    let (inc, _) = ctx.find(&a.id).await?;
    if s(&inc, "type") != "incident" {
        bail!("{}: not an incident", a.id);
    }
    let coll = ctx.write_collection()?;
    let (objects, edges) = linked(ctx, &a.id, &a.links, &coll).await?;
    if objects.is_empty() && edges.is_empty() {
        bail!("nothing to link: give --technique, --narrative, --channel, --uses or --fed-by");
    }
    let (out, objects) = coordio::write_with_edges(ctx, &coll, objects, edges).await?;
    coordio::print_written(ctx.on.json, "linked", &objects, &out);
    Ok(ExitCode::SUCCESS)
}

async fn matrix(ctx: &Ctx, all: bool) -> anyhow::Result<ExitCode> {
    let objects = ctx.view(&ctx.read_collections()?, false).await?;
    let index = DisarmIndex::build(&objects)?;
    if index.techniques().is_empty() {
        bail!(
            "no DISARM techniques visible to {}: import them with `shieldwall disarm import`",
            ctx.principal.member
        );
    }
    let m = Matrix::build(&index, &objects);
    if ctx.on.json {
        println!("{}", m.to_json());
    } else {
        print!("{}", m.render_text(!all));
    }
    Ok(ExitCode::SUCCESS)
}
