//! The coordination pages' view of one member, indexed and kept between requests.
//!
//! A [`CoordView`] holds what a member may see of the coordination types
//! ([`COORDINATION_TYPES`]: latest visible versions, read through the store's listing, which
//! applies the policy in SQL) in the order a fresh read gives, with what the pages look up
//! computed once: objects by id and by type, relationships by either end, each incident's
//! victims, the incident rows and (on first use) the DISARM matrix.
//!
//! [`CoordCache`] keeps one view per member view — keyed by the member's [`Pushdown`]
//! (member, readable collections, RED recipient collections, default TLP, egress) and the
//! collections read, so that
//! two members share an entry only when the policy gives them the same view — together with
//! the store's content generation ([`crate::store::Store::content_generation`]) it was read at.
//! When the generation moves by additions only (the deletion count is unchanged), the view is
//! brought up to date instead of read again: the ids of every entry added or re-dated since
//! (any type, any collection, visible or not: [`crate::store::Store::sync_batch`]) and of the
//! relationships and sightings pointing to them (whose edge rule may have changed:
//! [`crate::store::Store::edge_sources`]) are read again by id through the member's policy,
//! and replace what the view held for them. Every other object's latest visible version is
//! unchanged by an addition: its own versions and placements are not new, and the edge rule
//! looks only at its targets, whose change re-dates it (a new version or placement) or names
//! it here (a first version). A deletion, or more changes than [`INCREMENTAL_IDS`], reads the
//! whole view again.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use coord::{
    DisarmError,
    disarm::{DisarmIndex, Matrix},
};
use serde_json::Value;

use super::{
    ServiceError,
    incident::{self, Row, Victims},
    member::{COORDINATION_TYPES, MemberService, s, version_of},
};
use crate::{
    coalition::Collection,
    policy::Pushdown,
    store::{ListQuery, Store, VersionSelection, for_each_page},
};

/// Where an object's entry sits in a fresh read: (index of the collection among those read,
/// `date_added`, row). A view is ordered by the first place of each object.
type Place = (usize, i64, i64);

/// More changed ids than this since the cached generation: the view is read again whole.
pub const INCREMENTAL_IDS: usize = 2_000;

/// Edge sources read per changed target at most (more: the view is read again whole).
const EDGE_SOURCES: u32 = 1_000;

/// Objects a [`CoordCache`] keeps at most, across its entries (beyond it, it starts over).
pub const VIEW_CACHE_OBJECTS: usize = 300_000;

/// Ids per by-id listing.
const IDS_PER_QUERY: usize = 200;

/// What the index needs of an object, read from its JSON once, when it enters the view.
#[derive(Debug, Clone)]
struct Meta {
    id: String,
    ty: String,
    /// A relationship's type, source and target.
    rel: Option<(String, String, String)>,
}

impl Meta {
    fn of(o: &Value) -> Meta {
        let ty = s(o, "type");
        Meta {
            id: s(o, "id").to_owned(),
            ty: ty.to_owned(),
            rel: (ty == "relationship").then(|| {
                (
                    s(o, "relationship_type").to_owned(),
                    s(o, "source_ref").to_owned(),
                    s(o, "target_ref").to_owned(),
                )
            }),
        }
    }
}

/// An object of a view, where a fresh read places it, and its [`Meta`].
type Entry = (Place, Meta, Value);

/// What a member sees of the coordination types, indexed (see the module's documentation).
#[derive(Debug)]
pub struct CoordView {
    objects: Vec<Value>,
    places: Vec<Place>,
    metas: Vec<Meta>,
    by_id: HashMap<String, usize>,
    by_type: HashMap<String, Vec<usize>>,
    links: HashMap<String, Vec<usize>>,
    victims: HashMap<String, Vec<usize>>,
    rows: Vec<Row>,
    matrix: OnceLock<Option<Matrix>>,
}

impl CoordView {
    /// A view of `entries` (each object once, ordered by place). Only the incidents and their
    /// victims' objects are looked into: the rest comes from the entries' [`Meta`].
    fn index(entries: Vec<Entry>) -> CoordView {
        let n = entries.len();
        let (mut places, mut metas, mut objects) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (p, m, o) in entries {
            places.push(p);
            metas.push(m);
            objects.push(o);
        }
        let mut by_id = HashMap::with_capacity(n);
        let mut by_type: HashMap<String, Vec<usize>> = HashMap::new();
        let mut links: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, m) in metas.iter().enumerate() {
            by_id.entry(m.id.clone()).or_insert(i);
            match by_type.get_mut(m.ty.as_str()) {
                Some(v) => v.push(i),
                None => {
                    by_type.insert(m.ty.clone(), vec![i]);
                }
            }
            if let Some((_, src, tgt)) = &m.rel {
                links.entry(src.clone()).or_default().push(i);
                if tgt != src {
                    links.entry(tgt.clone()).or_default().push(i);
                }
            }
        }
        let typed = |t: &str| by_type.get(t).into_iter().flatten().map(|&i| &objects[i]);
        let index = Victims::of_parts(
            metas.iter().filter_map(|m| match &m.rel {
                Some((rt, src, tgt)) if rt == "targets" => Some((src.as_str(), tgt.as_str())),
                _ => None,
            }),
            typed("impact"),
            typed("identity"),
        );
        let mut victims = HashMap::new();
        for inc in typed("incident") {
            let found: Vec<usize> = index
                .of(inc)
                .into_iter()
                .filter_map(|v| by_id.get(s(v, "id")).copied())
                .collect();
            victims.insert(s(inc, "id").to_owned(), found);
        }
        let rows = incident::rows_with(typed("incident"), &index);
        drop(index);
        CoordView {
            objects,
            places,
            metas,
            by_id,
            by_type,
            links,
            victims,
            rows,
            matrix: OnceLock::new(),
        }
    }

    /// Every object, in the order a fresh read gives.
    pub fn objects(&self) -> &[Value] {
        &self.objects
    }

    /// The object `id`.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.by_id.get(id).map(|&i| &self.objects[i])
    }

    /// The place of object `id` in [`CoordView::objects`].
    pub fn position(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The objects of type `t`, in order.
    pub fn of_type<'a>(&'a self, t: &str) -> impl Iterator<Item = &'a Value> + use<'a> {
        self.by_type
            .get(t)
            .into_iter()
            .flatten()
            .map(|&i| &self.objects[i])
    }

    /// The objects of the types `types`, in order.
    pub fn of_types(&self, types: &[&str]) -> Vec<&Value> {
        let mut idx: Vec<usize> = types
            .iter()
            .filter_map(|t| self.by_type.get(*t))
            .flatten()
            .copied()
            .collect();
        idx.sort_unstable();
        idx.into_iter().map(|i| &self.objects[i]).collect()
    }

    /// The relationships from or to `id`, in order.
    pub fn links<'a>(&'a self, id: &str) -> impl Iterator<Item = &'a Value> + use<'a> {
        self.links
            .get(id)
            .into_iter()
            .flatten()
            .map(|&i| &self.objects[i])
    }

    /// The victims of incident `id` ([`incident::victims_of`]).
    pub fn victims(&self, id: &str) -> Vec<&Value> {
        self.victims
            .get(id)
            .into_iter()
            .flatten()
            .map(|&i| &self.objects[i])
            .collect()
    }

    /// Every incident as a row ([`incident::rows`]).
    pub fn incident_rows(&self) -> &[Row] {
        &self.rows
    }

    /// The DISARM index of the view (techniques, tactics, matrix).
    pub fn disarm_index(&self) -> Result<DisarmIndex, DisarmError> {
        DisarmIndex::build(self.of_types(&["attack-pattern", "x-mitre-tactic", "x-mitre-matrix"]))
    }

    /// The DISARM matrix of the view (`None` when it holds no technique), computed once.
    pub fn matrix(&self) -> Result<Option<&Matrix>, ServiceError> {
        if let Some(m) = self.matrix.get() {
            return Ok(m.as_ref());
        }
        let m = match self.disarm_index() {
            Ok(index) if index.techniques().is_empty() => None,
            Ok(index) => {
                // The techniques, and the relationships to techniques (the only ones counted).
                let mut idx: Vec<usize> = self
                    .by_type
                    .get("relationship")
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&i| {
                        self.metas[i]
                            .rel
                            .as_ref()
                            .is_some_and(|(_, _, tgt)| tgt.starts_with("attack-pattern--"))
                    })
                    .chain(
                        self.by_type
                            .get("attack-pattern")
                            .into_iter()
                            .flatten()
                            .copied(),
                    )
                    .collect();
                idx.sort_unstable();
                Some(Matrix::build(
                    &index,
                    idx.into_iter().map(|i| &self.objects[i]),
                ))
            }
            Err(DisarmError::NoTechniques) => None,
            Err(e) => return Err(e.into()),
        };
        let _ = self.matrix.set(m);
        Ok(self.matrix.get().and_then(Option::as_ref))
    }

    fn into_entries(self: Arc<Self>) -> Vec<Entry> {
        match Arc::try_unwrap(self) {
            Ok(v) => v
                .places
                .into_iter()
                .zip(v.metas)
                .zip(v.objects)
                .map(|((p, m), o)| (p, m, o))
                .collect(),
            Err(shared) => shared
                .places
                .iter()
                .zip(&shared.metas)
                .zip(&shared.objects)
                .map(|((p, m), o)| (*p, m.clone(), o.clone()))
                .collect(),
        }
    }
}

/// Keeps, of `entries` in place order, the latest version of each id at the place of its first
/// entry (what [`MemberService::view_of_types`] keeps: the first of equal versions).
fn latest(entries: Vec<Entry>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::with_capacity(entries.len());
    let mut at: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    for (p, m, o) in entries {
        match at.get(&m.id) {
            Some(&i) => {
                if version_of(&o) > version_of(&out[i].2) {
                    out[i].2 = o;
                }
            }
            None => {
                at.insert(m.id.clone(), out.len());
                out.push((p, m, o));
            }
        }
    }
    out
}

/// The kept views by key, each with the content generation it was read at.
type Views = HashMap<String, ((i64, i64), Arc<CoordView>)>;

/// The views kept for the coordination pages (see the module's documentation). At most
/// [`VIEW_CACHE_OBJECTS`] objects are kept across entries.
#[derive(Debug, Clone, Default)]
pub struct CoordCache {
    inner: Arc<Mutex<Views>>,
    /// Views read whole, views brought up to date.
    counts: Arc<(AtomicU64, AtomicU64)>,
}

impl CoordCache {
    /// How many views were read whole and how many brought up to date since the cache began.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counts.0.load(Ordering::Relaxed),
            self.counts.1.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Views> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn put(&self, key: String, generation: (i64, i64), v: Arc<CoordView>) {
        if v.objects.len() > VIEW_CACHE_OBJECTS {
            return;
        }
        let mut inner = self.lock();
        if let Some((g, _)) = inner.get(&key)
            && *g > generation
        {
            return; // a later read was kept meanwhile
        }
        inner.remove(&key);
        let kept: usize = inner.values().map(|(_, v)| v.objects.len()).sum();
        if kept + v.objects.len() > VIEW_CACHE_OBJECTS {
            inner.clear();
        }
        inner.insert(key, (generation, v));
    }

    /// The entry for `key` when it is still the one read at `generation` and nobody else holds
    /// it: taken out, so that its objects are moved rather than copied.
    fn take(&self, key: &str, generation: (i64, i64), mine: &Arc<CoordView>) {
        let mut inner = self.lock();
        if let Some((g, v)) = inner.get(key)
            && *g == generation
            && Arc::ptr_eq(v, mine)
            && Arc::strong_count(mine) == 2
        {
            inner.remove(key);
        }
    }
}

/// The coordination view of member `m` over `colls`, from `cache` when it is up to date,
/// brought up to date from it after additions, else read whole.
pub async fn coord_view(
    m: &MemberService,
    cache: &CoordCache,
    colls: &[Collection],
) -> Result<Arc<CoordView>, ServiceError> {
    let pushdown = Pushdown::for_principal(&m.principal, &m.coalition);
    let ids: Vec<&str> = colls.iter().map(|c| c.id.as_str()).collect();
    let key = format!("{pushdown:?}|{ids:?}");
    let generation = m.store.content_generation().await?;
    let cached = cache.lock().get(&key).cloned();
    let v = match cached {
        Some((g, v)) if g == generation => return Ok(v),
        Some((g, v)) if g.1 == generation.1 && g.0 <= generation.0 => {
            match changed_since(m, g.0).await? {
                Some(changed) => {
                    cache.take(&key, g, &v);
                    let entries = v.into_entries();
                    cache.counts.1.fetch_add(1, Ordering::Relaxed);
                    Arc::new(update(m, &pushdown, colls, entries, changed).await?)
                }
                None => {
                    cache.counts.0.fetch_add(1, Ordering::Relaxed);
                    Arc::new(read(m, &pushdown, colls).await?)
                }
            }
        }
        _ => {
            cache.counts.0.fetch_add(1, Ordering::Relaxed);
            Arc::new(read(m, &pushdown, colls).await?)
        }
    };
    cache.put(key, generation, v.clone());
    Ok(v)
}

/// The whole view, or (with `ids`) what it holds of those ids, read through the policy.
async fn read_entries(
    m: &MemberService,
    pushdown: &Pushdown,
    colls: &[Collection],
    ids: Option<&[String]>,
) -> Result<Vec<Entry>, ServiceError> {
    let mut out = Vec::new();
    for (ci, c) in colls.iter().enumerate() {
        let chunks: Vec<Vec<String>> = match ids {
            None => vec![vec![]],
            Some(ids) => ids.chunks(IDS_PER_QUERY).map(<[String]>::to_vec).collect(),
        };
        for chunk in chunks {
            let mut q =
                ListQuery::whole_collection(&c.id, pushdown.clone(), VersionSelection::last());
            q.types = COORDINATION_TYPES.iter().map(|t| (*t).to_owned()).collect();
            q.ids = chunk;
            for_each_page(&m.store, q, |records| -> Result<(), ServiceError> {
                for r in records {
                    if let Some(j) = &r.json {
                        let v: Value = serde_json::from_str(j).map_err(|e| {
                            ServiceError::Corrupt(format!("a stored object is not JSON: {e}"))
                        })?;
                        out.push(((ci, r.date_added_us, r.row), Meta::of(&v), v));
                    }
                }
                Ok(())
            })
            .await?;
        }
    }
    out.sort_by_key(|(p, _, _)| *p);
    Ok(out)
}

/// The whole view, read fresh.
async fn read(
    m: &MemberService,
    pushdown: &Pushdown,
    colls: &[Collection],
) -> Result<CoordView, ServiceError> {
    Ok(CoordView::index(latest(
        read_entries(m, pushdown, colls, None).await?,
    )))
}

/// `entries` (a view's, in place order) with what the view holds of `changed` read again.
async fn update(
    m: &MemberService,
    pushdown: &Pushdown,
    colls: &[Collection],
    entries: Vec<Entry>,
    changed: HashSet<String>,
) -> Result<CoordView, ServiceError> {
    let ids: Vec<String> = changed.iter().cloned().collect();
    let fresh = latest(read_entries(m, pushdown, colls, Some(&ids)).await?);
    let mut out = Vec::with_capacity(entries.len() + fresh.len());
    let mut fresh = fresh.into_iter().peekable();
    for (p, m, o) in entries {
        if changed.contains(&m.id) {
            continue;
        }
        while fresh.peek().is_some_and(|(fp, _, _)| *fp < p) {
            out.extend(fresh.next());
        }
        out.push((p, m, o));
    }
    out.extend(fresh);
    Ok(CoordView::index(out))
}

/// The ids of every entry added or re-dated after `since` in any collection, and of the
/// objects with edges to them; `None` when more than [`INCREMENTAL_IDS`].
async fn changed_since(
    m: &MemberService,
    since: i64,
) -> Result<Option<HashSet<String>>, ServiceError> {
    const PAGE: u32 = 500;
    let mut ids = HashSet::new();
    for c in &m.coalition.collections {
        let mut after = (since, i64::MAX);
        loop {
            let batch = m.store.sync_batch(&c.id, after, PAGE).await?;
            ids.extend(batch.iter().map(|r| r.id.clone()));
            if ids.len() > INCREMENTAL_IDS {
                return Ok(None);
            }
            match batch.last() {
                Some(r) if batch.len() == PAGE as usize => after = (r.date_added_us, r.row),
                _ => break,
            }
        }
    }
    let mut sources = Vec::new();
    for id in &ids {
        let found = m.store.edge_sources(id, EDGE_SOURCES).await?;
        if found.len() >= EDGE_SOURCES as usize {
            return Ok(None);
        }
        sources.extend(found);
    }
    ids.extend(sources);
    if ids.len() > INCREMENTAL_IDS {
        return Ok(None);
    }
    Ok(Some(ids))
}

/// The view read fresh, bypassing every cache (for tests: what a cached view must equal).
pub async fn coord_view_fresh(
    m: &MemberService,
    colls: &[Collection],
) -> Result<CoordView, ServiceError> {
    let pushdown = Pushdown::for_principal(&m.principal, &m.coalition);
    read(m, &pushdown, colls).await
}
