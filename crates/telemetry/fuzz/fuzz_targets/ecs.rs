//! Any bytes as ECS JSON lines (optionally preceded by `MAP <field-map spec>`): no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (map, rest) = common::map_and_rest(data);
    common::read_lines(telemetry::Format::Ecs, map.as_ref(), rest);
});
