//! Building HTML safely: [`E`] escapes any text for element content and quoted attributes,
//! [`object_href`] makes a link to an object page, [`safe_url`] lets only `http`/`https` external links through,
//! and [`layout`] wraps a page's body in the shared frame (TLP banners top and bottom,
//! navigation, skip link, sign-out form). Data never reaches a page without [`E`].

use std::fmt::{self, Write as _};

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use stix::tlp::TlpLevel;

/// Text escaped for HTML element content and double- or single-quoted attribute values.
pub struct E<'a>(pub &'a str);

impl fmt::Display for E<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = 0;
        for (i, c) in self.0.char_indices() {
            let rep = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&self.0[last..i])?;
            f.write_str(rep)?;
            last = i + c.len_utf8();
        }
        f.write_str(&self.0[last..])
    }
}

/// Percent-encodes a query or path component (everything but unreserved characters). A space
/// becomes `%20`, not the form encoding's `+`, which a path segment does not decode back to a
/// space (a literal `+` is `%2B` either way).
pub fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The console link to object `id` (escaped for an attribute).
pub fn object_href(id: &str) -> String {
    format!("/ui/objects/{}", pct(id))
}

/// `url` when it is an absolute `http`/`https` URL without characters that could break out of
/// an attribute or hide a scheme; `None` otherwise (shown as text, not linked).
pub fn safe_url(url: &str) -> Option<&str> {
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let ok_scheme = lower.starts_with("https://") || lower.starts_with("http://");
    let clean = url.len() <= 2048
        && !url.chars().any(|c| {
            c.is_control() || c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`')
        });
    (ok_scheme && clean).then_some(url)
}

/// TLP 2.0's colour for a level (on black).
pub fn tlp_colour(level: TlpLevel) -> &'static str {
    match level {
        TlpLevel::Red => "#FF2B2B",
        TlpLevel::Amber | TlpLevel::AmberStrict => "#FFC000",
        TlpLevel::Green => "#33FF00",
        TlpLevel::Clear => "#FFFFFF",
    }
}

/// A TLP label as TLP 2.0 shows it: capitals, the level's colour on black.
pub fn tlp_badge(level: TlpLevel) -> String {
    format!(
        "<span class=\"tlp tlp-{}\" data-tlp=\"{}\">{}</span>",
        level.value().replace('+', "-"),
        level.name(),
        level.name()
    )
}

/// The most restrictive TLP shown on a page so far (`TLP:CLEAR` when nothing marked is shown).
#[derive(Debug, Clone, Copy, Default)]
pub struct Banner(pub Option<TlpLevel>);

impl Banner {
    /// Notes a level shown.
    pub fn see(&mut self, level: TlpLevel) {
        self.0 = self.0.max(Some(level));
    }
    /// The level the page is labelled with.
    pub fn level(self) -> TlpLevel {
        self.0.unwrap_or(TlpLevel::Clear)
    }
}

/// Who the page is for (absent on the sign-in page).
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// User name.
    pub user: &'a str,
    /// Member id and name.
    pub member: &'a str,
    /// Role.
    pub role: &'a str,
    /// The session's CSRF token (the sign-out form carries it).
    pub csrf: &'a str,
    /// The navigation entry to mark current (`home`, `search`, `collections`, …).
    pub current: &'a str,
}

/// The navigation: (key, path, label). A new top-level page adds itself here.
pub const NAV: &[(&str, &str, &str)] = &[
    ("home", "/ui/", "Coalition picture"),
    ("search", "/ui/search", "Search"),
    ("collections", "/ui/collections", "Collections"),
    ("incidents", "/ui/incidents", "Incidents"),
    ("disarm", "/ui/disarm", "Counter-FIMI"),
    ("assist", "/ui/assist", "Assistance"),
];

/// The navigation's entries shown to admins only (the pages themselves refuse anyone else).
pub const ADMIN_NAV: &[(&str, &str, &str)] = &[
    ("admin", "/ui/admin", "Administration"),
    ("federation", "/ui/federation", "Federation"),
];

/// A whole page: the frame around `body`, labelled top and bottom with `banner`'s level.
pub fn layout(frame: Option<&Frame<'_>>, title: &str, banner: Banner, body: &str) -> String {
    let level = banner.level();
    let mut o = String::with_capacity(body.len() + 4096);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} — Shieldwall</title><link rel=\"stylesheet\" href=\"/ui/static/console.css\"></head>\
<body><a class=\"skip\" href=\"#main\">Skip to content</a>\
<header><div class=\"banner\" role=\"note\" aria-label=\"Classification\">{}</div><div class=\"top\">\
<a class=\"brand\" href=\"/ui/\">Shieldwall</a>",
        E(title),
        tlp_badge(level)
    );
    if let Some(f) = frame {
        o.push_str("<nav aria-label=\"Main\"><ul>");
        let admin: &[(&str, &str, &str)] = if f.role == "admin" { ADMIN_NAV } else { &[] };
        for (key, path, label) in NAV.iter().chain(admin) {
            let cur = if *key == f.current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(o, "<li><a href=\"{path}\"{cur}>{}</a></li>", E(label));
        }
        let _ = write!(
            o,
            "</ul></nav><div class=\"who\"><span>{} · {} · {}</span>\
<form method=\"post\" action=\"/ui/sign-out\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<button type=\"submit\">Sign out</button></form></div>",
            E(f.user),
            E(f.member),
            E(f.role),
            E(f.csrf)
        );
    }
    let _ = write!(
        o,
        "</div></header><main id=\"main\" tabindex=\"-1\">{body}</main>\
<footer><div class=\"banner\" role=\"note\" aria-label=\"Classification\">{}</div>\
<p>Shieldwall — what is shown is only what your member may see under the coalition's TLP policy; \
the label is the most restrictive TLP on this page.</p></footer></body></html>",
        tlp_badge(level)
    );
    o
}

/// An HTML response (the console's headers are added by its middleware).
pub fn html(status: StatusCode, page: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// A `303 See Other` to a console path.
pub fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Formats microseconds since the epoch as an RFC 3339 UTC time to the second.
pub fn time_us(us: i64) -> String {
    stix::Timestamp::from_unix(us.div_euclid(1_000_000), 0, 0)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pct_encodes_a_space_as_percent_20_for_paths_and_queries() {
        assert_eq!(pct("a b+c/d?e&f"), "a%20b%2Bc%2Fd%3Fe%26f");
        assert_eq!(pct("indicator--1"), "indicator--1");
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            E("<script>alert('x')</script>&\"").to_string(),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(E("plain é").to_string(), "plain é");
    }

    #[test]
    fn only_http_links_are_links() {
        assert!(safe_url("https://example.org/a?b=c").is_some());
        assert!(safe_url("HTTP://example.org").is_some());
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "https://a\" onmouseover=\"x",
            " https://a",
            "//evil.example",
            "vbscript:x",
        ] {
            assert!(safe_url(bad).is_none(), "{bad}");
        }
    }
}
