//! Parser and printer on arbitrary input: no panic; diagnostics stay inside the text; every
//! tree prints to text that parses back to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/round_trip.rs"]
mod round_trip;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    round_trip::check(src, |_, _| {});
});
