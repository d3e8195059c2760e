//! `shieldwall incident new|list|show|add-impact|add-event|add-task|update`: incidents on
//! critical infrastructure with the OASIS Incident Core extension, their victims (an `identity`
//! with STIX and NIS2 sectors and a country, linked by `targets`), their `impact`s, and the
//! `event`s (what happened) and `task`s (what the defenders did) of their sequences — written
//! into the local store as the acting member, read back as that member may see them.

use std::process::ExitCode;

use anyhow::{Context, bail};
use coord::incident::{
    Alteration, Determination, Event, EventStatus, Impact, ImpactDetail, Incident, IncidentCore,
    LossType, PhysicalImpact, Task, TaskOutcome,
};
use coord::sector::{CiEntity, Victim};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use shieldwall::services::incident as service;

use super::coordio::{self, Ctx, On, of_type, s};

/// `shieldwall incident …`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    on: On,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Report an incident (with its victim when `--victim` is given).
    New(NewArgs),
    /// List the incidents the member may see.
    List,
    /// Show one incident with its impacts and relationships.
    Show {
        /// The incident id.
        id: String,
    },
    /// Add an impact to an incident (a new `impact` and a new version of the incident).
    AddImpact(ImpactArgs),
    /// Add an event to an incident's event sequence (a new `event` and a new version of the
    /// incident).
    AddEvent(EventArgs),
    /// Add a response task to an incident's task sequence (a new `task` and a new version of the
    /// incident).
    AddTask(TaskArgs),
    /// Change an incident's determination, investigation status or criticality (a new version).
    Update(UpdateArgs),
}

#[derive(Debug, clap::Args)]
struct NewArgs {
    /// Name.
    #[arg(long)]
    name: String,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// suspected, confirmed, false-positive, blocked, failed-attempt, low-value.
    #[arg(long, default_value = "suspected")]
    determination: String,
    /// Investigation status (new, open, closed).
    #[arg(long, default_value = "new")]
    status: String,
    /// Criticality 0–100.
    #[arg(long)]
    criticality: Option<u8>,
    /// Incident types (`event-type-ov`; repeatable).
    #[arg(long = "type")]
    types: Vec<String>,
    /// The victim's name: writes an `identity` (organization) the incident `targets`.
    #[arg(long)]
    victim: Option<String>,
    /// An existing victim identity the incident `targets` (repeatable).
    #[arg(long = "victim-id")]
    victim_ids: Vec<String>,
    /// The victim's STIX `industry-sector-ov` sectors (repeatable).
    #[arg(long = "sector")]
    sectors: Vec<String>,
    /// The victim's NIS2 sector (e.g. `energy`).
    #[arg(long)]
    nis2_sector: Option<String>,
    /// The victim's NIS2 subsector (e.g. `energy/electricity`).
    #[arg(long)]
    nis2_subsector: Option<String>,
    /// essential or important.
    #[arg(long)]
    entity_class: Option<String>,
    /// The victim's country (ISO 3166-1 alpha-2).
    #[arg(long)]
    country: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ImpactArgs {
    /// The incident id.
    incident: String,
    /// availability, confidentiality, external, integrity, monetary, physical.
    #[arg(long)]
    category: String,
    /// For availability: 0–100 (75 = significant impact to critical services).
    #[arg(long)]
    availability: Option<u8>,
    /// For external: `external-impact-ov` (public-safety, public-confidence, economic, …);
    /// for physical: damaged-functional, damaged-nonfunctional, destruction, none, unknown.
    #[arg(long)]
    impact_type: Option<String>,
    /// For confidentiality: confirmed-loss, contained, exploited-loss, none, suspected-loss.
    #[arg(long)]
    loss_type: Option<String>,
    /// For integrity: full-modification, partial-destruction, …
    #[arg(long)]
    alteration: Option<String>,
    /// For confidentiality/integrity: `information-type-ov`.
    #[arg(long)]
    information_type: Option<String>,
    /// For physical: `asset-type-ov`.
    #[arg(long)]
    asset_type: Option<String>,
    /// For monetary: `monetary-impact-type-ov`.
    #[arg(long)]
    variety: Option<String>,
    /// For monetary: ISO 4217 currency.
    #[arg(long)]
    currency: Option<String>,
    /// For monetary: the minimum amount (with `--max-amount`).
    #[arg(long)]
    min_amount: Option<f64>,
    /// For monetary: the maximum amount (with `--min-amount`).
    #[arg(long)]
    max_amount: Option<f64>,
    /// Criticality 0–100.
    #[arg(long)]
    criticality: Option<u8>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// What is impacted (default: the incident's victims).
    #[arg(long = "affects")]
    affects: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct EventArgs {
    /// The incident id.
    incident: String,
    /// ongoing, occurred, not-occurred, pending, undetermined.
    #[arg(long, default_value = "occurred")]
    status: String,
    /// Name.
    #[arg(long)]
    name: Option<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// The attacker's goal.
    #[arg(long)]
    goal: Option<String>,
    /// Event types (`event-type-ov`; repeatable).
    #[arg(long = "type")]
    types: Vec<String>,
    /// When it started (RFC 3339, e.g. 2026-11-27T06:40:00Z).
    #[arg(long)]
    start: Option<String>,
    /// When it ended.
    #[arg(long)]
    end: Option<String>,
    /// A `sighting` that is evidence of it (repeatable).
    #[arg(long = "sighting")]
    sightings: Vec<String>,
    /// The event of this incident it follows (a step on that event's completion); without it,
    /// the event starts a sequence.
    #[arg(long)]
    after: Option<String>,
}

#[derive(Debug, clap::Args)]
struct TaskArgs {
    /// The incident id.
    incident: String,
    /// cancelled, failed, ongoing, pending, successful, unknown.
    #[arg(long, default_value = "pending")]
    outcome: String,
    /// Name.
    #[arg(long)]
    name: Option<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// Task types (`task-type-ov`, e.g. `containment`, `external-support`; repeatable).
    #[arg(long = "type")]
    types: Vec<String>,
    /// Priority 0–100.
    #[arg(long)]
    priority: Option<u8>,
    /// When it started (RFC 3339).
    #[arg(long)]
    start: Option<String>,
    /// When it ended.
    #[arg(long)]
    end: Option<String>,
    /// Why it failed.
    #[arg(long)]
    error: Option<String>,
    /// The task of this incident it follows (a step on that task's completion); without it, the
    /// task starts a sequence.
    #[arg(long)]
    after: Option<String>,
}

#[derive(Debug, clap::Args)]
struct UpdateArgs {
    /// The incident id.
    id: String,
    /// New determination.
    #[arg(long)]
    determination: Option<String>,
    /// New investigation status.
    #[arg(long)]
    status: Option<String>,
    /// New criticality.
    #[arg(long)]
    criticality: Option<u8>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    coordio::block_on(run_async(args))
}

/// Parses a kebab-case vocabulary value into its enum.
pub(crate) fn term<T: DeserializeOwned>(what: &str, v: &str) -> anyhow::Result<T> {
    serde_json::from_value(json!(v))
        .map_err(|_| anyhow::anyhow!("--{what} `{v}`: not a known value"))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    // Reading commands never create a store.
    let ctx = if matches!(args.command, Command::List | Command::Show { .. }) {
        Ctx::open_existing(&args.on, "cli:incident").await?
    } else {
        Ctx::open(&args.on, "cli:incident").await?
    };
    match args.command {
        Command::New(a) => new(&ctx, a).await,
        Command::List => list(&ctx).await,
        Command::Show { id } => show(&ctx, &id).await,
        Command::AddImpact(a) => add_impact(&ctx, a).await,
        Command::AddEvent(a) => add_event(&ctx, a).await,
        Command::AddTask(a) => add_task(&ctx, a).await,
        Command::Update(a) => update(&ctx, a).await,
    }
}

async fn new(ctx: &Ctx, a: NewArgs) -> anyhow::Result<ExitCode> {
    let coll = ctx.write_collection()?;
    let victim = match &a.victim {
        Some(name) => Some(Victim {
            name: name.clone(),
            description: None,
            sectors: a.sectors.clone(),
            ci: CiEntity {
                nis2_sector: a.nis2_sector.clone(),
                nis2_subsector: a.nis2_subsector.clone(),
                nis2_entity_class: a
                    .entity_class
                    .as_deref()
                    .map(|c| term("entity-class", c))
                    .transpose()?,
                country: a.country.clone(),
                ..CiEntity::default()
            },
        }),
        None => None,
    };
    let mut core = IncidentCore::new();
    core.determination = term::<Determination>("determination", &a.determination)?;
    core.investigation_status = a.status.clone();
    core.criticality = a.criticality;
    core.incident_types = a.types.clone();
    let input = service::NewIncident {
        name: a.name.clone(),
        description: a.description.clone(),
        victim,
        victim_ids: a.victim_ids.clone(),
        core,
    };
    let w = service::new_incident(&ctx.member, &coll, ctx.marking()?, input).await?;
    coordio::print_written(ctx.on.json, "incident", &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

pub(crate) use shieldwall::services::incident::victims_of;

fn summary(inc: &Value, objects: &[Value]) -> Value {
    let core = inc
        .pointer(&format!("/extensions/{}", coord::ext::INCIDENT_CORE))
        .cloned()
        .unwrap_or(Value::Null);
    let victims: Vec<Value> = victims_of(inc, objects)
        .into_iter()
        .map(|v| {
            let ci = v
                .pointer(&format!("/extensions/{}", coord::ext::CI_ENTITY))
                .cloned()
                .unwrap_or(Value::Null);
            json!({"id": v["id"], "name": v["name"], "sectors": v.get("sectors"),
                "nis2_sector": ci.get("nis2_sector"), "country": ci.get("country")})
        })
        .collect();
    json!({
        "id": inc["id"], "name": inc["name"], "modified": inc["modified"],
        "determination": core.get("determination"), "investigation_status": core.get("investigation_status"),
        "criticality": core.get("criticality"),
        "impacts": core.get("impact_refs").and_then(Value::as_array).map_or(0, Vec::len),
        "fimi": inc.pointer(&format!("/extensions/{}/incident_domain", coord::ext::FIMI_INCIDENT)),
        "victims": victims,
    })
}

async fn list(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let objects = ctx.view(&ctx.read_collections()?, false).await?;
    let rows: Vec<Value> = of_type(&objects, "incident")
        .map(|i| summary(i, &objects))
        .collect();
    if ctx.on.json {
        println!("{}", Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} incidents visible to {}",
        rows.len(),
        ctx.principal.member
    );
    for r in &rows {
        let victims: Vec<String> = r["victims"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|x| {
                        format!(
                            "{} ({} {})",
                            s(x, "name"),
                            x["nis2_sector"].as_str().unwrap_or("-"),
                            x["country"].as_str().unwrap_or("-")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "{}  {}  [{} / {}]  criticality {}  impacts {}  victims: {}",
            s(r, "id"),
            s(r, "name"),
            s(r, "determination"),
            s(r, "investigation_status"),
            r["criticality"]
                .as_u64()
                .map_or("-".into(), |c| c.to_string()),
            r["impacts"],
            if victims.is_empty() {
                "-".into()
            } else {
                victims.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(ctx: &Ctx, id: &str) -> anyhow::Result<ExitCode> {
    let objects = ctx.view(&ctx.read_collections()?, false).await?;
    let Some(inc) = of_type(&objects, "incident").find(|o| s(o, "id") == id) else {
        bail!("{id}: no such incident visible to {}", ctx.principal.member);
    };
    let read =
        Incident::read(inc).with_context(|| format!("{id}: not an Incident Core incident"))?;
    let impacts: Vec<&Value> = of_type(&objects, "impact")
        .filter(|i| read.body.core.impact_refs.iter().any(|r| r == s(i, "id")))
        .collect();
    let rels: Vec<&Value> = of_type(&objects, "relationship")
        .filter(|r| s(r, "source_ref") == id || s(r, "target_ref") == id)
        .collect();
    let event_refs: Vec<&str> = read
        .body
        .core
        .events
        .iter()
        .map(|e| e.event_ref.as_str())
        .collect();
    let task_refs: Vec<&str> = read
        .body
        .core
        .tasks
        .iter()
        .map(|t| t.task_ref.as_str())
        .collect();
    let in_order = |t: &str, refs: &[&str]| -> Vec<&Value> {
        refs.iter()
            .filter_map(|r| {
                objects
                    .iter()
                    .find(|o| s(o, "type") == t && s(o, "id") == *r)
            })
            .collect()
    };
    let events = in_order(Event::TYPE, &event_refs);
    let tasks = in_order(Task::TYPE, &task_refs);
    if ctx.on.json {
        println!(
            "{}",
            json!({"incident": inc, "impacts": impacts, "events": events, "tasks": tasks,
                "relationships": rels, "warnings": read.warnings})
        );
        return Ok(ExitCode::SUCCESS);
    }
    let sum = summary(inc, &objects);
    println!("{}  {}", id, read.body.name);
    println!(
        "  determination {}, investigation {}, criticality {}",
        s(&sum, "determination"),
        s(&sum, "investigation_status"),
        sum["criticality"]
    );
    for v in sum["victims"].as_array().into_iter().flatten() {
        println!(
            "  victim {} ({}, {})",
            s(v, "name"),
            v["nis2_sector"].as_str().unwrap_or("-"),
            v["country"].as_str().unwrap_or("-")
        );
    }
    for i in &impacts {
        println!(
            "  impact {} {} criticality {}",
            s(i, "id"),
            s(i, "impact_category"),
            i.get("criticality").map_or("-".into(), Value::to_string)
        );
    }
    for e in &events {
        println!(
            "  event {} {} {}{}",
            s(e, "id"),
            s(e, "status"),
            e["name"].as_str().unwrap_or("-"),
            e["start_time"]
                .as_str()
                .map_or(String::new(), |t| format!(" (from {t})"))
        );
    }
    for t in &tasks {
        println!(
            "  task {} {} {}",
            s(t, "id"),
            s(t, "outcome"),
            t["name"].as_str().unwrap_or("-")
        );
    }
    for r in &rels {
        let (dir, other) = if s(r, "source_ref") == id {
            ("→", s(r, "target_ref"))
        } else {
            ("←", s(r, "source_ref"))
        };
        println!("  {} {dir} {other}", s(r, "relationship_type"));
    }
    for w in &read.warnings {
        println!("  warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

fn detail(a: &ImpactArgs) -> anyhow::Result<ImpactDetail> {
    let need = |v: &Option<String>, what: &str| {
        v.clone()
            .with_context(|| format!("--category {} needs --{what}", a.category))
    };
    Ok(match a.category.as_str() {
        "availability" => ImpactDetail::Availability {
            availability_impact: a
                .availability
                .context("--category availability needs --availability 0-100")?,
        },
        "external" => ImpactDetail::External {
            impact_type: need(&a.impact_type, "impact-type")?,
        },
        "confidentiality" => ImpactDetail::Confidentiality {
            loss_type: term::<LossType>("loss-type", &need(&a.loss_type, "loss-type")?)?,
            information_type: a.information_type.clone(),
            record_count: None,
            record_size: None,
        },
        "integrity" => ImpactDetail::Integrity {
            alteration: term::<Alteration>("alteration", &need(&a.alteration, "alteration")?)?,
            information_type: a.information_type.clone(),
            record_count: None,
            record_size: None,
        },
        "physical" => ImpactDetail::Physical {
            impact_type: term::<PhysicalImpact>(
                "impact-type",
                &need(&a.impact_type, "impact-type")?,
            )?,
            asset_type: a.asset_type.clone(),
        },
        "monetary" => ImpactDetail::Monetary {
            variety: need(&a.variety, "variety")?,
            currency: a.currency.clone(),
            currency_actual: None,
            conversion_rate: None,
            conversion_time: None,
            min_amount: a.min_amount,
            max_amount: a.max_amount,
        },
        other => bail!(
            "--category {other}: expected availability, confidentiality, external, integrity, monetary or physical"
        ),
    })
}

async fn add_impact(ctx: &Ctx, a: ImpactArgs) -> anyhow::Result<ExitCode> {
    let mut impact = Impact::new(detail(&a)?);
    impact.criticality = a.criticality;
    impact.description = a.description.clone();
    impact.impacted_refs = a.affects.clone();
    let w = service::add_impact(&ctx.member, &a.incident, ctx.marking()?, impact).await?;
    coordio::print_written(ctx.on.json, "impact", &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

/// `--start`/`--end`: an RFC 3339 timestamp.
fn time(what: &str, v: Option<&str>) -> anyhow::Result<Option<stix::Timestamp>> {
    v.map(|t| stix::Timestamp::parse(t).map_err(|e| anyhow::anyhow!("--{what} `{t}`: {e}")))
        .transpose()
}

async fn add_event(ctx: &Ctx, a: EventArgs) -> anyhow::Result<ExitCode> {
    let mut event = Event::new(term::<EventStatus>("status", &a.status)?);
    event.name = a.name.clone();
    event.description = a.description.clone();
    event.goal = a.goal.clone();
    event.event_types = a.types.clone();
    event.start_time = time("start", a.start.as_deref())?;
    event.end_time = time("end", a.end.as_deref())?;
    event.sighting_refs = a.sightings.clone();
    let w = service::add_event(
        &ctx.member,
        &a.incident,
        ctx.marking()?,
        event,
        a.after.as_deref(),
    )
    .await?;
    let what = w.objects.first().map_or("", |o| s(o, "type"));
    coordio::print_written(ctx.on.json, what, &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

async fn add_task(ctx: &Ctx, a: TaskArgs) -> anyhow::Result<ExitCode> {
    let mut task = Task::new(term::<TaskOutcome>("outcome", &a.outcome)?);
    task.name = a.name.clone();
    task.description = a.description.clone();
    task.task_types = a.types.clone();
    task.priority = a.priority;
    task.start_time = time("start", a.start.as_deref())?;
    task.end_time = time("end", a.end.as_deref())?;
    task.error = a.error.clone();
    let w = service::add_task(
        &ctx.member,
        &a.incident,
        ctx.marking()?,
        task,
        a.after.as_deref(),
    )
    .await?;
    let what = w.objects.first().map_or("", |o| s(o, "type"));
    coordio::print_written(ctx.on.json, what, &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

async fn update(ctx: &Ctx, a: UpdateArgs) -> anyhow::Result<ExitCode> {
    let u = service::Update {
        determination: a
            .determination
            .as_deref()
            .map(|d| term::<Determination>("determination", d))
            .transpose()?,
        status: a.status.clone(),
        criticality: a.criticality,
    };
    let w = service::update(&ctx.member, &a.id, &u).await?;
    coordio::print_written(ctx.on.json, "incident", &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}
