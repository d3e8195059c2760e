//! The scan: logs (ECS JSON lines, Suricata EVE, Zeek TSV, CSV; plain, gzip, standard input,
//! directories or bytes in memory, see [`input`]) matched against a compiled indicator set.
//!
//! Everything is resolved before the loop (indicators compiled, readers chosen, output mode);
//! the loop ([`scan`]) reads a line into one reused buffer, fills one reused record, probes the
//! compiled matcher and hands each hit to a [`ScanSink`] (one dynamic call per hit, none per
//! record). Sinks: [`HitWriter`] prints hits as text or JSON lines (`shieldwall scan`'s
//! standard output), [`HitAggregator`] aggregates them into sightings
//! ([`super::sightings`]), and a pair or an `Option` of sinks is a sink. Counters are kept
//! locally and returned as a [`ScanSummary`]; diagnostics and progress go to a
//! [`ScanObserver`], per problem and per batch of [`BATCH_LINES`] lines. The compiled set sits
//! behind an `ArcSwap`: with [`ScanOptions::follow_swaps`] a newly stored set is taken up between
//! batches, without locking the scan.

pub mod input;
mod parallel;

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use matcher::{Compiled, Hit, Scanner};
use telemetry::{FieldMap, FieldSet, Format, MAX_LINE, Reader, Record};

use self::input::{Input, OpenError};
use super::sightings::HitAggregator;

/// Lines between two progress reports (and looks for a newly swapped-in indicator set).
pub const BATCH_LINES: u64 = 4096;

/// How to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// The log format; `None` tells each input's format from its first line.
    pub format: Option<Format>,
    /// Extra or replacement field names for ECS JSON and CSV.
    pub field_map: Option<FieldMap>,
    /// The time of a hit whose record has none (nanoseconds since the Unix epoch).
    pub now: i64,
    /// Take up a newly stored indicator set between batches.
    pub follow_swaps: bool,
    /// How many malformed lines to report per input before only counting them.
    pub max_line_errors: u64,
    /// Threads reading and matching (0: one per core). With more than one, the inputs are cut
    /// into blocks of lines read in parallel and the hits are merged in input order (the
    /// same output as one thread); a set with patterns over several observations, or
    /// [`ScanOptions::follow_swaps`], scans on one thread.
    pub threads: usize,
}

/// What a scan read and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Inputs opened.
    pub files: u64,
    /// Lines read.
    pub lines: u64,
    /// Records read (lines that are log records, not headers or comments).
    pub records: u64,
    /// Malformed lines.
    pub malformed: u64,
    /// Hits.
    pub hits: u64,
    /// Inputs that could not be opened or read to their end.
    pub errors: u64,
    /// Bytes read from the inputs (compressed bytes for gzip).
    pub bytes: u64,
    /// The sink's output was closed (a broken pipe): the scan stopped there.
    pub broken_pipe: bool,
}

/// One hit, as the loop hands it to a [`ScanSink`].
#[derive(Debug, Clone, Copy)]
pub struct HitAt<'a> {
    /// The input's name.
    pub file: &'a str,
    /// The line number in the input (from 1).
    pub line: u64,
    /// The record's number in the whole scan (from 1).
    pub record_no: u64,
    /// The indicator set that matched.
    pub set: &'a Compiled,
    /// The hit.
    pub hit: &'a Hit,
    /// The record that matched.
    pub record: &'a Record,
    now: i64,
}

impl HitAt<'_> {
    /// The record's time, or the scan's `now` when it has none (nanoseconds).
    pub fn time(&self) -> i64 {
        self.record.timestamp().unwrap_or(self.now)
    }

    /// The id of the indicator hit.
    pub fn indicator_id(&self) -> &str {
        self.set.indicator_id(self.hit.indicator)
    }
}

/// Where a scan's hits go, one call per hit.
pub trait ScanSink {
    /// Takes one hit. An error stops the scan: a broken pipe quietly
    /// ([`ScanSummary::broken_pipe`]), any other as [`ScanError::Output`].
    fn hit(&mut self, at: &HitAt<'_>) -> io::Result<()>;

    /// Whether the sink reads more of a hit's record than the hit's own value and time (e.g.
    /// observed data of the whole record): then the scan reads every field of every record,
    /// not only those the indicators can hit.
    fn whole_records(&self) -> bool {
        false
    }
}

impl<S: ScanSink + ?Sized> ScanSink for &mut S {
    fn hit(&mut self, at: &HitAt<'_>) -> io::Result<()> {
        (**self).hit(at)
    }
    fn whole_records(&self) -> bool {
        (**self).whole_records()
    }
}

impl<S: ScanSink> ScanSink for Option<S> {
    fn hit(&mut self, at: &HitAt<'_>) -> io::Result<()> {
        match self {
            Some(s) => s.hit(at),
            None => Ok(()),
        }
    }
    fn whole_records(&self) -> bool {
        self.as_ref().is_some_and(ScanSink::whole_records)
    }
}

/// Both sinks, the first first.
impl<A: ScanSink, B: ScanSink> ScanSink for (A, B) {
    fn hit(&mut self, at: &HitAt<'_>) -> io::Result<()> {
        self.0.hit(at)?;
        self.1.hit(at)
    }
    fn whole_records(&self) -> bool {
        self.0.whole_records() || self.1.whole_records()
    }
}

/// Hits aggregated per indicator into sightings (with observed data when kept).
impl ScanSink for HitAggregator {
    fn whole_records(&self) -> bool {
        self.keeps_observed()
    }

    fn hit(&mut self, at: &HitAt<'_>) -> io::Result<()> {
        self.record(at.indicator_id(), at.time(), || {
            matcher::record_to_observed_data(at.record, at.record_no)
        });
        Ok(())
    }
}

/// Every hit in a vector (tests, callers that want the hits as values).
impl ScanSink for Vec<FoundHit> {
    fn hit(&mut self, at: &HitAt<'_>) -> io::Result<()> {
        let fv = at.set.hit_value(at.hit, at.record);
        self.push(FoundHit {
            file: at.file.to_owned(),
            line: at.line,
            indicator: at.indicator_id().to_owned(),
            field: fv.map(|(f, _)| f.ecs_name().to_owned()),
            value: fv.map(|(_, v)| v.to_owned()),
            subdomain: at.hit.subdomain,
            inform: at.hit.inform,
        });
        Ok(())
    }
}

/// A hit as owned values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundHit {
    /// The input's name.
    pub file: String,
    /// The line number.
    pub line: u64,
    /// The indicator's id.
    pub indicator: String,
    /// The ECS name of the field that matched (`None`: the whole record did).
    pub field: Option<String>,
    /// The value that matched.
    pub value: Option<String>,
    /// The hit is a subdomain of an indicated domain.
    pub subdomain: bool,
    /// The value is on an "inform only" warninglist.
    pub inform: bool,
}

/// Prints hits, one line each: `FILE:LINE: INDICATOR [NAME] FIELD=VALUE …` or, with `json`,
/// one JSON object (`file`, `line`, `indicator`, `field`, `value`, and when known `name`,
/// `stix_path`, `subdomain`, `warninglist`, `time`).
#[derive(Debug)]
pub struct HitWriter<W: Write> {
    /// Where the hits are written (buffer it: one write per hit).
    pub w: W,
    /// JSON lines instead of text.
    pub json: bool,
}

impl<W: Write> ScanSink for HitWriter<W> {
    fn hit(&mut self, at: &HitAt<'_>) -> io::Result<()> {
        let (file, line, set, hit, rec) = (at.file, at.line, at.set, at.hit, at.record);
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

/// What a scan tells as it goes (none of it stops the scan).
#[derive(Debug)]
pub enum ScanEvent<'a> {
    /// An input could not be opened (counted in [`ScanSummary::errors`]).
    OpenFailed {
        /// The input's name.
        file: &'a str,
        /// Why.
        error: &'a OpenError,
    },
    /// An input could not be read past `line` (counted in [`ScanSummary::errors`]).
    ReadFailed {
        /// The input's name.
        file: &'a str,
        /// The line that could not be read.
        line: u64,
        /// Why.
        error: &'a io::Error,
    },
    /// A malformed line (only the first [`ScanOptions::max_line_errors`] of each input).
    Malformed {
        /// The input's name.
        file: &'a str,
        /// The line number.
        line: u64,
        /// What is wrong with it.
        message: &'a str,
    },
    /// At the end of an input, how many malformed lines were not reported one by one.
    MalformedNotShown {
        /// The input's name.
        file: &'a str,
        /// How many.
        count: u64,
    },
    /// Every [`BATCH_LINES`] lines of an input: the bytes read so far in the whole scan.
    Progress {
        /// Bytes read from the inputs so far.
        bytes: u64,
    },
}

/// Receives a scan's [`ScanEvent`]s.
pub trait ScanObserver {
    /// One event.
    fn event(&mut self, event: ScanEvent<'_>);
}

/// Ignores every event.
impl ScanObserver for () {
    fn event(&mut self, _: ScanEvent<'_>) {}
}

/// Why a scan stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The sink could not take a hit (other than a broken pipe).
    #[error(transparent)]
    Output(#[from] io::Error),
    /// A thread of a scan on several threads failed (a bug: a reader or the matcher
    /// panicked). The scan stops instead of waiting for the lost block; nothing after the
    /// failed block was handed to the sink.
    #[error("the scan failed in {file} near line {line}: {message}")]
    Failed {
        /// The input being read.
        file: String,
        /// The first line of the block being read.
        line: u64,
        /// The panic's message.
        message: String,
    },
}

/// Scans `inputs` in order against the set in `set` (taken up again between batches when
/// [`ScanOptions::follow_swaps`]), handing every hit to `sink` and every diagnostic to
/// `observer`. An input that cannot be opened or read is counted and skipped; malformed lines
/// are counted and do not stop the scan. Records are read only for the fields the set can hit
/// (`matcher::Compiled::needed_fields`), every field when the sink asks for whole records.
/// On several threads ([`ScanOptions::threads`]) the sink and the observer see the same hits
/// and events in the same order as on one.
pub fn scan(
    inputs: &[Input],
    set: &ArcSwap<Compiled>,
    opts: &ScanOptions,
    sink: &mut dyn ScanSink,
    observer: &mut dyn ScanObserver,
) -> Result<ScanSummary, ScanError> {
    let current = set.load_full();
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let whole = sink.whole_records();
    let needed = |c: &Compiled| {
        if whole {
            FieldSet::all()
        } else {
            c.needed_fields()
        }
    };
    if threads > 1 && !opts.follow_swaps && current.is_stateless() {
        let n = needed(&current);
        return parallel::scan(inputs, current, opts, n, threads, sink, observer);
    }
    scan_one_thread(inputs, set, opts, &needed, sink, observer)
}

fn scan_one_thread(
    inputs: &[Input],
    set: &ArcSwap<Compiled>,
    opts: &ScanOptions,
    needed_of: &dyn Fn(&Compiled) -> FieldSet,
    sink: &mut dyn ScanSink,
    observer: &mut dyn ScanObserver,
) -> Result<ScanSummary, ScanError> {
    let read_bytes = Arc::new(AtomicU64::new(0));
    let mut t = ScanSummary::default();
    let mut current = set.load_full();
    let mut needed = needed_of(&current);
    let mut scanner = Scanner::new(&current);
    let mut rec = Record::new();
    let mut hits: Vec<Hit> = Vec::new();
    let mut lines = input::Lines::new(MAX_LINE);
    'files: for input in inputs {
        let name = input.name();
        let counter = Arc::clone(&read_bytes);
        let mut r = match input.open(move |n| {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }) {
            Ok(r) => r,
            Err(e) => {
                observer.event(ScanEvent::OpenFailed {
                    file: &name,
                    error: &e,
                });
                t.errors += 1;
                continue;
            }
        };
        t.files += 1;
        let mut reader: Option<Reader> = opts
            .format
            .map(|f| Reader::restricted(f, opts.field_map.as_ref(), needed));
        let mut line_no = 0u64;
        let mut file_malformed = 0u64;
        lines.reset();
        loop {
            let (line, too_long) = match lines.next_line(&mut *r) {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    observer.event(ScanEvent::ReadFailed {
                        file: &name,
                        line: line_no + 1,
                        error: &e,
                    });
                    t.errors += 1;
                    break;
                }
            };
            line_no += 1;
            t.lines += 1;
            let reader = reader.get_or_insert_with(|| {
                Reader::restricted(Format::sniff(line), opts.field_map.as_ref(), needed)
            });
            let result = match too_long {
                Some(n) => Err(format!(
                    "line of {n} bytes is longer than the limit of 1 MiB"
                )),
                None => reader.read_line(line, &mut rec).map_err(|e| e.message),
            };
            match result {
                Ok(true) => {
                    t.records += 1;
                    hits.clear();
                    current.scan(&rec, &mut scanner, &mut hits);
                    for h in &hits {
                        t.hits += 1;
                        let at = HitAt {
                            file: &name,
                            line: line_no,
                            record_no: t.records,
                            set: &current,
                            hit: h,
                            record: &rec,
                            now: opts.now,
                        };
                        if let Err(e) = sink.hit(&at) {
                            if e.kind() == io::ErrorKind::BrokenPipe {
                                t.broken_pipe = true;
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
                    if file_malformed <= opts.max_line_errors {
                        observer.event(ScanEvent::Malformed {
                            file: &name,
                            line: line_no,
                            message: &message,
                        });
                    }
                }
            }
            // Per batch: progress, and a newly swapped-in indicator set.
            if line_no.is_multiple_of(BATCH_LINES) {
                observer.event(ScanEvent::Progress {
                    bytes: read_bytes.load(Ordering::Relaxed),
                });
                if opts.follow_swaps {
                    let latest = set.load_full();
                    if !Arc::ptr_eq(&latest, &current) {
                        current = latest;
                        scanner.reset(&current);
                        needed = needed_of(&current);
                        reader.restrict(needed);
                    }
                }
            }
        }
        if file_malformed > opts.max_line_errors {
            observer.event(ScanEvent::MalformedNotShown {
                file: &name,
                count: file_malformed - opts.max_line_errors,
            });
        }
    }
    t.bytes = read_bytes.load(Ordering::Relaxed);
    Ok(t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use matcher::{CompileOptions, Indicator};

    mod hostile;

    fn ind(id: &str, name: &str, pattern: &str) -> Indicator {
        Indicator {
            id: format!("indicator--{id}"),
            name: Some(name.to_owned()),
            pattern: pattern.to_owned(),
            pattern_type: "stix".into(),
            valid_from: None,
            valid_until: None,
            revoked: false,
            added: None,
            marking_refs: Vec::new(),
        }
    }

    const DOMAIN: &str = "00000000-0000-4000-8000-000000000001";
    const ADDRESS: &str = "00000000-0000-4000-8000-000000000002";
    const NEVER: &str = "00000000-0000-4000-8000-000000000003";

    fn set() -> ArcSwap<Compiled> {
        let (c, report) = matcher::compile(
            &[
                ind(DOMAIN, "c2", "[domain-name:value = 'c2.evil.example']"),
                ind(ADDRESS, "", "[ipv4-addr:value = '203.0.113.7']"),
                ind(NEVER, "never", "[ipv4-addr:value = '198.51.100.99']"),
            ],
            &CompileOptions::default(),
        );
        assert_eq!(report.compiled, 3, "{:?}", report.problems);
        ArcSwap::from_pointee(c)
    }

    fn dns(t: &str, q: &str) -> String {
        serde_json::json!({"@timestamp": t, "source": {"ip": "10.0.0.5"}, "dns": {"question": {"name": q}}})
            .to_string()
    }

    fn flow(t: &str, dst: &str) -> String {
        serde_json::json!({"@timestamp": t, "source": {"ip": "10.0.0.6"}, "destination": {"ip": dst, "port": 443}})
            .to_string()
    }

    /// Planted: line 2 (domain), line 5 (address), line 7 (domain). Decoys: names that contain
    /// the indicated domain (`c2.evil.example.org`, `xc2.evil.example`), neighbouring addresses
    /// (`203.0.113.70`, `203.0.113.6`); line 8 is malformed.
    fn log() -> String {
        [
            dns("2024-05-01T12:00:00Z", "www.example.org"),
            dns("2024-05-01T12:07:00Z", "c2.evil.example"),
            dns("2024-05-01T12:08:00Z", "c2.evil.example.org"),
            dns("2024-05-01T12:09:00Z", "xc2.evil.example"),
            flow("2024-05-01T13:00:00Z", "203.0.113.7"),
            flow("2024-05-01T13:01:00Z", "203.0.113.70"),
            dns("2024-05-01T12:30:59.250Z", "c2.evil.example"),
            "{\"@timestamp\": \"2024-05-01T12:00:00Z\", broken".to_owned(),
            flow("2024-05-01T13:02:00Z", "203.0.113.6"),
        ]
        .join("\n")
            + "\n"
    }

    fn memory(name: &str, text: &str) -> Input {
        Input::Memory {
            name: name.to_owned(),
            bytes: text.as_bytes().into(),
        }
    }

    fn opts() -> ScanOptions {
        ScanOptions {
            now: 42,
            max_line_errors: 20,
            ..ScanOptions::default()
        }
    }

    #[derive(Default)]
    struct Events(Vec<String>);

    impl ScanObserver for Events {
        fn event(&mut self, e: ScanEvent<'_>) {
            self.0.push(match e {
                ScanEvent::OpenFailed { file, error } => format!("open {file}: {error}"),
                ScanEvent::ReadFailed { file, line, .. } => format!("read {file}:{line}"),
                ScanEvent::Malformed { file, line, .. } => format!("malformed {file}:{line}"),
                ScanEvent::MalformedNotShown { file, count } => format!("more {file}: {count}"),
                ScanEvent::Progress { .. } => "progress".to_owned(),
            });
        }
    }

    #[test]
    fn planted_hits_are_found_and_decoys_are_not() {
        let text = log();
        let mut hits: Vec<FoundHit> = Vec::new();
        let mut events = Events::default();
        let s = scan(
            &[memory("a.json", &text)],
            &set(),
            &opts(),
            &mut hits,
            &mut events,
        )
        .unwrap();
        let found: Vec<(u64, &str, Option<&str>)> = hits
            .iter()
            .map(|h| (h.line, h.indicator.as_str(), h.value.as_deref()))
            .collect();
        let d = format!("indicator--{DOMAIN}");
        let a = format!("indicator--{ADDRESS}");
        assert_eq!(
            found,
            [
                (2, d.as_str(), Some("c2.evil.example")),
                (5, a.as_str(), Some("203.0.113.7")),
                (7, d.as_str(), Some("c2.evil.example")),
            ]
        );
        assert!(hits.iter().all(|h| h.file == "a.json" && !h.subdomain));
        assert_eq!(
            s,
            ScanSummary {
                files: 1,
                lines: 9,
                records: 8,
                malformed: 1,
                hits: 3,
                errors: 0,
                bytes: text.len() as u64,
                broken_pipe: false,
            }
        );
        assert_eq!(events.0, ["malformed a.json:8"]);
    }

    #[test]
    fn text_and_json_output() {
        let text = log();
        let mut out = HitWriter {
            w: Vec::new(),
            json: false,
        };
        scan(
            &[memory("a.json", &text)],
            &set(),
            &opts(),
            &mut out,
            &mut (),
        )
        .unwrap();
        let printed = String::from_utf8(out.w).unwrap();
        assert_eq!(
            printed,
            format!(
                "a.json:2: indicator--{DOMAIN} c2 dns.question.name=c2.evil.example\n\
                 a.json:5: indicator--{ADDRESS} destination.ip=203.0.113.7\n\
                 a.json:7: indicator--{DOMAIN} c2 dns.question.name=c2.evil.example\n"
            )
        );
        let mut out = HitWriter {
            w: Vec::new(),
            json: true,
        };
        scan(
            &[memory("a.json", &text)],
            &set(),
            &opts(),
            &mut out,
            &mut (),
        )
        .unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out.w)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1]["file"], "a.json");
        assert_eq!(lines[1]["line"], 5);
        assert_eq!(lines[1]["indicator"], format!("indicator--{ADDRESS}"));
        assert_eq!(lines[1]["field"], "destination.ip");
        assert_eq!(lines[1]["value"], "203.0.113.7");
        assert_eq!(lines[1]["stix_path"], "ipv4-addr:value");
        assert_eq!(lines[1]["time"], "2024-05-01T13:00:00.000Z");
        assert!(lines[1].get("name").is_none());
        assert_eq!(lines[0]["name"], "c2");
        assert_eq!(lines[2]["time"], "2024-05-01T12:30:59.250Z");
    }

    #[test]
    fn hits_aggregate_into_sightings_through_a_pair_of_sinks() {
        let text = log();
        let mut agg = HitAggregator::new(false);
        let mut hits: Vec<FoundHit> = Vec::new();
        scan(
            &[memory("a.json", &text)],
            &set(),
            &opts(),
            &mut (Some(&mut agg), &mut hits),
            &mut (),
        )
        .unwrap();
        assert_eq!(hits.len(), 3);
        assert_eq!(agg.len(), 2);
        let identity = "identity--00000000-0000-4000-8000-0000000000aa";
        let objects = agg.sightings(identity, stix::tlp::TlpLevel::Amber, 0);
        let domain = objects
            .iter()
            .find(|o| o["sighting_of_ref"] == format!("indicator--{DOMAIN}"))
            .unwrap();
        assert_eq!(domain["count"], 2);
        assert_eq!(domain["first_seen"], "2024-05-01T12:07:00.000Z");
        assert_eq!(domain["last_seen"], "2024-05-01T12:30:59.250Z");
        assert!(
            !objects
                .iter()
                .any(|o| o["sighting_of_ref"] == format!("indicator--{NEVER}"))
        );
    }

    #[test]
    fn several_inputs_gzip_errors_and_the_malformed_limit() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(log().as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let broken = "not json\n".repeat(5);
        let inputs = [
            Input::Memory {
                name: "b.json.gz".into(),
                bytes: gz.into(),
            },
            Input::File("/nonexistent/x.log".into()),
            memory("c.json", &broken),
        ];
        let mut hits: Vec<FoundHit> = Vec::new();
        let mut events = Events::default();
        let s = scan(
            &inputs,
            &set(),
            &ScanOptions {
                max_line_errors: 2,
                format: Some(Format::Ecs),
                ..opts()
            },
            &mut hits,
            &mut events,
        )
        .unwrap();
        assert_eq!((s.files, s.errors, s.hits, s.malformed), (2, 1, 3, 6));
        assert!(hits.iter().all(|h| h.file == "b.json.gz"));
        assert_eq!(
            events.0,
            [
                "malformed b.json.gz:8",
                "open /nonexistent/x.log: cannot open /nonexistent/x.log: No such file or directory (os error 2)",
                "malformed c.json:1",
                "malformed c.json:2",
                "more c.json: 3",
            ]
        );
    }

    #[test]
    fn a_closed_output_stops_the_scan_quietly() {
        struct Closed(u32);
        impl ScanSink for Closed {
            fn hit(&mut self, _: &HitAt<'_>) -> io::Result<()> {
                self.0 += 1;
                Err(io::ErrorKind::BrokenPipe.into())
            }
        }
        struct Failing;
        impl ScanSink for Failing {
            fn hit(&mut self, _: &HitAt<'_>) -> io::Result<()> {
                Err(io::Error::other("disk full"))
            }
        }
        let text = log();
        let inputs = [memory("a.json", &text), memory("b.json", &text)];
        let mut closed = Closed(0);
        let s = scan(&inputs, &set(), &opts(), &mut closed, &mut ()).unwrap();
        assert!(s.broken_pipe);
        assert_eq!((closed.0, s.hits, s.files), (1, 1, 1));
        let e = scan(&inputs, &set(), &opts(), &mut Failing, &mut ()).unwrap_err();
        assert_eq!(e.to_string(), "disk full");
    }

    #[test]
    fn a_swapped_set_is_taken_up_between_batches_only_when_followed() {
        // Two batches of lines, every one naming the address of the `NEVER` indicator after
        // the swap: hits only in the second batch, and only when swaps are followed.
        let mut lines = Vec::new();
        for _ in 0..2 * BATCH_LINES {
            lines.push(flow("2024-05-01T13:00:00Z", "198.51.100.98"));
        }
        let text = lines.join("\n") + "\n";
        for follow in [false, true] {
            let swap = set();
            let mut hits: Vec<FoundHit> = Vec::new();
            struct SwapAtFirstBatch<'a> {
                swap: &'a ArcSwap<Compiled>,
                done: bool,
            }
            impl ScanObserver for SwapAtFirstBatch<'_> {
                fn event(&mut self, e: ScanEvent<'_>) {
                    if matches!(e, ScanEvent::Progress { .. }) && !self.done {
                        self.done = true;
                        let (c, _) = matcher::compile(
                            &[ind(NEVER, "", "[ipv4-addr:value = '198.51.100.98']")],
                            &CompileOptions::default(),
                        );
                        self.swap.store(Arc::new(c));
                    }
                }
            }
            let mut obs = SwapAtFirstBatch {
                swap: &swap,
                done: false,
            };
            let s = scan(
                &[memory("f.json", &text)],
                &swap,
                &ScanOptions {
                    follow_swaps: follow,
                    ..opts()
                },
                &mut hits,
                &mut obs,
            )
            .unwrap();
            let expect = if follow { BATCH_LINES } else { 0 };
            assert_eq!(s.hits, expect, "follow_swaps = {follow}");
            assert!(hits.iter().all(|h| h.line > BATCH_LINES));
        }
    }

    /// Many blocks of ECS, EVE and Zeek lines (Zeek with its header again in the middle), gzip,
    /// malformed and too long lines, a missing file: every thread count gives the one-thread
    /// scan's hits, output bytes, events and counts; the hits are the planted values.
    #[test]
    fn every_thread_count_gives_the_one_thread_scan() {
        use telemetry::sample::{Spec, generate, standard_plants};
        let mut inputs = Vec::new();
        let mut planted = 0;
        let mut plants_all = Vec::new();
        for (k, format) in [Format::Ecs, Format::Eve, Format::Zeek]
            .into_iter()
            .enumerate()
        {
            let plants = standard_plants(format);
            plants_all.extend(plants.iter().map(|(_, v)| v.clone()));
            let (files, p) = generate(&Spec {
                format,
                events: 12_000,
                plants,
                malformed: 30,
                seed: 5 + k as u64,
            });
            planted += p.len();
            for f in files {
                let mut text = f.text;
                if format == Format::Zeek {
                    // The same log again, header and all, in the same file.
                    text = text.clone() + &text;
                } else {
                    text.push_str(&"x".repeat(MAX_LINE + 10));
                    text.push('\n');
                }
                inputs.push(memory(&format!("{k}-{}", f.name), &text));
            }
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, log().as_bytes()).unwrap();
        inputs.insert(
            1,
            Input::Memory {
                name: "g.json.gz".into(),
                bytes: gz.finish().unwrap().into(),
            },
        );
        inputs.insert(2, Input::File("/nonexistent/y.log".into()));
        let mut inds = Vec::new();
        for (i, v) in plants_all.iter().enumerate() {
            let p = if v.contains("://") {
                format!("[url:value = '{v}']")
            } else if v.parse::<std::net::IpAddr>().is_ok() {
                let t = if v.contains(':') {
                    "ipv6-addr"
                } else {
                    "ipv4-addr"
                };
                format!("[{t}:value = '{v}']")
            } else if v.len() == 64 && !v.contains('.') {
                format!(
                    "[file:hashes.'SHA-256' = '{v}'] OR [x509-certificate:hashes.'SHA-256' = '{v}']"
                )
            } else if v.len() == 40 && !v.contains('.') {
                format!("[x509-certificate:hashes.'SHA-1' = '{v}']")
            } else if v.len() == 32 && !v.contains('.') {
                format!("[file:hashes.MD5 = '{v}']")
            } else if v.ends_with(".exe") {
                format!("[file:name = '{v}']")
            } else {
                format!("[domain-name:value = '{v}']")
            };
            inds.push(ind(&format!("00000000-0000-4000-8000-{i:012}"), "p", &p));
        }
        inds.push(ind(DOMAIN, "c2", "[domain-name:value = 'c2.evil.example']"));
        let (c, report) = matcher::compile(&inds, &CompileOptions::default());
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let set = ArcSwap::from_pointee(c);
        let run = |threads: usize| {
            let mut out = HitWriter {
                w: Vec::new(),
                json: true,
            };
            let mut hits: Vec<FoundHit> = Vec::new();
            let mut events = Events::default();
            let s = scan(
                &inputs,
                &set,
                &ScanOptions { threads, ..opts() },
                &mut (&mut out, &mut hits),
                &mut events,
            )
            .unwrap();
            (s, out.w, hits, events.0)
        };
        let one = run(1);
        assert!(one.0.hits as usize >= planted, "{:?}", one.0);
        assert!(one.0.lines > 40_000 && one.0.malformed > 90, "{:?}", one.0);
        assert!(one.3.iter().filter(|e| *e == "progress").count() >= 4);
        for threads in [2, 3, 8] {
            let many = run(threads);
            assert_eq!(many.0, one.0, "{threads} threads");
            assert!(many.1 == one.1, "{threads} threads: output differs");
            assert_eq!(many.2, one.2, "{threads} threads");
            assert_eq!(many.3, one.3, "{threads} threads");
        }
        // And the hits are those of the general reader reading every field, record by record.
        let mut truth = Vec::new();
        let current = set.load_full();
        let mut scanner = Scanner::new(&current);
        for input in &inputs {
            let Input::Memory { name, .. } = input else {
                continue;
            };
            let mut r = input.open(|_| {}).unwrap();
            let mut text = Vec::new();
            io::Read::read_to_end(&mut r, &mut text).unwrap();
            let mut reader: Option<Reader> = None;
            let mut rec = Record::new();
            for (i, line) in text.split(|&b| b == b'\n').enumerate() {
                let reader = reader.get_or_insert_with(|| Reader::new(Format::sniff(line), None));
                if line.len() <= MAX_LINE && reader.read_line(line, &mut rec) == Ok(true) {
                    let mut hits = Vec::new();
                    current.scan(&rec, &mut scanner, &mut hits);
                    for h in hits {
                        let fv = current.hit_value(&h, &rec).unwrap();
                        truth.push((
                            name.clone(),
                            i as u64 + 1,
                            current.indicator_id(h.indicator).to_owned(),
                            fv.1.to_owned(),
                        ));
                    }
                }
            }
        }
        let got: Vec<_> = one
            .2
            .iter()
            .map(|h| {
                (
                    h.file.clone(),
                    h.line,
                    h.indicator.clone(),
                    h.value.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, truth);
    }
}
