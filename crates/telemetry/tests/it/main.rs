//! The integration tests of `shieldwall-telemetry`, in one test binary (one module per suite).

mod never_panics;
mod restricted;
mod samples;
