//! Telemetry readers: turn log lines into observation [`Record`]s for the matcher.
//!
//! Formats: JSON lines with Elastic Common Schema names (or any names, through a [`FieldMap`]),
//! Suricata EVE JSON (`dns`, `http`, `tls`, `flow`, `fileinfo`, `alert`), Zeek TSV logs
//! (`conn`, `dns`, `http`, `files`, `ssl`, `x509`, driven by their `#fields` header) and CSV with
//! a header line. Values are normalised on the way in (addresses in canonical text, DNS names
//! in lower case, digests in lower-case hex), so the matcher compares like with like.
//!
//! Design: a push model. The caller splits lines and hands each to [`Reader::read_line`] with a
//! reused [`Record`]; the reader keeps header state (Zeek, CSV) and reused buffers, so a scan
//! allocates nothing per record once the buffers have grown. A malformed line is an error for
//! that line only ([`LineError`]); the caller reports it with its line number and goes on.
//!
//! What it must never do: perform I/O (no files, no decompression, no clock), or panic on any
//! input. [`sample`] generates logs with planted values for tests and benchmarks, in memory.

pub mod canon;
mod csv;
pub mod field;
mod json;
pub mod map;
pub mod record;
pub mod sample;
mod scanjson;
pub mod time;
mod zeek;

pub use field::{Field, FieldSet, ObjectSlot, ValueKind};
pub use map::{FieldMap, MapError, Target};
pub use record::{Entry, MAX_VALUES, Record, Rejected};

use std::fmt;
use std::str::FromStr;

/// Lines longer than this are refused (1 MiB): a log line that long is not a log line.
pub const MAX_LINE: usize = 1 << 20;

/// A log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON lines named after the Elastic Common Schema (or a custom field map).
    Ecs,
    /// Suricata EVE JSON.
    Eve,
    /// Zeek TSV.
    Zeek,
    /// CSV with a header line.
    Csv,
}

impl Format {
    /// Guesses the format from the first non-empty line of a log: a Zeek header, a JSON object
    /// (EVE when it has `event_type`), else CSV.
    pub fn sniff(first_line: &[u8]) -> Format {
        let t = first_line.trim_ascii_start();
        if t.starts_with(b"#separator") || t.starts_with(b"#fields") {
            Format::Zeek
        } else if t.starts_with(b"{") {
            if memfind(t, b"\"event_type\"") {
                Format::Eve
            } else {
                Format::Ecs
            }
        } else {
            Format::Csv
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Ecs => "ecs",
            Format::Eve => "eve",
            Format::Zeek => "zeek",
            Format::Csv => "csv",
        }
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ecs" | "json" => Ok(Format::Ecs),
            "eve" | "suricata" => Ok(Format::Eve),
            "zeek" => Ok(Format::Zeek),
            "csv" => Ok(Format::Csv),
            _ => Err(format!(
                "unknown log format `{s}` (expected ecs, eve, zeek or csv)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why one line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LineError {
    /// What is wrong, in a sentence (with a column where one is known).
    pub message: String,
}

/// A problem at a line, from [`Reader::read_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// A reader for one log stream (one file): holds the format's header state and reused buffers.
#[derive(Debug, Clone)]
pub struct Reader {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    Json {
        map: FieldMap,
        path: String,
        /// The scan's reader, when restricted to some fields.
        fast: Option<Box<scanjson::Plan>>,
        scratch: Vec<u8>,
    },
    Zeek(zeek::ZeekState),
    Csv {
        map: FieldMap,
        state: csv::CsvState,
    },
}

impl Reader {
    /// A reader for `format`. `map` applies to ECS JSON and CSV (`None`: ECS names); EVE and
    /// Zeek have fixed names.
    pub fn new(format: Format, map: Option<&FieldMap>) -> Reader {
        let mut r = Reader::restricted(format, map, FieldSet::all());
        if let Inner::Json { fast, .. } = &mut r.inner {
            *fast = None;
        }
        r
    }

    /// A reader whose records hold only the fields of `needed` (and those [`Record::finish`]
    /// builds `url.full` from), as a scan asks for the fields its indicators can hit
    /// (`matcher::Compiled::needed_fields`): the other fields are skipped without being
    /// normalised, JSON lines are read by a one-pass reader that finds only the needed paths.
    /// The values it does store, and the lines it refuses (with the same messages), are the
    /// general reader's, so a scan's hits are the same.
    pub fn restricted(format: Format, map: Option<&FieldMap>, needed: FieldSet) -> Reader {
        let needed = needed.with_helpers();
        let map = || map.cloned().unwrap_or_else(FieldMap::ecs);
        let json = |map: FieldMap| {
            let fast = Some(Box::new(scanjson::Plan::new(&map, needed)));
            Inner::Json {
                map,
                path: String::new(),
                fast,
                scratch: Vec::new(),
            }
        };
        let inner = match format {
            Format::Ecs => json(map()),
            Format::Eve => json(FieldMap::eve()),
            Format::Zeek => Inner::Zeek(zeek::ZeekState::new(needed)),
            Format::Csv => Inner::Csv {
                map: map(),
                state: csv::CsvState::default(),
            },
        };
        Reader { inner }
    }

    /// Reads one line (without its line terminator; a trailing `\r` is ignored) into `rec`.
    /// `Ok(true)`: `rec` holds a record; `Ok(false)`: the line was a header, a comment or blank.
    pub fn read_line(&mut self, line: &[u8], rec: &mut Record) -> Result<bool, LineError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        rec.clear();
        if line.len() > MAX_LINE {
            return Err(LineError {
                message: format!(
                    "line of {} bytes is longer than the limit of 1 MiB",
                    line.len()
                ),
            });
        }
        if line.trim_ascii().is_empty() {
            return Ok(false);
        }
        let r = match &mut self.inner {
            Inner::Json {
                map,
                path,
                fast,
                scratch,
            } => match fast {
                Some(plan)
                    if scanjson::read(plan, line, rec, scratch) == scanjson::Outcome::Done =>
                {
                    Ok(true)
                }
                _ => json::read_json_line(map, path, line, rec).map(|()| true),
            },
            Inner::Zeek(z) => utf8(line).and_then(|l| z.read_line(l, rec)),
            Inner::Csv { map, state } => utf8(line).and_then(|l| state.read_line(map, l, rec)),
        };
        match r {
            Ok(true) => {
                rec.finish();
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(message) => {
                rec.clear();
                Err(LineError { message })
            }
        }
    }

    /// Restricts (or widens) the fields read from now on, keeping the header state (a scan
    /// that took up another indicator set in the middle of a log).
    pub fn restrict(&mut self, needed: FieldSet) {
        let needed = needed.with_helpers();
        match &mut self.inner {
            Inner::Json { map, fast, .. } => {
                *fast = Some(Box::new(scanjson::Plan::new(map, needed)));
            }
            Inner::Zeek(z) => z.restrict(needed),
            Inner::Csv { .. } => {}
        }
    }

    /// Follows the header lines among a log's lines (Zeek's `#` lines, the CSV header) without
    /// reading records, so that a clone of this reader can start reading the log after `line`
    /// as a reader that had read every line before it would (a scan cut into parts).
    pub fn skim(&mut self, line: &[u8], rec: &mut Record) {
        let header = match &self.inner {
            Inner::Json { .. } => false,
            Inner::Zeek(_) => line.first() == Some(&b'#'),
            Inner::Csv { state, .. } => !state.has_header(),
        };
        if header {
            let _ = self.read_line(line, rec);
        }
    }

    /// Whether [`Reader::skim`] can change this reader (Zeek and CSV: header lines).
    pub fn has_header_state(&self) -> bool {
        !matches!(self.inner, Inner::Json { .. })
    }

    /// Reads a whole text, calling `f(line_number, record)` for each record; returns the
    /// problems. For tests and small inputs; the CLI streams with [`Reader::read_line`].
    pub fn read_all(&mut self, text: &[u8], mut f: impl FnMut(u64, &Record)) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let mut rec = Record::new();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let n = i as u64 + 1;
            match self.read_line(line, &mut rec) {
                Ok(true) => f(n, &rec),
                Ok(false) => {}
                Err(e) => diags.push(Diagnostic {
                    line: n,
                    message: e.message,
                }),
            }
        }
        diags
    }
}

fn utf8(line: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(line).map_err(|e| format!("not UTF-8 (byte {})", e.valid_up_to() + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(Format::sniff(b"#separator \\x09"), Format::Zeek);
        assert_eq!(
            Format::sniff(br#"{"timestamp":"x","event_type":"dns"}"#),
            Format::Eve
        );
        assert_eq!(Format::sniff(br#" {"@timestamp":"x"}"#), Format::Ecs);
        assert_eq!(Format::sniff(b"source.ip,destination.ip"), Format::Csv);
    }

    #[test]
    fn errors_name_the_problem_and_reading_goes_on() {
        let mut r = Reader::new(Format::Ecs, None);
        let text = b"{\"source\":{\"ip\":\"1.2.3.4\"}}\n{broken\n\n\xff\xfe\n{\"source\":{\"ip\":\"5.6.7.8\"}}\r\n";
        let mut seen = Vec::new();
        let diags = r.read_all(text, |n, rec| {
            seen.push((n, rec.get(Field::SourceIp).map(str::to_owned)))
        });
        assert_eq!(
            seen,
            vec![(1, Some("1.2.3.4".into())), (5, Some("5.6.7.8".into()))]
        );
        assert_eq!(diags.iter().map(|d| d.line).collect::<Vec<_>>(), vec![2, 4]);
        assert!(
            diags[0]
                .message
                .starts_with("invalid JSON: key must be a string at line 1 column 2"),
            "{}",
            diags[0].message
        );
        let mut z = Reader::new(Format::Zeek, None);
        let d = z.read_all(b"#fields\tts\n\xff", |_, _| {});
        assert_eq!(d[0].message, "not UTF-8 (byte 1)");
    }
}
