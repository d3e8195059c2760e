//! Shieldwall, the application: the versioned STIX store (SQLite and PostgreSQL behind one
//! trait), the access policy, the TAXII 2.1 hub and the node's configuration.
//!
//! What it is for: the `shieldwall` binary's library. The hub lives in layered crates — `policy`
//! (the rules, no I/O), `store` (the database), `sync` (federation) and `hub` (TAXII) — and this
//! facade keeps their modules at the paths the CLI and the integration tests use
//! (`shieldwall::policy`, `shieldwall::store`, …). Reading the configuration file and the
//! environment ([`config::load`], [`config::process_env`]) is the application's.
//!
//! What it must never do: decide access anywhere but [`policy::may_see`] (and its SQL restatement
//! in the store, which a property test holds to it); answer a TAXII request with anything but a
//! TAXII resource (errors included); panic on input.

pub use ::policy::{admin, audit, coalition, ingest, passwords, policy};
pub use hub::{auth, demo, metrics, server, services, taxii};
pub use store::{self, files, ingest_warnings, publish, timestamps};
pub use sync::{self, tls};

mod config_file;

/// The node's configuration ([`::policy::config`]), and reading it from its file and the
/// environment.
pub mod config {
    pub use ::policy::config::*;

    pub use crate::config_file::{load, process_env};
}
