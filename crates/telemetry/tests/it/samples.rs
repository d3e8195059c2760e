//! Every format: generated logs with planted values read back exactly where the values were
//! planted, and nowhere else; malformed lines are reported at their line and reading goes on.
#![allow(clippy::unwrap_used)]

use telemetry::sample::{Spec, generate};
use telemetry::{Format, Reader};

fn check(format: Format) {
    let spec = Spec {
        format,
        events: 400,
        plants: telemetry::sample::standard_plants(format),
        malformed: 3,
        seed: 7,
    };
    let (files, planted) = generate(&spec);
    assert_eq!(planted.len(), spec.plants.len(), "every plant placed");
    for file in &files {
        let first = file.text.lines().next().unwrap_or("");
        assert_eq!(Format::sniff(first.as_bytes()), format, "{}", file.name);
        let mut reader = Reader::new(format, None);
        let mut found = Vec::new();
        let mut records = 0;
        let diags = reader.read_all(file.text.as_bytes(), |line, rec| {
            records += 1;
            assert!(
                rec.timestamp().is_some(),
                "{} line {line} has a time",
                file.name
            );
            for (field, value) in rec.fields() {
                if spec.plants.iter().any(|(f, v)| *f == field && v == value) {
                    found.push((line, field, value.to_owned()));
                }
            }
        });
        let want: Vec<_> = planted
            .iter()
            .filter(|p| p.file == file.name)
            .map(|p| (p.line, p.field, p.value.clone()))
            .collect();
        found.sort();
        let mut want_sorted = want.clone();
        want_sorted.sort();
        assert_eq!(found, want_sorted, "{format}: {}", file.name);
        assert_eq!(
            diags.iter().map(|d| d.line).collect::<Vec<_>>(),
            file.malformed,
            "{format}: {} malformed lines: {diags:?}",
            file.name
        );
        assert!(records > 0, "{}", file.name);
    }
}

#[test]
fn ecs() {
    check(Format::Ecs);
}

#[test]
fn eve() {
    check(Format::Eve);
}

#[test]
fn zeek() {
    check(Format::Zeek);
}

#[test]
fn csv() {
    check(Format::Csv);
}
