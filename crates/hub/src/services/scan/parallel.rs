//! The scan on several threads: one thread reads the inputs in order (decompressing gzip) and
//! cuts them into blocks of whole lines; worker threads read and match the blocks; the calling
//! thread merges the blocks' hits and diagnostics in input order, so that the sinks and the
//! observer see exactly what the one-thread loop would give them (same hits, same line and
//! record numbers, same order).
//!
//! A block carries the reader as it stood before its first line (`telemetry::Reader::skim`
//! follows Zeek and CSV header lines on the reading thread), so a block can be read on its own.
//! Only sets that keep no state between records are scanned this way
//! (`matcher::Compiled::is_stateless`): a pattern over several observations needs the records
//! in order on one scanner. At most a few blocks per worker are in flight (a token channel
//! bounds the reading thread), so memory stays bounded whatever the input's size.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use matcher::{Compiled, Hit, Scanner};
use telemetry::{FieldSet, Format, MAX_LINE, Reader, Record};

use super::input::{self, Input, Line, OpenError};
use super::{
    BATCH_LINES, HitAt, ScanError, ScanEvent, ScanObserver, ScanOptions, ScanSink, ScanSummary,
};

/// Bytes of lines per block (a block ends with the line that reaches it).
const BLOCK: usize = 1 << 20;

/// What the reading thread tells the merging thread, in input order.
enum Note {
    OpenFailed(usize, OpenError),
    Opened(usize),
    Block(u64),
    ReadFailed(usize, io::Error),
    Done(usize),
}

/// Lines for a worker.
struct Job {
    seq: u64,
    text: Vec<u8>,
    /// Lines longer than the limit: (line index in the block, full length); their text is cut.
    long: Vec<(u64, usize)>,
    lines: u64,
    reader: Option<Reader>,
    /// Bytes read from the inputs when the block was cut (for the progress bar).
    bytes: u64,
}

/// What a worker found in a block.
#[derive(Default)]
struct Found {
    lines: u64,
    records: u64,
    malformed: u64,
    /// The first malformed lines (index in the block, message).
    shown: Vec<(u64, String)>,
    /// (line index in the block, record number in the block, hit, index into `records`).
    hits: Vec<(u64, u64, Hit, usize)>,
    kept: Vec<Record>,
    bytes: u64,
}

pub(super) fn scan(
    inputs: &[Input],
    set: Arc<Compiled>,
    opts: &ScanOptions,
    needed: FieldSet,
    threads: usize,
    sink: &mut dyn ScanSink,
    observer: &mut dyn ScanObserver,
) -> Result<ScanSummary, ScanError> {
    let read_bytes = Arc::new(AtomicU64::new(0));
    let stop = AtomicBool::new(false);
    let names: Vec<String> = inputs.iter().map(Input::name).collect();
    let (note_tx, note_rx) = channel::<Note>();
    let (job_tx, job_rx) = sync_channel::<Job>(threads);
    let job_rx = Mutex::new(job_rx);
    let (found_tx, found_rx) = channel::<(u64, Found)>();
    // A counting semaphore: the reading thread takes a token per block, the merger gives it
    // back when the block is merged.
    let (token_tx, token_rx) = sync_channel::<()>(threads * 3);
    std::thread::scope(|s| {
        {
            let read_bytes = Arc::clone(&read_bytes);
            let stop = &stop;
            s.spawn(move || {
                read_inputs(
                    inputs,
                    opts,
                    needed,
                    &read_bytes,
                    stop,
                    &note_tx,
                    &job_tx,
                    &token_tx,
                );
            });
        }
        for _ in 0..threads {
            let (job_rx, found_tx, set, stop) = (&job_rx, found_tx.clone(), &set, &stop);
            let max_shown = opts.max_line_errors;
            s.spawn(move || work(job_rx, &found_tx, set, max_shown, stop));
        }
        drop(found_tx);
        let r = merge(
            &stop,
            &names,
            &set,
            opts,
            sink,
            observer,
            note_rx,
            found_rx,
            token_rx,
            &read_bytes,
        );
        stop.store(true, Ordering::Relaxed);
        r
    })
}

#[allow(clippy::too_many_arguments)]
fn read_inputs(
    inputs: &[Input],
    opts: &ScanOptions,
    needed: FieldSet,
    read_bytes: &Arc<AtomicU64>,
    stop: &AtomicBool,
    notes: &std::sync::mpsc::Sender<Note>,
    jobs: &SyncSender<Job>,
    tokens: &SyncSender<()>,
) {
    let mut seq = 0u64;
    let new_job = |seq: u64| Job {
        seq,
        text: Vec::with_capacity(BLOCK + 64 * 1024),
        long: Vec::new(),
        lines: 0,
        reader: None,
        bytes: 0,
    };
    // Sends a block; `false` when the merger has stopped.
    let flush = |job: &mut Job, seq: &mut u64| -> bool {
        if job.lines == 0 {
            return true;
        }
        job.bytes = read_bytes.load(Ordering::Relaxed);
        let next = new_job(*seq + 1);
        let full = std::mem::replace(job, next);
        let ok = tokens.send(()).is_ok()
            && notes.send(Note::Block(full.seq)).is_ok()
            && jobs.send(full).is_ok();
        *seq += 1;
        ok
    };
    let mut skim_rec = Record::new();
    for (i, input) in inputs.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let counter = Arc::clone(read_bytes);
        let mut r = match input.open(move |n| {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }) {
            Ok(r) => r,
            Err(e) => {
                if notes.send(Note::OpenFailed(i, e)).is_err() {
                    return;
                }
                continue;
            }
        };
        if notes.send(Note::Opened(i)).is_err() {
            return;
        }
        let mut reader: Option<Reader> = opts
            .format
            .map(|f| Reader::restricted(f, opts.field_map.as_ref(), needed));
        let mut job = new_job(seq);
        loop {
            let start = job.text.len();
            let got = input::read_line_into(&mut *r, &mut job.text, MAX_LINE);
            let got = match got {
                Ok(Line::Eof) => break,
                Ok(g) => g,
                Err(e) => {
                    job.text.truncate(start);
                    if !flush(&mut job, &mut seq) || notes.send(Note::ReadFailed(i, e)).is_err() {
                        return;
                    }
                    break;
                }
            };
            let line = &job.text[start..];
            let reader = reader.get_or_insert_with(|| {
                Reader::restricted(Format::sniff(line), opts.field_map.as_ref(), needed)
            });
            if job.lines == 0 {
                job.reader = Some(reader.clone());
            }
            match got {
                Line::TooLong(n) => job.long.push((job.lines, n)),
                _ if reader.has_header_state() => reader.skim(line, &mut skim_rec),
                _ => {}
            }
            job.text.push(b'\n');
            job.lines += 1;
            if job.text.len() >= BLOCK {
                if !flush(&mut job, &mut seq) {
                    return;
                }
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            }
        }
        if !flush(&mut job, &mut seq) || notes.send(Note::Done(i)).is_err() {
            return;
        }
    }
}

fn work(
    jobs: &Mutex<Receiver<Job>>,
    found: &std::sync::mpsc::Sender<(u64, Found)>,
    set: &Compiled,
    max_shown: u64,
    stop: &AtomicBool,
) {
    let mut scanner = Scanner::new(set);
    let mut rec = Record::new();
    let mut hits: Vec<Hit> = Vec::new();
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            }
        };
        let mut out = Found {
            bytes: job.bytes,
            ..Found::default()
        };
        // After the merger stopped, blocks are only drained (the reading thread then stops).
        let Some(mut reader) = job.reader.filter(|_| !stop.load(Ordering::Relaxed)) else {
            continue;
        };
        let text = &job.text[..];
        let mut at = 0usize;
        let mut long = job.long.iter().peekable();
        for idx in 0..job.lines {
            let end = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |p| at + p);
            let line = &text[at..end];
            at = end + 1;
            let result = match long.peek() {
                Some(&&(l, n)) if l == idx => {
                    long.next();
                    Err(format!(
                        "line of {n} bytes is longer than the limit of 1 MiB"
                    ))
                }
                _ => reader.read_line(line, &mut rec).map_err(|e| e.message),
            };
            match result {
                Ok(true) => {
                    out.records += 1;
                    hits.clear();
                    set.scan(&rec, &mut scanner, &mut hits);
                    if !hits.is_empty() {
                        out.kept.push(rec.clone());
                        for h in &hits {
                            out.hits.push((idx, out.records, *h, out.kept.len() - 1));
                        }
                    }
                }
                Ok(false) => {}
                Err(m) => {
                    out.malformed += 1;
                    if (out.shown.len() as u64) < max_shown {
                        out.shown.push((idx, m));
                    }
                }
            }
        }
        out.lines = job.lines;
        if found.send((job.seq, out)).is_err() {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn merge(
    stop: &AtomicBool,
    names: &[String],
    set: &Arc<Compiled>,
    opts: &ScanOptions,
    sink: &mut dyn ScanSink,
    observer: &mut dyn ScanObserver,
    notes: Receiver<Note>,
    found: Receiver<(u64, Found)>,
    tokens: Receiver<()>,
    read_bytes: &AtomicU64,
) -> Result<ScanSummary, ScanError> {
    let _stop = StopOnDrop(stop);
    let mut t = ScanSummary::default();
    let mut waiting: BTreeMap<u64, Found> = BTreeMap::new();
    let mut file = 0usize;
    let mut line_base = 0u64;
    let mut file_malformed = 0u64;
    while let Ok(note) = notes.recv() {
        match note {
            Note::OpenFailed(i, e) => {
                observer.event(ScanEvent::OpenFailed {
                    file: &names[i],
                    error: &e,
                });
                t.errors += 1;
            }
            Note::Opened(i) => {
                t.files += 1;
                file = i;
                line_base = 0;
                file_malformed = 0;
            }
            Note::Block(seq) => {
                let out = loop {
                    if let Some(o) = waiting.remove(&seq) {
                        break o;
                    }
                    match found.recv() {
                        Ok((s, o)) => {
                            waiting.insert(s, o);
                        }
                        // A worker died: nothing more will come.
                        Err(_) => {
                            t.bytes = read_bytes.load(Ordering::Relaxed);
                            return Ok(t);
                        }
                    }
                };
                let name = &names[file];
                let mut shown = out.shown.iter().peekable();
                let record_base = t.records;
                for (idx, rec_no, hit, kept) in &out.hits {
                    while let Some((l, m)) = shown.next_if(|(l, _)| l < idx) {
                        file_malformed += 1;
                        malformed(observer, opts, name, line_base + l + 1, m, file_malformed);
                    }
                    t.hits += 1;
                    let at = HitAt {
                        file: name,
                        line: line_base + idx + 1,
                        record_no: record_base + rec_no,
                        set,
                        hit,
                        record: &out.kept[*kept],
                        now: opts.now,
                    };
                    if let Err(e) = sink.hit(&at) {
                        t.records += out.records;
                        t.lines += out.lines;
                        t.malformed += out.malformed;
                        t.bytes = read_bytes.load(Ordering::Relaxed);
                        if e.kind() == io::ErrorKind::BrokenPipe {
                            t.broken_pipe = true;
                            return Ok(t);
                        }
                        return Err(e.into());
                    }
                }
                for (l, m) in shown {
                    file_malformed += 1;
                    malformed(observer, opts, name, line_base + l + 1, m, file_malformed);
                }
                // Lines not shown one by one still count against the file's limit.
                file_malformed += out.malformed - out.shown.len() as u64;
                // Progress as the one-thread loop reports it: at every BATCH_LINES-th line.
                let batches = (line_base + out.lines) / BATCH_LINES - line_base / BATCH_LINES;
                for _ in 0..batches {
                    observer.event(ScanEvent::Progress { bytes: out.bytes });
                }
                line_base += out.lines;
                t.lines += out.lines;
                t.records += out.records;
                t.malformed += out.malformed;
                let _ = tokens.try_recv();
            }
            Note::ReadFailed(i, e) => {
                observer.event(ScanEvent::ReadFailed {
                    file: &names[i],
                    line: line_base + 1,
                    error: &e,
                });
                t.errors += 1;
            }
            Note::Done(i) => {
                if file_malformed > opts.max_line_errors {
                    observer.event(ScanEvent::MalformedNotShown {
                        file: &names[i],
                        count: file_malformed - opts.max_line_errors,
                    });
                }
            }
        }
    }
    t.bytes = read_bytes.load(Ordering::Relaxed);
    Ok(t)
}

/// Stops the other threads when the merger returns (its receivers are dropped with it).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn malformed(
    observer: &mut dyn ScanObserver,
    opts: &ScanOptions,
    file: &str,
    line: u64,
    message: &str,
    nth: u64,
) {
    if nth <= opts.max_line_errors {
        observer.event(ScanEvent::Malformed {
            file,
            line,
            message,
        });
    }
}
