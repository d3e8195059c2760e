//! The node's audit journal: the records of reads that return RED or AMBER+STRICT objects,
//! appended to a file before the read is answered and drained into the audit chain (`audit`)
//! in large batches afterwards (`docs/AUDIT.md`, "Durability").
//!
//! A journal is a directory of segment files `START-RANDOM-GEN.journal`, each one line per
//! record ([`audit::journal_line`]: a check and a JSON object, so that no field can forge a line).
//! A process appends to its own segment only, with one `write(2)` per record (`O_APPEND`, no
//! sync: the record is then in the operating system's cache and survives a crash of the process
//! as a SQLite `synchronous=NORMAL` commit does), and holds an exclusive lock (`flock`) on every
//! segment it has not yet deleted, so that nodes sharing a directory, and the CLI, never touch a
//! live segment. Each batch drained into the chain records, in the same transaction, how far it
//! read each segment (table `audit_journal`); a segment is deleted once its records are durable
//! in the database. [`recover`] replays what a stopped or killed process left (segments nobody
//! holds), from the offset recorded for each: a crash between the commit of a batch and the
//! deletion of its segment neither loses nor duplicates a record. A torn last line (a process
//! killed in the middle of a write) is dropped; a line that is not a record is skipped; both are
//! recorded in the chain (action `audit-journal`) so that `audit show` tells.

use std::{
    collections::VecDeque,
    fs::{File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use ::policy::audit::{self, Entry};
use sqlx::Row;

use crate::{AnyStore, StoreError, files, timestamps};

/// A segment is closed and a new one started once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 1 << 20;
/// Records drained in one transaction at most.
pub const DRAIN_BATCH: usize = 4096;
const SUFFIX: &str = ".journal";

/// Why a record was not journaled.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Too many records are waiting to reach the audit chain (the database cannot be written).
    #[error(
        "the audit journal is full: {0} bytes of records are waiting for the database to take them"
    )]
    Full(u64),
    /// The file could not be written.
    #[error("the audit journal could not be written: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug)]
struct Segment {
    file: File,
    name: Arc<str>,
    path: PathBuf,
    len: u64,
}

#[derive(Debug)]
struct Closed {
    /// Held open for its lock until the file is deleted.
    _file: File,
    name: Arc<str>,
    path: PathBuf,
    /// The end of its last whole record.
    end: u64,
    drained: bool,
}

#[derive(Debug)]
struct Pending {
    time_us: i64,
    entry: Arc<Entry>,
    segment: Arc<str>,
    end: u64,
    bytes: u64,
}

#[derive(Debug)]
struct State {
    cur: Option<Segment>,
    next_gen: u64,
    pending: VecDeque<Pending>,
    pending_bytes: u64,
    closed: Vec<Closed>,
    /// Deleted segments whose row of `audit_journal` is to be deleted.
    forget: Vec<String>,
}

/// This process's journal (see the module).
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    prefix: String,
    max_bytes: u64,
    state: Mutex<State>,
}

/// Records taken from the journal for one transaction ([`Journal::take`]).
#[derive(Debug, Default)]
pub struct Batch {
    /// `(time_us, entry)` in journal order (the entries the journal keeps in memory: they are
    /// read back from its files only by [`recover`]).
    pub items: Vec<(i64, Arc<Entry>)>,
    /// For each segment the batch reads from: how far it has then been drained.
    pub marks: Vec<(String, i64)>,
    /// Rows of `audit_journal` of deleted segments, deleted in the same transaction.
    pub forget: Vec<String>,
    bytes: u64,
}

impl Batch {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.forget.is_empty()
    }
}

fn lock_err(_: impl std::fmt::Debug) -> std::io::Error {
    std::io::Error::other("the audit journal's lock is poisoned")
}

impl Journal {
    /// Opens a new journal of this process in `dir` (created 0700 when missing), holding at most
    /// `max_bytes` of records not yet drained. Run [`recover`] on `dir` first.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Journal> {
        files::create_private_dir_all(dir)?;
        let mut random = [0u8; 4];
        getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
        let j = Journal {
            dir: dir.to_path_buf(),
            prefix: format!(
                "{:016}-{:08x}",
                timestamps::now_us().max(0),
                u32::from_be_bytes(random)
            ),
            max_bytes,
            state: Mutex::new(State {
                cur: None,
                next_gen: 1,
                pending: VecDeque::new(),
                pending_bytes: 0,
                closed: Vec::new(),
                forget: Vec::new(),
            }),
        };
        {
            let mut st = j.state.lock().map_err(lock_err)?;
            let seg = j.new_segment(&mut st)?;
            st.cur = Some(seg);
        }
        Ok(j)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn new_segment(&self, st: &mut State) -> std::io::Result<Segment> {
        let name = format!("{}-{:06}{SUFFIX}", self.prefix, st.next_gen);
        st.next_gen += 1;
        let path = self.dir.join(&name);
        let mut o = OpenOptions::new();
        o.append(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let file = o.open(&path)?;
        file.try_lock()
            .map_err(|e| std::io::Error::other(format!("cannot lock {}: {e}", path.display())))?;
        Ok(Segment {
            file,
            name: name.into(),
            path,
            len: 0,
        })
    }

    /// Closes the current segment (its records stay pending) and starts a new one.
    fn rotate(&self, st: &mut State) -> std::io::Result<()> {
        let next = self.new_segment(st)?;
        if let Some(old) = st.cur.replace(next) {
            let drained = !st.pending.iter().any(|p| p.segment == old.name);
            st.closed.push(Closed {
                _file: old.file,
                name: old.name,
                path: old.path,
                end: old.len,
                drained,
            });
        }
        Ok(())
    }

    /// Appends one record with one write; when this returns `Ok` the record is in the file (in
    /// the operating system's cache), and the answer is how many records are then waiting to be
    /// drained. Refused when more than the cap is waiting to be drained.
    pub fn append(&self, time_us: i64, entry: Entry) -> Result<usize, JournalError> {
        let line = audit::journal_line(time_us, &entry);
        if line.is_empty() {
            return Err(JournalError::Io(std::io::Error::other(
                "the record could not be encoded",
            )));
        }
        let bytes = line.len() as u64;
        let mut st = self.state.lock().map_err(lock_err)?;
        if st.pending_bytes + bytes > self.max_bytes {
            metrics::counter!("shieldwall_audit_journal_full_total").increment(1);
            return Err(JournalError::Full(st.pending_bytes));
        }
        let st = &mut *st;
        let Some(cur) = st.cur.as_mut() else {
            return Err(JournalError::Io(std::io::Error::other(
                "the audit journal has no open segment",
            )));
        };
        if let Err(e) = (&cur.file).write_all(line.as_bytes()) {
            // Part of the line may be in the file: nothing more is written after it (the tail
            // is dropped as torn when the segment is replayed, and deleted once drained).
            let _ = self.rotate(st);
            return Err(e.into());
        }
        cur.len += bytes;
        let (segment, end) = (cur.name.clone(), cur.len);
        st.pending.push_back(Pending {
            time_us,
            entry: Arc::new(entry),
            segment,
            end,
            bytes,
        });
        st.pending_bytes += bytes;
        if end >= SEGMENT_BYTES
            && let Err(e) = self.rotate(st)
        {
            tracing::warn!(error = %e, "The audit journal could not start a new segment.");
        }
        Ok(st.pending.len())
    }

    /// Records waiting to be drained.
    pub fn pending(&self) -> usize {
        self.state.lock().map(|s| s.pending.len()).unwrap_or(0)
    }

    /// A copy of the first `max` records waiting, with the marks to commit with them (they stay
    /// waiting until [`Journal::drained`]).
    pub fn take(&self, max: usize) -> Batch {
        let Ok(mut st) = self.state.lock() else {
            return Batch::default();
        };
        let mut b = Batch {
            forget: std::mem::take(&mut st.forget),
            ..Batch::default()
        };
        for p in st.pending.iter().take(max) {
            b.items.push((p.time_us, p.entry.clone()));
            b.bytes += p.bytes;
            let end = i64::try_from(p.end).unwrap_or(i64::MAX);
            match b.marks.last_mut() {
                Some((s, e)) if **s == *p.segment => *e = end,
                _ => b.marks.push((p.segment.to_string(), end)),
            }
        }
        b
    }

    /// `batch` was committed: its records leave the journal's queue.
    pub fn drained(&self, batch: &Batch) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let st = &mut *st;
        for _ in 0..batch.items.len() {
            st.pending.pop_front();
        }
        st.pending_bytes = st.pending_bytes.saturating_sub(batch.bytes);
        for c in &mut st.closed {
            if batch
                .marks
                .iter()
                .any(|(s, e)| **s == *c.name && u64::try_from(*e).is_ok_and(|e| e >= c.end))
            {
                c.drained = true;
            }
        }
    }

    /// `batch` was not committed: the rows it was to forget are forgotten with a later one.
    pub fn not_drained(&self, batch: Batch) {
        if let Ok(mut st) = self.state.lock() {
            st.forget.extend(batch.forget);
        }
    }

    /// Everything committed so far is durable: deletes the closed segments wholly drained.
    /// With `retire`, the current segment too when nothing of it is waiting (the process is
    /// stopping; no record is appended after this).
    pub fn durable(&self, retire: bool) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let st = &mut *st;
        if retire
            && st.pending.is_empty()
            && let Some(cur) = st.cur.take()
        {
            st.closed.push(Closed {
                _file: cur.file,
                name: cur.name,
                path: cur.path,
                end: cur.len,
                drained: true,
            });
        }
        let mut kept = Vec::new();
        for c in st.closed.drain(..) {
            if !c.drained {
                kept.push(c);
                continue;
            }
            // Deleted while still locked: a replay that waited for the lock finds it gone.
            match std::fs::remove_file(&c.path) {
                Ok(()) => st.forget.push(c.name.to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    st.forget.push(c.name.to_string());
                }
                Err(e) => {
                    tracing::warn!(error = %e, file = %c.path.display(), "An audit journal segment could not be deleted.");
                    kept.push(c);
                }
            }
        }
        st.closed = kept;
    }
}

impl AnyStore {
    /// Appends `items` (`(time_us, entry)`, in order) to the audit chain like
    /// [`crate::Store::audit_append`], and records `marks` (how far each journal segment was
    /// drained) and deletes the rows of `forget` in the same transaction. `durable`: committed
    /// with a disk sync (SQLite `synchronous=FULL`, PostgreSQL synchronous commit); otherwise
    /// as [`crate::Store::audit_append_committed`], made durable by
    /// [`crate::Store::audit_flush`].
    pub async fn audit_append_journaled(
        &self,
        items: &[(i64, impl std::borrow::Borrow<Entry> + Sync)],
        marks: &[(String, i64)],
        forget: &[String],
        durable: bool,
    ) -> Result<audit::Head, StoreError> {
        const MARK: &str = "INSERT INTO audit_journal (segment, drained) VALUES ($1, $2) \
             ON CONFLICT (segment) DO UPDATE SET drained = excluded.drained";
        const FORGET: &str = "DELETE FROM audit_journal WHERE segment = $1";
        macro_rules! body {
            ($tx:expr) => {{
                let head =
                    crate::backends::append_audit_in!(@timed $tx, items.iter().map(|(t, e)| (*t, std::borrow::Borrow::<Entry>::borrow(e))));
                for (segment, drained) in marks {
                    sqlx::query(MARK)
                        .bind(segment)
                        .bind(*drained)
                        .execute(&mut *$tx)
                        .await?;
                }
                for segment in forget {
                    sqlx::query(FORGET).bind(segment).execute(&mut *$tx).await?;
                }
                head
            }};
        }
        match self {
            AnyStore::Sqlite(s) => {
                if durable {
                    let mut tx = s.writer.begin_with("BEGIN IMMEDIATE").await?;
                    let head = body!(tx);
                    tx.commit().await?;
                    Ok(head)
                } else {
                    let mut guard = crate::backends::RelaxedWriter {
                        conn: s.writer.acquire().await?,
                        restored: false,
                    };
                    let conn = &mut *guard.conn;
                    sqlx::raw_sql("PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE")
                        .execute(&mut *conn)
                        .await?;
                    let head = body!(conn);
                    sqlx::raw_sql("COMMIT; PRAGMA synchronous = FULL")
                        .execute(&mut *conn)
                        .await?;
                    guard.restored = true;
                    Ok(head)
                }
            }
            AnyStore::Postgres(s) => {
                let mut tx = s.pool().begin().await?;
                sqlx::query(if durable {
                    "SELECT pg_advisory_xact_lock(72830003)"
                } else {
                    "SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(72830003)"
                })
                .execute(&mut *tx)
                .await?;
                let head = body!(tx);
                tx.commit().await?;
                Ok(head)
            }
        }
    }

    /// How far the journal segment `segment` was drained (bytes), if it ever was.
    pub async fn audit_journal_drained(&self, segment: &str) -> Result<Option<i64>, StoreError> {
        const Q: &str = "SELECT drained FROM audit_journal WHERE segment = $1";
        let drained: Option<i64> = match self {
            AnyStore::Sqlite(s) => sqlx::query(Q)
                .bind(segment)
                .fetch_optional(&s.writer)
                .await?
                .map(|r| r.try_get::<i64, _>(0))
                .transpose()?,
            AnyStore::Postgres(s) => sqlx::query(Q)
                .bind(segment)
                .fetch_optional(s.pool())
                .await?
                .map(|r| r.try_get::<i64, _>(0))
                .transpose()?,
        };
        Ok(drained)
    }
}

/// What [`recover`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Segments replayed (and deleted).
    pub segments: usize,
    /// Records appended to the chain from them.
    pub records: u64,
    /// Segments skipped: held by a running process.
    pub live: usize,
    /// Torn last lines dropped.
    pub torn: u64,
    /// Lines that were not records, skipped.
    pub damaged: u64,
}

/// Largest segment [`recover`] reads (a segment is closed at [`SEGMENT_BYTES`]).
const MAX_SEGMENT: u64 = 64 * SEGMENT_BYTES;

fn journal_note(segment: &str, outcome: &str, detail: &str) -> Entry {
    Entry::new(
        "shieldwall",
        "audit-journal",
        "audit",
        &format!("journal:{segment}"),
        outcome,
    )
    .detail(detail)
}

/// Replays into the chain every segment in `dir` that no running process holds (a process that
/// stopped or was killed), from where its drained mark says, each committed durably with its
/// mark, then deletes it. Idempotent; a missing `dir` is an empty journal.
pub async fn recover(store: &AnyStore, dir: &Path) -> Result<Recovered, StoreError> {
    let io = |e: std::io::Error| StoreError::Journal(format!("{}: {e}", dir.display()));
    let mut out = Recovered::default();
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(SUFFIX) && !n.starts_with('.'))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(e)),
    };
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                out.live += 1;
                continue;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // Whoever held it may have deleted it before letting go: then it is done with.
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let held = file.metadata().map_err(io)?;
            match std::fs::metadata(&path) {
                Ok(m) if m.dev() == held.dev() && m.ino() == held.ino() => {}
                _ => continue,
            }
        }
        let len = file.metadata().map_err(io)?.len();
        if len > MAX_SEGMENT {
            return Err(io(std::io::Error::other(format!(
                "{name} holds {len} bytes, more than a segment ever does: look at it, move it away and start again"
            ))));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.read_to_end(&mut bytes).map_err(io)?;
        let drained = store.audit_journal_drained(&name).await?.unwrap_or(0);
        let start = usize::try_from(drained).unwrap_or(usize::MAX);
        let mut items: Vec<(i64, Entry)> = Vec::new();
        let mut pos = start.min(bytes.len());
        if start > bytes.len() {
            tracing::error!(segment = %name, drained, len = bytes.len(), "An audit journal segment is shorter than what was drained from it.");
            out.damaged += 1;
            items.push((
                timestamps::now_us(),
                journal_note(
                    &name,
                    "damaged",
                    &format!(
                        "the segment holds {} bytes but {drained} were drained from it: it was cut or replaced",
                        bytes.len()
                    ),
                ),
            ));
        }
        let flush = |items: &mut Vec<(i64, Entry)>, upto: usize| {
            let batch = std::mem::take(items);
            let mark = (name.clone(), i64::try_from(upto).unwrap_or(i64::MAX));
            async move {
                store
                    .audit_append_journaled(&batch, &[mark], &[], true)
                    .await
                    .map(|_| batch.len() as u64)
            }
        };
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
                // The last line has no end: the process died writing it, before its read was
                // answered.
                out.torn += 1;
                tracing::warn!(segment = %name, offset = pos, bytes = rest.len(), "Dropped the torn last line of an audit journal segment.");
                items.push((
                    timestamps::now_us(),
                    journal_note(
                        &name,
                        "torn",
                        &format!(
                            "byte {pos}: a last line of {} bytes without its end was dropped (a write cut by a crash; its read was not answered)",
                            rest.len()
                        ),
                    ),
                ));
                pos = bytes.len();
                break;
            };
            match audit::parse_journal_line(&rest[..nl]) {
                Ok(item) => items.push(item),
                Err(e) => {
                    out.damaged += 1;
                    tracing::error!(segment = %name, offset = pos, error = %e, "Skipped a damaged line of an audit journal segment.");
                    items.push((
                        timestamps::now_us(),
                        journal_note(
                            &name,
                            "damaged",
                            &format!("byte {pos}: a line of {nl} bytes was skipped: {e}"),
                        ),
                    ));
                }
            }
            pos += nl + 1;
            if items.len() >= DRAIN_BATCH {
                out.records += flush(&mut items, pos).await?;
            }
        }
        if !items.is_empty() {
            out.records += flush(&mut items, pos).await?;
        }
        // Deleted while locked, then its row: a crash in between leaves a row, never a replay.
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        store
            .audit_append_journaled(
                &[] as &[(i64, Entry)],
                &[],
                std::slice::from_ref(&name),
                true,
            )
            .await?;
        drop(file);
        out.segments += 1;
    }
    if out.segments > 0 {
        tracing::info!(
            segments = out.segments,
            records = out.records,
            torn = out.torn,
            damaged = out.damaged,
            "Replayed the audit journal left by a stopped process."
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// What the writer drains from memory is exactly what a replay would read back from the
    /// file, line for line and in order (the file is read again only by [`recover`]), and a
    /// record leaves the queue only once its batch is drained; a batch that failed is taken
    /// again whole.
    #[test]
    fn the_records_in_memory_are_the_records_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path(), 1 << 20).unwrap();
        let entries: Vec<Entry> = (0..50)
            .map(|i| {
                Entry::new(
                    &format!("eve\n\"{i}\\"),
                    "read",
                    "taxii",
                    &format!("collection:\u{0}{i}"),
                    "ok",
                )
                .detail(&format!("red=1 [indicator--{i}] \u{2028}"))
            })
            .collect();
        for (i, e) in entries.iter().enumerate() {
            j.append(1_000 + i as i64, e.clone()).unwrap();
        }
        assert_eq!(j.pending(), 50);
        let first = j.take(20);
        assert_eq!(first.items.len(), 20);
        j.not_drained(j.take(0));
        // Not drained: taken again, the same.
        let again = j.take(20);
        assert_eq!(again.items, first.items);
        assert_eq!(again.marks, first.marks);
        j.drained(&again);
        assert_eq!(j.pending(), 30);
        let rest = j.take(DRAIN_BATCH);
        assert_eq!(rest.items.len(), 30);

        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        let bytes = std::fs::read(&files[0]).unwrap();
        let from_file: Vec<(i64, Entry)> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| audit::parse_journal_line(l).unwrap())
            .collect();
        let in_memory: Vec<(i64, Entry)> = again
            .items
            .iter()
            .chain(&rest.items)
            .map(|(t, e)| (*t, Entry::clone(e)))
            .collect();
        assert_eq!(from_file, in_memory);
        assert_eq!(
            in_memory.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
            entries
        );
        // The marks say how far the file was read: the whole of it after the last batch.
        let (_, end) = rest.marks.last().unwrap();
        assert_eq!(*end as usize, bytes.len());
    }
}
