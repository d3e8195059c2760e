//! The two backends. Their SQL is the same text (see `sql.rs`) except for the schema, the bulk
//! writes of `add` (multi-row `VALUES` on SQLite, `UNNEST` of one array per column on PostgreSQL)
//! and how a writer takes the write lock, so one macro implements [`Store`] for both. The object
//! JSON is TEXT on both: nothing queries inside it, and PostgreSQL's `jsonb` cost a parse of every
//! object on POST (and reordered the keys).

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    str::FromStr,
    time::Duration,
};

use sqlx::{
    AssertSqlSafe, Row,
    postgres::{PgConnectOptions, PgPool},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous},
};

use super::{
    AddOutcome, BatchesOutcome, CollectionBatch, DeleteOutcome, DeleteQuery, Held, ListQuery,
    LookupHit, LookupPage, LookupQuery, NewVersion, Page, Placement, Provenance, Record, Refused,
    StatusRecord, Store, StoreError, SyncRecord,
    sql::{self, Bind, Dialect},
};
use crate::{AuditQuery, audit, timestamps};

/// The `versions` table's columns after `vid`, the same on both backends (which differ only in
/// how `vid` is generated).
macro_rules! versions_columns {
    () => {
        "id TEXT NOT NULL, type TEXT NOT NULL, spec_version TEXT NOT NULL,
        version_ns BIGINT NOT NULL, version_text TEXT,
        tlp BIGINT, producer TEXT NOT NULL, created_by_ref TEXT, revoked BIGINT NOT NULL,
        has_edges BIGINT NOT NULL, json TEXT NOT NULL,
        source TEXT NOT NULL, actor TEXT NOT NULL, received_at BIGINT NOT NULL,
        UNIQUE (id, version_ns))"
    };
}

const SQLITE_VERSIONS: &str = concat!(
    "CREATE TABLE IF NOT EXISTS versions (vid INTEGER PRIMARY KEY AUTOINCREMENT, ",
    versions_columns!()
);

const POSTGRES_VERSIONS: &str = concat!(
    "CREATE TABLE IF NOT EXISTS versions (vid BIGSERIAL PRIMARY KEY, ",
    versions_columns!()
);

/// Every other table and index, in SQL both backends accept; run after the `versions` table.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS entries (
        collection TEXT NOT NULL, vid BIGINT NOT NULL, date_added BIGINT NOT NULL,
        multi BIGINT NOT NULL DEFAULT 1, type TEXT,
        PRIMARY KEY (collection, vid))",
    "CREATE INDEX IF NOT EXISTS entries_order ON entries (collection, date_added, vid)",
    "CREATE INDEX IF NOT EXISTS entries_vid ON entries (vid)",
    "CREATE INDEX IF NOT EXISTS entries_date ON entries (date_added)",
    "CREATE TABLE IF NOT EXISTS edges (vid BIGINT NOT NULL, target TEXT NOT NULL, PRIMARY KEY (vid, target))",
    // By target: when an object gets a new version or placement, `add` re-dates the edges that
    // point to it (so that sync judges them again). Stores created without it get it here.
    "CREATE INDEX IF NOT EXISTS edges_target ON edges (target)",
    "CREATE TABLE IF NOT EXISTS statuses (
        id TEXT PRIMARY KEY, api_root TEXT NOT NULL, member TEXT NOT NULL,
        request_ts BIGINT NOT NULL, expires BIGINT NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS statuses_expires ON statuses (expires)",
    "CREATE TABLE IF NOT EXISTS sync_cursors (
        peer TEXT NOT NULL, collection TEXT NOT NULL, direction TEXT NOT NULL,
        value TEXT NOT NULL, updated BIGINT NOT NULL, PRIMARY KEY (peer, collection, direction))",
    // What push held back from a peer (or the peer refused), per mapping and version, and why.
    "CREATE TABLE IF NOT EXISTS sync_held (
        peer TEXT NOT NULL, mapping TEXT NOT NULL, collection TEXT NOT NULL, vid BIGINT NOT NULL,
        reason TEXT NOT NULL, detail TEXT NOT NULL, since BIGINT NOT NULL,
        PRIMARY KEY (peer, mapping, vid))",
    "CREATE INDEX IF NOT EXISTS sync_held_vid ON sync_held (vid)",
    // What this node refused from a peer (its pull, or the peer's push), and why.
    "CREATE TABLE IF NOT EXISTS sync_refused (
        id TEXT NOT NULL, version TEXT NOT NULL, peer TEXT NOT NULL, collection TEXT NOT NULL,
        reason TEXT NOT NULL, detail TEXT NOT NULL, at BIGINT NOT NULL,
        PRIMARY KEY (id, version, peer, collection))",
    "CREATE INDEX IF NOT EXISTS sync_refused_at ON sync_refused (at)",
    // The audit chain (`policy::audit`): appended only, under the write lock of `audit_append`.
    "CREATE TABLE IF NOT EXISTS audit (
        seq BIGINT PRIMARY KEY, time_us BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        path TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL,
        prev_digest TEXT NOT NULL, digest TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_time ON audit (time_us)",
    // How far each audit journal file (`journal`) was drained into `audit`: updated in the
    // transaction that appends its records, so that a replay after a crash starts after them.
    "CREATE TABLE IF NOT EXISTS audit_journal (segment TEXT PRIMARY KEY, drained BIGINT NOT NULL)",
    // The value index (`matcher::occurrence`): one row per canonical value, version and place,
    // written with the version; addresses and networks also by first address (big-endian bytes,
    // `BYTEA` to PostgreSQL and a blob to SQLite, both compared byte by byte) and prefix length.
    // Its first build over an older store is recorded in `settings` (`VALUE_INDEX_KEY`).
    "CREATE TABLE IF NOT EXISTS value_index (
        kind TEXT NOT NULL, value TEXT NOT NULL, vid BIGINT NOT NULL, place TEXT NOT NULL,
        net BYTEA, plen BIGINT, PRIMARY KEY (kind, value, vid, place))",
    "CREATE INDEX IF NOT EXISTS value_index_vid ON value_index (vid)",
    "CREATE INDEX IF NOT EXISTS value_index_net ON value_index (kind, net, plen) WHERE net IS NOT NULL",
    // The SCO ids each observed-data version names in `object_refs` (those the value index
    // reads, `matcher::occurrence`), kept whether the SCO is stored or not: an SCO stored after
    // an observed-data that names it indexes that observed-data with its values. Filled once
    // for older stores (`OBSERVED_REFS_KEY`).
    "CREATE TABLE IF NOT EXISTS observed_refs (
        target TEXT NOT NULL, vid BIGINT NOT NULL, PRIMARY KEY (target, vid))",
    "CREATE INDEX IF NOT EXISTS observed_refs_vid ON observed_refs (vid)",
];

/// The listing order within one object type (a copy of `versions.type` on each entry, written
/// with it): a listing filtered by type walks only that type's entries, in order.
const ENTRIES_TYPE_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS entries_type ON entries (collection, type, date_added, vid)";

/// Fills `entries.type` of stores written before it (NULL there), once (recorded in `settings`
/// under [`ENTRIES_TYPE_KEY`]).
const FILL_ENTRIES_TYPE: &str = "UPDATE entries SET type = (SELECT v.type FROM versions v WHERE v.vid = entries.vid) WHERE type IS NULL";
/// The `settings` key that records that every entry's `type` is filled in.
const ENTRIES_TYPE_KEY: &str = "entries_type_v1";

/// Whether the one-time step recorded under the `settings` key `$key` has run (in `$conn`).
macro_rules! once_done {
    ($conn:expr, $key:expr) => {
        sqlx::query("SELECT 1 FROM settings WHERE key = $1")
            .bind($key)
            .fetch_optional(&mut *$conn)
            .await?
            .is_some()
    };
}

/// Records in `settings` that the one-time step `$key` has run (in `$conn`).
macro_rules! mark_once_done {
    ($conn:expr, $key:expr) => {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, '1') ON CONFLICT (key) DO NOTHING",
        )
        .bind($key)
        .execute(&mut *$conn)
        .await?
    };
}

/// Fills `entries.type` once and creates its index (see [`FILL_ENTRIES_TYPE`]), inside the
/// caller's transaction, which holds the write lock.
macro_rules! fill_entries_type {
    ($conn:expr) => {{
        let done = once_done!($conn, ENTRIES_TYPE_KEY);
        if !done {
            let filled = sqlx::query(FILL_ENTRIES_TYPE)
                .execute(&mut *$conn)
                .await?
                .rows_affected();
            if filled > 0 {
                tracing::info!(entries = filled, "Entries' object type filled in (once).");
            }
            mark_once_done!($conn, ENTRIES_TYPE_KEY);
        }
        sqlx::query(ENTRIES_TYPE_INDEX).execute(&mut *$conn).await?;
    }};
}

/// What only PostgreSQL runs after [`SCHEMA`]: upgrades of stores created by earlier versions.
const POSTGRES_UPGRADES: &[&str] = &[
    // Stores created before `entries.multi`: 1 (the safe value) for every existing entry.
    "ALTER TABLE entries ADD COLUMN IF NOT EXISTS multi BIGINT NOT NULL DEFAULT 1",
    // Stores created before `entries.type`: added here, filled by `FILL_ENTRIES_TYPE`.
    "ALTER TABLE entries ADD COLUMN IF NOT EXISTS type TEXT",
];

/// Run once when `sync_held` is created in a store that predates it: push positions passed
/// versions that were held back without a record (and edges that were never judged again), so
/// every push mapping starts over once, judging and recording everything (a replay at the peer is
/// `AlreadyPresent`).
const FORGET_PUSH_POSITIONS: &str = "DELETE FROM sync_cursors WHERE direction = 'push'";
/// The `settings` key that counts the deletions that removed an entry (`Store::content_generation`).
const DELETIONS_KEY: &str = "content_deletions";

/// The prefix of the `settings` keys that record, per deletion (`content_deletion_<n>`), the id
/// of the object it removed entries of (`Store::deleted_between`).
const DELETED_PREFIX: &str = "content_deletion_";

/// The `settings` key that records that the value index holds every stored version.
const VALUE_INDEX_KEY: &str = "value_index_v1";
/// The `settings` key that records that `observed_refs` holds every stored observed-data's refs.
const OBSERVED_REFS_KEY: &str = "observed_refs_v1";
/// The `settings` key that records that the value index holds no copy of a referenced SCO's
/// values under an observed-data (stores written before `sql::lookup` followed `observed_refs`).
const OBSERVED_COPIES_KEY: &str = "value_index_observed_copies_dropped";
/// The `settings` key that records that every stored TLP counts granular markings.
const GRANULAR_TLP_KEY: &str = "tlp_counts_granular_markings";

/// The TLP code an object's JSON gives today, when it differs from the `stored` one (`None` when
/// it is the same or the JSON cannot be read, which leaves the row as it is).
fn recomputed_tlp(json: &str, stored: Option<i64>) -> Option<Option<i64>> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let tlp = stix::meta::meta_of(&value)
        .ok()?
        .tlp
        .map(crate::policy::tlp_code);
    (tlp != stored).then_some(tlp)
}

/// Stores written when the effective TLP ignored granular markings: the TLP of every version whose
/// JSON mentions `granular_markings` is computed again, once (recorded in `settings`), inside the
/// caller's transaction.
macro_rules! recompute_granular_tlp {
    ($conn:expr) => {{
        let done = once_done!($conn, GRANULAR_TLP_KEY);
        if !done {
            let rows = sqlx::query(
                "SELECT vid, tlp, json FROM versions WHERE json LIKE '%\"granular_markings\"%'",
            )
            .fetch_all(&mut *$conn)
            .await?;
            let mut changed = 0usize;
            for r in rows {
                let (vid, tlp, json): (i64, Option<i64>, String) =
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                if let Some(tlp) = recomputed_tlp(&json, tlp) {
                    sqlx::query("UPDATE versions SET tlp = $1 WHERE vid = $2")
                        .bind(tlp)
                        .bind(vid)
                        .execute(&mut *$conn)
                        .await?;
                    changed += 1;
                }
            }
            if changed > 0 {
                tracing::info!(
                    versions = changed,
                    "Effective TLP recomputed to count granular markings (once)."
                );
            }
            mark_once_done!($conn, GRANULAR_TLP_KEY);
        }
    }};
}

/// Every pool's settings. A connection is pinged before it is handed out only when it has been
/// idle for [`PING_AFTER_IDLE`] (a connection the server may have dropped meanwhile): by default
/// sqlx pings on every acquisition, one more round trip per query on a busy server (it doubled
/// the round trips of a PostgreSQL by-id GET).
fn pool_options<DB: sqlx::Database>() -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::<DB>::new()
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// See [`pool_options`].
const PING_AFTER_IDLE: Duration = Duration::from_secs(30);

/// PostgreSQL connections per node.
const PG_CONNECTIONS: u32 = 16;

/// The SQLite writer's page cache (KiB, as `PRAGMA cache_size` takes it: negative). The one
/// writer keeps the indexes it appends to in memory.
const WRITER_CACHE_KIB: &str = "-65536";

/// SQLite readers.
const READERS: u32 = 8;

/// Each SQLite reader's page cache (KiB, negative as `PRAGMA cache_size` takes it). Readers are
/// many and their look-ups short: they read through the operating system's page cache, which all
/// of them share and which is not the process's memory, rather than each keeping its own copy of
/// the hot pages. With the writer's 64 MiB each, eight readers under by-id load grew the process
/// to 450–650 MiB; with 2 MiB it stays near 60 MiB at the same throughput (`docs/PERFORMANCE.md`).
/// Not `mmap_size`: every connection maps the file anew, and the pages each touches count once
/// per connection in the process's resident size.
const READER_CACHE_KIB: &str = "-2048";

/// The writer's inline checkpoint threshold (WAL pages, `PRAGMA wal_autocheckpoint`): a
/// backstop only. A commit of `add` hands the checkpoint to [`SqliteStore::checkpoint_soon`],
/// on another connection after the commit, so that a POST's commit never copies the WAL into the
/// database itself (SQLite's default, 1,000 pages, did so every few envelopes); the writer
/// checkpoints inline only if the WAL grows this large meanwhile (writes other than `add`, a
/// background checkpoint that cannot keep up).
const WRITER_AUTOCHECKPOINT_PAGES: &str = "16384";

/// The embedded SQLite store: one writer connection, a pool of readers, WAL.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) writer: SqlitePool,
    pub(crate) readers: SqlitePool,
    /// The connection that checkpoints the WAL after `add`'s commits ([`Self::checkpoint_soon`]).
    checkpointer: SqlitePool,
    /// Whether a checkpoint is running or about to.
    checkpointing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SqliteStore {
    /// Opens (creating when absent) the database file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        // Private from the start: the folder 0700, the database 0600 (SQLite gives its -wal and
        // -shm files the database file's permissions).
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            crate::files::create_private_dir_all(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        if path.as_os_str() != ":memory:" {
            crate::files::touch_private(path).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", path.display()))
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before a POST is acknowledged (survives power loss too).
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", WRITER_CACHE_KIB);
        let writer = pool_options::<sqlx::Sqlite>()
            .max_connections(1)
            .connect_with(
                options
                    .clone()
                    .pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES),
            )
            .await?;
        let had_held: i64 = sqlx::query(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sync_held'",
        )
        .fetch_one(&writer)
        .await?
        .try_get(0)?;
        for stmt in std::iter::once(&SQLITE_VERSIONS)
            .chain(SCHEMA)
            .chain(crate::admin_state::SCHEMA)
        {
            sqlx::query(*stmt).execute(&writer).await?;
        }
        if had_held == 0 {
            sqlx::query(FORGET_PUSH_POSITIONS).execute(&writer).await?;
        }
        // Stores created before `entries.multi`: 1 (the safe value) for every existing entry.
        let has_multi: i64 =
            sqlx::query("SELECT COUNT(*) FROM pragma_table_info('entries') WHERE name = 'multi'")
                .fetch_one(&writer)
                .await?
                .try_get(0)?;
        if has_multi == 0 {
            sqlx::query("ALTER TABLE entries ADD COLUMN multi BIGINT NOT NULL DEFAULT 1")
                .execute(&writer)
                .await?;
        }
        // Stores created before `entries.type`: the column, filled once from `versions`.
        let has_type: i64 =
            sqlx::query("SELECT COUNT(*) FROM pragma_table_info('entries') WHERE name = 'type'")
                .fetch_one(&writer)
                .await?
                .try_get(0)?;
        if has_type == 0 {
            sqlx::query("ALTER TABLE entries ADD COLUMN type TEXT")
                .execute(&writer)
                .await?;
        }
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        recompute_granular_tlp!(tx);
        fill_entries_type!(tx);
        SqliteStore::build_value_index(&mut tx).await?;
        SqliteStore::build_observed_refs(&mut tx).await?;
        SqliteStore::drop_observed_copies(&mut tx).await?;
        tx.commit().await?;
        let checkpointer = pool_options::<sqlx::Sqlite>()
            .max_connections(1)
            .min_connections(0)
            .connect_lazy_with(options.clone().pragma("cache_size", READER_CACHE_KIB));
        let readers = pool_options::<sqlx::Sqlite>()
            .max_connections(READERS)
            .connect_with(
                options
                    .read_only(true)
                    .pragma("cache_size", READER_CACHE_KIB),
            )
            .await?;
        Ok(SqliteStore {
            writer,
            readers,
            checkpointer,
            checkpointing: Default::default(),
        })
    }

    /// Copies the WAL's committed frames into the database file (`PRAGMA
    /// wal_checkpoint(PASSIVE)`: it waits for no reader or writer, and stops at what a reader
    /// still needs) on the checkpointer's connection, in a task of its own, so that the commit
    /// that asks for it returns first. One at a time: a commit while one runs asks for nothing
    /// (the next commit will). Durability does not depend on it: a commit is synced in the WAL
    /// (`synchronous=FULL`) before it returns; a checkpoint only moves it into the main file.
    fn checkpoint_soon(&self) {
        use std::sync::atomic::Ordering;
        if self.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (pool, flag) = (self.checkpointer.clone(), self.checkpointing.clone());
        tokio::spawn(async move {
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed (the next write tries again).");
            }
            flag.store(false, Ordering::Release);
        });
    }
}

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Rows written since the last `ANALYZE`, and the table size then: fresh statistics keep the
    /// planner on the indexes after bulk loads (autovacuum comes too late for a load-then-read).
    analyze: std::sync::Arc<std::sync::Mutex<(u64, u64)>>,
    /// Whether an `ANALYZE` is running.
    analyzing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl PgStore {
    /// Connects to `url` and brings the schema up to date (under an advisory lock, so that several
    /// nodes starting together do not race).
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        // No JIT: a listing is short, and compiling one costs tens of milliseconds. Generic plans:
        // every statement is prepared once per connection (sqlx caches them) and its plan kept;
        // with custom plans PostgreSQL planned every page of a listing again (its parameters
        // change from page to page), which cost a third of its time per page. The plans are the
        // same index walks whatever the values (`entries_order`, the ids' versions first), and an
        // `ANALYZE` invalidates them.
        let options = PgConnectOptions::from_str(url)?
            .options([("jit", "off"), ("plan_cache_mode", "force_generic_plan")]);
        let pool = pool_options::<sqlx::Postgres>()
            .max_connections(PG_CONNECTIONS)
            .connect_with(options)
            .await?;
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(72830001)")
            .execute(&mut *tx)
            .await?;
        let had_held: bool = sqlx::query("SELECT to_regclass('sync_held') IS NOT NULL")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        for stmt in std::iter::once(&POSTGRES_VERSIONS)
            .chain(SCHEMA)
            .chain(POSTGRES_UPGRADES)
            .chain(crate::admin_state::SCHEMA)
        {
            sqlx::query(*stmt).execute(&mut *tx).await?;
        }
        if !had_held {
            sqlx::query(FORGET_PUSH_POSITIONS).execute(&mut *tx).await?;
        }
        fill_entries_type!(tx);
        // Stores created when the object JSON was `jsonb`: to TEXT (the text `jsonb` gives back,
        // which is what they served until now). Rewrites the table once, under the lock.
        let json_type: Option<String> = sqlx::query(
            "SELECT data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'versions' AND column_name = 'json'",
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        if json_type.as_deref() == Some("jsonb") {
            tracing::info!("Converting versions.json from jsonb to text (once).");
            sqlx::query("ALTER TABLE versions ALTER COLUMN json TYPE TEXT USING json::text")
                .execute(&mut *tx)
                .await?;
        }
        recompute_granular_tlp!(tx);
        PgStore::build_value_index(&mut tx).await?;
        PgStore::build_observed_refs(&mut tx).await?;
        PgStore::drop_observed_copies(&mut tx).await?;
        tx.commit().await?;
        Ok(PgStore {
            pool,
            analyze: std::sync::Arc::new(std::sync::Mutex::new((0, 0))),
            analyzing: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    async fn after_write(&self, rows: u64) -> Result<(), StoreError> {
        let due = match self.analyze.lock() {
            Ok(mut g) => {
                g.0 += rows;
                // Each time the tables have doubled (about 7 times over a 100k load).
                let due = g.0 >= 1000 && g.0 >= g.1;
                if due {
                    g.1 += g.0;
                    g.0 = 0;
                }
                due
            }
            Err(_) => false,
        };
        // In the background (one at a time), so that the POST that crossed the threshold is not
        // held up; the columns listings filter and join on, not the JSON.
        if due
            && !self
                .analyzing
                .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            let pool = self.pool.clone();
            let flag = self.analyzing.clone();
            tokio::spawn(async move {
                let r = sqlx::query(
                    "ANALYZE versions (vid, id, type, spec_version, version_ns, tlp, producer, has_edges), entries, edges, value_index",
                )
                .execute(&pool)
                .await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "ANALYZE failed.");
                }
                flag.store(false, std::sync::atomic::Ordering::Release);
            });
        }
        Ok(())
    }

    /// The pool (for tests that need to inspect the database).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // getrandom only fails when the OS has no entropy source; a fixed key would be worse than stopping.
    getrandom::fill(&mut buf).expect("the operating system provides random bytes");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    s.len()
        .is_multiple_of(2)
        .then(|| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .flatten()
}

/// Rows per multi-row statement (SQLite binds at most 32,766 values, PostgreSQL 65,535).
const CHUNK: usize = 256;

/// The entries `(date_added, vid, collection)` of the edges pointing to `n` bound targets: by
/// the `edges_target` index, then each edge's entries by `entries_vid` (never a collection scan).
fn redate_select(dialect: Dialect, n: usize) -> String {
    format!(
        "SELECT e.date_added, e.vid, e.collection FROM edges r CROSS JOIN entries e \
         WHERE e.vid = r.vid AND r.target IN ({})",
        placeholders(dialect, 1, n)
    )
}

/// Placeholder number `n`. SQLite gets anonymous `?` (bound in order of appearance): sqlx looks
/// up the name of every `$n` parameter, and SQLite finds a name by a linear search, which made a
/// 3,584-value INSERT spend most of its time naming parameters.
fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => "?".to_owned(),
        Dialect::Postgres => format!("${n}"),
    }
}

/// `count` placeholders numbered from `first`, comma-separated.
fn placeholders(dialect: Dialect, first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| placeholder(dialect, n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The start of a bulk insert that skips rows already present: on SQLite `INSERT OR IGNORE
/// INTO`, whose statement cannot abort half-way and so keeps no statement journal (with `ON
/// CONFLICT DO NOTHING` the `NOT NULL` constraints could still abort it, and SQLite copied every
/// page the statement touched into a statement journal, spilled to a temporary file past 64 KiB);
/// on PostgreSQL `INSERT INTO`, completed by [`on_conflict_ignore`]. The conflicts SQLite ignores
/// beyond the unique keys, `NULL` in a `NOT NULL` column, cannot arise: every such value is
/// bound from a non-optional field.
fn insert_ignoring(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "INSERT OR IGNORE INTO",
        Dialect::Postgres => "INSERT INTO",
    }
}

/// See [`insert_ignoring`].
fn on_conflict_ignore(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " ON CONFLICT DO NOTHING",
    }
}

/// `($1, …, $cols), ($cols+1, …)` for `rows` rows (on SQLite `(?, …), …`), written into one
/// string without a string per placeholder.
fn values_list(dialect: Dialect, rows: usize, cols: usize) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(rows * (cols * 6 + 4));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            n += 1;
            if c > 0 {
                s.push_str(", ");
            }
            match dialect {
                Dialect::Sqlite => s.push('?'),
                Dialect::Postgres => {
                    let _ = write!(s, "${n}");
                }
            }
        }
        s.push(')');
    }
    s
}

macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::Int(i) => q.bind(*i),
                Bind::Text(s) => q.bind(s.as_str()),
                Bind::Bytes(b) => q.bind(b.as_slice()),
            };
        }
        q
    }};
}

macro_rules! sync_record {
    ($r:expr) => {{
        let r = $r;
        Ok::<SyncRecord, StoreError>(SyncRecord {
            date_added_us: r.try_get(0)?,
            row: r.try_get(1)?,
            id: r.try_get(2)?,
            object_type: r.try_get(3)?,
            version_ns: r.try_get(4)?,
            tlp: r.try_get(5)?,
            producer: r.try_get(6)?,
            source: r.try_get(7)?,
            received_us: r.try_get(8)?,
            json: r.try_get(9)?,
        })
    }};
}

/// An [`audit::Record`] from a row of `AUDIT_COLUMNS`.
macro_rules! audit_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<audit::Record, StoreError>(audit::Record {
            seq: r.try_get(0)?,
            time_us: r.try_get(1)?,
            actor: r.try_get(2)?,
            action: r.try_get(3)?,
            path: r.try_get(4)?,
            target: r.try_get(5)?,
            outcome: r.try_get(6)?,
            detail: r.try_get(7)?,
            prev_digest: r.try_get(8)?,
            digest: r.try_get(9)?,
        })
    }};
}

pub(crate) const AUDIT_COLUMNS: &str =
    "seq, time_us, actor, action, path, target, outcome, detail, prev_digest, digest";

/// Extends the audit chain inside the open transaction `$tx` (whose caller holds the chain's
/// lock: SQLite's one writer, PostgreSQL's advisory lock): reads the last record, seals each
/// entry after it, never earlier than that record's time, and answers the new head. The one
/// append of the chain, for `Store::audit_append` and the admin state's commit alike.
macro_rules! append_audit_in {
    // `$items`: `(time_us, &Entry)` in chain order; each record's time is never earlier than the
    // one before it.
    (@timed $tx:expr, $items:expr) => {{
        let last = sqlx::query("SELECT seq, time_us, digest FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *$tx)
            .await?;
        let mut sealer = match last {
            Some(r) => audit::Sealer::after(
                audit::Head {
                    seq: r.try_get(0)?,
                    digest: r.try_get(2)?,
                },
                // Never earlier than the record before (a clock stepped back keeps the order).
                r.try_get(1)?,
            ),
            None => audit::Sealer::after(audit::Head::of(None), i64::MIN),
        };
        let records: Vec<audit::Sealed<'_>> =
            $items.map(|(t, e)| sealer.seal(t, e)).collect();
        // One statement for the whole batch (`AuditRows`), not one per record.
        $crate::backends::AuditRows::insert_audit(&mut *$tx, &records).await?;
        sealer.head().clone()
    }};
    ($tx:expr, $entries:expr, $now:expr) => {{
        let now: i64 = $now;
        $crate::backends::append_audit_in!(@timed $tx, ($entries).iter().map(|e| (now, e)))
    }};
}
pub(crate) use append_audit_in;

/// Inserts sealed audit records: on SQLite, multi-row `VALUES` with the fields bound as they are
/// (chunks of a few fixed sizes, so that each statement is prepared once per connection); on
/// PostgreSQL one statement, one array per column through `UNNEST`.
pub(crate) trait AuditRows {
    fn insert_audit(
        &mut self,
        records: &[audit::Sealed<'_>],
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
}

/// Most audit rows in one SQLite `INSERT` (a power of two; 10 parameters a row, far below
/// SQLite's limit of 32,766).
const AUDIT_CHUNK_LOG2: usize = 8;

/// The SQLite `INSERT` of `2^k` audit rows, for `k` in `0..=AUDIT_CHUNK_LOG2`.
fn sqlite_audit_insert(k: usize) -> &'static str {
    static TEXTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        (0..=AUDIT_CHUNK_LOG2)
            .map(|k| {
                let rows = vec!["(?,?,?,?,?,?,?,?,?,?)"; 1 << k].join(",");
                format!(
                    "INSERT INTO audit (seq, time_us, actor, action, path, target, outcome, detail, prev_digest, digest) VALUES {rows}"
                )
            })
            .collect()
    });
    texts[k.min(AUDIT_CHUNK_LOG2)].as_str()
}

impl AuditRows for sqlx::SqliteConnection {
    async fn insert_audit(&mut self, records: &[audit::Sealed<'_>]) -> Result<(), StoreError> {
        // Bound values, not a JSON text that SQLite would parse again row by row and column by
        // column (`jsonb_each`, `->>`: a third of the writer's time per record). Chunks of
        // 2^AUDIT_CHUNK_LOG2 rows, the rest by falling powers of two: at most nine statements,
        // each prepared once and kept by the connection's statement cache.
        let mut rest = records;
        while !rest.is_empty() {
            let k = (usize::BITS - 1 - rest.len().leading_zeros()) as usize;
            let k = k.min(AUDIT_CHUNK_LOG2);
            let (chunk, tail) = rest.split_at(1 << k);
            let mut q = sqlx::query(sqlite_audit_insert(k));
            for r in chunk {
                q = q
                    .bind(r.seq)
                    .bind(r.time_us)
                    .bind(r.entry.actor.as_str())
                    .bind(r.entry.action.as_str())
                    .bind(r.entry.path.as_str())
                    .bind(r.entry.target.as_str())
                    .bind(r.entry.outcome.as_str())
                    .bind(r.entry.detail.as_str())
                    .bind(r.prev_digest.as_str())
                    .bind(r.digest.as_str());
            }
            q.execute(&mut *self).await?;
            rest = tail;
        }
        Ok(())
    }
}

impl AuditRows for sqlx::PgConnection {
    async fn insert_audit(&mut self, records: &[audit::Sealed<'_>]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let col = |f: for<'r, 's> fn(&'r audit::Sealed<'s>) -> &'r str| -> Vec<&str> {
            records.iter().map(f).collect()
        };
        sqlx::query(
            "INSERT INTO audit (seq, time_us, actor, action, path, target, outcome, detail, prev_digest, digest) \
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::text[], $10::text[])",
        )
        .bind(records.iter().map(|r| r.seq).collect::<Vec<i64>>())
        .bind(records.iter().map(|r| r.time_us).collect::<Vec<i64>>())
        .bind(col(|r| &r.entry.actor))
        .bind(col(|r| &r.entry.action))
        .bind(col(|r| &r.entry.path))
        .bind(col(|r| &r.entry.target))
        .bind(col(|r| &r.entry.outcome))
        .bind(col(|r| &r.entry.detail))
        .bind(col(|r| &r.prev_digest))
        .bind(col(|r| &r.digest))
        .execute(&mut *self)
        .await?;
        Ok(())
    }
}

macro_rules! impl_store {
    ($ty:ident, $conn:ty, $dialect:expr, reader = |$rs:ident| $reader:expr, writer = |$ws:ident| $writer:expr, begin = $begin:expr, lock = $lock:expr, audit_lock = $audit_lock:expr) => {
        impl $ty {
            /// Gives the entries of every relationship or sighting pointing to `targets` (in every
            /// collection) a fresh `date_added`, after `*last` and in their current order, inside
            /// the caller's write transaction. Called when those objects got a new version or a
            /// new placement (or lost one): whatever an edge's egress depended on has changed, and
            /// a push position or a peer's `added_after` that had passed the edge now reaches it
            /// again, so that sync judges it again (a replay at a peer is `AlreadyPresent`).
            /// Returns how many entries were re-dated.
            async fn redate_edges(
                conn: &mut $conn,
                targets: &[&str],
                last: &mut i64,
                now: i64,
            ) -> Result<u64, StoreError> {
                let mut found: Vec<(i64, i64, String)> = Vec::new();
                for chunk in targets.chunks(CHUNK) {
                    let mut q = sqlx::query(AssertSqlSafe(redate_select($dialect, chunk.len())));
                    for t in chunk {
                        q = q.bind(*t);
                    }
                    for r in q.fetch_all(&mut *conn).await? {
                        found.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
                    }
                }
                found.sort_unstable();
                found.dedup();
                for (_, vid, collection) in &found {
                    *last = now.max(*last + 1);
                    sqlx::query("UPDATE entries SET date_added = $1 WHERE collection = $2 AND vid = $3")
                        .bind(*last)
                        .bind(collection.as_str())
                        .bind(*vid)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(found.len() as u64)
            }

            /// [`Store::add`]'s work for one collection inside the caller's write transaction
            /// (write lock taken): `*last` is the latest `date_added` assigned so far.
            async fn add_in(
                conn: &mut $conn,
                collection: &str,
                provenance: &Provenance,
                versions: &[NewVersion],
                last: &mut i64,
                now: i64,
            ) -> Result<Vec<AddOutcome>, StoreError> {
                // A collection removed since the caller's configuration was read: nothing lands
                // in it (read under the write lock the removal takes too, `admin_state`).
                let removed = sqlx::query("SELECT 1 FROM removed_collections WHERE id = $1")
                    .bind(collection)
                    .fetch_optional(&mut *conn)
                    .await?;
                if removed.is_some() {
                    return Err(StoreError::CollectionRemoved(collection.to_owned()));
                }
                let n = versions.len();
                let mut ids: Vec<&str> = versions.iter().map(|v| v.id.as_str()).collect();
                ids.sort_unstable();
                ids.dedup();
                // Every stored version of these ids, and whether this collection holds it: one
                // index probe per id (nothing for a new object), read before writing under the
                // write lock, so it stays true until the commit.
                let mut stored: HashMap<&str, Vec<Stored>> = HashMap::new();
                for s in <$ty>::stored_versions(&mut *conn, collection, &ids).await? {
                    if let Ok(k) = ids.binary_search(&s.id.as_str()) {
                        stored.entry(ids[k]).or_default().push(s);
                    }
                }
                // The date_added and version of each version, in order. A version-less SCO takes
                // the earliest version its id already has (stored, or earlier in this batch), else
                // its date_added.
                let mut dates = Vec::with_capacity(n);
                let mut nss = Vec::with_capacity(n);
                let mut earliest: HashMap<&str, i64> = stored
                    .iter()
                    .filter_map(|(id, s)| s.iter().map(|s| s.version_ns).min().map(|ns| (*id, ns)))
                    .collect();
                for v in versions {
                    let date_added = match v.date_added_us {
                        Some(d) => d,
                        None => {
                            *last = now.max(*last + 1);
                            *last
                        }
                    };
                    let version_ns = match v.version_ns {
                        Some(ns) => ns,
                        None => earliest.get(v.id.as_str()).copied().unwrap_or(date_added.saturating_mul(1000)),
                    };
                    let e = earliest.entry(v.id.as_str()).or_insert(version_ns);
                    *e = (*e).min(version_ns);
                    dates.push(date_added);
                    nss.push(version_ns);
                }
                // A version belongs to its producer: what this batch may not write or place.
                let refused = refusals(versions, &nss, &stored);
                // Versions: the first occurrence of each (id, version); those already stored keep
                // their row, the others are inserted in bulk.
                let mut first: HashMap<(&str, i64), usize> = HashMap::with_capacity(n);
                let mut fresh = Vec::with_capacity(n);
                let mut vids: HashMap<usize, i64> = HashMap::with_capacity(n);
                for (i, v) in versions.iter().enumerate() {
                    if refused[i] {
                        continue;
                    }
                    if let std::collections::hash_map::Entry::Vacant(slot) = first.entry((v.id.as_str(), nss[i])) {
                        slot.insert(i);
                        match stored.get(v.id.as_str()).and_then(|s| s.iter().find(|s| s.version_ns == nss[i])) {
                            Some(s) => {
                                vids.insert(i, s.vid);
                            }
                            None => fresh.push(i),
                        }
                    }
                }
                let mut inserted: HashSet<i64> = HashSet::with_capacity(fresh.len());
                for (id, ns, vid) in <$ty>::insert_versions(&mut *conn, provenance, now, versions, &nss, &fresh).await? {
                    if let Some(&i) = first.get(&(id.as_str(), ns)) {
                        vids.insert(i, vid);
                        inserted.insert(vid);
                    }
                }
                // Only another writer ignoring the write lock could make an insert conflict; look
                // those rows up rather than fail.
                let mut missing: Vec<&str> = fresh.iter().filter(|i| !vids.contains_key(i)).map(|&i| versions[i].id.as_str()).collect();
                missing.sort_unstable();
                missing.dedup();
                for s in <$ty>::stored_versions(&mut *conn, collection, &missing).await? {
                    if let Some(&i) = first.get(&(s.id.as_str(), s.version_ns)) {
                        vids.entry(i).or_insert(s.vid);
                    }
                }
                // Refused versions get no row (0, never a vid) and are neither placed nor counted.
                let mut vid_of = Vec::with_capacity(n);
                for (i, v) in versions.iter().enumerate() {
                    if refused[i] {
                        vid_of.push(0);
                        continue;
                    }
                    let vid = first
                        .get(&(v.id.as_str(), nss[i]))
                        .and_then(|f| vids.get(f))
                        .ok_or_else(|| StoreError::Corrupt(format!("version {} of {} was neither stored nor found", nss[i], v.id)))?;
                    vid_of.push(*vid);
                }
                // Edges of the versions stored now.
                let mut edges: Vec<(i64, &str)> = Vec::new();
                for &i in &fresh {
                    if inserted.contains(&vid_of[i]) {
                        let mut targets: Vec<&str> = versions[i].edge_refs.iter().map(String::as_str).collect();
                        targets.sort_unstable();
                        targets.dedup();
                        edges.extend(targets.into_iter().map(|t| (vid_of[i], t)));
                    }
                }
                <$ty>::insert_edges(&mut *conn, &edges).await?;
                // The value index of the versions stored now (see `index_versions`).
                <$ty>::index_versions(&mut *conn, versions, &fresh, &vid_of, &inserted).await?;
                // Entries. `multi` tells listings whether the collection holds other versions of
                // the same object (then the latest/first rules must look at them).
                let mut placed: HashMap<&str, Vec<i64>> = stored
                    .iter()
                    .map(|(id, s)| (*id, s.iter().filter(|s| s.here).map(|s| s.vid).collect::<Vec<_>>()))
                    .filter(|(_, p)| !p.is_empty())
                    .collect();
                let before: HashMap<&str, usize> = placed.iter().map(|(k, v)| (*k, v.len())).collect();
                let mut to_place = Vec::with_capacity(n);
                for (i, v) in versions.iter().enumerate() {
                    if refused[i] {
                        continue;
                    }
                    let p = placed.entry(v.id.as_str()).or_default();
                    if !p.contains(&vid_of[i]) {
                        p.push(vid_of[i]);
                        to_place.push(i);
                    }
                }
                let rows: Vec<(i64, i64, i64, &str)> = to_place
                    .iter()
                    .map(|&i| {
                        let multi = placed.get(versions[i].id.as_str()).map_or(0, Vec::len) > 1;
                        (vid_of[i], dates[i], i64::from(multi), versions[i].object_type.as_str())
                    })
                    .collect();
                let placed_now: HashSet<i64> = <$ty>::insert_entries(&mut *conn, collection, &rows).await?.into_iter().collect();
                // Entries placed before whose object now has several versions here.
                let mut newly_multi: Vec<i64> = Vec::new();
                for (id, count) in &before {
                    if let Some(p) = placed.get(id)
                        && *count == 1
                        && p.len() > 1
                    {
                        newly_multi.push(p[0]);
                    }
                }
                for chunk in newly_multi.chunks(CHUNK) {
                    let text = format!(
                        "UPDATE entries SET multi = 1 WHERE collection = {} AND multi = 0 AND vid IN ({})",
                        placeholder($dialect, 1),
                        placeholders($dialect, 2, chunk.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(text)).bind(collection);
                    for vid in chunk {
                        q = q.bind(*vid);
                    }
                    q.execute(&mut *conn).await?;
                }
                // Objects that already had versions and got an entry now: the edges pointing to
                // them are judged again by sync.
                let mut changed: Vec<&str> = (0..n)
                    .filter(|&i| placed_now.contains(&vid_of[i]) && stored.contains_key(versions[i].id.as_str()))
                    .map(|i| versions[i].id.as_str())
                    .collect();
                changed.sort_unstable();
                changed.dedup();
                if !changed.is_empty() {
                    <$ty>::redate_edges(&mut *conn, &changed, last, now).await?;
                }
                let mut outcomes = Vec::with_capacity(n);
                let mut counted: HashSet<i64> = HashSet::with_capacity(placed_now.len());
                for i in 0..n {
                    let vid = vid_of[i];
                    outcomes.push(if refused[i] {
                        AddOutcome::Refused { version_ns: nss[i] }
                    } else if placed_now.contains(&vid) && counted.insert(vid) {
                        AddOutcome::Added { date_added_us: dates[i], version_ns: nss[i] }
                    } else {
                        AddOutcome::AlreadyPresent { version_ns: nss[i] }
                    });
                }
                Ok(outcomes)
            }

            /// The value index rows of the versions `fresh` whose row was inserted now (their
            /// values were extracted when they were prepared, `NewVersion::index`), and, for each
            /// observed-data among them, the SCO ids its `object_refs` name (`observed_refs`). The
            /// values of those SCOs are not copied to the observed-data: a look-up reaches it
            /// through an SCO holding the value only when the reader may see that SCO
            /// (`sql::lookup`).
            async fn index_versions(
                conn: &mut $conn,
                versions: &[NewVersion],
                fresh: &[usize],
                vid_of: &[i64],
                inserted: &HashSet<i64>,
            ) -> Result<(), StoreError> {
                let mut rows: Vec<IndexRow> = Vec::new();
                let mut refs: Vec<(i64, &[String])> = Vec::new();
                for &i in fresh {
                    let vid = vid_of[i];
                    if !inserted.contains(&vid) {
                        continue;
                    }
                    rows.extend(versions[i].index.values.iter().map(|o| IndexRow::of(vid, o)));
                    if !versions[i].index.refs.is_empty() {
                        refs.push((vid, versions[i].index.refs.as_slice()));
                    }
                }
                <$ty>::insert_index_rows(&mut *conn, &rows).await?;
                for (vid, ids) in refs {
                    <$ty>::insert_observed_refs(&mut *conn, vid, ids).await?;
                }
                Ok(())
            }

            /// Records the SCO ids `ids` observed-data `vid` names (see `observed_refs`).
            async fn insert_observed_refs(conn: &mut $conn, vid: i64, ids: &[String]) -> Result<(), StoreError> {
                for chunk in ids.chunks(CHUNK) {
                    let text = format!(
                        "INSERT INTO observed_refs (target, vid) VALUES {} ON CONFLICT DO NOTHING",
                        values_list($dialect, chunk.len(), 2)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(text));
                    for id in chunk {
                        q = q.bind(id.as_str()).bind(vid);
                    }
                    q.execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Fills `observed_refs` once for stores written before it (recorded in `settings`),
            /// inside the caller's transaction (which holds the write lock).
            async fn build_observed_refs(conn: &mut $conn) -> Result<(), StoreError> {
                let done = once_done!(conn, OBSERVED_REFS_KEY);
                if done {
                    return Ok(());
                }
                let mut after = 0i64;
                let mut filled = 0u64;
                loop {
                    let batch = sqlx::query(
                        "SELECT vid, json FROM versions WHERE type = 'observed-data' AND vid > $1 ORDER BY vid LIMIT 2000",
                    )
                    .bind(after)
                    .fetch_all(&mut *conn)
                    .await?;
                    let Some(last) = batch.last() else { break };
                    after = last.try_get(0)?;
                    for r in &batch {
                        let (vid, json): (i64, String) = (r.try_get(0)?, r.try_get(1)?);
                        let Ok(obj) = serde_json::from_str::<serde_json::Value>(&json) else {
                            continue;
                        };
                        let found = crate::ingest_values(&obj);
                        if found.refs.is_empty() {
                            continue;
                        }
                        <$ty>::insert_observed_refs(&mut *conn, vid, &found.refs).await?;
                        filled += 1;
                    }
                }
                if filled > 0 {
                    tracing::info!(versions = filled, "Observed-data references recorded for the value index (once).");
                }
                mark_once_done!(conn, OBSERVED_REFS_KEY);
                Ok(())
            }

            /// Drops, once (recorded in `settings`), the rows that stores written before
            /// `sql::lookup` followed `observed_refs` held for an observed-data with the values of
            /// the SCOs it names (readable by anyone who could see the observed-data, whether or
            /// not they could see the SCO), keeping its own values (SCOs embedded in `objects`),
            /// inside the caller's transaction (which holds the write lock).
            async fn drop_observed_copies(conn: &mut $conn) -> Result<(), StoreError> {
                let done = once_done!(conn, OBSERVED_COPIES_KEY);
                if done {
                    return Ok(());
                }
                let observed = matcher::occurrence::Place::Observed.as_str();
                let dropped = sqlx::query(
                    "DELETE FROM value_index WHERE place = $1 AND vid IN (SELECT vid FROM observed_refs)",
                )
                .bind(observed)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if dropped > 0 {
                    <$ty>::value_index_of_versions(
                        &mut *conn,
                        "SELECT vid, json FROM versions WHERE vid > $1 \
                         AND vid IN (SELECT vid FROM observed_refs) ORDER BY vid LIMIT 2000",
                    )
                    .await?;
                    tracing::info!(rows = dropped, "Observed-data rows copied from the SCOs they name dropped from the value index (once).");
                }
                mark_once_done!(conn, OBSERVED_COPIES_KEY);
                Ok(())
            }

            /// Writes the value index rows of the versions `select` lists (`vid, json`, after `$1`
            /// in `vid` order, a page at a time), inside the caller's transaction; how many
            /// versions were read.
            async fn value_index_of_versions(conn: &mut $conn, select: &'static str) -> Result<u64, StoreError> {
                let mut after = 0i64;
                let mut indexed = 0u64;
                loop {
                    let batch = sqlx::query(select).bind(after).fetch_all(&mut *conn).await?;
                    let Some(last) = batch.last() else { break };
                    after = last.try_get(0)?;
                    let mut rows = Vec::new();
                    for r in &batch {
                        let (vid, json): (i64, String) = (r.try_get(0)?, r.try_get(1)?);
                        let Ok(obj) = serde_json::from_str::<serde_json::Value>(&json) else {
                            continue;
                        };
                        rows.extend(crate::ingest_values(&obj).values.iter().map(|o| IndexRow::of(vid, o)));
                        indexed += 1;
                    }
                    <$ty>::insert_index_rows(&mut *conn, &rows).await?;
                }
                Ok(indexed)
            }

            /// Inserts value index rows (multi-row `VALUES`, chunks of [`CHUNK`] rows).
            async fn insert_index_rows(conn: &mut $conn, rows: &[IndexRow]) -> Result<(), StoreError> {
                for chunk in rows.chunks(CHUNK) {
                    let text = format!(
                        "{} value_index (kind, value, vid, place, net, plen) VALUES {}{}",
                        insert_ignoring($dialect),
                        values_list($dialect, chunk.len(), 6),
                        on_conflict_ignore($dialect)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(text));
                    for r in chunk {
                        q = q
                            .bind(r.kind)
                            .bind(r.value.as_str())
                            .bind(r.vid)
                            .bind(r.place)
                            .bind(r.net.as_deref())
                            .bind(r.plen);
                    }
                    q.execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Builds the value index of every stored version, once (recorded in `settings`):
            /// stores written before the index existed get it when they are opened, inside the
            /// caller's transaction (which holds the write lock).
            async fn build_value_index(conn: &mut $conn) -> Result<(), StoreError> {
                let done = once_done!(conn, VALUE_INDEX_KEY);
                if done {
                    return Ok(());
                }
                let indexed = <$ty>::value_index_of_versions(
                    &mut *conn,
                    "SELECT vid, json FROM versions WHERE vid > $1 ORDER BY vid LIMIT 2000",
                )
                .await?;
                if indexed > 0 {
                    tracing::info!(versions = indexed, "Value index built for the stored versions (once).");
                }
                mark_once_done!(conn, VALUE_INDEX_KEY);
                Ok(())
            }

            /// Records a status resource inside the caller's transaction.
            async fn insert_status(conn: &mut $conn, status: &StatusRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO statuses (id, api_root, member, request_ts, expires, body) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(status.id.as_str())
                .bind(status.api_root.as_str())
                .bind(status.member.as_str())
                .bind(status.request_us)
                .bind(status.expires_us)
                .bind(status.body.as_str())
                .execute(&mut *conn)
                .await?;
                Ok(())
            }
        }

        impl Store for $ty {
            async fn cursor_key(&self) -> Result<Vec<u8>, StoreError> {
                let $ws = self;
                let pool = $writer;
                // Insert-if-absent then read: every node on the database ends with the same key.
                sqlx::query("INSERT INTO settings (key, value) VALUES ('cursor_key', $1) ON CONFLICT (key) DO NOTHING")
                    .bind(random_hex(32))
                    .execute(pool)
                    .await?;
                let row = sqlx::query("SELECT value FROM settings WHERE key = 'cursor_key'").fetch_one(pool).await?;
                let hex: String = row.try_get(0)?;
                hex_decode(&hex).ok_or_else(|| StoreError::Corrupt("settings.cursor_key is not hex".into()))
            }

            async fn add(
                &self,
                collection: &str,
                provenance: &Provenance,
                versions: &[NewVersion],
                make_status: &(dyn Fn(&[AddOutcome]) -> StatusRecord + Sync),
            ) -> Result<Vec<AddOutcome>, StoreError> {
                let $ws = self;
                let pool = $writer;
                let mut tx = pool.begin_with($begin).await?;
                if let Some(lock) = $lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let row = sqlx::query("SELECT COALESCE(MAX(date_added), 0) FROM entries").fetch_one(&mut *tx).await?;
                let mut last: i64 = row.try_get(0)?;
                let now = timestamps::now_us();
                let outcomes = <$ty>::add_in(&mut *tx, collection, provenance, versions, &mut last, now).await?;
                <$ty>::insert_status(&mut *tx, &make_status(&outcomes)).await?;
                tx.commit().await?;
                $ws.after_write(outcomes.len() as u64).await?;
                Ok(outcomes)
            }

            async fn add_batches(
                &self,
                provenance: &Provenance,
                batches: &[CollectionBatch<'_>],
                all_or_nothing: bool,
                make_status: &(dyn Fn(usize, &[AddOutcome]) -> StatusRecord + Sync),
            ) -> Result<BatchesOutcome, StoreError> {
                let $ws = self;
                let pool = $writer;
                let mut tx = pool.begin_with($begin).await?;
                if let Some(lock) = $lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let row = sqlx::query("SELECT COALESCE(MAX(date_added), 0) FROM entries").fetch_one(&mut *tx).await?;
                let mut last: i64 = row.try_get(0)?;
                let now = timestamps::now_us();
                let mut outcomes = Vec::with_capacity(batches.len());
                for b in batches {
                    outcomes.push(<$ty>::add_in(&mut *tx, b.collection, provenance, b.versions, &mut last, now).await?);
                }
                let refused = outcomes.iter().flatten().any(|o| !o.is_stored());
                if all_or_nothing && refused {
                    tx.rollback().await?;
                    return Ok(BatchesOutcome { outcomes, committed: false });
                }
                for (i, o) in outcomes.iter().enumerate() {
                    <$ty>::insert_status(&mut *tx, &make_status(i, o)).await?;
                }
                tx.commit().await?;
                $ws.after_write(outcomes.iter().map(Vec::len).sum::<usize>() as u64).await?;
                Ok(BatchesOutcome { outcomes, committed: true })
            }

            async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
                let $rs = self;
                let pool = $reader;
                let q = sql::list(query);
                let rows = bind_all!(sqlx::query(AssertSqlSafe(q.text.as_str())), &q.binds).fetch_all(pool).await?;
                let mut records = Vec::with_capacity(rows.len());
                for r in rows {
                    records.push(Record {
                        date_added_us: r.try_get(0)?,
                        row: r.try_get(1)?,
                        id: r.try_get(2)?,
                        version_ns: r.try_get(3)?,
                        version_text: r.try_get(4)?,
                        spec_version: r.try_get(5)?,
                        json: r.try_get(6)?,
                        tlp: r.try_get(7)?,
                    });
                }
                let more = records.len() > query.limit as usize;
                records.truncate(query.limit as usize);
                Ok(Page { records, more })
            }

            async fn visible(&self, collection: &str, id: &str, pushdown: &crate::policy::Pushdown) -> Result<bool, StoreError> {
                let $rs = self;
                let pool = $reader;
                let q = sql::visible(collection, id, pushdown);
                let row = bind_all!(sqlx::query(AssertSqlSafe(q.text.as_str())), &q.binds).fetch_one(pool).await?;
                let n: i64 = row.try_get(0)?;
                Ok(n > 0)
            }

            async fn delete(&self, query: &DeleteQuery) -> Result<DeleteOutcome, StoreError> {
                let $ws = self;
                let pool = $writer;
                let mut tx = pool.begin_with($begin).await?;
                if let Some(lock) = $lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let lq = ListQuery {
                    collection: query.collection.clone(),
                    pushdown: query.pushdown.clone(),
                    ids: vec![query.id.clone()],
                    types: vec![],
                    added_after_us: None,
                    versions: query.versions.clone(),
                    spec_versions: query.spec_versions.clone(),
                    after: None,
                    limit: 1_000_000,
                    with_json: false,
                };
                let q = sql::list(&lq);
                let rows = bind_all!(sqlx::query(AssertSqlSafe(q.text.as_str())), &q.binds).fetch_all(&mut *tx).await?;
                let mut out = DeleteOutcome::default();
                for r in rows {
                    let vid: i64 = r.try_get(1)?;
                    if let Some(member) = &query.only_producer {
                        let producer: String = sqlx::query("SELECT producer FROM versions WHERE vid = $1")
                            .bind(vid)
                            .fetch_one(&mut *tx)
                            .await?
                            .try_get(0)?;
                        if &producer != member {
                            out.refused += 1;
                            continue;
                        }
                    }
                    out.removed += sqlx::query("DELETE FROM entries WHERE collection = $1 AND vid = $2")
                        .bind(query.collection.as_str())
                        .bind(vid)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    let still_placed: i64 = sqlx::query("SELECT COUNT(*) FROM entries WHERE vid = $1")
                        .bind(vid)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                    sqlx::query("DELETE FROM sync_held WHERE vid = $1 AND collection = $2")
                        .bind(vid)
                        .bind(query.collection.as_str())
                        .execute(&mut *tx)
                        .await?;
                    if still_placed == 0 {
                        sqlx::query("DELETE FROM value_index WHERE vid = $1").bind(vid).execute(&mut *tx).await?;
                        sqlx::query("DELETE FROM observed_refs WHERE vid = $1").bind(vid).execute(&mut *tx).await?;
                        sqlx::query("DELETE FROM edges WHERE vid = $1").bind(vid).execute(&mut *tx).await?;
                        sqlx::query("DELETE FROM versions WHERE vid = $1").bind(vid).execute(&mut *tx).await?;
                    }
                }
                // A placement fewer can release an edge too (an endpoint the node no longer holds
                // anywhere is unknown, and an edge to an unknown object may leave).
                if out.removed > 0 {
                    // The content's generation moves (`Store::content_generation`).
                    let row = sqlx::query("SELECT value FROM settings WHERE key = $1").bind(DELETIONS_KEY).fetch_optional(&mut *tx).await?;
                    let before: i64 = match row {
                        Some(r) => r.try_get::<String, _>(0)?.parse().unwrap_or(0),
                        None => 0,
                    };
                    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
                        .bind(DELETIONS_KEY)
                        .bind((before + 1).to_string())
                        .execute(&mut *tx)
                        .await?;
                    // Which object this deletion touched, for whoever keeps a view up to date
                    // (`Store::deleted_between`); only the latest are kept.
                    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
                        .bind(format!("{DELETED_PREFIX}{}", before + 1))
                        .bind(query.id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM settings WHERE key = $1")
                        .bind(format!("{DELETED_PREFIX}{}", before + 1 - crate::DELETIONS_RECORDED))
                        .execute(&mut *tx)
                        .await?;
                    let row = sqlx::query("SELECT COALESCE(MAX(date_added), 0) FROM entries").fetch_one(&mut *tx).await?;
                    let mut last: i64 = row.try_get(0)?;
                    <$ty>::redate_edges(&mut *tx, &[query.id.as_str()], &mut last, timestamps::now_us()).await?;
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn status(&self, id: &str, now_us: i64) -> Result<Option<StatusRecord>, StoreError> {
                let $rs = self;
                let pool = $reader;
                let row = sqlx::query(
                    "SELECT id, api_root, member, request_ts, expires, body FROM statuses WHERE id = $1 AND expires > $2",
                )
                .bind(id)
                .bind(now_us)
                .fetch_optional(pool)
                .await?;
                Ok(match row {
                    None => None,
                    Some(r) => Some(StatusRecord {
                        id: r.try_get(0)?,
                        api_root: r.try_get(1)?,
                        member: r.try_get(2)?,
                        request_us: r.try_get(3)?,
                        expires_us: r.try_get(4)?,
                        body: r.try_get(5)?,
                    }),
                })
            }

            async fn purge_statuses(&self, now_us: i64) -> Result<u64, StoreError> {
                let $ws = self;
                let pool = $writer;
                Ok(sqlx::query("DELETE FROM statuses WHERE expires <= $1").bind(now_us).execute(pool).await?.rows_affected())
            }

            async fn placements(&self) -> Result<Vec<Placement>, StoreError> {
                let $rs = self;
                let pool = $reader;
                let rows = sqlx::query(
                    "SELECT e.collection, e.vid, v.id, v.tlp, v.producer FROM entries e JOIN versions v ON v.vid = e.vid ORDER BY e.collection, e.vid",
                )
                .fetch_all(pool)
                .await?;
                let edge_rows = sqlx::query("SELECT vid, target FROM edges ORDER BY vid, target").fetch_all(pool).await?;
                let mut edges: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
                for r in edge_rows {
                    edges.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
                }
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let row: i64 = r.try_get(1)?;
                    out.push(Placement {
                        collection: r.try_get(0)?,
                        row,
                        id: r.try_get(2)?,
                        tlp: r.try_get(3)?,
                        producer: r.try_get(4)?,
                        edge_refs: edges.get(&row).cloned().unwrap_or_default(),
                    });
                }
                Ok(out)
            }

            async fn sync_batch(&self, collection: &str, after: (i64, i64), limit: u32) -> Result<Vec<SyncRecord>, StoreError> {
                let $rs = self;
                let pool = $reader;
                let q = format!(
                    "SELECT e.date_added, e.vid, v.id, v.type, v.version_ns, v.tlp, v.producer, v.source, v.received_at, {} \
                     FROM entries e JOIN versions v ON v.vid = e.vid \
                     WHERE e.collection = $1 AND e.date_added >= $2 AND (e.date_added > $2 OR e.vid > $3) \
                     ORDER BY e.date_added, e.vid LIMIT $4",
                    "v.json"
                );
                let rows = sqlx::query(AssertSqlSafe(q))
                    .bind(collection)
                    .bind(after.0)
                    .bind(after.1)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(|r| sync_record!(r)).collect()
            }

            async fn sync_versions(&self, collection: &str, id: &str) -> Result<Vec<SyncRecord>, StoreError> {
                let $rs = self;
                let pool = $reader;
                let q = format!(
                    "SELECT e.date_added, e.vid, v.id, v.type, v.version_ns, v.tlp, v.producer, v.source, v.received_at, {} \
                     FROM versions v CROSS JOIN entries e WHERE e.vid = v.vid \
                     AND e.collection = $1 AND v.id = $2 ORDER BY v.version_ns",
                    "v.json"
                );
                let rows = sqlx::query(AssertSqlSafe(q)).bind(collection).bind(id).fetch_all(pool).await?;
                rows.iter().map(|r| sync_record!(r)).collect()
            }

            async fn placements_of(&self, ids: &[&str]) -> Result<Vec<(String, SyncRecord)>, StoreError> {
                let $rs = self;
                let pool = $reader;
                let mut out = Vec::new();
                for chunk in ids.chunks(CHUNK) {
                    // From the ids (index on versions.id, then entries.vid), never a scan: the same
                    // `versions CROSS JOIN entries` order as every other look-up by id.
                    let q = format!(
                        "SELECT e.date_added, e.vid, v.id, v.type, v.version_ns, v.tlp, v.producer, v.source, v.received_at, '', \
                         e.collection FROM versions v CROSS JOIN entries e WHERE e.vid = v.vid AND v.id IN ({})",
                        placeholders($dialect, 1, chunk.len())
                    );
                    let mut query = sqlx::query(AssertSqlSafe(q));
                    for id in chunk {
                        query = query.bind(*id);
                    }
                    for r in query.fetch_all(pool).await? {
                        let collection: String = r.try_get(10)?;
                        out.push((collection, sync_record!(&r)?));
                    }
                }
                Ok(out)
            }

            async fn edge_sources(&self, target: &str, limit: u32) -> Result<Vec<String>, StoreError> {
                let $rs = self;
                let pool = $reader;
                let rows = sqlx::query(
                    "SELECT DISTINCT v.id FROM edges r CROSS JOIN versions v \
                     WHERE v.vid = r.vid AND r.target = $1 ORDER BY v.id LIMIT $2",
                )
                .bind(target)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
            }

            async fn sync_hold(
                &self,
                peer: &str,
                mapping: &str,
                collection: &str,
                held: &[(i64, String, String)],
                sent: &[i64],
            ) -> Result<(), StoreError> {
                let $ws = self;
                let pool = $writer;
                if held.is_empty() {
                    // The usual page: everything sent and nothing recorded for this mapping, so
                    // nothing to forget (one index probe, no write transaction).
                    let any = sqlx::query("SELECT 1 FROM sync_held WHERE peer = $1 AND mapping = $2 LIMIT 1")
                        .bind(peer)
                        .bind(mapping)
                        .fetch_optional(pool)
                        .await?;
                    if any.is_none() || sent.is_empty() {
                        return Ok(());
                    }
                }
                let now = timestamps::now_us();
                let mut tx = pool.begin().await?;
                for (vid, reason, detail) in held {
                    sqlx::query(
                        "INSERT INTO sync_held (peer, mapping, collection, vid, reason, detail, since) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (peer, mapping, vid) \
                         DO UPDATE SET reason = excluded.reason, detail = excluded.detail, since = excluded.since",
                    )
                    .bind(peer)
                    .bind(mapping)
                    .bind(collection)
                    .bind(*vid)
                    .bind(reason.as_str())
                    .bind(detail.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                for chunk in sent.chunks(CHUNK) {
                    let text = format!(
                        "DELETE FROM sync_held WHERE peer = {} AND mapping = {} AND vid IN ({})",
                        placeholder($dialect, 1),
                        placeholder($dialect, 2),
                        placeholders($dialect, 3, chunk.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(text)).bind(peer).bind(mapping);
                    for vid in chunk {
                        q = q.bind(*vid);
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn sync_held_of(&self, peer: &str, mapping: &str, vids: &[i64]) -> Result<Vec<Held>, StoreError> {
                let $ws = self;
                let pool = $writer;
                let mut out = Vec::new();
                for chunk in vids.chunks(CHUNK) {
                    let text = format!(
                        "SELECT vid, reason, detail, since FROM sync_held WHERE peer = {} AND mapping = {} AND vid IN ({})",
                        placeholder($dialect, 1),
                        placeholder($dialect, 2),
                        placeholders($dialect, 3, chunk.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(text)).bind(peer).bind(mapping);
                    for vid in chunk {
                        q = q.bind(*vid);
                    }
                    for r in q.fetch_all(pool).await? {
                        out.push(Held { vid: r.try_get(0)?, reason: r.try_get(1)?, detail: r.try_get(2)?, since_us: r.try_get(3)? });
                    }
                }
                Ok(out)
            }

            async fn sync_held_batch(
                &self,
                peer: &str,
                mapping: &str,
                after_vid: i64,
                limit: u32,
                skip: &[&str],
            ) -> Result<Vec<(SyncRecord, Held)>, StoreError> {
                let $ws = self;
                let pool = $writer;
                let skip_sql = if skip.is_empty() {
                    String::new()
                } else {
                    format!(" AND h.reason NOT IN ({})", placeholders($dialect, 4, skip.len()))
                };
                let text = format!(
                    "SELECT e.date_added, e.vid, v.id, v.type, v.version_ns, v.tlp, v.producer, v.source, v.received_at, v.json, \
                     h.reason, h.detail, h.since \
                     FROM sync_held h CROSS JOIN entries e CROSS JOIN versions v \
                     WHERE h.peer = {} AND h.mapping = {} AND h.vid > {}{skip_sql} \
                     AND e.collection = h.collection AND e.vid = h.vid AND v.vid = h.vid \
                     ORDER BY h.vid LIMIT {}",
                    placeholder($dialect, 1),
                    placeholder($dialect, 2),
                    placeholder($dialect, 3),
                    placeholder($dialect, 4 + skip.len()),
                );
                // Bound in order of appearance (SQLite's placeholders are anonymous).
                let mut q = sqlx::query(AssertSqlSafe(text))
                    .bind(peer)
                    .bind(mapping)
                    .bind(after_vid);
                for r in skip {
                    q = q.bind(*r);
                }
                let rows = q.bind(i64::from(limit)).fetch_all(pool).await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let rec = sync_record!(r)?;
                    let held = Held { vid: rec.row, reason: r.try_get(10)?, detail: r.try_get(11)?, since_us: r.try_get(12)? };
                    out.push((rec, held));
                }
                Ok(out)
            }

            async fn sync_held_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
                let $ws = self;
                let pool = $writer;
                let rows = sqlx::query("SELECT peer, reason, COUNT(*) FROM sync_held GROUP BY peer, reason ORDER BY peer, reason")
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
            }

            async fn record_refused(&self, refused: &[Refused]) -> Result<(), StoreError> {
                if refused.is_empty() {
                    return Ok(());
                }
                let $ws = self;
                let pool = $writer;
                let mut tx = pool.begin().await?;
                for f in refused {
                    sqlx::query(
                        "INSERT INTO sync_refused (id, version, peer, collection, reason, detail, at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id, version, peer, collection) \
                         DO UPDATE SET reason = excluded.reason, detail = excluded.detail, at = excluded.at",
                    )
                    .bind(f.id.as_str())
                    .bind(f.version.as_str())
                    .bind(f.peer.as_str())
                    .bind(f.collection.as_str())
                    .bind(f.reason.as_str())
                    .bind(f.detail.as_str())
                    .bind(f.at_us)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn refused_latest(&self, offset: u32, limit: u32) -> Result<Vec<Refused>, StoreError> {
                let $ws = self;
                let pool = $writer;
                let rows = sqlx::query(
                    "SELECT peer, collection, id, version, reason, detail, at FROM sync_refused \
                     ORDER BY at DESC, id, version, peer, collection LIMIT $1 OFFSET $2",
                )
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    out.push(Refused {
                        peer: r.try_get(0)?,
                        collection: r.try_get(1)?,
                        id: r.try_get(2)?,
                        version: r.try_get(3)?,
                        reason: r.try_get(4)?,
                        detail: r.try_get(5)?,
                        at_us: r.try_get(6)?,
                    });
                }
                Ok(out)
            }

            async fn refused_of(&self, id: &str) -> Result<Vec<Refused>, StoreError> {
                let $ws = self;
                let pool = $writer;
                let rows = sqlx::query(
                    "SELECT peer, collection, id, version, reason, detail, at FROM sync_refused WHERE id = $1 ORDER BY at, peer",
                )
                .bind(id)
                .fetch_all(pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    out.push(Refused {
                        peer: r.try_get(0)?,
                        collection: r.try_get(1)?,
                        id: r.try_get(2)?,
                        version: r.try_get(3)?,
                        reason: r.try_get(4)?,
                        detail: r.try_get(5)?,
                        at_us: r.try_get(6)?,
                    });
                }
                Ok(out)
            }

            async fn refused_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
                let $ws = self;
                let pool = $writer;
                let rows = sqlx::query("SELECT peer, reason, COUNT(*) FROM sync_refused GROUP BY peer, reason ORDER BY peer, reason")
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
            }

            async fn collection_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
                let $rs = self;
                let pool = $reader;
                let rows = sqlx::query("SELECT collection, COUNT(*) FROM entries GROUP BY collection ORDER BY collection")
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
            }

            async fn content_generation(&self) -> Result<(i64, i64), StoreError> {
                let $rs = self;
                let pool = $reader;
                let row = sqlx::query(
                    "SELECT (SELECT COALESCE(MAX(date_added), 0) FROM entries), (SELECT value FROM settings WHERE key = $1)",
                )
                .bind(DELETIONS_KEY)
                .fetch_one(pool)
                .await?;
                let deletions: Option<String> = row.try_get(1)?;
                Ok((row.try_get(0)?, deletions.and_then(|d| d.parse().ok()).unwrap_or(0)))
            }

            async fn deleted_between(&self, after: i64, upto: i64) -> Result<Option<Vec<String>>, StoreError> {
                let $rs = self;
                let pool = $reader;
                if upto < after || upto - after > crate::DELETIONS_RECORDED {
                    return Ok(None);
                }
                let mut ids = Vec::new();
                for n in after + 1..=upto {
                    let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
                        .bind(format!("{DELETED_PREFIX}{n}"))
                        .fetch_optional(pool)
                        .await?;
                    match row {
                        Some(r) => ids.push(r.try_get::<String, _>(0)?),
                        None => return Ok(None),
                    }
                }
                Ok(Some(ids))
            }

            async fn sync_cursor(&self, peer: &str, collection: &str, direction: &str) -> Result<Option<String>, StoreError> {
                let $ws = self;
                let pool = $writer;
                let row = sqlx::query("SELECT value FROM sync_cursors WHERE peer = $1 AND collection = $2 AND direction = $3")
                    .bind(peer)
                    .bind(collection)
                    .bind(direction)
                    .fetch_optional(pool)
                    .await?;
                Ok(match row {
                    Some(r) => Some(r.try_get(0)?),
                    None => None,
                })
            }

            async fn set_sync_cursor(&self, peer: &str, collection: &str, direction: &str, value: &str) -> Result<(), StoreError> {
                let $ws = self;
                let pool = $writer;
                sqlx::query(
                    "INSERT INTO sync_cursors (peer, collection, direction, value, updated) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (peer, collection, direction) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                )
                .bind(peer)
                .bind(collection)
                .bind(direction)
                .bind(value)
                .bind(timestamps::now_us())
                .execute(pool)
                .await?;
                Ok(())
            }

            async fn audit_append(&self, entries: &[audit::Entry]) -> Result<audit::Head, StoreError> {
                let $ws = self;
                let pool = $writer;
                let mut tx = pool.begin_with($begin).await?;
                if let Some(lock) = $audit_lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let head = append_audit_in!(tx, entries, timestamps::now_us());
                tx.commit().await?;
                Ok(head)
            }

            async fn audit_append_committed(&self, entries: &[audit::Entry]) -> Result<audit::Head, StoreError> {
                self.append_audit_committed(entries).await
            }

            async fn audit_flush(&self) -> Result<(), StoreError> {
                self.flush_audit().await
            }

            async fn audit_records(&self, query: &AuditQuery) -> Result<Vec<audit::Record>, StoreError> {
                let $ws = self;
                let pool = $writer;
                let mut text = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE seq > {}", placeholder($dialect, 1));
                let mut n = 1;
                let mut binds: Vec<Bind> = vec![Bind::Int(query.after_seq)];
                for (col, bind) in [
                    ("time_us >=", query.since_us.map(Bind::Int)),
                    ("actor =", query.actor.clone().map(Bind::Text)),
                    ("action =", query.action.clone().map(Bind::Text)),
                ] {
                    if let Some(b) = bind {
                        n += 1;
                        text.push_str(&format!(" AND {col} {}", placeholder($dialect, n)));
                        binds.push(b);
                    }
                }
                text.push_str(&format!(" ORDER BY seq LIMIT {}", query.limit));
                let rows = bind_all!(sqlx::query(AssertSqlSafe(text.as_str())), &binds).fetch_all(pool).await?;
                rows.iter().map(|r| audit_row!(r)).collect()
            }

            async fn lookup(&self, query: &LookupQuery) -> Result<LookupPage, StoreError> {
                let $rs = self;
                let pool = $reader;
                let q = sql::lookup(query);
                let rows = bind_all!(sqlx::query(AssertSqlSafe(q.text.as_str())), &q.binds).fetch_all(pool).await?;
                let mut hits = Vec::with_capacity(rows.len());
                for r in rows {
                    let revoked: i64 = r.try_get(10)?;
                    hits.push(LookupHit {
                        kind: r.try_get(0)?,
                        value: r.try_get(1)?,
                        place: r.try_get(2)?,
                        via: r.try_get(3)?,
                        collection: r.try_get(4)?,
                        id: r.try_get(5)?,
                        object_type: r.try_get(6)?,
                        version_ns: r.try_get(7)?,
                        version_text: r.try_get(8)?,
                        tlp: r.try_get(9)?,
                        revoked: revoked != 0,
                        json: r.try_get(11)?,
                        date_added_us: r.try_get(12)?,
                    });
                }
                let more = hits.len() > query.limit as usize;
                hits.truncate(query.limit as usize);
                Ok(LookupPage { hits, more })
            }

            async fn audit_last(&self) -> Result<Option<audit::Record>, StoreError> {
                let $ws = self;
                let pool = $writer;
                let row = sqlx::query(AssertSqlSafe(format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1")))
                    .fetch_optional(pool)
                    .await?;
                match row {
                    Some(r) => Ok(Some(audit_row!(r)?)),
                    None => Ok(None),
                }
            }
        }
    };
}

/// One row of the value index.
struct IndexRow {
    kind: &'static str,
    value: String,
    vid: i64,
    place: &'static str,
    net: Option<Vec<u8>>,
    plen: Option<i64>,
}

impl IndexRow {
    fn of(vid: i64, o: &matcher::occurrence::Occurrence) -> IndexRow {
        let (net, plen) = match o.net_key() {
            Some((n, p)) => (Some(n), Some(p)),
            None => (None, None),
        };
        IndexRow {
            kind: o.kind.as_str(),
            value: o.value.clone(),
            vid,
            place: o.place.as_str(),
            net,
            plen,
        }
    }
}

/// A [`Stored`] from a row `(id, version_ns, vid, 1 or NULL, producer, json)`.
macro_rules! stored_row {
    ($r:expr) => {{
        let r = $r;
        let here: Option<i64> = r.try_get(3)?;
        Stored {
            id: r.try_get(0)?,
            version_ns: r.try_get(1)?,
            vid: r.try_get(2)?,
            here: here.is_some(),
            producer: r.try_get(4)?,
            json: r.try_get(5)?,
        }
    }};
}

/// A stored version of an object that is being added again.
struct Stored {
    id: String,
    version_ns: i64,
    vid: i64,
    /// Whether the collection being written holds this version.
    here: bool,
    /// The member that produced it.
    producer: String,
    /// The object as stored.
    json: String,
}

/// Whether two serialised objects are the same JSON value (key order and spacing aside).
fn same_content(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A version belongs to its producer: which of `versions` (with their versions `nss`) `add`
/// refuses, given every stored version of their ids. Judged in order, each accepted version
/// counting for the ones after it in the same batch:
/// - an `(id, version)` already stored (or earlier in the batch) is accepted only with the same
///   content (as a JSON value), from its producer, or from anyone for an object no member created
///   (a non-member's object re-shared: the poster then learns nothing it did not send);
/// - a new version of a known id is accepted only from the producer of its latest version;
/// - a new id is accepted.
fn refusals(
    versions: &[NewVersion],
    nss: &[i64],
    stored: &HashMap<&str, Vec<Stored>>,
) -> Vec<bool> {
    let mut refused = vec![false; versions.len()];
    // Per id, the versions accepted earlier in this batch: (version, index).
    let mut earlier: HashMap<&str, Vec<(i64, usize)>> = HashMap::new();
    for (i, v) in versions.iter().enumerate() {
        let ns = nss[i];
        let prior: &[Stored] = stored.get(v.id.as_str()).map_or(&[], Vec::as_slice);
        let batch: &[(i64, usize)] = earlier.get(v.id.as_str()).map_or(&[], Vec::as_slice);
        let may_place = |producer: &str, json: &str| {
            (producer == v.producer || v.third_party) && same_content(json, &v.json)
        };
        let stored_here = prior.iter().find(|s| s.version_ns == ns);
        let accepted = if let Some(s) = stored_here {
            may_place(&s.producer, &s.json)
        } else if let Some(&(_, j)) = batch.iter().find(|(n, _)| *n == ns) {
            may_place(&versions[j].producer, &versions[j].json)
        } else {
            let latest_stored = prior
                .iter()
                .max_by_key(|s| s.version_ns)
                .map(|s| (s.version_ns, s.producer.as_str()));
            let latest_batch = batch
                .iter()
                .max_by_key(|(n, _)| *n)
                .map(|&(n, j)| (n, versions[j].producer.as_str()));
            match latest_stored.max(latest_batch) {
                None => true,
                Some((_, producer)) => producer == v.producer,
            }
        };
        if accepted {
            // A stored version placed again stays its producer's: only versions new to the store
            // count as this batch's (with their poster as producer) when a later version of the
            // same id is judged, so re-placing another member's version (an identical third-party
            // object) does not make the poster the producer of its latest version.
            if stored_here.is_none() {
                earlier.entry(v.id.as_str()).or_default().push((ns, i));
            }
        } else {
            refused[i] = true;
        }
    }
    refused
}

/// The bulk statements of [`Store::add`], per backend: multi-row `VALUES` on SQLite (anonymous
/// placeholders, chunks of [`CHUNK`] rows), one array per column with `UNNEST` on PostgreSQL
/// (one statement of a few parameters per [`PG_CHUNK`] rows, prepared once per connection,
/// instead of thousands of parameters to bind and evaluate).
impl SqliteStore {
    async fn stored_versions(
        conn: &mut sqlx::SqliteConnection,
        collection: &str,
        ids: &[&str],
    ) -> Result<Vec<Stored>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let text = format!(
                // The placement test is a scalar sub-query per row on the entries primary key,
                // never a scan of the collection.
                "SELECT v.id, v.version_ns, v.vid, (SELECT 1 FROM entries e WHERE e.collection = ? AND e.vid = v.vid), \
                 v.producer, v.json FROM versions v WHERE v.id IN ({})",
                placeholders(Dialect::Sqlite, 2, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(text)).bind(collection);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *conn).await? {
                out.push(stored_row!(r));
            }
        }
        Ok(out)
    }

    async fn insert_versions(
        conn: &mut sqlx::SqliteConnection,
        provenance: &Provenance,
        now: i64,
        versions: &[NewVersion],
        nss: &[i64],
        rows: &[usize],
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(CHUNK) {
            let text = format!(
                "INSERT OR IGNORE INTO versions (id, type, spec_version, version_ns, version_text, tlp, producer, \
                 created_by_ref, revoked, has_edges, json, source, actor, received_at) VALUES {} \
                 RETURNING id, version_ns, vid",
                values_list(Dialect::Sqlite, chunk.len(), 14)
            );
            let mut q = sqlx::query(AssertSqlSafe(text));
            for &i in chunk {
                let v = &versions[i];
                q = q
                    .bind(v.id.as_str())
                    .bind(v.object_type.as_str())
                    .bind(v.spec_version.as_str())
                    .bind(nss[i])
                    .bind(v.version_text.as_deref())
                    .bind(v.tlp)
                    .bind(v.producer.as_str())
                    .bind(v.created_by_ref.as_deref())
                    .bind(i64::from(v.revoked))
                    .bind(i64::from(!v.edge_refs.is_empty()))
                    .bind(v.json.as_str())
                    .bind(provenance.source.as_str())
                    .bind(provenance.actor.as_str())
                    .bind(now);
            }
            for r in q.fetch_all(&mut *conn).await? {
                out.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
            }
        }
        Ok(out)
    }

    async fn insert_edges(
        conn: &mut sqlx::SqliteConnection,
        edges: &[(i64, &str)],
    ) -> Result<(), StoreError> {
        for chunk in edges.chunks(CHUNK) {
            let text = format!(
                "INSERT OR IGNORE INTO edges (vid, target) VALUES {}",
                values_list(Dialect::Sqlite, chunk.len(), 2)
            );
            let mut q = sqlx::query(AssertSqlSafe(text));
            for (vid, target) in chunk {
                q = q.bind(*vid).bind(*target);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Inserts `(vid, date_added, multi, type)` entries; returns the vids placed now.
    async fn insert_entries(
        conn: &mut sqlx::SqliteConnection,
        collection: &str,
        rows: &[(i64, i64, i64, &str)],
    ) -> Result<Vec<i64>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(CHUNK) {
            let text = format!(
                "INSERT OR IGNORE INTO entries (collection, vid, date_added, multi, type) VALUES {} \
                 RETURNING vid",
                values_list(Dialect::Sqlite, chunk.len(), 5)
            );
            let mut q = sqlx::query(AssertSqlSafe(text));
            for (vid, date, multi, t) in chunk {
                q = q
                    .bind(collection)
                    .bind(*vid)
                    .bind(*date)
                    .bind(*multi)
                    .bind(*t);
            }
            for r in q.fetch_all(&mut *conn).await? {
                out.push(r.try_get(0)?);
            }
        }
        Ok(out)
    }
}

/// Rows per `UNNEST` statement on PostgreSQL (bounds the size of one message).
const PG_CHUNK: usize = 4096;

impl PgStore {
    async fn stored_versions(
        conn: &mut sqlx::PgConnection,
        collection: &str,
        ids: &[&str],
    ) -> Result<Vec<Stored>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(PG_CHUNK) {
            // The placement test is a scalar sub-query in the select list, which PostgreSQL runs
            // per row on the entries primary key. (As `WHERE EXISTS` it became a hash semi-join
            // over a sequential scan of the collection's entries: each POST cost a scan of
            // everything posted before.)
            let rows = sqlx::query(
                "SELECT v.id, v.version_ns, v.vid, (SELECT 1::int8 FROM entries e WHERE e.collection = $1 AND e.vid = v.vid), \
                 v.producer, v.json FROM versions v WHERE v.id = ANY($2::text[])",
            )
            .bind(collection)
            .bind(chunk)
            .fetch_all(&mut *conn)
            .await?;
            for r in rows {
                out.push(stored_row!(r));
            }
        }
        Ok(out)
    }

    async fn insert_versions(
        conn: &mut sqlx::PgConnection,
        provenance: &Provenance,
        now: i64,
        versions: &[NewVersion],
        nss: &[i64],
        rows: &[usize],
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(PG_CHUNK) {
            let col = |f: &dyn Fn(&NewVersion) -> &str| -> Vec<&str> {
                chunk.iter().map(|&i| f(&versions[i])).collect()
            };
            let ids = col(&|v| v.id.as_str());
            let types = col(&|v| v.object_type.as_str());
            let specs = col(&|v| v.spec_version.as_str());
            let producers = col(&|v| v.producer.as_str());
            let jsons = col(&|v| v.json.as_str());
            let ns: Vec<i64> = chunk.iter().map(|&i| nss[i]).collect();
            let texts: Vec<Option<&str>> = chunk
                .iter()
                .map(|&i| versions[i].version_text.as_deref())
                .collect();
            let tlps: Vec<Option<i64>> = chunk.iter().map(|&i| versions[i].tlp).collect();
            let creators: Vec<Option<&str>> = chunk
                .iter()
                .map(|&i| versions[i].created_by_ref.as_deref())
                .collect();
            let revoked: Vec<i64> = chunk
                .iter()
                .map(|&i| i64::from(versions[i].revoked))
                .collect();
            let has_edges: Vec<i64> = chunk
                .iter()
                .map(|&i| i64::from(!versions[i].edge_refs.is_empty()))
                .collect();
            let rows = sqlx::query(
                "INSERT INTO versions (id, type, spec_version, version_ns, version_text, tlp, producer, created_by_ref, \
                 revoked, has_edges, json, source, actor, received_at) \
                 SELECT u.*, $12, $13, $14 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], \
                 $6::int8[], $7::text[], $8::text[], $9::int8[], $10::int8[], $11::text[]) AS u \
                 ON CONFLICT (id, version_ns) DO NOTHING RETURNING id, version_ns, vid",
            )
            .bind(ids)
            .bind(types)
            .bind(specs)
            .bind(ns)
            .bind(texts)
            .bind(tlps)
            .bind(producers)
            .bind(creators)
            .bind(revoked)
            .bind(has_edges)
            .bind(jsons)
            .bind(provenance.source.as_str())
            .bind(provenance.actor.as_str())
            .bind(now)
            .fetch_all(&mut *conn)
            .await?;
            for r in rows {
                out.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
            }
        }
        Ok(out)
    }

    async fn insert_edges(
        conn: &mut sqlx::PgConnection,
        edges: &[(i64, &str)],
    ) -> Result<(), StoreError> {
        for chunk in edges.chunks(PG_CHUNK) {
            let vids: Vec<i64> = chunk.iter().map(|e| e.0).collect();
            let targets: Vec<&str> = chunk.iter().map(|e| e.1).collect();
            sqlx::query(
                "INSERT INTO edges (vid, target) SELECT * FROM UNNEST($1::int8[], $2::text[]) ON CONFLICT DO NOTHING",
            )
            .bind(vids)
            .bind(targets)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Inserts `(vid, date_added, multi, type)` entries; returns the vids placed now.
    async fn insert_entries(
        conn: &mut sqlx::PgConnection,
        collection: &str,
        rows: &[(i64, i64, i64, &str)],
    ) -> Result<Vec<i64>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(PG_CHUNK) {
            let vids: Vec<i64> = chunk.iter().map(|r| r.0).collect();
            let dates: Vec<i64> = chunk.iter().map(|r| r.1).collect();
            let multi: Vec<i64> = chunk.iter().map(|r| r.2).collect();
            let types: Vec<&str> = chunk.iter().map(|r| r.3).collect();
            let placed = sqlx::query(
                "INSERT INTO entries (collection, vid, date_added, multi, type) \
                 SELECT $1, u.vid, u.d, u.m, u.t FROM UNNEST($2::int8[], $3::int8[], $4::int8[], $5::text[]) AS u (vid, d, m, t) \
                 ON CONFLICT (collection, vid) DO NOTHING RETURNING vid",
            )
            .bind(collection)
            .bind(vids)
            .bind(dates)
            .bind(multi)
            .bind(types)
            .fetch_all(&mut *conn)
            .await?;
            for r in placed {
                out.push(r.try_get(0)?);
            }
        }
        Ok(out)
    }
}

impl SqliteStore {
    /// After `add`'s commit: the WAL checkpointed in the background ([`Self::checkpoint_soon`]).
    #[allow(clippy::unused_async)]
    async fn after_write(&self, _rows: u64) -> Result<(), StoreError> {
        self.checkpoint_soon();
        Ok(())
    }

    /// [`Store::audit_append_committed`]: the writer connection runs this one transaction with
    /// `synchronous=NORMAL` and is set back to `FULL` before it serves anything else; if that
    /// cannot be done (an error, or this future dropped half-way), the connection is closed
    /// rather than returned to the pool, and the pool opens a new one (`FULL`, from its options).
    async fn append_audit_committed(
        &self,
        entries: &[audit::Entry],
    ) -> Result<audit::Head, StoreError> {
        let mut guard = RelaxedWriter {
            conn: self.writer.acquire().await?,
            restored: false,
        };
        let conn = &mut *guard.conn;
        // The pragmas ride with BEGIN and COMMIT: four statements a batch in all. On any error
        // the guard closes the connection, which rolls back what is open.
        sqlx::raw_sql("PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await?;
        let head = append_audit_in!(conn, entries, timestamps::now_us());
        sqlx::raw_sql("COMMIT; PRAGMA synchronous = FULL")
            .execute(&mut *conn)
            .await?;
        guard.restored = true;
        Ok(head)
    }

    /// [`Store::audit_flush`]: a one-row write committed with `synchronous=FULL`, which syncs
    /// the WAL file, and with it every frame committed before.
    async fn flush_audit(&self) -> Result<(), StoreError> {
        sqlx::query(FLUSH_AUDIT)
            .bind(timestamps::now_us().to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// The durable write of [`Store::audit_flush`]: when the audit trail was last made durable.
const FLUSH_AUDIT: &str = "INSERT INTO settings (key, value) VALUES ('audit_flushed_us', $1) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// SQLite's writer connection while an audit-only transaction runs with `synchronous=NORMAL`:
/// closed instead of returned to the pool unless `FULL` was set back.
pub(crate) struct RelaxedWriter {
    pub(crate) conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    pub(crate) restored: bool,
}

impl Drop for RelaxedWriter {
    fn drop(&mut self) {
        if !self.restored {
            self.conn.close_on_drop();
        }
    }
}

impl PgStore {
    /// [`Store::audit_append_committed`]: `synchronous_commit = off` for this transaction only.
    async fn append_audit_committed(
        &self,
        entries: &[audit::Entry],
    ) -> Result<audit::Head, StoreError> {
        let mut tx = self.pool.begin().await?;
        // One round trip: the setting (local to this transaction) and the chain's lock.
        sqlx::query(
            "SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(72830003)",
        )
        .execute(&mut *tx)
        .await?;
        let head = append_audit_in!(tx, entries, timestamps::now_us());
        tx.commit().await?;
        Ok(head)
    }

    /// [`Store::audit_flush`]: a one-row write committed with `synchronous_commit = on` (whatever
    /// the server's default), which flushes the WAL up to it, and so every commit before.
    async fn flush_audit(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL synchronous_commit = on")
            .execute(&mut *tx)
            .await?;
        sqlx::query(FLUSH_AUDIT)
            .bind(timestamps::now_us().to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// PostgreSQL's write lock: every transaction that places entries takes it (one writer at a time
/// across every node), and so does the removal of a collection (`admin_state`).
pub(crate) const PG_WRITE_LOCK: &str = "SELECT pg_advisory_xact_lock(72830002)";

impl_store!(
    SqliteStore,
    sqlx::SqliteConnection,
    Dialect::Sqlite,
    reader = |s| &s.readers,
    writer = |s| &s.writer,
    begin = "BEGIN IMMEDIATE",
    lock = None::<&'static str>,
    audit_lock = None::<&'static str>
);

impl_store!(
    PgStore,
    sqlx::PgConnection,
    Dialect::Postgres,
    reader = |s| &s.pool,
    writer = |s| &s.pool,
    begin = "BEGIN",
    // One writer at a time across every node: date_added stays unique and increasing in commit order.
    lock = Some(PG_WRITE_LOCK),
    // One audit writer at a time across every node: the chain never forks.
    audit_lock = Some("SELECT pg_advisory_xact_lock(72830003)")
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::VersionSelection;
    use crate::policy::{Egress, Pushdown};
    use stix::tlp::TlpLevel;

    /// An audit-only commit runs with `synchronous=NORMAL` and leaves the writer connection at
    /// `FULL` for the data writes after it; the batch lands in one chain with the durable appends,
    /// and a flush is a committed write.
    #[tokio::test]
    async fn sqlite_audit_only_commit_restores_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("audit.db"))
            .await
            .unwrap();
        let synchronous = || async {
            let v: i64 = sqlx::query("PRAGMA synchronous")
                .fetch_one(&store.writer)
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            v
        };
        assert_eq!(synchronous().await, 2, "FULL");
        let entry = |i: usize| audit::Entry::new("alice", "read", "taxii", &format!("n{i}"), "ok");
        let batch: Vec<audit::Entry> = (0..300).map(entry).collect();
        let head = store.audit_append_committed(&batch).await.unwrap();
        assert_eq!(head.seq, 300);
        assert_eq!(
            synchronous().await,
            2,
            "FULL again after the audit-only commit"
        );
        store.audit_append(&[entry(300)]).await.unwrap();
        let head = store.audit_append_committed(&[entry(301)]).await.unwrap();
        assert_eq!(head.seq, 302);
        store.audit_flush().await.unwrap();
        let flushed: Option<String> =
            sqlx::query("SELECT value FROM settings WHERE key = 'audit_flushed_us'")
                .fetch_optional(&store.readers)
                .await
                .unwrap()
                .map(|r| r.try_get(0).unwrap());
        assert!(flushed.is_some());
        let records = store
            .audit_records(&AuditQuery {
                limit: 1000,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(records.len(), 302);
        assert_eq!(records[299].target, "n299");
        assert_eq!(records[301].target, "n301");
        assert!(audit::verify(records, None).problems.is_empty());
    }

    /// SQLite inserts a batch in chunks of bound rows (2^k rows each): every batch size, at and
    /// around the chunks' sizes, lands whole, in order, each field in its column, hostile text
    /// included, and the chain verifies.
    #[tokio::test]
    async fn sqlite_audit_batches_of_any_size_land_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("audit.db"))
            .await
            .unwrap();
        let mut n = 0usize;
        for size in [1usize, 2, 3, 255, 256, 257, 511, 600] {
            let batch: Vec<audit::Entry> = (n..n + size)
                .map(|i| {
                    audit::Entry::new(&format!("u{i}'\\"), "read", "taxii", &format!("t{i}"), "ok")
                        .detail(&format!("d{i} \"); DROP TABLE audit; --"))
                })
                .collect();
            store.audit_append_committed(&batch).await.unwrap();
            n += size;
        }
        let records = store
            .audit_records(&AuditQuery {
                limit: 10_000,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(records.len(), n);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.seq, i as i64 + 1);
            assert_eq!(r.actor, format!("u{i}'\\"));
            assert_eq!(r.target, format!("t{i}"));
            assert_eq!(r.detail, format!("d{i} \"); DROP TABLE audit; --"));
        }
        assert!(audit::verify(records, None).problems.is_empty());
    }

    /// Re-dating the edges of an object reads them by target (`edges_target`), then each edge's
    /// entries by version (`entries_vid`): never a scan of `edges` or of a collection.
    #[tokio::test]
    async fn sqlite_redating_reads_edges_by_target() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("plans.db"))
            .await
            .unwrap();
        let text = format!("EXPLAIN QUERY PLAN {}", redate_select(Dialect::Sqlite, 2));
        let rows = sqlx::query(AssertSqlSafe(text))
            .bind("indicator--a")
            .bind("indicator--b")
            .fetch_all(&store.readers)
            .await
            .unwrap();
        let plan: Vec<String> = rows.iter().map(|r| r.try_get(3).unwrap()).collect();
        assert!(
            plan.iter()
                .any(|l| l.starts_with("SEARCH r USING") && l.contains("edges_target (target=?)")),
            "{plan:#?}"
        );
        assert!(
            plan.iter()
                .any(|l| l.starts_with("SEARCH e USING") && l.contains("(vid=?)")),
            "{plan:#?}"
        );
        assert!(!plan.iter().any(|l| l.starts_with("SCAN ")), "{plan:#?}");
    }

    fn version(producer: &str, third_party: bool, modified: &str, name: &str) -> NewVersion {
        let obj = serde_json::json!({"type": "malware", "spec_version": "2.1",
            "id": "malware--5d3f1b8a-3c9e-4b1a-9d6e-000000000001", "created": "2024-01-01T00:00:00Z",
            "modified": modified, "name": name, "is_family": false,
            "created_by_ref": "identity--5d3f1b8a-3c9e-4b1a-9d6e-0000000000ff"});
        match crate::ingest::to_new_version(&obj, producer, None).unwrap() {
            crate::ingest::Prepared::Valid(mut v) => {
                v.third_party = third_party;
                *v
            }
            crate::ingest::Prepared::Invalid { message, .. } => panic!("{message}"),
        }
    }

    async fn add(store: &SqliteStore, collection: &str, v: &[NewVersion]) -> Vec<AddOutcome> {
        let status = |_: &[AddOutcome]| StatusRecord {
            id: uuid::Uuid::new_v4().to_string(),
            api_root: "r".into(),
            member: "m".into(),
            request_us: 0,
            expires_us: 0,
            body: "{}".into(),
        };
        let prov = Provenance {
            source: "local".into(),
            actor: "t".into(),
        };
        store.add(collection, &prov, v, &status).await.unwrap()
    }

    #[test]
    fn values_lists_number_postgres_placeholders_and_leave_sqlite_ones_anonymous() {
        assert_eq!(
            values_list(Dialect::Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(values_list(Dialect::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(values_list(Dialect::Sqlite, 0, 2), "");
    }

    /// `add`'s commit leaves the WAL to the background checkpoint: the writer's own threshold
    /// is the backstop, a commit's rows are in the WAL when `add` returns, and soon after in the
    /// database file itself (read here from a copy of that file alone, without the WAL) although
    /// the batch is far below SQLite's default threshold of 1,000 pages. The insert statements
    /// skip existing rows as before (`INSERT OR IGNORE`): adding the same batch again stores
    /// nothing new.
    #[tokio::test]
    async fn sqlite_add_checkpoints_in_the_background() {
        use std::sync::atomic::Ordering;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let threshold: i64 = sqlx::query("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.writer)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(threshold.to_string(), WRITER_AUTOCHECKPOINT_PAGES);
        // Whatever `open` left in the WAL is checkpointed first, so that only `add` can have
        // moved the rows below into the file.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&store.checkpointer)
            .await
            .unwrap();
        let batch = [version("m", false, "2024-01-02T00:00:00Z", "one")];
        let outcomes = add(&store, "c", &batch).await;
        assert!(matches!(outcomes[0], AddOutcome::Added { .. }));
        let mut waited = 0;
        while store.checkpointing.load(Ordering::Acquire) {
            assert!(waited < 600, "the background checkpoint never finished");
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += 1;
        }
        let copy = dir.path().join("copy.db");
        std::fs::copy(&path, &copy).unwrap();
        let alone = SqliteConnectOptions::from_str("sqlite://")
            .unwrap()
            .filename(&copy)
            .read_only(true);
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&alone)
            .await
            .unwrap();
        let (versions, entries): (i64, i64) = {
            let r = sqlx::query(
                "SELECT (SELECT COUNT(*) FROM versions), (SELECT COUNT(*) FROM entries)",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap();
            (r.try_get(0).unwrap(), r.try_get(1).unwrap())
        };
        assert_eq!(
            (versions, entries),
            (1, 1),
            "the commit reached the database file"
        );
        let again = add(&store, "c", &batch).await;
        assert!(matches!(again[0], AddOutcome::AlreadyPresent { .. }));
        let r =
            sqlx::query("SELECT (SELECT COUNT(*) FROM versions), (SELECT COUNT(*) FROM entries)")
                .fetch_one(&store.readers)
                .await
                .unwrap();
        assert_eq!(
            (
                r.try_get::<i64, _>(0).unwrap(),
                r.try_get::<i64, _>(1).unwrap()
            ),
            (1, 1)
        );
    }

    /// A non-member's object may be re-shared by another member with identical content (key
    /// order aside), never with another content under the same version; its versions belong
    /// to the member that first published it.
    #[tokio::test]
    async fn third_party_objects_are_reshared_only_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("p.db")).await.unwrap();
        let v1 = version("a", true, "2024-01-01T00:00:00Z", "Shared implant");
        assert!(matches!(
            add(&store, "c1", std::slice::from_ref(&v1)).await[0],
            AddOutcome::Added { .. }
        ));
        // The same content from member b, keys in another order: placed in b's collection.
        let mut same = version("b", true, "2024-01-01T00:00:00Z", "Shared implant");
        let reordered: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&same.json)
                .unwrap()
                .into_iter()
                .rev()
                .collect();
        same.json = serde_json::Value::Object(reordered).to_string();
        assert_ne!(same.json, v1.json);
        assert!(matches!(
            add(&store, "c2", &[same]).await[0],
            AddOutcome::Added { .. }
        ));
        // Another content under the same version: refused, from b and from a alike.
        for producer in ["b", "a"] {
            let other = version(producer, true, "2024-01-01T00:00:00Z", "Another name");
            assert!(
                matches!(
                    add(&store, "c2", &[other]).await[0],
                    AddOutcome::Refused { .. }
                ),
                "{producer}"
            );
        }
        // A member's object (not third party) with identical content from another member: refused.
        let members = version("b", false, "2024-01-01T00:00:00Z", "Shared implant");
        assert!(matches!(
            add(&store, "c3", &[members]).await[0],
            AddOutcome::Refused { .. }
        ));
        // New versions: only from a, the producer of the latest version (third party or not).
        let v2b = version("b", true, "2024-02-01T00:00:00Z", "Shared implant v2");
        assert!(matches!(
            add(&store, "c2", &[v2b]).await[0],
            AddOutcome::Refused { .. }
        ));
        let v2a = version("a", true, "2024-02-01T00:00:00Z", "Shared implant v2");
        assert!(matches!(
            add(&store, "c1", &[v2a]).await[0],
            AddOutcome::Added { .. }
        ));
        // Within one batch: a refused version does not count, an accepted one does.
        let batch = [
            version("b", true, "2024-03-01T00:00:00Z", "b's v3"),
            version("a", true, "2024-03-01T00:00:00Z", "a's v3"),
            version("a", true, "2024-03-01T00:00:00Z", "a's v3"),
            version("a", true, "2024-03-01T00:00:00Z", "a's v3, changed"),
        ];
        let out = add(&store, "c1", &batch).await;
        assert!(matches!(out[0], AddOutcome::Refused { .. }), "{out:?}");
        assert!(matches!(out[1], AddOutcome::Added { .. }), "{out:?}");
        assert!(
            matches!(out[2], AddOutcome::AlreadyPresent { .. }),
            "{out:?}"
        );
        assert!(matches!(out[3], AddOutcome::Refused { .. }), "{out:?}");
        // What is stored is what its producer posted.
        let placements = store.placements().await.unwrap();
        assert_eq!(
            placements
                .iter()
                .map(|p| (p.collection.as_str(), p.producer.as_str()))
                .collect::<Vec<_>>(),
            vec![("c1", "a"), ("c1", "a"), ("c1", "a"), ("c2", "a")]
        );
        let json: String = sqlx::query_scalar(
            "SELECT json FROM versions WHERE version_ns = (SELECT MIN(version_ns) FROM versions)",
        )
        .fetch_one(&store.readers)
        .await
        .unwrap();
        assert_eq!(json, v1.json);
    }

    /// Every sub-query of a listing (the edge rule's endpoint look-ups, the version siblings)
    /// reaches `entries` through an object's versions (by id, then the entry's primary key),
    /// never by the collection alone: SQLite has no statistics on a fresh store, and a page of
    /// relationships once cost a scan of the collection per edge. Read from `EXPLAIN QUERY PLAN`.
    #[tokio::test]
    async fn sqlite_listing_subqueries_never_scan_a_collection() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("plans.db"))
            .await
            .unwrap();
        let mut first = VersionSelection::last();
        (first.last, first.first) = (false, true);
        let egress = Egress {
            source: "peer:p".into(),
            amber_collections: vec!["c".into()],
            amber_strict: false,
        };
        let mut statements = Vec::new();
        for (versions, egress) in [
            (VersionSelection::last(), None),
            (VersionSelection::all(), None),
            (first, None),
            (VersionSelection::all(), Some(egress.clone())),
            (VersionSelection::last(), Some(egress)),
        ] {
            for ids in [vec![], vec!["indicator--x".to_owned()]] {
                let pushdown = Pushdown {
                    member: "m".into(),
                    readable: Some(vec!["c".into(), "d".into()]),
                    red_recipient_of: vec!["d".into()],
                    default_tlp: TlpLevel::Amber,
                    egress: egress.clone(),
                };
                if ids.is_empty() && egress.is_none() {
                    statements.push((true, sql::visible("c", "indicator--x", &pushdown)));
                }
                let by_id = !ids.is_empty();
                let q = ListQuery {
                    collection: "c".into(),
                    pushdown,
                    ids,
                    types: vec![],
                    added_after_us: Some(1),
                    versions: versions.clone(),
                    spec_versions: vec![],
                    after: Some((1, 2)),
                    limit: 100,
                    with_json: true,
                };
                statements.push((by_id, sql::list(&q)));
            }
        }
        for (by_id, sql) in statements {
            let text = format!("EXPLAIN QUERY PLAN {}", sql.text);
            let rows = bind_all!(sqlx::query(AssertSqlSafe(text)), &sql.binds)
                .fetch_all(&store.readers)
                .await
                .unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.try_get(3).unwrap()).collect();
            // By id: the versions of the id first; else the collection's entries in order.
            let outer = if by_id {
                ("SEARCH v USING", "sqlite_autoindex_versions_1 (id=?")
            } else {
                (
                    "SEARCH e USING",
                    "entries_order (collection=? AND date_added>?)",
                )
            };
            assert!(
                plan.iter()
                    .any(|l| l.starts_with(outer.0) && l.contains(outer.1)),
                "{outer:?}\n{plan:#?}"
            );
            for line in &plan {
                // By id, `c` is the materialised set of the ids' visible versions (read by id
                // above): scanning it reads only those.
                let scans_candidates = by_id && (line == "SCAN c" || line == "SCAN c2");
                assert!(
                    !line.starts_with("SCAN ")
                        || line == "SCAN x"
                        || line.contains("CONSTANT")
                        || scans_candidates,
                    "a full scan: {line}\n{plan:#?}"
                );
                let mut words = line.split_whitespace();
                let (verb, alias) = (words.next(), words.next());
                let on_entries =
                    line.contains("entries_") || line.contains("sqlite_autoindex_entries");
                if verb == Some("SEARCH") && (by_id || alias != Some("e")) && on_entries {
                    assert!(
                        line.contains("vid=?"),
                        "an entry looked up without its version: {line}\n{plan:#?}"
                    );
                }
            }
        }
    }
}
