//! The real DISARM bundle: normalised, indexed, every technique found by its DISARM id, every
//! normalised object valid STIX, and a matrix counted from `uses` relationships.
#![allow(clippy::unwrap_used)]

use coord::disarm::{self, DisarmIndex, Matrix};
use serde_json::{Value, json};

fn bundle() -> Option<Value> {
    let path = testenv::shared_file("DISARM bundle", "data/disarm/DISARM.json")?;
    let bytes = std::fs::read(path).unwrap();
    Some(stix::json::parse(&bytes).unwrap())
}

#[test]
fn every_technique_is_found_by_its_disarm_id_after_normalisation() {
    let Some(bundle) = bundle() else { return };
    let (objects, report) = disarm::normalise(&bundle).unwrap();
    assert_eq!(report.objects, objects.len());
    let raw_techniques: Vec<&Value> = disarm::objects_of(&bundle)
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "attack-pattern")
        .collect();
    assert_eq!(report.techniques, raw_techniques.len());
    assert!(report.techniques > 300, "{report:?}");
    assert_eq!(report.kill_chain_phases_renamed, report.techniques);
    assert_eq!(report.tactics, 16);

    let index = DisarmIndex::build(&objects).unwrap();
    assert_eq!(index.techniques().len(), raw_techniques.len());
    for raw in &raw_techniques {
        let did = raw["external_references"][0]["external_id"]
            .as_str()
            .unwrap();
        let t = index
            .technique(did)
            .unwrap_or_else(|| panic!("{did} not found"));
        assert_eq!(t.stix_id, raw["id"]);
        assert_eq!(t.name, raw["name"]);
        assert_eq!(index.technique(&t.stix_id).unwrap().disarm_id, did);
        assert_eq!(index.technique(&did.to_lowercase()).unwrap().disarm_id, did);
        assert_eq!(t.phases.len(), 1, "{did}");
        assert!(
            index.tactic(&t.phases[0]).is_some(),
            "{did}: phase {:?}",
            t.phases
        );
        assert_eq!(
            t.parent.is_some(),
            raw["x_mitre_is_subtechnique"] == true,
            "{did}"
        );
    }
    // Sub-techniques agree with the bundle's subtechnique-of relationships.
    for rel in disarm::objects_of(&bundle)
        .unwrap()
        .iter()
        .filter(|o| o["relationship_type"] == "subtechnique-of")
    {
        let sub = index
            .technique(rel["source_ref"].as_str().unwrap())
            .unwrap();
        let parent = index
            .technique(rel["target_ref"].as_str().unwrap())
            .unwrap();
        assert_eq!(sub.parent.as_deref(), Some(parent.disarm_id.as_str()));
    }
    // Tactics in phase order: the matrix's order, starting with planning.
    let order: Vec<&str> = index
        .tactics()
        .iter()
        .map(|t| t.disarm_id.as_str())
        .collect();
    assert_eq!(&order[..3], ["TA01", "TA02", "TA13"]);
    assert_eq!(order.len(), 16);
    assert_eq!(order.last(), Some(&"TA12"));
}

#[test]
fn normalised_objects_are_disarm_shaped_lossless_and_valid() {
    let Some(bundle) = bundle() else { return };
    let raw = disarm::objects_of(&bundle).unwrap();
    let (objects, _) = disarm::normalise(&bundle).unwrap();
    let options = stix::validate::Options::default();
    for (before, after) in raw.iter().zip(&objects) {
        let errors: Vec<_> = stix::validate::validate_object(after, &options)
            .into_iter()
            .filter(|f| f.severity == stix::validate::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", after["id"]);
        let (b, a) = (before.as_object().unwrap(), after.as_object().unwrap());
        for p in disarm::DROPPED_PROPERTIES {
            assert!(!a.contains_key(p), "{} kept {p}", after["id"]);
        }
        // Everything not dropped is kept, unchanged unless it is a renamed field.
        for (k, v) in b {
            if disarm::DROPPED_PROPERTIES.contains(&k.as_str()) {
                continue;
            }
            let now = a
                .get(k)
                .unwrap_or_else(|| panic!("{} lost {k}", after["id"]));
            if k != "kill_chain_phases" && k != "external_references" {
                assert_eq!(now, v, "{} changed {k}", after["id"]);
            }
        }
        if after["type"] == "attack-pattern" {
            assert_eq!(after["kill_chain_phases"][0]["kill_chain_name"], "disarm");
            assert_eq!(
                after["kill_chain_phases"][0]["phase_name"],
                before["kill_chain_phases"][0]["phase_name"]
            );
            assert_eq!(after["external_references"][0]["source_name"], "DISARM");
            assert_eq!(
                after["external_references"][0]["external_id"],
                before["external_references"][0]["external_id"]
            );
            assert_eq!(
                after["x_mitre_is_subtechnique"],
                before["x_mitre_is_subtechnique"]
            );
        }
    }
    // Normalising twice changes nothing more.
    let (again, report) = disarm::normalise(&json!(objects.clone())).unwrap();
    assert_eq!(again, objects);
    assert_eq!(report.kill_chain_phases_renamed, 0);
    assert_eq!(report.properties_dropped, 0);
}

#[test]
fn matrix_counts_distinct_users_per_technique_and_tactic() {
    let Some(bundle) = bundle() else { return };
    let (mut objects, _) = disarm::normalise(&bundle).unwrap();
    let index = DisarmIndex::build(&objects).unwrap();
    let t0002 = index.technique("T0002").unwrap().stix_id.clone();
    let sub = index
        .techniques()
        .iter()
        .find(|t| t.parent.is_some())
        .unwrap()
        .clone();
    let parent = sub.parent.clone().unwrap();
    let rel = |id: &str, src: &str, tgt: &str, modified: &str, revoked: bool| {
        json!({"type": "relationship", "spec_version": "2.1", "id": id,
               "created": "2026-01-01T00:00:00.000Z", "modified": modified,
               "relationship_type": "uses", "source_ref": src, "target_ref": tgt,
               "revoked": revoked})
    };
    let inc_a = "incident--6b4a4c1b-3c1a-4f3e-9b4e-1a2b3c4d5e6f";
    let inc_b = "incident--7c5b5d2c-4d2b-4a4f-8c5f-2b3c4d5e6f70";
    objects.extend([
        rel(
            "relationship--0d7c3a51-8f0e-4b43-9d7a-3f0b5a6c7d81",
            inc_a,
            &t0002,
            "2026-01-01T00:00:00.000Z",
            false,
        ),
        // a newer version of the same relationship: counted once
        rel(
            "relationship--0d7c3a51-8f0e-4b43-9d7a-3f0b5a6c7d81",
            inc_a,
            &t0002,
            "2026-01-02T00:00:00.000Z",
            false,
        ),
        rel(
            "relationship--1e8d4b62-9f1f-4c54-8e8b-4a1c6b7d8e92",
            inc_b,
            &t0002,
            "2026-01-01T00:00:00.000Z",
            false,
        ),
        // revoked in its latest version: not counted
        rel(
            "relationship--2f9e5c73-a020-4d65-9f9c-5b2d7c8e9fa3",
            inc_b,
            &sub.stix_id,
            "2026-01-01T00:00:00.000Z",
            false,
        ),
        rel(
            "relationship--2f9e5c73-a020-4d65-9f9c-5b2d7c8e9fa3",
            inc_b,
            &sub.stix_id,
            "2026-01-03T00:00:00.000Z",
            true,
        ),
        rel(
            "relationship--3a0f6d84-b131-4e76-8a0d-6c3e8d9fa0b4",
            inc_a,
            &sub.stix_id,
            "2026-01-01T00:00:00.000Z",
            false,
        ),
        // an ATT&CK technique: ignored
        rel(
            "relationship--4b107e95-c242-4f87-9b1e-7d4f9e0ab1c5",
            inc_a,
            "attack-pattern--7e150503-88e7-4861-866b-ff1ac82c4475",
            "2026-01-01T00:00:00.000Z",
            false,
        ),
    ]);
    let m = Matrix::build(&index, &objects);
    assert_eq!(m.relationships_counted, 3);
    assert_eq!(m.relationships_ignored, 1);
    let cell = |id: &str| {
        m.tactics
            .iter()
            .flat_map(|c| &c.techniques)
            .find(|t| t.disarm_id == id)
            .unwrap()
            .clone()
    };
    assert_eq!(cell("T0002").uses, 2);
    assert_eq!(cell(&sub.disarm_id).uses, 1);
    assert_eq!(
        cell(&parent).uses_with_subtechniques,
        cell(&parent).uses.max(1)
    );
    let ta02 = m
        .tactics
        .iter()
        .find(|c| c.tactic.disarm_id == "TA02")
        .unwrap();
    assert_eq!(ta02.uses, 2);
    let text = m.render_text(true);
    assert!(text.contains("T0002"), "{text}");
    assert!(!text.contains("T0003 "), "{text}");
    let j = m.to_json();
    assert_eq!(j["tactics"].as_array().unwrap().len(), 16);
}
