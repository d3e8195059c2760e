//! The coalition report's model: the figures a member's view yields (incidents by sector and
//! country, the techniques used, sightings per week, open requests and offers, and the most
//! restrictive TLP among what was counted). The CLI renders them as a self-contained HTML page;
//! the same model serves any other view of the report.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex, Weak},
};

use coord::assist::{AssistanceOffer, AssistanceRequest, OfferStatus};
use serde_json::{Value, json};
use stix::{Timestamp, tlp::TlpLevel};

use super::{
    ServiceError,
    member::{MemberService, s},
};
use crate::{
    coalition::Collection,
    policy::Pushdown,
    store::{ListQuery, Store, VersionSelection, for_each_page},
};

/// The object types the figures count, and those they follow to an incident's victims.
pub const FIGURE_TYPES: &[&str] = &[
    "incident",
    "identity",
    "impact",
    "relationship",
    "attack-pattern",
    "sighting",
    AssistanceRequest::TYPE,
    AssistanceOffer::TYPE,
];

/// The figures of what member `m` may see in `colls` (latest versions) since `since`;
/// unmarked objects count as the node's `default_tlp`.
pub async fn member_figures(
    m: &MemberService,
    colls: &[crate::coalition::Collection],
    since: Timestamp,
) -> Result<Figures, ServiceError> {
    let objects = m.view_of_types(colls, false, FIGURE_TYPES).await?;
    Ok(figures(&objects, since, m.coalition.default_tlp))
}

/// The figures of one window and of the window before it, as one member view yields them, and
/// the ids of the RED and AMBER+STRICT objects they name (open requests and offers), whose reads
/// are audited wherever they are shown.
#[derive(Debug)]
pub struct WindowFigures {
    /// The window's first second.
    pub since: Timestamp,
    /// The window.
    pub current: Figures,
    /// The window before it (as long).
    pub previous: Figures,
    /// RED objects named by `current`.
    pub red: Vec<String>,
    /// AMBER+STRICT objects named by `current`.
    pub strict: Vec<String>,
}

/// Computed [`WindowFigures`], kept per member view: an entry is keyed by everything that decides
/// what the view holds — the member's [`Pushdown`] (member, readable collections, RED recipient
/// collections, default TLP, egress) and the collections read — and by the window (its length and
/// its end, to the minute), and every entry is dropped when the store's content generation
/// ([`Store::content_generation`]) moves. Two members never share an entry unless their views are
/// the same; users of one member do (their views are).
///
/// Beside the computed figures, the cache keeps each member view's objects of the
/// [`FIGURE_TYPES`] (same key less the window), brought up to date after a write by reading
/// only what changed: the entries added or re-dated since (an edge whose endpoint got a new
/// version or placement is re-dated) and the relationships and sightings pointing to what they
/// hold, each read again by id through the policy listing, and likewise after a deletion (from
/// the id the store recorded for it). Of each object the view keeps only the facts the figures need (`Facts`: times parsed,
/// TLP, the type's few fields), read from its JSON once and shared between views (one copy per
/// stored version), so that the figures of a window are a loop over them, without JSON.
#[derive(Debug, Clone, Default)]
pub struct FiguresCache {
    inner: Arc<Mutex<CacheInner>>,
    views: Arc<Mutex<ViewsInner>>,
}

#[derive(Debug, Default)]
struct CacheInner {
    generation: Option<(i64, i64)>,
    entries: HashMap<String, Arc<WindowFigures>>,
}

#[derive(Debug, Default)]
struct ViewsInner {
    /// Per view key, its objects (each locked while it is brought up to date, so that two
    /// requests of one view do the work once).
    views: HashMap<String, Arc<tokio::sync::Mutex<Option<FigureView>>>>,
    /// The facts of stored versions by row id, shared by the views.
    interned: HashMap<i64, Weak<Facts>>,
}

/// Entries kept at most (views × windows); beyond it the cache starts over.
const CACHE_ENTRIES: usize = 256;

/// Member views whose objects are kept at most; beyond it they start over.
const VIEWS_KEPT: usize = 16;

/// A view with more objects than this is not kept (computed afresh each time).
const VIEW_OBJECTS_KEPT: usize = 500_000;

/// Entries written since a view was read beyond which it is read again whole rather than
/// brought up to date entry by entry.
const DELTA_ENTRIES: usize = 20_000;

impl FiguresCache {
    fn get(&self, generation: (i64, i64), key: &str) -> Option<Arc<WindowFigures>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.generation != Some(generation) {
            inner.entries.clear();
            inner.generation = Some(generation);
            return None;
        }
        inner.entries.get(key).cloned()
    }

    fn put(&self, generation: (i64, i64), key: String, f: Arc<WindowFigures>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.generation != Some(generation) {
            // The content moved while the figures were computed: they are not kept.
            return;
        }
        if inner.entries.len() >= CACHE_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(key, f);
    }

    fn view_slot(&self, key: &str) -> Arc<tokio::sync::Mutex<Option<FigureView>>> {
        let mut inner = self.views.lock().unwrap_or_else(|p| p.into_inner());
        if !inner.views.contains_key(key) && inner.views.len() >= VIEWS_KEPT {
            inner.views.clear();
        }
        inner.views.entry(key.to_owned()).or_default().clone()
    }

    /// The facts of version `vid` (shared with every view holding it).
    fn intern(&self, vid: i64, json: &str) -> Result<Arc<Facts>, ServiceError> {
        {
            let inner = self.views.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = inner.interned.get(&vid).and_then(Weak::upgrade) {
                return Ok(v);
            }
        }
        let v: Value = serde_json::from_str(json)
            .map_err(|e| ServiceError::Corrupt(format!("a stored object is not JSON: {e}")))?;
        let v = Arc::new(Facts::of(&v));
        let mut inner = self.views.lock().unwrap_or_else(|p| p.into_inner());
        if inner.interned.len() >= 1024 && inner.interned.len().is_power_of_two() {
            inner.interned.retain(|_, w| w.strong_count() > 0);
        }
        inner.interned.insert(vid, Arc::downgrade(&v));
        Ok(v)
    }
}

/// One member view's objects of the [`FIGURE_TYPES`] (the latest version it may see of each, in
/// each collection read, and across them), as of a content generation.
///
/// After a write it is brought up to date from what changed rather than read again: the entries
/// added since in every collection of the coalition (their `date_added` is after the view's
/// generation; an edge whose endpoint got a new version or placement is re-dated, so it is among
/// them), plus every relationship or
/// sighting pointing to an object among them (an endpoint arriving where it was unknown can hide
/// an edge without re-dating it). Each such object of the figure types is read again by id
/// through the policy listing in each collection, and replaces (or removes) what the view held.
/// A deletion is handled the same way, from the id it recorded ([`Store::deleted_between`]: the
/// edges to a deleted object are re-dated with it); one no longer recorded, or more than
/// [`DELTA_ENTRIES`] new entries, reads the view again whole.
#[derive(Debug)]
struct FigureView {
    generation: (i64, i64),
    /// Per collection read (in order): object id → its latest version visible there.
    per_collection: Vec<HashMap<String, Arc<Facts>>>,
    /// Object id → the latest version across the collections (the first collection's on a tie).
    merged: HashMap<String, Arc<Facts>>,
}

/// Whether `t` is one of the [`FIGURE_TYPES`].
fn figure_type(t: &str) -> bool {
    FIGURE_TYPES.contains(&t)
}

/// The type part of an object id.
fn type_of_id(id: &str) -> &str {
    id.split_once("--").map_or("", |(t, _)| t)
}

impl FigureView {
    /// Reads the view whole: per collection and figure type, the type's entries in order.
    async fn read(
        m: &MemberService,
        cache: &FiguresCache,
        colls: &[Collection],
        pushdown: &Pushdown,
        generation: (i64, i64),
    ) -> Result<FigureView, ServiceError> {
        let mut per_collection = Vec::with_capacity(colls.len());
        for c in colls {
            let mut here: HashMap<String, Arc<Facts>> = HashMap::new();
            for t in FIGURE_TYPES {
                let mut q =
                    ListQuery::whole_collection(&c.id, pushdown.clone(), VersionSelection::last());
                q.types = vec![(*t).to_owned()];
                for_each_page(&m.store, q, |records| -> Result<(), ServiceError> {
                    for r in records {
                        if let Some(j) = &r.json {
                            here.insert(r.id.clone(), cache.intern(r.row, j)?);
                        }
                    }
                    Ok(())
                })
                .await?;
            }
            per_collection.push(here);
        }
        let mut view = FigureView {
            generation,
            per_collection,
            merged: HashMap::new(),
        };
        let ids: Vec<String> = view
            .per_collection
            .iter()
            .flat_map(|h| h.keys().cloned())
            .collect();
        for id in ids {
            view.merge(&id);
        }
        Ok(view)
    }

    /// Recomputes `merged` for `id` from the collections' versions.
    fn merge(&mut self, id: &str) {
        let mut best: Option<&Arc<Facts>> = None;
        for h in &self.per_collection {
            if let Some(v) = h.get(id)
                && best.is_none_or(|b| v.version > b.version)
            {
                best = Some(v);
            }
        }
        match best.cloned() {
            Some(v) => {
                self.merged.insert(id.to_owned(), v);
            }
            None => {
                self.merged.remove(id);
            }
        }
    }

    fn len(&self) -> usize {
        self.per_collection.iter().map(HashMap::len).sum()
    }

    /// Brings the view from its generation to `generation` (see [`FigureView`]); `false` when it
    /// must be read again whole instead.
    async fn update(
        &mut self,
        m: &MemberService,
        cache: &FiguresCache,
        colls: &[Collection],
        pushdown: &Pushdown,
        generation: (i64, i64),
    ) -> Result<bool, ServiceError> {
        if generation.1 < self.generation.1 || generation.0 < self.generation.0 {
            return Ok(false);
        }
        // The objects that deletions since removed entries of (each read again below, and the
        // edges pointing to them), unless one is no longer recorded.
        let deleted = if generation.1 > self.generation.1 {
            match m
                .store
                .deleted_between(self.generation.1, generation.1)
                .await?
            {
                Some(ids) => ids,
                None => return Ok(false),
            }
        } else {
            Vec::new()
        };
        // Everything placed or re-dated since, in every collection of the coalition (no policy
        // here: these are only candidates, each read again through the policy below). Not only
        // the collections read: an object placed where the member may not read it can hide an
        // edge pointing to it (the edge rule counts placements anywhere).
        let mut written: HashSet<String> = HashSet::new();
        let mut touched: HashSet<String> = HashSet::new();
        let mut seen = deleted.len();
        for id in deleted {
            if figure_type(type_of_id(&id)) {
                touched.insert(id.clone());
            }
            written.insert(id);
        }
        for c in &m.coalition.collections {
            let mut after = (self.generation.0, i64::MAX);
            loop {
                let batch = m.store.sync_batch(&c.id, after, 1000).await?;
                seen += batch.len();
                if seen > DELTA_ENTRIES {
                    return Ok(false);
                }
                for r in &batch {
                    if figure_type(&r.object_type) {
                        touched.insert(r.id.clone());
                    }
                    written.insert(r.id.clone());
                }
                match batch.last() {
                    Some(last) if batch.len() == 1000 => after = (last.date_added_us, last.row),
                    _ => break,
                }
            }
        }
        // Edges of the figure types pointing to what was written.
        for id in &written {
            for src in m.store.edge_sources(id, 1_000_000).await? {
                if figure_type(type_of_id(&src)) {
                    touched.insert(src);
                }
            }
        }
        let mut touched: Vec<String> = touched.into_iter().collect();
        touched.sort();
        let types: Vec<String> = FIGURE_TYPES.iter().map(|t| (*t).to_owned()).collect();
        for (ci, c) in colls.iter().enumerate() {
            for chunk in touched.chunks(200) {
                let q = ListQuery {
                    collection: c.id.clone(),
                    pushdown: pushdown.clone(),
                    ids: chunk.to_vec(),
                    types: types.clone(),
                    added_after_us: None,
                    versions: VersionSelection::last(),
                    spec_versions: vec![],
                    after: None,
                    limit: 100_000,
                    with_json: true,
                };
                let mut found = Vec::new();
                for_each_page(&m.store, q, |records| -> Result<(), ServiceError> {
                    for r in records {
                        if let Some(j) = &r.json {
                            found.push((r.id.clone(), cache.intern(r.row, j)?));
                        }
                    }
                    Ok(())
                })
                .await?;
                let here = &mut self.per_collection[ci];
                for id in chunk {
                    here.remove(id);
                }
                for (id, v) in found {
                    here.insert(id, v);
                }
            }
        }
        for id in &touched {
            self.merge(id);
        }
        self.generation = generation;
        Ok(true)
    }
}

/// The objects of the [`FIGURE_TYPES`] member `m` may see in `colls` (latest versions), as of
/// content generation `generation` or later: from `cache`'s [`FigureView`] of the same view,
/// brought up to date, else read whole.
async fn figure_objects(
    m: &MemberService,
    cache: &FiguresCache,
    colls: &[Collection],
    pushdown: &Pushdown,
    generation: (i64, i64),
) -> Result<Vec<Arc<Facts>>, ServiceError> {
    let ids: Vec<&str> = colls.iter().map(|c| c.id.as_str()).collect();
    let key = format!("{pushdown:?}|{ids:?}");
    let slot = cache.view_slot(&key);
    let mut guard = slot.lock().await;
    let current = match guard.as_mut() {
        Some(v) if v.generation == generation => true,
        Some(v) => match v.update(m, cache, colls, pushdown, generation).await {
            Ok(current) => current,
            Err(e) => {
                // Half brought up to date: read whole next time.
                *guard = None;
                return Err(e);
            }
        },
        None => false,
    };
    if !current {
        *guard = None;
        let view = FigureView::read(m, cache, colls, pushdown, generation).await?;
        let objects = view.merged.values().cloned().collect();
        if view.len() <= VIEW_OBJECTS_KEPT {
            *guard = Some(view);
        }
        return Ok(objects);
    }
    Ok(guard
        .as_ref()
        .map(|v| v.merged.values().cloned().collect())
        .unwrap_or_default())
}

/// The figures of the last `days` days (to the minute) beside the `days` before, of everything
/// member `m` may read, from `cache` when the same view's figures were computed since the
/// store's content last changed.
pub async fn window_figures(
    m: &MemberService,
    cache: &FiguresCache,
    days: i64,
) -> Result<Arc<WindowFigures>, ServiceError> {
    window_figures_at(m, cache, days, super::member::now().unix_seconds()).await
}

/// The window of `days` days ending at the minute of `now_s` (seconds since the epoch), and the
/// window before it.
fn windows(days: i64, now_s: i64) -> Result<(i64, Timestamp, Timestamp), ServiceError> {
    let minute = now_s.div_euclid(60) * 60;
    let since_s = days
        .checked_mul(86_400)
        .and_then(|d| minute.checked_sub(d))
        .ok_or_else(|| ServiceError::Usage("no such window".into()))?;
    let (Some(since), Some(prev_since)) = (
        Timestamp::from_unix(since_s, 0, 0),
        Timestamp::from_unix(since_s - days * 86_400, 0, 0),
    ) else {
        return Err(ServiceError::Usage("no such window".into()));
    };
    Ok((minute, since, prev_since))
}

/// [`window_figures`] at `now_s` (seconds since the epoch) instead of the clock's time.
pub async fn window_figures_at(
    m: &MemberService,
    cache: &FiguresCache,
    days: i64,
    now_s: i64,
) -> Result<Arc<WindowFigures>, ServiceError> {
    let colls = m.readable();
    let (minute, since, prev_since) = windows(days, now_s)?;
    let pushdown = Pushdown::for_principal(&m.principal, &m.coalition);
    let ids: Vec<&str> = colls.iter().map(|c| c.id.as_str()).collect();
    let key = format!("{pushdown:?}|{ids:?}|{days}|{minute}");
    let generation = m.store.content_generation().await?;
    if let Some(hit) = cache.get(generation, &key) {
        return Ok(hit);
    }
    let held = figure_objects(m, cache, &colls, &pushdown, generation).await?;
    let objects: Vec<&Facts> = held.iter().map(Arc::as_ref).collect();
    let default = m.coalition.default_tlp;
    let current = figures_of_facts(&objects, since, default);
    let before: Vec<&Facts> = objects
        .iter()
        .copied()
        .filter(|o| o.seen_or_created.is_some_and(|w| w < since))
        .collect();
    let previous = figures_of_facts(&before, prev_since, default);
    let named: HashSet<&str> = current
        .open_requests
        .iter()
        .map(|r| r.0.as_str())
        .chain(current.offers.iter().map(|o| o.0.as_str()))
        .collect();
    let (mut red, mut strict) = (Vec::new(), Vec::new());
    for o in objects.iter().filter(|o| named.contains(o.id.as_str())) {
        match o.tlp.unwrap_or(default) {
            TlpLevel::Red => red.push(o.id.clone()),
            TlpLevel::AmberStrict => strict.push(o.id.clone()),
            _ => {}
        }
    }
    let out = Arc::new(WindowFigures {
        since,
        current,
        previous,
        red,
        strict,
    });
    cache.put(generation, key, out.clone());
    Ok(out)
}

/// [`window_figures_at`] computed from scratch, bypassing every cache: the member's view read
/// whole (`MemberService::view_of_types`) and the figures computed from the objects' JSON by
/// [`figures_of`] (what the kept figures must equal).
pub async fn window_figures_fresh(
    m: &MemberService,
    days: i64,
    now_s: i64,
) -> Result<WindowFigures, ServiceError> {
    let (_, since, prev_since) = windows(days, now_s)?;
    let held = m.view_of_types(&m.readable(), false, FIGURE_TYPES).await?;
    let objects: Vec<&Value> = held.iter().collect();
    let default = m.coalition.default_tlp;
    let current = figures_of(&objects, since, default);
    let before: Vec<&Value> = objects
        .iter()
        .copied()
        .filter(|o| {
            let when = o
                .get("first_seen")
                .or_else(|| o.get("created"))
                .and_then(Value::as_str)
                .and_then(|t| Timestamp::parse(t).ok());
            when.is_some_and(|w| w < since)
        })
        .collect();
    let previous = figures_of(&before, prev_since, default);
    let named: HashSet<&str> = current
        .open_requests
        .iter()
        .map(|r| r.0.as_str())
        .chain(current.offers.iter().map(|o| o.0.as_str()))
        .collect();
    let (mut red, mut strict) = (Vec::new(), Vec::new());
    for o in objects.iter().filter(|o| named.contains(s(o, "id"))) {
        match stix::tlp::effective_tlp_of(o).unwrap_or(default) {
            TlpLevel::Red => red.push(s(o, "id").to_owned()),
            TlpLevel::AmberStrict => strict.push(s(o, "id").to_owned()),
            _ => {}
        }
    }
    Ok(WindowFigures {
        since,
        current,
        previous,
        red,
        strict,
    })
}

/// What the figures need of one object (one stored version), read from its JSON once when it
/// enters a kept view, so that computing a window's figures is a loop over these without JSON.
/// [`figures_of_facts`] over them equals [`figures_of`] over the objects.
#[derive(Debug)]
struct Facts {
    id: String,
    /// `modified`, else `created` (which version is the latest).
    version: Option<Timestamp>,
    /// The object's TLP level (`None`: unmarked).
    tlp: Option<TlpLevel>,
    created: Option<Timestamp>,
    /// `first_seen` if present, else `created`, parsed (what the window before filters on).
    seen_or_created: Option<Timestamp>,
    revoked: bool,
    kind: Kind,
}

/// The facts of each figure type.
#[derive(Debug)]
enum Kind {
    /// An incident: its Incident Core `impact_refs`.
    Incident { impact_refs: Vec<String> },
    /// An identity: its sectors (NIS2 sector, else STIX sectors) and country.
    Identity {
        sectors: Vec<String>,
        country: Option<String>,
    },
    /// An impact: its `impacted_refs`.
    Impact { impacted_refs: Vec<String> },
    /// A relationship.
    Relationship {
        rel: Rel,
        source: String,
        target: String,
    },
    /// An attack pattern: its technique key (DISARM or ATT&CK, `ID name`).
    AttackPattern { key: Option<(bool, String)> },
    /// A sighting: when (`first_seen`, else `created`) and its count.
    Sighting { when: Option<Timestamp>, count: u64 },
    /// A request for assistance, when open: name, status, priority.
    Request { open: Option<(String, String, u64)> },
    /// An offer, when on the table: name, status.
    Offer { on_table: Option<(String, String)> },
    /// Anything else (counted nowhere).
    Other,
}

/// The relationship types the figures look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    Targets,
    Uses,
    Other,
}

/// The strings of array `a`.
fn strings(a: Option<&Value>) -> Vec<String> {
    a.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn timestamp(o: &Value, key: &str) -> Option<Timestamp> {
    o.get(key)
        .and_then(Value::as_str)
        .and_then(|t| Timestamp::parse(t).ok())
}

impl Facts {
    fn of(o: &Value) -> Facts {
        let created = created(o);
        let kind = match s(o, "type") {
            "incident" => Kind::Incident {
                impact_refs: strings(o.pointer(&format!(
                    "/extensions/{}/impact_refs",
                    coord::ext::INCIDENT_CORE
                ))),
            },
            "identity" => {
                let ci = o.pointer(&format!("/extensions/{}", coord::ext::CI_ENTITY));
                let sectors = match ci
                    .and_then(|c| c.get("nis2_sector"))
                    .and_then(Value::as_str)
                {
                    Some(sec) => vec![sec.to_owned()],
                    None => strings(o.get("sectors")),
                };
                Kind::Identity {
                    sectors,
                    country: ci
                        .and_then(|c| c.get("country"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                }
            }
            "impact" => Kind::Impact {
                impacted_refs: strings(o.get("impacted_refs")),
            },
            "relationship" => Kind::Relationship {
                rel: match s(o, "relationship_type") {
                    "targets" => Rel::Targets,
                    "uses" => Rel::Uses,
                    _ => Rel::Other,
                },
                source: s(o, "source_ref").to_owned(),
                target: s(o, "target_ref").to_owned(),
            },
            "attack-pattern" => Kind::AttackPattern {
                key: if let Some(d) = coord::disarm::disarm_id(o) {
                    Some((true, format!("{d} {}", s(o, "name"))))
                } else {
                    attack_id(o).map(|a| (false, format!("{a} {}", s(o, "name"))))
                },
            },
            "sighting" => Kind::Sighting {
                when: timestamp(o, "first_seen").or(created),
                count: o.get("count").and_then(Value::as_u64).unwrap_or(1),
            },
            t if t == AssistanceRequest::TYPE => Kind::Request {
                open: AssistanceRequest::read(o)
                    .ok()
                    .filter(|r| r.body.request_status.is_open())
                    .map(|r| {
                        (
                            r.body.name.clone(),
                            r.body.request_status.name(),
                            u64::from(r.body.priority.unwrap_or(0)),
                        )
                    }),
            },
            t if t == AssistanceOffer::TYPE => Kind::Offer {
                on_table: AssistanceOffer::read(o)
                    .ok()
                    .filter(|o| {
                        o.body.offer_status.is_available()
                            || matches!(
                                o.body.offer_status,
                                OfferStatus::Pledged | OfferStatus::Committed
                            )
                    })
                    .map(|o| (o.body.name.clone(), o.body.offer_status.name())),
            },
            _ => Kind::Other,
        };
        Facts {
            id: s(o, "id").to_owned(),
            version: super::member::version_of(o),
            tlp: stix::tlp::effective_tlp_of(o),
            created,
            seen_or_created: o
                .get("first_seen")
                .or_else(|| o.get("created"))
                .and_then(Value::as_str)
                .and_then(|t| Timestamp::parse(t).ok()),
            revoked: revoked(o),
            kind,
        }
    }

    fn in_window(&self, since: Timestamp) -> bool {
        self.created.is_some_and(|c| c >= since) && !self.revoked
    }
}

/// [`figures_of`] over the objects' [`Facts`] (no JSON read).
fn figures_of_facts(objects: &[&Facts], since: Timestamp, default_tlp: TlpLevel) -> Figures {
    let mut f = Figures::default();
    let mut tlp: Option<TlpLevel> = None;
    let mut counted = |o: &Facts| {
        tlp = tlp.max(Some(o.tlp.unwrap_or(default_tlp)));
    };
    // The victims' index (`incident::Victims`): `targets` by source, impacts and identities by id.
    let mut targets: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut impacts: HashMap<&str, &[String]> = HashMap::new();
    let mut identities: HashMap<&str, &Facts> = HashMap::new();
    let mut patterns: HashMap<&str, &Facts> = HashMap::new();
    let mut incidents: Vec<(&Facts, &[String])> = Vec::new();
    let mut uses: Vec<(&Facts, &str, &str)> = Vec::new();
    for &o in objects {
        match &o.kind {
            Kind::Incident { impact_refs } => incidents.push((o, impact_refs.as_slice())),
            Kind::Identity { .. } => {
                identities.entry(o.id.as_str()).or_insert(o);
            }
            Kind::Impact { impacted_refs } => {
                impacts.insert(o.id.as_str(), impacted_refs.as_slice());
            }
            Kind::Relationship {
                rel: Rel::Targets,
                source,
                target,
            } => targets.entry(source.as_str()).or_default().push(target),
            Kind::Relationship {
                rel: Rel::Uses,
                source,
                target,
            } => uses.push((o, source.as_str(), target.as_str())),
            Kind::AttackPattern { .. } if !o.revoked => {
                patterns.insert(o.id.as_str(), o);
            }
            _ => {}
        }
    }
    for (inc, impact_refs) in incidents {
        if !inc.in_window(since) {
            continue;
        }
        f.incidents += 1;
        counted(inc);
        let mut ids: Vec<&str> = targets.get(inc.id.as_str()).cloned().unwrap_or_default();
        for r in impact_refs {
            if let Some(refs) = impacts.get(r.as_str()) {
                ids.extend(refs.iter().map(String::as_str));
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let mut sectors: Vec<&str> = Vec::new();
        let mut countries: Vec<&str> = Vec::new();
        for v in ids.iter().filter_map(|id| identities.get(id).copied()) {
            counted(v);
            if let Kind::Identity {
                sectors: sec,
                country,
            } = &v.kind
            {
                sectors.extend(sec.iter().map(String::as_str));
                countries.extend(country.as_deref());
            }
        }
        for (list, map) in [
            (&mut sectors, &mut f.by_sector),
            (&mut countries, &mut f.by_country),
        ] {
            list.sort_unstable();
            list.dedup();
            if list.is_empty() {
                list.push("unknown");
            }
            for k in list.iter() {
                match map.get_mut(*k) {
                    Some(n) => *n += 1,
                    None => {
                        map.insert((*k).to_owned(), 1);
                    }
                }
            }
        }
    }
    let mut users: BTreeMap<(bool, &str), HashSet<&str>> = BTreeMap::new();
    for (r, source, target) in uses {
        if !r.in_window(since) {
            continue;
        }
        let Some(p) = patterns.get(target).copied() else {
            continue;
        };
        let Kind::AttackPattern {
            key: Some((is_disarm, k)),
        } = &p.kind
        else {
            continue;
        };
        counted(r);
        counted(p);
        users
            .entry((*is_disarm, k.as_str()))
            .or_default()
            .insert(source);
    }
    let (mut disarm, mut attack) = (BTreeMap::new(), BTreeMap::new());
    for ((is_disarm, k), u) in users {
        if is_disarm {
            disarm.insert(k.to_owned(), u.len());
        } else {
            attack.insert(k.to_owned(), u.len());
        }
    }
    f.disarm = top(disarm, 10);
    f.attack = top(attack, 10);
    let mut weeks: BTreeMap<i64, u64> = BTreeMap::new();
    for &o in objects {
        match &o.kind {
            Kind::Sighting { when, count } if !o.revoked => {
                let Some(when) = when.filter(|w| *w >= since) else {
                    continue;
                };
                counted(o);
                *weeks.entry(monday_of(when)).or_default() += count;
                f.sightings_total += count;
            }
            Kind::Request {
                open: Some((name, status, priority)),
            } => {
                counted(o);
                f.open_requests
                    .push((o.id.clone(), name.clone(), status.clone(), *priority));
            }
            Kind::Offer {
                on_table: Some((name, status)),
            } => {
                counted(o);
                f.offers.push((o.id.clone(), name.clone(), status.clone()));
            }
            _ => {}
        }
    }
    for (monday, n) in weeks {
        *f.sightings_per_week.entry(day_text(monday)).or_default() += n;
    }
    f.open_requests
        .sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.0.cmp(&b.0)));
    f.offers.sort();
    f.tlp = tlp;
    f
}

/// The report's figures.
#[derive(Debug, Default)]
pub struct Figures {
    /// Incidents created in the window.
    pub incidents: usize,
    /// Incidents per victim sector (NIS2 sector, else STIX sector; `unknown`).
    pub by_sector: BTreeMap<String, usize>,
    /// Incidents per victim country (`unknown`).
    pub by_country: BTreeMap<String, usize>,
    /// The ten ATT&CK techniques used by the most objects (`ID name`, users).
    pub attack: Vec<(String, usize)>,
    /// The ten DISARM techniques used by the most objects.
    pub disarm: Vec<(String, usize)>,
    /// Sightings (their `count`) per week, by the week's Monday.
    pub sightings_per_week: BTreeMap<String, u64>,
    /// Sightings (their `count`) in the window.
    pub sightings_total: u64,
    /// Open requests `(id, name, status, priority)`, by priority.
    pub open_requests: Vec<(String, String, String, u64)>,
    /// Offers on the table `(id, name, status)`.
    pub offers: Vec<(String, String, String)>,
    /// The most restrictive TLP among the objects counted, `None` when nothing was.
    pub tlp: Option<TlpLevel>,
}

impl Figures {
    /// The level the page is labelled with.
    pub fn tlp_label(&self) -> TlpLevel {
        self.tlp.unwrap_or(TlpLevel::Clear)
    }

    /// The figures as JSON (`report --json`).
    pub fn to_json(&self) -> Value {
        json!({
            "tlp": self.tlp_label().name(),
            "incidents": self.incidents, "incidents_by_sector": self.by_sector,
            "incidents_by_country": self.by_country,
            "top_attack": self.attack.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "top_disarm": self.disarm.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "sightings_per_week": self.sightings_per_week, "sightings": self.sightings_total,
            "open_requests": self.open_requests.iter().map(|(id, n, st, p)| json!({"id": id, "name": n, "status": st, "priority": p})).collect::<Vec<_>>(),
            "offers": self.offers.iter().map(|(id, n, st)| json!({"id": id, "name": n, "status": st})).collect::<Vec<_>>(),
        })
    }
}

fn created(o: &Value) -> Option<Timestamp> {
    o.get("created")
        .and_then(Value::as_str)
        .and_then(|t| Timestamp::parse(t).ok())
}

fn revoked(o: &Value) -> bool {
    o.get("revoked").and_then(Value::as_bool) == Some(true)
}

/// An ATT&CK technique's external id.
fn attack_id(o: &Value) -> Option<&str> {
    o.get("external_references")?
        .as_array()?
        .iter()
        .filter(|r| s(r, "source_name") == "mitre-attack")
        .find_map(|r| r.get("external_id").and_then(Value::as_str))
}

/// The Monday (UTC) of the week holding `t`, as `YYYY-MM-DD`.
pub fn week_of(t: Timestamp) -> String {
    day_text(monday_of(t))
}

/// The Monday (UTC) of the week holding `t`, in days since the epoch.
fn monday_of(t: Timestamp) -> i64 {
    let days = t.unix_seconds().div_euclid(86_400);
    // 1970-01-01 was a Thursday: Monday-based weekday is (days + 3) mod 7.
    days - (days + 3).rem_euclid(7)
}

/// Day `days` since the epoch as `YYYY-MM-DD`.
fn day_text(days: i64) -> String {
    Timestamp::from_unix(days * 86_400, 0, 0)
        .map(|m| m.to_string().chars().take(10).collect())
        .unwrap_or_default()
}

/// The `n` largest entries, largest first (ties by key).
pub fn top(map: BTreeMap<String, usize>, n: usize) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// Computes the figures from a member's view (latest versions); unmarked objects count as
/// `default_tlp` for the page's label.
pub fn figures(objects: &[Value], since: Timestamp, default_tlp: TlpLevel) -> Figures {
    let refs: Vec<&Value> = objects.iter().collect();
    figures_of(&refs, since, default_tlp)
}

/// The objects of type `t` among `objects`.
fn of_type<'a>(objects: &'a [&'a Value], t: &'a str) -> impl Iterator<Item = &'a Value> {
    objects
        .iter()
        .copied()
        .filter(move |o| o.get("type").and_then(Value::as_str) == Some(t))
}

/// [`figures`] over references to the objects.
pub fn figures_of(objects: &[&Value], since: Timestamp, default_tlp: TlpLevel) -> Figures {
    let mut f = Figures::default();
    let mut counted = |o: &Value| {
        let t = stix::tlp::effective_tlp_of(o).unwrap_or(default_tlp);
        f.tlp = f.tlp.max(Some(t));
    };
    let in_window = |o: &Value| created(o).is_some_and(|c| c >= since) && !revoked(o);
    // The same index the incident pages use (`services::incident`), over the view's objects.
    let victims = super::incident::Victims::of_parts(
        of_type(objects, "relationship")
            .filter(|r| s(r, "relationship_type") == "targets")
            .map(|r| (s(r, "source_ref"), s(r, "target_ref"))),
        of_type(objects, "impact"),
        of_type(objects, "identity"),
    );
    for inc in of_type(objects, "incident").filter(|o| in_window(o)) {
        f.incidents += 1;
        counted(inc);
        let mut sectors: Vec<String> = Vec::new();
        let mut countries: Vec<String> = Vec::new();
        for v in victims.of(inc) {
            counted(v);
            let ci = v.pointer(&format!("/extensions/{}", coord::ext::CI_ENTITY));
            match ci
                .and_then(|c| c.get("nis2_sector"))
                .and_then(Value::as_str)
            {
                Some(sec) => sectors.push(sec.to_owned()),
                None => sectors.extend(
                    v.get("sectors")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_owned),
                ),
            }
            if let Some(c) = ci.and_then(|c| c.get("country")).and_then(Value::as_str) {
                countries.push(c.to_owned());
            }
        }
        for (list, map) in [
            (&mut sectors, &mut f.by_sector),
            (&mut countries, &mut f.by_country),
        ] {
            list.sort();
            list.dedup();
            if list.is_empty() {
                list.push("unknown".into());
            }
            for k in list.iter() {
                *map.entry(k.clone()).or_default() += 1;
            }
        }
    }
    let patterns: BTreeMap<&str, &Value> = of_type(objects, "attack-pattern")
        .filter(|o| !revoked(o))
        .map(|o| (s(o, "id"), o))
        .collect();
    let mut users: BTreeMap<(bool, String), std::collections::BTreeSet<&str>> = BTreeMap::new();
    for r in of_type(objects, "relationship")
        .filter(|r| in_window(r) && s(r, "relationship_type") == "uses")
    {
        let Some(p) = patterns.get(s(r, "target_ref")) else {
            continue;
        };
        let key = if let Some(d) = coord::disarm::disarm_id(p) {
            (true, format!("{d} {}", s(p, "name")))
        } else if let Some(a) = attack_id(p) {
            (false, format!("{a} {}", s(p, "name")))
        } else {
            continue;
        };
        counted(r);
        counted(p);
        users.entry(key).or_default().insert(s(r, "source_ref"));
    }
    let (mut disarm, mut attack) = (BTreeMap::new(), BTreeMap::new());
    for ((is_disarm, k), u) in users {
        if is_disarm {
            disarm.insert(k, u.len());
        } else {
            attack.insert(k, u.len());
        }
    }
    f.disarm = top(disarm, 10);
    f.attack = top(attack, 10);
    for sg in of_type(objects, "sighting").filter(|o| !revoked(o)) {
        let when = sg
            .get("first_seen")
            .and_then(Value::as_str)
            .and_then(|t| Timestamp::parse(t).ok())
            .or_else(|| created(sg));
        let Some(when) = when.filter(|w| *w >= since) else {
            continue;
        };
        counted(sg);
        let n = sg.get("count").and_then(Value::as_u64).unwrap_or(1);
        *f.sightings_per_week.entry(week_of(when)).or_default() += n;
        f.sightings_total += n;
    }
    for r in of_type(objects, AssistanceRequest::TYPE) {
        if let Ok(req) = AssistanceRequest::read(r)
            && req.body.request_status.is_open()
        {
            counted(r);
            let r = req;
            f.open_requests.push((
                r.header.id.clone(),
                r.body.name.clone(),
                r.body.request_status.name(),
                u64::from(r.body.priority.unwrap_or(0)),
            ));
        }
    }
    f.open_requests
        .sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.0.cmp(&b.0)));
    for o in of_type(objects, AssistanceOffer::TYPE) {
        if let Ok(offer) = AssistanceOffer::read(o)
            && (offer.body.offer_status.is_available()
                || matches!(
                    offer.body.offer_status,
                    OfferStatus::Pledged | OfferStatus::Committed
                ))
        {
            counted(o);
            let o = offer;
            f.offers.push((
                o.header.id.clone(),
                o.body.name.clone(),
                o.body.offer_status.name(),
            ));
        }
    }
    f.offers.sort();
    f
}
