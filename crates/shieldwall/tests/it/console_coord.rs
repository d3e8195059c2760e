//! The console's coordination pages over real HTTP on 127.0.0.1 (incidents, DISARM, assistance,
//! federation), on the demo coalition with its coordination data (`hub::demo_coord`), on SQLite
//! and PostgreSQL.
//!
//! - The assistance flow offer → match → advance → close is driven through the forms, each step
//!   as the member the workflow allows; every form is refused without its CSRF token and for a
//!   member the workflow does not allow (another member, the reader, the requester offering on
//!   its own request); a hidden object's form looks missing.
//! - The incident flow: a new incident and its steps through the forms, refused likewise.
//! - Hostile input: oversized fields, markup rendered escaped, bad ids and values → 400/404,
//!   never 500.
//! - The leak test: every demo user crawls the coordination pages; no page shows the id or the
//!   name of an object that user may not see (from `policy::may_see` over the stored
//!   placements), and a hidden incident's or request's URL answers exactly like a missing one.
//! - Headless Chromium (WebDriver) through an incident page, the DISARM matrix and an assistance
//!   offer → match → close, with screenshots in `docs/console/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use shieldwall::{
    coalition::Coalition,
    demo,
    store::{AnyStore, Store},
};

use crate::common::{self, start};
use crate::console::{Answer, Browser, hidden};

struct World {
    node: common::Node,
    coalition: Coalition,
    /// ee incident, pl incident, lv RED incident, nl STRICT incident, lt FIMI, pl FIMI, ee
    /// request, nl request.
    ids: Vec<String>,
}

async fn setup(store: AnyStore, dir: &std::path::Path) -> World {
    let checked = demo::config("127.0.0.1:0", dir)
        .unwrap()
        .check("demo")
        .unwrap();
    let coalition = Coalition::from_config(&checked);
    demo::seed(
        &store,
        &coalition,
        shieldwall::publish::PublishLimits::from_server(&checked.config.server),
    )
    .await
    .unwrap();
    let ids = hub::demo_coord::seed(&store, &Arc::new(coalition.clone()))
        .await
        .unwrap();
    assert_eq!(ids.len(), 8);
    World {
        node: start(&checked, store).await,
        coalition,
        ids,
    }
}

fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn links(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("href=\"") {
        rest = &rest[i + 6..];
        if let Some(j) = rest.find('"') {
            out.push(unescape(&rest[..j]));
            rest = &rest[j..];
        }
    }
    out
}

async fn signed(w: &World, user: &str) -> Browser {
    let mut b = Browser::new(&w.node.base);
    let a = b.sign_in(user, "demo", "/ui/").await;
    assert_eq!(a.status, 303, "{user} signs in: {}", a.body);
    b
}

/// The session's CSRF token (from any page's sign-out form).
async fn csrf(b: &mut Browser) -> String {
    let a = b.get("/ui/incidents").await;
    assert_eq!(a.status, 200);
    hidden(&a.body, "csrf").unwrap()
}

async fn post(b: &mut Browser, path: &str, fields: &[(&str, &str)]) -> Answer {
    let token = csrf(b).await;
    let mut all: Vec<(&str, &str)> = vec![("csrf", &token)];
    all.extend_from_slice(fields);
    b.post(path, &all).await
}

fn never_500(path: &str, a: &Answer) {
    assert!(a.status < 500, "{path}: {} {}", a.status, a.body);
}

/// The latest version of `id` as the store holds it (for assertions).
async fn stored(w: &World, id: &str) -> Value {
    let mut best: Option<Value> = None;
    for c in &w.coalition.collections {
        for r in w.node.store.sync_versions(&c.id, id).await.unwrap() {
            let v: Value = serde_json::from_str(&r.json).unwrap();
            if best.as_ref().is_none_or(|b| {
                b["modified"].as_str().unwrap_or("") < v["modified"].as_str().unwrap_or("")
            }) {
                best = Some(v);
            }
        }
    }
    best.unwrap()
}

async fn assistance_flow(w: &World) {
    let req = &w.ids[6];
    let page = format!("/ui/assist/{}", pct(req));
    // The requester cannot offer on its own request; the reader cannot either.
    let mut ee = signed(w, "ee-analyst").await;
    let a = ee.get(&page).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        !a.body.contains("Offer help"),
        "no offer form for the requester"
    );
    assert!(a.body.contains("Match offers"), "the requester matches");
    let offer = format!("{page}/offer");
    let fields = [
        ("name", "Own help"),
        ("services", "digital-forensics"),
        ("lead_time", "4"),
    ];
    let a = post(&mut ee, &offer, &fields).await;
    assert_eq!(a.status, 403, "the requester offers: {}", a.body);
    assert!(a.body.contains("your own request"));
    let mut soc = signed(w, "ee-soc").await;
    let a = post(&mut soc, &offer, &fields).await;
    assert_eq!(a.status, 403, "the reader offers");
    // cert-pl does not see the request (baltic-sharing): its form looks like a missing one.
    let mut pl = signed(w, "pl-analyst").await;
    let a = post(&mut pl, &offer, &fields).await;
    assert_eq!(a.status, 404, "a hidden request");
    // cert-lt offers; without the token, nothing.
    let mut lt = signed(w, "lt-analyst").await;
    let a = lt.get(&page).await;
    assert!(a.body.contains("Offer help"), "{}", a.body);
    let a = lt
        .post(
            &offer,
            &[
                ("name", "NKSC forensics"),
                ("services", "digital-forensics"),
            ],
        )
        .await;
    assert_eq!(a.status, 403, "no CSRF token");
    let a = post(
        &mut lt,
        &offer,
        &[
            ("name", "NKSC forensics <b>team</b>"),
            ("services", "digital-forensics"),
            ("capacity", "digital-forensics:12:person-days"),
            ("lead_time", "12"),
            ("tlp", "amber"),
        ],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let a = ee.get(&page).await;
    assert!(
        a.body.contains("NKSC forensics &lt;b&gt;team&lt;/b&gt;"),
        "escaped"
    );
    assert!(!a.body.contains("<b>team</b>"));
    // The offer's id: the value of the match checkbox labelled with its name.
    let lt_offer = a
        .body
        .match_indices("name=\"offer\" value=\"")
        .map(|(i, m)| &a.body[i + m.len()..])
        .find(|rest| {
            let end = rest.find("</label>").unwrap();
            rest[..end].contains("NKSC forensics")
        })
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .expect("a match checkbox for cert-lt's offer");
    assert!(lt_offer.starts_with("assistance-offer--"));
    // Match: not by cert-lv, not by the reader, not without the token; by cert-ee.
    let matching = format!("{page}/match");
    let mut lv = signed(w, "lv-analyst").await;
    let a = post(&mut lv, &matching, &[("offer", &lt_offer)]).await;
    assert_eq!(a.status, 403, "another member matches");
    let a = post(&mut soc, &matching, &[("offer", &lt_offer)]).await;
    assert_eq!(a.status, 403, "the reader matches");
    let a = ee.post(&matching, &[("offer", &lt_offer)]).await;
    assert_eq!(a.status, 403, "no token");
    let a = post(
        &mut ee,
        &matching,
        &[("offer", "assistance-offer--nonsense")],
    )
    .await;
    assert_eq!(a.status, 400, "a bad offer id");
    let a = post(&mut ee, &matching, &[("offer", &lt_offer)]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(stored(w, req).await["request_status"], "matched");
    // The provider accepts its offer (only it may).
    let adv_offer = format!("/ui/assist/{}/advance", pct(&lt_offer));
    let a = post(&mut ee, &adv_offer, &[("to", "accepted")]).await;
    assert_eq!(a.status, 403, "the requester advances the provider's offer");
    let a = post(&mut lt, &adv_offer, &[("to", "accepted"), ("back", req)]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.headers["location"].to_str().unwrap(),
        format!("/ui/assist/{}#actions", pct(req))
    );
    assert_eq!(stored(w, &lt_offer).await["offer_status"], "accepted");
    // The requester: in delivery, then closed with an after-action report.
    let adv = format!("{page}/advance");
    let a = post(&mut ee, &adv, &[("to", "closed")]).await;
    assert_eq!(a.status, 400, "closing needs the report: {}", a.body);
    let a = post(&mut ee, &adv, &[("to", "nonsense")]).await;
    assert_eq!(a.status, 400);
    let a = post(&mut lt, &adv, &[("to", "in-delivery")]).await;
    assert_eq!(a.status, 403, "another member advances the request");
    let a = post(&mut ee, &adv, &[("to", "in-delivery")]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let close = format!("{page}/close");
    let report = [
        ("services_provided", "Disk and memory forensics of the HMI"),
        ("results", "Initial access reconstructed"),
        ("lessons", "Segment the HMI network"),
        ("satisfaction", "90"),
    ];
    let a = post(&mut lt, &close, &report).await;
    assert_eq!(a.status, 403, "another member closes");
    let a = ee.post(&close, &report).await;
    assert_eq!(a.status, 403, "no token");
    let a = post(&mut ee, &close, &report[..2]).await;
    assert_eq!(a.status, 400, "lessons are required");
    let a = post(&mut ee, &close, &report).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let r = stored(w, req).await;
    assert_eq!(r["request_status"], "closed");
    let a = ee.get(&page).await;
    assert!(a.body.contains("After-action report"), "{}", a.body);
    // The board lists it among the closed ones.
    let a = lt.get("/ui/assist").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("Forensics for the distributor"));
}

/// How many assistance requests the store holds (any collection, any version).
async fn requests_stored(w: &World) -> usize {
    let ids: HashSet<String> = w
        .node
        .store
        .placements()
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.id.starts_with("assistance-request--"))
        .map(|p| p.id)
        .collect();
    ids.len()
}

/// A new request for assistance through the console's form: who may file one, where, with
/// which marking; mistakes come back on the form with what was typed; and the request filed is
/// seen by exactly the users the policy lets see it.
async fn request_flow(w: &World) {
    let mut ee = signed(w, "ee-analyst").await;
    let a = ee.get("/ui/assist").await;
    assert!(
        a.body.contains("href=\"/ui/assist/new\""),
        "the board links the form"
    );
    let a = ee.get("/ui/assist/new").await;
    assert_eq!(a.status, 200, "{}", a.body);
    for want in [
        "name=\"csrf\"",
        "id=\"r-name\"",
        "name=\"service\"",
        "id=\"r-needs\"",
        "id=\"r-sector\"",
        "id=\"r-urgency\"",
        "id=\"r-severity\"",
        "id=\"r-incident\"",
        "id=\"r-collection\"",
        "type=\"radio\" id=\"r-tlp-amber-strict\"",
        "<span class=\"tlp tlp-red\"",
        "Distributor SCADA intrusion",
    ] {
        assert!(a.body.contains(want), "the form has {want}");
    }
    // The TLP is chosen, never preselected; collections offered are the writable ones.
    assert!(
        !a.body
            .contains("name=\"tlp\" value=\"amber\" required checked")
    );
    assert!(
        !a.body.contains("Public feed"),
        "public-feed is not ee's to write"
    );
    // The form for one incident (linked from the incident's page) comes with it chosen.
    let a = ee.get(&format!("/ui/incidents/{}", pct(&w.ids[0]))).await;
    assert!(a.body.contains(&format!(
        "href=\"/ui/assist/new?incident={}\"",
        pct(&w.ids[0])
    )));
    let a = ee
        .get(&format!("/ui/assist/new?incident={}", pct(&w.ids[0])))
        .await;
    assert!(a.body.contains(&format!("value=\"{}\" selected", w.ids[0])));

    let good = |tlp: &'static str, coll: &'static str, name: &'static str| {
        vec![
            ("name", name),
            (
                "description",
                "Memory forensics of two engineering workstations.",
            ),
            ("service", "digital-forensics"),
            ("service", "incident-response"),
            ("needs", "digital-forensics:6:person-days"),
            ("sector", "energy"),
            ("urgency", "immediate"),
            ("severity", "80"),
            ("entity_class", "essential"),
            ("cross_border", "yes"),
            ("mitigation", "HMI network isolated"),
            ("languages", "en, et"),
            ("collection", coll),
            ("tlp", tlp),
        ]
    };
    let before = requests_stored(w).await;
    // Refused, nothing stored: the reader, no token, a wrong token, a collection ee may not
    // write (readable or not), a member outside the collection.
    let mut soc = signed(w, "ee-soc").await;
    assert_eq!(soc.get("/ui/assist/new").await.status, 403, "the reader");
    let f = good("green", "energy-sector", "Refused request");
    let a = post(&mut soc, "/ui/assist", &f).await;
    assert_eq!(a.status, 403, "the reader files: {}", a.body);
    let a = ee.post("/ui/assist", &f).await;
    assert_eq!(a.status, 403, "no token");
    let mut wrong = vec![("csrf", "0".repeat(64).leak() as &str)];
    wrong.extend_from_slice(&f);
    let a = ee.post("/ui/assist", &wrong).await;
    assert_eq!(a.status, 403, "a wrong token");
    assert!(a.body.contains("did not come from this console"));
    let a = post(
        &mut ee,
        "/ui/assist",
        &good("green", "public-feed", "Refused request"),
    )
    .await;
    assert_eq!(
        a.status, 403,
        "a collection ee may read but not write: {}",
        a.body
    );
    assert!(
        a.body.contains("may not write to that collection"),
        "{}",
        a.body
    );
    let mut lv = signed(w, "lv-analyst").await;
    let a = post(
        &mut lv,
        "/ui/assist",
        &good("green", "energy-sector", "Refused request"),
    )
    .await;
    assert_eq!(a.status, 403, "a collection lv may not even read");
    let a = post(
        &mut ee,
        "/ui/assist",
        &good("green", "no-such-collection", "Refused request"),
    )
    .await;
    assert_eq!(
        a.status, 403,
        "a collection that does not exist looks the same"
    );
    assert_eq!(requests_stored(w).await, before, "nothing stored");

    // Mistakes: 400, the form again with what was typed and what is wrong.
    let long = "A".repeat(300);
    let huge = "B".repeat(70_000);
    let hidden_incident: &'static str = w.ids[2].clone().leak(); // cert-lv's RED incident
    let with = |k: &'static str, v: &'static str| {
        let mut f = good("amber", "energy-sector", "Kept title");
        f.retain(|(x, _)| *x != k);
        f.push((k, v));
        f
    };
    for (f, field, says) in [
        (with("tlp", ""), "r-tlp", "Choose the TLP marking"),
        (with("tlp", "purple"), "r-tlp", "is not a TLP level"),
        (with("name", ""), "r-name", "Give the request a title"),
        (
            with("name", long.clone().leak()),
            "r-name",
            "longer than 256 characters",
        ),
        (
            with("name", "bell\u{7}\u{0}"),
            "r-name",
            "control characters",
        ),
        (with("severity", "101"), "r-severity", "from 0 to 100"),
        (with("severity", "-1"), "r-severity", "from 0 to 100"),
        (
            with("needs", "forensics:lots:days"),
            "r-needs",
            "not a number",
        ),
        (
            with("needs", "digital-forensics:inf:days"),
            "r-needs",
            "must be a number ≥ 0",
        ),
        (with("needs", "a:b"), "r-needs", "SERVICE:QUANTITY:UNIT"),
        (
            with("other_services", "<script>x</script>"),
            "r-other-services",
            "is not a service name",
        ),
        (
            with("urgency", "yesterday"),
            "r-urgency",
            "is not an urgency",
        ),
        (
            with("entity_class", "huge"),
            "r-entity-class",
            "is not a type of entity",
        ),
        (with("sector", "moon"), "r-sector", "is not a NIS2 sector"),
        (
            with("mechanism", "bribery"),
            "r-mechanism",
            "is not a mechanism",
        ),
        (
            with("languages", "english"),
            "r-languages",
            "two-letter language code",
        ),
        (
            with("incident", hidden_incident),
            "r-incident",
            "No incident with this id",
        ),
        (
            with("incident", "incident--not-an-id"),
            "r-incident",
            "No incident with this id",
        ),
        (
            with("collection", ""),
            "r-collection",
            "Choose the collection",
        ),
    ] {
        let a = post(&mut ee, "/ui/assist", &f).await;
        never_500("/ui/assist", &a);
        assert_eq!(a.status, 400, "{field}: {}", a.body);
        assert!(
            a.body.contains(&escape(says)),
            "{field} says {says}: {}",
            a.body
        );
        assert!(
            a.body.contains(&format!("href=\"#{field}\"")),
            "{field} linked from the summary"
        );
        assert!(a.body.contains("aria-invalid=\"true\""), "{field} marked");
        assert!(!a.body.contains("<script>x"), "escaped");
        // What was typed is kept.
        if field != "r-name" {
            assert!(
                a.body.contains("value=\"Kept title\""),
                "{field}: title kept"
            );
        }
        assert!(
            a.body
                .contains("Memory forensics of two engineering workstations.")
        );
        assert!(
            a.body.contains("value=\"digital-forensics\" checked"),
            "{field}: ticks kept"
        );
    }
    // No service at all; the hidden incident's name does not appear.
    let mut f = good("amber", "energy-sector", "Kept title");
    f.retain(|(k, _)| !matches!(*k, "service" | "needs"));
    let a = post(&mut ee, "/ui/assist", &f).await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("Say which services are needed"));
    // The EU Cybersecurity Reserve asks for the measures taken.
    let mut f = with("mechanism", "eu-cybersecurity-reserve");
    f.retain(|(k, _)| *k != "mitigation");
    let a = post(&mut ee, "/ui/assist", &f).await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("asks for the measures already taken"));
    // A body over 64 KiB: refused whole.
    let a = post(&mut ee, "/ui/assist", &with("description", huge.leak())).await;
    assert_eq!(a.status, 403);
    assert!(a.body.contains("too large"));
    assert_eq!(
        requests_stored(w).await,
        before,
        "no mistake stored anything"
    );

    // Filed: GREEN in energy-sector with the incident, RED in coalition-indicators.
    let mut f: Vec<(&str, &str)> =
        good("green", "energy-sector", "Workstation forensics <i>now</i>");
    f.push(("incident", w.ids[0].as_str()));
    let a = post(&mut ee, "/ui/assist", &f).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let green = a.headers["location"].to_str().unwrap().to_owned();
    assert!(
        green.starts_with("/ui/assist/assistance-request--"),
        "{green}"
    );
    let green_id = green.trim_start_matches("/ui/assist/").to_owned();
    let r = stored(w, &green_id).await;
    assert_eq!(r["request_status"], "submitted");
    assert_eq!(r["urgency"], "immediate");
    assert_eq!(r["incident_refs"][0], w.ids[0].as_str());
    assert_eq!(r["cross_border"], true);
    assert_eq!(
        r["object_marking_refs"][0],
        stix::tlp::TlpLevel::Green.marking_id()
    );
    assert!(
        r["needs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["sector"] == "energy")
    );
    let a = ee.get(&green).await;
    assert_eq!(a.status, 200);
    assert!(
        a.body
            .contains("Workstation forensics &lt;i&gt;now&lt;/i&gt;")
    );
    let a = post(
        &mut ee,
        "/ui/assist",
        &good("red", "coalition-indicators", "Red request for licences"),
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let red_id = a.headers["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/ui/assist/")
        .to_owned();
    assert_eq!(requests_stored(w).await, before + 2);

    // Exactly the users the policy lets see each request see it, on its page and the board.
    let placements = w.node.store.placements().await.unwrap();
    let want = crate::leak::expected(&w.coalition, &placements);
    let mut seen_by = BTreeSet::new();
    for id in [&green_id, &red_id] {
        for (user, _, _) in demo::USERS {
            let may = want
                .iter()
                .any(|((u, _), ids)| u == user && ids.contains(id.as_str()));
            let mut b = signed(w, user).await;
            let page = b.get(&format!("/ui/assist/{}", pct(id))).await;
            assert_eq!(page.status, if may { 200 } else { 404 }, "{user} {id}");
            let board = b.get("/ui/assist").await;
            assert_eq!(
                board.body.contains(id.as_str()),
                may,
                "{user} on the board: {id}"
            );
            if may {
                seen_by.insert((*user, id.as_str()));
            }
        }
    }
    // Both are seen, by different users: the collection (energy-sector is not cert-lv's) and
    // the marking (RED: its producer and the collection's RED recipients) make a difference.
    let n = |id: &str| seen_by.iter().filter(|(_, i)| *i == id).count();
    assert!(n(&green_id) > 0, "the GREEN request is seen");
    assert!(!seen_by.contains(&("lv-analyst", green_id.as_str())));
    assert!(
        n(&red_id) > 0 && n(&red_id) < demo::USERS.len(),
        "RED: {} users",
        n(&red_id)
    );
    assert!(seen_by.contains(&("ee-analyst", red_id.as_str())));
    assert!(!seen_by.contains(&("lv-analyst", red_id.as_str())));
}

async fn incident_flow(w: &World) {
    let inc = &w.ids[0];
    let page = format!("/ui/incidents/{}", pct(inc));
    let mut ee = signed(w, "ee-analyst").await;
    let a = ee.get(&page).await;
    assert_eq!(a.status, 200, "{}", a.body);
    for want in [
        "Põhjavõrk Distribution",
        "Phishing mail to the control room",
        "Isolate the HMI network",
        "availability impact",
        "Leaked grid documents",
        "Demo implant",
        "Add an event",
    ] {
        assert!(
            a.body.contains(&escape(want)),
            "{want} on the incident page"
        );
    }
    let event = format!("{page}/event");
    let fields = [
        ("name", "<script>alert('x')</script> Lateral movement"),
        ("status", "occurred"),
        ("type", "lateral-movement"),
        ("start", "2026-11-20T12:00"),
    ];
    // Refused: no token, another member who sees it, the reader, a member who does not see it.
    let a = ee.post(&event, &fields).await;
    assert_eq!(a.status, 403);
    let mut lv = signed(w, "lv-analyst").await;
    let a = lv.get(&page).await;
    assert_eq!(a.status, 200);
    assert!(
        !a.body.contains("Add an event"),
        "no forms for another member"
    );
    let a = post(&mut lv, &event, &fields).await;
    assert_eq!(a.status, 403, "another member's incident: {}", a.body);
    assert!(
        a.body
            .contains("only the member that created this incident")
    );
    let mut soc = signed(w, "ee-soc").await;
    let a = post(&mut soc, &event, &fields).await;
    assert_eq!(a.status, 403, "the reader");
    let mut pl = signed(w, "pl-analyst").await;
    let a = post(&mut pl, &event, &fields).await;
    assert_eq!(a.status, 404, "hidden");
    let before = stored(w, inc).await;
    let a = post(&mut ee, &event, &fields).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let after = stored(w, inc).await;
    assert_ne!(before["modified"], after["modified"], "a new version");
    let a = ee.get(&page).await;
    assert!(
        a.body
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Lateral movement")
    );
    assert!(!a.body.contains("<script>alert"));
    // Impact, task, status.
    for (step, f) in [
        (
            "impact",
            vec![
                ("category", "physical"),
                ("impact_type", "damaged-functional"),
                ("asset_type", "ics"),
                ("criticality", "40"),
            ],
        ),
        (
            "task",
            vec![
                ("name", "Reset every HMI password"),
                ("outcome", "pending"),
                ("type", "remediation"),
                ("priority", "70"),
            ],
        ),
        (
            "update",
            vec![
                ("status", "closed"),
                ("determination", "confirmed"),
                ("criticality", "60"),
            ],
        ),
    ] {
        let a = post(&mut ee, &format!("{page}/{step}"), &f).await;
        assert_eq!(a.status, 303, "{step}: {}", a.body);
    }
    let after = stored(w, inc).await;
    let core = after["extensions"]
        .as_object()
        .unwrap()
        .values()
        .find(|e| e.get("investigation_status").is_some())
        .unwrap();
    assert_eq!(core["investigation_status"], "closed");
    assert_eq!(core["criticality"], 60);
    let a = ee
        .get("/ui/incidents?status=closed&sector=energy&country=EE")
        .await;
    assert!(a.body.contains("Distributor SCADA intrusion"), "filters");
    let a = ee.get("/ui/incidents?status=open").await;
    assert!(
        !a.body.contains("Distributor SCADA intrusion"),
        "filters exclude"
    );
    // A new incident through the form.
    let a = post(
        &mut ee,
        "/ui/incidents",
        &[
            ("name", "Port crane controller malware"),
            ("determination", "suspected"),
            ("status", "new"),
            ("criticality", "55"),
            ("victim", "Tallinn Port Cranes"),
            ("sector", "transportation"),
            ("nis2_sector", "transport"),
            ("country", "ee"),
            ("tlp", "green"),
        ],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let loc = a.headers["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with("/ui/incidents/incident--"));
    let a = ee.get(&loc).await;
    assert!(a.body.contains("Tallinn Port Cranes") && a.body.contains("TLP:GREEN"));
    let a = post(&mut soc, "/ui/incidents", &[("name", "x")]).await;
    assert_eq!(a.status, 403, "the reader reports nothing");
    let a = soc.get("/ui/incidents/new").await;
    assert_eq!(a.status, 403);
}

async fn hostile(w: &World) {
    let inc = &w.ids[0];
    let page = format!("/ui/incidents/{}", pct(inc));
    let mut ee = signed(w, "ee-analyst").await;
    let long = "A".repeat(300);
    let huge = "B".repeat(70_000);
    for (path, fields, want) in [
        (
            format!("{page}/event"),
            vec![("name", long.as_str()), ("status", "occurred")],
            400,
        ),
        (
            format!("{page}/event"),
            vec![("name", "x"), ("status", "bogus")],
            400,
        ),
        (
            format!("{page}/event"),
            vec![
                ("name", "x"),
                ("status", "occurred"),
                ("start", "yesterday"),
            ],
            400,
        ),
        (
            format!("{page}/event"),
            vec![
                ("name", "x"),
                ("status", "occurred"),
                ("after", "event--not-an-id"),
            ],
            400,
        ),
        (
            format!("{page}/event"),
            vec![
                ("name", "x"),
                ("status", "occurred"),
                ("type", "Not A Slug"),
            ],
            400,
        ),
        (format!("{page}/impact"), vec![("category", "bogus")], 400),
        (
            format!("{page}/impact"),
            vec![("category", "availability"), ("availability", "101")],
            400,
        ),
        (format!("{page}/update"), vec![("criticality", "1000")], 400),
        (
            format!("{page}/update"),
            vec![("determination", "maybe")],
            400,
        ),
        (format!("{page}/update"), vec![("tlp", "purple")], 400),
        (format!("{page}/event"), vec![("name", huge.as_str())], 403),
        (format!("{page}/nonsense"), vec![("name", "x")], 404),
        (
            "/ui/incidents/not-an-id/event".to_owned(),
            vec![("name", "x")],
            404,
        ),
        (
            "/ui/incidents/incident--00000000-0000-4000-8000-000000000000/task".to_owned(),
            vec![("name", "x")],
            404,
        ),
        (
            "/ui/assist/garbage/offer".to_owned(),
            vec![("name", "x")],
            404,
        ),
        (
            "/ui/incidents".to_owned(),
            vec![("name", ""), ("determination", "suspected")],
            400,
        ),
        (
            "/ui/incidents".to_owned(),
            vec![("name", "x"), ("collection", "public-feed")],
            400,
        ),
        (
            "/ui/incidents".to_owned(),
            vec![("name", "x"), ("victim", "V"), ("country", "1")],
            400,
        ),
    ] {
        let a = post(&mut ee, &path, &fields).await;
        never_500(&path, &a);
        assert_eq!(a.status, want, "{path} {:?}: {}", &fields[..1], a.body);
    }
    for (path, want) in [
        ("/ui/incidents/not-an-id".to_owned(), 404),
        ("/ui/incidents/incident--zzz".to_owned(), 404),
        (format!("/ui/incidents/{}", pct(&w.ids[6])), 404),
        ("/ui/incidents?criticality=abc".to_owned(), 400),
        (format!("/ui/incidents?sector={}", "x".repeat(5000)), 400),
        ("/ui/incidents?sector=%3Cscript%3E".to_owned(), 200),
        ("/ui/disarm/T9999".to_owned(), 404),
        (format!("/ui/disarm/{}", "T".repeat(100)), 404),
        ("/ui/assist/garbage".to_owned(), 404),
        (format!("/ui/assist/{}", pct(inc)), 404),
        ("/ui/federation".to_owned(), 403),
        ("/ui/federation/explain?peer=x&id=y".to_owned(), 403),
    ] {
        let a = ee.get(&path).await;
        never_500(&path, &a);
        assert_eq!(a.status, want, "{path}: {}", a.body);
        assert!(!a.body.contains("<script>"), "{path}");
    }
}

/// Every demo user crawls the coordination pages: nothing it may not see appears.
async fn leak(w: &World) {
    let placements = w.node.store.placements().await.unwrap();
    let want = crate::leak::expected(&w.coalition, &placements);
    let mut json_of: HashMap<String, Vec<Value>> = HashMap::new();
    let mut pairs = HashSet::new();
    for p in &placements {
        if pairs.insert((p.collection.clone(), p.id.clone())) {
            for r in w
                .node
                .store
                .sync_versions(&p.collection, &p.id)
                .await
                .unwrap()
            {
                json_of
                    .entry(p.id.clone())
                    .or_default()
                    .push(serde_json::from_str(&r.json).unwrap());
            }
        }
    }
    let all_ids: BTreeSet<String> = placements.iter().map(|p| p.id.clone()).collect();
    let names = |id: &str| -> Vec<String> {
        json_of
            .get(id)
            .into_iter()
            .flatten()
            .flat_map(|o| {
                ["name", "title", "content", "description"]
                    .iter()
                    .filter_map(|k| o.get(*k).and_then(Value::as_str).map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let missing_incident = "/ui/incidents/incident--00000000-0000-4000-8000-000000000000";
    let missing_request = "/ui/assist/assistance-request--00000000-0000-4000-8000-000000000000";
    let mut checked_hidden = 0;
    for (user, _, role) in demo::USERS {
        let visible: BTreeSet<String> = want
            .iter()
            .filter(|((u, _), _)| u == user)
            .flat_map(|(_, ids)| ids.iter().cloned())
            .collect();
        let hidden_ids: Vec<&String> = all_ids.difference(&visible).collect();
        let visible_names: HashSet<String> = visible.iter().flat_map(|i| names(i)).collect();
        let forbidden: BTreeSet<String> = hidden_ids
            .iter()
            .flat_map(|i| names(i))
            .filter(|n| !visible_names.contains(n) && n.len() > 3)
            .collect();
        let mut b = signed(w, user).await;
        let missing_inc = b.get(missing_incident).await;
        assert_eq!(missing_inc.status, 404);
        let missing_req = b.get(missing_request).await;
        assert_eq!(missing_req.status, 404);
        // Hidden coordination objects' URLs answer like missing ones.
        for id in &hidden_ids {
            let path = if id.starts_with("incident--") {
                format!("/ui/incidents/{}", pct(id))
            } else if id.starts_with("assistance-request--") {
                format!("/ui/assist/{}", pct(id))
            } else {
                continue;
            };
            let a = b.get(&path).await;
            assert_eq!(a.status, 404, "{user} {path}");
            let twin = if id.starts_with("incident--") {
                &missing_inc
            } else {
                &missing_req
            };
            assert_eq!(a.body, twin.body, "{user}: a hidden object looks missing");
            checked_hidden += 1;
        }
        let mut queue: VecDeque<String> = [
            "/ui/incidents",
            "/ui/incidents?kind=fimi",
            "/ui/disarm",
            "/ui/assist",
            "/ui/assist/new",
            "/ui/federation",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let mut done = HashSet::new();
        while let Some(path) = queue.pop_front() {
            if !done.insert(path.clone()) || done.len() > 400 {
                continue;
            }
            let a = b.get(&path).await;
            if path.starts_with("/ui/federation") && *user != "admin" {
                assert_eq!(a.status, 403, "{user} {path}");
                continue;
            }
            // The request form (its incident choice names incidents) for those who may write.
            if path.starts_with("/ui/assist/new") && *role == shieldwall::config::Role::Reader {
                assert_eq!(a.status, 403, "{user} {path}");
                continue;
            }
            assert_eq!(a.status, 200, "{user} {path}: {}", a.body);
            for id in &hidden_ids {
                assert!(
                    !a.body.contains(id.as_str()),
                    "{user} sees hidden {id} on {path}"
                );
            }
            for n in &forbidden {
                assert!(
                    !a.body.contains(&escape(n)),
                    "{user} sees hidden name {n:?} on {path}"
                );
            }
            for l in links(&a.body) {
                if [
                    "/ui/incidents",
                    "/ui/disarm",
                    "/ui/assist",
                    "/ui/federation",
                ]
                .iter()
                .any(|p| l.starts_with(p))
                    && !l.ends_with("/incidents/new")
                {
                    queue.push_back(l.split('#').next().unwrap().to_owned());
                }
            }
        }
        assert!(done.len() >= 5, "{user} crawled {}", done.len());
    }
    assert!(
        checked_hidden > 0,
        "some coordination object is hidden from someone"
    );
}

/// A console route asked with a method it does not take answers a console page (405 with
/// `Allow`), signed in or not; the TAXII API keeps its error resources.
async fn methods(w: &World) {
    use reqwest::Method;
    let mut ee = signed(w, "ee-analyst").await;
    let mut anon = Browser::new(&w.node.base);
    let offer = format!("/ui/assist/{}/offer", pct(&w.ids[6]));
    for (anonymous, method, path, allow, says) in [
        (
            false,
            Method::POST,
            "/ui/search",
            "GET",
            "nothing was changed",
        ),
        (false, Method::GET, "/ui/sign-out", "POST", "Sign out"),
        (
            false,
            Method::GET,
            offer.as_str(),
            "POST",
            "only takes a form",
        ),
        (
            false,
            Method::PUT,
            "/ui/incidents",
            "POST",
            "nothing was changed",
        ),
        (false, Method::DELETE, "/ui/", "GET", "nothing was changed"),
        (
            false,
            Method::PATCH,
            "/ui/assist",
            "GET",
            "nothing was changed",
        ),
        (
            true,
            Method::POST,
            "/ui/search",
            "GET",
            "nothing was changed",
        ),
        (true, Method::GET, "/ui/sign-out", "POST", "Sign out"),
    ] {
        let b = if anonymous { &mut anon } else { &mut ee };
        let a = b.request(method.clone(), path).await;
        assert_eq!(a.status, 405, "{method} {path}: {}", a.body);
        let ct = a.headers["content-type"].to_str().unwrap();
        assert!(ct.starts_with("text/html"), "{method} {path}: {ct}");
        let allowed = a.headers["allow"].to_str().unwrap();
        assert!(allowed.contains(allow), "{method} {path}: Allow {allowed}");
        assert!(
            !allowed.contains(method.as_str()),
            "{method} {path}: Allow {allowed}"
        );
        assert!(a.body.contains("<h1>Method not allowed</h1>"), "{}", a.body);
        assert!(a.body.contains(says), "{method} {path}: {}", a.body);
        assert!(a.headers.contains_key("content-security-policy"));
        assert_eq!(a.headers["cache-control"], "no-store");
    }
    // Signing out still works, by its button's POST.
    let token = csrf(&mut ee).await;
    let a = ee.post("/ui/sign-out", &[("csrf", &token)]).await;
    assert_eq!(a.status, 303);
    // TAXII's 405 is still a TAXII error resource.
    let coll = &w.coalition.collections[0];
    for (method, path) in [
        (Method::POST, "/taxii2/".to_owned()),
        (
            Method::PUT,
            format!("/{}/collections/{}/objects/", coll.api_root, coll.id),
        ),
    ] {
        let r = common::client()
            .request(method.clone(), format!("{}{path}", w.node.base))
            .basic_auth("ee-analyst", Some("demo"))
            .header("Accept", common::ACCEPT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        assert!(r.headers().contains_key("allow"));
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            ct.starts_with("application/taxii+json"),
            "{method} {path}: {ct}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["http_status"], "405", "{body}");
    }
}

async fn federation_admin(w: &World) {
    let mut admin = signed(w, "admin").await;
    let a = admin.get("/ui/federation").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("Federation"));
}

/// The TLP labels of a page (`data-tlp`), in order.
fn tlp_labels(body: &str) -> Vec<String> {
    body.match_indices("data-tlp=\"")
        .filter_map(|(i, _)| {
            let rest = &body[i + 10..];
            rest.find('"').map(|j| rest[..j].to_owned())
        })
        .collect()
}

/// The `<form …>` element whose action is `action`, whole.
fn form_of<'a>(body: &'a str, action: &str) -> &'a str {
    let needle = format!("action=\"{action}\"");
    let at = body
        .find(&needle)
        .unwrap_or_else(|| panic!("no form {action}: {body}"));
    let start = body[..at].rfind("<form").unwrap();
    let end = body[at..].find("</form>").unwrap() + at;
    &body[start..end]
}

/// Every form answers a mistake with itself: 400, what was typed back in the fields (escaped:
/// markup typed comes back as text, never as markup), the mistake said at the form's top and
/// under its field (`aria-invalid`), the CSRF token still in the form (and still required), the
/// page's TLP labels the same as when it was first shown.
async fn forms_keep_what_was_typed(w: &World) {
    const XSS: &str = "<script>alert('typed')</script>";
    const XSS_ESCAPED: &str = "&lt;script&gt;alert(&#39;typed&#39;)&lt;/script&gt;";
    struct Case {
        user: &'static str,
        page: String,
        action: String,
        fields: Vec<(&'static str, String)>,
        /// The field at fault and a field whose typed text must come back.
        at: &'static str,
        kept: &'static str,
    }
    let inc = format!("/ui/incidents/{}", pct(&w.ids[0]));
    let req = format!("/ui/assist/{}", pct(&w.ids[6]));
    let cases = vec![
        Case {
            user: "ee-analyst",
            page: inc.clone(),
            action: format!("{inc}/event"),
            fields: vec![
                ("name", XSS.into()),
                ("status", "ongoing".into()),
                ("type", "Not A Slug".into()),
                ("description", format!("{XSS} </textarea><b>x</b>")),
            ],
            at: "type",
            kept: "name",
        },
        Case {
            user: "ee-analyst",
            page: inc.clone(),
            action: format!("{inc}/task"),
            fields: vec![
                ("name", XSS.into()),
                ("outcome", "ongoing".into()),
                ("priority", "500".into()),
            ],
            at: "priority",
            kept: "name",
        },
        Case {
            user: "ee-analyst",
            page: inc.clone(),
            action: format!("{inc}/impact"),
            fields: vec![
                ("category", "monetary".into()),
                ("criticality", "40".into()),
                ("description", XSS.into()),
            ],
            at: "variety",
            kept: "description",
        },
        Case {
            user: "ee-analyst",
            page: inc.clone(),
            action: format!("{inc}/update"),
            fields: vec![("criticality", "1000".into())],
            at: "criticality",
            kept: "criticality",
        },
        Case {
            user: "ee-analyst",
            page: "/ui/incidents/new".into(),
            action: "/ui/incidents".into(),
            fields: vec![
                ("name", XSS.into()),
                ("determination", "suspected".into()),
                ("victim", "Utility".into()),
                ("country", "E1".into()),
                ("description", XSS.into()),
            ],
            at: "country",
            kept: "name",
        },
        Case {
            user: "lt-analyst",
            page: req.clone(),
            action: format!("{req}/offer"),
            fields: vec![
                ("name", XSS.into()),
                ("services", "digital-forensics".into()),
                ("lead_time", "soon".into()),
                ("conditions", XSS.into()),
            ],
            at: "lead_time",
            kept: "name",
        },
        Case {
            user: "ee-analyst",
            page: req.clone(),
            action: format!("{req}/advance"),
            fields: vec![("to", "".into()), ("reason", XSS.into())],
            at: "to",
            kept: "reason",
        },
    ];
    for c in cases {
        let mut b = signed(w, c.user).await;
        let first = b.get(&c.page).await;
        assert_eq!(first.status, 200, "{}: {}", c.page, first.body);
        let fields: Vec<(&str, &str)> = c.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // Without the token: refused, nothing re-shown.
        let a = b.post(&c.action, &fields).await;
        assert_eq!(a.status, 403, "{}", c.action);
        assert!(!a.body.contains(XSS_ESCAPED), "{}", c.action);
        let a = post(&mut b, &c.action, &fields).await;
        assert_eq!(a.status, 400, "{}: {}", c.action, a.body);
        assert!(
            !a.body.contains(XSS),
            "{}: markup typed came back as markup",
            c.action
        );
        assert!(!a.body.contains("<b>x</b>"), "{}", c.action);
        let form = form_of(&a.body, &c.action);
        assert!(form.contains("role=\"alert\""), "{}: {form}", c.action);
        assert!(hidden(form, "csrf").is_some(), "{}: {form}", c.action);
        let typed = c
            .fields
            .iter()
            .find(|(k, _)| *k == c.kept)
            .unwrap()
            .1
            .as_str();
        assert!(
            form.contains(&escape(typed).replace('\'', "&#39;")),
            "{}: `{typed}` not kept: {form}",
            c.action
        );
        let marked = format!("name=\"{}\"", c.at);
        let control = &form[form
            .find(&marked)
            .unwrap_or_else(|| panic!("{}: no {marked}", c.action))..];
        let tag_start = form[..form.len() - control.len()].rfind('<').unwrap();
        let tag = &form[tag_start..tag_start + form[tag_start..].find('>').unwrap()];
        assert!(tag.contains("aria-invalid=\"true\""), "{}: {tag}", c.action);
        assert!(
            form.contains("class=\"field-error\""),
            "{}: {form}",
            c.action
        );
        assert_eq!(tlp_labels(&a.body), tlp_labels(&first.body), "{}", c.action);
    }
}

async fn all(store: AnyStore, dir: &std::path::Path) {
    let w = setup(store, dir).await;
    // The browser walk first, on the demo data as seeded (its screenshots are documentation).
    if let Some(driver) =
        crate::console_coord_browser::Driver::start("coordination pages in headless Chromium").await
    {
        crate::console_coord_browser::screenshots(&driver, &w.node.base, &w.ids).await;
    }
    leak(&w).await;
    forms_keep_what_was_typed(&w).await;
    incident_flow(&w).await;
    assistance_flow(&w).await;
    request_flow(&w).await;
    hostile(&w).await;
    methods(&w).await;
    federation_admin(&w).await;
    // The forms' writes did not make anything leak.
    leak(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_coord_on_sqlite() {
    let (dir, path) = common::sqlite_path();
    let store = AnyStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    all(store, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_coord_on_postgres() {
    let Some(db) = common::PgDb::create("console coordination pages on PostgreSQL").await else {
        return;
    };
    let store = AnyStore::open(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = setup(store.clone(), dir.path()).await;
    leak(&w).await;
    forms_keep_what_was_typed(&w).await;
    incident_flow(&w).await;
    assistance_flow(&w).await;
    request_flow(&w).await;
    hostile(&w).await;
    leak(&w).await;
    drop(w);
    db.drop_db(Some(store)).await;
}
