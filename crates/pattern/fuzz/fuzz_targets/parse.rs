//! Parser and printer on arbitrary input: no panic; diagnostics stay inside the text; every
//! tree prints to text that parses back to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pattern::StixVersion;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    for v in [StixVersion::V21, StixVersion::V20] {
        let parsed = pattern::parse(src, v);
        for d in &parsed.diagnostics {
            assert!(d.span.start <= d.span.end && d.span.end as usize <= src.len());
            let _ = d.render(src);
        }
        if let Some(p) = &parsed.pattern {
            let printed = p.to_string();
            let again = pattern::parse(&printed, v);
            let q = again.pattern.as_ref().expect("the canonical form parses");
            assert!(p.same_as(q), "round trip changed {src:?} -> {printed:?}");
            let _ = p.inspect();
        }
    }
});
