//! Counter-disinformation and coordination as STIX 2.1: DISARM import and matrix, FIMI objects
//! (`narrative`, `channel`, `media-content`, the FIMI incident extension), incidents on critical
//! infrastructure (the OASIS Incident Core extension with its `event`, `impact` and `task`
//! objects), victims tagged with STIX and NIS2 sectors, and the assistance workflow (requests,
//! offers, matching, prioritisation, after-action reports).
//!
//! What it is for: every such object Shieldwall writes is built here by a strict writer (the
//! result validates with `stix::validate` and with the OASIS stix2-validator, and matches the
//! JSON schema shipped in `extensions/`), and every such object it receives is read here by a
//! tolerant reader (the forms upstream examples disagree on are accepted, with warnings).
//! Workflow steps are new versions of the same object (same `id`, later `modified`), so history
//! and synchronisation come from the store and TAXII for free.
//!
//! What it must never do: perform I/O (no files, sockets, clocks, random numbers or environment:
//! callers pass identifiers and timestamps in), panic on input, or drop a property it does not
//! know when it rewrites an object (normalisation and new versions keep everything else).
//!
//! Extension-definition objects and their JSON schemas live at the repository root in
//! `extensions/` and are compiled in from there ([`ext`]), so the files are the single source.

pub mod assist;
pub mod disarm;
pub mod error;
pub mod ext;
pub mod fimi;
pub mod incident;
pub mod object;
pub mod sector;

pub use error::{BuildError, DisarmError, ReadError, WorkflowError};
pub use object::Common;
