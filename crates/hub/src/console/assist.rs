//! The assistance pages: the board of open requests (by priority, with the offers that fit
//! them) and offers, one request with its offers, and the workflow's actions as forms — offer
//! (another member, on an open request), match, advance and close with an after-action report
//! (the requester, on its own request), advance an offer (its provider). Each form is offered
//! only to the members [`workflow`] allows and refused (403, with why) to anyone else; each
//! step calls the same [`assist`] service as `shieldwall assist`.

use std::{collections::HashMap, fmt::Write as _};

use axum::{
    body::Bytes,
    extract::{Path, State},
    response::Response,
};
use coord::assist::{AssistanceOffer, AssistanceRequest, OfferStatus, RequestStatus};
use serde_json::Value;

use super::{
    check_form,
    coord::{
        CSS_LINK, MAX_NAME, MAX_TEXT, Shown, bad_request, chosen_collection, collection_select,
        failed, field, link, looks_like_id, marking, member, meter, missing, name_of, opt, percent,
        producer, select, step_error, tlp_select,
    },
    csrf_field,
    html::{E, object_href, pct, see_other, tlp_badge},
    page,
    session::Signed,
};
use crate::{
    services::{
        ServiceError,
        assist::{self, Advance, Close, NewOffer},
        member::{COORDINATION_TYPES, MemberService, of_type, s},
        workflow,
    },
    taxii::AppState,
};

/// `GET /ui/assist`: the board.
pub(super) async fn board(State(state): State<AppState>, signed: Signed) -> Response {
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let colls = m.readable();
    let objects = match m
        .view_cached(&state.console.views, &colls, COORDINATION_TYPES)
        .await
    {
        Ok(o) => o,
        Err(e) => return failed(&e),
    };
    let board = assist::board_of(&objects);
    let by_id: HashMap<&str, &Value> = objects.iter().map(|o| (s(o, "id"), o)).collect();
    let mut shown = Shown::default();
    let mut b = String::from(CSS_LINK);
    b.push_str("<h1>Assistance</h1><p class=\"note\">Requests for assistance between members and the offers that answer them. \
Every step is a new version of the request or offer by its producer. Open requests are ranked by priority \
(severity, type of entity, scope, cross-border impact, urgency, measures taken).</p>");
    b.push_str("<h2>Open requests</h2>");
    let open = board["open_requests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if open.is_empty() {
        b.push_str("<p>No open request you may see.</p>");
    } else {
        b.push_str("<table class=\"board\"><thead><tr><th scope=\"col\">Request</th><th scope=\"col\">Requester</th><th scope=\"col\">TLP</th>\
<th scope=\"col\">Priority</th><th scope=\"col\">Urgency</th><th scope=\"col\">Services</th><th scope=\"col\">Fitting offers</th><th scope=\"col\">Status</th></tr></thead><tbody>");
        for row in &open {
            let id = row["request"]["id"].as_str().unwrap_or("");
            let Some(req) = by_id.get(id) else { continue };
            let t = shown.see(&state, req);
            let proposals: Vec<String> = row["proposals"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            let o = by_id.get(p["offer_id"].as_str()?)?;
                            Some(format!(
                                "{} <span class=\"note\">fit {}</span>",
                                offer_link(o),
                                p["score"]
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            for p in row["proposals"].as_array().into_iter().flatten() {
                if let Some(o) = p["offer_id"].as_str().and_then(|x| by_id.get(x)) {
                    shown.see(&state, o);
                }
            }
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><span class=\"status st-{}\">{}</span></td></tr>",
                link(req),
                E(&producer(&state, req)),
                tlp_badge(t),
                meter(
                    row["request"]["priority"]
                        .as_u64()
                        .and_then(|p| u8::try_from(p).ok())
                ),
                E(row["urgency"].as_str().unwrap_or("")),
                E(&row["services"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()),
                if proposals.is_empty() {
                    "—".to_owned()
                } else {
                    proposals.join("<br>")
                },
                E(row["request"]["status"].as_str().unwrap_or("")),
                E(row["request"]["status"].as_str().unwrap_or(""))
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2>Requests in progress and closed</h2>");
    let other = board["other_requests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if other.is_empty() {
        b.push_str("<p>None.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Request</th><th scope=\"col\">Requester</th><th scope=\"col\">TLP</th><th scope=\"col\">Status</th></tr></thead><tbody>");
        for row in &other {
            let Some(req) = row["id"].as_str().and_then(|x| by_id.get(x)) else {
                continue;
            };
            let t = shown.see(&state, req);
            let st = row["status"].as_str().unwrap_or("");
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><span class=\"status st-{}\">{}</span></td></tr>",
                link(req),
                E(&producer(&state, req)),
                tlp_badge(t),
                E(st),
                E(st)
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2>Offers</h2>");
    let offers = board["offers"].as_array().cloned().unwrap_or_default();
    if offers.is_empty() {
        b.push_str("<p>No offer you may see.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Offer</th><th scope=\"col\">Provider</th><th scope=\"col\">TLP</th><th scope=\"col\">Services</th>\
<th scope=\"col\">Answers</th><th scope=\"col\" class=\"num\">Lead time (h)</th><th scope=\"col\">Status</th></tr></thead><tbody>");
        for row in &offers {
            let Some(o) = row["id"].as_str().and_then(|x| by_id.get(x)) else {
                continue;
            };
            let t = shown.see(&state, o);
            let answers: Vec<String> = row["request_refs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().and_then(|x| by_id.get(x)).map(|r| link(r)))
                        .collect()
                })
                .unwrap_or_default();
            let st = row["status"].as_str().unwrap_or("");
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td><span class=\"status st-{}\">{}</span></td></tr>",
                offer_link(o),
                E(&producer(&state, o)),
                tlp_badge(t),
                E(&row["services"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()),
                if answers.is_empty() {
                    "standing offer".to_owned()
                } else {
                    answers.join(", ")
                },
                row["lead_time_hours"]
                    .as_u64()
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "—".into()),
                E(st),
                E(st)
            );
        }
        b.push_str("</tbody></table>");
    }
    if let Err(r) = shown.audit(&state, &signed, "assist").await {
        return r;
    }
    page(&signed, "assist", "Assistance", shown.banner, &b)
}

fn offer_link(o: &Value) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        E(&object_href(s(o, "id"))),
        E(&name_of(o))
    )
}

fn list(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /ui/assist/{id}`: one request, its offers and the actions the member may take.
pub(super) async fn request_page(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if !looks_like_id(&id) || !id.starts_with("assistance-request--") {
        return missing(&signed);
    }
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let (req, coll) = match m.find(&id).await {
        Ok(x) => x,
        Err(ServiceError::NotFound(_)) => return missing(&signed),
        Err(e) => return failed(&e),
    };
    let Ok(read) = AssistanceRequest::read(&req) else {
        return missing(&signed);
    };
    let objects = match m
        .view_cached(&state.console.views, &m.readable(), COORDINATION_TYPES)
        .await
    {
        Ok(o) => o,
        Err(e) => return failed(&e),
    };
    // The after-action report is a `report`, not among the coordination types: read by id.
    let report = match read.body.report_ref.as_deref() {
        Some(r) => match m.find(r).await {
            Ok((o, _)) => Some(o),
            Err(ServiceError::NotFound(_)) => None,
            Err(e) => return failed(&e),
        },
        None => None,
    };
    let mut by_id: HashMap<&str, &Value> = objects.iter().map(|o| (s(o, "id"), o)).collect();
    if let Some(r) = &report {
        by_id.insert(s(r, "id"), r);
    }
    let mut shown = Shown::default();
    let t = shown.see(&state, &req);
    let status = read.body.request_status;
    let mut b = String::from(CSS_LINK);
    let _ = write!(
        b,
        "<p class=\"crumbs\"><a href=\"/ui/assist\">Assistance</a> ›</p><h1>{} {}</h1>",
        E(&read.body.name),
        tlp_badge(t)
    );
    if let Some(d) = &read.body.description {
        let _ = write!(b, "<p class=\"lead\">{}</p>", E(d));
    }
    let needs: Vec<String> = req
        .get("needs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|n| {
                    let q = n.get("quantity").map(|q| format!(" {q} {}", s(n, "unit")));
                    format!("{}{}", s(n, "service"), q.unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    let _ = write!(
        b,
        "<div class=\"facts\"><div><span>Status</span><strong class=\"status st-{0}\">{0}</strong></div>\
<div><span>Requester</span><strong>{1}</strong></div><div><span>Urgency</span><strong>{2}</strong></div>\
<div><span>Priority</span><strong>{3}</strong></div><div><span>Services</span><strong>{4}</strong></div>\
<div><span>Needs</span><strong>{5}</strong></div></div><p class=\"note\">In {6} · <a href=\"{7}\">the STIX object and its versions</a></p>",
        E(&status.name()),
        E(&producer(&state, &req)),
        E(s(&req, "urgency")),
        meter(
            req.get("priority")
                .and_then(Value::as_u64)
                .and_then(|p| u8::try_from(p).ok())
        ),
        E(&read.body.services().join(", ")),
        E(&if needs.is_empty() {
            "—".into()
        } else {
            needs.join(", ")
        }),
        E(&coll.title),
        E(&object_href(&id))
    );
    let incidents: Vec<&Value> = read
        .body
        .incident_refs
        .iter()
        .filter_map(|i| by_id.get(i.as_str()).copied())
        .collect();
    if !incidents.is_empty() {
        b.push_str("<h2>Incidents</h2><ul class=\"linked\">");
        for i in incidents {
            let it = shown.see(&state, i);
            let _ = write!(b, "<li>{} {}</li>", link(i), tlp_badge(it));
        }
        b.push_str("</ul>");
    }
    // Offers that answer it (or were matched).
    let offers: Vec<&Value> = of_type(&objects, AssistanceOffer::TYPE)
        .filter(|o| {
            list(o, "request_refs").iter().any(|r| r == &id)
                || read.body.matched_offer_refs.iter().any(|x| x == s(o, "id"))
        })
        .collect();
    let csrf = csrf_field(&signed);
    let requester = workflow::may_version(&m, &req, &coll);
    b.push_str("<h2>Offers</h2>");
    if offers.is_empty() {
        b.push_str("<p>No offer you may see answers this request yet.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Offer</th><th scope=\"col\">Provider</th><th scope=\"col\">TLP</th>\
<th scope=\"col\">Services</th><th scope=\"col\" class=\"num\">Lead time (h)</th><th scope=\"col\">Status</th><th scope=\"col\">Matched</th><th scope=\"col\">Provider's step</th></tr></thead><tbody>");
        for o in &offers {
            let ot = shown.see(&state, o);
            let oid = s(o, "id");
            let st = s(o, "offer_status");
            let matched = read.body.matched_offer_refs.iter().any(|x| x == oid);
            let own_step = match m.find(oid).await {
                Ok((cur, oc)) if workflow::may_advance_offer(&m, &cur, &oc).is_ok() => {
                    let succ: Vec<(String, String)> = AssistanceOffer::read(&cur)
                        .map(|r| {
                            r.body
                                .offer_status
                                .successors()
                                .iter()
                                .map(|x| (x.name(), x.name()))
                                .collect()
                        })
                        .unwrap_or_default();
                    if succ.is_empty() {
                        "—".to_owned()
                    } else {
                        format!(
                            "<form class=\"inline\" method=\"post\" action=\"/ui/assist/{}/advance\">{csrf}\
<input type=\"hidden\" name=\"back\" value=\"{}\">{}<button type=\"submit\">Advance the offer</button></form>",
                            E(&pct(oid)),
                            E(&id),
                            select(
                                "to",
                                &format!(
                                    "o-to-{}",
                                    oid.get(oid.len().saturating_sub(8)..).unwrap_or("x")
                                ),
                                "To",
                                "",
                                &succ,
                                None
                            )
                        )
                    }
                }
                _ => "—".to_owned(),
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td><span class=\"status st-{st}\">{st}</span></td><td>{}</td><td>{own_step}</td></tr>",
                offer_link(o),
                E(&producer(&state, o)),
                tlp_badge(ot),
                E(&list(o, "offered_services").join(", ")),
                o.get("lead_time_hours")
                    .and_then(Value::as_u64)
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "—".into()),
                if matched {
                    "<strong>matched</strong>"
                } else {
                    ""
                },
                st = E(st)
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2 id=\"actions\">Actions</h2>");
    let mut any = false;
    // Another member offers help.
    if workflow::may_offer(&m, &req).is_ok() {
        any = true;
        let colls = workflow::writable(&m);
        let here = if colls.iter().any(|c| c.id == coll.id) {
            coll.id.as_str()
        } else {
            ""
        };
        let _ = write!(
            b,
            "<form class=\"step\" method=\"post\" action=\"/ui/assist/{}/offer\"><h3>Offer help</h3>{csrf}\
<label for=\"of-name\">Offer<input id=\"of-name\" name=\"name\" required maxlength=\"{MAX_NAME}\" placeholder=\"e.g. Forensics team\"></label>\
<label for=\"of-svc\">Services offered (comma-separated)<input id=\"of-svc\" name=\"services\" required maxlength=\"{MAX_NAME}\" value=\"{}\"></label>\
<label for=\"of-cap\">Capacity (SERVICE:QUANTITY:UNIT, comma-separated)<input id=\"of-cap\" name=\"capacity\" maxlength=\"{MAX_NAME}\"></label>\
<label for=\"of-lead\">Time to deploy (hours)<input id=\"of-lead\" name=\"lead_time\" type=\"number\" min=\"0\" max=\"100000\"></label>\
<label for=\"of-cond\">Conditions<textarea id=\"of-cond\" name=\"conditions\" maxlength=\"{MAX_TEXT}\" rows=\"2\"></textarea></label>{}{}\
<button type=\"submit\">Offer</button></form>",
            E(&pct(&id)),
            E(&read.body.services().join(", ")),
            collection_select("of-coll", &colls, here),
            tlp_select("of-tlp")
        );
    }
    if requester.is_ok() {
        let available: Vec<(String, String)> = offers
            .iter()
            .filter(|o| AssistanceOffer::read(o).is_ok_and(|r| r.body.offer_status.is_available()))
            .map(|o| {
                (
                    s(o, "id").to_owned(),
                    format!("{} — {}", name_of(o), producer(&state, o)),
                )
            })
            .collect();
        if status.successors().contains(&RequestStatus::Matched) && !available.is_empty() {
            any = true;
            let mut boxes = String::new();
            for (i, (oid, label)) in available.iter().enumerate() {
                let _ = write!(
                    boxes,
                    "<label class=\"check\" for=\"m-{i}\"><input type=\"checkbox\" id=\"m-{i}\" name=\"offer\" value=\"{}\"> {}</label>",
                    E(oid),
                    E(label)
                );
            }
            let _ = write!(
                b,
                "<form class=\"step\" method=\"post\" action=\"/ui/assist/{}/match\"><h3>Match offers</h3>{csrf}{boxes}\
<button type=\"submit\">Match the selected offers</button></form>",
                E(&pct(&id))
            );
        }
        let succ: Vec<(String, String)> = status
            .successors()
            .iter()
            .filter(|x| !matches!(x, RequestStatus::Matched | RequestStatus::Closed))
            .map(|x| (x.name(), x.name()))
            .collect();
        if !succ.is_empty() {
            any = true;
            let _ = write!(
                b,
                "<form class=\"step\" method=\"post\" action=\"/ui/assist/{}/advance\"><h3>Advance the request</h3>{csrf}{}\
<label for=\"a-why\">Reason (rejections, cancellations)<input id=\"a-why\" name=\"reason\" maxlength=\"{MAX_NAME}\"></label>\
<button type=\"submit\">Advance</button></form>",
                E(&pct(&id)),
                select("to", "a-to", "To", "", &succ, None)
            );
        }
        if status.successors().contains(&RequestStatus::Closed) {
            any = true;
            let _ = write!(
                b,
                "<form class=\"step wide\" method=\"post\" action=\"/ui/assist/{}/close\"><h3>Close with an after-action report</h3>{csrf}\
<label for=\"c-svc\">Services provided<textarea id=\"c-svc\" name=\"services_provided\" required maxlength=\"{MAX_TEXT}\" rows=\"2\"></textarea></label>\
<label for=\"c-res\">Results achieved<textarea id=\"c-res\" name=\"results\" required maxlength=\"{MAX_TEXT}\" rows=\"2\"></textarea></label>\
<label for=\"c-les\">Lessons learned<textarea id=\"c-les\" name=\"lessons\" required maxlength=\"{MAX_TEXT}\" rows=\"2\"></textarea></label>\
<label for=\"c-sat\">Satisfaction (0–100)<input id=\"c-sat\" name=\"satisfaction\" type=\"number\" min=\"0\" max=\"100\"></label>{}\
<button type=\"submit\">Close the request</button></form>",
                E(&pct(&id)),
                tlp_select("c-tlp")
            );
        }
    }
    if !any {
        let why = match (&requester, workflow::may_offer(&m, &req)) {
            (Ok(()), _) => "the request is in a state with no further step from here".to_owned(),
            (_, Err(ServiceError::Forbidden(w))) => w,
            (Err(ServiceError::Forbidden(w)), _) => w.clone(),
            _ => "no step is open to your member".to_owned(),
        };
        let _ = write!(b, "<p class=\"note\">No action for you: {}.</p>", E(&why));
    }
    if let Some(r) = read.body.report_ref.as_deref().and_then(|r| by_id.get(r)) {
        let rt = shown.see(&state, r);
        let _ = write!(
            b,
            "<h2>After-action report</h2><p>{} {}</p>",
            link(r),
            tlp_badge(rt)
        );
    }
    if let Err(r) = shown.audit(&state, &signed, &format!("assist:{id}")).await {
        return r;
    }
    page(&signed, "assist", &read.body.name, shown.banner, &b)
}

/// Where a step goes back to: the request page named by `back` (an id), else `fallback`.
fn back_to(f: &HashMap<String, String>, fallback: &str) -> String {
    match f.get("back").map(String::as_str) {
        Some(b) if looks_like_id(b) && b.starts_with("assistance-request--") => {
            format!("/ui/assist/{}#actions", pct(b))
        }
        _ => format!("/ui/assist/{}#actions", pct(fallback)),
    }
}

fn list_field(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /ui/assist/{id}/{action}`: `offer`, `match`, `advance` (a request or an offer) or
/// `close`.
pub(super) async fn step(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut f = match check_form(&signed, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    // Several checked offers repeat the name `offer`.
    let checked: Vec<String> = form_urlencoded::parse(&body)
        .filter(|(k, _)| k == "offer")
        .map(|(_, v)| v.into_owned())
        .take(50)
        .collect();
    if !checked.is_empty() {
        f.insert("offers".into(), checked.join(","));
    }
    if !looks_like_id(&id) {
        return missing(&signed);
    }
    if !matches!(action.as_str(), "offer" | "match" | "advance" | "close") {
        return super::pages::not_found().await;
    }
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let (cur, coll) = match m.find(&id).await {
        Ok(x) => x,
        Err(e) => return step_error(&signed, &e),
    };
    let t = s(&cur, "type");
    let allowed = match (action.as_str(), t) {
        ("offer", AssistanceRequest::TYPE) => workflow::may_offer(&m, &cur),
        ("match" | "close", AssistanceRequest::TYPE) => workflow::may_version(&m, &cur, &coll),
        ("advance", AssistanceRequest::TYPE) => workflow::may_version(&m, &cur, &coll),
        ("advance", AssistanceOffer::TYPE) => workflow::may_advance_offer(&m, &cur, &coll),
        _ => return missing(&signed),
    };
    if let Err(e) = allowed {
        return step_error(&signed, &e);
    }
    let back = if t == AssistanceRequest::TYPE {
        format!("/ui/assist/{}#actions", pct(&id))
    } else {
        let first = list(&cur, "request_refs")
            .into_iter()
            .next()
            .unwrap_or_default();
        back_to(&f, &first)
    };
    let res = match run(&m, &id, &action, &f, &coll).await {
        Ok(r) => r,
        Err(why) => return bad_request(&why),
    };
    match res {
        Ok(()) => see_other(&back),
        Err(e) => step_error(&signed, &e),
    }
}

async fn run(
    m: &MemberService,
    id: &str,
    action: &str,
    f: &HashMap<String, String>,
    coll: &crate::coalition::Collection,
) -> Result<Result<(), ServiceError>, String> {
    Ok(match action {
        "offer" => {
            let name = field(f, "name", "The offer's name", MAX_NAME)?;
            if name.is_empty() {
                return Err("Give the offer a name.".into());
            }
            let services = list_field(field(f, "services", "Services", MAX_NAME)?);
            if services.is_empty() {
                return Err("Say which services you offer.".into());
            }
            let mut capacity = Vec::new();
            for c in list_field(field(f, "capacity", "Capacity", MAX_NAME)?) {
                capacity.push(assist::need(&c).map_err(|e| e.to_string())?);
            }
            let lead = field(f, "lead_time", "Time to deploy", 8)?;
            let lead_time_hours = if lead.is_empty() {
                None
            } else {
                Some(
                    lead.parse::<u32>()
                        .map_err(|_| "Time to deploy is a whole number of hours.".to_owned())?,
                )
            };
            let target = match field(f, "collection", "Collection", 200)? {
                "" if workflow::writable(m).iter().any(|c| c.id == coll.id) => coll.clone(),
                v => chosen_collection(m, v)?,
            };
            let mark = marking(field(f, "tlp", "TLP", 32)?)?;
            let a = NewOffer {
                requests: vec![id.to_owned()],
                name: name.to_owned(),
                services,
                capacity,
                lead_time_hours,
                conditions: opt(field(f, "conditions", "Conditions", MAX_TEXT)?),
                ..NewOffer::default()
            };
            assist::offer(m, &target, mark, a).await.map(|_| ())
        }
        "match" => {
            let offers = f.get("offers").map(|o| list_field(o)).unwrap_or_default();
            if offers.is_empty() {
                return Err("Select at least one offer to match.".into());
            }
            if offers.iter().any(|o| !looks_like_id(o)) {
                return Err("An offer is not an id.".into());
            }
            assist::match_offers(m, id, &offers).await.map(|_| ())
        }
        "advance" => {
            let to = field(f, "to", "The new status", 64)?;
            if to.is_empty() {
                return Err("Choose the new status.".into());
            }
            if serde_json::from_value::<RequestStatus>(serde_json::json!(to)).is_err()
                && serde_json::from_value::<OfferStatus>(serde_json::json!(to)).is_err()
            {
                return Err(format!("`{to}` is not a status."));
            }
            let a = Advance {
                id: id.to_owned(),
                to: to.to_owned(),
                reason: opt(field(f, "reason", "The reason", MAX_NAME)?),
                accepted_by: None,
            };
            assist::advance(m, &a).await.map(|_| ())
        }
        _ => {
            let g = |k: &str, label: &str| -> Result<String, String> {
                let v = field(f, k, label, MAX_TEXT)?;
                if v.is_empty() {
                    Err(format!("{label} is required for the after-action report."))
                } else {
                    Ok(v.to_owned())
                }
            };
            let c = Close {
                request: id.to_owned(),
                services_provided: g("services_provided", "Services provided")?,
                results: g("results", "Results achieved")?,
                lessons: g("lessons", "Lessons learned")?,
                satisfaction: percent(
                    field(f, "satisfaction", "Satisfaction", 8)?,
                    "Satisfaction",
                )?,
                ..Close::default()
            };
            let mark = marking(field(f, "tlp", "TLP", 32)?)?;
            assist::close(m, mark, &c).await.map(|_| ())
        }
    })
}
