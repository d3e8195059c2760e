//! Streaming: splits a STIX document read from any `std::io::Read` into its objects, one at a
//! time, in memory bounded by the largest object.
//!
//! Accepted shapes: a bundle (`{"type": "bundle", …, "objects": [...]}`), a TAXII envelope
//! (`{"objects": [...], "more": …}`), a JSON array of objects, or a single object. Each item
//! carries its raw bytes, its byte offset, and the line and column where it starts; the raw
//! bytes let a finding's JSON pointer be turned into a line and column (see
//! [`crate::json::locate`]). The container itself (bundle or envelope, with its `objects`
//! emptied) comes last, so its own properties can be validated too.
//!
//! The splitter scans bytes without recursion (100,000 levels of nesting cost a counter), then
//! each object is parsed by [`crate::json::parse`], whose recursion limit stays on.

use std::io::{self, Read};

use serde_json::Value;

use crate::json::{self, JsonError};

/// What a streamed item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A STIX object (an element of `objects`, of a top-level array, or the whole document).
    Object,
    /// The bundle's own properties, `objects` emptied (yielded after its objects).
    Bundle,
    /// A TAXII envelope's own properties, `objects` emptied (yielded after its objects).
    Envelope,
}

/// One item of a document.
#[derive(Debug)]
pub struct Item {
    /// What the item is.
    pub kind: ItemKind,
    /// The parsed value, or why these bytes are not strict JSON (positions are absolute).
    pub value: Result<Value, JsonError>,
    /// The item's bytes as they appear in the input (for a container: its properties only).
    pub raw: Vec<u8>,
    /// Byte offset of the item's first byte in the input.
    pub offset: u64,
    /// 1-based line of the item's first byte.
    pub line: usize,
    /// 1-based byte column of the item's first byte.
    pub column: usize,
}

impl Item {
    /// Line and column of what a JSON pointer (relative to this item) designates, falling back
    /// to the item's start.
    pub fn position_of(&self, pointer: &str) -> (usize, usize) {
        let Some(at) = json::locate(&self.raw, pointer) else {
            return (self.line, self.column);
        };
        let (l, c) = json::line_col(&self.raw, at);
        if l == 1 {
            (self.line, self.column + c - 1)
        } else {
            (self.line + l - 1, c)
        }
    }
}

/// Why a document cannot be split further.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Reading failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The document's structure is broken.
    #[error("{message} at line {line} column {column}")]
    Syntax {
        /// What is wrong.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based byte column.
        column: usize,
    },
    /// One value is larger than the configured limit.
    #[error(
        "an object starting at line {line} column {column} is larger than the limit of {limit} bytes"
    )]
    TooLarge {
        /// 1-based line where the value starts.
        line: usize,
        /// 1-based byte column where the value starts.
        column: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

/// Default limit on one object's size: 512 MiB.
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 512 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    TopArray { first: bool },
    TopObject,
    ObjectsArray { first: bool },
    AfterTop,
    Done,
}

/// Splits a document into [`Item`]s (an iterator of `Result<Item, StreamError>`; after an
/// error it yields nothing more).
pub struct ObjectStream<R> {
    reader: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    eof: bool,
    /// Absolute offset of `buf[pos]`.
    offset: u64,
    line: usize,
    /// Absolute offset just after the last newline consumed.
    line_start: u64,
    state: State,
    header: Vec<u8>,
    header_line: usize,
    header_column: usize,
    header_offset: u64,
    type_seen: Option<String>,
    spec_version_seen: bool,
    container_objects: u64,
    streamed_objects: bool,
    max_object: usize,
    /// Whether objects are parsed into [`Item::value`] (else it is `Ok(Value::Null)`).
    parse: bool,
}

impl<R: Read> ObjectStream<R> {
    /// A splitter over `reader` with the default object size limit.
    pub fn new(reader: R) -> ObjectStream<R> {
        ObjectStream::with_limit(reader, DEFAULT_MAX_OBJECT_BYTES)
    }

    /// A splitter whose objects may not exceed `max_object_bytes`.
    pub fn with_limit(reader: R, max_object_bytes: usize) -> ObjectStream<R> {
        ObjectStream {
            reader,
            buf: vec![0u8; 256 * 1024].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
            offset: 0,
            line: 1,
            line_start: 0,
            state: State::Start,
            header: Vec::new(),
            header_line: 1,
            header_column: 1,
            header_offset: 0,
            type_seen: None,
            spec_version_seen: false,
            container_objects: 0,
            streamed_objects: false,
            max_object: max_object_bytes,
            parse: true,
        }
    }

    /// Leaves the objects unparsed: each item's `value` is `Ok(Value::Null)` and its `raw`
    /// bytes are for the caller to read (with its own strict reader). The document's structure
    /// is still checked.
    pub fn unparsed(mut self) -> Self {
        self.parse = false;
        self
    }

    /// Whether the top-level object (a bundle) has stated a string `spec_version` so far. Objects
    /// of a STIX 2.0-style bundle inherit it; when the property comes after `objects`, this
    /// becomes true only once the objects have been yielded (the container item then says it).
    pub fn container_spec_version(&self) -> bool {
        self.spec_version_seen
    }

    /// How many elements of the top-level object's `objects` have been yielded (a container
    /// item's `objects` is emptied: this says whether the input's was).
    pub fn container_objects(&self) -> u64 {
        self.container_objects
    }

    /// Whether the last item yielded was an element of a top-level object's `objects` (a
    /// bundle's or an envelope's), as opposed to a top-level array's or the document itself.
    pub fn in_container(&self) -> bool {
        matches!(self.state, State::ObjectsArray { .. })
    }

    /// Bytes consumed so far (for progress reporting).
    pub fn bytes_read(&self) -> u64 {
        self.offset
    }

    fn column(&self) -> usize {
        (self.offset - self.line_start) as usize + 1
    }

    fn syntax(&self, message: impl Into<String>) -> StreamError {
        StreamError::Syntax {
            message: message.into(),
            line: self.line,
            column: self.column(),
        }
    }

    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        loop {
            match self.reader.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(if self.fill()? {
            Some(self.buf[self.pos])
        } else {
            None
        })
    }

    /// Consumes `n` buffered bytes, keeping line and column.
    fn consume(&mut self, n: usize) {
        let chunk = &self.buf[self.pos..self.pos + n];
        if let Some(last) = memchr::memrchr(b'\n', chunk) {
            self.line += memchr::memchr_iter(b'\n', chunk).count();
            self.line_start = self.offset + last as u64 + 1;
        }
        self.pos += n;
        self.offset += n as u64;
    }

    /// Skips whitespace (and a UTF-8 byte-order mark at the very start), copying it into the
    /// header when `keep` is set.
    fn skip_ws(&mut self, keep: bool) -> io::Result<()> {
        while self.fill()? {
            let slice = &self.buf[self.pos..self.end];
            let n = slice
                .iter()
                .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            if keep {
                self.header.extend_from_slice(&slice[..n]);
            }
            self.consume(n);
            if self.pos < self.end {
                break;
            }
        }
        Ok(())
    }

    /// Copies one JSON value's bytes into `out` (appending), without parsing it.
    fn capture(&mut self, out: &mut Vec<u8>, start_len: usize) -> Result<(), StreamError> {
        let (line, column) = (self.line, self.column());
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escape = false;
        let mut started = false;
        let mut scalar = false;
        loop {
            if !self.fill()? {
                if scalar && !in_string {
                    return Ok(());
                }
                return Err(self.syntax("unexpected end of input inside a value"));
            }
            let slice = &self.buf[self.pos..self.end];
            let mut i = 0;
            let mut done = false;
            while i < slice.len() {
                if in_string {
                    if escape {
                        escape = false;
                        i += 1;
                        continue;
                    }
                    match memchr::memchr2(b'"', b'\\', &slice[i..]) {
                        None => i = slice.len(),
                        Some(j) => {
                            i += j;
                            if slice[i] == b'\\' {
                                escape = true;
                            } else {
                                in_string = false;
                                if depth == 0 {
                                    i += 1;
                                    done = true;
                                    break;
                                }
                            }
                            i += 1;
                        }
                    }
                    continue;
                }
                let c = slice[i];
                if !started {
                    started = true;
                    match c {
                        b'"' => in_string = true,
                        b'{' | b'[' => depth = 1,
                        b',' | b'}' | b']' | b':' => {
                            return Err(
                                self.syntax(format!("expected a value, found '{}'", c as char))
                            );
                        }
                        _ => scalar = true,
                    }
                    i += 1;
                    continue;
                }
                if scalar {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b':') {
                        done = true;
                        break;
                    }
                    i += 1;
                    continue;
                }
                match c {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            done = true;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            out.extend_from_slice(&slice[..i]);
            self.consume(i);
            if out.len() - start_len > self.max_object {
                return Err(StreamError::TooLarge {
                    line,
                    column,
                    limit: self.max_object,
                });
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Captures one element of an array as an item.
    fn element(&mut self) -> Result<Item, StreamError> {
        let (line, column, offset) = (self.line, self.column(), self.offset);
        let mut raw = Vec::new();
        self.capture(&mut raw, 0)?;
        let value = if self.parse {
            json::parse(&raw).map_err(|e| e.shifted(line, column))
        } else {
            Ok(Value::Null)
        };
        Ok(Item {
            kind: ItemKind::Object,
            value,
            raw,
            offset,
            line,
            column,
        })
    }

    /// Moves through an array: `None` at its end (after consuming `]`).
    fn array_step(&mut self, first: bool) -> Result<Option<Item>, StreamError> {
        self.skip_ws(false)?;
        match self.peek()? {
            None => Err(self.syntax("unexpected end of input inside an array")),
            Some(b']') => {
                self.consume(1);
                Ok(None)
            }
            Some(b',') if !first => {
                self.consume(1);
                self.skip_ws(false)?;
                if self.peek()? == Some(b']') {
                    return Err(self.syntax("trailing comma in an array"));
                }
                self.element().map(Some)
            }
            Some(_) if first => self.element().map(Some),
            Some(c) => Err(self.syntax(format!(
                "expected ',' or ']' in an array, found '{}'",
                c as char
            ))),
        }
    }

    fn finish_header(&mut self) -> Item {
        let raw = std::mem::take(&mut self.header);
        let (line, column) = (self.header_line, self.header_column);
        let value = json::parse(&raw).map_err(|e| e.shifted(line, column));
        let kind = if !self.streamed_objects {
            ItemKind::Object
        } else if self.type_seen.is_some() {
            ItemKind::Bundle
        } else {
            ItemKind::Envelope
        };
        Item {
            kind,
            value,
            raw,
            offset: self.header_offset,
            line,
            column,
        }
    }

    /// One member of the top-level object; `Some` when an item is ready.
    fn object_step(&mut self) -> Result<Option<Item>, StreamError> {
        self.skip_ws(true)?;
        let c = match self.peek()? {
            None => return Err(self.syntax("unexpected end of input inside an object")),
            Some(c) => c,
        };
        if c == b'}' {
            self.header.push(b'}');
            self.consume(1);
            self.state = State::AfterTop;
            return Ok(Some(self.finish_header()));
        }
        let first_member =
            self.header.iter().rev().find(|c| !c.is_ascii_whitespace()) == Some(&b'{');
        if !first_member {
            if c != b',' {
                return Err(self.syntax(format!(
                    "expected ',' or '}}' in an object, found '{}'",
                    c as char
                )));
            }
            self.header.push(b',');
            self.consume(1);
            self.skip_ws(true)?;
        }
        if self.peek()? != Some(b'"') {
            return Err(self.syntax("expected a property name in double quotes"));
        }
        let key_start = self.header.len();
        let mut header = std::mem::take(&mut self.header);
        let res = self.capture(&mut header, key_start);
        self.header = header;
        res?;
        let key: String = serde_json::from_slice(&self.header[key_start..])
            .map_err(|e| self.syntax(format!("invalid property name: {e}")))?;
        self.skip_ws(true)?;
        if self.peek()? != Some(b':') {
            return Err(self.syntax("expected ':' after a property name"));
        }
        self.header.push(b':');
        self.consume(1);
        self.skip_ws(true)?;
        let streamable = key == "objects"
            && !self.streamed_objects
            && self.peek()? == Some(b'[')
            && self.type_seen.as_deref().is_none_or(|t| t == "bundle");
        if streamable {
            self.header.extend_from_slice(b"[]");
            self.consume(1);
            self.streamed_objects = true;
            self.state = State::ObjectsArray { first: true };
            return Ok(None);
        }
        let value_start = self.header.len();
        let mut header = std::mem::take(&mut self.header);
        let res = self.capture(&mut header, 0);
        self.header = header;
        res?;
        if key == "type" {
            self.type_seen = serde_json::from_slice::<String>(&self.header[value_start..]).ok();
        } else if key == "spec_version" {
            self.spec_version_seen =
                serde_json::from_slice::<String>(&self.header[value_start..]).is_ok();
        }
        Ok(None)
    }

    fn step(&mut self) -> Result<Option<Item>, StreamError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    self.skip_ws(false)?;
                    if self.offset == 0
                        && self.end - self.pos >= 3
                        && self.buf[self.pos..self.pos + 3] == [0xEF, 0xBB, 0xBF]
                    {
                        self.consume(3);
                        self.skip_ws(false)?;
                    }
                    match self.peek()? {
                        None => return Err(self.syntax("empty input: expected a STIX object, a bundle, an array or a TAXII envelope")),
                        Some(b'[') => {
                            self.consume(1);
                            self.state = State::TopArray { first: true };
                        }
                        Some(b'{') => {
                            self.header_line = self.line;
                            self.header_column = self.column();
                            self.header_offset = self.offset;
                            self.header.push(b'{');
                            self.consume(1);
                            self.state = State::TopObject;
                        }
                        Some(_) => {
                            let item = self.element()?;
                            self.state = State::AfterTop;
                            return Ok(Some(item));
                        }
                    }
                }
                State::TopArray { first } => match self.array_step(first)? {
                    Some(item) => {
                        self.state = State::TopArray { first: false };
                        return Ok(Some(item));
                    }
                    None => self.state = State::AfterTop,
                },
                State::ObjectsArray { first } => match self.array_step(first)? {
                    Some(item) => {
                        self.container_objects += 1;
                        self.state = State::ObjectsArray { first: false };
                        return Ok(Some(item));
                    }
                    None => self.state = State::TopObject,
                },
                State::TopObject => {
                    if let Some(item) = self.object_step()? {
                        return Ok(Some(item));
                    }
                }
                State::AfterTop => {
                    self.skip_ws(false)?;
                    if let Some(c) = self.peek()? {
                        return Err(self.syntax(format!(
                            "trailing characters after the document: '{}'",
                            c as char
                        )));
                    }
                    self.state = State::Done;
                }
            }
        }
    }
}

impl<R: Read> Iterator for ObjectStream<R> {
    type Item = Result<Item, StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => None,
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A reader that hands out one byte at a time, to exercise buffer boundaries.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.split_first() {
                None => Ok(0),
                Some((b, rest)) => {
                    buf[0] = *b;
                    self.0 = rest;
                    Ok(1)
                }
            }
        }
    }

    fn items(text: &str) -> Vec<Item> {
        let a: Vec<Item> = ObjectStream::new(text.as_bytes())
            .map(Result::unwrap)
            .collect();
        let b: Vec<Item> = ObjectStream::new(Trickle(text.as_bytes()))
            .map(Result::unwrap)
            .collect();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                (x.kind, &x.raw, x.line, x.column, x.offset),
                (y.kind, &y.raw, y.line, y.column, y.offset)
            );
        }
        a
    }

    #[test]
    fn splits_bundles_arrays_envelopes_and_single_objects() {
        let bundle = "{\"type\": \"bundle\",\n \"id\": \"bundle--1\",\n \"objects\": [\n  {\"id\": \"a\", \"s\": \"x]}\\\"\"},\n  {\"id\": \"b\", \"n\": [1, {\"c\": []}]}\n ]\n}\n";
        let it = items(bundle);
        assert_eq!(
            it.iter().map(|i| i.kind).collect::<Vec<_>>(),
            vec![ItemKind::Object, ItemKind::Object, ItemKind::Bundle]
        );
        assert_eq!((it[0].line, it[0].column), (4, 3));
        assert_eq!(it[0].value.as_ref().unwrap()["s"], "x]}\"");
        assert_eq!((it[1].line, it[1].column), (5, 3));
        assert_eq!(
            it[2].value.as_ref().unwrap(),
            &serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": []})
        );
        assert_eq!(it[1].position_of("/n/1"), (5, 24));

        let env = items(r#"{"more": false, "objects": [{"a": 1}]}"#);
        assert_eq!(
            env.iter().map(|i| i.kind).collect::<Vec<_>>(),
            vec![ItemKind::Object, ItemKind::Envelope]
        );

        let arr = items("[{\"a\": 1}, {\"b\": 2}]");
        assert_eq!(arr.len(), 2);
        assert_eq!(arr[1].offset, 11);

        let single = "{\"type\": \"identity\",\n \"objects\": {\"0\": {}}, \"id\": \"x\"}";
        let one = items(single);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].kind, ItemKind::Object);
        assert_eq!(one[0].raw, single.as_bytes());
        assert_eq!(one[0].position_of("/id"), (2, 30));
    }

    #[test]
    fn a_bad_object_does_not_stop_the_rest() {
        let it = items(r#"[{"a": 1, "a": 2}, {"b": 2}]"#);
        assert!(
            it[0]
                .value
                .as_ref()
                .unwrap_err()
                .message
                .contains("duplicate key")
        );
        assert!(it[1].value.is_ok());
    }

    #[test]
    fn structural_errors_have_positions() {
        for (text, line) in [
            ("", 1),
            ("[{}, {}", 1),
            ("{\"a\": 1,\n}", 2),
            ("[{}]\n x", 2),
            ("[{},]", 1),
            ("{\"objects\": [{}] \"x\"}", 1),
        ] {
            let res: Vec<_> = ObjectStream::new(text.as_bytes()).collect();
            let err = res
                .into_iter()
                .find_map(Result::err)
                .unwrap_or_else(|| panic!("no error for {text:?}"));
            match err {
                StreamError::Syntax { line: l, .. } => assert_eq!(l, line, "{text:?}"),
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn deep_nesting_and_limits() {
        let deep = format!("[{}{}]", "[".repeat(100_000), "]".repeat(100_000));
        let it: Vec<_> = ObjectStream::new(deep.as_bytes()).collect();
        let first = it.into_iter().next().unwrap().unwrap();
        assert!(first.value.unwrap_err().message.contains("recursion limit"));
        let big = format!("[{{\"s\": \"{}\"}}]", "x".repeat(2000));
        let err = ObjectStream::with_limit(big.as_bytes(), 1000)
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, StreamError::TooLarge { limit: 1000, .. }));
    }
}
