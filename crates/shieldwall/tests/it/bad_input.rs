//! Every bad input gets a TAXII error resource with the right 4xx status — never a 5xx, never a
//! body of another media type — over HTTP on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{ACCEPT, client, start};
use serde_json::{Value, json};
use shieldwall::{coalition::Coalition, demo, store::AnyStore};

const GOOD: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

fn indicator(id: &str) -> Value {
    json!({"type": "indicator", "spec_version": "2.1", "id": id, "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z", "pattern": "[ipv4-addr:value = '192.0.2.1']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z"})
}

async fn expect(resp: reqwest::Response, status: u16, what: &str) -> Value {
    let got = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null);
    assert_eq!(got, status, "{what}: {body}");
    assert_eq!(ct, ACCEPT, "{what}: content type");
    if status >= 400 {
        assert_eq!(
            body["http_status"],
            json!(status.to_string()),
            "{what}: {body}"
        );
        assert!(body["title"].is_string(), "{what}");
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_a_taxii_4xx() {
    let (dir, path) = common::sqlite_path();
    let store = AnyStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mut cfg = demo::config("127.0.0.1:0", dir.path()).unwrap();
    cfg.server.max_content_length = 64 * 1024;
    let checked = cfg.check("demo").unwrap();
    let coalition = Coalition::from_config(&checked);
    demo::seed(
        &store,
        &coalition,
        shieldwall::publish::PublishLimits::from_server(&checked.config.server),
    )
    .await
    .unwrap();
    let node = start(&checked, store).await;
    let coll = coalition
        .collections
        .iter()
        .find(|c| c.alias.as_deref() == Some("baltic-sharing"))
        .unwrap();
    let objects = format!("{}/coalition/collections/{}/objects/", node.base, coll.id);
    let c = client();
    let post = |body: Vec<u8>| {
        c.post(&objects)
            .basic_auth("ee-analyst", Some("demo"))
            .header("Accept", ACCEPT)
            .header("Content-Type", ACCEPT)
            .body(body)
    };
    let get = |url: String| {
        c.get(url)
            .basic_auth("ee-analyst", Some("demo"))
            .header("Accept", ACCEPT)
    };

    // Bodies.
    expect(
        post(b"{\"objects\": [".to_vec()).send().await.unwrap(),
        400,
        "malformed JSON",
    )
    .await;
    expect(
        post(b"{\"objects\": [], \"objects\": []}".to_vec())
            .send()
            .await
            .unwrap(),
        400,
        "duplicate keys",
    )
    .await;
    expect(
        post(b"{\"objects\": [\"\\udc00\"]}".to_vec())
            .send()
            .await
            .unwrap(),
        400,
        "lone surrogate",
    )
    .await;
    expect(
        post(b"{\"objects\": [\"\xc3\x28\"]}".to_vec())
            .send()
            .await
            .unwrap(),
        400,
        "invalid UTF-8",
    )
    .await;
    expect(
        post(("[".repeat(5000)).into_bytes()).send().await.unwrap(),
        400,
        "deep nesting",
    )
    .await;
    expect(
        post(indicator(GOOD).to_string().into_bytes())
            .send()
            .await
            .unwrap(),
        422,
        "a bare object",
    )
    .await;
    expect(
        post(b"{\"objects\": 5}".to_vec()).send().await.unwrap(),
        422,
        "objects not a list",
    )
    .await;
    // Over max_content_length, announced or chunked. The server answers 413 without reading the
    // rest, so the client may still be writing when the connection closes: each attempt uses its
    // own connection, and a 413 TAXII error must come back (a few attempts absorb that race).
    let big = json!({"objects": [{"type": "note", "content": "x".repeat(70 * 1024)}]}).to_string();
    for chunked in [false, true] {
        let mut seen = None;
        for _ in 0..5 {
            shieldwall::tls::ensure_provider();
            let fresh = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let body = if chunked {
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
                    .as_bytes()
                    .chunks(4096)
                    .map(|c| Ok(c.to_vec()))
                    .collect();
                reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
            } else {
                reqwest::Body::from(big.clone())
            };
            let sent = fresh
                .post(&objects)
                .basic_auth("ee-analyst", Some("demo"))
                .header("Accept", ACCEPT)
                .header("Content-Type", ACCEPT)
                .body(body)
                .send()
                .await;
            if let Ok(r) = sent {
                seen = Some(r);
                break;
            }
        }
        let what = if chunked {
            "chunked over max_content_length"
        } else {
            "over max_content_length"
        };
        expect(
            seen.unwrap_or_else(|| panic!("{what}: no response in 5 attempts")),
            413,
            what,
        )
        .await;
    }

    // Per-object failures in the status resource; the valid ones are stored.
    let other_member = coalition.members["cert-lv"].identity.clone();
    let mut impersonating = indicator("indicator--1c8f3b55-7d0e-4f0e-9a43-8d2b7a7f0c11");
    impersonating["created_by_ref"] = json!(other_member);
    let mut bad_time = indicator("indicator--2c8f3b55-7d0e-4f0e-9a43-8d2b7a7f0c11");
    bad_time["modified"] = json!("2026-13-01T00:00:00.000Z");
    let env = json!({"objects": [indicator(GOOD), impersonating, bad_time, {"type": "x"}, "not an object"]});
    let st = expect(
        post(env.to_string().into_bytes()).send().await.unwrap(),
        202,
        "mixed envelope",
    )
    .await;
    assert_eq!(
        (
            st["success_count"].as_u64(),
            st["failure_count"].as_u64(),
            st["total_count"].as_u64()
        ),
        (Some(1), Some(4), Some(5))
    );
    assert_eq!(st["successes"][0]["id"], GOOD);
    assert!(
        st["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cert-lv"),
        "{st}"
    );
    expect(
        get(format!("{objects}{GOOD}/")).send().await.unwrap(),
        200,
        "the valid one is stored",
    )
    .await;

    // Media types.
    expect(
        c.post(&objects)
            .basic_auth("ee-analyst", Some("demo"))
            .header("Accept", ACCEPT)
            .header("Content-Type", "application/json")
            .body(env.to_string())
            .send()
            .await
            .unwrap(),
        415,
        "wrong Content-Type",
    )
    .await;
    expect(
        c.post(&objects)
            .basic_auth("ee-analyst", Some("demo"))
            .header("Accept", ACCEPT)
            .body(env.to_string())
            .send()
            .await
            .unwrap(),
        415,
        "no Content-Type",
    )
    .await;
    expect(
        c.get(&objects)
            .basic_auth("ee-analyst", Some("demo"))
            .header("Accept", "application/taxii+json;version=2.0")
            .send()
            .await
            .unwrap(),
        406,
        "wrong Accept",
    )
    .await;
    expect(
        c.get(&objects)
            .basic_auth("ee-analyst", Some("demo"))
            .send()
            .await
            .unwrap(),
        406,
        "no Accept",
    )
    .await;

    // Filters and cursors.
    for q in [
        "limit=0",
        "limit=x",
        "limit=99999999999",
        "added_after=2026-01-01",
        "match[id]=nope",
        // Values are exact: a trailing no-break space is not trimmed into a match.
        "match[id]=indicator--cd981c25-8042-4166-8945-51178443bdac%C2%A0",
        "match[type]=indicator%C2%A0",
        "match[type]=A",
        "match[version]=newest",
        "match[spec_version]=3.0",
        "match[unknown]=1",
        "next=forged",
        "limit=1&limit=2",
        "next=AQAGYUzf4_MKAAAAAAAAAALep5ql0Cwqc3SYAjzUHICc",
    ] {
        expect(get(format!("{objects}?{q}")).send().await.unwrap(), 400, q).await;
    }
    // A real cursor replayed with other filters is refused.
    let page: Value = get(format!("{objects}?limit=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let next = page["next"].as_str().unwrap().to_owned();
    expect(
        get(format!("{objects}?limit=1&next={next}"))
            .send()
            .await
            .unwrap(),
        200,
        "the cursor itself",
    )
    .await;
    expect(
        get(format!("{objects}?limit=1&match[type]=malware&next={next}"))
            .send()
            .await
            .unwrap(),
        400,
        "cursor with other filters",
    )
    .await;
    let as_other = c
        .get(format!("{objects}?limit=1&next={next}"))
        .basic_auth("lv-analyst", Some("demo"))
        .header("Accept", ACCEPT);
    expect(
        as_other.send().await.unwrap(),
        400,
        "cursor of another caller",
    )
    .await;

    // Unknown things.
    for url in [
        format!("{}/nowhere/", node.base),
        format!("{}/nowhere/collections/", node.base),
        format!(
            "{}/coalition/collections/00000000-0000-4000-8000-000000000000/objects/",
            node.base
        ),
        format!("{}/coalition/collections/not-a-uuid/", node.base),
        format!("{objects}indicator--00000000-0000-4000-8000-000000000000/"),
        format!("{objects}not-an-id/versions/"),
        format!("{objects}%ff%fe/"),
        format!(
            "{}/coalition/status/00000000-0000-4000-8000-000000000000/",
            node.base
        ),
        format!("{}/no/such/path", node.base),
    ] {
        expect(get(url.clone()).send().await.unwrap(), 404, &url).await;
    }
    // A collection the member cannot see at all is absent, not forbidden.
    let energy = coalition
        .collections
        .iter()
        .find(|c| c.alias.as_deref() == Some("energy-sector"))
        .unwrap();
    let lv = c
        .get(format!(
            "{}/coalition/collections/{}/objects/",
            node.base, energy.id
        ))
        .basic_auth("lv-analyst", Some("demo"))
        .header("Accept", ACCEPT);
    expect(lv.send().await.unwrap(), 404, "invisible collection").await;
    // A reader may not write.
    let reader = c
        .post(&objects)
        .basic_auth("ee-soc", Some("demo"))
        .header("Accept", ACCEPT)
        .header("Content-Type", ACCEPT)
        .body(env.to_string());
    expect(reader.send().await.unwrap(), 403, "reader posts").await;

    // Credentials: always the same 401.
    let mut bodies = Vec::new();
    for req in [
        c.get(&objects).header("Accept", ACCEPT),
        c.get(&objects)
            .basic_auth("ee-analyst", Some("wrong"))
            .header("Accept", ACCEPT),
        c.get(&objects)
            .basic_auth("nobody", Some("demo"))
            .header("Accept", ACCEPT),
        c.get(&objects)
            .bearer_auth("sw_nokey_abc")
            .header("Accept", ACCEPT),
        c.get(&objects)
            .header("Authorization", "Digest x")
            .header("Accept", ACCEPT),
        c.get(&objects)
            .header("Authorization", "Basic !!!")
            .header("Accept", ACCEPT),
    ] {
        let r = req.send().await.unwrap();
        assert!(r.headers().get("www-authenticate").is_some());
        bodies.push(expect(r, 401, "credentials").await);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));

    // Methods.
    expect(
        c.put(&objects)
            .basic_auth("ee-analyst", Some("demo"))
            .header("Accept", ACCEPT)
            .send()
            .await
            .unwrap(),
        405,
        "PUT",
    )
    .await;
}
