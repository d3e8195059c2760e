//! The integration tests of `shieldwall-coord`, in one test binary (one module per suite; `common` holds the shared helpers, `../support/check.py` the Python checks).

mod common;

mod conformance;
mod disarm;
mod reader;
mod workflow;
