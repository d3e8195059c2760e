//! `shieldwall validate`: validates STIX 2.1 documents, streaming.
//!
//! Each file is a bundle, a single object, a JSON array of objects or a TAXII envelope; objects
//! are read and validated one at a time, so memory stays bounded by the largest object.
//! Exit status: 0 valid, 1 invalid (with `--strict`, warnings count), 2 could not read or parse.

use std::{
    fs::File,
    io::{self, IsTerminal, Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use stix::{
    stream::{ItemKind, ObjectStream, StreamError},
    validate::{DuplicateTracker, Finding, Options, Severity, Validator},
};

/// Arguments of `shieldwall validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Count warnings (SHOULDs) as failures: exit 1 if there is any.
    #[arg(long)]
    strict: bool,
    /// Print one JSON object per finding and line on standard output.
    #[arg(long)]
    json: bool,
    /// Warning checks to disable, comma-separated (names as stix2-validator's --disable, e.g.
    /// `uuid-check,extensions-use`, plus Shieldwall's own `sco-id-deterministic`, …).
    #[arg(long, value_delimiter = ',', value_name = "CHECK")]
    disable: Vec<String>,
    /// Interoperability profile, as stix2-validator's --interop: an object may carry at most
    /// one TLP 1.0 marking in `object_marking_refs` (more is an error).
    #[arg(long)]
    interop: bool,
    /// Files to validate (`-` for standard input).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Default)]
struct Tally {
    objects: u64,
    errors: u64,
    warnings: u64,
    unreadable: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = Options {
        disabled: args.disable.clone(),
        interop: args.interop,
        ..Options::default()
    };
    let validator = Validator::new(&options).context("invalid --disable")?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut total = Tally::default();
    for path in &args.files {
        let tally = match validate_file(path, &validator, &args, &mut out) {
            Ok(t) => t,
            Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
            Err(e) => return Err(e),
        };
        if !args.json && args.files.len() > 1 {
            eprintln!(
                "{}: {} objects, {} errors, {} warnings",
                display(path),
                tally.objects,
                tally.errors,
                tally.warnings
            );
        }
        total.objects += tally.objects;
        total.errors += tally.errors;
        total.warnings += tally.warnings;
        total.unreadable |= tally.unreadable;
    }
    if let Err(e) = out.flush() {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(e.into());
    }
    if !args.json {
        eprintln!(
            "{} objects, {} errors, {} warnings",
            total.objects, total.errors, total.warnings
        );
    }
    Ok(if total.unreadable {
        ExitCode::from(2)
    } else if total.errors > 0 || (args.strict && total.warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn display(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

/// A reader that counts bytes for the progress bar.
struct Counted<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn progress_bar(len: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn validate_file(
    path: &Path,
    validator: &Validator,
    args: &Args,
    out: &mut impl Write,
) -> anyhow::Result<Tally> {
    let name = display(path);
    let mut tally = Tally::default();
    let (reader, len): (Box<dyn Read>, Option<u64>) = if path == Path::new("-") {
        (Box::new(io::stdin().lock()), None)
    } else {
        match File::open(path) {
            Ok(f) => {
                let len = f.metadata().ok().map(|m| m.len());
                (Box::new(f), len)
            }
            Err(e) => {
                report_unreadable(out, args, &name, None, &format!("cannot read: {e}"))?;
                tally.unreadable = true;
                return Ok(tally);
            }
        }
    };
    let bar = progress_bar(len);
    let mut stream = ObjectStream::new(Counted {
        inner: reader,
        bar: bar.clone(),
    });
    let mut duplicates = DuplicateTracker::default();
    let mut findings: Vec<Finding> = Vec::new();
    // Objects of a bundle inherit the bundle's `spec_version` (STIX 2.0 style). When the bundle
    // states it after its objects, an object's "spec_version missing" error waits here until
    // the bundle's own properties arrive (one finding per such object, nothing else is held).
    let mut pending: Vec<Finding> = Vec::new();
    while let Some(item) = stream.next() {
        let item = match item {
            Ok(item) => item,
            Err(StreamError::Syntax {
                message,
                line,
                column,
            }) => {
                report_unreadable(out, args, &name, Some((line, column)), &message)?;
                tally.unreadable = true;
                break;
            }
            Err(e @ StreamError::TooLarge { line, column, .. }) => {
                report_unreadable(out, args, &name, Some((line, column)), &e.to_string())?;
                tally.unreadable = true;
                break;
            }
            Err(e) => {
                report_unreadable(out, args, &name, None, &e.to_string())?;
                tally.unreadable = true;
                break;
            }
        };
        let value = match &item.value {
            Ok(v) => v,
            Err(e) => {
                report_unreadable(out, args, &name, Some((e.line, e.column)), &e.message)?;
                tally.unreadable = true;
                continue;
            }
        };
        findings.clear();
        match item.kind {
            ItemKind::Object => {
                tally.objects += 1;
                let inherits = stream.container_spec_version();
                validator.validate_bundle_member_into(value, inherits, &mut findings);
                if !inherits
                    && stream.in_container()
                    && let Some(i) = findings.iter().position(Validator::is_missing_spec_version)
                {
                    let mut f = findings.remove(i);
                    let (line, column) = item.position_of(&f.pointer);
                    (f.line, f.column) = (Some(line), Some(column));
                    pending.push(f);
                }
                findings.extend(duplicates.check(value, validator));
            }
            ItemKind::Bundle => {
                if value.get("spec_version").is_some_and(Value::is_string) {
                    pending.clear();
                }
                flush(out, args, &name, &mut pending, &mut tally)?;
                validator.validate_into(value, &mut findings);
                if stream.container_objects() > 0 {
                    findings.retain(|f| !Validator::is_empty_objects(f));
                }
            }
            ItemKind::Envelope => flush(out, args, &name, &mut pending, &mut tally)?,
        }
        for f in &mut findings {
            let (line, column) = item.position_of(&f.pointer);
            f.line = Some(line);
            f.column = Some(column);
        }
        flush(out, args, &name, &mut findings, &mut tally)?;
    }
    flush(out, args, &name, &mut pending, &mut tally)?;
    bar.finish_and_clear();
    Ok(tally)
}

/// Reports and counts `findings` (whose positions are set), leaving the list empty.
fn flush(
    out: &mut impl Write,
    args: &Args,
    file: &str,
    findings: &mut Vec<Finding>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    for f in findings.drain(..) {
        match f.severity {
            Severity::Error => tally.errors += 1,
            Severity::Warning => tally.warnings += 1,
        }
        report(out, args, file, &f)?;
    }
    Ok(())
}

fn report(out: &mut impl Write, args: &Args, file: &str, f: &Finding) -> anyhow::Result<()> {
    if args.json {
        let line = serde_json::json!({
            "file": file,
            "line": f.line,
            "column": f.column,
            "severity": f.severity,
            "code": f.code,
            "object_id": f.object_id,
            "pointer": f.pointer,
            "message": f.message,
        });
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "{file}:{}:{}: {f}",
            f.line.unwrap_or(0),
            f.column.unwrap_or(0)
        )?;
    }
    Ok(())
}

fn report_unreadable(
    out: &mut impl Write,
    args: &Args,
    file: &str,
    at: Option<(usize, usize)>,
    message: &str,
) -> anyhow::Result<()> {
    let (line, column) = at.unwrap_or((0, 0));
    if args.json {
        let v = serde_json::json!({
            "file": file,
            "line": at.map(|a| a.0),
            "column": at.map(|a| a.1),
            "severity": "error",
            "code": "json",
            "object_id": null,
            "pointer": "",
            "message": message,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "{file}:{line}:{column}: error[json]: {message}")?;
    }
    Ok(())
}
