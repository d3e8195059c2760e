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
