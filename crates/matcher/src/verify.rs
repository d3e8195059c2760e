//! Exact evaluation of one observation expression's comparison against one record, with the
//! semantics of the pattern evaluator: a record stands for one observation whose objects are
//! one SCO per address, domain name, URL and e-mail address, plus one `network-traffic`, one
//! `file` and one `x509-certificate` object when the record has their fields. A comparison
//! yields the set of objects (a bitmask) it holds for; `AND` intersects, `OR` unites.

use std::cmp::Ordering;

use pattern::net::Block;
use pattern::regex::{CompiledLike, CompiledRegex};
use pattern::{CompareOp, ComparisonExpr, Literal, Operand, PathStep};
use telemetry::{Field, ObjectSlot, Record};
use unicode_normalization::UnicodeNormalization;

/// Bits of the shared objects; object `3 + i` is the own SCO of entry `i`.
pub(crate) const BIT_TRAFFIC: u64 = 1;
pub(crate) const BIT_FILE: u64 = 2;
pub(crate) const BIT_CERT: u64 = 4;

/// The object types a record can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjType {
    Ipv4,
    Ipv6,
    Domain,
    Url,
    Email,
    Traffic,
    File,
    Cert,
    /// Any other type: records never hold one.
    Other,
}

/// A property a comparison reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prop {
    /// `value` of an address, domain name, URL or e-mail address.
    Value,
    SrcPort,
    DstPort,
    /// `protocols[*]` (`None`) or `protocols[n]`.
    Protocols(Option<usize>),
    SrcRefValue,
    DstRefValue,
    /// `src_ref.type` / `dst_ref.type`: the family of the record's source / destination
    /// address (`ipv4-addr`, `ipv6-addr`), as MISP's `ip-src`/`ip-dst` patterns test it.
    SrcRefType,
    DstRefType,
    UserAgent,
    /// A property of the file or certificate object held by this field.
    Of(Field),
    /// A property records never have.
    Never,
}

fn key(s: &PathStep) -> Option<&str> {
    match s {
        PathStep::Key(k) => Some(k),
        _ => None,
    }
}

pub(crate) fn resolve(object_type: &str, path: &[PathStep]) -> (ObjType, Prop) {
    let t = match object_type {
        "ipv4-addr" => ObjType::Ipv4,
        "ipv6-addr" => ObjType::Ipv6,
        "domain-name" => ObjType::Domain,
        "url" => ObjType::Url,
        "email-addr" => ObjType::Email,
        "network-traffic" => ObjType::Traffic,
        "file" => ObjType::File,
        "x509-certificate" => ObjType::Cert,
        _ => ObjType::Other,
    };
    let keys: Option<Vec<&str>> = path.iter().map(key).collect();
    let p = match (t, keys.as_deref()) {
        (
            ObjType::Ipv4 | ObjType::Ipv6 | ObjType::Domain | ObjType::Url | ObjType::Email,
            Some(["value"]),
        ) => Prop::Value,
        (ObjType::Traffic, Some(["src_port"])) => Prop::SrcPort,
        (ObjType::Traffic, Some(["dst_port"])) => Prop::DstPort,
        (ObjType::Traffic, Some(["src_ref", "value"])) => Prop::SrcRefValue,
        (ObjType::Traffic, Some(["dst_ref", "value"])) => Prop::DstRefValue,
        (ObjType::Traffic, Some(["src_ref", "type"])) => Prop::SrcRefType,
        (ObjType::Traffic, Some(["dst_ref", "type"])) => Prop::DstRefType,
        (
            ObjType::Traffic,
            Some(
                [
                    "extensions",
                    "http-request-ext",
                    "request_header",
                    "User-Agent",
                ],
            ),
        ) => Prop::UserAgent,
        (ObjType::Traffic, None) => match path {
            [PathStep::Key(k), PathStep::AnyIndex] if k == "protocols" => Prop::Protocols(None),
            [PathStep::Key(k), PathStep::Index(n)] if k == "protocols" => {
                usize::try_from(*n).map_or(Prop::Never, |n| Prop::Protocols(Some(n)))
            }
            _ => Prop::Never,
        },
        (ObjType::File, Some(["name"])) => Prop::Of(Field::FileName),
        (ObjType::File, Some(["size"])) => Prop::Of(Field::FileSize),
        (ObjType::File, Some(["hashes", algo])) => match crate::canon::HashAlgo::from_name(algo) {
            Some(crate::canon::HashAlgo::Md5) => Prop::Of(Field::FileMd5),
            Some(crate::canon::HashAlgo::Sha1) => Prop::Of(Field::FileSha1),
            Some(crate::canon::HashAlgo::Sha256) => Prop::Of(Field::FileSha256),
            None => Prop::Never,
        },
        (ObjType::Cert, Some(["hashes", algo])) => match crate::canon::HashAlgo::from_name(algo) {
            Some(crate::canon::HashAlgo::Sha1) => Prop::Of(Field::CertSha1),
            Some(crate::canon::HashAlgo::Sha256) => Prop::Of(Field::CertSha256),
            _ => Prop::Never,
        },
        (ObjType::Cert, Some(["subject"])) => Prop::Of(Field::CertSubject),
        (ObjType::Cert, Some(["issuer"])) => Prop::Of(Field::CertIssuer),
        (ObjType::Cert, Some(["serial_number"])) => Prop::Of(Field::CertSerial),
        _ => Prop::Never,
    };
    (t, p)
}

/// A literal, normalised the way the readers normalise the values it is compared with.
#[derive(Debug, Clone)]
pub(crate) enum Lit {
    Str(String),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    /// Booleans and timestamps: no record value compares equal to them.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) enum VOp {
    Eq(Lit),
    Ne(Lit),
    Order(CompareOp, Lit),
    In(Vec<Lit>),
    Like(Box<CompiledLike>, String),
    Matches(Box<CompiledRegex>, String),
    Subset(Option<Block>, String),
    Superset(Option<Block>, String),
    Exists,
}

#[derive(Debug, Clone)]
pub(crate) struct VTest {
    pub(crate) obj: ObjType,
    pub(crate) prop: Prop,
    pub(crate) negated: bool,
    pub(crate) op: VOp,
}

#[derive(Debug, Clone)]
pub(crate) enum VExpr {
    And(Box<VExpr>, Box<VExpr>),
    Or(Box<VExpr>, Box<VExpr>),
    Test(VTest),
}

/// Why a comparison cannot be compiled (its regex).
#[derive(Debug, Clone)]
pub(crate) struct VError(pub(crate) String);

pub(crate) fn is_ip_prop(obj: ObjType, prop: Prop) -> bool {
    matches!(
        (obj, prop),
        (ObjType::Ipv4 | ObjType::Ipv6, Prop::Value) | (_, Prop::SrcRefValue | Prop::DstRefValue)
    )
}

/// A literal in the canonical form of the values it is compared with (`crate::canon`).
pub(crate) fn normalise(obj: ObjType, prop: Prop, s: &str) -> String {
    match (obj, prop) {
        _ if is_ip_prop(obj, prop) => match s.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => s.to_owned(),
        },
        (ObjType::Domain, Prop::Value) => {
            telemetry::canon::domain(s).map_or_else(|| s.to_ascii_lowercase(), |d| d.into_owned())
        }
        (ObjType::Url, Prop::Value) => telemetry::canon::url(s).into_owned(),
        (_, Prop::Of(f)) if matches!(f.kind(), telemetry::ValueKind::Hash(_)) => {
            s.to_ascii_lowercase()
        }
        _ => s.to_owned(),
    }
}

/// A network literal compared with `=` on an address: `ipv4-addr:value = '10.0.0.0/8'` means
/// the network (as MISP and every block list read it); `/32` and `/128` mean the address.
fn network_literal(obj: ObjType, prop: Prop, l: &Literal) -> Option<basics::net::Net> {
    let Literal::String(s) = l else { return None };
    if !is_ip_prop(obj, prop) || !s.contains('/') {
        return None;
    }
    basics::net::Net::parse(s).ok()
}

/// The test `=` on one literal, a network literal on an address becoming `ISSUBSET`.
fn eq_test(obj: ObjType, prop: Prop, negated: bool, l: &Literal) -> VTest {
    let op = match network_literal(obj, prop, l) {
        Some(n) if n.is_host() => VOp::Eq(Lit::Str(n.addr().to_string())),
        Some(n) => VOp::Subset(Block::parse(&n.to_string()), n.to_string()),
        None => VOp::Eq(lit(obj, prop, l)),
    };
    VTest {
        obj,
        prop,
        negated,
        op,
    }
}

fn lit(obj: ObjType, prop: Prop, l: &Literal) -> Lit {
    match l {
        Literal::String(s) => Lit::Str(normalise(obj, prop, s)),
        Literal::Int(i) => Lit::Int(*i),
        Literal::Float(f) => Lit::Float(*f),
        Literal::Binary { bytes, .. } => Lit::Bytes(bytes.clone()),
        Literal::Bool(_) | Literal::Timestamp(_) => Lit::Other,
    }
}

fn string_operand(o: &Operand) -> Option<&str> {
    match o {
        Operand::Literal(Literal::String(s)) => Some(s),
        _ => None,
    }
}

/// The compiled observation expression of a pattern of the most common shape, one equality
/// test on one literal, written exactly `[TYPE:PATH = 'VALUE']` for `TYPE:PATH` one of
/// `ipv4-addr:value`, `ipv6-addr:value`, `domain-name:value`, `url:value`,
/// `email-addr:value`, `file:hashes.MD5`, `file:hashes.'MD5'`, `file:hashes.'SHA-1'`,
/// `file:hashes.'SHA-256'`, with a VALUE of printable ASCII without quote or backslash (no
/// escapes), an address without `/` (no network), a digest of hex digits of the algorithm's
/// length. Read without the pattern parser: `None` for any other text, which then goes
/// through [`pattern::parse`] and [`compile`]. For every text it accepts, the result is what
/// the parser and [`compile`] give (a property test holds the two paths together).
pub(crate) fn compile_common(pattern: &str) -> Option<VExpr> {
    let inner = pattern.strip_prefix('[')?.strip_suffix("']")?;
    let (path, value) = inner.split_once(" = '")?;
    if !value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'\\' && b != b'\'')
    {
        return None;
    }
    let (ty, prop) = path.split_once(':')?;
    let (obj, prop, digits) = match (ty, prop) {
        ("ipv4-addr", "value") if !value.contains('/') => (ObjType::Ipv4, Prop::Value, 0),
        ("ipv6-addr", "value") if !value.contains('/') => (ObjType::Ipv6, Prop::Value, 0),
        ("domain-name", "value") => (ObjType::Domain, Prop::Value, 0),
        ("url", "value") => (ObjType::Url, Prop::Value, 0),
        ("email-addr", "value") => (ObjType::Email, Prop::Value, 0),
        ("file", "hashes.MD5" | "hashes.'MD5'") => (ObjType::File, Prop::Of(Field::FileMd5), 32),
        ("file", "hashes.'SHA-1'") => (ObjType::File, Prop::Of(Field::FileSha1), 40),
        ("file", "hashes.'SHA-256'") => (ObjType::File, Prop::Of(Field::FileSha256), 64),
        _ => return None,
    };
    if digits != 0 && (value.len() != digits || !value.bytes().all(|b| b.is_ascii_hexdigit())) {
        return None;
    }
    Some(VExpr::Test(VTest {
        obj,
        prop,
        negated: false,
        op: VOp::Eq(Lit::Str(normalise(obj, prop, value))),
    }))
}

pub(crate) fn compile(c: &ComparisonExpr) -> Result<VExpr, VError> {
    Ok(match c {
        ComparisonExpr::And(a, b, _) => VExpr::And(Box::new(compile(a)?), Box::new(compile(b)?)),
        ComparisonExpr::Or(a, b, _) => VExpr::Or(Box::new(compile(a)?), Box::new(compile(b)?)),
        ComparisonExpr::Group(inner, _) => compile(inner)?,
        ComparisonExpr::Test(t) => {
            let (obj, prop) = resolve(&t.path.object_type, &t.path.steps);
            let single = || match &t.operand {
                Operand::Literal(l) => lit(obj, prop, l),
                _ => Lit::Other,
            };
            // Networks compared with `=` on addresses (alone or in a set) are networks.
            match (&t.op, &t.operand) {
                (CompareOp::Eq, Operand::Literal(l)) if network_literal(obj, prop, l).is_some() => {
                    return Ok(VExpr::Test(eq_test(obj, prop, t.negated, l)));
                }
                (CompareOp::In, Operand::Set(set))
                    if !t.negated
                        && set.iter().any(|l| network_literal(obj, prop, l).is_some()) =>
                {
                    let mut it = set
                        .iter()
                        .map(|l| VExpr::Test(eq_test(obj, prop, false, l)));
                    let first = it.next().ok_or_else(|| VError("an empty set".into()))?;
                    return Ok(it.fold(first, |a, b| VExpr::Or(Box::new(a), Box::new(b))));
                }
                _ => {}
            }
            let op = match t.op {
                CompareOp::Eq => VOp::Eq(single()),
                CompareOp::Ne => VOp::Ne(single()),
                CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge => {
                    VOp::Order(t.op, single())
                }
                CompareOp::In => match &t.operand {
                    Operand::Set(s) => VOp::In(s.iter().map(|l| lit(obj, prop, l)).collect()),
                    _ => VOp::In(Vec::new()),
                },
                CompareOp::Like => {
                    let s = string_operand(&t.operand).unwrap_or("");
                    let l = pattern::regex::compile_like(s)
                        .map_err(|e| VError(format!("LIKE {s:?}: {e:?}")))?;
                    VOp::Like(Box::new(l), s.to_owned())
                }
                CompareOp::Matches => {
                    let s = string_operand(&t.operand).unwrap_or("");
                    let r = pattern::regex::compile_matches(s)
                        .map_err(|e| VError(format!("MATCHES {s:?}: {e:?}")))?;
                    VOp::Matches(Box::new(r), s.to_owned())
                }
                CompareOp::IsSubset => {
                    let s = string_operand(&t.operand).unwrap_or("");
                    VOp::Subset(Block::parse(s), s.to_owned())
                }
                CompareOp::IsSuperset => {
                    let s = string_operand(&t.operand).unwrap_or("");
                    VOp::Superset(Block::parse(s), s.to_owned())
                }
                CompareOp::Exists => VOp::Exists,
            };
            VExpr::Test(VTest {
                obj,
                prop,
                negated: t.negated,
                op,
            })
        }
    })
}

/// A record value as the evaluator would see it in the SCO.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Str(&'a str),
    Int(i64),
}

/// The record fields evaluating `e` reads: the values of its properties and, for the objects it
/// names, every field whose presence makes the record hold that object.
pub(crate) fn fields_read(e: &VExpr) -> telemetry::FieldSet {
    use telemetry::FieldSet;
    match e {
        VExpr::And(a, b) | VExpr::Or(a, b) => {
            let mut s = fields_read(a);
            s.extend(fields_read(b));
            s
        }
        VExpr::Test(t) => {
            let of = |pick: &dyn Fn(Field) -> bool| -> FieldSet {
                Field::ALL.iter().copied().filter(|f| pick(*f)).collect()
            };
            match (t.obj, t.prop) {
                (_, Prop::Never) | (ObjType::Other, _) => FieldSet::EMPTY,
                (ObjType::Traffic, _) => of(&|f| {
                    f.slot() == ObjectSlot::NetworkTraffic
                        || matches!(f, Field::SourceIp | Field::DestinationIp)
                }),
                (ObjType::File, _) => of(&|f| f.slot() == ObjectSlot::File),
                (ObjType::Cert, _) => of(&|f| f.slot() == ObjectSlot::Certificate),
                (obj, _) => of(&|f| own_type_of_field(f, obj)),
            }
        }
    }
}

/// Whether values of `f` can be objects of type `obj` (addresses of either family).
fn own_type_of_field(f: Field, obj: ObjType) -> bool {
    f.slot() == ObjectSlot::Own
        && match obj {
            ObjType::Ipv4 | ObjType::Ipv6 => f.is_ip(),
            other => own_type(f, "") == other,
        }
}

fn has_traffic(rec: &Record) -> bool {
    rec.entries().iter().any(|e| {
        e.field.slot() == ObjectSlot::NetworkTraffic
            || matches!(e.field, Field::SourceIp | Field::DestinationIp)
    })
}

fn has_slot(rec: &Record, slot: ObjectSlot) -> bool {
    rec.entries().iter().any(|e| e.field.slot() == slot)
}

pub(crate) fn is_v6(s: &str) -> bool {
    s.contains(':')
}

fn own_type(f: Field, value: &str) -> ObjType {
    match f {
        Field::SourceIp | Field::DestinationIp | Field::DnsResolvedIp => {
            if is_v6(value) {
                ObjType::Ipv6
            } else {
                ObjType::Ipv4
            }
        }
        Field::DnsQuestion | Field::UrlDomain | Field::TlsServerName => ObjType::Domain,
        Field::UrlFull => ObjType::Url,
        Field::EmailFrom | Field::EmailTo => ObjType::Email,
        _ => ObjType::Other,
    }
}

/// The bits of every object of a type the record holds.
fn objects_of(rec: &Record, obj: ObjType) -> u64 {
    match obj {
        ObjType::Traffic => {
            if has_traffic(rec) {
                BIT_TRAFFIC
            } else {
                0
            }
        }
        ObjType::File => {
            if has_slot(rec, ObjectSlot::File) {
                BIT_FILE
            } else {
                0
            }
        }
        ObjType::Cert => {
            if has_slot(rec, ObjectSlot::Certificate) {
                BIT_CERT
            } else {
                0
            }
        }
        ObjType::Other => 0,
        _ => {
            let mut m = 0;
            for (i, e) in rec.entries().iter().enumerate() {
                if e.field.slot() == ObjectSlot::Own && own_type(e.field, rec.value(e)) == obj {
                    m |= 1u64 << (3 + i);
                }
            }
            m
        }
    }
}

fn addr_type(v: &str) -> &'static str {
    if is_v6(v) { "ipv6-addr" } else { "ipv4-addr" }
}

fn int(s: &str) -> Val<'_> {
    s.parse::<i64>().map_or(Val::Str(s), Val::Int)
}

/// Calls `f(bit, value, entry index)` for each value the property has on each object.
pub(crate) fn for_each_value<'r>(
    rec: &'r Record,
    obj: ObjType,
    prop: Prop,
    mut f: impl FnMut(u64, Val<'r>, usize),
) {
    let first = |field: Field| {
        rec.entries()
            .iter()
            .enumerate()
            .find(|(_, e)| e.field == field)
            .map(|(i, e)| (i, rec.value(e)))
    };
    match (obj, prop) {
        (_, Prop::Never) | (ObjType::Other, _) => {}
        (ObjType::Traffic, _) => {
            if !has_traffic(rec) {
                return;
            }
            let one = |field: Field| first(field);
            let got = match prop {
                Prop::SrcPort => one(Field::SourcePort).map(|(i, v)| (i, int(v))),
                Prop::DstPort => one(Field::DestinationPort).map(|(i, v)| (i, int(v))),
                Prop::SrcRefValue => one(Field::SourceIp).map(|(i, v)| (i, Val::Str(v))),
                Prop::DstRefValue => one(Field::DestinationIp).map(|(i, v)| (i, Val::Str(v))),
                Prop::SrcRefType => one(Field::SourceIp).map(|(i, v)| (i, Val::Str(addr_type(v)))),
                Prop::DstRefType => {
                    one(Field::DestinationIp).map(|(i, v)| (i, Val::Str(addr_type(v))))
                }
                Prop::UserAgent => one(Field::UserAgent).map(|(i, v)| (i, Val::Str(v))),
                Prop::Protocols(sel) => {
                    let mut n = 0;
                    for (i, e) in rec.entries().iter().enumerate() {
                        if e.field == Field::NetworkTransport {
                            if sel.is_none_or(|want| want == n) {
                                f(BIT_TRAFFIC, Val::Str(rec.value(e)), i);
                            }
                            n += 1;
                        }
                    }
                    None
                }
                _ => None,
            };
            if let Some((i, v)) = got {
                f(BIT_TRAFFIC, v, i);
            }
        }
        (ObjType::File | ObjType::Cert, Prop::Of(field)) => {
            let bit = if obj == ObjType::File {
                BIT_FILE
            } else {
                BIT_CERT
            };
            if let Some((i, v)) = first(field) {
                let v = if field == Field::FileSize {
                    int(v)
                } else {
                    Val::Str(v)
                };
                f(bit, v, i);
            }
        }
        (_, Prop::Value) => {
            for (i, e) in rec.entries().iter().enumerate() {
                let v = rec.value(e);
                if e.field.slot() == ObjectSlot::Own && own_type(e.field, v) == obj {
                    f(1u64 << (3 + i), Val::Str(v), i);
                }
            }
        }
        _ => {}
    }
}

fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(c as u32).ok()).collect()
}

fn compare(v: Val<'_>, l: &Lit) -> Option<Ordering> {
    match (v, l) {
        (Val::Str(a), Lit::Str(b)) => Some(a.cmp(b.as_str())),
        (Val::Int(a), Lit::Int(b)) => Some(a.cmp(b)),
        (Val::Int(a), Lit::Float(b)) => pattern::eval::cmp_int_float(i128::from(a), *b),
        (Val::Str(a), Lit::Bytes(b)) => latin1(a).map(|a| a.as_slice().cmp(b)),
        _ => None,
    }
}

fn with_nfc<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    if s.is_ascii() {
        f(s)
    } else {
        let n: String = s.nfc().collect();
        f(&n)
    }
}

fn passes(op: &VOp, v: Val<'_>) -> bool {
    match op {
        VOp::Eq(l) => compare(v, l) == Some(Ordering::Equal),
        VOp::Ne(l) => compare(v, l) != Some(Ordering::Equal),
        VOp::Order(op, l) => match compare(v, l) {
            None => false,
            Some(o) => match op {
                CompareOp::Lt => o == Ordering::Less,
                CompareOp::Le => o != Ordering::Greater,
                CompareOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            },
        },
        VOp::In(set) => set.iter().any(|l| compare(v, l) == Some(Ordering::Equal)),
        VOp::Like(l, _) => match v {
            Val::Str(s) => with_nfc(s, |s| l.regex.is_match(s)),
            Val::Int(_) => false,
        },
        VOp::Matches(r, _) => match v {
            Val::Str(s) => with_nfc(s, |s| r.text.is_match(s)),
            Val::Int(_) => false,
        },
        VOp::Subset(b, _) => match (v, b) {
            (Val::Str(s), Some(b)) => Block::parse(s).is_some_and(|x| x.within(b)),
            _ => false,
        },
        VOp::Superset(b, _) => match (v, b) {
            (Val::Str(s), Some(b)) => Block::parse(s).is_some_and(|x| b.within(&x)),
            _ => false,
        },
        VOp::Exists => true,
    }
}

/// The objects of `rec` the test holds for.
fn test_mask(rec: &Record, t: &VTest) -> u64 {
    if let VOp::Exists = t.op {
        let mut has = 0;
        for_each_value(rec, t.obj, t.prop, |bit, _, _| has |= bit);
        return if t.negated {
            objects_of(rec, t.obj) & !has
        } else {
            has
        };
    }
    let mut m = 0;
    for_each_value(rec, t.obj, t.prop, |bit, v, _| {
        if passes(&t.op, v) != t.negated {
            m |= bit;
        }
    });
    m
}

/// The objects of `rec` the comparison expression holds for (non-zero: the record matches).
pub(crate) fn eval(rec: &Record, e: &VExpr) -> u64 {
    match e {
        VExpr::And(a, b) => {
            let l = eval(rec, a);
            if l == 0 { 0 } else { l & eval(rec, b) }
        }
        VExpr::Or(a, b) => eval(rec, a) | eval(rec, b),
        VExpr::Test(t) => test_mask(rec, t),
    }
}

/// The first entry whose value makes some test of `e` hold (for reporting which field matched).
pub(crate) fn witness(rec: &Record, e: &VExpr) -> Option<usize> {
    match e {
        VExpr::And(a, b) | VExpr::Or(a, b) => witness(rec, a).or_else(|| witness(rec, b)),
        VExpr::Test(t) => {
            let mut w = None;
            for_each_value(rec, t.obj, t.prop, |_, v, i| {
                if w.is_none() && passes(&t.op, v) != t.negated {
                    w = Some(i);
                }
            });
            w
        }
    }
}
