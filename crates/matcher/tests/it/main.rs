//! The integration tests of `shieldwall-matcher`, in one test binary.

mod address_filter;
mod evaluator_agreement;
