//! The integration tests of the application, in one test binary: one module per suite, and the
//! helpers they share — `common` (an in-process server over a real store, throw-away PostgreSQL
//! databases, a TAXII client), `nodes` (`shieldwall serve` child processes, API keys, identities)
//! and `hostile` (worst-case patterns). The Python scripts some suites run stay beside this folder.

mod common;
mod hostile;
mod nodes;

mod admin_lifecycle;
mod audit;
mod audit_crash;
mod bad_input;
mod bounded_validation;
mod canonical_cli;
mod cli;
mod collection_removal;
mod console;
mod console_admin;
mod console_browser;
mod console_cache;
mod console_coord;
mod console_coord_browser;
mod console_coord_cache;
mod console_federation;
mod coord_cli;
mod coord_scenario;
mod detect_e2e;
mod docs_walkthrough;
mod durability;
mod exports_cli;
mod federation;
mod federation_tls;
mod figures_incremental;
mod leak;
mod lookup;
mod medallion;
mod misp_cli;
mod misp_hostile;
mod misp_roundtrip;
mod node_guard;
mod ops;
mod pattern_cli;
mod policy_pushdown;
mod publish_services;
mod scan_cli;
mod scan_hub;
mod scan_report;
mod store_conformance;
mod strict_json_inputs;
mod sync_forget;
mod sync_medallion;
mod taxii2_client;
mod validate_cli;
