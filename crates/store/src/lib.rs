//! The versioned STIX store behind one trait, [`Store`], with two real backends: SQLite (the
//! embedded default: one file, WAL, one writer connection, `synchronous=FULL` so that a commit is
//! on disk before a POST is acknowledged) and PostgreSQL (several stateless nodes on one database).
//!
//! Data model: `versions` holds each object version once, keyed by `(id, version_ns)` where the
//! version is `modified`, else `created` (SCOs without either get the `date_added` of their first
//! arrival), with the facts the policy needs (TLP, producer) and provenance; `entries` places
//! versions in collections with their `date_added` (microseconds, unique and increasing across the
//! node and every node on the same database, so that `added_after` cursors never skip a record)
//! and `multi`, set when the collection holds another version of the same object (listings run
//! their "latest/first version" sub-queries only for those; a delete leaves it set, which is safe)
//! and `type`, the version's object type (index `(collection, type, date_added, vid)`: a listing
//! of one type walks only that type's entries; filled once from `versions` in older stores);
//! `edges` lists what relationships and sightings point to (indexed both ways: when an object gets
//! a new version or placement, the entries of the edges pointing to it get a fresh `date_added`,
//! so that push positions and pull cursors reach them again and sync judges them again);
//! `value_index` holds the canonical values each version holds (`matcher::occurrence`, extracted
//! by ingest), written in the version's transaction and read by [`Store::lookup`] through the
//! policy; `statuses` keeps status resources; `sync_cursors`, `sync_held` (what push held back from a
//! peer, and why) and `sync_refused` (what was refused from a peer, and why) are federation's.
//!
//! A version belongs to its producer: `add` keeps the content its producer posted, places an
//! existing version again only for its producer with identical content (or, for an object no
//! member created, for anyone posting identical content), and takes a new version of a known id
//! only from the producer of its latest version; anything else is [`AddOutcome::Refused`].
//!
//! Listings take the policy as a [`Pushdown`] and apply it in SQL
//! (see `sql.rs`): the store never returns a record the caller may not see.
//!
//! What this crate must never do: decide access itself (its SQL restates
//! [`policy::may_see`] and the egress rule of `Pushdown`, and a property test
//! holds the SQL to them on both backends), acknowledge a write before its transaction commits,
//! or know HTTP. It is the lowest crate that does I/O: the database, the node's private files
//! ([`files`]) and the clock ([`timestamps::now_us`]).

pub mod admin_state;
mod backends;
pub mod files;
pub mod ingest_warnings;
pub mod journal;
pub mod publish;
pub mod snapshot;
mod sql;

pub use backends::{PgStore, SqliteStore};

// The policy crate's modules under the paths this code was written against.
#[cfg(test)]
use ::policy::ingest;
use ::policy::{audit, config, policy};

/// STIX/TAXII timestamps ([`policy::timestamps`](::policy::timestamps)) and the clock, which
/// the policy crate does not read.
pub mod timestamps {
    pub use ::policy::timestamps::*;

    /// Now, in microseconds since the epoch.
    pub fn now_us() -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |us| -us),
        }
    }
}

use std::future::Future;

use crate::policy::Pushdown;

/// A store failure (the database, stored data, the audit journal), or a write into a removed
/// collection.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Stored data is not what this version of the store wrote.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The audit journal's files could not be read or written.
    #[error("audit journal: {0}")]
    Journal(String),
    /// A write into a collection that was removed (after the writer's configuration was read):
    /// nothing was written.
    #[error("collection {0} was removed")]
    CollectionRemoved(String),
}

/// Where a stored version came from (kept per version for federation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// `local` for a TAXII POST or import on this node, or `peer:NAME` for sync.
    pub source: String,
    /// The user or key (or peer) that delivered it.
    pub actor: String,
}

pub use ::policy::ingest::NewVersion;

/// The values of an object for the value index, as ingest extracts them.
pub(crate) fn ingest_values(obj: &serde_json::Value) -> matcher::occurrence::Extracted {
    ::policy::ingest::index_values(obj)
}

/// What happened to one [`NewVersion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// Stored in the collection now.
    Added {
        /// Its `date_added`.
        date_added_us: i64,
        /// The version in nanoseconds (assigned for SCOs).
        version_ns: i64,
    },
    /// The same `(id, version)` was already in the collection.
    AlreadyPresent {
        /// The version in nanoseconds.
        version_ns: i64,
    },
    /// Refused: a version belongs to the member that produced it (see [`REFUSED_VERSION`]);
    /// nothing was written or placed.
    Refused {
        /// The version in nanoseconds.
        version_ns: i64,
    },
}

impl AddOutcome {
    /// The version in nanoseconds, whatever the outcome.
    pub fn version_ns(&self) -> i64 {
        match self {
            AddOutcome::Added { version_ns, .. }
            | AddOutcome::AlreadyPresent { version_ns }
            | AddOutcome::Refused { version_ns } => *version_ns,
        }
    }

    /// Whether the version is stored in the collection (added now or already there).
    pub fn is_stored(&self) -> bool {
        !matches!(self, AddOutcome::Refused { .. })
    }
}

/// How many of the latest deletions [`Store::deleted_between`] can name.
pub const DELETIONS_RECORDED: i64 = 1_024;

/// Why [`AddOutcome::Refused`]: one wording for every such refusal, whether or not the poster
/// may see the object, so that it tells nothing beyond the fact that the id is in use.
pub const REFUSED_VERSION: &str = "this id and version cannot be published by this member: an object's versions belong to the member that produced it, and a stored version can only be re-posted with identical content";

/// One collection's part of a write that spans several collections
/// ([`Store::add_batches`]).
#[derive(Debug, Clone, Copy)]
pub struct CollectionBatch<'a> {
    /// Collection id.
    pub collection: &'a str,
    /// The versions to add to it.
    pub versions: &'a [NewVersion],
}

/// What [`Store::add_batches`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchesOutcome {
    /// The outcomes of each batch, in order (as judged inside the transaction).
    pub outcomes: Vec<Vec<AddOutcome>>,
    /// Whether the transaction was committed. `false` only for an all-or-nothing write in
    /// which some version was refused: then nothing of any batch was written (an `Added`
    /// outcome says what would have been stored).
    pub committed: bool,
}

/// A status resource as kept.
#[derive(Debug, Clone)]
pub struct StatusRecord {
    /// Status id (UUID).
    pub id: String,
    /// API root it belongs to.
    pub api_root: String,
    /// Member that may read it.
    pub member: String,
    /// When the request arrived.
    pub request_us: i64,
    /// When it may be forgotten.
    pub expires_us: i64,
    /// The status resource JSON.
    pub body: String,
}

/// Which versions of each object a listing returns (`match[version]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSelection {
    /// `last`.
    pub last: bool,
    /// `first`.
    pub first: bool,
    /// `all`.
    pub all: bool,
    /// Exact versions, nanoseconds.
    pub exact: Vec<i64>,
}

impl VersionSelection {
    /// Only the latest version (the TAXII default).
    pub fn last() -> VersionSelection {
        VersionSelection {
            last: true,
            first: false,
            all: false,
            exact: Vec::new(),
        }
    }
    /// Every version.
    pub fn all() -> VersionSelection {
        VersionSelection {
            last: false,
            first: false,
            all: true,
            exact: Vec::new(),
        }
    }
}

/// A listing: one collection, the caller's policy, the TAXII filters and a position.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Collection id.
    pub collection: String,
    /// The caller's policy.
    pub pushdown: Pushdown,
    /// `match[id]` (or the object of the by-id endpoints); empty = any.
    pub ids: Vec<String>,
    /// `match[type]`; empty = any.
    pub types: Vec<String>,
    /// `added_after`, microseconds (strictly later).
    pub added_after_us: Option<i64>,
    /// `match[version]`.
    pub versions: VersionSelection,
    /// `match[spec_version]`; empty = only the latest spec version of each object.
    pub spec_versions: Vec<String>,
    /// Continue after this `(date_added, row)` position.
    pub after: Option<(i64, i64)>,
    /// Page size; the store fetches one more to know whether there is more.
    pub limit: u32,
    /// Whether to return the objects' JSON (not needed for manifests and versions).
    pub with_json: bool,
}

impl ListQuery {
    /// A whole-collection read: every object `pushdown` allows in `collection`, with JSON, in
    /// pages of 1,000 from the start (the CLI's exports, scans and views; page it with
    /// [`for_each_page`]).
    pub fn whole_collection(
        collection: &str,
        pushdown: Pushdown,
        versions: VersionSelection,
    ) -> Self {
        ListQuery {
            collection: collection.to_owned(),
            pushdown,
            ids: vec![],
            types: vec![],
            added_after_us: None,
            versions,
            spec_versions: vec![],
            after: None,
            limit: 1000,
            with_json: true,
        }
    }
}

/// Pages through a listing from its position to its end, handing each page's records to `f`.
pub async fn for_each_page<S: Store, E: From<StoreError>>(
    store: &S,
    mut q: ListQuery,
    mut f: impl FnMut(&[Record]) -> Result<(), E>,
) -> Result<(), E> {
    loop {
        let page = store.list(&q).await?;
        f(&page.records)?;
        match (page.more, page.records.last()) {
            (true, Some(last)) => q.after = Some((last.date_added_us, last.row)),
            _ => return Ok(()),
        }
    }
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `date_added`, microseconds.
    pub date_added_us: i64,
    /// Row id (tie-breaker of the order).
    pub row: i64,
    /// Object id.
    pub id: String,
    /// Version, nanoseconds.
    pub version_ns: i64,
    /// Version as given, or `None` (SCO: the version is `date_added`).
    pub version_text: Option<String>,
    /// Spec version.
    pub spec_version: String,
    /// The object, when asked for.
    pub json: Option<String>,
    /// Its stored TLP code (`policy::tlp_from_code`; `None`: unmarked, the node's default).
    pub tlp: Option<i64>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Records in `date_added` order.
    pub records: Vec<Record>,
    /// Whether more records follow.
    pub more: bool,
}

/// Selection for a delete: one object in one collection, the versions chosen by `match[version]`
/// and `match[spec_version]`, among those the caller may see.
#[derive(Debug, Clone)]
pub struct DeleteQuery {
    /// Collection id.
    pub collection: String,
    /// Object id.
    pub id: String,
    /// The caller's policy.
    pub pushdown: Pushdown,
    /// Versions to delete.
    pub versions: VersionSelection,
    /// Spec versions; empty = latest.
    pub spec_versions: Vec<String>,
    /// Delete only versions this member produced (`None`: an admin deletes any).
    pub only_producer: Option<String>,
}

/// What a delete did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// Entries removed.
    pub removed: u64,
    /// Selected entries kept because the caller is not their producer.
    pub refused: u64,
}

/// A stored version with the facts the policy uses, for checks and property tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Collection id.
    pub collection: String,
    /// Row id.
    pub row: i64,
    /// Object id.
    pub id: String,
    /// TLP code.
    pub tlp: Option<i64>,
    /// Producer member.
    pub producer: String,
    /// Edge targets.
    pub edge_refs: Vec<String>,
}

/// One stored entry with what sync needs: the policy facts, the provenance and the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRecord {
    /// `date_added` in the collection, microseconds.
    pub date_added_us: i64,
    /// Row (version) id, tie-breaker of the order.
    pub row: i64,
    /// Object id.
    pub id: String,
    /// Object type.
    pub object_type: String,
    /// Version, nanoseconds.
    pub version_ns: i64,
    /// TLP code, `None` when unmarked.
    pub tlp: Option<i64>,
    /// Producer member.
    pub producer: String,
    /// Provenance: `local` or `peer:NAME`.
    pub source: String,
    /// When this node received the version, microseconds.
    pub received_us: i64,
    /// The object.
    pub json: String,
}

/// A version that push held back from a peer (or that the peer refused), as recorded in
/// `sync_held` by the push that judged it: what `sync --explain` and `GET /admin/sync` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The version's row id.
    pub vid: i64,
    /// A [`crate::policy::HeldBack`] name, or `refused-by-peer`.
    pub reason: String,
    /// More about it (the peer's message for a refusal), or empty.
    pub detail: String,
    /// When it was (last) judged so, microseconds.
    pub since_us: i64,
}

/// An object this node refused from a peer (received by its pull or by the peer's push).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The peer's name.
    pub peer: String,
    /// The local collection it was meant for.
    pub collection: String,
    /// The object id as received (may be empty when the object had none).
    pub id: String,
    /// Its `modified` (or `created`) as received, or empty.
    pub version: String,
    /// A short machine name (`invalid`, …).
    pub reason: String,
    /// The message (why it was refused).
    pub detail: String,
    /// When, microseconds.
    pub at_us: i64,
}

/// The store. Every method is one transaction.
pub trait Store: Send + Sync {
    /// The key that protects pagination cursors, created once and shared by every node on the
    /// database.
    fn cursor_key(&self) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// Adds versions to a collection and records the status resource that `make_status` builds
    /// from the outcomes, atomically and durably (committed before it returns).
    fn add(
        &self,
        collection: &str,
        provenance: &Provenance,
        versions: &[NewVersion],
        make_status: &(dyn Fn(&[AddOutcome]) -> StatusRecord + Sync),
    ) -> impl Future<Output = Result<Vec<AddOutcome>, StoreError>> + Send;

    /// Adds versions to several collections in ONE transaction (one write lock, one commit),
    /// each batch judged as [`Store::add`] judges it, seeing the batches before it. With
    /// `all_or_nothing`, a refused version anywhere rolls the whole transaction back: nothing
    /// of any batch is written and no status is kept. Otherwise (or when nothing is refused)
    /// the status resource `make_status(i, outcomes)` builds for each batch `i` is recorded and
    /// the transaction committed before it returns.
    fn add_batches(
        &self,
        provenance: &Provenance,
        batches: &[CollectionBatch<'_>],
        all_or_nothing: bool,
        make_status: &(dyn Fn(usize, &[AddOutcome]) -> StatusRecord + Sync),
    ) -> impl Future<Output = Result<BatchesOutcome, StoreError>> + Send;

    /// One page of a listing.
    fn list(&self, query: &ListQuery) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// Whether the caller may see at least one version of object `id` in `collection`.
    fn visible(
        &self,
        collection: &str,
        id: &str,
        pushdown: &Pushdown,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes the selected versions from a collection.
    fn delete(
        &self,
        query: &DeleteQuery,
    ) -> impl Future<Output = Result<DeleteOutcome, StoreError>> + Send;

    /// A status resource, if kept and not expired at `now_us`.
    fn status(
        &self,
        id: &str,
        now_us: i64,
    ) -> impl Future<Output = Result<Option<StatusRecord>, StoreError>> + Send;

    /// Forgets status resources expired at `now_us`.
    fn purge_statuses(&self, now_us: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Every placement (for the policy's property test and exports' cross-checks).
    fn placements(&self) -> impl Future<Output = Result<Vec<Placement>, StoreError>> + Send;

    /// Entries of `collection` after `(date_added, row)` in order, at most `limit` (for push).
    fn sync_batch(
        &self,
        collection: &str,
        after: (i64, i64),
        limit: u32,
    ) -> impl Future<Output = Result<Vec<SyncRecord>, StoreError>> + Send;

    /// Every stored version of object `id` in `collection` (for `sync --explain`).
    fn sync_versions(
        &self,
        collection: &str,
        id: &str,
    ) -> impl Future<Output = Result<Vec<SyncRecord>, StoreError>> + Send;

    /// Every placement, in any collection, of the objects `ids`: `(collection, version)` with
    /// the version's facts and an empty `json` (the edge rule of push, for a page at once).
    fn placements_of(
        &self,
        ids: &[&str],
    ) -> impl Future<Output = Result<Vec<(String, SyncRecord)>, StoreError>> + Send;

    /// Records what push judged for one page of mapping `mapping` (local `collection`) towards
    /// `peer`: `held` versions `(vid, reason, detail)` are (re)recorded, `sent` ones forgotten.
    fn sync_hold(
        &self,
        peer: &str,
        mapping: &str,
        collection: &str,
        held: &[(i64, String, String)],
        sent: &[i64],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The recorded held-back state of versions `vids` for `(peer, mapping)`.
    fn sync_held_of(
        &self,
        peer: &str,
        mapping: &str,
        vids: &[i64],
    ) -> impl Future<Output = Result<Vec<Held>, StoreError>> + Send;

    /// Held-back versions of `(peer, mapping)` whose entry still exists and whose reason is not
    /// in `skip`, by row after `after_vid`, at most `limit`, with the entry (to judge them again).
    fn sync_held_batch(
        &self,
        peer: &str,
        mapping: &str,
        after_vid: i64,
        limit: u32,
        skip: &[&str],
    ) -> impl Future<Output = Result<Vec<(SyncRecord, Held)>, StoreError>> + Send;

    /// `(peer, reason, count)` of every held-back version recorded.
    fn sync_held_counts(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, String, i64)>, StoreError>> + Send;

    /// Records objects refused from peers (the same `(id, version, peer, collection)` again
    /// replaces the earlier record).
    fn record_refused(
        &self,
        refused: &[Refused],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` ids of objects (relationships, sightings, anything with a `*_ref`) one of
    /// whose stored versions points to `target`, by the `edges_target` index. Candidates only:
    /// whoever shows them must still read each through the policy listing.
    fn edge_sources(
        &self,
        target: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Every recorded refusal of object `id`.
    fn refused_of(&self, id: &str)
    -> impl Future<Output = Result<Vec<Refused>, StoreError>> + Send;

    /// `(peer, reason, count)` of every refusal recorded.
    fn refused_counts(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, String, i64)>, StoreError>> + Send;

    /// The refusals recorded, newest first: at most `limit` after skipping `offset` (the
    /// console's paged list; read by the `sync_refused_at` index).
    fn refused_latest(
        &self,
        offset: u32,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Refused>, StoreError>> + Send;

    /// `(collection, count)`: the object versions placed in each collection (for `/metrics`; one
    /// pass over the entries' primary-key index).
    fn collection_counts(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, i64)>, StoreError>> + Send;

    /// The generation of the stored content: it changes whenever any entry is added, re-dated or
    /// deleted, on this node or another on the same database, so that anything computed from
    /// listings (the console's cached figures) can be keyed on it. It is the latest `date_added`
    /// (unique and increasing in commit order under the store's one writer; re-dating an edge
    /// gives it a new one) and the number of deletions (each `delete` that removes an entry
    /// counts one, in its transaction). Two index reads.
    fn content_generation(&self) -> impl Future<Output = Result<(i64, i64), StoreError>> + Send;

    /// The ids of the objects that deletions `after + 1 ..= upto` (numbered by the deletion
    /// count of [`Store::content_generation`]) removed entries of, each deletion's id recorded in
    /// its transaction; `None` when one of them is no longer recorded (the latest
    /// [`DELETIONS_RECORDED`] are, and none made before the record began), so that whoever keeps
    /// something computed from listings reads it again whole.
    fn deleted_between(
        &self,
        after: i64,
        upto: i64,
    ) -> impl Future<Output = Result<Option<Vec<String>>, StoreError>> + Send;

    /// The persisted sync position for `(peer, collection, direction)`.
    fn sync_cursor(
        &self,
        peer: &str,
        collection: &str,
        direction: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Persists a sync position.
    fn set_sync_cursor(
        &self,
        peer: &str,
        collection: &str,
        direction: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Appends `entries` to the audit chain, in order, in one transaction that holds the chain
    /// (one writer on SQLite; an advisory lock on PostgreSQL, so that nodes on one database never
    /// fork it), stamped with the store's clock. Returns the new head.
    fn audit_append(
        &self,
        entries: &[audit::Entry],
    ) -> impl Future<Output = Result<audit::Head, StoreError>> + Send;

    /// Appends `entries` like [`Store::audit_append`] (same chain, same lock, same order), but
    /// answers once the transaction is committed without waiting for the disk: SQLite commits it
    /// with `synchronous=NORMAL` (the WAL frames are written, not synced), PostgreSQL with
    /// `synchronous_commit = off`. A committed record survives the crash of the caller's process;
    /// a power loss, an operating-system crash or (on PostgreSQL) a crash of the database server
    /// can lose the records appended since the last durable commit (any other write, or
    /// [`Store::audit_flush`]). The
    /// chain stays whole either way: what is lost is a tail, never a record in the middle.
    fn audit_append_committed(
        &self,
        entries: &[audit::Entry],
    ) -> impl Future<Output = Result<audit::Head, StoreError>> + Send;

    /// Makes every record committed so far durable: a small fully synchronous write (SQLite's
    /// `synchronous=FULL` syncs the whole WAL, PostgreSQL flushes its WAL up to that commit).
    fn audit_flush(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Audit records as stored, in `seq` order (see [`AuditQuery`]).
    fn audit_records(
        &self,
        query: &AuditQuery,
    ) -> impl Future<Output = Result<Vec<audit::Record>, StoreError>> + Send;

    /// The last audit record as stored, if any.
    fn audit_last(&self) -> impl Future<Output = Result<Option<audit::Record>, StoreError>> + Send;

    /// Looks values up in the value index through the caller's policy: only versions it may
    /// see, each the latest it may see of its object in its collection (see [`LookupQuery`]).
    fn lookup(
        &self,
        query: &LookupQuery,
    ) -> impl Future<Output = Result<LookupPage, StoreError>> + Send;
}

/// A look-up in the value index ([`Store::lookup`]) through a member's policy.
#[derive(Debug, Clone)]
pub struct LookupQuery {
    /// The caller's policy (without an egress rule: lookups are for members, not peer nodes).
    pub pushdown: Pushdown,
    /// What to find.
    pub target: LookupTarget,
    /// At most this many hits (one more is read to know whether there are more).
    pub limit: u32,
}

/// What a [`LookupQuery`] finds.
#[derive(Debug, Clone)]
pub enum LookupTarget {
    /// Versions holding one of `values` of `kind` (canonical texts, `matcher::occurrence`), or,
    /// with `within`, an address or network of that kind within a range.
    Values {
        /// The kind (`matcher::occurrence::Kind::as_str`).
        kind: String,
        /// Canonical values (an address's containing networks included).
        values: Vec<String>,
        /// Networks and addresses whose first address lies in a range.
        within: Option<NetRange>,
    },
    /// Sightings pointing to one of these objects.
    SightingsOf(Vec<String>),
}

/// A range of first addresses (big-endian bytes, 4 or 16) and the least prefix length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRange {
    /// First address of the range.
    pub first: Vec<u8>,
    /// Last address of the range.
    pub last: Vec<u8>,
    /// Least prefix length of what is found.
    pub min_prefix: i64,
}

/// One version found by [`Store::lookup`], in one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupHit {
    /// The value's kind as stored (empty for a sighting).
    pub kind: String,
    /// The value as stored (empty for a sighting).
    pub value: String,
    /// Where the value occurs (`matcher::occurrence::Place::as_str`).
    pub place: String,
    /// For a sighting: the object it points to that holds the value.
    pub via: Option<String>,
    /// The collection.
    pub collection: String,
    /// Object id.
    pub id: String,
    /// Object type.
    pub object_type: String,
    /// Version, nanoseconds.
    pub version_ns: i64,
    /// Version as given, or `None`.
    pub version_text: Option<String>,
    /// Stored TLP code.
    pub tlp: Option<i64>,
    /// Whether this version is revoked.
    pub revoked: bool,
    /// The object.
    pub json: String,
    /// `date_added` in the collection, microseconds.
    pub date_added_us: i64,
}

/// What [`Store::lookup`] found.
#[derive(Debug, Clone, Default)]
pub struct LookupPage {
    /// Hits, newest version first.
    pub hits: Vec<LookupHit>,
    /// Whether more hits were left out.
    pub more: bool,
}

/// Which audit records [`Store::audit_records`] returns, in `seq` order.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only records after this sequence number.
    pub after_seq: i64,
    /// Only records appended at or after this time (microseconds).
    pub since_us: Option<i64>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// Either backend, chosen by the database URL.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens (and migrates) the database at `url`: `sqlite://PATH` or `postgres://…`.
    pub async fn open(url: &str) -> Result<AnyStore, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(AnyStore::Postgres(PgStore::open(url).await?))
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Ok(AnyStore::Sqlite(
                SqliteStore::open(std::path::Path::new(path)).await?,
            ))
        }
    }

    /// Where the store of `url` is, when it does not exist yet: `None` when it exists (the SQLite
    /// file, or the PostgreSQL schema's tables), else what to call the missing store in a
    /// message. Creates nothing.
    pub async fn missing(url: &str) -> Result<Option<String>, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            use sqlx::{ConnectOptions, Connection, Row};
            let mut conn = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url)?
                .connect()
                .await?;
            let present: bool = sqlx::query(
                "SELECT to_regclass('versions') IS NOT NULL AND to_regclass('entries') IS NOT NULL",
            )
            .fetch_one(&mut conn)
            .await?
            .try_get(0)?;
            let _ = conn.close().await;
            Ok((!present).then(|| crate::config::redact_url(url)))
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            let file = path.split_once('?').map_or(path, |(f, _)| f);
            Ok((!std::path::Path::new(file).is_file()).then(|| file.to_owned()))
        }
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            AnyStore::Postgres($s) => $e,
        }
    };
}

impl Store for AnyStore {
    async fn cursor_key(&self) -> Result<Vec<u8>, StoreError> {
        delegate!(self, s => s.cursor_key().await)
    }
    async fn add(
        &self,
        collection: &str,
        provenance: &Provenance,
        versions: &[NewVersion],
        make_status: &(dyn Fn(&[AddOutcome]) -> StatusRecord + Sync),
    ) -> Result<Vec<AddOutcome>, StoreError> {
        delegate!(self, s => s.add(collection, provenance, versions, make_status).await)
    }
    async fn add_batches(
        &self,
        provenance: &Provenance,
        batches: &[CollectionBatch<'_>],
        all_or_nothing: bool,
        make_status: &(dyn Fn(usize, &[AddOutcome]) -> StatusRecord + Sync),
    ) -> Result<BatchesOutcome, StoreError> {
        delegate!(self, s => s.add_batches(provenance, batches, all_or_nothing, make_status).await)
    }
    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        delegate!(self, s => s.list(query).await)
    }
    async fn visible(
        &self,
        collection: &str,
        id: &str,
        pushdown: &Pushdown,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.visible(collection, id, pushdown).await)
    }
    async fn delete(&self, query: &DeleteQuery) -> Result<DeleteOutcome, StoreError> {
        delegate!(self, s => s.delete(query).await)
    }
    async fn status(&self, id: &str, now_us: i64) -> Result<Option<StatusRecord>, StoreError> {
        delegate!(self, s => s.status(id, now_us).await)
    }
    async fn purge_statuses(&self, now_us: i64) -> Result<u64, StoreError> {
        delegate!(self, s => s.purge_statuses(now_us).await)
    }
    async fn placements(&self) -> Result<Vec<Placement>, StoreError> {
        delegate!(self, s => s.placements().await)
    }
    async fn sync_batch(
        &self,
        collection: &str,
        after: (i64, i64),
        limit: u32,
    ) -> Result<Vec<SyncRecord>, StoreError> {
        delegate!(self, s => s.sync_batch(collection, after, limit).await)
    }
    async fn sync_versions(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Vec<SyncRecord>, StoreError> {
        delegate!(self, s => s.sync_versions(collection, id).await)
    }
    async fn placements_of(&self, ids: &[&str]) -> Result<Vec<(String, SyncRecord)>, StoreError> {
        delegate!(self, s => s.placements_of(ids).await)
    }
    async fn sync_hold(
        &self,
        peer: &str,
        mapping: &str,
        collection: &str,
        held: &[(i64, String, String)],
        sent: &[i64],
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.sync_hold(peer, mapping, collection, held, sent).await)
    }
    async fn sync_held_of(
        &self,
        peer: &str,
        mapping: &str,
        vids: &[i64],
    ) -> Result<Vec<Held>, StoreError> {
        delegate!(self, s => s.sync_held_of(peer, mapping, vids).await)
    }
    async fn sync_held_batch(
        &self,
        peer: &str,
        mapping: &str,
        after_vid: i64,
        limit: u32,
        skip: &[&str],
    ) -> Result<Vec<(SyncRecord, Held)>, StoreError> {
        delegate!(self, s => s.sync_held_batch(peer, mapping, after_vid, limit, skip).await)
    }
    async fn sync_held_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        delegate!(self, s => s.sync_held_counts().await)
    }
    async fn record_refused(&self, refused: &[Refused]) -> Result<(), StoreError> {
        delegate!(self, s => s.record_refused(refused).await)
    }
    async fn edge_sources(&self, target: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        delegate!(self, s => s.edge_sources(target, limit).await)
    }
    async fn refused_of(&self, id: &str) -> Result<Vec<Refused>, StoreError> {
        delegate!(self, s => s.refused_of(id).await)
    }
    async fn refused_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        delegate!(self, s => s.refused_counts().await)
    }
    async fn refused_latest(&self, offset: u32, limit: u32) -> Result<Vec<Refused>, StoreError> {
        delegate!(self, s => s.refused_latest(offset, limit).await)
    }
    async fn collection_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        delegate!(self, s => s.collection_counts().await)
    }
    async fn content_generation(&self) -> Result<(i64, i64), StoreError> {
        delegate!(self, s => s.content_generation().await)
    }
    async fn deleted_between(
        &self,
        after: i64,
        upto: i64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        delegate!(self, s => s.deleted_between(after, upto).await)
    }
    async fn sync_cursor(
        &self,
        peer: &str,
        collection: &str,
        direction: &str,
    ) -> Result<Option<String>, StoreError> {
        delegate!(self, s => s.sync_cursor(peer, collection, direction).await)
    }
    async fn set_sync_cursor(
        &self,
        peer: &str,
        collection: &str,
        direction: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.set_sync_cursor(peer, collection, direction, value).await)
    }
    async fn audit_append(&self, entries: &[audit::Entry]) -> Result<audit::Head, StoreError> {
        delegate!(self, s => s.audit_append(entries).await)
    }
    async fn audit_append_committed(
        &self,
        entries: &[audit::Entry],
    ) -> Result<audit::Head, StoreError> {
        delegate!(self, s => s.audit_append_committed(entries).await)
    }
    async fn audit_flush(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.audit_flush().await)
    }
    async fn audit_records(&self, query: &AuditQuery) -> Result<Vec<audit::Record>, StoreError> {
        delegate!(self, s => s.audit_records(query).await)
    }
    async fn audit_last(&self) -> Result<Option<audit::Record>, StoreError> {
        delegate!(self, s => s.audit_last().await)
    }
    async fn lookup(&self, query: &LookupQuery) -> Result<LookupPage, StoreError> {
        delegate!(self, s => s.lookup(query).await)
    }
}
