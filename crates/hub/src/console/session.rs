//! Console sessions: random 256-bit ids in an `HttpOnly`, `SameSite=Strict` cookie (`Secure`
//! under TLS), kept server-side under their SHA-256 digest with an idle and an absolute expiry,
//! each with its own CSRF token. A session is re-checked against the live configuration on every
//! request: when its user is gone (or changed member or role) after a reload, it ends.
//!
//! The sign-in form, which has no session yet, is protected by a double-submit token: a random
//! value in a short-lived `HttpOnly`, `SameSite=Strict` cookie that the form must repeat.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::html::{pct, see_other};
use crate::{coalition::User, policy::Principal, taxii::AppState};

/// The session cookie.
pub const COOKIE: &str = "sw_session";
/// The sign-in form's double-submit cookie.
pub const PRE_COOKIE: &str = "sw_signin";
/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after sign-in, whatever happens.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most (beyond, expired ones go, then the oldest).
const MAX_SESSIONS: usize = 10_000;

/// One signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub principal: Principal,
    /// The token every form of this session carries.
    pub csrf: String,
    /// A digest of the password hash the user signed in with: a new password ends the session.
    credential: [u8; 32],
    created: Instant,
    last: Instant,
}

/// The server-side session store (shared across configuration reloads).
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<[u8; 32], Session>>>,
}

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system provides random bytes");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Constant-time comparison of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Session {
    /// Whether the session still stands under the configuration's `users`: its user is there,
    /// with the same member, role and password (removed, disabled, moved or given a new password:
    /// signed out). Checked on every request and when a reload swaps the configuration.
    pub fn valid_for(&self, users: &HashMap<String, User>) -> bool {
        let p = &self.principal;
        users.get(&p.actor).is_some_and(|u| {
            u.member == p.member
                && u.role == p.role
                && bool::from(credential(&u.password_hash).ct_eq(&self.credential))
        })
    }
}

fn credential(password_hash: &str) -> [u8; 32] {
    Sha256::digest(password_hash.as_bytes()).into()
}

impl Sessions {
    /// Starts a session for `principal`, signed in with the password whose stored hash is
    /// `password_hash`; returns its id (for the cookie).
    pub fn start(&self, principal: Principal, password_hash: &str) -> String {
        let id = random_token();
        let now = Instant::now();
        let s = Session {
            principal,
            csrf: random_token(),
            credential: credential(password_hash),
            created: now,
            last: now,
        };
        if let Ok(mut m) = self.inner.lock() {
            if m.len() >= MAX_SESSIONS {
                m.retain(|_, s| live(s, now));
                if m.len() >= MAX_SESSIONS
                    && let Some(oldest) = m.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| *k)
                {
                    m.remove(&oldest);
                }
            }
            m.insert(key(&id), s);
        }
        id
    }

    /// The live session `id`, its idle time renewed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut m = self.inner.lock().ok()?;
        let k = key(id);
        match m.get_mut(&k) {
            Some(s) if live(s, now) => {
                s.last = now;
                Some(s.clone())
            }
            Some(_) => {
                m.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends session `id`.
    pub fn end(&self, id: &str) {
        if let Ok(mut m) = self.inner.lock() {
            m.remove(&key(id));
        }
    }

    /// Ends every session that is no longer [valid](Session::valid_for) under `users` (after a
    /// reload).
    pub fn retain_valid(&self, users: &HashMap<String, User>) {
        if let Ok(mut m) = self.inner.lock() {
            m.retain(|_, s| s.valid_for(users));
        }
    }

    /// Sessions open.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn live(s: &Session, now: Instant) -> bool {
    now.saturating_duration_since(s.last) < IDLE
        && now.saturating_duration_since(s.created) < ABSOLUTE
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, path `/ui/`, `Secure` under TLS;
/// `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/ui/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Whether the node serves HTTPS (cookies get `Secure`).
pub fn is_tls(state: &AppState) -> bool {
    state.base_url.starts_with("https://")
}

/// The signed-in user of a console request. Without a live session the request is answered
/// with a redirect to the sign-in page (which comes back here after).
#[derive(Debug, Clone)]
pub struct Signed {
    /// The session's id (from the cookie).
    pub id: String,
    /// The session.
    pub session: Session,
}

impl Signed {
    /// The principal.
    pub fn principal(&self) -> &Principal {
        &self.session.principal
    }

    /// Checks a submitted form's CSRF token against the session's.
    pub fn check_csrf(&self, submitted: Option<&str>) -> bool {
        submitted.is_some_and(|t| same_token(t, &self.session.csrf))
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let to_sign_in = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .filter(|p| p.len() <= 1024 && parts.method == axum::http::Method::GET)
                .unwrap_or("/ui/");
            see_other(&format!("/ui/sign-in?next={}", pct(next))).into_response()
        };
        let Some(id) = cookie(&parts.headers, COOKIE).filter(|v| v.len() == 64) else {
            return Err(to_sign_in());
        };
        let Some(session) = state.console.sessions.get(id) else {
            return Err(to_sign_in());
        };
        // Re-checked against the live configuration: a user removed, disabled, moved to another
        // member or role, or given a new password is signed out.
        if !session.valid_for(&state.coalition.users) {
            state.console.sessions.end(id);
            return Err(to_sign_in());
        }
        Ok(Signed {
            id: id.to_owned(),
            session,
        })
    }
}

/// Where to go after signing in: a console path only (`/ui/…`, no scheme, no host, no
/// backslash), else the home page.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/ui/")
                && n.len() <= 1024
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace())
                && !n.contains("/..")
                && !n.starts_with("/ui/sign-") =>
        {
            n.to_owned()
        }
        _ => "/ui/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_in_the_console() {
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "/ui//evil.example",
            "/ui/\\evil",
            "/taxii2/",
            "/ui/../x",
            "/ui/sign-in?next=https://e",
            "javascript:alert(1)",
            "/ui/x\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui/", "{bad}");
        }
        assert_eq!(
            safe_next(Some("/ui/search?q=a")),
            "/ui/search?q=a".to_owned()
        );
        assert_eq!(safe_next(None), "/ui/");
    }

    #[test]
    fn sessions_end_and_expire() {
        let s = Sessions::default();
        let p = Principal {
            member: "m".into(),
            role: crate::config::Role::Reader,
            actor: "u".into(),
        };
        let user = |hash: &str| User {
            name: "u".into(),
            member: "m".into(),
            role: crate::config::Role::Reader,
            password_hash: hash.into(),
        };
        let users = |hash: &str| HashMap::from([("u".to_owned(), user(hash))]);
        let id = s.start(p.clone(), "$argon2id$old");
        assert_eq!(id.len(), 64);
        assert!(s.get(&id).is_some());
        assert!(s.get(&random_token()).is_none());
        s.retain_valid(&users("$argon2id$old"));
        assert!(s.get(&id).is_some(), "same user, same password");
        s.retain_valid(&users("$argon2id$new"));
        assert!(s.get(&id).is_none(), "a new password ends the session");
        let id = s.start(p.clone(), "$argon2id$old");
        s.retain_valid(&HashMap::new());
        assert!(s.get(&id).is_none(), "a removed user's session ends");
        let id = s.start(p, "$argon2id$old");
        s.end(&id);
        assert!(s.get(&id).is_none());
    }
}
