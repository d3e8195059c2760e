//! The TAXII 2.1 endpoints (and `/healthz`, metrics, the fallback). Each handler authenticates,
//! negotiates, resolves the API root and collection, then asks the store with the caller's policy.
//! A collection the caller may neither read nor write is answered exactly like an absent one.

use axum::{
    body::Body,
    extract::{MatchedPath, Path, RawQuery, Request, State, rejection::PathRejection},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    AppState,
    error::TaxiiError,
    filters::{self, Endpoint, Filters},
    media::{Taxii, check_accept, check_content_type},
    validation,
};
use crate::{
    coalition::{ApiRoot, Collection},
    ingest::Prepared,
    policy::{self, Principal, Pushdown},
    publish::{self, PublishError, PublishLimits, Publisher},
    store::{DeleteQuery, ListQuery, Page, Record, Store},
    timestamps,
};

type Result<T> = std::result::Result<T, TaxiiError>;

pub(super) async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state.auth.authenticate(auth).await.map_err(|e| match e {
        crate::auth::AuthError::Throttled(secs) => TaxiiError::too_many_requests(secs),
        crate::auth::AuthError::Unauthenticated => TaxiiError::unauthorized(),
    })
}

/// Authentication then `Accept`, as every GET starts.
async fn begin(state: &AppState, headers: &HeaderMap) -> Result<Principal> {
    let p = authenticate(state, headers).await?;
    check_accept(headers)?;
    Ok(p)
}

fn find_root<'a>(state: &'a AppState, name: &str) -> Result<&'a ApiRoot> {
    state
        .coalition
        .api_root(name)
        .ok_or_else(|| TaxiiError::not_found("API root"))
}

/// The collection, if the caller may read or write it (else it does not exist for them).
fn collection<'a>(
    state: &'a AppState,
    p: &Principal,
    root: &str,
    id: &str,
) -> Result<&'a Collection> {
    find_root(state, root)?;
    state
        .coalition
        .collection(root, id)
        .filter(|c| policy::can_read(p, c) || policy::can_write(p, c))
        .ok_or_else(|| TaxiiError::not_found("collection"))
}

fn readable<'a>(
    state: &'a AppState,
    p: &Principal,
    root: &str,
    id: &str,
) -> Result<&'a Collection> {
    let c = collection(state, p, root, id)?;
    if policy::can_read(p, c) {
        Ok(c)
    } else {
        Err(TaxiiError::forbidden("you may not read this collection"))
    }
}

fn path<T>(p: std::result::Result<Path<T>, PathRejection>) -> Result<T> {
    p.map(|Path(t)| t)
        .map_err(|_| TaxiiError::not_found("resource"))
}

fn collection_json(p: &Principal, c: &Collection) -> Value {
    let mut v = json!({
        "id": c.id,
        "title": c.title,
        "can_read": policy::can_read(p, c),
        "can_write": policy::can_write(p, c),
        "media_types": ["application/stix+json;version=2.1"],
    });
    if let Some(d) = &c.description {
        v["description"] = json!(d);
    }
    if let Some(a) = &c.alias {
        v["alias"] = json!(a);
    }
    v
}

/// `GET /taxii2/`.
pub(super) async fn discovery(State(state): State<AppState>, headers: HeaderMap) -> Result<Taxii> {
    begin(&state, &headers).await?;
    let url = |r: &ApiRoot| format!("{}/{}/", state.base_url, r.name);
    let mut v = json!({
        "title": state.discovery.title,
        "api_roots": state.coalition.api_roots.iter().map(url).collect::<Vec<_>>(),
    });
    if let Some(d) = &state.discovery.description {
        v["description"] = json!(d);
    }
    if let Some(c) = &state.discovery.contact {
        v["contact"] = json!(c);
    }
    if let Some(r) = state.coalition.api_roots.iter().find(|r| r.default) {
        v["default"] = json!(url(r));
    }
    Ok(Taxii::ok(v.to_string()))
}

async fn api_root_info(state: &AppState, root: &str) -> Result<Taxii> {
    let r = find_root(state, root)?;
    let mut v = json!({
        "title": r.title,
        "versions": ["application/taxii+json;version=2.1"],
        "max_content_length": state.limits.max_content_length,
    });
    if let Some(d) = &r.description {
        v["description"] = json!(d);
    }
    Ok(Taxii::ok(v.to_string()))
}

/// `GET /{root}/`.
pub(super) async fn api_root(
    State(state): State<AppState>,
    p: std::result::Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Taxii> {
    begin(&state, &headers).await?;
    let root = path(p)?;
    api_root_info(&state, &root).await
}

/// `GET /{root}/status/{id}/`.
pub(super) async fn status(
    State(state): State<AppState>,
    p: std::result::Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Taxii> {
    let principal = begin(&state, &headers).await?;
    let (root, id) = path(p)?;
    find_root(&state, &root)?;
    let record = state
        .store
        .status(&id, timestamps::now_us())
        .await?
        .filter(|s| {
            s.api_root == root
                && (s.member == principal.member || principal.role == crate::config::Role::Admin)
        })
        .ok_or_else(|| TaxiiError::not_found("status"))?;
    Ok(Taxii::ok(record.body))
}

/// `GET /{root}/collections/`.
pub(super) async fn collections(
    State(state): State<AppState>,
    p: std::result::Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Taxii> {
    let principal = begin(&state, &headers).await?;
    let root = path(p)?;
    find_root(&state, &root)?;
    let list: Vec<Value> = state
        .coalition
        .collections
        .iter()
        .filter(|c| {
            c.api_root == root
                && (policy::can_read(&principal, c) || policy::can_write(&principal, c))
        })
        .map(|c| collection_json(&principal, c))
        .collect();
    let body = if list.is_empty() {
        json!({})
    } else {
        json!({ "collections": list })
    };
    Ok(Taxii::ok(body.to_string()))
}

/// `GET /{root}/collections/{id}/`.
pub(super) async fn collection_info(
    State(state): State<AppState>,
    p: std::result::Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Taxii> {
    let principal = begin(&state, &headers).await?;
    let (root, coll) = path(p)?;
    let c = collection(&state, &principal, &root, &coll)?;
    Ok(Taxii::ok(collection_json(&principal, c).to_string()))
}

fn cursor_context(
    kind: &str,
    root: &str,
    coll: &str,
    object: &str,
    p: &Principal,
    f: &Filters,
) -> String {
    format!(
        "{kind}|{root}|{coll}|{object}|{}|{}|{}|{}",
        p.member,
        p.role.as_str(),
        p.actor,
        f.canonical
    )
}

fn version_of(r: &Record) -> String {
    r.version_text
        .clone()
        .unwrap_or_else(|| timestamps::format_us(r.version_ns.div_euclid(1000)))
}

/// Runs a listing with pagination; returns the page, its `next` cursor and the date_added headers.
async fn page(
    state: &AppState,
    mut q: ListQuery,
    f: &Filters,
    context: &str,
) -> Result<(Page, Option<String>, Option<(String, String)>)> {
    q.limit = f
        .limit
        .unwrap_or(state.limits.default_page_size)
        .min(state.limits.max_page_size);
    if let Some(n) = &f.next {
        q.after = Some(state.cursors.decode(n, context).ok_or_else(|| {
            TaxiiError::bad_request("`next` is not a cursor this server issued for this request")
        })?);
    }
    let page = state.store.list(&q).await?;
    let next = if page.more {
        page.records
            .last()
            .map(|r| state.cursors.encode(r.date_added_us, r.row, context))
    } else {
        None
    };
    let headers = match (page.records.first(), page.records.last()) {
        (Some(a), Some(b)) => Some((
            timestamps::format_us(a.date_added_us),
            timestamps::format_us(b.date_added_us),
        )),
        _ => None,
    };
    Ok((page, next, headers))
}

/// A page of one object (`q.ids` holds its id), or 404 when the caller may see no version of it
/// in the collection: hidden looks absent, whatever the filters.
///
/// The listing applies the whole policy to every version it returns, so a page with a version
/// proves the object visible, and the common by-id GET is one query. Only an empty page needs the
/// visibility check (which tells "no version matches the filters", `{}`, from "no such object",
/// 404). With a `next` cursor the check comes first, as before anything whose result could show
/// (a cursor that does not decode is a 400 only for a visible object).
async fn page_of_visible_object(
    state: &AppState,
    q: ListQuery,
    f: &Filters,
    context: &str,
) -> Result<(Page, Option<String>, Option<(String, String)>)> {
    let (collection, pushdown) = (q.collection.clone(), q.pushdown.clone());
    let id = q.ids.concat();
    let check = async || {
        if state.store.visible(&collection, &id, &pushdown).await? {
            Ok(())
        } else {
            Err(TaxiiError::not_found("object"))
        }
    };
    if f.next.is_some() {
        check().await?;
        return page(state, q, f, context).await;
    }
    let out = page(state, q, f, context).await?;
    if out.0.records.is_empty() {
        check().await?;
    }
    Ok(out)
}

/// An envelope-like body: `{"more":…, "next":…, key:[items…]}`, or `{}` when empty.
fn envelope(key: &str, items: Vec<String>, more: bool, next: Option<String>) -> String {
    if items.is_empty() {
        return "{}".to_owned();
    }
    let mut s = String::with_capacity(items.iter().map(String::len).sum::<usize>() + 64);
    s.push_str("{\"more\":");
    s.push_str(if more { "true" } else { "false" });
    if let Some(n) = next {
        s.push_str(",\"next\":");
        s.push_str(&Value::String(n).to_string());
    }
    s.push_str(",\"");
    s.push_str(key);
    s.push_str("\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(item);
    }
    s.push_str("]}");
    s
}

fn list_query(
    c: &Collection,
    pd: Pushdown,
    f: &Filters,
    ids: Vec<String>,
    with_json: bool,
) -> ListQuery {
    ListQuery {
        collection: c.id.clone(),
        pushdown: pd,
        ids,
        types: f.types.clone(),
        added_after_us: f.added_after_us,
        versions: f.versions.clone(),
        spec_versions: f.spec_versions.clone(),
        after: None,
        limit: 0,
        with_json,
    }
}

/// Records a read that returned RED or AMBER+STRICT objects (one record per request, listing
/// them; nothing for a page without any). The response waits for the record: a read that cannot
/// be recorded is not answered.
async fn audit_read(
    state: &AppState,
    principal: &Principal,
    endpoint: &str,
    c: &Collection,
    records: &[Record],
) -> Result<()> {
    if !state.audit.records_reads() {
        return Ok(());
    }
    let default = state.coalition.default_tlp;
    let (mut red, mut strict) = (Vec::new(), Vec::new());
    for r in records {
        match r.tlp.and_then(policy::tlp_from_code).unwrap_or(default) {
            stix::tlp::TlpLevel::Red => red.push(r.id.as_str()),
            stix::tlp::TlpLevel::AmberStrict => strict.push(r.id.as_str()),
            _ => {}
        }
    }
    if red.is_empty() && strict.is_empty() {
        return Ok(());
    }
    red.dedup();
    strict.dedup();
    let entry = crate::audit_chain::Entry::new(
        &principal.actor,
        "read",
        "taxii",
        &format!("collection:{}", c.id),
        "ok",
    )
    .detail(&crate::audit_chain::ids_detail(
        &format!("member={} endpoint={endpoint}", principal.member),
        &red,
        &strict,
    ));
    state
        .audit
        .record_read(entry)
        .await
        .map_err(TaxiiError::from)
}

/// `GET …/objects/`.
pub(super) async fn get_objects(
    State(state): State<AppState>,
    p: std::result::Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Taxii> {
    let principal = begin(&state, &headers).await?;
    let (root, coll) = path(p)?;
    let c = readable(&state, &principal, &root, &coll)?;
    let f = filters::parse(raw.as_deref(), Endpoint::Objects)?;
    let pd = Pushdown::for_principal(&principal, &state.coalition);
    // A peer node's pull: the `added_after` of the first page of a pull says what it holds
    // (it persists its cursor only after committing), which `sync --explain` reads as acknowledged.
    if f.next.is_none()
        && let Some(egress) = &pd.egress
        && let Some((peer, _)) = state.coalition.inbound_peer(&principal.actor)
    {
        let value = crate::sync::served_ack_value(f.added_after_us, egress);
        if state
            .store
            .sync_cursor(peer, &c.id, "served")
            .await?
            .as_deref()
            != Some(value.as_str())
        {
            state
                .store
                .set_sync_cursor(peer, &c.id, "served", &value)
                .await?;
        }
    }
    let ctx = cursor_context("objects", &root, &c.id, "", &principal, &f);
    let q = list_query(c, pd, &f, f.ids.clone(), true);
    let (page, next, date_added) = page(&state, q, &f, &ctx).await?;
    audit_read(&state, &principal, "objects", c, &page.records).await?;
    let items = page.records.into_iter().filter_map(|r| r.json).collect();
    Ok(Taxii {
        status: StatusCode::OK,
        body: envelope("objects", items, page.more, next),
        date_added,
    })
}

/// `GET …/manifest/`.
pub(super) async fn manifest(
    State(state): State<AppState>,
    p: std::result::Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Taxii> {
    let principal = begin(&state, &headers).await?;
    let (root, coll) = path(p)?;
    let c = readable(&state, &principal, &root, &coll)?;
    let f = filters::parse(raw.as_deref(), Endpoint::Objects)?;
    let pd = Pushdown::for_principal(&principal, &state.coalition);
    let ctx = cursor_context("manifest", &root, &c.id, "", &principal, &f);
    let q = list_query(c, pd, &f, f.ids.clone(), false);
    let (page, next, date_added) = page(&state, q, &f, &ctx).await?;
    audit_read(&state, &principal, "manifest", c, &page.records).await?;
    let items = page
        .records
        .iter()
        .map(|r| {
            let media = stix::meta::SpecVersion::parse(&r.spec_version)
                .unwrap_or(stix::meta::SpecVersion::V2_1)
                .media_type();
            json!({
                "id": r.id,
                "date_added": timestamps::format_us(r.date_added_us),
                "version": version_of(r),
                "media_type": media,
            })
            .to_string()
        })
        .collect();
    Ok(Taxii {
        status: StatusCode::OK,
        body: envelope("objects", items, page.more, next),
        date_added,
    })
}

/// The object id of a by-id path, or 404.
fn object_id(raw: &str) -> Result<String> {
    if filters::is_object_id(raw) {
        Ok(raw.to_owned())
    } else {
        Err(TaxiiError::not_found("object"))
    }
}

/// `GET …/objects/{id}/`.
pub(super) async fn get_object(
    State(state): State<AppState>,
    p: std::result::Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Taxii> {
    let principal = begin(&state, &headers).await?;
    let (root, coll, object) = path(p)?;
    let c = readable(&state, &principal, &root, &coll)?;
    let f = filters::parse(raw.as_deref(), Endpoint::Object)?;
    let id = object_id(&object)?;
    let pd = Pushdown::for_principal(&principal, &state.coalition);
    let ctx = cursor_context("object", &root, &c.id, &id, &principal, &f);
    let q = list_query(c, pd, &f, vec![id], true);
    let (page, next, date_added) = page_of_visible_object(&state, q, &f, &ctx).await?;
    audit_read(&state, &principal, "object", c, &page.records).await?;
    let items = page.records.into_iter().filter_map(|r| r.json).collect();
    Ok(Taxii {
        status: StatusCode::OK,
        body: envelope("objects", items, page.more, next),
        date_added,
    })
}

/// `GET …/objects/{id}/versions/`.
pub(super) async fn versions(
    State(state): State<AppState>,
    p: std::result::Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Taxii> {
    let principal = begin(&state, &headers).await?;
    let (root, coll, object) = path(p)?;
    let c = readable(&state, &principal, &root, &coll)?;
    let f = filters::parse(raw.as_deref(), Endpoint::Versions)?;
    let id = object_id(&object)?;
    let pd = Pushdown::for_principal(&principal, &state.coalition);
    let ctx = cursor_context("versions", &root, &c.id, &id, &principal, &f);
    let q = list_query(c, pd, &f, vec![id], false);
    let (page, next, date_added) = page_of_visible_object(&state, q, &f, &ctx).await?;
    let items = page
        .records
        .iter()
        .map(|r| Value::String(version_of(r)).to_string())
        .collect();
    Ok(Taxii {
        status: StatusCode::OK,
        body: envelope("versions", items, page.more, next),
        date_added,
    })
}

/// `DELETE …/objects/{id}/`.
pub(super) async fn delete_object(
    State(state): State<AppState>,
    p: std::result::Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let principal = begin(&state, &headers).await?;
    let (root, coll, object) = path(p)?;
    let c = readable(&state, &principal, &root, &coll)?;
    let f = filters::parse(raw.as_deref(), Endpoint::Delete)?;
    let id = object_id(&object)?;
    let pd = Pushdown::for_principal(&principal, &state.coalition);
    if !state.store.visible(&c.id, &id, &pd).await? {
        return Err(TaxiiError::not_found("object"));
    }
    if !policy::can_write(&principal, c) {
        return Err(TaxiiError::forbidden(
            "you may not delete from this collection",
        ));
    }
    let target = id.clone();
    let outcome = state
        .store
        .delete(&DeleteQuery {
            collection: c.id.clone(),
            id,
            pushdown: pd,
            versions: f.versions.clone(),
            spec_versions: f.spec_versions.clone(),
            only_producer: (principal.role != crate::config::Role::Admin)
                .then(|| principal.member.clone()),
        })
        .await?;
    if outcome.removed == 0 && outcome.refused > 0 {
        return Err(TaxiiError::forbidden(
            "only the member that published a version (or an admin) may delete it",
        ));
    }
    if outcome.removed == 0 {
        return Err(TaxiiError::not_found("object version"));
    }
    state
        .audit
        .record(
            crate::audit_chain::Entry::new(&principal.actor, "delete", "taxii", &target, "ok")
                .detail(&format!(
                    "member={} collection={} removed={}",
                    principal.member, c.id, outcome.removed
                )),
        )
        .await
        .map_err(|e| TaxiiError::internal(&e))?;
    tracing::info!(collection = %c.id, removed = outcome.removed, actor = %principal.actor, "Deleted object versions.");
    Ok(StatusCode::OK.into_response())
}

fn body_too_large(e: &axum::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if s.to_string().contains("length limit exceeded") {
            return true;
        }
        source = s.source();
    }
    false
}

/// `POST …/objects/`.
pub(super) async fn add_objects(
    State(state): State<AppState>,
    p: std::result::Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Taxii> {
    let principal = begin(&state, &headers).await?;
    let (root, coll) = path(p)?;
    let c = collection(&state, &principal, &root, &coll)?;
    if !policy::can_write(&principal, c) {
        return Err(TaxiiError::forbidden(
            "you may not add objects to this collection",
        ));
    }
    check_content_type(&headers)?;
    let max = state.limits.max_content_length;
    if let Some(len) = headers.get(header::CONTENT_LENGTH) {
        match len.to_str().ok().and_then(|s| s.parse::<u64>().ok()) {
            Some(n) if n > max as u64 => return Err(TaxiiError::too_large(max)),
            Some(_) => {}
            None => return Err(TaxiiError::bad_request("Content-Length is not a number")),
        }
    }
    let bytes = axum::body::to_bytes(body, max).await.map_err(|e| {
        if body_too_large(&e) {
            TaxiiError::too_large(max)
        } else {
            TaxiiError::bad_request("the request body could not be read")
        }
    })?;
    let request_us = timestamps::now_us();
    // A peer pushing by sync: producer by `created_by_ref`, provenance `peer:NAME`.
    let inbound_peer = state.coalition.inbound_peer(&principal.actor).cloned();
    // Parsing and validation run off the async workers, bounded and within the timeout.
    let inbound_member = inbound_peer.as_ref().map(|(_, m)| m.clone());
    let prepared: Vec<Prepared> =
        validation::prepare_envelope(&state, &principal, inbound_member, bytes).await?;
    let by = match &inbound_peer {
        Some((name, member)) => Publisher::Peer {
            name,
            member,
            actor: &principal.actor,
        },
        None => Publisher::Member(&principal),
    };
    let limits = PublishLimits {
        status_retention_us: state.limits.status_retention_us,
    };
    let report = publish::publish_prepared(&state.store, prepared, by, c, limits, request_us)
        .await
        .map_err(|e| match e {
            PublishError::Store(e) => TaxiiError::from(e),
            // `can_write` was checked above; the other errors are all-or-nothing writes'.
            other => TaxiiError::forbidden(other.to_string()),
        })?;
    let stored = report.successes();
    let refused = report.refused();
    metrics::counter!("shieldwall_objects_added_total").increment(stored);
    metrics::counter!("shieldwall_objects_refused_total").increment(refused);
    tracing::info!(collection = %c.id, stored, refused, actor = %principal.actor, "Added objects.");
    let status_body = report.status_body;
    Ok(Taxii {
        status: StatusCode::ACCEPTED,
        body: status_body,
        date_added: None,
    })
}

/// `GET /lookup/?value=V[&limit=N]`: "where else has this value appeared" for scripts
/// (`services::lookup`), in every collection the caller may read, as JSON. Authenticated like
/// TAXII; errors are TAXII error resources (a missing, repeated, empty, over-long or
/// control-character value, an unknown parameter or a bad limit: 400; a peer node's account:
/// 403); a word is answered 200 with `classification: not-a-value`. Hits that are RED or
/// AMBER+STRICT are recorded in the audit trail before the answer leaves, as TAXII reads are.
pub(super) async fn lookup(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let principal = authenticate(&state, &headers).await?;
    let (mut value, mut limit) = (None, None);
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "value" if value.is_none() => value = Some(v.into_owned()),
            "limit" if limit.is_none() => {
                limit = Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| (1..=crate::services::lookup::MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            TaxiiError::bad_request(format!(
                                "`limit` must be a number from 1 to {}",
                                crate::services::lookup::MAX_LIMIT
                            ))
                        })?,
                );
            }
            "value" | "limit" => {
                return Err(TaxiiError::bad_request(format!("`{k}` is given twice")));
            }
            _ => {
                return Err(TaxiiError::bad_request(
                    "unknown parameter: only `value` and `limit` are accepted",
                ));
            }
        }
    }
    let value = value.ok_or_else(|| TaxiiError::bad_request("`value` is required"))?;
    let outcome = crate::services::lookup::lookup(
        &state.store,
        &state.coalition,
        &principal,
        &value,
        limit.unwrap_or(0),
    )
    .await
    .map_err(|e| match e {
        crate::services::ServiceError::Store(e) => TaxiiError::from(e),
        crate::services::ServiceError::Usage(m)
            if state.coalition.inbound_peer(&principal.actor).is_some() =>
        {
            TaxiiError::forbidden(m)
        }
        other => TaxiiError::bad_request(other.to_string()),
    })?;
    if let Some(entry) = outcome.audit_entry(&principal, "http") {
        state
            .audit
            .record_read(entry)
            .await
            .map_err(TaxiiError::from)?;
    }
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        outcome.to_json(&value).to_string(),
    )
        .into_response())
}

/// `GET /healthz`: liveness, without authentication.
pub(super) async fn healthz(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({"status": "ok", "backend": state.store.backend()}).to_string(),
    )
        .into_response()
}

/// `GET /admin/sync`: per-peer sync status (admins only; others get the 404 of an absent path):
/// the scheduled sync's run status when `serve` runs it, and, from the store, the versions held
/// back from each peer now (`held`, per reason) and the objects refused from it (`refused`, per
/// reason).
pub(super) async fn sync_status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response> {
    let principal = authenticate(&state, &headers).await?;
    if principal.role != crate::config::Role::Admin {
        super::admin_api::record_refused(&state, &principal, "taxii", "admin/sync").await;
        // As every route under /admin/: 403 for a signed-in non-admin.
        return Err(TaxiiError::forbidden(
            "the admin API is for the admin role only",
        ));
    }
    let now = timestamps::now_us();
    let snapshot = state
        .sync_status
        .as_ref()
        .map(|board| board.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .unwrap_or_default();
    let mut peers: serde_json::Map<String, Value> = snapshot
        .into_iter()
        .map(|(name, st)| {
            (
                name,
                json!({
                    "last_success": st.last_success_us.map(timestamps::format_us),
                    "last_attempt": st.last_attempt_us.map(timestamps::format_us),
                    "lag_seconds": st.lag_seconds(now),
                    "last_error": st.last_error,
                    "consecutive_errors": st.consecutive_errors,
                    "pulled_stored": st.pulled_stored,
                    "pushed": st.pushed,
                    "held_back": st.held_back,
                }),
            )
        })
        .collect();
    for (key, counts) in [
        ("held", state.store.sync_held_counts().await?),
        ("refused", state.store.refused_counts().await?),
    ] {
        for (peer, reason, n) in counts {
            let entry = peers.entry(peer).or_insert_with(|| json!({}));
            entry[key][reason] = json!(n);
        }
    }
    for v in peers.values_mut() {
        for key in ["held", "refused"] {
            if v.get(key).is_none() {
                v[key] = json!({});
            }
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        json!({"peers": peers}).to_string(),
    )
        .into_response())
}

/// Prometheus metrics (`crate::metrics`), to admins only: anyone else gets the 404 of an absent
/// path (collection names and counts are not theirs to see). Absent when they are served on
/// `server.metrics_listen` instead.
pub(super) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let Some(handle) = &state.metrics else {
        return Err(TaxiiError::not_found("resource"));
    };
    let principal = authenticate(&state, &headers).await?;
    if principal.role != crate::config::Role::Admin {
        super::admin_api::record_refused(&state, &principal, "taxii", "metrics").await;
        return Err(TaxiiError::not_found("resource"));
    }
    let body = crate::metrics::render(handle, &state.store).await?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response())
}

/// Anything unrouted.
/// Anything no route matched. A TAXII path written without its trailing slash (`/taxii2`,
/// `/{root}/collections/{id}/objects`, …) is answered with a permanent redirect (308: the method
/// and body are kept) to the same path with the slash, query string kept. The decision is
/// purely syntactic, before authentication, so it says nothing about what exists; the target
/// then authenticates and applies the policy as usual. Everything else is a TAXII 404.
pub(super) async fn fallback(uri: axum::http::Uri) -> Response {
    match slash_redirect(&uri) {
        Some(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        None => TaxiiError::not_found("resource").into_response(),
    }
}

/// The path with a trailing slash when `uri`'s path has the shape of a TAXII endpoint without
/// it. Only plain segments qualify (no empty segment, so never `//host`, and no backslash), so
/// the `Location` is always a path on this server.
fn slash_redirect(uri: &axum::http::Uri) -> Option<String> {
    let path = uri.path();
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() || rest.ends_with('/') {
        return None;
    }
    let segs: Vec<&str> = rest.split('/').collect();
    if segs
        .iter()
        .any(|s| s.is_empty() || s.contains('\\') || *s == "." || *s == "..")
    {
        return None;
    }
    let taxii = match segs.as_slice() {
        [one] => *one == "taxii2" || !matches!(*one, "healthz" | "admin"),
        // `lookup` is reserved: `/lookup` is sent to `/lookup/` by the arm above.
        [_, "collections"] => true,
        [_, "status", _] => true,
        [_, "collections", _] => true,
        [_, "collections", _, "objects" | "manifest"] => true,
        [_, "collections", _, "objects", _] => true,
        [_, "collections", _, "objects", _, "versions"] => true,
        _ => false,
    };
    if !taxii {
        return None;
    }
    Some(match uri.query() {
        Some(q) => format!("{path}/?{q}"),
        None => format!("{path}/"),
    })
}

/// Counts requests by matched route and status, and times them.
pub(super) async fn count_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("shieldwall_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("shieldwall_http_request_seconds", "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}
