//! Any bytes: the streaming splitter, the strict parser, the validator and pointer location
//! must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stix::{
    stream::ObjectStream,
    validate::{Options, Validator},
};

fuzz_target!(|data: &[u8]| {
    let Ok(validator) = Validator::new(&Options::default()) else { return };
    for item in ObjectStream::with_limit(data, 1 << 20) {
        let Ok(item) = item else { break };
        if let Ok(value) = &item.value {
            for f in validator.validate(value) {
                let _ = item.position_of(&f.pointer);
            }
            let _ = stix::id::jcs(value);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = stix::Timestamp::parse(text);
        let _ = stix::id::Identifier::parse(text);
        let _ = stix::validate::check_indicator_pattern(text, "stix", stix::validate::PrefixRule::Strict);
    }
});
