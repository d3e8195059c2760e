//! The demo coalition of `shieldwall serve --demo`: six members, three trust groups, four
//! collections in two API roots, users with the password `demo`, and generated reports under every
//! TLP level (and unmarked), published by each member where it may write.
//!
//! Ids are UUIDv5 of fixed names, so the demo data is the same on every run.

use serde_json::{Value, json};
use stix::tlp::TlpLevel;

use crate::{
    auth,
    coalition::{Coalition, Collection},
    config::{
        ApiRootConfig, CollectionConfig, Config, MemberConfig, Role, ServerConfig,
        TrustGroupConfig, UserConfig,
    },
    policy::{self, Principal},
    publish::{self, PublishError, PublishLimits, Publisher},
    store::{AnyStore, ListQuery, Store, VersionSelection},
};

const NS: uuid::Uuid = uuid::Uuid::from_u128(0x5f1e_1d00_0000_4000_8000_5348_4945_4c44);

fn id(prefix: &str, name: &str) -> String {
    format!("{prefix}--{}", uuid::Uuid::new_v5(&NS, name.as_bytes()))
}

/// Members: (id, name, country, sectors).
pub const MEMBERS: &[(&str, &str, &str, &[&str])] = &[
    (
        "hub",
        "Coalition Hub Operations",
        "BE",
        &["government-national"],
    ),
    ("cert-ee", "CERT-EE", "EE", &["government-national"]),
    (
        "cert-lv",
        "CERT.LV",
        "LV",
        &["government-national", "telecommunications"],
    ),
    (
        "cert-lt",
        "NKSC (Lithuania)",
        "LT",
        &["government-national", "defense"],
    ),
    (
        "cert-pl",
        "CERT Polska",
        "PL",
        &["telecommunications", "energy"],
    ),
    ("ncsc-nl", "NCSC-NL", "NL", &["energy", "utilities"]),
];

/// Users: (name, member, role). Every password is `demo`.
pub const USERS: &[(&str, &str, Role)] = &[
    ("admin", "hub", Role::Admin),
    ("ee-analyst", "cert-ee", Role::Contributor),
    ("ee-soc", "cert-ee", Role::Reader),
    ("lv-analyst", "cert-lv", Role::Contributor),
    ("lt-analyst", "cert-lt", Role::Contributor),
    ("pl-analyst", "cert-pl", Role::Contributor),
    ("nl-analyst", "ncsc-nl", Role::Contributor),
    ("nl-soc", "ncsc-nl", Role::Reader),
];

/// The demo configuration, listening on `listen`, storing in `data_dir`.
pub fn config(listen: &str, data_dir: &std::path::Path) -> Result<Config, String> {
    let hash = auth::hash_password("demo")?;
    let members = MEMBERS
        .iter()
        .map(|(mid, name, country, sectors)| MemberConfig {
            id: (*mid).into(),
            name: (*name).into(),
            identity: id("identity", mid),
            country: Some((*country).into()),
            sectors: sectors.iter().map(|s| (*s).to_string()).collect(),
        })
        .collect();
    let group = |gid: &str, members: &[&str], d: &str| TrustGroupConfig {
        id: gid.into(),
        members: members.iter().map(|s| (*s).to_string()).collect(),
        description: Some(d.into()),
    };
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let coll = |name: &str,
                root: &str,
                title: &str,
                tg: Option<&str>,
                read: &[&str],
                write: &[&str],
                red: &[&str]| {
        CollectionConfig {
            id: uuid::Uuid::new_v5(&NS, name.as_bytes()).to_string(),
            api_root: root.into(),
            title: title.into(),
            description: None,
            alias: Some(name.into()),
            trust_group: tg.map(Into::into),
            read: strings(read),
            write: strings(write),
            red_recipients: strings(red),
        }
    };
    Ok(Config {
        server: ServerConfig {
            listen: listen.into(),
            data_dir: data_dir.to_path_buf(),
            title: "Shieldwall demo coalition hub".into(),
            description: Some("Generated demo data: every object is fictitious.".into()),
            contact: Some("demo@shieldwall.invalid".into()),
            ..ServerConfig::default()
        },
        api_roots: vec![
            ApiRootConfig {
                name: "coalition".into(),
                title: "Coalition sharing".into(),
                description: Some("Members' indicators and reports".into()),
                default: true,
            },
            ApiRootConfig {
                name: "public".into(),
                title: "Public feed".into(),
                description: None,
                default: false,
            },
        ],
        members,
        users: USERS
            .iter()
            .map(|(name, member, role)| UserConfig {
                name: (*name).into(),
                member: (*member).into(),
                role: *role,
                password_hash: hash.clone(),
            })
            .collect(),
        api_keys: vec![],
        trust_groups: vec![
            group(
                "baltic",
                &["cert-ee", "cert-lv", "cert-lt"],
                "Baltic national CERTs",
            ),
            group(
                "baltic-sea",
                &["cert-ee", "cert-lv", "cert-lt", "cert-pl"],
                "Baltic Sea region",
            ),
            group(
                "energy-isac",
                &["cert-pl", "ncsc-nl", "cert-ee"],
                "Energy sector sharing",
            ),
        ],
        collections: vec![
            coll(
                "coalition-indicators",
                "coalition",
                "Coalition indicators",
                None,
                &["*"],
                &["*"],
                &["hub"],
            ),
            coll(
                "baltic-sharing",
                "coalition",
                "Baltic sharing",
                Some("baltic"),
                &["baltic"],
                &["baltic"],
                &["cert-lt"],
            ),
            coll(
                "energy-sector",
                "coalition",
                "Energy sector",
                Some("energy-isac"),
                &["energy-isac"],
                &["energy-isac"],
                &[],
            ),
            coll(
                "public-feed",
                "public",
                "Public feed",
                None,
                &["*"],
                &["hub"],
                &[],
            ),
        ],
        sync: Default::default(),
        peers: Vec::new(),
    })
}

fn marking(level: Option<TlpLevel>) -> Value {
    match level {
        Some(l) => json!([l.marking_id()]),
        None => json!([]),
    }
}

/// The objects one member publishes into one collection: for every TLP level and unmarked, a
/// report with an indicator, a malware and the relationship between them; plus a GREEN
/// relationship from the GREEN indicator to the RED malware (hidden wherever the malware is).
pub fn member_objects(member: &str, identity: &str, collection: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let created = "2026-01-15T09:00:00.000Z";
    let levels: Vec<Option<TlpLevel>> = TlpLevel::ALL
        .iter()
        .copied()
        .map(Some)
        .chain([None])
        .collect();
    for (i, level) in levels.iter().enumerate() {
        let tag = format!(
            "{member}/{collection}/{}",
            level.map_or("unmarked", |l| l.value())
        );
        let ind = id("indicator", &format!("{tag}/indicator"));
        let mal = id("malware", &format!("{tag}/malware"));
        let rel = id("relationship", &format!("{tag}/rel"));
        let rep = id("report", &format!("{tag}/report"));
        let m = marking(*level);
        let mut objs = vec![
            json!({"type": "indicator", "spec_version": "2.1", "id": ind, "created": created, "modified": created,
                "name": format!("C2 address reported by {member}"), "pattern_type": "stix",
                "pattern": format!("[ipv4-addr:value = '198.51.100.{}']", 10 + i), "valid_from": created,
                "indicator_types": ["malicious-activity"], "created_by_ref": identity, "object_marking_refs": m}),
            json!({"type": "malware", "spec_version": "2.1", "id": mal, "created": created, "modified": created,
                "name": format!("Demo implant {}", i + 1), "is_family": false, "created_by_ref": identity, "object_marking_refs": m}),
            json!({"type": "relationship", "spec_version": "2.1", "id": rel, "created": created, "modified": created,
                "relationship_type": "indicates", "source_ref": ind, "target_ref": mal, "created_by_ref": identity, "object_marking_refs": m}),
            json!({"type": "report", "spec_version": "2.1", "id": rep, "created": created, "modified": created,
                "name": format!("{} report from {member}", level.map_or("Unmarked".to_owned(), |l| l.name().to_owned())),
                "published": created, "report_types": ["threat-report"], "object_refs": [ind, mal, rel],
                "created_by_ref": identity, "object_marking_refs": m}),
        ];
        for o in &mut objs {
            if level.is_none()
                && let Some(map) = o.as_object_mut()
            {
                map.remove("object_marking_refs");
            }
        }
        out.extend(objs);
    }
    let green_ind = id(
        "indicator",
        &format!("{member}/{collection}/green/indicator"),
    );
    let red_mal = id("malware", &format!("{member}/{collection}/red/malware"));
    out.push(json!({"type": "relationship", "spec_version": "2.1",
        "id": id("relationship", &format!("{member}/{collection}/green-to-red")), "created": created, "modified": created,
        "relationship_type": "indicates", "source_ref": green_ind, "target_ref": red_mal,
        "created_by_ref": identity, "object_marking_refs": [TlpLevel::Green.marking_id()]}));
    out
}

/// Publishes `objects` into `c` as `principal` through the one write path
/// ([`crate::publish`]); returns how many were stored (now or before) and the refusals.
async fn publish_as(
    store: &AnyStore,
    coalition: &Coalition,
    principal: &Principal,
    c: &Collection,
    objects: Vec<Value>,
    limits: PublishLimits,
) -> Result<(u64, Vec<String>), PublishError> {
    let r = publish::publish(
        store,
        coalition,
        objects,
        Publisher::Member(principal),
        c,
        limits,
    )
    .await?;
    Ok((r.successes(), r.failures.iter().map(|f| f.line()).collect()))
}

/// Fills an empty store with the demo data; does nothing when the first collection has data.
pub async fn seed(
    store: &AnyStore,
    coalition: &Coalition,
    limits: PublishLimits,
) -> Result<u64, PublishError> {
    let Some(first) = coalition.collections.first() else {
        return Ok(0);
    };
    let admin = Principal {
        member: "hub".into(),
        role: Role::Admin,
        actor: "demo-seed".into(),
    };
    let probe = ListQuery {
        collection: first.id.clone(),
        pushdown: policy::Pushdown::for_principal(&admin, coalition),
        ids: vec![],
        types: vec![],
        added_after_us: None,
        versions: VersionSelection::all(),
        spec_versions: vec!["2.0".into(), "2.1".into()],
        after: None,
        limit: 1,
        with_json: false,
    };
    if !store.list(&probe).await?.records.is_empty() {
        return Ok(0);
    }
    let mut total = 0;
    for c in &coalition.collections {
        let hub = Principal {
            member: "hub".into(),
            role: Role::Admin,
            actor: "demo-seed".into(),
        };
        total += publish_as(store, coalition, &hub, c, stix::tlp::tlp2_objects(), limits)
            .await?
            .0;
        for (member, ..) in MEMBERS {
            let p = Principal {
                member: (*member).into(),
                role: Role::Contributor,
                actor: "demo-seed".into(),
            };
            if !policy::can_write(&p, c) {
                continue;
            }
            let identity = coalition
                .members
                .get(*member)
                .map(|m| m.identity.clone())
                .unwrap_or_default();
            let (n, refused) = publish_as(
                store,
                coalition,
                &p,
                c,
                member_objects(member, &identity, &c.id),
                limits,
            )
            .await?;
            for r in refused {
                tracing::warn!(refusal = %r, "Demo object refused.");
            }
            total += n;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod vocabulary_tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write as _;

    use super::*;

    /// The demo data (every member's objects in every collection, and the TLP 2.0 marking
    /// definitions) is valid for the OASIS validator and uses the open vocabularies: no
    /// vocabulary warning.
    #[test]
    fn demo_objects_use_the_open_vocabularies() {
        let mut all: Vec<Value> = stix::tlp::tlp2_objects();
        for (member, ..) in MEMBERS {
            let identity = id("identity", member);
            all.extend(member_objects(member, &identity, "coalition-indicators"));
        }
        for o in &all {
            for f in stix::validate::validate_object(o, &stix::validate::Options::default()) {
                assert!(f.severity != stix::validate::Severity::Error, "{f}");
            }
        }
        let Some(python) = testenv::python("stix2-validator on the demo data") else {
            return;
        };
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../coord/tests/support/check.py");
        let mut child = std::process::Command::new(python)
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(json!({"stix": all}).to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let res: Value = serde_json::from_slice(&out.stdout).unwrap();
        let results = res["stix"].as_array().unwrap();
        assert_eq!(results.len(), all.len());
        for r in results {
            assert_eq!(r["valid"], true, "{r}");
            assert_eq!(r["vocabulary"], json!([]), "{r}");
        }
    }
}
