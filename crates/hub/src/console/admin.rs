//! The node's administration in the console, for the admin role only: members, users, API
//! keys, collections, trust groups and peers, listed and changed through forms.
//!
//! Every action calls [`crate::services::admin`] — the service behind `shieldwall admin …` and
//! the HTTP admin API — so it is decided by `policy::admin`, committed by compare-and-swap with
//! its audit record (path `console`) and applied by every node within its poll interval, exactly
//! as through the CLI or the API. Anyone but an admin gets a 403 page that names nothing of the
//! node's administration, for every page and every form; every form carries the session's CSRF
//! token and is refused without it (403). A new or rotated API key's token is shown once, on the
//! answer to the POST that made it (served `no-store` like every console page), never again.
//!
//! Members are disabled and enabled by a one-button form (`POST /ui/admin/members/{id}/disable`,
//! `…/enable`); users and peers are removed by one (`POST /ui/admin/{section}/{id}/remove`).
//! Members, trust groups and collections, whose removal cannot be undone, are removed from a
//! confirmation page: the list links to `GET /ui/admin/{section}/{id}/remove`, which says what the
//! removal does and carries the CSRF-protected form posting to the same path. A collection's
//! grants (readers, writers, RED recipients) are changed on `GET /ui/admin/collections/{id}/grants`,
//! a form pre-filled with the current grants that replaces them whole. The service's refusals are
//! the page's answer with their status and reason: 400 (the result would not hold), 404 (no such
//! thing), 409 (a collection still holding objects, a member operating a peer or the node, the
//! last admin account). As over the HTTP API, an admin cannot disable or remove its own member.

use std::fmt::Write as _;

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use serde_json::{Value, json};

use super::{
    check_form,
    coord::{CSS_LINK, select},
    csrf_field,
    html::{self, Banner, E, Frame, Refill, pct, see_other},
    pages::{q, query},
    reshow_as,
    session::Signed,
    typed,
};
use crate::{
    config::{Config, MemberConfig, PeerConfig, Role, TrustGroupConfig},
    services::admin::{Actor, Admin, AdminServiceError, IssuedKey, NewCollection},
    taxii::AppState,
};
use ::policy::admin::{AdminError, Change, CollectionGrants};

/// The administration's sections: path segment and title.
const SECTIONS: &[(&str, &str)] = &[
    ("members", "Members"),
    ("users", "Users"),
    ("keys", "API keys"),
    ("collections", "Collections"),
    ("trust-groups", "Trust groups"),
    ("peers", "Peers"),
];

/// What a finished action says on the page it leads back to (`?done=KEY`; anything else is
/// ignored, so nothing from the query is echoed).
const DONE: &[(&str, &str)] = &[
    ("member-added", "The member was added."),
    (
        "member-disabled",
        "The member was disabled: its users and keys are refused until it is enabled.",
    ),
    ("member-enabled", "The member was enabled."),
    (
        "member-removed",
        "The member was removed, with its users and keys; what it produced stays.",
    ),
    ("user-added", "The user was added: they can sign in now."),
    (
        "user-disabled",
        "The user was disabled: their sessions ended and they can no longer sign in.",
    ),
    ("user-enabled", "The user was enabled."),
    ("user-removed", "The user was removed."),
    (
        "password-reset",
        "The password was changed: the user's sessions ended.",
    ),
    (
        "key-revoked",
        "The key was revoked: it is refused from now on.",
    ),
    ("collection-added", "The collection was added."),
    ("collection-removed", "The collection was removed."),
    (
        "grants-changed",
        "The collection's grants were replaced: in force on every node within a second.",
    ),
    ("trust-group-added", "The trust group was added."),
    ("trust-group-removed", "The trust group was removed."),
    ("peer-added", "The peer was added."),
    ("peer-removed", "The peer was removed."),
];

fn is_admin(signed: &Signed) -> bool {
    signed.principal().role == Role::Admin
}

/// A page in the frame with `status`.
fn framed(signed: &Signed, status: StatusCode, title: &str, body: &str) -> Response {
    let p = signed.principal();
    let frame = Frame {
        user: &p.actor,
        member: &p.member,
        role: p.role.as_str(),
        csrf: &signed.session.csrf,
        current: "admin",
    };
    html::html(
        status,
        html::layout(Some(&frame), title, Banner::default(), body),
    )
}

/// The one answer to anyone but an admin, whatever the page or form: it names nothing. The
/// refusal is recorded in the audit trail (within its budget for refusals) with `what` was asked.
pub(super) async fn forbidden(signed: &Signed, state: &AppState, what: &str) -> Response {
    let p = signed.principal();
    crate::taxii::admin_api::record_refused(state, p, "console", what).await;
    let frame = Frame {
        user: &p.actor,
        member: &p.member,
        role: p.role.as_str(),
        csrf: &signed.session.csrf,
        current: "",
    };
    html::html(
        StatusCode::FORBIDDEN,
        html::layout(
            Some(&frame),
            "Forbidden",
            Banner::default(),
            "<h1>Forbidden</h1><p>This page is for the node's administrators only.</p>",
        ),
    )
}

#[allow(clippy::result_large_err)]
fn service(state: &AppState) -> Result<Admin, Response> {
    state.admin.clone().ok_or_else(|| {
        html::html(
            StatusCode::SERVICE_UNAVAILABLE,
            html::layout(
                None,
                "Unavailable",
                Banner::default(),
                "<h1>Unavailable</h1><p>Administration is not available on this node.</p>",
            ),
        )
    })
}

fn actor(signed: &Signed) -> Actor {
    Actor {
        name: signed.principal().actor.clone(),
        path: "console",
    }
}

/// The page for a refused or failed change: why, and the way back.
fn not_done(signed: &Signed, section: &str, e: &AdminServiceError) -> Response {
    let (status, title, why) = match e {
        AdminServiceError::Refused(AdminError::NotFound(m)) => {
            (StatusCode::NOT_FOUND, "Not found", m.clone())
        }
        AdminServiceError::Refused(AdminError::Conflict(m)) => {
            (StatusCode::CONFLICT, "Not possible", m.clone())
        }
        AdminServiceError::Refused(AdminError::Invalid(m)) => {
            (StatusCode::BAD_REQUEST, "Refused", m.clone())
        }
        AdminServiceError::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            "Other changes kept coming first; try again.".to_owned(),
        ),
        other => {
            tracing::error!(error = %other, "A console administration page failed.");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "The change could not be made; the node's log says why.".to_owned(),
            )
        }
    };
    let label = SECTIONS
        .iter()
        .find(|(k, _)| *k == section)
        .map_or("Administration", |(_, t)| t);
    framed(
        signed,
        status,
        title,
        &format!(
            "<h1>{}</h1><p class=\"error-text\" role=\"alert\">Nothing was changed: {}</p>\
<p><a href=\"/ui/admin/{}\">Back to {}</a></p>",
            E(title),
            E(&why),
            E(section),
            E(label)
        ),
    )
}

/// A change typed into a form and refused for what was typed: the page the form is on
/// (`page`, rendered again for the same admin) with the form refilled and why, in the status
/// [`not_done`] answers (404, 409, 400); a refusal that is not about what was typed (busy, a
/// failure) is [`not_done`]'s page. Passwords are never put back.
async fn not_done_form(
    signed: &Signed,
    section: &str,
    e: &AdminServiceError,
    page: impl std::future::Future<Output = Response>,
    action: &str,
    body: &Bytes,
    field: Option<&str>,
) -> Response {
    let (status, why) = match e {
        AdminServiceError::Refused(AdminError::NotFound(m)) => (StatusCode::NOT_FOUND, m),
        AdminServiceError::Refused(AdminError::Conflict(m)) => (StatusCode::CONFLICT, m),
        AdminServiceError::Refused(AdminError::Invalid(m)) => (StatusCode::BAD_REQUEST, m),
        _ => return not_done(signed, section, e),
    };
    let message = format!("Nothing was changed: {why}");
    reshow_as(
        status,
        page.await,
        &Refill {
            action,
            typed: typed(body),
            field,
            message: &message,
        },
    )
    .await
}

fn invalid_error(why: &str) -> AdminServiceError {
    AdminServiceError::Refused(AdminError::Invalid(why.to_owned()))
}

/// The section's heading, the sections' navigation and the `done` note.
fn head(section: &str, raw: Option<String>) -> String {
    let mut b = String::from(CSS_LINK);
    b.push_str("<p class=\"crumbs\"><a href=\"/ui/admin\">Administration</a> ›</p>");
    b.push_str("<nav aria-label=\"Administration\"><ul class=\"tabs\">");
    for (k, t) in SECTIONS {
        let cur = if *k == section {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(b, "<li><a href=\"/ui/admin/{k}\"{cur}>{}</a></li>", E(t));
    }
    b.push_str("</ul></nav>");
    let title = SECTIONS
        .iter()
        .find(|(k, _)| *k == section)
        .map_or("Administration", |(_, t)| t);
    let _ = write!(b, "<h1>{}</h1>", E(title));
    let qs = query(raw).unwrap_or_default();
    if let Some((_, msg)) = DONE.iter().find(|(k, _)| *k == q(&qs, "done")) {
        let _ = write!(b, "<p class=\"done\" role=\"status\">{}</p>", E(msg));
    }
    b
}

/// Comma- or blank-separated names.
fn list(v: Option<&String>) -> Vec<String> {
    v.map(String::as_str)
        .unwrap_or("")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn field<'a>(f: &'a std::collections::HashMap<String, String>, k: &str) -> &'a str {
    f.get(k).map(|v| v.trim()).unwrap_or("")
}

fn opt(f: &std::collections::HashMap<String, String>, k: &str) -> Option<String> {
    Some(field(f, k))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn role_of(v: &str) -> Option<Role> {
    match v {
        "reader" => Some(Role::Reader),
        "contributor" => Some(Role::Contributor),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

fn roles_select(id: &str) -> String {
    let roles: Vec<(String, String)> = ["reader", "contributor", "admin"]
        .iter()
        .map(|r| ((*r).to_owned(), (*r).to_owned()))
        .collect();
    select("role", id, "Role", "reader", &roles, None)
}

fn members_select(config: &Config, id: &str, name: &str, label: &str, any: Option<&str>) -> String {
    let members: Vec<(String, String)> = config
        .members
        .iter()
        .map(|m| (m.id.clone(), format!("{} ({})", m.name, m.id)))
        .collect();
    select(name, id, label, "", &members, any)
}

fn text_input(id: &str, name: &str, label: &str, extra: &str) -> String {
    format!(
        "<label for=\"{id}\">{}<input id=\"{id}\" name=\"{name}\" maxlength=\"1000\"{extra}></label>",
        E(label)
    )
}

/// A one-button form posting to `action` (carrying the CSRF token).
fn button(signed: &Signed, action: &str, label: &str, aria: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{}\">{}<button type=\"submit\" aria-label=\"{}\">{}</button></form>",
        E(action),
        csrf_field(signed),
        E(aria),
        E(label)
    )
}

/// The page that confirms a removal that cannot be undone: what it does, and the CSRF-protected
/// form posting to `/ui/admin/{section}/{id}/remove`.
fn confirm_page(
    signed: &Signed,
    section: &str,
    what: &str,
    id: &str,
    name: &str,
    consequences: &str,
) -> Response {
    let label = SECTIONS
        .iter()
        .find(|(k, _)| *k == section)
        .map_or("Administration", |(_, t)| t);
    let title = format!("Remove {what} {id}?");
    let body = format!(
        "{CSS_LINK}<p class=\"crumbs\"><a href=\"/ui/admin\">Administration</a> › <a href=\"/ui/admin/{}\">{}</a> ›</p>\
<h1>{}</h1><p class=\"lead\">{}</p><p>{}</p>\
<form class=\"step wide\" method=\"post\" action=\"{}\"><p><strong>This cannot be undone.</strong></p>{}\
<button type=\"submit\" class=\"danger\">Remove {} {}</button></form>\
<p><a href=\"/ui/admin/{}\">Cancel: back to {}</a></p>",
        E(section),
        E(label),
        E(&title),
        E(name),
        E(consequences),
        E(&format!("/ui/admin/{section}/{}/remove", pct(id))),
        csrf_field(signed),
        E(what),
        E(id),
        E(section),
        E(label),
    );
    framed(signed, StatusCode::OK, &title, &body)
}

/// The refusal of disabling or removing the signed-in admin's own member (as over the API).
fn own_member(signed: &Signed, what: &str) -> Response {
    not_done(
        signed,
        "members",
        &AdminServiceError::Refused(AdminError::Conflict(format!(
            "an administrator cannot {what} its own member"
        ))),
    )
}

fn missing(signed: &Signed, section: &str, why: String) -> Response {
    not_done(
        signed,
        section,
        &AdminServiceError::Refused(AdminError::NotFound(why)),
    )
}

/// Admin check, then the service and the effective configuration: what every admin page that
/// shows the state starts with (anyone else gets the 403 page before anything is read).
async fn current(signed: &Signed, state: &AppState) -> Result<(Admin, Config), Response> {
    if !is_admin(signed) {
        return Err(forbidden(signed, state, "ui/admin").await);
    }
    let admin = service(state)?;
    match admin.current().await {
        Ok((_, c)) => Ok((admin, c)),
        Err(e) => Err(not_done(signed, "", &e)),
    }
}

/// Admin check, CSRF check, the service: what every POST starts with.
#[allow(clippy::result_large_err)]
async fn post_start(
    signed: &Signed,
    state: &AppState,
    body: &Bytes,
) -> Result<(Admin, std::collections::HashMap<String, String>), Response> {
    if !is_admin(signed) {
        return Err(forbidden(signed, state, "ui/admin (form)").await);
    }
    let f = check_form(signed, body)?;
    Ok((service(state)?, f))
}

/// `GET /ui/admin`.
pub(super) async fn index(State(state): State<AppState>, signed: Signed) -> Response {
    let (admin, config) = match current(&signed, &state).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let users = admin.users().await.map(|u| u.len()).unwrap_or(0);
    let keys = admin.keys().await.map(|k| k.len()).unwrap_or(0);
    let mut b = String::from(CSS_LINK);
    b.push_str(
        "<h1>Administration</h1><p class=\"lead\">The node's members, users, API keys, collections, trust groups \
and peers. Every change here is the same as <code>shieldwall admin …</code> or the admin API: checked, \
recorded in the audit trail, and in force on every node of this database within a second. \
<a href=\"/ui/federation\">Federation status</a>.</p><div class=\"facts\">",
    );
    for ((k, t), n) in SECTIONS.iter().zip([
        config.members.len(),
        users,
        keys,
        config.collections.len(),
        config.trust_groups.len(),
        config.peers.len(),
    ]) {
        let _ = write!(
            b,
            "<div><span>{}</span><a href=\"/ui/admin/{k}\">{n}</a></div>",
            E(t)
        );
    }
    b.push_str("</div>");
    framed(&signed, StatusCode::OK, "Administration", &b)
}

/// `GET /ui/admin/members`.
pub(super) async fn members(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    if !is_admin(&signed) {
        return forbidden(&signed, &state, "ui/admin/members").await;
    }
    let admin = match service(&state) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let members = match admin.members().await {
        Ok(m) => m,
        Err(e) => return not_done(&signed, "members", &e),
    };
    let own = &signed.principal().member;
    let mut b = head("members", raw);
    b.push_str("<p class=\"note\">A disabled member's users and keys are refused until it is enabled again. \
Removing a member removes its users and keys and takes it out of every grant and trust group; what it produced stays, \
and its id and identity are not given again.</p>\
<table><thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Name</th><th scope=\"col\">Identity</th>\
<th scope=\"col\">Country</th><th scope=\"col\">Sectors</th><th scope=\"col\">State</th><th scope=\"col\">Defined in</th>\
<th scope=\"col\">Actions</th></tr></thead><tbody>");
    for v in &members {
        let m = &v.member;
        let base = format!("/ui/admin/members/{}", pct(&m.id));
        let actions = if &m.id == own {
            "<span class=\"note\">your own member</span>".to_owned()
        } else {
            let toggle = if v.disabled {
                button(
                    &signed,
                    &format!("{base}/enable"),
                    "Enable",
                    &format!("Enable member {}", m.id),
                )
            } else {
                button(
                    &signed,
                    &format!("{base}/disable"),
                    "Disable",
                    &format!("Disable member {}", m.id),
                )
            };
            format!(
                "{toggle}<a class=\"button danger\" href=\"{}\" aria-label=\"Remove member {}\">Remove…</a>",
                E(&format!("{base}/remove")),
                E(&m.id)
            )
        };
        let _ = write!(
            b,
            "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
<td class=\"actions\">{actions}</td></tr>",
            E(&m.id),
            E(&m.name),
            E(&m.identity),
            E(m.country.as_deref().unwrap_or("—")),
            E(&m.sectors.join(", ")),
            if v.disabled {
                "<strong class=\"status st-failed\">disabled</strong>"
            } else {
                "enabled"
            },
            E(v.source),
        );
    }
    b.push_str("</tbody></table>");
    let _ = write!(
        b,
        "<form class=\"step wide\" method=\"post\" action=\"/ui/admin/members\"><h2>Add a member</h2>{}{}{}{}{}{}\
<button type=\"submit\">Add the member</button></form>",
        csrf_field(&signed),
        text_input("m-id", "id", "Id (letters, digits, -)", " required"),
        text_input("m-name", "name", "Name", " required"),
        text_input(
            "m-identity",
            "identity",
            "STIX identity (empty: a new identity--UUID)",
            ""
        ),
        text_input(
            "m-country",
            "country",
            "Country (ISO 3166 alpha-2, optional)",
            ""
        ),
        text_input(
            "m-sectors",
            "sectors",
            "Sectors (comma-separated, optional)",
            ""
        ),
    );
    framed(&signed, StatusCode::OK, "Members", &b)
}

/// `POST /ui/admin/members`.
pub(super) async fn add_member(
    State(state): State<AppState>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let (admin, f) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let m = MemberConfig {
        id: field(&f, "id").to_owned(),
        name: field(&f, "name").to_owned(),
        identity: field(&f, "identity").to_owned(),
        country: opt(&f, "country"),
        sectors: list(f.get("sectors")),
    };
    match admin.add_member(&actor(&signed), m).await {
        Ok(_) => see_other("/ui/admin/members?done=member-added"),
        Err(e) => {
            let page = members(State(state), signed.clone(), RawQuery(None));
            not_done_form(
                &signed,
                "members",
                &e,
                page,
                "/ui/admin/members",
                &body,
                None,
            )
            .await
        }
    }
}

/// `GET /ui/admin/members/{id}/remove`: the confirmation page.
pub(super) async fn member_confirm(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    if !is_admin(&signed) {
        return forbidden(&signed, &state, "ui/admin/members").await;
    }
    if action != "remove" {
        return super::pages::not_found().await;
    }
    if id == signed.principal().member {
        return own_member(&signed, "remove");
    }
    let admin = match service(&state) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let members = match admin.members().await {
        Ok(m) => m,
        Err(e) => return not_done(&signed, "members", &e),
    };
    let Some(m) = members.iter().find(|m| m.member.id == id) else {
        return missing(&signed, "members", format!("no member `{id}`"));
    };
    confirm_page(
        &signed,
        "members",
        "member",
        &id,
        &m.member.name,
        "Its users and API keys are removed and refused on every node within a second; it leaves \
         every collection's read and write grants, RED recipients and every trust group. What it \
         produced stays, with its markings: its TLP:RED objects stay visible only to the \
         collection's remaining RED recipients, and nobody may publish new versions of them. Its \
         id and STIX identity are never given again. A member operating a peer is not removed \
         (remove the peer first). To refuse its users and keys for a while, disable it instead.",
    )
}

/// `POST /ui/admin/members/{id}/{action}`: `disable`, `enable`, `remove`.
pub(super) async fn member_action(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (admin, _) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let who = actor(&signed);
    let own = id == signed.principal().member;
    let (result, done) = match action.as_str() {
        "disable" | "enable" => {
            let disable = action == "disable";
            if own && disable {
                return own_member(&signed, "disable");
            }
            (
                admin.set_member_disabled(&who, &id, disable).await,
                if disable {
                    "member-disabled"
                } else {
                    "member-enabled"
                },
            )
        }
        "remove" => {
            if own {
                return own_member(&signed, "remove");
            }
            (admin.remove_member(&who, &id).await, "member-removed")
        }
        _ => return super::pages::not_found().await,
    };
    match result {
        Ok(_) => see_other(&format!("/ui/admin/members?done={done}")),
        Err(e) => not_done(&signed, "members", &e),
    }
}

/// `GET /ui/admin/users`.
pub(super) async fn users(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    let (admin, config) = match current(&signed, &state).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let users = match admin.users().await {
        Ok(u) => u,
        Err(e) => return not_done(&signed, "users", &e),
    };
    let mut b = head("users", raw);
    b.push_str("<table><thead><tr><th scope=\"col\">User</th><th scope=\"col\">Member</th><th scope=\"col\">Role</th>\
<th scope=\"col\">State</th><th scope=\"col\">Defined in</th><th scope=\"col\">Actions</th></tr></thead><tbody>");
    for (i, u) in users.iter().enumerate() {
        let base = format!("/ui/admin/users/{}", pct(&u.name));
        let toggle = if u.disabled {
            button(
                &signed,
                &format!("{base}/enable"),
                "Enable",
                &format!("Enable {}", u.name),
            )
        } else {
            button(
                &signed,
                &format!("{base}/disable"),
                "Disable",
                &format!("Disable {}", u.name),
            )
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"actions\">{toggle}{}\
<form class=\"inline\" method=\"post\" action=\"{}\">{}<label for=\"pw-{i}\">New password for {}\
<input id=\"pw-{i}\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"1024\" required></label>\
<button type=\"submit\">Set</button></form></td></tr>",
            E(&u.name),
            E(&u.member),
            E(u.role.as_str()),
            if u.disabled { "disabled" } else { "enabled" },
            E(u.source),
            button(
                &signed,
                &format!("{base}/remove"),
                "Remove",
                &format!("Remove {}", u.name)
            ),
            E(&format!("{base}/password")),
            csrf_field(&signed),
            E(&u.name),
        );
    }
    b.push_str("</tbody></table>");
    let _ = write!(
        b,
        "<form class=\"step wide\" method=\"post\" action=\"/ui/admin/users\"><h2>Add a user</h2>{}{}{}{}\
<label for=\"u-password\">Password (at least 8 characters, not a common one, not the user name)\
<input id=\"u-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"1024\" required></label>\
<button type=\"submit\">Add the user</button></form>",
        csrf_field(&signed),
        text_input(
            "u-name",
            "name",
            "User name",
            " required autocomplete=\"off\""
        ),
        members_select(&config, "u-member", "member", "Member", None),
        roles_select("u-role"),
    );
    framed(&signed, StatusCode::OK, "Users", &b)
}

/// `POST /ui/admin/users`.
pub(super) async fn add_user(
    State(state): State<AppState>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let (admin, f) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(role) = role_of(field(&f, "role")) else {
        let e = invalid_error("role: reader, contributor or admin");
        let page = users(State(state), signed.clone(), RawQuery(None));
        return not_done_form(
            &signed,
            "users",
            &e,
            page,
            "/ui/admin/users",
            &body,
            Some("role"),
        )
        .await;
    };
    let password = f.get("password").map(String::as_str).unwrap_or("");
    match admin
        .add_user(
            &actor(&signed),
            field(&f, "name"),
            field(&f, "member"),
            role,
            password,
        )
        .await
    {
        Ok(()) => see_other("/ui/admin/users?done=user-added"),
        Err(e) => {
            let page = users(State(state), signed.clone(), RawQuery(None));
            not_done_form(&signed, "users", &e, page, "/ui/admin/users", &body, None).await
        }
    }
}

/// `POST /ui/admin/users/{name}/{action}`: `disable`, `enable`, `remove`, `password`.
pub(super) async fn user_action(
    State(state): State<AppState>,
    signed: Signed,
    Path((name, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (admin, f) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let user = name.clone();
    let who = actor(&signed);
    let (result, done) = match action.as_str() {
        "disable" | "enable" => (
            admin
                .apply(
                    &who,
                    Change::SetUserDisabled {
                        name,
                        disabled: action == "disable",
                    },
                )
                .await
                .map(|_| ()),
            if action == "disable" {
                "user-disabled"
            } else {
                "user-enabled"
            },
        ),
        "remove" => (
            admin
                .apply(&who, Change::RemoveUser(name))
                .await
                .map(|_| ()),
            "user-removed",
        ),
        "password" => (
            admin
                .reset_password(
                    &who,
                    &name,
                    f.get("password").map(String::as_str).unwrap_or(""),
                )
                .await,
            "password-reset",
        ),
        _ => return super::pages::not_found().await,
    };
    match result {
        Ok(()) => see_other(&format!("/ui/admin/users?done={done}")),
        Err(e) if done == "password-reset" => {
            let form = format!("/ui/admin/users/{}/password", pct(&user));
            let page = users(State(state), signed.clone(), RawQuery(None));
            not_done_form(&signed, "users", &e, page, &form, &body, Some("password")).await
        }
        Err(e) => not_done(&signed, "users", &e),
    }
}

/// `GET /ui/admin/keys`.
pub(super) async fn keys(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    let (admin, config) = match current(&signed, &state).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let keys = match admin.keys().await {
        Ok(k) => k,
        Err(e) => return not_done(&signed, "keys", &e),
    };
    let mut b = head("keys", raw);
    b.push_str("<p class=\"note\">Tokens are never shown here: only their digests are kept. A new or rotated key's token is shown once, when it is made.</p>\
<table><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Member</th><th scope=\"col\">Role</th><th scope=\"col\">Note</th>\
<th scope=\"col\">Expires</th><th scope=\"col\">State</th><th scope=\"col\">Defined in</th><th scope=\"col\">Actions</th></tr></thead><tbody>");
    for k in &keys {
        let st = if k.revoked {
            "revoked"
        } else if k.expired {
            "expired"
        } else {
            "active"
        };
        let base = format!("/ui/admin/keys/{}", pct(&k.id));
        let actions = if k.revoked {
            String::new()
        } else {
            format!(
                "{}{}",
                button(
                    &signed,
                    &format!("{base}/rotate"),
                    "Rotate",
                    &format!("Rotate {}", k.id)
                ),
                button(
                    &signed,
                    &format!("{base}/revoke"),
                    "Revoke",
                    &format!("Revoke {}", k.id)
                )
            )
        };
        let _ = write!(
            b,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{st}</td><td>{}</td><td class=\"actions\">{actions}</td></tr>",
            E(&k.id),
            E(&k.member),
            E(k.role.as_str()),
            E(k.note.as_deref().unwrap_or("")),
            E(k.expires.as_deref().unwrap_or("never")),
            E(k.source),
        );
    }
    b.push_str("</tbody></table>");
    let _ = write!(
        b,
        "<form class=\"step wide\" method=\"post\" action=\"/ui/admin/keys\"><h2>Issue a key</h2>{}{}{}{}{}{}\
<button type=\"submit\">Issue the key</button></form>",
        csrf_field(&signed),
        text_input("k-id", "id", "Key id (letters, digits, -)", " required"),
        members_select(&config, "k-member", "member", "Member", None),
        roles_select("k-role"),
        text_input("k-note", "note", "What it is for (optional)", ""),
        text_input(
            "k-expires",
            "expires",
            "Expires (optional, e.g. 2027-01-31T00:00:00Z)",
            ""
        ),
    );
    framed(&signed, StatusCode::OK, "API keys", &b)
}

/// The answer to issuing or rotating a key: its token, once.
fn token_page(signed: &Signed, k: &IssuedKey, what: &str) -> Response {
    let body = format!(
        "{CSS_LINK}<p class=\"crumbs\"><a href=\"/ui/admin\">Administration</a> › <a href=\"/ui/admin/keys\">API keys</a> ›</p>\
<h1>Key {} {}</h1><p role=\"status\">Copy the token now: it is shown only on this page, which is not stored, \
and cannot be shown again (a lost token is replaced by rotating the key).</p>\
<p><label for=\"token\">Token (use as <code>Authorization: Bearer …</code>)</label><br>\
<input id=\"token\" class=\"token\" readonly size=\"80\" value=\"{}\"></p><p>Expires: {}</p>\
<p><a href=\"/ui/admin/keys\">Back to API keys</a></p>",
        E(&k.id),
        E(what),
        E(&k.token),
        E(k.expires.as_deref().unwrap_or("never"))
    );
    let mut r = framed(signed, StatusCode::OK, "Key issued", &body);
    r.headers_mut().insert(
        axum::http::header::PRAGMA,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    r
}

/// `POST /ui/admin/keys`.
pub(super) async fn issue_key(
    State(state): State<AppState>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let (admin, f) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(role) = role_of(field(&f, "role")) else {
        let e = invalid_error("role: reader, contributor or admin");
        let page = keys(State(state), signed.clone(), RawQuery(None));
        return not_done_form(
            &signed,
            "keys",
            &e,
            page,
            "/ui/admin/keys",
            &body,
            Some("role"),
        )
        .await;
    };
    match admin
        .issue_key(
            &actor(&signed),
            field(&f, "id"),
            field(&f, "member"),
            role,
            opt(&f, "note"),
            opt(&f, "expires"),
        )
        .await
    {
        Ok(k) => token_page(&signed, &k, "issued"),
        Err(e) => {
            let page = keys(State(state), signed.clone(), RawQuery(None));
            not_done_form(&signed, "keys", &e, page, "/ui/admin/keys", &body, None).await
        }
    }
}

/// `POST /ui/admin/keys/{id}/{action}`: `revoke`, `rotate`.
pub(super) async fn key_action(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (admin, _) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let who = actor(&signed);
    match action.as_str() {
        "revoke" => match admin.apply(&who, Change::RevokeKey(id)).await {
            Ok(_) => see_other("/ui/admin/keys?done=key-revoked"),
            Err(e) => not_done(&signed, "keys", &e),
        },
        "rotate" => match admin.rotate_key(&who, &id).await {
            Ok(k) => token_page(&signed, &k, "rotated"),
            Err(e) => not_done(&signed, "keys", &e),
        },
        _ => super::pages::not_found().await,
    }
}

/// `GET /ui/admin/collections`.
pub(super) async fn collections(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    let (admin, config) = match current(&signed, &state).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut b = head("collections", raw);
    b.push_str("<table><thead><tr><th scope=\"col\">Collection</th><th scope=\"col\">API root</th><th scope=\"col\">Trust group</th>\
<th scope=\"col\">Read</th><th scope=\"col\">Write</th><th scope=\"col\">RED recipients</th><th scope=\"col\">Actions</th></tr></thead><tbody>");
    let none = |v: &[String]| {
        if v.is_empty() {
            "—".to_owned()
        } else {
            v.join(", ")
        }
    };
    for c in &config.collections {
        let base = E(&format!("/ui/admin/collections/{}", pct(&c.id))).to_string();
        let _ = write!(
            b,
            "<tr><td><strong>{}</strong>{}<br><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
<td class=\"actions\"><a class=\"button\" href=\"{base}/grants\" aria-label=\"Change grants of {}\">Change grants</a> \
<a class=\"button danger\" href=\"{base}/remove\" aria-label=\"Remove {}\">Remove…</a></td></tr>",
            E(&c.title),
            c.alias
                .as_deref()
                .map(|a| format!(" <span class=\"note\">({})</span>", E(a)))
                .unwrap_or_default(),
            E(&c.id),
            E(&c.api_root),
            E(c.trust_group.as_deref().unwrap_or("—")),
            E(&none(&c.read)),
            E(&none(&c.write)),
            E(&none(&c.red_recipients)),
            E(&c.title),
            E(&c.title),
        );
    }
    b.push_str("</tbody></table>");
    let roots: Vec<(String, String)> = admin
        .bootstrap()
        .api_roots
        .iter()
        .map(|r| (r.name.clone(), r.title.clone()))
        .collect();
    let default_root = admin
        .bootstrap()
        .api_roots
        .iter()
        .find(|r| r.default)
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let groups: Vec<(String, String)> = config
        .trust_groups
        .iter()
        .map(|g| (g.id.clone(), g.id.clone()))
        .collect();
    let _ = write!(
        b,
        "<form class=\"step wide\" method=\"post\" action=\"/ui/admin/collections\"><h2>Add a collection</h2>\
<p class=\"note\">Its id is generated. Read and write take member ids, trust group ids or <code>*</code> (every member); \
RED recipients are the members that may see its TLP:RED objects besides their producer.</p>{}{}{}{}{}{}{}{}{}\
<button type=\"submit\">Add the collection</button></form>",
        csrf_field(&signed),
        text_input("c-title", "title", "Title", " required"),
        select(
            "api_root",
            "c-root",
            "API root",
            &default_root,
            &roots,
            None
        ),
        text_input("c-description", "description", "Description (optional)", ""),
        text_input("c-alias", "alias", "Alias (optional)", ""),
        select(
            "trust_group",
            "c-group",
            "Trust group",
            "",
            &groups,
            Some("none")
        ),
        text_input("c-read", "read", "Read (comma-separated)", ""),
        text_input("c-write", "write", "Write (comma-separated)", ""),
        text_input(
            "c-red",
            "red_recipients",
            "RED recipients (comma-separated members)",
            ""
        ),
    );
    framed(&signed, StatusCode::OK, "Collections", &b)
}

/// `POST /ui/admin/collections`.
pub(super) async fn add_collection(
    State(state): State<AppState>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let (admin, f) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // No API root chosen: the default one, as the admin API does.
    let api_root = match field(&f, "api_root") {
        "" => admin
            .bootstrap()
            .api_roots
            .iter()
            .find(|r| r.default)
            .or_else(|| admin.bootstrap().api_roots.first())
            .map(|r| r.name.clone())
            .unwrap_or_default(),
        r => r.to_owned(),
    };
    let c = NewCollection {
        api_root,
        title: field(&f, "title").to_owned(),
        description: opt(&f, "description"),
        alias: opt(&f, "alias"),
        trust_group: opt(&f, "trust_group"),
        read: list(f.get("read")),
        write: list(f.get("write")),
        red_recipients: list(f.get("red_recipients")),
    };
    match admin.add_collection(&actor(&signed), c).await {
        Ok(_) => see_other("/ui/admin/collections?done=collection-added"),
        Err(e) => {
            let page = collections(State(state), signed.clone(), RawQuery(None));
            not_done_form(
                &signed,
                "collections",
                &e,
                page,
                "/ui/admin/collections",
                &body,
                None,
            )
            .await
        }
    }
}

/// The collection `id` names (any case), or the page saying there is none.
#[allow(clippy::result_large_err)]
async fn collection_of(
    signed: &Signed,
    state: &AppState,
    id: &str,
) -> Result<(Admin, Config, usize), Response> {
    let (admin, config) = current(signed, state).await?;
    match config
        .collections
        .iter()
        .position(|c| c.id.eq_ignore_ascii_case(id))
    {
        Some(i) => Ok((admin, config, i)),
        None => Err(missing(
            signed,
            "collections",
            format!("no collection `{id}`"),
        )),
    }
}

/// `GET /ui/admin/collections/{id}/remove`: the confirmation page.
pub(super) async fn collection_confirm(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let (_, config, i) = match collection_of(&signed, &state, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let c = &config.collections[i];
    confirm_page(
        &signed,
        "collections",
        "collection",
        &c.id,
        &c.title,
        "Only an empty collection is removed: while it holds any object version, or while a peer \
         syncs it, the removal is refused and nothing changes. Delete its objects first (TAXII \
         DELETE, by their producers or an admin). Its id is not given again.",
    )
}

/// `POST /ui/admin/collections/{id}/remove`.
pub(super) async fn remove_collection(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (admin, _) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match admin.remove_collection(&actor(&signed), &id).await {
        Ok(_) => see_other("/ui/admin/collections?done=collection-removed"),
        Err(e) => not_done(&signed, "collections", &e),
    }
}

/// A text input holding `value` (no length limit: a grant list can be long; the form's size is
/// bounded by [`check_form`]).
fn list_input(id: &str, name: &str, label: &str, value: &[String]) -> String {
    format!(
        "<label for=\"{id}\">{}<input id=\"{id}\" name=\"{name}\" value=\"{}\" size=\"60\"></label>",
        E(label),
        E(&value.join(", "))
    )
}

/// `GET /ui/admin/collections/{id}/grants`: the form, pre-filled with the current grants.
pub(super) async fn grants_form(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let (_, config, i) = match collection_of(&signed, &state, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let c = &config.collections[i];
    let members: Vec<&str> = config.members.iter().map(|m| m.id.as_str()).collect();
    let groups: Vec<&str> = config.trust_groups.iter().map(|g| g.id.as_str()).collect();
    let title = format!("Grants of {}", c.title);
    let body = format!(
        "{CSS_LINK}<p class=\"crumbs\"><a href=\"/ui/admin\">Administration</a> › <a href=\"/ui/admin/collections\">Collections</a> ›</p>\
<h1>{}</h1><p class=\"note\">Collection <code>{}</code>. The three lists replace the current ones whole, in force on every node \
within a second. Read and write take member ids, trust group ids or <code>*</code> (every member); RED recipients are the \
members or trust groups that see its TLP:RED objects besides their producer (not <code>*</code>). Separate names by commas.</p>\
<p class=\"note\">Members: {}. Trust groups: {}.</p>\
<form class=\"step wide\" method=\"post\" action=\"{}\">{}{}{}{}\
<button type=\"submit\">Replace the grants</button></form>\
<p><a href=\"/ui/admin/collections\">Cancel: back to Collections</a></p>",
        E(&title),
        E(&c.id),
        E(&members.join(", ")),
        E(if groups.is_empty() {
            "none".to_owned()
        } else {
            groups.join(", ")
        }
        .as_str()),
        E(&format!("/ui/admin/collections/{}/grants", pct(&c.id))),
        csrf_field(&signed),
        list_input("gr-read", "read", "Read", &c.read),
        list_input("gr-write", "write", "Write", &c.write),
        list_input(
            "gr-red",
            "red_recipients",
            "RED recipients",
            &c.red_recipients
        ),
    );
    framed(&signed, StatusCode::OK, &title, &body)
}

/// `POST /ui/admin/collections/{id}/grants`.
pub(super) async fn set_grants(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (admin, f) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let grants = CollectionGrants {
        id: id.clone(),
        read: list(f.get("read")),
        write: list(f.get("write")),
        red_recipients: list(f.get("red_recipients")),
    };
    match admin.set_collection_grants(&actor(&signed), grants).await {
        Ok(_) => see_other("/ui/admin/collections?done=grants-changed"),
        Err(e) => {
            let form = format!("/ui/admin/collections/{}/grants", pct(&id));
            let page = grants_form(State(state), signed.clone(), Path(id));
            not_done_form(&signed, "collections", &e, page, &form, &body, None).await
        }
    }
}

/// `GET /ui/admin/trust-groups`.
pub(super) async fn trust_groups(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    let (_, config) = match current(&signed, &state).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut b = head("trust-groups", raw);
    b.push_str("<table><thead><tr><th scope=\"col\">Trust group</th><th scope=\"col\">Members</th><th scope=\"col\">Description</th>\
<th scope=\"col\">Actions</th></tr></thead><tbody>");
    for g in &config.trust_groups {
        let _ = write!(
            b,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"actions\">\
<a class=\"button danger\" href=\"{}\" aria-label=\"Remove trust group {}\">Remove…</a></td></tr>",
            E(&g.id),
            E(&g.members.join(", ")),
            E(g.description.as_deref().unwrap_or("")),
            E(&format!("/ui/admin/trust-groups/{}/remove", pct(&g.id))),
            E(&g.id),
        );
    }
    b.push_str("</tbody></table>");
    let _ = write!(
        b,
        "<form class=\"step wide\" method=\"post\" action=\"/ui/admin/trust-groups\"><h2>Add a trust group</h2>{}{}{}{}\
<button type=\"submit\">Add the trust group</button></form>",
        csrf_field(&signed),
        text_input("g-id", "id", "Id (letters, digits, -)", " required"),
        text_input(
            "g-members",
            "members",
            "Members (comma-separated ids)",
            " required"
        ),
        text_input("g-description", "description", "Description (optional)", ""),
    );
    framed(&signed, StatusCode::OK, "Trust groups", &b)
}

/// `POST /ui/admin/trust-groups`.
pub(super) async fn add_trust_group(
    State(state): State<AppState>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let (admin, f) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let g = TrustGroupConfig {
        id: field(&f, "id").to_owned(),
        members: list(f.get("members")),
        description: opt(&f, "description"),
    };
    match admin.apply(&actor(&signed), Change::AddTrustGroup(g)).await {
        Ok(_) => see_other("/ui/admin/trust-groups?done=trust-group-added"),
        Err(e) => {
            let page = trust_groups(State(state), signed.clone(), RawQuery(None));
            not_done_form(
                &signed,
                "trust-groups",
                &e,
                page,
                "/ui/admin/trust-groups",
                &body,
                None,
            )
            .await
        }
    }
}

/// `GET /ui/admin/trust-groups/{id}/remove`: the confirmation page.
pub(super) async fn trust_group_confirm(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let (_, config) = match current(&signed, &state).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(g) = config.trust_groups.iter().find(|g| g.id == id) else {
        return missing(&signed, "trust-groups", format!("no trust group `{id}`"));
    };
    let shared: Vec<&str> = config
        .collections
        .iter()
        .filter(|c| {
            c.trust_group.as_deref() == Some(id.as_str())
                || [&c.read, &c.write, &c.red_recipients]
                    .iter()
                    .any(|l| l.contains(&id))
        })
        .map(|c| c.title.as_str())
        .collect();
    confirm_page(
        &signed,
        "trust-groups",
        "trust group",
        &g.id,
        g.description.as_deref().unwrap_or(""),
        &format!(
            "Its members stay; it leaves every collection's read and write grants and RED \
             recipients, and the collections shared with it no longer are: their TLP:AMBER objects \
             then leave by sync to no peer until another trust group is set. Its id is not given \
             again. Collections naming it: {}.",
            if shared.is_empty() {
                "none".to_owned()
            } else {
                shared.join(", ")
            }
        ),
    )
}

/// `POST /ui/admin/trust-groups/{id}/remove`.
pub(super) async fn remove_trust_group(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (admin, _) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match admin.remove_trust_group(&actor(&signed), &id).await {
        Ok(_) => see_other("/ui/admin/trust-groups?done=trust-group-removed"),
        Err(e) => not_done(&signed, "trust-groups", &e),
    }
}

/// `GET /ui/admin/peers`.
pub(super) async fn peers(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    let (_, config) = match current(&signed, &state).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut b = head("peers", raw);
    b.push_str("<table><thead><tr><th scope=\"col\">Peer</th><th scope=\"col\">Member</th><th scope=\"col\">Credentials</th>\
<th scope=\"col\">Its pulls here as</th><th scope=\"col\">Mappings</th><th scope=\"col\">Actions</th></tr></thead><tbody>");
    for p in &config.peers {
        let creds = if p.token.is_some() {
            "token (set)".to_owned()
        } else if let Some(env) = &p.token_env {
            format!("token from ${env}")
        } else if let Some(env) = &p.password_env {
            format!(
                "{} with password from ${env}",
                p.username.as_deref().unwrap_or("?")
            )
        } else if p.password.is_some() {
            format!(
                "{} with password (set)",
                p.username.as_deref().unwrap_or("?")
            )
        } else {
            "none".to_owned()
        };
        let maps: Vec<String> = p
            .collections
            .iter()
            .map(|m| {
                format!(
                    "{} {} {} every {} s",
                    m.local,
                    match m.direction {
                        crate::config::Direction::Pull => "←",
                        crate::config::Direction::Push => "→",
                        crate::config::Direction::Both => "↔",
                    },
                    m.remote,
                    m.interval_seconds
                )
            })
            .collect();
        let _ = write!(
            b,
            "<tr><td><strong>{}</strong><br><span class=\"note\">{} · root {}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"actions\">{}</td></tr>",
            E(&p.name),
            E(&p.url),
            E(&p.api_root),
            E(&p.member),
            E(&creds),
            E(p.inbound_actor.as_deref().unwrap_or("—")),
            maps.iter()
                .map(|m| E(m).to_string())
                .collect::<Vec<_>>()
                .join("<br>"),
            button(
                &signed,
                &format!("/ui/admin/peers/{}/remove", pct(&p.name)),
                "Remove",
                &format!("Remove {}", p.name)
            ),
        );
    }
    b.push_str("</tbody></table>");
    let _ = write!(
        b,
        "<form class=\"step wide\" method=\"post\" action=\"/ui/admin/peers\"><h2>Add a peer</h2>\
<p class=\"note\">Secrets are not typed here: name the environment variable of <code>serve</code> that holds the token \
(or the password). Mappings: one per line, <code>local remote direction [seconds]</code>, direction <code>pull</code>, \
<code>push</code> or <code>both</code>.</p>{}{}{}{}{}{}{}{}{}\
<label for=\"p-maps\">Mappings<textarea id=\"p-maps\" name=\"mappings\" rows=\"3\" cols=\"60\"></textarea></label>\
<button type=\"submit\">Add the peer</button></form>",
        csrf_field(&signed),
        text_input("p-name", "name", "Name", " required"),
        text_input("p-url", "url", "URL (https://…)", " required"),
        text_input("p-root", "api_root", "Its API root", " required"),
        members_select(&config, "p-member", "member", "Member operating it", None),
        text_input("p-token-env", "token_env", "Token environment variable", ""),
        text_input("p-user", "username", "Or: user name", ""),
        text_input(
            "p-password-env",
            "password_env",
            "and password environment variable",
            ""
        ),
        text_input(
            "p-inbound",
            "inbound_actor",
            "Its pulls here come as (key:ID or a user, optional)",
            ""
        ),
    );
    framed(&signed, StatusCode::OK, "Peers", &b)
}

/// The peer a form describes (the configuration's own parser, so its defaults and checks).
fn peer_of(f: &std::collections::HashMap<String, String>) -> Result<PeerConfig, String> {
    let mut mappings = Vec::new();
    for (n, line) in field(f, "mappings").lines().enumerate() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.is_empty() {
            continue;
        }
        if !(3..=4).contains(&w.len()) {
            return Err(format!(
                "mapping line {}: `local remote direction [seconds]`",
                n + 1
            ));
        }
        let mut m = json!({ "local": w[0], "remote": w[1], "direction": w[2] });
        if let Some(s) = w.get(3) {
            let secs: u64 = s
                .parse()
                .map_err(|_| format!("mapping line {}: seconds must be a number", n + 1))?;
            m["interval_seconds"] = json!(secs);
        }
        mappings.push(m);
    }
    let mut v = json!({
        "name": field(f, "name"),
        "url": field(f, "url"),
        "api_root": field(f, "api_root"),
        "member": field(f, "member"),
        "collections": mappings,
    });
    for k in ["username", "password_env", "token_env", "inbound_actor"] {
        if let Some(x) = opt(f, k) {
            v[k] = Value::String(x);
        }
    }
    serde_json::from_value(v).map_err(|e| format!("the peer is not complete: {e}"))
}

/// `POST /ui/admin/peers`.
pub(super) async fn add_peer(
    State(state): State<AppState>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let (admin, f) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let peer = match peer_of(&f) {
        Ok(p) => p,
        Err(why) => {
            let e = invalid_error(&why);
            let page = peers(State(state), signed.clone(), RawQuery(None));
            return not_done_form(&signed, "peers", &e, page, "/ui/admin/peers", &body, None).await;
        }
    };
    match admin.apply(&actor(&signed), Change::AddPeer(peer)).await {
        Ok(_) => see_other("/ui/admin/peers?done=peer-added"),
        Err(e) => {
            let page = peers(State(state), signed.clone(), RawQuery(None));
            not_done_form(&signed, "peers", &e, page, "/ui/admin/peers", &body, None).await
        }
    }
}

/// `POST /ui/admin/peers/{name}/remove`.
pub(super) async fn remove_peer(
    State(state): State<AppState>,
    signed: Signed,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let (admin, _) = match post_start(&signed, &state, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match admin.apply(&actor(&signed), Change::RemovePeer(name)).await {
        Ok(_) => see_other("/ui/admin/peers?done=peer-removed"),
        Err(e) => not_done(&signed, "peers", &e),
    }
}
