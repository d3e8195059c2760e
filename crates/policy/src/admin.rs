//! The administration's decisions, no I/O: the admin-managed state (members, users, API keys,
//! trust groups, collections and peers added or changed at run time), how one change applies to
//! it, and the effective configuration it makes with the bootstrap file.
//!
//! The configuration file is the bootstrap: what it declares is always there. The admin state is
//! one document kept in the store (`store::admin_state`) with a generation counter; every change
//! is a [`Change`] applied by [`apply`], which refuses it (and keeps the state) when it names
//! something missing, collides with something present, or leaves a configuration that does not
//! pass [`Config::check`]. [`effective`] lays the state over the file:
//!
//! - members, trust groups, collections and peers are added to the file's (same ids: refused);
//! - a user or key in the state replaces the file's of the same name (that is how a file user is
//!   disabled or gets a new password, and a file key is revoked or rotated); a disabled user and
//!   a revoked key are left out; a user removed is a tombstone, so a file user stays removed;
//! - a peer removed is a tombstone too;
//! - a member removed is a tombstone (its id and identity are never given again, so nobody
//!   inherits the versions it produced): its users and keys go with it, and it is dropped from
//!   every collection's grants and RED recipients and from every trust group; the objects it
//!   produced stay in the store with their markings, and since the policy binds TLP:RED to the
//!   producer's member id, and new versions to the producer, nobody gains access through them;
//! - a member disabled keeps its place everywhere, but its users and keys are left out;
//! - a trust group removed is a tombstone: dropped from every grant, RED recipient list and
//!   collection (whose AMBER objects then leave by sync to nobody);
//! - a collection removed is a tombstone (the service refuses it while it holds objects);
//! - a collection's grants changed are kept as an override of the file's or state's grants.
//!
//! No change may leave a node that had an admin user or key without one ([`AdminError::Conflict`]), nor
//! remove or disable the member that operates the node (`[sync] member`).
//!
//! Nothing here holds a secret in clear: users have an argon2 PHC string, keys a SHA-256 digest.

use serde::{Deserialize, Serialize};

use crate::config::{
    ApiKeyConfig, Checked, CollectionConfig, Config, ConfigError, MemberConfig, PeerConfig, Role,
    TrustGroupConfig, UserConfig,
};

/// The admin-managed state: one JSON document, replaced whole by each change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminState {
    /// Members added.
    pub members: Vec<MemberConfig>,
    /// Users added, or file users changed (disabled, new password).
    pub users: Vec<ManagedUser>,
    /// Keys issued, or file keys changed (revoked, rotated).
    pub api_keys: Vec<ManagedKey>,
    /// Trust groups added.
    pub trust_groups: Vec<TrustGroupConfig>,
    /// Collections added.
    pub collections: Vec<CollectionConfig>,
    /// Peers added.
    pub peers: Vec<PeerConfig>,
    /// Users removed (file users included).
    pub removed_users: Vec<String>,
    /// Peers removed (file peers included).
    pub removed_peers: Vec<String>,
    /// Members removed (file members included): their ids and identities are not given again.
    pub removed_members: Vec<RemovedMember>,
    /// Members disabled: their users and keys are refused.
    pub disabled_members: Vec<String>,
    /// Trust groups removed (file trust groups included).
    pub removed_trust_groups: Vec<String>,
    /// Collections removed (file collections included), lower-case ids.
    pub removed_collections: Vec<String>,
    /// Grants set by the administration, replacing the collection's (file or state).
    pub collection_grants: Vec<CollectionGrants>,
}

/// A removed member's tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovedMember {
    /// Its id.
    pub id: String,
    /// Its STIX identity.
    pub identity: String,
}

/// Who may read, write and see the TLP:RED objects of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionGrants {
    /// The collection id (lower case).
    pub id: String,
    /// Readers: members, trust groups or `*`.
    #[serde(default)]
    pub read: Vec<String>,
    /// Writers: members, trust groups or `*`.
    #[serde(default)]
    pub write: Vec<String>,
    /// Members or trust groups that see its TLP:RED objects besides their producer.
    #[serde(default)]
    pub red_recipients: Vec<String>,
}

/// A user the administration manages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedUser {
    /// Login name.
    pub name: String,
    /// Member id.
    pub member: String,
    /// Role.
    pub role: Role,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// A disabled user cannot sign in.
    #[serde(default)]
    pub disabled: bool,
}

/// An API key the administration manages (its digest only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedKey {
    /// Key id.
    pub id: String,
    /// Member id.
    pub member: String,
    /// Role.
    pub role: Role,
    /// Hex SHA-256 of the whole token.
    pub digest: String,
    /// What it is for.
    #[serde(default)]
    pub note: Option<String>,
    /// When it stops working (RFC 3339).
    #[serde(default)]
    pub expires: Option<String>,
    /// A revoked key is refused.
    #[serde(default)]
    pub revoked: bool,
}

/// One administrative change. Secrets arrive already hashed: a password as its argon2 PHC
/// string, a key as its digest (the caller shows the token once and forgets it).
#[derive(Debug, Clone)]
pub enum Change {
    /// Add a member.
    AddMember(MemberConfig),
    /// Add a user.
    AddUser(UserConfig),
    /// Disable (`true`) or enable a user.
    SetUserDisabled {
        /// Login name.
        name: String,
        /// Disabled or not.
        disabled: bool,
    },
    /// Remove a user.
    RemoveUser(String),
    /// Give a user a new password (hash).
    SetPassword {
        /// Login name.
        name: String,
        /// The new argon2 PHC string.
        password_hash: String,
    },
    /// Issue a key.
    AddKey(ApiKeyConfig),
    /// Revoke a key.
    RevokeKey(String),
    /// Give a key a new token (digest); the old token stops working.
    RotateKey {
        /// Key id.
        id: String,
        /// Digest of the new token.
        digest: String,
    },
    /// Add a trust group.
    AddTrustGroup(TrustGroupConfig),
    /// Add a collection.
    AddCollection(CollectionConfig),
    /// Add a peer.
    AddPeer(PeerConfig),
    /// Remove a peer.
    RemovePeer(String),
    /// Remove a member: its users and keys, and its place in grants, RED recipients and trust
    /// groups, go with it; its id and identity are not given again.
    RemoveMember(String),
    /// Disable (`true`) or enable a member: its users and keys are refused while disabled.
    SetMemberDisabled {
        /// Member id.
        id: String,
        /// Disabled or not.
        disabled: bool,
    },
    /// Remove a trust group (dropped from every grant, RED recipient list and collection).
    RemoveTrustGroup(String),
    /// Remove a collection (the service refuses it while the collection holds objects).
    RemoveCollection(String),
    /// Replace a collection's grants and RED recipients.
    SetCollectionGrants(CollectionGrants),
}

impl Change {
    /// The audit action and target of the change (never a secret).
    pub fn audit_action(&self) -> (&'static str, String) {
        match self {
            Change::AddMember(m) => ("admin-add-member", format!("member:{}", m.id)),
            Change::AddUser(u) => ("admin-add-user", format!("user:{}", u.name)),
            Change::SetUserDisabled { name, disabled } => (
                if *disabled {
                    "admin-disable-user"
                } else {
                    "admin-enable-user"
                },
                format!("user:{name}"),
            ),
            Change::RemoveUser(n) => ("admin-remove-user", format!("user:{n}")),
            Change::SetPassword { name, .. } => ("admin-reset-password", format!("user:{name}")),
            Change::AddKey(k) => ("admin-add-key", format!("key:{}", k.id)),
            Change::RevokeKey(id) => ("admin-revoke-key", format!("key:{id}")),
            Change::RotateKey { id, .. } => ("admin-rotate-key", format!("key:{id}")),
            Change::AddTrustGroup(g) => ("admin-add-trust-group", format!("trust-group:{}", g.id)),
            Change::AddCollection(c) => ("admin-add-collection", format!("collection:{}", c.id)),
            Change::AddPeer(p) => ("admin-add-peer", format!("peer:{}", p.name)),
            Change::RemovePeer(n) => ("admin-remove-peer", format!("peer:{n}")),
            Change::RemoveMember(id) => ("admin-remove-member", format!("member:{id}")),
            Change::SetMemberDisabled { id, disabled } => (
                if *disabled {
                    "admin-disable-member"
                } else {
                    "admin-enable-member"
                },
                format!("member:{id}"),
            ),
            Change::RemoveTrustGroup(id) => {
                ("admin-remove-trust-group", format!("trust-group:{id}"))
            }
            Change::RemoveCollection(id) => ("admin-remove-collection", format!("collection:{id}")),
            Change::SetCollectionGrants(g) => (
                "admin-set-collection-grants",
                format!("collection:{}", g.id),
            ),
        }
    }

    /// What the audit record says besides action and target (no password, hash, token or digest).
    pub fn audit_detail(&self) -> String {
        match self {
            Change::AddMember(m) => format!("identity={}", m.identity),
            Change::AddUser(u) => format!("member={} role={}", u.member, u.role.as_str()),
            Change::AddKey(k) => format!(
                "member={} role={} expires={}",
                k.member,
                k.role.as_str(),
                k.expires.as_deref().unwrap_or("never")
            ),
            Change::AddTrustGroup(g) => format!("members={}", g.members.join(",")),
            Change::AddCollection(c) => format!(
                "api_root={} read={} write={} red_recipients={}",
                c.api_root,
                c.read.join(","),
                c.write.join(","),
                c.red_recipients.join(",")
            ),
            Change::AddPeer(p) => format!("url={}", p.url),
            Change::SetCollectionGrants(g) => format!(
                "read={} write={} red_recipients={}",
                g.read.join(","),
                g.write.join(","),
                g.red_recipients.join(",")
            ),
            _ => String::new(),
        }
    }
}

/// Why a change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// It names something that is not there.
    #[error("{0}")]
    NotFound(String),
    /// It collides with something already there.
    #[error("{0}")]
    Conflict(String),
    /// It is malformed, or the configuration it would make does not hold.
    #[error("{0}")]
    Invalid(String),
}

impl From<ConfigError> for AdminError {
    fn from(e: ConfigError) -> AdminError {
        AdminError::Invalid(format!("{}: {}", e.key, e.reason))
    }
}

/// The effective configuration: the bootstrap file with the admin state laid over it (see the
/// module's documentation). Not checked: [`effective_checked`] checks it.
pub fn effective(bootstrap: &Config, state: &AdminState) -> Config {
    let mut c = bootstrap.clone();
    c.members.extend(state.members.iter().cloned());
    c.trust_groups.extend(state.trust_groups.iter().cloned());
    c.collections.extend(state.collections.iter().cloned());
    let member_gone = |m: &str| state.removed_members.iter().any(|r| r.id == m);
    let member_off = |m: &str| member_gone(m) || state.disabled_members.iter().any(|d| d == m);
    let group_gone = |g: &str| state.removed_trust_groups.iter().any(|r| r == g);
    c.members.retain(|m| !member_gone(&m.id));
    c.trust_groups.retain(|g| !group_gone(&g.id));
    c.collections.retain(|col| {
        !state
            .removed_collections
            .contains(&col.id.to_ascii_lowercase())
    });
    for col in &mut c.collections {
        if let Some(g) = state
            .collection_grants
            .iter()
            .find(|g| g.id.eq_ignore_ascii_case(&col.id))
        {
            col.read.clone_from(&g.read);
            col.write.clone_from(&g.write);
            col.red_recipients.clone_from(&g.red_recipients);
        }
        for list in [&mut col.read, &mut col.write, &mut col.red_recipients] {
            list.retain(|p| !member_gone(p) && !group_gone(p));
        }
        if col.trust_group.as_deref().is_some_and(group_gone) {
            col.trust_group = None;
        }
    }
    for g in &mut c.trust_groups {
        g.members.retain(|m| !member_gone(m));
    }
    c.users.retain(|u| {
        !state.removed_users.contains(&u.name)
            && !state.users.iter().any(|m| m.name == u.name)
            && !member_off(&u.member)
    });
    c.users.extend(
        state
            .users
            .iter()
            .filter(|u| {
                !u.disabled && !state.removed_users.contains(&u.name) && !member_off(&u.member)
            })
            .map(|u| UserConfig {
                name: u.name.clone(),
                member: u.member.clone(),
                role: u.role,
                password_hash: u.password_hash.clone(),
            }),
    );
    c.api_keys
        .retain(|k| !state.api_keys.iter().any(|m| m.id == k.id) && !member_off(&k.member));
    c.api_keys.extend(
        state
            .api_keys
            .iter()
            .filter(|k| !k.revoked && !member_off(&k.member))
            .map(|k| ApiKeyConfig {
                id: k.id.clone(),
                member: k.member.clone(),
                role: k.role,
                digest: k.digest.clone(),
                note: k.note.clone(),
                expires: k.expires.clone(),
            }),
    );
    c.peers.retain(|p| !state.removed_peers.contains(&p.name));
    c.peers.extend(
        state
            .peers
            .iter()
            .filter(|p| !state.removed_peers.contains(&p.name))
            .cloned(),
    );
    c
}

/// [`effective`], checked whole (`source` names it in errors).
pub fn effective_checked(
    bootstrap: &Config,
    state: &AdminState,
    source: &str,
) -> Result<Checked, ConfigError> {
    effective(bootstrap, state).check(source)
}

/// A user as listed (never its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// Login name.
    pub name: String,
    /// Member id.
    pub member: String,
    /// Role.
    pub role: Role,
    /// Whether it is disabled.
    pub disabled: bool,
    /// `file` (the bootstrap configuration) or `admin` (the admin state).
    pub source: &'static str,
}

/// A key as listed (never its digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyView {
    /// Key id.
    pub id: String,
    /// Member id.
    pub member: String,
    /// Role.
    pub role: Role,
    /// What it is for.
    pub note: Option<String>,
    /// When it stops working.
    pub expires: Option<String>,
    /// Whether it is revoked.
    pub revoked: bool,
    /// Whether it has expired at `now_us`.
    pub expired: bool,
    /// `file` or `admin`.
    pub source: &'static str,
}

/// Every user known, removed ones excepted, in file then admin order.
pub fn users(bootstrap: &Config, state: &AdminState) -> Vec<UserView> {
    let gone = |m: &str| state.removed_members.iter().any(|r| r.id == m);
    let mut out: Vec<UserView> = bootstrap
        .users
        .iter()
        .filter(|u| {
            !state.removed_users.contains(&u.name)
                && !state.users.iter().any(|m| m.name == u.name)
                && !gone(&u.member)
        })
        .map(|u| UserView {
            name: u.name.clone(),
            member: u.member.clone(),
            role: u.role,
            disabled: false,
            source: "file",
        })
        .collect();
    out.extend(
        state
            .users
            .iter()
            .filter(|u| !state.removed_users.contains(&u.name) && !gone(&u.member))
            .map(|u| UserView {
                name: u.name.clone(),
                member: u.member.clone(),
                role: u.role,
                disabled: u.disabled,
                source: if bootstrap.users.iter().any(|b| b.name == u.name) {
                    "file"
                } else {
                    "admin"
                },
            }),
    );
    out
}

/// Every key known (revoked ones included), with whether it has expired at `now_us`.
pub fn keys(bootstrap: &Config, state: &AdminState, now_us: i64) -> Vec<KeyView> {
    let expired = |e: &Option<String>| {
        e.as_deref()
            .and_then(crate::timestamps::parse_us)
            .is_some_and(|t| t <= now_us)
    };
    let gone = |m: &str| state.removed_members.iter().any(|r| r.id == m);
    let mut out: Vec<KeyView> = bootstrap
        .api_keys
        .iter()
        .filter(|k| !state.api_keys.iter().any(|m| m.id == k.id) && !gone(&k.member))
        .map(|k| KeyView {
            id: k.id.clone(),
            member: k.member.clone(),
            role: k.role,
            note: k.note.clone(),
            expires: k.expires.clone(),
            revoked: false,
            expired: expired(&k.expires),
            source: "file",
        })
        .collect();
    out.extend(
        state
            .api_keys
            .iter()
            .filter(|k| !gone(&k.member))
            .map(|k| KeyView {
                id: k.id.clone(),
                member: k.member.clone(),
                role: k.role,
                note: k.note.clone(),
                expires: k.expires.clone(),
                revoked: k.revoked,
                expired: expired(&k.expires),
                source: if bootstrap.api_keys.iter().any(|b| b.id == k.id) {
                    "file"
                } else {
                    "admin"
                },
            }),
    );
    out
}

/// A member as listed.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    /// The member.
    #[serde(flatten)]
    pub member: MemberConfig,
    /// Whether it is disabled (its users and keys refused).
    pub disabled: bool,
    /// `file` or `admin`.
    pub source: &'static str,
}

/// Every member (removed ones excepted), with whether it is disabled, in file then admin order.
pub fn members(bootstrap: &Config, state: &AdminState) -> Vec<MemberView> {
    effective(bootstrap, state)
        .members
        .into_iter()
        .map(|m| MemberView {
            disabled: state.disabled_members.contains(&m.id),
            source: if bootstrap.members.iter().any(|b| b.id == m.id) {
                "file"
            } else {
                "admin"
            },
            member: m,
        })
        .collect()
}

/// How many admin accounts (users and API keys) the configuration lets in.
fn admin_accounts(c: &Config) -> usize {
    c.users.iter().filter(|u| u.role == Role::Admin).count()
        + c.api_keys.iter().filter(|k| k.role == Role::Admin).count()
}

/// The user named `name` as the state would hold it (a file user copied in), if any.
fn managed_user(bootstrap: &Config, state: &AdminState, name: &str) -> Option<ManagedUser> {
    if state.removed_users.iter().any(|n| n == name) {
        return None;
    }
    if let Some(u) = state.users.iter().find(|u| u.name == name) {
        return Some(u.clone());
    }
    bootstrap
        .users
        .iter()
        .find(|u| u.name == name)
        .map(|u| ManagedUser {
            name: u.name.clone(),
            member: u.member.clone(),
            role: u.role,
            password_hash: u.password_hash.clone(),
            disabled: false,
        })
}

fn put_user(state: &mut AdminState, user: ManagedUser) {
    match state.users.iter_mut().find(|u| u.name == user.name) {
        Some(slot) => *slot = user,
        None => state.users.push(user),
    }
}

fn managed_key(bootstrap: &Config, state: &AdminState, id: &str) -> Option<ManagedKey> {
    if let Some(k) = state.api_keys.iter().find(|k| k.id == id) {
        return Some(k.clone());
    }
    bootstrap
        .api_keys
        .iter()
        .find(|k| k.id == id)
        .map(|k| ManagedKey {
            id: k.id.clone(),
            member: k.member.clone(),
            role: k.role,
            digest: k.digest.clone(),
            note: k.note.clone(),
            expires: k.expires.clone(),
            revoked: false,
        })
}

fn put_key(state: &mut AdminState, key: ManagedKey) {
    match state.api_keys.iter_mut().find(|k| k.id == key.id) {
        Some(slot) => *slot = key,
        None => state.api_keys.push(key),
    }
}

/// Applies `change` to `state` over `bootstrap`: the new state, or why not (the state is then
/// unchanged). The new effective configuration passes [`Config::check`].
pub fn apply(
    bootstrap: &Config,
    state: &AdminState,
    change: &Change,
) -> Result<AdminState, AdminError> {
    let current = effective(bootstrap, state);
    let mut next = state.clone();
    let removed_member = |m: &str| {
        if state.removed_members.iter().any(|r| r.id == m) {
            Err(AdminError::Invalid(format!(
                "no member `{m}` (it was removed)"
            )))
        } else {
            Ok(())
        }
    };
    match change {
        Change::AddMember(m) => {
            if current.members.iter().any(|x| x.id == m.id) {
                return Err(AdminError::Conflict(format!("member `{}` exists", m.id)));
            }
            if let Some(r) = state
                .removed_members
                .iter()
                .find(|r| r.id == m.id || r.identity.eq_ignore_ascii_case(&m.identity))
            {
                return Err(AdminError::Conflict(format!(
                    "member `{}` ({}) was removed: its id and identity are not given again, \
                     so that no one inherits the objects it produced",
                    r.id, r.identity
                )));
            }
            next.members.push(m.clone());
        }
        Change::AddUser(u) => {
            removed_member(&u.member)?;
            if managed_user(bootstrap, state, &u.name).is_some() {
                return Err(AdminError::Conflict(format!("user `{}` exists", u.name)));
            }
            // A name removed before may be given again.
            next.removed_users.retain(|n| n != &u.name);
            put_user(
                &mut next,
                ManagedUser {
                    name: u.name.clone(),
                    member: u.member.clone(),
                    role: u.role,
                    password_hash: u.password_hash.clone(),
                    disabled: false,
                },
            );
        }
        Change::SetUserDisabled { name, disabled } => {
            let mut u = managed_user(bootstrap, state, name)
                .ok_or_else(|| AdminError::NotFound(format!("no user `{name}`")))?;
            u.disabled = *disabled;
            put_user(&mut next, u);
        }
        Change::RemoveUser(name) => {
            if managed_user(bootstrap, state, name).is_none() {
                return Err(AdminError::NotFound(format!("no user `{name}`")));
            }
            next.users.retain(|u| &u.name != name);
            if bootstrap.users.iter().any(|u| &u.name == name) {
                next.removed_users.push(name.clone());
            }
        }
        Change::SetPassword {
            name,
            password_hash,
        } => {
            let mut u = managed_user(bootstrap, state, name)
                .ok_or_else(|| AdminError::NotFound(format!("no user `{name}`")))?;
            u.password_hash.clone_from(password_hash);
            put_user(&mut next, u);
        }
        Change::AddKey(k) => {
            removed_member(&k.member)?;
            if managed_key(bootstrap, state, &k.id).is_some() {
                return Err(AdminError::Conflict(format!(
                    "key `{}` exists (revoked keys keep their id)",
                    k.id
                )));
            }
            put_key(
                &mut next,
                ManagedKey {
                    id: k.id.clone(),
                    member: k.member.clone(),
                    role: k.role,
                    digest: k.digest.clone(),
                    note: k.note.clone(),
                    expires: k.expires.clone(),
                    revoked: false,
                },
            );
        }
        Change::RevokeKey(id) => {
            let mut k = managed_key(bootstrap, state, id)
                .ok_or_else(|| AdminError::NotFound(format!("no key `{id}`")))?;
            k.revoked = true;
            put_key(&mut next, k);
        }
        Change::RotateKey { id, digest } => {
            let mut k = managed_key(bootstrap, state, id)
                .ok_or_else(|| AdminError::NotFound(format!("no key `{id}`")))?;
            if k.revoked {
                return Err(AdminError::Conflict(format!(
                    "key `{id}` is revoked: issue a new key"
                )));
            }
            k.digest.clone_from(digest);
            put_key(&mut next, k);
        }
        Change::AddTrustGroup(g) => {
            if current.trust_groups.iter().any(|x| x.id == g.id) {
                return Err(AdminError::Conflict(format!(
                    "trust group `{}` exists",
                    g.id
                )));
            }
            if state.removed_trust_groups.contains(&g.id) {
                return Err(AdminError::Conflict(format!(
                    "trust group `{}` was removed: its id is not given again",
                    g.id
                )));
            }
            next.trust_groups.push(g.clone());
        }
        Change::AddCollection(c) => {
            if current
                .collections
                .iter()
                .any(|x| x.id.eq_ignore_ascii_case(&c.id))
            {
                return Err(AdminError::Conflict(format!(
                    "collection `{}` exists",
                    c.id
                )));
            }
            if let Some(a) = &c.alias
                && current
                    .collections
                    .iter()
                    .any(|x| x.alias.as_deref() == Some(a.as_str()))
            {
                return Err(AdminError::Conflict(format!("alias `{a}` is taken")));
            }
            next.collections.push(c.clone());
        }
        Change::AddPeer(p) => {
            if p.password.is_some() || p.token.is_some() {
                return Err(AdminError::Invalid(
                    "a peer added by the administration names its secret by environment variable \
                     (password_env, token_env): the admin state holds no secret"
                        .into(),
                ));
            }
            if [&p.ca_cert, &p.client_cert, &p.client_key]
                .into_iter()
                .flatten()
                .any(|f| f.is_relative())
            {
                return Err(AdminError::Invalid(
                    "a peer's certificate and key paths must be absolute".into(),
                ));
            }
            if current.peers.iter().any(|x| x.name == p.name) {
                return Err(AdminError::Conflict(format!("peer `{}` exists", p.name)));
            }
            next.removed_peers.retain(|n| n != &p.name);
            next.peers.push(p.clone());
        }
        Change::RemovePeer(name) => {
            if !current.peers.iter().any(|x| &x.name == name) {
                return Err(AdminError::NotFound(format!("no peer `{name}`")));
            }
            next.peers.retain(|p| &p.name != name);
            if bootstrap.peers.iter().any(|p| &p.name == name) {
                next.removed_peers.push(name.clone());
            }
        }
        Change::RemoveMember(id) => {
            let m = current
                .members
                .iter()
                .find(|m| &m.id == id)
                .ok_or_else(|| AdminError::NotFound(format!("no member `{id}`")))?;
            operates_node(&current, id)?;
            if let Some(p) = current.peers.iter().find(|p| &p.member == id) {
                return Err(AdminError::Conflict(format!(
                    "member `{id}` operates peer `{}`: remove the peer first",
                    p.name
                )));
            }
            next.removed_members.push(RemovedMember {
                id: id.clone(),
                identity: m.identity.clone(),
            });
            next.members.retain(|m| &m.id != id);
            next.disabled_members.retain(|m| m != id);
            for u in bootstrap.users.iter().filter(|u| &u.member == id) {
                if !next.removed_users.contains(&u.name) {
                    next.removed_users.push(u.name.clone());
                }
            }
            next.users.retain(|u| &u.member != id);
            next.api_keys.retain(|k| &k.member != id);
            for g in &mut next.trust_groups {
                g.members.retain(|m| m != id);
            }
            for c in &mut next.collections {
                for list in [&mut c.read, &mut c.write, &mut c.red_recipients] {
                    list.retain(|p| p != id);
                }
            }
            for c in &mut next.collection_grants {
                for list in [&mut c.read, &mut c.write, &mut c.red_recipients] {
                    list.retain(|p| p != id);
                }
            }
        }
        Change::SetMemberDisabled { id, disabled } => {
            if !current.members.iter().any(|m| &m.id == id) {
                return Err(AdminError::NotFound(format!("no member `{id}`")));
            }
            if *disabled {
                operates_node(&current, id)?;
                if !next.disabled_members.contains(id) {
                    next.disabled_members.push(id.clone());
                }
            } else {
                next.disabled_members.retain(|m| m != id);
            }
        }
        Change::RemoveTrustGroup(id) => {
            if !current.trust_groups.iter().any(|g| &g.id == id) {
                return Err(AdminError::NotFound(format!("no trust group `{id}`")));
            }
            next.trust_groups.retain(|g| &g.id != id);
            next.removed_trust_groups.push(id.clone());
            for c in &mut next.collections {
                for list in [&mut c.read, &mut c.write, &mut c.red_recipients] {
                    list.retain(|p| p != id);
                }
                if c.trust_group.as_ref() == Some(id) {
                    c.trust_group = None;
                }
            }
            for c in &mut next.collection_grants {
                for list in [&mut c.read, &mut c.write, &mut c.red_recipients] {
                    list.retain(|p| p != id);
                }
            }
        }
        Change::RemoveCollection(id) => {
            let id = id.to_ascii_lowercase();
            if !current
                .collections
                .iter()
                .any(|c| c.id.eq_ignore_ascii_case(&id))
            {
                return Err(AdminError::NotFound(format!("no collection `{id}`")));
            }
            if let Some(p) = current.peers.iter().find(|p| {
                p.collections
                    .iter()
                    .any(|m| m.local.eq_ignore_ascii_case(&id))
            }) {
                return Err(AdminError::Conflict(format!(
                    "peer `{}` syncs collection `{id}`: remove the peer first",
                    p.name
                )));
            }
            next.collections.retain(|c| !c.id.eq_ignore_ascii_case(&id));
            next.collection_grants
                .retain(|g| !g.id.eq_ignore_ascii_case(&id));
            if bootstrap
                .collections
                .iter()
                .any(|c| c.id.eq_ignore_ascii_case(&id))
            {
                next.removed_collections.push(id);
            }
        }
        Change::SetCollectionGrants(g) => {
            let id = g.id.to_ascii_lowercase();
            if !current
                .collections
                .iter()
                .any(|c| c.id.eq_ignore_ascii_case(&id))
            {
                return Err(AdminError::NotFound(format!("no collection `{id}`")));
            }
            let g = CollectionGrants {
                id: id.clone(),
                ..g.clone()
            };
            match next
                .collection_grants
                .iter_mut()
                .find(|x| x.id.eq_ignore_ascii_case(&id))
            {
                Some(slot) => *slot = g,
                None => next.collection_grants.push(g),
            }
        }
    }
    let after = effective(bootstrap, &next);
    if admin_accounts(&current) > 0 && admin_accounts(&after) == 0 {
        return Err(AdminError::Conflict(
            "this would leave the node without an admin user or API key: add or enable another \
             admin account first"
                .into(),
        ));
    }
    effective_checked(bootstrap, &next, "admin change")?;
    Ok(next)
}

/// Refuses to remove or disable the member that operates the node (`[sync] member`).
fn operates_node(current: &Config, id: &str) -> Result<(), AdminError> {
    if current.sync.member.as_deref() == Some(id) {
        return Err(AdminError::Conflict(format!(
            "member `{id}` operates this node ([sync] member): it cannot be removed or disabled"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FILE: &str = r#"
[server]
data_dir = "/tmp/x"
[[api_roots]]
name = "api"
title = "API"
default = true
[[members]]
id = "a"
name = "A"
identity = "identity--00000001-0000-4000-8000-000000000000"
[[users]]
name = "alice"
member = "a"
role = "admin"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
[[users]]
name = "root"
member = "a"
role = "admin"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
[[api_keys]]
id = "feed"
member = "a"
role = "reader"
digest = "0000000000000000000000000000000000000000000000000000000000000000"
"#;

    fn file() -> Config {
        Config::from_toml(FILE, "t", &[]).unwrap().config
    }

    #[test]
    fn file_users_and_keys_are_disabled_and_revoked_through_the_state() {
        let boot = file();
        let s0 = AdminState::default();
        let s1 = apply(
            &boot,
            &s0,
            &Change::SetUserDisabled {
                name: "alice".into(),
                disabled: true,
            },
        )
        .unwrap();
        assert_eq!(effective(&boot, &s1).users.len(), 1);
        assert!(
            users(&boot, &s1)
                .iter()
                .any(|u| u.name == "alice" && u.disabled)
        );
        let s2 = apply(&boot, &s1, &Change::RevokeKey("feed".into())).unwrap();
        assert!(effective(&boot, &s2).api_keys.is_empty());
        assert!(keys(&boot, &s2, 0)[0].revoked);
        assert!(matches!(
            apply(&boot, &s2, &Change::RotateKey {
                id: "feed".into(),
                digest: "1".repeat(64)
            }),
            Err(AdminError::Conflict(ref m)) if m == "key `feed` is revoked: issue a new key"
        ));
        let s3 = apply(&boot, &s2, &Change::RemoveUser("alice".into())).unwrap();
        assert_eq!(users(&boot, &s3).len(), 1);
        assert!(matches!(
            apply(&boot, &s3, &Change::RemoveUser("alice".into())),
            Err(AdminError::NotFound(_))
        ));
    }

    #[test]
    fn a_change_that_breaks_the_configuration_is_refused() {
        let boot = file();
        let s0 = AdminState::default();
        let e = apply(
            &boot,
            &s0,
            &Change::AddUser(UserConfig {
                name: "bob".into(),
                member: "nobody".into(),
                role: Role::Reader,
                password_hash: boot.users[0].password_hash.clone(),
            }),
        )
        .unwrap_err();
        assert!(
            matches!(e, AdminError::Invalid(ref m) if m.contains("no member `nobody`")),
            "{e}"
        );
        let e = apply(
            &boot,
            &s0,
            &Change::AddKey(ApiKeyConfig {
                id: "k".into(),
                member: "a".into(),
                role: Role::Reader,
                digest: "0".repeat(64),
                note: None,
                expires: Some("tomorrow".into()),
            }),
        )
        .unwrap_err();
        assert!(
            matches!(e, AdminError::Invalid(ref m) if m.contains("expires")),
            "{e}"
        );
        assert!(matches!(
            apply(
                &boot,
                &s0,
                &Change::AddKey(ApiKeyConfig {
                    id: "feed".into(),
                    member: "a".into(),
                    role: Role::Reader,
                    digest: "0".repeat(64),
                    note: None,
                    expires: None,
                })
            ),
            Err(AdminError::Conflict(_))
        ));
    }

    #[test]
    fn the_state_round_trips_as_json() {
        let boot = file();
        let s = apply(
            &boot,
            &AdminState::default(),
            &Change::AddTrustGroup(TrustGroupConfig {
                id: "tg".into(),
                members: vec!["a".into()],
                description: None,
            }),
        )
        .unwrap();
        let text = serde_json::to_string(&s).unwrap();
        let back: AdminState = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        assert_eq!(back.trust_groups[0].id, "tg");
    }

    const TWO: &str = r#"
[[members]]
id = "b"
name = "B"
identity = "identity--00000002-0000-4000-8000-000000000000"
[[users]]
name = "bob"
member = "b"
role = "contributor"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
[[api_keys]]
id = "bkey"
member = "b"
role = "reader"
digest = "1111111111111111111111111111111111111111111111111111111111111111"
[[trust_groups]]
id = "tg"
members = ["a", "b"]
[[collections]]
id = "00000000-0000-4000-8000-0000000000c1"
api_root = "api"
title = "C"
trust_group = "tg"
read = ["b", "tg"]
write = ["b"]
red_recipients = ["b"]
"#;

    fn two() -> Config {
        Config::from_toml(&format!("{FILE}{TWO}"), "t", &[])
            .unwrap()
            .config
    }

    #[test]
    fn a_removed_member_goes_with_its_accounts_and_grants_and_its_id_is_not_given_again() {
        let boot = two();
        let s = apply(
            &boot,
            &AdminState::default(),
            &Change::RemoveMember("b".into()),
        )
        .unwrap();
        let e = effective(&boot, &s);
        assert!(e.members.iter().all(|m| m.id != "b"));
        assert!(e.users.iter().all(|u| u.member != "b"));
        assert!(e.api_keys.iter().all(|k| k.member != "b"));
        assert_eq!(e.trust_groups[0].members, vec!["a".to_string()]);
        let c = &e.collections[0];
        assert_eq!(c.read, vec!["tg".to_string()]);
        assert!(c.write.is_empty() && c.red_recipients.is_empty());
        assert!(users(&boot, &s).iter().all(|u| u.member != "b"));
        assert!(keys(&boot, &s, 0).iter().all(|k| k.member != "b"));
        // Neither its id nor its identity comes back: nobody inherits what it produced.
        for (id, identity) in [
            ("b", "identity--00000009-0000-4000-8000-000000000000"),
            ("b2", "identity--00000002-0000-4000-8000-000000000000"),
        ] {
            let again = Change::AddMember(MemberConfig {
                id: id.into(),
                name: "again".into(),
                identity: identity.into(),
                country: None,
                sectors: vec![],
            });
            assert!(matches!(
                apply(&boot, &s, &again),
                Err(AdminError::Conflict(_))
            ));
        }
        assert!(matches!(
            apply(&boot, &s, &Change::RemoveMember("b".into())),
            Err(AdminError::NotFound(_))
        ));
        assert!(matches!(
            apply(
                &boot,
                &s,
                &Change::AddUser(UserConfig {
                    name: "bob2".into(),
                    member: "b".into(),
                    role: Role::Reader,
                    password_hash: boot.users[0].password_hash.clone(),
                })
            ),
            Err(AdminError::Invalid(_))
        ));
    }

    #[test]
    fn a_disabled_member_keeps_its_place_but_not_its_accounts() {
        let boot = two();
        let off = Change::SetMemberDisabled {
            id: "b".into(),
            disabled: true,
        };
        let s = apply(&boot, &AdminState::default(), &off).unwrap();
        let e = effective(&boot, &s);
        assert!(e.members.iter().any(|m| m.id == "b"));
        assert!(e.users.iter().all(|u| u.member != "b"));
        assert!(e.api_keys.iter().all(|k| k.member != "b"));
        assert_eq!(e.collections[0].write, vec!["b".to_string()]);
        assert!(
            members(&boot, &s)
                .iter()
                .any(|m| m.member.id == "b" && m.disabled)
        );
        let on = Change::SetMemberDisabled {
            id: "b".into(),
            disabled: false,
        };
        let s = apply(&boot, &s, &on).unwrap();
        assert!(effective(&boot, &s).users.iter().any(|u| u.name == "bob"));
        assert!(matches!(
            apply(
                &boot,
                &s,
                &Change::SetMemberDisabled {
                    id: "zz".into(),
                    disabled: true
                }
            ),
            Err(AdminError::NotFound(_))
        ));
    }

    #[test]
    fn nobody_locks_the_node_out() {
        let mut boot = two();
        // The last admin accounts' member can be neither removed nor disabled, nor both users removed.
        for c in [
            Change::RemoveMember("a".into()),
            Change::SetMemberDisabled {
                id: "a".into(),
                disabled: true,
            },
        ] {
            let e = apply(&boot, &AdminState::default(), &c).unwrap_err();
            assert!(
                matches!(e, AdminError::Conflict(ref m) if m.contains("without an admin")),
                "{e}"
            );
        }
        let s = apply(
            &boot,
            &AdminState::default(),
            &Change::RemoveUser("root".into()),
        )
        .unwrap();
        assert!(matches!(
            apply(&boot, &s, &Change::RemoveUser("alice".into())),
            Err(AdminError::Conflict(_))
        ));
        assert!(matches!(
            apply(
                &boot,
                &s,
                &Change::SetUserDisabled {
                    name: "alice".into(),
                    disabled: true
                }
            ),
            Err(AdminError::Conflict(_))
        ));
        // The member operating the node stays.
        boot.sync.member = Some("b".into());
        for c in [
            Change::RemoveMember("b".into()),
            Change::SetMemberDisabled {
                id: "b".into(),
                disabled: true,
            },
        ] {
            let e = apply(&boot, &AdminState::default(), &c).unwrap_err();
            assert!(
                matches!(e, AdminError::Conflict(ref m) if m.contains("operates this node")),
                "{e}"
            );
        }
    }

    #[test]
    fn trust_groups_and_collections_are_removed_and_grants_changed() {
        let boot = two();
        let s = apply(
            &boot,
            &AdminState::default(),
            &Change::RemoveTrustGroup("tg".into()),
        )
        .unwrap();
        let e = effective(&boot, &s);
        assert!(e.trust_groups.is_empty());
        assert_eq!(e.collections[0].read, vec!["b".to_string()]);
        assert_eq!(e.collections[0].trust_group, None);
        assert!(matches!(
            apply(
                &boot,
                &s,
                &Change::AddTrustGroup(TrustGroupConfig {
                    id: "tg".into(),
                    members: vec![],
                    description: None
                })
            ),
            Err(AdminError::Conflict(_))
        ));
        let id = "00000000-0000-4000-8000-0000000000C1";
        let g = CollectionGrants {
            id: id.into(),
            read: vec!["a".into()],
            write: vec![],
            red_recipients: vec!["a".into()],
        };
        let s = apply(&boot, &s, &Change::SetCollectionGrants(g.clone())).unwrap();
        let c = &effective(&boot, &s).collections[0];
        assert_eq!(
            (c.read.clone(), c.write.clone()),
            (vec!["a".to_string()], vec![])
        );
        let bad = CollectionGrants {
            red_recipients: vec!["*".into()],
            ..g.clone()
        };
        assert!(matches!(
            apply(&boot, &s, &Change::SetCollectionGrants(bad)),
            Err(AdminError::Invalid(_))
        ));
        let unknown = CollectionGrants {
            read: vec!["nobody".into()],
            ..g.clone()
        };
        assert!(matches!(
            apply(&boot, &s, &Change::SetCollectionGrants(unknown)),
            Err(AdminError::Invalid(_))
        ));
        let s = apply(&boot, &s, &Change::RemoveCollection(id.into())).unwrap();
        assert!(effective(&boot, &s).collections.is_empty());
        assert!(matches!(
            apply(&boot, &s, &Change::SetCollectionGrants(g)),
            Err(AdminError::NotFound(_))
        ));
        assert!(matches!(
            apply(&boot, &s, &Change::RemoveCollection(id.into())),
            Err(AdminError::NotFound(_))
        ));
    }
}
