//! The readers never panic, whatever the bytes: arbitrary input, and mutations of valid lines.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use telemetry::sample::{Spec, generate};
use telemetry::{Format, Reader, Record};

const FORMATS: [Format; 4] = [Format::Ecs, Format::Eve, Format::Zeek, Format::Csv];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        for f in FORMATS {
            let mut r = Reader::new(f, None);
            let _ = r.read_all(&data, |_, rec| { let _ = rec.fields().count(); });
        }
    }

    #[test]
    fn mutated_sample_lines(seed in any::<u64>(), cut in any::<prop::sample::Index>(), byte in any::<u8>(), at in any::<prop::sample::Index>()) {
        for f in FORMATS {
            let (files, _) = generate(&Spec { format: f, events: 3, plants: vec![], malformed: 0, seed });
            let mut text = files[0].text.clone().into_bytes();
            let i = at.index(text.len().max(1));
            if i < text.len() { text[i] = byte; }
            let keep = cut.index(text.len() + 1);
            text.truncate(keep);
            let mut r = Reader::new(f, None);
            let mut rec = Record::new();
            for line in text.split(|&b| b == b'\n') {
                let _ = r.read_line(line, &mut rec);
            }
        }
    }
}
