//! Log inputs for a scan: files, gzip files (by their magic bytes), standard input, bytes in
//! memory and directories (walked recursively, in name order); lines read with a length limit.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One log to read.
#[derive(Debug, Clone)]
pub enum Input {
    /// The process's standard input.
    Stdin,
    /// A file (plain or gzip).
    File(PathBuf),
    /// A log held in memory (plain or gzip), under a name for hits and diagnostics.
    Memory {
        /// The name used in hits and diagnostics.
        name: String,
        /// The log's bytes.
        bytes: Arc<[u8]>,
    },
}

/// A log that cannot be opened (or whose first bytes cannot be read).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(String);

/// A command line's paths that cannot be expanded (a directory that cannot be read).
#[derive(Debug, thiserror::Error)]
#[error("cannot read directory {}: {error}", path.display())]
pub struct ExpandError {
    /// The directory given.
    pub path: PathBuf,
    /// Why (in the message, not a source: the message says it once).
    pub error: io::Error,
}

impl Input {
    /// The name used in hits and diagnostics.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_owned(),
            Input::File(p) => p.display().to_string(),
            Input::Memory { name, .. } => name.clone(),
        }
    }

    /// The size in bytes, for a progress bar (`None` for standard input).
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Stdin => None,
            Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Memory { bytes, .. } => Some(bytes.len() as u64),
        }
    }

    /// Opens the log, decompressing gzip. `count` is called with the number of bytes read from
    /// the underlying file (compressed bytes for gzip).
    pub fn open(
        &self,
        count: impl FnMut(usize) + Send + 'static,
    ) -> Result<Box<dyn BufRead + Send>, OpenError> {
        let raw: Box<dyn Read + Send> = match self {
            Input::Stdin => Box::new(io::stdin()),
            Input::File(p) => Box::new(
                File::open(p)
                    .map_err(|e| OpenError(format!("cannot open {}: {e}", p.display())))?,
            ),
            Input::Memory { bytes, .. } => Box::new(io::Cursor::new(Arc::clone(bytes))),
        };
        let mut buffered = BufReader::with_capacity(1 << 16, Counting { inner: raw, count });
        let gz = buffered
            .fill_buf()
            .map_err(|e| OpenError(e.to_string()))?
            .starts_with(&[0x1f, 0x8b]);
        Ok(if gz {
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::bufread::MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        })
    }
}

struct Counting<R, F> {
    inner: R,
    count: F,
}

impl<R: Read, F: FnMut(usize)> Read for Counting<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.count)(n);
        Ok(n)
    }
}

/// Expands the command line's paths: `-` is standard input, directories are walked.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>, ExpandError> {
    let mut out = Vec::new();
    for p in paths {
        if p == Path::new("-") {
            out.push(Input::Stdin);
        } else if p.is_dir() {
            let mut seen = std::collections::HashSet::new();
            walk(p, &mut out, &mut seen).map_err(|error| ExpandError {
                path: p.clone(),
                error,
            })?;
        } else {
            out.push(Input::File(p.clone()));
        }
    }
    Ok(out)
}

/// Walks `dir` in name order, hidden entries skipped. A directory reached again (a symbolic link
/// to itself or to a parent, two links to one place) is walked once: a link loop cannot make the
/// walk endless.
fn walk(
    dir: &Path,
    out: &mut Vec<Input>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> io::Result<()> {
    if !seen.insert(std::fs::canonicalize(dir)?) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, seen)?;
        } else {
            out.push(Input::File(p));
        }
    }
    Ok(())
}

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line is in the buffer (without its `\n`).
    Ok,
    /// The line was longer than the limit: the buffer holds its first `limit` bytes, the rest
    /// was skipped.
    TooLong(usize),
    /// End of input.
    Eof,
}

/// Reads one line into `buf` (cleared first), keeping at most `limit` bytes of it.
pub fn read_line(r: &mut dyn BufRead, buf: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
    buf.clear();
    read_line_into(r, buf, limit)
}

/// Reads one line and appends it to `buf` (at most `limit` bytes of it, without its `\n`).
pub fn read_line_into(r: &mut dyn BufRead, buf: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
    let mut total = 0usize;
    let mut any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if !any {
                Line::Eof
            } else if total > limit {
                Line::TooLong(total)
            } else {
                Line::Ok
            });
        }
        any = true;
        let (part, done) = match memchr_nl(chunk) {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        if total < limit {
            let room = limit - total;
            buf.extend_from_slice(&part[..part.len().min(room)]);
        }
        total += part.len();
        let used = done.unwrap_or(chunk.len());
        r.consume(used);
        if done.is_some() {
            return Ok(if total > limit {
                Line::TooLong(total)
            } else {
                Line::Ok
            });
        }
    }
}

/// Lines of an input read a buffer at a time: each line is handed out as a slice of one
/// reused buffer, with no call through the reader per line and no copy per line (only the
/// unfinished line at the end of a buffer moves). What [`read_line`] gives, line for line.
#[derive(Debug)]
pub struct Lines {
    buf: Vec<u8>,
    /// Where the next line starts.
    start: usize,
    /// How far `\n` was looked for.
    scanned: usize,
    eof: bool,
    limit: usize,
}

impl Lines {
    /// Lines of at most `limit` bytes (longer ones are cut, see [`Lines::next_line`]).
    pub fn new(limit: usize) -> Lines {
        Lines {
            buf: Vec::with_capacity(1 << 16),
            start: 0,
            scanned: 0,
            eof: false,
            limit,
        }
    }

    /// Forgets the input read so far (for the next input).
    pub fn reset(&mut self) {
        self.buf.clear();
        (self.start, self.scanned, self.eof) = (0, 0, false);
    }

    /// The next line of `r` (without its `\n`): `(text, None)`, or for a line longer than the
    /// limit its first `limit` bytes and its full length (the rest skipped); `None` at the end
    /// of the input. A read error drops the unfinished line (as [`read_line`] does).
    pub fn next_line(&mut self, r: &mut dyn BufRead) -> io::Result<Option<(&[u8], Option<usize>)>> {
        loop {
            if let Some(p) = memchr_nl(&self.buf[self.scanned..]) {
                let (s, e) = (self.start, self.scanned + p);
                self.start = e + 1;
                self.scanned = self.start;
                if e - s > self.limit {
                    return Ok(Some((&self.buf[s..s + self.limit], Some(e - s))));
                }
                return Ok(Some((&self.buf[s..e], None)));
            }
            self.scanned = self.buf.len();
            let pending = self.buf.len() - self.start;
            if pending > self.limit {
                // Keep the first `limit` bytes at the front, skip the rest of the line.
                self.buf.copy_within(self.start..self.start + self.limit, 0);
                self.buf.truncate(self.limit);
                self.start = self.limit;
                self.scanned = self.limit;
                let mut total = pending;
                loop {
                    let chunk = match r.fill_buf() {
                        Ok(c) => c,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            self.reset();
                            return Err(e);
                        }
                    };
                    if chunk.is_empty() {
                        self.eof = true;
                        break;
                    }
                    match memchr_nl(chunk) {
                        Some(p) => {
                            total += p;
                            r.consume(p + 1);
                            break;
                        }
                        None => {
                            let n = chunk.len();
                            total += n;
                            r.consume(n);
                        }
                    }
                }
                return Ok(Some((&self.buf[..self.limit], Some(total))));
            }
            if self.eof {
                if pending > 0 {
                    let s = self.start;
                    self.start = self.buf.len();
                    self.scanned = self.start;
                    return Ok(Some((&self.buf[s..], None)));
                }
                return Ok(None);
            }
            if self.start > 0 {
                self.buf.copy_within(self.start.., 0);
                self.buf.truncate(pending);
                self.start = 0;
                self.scanned = pending;
            }
            let chunk = match r.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.reset();
                    return Err(e);
                }
            };
            if chunk.is_empty() {
                self.eof = true;
            } else {
                let n = chunk.len();
                self.buf.extend_from_slice(chunk);
                r.consume(n);
            }
        }
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

#[cfg(test)]
mod tests {

    #![allow(clippy::unwrap_used)]
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_link_loop_in_a_folder_is_walked_once() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("logs");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("a.json"), "{}").unwrap();
        std::os::unix::fs::symlink(d.path(), sub.join("loop")).unwrap();
        std::os::unix::fs::symlink(&sub, d.path().join("again")).unwrap();
        let found = expand(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
    }

    /// `Lines` gives what `read_line` gives, line for line, on inputs cut into small reads
    /// (long lines across many reads, a last line without its newline, empty lines, `\r`).
    #[test]
    fn lines_read_a_buffer_at_a_time_as_read_line_does() {
        let mut texts: Vec<Vec<u8>> = vec![
            b"short\nthis one is long\n\nlast".to_vec(),
            b"\n\n\n".to_vec(),
            b"".to_vec(),
            b"exactly8\n123456789\r\n12345678\r\n".to_vec(),
        ];
        let mut seed = 7u64;
        for _ in 0..50 {
            let mut t = Vec::new();
            for _ in 0..40 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let len = (seed >> 33) % 30;
                t.extend(std::iter::repeat_n(b'a' + (len % 26) as u8, len as usize));
                if !(seed >> 20).is_multiple_of(7) {
                    t.push(b'\n');
                }
            }
            texts.push(t);
        }
        for text in &texts {
            for cap in [1, 3, 8, 64] {
                let mut want = Vec::new();
                let mut r = BufReader::with_capacity(cap, &text[..]);
                let mut buf = Vec::new();
                loop {
                    match read_line(&mut r, &mut buf, 8).unwrap() {
                        Line::Eof => break,
                        Line::Ok => want.push((buf.clone(), None)),
                        Line::TooLong(n) => want.push((buf.clone(), Some(n))),
                    }
                }
                let mut got = Vec::new();
                let mut r = BufReader::with_capacity(cap, &text[..]);
                let mut lines = Lines::new(8);
                while let Some((l, n)) = lines.next_line(&mut r).unwrap() {
                    got.push((l.to_vec(), n));
                }
                assert_eq!(
                    got,
                    want,
                    "{:?} in reads of {cap}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    #[test]
    fn lines_with_a_limit() {
        let mut r: &[u8] = b"short\nthis one is long\n\nlast";
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf, 8).unwrap(), Line::Ok);
        assert_eq!(buf, b"short");
        assert_eq!(read_line(&mut r, &mut buf, 8).unwrap(), Line::TooLong(16));
        assert_eq!(buf, b"this one");
        assert_eq!(read_line(&mut r, &mut buf, 8).unwrap(), Line::Ok);
        assert_eq!(buf, b"");
        assert_eq!(read_line(&mut r, &mut buf, 8).unwrap(), Line::Ok);
        assert_eq!(buf, b"last");
        assert_eq!(read_line(&mut r, &mut buf, 8).unwrap(), Line::Eof);
    }
}
