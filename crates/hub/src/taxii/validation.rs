//! The CPU-heavy part of a POST — strict JSON parsing, STIX and pattern validation, the
//! publishing rules — runs off the async workers, so that a large or hostile envelope cannot
//! stall the other requests (`/healthz` included).
//!
//! - It runs on tokio's blocking threads, but at most as many envelopes at once as the machine
//!   has cores: a flood of heavy POSTs waits for a slot instead of occupying every blocking
//!   thread (and starving the password checks and the store, which use them too).
//! - It honours the request timeout: when the request is dropped (the timeout layer answers
//!   503 and drops the handler), or when the deadline passes, the work stops before its next
//!   object. A slot is held until the work has really stopped.

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use axum::http::StatusCode;
use tokio::sync::Semaphore;

use super::{AppState, error::TaxiiError};
use crate::{
    ingest::{self, EnvelopeError, Prepared},
    policy::Principal,
};

/// How many envelopes are validated at once, process-wide: the number of cores.
pub fn slots() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

fn pool() -> Arc<Semaphore> {
    static POOL: OnceLock<Arc<Semaphore>> = OnceLock::new();
    POOL.get_or_init(|| Arc::new(Semaphore::new(slots())))
        .clone()
}

/// Sets the flag when dropped: the request is gone (finished, failed or timed out).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Parses and prepares a posted envelope ([`ingest::prepare_envelope`]) on a blocking thread,
/// within one of [`slots`] and before the request's deadline.
pub(super) async fn prepare_envelope(
    state: &AppState,
    principal: &Principal,
    inbound_member: Option<String>,
    bytes: axum::body::Bytes,
) -> Result<Vec<Prepared>, TaxiiError> {
    let deadline = Instant::now() + state.limits.request_timeout;
    let stop = Arc::new(AtomicBool::new(false));
    let _guard = StopOnDrop(stop.clone());
    let permit = pool()
        .acquire_owned()
        .await
        .map_err(|e| TaxiiError::internal(&e))?;
    let coalition = state.coalition.clone();
    let principal = principal.clone();
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let should_stop = || stop.load(Ordering::Relaxed) || Instant::now() >= deadline;
        ingest::prepare_envelope(
            &bytes,
            &principal,
            &coalition,
            inbound_member.as_deref(),
            &should_stop,
            &store::ingest_warnings::note,
        )
    });
    match work.await {
        Ok(Ok(prepared)) => Ok(prepared),
        Ok(Err(EnvelopeError::Malformed(e))) => {
            Err(TaxiiError::bad_request(format!("malformed JSON: {e}")))
        }
        Ok(Err(EnvelopeError::NotEnvelope(e))) => Err(TaxiiError::unprocessable(e)),
        Ok(Err(EnvelopeError::Stopped)) => Err(TaxiiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "the objects could not be validated within the request timeout; nothing was stored",
        )),
        Err(e) => Err(TaxiiError::internal(&e)),
    }
}
