//! Who may see what: the access policy of `BRIEF.md` §3 as one pure decision, [`may_see`], and
//! the data a store needs to apply the same rule inside a listing query ([`Pushdown`]).
//!
//! A member M may see a stored version O served from collection C only if M may read C and O's
//! effective TLP (its most restrictive TLP marking, or the node default when unmarked) is not RED,
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
    fn the_table_of_the_brief() {
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
