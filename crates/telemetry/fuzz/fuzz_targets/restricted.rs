//! The scan's restricted reader against the general one (differential): for any bytes (the
//! first two choose the format and the needed fields), the restricted reader refuses the same
//! lines with the same message and stores exactly the general reader's values of the needed
//! fields, with the same time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telemetry::{Field, FieldSet, Format, Reader, Record};

fuzz_target!(|data: &[u8]| {
    let [f, pick, rest @ ..] = data else { return };
    let format = [Format::Ecs, Format::Eve, Format::Zeek][usize::from(*f) % 3];
    let needed: FieldSet = Field::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| (u32::from(*pick).rotate_left(*i as u32 % 8) ^ *i as u32) % 3 == 0)
        .map(|(_, f)| *f)
        .collect();
    let keep = needed.with_helpers();
    let mut general = Reader::new(format, None);
    let mut restricted = Reader::restricted(format, None, needed);
    let (mut a, mut b) = (Record::new(), Record::new());
    for line in rest.split(|&b| b == b'\n') {
        let ra = general.read_line(line, &mut a);
        let rb = restricted.read_line(line, &mut b);
        assert_eq!(ra, rb);
        if ra == Ok(true) {
            let of = |r: &Record| -> Vec<(Field, String, Vec<u8>)> {
                r.entries()
                    .iter()
                    .filter(|e| keep.contains(e.field))
                    .map(|e| (e.field, r.value(e).to_owned(), r.binary(e).to_vec()))
                    .collect()
            };
            assert_eq!(of(&a), of(&b));
            assert_eq!(a.timestamp(), b.timestamp());
        }
    }
});
