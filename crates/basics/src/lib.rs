//! The small value types every Shieldwall crate shares, so that each exists once.
//!
//! - [`time`]: calendar arithmetic (days from civil dates and back, RFC 3339 parts) under the
//!   precision-keeping timestamp types of the crates above it.
//! - [`net`]: IPv4/IPv6 networks (CIDR) parsed strictly and normalised (host bits cleared).
//!
//! What it must never do: perform I/O, read a clock, or panic on any input. It depends on
//! nothing in the workspace: every other crate may depend on it.

pub mod net;
pub mod time;
