//! The integration tests of `shieldwall-misp`, in one test binary (one module per suite; `common` holds the shared helpers).

mod common;

mod feed_out;
mod golden;
mod test_events;
