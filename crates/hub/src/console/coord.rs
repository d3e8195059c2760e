//! The coordination pages: incidents on critical infrastructure (a filtered list, one incident
//! with its Incident Core timeline, victims, linked threat objects and FIMI activity, and the
//! forms of its workflow), the DISARM matrix as a heat map of the techniques used, and the
//! objects that used one technique. The assistance board is [`super::assist`], the federation
//! status [`super::federation`].
//!
//! Handlers are thin: they read through [`MemberService`] (the store's policy listing), ask
//! [`workflow`] whether the member may take a step before offering or accepting its form, and
//! call the same [`incident`] services as the CLI. A hidden incident is answered exactly like
//! a missing one (`missing`); a step the workflow does not allow is a 403 that says why.

use std::{collections::HashMap, fmt::Write as _};

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    response::{IntoResponse, Response},
};
use coord::incident::{
    Alteration, Determination, Event, EventStatus, Impact, ImpactDetail, IncidentCore, LossType,
    PhysicalImpact, Task, TaskOutcome,
};
use coord::sector::{CiEntity, Victim};
use serde_json::Value;
use stix::tlp::TlpLevel;

use super::{
    audit_read, check_form, csrf_field,
    html::{Banner, E, Refill, object_href, pct, see_other, tlp_badge},
    page, refused, reshow,
    session::Signed,
    typed,
};
use crate::{
    coalition::Collection,
    publish::{PublishError, PublishLimits},
    services::{
        ServiceError,
        assist::term,
        coordview::coord_view,
        incident,
        member::{MemberService, s},
        workflow,
    },
    taxii::AppState,
};

/// The coordination pages' stylesheet (linked from their bodies; the CSP allows only
/// same-origin styles).
pub const CSS: &str = include_str!("coord.css");

/// Longest name accepted in a form.
pub(super) const MAX_NAME: usize = 256;
/// Longest free text accepted in a form.
pub(super) const MAX_TEXT: usize = 4000;

pub(super) use super::pages::{
    bad_request, failed, object_missing as missing, producer_name as producer, q, query,
};

/// `GET /ui/static/coord.css`.
pub(super) async fn stylesheet() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        CSS,
    )
        .into_response()
}

/// The link to the stylesheet, first in every coordination page's body.
pub(super) const CSS_LINK: &str = "<link rel=\"stylesheet\" href=\"/ui/static/coord.css\">";

// ---------------------------------------------------------------------------------------------
// Shared helpers of the coordination pages

/// The signed-in member as a service.
#[allow(clippy::result_large_err)]
pub(super) fn member(state: &AppState, signed: &Signed) -> Result<MemberService, Response> {
    MemberService::new(
        state.store.clone(),
        state.coalition.clone(),
        signed.principal().clone(),
        PublishLimits::transient(),
    )
    .map_err(|e| failed(&e))
}

/// A service error as the answer to a form: hidden or missing → 404, not the member's to take
/// → 403 with why, a mistake in the form or a step the object's state does not allow → 400
/// with why, anything else → 500.
pub(super) fn step_error(signed: &Signed, e: &ServiceError) -> Response {
    match e {
        ServiceError::NotFound(_) => missing(signed),
        ServiceError::Forbidden(why) => {
            refused(&format!("The workflow does not allow this: {why}."))
        }
        ServiceError::Publish(PublishError::Forbidden { .. }) => refused(
            "The workflow does not allow this: your member may not write to that collection.",
        ),
        ServiceError::Publish(PublishError::Refused(_)) => refused(&format!(
            "The node refused the step (nothing was stored): {e}"
        )),
        ServiceError::Usage(_)
        | ServiceError::Workflow(_)
        | ServiceError::Build(_)
        | ServiceError::Read(_) => bad_request(&format!("{e}")),
        _ => failed(e),
    }
}

/// The TLP of an object as shown (unmarked: the node's default).
pub(super) fn tlp_of(state: &AppState, o: &Value) -> TlpLevel {
    stix::tlp::effective_tlp_of(o).unwrap_or(state.coalition.default_tlp)
}

/// What a page shows: the banner's level and the RED and AMBER+STRICT ids to record.
#[derive(Default)]
pub(super) struct Shown {
    pub(super) banner: Banner,
    red: Vec<String>,
    strict: Vec<String>,
}

impl Shown {
    /// Notes an object shown; returns its TLP.
    pub(super) fn see(&mut self, state: &AppState, o: &Value) -> TlpLevel {
        let t = tlp_of(state, o);
        self.banner.see(t);
        let id = s(o, "id").to_owned();
        match t {
            TlpLevel::Red => self.red.push(id),
            TlpLevel::AmberStrict => self.strict.push(id),
            _ => {}
        }
        t
    }

    /// Records the reads of RED and AMBER+STRICT objects (`Err`: not recorded, not shown).
    pub(super) async fn audit(
        &mut self,
        state: &AppState,
        signed: &Signed,
        what: &str,
    ) -> Result<(), Response> {
        for l in [&mut self.red, &mut self.strict] {
            l.sort();
            l.dedup();
        }
        let red: Vec<&str> = self.red.iter().map(String::as_str).collect();
        let strict: Vec<&str> = self.strict.iter().map(String::as_str).collect();
        audit_read(state, signed.principal(), what, &red, &strict).await
    }
}

/// An object's name for a page.
pub(super) fn name_of(o: &Value) -> String {
    for k in ["name", "title", "value", "url"] {
        if let Some(v) = o.get(k).and_then(Value::as_str)
            && !v.is_empty()
        {
            return v.to_owned();
        }
    }
    s(o, "id").to_owned()
}

/// The console link to an object (incidents to their incident page).
pub(super) fn href(o: &Value) -> String {
    let id = s(o, "id");
    match s(o, "type") {
        "incident" => format!("/ui/incidents/{}", pct(id)),
        "assistance-request" => format!("/ui/assist/{}", pct(id)),
        _ => object_href(id),
    }
}

/// `<a href=…>name</a>` for an object.
pub(super) fn link(o: &Value) -> String {
    format!("<a href=\"{}\">{}</a>", E(&href(o)), E(&name_of(o)))
}

/// A form field: trimmed, refused when longer than `max` characters.
pub(super) fn field<'a>(
    f: &'a HashMap<String, String>,
    k: &str,
    label: &str,
    max: usize,
) -> Result<&'a str, String> {
    let v = f.get(k).map(|v| v.trim()).unwrap_or("");
    if v.chars().count() > max {
        return Err(format!("{label} is longer than {max} characters."));
    }
    Ok(v)
}

/// An optional field: `None` when empty.
pub(super) fn opt(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_owned())
}

/// An optional 0–100 number.
pub(super) fn percent(v: &str, label: &str) -> Result<Option<u8>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<u8>() {
        Ok(n) if n <= 100 => Ok(Some(n)),
        _ => Err(format!("{label} must be a whole number from 0 to 100.")),
    }
}

/// An optional time: `YYYY-MM-DDTHH:MM` (a `datetime-local` input, taken as UTC) or RFC 3339.
pub(super) fn when(v: &str, label: &str) -> Result<Option<stix::Timestamp>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    let full = if v.len() == 16 {
        format!("{v}:00Z")
    } else if v.len() == 19 && !v.ends_with('Z') {
        format!("{v}Z")
    } else {
        v.to_owned()
    };
    stix::Timestamp::parse(&full)
        .map(Some)
        .map_err(|_| format!("{label} is not a date and time (YYYY-MM-DDTHH:MM, UTC)."))
}

/// The marking of a TLP choice (default AMBER).
pub(super) fn marking(v: &str) -> Result<&'static str, String> {
    if v.is_empty() {
        return Ok(TlpLevel::Amber.marking_id());
    }
    TlpLevel::parse(v)
        .map(TlpLevel::marking_id)
        .ok_or_else(|| format!("`{v}` is not a TLP level."))
}

/// A `<select>` with a label; `options` are (value, label).
pub(super) fn select(
    name: &str,
    id: &str,
    label: &str,
    current: &str,
    options: &[(String, String)],
    any: Option<&str>,
) -> String {
    let mut o = format!(
        "<label for=\"{id}\">{}<select id=\"{id}\" name=\"{name}\">",
        E(label)
    );
    if let Some(a) = any {
        let _ = write!(o, "<option value=\"\">{}</option>", E(a));
    }
    for (v, l) in options {
        let sel = if v == current { " selected" } else { "" };
        let _ = write!(o, "<option value=\"{}\"{sel}>{}</option>", E(v), E(l));
    }
    o.push_str("</select></label>");
    o
}

pub(super) fn opts(v: &[&str]) -> Vec<(String, String)> {
    v.iter()
        .map(|x| ((*x).to_owned(), (*x).to_owned()))
        .collect()
}

/// The TLP choice of a form (AMBER selected).
pub(super) fn tlp_select(id: &str) -> String {
    let options: Vec<(String, String)> = TlpLevel::ALL
        .iter()
        .map(|l| (l.value().to_owned(), l.name().to_owned()))
        .collect();
    select("tlp", id, "TLP of what you write", "amber", &options, None)
}

/// The collection choice of a form: the collections the member may write.
pub(super) fn collection_select(id: &str, colls: &[Collection], current: &str) -> String {
    let options: Vec<(String, String)> = colls
        .iter()
        .map(|c| (c.id.clone(), c.title.clone()))
        .collect();
    select("collection", id, "Collection", current, &options, None)
}

/// The writable collection a form names.
pub(super) fn chosen_collection(m: &MemberService, v: &str) -> Result<Collection, String> {
    let w = workflow::writable(m);
    if v.is_empty() {
        return w
            .into_iter()
            .next()
            .ok_or_else(|| "Your member may write to no collection.".to_owned());
    }
    w.into_iter()
        .find(|c| c.id == v || c.alias.as_deref() == Some(v))
        .ok_or_else(|| "Your member may not write to that collection.".to_owned())
}

/// A 0–100 value as a small bar (for criticality, priority).
pub(super) fn meter(v: Option<u8>) -> String {
    match v {
        Some(n) => {
            let band = match n {
                0..=24 => "low",
                25..=49 => "medium",
                50..=74 => "high",
                _ => "critical",
            };
            format!(
                "<span class=\"meter m-{band}\" title=\"{n} of 100\"><span class=\"m{}\"></span></span> {n}",
                (n / 10).min(10)
            )
        }
        None => "—".to_owned(),
    }
}

/// Whether a string has the shape of a STIX id.
pub(super) fn looks_like_id(s: &str) -> bool {
    s.len() <= 200
        && s.split_once("--").is_some_and(|(t, u)| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && u.len() == 36
                && uuid::Uuid::parse_str(u).is_ok()
        })
}

// ---------------------------------------------------------------------------------------------
// The incident list

const STATUSES: &[&str] = &["new", "open", "closed"];
const DETERMINATIONS: &[&str] = &[
    "suspected",
    "confirmed",
    "false-positive",
    "blocked",
    "failed-attempt",
    "low-value",
];

/// `GET /ui/incidents?sector=&country=&criticality=&status=&kind=`.
pub(super) async fn incidents(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    let qs = match query(raw) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let min_crit: Option<u8> = match q(&qs, "criticality") {
        "" => None,
        v => match v.parse::<u8>() {
            Ok(n) if n <= 100 => Some(n),
            _ => return bad_request("criticality is a number from 0 to 100."),
        },
    };
    let view = match coord_view(&m, &state.console.coord, &m.readable()).await {
        Ok(v) => v,
        Err(e) => return failed(&e),
    };
    let all = view.incident_rows();
    let (sector, country, status, kind) = (
        q(&qs, "sector"),
        q(&qs, "country"),
        q(&qs, "status"),
        q(&qs, "kind"),
    );
    let rows: Vec<&incident::Row> = all
        .iter()
        .filter(|r| sector.is_empty() || r.sectors.iter().any(|x| x == sector))
        .filter(|r| country.is_empty() || r.countries.iter().any(|x| x == country))
        .filter(|r| status.is_empty() || r.status == status)
        .filter(|r| min_crit.is_none_or(|c| r.criticality.is_some_and(|x| x >= c)))
        .filter(|r| match kind {
            "fimi" => r.fimi,
            "cyber" => !r.fimi,
            _ => true,
        })
        .collect();
    let mut shown = Shown::default();
    let values = |f: fn(&incident::Row) -> Vec<String>| {
        let mut v: Vec<String> = all.iter().flat_map(f).collect();
        v.sort();
        v.dedup();
        opts(&v.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let sectors = values(|r| r.sectors.clone());
    let countries = values(|r| r.countries.clone());
    let mut statuses = values(|r| vec![r.status.clone()]);
    for st in STATUSES {
        if !statuses.iter().any(|(v, _)| v == st) {
            statuses.push(((*st).to_owned(), (*st).to_owned()));
        }
    }
    let mut b = String::from(CSS_LINK);
    let title = if kind == "fimi" {
        "FIMI incidents"
    } else {
        "Incidents on critical infrastructure"
    };
    let _ = write!(b, "<h1>{}</h1>", E(title));
    if workflow::may_write_somewhere(&m) {
        b.push_str("<p><a class=\"button\" href=\"/ui/incidents/new\">Report an incident</a></p>");
    }
    let _ = write!(
        b,
        "<form class=\"filters\" method=\"get\" action=\"/ui/incidents\">{}{}{}{}{}<button type=\"submit\">Filter</button></form>",
        select(
            "sector",
            "f-sector",
            "Sector",
            sector,
            &sectors,
            Some("any")
        ),
        select(
            "country",
            "f-country",
            "Country",
            country,
            &countries,
            Some("any")
        ),
        select(
            "criticality",
            "f-crit",
            "Criticality at least",
            q(&qs, "criticality"),
            &opts(&["25", "50", "75", "90"]),
            Some("any")
        ),
        select(
            "status",
            "f-status",
            "Status",
            status,
            &statuses,
            Some("any")
        ),
        select(
            "kind",
            "f-kind",
            "Kind",
            kind,
            &[
                ("cyber".into(), "cyber incidents".into()),
                ("fimi".into(), "FIMI incidents".into())
            ],
            Some("all")
        ),
    );
    let _ = write!(
        b,
        "<p class=\"note\">{} of the {} incidents {} may see.</p>",
        rows.len(),
        all.len(),
        E(&state
            .coalition
            .members
            .get(&m.principal.member)
            .map_or(m.principal.member.clone(), |x| x.name.clone()))
    );
    if rows.is_empty() {
        b.push_str("<p>No incident matches.</p>");
    } else {
        b.push_str(
            "<table class=\"incidents\"><thead><tr><th scope=\"col\">Incident</th><th scope=\"col\">TLP</th>\
<th scope=\"col\">Sector</th><th scope=\"col\">Country</th><th scope=\"col\">Criticality</th>\
<th scope=\"col\">Status</th><th scope=\"col\">Determination</th><th scope=\"col\">Reported by</th>\
<th scope=\"col\">Updated</th></tr></thead><tbody>",
        );
        for r in &rows {
            let Some(o) = view.get(&r.id) else {
                continue;
            };
            let t = shown.see(&state, o);
            let _ = write!(
                b,
                "<tr><td><a href=\"/ui/incidents/{}\">{}</a>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
<td><span class=\"status st-{}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                E(&pct(&r.id)),
                E(&r.name),
                if r.fimi {
                    " <span class=\"type\">FIMI</span>"
                } else {
                    ""
                },
                if r.victims.is_empty() {
                    String::new()
                } else {
                    format!(
                        "<br><span class=\"note\">{}</span>",
                        E(&r.victims.join(", "))
                    )
                },
                tlp_badge(t),
                E(&r.sectors.join(", ")),
                E(&r.countries.join(", ")),
                meter(r.criticality),
                E(&r.status),
                E(&r.status),
                E(&r.determination),
                E(&producer(&state, o)),
                E(r.modified.get(..10).unwrap_or(&r.modified)),
            );
        }
        b.push_str("</tbody></table>");
    }
    if m.principal.role == crate::config::Role::Admin {
        b.push_str("<p class=\"note\">Node administration: <a href=\"/ui/federation\">federation status</a>.</p>");
    }
    if let Err(r) = shown.audit(&state, &signed, "incidents").await {
        return r;
    }
    page(&signed, "incidents", title, shown.banner, &b)
}

// ---------------------------------------------------------------------------------------------
// One incident

fn core_of(o: &Value) -> Option<&Value> {
    o.pointer(&format!("/extensions/{}", coord::ext::INCIDENT_CORE))
}

fn time_of(o: &Value) -> String {
    for k in ["start_time", "first_seen", "created"] {
        let v = s(o, k);
        if !v.is_empty() {
            return v.to_owned();
        }
    }
    String::new()
}

fn short_time(t: &str) -> String {
    t.get(..16).map(|x| x.replace('T', " ")).unwrap_or_default()
}

fn impact_text(i: &Value) -> String {
    let cat = s(i, "impact_category");
    // The category's detail lives in the impact's extension for that category.
    let mut detail = Vec::new();
    if let Some(exts) = i.get("extensions").and_then(Value::as_object) {
        for ext in exts.values().filter_map(Value::as_object) {
            for k in [
                "availability_impact",
                "impact_type",
                "loss_type",
                "alteration",
                "asset_type",
                "variety",
                "information_type",
            ] {
                if let Some(v) = ext.get(k) {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    detail.push(if k == "availability_impact" {
                        format!("{v}% of availability lost")
                    } else {
                        v.replace('-', " ")
                    });
                }
            }
        }
    }
    if detail.is_empty() {
        format!("{cat} impact")
    } else {
        format!("{cat} impact: {}", detail.join(", "))
    }
}

/// `GET /ui/incidents/{id}`.
pub(super) async fn incident_page(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if !looks_like_id(&id) || !id.starts_with("incident--") {
        return missing(&signed);
    }
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let (current, coll) = match m.find(&id).await {
        Ok(x) => x,
        Err(ServiceError::NotFound(_)) => return missing(&signed),
        Err(e) => return failed(&e),
    };
    if s(&current, "type") != "incident" {
        return missing(&signed);
    }
    let view = match coord_view(&m, &state.console.coord, &m.readable()).await {
        Ok(v) => v,
        Err(e) => return failed(&e),
    };
    // The other ends of its links of other types (indicators, reports, …), read by id, all at
    // once (in the order of the links).
    let mut others: Vec<&str> = Vec::new();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for r in view.links(&id) {
        let other = if s(r, "source_ref") == id {
            s(r, "target_ref")
        } else {
            s(r, "source_ref")
        };
        if view.get(other).is_none() && seen.insert(other) {
            others.push(other);
        }
    }
    let mut found = match m.find_many(&others).await {
        Ok(f) => f,
        Err(e) => return failed(&e),
    };
    let extra: Vec<Value> = others
        .iter()
        .filter_map(|o| found.remove(*o).map(|(v, _)| v))
        .collect();
    let Some(v) = incident::view_in(&id, &view, &extra) else {
        return missing(&signed);
    };
    let may = workflow::may_version(&m, &v.incident, &coll);
    let mut shown = Shown::default();
    let inc = &v.incident;
    let t = shown.see(&state, inc);
    let core = core_of(inc);
    let cs = |k: &str| {
        core.and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .unwrap_or("—")
            .to_owned()
    };
    let mut b = String::from(CSS_LINK);
    let _ = write!(
        b,
        "<p class=\"crumbs\"><a href=\"/ui/incidents\">Incidents</a> ›</p><h1>{} {}</h1>",
        E(&name_of(inc)),
        tlp_badge(t)
    );
    if let Some(d) = inc.get("description").and_then(Value::as_str) {
        let _ = write!(b, "<p class=\"lead\">{}</p>", E(d));
    }
    let _ = write!(
        b,
        "<div class=\"facts\"><div><span>Status</span><strong class=\"status st-{}\">{}</strong></div>\
<div><span>Determination</span><strong>{}</strong></div><div><span>Criticality</span><strong>{}</strong></div>\
<div><span>Reported by</span><strong>{}</strong></div><div><span>Sectors</span><strong>{}</strong></div>\
<div><span>Countries</span><strong>{}</strong></div></div>\
<p class=\"note\">Version of {} in {} · <a href=\"{}\">the STIX object, its versions and relationships</a></p>",
        E(&cs("investigation_status")),
        E(&cs("investigation_status")),
        E(&cs("determination")),
        meter(v.row.criticality),
        E(&producer(&state, inc)),
        E(&if v.row.sectors.is_empty() {
            "—".into()
        } else {
            v.row.sectors.join(", ")
        }),
        E(&if v.row.countries.is_empty() {
            "—".into()
        } else {
            v.row.countries.join(", ")
        }),
        E(&short_time(s(inc, "modified"))),
        E(&coll.title),
        E(&object_href(&id))
    );
    // Victims.
    b.push_str("<h2>Victims</h2>");
    if v.victims.is_empty() {
        b.push_str("<p>No victim you may see is named.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Victim</th><th scope=\"col\">TLP</th><th scope=\"col\">NIS2 sector</th>\
<th scope=\"col\">Subsector</th><th scope=\"col\">Entity</th><th scope=\"col\">STIX sectors</th><th scope=\"col\">Country</th></tr></thead><tbody>");
        for victim in &v.victims {
            let vt = shown.see(&state, victim);
            let ci = victim.pointer(&format!("/extensions/{}", coord::ext::CI_ENTITY));
            let c = |k: &str| {
                ci.and_then(|x| x.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("—")
                    .to_owned()
            };
            let sectors: Vec<&str> = victim
                .get("sectors")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                link(victim),
                tlp_badge(vt),
                E(&c("nis2_sector")),
                E(&c("nis2_subsector")),
                E(&c("nis2_entity_class")),
                E(&sectors.join(", ")),
                E(&c("country"))
            );
        }
        b.push_str("</tbody></table>");
    }
    // The timeline: events, impacts and tasks in time order.
    let mut items: Vec<(String, &str, &Value, String)> = Vec::new();
    let names: HashMap<String, String> = v
        .events
        .iter()
        .chain(v.tasks.iter())
        .map(|(o, _, _)| (s(o, "id").to_owned(), name_of(o)))
        .collect();
    for (o, start, next) in &v.events {
        let mut extra = if *start {
            String::new()
        } else {
            "follows an earlier event".to_owned()
        };
        if !next.is_empty() {
            let n: Vec<String> = next.iter().filter_map(|x| names.get(x).cloned()).collect();
            if !extra.is_empty() {
                extra.push_str("; ");
            }
            let _ = write!(extra, "then: {}", n.join(", "));
        }
        items.push((time_of(o), "event", o, extra));
    }
    for o in &v.impacts {
        items.push((time_of(o), "impact", o, String::new()));
    }
    for (o, _, next) in &v.tasks {
        let n: Vec<String> = next.iter().filter_map(|x| names.get(x).cloned()).collect();
        let extra = if n.is_empty() {
            String::new()
        } else {
            format!("then: {}", n.join(", "))
        };
        items.push((time_of(o), "task", o, extra));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    b.push_str("<h2>Timeline</h2>");
    if items.is_empty() {
        b.push_str("<p>No event, impact or task you may see yet.</p>");
    } else {
        b.push_str("<ol class=\"timeline\">");
        for (when, kind, o, extra) in &items {
            let ot = shown.see(&state, o);
            let (label, state_word) = match *kind {
                "event" => (name_of(o), s(o, "status").to_owned()),
                "task" => (name_of(o), s(o, "outcome").to_owned()),
                _ => (impact_text(o), String::new()),
            };
            let label = if s(o, "name").is_empty() && *kind != "impact" {
                format!("({kind} without a name)")
            } else {
                label
            };
            let _ = write!(
                b,
                "<li class=\"tl-{kind}\"><time>{}</time><span class=\"kind\">{kind}</span> \
<a href=\"{}\">{}</a> {}{}{}{}</li>",
                E(&short_time(when)),
                E(&object_href(s(o, "id"))),
                E(&label),
                if state_word.is_empty() {
                    String::new()
                } else {
                    format!("<span class=\"status st-{0}\">{0}</span> ", E(&state_word))
                },
                tlp_badge(ot),
                o.get("criticality")
                    .and_then(Value::as_u64)
                    .map(|c| format!(" <span class=\"note\">criticality {c}</span>"))
                    .unwrap_or_default(),
                if extra.is_empty() {
                    String::new()
                } else {
                    format!(" <span class=\"note\">{}</span>", E(extra))
                },
            );
        }
        b.push_str("</ol>");
    }
    // Linked threat objects and FIMI activity.
    let groups: &[(&str, &str)] = &[
        ("intrusion-set", "Intrusion sets"),
        ("threat-actor", "Threat actors"),
        ("campaign", "Campaigns"),
        ("malware", "Malware"),
        ("indicator", "Indicators"),
        ("attack-pattern", "Techniques (ATT&CK and DISARM)"),
        ("narrative", "Narratives"),
        ("channel", "Channels"),
        ("media-content", "Media content"),
        ("incident", "Linked incidents"),
        ("assistance-request", "Requests for assistance"),
        ("report", "Reports"),
    ];
    let fimi = inc
        .pointer(&format!("/extensions/{}", coord::ext::FIMI_INCIDENT))
        .cloned();
    if let Some(f) = &fimi {
        let _ = write!(
            b,
            "<h2>FIMI activity</h2><p>Domain <strong>{}</strong>{}{}.</p>",
            E(s(f, "incident_domain")),
            match s(f, "fimi_actor_attribution") {
                "" => String::new(),
                a => format!(", attribution <strong>{}</strong>", E(a)),
            },
            match s(f, "disarm_framework_version") {
                "" => String::new(),
                d => format!(", DISARM {}", E(d)),
            }
        );
    }
    b.push_str("<h2>Linked objects</h2>");
    let mut any = false;
    for (t, title) in groups {
        let linked = v.linked(t);
        if linked.is_empty() {
            continue;
        }
        any = true;
        let _ = write!(b, "<h3>{}</h3><ul class=\"linked\">", E(title));
        for (r, o) in linked {
            let ot = shown.see(&state, o);
            shown.see(&state, r);
            let dir = if s(r, "source_ref") == id { "" } else { "← " };
            let disarm = o
                .get("external_references")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|x| s(x, "source_name") == "DISARM"))
                .map(|x| s(x, "external_id").to_owned());
            let extra = match (&disarm, *t) {
                (Some(d), _) => format!(
                    " <a class=\"type\" href=\"/ui/disarm/{}\">{}</a>",
                    E(&pct(d)),
                    E(d)
                ),
                (None, "channel") => format!(
                    " <span class=\"note\">{}</span>",
                    E(o.get("channel_types")
                        .and_then(Value::as_array)
                        .and_then(|a| a.first())
                        .and_then(Value::as_str)
                        .unwrap_or(""))
                ),
                (None, "media-content") => format!(
                    " <span class=\"note\">{}</span>",
                    E(o.get("content").and_then(Value::as_str).unwrap_or(""))
                ),
                (None, "indicator") => format!(
                    " <code>{}</code>",
                    E(o.get("pattern").and_then(Value::as_str).unwrap_or(""))
                ),
                _ => String::new(),
            };
            let _ = write!(
                b,
                "<li><span class=\"rel\">{dir}{}</span> {}{extra} {}</li>",
                E(s(r, "relationship_type")),
                link(o),
                tlp_badge(ot)
            );
        }
        b.push_str("</ul>");
    }
    if !any {
        b.push_str("<p>Nothing you may see is linked to this incident.</p>");
    }
    // The workflow's forms.
    b.push_str("<h2 id=\"steps\">Workflow</h2>");
    match may {
        Ok(()) => b.push_str(&step_forms(&signed, &id, &v)),
        Err(ServiceError::Forbidden(why)) => {
            let _ = write!(
                b,
                "<p class=\"note\">You take no step on this incident: {}.</p>",
                E(&why)
            );
        }
        Err(e) => return failed(&e),
    }
    // Any member that may write somewhere may ask for help with an incident it sees.
    if workflow::may_write_somewhere(&m) {
        let _ = write!(
            b,
            "<p><a class=\"button\" href=\"/ui/assist/new?incident={}\">Request assistance for this incident</a></p>",
            E(&pct(&id))
        );
    }
    if let Err(r) = shown
        .audit(&state, &signed, &format!("incident:{id}"))
        .await
    {
        return r;
    }
    page(&signed, "incidents", &name_of(inc), shown.banner, &b)
}

fn step_forms(signed: &Signed, id: &str, v: &incident::View) -> String {
    let action = |step: &str| format!("/ui/incidents/{}/{step}", pct(id));
    let core = core_of(&v.incident);
    let cur = |k: &str| {
        core.and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let mut statuses = opts(STATUSES);
    let st = cur("investigation_status");
    if !st.is_empty() && !STATUSES.contains(&st.as_str()) {
        statuses.push((st.clone(), st.clone()));
    }
    let events: Vec<(String, String)> = v
        .events
        .iter()
        .map(|(o, _, _)| (s(o, "id").to_owned(), name_of(o)))
        .collect();
    let tasks: Vec<(String, String)> = v
        .tasks
        .iter()
        .map(|(o, _, _)| (s(o, "id").to_owned(), name_of(o)))
        .collect();
    let csrf = csrf_field(signed);
    let mut o = String::from("<div class=\"forms\">");
    let _ = write!(
        o,
        "<form class=\"step\" method=\"post\" action=\"{}\"><h3>Status</h3>{csrf}{}{}\
<label for=\"u-crit\">Criticality (0–100)<input id=\"u-crit\" name=\"criticality\" type=\"number\" min=\"0\" max=\"100\" value=\"{}\"></label>\
<button type=\"submit\">Update the incident</button></form>",
        E(&action("update")),
        select(
            "status",
            "u-status",
            "Investigation status",
            &st,
            &statuses,
            None
        ),
        select(
            "determination",
            "u-det",
            "Determination",
            &cur("determination"),
            &opts(DETERMINATIONS),
            None
        ),
        v.row.criticality.map(|c| c.to_string()).unwrap_or_default()
    );
    let _ = write!(
        o,
        "<form class=\"step\" method=\"post\" action=\"{}\"><h3>Add an event</h3>{csrf}\
<label for=\"e-name\">What happened<input id=\"e-name\" name=\"name\" required maxlength=\"{MAX_NAME}\"></label>{}\
<label for=\"e-type\">Event type<input id=\"e-type\" name=\"type\" maxlength=\"64\" placeholder=\"e.g. phishing\"></label>\
<label for=\"e-start\">Started (UTC)<input id=\"e-start\" name=\"start\" type=\"datetime-local\"></label>{}\
<label for=\"e-desc\">Description<textarea id=\"e-desc\" name=\"description\" maxlength=\"{MAX_TEXT}\" rows=\"2\"></textarea></label>{}\
<button type=\"submit\">Add the event</button></form>",
        E(&action("event")),
        select(
            "status",
            "e-status",
            "Status",
            "occurred",
            &opts(&[
                "occurred",
                "ongoing",
                "pending",
                "not-occurred",
                "undetermined"
            ]),
            None
        ),
        select(
            "after",
            "e-after",
            "After event",
            "",
            &events,
            Some("(starts a sequence)")
        ),
        tlp_select("e-tlp")
    );
    let _ = write!(
        o,
        "<form class=\"step\" method=\"post\" action=\"{}\"><h3>Add an impact</h3>{csrf}{}\
<label for=\"i-av\">Availability lost (0–100, availability)<input id=\"i-av\" name=\"availability\" type=\"number\" min=\"0\" max=\"100\"></label>\
<label for=\"i-it\">Impact type (external: e.g. public-safety; physical: e.g. damaged-functional)<input id=\"i-it\" name=\"impact_type\" maxlength=\"64\"></label>\
<label for=\"i-lt\">Loss type (confidentiality)<input id=\"i-lt\" name=\"loss_type\" maxlength=\"64\" placeholder=\"e.g. suspected-loss\"></label>\
<label for=\"i-al\">Alteration (integrity)<input id=\"i-al\" name=\"alteration\" maxlength=\"64\" placeholder=\"e.g. partial-modification\"></label>\
<label for=\"i-asset\">Asset type (physical; needed unless the impact type is none)<input id=\"i-asset\" name=\"asset_type\" maxlength=\"64\" placeholder=\"e.g. ics\"></label>\
<label for=\"i-var\">Variety (monetary)<input id=\"i-var\" name=\"variety\" maxlength=\"64\"></label>\
<label for=\"i-crit\">Criticality (0–100)<input id=\"i-crit\" name=\"criticality\" type=\"number\" min=\"0\" max=\"100\"></label>\
<label for=\"i-desc\">Description<textarea id=\"i-desc\" name=\"description\" maxlength=\"{MAX_TEXT}\" rows=\"2\"></textarea></label>{}\
<button type=\"submit\">Add the impact</button></form>",
        E(&action("impact")),
        select(
            "category",
            "i-cat",
            "Category",
            "availability",
            &opts(&[
                "availability",
                "confidentiality",
                "external",
                "integrity",
                "monetary",
                "physical"
            ]),
            None
        ),
        tlp_select("i-tlp")
    );
    let _ = write!(
        o,
        "<form class=\"step\" method=\"post\" action=\"{}\"><h3>Add a task</h3>{csrf}\
<label for=\"t-name\">What the defenders do<input id=\"t-name\" name=\"name\" required maxlength=\"{MAX_NAME}\"></label>{}\
<label for=\"t-type\">Task type<input id=\"t-type\" name=\"type\" maxlength=\"64\" placeholder=\"e.g. containment\"></label>\
<label for=\"t-prio\">Priority (0–100)<input id=\"t-prio\" name=\"priority\" type=\"number\" min=\"0\" max=\"100\"></label>{}{}\
<button type=\"submit\">Add the task</button></form>",
        E(&action("task")),
        select(
            "outcome",
            "t-outcome",
            "Outcome",
            "pending",
            &opts(&[
                "pending",
                "ongoing",
                "successful",
                "failed",
                "cancelled",
                "unknown"
            ]),
            None
        ),
        select(
            "after",
            "t-after",
            "After task",
            "",
            &tasks,
            Some("(starts a sequence)")
        ),
        tlp_select("t-tlp")
    );
    o.push_str("</div>");
    o
}

/// A vocabulary term from a form (kebab-case), refused when not one.
fn vocab<T: serde::de::DeserializeOwned>(what: &str, v: &str) -> Result<T, String> {
    term::<T>(what, v).map_err(|_| format!("{what}: `{v}` is not a known value."))
}

/// A slug for an open vocabulary (`event-type-ov`, …): lower case, digits and hyphens.
fn slug(v: &str, what: &str) -> Result<Vec<String>, String> {
    if v.is_empty() {
        return Ok(Vec::new());
    }
    if v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(vec![v.to_owned()])
    } else {
        Err(format!(
            "{what}: use lower-case letters, digits and hyphens (e.g. `phishing`)."
        ))
    }
}

/// A mistake in a form: the field at fault (its `name`), when known, and why.
pub(super) type Mistake = (Option<&'static str>, String);

/// Names the field at fault in a form's mistake.
pub(super) trait At<T> {
    fn at(self, field: &'static str) -> Result<T, Mistake>;
}

impl<T> At<T> for Result<T, String> {
    fn at(self, field: &'static str) -> Result<T, Mistake> {
        self.map_err(|why| (Some(field), why))
    }
}

fn after_id(v: &str) -> Result<Option<String>, String> {
    match v {
        "" => Ok(None),
        x if looks_like_id(x) => Ok(Some(x.to_owned())),
        _ => Err("`after` is not an id.".into()),
    }
}

fn impact_detail(f: &HashMap<String, String>) -> Result<ImpactDetail, Mistake> {
    let g = |k: &'static str| field(f, k, k, 64).at(k);
    let need = |k: &'static str, cat: &str| -> Result<String, Mistake> {
        let v = g(k)?;
        if v.is_empty() {
            Err((
                Some(k),
                format!("A {cat} impact needs `{}`.", k.replace('_', " ")),
            ))
        } else {
            Ok(v.to_owned())
        }
    };
    Ok(match g("category")? {
        "availability" => ImpactDetail::Availability {
            availability_impact: percent(g("availability")?, "Availability")
                .at("availability")?
                .ok_or("An availability impact needs the availability lost (0–100).".to_owned())
                .at("availability")?,
        },
        "external" => ImpactDetail::External {
            impact_type: slug(&need("impact_type", "external")?, "Impact type")
                .at("impact_type")?
                .remove(0),
        },
        "confidentiality" => ImpactDetail::Confidentiality {
            loss_type: vocab::<LossType>("loss type", &need("loss_type", "confidentiality")?)
                .at("loss_type")?,
            information_type: None,
            record_count: None,
            record_size: None,
        },
        "integrity" => ImpactDetail::Integrity {
            alteration: vocab::<Alteration>("alteration", &need("alteration", "integrity")?)
                .at("alteration")?,
            information_type: None,
            record_count: None,
            record_size: None,
        },
        "physical" => ImpactDetail::Physical {
            impact_type: vocab::<PhysicalImpact>("impact type", &need("impact_type", "physical")?)
                .at("impact_type")?,
            asset_type: opt(g("asset_type")?),
        },
        "monetary" => ImpactDetail::Monetary {
            variety: slug(&need("variety", "monetary")?, "Variety")
                .at("variety")?
                .remove(0),
            currency: None,
            currency_actual: None,
            conversion_rate: None,
            conversion_time: None,
            min_amount: None,
            max_amount: None,
        },
        other => {
            return Err((
                Some("category"),
                format!("`{other}` is not an impact category."),
            ));
        }
    })
}

/// `POST /ui/incidents/{id}/{step}`: `update`, `event`, `impact` or `task`.
pub(super) async fn incident_step(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let f = match check_form(&signed, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if !looks_like_id(&id) || !id.starts_with("incident--") {
        return missing(&signed);
    }
    if !matches!(step.as_str(), "update" | "event" | "impact" | "task") {
        return super::pages::not_found().await;
    }
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let (current, coll) = match m.find(&id).await {
        Ok(x) => x,
        Err(e) => return step_error(&signed, &e),
    };
    if s(&current, "type") != "incident" {
        return missing(&signed);
    }
    if let Err(e) = workflow::may_version(&m, &current, &coll) {
        return step_error(&signed, &e);
    }
    let result = match run_step(&m, &id, &step, &f).await {
        Ok(r) => r,
        Err((at, why)) => {
            let action = format!("/ui/incidents/{}/{step}", pct(&id));
            let page = incident_page(State(state), signed, Path(id)).await;
            return reshow(
                page,
                &Refill {
                    action: &action,
                    typed: typed(&body),
                    field: at,
                    message: &why,
                },
            )
            .await;
        }
    };
    match result {
        Ok(_) => see_other(&format!("/ui/incidents/{}#steps", pct(&id))),
        Err(e) => step_error(&signed, &e),
    }
}

async fn run_step(
    m: &MemberService,
    id: &str,
    step: &str,
    f: &HashMap<String, String>,
) -> Result<Result<crate::services::assist::Written, ServiceError>, Mistake> {
    let mark = field(f, "tlp", "TLP", 32).and_then(marking).at("tlp")?;
    Ok(match step {
        "update" => {
            let st = field(f, "status", "Status", 64).at("status")?;
            let det = field(f, "determination", "Determination", 64).at("determination")?;
            let u = incident::Update {
                determination: if det.is_empty() {
                    None
                } else {
                    Some(vocab::<Determination>("determination", det).at("determination")?)
                },
                status: if st.is_empty() {
                    None
                } else {
                    Some(slug(st, "Status").at("status")?.remove(0))
                },
                criticality: field(f, "criticality", "Criticality", 8)
                    .and_then(|v| percent(v, "Criticality"))
                    .at("criticality")?,
            };
            incident::update(m, id, &u).await
        }
        "event" => {
            let name = field(f, "name", "The event's name", MAX_NAME).at("name")?;
            if name.is_empty() {
                return Err((Some("name"), "Say what happened (the event's name).".into()));
            }
            let mut e = Event::new(
                field(f, "status", "Status", 64)
                    .and_then(|v| vocab::<EventStatus>("status", v))
                    .at("status")?,
            );
            e.name = opt(name);
            e.description =
                opt(field(f, "description", "The description", MAX_TEXT).at("description")?);
            e.event_types = field(f, "type", "Event type", 64)
                .and_then(|v| slug(v, "Event type"))
                .at("type")?;
            e.start_time = field(f, "start", "Start", 40)
                .and_then(|v| when(v, "Start"))
                .at("start")?;
            let after = field(f, "after", "After", 200)
                .and_then(after_id)
                .at("after")?;
            incident::add_event(m, id, mark, e, after.as_deref()).await
        }
        "impact" => {
            let mut i = Impact::new(impact_detail(f)?);
            i.criticality = field(f, "criticality", "Criticality", 8)
                .and_then(|v| percent(v, "Criticality"))
                .at("criticality")?;
            i.description =
                opt(field(f, "description", "The description", MAX_TEXT).at("description")?);
            incident::add_impact(m, id, mark, i).await
        }
        _ => {
            let name = field(f, "name", "The task's name", MAX_NAME).at("name")?;
            if name.is_empty() {
                return Err((
                    Some("name"),
                    "Say what the defenders do (the task's name).".into(),
                ));
            }
            let mut t = Task::new(
                field(f, "outcome", "Outcome", 64)
                    .and_then(|v| vocab::<TaskOutcome>("outcome", v))
                    .at("outcome")?,
            );
            t.name = opt(name);
            t.task_types = field(f, "type", "Task type", 64)
                .and_then(|v| slug(v, "Task type"))
                .at("type")?;
            t.priority = field(f, "priority", "Priority", 8)
                .and_then(|v| percent(v, "Priority"))
                .at("priority")?;
            let after = field(f, "after", "After", 200)
                .and_then(after_id)
                .at("after")?;
            incident::add_task(m, id, mark, t, after.as_deref()).await
        }
    })
}

// ---------------------------------------------------------------------------------------------
// A new incident

const SECTORS: &[&str] = &[
    "energy",
    "utilities",
    "water",
    "healthcare",
    "transportation",
    "telecommunications",
    "financial-services",
    "government-national",
    "government-local",
    "defense",
    "manufacturing",
    "technology",
];
pub(super) const NIS2: &[&str] = &[
    "energy",
    "transport",
    "banking",
    "financial-market-infrastructures",
    "health",
    "drinking-water",
    "waste-water",
    "digital-infrastructure",
    "ict-service-management",
    "public-administration",
    "space",
];

/// `GET /ui/incidents/new`.
pub(super) async fn new_incident_form(State(state): State<AppState>, signed: Signed) -> Response {
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if !workflow::may_write_somewhere(&m) {
        return refused(
            "The workflow does not allow this: your account may write nowhere, so it reports no incident.",
        );
    }
    let colls = workflow::writable(&m);
    let mut b = String::from(CSS_LINK);
    let _ = write!(
        b,
        "<p class=\"crumbs\"><a href=\"/ui/incidents\">Incidents</a> ›</p><h1>Report an incident</h1>\
<form class=\"step wide\" method=\"post\" action=\"/ui/incidents\">{}\
<label for=\"n-name\">Name<input id=\"n-name\" name=\"name\" required maxlength=\"{MAX_NAME}\"></label>\
<label for=\"n-desc\">Description<textarea id=\"n-desc\" name=\"description\" maxlength=\"{MAX_TEXT}\" rows=\"3\"></textarea></label>\
{}{}{}{}\
<label for=\"n-crit\">Criticality (0–100)<input id=\"n-crit\" name=\"criticality\" type=\"number\" min=\"0\" max=\"100\"></label>\
<fieldset><legend>Victim</legend>\
<label for=\"n-victim\">Organisation<input id=\"n-victim\" name=\"victim\" maxlength=\"{MAX_NAME}\"></label>{}{}\
<label for=\"n-sub\">NIS2 subsector<input id=\"n-sub\" name=\"nis2_subsector\" maxlength=\"64\" placeholder=\"e.g. energy/electricity\"></label>{}\
<label for=\"n-country\">Country (ISO 3166-1, two letters)<input id=\"n-country\" name=\"country\" maxlength=\"2\" size=\"3\"></label></fieldset>\
<button type=\"submit\">Report the incident</button></form>",
        csrf_field(&signed),
        collection_select("n-coll", &colls, ""),
        tlp_select("n-tlp"),
        select(
            "determination",
            "n-det",
            "Determination",
            "suspected",
            &opts(DETERMINATIONS),
            None
        ),
        select(
            "status",
            "n-status",
            "Investigation status",
            "new",
            &opts(STATUSES),
            None
        ),
        select(
            "sector",
            "n-sector",
            "STIX sector",
            "",
            &opts(SECTORS),
            Some("—")
        ),
        select(
            "nis2_sector",
            "n-nis2",
            "NIS2 sector",
            "",
            &opts(NIS2),
            Some("—")
        ),
        select(
            "entity_class",
            "n-class",
            "NIS2 entity class",
            "",
            &opts(&["essential", "important"]),
            Some("—")
        ),
    );
    page(
        &signed,
        "incidents",
        "Report an incident",
        Banner::default(),
        &b,
    )
}

/// `POST /ui/incidents`: a new incident through the same service as `incident new`.
pub(super) async fn new_incident(
    State(state): State<AppState>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let f = match check_form(&signed, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if !workflow::may_write_somewhere(&m) {
        return refused(
            "The workflow does not allow this: your account may write nowhere, so it reports no incident.",
        );
    }
    let parsed = (|| -> Result<(Collection, &'static str, incident::NewIncident), Mistake> {
        let coll = field(&f, "collection", "Collection", 200)
            .and_then(|v| chosen_collection(&m, v))
            .at("collection")?;
        let mark = field(&f, "tlp", "TLP", 32).and_then(marking).at("tlp")?;
        let name = field(&f, "name", "The name", MAX_NAME).at("name")?;
        if name.is_empty() {
            return Err((Some("name"), "Give the incident a name.".into()));
        }
        let mut core = IncidentCore::new();
        core.determination = field(&f, "determination", "Determination", 64)
            .and_then(|v| vocab::<Determination>("determination", v))
            .at("determination")?;
        let st = field(&f, "status", "Status", 64).at("status")?;
        core.investigation_status = if st.is_empty() {
            "new".into()
        } else {
            slug(st, "Status").at("status")?.remove(0)
        };
        core.criticality = field(&f, "criticality", "Criticality", 8)
            .and_then(|v| percent(v, "Criticality"))
            .at("criticality")?;
        let victim_name = field(&f, "victim", "The victim", MAX_NAME).at("victim")?;
        let victim = if victim_name.is_empty() {
            None
        } else {
            let country = field(&f, "country", "Country", 2).at("country")?;
            if !country.is_empty() && !country.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err((Some("country"), "Country: two letters (ISO 3166-1).".into()));
            }
            Some(Victim {
                name: victim_name.to_owned(),
                description: None,
                sectors: field(&f, "sector", "Sector", 64)
                    .and_then(|v| slug(v, "Sector"))
                    .at("sector")?,
                ci: CiEntity {
                    nis2_sector: opt(field(&f, "nis2_sector", "NIS2 sector", 64).at("nis2_sector")?),
                    nis2_subsector: opt(
                        field(&f, "nis2_subsector", "NIS2 subsector", 64).at("nis2_subsector")?
                    ),
                    nis2_entity_class: match field(&f, "entity_class", "Entity class", 16)
                        .at("entity_class")?
                    {
                        "" => None,
                        c => Some(vocab("entity class", c).at("entity_class")?),
                    },
                    country: opt(&country.to_ascii_uppercase()),
                    ..CiEntity::default()
                },
            })
        };
        Ok((
            coll,
            mark,
            incident::NewIncident {
                name: name.to_owned(),
                description: opt(
                    field(&f, "description", "The description", MAX_TEXT).at("description")?
                ),
                victim,
                victim_ids: Vec::new(),
                core,
            },
        ))
    })();
    let (coll, mark, input) = match parsed {
        Ok(x) => x,
        Err((at, why)) => {
            let page = new_incident_form(State(state), signed).await;
            return reshow(
                page,
                &Refill {
                    action: "/ui/incidents",
                    typed: typed(&body),
                    field: at,
                    message: &why,
                },
            )
            .await;
        }
    };
    match incident::new_incident(&m, &coll, mark, input).await {
        Ok(w) => see_other(&format!("/ui/incidents/{}", pct(w.id()))),
        Err(e) => step_error(&signed, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// DISARM

/// `GET /ui/disarm`: the DISARM matrix as a heat map of the techniques used.
pub(super) async fn disarm(State(state): State<AppState>, signed: Signed) -> Response {
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let mut b = String::from(CSS_LINK);
    b.push_str("<h1>Counter-FIMI: DISARM techniques used</h1>");
    let view = match coord_view(&m, &state.console.coord, &m.readable()).await {
        Ok(v) => v,
        Err(e) => return failed(&e),
    };
    let matrix = match view.matrix() {
        Ok(Some(x)) => x,
        Ok(None) => {
            b.push_str("<p>No DISARM technique is visible to your member: the framework has not been imported into a collection you may read (<code>shieldwall disarm import</code>).</p>");
            return page(&signed, "disarm", "DISARM", Banner::default(), &b);
        }
        Err(e) => return failed(&e),
    };
    let max = matrix
        .tactics
        .iter()
        .flat_map(|c| c.techniques.iter())
        .map(|t| t.uses_with_subtechniques)
        .max()
        .unwrap_or(0);
    let _ = write!(
        b,
        "<p class=\"note\">Tactics left to right in phase order; each cell is a technique, darker the more incidents and \
other objects you may see use it (or one of its sub-techniques). {} <code>uses</code> relationships counted. \
Select a technique to see who used it. <a href=\"/ui/incidents?kind=fimi\">All FIMI incidents</a>.</p>\
<div class=\"legend heat-legend\" aria-hidden=\"true\"><span class=\"h0\">unused</span><span class=\"h1\">fewer</span>\
<span class=\"h3\">more</span><span class=\"h5\">most ({max})</span></div><div class=\"matrix-wrap\"><table class=\"matrix\"><thead><tr>",
        matrix.relationships_counted
    );
    for c in &matrix.tactics {
        let _ = write!(
            b,
            "<th scope=\"col\"><span class=\"tid\">{}</span> {}<span class=\"note\"> · {}</span></th>",
            E(&c.tactic.disarm_id),
            E(&c.tactic.name),
            c.uses
        );
    }
    b.push_str("</tr></thead><tbody>");
    let rows = matrix
        .tactics
        .iter()
        .map(|c| c.techniques.len())
        .max()
        .unwrap_or(0);
    for i in 0..rows {
        b.push_str("<tr>");
        for c in &matrix.tactics {
            match c.techniques.get(i) {
                Some(t) => {
                    let n = t.uses_with_subtechniques;
                    let level = if n == 0 || max == 0 {
                        0
                    } else {
                        1 + (n * 4).div_ceil(max).min(4)
                    };
                    let _ = write!(
                        b,
                        "<td class=\"h{level}{}\"><a href=\"/ui/disarm/{}\" title=\"{} — used by {n}\">\
<span class=\"tid\">{}</span> {}{}</a></td>",
                        if t.subtechnique { " sub" } else { "" },
                        E(&pct(&t.disarm_id)),
                        E(&t.name),
                        E(&t.disarm_id),
                        E(&t.name),
                        if n > 0 {
                            format!(" <strong class=\"count\">{n}</strong>")
                        } else {
                            String::new()
                        }
                    );
                }
                None => b.push_str("<td class=\"empty\"></td>"),
            }
        }
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table></div>");
    // The framework is public (CLEAR by default); the counts come from what the member sees,
    // so the page is labelled with the most restrictive `uses` relationship counted.
    let techniques: std::collections::HashSet<&str> = matrix
        .tactics
        .iter()
        .flat_map(|c| c.techniques.iter().map(|t| t.stix_id.as_str()))
        .collect();
    let mut shown = Shown::default();
    for r in techniques
        .iter()
        .flat_map(|t| view.links(t))
        .filter(|o| s(o, "relationship_type") == "uses" && techniques.contains(s(o, "target_ref")))
    {
        shown.see(&state, r);
    }
    if let Err(r) = shown.audit(&state, &signed, "disarm").await {
        return r;
    }
    page(&signed, "disarm", "DISARM matrix", shown.banner, &b)
}

/// `GET /ui/disarm/{technique}`: what used one technique (and its sub-techniques).
pub(super) async fn disarm_technique(
    State(state): State<AppState>,
    signed: Signed,
    Path(tid): Path<String>,
) -> Response {
    if tid.len() > 64 {
        return missing(&signed);
    }
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let view = match coord_view(&m, &state.console.coord, &m.readable()).await {
        Ok(v) => v,
        Err(e) => return failed(&e),
    };
    let index = match view.disarm_index() {
        Ok(i) => i,
        Err(_) => return missing(&signed),
    };
    let Some(tech) = index.technique(&tid).cloned() else {
        return missing(&signed);
    };
    // The technique and its sub-techniques, by STIX id and by DISARM id (copies by others).
    let family: Vec<&coord::disarm::Technique> = index
        .techniques()
        .iter()
        .filter(|t| t.disarm_id == tech.disarm_id || t.parent.as_deref() == Some(&tech.disarm_id))
        .collect();
    let disarm_of = |o: &Value| -> Option<String> {
        o.get("external_references")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|x| s(x, "source_name") == "DISARM"))
            .map(|x| s(x, "external_id").to_owned())
    };
    let targets: std::collections::HashSet<String> = view
        .of_type("attack-pattern")
        .filter(|o| {
            family.iter().any(|t| t.stix_id == s(o, "id"))
                || disarm_of(o).is_some_and(|d| family.iter().any(|t| t.disarm_id == d))
        })
        .map(|o| s(o, "id").to_owned())
        .collect();
    let mut shown = Shown::default();
    let mut b = String::from(CSS_LINK);
    let _ = write!(
        b,
        "<p class=\"crumbs\"><a href=\"/ui/disarm\">DISARM matrix</a> ›</p><h1><span class=\"tid\">{}</span> {}</h1>\
<p class=\"note\">Tactic: {} · <a href=\"{}\">the technique's STIX object</a></p><h2>Used by</h2>",
        E(&tech.disarm_id),
        E(&tech.name),
        E(&tech.phases.join(", ")),
        E(&object_href(&tech.stix_id))
    );
    // Each target's links in view order, then all of them in view order (as a pass over the
    // whole view gives them).
    let mut uses: Vec<(crate::services::coordview::Place, &Value)> = Vec::new();
    let mut seen_rel = std::collections::HashSet::new();
    for t in &targets {
        for r in view.links(t) {
            if s(r, "relationship_type") == "uses"
                && targets.contains(s(r, "target_ref"))
                && r.get("revoked").and_then(Value::as_bool) != Some(true)
                && seen_rel.insert(s(r, "id"))
            {
                uses.push((
                    view.position(s(r, "id"))
                        .unwrap_or((usize::MAX, i64::MAX, i64::MAX)),
                    r,
                ));
            }
        }
    }
    uses.sort_by_key(|(i, _)| *i);
    let mut users: Vec<(&Value, &Value)> = uses
        .into_iter()
        .filter_map(|(_, r)| view.get(s(r, "source_ref")).map(|src| (r, src)))
        .collect();
    users.sort_by_key(|(_, src)| name_of(src));
    if users.is_empty() {
        b.push_str("<p>Nothing you may see uses this technique.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Used by</th><th scope=\"col\">Type</th><th scope=\"col\">Technique</th>\
<th scope=\"col\">TLP</th><th scope=\"col\">Reported by</th></tr></thead><tbody>");
        for (r, src) in users {
            shown.see(&state, r);
            let t = shown.see(&state, src);
            let target = view
                .get(s(r, "target_ref"))
                .and_then(disarm_of)
                .unwrap_or_default();
            let _ = write!(
                b,
                "<tr><td>{}</td><td><span class=\"type\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                link(src),
                E(s(src, "type")),
                E(&target),
                tlp_badge(t),
                E(&producer(&state, src))
            );
        }
        b.push_str("</tbody></table>");
    }
    if let Err(r) = shown
        .audit(&state, &signed, &format!("disarm:{}", tech.disarm_id))
        .await
    {
        return r;
    }
    page(&signed, "disarm", &tech.name, shown.banner, &b)
}
