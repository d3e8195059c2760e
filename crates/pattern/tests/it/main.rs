//! The integration tests of `shieldwall-pattern`, in one test binary (one module per suite).

mod differential;
mod eval_semantics;
mod matcher_conformance;
mod pathological;
mod properties;
mod validator_conformance;
