//! Which version of each object a block-list export, a MISP feed or a scan uses: the latest one,
//! and only that one. An older version never stands in for a newer one that is revoked,
//! expired, marked more restrictively or hidden from the reader: the object is *withdrawn*, and
//! the command says how many objects it withdrew and why.
//!
//! - From files, the versions of an id are gathered across every file given, and the one with
//!   the greatest `modified` (then `created`) is the object; on a tie, a revoked version and
//!   then the more restrictive TLP win (the safe reading of a conflict).
//! - From a hub collection, the latest version the collection holds decides, whoever may see
//!   it: the reader's listing (the policy applied in SQL, as over TAXII) gives the latest
//!   version the reader may see, and an object whose collection holds a later version than that
//!   one is withdrawn (the later version is hidden from the reader, e.g. re-marked TLP:RED).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use shieldwall::{
    policy::Pushdown,
    store::{ListQuery, Record, Store, VersionSelection},
};
use stix::tlp::effective_tlp_of;

/// Why an object is left out of an export or a scan although the reader may see a version of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Withdrawal {
    /// The collection holds a later version that the reader may not see.
    LaterVersionHidden,
    /// The latest version is revoked.
    Revoked,
    /// The latest version's `valid_until` has passed.
    Expired,
    /// The latest version's `valid_from` is still to come.
    NotYetValid,
    /// The latest version's TLP is not for this audience.
    Tlp,
}

impl Withdrawal {
    /// A short name for summaries.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Withdrawal::LaterVersionHidden => "later version hidden",
            Withdrawal::Revoked => "revoked",
            Withdrawal::Expired => "expired",
            Withdrawal::NotYetValid => "not yet valid",
            Withdrawal::Tlp => "TLP not for this audience",
        }
    }

    /// A sentence for one object.
    fn explain(self) -> &'static str {
        match self {
            Withdrawal::LaterVersionHidden => {
                "the collection holds a later version this member may not see"
            }
            Withdrawal::Revoked => "its latest version is revoked",
            Withdrawal::Expired => "its latest version's valid_until has passed",
            Withdrawal::NotYetValid => "its latest version is not valid yet",
            Withdrawal::Tlp => "its latest version's TLP is not for this audience",
        }
    }
}

/// How many objects were withdrawn, per reason, and how many older versions were set aside.
#[derive(Debug, Default)]
pub(crate) struct Withdrawals {
    counts: BTreeMap<Withdrawal, usize>,
    first: Vec<(String, Withdrawal)>,
    /// Older versions set aside because a later version of the same object was given.
    pub(crate) superseded: usize,
}

/// How many withdrawn objects are named one by one on standard error.
const NAMED: usize = 20;

impl Withdrawals {
    /// Records that object `id` is withdrawn.
    pub(crate) fn add(&mut self, id: &str, why: Withdrawal) {
        *self.counts.entry(why).or_default() += 1;
        if self.first.len() < NAMED {
            self.first.push((id.to_owned(), why));
        }
    }

    /// Objects withdrawn for `why`.
    pub(crate) fn count(&self, why: Withdrawal) -> usize {
        self.counts.get(&why).copied().unwrap_or(0)
    }

    /// Objects withdrawn, all reasons.
    pub(crate) fn total(&self) -> usize {
        self.counts.values().sum()
    }

    /// `withdrawn: N (revoked 1, expired 2); older versions set aside: M`.
    pub(crate) fn summary(&self) -> String {
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(w, n)| format!("{} {n}", w.as_str()))
            .collect();
        let mut s = format!("withdrawn: {}", self.total());
        if !parts.is_empty() {
            s.push_str(&format!(" ({})", parts.join(", ")));
        }
        s.push_str(&format!("; older versions set aside: {}", self.superseded));
        s
    }

    /// Names the first withdrawn objects on standard error, one line each.
    pub(crate) fn print_named(&self, program: &str) {
        for (id, why) in &self.first {
            eprintln!("{program}: {id} withdrawn: {}", why.explain());
        }
        let total = self.total();
        if total > self.first.len() {
            eprintln!(
                "{program}: … and {} more withdrawn",
                total - self.first.len()
            );
        }
    }
}

/// The version key of an object: `modified` (else `created`), then `created`, as nanoseconds;
/// then revoked before not revoked and the more restrictive TLP before the less, so that a tie
/// resolves to the version that withholds more.
fn version_key(o: &Value) -> (Option<i64>, Option<i64>, bool, Option<stix::tlp::TlpLevel>) {
    let time = |k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .and_then(telemetry::time::parse_timestamp)
    };
    let created = time("created");
    (
        time("modified").or(created),
        created,
        o.get("revoked").and_then(Value::as_bool) == Some(true),
        effective_tlp_of(o),
    )
}

/// The same order as a key for the compiler ([`matcher::Compiler::add_version`]): absent
/// times sort first, revoked then the TLP rank break ties.
pub(crate) fn matcher_key(o: &Value) -> matcher::VersionKey {
    let (time, created, revoked, tlp) = version_key(o);
    matcher::VersionKey {
        time: time.unwrap_or(i64::MIN),
        created: created.unwrap_or(i64::MIN),
        withhold: (u8::from(revoked) << 4) | tlp.map_or(0, |l| l as u8 + 1),
    }
}

/// What an indicator reader needs of a STIX object, borrowed from its bytes (no `Value`). A
/// property of another JSON type than expected, or a duplicate of one of these properties,
/// fails this reading and the object is read as a `Value` instead ([`read_indicator`]).
#[derive(serde::Deserialize)]
struct RawObject<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    pattern: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    pattern_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    valid_from: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    valid_until: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    created: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    modified: Option<std::borrow::Cow<'a, str>>,
    revoked: Option<bool>,
    #[serde(borrow)]
    object_marking_refs: Option<Vec<std::borrow::Cow<'a, str>>>,
    #[serde(borrow)]
    granular_markings: Option<Vec<RawGranular<'a>>>,
}

#[derive(serde::Deserialize)]
struct RawGranular<'a> {
    #[serde(borrow)]
    marking_ref: Option<std::borrow::Cow<'a, str>>,
}

/// An object of an indicator file, read for the compiler.
#[derive(Debug, PartialEq)]
pub(crate) enum ReadObject {
    /// Not an indicator.
    Other,
    /// An indicator version: its key, and the indicator or why it cannot be read (with its id).
    Indicator(
        matcher::VersionKey,
        Result<matcher::Indicator, (Option<String>, String)>,
    ),
}

/// Reads one object's bytes: the indicator fields straight from the bytes when they have the
/// expected JSON types (the common case, no `Value` built), else through the strict `Value`
/// reader with the same results as [`matcher::Indicator::from_stix`] and [`matcher_key`].
pub(crate) fn read_indicator(raw: &[u8]) -> Result<ReadObject, stix::json::JsonError> {
    if let Ok(o) = serde_json::from_slice::<RawObject<'_>>(raw)
        && let Some(r) = fast_indicator(&o)
    {
        return Ok(r);
    }
    let v = stix::json::parse(raw)?;
    if v.get("type").and_then(Value::as_str) != Some("indicator") {
        return Ok(ReadObject::Other);
    }
    let key = matcher_key(&v);
    Ok(ReadObject::Indicator(
        key,
        match matcher::Indicator::from_stix(&v) {
            Ok(Some(i)) => Ok(i),
            Ok(None) => Err((None, "not an indicator".into())),
            Err(e) => Err((
                v.get("id").and_then(Value::as_str).map(str::to_owned),
                e.to_string(),
            )),
        },
    ))
}

/// The borrowed reading; `None` when anything is off (the `Value` reader then says what).
fn fast_indicator(o: &RawObject<'_>) -> Option<ReadObject> {
    if o.ty.as_deref() != Some("indicator") {
        return Some(ReadObject::Other);
    }
    let time = |t: &Option<std::borrow::Cow<'_, str>>| -> Result<Option<i64>, ()> {
        match t {
            None => Ok(None),
            Some(t) => telemetry::time::parse_timestamp(t).map(Some).ok_or(()),
        }
    };
    let (modified, created) = (time(&o.modified).ok()?, time(&o.created).ok()?);
    let (valid_from, valid_until) = (time(&o.valid_from).ok()?, time(&o.valid_until).ok()?);
    let marking_refs: Vec<String> = o
        .object_marking_refs
        .iter()
        .flatten()
        .map(|m| m.to_string())
        .chain(
            o.granular_markings
                .iter()
                .flatten()
                .filter_map(|g| g.marking_ref.as_deref().map(str::to_owned)),
        )
        .collect();
    let revoked = o.revoked.unwrap_or(false);
    let tlp = stix::tlp::effective_tlp(marking_refs.iter().map(String::as_str));
    let key = matcher::VersionKey {
        time: modified.or(created).unwrap_or(i64::MIN),
        created: created.unwrap_or(i64::MIN),
        withhold: (u8::from(revoked) << 4) | tlp.map_or(0, |l| l as u8 + 1),
    };
    let ind = matcher::Indicator {
        id: o.id.as_deref()?.to_owned(),
        name: o.name.as_deref().map(str::to_owned),
        pattern: o.pattern.as_deref()?.to_owned(),
        pattern_type: o.pattern_type.as_deref().unwrap_or("stix").to_owned(),
        valid_from,
        valid_until,
        revoked,
        added: modified.or(created),
        marking_refs,
    };
    Some(ReadObject::Indicator(key, Ok(ind)))
}

/// An object read by [`read_fast`]: the indicator's fields borrowed from its bytes.
#[derive(Debug, PartialEq)]
pub(crate) enum FastRead<'a> {
    /// Not an indicator.
    Other,
    /// An indicator version and its key.
    Indicator(matcher::VersionKey, matcher::IndicatorRef<'a>),
}

/// The last text and value of each kind of time read (`modified`, `created`, `valid_from`,
/// `valid_until`): the versions of a file often share them, and comparing is cheaper than
/// parsing.
#[derive(Debug, Default)]
pub(crate) struct Times {
    last: [(String, i64); 4],
}

impl Times {
    fn parse(&mut self, slot: usize, t: Option<&str>) -> Result<Option<i64>, ()> {
        let Some(t) = t else { return Ok(None) };
        let (text, value) = &mut self.last[slot];
        if text.as_str() == t && !t.is_empty() {
            return Ok(Some(*value));
        }
        let v = telemetry::time::parse_timestamp(t).ok_or(())?;
        text.clear();
        text.push_str(t);
        *value = v;
        Ok(Some(v))
    }
}

/// Reads one object's bytes in one pass without serde ([`super::objscan`]) when it is written
/// plainly and its indicator fields have the expected types; `None` otherwise, and the object
/// is then for [`read_indicator`]. What it reads is what [`read_indicator`] reads (the tests
/// hold the two together).
pub(crate) fn read_fast<'a>(raw: &'a [u8], times: &mut Times) -> Option<FastRead<'a>> {
    let f = super::objscan::scan(raw)?;
    if f.ty != Some("indicator") {
        return Some(FastRead::Other);
    }
    let modified = times.parse(0, f.modified).ok()?;
    let created = times.parse(1, f.created).ok()?;
    let valid_from = times.parse(2, f.valid_from).ok()?;
    let valid_until = times.parse(3, f.valid_until).ok()?;
    let revoked = f.revoked.unwrap_or(false);
    let tlp = stix::tlp::effective_tlp(f.markings());
    let key = matcher::VersionKey {
        time: modified.or(created).unwrap_or(i64::MIN),
        created: created.unwrap_or(i64::MIN),
        withhold: (u8::from(revoked) << 4) | tlp.map_or(0, |l| l as u8 + 1),
    };
    Some(FastRead::Indicator(
        key,
        matcher::IndicatorRef {
            id: f.id?,
            name: f.name,
            pattern: f.pattern?,
            pattern_type: f.pattern_type.unwrap_or("stix"),
            valid_from,
            valid_until,
            revoked,
            added: modified.or(created),
        },
    ))
}

/// Streams the raw bytes of the objects of STIX documents (as [`for_each_object`], unparsed)
/// to `f` with the number of the file and the object's line and column.
pub(crate) fn for_each_raw_object(
    files: &[std::path::PathBuf],
    mut f: impl FnMut(usize, &[u8], usize, usize) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    for (n, path) in files.iter().enumerate() {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        for item in stix::stream::ObjectStream::new(file).unparsed() {
            let item = item.map_err(|e| match e {
                stix::stream::StreamError::Syntax {
                    message,
                    line,
                    column,
                } => anyhow::anyhow!("{}:{line}:{column}: not JSON: {message}", path.display()),
                other => anyhow::anyhow!("{}: {other}", path.display()),
            })?;
            if item.kind != stix::stream::ItemKind::Object {
                continue;
            }
            f(n, &item.raw, item.line, item.column)?;
        }
    }
    Ok(())
}

/// Streams the objects of STIX documents (each a bundle, a TAXII envelope, an array of
/// objects or one object) to `f` with the number of the file, one at a time: memory is
/// bounded by the largest object, not the file. A document that is not strict JSON stops
/// with its file, line and column.
pub(crate) fn for_each_object(
    files: &[std::path::PathBuf],
    mut f: impl FnMut(usize, &Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    for (n, path) in files.iter().enumerate() {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        for item in stix::stream::ObjectStream::new(file) {
            let item = item.map_err(|e| match e {
                stix::stream::StreamError::Syntax {
                    message,
                    line,
                    column,
                } => anyhow::anyhow!("{}:{line}:{column}: not JSON: {message}", path.display()),
                other => anyhow::anyhow!("{}: {other}", path.display()),
            })?;
            if item.kind != stix::stream::ItemKind::Object {
                continue;
            }
            let v = item.value.map_err(|e| {
                anyhow::anyhow!(
                    "{}:{}:{}: not JSON: {}",
                    path.display(),
                    e.line,
                    e.column,
                    e.message
                )
            })?;
            f(n, &v)?;
        }
    }
    Ok(())
}

/// The latest version of each object among `items` (gathered from any number of documents;
/// `object` gives an item's STIX object), in the order each id first appears; objects without
/// an `id` pass through. `superseded` counts the versions set aside.
pub(crate) fn latest_only<T>(
    items: Vec<T>,
    object: impl Fn(&T) -> &Value,
    superseded: &mut usize,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for item in items {
        let Some(id) = object(&item)
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            out.push(item);
            continue;
        };
        match at.get(&id) {
            None => {
                at.insert(id, out.len());
                out.push(item);
            }
            Some(&i) => {
                *superseded += 1;
                if version_key(object(&item)) > version_key(object(&out[i])) {
                    out[i] = item;
                }
            }
        }
    }
    out
}

/// Pages through the latest version of each object of `types` (empty: every type) that
/// `pushdown` lets the reader see in `collection`, handing `f` only those that are also the
/// latest version the collection holds; the others are withdrawn
/// ([`Withdrawal::LaterVersionHidden`]).
pub(crate) async fn for_each_latest<S: Store>(
    store: &S,
    collection: &str,
    pushdown: Pushdown,
    types: &[&str],
    withdrawals: &mut Withdrawals,
    mut f: impl FnMut(&Record) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut q = ListQuery::whole_collection(collection, pushdown, VersionSelection::last());
    q.types = types.iter().map(|t| (*t).to_owned()).collect();
    loop {
        let page = store.list(&q).await?;
        let ids: Vec<&str> = page.records.iter().map(|r| r.id.as_str()).collect();
        let mut latest: HashMap<&str, i64> = HashMap::new();
        let placements = store.placements_of(&ids).await?;
        for (c, v) in &placements {
            if c == collection {
                let e = latest.entry(v.id.as_str()).or_insert(v.version_ns);
                *e = (*e).max(v.version_ns);
            }
        }
        for r in &page.records {
            if latest.get(r.id.as_str()).is_some_and(|&l| l > r.version_ns) {
                withdrawals.add(&r.id, Withdrawal::LaterVersionHidden);
            } else {
                f(r)?;
            }
        }
        match (page.more, page.records.last()) {
            (true, Some(last)) => q.after = Some((last.date_added_us, last.row)),
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;
    use stix::tlp::{TLP2_GREEN, TLP2_RED};

    fn v(id: &str, modified: &str, extra: Value) -> Value {
        let mut o = json!({"type": "indicator", "id": id, "created": "2024-01-01T00:00:00Z", "modified": modified});
        for (k, x) in extra.as_object().unwrap() {
            o[k] = x.clone();
        }
        o
    }

    #[test]
    fn the_latest_version_wins_whatever_the_order() {
        let old = v(
            "indicator--a",
            "2024-01-01T00:00:00Z",
            json!({"object_marking_refs": [TLP2_GREEN]}),
        );
        let new = v(
            "indicator--a",
            "2024-02-01T00:00:00.001Z",
            json!({"object_marking_refs": [TLP2_RED]}),
        );
        let other = v("indicator--b", "2024-01-01T00:00:00Z", json!({}));
        for objects in [
            vec![old.clone(), other.clone(), new.clone()],
            vec![new.clone(), old.clone(), other.clone()],
        ] {
            let mut superseded = 0;
            let got = latest_only(objects, |o| o, &mut superseded);
            assert_eq!(superseded, 1);
            assert_eq!(got.len(), 2);
            let a = got.iter().find(|o| o["id"] == "indicator--a").unwrap();
            assert_eq!(a, &new);
        }
    }

    #[test]
    fn a_tie_resolves_to_the_version_that_withholds_more() {
        let t = "2024-03-01T00:00:00Z";
        let plain = v(
            "indicator--a",
            t,
            json!({"object_marking_refs": [TLP2_GREEN]}),
        );
        let revoked = v("indicator--a", t, json!({"revoked": true}));
        let red = v(
            "indicator--a",
            t,
            json!({"object_marking_refs": [TLP2_GREEN], "granular_markings": [{"selectors": ["pattern"], "marking_ref": TLP2_RED}]}),
        );
        let mut n = 0;
        assert_eq!(
            latest_only(vec![revoked.clone(), plain.clone()], |o| o, &mut n),
            vec![revoked.clone()]
        );
        assert_eq!(
            latest_only(vec![plain.clone(), revoked.clone()], |o| o, &mut n),
            vec![revoked]
        );
        // Without `modified`, `created` orders the versions.
        let c1 =
            json!({"type": "indicator", "id": "indicator--c", "created": "2024-01-01T00:00:00Z"});
        let c2 = json!({"type": "indicator", "id": "indicator--c", "created": "2024-01-02T00:00:00Z", "revoked": true});
        assert_eq!(latest_only(vec![c2.clone(), c1], |o| o, &mut n), vec![c2]);
        // Granular markings count in the tie.
        assert_eq!(
            latest_only(vec![plain.clone(), red.clone()], |o| o, &mut n),
            vec![red.clone()]
        );
        assert_eq!(
            latest_only(vec![red.clone(), plain], |o| o, &mut n),
            vec![red]
        );
    }

    /// Whatever the one-pass reader takes, it reads as the general reader does: objects put
    /// together from plain and tricky pieces (escapes, duplicates, other types, broken
    /// numbers, nested values, bad times, markings), compared field by field.
    #[test]
    fn the_one_pass_reader_reads_as_the_general_reader() {
        let keys = [
            "type",
            "id",
            "name",
            "pattern",
            "pattern_type",
            "valid_from",
            "valid_until",
            "created",
            "modified",
            "revoked",
            "object_marking_refs",
            "granular_markings",
            "spec_version",
            "labels",
            "confidence",
            "x_other",
        ];
        let values = [
            r#""indicator""#,
            r#""malware""#,
            r#""indicator--00000000-0000-4000-8000-000000000001""#,
            r#""[ipv4-addr:value = '1.2.3.4']""#,
            r#""[domain-name:value = 'a\u002eexample']""#,
            r#""stix""#,
            r#""sigma""#,
            r#""2024-01-01T00:00:00Z""#,
            r#""2024-02-01T00:00:00.123Z""#,
            r#""2024-13-01T00:00:00Z""#,
            r#""not a time""#,
            r#""""#,
            r#""caf\u00e9""#,
            r#""café""#,
            r#""a\"b""#,
            "\"tab\there\"",
            "true",
            "false",
            "null",
            "0",
            "-12.5e+3",
            "01",
            "1.",
            "[]",
            r#"["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]"#,
            r#"["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "x"]"#,
            r#"["a", 1]"#,
            r#"[{"marking_ref": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "selectors": ["pattern"]}]"#,
            r#"{"a": [true, {"b": null}]}"#,
            "[1,]",
            "tru",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut fast_hits, mut fast_indicators, mut general) = (0, 0, 0);
        let mut times = Times::default();
        for _ in 0..30_000 {
            // Half of the objects start as a plain indicator, the rest from nothing.
            let mut o = String::from("{");
            let plain = next(2) == 0;
            if plain {
                o.push_str(&format!(
                    r#""type": "indicator", "id": {}, "pattern": {}"#,
                    values[2], values[3]
                ));
            }
            let members = next(if plain { 4 } else { 9 });
            for m in 0..members {
                let k = keys[next(keys.len())];
                // Mostly well-typed values for the fields read, so that indicators come out.
                let v = match (k, next(4)) {
                    ("type", 0..=2) => r#""indicator""#,
                    ("id", 0..=2) => values[2],
                    ("pattern", 0..=2) => values[3],
                    ("created" | "modified" | "valid_from" | "valid_until", 0..=1) => {
                        values[7 + next(2)]
                    }
                    _ => values[next(values.len())],
                };
                let ws = [" ", "", "\n\t", " \r\n"][next(4)];
                if m > 0 || plain {
                    o.push(',');
                }
                o.push_str(&format!("{ws}\"{k}\"{ws}:{ws}{v}{ws}"));
            }
            o.push('}');
            let raw = o.as_bytes();
            let slow = read_indicator(raw);
            match read_fast(raw, &mut times) {
                None => general += 1,
                Some(FastRead::Other) => {
                    fast_hits += 1;
                    assert_eq!(slow.ok(), Some(ReadObject::Other), "{o}");
                }
                Some(FastRead::Indicator(key, r)) => {
                    fast_hits += 1;
                    fast_indicators += 1;
                    match slow {
                        Ok(ReadObject::Indicator(k2, Ok(i))) => {
                            assert_eq!((key, r), (k2, i.view()), "{o}");
                        }
                        other => panic!("{o}: the general reader gives {other:?}"),
                    }
                }
            }
        }
        assert!(
            fast_indicators > 500,
            "{fast_indicators} indicators read in one pass"
        );
        assert!(
            fast_hits > 3000 && general > 3000,
            "{fast_hits} / {general}"
        );
    }

    #[test]
    fn remembered_times_are_the_times_of_their_text() {
        let mut t = Times::default();
        for s in [
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z",
            "2024-01-02T00:00:00Z",
        ] {
            assert_eq!(t.parse(0, Some(s)), Ok(telemetry::time::parse_timestamp(s)));
        }
        assert_eq!(t.parse(0, Some("soon")), Err(()));
        assert_eq!(
            t.parse(0, Some("2024-01-02T00:00:00Z")),
            Ok(telemetry::time::parse_timestamp("2024-01-02T00:00:00Z"))
        );
        assert_eq!(t.parse(1, None), Ok(None));
    }

    #[test]
    fn summaries_count_each_reason() {
        let mut w = Withdrawals::default();
        assert_eq!(w.summary(), "withdrawn: 0; older versions set aside: 0");
        for i in 0..25 {
            w.add(&format!("indicator--{i}"), Withdrawal::Revoked);
        }
        w.add("indicator--x", Withdrawal::LaterVersionHidden);
        w.superseded = 3;
        assert_eq!(w.count(Withdrawal::Revoked), 25);
        assert_eq!(w.total(), 26);
        assert_eq!(
            w.summary(),
            "withdrawn: 26 (later version hidden 1, revoked 25); older versions set aside: 3"
        );
        assert_eq!(w.first.len(), NAMED);
    }
}
