//! The admin-managed state (`policy::admin::AdminState`) as one versioned document: table
//! `admin_state`, one row, its JSON and a generation counter that every change increments.
//!
//! Every node on the database polls [`generation`](AnyStore::admin_generation) (one indexed
//! single-row read) and rebuilds its application when it moves. A change is a compare-and-swap
//! on the generation, committed in one transaction with its audit records
//! ([`AnyStore::admin_commit`]): the state and its trail change together or not at all, and two
//! administrators on two nodes cannot overwrite each other's change (the second one is told to
//! re-read, and the service retries it on the new state).
//!
//! Kept apart from `backends.rs` on purpose: its own table, created with the schema.

use sqlx::Row;

use crate::{AnyStore, StoreError, audit, timestamps};

/// The table (both backends; created by `open` with the rest of the schema).
pub(crate) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS admin_state (
        id BIGINT PRIMARY KEY, generation BIGINT NOT NULL, document TEXT NOT NULL,
        updated_us BIGINT NOT NULL)",
    // The collections removed by [`AnyStore::admin_commit_removal`], written in the transaction
    // that commits the removal: `Store::add` refuses to place anything in them, under the same
    // write lock, so that a write admitted by a node that has not yet seen the removal cannot
    // land in a collection once it is removed.
    "CREATE TABLE IF NOT EXISTS removed_collections (id TEXT PRIMARY KEY, removed_us BIGINT NOT NULL)",
];

/// The stored admin state: its generation (0: never written) and its JSON (`None`: never written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAdminState {
    /// Incremented by every change.
    pub generation: i64,
    /// The document.
    pub document: Option<String>,
}

/// What [`AnyStore::admin_commit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommit {
    /// Committed as this generation.
    Committed(i64),
    /// Another change came first: the stored generation is not the one expected.
    Stale,
    /// The collection to remove holds this many entries (counted in the transaction that would
    /// have removed it): nothing was committed.
    NotEmpty(i64),
}

macro_rules! commit_body {
    ($pool:expr, $begin:expr, $write_lock:expr, $lock:expr, $expected:expr, $document:expr, $entries:expr, $removing:expr) => {{
        let removing: Option<&str> = $removing;
        let mut tx = $pool.begin_with($begin).await?;
        if removing.is_some()
            && let Some(lock) = $write_lock
        {
            // The store's write lock (taken before the audit chain's, as nothing takes them the
            // other way round): no write into the collection is in flight while it is counted,
            // and none comes after it without seeing it removed.
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        if let Some(lock) = $lock {
            // The audit chain's lock: admin changes and other audit appends stay in one order.
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let current: i64 = sqlx::query("SELECT generation FROM admin_state WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .unwrap_or(0);
        if current != $expected {
            return Ok(AdminCommit::Stale);
        }
        let now = timestamps::now_us();
        if let Some(collection) = removing {
            let held: i64 = sqlx::query("SELECT COUNT(*) FROM entries WHERE collection = $1")
                .bind(collection)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            if held > 0 {
                return Ok(AdminCommit::NotEmpty(held));
            }
            sqlx::query(
                "INSERT INTO removed_collections (id, removed_us) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            )
            .bind(collection)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let next = current + 1;
        sqlx::query(
            "INSERT INTO admin_state (id, generation, document, updated_us) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET generation = excluded.generation, \
             document = excluded.document, updated_us = excluded.updated_us",
        )
        .bind(next)
        .bind($document)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let _head = crate::backends::append_audit_in!(tx, $entries, now);
        tx.commit().await?;
        Ok(AdminCommit::Committed(next))
    }};
}

impl AnyStore {
    /// The admin state's generation (0 when never written): what nodes poll.
    pub async fn admin_generation(&self) -> Result<i64, StoreError> {
        let q = "SELECT generation FROM admin_state WHERE id = 1";
        let generation = match self {
            AnyStore::Sqlite(s) => sqlx::query(q)
                .fetch_optional(&s.readers)
                .await?
                .map(|r| r.try_get::<i64, _>(0))
                .transpose()?,
            AnyStore::Postgres(s) => sqlx::query(q)
                .fetch_optional(s.pool())
                .await?
                .map(|r| r.try_get::<i64, _>(0))
                .transpose()?,
        };
        Ok(generation.unwrap_or(0))
    }

    /// The admin state and its generation.
    pub async fn admin_state(&self) -> Result<StoredAdminState, StoreError> {
        let q = "SELECT generation, document FROM admin_state WHERE id = 1";
        let row: Option<(i64, String)> = match self {
            AnyStore::Sqlite(s) => sqlx::query(q)
                .fetch_optional(&s.readers)
                .await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
                .transpose()?,
            AnyStore::Postgres(s) => sqlx::query(q)
                .fetch_optional(s.pool())
                .await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
                .transpose()?,
        };
        Ok(match row {
            Some((generation, document)) => StoredAdminState {
                generation,
                document: Some(document),
            },
            None => StoredAdminState {
                generation: 0,
                document: None,
            },
        })
    }

    /// Replaces the admin state with `document` if its generation is still `expected`, and
    /// appends `entries` to the audit chain, in one transaction.
    pub async fn admin_commit(
        &self,
        expected: i64,
        document: &str,
        entries: &[audit::Entry],
    ) -> Result<AdminCommit, StoreError> {
        self.commit(expected, document, entries, None).await
    }

    /// [`AnyStore::admin_commit`] for a change that removes `collection` (its id as entries
    /// hold it): in the same transaction, under the store's write lock (SQLite's one writer, the
    /// PostgreSQL advisory lock `Store::add` takes), the collection's entries are counted —
    /// [`AdminCommit::NotEmpty`] and nothing committed when it holds any — and it is recorded
    /// as removed, which `Store::add` refuses to write into from then on
    /// ([`StoreError::CollectionRemoved`]).
    pub async fn admin_commit_removal(
        &self,
        expected: i64,
        document: &str,
        entries: &[audit::Entry],
        collection: &str,
    ) -> Result<AdminCommit, StoreError> {
        self.commit(expected, document, entries, Some(collection))
            .await
    }

    async fn commit(
        &self,
        expected: i64,
        document: &str,
        entries: &[audit::Entry],
        removing: Option<&str>,
    ) -> Result<AdminCommit, StoreError> {
        match self {
            AnyStore::Sqlite(s) => commit_body!(
                s.writer,
                "BEGIN IMMEDIATE",
                None::<&'static str>,
                None::<&'static str>,
                expected,
                document,
                entries,
                removing
            ),
            AnyStore::Postgres(s) => commit_body!(
                s.pool(),
                "BEGIN",
                Some(crate::backends::PG_WRITE_LOCK),
                Some("SELECT pg_advisory_xact_lock(72830003)"),
                expected,
                document,
                entries,
                removing
            ),
        }
    }
}
