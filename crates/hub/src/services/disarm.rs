//! DISARM as service calls: storing a prepared framework bundle
//! (`coord::disarm::prepare_import`: normalised, attributed to its own identity, unmarked
//! objects marked) and finding a technique or tactic by DISARM id or STIX id among what the
//! member may see.

use coord::disarm::{DisarmIndex, NormaliseReport, PreparedImport, Tactic, Technique};
use serde_json::{Value, json};

use super::{ServiceError, member::MemberService};
use crate::{coalition::Collection, store::AddOutcome};

/// What an import stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The collection written.
    pub collection: String,
    /// Objects in the bundle.
    pub objects: usize,
    /// Objects stored now (the rest were already present).
    pub stored: usize,
    /// DISARM techniques.
    pub techniques: usize,
    /// DISARM tactics.
    pub tactics: usize,
    /// Objects given the default marking.
    pub marked: usize,
    /// Objects attributed to the bundle's identity.
    pub attributed: usize,
    /// What normalisation changed.
    pub report: NormaliseReport,
}

impl Imported {
    /// The summary as JSON (`shieldwall disarm import --json`).
    pub fn to_json(&self) -> Value {
        json!({
            "collection": self.collection, "objects": self.objects, "stored": self.stored,
            "already_present": self.objects - self.stored, "techniques": self.techniques,
            "tactics": self.tactics, "marked": self.marked, "attributed": self.attributed,
            "normalisation": self.report,
        })
    }
}

/// Stores a prepared DISARM bundle in `coll` as the member, all or nothing.
pub async fn import(
    m: &MemberService,
    coll: &Collection,
    prepared: PreparedImport,
) -> Result<Imported, ServiceError> {
    let index = DisarmIndex::build(&prepared.objects)?;
    let out = m.write(coll, &prepared.objects).await?;
    let stored = out
        .iter()
        .filter(|o| matches!(o, AddOutcome::Added { .. }))
        .count();
    Ok(Imported {
        collection: coll.id.clone(),
        objects: prepared.objects.len(),
        stored,
        techniques: index.techniques().len(),
        tactics: index.tactics().len(),
        marked: prepared.marked,
        attributed: prepared.attributed,
        report: prepared.report,
    })
}

/// A technique or a tactic.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// A technique (or sub-technique).
    Technique(Technique),
    /// A tactic.
    Tactic(Tactic),
}

impl Found {
    /// `{"kind": "technique", "technique": …}` or `{"kind": "tactic", "tactic": …}`.
    pub fn to_json(&self) -> Value {
        match self {
            Found::Technique(t) => json!({"kind": "technique", "technique": t}),
            Found::Tactic(t) => json!({"kind": "tactic", "tactic": t}),
        }
    }
}

/// The technique, else the tactic, with DISARM id or STIX id `id` among what the member may
/// see in `colls`.
pub async fn find(
    m: &MemberService,
    colls: &[Collection],
    id: &str,
) -> Result<Option<Found>, ServiceError> {
    let objects = m.view(colls, false).await?;
    let index = DisarmIndex::build(&objects)?;
    Ok(match index.technique(id) {
        Some(t) => Some(Found::Technique(t.clone())),
        None => index.tactic(id).cloned().map(Found::Tactic),
    })
}
