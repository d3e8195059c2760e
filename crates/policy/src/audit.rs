//! The audit trail's records and their hash chain, with no I/O.
//!
//! Each record holds a sequence number (1, 2, …), the time it was appended, who acted (`actor`:
//! a user name, `key:ID`, `anonymous`, `peer:NAME` or `cli:USER`), the `action`, the `path` it
//! came by (`taxii`, `cli`, `sync`, `admin`), its `target`, its `outcome`, a free `detail`, the
//! digest of the record before it (`prev_digest`; 64 zeros for the first) and its own `digest`:
//! SHA-256 over [`canonical`], an unambiguous encoding of every other field. Changing any field of
//! a record, deleting one, or moving one changes what [`verify`] computes, and it says which record
//! and how; deleting the newest records is only visible against a [`Head`] exported before
//! (`shieldwall audit head`), which [`verify`] takes too.
//!
//! The chain has no secret key: whoever can write the database can also recompute every digest
//! after an edit. An exported head held elsewhere (a peer, a ticket, a printout) catches that
//! too: the record at the head's sequence number then no longer has the head's digest.
//!
//! Fields are bounded ([`Entry::new`]) so that a hostile user name or a huge object list cannot
//! grow a record without limit; control characters are replaced so that `audit show` prints one
//! line per record.

use std::fmt;

use sha2::{Digest, Sha256};

/// The `prev_digest` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Most characters kept of an actor or a target.
pub const MAX_NAME: usize = 200;
/// Most characters kept of an action, a path or an outcome.
pub const MAX_WORD: usize = 64;
/// Most characters kept of a detail.
pub const MAX_DETAIL: usize = 4096;
/// Most object ids listed per TLP level in one record's detail (then `+N more`).
pub const MAX_IDS: usize = 40;

/// What to append: a record without its sequence number, time and digests (the store adds
/// them, in its write transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Who acted.
    pub actor: String,
    /// What was done (`sign-in`, `sign-in-failed`, `read`, `export`, `sync-pull`, …).
    pub action: String,
    /// Through what: `taxii`, `cli`, `sync`, `admin`.
    pub path: String,
    /// On what (an object, `collection:ID`, `user:NAME`, `peer:NAME`, …).
    pub target: String,
    /// `ok`, `failed`, `refused`, …
    pub outcome: String,
    /// Anything else (counts, ids, the client address); never a secret.
    pub detail: String,
}

/// Replaces control characters and keeps at most `max` characters (ending in `…` when cut).
pub fn bound(s: &str, max: usize) -> String {
    // The common case (no longer in bytes than `max` characters, printable) copied whole.
    if s.len() <= max && !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)));
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.pop();
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '\u{fffd}' } else { c });
    }
    out
}

impl Entry {
    /// An entry with every field bounded ([`bound`]).
    pub fn new(actor: &str, action: &str, path: &str, target: &str, outcome: &str) -> Entry {
        Entry {
            actor: bound(actor, MAX_NAME),
            action: bound(action, MAX_WORD),
            path: bound(path, MAX_WORD),
            target: bound(target, MAX_NAME),
            outcome: bound(outcome, MAX_WORD),
            detail: String::new(),
        }
    }

    /// The same entry with `detail` (bounded).
    pub fn detail(mut self, detail: &str) -> Entry {
        self.detail = bound(detail, MAX_DETAIL);
        self
    }
}

/// One stored record of the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When it was appended, microseconds since the epoch.
    pub time_us: i64,
    /// See [`Entry::actor`].
    pub actor: String,
    /// See [`Entry::action`].
    pub action: String,
    /// See [`Entry::path`].
    pub path: String,
    /// See [`Entry::target`].
    pub target: String,
    /// See [`Entry::outcome`].
    pub outcome: String,
    /// See [`Entry::detail`].
    pub detail: String,
    /// The digest of the record before (lower-case hex), [`GENESIS`] for the first.
    pub prev_digest: String,
    /// SHA-256 of [`canonical`] (lower-case hex).
    pub digest: String,
}

/// The encoding a digest is taken over: a version tag, then `seq` and `time_us` as 8 big-endian
/// bytes each, then every text field (`actor`, `action`, `path`, `target`, `outcome`, `detail`,
/// `prev_digest`) as its UTF-8 length in 8 big-endian bytes followed by its bytes. No field can
/// spill into the next.
pub fn canonical(r: &Record) -> Vec<u8> {
    let texts = [
        &r.actor,
        &r.action,
        &r.path,
        &r.target,
        &r.outcome,
        &r.detail,
        &r.prev_digest,
    ];
    let mut out = Vec::with_capacity(32 + texts.iter().map(|t| t.len() + 8).sum::<usize>());
    out.extend_from_slice(b"shieldwall-audit-v1\0");
    out.extend_from_slice(&r.seq.to_be_bytes());
    out.extend_from_slice(&r.time_us.to_be_bytes());
    for t in texts {
        out.extend_from_slice(&(t.len() as u64).to_be_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// The digest `r` should carry: SHA-256 of [`canonical`], lower-case hex.
pub fn digest_of(r: &Record) -> String {
    let mut out = [0u8; 64];
    digest_into(
        r.seq,
        r.time_us,
        [
            &r.actor,
            &r.action,
            &r.path,
            &r.target,
            &r.outcome,
            &r.detail,
            &r.prev_digest,
        ],
        &mut out,
    );
    hex_text(&out)
}

/// SHA-256 of [`canonical`] for the record made of these fields (texts in [`canonical`]'s
/// order: actor, action, path, target, outcome, detail, prev_digest), hashed piece by piece
/// without building the encoding, as lower-case hex into `out`.
fn digest_into(seq: i64, time_us: i64, texts: [&str; 7], out: &mut [u8; 64]) {
    let mut h = Sha256::new();
    h.update(b"shieldwall-audit-v1\0");
    h.update(seq.to_be_bytes());
    h.update(time_us.to_be_bytes());
    for t in texts {
        h.update((t.len() as u64).to_be_bytes());
        h.update(t.as_bytes());
    }
    hex_into(&h.finalize(), out);
}

fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (b, o) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        o[0] = HEX[usize::from(b >> 4)];
        o[1] = HEX[usize::from(b & 15)];
    }
}

/// Hex digits as text (they are ASCII).
fn hex_text(digits: &[u8]) -> String {
    digits.iter().map(|b| char::from(*b)).collect()
}

/// A record sealed after another without copying its entry: what the store inserts (see
/// [`Sealer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed<'a> {
    /// Position in the chain.
    pub seq: i64,
    /// When it was appended.
    pub time_us: i64,
    /// Its fields.
    pub entry: &'a Entry,
    /// The digest of the record before.
    pub prev_digest: String,
    /// Its digest.
    pub digest: String,
}

/// Seals entries one after the other from a head: the same records, digests and times as
/// [`seal`] gives for each in turn (never earlier than the record before), each digest computed
/// once and no field of an entry copied.
#[derive(Debug, Clone)]
pub struct Sealer {
    head: Head,
    floor: i64,
}

impl Sealer {
    /// Sealing after `head`, whose record was appended at `head_time_us` (`i64::MIN` for the
    /// genesis).
    pub fn after(head: Head, head_time_us: i64) -> Sealer {
        Sealer {
            head,
            floor: head_time_us,
        }
    }

    /// The record after the last sealed, appended at `time_us` (or the time of the record
    /// before, when that is later).
    pub fn seal<'a>(&mut self, time_us: i64, entry: &'a Entry) -> Sealed<'a> {
        self.floor = self.floor.max(time_us);
        let seq = self.head.seq + 1;
        let mut out = [0u8; 64];
        digest_into(
            seq,
            self.floor,
            [
                &entry.actor,
                &entry.action,
                &entry.path,
                &entry.target,
                &entry.outcome,
                &entry.detail,
                &self.head.digest,
            ],
            &mut out,
        );
        let digest = hex_text(&out);
        let prev_digest = std::mem::replace(&mut self.head.digest, digest.clone());
        self.head.seq = seq;
        Sealed {
            seq,
            time_us: self.floor,
            entry,
            prev_digest,
            digest,
        }
    }

    /// The head after the last sealed.
    pub fn head(&self) -> &Head {
        &self.head
    }
}

/// The last record of a chain, as exported to be checked later: `SEQ:DIGEST`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// Its sequence number.
    pub seq: i64,
    /// Its digest.
    pub digest: String,
}

impl Head {
    /// The head of a chain whose last record is `last` (`0:GENESIS` for an empty chain).
    pub fn of(last: Option<&Record>) -> Head {
        match last {
            Some(r) => Head {
                seq: r.seq,
                digest: r.digest.clone(),
            },
            None => Head {
                seq: 0,
                digest: GENESIS.to_owned(),
            },
        }
    }

    /// Parses `SEQ:DIGEST` (as [`fmt::Display`] writes it).
    pub fn parse(s: &str) -> Option<Head> {
        let (seq, digest) = s.trim().split_once(':')?;
        let seq: i64 = seq.parse().ok().filter(|n| *n >= 0)?;
        let digest = digest.to_ascii_lowercase();
        (digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(Head { seq, digest })
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.digest)
    }
}

/// Seals `entry` as the record after `head`, appended at `time_us`.
pub fn seal(head: &Head, time_us: i64, entry: &Entry) -> Record {
    let mut r = Record {
        seq: head.seq + 1,
        time_us,
        actor: entry.actor.clone(),
        action: entry.action.clone(),
        path: entry.path.clone(),
        target: entry.target.clone(),
        outcome: entry.outcome.clone(),
        detail: entry.detail.clone(),
        prev_digest: head.digest.clone(),
        digest: String::new(),
    };
    r.digest = digest_of(&r);
    r
}

/// Longest journal line [`parse_journal_line`] reads (a record's fields are bounded far below).
pub const MAX_JOURNAL_LINE: usize = 64 * 1024;

#[derive(serde::Serialize, serde::Deserialize)]
struct JournalLine<'a> {
    t: i64,
    #[serde(borrow)]
    a: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    c: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    p: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    g: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    o: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    d: std::borrow::Cow<'a, str>,
}

/// One line of a node's audit journal (the hub's read records, appended before the answer and
/// drained into the chain): `CHECK JSON\n`, where `JSON` is an object holding `time_us` and the
/// entry's fields (JSON-escaped: no field can hold a newline, so no name can forge a line) and
/// `CHECK` the first 16 hex digits of its SHA-256 (a torn or damaged line does not pass; it has
/// no key, so it does not stop someone who rewrites the file — see `docs/AUDIT.md`).
pub fn journal_line(time_us: i64, e: &Entry) -> String {
    // One buffer: room for the check, the JSON written after it, the check filled in.
    let mut line = Vec::with_capacity(
        96 + e.actor.len()
            + e.action.len()
            + e.path.len()
            + e.target.len()
            + e.outcome.len()
            + e.detail.len(),
    );
    line.extend_from_slice(b"0000000000000000 ");
    let body = JournalLine {
        t: time_us,
        a: e.actor.as_str().into(),
        c: e.action.as_str().into(),
        p: e.path.as_str().into(),
        g: e.target.as_str().into(),
        o: e.outcome.as_str().into(),
        d: e.detail.as_str().into(),
    };
    if serde_json::to_writer(&mut line, &body).is_err() {
        return String::new();
    }
    let check = Sha256::digest(&line[17..]);
    hex_into(&check[..8], &mut line[..16]);
    line.push(b'\n');
    String::from_utf8(line).unwrap_or_default()
}

/// Why a journal line was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JournalLineError {
    /// Longer than [`MAX_JOURNAL_LINE`].
    #[error("the line is too long")]
    TooLong,
    /// Its check does not match its content (torn, damaged or edited without care).
    #[error("the line's check does not match its content")]
    Check,
    /// Not a journal record.
    #[error("the line is not a journal record")]
    Malformed,
}

/// Reads one line written by [`journal_line`] (without its `\n`): the time and the entry, its
/// fields bounded again as [`Entry::new`] bounds them (an edited journal cannot grow a record).
pub fn parse_journal_line(line: &[u8]) -> Result<(i64, Entry), JournalLineError> {
    if line.len() > MAX_JOURNAL_LINE {
        return Err(JournalLineError::TooLong);
    }
    let (check, body) = match line.iter().position(|b| *b == b' ') {
        Some(16) => (&line[..16], &line[17..]),
        _ => return Err(JournalLineError::Malformed),
    };
    if check != hex(&Sha256::digest(body)[..8]).as_bytes() {
        return Err(JournalLineError::Check);
    }
    let l: JournalLine<'_> =
        serde_json::from_slice(body).map_err(|_| JournalLineError::Malformed)?;
    let e = Entry::new(&l.a, &l.c, &l.p, &l.g, &l.o).detail(&l.d);
    Ok((l.t, e))
}

/// What is wrong with a chain, naming the record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// Record `seq`'s fields are not those it was written with.
    Edited {
        /// The record.
        seq: i64,
    },
    /// Record `seq` links to a record `prev` that is not the one it was written after: `prev`
    /// was rewritten (its digest recomputed after an edit).
    Rewritten {
        /// The rewritten record.
        seq: i64,
    },
    /// Records `from..=to` are missing.
    Deleted {
        /// First missing.
        from: i64,
        /// Last missing.
        to: i64,
    },
    /// The record stored as `seq` was written as record `written_as`.
    Reordered {
        /// Where it is now.
        seq: i64,
        /// Where it was written.
        written_as: i64,
    },
    /// The chain ends at `last` but the exported head is at `head`: the records after `last`
    /// were deleted.
    Truncated {
        /// The last record present (0: none).
        last: i64,
        /// The exported head's sequence number.
        head: i64,
    },
    /// The record at the exported head's sequence number does not have the head's digest: the
    /// chain was truncated and appended to, or rewritten, from there or before.
    HeadMismatch {
        /// The head's sequence number.
        seq: i64,
    },
}

impl Problem {
    /// The first record the problem names.
    pub fn seq(&self) -> i64 {
        match self {
            Problem::Edited { seq }
            | Problem::Rewritten { seq }
            | Problem::Reordered { seq, .. }
            | Problem::HeadMismatch { seq } => *seq,
            Problem::Deleted { from, .. } => *from,
            Problem::Truncated { last, .. } => last + 1,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Edited { seq } => write!(
                f,
                "record {seq} was edited: its fields do not give its digest"
            ),
            Problem::Rewritten { seq } => write!(
                f,
                "record {seq} was rewritten: its digest is consistent but the next record was not written after it"
            ),
            Problem::Deleted { from, to } if from == to => {
                write!(f, "record {from} was deleted")
            }
            Problem::Deleted { from, to } => write!(f, "records {from} to {to} were deleted"),
            Problem::Reordered { seq, written_as } => write!(
                f,
                "record {seq} was reordered: it was written as record {written_as}"
            ),
            Problem::Truncated { last, head } => write!(
                f,
                "the chain was truncated: it ends at record {last} but the exported head is record {head} (records {} to {head} deleted)",
                last + 1
            ),
            Problem::HeadMismatch { seq } => write!(
                f,
                "record {seq} is not the exported head: the chain was rewritten or truncated and appended to at or before record {seq}"
            ),
        }
    }
}

/// Checks a chain handed over in pieces (records in stored `seq` order), so that a long chain
/// is verified page by page: it keeps the digest of every record seen (to name where a moved
/// record was written), 100 bytes or so per record.
#[derive(Debug, Default)]
pub struct Verifier {
    last: Option<Record>,
    /// Whether the last record has the digest of its fields at its stored place.
    last_ok: bool,
    /// digest → the sequence number it was written as.
    written: std::collections::HashMap<String, i64>,
    /// Records with a wrong digest whose predecessor was not seen yet.
    pending: Vec<Record>,
    problems: Vec<Problem>,
    count: u64,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Records read.
    pub records: u64,
    /// The chain's head as stored.
    pub head: Head,
    /// What is wrong, first record first (empty: intact).
    pub problems: Vec<Problem>,
}

impl Verifier {
    /// A verifier of a chain that starts at record 1.
    pub fn new() -> Verifier {
        Verifier::default()
    }

    /// Checks the next record in stored order.
    pub fn push(&mut self, r: Record) {
        self.count += 1;
        let (expected_seq, prev_digest) = match &self.last {
            Some(l) => (l.seq + 1, l.digest.clone()),
            None => (1, GENESIS.to_owned()),
        };
        if r.seq > expected_seq {
            self.problems.push(Problem::Deleted {
                from: expected_seq,
                to: r.seq - 1,
            });
        }
        let ok = digest_of(&r) == r.digest;
        if ok {
            if r.seq == expected_seq
                && r.prev_digest != prev_digest
                && self.last_ok
                && let Some(l) = &self.last
            {
                self.problems.push(Problem::Rewritten { seq: l.seq });
            }
            self.written.insert(r.digest.clone(), r.seq);
        } else {
            // Moved? Its own fields with another sequence number may give its digest.
            match self.written_as(&r) {
                Some(at) => {
                    self.problems.push(Problem::Reordered {
                        seq: r.seq,
                        written_as: at,
                    });
                    self.written.insert(r.digest.clone(), at);
                }
                None => self.pending.push(r.clone()),
            }
        }
        self.last_ok = ok;
        self.last = Some(r);
    }

    /// The other sequence number `r` was written as, when its predecessor is known (its
    /// `prev_digest` names a record seen, or is the genesis) and its fields with that number
    /// give its digest.
    fn written_as(&self, r: &Record) -> Option<i64> {
        let at = if r.prev_digest == GENESIS {
            1
        } else {
            self.written.get(&r.prev_digest)? + 1
        };
        let mut moved = r.clone();
        moved.seq = at;
        (at != r.seq && digest_of(&moved) == r.digest).then_some(at)
    }

    /// The report, checked against an exported `head` when given.
    pub fn finish(mut self, head: Option<&Head>) -> Report {
        // Records whose predecessor came after them in stored order, until nothing resolves.
        loop {
            let pending = std::mem::take(&mut self.pending);
            let before = pending.len();
            for r in pending {
                match self.written_as(&r) {
                    Some(at) => {
                        self.problems.push(Problem::Reordered {
                            seq: r.seq,
                            written_as: at,
                        });
                        self.written.insert(r.digest.clone(), at);
                    }
                    None => self.pending.push(r),
                }
            }
            if self.pending.len() == before {
                break;
            }
        }
        for r in std::mem::take(&mut self.pending) {
            self.problems.push(Problem::Edited { seq: r.seq });
        }
        let stored = Head::of(self.last.as_ref());
        if let Some(h) = head {
            if stored.seq < h.seq {
                self.problems.push(Problem::Truncated {
                    last: stored.seq,
                    head: h.seq,
                });
            } else if h.seq > 0 && self.written.get(&h.digest) != Some(&h.seq) {
                self.problems.push(Problem::HeadMismatch { seq: h.seq });
            }
        }
        self.problems.sort_by_key(Problem::seq);
        Report {
            records: self.count,
            head: stored,
            problems: self.problems,
        }
    }
}

/// Verifies a whole chain given in stored `seq` order (see [`Verifier`]).
pub fn verify(records: impl IntoIterator<Item = Record>, head: Option<&Head>) -> Report {
    let mut v = Verifier::new();
    for r in records {
        v.push(r);
    }
    v.finish(head)
}

/// The detail of a read or an export: the RED and AMBER+STRICT object ids it returned (each list
/// at most [`MAX_IDS`] ids, then `+N more`), after `prefix`.
pub fn ids_detail(prefix: &str, red: &[&str], amber_strict: &[&str]) -> String {
    let mut out = String::with_capacity(
        prefix.len() + 32 + (red.len() + amber_strict.len()).min(2 * MAX_IDS) * 50,
    );
    out.push_str(prefix);
    for (name, ids) in [("red", red), ("amber+strict", amber_strict)] {
        if ids.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(&ids.len().to_string());
        out.push_str(" [");
        for (n, id) in ids.iter().take(MAX_IDS).enumerate() {
            if n > 0 {
                out.push(',');
            }
            push_bounded(&mut out, id, 120);
        }
        if ids.len() > MAX_IDS {
            out.push_str(&format!(",+{} more", ids.len() - MAX_IDS));
        }
        out.push(']');
    }
    out
}

/// [`bound`] appended to `out`.
fn push_bounded(out: &mut String, s: &str, max: usize) {
    if s.len() <= max && !s.chars().any(char::is_control) {
        out.push_str(s);
    } else {
        out.push_str(&bound(s, max));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A journal line is one line whatever the fields hold, reads back as written, and a torn,
    /// edited or oversized line is refused.
    #[test]
    fn journal_lines_cannot_be_forged_or_torn_unnoticed() {
        let hostile = Entry {
            actor: "eve\n0000000000000000 {\"t\":1}\r\u{1b}[31m\"\\".into(),
            action: "read".into(),
            path: "taxii".into(),
            target: "collection:\u{0}x".into(),
            outcome: "ok".into(),
            detail: "ids=indicator--1 \u{2028}".into(),
        };
        let line = journal_line(42, &hostile);
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        let (t, e) = parse_journal_line(&line.as_bytes()[..line.len() - 1]).unwrap();
        assert_eq!(t, 42);
        // Read back bounded as `Entry::new` bounds: control characters replaced.
        assert_eq!(e.actor, bound(&hostile.actor, MAX_NAME));
        assert_eq!(e.target, "collection:\u{fffd}x");
        assert_eq!(e.detail, hostile.detail);
        let body = &line.as_bytes()[..line.len() - 1];
        assert_eq!(
            parse_journal_line(&body[..body.len() - 3]),
            Err(JournalLineError::Check)
        );
        let edited = line.replacen("read", "reed", 1);
        assert_eq!(
            parse_journal_line(&edited.as_bytes()[..edited.len() - 1]),
            Err(JournalLineError::Check)
        );
        assert_eq!(
            parse_journal_line(b"junk"),
            Err(JournalLineError::Malformed)
        );
        assert_eq!(parse_journal_line(b""), Err(JournalLineError::Malformed));
        assert_eq!(
            parse_journal_line(&vec![b'a'; MAX_JOURNAL_LINE + 1]),
            Err(JournalLineError::TooLong)
        );
        // A line whose check matches but is not a record.
        let body = "{\"t\":1}";
        let forged = format!("{} {body}", hex(&Sha256::digest(body.as_bytes())[..8]));
        assert_eq!(
            parse_journal_line(forged.as_bytes()),
            Err(JournalLineError::Malformed)
        );
    }

    /// The sealer gives the records `seal` gives, one after the other, and `digest_of` is
    /// SHA-256 of `canonical`.
    #[test]
    fn the_sealer_seals_as_seal_does() {
        let entries: Vec<Entry> = (0..5)
            .map(|i| Entry::new("alice", "read", "taxii", &format!("c{i}"), "ok").detail("d"))
            .collect();
        let times = [10, 30, 20, 20, 40];
        let start = chain(3);
        let start_head = Head::of(start.last());
        let mut sealer = Sealer::after(start_head.clone(), start[2].time_us);
        let mut head = start_head;
        let mut floor = start[2].time_us;
        for (e, t) in entries.iter().zip(times) {
            floor = floor.max(t);
            let want = seal(&head, floor, e);
            let got = sealer.seal(t, e);
            assert_eq!(
                (got.seq, got.time_us, &got.prev_digest, &got.digest),
                (want.seq, want.time_us, &want.prev_digest, &want.digest)
            );
            assert_eq!(want.digest, hex(&Sha256::digest(canonical(&want))));
            head = Head::of(Some(&want));
            assert_eq!(sealer.head(), &head);
        }
        let mut from_genesis = Sealer::after(Head::of(None), i64::MIN);
        let first = from_genesis.seal(5, &entries[0]);
        assert_eq!(first.prev_digest, GENESIS);
        assert_eq!(first.digest, seal(&Head::of(None), 5, &entries[0]).digest);
        // An odd head (a tampered store) is linked to as it is, as `seal` does.
        let odd = Head {
            seq: 7,
            digest: "xyz".into(),
        };
        let r = Sealer::after(odd.clone(), 0).seal(1, &entries[1]);
        assert_eq!(r.prev_digest, "xyz");
        assert_eq!(r.digest, seal(&odd, 1, &entries[1]).digest);
    }

    /// The detail as it was written before it was built in one buffer.
    fn ids_detail_reference(prefix: &str, red: &[&str], amber_strict: &[&str]) -> String {
        fn bound_reference(s: &str, max: usize) -> String {
            let mut out = String::new();
            for (n, c) in s.chars().enumerate() {
                if n >= max {
                    out.pop();
                    out.push('…');
                    break;
                }
                out.push(if c.is_control() { '\u{fffd}' } else { c });
            }
            out
        }
        let list = |ids: &[&str]| {
            let mut s = ids
                .iter()
                .take(MAX_IDS)
                .map(|i| bound_reference(i, 120))
                .collect::<Vec<_>>()
                .join(",");
            if ids.len() > MAX_IDS {
                s.push_str(&format!(",+{} more", ids.len() - MAX_IDS));
            }
            s
        };
        let mut out = prefix.to_owned();
        for (name, ids) in [("red", red), ("amber+strict", amber_strict)] {
            if !ids.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&format!("{name}={} [{}]", ids.len(), list(ids)));
            }
        }
        out
    }

    #[test]
    fn details_and_bounds_are_those_of_the_reference() {
        let long = "é".repeat(119) + "x\u{7}";
        let exact = "a".repeat(120);
        let over = "a".repeat(121);
        let ids: Vec<String> = (0..45)
            .map(|i| match i % 5 {
                0 => format!("indicator--{i}"),
                1 => long.clone(),
                2 => exact.clone(),
                3 => over.clone(),
                _ => format!("x\n{i}\u{2028}"),
            })
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        for (prefix, red, strict) in [
            ("", &refs[..0], &refs[..0]),
            ("", &refs[..1], &refs[..0]),
            ("member=m endpoint=object", &refs[..5], &refs[..0]),
            ("p", &refs[..0], &refs[..7]),
            ("p", &refs[..], &refs[3..]),
            ("", &refs[..41], &refs[..40]),
        ] {
            assert_eq!(
                ids_detail(prefix, red, strict),
                ids_detail_reference(prefix, red, strict)
            );
        }
        for s in [
            "",
            "a",
            "a\u{0}b",
            long.as_str(),
            exact.as_str(),
            over.as_str(),
            "ééé",
        ] {
            for max in [0, 1, 2, 3, 119, 120, 121, MAX_DETAIL] {
                let want = {
                    let mut out = String::new();
                    for (n, c) in s.chars().enumerate() {
                        if n >= max {
                            out.pop();
                            out.push('…');
                            break;
                        }
                        out.push(if c.is_control() { '\u{fffd}' } else { c });
                    }
                    out
                };
                assert_eq!(bound(s, max), want, "{s:?} {max}");
            }
        }
    }

    fn chain(n: usize) -> Vec<Record> {
        let mut head = Head::of(None);
        let mut out = Vec::new();
        for i in 0..n {
            let e = Entry::new("alice", "read", "taxii", &format!("collection:{i}"), "ok")
                .detail(&format!("red=1 [indicator--{i}]"));
            let r = seal(&head, 1_700_000_000_000_000 + i as i64, &e);
            head = Head::of(Some(&r));
            out.push(r);
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies_and_its_head_matches() {
        let c = chain(6);
        let head = Head::of(c.last());
        let r = verify(c.clone(), Some(&head));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.records, 6);
        assert_eq!(r.head, head);
        assert_eq!(Head::parse(&head.to_string()), Some(head.clone()));
        // A chain that grew after the export still holds the exported head.
        let earlier = Head::of(c.get(2));
        assert!(verify(c, Some(&earlier)).problems.is_empty());
        assert!(verify(Vec::new(), None).problems.is_empty());
    }

    #[test]
    fn an_edit_names_the_record() {
        for field in 0..8 {
            let mut c = chain(5);
            let r = &mut c[2];
            match field {
                0 => r.actor.push('x'),
                1 => r.action.push('x'),
                2 => r.path.push('x'),
                3 => r.target.push('x'),
                4 => r.outcome.push('x'),
                5 => r.detail = String::new(),
                6 => r.time_us += 1,
                _ => r.prev_digest = GENESIS.to_owned(),
            }
            let p = verify(c, None).problems;
            assert_eq!(p, vec![Problem::Edited { seq: 3 }], "field {field}");
        }
    }

    #[test]
    fn fields_cannot_spill_into_each_other() {
        let mut c = chain(2);
        c[1].actor = "alic".into();
        c[1].action = "eread".into();
        assert_eq!(verify(c, None).problems, vec![Problem::Edited { seq: 2 }]);
    }

    #[test]
    fn a_recomputed_edit_is_a_rewrite_of_that_record() {
        let mut c = chain(5);
        c[1].detail = "nothing to see".into();
        c[1].digest = digest_of(&c[1]);
        assert_eq!(
            verify(c, None).problems,
            vec![Problem::Rewritten { seq: 2 }]
        );
    }

    #[test]
    fn deletions_name_the_missing_records() {
        let mut c = chain(6);
        c.remove(2);
        assert_eq!(
            verify(c.clone(), None).problems,
            vec![Problem::Deleted { from: 3, to: 3 }]
        );
        c.remove(2);
        assert_eq!(
            verify(c, None).problems,
            vec![Problem::Deleted { from: 3, to: 4 }]
        );
        let mut c = chain(3);
        c.remove(0);
        assert_eq!(
            verify(c, None).problems,
            vec![Problem::Deleted { from: 1, to: 1 }]
        );
    }

    #[test]
    fn swapped_records_are_reordered() {
        // Swap the contents of records 3 and 4 while keeping the stored seq column in order.
        let c = chain(6);
        let mut s = c.clone();
        s[2] = c[3].clone();
        s[2].seq = 3;
        s[3] = c[2].clone();
        s[3].seq = 4;
        assert_eq!(
            verify(s, None).problems,
            vec![
                Problem::Reordered {
                    seq: 3,
                    written_as: 4
                },
                Problem::Reordered {
                    seq: 4,
                    written_as: 3
                }
            ]
        );
        // The first record moved.
        let mut s = c.clone();
        s[0] = c[1].clone();
        s[0].seq = 1;
        s[1] = c[0].clone();
        s[1].seq = 2;
        let p = verify(s, None).problems;
        assert_eq!(
            p,
            vec![
                Problem::Reordered {
                    seq: 1,
                    written_as: 2
                },
                Problem::Reordered {
                    seq: 2,
                    written_as: 1
                }
            ]
        );
    }

    #[test]
    fn truncation_needs_the_head() {
        let c = chain(6);
        let head = Head::of(c.last());
        let cut: Vec<Record> = c[..4].to_vec();
        assert!(verify(cut.clone(), None).problems.is_empty());
        assert_eq!(
            verify(cut.clone(), Some(&head)).problems,
            vec![Problem::Truncated { last: 4, head: 6 }]
        );
        // Truncated, then appended to past the old head: the head's record differs.
        let mut grown = cut;
        let mut h = Head::of(grown.last());
        for i in 0..3 {
            let r = seal(&h, i, &Entry::new("x", "y", "cli", "z", "ok"));
            h = Head::of(Some(&r));
            grown.push(r);
        }
        assert_eq!(
            verify(grown, Some(&head)).problems,
            vec![Problem::HeadMismatch { seq: 6 }]
        );
        assert_eq!(
            verify(Vec::new(), Some(&head)).problems,
            vec![Problem::Truncated { last: 0, head: 6 }]
        );
    }

    #[test]
    fn fields_are_bounded_and_printable() {
        let huge = "a".repeat(100_000);
        let e = Entry::new(&huge, &huge, "taxii", "user:\u{7}\nroot", "failed").detail(&huge);
        assert_eq!(e.actor.chars().count(), MAX_NAME);
        assert!(e.actor.ends_with('…'));
        assert_eq!(e.action.chars().count(), MAX_WORD);
        assert_eq!(e.detail.chars().count(), MAX_DETAIL);
        assert_eq!(e.target, "user:\u{fffd}\u{fffd}root");
        assert_eq!(bound("short", 10), "short");
        assert_eq!(bound("a\tb", usize::MAX), "a\u{fffd}b");
        assert_eq!(bound("", 10), "");
        let ids: Vec<String> = (0..100).map(|i| format!("indicator--{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let d = ids_detail("collection=c", &refs, &refs[..2]);
        assert!(d.starts_with("collection=c red=100 [indicator--0,"), "{d}");
        assert!(
            d.contains(",+60 more] amber+strict=2 [indicator--0,indicator--1]"),
            "{d}"
        );
    }
}
