//! The assistance workflow as versions, prioritisation of concurrent requests, and proposals.
#![allow(clippy::unwrap_used)]

use crate::common;

use coord::WorkflowError;
use coord::assist::{
    AssistanceOffer, AssistanceRequest, ImpactScope, OfferStatus, OfferStep, PriorityCriteria,
    PriorityEntityClass, RequestStatus, RequestStep, Urgency, advance_offer, advance_request,
    priority, propose_offers, rank_requests,
};
use coord::object::Read;
use serde_json::json;

#[test]
fn every_workflow_step_is_a_new_version_of_the_same_object() {
    let s = common::scenario();
    let statuses: Vec<&str> = s
        .request_versions
        .iter()
        .map(|v| v["request_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["submitted", "matched", "in-delivery", "closed"]);
    let offer: Vec<&str> = s
        .offer_versions
        .iter()
        .map(|v| v["offer_status"].as_str().unwrap())
        .collect();
    assert_eq!(offer, ["offered", "accepted", "delivering", "completed"]);
    for versions in [&s.request_versions, &s.offer_versions] {
        for w in versions.windows(2) {
            assert_eq!(w[0]["id"], w[1]["id"]);
            assert_eq!(w[0]["created"], w[1]["created"]);
            let (a, b) = (
                common::ts(w[0]["modified"].as_str().unwrap()),
                common::ts(w[1]["modified"].as_str().unwrap()),
            );
            assert!(b > a, "{a} then {b}");
            // Everything but the workflow fields is unchanged.
            for (k, v) in w[0].as_object().unwrap() {
                if ![
                    "modified",
                    "request_status",
                    "offer_status",
                    "matched_offer_refs",
                    "report_ref",
                    "accepted_by_ref",
                    "accepted_at",
                    "delivery_task_refs",
                ]
                .contains(&k.as_str())
                {
                    assert_eq!(&w[1][k], v, "{k} changed");
                }
            }
        }
    }
    let closed = s.request_versions.last().unwrap();
    assert!(
        closed["report_ref"]
            .as_str()
            .unwrap()
            .starts_with("report--")
    );
    let accepted = &s.offer_versions[1];
    assert_eq!(accepted["accepted_by_ref"], common::CERT);
    assert_eq!(accepted["accepted_at"], accepted["modified"]);
}

#[test]
fn refused_steps_say_why_and_unknown_properties_survive() {
    let s = common::scenario();
    let submitted = &s.request_versions[0];
    let at = common::ts("2026-11-22T00:00:00.000Z");
    // Not a successor.
    let e = advance_request(submitted, &RequestStep::to(RequestStatus::Closed, at)).unwrap_err();
    assert!(matches!(e, WorkflowError::Transition { .. }), "{e}");
    // Matching needs a matched offer.
    let e = advance_request(submitted, &RequestStep::to(RequestStatus::Matched, at)).unwrap_err();
    assert!(e.to_string().contains("matched_offer_refs"), "{e}");
    // Not later than the current version.
    let mut step = RequestStep::to(
        RequestStatus::Acknowledged,
        common::ts("2026-11-20T10:00:00.000Z"),
    );
    let e = advance_request(submitted, &step).unwrap_err();
    assert!(matches!(e, WorkflowError::NotLater { .. }), "{e}");
    // Closing needs a report or a waiver.
    let in_delivery = &s.request_versions[2];
    let e = advance_request(in_delivery, &RequestStep::to(RequestStatus::Closed, at)).unwrap_err();
    assert!(e.to_string().contains("report"), "{e}");
    let mut waived = RequestStep::to(RequestStatus::Closed, at);
    waived.closure_waiver = Some("Support cancelled by the victim; no report required.".into());
    assert_eq!(
        advance_request(in_delivery, &waived).unwrap()["request_status"],
        "closed"
    );
    // Terminal.
    let closed = s.request_versions.last().unwrap();
    let e = advance_request(
        closed,
        &RequestStep::to(
            RequestStatus::Cancelled,
            common::ts("2026-12-01T00:00:00.000Z"),
        ),
    )
    .unwrap_err();
    assert!(matches!(e, WorkflowError::Transition { .. }));
    // Unknown properties and other producers' extensions are kept.
    let mut custom = submitted.clone();
    custom["x_member_ticket"] = json!("INC-4711");
    custom["extensions"]["extension-definition--0d4dda28-0000-4000-8000-000000000000"] =
        json!({"extension_type": "property-extension", "k": 1});
    step.at = at;
    let next = advance_request(&custom, &step).unwrap();
    assert_eq!(next["x_member_ticket"], "INC-4711");
    assert_eq!(
        next["extensions"]["extension-definition--0d4dda28-0000-4000-8000-000000000000"]["k"],
        1
    );
    // Offers: accepting needs who accepted.
    let offered = &s.offer_versions[0];
    let e = advance_offer(offered, &OfferStep::to(OfferStatus::Accepted, at)).unwrap_err();
    assert!(e.to_string().contains("accepted_by_ref"), "{e}");
    let e = advance_offer(offered, &OfferStep::to(OfferStatus::Completed, at)).unwrap_err();
    assert!(matches!(e, WorkflowError::Transition { .. }));
    // A non-request is a read error, not a panic.
    assert!(matches!(
        advance_request(&json!({"type": "report"}), &step),
        Err(WorkflowError::Read(_))
    ));
}

fn request(
    name: &str,
    urgency: Urgency,
    criteria: PriorityCriteria,
    created: &str,
) -> Read<AssistanceRequest> {
    let mut r = AssistanceRequest::new(
        name,
        "coalition-internal",
        common::CERT,
        vec!["incident-response".into()],
        urgency,
    );
    r.priority_criteria = Some(criteria);
    let v = r.build(&common::common(created)).unwrap();
    AssistanceRequest::read(&v).unwrap()
}

#[test]
fn priority_follows_the_documented_scoring() {
    let full = PriorityCriteria {
        severity: Some(100),
        entity_class: Some(PriorityEntityClass::Essential),
        impact_scope: Some(ImpactScope::Union),
        cross_border: Some(true),
        mitigation_adequate: Some(true),
    };
    assert_eq!(priority(&full, Urgency::Immediate, false).0, 100);
    let none = PriorityCriteria::default();
    // Unknown severity counts as 50 → 20 points; routine 4.
    let (p, parts) = priority(&none, Urgency::Routine, false);
    assert_eq!(p, 24);
    assert_eq!(parts.iter().map(|x| u32::from(x.max)).sum::<u32>(), 100);
    assert_eq!(priority(&none, Urgency::Routine, true).0, 34);
    let essential = PriorityCriteria {
        severity: Some(60),
        entity_class: Some(PriorityEntityClass::Essential),
        ..none.clone()
    };
    let important = PriorityCriteria {
        severity: Some(60),
        entity_class: Some(PriorityEntityClass::Important),
        ..none.clone()
    };
    assert_eq!(
        priority(&essential, Urgency::Urgent, false).0
            - priority(&important, Urgency::Urgent, false).0,
        10
    );
}

#[test]
fn concurrent_requests_are_ranked_essential_and_severe_first() {
    let hospital = request(
        "hospital ransomware",
        Urgency::Immediate,
        PriorityCriteria {
            severity: Some(90),
            entity_class: Some(PriorityEntityClass::Essential),
            cross_border: Some(false),
            ..Default::default()
        },
        "2026-11-20T10:00:00.000Z",
    );
    let shop = request(
        "webshop defacement",
        Urgency::Routine,
        PriorityCriteria {
            severity: Some(20),
            entity_class: Some(PriorityEntityClass::Other),
            ..Default::default()
        },
        "2026-11-20T09:00:00.000Z",
    );
    let grid = request(
        "grid operator, cross-border",
        Urgency::Immediate,
        PriorityCriteria {
            severity: Some(90),
            entity_class: Some(PriorityEntityClass::Essential),
            cross_border: Some(true),
            ..Default::default()
        },
        "2026-11-20T11:00:00.000Z",
    );
    // Same priority as the hospital, created earlier: ranks before it.
    let twin = request(
        "twin of hospital",
        Urgency::Immediate,
        PriorityCriteria {
            severity: Some(90),
            entity_class: Some(PriorityEntityClass::Essential),
            cross_border: Some(false),
            ..Default::default()
        },
        "2026-11-20T08:00:00.000Z",
    );
    let ranked = rank_requests(&[shop, hospital, grid, twin]);
    let names: Vec<&str> = ranked.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "grid operator, cross-border",
            "twin of hospital",
            "hospital ransomware",
            "webshop defacement"
        ]
    );
    assert!(ranked[0].priority > ranked[1].priority);
    assert!(ranked[2].priority > ranked[3].priority);
    // Closed requests are not on the board.
    let s = common::scenario();
    let closed = AssistanceRequest::read(s.request_versions.last().unwrap()).unwrap();
    assert!(rank_requests(&[closed]).is_empty());
}

#[test]
fn proposals_rank_offers_by_fit() {
    let s = common::scenario();
    let req = AssistanceRequest::read(&s.request_versions[0]).unwrap();
    let offers: Vec<Read<AssistanceOffer>> = s
        .objects
        .iter()
        .chain(&s.offer_versions[..1])
        .filter(|o| o["type"] == "assistance-offer")
        .map(|o| AssistanceOffer::read(o).unwrap())
        .collect();
    assert_eq!(offers.len(), 2);
    let mut unrelated = AssistanceOffer::new(
        "training only",
        "coalition-internal",
        common::MEMBER_B,
        vec!["training".into()],
    );
    unrelated.lead_time_hours = Some(1);
    let unrelated = AssistanceOffer::read(
        &unrelated
            .build(&common::common("2026-11-20T12:00:00.000Z"))
            .unwrap(),
    )
    .unwrap();
    let mut other_request = AssistanceOffer::new(
        "for someone else",
        "coalition-internal",
        common::MEMBER_B,
        vec!["digital-forensics".into()],
    );
    other_request.request_refs =
        vec!["assistance-request--9b3c5d7e-1f2a-4b4c-8d6e-7f8a9b0c1d2e".into()];
    let other_request = AssistanceOffer::read(
        &other_request
            .build(&common::common("2026-11-20T12:00:00.000Z"))
            .unwrap(),
    )
    .unwrap();
    let accepted = AssistanceOffer::read(&s.offer_versions[1]).unwrap();
    let mut all = offers.clone();
    all.extend([unrelated, other_request, accepted]);
    let now = common::ts("2026-11-20T14:00:00Z");
    let p = propose_offers(&req.header.id, &req.body, &all, now);
    assert_eq!(p.len(), 2, "{p:?}");
    let a = &p[0];
    assert_eq!(a.offer_id, s.offer_versions[0]["id"]);
    // Full coverage, full capacity, 12 h lead time before the 18 h left, shared language.
    assert_eq!(a.score, 100);
    assert_eq!(a.covered, ["digital-forensics", "ot-ics-support"]);
    assert_eq!(a.meets_deadline, Some(true));
    let b = &p[1];
    assert_eq!(b.missing, ["ot-ics-support"]);
    assert_eq!(b.meets_deadline, Some(false));
    // coverage 25 + capacity 25 × 3/10 + time 20 × 18/72 + language 5 = 42.5 → 43 (rounded half away)
    assert_eq!(b.score, 43, "{b:?}");
    assert_eq!(b.capacity_ratio, Some(0.3));
}
