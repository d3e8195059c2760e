//! Who may see what: the access policy (`docs/POLICY.md`) as one pure decision, [`may_see`], and
//! the data a store needs to apply the same rule inside a listing query ([`Pushdown`]).
//!
//! A member M may see a stored version O served from collection C only if M may read C and O's
//! effective TLP (its most restrictive TLP marking among `object_marking_refs` and granular
//! markings, whatever their selectors, or the node default when unmarked) is not RED,
//! or M is O's producer, or M is one of C's RED recipients. A relationship or sighting is visible
//! only when every object it points to is unknown to the node or has at least one version M may
//! see by that rule in some collection (the endpoint's own edges are not followed further).
//!
//! An `admin` reads and writes every collection, but TLP:RED stays bound to producer and
//! recipients: administering a node does not make an organisation a RED recipient.

use stix::tlp::TlpLevel;

use crate::{
    coalition::{Coalition, Collection},
    config::Role,
};

/// An authenticated caller: a member acting through a user or key with a role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The member id.
    pub member: String,
    /// The role of the user or key.
    pub role: Role,
    /// The user name or key id, for logs and provenance.
    pub actor: String,
}

/// What the policy needs to know about one stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFacts {
    /// Effective TLP from the object's markings; `None` when unmarked.
    pub tlp: Option<TlpLevel>,
    /// The member that published this version to the node.
    pub producer: String,
}

/// What the node knows of one object a relationship or sighting points to.
#[derive(Debug, Clone)]
pub enum Endpoint<'a> {
    /// The node holds no version of it.
    Unknown,
    /// Every stored placement of it: a version and a collection holding that version.
    Known(Vec<(&'a VersionFacts, &'a Collection)>),
}

/// Whether the principal may read collection `c` at all.
pub fn can_read(p: &Principal, c: &Collection) -> bool {
    p.role == Role::Admin || c.read.includes(&p.member)
}

/// Whether the principal may add objects to collection `c`.
pub fn can_write(p: &Principal, c: &Collection) -> bool {
    match p.role {
        Role::Admin => true,
        Role::Contributor => c.write.includes(&p.member),
        Role::Reader => false,
    }
}

/// The marking rule alone (no edges): may `p` see version `v` served from `c`?
pub fn marking_allows(
    p: &Principal,
    v: &VersionFacts,
    c: &Collection,
    default_tlp: TlpLevel,
) -> bool {
    if !can_read(p, c) {
        return false;
    }
    match v.tlp.unwrap_or(default_tlp) {
        TlpLevel::Red => v.producer == p.member || c.red_recipients.contains(&p.member),
        TlpLevel::Clear | TlpLevel::Green | TlpLevel::Amber | TlpLevel::AmberStrict => true,
    }
}

/// The access decision: may principal `p` see version `v` served from collection `c`, given what
/// the node knows about the objects `v` points to (empty unless `v` is a relationship or sighting)?
pub fn may_see(
    p: &Principal,
    v: &VersionFacts,
    c: &Collection,
    default_tlp: TlpLevel,
    endpoints: &[Endpoint<'_>],
) -> bool {
    marking_allows(p, v, c, default_tlp)
        && endpoints.iter().all(|e| match e {
            Endpoint::Unknown => true,
            Endpoint::Known(placements) => placements
                .iter()
                .any(|(ev, ec)| marking_allows(p, ev, ec, default_tlp)),
        })
}

/// Why a version is held back from a peer (the "may leave by sync" column of the access policy, `docs/POLICY.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeldBack {
    /// TLP:RED never leaves the node.
    Red,
    /// TLP:AMBER+STRICT leaves only to nodes of the member operating this node.
    AmberStrictOtherMember,
    /// TLP:AMBER (or unmarked, by the node default) leaves only to peers whose member is in the
    /// collection's trust group.
    AmberOutsideTrustGroup,
    /// The version came from this very peer: it is never sent back.
    CameFromPeer,
    /// A relationship or sighting that points to an object held back from the peer.
    EndpointHeldBack,
}

impl HeldBack {
    /// Every reason, in a stable order (for counters).
    pub const ALL: [HeldBack; 5] = [
        HeldBack::Red,
        HeldBack::AmberStrictOtherMember,
        HeldBack::AmberOutsideTrustGroup,
        HeldBack::CameFromPeer,
        HeldBack::EndpointHeldBack,
    ];
    /// A short machine name (metrics labels, `--json`).
    pub fn as_str(self) -> &'static str {
        match self {
            HeldBack::Red => "tlp-red",
            HeldBack::AmberStrictOtherMember => "amber-strict-other-member",
            HeldBack::AmberOutsideTrustGroup => "amber-outside-trust-group",
            HeldBack::CameFromPeer => "came-from-peer",
            HeldBack::EndpointHeldBack => "points-to-held-back-object",
        }
    }
    /// A sentence for people.
    pub fn explain(self) -> &'static str {
        match self {
            HeldBack::Red => "TLP:RED is never synced",
            HeldBack::AmberStrictOtherMember => {
                "TLP:AMBER+STRICT leaves only to nodes operated by this node's own member"
            }
            HeldBack::AmberOutsideTrustGroup => {
                "TLP:AMBER (or unmarked, by the node default) leaves only to peers whose member is in the collection's trust group"
            }
            HeldBack::CameFromPeer => {
                "this version was received from that peer; it is never sent back"
            }
            HeldBack::EndpointHeldBack => {
                "it is a relationship or sighting pointing to an object held back from that peer"
            }
        }
    }
}

/// The peer a version would go to.
#[derive(Debug, Clone, Copy)]
pub struct PeerFacts<'a> {
    /// Peer name (provenance `peer:NAME`).
    pub name: &'a str,
    /// The member operating the peer node.
    pub member: &'a str,
}

/// The egress decision, beside [`may_see`]: may version `v` of collection `c`, received from
/// `source` (`local` or `peer:NAME`), leave this node to `peer`?
pub fn may_leave(
    peer: PeerFacts<'_>,
    v: &VersionFacts,
    source: &str,
    c: &Collection,
    coalition: &Coalition,
) -> Result<(), HeldBack> {
    if source.strip_prefix("peer:") == Some(peer.name) {
        return Err(HeldBack::CameFromPeer);
    }
    match v.tlp.unwrap_or(coalition.default_tlp) {
        TlpLevel::Clear => Ok(()),
        TlpLevel::Green => Ok(()), // every configured peer is operated by a coalition member
        TlpLevel::Amber => {
            let in_group = c
                .trust_group
                .as_ref()
                .and_then(|g| coalition.trust_groups.get(g))
                .is_some_and(|members| members.contains(peer.member));
            if in_group {
                Ok(())
            } else {
                Err(HeldBack::AmberOutsideTrustGroup)
            }
        }
        TlpLevel::AmberStrict => {
            if coalition.node_member.as_deref() == Some(peer.member) {
                Ok(())
            } else {
                Err(HeldBack::AmberStrictOtherMember)
            }
        }
        TlpLevel::Red => Err(HeldBack::Red),
    }
}

/// What a peer node's account `p` may be served (its pull) of version `v` of collection `c`,
/// received from `source`: what `p` may see ([`marking_allows`]) and may leave to `peer`
/// ([`may_leave`]); a relationship or sighting is served only when every endpoint the node knows
/// has a placement that passes both (the endpoint's own provenance aside). The SQL listing
/// restates this when `Pushdown::egress` is set.
pub fn may_serve_to_peer(
    p: &Principal,
    peer: PeerFacts<'_>,
    v: &VersionFacts,
    source: &str,
    c: &Collection,
    coalition: &Coalition,
    endpoints: &[Endpoint<'_>],
) -> bool {
    let d = coalition.default_tlp;
    marking_allows(p, v, c, d)
        && may_leave(peer, v, source, c, coalition).is_ok()
        && endpoints_may_leave(peer, endpoints, coalition, &|ev, ec| {
            marking_allows(p, ev, ec, d)
        })
}

/// The edge rule of egress, shared by push (the `sync` crate), served pull
/// ([`may_serve_to_peer`]) and `sync --explain`: a relationship or sighting may leave to `peer`
/// only when every endpoint the node knows has a placement, in ANY collection, that may leave
/// ([`may_leave`], the endpoint's own provenance aside) and passes `also` (served pull: what the
/// peer's account may see; push: nothing more). `endpoints` must list every placement of each
/// endpoint across the node's collections, not only the edge's own collection.
pub fn endpoints_may_leave(
    peer: PeerFacts<'_>,
    endpoints: &[Endpoint<'_>],
    coalition: &Coalition,
    also: &dyn Fn(&VersionFacts, &Collection) -> bool,
) -> bool {
    endpoints.iter().all(|e| match e {
        Endpoint::Unknown => true,
        Endpoint::Known(placements) => placements
            .iter()
            .any(|(ev, ec)| also(ev, ec) && may_leave(peer, ev, "local", ec, coalition).is_ok()),
    })
}

/// The policy restated as data for a SQL listing: the same rule as [`marking_allows`], with the
/// per-collection parts resolved for one principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushdown {
    /// The principal's member id (producer test).
    pub member: String,
    /// Collections the principal may read; `None` = every collection (admin).
    pub readable: Option<Vec<String>>,
    /// Readable collections where the member is a RED recipient.
    pub red_recipient_of: Vec<String>,
    /// TLP of unmarked objects.
    pub default_tlp: TlpLevel,
    /// When the caller is a peer node (its actor is a peer's `inbound_actor`): the egress rule
    /// ([`may_leave`]) applies on top of the marking rule, so that serving a pull never gives
    /// more than a push would.
    pub egress: Option<Egress>,
}

/// [`may_leave`] resolved for one peer over the coalition's collections, for SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    /// `peer:NAME`: versions received from this peer are never served back to it.
    pub source: String,
    /// Collections whose trust group holds the peer's member (TLP:AMBER may leave from these).
    pub amber_collections: Vec<String>,
    /// Whether the peer is operated by this node's own member (TLP:AMBER+STRICT may leave).
    pub amber_strict: bool,
}

impl Egress {
    /// The egress rule towards `peer`.
    pub fn for_peer(peer: PeerFacts<'_>, coalition: &Coalition) -> Egress {
        Egress {
            source: format!("peer:{}", peer.name),
            amber_collections: coalition
                .collections
                .iter()
                .filter(|c| {
                    c.trust_group
                        .as_ref()
                        .and_then(|g| coalition.trust_groups.get(g))
                        .is_some_and(|members| members.contains(peer.member))
                })
                .map(|c| c.id.clone())
                .collect(),
            amber_strict: coalition.node_member.as_deref() == Some(peer.member),
        }
    }
}

impl Pushdown {
    /// Resolves the rule for `p` over the coalition's collections.
    pub fn for_principal(p: &Principal, coalition: &Coalition) -> Pushdown {
        let readable: Vec<&Collection> = coalition
            .collections
            .iter()
            .filter(|c| can_read(p, c))
            .collect();
        Pushdown {
            member: p.member.clone(),
            readable: (p.role != Role::Admin)
                .then(|| readable.iter().map(|c| c.id.clone()).collect()),
            red_recipient_of: readable
                .iter()
                .filter(|c| c.red_recipients.contains(&p.member))
                .map(|c| c.id.clone())
                .collect(),
            default_tlp: coalition.default_tlp,
            egress: coalition
                .inbound_peer(&p.actor)
                .map(|(name, member)| Egress::for_peer(PeerFacts { name, member }, coalition)),
        }
    }
}

/// The numeric code a store keeps for a TLP level (ordered like the levels).
pub fn tlp_code(level: TlpLevel) -> i64 {
    match level {
        TlpLevel::Clear => 0,
        TlpLevel::Green => 1,
        TlpLevel::Amber => 2,
        TlpLevel::AmberStrict => 3,
        TlpLevel::Red => 4,
    }
}

/// The level of a stored code.
pub fn tlp_from_code(code: i64) -> Option<TlpLevel> {
    TlpLevel::ALL.get(usize::try_from(code).ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coalition::Grant;
    use std::collections::BTreeSet;

    fn coll(id: &str, readers: &[&str], red: &[&str]) -> Collection {
        Collection {
            id: id.into(),
            api_root: "r".into(),
            title: id.into(),
            description: None,
            alias: None,
            trust_group: None,
            read: Grant::Members(readers.iter().map(|s| s.to_string()).collect()),
            write: Grant::Members(BTreeSet::new()),
            red_recipients: red.iter().map(|s| s.to_string()).collect(),
        }
    }
    fn who(member: &str, role: Role) -> Principal {
        Principal {
            member: member.into(),
            role,
            actor: member.into(),
        }
    }
    fn v(tlp: Option<TlpLevel>, producer: &str) -> VersionFacts {
        VersionFacts {
            tlp,
            producer: producer.into(),
        }
    }

    #[test]
    fn the_visibility_table_of_the_policy() {
        let c = coll("c", &["a", "b", "r"], &["r"]);
        let a = who("a", Role::Reader);
        let b = who("b", Role::Contributor);
        let r = who("r", Role::Reader);
        let outsider = who("x", Role::Contributor);
        for level in [
            TlpLevel::Clear,
            TlpLevel::Green,
            TlpLevel::Amber,
            TlpLevel::AmberStrict,
        ] {
            assert!(may_see(&b, &v(Some(level), "a"), &c, TlpLevel::Amber, &[]));
            assert!(!may_see(
                &outsider,
                &v(Some(level), "a"),
                &c,
                TlpLevel::Amber,
                &[]
            ));
        }
        let red = v(Some(TlpLevel::Red), "a");
        assert!(
            may_see(&a, &red, &c, TlpLevel::Amber, &[]),
            "the producer sees its own"
        );
        assert!(
            may_see(&r, &red, &c, TlpLevel::Amber, &[]),
            "RED recipients see it"
        );
        assert!(!may_see(&b, &red, &c, TlpLevel::Amber, &[]));
        // Unmarked objects take the node default.
        assert!(!may_see(&b, &v(None, "a"), &c, TlpLevel::Red, &[]));
        assert!(may_see(&b, &v(None, "a"), &c, TlpLevel::Amber, &[]));
        // An admin reads every collection but is no RED recipient.
        let admin = who("x", Role::Admin);
        assert!(may_see(
            &admin,
            &v(Some(TlpLevel::Green), "a"),
            &c,
            TlpLevel::Amber,
            &[]
        ));
        assert!(!may_see(&admin, &red, &c, TlpLevel::Amber, &[]));
    }

    #[test]
    fn edges_to_hidden_objects_are_hidden() {
        let c = coll("c", &["a", "b"], &[]);
        let b = who("b", Role::Reader);
        let rel = v(Some(TlpLevel::Green), "a");
        let hidden = v(Some(TlpLevel::Red), "a");
        let shown = v(Some(TlpLevel::Green), "a");
        assert!(may_see(&b, &rel, &c, TlpLevel::Amber, &[Endpoint::Unknown]));
        assert!(!may_see(
            &b,
            &rel,
            &c,
            TlpLevel::Amber,
            &[Endpoint::Known(vec![(&hidden, &c)])]
        ));
        assert!(may_see(
            &b,
            &rel,
            &c,
            TlpLevel::Amber,
            &[
                Endpoint::Known(vec![(&hidden, &c), (&shown, &c)]),
                Endpoint::Unknown
            ]
        ));
        // An endpoint only in a collection b cannot read is hidden.
        let other = coll("o", &["a"], &[]);
        assert!(!may_see(
            &b,
            &rel,
            &c,
            TlpLevel::Amber,
            &[Endpoint::Known(vec![(&shown, &other)])]
        ));
    }

    fn coalition_with(default_tlp: TlpLevel, node_member: &str) -> Coalition {
        Coalition {
            members: Default::default(),
            trust_groups: [("tg".to_string(), ["a".to_string(), "b".to_string()].into())].into(),
            api_roots: vec![],
            collections: vec![],
            users: Default::default(),
            api_keys: Default::default(),
            default_tlp,
            node_member: Some(node_member.into()),
            inbound_peers: Default::default(),
            identity_to_member: Default::default(),
        }
    }

    #[test]
    fn the_egress_column_of_the_policy() {
        let co = coalition_with(TlpLevel::Amber, "a");
        let mut c = coll("c", &["a", "b", "x"], &[]);
        c.trust_group = Some("tg".into());
        let to_b = PeerFacts {
            name: "nb",
            member: "b",
        };
        let to_x = PeerFacts {
            name: "nx",
            member: "x",
        };
        let to_a2 = PeerFacts {
            name: "na2",
            member: "a",
        };
        let leave = |p, level| may_leave(p, &v(level, "a"), "local", &c, &co);
        for p in [to_b, to_x, to_a2] {
            assert_eq!(leave(p, Some(TlpLevel::Clear)), Ok(()));
            assert_eq!(leave(p, Some(TlpLevel::Green)), Ok(()));
            assert_eq!(leave(p, Some(TlpLevel::Red)), Err(HeldBack::Red));
        }
        assert_eq!(leave(to_b, Some(TlpLevel::Amber)), Ok(()));
        assert_eq!(leave(to_a2, Some(TlpLevel::Amber)), Ok(()));
        assert_eq!(
            leave(to_x, Some(TlpLevel::Amber)),
            Err(HeldBack::AmberOutsideTrustGroup)
        );
        assert_eq!(
            leave(to_x, None),
            Err(HeldBack::AmberOutsideTrustGroup),
            "unmarked = default AMBER"
        );
        assert_eq!(leave(to_b, None), Ok(()));
        assert_eq!(leave(to_a2, Some(TlpLevel::AmberStrict)), Ok(()));
        assert_eq!(
            leave(to_b, Some(TlpLevel::AmberStrict)),
            Err(HeldBack::AmberStrictOtherMember)
        );
        // A collection without a trust group lets no AMBER out.
        let c2 = coll("c2", &["a"], &[]);
        assert_eq!(
            may_leave(to_b, &v(Some(TlpLevel::Amber), "a"), "local", &c2, &co),
            Err(HeldBack::AmberOutsideTrustGroup)
        );
        // Never back to where it came from, whatever its marking.
        assert_eq!(
            may_leave(to_b, &v(Some(TlpLevel::Clear), "b"), "peer:nb", &c, &co),
            Err(HeldBack::CameFromPeer)
        );
        assert_eq!(
            may_leave(to_x, &v(Some(TlpLevel::Clear), "b"), "peer:nb", &c, &co),
            Ok(())
        );
        // Default GREEN / RED change unmarked objects.
        let red = coalition_with(TlpLevel::Red, "a");
        assert_eq!(
            may_leave(to_b, &v(None, "a"), "local", &c, &red),
            Err(HeldBack::Red)
        );
    }

    #[test]
    fn an_edge_is_held_back_by_its_endpoint_in_another_collection() {
        let co = coalition_with(TlpLevel::Amber, "a");
        let mut shared = coll("shared", &["a", "x"], &[]);
        shared.trust_group = Some("tg".into());
        let other = coll("other", &["a", "x"], &[]); // no trust group: AMBER stays here
        let to_x = PeerFacts {
            name: "nx",
            member: "x",
        };
        let amber = v(Some(TlpLevel::Amber), "a");
        let green = v(Some(TlpLevel::Green), "a");
        let push = |e: &[Endpoint<'_>]| endpoints_may_leave(to_x, e, &co, &|_, _| true);
        assert!(!push(&[Endpoint::Known(vec![(&amber, &other)])]));
        assert!(push(&[Endpoint::Known(vec![(&green, &other)])]));
        assert!(push(&[Endpoint::Unknown]));
        // One placement that may leave, in any collection, lets the edge go.
        assert!(push(&[Endpoint::Known(vec![
            (&amber, &other),
            (&green, &shared)
        ])]));
        assert!(!push(&[
            Endpoint::Known(vec![(&green, &shared)]),
            Endpoint::Known(vec![(&amber, &other)])
        ]));
    }

    #[test]
    fn writers() {
        let mut c = coll("c", &[], &[]);
        c.write = Grant::Members(["a".to_string()].into());
        assert!(can_write(&who("a", Role::Contributor), &c));
        assert!(!can_write(&who("a", Role::Reader), &c));
        assert!(!can_write(&who("b", Role::Contributor), &c));
        assert!(can_write(&who("b", Role::Admin), &c));
        assert!(!can_read(&who("a", Role::Contributor), &c));
    }
}
