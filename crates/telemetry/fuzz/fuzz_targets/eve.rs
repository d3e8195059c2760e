//! Any bytes as Suricata EVE lines: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::read_lines(telemetry::Format::Eve, None, data);
});
