//! STIX 2.1 object model, validation, deterministic identifiers and TLP markings.
//!
//! What it is for: every other part of Shieldwall moves STIX 2.1 objects; this crate reads them
//! without losing a byte of meaning, says precisely where they break the specification, and
//! answers the questions the access policy asks (which TLP, which version).
//!
//! What it must never do: perform I/O (no files, sockets, clocks or environment), panic on input,
//! or drop a property it does not know.

pub mod meta;
pub mod tlp;
