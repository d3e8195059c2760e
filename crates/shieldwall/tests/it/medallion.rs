//! The reference server's default data set (`medallion_default_data.json`: its API roots,
//! collections and permissions) loaded into a real server, which must reproduce the behaviours the
//! reference suite expects — over HTTP on 127.0.0.1, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{get, start};
use serde_json::{Value, json};
use shieldwall::{
    config::{ApiRootConfig, CollectionConfig, Config, MemberConfig, Role, UserConfig},
    ingest::{self, Prepared},
    store::{AddOutcome, AnyStore, Provenance, StatusRecord, Store},
    timestamps,
};

const COLL: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";

fn config_from(data: &Value) -> Config {
    let mut cfg = Config::default();
    cfg.members.push(MemberConfig {
        id: "medallion".into(),
        name: "medallion users".into(),
        identity: "identity--0b8c4a36-7c1b-4b48-9fa5-b1fa70b7c3e2".into(),
        country: None,
        sectors: vec![],
    });
    cfg.users.push(UserConfig {
        name: "admin".into(),
        member: "medallion".into(),
        role: Role::Contributor,
        password_hash: shieldwall::auth::hash_password("demo").unwrap(),
    });
    let discovery = &data["/discovery"];
    for (name, root) in data.as_object().unwrap() {
        if name.starts_with('/') {
            continue;
        }
        let info = &root["information"];
        cfg.api_roots.push(ApiRootConfig {
            name: name.clone(),
            title: info["title"].as_str().unwrap().into(),
            description: info["description"].as_str().map(Into::into),
            default: discovery["default"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/{name}/")),
        });
        for c in root["collections"].as_array().unwrap() {
            let grant = |flag: &str| {
                if c[flag].as_bool().unwrap() {
                    vec!["medallion".to_string()]
                } else {
                    vec![]
                }
            };
            cfg.collections.push(CollectionConfig {
                id: c["id"].as_str().unwrap().into(),
                api_root: name.clone(),
                title: c["title"].as_str().unwrap().into(),
                description: c["description"].as_str().map(Into::into),
                alias: None,
                trust_group: None,
                read: grant("can_read"),
                write: grant("can_write"),
                red_recipients: vec![],
            });
        }
    }
    cfg.server.max_content_length = 9_765_625;
    cfg
}

async fn load(store: &AnyStore, data: &Value) {
    for (_, root) in data
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.starts_with('/'))
    {
        for c in root["collections"].as_array().unwrap() {
            let manifest = c["manifest"].as_array().unwrap();
            let mut versions = Vec::new();
            for o in c["objects"].as_array().unwrap() {
                let version = o
                    .get("modified")
                    .or_else(|| o.get("created"))
                    .and_then(Value::as_str)
                    .unwrap();
                let entry = manifest
                    .iter()
                    .find(|m| m["id"] == o["id"] && m["version"].as_str() == Some(version))
                    .expect("every object has a manifest entry");
                let date_added =
                    timestamps::parse_us(entry["date_added"].as_str().unwrap()).unwrap();
                match ingest::to_new_version(o, "medallion", Some(date_added)).unwrap() {
                    Prepared::Valid(v) => versions.push(*v),
                    Prepared::Invalid { message, .. } => panic!("{message}"),
                }
            }
            let status = |_: &[AddOutcome]| StatusRecord {
                id: uuid::Uuid::new_v4().to_string(),
                api_root: "x".into(),
                member: "medallion".into(),
                request_us: 0,
                expires_us: 0,
                body: "{}".into(),
            };
            let prov = Provenance {
                source: "fixture".into(),
                actor: "test".into(),
            };
            store
                .add(c["id"].as_str().unwrap(), &prov, &versions, &status)
                .await
                .unwrap();
        }
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn behaviours(store: AnyStore) {
    let Some(path) = testenv::shared_file(
        "medallion default data",
        "conformance/taxii/medallion_default_data.json",
    ) else {
        return;
    };
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // Its own data folder (the node's audit journal lives there), never the working directory.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_from(&data);
    cfg.server.data_dir = dir.path().to_path_buf();
    let checked = cfg.check("medallion").unwrap();
    load(&store, &data).await;
    let node = start(&checked, store).await;
    let c = common::client();
    let objects = format!("{}/trustgroup1/collections/{COLL}/objects/", node.base);

    let (s, h, body) = get(&c, &objects, "admin").await;
    assert_eq!(s, 200);
    assert_eq!(
        ids(&body),
        vec![
            "relationship--2f9a9aa9-108a-4333-83e2-4fb25add0463",
            "indicator--cd981c25-8042-4166-8945-51178443bdac",
            "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
            "malware--c0931cc6-c75e-47e5-9036-78fabc95d4ec",
            "indicator--6770298f-0fd8-471a-ab8c-1c658a46574e",
        ]
    );
    assert_eq!(h["x-taxii-date-added-first"], "2014-05-08T09:00:00.000000Z");
    assert_eq!(h["x-taxii-date-added-last"], "2017-12-31T13:49:53.935000Z");
    assert_eq!(h["content-type"], "application/taxii+json;version=2.1");

    let (_, _, p1) = get(&c, &format!("{objects}?limit=3"), "admin").await;
    assert_eq!((ids(&p1).len(), p1["more"].as_bool()), (3, Some(true)));
    let next = p1["next"].as_str().unwrap();
    let (_, _, p2) = get(&c, &format!("{objects}?limit=3&next={next}"), "admin").await;
    assert_eq!((ids(&p2).len(), p2["more"].as_bool()), (2, Some(false)));

    let (_, _, b) = get(
        &c,
        &format!("{objects}?added_after=2016-11-03T12:30:59Z"),
        "admin",
    )
    .await;
    assert_eq!(ids(&b).len(), 3);
    let (_, _, b) = get(&c, &format!("{objects}?match[version]=all"), "admin").await;
    assert_eq!(ids(&b).len(), 7);
    let (_, _, b) = get(&c, &format!("{objects}?match[spec_version]=2.0"), "admin").await;
    assert_eq!(
        ids(&b),
        vec!["malware--c0931cc6-c75e-47e5-9036-78fabc95d4ec"]
    );
    assert!(b["objects"][0].get("spec_version").is_none());

    let manifest = format!("{}/trustgroup1/collections/{COLL}/manifest/", node.base);
    let mut sizes = Vec::new();
    let mut url = format!("{manifest}?limit=2");
    loop {
        let (s, _, b) = get(&c, &url, "admin").await;
        assert_eq!(s, 200);
        sizes.push(ids(&b).len());
        match b["next"].as_str() {
            Some(n) if b["more"] == json!(true) => url = format!("{manifest}?limit=2&next={n}"),
            _ => break,
        }
    }
    assert_eq!(sizes, vec![2, 2, 1]);

    let versions = format!(
        "{}/trustgroup1/collections/{COLL}/objects/indicator--6770298f-0fd8-471a-ab8c-1c658a46574e/versions/",
        node.base
    );
    let (_, _, v1) = get(
        &c,
        &format!("{versions}?match[version]=all&limit=2"),
        "admin",
    )
    .await;
    assert_eq!(v1["versions"].as_array().unwrap().len(), 2);
    let n = v1["next"].as_str().unwrap();
    let (_, _, v2) = get(
        &c,
        &format!("{versions}?match[version]=all&limit=2&next={n}"),
        "admin",
    )
    .await;
    assert_eq!(v2["versions"], json!(["2017-01-27T13:49:53.935Z"]));

    // Get Object with no such object: 404. Unreadable collection: 403; unknown one: 404.
    let (s, _, _) = get(
        &c,
        &format!("{objects}indicator--00000000-0000-4000-8000-000000000000/"),
        "admin",
    )
    .await;
    assert_eq!(s, 404);
    let (s, _, b) = get(
        &c,
        &format!(
            "{}/trustgroup1/collections/472c94ae-3113-4e3e-a4dd-a9f4ac7471d4/objects/",
            node.base
        ),
        "admin",
    )
    .await;
    assert_eq!((s, b["http_status"].as_str()), (403, Some("403")));
    let (s, _, _) = get(
        &c,
        &format!(
            "{}/trustgroup1/collections/11111111-1111-4111-8111-111111111111/objects/",
            node.base
        ),
        "admin",
    )
    .await;
    assert_eq!(s, 404);

    // Add Objects: 202 + complete status; adding the same version again is a success; a bare
    // object (not an envelope) is 422.
    let add = format!(
        "{}/trustgroup1/collections/365fed99-08fa-fdcd-a1b3-fb247eb41d01/objects/",
        node.base
    );
    let ind = json!({"type": "indicator", "spec_version": "2.1", "id": "indicator--c410e480-e42b-47d1-9476-85307c12bcbf",
        "created": "2018-02-27T13:57:10.515Z", "modified": "2018-02-27T13:57:10.515Z", "name": "Malicious site hosting downloader",
        "pattern": "[url:value = 'http://x4z9arb.cn/4712/']", "pattern_type": "stix", "valid_from": "2018-02-27T13:57:10.515Z"});
    for _ in 0..2 {
        let r = c
            .post(&add)
            .basic_auth("admin", Some("demo"))
            .header("Accept", common::ACCEPT)
            .header("Content-Type", common::ACCEPT)
            .body(json!({"objects": [ind]}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let st: Value = r.json().await.unwrap();
        assert_eq!(
            (
                st["status"].as_str(),
                st["success_count"].as_u64(),
                st["failure_count"].as_u64()
            ),
            (Some("complete"), Some(1), Some(0))
        );
        let (s, _, again) = get(
            &c,
            &format!(
                "{}/trustgroup1/status/{}/",
                node.base,
                st["id"].as_str().unwrap()
            ),
            "admin",
        )
        .await;
        assert_eq!((s, &again), (200, &st));
    }
    let r = c
        .post(&add)
        .basic_auth("admin", Some("demo"))
        .header("Accept", common::ACCEPT)
        .header("Content-Type", common::ACCEPT)
        .body(ind.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["http_status"], "422");
}

#[tokio::test]
async fn medallion_behaviours_on_sqlite() {
    let (_dir, path) = common::sqlite_path();
    let store = AnyStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    behaviours(store).await;
}

#[tokio::test]
async fn medallion_behaviours_on_postgres() {
    let Some(db) = common::PgDb::create("medallion behaviours on PostgreSQL").await else {
        return;
    };
    let store = AnyStore::open(&db.url).await.unwrap();
    behaviours(store.clone()).await;
    db.drop_db(Some(store)).await;
}
