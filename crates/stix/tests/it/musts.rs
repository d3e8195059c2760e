//! One case per row of docs/STIX-MUSTS.md: an object that breaks exactly that MUST of STIX 2.1
//! gets the named error code, and the same object without the fault has no error. The case
//! names are the table's "test" column.
#![allow(clippy::unwrap_used)]

use serde_json::{Map, Value, json};
use stix::validate::{Options, Severity, validate_object};

const ID: &str = "--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const TS: &str = "2016-04-06T20:03:48.000Z";

/// A valid object of type `t` with `props` (SDO/SRO common properties unless `t` is an SCO).
fn obj(t: &str, props: Value) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(t));
    m.insert("spec_version".into(), json!("2.1"));
    m.insert("id".into(), json!(format!("{t}{ID}")));
    let sco = stix::model::category_of(t, &Map::new()) == stix::model::Category::Sco;
    if !sco {
        m.insert("created".into(), json!(TS));
        m.insert("modified".into(), json!(TS));
    }
    for (k, v) in props.as_object().unwrap() {
        if v.is_null() {
            m.remove(k);
        } else {
            m.insert(k.clone(), v.clone());
        }
    }
    Value::Object(m)
}

fn errors(v: &Value) -> Vec<(&'static str, String)> {
    // SHOULD-level checks off: only MUSTs count here.
    let opts = Options {
        disabled: vec!["all".into()],
        ..Options::default()
    };
    validate_object(v, &opts)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.code, f.pointer))
        .collect()
}

/// `(row, valid object, the same object breaking the MUST, expected error code)`.
fn cases() -> Vec<(&'static str, Value, Value, &'static str)> {
    let ind = |p: Value| {
        let mut base = json!({"pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix", "valid_from": TS});
        for (k, v) in p.as_object().unwrap() {
            base[k] = v.clone();
        }
        obj("indicator", base)
    };
    let file = |p: Value| {
        let mut base = json!({"name": "a.exe"});
        for (k, v) in p.as_object().unwrap() {
            base[k] = v.clone();
        }
        obj("file", base)
    };
    let nt = |p: Value| {
        let mut base = json!({"protocols": ["tcp"], "src_ref": format!("ipv4-addr{ID}")});
        for (k, v) in p.as_object().unwrap() {
            base[k] = v.clone();
        }
        obj("network-traffic", base)
    };
    let process = |p: Value| obj("process", p);
    let rel = |rt: &str| {
        obj(
            "relationship",
            json!({"relationship_type": rt, "source_ref": format!("indicator{ID}"), "target_ref": format!("malware{ID}")}),
        )
    };
    vec![
        // §2 data types
        (
            "binary",
            obj("artifact", json!({"payload_bin": "YWJj"})),
            obj("artifact", json!({"payload_bin": "a b"})),
            "base64",
        ),
        (
            "boolean",
            obj("malware", json!({"is_family": false})),
            obj("malware", json!({"is_family": "no"})),
            "property-type",
        ),
        (
            "dictionary-key-chars",
            nt(json!({"ipfix": {"minimumIpTotalLength": 32}})),
            nt(json!({"ipfix": {"a.b": 32}})),
            "dictionary-key",
        ),
        (
            "dictionary-key-length",
            nt(json!({"ipfix": {"k": 1}})),
            nt(json!({"ipfix": {"": 1}})),
            "dictionary-key",
        ),
        (
            "dictionary-empty",
            nt(json!({"ipfix": {"k": 1}})),
            nt(json!({"ipfix": {}})),
            "property-type",
        ),
        (
            "enum-closed",
            obj(
                "opinion",
                json!({"opinion": "agree", "object_refs": [format!("report{ID}")]}),
            ),
            obj(
                "opinion",
                json!({"opinion": "maybe", "object_refs": [format!("report{ID}")]}),
            ),
            "enum",
        ),
        (
            "external-reference-one-of",
            obj(
                "tool",
                json!({"name": "t", "external_references": [{"source_name": "x", "url": "https://example.com/"}]}),
            ),
            obj(
                "tool",
                json!({"name": "t", "external_references": [{"source_name": "x"}]}),
            ),
            "required",
        ),
        (
            "external-reference-cve",
            obj(
                "vulnerability",
                json!({"name": "v", "external_references": [{"source_name": "cve", "external_id": "CVE-2016-1234"}]}),
            ),
            obj(
                "vulnerability",
                json!({"name": "v", "external_references": [{"source_name": "cve", "external_id": "CVE-16-1234"}]}),
            ),
            "external-id",
        ),
        (
            "float",
            obj("location", json!({"latitude": 48.8, "longitude": 2.3})),
            obj("location", json!({"latitude": "48.8", "longitude": 2.3})),
            "range",
        ),
        (
            "hashes-name",
            file(json!({"hashes": {"MD5": "d41d8cd98f00b204e9800998ecf8427e"}})),
            file(json!({"hashes": {"M D5": "d41d8cd98f00b204e9800998ecf8427e"}})),
            "hash-name",
        ),
        (
            "hashes-value",
            file(
                json!({"hashes": {"SHA-256": "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}}),
            ),
            file(json!({"hashes": {"SHA-256": "aec0"}})),
            "hash-value",
        ),
        (
            "hex",
            file(json!({"magic_number_hex": "4D5A"})),
            file(json!({"magic_number_hex": "4D5"})),
            "hex",
        ),
        (
            "identifier",
            rel("indicates"),
            obj(
                "relationship",
                json!({"relationship_type": "indicates", "source_ref": "indicator--1", "target_ref": format!("malware{ID}")}),
            ),
            "id-format",
        ),
        (
            "integer",
            obj(
                "sighting",
                json!({"sighting_of_ref": format!("indicator{ID}"), "count": 3}),
            ),
            obj(
                "sighting",
                json!({"sighting_of_ref": format!("indicator{ID}"), "count": 3.5}),
            ),
            "property-type",
        ),
        (
            "kill-chain-phase",
            obj(
                "tool",
                json!({"name": "t", "kill_chain_phases": [{"kill_chain_name": "k", "phase_name": "p"}]}),
            ),
            obj(
                "tool",
                json!({"name": "t", "kill_chain_phases": [{"kill_chain_name": "k"}]}),
            ),
            "required",
        ),
        (
            "list-not-empty",
            obj("tool", json!({"name": "t", "aliases": ["a"]})),
            obj("tool", json!({"name": "t", "aliases": []})),
            "property-type",
        ),
        (
            "list-of-strings",
            obj("tool", json!({"name": "t", "aliases": ["a"]})),
            obj("tool", json!({"name": "t", "aliases": [1]})),
            "property-type",
        ),
        (
            "string",
            obj("tool", json!({"name": "t", "description": "d"})),
            obj("tool", json!({"name": "t", "description": 3})),
            "property-type",
        ),
        (
            "timestamp-format",
            obj("tool", json!({"name": "t"})),
            obj(
                "tool",
                json!({"name": "t", "created": "2016-04-06 20:03:48.000Z"}),
            ),
            "timestamp-format",
        ),
        (
            "timestamp-date",
            obj("tool", json!({"name": "t"})),
            obj(
                "tool",
                json!({"name": "t", "created": "2016-02-30T20:03:48.000Z", "modified": "2016-03-30T20:03:48.000Z"}),
            ),
            "timestamp-invalid",
        ),
        // §3 general concepts
        (
            "type-name",
            obj("x-acme-thing", json!({})),
            obj("x-acme-thing", json!({"type": "x_acme"})),
            "type-format",
        ),
        (
            "property-name",
            obj("tool", json!({"name": "t", "x_acme_p": 1})),
            obj("tool", json!({"name": "t", "x-acme": 1})),
            "property-name",
        ),
        (
            "property-name-length",
            obj("tool", json!({"name": "t", "x_acme_p": 1})),
            obj("tool", json!({"name": "t", "xy": 1})),
            "property-name",
        ),
        (
            "required-common",
            obj("tool", json!({"name": "t"})),
            obj("tool", json!({"name": "t", "created": null})),
            "required",
        ),
        (
            "spec-version",
            obj("tool", json!({"name": "t"})),
            obj("tool", json!({"name": "t", "spec_version": "2.2"})),
            "enum",
        ),
        (
            "id-type",
            obj("tool", json!({"name": "t"})),
            obj("tool", json!({"name": "t", "id": format!("malware{ID}")})),
            "id-type",
        ),
        (
            "created-precision",
            obj("tool", json!({"name": "t"})),
            obj(
                "tool",
                json!({"name": "t", "created": "2016-04-06T20:03:48Z", "modified": "2016-04-06T20:03:48Z"}),
            ),
            "timestamp-precision",
        ),
        (
            "modified-after-created",
            obj("tool", json!({"name": "t"})),
            obj(
                "tool",
                json!({"name": "t", "modified": "2015-04-06T20:03:48.000Z"}),
            ),
            "timestamp-order",
        ),
        (
            "confidence-range",
            obj("tool", json!({"name": "t", "confidence": 100})),
            obj("tool", json!({"name": "t", "confidence": 101})),
            "range",
        ),
        (
            "lang",
            obj("tool", json!({"name": "t", "lang": "en"})),
            obj("tool", json!({"name": "t", "lang": "english language"})),
            "lang",
        ),
        (
            "object-marking-refs-type",
            obj(
                "tool",
                json!({"name": "t", "object_marking_refs": [format!("marking-definition{ID}")]}),
            ),
            obj(
                "tool",
                json!({"name": "t", "object_marking_refs": [format!("identity{ID}")]}),
            ),
            "ref-type",
        ),
        (
            "granular-marking-one-of",
            obj(
                "tool",
                json!({"name": "t", "granular_markings": [{"lang": "en", "selectors": ["name"]}]}),
            ),
            obj(
                "tool",
                json!({"name": "t", "granular_markings": [{"selectors": ["name"]}]}),
            ),
            "granular-marking",
        ),
        (
            "granular-marking-selector",
            obj(
                "tool",
                json!({"name": "t", "granular_markings": [{"lang": "en", "selectors": ["name"]}]}),
            ),
            obj(
                "tool",
                json!({"name": "t", "granular_markings": [{"lang": "en", "selectors": ["nope"]}]}),
            ),
            "selector",
        ),
        (
            "reserved-property",
            obj("tool", json!({"name": "t"})),
            obj("tool", json!({"name": "t", "severity": "high"})),
            "reserved-property",
        ),
        (
            "reserved-type",
            obj("x-acme-thing", json!({})),
            obj("action", json!({})),
            "reserved-type",
        ),
        (
            "extensions-empty",
            file(json!({"extensions": {"ntfs-ext": {"sid": "S-1"}}})),
            file(json!({"extensions": {}})),
            "property-type",
        ),
        (
            "extension-key",
            file(json!({"extensions": {"ntfs-ext": {"sid": "S-1"}}})),
            file(json!({"extensions": {"ntfs": {"sid": "S-1"}}})),
            "extension-key",
        ),
        // §4 SDOs
        (
            "indicator-required",
            ind(json!({})),
            ind(json!({"valid_from": null})),
            "required",
        ),
        (
            "indicator-valid-until",
            ind(json!({"valid_until": "2016-04-06T20:03:49.000Z"})),
            ind(json!({"valid_until": TS})),
            "timestamp-order",
        ),
        (
            "indicator-pattern",
            ind(json!({})),
            ind(json!({"pattern": "[ipv4-addr:value = "})),
            "pattern",
        ),
        (
            "location-one-of",
            obj("location", json!({"region": "europe"})),
            obj("location", json!({"name": "x"})),
            "required",
        ),
        (
            "location-latitude-range",
            obj("location", json!({"latitude": 90, "longitude": 0})),
            obj("location", json!({"latitude": 91, "longitude": 0})),
            "range",
        ),
        (
            "location-precision",
            obj(
                "location",
                json!({"latitude": 1, "longitude": 1, "precision": 10.0}),
            ),
            obj("location", json!({"region": "europe", "precision": 10.0})),
            "dependency",
        ),
        (
            "malware-is-family-name",
            obj("malware", json!({"is_family": true, "name": "m"})),
            obj("malware", json!({"is_family": true})),
            "required",
        ),
        (
            "malware-analysis-result",
            obj(
                "malware-analysis",
                json!({"product": "p", "result": "malicious"}),
            ),
            obj("malware-analysis", json!({"product": "p"})),
            "required",
        ),
        (
            "malware-analysis-sco-refs",
            obj(
                "malware-analysis",
                json!({"product": "p", "analysis_sco_refs": [format!("file{ID}")]}),
            ),
            obj(
                "malware-analysis",
                json!({"product": "p", "analysis_sco_refs": [format!("malware{ID}")]}),
            ),
            "ref-type",
        ),
        (
            "observed-data-refs",
            obj(
                "observed-data",
                json!({"first_observed": TS, "last_observed": TS, "number_observed": 1, "object_refs": [format!("file{ID}")]}),
            ),
            obj(
                "observed-data",
                json!({"first_observed": TS, "last_observed": TS, "number_observed": 1, "object_refs": [format!("identity{ID}")]}),
            ),
            "ref-type",
        ),
        (
            "observed-data-one-sco",
            obj(
                "observed-data",
                json!({"first_observed": TS, "last_observed": TS, "number_observed": 1, "object_refs": [format!("file{ID}"), format!("relationship{ID}")]}),
            ),
            obj(
                "observed-data",
                json!({"first_observed": TS, "last_observed": TS, "number_observed": 1, "object_refs": [format!("relationship{ID}")]}),
            ),
            "ref-type",
        ),
        (
            "observed-data-number",
            obj(
                "observed-data",
                json!({"first_observed": TS, "last_observed": TS, "number_observed": 1, "object_refs": [format!("file{ID}")]}),
            ),
            obj(
                "observed-data",
                json!({"first_observed": TS, "last_observed": TS, "number_observed": 0, "object_refs": [format!("file{ID}")]}),
            ),
            "range",
        ),
        (
            "observed-data-exclusive",
            obj(
                "observed-data",
                json!({"first_observed": TS, "last_observed": TS, "number_observed": 1, "object_refs": [format!("file{ID}")]}),
            ),
            obj(
                "observed-data",
                json!({"first_observed": TS, "last_observed": TS, "number_observed": 1, "object_refs": [format!("file{ID}")], "objects": {"0": {"type": "file", "name": "a"}}}),
            ),
            "exclusive",
        ),
        (
            "report-required",
            obj(
                "report",
                json!({"name": "r", "published": TS, "object_refs": [format!("tool{ID}")]}),
            ),
            obj(
                "report",
                json!({"name": "r", "object_refs": [format!("tool{ID}")]}),
            ),
            "required",
        ),
        (
            "first-last-seen",
            obj(
                "campaign",
                json!({"name": "c", "first_seen": TS, "last_seen": TS}),
            ),
            obj(
                "campaign",
                json!({"name": "c", "first_seen": TS, "last_seen": "2015-04-06T20:03:48.000Z"}),
            ),
            "timestamp-order",
        ),
        // §5 SROs
        (
            "relationship-type-chars",
            rel("indicates"),
            rel("Indicates_x"),
            "relationship-type",
        ),
        (
            "relationship-endpoints",
            rel("indicates"),
            obj(
                "relationship",
                json!({"relationship_type": "x", "source_ref": format!("indicator{ID}"), "target_ref": format!("bundle{ID}")}),
            ),
            "ref-type",
        ),
        (
            "relationship-stop-time",
            obj(
                "relationship",
                json!({"relationship_type": "x", "source_ref": format!("indicator{ID}"), "target_ref": format!("malware{ID}"), "start_time": TS, "stop_time": "2016-04-06T20:03:49.000Z"}),
            ),
            obj(
                "relationship",
                json!({"relationship_type": "x", "source_ref": format!("indicator{ID}"), "target_ref": format!("malware{ID}"), "start_time": TS, "stop_time": TS}),
            ),
            "timestamp-order",
        ),
        (
            "sighting-of-sdo",
            obj(
                "sighting",
                json!({"sighting_of_ref": format!("indicator{ID}")}),
            ),
            obj("sighting", json!({"sighting_of_ref": format!("file{ID}")})),
            "ref-type",
        ),
        (
            "sighting-where",
            obj(
                "sighting",
                json!({"sighting_of_ref": format!("indicator{ID}"), "where_sighted_refs": [format!("identity{ID}")]}),
            ),
            obj(
                "sighting",
                json!({"sighting_of_ref": format!("indicator{ID}"), "where_sighted_refs": [format!("tool{ID}")]}),
            ),
            "ref-type",
        ),
        // §6 SCOs
        (
            "sco-uuid-v4-without-contributing",
            obj(
                "ipv4-addr",
                json!({"value": "198.51.100.3", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"}),
            ),
            obj(
                "email-message",
                json!({"is_multipart": false, "id": "email-message--28bb3599-77cd-5a82-a950-b5bc3caf07c4"}),
            ),
            "uuid-version",
        ),
        (
            "artifact-exclusive",
            obj(
                "artifact",
                json!({"url": "https://example.com/a", "hashes": {"MD5": "d41d8cd98f00b204e9800998ecf8427e"}}),
            ),
            obj("artifact", json!({"url": "https://example.com/a"})),
            "required",
        ),
        (
            "artifact-payload-or-url",
            obj("artifact", json!({"payload_bin": "YWJj"})),
            obj("artifact", json!({"mime_type": "text/plain"})),
            "required",
        ),
        (
            "windows-process-ext-startup-info",
            process(
                json!({"extensions": {"windows-process-ext": {"startup_info": {"lpTitle": "t", "dwX": 1}}}}),
            ),
            process(
                json!({"extensions": {"windows-process-ext": {"startup_info": {"lpTitle": 5}}}}),
            ),
            "property-type",
        ),
        (
            "artifact-decryption-key",
            obj(
                "artifact",
                json!({"payload_bin": "YWJj", "encryption_algorithm": "AES-256-GCM", "decryption_key": "k"}),
            ),
            obj(
                "artifact",
                json!({"payload_bin": "YWJj", "decryption_key": "k"}),
            ),
            "dependency",
        ),
        (
            "email-message-multipart",
            obj(
                "email-message",
                json!({"is_multipart": true, "body_multipart": [{"body": "b"}]}),
            ),
            obj(
                "email-message",
                json!({"is_multipart": false, "body_multipart": [{"body": "b"}]}),
            ),
            "dependency",
        ),
        (
            "email-mime-part-one-of",
            obj(
                "email-message",
                json!({"is_multipart": true, "body_multipart": [{"body": "b"}]}),
            ),
            obj(
                "email-message",
                json!({"is_multipart": true, "body_multipart": [{"content_type": "text/plain"}]}),
            ),
            "required",
        ),
        (
            "email-header-values",
            obj(
                "email-message",
                json!({"is_multipart": false, "additional_header_fields": {"Reply-To": ["a@example.com"]}}),
            ),
            obj(
                "email-message",
                json!({"is_multipart": false, "additional_header_fields": {"Reply-To": 3}}),
            ),
            "property-type",
        ),
        (
            "file-name-or-hashes",
            file(json!({})),
            obj("file", json!({"size": 3})),
            "required",
        ),
        (
            "file-size",
            file(json!({"size": 0})),
            file(json!({"size": -1})),
            "range",
        ),
        (
            "file-timestamps",
            file(json!({"ctime": TS})),
            file(json!({"ctime": "yesterday"})),
            "timestamp-format",
        ),
        (
            "ntfs-ext-one-of",
            file(json!({"extensions": {"ntfs-ext": {"sid": "S-1"}}})),
            file(json!({"extensions": {"ntfs-ext": {}}})),
            "required",
        ),
        (
            "ntfs-ads-name",
            file(json!({"extensions": {"ntfs-ext": {"alternate_data_streams": [{"name": "s"}]}}})),
            file(json!({"extensions": {"ntfs-ext": {"alternate_data_streams": [{"size": 1}]}}})),
            "required",
        ),
        (
            "pdf-ext-types",
            file(json!({"extensions": {"pdf-ext": {"is_optimized": true}}})),
            file(json!({"extensions": {"pdf-ext": {"is_optimized": "yes"}}})),
            "property-type",
        ),
        (
            "raster-image-ext-one-of",
            file(json!({"extensions": {"raster-image-ext": {"image_height": 1}}})),
            file(json!({"extensions": {"raster-image-ext": {}}})),
            "required",
        ),
        (
            "pebinary-time-date-stamp",
            file(
                json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe", "time_date_stamp": "2016-01-20T14:11:25Z"}}}),
            ),
            file(
                json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe", "time_date_stamp": "2016-01-20T14:11:99Z"}}}),
            ),
            "timestamp-format",
        ),
        (
            "pebinary-time-date-stamp-second",
            file(
                json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe", "time_date_stamp": "2016-01-20T14:11:25Z"}}}),
            ),
            file(
                json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe", "time_date_stamp": "2016-01-20T14:11:25.123Z"}}}),
            ),
            "timestamp-precision",
        ),
        (
            "pebinary-pe-type",
            file(json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe"}}})),
            file(json!({"extensions": {"windows-pebinary-ext": {"machine_hex": "014c"}}})),
            "required",
        ),
        (
            "pebinary-optional-header",
            file(
                json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe", "optional_header": {"size_of_code": 4096}}}}),
            ),
            file(
                json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe", "optional_header": {"size_of_code": -1}}}}),
            ),
            "range",
        ),
        (
            "pebinary-section-name",
            file(
                json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe", "sections": [{"name": ".text"}]}}}),
            ),
            file(
                json!({"extensions": {"windows-pebinary-ext": {"pe_type": "exe", "sections": [{"entropy": 7.5}]}}}),
            ),
            "required",
        ),
        (
            "ipv4-value",
            obj("ipv4-addr", json!({"value": "198.51.100.3"})),
            obj("ipv4-addr", json!({"value": "198.51.100.300"})),
            "ip",
        ),
        (
            "ipv6-value",
            obj("ipv6-addr", json!({"value": "2001:db8::1"})),
            obj("ipv6-addr", json!({"value": "2001:db8::g"})),
            "ip",
        ),
        (
            "mac-value",
            obj("mac-addr", json!({"value": "d2:fb:49:24:37:18"})),
            obj("mac-addr", json!({"value": "D2:FB:49:24:37:18"})),
            "mac",
        ),
        (
            "network-traffic-src-or-dst",
            nt(json!({})),
            obj("network-traffic", json!({"protocols": ["tcp"]})),
            "required",
        ),
        (
            "network-traffic-ports",
            nt(json!({"src_port": 65535})),
            nt(json!({"src_port": 65536})),
            "range",
        ),
        (
            "network-traffic-active-end",
            nt(json!({"is_active": false, "end": TS})),
            nt(json!({"is_active": true, "end": TS})),
            "dependency",
        ),
        (
            "network-traffic-end-after-start",
            nt(json!({"start": TS, "end": TS})),
            nt(json!({"start": TS, "end": "2015-04-06T20:03:48.000Z"})),
            "timestamp-order",
        ),
        (
            "network-traffic-ipfix-values",
            nt(json!({"ipfix": {"k": "v"}})),
            nt(json!({"ipfix": {"k": [1]}})),
            "property-type",
        ),
        (
            "http-request-ext-required",
            nt(
                json!({"extensions": {"http-request-ext": {"request_method": "get", "request_value": "/"}}}),
            ),
            nt(json!({"extensions": {"http-request-ext": {"request_method": "get"}}})),
            "required",
        ),
        (
            "icmp-ext-hex",
            nt(json!({"extensions": {"icmp-ext": {"icmp_type_hex": "08", "icmp_code_hex": "00"}}})),
            nt(json!({"extensions": {"icmp-ext": {"icmp_type_hex": "8", "icmp_code_hex": "00"}}})),
            "hex",
        ),
        (
            "socket-ext-address-family",
            nt(json!({"extensions": {"socket-ext": {"address_family": "AF_INET"}}})),
            nt(json!({"extensions": {"socket-ext": {"address_family": "AF_X"}}})),
            "enum",
        ),
        (
            "socket-ext-options",
            nt(
                json!({"extensions": {"socket-ext": {"address_family": "AF_INET", "options": {"SO_TEST": 1}}}}),
            ),
            nt(
                json!({"extensions": {"socket-ext": {"address_family": "AF_INET", "options": {"SO_TEST": "on"}}}}),
            ),
            "property-type",
        ),
        (
            "socket-ext-descriptor",
            nt(
                json!({"extensions": {"socket-ext": {"address_family": "AF_INET", "socket_descriptor": 3}}}),
            ),
            nt(
                json!({"extensions": {"socket-ext": {"address_family": "AF_INET", "socket_descriptor": -3}}}),
            ),
            "range",
        ),
        (
            "tcp-ext-one-of",
            nt(json!({"extensions": {"tcp-ext": {"src_flags_hex": "02"}}})),
            nt(json!({"extensions": {"tcp-ext": {}}})),
            "required",
        ),
        (
            "process-one-property",
            process(json!({"pid": 1})),
            process(json!({})),
            "required",
        ),
        (
            "process-uuid-v4",
            process(json!({"pid": 1})),
            process(json!({"pid": 1, "id": "process--28bb3599-77cd-5a82-a950-b5bc3caf07c4"})),
            "uuid-version",
        ),
        (
            "process-environment-values",
            process(json!({"environment_variables": {"PATH": "/bin"}})),
            process(json!({"environment_variables": {"PATH": 1}})),
            "property-type",
        ),
        (
            "windows-process-ext-integrity",
            process(json!({"extensions": {"windows-process-ext": {"integrity_level": "high"}}})),
            process(json!({"extensions": {"windows-process-ext": {"integrity_level": "root"}}})),
            "enum",
        ),
        (
            "windows-process-ext-one-of",
            process(json!({"extensions": {"windows-process-ext": {"aslr_enabled": true}}})),
            process(json!({"extensions": {"windows-process-ext": {}}})),
            "required",
        ),
        (
            "windows-service-ext-enums",
            process(
                json!({"extensions": {"windows-service-ext": {"start_type": "SERVICE_AUTO_START"}}}),
            ),
            process(json!({"extensions": {"windows-service-ext": {"start_type": "AUTO"}}})),
            "enum",
        ),
        (
            "software-languages",
            obj(
                "software",
                json!({"name": "s", "languages": ["en", "fr-CA"]}),
            ),
            obj("software", json!({"name": "s", "languages": ["en_US"]})),
            "lang",
        ),
        (
            "software-cpe",
            obj(
                "software",
                json!({"name": "s", "cpe": "cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*"}),
            ),
            obj(
                "software",
                json!({"name": "s", "cpe": "cpe:/a:microsoft:word"}),
            ),
            "cpe",
        ),
        (
            "url-value",
            obj("url", json!({"value": "https://example.com/"})),
            obj("url", json!({"value": "example com"})),
            "url",
        ),
        (
            "user-account-booleans",
            obj(
                "user-account",
                json!({"user_id": "1001", "is_privileged": true}),
            ),
            obj(
                "user-account",
                json!({"user_id": "1001", "is_privileged": "yes"}),
            ),
            "property-type",
        ),
        (
            "user-account-timestamps",
            obj(
                "user-account",
                json!({"user_id": "1001", "account_created": TS}),
            ),
            obj(
                "user-account",
                json!({"user_id": "1001", "account_created": "2016-13-01T00:00:00Z"}),
            ),
            "timestamp-format",
        ),
        (
            "unix-account-ext-one-of",
            obj(
                "user-account",
                json!({"user_id": "1001", "extensions": {"unix-account-ext": {"gid": 1}}}),
            ),
            obj(
                "user-account",
                json!({"user_id": "1001", "extensions": {"unix-account-ext": {}}}),
            ),
            "required",
        ),
        (
            "registry-key-hive",
            obj(
                "windows-registry-key",
                json!({"key": "HKEY_LOCAL_MACHINE\\System"}),
            ),
            obj("windows-registry-key", json!({"key": "HKLM\\System"})),
            "registry-key",
        ),
        (
            "registry-value-data-type",
            obj(
                "windows-registry-key",
                json!({"key": "HKEY_LOCAL_MACHINE\\System", "values": [{"name": "v", "data_type": "REG_SZ"}]}),
            ),
            obj(
                "windows-registry-key",
                json!({"key": "HKEY_LOCAL_MACHINE\\System", "values": [{"name": "v", "data_type": "STRING"}]}),
            ),
            "enum",
        ),
        (
            "x509-one-property",
            obj("x509-certificate", json!({"serial_number": "1"})),
            obj("x509-certificate", json!({})),
            "required",
        ),
        (
            "x509-v3-timestamps",
            obj(
                "x509-certificate",
                json!({"serial_number": "1", "x509_v3_extensions": {"private_key_usage_period_not_before": TS}}),
            ),
            obj(
                "x509-certificate",
                json!({"serial_number": "1", "x509_v3_extensions": {"private_key_usage_period_not_before": "2016-02-30T00:00:00Z"}}),
            ),
            "timestamp-invalid",
        ),
        (
            "x509-v3-one-of",
            obj(
                "x509-certificate",
                json!({"serial_number": "1", "x509_v3_extensions": {"key_usage": "digitalSignature"}}),
            ),
            obj(
                "x509-certificate",
                json!({"serial_number": "1", "x509_v3_extensions": {}}),
            ),
            "required",
        ),
        // §7 meta objects, markings, extensions
        (
            "language-content-keys",
            obj(
                "language-content",
                json!({"object_ref": format!("tool{ID}"), "contents": {"de": {"name": "Werkzeug"}}}),
            ),
            obj(
                "language-content",
                json!({"object_ref": format!("tool{ID}"), "contents": {"deutsch!": {"name": "Werkzeug"}}}),
            ),
            "lang",
        ),
        (
            "marking-definition-statement",
            obj(
                "marking-definition",
                json!({"modified": null, "definition_type": "statement", "definition": {"statement": "c"}}),
            ),
            obj(
                "marking-definition",
                json!({"modified": null, "definition_type": "statement", "definition": {}}),
            ),
            "required",
        ),
        (
            "marking-circular",
            obj(
                "marking-definition",
                json!({"modified": null, "definition_type": "statement", "definition": {"statement": "c"}}),
            ),
            obj(
                "marking-definition",
                json!({"modified": null, "definition_type": "statement", "definition": {"statement": "c"}, "object_marking_refs": [format!("marking-definition{ID}")]}),
            ),
            "marking-circular",
        ),
        (
            "tlp-predefined",
            obj(
                "marking-definition",
                json!({"modified": null, "definition_type": "statement", "definition": {"statement": "c"}}),
            ),
            obj(
                "marking-definition",
                json!({"modified": null, "definition_type": "tlp", "definition": {"tlp": "green"}}),
            ),
            "tlp",
        ),
        (
            "extension-definition-required",
            obj(
                "extension-definition",
                json!({"name": "e", "schema": "s", "version": "1.0.0", "extension_types": ["property-extension"], "created_by_ref": format!("identity{ID}")}),
            ),
            obj(
                "extension-definition",
                json!({"name": "e", "schema": "s", "version": "1.0.0", "extension_types": ["property-extension"]}),
            ),
            "required",
        ),
        (
            "extension-types-enum",
            obj(
                "extension-definition",
                json!({"name": "e", "schema": "s", "version": "1.0.0", "extension_types": ["property-extension"], "created_by_ref": format!("identity{ID}")}),
            ),
            obj(
                "extension-definition",
                json!({"name": "e", "schema": "s", "version": "1.0.0", "extension_types": ["new-thing"], "created_by_ref": format!("identity{ID}")}),
            ),
            "enum",
        ),
        (
            "extension-properties-toplevel",
            obj(
                "extension-definition",
                json!({"name": "e", "schema": "s", "version": "1.0.0", "extension_types": ["toplevel-property-extension"], "extension_properties": ["x_p"], "created_by_ref": format!("identity{ID}")}),
            ),
            obj(
                "extension-definition",
                json!({"name": "e", "schema": "s", "version": "1.0.0", "extension_types": ["property-extension"], "extension_properties": ["x_p"], "created_by_ref": format!("identity{ID}")}),
            ),
            "extension-properties",
        ),
        (
            "extension-type-enum",
            obj(
                "tool",
                json!({"name": "t", "extensions": {"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": {"extension_type": "property-extension"}}}),
            ),
            obj(
                "tool",
                json!({"name": "t", "extensions": {"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": {"extension_type": "property"}}}),
            ),
            "enum",
        ),
    ]
}

#[test]
fn every_must_of_the_table_is_enforced() {
    let mut failures = Vec::new();
    let all = cases();
    for (name, good, bad, code) in &all {
        let g = errors(good);
        if !g.is_empty() {
            failures.push(format!(
                "{name}: the valid variant has errors {g:?}: {good}"
            ));
        }
        let b = errors(bad);
        if !b.iter().any(|(c, _)| c == code) {
            failures.push(format!("{name}: expected error {code}, got {b:?}: {bad}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    println!("{} MUST cases enforced", all.len());
}

/// Every case named in the table exists here and the other way round.
#[test]
fn the_table_names_every_case() {
    let table = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/STIX-MUSTS.md"
    ))
    .unwrap();
    for (name, ..) in cases() {
        assert!(
            table.contains(&format!("`musts::{name}`")),
            "docs/STIX-MUSTS.md does not name the case {name}"
        );
    }
    let names: Vec<&str> = cases().into_iter().map(|c| c.0).collect();
    for line in table.lines().filter(|l| l.starts_with('|')) {
        for cell in line.split('|').skip(4).take(1) {
            for t in cell.split('`').skip(1).step_by(2) {
                if let Some(case) = t.strip_prefix("musts::") {
                    assert!(names.contains(&case), "table names unknown case {case}");
                }
            }
        }
    }
}

/// A bundle: its objects must not be an empty list, and a bundle-level `spec_version` is
/// inherited by its objects.
#[test]
fn bundle_musts() {
    let b = json!({"type": "bundle", "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982", "objects": []});
    assert!(
        errors(&b)
            .iter()
            .any(|(c, p)| *c == "property-type" && p == "/objects")
    );
    let mut tool = obj("tool", json!({"name": "t"}));
    tool.as_object_mut().unwrap().remove("spec_version");
    let b = json!({"type": "bundle", "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982", "objects": [tool.clone()]});
    assert_eq!(errors(&b), vec![("required", "/objects/0".to_owned())]);
    let b = json!({"type": "bundle", "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982", "spec_version": "2.1", "objects": [tool]});
    assert!(errors(&b).is_empty());
}

/// For comparing with the reference validator by hand: validates every `{"name", "obj"}` of the
/// JSON list in `$STIX_VERDICTS_IN` (default options) and writes `[{"valid", "errors"}]` to
/// `$STIX_VERDICTS_OUT`.
#[test]
#[ignore = "a tool: compares verdicts with stix2-validator on generated variants"]
fn verdicts_for_a_file() {
    let (Ok(input), Ok(output)) = (
        std::env::var("STIX_VERDICTS_IN"),
        std::env::var("STIX_VERDICTS_OUT"),
    ) else {
        return;
    };
    let cases: Vec<Value> = serde_json::from_slice(&std::fs::read(input).unwrap()).unwrap();
    let out: Vec<Value> = cases
        .iter()
        .map(|c| {
            let f = validate_object(&c["obj"], &Options::default());
            let errors: Vec<String> = f
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| format!("{} {}: {}", f.code, f.pointer, f.message))
                .collect();
            json!({"valid": errors.is_empty(), "errors": errors})
        })
        .collect();
    std::fs::write(output, serde_json::to_vec(&out).unwrap()).unwrap();
}

/// The interoperability profile (`Options::interop`, stix2-validator's `--interop`): per-type
/// required properties and at most one TLP 1.0 marking; nothing of it without the option.
#[test]
fn interop_profile() {
    let interop = Options {
        disabled: vec!["all".into()],
        interop: true,
        ..Options::default()
    };
    let codes = |v: &Value, o: &Options| -> Vec<&'static str> {
        validate_object(v, o)
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.code)
            .collect()
    };
    let bare = obj(
        "indicator",
        json!({"pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix", "valid_from": TS}),
    );
    assert!(errors(&bare).is_empty());
    assert_eq!(
        codes(&bare, &interop),
        vec!["interop-required"; 3],
        "name, indicator_types, created_by_ref"
    );
    let full = obj(
        "indicator",
        json!({"pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix", "valid_from": TS,
            "name": "i", "indicator_types": ["malicious-activity"], "created_by_ref": format!("identity{ID}"),
            "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}),
    );
    assert!(codes(&full, &interop).is_empty());
    let mut two = full.clone();
    two["object_marking_refs"] = json!([
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
    ]);
    assert_eq!(codes(&two, &interop), vec!["interop-tlp"]);
    assert!(errors(&two).is_empty());
}

/// Rules found by the differential test against stix2-validator (`differential.rs`), where the
/// reference is right: each object gets the named error code (or none).
#[test]
fn rules_found_by_the_differential_test() {
    let ed = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e";
    let tool = |p: Value| {
        let mut base = json!({"name": "t"});
        for (k, v) in p.as_object().unwrap() {
            base[k] = v.clone();
        }
        obj("tool", base)
    };
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        // RFC 5646: well-formed, with a 2- or 3-letter primary language subtag.
        ("lang region", tool(json!({"lang": "en-US"})), None),
        (
            "lang script region",
            tool(json!({"lang": "zh-Hant-TW"})),
            None,
        ),
        ("lang variant", tool(json!({"lang": "de-CH-1996"})), None),
        ("lang private use", tool(json!({"lang": "x-klingon"})), None),
        ("lang word", tool(json!({"lang": "english"})), Some("lang")),
        (
            "lang 4-letter primary",
            tool(json!({"lang": "acme-special"})),
            Some("lang"),
        ),
        (
            "lang underscore",
            tool(json!({"lang": "en_US"})),
            Some("lang"),
        ),
        (
            "granular marking lang",
            tool(json!({"granular_markings": [{"lang": "english!", "selectors": ["name"]}]})),
            Some("lang"),
        ),
        (
            "software languages",
            obj(
                "software",
                json!({"name": "w", "languages": ["acme-special"]}),
            ),
            Some("lang"),
        ),
        // JSON does not tell 50 from 50.0: an integer either way (JSON Schema's `integer`).
        ("integral float", tool(json!({"confidence": 50.0})), None),
        (
            "fractional float",
            tool(json!({"confidence": 50.5})),
            Some("property-type"),
        ),
        // Extensions (the OASIS schemas: extension.json, core.json).
        (
            "extension without extension_type",
            tool(json!({"extensions": {ed: {"rank": 1}}})),
            Some("required"),
        ),
        (
            "empty extension",
            tool(json!({"extensions": {ed: {}}})),
            Some("property-type"),
        ),
        (
            "empty predefined extension",
            obj("file", json!({"name": "a", "extensions": {"ntfs-ext": {}}})),
            Some("property-type"),
        ),
        (
            "extension property name",
            obj(
                "file",
                json!({"name": "a", "extensions": {"ntfs-ext": {"sid": "1", "X_Acme": 1}}}),
            ),
            Some("property-name"),
        ),
        (
            "marking definition custom-named extension",
            obj(
                "marking-definition",
                json!({"modified": null, "definition_type": "statement", "definition": {"statement": "c"}, "extensions": {"x-acme-ext": {"a": 1}}}),
            ),
            Some("extension-key"),
        ),
        // Reserved names bind custom types and course-of-action's `action`.
        (
            "reserved on a custom object",
            obj(
                "x-acme-widget",
                json!({"created": TS, "modified": TS, "severity": "high"}),
            ),
            Some("reserved-property"),
        ),
        (
            "course-of-action action",
            obj("course-of-action", json!({"name": "c", "action": "block"})),
            Some("reserved-property"),
        ),
        // Properties a type does not define are custom there: no common-property type check.
        (
            "confidence on a marking definition",
            obj(
                "marking-definition",
                json!({"modified": null, "definition_type": "statement", "definition": {"statement": "c"}, "confidence": 101}),
            ),
            None,
        ),
        // The predefined TLP 1.0 objects carry their name (§7.2.1.4).
        (
            "TLP without name",
            json!({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
                "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "definition": {"tlp": "green"}}),
            Some("tlp"),
        ),
        (
            "empty language contents",
            obj(
                "language-content",
                json!({"object_ref": format!("tool{ID}"), "contents": {}}),
            ),
            Some("property-type"),
        ),
        (
            "language content of a bundle",
            obj(
                "language-content",
                json!({"object_ref": format!("bundle{ID}"), "contents": {"de": {"name": "n"}}}),
            ),
            Some("ref-type"),
        ),
        (
            "empty registry value",
            obj(
                "windows-registry-key",
                json!({"key": "HKEY_LOCAL_MACHINE\\System", "values": [{}]}),
            ),
            Some("required"),
        ),
        (
            "PE optional header hashes",
            obj(
                "file",
                json!({"name": "a", "extensions": {"windows-pebinary-ext": {"pe_type": "exe", "optional_header": {"hashes": {"SHA-256": "abc"}}}}}),
            ),
            Some("hash-value"),
        ),
        (
            "PE section hashes",
            obj(
                "file",
                json!({"name": "a", "extensions": {"windows-pebinary-ext": {"pe_type": "exe", "sections": [{"name": ".text", "hashes": {"MD5": 7}}]}}}),
            ),
            Some("property-type"),
        ),
        // A custom type with neither created nor modified is an SCO (no created needed).
        (
            "custom SCO",
            json!({"type": "x-acme-thing", "spec_version": "2.1", "id": format!("x-acme-thing{ID}"), "value": "v"}),
            None,
        ),
        (
            "custom SDO without created",
            json!({"type": "x-acme-thing", "spec_version": "2.1", "id": format!("x-acme-thing{ID}"), "modified": TS}),
            Some("required"),
        ),
    ];
    let mut failures = Vec::new();
    for (name, v, want) in &cases {
        let got = errors(v);
        let ok = match want {
            None => got.is_empty(),
            Some(code) => got.iter().any(|(c, _)| c == code),
        };
        if !ok {
            failures.push(format!("{name}: expected {want:?}, got {got:?}: {v}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // SHOULD level: header, IPFIX and environment-variable names keep their case.
    let nt = obj(
        "process",
        json!({"pid": 1, "environment_variables": {"PATH": "/bin"}}),
    );
    assert!(
        validate_object(&nt, &Options::default())
            .iter()
            .all(|f| f.code != "observable-dictionary-keys"),
    );
}
