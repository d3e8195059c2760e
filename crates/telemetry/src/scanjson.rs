//! The scan's JSON-lines reader (ECS, Suricata EVE): one pass over the line's bytes that reads
//! only the fields a compiled indicator set can hit and validates the rest.
//!
//! The field map's names become a trie of key segments ([`Plan`]): each key of a walked
//! object moves one step (or, for a dotted key such as `"source.ip"`, several) down it, with
//! no path string built; a key that leaves the trie has its value skipped by a byte scanner
//! that still checks the JSON grammar. Leaves are read once, borrowed from the line, and
//! pushed into the record only when their field is needed.
//!
//! The result must be exactly the general reader's ([`crate::json`]) restricted to the needed
//! fields, so this reader is allowed to give up: on anything it does not handle itself (a
//! syntax error, an escape in a key, a number that is not a small non-negative integer at a
//! read position, bytes that are not UTF-8, deep nesting, a record with so many values that
//! the per-record limit could bite) it answers [`Outcome::Fallback`] and the caller reads the
//! line with the general reader, which also words the error. It never accepts a line the
//! general reader (serde_json) refuses: its grammar is JSON's, and it is stricter where
//! serde_json is lenient (UTF-8 everywhere, not only in the strings serde_json reads).

use crate::field::FieldSet;
use crate::map::{FieldMap, Target};
use crate::record::{MAX_VALUES, Record};

/// Objects nested deeper than this are skipped as a whole (the general reader's limit).
const MAX_DEPTH: u32 = 32;
/// Deeper nesting than this is left to the general reader (serde_json stops at 128).
const MAX_NESTING: usize = 100;

/// What [`read`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The record holds the line's needed fields (and its time).
    Done,
    /// Read the line with the general reader.
    Fallback,
}

/// Gave up (see the module documentation).
#[derive(Debug)]
struct Bail;

type R<T> = Result<T, Bail>;

#[derive(Debug, Clone)]
struct Node {
    /// The path's target in the field map.
    target: Option<Target>,
    /// The target's field is needed (or it is the time).
    needed: bool,
    /// The path is walked (a target or a prefix of one).
    wanted: bool,
    /// Key segment → node.
    children: Vec<(Box<[u8]>, u32)>,
}

/// A field map compiled for one set of needed fields.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    nodes: Vec<Node>,
}

impl Plan {
    pub(crate) fn new(map: &FieldMap, needed: FieldSet) -> Plan {
        let mut plan = Plan {
            nodes: vec![Node {
                target: map.get(""),
                needed: false,
                wanted: false,
                children: Vec::new(),
            }],
        };
        for name in map.names() {
            if name.is_empty() {
                continue;
            }
            let mut at = 0usize;
            for seg in name.split('.') {
                let found = plan.nodes[at]
                    .children
                    .iter()
                    .find(|(s, _)| &**s == seg.as_bytes())
                    .map(|(_, n)| *n as usize);
                at = match found {
                    Some(n) => n,
                    None => {
                        plan.nodes.push(Node {
                            target: None,
                            needed: false,
                            wanted: false,
                            children: Vec::new(),
                        });
                        let n = plan.nodes.len() - 1;
                        plan.nodes[at]
                            .children
                            .push((seg.as_bytes().into(), n as u32));
                        n
                    }
                };
            }
        }
        // Every node stands for the path of its segments joined by dots; ask the map about it.
        let mut paths = vec![String::new(); plan.nodes.len()];
        for at in 0..plan.nodes.len() {
            for (seg, child) in plan.nodes[at].children.clone() {
                let mut p = paths[at].clone();
                if at != 0 {
                    p.push('.');
                }
                p.push_str(std::str::from_utf8(&seg).unwrap_or(""));
                paths[child as usize] = p;
            }
        }
        for (node, path) in plan.nodes.iter_mut().zip(&paths) {
            node.target = map.get(path);
            node.wanted = node.target.is_some() || map.is_prefix(path);
            node.needed = match node.target {
                Some(Target::Field(f) | Target::IfIp(f)) => needed.contains(f),
                Some(Target::Timestamp) => true,
                None => false,
            };
        }
        plan
    }

    /// The node of the path `node` + `.` + `key` (at the root: `key`), if the trie has it.
    #[inline]
    fn step(&self, node: u32, key: &[u8]) -> Option<u32> {
        if node == 0 && key.is_empty() {
            return Some(0);
        }
        let mut at = node as usize;
        for seg in key.split(|&b| b == b'.') {
            at = self.nodes[at]
                .children
                .iter()
                .find(|(s, _)| s.len() == seg.len() && **s == *seg)
                .map(|(_, n)| *n as usize)?;
        }
        Some(at as u32)
    }
}

/// Reads one line (already stripped of its terminator, not blank) into `rec` (cleared first).
pub(crate) fn read(plan: &Plan, line: &[u8], rec: &mut Record, scratch: &mut Vec<u8>) -> Outcome {
    rec.clear();
    if !line.is_ascii() && std::str::from_utf8(line).is_err() {
        return Outcome::Fallback;
    }
    let mut p = Parser {
        b: line,
        i: 0,
        plan,
        rec,
        scratch,
        attempts: 0,
    };
    match p.line() {
        Ok(()) => Outcome::Done,
        Err(Bail) => {
            p.rec.clear();
            Outcome::Fallback
        }
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    plan: &'a Plan,
    rec: &'a mut Record,
    scratch: &'a mut Vec<u8>,
    /// Values the general reader would try to store (needed or not): past the per-record
    /// limit, the general reader decides which are kept.
    attempts: usize,
}

const ONES: u64 = u64::MAX / 255;
const HIGHS: u64 = ONES << 7;

impl Parser<'_> {
    /// The whole line: one object, whitespace around it.
    fn line(&mut self) -> R<()> {
        self.ws();
        if self.peek() != Some(b'{') {
            return Err(Bail);
        }
        self.i += 1;
        self.object(0, 0)?;
        self.ws();
        if self.i != self.b.len() || self.attempts >= MAX_VALUES {
            return Err(Bail);
        }
        Ok(())
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn expect(&mut self, c: u8) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Moves to the next `"`, `\` or control character inside a string.
    #[inline]
    fn skip_to_special(&mut self) {
        let b = self.b;
        let mut i = self.i;
        while i + 8 <= b.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            let c = u64::from_le_bytes(w);
            let ctrl = c.wrapping_sub(ONES * 0x20) & !c;
            let q = c ^ (ONES * u64::from(b'"'));
            let quote = q.wrapping_sub(ONES) & !q;
            let s = c ^ (ONES * u64::from(b'\\'));
            let slash = s.wrapping_sub(ONES) & !s;
            let m = (ctrl | quote | slash) & HIGHS;
            if m != 0 {
                self.i = i + m.trailing_zeros() as usize / 8;
                return;
            }
            i += 8;
        }
        while let Some(&c) = b.get(i) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                break;
            }
            i += 1;
        }
        self.i = i;
    }

    /// A string's raw bytes (after its opening quote): `(start, end, has escapes)`, the closing
    /// quote consumed. Escapes are checked for their syntax only.
    #[inline]
    fn string(&mut self) -> R<(usize, usize, bool)> {
        let start = self.i;
        let mut esc = false;
        loop {
            self.skip_to_special();
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok((start, self.i - 1, esc));
                }
                Some(b'\\') => {
                    esc = true;
                    match self.b.get(self.i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
                        Some(b'u') => {
                            let hex = self.b.get(self.i + 2..self.i + 6).ok_or(Bail)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Bail);
                            }
                            self.i += 6;
                        }
                        _ => return Err(Bail),
                    }
                }
                _ => return Err(Bail),
            }
        }
    }

    /// A string read as serde_json reads the strings it deserialises: escapes decoded into the
    /// scratch buffer, surrogates paired. Returns the text's location.
    fn strict_string(&mut self) -> R<Text> {
        let (s, e, esc) = self.string()?;
        if !esc {
            return Ok(Text::Line(s, e));
        }
        self.scratch.clear();
        let raw = &self.b[s..e];
        let mut k = 0;
        while k < raw.len() {
            let c = raw[k];
            if c != b'\\' {
                self.scratch.push(c);
                k += 1;
                continue;
            }
            let e = raw.get(k + 1).copied().ok_or(Bail)?;
            k += 2;
            let simple = match e {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => 0,
                _ => return Err(Bail),
            };
            if e != b'u' {
                self.scratch.push(simple);
                continue;
            }
            let hex4 = |at: usize| -> R<u32> {
                let h = raw.get(at..at + 4).ok_or(Bail)?;
                let s = std::str::from_utf8(h).map_err(|_| Bail)?;
                u32::from_str_radix(s, 16).map_err(|_| Bail)
            };
            let n = hex4(k)?;
            k += 4;
            let cp = if (0xD800..0xDC00).contains(&n) {
                if raw.get(k..k + 2) != Some(b"\\u") {
                    return Err(Bail);
                }
                let lo = hex4(k + 2)?;
                if !(0xDC00..0xE000).contains(&lo) {
                    return Err(Bail);
                }
                k += 6;
                0x10000 + ((n - 0xD800) << 10) + (lo - 0xDC00)
            } else if (0xDC00..0xE000).contains(&n) {
                return Err(Bail);
            } else {
                n
            };
            let ch = char::from_u32(cp).ok_or(Bail)?;
            let mut buf = [0u8; 4];
            self.scratch
                .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        Ok(Text::Scratch)
    }

    /// The members of an object whose `{` was read, at path `node`, the object itself at
    /// nesting `depth`.
    fn object(&mut self, node: u32, depth: u32) -> R<()> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.expect(b'"')?;
            let (s, e, esc) = self.string()?;
            if esc {
                return Err(Bail);
            }
            self.ws();
            self.expect(b':')?;
            self.ws();
            let b = self.b;
            let child = self
                .plan
                .step(node, &b[s..e])
                .filter(|&c| depth < MAX_DEPTH && self.plan.nodes[c as usize].wanted);
            match child {
                Some(c) => self.value(c, depth + 1)?,
                None => self.skip_value(depth + 1)?,
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Bail),
            }
        }
    }

    /// A value at a walked path `node`, at nesting `depth`.
    fn value(&mut self, node: u32, depth: u32) -> R<()> {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                let t = self.strict_string()?;
                self.leaf_str(node, t);
                Ok(())
            }
            Some(b'{') => {
                self.i += 1;
                self.object(node, depth)
            }
            Some(b'[') => {
                self.i += 1;
                if depth >= MAX_DEPTH {
                    self.i -= 1;
                    return self.skip_value(depth);
                }
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.value(node, depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => {
                            self.i += 1;
                            self.ws();
                        }
                        Some(b']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(Bail),
                    }
                }
            }
            Some(b'0'..=b'9') => {
                let n = self.small_integer()?;
                self.leaf_u64(node, n);
                Ok(())
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => Err(Bail),
        }
    }

    /// `0` or `[1-9][0-9]{0,18}` not followed by a fraction or an exponent: the integers
    /// serde_json hands over as `u64`. Anything else gives up.
    #[inline]
    fn small_integer(&mut self) -> R<u64> {
        let start = self.i;
        let mut n = 0u64;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            n = n * 10 + u64::from(d - b'0');
            self.i += 1;
            if self.i - start > 19 {
                return Err(Bail);
            }
        }
        let len = self.i - start;
        if (len > 1 && self.b[start] == b'0') || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(Bail);
        }
        Ok(n)
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Bail)
        }
    }

    fn leaf_str(&mut self, node: u32, t: Text) {
        let plan = self.plan;
        let n = &plan.nodes[node as usize];
        match n.target {
            Some(Target::Field(f)) => {
                self.attempts += 1;
                if n.needed {
                    // Same normalisation as the general reader (one definition).
                    let _ = self.rec.push(f, text(self.b, self.scratch, t));
                }
            }
            Some(Target::IfIp(f)) => {
                self.attempts += 1;
                if n.needed {
                    let v = text(self.b, self.scratch, t);
                    let t = v.trim();
                    if crate::canon::parse_ipv4(t.as_bytes()).is_some()
                        || t.parse::<std::net::IpAddr>().is_ok()
                    {
                        let _ = self.rec.push(f, v);
                    }
                }
            }
            Some(Target::Timestamp) => {
                let ts = text(self.b, self.scratch, t);
                self.rec.set_timestamp_text(ts, false);
            }
            None => {}
        }
    }

    fn leaf_u64(&mut self, node: u32, n: u64) {
        let plan = self.plan;
        let node = &plan.nodes[node as usize];
        match node.target {
            Some(Target::Field(f)) => {
                self.attempts += 1;
                if node.needed {
                    let _ = self.rec.push_u64(f, n);
                }
            }
            // Epoch milliseconds when large, else seconds (as the general reader).
            Some(Target::Timestamp) => {
                self.rec.set_timestamp(i64::try_from(n).ok().and_then(|n| {
                    if n > 100_000_000_000 {
                        n.checked_mul(1_000_000)
                    } else {
                        n.checked_mul(1_000_000_000)
                    }
                }))
            }
            _ => {}
        }
    }

    /// Skips one value inside `depth` open containers, checking its grammar (serde_json's
    /// `IgnoredAny`, without recursion). Nesting beyond [`MAX_NESTING`] in all gives up.
    fn skip_value(&mut self, depth: u32) -> R<()> {
        let mut stack = [0u8; MAX_NESTING];
        let mut sp = 0usize;
        let room = MAX_NESTING.saturating_sub(depth as usize + 1);
        loop {
            // A value.
            match self.peek().ok_or(Bail)? {
                b'"' => {
                    self.i += 1;
                    self.string()?;
                }
                open @ (b'{' | b'[') => {
                    self.i += 1;
                    self.ws();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        if sp >= room {
                            return Err(Bail);
                        }
                        stack[sp] = open;
                        sp += 1;
                        if open == b'{' {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b'-' | b'0'..=b'9' => self.skip_number()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return Err(Bail),
            }
            // Then commas and closings.
            loop {
                if sp == 0 {
                    return Ok(());
                }
                self.ws();
                let top = stack[sp - 1];
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        self.ws();
                        if top == b'{' {
                            self.key()?;
                        }
                        break;
                    }
                    Some(b'}') if top == b'{' => {
                        self.i += 1;
                        sp -= 1;
                    }
                    Some(b']') if top == b'[' => {
                        self.i += 1;
                        sp -= 1;
                    }
                    _ => return Err(Bail),
                }
            }
        }
    }

    /// `"key" :` inside a skipped object, and the whitespace before its value.
    fn key(&mut self) -> R<()> {
        self.expect(b'"')?;
        self.string()?;
        self.ws();
        self.expect(b':')?;
        self.ws();
        Ok(())
    }

    /// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn skip_number(&mut self) -> R<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return Err(Bail);
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Bail),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(Bail);
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(Bail);
            }
            self.digits();
        }
        Ok(())
    }

    #[inline]
    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }
}

/// Where a string's text is: in the line, or decoded into the scratch buffer.
#[derive(Debug, Clone, Copy)]
enum Text {
    Line(usize, usize),
    Scratch,
}

fn text<'t>(line: &'t [u8], scratch: &'t [u8], t: Text) -> &'t str {
    let bytes = match t {
        Text::Line(s, e) => &line[s..e],
        Text::Scratch => scratch,
    };
    // The line was checked to be UTF-8 and escapes decode to whole characters.
    std::str::from_utf8(bytes).unwrap_or("")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::field::Field;
    use crate::sample::{Spec, generate, standard_plants};
    use crate::{FieldMap, Format};

    /// The one-pass reader reads the usual lines itself (the general reader is only the
    /// fallback), and gives up on what it leaves to the general reader.
    #[test]
    fn reads_usual_lines_itself_and_gives_up_on_the_rest() {
        let needed = FieldSet::EMPTY
            .with(Field::DestinationIp)
            .with(Field::DnsQuestion)
            .with(Field::UrlFull)
            .with_helpers();
        for (format, map) in [
            (Format::Ecs, FieldMap::ecs()),
            (Format::Eve, FieldMap::eve()),
        ] {
            let plan = Plan::new(&map, needed);
            let (files, _) = generate(&Spec {
                format,
                events: 200,
                plants: standard_plants(format),
                malformed: 0,
                seed: 3,
            });
            let (mut rec, mut scratch) = (Record::new(), Vec::new());
            for line in files[0].text.lines() {
                assert_eq!(
                    read(&plan, line.as_bytes(), &mut rec, &mut scratch),
                    Outcome::Done,
                    "{line}"
                );
                assert!(rec.timestamp().is_some());
                assert!(rec.entries().iter().all(|e| needed.contains(e.field)));
            }
        }
        let plan = Plan::new(&FieldMap::ecs(), needed);
        let (mut rec, mut scratch) = (Record::new(), Vec::new());
        for line in [
            r#"{"sour\u0063e":{"ip":"10.0.0.1"}}"#,
            r#"{"source":{"ip":"10.0.0.1"}"#,
            r#"{"destination":{"port":1.5}}"#,
            r#"[1]"#,
        ] {
            assert_eq!(
                read(&plan, line.as_bytes(), &mut rec, &mut scratch),
                Outcome::Fallback,
                "{line}"
            );
        }
        assert_eq!(
            read(
                &plan,
                br#"{"x":{"y":[1,-2.5e3,"\u00e9",null]},"destination":{"ip":"1.2.3.4"}}"#,
                &mut rec,
                &mut scratch
            ),
            Outcome::Done
        );
        assert_eq!(rec.get(Field::DestinationIp), Some("1.2.3.4"));
        assert_eq!(rec.binary(&rec.entries()[0]), [1, 2, 3, 4]);
    }
}
