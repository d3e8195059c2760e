//! What the coordination subcommands (`incident`, `fimi`, `disarm`, `assist`, `report`) share:
//! opening the node as a member, writing objects built by `coord` through the same validation
//! and publishing rules as `shieldwall import` (all or nothing, one transaction), and reading
//! back only what that member may see (the store's listing applies `policy` inside SQL).

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use shieldwall::{
    coalition::Collection,
    config::Role,
    ingest::{self, Prepared},
    policy::{Principal, Pushdown, can_read, can_write},
    store::{
        AddOutcome, ListQuery, Provenance, REFUSED_VERSION, StatusRecord, Store, VersionSelection,
        for_each_page,
    },
    timestamps,
};
use stix::{Timestamp, tlp::TlpLevel};

use super::node::Node;

/// Where and as whom: shared by every coordination subcommand.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct On {
    /// Configuration file.
    #[arg(long, global = true, default_value = "shieldwall.toml")]
    pub(crate) config: PathBuf,
    /// The member acting (default: the only member configured).
    #[arg(long = "as", global = true, value_name = "MEMBER")]
    pub(crate) as_member: Option<String>,
    /// Collection id or alias (to write into; reading defaults to every collection the member
    /// may read).
    #[arg(long, global = true, value_name = "C")]
    pub(crate) collection: Option<String>,
    /// TLP of the objects written (clear, green, amber, amber+strict, red; default amber,
    /// clear for `disarm import`).
    #[arg(long, global = true)]
    pub(crate) tlp: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// An opened node and the member acting on it.
pub(crate) struct Ctx {
    pub(crate) node: Node,
    pub(crate) principal: Principal,
    /// The member's STIX identity (`created_by_ref` of what it writes).
    pub(crate) identity: String,
    pub(crate) on: On,
}

pub(crate) fn block_on<F: Future<Output = anyhow::Result<ExitCode>>>(
    f: F,
) -> anyhow::Result<ExitCode> {
    super::serve::runtime()?.block_on(f)
}

impl Ctx {
    pub(crate) async fn open(on: &On, actor: &str) -> anyhow::Result<Ctx> {
        Ctx::open_inner(on, actor, Node::open(&on.config).await?)
    }

    /// [`Ctx::open`] for a command that only reads: a missing store is an error, not created.
    pub(crate) async fn open_existing(on: &On, actor: &str) -> anyhow::Result<Ctx> {
        Ctx::open_inner(on, actor, Node::open_existing(&on.config).await?)
    }

    fn open_inner(on: &On, actor: &str, node: Node) -> anyhow::Result<Ctx> {
        let principal = node.principal(on.as_member.as_deref(), Role::Contributor, actor)?;
        let identity = node
            .coalition
            .members
            .get(&principal.member)
            .map(|m| m.identity.clone())
            .context("the member has no identity")?;
        Ok(Ctx {
            node,
            principal,
            identity,
            on: on.clone(),
        })
    }

    /// The collection to write into: `--collection`, or the only one the member may write.
    pub(crate) fn write_collection(&self) -> anyhow::Result<Collection> {
        let c = match &self.on.collection {
            Some(name) => self.node.collection(name)?.clone(),
            None => {
                let w: Vec<&Collection> = self
                    .node
                    .coalition
                    .collections
                    .iter()
                    .filter(|c| can_write(&self.principal, c))
                    .collect();
                match w.as_slice() {
                    [one] => (*one).clone(),
                    _ => bail!("say which collection to write into with --collection C"),
                }
            }
        };
        if !can_write(&self.principal, &c) {
            bail!(
                "member `{}` may not write to collection {}",
                self.principal.member,
                c.id
            );
        }
        Ok(c)
    }

    /// The collections read: `--collection`, or every one the member may read.
    pub(crate) fn read_collections(&self) -> anyhow::Result<Vec<Collection>> {
        match &self.on.collection {
            Some(name) => {
                let c = self.node.collection(name)?.clone();
                if !can_read(&self.principal, &c) {
                    bail!(
                        "member `{}` may not read collection {}",
                        self.principal.member,
                        c.id
                    );
                }
                Ok(vec![c])
            }
            None => Ok(self
                .node
                .coalition
                .collections
                .iter()
                .filter(|c| can_read(&self.principal, c))
                .cloned()
                .collect()),
        }
    }

    /// Every collection the member may read (whatever `--collection` says).
    pub(crate) fn readable(&self) -> Vec<Collection> {
        self.node
            .coalition
            .collections
            .iter()
            .filter(|c| can_read(&self.principal, c))
            .cloned()
            .collect()
    }

    /// The marking for `--tlp`.
    pub(crate) fn marking(&self) -> anyhow::Result<&'static str> {
        self.marking_or(TlpLevel::Amber)
    }

    /// The marking for `--tlp`, `default` when absent.
    pub(crate) fn marking_or(&self, default: TlpLevel) -> anyhow::Result<&'static str> {
        let level = match &self.on.tlp {
            None => default,
            Some(t) => TlpLevel::parse(t).with_context(|| {
                format!("--tlp {t}: expected clear, green, amber, amber+strict or red")
            })?,
        };
        Ok(level.marking_id())
    }

    /// `coord::Common` for a new object by this member under `--tlp`.
    pub(crate) fn common(&self) -> anyhow::Result<coord::Common> {
        Ok(coord::Common::new(uuid::Uuid::new_v4(), now())
            .by(self.identity.clone())
            .marked(self.marking()?))
    }

    /// Stores `objects` in `coll` as this member: every object is validated and checked against
    /// the publishing rules first, and nothing is stored unless all pass.
    pub(crate) async fn write(
        &self,
        coll: &Collection,
        objects: &[Value],
    ) -> anyhow::Result<Vec<AddOutcome>> {
        self.write_many(&[(coll.clone(), objects.to_vec())]).await
    }

    /// Stores objects in several collections: every object is validated and checked against
    /// the publishing rules before anything is stored; then one transaction per collection.
    pub(crate) async fn write_many(
        &self,
        groups: &[(Collection, Vec<Value>)],
    ) -> anyhow::Result<Vec<AddOutcome>> {
        let mut prepared = Vec::with_capacity(groups.len());
        for (coll, objects) in groups {
            if !can_write(&self.principal, coll) {
                bail!(
                    "member `{}` may not write to collection {} (nothing was stored)",
                    self.principal.member,
                    coll.id
                );
            }
            let mut versions = Vec::with_capacity(objects.len());
            for o in objects {
                match ingest::prepare(o.clone(), &self.principal, &self.node.coalition) {
                    Prepared::Valid(v) => versions.push(*v),
                    Prepared::Invalid { id, message, .. } => {
                        bail!("{id}: {message} (nothing was stored)")
                    }
                }
            }
            prepared.push((coll, versions));
        }
        let provenance = Provenance {
            source: "local".into(),
            actor: self.principal.actor.clone(),
        };
        let mut outcomes = Vec::new();
        for (coll, versions) in prepared {
            if versions.is_empty() {
                continue;
            }
            let now = timestamps::now_us();
            let status_id = uuid::Uuid::new_v4().to_string();
            let make_status = |o: &[AddOutcome]| {
                let stored = o.iter().filter(|o| o.is_stored()).count();
                StatusRecord {
                    id: status_id.clone(),
                    api_root: coll.api_root.clone(),
                    member: self.principal.member.clone(),
                    request_us: now,
                    expires_us: now + 24 * 3_600_000_000,
                    body: json!({"id": status_id, "status": "complete", "total_count": o.len(),
                        "success_count": stored, "failure_count": o.len() - stored, "pending_count": 0})
                    .to_string(),
                }
            };
            let added = self
                .node
                .store
                .add(&coll.id, &provenance, &versions, &make_status)
                .await?;
            // The store refuses a version that belongs to another member (its producer's rule).
            let refused: Vec<&str> = versions
                .iter()
                .zip(&added)
                .filter(|(_, o)| !o.is_stored())
                .map(|(v, _)| v.id.as_str())
                .collect();
            if !refused.is_empty() {
                let more = refused.len().saturating_sub(5);
                bail!(
                    "{}{}: {REFUSED_VERSION} ({} refused; the other objects were stored)",
                    refused[..refused.len().min(5)].join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    },
                    refused.len()
                );
            }
            outcomes.extend(added);
        }
        Ok(outcomes)
    }

    /// The collection a relationship to `target` is kept in: the one holding the target when
    /// the member may write there (so that sync's edge rule, which looks at the relationship's
    /// own collection, holds the edge back wherever the target is held back), else `fallback`.
    pub(crate) async fn edge_collection(&self, target: &str, fallback: &Collection) -> Collection {
        match self.find(target).await {
            Ok((_, c)) if can_write(&self.principal, &c) => c,
            _ => fallback.clone(),
        }
    }

    /// Everything the member may see in `colls` (latest versions, or every version).
    pub(crate) async fn view(
        &self,
        colls: &[Collection],
        all_versions: bool,
    ) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let pushdown = Pushdown::for_principal(&self.principal, &self.node.coalition);
        for c in colls {
            let versions = if all_versions {
                VersionSelection::all()
            } else {
                VersionSelection::last()
            };
            let q = ListQuery::whole_collection(&c.id, pushdown.clone(), versions);
            for_each_page(&self.node.store, q, |records| -> anyhow::Result<()> {
                for r in records {
                    if let Some(j) = &r.json {
                        out.push(serde_json::from_str(j).context("a stored object is not JSON")?);
                    }
                }
                Ok(())
            })
            .await?;
        }
        Ok(latest_of(out, all_versions))
    }

    /// The latest version of `id` the member may see in any collection, and the collection
    /// holding it.
    pub(crate) async fn find(&self, id: &str) -> anyhow::Result<(Value, Collection)> {
        let pushdown = Pushdown::for_principal(&self.principal, &self.node.coalition);
        let mut best: Option<(Value, Collection)> = None;
        for c in self.readable() {
            let q = ListQuery {
                collection: c.id.clone(),
                pushdown: pushdown.clone(),
                ids: vec![id.to_owned()],
                types: vec![],
                added_after_us: None,
                versions: VersionSelection::last(),
                spec_versions: vec![],
                after: None,
                limit: 10,
                with_json: true,
            };
            for r in self.node.store.list(&q).await?.records {
                let Some(j) = r.json else { continue };
                let v: Value = serde_json::from_str(&j)?;
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| version_of(&v) > version_of(b))
                {
                    best = Some((v, c.clone()));
                }
            }
        }
        best.with_context(|| {
            format!(
                "{id}: not found (or not visible to {})",
                self.principal.member
            )
        })
    }
}

/// Writes `objects` into `coll` and each edge into its own collection (all validated first);
/// returns the outcomes and every object written, in order.
pub(crate) async fn write_with_edges(
    ctx: &Ctx,
    coll: &Collection,
    objects: Vec<Value>,
    edges: Vec<(Collection, Value)>,
) -> anyhow::Result<(Vec<AddOutcome>, Vec<Value>)> {
    let mut groups: Vec<(Collection, Vec<Value>)> = vec![(coll.clone(), objects)];
    for (c, e) in edges {
        match groups.iter_mut().find(|(g, _)| g.id == c.id) {
            Some((_, list)) => list.push(e),
            None => groups.push((c, vec![e])),
        }
    }
    let out = ctx.write_many(&groups).await?;
    Ok((out, groups.into_iter().flat_map(|(_, v)| v).collect()))
}

/// An object's version timestamp.
pub(crate) fn version_of(v: &Value) -> Option<Timestamp> {
    v.get("modified")
        .or_else(|| v.get("created"))
        .and_then(Value::as_str)
        .and_then(|s| Timestamp::parse(s).ok())
}

/// Keeps the latest version of each id (objects held in several collections appear once),
/// unless `all` (then only exact duplicates go).
fn latest_of(objects: Vec<Value>, all: bool) -> Vec<Value> {
    let mut order: Vec<String> = Vec::new();
    let mut by: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    for o in objects {
        let id = o.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        let key = if all {
            format!("{id}@{:?}", version_of(&o).map(|t| t.unix_nanos()))
        } else {
            id
        };
        match by.get(&key) {
            Some(prev) if version_of(prev) >= version_of(&o) => {}
            Some(_) => {
                by.insert(key, o);
            }
            None => {
                order.push(key.clone());
                by.insert(key, o);
            }
        }
    }
    order.into_iter().filter_map(|k| by.remove(&k)).collect()
}

/// Now, with millisecond precision.
pub(crate) fn now() -> Timestamp {
    let us = timestamps::now_us();
    Timestamp::from_unix(
        us.div_euclid(1_000_000),
        u32::try_from(us.rem_euclid(1_000_000) * 1000).unwrap_or(0),
        3,
    )
    .or_else(|| Timestamp::from_unix(0, 0, 3))
    .expect("the Unix epoch is a valid timestamp")
}

/// A new version's time: now, or a millisecond after the current version if the clock has not
/// moved past it (each version must be strictly later).
pub(crate) fn next_version_time(current: &Value) -> Timestamp {
    let n = now();
    match version_of(current) {
        Some(c) if c >= n => {
            let ns = c.unix_nanos() + 1_000_000;
            let secs = i64::try_from(ns.div_euclid(1_000_000_000)).unwrap_or(0);
            let nanos = u32::try_from(ns.rem_euclid(1_000_000_000)).unwrap_or(0);
            Timestamp::from_unix(secs, nanos, 3).unwrap_or(n)
        }
        _ => n,
    }
}

/// Objects of one type.
pub(crate) fn of_type<'a>(objects: &'a [Value], t: &'a str) -> impl Iterator<Item = &'a Value> {
    objects
        .iter()
        .filter(move |o| o.get("type").and_then(Value::as_str) == Some(t))
}

/// A string property.
pub(crate) fn s<'a>(o: &'a Value, key: &str) -> &'a str {
    o.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Prints what was stored.
pub(crate) fn print_written(
    json_out: bool,
    what: &str,
    objects: &[Value],
    outcomes: &[AddOutcome],
) {
    let ids: Vec<&str> = objects.iter().map(|o| s(o, "id")).collect();
    let stored = outcomes
        .iter()
        .filter(|o| matches!(o, AddOutcome::Added { .. }))
        .count();
    if json_out {
        println!(
            "{}",
            json!({"what": what, "id": ids.first(), "ids": ids, "stored": stored})
        );
    } else {
        println!("{what}: {}", ids.first().copied().unwrap_or(""));
        for (o, id) in objects.iter().zip(&ids).skip(1) {
            println!("  + {} {id}", s(o, "type"));
        }
    }
}
