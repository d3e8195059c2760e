//! The integration tests of `shieldwall-matcher`, in one test binary.

mod evaluator_agreement;
mod address_filter;
