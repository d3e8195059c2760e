//! The rules of a Shieldwall node: its configuration, its coalition, who may see what, what may
//! leave by sync, and what a member may publish.
//!
//! What it is for: every decision the hub takes about a STIX object is taken here, as a pure
//! function of values, so that the TAXII handlers, the store's SQL, sync and the CLI ask the same
//! question and get the same answer.
//!
//! - [`config`]: the configuration's types, parsed from TOML text with `SHIELDWALL_*` overrides
//!   given as values, and checked as a whole (the error names the key).
//! - [`coalition`]: members, trust groups, API roots and collections with their grants expanded.
//! - [`policy`]: [`policy::may_see`] (the only access decision), [`policy::may_leave`] and
//!   [`policy::endpoints_may_leave`] (the only egress decisions), and [`policy::Pushdown`], the
//!   same rule as data for a listing query.
//! - [`ingest`]: strict JSON, the envelope, per-object validation and the publishing rules, ending
//!   in the [`ingest::NewVersion`] the store takes.
//! - [`timestamps`]: STIX/TAXII timestamps as the store keeps them.
//! - [`audit`]: the audit trail's records, their hash chain and its verification.
//!
//! What it must never do: perform I/O (no files, sockets, database, clocks or environment: the
//! configuration's text and the environment's variables are the caller's to read), depend on an
//! async runtime, HTTP or SQL crate, or panic on input. A decision about access or egress taken
//! anywhere else is a bug.

pub mod admin;
pub mod audit;
pub mod coalition;
pub mod config;
pub mod ingest;
pub mod passwords;
pub mod policy;
pub mod timestamps;
