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
//! - a peer removed is a tombstone too.
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
    c.users.retain(|u| {
        !state.removed_users.contains(&u.name) && !state.users.iter().any(|m| m.name == u.name)
    });
    c.users.extend(
        state
            .users
            .iter()
            .filter(|u| !u.disabled && !state.removed_users.contains(&u.name))
            .map(|u| UserConfig {
                name: u.name.clone(),
                member: u.member.clone(),
                role: u.role,
                password_hash: u.password_hash.clone(),
            }),
    );
    c.api_keys
        .retain(|k| !state.api_keys.iter().any(|m| m.id == k.id));
    c.api_keys.extend(
        state
            .api_keys
            .iter()
            .filter(|k| !k.revoked)
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
    let mut out: Vec<UserView> = bootstrap
        .users
        .iter()
        .filter(|u| {
            !state.removed_users.contains(&u.name) && !state.users.iter().any(|m| m.name == u.name)
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
            .filter(|u| !state.removed_users.contains(&u.name))
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
    let mut out: Vec<KeyView> = bootstrap
        .api_keys
        .iter()
        .filter(|k| !state.api_keys.iter().any(|m| m.id == k.id))
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
    out.extend(state.api_keys.iter().map(|k| KeyView {
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
    }));
    out
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
    match change {
        Change::AddMember(m) => {
            if current.members.iter().any(|x| x.id == m.id) {
                return Err(AdminError::Conflict(format!("member `{}` exists", m.id)));
            }
            next.members.push(m.clone());
        }
        Change::AddUser(u) => {
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
    }
    effective_checked(bootstrap, &next, "admin change")?;
    Ok(next)
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
        assert!(effective(&boot, &s1).users.is_empty());
        assert!(users(&boot, &s1)[0].disabled);
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
        assert!(users(&boot, &s3).is_empty());
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
}
