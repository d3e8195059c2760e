//! The hub's writer of the audit trail (records and chain: `policy::audit`): one task per
//! process appends what requests hand it, several at a time in one transaction (group commit),
//! and tells each request when its record is committed, so that a RED read is answered only
//! after its record is committed (and not at all when it cannot be recorded).
//!
//! Two strengths of commit. [`Auditor::record`] waits until the record is on disk (SQLite's
//! `synchronous=FULL`, PostgreSQL's synchronous commit): sign-ins, deletions, everything but
//! reads. [`Auditor::record_read`], for reads returning RED or AMBER+STRICT objects, waits until
//! the record is committed, not until it is synced ([`Store::audit_append_committed`]): a crash of
//! this process after the answer never loses the record, and the writer makes every such commit
//! durable at most [`FLUSH_WITHIN`] later ([`Store::audit_flush`], or sooner when a durable batch
//! or any other write comes first). Only a power loss, an operating-system crash or a crash of
//! the PostgreSQL server within that window can lose read records, and only the chain's tail:
//! what remains verifies. A batch holding any durable record is committed durably as a whole.
//!
//! The queue is bounded: when it is full a request waits for room (back-pressure), and no record
//! is ever dropped; a request whose record fails is refused.
//!
//! Failed sign-ins cost a record each only within a budget (a burst of
//! [`FAILURE_BURST`], then [`FAILURES_PER_SECOND`]): beyond it they are counted, and the count is
//! recorded with the next failure recorded, so that a flood from many addresses cannot grow the
//! trail at the rate of requests.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::{mpsc, oneshot};

use crate::{
    audit_chain::Entry,
    store::{AnyStore, Store},
};

/// Read records committed without waiting for the disk are made durable at most this long after
/// the first of them was committed.
pub const FLUSH_WITHIN: Duration = Duration::from_secs(1);
/// Failed sign-ins recorded one by one in a burst.
pub const FAILURE_BURST: f64 = 100.0;
/// Then this many a second.
pub const FAILURES_PER_SECOND: f64 = 2.0;
/// Records appended in one transaction at most.
const BATCH: usize = 256;

/// How a record must be committed before its request goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// On disk.
    Durable,
    /// Committed; on disk within [`FLUSH_WITHIN`].
    Committed,
}

type Job = (Entry, Durability, oneshot::Sender<Result<(), String>>);

/// Why a record was not written.
#[derive(Debug, thiserror::Error)]
#[error("the audit record could not be written: {0}")]
pub struct AuditError(String);

#[derive(Debug)]
struct FailureBudget {
    tokens: f64,
    at: Instant,
    suppressed: u64,
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::Sender<Job>,
    failures: Mutex<FailureBudget>,
}

/// A handle on the process's audit writer (cheap to clone); [`Auditor::off`] records nothing.
#[derive(Debug, Clone, Default)]
pub struct Auditor {
    inner: Option<Arc<Inner>>,
}

impl Auditor {
    /// Starts the writer task over `store` (within a Tokio runtime). It ends when the last
    /// handle is dropped.
    pub fn start(store: AnyStore) -> Auditor {
        let (tx, mut rx) = mpsc::channel::<Job>(4 * BATCH);
        tokio::spawn(async move {
            // When the oldest record committed but not yet durable was committed.
            let mut unflushed: Option<Instant> = None;
            loop {
                let first = match unflushed {
                    None => rx.recv().await,
                    Some(since) => {
                        tokio::select! {
                            biased;
                            () = tokio::time::sleep_until((since + FLUSH_WITHIN).into()) => {
                                flush(&store, &mut unflushed).await;
                                continue;
                            }
                            job = rx.recv() => job,
                        }
                    }
                };
                let Some(first) = first else { break };
                let mut jobs = vec![first];
                while jobs.len() < BATCH {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let entries: Vec<Entry> = jobs.iter().map(|(e, _, _)| e.clone()).collect();
                let durable = jobs.iter().any(|(_, d, _)| *d == Durability::Durable);
                let started = Instant::now();
                let result = if durable {
                    store.audit_append(&entries).await
                } else {
                    store.audit_append_committed(&entries).await
                }
                .map(|_| ())
                .map_err(|e| e.to_string());
                if let Err(e) = &result {
                    tracing::error!(error = %e, records = entries.len(), "The audit trail could not be appended to.");
                }
                if !durable {
                    // (Even after an error: the commit may have happened.)
                    unflushed.get_or_insert(started);
                } else if result.is_ok() {
                    // A durable commit syncs everything committed before it too.
                    unflushed = None;
                }
                for (_, _, ack) in jobs {
                    let _ = ack.send(result.clone());
                }
                // Under a steady flow the queue is never empty: the window is kept all the same.
                if unflushed.is_some_and(|since| since.elapsed() >= FLUSH_WITHIN) {
                    flush(&store, &mut unflushed).await;
                }
            }
            // The last handle is gone (the process is stopping): nothing left undurable.
            if unflushed.is_some() {
                flush(&store, &mut unflushed).await;
            }
        });
        Auditor {
            inner: Some(Arc::new(Inner {
                tx,
                failures: Mutex::new(FailureBudget {
                    tokens: FAILURE_BURST,
                    at: Instant::now(),
                    suppressed: 0,
                }),
            })),
        }
    }

    /// An auditor that records nothing (tests of other parts, tools).
    pub fn off() -> Auditor {
        Auditor { inner: None }
    }

    /// Appends `entry` and waits until it is committed durably (on disk).
    pub async fn record(&self, entry: Entry) -> Result<(), AuditError> {
        self.append(entry, Durability::Durable).await
    }

    /// Appends the record of a read and waits until it is committed (it then survives a crash
    /// of the process), not until it is synced: durable within [`FLUSH_WITHIN`] (see the module).
    pub async fn record_read(&self, entry: Entry) -> Result<(), AuditError> {
        self.append(entry, Durability::Committed).await
    }

    async fn append(&self, entry: Entry, durability: Durability) -> Result<(), AuditError> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let (ack, done) = oneshot::channel();
        // Waits for room when the queue is full: back-pressure, never a dropped record.
        inner
            .tx
            .send((entry, durability, ack))
            .await
            .map_err(|_| AuditError("the audit writer stopped".into()))?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AuditError(e)),
            Err(_) => Err(AuditError("the audit writer stopped".into())),
        }
    }

    /// Records a failed sign-in within the failure budget (see the module); never fails the
    /// request (a write error is logged).
    pub async fn record_failure(&self, entry: Entry) {
        let Some(inner) = &self.inner else {
            return;
        };
        let suppressed = {
            let Ok(mut b) = inner.failures.lock() else {
                return;
            };
            let now = Instant::now();
            let refill = now.saturating_duration_since(b.at).as_secs_f64() * FAILURES_PER_SECOND;
            b.tokens = (b.tokens + refill).min(FAILURE_BURST);
            b.at = now;
            if b.tokens < 1.0 {
                b.suppressed += 1;
                metrics::counter!("shieldwall_audit_failures_suppressed_total").increment(1);
                return;
            }
            b.tokens -= 1.0;
            std::mem::take(&mut b.suppressed)
        };
        if suppressed > 0 {
            let note = Entry::new("anonymous", "sign-in-failed", "taxii", "*", "suppressed")
                .detail(&format!(
                    "{suppressed} failed sign-ins beyond {FAILURES_PER_SECOND}/s were not recorded one by one"
                ));
            if let Err(e) = self.record(note).await {
                tracing::warn!(error = %e, "Failed sign-in not audited.");
            }
        }
        if let Err(e) = self.record(entry).await {
            tracing::warn!(error = %e, "Failed sign-in not audited.");
        }
    }
}

/// Makes the records committed so far durable; on failure, tries again a window later.
async fn flush(store: &AnyStore, unflushed: &mut Option<Instant>) {
    match store.audit_flush().await {
        Ok(()) => *unflushed = None,
        Err(e) => {
            tracing::error!(error = %e, "The audit trail could not be made durable; trying again.");
            *unflushed = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::AuditQuery;

    #[tokio::test]
    async fn a_flood_of_failed_sign_ins_is_counted_not_recorded_one_by_one() {
        let store = AnyStore::open("sqlite://:memory:").await.unwrap();
        let a = Auditor::start(store.clone());
        let failure = |i: usize| {
            Entry::new(
                "anonymous",
                "sign-in-failed",
                "taxii",
                &format!("user:u{i}"),
                "failed",
            )
        };
        for i in 0..300 {
            a.record_failure(failure(i)).await;
        }
        let all = || async {
            store
                .audit_records(&AuditQuery {
                    limit: 10_000,
                    ..AuditQuery::default()
                })
                .await
                .unwrap()
        };
        let n = all().await.len();
        assert!((100..=110).contains(&n), "{n} records");
        // Once the budget refills, the count comes first, then the failure.
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        a.record_failure(failure(300)).await;
        let records = all().await;
        let note = &records[records.len() - 2];
        assert_eq!(note.outcome, "suppressed");
        let count: u64 = note.detail.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(count as usize + n, 300, "{}", note.detail);
        assert_eq!(records[records.len() - 1].target, "user:u300");
        assert!(
            crate::audit_chain::verify(records, None)
                .problems
                .is_empty()
        );
        // Other records are not budgeted.
        a.record(Entry::new("alice", "read", "taxii", "collection:c", "ok"))
            .await
            .unwrap();
        assert!(Auditor::off().record(failure(0)).await.is_ok());
    }
}
