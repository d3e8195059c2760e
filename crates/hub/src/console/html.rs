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

/// A refused form, answered with itself: the page it is on rendered again, with that form
/// (found by its `action`) holding what was typed — every text input, text area, choice and
/// box — and the mistake said at its top (`role="alert"`) and next to its field, which is marked
/// `aria-invalid`. Everything put back is escaped with [`E`]; hidden inputs (the CSRF token
/// among them) keep the values the page gave them.
#[derive(Debug, Clone)]
pub struct Refill<'a> {
    /// The form's `action` (unescaped).
    pub action: &'a str,
    /// What was typed, in order (a repeated name, as check boxes send, once per value).
    pub typed: Vec<(String, String)>,
    /// The field at fault (its `name`), when known.
    pub field: Option<&'a str>,
    /// Why the form was refused.
    pub message: &'a str,
}

/// `s` with the entities [`E`] writes decoded.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in tag `tag` (`<x a="…" …>`), unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')? + i;
    Some(unescape(&tag[i..j]))
}

/// `tag` without attribute `name` (`name="…"`, or the bare `name`).
fn without_attr(tag: &str, name: &str) -> String {
    let key = format!(" {name}=\"");
    if let Some(i) = tag.find(&key)
        && let Some(j) = tag[i + key.len()..].find('"')
    {
        return format!("{}{}", &tag[..i], &tag[i + key.len() + j + 1..]);
    }
    for end in [" ", ">"] {
        let bare = format!(" {name}{end}");
        if let Some(i) = tag.find(&bare) {
            return format!("{}{}", &tag[..i], &tag[i + name.len() + 1..]);
        }
    }
    tag.to_owned()
}

/// `tag` (ending in `>`) with `extra` added before its end.
fn with_attr(tag: &str, extra: &str) -> String {
    let t = tag.strip_suffix('>').unwrap_or(tag);
    format!("{t}{extra}>")
}

impl Refill<'_> {
    /// The last value typed for `name`.
    fn value(&self, name: &str) -> Option<&str> {
        self.typed
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str, value: &str) -> bool {
        self.typed.iter().any(|(k, v)| k == name && v == value)
    }

    /// The control `tag` marked as the field at fault (its id is `id`).
    fn mark(&self, tag: String, name: &str, id: &str) -> String {
        if self.field == Some(name) {
            with_attr(
                &tag,
                &format!(" aria-invalid=\"true\" aria-describedby=\"{}-err\"", E(id)),
            )
        } else {
            tag
        }
    }

    /// `page` with the form refilled and the mistake said (the page unchanged but for the
    /// message at its first heading when the form is not on it).
    pub fn apply(&self, page: &str) -> String {
        let alert = |target: Option<&str>| match target {
            Some(id) => format!(
                "<p class=\"error form-error\" role=\"alert\">Not done: <a href=\"#{}\">{}</a></p>",
                E(id),
                E(self.message)
            ),
            None => format!(
                "<p class=\"error form-error\" role=\"alert\">Not done: {}</p>",
                E(self.message)
            ),
        };
        let needle = format!(" action=\"{}\"", E(self.action));
        let found = page.find(&needle).and_then(|at| {
            let start = page[..at].rfind("<form")?;
            let open_end = page[at..].find('>')? + at + 1;
            let end = page[open_end..].find("</form>")? + open_end;
            Some((start, open_end, end))
        });
        let Some((_, open_end, end)) = found else {
            return match page.find("</h1>") {
                Some(i) => format!("{}{}{}", &page[..i + 5], alert(None), &page[i + 5..]),
                None => page.to_owned(),
            };
        };
        let (inner, target) = self.refill(&page[open_end..end]);
        format!(
            "{}{}{}{}",
            &page[..open_end],
            alert(target.as_deref()),
            inner,
            &page[end..]
        )
    }

    /// The inside of the form refilled, and the id of the field at fault.
    fn refill(&self, inner: &str) -> (String, Option<String>) {
        let mut out = String::with_capacity(inner.len() + 256);
        let mut target = None;
        let mut pending_err: Option<String> = None;
        let mut rest = inner;
        while let Some(lt) = rest.find('<') {
            out.push_str(&rest[..lt]);
            rest = &rest[lt..];
            let Some(gt) = rest.find('>') else { break };
            let tag = &rest[..=gt];
            let after = &rest[gt + 1..];
            let name = attr(tag, "name");
            let id = attr(tag, "id").unwrap_or_else(|| "form-field".into());
            if tag.starts_with("</label") {
                out.push_str(tag);
                if let Some(e) = pending_err.take() {
                    out.push_str(&e);
                }
                rest = after;
                continue;
            }
            let Some(name) = name.filter(|_| {
                tag.starts_with("<input ")
                    || tag.starts_with("<textarea ")
                    || tag.starts_with("<select ")
            }) else {
                out.push_str(tag);
                rest = after;
                continue;
            };
            if self.field == Some(name.as_str()) {
                target = Some(id.clone());
                pending_err = Some(format!(
                    "<p class=\"field-error\" id=\"{}-err\">{}</p>",
                    E(&id),
                    E(self.message)
                ));
            }
            if tag.starts_with("<input ") {
                let kind = attr(tag, "type").unwrap_or_else(|| "text".into());
                let t = match kind.as_str() {
                    "hidden" | "submit" | "button" | "password" | "file" => tag.to_owned(),
                    "checkbox" | "radio" => {
                        let t = without_attr(tag, "checked");
                        let v = attr(tag, "value").unwrap_or_else(|| "on".into());
                        if self.has(&name, &v) {
                            with_attr(&t, " checked")
                        } else {
                            t
                        }
                    }
                    _ => match self.value(&name) {
                        Some(v) => {
                            with_attr(&without_attr(tag, "value"), &format!(" value=\"{}\"", E(v)))
                        }
                        None => tag.to_owned(),
                    },
                };
                out.push_str(&self.mark(t, &name, &id));
                rest = after;
            } else if tag.starts_with("<textarea ") {
                out.push_str(&self.mark(tag.to_owned(), &name, &id));
                let close = after.find("</textarea>").unwrap_or(after.len());
                match self.value(&name) {
                    Some(v) => out.push_str(&E(v).to_string()),
                    None => out.push_str(&after[..close]),
                }
                rest = &after[close..];
            } else {
                // A select: the typed choice selected, the others not.
                out.push_str(&self.mark(tag.to_owned(), &name, &id));
                let close = after.find("</select>").unwrap_or(after.len());
                let mut opts = &after[..close];
                let typed = self.value(&name);
                while let Some(o) = opts.find("<option") {
                    out.push_str(&opts[..o]);
                    let Some(oe) = opts[o..].find('>') else {
                        opts = &opts[o..];
                        break;
                    };
                    let otag = &opts[o..=o + oe];
                    let t = match typed {
                        Some(v) => {
                            let t = without_attr(otag, "selected");
                            if attr(otag, "value").as_deref() == Some(v) {
                                with_attr(&t, " selected")
                            } else {
                                t
                            }
                        }
                        None => otag.to_owned(),
                    };
                    out.push_str(&t);
                    opts = &opts[o + oe + 1..];
                }
                out.push_str(opts);
                rest = &after[close..];
            }
        }
        out.push_str(rest);
        (out, target)
    }
}

#[cfg(test)]
mod refill_tests {
    use super::*;

    fn typed(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn a_refused_form_comes_back_with_what_was_typed_escaped() {
        let page = "<h1>T</h1><form method=\"post\" action=\"/ui/a\"><input type=\"hidden\" name=\"csrf\" value=\"tok\">\
<label for=\"n\">Name<input id=\"n\" name=\"name\" maxlength=\"9\"></label>\
<label for=\"d\">D<textarea id=\"d\" name=\"description\" rows=\"2\">old</textarea></label>\
<label for=\"s\">S<select id=\"s\" name=\"status\"><option value=\"a\" selected>A</option><option value=\"b\">B</option></select></label>\
<label><input type=\"checkbox\" name=\"offer\" value=\"x\">x</label><label><input type=\"checkbox\" name=\"offer\" value=\"y\" checked>y</label>\
<button type=\"submit\">Go</button></form><form method=\"post\" action=\"/ui/b\"><input id=\"o\" name=\"name\"></form>";
        let r = Refill {
            action: "/ui/a",
            typed: typed(&[
                ("csrf", "forged\"><script>"),
                ("name", "<script>alert(1)</script>"),
                ("description", "</textarea><script>x</script>"),
                ("status", "b"),
                ("offer", "x"),
            ]),
            field: Some("name"),
            message: "Say <b>what</b>.",
        };
        let out = r.apply(page);
        assert!(!out.contains("<script>"), "{out}");
        assert!(!out.contains("<b>"), "{out}");
        assert!(out.contains("name=\"csrf\" value=\"tok\""), "{out}");
        assert!(
            out.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
            "{out}"
        );
        assert!(
            out.contains("aria-invalid=\"true\" aria-describedby=\"n-err\""),
            "{out}"
        );
        assert!(
            out.contains(
                "</label><p class=\"field-error\" id=\"n-err\">Say &lt;b&gt;what&lt;/b&gt;.</p>"
            ),
            "{out}"
        );
        assert!(
            out.contains("rows=\"2\">&lt;/textarea&gt;&lt;script&gt;x&lt;/script&gt;</textarea>"),
            "{out}"
        );
        assert!(
            out.contains("<option value=\"a\">A</option><option value=\"b\" selected>B</option>"),
            "{out}"
        );
        assert!(out.contains("value=\"x\" checked>"), "{out}");
        assert!(out.contains("name=\"offer\" value=\"y\">"), "{out}");
        assert!(
            out.contains("role=\"alert\">Not done: <a href=\"#n\">"),
            "{out}"
        );
        // The other form is left alone.
        assert!(
            out.ends_with(
                "<form method=\"post\" action=\"/ui/b\"><input id=\"o\" name=\"name\"></form>"
            ),
            "{out}"
        );
        // A page without the form: the message under its heading.
        let out = r.apply("<h1>T</h1><p>gone</p>");
        assert!(
            out.starts_with(
                "<h1>T</h1><p class=\"error form-error\" role=\"alert\">Not done: Say &lt;b&gt;"
            ),
            "{out}"
        );
    }
}
