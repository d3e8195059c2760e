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
//! When the generation moves, the view is brought up to date instead of read again: the ids of
//! every entry added or re-dated since (any type, any collection, visible or not:
//! [`crate::store::Store::sync_batch`]) and of the
//! relationships and sightings pointing to them (whose edge rule may have changed:
//! [`crate::store::Store::edge_sources`]) are read again by id through the member's policy,
//! and replace what the view held for them. Every other object's latest visible version is
//! unchanged by an addition: its own versions and placements are not new, and the edge rule
//! looks only at its targets, whose change re-dates it (a new version or placement) or names
//! it here (a first version). A deletion is handled alike: the store records the id of the
//! object each deletion removed entries of ([`crate::store::Store::deleted_between`]), which is
//! read again with the edges pointing to it (re-dated by the deletion). A deletion no longer
//! recorded, or more changes than [`INCREMENTAL_IDS`], reads the whole view again.
//!
//! Brought up to date, a view changes in place: only the changed objects' index entries are
//! replaced; the incidents' rows and victims are recomputed only when an incident, identity,
//! impact or `targets` relationship changed, the DISARM matrix only when a technique, tactic,
//! matrix or a relationship to a technique did.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
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
pub type Place = (usize, i64, i64);

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

/// One object held by a view.
#[derive(Debug, Clone)]
struct Slot {
    place: Place,
    meta: Meta,
    object: Value,
}

/// What a member sees of the coordination types, indexed (see the module's documentation).
///
/// Objects sit in slots that keep their index while the view is brought up to date, so that an
/// update touches only the indexes of the objects that changed; the orders are kept by place.
#[derive(Debug, Clone)]
pub struct CoordView {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    order: BTreeMap<Place, usize>,
    by_id: HashMap<String, usize>,
    by_type: HashMap<String, BTreeMap<Place, usize>>,
    links: HashMap<String, BTreeMap<Place, usize>>,
    /// The `targets` relationships (what the victims are found by).
    targeting: BTreeMap<Place, usize>,
    victims: HashMap<String, Vec<usize>>,
    rows: Vec<Row>,
    matrix: OnceLock<Option<Matrix>>,
}

/// Whether a change of an object with `meta` can change the incidents' rows or victims.
fn affects_rows(meta: &Meta) -> bool {
    matches!(meta.ty.as_str(), "incident" | "identity" | "impact")
        || meta.rel.as_ref().is_some_and(|(rt, _, _)| rt == "targets")
}

/// Whether a change of an object with `meta` can change the DISARM matrix.
fn affects_matrix(meta: &Meta) -> bool {
    matches!(
        meta.ty.as_str(),
        "attack-pattern" | "x-mitre-tactic" | "x-mitre-matrix"
    ) || meta
        .rel
        .as_ref()
        .is_some_and(|(_, _, tgt)| tgt.starts_with("attack-pattern--"))
}

impl CoordView {
    /// A view of `entries` (each object once, ordered by place). Only the incidents and their
    /// victims' objects are looked into: the rest comes from the entries' [`Meta`].
    fn index(entries: Vec<Entry>) -> CoordView {
        let mut v = CoordView {
            slots: Vec::with_capacity(entries.len()),
            free: Vec::new(),
            order: BTreeMap::new(),
            by_id: HashMap::with_capacity(entries.len()),
            by_type: HashMap::new(),
            links: HashMap::new(),
            targeting: BTreeMap::new(),
            victims: HashMap::new(),
            rows: Vec::new(),
            matrix: OnceLock::new(),
        };
        for e in entries {
            v.insert(e);
        }
        v.derive_rows();
        v
    }

    /// Adds an object (its id not held).
    fn insert(&mut self, (place, meta, object): Entry) {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        self.order.insert(place, i);
        self.by_id.entry(meta.id.clone()).or_insert(i);
        match self.by_type.get_mut(meta.ty.as_str()) {
            Some(t) => {
                t.insert(place, i);
            }
            None => {
                self.by_type
                    .insert(meta.ty.clone(), BTreeMap::from([(place, i)]));
            }
        }
        if let Some((rt, src, tgt)) = &meta.rel {
            self.links.entry(src.clone()).or_default().insert(place, i);
            if tgt != src {
                self.links.entry(tgt.clone()).or_default().insert(place, i);
            }
            if rt == "targets" {
                self.targeting.insert(place, i);
            }
        }
        self.slots[i] = Some(Slot {
            place,
            meta,
            object,
        });
    }

    /// Removes object `id`, returning what it was.
    fn remove(&mut self, id: &str) -> Option<Meta> {
        let i = self.by_id.remove(id)?;
        let slot = self.slots.get_mut(i)?.take()?;
        self.free.push(i);
        let place = slot.place;
        self.order.remove(&place);
        if let Some(t) = self.by_type.get_mut(slot.meta.ty.as_str()) {
            t.remove(&place);
            if t.is_empty() {
                self.by_type.remove(slot.meta.ty.as_str());
            }
        }
        if let Some((_, src, tgt)) = &slot.meta.rel {
            for end in [src, tgt] {
                if let Some(l) = self.links.get_mut(end.as_str()) {
                    l.remove(&place);
                    if l.is_empty() {
                        self.links.remove(end.as_str());
                    }
                }
            }
            self.targeting.remove(&place);
        }
        Some(slot.meta)
    }

    /// Replaces what the view holds of the ids `changed` with `fresh` (their entries read again,
    /// each id once), recomputing the rows and victims, and the matrix, only when what changed
    /// can change them.
    fn apply(&mut self, changed: &HashSet<String>, fresh: Vec<Entry>) {
        let (mut rows, mut matrix) = (false, false);
        for id in changed {
            if let Some(meta) = self.remove(id) {
                rows |= affects_rows(&meta);
                matrix |= affects_matrix(&meta);
            }
        }
        for e in fresh {
            rows |= affects_rows(&e.1);
            matrix |= affects_matrix(&e.1);
            // An id read twice (it cannot be: `latest` keeps one) would leave a stale slot.
            self.remove(&e.1.id);
            self.insert(e);
        }
        if rows {
            self.derive_rows();
        }
        if matrix {
            self.matrix = OnceLock::new();
        }
    }

    fn at(&self, i: usize) -> Option<&Value> {
        self.slots.get(i)?.as_ref().map(|s| &s.object)
    }

    /// The objects of the slots `idx`.
    fn objects_at<'a>(
        &'a self,
        idx: impl Iterator<Item = &'a usize> + 'a,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        idx.filter_map(|&i| self.at(i))
    }

    /// The incidents' victims and rows, from the incidents, identities, impacts and `targets`
    /// relationships.
    fn derive_rows(&mut self) {
        let typed = |t: &str| {
            self.by_type
                .get(t)
                .into_iter()
                .flat_map(|m| m.values())
                .filter_map(|&i| self.at(i))
        };
        let index = Victims::of_parts(
            self.targeting
                .values()
                .filter_map(|&i| self.slots.get(i)?.as_ref())
                .filter_map(|s| s.meta.rel.as_ref())
                .map(|(_, src, tgt)| (src.as_str(), tgt.as_str())),
            typed("impact"),
            typed("identity"),
        );
        let mut victims = HashMap::new();
        for inc in typed("incident") {
            let found: Vec<usize> = index
                .of(inc)
                .into_iter()
                .filter_map(|v| self.by_id.get(s(v, "id")).copied())
                .collect();
            victims.insert(s(inc, "id").to_owned(), found);
        }
        let rows = incident::rows_with(typed("incident"), &index);
        drop(index);
        self.victims = victims;
        self.rows = rows;
    }

    /// How many objects the view holds.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the view holds nothing.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every object, in the order a fresh read gives.
    pub fn objects(&self) -> Vec<&Value> {
        self.objects_at(self.order.values()).collect()
    }

    /// The object `id`.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.by_id.get(id).and_then(|&i| self.at(i))
    }

    /// Where object `id` stands in [`CoordView::objects`]' order (comparable between objects of
    /// one view).
    pub fn position(&self, id: &str) -> Option<Place> {
        let i = *self.by_id.get(id)?;
        self.slots.get(i)?.as_ref().map(|s| s.place)
    }

    /// The objects of type `t`, in order.
    pub fn of_type<'a>(&'a self, t: &str) -> impl Iterator<Item = &'a Value> + use<'a> {
        self.objects_at(self.by_type.get(t).into_iter().flat_map(|m| m.values()))
    }

    /// The objects of the types `types`, in order.
    pub fn of_types(&self, types: &[&str]) -> Vec<&Value> {
        let mut idx: Vec<(Place, usize)> = types
            .iter()
            .filter_map(|t| self.by_type.get(*t))
            .flat_map(|m| m.iter().map(|(p, i)| (*p, *i)))
            .collect();
        idx.sort_unstable();
        idx.into_iter().filter_map(|(_, i)| self.at(i)).collect()
    }

    /// The relationships from or to `id`, in order.
    pub fn links<'a>(&'a self, id: &str) -> impl Iterator<Item = &'a Value> + use<'a> {
        self.objects_at(self.links.get(id).into_iter().flat_map(|m| m.values()))
    }

    /// The victims of incident `id` ([`incident::victims_of`]).
    pub fn victims(&self, id: &str) -> Vec<&Value> {
        self.objects_at(self.victims.get(id).into_iter().flatten())
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

    /// The DISARM matrix of the view (`None` when it holds no technique), computed once (and
    /// again only after a change that can change it).
    pub fn matrix(&self) -> Result<Option<&Matrix>, ServiceError> {
        if let Some(m) = self.matrix.get() {
            return Ok(m.as_ref());
        }
        let m = match self.disarm_index() {
            Ok(index) if index.techniques().is_empty() => None,
            Ok(index) => {
                // The techniques, and the relationships to techniques (the only ones counted).
                let mut idx: Vec<(Place, usize)> = self
                    .by_type
                    .get("relationship")
                    .into_iter()
                    .flat_map(|m| m.iter())
                    .filter(|(_, i)| {
                        self.slots
                            .get(**i)
                            .and_then(Option::as_ref)
                            .and_then(|s| s.meta.rel.as_ref())
                            .is_some_and(|(_, _, tgt)| tgt.starts_with("attack-pattern--"))
                    })
                    .chain(
                        self.by_type
                            .get("attack-pattern")
                            .into_iter()
                            .flat_map(|m| m.iter()),
                    )
                    .map(|(p, i)| (*p, *i))
                    .collect();
                idx.sort_unstable();
                Some(Matrix::build(
                    &index,
                    idx.into_iter().filter_map(|(_, i)| self.at(i)),
                ))
            }
            Err(DisarmError::NoTechniques) => None,
            Err(e) => return Err(e.into()),
        };
        let _ = self.matrix.set(m);
        Ok(self.matrix.get().and_then(Option::as_ref))
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
/// [`VIEW_CACHE_OBJECTS`] objects are kept across entries. One view is read or brought up to
/// date at a time per key: a second request of the same view waits for the first and takes its
/// result.
#[derive(Debug, Clone, Default)]
pub struct CoordCache {
    inner: Arc<Mutex<Views>>,
    /// Per key, the lock held while the view is read or brought up to date.
    busy: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
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

    /// How many objects the kept views hold together.
    pub fn objects_kept(&self) -> usize {
        self.lock().values().map(|(_, v)| v.len()).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Views> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn busy(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        if busy.len() > 64 {
            busy.retain(|_, l| Arc::strong_count(l) > 1);
        }
        busy.entry(key.to_owned()).or_default().clone()
    }

    /// Keeps `v` as the view of `key` at `generation`. Beyond [`VIEW_CACHE_OBJECTS`] the other
    /// views are dropped, unless `spare` (then `v` is not kept instead).
    fn put(&self, key: String, generation: (i64, i64), v: Arc<CoordView>, spare: bool) -> bool {
        if v.len() > VIEW_CACHE_OBJECTS {
            return false;
        }
        let mut inner = self.lock();
        if let Some((g, _)) = inner.get(&key)
            && *g > generation
        {
            return false; // a later read was kept meanwhile
        }
        inner.remove(&key);
        let kept: usize = inner.values().map(|(_, v)| v.len()).sum();
        if kept + v.len() > VIEW_CACHE_OBJECTS {
            if spare {
                return false;
            }
            inner.clear();
        }
        inner.insert(key, (generation, v));
        true
    }

    /// The entry for `key` when it is still the one read at `generation`: taken out, so that
    /// (when nobody else holds it) it is brought up to date in place rather than copied.
    fn take(&self, key: &str, generation: (i64, i64), mine: &Arc<CoordView>) {
        let mut inner = self.lock();
        if let Some((g, v)) = inner.get(key)
            && *g == generation
            && Arc::ptr_eq(v, mine)
        {
            inner.remove(key);
        }
    }
}

/// The key of member `m`'s view over `colls`: everything that decides what it holds.
fn key_of(m: &MemberService, colls: &[Collection]) -> String {
    let pushdown = Pushdown::for_principal(&m.principal, &m.coalition);
    let ids: Vec<&str> = colls.iter().map(|c| c.id.as_str()).collect();
    format!("{pushdown:?}|{ids:?}")
}

/// The coordination view of member `m` over `colls`, from `cache` when it is up to date,
/// brought up to date from it after additions, else read whole.
pub async fn coord_view(
    m: &MemberService,
    cache: &CoordCache,
    colls: &[Collection],
) -> Result<Arc<CoordView>, ServiceError> {
    Ok(view_kept(m, cache, colls, false).await?.0)
}

/// Reads or brings up to date member `m`'s view over `colls` into `cache` without dropping
/// other kept views (the console's warm-up): whether it is kept.
pub async fn warm(
    m: &MemberService,
    cache: &CoordCache,
    colls: &[Collection],
) -> Result<bool, ServiceError> {
    Ok(view_kept(m, cache, colls, true).await?.1)
}

/// [`coord_view`], and whether the view is kept; `spare`: see [`CoordCache::put`].
async fn view_kept(
    m: &MemberService,
    cache: &CoordCache,
    colls: &[Collection],
    spare: bool,
) -> Result<(Arc<CoordView>, bool), ServiceError> {
    let pushdown = Pushdown::for_principal(&m.principal, &m.coalition);
    let key = key_of(m, colls);
    let generation = m.store.content_generation().await?;
    if let Some((g, v)) = cache.lock().get(&key).cloned()
        && g == generation
    {
        return Ok((v, true));
    }
    // One reader or updater per view: whoever comes second waits and finds it done.
    let busy = cache.busy(&key);
    let _busy = busy.lock().await;
    let generation = m.store.content_generation().await?;
    let cached = cache.lock().get(&key).cloned();
    let v = match cached {
        Some((g, v)) if g == generation => return Ok((v, true)),
        Some((g, v)) if g.1 <= generation.1 && g.0 <= generation.0 => {
            match changed_since(m, g, generation).await? {
                Some(changed) => {
                    cache.take(&key, g, &v);
                    let view = Arc::try_unwrap(v).unwrap_or_else(|shared| (*shared).clone());
                    cache.counts.1.fetch_add(1, Ordering::Relaxed);
                    Arc::new(update(m, &pushdown, colls, view, changed).await?)
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
    let kept = cache.put(key, generation, v.clone(), spare);
    Ok((v, kept))
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

/// `view` with what it holds of `changed` read again.
async fn update(
    m: &MemberService,
    pushdown: &Pushdown,
    colls: &[Collection],
    mut view: CoordView,
    changed: HashSet<String>,
) -> Result<CoordView, ServiceError> {
    let ids: Vec<String> = changed.iter().cloned().collect();
    let fresh = latest(read_entries(m, pushdown, colls, Some(&ids)).await?);
    view.apply(&changed, fresh);
    Ok(view)
}

/// From generation `kept` to `now`: the ids of the objects deletions removed entries of, of
/// every entry added or re-dated in any collection, and of the objects with edges to them;
/// `None` when more than [`INCREMENTAL_IDS`], or when a deletion is no longer recorded.
async fn changed_since(
    m: &MemberService,
    kept: (i64, i64),
    now: (i64, i64),
) -> Result<Option<HashSet<String>>, ServiceError> {
    const PAGE: u32 = 500;
    let since = kept.0;
    let mut ids = HashSet::new();
    if now.1 > kept.1 {
        match m.store.deleted_between(kept.1, now.1).await? {
            Some(deleted) => ids.extend(deleted),
            None => return Ok(None),
        }
    }
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
