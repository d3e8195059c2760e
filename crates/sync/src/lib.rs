//! Federation: this node pulls from and pushes to its `[[peers]]` over TAXII 2.1.
//!
//! - **Pull** (`direction = "pull"|"both"`): `GET …/objects/?match[version]=all&added_after=C`
//!   page by page (`next`/`more`); each page is validated, stored with provenance `peer:NAME`
//!   (producer: the member its `created_by_ref` names, else the peer's member), and only then is
//!   the cursor `C` (the page's `X-TAXII-Date-Added-Last`) persisted. A crash between the two
//!   re-reads one page, which the store recognises as already present: no duplicate.
//! - **Push** (`"push"|"both"`): the collection's entries after the persisted `(date_added, row)`
//!   position, in order; each goes through [`policy::may_leave`] (the "may leave by sync"
//!   column of the access policy in `docs/POLICY.md`, and "never back to where it came from"), and a relationship or sighting also
//!   through [`policy::endpoints_may_leave`] with its endpoints' placements in every collection
//!   (the rule the served pull applies); what may leave is POSTed, and the
//!   position advances after the peer acknowledged the page. Held-back versions are counted per
//!   reason and recorded in the store (`sync_held`, with the reason), and so are versions the
//!   peer refused; a version sent later is forgotten there.
//! - **Nothing held back is forgotten**: when an object gets a new version or placement, the
//!   store re-dates the edges pointing to it, so that the push position (and a peer's
//!   `added_after`, for its pulls) reaches them again and they are judged again; and every run
//!   judges the recorded held-back versions of each push mapping again (a bounded batch), which
//!   covers configuration changes (a trust group that now holds the peer's member).
//! - **Refusals are recorded**: an object refused from a peer (by this node's pull, or in the
//!   peer's push) is kept in `sync_refused` with the reason, counted in
//!   `shieldwall_sync_refused_total{peer,reason}` and shown by `sync --explain` and
//!   `GET /admin/sync`.
//! - **`sync --explain`** reads the same state: SENT only for a version the peer acknowledged
//!   (push: at or before the push position and not recorded as held back; served pull: before
//!   the `added_after` of the peer's latest pull under the same egress rule), HELD with the
//!   recorded reason, PENDING otherwise.
//!
//! New versions, revocations and sightings are ordinary versions and travel the same way.
//!
//! What this crate must never do: let a version leave but through
//! [`policy::may_leave`] and [`policy::endpoints_may_leave`], persist a pull cursor before its page
//! is committed or a push position before the peer acknowledged it, or serve TAXII (the hub
//! does). It does I/O: HTTP(S) to peers ([`client`], with [`tls`]) and the store.

pub mod client;
pub mod tls;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use serde::Serialize;
use serde_json::Value;

use ::policy::{
    audit::{Entry, ids_detail},
    coalition::{Coalition, Collection},
    config::{PeerCollectionConfig, PeerConfig},
    policy::{self, Endpoint, HeldBack, PeerFacts, VersionFacts},
};
use client::{ClientError, TaxiiClient};
use store::{
    AnyStore, Held, Store, StoreError, SyncRecord,
    publish::{self, PublishError, PublishLimits, Publisher},
    timestamps,
};

/// A sync failure.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Talking to the peer failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration names something that does not exist.
    #[error("{0}")]
    Config(String),
    /// Storing what was pulled failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// What one run against one collection mapping did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MappingReport {
    /// Local collection.
    pub local: String,
    /// Remote collection.
    pub remote: String,
    /// Objects received.
    pub pulled_received: u64,
    /// Of those, newly stored.
    pub pulled_stored: u64,
    /// Received objects refused by validation.
    pub pulled_refused: u64,
    /// Versions sent.
    pub pushed: u64,
    /// Versions the peer refused (its status failures).
    pub push_refused_by_peer: u64,
    /// Versions held back, per reason.
    pub held_back: BTreeMap<&'static str, u64>,
}

/// Per-peer status, for the admin endpoint and metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerStatus {
    /// Last run that completed without error, microseconds.
    pub last_success_us: Option<i64>,
    /// Last run attempt, microseconds.
    pub last_attempt_us: Option<i64>,
    /// The last error, if the last run failed.
    pub last_error: Option<String>,
    /// Consecutive failed runs.
    pub consecutive_errors: u64,
    /// Totals since the process started.
    pub pulled_stored: u64,
    /// Totals since the process started.
    pub pushed: u64,
    /// Held-back totals per reason since the process started.
    pub held_back: BTreeMap<&'static str, u64>,
}

impl PeerStatus {
    /// Seconds since the last success (`None`: never succeeded).
    pub fn lag_seconds(&self, now_us: i64) -> Option<f64> {
        self.last_success_us
            .map(|t| (now_us - t).max(0) as f64 / 1e6)
    }
}

/// Shared status of every peer.
pub type StatusBoard = Arc<Mutex<BTreeMap<String, PeerStatus>>>;

/// The sync engine of one node.
#[derive(Debug, Clone)]
pub struct Engine {
    store: AnyStore,
    coalition: Arc<Coalition>,
    peers: Vec<PeerConfig>,
    clients: HashMap<String, TaxiiClient>,
    /// Per-peer status.
    pub status: StatusBoard,
}

/// Why one version of an object would or would not go to a peer.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Local collection.
    pub collection: String,
    /// Remote collection.
    pub remote: String,
    /// The version (its timestamp).
    pub version: String,
    /// Provenance of the version.
    pub source: String,
    /// When it was received here.
    pub received: String,
    /// Effective TLP.
    pub tlp: String,
    /// `sent` (the peer acknowledged this version), `held` (held back from the peer, or
    /// refused by it, as recorded), `pending` (not judged or not acknowledged yet) or
    /// `refused` (this node refused it from the peer).
    pub verdict: &'static str,
    /// The reason it is held back (or will be, or was refused); `None` otherwise.
    pub held_back: Option<String>,
    /// A sentence.
    pub why: String,
}

/// Reason recorded for a version the peer refused (its status resource listed it as a failure).
pub const REFUSED_BY_PEER: &str = "refused-by-peer";

/// Held-back reasons that cannot change for a stored version (its marking and provenance are
/// fixed): not judged again by the per-run pass, only when the entry comes round again.
const STABLE_REASONS: [&str; 3] = ["tlp-red", "came-from-peer", REFUSED_BY_PEER];

/// At most this many recorded held-back versions are judged again per push mapping and run.
const REJUDGE_PER_RUN: usize = 10_000;

pub use store::publish::{REFUSED_INVALID, REFUSED_PRODUCER, count_refused, refusal};

/// A sentence for a recorded held-back reason.
fn held_sentence(reason: &str, detail: &str) -> String {
    if reason == REFUSED_BY_PEER {
        return format!("the peer refused it: {detail}");
    }
    HeldBack::ALL
        .iter()
        .find(|h| h.as_str() == reason)
        .map_or_else(|| reason.to_owned(), |h| h.explain().to_owned())
}

/// What a peer's pull acknowledged: the `added_after` of its latest pull (it persists its cursor
/// only after committing a page, so it holds what it was served before that), with a
/// fingerprint of the egress rule it was served under.
pub fn served_ack_value(added_after_us: Option<i64>, egress: &policy::Egress) -> String {
    format!(
        "{}|{}",
        added_after_us.map_or_else(|| "none".to_owned(), |a| a.to_string()),
        egress_fingerprint(egress)
    )
}

fn egress_fingerprint(egress: &policy::Egress) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(egress.source.as_bytes());
    h.update([0, u8::from(egress.amber_strict)]);
    let mut colls = egress.amber_collections.clone();
    colls.sort();
    for c in colls {
        h.update(c.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `added_after` a served-pull acknowledgement stands for, when it was served under
/// `egress` (under another rule, it proves nothing).
fn served_ack(value: Option<&str>, egress: &policy::Egress) -> Option<i64> {
    let (us, fp) = value?.split_once('|')?;
    (fp == egress_fingerprint(egress))
        .then(|| us.parse().ok())
        .flatten()
}

fn facts(r: &SyncRecord) -> VersionFacts {
    VersionFacts {
        tlp: r.tlp.and_then(policy::tlp_from_code),
        producer: r.producer.clone(),
    }
}

/// Endpoint placements by object id: each stored version with a collection holding it.
type Placements<'c> = HashMap<String, Vec<(VersionFacts, &'c Collection)>>;

/// The objects a relationship or sighting points to (nothing for other types).
fn edge_targets(r: &SyncRecord) -> Vec<String> {
    if !matches!(r.object_type.as_str(), "relationship" | "sighting") {
        return Vec::new();
    }
    serde_json::from_str::<Value>(&r.json)
        .ok()
        .and_then(|v| {
            stix::meta::meta_of(&v)
                .ok()
                .map(|m| m.edge_refs.iter().map(|t| t.to_string()).collect())
        })
        .unwrap_or_default()
}

fn cursor_position(s: Option<&str>) -> (i64, i64) {
    s.and_then(|s| {
        let (a, b) = s.split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    })
    .unwrap_or((i64::MIN, i64::MIN))
}

impl Engine {
    /// An engine over the configured peers; `env` supplies `*_env` secrets.
    pub fn new(
        store: AnyStore,
        coalition: Arc<Coalition>,
        peers: Vec<PeerConfig>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Engine, SyncError> {
        let mut clients = HashMap::new();
        for p in &peers {
            clients.insert(p.name.clone(), TaxiiClient::new(p, env)?);
        }
        let status = Arc::new(Mutex::new(
            peers
                .iter()
                .map(|p| (p.name.clone(), PeerStatus::default()))
                .collect(),
        ));
        Ok(Engine {
            store,
            coalition,
            peers,
            clients,
            status,
        })
    }

    /// This engine reporting on `board` (shared with the engine it replaces): its peers get an
    /// entry, peers it does not have lose theirs.
    pub fn with_status(mut self, board: StatusBoard) -> Engine {
        {
            let mut b = board.lock().unwrap_or_else(|e| e.into_inner());
            b.retain(|name, _| self.peers.iter().any(|p| &p.name == name));
            for p in &self.peers {
                b.entry(p.name.clone()).or_default();
            }
        }
        self.status = board;
        self
    }

    /// An engine over those of `peers` whose client can be made (`env` supplies `*_env`
    /// secrets), and the others with why not.
    pub fn new_skipping(
        store: AnyStore,
        coalition: Arc<Coalition>,
        peers: Vec<PeerConfig>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Engine, Vec<(String, SyncError)>) {
        let mut skipped = Vec::new();
        let mut kept = Vec::new();
        let mut clients = HashMap::new();
        for p in peers {
            match TaxiiClient::new(&p, env) {
                Ok(c) => {
                    clients.insert(p.name.clone(), c);
                    kept.push(p);
                }
                Err(e) => skipped.push((p.name.clone(), SyncError::from(e))),
            }
        }
        let status = Arc::new(Mutex::new(
            kept.iter()
                .map(|p| (p.name.clone(), PeerStatus::default()))
                .collect(),
        ));
        (
            Engine {
                store,
                coalition,
                peers: kept,
                clients,
                status,
            },
            skipped,
        )
    }

    /// Replaces the retry schedule of every client (tests).
    pub fn with_retries(mut self, retries: u32, backoff: std::time::Duration) -> Engine {
        for c in self.clients.values_mut() {
            *c = c.clone().with_retries(retries, backoff);
        }
        self
    }

    /// The configured peers.
    pub fn peers(&self) -> &[PeerConfig] {
        &self.peers
    }

    fn peer(&self, name: &str) -> Result<(&PeerConfig, &TaxiiClient), SyncError> {
        let p =
            self.peers.iter().find(|p| p.name == name).ok_or_else(|| {
                SyncError::Config(format!("no peer `{name}` in the configuration"))
            })?;
        let c = self
            .clients
            .get(name)
            .ok_or_else(|| SyncError::Config(format!("no client for peer `{name}`")))?;
        Ok((p, c))
    }

    fn local_collection(&self, id: &str) -> Result<&Collection, SyncError> {
        self.coalition
            .collections
            .iter()
            .find(|c| c.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| SyncError::Config(format!("no local collection `{id}`")))
    }

    /// Runs every mapping of `peer` once (pull before push), records the status and returns
    /// what each mapping did. `only` restricts to mappings for which it returns true.
    pub async fn run_peer(
        &self,
        peer: &str,
        only: &(dyn Fn(&PeerCollectionConfig) -> bool + Sync),
    ) -> Result<Vec<MappingReport>, SyncError> {
        let started = timestamps::now_us();
        let result = self.run_peer_inner(peer, only).await;
        let mut board = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let st = board.entry(peer.to_owned()).or_default();
        st.last_attempt_us = Some(started);
        match &result {
            Ok(reports) => {
                st.last_success_us = Some(started);
                st.last_error = None;
                st.consecutive_errors = 0;
                for r in reports {
                    st.pulled_stored += r.pulled_stored;
                    st.pushed += r.pushed;
                    for (k, n) in &r.held_back {
                        *st.held_back.entry(k).or_default() += n;
                        metrics::counter!("shieldwall_sync_held_back_total", "peer" => peer.to_owned(), "reason" => *k).increment(*n);
                    }
                    metrics::counter!("shieldwall_sync_pulled_total", "peer" => peer.to_owned())
                        .increment(r.pulled_stored);
                    metrics::counter!("shieldwall_sync_pushed_total", "peer" => peer.to_owned())
                        .increment(r.pushed);
                }
                metrics::gauge!("shieldwall_sync_last_success_seconds", "peer" => peer.to_owned())
                    .set(started as f64 / 1e6);
            }
            Err(e) => {
                st.last_error = Some(e.to_string());
                st.consecutive_errors += 1;
                metrics::counter!("shieldwall_sync_errors_total", "peer" => peer.to_owned())
                    .increment(1);
            }
        }
        result
    }

    async fn run_peer_inner(
        &self,
        peer: &str,
        only: &(dyn Fn(&PeerCollectionConfig) -> bool + Sync),
    ) -> Result<Vec<MappingReport>, SyncError> {
        let (p, client) = self.peer(peer)?;
        let mut reports = Vec::new();
        for m in p.collections.iter().filter(|m| only(m)) {
            let local = self.local_collection(&m.local)?;
            let mut report = MappingReport {
                local: local.id.clone(),
                remote: m.remote.clone(),
                ..MappingReport::default()
            };
            if m.direction.pulls() {
                self.pull(p, client, local, &m.remote, &mut report).await?;
            }
            if m.direction.pushes() {
                self.push(p, client, local, &m.remote, &mut report).await?;
            }
            reports.push(report);
        }
        Ok(reports)
    }

    async fn pull(
        &self,
        p: &PeerConfig,
        client: &TaxiiClient,
        local: &Collection,
        remote: &str,
        report: &mut MappingReport,
    ) -> Result<(), SyncError> {
        let key = format!("{remote}>{}", local.id);
        let mut cursor = self.store.sync_cursor(&p.name, &key, "pull").await?;
        let start = cursor.clone();
        let mut next: Option<String> = None;
        let actor = format!("peer:{}", p.name);
        loop {
            let page = client
                .get_objects(remote, start.as_deref(), next.as_deref(), p.page_size)
                .await?;
            report.pulled_received += page.objects.len() as u64;
            if !page.objects.is_empty() {
                // The one write path: producer by `created_by_ref`, provenance `peer:NAME`, every
                // refusal recorded before the cursor moves past it. The page's status resource
                // is internal and expires at once.
                let by = Publisher::Peer {
                    name: &p.name,
                    member: &p.member,
                    actor: &actor,
                };
                let r = publish::publish(
                    &self.store,
                    &self.coalition,
                    page.objects,
                    by,
                    local,
                    PublishLimits::transient(),
                )
                .await?;
                report.pulled_stored += r.added;
                report.pulled_refused += r.refused();
                // One audit record per page received.
                self.store
                    .audit_append(&[Entry::new(
                        &actor,
                        "sync-pull",
                        "sync",
                        &format!("collection:{}", local.id),
                        "ok",
                    )
                    .detail(&format!(
                        "remote={remote} received={} stored={} refused={}",
                        r.successes() + r.refused(),
                        r.added,
                        r.refused()
                    ))])
                    .await?;
            }
            if let Some(last) = &page.date_added_last
                && cursor.as_deref() != Some(last.as_str())
            {
                self.store
                    .set_sync_cursor(&p.name, &key, "pull", last)
                    .await?;
                cursor = Some(last.clone());
            }
            match (page.more, page.next) {
                (true, Some(n)) => next = Some(n),
                _ => break,
            }
        }
        Ok(())
    }

    /// Whether one version may leave to `p`, with relationships and sightings held back when an
    /// object they point to (`targets`) is held back in every collection holding it (the edge
    /// rule of the access policy: an edge must not reveal an object the peer may not have), judged by
    /// [`policy::endpoints_may_leave`], the rule the served pull applies, over the endpoints'
    /// `placements` in every collection of the node. Push and `sync --explain` both decide here.
    fn decide(
        &self,
        p: &PeerConfig,
        local: &Collection,
        r: &SyncRecord,
        targets: &[String],
        placements: &Placements<'_>,
    ) -> Result<(), HeldBack> {
        let peer = PeerFacts {
            name: &p.name,
            member: &p.member,
        };
        policy::may_leave(peer, &facts(r), &r.source, local, &self.coalition)?;
        for target in targets {
            let endpoint = match placements.get(target) {
                None => Endpoint::Unknown,
                Some(found) => Endpoint::Known(found.iter().map(|(v, c)| (v, *c)).collect()),
            };
            if !policy::endpoints_may_leave(
                peer,
                std::slice::from_ref(&endpoint),
                &self.coalition,
                &|_, _| true,
            ) {
                return Err(HeldBack::EndpointHeldBack);
            }
        }
        Ok(())
    }

    /// The placements, in every collection of the node, of the objects `targets`: one store
    /// query for a whole page of edges (an endpoint held back in another collection than the
    /// edge's must hold the edge back too).
    async fn placements<'a>(
        &self,
        targets: impl Iterator<Item = &'a str>,
    ) -> Result<Placements<'_>, SyncError> {
        let mut ids: Vec<&str> = targets.collect();
        ids.sort_unstable();
        ids.dedup();
        let mut out: Placements<'_> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let by_id: HashMap<&str, &Collection> = self
            .coalition
            .collections
            .iter()
            .map(|c| (c.id.as_str(), c))
            .collect();
        for (coll, r) in self.store.placements_of(&ids).await? {
            if let Some(c) = by_id.get(coll.as_str()) {
                out.entry(r.id.clone()).or_default().push((facts(&r), *c));
            }
        }
        Ok(out)
    }

    async fn push(
        &self,
        p: &PeerConfig,
        client: &TaxiiClient,
        local: &Collection,
        remote: &str,
        report: &mut MappingReport,
    ) -> Result<(), SyncError> {
        let key = format!("{}>{remote}", local.id);
        let mut pos = cursor_position(
            self.store
                .sync_cursor(&p.name, &key, "push")
                .await?
                .as_deref(),
        );
        loop {
            let batch = self.store.sync_batch(&local.id, pos, p.page_size).await?;
            let Some(last) = batch.last() else { break };
            let last = (last.date_added_us, last.row);
            let targets: Vec<Vec<String>> = batch.iter().map(edge_targets).collect();
            let placements = self
                .placements(targets.iter().flatten().map(String::as_str))
                .await?;
            let mut send: Vec<&SyncRecord> = Vec::with_capacity(batch.len());
            let mut held: Vec<(i64, String, String)> = Vec::new();
            for (r, t) in batch.iter().zip(&targets) {
                match self.decide(p, local, r, t, &placements) {
                    Ok(()) => send.push(r),
                    Err(reason) => {
                        *report.held_back.entry(reason.as_str()).or_default() += 1;
                        held.push((r.row, reason.as_str().to_owned(), String::new()));
                    }
                }
            }
            let sent = self
                .send(p, client, remote, &send, &mut held, report)
                .await?;
            self.audit_push(p, local, remote, &send, &sent, held.len())
                .await?;
            // What was held back (and why) is on disk before the position passes it.
            self.store
                .sync_hold(&p.name, &key, &local.id, &held, &sent)
                .await?;
            self.store
                .set_sync_cursor(&p.name, &key, "push", &format!("{}:{}", last.0, last.1))
                .await?;
            pos = last;
            if batch.len() < p.page_size as usize {
                break;
            }
        }
        self.rejudge_held(p, client, local, remote, &key, report)
            .await
    }

    /// One audit record per batch pushed: how many versions were offered, acknowledged and held
    /// back, and the AMBER+STRICT objects among those sent (RED never leaves).
    async fn audit_push(
        &self,
        p: &PeerConfig,
        local: &Collection,
        remote: &str,
        offered: &[&SyncRecord],
        sent: &[i64],
        held: usize,
    ) -> Result<(), SyncError> {
        let strict: Vec<&str> = offered
            .iter()
            .filter(|r| {
                sent.contains(&r.row)
                    && r.tlp
                        .and_then(policy::tlp_from_code)
                        .unwrap_or(self.coalition.default_tlp)
                        == stix::tlp::TlpLevel::AmberStrict
            })
            .map(|r| r.id.as_str())
            .collect();
        let detail = ids_detail(
            &format!(
                "remote={remote} offered={} sent={} held={held}",
                offered.len(),
                sent.len()
            ),
            &[],
            &strict,
        );
        self.store
            .audit_append(&[Entry::new(
                &format!("peer:{}", p.name),
                "sync-push",
                "sync",
                &format!("collection:{}", local.id),
                "ok",
            )
            .detail(&detail)])
            .await?;
        Ok(())
    }

    /// POSTs `send` to the peer; returns the rows it acknowledged and adds those it refused to
    /// `held` (reason [`REFUSED_BY_PEER`], with its message).
    async fn send(
        &self,
        p: &PeerConfig,
        client: &TaxiiClient,
        remote: &str,
        send: &[&SyncRecord],
        held: &mut Vec<(i64, String, String)>,
        report: &mut MappingReport,
    ) -> Result<Vec<i64>, SyncError> {
        if send.is_empty() {
            return Ok(Vec::new());
        }
        let jsons: Vec<&str> = send.iter().map(|r| r.json.as_str()).collect();
        let summary = client.post_objects(remote, &jsons).await?;
        report.pushed += summary.success;
        report.push_refused_by_peer += summary.failure;
        for f in &summary.failures {
            tracing::warn!(peer = %p.name, failure = %f, "The peer refused an object.");
        }
        // A refusal names the id (and not always the version): every version of that id in
        // the page counts as refused, so that nothing refused is ever called sent.
        let refused: HashMap<&str, &str> = summary
            .refused
            .iter()
            .map(|(id, m)| (id.as_str(), m.as_str()))
            .collect();
        let mut sent = Vec::with_capacity(send.len());
        for r in send {
            match refused.get(r.id.as_str()) {
                Some(message) => {
                    held.push((r.row, REFUSED_BY_PEER.to_owned(), (*message).to_owned()))
                }
                None => sent.push(r.row),
            }
        }
        Ok(sent)
    }

    /// Judges the recorded held-back versions of one push mapping again (those whose reason
    /// can change: an endpoint, a trust group) and sends those that may leave now: at most
    /// [`REJUDGE_PER_RUN`] per run, continuing where the previous run stopped.
    async fn rejudge_held(
        &self,
        p: &PeerConfig,
        client: &TaxiiClient,
        local: &Collection,
        remote: &str,
        key: &str,
        report: &mut MappingReport,
    ) -> Result<(), SyncError> {
        let saved = self.store.sync_cursor(&p.name, key, "held").await?;
        let mut after: i64 = saved.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut judged = 0usize;
        loop {
            let batch = self
                .store
                .sync_held_batch(&p.name, key, after, p.page_size, &STABLE_REASONS)
                .await?;
            let Some((last, _)) = batch.last() else {
                after = 0;
                break;
            };
            let last = last.row;
            let targets: Vec<Vec<String>> = batch.iter().map(|(r, _)| edge_targets(r)).collect();
            let placements = self
                .placements(targets.iter().flatten().map(String::as_str))
                .await?;
            let mut send: Vec<&SyncRecord> = Vec::new();
            let mut held: Vec<(i64, String, String)> = Vec::new();
            for ((r, h), t) in batch.iter().zip(&targets) {
                match self.decide(p, local, r, t, &placements) {
                    Ok(()) => send.push(r),
                    Err(reason) if reason.as_str() != h.reason => {
                        held.push((r.row, reason.as_str().to_owned(), String::new()));
                    }
                    Err(_) => {}
                }
            }
            let sent = self
                .send(p, client, remote, &send, &mut held, report)
                .await?;
            if !send.is_empty() {
                self.audit_push(p, local, remote, &send, &sent, held.len())
                    .await?;
            }
            self.store
                .sync_hold(&p.name, key, &local.id, &held, &sent)
                .await?;
            judged += batch.len();
            after = last;
            if batch.len() < p.page_size as usize {
                after = 0;
                break;
            }
            if judged >= REJUDGE_PER_RUN {
                break;
            }
        }
        if saved.as_deref() != Some(after.to_string().as_str()) {
            self.store
                .set_sync_cursor(&p.name, key, "held", &after.to_string())
                .await?;
        }
        Ok(())
    }

    /// Why each stored version of `object_id` was, was not or will be sent to `peer`, in every
    /// collection the peer's push mappings cover and, when the peer has a node account here
    /// (`inbound_actor`), in every other collection (served to its pulls under the same rule,
    /// on top of its member's read rights); then every refusal of the object from that peer.
    /// Derived from the state sync keeps: the push position and the recorded held-back versions
    /// (push), the acknowledgement of the peer's latest pull (served pull) and `sync_refused`.
    pub async fn explain(
        &self,
        object_id: &str,
        peer: &str,
    ) -> Result<Vec<Explanation>, SyncError> {
        let (p, _) = self.peer(peer)?;
        let mut out = Vec::new();
        // (local collection, remote name, push mapping key or None for served pulls)
        let mut covered: Vec<(&Collection, String, Option<String>)> = Vec::new();
        for m in p.collections.iter().filter(|m| m.direction.pushes()) {
            let local = self.local_collection(&m.local)?;
            covered.push((
                local,
                m.remote.clone(),
                Some(format!("{}>{}", local.id, m.remote)),
            ));
        }
        if p.inbound_actor.is_some() {
            for c in &self.coalition.collections {
                if !covered.iter().any(|(l, _, _)| l.id == c.id) {
                    covered.push((c, "(served to its pulls)".to_owned(), None));
                }
            }
        }
        let egress = policy::Egress::for_peer(
            PeerFacts {
                name: &p.name,
                member: &p.member,
            },
            &self.coalition,
        );
        for (local, remote, key) in covered {
            let versions = self.store.sync_versions(&local.id, object_id).await?;
            if versions.is_empty() {
                continue;
            }
            let (pos, held, ack) = match &key {
                Some(key) => {
                    let pos = cursor_position(
                        self.store
                            .sync_cursor(&p.name, key, "push")
                            .await?
                            .as_deref(),
                    );
                    let vids: Vec<i64> = versions.iter().map(|r| r.row).collect();
                    let held: HashMap<i64, Held> = self
                        .store
                        .sync_held_of(&p.name, key, &vids)
                        .await?
                        .into_iter()
                        .map(|h| (h.vid, h))
                        .collect();
                    (Some(pos), held, None)
                }
                None => {
                    let v = self.store.sync_cursor(&p.name, &local.id, "served").await?;
                    (None, HashMap::new(), served_ack(v.as_deref(), &egress))
                }
            };
            for r in versions {
                let targets = edge_targets(&r);
                let placements = self.placements(targets.iter().map(String::as_str)).await?;
                let decision = self.decide(p, local, &r, &targets, &placements);
                let (verdict, held_back, why) = match (pos, held.get(&r.row)) {
                    // Push: recorded as held back (or refused by the peer) by the last push
                    // that judged it.
                    (Some(_), Some(h)) => {
                        let mut why = held_sentence(&h.reason, &h.detail);
                        if decision.is_ok() && h.reason != REFUSED_BY_PEER {
                            why.push_str("; it may leave now and goes at the next run");
                        }
                        ("held", Some(h.reason.clone()), why)
                    }
                    // Push: judged, sent and acknowledged.
                    (Some(pos), None) if (r.date_added_us, r.row) <= pos => {
                        let mut why = format!(
                            "sent to `{}` (member `{}`), which acknowledged it",
                            p.name, p.member
                        );
                        if let Err(reason) = decision {
                            why.push_str(&format!(
                                " (today it would be held back: {})",
                                reason.explain()
                            ));
                        }
                        ("sent", None, why)
                    }
                    (Some(_), None) => match decision {
                        Ok(()) => (
                            "pending",
                            None,
                            "not sent yet: it goes at the next run".to_owned(),
                        ),
                        Err(reason) => (
                            "pending",
                            Some(reason.as_str().to_owned()),
                            format!("not judged yet; it will be held back: {}", reason.explain()),
                        ),
                    },
                    // Served pull: what its pulls are served now, and whether its latest pull
                    // started after this entry.
                    (None, _) => match decision {
                        Err(reason) => (
                            "held",
                            Some(reason.as_str().to_owned()),
                            reason.explain().to_owned(),
                        ),
                        Ok(()) if ack.is_some_and(|a| r.date_added_us <= a) => (
                            "sent",
                            None,
                            format!(
                                "pulled by `{}` (member `{}`): its latest pull started after it",
                                p.name, p.member
                            ),
                        ),
                        Ok(()) => (
                            "pending",
                            None,
                            format!("may leave to `{}`; served at its next pull", p.name),
                        ),
                    },
                };
                let f = facts(&r);
                let tlp = f.tlp.unwrap_or(self.coalition.default_tlp);
                out.push(Explanation {
                    collection: local.id.clone(),
                    remote: remote.clone(),
                    version: timestamps::format_us(r.version_ns.div_euclid(1000)),
                    source: r.source.clone(),
                    received: timestamps::format_us(r.received_us),
                    tlp: format!(
                        "{}{}",
                        tlp.name(),
                        if f.tlp.is_none() {
                            " (unmarked: node default)"
                        } else {
                            ""
                        }
                    ),
                    verdict,
                    held_back,
                    why,
                });
            }
        }
        for f in self.store.refused_of(object_id).await? {
            if f.peer != p.name {
                continue;
            }
            out.push(Explanation {
                collection: f.collection,
                remote: String::new(),
                version: f.version,
                source: format!("peer:{}", f.peer),
                received: timestamps::format_us(f.at_us),
                tlp: String::new(),
                verdict: "refused",
                held_back: Some(f.reason),
                why: format!("refused from `{}`: {}", p.name, f.detail),
            });
        }
        Ok(out)
    }
}

/// Runs every mapping of every peer (or of `peer` only) on its interval until `shutdown`
/// resolves. A failing peer is retried at its next interval; the other peers are not held up
/// beyond the run in progress.
pub async fn run_scheduled(
    engine: Engine,
    peer: Option<String>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    schedule(engine, None, peer, shutdown).await;
}

/// [`run_scheduled`] over every peer, following `engines`: when a new engine is sent (the
/// administration added, removed or changed a peer, or changed the collections), it replaces
/// the running one before the next peer's run (a run in progress finishes). A peer whose
/// settings are unchanged keeps its schedule; a new or changed peer is run at once; a removed
/// one is no longer run, and its status leaves the board.
pub async fn run_scheduled_following(
    engines: tokio::sync::watch::Receiver<Engine>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let first = engines.borrow().clone();
    schedule(first, Some(engines), None, shutdown).await;
}

/// A peer's settings as compared between engines.
fn settings(p: &PeerConfig) -> String {
    serde_json::to_string(p).unwrap_or_default()
}

async fn schedule(
    mut engine: Engine,
    mut engines: Option<tokio::sync::watch::Receiver<Engine>>,
    peer: Option<String>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut due: HashMap<(String, usize), i64> = HashMap::new();
    let mut shutdown = std::pin::pin!(shutdown);
    // Set when `changed()` saw a new engine (it marks it seen: `has_changed` is false after).
    let mut swap = false;
    loop {
        if let Some(rx) = engines.as_mut()
            && (swap || rx.has_changed().unwrap_or(false))
        {
            swap = false;
            let next = rx.borrow_and_update().clone();
            let kept: HashMap<&str, String> = next
                .peers()
                .iter()
                .map(|p| (p.name.as_str(), settings(p)))
                .collect();
            due.retain(|(name, _), _| {
                engine
                    .peers()
                    .iter()
                    .find(|p| &p.name == name)
                    .is_some_and(|p| kept.get(name.as_str()) == Some(&settings(p)))
            });
            tracing::info!(
                peers = next.peers().len(),
                "Scheduled sync follows the new peers."
            );
            engine = next;
        }
        let now = timestamps::now_us();
        // The engine's own peer configurations: `only` below tells its mappings by address.
        for p in engine.peers() {
            if engines
                .as_ref()
                .is_some_and(|e| e.has_changed().unwrap_or(false))
            {
                break;
            }
            if peer.as_ref().is_some_and(|only| only != &p.name) {
                continue;
            }
            let ready: Vec<usize> = (0..p.collections.len())
                .filter(|i| due.get(&(p.name.clone(), *i)).is_none_or(|t| *t <= now))
                .collect();
            if ready.is_empty() {
                continue;
            }
            let selected: Vec<&PeerCollectionConfig> =
                ready.iter().filter_map(|i| p.collections.get(*i)).collect();
            let only = |m: &PeerCollectionConfig| selected.iter().any(|s| std::ptr::eq(*s, m));
            match engine.run_peer(&p.name, &only).await {
                Ok(reports) => {
                    for r in reports {
                        tracing::info!(peer = %p.name, local = %r.local, remote = %r.remote, pulled = r.pulled_stored,
                            pushed = r.pushed, held_back = ?r.held_back, "Synced.");
                    }
                }
                Err(e) => tracing::warn!(peer = %p.name, error = %e, "Sync failed."),
            }
            let after = timestamps::now_us();
            for i in ready {
                let interval = p.collections.get(i).map_or(300, |m| m.interval_seconds);
                let step = i64::try_from(interval)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1_000_000);
                due.insert((p.name.clone(), i), after.saturating_add(step));
            }
        }
        if engines
            .as_ref()
            .is_some_and(|e| e.has_changed().unwrap_or(false))
        {
            continue;
        }
        let changed = async {
            if let Some(rx) = engines.as_mut()
                && rx.changed().await.is_ok()
            {
                return true;
            }
            std::future::pending::<bool>().await
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            seen = changed => swap = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_reasons_are_policy_names() {
        assert!(STABLE_REASONS.contains(&HeldBack::Red.as_str()));
        assert!(STABLE_REASONS.contains(&HeldBack::CameFromPeer.as_str()));
        assert!(!STABLE_REASONS.contains(&HeldBack::EndpointHeldBack.as_str()));
        assert!(!STABLE_REASONS.contains(&HeldBack::AmberOutsideTrustGroup.as_str()));
        assert!(!STABLE_REASONS.contains(&HeldBack::AmberStrictOtherMember.as_str()));
    }

    #[test]
    fn served_acknowledgements_hold_only_under_the_same_rule() {
        let egress = policy::Egress {
            source: "peer:p".into(),
            amber_collections: vec!["c".into()],
            amber_strict: false,
        };
        let v = served_ack_value(Some(42), &egress);
        assert_eq!(served_ack(Some(&v), &egress), Some(42));
        let mut wider = egress.clone();
        wider.amber_collections.push("d".into());
        assert_eq!(served_ack(Some(&v), &wider), None);
        assert_eq!(
            served_ack(Some(&served_ack_value(None, &egress)), &egress),
            None
        );
        assert_eq!(served_ack(Some("garbage"), &egress), None);
        assert_eq!(served_ack(None, &egress), None);
    }

    #[test]
    fn refusal_messages_are_cut_on_a_character() {
        let r = refusal("p", "c", "x", None, REFUSED_INVALID, &"é".repeat(2000));
        assert!(r.detail.len() <= store::publish::DETAIL_MAX + '…'.len_utf8());
        assert!(r.detail.ends_with('…'));
        assert_eq!(r.version, "");
    }

    #[test]
    fn push_positions() {
        assert_eq!(cursor_position(None), (i64::MIN, i64::MIN));
        assert_eq!(cursor_position(Some("12:7")), (12, 7));
        assert_eq!(cursor_position(Some("garbage")), (i64::MIN, i64::MIN));
    }
}
