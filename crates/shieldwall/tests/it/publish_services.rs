//! The one write path (`shieldwall::publish`) and the domain services on real stores, SQLite
//! and PostgreSQL, without spawning the binary: the TAXII status resource a publish returns and
//! keeps (with the configured retention), a member refused a collection it may not write, a
//! peer's refusals recorded, an all-or-nothing write across two collections in which a refusal in
//! the second leaves nothing of the first, and the assistance workflow (request, offers, board,
//! match, advance, close) with its producer rule and version history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::{collections::BTreeSet, path::Path, sync::Arc};

use serde_json::{Value, json};
use shieldwall::{
    coalition::{Coalition, Collection},
    config::{self, Checked, Role},
    policy::{Principal, Pushdown},
    publish::{self, PublishError, PublishLimits, Publisher},
    services::{
        ServiceError,
        assist::{self, Advance, Close, NewOffer, NewRequest},
        member::MemberService,
    },
    store::{
        AddOutcome, AnyStore, CollectionBatch, ListQuery, NewVersion, Provenance, StatusRecord,
        Store, VersionSelection,
    },
    timestamps,
};
use stix::tlp;

use crate::common::{PRIVATE, SHARED, identity};
/// An identity that is no member's: its objects are third-party objects.
const VENDOR: &str = "identity--0a0b0c0d-0000-4000-8000-00000000000f";

fn checked(dir: &Path) -> Checked {
    let p = crate::common::write_grid_config(dir, "status_retention_hours = 30\n");
    config::load(&p, &[]).unwrap()
}

struct Hub {
    store: AnyStore,
    coalition: Arc<Coalition>,
    limits: PublishLimits,
    _dir: tempfile::TempDir,
}

impl Hub {
    fn principal(&self, m: &str) -> Principal {
        Principal {
            member: m.into(),
            role: Role::Contributor,
            actor: format!("test:{m}"),
        }
    }
    fn coll(&self, id: &str) -> Collection {
        self.coalition.collection_by_id(id).unwrap().clone()
    }
    fn member(&self, m: &str) -> MemberService {
        MemberService::new(
            self.store.clone(),
            self.coalition.clone(),
            self.principal(m),
            self.limits,
        )
        .unwrap()
    }
    /// Every id member `m` may see in collection `c` (every version).
    async fn ids(&self, c: &str, m: &str) -> BTreeSet<String> {
        let q = ListQuery::whole_collection(
            c,
            Pushdown::for_principal(&self.principal(m), &self.coalition),
            VersionSelection::all(),
        );
        self.store
            .list(&q)
            .await
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.id)
            .collect()
    }
}

/// Runs `f` on a fresh SQLite hub, then on a fresh PostgreSQL one (when available).
async fn on_both<F, Fut>(what: &str, f: F)
where
    F: Fn(Hub) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let c = checked(dir.path());
    let store = AnyStore::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    f(Hub {
        store,
        coalition: Arc::new(Coalition::from_config(&c)),
        limits: PublishLimits::from_server(&c.config.server),
        _dir: dir,
    })
    .await;
    let Some(db) = common::PgDb::create(what).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let c = checked(dir.path());
    let store = AnyStore::open(&db.url).await.unwrap();
    f(Hub {
        store: store.clone(),
        coalition: Arc::new(Coalition::from_config(&c)),
        limits: PublishLimits::from_server(&c.config.server),
        _dir: dir,
    })
    .await;
    db.drop_db(Some(store)).await;
}

fn malware(uuid_tail: u32, modified: &str, creator: Option<&str>) -> Value {
    let mut o = json!({"type": "malware", "spec_version": "2.1",
        "id": format!("malware--{uuid_tail:08x}-1111-4111-8111-111111111111"),
        "created": "2026-01-01T00:00:00.000Z", "modified": modified, "name": format!("m{uuid_tail}"),
        "is_family": false, "object_marking_refs": [tlp::TLP2_GREEN]});
    if let Some(c) = creator {
        o["created_by_ref"] = json!(c);
    }
    o
}

const T0: &str = "2026-01-01T00:00:00.000Z";
const T1: &str = "2026-01-02T00:00:00.000Z";

#[tokio::test]
async fn publish_returns_and_keeps_the_taxii_status() {
    on_both("publish's status resource", |hub| async move {
        let shared = hub.coll(SHARED);
        let mb = hub.principal("mb");
        let ma = hub.principal("ma");
        // mb carries a vendor's object (third party): its versions are mb's from now on.
        let r = publish::publish(
            &hub.store,
            &hub.coalition,
            vec![malware(1, T0, Some(VENDOR))],
            Publisher::Member(&mb),
            &shared,
            hub.limits,
        )
        .await
        .unwrap();
        assert_eq!((r.added, r.already_present, r.refused()), (1, 0, 0));
        // ma: one invalid object, one new object, one later version of mb's vendor object
        // (refused by the store's producer rule), and mb's version again as it is (accepted).
        let mut invalid = malware(2, T0, None);
        invalid["spec_version"] = json!("2.0");
        let before = timestamps::now_us();
        let r = publish::publish(
            &hub.store,
            &hub.coalition,
            vec![
                invalid,
                malware(3, T0, None),
                malware(1, T1, Some(VENDOR)),
                malware(1, T0, Some(VENDOR)),
            ],
            Publisher::Member(&ma),
            &shared,
            hub.limits,
        )
        .await
        .unwrap();
        assert_eq!(r.added, 1);
        assert_eq!(r.already_present, 1);
        assert_eq!(r.refused(), 2);
        assert!(
            r.failures[0].id.starts_with("malware--00000002"),
            "invalid first"
        );
        assert_eq!(r.failures[1].message, shieldwall::store::REFUSED_VERSION);
        assert_eq!(r.failures[1].version.as_deref(), Some(T1));
        let st = &r.status;
        assert_eq!(st["status"], "complete");
        assert_eq!(st["total_count"], 4);
        assert_eq!(st["success_count"], 2);
        assert_eq!(st["failure_count"], 2);
        assert_eq!(st["pending_count"], 0);
        assert_eq!(
            st["failures"][1]["message"],
            shieldwall::store::REFUSED_VERSION
        );
        // Kept by the store, as answered, with the configured retention (30 h here).
        let id = st["id"].as_str().unwrap();
        let kept = hub
            .store
            .status(id, timestamps::now_us())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.body, r.status_body);
        assert_eq!(kept.member, "ma");
        assert_eq!(kept.api_root, "hub");
        assert_eq!(kept.expires_us - kept.request_us, 30 * 3_600_000_000);
        assert!(kept.request_us >= before);
        assert!(
            hub.store
                .status(id, kept.request_us + 31 * 3_600_000_000)
                .await
                .unwrap()
                .is_none(),
            "expired after the retention"
        );
        // The vendor object's latest version is still mb's.
        let q = ListQuery::whole_collection(
            SHARED,
            Pushdown::for_principal(&ma, &hub.coalition),
            VersionSelection::all(),
        );
        let versions: Vec<_> = hub
            .store
            .list(&q)
            .await
            .unwrap()
            .records
            .into_iter()
            .filter(|r| r.id.starts_with("malware--00000001"))
            .collect();
        assert_eq!(versions.len(), 1, "the forged later version was not stored");
    })
    .await;
}

#[tokio::test]
async fn a_member_may_publish_only_where_it_may_write() {
    on_both("publish's write check", |hub| async move {
        let private = hub.coll(PRIVATE);
        let mb = hub.principal("mb");
        let e = publish::publish(
            &hub.store,
            &hub.coalition,
            vec![malware(4, T0, None)],
            Publisher::Member(&mb),
            &private,
            hub.limits,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, PublishError::Forbidden { .. }), "{e}");
        assert!(e.to_string().contains("may not write"), "{e}");
        assert!(hub.ids(PRIVATE, "ma").await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_peers_refusals_are_recorded_with_their_reason() {
    on_both("publish as a peer", |hub| async move {
        let shared = hub.coll(SHARED);
        let ma = hub.principal("ma");
        // ma carries a vendor's object; a peer operated by mb then delivers an invalid object,
        // a later version of that vendor object (its producer would be mb: refused by the
        // producer rule) and a vendor object of its own (stored, produced by mb).
        publish::publish(
            &hub.store,
            &hub.coalition,
            vec![malware(5, T0, Some(VENDOR))],
            Publisher::Member(&ma),
            &shared,
            hub.limits,
        )
        .await
        .unwrap();
        let mut invalid = malware(6, T0, None);
        invalid["id"] = json!("malware--NOT-A-UUID");
        let by = Publisher::Peer {
            name: "north",
            member: "mb",
            actor: "peer:north",
        };
        let r = publish::publish(
            &hub.store,
            &hub.coalition,
            vec![
                invalid,
                malware(5, T1, Some(VENDOR)),
                malware(7, T0, Some(VENDOR)),
            ],
            by,
            &shared,
            PublishLimits::transient(),
        )
        .await
        .unwrap();
        assert_eq!(r.added, 1, "{:?}", r.failures);
        assert_eq!(r.refused(), 2);
        let forged = hub
            .store
            .refused_of("malware--00000005-1111-4111-8111-111111111111")
            .await
            .unwrap();
        assert_eq!(forged.len(), 1);
        assert_eq!(forged[0].peer, "north");
        assert_eq!(forged[0].reason, shieldwall::sync::REFUSED_PRODUCER);
        assert_eq!(forged[0].version, T1);
        let bad = hub.store.refused_of("malware--NOT-A-UUID").await.unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].reason, shieldwall::sync::REFUSED_INVALID);
        // The stored version keeps its provenance `peer:north`.
        let held = hub
            .store
            .sync_versions(SHARED, "malware--00000007-1111-4111-8111-111111111111")
            .await
            .unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].source, "peer:north");
        assert_eq!(held[0].producer, "mb");
        // A transient status expires at once.
        let id = r.status["id"].as_str().unwrap();
        assert!(
            hub.store
                .status(id, timestamps::now_us() + 1)
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn all_or_nothing_across_collections_is_one_transaction() {
    on_both("all-or-nothing writes", |hub| async move {
        let shared = hub.coll(SHARED);
        let private = hub.coll(PRIVATE);
        let mb = hub.principal("mb");
        let ma = hub.principal("ma");
        // mb carries a vendor's object: a later version by ma is refused by the store.
        publish::publish(
            &hub.store,
            &hub.coalition,
            vec![malware(8, T0, Some(VENDOR))],
            Publisher::Member(&mb),
            &shared,
            hub.limits,
        )
        .await
        .unwrap();
        let before = hub.store.placements().await.unwrap().len();
        // First collection: a new object; second: the forged version. Nothing is written.
        let e = publish::publish_all_or_nothing(
            &hub.store,
            &hub.coalition,
            &ma,
            vec![
                (&private, vec![malware(9, T0, None)]),
                (
                    &shared,
                    vec![malware(10, T0, None), malware(8, T1, Some(VENDOR))],
                ),
            ],
            hub.limits,
        )
        .await
        .unwrap_err();
        match &e {
            PublishError::Refused(f) => {
                assert_eq!(f.len(), 1);
                assert!(f[0].id.starts_with("malware--00000008"));
            }
            other => panic!("{other}"),
        }
        assert!(e.to_string().contains("nothing was stored"), "{e}");
        assert_eq!(hub.store.placements().await.unwrap().len(), before);
        assert!(
            hub.ids(PRIVATE, "ma").await.is_empty(),
            "nothing of the first collection"
        );
        // An invalid object in the second collection: refused before the store is asked.
        let mut invalid = malware(11, T0, None);
        invalid["created_by_ref"] = json!(identity("mb"));
        let e = publish::publish_all_or_nothing(
            &hub.store,
            &hub.coalition,
            &ma,
            vec![
                (&private, vec![malware(9, T0, None)]),
                (&shared, vec![invalid]),
            ],
            hub.limits,
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().contains("created_by_ref names member `mb`"),
            "{e}"
        );
        assert!(hub.ids(PRIVATE, "ma").await.is_empty());
        // A collection the member may not write, second: nothing written either.
        let e = publish::publish_all_or_nothing(
            &hub.store,
            &hub.coalition,
            &mb,
            vec![
                (&shared, vec![malware(12, T0, None)]),
                (&private, vec![malware(13, T0, None)]),
            ],
            hub.limits,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, PublishError::Forbidden { .. }), "{e}");
        assert!(
            !hub.ids(SHARED, "mb")
                .await
                .iter()
                .any(|i| i.starts_with("malware--0000000c"))
        );
        // All valid: both collections written, one status each.
        let reports = publish::publish_all_or_nothing(
            &hub.store,
            &hub.coalition,
            &ma,
            vec![
                (&private, vec![malware(9, T0, None)]),
                (&shared, vec![malware(10, T0, None)]),
            ],
            hub.limits,
        )
        .await
        .unwrap();
        assert_eq!(reports.len(), 2);
        assert!(
            reports
                .iter()
                .all(|r| r.added == 1 && r.failures.is_empty())
        );
        for r in &reports {
            let id = r.status["id"].as_str().unwrap();
            assert!(
                hub.store
                    .status(id, timestamps::now_us())
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        assert!(
            hub.ids(PRIVATE, "ma")
                .await
                .iter()
                .any(|i| i.starts_with("malware--00000009"))
        );
        assert!(
            hub.ids(SHARED, "mb")
                .await
                .iter()
                .any(|i| i.starts_with("malware--0000000a"))
        );
    })
    .await;
}

/// The store operation itself: several collections in one transaction, rolled back whole when
/// asked to be all or nothing, committed (statuses kept) otherwise.
#[tokio::test]
async fn store_add_batches_on_both_backends() {
    on_both("Store::add_batches", |hub| async move {
        let version = |obj: Value, producer: &str| -> NewVersion {
            match shieldwall::ingest::to_new_version(&obj, producer, None).unwrap() {
                shieldwall::ingest::Prepared::Valid(v) => *v,
                shieldwall::ingest::Prepared::Invalid { message, .. } => panic!("{message}"),
            }
        };
        let prov = Provenance {
            source: "local".into(),
            actor: "t".into(),
        };
        let status = |i: usize, _: &[AddOutcome]| StatusRecord {
            id: format!("st-{i}-{}", uuid::Uuid::new_v4()),
            api_root: "hub".into(),
            member: "ma".into(),
            request_us: 0,
            expires_us: i64::MAX,
            body: "{}".into(),
        };
        let own = version(malware(20, T0, Some(&identity("mb"))), "mb");
        hub.store
            .add(SHARED, &prov, std::slice::from_ref(&own), &|_| {
                status(0, &[])
            })
            .await
            .unwrap();
        let fresh = version(malware(21, T0, Some(&identity("ma"))), "ma");
        let forged = version(malware(20, T1, Some(&identity("mb"))), "ma");
        let first = [fresh.clone()];
        let second = [forged];
        let batches = [
            CollectionBatch {
                collection: PRIVATE,
                versions: &first,
            },
            CollectionBatch {
                collection: SHARED,
                versions: &second,
            },
        ];
        let done = hub
            .store
            .add_batches(&prov, &batches, true, &status)
            .await
            .unwrap();
        assert!(!done.committed);
        assert!(matches!(done.outcomes[0][0], AddOutcome::Added { .. }));
        assert!(matches!(done.outcomes[1][0], AddOutcome::Refused { .. }));
        assert!(hub.ids(PRIVATE, "ma").await.is_empty(), "rolled back");
        // Not all or nothing: the first batch is stored, the refusal reported.
        let done = hub
            .store
            .add_batches(&prov, &batches, false, &status)
            .await
            .unwrap();
        assert!(done.committed);
        assert!(matches!(done.outcomes[1][0], AddOutcome::Refused { .. }));
        assert_eq!(hub.ids(PRIVATE, "ma").await.len(), 1);
        // Later batches see the earlier ones: the same version twice is already present.
        let again = [fresh];
        let twice = [
            CollectionBatch {
                collection: SHARED,
                versions: &again,
            },
            CollectionBatch {
                collection: SHARED,
                versions: &again,
            },
        ];
        let done = hub
            .store
            .add_batches(&prov, &twice, true, &status)
            .await
            .unwrap();
        assert!(done.committed);
        assert!(matches!(done.outcomes[0][0], AddOutcome::Added { .. }));
        assert!(matches!(
            done.outcomes[1][0],
            AddOutcome::AlreadyPresent { .. }
        ));
    })
    .await;
}

/// The assistance workflow through the library's services (what `shieldwall assist` calls):
/// ranking on the board, the producer rule of workflow steps, closing with a report, and every
/// step a version of the same id.
#[tokio::test]
async fn the_assistance_workflow_as_services() {
    on_both("the assistance workflow", |hub| async move {
        let shared = hub.coll(SHARED);
        let private = hub.coll(PRIVATE);
        let (ma, mb, mc) = (hub.member("ma"), hub.member("mb"), hub.member("mc"));
        let amber = tlp::TlpLevel::Amber.marking_id();
        let r1 = assist::request(
            &ma,
            &shared,
            amber,
            NewRequest {
                name: "Forensics for the distribution grid".into(),
                mechanism: "coalition".into(),
                needs: vec![assist::need("digital-forensics:10:person-days").unwrap()],
                services: vec!["ot-ics-support".into()],
                urgency: Some(assist::term("urgency", "immediate").unwrap()),
                severity: Some(85),
                entity_class: Some(assist::term("entity-class", "essential").unwrap()),
                cross_border: true,
                mitigation: Some("SCADA segmented; manual operation".into()),
                ..NewRequest::default()
            },
        )
        .await
        .unwrap();
        let r1 = r1.id().to_owned();
        let r2 = assist::request(
            &ma,
            &private,
            amber,
            NewRequest {
                name: "Hospital licences".into(),
                mechanism: "coalition".into(),
                needs: vec![assist::need("licences:200:licences").unwrap()],
                urgency: Some(assist::term("urgency", "routine").unwrap()),
                ..NewRequest::default()
            },
        )
        .await
        .unwrap()
        .id()
        .to_owned();
        assert!(matches!(
            assist::need("a:b:c"),
            Err(ServiceError::Usage(m)) if m.contains("not a number")
        ));
        let o1 = assist::offer(
            &mb,
            &shared,
            amber,
            NewOffer {
                requests: vec![r1.clone()],
                name: "mb forensics team".into(),
                services: vec!["digital-forensics".into()],
                capacity: vec![assist::need("digital-forensics:8:person-days").unwrap()],
                lead_time_hours: Some(24),
                mode: Some(assist::term("mode", "remote").unwrap()),
                ..NewOffer::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            o1.objects.len(),
            2,
            "the offer and its relationship to the request"
        );
        assert_eq!(o1.objects[1]["type"], "relationship");
        let o1 = o1.id().to_owned();
        let o2 = assist::offer(
            &mc,
            &shared,
            amber,
            NewOffer {
                requests: vec![r1.clone()],
                name: "mc OT responders".into(),
                services: vec!["ot-ics-support".into(), "digital-forensics".into()],
                lead_time_hours: Some(48),
                mode: Some(assist::term("mode", "on-site").unwrap()),
                ..NewOffer::default()
            },
        )
        .await
        .unwrap()
        .id()
        .to_owned();
        // The board: r1 (immediate, essential) ranks first; both offers proposed for it.
        let board = assist::board(&ma, &ma.readable()).await.unwrap();
        let open: Vec<&str> = board["open_requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["request"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(open, vec![r1.as_str(), r2.as_str()], "{board}");
        let proposals: BTreeSet<&str> = board["open_requests"][0]["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["offer_id"].as_str().unwrap())
            .collect();
        assert_eq!(proposals, BTreeSet::from([o1.as_str(), o2.as_str()]));
        let board_mb = assist::board(&mb, &mb.readable()).await.unwrap();
        assert_eq!(
            board_mb["open_requests"].as_array().unwrap().len(),
            1,
            "mb does not see the private request: {board_mb}"
        );
        // Only the requester versions its request.
        let refused = assist::match_offers(&mb, &r1, std::slice::from_ref(&o1)).await;
        assert!(
            matches!(&refused, Err(ServiceError::Usage(m)) if m.contains("only its producer")),
            "{refused:?}"
        );
        assist::match_offers(&ma, &r1, std::slice::from_ref(&o1))
            .await
            .unwrap();
        let step = |id: &str, to: &str, reason: Option<&str>| Advance {
            id: id.into(),
            to: to.into(),
            reason: reason.map(str::to_owned),
            accepted_by: None,
        };
        let accepted = assist::advance(&mb, &step(&o1, "accepted", None))
            .await
            .unwrap();
        assert_eq!(
            accepted.objects[0]["accepted_by_ref"],
            identity("ma"),
            "accepted by the requester that matched it"
        );
        assist::advance(&mc, &step(&o2, "declined", Some("matched elsewhere")))
            .await
            .unwrap();
        assist::advance(&ma, &step(&r1, "in-delivery", None))
            .await
            .unwrap();
        assist::advance(&mb, &step(&o1, "delivering", None))
            .await
            .unwrap();
        assist::advance(&mb, &step(&o1, "completed", None))
            .await
            .unwrap();
        let early = assist::advance(&ma, &step(&r1, "closed", None)).await;
        assert!(early.is_err(), "closing needs a report: {early:?}");
        let closed = assist::close(
            &ma,
            amber,
            &Close {
                request: r1.clone(),
                services_provided: "Forensic analysis of SCADA hosts".into(),
                results: "Initial access found and closed".into(),
                lessons: "Keep offline backups of HMI images".into(),
                satisfaction: Some(90),
                ..Close::default()
            },
        )
        .await
        .unwrap();
        let report_id = closed.objects[1]["id"].as_str().unwrap().to_owned();
        let bad = assist::advance(&ma, &step(&r1, "matched", None)).await;
        assert!(bad.is_err(), "closed is terminal");
        let unknown = assist::advance(&ma, &step(&r1, "nowhere", None)).await;
        assert!(matches!(unknown, Err(ServiceError::Usage(m)) if m.contains("--to")));
        // Every step a version of the same id, in order.
        let all = ma.view(std::slice::from_ref(&shared), true).await.unwrap();
        let versions = |id: &str, key: &str| -> Vec<String> {
            let mut v: Vec<&Value> = all.iter().filter(|o| o["id"] == id).collect();
            v.sort_by_key(|o| o["modified"].as_str().unwrap().to_owned());
            v.iter()
                .map(|o| o[key].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            versions(&r1, "request_status"),
            ["submitted", "matched", "in-delivery", "closed"]
        );
        assert_eq!(
            versions(&o1, "offer_status"),
            ["offered", "accepted", "delivering", "completed"]
        );
        assert_eq!(versions(&o2, "offer_status"), ["offered", "declined"]);
        let report = all.iter().find(|o| o["id"] == report_id.as_str()).unwrap();
        assert_eq!(report["report_types"][0], "assistance-summary");
        let after = assist::board(&mb, &mb.readable()).await.unwrap();
        assert!(
            after["open_requests"].as_array().unwrap().is_empty(),
            "{after}"
        );
        // Every object the workflow wrote validates with stix2-validator, with no vocabulary
        // warning but the after-action report's deliberate `report_types: assistance-summary`
        // (docs/CONFORMANCE.md).
        let mut written = all.clone();
        written.extend(ma.view(std::slice::from_ref(&private), true).await.unwrap());
        let types: BTreeSet<&str> = written.iter().filter_map(|o| o["type"].as_str()).collect();
        for t in [
            "assistance-request",
            "assistance-offer",
            "relationship",
            "report",
        ] {
            assert!(
                types.contains(t),
                "{t} among the written objects: {types:?}"
            );
        }
        stix2_validator(&written);
    })
    .await;
}

/// Runs the OASIS stix2-validator (through `crates/coord/tests/support/check.py`) on `objects`:
/// every one valid, and no vocabulary warning but `report_types: assistance-summary`.
fn stix2_validator(objects: &[Value]) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let Some(python) = testenv::python("stix2-validator on the written objects") else {
        return;
    };
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../coord/tests/support/check.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!({"stix": objects}).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let res: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = res["stix"].as_array().unwrap();
    assert_eq!(results.len(), objects.len());
    let invalid: Vec<&Value> = results.iter().filter(|r| r["valid"] != true).collect();
    assert!(invalid.is_empty(), "stix2-validator: {invalid:#?}");
    let vocabulary: Vec<&Value> = results
        .iter()
        .flat_map(|r| r["vocabulary"].as_array().unwrap())
        .filter(|w| !w.as_str().unwrap().contains("in report_types is permitted"))
        .collect();
    assert!(
        vocabulary.is_empty(),
        "vocabulary warnings: {vocabulary:#?}"
    );
}

/// The incident workflow through the library's services (what `shieldwall incident` calls): a
/// new incident with its victim, impacts that record the victims and stay on later versions,
/// events and tasks in sequence, refusals of a bad `after` or a non-incident, a step by another
/// member refused by the producer rule with nothing written, and the report's figures of each
/// member's view.
#[tokio::test]
async fn the_incident_workflow_as_services() {
    use coord::incident::{
        Determination, Event, EventStatus, Impact, ImpactDetail, IncidentCore, Task, TaskOutcome,
    };
    use coord::sector::{CiEntity, Victim};
    use shieldwall::services::{incident, report};
    on_both("the incident workflow", |hub| async move {
        let shared = hub.coll(SHARED);
        let private = hub.coll(PRIVATE);
        let (ma, mb) = (hub.member("ma"), hub.member("mb"));
        let amber = tlp::TlpLevel::Amber.marking_id();
        let new = |name: &str, sector: &str, country: &str| {
            let mut core = IncidentCore::new();
            core.determination = Determination::Confirmed;
            core.criticality = Some(85);
            incident::NewIncident {
                name: name.into(),
                description: None,
                victim: Some(Victim {
                    name: format!("victim of {name}"),
                    description: None,
                    sectors: vec![],
                    ci: CiEntity {
                        nis2_sector: Some(sector.into()),
                        country: Some(country.into()),
                        ..CiEntity::default()
                    },
                }),
                victim_ids: vec![],
                core,
            }
        };
        let w = incident::new_incident(&ma, &shared, amber, new("grid", "energy", "EE"))
            .await
            .unwrap();
        assert_eq!(
            w.objects
                .iter()
                .map(|o| o["type"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["incident", "identity", "relationship"]
        );
        assert!(
            w.outcomes
                .iter()
                .all(|o| matches!(o, AddOutcome::Added { .. }))
        );
        let i1 = w.id().to_owned();
        let victim = w.objects[1]["id"].clone();
        let i2 = incident::new_incident(&ma, &private, amber, new("hospital", "health", "LV"))
            .await
            .unwrap()
            .id()
            .to_owned();
        // An impact without `impacted_refs` affects the incident's victims.
        let mut impact = Impact::new(ImpactDetail::Availability {
            availability_impact: 75,
        });
        impact.criticality = Some(80);
        let w = incident::add_impact(&ma, &i1, amber, impact).await.unwrap();
        assert_eq!(w.objects[0]["impacted_refs"], json!([victim]));
        assert_eq!(
            w.objects[1]["id"],
            i1.as_str(),
            "the incident's next version"
        );
        let bad = Impact::new(ImpactDetail::Availability {
            availability_impact: 140,
        });
        let e = incident::add_impact(&ma, &i1, amber, bad)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("availability"), "{e}");
        // Events and tasks in sequence.
        let mut ev = Event::new(EventStatus::Occurred);
        ev.name = Some("Phishing".into());
        let e1 = incident::add_event(&ma, &i1, amber, ev.clone(), None)
            .await
            .unwrap()
            .id()
            .to_owned();
        let mut ev2 = Event::new(EventStatus::Ongoing);
        ev2.name = Some("Breaker commands".into());
        let e2 = incident::add_event(&ma, &i1, amber, ev2, Some(&e1))
            .await
            .unwrap()
            .id()
            .to_owned();
        let mut task = Task::new(TaskOutcome::Ongoing);
        task.name = Some("Isolate the HMI network".into());
        task.priority = Some(90);
        let t1 = incident::add_task(&ma, &i1, amber, task.clone(), None)
            .await
            .unwrap()
            .id()
            .to_owned();
        let (cur, _) = ma.find(&i1).await.unwrap();
        let core = &cur["extensions"][coord::ext::INCIDENT_CORE];
        assert_eq!(core["events"][0]["event_ref"], e1.as_str());
        assert_eq!(
            core["events"][0]["next_steps"][0]["event_ref"],
            e2.as_str(),
            "{core}"
        );
        assert_eq!(core["events"][1]["sequence_start"], false);
        assert_eq!(core["tasks"][0]["task_ref"], t1.as_str());
        assert_eq!(
            core["impact_refs"].as_array().unwrap().len(),
            1,
            "impacts stay: {core}"
        );
        let e = incident::add_event(&ma, &i1, amber, ev.clone(), Some(&t1))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("--after"), "{e}");
        let e = incident::add_task(&ma, &e1, amber, task.clone(), None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not an incident"), "{e}");
        // Another member's step: the incident's next version is refused, the event not kept.
        let before = hub.store.placements().await.unwrap().len();
        let e = incident::add_event(&mb, &i1, amber, ev, None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("nothing was stored"), "{e}");
        assert_eq!(hub.store.placements().await.unwrap().len(), before);
        // An update: the determination changes in a new version.
        let u = incident::Update {
            determination: Some(Determination::Suspected),
            criticality: Some(60),
            ..incident::Update::default()
        };
        let w = incident::update(&ma, &i1, &u).await.unwrap();
        assert_eq!(
            w.objects[0]["extensions"][coord::ext::INCIDENT_CORE]["criticality"],
            60
        );
        let e = incident::update(
            &ma,
            &i1,
            &incident::Update {
                criticality: Some(101),
                ..incident::Update::default()
            },
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("0–100"), "{e}");
        // The report's figures count each member's view.
        let since = stix::Timestamp::parse("2000-01-01T00:00:00Z").unwrap();
        let fa = report::member_figures(&ma, &ma.readable(), since)
            .await
            .unwrap();
        let fb = report::member_figures(&mb, &mb.readable(), since)
            .await
            .unwrap();
        assert_eq!(fa.incidents, 2, "{i2} in private too");
        assert_eq!(fb.incidents, 1);
        assert_eq!(fa.by_sector.get("health"), Some(&1));
        assert_eq!(fb.by_sector.get("health"), None);
        assert_eq!(fb.by_country.get("EE"), Some(&1));
        assert_eq!(fa.tlp_label(), tlp::TlpLevel::Amber);
    })
    .await;
}

const TECH_A: &str = "attack-pattern--00000000-0000-4000-8000-0000000000a1";
const TECH_B: &str = "attack-pattern--00000000-0000-4000-8000-0000000000a2";

/// A small DISARM bundle: its identity and two techniques, unmarked and unattributed.
fn disarm_bundle() -> Value {
    let t = |id: &str, disarm: &str| {
        json!({"type": "attack-pattern", "spec_version": "2.1", "id": id,
               "created": T0, "modified": T0, "name": format!("technique {disarm}"),
               "kill_chain_phases": [{"kill_chain_name": "disarm", "phase_name": "develop-content"}],
               "external_references": [{"source_name": "DISARM", "external_id": disarm}]})
    };
    json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-0000000000b0", "objects": [
        {"type": "identity", "spec_version": "2.1", "id": "identity--00000000-0000-4000-8000-0000000000b1",
         "created": T0, "modified": T0, "name": "DISARM Foundation", "identity_class": "organization"},
        t(TECH_A, "T0085"),
        t(TECH_B, "T0086.002"),
    ]})
}

#[tokio::test]
async fn the_fimi_workflow_as_services() {
    use coord::fimi::{FimiIncident, IncidentDomain};
    use coord::incident::Determination;
    use shieldwall::services::{disarm, fimi};
    on_both("the fimi workflow", |hub| async move {
        let shared = hub.coll(SHARED);
        let private = hub.coll(PRIVATE);
        let both = [shared.clone(), private.clone()];
        let (ma, mb) = (hub.member("ma"), hub.member("mb"));
        let amber = tlp::TlpLevel::Amber.marking_id();
        // DISARM, prepared (normalised, attributed, marked clear), stored once.
        let prepared = coord::disarm::prepare_import(&disarm_bundle(), tlp::TLP2_CLEAR).unwrap();
        assert_eq!((prepared.attributed, prepared.marked), (3, 3));
        let imported = disarm::import(&ma, &shared, prepared.clone())
            .await
            .unwrap();
        assert_eq!(
            (imported.objects, imported.stored, imported.techniques),
            (3, 3, 2)
        );
        assert_eq!(imported.to_json()["already_present"], 0);
        let again = disarm::import(&ma, &shared, prepared.clone())
            .await
            .unwrap();
        assert_eq!((again.stored, again.objects), (0, 3), "the same objects");
        // The framework is nobody's: another member imports the same public objects (already
        // present), and no member's own object could be rewritten that way.
        let theirs = disarm::import(&mb, &shared, prepared).await.unwrap();
        assert_eq!((theirs.stored, theirs.objects), (0, 3), "the same objects");
        match disarm::find(&mb, &both, "t0086.002").await.unwrap() {
            Some(disarm::Found::Technique(t)) => assert_eq!(t.stix_id, TECH_B),
            other => panic!("{other:?}"),
        }
        assert!(disarm::find(&mb, &both, "T0999").await.unwrap().is_none());

        // A FIMI incident in ma's private collection: narrative, channel, technique.
        let incident = FimiIncident {
            name: "Leak and amplify".into(),
            description: None,
            domain: IncidentDomain::Hybrid,
            determination: Determination::Suspected,
            investigation_status: "new".into(),
            criticality: Some(60),
            incident_types: vec!["hack-and-leak".into()],
            disarm_framework_version: Some("1.6".into()),
        };
        let links = fimi::Links {
            techniques: vec!["T0085".into()],
            narratives: vec!["They lie to you".into()],
            channels: vec!["truth-now@telegram".into()],
            ..fimi::Links::default()
        };
        let w = fimi::new_incident(&ma, &private, amber, &incident, &links)
            .await
            .unwrap();
        let types: Vec<&str> = w
            .objects
            .iter()
            .map(|o| o["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "incident",
                "narrative",
                "channel",
                "relationship",
                "relationship",
                "relationship"
            ]
        );
        assert!(
            w.outcomes
                .iter()
                .all(|o| matches!(o, AddOutcome::Added { .. }))
        );
        let iid = w.id().to_owned();
        assert_eq!(w.objects[3]["target_ref"], TECH_A);
        assert_eq!(
            w.objects[0]["extensions"][coord::ext::FIMI_INCIDENT]["declared_by_ref"],
            identity("ma")
        );
        assert!(hub.ids(PRIVATE, "ma").await.contains(&iid));

        // The matrix counts the use for ma, who sees the incident, and not for mb.
        let uses = |m: &coord::disarm::Matrix| -> usize {
            m.tactics
                .iter()
                .flat_map(|c| &c.techniques)
                .find(|t| t.stix_id == TECH_A)
                .map_or(usize::MAX, |t| t.uses)
        };
        assert_eq!(uses(&fimi::matrix(&ma, &both).await.unwrap()), 1);
        assert_eq!(
            uses(
                &fimi::matrix(&mb, std::slice::from_ref(&shared))
                    .await
                    .unwrap()
            ),
            0
        );
        // No DISARM visible: an error, not an empty matrix.
        let e = fimi::matrix(&ma, std::slice::from_ref(&private))
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("no DISARM techniques visible to ma: import them"),
            "{e}"
        );

        // A cyber incident (shared) fed the FIMI one: the `led-to` edge is kept beside its
        // source's target, in the collection holding the cyber incident.
        let cyber = fimi::new_incident(
            &ma,
            &shared,
            amber,
            &FimiIncident {
                name: "Mail server breach".into(),
                domain: IncidentDomain::Cyber,
                ..incident.clone()
            },
            &fimi::Links::default(),
        )
        .await
        .unwrap()
        .id()
        .to_owned();
        let w = fimi::link(
            &ma,
            &private,
            amber,
            &iid,
            &fimi::Links {
                fed_by: vec![cyber.clone()],
                techniques: vec![TECH_B.into()],
                ..fimi::Links::default()
            },
        )
        .await
        .unwrap();
        let led_to = w
            .objects
            .iter()
            .find(|o| o["relationship_type"] == "led-to")
            .unwrap();
        assert_eq!(
            (led_to["source_ref"].as_str(), led_to["target_ref"].as_str()),
            (Some(cyber.as_str()), Some(iid.as_str()))
        );
        let led_to = led_to["id"].as_str().unwrap().to_owned();
        assert!(hub.ids(SHARED, "ma").await.contains(&led_to));
        assert!(!hub.ids(PRIVATE, "ma").await.contains(&led_to));

        // What may not be done: nothing written by any of these.
        let before = (hub.ids(SHARED, "ma").await, hub.ids(PRIVATE, "ma").await);
        let narrative = fimi::Links {
            narratives: vec!["x".into()],
            ..fimi::Links::default()
        };
        // mb cannot see ma's private incident: it is absent.
        let e = fimi::link(&mb, &shared, amber, &iid, &narrative)
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::NotFound(_)), "{e}");
        // mb may not write into ma's private collection, even about its own incident.
        let e = fimi::new_incident(&mb, &private, amber, &incident, &narrative)
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::Publish(_)), "{e}");
        // An unknown technique, a `--fed-by` that is no incident, nothing to link, a link to
        // something that is not an incident.
        let e = fimi::link(
            &ma,
            &private,
            amber,
            &iid,
            &fimi::Links {
                techniques: vec!["T0999".into()],
                narratives: vec!["y".into()],
                ..fimi::Links::default()
            },
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("--technique T0999"), "{e}");
        let e = fimi::link(
            &ma,
            &private,
            amber,
            &iid,
            &fimi::Links {
                fed_by: vec![TECH_A.into()],
                ..fimi::Links::default()
            },
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("expected an incident id"), "{e}");
        let e = fimi::link(&ma, &private, amber, &iid, &fimi::Links::default())
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with("nothing to link"), "{e}");
        let e = fimi::link(&ma, &private, amber, TECH_A, &narrative)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not an incident"), "{e}");
        assert_eq!(
            before,
            (hub.ids(SHARED, "ma").await, hub.ids(PRIVATE, "ma").await)
        );
    })
    .await;
}
