//! The coalition as this node knows it: members, trust groups, API roots, collections with their
//! grants expanded to member sets, users and API keys — resolved once from the checked
//! configuration, read-only afterwards.

use std::collections::{BTreeSet, HashMap};

use stix::tlp::TlpLevel;

use crate::config::{Checked, Role};

/// Who a grant names, after trust groups are expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Every member (`*`).
    Everyone,
    /// These member ids.
    Members(BTreeSet<String>),
}

impl Grant {
    /// Whether the grant names `member`.
    pub fn includes(&self, member: &str) -> bool {
        match self {
            Grant::Everyone => true,
            Grant::Members(m) => m.contains(member),
        }
    }
}

/// A member organisation.
#[derive(Debug, Clone)]
pub struct Member {
    /// Short id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// STIX identity id.
    pub identity: String,
    /// Country code.
    pub country: Option<String>,
    /// Sectors.
    pub sectors: Vec<String>,
}

/// A collection with its grants expanded.
#[derive(Debug, Clone)]
pub struct Collection {
    /// TAXII id (lower-case UUID).
    pub id: String,
    /// API root name.
    pub api_root: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Alias.
    pub alias: Option<String>,
    /// Trust group id.
    pub trust_group: Option<String>,
    /// Readers.
    pub read: Grant,
    /// Writers.
    pub write: Grant,
    /// Members that see TLP:RED objects besides the producer.
    pub red_recipients: BTreeSet<String>,
}

/// An API root.
#[derive(Debug, Clone)]
pub struct ApiRoot {
    /// Path segment.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Default root.
    pub default: bool,
}

/// A user who logs in with a password.
#[derive(Debug, Clone)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Member id.
    pub member: String,
    /// Role.
    pub role: Role,
    /// Argon2 PHC string.
    pub password_hash: String,
}

/// A bearer API key (its digest).
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// Public key id.
    pub id: String,
    /// Member id.
    pub member: String,
    /// Role.
    pub role: Role,
    /// SHA-256 of the whole token.
    pub digest: [u8; 32],
    /// When the key stops working (microseconds since the epoch), if ever.
    pub expires_us: Option<i64>,
}

/// The resolved coalition.
#[derive(Debug, Clone)]
pub struct Coalition {
    /// Members by id.
    pub members: HashMap<String, Member>,
    /// Trust groups: id → member ids.
    pub trust_groups: HashMap<String, BTreeSet<String>>,
    /// API roots in configuration order.
    pub api_roots: Vec<ApiRoot>,
    /// Collections in configuration order.
    pub collections: Vec<Collection>,
    /// Users by name.
    pub users: HashMap<String, User>,
    /// API keys by id.
    pub api_keys: HashMap<String, ApiKey>,
    /// TLP of unmarked objects.
    pub default_tlp: TlpLevel,
    /// The member that operates this node (`[sync] member`).
    pub node_member: Option<String>,
    /// Peers that push to this node: their user name or key id → (peer name, peer's member).
    pub inbound_peers: HashMap<String, (String, String)>,
    pub(crate) identity_to_member: HashMap<String, String>,
}

impl Coalition {
    /// Resolves a checked configuration (every reference in it is known to exist).
    pub fn from_config(checked: &Checked) -> Coalition {
        let c = &checked.config;
        let trust_groups: HashMap<String, BTreeSet<String>> = c
            .trust_groups
            .iter()
            .map(|g| (g.id.clone(), g.members.iter().cloned().collect()))
            .collect();
        let expand = |names: &[String]| -> Grant {
            if names.iter().any(|n| n == "*") {
                return Grant::Everyone;
            }
            let mut set = BTreeSet::new();
            for n in names {
                match trust_groups.get(n) {
                    Some(members) => set.extend(members.iter().cloned()),
                    None => {
                        set.insert(n.clone());
                    }
                }
            }
            Grant::Members(set)
        };
        let collections = c
            .collections
            .iter()
            .map(|col| Collection {
                id: col.id.to_ascii_lowercase(),
                api_root: col.api_root.clone(),
                title: col.title.clone(),
                description: col.description.clone(),
                alias: col.alias.clone(),
                trust_group: col.trust_group.clone(),
                read: expand(&col.read),
                write: expand(&col.write),
                red_recipients: match expand(&col.red_recipients) {
                    Grant::Members(m) => m,
                    Grant::Everyone => BTreeSet::new(), // refused by the configuration check
                },
            })
            .collect();
        let digest = |hex: &str| -> [u8; 32] {
            let mut out = [0u8; 32];
            for (i, b) in out.iter_mut().enumerate() {
                *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
            out
        };
        Coalition {
            members: c
                .members
                .iter()
                .map(|m| {
                    (
                        m.id.clone(),
                        Member {
                            id: m.id.clone(),
                            name: m.name.clone(),
                            identity: m.identity.clone(),
                            country: m.country.clone(),
                            sectors: m.sectors.clone(),
                        },
                    )
                })
                .collect(),
            identity_to_member: c
                .members
                .iter()
                .map(|m| (m.identity.to_ascii_lowercase(), m.id.clone()))
                .collect(),
            trust_groups,
            api_roots: c
                .api_roots
                .iter()
                .map(|r| ApiRoot {
                    name: r.name.clone(),
                    title: r.title.clone(),
                    description: r.description.clone(),
                    default: r.default,
                })
                .collect(),
            collections,
            users: c
                .users
                .iter()
                .map(|u| {
                    (
                        u.name.clone(),
                        User {
                            name: u.name.clone(),
                            member: u.member.clone(),
                            role: u.role,
                            password_hash: u.password_hash.clone(),
                        },
                    )
                })
                .collect(),
            api_keys: c
                .api_keys
                .iter()
                .map(|k| {
                    (
                        k.id.clone(),
                        ApiKey {
                            id: k.id.clone(),
                            member: k.member.clone(),
                            role: k.role,
                            digest: digest(&k.digest),
                            expires_us: k.expires.as_deref().and_then(crate::timestamps::parse_us),
                        },
                    )
                })
                .collect(),
            default_tlp: checked.default_tlp,
            node_member: c.sync.member.clone(),
            inbound_peers: c
                .peers
                .iter()
                .filter_map(|p| {
                    p.inbound_actor
                        .as_ref()
                        .map(|a| (a.clone(), (p.name.clone(), p.member.clone())))
                })
                .collect(),
        }
    }

    /// A coalition holding only what the policy reads (property tests build random ones).
    pub fn for_policy(
        collections: Vec<Collection>,
        trust_groups: HashMap<String, BTreeSet<String>>,
        default_tlp: TlpLevel,
        node_member: Option<String>,
    ) -> Coalition {
        Coalition {
            members: HashMap::new(),
            trust_groups,
            api_roots: Vec::new(),
            collections,
            users: HashMap::new(),
            api_keys: HashMap::new(),
            default_tlp,
            node_member,
            inbound_peers: HashMap::new(),
            identity_to_member: HashMap::new(),
        }
    }

    /// The peer (name, member) whose node account is `actor` (a user name, or `key:ID`).
    pub fn inbound_peer(&self, actor: &str) -> Option<&(String, String)> {
        self.inbound_peers.get(actor).or_else(|| {
            actor
                .strip_prefix("key:")
                .and_then(|id| self.inbound_peers.get(id))
        })
    }

    /// The member whose STIX identity is `identity`, if any. Compared without ASCII case (the
    /// canonical form of a UUID is lower case; ingest refuses others, and this holds anyway).
    pub fn member_by_identity(&self, identity: &str) -> Option<&Member> {
        self.identity_to_member
            .get(&identity.to_ascii_lowercase())
            .and_then(|id| self.members.get(id))
    }

    /// The API root named `name`.
    pub fn api_root(&self, name: &str) -> Option<&ApiRoot> {
        self.api_roots.iter().find(|r| r.name == name)
    }

    /// The collection `id` (case-insensitive UUID) served under API root `root`.
    pub fn collection(&self, root: &str, id: &str) -> Option<&Collection> {
        self.collections
            .iter()
            .find(|c| c.api_root == root && c.id.eq_ignore_ascii_case(id))
    }

    /// Every collection by id, for the policy.
    pub fn collection_by_id(&self, id: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.id == id)
    }
}
