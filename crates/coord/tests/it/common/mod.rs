//! A scenario built with every builder of the crate, and the checks shared by the test files.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use coord::Common;
use coord::assist::{
    AfterActionReport, AssistanceOffer, AssistanceReport, AssistanceRequest, DeliveryMode,
    ImpactScope, Money, MoneyKind, Need, OfferStatus, OfferStep, PriorityCriteria,
    PriorityEntityClass, RequestStatus, RequestStep, Urgency, advance_offer, advance_request,
};
use coord::fimi::{
    Attribution, Channel, ChannelStatus, FimiExtension, IncidentDomain, MediaContent, Narrative,
};
use coord::incident::{
    Alteration, Condition, Determination, Event, EventEntry, EventStatus, EventStep, Fidelity,
    Impact, ImpactDetail, Incident, IncidentCore, LossType, PhysicalImpact, Recoverability, Score,
    StateChange, Task, TaskEntry, TaskOutcome, Traceability, Transition,
};
use coord::object::relationship;
use coord::sector::{CiEntity, EntityClass, Victim, country_location};
use serde_json::{Value, json};
use stix::Timestamp;
use uuid::Uuid;

pub(crate) fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub(crate) fn common(at: &str) -> Common {
    Common::new(Uuid::new_v4(), ts(at))
}

/// Every object of the scenario, with the workflow's versions, in order.
pub(crate) struct Scenario {
    pub(crate) objects: Vec<Value>,
    pub(crate) request_versions: Vec<Value>,
    pub(crate) offer_versions: Vec<Value>,
}

pub(crate) const CERT: &str = "identity--3f0d0b4e-9a63-4d1a-8f53-0a8e2f4b6c11";
pub(crate) const MEMBER_A: &str = "identity--4a1e1c5f-ab74-4e2b-9064-1b9f305c7d22";
pub(crate) const MEMBER_B: &str = "identity--5b2f2d60-bc85-4f3c-a175-2ca0416d8e33";

pub(crate) fn scenario() -> Scenario {
    let t0 = "2026-11-20T08:00:00.000Z";
    let amber = stix::tlp::TLP2_AMBER;
    let mut objects = Vec::new();

    let victim_c = common(t0).by(CERT).marked(amber);
    let victim = Victim {
        name: "Põhjavõrk Distribution".into(),
        description: Some("Electricity distribution system operator".into()),
        sectors: vec!["energy".into(), "government-emergency-services".into()],
        ci: CiEntity {
            nis2_sector: Some("energy".into()),
            nis2_subsector: Some("energy/electricity".into()),
            nis2_entity_class: Some(EntityClass::Essential),
            cer_critical_entity: Some(true),
            nace_codes: vec!["D35.13".into()],
            country: Some("EE".into()),
            ..CiEntity::default()
        },
    }
    .build(&victim_c)
    .unwrap();
    let victim_id = victim["id"].as_str().unwrap().to_owned();
    let loc = country_location(&common(t0).by(CERT), "EE").unwrap();
    let loc_id = loc["id"].as_str().unwrap().to_owned();
    objects.push(relationship(&common(t0).by(CERT), "located-at", &victim_id, &loc_id).unwrap());
    objects.push(victim);
    objects.push(loc);

    // Impacts: one per category.
    let mut impact_ids = Vec::new();
    let details = vec![
        ImpactDetail::Availability {
            availability_impact: 90,
        },
        ImpactDetail::External {
            impact_type: "public-safety".into(),
        },
        ImpactDetail::Confidentiality {
            loss_type: LossType::ConfirmedLoss,
            information_type: Some("communication".into()),
            record_count: Some(12000),
            record_size: None,
        },
        ImpactDetail::Integrity {
            alteration: Alteration::PartialModification,
            information_type: Some("system".into()),
            record_count: None,
            record_size: None,
        },
        ImpactDetail::Monetary {
            variety: "response-and-recovery".into(),
            currency: Some("EUR".into()),
            currency_actual: None,
            conversion_rate: None,
            conversion_time: None,
            min_amount: Some(100000.0),
            max_amount: Some(250000.0),
        },
        ImpactDetail::Physical {
            impact_type: PhysicalImpact::DamagedFunctional,
            asset_type: Some("ics-plc".into()),
        },
        ImpactDetail::Traceability {
            traceability_impact: Traceability::PartialAccountability,
        },
    ];
    for d in details {
        let mut i = Impact::new(d);
        i.criticality = Some(75);
        i.impacted_refs = vec![victim_id.clone()];
        i.start_time = Some(ts("2026-11-20T03:10:00Z"));
        i.start_time_fidelity = Some(Fidelity::Minute);
        i.recoverability = Some(Recoverability::Supplemented);
        i.impacted_entity_counts
            .insert("customer-individual".into(), 48000);
        let obj = i.build(&common(t0).by(CERT).marked(amber)).unwrap();
        impact_ids.push(obj["id"].as_str().unwrap().to_owned());
        objects.push(obj);
    }

    let sighting_id = "sighting--6c303e71-cd96-4a4d-b286-3db1527e9f44";
    let mut ev1 = Event::new(EventStatus::Occurred);
    ev1.name = Some("Intrusion into SCADA network".into());
    ev1.event_types = vec!["data-exfiltration".into()];
    ev1.start_time = Some(ts("2026-11-19T22:00:00Z"));
    ev1.end_time = Some(ts("2026-11-20T03:00:00Z"));
    ev1.sighting_refs = vec![sighting_id.into()];
    let ev1 = ev1.build(&common(t0).by(CERT).marked(amber)).unwrap();
    let mut ev2 = Event::new(EventStatus::Ongoing);
    ev2.name = Some("Feeder outage".into());
    ev2.event_types = vec!["denial-of-service".into()];
    ev2.changed_objects = vec![StateChange {
        state_change_type: "caused".into(),
        initial_ref: None,
        result_ref: Some(impact_ids[0].clone()),
    }];
    let ev2 = ev2.build(&common(t0).by(CERT).marked(amber)).unwrap();
    let (ev1_id, ev2_id) = (
        ev1["id"].as_str().unwrap().to_owned(),
        ev2["id"].as_str().unwrap().to_owned(),
    );

    let mut task = Task::new(TaskOutcome::Successful);
    task.name = Some("Manual operation of substations".into());
    task.task_types = vec!["containment".into()];
    task.priority = Some(90);
    task.start_time = Some(ts("2026-11-20T03:30:00Z"));
    task.end_time = Some(ts("2026-11-20T06:00:00Z"));
    let task = task.build(&common(t0).by(CERT).marked(amber)).unwrap();
    let task_id = task["id"].as_str().unwrap().to_owned();

    let mut core = IncidentCore::new();
    core.determination = Determination::Confirmed;
    core.investigation_status = "open".into();
    core.criticality = Some(85);
    core.detection_methods = vec!["system-outage".into()];
    core.incident_types = vec![
        "denial-of-service".into(),
        "hack-and-leak".into(),
        "hybrid".into(),
    ];
    core.impact_refs = impact_ids.clone();
    core.impacted_entity_counts
        .insert("customer-individual".into(), 48000);
    core.recoverability = Some(Recoverability::Supplemented);
    core.scores = vec![Score {
        name: "CSIRT severity".into(),
        value: 8.5,
        description: None,
    }];
    core.events = vec![
        EventEntry {
            event_ref: ev1_id.clone(),
            next_steps: vec![EventStep {
                event_ref: ev2_id.clone(),
                condition_type: Condition::Required,
                transition_type: Transition::Success,
            }],
            sequence_start: None,
        },
        EventEntry {
            event_ref: ev2_id.clone(),
            next_steps: vec![],
            sequence_start: Some(false),
        },
    ];
    core.tasks = vec![TaskEntry {
        task_ref: task_id.clone(),
        next_steps: vec![],
        sequence_start: None,
    }];
    let mut fimi = FimiExtension::new(IncidentDomain::Hybrid);
    fimi.coordinating_entity_ref = Some(CERT.into());
    fimi.supporting_entity_refs = vec![MEMBER_A.into()];
    fimi.fimi_actor_attribution = Some(Attribution::Suspected);
    fimi.disarm_framework_version = Some("1.6".into());
    let incident = Incident {
        name: "Grid operator outage with hack-and-leak disinformation".into(),
        description: None,
        core,
        fimi: Some(fimi),
    }
    .build(&common(t0).by(CERT).marked(amber))
    .unwrap();
    let incident_id = incident["id"].as_str().unwrap().to_owned();
    objects.extend([ev1, ev2, task, incident]);

    // FIMI side, TLP:CLEAR for exposure.
    let clear = stix::tlp::TLP2_CLEAR;
    let narrative = Narrative {
        name: "Blackout caused by government incompetence".into(),
        description: Some("Leaked e-mails allegedly prove the outage was covered up.".into()),
        narrative_types: vec!["energy-security".into(), "anti-eu".into()],
        languages: vec!["et".into(), "ru".into()],
        first_seen: Some(ts("2026-11-20T09:00:00Z")),
        target_audience_refs: vec![loc_id.clone()],
        ..Narrative::default()
    }
    .build(&common(t0).by(CERT).marked(clear))
    .unwrap();
    let channel = Channel {
        name: "@leaks_baltic".into(),
        channel_types: vec!["messaging-channel".into()],
        platform: Some("telegram".into()),
        languages: vec!["ru".into()],
        fimi_exposure_category: Some("state-aligned-channel".into()),
        status: Some(ChannelStatus::Active),
        ..Channel::default()
    }
    .build(&common(t0).by(CERT).marked(clear))
    .unwrap();
    let media = MediaContent {
        url: "https://t.me/leaks_baltic/1042".into(),
        title: Some("Grid leak part 1".into()),
        media_category: Some("post".into()),
        publication_date: Some(ts("2026-11-20T09:05:00Z")),
        language: Some("ru".into()),
        ..MediaContent::default()
    }
    .build(&common(t0).marked(clear))
    .unwrap();
    let (nar_id, ch_id, media_id) = (
        narrative["id"].as_str().unwrap().to_owned(),
        channel["id"].as_str().unwrap().to_owned(),
        media["id"].as_str().unwrap().to_owned(),
    );
    for (ty, s, t) in [
        ("uses", &incident_id, &nar_id),
        ("uses", &incident_id, &ch_id),
        ("uses", &ch_id, &nar_id),
        ("publishes", &ch_id, &media_id),
        ("targets", &incident_id, &victim_id),
        (
            "uses",
            &incident_id,
            &"attack-pattern--70717452-f7e3-4ce8-956f-39a4d34c5cfb".to_owned(),
        ),
    ] {
        objects.push(relationship(&common(t0).by(CERT), ty, s, t).unwrap());
    }
    objects.extend([narrative, channel, media]);

    // Assistance: request, two offers, workflow, report.
    let mut req = AssistanceRequest::new(
        "Forensic support for grid operator",
        "coalition-internal",
        CERT,
        vec!["digital-forensics".into(), "ot-ics-support".into()],
        Urgency::Immediate,
    );
    req.affected_entity_refs = vec![victim_id.clone()];
    req.incident_refs = vec![incident_id.clone()];
    req.impact_refs = impact_ids[..2].to_vec();
    req.cross_border = Some(true);
    req.incident_scale = Some(coord::assist::IncidentScale::Significant);
    req.mitigation_measures = Some("Manual operation; SCADA segment isolated.".into());
    req.needs = vec![
        Need::quantity("digital-forensics", 10.0, "person-days"),
        Need::quantity("ot-ics-support", 5.0, "person-days"),
    ];
    req.languages = vec!["en".into()];
    req.priority_criteria = Some(PriorityCriteria {
        severity: Some(85),
        entity_class: Some(PriorityEntityClass::Essential),
        impact_scope: Some(ImpactScope::MultiNational),
        cross_border: Some(true),
        mitigation_adequate: Some(true),
    });
    req.needed_by = Some(ts("2026-11-21T08:00:00Z"));
    let request = req
        .build(&common("2026-11-20T10:00:00.000Z").by(CERT).marked(amber))
        .unwrap();
    let request_id = request["id"].as_str().unwrap().to_owned();

    let mut oa = AssistanceOffer::new(
        "Member A forensic team",
        "coalition-internal",
        MEMBER_A,
        vec!["digital-forensics".into(), "ot-ics-support".into()],
    );
    oa.request_refs = vec![request_id.clone()];
    oa.capacity = vec![
        Need::quantity("digital-forensics", 10.0, "person-days"),
        Need::quantity("ot-ics-support", 5.0, "person-days"),
    ];
    oa.lead_time_hours = Some(12);
    oa.delivery_mode = Some(DeliveryMode::Hybrid);
    oa.languages = vec!["en".into(), "et".into()];
    let offer_a = oa
        .build(
            &common("2026-11-20T12:00:00.000Z")
                .by(MEMBER_A)
                .marked(amber),
        )
        .unwrap();
    let mut ob = AssistanceOffer::new(
        "Member B licences and funding",
        "coalition-internal",
        MEMBER_B,
        vec!["digital-forensics".into(), "funding".into()],
    );
    ob.request_refs = vec![request_id.clone()];
    ob.capacity = vec![Need::quantity("digital-forensics", 3.0, "person-days")];
    ob.lead_time_hours = Some(72);
    ob.value = Some(Money {
        currency: "EUR".into(),
        amount: 50000.0,
        kind: MoneyKind::Pledged,
    });
    let offer_b = ob
        .build(
            &common("2026-11-20T13:00:00.000Z")
                .by(MEMBER_B)
                .marked(amber),
        )
        .unwrap();
    let offer_a_id = offer_a["id"].as_str().unwrap().to_owned();

    let mut request_versions = vec![request.clone()];
    let mut step = RequestStep::to(RequestStatus::Matched, ts("2026-11-20T14:00:00.000Z"));
    step.matched_offer_refs = vec![offer_a_id.clone()];
    request_versions.push(advance_request(request_versions.last().unwrap(), &step).unwrap());
    let mut offer_versions = vec![offer_a.clone()];
    let mut os = OfferStep::to(OfferStatus::Accepted, ts("2026-11-20T14:00:00.000Z"));
    os.accepted_by_ref = Some(CERT.into());
    offer_versions.push(advance_offer(offer_versions.last().unwrap(), &os).unwrap());
    offer_versions.push(
        advance_offer(
            offer_versions.last().unwrap(),
            &OfferStep::to(OfferStatus::Delivering, ts("2026-11-21T02:00:00.000Z")),
        )
        .unwrap(),
    );
    request_versions.push(
        advance_request(
            request_versions.last().unwrap(),
            &RequestStep::to(RequestStatus::InDelivery, ts("2026-11-21T02:00:00.000Z")),
        )
        .unwrap(),
    );
    let mut delivery = Task::new(TaskOutcome::Successful);
    delivery.name = Some("Forensic analysis of SCADA historian".into());
    delivery.task_types = vec!["external-support".into(), "investigation".into()];
    delivery.start_time = Some(ts("2026-11-21T02:00:00Z"));
    delivery.end_time = Some(ts("2026-11-25T18:00:00Z"));
    delivery.changed_objects = vec![StateChange {
        state_change_type: "mitigated".into(),
        initial_ref: Some(impact_ids[0].clone()),
        result_ref: None,
    }];
    let delivery = delivery
        .build(
            &common("2026-11-25T18:00:00.000Z")
                .by(MEMBER_A)
                .marked(amber),
        )
        .unwrap();
    let delivery_id = delivery["id"].as_str().unwrap().to_owned();
    objects.push(
        relationship(
            &common("2026-11-25T18:00:00.000Z").by(MEMBER_A),
            "performed",
            MEMBER_A,
            &delivery_id,
        )
        .unwrap(),
    );
    let mut os = OfferStep::to(OfferStatus::Completed, ts("2026-11-25T18:00:00.000Z"));
    os.delivery_task_refs = vec![delivery_id.clone()];
    offer_versions.push(advance_offer(offer_versions.last().unwrap(), &os).unwrap());
    let report = AfterActionReport {
        name: "After-action report: forensic support for grid operator".into(),
        description: None,
        published: ts("2026-11-27T09:00:00Z"),
        object_refs: vec![incident_id.clone(), delivery_id.clone()],
        report: AssistanceReport {
            request_ref: request_id.clone(),
            offer_refs: vec![offer_a_id.clone()],
            support_start: ts("2026-11-21T02:00:00Z"),
            support_end: ts("2026-11-25T18:00:00Z"),
            services_provided:
                "Forensic analysis of the SCADA historian and engineering workstations.".into(),
            service_categories: vec!["digital-forensics".into(), "ot-ics-support".into()],
            results_achieved: "Initial access vector found; leaked mailbox identified.".into(),
            lessons_learned: "Keep offline copies of historian data.".into(),
            recipients: vec![MEMBER_A.into()],
            satisfaction: Some(90),
        },
    }
    .build(&common("2026-11-27T09:00:00.000Z").by(CERT).marked(amber))
    .unwrap();
    let mut close = RequestStep::to(RequestStatus::Closed, ts("2026-11-27T09:00:00.000Z"));
    close.report_ref = Some(report["id"].as_str().unwrap().to_owned());
    request_versions.push(advance_request(request_versions.last().unwrap(), &close).unwrap());
    objects.extend([delivery, report, offer_b]);
    objects.extend(coord::ext::definition_objects());
    Scenario {
        objects,
        request_versions,
        offer_versions,
    }
}

/// Errors (not warnings) of Shieldwall's validator.
pub(crate) fn shieldwall_errors(obj: &Value) -> Vec<String> {
    stix::validate::validate_object(obj, &stix::validate::Options::default())
        .into_iter()
        .filter(|f| f.severity == stix::validate::Severity::Error)
        .map(|f| f.to_string())
        .collect()
}

/// Runs `tests/support/check.py` with the reference Python tools; `None` when absent.
pub(crate) fn python_check(request: &Value) -> Option<Value> {
    let python = testenv::python("stix2-validator and jsonschema")?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/check.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "check.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The schema checks for an object: the whole object against a new-object schema, and each
/// property-extension body against its schema.
pub(crate) fn schema_items(obj: &Value) -> Vec<Value> {
    let mut items = Vec::new();
    for s in coord::ext::SHIPPED {
        let def = s.definition();
        let id = obj["id"].as_str().unwrap_or("");
        if def["extension_types"][0] == "property-extension" {
            if let Some(body) = obj.get("extensions").and_then(|e| e.get(s.id)) {
                items.push(json!({"name": format!("{} in {id}", s.folder), "schema": s.schema(), "instance": body}));
            }
        } else if obj["type"] == s.folder {
            items.push(json!({"name": format!("{} {id}", s.folder), "schema": s.schema(), "instance": obj}));
        }
    }
    items
}
