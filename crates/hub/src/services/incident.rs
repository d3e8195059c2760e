//! The incident workflow as service calls: a new incident with its victim and `targets`
//! relationships, and the steps that make a new version of the incident (an impact, an event
//! or a task in its sequences, a change of determination, status or criticality). Each step
//! writes the new object and the incident's next version together, all or nothing; the store's
//! producer rule refuses a step on another member's incident.

use coord::incident::{Determination, Event, Impact, Incident, IncidentCore, Task};
use coord::sector::Victim;
use serde_json::{Map, Value, json};

use super::{
    ServiceError,
    assist::Written,
    member::{MemberService, next_version_time, of_type, s},
};
use crate::coalition::Collection;

/// A new incident.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// A new victim to create (an `identity` with sectors), targeted by the incident.
    pub victim: Option<Victim>,
    /// Existing victims (identities) targeted by the incident.
    pub victim_ids: Vec<String>,
    /// The Incident Core body.
    pub core: IncidentCore,
}

/// Writes a new incident (and its new victim, and a `targets` relationship to each victim)
/// into `coll`, marked `marking`, all or nothing.
pub async fn new_incident(
    m: &MemberService,
    coll: &Collection,
    marking: &str,
    a: NewIncident,
) -> Result<Written, ServiceError> {
    let mut objects = Vec::new();
    let mut victims = a.victim_ids.clone();
    if let Some(v) = a.victim {
        let victim = v.build(&m.common(marking))?;
        victims.push(s(&victim, "id").to_owned());
        objects.push(victim);
    }
    let incident = Incident {
        name: a.name,
        description: a.description,
        core: a.core,
        fimi: None,
    }
    .build(&m.common(marking))?;
    let iid = s(&incident, "id").to_owned();
    objects.insert(0, incident);
    for v in &victims {
        objects.push(coord::object::relationship(
            &m.common(marking),
            "targets",
            &iid,
            v,
        )?);
    }
    let outcomes = m.write(coll, &objects).await?;
    Ok(Written { objects, outcomes })
}

/// The victims of an incident among `objects`: `targets` relationships from it and the
/// `impacted_refs` of its impacts (identities only).
pub fn victims_of<'a>(incident: &Value, objects: &'a [Value]) -> Vec<&'a Value> {
    let id = s(incident, "id");
    let impact_refs: Vec<&str> = incident
        .pointer(&format!(
            "/extensions/{}/impact_refs",
            coord::ext::INCIDENT_CORE
        ))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut ids: Vec<&str> = of_type(objects, "relationship")
        .filter(|r| s(r, "source_ref") == id && s(r, "relationship_type") == "targets")
        .map(|r| s(r, "target_ref"))
        .collect();
    for imp in of_type(objects, "impact").filter(|i| impact_refs.contains(&s(i, "id"))) {
        if let Some(refs) = imp.get("impacted_refs").and_then(Value::as_array) {
            ids.extend(refs.iter().filter_map(Value::as_str));
        }
    }
    let mut out: Vec<&Value> = Vec::new();
    for o in of_type(objects, "identity") {
        if ids.contains(&s(o, "id")) && !out.iter().any(|x| s(x, "id") == s(o, "id")) {
            out.push(o);
        }
    }
    out
}

/// The current version of incident `id` the member may see, and its collection.
async fn current_incident(
    m: &MemberService,
    id: &str,
) -> Result<(Value, Collection), ServiceError> {
    let (current, coll) = m.find(id).await?;
    if s(&current, "type") != "incident" {
        return Err(ServiceError::Usage(format!("{id}: not an incident")));
    }
    Ok((current, coll))
}

/// A new version of `current` with its Incident Core body changed by `f`.
fn with_core(
    current: &Value,
    f: impl FnOnce(&mut Map<String, Value>) -> Result<(), ServiceError>,
) -> Result<Value, ServiceError> {
    let mut next = current.clone();
    let core = next
        .pointer_mut(&format!("/extensions/{}", coord::ext::INCIDENT_CORE))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ServiceError::Usage("the incident has no Incident Core extension".into()))?;
    f(core)?;
    next["modified"] = json!(next_version_time(current).to_string());
    // The new version must still be a valid Incident Core incident.
    Incident::read(&next)
        .map_err(|e| ServiceError::Usage(format!("the new version does not read back: {e}")))?;
    Ok(next)
}

/// Adds an impact to incident `id` (affecting the incident's victims unless the impact names
/// what it affects): the impact and the incident's next version, which lists it.
pub async fn add_impact(
    m: &MemberService,
    id: &str,
    marking: &str,
    mut impact: Impact,
) -> Result<Written, ServiceError> {
    let (current, coll) = current_incident(m, id).await?;
    if impact.impacted_refs.is_empty() {
        let objects = m.view(std::slice::from_ref(&coll), false).await?;
        impact.impacted_refs = victims_of(&current, &objects)
            .iter()
            .map(|v| s(v, "id").to_owned())
            .collect();
    }
    let impact = impact.build(&m.common(marking))?;
    let next = with_core(&current, |core| {
        let refs = core
            .entry("impact_refs")
            .or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(list) = refs {
            list.push(impact["id"].clone());
        }
        Ok(())
    })?;
    let objects = vec![impact, next];
    let outcomes = m.write(&coll, &objects).await?;
    Ok(Written { objects, outcomes })
}

/// Appends `{ref_key: new}` to the core's `list` (`events` or `tasks`); with `after`, the entry
/// of `after` gains a step to it (required, on completion) and the new entry does not start a
/// sequence.
fn append_entry(
    core: &mut Map<String, Value>,
    list: &str,
    ref_key: &str,
    new: &Value,
    after: Option<&str>,
) -> Result<(), ServiceError> {
    let entries = core
        .entry(list)
        .or_insert_with(|| Value::Array(vec![]))
        .as_array_mut()
        .ok_or_else(|| ServiceError::Usage(format!("the incident's `{list}` is not a list")))?;
    let mut entry = json!({ ref_key: new.clone() });
    if let Some(prev) = after {
        let Some(p) = entries.iter_mut().find(|e| e[ref_key] == prev) else {
            return Err(ServiceError::Usage(format!(
                "--after {prev}: not in this incident's {list}"
            )));
        };
        let step = json!({ ref_key: new.clone(), "condition_type": "required", "transition_type": "completion" });
        match p.get_mut("next_steps").and_then(Value::as_array_mut) {
            Some(steps) => steps.push(step),
            None => p["next_steps"] = json!([step]),
        }
        entry["sequence_start"] = json!(false);
    }
    entries.push(entry);
    Ok(())
}

/// Stores `object` (an `event` or `task`) with a new version of incident `id` that lists it.
async fn add_to_sequence(
    m: &MemberService,
    id: &str,
    object: Value,
    list: &str,
    ref_key: &str,
    after: Option<&str>,
) -> Result<Written, ServiceError> {
    let (current, coll) = current_incident(m, id).await?;
    let next = with_core(&current, |core| {
        append_entry(core, list, ref_key, &object["id"], after)
    })?;
    let objects = vec![object, next];
    let outcomes = m.write(&coll, &objects).await?;
    Ok(Written { objects, outcomes })
}

/// Adds an event to incident `id`'s sequence (after event `after`, when given).
pub async fn add_event(
    m: &MemberService,
    id: &str,
    marking: &str,
    event: Event,
    after: Option<&str>,
) -> Result<Written, ServiceError> {
    let event = event.build(&m.common(marking))?;
    add_to_sequence(m, id, event, "events", "event_ref", after).await
}

/// Adds a task to incident `id`'s sequence (after task `after`, when given).
pub async fn add_task(
    m: &MemberService,
    id: &str,
    marking: &str,
    task: Task,
    after: Option<&str>,
) -> Result<Written, ServiceError> {
    let task = task.build(&m.common(marking))?;
    add_to_sequence(m, id, task, "tasks", "task_ref", after).await
}

/// A change of an incident's determination, investigation status or criticality.
#[derive(Debug, Clone, Default)]
pub struct Update {
    /// The new determination.
    pub determination: Option<Determination>,
    /// The new investigation status.
    pub status: Option<String>,
    /// The new criticality, 0–100.
    pub criticality: Option<u8>,
}

/// Writes incident `id`'s next version with the changes of `u`.
pub async fn update(m: &MemberService, id: &str, u: &Update) -> Result<Written, ServiceError> {
    let (current, coll) = m.find(id).await?;
    let next = with_core(&current, |core| {
        if let Some(d) = &u.determination {
            core.insert("determination".into(), json!(d));
        }
        if let Some(st) = &u.status {
            core.insert("investigation_status".into(), json!(st));
        }
        if let Some(c) = u.criticality {
            if c > 100 {
                return Err(ServiceError::Usage("--criticality must be 0–100".into()));
            }
            core.insert("criticality".into(), json!(c));
        }
        Ok(())
    })?;
    let objects = vec![next];
    let outcomes = m.write(&coll, &objects).await?;
    Ok(Written { objects, outcomes })
}
