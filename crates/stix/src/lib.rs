//! STIX 2.1 object model, validation, deterministic identifiers and TLP markings.
//!
//! What it is for: every other part of Shieldwall moves STIX 2.1 objects; this crate reads them
//! without losing a byte of meaning, says precisely where they break the specification, and
//! answers the questions the access policy asks (which TLP, which version).
//!
//! What it must never do: perform I/O (no files, sockets, clocks or environment; it reads from
//! a caller's `std::io::Read` only), panic on input, or drop a property it does not know.
//!
//! Key design decision: objects stay JSON (`serde_json::Value`, in document order) and the
//! validator reads them in place, so round-trips are lossless by construction and validation
//! costs little more than parsing. [`json`] parses strictly (duplicate keys are errors);
//! [`stream`] splits a bundle, array or TAXII envelope of any size into objects one at a time.

pub mod id;
pub mod json;
pub mod meta;
pub mod model;
pub mod stream;
pub mod timestamp;
pub mod tlp;
pub mod validate;
#[rustfmt::skip]
pub mod vocab;

pub use model::{Category, ObjectType, StixObject};
pub use timestamp::Timestamp;
