//! `shieldwall scan`: matches logs (ECS JSON lines, Suricata EVE, Zeek TSV, CSV; plain, gzip,
//! standard input or directories) against STIX indicators.
//!
//! Everything is resolved before the loop (indicators compiled, readers chosen, output mode);
//! the loop reads a line, fills one reused record, probes the compiled matcher and prints the
//! hits. Counters are kept locally and flushed to the progress bar per batch. The compiled set
//! sits behind an `ArcSwap`: with `--reload-indicators` a watcher thread recompiles when an
//! indicator file changes and swaps the new set in between batches, without locking the scan.
//!
//! Hits are aggregated per indicator into STIX sightings (count, first and last time) for
//! `--sightings FILE` and `--report C`, which stores them in a collection of the local store
//! (through the import path) or posts them to a remote hub over TAXII (the sync client).
//!
//! Exit status as grep: 0 some hit, 1 no hit, 2 an error (an unreadable log or indicator file,
//! a refused report; malformed lines are reported and do not count as errors).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use matcher::{CompileOptions, Compiled, Hit, Indicator, ProblemKind, Scanner};
use telemetry::{FieldMap, Format, MAX_LINE, Reader, Record};

use super::latest::{self, Withdrawals};
use crate::telemetry_io::{self, Input, Line};

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
/// printing problems with single objects.
pub(crate) fn load_indicators(files: &[PathBuf]) -> anyhow::Result<Loaded> {
    let mut all: Vec<(usize, serde_json::Value)> = Vec::new();
    for (n, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!("{}:{}:{}: not JSON: {e}", f.display(), e.line(), e.column())
        })?;
        all.extend(
            latest::objects_of(doc)
                .into_iter()
                .filter(|o| o.get("type").and_then(serde_json::Value::as_str) == Some("indicator"))
                .map(|o| (n, o)),
        );
    }
    let mut loaded = Loaded::default();
    let latest = latest::latest_only(all, |(_, o)| o, &mut loaded.withdrawals.superseded);
    for (n, o) in latest {
        match Indicator::from_stix(&o) {
            Ok(Some(i)) => loaded.indicators.push(i),
            Ok(None) => {}
            Err(e) => eprintln!("{}: warning: {e}", files[n].display()),
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
        let mut loaded = Loaded::default();
        let mut out = Vec::new();
        latest::for_each_latest(
            &node.store,
            &coll.id,
            shieldwall::policy::Pushdown::for_principal(&principal, &node.coalition),
            &["indicator"],
            &mut loaded.withdrawals,
            |r| {
                let Some(json) = r.json.as_deref() else {
                    return Ok(());
                };
                let v: serde_json::Value = serde_json::from_str(json)
                    .with_context(|| format!("stored object {} is not JSON", r.row))?;
                match Indicator::from_stix(&v) {
                    Ok(Some(mut i)) => {
                        i.added = r.date_added_us.checked_mul(1000);
                        out.push(i);
                    }
                    Ok(None) => {}
                    Err(e) => eprintln!("{}: warning: {e}", coll.id),
                }
                Ok(())
            },
        )
        .await?;
        loaded.indicators = out;
        Ok(loaded)
    })
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
    pub(crate) fn load(&self) -> anyhow::Result<Loaded> {
        match self {
            Source::Files(f) => load_indicators(f),
            Source::Collection {
                config,
                collection,
                member,
            } => indicators_from_collection(config, collection, member.as_deref()),
        }
    }
}

fn compile_set(
    source: &Source,
    opts: &CompileOptions,
    lists: &Arc<matcher::warninglist::Warninglists>,
    quiet: bool,
) -> anyhow::Result<Compiled> {
    let loaded = source.load()?;
    let mut compiler = matcher::Compiler::new(*opts).with_warninglists(Arc::clone(lists));
    for ind in &loaded.indicators {
        compiler.add(ind);
    }
    let (compiled, report) = compiler.finish();
    if !quiet {
        for p in &report.problems {
            let level = match p.kind {
                ProblemKind::InvalidPattern | ProblemKind::BadIndicator => "error",
                _ => "note",
            };
            eprintln!("{}: {level}: {}", p.indicator, p.message);
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
        loaded.withdrawals.print_named("shieldwall scan");
        eprintln!(
            "shieldwall scan: {} indicators compiled{}; {}",
            report.compiled,
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" (skipped: {})", skipped.join(", "))
            },
            loaded.withdrawals.summary()
        );
    }
    Ok(compiled)
}

#[derive(Default)]
struct Totals {
    files: u64,
    lines: u64,
    records: u64,
    malformed: u64,
    hits: u64,
    errors: u64,
    bytes: u64,
}

struct Out<W: Write> {
    w: W,
    json: bool,
}

impl<W: Write> Out<W> {
    fn hit(
        &mut self,
        file: &str,
        line: u64,
        set: &Compiled,
        hit: &Hit,
        rec: &Record,
    ) -> io::Result<()> {
        let id = set.indicator_id(hit.indicator);
        let name = set.indicator_name(hit.indicator);
        let fv = set.hit_value(hit, rec);
        if self.json {
            let mut o = serde_json::json!({
                "file": file,
                "line": line,
                "indicator": id,
                "field": fv.map(|(f, _)| f.ecs_name()),
                "value": fv.map(|(_, v)| v),
            });
            if !name.is_empty() {
                o["name"] = name.into();
            }
            if let Some((f, _)) = fv {
                o["stix_path"] = f.stix_path().into();
            }
            if hit.subdomain {
                o["subdomain"] = true.into();
            }
            if hit.inform
                && let Some(f) = set.warninglist_finding(hit, rec)
            {
                o["warninglist"] =
                    serde_json::json!({"list": f.list, "policy": "inform", "reason": f.reason});
            }
            if let Some(t) = rec.timestamp() {
                o["time"] = telemetry::time::format_timestamp(t).into();
            }
            writeln!(self.w, "{o}")
        } else {
            write!(self.w, "{file}:{line}: {id}")?;
            if !name.is_empty() {
                write!(self.w, " {name}")?;
            }
            let sub = if hit.subdomain {
                " (subdomain of an indicated domain)"
            } else {
                ""
            };
            let inform = if hit.inform {
                " (inform only: on a warninglist)"
            } else {
                ""
            };
            match fv {
                Some((f, v)) => writeln!(self.w, " {f}={v}{sub}{inform}"),
                None => writeln!(self.w, " (the whole record)"),
            }
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

/// Hits of one indicator, for its sighting.
struct Seen {
    count: u64,
    first: i64,
    last: i64,
    kept: usize,
    observed: Vec<serde_json::Value>,
}

/// Observed data kept per indicator with `--include-observed`.
const OBSERVED_PER_INDICATOR: usize = 10;

fn stix_time(nanos: i64) -> String {
    telemetry::time::format_timestamp(nanos)
}

/// Gives generated observed data real ids: SCOs their deterministic UUIDv5 (STIX 2.1 §2.9,
/// computed after their references are rewritten), observed-data a fresh UUIDv4. A
/// `network-traffic` without `protocols` (which STIX requires) gets the address family of its
/// endpoints, the one protocol a log line with addresses always implies.
fn fresh_ids(objects: &mut [serde_json::Value]) {
    use serde_json::Value;
    fn rewrite(v: &mut Value, map: &std::collections::HashMap<String, String>) {
        match v {
            Value::String(s) => {
                if let Some(n) = map.get(s.as_str()) {
                    *s = n.clone();
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| rewrite(x, map)),
            Value::Object(o) => o.values_mut().for_each(|x| rewrite(x, map)),
            _ => {}
        }
    }
    let mut map = std::collections::HashMap::new();
    let mut families = std::collections::HashMap::new();
    for pass_sdo in [false, true] {
        for o in objects.iter_mut() {
            let is_sdo = o["type"] == "observed-data";
            if is_sdo != pass_sdo {
                continue;
            }
            let Some(old) = o.get("id").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            if let Some(m) = o.as_object_mut() {
                m.remove("id");
            }
            rewrite(o, &map);
            let t = o["type"].as_str().unwrap_or("x").to_owned();
            if matches!(t.as_str(), "ipv4-addr" | "ipv6-addr") {
                families.insert(old.clone(), if t == "ipv4-addr" { "ipv4" } else { "ipv6" });
            }
            if t == "network-traffic" && o.get("protocols").is_none() {
                let family = ["src_ref", "dst_ref"]
                    .iter()
                    .filter_map(|k| o.get(*k).and_then(Value::as_str))
                    .find_map(|r| {
                        map.iter()
                            .find(|(_, n)| *n == r)
                            .and_then(|(old, _)| families.get(old))
                    })
                    .copied()
                    .unwrap_or("ipv4");
                o["protocols"] = serde_json::json!([family]);
            }
            let new = match o.as_object() {
                Some(m) if !is_sdo => stix::id::deterministic_sco_id(m),
                _ => None,
            }
            .unwrap_or_else(|| format!("{t}--{}", uuid::Uuid::new_v4()));
            o["id"] = new.clone().into();
            map.insert(old, new);
        }
    }
}

/// The sightings of the hits (one per indicator) with their TLP marking definition first, then
/// any observed data (`--include-observed`).
fn build_sightings(
    seen: &std::collections::BTreeMap<String, Seen>,
    identity: &str,
    tlp: stix::tlp::TlpLevel,
    now: i64,
) -> Vec<serde_json::Value> {
    let mut objects = vec![tlp.marking_definition()];
    // SCOs have deterministic ids: the same address seen twice is one object.
    let mut emitted = std::collections::HashSet::new();
    for (indicator, s) in seen {
        let mut sighting = serde_json::json!({
            "type": "sighting",
            "spec_version": "2.1",
            "id": format!("sighting--{}", uuid::Uuid::new_v4()),
            "created": stix_time(now),
            "modified": stix_time(now),
            "created_by_ref": identity,
            "sighting_of_ref": indicator,
            "count": s.count.min(999_999_999),
            "first_seen": stix_time(s.first),
            "last_seen": stix_time(s.last.max(s.first)),
            "where_sighted_refs": [identity],
            "object_marking_refs": [tlp.marking_id()],
        });
        if !s.observed.is_empty() {
            let mut obs = s.observed.clone();
            fresh_ids(&mut obs);
            let refs: Vec<serde_json::Value> = obs
                .iter()
                .filter(|o| o["type"] == "observed-data")
                .map(|o| o["id"].clone())
                .collect();
            sighting["observed_data_refs"] = refs.into();
            for mut o in obs {
                o["object_marking_refs"] = serde_json::json!([tlp.marking_id()]);
                if emitted.insert(o["id"].as_str().unwrap_or("").to_owned()) {
                    objects.push(o);
                }
            }
        }
        objects.push(sighting);
    }
    objects
}

fn write_sightings(path: &std::path::Path, objects: &[serde_json::Value]) -> anyhow::Result<()> {
    let bundle = serde_json::json!({
        "type": "bundle",
        "id": format!("bundle--{}", uuid::Uuid::new_v4()),
        "objects": objects,
    });
    let text = serde_json::to_vec_pretty(&bundle)?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The identity of the sightings: `--identity`, else that of the member `--as` (or the only
/// member) in `--config`.
fn reporting_identity(args: &Args) -> anyhow::Result<String> {
    if let Some(id) = &args.report.identity {
        return Ok(id.clone());
    }
    let checked = shieldwall::config::Config::load(
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

/// What a report stored.
#[derive(Debug, Default)]
struct Reported {
    stored: u64,
    already: u64,
    refused: Vec<String>,
}

/// Stores the report in a collection of the local hub store, as a TAXII POST would.
fn report_local(
    args: &Args,
    collection: &str,
    objects: Vec<serde_json::Value>,
) -> anyhow::Result<Reported> {
    super::serve::runtime()?.block_on(async {
        let node = super::node::Node::open(&args.config).await?;
        let coll = node.collection(collection)?.clone();
        let principal = node.principal(
            args.as_member.as_deref(),
            shieldwall::config::Role::Contributor,
            "cli:scan",
        )?;
        if !shieldwall::policy::can_write(&principal, &coll) {
            bail!(
                "member `{}` may not write to collection {}",
                principal.member,
                coll.id
            );
        }
        let c = super::import::store_batch(&node, &coll, &principal, "local", objects).await?;
        Ok(Reported {
            stored: c.stored,
            already: c.already,
            refused: c.refusals,
        })
    })
}

/// Posts the report to a remote hub's collection over TAXII 2.1.
fn report_remote(
    args: &Args,
    url: &str,
    collection: &str,
    objects: &[serde_json::Value],
) -> anyhow::Result<Reported> {
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
    let texts: Vec<String> = objects.iter().map(|o| o.to_string()).collect();
    super::serve::runtime()?.block_on(async {
        let mut r = Reported::default();
        for chunk in texts.chunks(500) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let s = client.post_objects(collection, &refs).await?;
            r.stored += s.success;
            r.refused.extend(s.failures);
            if s.pending > 0 {
                r.refused
                    .push(format!("{} objects still pending on the hub", s.pending));
            }
        }
        Ok(r)
    })
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
    let mut seen: std::collections::BTreeMap<String, Seen> = std::collections::BTreeMap::new();
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
    let inputs = telemetry_io::expand(&args.logs)?;
    if inputs.is_empty() {
        bail!("no log files found in the paths given");
    }
    let lists = args.warninglists.load("shieldwall scan")?;
    let set = Arc::new(ArcSwap::from_pointee(compile_set(
        &source, &opts, &lists, false,
    )?));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = if args.reload_indicators {
        let (set, stop) = (Arc::clone(&set), Arc::clone(&stop));
        let files = args.indicators.clone();
        let source = source.clone();
        let lists = Arc::clone(&lists);
        Some(std::thread::spawn(move || {
            let mut seen = mtimes(&files);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let now = mtimes(&files);
                if now != seen {
                    seen = now;
                    match compile_set(&source, &opts, &lists, true) {
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

    let total_len = inputs.iter().map(Input::len).sum::<Option<u64>>();
    let bar = progress_bar(total_len);
    let read_bytes = Arc::new(AtomicU64::new(0));
    let stdout = io::stdout();
    let mut out = Out {
        w: io::BufWriter::with_capacity(1 << 16, stdout.lock()),
        json: args.json,
    };
    let mut t = Totals::default();
    let started = Instant::now();
    let mut current = set.load_full();
    let mut scanner = Scanner::new(&current);
    let mut rec = Record::new();
    let mut hits: Vec<Hit> = Vec::new();
    let mut line_buf: Vec<u8> = Vec::with_capacity(4096);
    let mut broken_pipe = false;
    'files: for input in &inputs {
        let name = input.name();
        let counter = Arc::clone(&read_bytes);
        let mut r = match input.open(move |n| {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("shieldwall scan: error: {e:#}");
                t.errors += 1;
                continue;
            }
        };
        t.files += 1;
        let mut reader: Option<Reader> = args.format.0.map(|f| Reader::new(f, map.as_ref()));
        let mut line_no = 0u64;
        let mut file_malformed = 0u64;
        loop {
            let got = match telemetry_io::read_line(&mut *r, &mut line_buf, MAX_LINE) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("{name}:{}: error: cannot read: {e}", line_no + 1);
                    t.errors += 1;
                    break;
                }
            };
            if got == Line::Eof {
                break;
            }
            line_no += 1;
            t.lines += 1;
            let reader =
                reader.get_or_insert_with(|| Reader::new(Format::sniff(&line_buf), map.as_ref()));
            let result = match got {
                Line::TooLong(n) => Err(format!(
                    "line of {n} bytes is longer than the limit of 1 MiB"
                )),
                _ => reader.read_line(&line_buf, &mut rec).map_err(|e| e.message),
            };
            match result {
                Ok(true) => {
                    t.records += 1;
                    hits.clear();
                    current.scan(&rec, &mut scanner, &mut hits);
                    for h in &hits {
                        t.hits += 1;
                        if reporting {
                            let time = rec.timestamp().unwrap_or(now);
                            let id = current.indicator_id(h.indicator);
                            let s = match seen.get_mut(id) {
                                Some(s) => s,
                                None => seen.entry(id.to_owned()).or_insert(Seen {
                                    count: 0,
                                    first: time,
                                    last: time,
                                    kept: 0,
                                    observed: Vec::new(),
                                }),
                            };
                            s.count += 1;
                            s.first = s.first.min(time);
                            s.last = s.last.max(time);
                            if args.report.include_observed && s.kept < OBSERVED_PER_INDICATOR {
                                s.kept += 1;
                                s.observed
                                    .extend(matcher::record_to_observed_data(&rec, t.records));
                            }
                        }
                        if let Err(e) = out.hit(&name, line_no, &current, h, &rec) {
                            if e.kind() == io::ErrorKind::BrokenPipe {
                                broken_pipe = true;
                                break 'files;
                            }
                            return Err(e.into());
                        }
                    }
                }
                Ok(false) => {}
                Err(message) => {
                    t.malformed += 1;
                    file_malformed += 1;
                    if file_malformed <= args.max_line_errors {
                        bar.suspend(|| eprintln!("{name}:{line_no}: malformed line: {message}"));
                    }
                }
            }
            // Per batch: progress, and a newly swapped-in indicator set.
            if line_no.is_multiple_of(4096) {
                bar.set_position(read_bytes.load(Ordering::Relaxed));
                if args.reload_indicators {
                    let latest = set.load_full();
                    if !Arc::ptr_eq(&latest, &current) {
                        current = latest;
                        scanner.reset(&current);
                    }
                }
            }
        }
        if file_malformed > args.max_line_errors {
            eprintln!(
                "{name}: {} more malformed lines not shown",
                file_malformed - args.max_line_errors
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        let _ = w.join();
    }
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
    t.bytes = read_bytes.load(Ordering::Relaxed);
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
        let objects = build_sightings(&seen, identity, tlp, now);
        if let Some(path) = &args.report.sightings {
            write_sightings(path, &objects)?;
            eprintln!(
                "shieldwall scan: {} sightings ({}) written to {}",
                seen.len(),
                tlp.name(),
                path.display()
            );
        }
        if let Some(collection) = &args.report.collection {
            // The TLP marking definitions are predefined: only the sightings (and observed
            // data) are reported.
            let objects: Vec<serde_json::Value> = objects
                .into_iter()
                .filter(|o| o["type"] != "marking-definition")
                .collect();
            let where_to = match &args.report.to {
                Some(u) => format!("{u} collection {collection}"),
                None => format!("collection {collection} of {}", args.config.display()),
            };
            if seen.is_empty() {
                eprintln!("shieldwall scan: no hits, no sightings reported to {where_to}");
            } else {
                let r = match &args.report.to {
                    Some(url) => report_remote(&args, url, collection, &objects)?,
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
