//! `shieldwall assist request|offer|match|advance|close|board`: requests for assistance and the
//! offers that answer them. Every workflow step is a new version of the same object (same id,
//! later `modified`), written by the object's own producer, so history and sync come from the
//! store and TAXII.

use std::process::ExitCode;

use coord::assist::{DeliveryMode, PriorityEntityClass, Urgency};
use serde_json::Value;
use shieldwall::services::assist::{self as service, NewOffer, NewRequest, term};
use stix::Timestamp;

use super::coordio::{self, Ctx, On, s};

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

fn ts(what: &str, v: &str) -> anyhow::Result<Timestamp> {
    Timestamp::parse(v).map_err(|e| anyhow::anyhow!("--{what} {v}: {e}"))
}

async fn request(ctx: &Ctx, a: RequestArgs) -> anyhow::Result<ExitCode> {
    let coll = ctx.write_collection()?;
    let input = NewRequest {
        needs: a
            .needs
            .iter()
            .map(|n| service::need(n))
            .collect::<Result<Vec<_>, _>>()?,
        urgency: Some(term::<Urgency>("urgency", &a.urgency)?),
        entity_class: a
            .entity_class
            .as_deref()
            .map(|c| term::<PriorityEntityClass>("entity-class", c))
            .transpose()?,
        name: a.name,
        description: a.description,
        mechanism: a.mechanism,
        services: a.services,
        incidents: a.incidents,
        affected: a.affected,
        mitigation: a.mitigation,
        cross_border: a.cross_border,
        severity: a.severity,
        languages: a.languages,
    };
    let w = service::request(&ctx.member, &coll, ctx.marking()?, input).await?;
    coordio::print_written(ctx.on.json, "assistance-request", &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

async fn offer(ctx: &Ctx, a: OfferArgs) -> anyhow::Result<ExitCode> {
    // An offer for a request goes beside the request unless `--collection` says otherwise.
    let coll = ctx
        .write_collection_near(a.requests.first().map(String::as_str))
        .await?;
    let input = NewOffer {
        capacity: a
            .capacity
            .iter()
            .map(|n| service::need(n))
            .collect::<Result<Vec<_>, _>>()?,
        mode: a
            .mode
            .as_deref()
            .map(|m| term::<DeliveryMode>("mode", m))
            .transpose()?,
        requests: a.requests,
        name: a.name,
        mechanism: a.mechanism,
        services: a.services,
        lead_time_hours: a.lead_time,
        conditions: a.conditions,
        languages: a.languages,
    };
    let w = service::offer(&ctx.member, &coll, ctx.marking()?, input).await?;
    coordio::print_written(ctx.on.json, "assistance-offer", &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

async fn do_match(ctx: &Ctx, request: &str, offers: &[String]) -> anyhow::Result<ExitCode> {
    let w = service::match_offers(&ctx.member, request, offers).await?;
    coordio::print_written(ctx.on.json, "matched", &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

async fn advance(ctx: &Ctx, a: AdvanceArgs) -> anyhow::Result<ExitCode> {
    let step = service::Advance {
        id: a.id,
        to: a.to,
        reason: a.reason,
        accepted_by: a.accepted_by,
    };
    let w = service::advance(&ctx.member, &step).await?;
    coordio::print_written(ctx.on.json, &step.to, &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

async fn close(ctx: &Ctx, a: CloseArgs) -> anyhow::Result<ExitCode> {
    let step = service::Close {
        start: a.start.as_deref().map(|t| ts("start", t)).transpose()?,
        end: a.end.as_deref().map(|t| ts("end", t)).transpose()?,
        request: a.request,
        services_provided: a.services_provided,
        results: a.results,
        lessons: a.lessons,
        satisfaction: a.satisfaction,
    };
    let w = service::close(&ctx.member, ctx.marking()?, &step).await?;
    coordio::print_written(ctx.on.json, "closed", &w.objects, &w.outcomes);
    Ok(ExitCode::SUCCESS)
}

async fn board(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let board = service::board(&ctx.member, &ctx.read_collections()?).await?;
    let empty = Vec::new();
    let list = |k: &str| board[k].as_array().unwrap_or(&empty);
    let (rows, in_progress, offer_rows) = (
        list("open_requests"),
        list("other_requests"),
        list("offers"),
    );
    if ctx.on.json {
        println!("{board}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Open requests visible to {} ({}), by priority:",
        ctx.principal.member,
        rows.len()
    );
    for row in rows {
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
    for r in in_progress {
        println!("  {}  {}  ({})", s(r, "id"), s(r, "name"), s(r, "status"));
    }
    println!("Offers ({}):", offer_rows.len());
    for o in offer_rows {
        println!("  {}  {}  ({})", s(o, "id"), s(o, "name"), s(o, "status"));
    }
    Ok(ExitCode::SUCCESS)
}
