//! The integration tests of `shieldwall-stix`, in one test binary (one module per suite).

mod conformance;
mod differential;
mod musts;
