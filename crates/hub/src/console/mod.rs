//! The analyst's console: server-rendered HTML on the same listener, TLS and users as TAXII,
//! everything under `/ui/` (an API root may not be named `ui`), `/` redirecting there. Pages
//! work without JavaScript; the one stylesheet is embedded in the binary and served from
//! `/ui/static/console.css`.
//!
//! Every page reads through the library services ([`crate::services::browse`],
//! [`crate::services::report`], …) and so through the store's policy listing, like TAXII: a
//! hidden object is a "not found" identical to a missing one. Every response under `/ui/`
//! carries `Cache-Control: no-store`, a CSP without `unsafe-inline` (`default-src 'self'`,
//! `frame-ancestors 'none'`), `X-Content-Type-Options: nosniff` and `Referrer-Policy:
//! no-referrer` ([`security_headers`]).
//!
//! # Adding a page
//!
//! 1. Write a handler in a module of this folder taking [`session::Signed`] (the extractor
//!    redirects to the sign-in page when there is no live session) and `State<AppState>`;
//!    build a [`services::browse::Viewer`](crate::services::browse::Viewer) (or another
//!    service) from `signed.principal()` and read through it — never the store directly, never
//!    CLI code.
//! 2. Render with [`html::E`] around every piece of data (attributes too), links to objects with
//!    [`html::object_href`], external links only through [`html::safe_url`]. Note the TLP of
//!    everything shown in a [`html::Banner`] (`banner.see(level)`), then answer
//!    [`page`]`(&signed, "nav-key", title, banner, body)`: the frame labels the page top and
//!    bottom with the most restrictive level seen.
//! 3. Route it in [`routes`] under `/ui/…`; add it to [`html::NAV`] if it is a top-level page
//!    ([`html::ADMIN_NAV`] if it is for admins only; such a page answers anyone else with the
//!    administration's 403 page first thing, as [`admin`] and [`federation`] do).
//! 4. If it shows RED or AMBER+STRICT objects, call [`audit_read`] with their ids first (a read
//!    that cannot be recorded is not answered).
//!
//! # Adding a form
//!
//! Every form carries the session's CSRF token: put [`csrf_field`]`(&signed)` inside the
//! `<form method="post">`, and in the POST handler take the body as `Bytes`, parse it with
//! [`form`], and call [`check_form`] first: it refuses (403) a missing or wrong token. After a
//! successful POST answer with [`html::see_other`] (post/redirect/get). Labels go on every input
//! (`<label for=…>`). A form answers a mistake in what was typed with itself (400), never with
//! a bare error page: the request for assistance's form in [`assist`] renders itself with every
//! mistake listed at its top, linked to its field, the field `aria-invalid`, what was typed kept;
//! every other form calls [`reshow`] with the answer of the page it is on and an
//! [`html::Refill`] (its `action`, [`typed`], the field at fault when known, why), which puts
//! back what was typed, escaped, and says the mistake at the form's top and under its field.
//!
//! A route asked with a method it does not take answers an HTML 405 page (`method_not_allowed`,
//! with axum's `Allow` header), not the TAXII API's error resource.

pub mod admin;
pub mod assist;
pub mod coord;
pub mod federation;
pub mod graph;
pub mod html;
pub mod pages;
pub mod session;

use std::collections::HashMap;

use axum::{
    Router,
    body::Bytes,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};

use crate::{audit_chain::Entry, policy::Principal, taxii::AppState};
use html::{Banner, E, Frame};
use session::{Sessions, Signed};

/// The console's state kept across configuration reloads.
#[derive(Debug, Clone, Default)]
pub struct Console {
    /// Signed-in sessions.
    pub sessions: Sessions,
    /// The home page's figures per member view (`services::report::window_figures`).
    pub figures: crate::services::report::FiguresCache,
    /// The coordination pages' views per member view (`services::coordview::coord_view`).
    pub coord: crate::services::coordview::CoordCache,
    /// The warm-up of those views when the server starts and after each reload
    /// ([`spawn_warm_up_following`]).
    pub warm_up: WarmUp,
}

/// Where the console's warm-up stands ([`spawn_warm_up`]).
#[derive(Debug, Clone, Default)]
pub struct WarmUp {
    state: std::sync::Arc<std::sync::Mutex<WarmState>>,
}

/// What the warm-up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WarmState {
    /// Whether it has started.
    pub started: bool,
    /// Whether it has finished.
    pub finished: bool,
    /// Member views warmed (figures of the default window, and the coordination view when it
    /// was kept).
    pub views: usize,
    /// Coordination views read but not kept (no room left in the cache).
    pub not_kept: usize,
    /// Member views that failed (logged).
    pub failed: usize,
    /// How long it took, in milliseconds (when finished).
    pub millis: u64,
    /// Warm-ups finished since the server started (one at the start, one after each reload).
    pub runs: usize,
}

impl WarmUp {
    /// Where the warm-up stands.
    pub fn state(&self) -> WarmState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update<T>(&self, f: impl FnOnce(&mut WarmState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Warms the console's kept views in the background: for each member view the node's users
/// have (users of one member share it; in the order of the users' names), the home page's
/// figures of the default window and the coordination pages' view — one view at a time, so
/// that the first page asked after a start finds them computed. Serving never waits for it:
/// a page asked meanwhile waits for the view being read (the caches let one request of a view
/// do the work) or computes its own as before. The coordination views it reads never push
/// another kept view out of the cache (beyond the cache's bound the rest are not kept). What it
/// computes goes through the same keyed caches as the pages, under each member's policy.
/// Runs once, in the background; an error is logged and the next view warmed. `serve` uses
/// [`spawn_warm_up_following`], which also warms after every reload.
pub fn spawn_warm_up(state: &AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(warm_up(state))
}

/// [`spawn_warm_up`] for the application being served, then again for every application swapped
/// in after it (a reload: users, members, grants or collections changed, so new member views
/// may exist), one warm-up at a time; reloads that arrive during one are folded into the next.
/// Views already kept and current cost a look-up each.
pub fn spawn_warm_up_following(
    mut states: tokio::sync::watch::Receiver<AppState>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let state = states.borrow_and_update().clone();
            warm_up(&state).await;
            if states.changed().await.is_err() {
                break;
            }
        }
    })
}

/// One warm-up of every member view `state`'s users have (see [`spawn_warm_up`]).
fn warm_up(state: &AppState) -> impl std::future::Future<Output = ()> + Send + 'static {
    let store = state.store.clone();
    let coalition = state.coalition.clone();
    let console = state.console.clone();
    console.warm_up.update(|w| {
        *w = WarmState {
            started: true,
            runs: w.runs,
            ..WarmState::default()
        }
    });
    async move {
        let t0 = std::time::Instant::now();
        let mut users: Vec<&crate::coalition::User> = coalition.users.values().collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        let mut seen = std::collections::HashSet::new();
        for u in users {
            let principal = Principal {
                member: u.member.clone(),
                role: u.role,
                actor: u.name.clone(),
            };
            let m = match crate::services::member::MemberService::new(
                store.clone(),
                coalition.clone(),
                principal,
                crate::publish::PublishLimits::transient(),
            ) {
                Ok(m) => m,
                Err(_) => continue, // a user of a member without identity: no console view
            };
            let readable = m.readable();
            let pushdown = crate::policy::Pushdown::for_principal(&m.principal, &m.coalition);
            let ids: Vec<&str> = readable.iter().map(|c| c.id.as_str()).collect();
            if !seen.insert(format!("{pushdown:?}|{ids:?}")) {
                continue;
            }
            let figures = crate::services::report::window_figures(&m, &console.figures, 7).await;
            let coord = crate::services::coordview::warm(&m, &console.coord, &readable).await;
            match (figures, coord) {
                (Ok(_), Ok(kept)) => console.warm_up.update(|w| {
                    w.views += 1;
                    w.not_kept += usize::from(!kept);
                }),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(user = %u.name, error = %e, "Could not warm the console's view.");
                    console.warm_up.update(|w| w.failed += 1);
                }
            }
        }
        let millis = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
        let warm = console.warm_up.update(|w| {
            w.finished = true;
            w.millis = millis;
            w.runs += 1;
            *w
        });
        metrics::counter!("shieldwall_console_warm_ups_total").increment(1);
        metrics::gauge!("shieldwall_console_views_warm").set(warm.views as f64);
        tracing::info!(millis, views = warm.views, "The console's views are warm.");
    }
}

/// The stylesheet, embedded.
pub const CSS: &str = include_str!("console.css");

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'self'; style-src 'self'; script-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's routes (merged into the TAXII application).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::root))
        .route("/ui", get(pages::root))
        .route("/ui/", get(pages::home))
        .route("/ui/static/console.css", get(stylesheet))
        .route("/ui/sign-in", get(pages::sign_in_form).post(pages::sign_in))
        .route("/ui/sign-out", post(pages::sign_out))
        .route("/ui/search", get(pages::search))
        .route("/ui/collections", get(pages::collections))
        .route("/ui/collections/{root}/{coll}", get(pages::browse))
        .route("/ui/objects/{id}", get(pages::object))
        .route("/ui/objects/{id}/diff", get(pages::diff))
        .route("/ui/objects/{id}/stix.json", get(pages::export_json))
        .route("/ui/objects/{id}/values.txt", get(pages::export_values))
        .route("/ui/static/coord.css", get(coord::stylesheet))
        .route(
            "/ui/incidents",
            get(coord::incidents).post(coord::new_incident),
        )
        .route("/ui/incidents/new", get(coord::new_incident_form))
        .route("/ui/incidents/{id}", get(coord::incident_page))
        .route("/ui/incidents/{id}/{step}", post(coord::incident_step))
        .route("/ui/disarm", get(coord::disarm))
        .route("/ui/disarm/{technique}", get(coord::disarm_technique))
        .route("/ui/assist", get(assist::board).post(assist::new_request))
        .route("/ui/assist/new", get(assist::new_request_form))
        .route("/ui/assist/{id}", get(assist::request_page))
        .route("/ui/assist/{id}/{action}", post(assist::step))
        .route("/ui/admin", get(admin::index))
        .route(
            "/ui/admin/members",
            get(admin::members).post(admin::add_member),
        )
        .route(
            "/ui/admin/members/{id}/{action}",
            get(admin::member_confirm).post(admin::member_action),
        )
        .route("/ui/admin/users", get(admin::users).post(admin::add_user))
        .route("/ui/admin/users/{name}/{action}", post(admin::user_action))
        .route("/ui/admin/keys", get(admin::keys).post(admin::issue_key))
        .route("/ui/admin/keys/{id}/{action}", post(admin::key_action))
        .route(
            "/ui/admin/collections",
            get(admin::collections).post(admin::add_collection),
        )
        .route(
            "/ui/admin/collections/{id}/remove",
            get(admin::collection_confirm).post(admin::remove_collection),
        )
        .route(
            "/ui/admin/collections/{id}/grants",
            get(admin::grants_form).post(admin::set_grants),
        )
        .route(
            "/ui/admin/trust-groups",
            get(admin::trust_groups).post(admin::add_trust_group),
        )
        .route(
            "/ui/admin/trust-groups/{id}/remove",
            get(admin::trust_group_confirm).post(admin::remove_trust_group),
        )
        .route("/ui/admin/peers", get(admin::peers).post(admin::add_peer))
        .route("/ui/admin/peers/{name}/remove", post(admin::remove_peer))
        .route("/ui/federation", get(federation::status))
        .route("/ui/federation/explain", get(federation::explain))
        .route("/ui/{*rest}", get(pages::not_found).post(pages::not_found))
        .layer(middleware::from_fn(method_not_allowed))
        .layer(middleware::from_fn(security_headers))
}

/// A console route asked with a method it does not take answers a console page (405), not the
/// TAXII API's error resource; axum adds the `Allow` header (the methods the route takes) after.
async fn method_not_allowed(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if resp.status() != StatusCode::METHOD_NOT_ALLOWED || is_html {
        return resp;
    }
    let why = if path == "/ui/sign-out" {
        "Signing out is a button, not an address: use <strong>Sign out</strong> at the top of any console page."
    } else if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        "This address only takes a form's submission. Go back to the page that holds the form and use its button."
    } else {
        "A console page is read with GET and its forms send POST: this address does not take this method, and nothing was changed."
    };
    html::html(
        StatusCode::METHOD_NOT_ALLOWED,
        html::layout(
            None,
            "Method not allowed",
            Banner::default(),
            &format!(
                "<h1>Method not allowed</h1><p>{why}</p><p class=\"note\">Asked with {}.</p><p><a href=\"/ui/\">Back to the console</a></p>",
                E(method.as_str())
            ),
        ),
    )
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        CSS,
    )
        .into_response()
}

/// Adds the console's security headers to every response under `/ui/` (and `/`).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// The hidden input carrying the session's CSRF token.
pub fn csrf_field(signed: &Signed) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        E(&signed.session.csrf)
    )
}

/// A form body's fields (the last value of a repeated name wins; bodies over 64 KiB are
/// refused by [`check_form`]).
pub fn form(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Refuses a POST whose CSRF token is missing or wrong (403), or whose body is too large.
#[allow(clippy::result_large_err)]
pub fn check_form(signed: &Signed, body: &Bytes) -> Result<HashMap<String, String>, Response> {
    if body.len() > 65_536 {
        return Err(refused("The form is too large."));
    }
    let f = form(body);
    if signed.check_csrf(f.get("csrf").map(String::as_str)) {
        Ok(f)
    } else {
        Err(refused(
            "This form expired or did not come from this console. Go back, reload and try again.",
        ))
    }
}

/// What a form body typed, in order, without its CSRF token (for [`reshow`]).
pub fn typed(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .filter(|(k, _)| k != "csrf")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The answer to a form refused for a mistake in what was typed: `page` — the answer of the
/// page the form is on, rendered again for the same user — with the form refilled and the
/// mistake said ([`html::Refill`]), as a 400. A page that is not a 200 (the object is gone, the
/// form no longer offered) is answered as it is.
pub async fn reshow(page: Response, refill: &html::Refill<'_>) -> Response {
    reshow_as(StatusCode::BAD_REQUEST, page, refill).await
}

/// [`reshow`] answering `status` (the administration's 409 for a conflict, 404 for a name
/// that is not there).
pub async fn reshow_as(status: StatusCode, page: Response, refill: &html::Refill<'_>) -> Response {
    if page.status() != StatusCode::OK {
        return page;
    }
    let (mut parts, body) = page.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
        return html::html(
            status,
            html::layout(
                None,
                "Bad request",
                Banner::default(),
                &format!("<h1>Bad request</h1><p>{}</p>", E(refill.message)),
            ),
        );
    };
    let text = refill.apply(&String::from_utf8_lossy(&bytes));
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(text))
}

/// A 403 page for a refused form.
pub fn refused(why: &str) -> Response {
    html::html(
        StatusCode::FORBIDDEN,
        html::layout(
            None,
            "Refused",
            Banner::default(),
            &format!("<h1>Refused</h1><p>{}</p>", E(why)),
        ),
    )
}

/// A page in the frame for `signed`, navigation entry `current` marked.
pub fn page(signed: &Signed, current: &str, title: &str, banner: Banner, body: &str) -> Response {
    let p = &signed.session.principal;
    let frame = Frame {
        user: &p.actor,
        member: &p.member,
        role: p.role.as_str(),
        csrf: &signed.session.csrf,
        current,
    };
    html::html(
        StatusCode::OK,
        html::layout(Some(&frame), title, banner, body),
    )
}

/// Records a console read of RED or AMBER+STRICT objects, like TAXII's reads; `Err` when it
/// could not be recorded (the page is then not shown).
pub async fn audit_read(
    state: &AppState,
    p: &Principal,
    what: &str,
    red: &[&str],
    strict: &[&str],
) -> Result<(), Response> {
    if red.is_empty() && strict.is_empty() {
        return Ok(());
    }
    let entry = Entry::new(&p.actor, "read", "console", what, "ok").detail(
        &crate::audit_chain::ids_detail(&format!("member={}", p.member), red, strict),
    );
    state.audit.record_read(entry).await.map_err(|_| {
        html::html(
            StatusCode::SERVICE_UNAVAILABLE,
            html::layout(
                None,
                "Unavailable",
                Banner::default(),
                "<h1>Unavailable</h1><p>This read could not be recorded in the audit trail, so it is not shown.</p>",
            ),
        )
    })
}
