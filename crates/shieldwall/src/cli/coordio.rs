//! What the coordination subcommands (`incident`, `fimi`, `disarm`, `assist`, `report`) share:
//! opening the node as a member (the library's `services::member::MemberService`, which writes
//! through the one write path, all or nothing across collections in one transaction, and reads
//! back only what that member may see), choosing collections from the arguments, and printing.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use shieldwall::{
    coalition::Collection,
    config::Role,
    policy::{Principal, can_read, can_write},
    services::member::MemberService,
    store::AddOutcome,
};
use stix::tlp::TlpLevel;

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
    /// The library's member service (writes through the one write path).
    pub(crate) member: MemberService,
    pub(crate) principal: Principal,
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
        let member = MemberService::new(
            node.store.clone(),
            node.coalition.clone(),
            principal.clone(),
            node.limits,
        )?;
        Ok(Ctx {
            node,
            member,
            principal,
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
                    [] => bail!(
                        "member `{}` may write to no collection on this node",
                        self.principal.member
                    ),
                    several => {
                        let names: Vec<&str> = several
                            .iter()
                            .map(|c| c.alias.as_deref().unwrap_or(&c.id))
                            .collect();
                        bail!(
                            "say which collection to write into with --collection C (member `{}` may write to: {})",
                            self.principal.member,
                            names.join(", ")
                        )
                    }
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

    /// The collection to write into for an object that answers `related` (an offer for a
    /// request): `--collection`; else the collection holding `related` when the member may see
    /// it there and write to it; else [`Ctx::write_collection`].
    pub(crate) async fn write_collection_near(
        &self,
        related: Option<&str>,
    ) -> anyhow::Result<Collection> {
        if self.on.collection.is_none()
            && let Some(id) = related
            && let Ok((_, c)) = self.member.find(id).await
            && can_write(&self.principal, &c)
        {
            return Ok(c);
        }
        self.write_collection()
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

    /// Everything the member may see in `colls` (latest versions, or every version).
    pub(crate) async fn view(
        &self,
        colls: &[Collection],
        all_versions: bool,
    ) -> anyhow::Result<Vec<Value>> {
        Ok(self.member.view(colls, all_versions).await?)
    }
}

pub(crate) use shieldwall::services::member::{now, of_type, s};

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
