//! Shared by the telemetry fuzz targets: read every line of the input with one reader (as
//! `shieldwall scan` does, header state carried from line to line) and touch what a record
//! holds. Nothing may panic; a record's values must be what it says they are.

use telemetry::{Format, Reader, Record};

pub fn read_lines(format: Format, map: Option<&telemetry::FieldMap>, data: &[u8]) {
    let _ = Format::sniff(data);
    let mut reader = Reader::new(format, map);
    let mut rec = Record::new();
    for line in data.split(|&b| b == b'\n') {
        match reader.read_line(line, &mut rec) {
            Ok(true) => {
                for e in rec.entries() {
                    let v = rec.value(e);
                    assert!(rec.get(e.field).is_some());
                    let _ = (v.len(), e.field.ecs_name(), e.field.stix_path());
                }
                if let Some(t) = rec.timestamp() {
                    let _ = telemetry::time::format_timestamp(t);
                }
                let _ = rec.rejected();
            }
            Ok(false) => assert!(rec.is_empty()),
            Err(e) => assert!(!e.message.is_empty()),
        }
    }
}

/// Splits off a first line used as a `--field-map` spec (for ECS and CSV).
#[allow(dead_code)]
pub fn map_and_rest(data: &[u8]) -> (Option<telemetry::FieldMap>, &[u8]) {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return (None, data);
    };
    let (spec, rest) = (&data[..nl], &data[nl + 1..]);
    let Some(spec) = spec.strip_prefix(b"MAP ") else {
        return (None, data);
    };
    let Ok(spec) = std::str::from_utf8(spec) else {
        return (None, rest);
    };
    let mut m = telemetry::FieldMap::ecs();
    match m.extend_from_spec(spec) {
        Ok(()) => (Some(m), rest),
        Err(_) => (None, rest),
    }
}
