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
use std::io::{self, BufRead};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use matcher::{Compiled, Hit, Scanner};
use telemetry::{FieldSet, Format, MAX_LINE, Reader, Record};

use super::input::{Input, OpenError};
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
    /// The reading thread panicked (a bug): the scan stops with an error.
    Failed(String),
}

/// Lines for a worker.
struct Job {
    seq: u64,
    text: Vec<u8>,
    /// Lines longer than the limit whose end was not in the block's buffer: (line index in
    /// the block, full length); their text is left out (an empty line stands in).
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
    let (found_tx, found_rx) = channel::<(u64, Result<Found, String>)>();
    // Blocks' buffers go back to the reading thread once read (no allocation per block).
    let (free_tx, free_rx) = channel::<Vec<u8>>();
    // A counting semaphore: the reading thread takes a token per block, the merger gives it
    // back when the block is merged.
    let (token_tx, token_rx) = sync_channel::<()>(threads * 3);
    std::thread::scope(|s| {
        {
            let read_bytes = Arc::clone(&read_bytes);
            let stop = &stop;
            s.spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| {
                    read_inputs(
                        inputs,
                        opts,
                        needed,
                        &read_bytes,
                        stop,
                        &note_tx,
                        &job_tx,
                        &token_tx,
                        &free_rx,
                    );
                });
                if let Err(p) = std::panic::catch_unwind(run) {
                    let _ = note_tx.send(Note::Failed(panic_message(&*p)));
                }
            });
        }
        for _ in 0..threads {
            let (job_rx, found_tx, set, stop) = (&job_rx, found_tx.clone(), &set, &stop);
            let free_tx = free_tx.clone();
            let max_shown = opts.max_line_errors;
            s.spawn(move || work(job_rx, &found_tx, &free_tx, set, max_shown, stop));
        }
        drop(free_tx);
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
    free: &Receiver<Vec<u8>>,
) {
    let mut seq = 0u64;
    let new_job = |seq: u64| Job {
        seq,
        text: free.try_recv().map_or_else(
            |_| Vec::with_capacity(BLOCK + 64 * 1024),
            |mut t| {
                t.clear();
                t
            },
        ),
        long: Vec::new(),
        lines: 0,
        reader: None,
        bytes: 0,
    };
    // Sends a block, its bytes from `keep_from` on (an unfinished line) moved to the next one;
    // `false` when the merger has stopped.
    let flush = |job: &mut Job, seq: &mut u64, keep_from: usize| -> bool {
        if job.lines == 0 {
            return true;
        }
        job.bytes = read_bytes.load(Ordering::Relaxed);
        let mut next = new_job(*seq + 1);
        next.text.extend_from_slice(&job.text[keep_from..]);
        job.text.truncate(keep_from);
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
        // The input is copied into the block a buffer at a time (no call per line); then the
        // new lines are walked once for what only this thread can do: choose the reader on
        // the input's first line, follow header lines, and cut a line over the limit short.
        // `line_start`: where the unfinished line begins; `scanned`: how far `\n` was looked
        // for.
        let (mut line_start, mut scanned) = (0usize, 0usize);
        loop {
            let chunk = match r.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    job.text.truncate(line_start);
                    let all = job.text.len();
                    if !flush(&mut job, &mut seq, all)
                        || notes.send(Note::ReadFailed(i, e)).is_err()
                    {
                        return;
                    }
                    break;
                }
            };
            let eof = chunk.is_empty();
            if eof {
                // A last line without its newline.
                if line_start < job.text.len() {
                    job.text.push(b'\n');
                }
            } else {
                let n = chunk.len();
                job.text.extend_from_slice(chunk);
                r.consume(n);
            }
            while let Some(p) = memchr::memchr(b'\n', &job.text[scanned..]) {
                let end = scanned + p;
                let line = &job.text[line_start..end];
                #[cfg(test)]
                tests::maybe_panic(line, tests::PANIC_IN_READER);
                let reader = reader.get_or_insert_with(|| {
                    let first = &line[..line.len().min(MAX_LINE)];
                    Reader::restricted(Format::sniff(first), opts.field_map.as_ref(), needed)
                });
                if job.lines == 0 {
                    job.reader = Some(reader.clone());
                }
                // A line over the limit is refused by the worker (it never reaches a reader).
                if line.len() <= MAX_LINE && reader.has_header_state() {
                    reader.skim(line, &mut skim_rec);
                }
                job.lines += 1;
                line_start = end + 1;
                scanned = line_start;
            }
            scanned = job.text.len();
            if eof {
                break;
            }
            if job.text.len() - line_start > MAX_LINE {
                // A line over the limit without its end in sight: its first bytes choose the
                // reader if it is the input's first line; the rest is skipped to its newline,
                // counted; the block keeps it as an empty line marked too long.
                let line = &job.text[line_start..];
                let reader = reader.get_or_insert_with(|| {
                    let first = &line[..MAX_LINE];
                    Reader::restricted(Format::sniff(first), opts.field_map.as_ref(), needed)
                });
                if job.lines == 0 {
                    job.reader = Some(reader.clone());
                }
                let mut total = job.text.len() - line_start;
                job.text.truncate(line_start);
                let (skipped, read) = skip_line(&mut *r);
                if let Err(e) = read {
                    // As on one thread: the line that could not be read to its end is no line.
                    let all = job.text.len();
                    if !flush(&mut job, &mut seq, all)
                        || notes.send(Note::ReadFailed(i, e)).is_err()
                    {
                        return;
                    }
                    break;
                }
                total += skipped;
                job.long.push((job.lines, total));
                job.text.push(b'\n');
                job.lines += 1;
                line_start = job.text.len();
                scanned = line_start;
            }
            if line_start >= BLOCK {
                // The unfinished line moves to the next block.
                if !flush(&mut job, &mut seq, line_start) {
                    return;
                }
                line_start = 0;
                scanned = job.text.len();
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            }
        }
        let all = job.text.len();
        if !flush(&mut job, &mut seq, all) || notes.send(Note::Done(i)).is_err() {
            return;
        }
    }
}

/// Skips the rest of a line (to its newline, consumed, or the end of the input); returns how
/// many bytes it had before its newline, and the read error that ended it, if one did.
fn skip_line(r: &mut dyn BufRead) -> (usize, io::Result<()>) {
    let mut n = 0usize;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (n, Err(e)),
        };
        if chunk.is_empty() {
            return (n, Ok(()));
        }
        match memchr::memchr(b'\n', chunk) {
            Some(p) => {
                r.consume(p + 1);
                return (n + p, Ok(()));
            }
            None => {
                let len = chunk.len();
                n += len;
                r.consume(len);
            }
        }
    }
}

fn work(
    jobs: &Mutex<Receiver<Job>>,
    found: &std::sync::mpsc::Sender<(u64, Result<Found, String>)>,
    free: &std::sync::mpsc::Sender<Vec<u8>>,
    set: &Compiled,
    max_shown: u64,
    stop: &AtomicBool,
) {
    let mut scanner = Scanner::new(set);
    let mut rec = Record::new();
    let mut hits: Vec<Hit> = Vec::new();
    loop {
        let mut job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            }
        };
        // After the merger stopped, blocks are only drained (the reading thread then stops).
        if stop.load(Ordering::Relaxed) {
            continue;
        }
        // A panic (a bug in a reader or the matcher) is caught and sent as this block's
        // outcome: the merger stops the scan with an error instead of waiting for the block.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_block(&mut job, set, &mut scanner, &mut rec, &mut hits, max_shown)
        }));
        let out = read.map_err(|p| {
            scanner = Scanner::new(set);
            rec = Record::new();
            panic_message(&*p)
        });
        let _ = free.send(job.text);
        if found.send((job.seq, out)).is_err() {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

fn read_block(
    job: &mut Job,
    set: &Compiled,
    scanner: &mut Scanner,
    rec: &mut Record,
    hits: &mut Vec<Hit>,
    max_shown: u64,
) -> Found {
    let mut out = Found {
        bytes: job.bytes,
        ..Found::default()
    };
    let Some(mut reader) = job.reader.take() else {
        return out;
    };
    let text = &job.text[..];
    let mut at = 0usize;
    let mut long = job.long.iter().peekable();
    for idx in 0..job.lines {
        let end = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |p| at + p);
        let line = &text[at..end];
        at = end + 1;
        #[cfg(test)]
        tests::maybe_panic(line, tests::PANIC_IN_WORKER);
        let result = match long.peek() {
            Some(&&(l, n)) if l == idx => {
                long.next();
                Err(format!(
                    "line of {n} bytes is longer than the limit of 1 MiB"
                ))
            }
            // Over the limit but whole in the block (as the one-thread scan's reading refuses it:
            // its length counts a trailing `\r`).
            _ if line.len() > MAX_LINE => Err(format!(
                "line of {} bytes is longer than the limit of 1 MiB",
                line.len()
            )),
            _ => reader.read_line(line, rec).map_err(|e| e.message),
        };
        match result {
            Ok(true) => {
                out.records += 1;
                hits.clear();
                set.scan(rec, scanner, hits);
                if !hits.is_empty() {
                    out.kept.push(rec.clone());
                    for h in hits.iter() {
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
    out
}

/// The message of a caught panic.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a thread panicked".to_owned())
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
    found: Receiver<(u64, Result<Found, String>)>,
    tokens: Receiver<()>,
    read_bytes: &AtomicU64,
) -> Result<ScanSummary, ScanError> {
    let _stop = StopOnDrop(stop);
    let mut t = ScanSummary::default();
    let mut waiting: BTreeMap<u64, Result<Found, String>> = BTreeMap::new();
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
                        // Every worker is gone and the block never came (not by a panic, which
                        // is caught and sent): fail rather than return a partial scan as whole.
                        Err(_) => break Err("a scanning thread stopped".to_owned()),
                    }
                };
                let out = match out {
                    Ok(o) => o,
                    Err(message) => {
                        return Err(ScanError::Failed {
                            file: names[file].clone(),
                            line: line_base + 1,
                            message,
                        });
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
            Note::Failed(message) => {
                return Err(ScanError::Failed {
                    file: names[file].clone(),
                    line: line_base + 1,
                    message,
                });
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

/// Test hooks: a line equal to one of these markers makes the thread reading it panic (test
/// builds only), so that the tests see what a bug in a reader or the matcher does to a scan.
#[cfg(test)]
pub(super) mod tests {
    /// Panics the worker reading the line.
    pub(in crate::services::scan) const PANIC_IN_WORKER: &[u8] = b"\0injected panic: worker\0";
    /// Panics the thread cutting the inputs into blocks.
    pub(in crate::services::scan) const PANIC_IN_READER: &[u8] = b"\0injected panic: reader\0";

    pub(super) fn maybe_panic(line: &[u8], marker: &[u8]) {
        if line == marker {
            panic!("{}", String::from_utf8_lossy(&marker[1..marker.len() - 1]));
        }
    }
}
