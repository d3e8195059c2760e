//! `shieldwall assist request|offer|match|advance|close|board`: requests for assistance and the
//! offers that answer them. Every workflow step is a new version of the same object (same id,
//! later `modified`), written by the object's own producer, so history and sync come from the
//! store and TAXII.

use std::process::ExitCode;

use anyhow::{Context, bail};
use coord::assist::{
    AfterActionReport, AssistanceOffer, AssistanceReport, AssistanceRequest, DeliveryMode, Need,
    OfferStatus, OfferStep, PriorityCriteria, PriorityEntityClass, RequestStatus, RequestStep,
    Urgency, advance_offer, advance_request, priority, propose_offers, rank_requests,
};
use coord::object::Read;
use serde_json::{Value, json};
use stix::Timestamp;

use super::coordio::{self, Ctx, On, of_type, s};
use super::incident::term;

/// `shieldwall assist …`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    on: On,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// File a request for assistance (status `submitted`).
    Request(RequestArgs),
    /// Offer assistance for requests (status `offered`), or a standing pledge without `--request`.
    Offer(OfferArgs),
    /// Match an offer to one's own request: the request becomes `matched`.
    Match {
        /// The request.
        request: String,
        /// The offer(s).
        #[arg(required = true)]
        offers: Vec<String>,
    },
    /// Move one's own request or offer to a new status (a new version).
    Advance(AdvanceArgs),
    /// Close one's own request with an after-action report.
    Close(CloseArgs),
    /// Open requests by priority with the offers that fit them, and the offers on the table.
    Board,
}

#[derive(Debug, clap::Args)]
struct RequestArgs {
    /// Name.
    #[arg(long)]
    name: String,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// `assistance-mechanism-ov` (coalition, eu-cybersecurity-reserve, tallinn-mechanism, …).
    #[arg(long, default_value = "coalition")]
    mechanism: String,
    /// A service needed (`assistance-service-ov`: incident-response, digital-forensics,
    /// hardware, licences, funding, training, …; repeatable).
    #[arg(long = "service")]
    services: Vec<String>,
    /// An estimated need `SERVICE:QUANTITY:UNIT` (repeatable).
    #[arg(long = "need")]
    needs: Vec<String>,
    /// immediate, urgent, routine or long-term.
    #[arg(long, default_value = "urgent")]
    urgency: String,
    /// The incident(s) behind the request.
    #[arg(long = "incident")]
    incidents: Vec<String>,
    /// Affected entities (identities).
    #[arg(long = "affected")]
    affected: Vec<String>,
    /// Measures already taken.
    #[arg(long)]
    mitigation: Option<String>,
    /// Cross-border impact or risk of spill-over.
    #[arg(long)]
    cross_border: bool,
    /// Severity 0–100 (for the priority).
    #[arg(long)]
    severity: Option<u8>,
    /// essential, important or other (for the priority).
    #[arg(long)]
    entity_class: Option<String>,
    /// Working languages (ISO 639-1).
    #[arg(long = "language")]
    languages: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct OfferArgs {
    /// The request(s) answered; none for a standing pledge.
    #[arg(long = "request")]
    requests: Vec<String>,
    /// Name.
    #[arg(long)]
    name: String,
    /// Mechanism (default: the first request's, else `coalition`).
    #[arg(long)]
    mechanism: Option<String>,
    /// A service offered (repeatable).
    #[arg(long = "service", required = true)]
    services: Vec<String>,
    /// Capacity `SERVICE:QUANTITY:UNIT` (repeatable).
    #[arg(long = "capacity")]
    capacity: Vec<String>,
    /// Time to deploy, in hours.
    #[arg(long)]
    lead_time: Option<u32>,
    /// remote, on-site or hybrid.
    #[arg(long)]
    mode: Option<String>,
    /// Conditions.
    #[arg(long)]
    conditions: Option<String>,
    /// Working languages.
    #[arg(long = "language")]
    languages: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct AdvanceArgs {
    /// The request or offer.
    id: String,
    /// The new status.
    #[arg(long)]
    to: String,
    /// Why (rejections, declines).
    #[arg(long)]
    reason: Option<String>,
    /// Who accepted an offer (default: the requester of the request that matched it).
    #[arg(long)]
    accepted_by: Option<String>,
}

#[derive(Debug, clap::Args)]
struct CloseArgs {
    /// The request.
    request: String,
    /// Services provided, in words.
    #[arg(long)]
    services_provided: String,
    /// Results achieved.
    #[arg(long)]
    results: String,
    /// Lessons learned.
    #[arg(long)]
    lessons: String,
    /// Start of the support (default: when the request was matched).
    #[arg(long)]
    start: Option<String>,
    /// End of the support (default: now).
    #[arg(long)]
    end: Option<String>,
    /// Satisfaction 0–100.
    #[arg(long)]
    satisfaction: Option<u8>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    coordio::block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    // Reading commands never create a store.
    let ctx = if matches!(args.command, Command::Board) {
        Ctx::open_existing(&args.on, "cli:assist").await?
    } else {
        Ctx::open(&args.on, "cli:assist").await?
    };
    match args.command {
        Command::Request(a) => request(&ctx, a).await,
        Command::Offer(a) => offer(&ctx, a).await,
        Command::Match { request, offers } => do_match(&ctx, &request, &offers).await,
        Command::Advance(a) => advance(&ctx, a).await,
        Command::Close(a) => close(&ctx, a).await,
        Command::Board => board(&ctx).await,
    }
}

fn need(spec: &str) -> anyhow::Result<Need> {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [service] => Ok(Need::service(*service)),
        [service, q, unit] => {
            let q: f64 = q
                .parse()
                .with_context(|| format!("`{spec}`: the quantity is not a number"))?;
            Ok(Need::quantity(*service, q, *unit))
        }
        _ => bail!("`{spec}`: expected SERVICE or SERVICE:QUANTITY:UNIT"),
    }
}

fn ts(what: &str, v: &str) -> anyhow::Result<Timestamp> {
    Timestamp::parse(v).map_err(|e| anyhow::anyhow!("--{what} {v}: {e}"))
}

async fn request(ctx: &Ctx, a: RequestArgs) -> anyhow::Result<ExitCode> {
    let coll = ctx.write_collection()?;
    let needs = a
        .needs
        .iter()
        .map(|n| need(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut services = a.services.clone();
    for n in &needs {
        if !services.contains(&n.service) {
            services.push(n.service.clone());
        }
    }
    if services.is_empty() {
        bail!("say what is needed with --service or --need");
    }
    let urgency: Urgency = term("urgency", &a.urgency)?;
    let mut r = AssistanceRequest::new(
        a.name.clone(),
        a.mechanism.clone(),
        ctx.identity.clone(),
        services,
        urgency,
    );
    r.description = a.description.clone();
    r.needs = needs;
    r.incident_refs = a.incidents.clone();
    r.affected_entity_refs = a.affected.clone();
    r.mitigation_measures = a.mitigation.clone();
    r.cross_border = a.cross_border.then_some(true);
    r.languages = a.languages.clone();
    let criteria = PriorityCriteria {
        severity: a.severity,
        entity_class: a
            .entity_class
            .as_deref()
            .map(|c| term::<PriorityEntityClass>("entity-class", c))
            .transpose()?,
        cross_border: a.cross_border.then_some(true),
        ..PriorityCriteria::default()
    };
    let (p, _) = priority(&criteria, urgency, a.cross_border);
    r.priority = Some(p);
    r.priority_criteria = Some(criteria);
    let obj = r.build(&ctx.common()?)?;
    let mut edges = Vec::new();
    for i in &a.incidents {
        let rel = coord::object::relationship(&ctx.common()?, "related-to", s(&obj, "id"), i)?;
        edges.push((ctx.edge_collection(i, &coll).await, rel));
    }
    let (out, objects) = coordio::write_with_edges(ctx, &coll, vec![obj], edges).await?;
    coordio::print_written(ctx.on.json, "assistance-request", &objects, &out);
    Ok(ExitCode::SUCCESS)
}

async fn offer(ctx: &Ctx, a: OfferArgs) -> anyhow::Result<ExitCode> {
    let coll = ctx.write_collection()?;
    let mut mechanism = a.mechanism.clone();
    for r in &a.requests {
        let (req, _) = ctx.find(r).await?;
        if s(&req, "type") != AssistanceRequest::TYPE {
            bail!("--request {r}: not an assistance-request");
        }
        if mechanism.is_none() {
            mechanism = Some(s(&req, "mechanism").to_owned());
        }
    }
    let mut o = AssistanceOffer::new(
        a.name.clone(),
        mechanism.unwrap_or_else(|| "coalition".into()),
        ctx.identity.clone(),
        a.services.clone(),
    );
    if a.requests.is_empty() {
        o.offer_status = OfferStatus::Pledged;
    }
    o.request_refs = a.requests.clone();
    o.capacity = a
        .capacity
        .iter()
        .map(|n| need(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    o.lead_time_hours = a.lead_time;
    o.delivery_mode = a
        .mode
        .as_deref()
        .map(|m| term::<DeliveryMode>("mode", m))
        .transpose()?;
    o.conditions = a.conditions.clone();
    o.languages = a.languages.clone();
    let obj = o.build(&ctx.common()?)?;
    let mut edges = Vec::new();
    for r in &a.requests {
        let rel = coord::object::relationship(&ctx.common()?, "related-to", s(&obj, "id"), r)?;
        edges.push((ctx.edge_collection(r, &coll).await, rel));
    }
    let (out, objects) = coordio::write_with_edges(ctx, &coll, vec![obj], edges).await?;
    coordio::print_written(ctx.on.json, "assistance-offer", &objects, &out);
    Ok(ExitCode::SUCCESS)
}

/// The current version of one's own request or offer, and its collection.
async fn own(
    ctx: &Ctx,
    id: &str,
    t: &str,
) -> anyhow::Result<(Value, shieldwall::coalition::Collection)> {
    let (cur, coll) = ctx.find(id).await?;
    if s(&cur, "type") != t {
        bail!("{id}: not an {t}");
    }
    if s(&cur, "created_by_ref") != ctx.identity {
        bail!(
            "{id} was created by {}: only its producer makes new versions (act --as that member)",
            s(&cur, "created_by_ref")
        );
    }
    Ok((cur, coll))
}

async fn do_match(ctx: &Ctx, request: &str, offers: &[String]) -> anyhow::Result<ExitCode> {
    let (cur, coll) = own(ctx, request, AssistanceRequest::TYPE).await?;
    for o in offers {
        let (off, _) = ctx.find(o).await?;
        let read = AssistanceOffer::read(&off)?;
        if !read.body.offer_status.is_available() {
            bail!(
                "{o} is `{}`: it can no longer be matched",
                read.body.offer_status.name()
            );
        }
    }
    let mut step = RequestStep::to(RequestStatus::Matched, coordio::next_version_time(&cur));
    step.matched_offer_refs = offers.to_vec();
    let next = advance_request(&cur, &step)?;
    let objects = vec![next];
    let out = ctx.write(&coll, &objects).await?;
    coordio::print_written(ctx.on.json, "matched", &objects, &out);
    Ok(ExitCode::SUCCESS)
}

async fn advance(ctx: &Ctx, a: AdvanceArgs) -> anyhow::Result<ExitCode> {
    let (cur, _) = ctx.find(&a.id).await?;
    let at = coordio::next_version_time(&cur);
    let (next, coll) = match s(&cur, "type") {
        "assistance-request" => {
            let (cur, coll) = own(ctx, &a.id, AssistanceRequest::TYPE).await?;
            let mut step = RequestStep::to(term::<RequestStatus>("to", &a.to)?, at);
            step.decision_reason = a.reason.clone();
            (advance_request(&cur, &step)?, coll)
        }
        "assistance-offer" => {
            let (cur, coll) = own(ctx, &a.id, AssistanceOffer::TYPE).await?;
            let to = term::<OfferStatus>("to", &a.to)?;
            let mut step = OfferStep::to(to, at);
            step.decline_reason = a.reason.clone();
            if to == OfferStatus::Accepted {
                step.accepted_by_ref = match &a.accepted_by {
                    Some(b) => Some(b.clone()),
                    None => Some(matched_by(ctx, &cur).await?),
                };
            }
            (advance_offer(&cur, &step)?, coll)
        }
        other => bail!(
            "{}: a {other}, not an assistance-request or assistance-offer",
            a.id
        ),
    };
    let objects = vec![next];
    let out = ctx.write(&coll, &objects).await?;
    coordio::print_written(ctx.on.json, &a.to, &objects, &out);
    Ok(ExitCode::SUCCESS)
}

/// The requester of a request this offer answers that has matched it.
async fn matched_by(ctx: &Ctx, offer: &Value) -> anyhow::Result<String> {
    let id = s(offer, "id");
    let read = AssistanceOffer::read(offer)?;
    for r in &read.body.request_refs {
        if let Ok((req, _)) = ctx.find(r).await
            && let Ok(rr) = AssistanceRequest::read(&req)
            && rr.body.matched_offer_refs.iter().any(|m| m == id)
        {
            return Ok(rr.body.requester_ref);
        }
    }
    bail!(
        "no request visible to {} has matched {id}: give --accepted-by IDENTITY",
        ctx.principal.member
    )
}

async fn close(ctx: &Ctx, a: CloseArgs) -> anyhow::Result<ExitCode> {
    let (cur, coll) = own(ctx, &a.request, AssistanceRequest::TYPE).await?;
    let read = AssistanceRequest::read(&cur)?;
    let at = coordio::next_version_time(&cur);
    let start = match &a.start {
        Some(t) => ts("start", t)?,
        None => read.header.created.unwrap_or(at),
    };
    let end = match &a.end {
        Some(t) => ts("end", t)?,
        None => at,
    };
    let mut object_refs: Vec<String> = read.body.incident_refs.clone();
    object_refs.extend(read.body.matched_offer_refs.iter().cloned());
    let report = AfterActionReport {
        name: format!("After-action report: {}", read.body.name),
        description: None,
        published: at,
        object_refs,
        report: AssistanceReport {
            request_ref: a.request.clone(),
            offer_refs: read.body.matched_offer_refs.clone(),
            support_start: start,
            support_end: end,
            services_provided: a.services_provided.clone(),
            service_categories: read.body.requested_services.clone(),
            results_achieved: a.results.clone(),
            lessons_learned: a.lessons.clone(),
            recipients: Vec::new(),
            satisfaction: a.satisfaction,
        },
    }
    .build(&ctx.common()?)?;
    let mut step = RequestStep::to(RequestStatus::Closed, at);
    step.report_ref = Some(s(&report, "id").to_owned());
    let next = advance_request(&cur, &step)?;
    let objects = vec![next, report];
    let out = ctx.write(&coll, &objects).await?;
    coordio::print_written(ctx.on.json, "closed", &objects, &out);
    Ok(ExitCode::SUCCESS)
}

async fn board(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let objects = ctx.view(&ctx.read_collections()?, false).await?;
    let requests: Vec<Read<AssistanceRequest>> = of_type(&objects, AssistanceRequest::TYPE)
        .filter_map(|o| AssistanceRequest::read(o).ok())
        .collect();
    let offers: Vec<Read<AssistanceOffer>> = of_type(&objects, AssistanceOffer::TYPE)
        .filter_map(|o| AssistanceOffer::read(o).ok())
        .collect();
    let now = coordio::now();
    let ranked = rank_requests(&requests);
    let mut rows = Vec::new();
    for r in &ranked {
        let Some(req) = requests.iter().find(|x| x.header.id == r.id) else {
            continue;
        };
        let proposals = propose_offers(&r.id, &req.body, &offers, now);
        rows.push(
            json!({"request": r, "urgency": req.body.urgency, "services": req.body.services(),
            "proposals": proposals}),
        );
    }
    let in_progress: Vec<Value> = requests
        .iter()
        .filter(|r| !r.body.request_status.is_open())
        .map(|r| {
            json!({"id": r.header.id, "name": r.body.name, "status": r.body.request_status,
            "matched_offer_refs": r.body.matched_offer_refs})
        })
        .collect();
    let offer_rows: Vec<Value> = offers
        .iter()
        .map(|o| {
            json!({"id": o.header.id, "name": o.body.name, "status": o.body.offer_status,
            "provider_ref": o.body.provider_ref, "services": o.body.offered_services,
            "request_refs": o.body.request_refs, "lead_time_hours": o.body.lead_time_hours})
        })
        .collect();
    if ctx.on.json {
        println!(
            "{}",
            json!({"open_requests": rows, "other_requests": in_progress, "offers": offer_rows})
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Open requests visible to {} ({}), by priority:",
        ctx.principal.member,
        rows.len()
    );
    for row in &rows {
        let r = &row["request"];
        println!(
            "  [{:>3}] {}  {}  ({}, {})",
            r["priority"],
            s(r, "id"),
            s(r, "name"),
            s(r, "status"),
            s(row, "urgency")
        );
        for p in row["proposals"].as_array().into_iter().flatten() {
            println!(
                "        offer {} score {} covers {}",
                s(p, "offer_id"),
                p["score"],
                p["covered"]
                    .as_array()
                    .map(|c| c
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
        }
    }
    println!("Requests in progress or done ({}):", in_progress.len());
    for r in &in_progress {
        println!("  {}  {}  ({})", s(r, "id"), s(r, "name"), s(r, "status"));
    }
    println!("Offers ({}):", offer_rows.len());
    for o in &offer_rows {
        println!("  {}  {}  ({})", s(o, "id"), s(o, "name"), s(o, "status"));
    }
    Ok(ExitCode::SUCCESS)
}
