//! MISP ⇄ STIX 2.1 conversion.
//!
//! What it is for: MISP is the tool most CERTs run today. This crate lets MISP data feed
//! Shieldwall and Shieldwall feed MISP:
//!
//! - **MISP in** ([`to_stix`]): recognises MISP JSON — a single event (`{"Event": {...}}`), a REST
//!   response (`{"response": [...]}`), attribute and object collections, and a MISP feed (its
//!   `manifest.json`, event files and `hashes.csv`, handed over already read) — and converts it to
//!   STIX 2.1 following the mapping of the MISP project's own converter, misp-stix: events become
//!   reports (published) or groupings, attributes become indicators with STIX patterns (`to_ids`)
//!   and observed-data with SCOs, MISP objects their STIX counterparts, `tlp:*` tags TLP marking
//!   definitions, other tags labels, galaxies threat actors, intrusion sets, malware, tools and
//!   ATT&CK attack patterns, sightings sightings. STIX ids reuse MISP uuids, so converting the same
//!   MISP data twice gives the same STIX objects.
//! - **MISP out** ([`to_misp`]): turns STIX objects (reports or groupings with what they reference,
//!   markings) into a MISP feed — one event file per report, `manifest.json`, `hashes.csv` —
//!   returned as (file name, bytes) pairs for the caller to write.
//!
//! What it must never do: perform I/O (no files, sockets, clocks or environment: the caller passes
//! "now" in [`to_stix::ConvertOptions`]), panic on input, or silently drop input — whatever is not
//! converted exactly is reported as a [`Diagnostic`].

mod error;
pub mod time;
pub mod to_misp;
pub mod to_stix;
mod types;

pub use error::{Diagnostic, Level, MispError};

pub use to_misp::{ExportOptions, Feed, FeedFile, export_feed};
pub use to_stix::{
    Conversion, ConvertOptions, Converter, FeedInput, convert_bytes, convert_value,
    feed_event_files,
};

/// The namespace misp-stix derives its uuid5 identifiers from (relationship ids, bundle ids).
pub const MISP_UUID_NAMESPACE: uuid::Uuid = uuid::uuid!("76beed5f-7251-457e-8c2a-b45f7b589d3d");
