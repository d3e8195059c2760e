//! The two backends. Their SQL is the same text (see `sql.rs`) except for the schema, the JSON
//! column and how a writer takes the write lock, so one macro implements [`Store`] for both.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    AssertSqlSafe, Row,
    postgres::{PgPool, PgPoolOptions},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

use super::{
    AddOutcome, DeleteOutcome, DeleteQuery, ListQuery, NewVersion, Page, Placement, Provenance,
    Record, StatusRecord, Store, StoreError, SyncRecord,
    sql::{self, Bind, Dialect},
};
use crate::timestamps;

const SQLITE_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS versions (
        vid INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL, type TEXT NOT NULL, spec_version TEXT NOT NULL,
        version_ns BIGINT NOT NULL, version_text TEXT,
        tlp BIGINT, producer TEXT NOT NULL, created_by_ref TEXT, revoked BIGINT NOT NULL,
        has_edges BIGINT NOT NULL, json TEXT NOT NULL,
        source TEXT NOT NULL, actor TEXT NOT NULL, received_at BIGINT NOT NULL,
        UNIQUE (id, version_ns))",
    "CREATE TABLE IF NOT EXISTS entries (
        collection TEXT NOT NULL, vid BIGINT NOT NULL, date_added BIGINT NOT NULL,
        PRIMARY KEY (collection, vid))",
    "CREATE INDEX IF NOT EXISTS entries_order ON entries (collection, date_added, vid)",
    "CREATE INDEX IF NOT EXISTS entries_vid ON entries (vid)",
    "CREATE INDEX IF NOT EXISTS entries_date ON entries (date_added)",
    "CREATE TABLE IF NOT EXISTS edges (vid BIGINT NOT NULL, target TEXT NOT NULL, PRIMARY KEY (vid, target))",
    "CREATE INDEX IF NOT EXISTS edges_target ON edges (target)",
    "CREATE TABLE IF NOT EXISTS statuses (
        id TEXT PRIMARY KEY, api_root TEXT NOT NULL, member TEXT NOT NULL,
        request_ts BIGINT NOT NULL, expires BIGINT NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS statuses_expires ON statuses (expires)",
    "CREATE TABLE IF NOT EXISTS sync_cursors (
        peer TEXT NOT NULL, collection TEXT NOT NULL, direction TEXT NOT NULL,
        value TEXT NOT NULL, updated BIGINT NOT NULL, PRIMARY KEY (peer, collection, direction))",
];

const POSTGRES_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS versions (
        vid BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL, type TEXT NOT NULL, spec_version TEXT NOT NULL,
        version_ns BIGINT NOT NULL, version_text TEXT,
        tlp BIGINT, producer TEXT NOT NULL, created_by_ref TEXT, revoked BIGINT NOT NULL,
        has_edges BIGINT NOT NULL, json JSONB NOT NULL,
        source TEXT NOT NULL, actor TEXT NOT NULL, received_at BIGINT NOT NULL,
        UNIQUE (id, version_ns))",
    "CREATE TABLE IF NOT EXISTS entries (
        collection TEXT NOT NULL, vid BIGINT NOT NULL, date_added BIGINT NOT NULL,
        PRIMARY KEY (collection, vid))",
    "CREATE INDEX IF NOT EXISTS entries_order ON entries (collection, date_added, vid)",
    "CREATE INDEX IF NOT EXISTS entries_vid ON entries (vid)",
    "CREATE INDEX IF NOT EXISTS entries_date ON entries (date_added)",
    "CREATE TABLE IF NOT EXISTS edges (vid BIGINT NOT NULL, target TEXT NOT NULL, PRIMARY KEY (vid, target))",
    "CREATE INDEX IF NOT EXISTS edges_target ON edges (target)",
    "CREATE TABLE IF NOT EXISTS statuses (
        id TEXT PRIMARY KEY, api_root TEXT NOT NULL, member TEXT NOT NULL,
        request_ts BIGINT NOT NULL, expires BIGINT NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS statuses_expires ON statuses (expires)",
    "CREATE TABLE IF NOT EXISTS sync_cursors (
        peer TEXT NOT NULL, collection TEXT NOT NULL, direction TEXT NOT NULL,
        value TEXT NOT NULL, updated BIGINT NOT NULL, PRIMARY KEY (peer, collection, direction))",
];

/// The embedded SQLite store: one writer connection, a pool of readers, WAL.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating when absent) the database file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before a POST is acknowledged (survives power loss too).
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        for stmt in SQLITE_SCHEMA {
            sqlx::query(*stmt).execute(&writer).await?;
        }
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { writer, readers })
    }
}

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Rows written since the last `ANALYZE`, and the table size then: fresh statistics keep the
    /// planner on the indexes after bulk loads (autovacuum comes too late for a load-then-read).
    analyze: std::sync::Arc<std::sync::Mutex<(u64, u64)>>,
}

impl PgStore {
    /// Connects to `url` and brings the schema up to date (under an advisory lock, so that several
    /// nodes starting together do not race).
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(72830001)")
            .execute(&mut *tx)
            .await?;
        for stmt in POSTGRES_SCHEMA {
            sqlx::query(*stmt).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(PgStore {
            pool,
            analyze: std::sync::Arc::new(std::sync::Mutex::new((0, 0))),
        })
    }

    async fn after_write(&self, rows: u64) -> Result<(), StoreError> {
        let due = match self.analyze.lock() {
            Ok(mut g) => {
                g.0 += rows;
                let due = g.0 >= 1000 && g.0 * 5 >= g.1;
                if due {
                    g.1 += g.0;
                    g.0 = 0;
                }
                due
            }
            Err(_) => false,
        };
        if due {
            sqlx::query("ANALYZE versions, entries, edges")
                .execute(&self.pool)
                .await?;
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

macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::Int(i) => q.bind(*i),
                Bind::Text(s) => q.bind(s.as_str()),
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

macro_rules! impl_store {
    ($ty:ident, $dialect:expr, reader = |$rs:ident| $reader:expr, writer = |$ws:ident| $writer:expr, begin = $begin:expr, lock = $lock:expr) => {
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
                let mut outcomes = Vec::with_capacity(versions.len());
                let insert_version = format!(
                    "INSERT INTO versions (id, type, spec_version, version_ns, version_text, tlp, producer, created_by_ref, \
                     revoked, has_edges, json, source, actor, received_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {}, $12, $13, $14) \
                     ON CONFLICT (id, version_ns) DO NOTHING RETURNING vid",
                    $dialect.json_in(11)
                );
                for v in versions {
                    let date_added = match v.date_added_us {
                        Some(d) => d,
                        None => {
                            last = now.max(last + 1);
                            last
                        }
                    };
                    let version_ns = match v.version_ns {
                        Some(ns) => Some(ns),
                        None => {
                            let existing = sqlx::query("SELECT version_ns FROM versions WHERE id = $1 ORDER BY version_ns LIMIT 1")
                                .bind(v.id.as_str())
                                .fetch_optional(&mut *tx)
                                .await?;
                            match existing {
                                Some(r) => Some(r.try_get::<i64, _>(0)?),
                                None => None,
                            }
                        }
                    }
                    .unwrap_or(date_added.saturating_mul(1000));
                    let inserted = sqlx::query(AssertSqlSafe(insert_version.as_str()))
                        .bind(v.id.as_str())
                        .bind(v.object_type.as_str())
                        .bind(v.spec_version.as_str())
                        .bind(version_ns)
                        .bind(v.version_text.as_deref())
                        .bind(v.tlp)
                        .bind(v.producer.as_str())
                        .bind(v.created_by_ref.as_deref())
                        .bind(i64::from(v.revoked))
                        .bind(i64::from(!v.edge_refs.is_empty()))
                        .bind(v.json.as_str())
                        .bind(provenance.source.as_str())
                        .bind(provenance.actor.as_str())
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let vid: i64 = match inserted {
                        Some(r) => {
                            let vid: i64 = r.try_get(0)?;
                            for target in &v.edge_refs {
                                sqlx::query("INSERT INTO edges (vid, target) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                                    .bind(vid)
                                    .bind(target.as_str())
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            vid
                        }
                        None => sqlx::query("SELECT vid FROM versions WHERE id = $1 AND version_ns = $2")
                            .bind(v.id.as_str())
                            .bind(version_ns)
                            .fetch_one(&mut *tx)
                            .await?
                            .try_get(0)?,
                    };
                    let placed = sqlx::query(
                        "INSERT INTO entries (collection, vid, date_added) VALUES ($1, $2, $3) ON CONFLICT (collection, vid) DO NOTHING",
                    )
                    .bind(collection)
                    .bind(vid)
                    .bind(date_added)
                    .execute(&mut *tx)
                    .await?;
                    outcomes.push(if placed.rows_affected() == 1 {
                        AddOutcome::Added { date_added_us: date_added, version_ns }
                    } else {
                        AddOutcome::AlreadyPresent { version_ns }
                    });
                }
                let status = make_status(&outcomes);
                sqlx::query(
                    "INSERT INTO statuses (id, api_root, member, request_ts, expires, body) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(status.id.as_str())
                .bind(status.api_root.as_str())
                .bind(status.member.as_str())
                .bind(status.request_us)
                .bind(status.expires_us)
                .bind(status.body.as_str())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                $ws.after_write(outcomes.len() as u64).await?;
                Ok(outcomes)
            }

            async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
                let $rs = self;
                let pool = $reader;
                let q = sql::list($dialect, query);
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
                let q = sql::list($dialect, &lq);
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
                    if still_placed == 0 {
                        sqlx::query("DELETE FROM edges WHERE vid = $1").bind(vid).execute(&mut *tx).await?;
                        sqlx::query("DELETE FROM versions WHERE vid = $1").bind(vid).execute(&mut *tx).await?;
                    }
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
                     WHERE e.collection = $1 AND (e.date_added > $2 OR (e.date_added = $2 AND e.vid > $3)) \
                     ORDER BY e.date_added, e.vid LIMIT $4",
                    $dialect.json_out("v")
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
                     FROM entries e JOIN versions v ON v.vid = e.vid \
                     WHERE e.collection = $1 AND v.id = $2 ORDER BY v.version_ns",
                    $dialect.json_out("v")
                );
                let rows = sqlx::query(AssertSqlSafe(q)).bind(collection).bind(id).fetch_all(pool).await?;
                rows.iter().map(|r| sync_record!(r)).collect()
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
        }
    };
}

impl SqliteStore {
    #[allow(clippy::unused_async)]
    async fn after_write(&self, _rows: u64) -> Result<(), StoreError> {
        Ok(())
    }
}

impl_store!(
    SqliteStore,
    Dialect::Sqlite,
    reader = |s| &s.readers,
    writer = |s| &s.writer,
    begin = "BEGIN IMMEDIATE",
    lock = None::<&'static str>
);

impl_store!(
    PgStore,
    Dialect::Postgres,
    reader = |s| &s.pool,
    writer = |s| &s.pool,
    begin = "BEGIN",
    // One writer at a time across every node: date_added stays unique and increasing in commit order.
    lock = Some("SELECT pg_advisory_xact_lock(72830002)")
);
