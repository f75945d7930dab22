#![no_main]

// Every target includes all the checks and uses one of them.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::import_json(data));
