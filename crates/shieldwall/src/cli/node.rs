//! What the offline subcommands (import, export) share: the configuration, the store, the
//! coalition, and finding a collection and a member by name.

use std::{path::Path, sync::Arc};

use anyhow::{Context, bail};
use shieldwall::{
    coalition::{Coalition, Collection},
    config::{self, Role},
    policy::Principal,
    publish::PublishLimits,
    store::AnyStore,
};

pub(crate) struct Node {
    pub(crate) coalition: Arc<Coalition>,
    pub(crate) store: AnyStore,
    /// The node's write limits (status retention), from its configuration.
    pub(crate) limits: PublishLimits,
    /// The peers of the effective configuration (the file's and the admin state's).
    pub(crate) peers: Vec<shieldwall::config::PeerConfig>,
}

impl Node {
    /// Opens the node's store, creating it when absent (for commands that write).
    pub(crate) async fn open(path: &Path) -> anyhow::Result<Node> {
        Node::open_inner(path, false).await
    }

    /// Opens the node's store for a command that only reads it: a store that does not exist is
    /// an error, never created empty (an export of nothing would look like a success).
    pub(crate) async fn open_existing(path: &Path) -> anyhow::Result<Node> {
        Node::open_inner(path, true).await
    }

    async fn open_inner(path: &Path, must_exist: bool) -> anyhow::Result<Node> {
        let checked = config::load(path, &config::process_env())?;
        if must_exist
            && let Some(place) = AnyStore::missing(&checked.database)
                .await
                .with_context(|| {
                    format!(
                        "cannot reach the database {}",
                        config::redact_url(&checked.database)
                    )
                })?
        {
            bail!(
                "no store at {place} (from {}): run `shieldwall serve` or `shieldwall import` first",
                path.display()
            );
        }
        let store = AnyStore::open(&checked.database).await.with_context(|| {
            format!(
                "cannot open the database {}",
                config::redact_url(&checked.database)
            )
        })?;
        // What the administration changed since the file was written (members, collections,
        // users, keys) is in the store.
        let (_, checked) = shieldwall::services::admin::effective(
            &store,
            &checked.config,
            &path.display().to_string(),
        )
        .await
        .context("cannot read the admin state")?;
        let coalition = Arc::new(Coalition::from_config(&checked));
        let limits = PublishLimits::from_server(&checked.config.server);
        Ok(Node {
            coalition,
            store,
            limits,
            peers: checked.config.peers.clone(),
        })
    }

    /// A collection by id or alias.
    pub(crate) fn collection(&self, name: &str) -> anyhow::Result<&Collection> {
        self.coalition
            .collections
            .iter()
            .find(|c| c.id.eq_ignore_ascii_case(name) || c.alias.as_deref() == Some(name))
            .with_context(|| format!("no collection `{name}` (give its id or alias)"))
    }

    /// The collection `principal` writes into: `name` (id or alias), else the only collection
    /// it may write.
    pub(crate) fn write_collection(
        &self,
        name: Option<&str>,
        principal: &Principal,
    ) -> anyhow::Result<&Collection> {
        if let Some(name) = name {
            return self.collection(name);
        }
        let writable: Vec<&Collection> = self
            .coalition
            .collections
            .iter()
            .filter(|c| shieldwall::policy::can_write(principal, c))
            .collect();
        match writable.as_slice() {
            [one] => Ok(one),
            [] => bail!("member `{}` may write no collection", principal.member),
            several => bail!(
                "member `{}` may write {} collections: say which with --collection ({})",
                principal.member,
                several.len(),
                several
                    .iter()
                    .map(|c| c.alias.as_deref().unwrap_or(&c.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The member to act as: `--as`, else the member that operates this node (`sync.member`),
    /// else the only member.
    pub(crate) fn principal(
        &self,
        as_member: Option<&str>,
        role: Role,
        actor: &str,
    ) -> anyhow::Result<Principal> {
        let member = match as_member {
            Some(m) => {
                if !self.coalition.members.contains_key(m) {
                    bail!("no member `{m}` in the configuration");
                }
                m.to_owned()
            }
            None if self
                .coalition
                .node_member
                .as_ref()
                .is_some_and(|m| self.coalition.members.contains_key(m)) =>
            {
                self.coalition.node_member.clone().unwrap_or_default()
            }
            None if self.coalition.members.len() == 1 => self
                .coalition
                .members
                .keys()
                .next()
                .cloned()
                .unwrap_or_default(),
            None => bail!(
                "several members are configured and no sync.member says which operates this node: say which with --as MEMBER"
            ),
        };
        Ok(Principal {
            member,
            role,
            actor: actor.to_owned(),
        })
    }
}
