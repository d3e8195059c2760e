//! The federation status, for admins only (anyone else gets the administration's 403 page,
//! which names nothing): each configured peer with its last sync, lag and errors (the scheduled
//! sync's status board, as `GET /admin/sync`), what push holds back from it per reason and what
//! this node refused from it (the `sync` crate's recorded state), the held-back objects
//! themselves per reason and the latest refusals (newest first, paged), and, one click away from
//! each, `sync --explain` for that object.
//!
//! What is named follows one rule, on this page and on the explain page: an object is named
//! (and explained) only when the admin's member may see it on this node, or — for a refusal —
//! when this node holds no version of it at all (what was refused was then never stored: the
//! record says only what the peer sent and why it was refused). An object stored here but hidden
//! from the admin's member is counted, never named, and its explain page is the same "not
//! found" as a missing object's.

use std::fmt::Write as _;

use axum::{
    extract::{RawQuery, State},
    response::Response,
};

use super::{
    coord::{CSS_LINK, failed, looks_like_id, missing, q, query, select},
    html::{Banner, E, object_href, pct, time_us},
    page,
    session::Signed,
};
use crate::{config::Role, services::ServiceError, store::Store, taxii::AppState, timestamps};

/// Held-back versions listed per push mapping at most.
const HELD_LISTED: u32 = 50;
/// Refusals listed per page.
const REFUSED_PAGE: u32 = 25;
/// Refusal pages reachable (older ones are counted above, not listed).
const REFUSED_PAGES: u32 = 40;

fn admin_only(signed: &Signed) -> bool {
    signed.principal().role == Role::Admin
}

/// Whether a refused object `id` may be named to the admin: their member may see it here, or
/// no version of it is stored on this node (then the refusal's record is all there is of it).
async fn refusal_nameable(
    state: &AppState,
    viewer: &crate::services::browse::Viewer,
    id: &str,
) -> Result<bool, ServiceError> {
    if viewer.latest(id).await?.is_some() {
        return Ok(true);
    }
    for c in &state.coalition.collections {
        if !state
            .store
            .sync_versions(&c.id, id)
            .await
            .map_err(ServiceError::Store)?
            .is_empty()
        {
            return Ok(false);
        }
    }
    Ok(true)
}

fn local_of<'a>(state: &'a AppState, name: &str) -> Option<&'a crate::coalition::Collection> {
    state
        .coalition
        .collections
        .iter()
        .find(|c| c.id == name || c.alias.as_deref() == Some(name))
}

/// `GET /ui/federation?refused_page=N`.
pub(super) async fn status(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    if !admin_only(&signed) {
        return super::admin::forbidden(&signed, &state, "ui/federation").await;
    }
    let qs = match query(raw) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let refused_page: u32 = q(&qs, "refused_page")
        .parse()
        .unwrap_or(0)
        .min(REFUSED_PAGES - 1);
    let now = timestamps::now_us();
    let board = state
        .sync_status
        .as_ref()
        .map(|b| b.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .unwrap_or_default();
    let held = match state.store.sync_held_counts().await {
        Ok(h) => h,
        Err(e) => return failed(&ServiceError::Store(e)),
    };
    let refused = match state.store.refused_counts().await {
        Ok(r) => r,
        Err(e) => return failed(&ServiceError::Store(e)),
    };
    let viewer = crate::services::browse::Viewer::new(
        state.store.clone(),
        state.coalition.clone(),
        signed.principal().clone(),
    );
    let mut b = String::from(CSS_LINK);
    b.push_str("<h1>Federation</h1>");
    if state.peers.is_empty() {
        b.push_str("<p>This node has no peer configured (<code>[[peers]]</code>).</p>");
    }
    if state.sync_status.is_none() && !state.peers.is_empty() {
        b.push_str("<p class=\"note\">This process does not run the scheduled sync (<code>serve</code> without <code>[sync]</code> scheduling, or <code>shieldwall sync</code> runs it): last sync and lag are unknown here; what is held back and refused is read from the store.</p>");
    }
    if !state.peers.is_empty() {
        b.push_str("<table><thead><tr><th scope=\"col\">Peer</th><th scope=\"col\">Member</th><th scope=\"col\">Last sync</th>\
<th scope=\"col\" class=\"num\">Lag</th><th scope=\"col\">Last error</th><th scope=\"col\">Held back (by reason)</th><th scope=\"col\">Refused from it (by reason)</th></tr></thead><tbody>");
        for p in &state.peers {
            let st = board.get(&p.name);
            let lag = st.and_then(|s| s.lag_seconds(now));
            let per = |rows: &[(String, String, i64)]| -> String {
                let v: Vec<String> = rows
                    .iter()
                    .filter(|(peer, _, _)| peer == &p.name)
                    .map(|(_, reason, n)| {
                        format!("<span class=\"reason\">{}</span> {n}", E(reason))
                    })
                    .collect();
                if v.is_empty() {
                    "none".into()
                } else {
                    v.join("<br>")
                }
            };
            let _ = write!(
                b,
                "<tr><td><strong>{}</strong><br><span class=\"note\">{}</span></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                E(&p.name),
                E(&p.url),
                E(&state
                    .coalition
                    .members
                    .get(&p.member)
                    .map_or(p.member.clone(), |m| m.name.clone())),
                st.and_then(|s| s.last_success_us)
                    .map(|t| E(&time_us(t)).to_string())
                    .unwrap_or_else(|| "never (or not run here)".into()),
                lag.map(|l| format!("{:.0} s", l))
                    .unwrap_or_else(|| "—".into()),
                st.and_then(|s| s.last_error.as_deref())
                    .map(|e| format!("<span class=\"error-text\">{}</span>", E(e)))
                    .unwrap_or_else(|| "—".into()),
                per(&held),
                per(&refused)
            );
        }
        b.push_str("</tbody></table>");
    }
    // What push holds back, object by object.
    b.push_str("<h2>Held back</h2><p class=\"note\">Versions the last push judged must not leave for each peer, with the reason. \
An object your member may not see is counted, not named.</p>");
    let mut listed = 0;
    for p in &state.peers {
        for mapping in p.collections.iter().filter(|m| m.direction.pushes()) {
            let Some(local) = local_of(&state, &mapping.local) else {
                continue;
            };
            let key = format!("{}>{}", local.id, mapping.remote);
            let rows = match state
                .store
                .sync_held_batch(&p.name, &key, i64::MIN, HELD_LISTED, &[])
                .await
            {
                Ok(r) => r,
                Err(e) => return failed(&ServiceError::Store(e)),
            };
            if rows.is_empty() {
                continue;
            }
            let _ = write!(
                b,
                "<h3>To {} — {} → {}</h3><table><thead><tr><th scope=\"col\">Object</th><th scope=\"col\">Version</th><th scope=\"col\">Reason</th>\
<th scope=\"col\">Since</th><th scope=\"col\">Explain</th></tr></thead><tbody>",
                E(&p.name),
                E(&local.title),
                E(&mapping.remote)
            );
            let mut hidden = 0;
            let mut rows = rows;
            rows.sort_by(|(a, x), (c, y)| x.reason.cmp(&y.reason).then(a.row.cmp(&c.row)));
            let mut reason: Option<String> = None;
            for (r, h) in rows {
                let visible = match viewer.latest(&r.id).await {
                    Ok(v) => v.is_some(),
                    Err(e) => return failed(&e),
                };
                if !visible {
                    hidden += 1;
                    continue;
                }
                if reason.as_deref() != Some(h.reason.as_str()) {
                    let _ = write!(
                        b,
                        "<tr><th scope=\"rowgroup\" colspan=\"5\" class=\"group\">Held back: <span class=\"reason\">{}</span></th></tr>",
                        E(&h.reason)
                    );
                    reason = Some(h.reason.clone());
                }
                listed += 1;
                let _ = write!(
                    b,
                    "<tr><td><a href=\"{}\">{}</a> <span class=\"type\">{}</span></td><td>{}</td><td><span class=\"reason\">{}</span></td><td>{}</td>\
<td><a href=\"/ui/federation/explain?peer={}&amp;id={}\">why?</a></td></tr>",
                    E(&object_href(&r.id)),
                    E(&r.id),
                    E(&r.object_type),
                    E(&timestamps::format_us(r.version_ns.div_euclid(1000))),
                    E(&h.reason),
                    E(&time_us(h.since_us)),
                    E(&pct(&p.name)),
                    E(&pct(&r.id))
                );
            }
            if hidden > 0 {
                let _ = write!(
                    b,
                    "<tr><td colspan=\"5\" class=\"note\">and {hidden} version(s) of objects your member may not see</td></tr>"
                );
            }
            b.push_str("</tbody></table>");
        }
    }
    if listed == 0 {
        b.push_str("<p>Nothing held back that your member may see.</p>");
    }
    // What this node refused from its peers, newest first.
    let rows = match state
        .store
        .refused_latest(refused_page * REFUSED_PAGE, REFUSED_PAGE + 1)
        .await
    {
        Ok(r) => r,
        Err(e) => return failed(&ServiceError::Store(e)),
    };
    let more = rows.len() > REFUSED_PAGE as usize;
    b.push_str("<h2 id=\"refused\">Refused from peers</h2><p class=\"note\">The latest objects this node refused from a peer \
(its pull, or the peer's push), newest first. An object stored here that your member may not see is counted, not named.</p>");
    if rows.is_empty() {
        b.push_str("<p>Nothing refused.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Object</th><th scope=\"col\">Version</th><th scope=\"col\">Peer</th>\
<th scope=\"col\">Into</th><th scope=\"col\">Reason</th><th scope=\"col\">When</th><th scope=\"col\">Explain</th></tr></thead><tbody>");
        let mut hidden = 0;
        for r in rows.iter().take(REFUSED_PAGE as usize) {
            let known_peer = state.peers.iter().any(|p| p.name == r.peer);
            let shown = !r.id.is_empty()
                && match refusal_nameable(&state, &viewer, &r.id).await {
                    Ok(v) => v,
                    Err(e) => return failed(&e),
                };
            if !shown {
                hidden += 1;
                continue;
            }
            let coll =
                local_of(&state, &r.collection).map_or(r.collection.clone(), |c| c.title.clone());
            let explain = if known_peer {
                format!(
                    "<a href=\"/ui/federation/explain?peer={}&amp;id={}\">why?</a>",
                    E(&pct(&r.peer)),
                    E(&pct(&r.id))
                )
            } else {
                "(peer removed)".to_owned()
            };
            let _ = write!(
                b,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td><span class=\"reason\">{}</span><br><span class=\"note\">{}</span></td><td>{}</td><td>{explain}</td></tr>",
                E(&r.id),
                E(&r.version),
                E(&r.peer),
                E(&coll),
                E(&r.reason),
                E(&r.detail),
                E(&time_us(r.at_us)),
            );
        }
        if hidden > 0 {
            let _ = write!(
                b,
                "<tr><td colspan=\"7\" class=\"note\">and {hidden} refusal(s) of objects your member may not see</td></tr>"
            );
        }
        b.push_str("</tbody></table>");
    }
    if refused_page > 0 || (more && refused_page + 1 < REFUSED_PAGES) {
        b.push_str("<nav aria-label=\"Refusals\" class=\"pager\">");
        if refused_page > 0 {
            let _ = write!(
                b,
                "<a href=\"/ui/federation?refused_page={}#refused\">Newer refusals</a> ",
                refused_page - 1
            );
        }
        if more && refused_page + 1 < REFUSED_PAGES {
            let _ = write!(
                b,
                "<a href=\"/ui/federation?refused_page={}#refused\">Older refusals</a>",
                refused_page + 1
            );
        }
        b.push_str("</nav>");
    }
    // Explain any object.
    let peers: Vec<(String, String)> = state
        .peers
        .iter()
        .map(|p| (p.name.clone(), p.name.clone()))
        .collect();
    if !peers.is_empty() {
        let _ = write!(
            b,
            "<h2>Explain an object</h2><form class=\"filters\" method=\"get\" action=\"/ui/federation/explain\">\
<label for=\"x-id\">Object id<input id=\"x-id\" name=\"id\" required maxlength=\"200\" size=\"50\"></label>{}<button type=\"submit\">Explain</button></form>",
            select("peer", "x-peer", "Peer", "", &peers, None)
        );
    }
    page(&signed, "federation", "Federation", Banner::default(), &b)
}

/// `GET /ui/federation/explain?peer=&id=`: `sync --explain ID --peer P`.
pub(super) async fn explain(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    if !admin_only(&signed) {
        return super::admin::forbidden(&signed, &state, "ui/federation/explain").await;
    }
    let qs = match query(raw) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let (id, peer) = (q(&qs, "id"), q(&qs, "peer"));
    if !looks_like_id(id) || !state.peers.iter().any(|p| p.name == peer) {
        return missing(&signed);
    }
    // Only objects the admin's member may see are explained (the rest look missing).
    let viewer = crate::services::browse::Viewer::new(
        state.store.clone(),
        state.coalition.clone(),
        signed.principal().clone(),
    );
    // An object never stored here is explained by its refusals only (what the peer sent).
    let shown = match viewer.latest(id).await {
        Ok(Some(s)) => Some(s),
        Ok(None) => match refusal_nameable(&state, &viewer, id).await {
            Ok(true) => None,
            Ok(false) => return missing(&signed),
            Err(e) => return failed(&e),
        },
        Err(e) => return failed(&e),
    };
    // Explaining contacts no peer: secrets from the environment are not needed.
    let engine = match crate::sync::Engine::new(
        state.store.clone(),
        state.coalition.clone(),
        state.peers.clone(),
        &|_| Some(String::new()),
    ) {
        Ok(e) => e,
        Err(e) => return failed(&ServiceError::Remote(e.to_string())),
    };
    let ex = match engine.explain(id, peer).await {
        Ok(x) => x,
        Err(e) => return failed(&ServiceError::Remote(e.to_string())),
    };
    if shown.is_none() && !ex.iter().any(|x| x.verdict == "refused") {
        return missing(&signed);
    }
    let mut banner = Banner::default();
    if let Some(s) = &shown {
        banner.see(s.tlp);
    }
    let one = [id];
    let none: [&str; 0] = [];
    let (red, strict): (&[&str], &[&str]) = match shown.as_ref().map(|s| s.tlp) {
        Some(stix::tlp::TlpLevel::Red) => (&one, &none),
        Some(stix::tlp::TlpLevel::AmberStrict) => (&none, &one),
        _ => (&none, &none),
    };
    if let Err(r) = super::audit_read(
        &state,
        signed.principal(),
        &format!("explain:{id}"),
        red,
        strict,
    )
    .await
    {
        return r;
    }
    let mut b = String::from(CSS_LINK);
    let _ = write!(
        b,
        "<p class=\"crumbs\"><a href=\"/ui/federation\">Federation</a> ›</p><h1>Why {} goes or not to {}</h1>\
<p class=\"note\">{} · the same as <code>shieldwall sync --explain {} --peer {}</code></p>",
        E(id),
        E(peer),
        if shown.is_some() {
            format!("<a href=\"{}\">the object</a>", E(&object_href(id)))
        } else {
            "not stored on this node".to_owned()
        },
        E(id),
        E(peer)
    );
    if ex.is_empty() {
        b.push_str("<p>No collection this peer's mappings cover holds the object, and it refused nothing of it.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Verdict</th><th scope=\"col\">Collection</th><th scope=\"col\">Remote</th>\
<th scope=\"col\">Version</th><th scope=\"col\">TLP</th><th scope=\"col\">Source</th><th scope=\"col\">Why</th></tr></thead><tbody>");
        for x in &ex {
            let coll =
                local_of(&state, &x.collection).map_or(x.collection.clone(), |c| c.title.clone());
            let _ = write!(
                b,
                "<tr><td><span class=\"verdict v-{0}\">{0}</span></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td></tr>",
                E(x.verdict),
                E(&coll),
                E(&x.remote),
                E(&x.version),
                E(&x.tlp),
                E(&x.source),
                E(&x.why)
            );
        }
        b.push_str("</tbody></table>");
    }
    page(&signed, "", "Explain", banner, &b)
}
