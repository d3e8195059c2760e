//! The coalition report's model: the figures a member's view yields (incidents by sector and
//! country, the techniques used, sightings per week, open requests and offers, and the most
//! restrictive TLP among what was counted). The CLI renders them as a self-contained HTML page;
//! the same model serves any other view of the report.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use coord::assist::{AssistanceOffer, AssistanceRequest, OfferStatus};
use serde_json::{Value, json};
use stix::{Timestamp, tlp::TlpLevel};

use super::{
    ServiceError,
    incident::Victims,
    member::{MemberService, of_type, s},
};
use crate::{policy::Pushdown, store::Store};

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
#[derive(Debug, Clone, Default)]
pub struct FiguresCache {
    inner: Arc<Mutex<CacheInner>>,
}

#[derive(Debug, Default)]
struct CacheInner {
    generation: Option<(i64, i64)>,
    entries: HashMap<String, Arc<WindowFigures>>,
}

/// Entries kept at most (views × windows); beyond it the cache starts over.
const CACHE_ENTRIES: usize = 256;

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
}

/// The figures of the last `days` days (to the minute) beside the `days` before, of everything
/// member `m` may read, from `cache` when the same view's figures were computed since the
/// store's content last changed.
pub async fn window_figures(
    m: &MemberService,
    cache: &FiguresCache,
    days: i64,
) -> Result<Arc<WindowFigures>, ServiceError> {
    let colls = m.readable();
    let minute = super::member::now().unix_seconds().div_euclid(60) * 60;
    let since_s = minute - days * 86_400;
    let (Some(since), Some(prev_since)) = (
        Timestamp::from_unix(since_s, 0, 0),
        Timestamp::from_unix(since_s - days * 86_400, 0, 0),
    ) else {
        return Err(ServiceError::Usage("no such window".into()));
    };
    let pushdown = Pushdown::for_principal(&m.principal, &m.coalition);
    let ids: Vec<&str> = colls.iter().map(|c| c.id.as_str()).collect();
    let key = format!("{pushdown:?}|{ids:?}|{days}|{minute}");
    let generation = m.store.content_generation().await?;
    if let Some(hit) = cache.get(generation, &key) {
        return Ok(hit);
    }
    let objects = m.view_of_types(&colls, false, FIGURE_TYPES).await?;
    let default = m.coalition.default_tlp;
    let current = figures(&objects, since, default);
    let before: Vec<Value> = objects
        .iter()
        .filter(|o| {
            let when = o
                .get("first_seen")
                .or_else(|| o.get("created"))
                .and_then(Value::as_str)
                .and_then(|t| Timestamp::parse(t).ok());
            when.is_some_and(|w| w < since)
        })
        .cloned()
        .collect();
    let previous = figures(&before, prev_since, default);
    let named: std::collections::HashSet<&str> = current
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
    let days = t.unix_seconds().div_euclid(86_400);
    // 1970-01-01 was a Thursday: Monday-based weekday is (days + 3) mod 7.
    let monday = days - (days + 3).rem_euclid(7);
    Timestamp::from_unix(monday * 86_400, 0, 0)
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
    let mut f = Figures::default();
    let mut counted = |o: &Value| {
        let t = stix::tlp::effective_tlp_of(o).unwrap_or(default_tlp);
        f.tlp = f.tlp.max(Some(t));
    };
    let in_window = |o: &Value| created(o).is_some_and(|c| c >= since) && !revoked(o);
    let victims = Victims::index(objects);
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
