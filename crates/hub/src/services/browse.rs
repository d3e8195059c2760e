//! Reading as a member, for the web console: one object with its versions, a collection's
//! listing with the TAXII filters, a word search across every collection the member may read,
//! and an object's neighbours. Everything goes through the store's policy listing
//! ([`Store::list`] with the member's [`Pushdown`]), the same path as TAXII, so a hidden object
//! is exactly as absent here as there.
//!
//! Bounds: an object's versions are read up to [`MAX_VERSIONS`] per collection; a search reads
//! at most [`SEARCH_SCAN_BUDGET`] listing entries per request (then hands back a cursor to go
//! on from); neighbours are at most [`MAX_NEIGHBOURS`] candidate edges.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::Value;
use stix::tlp::TlpLevel;

use super::ServiceError;
use crate::{
    coalition::{Coalition, Collection},
    policy::{Principal, Pushdown, can_read, tlp_from_code},
    store::{AnyStore, ListQuery, Record, Store, VersionSelection},
};

/// Versions of one object read per collection at most.
pub const MAX_VERSIONS: u32 = 500;
/// Listing entries one search request reads at most.
pub const SEARCH_SCAN_BUDGET: usize = 10_000;
/// Candidate edges (relationships, sightings) read for one object at most.
pub const MAX_NEIGHBOURS: u32 = 60;
/// An object's values looked up for "related by value" at most.
pub const MAX_RELATED_VALUES: usize = 16;
/// Words in a search at most (more are ignored).
pub const MAX_WORDS: usize = 8;

/// A member reading the node.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The store.
    pub store: AnyStore,
    /// The coalition.
    pub coalition: Arc<Coalition>,
    /// Who reads.
    pub principal: Principal,
}

/// One stored version as shown.
#[derive(Debug, Clone)]
pub struct Shown {
    /// The object.
    pub object: Value,
    /// Its effective TLP (unmarked: the node's default).
    pub tlp: TlpLevel,
    /// Version, nanoseconds (the listing's).
    pub version_ns: i64,
    /// The collection it was read from.
    pub collection: Collection,
    /// When that collection got it, microseconds.
    pub date_added_us: i64,
}

/// An object with every version the member may see.
#[derive(Debug, Clone)]
pub struct ObjectView {
    /// Versions, oldest first (one per version, from the first collection that holds it).
    pub versions: Vec<Shown>,
    /// Collections holding a visible version.
    pub collections: Vec<Collection>,
}

impl ObjectView {
    /// The latest version.
    pub fn latest(&self) -> Option<&Shown> {
        self.versions.last()
    }
    /// The version `ns`, if visible.
    pub fn version(&self, ns: i64) -> Option<&Shown> {
        self.versions.iter().find(|v| v.version_ns == ns)
    }
}

/// The TAXII filters of a collection listing.
#[derive(Debug, Clone, Default)]
pub struct BrowseQuery {
    /// `match[type]`.
    pub types: Vec<String>,
    /// `match[id]`.
    pub ids: Vec<String>,
    /// `match[version]`: `last` (default), `first`, `all`.
    pub version: String,
    /// `added_after`, microseconds.
    pub added_after_us: Option<i64>,
    /// Continue after this position.
    pub after: Option<(i64, i64)>,
    /// Page size.
    pub limit: u32,
}

/// A page of a listing.
#[derive(Debug, Clone, Default)]
pub struct ShownPage {
    /// What the page shows.
    pub items: Vec<Shown>,
    /// Where the next page starts, if there is one.
    pub next: Option<(i64, i64)>,
}

/// A search: words and filters.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Words, each of which must appear (case-insensitive) in one of the object's strings.
    pub words: Vec<String>,
    /// Object type, or any.
    pub object_type: Option<String>,
    /// Exactly this TLP (unmarked counts as the node's default).
    pub tlp: Option<TlpLevel>,
    /// Produced by this member (its identity is the object's `created_by_ref`).
    pub producer: Option<String>,
    /// Only this collection.
    pub collection: Option<String>,
    /// Added to the collection after this time, microseconds.
    pub added_after_us: Option<i64>,
    /// Version (`modified`, else `created`) before this time, microseconds.
    pub before_us: Option<i64>,
    /// Where to go on from: (index among the readable collections, position in it).
    pub cursor: Option<(usize, Option<(i64, i64)>)>,
    /// Results per page.
    pub limit: usize,
}

/// A page of search results.
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    /// Matches (latest version per collection).
    pub items: Vec<Shown>,
    /// Entries read for this page.
    pub scanned: usize,
    /// Where the next page starts, if the search is not finished.
    pub next: Option<(usize, Option<(i64, i64)>)>,
    /// Whether the page stopped because the scan budget was spent (not because it was full).
    pub budget_spent: bool,
}

impl Viewer {
    /// A viewer for `principal`.
    pub fn new(store: AnyStore, coalition: Arc<Coalition>, principal: Principal) -> Viewer {
        Viewer {
            store,
            coalition,
            principal,
        }
    }

    fn pushdown(&self) -> Pushdown {
        Pushdown::for_principal(&self.principal, &self.coalition)
    }

    /// Every collection the member may read, in configuration order.
    pub fn readable(&self) -> Vec<Collection> {
        self.coalition
            .collections
            .iter()
            .filter(|c| can_read(&self.principal, c))
            .cloned()
            .collect()
    }

    /// A readable collection by API root and id (`None`: absent or not readable, alike).
    pub fn collection(&self, root: &str, id: &str) -> Option<Collection> {
        self.coalition
            .collection(root, id)
            .filter(|c| can_read(&self.principal, c))
            .cloned()
    }

    fn shown(&self, r: Record, c: &Collection) -> Result<Option<Shown>, ServiceError> {
        let Some(j) = r.json else { return Ok(None) };
        let object: Value = serde_json::from_str(&j)
            .map_err(|e| ServiceError::Corrupt(format!("a stored object is not JSON: {e}")))?;
        Ok(Some(Shown {
            object,
            tlp: r
                .tlp
                .and_then(tlp_from_code)
                .unwrap_or(self.coalition.default_tlp),
            version_ns: r.version_ns,
            collection: c.clone(),
            date_added_us: r.date_added_us,
        }))
    }

    /// Object `id` with every version the member may see, or `NotFound` (missing and hidden
    /// alike).
    pub async fn object(&self, id: &str) -> Result<ObjectView, ServiceError> {
        let not_found = || ServiceError::NotFound("no such object".into());
        if id.len() > 200 || !id.contains("--") {
            return Err(not_found());
        }
        let pushdown = self.pushdown();
        let mut by_version: BTreeMap<i64, Shown> = BTreeMap::new();
        let mut collections = Vec::new();
        for c in self.readable() {
            let q = ListQuery {
                collection: c.id.clone(),
                pushdown: pushdown.clone(),
                ids: vec![id.to_owned()],
                types: vec![],
                added_after_us: None,
                versions: VersionSelection::all(),
                spec_versions: vec![],
                after: None,
                limit: MAX_VERSIONS,
                with_json: true,
            };
            let page = self.store.list(&q).await?;
            if !page.records.is_empty() {
                collections.push(c.clone());
            }
            for r in page.records {
                let ns = r.version_ns;
                if by_version.contains_key(&ns) {
                    continue;
                }
                if let Some(s) = self.shown(r, &c)? {
                    by_version.insert(ns, s);
                }
            }
        }
        if by_version.is_empty() {
            return Err(not_found());
        }
        Ok(ObjectView {
            versions: by_version.into_values().collect(),
            collections,
        })
    }

    /// The latest visible version of `id`, if any.
    pub async fn latest(&self, id: &str) -> Result<Option<Shown>, ServiceError> {
        match self.object(id).await {
            Ok(v) => Ok(v.versions.into_iter().last()),
            Err(ServiceError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of collection `c` with the TAXII filters.
    pub async fn browse(&self, c: &Collection, q: &BrowseQuery) -> Result<ShownPage, ServiceError> {
        let versions = match q.version.as_str() {
            "first" => VersionSelection {
                last: false,
                first: true,
                all: false,
                exact: Vec::new(),
            },
            "all" => VersionSelection::all(),
            _ => VersionSelection::last(),
        };
        let lq = ListQuery {
            collection: c.id.clone(),
            pushdown: self.pushdown(),
            ids: q.ids.clone(),
            types: q.types.clone(),
            added_after_us: q.added_after_us,
            versions,
            spec_versions: vec![],
            after: q.after,
            limit: q.limit.clamp(1, 200),
            with_json: true,
        };
        let page = self.store.list(&lq).await?;
        let next = if page.more {
            page.records.last().map(|r| (r.date_added_us, r.row))
        } else {
            None
        };
        let mut items = Vec::new();
        for r in page.records {
            if let Some(s) = self.shown(r, c)? {
                items.push(s);
            }
        }
        Ok(ShownPage { items, next })
    }

    /// Searches every readable collection (or the one asked for), latest versions, reading at
    /// most [`SEARCH_SCAN_BUDGET`] entries; the results say where to go on from.
    pub async fn search(&self, q: &SearchQuery) -> Result<SearchResults, ServiceError> {
        let colls: Vec<Collection> = self
            .readable()
            .into_iter()
            .filter(|c| q.collection.as_ref().is_none_or(|id| &c.id == id))
            .collect();
        let words: Vec<String> = q
            .words
            .iter()
            .take(MAX_WORDS)
            .map(|w| w.to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        let producer_identity = q
            .producer
            .as_ref()
            .map(|m| self.coalition.members.get(m).map(|m| m.identity.clone()));
        let limit = q.limit.clamp(1, 100);
        let pushdown = self.pushdown();
        let mut out = SearchResults::default();
        let (mut ci, mut after) = q.cursor.unwrap_or((0, None));
        while ci < colls.len() {
            let c = &colls[ci];
            let lq = ListQuery {
                collection: c.id.clone(),
                pushdown: pushdown.clone(),
                ids: vec![],
                types: q.object_type.iter().cloned().collect(),
                added_after_us: q.added_after_us,
                versions: VersionSelection::last(),
                spec_versions: vec![],
                after,
                limit: 500,
                with_json: true,
            };
            let page = self.store.list(&lq).await?;
            let more = page.more;
            let mut stopped_at = None;
            let mut last_read = after;
            for r in page.records {
                out.scanned += 1;
                let pos = (r.date_added_us, r.row);
                last_read = Some(pos);
                if may_match(&r, &words, q.tlp, self.coalition.default_tlp)
                    && let Some(s) = self.shown(r, c)?
                    && matches(&s, &words, q, producer_identity.as_ref())
                {
                    out.items.push(s);
                }
                if out.items.len() >= limit || out.scanned >= SEARCH_SCAN_BUDGET {
                    stopped_at = Some(pos);
                    break;
                }
            }
            match stopped_at {
                Some(pos) => {
                    out.budget_spent = out.items.len() < limit;
                    out.next = Some((ci, Some(pos)));
                    return Ok(out);
                }
                None if more && last_read != after => {
                    after = last_read;
                }
                None => {
                    ci += 1;
                    after = None;
                }
            }
        }
        Ok(out)
    }

    /// The visible relationships and sightings that point to `id` (at most [`MAX_NEIGHBOURS`]
    /// candidates, each read through the policy), each with the other end of a relationship
    /// when that is visible.
    pub async fn incoming(&self, id: &str) -> Result<Vec<(Shown, Option<Shown>)>, ServiceError> {
        let mut out = Vec::new();
        let candidates = self.store.edge_sources(id, MAX_NEIGHBOURS).await?;
        for cid in candidates {
            if cid == id {
                continue;
            }
            let Some(edge) = self.latest(&cid).await? else {
                continue;
            };
            // The other end of a relationship, when visible.
            let mut other = None;
            if edge.object.get("type").and_then(Value::as_str) == Some("relationship") {
                let s = edge.object.get("source_ref").and_then(Value::as_str);
                let t = edge.object.get("target_ref").and_then(Value::as_str);
                let o = if s == Some(id) { t } else { s };
                if let Some(o) = o.filter(|o| *o != id) {
                    other = self.latest(o).await?;
                }
            }
            out.push((edge, other));
        }
        Ok(out)
    }

    /// A pasted value (domain, address, network, URL, digest, e-mail address, CVE, ATT&CK or
    /// DISARM id) looked up in the value index through the member's policy: its canonical form
    /// and the objects holding it, each read again through the policy listing (at most `limit`);
    /// `None` when the text is words, not a value.
    pub async fn value_hits(
        &self,
        text: &str,
        limit: u32,
    ) -> Result<Option<(String, Vec<Shown>, bool)>, ServiceError> {
        let outcome =
            match super::lookup::lookup(&self.store, &self.coalition, &self.principal, text, limit)
                .await
            {
                Ok(o) => o,
                Err(ServiceError::Usage(_)) => return Ok(None),
                Err(e) => return Err(e),
            };
        let super::lookup::Outcome::Value {
            value, hits, more, ..
        } = outcome
        else {
            return Ok(None);
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for hit in &hits {
            if !seen.insert(hit.id.clone()) {
                continue;
            }
            if let Some(shown) = self.latest(&hit.id).await? {
                out.push(shown);
            }
        }
        Ok(Some((value, out, more)))
    }

    /// Where else the object's values (domains, addresses, digests, …) appear, among what the
    /// member may see: each value (at most [`MAX_RELATED_VALUES`]) looked up in the store's value
    /// index through the member's policy ([`super::lookup::lookup`]), each object found read
    /// again through the policy listing, the object itself left out; at most
    /// [`MAX_NEIGHBOURS`] objects.
    pub async fn related_by_value(
        &self,
        object_id: &str,
        values: &[(String, String)],
    ) -> Result<Vec<Shown>, ServiceError> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for (_, value) in values.iter().take(MAX_RELATED_VALUES) {
            let outcome = match super::lookup::lookup(
                &self.store,
                &self.coalition,
                &self.principal,
                value,
                MAX_NEIGHBOURS,
            )
            .await
            {
                Ok(o) => o,
                // A value the index cannot take (too long, a control character) finds nothing.
                Err(ServiceError::Usage(_)) => continue,
                Err(e) => return Err(e),
            };
            for hit in outcome.hits() {
                if hit.id == object_id || !seen.insert(hit.id.clone()) {
                    continue;
                }
                if let Some(shown) = self.latest(&hit.id).await? {
                    out.push(shown);
                }
                if out.len() >= MAX_NEIGHBOURS as usize {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

/// `(property, id)` of each `*_ref`/`*_refs` value (top level), markings and `created_by_ref`
/// aside.
pub fn refs_of(object: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(map) = object.as_object() else {
        return out;
    };
    for (k, v) in map {
        if k == "object_marking_refs" || k == "created_by_ref" {
            continue;
        }
        if k.ends_with("_ref") {
            if let Some(s) = v.as_str() {
                out.push((k.clone(), s.to_owned()));
            }
        } else if k.ends_with("_refs")
            && let Some(a) = v.as_array()
        {
            for s in a.iter().filter_map(Value::as_str).take(50) {
                out.push((k.clone(), s.to_owned()));
            }
        }
    }
    out.truncate(MAX_NEIGHBOURS as usize);
    out
}

/// Whether every word appears in one of the object's strings and every filter holds.
fn matches(
    s: &Shown,
    words: &[String],
    q: &SearchQuery,
    producer: Option<&Option<String>>,
) -> bool {
    if let Some(t) = q.tlp
        && s.tlp != t
    {
        return false;
    }
    if let Some(p) = producer {
        let by = s.object.get("created_by_ref").and_then(Value::as_str);
        if p.is_none() || by != p.as_deref() {
            return false;
        }
    }
    if let Some(before) = q.before_us {
        let v = crate::services::member::version_of(&s.object)
            .map(|t| t.unix_nanos() / 1000)
            .and_then(|us| i64::try_from(us).ok());
        if v.is_none_or(|v| v >= before) {
            return false;
        }
    }
    if words.is_empty() {
        return true;
    }
    let mut text = String::new();
    collect_text(&s.object, &mut text, 0);
    let text = text.to_lowercase();
    words.iter().all(|w| text.contains(w.as_str()))
}

/// Whether entry `r` may match before its JSON is parsed (false only when [`matches`] would be
/// false): its stored TLP is not the one asked for, or an ASCII word is not in its JSON text
/// lower-cased. The text [`matches`] searches is the object's strings, each of which appears
/// verbatim in the JSON when it holds no escape (`\`), and lower-casing maps each character on its
/// own except for `Σ`, whose forms are not ASCII; so an ASCII word found there is found in the
/// JSON. Entries whose JSON holds an escape, and words that are not ASCII, are left to [`matches`].
fn may_match(r: &Record, words: &[String], tlp: Option<TlpLevel>, default_tlp: TlpLevel) -> bool {
    if let Some(t) = tlp
        && r.tlp.and_then(tlp_from_code).unwrap_or(default_tlp) != t
    {
        return false;
    }
    let Some(json) = &r.json else { return true };
    if words.is_empty() || json.contains('\\') {
        return true;
    }
    let lower = json.to_lowercase();
    words
        .iter()
        .all(|w| !w.is_ascii() || lower.contains(w.as_str()))
}

/// The object's strings (keys aside), bounded to 64 KiB.
fn collect_text(v: &Value, out: &mut String, depth: usize) {
    if out.len() > 65_536 || depth > 8 {
        return;
    }
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| collect_text(x, out, depth + 1)),
        Value::Object(m) => m.values().for_each(|x| collect_text(x, out, depth + 1)),
        _ => {}
    }
}
