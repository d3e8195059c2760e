//! The TAXII 2.1 hub of a Shieldwall node: the routes and their thin handlers ([`taxii`]),
//! authentication ([`auth`]), the analyst's web console ([`console`]), the audit trail's writer ([`audit`]), the HTTP(S) server with its connection limits and atomic reload
//! ([`server`]), and the demonstration coalition ([`demo`]).
//!
//! What it is for: serving the store to the members of a coalition over TAXII 2.1, each member
//! seeing exactly what the access policy allows, on every path.
//!
//! What it must never do: decide access or egress itself (every path asks
//! [`policy::may_see`], through the store's
//! [`Pushdown`](crate::policy::Pushdown) for listings, and a peer's pull gets the sync crate's
//! egress rule); answer a request with anything but a TAXII resource (errors included); panic
//! on input; acknowledge a POST before the store committed it. It does I/O: sockets, TLS and,
//! through the store, the database.

pub mod audit;
pub mod auth;
pub mod console;
pub mod demo;
pub mod demo_coord;
pub mod metrics;
pub mod server;
pub mod services;
pub mod taxii;

// The crates below under the module paths this code was written against (`crate::policy`,
// `crate::store`, …), from when the hub was one crate.
use ::policy::{audit as audit_chain, coalition, config, ingest, policy};
use ::store;
use ::sync;
use store::{publish, timestamps};
