//! The hub's writer of the audit trail (records and chain: `policy::audit`): one task per
//! process appends what requests hand it, several at a time in one transaction (group commit).
//!
//! Two kinds of records. [`Auditor::record`] waits until the record is on disk (SQLite's
//! `synchronous=FULL`, PostgreSQL's synchronous commit): sign-ins, deletions, everything but
//! reads. [`Auditor::record_read`], for reads returning RED or AMBER+STRICT objects, appends the
//! record to the node's audit journal ([`Journal`]: one `write(2)`, no sync) and returns: a crash
//! of this process after the answer never loses the record, which the writer drains into the
//! chain in large batches, at most [`DRAIN_EVERY`] later (committed without waiting for the
//! disk, the journal's segment deleted once that commit is durable, at most [`FLUSH_WITHIN`]
//! later — a durable batch or [`Store::audit_flush`]); what a killed process left is replayed at
//! the next start (`store::journal::recover`). Only a power loss or an operating-system crash
//! within that window can lose read records, and only the chain's tail: what remains verifies.
//! Without a journal (an auditor over an in-memory store), a read waits until its record is
//! committed. A batch holding any durable record is committed durably as a whole, after the reads
//! journaled before it.
//!
//! The queue is bounded: when it is full a request waits for room (back-pressure), and no record
//! is ever dropped; a request whose record fails is refused. The journal is bounded too
//! (`server.audit_journal_max_mb` of records not yet in the chain): beyond it, reads that need a
//! record are refused ([`AuditError::Unavailable`]) rather than answered unrecorded.
//!
//! Failed sign-ins cost a record each only within a budget (a burst of
//! [`FAILURE_BURST`], then [`FAILURES_PER_SECOND`]): beyond it they are counted, and the count is
//! recorded with the next failure recorded, so that a flood from many addresses cannot grow the
//! trail at the rate of requests. Requests refused for want of a role (a member's user at the
//! admin API, the console's admin pages or the sync status: [`Auditor::record_refusal`]) are
//! recorded within a budget of their own, the same way.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::{Notify, mpsc, oneshot};

use crate::{
    audit_chain::Entry,
    store::{AnyStore, Store, journal::Journal},
};

/// Read records committed without waiting for the disk are made durable at most this long after
/// the first of them was committed: with [`DRAIN_EVERY`], at most a second after the read was
/// answered.
pub const FLUSH_WITHIN: Duration = Duration::from_millis(800);
/// Failed sign-ins recorded one by one in a burst.
pub const FAILURE_BURST: f64 = 100.0;
/// Then this many a second.
pub const FAILURES_PER_SECOND: f64 = 2.0;
/// Records handed over by requests appended in one transaction at most.
const BATCH: usize = 256;
/// How long the writer waits after a failed append before it tries the journal again.
const RETRY_AFTER: Duration = Duration::from_millis(200);
/// The journal is drained at most this often (a record handed over by a request is not kept
/// waiting for it, and a read after a quiet spell is drained at once): under a flood of reads,
/// large batches and few transactions. What a transaction costs whatever its size — the hand-offs
/// to the database connection's thread, `BEGIN` and `COMMIT`, the chain's head, the WAL's commit,
/// and on SQLite every reader's page cache, which a commit empties — is then paid five times a
/// second, not once per record (`docs/PERFORMANCE.md`, "Audit trail").
pub const DRAIN_EVERY: Duration = Duration::from_millis(200);
/// ... or as soon as this many records are waiting (half a transaction's worth).
const DRAIN_AT: usize = crate::store::journal::DRAIN_BATCH / 2;

/// Whether reads are recorded: always, unless a benchmark measuring the audit trail's cost turned
/// it off for the whole process ([`skip_read_records_for_benchmarks`]).
static READS_RECORDED: AtomicBool = AtomicBool::new(true);

/// Benchmarks only (`SHIELDWALL_BENCH_NO_READ_AUDIT=1`, read by the binary and nothing else):
/// from now on, [`Auditor::record_read`] records nothing, so that the cost of the read records
/// can be measured against the same binary without them. There is no configuration option for
/// it, and nothing turns it on again: a node serving members never calls this.
pub fn skip_read_records_for_benchmarks() {
    READS_RECORDED.store(false, Ordering::Relaxed);
}

/// Whether this process records reads (false only after [`skip_read_records_for_benchmarks`]).
pub fn reads_recorded() -> bool {
    READS_RECORDED.load(Ordering::Relaxed)
}

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
pub enum AuditError {
    /// The record could not be written.
    #[error("the audit record could not be written: {0}")]
    Failed(String),
    /// The journal is full (the database has not taken its records for a long time): reads
    /// that need a record are refused until it has room again.
    #[error("{0}")]
    Unavailable(String),
}

#[derive(Debug)]
struct FailureBudget {
    tokens: f64,
    at: Instant,
    suppressed: u64,
}

impl FailureBudget {
    fn full() -> FailureBudget {
        FailureBudget {
            tokens: FAILURE_BURST,
            at: Instant::now(),
            suppressed: 0,
        }
    }

    /// Takes a token: `None` when there is none (the record is counted as suppressed), else the
    /// count of records suppressed since the last one taken.
    fn take(&mut self) -> Option<u64> {
        let now = Instant::now();
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * FAILURES_PER_SECOND;
        self.tokens = (self.tokens + refill).min(FAILURE_BURST);
        self.at = now;
        if self.tokens < 1.0 {
            self.suppressed += 1;
            return None;
        }
        self.tokens -= 1.0;
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::Sender<Job>,
    journal: Option<Arc<Journal>>,
    wake: Arc<Notify>,
    /// Notified when [`DRAIN_AT`] records are waiting in the journal.
    urgent: Arc<Notify>,
    failures: Mutex<FailureBudget>,
    refusals: Mutex<FailureBudget>,
}

/// A handle on the process's audit writer (cheap to clone); [`Auditor::off`] records nothing.
#[derive(Debug, Clone, Default)]
pub struct Auditor {
    inner: Option<Arc<Inner>>,
}

impl Auditor {
    /// Starts the writer task over `store` (within a Tokio runtime), reads recorded through
    /// `journal` when there is one (run `store::journal::recover` on its directory before). It
    /// ends when the last handle is dropped, after draining the journal.
    pub fn start(store: AnyStore, journal: Option<Journal>) -> Auditor {
        let (tx, rx) = mpsc::channel::<Job>(4 * BATCH);
        let journal = journal.map(Arc::new);
        let wake = Arc::new(Notify::new());
        let urgent = Arc::new(Notify::new());
        tokio::spawn(writer(
            store,
            rx,
            journal.clone(),
            wake.clone(),
            urgent.clone(),
        ));
        Auditor {
            inner: Some(Arc::new(Inner {
                tx,
                journal,
                wake,
                urgent,
                failures: Mutex::new(FailureBudget::full()),
                refusals: Mutex::new(FailureBudget::full()),
            })),
        }
    }

    /// An auditor that records nothing (tests of other parts, tools).
    pub fn off() -> Auditor {
        Auditor { inner: None }
    }

    /// Whether [`Auditor::record_read`] records anything (a caller may then skip building the
    /// entry): false for [`Auditor::off`] and in a benchmark without read records.
    pub fn records_reads(&self) -> bool {
        self.inner.is_some() && READS_RECORDED.load(Ordering::Relaxed)
    }

    /// Appends `entry` and waits until it is committed durably (on disk).
    pub async fn record(&self, entry: Entry) -> Result<(), AuditError> {
        self.append(entry, Durability::Durable).await
    }

    /// Records a read: appended to the journal (it then survives a crash of the process) and
    /// drained into the chain in the background; without a journal, waits until the record is
    /// committed. Durable within [`FLUSH_WITHIN`] either way (see the module).
    pub async fn record_read(&self, entry: Entry) -> Result<(), AuditError> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        if !READS_RECORDED.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some(journal) = &inner.journal else {
            return self.append(entry, Durability::Committed).await;
        };
        match journal.append(crate::timestamps::now_us(), entry) {
            Ok(waiting) => {
                inner.wake.notify_one();
                if waiting >= DRAIN_AT {
                    inner.urgent.notify_one();
                }
                Ok(())
            }
            Err(e @ crate::store::journal::JournalError::Full(_)) => {
                inner.wake.notify_one();
                Err(AuditError::Unavailable(e.to_string()))
            }
            Err(e) => Err(AuditError::Failed(e.to_string())),
        }
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
            .map_err(|_| AuditError::Failed("the audit writer stopped".into()))?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AuditError::Failed(e)),
            Err(_) => Err(AuditError::Failed("the audit writer stopped".into())),
        }
    }

    /// Records a failed sign-in within the failure budget (see the module); never fails the
    /// request (a write error is logged).
    pub async fn record_failure(&self, entry: Entry) {
        let Some(inner) = &self.inner else {
            return;
        };
        let taken = inner.failures.lock().map(|mut b| b.take()).unwrap_or(None);
        let Some(suppressed) = taken else {
            metrics::counter!("shieldwall_audit_failures_suppressed_total").increment(1);
            return;
        };
        let note = (suppressed > 0).then(|| {
            Entry::new("anonymous", "sign-in-failed", "taxii", "*", "suppressed").detail(&format!(
                "{suppressed} failed sign-ins beyond {FAILURES_PER_SECOND}/s were not recorded one by one"
            ))
        });
        self.record_budgeted(note, entry, "Failed sign-in not audited.")
            .await;
    }

    /// Records a request refused because the signed-in principal lacks the role it needs (a
    /// member's user at an admin-only route), within a budget of its own like failed sign-ins;
    /// never fails the request (a write error is logged).
    pub async fn record_refusal(&self, entry: Entry) {
        let Some(inner) = &self.inner else {
            return;
        };
        let taken = inner.refusals.lock().map(|mut b| b.take()).unwrap_or(None);
        let Some(suppressed) = taken else {
            metrics::counter!("shieldwall_audit_refusals_suppressed_total").increment(1);
            return;
        };
        let note = (suppressed > 0).then(|| {
            Entry::new("anonymous", "admin-refused", &entry.path, "*", "suppressed").detail(&format!(
                "{suppressed} refused requests beyond {FAILURES_PER_SECOND}/s were not recorded one by one"
            ))
        });
        self.record_budgeted(note, entry, "Refused request not audited.")
            .await;
    }

    async fn record_budgeted(&self, note: Option<Entry>, entry: Entry, warning: &str) {
        if let Some(note) = note
            && let Err(e) = self.record(note).await
        {
            tracing::warn!(error = %e, "{warning}");
        }
        if let Err(e) = self.record(entry).await {
            tracing::warn!(error = %e, "{warning}");
        }
    }
}

/// The writer task: group-commits the requests' records and drains the journal, in one
/// transaction per round; makes non-durable commits durable within [`FLUSH_WITHIN`].
async fn writer(
    store: AnyStore,
    mut rx: mpsc::Receiver<Job>,
    journal: Option<Arc<Journal>>,
    wake: Arc<Notify>,
    urgent: Arc<Notify>,
) {
    // When the oldest record committed but not yet durable was committed.
    let mut unflushed: Option<Instant> = None;
    let mut open = true;
    let mut last_drain: Option<Instant> = None;
    loop {
        let mut jobs: Vec<Job> = Vec::new();
        if open {
            let deadline = unflushed.map(|since| since + FLUSH_WITHIN);
            tokio::select! {
                biased;
                () = sleep_until(deadline), if deadline.is_some() => {
                    flush(&store, &mut unflushed, journal.as_deref()).await;
                    continue;
                }
                job = rx.recv() => match job {
                    Some(j) => jobs.push(j),
                    None => open = false,
                },
                () = wake.notified() => {
                    // Journaled reads only: drained at most every DRAIN_EVERY, sooner when a
                    // record that is waited for comes or DRAIN_AT records are waiting (and never
                    // later than a sync that is due).
                    if let Some(until) = last_drain.map(|t| t + DRAIN_EVERY)
                        && until > Instant::now()
                        && journal.as_ref().is_none_or(|j| j.pending() < DRAIN_AT)
                    {
                        let until = deadline.map_or(until, |d| d.min(until));
                        tokio::select! {
                            biased;
                            job = rx.recv() => match job {
                                Some(j) => jobs.push(j),
                                None => open = false,
                            },
                            () = urgent.notified() => {}
                            () = tokio::time::sleep_until(until.into()) => {}
                        }
                    }
                }
            }
        }
        while open && jobs.len() < BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        // The reads journaled so far come first: a record handed over after a read was
        // answered is chained after it.
        let batch = journal
            .as_ref()
            .map(|j| j.take(crate::store::journal::DRAIN_BATCH))
            .unwrap_or_default();
        if jobs.is_empty() && batch.is_empty() {
            if open {
                continue;
            }
            break;
        }
        let durable = jobs.iter().any(|(_, d, _)| *d == Durability::Durable);
        let started = Instant::now();
        last_drain = Some(started);
        let result = match &journal {
            Some(_) if jobs.is_empty() => {
                store
                    .audit_append_journaled(&batch.items, &batch.marks, &batch.forget, durable)
                    .await
            }
            Some(_) => {
                let now = crate::timestamps::now_us();
                let items: Vec<(i64, &Entry)> = batch
                    .items
                    .iter()
                    .map(|(t, e)| (*t, &**e))
                    .chain(jobs.iter().map(|(e, _, _)| (now, e)))
                    .collect();
                store
                    .audit_append_journaled(&items, &batch.marks, &batch.forget, durable)
                    .await
            }
            None => {
                let entries: Vec<Entry> = jobs.iter().map(|(e, _, _)| e.clone()).collect();
                if durable {
                    store.audit_append(&entries).await
                } else {
                    store.audit_append_committed(&entries).await
                }
            }
        }
        .map(|_| ())
        .map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, records = jobs.len() + batch.items.len(), "The audit trail could not be appended to.");
        }
        if let Some(j) = &journal {
            if result.is_ok() {
                j.drained(&batch);
            } else {
                j.not_drained(batch);
            }
        }
        if !durable {
            // (Even after an error: the commit may have happened.)
            unflushed.get_or_insert(started);
        } else if result.is_ok() {
            // A durable commit syncs everything committed before it too.
            unflushed = None;
            if let Some(j) = &journal {
                j.durable(false);
            }
        }
        let failed = result.is_err();
        for (_, _, ack) in jobs {
            let _ = ack.send(result.clone());
        }
        // Under a steady flow the queue is never empty: the window is kept all the same.
        if unflushed.is_some_and(|since| since.elapsed() >= FLUSH_WITHIN) {
            flush(&store, &mut unflushed, journal.as_deref()).await;
        }
        if failed {
            if !open {
                break;
            }
            tokio::time::sleep(RETRY_AFTER).await;
        }
        if journal.as_ref().is_some_and(|j| j.pending() > 0) {
            wake.notify_one();
        }
    }
    // The last handle is gone (the process is stopping): nothing left undurable, and the
    // journal's segments deleted once their records are.
    if unflushed.is_some() {
        flush(&store, &mut unflushed, journal.as_deref()).await;
    }
    if let Some(j) = &journal
        && unflushed.is_none()
    {
        j.durable(true);
        let batch = j.take(0);
        if !batch.is_empty()
            && store
                .audit_append_journaled(&[] as &[(i64, Entry)], &[], &batch.forget, true)
                .await
                .is_err()
        {
            j.not_drained(batch);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Makes the records committed so far durable (and deletes the journal's segments wholly in
/// them); on failure, tries again a window later.
async fn flush(store: &AnyStore, unflushed: &mut Option<Instant>, journal: Option<&Journal>) {
    match store.audit_flush().await {
        Ok(()) => {
            *unflushed = None;
            if let Some(j) = journal {
                j.durable(false);
            }
        }
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
        let a = Auditor::start(store.clone(), None);
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

    #[tokio::test]
    async fn refusals_have_a_budget_of_their_own() {
        let store = AnyStore::open("sqlite://:memory:").await.unwrap();
        let a = Auditor::start(store.clone(), None);
        let refusal = |i: usize| {
            Entry::new(
                &format!("u{i}"),
                "admin-refused",
                "admin-api",
                "addUser",
                "refused",
            )
        };
        for i in 0..150 {
            a.record_refusal(refusal(i)).await;
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
        // The sign-in failures' budget is untouched by the refusals.
        a.record_failure(Entry::new(
            "anonymous",
            "sign-in-failed",
            "taxii",
            "user:x",
            "failed",
        ))
        .await;
        assert_eq!(all().await.len(), n + 1);
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        a.record_refusal(refusal(150)).await;
        let records = all().await;
        let note = &records[records.len() - 2];
        assert_eq!(
            (note.action.as_str(), note.outcome.as_str()),
            ("admin-refused", "suppressed")
        );
        let count: u64 = note.detail.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(count as usize + n, 150, "{}", note.detail);
        assert_eq!(records[records.len() - 1].actor, "u150");
    }
}
