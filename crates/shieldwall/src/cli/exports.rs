//! `shieldwall export`: indicators as Suricata rules (plus file-hash lists), a Zeek Intel file,
//! a DNS RPZ zone, plain lists per type, or CSV — only those the chosen audience may receive.
//!
//! Audience by TLP (the indicator's effective TLP: its most restrictive TLP marking, object or
//! granular): `public` receives TLP:CLEAR only; `coalition` CLEAR and GREEN; `internal` everything up to
//! AMBER+STRICT. TLP:RED never leaves in an export: a block list is deployed on devices and
//! read by people beyond the named recipients RED is limited to. An indicator without a TLP
//! marking is treated as TLP:AMBER (internal only).
//!
//! Only the latest version of each indicator is judged (`super::latest`): when it is revoked,
//! expired, not valid yet, marked beyond the audience, or hidden from the member, the indicator
//! is withdrawn — no older version takes its place.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use matcher::Indicator;
use matcher::export::{self, Item, Kind};
use matcher::suricata;
use stix::tlp::{TlpLevel, effective_tlp};

use super::latest::Withdrawal;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    /// A STIX 2.1 bundle of everything the member may see in a collection (`--collection`).
    Stix,
    /// Suricata 7 rules; file-hash lists are written next to the rules file.
    Suricata,
    /// Zeek Intel framework file.
    Zeek,
    /// DNS Response Policy Zone (BIND zone file).
    Rpz,
    /// Plain list of one type (`--type`), or one file per type into `--output DIR`.
    Txt,
    /// CSV: indicator, name, type, value, tlp, valid_from, valid_until.
    Csv,
    /// A MISP feed directory (`--out DIR`: manifest.json, hashes.csv, one file per event) of
    /// the reports, indicators and observables, for a MISP instance to subscribe to.
    MispFeed,
}

/// `--datasets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DatasetChoice {
    /// Datasets above `--dataset-threshold` domain and address values.
    Auto,
    /// Always datasets.
    Always,
    /// Always one rule per value (each alert names its indicator).
    Never,
}

/// Who the export is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Audience {
    /// Our own organisation: up to TLP:AMBER+STRICT.
    Internal,
    /// The coalition: TLP:CLEAR and TLP:GREEN.
    Coalition,
    /// Anyone: TLP:CLEAR only.
    Public,
}

impl Audience {
    fn allows(self, tlp: TlpLevel) -> bool {
        match self {
            Audience::Public => tlp == TlpLevel::Clear,
            Audience::Coalition => tlp <= TlpLevel::Green,
            Audience::Internal => tlp <= TlpLevel::AmberStrict,
        }
    }
}

/// Arguments of `shieldwall export`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "stix")]
    format: ExportFormat,
    /// STIX document(s) holding the indicators. Repeatable.
    #[arg(
        long = "indicators",
        value_name = "FILE",
        required_unless_present = "collection"
    )]
    indicators: Vec<PathBuf>,
    /// A hub collection (id or alias): its indicators that the member may see.
    #[arg(long, value_name = "C", conflicts_with = "indicators")]
    collection: Option<String>,
    /// The member whose view is exported (default: the only member configured).
    #[arg(long = "as", value_name = "MEMBER", requires = "collection")]
    as_member: Option<String>,
    /// For `stix`: every version, not only the latest of each object.
    #[arg(long)]
    all_versions: bool,
    /// The hub configuration (for `--collection`).
    #[arg(long, default_value = "shieldwall.toml")]
    config: PathBuf,
    /// Who receives the export; decides which TLP levels may leave.
    #[arg(long, value_enum, default_value = "internal")]
    audience: Audience,
    /// Where to write (a file; a directory for `txt` without `--type`). Standard output if absent.
    #[arg(long, short = 'o', visible_alias = "out", value_name = "PATH")]
    output: Option<PathBuf>,
    /// For `txt`: the type to list (ipv4, ipv6, cidr, domain, url, email, file-name, md5, sha1,
    /// sha256, cert-sha1).
    #[arg(long = "type", value_name = "TYPE")]
    kind: Option<String>,
    /// For `suricata`: the first signature id.
    #[arg(long, default_value_t = 1_800_000)]
    sid_base: u32,
    /// For `suricata`: prefix of the data files written beside the rules (`<prefix>-sha256.list`,
    /// `<prefix>-domain.lst`, `<prefix>-map.tsv`, `<prefix>-suricata.yaml`).
    #[arg(long, default_value = "shieldwall")]
    list_prefix: String,
    /// For `suricata`: domains and addresses as datasets (a few rules over data files) instead
    /// of one rule per value; `auto` above `--dataset-threshold` values.
    #[arg(long, value_enum, default_value = "auto")]
    datasets: DatasetChoice,
    /// For `suricata --datasets auto`: the number of domain and address values above which
    /// datasets are used.
    #[arg(long, default_value_t = 1_000)]
    dataset_threshold: usize,
    /// For `suricata`: domain rules also match every subdomain of the indicated domain.
    #[arg(long)]
    subdomains: bool,
    /// For `rpz`: the SOA serial (default: the current time in seconds, modulo 2^32).
    #[arg(long)]
    serial: Option<u32>,
    /// Also export indicators not valid yet (`valid_from` to come). Revoked and expired ones
    /// are never exported: by default only those with valid_from ≤ now < valid_until are.
    #[arg(long)]
    any_time: bool,
    /// Warninglists: values too broad or known-good are left out (or marked), with the reason.
    #[command(flatten)]
    warninglists: super::warninglists::WarninglistArgs,
}

/// The indicator's effective TLP: the most restrictive TLP among its object and granular
/// markings (the same rule as `stix::tlp::effective_tlp_of`), TLP:AMBER when it has none.
fn tlp_of(ind: &Indicator) -> TlpLevel {
    effective_tlp(ind.marking_refs.iter().map(String::as_str)).unwrap_or(TlpLevel::Amber)
}

fn write_to(path: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match path {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            let mut out = io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
    }
}

/// The hub's STIX export, given the same arguments.
#[derive(Debug, clap::Parser)]
#[command(no_binary_name = true)]
struct HubExport {
    #[command(flatten)]
    args: super::export::Args,
}

fn stix_export(args: &Args) -> anyhow::Result<ExitCode> {
    let Some(collection) = &args.collection else {
        bail!("--format stix exports a hub collection: give --collection C (and --as MEMBER)");
    };
    let mut argv: Vec<std::ffi::OsString> = vec![
        "--collection".into(),
        collection.into(),
        "--config".into(),
        args.config.clone().into(),
    ];
    if let Some(m) = &args.as_member {
        argv.extend(["--as".into(), m.into()]);
    }
    if args.all_versions {
        argv.push("--all-versions".into());
    }
    if let Some(o) = &args.output {
        argv.extend(["--out".into(), o.clone().into()]);
    }
    let hub = <HubExport as clap::Parser>::try_parse_from(argv)?;
    super::export::run(hub.args)
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.format == ExportFormat::Stix {
        return stix_export(&args);
    }
    if args.format == ExportFormat::MispFeed {
        let audience = format!("{:?}", args.audience).to_lowercase();
        return super::misp_out::run(
            &args.indicators,
            args.collection.as_deref(),
            args.as_member.as_deref(),
            &args.config,
            args.output.as_deref(),
            &audience,
            &|t| args.audience.allows(t),
        );
    }
    let loaded = match &args.collection {
        Some(c) => {
            super::scan::indicators_from_collection(&args.config, c, args.as_member.as_deref())?
        }
        None => super::scan::load_indicators(&args.indicators)?,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let now_ns = i64::try_from(now.as_nanos()).unwrap_or(i64::MAX);
    let mut withdrawals = loaded.withdrawals;
    let mut unexportable = 0usize;
    let mut items = Vec::new();
    for ind in &loaded.indicators {
        // Only the latest version of each indicator is here: whatever rules it out withdraws
        // the indicator.
        let why = if ind.revoked {
            Some(Withdrawal::Revoked)
        } else if ind.valid_until.is_some_and(|u| u <= now_ns) {
            Some(Withdrawal::Expired)
        } else if !args.any_time && ind.valid_from.is_some_and(|f| f > now_ns) {
            Some(Withdrawal::NotYetValid)
        } else if !args.audience.allows(tlp_of(ind)) {
            Some(Withdrawal::Tlp)
        } else {
            None
        };
        if let Some(why) = why {
            withdrawals.add(&ind.id, why);
            continue;
        }
        if ind.pattern_type != "stix" {
            unexportable += 1;
            continue;
        }
        match export::observables(&ind.pattern) {
            Ok(observables) => items.push(Item {
                indicator: ind,
                observables,
            }),
            Err(why) => {
                unexportable += 1;
                eprintln!("{}: not exported: {why}", ind.id);
            }
        }
    }
    let lists = args.warninglists.load("shieldwall export")?;
    let (dropped, inform) = export::apply_warninglists(&mut items, &lists);
    super::warninglists::report("shieldwall export", &dropped, &inform);
    let values: usize = items.iter().map(|i| i.observables.len()).sum();
    let mut skipped_values = 0;
    let mut lossy_values = 0;
    let out = args.output.as_deref();
    match args.format {
        ExportFormat::Stix | ExportFormat::MispFeed => unreachable!("handled above"),
        ExportFormat::Suricata => {
            let opts = suricata::Options {
                sid_base: args.sid_base,
                prefix: args.list_prefix.clone(),
                datasets: match args.datasets {
                    DatasetChoice::Auto => suricata::DatasetMode::Auto,
                    DatasetChoice::Always => suricata::DatasetMode::Always,
                    DatasetChoice::Never => suricata::DatasetMode::Never,
                },
                threshold: args.dataset_threshold,
                subdomains: args.subdomains,
            };
            let s = suricata::suricata(&items, &opts);
            skipped_values = s.skipped.len();
            for (what, notes) in [
                ("not exported", &s.skipped),
                ("exported with a loss", &s.lossy),
            ] {
                for n in notes.iter().take(20) {
                    eprintln!("{}: {what}: {}: {}", n.indicator, n.value, n.why);
                }
                if notes.len() > 20 {
                    eprintln!(
                        "shieldwall export: … and {} more values {what}",
                        notes.len() - 20
                    );
                }
            }
            let needs_files = s.datasets
                || s.files
                    .iter()
                    .any(|(n, _)| n.ends_with(".list") || n.ends_with(".lst"));
            match out {
                Some(p) => {
                    let dir = p.parent().unwrap_or(Path::new(".")).to_path_buf();
                    for (name, content) in &s.files {
                        let f = dir.join(name);
                        std::fs::write(&f, content)
                            .with_context(|| format!("cannot write {}", f.display()))?;
                    }
                    write_to(out, &s.rules)?;
                    eprintln!(
                        "shieldwall export: {} Suricata rules ({}) in {}; data files, the value → indicator map {}-map.tsv and the configuration fragment {} beside it (keep them in the rules file's directory: Suricata 7 resolves list and dataset names relative to it; run with --include {})",
                        s.rule_count,
                        if s.datasets {
                            "domains and addresses as datasets"
                        } else {
                            "one rule per value"
                        },
                        p.display(),
                        args.list_prefix,
                        suricata::Suricata::config_name(&args.list_prefix),
                        dir.join(suricata::Suricata::config_name(&args.list_prefix))
                            .display()
                    );
                }
                None if needs_files => bail!(
                    "file-hash indicators need list files (and datasets their data files): give --output FILE.rules (they are written beside it)"
                ),
                None => {
                    write_to(None, &s.rules)?;
                    eprintln!(
                        "shieldwall export: without --output, only the rules are written; the configuration fragment (digests) and the value map are not"
                    );
                }
            }
            lossy_values = s.lossy.len();
        }
        ExportFormat::Zeek => write_to(out, &export::zeek_intel(&items, "shieldwall"))?,
        ExportFormat::Rpz => {
            let serial = args.serial.unwrap_or((now.as_secs() & 0xffff_ffff) as u32);
            let (zone, skipped) = export::rpz(&items, serial);
            skipped_values = skipped;
            write_to(out, &zone)?;
        }
        ExportFormat::Csv => {
            write_to(out, &export::csv(&items, |i| tlp_of(i).name().to_owned()))?;
        }
        ExportFormat::Txt => match (&args.kind, out) {
            (Some(k), _) => {
                let kind = Kind::from_name(k).with_context(|| {
                    let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                    format!(
                        "unknown --type {k:?} (expected one of {})",
                        names.join(", ")
                    )
                })?;
                write_to(out, &export::list(&items, kind))?;
            }
            (None, Some(dir)) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                // Addresses and networks per family (ipv4.txt, ipv6.txt), collapsed.
                for kind in Kind::ALL.into_iter().filter(|k| *k != Kind::Cidr) {
                    let text = export::list(&items, kind);
                    if !text.is_empty() {
                        write_to(Some(&dir.join(format!("{}.txt", kind.name()))), &text)?;
                    }
                }
            }
            (None, None) => bail!("txt needs --type TYPE, or --output DIR for one file per type"),
        },
    }
    withdrawals.print_named("shieldwall export");
    if let Some(c) = &args.collection {
        // One audit record per export from the hub, listing its AMBER+STRICT indicators (RED
        // never leaves in a block list).
        let strict: Vec<&str> = items
            .iter()
            .filter(|i| tlp_of(i.indicator) == TlpLevel::AmberStrict)
            .map(|i| i.indicator.id.as_str())
            .collect();
        let entry = shieldwall::audit::Entry::new(
            &super::audit::cli_actor(),
            "export",
            "cli",
            &format!("collection:{c}"),
            "ok",
        )
        .detail(&shieldwall::audit::ids_detail(
            &format!(
                "as={} format={:?} audience={:?} indicators={}",
                args.as_member.as_deref().unwrap_or("-"),
                args.format,
                args.audience,
                items.len()
            ),
            &[],
            &strict,
        ));
        super::serve::runtime()?
            .block_on(super::audit::record(&args.config, entry))
            .context("the export was written but could not be recorded in the audit trail")?;
    }
    eprintln!(
        "shieldwall export: {} indicators ({values} values) exported for the {:?} audience; withheld by TLP: {}; not in force: {}; not exportable: {unexportable}; values on warninglists: {} suppressed, {} inform only; values without a form in this format: {skipped_values}; exported with a loss: {lossy_values}; {}",
        items.len(),
        args.audience,
        withdrawals.count(Withdrawal::Tlp),
        withdrawals.count(Withdrawal::Revoked)
            + withdrawals.count(Withdrawal::Expired)
            + withdrawals.count(Withdrawal::NotYetValid),
        dropped.len(),
        inform.len(),
        withdrawals.summary()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences() {
        use TlpLevel::*;
        let allowed = |a: Audience| -> Vec<TlpLevel> {
            TlpLevel::ALL.into_iter().filter(|l| a.allows(*l)).collect()
        };
        assert_eq!(allowed(Audience::Public), vec![Clear]);
        assert_eq!(allowed(Audience::Coalition), vec![Clear, Green]);
        assert_eq!(
            allowed(Audience::Internal),
            vec![Clear, Green, Amber, AmberStrict]
        );
    }
}
