//! Incidents on critical infrastructure with the OASIS Incident Extension Suite: the Incident
//! Core property-extension (`extension-definition--ef765651-…`, version 2.0.0) on `incident`,
//! and its `event`, `impact` and `task` objects (new SDOs).
//!
//! Strict writer: the newest spec forms (`<category>-ext` impact extension keys,
//! `impacted_entity_counts` as a dictionary, plain `incident-score` items, the spec prose's
//! determination values) and every rule the spec text states (0–100 ranges, `end_time` not
//! before `start_time`, `superseded_by_ref` needs `end_time`, `min_amount` with `max_amount`,
//! `conversion_rate` with `conversion_time`, `information_type`/`asset_type` unless the loss is
//! `none`, state-change refs of one type, sequences that refer only to their own list).
//!
//! Tolerant reader: the forms the suite's own examples use and disagree on — bare category keys
//! (`monetary`) beside `monetary-ext`, `impact_category` with or without `-ext`,
//! `impacted_entity_counts` as a list of `{entity_type, count}` or one such object, bare
//! `event_refs`/`task_refs` instead of `events`/`tasks` sequences, scores wrapped in
//! `{"incident-score": …}`, state changes wrapped in `{"state_change": …}`, the schema's
//! determination values (`successful-attempt`, `low-value`) beside the prose's, and OpenCTI's
//! real-world `event` (`stop_time`, no `status`) — each accepted with a warning.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use stix::Timestamp;
use stix::id::Identifier;

use crate::error::{BuildError, ReadError};
use crate::ext;
use crate::fimi::FimiExtension;
use crate::object::{
    self, Common, Read, check_order, check_percent, check_ref, check_refs, expect_type, new_object,
};

/// `incident-determination-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Determination {
    /// The attack was blocked.
    Blocked,
    /// Confirmed.
    Confirmed,
    /// The attempt failed.
    FailedAttempt,
    /// Not an incident.
    FalsePositive,
    /// Not worth investigating.
    LowValue,
    /// Not researched yet (the default).
    Suspected,
}

/// `recoverability-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Recoverability {
    Extended,
    NotApplicable,
    NotRecoverable,
    Regular,
    Supplemented,
}

/// `timestamp-fidelity-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Fidelity {
    Day,
    Hour,
    Minute,
    Month,
    Second,
    Year,
}

/// `activity-condition-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Condition {
    Optional,
    Required,
    Unknown,
}

/// `activity-transition-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Transition {
    Completion,
    Failure,
    Success,
    Unknown,
}

/// A step to another event after this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventStep {
    /// The next `event`.
    pub event_ref: String,
    /// Required or optional.
    pub condition_type: Condition,
    /// When the step is taken.
    pub transition_type: Transition,
}

/// `event-entry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEntry {
    /// The `event`.
    pub event_ref: String,
    /// What follows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_steps: Vec<EventStep>,
    /// Whether a sequence starts here (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_start: Option<bool>,
}

/// A step to another task after this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStep {
    /// The next `task`.
    pub task_ref: String,
    /// Required or optional.
    pub condition_type: Condition,
    /// When the step is taken.
    pub transition_type: Transition,
}

/// `task-entry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEntry {
    /// The `task`.
    pub task_ref: String,
    /// What follows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_steps: Vec<TaskStep>,
    /// Whether a sequence starts here (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_start: Option<bool>,
}

/// `incident-score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Name of the scoring system.
    pub name: String,
    /// The score.
    pub value: f64,
    /// What it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `state-change`: how an event or task changed another object (e.g. mitigated an impact).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// Open vocabulary `state-change-type-ov` (`caused`, `mitigated`, `resolved`, …).
    pub state_change_type: String,
    /// The object before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_ref: Option<String>,
    /// The object after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_ref: Option<String>,
}

/// Entity counts: `entity-type-ov` → count. Absent means "not shared", not zero.
pub type EntityCounts = BTreeMap<String, u64>;

/// The Incident Core property-extension (body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentCore {
    /// Required.
    pub determination: Determination,
    /// Required; open vocabulary `incident-investigation-ov` (`new`, `open`, `closed`).
    pub investigation_status: String,
    /// 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality: Option<u8>,
    /// Open vocabulary `detection-methods-ov`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detection_methods: Vec<String>,
    /// Event sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventEntry>,
    /// The `impact`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub impact_refs: Vec<String>,
    /// Impacted entities by type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub impacted_entity_counts: EntityCounts,
    /// Open vocabulary `event-type-ov` (plus Shieldwall's `fimi`, `disinformation`,
    /// `hack-and-leak`, `hybrid`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incident_types: Vec<String>,
    /// Recoverability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recoverability: Option<Recoverability>,
    /// Scores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<Score>,
    /// Task sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskEntry>,
}

impl IncidentCore {
    /// A new incident: `suspected`, investigation `new`.
    pub fn new() -> IncidentCore {
        IncidentCore {
            determination: Determination::Suspected,
            investigation_status: "new".into(),
            criticality: None,
            detection_methods: Vec::new(),
            events: Vec::new(),
            impact_refs: Vec::new(),
            impacted_entity_counts: EntityCounts::new(),
            incident_types: Vec::new(),
            recoverability: None,
            scores: Vec::new(),
            tasks: Vec::new(),
        }
    }

    fn check(&self) -> Result<(), BuildError> {
        const T: &str = "incident";
        if self.investigation_status.trim().is_empty() {
            return Err(BuildError::Missing {
                object: T,
                property: "investigation_status",
            });
        }
        check_percent(T, "criticality", self.criticality)?;
        check_refs(T, "impact_refs", &self.impact_refs, &["impact"])?;
        let events: Vec<&str> = self.events.iter().map(|e| e.event_ref.as_str()).collect();
        for e in &self.events {
            check_ref(T, "events", &e.event_ref, &["event"])?;
            for s in &e.next_steps {
                check_ref(T, "events", &s.event_ref, &["event"])?;
                if !events.contains(&s.event_ref.as_str()) {
                    return Err(BuildError::invalid(
                        T,
                        "events",
                        format!("next step {} is not an entry of the same list", s.event_ref),
                    ));
                }
            }
        }
        let tasks: Vec<&str> = self.tasks.iter().map(|e| e.task_ref.as_str()).collect();
        for e in &self.tasks {
            check_ref(T, "tasks", &e.task_ref, &["task"])?;
            for s in &e.next_steps {
                check_ref(T, "tasks", &s.task_ref, &["task"])?;
                if !tasks.contains(&s.task_ref.as_str()) {
                    return Err(BuildError::invalid(
                        T,
                        "tasks",
                        format!("next step {} is not an entry of the same list", s.task_ref),
                    ));
                }
            }
        }
        if self
            .scores
            .iter()
            .any(|s| !s.value.is_finite() || s.name.is_empty())
        {
            return Err(BuildError::invalid(
                T,
                "scores",
                "need a name and a finite value",
            ));
        }
        Ok(())
    }

    /// The extension body (strict).
    pub fn body(&self) -> Result<Value, BuildError> {
        self.check()?;
        object::extension_body("incident", "property-extension", self)
    }

    /// Reads the body tolerantly (see the module documentation).
    pub fn read_body(body: &Map<String, Value>) -> Result<(IncidentCore, Vec<String>), ReadError> {
        let mut warnings = Vec::new();
        let mut b = body.clone();
        if let Some(Value::String(d)) = b.get("determination")
            && d == "successful-attempt"
        {
            warnings.push(
                "determination `successful-attempt` (schema-only value) read as `confirmed`".into(),
            );
            b.insert("determination".into(), json!("confirmed"));
        }
        fix_entity_counts(&mut b, &mut warnings)?;
        // Some versions of the suite's schema list bare `event_refs` / `task_refs` instead of
        // `events` / `tasks` sequences: each becomes an entry of its own.
        for (refs, list, key) in [
            ("event_refs", "events", "event_ref"),
            ("task_refs", "tasks", "task_ref"),
        ] {
            if let Some(Value::Array(ids)) = b.remove(refs)
                && !b.contains_key(list)
            {
                warnings.push(format!("{refs} read as {list} entries"));
                let entries: Vec<Value> = ids.into_iter().map(|id| json!({ key: id })).collect();
                b.insert(list.into(), Value::Array(entries));
            }
        }
        if let Some(Value::Array(scores)) = b.get_mut("scores") {
            for s in scores.iter_mut() {
                let inner = s.as_object().and_then(|o| {
                    (o.len() == 1)
                        .then(|| o.get("incident-score").cloned())
                        .flatten()
                });
                if let Some(inner) = inner {
                    warnings.push("score wrapped in {\"incident-score\": …} unwrapped".into());
                    *s = inner;
                }
            }
        }
        let core: IncidentCore = object::body(&b)?;
        Ok((core, warnings))
    }
}

impl Default for IncidentCore {
    fn default() -> Self {
        IncidentCore::new()
    }
}

/// `impacted_entity_counts` as a list of `{entity_type, count}` (an upstream example) becomes the
/// dictionary the spec defines.
fn fix_entity_counts(
    b: &mut Map<String, Value>,
    warnings: &mut Vec<String>,
) -> Result<(), ReadError> {
    for key in ["impacted_entity_counts", "impact_entity_counts"] {
        let Some(v) = b.remove(key) else { continue };
        if key == "impact_entity_counts" {
            warnings.push("impact_entity_counts (spec typo) read as impacted_entity_counts".into());
        }
        // One `entity_count` object (a schema version's form) is a list of one.
        let v = match v {
            Value::Object(o) if o.contains_key("entity_type") && o.contains_key("count") => {
                warnings.push("impacted_entity_counts as one {entity_type, count} object read as a dictionary".into());
                Value::Array(vec![Value::Object(o)])
            }
            other => other,
        };
        let dict = match v {
            Value::Array(items) => {
                warnings.push("impacted_entity_counts as a list read as a dictionary".into());
                let mut d = Map::new();
                for (i, item) in items.iter().enumerate() {
                    let (Some(t), Some(c)) = (
                        item.get("entity_type").and_then(Value::as_str),
                        item.get("count").and_then(Value::as_u64),
                    ) else {
                        return Err(ReadError::Invalid {
                            property: format!("/{key}/{i}"),
                            reason: "expected {entity_type, count}".into(),
                        });
                    };
                    d.insert(t.into(), json!(c));
                }
                Value::Object(d)
            }
            other => other,
        };
        b.insert("impacted_entity_counts".into(), dict);
    }
    Ok(())
}

/// `{"state_change": {...}}` (an upstream example) becomes the plain state change.
fn fix_state_changes(b: &mut Map<String, Value>, warnings: &mut Vec<String>) {
    if let Some(Value::Array(items)) = b.get_mut("changed_objects") {
        for item in items.iter_mut() {
            let inner = item.as_object().and_then(|o| {
                (o.len() == 1)
                    .then(|| o.get("state_change").cloned())
                    .flatten()
            });
            if let Some(inner) = inner {
                warnings.push("state change wrapped in {\"state_change\": …} unwrapped".into());
                *item = inner;
            }
        }
    }
}

fn check_state_changes(object: &'static str, changes: &[StateChange]) -> Result<(), BuildError> {
    for c in changes {
        if c.state_change_type.is_empty() {
            return Err(BuildError::Missing {
                object,
                property: "changed_objects.state_change_type",
            });
        }
        let refs: Vec<&String> = c.initial_ref.iter().chain(&c.result_ref).collect();
        if refs.is_empty() {
            return Err(BuildError::invalid(
                object,
                "changed_objects",
                "a state change needs initial_ref or result_ref",
            ));
        }
        let mut types = Vec::new();
        for r in refs {
            match Identifier::parse(r) {
                Some(id) => types.push(id.object_type),
                None => {
                    return Err(BuildError::invalid(
                        object,
                        "changed_objects",
                        format!("`{r}` is not a STIX identifier"),
                    ));
                }
            }
        }
        if types.windows(2).any(|w| w[0] != w[1]) {
            return Err(BuildError::invalid(
                object,
                "changed_objects",
                "initial_ref and result_ref must refer to the same object type",
            ));
        }
    }
    Ok(())
}

/// An `incident` with the Incident Core extension and, for FIMI, the FIMI extension.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Required.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Incident Core.
    pub core: IncidentCore,
    /// FIMI extension (for FIMI and hybrid incidents).
    pub fimi: Option<FimiExtension>,
}

impl Incident {
    /// Writes the incident (strict).
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        const T: &str = "incident";
        if self.name.trim().is_empty() {
            return Err(BuildError::Missing {
                object: T,
                property: "name",
            });
        }
        let mut m = common.sdo(T)?;
        m.insert("name".into(), json!(self.name));
        object::put(&mut m, "description", &self.description);
        let mut exts = Map::new();
        exts.insert(ext::INCIDENT_CORE.into(), self.core.body()?);
        if let Some(f) = &self.fimi {
            exts.insert(ext::FIMI_INCIDENT.into(), f.body()?);
        }
        m.insert("extensions".into(), Value::Object(exts));
        Ok(Value::Object(m))
    }

    /// Reads an incident with the Incident Core extension (tolerantly).
    pub fn read(value: &Value) -> Result<Read<Incident>, ReadError> {
        let map = expect_type(value, "incident")?;
        let core = object::extension(map, ext::INCIDENT_CORE)
            .ok_or_else(|| ReadError::Missing(format!("extensions/{}", ext::INCIDENT_CORE)))?;
        let (core, warnings) = IncidentCore::read_body(core)?;
        Ok(Read {
            header: object::header(map)?,
            body: Incident {
                name: object::req_str(map, "name")?,
                description: object::opt_str(map, "description")?,
                core,
                fimi: FimiExtension::read(value)?,
            },
            warnings,
        })
    }
}

/// `event-status-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum EventStatus {
    Ongoing,
    Occurred,
    NotOccurred,
    Pending,
    Undetermined,
}

/// An `event` (OASIS, new SDO).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Required.
    pub status: EventStatus,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The attacker's goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
    /// Open vocabulary `event-type-ov`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<String>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// Fidelity of the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_fidelity: Option<Fidelity>,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// Fidelity of the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time_fidelity: Option<Fidelity>,
    /// Evidence (`sighting`s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sighting_refs: Vec<String>,
    /// State changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_objects: Vec<StateChange>,
    /// Sub-events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subevents: Vec<EventEntry>,
}

impl Event {
    /// The STIX type.
    pub const TYPE: &'static str = "event";

    /// An event with only the status set.
    pub fn new(status: EventStatus) -> Event {
        Event {
            status,
            name: None,
            description: None,
            goal: None,
            event_types: Vec::new(),
            start_time: None,
            start_time_fidelity: None,
            end_time: None,
            end_time_fidelity: None,
            sighting_refs: Vec::new(),
            changed_objects: Vec::new(),
            subevents: Vec::new(),
        }
    }

    /// Writes the object (strict).
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        const T: &str = Event::TYPE;
        check_order(
            T,
            self.start_time.as_ref(),
            self.end_time.as_ref(),
            "end_time",
        )?;
        check_refs(T, "sighting_refs", &self.sighting_refs, &["sighting"])?;
        check_state_changes(T, &self.changed_objects)?;
        for e in &self.subevents {
            check_ref(T, "subevents", &e.event_ref, &["event"])?;
        }
        Ok(Value::Object(new_object(
            T,
            ext::EVENT,
            self,
            common,
            false,
        )?))
    }

    /// Reads an OASIS event (tolerantly). Without `status`, see [`Event::read_at`].
    pub fn read(value: &Value) -> Result<Read<Event>, ReadError> {
        let map = expect_type(value, Self::TYPE)?;
        let mut warnings = Vec::new();
        let mut b = map.clone();
        fix_state_changes(&mut b, &mut warnings);
        Ok(Read {
            header: object::header(map)?,
            body: object::body(&b)?,
            warnings,
        })
    }

    /// Reads an event that may be OpenCTI's real-world event (`stop_time`, no `status`):
    /// `stop_time` becomes `end_time` and the status is derived from the times at `now`
    /// (`pending` before the start, `ongoing` until the end, `occurred` after).
    pub fn read_at(value: &Value, now: Timestamp) -> Result<Read<Event>, ReadError> {
        let map = expect_type(value, Self::TYPE)?;
        if map.contains_key("status") {
            return Event::read(value);
        }
        let mut b = map.clone();
        let mut warnings = vec![
            "event without status (OpenCTI real-world event) read as an OASIS event".to_owned(),
        ];
        if let Some(stop) = b.remove("stop_time") {
            b.entry("end_time").or_insert(stop);
        }
        let start = object::opt_ts(&b, "start_time")?;
        let end = object::opt_ts(&b, "end_time")?;
        let status = match (start, end) {
            (Some(s), _) if now < s => EventStatus::Pending,
            (_, Some(e)) if now >= e => EventStatus::Occurred,
            (Some(_), _) => EventStatus::Ongoing,
            (None, None) => EventStatus::Undetermined,
            (None, Some(_)) => EventStatus::Ongoing,
        };
        warnings.push(format!("status derived from the times: {status:?}"));
        b.insert("status".into(), json!(status));
        fix_state_changes(&mut b, &mut warnings);
        Ok(Read {
            header: object::header(map)?,
            body: object::body(&b)?,
            warnings,
        })
    }
}

/// `task-outcome-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum TaskOutcome {
    Cancelled,
    Failed,
    Ongoing,
    Pending,
    Successful,
    Unknown,
}

/// A `task` (OASIS, new SDO): e.g. the delivery of assistance (`task_types:
/// ["external-support"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Required.
    pub outcome: TaskOutcome,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Open vocabulary `task-type-ov`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_types: Vec<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// Fidelity of the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_fidelity: Option<Fidelity>,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// Fidelity of the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time_fidelity: Option<Fidelity>,
    /// Entities affected (e.g. notified victims).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub impacted_entity_counts: EntityCounts,
    /// 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// State changes (e.g. `mitigated` an impact).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_objects: Vec<StateChange>,
    /// Sub-tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtasks: Vec<TaskEntry>,
}

impl Task {
    /// The STIX type.
    pub const TYPE: &'static str = "task";

    /// A task with only the outcome set.
    pub fn new(outcome: TaskOutcome) -> Task {
        Task {
            outcome,
            name: None,
            description: None,
            task_types: Vec::new(),
            error: None,
            start_time: None,
            start_time_fidelity: None,
            end_time: None,
            end_time_fidelity: None,
            impacted_entity_counts: EntityCounts::new(),
            priority: None,
            changed_objects: Vec::new(),
            subtasks: Vec::new(),
        }
    }

    /// Writes the object (strict).
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        const T: &str = Task::TYPE;
        check_order(
            T,
            self.start_time.as_ref(),
            self.end_time.as_ref(),
            "end_time",
        )?;
        check_percent(T, "priority", self.priority)?;
        check_state_changes(T, &self.changed_objects)?;
        for e in &self.subtasks {
            check_ref(T, "subtasks", &e.task_ref, &["task"])?;
        }
        Ok(Value::Object(new_object(
            T,
            ext::TASK,
            self,
            common,
            false,
        )?))
    }

    /// Reads a task (tolerantly).
    pub fn read(value: &Value) -> Result<Read<Task>, ReadError> {
        let map = expect_type(value, Self::TYPE)?;
        let mut warnings = Vec::new();
        let mut b = map.clone();
        fix_state_changes(&mut b, &mut warnings);
        fix_entity_counts(&mut b, &mut warnings)?;
        Ok(Read {
            header: object::header(map)?,
            body: object::body(&b)?,
            warnings,
        })
    }
}

/// `incident-confidentiality-loss-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum LossType {
    ConfirmedLoss,
    Contained,
    ExploitedLoss,
    None,
    SuspectedLoss,
}

/// `integrity-alteration-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Alteration {
    PotentialDestruction,
    PotentialModification,
    PartialDestruction,
    PartialModification,
    FullDestruction,
    FullModification,
    None,
}

/// `physical-impact-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum PhysicalImpact {
    DamagedFunctional,
    DamagedNonfunctional,
    Destruction,
    None,
    Unknown,
}

/// `traceability-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Traceability {
    AccountabilityLost,
    PartialAccountability,
    ProvableAccountability,
}

/// The category extension of an impact: exactly one per impact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImpactDetail {
    /// `availability-ext`.
    Availability {
        /// 0–100 (Appendix A: 75 = significant impact to critical services, 90 = denial).
        availability_impact: u8,
    },
    /// `confidentiality-ext`.
    Confidentiality {
        /// Required.
        loss_type: LossType,
        /// `information-type-ov`; required unless `loss_type` is `none`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        information_type: Option<String>,
        /// Records lost.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record_count: Option<u64>,
        /// Bytes lost.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record_size: Option<u64>,
    },
    /// `external-ext`.
    External {
        /// `external-impact-ov` (`public-safety`, `economic`, `public-confidence`, …).
        impact_type: String,
    },
    /// `integrity-ext`.
    Integrity {
        /// Required.
        alteration: Alteration,
        /// `information-type-ov`; required unless `alteration` is `none`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        information_type: Option<String>,
        /// Records altered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record_count: Option<u64>,
        /// Bytes altered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record_size: Option<u64>,
    },
    /// `monetary-ext`.
    Monetary {
        /// `monetary-impact-type-ov`.
        variety: String,
        /// ISO 4217 (or crypto) code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<String>,
        /// The currency actually used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency_actual: Option<String>,
        /// Rate from `currency_actual` (> 0; needs `conversion_time`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversion_rate: Option<f64>,
        /// When the rate applied.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversion_time: Option<Timestamp>,
        /// Minimum (with `max_amount`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_amount: Option<f64>,
        /// Maximum (with `min_amount`, ≥ it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_amount: Option<f64>,
    },
    /// `physical-ext`.
    Physical {
        /// Required.
        impact_type: PhysicalImpact,
        /// `asset-type-ov`; required unless `impact_type` is `none`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        asset_type: Option<String>,
    },
    /// `traceability-ext`.
    Traceability {
        /// Required.
        traceability_impact: Traceability,
    },
}

/// The impact categories, as `impact_category` names them.
pub const IMPACT_CATEGORIES: [&str; 7] = [
    "availability",
    "confidentiality",
    "external",
    "integrity",
    "monetary",
    "physical",
    "traceability",
];

impl ImpactDetail {
    /// The `impact_category` (without `-ext`).
    pub fn category(&self) -> &'static str {
        match self {
            ImpactDetail::Availability { .. } => "availability",
            ImpactDetail::Confidentiality { .. } => "confidentiality",
            ImpactDetail::External { .. } => "external",
            ImpactDetail::Integrity { .. } => "integrity",
            ImpactDetail::Monetary { .. } => "monetary",
            ImpactDetail::Physical { .. } => "physical",
            ImpactDetail::Traceability { .. } => "traceability",
        }
    }

    fn check(&self) -> Result<(), BuildError> {
        const T: &str = "impact";
        match self {
            ImpactDetail::Availability {
                availability_impact,
            } => check_percent(T, "availability_impact", Some(*availability_impact)),
            ImpactDetail::Confidentiality {
                loss_type: l,
                information_type: i,
                ..
            } if *l != LossType::None && i.is_none() => Err(BuildError::invalid(
                T,
                "information_type",
                "is required unless loss_type is `none`",
            )),
            ImpactDetail::Integrity {
                alteration: a,
                information_type: i,
                ..
            } if *a != Alteration::None && i.is_none() => Err(BuildError::invalid(
                T,
                "information_type",
                "is required unless alteration is `none`",
            )),
            ImpactDetail::External { impact_type } if impact_type.is_empty() => {
                Err(BuildError::Missing {
                    object: T,
                    property: "impact_type",
                })
            }
            ImpactDetail::Physical {
                impact_type,
                asset_type,
            } if *impact_type != PhysicalImpact::None && asset_type.is_none() => Err(
                BuildError::invalid(T, "asset_type", "is required unless impact_type is `none`"),
            ),
            ImpactDetail::Monetary {
                variety,
                conversion_rate,
                conversion_time,
                min_amount,
                max_amount,
                ..
            } => {
                if variety.is_empty() {
                    return Err(BuildError::Missing {
                        object: T,
                        property: "variety",
                    });
                }
                if conversion_rate.is_some() != conversion_time.is_some() {
                    return Err(BuildError::invalid(
                        T,
                        "conversion_rate",
                        "and conversion_time go together",
                    ));
                }
                if conversion_rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
                    return Err(BuildError::invalid(T, "conversion_rate", "must be > 0"));
                }
                match (min_amount, max_amount) {
                    (Some(lo), Some(hi)) if !(lo.is_finite() && hi.is_finite() && hi >= lo) => {
                        Err(BuildError::invalid(T, "max_amount", "must be ≥ min_amount"))
                    }
                    (Some(_), None) | (None, Some(_)) => Err(BuildError::invalid(
                        T,
                        "min_amount",
                        "and max_amount go together",
                    )),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    fn read(category: &str, body: &Value) -> Result<ImpactDetail, ReadError> {
        let err = |e: serde_json::Error| ReadError::Invalid {
            property: format!("/extensions/{category}-ext"),
            reason: e.to_string(),
        };
        // Deserialise through a typed shadow so that the right variant is chosen by category,
        // not by shape.
        #[derive(Deserialize)]
        struct Avail {
            availability_impact: u8,
        }
        #[derive(Deserialize)]
        struct Conf {
            loss_type: LossType,
            information_type: Option<String>,
            record_count: Option<u64>,
            record_size: Option<u64>,
        }
        #[derive(Deserialize)]
        struct Ext {
            impact_type: String,
        }
        #[derive(Deserialize)]
        struct Integ {
            alteration: Alteration,
            information_type: Option<String>,
            record_count: Option<u64>,
            record_size: Option<u64>,
        }
        #[derive(Deserialize)]
        struct Money {
            variety: String,
            currency: Option<String>,
            currency_actual: Option<String>,
            conversion_rate: Option<f64>,
            conversion_time: Option<Timestamp>,
            min_amount: Option<f64>,
            max_amount: Option<f64>,
        }
        #[derive(Deserialize)]
        struct Phys {
            impact_type: PhysicalImpact,
            asset_type: Option<String>,
        }
        #[derive(Deserialize)]
        struct Trace {
            traceability_impact: Traceability,
        }
        let b = body.clone();
        Ok(match category {
            "availability" => {
                let a: Avail = serde_json::from_value(b).map_err(err)?;
                if a.availability_impact > 100 {
                    return Err(ReadError::Invalid {
                        property: "/extensions/availability-ext/availability_impact".into(),
                        reason: "must be 0–100".into(),
                    });
                }
                ImpactDetail::Availability {
                    availability_impact: a.availability_impact,
                }
            }
            "confidentiality" => {
                let c: Conf = serde_json::from_value(b).map_err(err)?;
                ImpactDetail::Confidentiality {
                    loss_type: c.loss_type,
                    information_type: c.information_type,
                    record_count: c.record_count,
                    record_size: c.record_size,
                }
            }
            "external" => {
                let e: Ext = serde_json::from_value(b).map_err(err)?;
                ImpactDetail::External {
                    impact_type: e.impact_type,
                }
            }
            "integrity" => {
                let i: Integ = serde_json::from_value(b).map_err(err)?;
                ImpactDetail::Integrity {
                    alteration: i.alteration,
                    information_type: i.information_type,
                    record_count: i.record_count,
                    record_size: i.record_size,
                }
            }
            "monetary" => {
                let m: Money = serde_json::from_value(b).map_err(err)?;
                ImpactDetail::Monetary {
                    variety: m.variety,
                    currency: m.currency,
                    currency_actual: m.currency_actual,
                    conversion_rate: m.conversion_rate,
                    conversion_time: m.conversion_time,
                    min_amount: m.min_amount,
                    max_amount: m.max_amount,
                }
            }
            "physical" => {
                let p: Phys = serde_json::from_value(b).map_err(err)?;
                ImpactDetail::Physical {
                    impact_type: p.impact_type,
                    asset_type: p.asset_type,
                }
            }
            "traceability" => {
                let t: Trace = serde_json::from_value(b).map_err(err)?;
                ImpactDetail::Traceability {
                    traceability_impact: t.traceability_impact,
                }
            }
            other => {
                return Err(ReadError::Invalid {
                    property: "/impact_category".into(),
                    reason: format!("unknown impact category `{other}`"),
                });
            }
        })
    }
}

/// An `impact` (OASIS, new SDO).
#[derive(Debug, Clone, PartialEq)]
pub struct Impact {
    /// The category extension (decides `impact_category`).
    pub detail: ImpactDetail,
    /// 0–100.
    pub criticality: Option<u8>,
    /// Description.
    pub description: Option<String>,
    /// Start.
    pub start_time: Option<Timestamp>,
    /// Fidelity of the start.
    pub start_time_fidelity: Option<Fidelity>,
    /// End (required when superseded).
    pub end_time: Option<Timestamp>,
    /// Fidelity of the end.
    pub end_time_fidelity: Option<Fidelity>,
    /// Impacted entities by type.
    pub impacted_entity_counts: EntityCounts,
    /// What is impacted (victim identities, infrastructure, SCOs).
    pub impacted_refs: Vec<String>,
    /// Recoverability.
    pub recoverability: Option<Recoverability>,
    /// The impact (same category) that replaces this one.
    pub superseded_by_ref: Option<String>,
}

impl Impact {
    /// The STIX type.
    pub const TYPE: &'static str = "impact";

    /// An impact with only its category extension.
    pub fn new(detail: ImpactDetail) -> Impact {
        Impact {
            detail,
            criticality: None,
            description: None,
            start_time: None,
            start_time_fidelity: None,
            end_time: None,
            end_time_fidelity: None,
            impacted_entity_counts: EntityCounts::new(),
            impacted_refs: Vec::new(),
            recoverability: None,
            superseded_by_ref: None,
        }
    }

    /// Writes the object (strict): `impact_category` without suffix, the category extension
    /// under `<category>-ext`.
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        const T: &str = Impact::TYPE;
        self.detail.check()?;
        check_percent(T, "criticality", self.criticality)?;
        check_order(
            T,
            self.start_time.as_ref(),
            self.end_time.as_ref(),
            "end_time",
        )?;
        check_refs(T, "impacted_refs", &self.impacted_refs, &[])?;
        if let Some(s) = &self.superseded_by_ref {
            check_ref(T, "superseded_by_ref", s, &["impact"])?;
            if self.end_time.is_none() {
                return Err(BuildError::invalid(
                    T,
                    "end_time",
                    "is required when superseded_by_ref is set",
                ));
            }
        }
        let mut m = common.sdo(T)?;
        m.insert("impact_category".into(), json!(self.detail.category()));
        object::put(&mut m, "criticality", &self.criticality);
        object::put(&mut m, "description", &self.description);
        object::put(&mut m, "start_time", &self.start_time);
        object::put(&mut m, "start_time_fidelity", &self.start_time_fidelity);
        object::put(&mut m, "end_time", &self.end_time);
        object::put(&mut m, "end_time_fidelity", &self.end_time_fidelity);
        if !self.impacted_entity_counts.is_empty() {
            m.insert(
                "impacted_entity_counts".into(),
                json!(self.impacted_entity_counts),
            );
        }
        object::put_list(&mut m, "impacted_refs", &self.impacted_refs);
        object::put(&mut m, "recoverability", &self.recoverability);
        object::put(&mut m, "superseded_by_ref", &self.superseded_by_ref);
        let mut exts = Map::new();
        exts.insert(ext::IMPACT.into(), json!({"extension_type": "new-sdo"}));
        exts.insert(
            format!("{}-ext", self.detail.category()),
            json!(self.detail),
        );
        m.insert("extensions".into(), Value::Object(exts));
        Ok(Value::Object(m))
    }

    /// Reads an impact tolerantly: `impact_category` with or without `-ext`, the category
    /// extension under `<category>-ext` or `<category>`, entity counts as a dictionary or list.
    pub fn read(value: &Value) -> Result<Read<Impact>, ReadError> {
        let map = expect_type(value, Self::TYPE)?;
        let mut warnings = Vec::new();
        let raw = object::req_str(map, "impact_category")?;
        let category = raw.strip_suffix("-ext").unwrap_or(&raw).to_owned();
        if category != raw {
            warnings.push(format!("impact_category `{raw}` read as `{category}`"));
        }
        let exts = map.get("extensions").and_then(Value::as_object);
        let with_suffix = format!("{category}-ext");
        let detail_body = match exts {
            Some(e) => match (e.get(&with_suffix), e.get(&category)) {
                (Some(b), _) => b,
                (None, Some(b)) => {
                    warnings.push(format!(
                        "extension key `{category}` read as `{with_suffix}`"
                    ));
                    b
                }
                (None, None) => {
                    return Err(ReadError::Missing(format!("extensions/{with_suffix}")));
                }
            },
            None => return Err(ReadError::Missing("extensions".into())),
        };
        let detail = ImpactDetail::read(&category, detail_body)?;
        let mut b = map.clone();
        fix_entity_counts(&mut b, &mut warnings)?;
        let impacted_entity_counts: EntityCounts = match b.get("impacted_entity_counts") {
            None => EntityCounts::new(),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| ReadError::Invalid {
                property: "/impacted_entity_counts".into(),
                reason: e.to_string(),
            })?,
        };
        let enum_of = |key: &str| -> Result<Option<Value>, ReadError> { Ok(b.get(key).cloned()) };
        let parse = |v: Option<Value>, key: &str| -> Result<Option<Fidelity>, ReadError> {
            v.map(serde_json::from_value)
                .transpose()
                .map_err(|e| ReadError::Invalid {
                    property: format!("/{key}"),
                    reason: e.to_string(),
                })
        };
        let recoverability = enum_of("recoverability")?
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| ReadError::Invalid {
                property: "/recoverability".into(),
                reason: e.to_string(),
            })?;
        Ok(Read {
            header: object::header(map)?,
            body: Impact {
                detail,
                criticality: object::opt_percent(map, "criticality")?,
                description: object::opt_str(map, "description")?,
                start_time: object::opt_ts(map, "start_time")?,
                start_time_fidelity: parse(enum_of("start_time_fidelity")?, "start_time_fidelity")?,
                end_time: object::opt_ts(map, "end_time")?,
                end_time_fidelity: parse(enum_of("end_time_fidelity")?, "end_time_fidelity")?,
                impacted_entity_counts,
                impacted_refs: object::str_list(map, "impacted_refs")?,
                recoverability,
                superseded_by_ref: object::opt_str(map, "superseded_by_ref")?,
            },
            warnings,
        })
    }
}
