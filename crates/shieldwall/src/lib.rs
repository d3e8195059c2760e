//! Shieldwall, the application: the versioned STIX store (SQLite and PostgreSQL behind one
//! trait), the access policy, the TAXII 2.1 hub and the node's configuration.
//!
//! What it is for: serving and storing STIX 2.1 objects for the members of a coalition so that
//! each member sees exactly what the access policy (`docs/POLICY.md`) allows, on every path.
//!
//! What it must never do: decide access anywhere but [`policy::may_see`] (and its SQL restatement
//! in `store::sql`, which a property test holds to it); answer a TAXII request with anything but a
//! TAXII resource (errors included); panic on input. This crate is the only one that knows HTTP,
//! SQL, files and clocks.

pub mod auth;
pub mod coalition;
pub mod config;
pub mod demo;
pub mod files;
pub mod ingest;
pub mod ingest_warnings;
pub mod policy;
pub mod server;
pub mod store;
pub mod sync;
pub mod taxii;
pub mod timestamps;
pub mod tls;
