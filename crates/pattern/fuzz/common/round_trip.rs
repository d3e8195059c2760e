//! What every pattern fuzz target checks first: parsing `src` in both STIX versions does not
//! panic, diagnostics stay inside the text, and every tree prints to text that parses back to
//! the same tree. `then` receives each tree (with its version) for further checks.

use pattern::StixVersion;

pub fn check(src: &str, mut then: impl FnMut(&pattern::Pattern, StixVersion)) {
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
            then(p, v);
        }
    }
}
