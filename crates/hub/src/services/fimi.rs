//! FIMI as service calls: a new FIMI incident (built by `coord::fimi::FimiIncident`) with its
//! narratives, channels and `uses` of DISARM techniques (found by DISARM id wherever the member
//! may read them), further links to an existing incident, and the DISARM matrix as the member
//! may see it. Edges to existing objects are kept with their targets
//! ([`MemberService::edge_collection`]); each call writes all or nothing.

use coord::DisarmError;
use coord::disarm::{DisarmIndex, Matrix};
use coord::fimi::FimiIncident;
use serde_json::Value;

use super::{
    ServiceError,
    assist::Written,
    member::{MemberService, s},
};
use crate::coalition::Collection;

/// What a FIMI incident is linked to.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// DISARM techniques by DISARM id (`T0086.002`) or STIX id: `uses`.
    pub techniques: Vec<String>,
    /// New narratives by name: written, then `uses`.
    pub narratives: Vec<String>,
    /// New channels `NAME@PLATFORM`: written, then `uses`.
    pub channels: Vec<String>,
    /// Existing objects the incident `uses`.
    pub uses: Vec<String>,
    /// Cyber incidents that fed this one (hack-and-leak): `INCIDENT led-to FIMI`.
    pub fed_by: Vec<String>,
}

impl Links {
    /// Whether nothing is linked.
    pub fn is_empty(&self) -> bool {
        self.techniques.is_empty()
            && self.narratives.is_empty()
            && self.channels.is_empty()
            && self.uses.is_empty()
            && self.fed_by.is_empty()
    }
}

/// The objects and relationships `links` adds to incident `iid` (marked `marking`), and the
/// edges to existing objects (`uses` other than techniques, `led-to` from the incidents that
/// fed it), each kept with its target.
async fn linked(
    m: &MemberService,
    marking: &str,
    iid: &str,
    links: &Links,
    coll: &Collection,
) -> Result<(Vec<Value>, Vec<(Collection, Value)>), ServiceError> {
    let mut techniques = Vec::new();
    if !links.techniques.is_empty() {
        // Techniques are looked up wherever the member may read them (DISARM is often kept in
        // a collection of its own).
        let objects = m.view(&m.readable(), false).await?;
        let index = visible_index(&objects)?;
        for t in &links.techniques {
            let tech = index.as_ref().and_then(|i| i.technique(t)).ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "--technique {t}: no DISARM technique with that id visible to {} (import DISARM with `shieldwall disarm import`)",
                    m.principal.member
                ))
            })?;
            techniques.push(tech.stix_id.clone());
        }
    }
    let mut out = coord::fimi::link_objects(
        iid,
        &techniques,
        &links.narratives,
        &links.channels,
        &mut || m.common(marking),
    )?;
    let mut edges = Vec::new();
    // An edge to an existing object other than a (public) technique is kept with its target.
    for u in &links.uses {
        let r = coord::object::relationship(&m.common(marking), "uses", iid, u)?;
        if u.starts_with("attack-pattern--") {
            out.push(r);
        } else {
            edges.push((m.edge_collection(u, coll).await, r));
        }
    }
    for f in &links.fed_by {
        if !f.starts_with("incident--") {
            return Err(ServiceError::Usage(format!(
                "--fed-by {f}: expected an incident id"
            )));
        }
        let r = coord::object::relationship(&m.common(marking), "led-to", f, iid)?;
        edges.push((m.edge_collection(f, coll).await, r));
    }
    Ok((out, edges))
}

/// Writes a new FIMI incident and what `links` adds to it into `coll` (edges to existing
/// objects beside their targets), marked `marking`, all or nothing; the incident comes first.
pub async fn new_incident(
    m: &MemberService,
    coll: &Collection,
    marking: &str,
    incident: &FimiIncident,
    links: &Links,
) -> Result<Written, ServiceError> {
    let incident = incident.build(&m.common(marking))?;
    let iid = s(&incident, "id").to_owned();
    let mut objects = vec![incident];
    let (more, edges) = linked(m, marking, &iid, links, coll).await?;
    objects.extend(more);
    let (outcomes, objects) = m.write_with_edges(coll, objects, edges).await?;
    Ok(Written { objects, outcomes })
}

/// Links the existing incident `id` (which the member may see) as `links` says, writing the
/// new objects into `coll`, all or nothing.
pub async fn link(
    m: &MemberService,
    coll: &Collection,
    marking: &str,
    id: &str,
    links: &Links,
) -> Result<Written, ServiceError> {
    let (inc, _) = m.find(id).await?;
    if s(&inc, "type") != "incident" {
        return Err(ServiceError::Usage(format!("{id}: not an incident")));
    }
    if links.is_empty() {
        return Err(ServiceError::Usage(
            "nothing to link: give --technique, --narrative, --channel, --uses or --fed-by".into(),
        ));
    }
    let (objects, edges) = linked(m, marking, id, links, coll).await?;
    let (outcomes, objects) = m.write_with_edges(coll, objects, edges).await?;
    Ok(Written { objects, outcomes })
}

/// The DISARM matrix (tactics × techniques, with how many objects use each) over what the
/// member may see in `colls`.
pub async fn matrix(m: &MemberService, colls: &[Collection]) -> Result<Matrix, ServiceError> {
    let objects = m.view(colls, false).await?;
    matrix_of(m, &objects)
}

/// The DISARM matrix over `objects`, what member `m` sees.
pub fn matrix_of(m: &MemberService, objects: &[Value]) -> Result<Matrix, ServiceError> {
    match visible_index(objects)? {
        Some(index) => Ok(Matrix::build(&index, objects)),
        None => Err(ServiceError::NotFound(format!(
            "no DISARM techniques visible to {}: import them with `shieldwall disarm import`",
            m.principal.member
        ))),
    }
}

/// The DISARM index of `objects`, `None` when they hold no technique.
fn visible_index(objects: &[Value]) -> Result<Option<DisarmIndex>, ServiceError> {
    match DisarmIndex::build(objects) {
        Ok(index) if index.techniques().is_empty() => Ok(None),
        Ok(index) => Ok(Some(index)),
        Err(DisarmError::NoTechniques) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
