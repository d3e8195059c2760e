//! Evaluator on arbitrary input: whatever parses is compiled and evaluated against a small
//! fixed set of observations, without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pattern::StixVersion;
use pattern::eval::{EvalOptions, Matcher, Observations};
use std::sync::OnceLock;

#[path = "../common/round_trip.rs"]
mod round_trip;

fn observations() -> &'static Observations {
    static OBS: OnceLock<Observations> = OnceLock::new();
    OBS.get_or_init(|| {
        let v = serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
            {"type": "observed-data", "id": "observed-data--1", "first_observed": "2024-01-01T00:00:00Z",
             "last_observed": "2024-01-01T00:00:05Z", "number_observed": 3, "object_refs": ["file--1", "a--1"]},
            {"type": "observed-data", "id": "observed-data--2", "first_observed": "2024-01-01T00:00:03Z",
             "last_observed": "2024-01-01T00:00:03Z", "number_observed": 1, "object_refs": ["a--1"]},
            {"type": "file", "id": "file--1", "name": "x.exe", "size": 10, "b_hex": "00ff",
             "hashes": {"MD5": "d41d8cd98f00b204e9800998ecf8427e"}, "parent_ref": "a--1", "c_refs": ["a--1", "file--1"]},
            {"type": "a", "id": "a--1", "b": [1, 2.5, "10.0.0.1", null, true, {"c": "d"}]}
        ]});
        Observations::from_json(&v, StixVersion::V21).expect("the fixed observations load")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    round_trip::check(src, |p, v| {
        if v == StixVersion::V21
            && let Ok(m) = Matcher::new(p, v)
        {
            let _ = m.evaluate(observations(), &EvalOptions { max_steps: 20_000 });
        }
    });
});
