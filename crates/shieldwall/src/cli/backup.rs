//! `shieldwall backup` and `shieldwall restore`: a consistent snapshot of a node on SQLite,
//! taken while it serves, and its unpacking into a new directory.
//!
//! A backup is one tar file (mode 0600, never overwriting) holding three members under
//! `shieldwall-backup/`: `MANIFEST.json` (format, the version that wrote it, when, the folder of
//! the original configuration, the number of object versions), `shieldwall.toml` (the
//! configuration file as written, comments kept) and `shieldwall.db` (the database, written by
//! SQLite's `VACUUM INTO` through sqlx: one read transaction, so the copy is exactly the database
//! at one commit, while the node keeps accepting writes; a POST acknowledged after that commit
//! is not in it).
//!
//! `restore FILE --into DIR` writes `DIR/shieldwall.toml` (with `server.data_dir = "data"`, no
//! `server.database`, and relative TLS and peer certificate paths made absolute against the
//! original configuration's folder) and `DIR/data/shieldwall.db`, after SQLite's integrity
//! check; `DIR` must not exist or be empty. PostgreSQL nodes are backed up with `pg_dump`
//! (docs/OPERATIONS.md).

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, bail};
use serde_json::json;
use shieldwall::config;

/// The folder every member of a backup lives in.
const ROOT: &str = "shieldwall-backup";
/// The format written in the manifest.
const FORMAT: &str = "shieldwall-backup 1";
const MANIFEST: &str = "MANIFEST.json";
const CONFIG: &str = "shieldwall.toml";
const DATABASE: &str = "shieldwall.db";

/// Arguments of `shieldwall backup`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BackupArgs {
    /// Configuration file of the node (its database is found through it, `SHIELDWALL_*`
    /// overrides applied).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The backup file to write (a tar, mode 0600); refused when it exists.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Arguments of `shieldwall restore`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RestoreArgs {
    /// A file written by `shieldwall backup`.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Directory to restore into (created; refused when it exists and is not empty).
    #[arg(long, value_name = "DIR")]
    into: PathBuf,
}

pub(crate) fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let checked = config::load(&args.config, &config::process_env())?;
    let Some(db) = sqlite_file(&checked.database) else {
        bail!(
            "the database of {} is {}: back up PostgreSQL with pg_dump (docs/OPERATIONS.md)",
            args.config.display(),
            config::redact_url(&checked.database)
        );
    };
    if !db.is_file() {
        bail!("no database at {}: nothing to back up", db.display());
    }
    if args.out.exists() {
        bail!(
            "{} exists: a backup never overwrites a file",
            args.out.display()
        );
    }
    let config_text = std::fs::read(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let folder = std::path::absolute(&args.config)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();

    // Work in a private folder beside the output, removed whatever happens.
    let out_dir = match args.out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let work = out_dir.join(format!(".shieldwall-backup.{}.tmp", std::process::id()));
    shieldwall::files::create_private_dir_all(&work)
        .with_context(|| format!("cannot create {}", work.display()))?;
    let _cleanup = RemoveOnDrop(work.clone());
    let copy = work.join(DATABASE);

    let versions = super::serve::runtime()?.block_on(async {
        // What a stopped server left in its audit journal goes into the chain first.
        let store = shieldwall::store::AnyStore::open(&checked.database).await?;
        super::audit::replay_journal(&checked, &store).await?;
        drop(store);
        anyhow::Ok(shieldwall::store::snapshot::sqlite_snapshot(&db, &copy).await?)
    })?;
    restrict(&copy)?;
    let manifest = json!({
        "format": FORMAT,
        "shieldwall": crate::VERSION,
        "created": shieldwall::timestamps::format_us(shieldwall::timestamps::now_us()),
        "config_folder": folder.display().to_string(),
        "object_versions": versions,
        "config": CONFIG,
        "database": DATABASE,
    });
    let tar_tmp = work.join("backup.tar");
    write_tar(&tar_tmp, &manifest, &config_text, &copy)?;
    // A hard link never replaces an existing file: a backup that appeared meanwhile is kept.
    std::fs::hard_link(&tar_tmp, &args.out).with_context(|| {
        format!(
            "cannot create {} (it must not exist, on the same filesystem as its folder)",
            args.out.display()
        )
    })?;
    let size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "shieldwall: backed up {} object versions and {} to {} ({size} bytes)",
        versions,
        args.config.display(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    if args.into.exists() {
        let mut entries = std::fs::read_dir(&args.into)
            .with_context(|| format!("cannot read {}", args.into.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty: restore into a new directory",
                args.into.display()
            );
        }
    }
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let data = args.into.join("data");
    shieldwall::files::create_private_dir_all(&data)
        .with_context(|| format!("cannot create {}", data.display()))?;
    let mut manifest: Option<serde_json::Value> = None;
    let mut config_text: Option<String> = None;
    let mut have_db = false;
    let mut archive = tar::Archive::new(file);
    for entry in archive
        .entries()
        .with_context(|| format!("{}: not a backup (tar) file", args.file.display()))?
    {
        let mut entry = entry.with_context(|| format!("{}: damaged", args.file.display()))?;
        let name = entry
            .path()
            .ok()
            .and_then(|p| p.to_str().map(str::to_owned))
            .unwrap_or_default();
        match name.strip_prefix(ROOT).and_then(|n| n.strip_prefix('/')) {
            Some(MANIFEST) => {
                let mut text = String::new();
                entry.read_to_string(&mut text)?;
                manifest =
                    Some(serde_json::from_str(&text).with_context(|| {
                        format!("{}: unreadable {MANIFEST}", args.file.display())
                    })?);
            }
            Some(CONFIG) => {
                let mut text = String::new();
                entry.read_to_string(&mut text)?;
                config_text = Some(text);
            }
            Some(DATABASE) => {
                let path = data.join(DATABASE);
                let mut out = create_private(&path)?;
                std::io::copy(&mut entry, &mut out)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                out.sync_all()?;
                have_db = true;
            }
            _ => bail!(
                "{}: unexpected member {name:?}: not a Shieldwall backup",
                args.file.display()
            ),
        }
    }
    let manifest = manifest.context("the backup has no manifest")?;
    if manifest["format"] != FORMAT {
        bail!("unknown backup format {}", manifest["format"]);
    }
    let (Some(config_text), true) = (config_text, have_db) else {
        bail!("the backup lacks its configuration or its database");
    };
    let folder = PathBuf::from(manifest["config_folder"].as_str().unwrap_or_default());
    let restored = restored_config(&config_text, &folder)?;
    let db = data.join(DATABASE);
    super::serve::runtime()?.block_on(shieldwall::store::snapshot::sqlite_integrity_check(&db))?;
    let config_path = args.into.join(CONFIG);
    shieldwall::files::write_private(&config_path, restored.as_bytes())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    // The restored configuration must load as it is.
    config::load(&config_path, &[])
        .with_context(|| format!("the restored {} does not load", config_path.display()))?;
    println!(
        "shieldwall: restored {} object versions into {}; run: shieldwall serve --config {}",
        manifest["object_versions"],
        args.into.display(),
        config_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The SQLite file of a database URL, `None` for PostgreSQL.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    Some(PathBuf::from(rest.split_once('?').map_or(rest, |(f, _)| f)))
}

/// The configuration text for a restored node: data in `data/` beside it, the database there,
/// and the other files it names (TLS, peers' certificates) where they were.
fn restored_config(text: &str, original_folder: &Path) -> anyhow::Result<String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .context("the backed-up configuration is not TOML")?;
    let absolute = |item: &mut toml_edit::Item| {
        if let Some(p) = item.as_str()
            && Path::new(p).is_relative()
        {
            *item = toml_edit::value(original_folder.join(p).display().to_string());
        }
    };
    if doc.get("server").is_none() {
        doc["server"] = toml_edit::table();
    }
    if let Some(server) = doc["server"].as_table_like_mut() {
        server.insert("data_dir", toml_edit::value("data"));
        server.remove("database");
        for key in ["tls_cert", "tls_key", "tls_client_ca"] {
            if let Some(item) = server.get_mut(key) {
                absolute(item);
            }
        }
    }
    if let Some(peers) = doc
        .get_mut("peers")
        .and_then(|p| p.as_array_of_tables_mut())
    {
        for peer in peers.iter_mut() {
            for key in ["ca_cert", "client_cert", "client_key"] {
                if let Some(item) = peer.get_mut(key) {
                    absolute(item);
                }
            }
        }
    }
    Ok(doc.to_string())
}

fn write_tar(
    path: &Path,
    manifest: &serde_json::Value,
    config_text: &[u8],
    db: &Path,
) -> anyhow::Result<()> {
    let file = create_private(path)?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let header = |size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o600);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        h
    };
    let manifest = serde_json::to_vec_pretty(manifest)?;
    tar.append_data(
        &mut header(manifest.len() as u64),
        format!("{ROOT}/{MANIFEST}"),
        manifest.as_slice(),
    )?;
    tar.append_data(
        &mut header(config_text.len() as u64),
        format!("{ROOT}/{CONFIG}"),
        config_text,
    )?;
    let db_file =
        std::fs::File::open(db).with_context(|| format!("cannot read {}", db.display()))?;
    let size = db_file.metadata()?.len();
    tar.append_data(&mut header(size), format!("{ROOT}/{DATABASE}"), db_file)?;
    let mut w = tar.into_inner()?;
    w.flush()?;
    let file = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error()))?;
    file.sync_all()?;
    Ok(())
}

/// A new file, 0600, that must not exist.
fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// Makes an existing file 0600 (SQLite creates the `VACUUM INTO` copy with the umask's mode).
fn restrict(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Removes a working folder when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
