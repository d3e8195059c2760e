//! MISP in for `shieldwall import`: tells MISP JSON (a single event, a REST response, a list of
//! events) and MISP feed directories (`manifest.json`, event files, `hashes.csv`) from STIX,
//! reads them, pulls remote MISP feeds over HTTP (`--feed URL`: the manifest, then each event
//! file it lists), and converts all of it to STIX 2.1 through `crates/misp`. What is converted
//! is then stored by `import` like any STIX input (validation, publishing rules, one
//! transaction per batch).

use shieldwall::services::scan::input::{self as scan_input, Input};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};

/// What an input path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputKind {
    /// STIX (a bundle, an envelope, objects): streamed.
    Stix,
    /// One MISP JSON document.
    MispJson,
    /// A MISP feed directory.
    MispFeedDir,
}

/// What `--from` forces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum From {
    /// Tell from the content: a directory with `manifest.json` is a MISP feed, a JSON document
    /// whose first key is `Event` or `response` is MISP, anything else STIX.
    Auto,
    /// STIX 2.1.
    Stix,
    /// MISP JSON or a MISP feed directory.
    Misp,
}

/// The first key of a JSON document's top-level object (or of the first element of a
/// top-level array), read from its first bytes.
fn first_key(prefix: &[u8]) -> Option<String> {
    let mut i = 0;
    let skip = |i: &mut usize| {
        while *i < prefix.len() && prefix[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    // A UTF-8 byte order mark.
    if prefix.starts_with(&[0xef, 0xbb, 0xbf]) {
        i = 3;
    }
    skip(&mut i);
    if prefix.get(i) == Some(&b'[') {
        i += 1;
        skip(&mut i);
    }
    if prefix.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    skip(&mut i);
    if prefix.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let end = start + prefix.get(start..)?.iter().position(|&b| b == b'"')?;
    String::from_utf8(prefix[start..end].to_vec()).ok()
}

/// Whether the start of a JSON document looks like MISP JSON.
pub(crate) fn looks_like_misp(prefix: &[u8]) -> bool {
    matches!(first_key(prefix).as_deref(), Some("Event" | "response"))
}

/// Opens a file for reading, decompressing gzip (told by its magic bytes, as `scan` does);
/// `read` counts the bytes read from the file itself. `-` is standard input, which can be
/// opened once: [`classify`] of `-` under `--from auto` peeks at it through [`Stdin`] instead.
pub(crate) fn open(path: &Path, read: &Arc<AtomicU64>) -> anyhow::Result<Box<dyn BufRead + Send>> {
    let read = read.clone();
    let input = if is_stdin(path) {
        Input::Stdin
    } else {
        Input::File(path.to_path_buf())
    };
    Ok(input.open(move |n| {
        read.fetch_add(n as u64, Ordering::Relaxed);
    })?)
}

/// Whether a command-line path names standard input.
pub(crate) fn is_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

/// Standard input opened once (gzip decompressed), with its first bytes read ahead so that its
/// kind can be told from them and then read again from the start.
pub(crate) struct Stdin {
    /// Up to [`PEEK`] bytes of the (decompressed) document's start.
    pub(crate) prefix: Vec<u8>,
    rest: Box<dyn BufRead + Send>,
}

/// How much of a document is read to tell its kind.
const PEEK: usize = 4096;

impl Stdin {
    /// Opens standard input and reads its first bytes (fewer when it is shorter).
    pub(crate) fn open(read: &Arc<AtomicU64>) -> anyhow::Result<Stdin> {
        let mut rest = open(Path::new("-"), read)?;
        let prefix = read_prefix(&mut rest).context("cannot read standard input")?;
        Ok(Stdin { prefix, rest })
    }

    /// The whole document again, its first bytes included.
    pub(crate) fn into_reader(self) -> Box<dyn BufRead + Send> {
        Box::new(std::io::BufReader::with_capacity(
            1 << 16,
            std::io::Cursor::new(self.prefix).chain(self.rest),
        ))
    }
}

/// Reads up to [`PEEK`] bytes (a pipe may give them a few at a time).
fn read_prefix(f: &mut dyn Read) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; PEEK];
    let mut n = 0;
    while n < buf.len() {
        let got = f.read(&mut buf[n..])?;
        if got == 0 {
            break;
        }
        n += got;
    }
    buf.truncate(n);
    Ok(buf)
}

/// Expands the paths given to `import`: a directory with `manifest.json` is a MISP feed; any
/// other directory is walked (recursively, in name order, hidden entries skipped) for its
/// `*.json` and `*.json.gz` files; a file is taken whatever its name.
///
/// `-` is standard input, at most once; `stdin_kind` is what its first bytes say
/// ([`Stdin::prefix`], [`kind_of`]).
pub(crate) fn expand(
    paths: &[PathBuf],
    from: From,
    stdin_kind: Option<InputKind>,
) -> anyhow::Result<Vec<(PathBuf, InputKind)>> {
    if paths.iter().filter(|p| is_stdin(p)).count() > 1 {
        bail!("-: standard input can be imported once per command");
    }
    let mut out = Vec::new();
    for path in paths {
        if is_stdin(path) {
            out.push((path.clone(), classify(path, from, stdin_kind)?));
        } else if path.is_dir() && !path.join("manifest.json").is_file() {
            let files: Vec<PathBuf> = scan_input::expand(std::slice::from_ref(path))?
                .into_iter()
                .filter_map(|i| match i {
                    Input::File(p) => Some(p),
                    Input::Stdin | Input::Memory { .. } => None,
                })
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.ends_with(".json") || name.ends_with(".json.gz")
                })
                .collect();
            if files.is_empty() {
                bail!(
                    "{}: no manifest.json (a MISP feed) and no *.json or *.json.gz file",
                    path.display()
                );
            }
            for f in files {
                let kind = classify(&f, from, None)?;
                out.push((f, kind));
            }
        } else {
            out.push((path.clone(), classify(path, from, None)?));
        }
    }
    Ok(out)
}

/// Classifies one input path (a gzip file by what it holds).
///
/// `-` (standard input) is told apart by `stdin_kind`: what its first bytes say, read once by
/// the caller ([`Stdin`]).
pub(crate) fn classify(
    path: &Path,
    from: From,
    stdin_kind: Option<InputKind>,
) -> anyhow::Result<InputKind> {
    if is_stdin(path) {
        return match (from, stdin_kind) {
            (From::Stix, _) => Ok(InputKind::Stix),
            (From::Misp, _) => Ok(InputKind::MispJson),
            (From::Auto, Some(kind)) => Ok(kind),
            (From::Auto, None) => bail!("-: standard input was not opened"),
        };
    }
    if path.is_dir() {
        if from == From::Stix {
            bail!(
                "{}: a MISP feed directory is not a STIX document",
                path.display()
            );
        }
        if !path.join("manifest.json").is_file() {
            bail!(
                "{}: a directory is imported as a MISP feed, and it has no manifest.json",
                path.display()
            );
        }
        return Ok(InputKind::MispFeedDir);
    }
    match from {
        From::Stix => Ok(InputKind::Stix),
        From::Misp => Ok(InputKind::MispJson),
        From::Auto => {
            let mut f = open(path, &Arc::new(AtomicU64::new(0)))?;
            let prefix =
                read_prefix(&mut f).with_context(|| format!("cannot read {}", path.display()))?;
            Ok(kind_of(&prefix))
        }
    }
}

/// The kind of a document told from its first bytes (`--from auto`).
pub(crate) fn kind_of(prefix: &[u8]) -> InputKind {
    if looks_like_misp(prefix) {
        InputKind::MispJson
    } else {
        InputKind::Stix
    }
}

fn options() -> misp::ConvertOptions {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    misp::ConvertOptions::new(misp::time::Instant::from_secs(secs))
}

/// Converts one MISP JSON document read from `reader` (`name` in messages).
pub(crate) fn convert_reader(
    name: &str,
    reader: Box<dyn BufRead + Send>,
) -> anyhow::Result<misp::Conversion> {
    // A MISP document is converted whole, so what a compressed one expands to is bounded.
    let mut bytes = Vec::new();
    reader
        .take(MAX_MISP_DOCUMENT + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {name}"))?;
    if bytes.len() as u64 > MAX_MISP_DOCUMENT {
        bail!(
            "{name}: a MISP document larger than {} MiB (after decompression) is not imported",
            MAX_MISP_DOCUMENT >> 20
        );
    }
    let mut c = misp::Converter::new(options());
    c.add_json(name, &bytes)?;
    Ok(c.finish())
}

/// A MISP feed read into memory: manifest, event files, `hashes.csv`.
#[derive(Debug, Default)]
pub(crate) struct FeedData {
    /// Where it came from, for messages.
    pub(crate) origin: String,
    manifest: Vec<u8>,
    events: Vec<(String, Vec<u8>)>,
    hashes: Option<Vec<u8>>,
}

impl FeedData {
    /// Reads a feed directory: the manifest, the event files it lists, `hashes.csv` if present.
    pub(crate) fn read_dir(dir: &Path, read: &Arc<AtomicU64>) -> anyhow::Result<FeedData> {
        let file = |name: &str| -> anyhow::Result<Vec<u8>> {
            let p: PathBuf = dir.join(name);
            let b = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            read.fetch_add(b.len() as u64, Ordering::Relaxed);
            Ok(b)
        };
        let manifest = file("manifest.json")?;
        let names = misp::feed_event_files(&manifest)
            .with_context(|| format!("{}", dir.join("manifest.json").display()))?;
        let mut events = Vec::with_capacity(names.len());
        for n in names {
            // The names are `<uuid>.json`: checked by `feed_event_files`, no path can escape.
            let b = file(&n)?;
            events.push((n, b));
        }
        let hashes = if dir.join("hashes.csv").is_file() {
            Some(file("hashes.csv")?)
        } else {
            None
        };
        Ok(FeedData {
            origin: dir.display().to_string(),
            manifest,
            events,
            hashes,
        })
    }

    /// Converts the feed.
    pub(crate) fn convert(&self) -> anyhow::Result<misp::Conversion> {
        let mut c = misp::Converter::new(options());
        c.add_feed(&misp::FeedInput {
            manifest: &self.manifest,
            events: self
                .events
                .iter()
                .map(|(n, b)| (n.clone(), b.as_slice()))
                .collect(),
            hashes_csv: self.hashes.as_deref(),
        })
        .with_context(|| self.origin.clone())?;
        Ok(c.finish())
    }
}

/// The largest file a remote feed may serve (a MISP event file is rarely above a few MiB).
const MAX_FEED_FILE: u64 = 256 << 20;

/// The largest MISP JSON document `import` converts, after decompression.
pub(crate) const MAX_MISP_DOCUMENT: u64 = MAX_FEED_FILE;

async fn get(http: &reqwest::Client, url: &str, optional: bool) -> anyhow::Result<Option<Vec<u8>>> {
    let mut resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{url}: {}", e.without_url()))?;
    let status = resp.status();
    if optional && status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        bail!("{url}: HTTP {}", status.as_u16());
    }
    if resp.content_length().is_some_and(|n| n > MAX_FEED_FILE) {
        bail!("{url}: larger than {} MiB", MAX_FEED_FILE >> 20);
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| anyhow::anyhow!("{url}: {}", e.without_url()))?
    {
        if out.len() as u64 + chunk.len() as u64 > MAX_FEED_FILE {
            bail!("{url}: larger than {} MiB", MAX_FEED_FILE >> 20);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

/// Pulls a remote MISP feed: `URL/manifest.json`, then each event file it lists, then
/// `URL/hashes.csv` when the server has one. `progress(done, total)` after each file.
pub(crate) async fn fetch_feed(
    url: &str,
    read: &Arc<AtomicU64>,
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<FeedData> {
    let base = url.trim_end_matches('/').trim_end_matches("/manifest.json");
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!("--feed {url:?}: expected an http:// or https:// URL of a MISP feed");
    }
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .connect_timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("shieldwall/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")?;
    let manifest = get(&http, &format!("{base}/manifest.json"), false)
        .await?
        .unwrap_or_default();
    read.fetch_add(manifest.len() as u64, Ordering::Relaxed);
    let names =
        misp::feed_event_files(&manifest).with_context(|| format!("{base}/manifest.json"))?;
    let mut events = Vec::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        let b = get(&http, &format!("{base}/{n}"), false)
            .await?
            .unwrap_or_default();
        read.fetch_add(b.len() as u64, Ordering::Relaxed);
        events.push((n.clone(), b));
        progress(i + 1, names.len());
    }
    let hashes = get(&http, &format!("{base}/hashes.csv"), true).await?;
    Ok(FeedData {
        origin: base.to_owned(),
        manifest,
        events,
        hashes,
    })
}

/// MISP applies an event's `tlp:*` tag to everything in the event; misp-stix marks only the
/// report. Before storing, every object a report or grouping references that carries no TLP
/// marking of its own gets the report's TLP markings, so that the attributes of a TLP:RED
/// event are not served as unmarked (the node's default TLP). An object referenced by several
/// reports gets all their TLP markings (the most restrictive wins). Returns how many objects
/// were marked.
pub(crate) fn propagate_event_tlp(objects: &mut [serde_json::Value]) -> usize {
    use serde_json::Value;
    use std::collections::HashMap;
    let tlp_refs = |o: &Value| -> Vec<String> {
        o.get("object_marking_refs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|m| stix::tlp::marking_info(m).is_some())
            .map(str::to_owned)
            .collect()
    };
    let mut inherit: HashMap<String, Vec<String>> = HashMap::new();
    for o in objects.iter() {
        if !matches!(o["type"].as_str(), Some("report" | "grouping")) {
            continue;
        }
        let marks = tlp_refs(o);
        if marks.is_empty() {
            continue;
        }
        for r in o
            .get("object_refs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let e = inherit.entry(r.to_owned()).or_default();
            for m in &marks {
                if !e.contains(m) {
                    e.push(m.clone());
                }
            }
        }
    }
    let mut n = 0;
    for o in objects.iter_mut() {
        let Some(id) = o.get("id").and_then(Value::as_str) else {
            continue;
        };
        let Some(marks) = inherit.get(id) else {
            continue;
        };
        if o["type"] == "marking-definition" || !tlp_refs(o).is_empty() {
            continue;
        }
        let Some(m) = o.as_object_mut() else { continue };
        let refs = m
            .entry("object_marking_refs")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = refs {
            a.extend(marks.iter().map(|s| Value::String(s.clone())));
            n += 1;
        }
    }
    n
}

/// What the MISP conversions of one import reported.
#[derive(Debug, Default)]
pub(crate) struct MispReport {
    /// MISP inputs converted (files, feed directories, remote feeds).
    pub(crate) inputs: u64,
    /// STIX objects produced.
    pub(crate) objects: u64,
    /// Elements converted approximately.
    pub(crate) warnings: u64,
    /// Elements left out.
    pub(crate) errors: u64,
    /// The first error diagnostics, rendered (at most 20).
    pub(crate) first_errors: Vec<String>,
    /// The first warnings, rendered (at most 20).
    pub(crate) first_warnings: Vec<String>,
}

impl MispReport {
    /// Counts one conversion's result.
    pub(crate) fn add(&mut self, c: &misp::Conversion) {
        self.inputs += 1;
        self.objects += c.objects.len() as u64;
        for d in &c.diagnostics {
            let (n, first) = match d.level {
                misp::Level::Error => (&mut self.errors, &mut self.first_errors),
                misp::Level::Warning => (&mut self.warnings, &mut self.first_warnings),
            };
            *n += 1;
            if first.len() < 20 {
                first.push(d.to_string());
            }
        }
    }

    /// The first diagnostics, errors first, at most 20.
    pub(crate) fn first(&self) -> Vec<String> {
        self.first_errors
            .iter()
            .chain(&self.first_warnings)
            .take(20)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_tlp_reaches_unmarked_members() {
        use serde_json::json;
        let red = stix::tlp::TLP2_RED;
        let green = stix::tlp::TLP2_GREEN;
        let mut objects = vec![
            json!({"type": "report", "id": "report--1", "object_marking_refs": [red],
                "object_refs": ["indicator--a", "indicator--b", "marking-definition--x"]}),
            json!({"type": "indicator", "id": "indicator--a"}),
            json!({"type": "indicator", "id": "indicator--b", "object_marking_refs": [green]}),
            json!({"type": "indicator", "id": "indicator--c"}),
            json!({"type": "marking-definition", "id": "marking-definition--x"}),
        ];
        assert_eq!(propagate_event_tlp(&mut objects), 1);
        assert_eq!(objects[1]["object_marking_refs"], json!([red]));
        assert_eq!(objects[2]["object_marking_refs"], json!([green]));
        assert!(objects[3].get("object_marking_refs").is_none());
        assert!(objects[4].get("object_marking_refs").is_none());
    }

    #[test]
    fn tells_misp_from_stix() {
        assert!(looks_like_misp(br#"{"Event": {"info": "x"}}"#));
        assert!(looks_like_misp(b"\xef\xbb\xbf \n{ \"response\": []}"));
        assert!(looks_like_misp(br#"[{"Event": {}}]"#));
        assert!(!looks_like_misp(br#"{"type": "bundle", "objects": []}"#));
        assert!(!looks_like_misp(br#"[{"type": "indicator"}]"#));
        assert!(!looks_like_misp(b""));
        assert!(!looks_like_misp(b"{\"Ev"));
    }
}
