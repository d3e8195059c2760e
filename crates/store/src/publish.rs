//! The one write path: publishing a batch of objects, as a member or as a peer's node, into a
//! collection (or, all or nothing, into several). Every writer goes through here — the TAXII
//! POST, `import`, `scan --report` sightings, the coordination commands, sync's pull and the
//! demo data — so that each applies the same rules in the same order:
//!
//! 1. each object is prepared by [`ingest`] (strict validation, canonical ids, the publishing
//!    rules for a member, or the producer by `created_by_ref` for a peer);
//! 2. the valid versions go to [`Store::add`] (or [`Store::add_batches`]), which applies the
//!    producer rule inside the write transaction and records the TAXII status resource with the
//!    node's configured retention;
//! 3. what a peer delivered and this node refused is recorded for `sync --explain`.
//!
//! The result is the TAXII status resource as a value ([`PublishReport`]), with the counts and
//! the reason of each failure.

use serde_json::{Value, json};

use ::policy::{
    coalition::{Coalition, Collection},
    config::ServerConfig,
    ingest::{self, Prepared},
    policy::{self, Principal},
};

use crate::{
    AddOutcome, CollectionBatch, NewVersion, Provenance, REFUSED_VERSION, Refused, StatusRecord,
    Store, StoreError, timestamps,
};

/// Who publishes, which decides the publishing rules, the producer and the provenance.
#[derive(Debug, Clone, Copy)]
pub enum Publisher<'a> {
    /// A member on this node (TAXII POST, `import`, `scan --report`, coordination, demo):
    /// provenance `local`, the member's publishing rules, and it must be allowed to write the
    /// collection.
    Member(&'a Principal),
    /// A peer's node delivering by sync (this node's pull, or the peer's push to this node's
    /// TAXII API): provenance `peer:NAME`, producer by `created_by_ref` (else the peer's
    /// member), and every refusal recorded for `sync --explain`.
    Peer {
        /// The peer's name in `[[peers]]`.
        name: &'a str,
        /// The member operating the peer's node.
        member: &'a str,
        /// Who delivered it (the peer's user or key, or `peer:NAME` for a pull).
        actor: &'a str,
    },
}

impl Publisher<'_> {
    /// The provenance every version it publishes keeps.
    pub fn provenance(&self) -> Provenance {
        match self {
            Publisher::Member(p) => Provenance {
                source: "local".into(),
                actor: p.actor.clone(),
            },
            Publisher::Peer { name, actor, .. } => Provenance {
                source: format!("peer:{name}"),
                actor: (*actor).to_owned(),
            },
        }
    }

    /// The member a status resource belongs to.
    fn member(&self) -> &str {
        match self {
            Publisher::Member(p) => &p.member,
            Publisher::Peer { member, .. } => member,
        }
    }

    /// Prepares one object for storage under the rules for this publisher.
    pub fn prepare(&self, obj: Value, coalition: &Coalition) -> Prepared {
        match self {
            Publisher::Member(p) => {
                crate::ingest_warnings::note(&obj, &p.member);
                ingest::prepare(obj, p, coalition)
            }
            Publisher::Peer { member, .. } => ingest::prepare_from_peer(obj, member, coalition),
        }
    }
}

/// The node's limits on writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishLimits {
    /// How long a status resource is kept, microseconds.
    pub status_retention_us: i64,
}

impl PublishLimits {
    /// The limits of a node's `[server]` configuration (`status_retention_hours`).
    pub fn from_server(s: &ServerConfig) -> PublishLimits {
        PublishLimits {
            status_retention_us: i64::from(s.status_retention_hours) * 3_600_000_000,
        }
    }

    /// Status resources that expire at once (the periodic purge forgets them): for sync's own
    /// pages, which no client asked for and nobody reads.
    pub fn transient() -> PublishLimits {
        PublishLimits {
            status_retention_us: 0,
        }
    }
}

/// Why an object was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The object's id (`""` when it had none).
    pub id: String,
    /// Its version, when known.
    pub version: Option<String>,
    /// Why.
    pub message: String,
}

impl Failure {
    /// `id: message`, as the CLI prints it.
    pub fn line(&self) -> String {
        format!("{}: {}", self.id, self.message)
    }
}

/// What publishing one batch into one collection did.
#[derive(Debug, Clone)]
pub struct PublishReport {
    /// The collection written.
    pub collection: String,
    /// The TAXII status resource (as kept by the store and answered to a POST).
    pub status: Value,
    /// The same status resource, serialised as stored.
    pub status_body: String,
    /// Versions stored now.
    pub added: u64,
    /// Versions the collection already held (a success too).
    pub already_present: u64,
    /// Every object not stored, with why: invalid ones first, then those the store's producer
    /// rule refused.
    pub failures: Vec<Failure>,
    /// The store's outcome of each valid version, in order (refused ones included).
    pub outcomes: Vec<AddOutcome>,
    /// The ids of the valid versions, in the order of `outcomes`.
    pub ids: Vec<String>,
}

impl PublishReport {
    /// Objects stored, now or before (`success_count`).
    pub fn successes(&self) -> u64 {
        self.added + self.already_present
    }

    /// Objects not stored (`failure_count`).
    pub fn refused(&self) -> u64 {
        self.failures.len() as u64
    }
}

/// Why nothing was published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The member may not write the collection.
    #[error("member `{member}` may not write to collection {collection} (nothing was stored)")]
    Forbidden {
        /// The member.
        member: String,
        /// The collection id.
        collection: String,
    },
    /// An all-or-nothing write in which some object was refused: nothing was stored.
    #[error("{} (nothing was stored)", summary(.0))]
    Refused(Vec<Failure>),
}

/// The first refusals of an all-or-nothing write, for its message.
fn summary(failures: &[Failure]) -> String {
    match failures {
        [one] => one.line(),
        _ => {
            // The same reason for all (the producer rule) is said once.
            let first = failures.first().map(|f| f.message.as_str()).unwrap_or("");
            if failures.iter().all(|f| f.message == first) {
                let ids: Vec<&str> = failures.iter().take(5).map(|f| f.id.as_str()).collect();
                let more = failures.len().saturating_sub(5);
                format!(
                    "{}{}: {first} ({} refused)",
                    ids.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    },
                    failures.len()
                )
            } else {
                failures
                    .iter()
                    .take(5)
                    .map(Failure::line)
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        }
    }
}

/// Splits prepared objects into the versions to store and the failures.
fn split(prepared: Vec<Prepared>) -> (Vec<NewVersion>, Vec<Failure>) {
    let mut valid = Vec::with_capacity(prepared.len());
    let mut failures = Vec::new();
    for p in prepared {
        match p {
            Prepared::Valid(v) => valid.push(*v),
            Prepared::Invalid {
                id,
                version,
                message,
            } => failures.push(Failure {
                id,
                version,
                message,
            }),
        }
    }
    (valid, failures)
}

/// The failures the store's producer rule made, in order.
fn refused_by_store(valid: &[NewVersion], outcomes: &[AddOutcome]) -> Vec<Failure> {
    valid
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| !o.is_stored())
        .map(|(v, o)| Failure {
            id: v.id.clone(),
            version: Some(version_text(v, o)),
            message: REFUSED_VERSION.to_owned(),
        })
        .collect()
}

/// A version's text: as posted, else (an SCO without one) its `date_added`.
fn version_text(v: &NewVersion, o: &AddOutcome) -> String {
    v.version_text
        .clone()
        .unwrap_or_else(|| timestamps::format_us(o.version_ns().div_euclid(1000)))
}

/// The TAXII status resource of a write.
fn status_resource(
    status_id: &str,
    request_us: i64,
    invalid: &[Failure],
    valid: &[NewVersion],
    outcomes: &[AddOutcome],
) -> Value {
    let mut successes: Vec<Value> = Vec::with_capacity(valid.len());
    let mut failures: Vec<Value> = invalid.iter().map(failure_json).collect();
    for (v, o) in valid.iter().zip(outcomes) {
        let version = version_text(v, o);
        if o.is_stored() {
            successes.push(json!({"id": v.id, "version": version}));
        } else {
            failures.push(json!({"id": v.id, "version": version, "message": REFUSED_VERSION}));
        }
    }
    json!({
        "id": status_id,
        "status": "complete",
        "request_timestamp": timestamps::format_us(request_us),
        "total_count": successes.len() + failures.len(),
        "success_count": successes.len(),
        "successes": successes,
        "failure_count": failures.len(),
        "failures": failures,
        "pending_count": 0,
        "pendings": [],
    })
}

fn failure_json(f: &Failure) -> Value {
    let mut j = json!({"id": f.id, "message": f.message});
    if let Some(v) = &f.version {
        j["version"] = json!(v);
    }
    j
}

/// Records what a peer delivered and this node refused, with `reason`.
async fn record_peer_refusals<S: Store>(
    store: &S,
    peer: &str,
    collection: &str,
    failures: &[Failure],
    reason: &str,
) -> Result<(), StoreError> {
    if failures.is_empty() {
        return Ok(());
    }
    let refused: Vec<_> = failures
        .iter()
        .map(|f| {
            tracing::warn!(%peer, id = %f.id, message = %f.message, "Refused an object received by sync.");
            refusal(
                peer,
                collection,
                &f.id,
                f.version.as_deref(),
                reason,
                &f.message,
            )
        })
        .collect();
    store.record_refused(&refused).await?;
    count_refused(&refused);
    Ok(())
}

/// Publishes `objects` into `into` as `by`: each is prepared ([`Publisher::prepare`]), then
/// [`publish_prepared`].
pub async fn publish<S: Store>(
    store: &S,
    coalition: &Coalition,
    objects: Vec<Value>,
    by: Publisher<'_>,
    into: &Collection,
    limits: PublishLimits,
) -> Result<PublishReport, PublishError> {
    let request_us = timestamps::now_us();
    let prepared = objects
        .into_iter()
        .map(|o| by.prepare(o, coalition))
        .collect();
    publish_prepared(store, prepared, by, into, limits, request_us).await
}

/// Stores objects already prepared under `by`'s rules (the TAXII POST prepares them on blocking
/// threads) into `into`, in one transaction, and records the status resource of the request
/// that arrived at `request_us`. A peer's refusals (invalid, or refused by the producer rule)
/// are recorded. A member must be allowed to write `into`.
pub async fn publish_prepared<S: Store>(
    store: &S,
    prepared: Vec<Prepared>,
    by: Publisher<'_>,
    into: &Collection,
    limits: PublishLimits,
    request_us: i64,
) -> Result<PublishReport, PublishError> {
    if let Publisher::Member(p) = by
        && !policy::can_write(p, into)
    {
        return Err(PublishError::Forbidden {
            member: p.member.clone(),
            collection: into.id.clone(),
        });
    }
    let (valid, invalid) = split(prepared);
    // Recorded before the store is written (and a pull cursor moves past them).
    if let Publisher::Peer { name, .. } = by {
        record_peer_refusals(store, name, &into.id, &invalid, REFUSED_INVALID).await?;
    }
    let status_id = uuid::Uuid::new_v4().to_string();
    let provenance = by.provenance();
    // The status and its serialised body the store saved are also the report's: kept (the last
    // ones built, should the store build them more than once) rather than built again.
    let built: std::sync::Mutex<Option<(Value, String)>> = std::sync::Mutex::new(None);
    let make_status = |outcomes: &[AddOutcome]| {
        let status = status_resource(&status_id, request_us, &invalid, &valid, outcomes);
        let body = status.to_string();
        if let Ok(mut b) = built.lock() {
            *b = Some((status, body.clone()));
        }
        StatusRecord {
            id: status_id.clone(),
            api_root: into.api_root.clone(),
            member: by.member().to_owned(),
            request_us,
            expires_us: request_us.saturating_add(limits.status_retention_us),
            body,
        }
    };
    let outcomes = store
        .add(&into.id, &provenance, &valid, &make_status)
        .await?;
    let (status, status_body) = match built.lock().ok().and_then(|mut b| b.take()) {
        Some(s) => s,
        None => {
            let status = status_resource(&status_id, request_us, &invalid, &valid, &outcomes);
            let body = status.to_string();
            (status, body)
        }
    };
    let by_rule = refused_by_store(&valid, &outcomes);
    if let Publisher::Peer { name, .. } = by {
        record_peer_refusals(store, name, &into.id, &by_rule, REFUSED_PRODUCER).await?;
    }
    let mut failures = invalid;
    failures.extend(by_rule);
    Ok(report(into, status, status_body, failures, valid, outcomes))
}

fn report(
    into: &Collection,
    status: Value,
    status_body: String,
    failures: Vec<Failure>,
    valid: Vec<NewVersion>,
    outcomes: Vec<AddOutcome>,
) -> PublishReport {
    let added = outcomes
        .iter()
        .filter(|o| matches!(o, AddOutcome::Added { .. }))
        .count() as u64;
    let already_present = outcomes
        .iter()
        .filter(|o| matches!(o, AddOutcome::AlreadyPresent { .. }))
        .count() as u64;
    PublishReport {
        collection: into.id.clone(),
        status_body,
        status,
        added,
        already_present,
        failures,
        outcomes,
        ids: valid.into_iter().map(|v| v.id).collect(),
    }
}

/// Publishes several collections' batches as `principal`, all or nothing: every object is
/// prepared under the member's publishing rules and every collection checked for writing before
/// anything is stored; then one transaction ([`Store::add_batches`]) writes them all, and a
/// version the producer rule refuses in any batch rolls back every batch. On success, one report
/// (and one kept status resource) per non-empty batch, in order.
pub async fn publish_all_or_nothing<S: Store>(
    store: &S,
    coalition: &Coalition,
    principal: &Principal,
    groups: Vec<(&Collection, Vec<Value>)>,
    limits: PublishLimits,
) -> Result<Vec<PublishReport>, PublishError> {
    let request_us = timestamps::now_us();
    let by = Publisher::Member(principal);
    let mut prepared: Vec<(&Collection, Vec<NewVersion>)> = Vec::with_capacity(groups.len());
    for (coll, objects) in groups {
        if !policy::can_write(principal, coll) {
            return Err(PublishError::Forbidden {
                member: principal.member.clone(),
                collection: coll.id.clone(),
            });
        }
        let (valid, invalid) = split(
            objects
                .into_iter()
                .map(|o| by.prepare(o, coalition))
                .collect(),
        );
        if !invalid.is_empty() {
            return Err(PublishError::Refused(invalid));
        }
        if !valid.is_empty() {
            prepared.push((coll, valid));
        }
    }
    let status_ids: Vec<String> = prepared
        .iter()
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let batches: Vec<CollectionBatch<'_>> = prepared
        .iter()
        .map(|(c, v)| CollectionBatch {
            collection: &c.id,
            versions: v,
        })
        .collect();
    let make_status = |i: usize, outcomes: &[AddOutcome]| {
        let (coll, valid) = &prepared[i];
        let status = status_resource(&status_ids[i], request_us, &[], valid, outcomes);
        StatusRecord {
            id: status_ids[i].clone(),
            api_root: coll.api_root.clone(),
            member: principal.member.clone(),
            request_us,
            expires_us: request_us.saturating_add(limits.status_retention_us),
            body: status.to_string(),
        }
    };
    let done = store
        .add_batches(&by.provenance(), &batches, true, &make_status)
        .await?;
    if !done.committed {
        let refused: Vec<Failure> = prepared
            .iter()
            .zip(&done.outcomes)
            .flat_map(|((_, valid), outcomes)| refused_by_store(valid, outcomes))
            .collect();
        return Err(PublishError::Refused(refused));
    }
    Ok(prepared
        .into_iter()
        .zip(done.outcomes)
        .zip(status_ids)
        .map(|(((coll, valid), outcomes), status_id)| {
            let status = status_resource(&status_id, request_us, &[], &valid, &outcomes);
            let body = status.to_string();
            report(coll, status, body, Vec::new(), valid, outcomes)
        })
        .collect())
}

/// Reason recorded for an object received from a peer that failed validation or the publishing
/// rules.
pub const REFUSED_INVALID: &str = "invalid";

/// Reason recorded for an object received from a peer that the store's producer rule refused (a
/// version of another producer's object, or a stored version re-sent with other content).
pub const REFUSED_PRODUCER: &str = "version-of-another-producer";

/// Longest refusal message kept.
pub const DETAIL_MAX: usize = 1000;

/// A refusal record for an object received from `peer` into `collection`.
pub fn refusal(
    peer: &str,
    collection: &str,
    id: &str,
    version: Option<&str>,
    reason: &str,
    message: &str,
) -> Refused {
    let mut detail = message.to_owned();
    if detail.len() > DETAIL_MAX {
        let mut end = DETAIL_MAX;
        while !detail.is_char_boundary(end) {
            end -= 1;
        }
        detail.truncate(end);
        detail.push('…');
    }
    Refused {
        peer: peer.to_owned(),
        collection: collection.to_owned(),
        id: id.to_owned(),
        version: version.unwrap_or_default().to_owned(),
        reason: reason.to_owned(),
        detail,
        at_us: timestamps::now_us(),
    }
}

/// Counts refusals in `shieldwall_sync_refused_total{peer,reason}`.
pub fn count_refused(refused: &[Refused]) {
    for r in refused {
        metrics::counter!("shieldwall_sync_refused_total", "peer" => r.peer.clone(), "reason" => r.reason.clone())
            .increment(1);
    }
}
