//! `shieldwall report --since 7d --out FILE.html [--as MEMBER]`: the coalition picture as one
//! self-contained HTML page (no external resource; inline SVG charts; a Content-Security-Policy
//! that forbids loading anything) — incidents by sector and by country, top ATT&CK and DISARM
//! techniques, sightings per week, open requests and pledged offers — computed only from what
//! the member may see (the same listing, and so the same policy, as TAXII).
//!
//! Every figure is also in the DOM as `data-figure`/`data-key` attributes, so a test can read
//! what a browser rendered and compare it with direct counts.
//!
//! Counting rules (the latest version of each object, revoked objects left out):
//! - an incident counts when it was `created` in the window; its sectors and countries are
//!   those of its victims (identities it `targets` or its impacts name), NIS2 sector first,
//!   else the STIX sectors, `unknown` when it has none visible; an incident counts once per
//!   sector and once per country;
//! - a technique's count is the number of distinct objects that `use` it by a relationship
//!   `created` in the window; DISARM techniques are told by their DISARM external id, ATT&CK
//!   ones by a `mitre-attack` external id;
//! - a sighting counts in the ISO week (Monday, UTC) of its `first_seen`, else its `created`,
//!   when that is in the window; `count` is summed (1 when absent);
//! - requests are those open now (submitted … approved), offers those on the table now
//!   (offered, under review, pledged, committed), whenever they were made.
//!
//! The page carries the TLP 2.0 label of the most restrictive marking among the objects its
//! figures draw on (object and granular markings; unmarked objects take the node's default TLP;
//! `TLP:CLEAR` when it draws on nothing), at its top and at its bottom, right-aligned, in
//! capitals, in TLP 2.0's colour on a black background.

use std::{collections::BTreeMap, fmt::Write as _, path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use shieldwall::services::report::{Figures, member_figures, top};
use stix::{Timestamp, tlp::TlpLevel};

use super::coordio::{self, Ctx, On};

/// `shieldwall report`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The window: `7d`, `24h`, `4w`, or a STIX timestamp.
    #[arg(long, default_value = "7d")]
    since: String,
    /// The HTML file to write.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    on: On,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    coordio::block_on(run_async(args))
}

fn parse_since(s: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    if let Ok(t) = Timestamp::parse(s) {
        return Ok(t);
    }
    let split = s.char_indices().last().map_or(0, |(i, _)| i);
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .with_context(|| format!("--since {s}: expected 7d, 24h, 4w or a timestamp"))?;
    let secs = match unit {
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => bail!("--since {s}: the unit is h, d or w"),
    };
    Timestamp::from_unix(now.unix_seconds() - n * secs, now.subsec_nanos(), 3)
        .with_context(|| format!("--since {s}: out of range"))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::open_existing(&args.on, "cli:report").await?;
    let now = coordio::now();
    let since = parse_since(&args.since, now)?;
    let f = member_figures(&ctx.member, &ctx.read_collections()?, since).await?;
    let member = ctx
        .node
        .coalition
        .members
        .get(&ctx.principal.member)
        .map_or(ctx.principal.member.clone(), |m| m.name.clone());
    let html = render(&f, &member, since, now);
    std::fs::write(&args.out, html)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    if ctx.on.json {
        println!("{}", f.to_json());
    } else {
        println!(
            "Report for {} since {since} written to {} ({}): {} incidents, {} sightings, {} open requests, {} offers.",
            ctx.principal.member,
            args.out.display(),
            f.tlp_label(),
            f.incidents,
            f.sightings_total,
            f.open_requests.len(),
            f.offers.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A horizontal bar chart in SVG plus a table carrying the figures.
fn chart(out: &mut String, figure: &str, title: &str, rows: &[(String, u64)], color: &str) {
    let _ = write!(out, "<section><h2>{}</h2>", esc(title));
    if rows.is_empty() {
        let _ = write!(
            out,
            "<p class=\"none\" data-figure=\"{figure}\" data-empty=\"true\">Nothing visible in this window.</p></section>"
        );
        return;
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let (bar_h, label_w, width) = (22u64, 260u64, 640u64);
    let h = bar_h * rows.len() as u64 + 4;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    for (i, (k, v)) in rows.iter().enumerate() {
        let y = i as u64 * bar_h + 2;
        let w = (width - label_w - 50) * v / max;
        let label: String = k.chars().take(38).collect();
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{}\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\">{v}</text>",
            label_w - 6,
            y + 15,
            esc(&label),
            bar_h - 6,
            label_w + w + 4,
            y + 15
        );
    }
    out.push_str("</svg><table><tbody>");
    for (k, v) in rows {
        let _ = write!(
            out,
            "<tr><th>{}</th><td data-figure=\"{figure}\" data-key=\"{}\">{v}</td></tr>",
            esc(k),
            esc(k)
        );
    }
    out.push_str("</tbody></table></section>");
}

/// TLP 2.0's colour for a level's label (shown on black).
fn tlp_colour(level: TlpLevel) -> &'static str {
    match level {
        TlpLevel::Red => "#FF2B2B",
        TlpLevel::Amber | TlpLevel::AmberStrict => "#FFC000",
        TlpLevel::Green => "#33FF00",
        TlpLevel::Clear => "#FFFFFF",
    }
}

/// The TLP label as TLP 2.0 has documents carry it: in capitals, in the level's colour on black,
/// right-aligned, at least 12 points.
fn tlp_label(out: &mut String, level: TlpLevel, place: &str) {
    let _ = write!(
        out,
        "<{place} class=\"tlp\"><span class=\"tlp-label\" data-tlp=\"{}\" style=\"color:{}\">{}</span></{place}>",
        level.name(),
        tlp_colour(level),
        level.name()
    );
}

fn render(f: &Figures, member: &str, since: Timestamp, now: Timestamp) -> String {
    let mut o = String::new();
    let level = f.tlp_label();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
<title>Coalition picture — {m}</title><style>\
body{{font-family:sans-serif;margin:24px;color:#1b1f24;max-width:960px}}h1{{font-size:22px}}h2{{font-size:16px;margin-top:28px;border-bottom:1px solid #ccd}}\
table{{border-collapse:collapse;font-size:13px;margin-top:6px}}th,td{{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}}\
td{{text-align:right}}.kpi{{display:inline-block;margin-right:28px;font-size:13px}}.kpi b{{display:block;font-size:26px}}.none{{color:#777}}\
.tlp{{text-align:right;margin:0}}.tlp-label{{display:inline-block;background:#000000;font:bold 16px monospace;padding:3px 8px;\
-webkit-print-color-adjust:exact;print-color-adjust:exact}}\
</style></head><body>",
        m = esc(member),
    );
    tlp_label(&mut o, level, "header");
    let _ = write!(
        o,
        "<h1>Coalition picture</h1>\
<p>As seen by <b data-figure=\"reader\">{m}</b>, from {since} to {now}. Only what this member may see under the coalition's TLP policy is counted; \
the page is marked with the most restrictive TLP among what it counts.</p>",
        m = esc(member),
    );
    let _ = write!(
        o,
        "<div><span class=\"kpi\"><b data-figure=\"incidents\">{}</b>incidents</span>\
<span class=\"kpi\"><b data-figure=\"sightings\">{}</b>sightings</span>\
<span class=\"kpi\"><b data-figure=\"open-requests\">{}</b>open requests</span>\
<span class=\"kpi\"><b data-figure=\"offers\">{}</b>offers on the table</span></div>",
        f.incidents,
        f.sightings_total,
        f.open_requests.len(),
        f.offers.len()
    );
    let u = |m: &BTreeMap<String, usize>| -> Vec<(String, u64)> {
        top(m.clone(), usize::MAX)
            .into_iter()
            .map(|(k, v)| (k, v as u64))
            .collect()
    };
    chart(
        &mut o,
        "incidents-by-sector",
        "Incidents by sector",
        &u(&f.by_sector),
        "#c0392b",
    );
    chart(
        &mut o,
        "incidents-by-country",
        "Incidents by country",
        &u(&f.by_country),
        "#8e44ad",
    );
    let t = |v: &[(String, usize)]| -> Vec<(String, u64)> {
        v.iter().map(|(k, n)| (k.clone(), *n as u64)).collect()
    };
    chart(
        &mut o,
        "top-attack",
        "Top ATT&CK techniques",
        &t(&f.attack),
        "#2c3e50",
    );
    chart(
        &mut o,
        "top-disarm",
        "Top DISARM techniques",
        &t(&f.disarm),
        "#d35400",
    );
    let weeks: Vec<(String, u64)> = f
        .sightings_per_week
        .iter()
        .map(|(k, v)| (format!("week of {k}"), *v))
        .collect();
    chart(
        &mut o,
        "sightings-per-week",
        "Sightings per week",
        &weeks,
        "#16a085",
    );
    o.push_str("<section><h2>Open requests for assistance</h2>");
    if f.open_requests.is_empty() {
        o.push_str("<p class=\"none\">None open.</p>");
    } else {
        o.push_str("<table><thead><tr><th>priority</th><th>request</th><th>status</th></tr></thead><tbody>");
        for (id, name, st, p) in &f.open_requests {
            let _ = write!(
                o,
                "<tr data-figure=\"open-request\" data-key=\"{}\"><td>{p}</td><th>{}</th><td>{}</td></tr>",
                esc(id),
                esc(name),
                esc(st)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section><section><h2>Offers on the table</h2>");
    if f.offers.is_empty() {
        o.push_str("<p class=\"none\">None.</p>");
    } else {
        o.push_str("<table><thead><tr><th>offer</th><th>status</th></tr></thead><tbody>");
        for (id, name, st) in &f.offers {
            let _ = write!(
                o,
                "<tr data-figure=\"offer\" data-key=\"{}\"><th>{}</th><td>{}</td></tr>",
                esc(id),
                esc(name),
                esc(st)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");
    tlp_label(&mut o, level, "footer");
    // Marks the document as rendered by a browser (tests read this back from the DOM).
    o.push_str(
        "<script>document.documentElement.setAttribute('data-rendered', \
String(document.querySelectorAll('[data-figure]').length));</script></body></html>\n",
    );
    o
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{Value, json};
    use shieldwall::services::report::{figures, week_of};

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn weeks_start_on_monday_utc() {
        assert_eq!(week_of(ts("2026-11-28T23:59:59Z")), "2026-11-23");
        assert_eq!(week_of(ts("2026-11-23T00:00:00Z")), "2026-11-23");
        assert_eq!(week_of(ts("2026-11-22T23:59:59Z")), "2026-11-16");
        assert_eq!(week_of(ts("1970-01-01T00:00:00Z")), "1969-12-29");
    }

    #[test]
    fn windows() {
        let now = ts("2026-11-28T12:00:00.000Z");
        assert_eq!(
            parse_since("7d", now).unwrap(),
            ts("2026-11-21T12:00:00.000Z")
        );
        assert_eq!(
            parse_since("24h", now).unwrap(),
            ts("2026-11-27T12:00:00.000Z")
        );
        assert_eq!(
            parse_since("2w", now).unwrap(),
            ts("2026-11-14T12:00:00.000Z")
        );
        assert_eq!(
            parse_since("2026-01-01T00:00:00Z", now).unwrap(),
            ts("2026-01-01T00:00:00Z")
        );
        for bad in ["", "7", "d", "7y", "-x", "7é", "é"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    /// A sighting in the window, marked with `markings` and `granular` marking refs.
    fn sighting(n: u32, markings: &[&str], granular: &[&str]) -> Value {
        let mut o = json!({"type": "sighting", "spec_version": "2.1",
            "id": format!("sighting--00000000-0000-4000-8000-{n:012}"),
            "created": "2026-11-27T00:00:00.000Z", "modified": "2026-11-27T00:00:00.000Z",
            "sighting_of_ref": "indicator--00000000-0000-4000-8000-000000000001", "count": 2});
        if !markings.is_empty() {
            o["object_marking_refs"] = json!(markings);
        }
        if !granular.is_empty() {
            o["granular_markings"] = granular
                .iter()
                .map(|m| json!({"selectors": ["count"], "marking_ref": m}))
                .collect();
        }
        o
    }

    fn labels(page: &str) -> Vec<&str> {
        page.match_indices("data-tlp=\"")
            .map(|(i, _)| {
                let rest = &page[i + 10..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect()
    }

    #[test]
    fn the_page_carries_the_most_restrictive_tlp_at_top_and_bottom() {
        use stix::tlp::{TLP1_AMBER, TLP1_WHITE};
        let since = ts("2026-11-21T00:00:00Z");
        let now = ts("2026-11-28T00:00:00Z");
        let page_for = |objects: &[Value], default: TlpLevel| {
            let f = figures(objects, since, default);
            render(&f, "m", since, now)
        };
        for level in TlpLevel::ALL {
            let objects = [
                sighting(1, &[TlpLevel::Clear.marking_id()], &[]),
                sighting(2, &[level.marking_id()], &[]),
            ];
            let page = page_for(&objects, TlpLevel::Clear);
            assert_eq!(labels(&page), [level.name(), level.name()], "{level}");
            assert!(page.contains("background:#000000"));
            let top = page.find("data-tlp").unwrap();
            assert!(top < page.find("<h1>").unwrap(), "label first");
            assert!(
                page.rfind("data-tlp").unwrap() > page.rfind("</section>").unwrap(),
                "label last"
            );
            assert!(
                page.contains(&format!(
                    "style=\"color:{}\">{}</span>",
                    tlp_colour(level),
                    level.name()
                )),
                "{level}"
            );
        }
        assert!(
            page_for(
                &[sighting(1, &[TlpLevel::Red.marking_id()], &[])],
                TlpLevel::Clear
            )
            .contains("color:#FF2B2B\">TLP:RED<")
        );
        assert!(
            page_for(
                &[sighting(1, &[TlpLevel::AmberStrict.marking_id()], &[])],
                TlpLevel::Clear
            )
            .contains("color:#FFC000\">TLP:AMBER+STRICT<")
        );
        assert!(
            page_for(
                &[sighting(1, &[TlpLevel::Green.marking_id()], &[])],
                TlpLevel::Clear
            )
            .contains("color:#33FF00\">TLP:GREEN<")
        );
        assert!(
            page_for(&[sighting(1, &[TLP1_WHITE], &[])], TlpLevel::Red)
                .contains("color:#FFFFFF\">TLP:CLEAR<")
        );
        // TLP 1.0 markings label in TLP 2.0 terms; unmarked objects take the node's default.
        let page = page_for(&[sighting(1, &[TLP1_AMBER], &[])], TlpLevel::Clear);
        assert_eq!(labels(&page), ["TLP:AMBER", "TLP:AMBER"]);
        let page = page_for(&[sighting(1, &[], &[])], TlpLevel::AmberStrict);
        assert_eq!(labels(&page), ["TLP:AMBER+STRICT", "TLP:AMBER+STRICT"]);
        // Nothing counted: nothing of the coalition's is on the page.
        let page = page_for(&[], TlpLevel::Red);
        assert_eq!(labels(&page), ["TLP:CLEAR", "TLP:CLEAR"]);
        // Objects outside the window are not summarised and do not mark the page.
        let mut old = sighting(3, &[TlpLevel::Red.marking_id()], &[]);
        old["created"] = json!("2020-01-01T00:00:00.000Z");
        let page = page_for(
            &[old, sighting(1, &[TlpLevel::Green.marking_id()], &[])],
            TlpLevel::Clear,
        );
        assert_eq!(labels(&page), ["TLP:GREEN", "TLP:GREEN"]);
    }

    #[test]
    fn a_granular_marking_marks_the_page() {
        let since = ts("2026-11-21T00:00:00Z");
        let f = figures(
            &[sighting(
                1,
                &[TlpLevel::Green.marking_id()],
                &[TlpLevel::AmberStrict.marking_id()],
            )],
            since,
            TlpLevel::Clear,
        );
        assert_eq!(f.tlp_label(), TlpLevel::AmberStrict);
        assert_eq!(f.to_json()["tlp"], "TLP:AMBER+STRICT");
    }

    #[test]
    fn html_is_escaped_and_self_contained() {
        let mut f = Figures::default();
        f.by_sector.insert("<script>alert(1)</script>".into(), 2);
        f.incidents = 2;
        let page = render(
            &f,
            "A & B \"quoted\"",
            ts("2026-11-21T00:00:00Z"),
            ts("2026-11-28T00:00:00Z"),
        );
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("A &amp; B &quot;quoted&quot;"));
        assert!(page.contains("default-src 'none'"));
        assert_eq!(
            page.matches("<script>").count(),
            1,
            "only the page's own marker script"
        );
    }
}
