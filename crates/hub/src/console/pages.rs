//! The console's pages: thin handlers that parse the request, call a service as the signed-in
//! member, and render. A hidden object and a missing one get the same page (`object_missing`).

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
};

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State, rejection::PathRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use stix::{Timestamp, tlp::TlpLevel};

use super::{
    audit_read, check_form,
    coord::looks_like_id,
    form, graph,
    html::{self, Banner, E, layout, object_href, pct, safe_url, see_other, tlp_badge},
    page,
    session::{self, PRE_COOKIE, Signed, cookie, is_tls, safe_next, same_token, set_cookie},
};
use crate::{
    audit_chain::Entry,
    auth::AuthError,
    services::{
        ServiceError,
        browse::{BrowseQuery, ObjectView, SearchQuery, Shown, Viewer},
        member::{MemberService, s},
        report,
    },
    taxii::AppState,
};

/// Longest query string accepted (longer: 400).
const MAX_QUERY: usize = 4096;

pub(super) type Query = HashMap<String, String>;

#[allow(clippy::result_large_err)]
pub(super) fn query(raw: Option<String>) -> Result<Query, Response> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_QUERY {
        return Err(bad_request("The query is too long."));
    }
    Ok(form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

pub(super) fn q<'a>(q: &'a Query, k: &str) -> &'a str {
    q.get(k).map(|v| v.trim()).unwrap_or("")
}

pub(super) fn bad_request(why: &str) -> Response {
    html::html(
        StatusCode::BAD_REQUEST,
        layout(
            None,
            "Bad request",
            Banner::default(),
            &format!(
                "<h1>Bad request</h1><p>{}</p><p>Go back, correct it and try again.</p>",
                E(why)
            ),
        ),
    )
}

pub(super) fn failed(e: &ServiceError) -> Response {
    tracing::error!(error = %e, "A console page failed.");
    html::html(
        StatusCode::INTERNAL_SERVER_ERROR,
        layout(
            None,
            "Error",
            Banner::default(),
            "<h1>Something failed</h1><p>The page could not be built; the node's log says why.</p>",
        ),
    )
}

fn viewer(state: &AppState, signed: &Signed) -> Viewer {
    Viewer::new(
        state.store.clone(),
        state.coalition.clone(),
        signed.principal().clone(),
    )
}

/// `GET /` and `GET /ui`: to the console.
pub(super) async fn root() -> Response {
    see_other("/ui/")
}

/// Any other path under `/ui/`.
pub(super) async fn not_found() -> Response {
    html::html(
        StatusCode::NOT_FOUND,
        layout(
            None,
            "Not found",
            Banner::default(),
            "<h1>Not found</h1><p>There is no such page. <a href=\"/ui/\">Back to the console</a>.</p>",
        ),
    )
}

/// The one answer for an object that is missing or hidden: nothing in it depends on which.
pub(super) fn object_missing(signed: &Signed) -> Response {
    let mut r = page(
        signed,
        "",
        "Not found",
        Banner::default(),
        "<h1>Not found</h1><p>No object with this id is available to you.</p>",
    );
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

// ---------------------------------------------------------------------------------------------
// Sign-in and sign-out

fn sign_in_page(token: &str, next: &str, message: Option<&str>) -> String {
    let mut body = String::from("<h1>Sign in</h1>");
    let _ = write!(
        body,
        "<form class=\"signin\" method=\"post\" action=\"/ui/sign-in\">{}\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
<label for=\"user\">User name<input id=\"user\" name=\"user\" autocomplete=\"username\" required maxlength=\"256\" autofocus></label>\
<label for=\"password\">Password<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"1024\"></label>\
<button type=\"submit\">Sign in</button>\
<p class=\"note\">Use your node account (the same as for TAXII). Everything you see is limited to what your member may see.</p></form>",
        message
            .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", E(m)))
            .unwrap_or_default(),
        E(token),
        E(next)
    );
    layout(None, "Sign in", Banner::default(), &body)
}

fn sign_in_response(
    state: &AppState,
    status: StatusCode,
    next: &str,
    msg: Option<&str>,
) -> Response {
    let token = session::random_token();
    let mut r = html::html(status, sign_in_page(&token, next, msg));
    if let Ok(v) = set_cookie(PRE_COOKIE, &token, 1800, is_tls(state)).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /ui/sign-in?next=…`.
pub(super) async fn sign_in_form(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Response {
    let qs = query(raw).unwrap_or_default();
    let next = safe_next(qs.get("next").map(String::as_str));
    sign_in_response(&state, StatusCode::OK, &next, None)
}

/// `POST /ui/sign-in`: the node's users, the same throttle and audit trail as TAXII's Basic
/// authentication.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.len() > 8192 {
        return bad_request("The form is too large.");
    }
    let f = form(&body);
    let next = safe_next(f.get("next").map(String::as_str));
    let token_ok = match (cookie(&headers, PRE_COOKIE), f.get("csrf")) {
        (Some(c), Some(t)) => same_token(c, t),
        _ => false,
    };
    if !token_ok {
        return sign_in_response(
            &state,
            StatusCode::FORBIDDEN,
            &next,
            Some("The sign-in form expired or did not come from this console. Try again."),
        );
    }
    let user = f.get("user").map(String::as_str).unwrap_or("");
    let password = f.get("password").map(String::as_str).unwrap_or("");
    match state.auth.sign_in(user, password, "console").await {
        Ok(p) => {
            let hash = state
                .coalition
                .users
                .get(&p.actor)
                .map(|u| u.password_hash.clone())
                .unwrap_or_default();
            let id = state.console.sessions.start(p, &hash);
            let mut r = see_other(&next);
            let secure = is_tls(&state);
            for c in [
                set_cookie(session::COOKIE, &id, session::ABSOLUTE.as_secs(), secure),
                set_cookie(PRE_COOKIE, "", 0, secure),
            ] {
                if let Ok(v) = c.parse() {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            r
        }
        Err(AuthError::Throttled(secs)) => {
            let mut r = sign_in_response(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                Some(&format!(
                    "Too many failed sign-ins. Wait {secs} seconds and try again."
                )),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
            r
        }
        Err(AuthError::Unauthenticated) => sign_in_response(
            &state,
            StatusCode::UNAUTHORIZED,
            &next,
            Some("The user name or the password is wrong."),
        ),
    }
}

/// `POST /ui/sign-out`.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    signed: Signed,
    body: Bytes,
) -> Response {
    if let Err(r) = check_form(&signed, &body) {
        return r;
    }
    state.console.sessions.end(&signed.id);
    let p = signed.principal();
    let _ = state
        .audit
        .record(Entry::new(
            &p.actor,
            "sign-out",
            "console",
            &format!("member:{}", p.member),
            "ok",
        ))
        .await;
    let mut r = see_other("/ui/sign-in");
    if let Ok(v) = set_cookie(session::COOKIE, "", 0, is_tls(&state)).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Shared rendering

/// What a page knows about the ids it may show: visible objects by id.
struct Ids<'a> {
    visible: &'a HashMap<String, Shown>,
    state: &'a AppState,
}

fn display_name(o: &Value) -> String {
    for k in ["name", "value", "display_name", "path", "key", "number"] {
        if let Some(v) = o.get(k).and_then(Value::as_str)
            && !v.is_empty()
        {
            return v.to_owned();
        }
    }
    match s(o, "type") {
        "relationship" => format!("{} relationship", s(o, "relationship_type")),
        "sighting" => "sighting".to_owned(),
        _ => s(o, "id").to_owned(),
    }
}

impl Ids<'_> {
    /// An id as shown: a link when visible, the TLP for a TLP marking, the member for a member's
    /// identity, otherwise nothing that names it.
    fn id(&self, id: &str) -> String {
        if let Some(level) = stix::tlp::level_of_marking(id) {
            return tlp_badge(level);
        }
        if let Some(v) = self.visible.get(id) {
            return format!(
                "<a href=\"{}\">{}</a> <span class=\"type\">{}</span>",
                E(&object_href(id)),
                E(&display_name(&v.object)),
                E(s(&v.object, "type"))
            );
        }
        if let Some(m) = self.state.coalition.member_by_identity(id) {
            return format!("{} <span class=\"type\">member</span>", E(&m.name));
        }
        "<span class=\"note\">(an object not available to you)</span>".to_owned()
    }

    fn value(&self, v: &Value, out: &mut String, depth: usize) {
        if depth > 6 {
            out.push('…');
            return;
        }
        match v {
            Value::String(t) if looks_like_id(t) => out.push_str(&self.id(t)),
            Value::String(t) => {
                let _ = write!(out, "{}", E(t));
            }
            Value::Array(a) => {
                out.push_str("<ul>");
                for x in a.iter().take(200) {
                    out.push_str("<li>");
                    self.value(x, out, depth + 1);
                    out.push_str("</li>");
                }
                if a.len() > 200 {
                    let _ = write!(out, "<li>… {} more</li>", a.len() - 200);
                }
                out.push_str("</ul>");
            }
            Value::Object(m) => {
                out.push_str("<table class=\"props\">");
                for (k, x) in m {
                    let _ = write!(out, "<tr><th scope=\"row\">{}</th><td>", E(k));
                    if k == "url"
                        && let Some(u) = x.as_str()
                    {
                        match safe_url(u) {
                            Some(u) => {
                                let _ = write!(
                                    out,
                                    "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
                                    E(u),
                                    E(u)
                                );
                            }
                            None => {
                                let _ = write!(out, "{}", E(u));
                            }
                        }
                    } else {
                        self.value(x, out, depth + 1);
                    }
                    out.push_str("</td></tr>");
                }
                out.push_str("</table>");
            }
            other => {
                let _ = write!(out, "{}", E(&other.to_string()));
            }
        }
    }
}

/// A STIX pattern with its operators, strings and object paths marked.
fn highlight_pattern(p: &str) -> String {
    let mut o = String::new();
    let mut chars = p.char_indices().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, o: &mut String| {
        if word.is_empty() {
            return;
        }
        let up = word.to_ascii_uppercase();
        let class = if matches!(
            up.as_str(),
            "AND"
                | "OR"
                | "NOT"
                | "FOLLOWEDBY"
                | "LIKE"
                | "MATCHES"
                | "IN"
                | "ISSUBSET"
                | "ISSUPERSET"
                | "WITHIN"
                | "SECONDS"
                | "REPEATS"
                | "TIMES"
                | "START"
                | "STOP"
        ) {
            "op"
        } else if word.contains(':') {
            "path"
        } else {
            ""
        };
        if class.is_empty() {
            let _ = write!(o, "{}", E(word));
        } else {
            let _ = write!(o, "<span class=\"{class}\">{}</span>", E(word));
        }
        word.clear();
    };
    while let Some((_, c)) = chars.next() {
        if c == '\'' {
            flush(&mut word, &mut o);
            let mut lit = String::from("'");
            while let Some((_, d)) = chars.next() {
                lit.push(d);
                if d == '\\' {
                    if let Some((_, e)) = chars.next() {
                        lit.push(e);
                    }
                } else if d == '\'' {
                    break;
                }
            }
            let _ = write!(o, "<span class=\"str\">{}</span>", E(&lit));
        } else if c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '*') {
            word.push(c);
        } else {
            flush(&mut word, &mut o);
            let _ = write!(o, "{}", E(&c.to_string()));
        }
    }
    flush(&mut word, &mut o);
    o
}

pub(super) fn producer_name(state: &AppState, o: &Value) -> String {
    let by = s(o, "created_by_ref");
    state
        .coalition
        .member_by_identity(by)
        .map(|m| m.name.clone())
        .unwrap_or_else(|| {
            if by.is_empty() {
                "—".into()
            } else {
                "another producer".into()
            }
        })
}

fn tlp_ids(items: &[&Shown]) -> (Vec<String>, Vec<String>) {
    let (mut red, mut strict) = (Vec::new(), Vec::new());
    for i in items {
        let id = s(&i.object, "id").to_owned();
        match i.tlp {
            TlpLevel::Red => red.push(id),
            TlpLevel::AmberStrict => strict.push(id),
            _ => {}
        }
    }
    red.sort();
    red.dedup();
    strict.sort();
    strict.dedup();
    (red, strict)
}

async fn audit_shown(
    state: &AppState,
    signed: &Signed,
    what: &str,
    items: &[&Shown],
) -> Result<(), Response> {
    let (red, strict) = tlp_ids(items);
    let red: Vec<&str> = red.iter().map(String::as_str).collect();
    let strict: Vec<&str> = strict.iter().map(String::as_str).collect();
    audit_read(state, signed.principal(), what, &red, &strict).await
}

/// A results table (search, browse).
fn results_table(state: &AppState, items: &[Shown], banner: &mut Banner) -> String {
    if items.is_empty() {
        return "<p>Nothing matches.</p>".to_owned();
    }
    let mut o = String::from(
        "<table><thead><tr><th scope=\"col\">Object</th><th scope=\"col\">Type</th><th scope=\"col\">TLP</th>\
<th scope=\"col\">Producer</th><th scope=\"col\">Collection</th><th scope=\"col\">Version</th></tr></thead><tbody>",
    );
    for i in items {
        banner.see(i.tlp);
        let id = s(&i.object, "id");
        let _ = write!(
            o,
            "<tr><td><a href=\"{}\">{}</a></td><td><span class=\"type\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td class=\"ver\">{}</td></tr>",
            E(&object_href(id)),
            E(&display_name(&i.object)),
            E(s(&i.object, "type")),
            tlp_badge(i.tlp),
            E(&producer_name(state, &i.object)),
            E(&i.collection.title),
            E(version_text(&i.object))
        );
    }
    o.push_str("</tbody></table>");
    o
}

fn version_text(o: &Value) -> &str {
    let m = s(o, "modified");
    if m.is_empty() { s(o, "created") } else { m }
}

/// `YYYY-MM-DD` or an RFC 3339 time → microseconds.
fn parse_time(v: &str) -> Option<i64> {
    let t = if v.len() == 10 {
        Timestamp::parse(&format!("{v}T00:00:00Z")).ok()?
    } else {
        Timestamp::parse(v).ok()?
    };
    i64::try_from(t.unix_nanos() / 1000).ok()
}

fn parse_pos(v: &str) -> Option<(i64, i64)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A filter's `<select>`, "any" first.
fn select(name: &str, label: &str, current: &str, options: &[(String, String)]) -> String {
    super::coord::select(
        name,
        &format!("f-{name}"),
        label,
        current,
        options,
        Some("any"),
    )
}

const TYPES: &[&str] = &[
    "indicator",
    "malware",
    "relationship",
    "sighting",
    "report",
    "threat-actor",
    "intrusion-set",
    "campaign",
    "attack-pattern",
    "tool",
    "vulnerability",
    "identity",
    "incident",
    "observed-data",
    "note",
    "grouping",
    "location",
    "course-of-action",
];

fn type_options() -> Vec<(String, String)> {
    TYPES
        .iter()
        .map(|t| ((*t).to_owned(), (*t).to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Home

/// `GET /ui/?days=N`: the coalition picture for a window beside the window before it.
pub(super) async fn home(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    let qs = match query(raw) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let days: i64 = match q(&qs, "days") {
        "30" => 30,
        "90" => 90,
        _ => 7,
    };
    let m = match MemberService::new(
        state.store.clone(),
        state.coalition.clone(),
        signed.principal().clone(),
        crate::publish::PublishLimits::transient(),
    ) {
        Ok(m) => m,
        Err(e) => return failed(&e),
    };
    let wf = match report::window_figures(&m, &state.console.figures, days).await {
        Ok(f) => f,
        Err(e) => return failed(&e),
    };
    let (cur, prev, since) = (&wf.current, &wf.previous, wf.since);
    let mut banner = Banner::default();
    if let Some(t) = cur.tlp {
        banner.see(t);
    }
    if let Some(t) = prev.tlp {
        banner.see(t);
    }
    // Reads of RED and AMBER+STRICT objects named on the page are recorded.
    let red: Vec<&str> = wf.red.iter().map(String::as_str).collect();
    let strict: Vec<&str> = wf.strict.iter().map(String::as_str).collect();
    if let Err(r) = audit_read(&state, signed.principal(), "home", &red, &strict).await {
        return r;
    }
    let since_date: String = since.to_string().chars().take(10).collect();
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Coalition picture</h1><form class=\"filters\" method=\"get\" action=\"/ui/\">\
<label for=\"f-days\">Window<select id=\"f-days\" name=\"days\">{}</select></label><button type=\"submit\">Show</button></form>\
<p class=\"note\">The last {days} days (since {}), beside the {days} days before. Only what {} may see is counted.</p><div class=\"grid\">",
        [7, 30, 90]
            .iter()
            .map(|d| format!(
                "<option value=\"{d}\"{}>{d} days</option>",
                if *d == days { " selected" } else { "" }
            ))
            .collect::<String>(),
        E(&since_date),
        E(&signed.principal().member)
    );
    let trend = |a: u64, b: u64| -> String {
        let (cls, arrow) = match a.cmp(&b) {
            std::cmp::Ordering::Greater => ("up", "▲"),
            std::cmp::Ordering::Less => ("down", "▼"),
            std::cmp::Ordering::Equal => ("", "="),
        };
        format!("<span class=\"trend {cls}\">{arrow} previous window: {b}</span>")
    };
    let sd = pct(&since_date);
    for (label, a, bv, link) in [
        (
            "Incidents",
            cur.incidents as u64,
            prev.incidents as u64,
            format!("/ui/search?type=incident&since={sd}"),
        ),
        (
            "Sightings",
            cur.sightings_total,
            prev.sightings_total,
            format!("/ui/search?type=sighting&since={sd}"),
        ),
        (
            "Open requests for assistance",
            cur.open_requests.len() as u64,
            prev.open_requests.len() as u64,
            "#requests".to_owned(),
        ),
        (
            "Offers on the table",
            cur.offers.len() as u64,
            prev.offers.len() as u64,
            "#offers".to_owned(),
        ),
    ] {
        let _ = write!(
            b,
            "<div class=\"card\"><h2>{}</h2><div class=\"figure\"><a href=\"{}\">{a}</a></div>{}</div>",
            E(label),
            E(&link),
            trend(a, bv)
        );
    }
    b.push_str("</div>");
    if !cur.sightings_per_week.is_empty() {
        b.push_str("<h2>Sightings per week</h2>");
        b.push_str(&graph::sightings_chart(&cur.sightings_per_week));
    }
    let count_table = |title: &str,
                       rows: &[(String, usize)],
                       prev: &BTreeMap<String, usize>,
                       key: &str| {
        let mut o = format!("<h2>{}</h2>", E(title));
        if rows.is_empty() {
            o.push_str("<p>None in this window.</p>");
            return o;
        }
        let _ = write!(
            o,
            "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">This window</th><th scope=\"col\" class=\"num\">Previous</th></tr></thead><tbody>",
            E(key)
        );
        for (k, v) in rows {
            let _ = write!(
                o,
                "<tr><td><a href=\"/ui/search?q={}&amp;since={sd}\">{}</a></td><td class=\"num\">{v}</td><td class=\"num\">{}</td></tr>",
                E(&pct(k)),
                E(k),
                prev.get(k).copied().unwrap_or(0)
            );
        }
        o.push_str("</tbody></table>");
        o
    };
    let sectors: Vec<(String, usize)> = cur.by_sector.clone().into_iter().collect();
    b.push_str(&count_table(
        "Incidents by sector",
        &sectors,
        &prev.by_sector,
        "Sector",
    ));
    let countries: Vec<(String, usize)> = cur.by_country.clone().into_iter().collect();
    b.push_str(&count_table(
        "Incidents by country",
        &countries,
        &prev.by_country,
        "Country",
    ));
    let prev_attack: BTreeMap<String, usize> = prev.attack.iter().cloned().collect();
    b.push_str(&count_table(
        "ATT&CK techniques used",
        &cur.attack,
        &prev_attack,
        "Technique",
    ));
    let prev_disarm: BTreeMap<String, usize> = prev.disarm.iter().cloned().collect();
    b.push_str(&count_table(
        "DISARM techniques used",
        &cur.disarm,
        &prev_disarm,
        "Technique",
    ));
    b.push_str("<h2 id=\"requests\">Open requests for assistance</h2>");
    if cur.open_requests.is_empty() {
        b.push_str("<p>None.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Request</th><th scope=\"col\">Status</th><th scope=\"col\" class=\"num\">Priority</th></tr></thead><tbody>");
        for (id, name, st, prio) in &cur.open_requests {
            let _ = write!(
                b,
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td class=\"num\">{prio}</td></tr>",
                E(&object_href(id)),
                E(name),
                E(st)
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2 id=\"offers\">Offers on the table</h2>");
    if cur.offers.is_empty() {
        b.push_str("<p>None.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Offer</th><th scope=\"col\">Status</th></tr></thead><tbody>");
        for (id, name, st) in &cur.offers {
            let _ = write!(
                b,
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td></tr>",
                E(&object_href(id)),
                E(name),
                E(st)
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<p class=\"note\">The printable report of the same figures: <code>shieldwall report --since 7d --out report.html --as MEMBER</code>.</p>");
    page(&signed, "home", "Coalition picture", banner, &b)
}

// ---------------------------------------------------------------------------------------------
// Collections and browsing

/// `GET /ui/collections`: the collections the member may read.
pub(super) async fn collections(State(state): State<AppState>, signed: Signed) -> Response {
    let v = viewer(&state, &signed);
    let mut b = String::from(
        "<h1>Collections</h1><table><thead><tr><th scope=\"col\">Collection</th><th scope=\"col\">API root</th>\
<th scope=\"col\">Description</th></tr></thead><tbody>",
    );
    for c in v.readable() {
        let _ = write!(
            b,
            "<tr><td><a href=\"/ui/collections/{}/{}\">{}</a></td><td><code>{}</code></td><td>{}</td></tr>",
            E(&pct(&c.api_root)),
            E(&pct(&c.id)),
            E(&c.title),
            E(&c.api_root),
            E(c.description.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</tbody></table>");
    page(&signed, "collections", "Collections", Banner::default(), &b)
}

/// `GET /ui/collections/{root}/{coll}?type=&id=&version=&added_after=&after=`.
pub(super) async fn browse(
    State(state): State<AppState>,
    signed: Signed,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Ok(Path((root, coll))) = path else {
        return object_missing(&signed);
    };
    let qs = match query(raw) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let v = viewer(&state, &signed);
    let Some(c) = v.collection(&root, &coll) else {
        return object_missing(&signed);
    };
    let added_after = q(&qs, "added_after");
    let bq = BrowseQuery {
        types: Some(q(&qs, "type"))
            .filter(|t| !t.is_empty())
            .map(|t| vec![t.to_owned()])
            .unwrap_or_default(),
        ids: Some(q(&qs, "id"))
            .filter(|t| !t.is_empty())
            .map(|t| vec![t.to_owned()])
            .unwrap_or_default(),
        version: q(&qs, "version").to_owned(),
        added_after_us: if added_after.is_empty() {
            None
        } else {
            match parse_time(added_after) {
                Some(t) => Some(t),
                None => return bad_request("added_after is not a date (YYYY-MM-DD) or a time."),
            }
        },
        after: parse_pos(q(&qs, "after")),
        limit: 50,
    };
    let res = match v.browse(&c, &bq).await {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    if let Err(r) = audit_shown(
        &state,
        &signed,
        &format!("collection:{}", c.id),
        &res.items.iter().collect::<Vec<_>>(),
    )
    .await
    {
        return r;
    }
    let mut banner = Banner::default();
    let action = format!("/ui/collections/{}/{}", pct(&c.api_root), pct(&c.id));
    let mut b = String::new();
    let versions: Vec<(String, String)> = ["last", "first", "all"]
        .iter()
        .map(|v| ((*v).to_owned(), (*v).to_owned()))
        .collect();
    let _ = write!(
        b,
        "<h1>{}</h1><p class=\"note\">API root <code>{}</code> · collection <code>{}</code></p>\
<form class=\"filters\" method=\"get\" action=\"{}\">{}\
<label for=\"f-id\">Id<input id=\"f-id\" name=\"id\" value=\"{}\" size=\"40\" maxlength=\"200\"></label>{}\
<label for=\"f-aa\">Added after<input id=\"f-aa\" name=\"added_after\" type=\"date\" value=\"{}\"></label>\
<button type=\"submit\">Filter</button></form>",
        E(&c.title),
        E(&c.api_root),
        E(&c.id),
        E(&action),
        select("type", "Type", q(&qs, "type"), &type_options()),
        E(q(&qs, "id")),
        select("version", "Version", q(&qs, "version"), &versions),
        E(added_after)
    );
    b.push_str(&results_table(&state, &res.items, &mut banner));
    if let Some((d, r)) = res.next {
        let mut params: Vec<(String, String)> = ["type", "id", "version", "added_after"]
            .iter()
            .filter(|k| !q(&qs, k).is_empty())
            .map(|k| ((*k).to_owned(), q(&qs, k).to_owned()))
            .collect();
        params.push(("after".into(), format!("{d}.{r}")));
        let qstr: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let _ = write!(
            b,
            "<p class=\"pager\"><a class=\"button\" href=\"{}?{}\">Next page</a></p>",
            E(&action),
            E(&qstr)
        );
    }
    page(&signed, "collections", &c.title, banner, &b)
}

// ---------------------------------------------------------------------------------------------
// Search

/// `GET /ui/search?q=&type=&tlp=&producer=&collection=&since=&until=&cursor=`.
pub(super) async fn search(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    let qs = match query(raw) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let v = viewer(&state, &signed);
    let words: Vec<String> = q(&qs, "q")
        .split_whitespace()
        .map(|w| w.chars().take(100).collect())
        .collect();
    let readable = v.readable();
    let since = q(&qs, "since");
    let until = q(&qs, "until");
    let (since_us, until_us) = match (
        (!since.is_empty()).then(|| parse_time(since)),
        (!until.is_empty()).then(|| parse_time(until)),
    ) {
        (Some(None), _) | (_, Some(None)) => {
            return bad_request("A time filter is not a date (YYYY-MM-DD).");
        }
        (a, b) => (a.flatten(), b.flatten()),
    };
    let cursor = q(&qs, "cursor").split_once(':').and_then(|(ci, pos)| {
        let ci: usize = ci.parse().ok()?;
        Some((
            ci,
            if pos.is_empty() {
                None
            } else {
                Some(parse_pos(pos)?)
            },
        ))
    });
    let sq = SearchQuery {
        words: words.clone(),
        object_type: Some(q(&qs, "type").to_owned()).filter(|t| !t.is_empty()),
        tlp: TlpLevel::parse(q(&qs, "tlp")).filter(|_| !q(&qs, "tlp").is_empty()),
        producer: Some(q(&qs, "producer").to_owned()).filter(|t| !t.is_empty()),
        collection: Some(q(&qs, "collection").to_owned()).filter(|t| !t.is_empty()),
        added_after_us: since_us,
        before_us: until_us,
        cursor,
        limit: 25,
    };
    // A pasted value first: where it appears (the value index, milliseconds). When it is found,
    // the word search (which reads up to its budget of entries) is not run unless asked for
    // (`text=1`); when nothing holds the value, it runs as for any words.
    let text = q(&qs, "q").trim();
    let value_hits = if !text.is_empty() && q(&qs, "cursor").is_empty() {
        match v.value_hits(text, 50).await {
            Ok(h) => h,
            Err(e) => return failed(&e),
        }
    } else {
        None
    };
    if let Some((_, items, _)) = &value_hits
        && let Err(resp) = audit_shown(
            &state,
            &signed,
            "search:value",
            &items.iter().collect::<Vec<_>>(),
        )
        .await
    {
        return resp;
    }
    let value_found = value_hits
        .as_ref()
        .is_some_and(|(_, items, _)| !items.is_empty());
    let text_skipped = value_found && q(&qs, "text") != "1";
    let asked = !qs.is_empty();
    let res = if asked && !text_skipped {
        match v.search(&sq).await {
            Ok(r) => Some(r),
            Err(e) => return failed(&e),
        }
    } else {
        None
    };
    if let Some(r) = &res
        && let Err(resp) = audit_shown(
            &state,
            &signed,
            "search",
            &r.items.iter().collect::<Vec<_>>(),
        )
        .await
    {
        return resp;
    }
    let mut banner = Banner::default();
    let tlps: Vec<(String, String)> = TlpLevel::ALL
        .iter()
        .map(|l| (l.value().to_owned(), l.name().to_owned()))
        .collect();
    let mut members: Vec<(String, String)> = state
        .coalition
        .members
        .values()
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect();
    members.sort();
    let colls: Vec<(String, String)> = readable
        .iter()
        .map(|c| (c.id.clone(), c.title.clone()))
        .collect();
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Search</h1><form class=\"filters\" method=\"get\" action=\"/ui/search\" role=\"search\">\
<label for=\"f-q\">Words or a value<input id=\"f-q\" type=\"search\" name=\"q\" value=\"{}\" maxlength=\"400\"></label>{}{}{}{}\
<label for=\"f-since\">Added since<input id=\"f-since\" name=\"since\" type=\"date\" value=\"{}\"></label>\
<label for=\"f-until\">Version before<input id=\"f-until\" name=\"until\" type=\"date\" value=\"{}\"></label>\
<button type=\"submit\">Search</button></form>",
        E(q(&qs, "q")),
        select("type", "Type", q(&qs, "type"), &type_options()),
        select("tlp", "TLP", q(&qs, "tlp"), &tlps),
        select("producer", "Producer", q(&qs, "producer"), &members),
        select("collection", "Collection", q(&qs, "collection"), &colls),
        E(since),
        E(until)
    );
    if let Some((value, items, more)) = &value_hits {
        let _ = write!(b, "<h2>Where <code>{}</code> appears</h2>", E(value));
        if items.is_empty() {
            b.push_str("<p>No object you may see holds this value.</p>");
        } else {
            b.push_str(&results_table(&state, items, &mut banner));
            if *more {
                b.push_str(
                    "<p class=\"note\">More objects hold this value than are shown here.</p>",
                );
            }
        }
        b.push_str("<h2>Text matches</h2>");
    }
    if text_skipped {
        let params: Vec<(String, String)> = [
            "q",
            "type",
            "tlp",
            "producer",
            "collection",
            "since",
            "until",
        ]
        .iter()
        .filter(|k| !q(&qs, k).is_empty())
        .map(|k| ((*k).to_owned(), q(&qs, k).to_owned()))
        .chain(std::iter::once(("text".to_owned(), "1".to_owned())))
        .collect();
        let qstr: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let _ = write!(
            b,
            "<p class=\"note\">The text of objects was not searched: the value was found above. \
<a href=\"/ui/search?{}\">Search the text too</a>.</p>",
            E(&qstr)
        );
    }
    match &res {
        None if text_skipped => {}
        None => b.push_str("<p>Words match any text of an object (names, descriptions, patterns, values); every word must appear. The filters narrow down. Only the latest version of each object in each collection you may read is searched.</p>"),
        Some(r) => {
            let _ = write!(
                b,
                "<p class=\"note\">{} result(s) on this page; {} entries read.</p>",
                r.items.len(),
                r.scanned
            );
            b.push_str(&results_table(&state, &r.items, &mut banner));
            if let Some((ci, pos)) = r.next {
                let mut params: Vec<(String, String)> = ["q", "type", "tlp", "producer", "collection", "since", "until", "text"]
                    .iter()
                    .filter(|k| !q(&qs, k).is_empty())
                    .map(|k| ((*k).to_owned(), q(&qs, k).to_owned()))
                    .collect();
                params.push((
                    "cursor".into(),
                    format!("{ci}:{}", pos.map(|(d, r)| format!("{d}.{r}")).unwrap_or_default()),
                ));
                let qstr: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params)
                    .finish();
                let _ = write!(
                    b,
                    "<p class=\"pager\">{}<a class=\"button\" href=\"/ui/search?{}\">Next page</a></p>",
                    if r.budget_spent {
                        "<span class=\"note\">The search read its limit of entries for one page; it goes on from there.</span> "
                    } else {
                        ""
                    },
                    E(&qstr)
                );
            }
        }
    }
    page(&signed, "search", "Search", banner, &b)
}

// ---------------------------------------------------------------------------------------------
// Object pages

/// Every id-shaped string in `v` (bounded).
fn ids_in(v: &Value, out: &mut Vec<String>, depth: usize) {
    if out.len() >= 100 || depth > 6 {
        return;
    }
    match v {
        Value::String(t) if looks_like_id(t) && stix::tlp::level_of_marking(t).is_none() => {
            out.push(t.clone())
        }
        Value::Array(a) => a.iter().for_each(|x| ids_in(x, out, depth + 1)),
        Value::Object(m) => m.values().for_each(|x| ids_in(x, out, depth + 1)),
        _ => {}
    }
}

async fn visible_refs(
    v: &Viewer,
    objects: &[&Value],
) -> Result<HashMap<String, Shown>, ServiceError> {
    let mut ids = Vec::new();
    for o in objects {
        ids_in(o, &mut ids, 0);
    }
    ids.sort();
    ids.dedup();
    let mut out = HashMap::new();
    for id in ids.into_iter().take(100) {
        if let Some(s) = v.latest(&id).await? {
            out.insert(id, s);
        }
    }
    Ok(out)
}

/// The viewer and the object `id` as the signed-in member sees it, or the answer for a missing
/// or hidden object (the same for both) or a failed read.
#[allow(clippy::result_large_err)]
async fn read_object(
    state: &AppState,
    signed: &Signed,
    id: &str,
) -> Result<(Viewer, ObjectView), Response> {
    let v = viewer(state, signed);
    match v.object(id).await {
        Ok(view) => Ok((v, view)),
        Err(ServiceError::NotFound(_)) => Err(object_missing(signed)),
        Err(e) => Err(failed(&e)),
    }
}

/// `GET /ui/objects/{id}?version=NS`.
pub(super) async fn object(
    State(state): State<AppState>,
    signed: Signed,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Ok(Path(id)) = id else {
        return object_missing(&signed);
    };
    let qs = match query(raw) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let (v, view) = match read_object(&state, &signed, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let shown = match q(&qs, "version").parse::<i64>().ok() {
        Some(ns) => match view.version(ns) {
            Some(s) => s,
            None => return object_missing(&signed),
        },
        None => match view.latest() {
            Some(s) => s,
            None => return object_missing(&signed),
        },
    };
    let o = &shown.object;
    let visible = match visible_refs(&v, &[o]).await {
        Ok(m) => m,
        Err(e) => return failed(&e),
    };
    let incoming = match v.incoming(&id).await {
        Ok(i) => i,
        Err(e) => return failed(&e),
    };
    // Audit what the page shows at RED or AMBER+STRICT: the object and its neighbours.
    let mut all: Vec<&Shown> = view.versions.iter().collect();
    all.extend(visible.values());
    for (e, other) in &incoming {
        all.push(e);
        if let Some(x) = other {
            all.push(x);
        }
    }
    if let Err(r) = audit_shown(&state, &signed, &format!("object:{id}"), &all).await {
        return r;
    }
    let mut banner = Banner::default();
    for x in &all {
        banner.see(x.tlp);
    }
    let ids = Ids {
        visible: &visible,
        state: &state,
    };
    let t = s(o, "type");
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>{} <span class=\"type\">{}</span> {}</h1><p class=\"note\">{} · produced by {} · in {}</p>",
        E(&display_name(o)),
        E(t),
        tlp_badge(shown.tlp),
        E(&id),
        E(&producer_name(&state, o)),
        view.collections
            .iter()
            .map(|c| format!(
                "<a href=\"/ui/collections/{}/{}\">{}</a>",
                E(&pct(&c.api_root)),
                E(&pct(&c.id)),
                E(&c.title)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if view
        .latest()
        .is_some_and(|l| l.version_ns != shown.version_ns)
    {
        let _ = write!(
            b,
            "<p class=\"error\">This is an earlier version. <a href=\"{}\">See the latest</a>.</p>",
            E(&object_href(&id))
        );
    }
    // Properties by type: the pattern highlighted, refs as links, external references linked.
    b.push_str("<h2>Properties</h2><table class=\"props\"><tbody>");
    let skip = [
        "type",
        "id",
        "spec_version",
        "external_references",
        "pattern",
    ];
    if let Some(p) = o.get("pattern").and_then(Value::as_str) {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">pattern</th><td><code class=\"pattern\">{}</code></td></tr>",
            highlight_pattern(p)
        );
    }
    if let Some(map) = o.as_object() {
        for (k, val) in map.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
            let mut cell = String::new();
            ids.value(val, &mut cell, 0);
            let _ = write!(b, "<tr><th scope=\"row\">{}</th><td>{cell}</td></tr>", E(k));
        }
    }
    b.push_str("</tbody></table>");
    if let Some(refs) = o.get("external_references").and_then(Value::as_array) {
        b.push_str("<h2>External references</h2><ul>");
        for r in refs.iter().take(100) {
            let name = [s(r, "source_name"), s(r, "external_id")]
                .iter()
                .filter(|x| !x.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            let desc = s(r, "description");
            match safe_url(s(r, "url")) {
                Some(u) => {
                    let _ = write!(
                        b,
                        "<li><a href=\"{}\" rel=\"noopener noreferrer\">{}</a> {}</li>",
                        E(u),
                        E(if name.is_empty() { u } else { &name }),
                        E(desc)
                    );
                }
                None => {
                    let _ = write!(b, "<li>{} {} {}</li>", E(&name), E(s(r, "url")), E(desc));
                }
            }
        }
        b.push_str("</ul>");
    }
    // Relationships: a graph of the neighbourhood, then the list.
    let mut nodes = vec![graph::Node {
        id: id.clone(),
        t: t.to_owned(),
        label: display_name(o),
    }];
    let mut edges = Vec::new();
    for (prop, target) in crate::services::browse::refs_of(o) {
        if let Some(x) = visible.get(&target) {
            nodes.push(graph::Node {
                id: target.clone(),
                t: s(&x.object, "type").to_owned(),
                label: display_name(&x.object),
            });
            edges.push(graph::Edge {
                from: 0,
                to: nodes.len() - 1,
                label: prop
                    .trim_end_matches("_refs")
                    .trim_end_matches("_ref")
                    .to_owned(),
            });
        }
    }
    let mut per_week: BTreeMap<String, u64> = BTreeMap::new();
    for (e, other) in &incoming {
        let et = s(&e.object, "type");
        if et == "sighting" {
            let when = e
                .object
                .get("first_seen")
                .or_else(|| e.object.get("created"))
                .and_then(Value::as_str)
                .and_then(|t| Timestamp::parse(t).ok());
            if let Some(w) = when {
                *per_week.entry(report::week_of(w)).or_default() +=
                    e.object.get("count").and_then(Value::as_u64).unwrap_or(1);
            }
        }
        match other {
            Some(x) if nodes.len() < 40 => {
                nodes.push(graph::Node {
                    id: s(&x.object, "id").to_owned(),
                    t: s(&x.object, "type").to_owned(),
                    label: display_name(&x.object),
                });
                edges.push(graph::Edge {
                    from: 0,
                    to: nodes.len() - 1,
                    label: s(&e.object, "relationship_type").to_owned(),
                });
            }
            None if nodes.len() < 40 => {
                nodes.push(graph::Node {
                    id: s(&e.object, "id").to_owned(),
                    t: et.to_owned(),
                    label: display_name(&e.object),
                });
                edges.push(graph::Edge {
                    from: 0,
                    to: nodes.len() - 1,
                    label: if et == "sighting" {
                        "sighting of".into()
                    } else {
                        et.to_owned()
                    },
                });
            }
            _ => {}
        }
    }
    b.push_str("<h2>Relationships</h2>");
    if nodes.len() > 1 {
        b.push_str(&graph::legend(&nodes));
        b.push_str(&graph::neighbourhood(&nodes, &edges));
    }
    if incoming.is_empty() {
        b.push_str("<p>No relationship or sighting you may see points to this object.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Edge</th><th scope=\"col\">Other end</th><th scope=\"col\">TLP</th></tr></thead><tbody>");
        for (e, other) in &incoming {
            let _ = write!(
                b,
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                E(&object_href(s(&e.object, "id"))),
                E(&display_name(&e.object)),
                other
                    .as_ref()
                    .map(|x| format!(
                        "<a href=\"{}\">{}</a> <span class=\"type\">{}</span>",
                        E(&object_href(s(&x.object, "id"))),
                        E(&display_name(&x.object)),
                        E(s(&x.object, "type"))
                    ))
                    .unwrap_or_else(|| "—".into()),
                tlp_badge(e.tlp)
            );
        }
        b.push_str("</tbody></table>");
    }
    if !per_week.is_empty() {
        b.push_str("<h2>Sightings over time</h2>");
        b.push_str(&graph::sightings_chart(&per_week));
    }
    // Where else its values appear (the value index's hook).
    let values = object_values(o);
    if !values.is_empty() {
        let related = match v.related_by_value(&id, &values).await {
            Ok(r) => r,
            Err(e) => return failed(&e),
        };
        let shown: Vec<&Shown> = related.iter().collect();
        if let Err(r) = audit_shown(&state, &signed, &format!("related:{id}"), &shown).await {
            return r;
        }
        b.push_str("<h2>Related by value</h2>");
        if related.is_empty() {
            b.push_str("<p>No other object you may see carries these values.</p>");
        } else {
            b.push_str(&results_table(&state, &related, &mut banner));
        }
    }
    // Versions, with a diff between any two.
    let _ = write!(
        b,
        "<h2>Versions ({})</h2><form method=\"get\" action=\"{}/diff\"><table><thead><tr><th scope=\"col\">Version</th>\
<th scope=\"col\">TLP</th><th scope=\"col\">From</th><th scope=\"col\">To</th></tr></thead><tbody>",
        view.versions.len(),
        E(&object_href(&id))
    );
    let n = view.versions.len();
    for (i, ver) in view.versions.iter().enumerate().rev() {
        let _ = write!(
            b,
            "<tr><td><a href=\"{}?version={}\">{}</a></td><td>{}</td>\
<td><input type=\"radio\" name=\"a\" value=\"{}\" aria-label=\"compare from {}\"{}></td>\
<td><input type=\"radio\" name=\"b\" value=\"{}\" aria-label=\"compare to {}\"{}></td></tr>",
            E(&object_href(&id)),
            ver.version_ns,
            E(version_text(&ver.object)),
            tlp_badge(ver.tlp),
            ver.version_ns,
            E(version_text(&ver.object)),
            if n >= 2 && i == n - 2 { " checked" } else { "" },
            ver.version_ns,
            E(version_text(&ver.object)),
            if i == n - 1 { " checked" } else { "" },
        );
    }
    b.push_str("</tbody></table>");
    if n >= 2 {
        b.push_str("<p><button type=\"submit\">Compare the two versions</button></p>");
    }
    b.push_str("</form>");
    // Exports.
    let _ = write!(
        b,
        "<h2>Export</h2><ul><li><a href=\"{}/stix.json\" download>STIX 2.1 JSON of this object (latest version)</a></li>",
        E(&object_href(&id))
    );
    if t == "indicator" {
        let _ = write!(
            b,
            "<li><a href=\"{}/values.txt\" download>The indicator's block-list values (kind and value per line)</a></li>",
            E(&object_href(&id))
        );
    }
    b.push_str("</ul>");
    page(&signed, "", &display_name(o), banner, &b)
}

/// The values an object carries, `(kind, value)`: an indicator's pattern values, an SCO's value.
fn object_values(o: &Value) -> Vec<(String, String)> {
    if let Some(p) = o.get("pattern").and_then(Value::as_str)
        && s(o, "pattern_type") != "sigma"
    {
        return matcher::export::observables(p)
            .map(|v| {
                v.into_iter()
                    .map(|x| (x.kind.name().to_owned(), x.value))
                    .collect()
            })
            .unwrap_or_default();
    }
    match o.get("value").and_then(Value::as_str) {
        Some(v) => vec![(s(o, "type").to_owned(), v.to_owned())],
        None => Vec::new(),
    }
}

/// `GET /ui/objects/{id}/diff?a=NS&b=NS`.
pub(super) async fn diff(
    State(state): State<AppState>,
    signed: Signed,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Ok(Path(id)) = id else {
        return object_missing(&signed);
    };
    let qs = match query(raw) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let (v, view) = match read_object(&state, &signed, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let pick = |k: &str| {
        q(&qs, k)
            .parse::<i64>()
            .ok()
            .and_then(|ns| view.version(ns))
    };
    let (Some(a), Some(bv)) = (pick("a"), pick("b")) else {
        return object_missing(&signed);
    };
    let visible = match visible_refs(&v, &[&a.object, &bv.object]).await {
        Ok(m) => m,
        Err(e) => return failed(&e),
    };
    let mut all: Vec<&Shown> = vec![a, bv];
    all.extend(visible.values());
    if let Err(r) = audit_shown(&state, &signed, &format!("object:{id}"), &all).await {
        return r;
    }
    let mut banner = Banner::default();
    for x in &all {
        banner.see(x.tlp);
    }
    let ids = Ids {
        visible: &visible,
        state: &state,
    };
    let mut keys: Vec<&String> = a
        .object
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .chain(bv.object.as_object().into_iter().flat_map(|m| m.keys()))
        .collect();
    keys.sort();
    keys.dedup();
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Changes to {}</h1><p>From version <a href=\"{}?version={}\">{}</a> to version <a href=\"{}?version={}\">{}</a>.</p>\
<table><thead><tr><th scope=\"col\">Property</th><th scope=\"col\">Before</th><th scope=\"col\">After</th></tr></thead><tbody>",
        E(&display_name(&bv.object)),
        E(&object_href(&id)),
        a.version_ns,
        E(version_text(&a.object)),
        E(&object_href(&id)),
        bv.version_ns,
        E(version_text(&bv.object))
    );
    let mut changed = 0;
    for k in keys {
        let (x, y) = (a.object.get(k), bv.object.get(k));
        if x == y {
            continue;
        }
        changed += 1;
        let cell = |v: Option<&Value>, tag: &str| {
            let mut c = String::new();
            match v {
                Some(v) => {
                    let _ = write!(c, "<{tag}>");
                    ids.value(v, &mut c, 0);
                    let _ = write!(c, "</{tag}>");
                }
                None => c.push_str("<span class=\"note\">(absent)</span>"),
            }
            c
        };
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
            E(k),
            cell(x, "del"),
            cell(y, "ins")
        );
    }
    b.push_str("</tbody></table>");
    if changed == 0 {
        b.push_str("<p>The two versions are identical.</p>");
    }
    page(&signed, "", "Changes", banner, &b)
}

/// `GET /ui/objects/{id}/stix.json`: the latest visible version, as TAXII would serve it.
pub(super) async fn export_json(
    State(state): State<AppState>,
    signed: Signed,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = id else {
        return object_missing(&signed);
    };
    let (_, view) = match read_object(&state, &signed, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(l) = view.latest() else {
        return object_missing(&signed);
    };
    if let Err(r) = audit_shown(&state, &signed, &format!("export:{id}"), &[l]).await {
        return r;
    }
    let body = serde_json::to_string_pretty(&l.object).unwrap_or_default();
    (
        [
            (
                header::CONTENT_TYPE,
                "application/stix+json;version=2.1".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}.json\"",
                    id.replace(['"', '\\'], "")
                ),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /ui/objects/{id}/values.txt`: an indicator's block-list values.
pub(super) async fn export_values(
    State(state): State<AppState>,
    signed: Signed,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = id else {
        return object_missing(&signed);
    };
    let (_, view) = match read_object(&state, &signed, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(l) = view
        .latest()
        .filter(|l| s(&l.object, "type") == "indicator")
    else {
        return object_missing(&signed);
    };
    if let Err(r) = audit_shown(&state, &signed, &format!("export:{id}"), &[l]).await {
        return r;
    }
    let mut body = format!("# {} {}\n", l.tlp.name(), id);
    for (k, val) in object_values(&l.object) {
        let _ = writeln!(body, "{k}\t{val}");
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}
