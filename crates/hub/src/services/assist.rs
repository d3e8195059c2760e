//! The assistance workflow as service calls: requests for assistance and the offers that answer
//! them. Every workflow step is a new version of the same object (same id, later `modified`),
//! written by the object's own producer, so history and sync come from the store and TAXII; a
//! request or offer written with its relationships is written all or nothing, in one
//! transaction across the collections involved.

use coord::assist::{
    AfterActionReport, AssistanceOffer, AssistanceReport, AssistanceRequest, DeliveryMode, Need,
    OfferStatus, OfferStep, PriorityCriteria, PriorityEntityClass, RequestStatus, RequestStep,
    Urgency, advance_offer, advance_request, priority, propose_offers, rank_requests,
};
use coord::object::Read;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use stix::Timestamp;

use super::{
    ServiceError,
    member::{MemberService, next_version_time, now, of_type, s},
};
use crate::{coalition::Collection, store::AddOutcome};

/// What a write step stored: the objects written, in order, and the store's outcomes.
#[derive(Debug, Clone)]
pub struct Written {
    /// Every object written (the step's object first).
    pub objects: Vec<Value>,
    /// The store's outcome of each.
    pub outcomes: Vec<AddOutcome>,
}

impl Written {
    /// The id of the step's object.
    pub fn id(&self) -> &str {
        self.objects.first().map_or("", |o| s(o, "id"))
    }
}

/// A value of an open vocabulary or enumeration by its STIX name; `what` names the input.
pub fn term<T: DeserializeOwned>(what: &str, v: &str) -> Result<T, ServiceError> {
    serde_json::from_value(json!(v))
        .map_err(|_| ServiceError::Usage(format!("--{what} `{v}`: not a known value")))
}

/// `SERVICE` or `SERVICE:QUANTITY:UNIT`.
pub fn need(spec: &str) -> Result<Need, ServiceError> {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [service] => Ok(Need::service(*service)),
        [service, q, unit] => {
            let q: f64 = q.parse().map_err(|_| {
                ServiceError::Usage(format!("`{spec}`: the quantity is not a number"))
            })?;
            Ok(Need::quantity(*service, q, *unit))
        }
        _ => Err(ServiceError::Usage(format!(
            "`{spec}`: expected SERVICE or SERVICE:QUANTITY:UNIT"
        ))),
    }
}

/// A new request for assistance.
#[derive(Debug, Clone, Default)]
pub struct NewRequest {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// `assistance-mechanism-ov`.
    pub mechanism: String,
    /// Services needed (those of `needs` are added).
    pub services: Vec<String>,
    /// Estimated needs.
    pub needs: Vec<Need>,
    /// Urgency.
    pub urgency: Option<Urgency>,
    /// The incidents behind the request (a `related-to` relationship to each).
    pub incidents: Vec<String>,
    /// Affected entities.
    pub affected: Vec<String>,
    /// Measures already taken.
    pub mitigation: Option<String>,
    /// Cross-border impact.
    pub cross_border: bool,
    /// Severity 0–100 (for the priority).
    pub severity: Option<u8>,
    /// Entity class (for the priority).
    pub entity_class: Option<PriorityEntityClass>,
    /// Working languages.
    pub languages: Vec<String>,
}

/// Files a request (status `submitted`) in `coll` marked `marking`, with a relationship to each
/// incident kept in the incident's collection when the member may write there; all or nothing.
pub async fn request(
    m: &MemberService,
    coll: &Collection,
    marking: &str,
    a: NewRequest,
) -> Result<Written, ServiceError> {
    let mut services = a.services.clone();
    for n in &a.needs {
        if !services.contains(&n.service) {
            services.push(n.service.clone());
        }
    }
    if services.is_empty() {
        return Err(ServiceError::Usage(
            "say what is needed with --service or --need".into(),
        ));
    }
    let urgency = a.urgency.unwrap_or(Urgency::Urgent);
    let mut r = AssistanceRequest::new(
        a.name.clone(),
        a.mechanism.clone(),
        m.identity.clone(),
        services,
        urgency,
    );
    r.description = a.description.clone();
    r.needs = a.needs;
    r.incident_refs = a.incidents.clone();
    r.affected_entity_refs = a.affected.clone();
    r.mitigation_measures = a.mitigation.clone();
    r.cross_border = a.cross_border.then_some(true);
    r.languages = a.languages.clone();
    let criteria = PriorityCriteria {
        severity: a.severity,
        entity_class: a.entity_class,
        cross_border: a.cross_border.then_some(true),
        ..PriorityCriteria::default()
    };
    let (p, _) = priority(&criteria, urgency, a.cross_border);
    r.priority = Some(p);
    r.priority_criteria = Some(criteria);
    let obj = r.build(&m.common(marking))?;
    let mut edges = Vec::new();
    for i in &a.incidents {
        let rel = coord::object::relationship(&m.common(marking), "related-to", s(&obj, "id"), i)?;
        edges.push((m.edge_collection(i, coll).await, rel));
    }
    let (outcomes, objects) = m.write_with_edges(coll, vec![obj], edges).await?;
    Ok(Written { objects, outcomes })
}

/// A new offer of assistance.
#[derive(Debug, Clone, Default)]
pub struct NewOffer {
    /// The requests answered; none for a standing pledge.
    pub requests: Vec<String>,
    /// Name.
    pub name: String,
    /// Mechanism (default: the first request's, else `coalition`).
    pub mechanism: Option<String>,
    /// Services offered.
    pub services: Vec<String>,
    /// Capacity.
    pub capacity: Vec<Need>,
    /// Time to deploy, hours.
    pub lead_time_hours: Option<u32>,
    /// Delivery mode.
    pub mode: Option<DeliveryMode>,
    /// Conditions.
    pub conditions: Option<String>,
    /// Working languages.
    pub languages: Vec<String>,
}

/// Offers assistance (status `offered`, or `pledged` without requests) in `coll`, with a
/// relationship to each request; all or nothing.
pub async fn offer(
    m: &MemberService,
    coll: &Collection,
    marking: &str,
    a: NewOffer,
) -> Result<Written, ServiceError> {
    let mut mechanism = a.mechanism.clone();
    for r in &a.requests {
        let (req, _) = m.find(r).await?;
        if s(&req, "type") != AssistanceRequest::TYPE {
            return Err(ServiceError::Usage(format!(
                "--request {r}: not an assistance-request"
            )));
        }
        if mechanism.is_none() {
            mechanism = Some(s(&req, "mechanism").to_owned());
        }
    }
    let mut o = AssistanceOffer::new(
        a.name.clone(),
        mechanism.unwrap_or_else(|| "coalition".into()),
        m.identity.clone(),
        a.services.clone(),
    );
    if a.requests.is_empty() {
        o.offer_status = OfferStatus::Pledged;
    }
    o.request_refs = a.requests.clone();
    o.capacity = a.capacity;
    o.lead_time_hours = a.lead_time_hours;
    o.delivery_mode = a.mode;
    o.conditions = a.conditions.clone();
    o.languages = a.languages.clone();
    let obj = o.build(&m.common(marking))?;
    let mut edges = Vec::new();
    for r in &a.requests {
        let rel = coord::object::relationship(&m.common(marking), "related-to", s(&obj, "id"), r)?;
        edges.push((m.edge_collection(r, coll).await, rel));
    }
    let (outcomes, objects) = m.write_with_edges(coll, vec![obj], edges).await?;
    Ok(Written { objects, outcomes })
}

/// Writes one step's objects into the collection of the object stepped.
async fn write_step(
    m: &MemberService,
    coll: &Collection,
    objects: Vec<Value>,
) -> Result<Written, ServiceError> {
    let outcomes = m.write(coll, &objects).await?;
    Ok(Written { objects, outcomes })
}

/// Matches offers to one's own request: the request's next version is `matched`.
pub async fn match_offers(
    m: &MemberService,
    request: &str,
    offers: &[String],
) -> Result<Written, ServiceError> {
    let (cur, coll) = m.own(request, AssistanceRequest::TYPE).await?;
    for o in offers {
        let (off, _) = m.find(o).await?;
        let read = AssistanceOffer::read(&off)?;
        if !read.body.offer_status.is_available() {
            return Err(ServiceError::Usage(format!(
                "{o} is `{}`: it can no longer be matched",
                read.body.offer_status.name()
            )));
        }
    }
    let mut step = RequestStep::to(RequestStatus::Matched, next_version_time(&cur));
    step.matched_offer_refs = offers.to_vec();
    let next = advance_request(&cur, &step)?;
    write_step(m, &coll, vec![next]).await
}

/// One status change of one's own request or offer.
#[derive(Debug, Clone, Default)]
pub struct Advance {
    /// The request or offer.
    pub id: String,
    /// The new status (a request or offer status name).
    pub to: String,
    /// Why (rejections, declines).
    pub reason: Option<String>,
    /// Who accepted an offer (default: the requester of the request that matched it).
    pub accepted_by: Option<String>,
}

/// Moves one's own request or offer to a new status (a new version).
pub async fn advance(m: &MemberService, a: &Advance) -> Result<Written, ServiceError> {
    let (cur, _) = m.find(&a.id).await?;
    let at = next_version_time(&cur);
    let (next, coll) = match s(&cur, "type") {
        "assistance-request" => {
            let (cur, coll) = m.own(&a.id, AssistanceRequest::TYPE).await?;
            let mut step = RequestStep::to(term::<RequestStatus>("to", &a.to)?, at);
            step.decision_reason = a.reason.clone();
            (advance_request(&cur, &step)?, coll)
        }
        "assistance-offer" => {
            let (cur, coll) = m.own(&a.id, AssistanceOffer::TYPE).await?;
            let to = term::<OfferStatus>("to", &a.to)?;
            let mut step = OfferStep::to(to, at);
            step.decline_reason = a.reason.clone();
            if to == OfferStatus::Accepted {
                step.accepted_by_ref = match &a.accepted_by {
                    Some(b) => Some(b.clone()),
                    None => Some(matched_by(m, &cur).await?),
                };
            }
            (advance_offer(&cur, &step)?, coll)
        }
        other => {
            return Err(ServiceError::Usage(format!(
                "{}: a {other}, not an assistance-request or assistance-offer",
                a.id
            )));
        }
    };
    write_step(m, &coll, vec![next]).await
}

/// The requester of a request this offer answers that has matched it.
async fn matched_by(m: &MemberService, offer: &Value) -> Result<String, ServiceError> {
    let id = s(offer, "id");
    let read = AssistanceOffer::read(offer)?;
    for r in &read.body.request_refs {
        if let Ok((req, _)) = m.find(r).await
            && let Ok(rr) = AssistanceRequest::read(&req)
            && rr.body.matched_offer_refs.iter().any(|x| x == id)
        {
            return Ok(rr.body.requester_ref);
        }
    }
    Err(ServiceError::Usage(format!(
        "no request visible to {} has matched {id}: give --accepted-by IDENTITY",
        m.principal.member
    )))
}

/// Closing one's own request with an after-action report.
#[derive(Debug, Clone, Default)]
pub struct Close {
    /// The request.
    pub request: String,
    /// Services provided, in words.
    pub services_provided: String,
    /// Results achieved.
    pub results: String,
    /// Lessons learned.
    pub lessons: String,
    /// Start of the support (default: when the request was created).
    pub start: Option<Timestamp>,
    /// End of the support (default: now).
    pub end: Option<Timestamp>,
    /// Satisfaction 0–100.
    pub satisfaction: Option<u8>,
}

/// Closes one's own request: its next version (`closed`) and the after-action report marked
/// `marking`, in the request's collection, all or nothing.
pub async fn close(m: &MemberService, marking: &str, a: &Close) -> Result<Written, ServiceError> {
    let (cur, coll) = m.own(&a.request, AssistanceRequest::TYPE).await?;
    let read = AssistanceRequest::read(&cur)?;
    let at = next_version_time(&cur);
    let start = a.start.or(read.header.created).unwrap_or(at);
    let end = a.end.unwrap_or(at);
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
    .build(&m.common(marking))?;
    let mut step = RequestStep::to(RequestStatus::Closed, at);
    step.report_ref = Some(s(&report, "id").to_owned());
    let next = advance_request(&cur, &step)?;
    write_step(m, &coll, vec![next, report]).await
}

/// The assistance board: open requests by priority with the offers that fit them, the other
/// requests, and every offer — as the member sees them in `colls`.
pub async fn board(m: &MemberService, colls: &[Collection]) -> Result<Value, ServiceError> {
    let objects = m.view(colls, false).await?;
    Ok(board_of(&objects))
}

/// The board of `objects` (what a member sees).
pub fn board_of(objects: &[Value]) -> Value {
    let requests: Vec<Read<AssistanceRequest>> = of_type(objects, AssistanceRequest::TYPE)
        .filter_map(|o| AssistanceRequest::read(o).ok())
        .collect();
    let offers: Vec<Read<AssistanceOffer>> = of_type(objects, AssistanceOffer::TYPE)
        .filter_map(|o| AssistanceOffer::read(o).ok())
        .collect();
    let now = now();
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
    json!({"open_requests": rows, "other_requests": in_progress, "offers": offer_rows})
}
