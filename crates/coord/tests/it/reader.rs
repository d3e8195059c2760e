//! The tolerant reader accepts the forms the OASIS Incident suite's own examples and OpenCTI
//! use, with a warning for each; the strict writer refuses what the specification forbids.
#![allow(clippy::unwrap_used)]

use crate::common;

use coord::BuildError;
use coord::assist::{AssistanceRequest, Urgency};
use coord::fimi::{Channel, MediaContent, Narrative};
use coord::incident::{
    Determination, Event, EventStatus, Impact, ImpactDetail, Incident, IncidentCore, LossType,
    PhysicalImpact, StateChange, Task, TaskOutcome,
};
use coord::sector::{CiEntity, Victim};
use serde_json::json;

#[test]
fn reads_the_upstream_incident_core_example_forms() {
    // incident-core/examples/example_2.1.json: wrapped score, list form is in pii_loss.json.
    let incident = json!({
        "type": "incident", "spec_version": "2.1", "id": "incident--b754abee-6de5-4b4e-8125-8dab1ca199fe",
        "created": "2023-05-02T20:00:00.0002Z", "modified": "2023-05-02T20:00:00.0002Z",
        "name": "Sample incident",
        "extensions": {"extension-definition--ef765651-680c-498d-9894-99799f2fa126": {
            "determination": "confirmed", "extension_type": "property-extension",
            "investigation_status": "open", "criticality": 70,
            "detection_methods": ["automated-tool", "human-review"],
            "events": [{"event_ref": "event--9ca38544-c247-45d9-9e33-957ba7c9e119"}],
            "impact_refs": ["impact--7a5806e4-0f37-4c48-9a50-7301bff4b195"],
            "impacted_entity_counts": {"individual": 100, "employee": 70, "customer-individual": 30},
            "incident_types": ["hosting-phishing-sites"], "recoverability": "regular",
            "scores": [{"incident-score": {"name": "ExampleSystem Automated Exposure Score", "value": 75.5,
                "description": "The score is calculated based on the severity."}}],
            "tasks": [{"task_ref": "task--a45aaed9-6504-4f95-982e-78508726eb5a"}]}}
    });
    let r = Incident::read(&incident).unwrap();
    assert_eq!(r.body.core.determination, Determination::Confirmed);
    assert_eq!(r.body.core.scores[0].value, 75.5);
    assert_eq!(r.body.core.impacted_entity_counts["employee"], 70);
    assert!(
        r.warnings.iter().any(|w| w.contains("incident-score")),
        "{:?}",
        r.warnings
    );
    // The schema-only value.
    let mut schema_form = incident.clone();
    schema_form["extensions"]["extension-definition--ef765651-680c-498d-9894-99799f2fa126"]["determination"] =
        json!("successful-attempt");
    let r = Incident::read(&schema_form).unwrap();
    assert_eq!(r.body.core.determination, Determination::Confirmed);
    assert!(r.warnings.iter().any(|w| w.contains("successful-attempt")));
    // Re-written strictly: plain score, no warnings on the next read.
    let again = r
        .body
        .build(&common::common("2023-05-02T20:00:00.000Z"))
        .unwrap();
    let ext = &again["extensions"]["extension-definition--ef765651-680c-498d-9894-99799f2fa126"];
    assert_eq!(
        ext["scores"][0]["name"],
        "ExampleSystem Automated Exposure Score"
    );
    assert_eq!(ext["determination"], "confirmed");
    assert!(Incident::read(&again).unwrap().warnings.is_empty());
    // A schema version's forms: bare event_refs/task_refs and one entity_count object.
    let mut refs_form = incident.clone();
    let ext = refs_form["extensions"]["extension-definition--ef765651-680c-498d-9894-99799f2fa126"]
        .as_object_mut()
        .unwrap();
    ext.remove("events");
    ext.remove("tasks");
    ext.insert(
        "event_refs".into(),
        json!(["event--9ca38544-c247-45d9-9e33-957ba7c9e119"]),
    );
    ext.insert(
        "task_refs".into(),
        json!(["task--a45aaed9-6504-4f95-982e-78508726eb5a"]),
    );
    ext.insert(
        "impacted_entity_counts".into(),
        json!({"entity_type": "employee", "count": 7}),
    );
    let r = Incident::read(&refs_form).unwrap();
    assert_eq!(
        r.body.core.events[0].event_ref,
        "event--9ca38544-c247-45d9-9e33-957ba7c9e119"
    );
    assert_eq!(
        r.body.core.tasks[0].task_ref,
        "task--a45aaed9-6504-4f95-982e-78508726eb5a"
    );
    assert_eq!(r.body.core.impacted_entity_counts["employee"], 7);
    assert_eq!(r.body.core.impacted_entity_counts.len(), 1);
    // Not an incident core incident.
    let mut plain = incident.clone();
    plain.as_object_mut().unwrap().remove("extensions");
    assert!(Incident::read(&plain).is_err());
}

#[test]
fn reads_bare_category_keys_suffixed_categories_and_listed_counts() {
    // incident-core/examples/incident_ransom.json: bare `monetary` key.
    let ransom = json!({
        "type": "impact", "impact_category": "monetary", "id": "impact--0c9511ac-e14b-4f48-9d49-54bfc93c9b34",
        "spec_version": "2.1", "created": "2023-05-02T20:00:00.0002Z", "modified": "2023-05-02T20:00:00.0002Z",
        "description": "Received a ransom demand for 0.5 BTC.",
        "superseded_by_ref": "impact--dde347a5-e695-4b58-bc7e-00712abdc9a6",
        "extensions": {"extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9": {"extension_type": "new-sdo"},
            "monetary": {"currency": "usd", "min_amount": 0, "max_amount": 14413.05, "variety": "ransom-demand",
                "conversion_rate": 0.0000346907836994945, "conversion_time": "2023-05-02T20:00:00.0002Z", "currency_actual": "btc"}}
    });
    let r = Impact::read(&ransom).unwrap();
    let ImpactDetail::Monetary {
        variety,
        max_amount,
        ..
    } = &r.body.detail
    else {
        panic!()
    };
    assert_eq!(variety, "ransom-demand");
    assert_eq!(*max_amount, Some(14413.05));
    assert!(
        r.warnings.iter().any(|w| w.contains("`monetary`")),
        "{:?}",
        r.warnings
    );
    // The strict writer refuses it as it stands: superseded without end_time.
    let err = r
        .body
        .build(&common::common("2023-05-02T20:00:00.000Z"))
        .unwrap_err();
    assert!(err.to_string().contains("end_time"), "{err}");

    // incident-ef7/impact/examples/pii_loss.json: counts as a list.
    let pii = json!({
        "type": "impact", "impact_category": "confidentiality-ext", "id": "impact--b689f0bb-d290-4961-87ad-a40289a67d83",
        "created": "2023-04-07T20:00:00.0002Z", "modified": "2023-04-07T20:00:00.0002Z", "spec_version": "2.1",
        "impacted_entity_counts": [{"entity_type": "individual", "count": 123456}],
        "extensions": {"extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9": {"extension_type": "new-sdo"},
            "confidentiality-ext": {"information_type": "pii", "loss_type": "suspected-loss", "record_count": 123456}}
    });
    let r = Impact::read(&pii).unwrap();
    assert_eq!(r.body.impacted_entity_counts["individual"], 123456);
    let ImpactDetail::Confidentiality { loss_type, .. } = r.body.detail else {
        panic!()
    };
    assert_eq!(loss_type, LossType::SuspectedLoss);
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    let written = r
        .body
        .build(&common::common("2023-04-07T20:00:00.000Z"))
        .unwrap();
    assert_eq!(written["impact_category"], "confidentiality");
    assert_eq!(
        written["impacted_entity_counts"],
        json!({"individual": 123456})
    );
    assert!(written["extensions"].get("confidentiality-ext").is_some());
    assert!(Impact::read(&written).unwrap().warnings.is_empty());

    // Wrong shapes are errors, not panics.
    let mut broken = pii.clone();
    broken["impacted_entity_counts"] = json!([{"entity_type": "individual"}]);
    assert!(Impact::read(&broken).is_err());
    let mut broken = pii.clone();
    broken["impact_category"] = json!("emotional");
    assert!(Impact::read(&broken).is_err());
    let mut broken = pii;
    broken["extensions"]["confidentiality-ext"]["loss_type"] = json!("some");
    assert!(Impact::read(&broken).is_err());
}

#[test]
fn reads_wrapped_state_changes_and_opencti_events() {
    let task = json!({
        "type": "task", "id": "task--4e1e2a5a-6b3c-4d5e-8f6a-9e7b8a9a5b6c", "outcome": "successful",
        "changed_objects": [{"state_change": {"state_change_type": "mitigated",
            "initial_ref": "impact--f3e1a6f3-1a95-457a-84a7-887c2d9e5e7c"}}],
        "task_types": ["containment"], "priority": 80
    });
    let r = Task::read(&task).unwrap();
    assert_eq!(r.body.outcome, TaskOutcome::Successful);
    assert_eq!(r.body.changed_objects[0].state_change_type, "mitigated");
    assert!(r.warnings.iter().any(|w| w.contains("state_change")));

    let octi = json!({"type": "event", "spec_version": "2.1", "id": "event--1d9b5a7e-2c4f-4b8e-9f0a-3c5d7e9f1b2d",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "National election", "event_types": ["national-election"],
        "start_time": "2026-03-01T00:00:00Z", "stop_time": "2026-03-02T00:00:00Z"});
    assert!(Event::read(&octi).is_err(), "an OASIS event needs a status");
    let at = |s: &str| Event::read_at(&octi, common::ts(s)).unwrap().body;
    assert_eq!(at("2026-02-01T00:00:00Z").status, EventStatus::Pending);
    assert_eq!(at("2026-03-01T12:00:00Z").status, EventStatus::Ongoing);
    let past = at("2026-04-01T00:00:00Z");
    assert_eq!(past.status, EventStatus::Occurred);
    assert_eq!(past.end_time, Some(common::ts("2026-03-02T00:00:00Z")));
    let written = past
        .build(&common::common("2026-04-01T00:00:00.000Z"))
        .unwrap();
    assert!(written.get("stop_time").is_none());
    assert_eq!(written["status"], "occurred");
}

#[test]
fn reads_opencti_channels_and_narratives() {
    let channel = json!({"type": "channel", "spec_version": "2.1", "id": "channel--2a6c8e0f-3b5d-4c7e-8f9a-0b1c2d3e4f5a",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "example", "channel_type": "Twitter", "channel_languages": ["ru"],
        "extensions": {"extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba": {"extension_type": "new-sdo"}}});
    let r = Channel::read(&channel).unwrap();
    assert_eq!(r.body.channel_types, ["social-media-account"]);
    assert_eq!(r.body.platform.as_deref(), Some("x"));
    assert_eq!(r.body.languages, ["ru"]);
    assert_eq!(r.warnings.len(), 3, "{:?}", r.warnings);
    let mut ours = r
        .body
        .build(&common::common("2026-01-02T00:00:00.000Z"))
        .unwrap();
    coord::fimi::opencti_compat(&mut ours);
    assert_eq!(
        ours["extensions"][coord::ext::OPENCTI]["extension_type"],
        "new-sdo"
    );
    assert_eq!(
        ours["extensions"][coord::ext::CHANNEL]["extension_type"],
        "new-sdo"
    );
    assert!(common::shieldwall_errors(&ours).is_empty());

    let narrative = json!({"type": "narrative", "spec_version": "2.1", "id": "narrative--3b7d9f1a-4c6e-4d8f-9a0b-1c2d3e4f5a6b",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "n", "narrative_types": ["Energy Security"]});
    let r = Narrative::read(&narrative).unwrap();
    assert_eq!(r.body.narrative_types, ["energy-security"]);

    let media = MediaContent {
        url: "https://example.org/a".into(),
        ..MediaContent::default()
    };
    let built = media
        .build(&common::common("2026-01-01T00:00:00.000Z"))
        .unwrap();
    assert_eq!(built["id"], MediaContent::id_for("https://example.org/a"));
    assert_ne!(
        MediaContent::id_for("https://example.org/a"),
        MediaContent::id_for("https://example.org/b")
    );
    assert!(MediaContent::read(&built).unwrap().warnings.is_empty());
    let mut moved = built.clone();
    moved["url"] = json!("https://example.org/b");
    assert_eq!(MediaContent::read(&moved).unwrap().warnings.len(), 1);
}

#[test]
fn the_strict_writer_refuses_what_the_spec_forbids() {
    let c = common::common("2026-01-01T00:00:00.000Z");
    let refuse = |r: Result<serde_json::Value, BuildError>, needle: &str| {
        let e = r.unwrap_err().to_string();
        assert!(e.contains(needle), "{e} lacks {needle}");
    };
    refuse(
        Impact::new(ImpactDetail::Availability {
            availability_impact: 101,
        })
        .build(&c),
        "availability_impact",
    );
    refuse(
        Impact::new(ImpactDetail::Confidentiality {
            loss_type: LossType::ConfirmedLoss,
            information_type: None,
            record_count: None,
            record_size: None,
        })
        .build(&c),
        "information_type",
    );
    refuse(
        Impact::new(ImpactDetail::Physical {
            impact_type: PhysicalImpact::Destruction,
            asset_type: None,
        })
        .build(&c),
        "asset_type",
    );
    refuse(
        Impact::new(ImpactDetail::Monetary {
            variety: "ransom-demand".into(),
            currency: None,
            currency_actual: None,
            conversion_rate: None,
            conversion_time: None,
            min_amount: Some(10.0),
            max_amount: Some(5.0),
        })
        .build(&c),
        "max_amount",
    );
    let mut t = Task::new(TaskOutcome::Ongoing);
    t.changed_objects = vec![StateChange {
        state_change_type: "mitigated".into(),
        initial_ref: Some("impact--f3e1a6f3-1a95-457a-84a7-887c2d9e5e7c".into()),
        result_ref: Some("event--f3e1a6f3-1a95-457a-84a7-887c2d9e5e7c".into()),
    }];
    refuse(t.build(&c), "same object type");
    let mut t = Task::new(TaskOutcome::Ongoing);
    t.start_time = Some(common::ts("2026-01-02T00:00:00Z"));
    t.end_time = Some(common::ts("2026-01-01T00:00:00Z"));
    refuse(t.build(&c), "end_time");
    let mut core = IncidentCore::new();
    core.criticality = Some(120);
    refuse(
        Incident {
            name: "x".into(),
            description: None,
            core,
            fimi: None,
        }
        .build(&c),
        "criticality",
    );
    let mut core = IncidentCore::new();
    core.impact_refs = vec!["event--f3e1a6f3-1a95-457a-84a7-887c2d9e5e7c".into()];
    refuse(
        Incident {
            name: "x".into(),
            description: None,
            core,
            fimi: None,
        }
        .build(&c),
        "impact",
    );
    refuse(Narrative::default().build(&c), "name");
    refuse(
        MediaContent {
            url: "not a url".into(),
            ..MediaContent::default()
        }
        .build(&c),
        "url",
    );
    let reserve = AssistanceRequest::new(
        "r",
        "eu-cybersecurity-reserve",
        common::CERT,
        vec!["incident-response".into()],
        Urgency::Urgent,
    );
    refuse(reserve.build(&c), "mitigation_measures");
    let mut bad_ref = AssistanceRequest::new(
        "r",
        "bilateral",
        "incident--f3e1a6f3-1a95-457a-84a7-887c2d9e5e7c",
        vec!["training".into()],
        Urgency::Routine,
    );
    refuse(bad_ref.build(&c), "requester_ref");
    bad_ref.requester_ref = common::CERT.into();
    bad_ref.requested_services = vec!["Training".into()];
    refuse(bad_ref.build(&c), "requested_services");
    let v = Victim {
        name: "v".into(),
        sectors: vec!["space-mining".into()],
        ..Victim::default()
    };
    refuse(v.build(&c), "industry-sector-ov");
    let v = Victim {
        name: "v".into(),
        ci: CiEntity {
            nis2_sector: Some("energy".into()),
            nis2_subsector: Some("transport/rail".into()),
            ..CiEntity::default()
        },
        ..Victim::default()
    };
    refuse(v.build(&c), "nis2_subsector");
    let mut later = c.clone();
    later.modified = Some(common::ts("2025-01-01T00:00:00Z"));
    refuse(
        Narrative {
            name: "n".into(),
            ..Narrative::default()
        }
        .build(&later),
        "modified",
    );
}

#[test]
fn victims_carry_stix_and_nis2_sectors_and_a_country() {
    let v = Victim {
        name: "Water utility".into(),
        sectors: vec!["government-emergency-services".into()],
        ci: CiEntity {
            nis2_sector: Some("drinking-water".into()),
            nis2_entity_class: Some(coord::sector::EntityClass::Important),
            country: Some("LV".into()),
            ..CiEntity::default()
        },
        ..Victim::default()
    };
    let obj = v
        .build(&common::common("2026-01-01T00:00:00.000Z"))
        .unwrap();
    assert_eq!(
        obj["sectors"],
        json!(["emergency-services", "water", "utilities"])
    );
    let ext = &obj["extensions"][coord::ext::CI_ENTITY];
    assert_eq!(ext["nis2_annex"], "I");
    assert_eq!(ext["country"], "LV");
    assert!(common::shieldwall_errors(&obj).is_empty());
    let back = Victim::read(&obj).unwrap();
    assert_eq!(back.body.ci.nis2_sector.as_deref(), Some("drinking-water"));
    assert!(back.warnings.is_empty());
}
