//! A compiled set as bytes, for an on-disk cache: what [`crate::Compiled::to_bytes`] writes and
//! [`crate::Compiled::from_flat`] reads back without compiling the indicators again.
//!
//! Layout (little-endian): a 32-byte header — magic `SHWLMTCH`, format version (u32), a
//! reserved u32, the body's length (u64), the CRC-32 of the body (u32), a reserved u32 — then
//! the body: the caller's key and notes (length-prefixed bytes), the validity window, the
//! indicators' id and name arena, the indicator and observation-expression entries, the hash
//! tables' keys and postings as flat arrays, and the patterns of the few indicators that need
//! an evaluator, a stream tree or an automaton (compiled again on reading: the tables, which
//! hold nearly everything, are only re-hashed).
//!
//! Reading checks the magic, the version, the length and the checksum before anything else,
//! then every offset and index against what it points into: corrupted, truncated or foreign
//! bytes are refused with a [`FlatError`], never a panic. No I/O here: the caller opens the
//! file and hands over its bytes ([`open`]) or a reader and its length ([`read_head`], then
//! [`crate::Compiled::read_rest`]: read once, straight into the tables; the checksum is checked
//! when the body has been read, before the set is returned, and a structure that fails before
//! then is reported as a checksum mismatch when the checksum does not match either).

/// The layout version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The first eight bytes of a compiled set.
pub const MAGIC: &[u8; 8] = b"SHWLMTCH";

const HEADER: usize = 32;

/// Why bytes are not a compiled set this build can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlatError {
    /// The bytes do not start with [`MAGIC`].
    #[error("not a Shieldwall compiled indicator set")]
    Foreign,
    /// Another layout version.
    #[error("written in layout version {found}, this build reads version {FORMAT_VERSION}")]
    Version {
        /// The version found.
        found: u32,
    },
    /// Fewer bytes than the header says.
    #[error("truncated: {expected} bytes expected, {found} present")]
    Truncated {
        /// Bytes the header announces (header included).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// More bytes than the header says.
    #[error("{extra} unexpected bytes after the end")]
    Trailing {
        /// How many.
        extra: u64,
    },
    /// The body's checksum does not match.
    #[error("checksum mismatch: the content is corrupted")]
    Checksum,
    /// The checksum matches but the content does not hold together.
    #[error("inconsistent content: {0}")]
    Corrupt(String),
    /// The bytes could not be read.
    #[error("cannot read: {0}")]
    Read(String),
}

/// The header and the caller's key and notes of a compiled set, checked.
#[derive(Debug, Clone, Copy)]
pub struct Flat<'a> {
    /// What the writer keyed the set on (e.g. the identity of the indicator source and the
    /// options), to be compared by the caller before use.
    pub key: &'a [u8],
    /// The writer's notes (e.g. the compile summary).
    pub notes: &'a [u8],
    pub(crate) rest: &'a [u8],
}

/// The body's length and checksum from a header (`h`, the bytes read of it: fewer than
/// [`HEADER`] when the input is shorter), checked against the input's length `found`.
fn header(h: &[u8], found: u64) -> Result<(u64, u32), FlatError> {
    if h.len() < 8 || &h[..8] != MAGIC {
        return Err(FlatError::Foreign);
    }
    if h.len() < HEADER {
        return Err(FlatError::Truncated {
            expected: HEADER as u64,
            found,
        });
    }
    let mut h = Rd::new(&h[8..HEADER]);
    let version = h.u32()?;
    if version != FORMAT_VERSION {
        return Err(FlatError::Version { found: version });
    }
    let reserved = h.u32()?;
    let len = h.u64()?;
    let crc = h.u32()?;
    if reserved != 0 || h.u32()? != 0 {
        return Err(corrupt("reserved header bytes are set"));
    }
    let expected = len.saturating_add(HEADER as u64);
    if found < expected {
        return Err(FlatError::Truncated { expected, found });
    }
    if found > expected {
        return Err(FlatError::Trailing {
            extra: found - expected,
        });
    }
    Ok((len, crc))
}

/// Checks the header, length and checksum of `bytes` and returns its key and notes.
pub fn open(bytes: &[u8]) -> Result<Flat<'_>, FlatError> {
    let (_, crc) = header(&bytes[..bytes.len().min(HEADER)], bytes.len() as u64)?;
    let body = &bytes[HEADER..];
    if crc32fast::hash(body) != crc {
        return Err(FlatError::Checksum);
    }
    let mut r = Rd::new(body);
    let key = r.bytes()?;
    let notes = r.bytes()?;
    Ok(Flat {
        key,
        notes,
        rest: &body[r.at..],
    })
}

/// The header, key and notes of a compiled set read from a stream (e.g. a file, read once,
/// straight into the set's tables: [`crate::Compiled::read_rest`]). The header and the length
/// are checked first; the checksum covers the whole body, so it is checked when the rest has
/// been read (by [`crate::Compiled::read_rest`] or [`Head::check_rest`]), before anything read
/// is used: a set read this way is returned only when its checksum matches.
pub struct Head<'r> {
    /// What the writer keyed the set on (see [`Flat::key`]).
    pub key: Vec<u8>,
    /// The writer's notes.
    pub notes: Vec<u8>,
    pub(crate) src: Src<'r>,
}

impl std::fmt::Debug for Head<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("key", &String::from_utf8_lossy(&self.key))
            .field("left", &self.src.left)
            .finish_non_exhaustive()
    }
}

/// Reads the header, key and notes of a compiled set from `r`, whose length is `len` bytes
/// (the file's size: a length that disagrees with the header is refused before reading on).
pub fn read_head(r: &mut dyn std::io::Read, len: u64) -> Result<Head<'_>, FlatError> {
    let mut h = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match r.read(&mut h[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FlatError::Read(e.to_string())),
        }
    }
    let (body, crc) = header(&h[..got], len)?;
    let mut src = Src {
        r,
        crc: Some((crc32fast::Hasher::new(), crc)),
        left: body,
        total: body,
    };
    let key = src.vec(1).map_err(|e| src.fail(e))?;
    let notes = src.vec(1).map_err(|e| src.fail(e))?;
    Ok(Head { key, notes, src })
}

impl Head<'_> {
    /// Reads the rest and checks the checksum (for a set not used, e.g. a stale one: whether it
    /// is whole decides between replacing it and refusing it).
    pub fn check_rest(mut self) -> Result<(), FlatError> {
        self.src.end(false)
    }
}

/// A bounds-checked reader of a body from a stream: every read is checked against what the
/// header announced (so that no count can ask for more than the file holds), and added to the
/// checksum when there is one to check.
pub(crate) struct Src<'r> {
    r: &'r mut dyn std::io::Read,
    /// The running checksum and the one the header gives (none: already checked).
    crc: Option<(crc32fast::Hasher, u32)>,
    left: u64,
    total: u64,
}

impl<'r> Src<'r> {
    /// A body already checked (`flat::open`), read from memory.
    pub(crate) fn checked(b: &'r mut &[u8]) -> Src<'r> {
        let left = b.len() as u64;
        Src {
            r: b,
            crc: None,
            left,
            total: left,
        }
    }

    /// Reads exactly `buf.len()` bytes of the body.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> Result<(), FlatError> {
        if buf.len() as u64 > self.left {
            return Err(corrupt("a section runs past the end"));
        }
        self.r.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                FlatError::Truncated {
                    expected: HEADER as u64 + self.total,
                    found: HEADER as u64 + self.total - self.left,
                }
            } else {
                FlatError::Read(e.to_string())
            }
        })?;
        if let Some((h, _)) = &mut self.crc {
            h.update(buf);
        }
        self.left -= buf.len() as u64;
        Ok(())
    }

    pub(crate) fn arr<const N: usize>(&mut self) -> Result<[u8; N], FlatError> {
        let mut a = [0u8; N];
        self.fill(&mut a)?;
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FlatError> {
        Ok(self.arr::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FlatError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, FlatError> {
        Ok(u64::from_le_bytes(self.arr()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, FlatError> {
        Ok(i64::from_le_bytes(self.arr()?))
    }

    /// A count of elements of `size` bytes each, checked against what is left.
    pub(crate) fn count(&mut self, size: usize) -> Result<usize, FlatError> {
        let n = self.u64()?;
        if n.saturating_mul(size.max(1) as u64) > self.left {
            return Err(corrupt("a count exceeds the bytes left"));
        }
        Ok(n as usize)
    }

    /// A counted run of elements of `size` bytes, read into a vector of its own.
    pub(crate) fn vec(&mut self, size: usize) -> Result<Vec<u8>, FlatError> {
        let n = self.count(size)?;
        let mut v = vec![0u8; n * size];
        self.fill(&mut v)?;
        Ok(v)
    }

    /// Counted text.
    pub(crate) fn string(&mut self) -> Result<String, FlatError> {
        String::from_utf8(self.vec(1)?).map_err(|_| corrupt("text is not UTF-8"))
    }

    /// `n` elements of `size` bytes, handed to `f` a block of whole elements at a time.
    pub(crate) fn each(
        &mut self,
        n: usize,
        size: usize,
        mut f: impl FnMut(&[u8]) -> Result<(), FlatError>,
    ) -> Result<(), FlatError> {
        let per = (BLOCK / size.max(1)).max(1);
        let mut buf = vec![0u8; per.min(n) * size];
        let mut left = n;
        while left > 0 {
            let k = per.min(left);
            let b = &mut buf[..k * size];
            self.fill(b)?;
            for e in b.chunks_exact(size) {
                f(e)?;
            }
            left -= k;
        }
        Ok(())
    }

    /// Reads what is left (when `read_all`, nothing should be), checks the checksum and that
    /// the input ends there.
    pub(crate) fn end(&mut self, read_all: bool) -> Result<(), FlatError> {
        let left = self.left;
        let mut buf = vec![0u8; BLOCK.min(left as usize)];
        while self.left > 0 {
            let k = (self.left as usize).min(buf.len());
            self.fill(&mut buf[..k])?;
        }
        if let Some((h, want)) = self.crc.take()
            && h.finalize() != want
        {
            return Err(FlatError::Checksum);
        }
        if read_all && left > 0 {
            return Err(corrupt("bytes left after the tables"));
        }
        let mut one = [0u8; 1];
        match self.r.read(&mut one) {
            Ok(0) => Ok(()),
            Ok(_) => Err(FlatError::Trailing { extra: 1 }),
            Err(e) => Err(FlatError::Read(e.to_string())),
        }
    }

    /// The error to report for `e`, met before the end: a checksum that does not match says
    /// more (the content is corrupted), so the rest is read to check it first.
    pub(crate) fn fail(&mut self, e: FlatError) -> FlatError {
        if self.crc.is_none() || matches!(e, FlatError::Read(_) | FlatError::Truncated { .. }) {
            return e;
        }
        let mut buf = vec![0u8; BLOCK.min(self.left as usize)];
        while self.left > 0 {
            let k = (self.left as usize).min(buf.len());
            if let Err(read) = self.fill(&mut buf[..k]) {
                return read;
            }
        }
        match self.crc.take() {
            Some((h, want)) => {
                if h.finalize() == want {
                    e
                } else {
                    FlatError::Checksum
                }
            }
            None => e,
        }
    }
}

/// Where the bytes of a compiled set go while they are laid out: a small buffer handed on in
/// blocks to the body's length and checksum and, when there is one, to a writer. The set is
/// laid out twice (once for the header's length and checksum, then to the writer behind the
/// header), so that its bytes are never all in memory at once.
pub(crate) struct Out<'w> {
    buf: Vec<u8>,
    len: u64,
    crc: crc32fast::Hasher,
    to: Option<&'w mut dyn std::io::Write>,
    err: Option<std::io::Error>,
}

const BLOCK: usize = 1 << 16;

impl<'w> Out<'w> {
    fn new(to: Option<&'w mut dyn std::io::Write>) -> Out<'w> {
        Out {
            buf: Vec::with_capacity(BLOCK * 2),
            len: 0,
            crc: crc32fast::Hasher::new(),
            to,
            err: None,
        }
    }

    pub(crate) fn push(&mut self, b: u8) {
        self.buf.push(b);
        if self.buf.len() >= BLOCK {
            self.spill();
        }
    }

    pub(crate) fn extend_from_slice(&mut self, b: &[u8]) {
        if b.len() >= BLOCK {
            self.spill();
            self.hand_on(b);
            return;
        }
        self.buf.extend_from_slice(b);
        if self.buf.len() >= BLOCK {
            self.spill();
        }
    }

    fn spill(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.hand_on(&buf);
        self.buf = buf;
        self.buf.clear();
    }

    fn hand_on(&mut self, b: &[u8]) {
        self.crc.update(b);
        self.len += b.len() as u64;
        if let Some(w) = &mut self.to
            && self.err.is_none()
            && let Err(e) = w.write_all(b)
        {
            self.err = Some(e);
        }
    }

    /// The body's length and checksum, or the writer's first error.
    fn end(mut self) -> std::io::Result<(u64, u32)> {
        self.spill();
        match self.err {
            Some(e) => Err(e),
            None => Ok((self.len, self.crc.finalize())),
        }
    }
}

/// Writes a compiled set to `w`: the header, the key and notes, then what `body` lays out
/// (called twice, and must lay out the same bytes both times). Returns the bytes written.
pub(crate) fn write_sealed(
    key: &[u8],
    notes: &[u8],
    body: &dyn Fn(&mut Out<'_>),
    w: &mut dyn std::io::Write,
) -> std::io::Result<u64> {
    let lay_out = |o: &mut Out<'_>| {
        put_bytes(o, key);
        put_bytes(o, notes);
        body(o);
    };
    let mut count = Out::new(None);
    lay_out(&mut count);
    let (len, crc) = count.end()?;
    let mut h = Vec::with_capacity(HEADER);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(&crc.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    w.write_all(&h)?;
    let mut out = Out::new(Some(w));
    lay_out(&mut out);
    if out.end()? != (len, crc) {
        return Err(std::io::Error::other(
            "the compiled set was laid out differently twice",
        ));
    }
    Ok(HEADER as u64 + len)
}

pub(crate) fn put_u32(w: &mut Out<'_>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(w: &mut Out<'_>, v: u64) {
    w.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_len(w: &mut Out<'_>, n: usize) {
    put_u64(w, n as u64);
}

pub(crate) fn put_bytes(w: &mut Out<'_>, b: &[u8]) {
    put_len(w, b.len());
    w.extend_from_slice(b);
}

pub(crate) fn corrupt(what: impl Into<String>) -> FlatError {
    FlatError::Corrupt(what.into())
}

/// A bounds-checked reader.
#[derive(Debug)]
pub(crate) struct Rd<'a> {
    b: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Rd<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Rd<'a> {
        Rd { b, at: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], FlatError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| corrupt("a section runs past the end"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    pub(crate) fn arr<const N: usize>(&mut self) -> Result<[u8; N], FlatError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FlatError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, FlatError> {
        Ok(u64::from_le_bytes(self.arr()?))
    }

    /// A count of elements of `size` bytes each, checked against what is left (so that a
    /// corrupted count cannot ask for a huge allocation).
    pub(crate) fn count(&mut self, size: usize) -> Result<usize, FlatError> {
        let n = self.u64()?;
        let left = (self.b.len() - self.at) as u64;
        if n.saturating_mul(size.max(1) as u64) > left {
            return Err(corrupt("a count exceeds the bytes left"));
        }
        Ok(n as usize)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], FlatError> {
        let n = self.count(1)?;
        self.take(n)
    }
}
