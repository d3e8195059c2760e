//! The assistance pages: the board of open requests (by priority, with the offers that fit
//! them) and offers, the form of a new request (a member that may write somewhere, into a
//! collection it may write; mistakes come back on the form with what was typed), one request
//! with its offers, and the workflow's actions as forms — offer
//! (another member, on an open request), match, advance and close with an after-action report
//! (the requester, on its own request), advance an offer (its provider). Each form is offered
//! only to the members [`workflow`] allows and refused (403, with why) to anyone else; each
//! step calls the same [`assist`] service as `shieldwall assist`.

use std::{collections::HashMap, fmt::Write as _};

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use coord::assist::{
    AssistanceOffer, AssistanceRequest, Need, OfferStatus, PriorityEntityClass, RequestStatus,
    Urgency,
};
use serde_json::Value;
use stix::tlp::TlpLevel;

use super::{
    check_form,
    coord::{
        At, CSS_LINK, MAX_NAME, MAX_TEXT, Mistake, NIS2, Shown, chosen_collection,
        collection_select, failed, field, link, looks_like_id, marking, member, meter, missing,
        name_of, opt, opts, percent, producer, q, query, select, step_error, tlp_select,
    },
    csrf_field,
    html::{E, Refill, object_href, pct, see_other, tlp_badge},
    page, refused, reshow,
    session::Signed,
    typed,
};
use crate::{
    services::{
        ServiceError,
        assist::{self, Advance, Close, NewOffer, NewRequest, term},
        coordview::coord_view,
        member::{MemberService, s},
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
    let view = match coord_view(&m, &state.console.coord, &colls).await {
        Ok(v) => v,
        Err(e) => return failed(&e),
    };
    // The board reads only requests and offers.
    let board = assist::board_of(
        &view
            .of_types(&[AssistanceRequest::TYPE, AssistanceOffer::TYPE])
            .into_iter()
            .cloned()
            .collect::<Vec<_>>(),
    );
    let by_id = |x: &str| view.get(x);
    let mut shown = Shown::default();
    let mut b = String::from(CSS_LINK);
    b.push_str("<h1>Assistance</h1><p class=\"note\">Requests for assistance between members and the offers that answer them. \
Every step is a new version of the request or offer by its producer. Open requests are ranked by priority \
(severity, type of entity, scope, cross-border impact, urgency, measures taken).</p>");
    if workflow::may_write_somewhere(&m) {
        b.push_str("<p><a class=\"button\" href=\"/ui/assist/new\">Request assistance</a></p>");
    }
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
            let Some(req) = by_id(id) else { continue };
            let t = shown.see(&state, req);
            let proposals: Vec<String> = row["proposals"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            let o = by_id(p["offer_id"].as_str()?)?;
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
                if let Some(o) = p["offer_id"].as_str().and_then(&by_id) {
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
            let Some(req) = row["id"].as_str().and_then(&by_id) else {
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
            let Some(o) = row["id"].as_str().and_then(&by_id) else {
                continue;
            };
            let t = shown.see(&state, o);
            let answers: Vec<String> = row["request_refs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().and_then(&by_id).map(link))
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
    let view = match coord_view(&m, &state.console.coord, &m.readable()).await {
        Ok(v) => v,
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
    let by_id = |x: &str| -> Option<&Value> {
        match &report {
            Some(r) if s(r, "id") == x => Some(r),
            _ => view.get(x),
        }
    };
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
        .filter_map(|i| by_id(i.as_str()))
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
    let offers: Vec<&Value> = view
        .of_type(AssistanceOffer::TYPE)
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
    if let Some(r) = read.body.report_ref.as_deref().and_then(by_id) {
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
    // The request whose page the form is on.
    let request = if t == AssistanceRequest::TYPE {
        id.clone()
    } else {
        let first = list(&cur, "request_refs")
            .into_iter()
            .next()
            .unwrap_or_default();
        match f.get("back") {
            Some(b) if looks_like_id(b) && b.starts_with("assistance-request--") => b.clone(),
            _ => first,
        }
    };
    let back = format!("/ui/assist/{}#actions", pct(&request));
    let res = match run(&m, &id, &action, &f, &coll).await {
        Ok(r) => r,
        Err((at, why)) => {
            let form = format!("/ui/assist/{}/{action}", pct(&id));
            let page = request_page(State(state), signed, Path(request)).await;
            return reshow(
                page,
                &Refill {
                    action: &form,
                    typed: typed(&body),
                    field: at,
                    message: &why,
                },
            )
            .await;
        }
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
) -> Result<Result<(), ServiceError>, Mistake> {
    Ok(match action {
        "offer" => {
            let name = field(f, "name", "The offer's name", MAX_NAME).at("name")?;
            if name.is_empty() {
                return Err((Some("name"), "Give the offer a name.".into()));
            }
            let services = list_field(field(f, "services", "Services", MAX_NAME).at("services")?);
            if services.is_empty() {
                return Err((Some("services"), "Say which services you offer.".into()));
            }
            let mut capacity = Vec::new();
            for c in list_field(field(f, "capacity", "Capacity", MAX_NAME).at("capacity")?) {
                capacity.push(assist::need(&c).map_err(|e| e.to_string()).at("capacity")?);
            }
            let lead = field(f, "lead_time", "Time to deploy", 8).at("lead_time")?;
            let lead_time_hours = if lead.is_empty() {
                None
            } else {
                Some(
                    lead.parse::<u32>()
                        .map_err(|_| "Time to deploy is a whole number of hours.".to_owned())
                        .at("lead_time")?,
                )
            };
            let target = match field(f, "collection", "Collection", 200).at("collection")? {
                "" if workflow::writable(m).iter().any(|c| c.id == coll.id) => coll.clone(),
                v => chosen_collection(m, v).at("collection")?,
            };
            let mark = field(f, "tlp", "TLP", 32).and_then(marking).at("tlp")?;
            let a = NewOffer {
                requests: vec![id.to_owned()],
                name: name.to_owned(),
                services,
                capacity,
                lead_time_hours,
                conditions: opt(field(f, "conditions", "Conditions", MAX_TEXT).at("conditions")?),
                ..NewOffer::default()
            };
            assist::offer(m, &target, mark, a).await.map(|_| ())
        }
        "match" => {
            let offers = f.get("offers").map(|o| list_field(o)).unwrap_or_default();
            if offers.is_empty() {
                return Err((Some("offer"), "Select at least one offer to match.".into()));
            }
            if offers.iter().any(|o| !looks_like_id(o)) {
                return Err((Some("offer"), "An offer is not an id.".into()));
            }
            assist::match_offers(m, id, &offers).await.map(|_| ())
        }
        "advance" => {
            let to = field(f, "to", "The new status", 64).at("to")?;
            if to.is_empty() {
                return Err((Some("to"), "Choose the new status.".into()));
            }
            if serde_json::from_value::<RequestStatus>(serde_json::json!(to)).is_err()
                && serde_json::from_value::<OfferStatus>(serde_json::json!(to)).is_err()
            {
                return Err((Some("to"), format!("`{to}` is not a status.")));
            }
            let a = Advance {
                id: id.to_owned(),
                to: to.to_owned(),
                reason: opt(field(f, "reason", "The reason", MAX_NAME).at("reason")?),
                accepted_by: None,
            };
            assist::advance(m, &a).await.map(|_| ())
        }
        _ => {
            let g = |k: &'static str, label: &str| -> Result<String, Mistake> {
                let v = field(f, k, label, MAX_TEXT).at(k)?;
                if v.is_empty() {
                    Err((
                        Some(k),
                        format!("{label} is required for the after-action report."),
                    ))
                } else {
                    Ok(v.to_owned())
                }
            };
            let c = Close {
                request: id.to_owned(),
                services_provided: g("services_provided", "Services provided")?,
                results: g("results", "Results achieved")?,
                lessons: g("lessons", "Lessons learned")?,
                satisfaction: field(f, "satisfaction", "Satisfaction", 8)
                    .and_then(|v| percent(v, "Satisfaction"))
                    .at("satisfaction")?,
                ..Close::default()
            };
            let mark = field(f, "tlp", "TLP", 32).and_then(marking).at("tlp")?;
            assist::close(m, mark, &c).await.map(|_| ())
        }
    })
}

// ---------------------------------------------------------------------------------------------
// A new request for assistance

/// The services the request form offers as checkboxes (`assistance-service-ov` is open: others
/// are typed in).
const SERVICES: &[(&str, &str)] = &[
    ("incident-response", "Incident response"),
    ("digital-forensics", "Digital forensics"),
    ("malware-analysis", "Malware analysis"),
    ("threat-intelligence", "Threat intelligence"),
    ("hardware", "Hardware"),
    ("licences", "Licences"),
    ("funding", "Funding"),
    ("training", "Training"),
];

/// `assistance-mechanism-ov`.
const MECHANISMS: &[(&str, &str)] = &[
    ("coalition", "Coalition members"),
    ("eu-cybersecurity-reserve", "EU Cybersecurity Reserve"),
    ("tallinn-mechanism", "Tallinn Mechanism"),
];

const URGENCIES: &[(&str, &str)] = &[
    ("immediate", "Immediate (24 h)"),
    ("urgent", "Urgent (72 h)"),
    ("routine", "Routine (2 weeks)"),
    ("long-term", "Long-term (3 months)"),
];

const ENTITY_CLASSES: &[(&str, &str)] = &[
    ("essential", "NIS2 essential"),
    ("important", "NIS2 important"),
    ("other", "Other"),
];

/// What each TLP level tells the recipients, and who sees the request on this node, as the form
/// says it next to the level's label (the access policy's table).
fn tlp_meaning(l: TlpLevel) -> &'static str {
    match l {
        TlpLevel::Clear => "may be published · seen by every reader of the collection",
        TlpLevel::Green => "within the coalition, not published · every reader of the collection",
        TlpLevel::Amber => {
            "within recipients' organisations and those who need it · every reader of the collection"
        }
        TlpLevel::AmberStrict => {
            "within recipients' organisations only · every reader of the collection"
        }
        TlpLevel::Red => "not passed on · only your member and the collection's RED recipients",
    }
}

/// A TLP level as a choice: TLP 2.0's label, without the `data-tlp` of a label of what a page
/// shows (the page's banner does not count it).
fn tlp_choice(l: TlpLevel) -> String {
    format!(
        "<span class=\"tlp tlp-{}\">{}</span>",
        l.value().replace('+', "-"),
        l.name()
    )
}

/// The most incidents the form lists (the most recently modified; one given in the address is
/// always listed).
const MAX_INCIDENT_CHOICES: usize = 200;

/// The request form's values and its errors by field name (re-shown after a refused submission).
struct RequestForm<'a> {
    f: &'a HashMap<String, String>,
    services: &'a [String],
    errors: &'a [(&'static str, String)],
}

impl RequestForm<'_> {
    fn v(&self, k: &str) -> &str {
        self.f.get(k).map(String::as_str).unwrap_or("")
    }

    fn err(&self, k: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, m)| m.as_str())
    }

    /// `aria-invalid` and `aria-describedby` for the control `id` of field `k` in error.
    fn invalid(&self, k: &str, id: &str) -> String {
        if self.err(k).is_some() {
            format!(" aria-invalid=\"true\" aria-describedby=\"{id}-err\"")
        } else {
            String::new()
        }
    }

    /// The error of field `k`, under its control `id`.
    fn message(&self, k: &str, id: &str) -> String {
        self.err(k)
            .map(|m| format!("<p class=\"field-error\" id=\"{id}-err\">{}</p>", E(m)))
            .unwrap_or_default()
    }

    /// A text input with its label, value and error.
    fn input(&self, k: &str, id: &str, label: &str, max: usize, extra: &str) -> String {
        format!(
            "<label for=\"{id}\">{}<input id=\"{id}\" name=\"{k}\" maxlength=\"{max}\" value=\"{}\"{}{extra}></label>{}",
            label,
            E(self.v(k)),
            self.invalid(k, id),
            self.message(k, id)
        )
    }

    fn textarea(&self, k: &str, id: &str, label: &str, extra: &str) -> String {
        format!(
            "<label for=\"{id}\">{}<textarea id=\"{id}\" name=\"{k}\" maxlength=\"{MAX_TEXT}\" rows=\"3\"{}{extra}>{}</textarea></label>{}",
            label,
            self.invalid(k, id),
            E(self.v(k)),
            self.message(k, id)
        )
    }

    fn select(
        &self,
        k: &str,
        id: &str,
        label: &str,
        options: &[(String, String)],
        any: Option<&str>,
        default: &str,
    ) -> String {
        let current = if self.f.contains_key(k) {
            self.v(k)
        } else {
            default
        };
        let mut o = format!(
            "<label for=\"{id}\">{label}<select id=\"{id}\" name=\"{k}\"{}>",
            self.invalid(k, id)
        );
        if let Some(a) = any {
            let _ = write!(o, "<option value=\"\">{}</option>", E(a));
        }
        for (v, l) in options {
            let sel = if v == current { " selected" } else { "" };
            let _ = write!(o, "<option value=\"{}\"{sel}>{}</option>", E(v), E(l));
        }
        let _ = write!(o, "</select></label>{}", self.message(k, id));
        o
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// The request form, filled with `st`'s values and errors.
fn request_form(
    signed: &Signed,
    colls: &[crate::coalition::Collection],
    incidents: &[(String, String)],
    st: &RequestForm<'_>,
) -> String {
    let mut b = String::from(CSS_LINK);
    b.push_str(
        "<p class=\"crumbs\"><a href=\"/ui/assist\">Assistance</a> ›</p><h1>Request assistance</h1>\
<p class=\"note lead\">A request goes to the members that may read the collection you choose, as far as its TLP \
marking lets them see it; they answer with offers on its page. Fields marked * are required.</p>",
    );
    if !st.errors.is_empty() {
        b.push_str(
            "<div class=\"error summary\" role=\"alert\" id=\"errors\"><p><strong>The request was not filed.</strong> \
Correct what is marked and send it again:</p><ul>",
        );
        for (k, m) in st.errors {
            let _ = write!(
                b,
                "<li><a href=\"#r-{}\">{}</a></li>",
                k.replace('_', "-"),
                E(m)
            );
        }
        b.push_str("</ul></div>");
    }
    let _ = write!(
        b,
        "<form class=\"step request\" method=\"post\" action=\"/ui/assist\" novalidate>{}",
        csrf_field(signed)
    );
    // What is needed.
    b.push_str("<fieldset><legend>What is needed</legend>");
    b.push_str(&st.input(
        "name",
        "r-name",
        "Title of the request *",
        MAX_NAME,
        " required placeholder=\"e.g. Malware analysis for a hospital\"",
    ));
    b.push_str(&st.textarea("description", "r-description", "Description", ""));
    let _ = write!(
        b,
        "<fieldset class=\"checks\" id=\"r-services\"{}><legend>Services needed</legend>",
        if st.err("services").is_some() {
            " aria-describedby=\"r-services-err\""
        } else {
            ""
        }
    );
    for (i, (v, l)) in SERVICES.iter().enumerate() {
        let on = if st.services.iter().any(|s| s == v) {
            " checked"
        } else {
            ""
        };
        let _ = write!(
            b,
            "<label class=\"check\" for=\"r-svc-{i}\"><input type=\"checkbox\" id=\"r-svc-{i}\" name=\"service\" value=\"{v}\"{on}> {l}</label>"
        );
    }
    b.push_str("</fieldset>");
    b.push_str(&st.message("services", "r-services"));
    b.push_str(&st.input(
        "other_services",
        "r-other-services",
        "Other services (comma-separated, lower-case with hyphens)",
        MAX_NAME,
        " placeholder=\"e.g. ot-incident-response\"",
    ));
    b.push_str(&st.input(
        "needs",
        "r-needs",
        "Estimated needs (SERVICE:QUANTITY:UNIT, comma-separated)",
        MAX_NAME,
        " placeholder=\"e.g. digital-forensics:10:person-days\"",
    ));
    b.push_str(&st.select(
        "sector",
        "r-sector",
        "NIS2 sector concerned",
        &opts(NIS2),
        Some("—"),
        "",
    ));
    b.push_str("</fieldset>");
    // How urgent.
    b.push_str("<fieldset><legend>Urgency and priority</legend><div class=\"row\">");
    b.push_str(&st.select(
        "urgency",
        "r-urgency",
        "Urgency",
        &pairs(URGENCIES),
        None,
        "urgent",
    ));
    b.push_str(&st.input(
        "severity",
        "r-severity",
        "Severity (0–100)",
        3,
        " inputmode=\"numeric\" size=\"4\"",
    ));
    b.push_str(&st.select(
        "entity_class",
        "r-entity-class",
        "Type of entity affected",
        &pairs(ENTITY_CLASSES),
        Some("—"),
        "",
    ));
    b.push_str("</div>");
    let on = if st.v("cross_border").is_empty() {
        ""
    } else {
        " checked"
    };
    let _ = write!(
        b,
        "<label class=\"check\" for=\"r-cross-border\"><input type=\"checkbox\" id=\"r-cross-border\" name=\"cross_border\" value=\"yes\"{on}> Cross-border impact or risk of spill-over</label>"
    );
    b.push_str(&st.select(
        "incident",
        "r-incident",
        "Related incident",
        incidents,
        Some("— none —"),
        "",
    ));
    b.push_str(&st.textarea(
        "mitigation",
        "r-mitigation",
        "Measures already taken (required for the EU Cybersecurity Reserve)",
        "",
    ));
    b.push_str("</fieldset>");
    // Where it goes.
    b.push_str("<fieldset><legend>Where it goes</legend><div class=\"row\">");
    let coll_options: Vec<(String, String)> = colls
        .iter()
        .map(|c| (c.id.clone(), c.title.clone()))
        .collect();
    b.push_str(&st.select(
        "collection",
        "r-collection",
        "Collection *",
        &coll_options,
        None,
        "",
    ));
    b.push_str(&st.select(
        "mechanism",
        "r-mechanism",
        "Mechanism",
        &pairs(MECHANISMS),
        None,
        "coalition",
    ));
    b.push_str(&st.input(
        "languages",
        "r-languages",
        "Working languages",
        64,
        " placeholder=\"e.g. en, nl\"",
    ));
    b.push_str("</div>");
    let _ = write!(
        b,
        "<fieldset class=\"tlp-choice\" id=\"r-tlp\"{}><legend>TLP marking of the request *</legend>",
        if st.err("tlp").is_some() {
            " aria-describedby=\"r-tlp-err\""
        } else {
            ""
        }
    );
    for l in &TlpLevel::ALL {
        let v = l.value();
        let id = format!("r-tlp-{}", v.replace('+', "-"));
        let on = if st.v("tlp") == v { " checked" } else { "" };
        let _ = write!(
            b,
            "<label class=\"check\" for=\"{id}\"><input type=\"radio\" id=\"{id}\" name=\"tlp\" value=\"{v}\" required{on}{}> {} <span class=\"note\">{}</span></label>",
            st.invalid("tlp", "r-tlp"),
            tlp_choice(*l),
            tlp_meaning(*l)
        );
    }
    b.push_str("</fieldset>");
    b.push_str(&st.message("tlp", "r-tlp"));
    b.push_str("</fieldset><button type=\"submit\">File the request</button></form>");
    b
}

/// The incidents a member may relate a request to: (id, name and TLP), the most recently
/// modified first, `keep` always among them when visible. Each is noted in `shown` (the page's
/// banner, the audit of RED and AMBER+STRICT reads).
async fn incident_choices(
    state: &AppState,
    m: &MemberService,
    keep: &str,
    shown: &mut Shown,
) -> Result<Vec<(String, String)>, ServiceError> {
    let mut list = m.view_of_types(&m.readable(), false, &["incident"]).await?;
    list.sort_by(|a, b| s(b, "modified").cmp(s(a, "modified")));
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, o) in list.iter().enumerate() {
        if i < MAX_INCIDENT_CHOICES || s(o, "id") == keep {
            let t = shown.see(state, o);
            out.push((
                s(o, "id").to_owned(),
                format!("{} — {}", name_of(o), t.name()),
            ));
        }
    }
    Ok(out)
}

/// Refused before any form: a member that may write nowhere files no request.
#[allow(clippy::result_large_err)]
fn may_request(m: &MemberService) -> Result<(), Response> {
    if workflow::may_write_somewhere(m) {
        Ok(())
    } else {
        Err(refused(
            "The workflow does not allow this: your account may write nowhere, so it files no request for assistance.",
        ))
    }
}

/// `GET /ui/assist/new[?incident=ID]`: the form of a new request.
pub(super) async fn new_request_form(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(raw): RawQuery,
) -> Response {
    let qs = match query(raw) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if let Err(r) = may_request(&m) {
        return r;
    }
    let incident = q(&qs, "incident");
    let mut seen = Shown::default();
    let incidents = match incident_choices(&state, &m, incident, &mut seen).await {
        Ok(i) => i,
        Err(e) => return failed(&e),
    };
    if let Err(r) = seen.audit(&state, &signed, "assist:new").await {
        return r;
    }
    let mut f = HashMap::new();
    if incidents.iter().any(|(id, _)| id == incident) {
        f.insert("incident".to_owned(), incident.to_owned());
    }
    let st = RequestForm {
        f: &f,
        services: &[],
        errors: &[],
    };
    let b = request_form(&signed, &workflow::writable(&m), &incidents, &st);
    page(&signed, "assist", "Request assistance", seen.banner, &b)
}

/// Whether `v` has a character no form field should hold (controls, except the line breaks
/// and tabs of a text area when `multiline`).
fn has_controls(v: &str, multiline: bool) -> bool {
    v.chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
}

/// The form's request, or every error found (by field).
async fn parse_request(
    m: &MemberService,
    f: &HashMap<String, String>,
    checked: &[String],
) -> Result<(crate::coalition::Collection, &'static str, NewRequest), Vec<(&'static str, String)>> {
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    let mut get = |k: &'static str, label: &str, max: usize, multiline: bool| -> String {
        match field(f, k, label, max) {
            Ok(v) if has_controls(v, multiline) => {
                errors.push((k, format!("{label} holds control characters.")));
                String::new()
            }
            Ok(v) => v.to_owned(),
            Err(e) => {
                errors.push((k, e));
                String::new()
            }
        }
    };
    let name = get("name", "The title", MAX_NAME, false);
    let description = get("description", "The description", MAX_TEXT, true);
    let other = get("other_services", "Other services", MAX_NAME, false);
    let needs_text = get("needs", "Estimated needs", MAX_NAME, false);
    let sector = get("sector", "The sector", 64, false);
    let urgency = get("urgency", "The urgency", 32, false);
    let severity = get("severity", "Severity", 8, false);
    let entity_class = get("entity_class", "The type of entity", 32, false);
    let incident = get("incident", "The incident", 200, false);
    let mitigation = get("mitigation", "The measures taken", MAX_TEXT, true);
    let mechanism = get("mechanism", "The mechanism", 64, false);
    let languages = get("languages", "The languages", 64, false);
    let collection = get("collection", "The collection", 200, false);
    let tlp = get("tlp", "The TLP marking", 32, false);
    if name.is_empty() && !errors.iter().any(|(k, _)| *k == "name") {
        errors.push(("name", "Give the request a title.".into()));
    }
    let mut services: Vec<String> = Vec::new();
    for s in checked
        .iter()
        .map(String::as_str)
        .chain(list_field(&other).iter().map(String::as_str))
    {
        if !services.iter().any(|x| x == s) {
            services.push(s.to_owned());
        }
    }
    if let Some(bad) = services.iter().find(|s| !is_slug(s)) {
        errors.push((
            "other_services",
            format!("`{bad}` is not a service name: lower-case letters, digits and hyphens."),
        ));
    }
    let sector = opt(&sector);
    if let Some(sc) = &sector
        && !NIS2.contains(&sc.as_str())
    {
        errors.push(("sector", format!("`{sc}` is not a NIS2 sector.")));
    }
    let mut needs = Vec::new();
    for spec in list_field(&needs_text) {
        match assist::need(&spec) {
            Ok(mut n) => {
                if n.quantity.is_some_and(|q| !(q.is_finite() && q >= 0.0)) {
                    errors.push((
                        "needs",
                        format!("`{spec}`: the quantity must be a number ≥ 0."),
                    ));
                } else if !is_slug(&n.service) || n.unit.as_deref().is_some_and(|u| !is_slug(u)) {
                    errors.push((
                        "needs",
                        format!(
                            "`{spec}`: service and unit are lower-case letters, digits and hyphens."
                        ),
                    ));
                } else {
                    n.sector.clone_from(&sector);
                    needs.push(n);
                }
            }
            Err(e) => errors.push(("needs", e.to_string())),
        }
    }
    // A sector is kept on the needs: each service checked without a quantity becomes one.
    if sector.is_some() {
        for s in &services {
            if !needs.iter().any(|n: &Need| &n.service == s) {
                let mut n = Need::service(s.as_str());
                n.sector.clone_from(&sector);
                needs.push(n);
            }
        }
    }
    if services.is_empty()
        && needs.is_empty()
        && !errors
            .iter()
            .any(|(k, _)| matches!(*k, "needs" | "other_services"))
    {
        errors.push((
            "services",
            "Say which services are needed (tick one, or type it under other services or needs)."
                .into(),
        ));
    }
    let urgency = match urgency.as_str() {
        "" => None,
        u => match term::<Urgency>("urgency", u) {
            Ok(x) => Some(x),
            Err(_) => {
                errors.push(("urgency", format!("`{u}` is not an urgency.")));
                None
            }
        },
    };
    let severity = match percent(&severity, "Severity") {
        Ok(x) => x,
        Err(e) => {
            errors.push(("severity", e));
            None
        }
    };
    let entity_class = match entity_class.as_str() {
        "" => None,
        c => match term::<PriorityEntityClass>("entity-class", c) {
            Ok(x) => Some(x),
            Err(_) => {
                errors.push(("entity_class", format!("`{c}` is not a type of entity.")));
                None
            }
        },
    };
    let mechanism = if mechanism.is_empty() {
        "coalition".to_owned()
    } else if MECHANISMS.iter().any(|(v, _)| *v == mechanism) {
        mechanism
    } else {
        errors.push(("mechanism", format!("`{mechanism}` is not a mechanism.")));
        String::new()
    };
    let mitigation = opt(&mitigation);
    if mechanism == "eu-cybersecurity-reserve" && mitigation.is_none() {
        errors.push((
            "mitigation",
            "The EU Cybersecurity Reserve asks for the measures already taken.".into(),
        ));
    }
    let languages = list_field(&languages);
    if let Some(l) = languages
        .iter()
        .find(|l| !(l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase())))
    {
        errors.push((
            "languages",
            format!("`{l}` is not a two-letter language code (ISO 639-1)."),
        ));
    }
    let mut incidents = Vec::new();
    if !incident.is_empty() {
        // A hidden incident is the same mistake as a missing one.
        let visible = looks_like_id(&incident)
            && incident.starts_with("incident--")
            && matches!(m.find(&incident).await, Ok((o, _)) if s(&o, "type") == "incident");
        if visible {
            incidents.push(incident.clone());
        } else {
            errors.push((
                "incident",
                "No incident with this id is available to you.".into(),
            ));
        }
    }
    let mark = if tlp.is_empty() {
        errors.push(("tlp", "Choose the TLP marking of the request.".into()));
        None
    } else {
        match TlpLevel::parse(&tlp) {
            Some(l) => Some(l.marking_id()),
            None => {
                errors.push(("tlp", format!("`{tlp}` is not a TLP level.")));
                None
            }
        }
    };
    let coll = if collection.is_empty() {
        errors.push((
            "collection",
            "Choose the collection the request goes to.".into(),
        ));
        None
    } else {
        // Checked by the caller: a collection the member may not write is refused (403).
        workflow::writable(m)
            .into_iter()
            .find(|c| c.id == collection || c.alias.as_deref() == Some(collection.as_str()))
    };
    match (coll, mark) {
        (Some(c), Some(mark)) if errors.is_empty() => Ok((
            c,
            mark,
            NewRequest {
                name,
                description: opt(&description),
                mechanism,
                services,
                needs,
                urgency,
                incidents,
                affected: Vec::new(),
                mitigation,
                cross_border: !field(f, "cross_border", "", 8).unwrap_or("").is_empty(),
                severity,
                entity_class,
                languages,
            },
        )),
        _ => Err(errors),
    }
}

fn is_slug(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `POST /ui/assist`: a new request through the same service as `assist request`. A field in
/// error re-shows the form (400) with what was typed and what is wrong; a member that may not
/// write the chosen collection is refused (403) and nothing is stored.
pub(super) async fn new_request(
    State(state): State<AppState>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let f = match check_form(&signed, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let m = match member(&state, &signed) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if let Err(r) = may_request(&m) {
        return r;
    }
    let chosen = f.get("collection").map(|c| c.trim()).unwrap_or("");
    if !chosen.is_empty()
        && !workflow::writable(&m)
            .iter()
            .any(|c| c.id == chosen || c.alias.as_deref() == Some(chosen))
    {
        return refused(
            "The workflow does not allow this: your member may not write to that collection. Nothing was stored.",
        );
    }
    // Several ticked services repeat the name `service`.
    let checked: Vec<String> = form_urlencoded::parse(&body)
        .filter(|(k, _)| k == "service")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .take(50)
        .collect();
    let errors = match parse_request(&m, &f, &checked).await {
        Ok((coll, mark, input)) => match assist::request(&m, &coll, mark, input).await {
            Ok(w) => return see_other(&format!("/ui/assist/{}", pct(w.id()))),
            Err(
                e @ (ServiceError::Usage(_)
                | ServiceError::Workflow(_)
                | ServiceError::Build(_)
                | ServiceError::Read(_)),
            ) => vec![("name", format!("The request could not be built: {e}"))],
            Err(e) => return step_error(&signed, &e),
        },
        Err(errors) => errors,
    };
    let keep = f.get("incident").map(String::as_str).unwrap_or("");
    let mut seen = Shown::default();
    let incidents = match incident_choices(&state, &m, keep, &mut seen).await {
        Ok(i) => i,
        Err(e) => return failed(&e),
    };
    if let Err(r) = seen.audit(&state, &signed, "assist:new").await {
        return r;
    }
    // What was typed comes back without the control characters refused in it.
    let typed: HashMap<String, String> = f
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .chars()
                .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
                .collect();
            (k, v)
        })
        .collect();
    let st = RequestForm {
        f: &typed,
        services: &checked,
        errors: &errors,
    };
    let b = request_form(&signed, &workflow::writable(&m), &incidents, &st);
    let mut r = page(&signed, "assist", "Request assistance", seen.banner, &b);
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}
