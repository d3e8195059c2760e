//! Assistance: requests (`assistance-request`), offers (`assistance-offer`), after-action
//! reports (a `report` with a property-extension), the workflow as versions, prioritisation of
//! concurrent requests, and proposals of offers that fit a request.
//!
//! **Workflow as versions.** Every step is a new version of the same object: same `id`, a later
//! `modified`, the new status, everything else kept (unknown properties included). The store
//! keeps every version and TAXII serves them with `match[version]=all`, so history and sync
//! come for free. "Open" in the coalition's words is `submitted` (through `acknowledged`,
//! `under-assessment`, `approved`); the usual path is
//! `submitted → matched → in-delivery → closed`; see [`RequestStatus::successors`] and
//! [`OfferStatus::successors`] for every allowed step and the guards on them.
//!
//! **Prioritisation** ([`priority`]) follows the EU Cyber Solidarity Act's criteria for
//! concurrent requests: severity, type of entity (essential first), scope and cross-border
//! impact, measures already taken, plus urgency.
//!
//! **Proposals** ([`propose_offers`]) rank open offers for a request by service coverage,
//! capacity against the estimated needs, time to deploy against the deadline, and language.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use stix::Timestamp;

use crate::error::{BuildError, ReadError, WorkflowError};
use crate::ext;
use crate::object::{
    self, Common, Read, check_order, check_percent, check_ref, check_refs, expect_type, new_object,
};

/// `assistance-request-status-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum RequestStatus {
    Draft,
    Submitted,
    Acknowledged,
    UnderAssessment,
    Approved,
    PartiallyApproved,
    Matched,
    AgreementSigned,
    InDelivery,
    DeliveryComplete,
    ReportDue,
    Closed,
    Rejected,
    Withdrawn,
    Cancelled,
    Expired,
    Rerouted,
}

impl RequestStatus {
    /// The statuses reachable in one step.
    pub fn successors(self) -> &'static [RequestStatus] {
        use RequestStatus::*;
        match self {
            Draft => &[Submitted, Withdrawn, Cancelled],
            Submitted => &[
                Acknowledged,
                UnderAssessment,
                Approved,
                Matched,
                Rejected,
                Withdrawn,
                Cancelled,
                Expired,
                Rerouted,
            ],
            Acknowledged => &[
                UnderAssessment,
                Approved,
                PartiallyApproved,
                Matched,
                Rejected,
                Withdrawn,
                Cancelled,
                Expired,
                Rerouted,
            ],
            UnderAssessment => &[
                Approved,
                PartiallyApproved,
                Rejected,
                Withdrawn,
                Cancelled,
                Expired,
                Rerouted,
            ],
            Approved | PartiallyApproved => &[Matched, Cancelled, Expired, Rerouted],
            Matched => &[AgreementSigned, InDelivery, Cancelled],
            AgreementSigned => &[InDelivery, Cancelled],
            InDelivery => &[DeliveryComplete, Closed, Cancelled],
            DeliveryComplete => &[ReportDue, Closed],
            ReportDue => &[Closed],
            Closed | Rejected | Withdrawn | Cancelled | Expired | Rerouted => &[],
        }
    }

    /// Whether no step leaves this status.
    pub fn is_terminal(self) -> bool {
        self.successors().is_empty()
    }

    /// Whether the request still waits for help (not yet matched, not terminal).
    pub fn is_open(self) -> bool {
        use RequestStatus::*;
        matches!(
            self,
            Submitted | Acknowledged | UnderAssessment | Approved | PartiallyApproved
        )
    }

    /// Whether a matched offer must be recorded in this status.
    fn needs_match(self) -> bool {
        use RequestStatus::*;
        matches!(
            self,
            Matched | AgreementSigned | InDelivery | DeliveryComplete | ReportDue
        )
    }

    /// The wire name.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// `assistance-offer-status-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum OfferStatus {
    Draft,
    Offered,
    UnderReview,
    Accepted,
    Declined,
    Withdrawn,
    Mobilising,
    Delivering,
    Completed,
    Aborted,
    Pledged,
    Committed,
    Disbursed,
    Delivered,
    Expired,
}

impl OfferStatus {
    /// The statuses reachable in one step.
    pub fn successors(self) -> &'static [OfferStatus] {
        use OfferStatus::*;
        match self {
            Draft => &[Offered, Pledged, Withdrawn],
            Offered => &[UnderReview, Accepted, Declined, Withdrawn, Expired],
            UnderReview => &[Accepted, Declined, Withdrawn, Expired],
            Accepted => &[Mobilising, Delivering, Aborted],
            Mobilising => &[Delivering, Aborted],
            Delivering => &[Completed, Aborted],
            Pledged => &[Committed, Withdrawn, Expired],
            Committed => &[Disbursed, Delivered, Expired],
            Declined | Withdrawn | Completed | Aborted | Disbursed | Delivered | Expired => &[],
        }
    }

    /// Whether the offer can still be proposed for a request.
    pub fn is_available(self) -> bool {
        matches!(
            self,
            OfferStatus::Offered
                | OfferStatus::UnderReview
                | OfferStatus::Pledged
                | OfferStatus::Committed
        )
    }

    fn needs_acceptance(self) -> bool {
        use OfferStatus::*;
        matches!(self, Accepted | Mobilising | Delivering | Completed)
    }

    /// The wire name.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// How soon help is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    /// Within 24 hours.
    Immediate,
    /// Within 72 hours.
    Urgent,
    /// Within two weeks.
    Routine,
    /// Capacity building: within three months.
    LongTerm,
}

impl Urgency {
    /// The deadline this urgency implies, in hours from now.
    pub fn hours(self) -> u64 {
        match self {
            Urgency::Immediate => 24,
            Urgency::Urgent => 72,
            Urgency::Routine => 14 * 24,
            Urgency::LongTerm => 90 * 24,
        }
    }
}

/// CSA incident scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum IncidentScale {
    Significant,
    LargeScale,
    LargeScaleEquivalent,
    NotApplicable,
}

/// Entity class as the prioritisation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriorityEntityClass {
    /// NIS2 essential entity.
    Essential,
    /// NIS2 important entity.
    Important,
    /// Anything else.
    Other,
}

/// Geographic scope of the impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImpactScope {
    /// One country.
    National,
    /// Several countries.
    MultiNational,
    /// The Union (or the whole coalition).
    Union,
}

/// The criteria a priority was computed from (kept on the request as a snapshot).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityCriteria {
    /// 0–100 (the incident's criticality).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<u8>,
    /// Essential, important or other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_class: Option<PriorityEntityClass>,
    /// Scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_scope: Option<ImpactScope>,
    /// Cross-border impact or risk of spill-over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_border: Option<bool>,
    /// Whether the requester's own mitigation is adequate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigation_adequate: Option<bool>,
}

/// One part of a priority, for explaining it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorityPart {
    /// The criterion.
    pub criterion: &'static str,
    /// Points given.
    pub points: u8,
    /// Points possible.
    pub max: u8,
}

/// The priority of a request, 0–100, and how it was made up.
///
/// | criterion (CSA) | points |
/// |---|---|
/// | severity (a) | 0.4 × severity (0–100); unknown counts as 50, "moderate" |
/// | entity type (b) | essential 20, important 10, other or unknown 0 |
/// | potential impact (c) | union 10, multi-national 6, national or unknown 0 |
/// | cross-border / spill-over (d) | 10 when cross-border (the request's `cross_border` or the criteria's) |
/// | urgency | immediate 15, urgent 10, routine 4, long-term 0 |
/// | measures taken (e) | 5 when the requester's mitigation is adequate |
///
/// The maximum is 100. Ties are broken by [`rank_requests`].
pub fn priority(
    criteria: &PriorityCriteria,
    urgency: Urgency,
    cross_border: bool,
) -> (u8, Vec<PriorityPart>) {
    let severity = u32::from(criteria.severity.unwrap_or(50).min(100));
    let parts = vec![
        PriorityPart {
            criterion: "severity",
            points: ((severity * 40 + 50) / 100) as u8,
            max: 40,
        },
        PriorityPart {
            criterion: "entity-class",
            points: match criteria.entity_class {
                Some(PriorityEntityClass::Essential) => 20,
                Some(PriorityEntityClass::Important) => 10,
                _ => 0,
            },
            max: 20,
        },
        PriorityPart {
            criterion: "impact-scope",
            points: match criteria.impact_scope {
                Some(ImpactScope::Union) => 10,
                Some(ImpactScope::MultiNational) => 6,
                _ => 0,
            },
            max: 10,
        },
        PriorityPart {
            criterion: "cross-border",
            points: if cross_border || criteria.cross_border == Some(true) {
                10
            } else {
                0
            },
            max: 10,
        },
        PriorityPart {
            criterion: "urgency",
            points: match urgency {
                Urgency::Immediate => 15,
                Urgency::Urgent => 10,
                Urgency::Routine => 4,
                Urgency::LongTerm => 0,
            },
            max: 15,
        },
        PriorityPart {
            criterion: "mitigation",
            points: if criteria.mitigation_adequate == Some(true) {
                5
            } else {
                0
            },
            max: 5,
        },
    ];
    let total: u32 = parts.iter().map(|p| u32::from(p.points)).sum();
    (total.min(100) as u8, parts)
}

/// The highest NIS2 class among the affected entities (essential > important > other).
pub fn entity_class_of<'a>(
    entities: impl IntoIterator<Item = &'a crate::sector::CiEntity>,
) -> PriorityEntityClass {
    use crate::sector::EntityClass;
    let mut best = PriorityEntityClass::Other;
    for e in entities {
        match e.nis2_entity_class {
            Some(EntityClass::Essential) => return PriorityEntityClass::Essential,
            Some(EntityClass::Important) => best = PriorityEntityClass::Important,
            _ => {}
        }
    }
    best
}

/// One estimated need (or, on an offer, one unit of capacity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Need {
    /// `assistance-service-ov` (`incident-response`, `digital-forensics`, `funding`, …).
    pub service: String,
    /// How much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    /// Unit (`person-days`, `devices`, `licences`, `eur`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// NIS2 sector concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
    /// Fulfilled so far (coordinator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfilled_quantity: Option<f64>,
}

impl Need {
    /// A need for a service without quantity.
    pub fn service(service: impl Into<String>) -> Need {
        Need {
            service: service.into(),
            quantity: None,
            unit: None,
            description: None,
            sector: None,
            fulfilled_quantity: None,
        }
    }

    /// A need for a quantity of a service.
    pub fn quantity(service: impl Into<String>, quantity: f64, unit: impl Into<String>) -> Need {
        Need {
            quantity: Some(quantity),
            unit: Some(unit.into()),
            ..Need::service(service)
        }
    }
}

fn is_slug(s: &str) -> bool {
    s.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_slug(object: &'static str, property: &'static str, s: &str) -> Result<(), BuildError> {
    if is_slug(s) {
        Ok(())
    } else {
        Err(BuildError::invalid(
            object,
            property,
            format!("`{s}` is not a lower-case vocabulary term"),
        ))
    }
}

fn check_needs(
    object: &'static str,
    property: &'static str,
    needs: &[Need],
) -> Result<(), BuildError> {
    for n in needs {
        check_slug(object, property, &n.service)?;
        if let Some(u) = &n.unit {
            check_slug(object, property, u)?;
        }
        for q in [n.quantity, n.fulfilled_quantity].into_iter().flatten() {
            if !(q.is_finite() && q >= 0.0) {
                return Err(BuildError::invalid(
                    object,
                    property,
                    "quantities must be ≥ 0",
                ));
            }
        }
    }
    Ok(())
}

fn check_langs(object: &'static str, langs: &[String]) -> Result<(), BuildError> {
    match langs
        .iter()
        .find(|l| !(l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase())))
    {
        Some(bad) => Err(BuildError::invalid(
            object,
            "languages",
            format!("`{bad}` is not an ISO 639-1 code"),
        )),
        None => Ok(()),
    }
}

/// A request for assistance (`assistance-request`, new SDO).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistanceRequest {
    /// Required.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Required; `assistance-mechanism-ov`.
    pub mechanism: String,
    /// Required.
    pub request_status: RequestStatus,
    /// Required: the requesting member (CSIRT, cyber crisis authority).
    pub requester_ref: String,
    /// The single point of contact it went through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_via_ref: Option<String>,
    /// To whom.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addressee_refs: Vec<String>,
    /// Affected entities (identities, with the NIS2 extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_entity_refs: Vec<String>,
    /// Incidents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incident_refs: Vec<String>,
    /// CSA scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_scale: Option<IncidentScale>,
    /// Impacts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub impact_refs: Vec<String>,
    /// Potential impacts in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub potential_impact_summary: Option<String>,
    /// Cross-border impact or risk of spill-over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_border: Option<bool>,
    /// Where it may spill over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spillover_location_refs: Vec<String>,
    /// Measures already taken (required for the EU Cybersecurity Reserve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigation_measures: Option<String>,
    /// Mitigation tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mitigation_task_refs: Vec<String>,
    /// Other support available (contracts, insurance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_support_available: Option<String>,
    /// Required: services needed, by category.
    pub requested_services: Vec<String>,
    /// Estimated needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Need>,
    /// Planned use of the support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_use: Option<String>,
    /// Required.
    pub urgency: Urgency,
    /// 0–100, computed by the coordinator ([`priority`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// The criteria behind `priority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_criteria: Option<PriorityCriteria>,
    /// Needed by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed_by: Option<Timestamp>,
    /// Requested start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_start: Option<Timestamp>,
    /// Requested end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_end: Option<Timestamp>,
    /// When an answer is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_due: Option<Timestamp>,
    /// Working languages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// Security requirements (`cleared-personnel`, `on-site`, `nda`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_requirements: Vec<String>,
    /// Why rejected or partially approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    /// When the after-action report is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_due: Option<Timestamp>,
    /// Offers matched to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_offer_refs: Vec<String>,
    /// The after-action report (required to close, unless waived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_ref: Option<String>,
    /// Why it was closed without a report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure_waiver: Option<String>,
}

impl AssistanceRequest {
    /// The STIX type.
    pub const TYPE: &'static str = "assistance-request";

    /// A submitted request with the required properties.
    pub fn new(
        name: impl Into<String>,
        mechanism: impl Into<String>,
        requester_ref: impl Into<String>,
        requested_services: Vec<String>,
        urgency: Urgency,
    ) -> AssistanceRequest {
        AssistanceRequest {
            name: name.into(),
            description: None,
            mechanism: mechanism.into(),
            request_status: RequestStatus::Submitted,
            requester_ref: requester_ref.into(),
            submitted_via_ref: None,
            addressee_refs: Vec::new(),
            affected_entity_refs: Vec::new(),
            incident_refs: Vec::new(),
            incident_scale: None,
            impact_refs: Vec::new(),
            potential_impact_summary: None,
            cross_border: None,
            spillover_location_refs: Vec::new(),
            mitigation_measures: None,
            mitigation_task_refs: Vec::new(),
            other_support_available: None,
            requested_services,
            needs: Vec::new(),
            planned_use: None,
            urgency,
            priority: None,
            priority_criteria: None,
            needed_by: None,
            requested_start: None,
            requested_end: None,
            response_due: None,
            languages: Vec::new(),
            security_requirements: Vec::new(),
            decision_reason: None,
            report_due: None,
            matched_offer_refs: Vec::new(),
            report_ref: None,
            closure_waiver: None,
        }
    }

    /// Every service this request needs (requested services and the needs' services).
    pub fn services(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.requested_services.iter().map(String::as_str).collect();
        for n in &self.needs {
            if !v.contains(&n.service.as_str()) {
                v.push(&n.service);
            }
        }
        v
    }

    fn check(&self) -> Result<(), BuildError> {
        const T: &str = AssistanceRequest::TYPE;
        if self.name.trim().is_empty() {
            return Err(BuildError::Missing {
                object: T,
                property: "name",
            });
        }
        check_slug(T, "mechanism", &self.mechanism)?;
        check_ref(T, "requester_ref", &self.requester_ref, &["identity"])?;
        if let Some(r) = &self.submitted_via_ref {
            check_ref(T, "submitted_via_ref", r, &["identity"])?;
        }
        check_refs(T, "addressee_refs", &self.addressee_refs, &["identity"])?;
        check_refs(
            T,
            "affected_entity_refs",
            &self.affected_entity_refs,
            &["identity"],
        )?;
        check_refs(T, "incident_refs", &self.incident_refs, &["incident"])?;
        check_refs(T, "impact_refs", &self.impact_refs, &["impact"])?;
        check_refs(
            T,
            "spillover_location_refs",
            &self.spillover_location_refs,
            &["location"],
        )?;
        check_refs(
            T,
            "mitigation_task_refs",
            &self.mitigation_task_refs,
            &["task"],
        )?;
        check_refs(
            T,
            "matched_offer_refs",
            &self.matched_offer_refs,
            &["assistance-offer"],
        )?;
        if let Some(r) = &self.report_ref {
            check_ref(T, "report_ref", r, &["report"])?;
        }
        if self.requested_services.is_empty() {
            return Err(BuildError::Missing {
                object: T,
                property: "requested_services",
            });
        }
        for s in &self.requested_services {
            check_slug(T, "requested_services", s)?;
        }
        for s in &self.security_requirements {
            check_slug(T, "security_requirements", s)?;
        }
        check_needs(T, "needs", &self.needs)?;
        check_langs(T, &self.languages)?;
        check_percent(T, "priority", self.priority)?;
        if let Some(c) = &self.priority_criteria {
            check_percent(T, "priority_criteria.severity", c.severity)?;
        }
        check_order(
            T,
            self.requested_start.as_ref(),
            self.requested_end.as_ref(),
            "requested_end",
        )?;
        if self.mechanism == "eu-cybersecurity-reserve"
            && self
                .mitigation_measures
                .as_deref()
                .is_none_or(|m| m.trim().is_empty())
        {
            return Err(BuildError::invalid(
                T,
                "mitigation_measures",
                "is required for the EU Cybersecurity Reserve (CSA Art. 15)",
            ));
        }
        if self.request_status.needs_match() && self.matched_offer_refs.is_empty() {
            return Err(BuildError::invalid(
                T,
                "matched_offer_refs",
                format!("is required in status `{}`", self.request_status.name()),
            ));
        }
        if self.request_status == RequestStatus::Closed
            && self.report_ref.is_none()
            && self
                .closure_waiver
                .as_deref()
                .is_none_or(|w| w.trim().is_empty())
        {
            return Err(BuildError::invalid(
                T,
                "report_ref",
                "closing needs an after-action report or a closure waiver",
            ));
        }
        Ok(())
    }

    /// Writes the object (strict).
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        self.check()?;
        Ok(Value::Object(new_object(
            Self::TYPE,
            ext::ASSISTANCE_REQUEST,
            self,
            common,
            false,
        )?))
    }

    /// Reads a request.
    pub fn read(value: &Value) -> Result<Read<AssistanceRequest>, ReadError> {
        let map = expect_type(value, Self::TYPE)?;
        Ok(Read {
            header: object::header(map)?,
            body: object::body(map)?,
            warnings: Vec::new(),
        })
    }
}

/// Money pledged, committed or disbursed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    /// ISO 4217.
    pub currency: String,
    /// Amount (≥ 0).
    pub amount: f64,
    /// `pledged`, `committed` or `disbursed`.
    pub kind: MoneyKind,
}

/// Stage of a contribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum MoneyKind {
    Pledged,
    Committed,
    Disbursed,
}

/// Delivery mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum DeliveryMode {
    Remote,
    OnSite,
    Hybrid,
}

/// An offer of assistance (`assistance-offer`, new SDO).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistanceOffer {
    /// Required.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Required; `assistance-mechanism-ov`.
    pub mechanism: String,
    /// Required.
    pub offer_status: OfferStatus,
    /// Required: who provides it.
    pub provider_ref: String,
    /// Who pays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sponsor_ref: Option<String>,
    /// The requests it answers (none: a standing pledge).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_refs: Vec<String>,
    /// Required: service categories.
    pub offered_services: Vec<String>,
    /// Capacity per service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity: Vec<Need>,
    /// Available from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_from: Option<Timestamp>,
    /// Available until.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_until: Option<Timestamp>,
    /// Time to deploy, in hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_time_hours: Option<u32>,
    /// Remote, on site or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_mode: Option<DeliveryMode>,
    /// Working languages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// Clearances held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_clearances: Vec<String>,
    /// CSA pre-committed service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_committed: Option<bool>,
    /// Convertible to preparedness services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convertible_to_preparedness: Option<bool>,
    /// Money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Money>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<String>,
    /// The signed agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_ref: Option<String>,
    /// Who accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_by_ref: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<Timestamp>,
    /// Why declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
    /// The delivery tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivery_task_refs: Vec<String>,
}

impl AssistanceOffer {
    /// The STIX type.
    pub const TYPE: &'static str = "assistance-offer";

    /// An offer (status `offered`) with the required properties.
    pub fn new(
        name: impl Into<String>,
        mechanism: impl Into<String>,
        provider_ref: impl Into<String>,
        offered_services: Vec<String>,
    ) -> AssistanceOffer {
        AssistanceOffer {
            name: name.into(),
            description: None,
            mechanism: mechanism.into(),
            offer_status: OfferStatus::Offered,
            provider_ref: provider_ref.into(),
            sponsor_ref: None,
            request_refs: Vec::new(),
            offered_services,
            capacity: Vec::new(),
            available_from: None,
            available_until: None,
            lead_time_hours: None,
            delivery_mode: None,
            languages: Vec::new(),
            security_clearances: Vec::new(),
            pre_committed: None,
            convertible_to_preparedness: None,
            value: None,
            conditions: None,
            agreement_ref: None,
            accepted_by_ref: None,
            accepted_at: None,
            decline_reason: None,
            delivery_task_refs: Vec::new(),
        }
    }

    fn check(&self) -> Result<(), BuildError> {
        const T: &str = AssistanceOffer::TYPE;
        if self.name.trim().is_empty() {
            return Err(BuildError::Missing {
                object: T,
                property: "name",
            });
        }
        check_slug(T, "mechanism", &self.mechanism)?;
        check_ref(T, "provider_ref", &self.provider_ref, &["identity"])?;
        for (p, r) in [
            ("sponsor_ref", &self.sponsor_ref),
            ("accepted_by_ref", &self.accepted_by_ref),
        ] {
            if let Some(r) = r {
                check_ref(T, p, r, &["identity"])?;
            }
        }
        check_refs(
            T,
            "request_refs",
            &self.request_refs,
            &["assistance-request"],
        )?;
        check_refs(T, "delivery_task_refs", &self.delivery_task_refs, &["task"])?;
        if self.offered_services.is_empty() {
            return Err(BuildError::Missing {
                object: T,
                property: "offered_services",
            });
        }
        for s in &self.offered_services {
            check_slug(T, "offered_services", s)?;
        }
        check_needs(T, "capacity", &self.capacity)?;
        check_langs(T, &self.languages)?;
        check_order(
            T,
            self.available_from.as_ref(),
            self.available_until.as_ref(),
            "available_until",
        )?;
        if let Some(v) = &self.value {
            let ok = v.currency.len() == 3 && v.currency.bytes().all(|b| b.is_ascii_uppercase());
            if !(ok && v.amount.is_finite() && v.amount >= 0.0) {
                return Err(BuildError::invalid(
                    T,
                    "value",
                    "needs an ISO 4217 currency and an amount ≥ 0",
                ));
            }
        }
        if self.offer_status.needs_acceptance()
            && (self.accepted_by_ref.is_none() || self.accepted_at.is_none())
        {
            return Err(BuildError::invalid(
                T,
                "accepted_by_ref",
                format!(
                    "and accepted_at are required in status `{}`",
                    self.offer_status.name()
                ),
            ));
        }
        Ok(())
    }

    /// Writes the object (strict).
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        self.check()?;
        Ok(Value::Object(new_object(
            Self::TYPE,
            ext::ASSISTANCE_OFFER,
            self,
            common,
            false,
        )?))
    }

    /// Reads an offer.
    pub fn read(value: &Value) -> Result<Read<AssistanceOffer>, ReadError> {
        let map = expect_type(value, Self::TYPE)?;
        Ok(Read {
            header: object::header(map)?,
            body: object::body(map)?,
            warnings: Vec::new(),
        })
    }
}

/// The after-action report extension (body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistanceReport {
    /// Required: the request.
    pub request_ref: String,
    /// The offers delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offer_refs: Vec<String>,
    /// Required.
    pub support_start: Timestamp,
    /// Required.
    pub support_end: Timestamp,
    /// Required: the service provided.
    pub services_provided: String,
    /// The service categories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_categories: Vec<String>,
    /// Required.
    pub results_achieved: String,
    /// Required.
    pub lessons_learned: String,
    /// Who receives it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<u8>,
}

/// An after-action report: a `report` (`report_types: ["assistance-summary"]`) with the
/// assistance-report extension.
#[derive(Debug, Clone, PartialEq)]
pub struct AfterActionReport {
    /// Required.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Required: when it was submitted.
    pub published: Timestamp,
    /// The request, offers, tasks and incident (the request is added when missing).
    pub object_refs: Vec<String>,
    /// The extension.
    pub report: AssistanceReport,
}

impl AfterActionReport {
    /// Writes the report (strict).
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        const T: &str = "report";
        let r = &self.report;
        if self.name.trim().is_empty() {
            return Err(BuildError::Missing {
                object: T,
                property: "name",
            });
        }
        check_ref(T, "request_ref", &r.request_ref, &["assistance-request"])?;
        check_refs(T, "offer_refs", &r.offer_refs, &["assistance-offer"])?;
        check_refs(T, "recipients", &r.recipients, &["identity"])?;
        check_refs(T, "object_refs", &self.object_refs, &[])?;
        check_order(
            T,
            Some(&r.support_start),
            Some(&r.support_end),
            "support_end",
        )?;
        check_percent(T, "satisfaction", r.satisfaction)?;
        for (p, s) in [
            ("services_provided", &r.services_provided),
            ("results_achieved", &r.results_achieved),
            ("lessons_learned", &r.lessons_learned),
        ] {
            if s.trim().is_empty() {
                return Err(BuildError::Missing {
                    object: T,
                    property: p,
                });
            }
        }
        for s in &r.service_categories {
            check_slug(T, "service_categories", s)?;
        }
        let mut refs = self.object_refs.clone();
        for id in std::iter::once(&r.request_ref).chain(&r.offer_refs) {
            if !refs.contains(id) {
                refs.push(id.clone());
            }
        }
        let mut m = common.sdo(T)?;
        m.insert("name".into(), json!(self.name));
        object::put(&mut m, "description", &self.description);
        m.insert("report_types".into(), json!(["assistance-summary"]));
        m.insert("published".into(), json!(self.published));
        m.insert("object_refs".into(), json!(refs));
        let mut exts = Map::new();
        exts.insert(
            ext::ASSISTANCE_REPORT.into(),
            object::extension_body(T, "property-extension", r)?,
        );
        m.insert("extensions".into(), Value::Object(exts));
        Ok(Value::Object(m))
    }

    /// Reads the extension of a report, if it has one.
    pub fn read(value: &Value) -> Result<Option<AssistanceReport>, ReadError> {
        let map = expect_type(value, "report")?;
        object::extension(map, ext::ASSISTANCE_REPORT)
            .map(object::body)
            .transpose()
    }
}

/// One step of a request's workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestStep {
    /// The new status.
    pub to: RequestStatus,
    /// The new version's `modified` (later than the current one).
    pub at: Timestamp,
    /// Offers matched (added to `matched_offer_refs`).
    pub matched_offer_refs: Vec<String>,
    /// Reason for a decision (rejection, partial approval).
    pub decision_reason: Option<String>,
    /// The after-action report (to close).
    pub report_ref: Option<String>,
    /// Why it closes without a report.
    pub closure_waiver: Option<String>,
    /// A new priority with its criteria.
    pub priority: Option<(u8, PriorityCriteria)>,
}

impl RequestStep {
    /// A step with only the status and time.
    pub fn to(to: RequestStatus, at: Timestamp) -> RequestStep {
        RequestStep {
            to,
            at,
            matched_offer_refs: Vec::new(),
            decision_reason: None,
            report_ref: None,
            closure_waiver: None,
            priority: None,
        }
    }
}

fn next_modified(map: &Map<String, Value>, at: Timestamp) -> Result<Timestamp, WorkflowError> {
    let at = at.with_precision(at.precision().max(3));
    let current =
        object::opt_ts(map, "modified")?.ok_or_else(|| ReadError::Missing("modified".into()))?;
    if at <= current {
        return Err(WorkflowError::NotLater {
            current: current.to_string(),
            new: at.to_string(),
        });
    }
    Ok(at)
}

fn rebuild_check<T, F>(
    value: &Value,
    read: F,
    check: impl Fn(&T) -> Result<(), BuildError>,
) -> Result<(), WorkflowError>
where
    F: Fn(&Value) -> Result<Read<T>, ReadError>,
{
    let r = read(value)?;
    check(&r.body).map_err(|e| WorkflowError::Guard(e.to_string()))
}

/// The next version of a request: same id, `modified = step.at`, the new status and the step's
/// data; every other property (unknown ones included) is kept. Refused when the step is not a
/// successor of the current status, `at` is not later, or a guard fails (matching needs a
/// matched offer, closing needs a report or a waiver).
pub fn advance_request(current: &Value, step: &RequestStep) -> Result<Value, WorkflowError> {
    let read = AssistanceRequest::read(current)?;
    let from = read.body.request_status;
    if !from.successors().contains(&step.to) {
        return Err(WorkflowError::Transition {
            object: AssistanceRequest::TYPE,
            from: from.name(),
            to: step.to.name(),
        });
    }
    let mut map = current.as_object().cloned().ok_or(ReadError::NotAnObject)?;
    let at = next_modified(&map, step.at)?;
    map.insert("modified".into(), json!(at));
    map.insert("request_status".into(), json!(step.to));
    if !step.matched_offer_refs.is_empty() {
        let mut refs = read.body.matched_offer_refs.clone();
        for r in &step.matched_offer_refs {
            if !refs.contains(r) {
                refs.push(r.clone());
            }
        }
        map.insert("matched_offer_refs".into(), json!(refs));
    }
    if let Some(r) = &step.decision_reason {
        map.insert("decision_reason".into(), json!(r));
    }
    if let Some(r) = &step.report_ref {
        map.insert("report_ref".into(), json!(r));
    }
    if let Some(w) = &step.closure_waiver {
        map.insert("closure_waiver".into(), json!(w));
    }
    if let Some((p, c)) = &step.priority {
        map.insert("priority".into(), json!(p));
        map.insert("priority_criteria".into(), json!(c));
    }
    let next = Value::Object(map);
    rebuild_check(&next, AssistanceRequest::read, AssistanceRequest::check)?;
    Ok(next)
}

/// One step of an offer's workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferStep {
    /// The new status.
    pub to: OfferStatus,
    /// The new version's `modified`.
    pub at: Timestamp,
    /// Who accepts it (required to accept; `accepted_at` becomes `at`).
    pub accepted_by_ref: Option<String>,
    /// Why it was declined.
    pub decline_reason: Option<String>,
    /// Delivery tasks to add.
    pub delivery_task_refs: Vec<String>,
    /// The signed agreement.
    pub agreement_ref: Option<String>,
}

impl OfferStep {
    /// A step with only the status and time.
    pub fn to(to: OfferStatus, at: Timestamp) -> OfferStep {
        OfferStep {
            to,
            at,
            accepted_by_ref: None,
            decline_reason: None,
            delivery_task_refs: Vec::new(),
            agreement_ref: None,
        }
    }
}

/// The next version of an offer (see [`advance_request`]); accepting records `accepted_by_ref`
/// and `accepted_at`.
pub fn advance_offer(current: &Value, step: &OfferStep) -> Result<Value, WorkflowError> {
    let read = AssistanceOffer::read(current)?;
    let from = read.body.offer_status;
    if !from.successors().contains(&step.to) {
        return Err(WorkflowError::Transition {
            object: AssistanceOffer::TYPE,
            from: from.name(),
            to: step.to.name(),
        });
    }
    let mut map = current.as_object().cloned().ok_or(ReadError::NotAnObject)?;
    let at = next_modified(&map, step.at)?;
    map.insert("modified".into(), json!(at));
    map.insert("offer_status".into(), json!(step.to));
    if step.to == OfferStatus::Accepted {
        let Some(by) = &step.accepted_by_ref else {
            return Err(WorkflowError::Guard(
                "accepting an offer needs accepted_by_ref".into(),
            ));
        };
        map.insert("accepted_by_ref".into(), json!(by));
        map.insert("accepted_at".into(), json!(at));
    }
    if let Some(r) = &step.decline_reason {
        map.insert("decline_reason".into(), json!(r));
    }
    if let Some(r) = &step.agreement_ref {
        map.insert("agreement_ref".into(), json!(r));
    }
    if !step.delivery_task_refs.is_empty() {
        let mut refs = read.body.delivery_task_refs.clone();
        for r in &step.delivery_task_refs {
            if !refs.contains(r) {
                refs.push(r.clone());
            }
        }
        map.insert("delivery_task_refs".into(), json!(refs));
    }
    let next = Value::Object(map);
    rebuild_check(&next, AssistanceOffer::read, AssistanceOffer::check)?;
    Ok(next)
}

/// A request in a ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    /// The request's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its status.
    pub status: RequestStatus,
    /// The computed priority.
    pub priority: u8,
    /// How it was made up.
    pub parts: Vec<PriorityPart>,
}

/// Ranks concurrent requests: open ones only (see [`RequestStatus::is_open`]), by computed
/// priority (highest first), then the earliest `needed_by`, then the earliest `created`, then
/// id. A request's stored `priority_criteria` are used; without them only urgency, cross-border
/// and the default severity count.
pub fn rank_requests(requests: &[Read<AssistanceRequest>]) -> Vec<Ranked> {
    let mut rows: Vec<(&Read<AssistanceRequest>, Ranked)> = requests
        .iter()
        .filter(|r| r.body.request_status.is_open())
        .map(|r| {
            let criteria = r.body.priority_criteria.clone().unwrap_or_default();
            let (p, parts) = priority(&criteria, r.body.urgency, r.body.cross_border == Some(true));
            (
                r,
                Ranked {
                    id: r.header.id.clone(),
                    name: r.body.name.clone(),
                    status: r.body.request_status,
                    priority: p,
                    parts,
                },
            )
        })
        .collect();
    rows.sort_by(|(a, ra), (b, rb)| {
        rb.priority
            .cmp(&ra.priority)
            .then_with(|| match (&a.body.needed_by, &b.body.needed_by) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.header.created.cmp(&b.header.created))
            .then_with(|| a.header.id.cmp(&b.header.id))
    });
    rows.into_iter().map(|(_, r)| r).collect()
}

/// An offer proposed for a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    /// The offer's id.
    pub offer_id: String,
    /// Fit, 0–100.
    pub score: u8,
    /// Needed services the offer covers.
    pub covered: Vec<String>,
    /// Needed services it does not cover.
    pub missing: Vec<String>,
    /// Offered capacity over needed quantity for the covered needs with quantities (capped
    /// at 1), when there are any.
    pub capacity_ratio: Option<f64>,
    /// Time to deploy.
    pub lead_time_hours: Option<u32>,
    /// Whether it can deploy before the deadline (from `needed_by`, else the urgency).
    pub meets_deadline: Option<bool>,
}

/// Proposes the offers that fit a request, best first.
///
/// An offer is a candidate when it is available ([`OfferStatus::is_available`]), answers this
/// request or is a standing offer (no `request_refs`), is still available at `now`, and covers
/// at least one needed service. Its score (0–100):
/// - coverage, 50 × covered services / needed services;
/// - capacity, 25 × offered / needed quantity summed over the covered needs that give a
///   quantity (same service and unit; capped at 1; 25 when no need gives a quantity);
/// - time, 20 when `lead_time_hours` fits before the deadline, else 20 × deadline / lead time;
///   10 when the lead time is unknown;
/// - language, 5 when the working languages overlap or either side gives none.
///
/// Ties: shorter lead time, then id.
pub fn propose_offers(
    request_id: &str,
    request: &AssistanceRequest,
    offers: &[Read<AssistanceOffer>],
    now: Timestamp,
) -> Vec<Proposal> {
    let needed = request.services();
    let deadline_hours: u64 = match &request.needed_by {
        Some(by) => {
            u64::try_from((by.unix_seconds() - now.unix_seconds()).max(0) / 3600).unwrap_or(0)
        }
        None => request.urgency.hours(),
    };
    let mut out = Vec::new();
    for o in offers {
        let b = &o.body;
        if !b.offer_status.is_available()
            || !(b.request_refs.is_empty() || b.request_refs.iter().any(|r| r == request_id))
            || b.available_until.is_some_and(|u| u < now)
        {
            continue;
        }
        let offered: Vec<&str> = b
            .offered_services
            .iter()
            .chain(b.capacity.iter().map(|c| &c.service))
            .map(String::as_str)
            .collect();
        let covered: Vec<String> = needed
            .iter()
            .filter(|s| offered.contains(s))
            .map(|s| (*s).to_owned())
            .collect();
        if covered.is_empty() {
            continue;
        }
        let missing: Vec<String> = needed
            .iter()
            .filter(|s| !offered.contains(s))
            .map(|s| (*s).to_owned())
            .collect();
        let (mut need_q, mut have_q) = (0.0f64, 0.0f64);
        for n in request
            .needs
            .iter()
            .filter(|n| covered.contains(&n.service))
        {
            let Some(q) = n.quantity else { continue };
            let remaining = (q - n.fulfilled_quantity.unwrap_or(0.0)).max(0.0);
            need_q += remaining;
            let cap: f64 = b
                .capacity
                .iter()
                .filter(|c| c.service == n.service && c.unit == n.unit)
                .filter_map(|c| c.quantity)
                .sum();
            have_q += cap.min(remaining);
        }
        let capacity_ratio = (need_q > 0.0).then(|| (have_q / need_q).min(1.0));
        let coverage = 50.0 * covered.len() as f64 / needed.len().max(1) as f64;
        let capacity = 25.0 * capacity_ratio.unwrap_or(1.0);
        let meets_deadline = b.lead_time_hours.map(|l| u64::from(l) <= deadline_hours);
        let time = match b.lead_time_hours {
            None => 10.0,
            Some(l) if u64::from(l) <= deadline_hours => 20.0,
            Some(l) => 20.0 * deadline_hours as f64 / f64::from(l),
        };
        let language = if request.languages.is_empty()
            || b.languages.is_empty()
            || request.languages.iter().any(|l| b.languages.contains(l))
        {
            5.0
        } else {
            0.0
        };
        let score = (coverage + capacity + time + language)
            .round()
            .clamp(0.0, 100.0) as u8;
        out.push(Proposal {
            offer_id: o.header.id.clone(),
            score,
            covered,
            missing,
            capacity_ratio,
            lead_time_hours: b.lead_time_hours,
            meets_deadline,
        });
    }
    out.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| {
                a.lead_time_hours
                    .unwrap_or(u32::MAX)
                    .cmp(&b.lead_time_hours.unwrap_or(u32::MAX))
            })
            .then_with(|| a.offer_id.cmp(&b.offer_id))
    });
    out
}
