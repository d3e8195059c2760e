//! `shieldwall pattern check|match`.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use pattern::eval::{EvalError, EvalOptions, Matcher, Observations};
use pattern::{Diagnostic, LineIndex, Severity, StixVersion};
use serde_json::{Value, json};

/// Subcommands of `shieldwall pattern`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Check that patterns are valid (exit 0: all valid, 1: some invalid).
    Check {
        /// STIX version of the pattern grammar.
        #[arg(long, default_value = "2.1", value_parser = parse_version)]
        stix_version: StixVersion,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The patterns.
        #[arg(required = true)]
        patterns: Vec<String>,
    },
    /// Match a pattern, or a file of patterns (`--patterns`), against observed data (exit 0: a
    /// match, 1: no match, 2: error).
    Match {
        /// STIX version of the pattern and the observed data.
        #[arg(long, default_value = "2.1", value_parser = parse_version)]
        stix_version: StixVersion,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Upper bound on binding-search steps.
        #[arg(long, default_value_t = EvalOptions::default().max_steps)]
        max_steps: u64,
        /// The pattern.
        #[arg(required_unless_present = "patterns")]
        pattern: Option<String>,
        /// Many patterns in one run (`-` for standard input): one per line (blank lines and
        /// lines starting with `#` skipped), or JSON — a list of pattern strings, or indicators
        /// (a bundle, a list, or one), each reported by its id. The observed data is loaded once
        /// and the patterns are evaluated on every core; an invalid pattern is reported and the
        /// others go on. Exit 0 when at least one matched.
        #[arg(long, conflicts_with = "pattern", value_name = "FILE")]
        patterns: Option<PathBuf>,
        /// JSON file (`-` for standard input): a bundle, or a list of observed-data, SCOs and
        /// bundles (STIX 2.0: a list of observed-data with embedded objects).
        #[arg(long)]
        observed: PathBuf,
    },
}

fn parse_version(s: &str) -> Result<StixVersion, String> {
    s.parse()
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Check {
            stix_version,
            json,
            patterns,
        } => check(&patterns, stix_version, json),
        Command::Match {
            stix_version,
            json,
            max_steps,
            pattern,
            patterns,
            observed,
        } => match (pattern, patterns) {
            (Some(pattern), _) => run_match(&pattern, &observed, stix_version, json, max_steps),
            (None, Some(file)) => run_batch(&file, &observed, stix_version, json, max_steps),
            (None, None) => anyhow::bail!("give a pattern or --patterns FILE"),
        },
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to standard output"),
    }
}

fn diag_json(lines: &mut LineIndex<'_>, d: &Diagnostic) -> Value {
    let (line, column) = lines.line_col(d.span.start as usize);
    json!({
        "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "code": d.code.as_str(),
        "message": d.message,
        "line": line,
        "column": column,
        "start": d.span.start,
        "end": d.span.end,
    })
}

fn check(patterns: &[String], version: StixVersion, as_json: bool) -> anyhow::Result<ExitCode> {
    let mut all_valid = true;
    let mut text = String::new();
    let mut results = Vec::new();
    for src in patterns {
        let parsed = pattern::parse(src, version);
        let valid = parsed.is_valid();
        all_valid &= valid;
        let canonical = parsed.pattern.as_ref().map(ToString::to_string);
        if as_json {
            let mut lines = LineIndex::new(src);
            results.push(json!({
                "pattern": src,
                "valid": valid,
                "canonical": canonical,
                "diagnostics": parsed.diagnostics.iter().map(|d| diag_json(&mut lines, d)).collect::<Vec<_>>(),
            }));
        } else {
            let verdict = if valid { "valid" } else { "invalid" };
            text.push_str(&format!("{verdict}: {src}\n"));
            for d in &parsed.diagnostics {
                for line in d.render(src).lines() {
                    text.push_str("  ");
                    text.push_str(line);
                    text.push('\n');
                }
            }
            if let (true, Some(c)) = (valid, &canonical)
                && c != src
            {
                text.push_str(&format!("  canonical: {c}\n"));
            }
        }
    }
    if as_json {
        text = serde_json::to_string_pretty(
            &json!({"stix_version": version.to_string(), "results": results}),
        )?;
        text.push('\n');
    }
    emit(&text)?;
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_input(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .context("reading observed data from standard input")?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

fn run_match(
    src: &str,
    observed: &PathBuf,
    version: StixVersion,
    as_json: bool,
    max_steps: u64,
) -> anyhow::Result<ExitCode> {
    let parsed = pattern::parse(src, version);
    let Some(pat) = &parsed.pattern else {
        let mut msg = String::from("the pattern is invalid:\n");
        for d in parsed.errors() {
            msg.push_str(&d.render(src));
            msg.push('\n');
        }
        anyhow::bail!("{}", msg.trim_end());
    };
    let obs = load_observations(observed, version)?;
    let matcher = Matcher::new(pat, version)?;
    let result = matcher.evaluate(&obs, &EvalOptions { max_steps });
    let binding = match result {
        Ok(b) => b,
        Err(e @ EvalError::SearchLimit(_)) => {
            return Err(anyhow::Error::new(e).context("raise --max-steps to search further"));
        }
        Err(e) => return Err(e.into()),
    };
    let leaves = pat.inspect().observation_expressions;
    let out = match &binding {
        None if as_json => format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({"matched": false, "observations": obs.len()}))?
        ),
        None => format!("no match ({} observations)\n", obs.len()),
        Some(b) => {
            let slots: Vec<Value> = b
                .slots
                .iter()
                .map(|s| {
                    json!({
                        "observation_expression": s.observation_expression,
                        "expression": leaves.get(s.observation_expression).map(ToString::to_string),
                        "observation": s.observation,
                        "observed_data_id": obs.observed_data_id(s.observation),
                        "instance": s.instance,
                    })
                })
                .collect();
            if as_json {
                let ids: Vec<Option<&str>> = b
                    .observations()
                    .into_iter()
                    .map(|i| obs.observed_data_id(i))
                    .collect();
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(&json!({
                        "matched": true,
                        "observed_data_ids": ids,
                        "binding": slots,
                    }))?
                )
            } else {
                let mut s = format!("match: {pat}\n");
                for slot in &b.slots {
                    let expr = leaves
                        .get(slot.observation_expression)
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    let id = obs
                        .observed_data_id(slot.observation)
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("observation #{}", slot.observation + 1));
                    s.push_str(&format!(
                        "  #{} {expr}  <-  {id} (instance {})\n",
                        slot.observation_expression + 1,
                        slot.instance + 1
                    ));
                }
                s
            }
        }
    };
    emit(&out)?;
    Ok(if binding.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads a JSON document (`-`: standard input) strictly: a duplicate key is refused, not
/// collapsed; errors name the file, line and column.
fn read_json(path: &PathBuf) -> anyhow::Result<Value> {
    let text = read_input(path)?;
    stix::json::parse_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: not valid JSON: {}",
            path.display(),
            e.line,
            e.column,
            e.message
        )
    })
}

fn load_observations(observed: &PathBuf, version: StixVersion) -> anyhow::Result<Observations> {
    let value = read_json(observed)?;
    Observations::from_json(&value, version)
        .with_context(|| format!("loading {}", observed.display()))
}

/// The patterns of a `--patterns` file, each with the name it is reported by (an indicator's
/// id, else `line N` or `#N`).
fn read_patterns(path: &PathBuf) -> anyhow::Result<Vec<(String, String)>> {
    let text = read_input(path)?;
    let trimmed = text.trim_start();
    // A pattern line starts with `[` too: JSON only when the whole text parses as JSON.
    let json = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        stix::json::parse_str(&text).ok()
    } else {
        None
    };
    let Some(value) = json else {
        if trimmed.starts_with('{') {
            // Not a pattern either: say why the JSON failed.
            read_json(path)?;
        }
        return Ok(text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(i, l)| (format!("line {}", i + 1), l.trim().to_owned()))
            .collect());
    };
    let items: Vec<&Value> = match &value {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => match o.get("objects").and_then(Value::as_array) {
            Some(objects) => objects.iter().collect(),
            None => vec![&value],
        },
        _ => anyhow::bail!("{}: expected patterns or indicators", path.display()),
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(p) => out.push((format!("#{}", i + 1), p.clone())),
            Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("indicator") => {
                let Some(p) = o.get("pattern").and_then(Value::as_str) else {
                    anyhow::bail!(
                        "{}: item #{} is an indicator without a pattern",
                        path.display(),
                        i + 1
                    );
                };
                let name = o
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("#{}", i + 1), str::to_owned);
                out.push((name, p.to_owned()));
            }
            // Other objects of a bundle (identities, markings, relationships) are not patterns.
            Value::Object(_) => {}
            _ => anyhow::bail!(
                "{}: item #{} is neither a pattern string nor an object",
                path.display(),
                i + 1
            ),
        }
    }
    Ok(out)
}

fn run_batch(
    file: &PathBuf,
    observed: &PathBuf,
    version: StixVersion,
    as_json: bool,
    max_steps: u64,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !(file.as_os_str() == "-" && observed.as_os_str() == "-"),
        "--patterns and --observed cannot both read standard input"
    );
    let named = read_patterns(file)?;
    let obs = load_observations(observed, version)?;
    let sources: Vec<&str> = named.iter().map(|(_, p)| p.as_str()).collect();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let results =
        pattern::eval::evaluate_many(&sources, version, &obs, &EvalOptions { max_steps }, threads);
    let (mut matched, mut errors) = (0usize, 0usize);
    let mut text = String::new();
    let mut rows = Vec::with_capacity(results.len());
    for ((name, src), result) in named.iter().zip(&results) {
        match result {
            Ok(Some(b)) => {
                matched += 1;
                let ids: Vec<String> = b
                    .observations()
                    .into_iter()
                    .map(|i| {
                        obs.observed_data_id(i)
                            .map_or_else(|| format!("observation #{}", i + 1), str::to_owned)
                    })
                    .collect();
                if as_json {
                    rows.push(json!({"name": name, "pattern": src, "matched": true, "observed_data_ids": ids}));
                } else {
                    text.push_str(&format!("match     {name}  <-  {}\n", ids.join(", ")));
                }
            }
            Ok(None) => {
                if as_json {
                    rows.push(json!({"name": name, "pattern": src, "matched": false}));
                } else {
                    text.push_str(&format!("no match  {name}\n"));
                }
            }
            Err(e) => {
                errors += 1;
                if as_json {
                    rows.push(json!({"name": name, "pattern": src, "error": e.to_string()}));
                } else {
                    text.push_str(&format!("error     {name}: {e}\n"));
                }
            }
        }
    }
    let summary = format!(
        "{} patterns against {} observations: {matched} matched, {} did not, {errors} errors",
        named.len(),
        obs.len(),
        named.len() - matched - errors
    );
    if as_json {
        text = serde_json::to_string_pretty(&json!({
            "stix_version": version.to_string(),
            "observations": obs.len(),
            "patterns": named.len(),
            "matched": matched,
            "errors": errors,
            "results": rows,
        }))?;
        text.push('\n');
    }
    emit(&text)?;
    eprintln!("{summary}");
    Ok(if matched > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
