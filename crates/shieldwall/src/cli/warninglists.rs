//! `--warninglists DIR` and `--no-builtin-warninglists` for `export` and `scan`: loads MISP
//! warninglists (JSON, e.g. a checkout of MISP's `misp-warninglists`, walked recursively for
//! `*.json`) beside the built-in set (`crates/matcher/warninglists/`, and the Public Suffix
//! List), and reports what they suppressed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use matcher::export::Suppressed;
use matcher::warninglist::Warninglists;

/// Warninglist options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WarninglistArgs {
    /// A folder of MISP warninglists (`*.json` in the MISP format, searched recursively, e.g.
    /// `misp-warninglists/lists`), used besides the built-in lists. Repeatable.
    #[arg(long = "warninglists", value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Leave out the built-in warninglists and the Public Suffix List.
    #[arg(long)]
    no_builtin_warninglists: bool,
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> anyhow::Result<()> {
    if depth > 8 {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            json_files(&p, out, depth + 1)?;
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

impl WarninglistArgs {
    /// What identifies the lists `load` would load (for `scan --cache`): built in or not, and
    /// each list file's path, size and modification time.
    pub(crate) fn fingerprint(&self) -> anyhow::Result<String> {
        use std::os::unix::fs::MetadataExt;
        let mut s = format!("builtin {}", !self.no_builtin_warninglists);
        for dir in &self.dirs {
            let mut files = Vec::new();
            json_files(dir, &mut files, 0)?;
            for f in files {
                let m = std::fs::metadata(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                s.push_str(&format!(
                    "; {} {} {}.{:09}",
                    f.display(),
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec()
                ));
            }
        }
        Ok(s)
    }

    /// The lists to use; says on stderr what was loaded from each folder.
    pub(crate) fn load(&self, who: &str) -> anyhow::Result<Arc<Warninglists>> {
        let mut w = if self.no_builtin_warninglists {
            Warninglists::empty()
        } else {
            Warninglists::builtin()
        };
        for dir in &self.dirs {
            let mut files = Vec::new();
            json_files(dir, &mut files, 0)?;
            let (mut lists, mut entries, mut refused) = (0usize, 0usize, 0usize);
            for f in &files {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                match w.add_json(&text) {
                    Ok(l) => {
                        lists += 1;
                        entries += l.len();
                        if l.skipped_entries > 0 {
                            eprintln!(
                                "{who}: {}: {} entries of {:?} could not be read and are left out",
                                f.display(),
                                l.skipped_entries,
                                l.name
                            );
                        }
                    }
                    Err(e) => {
                        refused += 1;
                        eprintln!("{who}: {}: {e}", f.display());
                    }
                }
            }
            if lists == 0 {
                bail!(
                    "--warninglists {}: no MISP warninglist found ({refused} JSON files refused)",
                    dir.display()
                );
            }
            eprintln!(
                "{who}: {lists} warninglists ({entries} entries) loaded from {}",
                dir.display()
            );
        }
        Ok(Arc::new(w))
    }
}

/// Prints on stderr what the warninglists suppressed (dropped) or marked (inform only): a count
/// per list and policy, then the first twenty of each with their reasons.
pub(crate) fn report(who: &str, dropped: &[Suppressed], inform: &[Suppressed]) {
    for (what, list) in [("suppressed", dropped), ("kept, inform only", inform)] {
        if list.is_empty() {
            continue;
        }
        let mut per: BTreeMap<&str, usize> = BTreeMap::new();
        for s in list {
            *per.entry(s.finding.list.as_str()).or_default() += 1;
        }
        let counts: Vec<String> = per.iter().map(|(l, n)| format!("{l}: {n}")).collect();
        eprintln!(
            "{who}: warninglists: {} values {what} ({})",
            list.len(),
            counts.join(", ")
        );
        for s in list.iter().take(20) {
            eprintln!(
                "{who}: {what}: {} {} {} — {}: {}",
                s.indicator,
                s.value.kind.name(),
                s.value.value,
                s.finding.list,
                s.finding.reason
            );
        }
        if list.len() > 20 {
            eprintln!("{who}: … and {} more {what}", list.len() - 20);
        }
    }
}
