//! Who may take which coordination step, decided before a step is built so that a caller (the
//! web console) can offer only the steps a member may take and refuse the others plainly. The
//! rules restate the workflow: a step is a new version by the object's producer, written where
//! that member may write ([`crate::policy::can_write`]; readers write nowhere); an offer answers
//! another member's open request. The store's producer rule still stands behind every write.

use coord::assist::{AssistanceOffer, AssistanceRequest};
use serde_json::Value;

use super::{
    ServiceError,
    member::{MemberService, s},
};
use crate::{coalition::Collection, config::Role, policy::can_write};

/// Whether the member may write anything at all (not a reader, some collection writable).
pub fn may_write_somewhere(m: &MemberService) -> bool {
    m.principal.role != Role::Reader
        && m.coalition
            .collections
            .iter()
            .any(|c| can_write(&m.principal, c))
}

/// The collections the member may write (where it may file an incident, request or offer).
pub fn writable(m: &MemberService) -> Vec<Collection> {
    m.coalition
        .collections
        .iter()
        .filter(|c| can_write(&m.principal, c))
        .cloned()
        .collect()
}

/// `Ok` when the member may write the next version of `object` (held in `coll`): it produced
/// it and may write that collection.
pub fn may_version(
    m: &MemberService,
    object: &Value,
    coll: &Collection,
) -> Result<(), ServiceError> {
    if m.principal.role == Role::Reader {
        return Err(ServiceError::Forbidden(format!(
            "{} has the reader role: it reads, it takes no workflow step",
            m.principal.actor
        )));
    }
    if s(object, "created_by_ref") != m.identity {
        return Err(ServiceError::Forbidden(format!(
            "only the member that created this {} takes its next step, not {}",
            s(object, "type"),
            m.principal.member
        )));
    }
    if !can_write(&m.principal, coll) {
        return Err(ServiceError::Forbidden(format!(
            "{} may not write to the collection holding this {}",
            m.principal.member,
            s(object, "type")
        )));
    }
    Ok(())
}

/// `Ok` when the member may offer help on `request`: a member that may write somewhere, not
/// the requester, on a request still open.
pub fn may_offer(m: &MemberService, request: &Value) -> Result<(), ServiceError> {
    if s(request, "type") != AssistanceRequest::TYPE {
        return Err(ServiceError::Usage(format!(
            "{}: not an assistance-request",
            s(request, "id")
        )));
    }
    if !may_write_somewhere(m) {
        return Err(ServiceError::Forbidden(format!(
            "{} may write nowhere: it cannot offer help",
            m.principal.actor
        )));
    }
    let read = AssistanceRequest::read(request)?;
    if read.body.requester_ref == m.identity || s(request, "created_by_ref") == m.identity {
        return Err(ServiceError::Forbidden(
            "this is your own request: another member offers help on it".into(),
        ));
    }
    if !read.body.request_status.is_open() {
        return Err(ServiceError::Forbidden(format!(
            "the request is `{}`: it takes no more offers",
            read.body.request_status.name()
        )));
    }
    Ok(())
}

/// `Ok` when the member may advance its own `offer` (the provider's steps).
pub fn may_advance_offer(
    m: &MemberService,
    offer: &Value,
    coll: &Collection,
) -> Result<(), ServiceError> {
    if s(offer, "type") != AssistanceOffer::TYPE {
        return Err(ServiceError::Usage(format!(
            "{}: not an assistance-offer",
            s(offer, "id")
        )));
    }
    may_version(m, offer, coll)
}
