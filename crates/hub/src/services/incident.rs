//! The incident workflow as service calls: a new incident with its victim and `targets`
//! relationships, and the steps that make a new version of the incident (an impact, an event
//! or a task in its sequences, a change of determination, status or criticality). Each step
//! writes the new object and the incident's next version together, all or nothing; the store's
//! producer rule refuses a step on another member's incident.

use std::collections::HashMap;

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
    Victims::index(objects).of(incident)
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

/// One incident as a row of a list: what the filters and the table need.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Investigation status.
    pub status: String,
    /// Determination.
    pub determination: String,
    /// Criticality 0–100.
    pub criticality: Option<u8>,
    /// The victims' NIS2 sectors, else STIX sectors (sorted, distinct).
    pub sectors: Vec<String>,
    /// The victims' countries (sorted, distinct).
    pub countries: Vec<String>,
    /// The victims' names.
    pub victims: Vec<String>,
    /// Whether the incident carries the FIMI extension.
    pub fimi: bool,
    /// `modified`, else `created`.
    pub modified: String,
    /// The producer's identity.
    pub created_by: String,
}

/// The sectors and country of a victim identity: NIS2 sector (else STIX sectors), country.
fn victim_facts(v: &Value) -> (Vec<String>, Option<String>) {
    let ci = v.pointer(&format!("/extensions/{}", coord::ext::CI_ENTITY));
    let nis2 = ci
        .and_then(|c| c.get("nis2_sector"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let sectors = match nis2 {
        Some(n) => vec![n],
        None => v
            .get("sectors")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    };
    let country = ci
        .and_then(|c| c.get("country"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    (sectors, country)
}

/// Every incident among `objects` (latest versions the member may see) as a row, most
/// critical first, then latest first.
pub fn rows(objects: &[Value]) -> Vec<Row> {
    rows_with(of_type(objects, "incident"), &Victims::index(objects))
}

/// [`rows`] with the victims' index of `objects` already built. A revoked incident (withdrawn
/// by its producer) is not listed.
pub(crate) fn rows_with<'a>(
    incidents: impl Iterator<Item = &'a Value>,
    victims: &Victims<'_>,
) -> Vec<Row> {
    let mut out: Vec<Row> = incidents
        .filter(|inc| inc.get("revoked").and_then(Value::as_bool) != Some(true))
        .map(|inc| {
            let core = inc.pointer(&format!("/extensions/{}", coord::ext::INCIDENT_CORE));
            let mut r = Row {
                id: s(inc, "id").to_owned(),
                name: s(inc, "name").to_owned(),
                status: core
                    .and_then(|c| c.get("investigation_status"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                determination: core
                    .and_then(|c| c.get("determination"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                criticality: core
                    .and_then(|c| c.get("criticality"))
                    .and_then(Value::as_u64)
                    .and_then(|c| u8::try_from(c).ok()),
                fimi: inc
                    .pointer(&format!("/extensions/{}", coord::ext::FIMI_INCIDENT))
                    .is_some(),
                modified: {
                    let m = s(inc, "modified");
                    if m.is_empty() { s(inc, "created") } else { m }.to_owned()
                },
                created_by: s(inc, "created_by_ref").to_owned(),
                ..Row::default()
            };
            for v in victims.of(inc) {
                let (sectors, country) = victim_facts(v);
                r.sectors.extend(sectors);
                r.countries.extend(country);
                r.victims.push(s(v, "name").to_owned());
            }
            r.sectors.sort();
            r.sectors.dedup();
            r.countries.sort();
            r.countries.dedup();
            r
        })
        .collect();
    out.sort_by(|a, b| {
        b.criticality
            .cmp(&a.criticality)
            .then_with(|| b.modified.cmp(&a.modified))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// One incident with what the member may see of everything linked to it.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The incident (latest visible version).
    pub incident: Value,
    /// Its row.
    pub row: Row,
    /// Victims (identities).
    pub victims: Vec<Value>,
    /// Impacts, in the incident's order.
    pub impacts: Vec<Value>,
    /// Events, in the incident's order, with whether each starts a sequence and the ids of the
    /// events it leads to.
    pub events: Vec<(Value, bool, Vec<String>)>,
    /// Tasks, likewise.
    pub tasks: Vec<(Value, bool, Vec<String>)>,
    /// Relationships from or to the incident: (relationship, the other end when visible).
    pub links: Vec<(Value, Option<Value>)>,
}

impl View {
    /// The other ends of `relationship_type` links of type `t`.
    pub fn linked(&self, t: &str) -> Vec<(&Value, &Value)> {
        self.links
            .iter()
            .filter_map(|(r, o)| o.as_ref().map(|o| (r, o)))
            .filter(|(_, o)| s(o, "type") == t)
            .collect()
    }
}

/// Incident `id` as `objects` (what the member sees) hold it; `None` when it is not there.
pub fn view_of(id: &str, objects: &[Value]) -> Option<View> {
    view_of_with(id, objects, &[])
}

/// [`view_of`], with `extra` objects (read by id: the ends of the incident's links that
/// `objects` does not hold) to find its linked objects among too.
pub fn view_of_with(id: &str, objects: &[Value], extra: &[Value]) -> Option<View> {
    let inc = of_type(objects, "incident").find(|o| s(o, "id") == id)?;
    let by_id = |x: &str| objects.iter().chain(extra).find(|o| s(o, "id") == x);
    let core = inc.pointer(&format!("/extensions/{}", coord::ext::INCIDENT_CORE));
    let ids = |k: &str| -> Vec<String> {
        core.and_then(|c| c.get(k))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let seq = |list: &str, key: &str| sequence(core, list, key, &by_id);
    let impacts = ids("impact_refs")
        .iter()
        .filter_map(|i| by_id(i))
        .cloned()
        .collect();
    let links = of_type(objects, "relationship")
        .filter(|r| s(r, "source_ref") == id || s(r, "target_ref") == id)
        .map(|r| {
            let other = if s(r, "source_ref") == id {
                s(r, "target_ref")
            } else {
                s(r, "source_ref")
            };
            (r.clone(), by_id(other).cloned())
        })
        .collect();
    let row = rows(objects)
        .into_iter()
        .find(|x| x.id == id)
        .unwrap_or_default();
    Some(View {
        incident: inc.clone(),
        row,
        victims: victims_of(inc, objects).into_iter().cloned().collect(),
        impacts,
        events: seq("events", "event_ref"),
        tasks: seq("tasks", "task_ref"),
        links,
    })
}

/// The entries of the Incident Core list `list` (events or tasks) whose `key` names an object
/// `by_id` finds: each object with whether a sequence starts there and its next steps.
fn sequence<'a>(
    core: Option<&Value>,
    list: &str,
    key: &str,
    by_id: &dyn Fn(&str) -> Option<&'a Value>,
) -> Vec<(Value, bool, Vec<String>)> {
    core.and_then(|c| c.get(list))
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| {
                    let o = by_id(s(e, key))?;
                    let start = e
                        .get("sequence_start")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    let next = e
                        .get("next_steps")
                        .and_then(Value::as_array)
                        .map(|n| n.iter().map(|st| s(st, key).to_owned()).collect())
                        .unwrap_or_default();
                    Some((o.clone(), start, next))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// [`view_of_with`] over an indexed view: the incident's linked objects are looked up by id and
/// its links by endpoint instead of by going over every object.
pub fn view_in(id: &str, view: &super::coordview::CoordView, extra: &[Value]) -> Option<View> {
    let inc = view.get(id).filter(|o| s(o, "type") == "incident")?;
    let by_id = |x: &str| {
        view.get(x)
            .or_else(|| extra.iter().find(|o| s(o, "id") == x))
    };
    let core = inc.pointer(&format!("/extensions/{}", coord::ext::INCIDENT_CORE));
    let seq = |list: &str, key: &str| sequence(core, list, key, &by_id);
    let impacts = core
        .and_then(|c| c.get("impact_refs"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(by_id)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let links = view
        .links(id)
        .map(|r| {
            let other = if s(r, "source_ref") == id {
                s(r, "target_ref")
            } else {
                s(r, "source_ref")
            };
            (r.clone(), by_id(other).cloned())
        })
        .collect();
    let row = view
        .incident_rows()
        .iter()
        .find(|x| x.id == id)
        .cloned()
        .unwrap_or_default();
    Some(View {
        incident: inc.clone(),
        row,
        victims: view.victims(id).into_iter().cloned().collect(),
        impacts,
        events: seq("events", "event_ref"),
        tasks: seq("tasks", "task_ref"),
        links,
    })
}

/// The objects an incident's victims are found by, indexed once (what
/// [`victims_of`] reads, without going over every relationship per incident).
pub(crate) struct Victims<'a> {
    /// `targets` relationships' target ids by source id.
    targets: HashMap<&'a str, Vec<&'a str>>,
    /// Impacts by id.
    impacts: HashMap<&'a str, &'a Value>,
    /// Identities by id, the first of each id, with its place among the objects.
    identities: HashMap<&'a str, (usize, &'a Value)>,
}

impl<'a> Victims<'a> {
    pub(crate) fn index(objects: &'a [Value]) -> Victims<'a> {
        Victims::of_parts(
            of_type(objects, "relationship")
                .filter(|r| s(r, "relationship_type") == "targets")
                .map(|r| (s(r, "source_ref"), s(r, "target_ref"))),
            of_type(objects, "impact"),
            of_type(objects, "identity"),
        )
    }

    /// The index of `targets` relationships (source, target), impacts and identities (each in
    /// the objects' order).
    pub(crate) fn of_parts(
        targeting: impl Iterator<Item = (&'a str, &'a str)>,
        impacts: impl Iterator<Item = &'a Value>,
        identity_objects: impl Iterator<Item = &'a Value>,
    ) -> Victims<'a> {
        let mut targets: HashMap<&str, Vec<&str>> = HashMap::new();
        for (src, tgt) in targeting {
            targets.entry(src).or_default().push(tgt);
        }
        let impacts = impacts.map(|i| (s(i, "id"), i)).collect();
        let mut identities = HashMap::new();
        for (i, o) in identity_objects.enumerate() {
            identities.entry(s(o, "id")).or_insert((i, o));
        }
        Victims {
            targets,
            impacts,
            identities,
        }
    }

    /// The victims of `incident`: the identities its `targets` relationships and its impacts'
    /// `impacted_refs` name, each once, in the objects' order.
    pub(crate) fn of(&self, incident: &Value) -> Vec<&'a Value> {
        let mut ids: Vec<&str> = self
            .targets
            .get(s(incident, "id"))
            .cloned()
            .unwrap_or_default();
        let impact_refs = incident
            .pointer(&format!(
                "/extensions/{}/impact_refs",
                coord::ext::INCIDENT_CORE
            ))
            .and_then(Value::as_array);
        for r in impact_refs.into_iter().flatten().filter_map(Value::as_str) {
            if let Some(refs) = self
                .impacts
                .get(r)
                .and_then(|i| i.get("impacted_refs"))
                .and_then(Value::as_array)
            {
                ids.extend(refs.iter().filter_map(Value::as_str));
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut found: Vec<(usize, &'a Value)> = ids
            .into_iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| self.identities.get(id).copied())
            .collect();
        found.sort_by_key(|(i, _)| *i);
        found.into_iter().map(|(_, o)| o).collect()
    }
}
