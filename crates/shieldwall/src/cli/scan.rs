//! `shieldwall scan`: matches logs (ECS JSON lines, Suricata EVE, Zeek TSV, CSV; plain, gzip,
//! standard input or directories) against STIX indicators.
//!
//! This module parses the arguments, loads and compiles the indicators, and prints; the scan
//! loop itself is the library's `services::scan::scan` (`crates/hub/src/services/scan/mod.rs`),
//! which hands each hit to sinks: `HitWriter` prints it (text or `--json`) and `HitAggregator`
//! keeps it for sightings. Progress and malformed lines come back as events, shown here above
//! the progress bar. The compiled set sits behind an `ArcSwap`: with `--reload-indicators` a
//! watcher thread recompiles when an indicator file changes and the scan takes the new set up
//! between batches, without locking.
//!
//! Hits are aggregated per indicator into STIX sightings (count, first and last time) for
//! `--sightings FILE` and `--report C`, which stores them in a collection of the local store
//! (through the one write path) or posts them to a remote hub over TAXII (the sync client):
//! the aggregation and the sinks are the library's `services::sightings`.
//!
//! Exit status as grep: 0 some hit, 1 no hit, 2 an error (an unreadable log or indicator file,
//! a refused report; malformed lines are reported and do not count as errors).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use matcher::{CompileOptions, Compiled, Indicator, ProblemKind};
use telemetry::{FieldMap, Format};

use shieldwall::services::scan::{
    self as service, HitWriter, ScanEvent, ScanObserver, ScanOptions,
    input::{self, Input},
};
use shieldwall::services::sightings::{
    CollectionSink, Delivered, FileSink, HitAggregator, HitSink, RemoteSink,
};

use super::latest::{self, Withdrawals};

/// Arguments of `shieldwall scan`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// STIX document(s) holding the indicators (a bundle, an array of objects or a TAXII
    /// envelope). Repeatable.
    #[arg(
        long = "indicators",
        value_name = "FILE",
        required_unless_present = "collection"
    )]
    indicators: Vec<PathBuf>,
    /// Use the indicators of this hub collection (id or alias) that the member may see.
    #[arg(long, value_name = "C", conflicts_with = "indicators")]
    collection: Option<String>,
    /// The scanning member (for `--collection` and `--report`; default: the only member
    /// configured). Its identity is the sightings' `where_sighted_refs`.
    #[arg(long = "as", value_name = "MEMBER")]
    as_member: Option<String>,
    /// The hub configuration (for `--collection`, a local `--report`, and the member's identity).
    #[arg(long, default_value = "shieldwall.toml")]
    config: PathBuf,
    /// Log format; `auto` tells Zeek, EVE, ECS JSON and CSV apart from each file's first line.
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    format: LogFormat,
    /// Extra or replacement names for ECS JSON and CSV: `source=ecs.field,…`
    /// (e.g. `src=source.ip,ts=@timestamp`).
    #[arg(long, value_name = "SPEC")]
    field_map: Option<String>,
    /// Retro-hunt: only indicators added after this time (RFC 3339): the hub's `date_added`
    /// with `--collection`; for files the indicator's `modified` (else `created`) stands for it.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Judge `valid_from`/`valid_until` at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME", conflicts_with = "any_time")]
    at: Option<String>,
    /// Ignore `valid_from`/`valid_until` (revoked indicators are still skipped).
    #[arg(long)]
    any_time: bool,
    /// Print one JSON object per hit and line on standard output (the summary goes to stderr).
    #[arg(long)]
    json: bool,
    /// Keep the compiled indicators in this file: a later scan of the same indicator files
    /// with the same options reads them from it instead of compiling (it is compiled again
    /// and replaced when an indicator file changed, or when an indicator's validity began or
    /// ended since). A file that is not such a cache, or is damaged, is refused and left alone.
    #[arg(long, value_name = "FILE", conflicts_with = "collection")]
    cache: Option<PathBuf>,
    /// Recompile and swap in the indicators when an indicator file changes during the scan.
    #[arg(long, conflicts_with = "collection")]
    reload_indicators: bool,
    /// Sightings: to a file, or reported into a collection.
    #[command(flatten)]
    report: Box<ReportArgs>,
    /// Treat domain equality indicators (`[domain-name:value = 'evil.example']`, or `IN`) as
    /// covering every subdomain (`a.evil.example`); such hits say `subdomain`. Without it, `=`
    /// is exact, as STIX defines it.
    #[arg(long)]
    subdomains: bool,
    /// Warninglists: indicators' values too broad or known-good raise no hit (or an
    /// "inform only" one).
    #[command(flatten)]
    warninglists: super::warninglists::WarninglistArgs,
    /// How many malformed lines to report per file before only counting them.
    #[arg(long, default_value_t = 20, value_name = "N")]
    max_line_errors: u64,
    /// Threads reading and matching the logs (default: one per core). A large file is cut into
    /// blocks of lines; hits come out in the same order whatever the number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// Logs: files, gzip files, directories, or `-` for standard input.
    #[arg(required = true, value_name = "LOG")]
    logs: Vec<PathBuf>,
}

/// What `scan` does with its hits besides printing them: STIX sightings.
#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// Write the hits as STIX 2.1 sightings (one per indicator: count, first_seen, last_seen)
    /// in a bundle to this file.
    #[arg(long, value_name = "FILE")]
    sightings: Option<PathBuf>,
    /// Report the hits as STIX 2.1 sightings (one per indicator) into this collection (id or
    /// alias) of the local hub store (`--config`, published as `--as`), or, with `--to`, of a
    /// remote hub over TAXII 2.1 (give the collection id).
    #[arg(id = "report", long = "report", value_name = "COLLECTION")]
    collection: Option<String>,
    /// The remote hub's API root URL for `--report`, e.g. `http://hub.example:8443/coalition`.
    #[arg(long, value_name = "URL", requires = "report")]
    to: Option<String>,
    /// User name for HTTP Basic on `--to`; the password is read from the environment variable
    /// named by `--password-env`.
    #[arg(long, value_name = "USER", requires = "to")]
    user: Option<String>,
    /// The environment variable holding the password for `--user`.
    #[arg(long, value_name = "VAR", default_value = "SHIELDWALL_PASSWORD")]
    password_env: String,
    /// The environment variable holding an API key (bearer token) for `--to`.
    #[arg(long, value_name = "VAR", requires = "to", conflicts_with = "user")]
    token_env: Option<String>,
    /// The scanning member's identity (`identity--…`): the sightings' `where_sighted_refs`
    /// (default: the identity of the member `--as` in `--config`).
    #[arg(long, value_name = "ID")]
    identity: Option<String>,
    /// TLP of the sightings (clear, green, amber, amber+strict, red).
    #[arg(long, default_value = "amber", value_name = "LEVEL")]
    tlp: String,
    /// Put what was observed into the sightings (observed data of up to 10 records per
    /// indicator); by default no log content leaves in a sighting.
    #[arg(long)]
    include_observed: bool,
}

/// A log format, or `None` for `auto`.
#[derive(Debug, Clone, Copy)]
struct LogFormat(Option<Format>);

fn parse_format(s: &str) -> Result<LogFormat, String> {
    if s == "auto" {
        Ok(LogFormat(None))
    } else {
        s.parse().map(|f| LogFormat(Some(f)))
    }
}

fn parse_time(what: &str, s: &str) -> anyhow::Result<i64> {
    telemetry::time::parse_timestamp(s)
        .with_context(|| format!("{what} {s:?} is not a time (expected e.g. 2024-05-01T00:00:00Z)"))
}

/// Indicators to compile or export: the latest version of each, and what was withdrawn.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) indicators: Vec<Indicator>,
    pub(crate) withdrawals: Withdrawals,
}

/// Reads the indicators of STIX documents, keeping only the latest version of each id across
/// all of them (an older version never stands in for a newer one: see [`super::latest`]),
/// printing problems with single objects. The documents are streamed: one object at a time.
pub(crate) fn load_indicators(files: &[PathBuf]) -> anyhow::Result<Loaded> {
    type Read = (matcher::VersionKey, usize, Result<Indicator, String>);
    let mut loaded = Loaded::default();
    let mut order: Vec<String> = Vec::new();
    let mut latest: std::collections::HashMap<String, Read> = std::collections::HashMap::new();
    latest::for_each_object(files, |n, o| {
        if o.get("type").and_then(serde_json::Value::as_str) != Some("indicator") {
            return Ok(());
        }
        let Some(id) = o.get("id").and_then(serde_json::Value::as_str) else {
            eprintln!(
                "{}: warning: an indicator without an `id`",
                files[n].display()
            );
            return Ok(());
        };
        let key = latest::matcher_key(o);
        let read = || -> Result<Indicator, String> {
            match Indicator::from_stix(o) {
                Ok(Some(i)) => Ok(i),
                Ok(None) => Err(format!("{id}: not an indicator")),
                Err(e) => Err(e.to_string()),
            }
        };
        match latest.get_mut(id) {
            Some(held) => {
                loaded.withdrawals.superseded += 1;
                if key > held.0 {
                    *held = (key, n, read());
                }
            }
            None => {
                order.push(id.to_owned());
                latest.insert(id.to_owned(), (key, n, read()));
            }
        }
        Ok(())
    })?;
    for id in order {
        match latest.remove(&id) {
            Some((_, _, Ok(i))) => loaded.indicators.push(i),
            Some((_, n, Err(e))) => eprintln!("{}: warning: {e}", files[n].display()),
            None => {}
        }
    }
    Ok(loaded)
}

/// The latest version of every indicator of a hub collection that `member` may see (the access
/// policy applies as over TAXII), withdrawing those whose collection holds a later version the
/// member may not see; `added` is the store's `date_added`.
pub(crate) fn indicators_from_collection(
    config: &std::path::Path,
    collection: &str,
    member: Option<&str>,
) -> anyhow::Result<Loaded> {
    let mut out = Vec::new();
    let withdrawals = each_collection_indicator(config, collection, member, &mut |i| out.push(i))?;
    Ok(Loaded {
        indicators: out,
        withdrawals,
    })
}

/// Hands `f` the latest version of every indicator of a hub collection that `member` may see,
/// page by page (see [`indicators_from_collection`]); returns what was withdrawn.
fn each_collection_indicator(
    config: &std::path::Path,
    collection: &str,
    member: Option<&str>,
    f: &mut dyn FnMut(Indicator),
) -> anyhow::Result<Withdrawals> {
    super::serve::runtime()?.block_on(async {
        let node = super::node::Node::open_existing(config).await?;
        let coll = node.collection(collection)?.clone();
        let principal = node.principal(member, shieldwall::config::Role::Reader, "cli:scan")?;
        if !shieldwall::policy::can_read(&principal, &coll) {
            bail!(
                "member `{}` may not read collection {}",
                principal.member,
                coll.id
            );
        }
        let mut withdrawals = Withdrawals::default();
        latest::for_each_latest(
            &node.store,
            &coll.id,
            shieldwall::policy::Pushdown::for_principal(&principal, &node.coalition),
            &["indicator"],
            &mut withdrawals,
            |r| {
                let Some(json) = r.json.as_deref() else {
                    return Ok(());
                };
                let v: serde_json::Value = serde_json::from_str(json)
                    .with_context(|| format!("stored object {} is not JSON", r.row))?;
                match Indicator::from_stix(&v) {
                    Ok(Some(mut i)) => {
                        i.added = r.date_added_us.checked_mul(1000);
                        f(i);
                    }
                    Ok(None) => {}
                    Err(e) => eprintln!("{}: warning: {e}", coll.id),
                }
                Ok(())
            },
        )
        .await?;
        Ok(withdrawals)
    })
}

/// Indicators handed from the reading thread to the compiling one, in the order read: those
/// read by [`latest::read_fast`] as ranges of one text buffer, the others owned.
#[derive(Debug, Default)]
struct Batch {
    text: String,
    order: Vec<Slot>,
    owned: Vec<Owned>,
}

/// An indicator read by the general reader: its file, its key, and the indicator or its id
/// and why it cannot be read.
type Owned = (
    usize,
    matcher::VersionKey,
    Result<Indicator, (Option<String>, String)>,
);

#[derive(Debug)]
enum Slot {
    Fast(FastSlot),
    /// The next of [`Batch::owned`].
    Owned,
}

/// An indicator's fields as ranges of [`Batch::text`].
#[derive(Debug)]
struct FastSlot {
    key: matcher::VersionKey,
    id: std::ops::Range<usize>,
    name: Option<std::ops::Range<usize>>,
    pattern: std::ops::Range<usize>,
    pattern_type: std::ops::Range<usize>,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
    revoked: bool,
    added: Option<i64>,
}

impl Batch {
    fn clear(&mut self) {
        self.text.clear();
        self.order.clear();
        self.owned.clear();
    }

    fn put(&mut self, s: &str) -> std::ops::Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    fn push(&mut self, key: matcher::VersionKey, i: &matcher::IndicatorRef<'_>) {
        let slot = FastSlot {
            key,
            id: self.put(i.id),
            name: i.name.map(|n| self.put(n)),
            pattern: self.put(i.pattern),
            pattern_type: self.put(i.pattern_type),
            valid_from: i.valid_from,
            valid_until: i.valid_until,
            revoked: i.revoked,
            added: i.added,
        };
        self.order.push(Slot::Fast(slot));
    }

    fn view(&self, f: &FastSlot) -> matcher::IndicatorRef<'_> {
        let t = |r: &std::ops::Range<usize>| self.text.get(r.clone()).unwrap_or("");
        matcher::IndicatorRef {
            id: t(&f.id),
            name: f.name.as_ref().map(t),
            pattern: t(&f.pattern),
            pattern_type: t(&f.pattern_type),
            valid_from: f.valid_from,
            valid_until: f.valid_until,
            revoked: f.revoked,
            added: f.added,
        }
    }
}

/// Where the indicators come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Files(Vec<PathBuf>),
    Collection {
        config: PathBuf,
        collection: String,
        member: Option<String>,
    },
}

impl Source {
    /// Streams the indicators into `compiler`: from files every version (the compiler keeps
    /// the latest of each id), from a collection the latest version the member may use.
    /// Returns what was withdrawn.
    fn feed(&self, compiler: &mut matcher::Compiler, quiet: bool) -> anyhow::Result<Withdrawals> {
        match self {
            Source::Files(files) => {
                // Two stages on two threads: this one compiles while the other splits the
                // files and reads the objects, handing over batches of indicators whose text is
                // in one buffer per batch (no allocation per indicator); the emptied batches
                // come back to be filled again.
                const BATCH: usize = 1024;
                let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(8);
                let (back, spare) = std::sync::mpsc::channel::<Batch>();
                std::thread::scope(|scope| {
                    let reader = scope.spawn(move || {
                        let mut times = latest::Times::default();
                        let mut batch = Batch::default();
                        latest::for_each_raw_object(files, |n, raw, line, column| {
                            if let Some(read) = latest::read_fast(raw, &mut times) {
                                if let latest::FastRead::Indicator(key, i) = read {
                                    batch.push(key, &i);
                                }
                            } else {
                                let read = latest::read_indicator(raw).map_err(|e| {
                                    let e = e.shifted(line, column);
                                    anyhow::anyhow!(
                                        "{}:{}:{}: not JSON: {}",
                                        files[n].display(),
                                        e.line,
                                        e.column,
                                        e.message
                                    )
                                })?;
                                if let latest::ReadObject::Indicator(key, read) = read {
                                    batch.owned.push((n, key, read));
                                    batch.order.push(Slot::Owned);
                                }
                            }
                            if batch.order.len() >= BATCH {
                                let mut next = spare.try_recv().unwrap_or_default();
                                next.clear();
                                let full = std::mem::replace(&mut batch, next);
                                // The compiling side hung up: it stopped on its own error.
                                if tx.send(full).is_err() {
                                    bail!("the compiler stopped");
                                }
                            }
                            Ok(())
                        })?;
                        if !batch.order.is_empty() {
                            let _ = tx.send(batch);
                        }
                        Ok::<(), anyhow::Error>(())
                    });
                    for mut batch in rx {
                        let mut owned = std::mem::take(&mut batch.owned).into_iter();
                        for slot in &batch.order {
                            match slot {
                                Slot::Fast(f) => compiler.add_version_ref(&batch.view(f), f.key),
                                Slot::Owned => match owned.next() {
                                    Some((_, key, Ok(i))) => compiler.add_version(&i, key),
                                    Some((n, key, Err((id, e)))) => {
                                        if !quiet {
                                            eprintln!("{}: warning: {e}", files[n].display());
                                        }
                                        if let Some(id) = id.filter(|id| !id.is_empty()) {
                                            compiler.add_unusable_version(&id, key);
                                        }
                                    }
                                    None => {}
                                },
                            }
                        }
                        // The reader may be gone already: the batch is then dropped.
                        let _ = back.send(batch);
                    }
                    reader
                        .join()
                        .map_err(|_| anyhow::anyhow!("the indicator reader failed"))?
                })?;
                Ok(Withdrawals::default())
            }
            Source::Collection {
                config,
                collection,
                member,
            } => each_collection_indicator(config, collection, member.as_deref(), &mut |i| {
                compiler.add(&i)
            }),
        }
    }
}

/// How a compiled set is kept between runs: `--cache FILE` and what the file is keyed on.
struct Cache<'a> {
    path: &'a std::path::Path,
    /// The identity of the indicator files, the options and the warninglists.
    key: Vec<u8>,
}

/// The identity of what a compiled set is compiled from: this build, the compile options (not
/// the scan time: the set says for which times it holds), the warninglists, and for each
/// indicator file its canonical path, device, inode, size and modification time (to the
/// nanosecond). A file changed in any way that shows in its metadata makes the cache stale.
fn cache_key(files: &[PathBuf], opts: &CompileOptions, lists: &str) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::fs::MetadataExt;
    let mut k = format!(
        "shieldwall {} matcher-layout {}\nat {}\nadded_after {:?}\nsubdomains {}\nwarninglists {lists}\n",
        env!("CARGO_PKG_VERSION"),
        matcher::flat::FORMAT_VERSION,
        if opts.at.is_some() {
            "scan time"
        } else {
            "any"
        },
        opts.added_after,
        opts.subdomains,
    );
    for f in files {
        let canon =
            std::fs::canonicalize(f).with_context(|| format!("cannot read {}", f.display()))?;
        let m =
            std::fs::metadata(&canon).with_context(|| format!("cannot read {}", f.display()))?;
        k.push_str(&format!(
            "file {} dev {} ino {} size {} mtime {}.{:09}\n",
            canon.display(),
            m.dev(),
            m.ino(),
            m.len(),
            m.mtime(),
            m.mtime_nsec()
        ));
    }
    Ok(k.into_bytes())
}

/// Reads a cached set: `Ok(None)` when there is none or it is stale (another source, other
/// options, or a scan time at which other indicators are active); an error when the file is
/// not a compiled set this build reads, or is damaged — it is then left alone, never
/// overwritten.
fn read_cache(
    cache: &Cache<'_>,
    at: Option<i64>,
    lists: &Arc<matcher::warninglist::Warninglists>,
    quiet: bool,
) -> anyhow::Result<Option<Compiled>> {
    // Read once, straight into the set's tables (never the whole file in memory first).
    let file = match std::fs::File::open(cache.path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", cache.path.display())),
    };
    let len = file
        .metadata()
        .with_context(|| format!("cannot read {}", cache.path.display()))?
        .len();
    let mut input = io::BufReader::with_capacity(1 << 16, file);
    let refuse = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "--cache {}: refused: {e}; it is left as it is (remove it, or name another file, to compile anew)",
            cache.path.display()
        )
    };
    let stale = |why: &str| {
        if !quiet {
            eprintln!(
                "shieldwall scan: --cache {}: {why}: compiling again",
                cache.path.display()
            );
        }
    };
    let head = match matcher::flat::read_head(&mut input, len) {
        Ok(h) => h,
        // A set of another layout (an older build's): replaced like a stale one.
        Err(matcher::FlatError::Version { found }) => {
            stale(&format!("written in layout version {found}"));
            return Ok(None);
        }
        Err(e) => return Err(refuse(&e)),
    };
    if head.key != cache.key.as_slice() {
        // Replaced only when it is whole: a damaged file is refused and left alone.
        head.check_rest().map_err(|e| refuse(&e))?;
        stale("compiled from other indicator files or options");
        return Ok(None);
    }
    let notes = head.notes.clone();
    let set = Compiled::read_rest(head, Some(Arc::clone(lists))).map_err(|e| refuse(&e))?;
    if let Some(at) = at
        && !set.same_at(at)
    {
        stale("some indicator's validity begins or ends between then and now");
        return Ok(None);
    }
    if !quiet {
        eprint!("{}", String::from_utf8_lossy(&notes));
        eprintln!(
            "shieldwall scan: {} indicators read from --cache {}",
            set.len(),
            cache.path.display()
        );
    }
    Ok(Some(set))
}

/// Writes the set beside the cache file and renames it into place (readers see the old file
/// or the new one, whole), readable by its owner only: it holds the indicators' values.
fn write_cache(cache: &Cache<'_>, set: &Compiled, notes: &str) -> anyhow::Result<u64> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = cache.path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    // The set's bytes go to the file block by block: never all in memory at once.
    let write = || -> io::Result<u64> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let n = set.write_bytes(&cache.key, notes.as_bytes(), &mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, cache.path)?;
        Ok(n)
    };
    match write() {
        Ok(n) => Ok(n),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e).with_context(|| format!("--cache: cannot write {}", cache.path.display()))
        }
    }
}

/// Compiles the indicators of `source`, or reads them from `--cache` (the file and the
/// warninglists' fingerprint) when it holds them compiled as they are now.
fn compile_set(
    source: &Source,
    opts: &CompileOptions,
    lists: &Arc<matcher::warninglist::Warninglists>,
    cache: Option<(&std::path::Path, &str)>,
    quiet: bool,
) -> anyhow::Result<Compiled> {
    let cache = match (cache, source) {
        (Some((path, fingerprint)), Source::Files(files)) => Some(Cache {
            path,
            key: cache_key(files, opts, fingerprint)?,
        }),
        _ => None,
    };
    let cache = cache.as_ref();
    if let Some(cache) = cache
        && let Some(set) = read_cache(cache, opts.at, lists, quiet)?
    {
        return Ok(set);
    }
    let mut compiler = matcher::Compiler::new(*opts).with_warninglists(Arc::clone(lists));
    let mut withdrawals = source.feed(&mut compiler, quiet)?;
    let (compiled, report) = compiler.finish();
    withdrawals.superseded += report.superseded;
    // What a run that reads the set from the cache prints again.
    let mut notes = String::new();
    for p in &report.problems {
        let level = match p.kind {
            ProblemKind::InvalidPattern | ProblemKind::BadIndicator => "error",
            _ => "note",
        };
        notes.push_str(&format!("{}: {level}: {}\n", p.indicator, p.message));
    }
    let mut skipped = Vec::new();
    for (n, what) in [
        (report.revoked, "revoked"),
        (report.inactive, "not valid at the scan time"),
        (report.not_added_since, "not added since --since"),
        (report.not_stix, "not STIX patterns"),
        (report.suppressed, "on warninglists"),
    ] {
        if n > 0 {
            skipped.push(format!("{n} {what}"));
        }
    }
    let summary = format!(
        "shieldwall scan: {} indicators compiled{}; {}\n",
        report.compiled,
        if skipped.is_empty() {
            String::new()
        } else {
            format!(" (skipped: {})", skipped.join(", "))
        },
        withdrawals.summary()
    );
    if !quiet {
        eprint!("{notes}");
        withdrawals.print_named("shieldwall scan");
        eprint!("{summary}");
    }
    if let Some(cache) = cache {
        notes.push_str(&summary);
        let n = write_cache(cache, &compiled, &notes)?;
        if !quiet {
            eprintln!(
                "shieldwall scan: compiled set written to --cache {} ({:.1} MB)",
                cache.path.display(),
                n as f64 / 1e6
            );
        }
    }
    Ok(compiled)
}

/// The scan's diagnostics on standard error (above the progress bar), its progress on the bar.
struct Shown<'a> {
    bar: &'a ProgressBar,
}

impl ScanObserver for Shown<'_> {
    fn event(&mut self, event: ScanEvent<'_>) {
        match event {
            ScanEvent::OpenFailed { error, .. } => eprintln!("shieldwall scan: error: {error}"),
            ScanEvent::ReadFailed { file, line, error } => {
                eprintln!("{file}:{line}: error: cannot read: {error}");
            }
            ScanEvent::Malformed {
                file,
                line,
                message,
            } => self
                .bar
                .suspend(|| eprintln!("{file}:{line}: malformed line: {message}")),
            ScanEvent::MalformedNotShown { file, count } => {
                eprintln!("{file}: {count} more malformed lines not shown");
            }
            ScanEvent::Progress { bytes } => self.bar.set_position(bytes),
        }
    }
}

fn progress_bar(len: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn mtimes(files: &[PathBuf]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

/// The identity of the sightings: `--identity`, else that of the member `--as` (or the only
/// member) in `--config`.
fn reporting_identity(args: &Args) -> anyhow::Result<String> {
    if let Some(id) = &args.report.identity {
        return Ok(id.clone());
    }
    let checked = shieldwall::config::load(
        &args.config,
        &shieldwall::config::process_env(),
    )
    .with_context(|| {
        "sightings need the scanning member's identity: give --identity identity--… or a --config naming the member (--as)"
    })?;
    let coalition = shieldwall::coalition::Coalition::from_config(&checked);
    let member = match &args.as_member {
        Some(m) => coalition
            .members
            .get(m)
            .with_context(|| format!("no member `{m}` in {}", args.config.display()))?,
        None if coalition.members.len() == 1 => coalition
            .members
            .values()
            .next()
            .context("no member configured")?,
        None => bail!(
            "several members are configured in {}: say which is scanning with --as MEMBER (or give --identity)",
            args.config.display()
        ),
    };
    Ok(member.identity.clone())
}

/// Delivers the sightings to a collection of the local hub store, as a TAXII POST would
/// (the one write path, [`shieldwall::publish`]).
fn report_local(
    args: &Args,
    collection: &str,
    objects: Vec<serde_json::Value>,
) -> anyhow::Result<Delivered> {
    super::serve::runtime()?.block_on(async {
        let node = super::node::Node::open(&args.config).await?;
        let coll = node.collection(collection)?.clone();
        let principal = node.principal(
            args.as_member.as_deref(),
            shieldwall::config::Role::Contributor,
            "cli:scan",
        )?;
        let mut sink = CollectionSink {
            store: node.store.clone(),
            coalition: node.coalition.clone(),
            principal,
            collection: coll,
            limits: node.limits,
        };
        Ok(sink.deliver(objects).await?)
    })
}

/// Posts the sightings to a remote hub's collection over TAXII 2.1.
fn report_remote(
    args: &Args,
    url: &str,
    collection: &str,
    objects: Vec<serde_json::Value>,
) -> anyhow::Result<Delivered> {
    let url = url.trim_end_matches('/');
    let (base, root) = match url.rsplit_once('/') {
        Some((b, r)) if b.contains("://") && !b.ends_with('/') && !r.is_empty() => (b, r),
        _ => bail!(
            "--to {url:?}: give the API root URL (http://host:port/API-ROOT, e.g. http://127.0.0.1:8443/coalition)"
        ),
    };
    let mut peer = serde_json::json!({
        "name": "report",
        "url": base,
        "api_root": root,
        "member": args.as_member.clone().unwrap_or_default(),
    });
    if let Some(u) = &args.report.user {
        peer["username"] = u.clone().into();
        peer["password_env"] = args.report.password_env.clone().into();
    }
    if let Some(t) = &args.report.token_env {
        peer["token_env"] = t.clone().into();
    }
    let peer: shieldwall::config::PeerConfig =
        serde_json::from_value(peer).context("--to: cannot describe the remote hub")?;
    let client = shieldwall::sync::client::TaxiiClient::new(&peer, &|v| std::env::var(v).ok())?;
    let mut sink = RemoteSink {
        client,
        collection: collection.to_owned(),
    };
    super::serve::runtime()?.block_on(async { Ok(sink.deliver(objects).await?) })
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let opts = CompileOptions {
        at: if args.any_time {
            None
        } else {
            Some(match &args.at {
                Some(t) => parse_time("--at", t)?,
                None => now,
            })
        },
        added_after: args
            .since
            .as_deref()
            .map(|t| parse_time("--since", t))
            .transpose()?,
        subdomains: args.subdomains,
    };
    let tlp = stix::tlp::TlpLevel::parse(&args.report.tlp).with_context(|| {
        format!(
            "--tlp {:?}: expected clear, green, amber, amber+strict or red",
            args.report.tlp
        )
    })?;
    if let Some(id) = &args.report.identity
        && !(id.starts_with("identity--")
            && uuid::Uuid::parse_str(&id["identity--".len()..]).is_ok())
    {
        bail!("--identity {id:?} is not an identity id (identity--<UUID>)");
    }
    if args.report.include_observed
        && args.report.sightings.is_none()
        && args.report.collection.is_none()
    {
        bail!("--include-observed needs --sightings FILE or --report COLLECTION");
    }
    // Resolved before the scan, so that a report that cannot be made fails early.
    let identity = if args.report.sightings.is_some() || args.report.collection.is_some() {
        Some(reporting_identity(&args)?)
    } else {
        None
    };
    let reporting = identity.is_some();
    let mut seen = HitAggregator::new(args.report.include_observed);
    let map = match &args.field_map {
        Some(spec) => {
            let mut m = FieldMap::ecs();
            m.extend_from_spec(spec).context("--field-map")?;
            Some(m)
        }
        None => None,
    };
    let source = match &args.collection {
        Some(c) => Source::Collection {
            config: args.config.clone(),
            collection: c.clone(),
            member: args.as_member.clone(),
        },
        None => Source::Files(args.indicators.clone()),
    };
    let inputs = input::expand(&args.logs)?;
    if inputs.is_empty() {
        bail!("no log files found in the paths given");
    }
    let lists = args.warninglists.load("shieldwall scan")?;
    let fingerprint = match &args.cache {
        Some(_) => args.warninglists.fingerprint()?,
        None => String::new(),
    };
    let cache = args.cache.as_deref().map(|p| (p, fingerprint.as_str()));
    let set = Arc::new(ArcSwap::from_pointee(compile_set(
        &source, &opts, &lists, cache, false,
    )?));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = if args.reload_indicators {
        let (set, stop) = (Arc::clone(&set), Arc::clone(&stop));
        let files = args.indicators.clone();
        let source = source.clone();
        let lists = Arc::clone(&lists);
        let cache_path = args.cache.clone();
        let fingerprint = fingerprint.clone();
        Some(std::thread::spawn(move || {
            let mut seen = mtimes(&files);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let now = mtimes(&files);
                if now != seen {
                    seen = now;
                    let cache = cache_path.as_deref().map(|p| (p, fingerprint.as_str()));
                    match compile_set(&source, &opts, &lists, cache, true) {
                        Ok(c) => {
                            eprintln!(
                                "shieldwall scan: indicators reloaded ({} compiled)",
                                c.len()
                            );
                            set.store(Arc::new(c));
                        }
                        Err(e) => eprintln!("shieldwall scan: reload failed: {e:#}"),
                    }
                }
            }
        }))
    } else {
        None
    };

    let total_len = inputs.iter().map(Input::size).sum::<Option<u64>>();
    let bar = progress_bar(total_len);
    let stdout = io::stdout();
    let mut out = HitWriter {
        w: io::BufWriter::with_capacity(1 << 16, stdout.lock()),
        json: args.json,
    };
    let scan_opts = ScanOptions {
        format: args.format.0,
        field_map: map,
        now,
        follow_swaps: args.reload_indicators,
        max_line_errors: args.max_line_errors,
        threads: args.threads.map_or(0, |n| n as usize),
    };
    let started = Instant::now();
    let result = service::scan(
        &inputs,
        &set,
        &scan_opts,
        &mut (reporting.then_some(&mut seen), &mut out),
        &mut Shown { bar: &bar },
    );
    stop.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        let _ = w.join();
    }
    let t = result?;
    let mut broken_pipe = t.broken_pipe;
    bar.finish_and_clear();
    if let Err(e) = out.w.flush() {
        if e.kind() == io::ErrorKind::BrokenPipe {
            broken_pipe = true;
        } else {
            return Err(e.into());
        }
    }
    if broken_pipe {
        return Ok(ExitCode::SUCCESS);
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "shieldwall scan: {} files, {} lines, {} records, {} malformed, {} hits; {:.1} MB in {:.2} s ({:.1} MB/s)",
        t.files,
        t.lines,
        t.records,
        t.malformed,
        t.hits,
        t.bytes as f64 / 1e6,
        secs,
        t.bytes as f64 / 1e6 / secs
    );
    if let Some(identity) = &identity {
        let objects = seen.sightings(identity, tlp, now);
        if let Some(path) = &args.report.sightings {
            super::serve::runtime()?
                .block_on(FileSink { path: path.clone() }.deliver(objects.clone()))?;
            eprintln!(
                "shieldwall scan: {} sightings ({}) written to {}",
                seen.len(),
                tlp.name(),
                path.display()
            );
        }
        if let Some(collection) = &args.report.collection {
            // The TLP marking definitions are predefined: the sinks report only the
            // sightings (and observed data).
            let where_to = match &args.report.to {
                Some(u) => format!("{u} collection {collection}"),
                None => format!("collection {collection} of {}", args.config.display()),
            };
            if seen.is_empty() {
                eprintln!("shieldwall scan: no hits, no sightings reported to {where_to}");
            } else {
                let r = match &args.report.to {
                    Some(url) => report_remote(&args, url, collection, objects)?,
                    None => report_local(&args, collection, objects)?,
                };
                eprintln!(
                    "shieldwall scan: {} sightings ({}) reported to {where_to}: {} objects stored, {} already present, {} refused",
                    seen.len(),
                    tlp.name(),
                    r.stored,
                    r.already,
                    r.refused.len()
                );
                if !r.refused.is_empty() {
                    for f in &r.refused {
                        eprintln!("  refused {f}");
                    }
                    bail!("the hub refused part of the report");
                }
            }
        }
    }
    Ok(if t.errors > 0 {
        ExitCode::from(2)
    } else if t.hits > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
