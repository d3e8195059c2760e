//! Server-drawn SVG: an object's neighbourhood (nodes coloured by type, each a link) and its
//! sightings over time. Colours are presentation attributes (no inline styles, which the CSP
//! forbids); every label goes through [`E`].

use std::{collections::BTreeMap, fmt::Write as _};

use super::html::{E, object_href};

/// The colour of a STIX type's nodes.
pub fn type_colour(t: &str) -> &'static str {
    match t {
        "indicator" => "#1f77b4",
        "malware" | "tool" => "#d62728",
        "threat-actor" | "intrusion-set" | "campaign" => "#8c2d9c",
        "attack-pattern" => "#e67e22",
        "report" | "note" | "opinion" | "grouping" => "#4d5b6a",
        "identity" | "location" => "#2a9d8f",
        "vulnerability" => "#b8860b",
        "sighting" | "observed-data" => "#0e7c3a",
        "relationship" => "#6c7a89",
        "incident" => "#c2185b",
        _ if t.starts_with("x-") => "#7f6a00",
        _ => "#556677",
    }
}

/// A node of the drawing.
#[derive(Debug, Clone)]
pub struct Node {
    /// Object id (the link).
    pub id: String,
    /// STIX type.
    pub t: String,
    /// Label.
    pub label: String,
}

/// An edge from the centre (`outgoing`) or to it, labelled.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Index into the nodes (the centre is 0).
    pub from: usize,
    /// Index into the nodes.
    pub to: usize,
    /// Label (`relationship_type`, a property name, `sighting of`).
    pub label: String,
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The neighbourhood as SVG: node 0 in the centre, the others on one or two rings.
pub fn neighbourhood(nodes: &[Node], edges: &[Edge]) -> String {
    let (w, h) = (900.0_f64, 520.0_f64);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let n = nodes.len().saturating_sub(1).max(1);
    let mut pos = vec![(cx, cy)];
    for i in 0..nodes.len().saturating_sub(1) {
        let ring = if n > 12 && i % 2 == 1 { 150.0 } else { 215.0 };
        let a = (i as f64) / (n as f64) * std::f64::consts::TAU - std::f64::consts::FRAC_PI_2;
        pos.push((cx + ring * 1.75 * a.cos(), cy + ring * a.sin()));
    }
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg class=\"graph\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"group\" aria-labelledby=\"graph-title\" xmlns=\"http://www.w3.org/2000/svg\">\
<title id=\"graph-title\">Relationships of this object ({} neighbours)</title><rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>",
        nodes.len().saturating_sub(1)
    );
    for e in edges {
        let (Some(a), Some(b)) = (pos.get(e.from), pos.get(e.to)) else {
            continue;
        };
        let _ = write!(
            o,
            "<line x1=\"{:.0}\" y1=\"{:.0}\" x2=\"{:.0}\" y2=\"{:.0}\" stroke=\"#9aa5b1\" stroke-width=\"2\"/>\
<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"12\" fill=\"#333\" text-anchor=\"middle\">{}</text>",
            a.0,
            a.1,
            b.0,
            b.1,
            (a.0 + b.0) / 2.0,
            (a.1 + b.1) / 2.0 - 4.0,
            E(&short(&e.label, 24))
        );
    }
    for (i, node) in nodes.iter().enumerate() {
        let Some(&(x, y)) = pos.get(i) else { continue };
        let r = if i == 0 { 22 } else { 15 };
        let _ = write!(
            o,
            "<a href=\"{}\"><title>{} ({})</title><circle cx=\"{x:.0}\" cy=\"{y:.0}\" r=\"{r}\" fill=\"{}\" stroke=\"#1b2430\" stroke-width=\"{}\"/>\
<text x=\"{x:.0}\" y=\"{:.0}\" font-size=\"13\" fill=\"#111\" text-anchor=\"middle\">{}</text></a>",
            E(&object_href(&node.id)),
            E(&node.label),
            E(&node.t),
            type_colour(&node.t),
            if i == 0 { 3 } else { 1 },
            y + f64::from(r) + 15.0,
            E(&short(&node.label, 28))
        );
    }
    o.push_str("</svg>");
    o
}

/// A legend of the types drawn.
pub fn legend(nodes: &[Node]) -> String {
    let mut types: Vec<&str> = nodes.iter().map(|n| n.t.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    let mut o = String::from("<p class=\"legend\">");
    for t in types {
        let _ = write!(
            o,
            "<span><svg class=\"sw\" viewBox=\"0 0 10 10\" aria-hidden=\"true\"><circle cx=\"5\" cy=\"5\" r=\"5\" fill=\"{}\"/></svg>{}</span>",
            type_colour(t),
            E(t)
        );
    }
    o.push_str("</p>");
    o
}

/// Sightings per week (`YYYY-MM-DD` of the Monday → count) as a small bar chart.
pub fn sightings_chart(per_week: &BTreeMap<String, u64>) -> String {
    let (w, h, pad) = (640.0_f64, 160.0_f64, 30.0_f64);
    let max = per_week.values().copied().max().unwrap_or(1).max(1) as f64;
    let n = per_week.len().max(1) as f64;
    let bw = ((w - 2.0 * pad) / n).min(60.0);
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-labelledby=\"sg-title\" xmlns=\"http://www.w3.org/2000/svg\">\
<title id=\"sg-title\">Sightings per week</title><rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\
<line x1=\"{pad}\" y1=\"{:.0}\" x2=\"{:.0}\" y2=\"{:.0}\" stroke=\"#555\"/>",
        h - pad,
        w - pad,
        h - pad
    );
    for (i, (week, count)) in per_week.iter().enumerate() {
        let bh = (*count as f64) / max * (h - 2.0 * pad);
        let x = pad + i as f64 * bw;
        let _ = write!(
            o,
            "<rect x=\"{:.0}\" y=\"{:.0}\" width=\"{:.0}\" height=\"{bh:.0}\" fill=\"#0e7c3a\"><title>week of {}: {count}</title></rect>\
<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#111\">{count}</text>\
<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
            x + 2.0,
            h - pad - bh,
            (bw - 4.0).max(2.0),
            E(week),
            x + bw / 2.0,
            h - pad - bh - 3.0,
            x + bw / 2.0,
            h - pad + 13.0,
            E(week.get(5..).unwrap_or(week))
        );
    }
    o.push_str("</svg>");
    o
}
