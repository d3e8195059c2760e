//! Domain services: what a command does, as library calls on the store and the coalition, so
//! that the CLI only parses arguments, calls one service and prints (and the web console or a
//! test can call the same service). Every write goes through [`crate::publish`].
//!
//! - [`admin`]: the administration (members, users, keys, collections, trust groups, peers) as
//!   one versioned admin state in the store, shared by the CLI and the HTTP admin API.
//! - [`member`]: a member acting on the node — writing all or nothing, reading its view.
//! - [`coordview`]: the coordination pages' view of a member, indexed, kept per member view and
//!   brought up to date after writes.
//! - [`browse`]: reading as a member for the web console — an object and its versions, a listing, a bounded word search, neighbours.
//! - [`assist`]: the assistance workflow steps (request, offer, match, advance, close, board).
//! - [`fimi`]: a FIMI incident with its narratives, channels and DISARM techniques; links; the
//!   DISARM matrix. [`disarm`]: storing the DISARM framework, finding a technique or tactic.
//! - [`incident`]: a new incident and the steps that version it (impact, event, task, update);
//!   the incidents a member sees as rows, and one incident with everything linked to it.
//! - [`workflow`]: who may take which coordination step (the producer versions its own
//!   incident, request or offer; another member offers; readers take none).
//! - [`lookup`]: "where else has this value appeared" — a pasted value classified and looked up
//!   in the store's value index through the member's policy.
//! - [`report`]: the coalition report's figures, as a model the HTML renders.
//! - [`scan`]: the scan loop — logs read record by record, probed against a compiled indicator
//!   set, each hit handed to a [`scan::ScanSink`] (printed, aggregated), a [`scan::ScanSummary`] back.
//! - [`sightings`]: a scan's hits aggregated into sightings, delivered to a [`sightings::HitSink`].

pub mod admin;
pub mod assist;
pub mod browse;
pub mod coordview;
pub mod disarm;
pub mod fimi;
pub mod incident;
pub mod lookup;
pub mod member;
pub mod report;
pub mod scan;
pub mod sightings;
pub mod workflow;

use crate::{publish::PublishError, store::StoreError};

/// Why a service call did nothing (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Publishing refused (nothing was stored).
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// An object named is not there, or not visible to the member.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be carried out as asked (the caller's mistake).
    #[error("{0}")]
    Usage(String),
    /// A coordination object could not be built as asked.
    #[error(transparent)]
    Build(#[from] coord::BuildError),
    /// A stored coordination object could not be read.
    #[error(transparent)]
    Read(#[from] coord::ReadError),
    /// DISARM objects could not be indexed.
    #[error(transparent)]
    Disarm(#[from] coord::DisarmError),
    /// A workflow step is not allowed from the object's current state.
    #[error(transparent)]
    Workflow(#[from] coord::WorkflowError),
    /// A remote hub failed or refused.
    #[error("{0}")]
    Remote(String),
    /// The workflow does not let this member take this step (another member's object, a
    /// reader, one's own request to offer on).
    #[error("{0}")]
    Forbidden(String),
    /// Stored data is not what was written.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}
