//! Consistent copies of a SQLite store for backup and restore: `VACUUM INTO` takes the copy at
//! one commit while other connections keep writing, and SQLite's integrity check vets a
//! restored file. (A PostgreSQL store is backed up with PostgreSQL's own tools.)

use std::{path::Path, time::Duration};

use sqlx::{
    ConnectOptions, Row,
    sqlite::{SqliteConnectOptions, SqliteJournalMode},
};

/// A snapshot or check that failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The path cannot be handed to SQLite.
    #[error("{0}: not a UTF-8 path")]
    Path(String),
    /// SQLite refused an operation.
    #[error("{what}: {source}")]
    Sqlite {
        /// What was being done.
        what: String,
        /// SQLite's error.
        source: sqlx::Error,
    },
    /// The copy is not a Shieldwall database.
    #[error("the copy has no versions table: is this a Shieldwall database? ({0})")]
    NotAStore(sqlx::Error),
    /// The integrity check found damage.
    #[error("the restored database fails SQLite's integrity check: {0}")]
    Damaged(String),
}

fn options(db: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(30))
}

fn sqlite(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> SnapshotError {
    let what = what.into();
    move |source| SnapshotError::Sqlite { what, source }
}

/// Copies the database `db` into the new file `copy` at one commit while other connections
/// keep writing; returns the number of object versions the copy holds. The copy is left in
/// rollback-journal mode, one self-contained file.
pub async fn sqlite_snapshot(db: &Path, copy: &Path) -> Result<i64, SnapshotError> {
    let mut conn = options(db)
        .connect()
        .await
        .map_err(sqlite(format!("cannot open the database {}", db.display())))?;
    let target = copy
        .to_str()
        .ok_or_else(|| SnapshotError::Path(copy.display().to_string()))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await
        .map_err(sqlite(format!(
            "cannot copy {} (VACUUM INTO)",
            db.display()
        )))?;
    drop(conn);
    let mut conn = options(copy)
        .connect()
        .await
        .map_err(sqlite(format!("cannot open the copy {}", copy.display())))?;
    let versions: i64 = sqlx::query("SELECT COUNT(*) FROM versions")
        .fetch_one(&mut conn)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(SnapshotError::NotAStore)?;
    // A copy is WAL-mode like its source; fold everything into the one file before packing it.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .map_err(sqlite("checkpoint of the copy"))?;
    sqlx::query("PRAGMA journal_mode = DELETE")
        .execute(&mut conn)
        .await
        .map_err(sqlite("journal mode of the copy"))?;
    drop(conn);
    Ok(versions)
}

/// SQLite's integrity check of a (restored) database file.
pub async fn sqlite_integrity_check(db: &Path) -> Result<(), SnapshotError> {
    let mut conn = options(db).connect().await.map_err(sqlite(format!(
        "cannot open the restored database {}",
        db.display()
    )))?;
    let verdict: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(sqlite("integrity check"))?;
    if verdict != "ok" {
        return Err(SnapshotError::Damaged(verdict));
    }
    Ok(())
}
