//! Administration as a library service: what `shieldwall admin …` and the HTTP admin API
//! (`/admin/…`) both call. The decisions are `policy::admin` (pure); this module reads and
//! writes the admin state in the store (`store::admin_state`), hashes passwords, makes API key
//! tokens, and records every change in the audit trail in the same transaction as the change.
//!
//! A change is a compare-and-swap on the state's generation: read the state, apply the change,
//! commit if nobody changed it meanwhile, else read again and retry (a few times). Every node
//! watching the generation (`server::Reloader`) applies it within its poll interval.

use std::sync::Arc;

use serde::Serialize;

use crate::{
    audit_chain::Entry,
    config::{ApiKeyConfig, Checked, CollectionConfig, Config, MemberConfig, Role, UserConfig},
    store::{
        AnyStore, Store, StoreError,
        admin_state::{AdminCommit, StoredAdminState},
    },
    timestamps,
};
use ::policy::admin::{
    self as rules, AdminError, AdminState, Change, CollectionGrants, KeyView, MemberView, UserView,
};

/// Attempts of one change against concurrent changes before giving up.
const ATTEMPTS: usize = 64;

/// Why an administrative call did nothing.
#[derive(Debug, thiserror::Error)]
pub enum AdminServiceError {
    /// The change was refused (nothing changed).
    #[error(transparent)]
    Refused(#[from] AdminError),
    /// The store failed (nothing changed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored state cannot be read.
    #[error("the stored admin state is not readable: {0}")]
    Corrupt(String),
    /// Other changes kept coming first.
    #[error("the admin state kept changing; try again")]
    Busy,
}

/// Who makes a change, and through what (`cli` or `api`), for the audit trail.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user, key (`key:ID`) or operating-system account.
    pub name: String,
    /// `cli` or `api`.
    pub path: &'static str,
}

/// The administration of one node: its bootstrap configuration (the file, with the
/// environment's overrides) and its store.
#[derive(Debug, Clone)]
pub struct Admin {
    store: AnyStore,
    bootstrap: Arc<Config>,
}

/// A new API key's token (shown once) with the key's id.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedKey {
    /// Key id.
    pub id: String,
    /// The bearer token: shown once, never stored.
    pub token: String,
    /// When it stops working.
    pub expires: Option<String>,
}

/// What to create a collection with (its id is generated).
#[derive(Debug, Clone, Default)]
pub struct NewCollection {
    /// API root.
    pub api_root: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Alias.
    pub alias: Option<String>,
    /// Trust group.
    pub trust_group: Option<String>,
    /// Readers (members, trust groups, `*`).
    pub read: Vec<String>,
    /// Writers.
    pub write: Vec<String>,
    /// RED recipients.
    pub red_recipients: Vec<String>,
}

/// Reads the stored admin state (empty when never written).
pub async fn read_state(store: &AnyStore) -> Result<(i64, AdminState), AdminServiceError> {
    let StoredAdminState {
        generation,
        document,
    } = store.admin_state().await?;
    let state = match document {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| AdminServiceError::Corrupt(format!("admin_state.document: {e}")))?,
        None => AdminState::default(),
    };
    Ok((generation, state))
}

/// The node's effective configuration: `bootstrap` with the stored admin state over it, checked
/// (`source` names it in errors), and the generation it was read at.
pub async fn effective(
    store: &AnyStore,
    bootstrap: &Config,
    source: &str,
) -> Result<(i64, Checked), AdminServiceError> {
    let (generation, state) = read_state(store).await?;
    let checked = rules::effective_checked(bootstrap, &state, source).map_err(|e| {
        AdminServiceError::Refused(AdminError::Invalid(format!(
            "the configuration file with the admin state (generation {generation}) does not hold: {e}"
        )))
    })?;
    Ok((generation, checked))
}

/// A new identifier-safe random id.
fn new_uuid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system provides random bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Admin {
    /// The administration of the node whose bootstrap configuration is `bootstrap`.
    pub fn new(store: AnyStore, bootstrap: Arc<Config>) -> Admin {
        Admin { store, bootstrap }
    }

    /// The bootstrap configuration.
    pub fn bootstrap(&self) -> &Config {
        &self.bootstrap
    }

    /// The state as stored now.
    pub async fn state(&self) -> Result<(i64, AdminState), AdminServiceError> {
        read_state(&self.store).await
    }

    /// The effective configuration now (unchecked: it was checked when written).
    pub async fn current(&self) -> Result<(i64, Config), AdminServiceError> {
        let (g, s) = self.state().await?;
        Ok((g, rules::effective(&self.bootstrap, &s)))
    }

    /// Applies `change` as `actor`: committed with its audit record, or refused (the refusal is
    /// recorded too). Returns the new generation.
    pub async fn apply(&self, actor: &Actor, change: Change) -> Result<i64, AdminServiceError> {
        let (action, target) = change.audit_action();
        let detail = change.audit_detail();
        for _ in 0..ATTEMPTS {
            let (generation, state) = self.state().await?;
            // The collection a removal removes, by the id its entries hold.
            let removing = match &change {
                Change::RemoveCollection(id) => rules::effective(&self.bootstrap, &state)
                    .collections
                    .iter()
                    .find(|c| c.id.eq_ignore_ascii_case(id))
                    .map(|c| c.id.clone()),
                _ => None,
            };
            let next = match rules::apply(&self.bootstrap, &state, &change) {
                Ok(n) => n,
                Err(e) => {
                    let refusal = Entry::new(&actor.name, action, actor.path, &target, "refused")
                        .detail(&format!("{detail} reason={e}"));
                    if let Err(a) = self.store.audit_append(&[refusal]).await {
                        tracing::warn!(error = %a, "A refused admin change could not be recorded.");
                    }
                    return Err(e.into());
                }
            };
            let document = serde_json::to_string(&next)
                .map_err(|e| AdminServiceError::Corrupt(e.to_string()))?;
            let entry = Entry::new(&actor.name, action, actor.path, &target, "ok")
                .detail(format!("{detail} generation={}", generation + 1).trim_start());
            let committed = match &removing {
                Some(collection) => {
                    self.store
                        .admin_commit_removal(generation, &document, &[entry], collection)
                        .await?
                }
                None => {
                    self.store
                        .admin_commit(generation, &document, &[entry])
                        .await?
                }
            };
            match committed {
                AdminCommit::Committed(g) => return Ok(g),
                AdminCommit::Stale => continue,
                AdminCommit::NotEmpty(held) => {
                    let id = removing.as_deref().unwrap_or_default();
                    return Err(self.refuse_removal(actor, &change, id, held).await);
                }
            }
        }
        Err(AdminServiceError::Busy)
    }

    /// Adds a member (a new `identity--UUID` when `identity` is empty).
    pub async fn add_member(
        &self,
        actor: &Actor,
        mut member: MemberConfig,
    ) -> Result<MemberConfig, AdminServiceError> {
        if member.identity.is_empty() {
            member.identity = format!("identity--{}", new_uuid());
        }
        self.apply(actor, Change::AddMember(member.clone())).await?;
        Ok(member)
    }

    /// Adds a user with `password` (refused when weak; hashed, never kept in clear).
    pub async fn add_user(
        &self,
        actor: &Actor,
        name: &str,
        member: &str,
        role: Role,
        password: &str,
    ) -> Result<(), AdminServiceError> {
        let password_hash = hash(name, password).await?;
        self.apply(
            actor,
            Change::AddUser(UserConfig {
                name: name.to_owned(),
                member: member.to_owned(),
                role,
                password_hash,
            }),
        )
        .await?;
        Ok(())
    }

    /// Gives `name` a new password.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
    ) -> Result<(), AdminServiceError> {
        let password_hash = hash(name, password).await?;
        self.apply(
            actor,
            Change::SetPassword {
                name: name.to_owned(),
                password_hash,
            },
        )
        .await?;
        Ok(())
    }

    /// Issues a key; its token is returned once, only its digest is kept.
    pub async fn issue_key(
        &self,
        actor: &Actor,
        id: &str,
        member: &str,
        role: Role,
        note: Option<String>,
        expires: Option<String>,
    ) -> Result<IssuedKey, AdminServiceError> {
        if let Some(e) = &expires
            && timestamps::parse_us(e).is_none()
        {
            return Err(AdminError::Invalid(format!(
                "expires: `{e}` is not a timestamp such as 2027-01-31T00:00:00Z"
            ))
            .into());
        }
        let (token, digest) = crate::auth::new_api_key(id);
        self.apply(
            actor,
            Change::AddKey(ApiKeyConfig {
                id: id.to_owned(),
                member: member.to_owned(),
                role,
                digest,
                note,
                expires: expires.clone(),
            }),
        )
        .await?;
        Ok(IssuedKey {
            id: id.to_owned(),
            token,
            expires,
        })
    }

    /// Gives key `id` a new token: the old one is refused from the next poll on every node.
    pub async fn rotate_key(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<IssuedKey, AdminServiceError> {
        let (token, digest) = crate::auth::new_api_key(id);
        self.apply(
            actor,
            Change::RotateKey {
                id: id.to_owned(),
                digest,
            },
        )
        .await?;
        let (_, config) = self.current().await?;
        let expires = config
            .api_keys
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| k.expires.clone());
        Ok(IssuedKey {
            id: id.to_owned(),
            token,
            expires,
        })
    }

    /// Adds a collection under a new id.
    pub async fn add_collection(
        &self,
        actor: &Actor,
        c: NewCollection,
    ) -> Result<CollectionConfig, AdminServiceError> {
        let collection = CollectionConfig {
            id: new_uuid(),
            api_root: c.api_root,
            title: c.title,
            description: c.description,
            alias: c.alias,
            trust_group: c.trust_group,
            read: c.read,
            write: c.write,
            red_recipients: c.red_recipients,
        };
        self.apply(actor, Change::AddCollection(collection.clone()))
            .await?;
        Ok(collection)
    }

    /// Removes member `id`: its users and keys stop working on every node within a poll, it is
    /// dropped from every collection's grants and RED recipients and from every trust group; the
    /// objects it produced stay, and its id and identity are not given again.
    pub async fn remove_member(&self, actor: &Actor, id: &str) -> Result<i64, AdminServiceError> {
        self.apply(actor, Change::RemoveMember(id.to_owned())).await
    }

    /// Disables (`true`) or enables member `id`: its users and keys are refused while disabled.
    pub async fn set_member_disabled(
        &self,
        actor: &Actor,
        id: &str,
        disabled: bool,
    ) -> Result<i64, AdminServiceError> {
        self.apply(
            actor,
            Change::SetMemberDisabled {
                id: id.to_owned(),
                disabled,
            },
        )
        .await
    }

    /// Removes trust group `id` (dropped from every grant, RED recipient list and collection).
    pub async fn remove_trust_group(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<i64, AdminServiceError> {
        self.apply(actor, Change::RemoveTrustGroup(id.to_owned()))
            .await
    }

    /// Removes collection `id`, refused (409) while it holds any object version: its objects
    /// would otherwise stay in the store unreachable. There is no forced removal. The
    /// emptiness is checked in the transaction that commits the removal, under the store's
    /// write lock (`AnyStore::admin_commit_removal`), and from that commit on the store refuses
    /// to write into the collection: a write racing the removal either lands first (and the
    /// removal is refused) or is refused itself, never both accepted.
    pub async fn remove_collection(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<i64, AdminServiceError> {
        self.apply(actor, Change::RemoveCollection(id.to_owned()))
            .await
    }

    /// The refusal (409, recorded in the audit trail) of removing collection `id`, which holds
    /// `held` object versions.
    async fn refuse_removal(
        &self,
        actor: &Actor,
        change: &Change,
        id: &str,
        held: i64,
    ) -> AdminServiceError {
        let (action, target) = change.audit_action();
        let reason = format!(
            "collection `{id}` holds {held} object versions: a collection is removed only \
             when empty (delete its objects first)"
        );
        let refusal = Entry::new(&actor.name, action, actor.path, &target, "refused")
            .detail(&format!("reason={reason}"));
        if let Err(a) = self.store.audit_append(&[refusal]).await {
            tracing::warn!(error = %a, "A refused admin change could not be recorded.");
        }
        AdminError::Conflict(reason).into()
    }

    /// Replaces the grants and RED recipients of collection `grants.id`.
    pub async fn set_collection_grants(
        &self,
        actor: &Actor,
        grants: CollectionGrants,
    ) -> Result<i64, AdminServiceError> {
        self.apply(actor, Change::SetCollectionGrants(grants)).await
    }

    /// Members, with whether each is disabled.
    pub async fn members(&self) -> Result<Vec<MemberView>, AdminServiceError> {
        let (_, s) = self.state().await?;
        Ok(rules::members(&self.bootstrap, &s))
    }

    /// Users (never their hashes).
    pub async fn users(&self) -> Result<Vec<UserView>, AdminServiceError> {
        let (_, s) = self.state().await?;
        Ok(rules::users(&self.bootstrap, &s))
    }

    /// Keys (never their digests), revoked ones and expired ones included.
    pub async fn keys(&self) -> Result<Vec<KeyView>, AdminServiceError> {
        let (_, s) = self.state().await?;
        Ok(rules::keys(&self.bootstrap, &s, timestamps::now_us()))
    }
}

/// Checks and hashes a new password (on a blocking thread: argon2 takes a while).
async fn hash(user: &str, password: &str) -> Result<String, AdminServiceError> {
    if let Some(why) = ::policy::passwords::weakness(password, user) {
        return Err(AdminError::Invalid(format!("password refused: {why}")).into());
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
        .await
        .map_err(|e| AdminServiceError::Corrupt(format!("hashing stopped: {e}")))?
        .map_err(|e| AdminServiceError::Corrupt(format!("cannot hash the password: {e}")))
}
